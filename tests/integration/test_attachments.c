/* Integration: attachments end to end against the real server binary. Uploads over REST (each
 * of the four types, and every kind of bad input, which must store nothing), putting them on a
 * message over the WebSocket, signed download links (the right user, expiry, tampering, a
 * right revoked after the link was issued), dedupe, and who may upload where. One server for
 * the group, with download links valid for 2 s so that expiry can be watched. */
#include "tests/support/attach_files.h"
#include "tests/support/consult_fx.h"
#include "tests/support/https.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#define T CFX_T
#define TTL_S 2

static pl_fixture_t fx;

static int group_setup(void **state)
{
    const char *args[] = {"--rate-limit-per-sec",
                          "500",
                          "--rate-limit-burst",
                          "200",
                          "--attachment-url-ttl-s",
                          "2",
                          NULL};
    return pl_fixture_start(&fx, args);
}

static int group_teardown(void **state)
{
    pl_fixture_stop(&fx);
    return 0;
}

/* A signed-in user: their REST token and their WebSocket client. */
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

static void sign_out(user_t *u)
{
    pl_pc_destroy(u->ws);
}

/* A new request from a patient; its conversation id. */
static json_int_t new_request(user_t *patient)
{
    json_t *r = cfx_ok(pl_pc_callf(patient->ws, T, "{ss ss ss ss ss}", "type",
                                   "conversation.create", "txn_id", cfx_txn(), "kind", "clinical",
                                   "subject", "A rash", "body", "Photos to follow"));
    json_int_t id = cfx_jint(json_object_get(r, "conversation"), "id");
    json_decref(r);
    return id;
}

/* POSTs data as an upload with the usual headers plus extra (CRLF lines, may be NULL). */
static int upload_raw(const char *token, json_int_t conv, const char *ctype, const void *data,
                      size_t len, const char *extra, pl_http_resp_t *r)
{
    char path[96], hdr[1024];
    snprintf(path, sizeof path, "/api/v1/conversations/%lld/attachments", (long long)conv);
    snprintf(hdr, sizeof hdr, "Cookie: parley_session=%s\r\nContent-Type: %s\r\n%s", token, ctype,
             extra ? extra : "X-Parley-Upload: 1\r\n");
    return pl_https_request("127.0.0.1", fx.port, "POST", path, hdr, data ? data : "", len, 30000,
                            r);
}

static const char *err_code(const pl_http_resp_t *r)
{
    json_t *b = json_loads(r->body, 0, NULL);
    static char code[32];
    snprintf(code, sizeof code, "%s",
             json_string_value(json_object_get(json_object_get(b, "error"), "code"))
                 ? json_string_value(json_object_get(json_object_get(b, "error"), "code"))
                 : "");
    json_decref(b);
    return code;
}

/* Uploads and asserts the answer is status with (for errors) code. */
static void upload_expect(const char *token, json_int_t conv, const char *ctype, const void *data,
                          size_t len, const char *extra, int status, const char *code)
{
    pl_http_resp_t r;
    assert_int_equal(upload_raw(token, conv, ctype, data, len, extra, &r), 0);
    if (r.status != status) print_error("got %d %s\n", r.status, r.body);
    assert_int_equal(r.status, status);
    if (code) assert_string_equal(err_code(&r), code);
    pl_http_resp_free(&r);
}

/* Uploads a good file; returns the attachment object (caller decrefs). */
static json_t *upload_ok(const char *token, json_int_t conv, const char *ctype, const afx_file_t *f,
                         const char *filename_hdr)
{
    pl_http_resp_t r;
    assert_int_equal(upload_raw(token, conv, ctype, f->b, f->n, filename_hdr, &r), 0);
    if (r.status != 201) print_error("upload: %d %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    json_t *b = json_loads(r.body, 0, NULL);
    json_t *a = json_incref(json_object_get(b, "attachment"));
    json_decref(b);
    pl_http_resp_free(&r);
    assert_non_null(a);
    assert_string_equal(cfx_jstr(a, "content_type"), ctype);
    assert_int_equal(cfx_jint(a, "size"), (json_int_t)f->n);
    assert_int_equal(strlen(cfx_jstr(a, "sha256")), 64);
    return a;
}

static int64_t rows(const char *table)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return cfx_db_int(&fx, sql, 0);
}

