/* libFuzzer target for media/sdp.c and media/sdp_write.c: the offer parser with its error
 * reasons, every view it hands out, and the parse -> answer -> parse round trip.
 *
 * The input is the SDP text. Each accepted offer is answered twice: once with plain parameters
 * and no per-section choices (every codec, rtx and transport-cc that Parley accepts), and once
 * the way signalling/call.c's write_answer does, through the room's slot layout
 * (pl_room_answer_prepare and pl_room_answer_apply). The room draws random SSRCs and ids; they
 * are replaced here by fixed ones so that a run is deterministic. An answer must use CRLF
 * throughout and must parse with the same parser (sdp.h: "It also parses Parley's own
 * answers"); one that does not is a bug in the writer and aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "media/room.h"
#include "media/sdp.h"

static volatile size_t sink;

static void touch(const char *s)
{
    if (s != NULL) sink += strlen(s);
}

static void read_views(const pl_sdp_offer_t *o)
{
    const pl_sdp_session_t *ss = pl_sdp_offer_session(o);
    if (ss == NULL || ss->ice_ufrag == NULL || ss->ice_pwd == NULL || ss->ice_options == NULL ||
        ss->fingerprint_alg == NULL || strcmp(ss->fingerprint_alg, "sha-256") != 0)
        abort();
    touch(ss->ice_ufrag);
    touch(ss->ice_pwd);
    touch(ss->ice_options);
    if (ss->n_bundle > PL_SDP_MAX_SECTIONS) abort();
    for (size_t i = 0; i < ss->n_bundle; i++)
        touch(ss->bundle[i]);

    size_t n = pl_sdp_offer_section_count(o);
    if (n > PL_SDP_MAX_SECTIONS || pl_sdp_offer_section(o, n) != NULL) abort();
    for (size_t i = 0; i < n; i++) {
        const pl_sdp_section_t *s = pl_sdp_offer_section(o, i);
        if (s == NULL || s->media == NULL || s->proto == NULL || s->fmt == NULL) abort();
        touch(s->media);
        touch(s->proto);
        touch(s->fmt);
        touch(s->msid_stream);
        touch(s->msid_track);
        if (s->mid != NULL) {
            touch(s->mid);
            /* Mids are unique, so find_mid gives back this section. */
            if (pl_sdp_offer_find_mid(o, s->mid) != s) abort();
        }
        if (s->n_codecs > PL_SDP_MAX_PTS || s->n_extmaps > PL_SDP_MAX_EXTMAPS ||
            s->n_ssrcs > PL_SDP_MAX_SSRCS || s->n_fids > PL_SDP_MAX_FIDS)
            abort();
        for (size_t k = 0; k < s->n_codecs; k++) {
            const pl_sdp_codec_t *c = &s->codecs[k];
            if (c->name == NULL || c->fmtp == NULL) abort();
            touch(c->name);
            touch(c->fmtp);
            if (pl_sdp_section_codec_by_pt(s, c->pt) == NULL) abort();
            static const char *const keys[] = {"apt", "profile-level-id", "packetization-mode",
                                               "minptime", "useinbandfec", ""};
            for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++) {
                char v[8];
                int rc = pl_sdp_fmtp_param(c->fmtp, keys[j], v, sizeof v);
                if (rc != 0 && rc != -PL_ENOTFOUND && rc != -PL_ETOOBIG) abort();
                if (rc == -PL_ETOOBIG && v[0] != '\0') abort();
                if (rc == 0 && strlen(v) >= sizeof v) abort();
            }
        }
        (void)pl_sdp_section_codec_by_pt(s, -1);
        (void)pl_sdp_section_codec_by_pt(s, 128);
        for (size_t k = 0; k < s->n_extmaps; k++)
            touch(s->extmaps[k].uri);
        for (size_t k = 0; k < s->n_ssrcs; k++) {
            touch(s->ssrcs[k].cname);
            touch(s->ssrcs[k].msid_stream);
            touch(s->ssrcs[k].msid_track);
        }
    }
    (void)pl_sdp_offer_find_mid(o, "no-such-mid");
}

static pl_sdp_answer_params_t base_params(void)
{
    pl_sdp_answer_params_t p = {
        .session_id = 4611686018427387904ULL,
        .session_version = 2,
        .ice_ufrag = "PaRl",
        .ice_pwd = "parleyparleyparleypa+/",
        .candidate_ip = "192.0.2.10",
        .candidate_port = 40000,
    };
    for (int i = 0; i < PL_SDP_FINGERPRINT_LEN; i++)
        p.fingerprint[i] = (uint8_t)(0xA0 + i);
    return p;
}

