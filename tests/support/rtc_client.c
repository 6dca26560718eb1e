/* A minimal WebRTC client for tests (see rtc_client.h). */
#include "tests/support/rtc_client.h"
#include "core/err.h"
#include "media/room.h"
#include "media/srtp_session.h"
#include "media/stun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pl_rtc_client {
    pl_dtls_ctx_t *ctx;
    pl_dtls_t *dtls;
    pl_srtp_session_t *srtp;
    pl_rtc_send_fn send;
    pl_rtc_media_fn media;
    void *opaque;
    char ufrag[16], pwd[32], remote_ufrag[64], remote_pwd[64];
    bool failed;
    int stun_ok, stun_err;
};

static void rand_chars(char *out, size_t n)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    for (size_t i = 0; i < n; i++) out[i] = set[(size_t)rand() % (sizeof set - 1)];
    out[n] = 0;
}

static void dtls_send(void *opaque, const uint8_t *buf, size_t len)
{
    pl_rtc_client_t *c = opaque;
    c->send(c->opaque, buf, len);
}

static void dtls_connected(void *opaque, pl_srtp_keys_t *keys)
{
    pl_rtc_client_t *c = opaque;
    if (pl_srtp_session_create(keys, &c->srtp) < 0) c->failed = true;
}

static void dtls_closed(void *opaque, pl_dtls_state_t st, int err)
{
    (void)st;
    (void)err;
    ((pl_rtc_client_t *)opaque)->failed = true;
}