/* attachment.url as u; the url (copied into out). */
static void link_for(user_t *u, json_int_t att, char *out, size_t cap)
{
    json_t *r =
        cfx_ok(pl_pc_callf(u->ws, T, "{ss sI}", "type", "attachment.url", "attachment_id", att));
    snprintf(out, cap, "%s", cfx_jstr(r, "url"));
    assert_true(cfx_jint(r, "expires_at") > (json_int_t)time(NULL) * 1000);
    json_decref(r);
}

static int download(const char *token, const char *url, pl_http_resp_t *r)
{
    char hdr[256] = "";
    if (token) snprintf(hdr, sizeof hdr, "Cookie: parley_session=%s\r\n", token);
    return pl_https_request("127.0.0.1", fx.port, "GET", url, hdr, NULL, 0, T, r);
}

static void download_expect(const char *token, const char *url, int status, const char *code)
{
    pl_http_resp_t r;
    assert_int_equal(download(token, url, &r), 0);
    if (r.status != status) print_error("%s: %d %s\n", url, r.status, r.body);
    assert_int_equal(r.status, status);
    if (code) assert_string_equal(err_code(&r), code);
    pl_http_resp_free(&r);
}

/* conversation.send with attachment_ids ids[0..n); the reply (caller decrefs). */
static json_t *send_with(user_t *u, json_int_t conv, const char *txn, const json_int_t *ids, int n)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_integer(ids[i]));
    return pl_pc_callf(u->ws, T, "{ss sI ss ss so}", "type", "conversation.send", "conversation_id",
                       conv, "txn_id", txn, "body", "See attached", "attachment_ids", arr);
}

/* ---- happy paths ---- */

static void test_each_type_uploads_goes_on_a_message_and_downloads_byte_for_byte(void **s)
{
    user_t ann = sign_in("ann.taylor"), gp = sign_in("dr.patel");
    json_int_t conv = new_request(&ann);
    json_decref(pl_pc_subscribe(gp.ws, -1, T));
    long long stored = cfx_metric(&fx, "parley_attachments_stored_total");
    afx_file_t files[4];
    afx_jpeg(&files[0], 1);
    afx_png(&files[1], 1);
    afx_pdf(&files[2], 1);
    afx_heic(&files[3], 1);
    const char *types[4] = {"image/jpeg", "image/png", "application/pdf", "image/heic"};
    json_int_t ids[4];
    for (int i = 0; i < 4; i++) {
        json_t *a = upload_ok(ann.token, conv, types[i], &files[i],
                              "X-Parley-Upload: 1\r\nX-Filename: Rash%20day%202%20%E2%9C%93.x\r\n");
        assert_string_equal(cfx_jstr(a, "filename"), "Rash day 2 \xE2\x9C\x93.x");
        ids[i] = cfx_jint(a, "id");
        json_decref(a);
    }
    assert_int_equal(cfx_metric(&fx, "parley_attachments_stored_total"), stored + 4);
    json_t *r = cfx_ok(send_with(&ann, conv, cfx_txn(), ids, 4));
    json_t *att = json_object_get(json_object_get(r, "message"), "attachments");
    assert_int_equal(json_array_size(att), 4);
    json_decref(r);
    /* The practice hears of it with the attachments' metadata, never their bytes. */
    json_t *e = NULL, *ev = cfx_event(gp.ws, "message.created", &e);
    att = json_object_get(json_object_get(e, "message"), "attachments");
    assert_int_equal(json_array_size(att), 4);
    for (int i = 0; i < 4; i++) {
        json_t *a = json_array_get(att, (size_t)i);
        assert_int_equal(cfx_jint(a, "id"), ids[i]);
        assert_string_equal(cfx_jstr(a, "content_type"), types[i]);
        assert_int_equal(cfx_jint(a, "size"), (json_int_t)files[i].n);
        assert_string_equal(cfx_jstr(a, "filename"), "Rash day 2 \xE2\x9C\x93.x");
    }
    json_decref(ev);
    for (int i = 0; i < 4; i++) {
        char url[200];
        link_for(&gp, ids[i], url, sizeof url);
        pl_http_resp_t d;
        assert_int_equal(download(gp.token, url, &d), 0);
        assert_int_equal(d.status, 200);
        assert_int_equal(d.body_len, files[i].n);
        assert_memory_equal(d.body, files[i].b, files[i].n);
        char *ct = pl_http_resp_header(&d, "content-type"),
             *cd = pl_http_resp_header(&d, "content-disposition");
        char *cc = pl_http_resp_header(&d, "cache-control"),
             *csp = pl_http_resp_header(&d, "content-security-policy"),
             *nos = pl_http_resp_header(&d, "x-content-type-options");
        assert_string_equal(ct, types[i]);
        assert_string_equal(cd, "attachment; filename*=UTF-8''Rash%20day%202%20%E2%9C%93.x");
        assert_string_equal(cc, "private, no-store");
        assert_non_null(strstr(csp, "sandbox"));
        assert_string_equal(nos, "nosniff");
        free(ct);
        free(cd);
        free(cc);
        free(csp);
        free(nos);
        pl_http_resp_free(&d);
    }
    /* Staff reading a patient's attachment is audited. */
    assert_true(cfx_db_int(&fx,
                           "SELECT count(*) FROM audit WHERE action = 'attachment.read' "
                           "AND resource_id = ?",
                           ids[0]) >= 1);
    /* History carries them too, and the patient can open her own. */
    r = cfx_ok(
        pl_pc_callf(ann.ws, T, "{ss sI}", "type", "conversation.history", "conversation_id", conv));
    json_t *msgs = json_object_get(r, "messages");
    assert_int_equal(json_array_size(json_object_get(json_array_get(msgs, 1), "attachments")), 4);
    assert_null(json_object_get(json_array_get(msgs, 0), "attachments"));
    json_decref(r);
    char url[200];
    link_for(&ann, ids[1], url, sizeof url);
    download_expect(ann.token, url, 200, NULL);
    sign_out(&ann);
    sign_out(&gp);
}

