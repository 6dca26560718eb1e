/* libFuzzer target for the WebSocket protocol: signalling/ws.c's receive path and dispatcher
 * (reassembly, size cap, JSON decoding, id and type checks, rate limit (opened wide: it must
 * hide no handler), session liveness, the TOTP gate) and, behind it, every real request handler,
 * run through the real storage thread (storage/worker.c) on a real store: SQLite in memory
 * ("sqlite::memory:"), seeded as `parley demo` seeds a data directory, so the ids of
 * docs/PROTOCOL.md's examples name real rows.
 *
 * What is real: the server context (built by hand as pl_server_create builds it, minus lws, the
 * data directory and the housekeeping timer), the loop, the worker thread, the store, the
 * connection objects and their indexes (by_user, by_org: fan-out reaches every connection a real
 * server would reach), the handlers, events and the audit trail. What is stubbed: the socket.
 * Each connection has a dummy wsi, and the few libwebsockets calls the path makes are defined
 * below; video is off (srv->media NULL), as is the cluster and the record write-back.
 *
 * Input: lines ('\n'), at most MAX_MSGS. A line's first byte says what it is:
 *   P G R H K S A L   one text message, whole, from that connection (see slots[] below)
 *   p g r h k s a l   the same, sent in fragments: the next byte sets their size (1 to 64)
 *   .                 run the storage thread dry now (interleaving with what comes next)
 *   ~X                connection X drops (its requests in flight finish without it) and
 *                     reconnects with the same session
 *   any other byte    connection byte % NCONN; (byte / NCONN) % 4 picks whole text,
 *                     fragmented text, whole binary or fragmented binary
 * After the last line the storage thread is run dry and every frame the server queued on any
 * connection is taken off its send queue and checked: it must be a JSON object (the protocol
 * promises JSON), a top-level "id" must be null or echo a request id that connection sent, a
 * reply ("ok") must carry "id", and a connection still open must have had exactly one reply per
 * message. A broken promise aborts. A connection the server closed is reconnected for the next
 * input.
 *
 * The server lives across inputs (a rebuild costs ~40 ms): what one input stores, the next
 * finds. Every REBUILD_EVERY inputs (FUZZ_WS_REBUILD_EVERY overrides it) the whole server is torn
 * down (pl_server_destroy, as the real one goes) and rebuilt on a fresh store, so the store does
 * not grow without bound, and an incomplete teardown shows up under LeakSanitizer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "core/imap.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/nhs.h"
#include "signalling/server_internal.h"
#include "storage/store.h"
#include "storage/worker.h"

#define NCONN 8
#define MAX_MSGS 64
#define REBUILD_EVERY 500
#define DRAIN_MAX_TURNS 100000

/* ---- the socket, stubbed ----
 * libparley.a is linked statically into this executable and libwebsockets as a shared library:
 * a function defined here takes precedence over the library's for every call from libparley's
 * objects (the static linker resolves them here and never looks in the .so). These are the
 * lws calls the WebSocket receive, dispatch and send path makes (nm -u on ws.o, auth.o and
 * http.o's pl_http_copy_user_agent); none of them touches a socket here. */

static const char fake_ua[] = "Mozilla/5.0 (fuzz_ws) Parley harness";

int lws_callback_on_writable(struct lws *wsi)
{
    return 0; /* the harness takes the frames off the queue itself */
}

const char *lws_get_peer_simple(struct lws *wsi, char *name, size_t namelen)
{
    snprintf(name, namelen, "192.0.2.7"); /* TEST-NET-1 */
    return name;
}

void lws_set_timeout(struct lws *wsi, enum pending_timeout reason, int secs)
{
    /* A slow consumer's socket is dropped: the harness sees close_code and reconnects. */
}

int lws_rx_flow_control(struct lws *wsi, int enable)
{
    return 0;
}

int lws_hdr_total_length(struct lws *wsi, enum lws_token_indexes h)
{
    return h == WSI_TOKEN_HTTP_USER_AGENT ? (int)strlen(fake_ua) : 0;
}

