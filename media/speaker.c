/* Active-speaker detection (see speaker.h). Loudness is smoothed per packet with an
 * exponential average of weight 1/8: at opus's 50 packets a second that is a time constant
 * of about 160 ms, long enough to bridge the gaps between syllables, short enough that the
 * 500 ms hold dominates how quickly the floor changes. */
#include "media/speaker.h"

#include <string.h>

void pl_speaker_init(pl_speaker_t *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->current = -1;
    sp->candidate = -1;
}

void pl_speaker_level(pl_speaker_t *sp, int i, uint8_t dbov, int64_t now_ms)
{
    if (i < 0 || i >= PL_SPEAKER_MAX) return;
    pl_speaker_src_t *s = &sp->src[i];
    int32_t loud = (127 - (int32_t)(dbov > 127 ? 127 : dbov)) * 256;
    if (!s->present || now_ms - s->last_ms > PL_SPEAKER_STALE_MS) {
        /* A fresh start, not a slow climb from whatever was left from before a silence. */
        s->present = true;
        s->loud_q8 = loud;
    } else {
        s->loud_q8 += (loud - s->loud_q8) / 8;
    }
    s->last_ms = now_ms;
}

void pl_speaker_forget(pl_speaker_t *sp, int i)
{
    if (i < 0 || i >= PL_SPEAKER_MAX) return;
    memset(&sp->src[i], 0, sizeof sp->src[i]);
    if (sp->current == i) sp->current = -1;
    if (sp->candidate == i) sp->candidate = -1;
}

int pl_speaker_update(pl_speaker_t *sp, int64_t now_ms)
{
    int loudest = -1;
    int32_t best = (127 - PL_SPEAKER_SILENCE_DBOV) * 256;

    for (int i = 0; i < PL_SPEAKER_MAX; i++) {
        const pl_speaker_src_t *s = &sp->src[i];
        if (!s->present || now_ms - s->last_ms > PL_SPEAKER_STALE_MS) continue;
        if (s->loud_q8 > best) {
            best = s->loud_q8;
            loudest = i;
        }
    }
    if (loudest < 0 || loudest == sp->current) {
        sp->candidate = -1;
        return -1;
    }
    if (loudest != sp->candidate) {
        sp->candidate = loudest;
        sp->candidate_since = now_ms;
    }
    if (now_ms - sp->candidate_since < PL_SPEAKER_HOLD_MS) return -1;
    sp->current = loudest;
    sp->candidate = -1;
    return loudest;
}