static void test_same_bytes_twice_are_stored_once_and_a_retry_binds_once(void **s)
{
    user_t ann = sign_in("ann.taylor");
    json_int_t conv = new_request(&ann);
    afx_file_t f;
    afx_png(&f, 2);
    int64_t blobs = rows("blobs");
    json_t *a = upload_ok(ann.token, conv, "image/png", &f, NULL);
    json_t *b = upload_ok(ann.token, conv, "image/png", &f, NULL);
    assert_string_equal(cfx_jstr(a, "sha256"), cfx_jstr(b, "sha256"));
    assert_string_equal(cfx_jstr(a, "filename"), "attachment"); /* no X-Filename */
    assert_true(cfx_jint(a, "id") != cfx_jint(b, "id"));
    assert_int_equal(rows("blobs"), blobs + 1);
    json_int_t ids[2] = {cfx_jint(a, "id"), cfx_jint(b, "id")};
    json_decref(a);
    json_decref(b);
    char txn[64];
    snprintf(txn, sizeof txn, "%s", cfx_txn());
    json_t *first = cfx_ok(send_with(&ann, conv, txn, ids, 2));
    /* The retry (same txn_id) is the original, attachments and all, not a new binding. */
    json_t *again = cfx_ok(send_with(&ann, conv, txn, ids, 2));
    assert_true(json_is_true(json_object_get(again, "duplicate")));
    assert_true(json_equal(json_object_get(json_object_get(first, "message"), "attachments"),
                           json_object_get(json_object_get(again, "message"), "attachments")));
    json_decref(first);
    json_decref(again);
    assert_int_equal(cfx_db_int(&fx,
                                "SELECT count(DISTINCT message_id) FROM attachments WHERE "
                                "conversation_id = ?",
                                conv),
                     1);
    sign_out(&ann);
}

/* ---- bad input ---- */

