/* Unit tests for media/rtp.c: RTP/RTCP classification, parsing of typical Chrome packets, every
 * kind of malformed header, RFC 8285 extension access and the forwarding rewriters, the writer
 * through the parser, and the RFC 3550 A.1 sequence tracker across wraparound, reordering and
 * loss. Truncation and mutation tests copy each input into a heap block of exactly its length,
 * so a read past len is caught by the sanitizer build (make test-asan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "media/rtp.h"

/* Chrome VP8 key frame start with the video extensions of an example offer: 1 toffset,
 * 2 abs-send-time, 3 transport-wide-cc, 4 sdes:mid. One-byte form, 13 bytes of elements
 * padded with 3 zero bytes to 4 words. */
static const uint8_t vp8_pkt[] = {
    0x90, 0xE0, 0x1A, 0x2B,             /* V=2 X=1, M=1 PT=96, seq 0x1A2B */
    0x00, 0x11, 0xA4, 0xF8,             /* timestamp */
    0x4D, 0x2C, 0x1E, 0x0F,             /* SSRC */
    0xBE, 0xDE, 0x00, 0x04,             /* one-byte form, 4 words */
    0x12, 0x00, 0x00, 0x00,             /* id 1 toffset, 3 bytes */
    0x22, 0x12, 0x34, 0x56,             /* id 2 abs-send-time 0x123456 */
    0x31, 0x01, 0x2C,                   /* id 3 transport seq 300 */
    0x40, '0',                          /* id 4 mid "0" */
    0x00, 0x00, 0x00,                   /* padding */
    0x90, 0x80, 0x2A, 0x7B,             /* VP8 descriptor: X S, I, picture id 0x2A7B */
    0x50, 0x2B, 0x00, 0x9D, 0x01, 0x2A, /* key frame header and start code */
    0x80, 0x02, 0xE0, 0x01,             /* 640x480 */
    0x39, 0x6B, 0x00, 0x27,
};

/* Chrome Opus packet: 1 ssrc-audio-level (V=1, 42 -dBov), 3 transport-wide-cc seq 1234. */
static const uint8_t opus_pkt[] = {
    0x90, 0x6F, 0x03, 0xE8,                         /* X=1, PT=111, seq 1000 */
    0x00, 0x00, 0x3C, 0x00,                         /* timestamp 15360 */
    0x0B, 0xAD, 0xCA, 0xFE,                         /* SSRC */
    0xBE, 0xDE, 0x00, 0x02,                         /* one-byte form, 2 words */
    0x10, 0xAA,                                     /* id 1, 1 byte: V=1 level=42 */
    0x31, 0x04, 0xD2,                               /* id 3, 2 bytes: 1234 */
    0x00, 0x00, 0x00,                               /* padding */
    0x78, 0x0B, 0xE4, 0xC1, 0x36, 0xEC, 0xC5, 0x8D, /* Opus TOC and frame */
};

/* Two CSRCs (a mixer), no extension, 4 bytes of padding. */
static const uint8_t csrc_pad_pkt[] = {
    0xA2, 0x08, 0x00, 0x01, /* V=2 P=1 CC=2, PT=8 (PCMA), seq 1 */
    0x00, 0x00, 0x00, 0xA0, /* timestamp */
    0x11, 0x22, 0x33, 0x44, /* SSRC */
    0xAA, 0xAA, 0xAA, 0x01, /* CSRC */
    0xBB, 0xBB, 0xBB, 0x02, /* CSRC */
    0xD5, 0xD5, 0xD5, 0xD5, /* payload */
    0x00, 0x00, 0x00, 0x04, /* padding, count 4 */
};

/* Two-byte form (appbits 0x5): a zero-length id 1, padding, id 20 with 17 bytes (too long for
 * the one-byte form), id 3 transport seq. Laid out by field, which clang-format would reflow. */
/* clang-format off */
static const uint8_t two_byte_pkt[] = {
    0x90, 0x60, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20, 0x01, 0x02, 0x03, 0x04,
    0x10, 0x05, 0x00, 0x07, /* profile 0x1005, 7 words = 28 bytes */
    0x01, 0x00,             /* id 1, length 0 */
    0x00,                   /* padding */
    0x14, 0x11, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p',
    'q',                    /* offset 19: id 20, 17 bytes */
    0x03, 0x02, 0xFF, 0xFE, /* id 3: 65534 */
    0x00, 0x00,             /* padding to 28 */
    0xDE, 0xAD, 0xBE, 0xEF,
};
/* clang-format on */

typedef struct {
    const char *name;
    const uint8_t *buf;
    size_t len;
} sample_t;

static const sample_t samples[] = {
    {"vp8", vp8_pkt, sizeof vp8_pkt},
    {"opus", opus_pkt, sizeof opus_pkt},
    {"csrc_pad", csrc_pad_pkt, sizeof csrc_pad_pkt},
    {"two_byte", two_byte_pkt, sizeof two_byte_pkt},
};

/* A heap copy of exactly n bytes (at least one allocated), so overreads are caught. */
static uint8_t *dup_exact(const uint8_t *b, size_t n)
{
    uint8_t *p = malloc(n > 0 ? n : 1);
    assert_non_null(p);
    if (n > 0) memcpy(p, b, n);
    return p;
}

/* Checks the invariants of a successful parse and reads every byte it points at. */
static void check_view(const pl_rtp_packet_t *p, const uint8_t *buf, size_t n)
{
    assert_ptr_equal(p->data, buf);
    assert_int_equal(p->len, n);
    assert_true(p->header_len <= n);
    assert_ptr_equal(p->payload, buf + p->header_len);
    assert_int_equal(p->header_len + p->payload_len + p->padding_len, n);
    unsigned sum = 0;
    for (size_t i = 0; i < p->payload_len; i++)
        sum += p->payload[i];
    for (size_t i = 0; i < p->csrc_count; i++)
        sum += pl_rtp_csrc(p, i);
    size_t cur = 0;
    pl_rtp_ext_t e;
    while (pl_rtp_ext_next(p, &cur, &e) == 0) {
        assert_true(e.data >= buf && e.data + e.len <= buf + n);
        for (size_t i = 0; i < e.len; i++)
            sum += e.data[i];
    }
    (void)sum;
}

