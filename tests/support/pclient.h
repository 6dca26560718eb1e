/* Test support: a Parley protocol client on top of wsc (WebSocket) and https (REST), plus a
 * fixture that seeds the demo data into a fresh directory and starts the real server on it.
 * Replies are matched by id; any pushes that arrive meanwhile are queued for pl_pc_next_push. */
#ifndef PL_TEST_PCLIENT_H
#define PL_TEST_PCLIENT_H

#include "tests/support/server.h"
#include "tests/support/wsc.h"

#include <jansson.h>

typedef struct pl_pc pl_pc_t;

/* A running server on a seeded data dir, and the demo logins. */
typedef struct {
    pl_test_server_t *srv;
    char dir[256];
    json_t *logins; /* array from `parley demo --json` */
    int port;
} pl_fixture_t;

/* Seeds (cheap password hashing) and starts the server; extra_args as pl_test_server_start.
 * 0 or a negative errno. */
int pl_fixture_start(pl_fixture_t *f, const char *const *extra_args);
/* Restarts the server on the same dir (after stop or kill). */
int pl_fixture_restart(pl_fixture_t *f, const char *const *extra_args);
void pl_fixture_stop(pl_fixture_t *f); /* stops the server and removes the dir */
const char *pl_fixture_password(const pl_fixture_t *f, const char *username);
int64_t pl_fixture_user_id(const pl_fixture_t *f, const char *username);

/* POST /api/v1/login with want_token. Returns the HTTP status; on 200 copies the token. body_out
 * (may be NULL) gets the parsed response body (caller decrefs). */
int pl_pc_login(int port, const char *username, const char *password, const char *totp,
                char *token, size_t cap, json_t **body_out);
/* Connects with "Authorization: Bearer <token>" (token NULL: none) and waits for session.ready.
 * Returns 0; -EACCES if the server sent session.error (the frame is in *err_frame if given). */
int pl_pc_connect(pl_pc_t **out, int port, const char *token, json_t **err_frame);
/* Logs in and connects. */
int pl_pc_open(pl_pc_t **out, const pl_fixture_t *f, const char *username);
/* Sends req (stolen; "id" is added) and waits for the reply with that id. NULL on timeout. */
json_t *pl_pc_call(pl_pc_t *c, json_t *req, int timeout_ms);
/* Convenience: builds the request from a jansson pack format. */
json_t *pl_pc_callf(pl_pc_t *c, int timeout_ms, const char *fmt, ...);
/* Next push (event frame, events.live, session.* ...), queued or fresh. NULL on timeout/close. */
json_t *pl_pc_next_push(pl_pc_t *c, int timeout_ms);
/* Next "event" push whose event.type is type (others are discarded). NULL on timeout. */
json_t *pl_pc_wait_event(pl_pc_t *c, const char *type, int timeout_ms);
/* Subscribes from cursor (<0: from now, no replay) and collects every event until events.live; returns the array of event
 * frames (caller decrefs) or NULL. */
json_t *pl_pc_subscribe(pl_pc_t *c, long long cursor, int timeout_ms);
pl_wsc_t *pl_pc_ws(pl_pc_t *c);
void pl_pc_destroy(pl_pc_t *c);
void pl_pc_abort(pl_pc_t *c);

/* True if reply is {"ok":false,"error":{"code":code}}. */
int pl_pc_is_error(json_t *reply, const char *code);
int pl_pc_is_ok(json_t *reply);

#endif
