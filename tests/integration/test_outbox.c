/* Integration: write-back of filed transcripts to a record system (PROTOCOL section 13.4),
 * against the real server binary and a small FHIR-like endpoint the test starts on loopback
 * (tests/support/fhir_endpoint.mjs: conditional create by identifier; it can fail the first N
 * requests, lose answers, always answer one status, and be killed and started again on the same
 * port, keeping what it stored).
 *
 * A clinician files a conversation over the WebSocket (conversation.file); the filing's Bundle
 * waits in the outbox, and the server delivers it. "Exactly once in effect" is checked on the
 * endpoint's side: each filing's identifier is stored there once, whatever failed on the way.
 * Two groups, each with its own server: one that keeps trying (--record-max-attempts 10), one
 * that gives up after 3 (--record-max-attempts 3); both retry after about a second
 * (--record-retry-base-s 1). Every wait is bounded. */
#include "tests/support/consult_fx.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T CFX_T
#define WAIT_MS 30000 /* the longest any delivery here should take */

static pl_fixture_t fx;

/* ---- the record endpoint ---- */

typedef struct {
    pid_t pid;
    int port;
    char dir[256];
} endpoint_t;

static endpoint_t ep;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* tests/support/fhir_endpoint.mjs, from the working directory or beside $PARLEY_BIN's tree. */
static void script_path(char *out, size_t cap)
{
    snprintf(out, cap, "tests/support/fhir_endpoint.mjs");
    if (access(out, R_OK) == 0) return;
    const char *bin = getenv("PARLEY_BIN"); /* <repo>/build/parley */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", bin ? bin : "");
    for (int i = 0; i < 2; i++) {
        char *slash = strrchr(tmp, '/');
        if (slash) *slash = 0;
    }
    snprintf(out, cap, "%s/tests/support/fhir_endpoint.mjs", tmp);
}

/* Starts the endpoint on ep.port (0: a free one, then remembered) with extra arguments
 * (NULL-terminated), and waits until it listens. */
static void endpoint_start(const char *const *extra)
{
    char port_file[300], port_arg[16], script[700];
    snprintf(port_file, sizeof port_file, "%s/port", ep.dir);
    unlink(port_file);
    snprintf(port_arg, sizeof port_arg, "%d", ep.port);
    script_path(script, sizeof script);
    const char *argv[24] = {"node", script, "--dir", ep.dir, "--port", port_arg};
    int n = 6;
    for (int i = 0; extra && extra[i] && n < 22; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the test */
        execvp("node", (char *const *)argv);
        _exit(127);
    }
    ep.pid = pid;
    for (int waited = 0; waited < 10000; waited += 20) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            int p = 0;
            bool ok = fscanf(f, "%d", &p) == 1 && p > 0;
            fclose(f);
            if (ok) {
                ep.port = p;
                return;
            }
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            ep.pid = 0;
            fail_msg("the record endpoint exited at start-up (status %d)", status);
        }
        sleep_ms(20);
    }
    fail_msg("the record endpoint did not start listening");
}

/* SIGKILL and reap: an outage, not a shutdown. */
static void endpoint_kill(void)
{
    if (ep.pid <= 0) return;
    kill(ep.pid, SIGKILL);
    waitpid(ep.pid, NULL, 0);
    ep.pid = 0;
}

