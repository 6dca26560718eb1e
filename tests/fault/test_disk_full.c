/* Fault: the disk fills up under a running server. The data directory is a small tmpfs of its
 * own; a filler file takes every free byte (or all but a small margin) while a patient keeps
 * sending. Every reply must be either ok, for a message that really is stored, or the error
 * "unavailable"; the server stays up and the WebSocket stays usable. When the filler is deleted,
 * service resumes within seconds, resending the refused messages with the same txn_ids stores
 * each exactly once, and after a restart every acknowledged message is there once and the audit
 * chain verifies.
 *
 * Needs root (mount(2)); CI runs as root. Without it the test fails, saying so: the disk-full
 * behaviour is a requirement, not an option. The mount is made in a mount namespace of the test's
 * own, so it cannot outlive the test process. The server's output goes to a file outside the
 * tmpfs (D/server.log is a symlink), so what it logged while the disk was full is kept. */
#include "tests/support/https.h"
#include "tests/support/pclient.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define T 5000
/* The demo seed is ~330 KiB, but the WAL grows to ~4 MiB (1000 pages) before SQLite checkpoints
 * and reuses it: the resends after the disk is freed need that room. */
#define TMPFS_SIZE "16m"
#define N_FULL 40       /* sends while the disk is full */
#define N_PIPE 300      /* sends in the margin test, */
#define WINDOW 10       /* pipelined this many at a time */
/* Free space left in the margin test. Measured: a committed send costs some 15-60 KiB of WAL
 * (message, audit row, event and their indexes), so with 64 KiB or less no send fits at all
 * (as with no margin); 512 KiB takes a few dozen before the wall. */
#define MARGIN (512 * 1024)

static const char *const args[] = {"--rate-limit-per-sec", "100000", "--rate-limit-burst",
                                   "100000", "--send-rate-per-min", "0", NULL};

static struct {
    pl_fixture_t fx;
    char log[300]; /* the server's output, outside the tmpfs */
    char filler[300];
    bool mounted;
} g;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int teardown(void **s);

