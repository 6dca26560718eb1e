/* Retransmission ring (see rtx_ring.h). A packet lives in slot seq % slots, so finding one is
 * an index and a compare; the slot remembers its sequence number and arrival time, which tell
 * a hit from a packet that has since been overwritten or has grown too old to be useful. */
#include "media/rtx_ring.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "media/rtp.h"
#include "media/srtp_session.h"

typedef struct {
    int64_t stored_ms;
    uint16_t seq;
    uint16_t len; /* 0: empty */
    uint8_t data[PL_RTP_MAX_LEN];
} slot_t;

struct pl_rtx_ring {
    size_t mask;
    bool have_newest;
    uint16_t newest;
    slot_t slots[];
};

int pl_rtx_ring_create(size_t slots, pl_rtx_ring_t **out)
{
    if (out == NULL) return -PL_EINVAL;
    *out = NULL;
    if (slots == 0 || slots > PL_SRTP_REPLAY_WINDOW || (slots & (slots - 1)) != 0)
        return -PL_EINVAL;
    pl_rtx_ring_t *r = calloc(1, sizeof *r + slots * sizeof r->slots[0]);
    if (r == NULL) return -PL_ENOMEM;
    r->mask = slots - 1;
    *out = r;
    return 0;
}

void pl_rtx_ring_destroy(pl_rtx_ring_t *r)
{
    free(r);
}

int pl_rtx_ring_put(pl_rtx_ring_t *r, uint16_t seq, const uint8_t *pkt, size_t len, int64_t now_ms)
{
    if (r == NULL || pkt == NULL || len == 0 || len > PL_RTP_MAX_LEN) return -PL_EINVAL;
    if (r->have_newest) {
        /* Serial-number arithmetic (RFC 1982): behind by more than the ring holds means this
         * slot already belongs to a newer packet. */
        uint16_t behind = (uint16_t)(r->newest - seq);
        if (behind < 0x8000u && behind > r->mask) return -PL_ENOTFOUND;
        if (behind >= 0x8000u) r->newest = seq;
    } else {
        r->have_newest = true;
        r->newest = seq;
    }
    slot_t *s = &r->slots[seq & r->mask];
    s->stored_ms = now_ms;
    s->seq = seq;
    s->len = (uint16_t)len;
    memcpy(s->data, pkt, len);
    return 0;
}

int pl_rtx_ring_get(const pl_rtx_ring_t *r, uint16_t seq, int64_t now_ms, int64_t max_age_ms,
                    const uint8_t **pkt, size_t *len, int64_t *stored_ms)
{
    if (r == NULL || pkt == NULL || len == NULL) return -PL_EINVAL;
    const slot_t *s = &r->slots[seq & r->mask];
    if (s->len == 0 || s->seq != seq || now_ms - s->stored_ms > max_age_ms) return -PL_ENOTFOUND;
    *pkt = s->data;
    *len = s->len;
    if (stored_ms != NULL) *stored_ms = s->stored_ms;
    return 0;
}

void pl_rtx_ring_clear(pl_rtx_ring_t *r)
{
    if (r == NULL) return;
    r->have_newest = false;
    for (size_t i = 0; i <= r->mask; i++)
        r->slots[i].len = 0;
}
