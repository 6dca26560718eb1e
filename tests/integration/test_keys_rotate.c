/* Integration: `parley keys rotate` on the real binary. The demo data is served, the server is
 * stopped, the master key is rotated (and one organisation's data key), and the restarted server
 * serves the same conversations and messages; the key file changed, is still 0600, and the old
 * master key no longer opens the database. */
#include "tests/support/pclient.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h and stdarg.h, which it needs */

#define T 5000

static pl_fixture_t fx;

static int setup(void **s)
{
    return pl_fixture_start(&fx, NULL);
}

static int teardown(void **s)
{
    pl_fixture_stop(&fx);
    return 0;
}

static void key_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", fx.dir, name);
}

static void read_key(uint8_t key[32])
{
    char p[400];
    key_path(p, sizeof p, "data.key");
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, key, 32), 32);
    close(fd);
}

static void write_key(const uint8_t key[32])
{
    char p[400];
    key_path(p, sizeof p, "data.key");
    int fd = open(p, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, key, 32), 32);
    close(fd);
}

/* What the GP sees: the conversation list and every conversation's messages, as one string
 * (sealed subjects and bodies included), with the fields that change by themselves taken out. */
static char *snapshot(void)
{
    pl_pc_t *gp = NULL;
    assert_int_equal(pl_pc_open(&gp, &fx, "dr.patel"), 0);
    json_t *l = pl_pc_callf(gp, T, "{ss}", "type", "conversation.list");
    assert_true(pl_pc_is_ok(l));
    json_t *convs = json_object_get(l, "conversations");
    assert_true(json_array_size(convs) > 0);
    json_t *all = json_object();
    json_object_set(all, "list", convs);
    json_t *hist = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(convs, i, c)
    {
        json_t *h = pl_pc_callf(gp, T, "{ss sO}", "type", "conversation.history", "conversation_id",
                                json_object_get(c, "id"));
        assert_true(pl_pc_is_ok(h));
        json_array_append(hist, json_object_get(h, "messages"));
        json_decref(h);
    }
    json_object_set_new(all, "history", hist);
    char *out = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(all);
    json_decref(l);
    pl_pc_destroy(gp);
    return out;
}

static int run_keys(char **out, const char *a1, const char *a2)
{
    const char *args[] = {"keys", "rotate", "--data-dir", fx.dir, a1, a2, NULL};
    return pl_test_run_cli(out, args);
}

/* The patient writes in (sealed under her practice's data key), and the GP answers. */
static void patient_writes(const char *txn, const char *subject, const char *body)
{
    pl_pc_t *pt = NULL;
    assert_int_equal(pl_pc_open(&pt, &fx, "ann.taylor"), 0);
    json_t *r = pl_pc_callf(pt, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id", txn,
                            "kind", "admin", "subject", subject, "body", body);
    assert_true(pl_pc_is_ok(r));
    json_int_t cid = json_integer_value(json_object_get(json_object_get(r, "conversation"), "id"));
    json_decref(r);
    pl_pc_destroy(pt);
    pl_pc_t *gp = NULL;
    assert_int_equal(pl_pc_open(&gp, &fx, "dr.patel"), 0);
    r = pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id",
                    (json_int_t)cid, "txn_id", txn, "body", "The GP's answer");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    pl_pc_destroy(gp);
}

static void test_rotation_keeps_the_demo_readable_and_retires_the_old_master_key(void **state)
{
    patient_writes("before-rotate", "Before the rotation", "written before the rotation");
    free(snapshot()); /* a first look marks things read: compare from the second */
    char *before = snapshot();
    assert_non_null(strstr(before, "\"body\""));
    uint8_t old_key[32], new_key[32];
    read_key(old_key);
    assert_int_equal(pl_test_server_stop(fx.srv), 0);

    char *out = NULL;
    assert_int_equal(run_keys(&out, NULL, NULL), 0);
    assert_non_null(out);
    assert_non_null(strstr(out, "re-wrapped"));
    free(out);
    out = NULL;
    assert_int_equal(run_keys(&out, "--org", "Y90001"), 0);
    assert_non_null(strstr(out, "new data key"));
    free(out);
    out = NULL;
    assert_int_equal(run_keys(&out, "--org", "NOSUCH"), 1);
    free(out);

    /* The key file changed, is still private, and no data.key.new is left behind. */
    read_key(new_key);
    assert_memory_not_equal(old_key, new_key, 32);
    char p[400];
    struct stat sb;
    key_path(p, sizeof p, "data.key");
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    key_path(p, sizeof p, "data.key.new");
    assert_int_not_equal(access(p, F_OK), 0);

    /* The old master key opens nothing now, and is refused without harm. */
    write_key(old_key);
    const char *exp[] = {"export", "fhir", "--patient", "9990002592", "--data-dir", fx.dir, NULL};
    out = NULL;
    assert_int_not_equal(pl_test_run_cli(&out, exp), 0);
    free(out);
    write_key(new_key);
    out = NULL;
    assert_int_equal(pl_test_run_cli(&out, exp), 0);
    free(out);

    /* The restarted server serves exactly what it served before. */
    assert_int_equal(pl_fixture_restart(&fx, NULL), 0);
    char *after = snapshot();
    assert_string_equal(before, after);
    /* and writes under the new keys. */
    patient_writes("after-rotate", "After the rotation", "written after the rotation");
    char *later = snapshot();
    assert_non_null(strstr(later, "written after the rotation"));
    free(before);
    free(after);
    free(later);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_rotation_keeps_the_demo_readable_and_retires_the_old_master_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
