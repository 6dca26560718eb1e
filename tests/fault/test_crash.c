/* Fault: crash consistency under load. 200 patients each pipeline messages into their own
 * conversation as fast as the server acknowledges them; at a random moment the server gets
 * SIGKILL; it is restarted on the same directory. Repeated for 50 rounds. After every restart:
 * every acknowledged txn_id is stored exactly once (in the store, and as conversation.history
 * shows it, with gapless seqs), nothing unacknowledged is stored twice, nothing never sent is
 * stored, and `parley audit verify` passes.
 *
 * The random kill delays come from a seeded PRNG: the seed is printed, and PARLEY_CRASH_SEED
 * replays it (the kill moments replay; the server's progress at that moment need not).
 * PARLEY_CRASH_ROUNDS shortens the run while debugging.
 *
 * Cost decisions, to stay near 2 minutes on two cores: each patient logs in once, and the bearer
 * token (a durable session) is reused across restarts; each client keeps WINDOW sends in flight
 * (a small window keeps acks flowing, so kills land between acks rather than before the first
 * big batch commits); the exactly-once check reads only the txn_ids of the round just ended
 * (they carry the round in their name, "r<round>c<client>n<i>", and are the newest messages in
 * each conversation): from the store for every client, and through conversation.history
 * (pipelined) for a rotating fifth of them. All clients are driven from one poll loop over
 * non-blocking connections. */
#include "tests/support/pclient.h"
#include "tests/support/rawdb.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h> /* after the headers it needs */

#define N_CLIENTS 200
#define N_ROUNDS 50
#define WINDOW 4      /* sends in flight per client */
#define MAX_SEND 2048 /* per client per round; far more than a second allows */
#define KILL_MIN_MS 50
#define KILL_MAX_MS 800
#define DRAIN_MS 5000 /* after the kill, to read the acks already on the wire */
#define T 10000
/* Each round reads conversation.history for one client in HISTORY_EVERY (a different fifth each
 * round): a history page costs the server a sort of the whole conversation, which grows every
 * round. The store is checked for every client every round. */
#define HISTORY_EVERY 5

typedef struct {
    char user[32];
    char token[128];
    json_int_t conv;
    int64_t user_id;
    pl_pc_t *pc;
    /* this round */
    int sent;
    int acked_n;
    int errors;
    int dead;
    char acked[MAX_SEND];
    unsigned char stored[MAX_SEND]; /* copies of each txn_id found in the store */
} client_t;

static pl_fixture_t fx;
static client_t clients[N_CLIENTS];
static int round_no; /* the round being sent, for the ack callback */
static int sending;  /* 0 once the server is killed: acks are recorded, nothing more is sent */

static const char *const args[] = {"--rate-limit-per-sec", "1000000", "--rate-limit-burst",
                                   "1000000", NULL};

/* ---- time and randomness ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- setup: 200 patients, each with a conversation, each logged in once ---- */

/* A valid NHS number (modulus 11) from the 999 test range, not colliding with the demo's. */
static void nhs_number(int i, char out[16])
{
    for (int base = 999400000 + i * 10;; base++) {
        int sum = 0, v = base;
        for (int k = 0; k < 9; k++, v /= 10)
            sum += (v % 10) * (k + 2); /* weights 10..2 */
        int check = 11 - sum % 11;
        if (check == 11) check = 0;
        if (check == 10) continue;
        snprintf(out, 16, "%d%d", base, check);
        return;
    }
}