static void test_bad_files_are_refused_and_nothing_is_stored(void **s)
{
    user_t ann = sign_in("ann.taylor");
    json_int_t conv = new_request(&ann);
    int64_t blobs = rows("blobs"), atts = rows("attachments");
    long long mismatch = cfx_metric(&fx, "parley_attachments_refused_total{reason=\"mismatch\"}");
    long long zip = cfx_metric(&fx, "parley_attachments_refused_total{reason=\"zip\"}");
    long long big = cfx_metric(&fx, "parley_attachments_refused_total{reason=\"too_large\"}");
    afx_file_t f;
    afx_png(&f, 3); /* a PNG sent as a JPEG: not what it claims to be */
    upload_expect(ann.token, conv, "image/jpeg", f.b, f.n, NULL, 400, "bad_request");
    afx_pdf(&f, 3);
    upload_expect(ann.token, conv, "image/png", f.b, f.n, NULL, 400, "bad_request");
    f.n = 0; /* a bare zip, claiming to be a PDF */
    afx_append_zip(&f);
    upload_expect(ann.token, conv, "application/pdf", f.b, f.n, NULL, 400, "bad_request");
    afx_jpeg(&f, 3); /* a photo with an archive after it */
    afx_append_zip(&f);
    upload_expect(ann.token, conv, "image/jpeg", f.b, f.n, NULL, 400, "bad_request");
    afx_png(&f, 3); /* a PNG with a page of HTML after its end */
    afx_append(&f, "<html><script>alert(1)</script>", 31);
    upload_expect(ann.token, conv, "image/png", f.b, f.n, NULL, 400, "bad_request");
    afx_heic(&f, 3);
    f.n -= 3; /* cut short */
    upload_expect(ann.token, conv, "image/heic", f.b, f.n, NULL, 400, "bad_request");
    upload_expect(ann.token, conv, "image/jpeg", "", 0, NULL, 400, "bad_request");
    afx_jpeg(&f, 3);
    upload_expect(ann.token, conv, "image/gif", f.b, f.n, NULL, 400, "bad_request");
    upload_expect(ann.token, conv, "text/html", "<html>", 6, NULL, 400, "bad_request");
    /* 10 MiB and one byte: refused from its Content-Length, before the body is read. */
    size_t n = 10 * 1024 * 1024 + 1;
    uint8_t *huge = calloc(1, n);
    assert_non_null(huge);
    afx_jpeg(&f, 3);
    memcpy(huge, f.b, f.n);
    upload_expect(ann.token, conv, "image/jpeg", huge, n, NULL, 413, "too_large");
    free(huge);
    assert_int_equal(rows("blobs"), blobs);
    assert_int_equal(rows("attachments"), atts);
    assert_int_equal(cfx_metric(&fx, "parley_attachments_refused_total{reason=\"mismatch\"}"),
                     mismatch + 2);
    assert_int_equal(cfx_metric(&fx, "parley_attachments_refused_total{reason=\"zip\"}"), zip + 2);
    assert_int_equal(cfx_metric(&fx, "parley_attachments_refused_total{reason=\"too_large\"}"),
                     big + 1);
    /* The server is fine afterwards, and a good file still goes in. */
    afx_jpeg(&f, 4);
    json_decref(upload_ok(ann.token, conv, "image/jpeg", &f, NULL));
    sign_out(&ann);
}