static void test_classify_tells_rtp_from_rtcp_and_other_protocols(void **state)
{
    (void)state;
    uint8_t b[12] = {0};

    b[0] = 0x80, b[1] = 0x60; /* PT 96 */
    assert_int_equal(pl_rtp_classify(b, 12), PL_RTP_CLASS_RTP);
    b[1] = 0xE0; /* PT 96 with marker: still RTP */
    assert_int_equal(pl_rtp_classify(b, 12), PL_RTP_CLASS_RTP);
    b[1] = 0x6F; /* PT 111 */
    assert_int_equal(pl_rtp_classify(b, 12), PL_RTP_CLASS_RTP);
    b[1] = 0x00; /* PT 0 */
    assert_int_equal(pl_rtp_classify(b, 12), PL_RTP_CLASS_RTP);
    for (unsigned pt = 192; pt <= 223; pt++) {
        b[1] = (uint8_t)pt;
        assert_int_equal(pl_rtp_classify(b, 4), PL_RTP_CLASS_RTCP);
    }
    b[1] = 191; /* PT 63 with marker */
    assert_int_equal(pl_rtp_classify(b, 12), PL_RTP_CLASS_RTP);
    b[1] = 224; /* PT 96 with marker */
    assert_int_equal(pl_rtp_classify(b, 12), PL_RTP_CLASS_RTP);

    b[1] = 0x60;
    b[0] = 0x00; /* STUN */
    assert_int_equal(pl_rtp_classify(b, 12), PL_RTP_CLASS_OTHER);
    b[0] = 0x16; /* DTLS handshake */
    assert_int_equal(pl_rtp_classify(b, 12), PL_RTP_CLASS_OTHER);
    b[0] = 0x40; /* TURN channel */
    assert_int_equal(pl_rtp_classify(b, 12), PL_RTP_CLASS_OTHER);
    b[0] = 0xC0; /* version 3 */
    assert_int_equal(pl_rtp_classify(b, 12), PL_RTP_CLASS_OTHER);
    b[0] = 0xBF; /* version 2, every other bit set */
    assert_int_equal(pl_rtp_classify(b, 12), PL_RTP_CLASS_RTP);

    b[0] = 0x80;
    assert_int_equal(pl_rtp_classify(b, 11), PL_RTP_CLASS_OTHER);
    assert_int_equal(pl_rtp_classify(b, 0), PL_RTP_CLASS_OTHER);
    assert_int_equal(pl_rtp_classify(NULL, 12), PL_RTP_CLASS_OTHER);
    b[1] = 0xC8;
    assert_int_equal(pl_rtp_classify(b, 3), PL_RTP_CLASS_OTHER);
}

static void test_parse_chrome_vp8_with_one_byte_extensions(void **state)
{
    (void)state;
    pl_rtp_packet_t p;

    assert_int_equal(pl_rtp_parse(vp8_pkt, sizeof vp8_pkt, &p), 0);
    check_view(&p, vp8_pkt, sizeof vp8_pkt);
    assert_int_equal(p.version, 2);
    assert_false(p.padding);
    assert_true(p.extension);
    assert_true(p.marker);
    assert_int_equal(p.csrc_count, 0);
    assert_int_equal(p.pt, 96);
    assert_int_equal(p.seq, 0x1A2B);
    assert_int_equal(p.timestamp, 0x0011A4F8);
    assert_int_equal(p.ssrc, 0x4D2C1E0F);
    assert_int_equal(p.ext_profile, PL_RTP_EXT_ONE_BYTE);
    assert_int_equal(p.ext_off, 16);
    assert_int_equal(p.ext_len, 16);
    assert_int_equal(p.header_len, 32);
    assert_int_equal(p.payload_len, 18);
    assert_int_equal(p.payload[0], 0x90);

    /* Elements in order, padding skipped. */
    static const uint8_t ids[] = {1, 2, 3, 4}, lens[] = {3, 3, 2, 1};
    size_t cur = 0, n = 0;
    pl_rtp_ext_t e;
    while (pl_rtp_ext_next(&p, &cur, &e) == 0) {
        assert_true(n < 4);
        assert_int_equal(e.id, ids[n]);
        assert_int_equal(e.len, lens[n]);
        n++;
    }
    assert_int_equal(n, 4);

    assert_int_equal(pl_rtp_ext_find(&p, 2, &e), 0);
    assert_ptr_equal(e.data, vp8_pkt + 21);
    assert_int_equal(pl_rtp_ext_find(&p, 5, &e), -PL_ENOTFOUND);
    assert_int_equal(pl_rtp_ext_find(&p, 0, &e), -PL_EINVAL);

    uint32_t ast;
    uint16_t tseq;
    char mid[17];
    assert_int_equal(pl_rtp_ext_get_abs_send_time(&p, 2, &ast), 0);
    assert_int_equal(ast, 0x123456);
    assert_int_equal(pl_rtp_ext_get_transport_seq(&p, 3, &tseq), 0);
    assert_int_equal(tseq, 300);
    assert_int_equal(pl_rtp_ext_get_mid(&p, 4, mid, sizeof mid), 0);
    assert_string_equal(mid, "0");
    /* Wrong ids for the URI give size errors, not garbage. */
    assert_int_equal(pl_rtp_ext_get_abs_send_time(&p, 3, &ast), -PL_EINVAL);
    assert_int_equal(pl_rtp_ext_get_transport_seq(&p, 4, &tseq), -PL_EINVAL);
    assert_int_equal(pl_rtp_ext_get_mid(&p, 9, mid, sizeof mid), -PL_ENOTFOUND);
}

static void test_parse_chrome_opus_with_audio_level(void **state)
{
    (void)state;
    pl_rtp_packet_t p;
    bool voice = false;
    uint8_t level = 0;
    uint16_t tseq;

    assert_int_equal(pl_rtp_parse(opus_pkt, sizeof opus_pkt, &p), 0);
    check_view(&p, opus_pkt, sizeof opus_pkt);
    assert_false(p.marker);
    assert_int_equal(p.pt, 111);
    assert_int_equal(p.seq, 1000);
    assert_int_equal(p.timestamp, 15360);
    assert_int_equal(p.ssrc, 0x0BADCAFE);
    assert_int_equal(p.payload_len, 8);
    assert_int_equal(p.payload[0], 0x78);
    assert_int_equal(pl_rtp_ext_get_audio_level(&p, 1, &voice, &level), 0);
    assert_true(voice);
    assert_int_equal(level, 42);
    assert_int_equal(pl_rtp_ext_get_transport_seq(&p, 3, &tseq), 0);
    assert_int_equal(tseq, 1234);
    assert_int_equal(pl_rtp_ext_get_audio_level(&p, 2, &voice, &level), -PL_ENOTFOUND);
}