static void import_patients(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/crash-patients.jsonl", fx.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < N_CLIENTS; i++) {
        char nhs[16];
        nhs_number(i, nhs);
        snprintf(clients[i].user, sizeof clients[i].user, "crash.p%03d", i);
        fprintf(f,
                "{\"username\":\"%s\",\"name\":\"Crash Patient %d\",\"password\":\"crash-pw-%03d\","
                "\"kind\":\"patient\",\"nhs_number\":\"%s\",\"dob\":\"1970-01-01\","
                "\"practice\":\"%s\"}\n",
                clients[i].user, i, i, nhs, i % 2 ? "Y90002" : "Y90001");
    }
    assert_int_equal(fclose(f), 0);
    const char *imp[] = {"user", "import",      "--data-dir", fx.dir, "--file",
                         path,   "--kdf-log-n", "10",         NULL};
    char *out = NULL;
    int rc = pl_test_run_cli(&out, imp);
    free(out);
    assert_int_equal(rc, 0);
    pl_db_t *db = NULL;
    pl_dbs_t *s = NULL;
    assert_int_equal(rawdb_open(&db, fx.dir), 0);
    assert_int_equal(pl_db_prepare(db, "SELECT id FROM users WHERE username = ?1", &s), PL_DB_OK);
    for (int i = 0; i < N_CLIENTS; i++) {
        pl_dbs_reset(s);
        pl_dbs_bind_text(s, 1, clients[i].user, -1);
        assert_int_equal(pl_dbs_step(s), PL_DB_ROW);
        clients[i].user_id = pl_dbs_int64(s, 0);
    }
    pl_dbs_finalize(s);
    pl_db_close(db);
}

static void login_and_open_conversations(void)
{
    for (int i = 0; i < N_CLIENTS; i++) {
        client_t *c = &clients[i];
        char pw[32];
        snprintf(pw, sizeof pw, "crash-pw-%03d", i);
        assert_int_equal(pl_pc_login(fx.port, c->user, pw, NULL, c->token, sizeof c->token, NULL),
                         200);
        assert_int_equal(pl_pc_connect(&c->pc, fx.port, c->token, NULL), 0);
        json_t *r =
            pl_pc_callf(c->pc, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                        "open", "kind", "admin", "subject", "Crash test", "body", "first");
        assert_true(pl_pc_is_ok(r));
        c->conv = json_integer_value(json_object_get(json_object_get(r, "conversation"), "id"));
        assert_true(c->conv > 0);
        json_decref(r);
    }
}

static int setup(void **s)
{
    (void)s;
    return pl_fixture_start(&fx, args);
}

static int teardown(void **s)
{
    (void)s;
    for (int i = 0; i < N_CLIENTS; i++) {
        pl_pc_abort(clients[i].pc);
        clients[i].pc = NULL;
    }
    pl_fixture_stop(&fx);
    return 0;
}

/* ---- the send phase ---- */

static void send_next(client_t *c, int idx)
{
    if (!sending || c->dead || c->sent >= MAX_SEND) return;
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "{\"id\":\"r%dc%dn%d\",\"type\":\"conversation.send\","
                     "\"conversation_id\":%lld,\"txn_id\":\"r%dc%dn%d\",\"body\":\"m%d\"}",
                     round_no, idx, c->sent, (long long)c->conv, round_no, idx, c->sent, c->sent);
    if (pl_wsc_send_text(pl_pc_ws(c->pc), buf, (size_t)n) < 0) {
        c->dead = 1; /* the server is gone: what was sent so far is all there is */
        return;
    }
    c->sent++;
}

/* pl_wsc_pump callback: records an ok reply for this round's txn and keeps the window full. */
static void on_msg(void *ud, const char *msg, size_t len)
{
    client_t *c = ud;
    int idx = (int)(c - clients);
    json_t *j = json_loadb(msg, len, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "id"));
    int r, ci, n;
    if (id && sscanf(id, "r%dc%dn%d", &r, &ci, &n) == 3 && r == round_no && ci == idx && n >= 0 &&
        n < c->sent) {
        if (pl_pc_is_ok(j)) {
            if (!c->acked[n]) c->acked_n++;
            c->acked[n] = 1;
        } else if (c->errors++ == 0) {
            fprintf(stderr, "  client %d: error reply %.200s\n", idx, msg);
        }
        send_next(c, idx);
    }
    json_decref(j);
}

/* Pumps every live connection for up to wait_ms. */
static void pump_all(struct pollfd *pfd, int wait_ms)
{
    int nfd = 0, map[N_CLIENTS];
    for (int i = 0; i < N_CLIENTS; i++) {
        if (clients[i].dead) continue;
        pfd[nfd].fd = pl_wsc_fd(pl_pc_ws(clients[i].pc));
        pfd[nfd].events = POLLIN;
        pfd[nfd].revents = 0;
        map[nfd++] = i;
    }
    if (!nfd || poll(pfd, (nfds_t)nfd, wait_ms) <= 0) return;
    for (int k = 0; k < nfd; k++) {
        if (!pfd[k].revents) continue;
        client_t *c = &clients[map[k]];
        if (pl_wsc_pump(pl_pc_ws(c->pc), on_msg, c) < 0) c->dead = 1;
    }
}