static void test_exactly_10_mib_goes_in_and_comes_back_whole(void **s)
{
    user_t ann = sign_in("ann.taylor");
    json_int_t conv = new_request(&ann);
    /* A PDF padded with a comment to exactly the limit. */
    afx_file_t f;
    afx_pdf(&f, 5);
    size_t n = 10 * 1024 * 1024;
    uint8_t *pdf = malloc(n);
    assert_non_null(pdf);
    memcpy(pdf, f.b, 9); /* "%PDF-1.4\n" */
    size_t tail = f.n - 9;
    memset(pdf + 9, ' ', n - f.n);
    pdf[9] = '%';
    pdf[n - f.n + 8] = '\n';
    memcpy(pdf + n - tail, f.b + 9, tail);
    pl_http_resp_t r;
    assert_int_equal(upload_raw(ann.token, conv, "application/pdf", pdf, n, NULL, &r), 0);
    if (r.status != 201) print_error("%d %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    json_t *b = json_loads(r.body, 0, NULL);
    json_int_t id = cfx_jint(json_object_get(b, "attachment"), "id");
    json_decref(b);
    pl_http_resp_free(&r);
    /* Sent back in pieces as the socket drains: every byte, in order. */
    json_decref(cfx_ok(send_with(&ann, conv, cfx_txn(), &id, 1)));
    char url[200];
    link_for(&ann, id, url, sizeof url);
    assert_int_equal(download(ann.token, url, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, n);
    assert_memory_equal(r.body, pdf, n);
    pl_http_resp_free(&r);
    free(pdf);
    sign_out(&ann);
}

static void test_uploads_in_flight_are_capped_and_a_closed_request_takes_none(void **s)
{
    user_t ann = sign_in("ann.taylor"), gp = sign_in("dr.patel");
    json_int_t conv = new_request(&ann);
    /* Eight uploads whose bodies never come hold every place... */
    pl_tls_t *slow[8];
    char head[512];
    snprintf(head, sizeof head,
             "POST /api/v1/conversations/%lld/attachments HTTP/1.1\r\nHost: localhost\r\n"
             "Cookie: parley_session=%s\r\nContent-Type: image/png\r\nX-Parley-Upload: 1\r\n"
             "Content-Length: 100000\r\n\r\n",
             (long long)conv, ann.token);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pl_tls_connect(&slow[i], "127.0.0.1", fx.port, T), 0);
        assert_int_equal(pl_tls_write(slow[i], head, strlen(head)), 0);
    }
    afx_file_t f;
    afx_png(&f, 50);
    int status = 0;
    for (int tries = 0; tries < 50 && status != 503; tries++) {
        pl_http_resp_t r;
        assert_int_equal(upload_raw(ann.token, conv, "image/png", f.b, f.n, NULL, &r), 0);
        status = r.status;
        if (status == 503) assert_string_equal(err_code(&r), "unavailable");
        pl_http_resp_free(&r);
        if (status != 503) usleep(20000);
    }
    assert_int_equal(status, 503);
    /* ... until their connections go. */
    for (int i = 0; i < 8; i++)
        pl_tls_destroy(slow[i]);
    for (int tries = 0; tries < 100 && status != 201; tries++) {
        pl_http_resp_t r;
        assert_int_equal(upload_raw(ann.token, conv, "image/png", f.b, f.n, NULL, &r), 0);
        status = r.status;
        pl_http_resp_free(&r);
        if (status != 201) usleep(20000);
    }
    assert_int_equal(status, 201);
    /* A request the practice has closed takes no more from its patient, as for messages. */
    json_decref(cfx_ok(pl_pc_callf(gp.ws, T, "{ss sI ss}", "type", "conversation.set_status",
                                   "conversation_id", conv, "status", "closed")));
    upload_expect(ann.token, conv, "image/png", f.b, f.n, NULL, 409, "conflict");
    sign_out(&ann);
    sign_out(&gp);
}

static void test_upload_headers_are_checked(void **s)
{
    user_t ann = sign_in("ann.taylor");
    json_int_t conv = new_request(&ann);
    int64_t atts = rows("attachments");
    afx_file_t f;
    afx_jpeg(&f, 6);
    /* the same-site rule: the custom header, and Origin when a browser sends one */
    upload_expect(ann.token, conv, "image/jpeg", f.b, f.n, "", 403, "forbidden");
    upload_expect(ann.token, conv, "image/jpeg", f.b, f.n, "X-Parley-Upload: yes\r\n", 403,
                  "forbidden");
    upload_expect(ann.token, conv, "image/jpeg", f.b, f.n,
                  "X-Parley-Upload: 1\r\nOrigin: https://evil.example\r\n", 403, "forbidden");
    /* no session, or a made-up one */
    upload_expect("", conv, "image/jpeg", f.b, f.n, NULL, 401, "unauthorised");
    upload_expect("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", conv, "image/jpeg", f.b, f.n, NULL,
                  401, "unauthorised");
    /* file names: control characters, path separators, bad encoding, too long */
    const char *bad_names[] = {"X-Filename: a%0Ab.jpg\r\n", "X-Filename: ..%2Fetc.jpg\r\n",
                               "X-Filename: %ZZ.jpg\r\n", "X-Filename: %C0%AF.jpg\r\n",
                               "X-Filename: %E2%80%AEgpj.exe\r\n"};
    char hdr[1024];
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        snprintf(hdr, sizeof hdr, "X-Parley-Upload: 1\r\n%s", bad_names[i]);
        upload_expect(ann.token, conv, "image/jpeg", f.b, f.n, hdr, 400, "bad_request");
    }
    int n = snprintf(hdr, sizeof hdr, "X-Parley-Upload: 1\r\nX-Filename: ");
    for (int i = 0; i < 256; i++)
        hdr[n++] = 'n';
    snprintf(hdr + n, sizeof hdr - (size_t)n, "\r\n");
    upload_expect(ann.token, conv, "image/jpeg", f.b, f.n, hdr, 413, "too_large");
    /* no such conversation */
    upload_expect(ann.token, 987654, "image/jpeg", f.b, f.n, NULL, 404, "not_found");
    assert_int_equal(rows("attachments"), atts);
    sign_out(&ann);
}

