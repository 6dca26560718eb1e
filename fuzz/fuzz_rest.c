/* Fuzz target: the REST surface's own parsers of outside bytes, before any JSON body (those are
 * fuzz_params'): the request path of each route that carries an id (attachment upload and
 * download, the FHIR export), a signed download link's signature, and the Authorization and
 * Cookie headers a session token is taken from.
 *
 * The header parsers read through libwebsockets' lws_hdr_copy. This file defines its own
 * lws_hdr_copy, which takes precedence over the shared library's for the statically linked
 * Parley objects, and hands them the fuzzer's bytes as the header: the real parsing code runs,
 * with no socket.
 *
 * Input: fields separated by '\n': path, signature, Authorization, Cookie. */
#include "core/util.h"
#include "signalling/attach.h"
#include "signalling/server_internal.h"
#include "signalling/record.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { F_PATH, F_SIG, F_AUTH, F_COOKIE, F_N };
static char field[F_N][4200];

int lws_hdr_copy(struct lws *wsi, char *dest, int len, enum lws_token_indexes h)
{
    (void)wsi;
    const char *v = h == WSI_TOKEN_HTTP_AUTHORIZATION ? field[F_AUTH]
                    : h == WSI_TOKEN_HTTP_COOKIE      ? field[F_COOKIE]
                                                      : NULL;
    /* lws's contract: -1 when absent or when it does not fit, else the length copied. */
    if (!v || !*v) return -1;
    int n = (int)strlen(v);
    if (n >= len) return -1;
    memcpy(dest, v, (size_t)n + 1);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(field, 0, sizeof field);
    size_t f = 0, k = 0;
    for (size_t i = 0; i < size && f < F_N; i++) {
        if (data[i] == '\n') {
            f++;
            k = 0;
        } else if (k + 1 < sizeof field[0]) {
            field[f][k++] = data[i] ? (char)data[i] : ' '; /* headers and paths hold no NUL */
        }
    }
    int64_t id = pl_attach_upload_path(field[F_PATH]);
    if (id < 0) abort();
    id = pl_attach_download_path(field[F_PATH]);
    if (id < 0) abort();
    if (pl_record_fhir_path(field[F_PATH]) < 0) abort();

    /* A signature checked against a key it was not made with must never pass. */
    static const uint8_t key[32] = {1, 2, 3};
    if (pl_attach_link_verify(key, id ? id : 7, 5, 1700000000000LL, field[F_SIG])) {
        char good[65];
        pl_attach_link_sign(key, id ? id : 7, 5, 1700000000000LL, good);
        if (strcmp(good, field[F_SIG]) != 0) abort(); /* only the one true spelling verifies */
    }

    /* The session token, from "Authorization: Bearer" or the session cookie. */
    char token[128];
    struct lws *dummy = (struct lws *)(uintptr_t)1;
    if (pl_http_token(dummy, token, sizeof token) == 0 && strlen(token) >= sizeof token) abort();
    return 0;
}