int lws_hdr_copy(struct lws *wsi, char *dest, int len, enum lws_token_indexes h)
{
    if (h != WSI_TOKEN_HTTP_USER_AGENT || len <= (int)strlen(fake_ua)) return -1;
    memcpy(dest, fake_ua, sizeof fake_ua);
    return (int)strlen(fake_ua);
}

int lws_write(struct lws *wsi, unsigned char *buf, size_t len, enum lws_write_protocol protocol)
{
    /* Only pl_conn_writeable writes, and the harness never calls it: reaching this is a path
     * the harness does not know about. */
    fprintf(stderr, "fuzz_ws: lws_write reached: the harness must learn this path\n");
    abort();
}

/* ---- who the connections are ---- */

typedef struct {
    char letter;
    const char *username;
    bool scoped;    /* a session opened from consultation 1's join link */
    bool totp_gate; /* staff whose practice requires TOTP and who have not enrolled */
} slot_t;

static const slot_t slots[NCONN] = {
    {'P', "ann.taylor", false, false}, /* patient at Riverside */
    {'G', "dr.patel", false, false},   /* GP at Riverside */
    {'R', "reception.jones", false, false},
    {'H', "dr.hughes", false, false},   /* GP at Hillside: another practice */
    {'K', "dr.khan", false, false},     /* specialist at the dermatology service */
    {'S', "ann.taylor", true, false},   /* Ann, in her video consultation's scoped session */
    {'A', "admin.smith", false, false}, /* Riverside's practice admin */
    {'L', "pharm.lee", false, true},    /* pharmacist, held at the TOTP enrolment gate */
};

/* `parley demo`'s organisations and people, in its order: the ids match docs/PROTOCOL.md's
 * examples (Riverside Surgery is org 2, Dr Patel user 1, Ann Taylor user 8). */
static const struct {
    const char *code, *name, *kind;
    int parent; /* index + 1 of the parent, 0 for none */
    int target;
} orgs[] = {
    {"U90001", "Riverside Primary Care Network", "network", 0, 0},
    {"Y90001", "Riverside Surgery", "practice", 1, 0},
    {"Y90002", "Hillside Medical Centre", "practice", 1, 240},
    {"R0D01", "Dermatology, City Hospital", "specialist_service", 0, 0},
};

static const struct {
    const char *username, *name;
    int org; /* index into orgs */
    const char *role, *dob;
} users[] = {
    {"dr.patel", "Dr Asha Patel", 1, "gp", NULL},
    {"nurse.okafor", "Grace Okafor", 1, "nurse", NULL},
    {"reception.jones", "Sam Jones", 1, "receptionist", NULL},
    {"admin.smith", "Jo Smith", 1, "practice_admin", NULL},
    {"pharm.lee", "Min Lee", 1, "pharmacist", NULL},
    {"dr.hughes", "Dr Owen Hughes", 2, "gp", NULL},
    {"dr.khan", "Dr Leila Khan", 3, "specialist", NULL},
    {"ann.taylor", "Ann Taylor", 1, NULL, "1948-03-12"},
    {"robert.green", "Robert Green", 1, NULL, "1990-07-01"},
    {"cara.evans", "Cara Evans", 2, NULL, "1975-11-23"},
    {"admin.city", "Priya Shah", 3, "practice_admin", NULL},
};
#define N_USERS (sizeof users / sizeof users[0])

typedef struct {
    uv_loop_t loop;
    pl_config_t cfg;
    pl_server_t *srv;
    pl_conn_t *conns[NCONN];
    pl_actor_t actors[NCONN];
    char hashes[NCONN][65];
    /* request ids each connection sent during this input: what a reply may echo */
    char ids[NCONN][MAX_MSGS][65];
    int n_ids[NCONN];
    /* this input, per connection: messages sent whole (each is owed exactly one reply), replies
     * received, and whether the connection dropped (then what it was owed is void) */
    int sent[NCONN], replies[NCONN];
    bool dropped[NCONN];
    unsigned inputs;
} harness_t;

