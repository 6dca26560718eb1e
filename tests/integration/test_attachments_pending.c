/* Integration: uploads waiting to be sent, against the real server binary (PROTOCOL section
 * 10.2 and 10.7). Two groups, each with its own server: one allows two uploads waiting per
 * person (--attachment-pending-max 2), so the third is refused and stores nothing until one is
 * sent; the other deletes uploads not sent within 2 s (--attachment-unsent-ttl-s 2), so the
 * sweep can be watched taking an unsent upload, its blob and its link, and leaving a sent one.
 * test_attachments.c covers the rest of attachments. */
#include "tests/support/attach_files.h"
#include "tests/support/consult_fx.h"
#include "tests/support/https.h"

#include <stdbool.h>
#include <unistd.h>

#define T CFX_T

static pl_fixture_t fx;

typedef struct {
    char token[128];
    pl_pc_t *ws;
} user_t;

static user_t sign_in(const char *username)
{
    user_t u;
    memset(&u, 0, sizeof u);
    assert_int_equal(pl_pc_login(fx.port, username, pl_fixture_password(&fx, username), NULL,
                                 u.token, sizeof u.token, NULL),
                     200);
    assert_int_equal(pl_pc_connect(&u.ws, fx.port, u.token, NULL), 0);
    return u;
}

static json_int_t new_request(user_t *patient)
{
    json_t *r = cfx_ok(pl_pc_callf(patient->ws, T, "{ss ss ss ss ss}", "type",
                                   "conversation.create", "txn_id", cfx_txn(), "kind", "clinical",
                                   "subject", "A rash", "body", "Photos to follow"));
    json_int_t id = cfx_jint(json_object_get(r, "conversation"), "id");
    json_decref(r);
    return id;
}

/* POSTs a PNG (made from salt) to conv with the file name header fname (NULL: none). */
static void upload(const char *token, json_int_t conv, uint8_t salt, const char *fname,
                   pl_http_resp_t *r)
{
    char path[96], hdr[512];
    afx_file_t f;
    afx_png(&f, salt);
    snprintf(path, sizeof path, "/api/v1/conversations/%lld/attachments", (long long)conv);
    snprintf(hdr, sizeof hdr,
             "Cookie: parley_session=%s\r\nContent-Type: image/png\r\nX-Parley-Upload: 1\r\n"
             "%s%s%s",
             token, fname ? "X-Filename: " : "", fname ? fname : "", fname ? "\r\n" : "");
    assert_int_equal(
        pl_https_request("127.0.0.1", fx.port, "POST", path, hdr, (const char *)f.b, f.n, 30000, r),
        0);
}

/* A good upload: its attachment id. */
static json_int_t upload_ok(const char *token, json_int_t conv, uint8_t salt, const char *fname)
{
    pl_http_resp_t r;
    upload(token, conv, salt, fname, &r);
    if (r.status != 201) print_error("upload: %d %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    json_t *b = json_loads(r.body, 0, NULL);
    json_int_t id = cfx_jint(json_object_get(b, "attachment"), "id");
    json_decref(b);
    pl_http_resp_free(&r);
    return id;
}

/* error.code and error.message of a refusal, copied into code and msg. */
static void refusal(const pl_http_resp_t *r, char code[32], char msg[256])
{
    json_t *b = json_loads(r->body, 0, NULL);
    json_t *e = json_object_get(b, "error");
    const char *c = json_string_value(json_object_get(e, "code"));
    const char *m = json_string_value(json_object_get(e, "message"));
    snprintf(code, 32, "%s", c ? c : "");
    snprintf(msg, 256, "%s", m ? m : "");
    json_decref(b);
}

static json_t *send_with(user_t *u, json_int_t conv, json_int_t id)
{
    return pl_pc_callf(u->ws, T, "{ss sI ss ss s[I]}", "type", "conversation.send",
                       "conversation_id", conv, "txn_id", cfx_txn(), "body", "See attached",
                       "attachment_ids", id);
}

static int64_t rows(const char *table)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return cfx_db_int(&fx, sql, 0);
}

