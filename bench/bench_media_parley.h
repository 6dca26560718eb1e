/* The Parley half of bench_media: the real server started from `parley demo` data (pclient.h's
 * fixture: a fresh directory, cheap password hashing, free TCP and UDP ports, 127.0.0.1), and
 * its rooms. A room is a consultation that dr.patel books for ann.taylor; staff of the practice
 * may join while it is booked, so its people are all staff: dr.patel publishes, nurse.okafor
 * and reception.jones subscribe. Each joins with consult.join and its own five-section offer
 * (bench_media_sdp.h), over one WebSocket per person. Header-only. */
#ifndef PL_BENCH_MEDIA_PARLEY_H
#define PL_BENCH_MEDIA_PARLEY_H

#include "bench/bench_media_rtc.h"
#include "bench/bench_media_sdp.h"
#include "bench/bench_proc.h"
#include "tests/support/pclient.h"

#define BM_PARLEY_TIMEOUT_MS 10000

static const char *const bm_parley_people[3] = {"dr.patel", "nurse.okafor", "reception.jones"};

typedef struct {
    pl_fixture_t fx;
    bool started;
    int media_port;
    pl_pc_t *pc[3];
    char *fixture_sdp;
} bm_parley_t;

/* Starts the server and signs the three people in. 0, or -1 with g->fatal. */
static int bm_parley_start(bm_parley_t *px, bm_gen_t *g, bm_side_t *s, const char *fixture_path)
{
    static const char *const args[] = {"--rate-limit-per-sec", "100000", "--rate-limit-burst",
                                       "100000", NULL};
    px->fixture_sdp = bm_read_file(fixture_path);
    if (!px->fixture_sdp) {
        snprintf(g->fatal, sizeof g->fatal, "cannot read %.400s", fixture_path);
        return -1;
    }
    int rc = pl_fixture_start(&px->fx, args);
    if (rc < 0) {
        snprintf(g->fatal, sizeof g->fatal, "parley did not start: %s", strerror(-rc));
        return -1;
    }
    px->started = true;
    px->media_port = pl_test_server_media_port(px->fx.srv);
    s->pid = pl_proc_find_child(px->fx.dir);
    if (s->pid <= 0) {
        snprintf(g->fatal, sizeof g->fatal, "cannot find parley's pid in /proc");
        return -1;
    }
    for (int i = 0; i < 3; i++)
        if (pl_pc_open(&px->pc[i], &px->fx, bm_parley_people[i]) < 0) {
            snprintf(g->fatal, sizeof g->fatal, "%s cannot sign in", bm_parley_people[i]);
            return -1;
        }
    return 0;
}

/* Reads the pushes the server sent meanwhile (consult.joined and the like): nobody waits for
 * them, but an unread socket would fill up. */
static void bm_parley_drain(bm_parley_t *px)
{
    for (int i = 0; i < 3; i++) {
        json_t *m;
        while (px->pc[i] && (m = pl_pc_next_push(px->pc[i], 0)))
            json_decref(m);
    }
}

/* Books room r's consultation and joins its people (peers already open). 0 or -1. */
static int bm_parley_room(bm_parley_t *px, bm_gen_t *g, bm_side_t *s, int r)
{
    json_t *rep = pl_pc_callf(px->pc[0], BM_PARLEY_TIMEOUT_MS, "{ss sI}", "type", "consult.book",
                              "patient_id", (json_int_t)pl_fixture_user_id(&px->fx, "ann.taylor"));
    json_int_t kid =
        json_integer_value(json_object_get(json_object_get(rep, "consultation"), "id"));
    json_decref(rep);
    if (kid <= 0) {
        snprintf(g->fatal, sizeof g->fatal, "consult.book failed for room %d", r);
        return -1;
    }
    for (int k = 0; k <= s->subs; k++) {
        bm_peer_t *p = &s->peers[r * (1 + s->subs) + k];
        char *offer =
            bm_parley_offer(px->fixture_sdp, pl_rtc_client_ufrag(p->cli), pl_rtc_client_pwd(p->cli),
                            pl_rtc_client_fingerprint(p->cli), p->ssrc);
        rep = offer ? pl_pc_callf(px->pc[k], BM_PARLEY_TIMEOUT_MS, "{ss sI ss}", "type",
                                  "consult.join", "consultation_id", kid, "offer", offer)
                    : NULL;
        free(offer);
        const char *answer = json_string_value(json_object_get(rep, "answer"));
        const char *why = "no answer";
        bm_sdp_info_t info;
        /* The camera is section 1 (mid "1") of the layout. */
        int rc = answer ? bm_sdp_info(answer, "1", &info, &why) : -1;
        if (rc == 0 && bm_peer_answered(p, info.ufrag, info.pwd, info.fp, px->media_port) < 0)
            rc = -1;
        if (rc < 0) {
            char *txt = rep ? json_dumps(rep, JSON_COMPACT) : NULL;
            snprintf(g->fatal, sizeof g->fatal, "consult.join (room %d, %s): %s: %.200s", r,
                     bm_parley_people[k], why, txt ? txt : "timeout");
            free(txt);
            json_decref(rep);
            return -1;
        }
        json_decref(rep);
        p->pt = (uint8_t)info.vp8_pt;
        p->mid_ext = (uint8_t)info.mid_ext;
        snprintf(p->mid, sizeof p->mid, "%s", info.mid);
    }
    return 0;
}

/* Stops the server (SIGTERM; its exit status is returned) and removes its directory. */
static int bm_parley_stop(bm_parley_t *px)
{
    int status = -1;
    for (int i = 0; i < 3; i++)
        pl_pc_destroy(px->pc[i]);
    if (px->started) {
        status = pl_test_server_stop(px->fx.srv);
        pl_fixture_stop(&px->fx);
    }
    free(px->fixture_sdp);
    return status;
}

#endif