static int live_clients(void)
{
    int n = 0;
    for (int i = 0; i < N_CLIENTS; i++)
        n += !clients[i].dead;
    return n;
}

/* Sends until the kill, kills at kill_ms after the first send, then reads what was already
 * acknowledged until every connection has ended. */
static void send_and_kill(int kill_ms)
{
    static struct pollfd pfd[N_CLIENTS];
    sending = 1;
    for (int i = 0; i < N_CLIENTS; i++) {
        client_t *c = &clients[i];
        c->sent = c->acked_n = c->errors = c->dead = 0;
        memset(c->acked, 0, sizeof c->acked);
        memset(c->stored, 0, sizeof c->stored);
        assert_int_equal(pl_wsc_set_nonblocking(pl_pc_ws(c->pc)), 0);
    }
    int64_t t0 = now_ms();
    for (int w = 0; w < WINDOW; w++)
        for (int i = 0; i < N_CLIENTS; i++)
            send_next(&clients[i], i);
    int64_t kill_at = t0 + kill_ms;
    for (int64_t t; (t = now_ms()) < kill_at;)
        pump_all(pfd, (int)(kill_at - t));
    pl_test_server_kill(fx.srv);
    sending = 0;
    int64_t drain_end = now_ms() + DRAIN_MS;
    while (live_clients() && now_ms() < drain_end)
        pump_all(pfd, 50);
    assert_int_equal(live_clients(), 0); /* a killed server closes every connection */
    for (int i = 0; i < N_CLIENTS; i++) {
        pl_pc_abort(clients[i].pc);
        clients[i].pc = NULL;
    }
}

/* ---- verification ---- */

/* Reads this round's txn_ids from the store: each must be in its sender's conversation, must
 * have been sent, and is counted into stored[]. Returns how many rows there were. */
static long store_scan(int round)
{
    pl_db_t *db = NULL;
    pl_dbs_t *s = NULL;
    assert_int_equal(rawdb_open(&db, fx.dir), 0);
    /* "r7c1n" <= txn < "r7c1o" is exactly the txn_ids starting "r7c1n"; with the sender, the
     * UNIQUE (sender_id, txn_id) index answers it without a scan of the growing table. */
    assert_int_equal(pl_db_prepare(db,
                                   "SELECT conversation_id, txn_id FROM messages "
                                   "WHERE sender_id = ?1 AND txn_id >= ?2 AND txn_id < ?3",
                                   &s),
                     PL_DB_OK);
    long rows = 0;
    for (int i = 0; i < N_CLIENTS; i++) {
        client_t *c = &clients[i];
        char lo[32], hi[32];
        snprintf(lo, sizeof lo, "r%dc%dn", round, i);
        snprintf(hi, sizeof hi, "r%dc%do", round, i);
        pl_dbs_reset(s);
        pl_dbs_bind_int64(s, 1, c->user_id);
        pl_dbs_bind_text(s, 2, lo, -1);
        pl_dbs_bind_text(s, 3, hi, -1);
        int rc;
        while ((rc = pl_dbs_step(s)) == PL_DB_ROW) {
            int64_t conv = pl_dbs_int64(s, 0);
            const char *txn = pl_dbs_text(s, 1);
            int r, ci, n;
            assert_int_equal(sscanf(txn, "r%dc%dn%d", &r, &ci, &n), 3);
            assert_int_equal(r, round);
            assert_int_equal(ci, i);
            assert_int_equal(conv, c->conv);
            if (n < 0 || n >= c->sent) fail_msg("stored txn %s was never sent", txn);
            c->stored[n]++;
            rows++;
        }
        assert_int_equal(rc, PL_DB_DONE);
    }
    pl_dbs_finalize(s);
    pl_db_close(db);
    return rows;
}

static void send_history_request(client_t *c, json_int_t before)
{
    char buf[200];
    int n = before ? snprintf(buf, sizeof buf,
                              "{\"id\":\"h\",\"type\":\"conversation.history\","
                              "\"conversation_id\":%lld,\"before\":%lld,\"limit\":100}",
                              (long long)c->conv, (long long)before)
                   : snprintf(buf, sizeof buf,
                              "{\"id\":\"h\",\"type\":\"conversation.history\","
                              "\"conversation_id\":%lld,\"limit\":100}",
                              (long long)c->conv);
    assert_int_equal(pl_wsc_send_text(pl_pc_ws(c->pc), buf, (size_t)n), 0);
}