static void test_parse_csrcs_and_padding(void **state)
{
    (void)state;
    pl_rtp_packet_t p;
    pl_rtp_ext_t e;

    assert_int_equal(pl_rtp_parse(csrc_pad_pkt, sizeof csrc_pad_pkt, &p), 0);
    check_view(&p, csrc_pad_pkt, sizeof csrc_pad_pkt);
    assert_true(p.padding);
    assert_false(p.extension);
    assert_int_equal(p.csrc_count, 2);
    assert_int_equal(pl_rtp_csrc(&p, 0), 0xAAAAAA01);
    assert_int_equal(pl_rtp_csrc(&p, 1), 0xBBBBBB02);
    assert_int_equal(pl_rtp_csrc(&p, 2), 0);
    assert_int_equal(p.header_len, 20);
    assert_int_equal(p.payload_len, 4);
    assert_int_equal(p.padding_len, 4);
    assert_int_equal(p.ext_profile, 0);
    assert_int_equal(pl_rtp_ext_find(&p, 1, &e), -PL_ENOTFOUND);
}

static void test_parse_padding_only_probe(void **state)
{
    (void)state;
    /* Bandwidth probes are all padding: an empty payload is valid. */
    uint8_t b[12 + 8] = {0xA0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
    b[19] = 8;
    pl_rtp_packet_t p;

    assert_int_equal(pl_rtp_parse(b, sizeof b, &p), 0);
    assert_int_equal(p.payload_len, 0);
    assert_int_equal(p.padding_len, 8);
}

static void test_parse_two_byte_extensions(void **state)
{
    (void)state;
    pl_rtp_packet_t p;
    pl_rtp_ext_t e;
    uint16_t tseq;
    char mid[32];

    assert_int_equal(pl_rtp_parse(two_byte_pkt, sizeof two_byte_pkt, &p), 0);
    check_view(&p, two_byte_pkt, sizeof two_byte_pkt);
    assert_int_equal(p.ext_profile, 0x1005);
    assert_int_equal(p.payload_len, 4);

    assert_int_equal(pl_rtp_ext_find(&p, 1, &e), 0);
    assert_int_equal(e.len, 0);
    assert_int_equal(pl_rtp_ext_find(&p, 20, &e), 0);
    assert_int_equal(e.len, 17);
    assert_memory_equal(e.data, "abcdefghijklmnopq", 17);
    assert_int_equal(pl_rtp_ext_get_transport_seq(&p, 3, &tseq), 0);
    assert_int_equal(tseq, 65534);
    /* Ids above 14 are readable in this form, including as a long mid. */
    assert_int_equal(pl_rtp_ext_get_mid(&p, 20, mid, sizeof mid), 0);
    assert_string_equal(mid, "abcdefghijklmnopq");
    assert_int_equal(pl_rtp_ext_get_mid(&p, 20, mid, 17), -PL_ETOOBIG);
    assert_int_equal(pl_rtp_ext_get_mid(&p, 1, mid, sizeof mid), -PL_EINVAL); /* empty */
}

static void test_parse_one_byte_id_15_ends_the_element_list(void **state)
{
    (void)state;
    /* RFC 8285 4.2: after id 15 nothing counts, even bytes that would not parse. */
    uint8_t b[] = {0x90, 0x60, 0,    1,    0,    0,    0,    1,    0,    0,    0,    1,   0xBE,
                   0xDE, 0x00, 0x02, 0x10, 0x7F, 0xF3, 0x2F, 0xFF, 0xFF, 0xFF, 0xFF, 0xAB};
    pl_rtp_packet_t p;
    pl_rtp_ext_t e;

    assert_int_equal(pl_rtp_parse(b, sizeof b, &p), 0);
    assert_int_equal(pl_rtp_ext_find(&p, 1, &e), 0);
    assert_int_equal(pl_rtp_ext_find(&p, 2, &e), -PL_ENOTFOUND);
    size_t cur = 0, n = 0;
    while (pl_rtp_ext_next(&p, &cur, &e) == 0)
        n++;
    assert_int_equal(n, 1);
}

static void test_parse_keeps_unknown_extension_profile_opaque(void **state)
{
    (void)state;
    uint8_t b[] = {0x90, 0x60, 0,    1,    0,    0,    0,    1,    0,    0,   0,
                   1,    0xAB, 0xCD, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x42};
    pl_rtp_packet_t p;
    pl_rtp_ext_t e;
    uint8_t map[256] = {0};

    assert_int_equal(pl_rtp_parse(b, sizeof b, &p), 0);
    assert_int_equal(p.ext_profile, 0xABCD);
    assert_int_equal(p.ext_len, 4);
    assert_int_equal(p.payload_len, 1);
    assert_int_equal(pl_rtp_ext_find(&p, 15, &e), -PL_ENOTFOUND);
    /* Remapping an opaque block is a no-op, not an error. */
    assert_int_equal(pl_rtp_ext_remap(&p, b, map), 0);
    assert_int_equal(b[16], 0xFF);
}

static void test_parse_every_truncation_is_rejected_or_safe(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        for (size_t n = 0; n < samples[s].len; n++) {
            uint8_t *b = dup_exact(samples[s].buf, n);
            pl_rtp_packet_t p;
            int rc = pl_rtp_parse(b, n, &p);
            if (rc == 0) {
                check_view(&p, b, n);
            } else {
                assert_int_equal(rc, -PL_EINVAL);
                assert_null(p.data);
            }
            if (n < PL_RTP_HEADER_LEN) assert_int_equal(rc, -PL_EINVAL);
            free(b);
        }
    }
}

static void test_parse_truncated_inside_header_is_rejected(void **state)
{
    (void)state;
    pl_rtp_packet_t p;

    /* vp8: header + extension block is 32 bytes. */
    for (size_t n = 0; n < 32; n++)
        assert_int_equal(pl_rtp_parse(vp8_pkt, n, &p), -PL_EINVAL);
    /* csrc_pad: any cut makes a payload byte the padding count, never a valid one here. */
    for (size_t n = 0; n < sizeof csrc_pad_pkt; n++)
        assert_int_equal(pl_rtp_parse(csrc_pad_pkt, n, &p), -PL_EINVAL);
}