static int group_stop(void **state)
{
    pl_fixture_stop(&fx);
    return 0;
}

/* ---- the cap on uploads waiting to be sent ---- */

static int group_cap_start(void **state)
{
    const char *args[] = {"--attachment-pending-max", "2", NULL};
    return pl_fixture_start(&fx, args);
}

static void test_a_third_unsent_upload_is_refused_until_one_is_sent(void **s)
{
    user_t ann = sign_in("ann.taylor"), robert = sign_in("robert.green");
    json_int_t conv = new_request(&ann), other = new_request(&ann);
    json_int_t first = upload_ok(ann.token, conv, 1, NULL);
    upload_ok(ann.token, other, 2, NULL); /* the cap is per person, across conversations */
    int64_t atts = rows("attachments"), blobs = rows("blobs");
    long long limited = cfx_metric(&fx, "parley_rate_limited_total");
    /* A third, of new bytes, to either conversation: refused, and nothing stored. */
    json_int_t convs[2] = {conv, other};
    for (int i = 0; i < 2; i++) {
        pl_http_resp_t r;
        upload(ann.token, convs[i], 3, NULL, &r);
        assert_int_equal(r.status, 429);
        char code[32], msg[256];
        refusal(&r, code, msg);
        assert_string_equal(code, "rate_limited");
        assert_string_equal(msg, "you have 2 files waiting to be sent: send them on a message, "
                                 "or wait a day for them to be cleared");
        /* Waiting alone clears the oldest within a day and one sweep (an hour). */
        char *ra = pl_http_resp_header(&r, "retry-after");
        assert_non_null(ra);
        assert_string_equal(ra, "90000");
        free(ra);
        pl_http_resp_free(&r);
    }
    /* A large one is refused as its body starts, not after 10 MiB: no body is sent at all. */
    pl_tls_t *t = NULL;
    char head[512], got[2048];
    snprintf(head, sizeof head,
             "POST /api/v1/conversations/%lld/attachments HTTP/1.1\r\nHost: localhost\r\n"
             "Cookie: parley_session=%s\r\nContent-Type: image/png\r\nX-Parley-Upload: 1\r\n"
             "Content-Length: 10000000\r\n\r\n",
             (long long)conv, ann.token);
    assert_int_equal(pl_tls_connect(&t, "127.0.0.1", fx.port, T), 0);
    assert_int_equal(pl_tls_write(t, head, strlen(head)), 0);
    int n = pl_tls_read(t, got, sizeof got - 1, T);
    assert_true(n > 0);
    got[n] = 0;
    assert_non_null(strstr(got, "HTTP/1.1 429"));
    pl_tls_destroy(t);
    assert_int_equal(rows("attachments"), atts);
    assert_int_equal(rows("blobs"), blobs);
    assert_int_equal(cfx_metric(&fx, "parley_rate_limited_total"), limited + 3);
    /* Someone else is not held back by Ann's uploads. */
    upload_ok(robert.token, new_request(&robert), 4, NULL);
    /* One of Ann's goes on a message: there is room for one more, and only one. */
    json_decref(cfx_ok(send_with(&ann, conv, first)));
    upload_ok(ann.token, conv, 3, NULL);
    pl_http_resp_t r;
    upload(ann.token, conv, 5, NULL, &r);
    assert_int_equal(r.status, 429);
    pl_http_resp_free(&r);
    pl_pc_destroy(ann.ws);
    pl_pc_destroy(robert.ws);
}

/* ---- the sweep of uploads never sent ---- */

static int group_sweep_start(void **state)
{
    const char *args[] = {"--attachment-unsent-ttl-s", "2", NULL};
    return pl_fixture_start(&fx, args);
}

