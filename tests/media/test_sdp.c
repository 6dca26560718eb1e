/* Unit tests for media/sdp.c and media/sdp_write.c: real Chromium offers parsed, answered, and
 * the answers parsed back; malformed, oversized and hostile offers rejected with a reason.
 *
 * The fixtures in tests/media/fixtures/ are offers from Debian's Chromium 156 (headless, fake
 * camera and microphone, RTCPeerConnection with bundlePolicy max-bundle and rtcpMuxPolicy
 * require): camera sendrecv, recvonly transceivers, a bare addTransceiver('video') as a
 * screen share would make, camera plus screen (sendonly), an ICE restart re-offer, a data
 * channel next to camera tracks, and setCodecPreferences variants without opus, with only
 * VP9/AV1 video and with only H264. The answers this writer produces for each were fed back to
 * that Chromium with setRemoteDescription and accepted; the suite itself needs no browser.
 * MINI below is hand-written in the shape Firefox uses (session-level fingerprint and setup,
 * non-numeric mids) to cover what Chromium never writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "media/sdp.h"

#define FP32                                                                                       \
    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:"      \
    "77:88:99"

static const char MINI[] = "v=0\r\n"
                           "o=- 1 1 IN IP4 0.0.0.0\r\n"
                           "s=-\r\n"
                           "t=0 0\r\n"
                           "a=fingerprint:sha-256 " FP32 "\r\n"
                           "a=group:BUNDLE a v\r\n"
                           "a=setup:actpass\r\n"
                           "a=ice-options:trickle\r\n"
                           "m=audio 9 UDP/TLS/RTP/SAVPF 109 0\r\n"
                           "c=IN IP4 0.0.0.0\r\n"
                           "a=mid:a\r\n"
                           "a=ice-ufrag:abcd\r\n"
                           "a=ice-pwd:0123456789abcdefghijkl\r\n"
                           "a=sendrecv\r\n"
                           "a=rtcp-mux\r\n"
                           "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
                           "a=extmap:3/sendonly urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
                           "a=rtpmap:109 opus/48000/2\r\n"
                           "a=fmtp:109 maxplaybackrate=48000; stereo=1;useinbandfec=1\r\n"
                           "a=rtpmap:0 PCMU/8000\r\n"
                           "m=video 9 UDP/TLS/RTP/SAVPF 120 124\r\n"
                           "c=IN IP4 0.0.0.0\r\n"
                           "a=mid:v\r\n"
                           "a=ice-ufrag:abcd\r\n"
                           "a=ice-pwd:0123456789abcdefghijkl\r\n"
                           "a=recvonly\r\n"
                           "a=rtcp-mux\r\n"
                           "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
                           "a=rtcp-fb:* nack\r\n"
                           "a=rtpmap:120 VP8/90000\r\n"
                           "a=rtcp-fb:120 nack pli\r\n"
                           "a=rtcp-fb:120 ccm fir\r\n"
                           "a=rtcp-fb:120 x-unknown\r\n"
                           "a=rtpmap:124 rtx/90000\r\n"
                           "a=fmtp:124 apt=120\r\n";

static const char *const FIXTURES[] = {
    "chromium_sendrecv.sdp",           "chromium_recvonly.sdp",     "chromium_screenshare.sdp",
    "chromium_camera_and_screen.sdp",  "chromium_ice_restart.sdp",  "chromium_no_opus.sdp",
    "chromium_audio_only_no_opus.sdp", "chromium_vp9_av1_only.sdp", "chromium_h264_only.sdp",
    "chromium_with_datachannel.sdp",
};
#define N_FIXTURES (sizeof FIXTURES / sizeof FIXTURES[0])

/* ---- helpers ---- */

static FILE *open_fixture(const char *name)
{
    char path[4096], exe[4096];

    /* __FILE__ is the path make gave the compiler (relative to the repo root, where make unit
     * runs tests); the binary's own place (build/tests/media/) covers any other cwd. */
    snprintf(path, sizeof path, "%s", __FILE__);
    char *dir = dirname(path);
    char full[8192];
    snprintf(full, sizeof full, "%s/fixtures/%s", dir, name);
    FILE *f = fopen(full, "rb");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (f == NULL && n > 0) {
        exe[n] = '\0';
        snprintf(full, sizeof full, "%s/../../../tests/media/fixtures/%s", dirname(exe), name);
        f = fopen(full, "rb");
    }
    return f;
}