/* The answer must be CRLF throughout and parse again. */
static void check_answer(const pl_sdp_offer_t *offer, const char *ans,
                         const pl_sdp_negotiated_t *neg)
{
    for (const char *c = ans; *c != '\0'; c++)
        if (*c == '\n' && (c == ans || c[-1] != '\r')) abort();

    pl_sdp_offer_t *back = NULL;
    pl_sdp_error_t err = {0, NULL};
    if (pl_sdp_offer_parse((const uint8_t *)ans, strlen(ans), &back, &err) != 0) {
#ifdef FUZZ_SDP_VERBOSE
        fprintf(stderr, "answer does not parse: line %d: %s\n%s", err.line, err.what, ans);
#endif
        abort();
    }
    /* The answer keeps the offer's m-sections, in order, with their mids. */
    size_t n = pl_sdp_offer_section_count(offer);
    if (pl_sdp_offer_section_count(back) != n || neg->n_sections != n) abort();
    for (size_t i = 0; i < n; i++) {
        const pl_sdp_section_t *a = pl_sdp_offer_section(offer, i);
        const pl_sdp_section_t *b = pl_sdp_offer_section(back, i);
        if (a->kind != b->kind || (a->mid != NULL) != (b->mid != NULL)) abort();
        if (a->mid != NULL && strcmp(a->mid, b->mid) != 0) abort();
        if (neg->sections[i].accepted && a->mid != NULL &&
            pl_sdp_negotiated_find(neg, a->mid) != &neg->sections[i])
            abort();
    }
    read_views(back);
    pl_sdp_offer_destroy(back);
}

/* Answers o with p; a refusal must be clean, an answer must round-trip. */
static void answer_with(const pl_sdp_offer_t *o, const pl_sdp_answer_params_t *p)
{
    pl_sdp_negotiated_t *neg = malloc(sizeof *neg); /* large: not on the stack */
    char *ans = NULL;
    pl_sdp_error_t err = {0, NULL};

    if (neg == NULL) abort();
    int rc = pl_sdp_answer_create(o, p, &ans, neg, &err);
    if (rc == 0) {
        if (ans == NULL) abort();
        check_answer(o, ans, neg);
    } else if (ans != NULL || err.what == NULL || (rc != -PL_EINVAL && rc != -PL_ENOMEM)) {
        abort();
    }
    free(ans);
    free(neg);
}

/* Every codec, rtx and transport-cc Parley accepts, no per-section choices; or (restrictive)
 * neither rtx nor transport-cc, and an IPv6 candidate. */
static void answer_plain(const pl_sdp_offer_t *o, bool restrictive)
{
    pl_sdp_answer_params_t p = base_params();
    p.no_rtx = restrictive;
    p.no_transport_cc = restrictive;
    if (restrictive) p.candidate_ip = "2001:db8::10";
    answer_with(o, &p);
}

static bool ssrc_in_offer(const pl_sdp_offer_t *o, uint32_t v)
{
    for (size_t i = 0; i < pl_sdp_offer_section_count(o); i++) {
        const pl_sdp_section_t *s = pl_sdp_offer_section(o, i);
        for (size_t k = 0; k < s->n_ssrcs; k++)
            if (s->ssrcs[k].ssrc == v) return true;
        for (size_t k = 0; k < s->n_fids; k++)
            if (s->fids[k].ssrc == v || s->fids[k].rtx_ssrc == v) return true;
    }
    return false;
}

/* As signalling/call.c answers a member, with the room's random choices made fixed. */
static void answer_like_call(const pl_sdp_offer_t *o, bool may_screen)
{
    pl_room_answer_t *ra = malloc(sizeof *ra);
    if (ra == NULL) abort();
    if (pl_room_answer_prepare(o, may_screen, ra) != 0) {
        free(ra);
        return;
    }
    uint32_t next = 0x10000001u;
    for (size_t k = 0; k < sizeof ra->cname / sizeof ra->cname[0]; k++) {
        snprintf(ra->cname[k], sizeof ra->cname[k], "%016zx", k);
        snprintf(ra->stream[k], sizeof ra->stream[k], "%032zx", k + 100);
    }
    for (size_t i = 0; i < ra->n_sections; i++) {
        snprintf(ra->track[i], sizeof ra->track[i], "%032zx", i + 200);
        if (ra->sections[i].ssrc != 0) {
            while (ssrc_in_offer(o, next))
                next++;
            ra->sections[i].ssrc = next++;
        }
    }
    pl_sdp_answer_params_t p = base_params();
    pl_room_answer_apply(ra, &p);
    p.session_version = 7;
    answer_with(o, &p);
    free(ra);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pl_sdp_error_t err = {-1, NULL};
    pl_sdp_offer_t *o = (pl_sdp_offer_t *)&err; /* must be set to NULL on failure */

    int rc = pl_sdp_offer_parse(data, size, &o, &err);
    if (rc != 0) {
        if (o != NULL || err.what == NULL || err.line < 0) abort();
        if (rc != -PL_EINVAL && rc != -PL_ETOOBIG && rc != -PL_ENOMEM) abort();
        return 0;
    }
    if (o == NULL) abort();
    read_views(o);
    answer_plain(o, false);
    answer_plain(o, true);
    answer_like_call(o, true);
    answer_like_call(o, false);
    pl_sdp_offer_destroy(o);
    return 0;
}
