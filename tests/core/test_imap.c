/* Unit tests for core/imap.c: add, get and remove of pointer sets by int64 key, duplicates
 * removed one at a time, absent removals reported, negative and extreme keys, and growth past
 * thousands of keys (with removed keys mixed in) keeping every set intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "core/err.h"
#include "core/imap.h"

/* Distinct addresses to store; the map never dereferences them. */
static char objs[64];

static int map_setup(void **state)
{
    pl_imap_t *m = NULL;
    if (pl_imap_create(&m) != 0) return -1;
    *state = m;
    return 0;
}

static int map_teardown(void **state)
{
    pl_imap_destroy(*state);
    return 0;
}

/* How many times p occurs in key's set. */
static size_t count_of(const pl_imap_t *m, int64_t key, const void *p)
{
    size_t n = 0, c = 0;
    void *const *v = pl_imap_get(m, key, &n);
    for (size_t i = 0; i < n; i++)
        if (v[i] == p) c++;
    return c;
}

static size_t size_of(const pl_imap_t *m, int64_t key)
{
    size_t n = 99;
    (void)pl_imap_get(m, key, &n);
    return n;
}

static void test_get_of_absent_key_is_empty(void **state)
{
    pl_imap_t *m = *state;
    size_t n = 99;
    assert_null(pl_imap_get(m, 7, &n));
    assert_int_equal(n, 0);
}

static void test_added_pointers_are_returned_for_their_key_only(void **state)
{
    pl_imap_t *m = *state;
    assert_int_equal(pl_imap_add(m, 1, &objs[0]), 0);
    assert_int_equal(pl_imap_add(m, 1, &objs[1]), 0);
    assert_int_equal(pl_imap_add(m, 2, &objs[2]), 0);

    assert_int_equal(size_of(m, 1), 2);
    assert_int_equal(count_of(m, 1, &objs[0]), 1);
    assert_int_equal(count_of(m, 1, &objs[1]), 1);
    assert_int_equal(count_of(m, 1, &objs[2]), 0);
    assert_int_equal(size_of(m, 2), 1);
    assert_int_equal(count_of(m, 2, &objs[2]), 1);
    assert_int_equal(size_of(m, 3), 0);
}

static void test_remove_takes_out_only_that_pointer(void **state)
{
    pl_imap_t *m = *state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(pl_imap_add(m, 10, &objs[i]), 0);
    assert_int_equal(pl_imap_remove(m, 10, &objs[2]), 0);

    assert_int_equal(size_of(m, 10), 4);
    assert_int_equal(count_of(m, 10, &objs[2]), 0);
    for (int i = 0; i < 5; i++)
        if (i != 2) assert_int_equal(count_of(m, 10, &objs[i]), 1);
}

static void test_duplicates_are_kept_and_removed_one_at_a_time(void **state)
{
    pl_imap_t *m = *state;
    assert_int_equal(pl_imap_add(m, 5, &objs[0]), 0);
    assert_int_equal(pl_imap_add(m, 5, &objs[0]), 0);
    assert_int_equal(pl_imap_add(m, 5, &objs[0]), 0);
    assert_int_equal(count_of(m, 5, &objs[0]), 3);

    assert_int_equal(pl_imap_remove(m, 5, &objs[0]), 0);
    assert_int_equal(count_of(m, 5, &objs[0]), 2);
    assert_int_equal(pl_imap_remove(m, 5, &objs[0]), 0);
    assert_int_equal(pl_imap_remove(m, 5, &objs[0]), 0);
    assert_int_equal(size_of(m, 5), 0);
    assert_int_equal(pl_imap_remove(m, 5, &objs[0]), -PL_ENOTFOUND);
}

static void test_remove_of_absent_key_or_pointer_is_not_found(void **state)
{
    pl_imap_t *m = *state;
    assert_int_equal(pl_imap_remove(m, 42, &objs[0]), -PL_ENOTFOUND);
    assert_int_equal(pl_imap_add(m, 42, &objs[0]), 0);
    assert_int_equal(pl_imap_remove(m, 42, &objs[1]), -PL_ENOTFOUND);
    assert_int_equal(pl_imap_remove(m, 43, &objs[0]), -PL_ENOTFOUND);
    /* The failed removals left the real entry alone. */
    assert_int_equal(count_of(m, 42, &objs[0]), 1);
}

