/* A browser stand-in for call tests against the real server: a UDP socket on loopback and a
 * test WebRTC client (rtc_client.h), joined to a consultation with consult.join over a pclient
 * WebSocket. Media the peer receives goes to the on_media callback, decrypted. */
#ifndef PL_TEST_CALL_PEER_H
#define PL_TEST_CALL_PEER_H

#include "media/room.h"
#include "tests/support/pclient.h"
#include "tests/support/rtc_client.h"

#include <netinet/in.h>
#include <stdint.h>

#define PL_CALL_PEER_SECTIONS PL_ROOM_SECTIONS /* the most a K-slot offer has */

typedef struct {
    int fd;
    struct sockaddr_in server;
    pl_rtc_client_t *cli;
    pl_rtc_media_fn on_media;
    void *opaque;
    /* Other-person slots to offer (media/room.h), set after pl_call_peer_open: 0 offers the
     * real Chromium two-section offer (audio, video) as before; K from 2 to PL_ROOM_MAX_SLOTS
     * offers the 2K + 1 sections of pl_rtc_client_offer_slots. */
    int slots;
    /* Test of the fingerprint check: the offer names a certificate this peer does not have. */
    bool wrong_fingerprint;
    /* Optional: return true to lose this datagram before it is decrypted (induced loss). */
    bool (*drop)(void *opaque, const uint8_t *buf, size_t len);
    /* From the last answer: the SSRC Parley announced per offer section (0 = none). */
    uint32_t announced[PL_CALL_PEER_SECTIONS];
} pl_call_peer_t;

/* Opens the socket and creates the client. 0 or a negative code. */
int pl_call_peer_open(pl_call_peer_t *b, int media_port, pl_rtc_media_fn on_media, void *opaque);
void pl_call_peer_close(pl_call_peer_t *b);
/* Reads and handles every datagram waiting, and drives the DTLS timer. */
void pl_call_peer_poll(pl_call_peer_t *b);
/* Sends `type` ("consult.join" or "consult.reoffer") with the client's offer and applies the
 * answer (ICE credentials, fingerprint, announced SSRCs). Returns the reply (caller decrefs);
 * on an ok reply the answer has been applied. */
json_t *pl_call_peer_join(pl_call_peer_t *b, pl_pc_t *pc, int64_t consultation_id,
                          const char *type);
/* ICE check (nominating) and DTLS until connected, polling the other peers meanwhile so their
 * queues keep draining. 0, or -1 on timeout. */
int pl_call_peer_connect(pl_call_peer_t *b, pl_call_peer_t **others, int n_others);
/* Moves to a new local UDP socket, as a phone changing network does. */
int pl_call_peer_rebind(pl_call_peer_t *b);

#endif