/* Whether the server's log has a line containing needle. */
static bool log_has(const char *needle)
{
    char path[600], line[4096];
    snprintf(path, sizeof path, "%s/server.log", pl_test_server_dir(fx.srv));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void test_an_unsent_upload_is_deleted_after_its_ttl_and_a_sent_one_stays(void **s)
{
    user_t ann = sign_in("ann.taylor");
    json_int_t conv = new_request(&ann);
    long long swept = cfx_metric(&fx, "parley_attachments_swept_total");
    int64_t blobs = rows("blobs");
    /* Sent at once, well inside the 2 s. */
    json_int_t sent = upload_ok(ann.token, conv, 1, NULL);
    json_decref(cfx_ok(send_with(&ann, conv, sent)));
    json_int_t unsent = upload_ok(ann.token, conv, 2, "Unsent%20rash%20photo.png");
    assert_int_equal(rows("blobs"), blobs + 2);
    json_t *u = cfx_ok(
        pl_pc_callf(ann.ws, T, "{ss sI}", "type", "attachment.url", "attachment_id", unsent));
    char url[200];
    snprintf(url, sizeof url, "%s", cfx_jstr(u, "url"));
    json_decref(u);
    /* Swept within the TTL and one sweep interval (1 s here), plus slack. */
    int64_t left = 1;
    for (int i = 0; i < 100 && left; i++) {
        usleep(100 * 1000);
        left = cfx_db_int(&fx, "SELECT count(*) FROM attachments WHERE id = ?", unsent);
    }
    assert_int_equal(left, 0);
    assert_int_equal(cfx_db_int(&fx, "SELECT count(*) FROM attachments WHERE id = ?", sent), 1);
    assert_int_equal(rows("blobs"), blobs + 1); /* its bytes went with it */
    /* Its link, still within its 60 s, finds nothing; a new one is refused; it cannot be sent. */
    char hdr[200];
    snprintf(hdr, sizeof hdr, "Cookie: parley_session=%s\r\n", ann.token);
    pl_http_resp_t r;
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "GET", url, hdr, NULL, 0, T, &r), 0);
    assert_int_equal(r.status, 404);
    char code[32], msg[256];
    refusal(&r, code, msg);
    assert_string_equal(code, "not_found");
    pl_http_resp_free(&r);
    cfx_refused(
        pl_pc_callf(ann.ws, T, "{ss sI}", "type", "attachment.url", "attachment_id", unsent),
        "not_found", NULL);
    cfx_refused(send_with(&ann, conv, unsent), "bad_request", NULL);
    /* The sent one still opens. */
    u = cfx_ok(pl_pc_callf(ann.ws, T, "{ss sI}", "type", "attachment.url", "attachment_id", sent));
    assert_int_equal(
        pl_https_request("127.0.0.1", fx.port, "GET", cfx_jstr(u, "url"), hdr, NULL, 0, T, &r), 0);
    assert_int_equal(r.status, 200);
    pl_http_resp_free(&r);
    json_decref(u);
    /* Counted, and logged as a number: never the file's name. */
    assert_int_equal(cfx_metric(&fx, "parley_attachments_swept_total"), swept + 1);
    bool logged = false;
    for (int i = 0; i < 20 && !logged; i++) {
        logged = log_has("deleted 1 uploads never sent on a message");
        if (!logged) usleep(100 * 1000);
    }
    assert_true(logged);
    assert_false(log_has("Unsent rash"));
    pl_pc_destroy(ann.ws);
}

int main(void)
{
    const struct CMUnitTest cap[] = {
        cmocka_unit_test(test_a_third_unsent_upload_is_refused_until_one_is_sent),
    };
    const struct CMUnitTest sweep[] = {
        cmocka_unit_test(test_an_unsent_upload_is_deleted_after_its_ttl_and_a_sent_one_stays),
    };
    int failed = cmocka_run_group_tests_name("pending cap", cap, group_cap_start, group_stop);
    failed += cmocka_run_group_tests_name("sweep", sweep, group_sweep_start, group_stop);
    return failed;
}
