/* A browser stand-in for call tests (see call_peer.h). */
#include "tests/support/call_peer.h"
#include "core/err.h"
#include "media/sdp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void peer_send(void *opaque, const uint8_t *buf, size_t len)
{
    pl_call_peer_t *b = opaque;
    sendto(b->fd, buf, len, 0, (const struct sockaddr *)&b->server, sizeof b->server);
}

static void peer_media(void *opaque, const uint8_t *buf, size_t len, bool rtcp)
{
    pl_call_peer_t *b = opaque;
    if (b->on_media) b->on_media(b->opaque, buf, len, rtcp);
}

static int new_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in me = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
    if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

int pl_call_peer_open(pl_call_peer_t *b, int media_port, pl_rtc_media_fn on_media, void *opaque)
{
    memset(b, 0, sizeof *b);
    b->on_media = on_media;
    b->opaque = opaque;
    if ((b->fd = new_socket()) < 0) return -PL_EIO;
    b->server.sin_family = AF_INET;
    b->server.sin_port = htons((uint16_t)media_port);
    inet_pton(AF_INET, "127.0.0.1", &b->server.sin_addr);
    /* The server's credentials and fingerprint arrive with the answer. */
    static const char zero_fp[] = "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:"
                                  "00:00:00:00:00:00:00:00:00:00:00:00";
    return pl_rtc_client_create("none", "none", zero_fp, peer_send, peer_media, b, &b->cli);
}

void pl_call_peer_close(pl_call_peer_t *b)
{
    pl_rtc_client_destroy(b->cli);
    if (b->fd >= 0) close(b->fd);
    b->cli = NULL;
    b->fd = -1;
}

void pl_call_peer_poll(pl_call_peer_t *b)
{
    uint8_t buf[2048];
    ssize_t n;
    while ((n = recv(b->fd, buf, sizeof buf, 0)) > 0) {
        if (b->drop && b->drop(b->opaque, buf, (size_t)n)) continue;
        pl_rtc_client_receive(b->cli, buf, (size_t)n);
    }
    pl_rtc_client_tick(b->cli);
}

json_t *pl_call_peer_join(pl_call_peer_t *b, pl_pc_t *pc, int64_t consultation_id,
                          const char *type)
{
    char *offer = pl_rtc_client_offer_slots(b->cli, b->slots);
    if (!offer) return NULL;
    char *fpl = b->wrong_fingerprint ? strstr(offer, "a=fingerprint:sha-256 ") : NULL;
    if (fpl) {
        char *hexd = fpl + strlen("a=fingerprint:sha-256 ");
        *hexd = *hexd == 'A' ? 'B' : 'A';
    }
    json_t *r = pl_pc_callf(pc, 5000, "{ss sI ss}", "type", type, "consultation_id",
                            (json_int_t)consultation_id, "offer", offer);
    free(offer);
    const char *answer = r ? json_string_value(json_object_get(r, "answer")) : NULL;
    if (!answer) return r;
    pl_sdp_offer_t *parsed = NULL;
    if (pl_sdp_offer_parse((const uint8_t *)answer, strlen(answer), &parsed, NULL) < 0) return r;
    const pl_sdp_session_t *s = pl_sdp_offer_session(parsed);
    char fp[PL_DTLS_FP_STR_LEN];
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 0; i < 32; i++) {
        fp[i * 3] = hex[s->fingerprint[i] >> 4];
        fp[i * 3 + 1] = hex[s->fingerprint[i] & 15];
        fp[i * 3 + 2] = i == 31 ? 0 : ':';
    }
    memset(b->announced, 0, sizeof b->announced);
    for (size_t i = 0; i < PL_CALL_PEER_SECTIONS && i < pl_sdp_offer_section_count(parsed); i++) {
        const pl_sdp_section_t *sec = pl_sdp_offer_section(parsed, i);
        if (sec->n_ssrcs) b->announced[i] = sec->ssrcs[0].ssrc;
    }
    pl_rtc_client_restart(b->cli, s->ice_ufrag, s->ice_pwd, NULL, NULL);
    /* DTLS runs once per peer: a re-offer (ICE restart) keeps the connected transport. */
    if (strcmp(type, "consult.join") == 0) pl_rtc_client_set_server_fingerprint(b->cli, fp);
    pl_sdp_offer_destroy(parsed);
    return r;
}

int pl_call_peer_connect(pl_call_peer_t *b, pl_call_peer_t **others, int n_others)
{
    int ok_before = pl_rtc_client_stun_ok(b->cli);
    if (pl_rtc_client_check(b->cli, true) < 0) return -1;
    for (int i = 0; i < 400 && pl_rtc_client_stun_ok(b->cli) == ok_before; i++) {
        usleep(5000);
        pl_call_peer_poll(b);
    }
    if (pl_rtc_client_stun_ok(b->cli) == ok_before) return -1;
    if (pl_rtc_client_connected(b->cli)) return 0;
    if (pl_rtc_client_start_dtls(b->cli) < 0) return -1;
    for (int i = 0; i < 600 && !pl_rtc_client_connected(b->cli); i++) {
        usleep(5000);
        pl_call_peer_poll(b);
        for (int k = 0; k < n_others; k++) pl_call_peer_poll(others[k]);
    }
    return pl_rtc_client_connected(b->cli) ? 0 : -1;
}

int pl_call_peer_rebind(pl_call_peer_t *b)
{
    int fd = new_socket();
    if (fd < 0) return -PL_EIO;
    close(b->fd);
    b->fd = fd;
    return 0;
}
