/* Active-speaker detection from the ssrc-audio-level header extension (RFC 6464): a smoothed
 * loudness per source, and a decision with hysteresis, so the UI's "who is speaking" does
 * not flicker between people who talk over each other.
 *
 * Plain data, like pl_rtp_seq_t: the room (media/room.c) embeds one, feeds it the level of
 * every audio packet it forwards, and asks it for a decision on each tick. No clock is read;
 * every call takes the time. */
#ifndef PL_SPEAKER_H
#define PL_SPEAKER_H

#include <stdbool.h>
#include <stdint.h>

#define PL_SPEAKER_MAX 8 /* sources: one per member, PL_ROOM_MAX_MEMBERS */

/* How long a source must stay the loudest before it becomes the speaker. */
#define PL_SPEAKER_HOLD_MS 500
/* Quieter than this (in -dBov) is not speech: background noise does not take the floor. */
#define PL_SPEAKER_SILENCE_DBOV 50
/* A source that sent no level for this long counts as silent (muted, or its track stopped). */
#define PL_SPEAKER_STALE_MS 400

typedef struct {
    bool present;
    int32_t loud_q8; /* smoothed loudness, 127 - dBov, times 256 */
    int64_t last_ms;
} pl_speaker_src_t;

typedef struct {
    pl_speaker_src_t src[PL_SPEAKER_MAX];
    int current;   /* the speaker, or -1 */
    int candidate; /* the loudest other source while it serves its hold time, or -1 */
    int64_t candidate_since;
} pl_speaker_t;

void pl_speaker_init(pl_speaker_t *sp);
/* One level from source i (0..PL_SPEAKER_MAX-1): dbov as in RFC 6464, 0 loudest and 127
 * silent. Out-of-range i is ignored. */
void pl_speaker_level(pl_speaker_t *sp, int i, uint8_t dbov, int64_t now_ms);
/* Forgets source i (it left). When it was the speaker there is none until another leads. */
void pl_speaker_forget(pl_speaker_t *sp, int i);
/* Decides who speaks at now_ms. Returns the new speaker's index when the speaker changed, or
 * -1. Nobody loud enough keeps the current speaker: the last person who spoke stays shown. */
int pl_speaker_update(pl_speaker_t *sp, int64_t now_ms);

#endif