static json_t *recv_history_reply(client_t *c)
{
    int64_t end = now_ms() + T;
    for (;;) {
        int left = (int)(end - now_ms());
        char *m = NULL;
        if (left <= 0 || pl_wsc_recv(pl_pc_ws(c->pc), left, &m, NULL) < 0) return NULL;
        json_t *j = json_loads(m, 0, NULL);
        free(m);
        const char *id = json_string_value(json_object_get(j, "id"));
        if (id && !strcmp(id, "h")) return j;
        json_decref(j);
    }
}

/* Walks one conversation back from its newest message through this round's messages (the
 * newest ones), checking that seqs are contiguous, and compares each txn_id's count there with
 * the store's. first is the reply to an already-sent request for the newest page. */
static void history_check(int idx, int round, json_t *first)
{
    client_t *c = &clients[idx];
    static unsigned char seen[MAX_SEND];
    memset(seen, 0, sizeof seen);
    json_t *r = first;
    json_int_t expect_seq = -1;
    char prefix[16];
    int plen = snprintf(prefix, sizeof prefix, "r%dc%dn", round, idx);
    for (int done = 0; !done;) {
        if (!pl_pc_is_ok(r)) {
            char *d = r ? json_dumps(r, 0) : NULL;
            fail_msg("client %d: conversation.history failed: %s", idx, d ? d : "(no reply)");
        }
        json_t *msgs = json_object_get(r, "messages");
        for (size_t i = json_array_size(msgs); i-- > 0;) {
            json_t *m = json_array_get(msgs, i);
            json_int_t seq = json_integer_value(json_object_get(m, "seq"));
            if (expect_seq >= 0 && seq != expect_seq)
                fail_msg("client %d: history seq %lld where %lld was expected", idx, (long long)seq,
                         (long long)expect_seq);
            expect_seq = seq - 1;
            const char *t = json_string_value(json_object_get(m, "txn_id"));
            assert_non_null(t);
            if (strncmp(t, prefix, (size_t)plen) != 0) {
                done = 1; /* an earlier round's message: this round's are all behind us */
                break;
            }
            int n = atoi(t + plen);
            assert_true(n >= 0 && n < c->sent);
            seen[n]++;
        }
        json_t *nb = json_object_get(r, "next_before");
        json_int_t before = json_is_integer(nb) ? json_integer_value(nb) : 0;
        json_decref(r);
        if (!done && !before) done = 1;
        if (!done) {
            send_history_request(c, before);
            r = recv_history_reply(c);
        }
    }
    for (int n = 0; n < c->sent; n++)
        if (seen[n] != c->stored[n])
            fail_msg("client %d: txn %s%d is %d times in history but %d times in the store", idx,
                     prefix, n, seen[n], c->stored[n]);
}

/* The promise itself: acknowledged means stored exactly once; nothing is stored twice. */
static void exactly_once_check(int round, long *n_unacked_present)
{
    for (int i = 0; i < N_CLIENTS; i++) {
        client_t *c = &clients[i];
        for (int n = 0; n < c->sent; n++) {
            if (c->acked[n] && c->stored[n] != 1)
                fail_msg("round %d: acknowledged txn r%dc%dn%d is stored %d times", round, round, i,
                         n, c->stored[n]);
            if (c->stored[n] > 1)
                fail_msg("round %d: unacknowledged txn r%dc%dn%d is stored %d times", round, round,
                         i, n, c->stored[n]);
            if (!c->acked[n] && c->stored[n]) (*n_unacked_present)++;
        }
    }
}

static void connect_all(void)
{
    for (int i = 0; i < N_CLIENTS; i++) {
        int rc = pl_pc_connect(&clients[i].pc, fx.port, clients[i].token, NULL);
        if (rc != 0) fail_msg("client %d cannot reconnect after restart (%d)", i, rc);
    }
}