static harness_t *H;
static unsigned rebuild_every = REBUILD_EVERY;

static void die(const char *what, int rc)
{
    fprintf(stderr, "fuzz_ws: %s: %s\n", what, rc < 0 ? pl_strerror(rc) : "failed");
    abort();
}

static int64_t user_id(const char *username)
{
    for (size_t i = 0; i < N_USERS; i++)
        if (strcmp(users[i].username, username) == 0) return (int64_t)i + 1;
    die("unknown user", 0);
    return 0;
}

/* The n-th valid NHS number in the 999 test range, as `parley demo` makes them. */
static void test_nhs_number(int n, char out[PL_NHS_LEN + 1])
{
    for (long base = 999000000L + n * 37L;; base++) {
        char cand[24];
        snprintf(cand, sizeof cand, "%09ld0", base % 1000000000L);
        int sum = 0;
        for (int i = 0; i < 9; i++)
            sum += (cand[i] - '0') * (10 - i);
        int check = 11 - sum % 11;
        if (check == 11) check = 0;
        if (check == 10) continue;
        cand[9] = (char)('0' + check);
        if (pl_nhs_normalise(cand, out) == 0) return;
    }
}

static pl_msg_t seed_msg(pl_store_t *st, int64_t conv_id, int64_t sender, bool internal,
                         const char *txn, const char *body, int64_t now)
{
    pl_conv_t c;
    pl_msg_t m;
    bool dup = false;
    int rc = pl_store_conv_get(st, conv_id, &c);
    if (rc == 0)
        rc = pl_store_msg_append(st, &c, sender, internal, txn, body, strlen(body), now, &m, &dup);
    if (rc < 0) die("seed message", rc);
    /* Its event, so that events.subscribe has something to replay. */
    json_t *events = json_array();
    json_t *payload =
        json_pack("{s{sI sI sI ss}}", "message", "id", (json_int_t)m.id, "conversation_id",
                  (json_int_t)conv_id, "seq", (json_int_t)m.seq, "body", body);
    rc = pl_event_append(st, &c, internal, internal ? "note.created" : "message.created", payload,
                         now, events);
    json_decref(payload);
    json_decref(events);
    if (rc < 0) die("seed event", rc);
    return m;
}

/* The demo data, then a conversation with messages, a second one, a consultation booked on the
 * first, an advice request and a case discussion: something for every handler to find. */
