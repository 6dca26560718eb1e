/* The Janus half of bench_media: a minimal configuration in a temporary directory (the HTTP
 * transport on 127.0.0.1 and the VideoRoom plugin, nothing else; ICE-lite like Parley, host
 * candidates only from the bench's veth interface, no STUN or TURN, no event handlers, the log
 * in a file), the process, and its REST API driven with bench_http.h: one session, a handle per
 * peer, a room per publisher, subscribers joined to its feed.
 *
 * Janus leaves the loopback interface out when it gathers candidates, so bench_media runs inside
 * a network namespace of its own where a veth pair carries 127.0.0.1/32 (DESIGN.md, "Media");
 * Janus is told to use only that interface. Every packet stays in the namespace, on 127.0.0.1.
 *
 * Asynchronous requests (joins, start) are acknowledged at once and answered by an event that
 * arrives on the session's long poll (GET /janus/<session>); events that belong to other
 * transactions (webrtcup, media, slowlink...) are counted and dropped. Header-only. */
#ifndef PL_BENCH_MEDIA_JANUS_H
#define PL_BENCH_MEDIA_JANUS_H

#include "bench/bench_http.h"
#include "bench/bench_media_rtc.h"
#include "bench/bench_media_sdp.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define BM_JANUS_IF "plbench0" /* the veth end that carries 127.0.0.1/32 */
#define BM_JANUS_TIMEOUT_MS 15000

typedef struct {
    pid_t pid;
    int port;
    char dir[320];
    char lib[256]; /* Janus's module folder: plugins/, transports/... */
    uint64_t session;
    json_t *events; /* events read from the long poll and not yet claimed */
    uint64_t other_events, hangups;
    int event_loops;
    unsigned txn;
} bm_janus_t;

static const char *const bm_janus_libs[] = {"/usr/lib/x86_64-linux-gnu/janus",
                                            "/usr/lib/aarch64-linux-gnu/janus", "/usr/lib/janus",
                                            "/usr/local/lib/janus", "/opt/janus/lib/janus"};

/* A comma-separated list of every module in lib/sub except keep, for the "disable" settings. */
static void bm_janus_disable_list(const char *lib, const char *sub, const char *keep, char *out,
                                  size_t cap)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", lib, sub);
    out[0] = '\0';
    DIR *d = opendir(path);
    if (!d) return;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 3, ".so") || (keep && !strcmp(e->d_name, keep)))
            continue;
        int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", e->d_name);
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
    }
    closedir(d);
}

static int bm_free_tcp_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static int bm_write_file(const char *dir, const char *name, const char *text)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "we");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

/* Writes the configuration into j->dir. 0 or -1. */
static int bm_janus_config(bm_janus_t *j)
{
    char plugins[2048], transports[2048], events[2048], loggers[1024], text[16384];
    bm_janus_disable_list(j->lib, "plugins", "libjanus_videoroom.so", plugins, sizeof plugins);
    bm_janus_disable_list(j->lib, "transports", "libjanus_http.so", transports, sizeof transports);
    bm_janus_disable_list(j->lib, "events", NULL, events, sizeof events);
    bm_janus_disable_list(j->lib, "loggers", NULL, loggers, sizeof loggers);
    snprintf(text, sizeof text,
             "general: {\n  configs_folder = \"%s\"\n  plugins_folder = \"%s/plugins\"\n"
             "  transports_folder = \"%s/transports\"\n  events_folder = \"%s/events\"\n"
             "  loggers_folder = \"%s/loggers\"\n  debug_level = 4\n  session_timeout = 0\n"
             "  event_loops = %d\n  server_name = \"parley-bench\"\n}\n"
             "certificates: {\n}\n"
             "media: {\n  rtp_port_range = \"20000-32000\"\n}\n"
             "nat: {\n  ice_lite = true\n  ice_enforce_list = \"" BM_JANUS_IF "\"\n"
             "  nice_debug = false\n}\n"
             "plugins: {\n  disable = \"%s\"\n}\n"
             "transports: {\n  disable = \"%s\"\n}\n"
             "events: {\n  broadcast = false\n  disable = \"%s\"\n}\n"
             "loggers: {\n  disable = \"%s\"\n}\n",
             j->dir, j->lib, j->lib, j->lib, j->lib, j->event_loops, plugins, transports, events,
             loggers);
    char http[1024];
    snprintf(http, sizeof http,
             "general: {\n  json = \"compact\"\n  base_path = \"/janus\"\n  http = true\n"
             "  port = %d\n  ip = \"127.0.0.1\"\n  https = false\n}\n"
             "admin: {\n  admin_http = false\n  admin_https = false\n}\n",
             j->port);
    if (bm_write_file(j->dir, "janus.jcfg", text) < 0 ||
        bm_write_file(j->dir, "janus.transport.http.jcfg", http) < 0 ||
        bm_write_file(j->dir, "janus.plugin.videoroom.jcfg", "general: {\n}\n") < 0)
        return -1;
    return 0;
}