/* A fresh directory for the endpoint's files (stored.jsonl, requests.jsonl), the port kept. */
static void endpoint_fresh_dir(void)
{
    if (ep.dir[0]) pl_test_rmtree(ep.dir);
    const char *tmp = getenv("TMPDIR");
    snprintf(ep.dir, sizeof ep.dir, "%s/parley-fhir-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(ep.dir));
}

/* Lines of DIR/name (requests.jsonl or stored.jsonl) that contain needle (NULL: all). */
static int endpoint_lines(const char *name, const char *needle)
{
    char path[300], line[8192];
    snprintf(path, sizeof path, "%s/%s", ep.dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (!needle || strstr(line, needle)) n++;
    fclose(f);
    return n;
}

/* "identifier":"urn:parley:filing|<id>" as the endpoint writes it, for endpoint_lines. */
static const char *ident_of(json_int_t filing)
{
    static char buf[96];
    snprintf(buf, sizeof buf, "\"identifier\":\"urn:parley:filing|%lld\"", (long long)filing);
    return buf;
}

/* ---- the server ---- */

static int start_group(int max_attempts)
{
    memset(&ep, 0, sizeof ep);
    endpoint_fresh_dir();
    endpoint_start(NULL); /* picks the port the server is told about */
    static char url[64], max[16];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ep.port);
    snprintf(max, sizeof max, "%d", max_attempts);
    const char *args[] = {"--record-fhir-url", url, "--record-retry-base-s", "1",
                          "--record-max-attempts", max, NULL};
    return pl_fixture_start(&fx, args);
}

static const char *server_args[8];

static int group_keep_trying(void **state)
{
    int rc = start_group(10);
    static char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ep.port);
    const char *a[] = {"--record-fhir-url", url, "--record-retry-base-s", "1",
                       "--record-max-attempts", "10", NULL};
    memcpy(server_args, a, sizeof a);
    return rc;
}

static int group_give_up(void **state)
{
    return start_group(3);
}

static int group_stop(void **state)
{
    /* PARLEY_TEST_KEEP: show what the sender said, to read alongside a failure. */
    if (getenv("PARLEY_TEST_KEEP") && fx.srv) {
        char path[600], line[2048];
        snprintf(path, sizeof path, "%s/server.log", pl_test_server_dir(fx.srv));
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f))
            if (strstr(line, "\"outbox\"") || strstr(line, "\"lws\"")) fputs(line, stderr);
        if (f) fclose(f);
    }
    pl_fixture_stop(&fx);
    endpoint_kill();
    if (ep.dir[0]) pl_test_rmtree(ep.dir);
    return 0;
}

/* ---- filing ---- */

/* Ann asks something; Dr Patel files the conversation. The filing's id. *org gets the
 * practice's id if not NULL. */
static json_int_t file_one(const char *subject, json_int_t *org)
{
    pl_pc_t *ann = cfx_open_as(&fx, "ann.taylor"), *gp = cfx_open_as(&fx, "dr.patel");
    json_t *r = cfx_ok(pl_pc_callf(ann, T, "{ss ss ss ss ss}", "type", "conversation.create",
                                   "txn_id", cfx_txn(), "kind", "clinical", "subject", subject,
                                   "body", "A rash on my arm for three days"));
    json_t *conv = json_object_get(r, "conversation");
    json_int_t cid = cfx_jint(conv, "id");
    if (org) *org = cfx_jint(conv, "org_id");
    json_decref(r);
    r = cfx_ok(pl_pc_callf(gp, T, "{ss sI}", "type", "conversation.file", "conversation_id", cid));
    json_int_t fid = cfx_jint(json_object_get(r, "filing"), "id");
    json_decref(r);
    pl_pc_destroy(ann);
    pl_pc_destroy(gp);
    return fid;
}

static const char *outbox_status(json_int_t filing, char *buf, size_t cap)
{
    if (cfx_db_read_text(&fx, "SELECT status FROM outbox WHERE filing_id = ?", filing, buf, cap) <
        0)
        snprintf(buf, cap, "?");
    return buf;
}

static int64_t outbox_int(const char *column, json_int_t filing)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT %s FROM outbox WHERE filing_id = ?", column);
    return cfx_db_int(&fx, sql, filing);
}

/* Waits (up to WAIT_MS) until the filing's outbox entry has this status. */
static void wait_status(json_int_t filing, const char *want)
{
    char got[16] = "";
    for (int waited = 0; waited < WAIT_MS; waited += 100) {
        if (!strcmp(outbox_status(filing, got, sizeof got), want)) return;
        sleep_ms(100);
    }
    fail_msg("filing %lld: outbox status %s, wanted %s after %d ms", (long long)filing, got, want,
             WAIT_MS);
}

/* Waits until the filing has been tried at least n times. */
static void wait_attempts(json_int_t filing, int n)
{
    for (int waited = 0; waited < WAIT_MS; waited += 50) {
        if (outbox_int("attempts", filing) >= n) return;
        sleep_ms(50);
    }
    fail_msg("filing %lld was not tried %d times", (long long)filing, n);
}

