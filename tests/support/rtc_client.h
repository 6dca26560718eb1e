/* A minimal WebRTC client for tests, built from Parley's own codecs and OpenSSL/libsrtp as a
 * browser would use them: ICE checks (controlling, with USE-CANDIDATE), a DTLS client with its
 * own certificate, and SRTP. It has no socket: datagrams go out through a callback, so a unit
 * test can wire it straight to a pl_peer_t and an integration test to a UDP socket. */
#ifndef PL_TEST_RTC_CLIENT_H
#define PL_TEST_RTC_CLIENT_H

#include "media/dtls.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pl_rtc_client pl_rtc_client_t;

typedef void (*pl_rtc_send_fn)(void *opaque, const uint8_t *buf, size_t len);
/* Decrypted RTP (or RTCP) the client received. */
typedef void (*pl_rtc_media_fn)(void *opaque, const uint8_t *buf, size_t len, bool rtcp);

/* remote_ufrag/pwd: the server's ICE credentials from its answer; server_fp: the server's
 * certificate fingerprint (SDP form). Creates its own DTLS context. */
int pl_rtc_client_create(const char *remote_ufrag, const char *remote_pwd, const char *server_fp,
                         pl_rtc_send_fn send, pl_rtc_media_fn media, void *opaque,
                         pl_rtc_client_t **out);
void pl_rtc_client_destroy(pl_rtc_client_t *c);
/* This client's ICE credentials and certificate fingerprint, for its "offer". */
const char *pl_rtc_client_ufrag(const pl_rtc_client_t *c);
const char *pl_rtc_client_pwd(const pl_rtc_client_t *c);
const char *pl_rtc_client_fingerprint(const pl_rtc_client_t *c);
/* New ICE credentials: the server's (from its answer) and, for an ICE restart, this
 * client's own (NULL keeps them). */
void pl_rtc_client_restart(pl_rtc_client_t *c, const char *remote_ufrag, const char *remote_pwd,
                           const char *new_local_ufrag, const char *new_local_pwd);

/* The server's certificate fingerprint from its answer (SDP form), before DTLS starts. The
 * client's own certificate is unchanged. 0 or a negative code. */
int pl_rtc_client_set_server_fingerprint(pl_rtc_client_t *c, const char *server_fp);

/* A real Chromium offer (tests/media/fixtures/chromium_sendrecv.sdp: audio section 0, video
 * section 1, both sendrecv, opus 111 and VP8 96) with this client's ICE credentials and
 * certificate fingerprint written in. malloc'd; the caller frees. Its publishing SSRCs: */
#define PL_RTC_OFFER_AUDIO_SSRC 2886586202u
#define PL_RTC_OFFER_VIDEO_SSRC 1676914129u
char *pl_rtc_client_offer(const pl_rtc_client_t *c);
/* The same offer grown to the K-slot layout of media/room.h, for slots = K (2 ..
 * PL_ROOM_MAX_SLOTS): the fixture's two sections, then copies of its audio and video sections
 * as recvonly pairs (mids 2 .. 2K - 1), then a copy of its video section as the screen
 * (sendrecv, mid 2K); the copies carry no a=ssrc or a=msid lines. slots = 0 is
 * pl_rtc_client_offer. malloc'd; the caller frees. NULL for any other slots. */
char *pl_rtc_client_offer_slots(const pl_rtc_client_t *c, int slots);

/* Sends a connectivity check (nominating when use_candidate). */
int pl_rtc_client_check(pl_rtc_client_t *c, bool use_candidate);
/* Starts the DTLS handshake (the browser is the DTLS client). */
int pl_rtc_client_start_dtls(pl_rtc_client_t *c);
/* One datagram from the server: STUN responses are counted, DTLS fed, SRTP decrypted. */
int pl_rtc_client_receive(pl_rtc_client_t *c, uint8_t *buf, size_t len);
/* Retransmission timer for DTLS; call now and then. */
void pl_rtc_client_tick(pl_rtc_client_t *c);
/* Encrypts and sends an RTP/RTCP packet (buf needs PL_SRTP_TAIL_ROOM spare). */
int pl_rtc_client_send(pl_rtc_client_t *c, uint8_t *buf, size_t len, size_t cap, bool rtcp);

bool pl_rtc_client_connected(const pl_rtc_client_t *c);
bool pl_rtc_client_failed(const pl_rtc_client_t *c);
int pl_rtc_client_stun_ok(const pl_rtc_client_t *c);    /* success responses received */
int pl_rtc_client_stun_errors(const pl_rtc_client_t *c); /* error responses received */

#endif