static void test_key_emptied_then_reused_works(void **state)
{
    pl_imap_t *m = *state;
    assert_int_equal(pl_imap_add(m, 9, &objs[0]), 0);
    assert_int_equal(pl_imap_remove(m, 9, &objs[0]), 0);
    assert_int_equal(size_of(m, 9), 0);
    assert_int_equal(pl_imap_add(m, 9, &objs[1]), 0);
    assert_int_equal(size_of(m, 9), 1);
    assert_int_equal(count_of(m, 9, &objs[1]), 1);
}

static void test_negative_zero_and_extreme_keys_are_distinct(void **state)
{
    pl_imap_t *m = *state;
    const int64_t keys[] = {0, -1, 1, -2, INT64_MIN, INT64_MAX, INT64_MIN + 1, (int64_t)1 << 40};
    const size_t nk = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < nk; i++)
        assert_int_equal(pl_imap_add(m, keys[i], &objs[i]), 0);
    for (size_t i = 0; i < nk; i++) {
        assert_int_equal(size_of(m, keys[i]), 1);
        assert_int_equal(count_of(m, keys[i], &objs[i]), 1);
    }
    assert_int_equal(pl_imap_remove(m, -1, &objs[1]), 0);
    assert_int_equal(size_of(m, -1), 0);
    assert_int_equal(count_of(m, 1, &objs[2]), 1);
    assert_int_equal(count_of(m, INT64_MIN, &objs[4]), 1);
}

/* Keys spread out and including negatives, so that probe chains cross and wrap. */
static int64_t key_of(int i)
{
    return (i % 2 ? -1 : 1) * (int64_t)i * 1000003;
}

static void test_growth_past_thousands_of_keys_keeps_every_set_intact(void **state)
{
    pl_imap_t *m = *state;
    enum { NKEYS = 5000 };
    /* Key i holds (i % 3) + 1 pointers: objs[i % 50], objs[(i % 50) + 1], ... */
    for (int i = 0; i < NKEYS; i++)
        for (int k = 0; k <= i % 3; k++)
            assert_int_equal(pl_imap_add(m, key_of(i), &objs[i % 50 + k]), 0);
    /* Empty every fourth key part way through further growth, leaving empty sets behind. */
    for (int i = 0; i < NKEYS; i += 4)
        for (int k = 0; k <= i % 3; k++)
            assert_int_equal(pl_imap_remove(m, key_of(i), &objs[i % 50 + k]), 0);
    for (int i = NKEYS; i < 2 * NKEYS; i++)
        assert_int_equal(pl_imap_add(m, key_of(i), &objs[i % 50]), 0);

    for (int i = 0; i < NKEYS; i++) {
        size_t want = i % 4 == 0 ? 0 : (size_t)(i % 3) + 1;
        assert_int_equal(size_of(m, key_of(i)), want);
        for (size_t k = 0; k < want; k++)
            assert_int_equal(count_of(m, key_of(i), &objs[i % 50 + (int)k]), 1);
    }
    for (int i = NKEYS; i < 2 * NKEYS; i++) {
        assert_int_equal(size_of(m, key_of(i)), 1);
        assert_int_equal(count_of(m, key_of(i), &objs[i % 50]), 1);
    }
    /* Keys never added are still absent after all that rehashing. */
    assert_int_equal(size_of(m, 999999937), 0);
    assert_int_equal(size_of(m, -999999937), 0);
}

static void test_large_set_under_one_key_grows_and_shrinks(void **state)
{
    pl_imap_t *m = *state;
    static char many[3000];
    for (size_t i = 0; i < sizeof many; i++)
        assert_int_equal(pl_imap_add(m, -77, &many[i]), 0);
    assert_int_equal(size_of(m, -77), sizeof many);
    for (size_t i = 0; i < sizeof many; i += 2)
        assert_int_equal(pl_imap_remove(m, -77, &many[i]), 0);
    assert_int_equal(size_of(m, -77), sizeof many / 2);
    for (size_t i = 0; i < sizeof many; i++)
        assert_int_equal(count_of(m, -77, &many[i]), i % 2 ? 1 : 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, map_setup, map_teardown)
    const struct CMUnitTest tests[] = {
        T(test_get_of_absent_key_is_empty),
        T(test_added_pointers_are_returned_for_their_key_only),
        T(test_remove_takes_out_only_that_pointer),
        T(test_duplicates_are_kept_and_removed_one_at_a_time),
        T(test_remove_of_absent_key_or_pointer_is_not_found),
        T(test_key_emptied_then_reused_works),
        T(test_negative_zero_and_extreme_keys_are_distinct),
        T(test_growth_past_thousands_of_keys_keeps_every_set_intact),
        T(test_large_set_under_one_key_grows_and_shrinks),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