/* record.outbox for org, as user: the reply (the caller decrefs). */
static json_t *summary_as(const char *user, json_int_t org)
{
    pl_pc_t *c = cfx_open_as(&fx, user);
    json_t *r = org ? pl_pc_callf(c, T, "{ss sI}", "type", "record.outbox", "org_id", org)
                    : pl_pc_callf(c, T, "{ss}", "type", "record.outbox");
    pl_pc_destroy(c);
    return r;
}

/* ---- the group that keeps trying ---- */

static void test_a_filing_is_delivered_once_after_the_endpoint_fails_three_times(void **s)
{
    endpoint_kill();
    endpoint_fresh_dir();
    const char *fail3[] = {"--fail-first", "3", NULL};
    endpoint_start(fail3);
    long long sent = cfx_metric(&fx, "parley_outbox_sent_total");
    long long failed = cfx_metric(&fx, "parley_outbox_failed_attempts_total");
    json_int_t org = 0, fid = file_one("Rash", &org);
    wait_status(fid, "sent");
    assert_int_equal(outbox_int("attempts", fid), 4);
    /* Stored once, after three refusals: four requests, each a conditional create of this
     * filing's Bundle as FHIR JSON. */
    assert_int_equal(endpoint_lines("stored.jsonl", ident_of(fid)), 1);
    assert_int_equal(endpoint_lines("requests.jsonl", NULL), 4);
    assert_int_equal(endpoint_lines("requests.jsonl", "\"status\":503"), 3);
    assert_int_equal(endpoint_lines("requests.jsonl", "\"status\":201"), 1);
    assert_int_equal(endpoint_lines("requests.jsonl", "\"content_type\":\"application/fhir+json\""),
                     4);
    char ine[96];
    snprintf(ine, sizeof ine, "\"if_none_exist\":\"identifier=urn:parley:filing|%lld\"",
             (long long)fid);
    assert_int_equal(endpoint_lines("requests.jsonl", ine), 4);
    assert_int_equal(endpoint_lines("requests.jsonl", "\"path\":\"/Bundle\""), 4);
    assert_int_equal(cfx_metric(&fx, "parley_outbox_sent_total"), sent + 1);
    assert_int_equal(cfx_metric(&fx, "parley_outbox_failed_attempts_total"), failed + 3);
    /* The practice sees it went. */
    json_t *r = cfx_ok(summary_as("reception.jones", org));
    assert_int_equal(cfx_jint(r, "pending"), 0);
    assert_int_equal(cfx_jint(r, "dead"), 0);
    assert_true(cfx_jint(r, "sent") >= 1);
    json_decref(r);
    /* A delivered entry keeps no error. */
    char err[64];
    assert_string_equal(cfx_db_text(&fx, "SELECT coalesce(last_error, '') FROM outbox WHERE "
                                         "filing_id = ?",
                                    fid, err, sizeof err),
                        "");
}

static void test_a_delivery_whose_answer_was_lost_is_sent_again_and_kept_once(void **s)
{
    endpoint_kill();
    endpoint_fresh_dir();
    const char *lose[] = {"--lose-first", "1", NULL};
    endpoint_start(lose);
    json_int_t fid = file_one("Cough", NULL);
    wait_status(fid, "sent");
    /* The endpoint stored it the first time, hung up before answering, and answered the retry
     * with 200: one copy. */
    assert_int_equal(endpoint_lines("stored.jsonl", ident_of(fid)), 1);
    assert_int_equal(endpoint_lines("requests.jsonl", "\"status\":-1"), 1);
    assert_int_equal(endpoint_lines("requests.jsonl", "\"status\":200"), 1);
    assert_int_equal(outbox_int("attempts", fid), 2);
}