int pl_rtc_client_create(const char *remote_ufrag, const char *remote_pwd, const char *server_fp,
                         pl_rtc_send_fn send, pl_rtc_media_fn media, void *opaque,
                         pl_rtc_client_t **out)
{
    pl_rtc_client_t *c = calloc(1, sizeof *c);
    if (!c) return -PL_ENOMEM;
    c->send = send;
    c->media = media;
    c->opaque = opaque;
    rand_chars(c->ufrag, 8);
    rand_chars(c->pwd, 24);
    snprintf(c->remote_ufrag, sizeof c->remote_ufrag, "%s", remote_ufrag);
    snprintf(c->remote_pwd, sizeof c->remote_pwd, "%s", remote_pwd);
    uint8_t fp[PL_DTLS_FP_LEN];
    int rc = pl_dtls_fingerprint_parse(server_fp, fp);
    if (rc == 0) rc = pl_dtls_ctx_create(NULL, 0, &c->ctx);
    pl_dtls_listener_t l = {.send = dtls_send, .connected = dtls_connected, .closed = dtls_closed};
    if (rc == 0) rc = pl_dtls_create(c->ctx, PL_DTLS_ROLE_CLIENT, fp, &l, c, &c->dtls);
    if (rc < 0) {
        pl_rtc_client_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

void pl_rtc_client_destroy(pl_rtc_client_t *c)
{
    if (!c) return;
    pl_dtls_destroy(c->dtls);
    pl_dtls_ctx_destroy(c->ctx);
    pl_srtp_session_destroy(c->srtp);
    free(c);
}

const char *pl_rtc_client_ufrag(const pl_rtc_client_t *c) { return c->ufrag; }
const char *pl_rtc_client_pwd(const pl_rtc_client_t *c) { return c->pwd; }
const char *pl_rtc_client_fingerprint(const pl_rtc_client_t *c)
{
    return pl_dtls_ctx_fingerprint(c->ctx);
}

void pl_rtc_client_restart(pl_rtc_client_t *c, const char *remote_ufrag, const char *remote_pwd,
                           const char *new_local_ufrag, const char *new_local_pwd)
{
    snprintf(c->remote_ufrag, sizeof c->remote_ufrag, "%s", remote_ufrag);
    snprintf(c->remote_pwd, sizeof c->remote_pwd, "%s", remote_pwd);
    if (new_local_ufrag) snprintf(c->ufrag, sizeof c->ufrag, "%s", new_local_ufrag);
    if (new_local_pwd) snprintf(c->pwd, sizeof c->pwd, "%s", new_local_pwd);
}

int pl_rtc_client_set_server_fingerprint(pl_rtc_client_t *c, const char *server_fp)
{
    uint8_t fp[PL_DTLS_FP_LEN];
    int rc = pl_dtls_fingerprint_parse(server_fp, fp);
    if (rc < 0) return rc;
    pl_dtls_t *d = NULL;
    pl_dtls_listener_t l = {.send = dtls_send, .connected = dtls_connected, .closed = dtls_closed};
    if ((rc = pl_dtls_create(c->ctx, PL_DTLS_ROLE_CLIENT, fp, &l, c, &d)) < 0) return rc;
    pl_dtls_destroy(c->dtls);
    c->dtls = d;
    return 0;
}

char *pl_rtc_client_offer(const pl_rtc_client_t *c)
{
    char path[512];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    size_t at = slash ? (size_t)(slash + 1 - path) : 0;
    snprintf(path + at, sizeof path - at, "../media/fixtures/chromium_sendrecv.sdp");
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t cap = 65536, n = 0;
    char *out = calloc(1, cap), line[2048];
    while (out && fgets(line, sizeof line, f)) {
        char repl[512];
        const char *use = line;
        if (strncmp(line, "a=ice-ufrag:", 12) == 0) {
            snprintf(repl, sizeof repl, "a=ice-ufrag:%s\r\n", c->ufrag);
            use = repl;
        } else if (strncmp(line, "a=ice-pwd:", 10) == 0) {
            snprintf(repl, sizeof repl, "a=ice-pwd:%s\r\n", c->pwd);
            use = repl;
        } else if (strncmp(line, "a=fingerprint:sha-256 ", 22) == 0) {
            snprintf(repl, sizeof repl, "a=fingerprint:sha-256 %s\r\n",
                     pl_dtls_ctx_fingerprint(c->ctx));
            use = repl;
        }
        size_t l = strlen(use);
        if (n + l >= cap) {
            free(out);
            out = NULL;
            break;
        }
        memcpy(out + n, use, l);
        n += l;
    }
    fclose(f);
    return out;
}

/* Appends text[0..len) to out (of capacity cap, with *n used); false when it does not fit. */
static bool append(char *out, size_t cap, size_t *n, const char *text, size_t len)
{
    if (*n + len >= cap) return false;
    memcpy(out + *n, text, len);
    *n += len;
    out[*n] = 0;
    return true;
}

/* Appends a copy of the m-section block[0..len) as section mid, sending only if sends: its
 * a=mid and direction replaced, its a=ssrc, a=ssrc-group and a=msid lines left out. */
static bool append_copy(char *out, size_t cap, size_t *n, const char *block, size_t len, int mid,
                        bool sends)
{
    const char *p = block, *end = block + len;
    bool ok = true;
    while (ok && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        char repl[64];
        if (strncmp(p, "a=mid:", 6) == 0) {
            snprintf(repl, sizeof repl, "a=mid:%d\r\n", mid);
            ok = append(out, cap, n, repl, strlen(repl));
        } else if (strncmp(p, "a=sendrecv", 10) == 0) {
            snprintf(repl, sizeof repl, "a=%s\r\n", sends ? "sendrecv" : "recvonly");
            ok = append(out, cap, n, repl, strlen(repl));
        } else if (strncmp(p, "a=ssrc", 6) != 0 && strncmp(p, "a=msid:", 7) != 0) {
            ok = append(out, cap, n, p, l);
        }
        p += l;
    }
    return ok;
}

char *pl_rtc_client_offer_slots(const pl_rtc_client_t *c, int slots)
{
    char *base = pl_rtc_client_offer(c);
    if (!base || slots == 0) return base;
    char *audio = strstr(base, "m=audio"), *video = strstr(base, "m=video");
    char *bundle = strstr(base, "a=group:BUNDLE");
    if (slots < 2 || slots > PL_ROOM_MAX_SLOTS || !audio || !video || video < audio || !bundle ||
        bundle > audio) {
        free(base);
        return NULL;
    }
    size_t audio_len = (size_t)(video - audio), video_len = strlen(video);
    size_t cap = strlen(base) * (size_t)(slots + 1) + 1024, n = 0;
    char *out = malloc(cap);
    bool ok = out != NULL;
    if (ok) out[0] = 0;
    /* The session part, with every mid in the BUNDLE group. */
    char group[128] = "a=group:BUNDLE";
    for (int i = 0; i <= 2 * slots; i++)
        snprintf(group + strlen(group), sizeof group - strlen(group), " %d", i);
    snprintf(group + strlen(group), sizeof group - strlen(group), "\r\n");
    char *after = strchr(bundle, '\n');
    ok = ok && after && append(out, cap, &n, base, (size_t)(bundle - base)) &&
         append(out, cap, &n, group, strlen(group)) &&
         append(out, cap, &n, after + 1, (size_t)(audio - after - 1)) &&
         append(out, cap, &n, audio, audio_len + video_len);
    for (int i = 2; ok && i <= 2 * slots; i++) {
        bool is_audio = i < 2 * slots && i % 2 == 0;
        ok = append_copy(out, cap, &n, is_audio ? audio : video, is_audio ? audio_len : video_len,
                         i, i == 2 * slots);
    }
    free(base);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

int pl_rtc_client_check(pl_rtc_client_t *c, bool use_candidate)
{
    char user[160];
    snprintf(user, sizeof user, "%s:%s", c->remote_ufrag, c->ufrag);
    pl_stun_request_t r = {.username = user, .pwd = c->remote_pwd, .priority = 0x6e7f00ff,
                           .role = PL_STUN_ROLE_CONTROLLING, .tie_breaker = 0x1122334455667788ull,
                           .use_candidate = use_candidate};
    uint8_t buf[PL_STUN_MAX_LEN];
    size_t n = 0;
    int rc = pl_stun_write_binding_request(&r, buf, sizeof buf, &n);
    if (rc < 0) return rc;
    c->send(c->opaque, buf, n);
    return 0;
}

int pl_rtc_client_start_dtls(pl_rtc_client_t *c) { return pl_dtls_start(c->dtls); }

int pl_rtc_client_receive(pl_rtc_client_t *c, uint8_t *buf, size_t len)
{
    if (!len) return -PL_EINVAL;
    if (buf[0] <= 3) {
        pl_stun_msg_t m;
        if (pl_stun_parse(buf, len, &m) < 0) return -PL_EINVAL;
        if (m.cls == PL_STUN_CLASS_SUCCESS && pl_stun_verify_integrity(&m, c->remote_pwd) == 0)
            c->stun_ok++;
        else c->stun_err++;
        return 0;
    }
    if (buf[0] >= 20 && buf[0] <= 63) return pl_dtls_feed(c->dtls, buf, len);
    if (buf[0] >= 128 && buf[0] <= 191 && c->srtp && len >= 2) {
        bool rtcp = buf[1] >= 192 && buf[1] <= 223;
        size_t n = len;
        int rc = rtcp ? pl_srtp_unprotect_rtcp(c->srtp, buf, &n)
                      : pl_srtp_unprotect_rtp(c->srtp, buf, &n);
        if (rc < 0) return rc;
        if (c->media) c->media(c->opaque, buf, n, rtcp);
        return 0;
    }
    return -PL_EINVAL;
}

void pl_rtc_client_tick(pl_rtc_client_t *c)
{
    uint64_t ms;
    if (pl_dtls_state(c->dtls) == PL_DTLS_CONNECTING && pl_dtls_timeout_ms(c->dtls, &ms) == 0 &&
        ms == 0)
        pl_dtls_on_timer(c->dtls);
}

int pl_rtc_client_send(pl_rtc_client_t *c, uint8_t *buf, size_t len, size_t cap, bool rtcp)
{
    if (!c->srtp) return -PL_EUNAVAIL;
    size_t n = len;
    int rc = rtcp ? pl_srtp_protect_rtcp(c->srtp, buf, cap, &n)
                  : pl_srtp_protect_rtp(c->srtp, buf, cap, &n);
    if (rc < 0) return rc;
    c->send(c->opaque, buf, n);
    return 0;
}

bool pl_rtc_client_connected(const pl_rtc_client_t *c)
{
    return c->srtp && pl_dtls_state(c->dtls) == PL_DTLS_CONNECTED;
}
bool pl_rtc_client_failed(const pl_rtc_client_t *c) { return c->failed; }
int pl_rtc_client_stun_ok(const pl_rtc_client_t *c) { return c->stun_ok; }
int pl_rtc_client_stun_errors(const pl_rtc_client_t *c) { return c->stun_err; }
