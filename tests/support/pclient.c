/* See pclient.h. */
#include "tests/support/pclient.h"
#include "tests/support/https.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pl_pc {
    pl_wsc_t *ws;
    json_t *queue; /* pushes received while waiting for a reply */
    int next_id;
};

int pl_fixture_start(pl_fixture_t *f, const char *const *extra_args)
{
    memset(f, 0, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/parley-it-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) return -errno;
    char *out = NULL;
    const char *args[] = {"demo", "--data-dir", f->dir, "--json", "--kdf-log-n", "10", NULL};
    int rc = pl_test_run_cli(&out, args);
    if (rc != 0 || !out) {
        fprintf(stderr, "parley demo failed (%d)\n", rc);
        free(out);
        return -EIO;
    }
    f->logins = json_loads(out, 0, NULL);
    free(out);
    rc = json_is_array(f->logins) ? pl_fixture_restart(f, extra_args) : -EPROTO;
    /* A server that refuses to start (a test of a bad option, say) leaves nothing behind. */
    if (rc < 0) pl_fixture_stop(f);
    return rc;
}

int pl_fixture_restart(pl_fixture_t *f, const char *const *extra_args)
{
    if (f->srv) pl_test_server_destroy(f->srv);
    f->srv = NULL;
    int rc = pl_test_server_start(&f->srv, f->dir, extra_args);
    if (rc < 0) return rc;
    f->port = pl_test_server_port(f->srv);
    return 0;
}

void pl_fixture_stop(pl_fixture_t *f)
{
    if (f->srv) {
        pl_test_server_stop(f->srv);
        pl_test_server_destroy(f->srv);
    }
    f->srv = NULL;
    if (f->dir[0]) pl_test_rmtree(f->dir);
    json_decref(f->logins);
    f->logins = NULL;
}

static json_t *login_entry(const pl_fixture_t *f, const char *username)
{
    size_t i;
    json_t *u;
    json_array_foreach(f->logins, i, u) if (!strcmp(
        json_string_value(json_object_get(u, "username")), username)) return u;
    return NULL;
}

const char *pl_fixture_password(const pl_fixture_t *f, const char *username)
{
    return json_string_value(json_object_get(login_entry(f, username), "password"));
}

int64_t pl_fixture_user_id(const pl_fixture_t *f, const char *username)
{
    return json_integer_value(json_object_get(login_entry(f, username), "id"));
}

int pl_pc_login(int port, const char *username, const char *password, const char *totp,
                char *token, size_t cap, json_t **body_out)
{
    json_t *req = json_pack("{ss ss sb}", "username", username, "password", password,
                            "want_token", 1);
    if (totp) json_object_set_new(req, "totp", json_string(totp));
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    pl_http_resp_t resp;
    int rc = pl_https_request("127.0.0.1", port, "POST", "/api/v1/login",
                              "Content-Type: application/json\r\n", body, strlen(body), 10000,
                              &resp);
    free(body);
    if (rc < 0) return rc;
    int status = resp.status;
    json_t *j = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    if (status == 200 && token) {
        const char *t = json_string_value(json_object_get(j, "token"));
        snprintf(token, cap, "%s", t ? t : "");
    }
    if (body_out)
        *body_out = j;
    else
        json_decref(j);
    pl_http_resp_free(&resp);
    return status;
}

static int recv_json(pl_pc_t *c, int timeout_ms, json_t **out)
{
    char *msg = NULL;
    size_t len = 0;
    int rc = pl_wsc_recv(c->ws, timeout_ms, &msg, &len);
    if (rc < 0) return rc;
    *out = json_loadb(msg, len, 0, NULL);
    free(msg);
    return *out ? 0 : -EPROTO;
}

int pl_pc_connect(pl_pc_t **out, int port, const char *token, json_t **err_frame)
{
    *out = NULL;
    if (err_frame) *err_frame = NULL;
    char hdr[300] = "";
    if (token) snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", token);
    pl_pc_t *c = calloc(1, sizeof *c);
    c->queue = json_array();
    int status = 0;
    int rc = pl_wsc_connect(&c->ws, "127.0.0.1", port, "/", hdr, 10000, &status);
    if (rc < 0) {
        pl_pc_destroy(c);
        return rc;
    }
    json_t *first = NULL;
    rc = recv_json(c, 10000, &first);
    if (rc < 0) {
        pl_pc_destroy(c);
        return rc;
    }
    const char *type = json_string_value(json_object_get(first, "type"));
    if (!type || strcmp(type, "session.ready") != 0) {
        if (err_frame)
            *err_frame = first;
        else
            json_decref(first);
        pl_pc_destroy(c);
        return -EACCES;
    }
    json_decref(first);
    *out = c;
    return 0;
}