/* POSTs body (stolen) to path with a new transaction id (copied to txn_out when not NULL, 24
 * bytes) and parses the reply. NULL on failure. */
static json_t *bm_janus_post(bm_janus_t *j, const char *path, json_t *body, char *txn_out)
{
    char txn[24];
    snprintf(txn, sizeof txn, "t%u", ++j->txn);
    if (txn_out) memcpy(txn_out, txn, sizeof txn);
    json_object_set_new(body, "transaction", json_string(txn));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char *resp = NULL;
    int st = text ? pl_bench_http(j->port, "POST", path, text, BM_JANUS_TIMEOUT_MS, &resp) : -1;
    free(text);
    json_t *r = st == 200 && resp ? json_loads(resp, 0, NULL) : NULL;
    free(resp);
    return r;
}

/* Takes the first queued event that is the answer to transaction txn (txn not NULL) or a
 * "webrtcup" from handle h (txn NULL), reading the long poll as needed. NULL on timeout.
 * Other events are counted and dropped; hangups too: a peer Janus gave up on. */
static json_t *bm_janus_event(bm_janus_t *j, const char *txn, uint64_t h, int timeout_ms)
{
    long long deadline = pl_bhttp__ms() + timeout_ms;
    for (;;) {
        size_t i;
        json_t *e;
        json_array_foreach(j->events, i, e)
        {
            const char *t = json_string_value(json_object_get(e, "transaction"));
            const char *kind = json_string_value(json_object_get(e, "janus"));
            uint64_t from = (uint64_t)json_integer_value(json_object_get(e, "sender"));
            if (txn ? t && !strcmp(t, txn) : !strcmp(kind, "webrtcup") && from == h) {
                json_incref(e);
                json_array_remove(j->events, i);
                return e;
            }
        }
        long long left = deadline - pl_bhttp__ms();
        if (left <= 0) return NULL;
        char path[64], *resp = NULL;
        snprintf(path, sizeof path, "/janus/%llu?maxev=20", (unsigned long long)j->session);
        if (pl_bench_http(j->port, "GET", path, NULL, (int)left, &resp) != 200) {
            free(resp);
            continue;
        }
        json_t *got = json_loads(resp, 0, NULL);
        free(resp);
        json_t *arr = json_is_array(got) ? got : json_pack("[O]", got);
        if (got && !json_is_array(got)) json_decref(got);
        json_array_foreach(arr, i, e)
        {
            const char *kind = json_string_value(json_object_get(e, "janus"));
            if (!kind) continue;
            if ((json_object_get(e, "transaction") && !strcmp(kind, "event")) ||
                !strcmp(kind, "webrtcup"))
                json_array_append(j->events, e);
            else if (!strcmp(kind, "hangup"))
                j->hangups++;
            else
                j->other_events++;
        }
        json_decref(arr);
    }
}

/* A plugin message on handle h (body stolen, jsep stolen or NULL). A synchronous reply is
 * used as it is; "ack" waits for the event. On success returns 0 and, if jsep_out, the event's
 * jsep (a new reference, or NULL). Else -1 with *why. */
static int bm_janus_message(bm_janus_t *j, uint64_t h, json_t *body, json_t *jsep,
                            json_t **jsep_out, const char **why)
{
    char path[96], txn[24];
    snprintf(path, sizeof path, "/janus/%llu/%llu", (unsigned long long)j->session,
             (unsigned long long)h);
    json_t *req = json_pack("{ss so}", "janus", "message", "body", body);
    if (jsep) json_object_set_new(req, "jsep", jsep);
    json_t *r = bm_janus_post(j, path, req, txn);
    const char *kind = json_string_value(json_object_get(r, "janus"));
    if (kind && !strcmp(kind, "ack")) {
        json_decref(r);
        r = bm_janus_event(j, txn, 0, BM_JANUS_TIMEOUT_MS);
        kind = json_string_value(json_object_get(r, "janus"));
    }
    json_t *data = json_object_get(json_object_get(r, "plugindata"), "data");
    const char *err = json_string_value(json_object_get(data, "error"));
    int rc = 0;
    if (!kind || (strcmp(kind, "event") && strcmp(kind, "success")) || !data || err) {
        *why = err ? "VideoRoom refused a request (see janus.log)" : "no reply from Janus";
        if (err) fprintf(stderr, "janus: %s\n", err);
        rc = -1;
    } else if (jsep_out) {
        *jsep_out = json_incref(json_object_get(r, "jsep"));
    }
    json_decref(r);
    return rc;
}