static void seed(pl_store_t *st)
{
    int64_t now = pl_now_ms(), id = 0;
    int rc = pl_store_begin(st);
    for (size_t i = 0; rc == 0 && i < sizeof orgs / sizeof orgs[0]; i++) {
        pl_org_t o = {0};
        snprintf(o.code, sizeof o.code, "%s", orgs[i].code);
        snprintf(o.name, sizeof o.name, "%s", orgs[i].name);
        snprintf(o.kind, sizeof o.kind, "%s", orgs[i].kind);
        o.parent_id = orgs[i].parent;
        o.response_target_minutes = orgs[i].target;
        rc = pl_store_org_create(st, &o, &id);
    }
    for (size_t i = 0; rc == 0 && i < N_USERS; i++) {
        char nhs[PL_NHS_LEN + 1] = "";
        bool patient = users[i].role == NULL;
        if (patient) test_nhs_number((int)i, nhs);
        /* No password hash: nobody signs in here, the sessions are made below. */
        rc = pl_store_user_create(st, patient ? PL_USER_PATIENT : PL_USER_STAFF, users[i].username,
                                  users[i].name, "!", patient ? nhs : NULL, users[i].dob,
                                  users[i].org + 1, &id);
        if (rc == 0 && id != (int64_t)i + 1) die("seed: user ids are not the demo's", 0);
        if (rc == 0 && !patient)
            rc =
                pl_store_membership_add(st, id, users[i].org + 1, pl_role_from_name(users[i].role));
    }
    if (rc < 0) die("seed people", rc);
    int64_t riverside = 2, service = 4, patel = user_id("dr.patel"), ann = user_id("ann.taylor");
    int64_t robert = user_id("robert.green"), smith = user_id("admin.smith");
    static const char *const tpl[][2] = {
        {"Prescription ready", "Your prescription is ready to collect from your pharmacy."},
        {"Please book an appointment", "Please call the surgery to book an appointment."},
        {"Test results normal", "Your recent test results are normal."},
    };
    for (size_t i = 0; rc == 0 && i < sizeof tpl / sizeof tpl[0]; i++)
        rc = pl_store_tpl_create(st, riverside, tpl[i][0], tpl[i][1], smith, now, NULL);
    json_t *sp = json_pack("[ss]", "Dermatology", "Skin lesions (suspected cancer)");
    if (rc == 0) rc = pl_store_service_set(st, service, sp, 72, 4);
    json_decref(sp);
    pl_agreement_t ag = {.practice_id = riverside,
                         .service_id = service,
                         .starts_at = now - 60000,
                         .ends_at = now + 366LL * 24 * 3600 * 1000,
                         .proposed_by = smith,
                         .proposed_org_id = riverside,
                         .proposed_at = now};
    snprintf(ag.shares, sizeof ag.shares, "identified");
    int64_t ag_id = 0;
    if (rc == 0) rc = pl_store_agreement_create(st, &ag, &ag_id);
    if (rc == 0) rc = pl_store_agreement_accept(st, ag_id, user_id("admin.city"), now);
    if (rc < 0) die("seed templates and agreement", rc);

    /* Conversation 1: Ann's repeat prescription, answered, with a note. */
    int64_t conv1 = 0, conv2 = 0;
    bool dup = false;
    json_t *answers = json_pack("{ss}", "Which medicine?", "Salbutamol 100mcg inhaler");
    rc = pl_store_conv_create(st, riverside, ann, "admin", "Repeat prescription", answers,
                              "seed-create-1", now, &conv1, &dup);
    json_decref(answers);
    if (rc == 0)
        rc = pl_store_conv_create(st, riverside, robert, "clinical", "Rash on my arm", NULL,
                                  "seed-create-2", now, &conv2, &dup);
    if (rc < 0) die("seed conversations", rc);
    seed_msg(st, conv1, ann, false, "seed-create-1", "Could I have my inhaler renewed, please?",
             now);
    seed_msg(st, conv1, patel, false, "seed-reply-1", "Done. It will be ready tomorrow.", now);
    seed_msg(st, conv1, patel, true, "seed-note-1", "Last asthma review was 14 months ago.", now);
    seed_msg(st, conv1, ann, false, "seed-msg-2", "Thanks. I can come in next week.", now);
    seed_msg(st, conv2, robert, false, "seed-create-2", "It has been itchy for a week.", now);

    /* Consultation 1, on conversation 1, with Dr Patel in an hour. */
    int64_t k = 0;
    rc = pl_store_consult_create(st, conv1, riverside, ann, patel, now + 3600 * 1000, now, &k);
    /* Advice request 1 (conversation 3) and case discussion 1 (conversation 4). */
    pl_advice_new_t an = {.practice_id = riverside,
                          .service_id = service,
                          .patient_id = ann,
                          .agreement_id = ag_id,
                          .specialty = "Dermatology",
                          .urgency = "routine",
                          .question = "Pigmented lesion on the left forearm: refer?",
                          .summary = "Asymmetric 7 mm lesion, irregular border.",
                          .txn_id = "seed-advice-1",
                          .consent_by = patel,
                          .consent_at = now,
                          .created_by = patel,
                          .now = now,
                          .due_at = now + 72 * 3600 * 1000LL};
    bool created = false;
    if (rc == 0) rc = pl_store_advice_create(st, &an, &id, &created);
    if (rc == 0)
        rc = pl_store_case_create(st, riverside, robert, "Robert Green: rash", "seed-case-1", patel,
                                  now, &id, &created);
    if (rc < 0) die("seed consultation, advice and case", rc);

    /* The sessions: one per connection, live for the store's checks (touch, recheck). */
    for (int i = 0; i < NCONN; i++) {
        char token[64];
        snprintf(token, sizeof token, "fuzz-ws-session-token-%d", i);
        pl_token_hash(token, H->hashes[i]);
        int64_t uid = user_id(slots[i].username);
        int64_t exp = now + (int64_t)H->cfg.session_absolute_timeout_s * 1000;
        rc = slots[i].scoped ? pl_store_session_create_scoped(st, H->hashes[i], uid, k, now, exp)
                             : pl_store_session_create(st, H->hashes[i], uid, now, exp);
        if (rc == 0) rc = pl_store_actor_load(st, uid, &H->actors[i]);
        if (rc < 0) die("seed sessions", rc);
        if (slots[i].scoped) {
            H->actors[i].scope_consultation_id = k;
            H->actors[i].scope_conversation_id = conv1;
        }
    }
    if ((rc = pl_store_commit(st)) < 0) die("seed commit", rc);
}