/* One byte changed in a valid packet, and why that makes it invalid. */
typedef struct {
    const uint8_t *base;
    size_t len;
    size_t at;
    uint8_t val;
    const char *why;
} mutation_t;

#define MUT(x, at, val, why)                                                                       \
    {                                                                                              \
        x, sizeof x, at, val, why                                                                  \
    }
static const mutation_t mutations[] = {
    MUT(opus_pkt, 0, 0x10, "version 0"),
    MUT(opus_pkt, 0, 0x50, "version 1"),
    MUT(opus_pkt, 0, 0xD0, "version 3"),
    MUT(opus_pkt, 0, 0x9F, "15 CSRCs in a 36-byte packet"),
    MUT(csrc_pad_pkt, 0, 0xA5, "5 CSRCs in a 28-byte packet"),
    MUT(vp8_pkt, 15, 0x09, "extension block 36 bytes with 34 left"),
    MUT(vp8_pkt, 14, 0xFF, "extension block length far past the end"),
    MUT(vp8_pkt, 27, 0x4F, "one-byte element of 16 bytes with 4 left in the block"),
    MUT(opus_pkt, 18, 0x3F, "one-byte element past the block, into the payload"),
    MUT(two_byte_pkt, 20, 0x1A, "two-byte element of 26 bytes, crossing into the payload"),
    MUT(two_byte_pkt, 43, 0x07, "last padding byte made an element header without length"),
    MUT(csrc_pad_pkt, 27, 9, "padding count 9 with 8 bytes after the header"),
    MUT(csrc_pad_pkt, 27, 0, "padding count 0 (the count includes itself)"),
    MUT(csrc_pad_pkt, 27, 255, "padding count 255"),
    MUT(opus_pkt, 0, 0xB0, "padding bit with the last payload byte 0x8D as count"),
};

static void test_parse_rejects_every_mutation_in_the_table(void **state)
{
    (void)state;
    uint8_t b[64];
    pl_rtp_packet_t p;

    for (size_t i = 0; i < sizeof mutations / sizeof mutations[0]; i++) {
        const mutation_t *m = &mutations[i];
        assert_true(m->len <= sizeof b && m->at < m->len);
        assert_int_equal(pl_rtp_parse(m->base, m->len, &p), 0);
        memcpy(b, m->base, m->len);
        b[m->at] = m->val;
        if (pl_rtp_parse(b, m->len, &p) != -PL_EINVAL) fail_msg("accepted: %s", m->why);
        assert_null(p.data); /* the view is zeroed on error */
    }
}