static void audit_verify(int round)
{
    const char *av[] = {"audit", "verify", "--data-dir", fx.dir, NULL};
    char *out = NULL;
    int rc = pl_test_run_cli(&out, av);
    if (rc != 0) fail_msg("round %d: parley audit verify exited %d: %s", round, rc, out ? out : "");
    free(out);
}

static void test_sigkill_under_load_keeps_every_acknowledged_message_exactly_once(void **s)
{
    (void)s;
    int64_t t_start = now_ms();
    const char *env_seed = getenv("PARLEY_CRASH_SEED");
    uint64_t seed = env_seed && *env_seed ? strtoull(env_seed, NULL, 0)
                                          : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    const char *env_rounds = getenv("PARLEY_CRASH_ROUNDS");
    int rounds = env_rounds && *env_rounds ? atoi(env_rounds) : N_ROUNDS;
    fprintf(stderr,
            "crash test: seed %llu (replay with PARLEY_CRASH_SEED=%llu), %d rounds, "
            "%d clients\n",
            (unsigned long long)seed, (unsigned long long)seed, rounds, N_CLIENTS);
    uint64_t rng = seed;

    import_patients();
    login_and_open_conversations();
    fprintf(stderr, "crash test: setup %lld ms\n", (long long)(now_ms() - t_start));

    long total_acked = 0, total_sent = 0, total_stored = 0, total_unacked_present = 0;
    for (round_no = 1; round_no <= rounds; round_no++) {
        int kill_ms = KILL_MIN_MS + (int)(splitmix64(&rng) % (KILL_MAX_MS - KILL_MIN_MS + 1));
        int64_t t_round = now_ms();
        send_and_kill(kill_ms);
        long acked = 0, sent = 0, errors = 0;
        for (int i = 0; i < N_CLIENTS; i++) {
            acked += clients[i].acked_n;
            sent += clients[i].sent;
            errors += clients[i].errors;
        }
        assert_int_equal(errors, 0); /* no refusals: every reply is an ack or nothing */

        int64_t t_restart = now_ms();
        int rc = pl_fixture_restart(&fx, args);
        if (rc != 0)
            fail_msg("round %d: the server did not come back after SIGKILL (%d)", round_no, rc);
        int64_t t_connect = now_ms();
        connect_all();
        int64_t t_verify = now_ms();
        long stored = store_scan(round_no);
        int64_t t_hist = now_ms();
        /* Pipelined: the newest page of each chosen conversation at once, then each is walked. */
        for (int i = round_no % HISTORY_EVERY; i < N_CLIENTS; i += HISTORY_EVERY)
            send_history_request(&clients[i], 0);
        for (int i = round_no % HISTORY_EVERY; i < N_CLIENTS; i += HISTORY_EVERY)
            history_check(i, round_no, recv_history_reply(&clients[i]));
        long unacked_present = 0;
        exactly_once_check(round_no, &unacked_present);
        int64_t t_audit = now_ms();
        audit_verify(round_no);
        int64_t t_end = now_ms();
        /* The cheap whole-store count: every round's survivors, nothing else, nothing lost. */
        total_stored += stored;
        int64_t all = rawdb_int(fx.dir, "SELECT COUNT(*) FROM messages WHERE txn_id LIKE 'r%'");
        assert_int_equal(all, total_stored);

        total_acked += acked;
        total_sent += sent;
        total_unacked_present += unacked_present;
        fprintf(stderr,
                "  round %2d: kill after %3d ms: sent %5ld, acked %5ld, stored %5ld "
                "(%ld unacked); ms: send %lld restart %lld connect %lld store %lld history %lld "
                "audit %lld\n",
                round_no, kill_ms, sent, acked, stored, unacked_present,
                (long long)(t_restart - t_round), (long long)(t_connect - t_restart),
                (long long)(t_verify - t_connect), (long long)(t_hist - t_verify),
                (long long)(t_audit - t_hist), (long long)(t_end - t_audit));
    }
    fprintf(stderr,
            "crash test: %d rounds, %ld messages acknowledged (all present exactly once), "
            "%ld sent, %ld stored (%ld of them unacknowledged), %lld ms in all; seed %llu\n",
            rounds, total_acked, total_sent, total_stored, total_unacked_present,
            (long long)(now_ms() - t_start), (unsigned long long)seed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_under_load_keeps_every_acknowledged_message_exactly_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