/* ---- who may upload where ---- */

static void test_only_people_on_the_request_may_upload_to_it(void **s)
{
    user_t ann = sign_in("ann.taylor"), robert = sign_in("robert.green");
    json_int_t conv = new_request(&ann);
    int64_t atts = rows("attachments");
    afx_file_t f;
    afx_jpeg(&f, 7);
    char hughes[128], patel[128];
    assert_int_equal(pl_pc_login(fx.port, "dr.hughes", pl_fixture_password(&fx, "dr.hughes"), NULL,
                                 hughes, sizeof hughes, NULL),
                     200);
    upload_expect(robert.token, conv, "image/jpeg", f.b, f.n, NULL, 403, "forbidden");
    upload_expect(hughes, conv, "image/jpeg", f.b, f.n, NULL, 403, "forbidden");
    assert_int_equal(rows("attachments"), atts);
    /* Robert can on his own request, and the practice's staff on Ann's. */
    json_int_t his = new_request(&robert);
    json_decref(upload_ok(robert.token, his, "image/jpeg", &f, NULL));
    assert_int_equal(pl_pc_login(fx.port, "dr.patel", pl_fixture_password(&fx, "dr.patel"), NULL,
                                 patel, sizeof patel, NULL),
                     200);
    json_decref(upload_ok(patel, conv, "image/jpeg", &f, NULL));
    sign_out(&ann);
    sign_out(&robert);
}

static void test_a_message_takes_only_its_senders_unused_uploads_and_at_most_five(void **s)
{
    user_t ann = sign_in("ann.taylor"), gp = sign_in("dr.patel");
    json_int_t conv = new_request(&ann), other = new_request(&ann);
    afx_file_t f;
    json_int_t six[6], theirs, elsewhere;
    for (int i = 0; i < 6; i++) {
        afx_jpeg(&f, (uint8_t)(10 + i));
        json_t *a = upload_ok(ann.token, conv, "image/jpeg", &f, NULL);
        six[i] = cfx_jint(a, "id");
        json_decref(a);
    }
    json_t *a = upload_ok(gp.token, conv, "image/jpeg", &f, NULL);
    theirs = cfx_jint(a, "id");
    json_decref(a);
    a = upload_ok(ann.token, other, "image/jpeg", &f, NULL);
    elsewhere = cfx_jint(a, "id");
    json_decref(a);
    json_t *h = cfx_ok(
        pl_pc_callf(ann.ws, T, "{ss sI}", "type", "conversation.history", "conversation_id", conv));
    size_t before = json_array_size(json_object_get(h, "messages"));
    json_decref(h);
    cfx_refused(send_with(&ann, conv, cfx_txn(), six, 6), "too_large", NULL);
    json_int_t pair[2] = {six[0], theirs};
    cfx_refused(send_with(&ann, conv, cfx_txn(), pair, 2), "bad_request", NULL);
    pair[1] = elsewhere;
    cfx_refused(send_with(&ann, conv, cfx_txn(), pair, 2), "bad_request", NULL);
    pair[1] = 99999999;
    cfx_refused(send_with(&ann, conv, cfx_txn(), pair, 2), "bad_request", NULL);
    pair[1] = six[0];
    cfx_refused(send_with(&ann, conv, cfx_txn(), pair, 2), "bad_request", NULL);
    json_decref(cfx_ok(send_with(&ann, conv, cfx_txn(), six, 5)));
    cfx_refused(send_with(&ann, conv, cfx_txn(), &six[4], 1), "bad_request",
                NULL); /* already on a message */
    /* The refused sends left no message behind, and the sixth upload is still free. */
    h = cfx_ok(
        pl_pc_callf(ann.ws, T, "{ss sI}", "type", "conversation.history", "conversation_id", conv));
    assert_int_equal(json_array_size(json_object_get(h, "messages")), before + 1);
    json_decref(h);
    assert_int_equal(cfx_db_int(&fx,
                                "SELECT count(*) FROM attachments WHERE id = ? AND "
                                "message_id IS NULL",
                                six[5]),
                     1);
    /* A note carries none. */
    cfx_refused(pl_pc_callf(gp.ws, T, "{ss sI ss ss s[I]}", "type", "conversation.note",
                            "conversation_id", conv, "txn_id", cfx_txn(), "body", "n",
                            "attachment_ids", theirs),
                "bad_request", NULL);
    sign_out(&ann);
    sign_out(&gp);
}