static void test_parse_accepts_csrcs_and_padding_that_fit_exactly(void **state)
{
    (void)state;
    uint8_t b[24] = {0x83, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
    pl_rtp_packet_t p;

    /* 3 CSRCs fill the 24 bytes; one more does not fit. */
    assert_int_equal(pl_rtp_parse(b, 24, &p), 0);
    assert_int_equal(p.payload_len, 0);
    b[0] = 0x84;
    assert_int_equal(pl_rtp_parse(b, 24, &p), -PL_EINVAL);
    /* Padding may cover everything after the header. */
    uint8_t c[sizeof csrc_pad_pkt];
    memcpy(c, csrc_pad_pkt, sizeof c);
    c[sizeof c - 1] = 8;
    assert_int_equal(pl_rtp_parse(c, sizeof c, &p), 0);
    assert_int_equal(p.payload_len, 0);
    /* P set with nothing after the header: the count would be a header byte. */
    c[0] = 0xA0;
    assert_int_equal(pl_rtp_parse(c, 12, &p), -PL_EINVAL);
    /* X set without room for the extension header. */
    b[0] = 0x90;
    assert_int_equal(pl_rtp_parse(b, 12, &p), -PL_EINVAL);
    assert_int_equal(pl_rtp_parse(b, 14, &p), -PL_EINVAL);
}

static void test_parse_rejects_empty_oversized_and_null(void **state)
{
    (void)state;
    static uint8_t big[PL_RTP_MAX_LEN + 1];
    pl_rtp_packet_t p;

    big[0] = 0x80;
    big[1] = 0x60;
    assert_int_equal(pl_rtp_parse(big, PL_RTP_MAX_LEN, &p), 0);
    assert_int_equal(pl_rtp_parse(big, PL_RTP_MAX_LEN + 1, &p), -PL_EINVAL);
    assert_int_equal(pl_rtp_parse(big, 0, &p), -PL_EINVAL);
    assert_int_equal(pl_rtp_parse(NULL, 12, &p), -PL_EINVAL);
    assert_int_equal(pl_rtp_parse(big, 12, NULL), -PL_EINVAL);
}

static void test_set_header_fields_in_place(void **state)
{
    (void)state;
    uint8_t b[sizeof vp8_pkt];
    pl_rtp_packet_t p;

    memcpy(b, vp8_pkt, sizeof b);
    assert_int_equal(pl_rtp_set_ssrc(b, sizeof b, 0xCAFEBABE), 0);
    assert_int_equal(pl_rtp_set_seq(b, sizeof b, 65535), 0);
    assert_int_equal(pl_rtp_set_timestamp(b, sizeof b, 0xFFFFFFF0), 0);
    assert_int_equal(pl_rtp_set_pt(b, sizeof b, 100), 0);
    assert_int_equal(pl_rtp_set_pt(b, sizeof b, 128), -PL_EINVAL);
    assert_int_equal(pl_rtp_set_ssrc(b, 11, 1), -PL_EINVAL);
    assert_int_equal(pl_rtp_set_seq(NULL, 12, 1), -PL_EINVAL);

    assert_int_equal(pl_rtp_parse(b, sizeof b, &p), 0);
    assert_int_equal(p.ssrc, 0xCAFEBABE);
    assert_int_equal(p.seq, 65535);
    assert_int_equal(p.timestamp, 0xFFFFFFF0);
    assert_int_equal(p.pt, 100);
    assert_true(p.marker); /* kept */
    /* Nothing past the fixed header moved. */
    assert_memory_equal(b + 12, vp8_pkt + 12, sizeof b - 12);
}

static void test_ext_set_id_renames_on_a_copy(void **state)
{
    (void)state;
    pl_rtp_packet_t src, out;
    uint8_t b[sizeof vp8_pkt];
    uint16_t tseq;

    assert_int_equal(pl_rtp_parse(vp8_pkt, sizeof vp8_pkt, &src), 0);
    memcpy(b, vp8_pkt, sizeof b);
    /* This subscriber negotiated transport-cc as id 5 and abs-send-time as id 3. Renames read
     * ids from the parsed view, so renaming 3 then 2 -> 3 does not touch the first rename. */
    assert_int_equal(pl_rtp_ext_set_id(&src, b, 3, 5), 0);
    assert_int_equal(pl_rtp_ext_set_id(&src, b, 2, 3), 0);
    assert_int_equal(pl_rtp_ext_set_id(&src, b, 9, 1), -PL_ENOTFOUND);
    assert_int_equal(pl_rtp_ext_set_id(&src, b, 1, 15), -PL_EINVAL); /* one-byte form */
    assert_int_equal(pl_rtp_ext_set_id(&src, b, 1, 0), -PL_EINVAL);

    assert_int_equal(pl_rtp_parse(b, sizeof b, &out), 0);
    assert_int_equal(pl_rtp_ext_get_transport_seq(&out, 5, &tseq), 0);
    assert_int_equal(tseq, 300);
    uint32_t ast;
    assert_int_equal(pl_rtp_ext_get_abs_send_time(&out, 3, &ast), 0);
    assert_int_equal(ast, 0x123456);
    assert_memory_equal(vp8_pkt, src.data, sizeof vp8_pkt); /* the source is untouched */

    /* Two-byte form accepts ids above 14. */
    uint8_t t[sizeof two_byte_pkt];
    memcpy(t, two_byte_pkt, sizeof t);
    assert_int_equal(pl_rtp_parse(t, sizeof t, &src), 0);
    assert_int_equal(pl_rtp_ext_set_id(&src, t, 3, 200), 0);
    assert_int_equal(pl_rtp_parse(t, sizeof t, &out), 0);
    assert_int_equal(pl_rtp_ext_get_transport_seq(&out, 200, &tseq), 0);
    assert_int_equal(tseq, 65534);
}

static void test_ext_remap_swaps_and_blanks_in_one_pass(void **state)
{
    (void)state;
    uint8_t map[256] = {0};
    pl_rtp_packet_t p, out;
    pl_rtp_ext_t e;
    uint8_t b[sizeof vp8_pkt];

    /* In place: swap 2 and 3, keep 4, drop 1 (this subscriber did not negotiate toffset). */
    map[2] = 3, map[3] = 2, map[4] = 4;
    memcpy(b, vp8_pkt, sizeof b);
    assert_int_equal(pl_rtp_parse(b, sizeof b, &p), 0);
    assert_int_equal(pl_rtp_ext_remap(&p, b, map), 0);

    assert_int_equal(pl_rtp_parse(b, sizeof b, &out), 0);
    assert_int_equal(out.len, sizeof vp8_pkt);
    assert_int_equal(pl_rtp_ext_find(&out, 1, &e), -PL_ENOTFOUND);
    assert_int_equal(pl_rtp_ext_find(&out, 3, &e), 0);
    assert_int_equal(e.len, 3); /* abs-send-time, now under id 3 */
    assert_int_equal(pl_rtp_ext_find(&out, 2, &e), 0);
    assert_int_equal(e.len, 2); /* transport seq, now under id 2 */
    char mid[4];
    assert_int_equal(pl_rtp_ext_get_mid(&out, 4, mid, sizeof mid), 0);
    assert_string_equal(mid, "0");
    assert_memory_equal(b + 16, "\0\0\0\0", 4);                     /* toffset became padding */
    assert_memory_equal(b + 32, vp8_pkt + 32, sizeof vp8_pkt - 32); /* payload intact */

    /* A map target that does not fit the one-byte form refuses the whole map. */
    uint8_t c[sizeof vp8_pkt];
    memcpy(c, vp8_pkt, sizeof c);
    assert_int_equal(pl_rtp_parse(c, sizeof c, &p), 0);
    memset(map, 0, sizeof map);
    map[1] = 1, map[2] = 7, map[4] = 15;
    assert_int_equal(pl_rtp_ext_remap(&p, c, map), -PL_EINVAL);
    assert_memory_equal(c, vp8_pkt, sizeof c);
}

static void test_ext_overwrite_transport_seq_and_abs_send_time(void **state)
{
    (void)state;
    pl_rtp_packet_t src, out;
    uint8_t b[sizeof vp8_pkt];
    uint16_t tseq;
    uint32_t ast;

    assert_int_equal(pl_rtp_parse(vp8_pkt, sizeof vp8_pkt, &src), 0);
    memcpy(b, vp8_pkt, sizeof b);
    assert_int_equal(pl_rtp_ext_set_transport_seq(&src, b, 3, 0xBEEF), 0);
    assert_int_equal(pl_rtp_ext_set_abs_send_time(&src, b, 2, 0xABCDEF), 0);
    assert_int_equal(pl_rtp_ext_set_abs_send_time(&src, b, 2, 0x1000000), -PL_EINVAL);
    assert_int_equal(pl_rtp_ext_set_abs_send_time(&src, b, 3, 1), -PL_EINVAL); /* 2 bytes */
    assert_int_equal(pl_rtp_ext_set_transport_seq(&src, b, 4, 1), -PL_EINVAL); /* 1 byte */
    assert_int_equal(pl_rtp_ext_set_transport_seq(&src, b, 9, 1), -PL_ENOTFOUND);

    assert_int_equal(pl_rtp_parse(b, sizeof b, &out), 0);
    assert_int_equal(pl_rtp_ext_get_transport_seq(&out, 3, &tseq), 0);
    assert_int_equal(tseq, 0xBEEF);
    assert_int_equal(pl_rtp_ext_get_abs_send_time(&out, 2, &ast), 0);
    assert_int_equal(ast, 0xABCDEF);
    /* Only those five bytes changed. */
    size_t diff = 0;
    for (size_t i = 0; i < sizeof b; i++)
        diff += b[i] != vp8_pkt[i];
    assert_int_equal(diff, 5);
}

static void test_ext_readers_reject_bad_values(void **state)
{
    (void)state;
    /* id 1: mid with a control byte; id 2: 1-byte abs-send-time; id 3: 1-byte transport seq. */
    uint8_t b[] = {0x90, 0x60, 0,    1,    0,    0,   0,    1,    0,    0,    0,    1,
                   0xBE, 0xDE, 0x00, 0x02, 0x11, 'a', 0x0A, 0x20, 0x01, 0x30, 0x02, 0x00};
    pl_rtp_packet_t p;
    char mid[8];
    uint32_t ast;
    uint16_t tseq;
    bool v;
    uint8_t lvl;

    assert_int_equal(pl_rtp_parse(b, sizeof b, &p), 0);
    assert_int_equal(pl_rtp_ext_get_mid(&p, 1, mid, sizeof mid), -PL_EINVAL);
    assert_int_equal(pl_rtp_ext_get_abs_send_time(&p, 2, &ast), -PL_EINVAL);
    assert_int_equal(pl_rtp_ext_get_transport_seq(&p, 3, &tseq), -PL_EINVAL);
    assert_int_equal(pl_rtp_ext_get_audio_level(&p, 3, &v, &lvl), 0);
    assert_false(v);
    assert_int_equal(lvl, 2);
    assert_int_equal(pl_rtp_ext_get_mid(&p, 1, NULL, 8), -PL_EINVAL);
    assert_int_equal(pl_rtp_ext_get_abs_send_time(NULL, 2, &ast), -PL_ENOTFOUND);
}

static void test_write_round_trips_through_parse(void **state)
{
    (void)state;
    static const uint8_t level = 0x80 | 30, ast[3] = {1, 2, 3}, tcc[2] = {0x12, 0x34};
    const pl_rtp_ext_t exts[] = {
        {.id = 1, .len = 1, .data = &level},
        {.id = 2, .len = 3, .data = ast},
        {.id = 3, .len = 2, .data = tcc},
        {.id = 4, .len = 1, .data = (const uint8_t *)"1"},
    };
    const uint32_t csrcs[] = {0x01020304, 0x05060708};
    const uint8_t payload[] = {0xDE, 0xAD, 0xBE, 0xEF, 0x42};
    pl_rtp_header_t h = {
        .marker = true,
        .pt = 111,
        .seq = 65535,
        .timestamp = 0xFFFFFFFF,
        .ssrc = 0x11223344,
        .csrcs = csrcs,
        .csrc_count = 2,
        .exts = exts,
        .ext_count = 4,
        .padding = 3,
    };
    uint8_t b[256];
    size_t n = 0;
    pl_rtp_packet_t p;

    assert_int_equal(pl_rtp_write(&h, payload, sizeof payload, b, sizeof b, &n), 0);
    /* 12 + 8 CSRC + 4 + 12 (11 bytes of elements padded) + 5 + 3 */
    assert_int_equal(n, 44);
    assert_int_equal(pl_rtp_parse(b, n, &p), 0);
    assert_true(p.marker);
    assert_true(p.padding);
    assert_int_equal(p.pt, 111);
    assert_int_equal(p.seq, 65535);
    assert_int_equal(p.timestamp, 0xFFFFFFFF);
    assert_int_equal(p.ssrc, 0x11223344);
    assert_int_equal(pl_rtp_csrc(&p, 1), 0x05060708);
    assert_int_equal(p.ext_profile, PL_RTP_EXT_ONE_BYTE);
    assert_int_equal(p.payload_len, sizeof payload);
    assert_memory_equal(p.payload, payload, sizeof payload);
    assert_int_equal(p.padding_len, 3);

    bool voice;
    uint8_t lvl;
    uint32_t a;
    uint16_t t;
    char mid[4];
    assert_int_equal(pl_rtp_ext_get_audio_level(&p, 1, &voice, &lvl), 0);
    assert_true(voice);
    assert_int_equal(lvl, 30);
    assert_int_equal(pl_rtp_ext_get_abs_send_time(&p, 2, &a), 0);
    assert_int_equal(a, 0x010203);
    assert_int_equal(pl_rtp_ext_get_transport_seq(&p, 3, &t), 0);
    assert_int_equal(t, 0x1234);
    assert_int_equal(pl_rtp_ext_get_mid(&p, 4, mid, sizeof mid), 0);
    assert_string_equal(mid, "1");

    /* Reproduces the hand-made Chrome packet byte for byte. */
    static const uint8_t toff[3] = {0}, ast2[3] = {0x12, 0x34, 0x56}, ts2[2] = {0x01, 0x2C};
    const pl_rtp_ext_t vexts[] = {
        {1, 3, toff}, {2, 3, ast2}, {3, 2, ts2}, {4, 1, (const uint8_t *)"0"}};
    pl_rtp_header_t vh = {.marker = true,
                          .pt = 96,
                          .seq = 0x1A2B,
                          .timestamp = 0x0011A4F8,
                          .ssrc = 0x4D2C1E0F,
                          .exts = vexts,
                          .ext_count = 4};
    assert_int_equal(pl_rtp_write(&vh, vp8_pkt + 32, sizeof vp8_pkt - 32, b, sizeof b, &n), 0);
    assert_int_equal(n, sizeof vp8_pkt);
    assert_memory_equal(b, vp8_pkt, n);
}

static void test_write_uses_two_byte_form_when_needed(void **state)
{
    (void)state;
    static const uint8_t long_val[20] = "0123456789abcdefghi";
    const pl_rtp_ext_t exts[] = {{.id = 1, .len = 0, .data = NULL},
                                 {.id = 3, .len = 20, .data = long_val}};
    pl_rtp_header_t h = {.pt = 96, .seq = 7, .ssrc = 9, .exts = exts, .ext_count = 2};
    uint8_t b[128];
    size_t n;
    pl_rtp_packet_t p;
    pl_rtp_ext_t e;

    assert_int_equal(pl_rtp_write(&h, NULL, 0, b, sizeof b, &n), 0);
    assert_int_equal(pl_rtp_parse(b, n, &p), 0);
    assert_int_equal(p.ext_profile, PL_RTP_EXT_TWO_BYTE);
    assert_int_equal(pl_rtp_ext_find(&p, 1, &e), 0);
    assert_int_equal(e.len, 0);
    assert_int_equal(pl_rtp_ext_find(&p, 3, &e), 0);
    assert_int_equal(e.len, 20);
    assert_memory_equal(e.data, long_val, 20);
    assert_int_equal(p.payload_len, 0);
}

static void test_write_payload_already_in_buffer(void **state)
{
    (void)state;
    /* The load generator fills the payload first, then writes the header in front of it. */
    uint8_t b[64] = {0};
    memcpy(b + 12, "payload!", 8);
    pl_rtp_header_t h = {.pt = 96, .seq = 1, .ssrc = 2};
    size_t n;
    pl_rtp_packet_t p;

    assert_int_equal(pl_rtp_write(&h, b + 12, 8, b, sizeof b, &n), 0);
    assert_int_equal(n, 20);
    assert_int_equal(pl_rtp_parse(b, n, &p), 0);
    assert_memory_equal(p.payload, "payload!", 8);
}

static void test_write_rejects_bad_fields_and_small_buffers(void **state)
{
    (void)state;
    const pl_rtp_ext_t bad_id = {.id = 0, .len = 1, .data = (const uint8_t *)"x"};
    const uint32_t csrcs[16] = {0};
    pl_rtp_header_t h = {.pt = 96};
    uint8_t b[PL_RTP_MAX_LEN + 16];
    size_t n = 99;

    h.pt = 128;
    assert_int_equal(pl_rtp_write(&h, NULL, 0, b, sizeof b, &n), -PL_EINVAL);
    h.pt = 96;
    h.csrcs = csrcs, h.csrc_count = 16;
    assert_int_equal(pl_rtp_write(&h, NULL, 0, b, sizeof b, &n), -PL_EINVAL);
    h.csrcs = NULL, h.csrc_count = 1;
    assert_int_equal(pl_rtp_write(&h, NULL, 0, b, sizeof b, &n), -PL_EINVAL);
    h.csrc_count = 0;
    h.exts = &bad_id, h.ext_count = 1;
    assert_int_equal(pl_rtp_write(&h, NULL, 0, b, sizeof b, &n), -PL_EINVAL);
    h.exts = NULL;
    assert_int_equal(pl_rtp_write(&h, NULL, 0, b, sizeof b, &n), -PL_EINVAL);
    h.ext_count = 0;
    assert_int_equal(pl_rtp_write(&h, NULL, 4, b, sizeof b, &n), -PL_EINVAL);
    assert_int_equal(pl_rtp_write(&h, NULL, 0, b, 11, &n), -PL_ETOOBIG);
    assert_int_equal(pl_rtp_write(&h, b, PL_RTP_MAX_LEN - 11, b, sizeof b, &n), -PL_ETOOBIG);
    assert_int_equal(pl_rtp_write(&h, b, SIZE_MAX, b, sizeof b, &n), -PL_ETOOBIG);
    assert_int_equal(n, 99);
    assert_int_equal(pl_rtp_write(&h, NULL, 0, b, 12, &n), 0);
    assert_int_equal(n, 12);
}

/* ---- sequence tracker ---- */

static void feed(pl_rtp_seq_t *s, uint32_t first, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        assert_int_equal(pl_rtp_seq_update(s, (uint16_t)(first + i)), 0);
}

static void test_seq_counts_in_order_stream_without_loss(void **state)
{
    (void)state;
    pl_rtp_seq_t s;
    pl_rtp_seq_stats_t st;

    pl_rtp_seq_init(&s);
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.ext_highest_seq, 0);
    assert_int_equal(st.cumulative_lost, 0);
    feed(&s, 1000, 50);
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.fraction_lost, 0);
    assert_int_equal(st.cumulative_lost, 0);
    assert_int_equal(st.ext_highest_seq, 1049);
}