static void test_an_endpoint_killed_mid_run_gets_everything_once_when_it_is_back(void **s)
{
    endpoint_kill();
    endpoint_fresh_dir();
    endpoint_start(NULL);
    json_int_t first = file_one("Before the outage", NULL);
    wait_status(first, "sent");
    endpoint_kill();
    json_int_t during[3];
    for (int i = 0; i < 3; i++) during[i] = file_one("During the outage", NULL);
    for (int i = 0; i < 3; i++) wait_attempts(during[i], 1); /* refused: nobody listening */
    char st[16];
    for (int i = 0; i < 3; i++) assert_string_equal(outbox_status(during[i], st, sizeof st), "pending");
    char err[96];
    cfx_db_text(&fx, "SELECT last_error FROM outbox WHERE filing_id = ?", during[0], err,
                sizeof err);
    assert_non_null(strstr(err, "connection"));
    endpoint_start(NULL); /* the same port and the same store */
    for (int i = 0; i < 3; i++) wait_status(during[i], "sent");
    assert_int_equal(endpoint_lines("stored.jsonl", ident_of(first)), 1);
    for (int i = 0; i < 3; i++) assert_int_equal(endpoint_lines("stored.jsonl", ident_of(during[i])), 1);
    assert_int_equal(endpoint_lines("stored.jsonl", NULL), 4);
}

static void test_entries_pending_when_the_server_is_killed_are_delivered_after_restart(void **s)
{
    endpoint_kill();
    endpoint_fresh_dir();
    json_int_t fid[2];
    for (int i = 0; i < 2; i++) fid[i] = file_one("Pending at the crash", NULL);
    for (int i = 0; i < 2; i++) wait_attempts(fid[i], 1);
    pl_test_server_kill(fx.srv);
    endpoint_start(NULL);
    assert_int_equal(pl_fixture_restart(&fx, server_args), 0);
    for (int i = 0; i < 2; i++) wait_status(fid[i], "sent");
    for (int i = 0; i < 2; i++) assert_int_equal(endpoint_lines("stored.jsonl", ident_of(fid[i])), 1);
    assert_int_equal(endpoint_lines("stored.jsonl", NULL), 2);
    /* The restarted server's gauge has caught up: nothing waits. */
    for (int waited = 0; waited < 5000 && cfx_metric(&fx, "parley_outbox_pending") != 0;
         waited += 100)
        sleep_ms(100);
    assert_int_equal(cfx_metric(&fx, "parley_outbox_pending"), 0);
}

/* ---- the group that gives up after three tries ---- */

static void test_an_endpoint_that_always_fails_dead_letters_after_max_attempts(void **s)
{
    endpoint_kill();
    endpoint_fresh_dir();
    const char *down[] = {"--always", "503", NULL};
    endpoint_start(down);
    long long dead = cfx_metric(&fx, "parley_outbox_dead_total");
    long long failed = cfx_metric(&fx, "parley_outbox_failed_attempts_total");
    json_int_t org = 0, fid = file_one("Never arrives", &org);
    wait_status(fid, "dead");
    assert_int_equal(outbox_int("attempts", fid), 3);
    char err[96];
    assert_string_equal(
        cfx_db_text(&fx, "SELECT last_error FROM outbox WHERE filing_id = ?", fid, err, sizeof err),
        "HTTP 503");
    assert_int_equal(endpoint_lines("requests.jsonl", NULL), 3);
    assert_int_equal(endpoint_lines("stored.jsonl", NULL), 0);
    assert_int_equal(cfx_metric(&fx, "parley_outbox_dead_total"), dead + 1);
    assert_int_equal(cfx_metric(&fx, "parley_outbox_failed_attempts_total"), failed + 3);
    /* The practice's staff see it; a dead entry is not tried again. */
    json_t *r = cfx_ok(summary_as("reception.jones", org));
    assert_int_equal(cfx_jint(r, "dead"), 1);
    assert_int_equal(cfx_jint(r, "pending"), 0);
    assert_true(json_is_true(json_object_get(r, "enabled")));
    json_decref(r);
    sleep_ms(2500);
    assert_int_equal(endpoint_lines("requests.jsonl", NULL), 3);
}