/* ---- signed links ---- */

/* An attachment of Ann's on a message in a new request of hers; its id. */
static json_int_t sent_attachment(user_t *ann, uint8_t salt, json_int_t *conv_out)
{
    json_int_t conv = new_request(ann);
    afx_file_t f;
    afx_png(&f, salt);
    json_t *a = upload_ok(ann->token, conv, "image/png", &f, NULL);
    json_int_t id = cfx_jint(a, "id");
    json_decref(a);
    json_decref(cfx_ok(send_with(ann, conv, cfx_txn(), &id, 1)));
    if (conv_out) *conv_out = conv;
    return id;
}

static void test_a_link_works_only_as_signed_for_its_user(void **s)
{
    user_t ann = sign_in("ann.taylor"), gp = sign_in("dr.patel"), nurse = sign_in("nurse.okafor");
    json_int_t id = sent_attachment(&ann, 20, NULL), other = sent_attachment(&ann, 21, NULL);
    char url[200], bad[220];
    link_for(&gp, id, url, sizeof url);
    long long refused = cfx_metric(&fx, "parley_attachment_links_refused_total");
    /* a colleague who may read the conversation, but with the GP's link */
    download_expect(nurse.token, url, 403, "forbidden");
    download_expect(ann.token, url, 403, "forbidden");
    download_expect(NULL, url, 401, "unauthorised");
    /* every part of the link tampered with */
    snprintf(bad, sizeof bad, "%s", url);
    char *sig = strstr(bad, "sig=") + 4;
    sig[0] = sig[0] == 'a' ? 'b' : 'a';
    download_expect(gp.token, bad, 403, "forbidden");
    snprintf(bad, sizeof bad, "%s", url);
    sig = strstr(bad, "sig=") + 4;
    for (char *p = sig; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    download_expect(gp.token, bad, 403, "forbidden"); /* the same bytes, upper case */
    snprintf(bad, sizeof bad, "/api/v1/attachments/%lld%s", (long long)other, strchr(url, '?'));
    download_expect(gp.token, bad, 403, "forbidden");
    snprintf(bad, sizeof bad, "%s", url);
    char *exp = strstr(bad, "expires=") + 8;
    exp[0] = exp[0] == '9' ? '8' : (char)(exp[0] + 1); /* a later expiry */
    download_expect(gp.token, bad, 403, "forbidden");
    snprintf(bad, sizeof bad, "%.*s", (int)(strstr(url, "&sig") - url), url);
    download_expect(gp.token, bad, 403, "forbidden"); /* no signature */
    assert_true(cfx_metric(&fx, "parley_attachment_links_refused_total") >= refused + 7);
    download_expect(gp.token, url, 200, NULL); /* and the real one still works */
    sign_out(&ann);
    sign_out(&gp);
    sign_out(&nurse);
}

static void test_a_link_expires(void **s)
{
    user_t ann = sign_in("ann.taylor");
    json_int_t id = sent_attachment(&ann, 30, NULL);
    char url[200];
    link_for(&ann, id, url, sizeof url);
    usleep((TTL_S * 1000 + 300) * 1000);
    pl_http_resp_t r;
    assert_int_equal(download(ann.token, url, &r), 0);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "this link has expired: open the attachment again"));
    pl_http_resp_free(&r);
    link_for(&ann, id, url, sizeof url); /* a fresh one works */
    download_expect(ann.token, url, 200, NULL);
    sign_out(&ann);
}