static int setup_inner(void)
{
    const char *tmp = getenv("TMPDIR");
    tmp = tmp && *tmp ? tmp : "/tmp";
    snprintf(g.fx.dir, sizeof g.fx.dir, "%s/parley-diskfull-XXXXXX", tmp);
    if (!mkdtemp(g.fx.dir)) return -1;
    if (mount("tmpfs", g.fx.dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=" TMPFS_SIZE ",mode=0700")
        < 0) {
        fprintf(stderr,
                "test_disk_full: cannot mount a tmpfs on %s (%s): this test needs root "
                "(CAP_SYS_ADMIN) to give the server a small disk of its own\n",
                g.fx.dir, strerror(errno));
        rmdir(g.fx.dir);
        g.fx.dir[0] = 0;
        return -1;
    }
    g.mounted = true;
    snprintf(g.filler, sizeof g.filler, "%s/filler", g.fx.dir);
    snprintf(g.log, sizeof g.log, "%s.log", g.fx.dir);
    char link[300];
    snprintf(link, sizeof link, "%s/server.log", g.fx.dir);
    unlink(g.log);
    if (symlink(g.log, link) < 0) return -1;

    char *out = NULL;
    const char *demo[] = {"demo", "--data-dir", g.fx.dir, "--json", "--kdf-log-n", "10", NULL};
    int rc = pl_test_run_cli(&out, demo);
    if (rc != 0 || !out) {
        fprintf(stderr, "parley demo failed (%d)\n", rc);
        free(out);
        return -1;
    }
    g.fx.logins = json_loads(out, 0, NULL);
    free(out);
    if (!json_is_array(g.fx.logins)) return -1;
    return pl_fixture_restart(&g.fx, args) < 0 ? -1 : 0;
}

/* cmocka skips the teardown when the setup fails: undo here whatever was done. */
static int setup(void **s)
{
    memset(&g, 0, sizeof g);
    if (setup_inner() == 0) return 0;
    teardown(s);
    return -1;
}

/* Also runs after a failed assertion: nothing stays mounted or running. */
static int teardown(void **s)
{
    if (g.fx.srv) {
        pl_test_server_stop(g.fx.srv);
        pl_test_server_destroy(g.fx.srv); /* a given data dir is never removed by it */
        g.fx.srv = NULL;
    }
    json_decref(g.fx.logins);
    g.fx.logins = NULL;
    if (g.mounted && umount2(g.fx.dir, MNT_DETACH) < 0)
        fprintf(stderr, "umount %s: %s\n", g.fx.dir, strerror(errno));
    g.mounted = false;
    if (g.fx.dir[0]) rmdir(g.fx.dir);
    if (g.log[0] && !getenv("PARLEY_TEST_KEEP")) unlink(g.log);
    return 0;
}

/* Prints the server's log lines that mention the store or an error (for the record). */
static void show_store_log(const char *when)
{
    FILE *f = fopen(g.log, "r");
    if (!f) return;
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if ((strstr(line, "\"error\"") || strstr(line, "\"warn\"")) && n++ < 12)
            fprintf(stderr, "  [%s] %s", when, line);
    if (n > 12) fprintf(stderr, "  [%s] ... %d such lines in all\n", when, n);
    fclose(f);
}

/* Writes the filler until ENOSPC, then gives back `margin` bytes (page granular on tmpfs).
 * Returns the filler's size. */
static off_t fill_disk(off_t margin)
{
    int fd = open(g.filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    static char buf[65536];
    memset(buf, 0xa5, sizeof buf);
    off_t size = 0;
    /* Big chunks, then page-sized ones, then single bytes: nothing is left over. */
    static const size_t chunks[] = {sizeof buf, 4096, 1};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        ssize_t n;
        while ((n = write(fd, buf, chunks[c])) > 0) size += n;
        assert_true(n < 0 && errno == ENOSPC);
    }
    if (margin > 0) {
        assert_int_equal(ftruncate(fd, size - margin), 0);
        size -= margin;
    }
    close(fd);
    return size;
}

static json_int_t new_conversation(pl_pc_t *pt)
{
    json_t *r = pl_pc_callf(pt, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                            "disk-conv", "kind", "admin", "subject", "Disk full", "body", "first");
    assert_true(pl_pc_is_ok(r));
    json_int_t id = json_integer_value(json_object_get(json_object_get(r, "conversation"), "id"));
    json_decref(r);
    return id;
}

static json_t *send_msg(pl_pc_t *pt, json_int_t cid, const char *tag, int i, int timeout_ms)
{
    char txn[32], body[64];
    snprintf(txn, sizeof txn, "%s%d", tag, i);
    snprintf(body, sizeof body, "%s message %d", tag, i);
    return pl_pc_callf(pt, timeout_ms, "{ss sI ss ss}", "type", "conversation.send",
                       "conversation_id", cid, "txn_id", txn, "body", body);
}

/* A reply while the disk is full: ok, or the error "unavailable" and nothing else. Returns 1 for
 * ok, 0 for unavailable; notes the first refusal. */
static int full_reply_ok(json_t *r, const char *what)
{
    if (!r) fail_msg("%s: no reply within %d ms (server hung?)", what, T);
    if (pl_pc_is_ok(r)) {
        assert_false(json_is_true(json_object_get(r, "duplicate")));
        return 1;
    }
    if (!pl_pc_is_error(r, "unavailable")) {
        char *d = json_dumps(r, 0);
        fprintf(stderr, "%s: unexpected reply %s\n", what, d ? d : "?");
        free(d);
        fail_msg("a disk-full send must be refused as \"unavailable\"");
    }
    static bool shown;
    if (!shown) {
        char *d = json_dumps(r, 0);
        fprintf(stderr, "  disk full: %s -> %s\n", what, d ? d : "?");
        free(d);
        shown = true;
    }
    return 0;
}

/* GET /healthz answers (ok or degraded): the server is up and its loop turns. */
static void assert_healthz_answers(void)
{
    pl_http_resp_t resp;
    assert_int_equal(pl_https_request("127.0.0.1", g.fx.port, "GET", "/healthz", NULL, NULL, 0,
                                      T, &resp),
                     0);
    assert_true(resp.status == 200 || resp.status == 503);
    json_t *b = json_loads(resp.body, 0, NULL);
    const char *st = json_string_value(json_object_get(b, "status"));
    assert_non_null(st);
    assert_true(!strcmp(st, "ok") || !strcmp(st, "degraded"));
    json_decref(b);
    pl_http_resp_free(&resp);
}

/* Counts every txn with the given tag in the conversation (history, paged); seqs contiguous. */
static void count_txns(pl_pc_t *pt, json_int_t cid, const char *tag, int *counts)
{
    json_int_t before = 0, expect_seq = -1;
    for (;;) {
        json_t *r = before ? pl_pc_callf(pt, T, "{ss sI sI si}", "type", "conversation.history",
                                         "conversation_id", cid, "before", before, "limit", 100)
                           : pl_pc_callf(pt, T, "{ss sI si}", "type", "conversation.history",
                                         "conversation_id", cid, "limit", 100);
        assert_true(pl_pc_is_ok(r));
        json_t *msgs = json_object_get(r, "messages");
        for (size_t i = json_array_size(msgs); i-- > 0;) {
            json_t *m = json_array_get(msgs, i);
            json_int_t seq = json_integer_value(json_object_get(m, "seq"));
            if (expect_seq >= 0) assert_int_equal(seq, expect_seq);
            expect_seq = seq - 1;
            const char *t = json_string_value(json_object_get(m, "txn_id"));
            size_t n = strlen(tag);
            if (t && !strncmp(t, tag, n) && t[n] >= '0' && t[n] <= '9') counts[atoi(t + n)]++;
        }
        json_t *nb = json_object_get(r, "next_before");
        before = json_is_integer(nb) ? json_integer_value(nb) : 0;
        json_decref(r);
        if (!before) break;
    }
    assert_int_equal(expect_seq, 0); /* reached seq 1: no gaps */
}

/* After the filler is gone: new sends succeed within a few seconds (back-off between tries). */
static void assert_service_resumes(pl_pc_t *pt, json_int_t cid)
{
    int64_t t0 = now_ms(), deadline = t0 + 10000;
    int delay = 50, tries = 0;
    for (;;) {
        json_t *r = send_msg(pt, cid, "R", tries++, T);
        assert_non_null(r);
        int ok = pl_pc_is_ok(r);
        if (!ok) assert_true(pl_pc_is_error(r, "unavailable"));
        json_decref(r);
        if (ok) break;
        if (now_ms() > deadline) fail_msg("no send succeeded within 10 s of freeing the disk");
        usleep((useconds_t)delay * 1000);
        delay = delay * 2 > 1000 ? 1000 : delay * 2;
    }
    fprintf(stderr, "  space freed: a send succeeded after %d tries, %lld ms\n", tries,
            (long long)(now_ms() - t0));
    /* and keeps succeeding */
    for (int i = 0; i < 5; i++) {
        json_t *r = send_msg(pt, cid, "R", tries++, T);
        assert_true(pl_pc_is_ok(r));
        json_decref(r);
    }
}

/* The client resends every refused message with its txn_id: the ones never stored are stored
 * now (duplicate false), any that were stored after all are answered as duplicates. */
static void resend_refused(pl_pc_t *pt, json_int_t cid, const char *tag, const char *acked, int n)
{
    int *counts = calloc((size_t)n, sizeof *counts);
    assert_non_null(counts);
    count_txns(pt, cid, tag, counts);
    for (int i = 0; i < n; i++) {
        assert_true(counts[i] <= 1);
        if (acked[i]) assert_int_equal(counts[i], 1); /* an ok means stored */
    }
    int stored_anyway = 0;
    for (int i = 0; i < n; i++) {
        if (acked[i]) continue;
        json_t *r = send_msg(pt, cid, tag, i, T);
        if (!pl_pc_is_ok(r)) {
            char *d = json_dumps(r, 0);
            fprintf(stderr, "resend of %s%d failed: %s\n", tag, i, d ? d : "(no reply)");
            free(d);
        }
        assert_true(pl_pc_is_ok(r));
        assert_int_equal(json_is_true(json_object_get(r, "duplicate")), counts[i] == 1);
        stored_anyway += counts[i];
        json_decref(r);
    }
    if (stored_anyway)
        fprintf(stderr, "  %d refused sends had been stored after all (answered as duplicates)\n",
                stored_anyway);
    memset(counts, 0, (size_t)n * sizeof *counts);
    count_txns(pt, cid, tag, counts);
    for (int i = 0; i < n; i++) assert_int_equal(counts[i], 1);
    free(counts);
}

/* SIGTERM (a clean exit even after the disk-full episode), start again on the same dir: every
 * message of every tag is there exactly once, and the audit chain verifies. */
static void assert_all_present_after_restart(json_int_t cid, const char *const *tags,
                                             const int *ns)
{
    assert_int_equal(pl_test_server_stop(g.fx.srv), 0);
    assert_int_equal(pl_fixture_restart(&g.fx, args), 0);
    pl_pc_t *pt = NULL;
    assert_int_equal(pl_pc_open(&pt, &g.fx, "ann.taylor"), 0);
    for (int t = 0; tags[t]; t++) {
        int *counts = calloc((size_t)ns[t], sizeof *counts);
        assert_non_null(counts);
        count_txns(pt, cid, tags[t], counts);
        for (int i = 0; i < ns[t]; i++) assert_int_equal(counts[i], 1);
        free(counts);
    }
    pl_pc_destroy(pt);
    assert_int_equal(pl_test_server_stop(g.fx.srv), 0);
    const char *verify[] = {"audit", "verify", "--data-dir", g.fx.dir, NULL};
    char *out = NULL;
    int rc = pl_test_run_cli(&out, verify);
    if (rc != 0) fprintf(stderr, "audit verify (%d): %s\n", rc, out ? out : "");
    free(out);
    assert_int_equal(rc, 0);
}

/* Drains the live pushes of a subscriber: every message.created it was told of with the tag
 * must be one that was acknowledged (an event for a refused send would be a half-written
 * message made visible). Returns how many it saw. */
static int check_live_events(pl_pc_t *gp, const char *tag, const char *acked, int n)
{
    int seen = 0;
    json_t *push;
    while ((push = pl_pc_next_push(gp, 300))) {
        json_t *ev = json_object_get(push, "event");
        const char *type = json_string_value(json_object_get(ev, "type"));
        const char *txn = json_string_value(
            json_object_get(json_object_get(ev, "message"), "txn_id"));
        size_t tl = strlen(tag);
        if (type && !strcmp(type, "message.created") && txn && !strncmp(txn, tag, tl) &&
            txn[tl] >= '0' && txn[tl] <= '9') {
            int i = atoi(txn + tl);
            assert_true(i >= 0 && i < n);
            if (!acked[i]) fail_msg("a live event for %s, which was refused", txn);
            seen++;
        }
        json_decref(push);
    }
    return seen;
}

static void test_full_disk_refuses_sends_as_unavailable_and_recovers_when_freed(void **s)
{
    pl_pc_t *pt = NULL, *gp = NULL;
    assert_int_equal(pl_pc_open(&pt, &g.fx, "ann.taylor"), 0);
    assert_int_equal(pl_pc_open(&gp, &g.fx, "dr.patel"), 0);
    json_decref(pl_pc_subscribe(gp, -1, T)); /* the practice, live from now on */
    json_int_t cid = new_conversation(pt);
    enum { N_PRE = 5 };
    for (int i = 0; i < N_PRE; i++) {
        json_t *r = send_msg(pt, cid, "P", i, T);
        assert_true(pl_pc_is_ok(r));
        json_decref(r);
    }

    off_t filled = fill_disk(0);
    fprintf(stderr, "  filler: %lld KiB, no margin\n", (long long)filled / 1024);
    static char acked[N_FULL];
    int n_ok = 0;
    for (int i = 0; i < N_FULL; i++) {
        char what[32];
        snprintf(what, sizeof what, "send F%d", i);
        json_t *r = send_msg(pt, cid, "F", i, T);
        acked[i] = (char)full_reply_ok(r, what);
        n_ok += acked[i];
        json_decref(r);
        if (i % 10 == 9) assert_healthz_answers();
    }
    fprintf(stderr, "  disk full: %d of %d sends acknowledged, %d unavailable\n", n_ok, N_FULL,
            N_FULL - n_ok);
    assert_true(n_ok < N_FULL); /* the disk really was full */
    assert_int_equal(check_live_events(gp, "F", acked, N_FULL), n_ok);

    /* The socket still answers other requests. Reading the history writes an audit record,
     * so with no room for it the read is refused too, and the same way. */
    json_t *r = pl_pc_callf(pt, T, "{ss sI si}", "type", "conversation.history",
                            "conversation_id", cid, "limit", 5);
    assert_non_null(r);
    if (!pl_pc_is_ok(r)) assert_true(pl_pc_is_error(r, "unavailable"));
    json_decref(r);
    /* A login (a new session row) is refused as unavailable (503), not as a server fault. */
    char token[128];
    int st = pl_pc_login(g.fx.port, "robert.green", pl_fixture_password(&g.fx, "robert.green"),
                         NULL, token, sizeof token, NULL);
    fprintf(stderr, "  disk full: login answered %d\n", st);
    assert_true(st == 200 || st == 503);
    show_store_log("disk full");

    assert_int_equal(unlink(g.filler), 0);
    assert_service_resumes(pt, cid);
    resend_refused(pt, cid, "F", acked, N_FULL);
    /* The resent ones reach the practice live now. */
    static char all[N_FULL];
    memset(all, 1, sizeof all);
    assert_int_equal(check_live_events(gp, "F", all, N_FULL), N_FULL - n_ok);
    pl_pc_destroy(gp);
    pl_pc_destroy(pt);

    const char *const tags[] = {"P", "F", NULL};
    const int ns[] = {N_PRE, N_FULL};
    assert_all_present_after_restart(cid, tags, ns);
}

/* A margin: the sends, pipelined a window at a time, run into the wall part-way, so earlier
 * batches are committed and later ones fail. Every ok must still be stored, every refusal be
 * "unavailable". */
static void test_disk_filling_mid_stream_acknowledges_only_what_is_stored(void **s)
{
    pl_pc_t *pt = NULL;
    assert_int_equal(pl_pc_open(&pt, &g.fx, "ann.taylor"), 0);
    json_int_t cid = new_conversation(pt);

    off_t margin = MARGIN;
    off_t filled = fill_disk(margin);
    fprintf(stderr, "  filler: %lld KiB, %lld KiB margin\n", (long long)filled / 1024,
            (long long)margin / 1024);
    static char acked[N_PIPE];
    int n_ok = 0, first_refused = -1, last_ok = -1;
    for (int w = 0; w < N_PIPE; w += WINDOW) {
        for (int i = w; i < w + WINDOW; i++) {
            char buf[256];
            int n = snprintf(buf, sizeof buf,
                             "{\"id\":\"M%d\",\"type\":\"conversation.send\","
                             "\"conversation_id\":%lld,\"txn_id\":\"M%d\",\"body\":\"M message "
                             "%d, padded to take up some room in the log ..................\"}",
                             i, (long long)cid, i, i);
            assert_int_equal(pl_wsc_send_text(pl_pc_ws(pt), buf, (size_t)n), 0);
        }
        for (int got = 0; got < WINDOW;) {
            char *m = NULL;
            if (pl_wsc_recv(pl_pc_ws(pt), T, &m, NULL) != 0)
                fail_msg("no reply within %d ms (server hung or closed the socket)", T);
            json_t *j = json_loads(m, 0, NULL);
            free(m);
            const char *id = json_string_value(json_object_get(j, "id"));
            if (id && id[0] == 'M') { /* else a push, not a reply */
                int i = atoi(id + 1);
                assert_true(i >= w && i < w + WINDOW);
                acked[i] = (char)full_reply_ok(j, id);
                n_ok += acked[i];
                if (acked[i]) last_ok = i;
                if (!acked[i] && first_refused < 0) first_refused = i;
                got++;
            }
            json_decref(j);
        }
    }
    fprintf(stderr,
            "  filling: %d of %d sends acknowledged (last M%d), %d unavailable (first M%d)\n",
            n_ok, N_PIPE, last_ok, N_PIPE - n_ok, first_refused);
    assert_true(n_ok > 0);
    assert_true(n_ok < N_PIPE);
    assert_healthz_answers();
    show_store_log("filling");

    assert_int_equal(unlink(g.filler), 0);
    assert_service_resumes(pt, cid);
    resend_refused(pt, cid, "M", acked, N_PIPE);
    pl_pc_destroy(pt);

    const char *const tags[] = {"M", NULL};
    const int ns[] = {N_PIPE};
    assert_all_present_after_restart(cid, tags, ns);
}

int main(void)
{
    /* A mount namespace of our own (the server and the CLI, our children, share it): should this
     * process be killed before its teardown, the tmpfs goes with it rather than staying mounted
     * on the machine. Without the privilege, setup fails with its message. */
    if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        fprintf(stderr, "test_disk_full: cannot make the mounts private: %s\n", strerror(errno));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_full_disk_refuses_sends_as_unavailable_and_recovers_when_freed, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_disk_filling_mid_stream_acknowledges_only_what_is_stored, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