static uint64_t bm_janus_id(json_t *r)
{
    return (uint64_t)json_integer_value(json_object_get(json_object_get(r, "data"), "id"));
}

/* Starts Janus (binary: $JANUS_BIN or "janus" on PATH) on a free port with its configuration
 * and log in dir, and opens the session. 0, or -1 with *why. */
static int bm_janus_start(bm_janus_t *j, const char *dir, int event_loops, const char **why)
{
    memset(j, 0, sizeof *j);
    snprintf(j->dir, sizeof j->dir, "%s", dir);
    j->event_loops = event_loops;
    j->events = json_array();
    for (size_t i = 0; i < sizeof bm_janus_libs / sizeof bm_janus_libs[0] && !j->lib[0]; i++) {
        char p[400];
        struct stat st;
        snprintf(p, sizeof p, "%s/plugins/libjanus_videoroom.so", bm_janus_libs[i]);
        if (stat(p, &st) == 0) snprintf(j->lib, sizeof j->lib, "%s", bm_janus_libs[i]);
    }
    const char *lib = getenv("JANUS_LIB_DIR");
    if (lib && *lib) snprintf(j->lib, sizeof j->lib, "%s", lib);
    if (!j->lib[0]) {
        *why = "Janus's VideoRoom plugin was not found (install the janus package: "
               "scripts/deps.sh --bench)";
        return -1;
    }
    j->port = bm_free_tcp_port();
    if (j->port <= 0 || bm_janus_config(j) < 0) {
        *why = "cannot write Janus's configuration";
        return -1;
    }
    const char *bin = getenv("JANUS_BIN");
    if (!bin || !*bin) bin = "janus";
    char cfg[320], logf[320];
    snprintf(cfg, sizeof cfg, "%s/janus.jcfg", dir);
    snprintf(logf, sizeof logf, "%s/janus.log", dir);
    pid_t parent = getpid();
    j->pid = fork();
    if (j->pid < 0) {
        *why = "fork failed";
        return -1;
    }
    if (j->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* Janus dies with the benchmark */
        if (getppid() != parent) _exit(127);
        int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int nul = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0) dup2(nul, 0);
        execlp(bin, bin, "-C", cfg, "-F", dir, "-o", (char *)NULL);
        _exit(127);
    }
    /* Ready when it opens a session. */
    long long deadline = pl_bhttp__ms() + 20000;
    while (pl_bhttp__ms() < deadline) {
        int status;
        if (waitpid(j->pid, &status, WNOHANG) == j->pid) {
            j->pid = 0;
            *why = "janus exited at start (see janus.log)";
            return -1;
        }
        json_t *r = bm_janus_post(j, "/janus", json_pack("{ss}", "janus", "create"), NULL);
        j->session = bm_janus_id(r);
        json_decref(r);
        if (j->session) return 0;
        usleep(100000);
    }
    *why = "janus did not answer on its HTTP port within 20 s (see janus.log)";
    return -1;
}

