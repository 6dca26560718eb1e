/* See consult_fx.h. Nothing here asserts: the benches link this file without cmocka. */
#include "tests/support/consult_fx.h"
#include "tests/support/https.h"
#include "tests/support/rawdb.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char *cfx_txn(void)
{
    static char buf[32];
    static int counter;
    snprintf(buf, sizeof buf, "c%d-%d", getpid(), ++counter);
    return buf;
}

int cfx_link_token(json_t *link, const char *prefix, char *out, size_t cap)
{
    const char *path = json_string_value(json_object_get(link, "path"));
    size_t n = strlen(prefix);
    if (!path || strncmp(path, prefix, n) != 0 || path[n] != '#') return -EPROTO;
    if (strlen(path + n + 1) != CFX_TOKEN_LEN || cap <= CFX_TOKEN_LEN) return -EPROTO;
    snprintf(out, cap, "%s", path + n + 1);
    return 0;
}

/* Finds the Set-Cookie header for cookie `name` in the raw header block. */
static void find_cookie(const char *headers, const char *name, char *value, size_t vcap, char *line,
                        size_t lcap)
{
    value[0] = line[0] = 0;
    size_t nl = strlen(name);
    for (const char *p = headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > 11 && strncasecmp(p, "set-cookie:", 11) == 0) {
            const char *v = p + 11;
            while (*v == ' ')
                v++;
            if (strncmp(v, name, nl) == 0 && v[nl] == '=') {
                size_t ll = len - (size_t)(v - p);
                snprintf(line, lcap, "%.*s", (int)ll, v);
                const char *val = v + nl + 1, *semi = strchr(val, ';');
                size_t vl = semi && semi < p + len ? (size_t)(semi - val) : ll - nl - 1;
                snprintf(value, vcap, "%.*s", (int)vl, val);
                return;
            }
        }
        p = eol ? eol + 2 : p + len;
    }
}

int cfx_post_join_raw(const pl_fixture_t *f, const char *headers, const char *body,
                      cfx_join_resp_t *out)
{
    memset(out, 0, sizeof *out);
    pl_http_resp_t r;
    int rc = pl_https_request("127.0.0.1", f->port, "POST", "/api/v1/join", headers, body,
                              strlen(body), CFX_T, &r);
    if (rc < 0) return rc;
    out->status = r.status;
    out->body = json_loadb(r.body, r.body_len, 0, NULL);
    find_cookie(r.headers, "parley_session", out->session, sizeof out->session, out->session_line,
                sizeof out->session_line);
    find_cookie(r.headers, "parley_device", out->device, sizeof out->device, out->device_line,
                sizeof out->device_line);
    char *ra = pl_http_resp_header(&r, "retry-after");
    if (ra) snprintf(out->retry_after, sizeof out->retry_after, "%s", ra);
    free(ra);
    pl_http_resp_free(&r);
    return out->status;
}

int cfx_join(const pl_fixture_t *f, const char *token, const char *dob, const char *device,
             cfx_join_resp_t *out)
{
    char headers[256];
    int n = snprintf(headers, sizeof headers, "Content-Type: application/json\r\n");
    if (device)
        snprintf(headers + n, sizeof headers - (size_t)n, "Cookie: parley_device=%s\r\n", device);
    json_t *req = json_pack("{ss}", "token", token);
    if (!req) return -EINVAL;
    if (dob) json_object_set_new(req, "date_of_birth", json_string(dob));
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!body) return -ENOMEM;
    int rc = cfx_post_join_raw(f, headers, body, out);
    free(body);
    return rc;
}

const char *cfx_join_err(const cfx_join_resp_t *j)
{
    return json_string_value(json_object_get(json_object_get(j->body, "error"), "code"));
}

const char *cfx_join_msg(const cfx_join_resp_t *j)
{
    return json_string_value(json_object_get(json_object_get(j->body, "error"), "message"));
}

void cfx_join_free(cfx_join_resp_t *j)
{
    json_decref(j->body);
    j->body = NULL;
}

int cfx_metric_read(const pl_fixture_t *f, const char *name, long long *out)
{
    pl_http_resp_t r;
    int rc = pl_https_request("127.0.0.1", f->port, "GET", "/metrics", NULL, NULL, 0, CFX_T, &r);
    if (rc < 0) return rc;
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = r.status == 200 ? strstr(r.body, key) : NULL;
    if (p) *out = atoll(p + strlen(key));
    pl_http_resp_free(&r);
    return p ? 0 : -ENOENT;
}

/* The fixture's database, through rawdb: SQLite's file or the data directory's PostgreSQL
 * database, whichever the tests run on. */
int cfx_audit_read(const pl_fixture_t *f, const char *action, int64_t consultation, int *out)
{
    pl_db_t *db;
    if (rawdb_open(&db, f->dir) < 0) return -EIO;
    pl_dbs_t *s = NULL;
    int rc = pl_db_prepare(db,
                           "SELECT count(*) FROM audit WHERE action = ?1 AND outcome = 'ok' AND "
                           "resource_type = 'consultation' AND resource_id = ?2",
                           &s);
    if (rc == PL_DB_OK) {
        pl_dbs_bind_text(s, 1, action, -1);
        pl_dbs_bind_int64(s, 2, consultation);
        rc = pl_dbs_step(s);
        if (rc == PL_DB_ROW) *out = pl_dbs_int(s, 0);
    }
    if (rc != PL_DB_ROW) fprintf(stderr, "cfx_audit_read: %s\n", pl_db_errmsg(db));
    pl_dbs_finalize(s);
    pl_db_close(db);
    return rc == PL_DB_ROW ? 0 : -EIO;
}

int cfx_db_read_int(const pl_fixture_t *f, const char *sql, int64_t arg, int64_t *out)
{
    return rawdb_read_int(f->dir, sql, arg, out);
}

int cfx_db_read_text(const pl_fixture_t *f, const char *sql, int64_t arg, char *buf, size_t cap)
{
    return rawdb_read_text(f->dir, sql, arg, buf, cap);
}

int cfx_db_exec(const pl_fixture_t *f, const char *sql, int64_t arg)
{
    return rawdb_exec(f->dir, sql, arg) < 0 ? -EIO : 0;
}