static void test_who_may_have_a_link_and_a_revoked_right_beats_a_live_one(void **s)
{
    user_t ann = sign_in("ann.taylor"), robert = sign_in("robert.green"),
           pharm = sign_in("pharm.lee");
    json_int_t conv = 0, id = sent_attachment(&ann, 40, &conv);
    char hughes[128];
    assert_int_equal(pl_pc_login(fx.port, "dr.hughes", pl_fixture_password(&fx, "dr.hughes"), NULL,
                                 hughes, sizeof hughes, NULL),
                     200);
    pl_pc_t *other_practice = NULL;
    assert_int_equal(pl_pc_connect(&other_practice, fx.port, hughes, NULL), 0);
    cfx_refused(pl_pc_callf(robert.ws, T, "{ss sI}", "type", "attachment.url", "attachment_id", id),
                "forbidden", NULL);
    cfx_refused(
        pl_pc_callf(other_practice, T, "{ss sI}", "type", "attachment.url", "attachment_id", id),
        "forbidden", NULL);
    cfx_refused(pl_pc_callf(ann.ws, T, "{ss sI}", "type", "attachment.url", "attachment_id",
                            (json_int_t)99999999),
                "not_found", NULL);
    cfx_refused(pl_pc_callf(ann.ws, T, "{ss ss}", "type", "attachment.url", "attachment_id", "7"),
                "bad_request", NULL);
    /* An upload not yet on a message is its uploader's alone, even to the practice. */
    afx_file_t f;
    afx_jpeg(&f, 41);
    json_t *a = upload_ok(ann.token, conv, "image/jpeg", &f, NULL);
    cfx_refused(pl_pc_callf(pharm.ws, T, "{ss sI}", "type", "attachment.url", "attachment_id",
                            cfx_jint(a, "id")),
                "not_found", NULL);
    json_decref(a);
    /* The pharmacist's link is good until the pharmacist leaves the practice. */
    char url[200];
    link_for(&pharm, id, url, sizeof url);
    download_expect(pharm.token, url, 200, NULL);
    int64_t uid = cfx_uid(&fx, "pharm.lee");
    int64_t roles = cfx_db_int(&fx, "SELECT roles FROM memberships WHERE user_id = ?", uid);
    assert_int_equal(cfx_db_exec(&fx, "UPDATE memberships SET roles = 0 WHERE user_id = ?", uid),
                     0);
    download_expect(pharm.token, url, 403, "forbidden");
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE memberships SET roles = %lld WHERE user_id = ?",
             (long long)roles);
    assert_int_equal(cfx_db_exec(&fx, sql, uid), 0);
    pl_pc_destroy(other_practice);
    sign_out(&ann);
    sign_out(&robert);
    sign_out(&pharm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_type_uploads_goes_on_a_message_and_downloads_byte_for_byte),
        cmocka_unit_test(test_same_bytes_twice_are_stored_once_and_a_retry_binds_once),
        cmocka_unit_test(test_bad_files_are_refused_and_nothing_is_stored),
        cmocka_unit_test(test_exactly_10_mib_goes_in_and_comes_back_whole),
        cmocka_unit_test(test_uploads_in_flight_are_capped_and_a_closed_request_takes_none),
        cmocka_unit_test(test_upload_headers_are_checked),
        cmocka_unit_test(test_only_people_on_the_request_may_upload_to_it),
        cmocka_unit_test(test_a_message_takes_only_its_senders_unused_uploads_and_at_most_five),
        cmocka_unit_test(test_a_link_works_only_as_signed_for_its_user),
        cmocka_unit_test(test_a_link_expires),
        cmocka_unit_test(test_who_may_have_a_link_and_a_revoked_right_beats_a_live_one),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