static void test_a_bundle_refused_with_422_is_dead_at_once(void **s)
{
    endpoint_kill();
    endpoint_fresh_dir();
    const char *refuse[] = {"--always", "422", NULL};
    endpoint_start(refuse);
    json_int_t org = 0, fid = file_one("Refused", &org);
    wait_status(fid, "dead");
    assert_int_equal(outbox_int("attempts", fid), 1);
    char err[96];
    cfx_db_text(&fx, "SELECT last_error FROM outbox WHERE filing_id = ?", fid, err, sizeof err);
    assert_non_null(strstr(err, "HTTP 422"));
    assert_int_equal(endpoint_lines("requests.jsonl", NULL), 1);
    /* Two dead now (the previous test's and this one), for staff who do not name the org. */
    json_t *r = cfx_ok(summary_as("dr.patel", 0));
    assert_int_equal(cfx_jint(r, "dead"), 2);
    assert_int_equal(cfx_jint(r, "org_id"), org);
    json_decref(r);
}

static void test_record_outbox_is_for_the_practice_team_only(void **s)
{
    json_int_t org = 0;
    json_t *r = cfx_ok(summary_as("admin.smith", 0));
    org = cfx_jint(r, "org_id");
    json_decref(r);
    /* Another practice's GP, the patient, and a bad org_id are refused. */
    cfx_refused(summary_as("dr.hughes", org), "forbidden", NULL);
    cfx_refused(summary_as("ann.taylor", org), "forbidden", NULL);
    cfx_refused(summary_as("ann.taylor", 0), "forbidden", NULL);
    pl_pc_t *c = cfx_open_as(&fx, "admin.smith");
    cfx_refused(pl_pc_callf(c, T, "{ss ss}", "type", "record.outbox", "org_id", "1"),
                "bad_request", NULL);
    pl_pc_destroy(c);
}

/* ---- over HTTPS, with a bearer token and a client certificate ---- */

static char pki[256];      /* the test's CA, the endpoint's and Parley's certificates */
static const char *tls_args[16];

/* Runs a shell command (openssl), asserting it worked. */
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0) fail_msg("command failed (%d): %s", rc, cmd);
}

static int group_tls(void **state)
{
    memset(&ep, 0, sizeof ep);
    const char *tmp = getenv("TMPDIR");
    snprintf(pki, sizeof pki, "%s/parley-pki-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(pki)) return -1;
    /* A CA; the endpoint's certificate for localhost; Parley's client certificate. */
    sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
       "-subj /CN=parley-test-ca -keyout ca.key -out ca.crt 2>/dev/null && "
       "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost "
       "-keyout server.key -out server.csr 2>/dev/null && "
       "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext && "
       "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
       "-extfile server.ext -out server.crt 2>/dev/null && "
       "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=parley-test "
       "-keyout client.key -out client.csr 2>/dev/null && "
       "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
       "-out client.crt 2>/dev/null && "
       "printf 'test-token-5f1c\\n' > token && chmod 600 token client.key",
       pki);
    endpoint_fresh_dir();
    char cert[300], key[300], ca[300];
    snprintf(cert, sizeof cert, "%s/server.crt", pki);
    snprintf(key, sizeof key, "%s/server.key", pki);
    snprintf(ca, sizeof ca, "%s/ca.crt", pki);
    const char *extra[] = {"--cert", cert, "--key", key, "--client-ca", ca, "--token",
                           "test-token-5f1c", NULL};
    endpoint_start(extra);
    /* A host name, not an address: the lookup, SNI and the certificate's name are used. */
    static char url[64], ca_f[300], crt_f[300], key_f[300], tok_f[300];
    snprintf(url, sizeof url, "https://localhost:%d/", ep.port);
    snprintf(ca_f, sizeof ca_f, "%s/ca.crt", pki);
    snprintf(crt_f, sizeof crt_f, "%s/client.crt", pki);
    snprintf(key_f, sizeof key_f, "%s/client.key", pki);
    snprintf(tok_f, sizeof tok_f, "%s/token", pki);
    const char *a[] = {"--record-fhir-url", url, "--record-ca-file", ca_f,
                       "--record-client-cert-file", crt_f, "--record-client-key-file", key_f,
                       "--record-bearer-token-file", tok_f, "--record-retry-base-s", "1", NULL};
    memcpy(tls_args, a, sizeof a);
    return pl_fixture_start(&fx, tls_args);
}