/* A connection of slot i, authenticated as auth.c's resolve_after leaves one. */
static void conn_open(int i)
{
    pl_conn_t *c = pl_conn_create(H->srv, (struct lws *)&H->conns[i]); /* any non-NULL wsi */
    if (!c) die("pl_conn_create", -PL_ENOMEM);
    int64_t now = pl_now_ms();
    memcpy(c->token_hash, H->hashes[i], sizeof c->token_hash);
    c->actor = H->actors[i];
    c->session_expires_at = now + (int64_t)H->cfg.session_absolute_timeout_s * 1000;
    c->session_idle_deadline = now + (int64_t)H->cfg.session_idle_timeout_s * 1000;
    c->session_touched_at = c->session_checked_at = now;
    c->must_enrol_totp = slots[i].totp_gate;
    pl_conn_authenticated(c);
    H->conns[i] = c;
}

static void teardown(void);

static void build(void)
{
    H = calloc(1, sizeof *H);
    if (!H || uv_loop_init(&H->loop) != 0) die("loop", -PL_ENOMEM);
    pl_config_t *cfg = &H->cfg;
    pl_config_defaults(cfg);
    cfg->max_frame_bytes = 16384; /* a camera-and-screen SDP offer fits; more is cut */
    cfg->max_message_bytes = 2048;
    cfg->event_page_size = 4; /* replays take several pages */
    cfg->max_store_queue = 100;
    cfg->rate_limit_per_sec = 1000000; /* the bucket must not hide the handlers */
    cfg->rate_limit_burst = 1000000;
    cfg->send_rate_per_min = 1000000; /* likewise the per-person limit: on, and out of the way */
    cfg->send_burst = 1000000;
    cfg->attachment_pending_max = 4;

    /* What pl_server_create makes, up to the lws context: keep this in step with it (a member
     * it creates and this does not is a NULL the handlers trip on). */
    pl_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) die("server", -PL_ENOMEM);
    H->srv = srv;
    srv->loop = &H->loop;
    srv->cfg = cfg;
    srv->store_ok = true;
    for (size_t i = 0; i < sizeof srv->data_key; i++)
        srv->data_key[i] = (uint8_t)(0xa5 ^ i);
    int rc = pl_store_open(&srv->store, "sqlite::memory:", srv->data_key);
    if (rc < 0) die("pl_store_open sqlite::memory:", rc);
    seed(srv->store);
    if (rc == 0) rc = pl_store_consult_presence_reset(srv->store);
    if (rc == 0) rc = pl_imap_create(&srv->by_user);
    if (rc == 0) rc = pl_imap_create(&srv->by_org);
    if (rc == 0) rc = pl_imap_create(&srv->guests);
    if (rc == 0) rc = pl_throttle_create(&srv->throttle);
    if (rc == 0) rc = pl_send_rate_create(&srv->send_rate);
    /* The storage thread owns the store from here on. */
    if (rc == 0) rc = pl_worker_create(&srv->worker, &H->loop, srv->store, &srv->metrics);
    if (rc < 0) die("server setup", rc);
    for (int i = 0; i < NCONN; i++)
        conn_open(i);
    /* At exit the whole server goes, so that LeakSanitizer sees only what really leaked. Only
     * now, once the store has started OpenSSL: handlers run last registered first, and the
     * storage thread must exit (freeing its OpenSSL thread state) before OpenSSL's own
     * cleanup has run, or that state is reported as leaked. */
    static bool registered;
    if (!registered) registered = atexit(teardown) == 0;
}

