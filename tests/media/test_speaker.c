/* Unit tests for media/speaker.c: the loudest source becomes the speaker only after leading
 * for PL_SPEAKER_HOLD_MS; noise, silence and stale sources never take the floor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "media/speaker.h"

/* ms of levels at 20 ms intervals from sources 0..2; returns the last change seen, or -1. */
static int run(pl_speaker_t *sp, const int level[3], int64_t *now, int ms, int *changes)
{
    int last = -1;
    for (int t = 0; t < ms; t += 20) {
        for (int i = 0; i < 3; i++)
            if (level[i] >= 0) pl_speaker_level(sp, i, (uint8_t)level[i], *now);
        *now += 20;
        int who = pl_speaker_update(sp, *now);
        if (who >= 0) {
            last = who;
            (*changes)++;
        }
    }
    return last;
}

static void test_first_speaker_needs_the_hold_time(void **state)
{
    (void)state;
    pl_speaker_t sp;
    int64_t now = 0;
    int changes = 0;
    static const int one[3] = {127, 20, 127};
    pl_speaker_init(&sp);
    assert_int_equal(run(&sp, one, &now, PL_SPEAKER_HOLD_MS - 20, &changes), -1);
    assert_int_equal(run(&sp, one, &now, 40, &changes), 1);
    assert_int_equal(sp.current, 1);
    assert_int_equal(run(&sp, one, &now, 2000, &changes), -1);
    assert_int_equal(changes, 1);
}

static void test_noise_and_silence_never_take_the_floor(void **state)
{
    (void)state;
    pl_speaker_t sp;
    int64_t now = 0;
    int changes = 0;
    static const int noise[3] = {PL_SPEAKER_SILENCE_DBOV + 5, 127, 127};
    pl_speaker_init(&sp);
    assert_int_equal(run(&sp, noise, &now, 3000, &changes), -1);
    assert_int_equal(sp.current, -1);
}

static void test_a_stale_source_loses_and_a_forgotten_speaker_is_none(void **state)
{
    (void)state;
    pl_speaker_t sp;
    int64_t now = 0;
    int changes = 0;
    static const int zero[3] = {10, 60, -1}, two_only[3] = {-1, 127, 30};
    pl_speaker_init(&sp);
    assert_int_equal(run(&sp, zero, &now, 1000, &changes), 0);
    /* Source 0 stops sending (muted) while 2 talks: 0 goes stale, 2 takes over. */
    assert_int_equal(run(&sp, two_only, &now, 1500, &changes), 2);
    pl_speaker_forget(&sp, 2);
    assert_int_equal(sp.current, -1);
    pl_speaker_forget(&sp, 9); /* out of range: ignored */
    pl_speaker_level(&sp, -1, 0, now);
    assert_int_equal(changes, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_speaker_needs_the_hold_time),
        cmocka_unit_test(test_noise_and_silence_never_take_the_floor),
        cmocka_unit_test(test_a_stale_source_loses_and_a_forgotten_speaker_is_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