static int group_tls_stop(void **state)
{
    group_stop(state);
    if (pki[0]) pl_test_rmtree(pki);
    return 0;
}

static void test_a_filing_is_delivered_over_mutual_tls_with_the_bearer_token(void **s)
{
    json_int_t fid = file_one("Over TLS", NULL);
    wait_status(fid, "sent");
    assert_int_equal(endpoint_lines("stored.jsonl", ident_of(fid)), 1);
    assert_int_equal(endpoint_lines("requests.jsonl", NULL), 1);
    assert_int_equal(endpoint_lines("requests.jsonl", "\"bearer_ok\":true"), 1);
    assert_int_equal(endpoint_lines("requests.jsonl", "\"client_cert\":\"parley-test\""), 1);
    /* The token is in no log line. */
    char path[600], line[4096];
    snprintf(path, sizeof path, "%s/server.log", pl_test_server_dir(fx.srv));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) assert_null(strstr(line, "test-token-5f1c"));
    fclose(f);
}

static void test_an_untrusted_endpoint_certificate_is_not_sent_to(void **s)
{
    /* The endpoint now presents a certificate Parley's CA did not issue. */
    endpoint_kill();
    sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
       "-subj /CN=localhost -addext subjectAltName=DNS:localhost -keyout rogue.key "
       "-out rogue.crt 2>/dev/null",
       pki);
    char cert[300], key[300];
    snprintf(cert, sizeof cert, "%s/rogue.crt", pki);
    snprintf(key, sizeof key, "%s/rogue.key", pki);
    const char *extra[] = {"--cert", cert, "--key", key, NULL};
    endpoint_start(extra);
    int before = endpoint_lines("requests.jsonl", NULL);
    json_int_t fid = file_one("Not to a stranger", NULL);
    wait_attempts(fid, 1);
    char st[16];
    assert_string_equal(outbox_status(fid, st, sizeof st), "pending");
    assert_int_equal(endpoint_lines("requests.jsonl", NULL), before); /* nothing reached it */
}

static void test_a_token_file_others_can_read_stops_the_server(void **s)
{
    char tok[300];
    snprintf(tok, sizeof tok, "%s/token", pki);
    assert_true(pl_test_server_stop(fx.srv) >= 0);
    assert_int_equal(chmod(tok, 0640), 0);
    assert_true(pl_fixture_restart(&fx, tls_args) < 0);
    assert_int_equal(chmod(tok, 0600), 0);
    assert_int_equal(pl_fixture_restart(&fx, tls_args), 0);
}

int main(void)
{
    const struct CMUnitTest keep_trying[] = {
        cmocka_unit_test(test_a_filing_is_delivered_once_after_the_endpoint_fails_three_times),
        cmocka_unit_test(test_a_delivery_whose_answer_was_lost_is_sent_again_and_kept_once),
        cmocka_unit_test(test_an_endpoint_killed_mid_run_gets_everything_once_when_it_is_back),
        cmocka_unit_test(test_entries_pending_when_the_server_is_killed_are_delivered_after_restart),
    };
    const struct CMUnitTest give_up[] = {
        cmocka_unit_test(test_an_endpoint_that_always_fails_dead_letters_after_max_attempts),
        cmocka_unit_test(test_a_bundle_refused_with_422_is_dead_at_once),
        cmocka_unit_test(test_record_outbox_is_for_the_practice_team_only),
    };
    int failed = cmocka_run_group_tests_name("outbox, keep trying", keep_trying,
                                             group_keep_trying, group_stop);
    failed += cmocka_run_group_tests_name("outbox, give up", give_up, group_give_up, group_stop);
    const struct CMUnitTest over_tls[] = {
        cmocka_unit_test(test_a_filing_is_delivered_over_mutual_tls_with_the_bearer_token),
        cmocka_unit_test(test_an_untrusted_endpoint_certificate_is_not_sent_to),
        cmocka_unit_test(test_a_token_file_others_can_read_stops_the_server),
    };
    failed += cmocka_run_group_tests_name("outbox, over TLS", over_tls, group_tls, group_tls_stop);
    return failed;
}