/* Runs the loop until the storage thread has nothing queued or in flight: every reply, event
 * and follow-up job (replay pages, audit rows of refusals) has been delivered. */
static void drain(void)
{
    pl_server_t *srv = H->srv;
    for (int turns = 0; srv->worker && pl_worker_pending(srv->worker) > 0; turns++) {
        if (turns > DRAIN_MAX_TURNS) die("the storage thread never ran dry", 0);
        uv_run(&H->loop, UV_RUN_ONCE); /* the worker's async handle wakes it */
    }
    uv_run(&H->loop, UV_RUN_NOWAIT);
}

static bool id_sent(int i, const char *id)
{
    for (int n = 0; n < H->n_ids[i]; n++)
        if (strcmp(H->ids[i][n], id) == 0) return true;
    return false;
}

static void bad_frame(int i, const char *why, const char *buf, size_t len)
{
    fprintf(stderr, "fuzz_ws: connection %c sent a frame that %s: %.*s\n", slots[i].letter, why,
            (int)(len > 2000 ? 2000 : len), buf);
    abort();
}

static void check_frame(int i, const char *buf, size_t len)
{
    /* FUZZ_WS_VERBOSE=1: print what each connection received (for writing seeds). */
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("FUZZ_WS_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "%c< %.*s\n", slots[i].letter, (int)len, buf);
    json_error_t err;
    json_t *o = json_loadb(buf, len, 0, &err);
    if (!json_is_object(o)) bad_frame(i, "is not a JSON object", buf, len);
    json_t *id = json_object_get(o, "id");
    if (id && !json_is_null(id) && !(json_is_string(id) && id_sent(i, json_string_value(id))))
        bad_frame(i, "echoes an id it was never sent", buf, len);
    if (json_object_get(o, "ok")) {
        if (!id) bad_frame(i, "is a reply without an id", buf, len);
        H->replies[i]++;
    }
    json_decref(o);
}

/* Takes every queued frame off connection i's send queue, as pl_conn_writeable would write
 * them, checking each. */
static void take_frames(int i)
{
    pl_conn_t *c = H->conns[i];
    while (c->txq) {
        pl_frame_t *f = c->txq;
        check_frame(i, (const char *)f->buf + LWS_PRE, f->len);
        c->txq = f->next;
        if (!c->txq) c->txq_tail = NULL;
        c->txq_bytes -= f->len;
        free(f);
    }
    if (c->txq_bytes != 0) die("txq_bytes out of step with the queue", 0);
}

/* The socket of connection i goes (pl_conn_closed, as lws's CLOSED callback does) and a new
 * one comes in on the same session. */
static void conn_reopen(int i)
{
    H->dropped[i] = true;
    pl_conn_closed(H->conns[i]);
    H->conns[i] = NULL;
    conn_open(i);
}

static void teardown(void)
{
    if (!H) return;
    drain();
    for (int i = 0; i < NCONN; i++) {
        take_frames(i);
        pl_conn_closed(H->conns[i]);
    }
    /* The real server's own teardown: drains the worker, closes the store, frees the maps. */
    pl_server_destroy(H->srv);
    uv_run(&H->loop, UV_RUN_DEFAULT); /* the worker's async handle closes */
    if (uv_loop_close(&H->loop) != 0) die("a handle is still open after teardown", 0);
    free(H);
    H = NULL;
}

static int slot_of_letter(uint8_t b)
{
    for (int i = 0; i < NCONN; i++)
        if (b == (uint8_t)slots[i].letter) return i;
    return -1;
}

/* Records the request id of msg (as the dispatcher reads it) as one connection i may echo. */
static void note_id(int i, const uint8_t *msg, size_t len)
{
    json_error_t err;
    json_t *o = json_loadb((const char *)msg, len, JSON_REJECT_DUPLICATES, &err);
    const char *id = json_string_value(json_object_get(o, "id"));
    if (id && strlen(id) >= 1 && strlen(id) <= 64 && H->n_ids[i] < MAX_MSGS)
        snprintf(H->ids[i][H->n_ids[i]++], sizeof H->ids[i][0], "%s", id);
    json_decref(o);
}

static void send_msg(int i, const uint8_t *msg, size_t len, size_t frag, bool binary)
{
    note_id(i, msg, len);
    H->sent[i]++;
    pl_conn_t *c = H->conns[i];
    if (!frag || len <= frag) {
        pl_conn_receive(c, msg, len, true, true, binary);
        return;
    }
    for (size_t off = 0; off < len; off += frag) {
        size_t n = len - off < frag ? len - off : frag;
        pl_conn_receive(c, msg + off, n, off == 0, off + n == len, binary);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    pl_log_set_level(PL_LOG_ERROR);
    /* FUZZ_WS_REBUILD_EVERY=1: a fresh server for every input, so that a reproducer found
     * after a long run shows whether it needs the state earlier inputs left (slow: ~40 ms). */
    const char *e = getenv("FUZZ_WS_REBUILD_EVERY");
    if (e && atoi(e) > 0) rebuild_every = (unsigned)atoi(e);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!H) build();
    memset(H->n_ids, 0, sizeof H->n_ids);
    memset(H->sent, 0, sizeof H->sent);
    memset(H->replies, 0, sizeof H->replies);
    memset(H->dropped, 0, sizeof H->dropped);
    size_t pos = 0;
    for (int msgs = 0; pos < size && msgs < MAX_MSGS; msgs++) {
        const uint8_t *line = data + pos, *nl = memchr(line, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - line) : size - pos;
        pos += len + (nl != NULL);
        if (len == 0) continue;
        uint8_t h = line[0];
        const uint8_t *body = line + 1;
        size_t blen = len - 1;
        if (h == '.') {
            drain();
            continue;
        }
        if (h == '~') {
            int i = blen ? slot_of_letter(body[0]) : 0;
            conn_reopen(i >= 0 ? i : body[0] % NCONN);
            continue;
        }
        int i = slot_of_letter(h), lower = slot_of_letter((uint8_t)(h - 'a' + 'A'));
        int mode = 0; /* 0 whole text, 1 fragmented text, 2 whole binary, 3 fragmented binary */
        if (i < 0 && h >= 'a' && h <= 'z' && lower >= 0) {
            i = lower;
            mode = 1;
        } else if (i < 0) {
            i = h % NCONN;
            mode = (h / NCONN) % 4;
        }
        size_t frag = 0;
        if (mode & 1) {
            if (!blen) continue;
            frag = (size_t)(body[0] & 0x3f) + 1;
            body++;
            blen--;
        }
        send_msg(i, body, blen, frag, mode >= 2);
    }
    drain();
    for (int i = 0; i < NCONN; i++) {
        take_frames(i);
        /* Every message is answered once (docs/PROTOCOL.md 1.2, 4.2), while the connection
         * stays open: a server that closes it sends nothing more. */
        if (!H->dropped[i] && !H->conns[i]->close_code && H->replies[i] != H->sent[i]) {
            fprintf(stderr, "fuzz_ws: connection %c sent %d messages and got %d replies\n",
                    slots[i].letter, H->sent[i], H->replies[i]);
            abort();
        }
        if (H->conns[i]->close_code) conn_reopen(i);
    }
    if (++H->inputs >= rebuild_every) teardown();
    return 0;
}