/* SIGTERM, then SIGKILL after 10 s. Returns the exit status (128+signal), or -1 if killed. */
static int bm_janus_stop(bm_janus_t *j)
{
    json_decref(j->events);
    j->events = NULL;
    if (j->pid <= 0) return -1;
    kill(j->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; i++) {
        if (waitpid(j->pid, &status, WNOHANG) == j->pid) {
            j->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(50000);
    }
    kill(j->pid, SIGKILL);
    waitpid(j->pid, &status, 0);
    j->pid = 0;
    return -1;
}

static uint64_t bm_janus_attach(bm_janus_t *j)
{
    char path[64];
    snprintf(path, sizeof path, "/janus/%llu", (unsigned long long)j->session);
    json_t *r = bm_janus_post(
        j, path, json_pack("{ss ss}", "janus", "attach", "plugin", "janus.plugin.videoroom"), NULL);
    uint64_t h = bm_janus_id(r);
    json_decref(r);
    return h;
}

/* Room r (VideoRoom id 1000 + r): its publisher joins and publishes with an offer, then each
 * subscriber joins the feed, answers Janus's offer and starts. Leaves every peer answered
 * (bm_connect does ICE and DTLS). 0, or -1 with g->fatal. */
static int bm_janus_room(bm_janus_t *j, bm_gen_t *g, bm_side_t *s, int r)
{
    const char *why = "cannot attach a handle";
    bm_peer_t *pub = &s->peers[r * (1 + s->subs)];
    uint64_t room = 1000 + (uint64_t)r, feed = 5000 + (uint64_t)r;
    json_t *jsep = NULL;
    char *offer = NULL;
    pub->handle = bm_janus_attach(j);
    if (pub->handle && bm_janus_message(j, pub->handle,
                                        json_pack("{ss sI si si ss ss sb sb}", "request", "create",
                                                  "room", (json_int_t)room, "publishers", 1,
                                                  "bitrate", 0, "videocodec", "vp8", "audiocodec",
                                                  "opus", "notify_joining", 0, "is_private", 1),
                                        NULL, NULL, &why) == 0)
        offer =
            bm_janus_pub_offer(pl_rtc_client_ufrag(pub->cli), pl_rtc_client_pwd(pub->cli),
                               pl_rtc_client_fingerprint(pub->cli), pub->ssrc, bm_peer_port(pub));
    if (offer)
        bm_janus_message(j, pub->handle,
                         json_pack("{ss sI ss sI}", "request", "joinandconfigure", "room",
                                   (json_int_t)room, "ptype", "publisher", "id", (json_int_t)feed),
                         json_pack("{ss ss}", "type", "offer", "sdp", offer), &jsep, &why);
    free(offer);
    const char *sdp = json_string_value(json_object_get(jsep, "sdp"));
    bm_sdp_info_t info;
    if (!sdp || bm_sdp_info(sdp, NULL, &info, &why) < 0 || !info.cand_port ||
        bm_peer_answered(pub, info.ufrag, info.pwd, info.fp, info.cand_port) < 0) {
        snprintf(g->fatal, sizeof g->fatal, "janus room %d publisher: %s", r,
                 sdp && info.cand_port == 0 ? "no 127.0.0.1 candidate in the answer" : why);
        json_decref(jsep);
        return -1;
    }
    json_decref(jsep);
    pub->pt = (uint8_t)info.vp8_pt;
    pub->mid_ext = (uint8_t)info.mid_ext;
    snprintf(pub->mid, sizeof pub->mid, "%s", info.mid);
    /* The feed exists for subscribers only once Janus has seen the publisher's PeerConnection
     * come up ("webrtcup"). */
    int pi = r * (1 + s->subs);
    if (bm_connect(g, s, pi, pi + 1, 10000) < 0) return -1;
    json_t *up = bm_janus_event(j, NULL, pub->handle, BM_JANUS_TIMEOUT_MS);
    if (!up) {
        snprintf(g->fatal, sizeof g->fatal, "janus room %d: no webrtcup for the publisher", r);
        return -1;
    }
    json_decref(up);
    for (int k = 1; k <= s->subs; k++) {
        bm_peer_t *sub = &s->peers[r * (1 + s->subs) + k];
        char *answer = NULL;
        int started = -1;
        jsep = NULL;
        why = "cannot attach a handle";
        sub->handle = bm_janus_attach(j);
        if (sub->handle)
            bm_janus_message(j, sub->handle,
                             json_pack("{ss sI ss s[{sI}]}", "request", "join", "room",
                                       (json_int_t)room, "ptype", "subscriber", "streams", "feed",
                                       (json_int_t)feed),
                             NULL, &jsep, &why);
        sdp = json_string_value(json_object_get(jsep, "sdp"));
        if (sdp && bm_sdp_info(sdp, NULL, &info, &why) == 0 && info.cand_port)
            answer =
                bm_janus_sub_answer(sdp, pl_rtc_client_ufrag(sub->cli), pl_rtc_client_pwd(sub->cli),
                                    pl_rtc_client_fingerprint(sub->cli), bm_peer_port(sub), &why);
        json_decref(jsep);
        if (answer)
            started =
                bm_janus_message(j, sub->handle, json_pack("{ss}", "request", "start"),
                                 json_pack("{ss ss}", "type", "answer", "sdp", answer), NULL, &why);
        free(answer);
        if (started < 0 ||
            bm_peer_answered(sub, info.ufrag, info.pwd, info.fp, info.cand_port) < 0) {
            snprintf(g->fatal, sizeof g->fatal, "janus room %d subscriber %d: %s", r, k,
                     why ? why : "no 127.0.0.1 candidate in Janus's offer");
            return -1;
        }
    }
    return 0;
}

#endif