int pl_pc_open(pl_pc_t **out, const pl_fixture_t *f, const char *username)
{
    char token[128];
    int st = pl_pc_login(f->port, username, pl_fixture_password(f, username), NULL, token,
                         sizeof token, NULL);
    if (st != 200) return -EACCES;
    return pl_pc_connect(out, f->port, token, NULL);
}

json_t *pl_pc_call(pl_pc_t *c, json_t *req, int timeout_ms)
{
    char id[32];
    snprintf(id, sizeof id, "r%d", ++c->next_id);
    json_object_set_new(req, "id", json_string(id));
    char *txt = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    int rc = pl_wsc_send_text(c->ws, txt, strlen(txt));
    free(txt);
    if (rc < 0) return NULL;
    for (;;) {
        json_t *m = NULL;
        if (recv_json(c, timeout_ms, &m) < 0) return NULL;
        const char *mid = json_string_value(json_object_get(m, "id"));
        if (mid && !strcmp(mid, id)) return m;
        if (json_object_get(m, "ok")) {
            /* A reply to something else (e.g. an error with id null): keep it visible. */
            json_array_append_new(c->queue, m);
            continue;
        }
        json_array_append_new(c->queue, m);
    }
}

json_t *pl_pc_callf(pl_pc_t *c, int timeout_ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_error_t err;
    json_t *req = json_vpack_ex(&err, 0, fmt, ap);
    va_end(ap);
    if (!req) {
        fprintf(stderr, "bad pack format: %s\n", err.text);
        return NULL;
    }
    return pl_pc_call(c, req, timeout_ms);
}

json_t *pl_pc_next_push(pl_pc_t *c, int timeout_ms)
{
    if (json_array_size(c->queue)) {
        json_t *m = json_incref(json_array_get(c->queue, 0));
        json_array_remove(c->queue, 0);
        return m;
    }
    json_t *m = NULL;
    return recv_json(c, timeout_ms, &m) == 0 ? m : NULL;
}

json_t *pl_pc_wait_event(pl_pc_t *c, const char *type, int timeout_ms)
{
    for (;;) {
        json_t *m = pl_pc_next_push(c, timeout_ms);
        if (!m) return NULL;
        const char *t = json_string_value(json_object_get(m, "type"));
        const char *et = json_string_value(json_object_get(json_object_get(m, "event"), "type"));
        if (t && !strcmp(t, "event") && et && !strcmp(et, type)) return m;
        json_decref(m);
    }
}

json_t *pl_pc_subscribe(pl_pc_t *c, long long cursor, int timeout_ms)
{
    json_t *r = cursor < 0 ? pl_pc_callf(c, timeout_ms, "{ss}", "type", "events.subscribe")
                           : pl_pc_callf(c, timeout_ms, "{ss sI}", "type", "events.subscribe",
                                         "cursor", (json_int_t)cursor);
    if (!pl_pc_is_ok(r)) {
        json_decref(r);
        return NULL;
    }
    json_decref(r);
    json_t *events = json_array();
    for (;;) {
        json_t *m = pl_pc_next_push(c, timeout_ms);
        if (!m) {
            json_decref(events);
            return NULL;
        }
        const char *t = json_string_value(json_object_get(m, "type"));
        if (t && !strcmp(t, "events.live")) {
            json_decref(m);
            return events;
        }
        if (t && !strcmp(t, "event"))
            json_array_append_new(events, m);
        else
            json_decref(m);
    }
}

pl_wsc_t *pl_pc_ws(pl_pc_t *c)
{
    return c->ws;
}

void pl_pc_destroy(pl_pc_t *c)
{
    if (!c) return;
    pl_wsc_destroy(c->ws);
    json_decref(c->queue);
    free(c);
}

void pl_pc_abort(pl_pc_t *c)
{
    if (!c) return;
    pl_wsc_abort(c->ws);
    json_decref(c->queue);
    free(c);
}

int pl_pc_is_error(json_t *reply, const char *code)
{
    const char *got = json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
    return reply && json_is_false(json_object_get(reply, "ok")) && got && !strcmp(got, code);
}

int pl_pc_is_ok(json_t *reply)
{
    return reply && json_is_true(json_object_get(reply, "ok"));
}