static void test_seq_extends_across_wraparound(void **state)
{
    (void)state;
    pl_rtp_seq_t s;
    pl_rtp_seq_stats_t st;

    pl_rtp_seq_init(&s);
    feed(&s, 65530, 12); /* 65530..65535, 0..5 */
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.ext_highest_seq, 65536 + 5);
    assert_int_equal(st.cumulative_lost, 0);
    assert_int_equal(st.fraction_lost, 0);
    /* A second wrap keeps counting cycles. */
    feed(&s, 6, 65536);
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.ext_highest_seq, 2 * 65536 + 5);
    assert_int_equal(st.cumulative_lost, 0);
}

static void test_seq_reordering_is_not_loss(void **state)
{
    (void)state;
    pl_rtp_seq_t s;
    pl_rtp_seq_stats_t st;
    static const uint16_t order[] = {65533, 65535, 65534, 1, 0, 2, 4, 3};

    pl_rtp_seq_init(&s);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        assert_int_equal(pl_rtp_seq_update(&s, order[i]), 0);
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.ext_highest_seq, 65536 + 4);
    assert_int_equal(st.cumulative_lost, 0);
    assert_int_equal(st.fraction_lost, 0);
}

static void test_seq_loss_fraction_and_cumulative(void **state)
{
    (void)state;
    pl_rtp_seq_t s;
    pl_rtp_seq_stats_t st;

    pl_rtp_seq_init(&s);
    /* 100 expected (0..99), every fourth lost: 25 lost = 64/256. */
    for (uint16_t i = 0; i < 100; i++)
        if (i % 4 != 1) assert_int_equal(pl_rtp_seq_update(&s, i), 0);
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.ext_highest_seq, 99);
    assert_int_equal(st.cumulative_lost, 25);
    assert_int_equal(st.fraction_lost, 64);
    /* Next interval: no loss; fraction is per interval, the total stays. */
    feed(&s, 100, 100);
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.fraction_lost, 0);
    assert_int_equal(st.cumulative_lost, 25);
    /* A gap across the wrap: 65500.. then jump to 65500+2999 (within MAX_DROPOUT). */
    pl_rtp_seq_init(&s);
    feed(&s, 65500, 1);
    assert_int_equal(pl_rtp_seq_update(&s, (uint16_t)(65500 + 2999)), 0);
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.ext_highest_seq, 65500u + 2999u);
    assert_int_equal(st.cumulative_lost, 2998);
    assert_int_equal(st.fraction_lost, 255); /* 2998/3000 * 256 rounds down to 255 */
}

