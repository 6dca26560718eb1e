/* Unit tests for the parts of signalling/consult.c that no client request reaches yet: the
 * presence helper the media layer will call (pl_consult_presence), run through a real storage
 * thread on a real libuv loop and SQLite store, and the patient's view of a consultation
 * object. The requests themselves are covered end to end by tests/integration/test_consult.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/server_internal.h"

typedef struct {
    char dir[64];
    pl_server_t srv;
    uv_loop_t loop;
    int64_t org, patient, gp, consultation, conversation;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    uint8_t key[32];
    char url[128];
    if (!f) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/parley-test-consult-XXXXXX");
    if (!mkdtemp(f->dir) || pl_random_bytes(key, sizeof key) != 0) return -1;
    snprintf(url, sizeof url, "sqlite:%s/parley.db", f->dir);
    pl_store_t *st = NULL;
    if (pl_store_open(&st, url, key) != 0) return -1;
    /* Seed before the storage thread owns the store. */
    pl_org_t o;
    memset(&o, 0, sizeof o);
    snprintf(o.code, sizeof o.code, "A1");
    snprintf(o.name, sizeof o.name, "Practice");
    snprintf(o.kind, sizeof o.kind, "practice");
    int64_t now = pl_now_ms();
    if (pl_store_org_create(st, &o, &f->org) != 0 ||
        pl_store_user_create(st, PL_USER_PATIENT, "ann", "Ann Taylor", "h", "9434765919",
                             "1948-03-12", f->org, &f->patient) != 0 ||
        pl_store_user_create(st, PL_USER_STAFF, "gp", "Dr Asha Patel", "h", NULL, NULL, 0,
                             &f->gp) != 0 ||
        pl_store_membership_add(st, f->gp, f->org, PL_ROLE_GP) != 0 ||
        pl_store_consult_conv_create(st, f->org, f->patient, "Video consultation", now,
                                     &f->conversation) != 0 ||
        pl_store_consult_create(st, f->conversation, f->org, f->patient, f->gp, 0, now,
                                &f->consultation) != 0)
        return -1;
    f->srv.store = st;
    if (uv_loop_init(&f->loop) != 0 || pl_imap_create(&f->srv.by_user) != 0 ||
        pl_imap_create(&f->srv.by_org) != 0 || pl_imap_create(&f->srv.guests) != 0 ||
        pl_worker_create(&f->srv.worker, &f->loop, st, &f->srv.metrics) != 0)
        return -1;
    f->srv.loop = &f->loop;
    *state = f;
    return 0;
}

/* Finishes every queued job (their done callbacks run), so the store is the test's again. */
static void drain(fx_t *f)
{
    pl_worker_destroy(f->srv.worker);
    f->srv.worker = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

static int teardown(void **state)
{
    fx_t *f = *state;
    if (f->srv.worker) drain(f);
    uv_loop_close(&f->loop);
    pl_imap_destroy(f->srv.by_user);
    pl_imap_destroy(f->srv.by_org);
    pl_imap_destroy(f->srv.guests);
    pl_store_close(f->srv.store);
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *e;
        char p[400];
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void test_presence_is_stored_as_events_on_the_consultation_conversation(void **state)
{
    fx_t *f = *state;
    assert_int_equal(pl_consult_presence(&f->srv, f->consultation, f->patient, PL_CONSULT_JOINED),
                     0);
    assert_int_equal(pl_consult_presence(&f->srv, f->consultation, f->gp, PL_CONSULT_JOINED), 0);
    assert_int_equal(pl_consult_presence(&f->srv, f->consultation, f->patient, PL_CONSULT_LEFT), 0);
    assert_int_equal(
        pl_consult_presence(&f->srv, f->consultation, f->patient, PL_CONSULT_RECONNECTED), 0);
    /* Reports about what does not exist are dropped (and logged), not stored. */
    assert_int_equal(pl_consult_presence(&f->srv, 9999, f->patient, PL_CONSULT_JOINED), 0);
    assert_int_equal(pl_consult_presence(&f->srv, f->consultation, 9999, PL_CONSULT_JOINED), 0);
    drain(f);

    pl_actor_t gp;
    assert_int_equal(pl_store_actor_load(f->srv.store, f->gp, &gp), 0);
    json_t *evs = NULL;
    assert_int_equal(pl_store_events_since(f->srv.store, &gp, 0, 100, &evs), 0);
    assert_int_equal(json_array_size(evs), 4);
    const char *types[] = {"consult.joined", "consult.joined", "consult.left",
                           "consult.reconnected"};
    const int64_t who[] = {f->patient, f->gp, f->patient, f->patient};
    for (size_t i = 0; i < 4; i++) {
        json_t *ev = json_array_get(evs, i);
        assert_string_equal(json_string_value(json_object_get(ev, "type")), types[i]);
        assert_int_equal(json_integer_value(json_object_get(ev, "conversation_id")),
                         f->conversation);
        assert_int_equal(json_integer_value(json_object_get(ev, "patient_id")), f->patient);
        assert_false(json_is_true(json_object_get(ev, "staff_only")));
        json_t *p = json_object_get(ev, "payload");
        assert_int_equal(json_integer_value(json_object_get(p, "consultation_id")),
                         f->consultation);
        json_t *part = json_object_get(p, "participant");
        assert_int_equal(json_integer_value(json_object_get(part, "user_id")), who[i]);
        assert_string_equal(json_string_value(json_object_get(part, "role")),
                            who[i] == f->gp ? "staff" : "patient");
        assert_string_equal(json_string_value(json_object_get(part, "display_name")),
                            who[i] == f->gp ? "Dr Asha Patel" : "Ann Taylor");
    }
    /* As the patient receives them: the clinician by name only. */
    json_t *frame = pl_event_frame(json_array_get(evs, 1), true);
    json_t *part = json_object_get(json_object_get(frame, "event"), "participant");
    assert_null(json_object_get(part, "user_id"));
    assert_string_equal(json_string_value(json_object_get(part, "display_name")), "Dr Asha Patel");
    json_decref(frame);
    json_decref(evs);
}

static void test_patient_view_keeps_names_and_drops_staff_ids(void **state)
{
    (void)state;
    json_t *c = json_pack("{sI s{sI ss} s{sI ss} s[{sI ss}]}", "id", 1, "patient", "id", 8,
                          "display_name", "Ann Taylor", "clinician", "id", 1, "display_name",
                          "Dr Asha Patel", "invited", "id", 2, "display_name", "Grace Okafor");
    pl_consult_patient_view(c);
    assert_null(json_object_get(json_object_get(c, "clinician"), "id"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(c, "clinician"), "display_name")),
        "Dr Asha Patel");
    json_t *inv = json_array_get(json_object_get(c, "invited"), 0);
    assert_null(json_object_get(inv, "id"));
    assert_string_equal(json_string_value(json_object_get(inv, "display_name")), "Grace Okafor");
    /* The patient is who they are. */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "patient"), "id")), 8);
    json_decref(c);
}

int main(void)
{
    pl_log_set_level(PL_LOG_ERROR); /* the dropped reports above log warnings by design */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_presence_is_stored_as_events_on_the_consultation_conversation),
        T(test_patient_view_keeps_names_and_drops_staff_ids),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
