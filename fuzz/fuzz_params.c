/* Fuzz target: the request parsers. A WebSocket request (signalling/ws.c, dispatch) and a REST
 * body (signalling/http.c) are decoded with json_loadb(..., JSON_REJECT_DUPLICATES, ...) after
 * a size cap, and a handler then reads each field with the getters of signalling/params.h; NHS
 * numbers go through signalling/nhs.h. This target does the same with the input as the message:
 * decode it as ws.c does, and if it is an object, run every getter with assorted bounds over
 * every member name it holds (and some it does not), down through nested objects, and the NHS
 * number parser over every string.
 *
 * What must hold, whatever the bytes:
 * - pl_param_str: 0 gives a string of min..max bytes with no NUL (or NULL when optional and
 *   absent); -PL_ETOOBIG only for a string over max; every failure gives *out NULL and a message;
 * - pl_param_int: 0 gives a value in [min, max] (def when optional and absent);
 * - pl_param_bool: 0 only for a boolean, null or absent;
 * - pl_param_enum: 0 gives one of the words (a pointer into the member, equal to the word);
 * - every message is a NUL-terminated string inside pl_perr_t;
 * - pl_nhs_normalise: 0 gives ten digits with a valid Modulus 11 check digit, that normalise to
 *   themselves and from both separated spellings; failure gives the empty string; pl_nhs_valid
 *   agrees with it. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "signalling/nhs.h"
#include "signalling/params.h"

/* core/config.c: max_frame_bytes' default, the hard cap on one WebSocket message. REST bodies
 * are capped lower (16 KiB, signalling/http.c). */
#define WS_MAX_BYTES 65536
#define MAX_DEPTH 8

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void fail(const char *why, const char *name)
{
    fprintf(stderr, "fuzz_params: %s (field %s)\n", why, name ? name : "?");
    abort();
}

/* The message a failed getter wrote is a string inside the buffer. */
static void check_msg(const pl_perr_t *e, const char *name)
{
    if (!memchr(e->msg, '\0', sizeof e->msg) || e->msg[0] == '\0')
        fail("a failure without a message", name);
}

static void try_str(json_t *o, const char *name)
{
    static const struct {
        size_t min, max;
    } bounds[] = {{0, 0}, {1, 64}, {0, 16384}, {8, 8}, {1, SIZE_MAX}, {10, 12}};
    json_t *v = json_object_get(o, name);
    for (size_t i = 0; i < COUNT(bounds); i++) {
        for (int optional = 0; optional < 2; optional++) {
            pl_perr_t e;
            memset(&e, 0x55, sizeof e);
            const char *out = "unset";
            int rc = pl_param_str(o, name, bounds[i].min, bounds[i].max, optional, &out, &e);
            if (rc == 0) {
                if (!out) {
                    if (!optional || (v && !json_is_null(v)))
                        fail("pl_param_str gave NULL for a present field", name);
                    continue;
                }
                size_t n = strlen(out);
                if (!json_is_string(v) || out != json_string_value(v) ||
                    n != json_string_length(v) || n < bounds[i].min || n > bounds[i].max)
                    fail("pl_param_str accepted a string out of its bounds", name);
            } else {
                if (rc != -PL_EINVAL && rc != -PL_ETOOBIG) fail("pl_param_str: odd code", name);
                if (rc == -PL_ETOOBIG && json_string_length(v) <= bounds[i].max)
                    fail("pl_param_str: too big, but it is not", name);
                if (out) fail("pl_param_str failed with a string", name);
                check_msg(&e, name);
            }
        }
    }
}

static void try_int(json_t *o, const char *name)
{
    static const struct {
        int64_t min, max;
    } bounds[] = {{INT64_MIN, INT64_MAX}, {0, 100}, {1, INT32_MAX}, {-5, -5}, {1, 0}};
    json_t *v = json_object_get(o, name);
    for (size_t i = 0; i < COUNT(bounds); i++) {
        for (int optional = 0; optional < 2; optional++) {
            pl_perr_t e;
            memset(&e, 0x55, sizeof e);
            int64_t out = 12345;
            int rc = pl_param_int(o, name, bounds[i].min, bounds[i].max, optional, 7, &out, &e);
            bool absent = !v || json_is_null(v);
            if (rc == 0) {
                if (absent ? (!optional || out != 7)
                           : (!json_is_integer(v) || out != json_integer_value(v) ||
                              out < bounds[i].min || out > bounds[i].max))
                    fail("pl_param_int accepted what it should not", name);
            } else {
                if (rc != -PL_EINVAL) fail("pl_param_int: odd code", name);
                check_msg(&e, name);
            }
        }
    }
}

static void try_bool(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    for (int optional = 0; optional < 2; optional++) {
        pl_perr_t e;
        memset(&e, 0x55, sizeof e);
        bool out = false;
        int rc = pl_param_bool(o, name, optional, true, &out, &e);
        bool absent = !v || json_is_null(v);
        if (rc == 0) {
            if (absent ? (!optional || !out) : (!json_is_boolean(v) || out != json_is_true(v)))
                fail("pl_param_bool accepted what it should not", name);
        } else {
            if (rc != -PL_EINVAL) fail("pl_param_bool: odd code", name);
            check_msg(&e, name);
        }
    }
}