static void test_seq_duplicates_make_loss_negative(void **state)
{
    (void)state;
    pl_rtp_seq_t s;
    pl_rtp_seq_stats_t st;

    pl_rtp_seq_init(&s);
    feed(&s, 10, 5);
    feed(&s, 12, 3); /* 12, 13, 14 again */
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.cumulative_lost, -3);
    assert_int_equal(st.fraction_lost, 0);
}

static void test_seq_large_jump_needs_a_second_packet_to_restart(void **state)
{
    (void)state;
    pl_rtp_seq_t s;
    pl_rtp_seq_stats_t st;

    pl_rtp_seq_init(&s);
    feed(&s, 100, 10);
    /* One stray packet far ahead is not counted and changes nothing. */
    assert_int_equal(pl_rtp_seq_update(&s, 40000), -PL_EINVAL);
    feed(&s, 110, 1);
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.ext_highest_seq, 110);
    assert_int_equal(st.cumulative_lost, 0);
    /* Far behind (more than 100 back) is a jump too. */
    assert_int_equal(pl_rtp_seq_update(&s, 5), -PL_EINVAL);
    /* Two in sequence: the sender restarted, statistics start again from there. */
    assert_int_equal(pl_rtp_seq_update(&s, 50000), -PL_EINVAL);
    assert_int_equal(pl_rtp_seq_update(&s, 50001), 0);
    feed(&s, 50002, 3);
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.ext_highest_seq, 50004);
    assert_int_equal(st.cumulative_lost, 0);
    assert_int_equal(st.fraction_lost, 0);
    assert_int_equal(pl_rtp_seq_update(NULL, 1), -PL_EINVAL);
}