/* The fixture's bytes plus a NUL; the caller frees. */
static char *fixture(const char *name)
{
    FILE *f = open_fixture(name);
    assert_non_null(f);
    char *buf = malloc(PL_SDP_MAX_TEXT + 1);
    assert_non_null(buf);
    size_t n = fread(buf, 1, PL_SDP_MAX_TEXT, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* text with the first `from` replaced by `to`; the caller frees. */
static char *replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    size_t pre = (size_t)(at - text), fl = strlen(from), tl = strlen(to);
    char *out = malloc(strlen(text) - fl + tl + 1);
    assert_non_null(out);
    memcpy(out, text, pre);
    memcpy(out + pre, to, tl);
    strcpy(out + pre + tl, at + fl);
    return out;
}

/* text without any line that starts with prefix; the caller frees. */
static char *drop_lines(const char *text, const char *prefix)
{
    char *out = malloc(strlen(text) + 1), *o = out;
    assert_non_null(out);
    for (const char *p = text; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
        if (strncmp(p, prefix, strlen(prefix)) != 0) {
            memcpy(o, p, n);
            o += n;
        }
        p += n;
    }
    *o = '\0';
    return out;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* 1-based line number of the first line containing needle. */
static int line_of(const char *text, const char *needle)
{
    const char *at = strstr(text, needle);
    assert_non_null(at);
    int line = 1;
    for (const char *p = text; p < at; p++)
        line += *p == '\n';
    return line;
}

static int parse(const char *text, pl_sdp_offer_t **o, pl_sdp_error_t *err)
{
    return pl_sdp_offer_parse((const uint8_t *)text, strlen(text), o, err);
}

static pl_sdp_offer_t *parse_ok(const char *text)
{
    pl_sdp_offer_t *o = NULL;
    pl_sdp_error_t err;
    int rc = parse(text, &o, &err);
    if (rc != 0) fail_msg("parse failed: %d line %d: %s", rc, err.line, err.what);
    return o;
}

/* Parses text, expects rc, a NULL offer and a reason; returns the reason's line. */
static int expect_reject(const char *text, int rc)
{
    pl_sdp_offer_t *o = (pl_sdp_offer_t *)&o;
    pl_sdp_error_t err = {-1, NULL};
    assert_int_equal(parse(text, &o, &err), rc);
    assert_null(o);
    assert_non_null(err.what);
    return err.line;
}

/* Replaces from with to in text and expects the result to be rejected with rc. */
static void reject_edit(const char *text, const char *from, const char *to, int rc)
{
    char *t = replace(text, from, to);
    expect_reject(t, rc);
    free(t);
}

static pl_sdp_answer_params_t params(void)
{
    pl_sdp_answer_params_t p = {
        .session_id = 4611686018427387904ULL,
        .session_version = 2,
        .ice_ufrag = "PaRl",
        .ice_pwd = "parleyparleyparleypa+/",
        .candidate_ip = "127.0.0.1",
        .candidate_port = 40000,
    };
    for (int i = 0; i < PL_SDP_FINGERPRINT_LEN; i++)
        p.fingerprint[i] = (uint8_t)(0xA0 + i);
    return p;
}

#define OUR_FP                                                                                     \
    "A0:A1:A2:A3:A4:A5:A6:A7:A8:A9:AA:AB:AC:AD:AE:AF:B0:B1:B2:B3:B4:B5:B6:B7:B8:B9:BA:BB:BC:"      \
    "BD:BE:BF"

/* Answers text with p; the caller frees *answer and destroys the result (the parsed answer). */
static pl_sdp_offer_t *answer_with(const char *text, const pl_sdp_answer_params_t *p, char **answer,
                                   pl_sdp_negotiated_t *neg)
{
    pl_sdp_offer_t *o = parse_ok(text);
    pl_sdp_error_t err;
    int rc = pl_sdp_answer_create(o, p, answer, neg, &err);
    if (rc != 0) fail_msg("answer failed: %d: %s", rc, err.what);
    pl_sdp_offer_destroy(o);
    /* Every answer must parse with the same parser and use CRLF throughout. */
    assert_int_equal(count(*answer, "\n"), count(*answer, "\r\n"));
    return parse_ok(*answer);
}

static const pl_sdp_codec_t *codec(const pl_sdp_section_t *s, int pt)
{
    const pl_sdp_codec_t *c = pl_sdp_section_codec_by_pt(s, pt);
    assert_non_null(c);
    return c;
}

static int ext_id(const pl_sdp_section_t *s, const char *uri)
{
    for (size_t i = 0; i < s->n_extmaps; i++) {
        if (strcmp(s->extmaps[i].uri, uri) == 0) return s->extmaps[i].id;
    }
    return 0;
}

#define URI_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define URI_AST "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define URI_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define URI_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

/* ---- parsing real offers ---- */

static void test_chromium_offer_gives_transport_from_tagged_section(void **state)
{
    (void)state;
    char *t = fixture("chromium_sendrecv.sdp");
    pl_sdp_offer_t *o = parse_ok(t);
    static const uint8_t fp_head[] = {0xB3, 0x6D, 0xD4, 0x97}, fp_tail[] = {0x93, 0x67, 0x14};
    const pl_sdp_session_t *sess = pl_sdp_offer_session(o);

    assert_string_equal(sess->ice_ufrag, "C+dm");
    assert_string_equal(sess->ice_pwd, "qG/T6+okJOEXSHaOMn0I43P1");
    assert_string_equal(sess->ice_options, "trickle");
    assert_string_equal(sess->fingerprint_alg, "sha-256");
    assert_memory_equal(sess->fingerprint, fp_head, sizeof fp_head);
    assert_memory_equal(sess->fingerprint + 29, fp_tail, sizeof fp_tail);
    assert_int_equal(sess->setup, PL_SDP_SETUP_ACTPASS);
    assert_false(sess->ice_lite);
    assert_true(sess->extmap_allow_mixed);
    assert_int_equal(sess->n_bundle, 2);
    assert_string_equal(sess->bundle[0], "0");
    assert_string_equal(sess->bundle[1], "1");
    assert_int_equal(pl_sdp_offer_section_count(o), 2);
    assert_null(pl_sdp_offer_section(o, 2));
    assert_ptr_equal(pl_sdp_offer_find_mid(o, "1"), pl_sdp_offer_section(o, 1));
    assert_null(pl_sdp_offer_find_mid(o, "9"));
    pl_sdp_offer_destroy(o);
    free(t);
}

static void test_chromium_audio_section_has_opus_extmaps_msid_and_ssrc(void **state)
{
    (void)state;
    char *t = fixture("chromium_sendrecv.sdp");
    pl_sdp_offer_t *o = parse_ok(t);
    const pl_sdp_section_t *a = pl_sdp_offer_section(o, 0);

    assert_int_equal(a->kind, PL_SDP_KIND_AUDIO);
    assert_string_equal(a->media, "audio");
    assert_string_equal(a->proto, "UDP/TLS/RTP/SAVPF");
    assert_string_equal(a->mid, "0");
    assert_int_equal(a->port, 9);
    assert_false(a->rejected);
    assert_true(a->in_bundle);
    assert_true(a->rtcp_mux);
    assert_int_equal(a->dir, PL_SDP_SENDRECV);
    assert_int_equal(a->n_codecs, 8);
    assert_int_equal(a->codecs[0].pt, 111);
    const pl_sdp_codec_t *opus = codec(a, 111);
    assert_string_equal(opus->name, "opus");
    assert_int_equal(opus->clock, 48000);
    assert_int_equal(opus->channels, 2);
    assert_string_equal(opus->fmtp, "minptime=10;useinbandfec=1");
    assert_int_equal(opus->fb, PL_SDP_FB_TRANSPORT_CC);
    assert_int_equal(opus->rtx_pt, -1);
    assert_int_equal(codec(a, 0)->clock, 8000);
    assert_string_equal(codec(a, 63)->fmtp, "111/111");
    assert_null(pl_sdp_section_codec_by_pt(a, 96));
    assert_null(pl_sdp_section_codec_by_pt(a, -1));
    assert_int_equal(a->n_extmaps, 4);
    assert_int_equal(ext_id(a, URI_LEVEL), 1);
    assert_int_equal(ext_id(a, URI_MID), 4);
    assert_false(a->extmaps[0].has_dir);
    assert_string_equal(a->msid_stream, "689250f4-be99-43c5-bedb-d60f8ae4c8d3");
    assert_string_equal(a->msid_track, "48d45283-fdf3-413a-9f6d-0b93922b2875");
    assert_int_equal(a->n_ssrcs, 1);
    const pl_sdp_ssrc_t *ss = &a->ssrcs[0];
    assert_int_equal(ss->ssrc, 2886586202u);
    assert_string_equal(ss->cname, "vJzDORfbJ7iFPIVn");
    assert_string_equal(ss->msid_track, "48d45283-fdf3-413a-9f6d-0b93922b2875");
    assert_int_equal(a->n_fids, 0);
    pl_sdp_offer_destroy(o);
    free(t);
}

static void test_chromium_video_section_links_rtx_and_fid(void **state)
{
    (void)state;
    char *t = fixture("chromium_sendrecv.sdp");
    pl_sdp_offer_t *o = parse_ok(t);
    const pl_sdp_section_t *v = pl_sdp_offer_find_mid(o, "1");
    char val[16];

    assert_int_equal(v->kind, PL_SDP_KIND_VIDEO);
    assert_int_equal(v->n_codecs, 23);
    const pl_sdp_codec_t *vp8 = codec(v, 96);
    assert_string_equal(vp8->name, "VP8");
    assert_int_equal(vp8->rtx_pt, 97);
    assert_int_equal(vp8->apt, -1);
    assert_int_equal(vp8->fb, PL_SDP_FB_NACK | PL_SDP_FB_NACK_PLI | PL_SDP_FB_CCM_FIR |
                                  PL_SDP_FB_GOOG_REMB | PL_SDP_FB_TRANSPORT_CC);
    assert_int_equal(codec(v, 97)->apt, 96);
    assert_int_equal(codec(v, 119)->apt, 118); /* rtx of red */
    assert_int_equal(codec(v, 120)->rtx_pt, -1);
    assert_int_equal(pl_sdp_fmtp_param(codec(v, 108)->fmtp, "profile-level-id", val, sizeof val),
                     0);
    assert_string_equal(val, "42e01f");
    assert_int_equal(ext_id(v, URI_TWCC), 3);
    assert_int_equal(ext_id(v, "urn:ietf:params:rtp-hdrext:toffset"), 14);
    assert_int_equal(v->n_fids, 1);
    assert_int_equal(v->fids[0].ssrc, 1676914129u);
    assert_int_equal(v->fids[0].rtx_ssrc, 1767421758u);
    assert_int_equal(v->n_ssrcs, 2);
    pl_sdp_offer_destroy(o);
    free(t);
}

static void test_every_fixture_parses_with_crlf_and_with_lf(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_FIXTURES; i++) {
        char *t = fixture(FIXTURES[i]);
        pl_sdp_offer_destroy(parse_ok(t));
        char *lf = malloc(strlen(t) + 1), *w = lf;
        assert_non_null(lf);
        for (char *r = t; *r != '\0'; r++) {
            if (*r != '\r') *w++ = *r;
        }
        *w = '\0';
        pl_sdp_offer_t *o = parse_ok(lf);
        assert_true(pl_sdp_offer_section_count(o) >= 1);
        pl_sdp_offer_destroy(o);
        free(lf);
        free(t);
    }
}

static void test_recvonly_offer_has_no_msid_or_ssrc(void **state)
{
    (void)state;
    char *t = fixture("chromium_recvonly.sdp");
    pl_sdp_offer_t *o = parse_ok(t);
    for (size_t i = 0; i < 2; i++) {
        const pl_sdp_section_t *s = pl_sdp_offer_section(o, i);
        assert_int_equal(s->dir, PL_SDP_RECVONLY);
        assert_null(s->msid_stream);
        assert_int_equal(s->n_ssrcs, 0);
    }
    pl_sdp_offer_destroy(o);
    free(t);
}

static void test_data_channel_section_needs_no_rtcp_mux(void **state)
{
    (void)state;
    char *t = fixture("chromium_with_datachannel.sdp");
    pl_sdp_offer_t *o = parse_ok(t);
    const pl_sdp_section_t *d = pl_sdp_offer_find_mid(o, "2");
    assert_int_equal(d->kind, PL_SDP_KIND_APPLICATION);
    assert_string_equal(d->fmt, "webrtc-datachannel");
    assert_false(d->rtcp_mux);
    assert_int_equal(d->n_codecs, 0);
    pl_sdp_offer_destroy(o);
    free(t);
}

static void test_session_level_fingerprint_setup_and_wildcard_feedback(void **state)
{
    (void)state;
    pl_sdp_offer_t *o = parse_ok(MINI);
    const pl_sdp_session_t *sess = pl_sdp_offer_session(o);
    assert_string_equal(sess->ice_ufrag, "abcd");
    assert_string_equal(sess->ice_options, "trickle");
    assert_int_equal(sess->fingerprint[0], 0xAA);
    assert_int_equal(sess->fingerprint[31], 0x99);
    assert_int_equal(sess->setup, PL_SDP_SETUP_ACTPASS);
    const pl_sdp_section_t *a = pl_sdp_offer_find_mid(o, "a"), *v = pl_sdp_offer_find_mid(o, "v");
    assert_true(a->extmaps[1].has_dir);
    assert_int_equal(a->extmaps[1].dir, PL_SDP_SENDONLY);
    assert_string_equal(codec(a, 0)->name, "PCMU");
    assert_int_equal(codec(a, 0)->channels, 0);
    assert_int_equal(codec(v, 120)->fb, PL_SDP_FB_NACK | PL_SDP_FB_NACK_PLI | PL_SDP_FB_CCM_FIR);
    assert_int_equal(codec(v, 124)->fb, PL_SDP_FB_NACK);
    pl_sdp_offer_destroy(o);
}

static void test_bundle_only_section_with_port_0_is_active(void **state)
{
    (void)state;
    char *t = replace(MINI, "m=video 9", "m=video 0");
    char *b = replace(t, "a=mid:v\r\n", "a=mid:v\r\na=bundle-only\r\n");
    pl_sdp_offer_t *o = parse_ok(b);
    const pl_sdp_section_t *v = pl_sdp_offer_find_mid(o, "v");
    assert_int_equal(v->port, 0);
    assert_false(v->rejected);
    pl_sdp_offer_destroy(o);
    /* Without a=bundle-only, port 0 is a stopped section: outside the group it is fine. */
    char *g = replace(t, "BUNDLE a v", "BUNDLE a");
    o = parse_ok(g);
    assert_true((pl_sdp_offer_find_mid(o, "v"))->rejected);
    assert_false((pl_sdp_offer_find_mid(o, "v"))->in_bundle);
    pl_sdp_offer_destroy(o);
    free(g);
    free(b);
    free(t);
}

static void test_fmtp_param_finds_keys_without_case_and_bounds_output(void **state)
{
    (void)state;
    char v[8];
    const char *f = "level-asymmetry-allowed=1; packetization-mode=1;Profile-Level-Id=42e01f;x";

    assert_int_equal(pl_sdp_fmtp_param(f, "packetization-mode", v, sizeof v), 0);
    assert_string_equal(v, "1");
    assert_int_equal(pl_sdp_fmtp_param(f, "profile-level-id", v, sizeof v), 0);
    assert_string_equal(v, "42e01f");
    assert_int_equal(pl_sdp_fmtp_param(f, "x", v, sizeof v), 0);
    assert_string_equal(v, "");
    assert_int_equal(pl_sdp_fmtp_param(f, "level", v, sizeof v), -PL_ENOTFOUND);
    assert_int_equal(pl_sdp_fmtp_param(f, "profile-level-id", v, 6), -PL_ETOOBIG);
    assert_string_equal(v, "");
    assert_int_equal(pl_sdp_fmtp_param(NULL, "x", v, sizeof v), -PL_EINVAL);
    assert_int_equal(pl_sdp_fmtp_param("", "x", v, sizeof v), -PL_ENOTFOUND);
}

/* ---- answers ---- */

static void test_answer_to_chromium_sendrecv_round_trips(void **state)
{
    (void)state;
    char *t = fixture("chromium_sendrecv.sdp"), *ans;
    pl_sdp_answer_section_t secs[] = {
        {.mid = "0",
         .ssrc = 1111,
         .rtx_ssrc = 1112,
         .cname = "parley",
         .msid_stream = "s",
         .msid_track = "ta"},
        {.mid = "1",
         .ssrc = 2222,
         .rtx_ssrc = 2223,
         .cname = "parley",
         .msid_stream = "s",
         .msid_track = "tv"},
    };
    pl_sdp_answer_params_t p = params();
    p.sections = secs;
    p.n_sections = 2;
    pl_sdp_negotiated_t neg;
    pl_sdp_offer_t *a = answer_with(t, &p, &ans, &neg);

    assert_true(strncmp(ans, "v=0\r\no=- 4611686018427387904 2 IN IP4 ", 38) == 0);
    const pl_sdp_session_t *sess = pl_sdp_offer_session(a);
    assert_true(sess->ice_lite);
    assert_false(sess->extmap_allow_mixed);
    assert_string_equal(sess->ice_ufrag, "PaRl");
    assert_string_equal(sess->ice_pwd, "parleyparleyparleypa+/");
    assert_memory_equal(sess->fingerprint, p.fingerprint, PL_SDP_FINGERPRINT_LEN);
    assert_int_equal(sess->setup, PL_SDP_SETUP_PASSIVE);
    assert_int_equal(sess->n_bundle, 2);
    assert_non_null(strstr(ans, "a=fingerprint:sha-256 " OUR_FP "\r\n"));
    /* One candidate, on the tagged section only, then end-of-candidates. */
    assert_int_equal(count(ans, "a=candidate:"), 1);
    assert_non_null(strstr(ans, "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n"
                                "a=end-of-candidates\r\n"));
    assert_true(line_of(ans, "a=candidate:") < line_of(ans, "m=video"));
    assert_int_equal(count(ans, "a=ice-ufrag:"), 1);
    assert_int_equal(count(ans, "a=rtcp-mux\r\n"), 2);
    assert_int_equal(count(ans, "c=IN IP4 127.0.0.1\r\n"), 2);
    assert_null(strstr(ans, "rtcp-rsize"));
    assert_null(strstr(ans, "red/"));

    const pl_sdp_section_t *au = pl_sdp_offer_section(a, 0), *vi = pl_sdp_offer_section(a, 1);
    assert_int_equal(au->port, 40000);
    assert_int_equal(au->dir, PL_SDP_SENDRECV);
    assert_int_equal(au->n_codecs, 1);
    assert_string_equal(codec(au, 111)->fmtp, "minptime=10;useinbandfec=1");
    assert_int_equal(codec(au, 111)->fb, PL_SDP_FB_TRANSPORT_CC);
    assert_int_equal(au->n_extmaps, 4);
    assert_int_equal(ext_id(au, URI_LEVEL), 1);
    assert_int_equal(ext_id(au, URI_AST), 2);
    assert_int_equal(ext_id(au, URI_TWCC), 3);
    assert_int_equal(ext_id(au, URI_MID), 4);
    assert_int_equal(au->ssrcs[0].ssrc, 1111);
    assert_string_equal(au->ssrcs[0].cname, "parley");
    assert_int_equal(au->n_fids, 0); /* opus has no rtx */
    assert_string_equal(au->msid_track, "ta");

    assert_int_equal(vi->n_codecs, 4);
    assert_int_equal(vi->codecs[0].pt, 96); /* VP8 first */
    assert_int_equal(codec(vi, 96)->rtx_pt, 97);
    assert_string_equal(codec(vi, 108)->fmtp,
                        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
    assert_int_equal(codec(vi, 108)->rtx_pt, 109);
    assert_int_equal(codec(vi, 108)->fb, codec(vi, 96)->fb);
    assert_int_equal(vi->n_extmaps, 3); /* toffset, orientation... dropped */
    assert_int_equal(vi->fids[0].ssrc, 2222);
    assert_int_equal(vi->fids[0].rtx_ssrc, 2223);
    assert_int_equal(vi->n_ssrcs, 2);

    pl_sdp_offer_destroy(a);
    free(ans);
    free(t);
}

static void test_negotiated_view_matches_answer(void **state)
{
    (void)state;
    char *t = fixture("chromium_sendrecv.sdp"), *ans;
    pl_sdp_answer_params_t p = params();
    pl_sdp_negotiated_t neg;
    pl_sdp_offer_destroy(answer_with(t, &p, &ans, &neg));

    assert_int_equal(neg.n_sections, 2);
    assert_string_equal(neg.bundle_tag, "0");
    const pl_sdp_neg_section_t *a = pl_sdp_negotiated_find(&neg, "0");
    const pl_sdp_neg_section_t *v = pl_sdp_negotiated_find(&neg, "1");
    assert_null(pl_sdp_negotiated_find(&neg, "2"));
    assert_true(a->accepted);
    assert_int_equal(a->kind, PL_SDP_KIND_AUDIO);
    assert_int_equal(a->n_codecs, 1);
    assert_int_equal(a->codecs[0].codec, PL_SDP_CODEC_OPUS);
    assert_int_equal(a->codecs[0].pt, 111);
    assert_int_equal(a->codecs[0].rtx_pt, -1);
    assert_int_equal(a->ext_id[PL_SDP_EXT_AUDIO_LEVEL], 1);
    assert_int_equal(a->ext_id[PL_SDP_EXT_MID], 4);
    assert_int_equal(a->ssrc, 0); /* none asked for */
    assert_int_equal(v->n_codecs, 2);
    assert_int_equal(v->codecs[0].codec, PL_SDP_CODEC_VP8);
    assert_int_equal(v->codecs[0].rtx_pt, 97);
    assert_int_equal(v->codecs[0].clock, 90000);
    assert_true(v->codecs[0].fb & PL_SDP_FB_NACK_PLI);
    assert_int_equal(v->codecs[1].codec, PL_SDP_CODEC_H264);
    assert_int_equal(v->codecs[1].pt, 108);
    assert_int_equal(v->ext_id[PL_SDP_EXT_TRANSPORT_CC], 3);
    assert_int_equal(v->ext_id[PL_SDP_EXT_AUDIO_LEVEL], 0);
    assert_string_equal(pl_sdp_ext_uri(PL_SDP_EXT_ABS_SEND_TIME), URI_AST);
    assert_null(pl_sdp_ext_uri(PL_SDP_EXT_COUNT));
    free(ans);
    free(t);
}

static void test_no_rtx_answers_no_rtx_payload_types_and_no_fid_group(void **state)
{
    (void)state;
    char *t = fixture("chromium_sendrecv.sdp"), *ans;
    pl_sdp_answer_section_t secs[] = {
        {.mid = "1", .ssrc = 2222, .rtx_ssrc = 2223, .cname = "parley"},
    };
    pl_sdp_answer_params_t p = params();
    p.sections = secs;
    p.n_sections = 1;
    p.no_rtx = true;
    pl_sdp_negotiated_t neg;
    pl_sdp_offer_t *a = answer_with(t, &p, &ans, &neg);

    /* The browser must never send RTX: no rtx/apt lines, and the rtx SSRC asked for is
     * ignored, so no FID group either. */
    assert_null(strstr(ans, "rtx/"));
    assert_null(strstr(ans, "apt="));
    assert_null(strstr(ans, "ssrc-group"));
    assert_null(strstr(ans, "2223"));
    const pl_sdp_section_t *vi = pl_sdp_offer_section(a, 1);
    assert_non_null(strstr(ans, "m=video 40000 UDP/TLS/RTP/SAVPF 96 108\r\n"));
    assert_int_equal(vi->n_codecs, 2);
    assert_int_equal(codec(vi, 96)->rtx_pt, -1);
    assert_int_equal(vi->n_fids, 0);
    assert_int_equal(vi->n_ssrcs, 1);
    assert_int_equal(vi->ssrcs[0].ssrc, 2222);
    /* NACK itself stays: the SFU answers it in the original stream. */
    assert_true(codec(vi, 96)->fb & PL_SDP_FB_NACK);
    const pl_sdp_neg_section_t *v = pl_sdp_negotiated_find(&neg, "1");
    assert_int_equal(v->codecs[0].rtx_pt, -1);
    assert_int_equal(v->codecs[1].rtx_pt, -1);
    assert_int_equal(v->ssrc, 2222);
    assert_int_equal(v->rtx_ssrc, 0);
    /* transport-cc is untouched by no_rtx. */
    assert_int_equal(v->ext_id[PL_SDP_EXT_TRANSPORT_CC], 3);
    pl_sdp_offer_destroy(a);
    free(ans);
    free(t);
}

static void test_no_transport_cc_leaves_remb_and_abs_send_time(void **state)
{
    (void)state;
    char *t = fixture("chromium_sendrecv.sdp"), *ans;
    pl_sdp_answer_params_t p = params();
    p.no_transport_cc = true;
    pl_sdp_negotiated_t neg;
    pl_sdp_offer_t *a = answer_with(t, &p, &ans, &neg);

    /* Chrome then estimates bandwidth from REMB, with abs-send-time. */
    assert_null(strstr(ans, "transport-cc"));
    assert_null(strstr(ans, URI_TWCC));
    assert_int_equal(count(ans, "goog-remb"), 2); /* VP8 and H264 */
    const pl_sdp_section_t *au = pl_sdp_offer_section(a, 0), *vi = pl_sdp_offer_section(a, 1);
    assert_int_equal(codec(au, 111)->fb, 0);
    assert_int_equal(au->n_extmaps, 3);
    assert_int_equal(ext_id(au, URI_AST), 2);
    assert_int_equal(ext_id(vi, URI_TWCC), 0);
    assert_int_equal(ext_id(vi, URI_AST), 2);
    uint32_t fb = PL_SDP_FB_NACK | PL_SDP_FB_NACK_PLI | PL_SDP_FB_CCM_FIR | PL_SDP_FB_GOOG_REMB;
    assert_int_equal(codec(vi, 96)->fb, fb);
    assert_int_equal(codec(vi, 96)->rtx_pt, 97); /* rtx is untouched by no_transport_cc */
    for (size_t i = 0; i < neg.n_sections; i++) {
        assert_int_equal(neg.sections[i].ext_id[PL_SDP_EXT_TRANSPORT_CC], 0);
        for (size_t k = 0; k < neg.sections[i].n_codecs; k++)
            assert_false(neg.sections[i].codecs[k].fb & PL_SDP_FB_TRANSPORT_CC);
    }
    assert_int_equal(neg.sections[1].ext_id[PL_SDP_EXT_ABS_SEND_TIME], 2);
    pl_sdp_offer_destroy(a);
    free(ans);
    free(t);
}

static void test_answer_reverses_directions_and_announces_only_when_sending(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        pl_sdp_dir_t want;
    } cases[] = {
        {"chromium_recvonly.sdp", PL_SDP_SENDONLY},
        {"chromium_camera_and_screen.sdp", PL_SDP_RECVONLY},
        {"chromium_screenshare.sdp", PL_SDP_SENDRECV},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = fixture(cases[i].file), *ans;
        pl_sdp_answer_section_t sec = {.mid = "0", .ssrc = 5, .cname = "c"};
        pl_sdp_answer_params_t p = params();
        p.sections = &sec;
        p.n_sections = 1;
        pl_sdp_negotiated_t neg;
        pl_sdp_offer_t *a = answer_with(t, &p, &ans, &neg);
        for (size_t k = 0; k < pl_sdp_offer_section_count(a); k++)
            assert_int_equal((pl_sdp_offer_section(a, k))->dir, cases[i].want);
        bool sends = cases[i].want != PL_SDP_RECVONLY;
        assert_int_equal(count(ans, "a=ssrc:5 cname:c\r\n"), sends ? 1 : 0);
        assert_int_equal(neg.sections[0].ssrc, sends ? 5 : 0);
        pl_sdp_offer_destroy(a);
        free(ans);
        free(t);
    }
}

static void test_forced_direction_is_narrowed_to_what_offer_allows(void **state)
{
    (void)state;
    /* MINI: audio sendrecv, video recvonly. */
    pl_sdp_answer_section_t secs[] = {
        {.mid = "a", .force_dir = true, .dir = PL_SDP_RECVONLY},
        {.mid = "v", .force_dir = true, .dir = PL_SDP_SENDRECV},
    };
    pl_sdp_answer_params_t p = params();
    p.sections = secs;
    p.n_sections = 2;
    char *ans;
    pl_sdp_negotiated_t neg;
    pl_sdp_offer_t *a = answer_with(MINI, &p, &ans, &neg);
    assert_int_equal((pl_sdp_offer_find_mid(a, "a"))->dir, PL_SDP_RECVONLY);
    assert_int_equal((pl_sdp_offer_find_mid(a, "v"))->dir, PL_SDP_SENDONLY);
    assert_int_equal(neg.sections[1].dir, PL_SDP_SENDONLY);
    pl_sdp_offer_destroy(a);
    free(ans);

    secs[0].dir = PL_SDP_INACTIVE;
    a = answer_with(MINI, &p, &ans, &neg);
    assert_int_equal((pl_sdp_offer_find_mid(a, "a"))->dir, PL_SDP_INACTIVE);
    assert_true(neg.sections[0].accepted);
    pl_sdp_offer_destroy(a);
    free(ans);
}

static void test_answer_keeps_offer_extmap_ids_and_reverses_their_direction(void **state)
{
    (void)state;
    pl_sdp_answer_params_t p = params();
    char *ans;
    pl_sdp_negotiated_t neg;
    pl_sdp_offer_destroy(answer_with(MINI, &p, &ans, &neg));
    assert_non_null(strstr(ans, "a=extmap:3/recvonly " URI_MID "\r\n"));
    assert_non_null(strstr(ans, "a=extmap:1 " URI_LEVEL "\r\n"));
    /* Wildcard nack reaches VP8; the unknown feedback type is not echoed. */
    assert_non_null(strstr(ans, "a=rtcp-fb:120 nack\r\n"));
    assert_null(strstr(ans, "x-unknown"));
    assert_non_null(strstr(ans, "a=rtpmap:124 rtx/90000\r\na=fmtp:124 apt=120\r\n"));
    free(ans);

    /* Two-byte ids are offered only with extmap-allow-mixed, and never answered. */
    char *t = replace(MINI, "a=extmap:1 ", "a=extmap:200 ");
    char *m = replace(t, "t=0 0\r\n", "t=0 0\r\na=extmap-allow-mixed\r\n");
    pl_sdp_offer_destroy(answer_with(m, &p, &ans, &neg));
    assert_null(strstr(ans, URI_LEVEL));
    assert_null(strstr(ans, "extmap-allow-mixed"));
    assert_int_equal(neg.sections[0].ext_id[PL_SDP_EXT_AUDIO_LEVEL], 0);
    assert_int_equal(neg.sections[0].ext_id[PL_SDP_EXT_MID], 3);
    free(ans);
    free(m);
    free(t);
}

static void test_only_vp9_av1_video_is_rejected_with_port_0(void **state)
{
    (void)state;
    char *t = fixture("chromium_vp9_av1_only.sdp"), *ans;
    pl_sdp_answer_params_t p = params();
    pl_sdp_negotiated_t neg;
    pl_sdp_offer_t *a = answer_with(t, &p, &ans, &neg);
    assert_non_null(strstr(ans, "m=video 0 UDP/TLS/RTP/SAVPF 98\r\n"));
    assert_non_null(strstr(ans, "a=group:BUNDLE 0\r\n"));
    const pl_sdp_section_t *v = pl_sdp_offer_find_mid(a, "1");
    assert_true(v->rejected);
    assert_false(v->in_bundle);
    assert_false(neg.sections[1].accepted);
    assert_int_equal(neg.sections[1].n_codecs, 0);
    assert_true(neg.sections[0].accepted);
    pl_sdp_offer_destroy(a);
    free(ans);
    free(t);
}

static void test_unusable_tagged_audio_is_kept_inactive_for_the_transport(void **state)
{
    (void)state;
    char *t = fixture("chromium_no_opus.sdp"), *ans;
    pl_sdp_answer_params_t p = params();
    pl_sdp_negotiated_t neg;
    pl_sdp_offer_t *a = answer_with(t, &p, &ans, &neg);
    assert_non_null(strstr(ans, "a=group:BUNDLE 0 1\r\n"));
    assert_non_null(strstr(ans, "m=audio 40000 UDP/TLS/RTP/SAVPF 9\r\n"));
    assert_non_null(strstr(ans, "a=rtpmap:9 G722/8000\r\n"));
    assert_int_equal((pl_sdp_offer_find_mid(a, "0"))->dir, PL_SDP_INACTIVE);
    assert_string_equal(neg.bundle_tag, "0");
    assert_true(neg.sections[0].accepted);
    assert_int_equal(neg.sections[0].n_codecs, 0);
    assert_int_equal(neg.sections[1].codecs[0].codec, PL_SDP_CODEC_VP8);
    pl_sdp_offer_destroy(a);
    free(ans);
    free(t);
}

/* Found by fuzz/fuzz_sdp.c: the parser takes formats as payload types only when the proto
 * contains "RTP/" with that case, so a tagged section with proto "UDP/TLS/RtP/SAVPF" has no
 * codecs. The answer used to keep it inactive anyway and read its first codec, a NULL name. */
static void test_tagged_section_without_payload_types_is_refused_not_kept(void **state)
{
    (void)state;
    char *t = fixture("chromium_sendrecv.sdp");
    char *odd = replace(t, "m=audio 9 UDP/TLS/RTP/SAVPF", "m=audio 9 UDP/TLS/RtP/SAVPF");
    pl_sdp_offer_t *o = parse_ok(odd);
    assert_int_equal(pl_sdp_offer_section(o, 0)->n_codecs, 0);
    pl_sdp_answer_params_t p = params();
    pl_sdp_error_t err;
    char *ans = (char *)&ans;
    assert_int_equal(pl_sdp_answer_create(o, &p, &ans, NULL, &err), -PL_EINVAL);
    assert_null(ans);
    assert_string_equal(err.what, "offerer-tagged m-section cannot be accepted");
    pl_sdp_offer_destroy(o);
    free(odd);
    free(t);
}

static void test_answer_fails_when_no_section_has_a_usable_codec(void **state)
{
    (void)state;
    char *t = fixture("chromium_audio_only_no_opus.sdp"), *ans = (char *)&ans;
    pl_sdp_offer_t *o = parse_ok(t);
    pl_sdp_answer_params_t p = params();
    pl_sdp_error_t err;
    assert_int_equal(pl_sdp_answer_create(o, &p, &ans, NULL, &err), -PL_EINVAL);
    assert_null(ans);
    assert_string_equal(err.what, "no m-section with a usable codec");
    pl_sdp_offer_destroy(o);
    free(t);
}

static void test_data_channel_is_rejected_and_left_out_of_bundle(void **state)
{
    (void)state;
    char *t = fixture("chromium_with_datachannel.sdp"), *ans;
    pl_sdp_answer_params_t p = params();
    pl_sdp_negotiated_t neg;
    pl_sdp_offer_destroy(answer_with(t, &p, &ans, &neg));
    assert_non_null(strstr(ans, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
    assert_non_null(strstr(ans, "a=group:BUNDLE 0 1\r\n"));
    assert_false(neg.sections[2].accepted);
    free(ans);
    free(t);
}

static void test_h264_only_offer_gets_constrained_baseline_mode_1(void **state)
{
    (void)state;
    char *t = fixture("chromium_h264_only.sdp"), *ans;
    pl_sdp_answer_params_t p = params();
    pl_sdp_negotiated_t neg;
    pl_sdp_offer_destroy(answer_with(t, &p, &ans, &neg));
    /* 102 (42001f baseline) comes first in the offer, but 108 (42e01f) ranks higher. */
    assert_non_null(strstr(ans, "m=video 40000 UDP/TLS/RTP/SAVPF 108 109\r\n"));
    assert_int_equal(neg.sections[0].n_codecs, 1);
    assert_int_equal(neg.sections[0].codecs[0].codec, PL_SDP_CODEC_H264);
    assert_int_equal(neg.sections[0].codecs[0].rtx_pt, 109);
    free(ans);

    /* Without constrained baseline: baseline, then main; never mode 0 or high. */
    char *b = drop_lines(t, "a=fmtp:108 ");
    pl_sdp_offer_destroy(answer_with(b, &p, &ans, &neg));
    assert_int_equal(neg.sections[0].codecs[0].pt, 102);
    free(ans);
    char *m = replace(b, "packetization-mode=1;profile-level-id=42001f",
                      "packetization-mode=1;profile-level-id=64001f");
    pl_sdp_offer_destroy(answer_with(m, &p, &ans, &neg));
    assert_int_equal(neg.sections[0].codecs[0].pt, 116);
    assert_non_null(strstr(ans, "profile-level-id=4d001f"));
    free(ans);
    free(m);
    free(b);
    free(t);
}

static void test_ice_restart_offer_is_answered_with_new_credentials(void **state)
{
    (void)state;
    char *first = fixture("chromium_sendrecv.sdp"), *again = fixture("chromium_ice_restart.sdp");
    pl_sdp_offer_t *o1 = parse_ok(first), *o2 = parse_ok(again);
    const pl_sdp_session_t *s1 = pl_sdp_offer_session(o1), *s2 = pl_sdp_offer_session(o2);
    assert_string_not_equal(s1->ice_ufrag, s2->ice_ufrag);
    assert_memory_equal(s1->fingerprint, s2->fingerprint, PL_SDP_FINGERPRINT_LEN);
    pl_sdp_offer_destroy(o1);
    pl_sdp_offer_destroy(o2);

    pl_sdp_answer_params_t p = params();
    p.ice_ufrag = "ReSt";
    p.ice_pwd = "anotherpasswordof22chr";
    p.session_version = 3;
    char *ans;
    pl_sdp_offer_t *a = answer_with(again, &p, &ans, NULL);
    assert_string_equal(pl_sdp_offer_session(a)->ice_ufrag, "ReSt");
    assert_non_null(strstr(ans, " 3 IN IP4 "));
    pl_sdp_offer_destroy(a);
    free(ans);
    free(again);
    free(first);
}

static void test_ipv6_candidate_uses_ip6_connection_lines(void **state)
{
    (void)state;
    pl_sdp_answer_params_t p = params();
    p.candidate_ip = "::1";
    p.candidate_port = 5004;
    char *ans;
    pl_sdp_offer_destroy(answer_with(MINI, &p, &ans, NULL));
    assert_int_equal(count(ans, "c=IN IP6 ::1\r\n"), 2);
    assert_non_null(strstr(ans, "a=candidate:1 1 udp 2130706431 ::1 5004 typ host\r\n"));
    free(ans);
}

static void test_answer_rejects_bad_parameters(void **state)
{
    (void)state;
    pl_sdp_offer_t *o = parse_ok(MINI);
    char *ans = NULL;
    pl_sdp_error_t err;
    pl_sdp_answer_section_t sec = {.mid = "a"};
    pl_sdp_answer_params_t p;

#define EXPECT_BAD(mutation)                                                                       \
    do {                                                                                           \
        p = params();                                                                              \
        sec = (pl_sdp_answer_section_t){.mid = "a"};                                               \
        p.sections = &sec;                                                                         \
        p.n_sections = 1;                                                                          \
        mutation;                                                                                  \
        assert_int_equal(pl_sdp_answer_create(o, &p, &ans, NULL, &err), -PL_EINVAL);               \
        assert_null(ans);                                                                          \
        assert_non_null(err.what);                                                                 \
    } while (0)

    EXPECT_BAD(p.ice_ufrag = "abc");
    EXPECT_BAD(p.ice_ufrag = "ab\r\ncd");
    EXPECT_BAD(p.ice_pwd = "short");
    EXPECT_BAD(p.ice_pwd = NULL);
    EXPECT_BAD(p.candidate_ip = "localhost");
    EXPECT_BAD(p.candidate_ip = "127.0.0.1\r\na=x");
    EXPECT_BAD(p.candidate_port = 0);
    EXPECT_BAD(p.session_id = UINT64_MAX);
    EXPECT_BAD(sec.mid = "zz");
    EXPECT_BAD(sec.mid = NULL);
    EXPECT_BAD(sec.ssrc = 7);                             /* no cname */
    EXPECT_BAD((sec.ssrc = 7, sec.cname = "a b"));        /* space would split the line */
    EXPECT_BAD((sec.ssrc = 7, sec.cname = "c\r\na=x:y")); /* injection */
    EXPECT_BAD(sec.rtx_ssrc = 8);                         /* rtx without a primary */
    EXPECT_BAD((sec.ssrc = 7, sec.rtx_ssrc = 7, sec.cname = "c"));
    EXPECT_BAD((sec.ssrc = 7, sec.cname = "c", sec.msid_track = "t")); /* track, no stream */
    EXPECT_BAD((sec.force_dir = true, sec.dir = (pl_sdp_dir_t)9));
    pl_sdp_answer_section_t two[] = {{.mid = "a"}, {.mid = "a"}};
    EXPECT_BAD((p.sections = two, p.n_sections = 2));
    EXPECT_BAD(p.sections = NULL);
#undef EXPECT_BAD

    p = params();
    assert_int_equal(pl_sdp_answer_create(NULL, &p, &ans, NULL, NULL), -PL_EINVAL);
    assert_int_equal(pl_sdp_answer_create(o, NULL, &ans, NULL, NULL), -PL_EINVAL);
    assert_int_equal(pl_sdp_answer_create(o, &p, NULL, NULL, NULL), -PL_EINVAL);
    pl_sdp_offer_destroy(o);
}

static void test_answer_refuses_offer_that_wants_parley_as_dtls_client(void **state)
{
    (void)state;
    char *ans;
    pl_sdp_error_t err;
    pl_sdp_answer_params_t p = params();
    const char *roles[] = {"a=setup:passive", "a=setup:holdconn"};
    for (int i = 0; i < 2; i++) {
        char *t = replace(MINI, "a=setup:actpass", roles[i]);
        pl_sdp_offer_t *o = parse_ok(t);
        assert_int_equal(pl_sdp_answer_create(o, &p, &ans, NULL, &err), -PL_EINVAL);
        assert_string_equal(err.what, "offer asks Parley to be the DTLS client");
        pl_sdp_offer_destroy(o);
        free(t);
    }
    /* No a=setup reads as active (RFC 4145), which a passive answer suits. */
    char *t = drop_lines(MINI, "a=setup:");
    pl_sdp_offer_t *a = answer_with(t, &p, &ans, NULL);
    pl_sdp_offer_destroy(a);
    free(ans);
    free(t);
}

/* ---- malformed and hostile offers ---- */

static void test_empty_and_null_input_is_rejected(void **state)
{
    (void)state;
    pl_sdp_offer_t *o;
    assert_int_equal(pl_sdp_offer_parse((const uint8_t *)"", 0, &o, NULL), -PL_EINVAL);
    assert_null(o);
    assert_int_equal(pl_sdp_offer_parse(NULL, 10, &o, NULL), -PL_EINVAL);
    assert_int_equal(pl_sdp_offer_parse((const uint8_t *)"v=0", 3, NULL, NULL), -PL_EINVAL);
    expect_reject("\r\n\r\n", -PL_EINVAL);
    expect_reject("v=0\r\n", -PL_EINVAL);
}

static void test_missing_or_wrong_version_line_is_rejected(void **state)
{
    (void)state;
    char *t = drop_lines(MINI, "v=");
    assert_int_equal(expect_reject(t, -PL_EINVAL), 1);
    free(t);
    reject_edit(MINI, "v=0", "v=1", -PL_EINVAL);
    reject_edit(MINI, "s=-\r\n", "s=-\r\nv=0\r\n", -PL_EINVAL);
    t = drop_lines(MINI, "t=");
    expect_reject(t, -PL_EINVAL);
    free(t);
}

static void test_malformed_lines_are_rejected_with_their_line_number(void **state)
{
    (void)state;
    /* at: text on the line the reason must name (the m= line for section-wide errors). */
    static const struct {
        const char *from, *to, *at;
    } cases[] = {
        {"a=rtpmap:109 opus/48000/2", "a=rtpmap:109 opus", "a=rtpmap:109"}, /* truncated */
        {"a=rtpmap:109 opus/48000/2", "a=rtpmap:109 opus//2", "a=rtpmap:109"},
        {"a=rtpmap:109 opus/48000/2", "a=rtpmap:109", "a=rtpmap:109"},
        {"a=rtpmap:109 opus/48000/2", "a=rtpmap:x opus/48000/2", "a=rtpmap:x"},
        {"a=fmtp:124 apt=120", "a=fmtp:124", "a=fmtp:124"},
        {"a=fmtp:124 apt=120", "a=fmtp:124 apt=x", "m=video"}, /* rtx without a valid apt */
        {"a=rtcp-fb:120 nack pli", "a=rtcp-fb:120", "a=rtcp-fb:120"},
        {"m=video 9 UDP", "m=video x UDP", "m=video"},
        {"m=video 9 UDP", "m=video 9/2 UDP", "m=video"},
        {"SAVPF 120 124", "SAVPF 120 x", "m=video"}, /* non-numeric PT */
        {"SAVPF 120 124", "SAVPF 120 128", "m=video"},
        {"SAVPF 120 124", "SAVPF 120 120", "m=video"},
        {"SAVPF 120 124", "SAVPF", "m=video"},
        {"a=extmap:3 urn", "a=extmap:0 urn", "a=extmap:0"},
        {"a=extmap:3 urn", "a=extmap:256 urn", "a=extmap:256"},
        {"a=extmap:3 urn", "a=extmap:3/sideways urn", "sideways"},
        {"a=rtcp-fb:* nack", "a=extmap:3 urn:x:dup\r\na=rtcp-fb:* nack", "urn:x:dup"},
        {"a=setup:actpass", "a=setup:maybe", "a=setup:"},
        {"a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\na=recvonly",
         "a=ice-ufrag:ab!d\r\na=ice-pwd:0123456789abcdefghijkl\r\na=recvonly", "ab!d"},
        {"a=recvonly", "a=recvonly\r\na=sendonly", "a=sendonly"},
        {"a=mid:v", "a=mid:v\r\na=mid:w", "a=mid:w"},
        {"a=mid:v", "a=mid:this-mid-is-too-long", "a=mid:this"},
        {"a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:0 PCMA/8000", "PCMA"},
        {"a=group:BUNDLE a v", "a=group:BUNDLE a v\r\na=group:BUNDLE a", "BUNDLE a\r"},
        {"a=rtpmap:124", "a=ssrc:12x cname:x\r\na=rtpmap:124", "a=ssrc:"},
        {"a=rtpmap:124", "a=ssrc:12 cname:\r\na=rtpmap:124", "a=ssrc:"},
        {"a=rtpmap:124", "a=ssrc-group:FID 1\r\na=rtpmap:124", "a=ssrc-group"},
        {"a=rtpmap:124", "a=msid:a b c\r\na=rtpmap:124", "a=msid"},
        {"a=ice-options:trickle", "a=ice-pwd:", "a=ice-pwd:"}, /* attribute without value */
        {"c=IN IP4 0.0.0.0", "x=unknown line type", "x="},
        {"c=IN IP4 0.0.0.0", "c IN IP4 0.0.0.0", "c IN"},
        {"c=IN IP4 0.0.0.0", "C=IN IP4 0.0.0.0", "C="},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = replace(MINI, cases[i].from, cases[i].to);
        int line = expect_reject(t, -PL_EINVAL);
        if (line != line_of(t, cases[i].at))
            fail_msg("case %zu: line %d, want %d", i, line, line_of(t, cases[i].at));
        free(t);
    }
}

static void test_fingerprint_must_be_present_well_formed_and_sha256(void **state)
{
    (void)state;
    char *t = drop_lines(MINI, "a=fingerprint");
    assert_int_equal(expect_reject(t, -PL_EINVAL), 0);
    free(t);
    reject_edit(MINI, "sha-256 AA:BB", "sha-256 ZZ:BB", -PL_EINVAL); /* bad hex */
    reject_edit(MINI, "sha-256 AA:BB", "sha-256 AABB", -PL_EINVAL);  /* no colon */
    reject_edit(MINI, "sha-256 AA:BB:", "sha-256 BB:", -PL_EINVAL);  /* 31 bytes */
    reject_edit(MINI, ":88:99\r\n", ":88:99:00\r\n", -PL_EINVAL);    /* 33 bytes */
    reject_edit(MINI, "sha-256 " FP32,
                "sha-1 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:"
                "AA:BB:CC:DD",
                -PL_EINVAL);
    /* A sha-1 line next to the sha-256 one is harmless; the algorithm name has no case. */
    t = replace(MINI, "a=fingerprint:sha-256",
                "a=fingerprint:sha-1 AB:CD\r\na=fingerprint:SHA-256");
    pl_sdp_offer_destroy(parse_ok(t));
    free(t);
}

static void test_bundle_rtcp_mux_and_ice_rules_are_enforced(void **state)
{
    (void)state;
    char *t = drop_lines(MINI, "a=group:");
    expect_reject(t, -PL_EINVAL);
    free(t);
    reject_edit(MINI, "a=group:BUNDLE a v", "a=group:BUNDLE", -PL_EINVAL);
    reject_edit(MINI, "a=group:BUNDLE a v", "a=group:BUNDLE a", -PL_EINVAL); /* v outside */
    reject_edit(MINI, "a=group:BUNDLE a v", "a=group:BUNDLE a v x", -PL_EINVAL);
    reject_edit(MINI, "a=group:BUNDLE a v", "a=group:BUNDLE a v a", -PL_EINVAL);
    reject_edit(MINI, "a=mid:v", "a=mid:a", -PL_EINVAL); /* duplicate */
    t = drop_lines(MINI, "a=rtcp-mux");
    expect_reject(t, -PL_EINVAL);
    free(t);
    t = drop_lines(MINI, "a=ice-pwd");
    expect_reject(t, -PL_EINVAL);
    free(t);
    t = drop_lines(MINI, "a=mid:v");
    char *g = replace(t, "BUNDLE a v", "BUNDLE a");
    expect_reject(g, -PL_EINVAL); /* every m-section needs a mid */
    free(g);
    free(t);
    /* One extension id must mean one URI across the group. */
    reject_edit(MINI, "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid",
                "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid", -PL_EINVAL);
}

static void test_extmap_ids_above_14_need_extmap_allow_mixed(void **state)
{
    (void)state;
    reject_edit(MINI, "a=extmap:1 ", "a=extmap:15 ", -PL_EINVAL);
    char *t = replace(MINI, "a=extmap:1 ", "a=extmap:255 ");
    char *m = replace(t, "a=rtcp-mux\r\n", "a=rtcp-mux\r\na=extmap-allow-mixed\r\n");
    pl_sdp_offer_t *o = parse_ok(m);
    assert_int_equal((pl_sdp_offer_section(o, 0))->extmaps[0].id, 255);
    pl_sdp_offer_destroy(o);
    free(m);
    free(t);
}

static void test_size_limits_give_toobig(void **state)
{
    (void)state;
    char line[PL_SDP_MAX_LINE + 2];

    /* A line of exactly PL_SDP_MAX_LINE is fine, one more byte is not. */
    memset(line, 'x', sizeof line);
    memcpy(line, "a=x-pad:", 8);
    line[PL_SDP_MAX_LINE] = '\0';
    char *ok = replace(MINI, "s=-\r\n", "s=-\r\nLINE\r\n"), *t = replace(ok, "LINE", line);
    pl_sdp_offer_destroy(parse_ok(t));
    free(t);
    line[PL_SDP_MAX_LINE] = 'x';
    line[PL_SDP_MAX_LINE + 1] = '\0';
    t = replace(ok, "LINE", line);
    assert_int_equal(expect_reject(t, -PL_ETOOBIG), 4);
    free(t);
    free(ok);

    /* Over 64 KiB in total. */
    size_t cap = PL_SDP_MAX_TEXT + 4096;
    char *big = malloc(cap);
    assert_non_null(big);
    static const char pad[] = "a=x-pad:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";
    size_t len = strlen(MINI);
    memcpy(big, MINI, len);
    for (; len <= PL_SDP_MAX_TEXT; len += sizeof pad - 1)
        memcpy(big + len, pad, sizeof pad - 1);
    big[len] = '\0';
    expect_reject(big, -PL_ETOOBIG);
    free(big);
}

/* MINI with extra bundled video sections, or with one video section of many PTs. */
static char *with_sections(int extra)
{
    char *t = malloc(strlen(MINI) + 200 * (size_t)extra + 200), group[512] = "a=group:BUNDLE a v";
    assert_non_null(t);
    for (int i = 0; i < extra; i++)
        snprintf(group + strlen(group), sizeof group - strlen(group), " x%d", i);
    char *g = replace(MINI, "a=group:BUNDLE a v", group);
    strcpy(t, g);
    free(g);
    for (int i = 0; i < extra; i++)
        sprintf(t + strlen(t),
                "m=video 9 UDP/TLS/RTP/SAVPF 120\r\na=mid:x%d\r\na=rtcp-mux\r\n"
                "a=rtpmap:120 VP8/90000\r\n",
                i);
    return t;
}

static void test_too_many_sections_or_payload_types_give_toobig(void **state)
{
    (void)state;
    char *t = with_sections(PL_SDP_MAX_SECTIONS - 2);
    pl_sdp_offer_t *o = parse_ok(t);
    assert_int_equal(pl_sdp_offer_section_count(o), PL_SDP_MAX_SECTIONS);
    pl_sdp_offer_destroy(o);
    free(t);
    t = with_sections(PL_SDP_MAX_SECTIONS - 1);
    expect_reject(t, -PL_ETOOBIG);
    free(t);

    char m[512] = "m=video 9 UDP/TLS/RTP/SAVPF";
    for (int pt = 0; pt < PL_SDP_MAX_PTS; pt++)
        snprintf(m + strlen(m), sizeof m - strlen(m), " %d", 64 + (pt % 64));
    /* 64..127 once each: exactly the limit. */
    t = replace(MINI, "m=video 9 UDP/TLS/RTP/SAVPF 120 124", m);
    pl_sdp_offer_destroy(parse_ok(t));
    free(t);
    strcat(m, " 1");
    t = replace(MINI, "m=video 9 UDP/TLS/RTP/SAVPF 120 124", m);
    expect_reject(t, -PL_ETOOBIG);
    free(t);
}

static void test_binary_garbage_and_control_characters_are_rejected(void **state)
{
    (void)state;
    uint32_t seed = 12345;
    uint8_t buf[2048];

    for (int round = 0; round < 200; round++) {
        size_t n = 1 + (size_t)(round * 37 % (int)sizeof buf);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (uint8_t)(seed >> 16);
        }
        pl_sdp_offer_t *o = (pl_sdp_offer_t *)&o;
        assert_int_equal(pl_sdp_offer_parse(buf, n, &o, NULL), -PL_EINVAL);
        assert_null(o);
    }
    reject_edit(MINI, "s=-", "s=\x01-", -PL_EINVAL);
    reject_edit(MINI, "s=-", "s=\r-", -PL_EINVAL); /* bare CR */
    reject_edit(MINI, "s=-", "s=\x7f", -PL_EINVAL);
    /* A NUL inside the buffer ends nothing: it is rejected like any control byte. */
    size_t len = strlen(MINI);
    char *t = malloc(len);
    memcpy(t, MINI, len);
    t[len / 2] = '\0';
    pl_sdp_offer_t *o;
    assert_int_equal(pl_sdp_offer_parse((uint8_t *)t, len, &o, NULL), -PL_EINVAL);
    free(t);
}

/* Parses and, if that works, answers; the only allowed outcomes are success or a clean
 * refusal. Run under make test-asan this also proves no read past the buffer. */
static void parse_and_answer_cleanly(const uint8_t *buf, size_t len)
{
    pl_sdp_offer_t *o = NULL;
    pl_sdp_error_t err;
    int rc = pl_sdp_offer_parse(buf, len, &o, &err);
    if (rc != 0) {
        assert_true(rc == -PL_EINVAL || rc == -PL_ETOOBIG);
        assert_null(o);
        assert_non_null(err.what);
        return;
    }
    pl_sdp_answer_params_t p = params();
    char *ans = NULL;
    rc = pl_sdp_answer_create(o, &p, &ans, NULL, NULL);
    assert_true(rc == 0 || rc == -PL_EINVAL);
    if (rc == 0) pl_sdp_offer_destroy(parse_ok(ans));
    free(ans);
    pl_sdp_offer_destroy(o);
}

static void test_every_truncation_of_real_offers_fails_cleanly_or_parses(void **state)
{
    (void)state;
    const char *files[] = {"chromium_sendrecv.sdp", "chromium_with_datachannel.sdp"};
    for (size_t f = 0; f < 2; f++) {
        char *t = fixture(files[f]);
        size_t len = strlen(t);
        /* Exact-length copies, so a read past len lands outside the allocation. */
        for (size_t n = 0; n <= len; n++) {
            uint8_t *cut = malloc(n > 0 ? n : 1);
            memcpy(cut, t, n);
            parse_and_answer_cleanly(cut, n);
            free(cut);
        }
        free(t);
    }
}

static void test_mutated_real_offers_fail_cleanly_or_parse(void **state)
{
    (void)state;
    static const char alphabet[] = "a=:/ \r\n0123456789xmv-;*";
    uint32_t seed = 99;
    for (size_t f = 0; f < N_FIXTURES; f++) {
        char *t = fixture(FIXTURES[f]);
        size_t len = strlen(t);
        for (int round = 0; round < 300; round++) {
            uint8_t *m = malloc(len);
            memcpy(m, t, len);
            for (int k = 0; k < 4; k++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = (seed >> 8) % len;
                seed = seed * 1103515245u + 12345u;
                m[at] = (uint8_t)alphabet[(seed >> 8) % (sizeof alphabet - 1)];
            }
            parse_and_answer_cleanly(m, len);
            free(m);
        }
        free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chromium_offer_gives_transport_from_tagged_section),
        cmocka_unit_test(test_chromium_audio_section_has_opus_extmaps_msid_and_ssrc),
        cmocka_unit_test(test_chromium_video_section_links_rtx_and_fid),
        cmocka_unit_test(test_every_fixture_parses_with_crlf_and_with_lf),
        cmocka_unit_test(test_recvonly_offer_has_no_msid_or_ssrc),
        cmocka_unit_test(test_data_channel_section_needs_no_rtcp_mux),
        cmocka_unit_test(test_session_level_fingerprint_setup_and_wildcard_feedback),
        cmocka_unit_test(test_bundle_only_section_with_port_0_is_active),
        cmocka_unit_test(test_fmtp_param_finds_keys_without_case_and_bounds_output),
        cmocka_unit_test(test_answer_to_chromium_sendrecv_round_trips),
        cmocka_unit_test(test_negotiated_view_matches_answer),
        cmocka_unit_test(test_no_rtx_answers_no_rtx_payload_types_and_no_fid_group),
        cmocka_unit_test(test_no_transport_cc_leaves_remb_and_abs_send_time),
        cmocka_unit_test(test_answer_reverses_directions_and_announces_only_when_sending),
        cmocka_unit_test(test_forced_direction_is_narrowed_to_what_offer_allows),
        cmocka_unit_test(test_answer_keeps_offer_extmap_ids_and_reverses_their_direction),
        cmocka_unit_test(test_only_vp9_av1_video_is_rejected_with_port_0),
        cmocka_unit_test(test_unusable_tagged_audio_is_kept_inactive_for_the_transport),
        cmocka_unit_test(test_tagged_section_without_payload_types_is_refused_not_kept),
        cmocka_unit_test(test_answer_fails_when_no_section_has_a_usable_codec),
        cmocka_unit_test(test_data_channel_is_rejected_and_left_out_of_bundle),
        cmocka_unit_test(test_h264_only_offer_gets_constrained_baseline_mode_1),
        cmocka_unit_test(test_ice_restart_offer_is_answered_with_new_credentials),
        cmocka_unit_test(test_ipv6_candidate_uses_ip6_connection_lines),
        cmocka_unit_test(test_answer_rejects_bad_parameters),
        cmocka_unit_test(test_answer_refuses_offer_that_wants_parley_as_dtls_client),
        cmocka_unit_test(test_empty_and_null_input_is_rejected),
        cmocka_unit_test(test_missing_or_wrong_version_line_is_rejected),
        cmocka_unit_test(test_malformed_lines_are_rejected_with_their_line_number),
        cmocka_unit_test(test_fingerprint_must_be_present_well_formed_and_sha256),
        cmocka_unit_test(test_bundle_rtcp_mux_and_ice_rules_are_enforced),
        cmocka_unit_test(test_extmap_ids_above_14_need_extmap_allow_mixed),
        cmocka_unit_test(test_size_limits_give_toobig),
        cmocka_unit_test(test_too_many_sections_or_payload_types_give_toobig),
        cmocka_unit_test(test_binary_garbage_and_control_characters_are_rejected),
        cmocka_unit_test(test_every_truncation_of_real_offers_fails_cleanly_or_parses),
        cmocka_unit_test(test_mutated_real_offers_fail_cleanly_or_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