static void try_enum(json_t *o, const char *name)
{
    /* Word lists of the protocol, and one long enough to overflow the message. */
    static const char *const kinds[] = {"admin", "clinical", "video", "advice", "case", NULL};
    static const char *const filters[] = {"open", "closed", "all", "mine", "today", NULL};
    /* clang-format off */
    static const char *const roles[] = {"gp",         "nurse",          "pharmacist",
                                        "clinician",  "receptionist",   "practice_admin",
                                        "specialist", "network_admin",  "service_admin",
                                        "auditor",    "a-very-long-role-name-to-fill-the-message",
                                        NULL};
    /* clang-format on */
    static const char *const none[] = {NULL};
    static const char *const *const lists[] = {kinds, filters, roles, none};
    for (size_t i = 0; i < COUNT(lists); i++) {
        for (int optional = 0; optional < 2; optional++) {
            pl_perr_t e;
            memset(&e, 0x55, sizeof e);
            const char *out = "unset";
            int rc = pl_param_enum(o, name, lists[i], optional, &out, &e);
            if (rc == 0) {
                if (!out) {
                    json_t *v = json_object_get(o, name);
                    if (!optional || (v && !json_is_null(v)))
                        fail("pl_param_enum gave NULL for a present field", name);
                    continue;
                }
                bool listed = false;
                for (size_t w = 0; lists[i][w]; w++)
                    listed |= strcmp(out, lists[i][w]) == 0;
                if (!listed) fail("pl_param_enum accepted a word not in its list", name);
            } else {
                if (out) fail("pl_param_enum failed with a word", name);
                check_msg(&e, name);
            }
        }
    }
}

static bool mod11_ok(const char d[PL_NHS_LEN])
{
    int sum = 0;
    for (int i = 0; i < 9; i++)
        sum += (d[i] - '0') * (10 - i);
    int check = (11 - sum % 11) % 11;
    return check != 10 && d[9] - '0' == check;
}

static void try_nhs(const char *s)
{
    char out[PL_NHS_LEN + 1];
    memset(out, 'x', sizeof out);
    int rc = pl_nhs_normalise(s, out);
    if ((rc == 0) != pl_nhs_valid(s)) fail("pl_nhs_valid disagrees with pl_nhs_normalise", s);
    if (rc != 0) {
        if (rc != -PL_EINVAL || out[0] != '\0') fail("a refused NHS number left output", s);
        return;
    }
    if (strlen(out) != PL_NHS_LEN || strspn(out, "0123456789") != PL_NHS_LEN || !mod11_ok(out))
        fail("an accepted NHS number is not ten digits with its check digit", s);
    /* The canonical form, and both separated spellings, normalise to the same ten digits. */
    char spelt[3][16], again[PL_NHS_LEN + 1];
    snprintf(spelt[0], sizeof spelt[0], "%s", out);
    snprintf(spelt[1], sizeof spelt[1], "%.3s %.3s %.4s", out, out + 3, out + 6);
    snprintf(spelt[2], sizeof spelt[2], "%.3s-%.3s-%.4s", out, out + 3, out + 6);
    for (int i = 0; i < 3; i++)
        if (pl_nhs_normalise(spelt[i], again) != 0 || strcmp(again, out) != 0)
            fail("an NHS number does not normalise to itself", spelt[i]);
    /* Only the three accepted shapes: the input is one of them, byte for byte. */
    if (strcmp(s, spelt[0]) != 0 && strcmp(s, spelt[1]) != 0 && strcmp(s, spelt[2]) != 0)
        fail("an NHS number accepted in a shape nhs.h does not allow", s);
}

/* Names a handler asks for that a message may well not hold. */
static const char *const extra_names[] = {
    "id", "type", "conversation_id", "body", "txn_id", "attachment_ids", "nhs_number", "offer", ""};

static void walk(json_t *o, int depth)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        try_str(o, k);
        try_int(o, k);
        try_bool(o, k);
        try_enum(o, k);
        if (json_is_string(v)) try_nhs(json_string_value(v));
        if (json_is_object(v) && depth < MAX_DEPTH) walk(v, depth + 1);
        if (json_is_array(v)) {
            size_t i;
            json_t *m;
            json_array_foreach(v, i, m)
            {
                if (json_is_string(m)) try_nhs(json_string_value(m));
                if (json_is_object(m) && depth < MAX_DEPTH) walk(m, depth + 1);
            }
        }
    }
    for (size_t i = 0; i < COUNT(extra_names); i++) {
        if (json_object_get(o, extra_names[i])) continue;
        try_str(o, extra_names[i]);
        try_int(o, extra_names[i]);
        try_bool(o, extra_names[i]);
        try_enum(o, extra_names[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > WS_MAX_BYTES) return 0; /* refused before it is decoded */
    json_error_t jerr;
    json_t *req = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!req) {
        if (!memchr(jerr.text, '\0', sizeof jerr.text)) fail("an unterminated parse error", NULL);
        return 0;
    }
    if (json_is_object(req))
        walk(req, 0);
    else if (json_is_string(req)) {
        try_nhs(json_string_value(req));
    }
    json_decref(req);
    return 0;
}
