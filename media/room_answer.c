/* The room's part of a member's answer (see room.h): the slot layout read from the offer, the
 * SSRC, cname and msid Parley announces for each fixed slot, and the directions that keep the
 * layout. It runs before the member is added, because pl_sdp_answer_create needs these and
 * pl_room_member_add needs the answer; the member reads its layout with the same function.
 *
 * The SSRCs are random so that a subscriber cannot learn anything from them, and distinct from
 * the browser's own: RFC 3550 section 8.2 would have the browser treat a clash as a loop. The
 * identifiers are random hex because nothing reads them but the browser's demultiplexer. */
#include "media/room_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/util.h"

/* ---- the layout ---- */

pl_sdp_kind_t pl_room__section_kind(size_t i, int k)
{
    return i % 2 == 1 || i == 2 * (size_t)k ? PL_SDP_KIND_VIDEO : PL_SDP_KIND_AUDIO;
}

/* A rejected section keeps its place in the layout whatever its kind, as a stopped
 * transceiver does. */
static bool kind_is(const pl_sdp_offer_t *offer, size_t i, pl_sdp_kind_t kind)
{
    const pl_sdp_section_t *s = pl_sdp_offer_section(offer, i);
    return s->rejected || s->kind == kind;
}

int pl_room__layout(const pl_sdp_offer_t *offer, size_t *n_used)
{
    size_t n = pl_sdp_offer_section_count(offer);
    size_t k = 2; /* under five sections: the start of the original layout */

    if (n >= 5) {
        /* Slot 0 is sections 0 and 1; every further (audio, video) pair is one more slot, and
         * the screen is the video where the next audio would be. Counting stops one past the
         * limit, so an offer with too many pairs is seen as such. */
        k = 1;
        while (k <= PL_ROOM_MAX_SLOTS && 2 * k + 1 < n &&
               kind_is(offer, 2 * k, PL_SDP_KIND_AUDIO) &&
               kind_is(offer, 2 * k + 1, PL_SDP_KIND_VIDEO))
            k++;
        if (k < 2 || k > PL_ROOM_MAX_SLOTS || n < 2 * k + 1) return -PL_EINVAL;
    }
    size_t used = n < 2 * k + 1 ? n : 2 * k + 1;
    for (size_t i = 0; i < used; i++)
        if (!kind_is(offer, i, pl_room__section_kind(i, (int)k))) return -PL_EINVAL;
    *n_used = used;
    return (int)k;
}

/* ---- the answer ---- */

/* Which identity (slot 0 .. K-1, then the screen at K) section i belongs to. */
static int slot_of(size_t i, int k)
{
    return i < 2 * (size_t)k ? (int)(i / 2) : k;
}

static bool in_offer(const pl_sdp_offer_t *offer, uint32_t ssrc)
{
    size_t n = pl_sdp_offer_section_count(offer);
    for (size_t i = 0; i < n; i++) {
        const pl_sdp_section_t *s = pl_sdp_offer_section(offer, i);
        for (size_t k = 0; k < s->n_ssrcs; k++)
            if (s->ssrcs[k].ssrc == ssrc) return true;
        for (size_t k = 0; k < s->n_fids; k++)
            if (s->fids[k].ssrc == ssrc || s->fids[k].rtx_ssrc == ssrc) return true;
    }
    return false;
}

static int random_hex(char *out, size_t chars)
{
    uint8_t b[16];
    if (chars / 2 > sizeof b || pl_random_bytes(b, chars / 2) < 0) return -PL_EINTERNAL;
    pl_hex_encode(b, chars / 2, out);
    return 0;
}

static int pick_ssrc(const pl_sdp_offer_t *offer, const pl_room_answer_t *a, size_t upto,
                     uint32_t *out)
{
    for (;;) {
        uint8_t b[4];
        if (pl_random_bytes(b, sizeof b) < 0) return -PL_EINTERNAL;
        uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        bool clash = v == 0 || in_offer(offer, v);
        for (size_t i = 0; i < upto && !clash; i++)
            clash = a->sections[i].ssrc == v;
        if (!clash) {
            *out = v;
            return 0;
        }
    }
}

static int fill(const pl_sdp_offer_t *offer, bool may_screen, pl_room_answer_t *out)
{
    size_t n = 0;
    int slots = pl_room__layout(offer, &n);
    int rc = 0;

    if (slots < 0) return slots;
    size_t screen = 2 * (size_t)slots;
    for (int k = 0; k <= slots && rc == 0; k++) {
        rc = random_hex(out->cname[k], sizeof out->cname[k] - 1);
        if (rc == 0) rc = random_hex(out->stream[k], sizeof out->stream[k] - 1);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        pl_sdp_answer_section_t *sec = &out->sections[i];
        snprintf(out->mid[i], sizeof out->mid[i], "%s", pl_sdp_offer_section(offer, i)->mid);
        rc = random_hex(out->track[i], sizeof out->track[i] - 1);
        if (rc == 0) rc = pick_ssrc(offer, out, i, &sec->ssrc);
        /* Parley only sends on slots 1 and up; the screen section receives only from staff. */
        if ((i >= 2 && i < screen) || (i == screen && !may_screen)) {
            sec->force_dir = true;
            sec->dir = PL_SDP_SENDONLY;
        }
    }
    out->n_sections = n;
    out->n_slots = slots;
    return rc;
}

int pl_room_answer_prepare(const pl_sdp_offer_t *offer, bool may_screen, pl_room_answer_t *out)
{
    if (out == NULL) return -PL_EINVAL;
    memset(out, 0, sizeof *out);
    if (offer == NULL) return -PL_EINVAL;
    int rc = fill(offer, may_screen, out);
    if (rc < 0) memset(out, 0, sizeof *out);
    return rc;
}

void pl_room_answer_apply(pl_room_answer_t *a, pl_sdp_answer_params_t *p)
{
    for (size_t i = 0; i < a->n_sections; i++) {
        pl_sdp_answer_section_t *sec = &a->sections[i];
        int k = slot_of(i, a->n_slots);
        sec->mid = a->mid[i];
        sec->cname = a->cname[k];
        sec->msid_stream = a->stream[k];
        sec->msid_track = a->track[i];
    }
    p->sections = a->sections;
    p->n_sections = a->n_sections;
    p->no_rtx = true;
    p->no_transport_cc = true;
}