static void test_seq_jitter_follows_rfc3550_a8(void **state)
{
    (void)state;
    pl_rtp_seq_t s;
    pl_rtp_seq_stats_t st;

    /* Constant transit: no jitter, even across the 32-bit timestamp wrap. */
    pl_rtp_seq_init(&s);
    for (uint32_t i = 0; i < 50; i++)
        pl_rtp_seq_jitter(&s, 0xFFFFFF00u + i * 960, 5000 + i * 960);
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.jitter, 0);

    /* Transit alternating by 160 units: J converges on 160 (J += (|D| - J) / 16). */
    pl_rtp_seq_init(&s);
    for (uint32_t i = 0; i < 500; i++)
        pl_rtp_seq_jitter(&s, i * 960, i * 960 + (i % 2 ? 160 : 0));
    pl_rtp_seq_report(&s, &st);
    assert_in_range(st.jitter, 155, 160);

    /* One step by hand: first D = 320 gives J = 320/16 = 20. */
    pl_rtp_seq_init(&s);
    pl_rtp_seq_jitter(&s, 0, 1000);
    pl_rtp_seq_jitter(&s, 960, 1000 + 960 + 320);
    pl_rtp_seq_report(&s, &st);
    assert_int_equal(st.jitter, 20);
}

/* ---- mutation ---- */

static uint32_t rng_state = 0x2545F491;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void test_parse_survives_random_mutation(void **state)
{
    (void)state;
    uint8_t map[256];
    for (unsigned i = 0; i < 256; i++)
        map[i] = (uint8_t)(i % 14 + 1);

    for (unsigned round = 0; round < 20000; round++) {
        const sample_t *s = &samples[round % (sizeof samples / sizeof samples[0])];
        size_t n = s->len - rng() % 4;
        uint8_t *b = dup_exact(s->buf, n);
        unsigned flips = 1 + rng() % 4;
        for (unsigned f = 0; f < flips; f++)
            b[rng() % n] ^= (uint8_t)(1u << (rng() % 8));
        pl_rtp_packet_t p;
        if (pl_rtp_parse(b, n, &p) == 0) {
            check_view(&p, b, n);
            uint16_t t;
            uint32_t a;
            char mid[32];
            (void)pl_rtp_ext_get_transport_seq(&p, 3, &t);
            (void)pl_rtp_ext_get_abs_send_time(&p, 2, &a);
            (void)pl_rtp_ext_get_mid(&p, 4, mid, sizeof mid);
            (void)pl_rtp_ext_set_transport_seq(&p, b, 3, 7);
            (void)pl_rtp_ext_remap(&p, b, map);
        }
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_tells_rtp_from_rtcp_and_other_protocols),
        cmocka_unit_test(test_parse_chrome_vp8_with_one_byte_extensions),
        cmocka_unit_test(test_parse_chrome_opus_with_audio_level),
        cmocka_unit_test(test_parse_csrcs_and_padding),
        cmocka_unit_test(test_parse_padding_only_probe),
        cmocka_unit_test(test_parse_two_byte_extensions),
        cmocka_unit_test(test_parse_one_byte_id_15_ends_the_element_list),
        cmocka_unit_test(test_parse_keeps_unknown_extension_profile_opaque),
        cmocka_unit_test(test_parse_every_truncation_is_rejected_or_safe),
        cmocka_unit_test(test_parse_truncated_inside_header_is_rejected),
        cmocka_unit_test(test_parse_rejects_every_mutation_in_the_table),
        cmocka_unit_test(test_parse_accepts_csrcs_and_padding_that_fit_exactly),
        cmocka_unit_test(test_parse_rejects_empty_oversized_and_null),
        cmocka_unit_test(test_set_header_fields_in_place),
        cmocka_unit_test(test_ext_set_id_renames_on_a_copy),
        cmocka_unit_test(test_ext_remap_swaps_and_blanks_in_one_pass),
        cmocka_unit_test(test_ext_overwrite_transport_seq_and_abs_send_time),
        cmocka_unit_test(test_ext_readers_reject_bad_values),
        cmocka_unit_test(test_write_round_trips_through_parse),
        cmocka_unit_test(test_write_uses_two_byte_form_when_needed),
        cmocka_unit_test(test_write_payload_already_in_buffer),
        cmocka_unit_test(test_write_rejects_bad_fields_and_small_buffers),
        cmocka_unit_test(test_seq_counts_in_order_stream_without_loss),
        cmocka_unit_test(test_seq_extends_across_wraparound),
        cmocka_unit_test(test_seq_reordering_is_not_loss),
        cmocka_unit_test(test_seq_loss_fraction_and_cumulative),
        cmocka_unit_test(test_seq_duplicates_make_loss_negative),
        cmocka_unit_test(test_seq_large_jump_needs_a_second_packet_to_restart),
        cmocka_unit_test(test_seq_jitter_follows_rfc3550_a8),
        cmocka_unit_test(test_parse_survives_random_mutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
