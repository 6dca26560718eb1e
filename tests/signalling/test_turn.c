/* TURN REST credentials: known HMAC-SHA1 vectors (computed independently with Python's hmac),
 * bad input, and the secret file's rules. */
#include "core/err.h"
#include "signalling/turn.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static void test_known_vectors(void **s)
{
    (void)s;
    pl_turn_cred_t c;
    assert_int_equal(pl_turn_credentials((const uint8_t *)"north", 5, "42", 1700000000, 3600, &c),
                     0);
    assert_string_equal(c.username, "1700003600:42");
    assert_string_equal(c.credential, "WO3ZFttCQxBYtA2Ohz7jjGcQStA=");
    assert_int_equal(c.expires_at, 1700003600);
    uint8_t big[64];
    memset(big, 'x', sizeof big);
    assert_int_equal(pl_turn_credentials(big, sizeof big, "patient-8", 1700000000, 86400, &c), 0);
    assert_string_equal(c.credential, "5a8/vRvZDqMD697ttext7rJt3+Y=");
}

static void test_bad_input_is_refused(void **s)
{
    (void)s;
    pl_turn_cred_t c;
    const uint8_t *k = (const uint8_t *)"k";
    assert_int_equal(pl_turn_credentials(NULL, 1, "u", 1, 60, &c), -PL_EINVAL);
    assert_int_equal(pl_turn_credentials(k, 0, "u", 1, 60, &c), -PL_EINVAL);
    assert_int_equal(pl_turn_credentials(k, 1, "", 1, 60, &c), -PL_EINVAL);
    assert_int_equal(pl_turn_credentials(k, 1, "a:b", 1, 60, &c), -PL_EINVAL); /* forged expiry */
    assert_int_equal(pl_turn_credentials(k, 1, "u", 1, 0, &c), -PL_EINVAL);
    char longuser[60];
    memset(longuser, 'u', sizeof longuser - 1);
    longuser[sizeof longuser - 1] = 0;
    assert_int_equal(pl_turn_credentials(k, 1, longuser, 1, 60, &c), -PL_EINVAL);
}

static char dir[64];

static const char *write_file(const char *name, const char *text, mode_t mode)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

static void test_secret_file_rules(void **s)
{
    (void)s;
    snprintf(dir, sizeof dir, "/tmp/parley-turn-XXXXXX");
    assert_non_null(mkdtemp(dir));
    uint8_t sec[PL_TURN_SECRET_MAX];
    size_t n = 0;
    assert_int_equal(pl_turn_load_secret(write_file("ok", "s3cret \n", 0600), sec, &n), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(sec, "s3cret", 6);
    assert_int_equal(pl_turn_load_secret(write_file("noeol", "abc", 0600), sec, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(pl_turn_load_secret(write_file("open", "abc\n", 0644), sec, &n), -PL_EPERM);
    assert_int_equal(pl_turn_load_secret(write_file("empty", "\n", 0600), sec, &n), -PL_EINVAL);
    assert_int_equal(pl_turn_load_secret(write_file("nothing", "", 0600), sec, &n), -PL_EINVAL);
    char big[PL_TURN_SECRET_MAX + 40];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(pl_turn_load_secret(write_file("big", big, 0600), sec, &n), -PL_EINVAL);
    char path[128];
    snprintf(path, sizeof path, "%s/missing", dir);
    assert_int_equal(pl_turn_load_secret(path, sec, &n), -PL_EIO);
    const char *names[] = {"ok", "noeol", "open", "empty", "nothing", "big"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_bad_input_is_refused),
        cmocka_unit_test(test_secret_file_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
