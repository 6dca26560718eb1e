/* Unit tests for media/rtcp.c: typical Chrome RTCP (SR+SDES compound, RR, generic NACK, PLI,
 * FIR, REMB, transport-cc), compound validation against every kind of malformed input, each
 * writer through the parser, and the SSRC rewriters used when relaying feedback. Truncation and
 * mutation tests copy each input into a heap block of exactly its length, so a read past len is
 * caught by the sanitizer build (make test-asan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "media/rtcp.h"

#define PUB 0x4D, 0x2C, 0x1E, 0x0F /* the publisher's video SSRC */
#define SUB 0x00, 0x00, 0x00, 0x01 /* a receiver's SSRC */

/* Packet tables are laid out by field, which clang-format would reflow into a grid. */
/* clang-format off */

/* Chrome sender: SR without report blocks, then SDES with a 16-character CNAME. */
static const uint8_t sr_sdes[] = {
    0x80, 0xC8, 0x00, 0x06, PUB,
    0xE8, 0xA1, 0xB2, 0xC3, 0x4D, 0x5E, 0x6F, 0x70, /* NTP */
    0x00, 0x11, 0xA4, 0xF8,                         /* RTP timestamp */
    0x00, 0x00, 0x01, 0x23,                         /* packets */
    0x00, 0x01, 0xE2, 0x40,                         /* octets */
    0x81, 0xCA, 0x00, 0x06, PUB,                    /* offset 28: SDES */
    0x01, 0x10, 'x', 'H', '4', 'b', 'S', '0', 'n', '1', 'Z', 'q', '9', 'a', 'R', '2', 'f', 'K',
    0x00, 0x00,                                     /* offset 54: end of items, padding */
};

/* RR with one report block about the publisher. */
static const uint8_t rr[] = {
    0x81, 0xC9, 0x00, 0x07, SUB, PUB,
    0x0A, 0x00, 0x00, 0x05, /* fraction 10/256, 5 lost */
    0x00, 0x01, 0x1A, 0x2B, /* extended highest seq */
    0x00, 0x00, 0x00, 0x20, /* jitter */
    0xA1, 0xB2, 0xC3, 0x4D, /* LSR */
    0x00, 0x01, 0x00, 0x00, /* DLSR: 1 s */
};

/* Generic NACK: PID 0x1A2B, BLP 0x0005 -> 0x1A2B, 0x1A2C, 0x1A2E. */
static const uint8_t nack[] = {0x81, 0xCD, 0x00, 0x03, SUB, PUB, 0x1A, 0x2B, 0x00, 0x05};

static const uint8_t pli[] = {0x81, 0xCE, 0x00, 0x02, SUB, PUB};

/* FIR: media source 0, one entry (publisher, seq nr 7). */
static const uint8_t fir[] = {0x84, 0xCE, 0x00, 0x04, SUB, 0, 0, 0, 0, PUB, 0x07, 0, 0, 0};

/* REMB 1 Mbit/s (exponent 2, mantissa 250000) for the publisher. */
static const uint8_t remb[] = {
    0x8F, 0xCE, 0x00, 0x05, SUB, 0, 0, 0, 0,
    'R', 'E', 'M', 'B', 0x01, 0x0B, 0xD0, 0x90, PUB,
};

/* transport-cc: base seq 5, 10 packets, reference time 0x001020, feedback count 3.
 * Chunk 0xD495 (offset 20): two-bit vector small, small, lost, large, small, small, small.
 * Chunk 0x2003 (offset 22): run of 3 small. Then 10 bytes of deltas and 2 of zero padding. */
static const uint8_t tcc[] = {
    0x8F, 0xCD, 0x00, 0x08, SUB, PUB,
    0x00, 0x05, 0x00, 0x0A, 0x00, 0x10, 0x20, 0x03,
    0xD4, 0x95, 0x20, 0x03,
    0x04, 0x08, 0xFF, 0xF6, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
    0x00, 0x00,
};

/* BYE with reason "shutdown". */
static const uint8_t bye[] = {
    0x81, 0xCB, 0x00, 0x04, PUB, 0x08, 's', 'h', 'u', 't', 'd', 'o', 'w', 'n', 0x00, 0x00, 0x00,
};

/* clang-format on */

typedef struct {
    const char *name;
    const uint8_t *buf;
    size_t len;
} sample_t;

#define SAMPLE(x)                                                                                  \
    {                                                                                              \
#x, x, sizeof x                                                                            \
    }
static const sample_t samples[] = {
    SAMPLE(sr_sdes), SAMPLE(rr),   SAMPLE(nack), SAMPLE(pli),
    SAMPLE(fir),     SAMPLE(remb), SAMPLE(tcc),  SAMPLE(bye),
};

static uint8_t *dup_exact(const uint8_t *b, size_t n)
{
    uint8_t *p = malloc(n > 0 ? n : 1);
    assert_non_null(p);
    if (n > 0) memcpy(p, b, n);
    return p;
}

/* Concatenates parts into out, returning the total length. */
static size_t join(uint8_t *out, size_t cap, const uint8_t *a, size_t an, const uint8_t *b,
                   size_t bn)
{
    assert_true(an + bn <= cap);
    memcpy(out, a, an);
    if (bn > 0) memcpy(out + an, b, bn);
    return an + bn;
}

static int validate(const uint8_t *b, size_t n)
{
    pl_rtcp_iter_t it;
    return pl_rtcp_iter_init(&it, b, n);
}

/* Iterates a valid compound and runs every typed view over it, reading what they point at.
 * Returns the number of sub-packets. */
static size_t touch_all(const uint8_t *b, size_t n)
{
    pl_rtcp_iter_t it;
    pl_rtcp_packet_t p;
    size_t count = 0, end = 0;
    unsigned sum = 0;

    assert_int_equal(pl_rtcp_iter_init(&it, b, n), 0);
    while (pl_rtcp_iter_next(&it, &p) == 0) {
        assert_int_equal(p.off, end);
        assert_true(p.body + p.body_len <= b + n);
        end += p.len;
        count++;
        pl_rtcp_report_t r;
        if (pl_rtcp_report_parse(&p, &r) == 0) {
            pl_rtcp_rb_t rb;
            for (size_t i = 0; i < r.rb_count; i++) {
                assert_int_equal(pl_rtcp_report_block(&r, i, &rb), 0);
                sum += rb.ssrc;
            }
        }
        pl_rtcp_sdes_iter_t si;
        pl_rtcp_sdes_chunk_t c;
        if (pl_rtcp_sdes_iter_init(&si, &p) == 0) {
            while (pl_rtcp_sdes_next(&si, &c) == 0)
                for (size_t i = 0; i < c.cname_len; i++)
                    sum += c.cname[i];
        }
        pl_rtcp_bye_t by;
        if (pl_rtcp_bye_parse(&p, &by) == 0) {
            for (size_t i = 0; i < by.count; i++)
                sum += pl_rtcp_bye_ssrc(&by, i);
            for (size_t i = 0; i < by.reason_len; i++)
                sum += by.reason[i];
        }
        pl_rtcp_fb_t fb;
        if (pl_rtcp_fb_parse(&p, &fb) == 0) {
            pl_rtcp_nack_iter_t ni;
            uint16_t seq;
            if (pl_rtcp_nack_iter_init(&ni, &fb) == 0)
                while (pl_rtcp_nack_next(&ni, &seq) == 0)
                    sum += seq;
            pl_rtcp_fir_entry_t fe;
            for (size_t i = 0; i < pl_rtcp_fir_count(&fb); i++) {
                assert_int_equal(pl_rtcp_fir_entry(&fb, i, &fe), 0);
                sum += fe.ssrc;
            }
            pl_rtcp_remb_t rm;
            if (pl_rtcp_remb_parse(&fb, &rm) == 0)
                for (size_t i = 0; i < rm.ssrc_count; i++)
                    sum += pl_rtcp_remb_ssrc(&rm, i);
            pl_rtcp_tcc_t t;
            if (pl_rtcp_tcc_parse(&fb, &t) == 0) {
                pl_rtcp_tcc_iter_t ti;
                pl_rtcp_tcc_packet_t tp;
                size_t k = 0;
                pl_rtcp_tcc_iter_init(&ti, &t);
                while (pl_rtcp_tcc_next(&ti, &tp) == 0)
                    k++;
                assert_int_equal(k, t.status_count);
            }
        }
    }
    assert_int_equal(end, n);
    (void)sum;
    return count;
}

/* The sub-packet of a single-packet buffer, asserting the compound is valid. */
static pl_rtcp_packet_t only_packet(const uint8_t *b, size_t n)
{
    pl_rtcp_iter_t it;
    pl_rtcp_packet_t p;

    assert_int_equal(pl_rtcp_iter_init(&it, b, n), 0);
    assert_int_equal(pl_rtcp_iter_next(&it, &p), 0);
    pl_rtcp_packet_t extra;
    assert_int_equal(pl_rtcp_iter_next(&it, &extra), -PL_ENOTFOUND);
    return p;
}

static pl_rtcp_fb_t only_fb(const uint8_t *b, size_t n)
{
    pl_rtcp_packet_t p = only_packet(b, n);
    pl_rtcp_fb_t fb;
    assert_int_equal(pl_rtcp_fb_parse(&p, &fb), 0);
    return fb;
}

/* ---- parsing real packets ---- */

static void test_iter_chrome_sr_sdes_compound(void **state)
{
    (void)state;
    pl_rtcp_iter_t it;
    pl_rtcp_packet_t p;
    pl_rtcp_report_t r;
    pl_rtcp_rb_t rb;

    assert_int_equal(pl_rtcp_iter_init(&it, sr_sdes, sizeof sr_sdes), 0);
    assert_int_equal(pl_rtcp_iter_next(&it, &p), 0);
    assert_int_equal(p.pt, PL_RTCP_SR);
    assert_int_equal(p.off, 0);
    assert_int_equal(p.len, 28);
    assert_int_equal(pl_rtcp_report_parse(&p, &r), 0);
    assert_true(r.is_sr);
    assert_int_equal(r.info.ssrc, 0x4D2C1E0F);
    assert_true(r.info.ntp == 0xE8A1B2C34D5E6F70ull);
    assert_int_equal(r.info.rtp_ts, 0x0011A4F8);
    assert_int_equal(r.info.packet_count, 0x123);
    assert_int_equal(r.info.octet_count, 0x1E240);
    assert_int_equal(r.rb_count, 0);
    assert_int_equal(pl_rtcp_report_block(&r, 0, &rb), -PL_EINVAL);

    assert_int_equal(pl_rtcp_iter_next(&it, &p), 0);
    assert_int_equal(p.pt, PL_RTCP_SDES);
    assert_int_equal(p.off, 28);
    pl_rtcp_sdes_iter_t si;
    pl_rtcp_sdes_chunk_t c;
    assert_int_equal(pl_rtcp_sdes_iter_init(&si, &p), 0);
    assert_int_equal(pl_rtcp_sdes_next(&si, &c), 0);
    assert_int_equal(c.ssrc, 0x4D2C1E0F);
    assert_int_equal(c.cname_len, 16);
    assert_memory_equal(c.cname, "xH4bS0n1Zq9aR2fK", 16);
    assert_int_equal(pl_rtcp_sdes_next(&si, &c), -PL_ENOTFOUND);
    assert_int_equal(pl_rtcp_report_parse(&p, &r), -PL_EINVAL); /* wrong type */

    assert_int_equal(pl_rtcp_iter_next(&it, &p), -PL_ENOTFOUND);
    assert_int_equal(pl_rtcp_iter_next(&it, &p), -PL_ENOTFOUND);
}

static void test_rr_report_block_fields_and_negative_loss(void **state)
{
    (void)state;
    pl_rtcp_packet_t p = only_packet(rr, sizeof rr);
    pl_rtcp_report_t r;
    pl_rtcp_rb_t rb;

    assert_int_equal(pl_rtcp_report_parse(&p, &r), 0);
    assert_false(r.is_sr);
    assert_int_equal(r.info.ssrc, 1);
    assert_true(r.info.ntp == 0);
    assert_int_equal(r.rb_count, 1);
    assert_int_equal(pl_rtcp_report_block(&r, 0, &rb), 0);
    assert_int_equal(rb.ssrc, 0x4D2C1E0F);
    assert_int_equal(rb.fraction_lost, 10);
    assert_int_equal(rb.cumulative_lost, 5);
    assert_int_equal(rb.ext_highest_seq, 0x11A2B);
    assert_int_equal(rb.jitter, 32);
    assert_int_equal(rb.lsr, 0xA1B2C34D);
    assert_int_equal(rb.dlsr, 65536);

    /* Duplicates outnumbering losses: 24-bit -2 and the most negative value. */
    uint8_t b[sizeof rr];
    memcpy(b, rr, sizeof b);
    b[13] = 0xFF, b[14] = 0xFF, b[15] = 0xFE;
    p = only_packet(b, sizeof b);
    assert_int_equal(pl_rtcp_report_parse(&p, &r), 0);
    assert_int_equal(pl_rtcp_report_block(&r, 0, &rb), 0);
    assert_int_equal(rb.cumulative_lost, -2);
    b[13] = 0x80, b[14] = 0x00, b[15] = 0x00;
    p = only_packet(b, sizeof b);
    assert_int_equal(pl_rtcp_report_parse(&p, &r), 0);
    assert_int_equal(pl_rtcp_report_block(&r, 0, &rb), 0);
    assert_int_equal(rb.cumulative_lost, -0x800000);
}

static void test_empty_rr_is_valid(void **state)
{
    (void)state;
    static const uint8_t b[] = {0x80, 0xC9, 0x00, 0x01, SUB};
    pl_rtcp_packet_t p = only_packet(b, sizeof b);
    pl_rtcp_report_t r;

    assert_int_equal(pl_rtcp_report_parse(&p, &r), 0);
    assert_int_equal(r.rb_count, 0);
}

static void test_nack_expands_pid_and_blp(void **state)
{
    (void)state;
    pl_rtcp_fb_t fb = only_fb(nack, sizeof nack);
    pl_rtcp_nack_iter_t it;
    uint16_t seq;
    static const uint16_t want[] = {0x1A2B, 0x1A2C, 0x1A2E};

    assert_int_equal(fb.pt, PL_RTCP_RTPFB);
    assert_int_equal(fb.fmt, PL_RTCP_FMT_NACK);
    assert_int_equal(fb.sender_ssrc, 1);
    assert_int_equal(fb.media_ssrc, 0x4D2C1E0F);
    assert_int_equal(pl_rtcp_nack_iter_init(&it, &fb), 0);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pl_rtcp_nack_next(&it, &seq), 0);
        assert_int_equal(seq, want[i]);
    }
    assert_int_equal(pl_rtcp_nack_next(&it, &seq), -PL_ENOTFOUND);

    /* Two entries, the first wrapping past 65535 with the top BLP bit set. */
    static const uint8_t wrap[] = {0x81, 0xCD, 0x00, 0x04, SUB,  PUB,  0xFF,
                                   0xFE, 0x80, 0x03, 0x00, 0x64, 0x00, 0x00};
    static const uint16_t want2[] = {65534, 65535, 0, 14, 100};
    fb = only_fb(wrap, sizeof wrap);
    assert_int_equal(pl_rtcp_nack_iter_init(&it, &fb), 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(pl_rtcp_nack_next(&it, &seq), 0);
        assert_int_equal(seq, want2[i]);
    }
    assert_int_equal(pl_rtcp_nack_next(&it, &seq), -PL_ENOTFOUND);

    /* The NACK iterator refuses other feedback. */
    fb = only_fb(pli, sizeof pli);
    assert_int_equal(pl_rtcp_nack_iter_init(&it, &fb), -PL_EINVAL);
    assert_int_equal(pl_rtcp_nack_next(&it, &seq), -PL_ENOTFOUND);
}

static void test_pli_and_fir(void **state)
{
    (void)state;
    pl_rtcp_fb_t fb = only_fb(pli, sizeof pli);
    pl_rtcp_fir_entry_t e;

    assert_int_equal(fb.pt, PL_RTCP_PSFB);
    assert_int_equal(fb.fmt, PL_RTCP_FMT_PLI);
    assert_int_equal(fb.media_ssrc, 0x4D2C1E0F);
    assert_int_equal(fb.fci_len, 0);
    assert_int_equal(pl_rtcp_fir_count(&fb), 0);
    assert_int_equal(pl_rtcp_fir_entry(&fb, 0, &e), -PL_EINVAL);

    fb = only_fb(fir, sizeof fir);
    assert_int_equal(fb.fmt, PL_RTCP_FMT_FIR);
    assert_int_equal(fb.media_ssrc, 0);
    assert_int_equal(pl_rtcp_fir_count(&fb), 1);
    assert_int_equal(pl_rtcp_fir_entry(&fb, 0, &e), 0);
    assert_int_equal(e.ssrc, 0x4D2C1E0F);
    assert_int_equal(e.seq_nr, 7);
    assert_int_equal(pl_rtcp_fir_entry(&fb, 1, &e), -PL_EINVAL);
}

static void test_remb_bitrate_and_ssrcs(void **state)
{
    (void)state;
    pl_rtcp_fb_t fb = only_fb(remb, sizeof remb);
    pl_rtcp_remb_t r;

    assert_int_equal(fb.fmt, PL_RTCP_FMT_AFB);
    assert_int_equal(pl_rtcp_remb_parse(&fb, &r), 0);
    assert_true(r.bitrate == 1000000);
    assert_int_equal(r.ssrc_count, 1);
    assert_int_equal(pl_rtcp_remb_ssrc(&r, 0), 0x4D2C1E0F);
    assert_int_equal(pl_rtcp_remb_ssrc(&r, 1), 0);

    /* Another AFB application is valid RTCP but not REMB. */
    uint8_t b[sizeof remb];
    memcpy(b, remb, sizeof b);
    memcpy(b + 12, "XYZW", 4);
    fb = only_fb(b, sizeof b);
    assert_int_equal(pl_rtcp_remb_parse(&fb, &r), -PL_ENOTFOUND);
    fb = only_fb(pli, sizeof pli);
    assert_int_equal(pl_rtcp_remb_parse(&fb, &r), -PL_EINVAL);
}

static void test_tcc_header_and_packet_statuses(void **state)
{
    (void)state;
    pl_rtcp_fb_t fb = only_fb(tcc, sizeof tcc);
    pl_rtcp_tcc_t t;
    pl_rtcp_tcc_iter_t it;
    pl_rtcp_tcc_packet_t pk;
    static const uint8_t st[] = {1, 1, 0, 2, 1, 1, 1, 1, 1, 1};
    static const int32_t dl[] = {1000, 2000, 0, -2500, 250, 500, 750, 1000, 1250, 1500};

    assert_int_equal(fb.fmt, PL_RTCP_FMT_TCC);
    assert_int_equal(pl_rtcp_tcc_parse(&fb, &t), 0);
    assert_int_equal(t.base_seq, 5);
    assert_int_equal(t.status_count, 10);
    assert_int_equal(t.reference_time, 0x001020);
    assert_int_equal(t.fb_count, 3);
    assert_int_equal(t.chunks_len, 4);
    assert_int_equal(t.deltas_len, 10);

    pl_rtcp_tcc_iter_init(&it, &t);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(pl_rtcp_tcc_next(&it, &pk), 0);
        assert_int_equal(pk.seq, 5 + i);
        assert_int_equal(pk.status, st[i]);
        assert_int_equal(pk.delta_us, dl[i]);
    }
    assert_int_equal(pl_rtcp_tcc_next(&it, &pk), -PL_ENOTFOUND);
    fb = only_fb(nack, sizeof nack);
    assert_int_equal(pl_rtcp_tcc_parse(&fb, &t), -PL_EINVAL);
}

static void test_tcc_one_bit_vector_and_run_of_lost(void **state)
{
    (void)state;
    /* Base 65530, 114 packets: a one-bit vector 1,0,1,1,0*9,1 then a run of 100 not received,
     * which wraps the seq. Four 1-byte deltas, no padding needed. */
    static const uint8_t b[] = {0x8F, 0xCD, 0x00, 0x06, SUB,  PUB,  0xFF, 0xFA, 0x00, 0x72, 0x00,
                                0x00, 0x01, 0x00, 0xAC, 0x01, 0x00, 0x64, 0x01, 0x02, 0x03, 0x04};
    pl_rtcp_fb_t fb = only_fb(b, sizeof b);
    pl_rtcp_tcc_t t;
    pl_rtcp_tcc_iter_t it;
    pl_rtcp_tcc_packet_t pk;
    size_t received = 0, n = 0;
    int32_t total = 0;

    assert_int_equal(pl_rtcp_tcc_parse(&fb, &t), 0);
    assert_int_equal(t.status_count, 114);
    pl_rtcp_tcc_iter_init(&it, &t);
    while (pl_rtcp_tcc_next(&it, &pk) == 0) {
        assert_int_equal(pk.seq, (uint16_t)(65530 + n));
        if (pk.status != PL_RTCP_TCC_NOT_RECEIVED) received++;
        if (n == 13) assert_int_equal(pk.status, PL_RTCP_TCC_SMALL_DELTA);
        if (n >= 14) assert_int_equal(pk.status, PL_RTCP_TCC_NOT_RECEIVED);
        total += pk.delta_us;
        n++;
    }
    assert_int_equal(n, 114);
    assert_int_equal(received, 4);
    assert_int_equal(total, (1 + 2 + 3 + 4) * 250);
}

static void test_bye_with_and_without_reason(void **state)
{
    (void)state;
    pl_rtcp_packet_t p = only_packet(bye, sizeof bye);
    pl_rtcp_bye_t b;

    assert_int_equal(pl_rtcp_bye_parse(&p, &b), 0);
    assert_int_equal(b.count, 1);
    assert_int_equal(pl_rtcp_bye_ssrc(&b, 0), 0x4D2C1E0F);
    assert_int_equal(pl_rtcp_bye_ssrc(&b, 1), 0);
    assert_int_equal(b.reason_len, 8);
    assert_memory_equal(b.reason, "shutdown", 8);

    static const uint8_t plain[] = {0x82, 0xCB, 0x00, 0x02, PUB, SUB};
    p = only_packet(plain, sizeof plain);
    assert_int_equal(pl_rtcp_bye_parse(&p, &b), 0);
    assert_int_equal(b.count, 2);
    assert_int_equal(pl_rtcp_bye_ssrc(&b, 1), 1);
    assert_null(b.reason);
}

static void test_unknown_types_are_checked_for_framing_only(void **state)
{
    (void)state;
    /* APP (name "PRLY", 4 bytes of data) and an XR with an arbitrary block. */
    static const uint8_t b[] = {0x80, 0xCC, 0x00, 0x03, PUB,  'P',  'R', 'L',  'Y',  1,    2,
                                3,    4,    0x80, 0xCF, 0x00, 0x02, SUB, 0x04, 0x00, 0x00, 0x02};
    uint8_t c[sizeof b];

    assert_int_equal(touch_all(b, sizeof b), 2);
    memcpy(c, b, sizeof c);
    pl_rtcp_packet_t p = only_packet(c, 16);
    assert_int_equal(pl_rtcp_set_sender_ssrc(&p, c, 0xABCDEF01), 0);
    assert_int_equal(c[4], 0xAB);
}

static void test_padding_on_a_sub_packet_is_honoured(void **state)
{
    (void)state;
    /* A PLI padded by 4 bytes (count 4), then an RR: padding stays inside its packet. */
    static const uint8_t b[] = {0xA1, 0xCE, 0x00, 0x03, SUB,  PUB,  0,  0,
                                0,    4,    0x80, 0xC9, 0x00, 0x01, SUB};
    pl_rtcp_iter_t it;
    pl_rtcp_packet_t p;

    assert_int_equal(pl_rtcp_iter_init(&it, b, sizeof b), 0);
    assert_int_equal(pl_rtcp_iter_next(&it, &p), 0);
    assert_true(p.padding);
    assert_int_equal(p.len, 16);
    assert_int_equal(p.body_len, 8);
    assert_int_equal(pl_rtcp_iter_next(&it, &p), 0);
    assert_int_equal(p.pt, PL_RTCP_RR);
}

/* ---- malformed input ---- */

static void test_every_truncation_is_rejected_or_a_whole_prefix(void **state)
{
    (void)state;
    uint8_t all[512];
    size_t total = 0;
    size_t bounds[16], nb = 0;

    /* One compound holding every sample, and each sample alone. The first sample is itself
     * SR + SDES, so its SR ends a valid prefix too. */
    bounds[nb++] = 28;
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        memcpy(all + total, samples[s].buf, samples[s].len);
        total += samples[s].len;
        bounds[nb++] = total;
    }
    assert_int_equal(touch_all(all, total), nb);

    for (size_t n = 0; n < total; n++) {
        uint8_t *b = dup_exact(all, n);
        int rc = validate(b, n);
        bool boundary = false;
        for (size_t i = 0; i < nb; i++)
            boundary |= bounds[i] == n;
        /* A cut between sub-packets leaves a valid shorter compound; any other cut fails. */
        if (boundary) {
            assert_int_equal(rc, 0);
            touch_all(b, n);
        } else if (rc != -PL_EINVAL) {
            fail_msg("accepted truncation to %zu bytes", n);
        }
        free(b);
    }
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        for (size_t n = 0; n < samples[s].len; n++) {
            /* The SR alone is a valid prefix of the SR+SDES compound. */
            if (samples[s].buf == sr_sdes && n == 28) continue;
            uint8_t *b = dup_exact(samples[s].buf, n);
            if (validate(b, n) != -PL_EINVAL)
                fail_msg("%s: accepted truncation to %zu bytes", samples[s].name, n);
            free(b);
        }
    }
}

static void test_rejects_zero_length_null_and_ragged_length(void **state)
{
    (void)state;
    pl_rtcp_iter_t it;
    pl_rtcp_packet_t p;

    assert_int_equal(pl_rtcp_iter_init(&it, pli, 0), -PL_EINVAL);
    assert_int_equal(pl_rtcp_iter_next(&it, &p), -PL_ENOTFOUND);
    assert_int_equal(pl_rtcp_iter_init(&it, NULL, 12), -PL_EINVAL);
    assert_int_equal(pl_rtcp_iter_init(NULL, pli, sizeof pli), -PL_EINVAL);
    /* RTCP is whole words: a length that is not a multiple of 4 has a ragged tail. */
    for (size_t n = 9; n < 12; n++)
        assert_int_equal(pl_rtcp_iter_init(&it, pli, n), -PL_EINVAL);
    assert_int_equal(pl_rtcp_iter_next(NULL, &p), -PL_ENOTFOUND);
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
    MUT(sr_sdes, 0, 0x00, "version 0"),
    MUT(sr_sdes, 0, 0x40, "version 1"),
    MUT(sr_sdes, 0, 0xC0, "version 3"),
    MUT(sr_sdes, 28, 0x41, "version 1 in the second packet"),
    MUT(sr_sdes, 28, 0xC1, "version 3 in the second packet"),
    MUT(pli, 1, 0x60, "packet type 96 (RTP)"),
    MUT(pli, 1, 0xE0, "packet type 224"),
    MUT(pli, 1, 191, "packet type 191"),
    MUT(pli, 1, 0, "packet type 0"),
    MUT(sr_sdes, 31, 0x07, "SDES length 32 with 28 left"),
    MUT(sr_sdes, 30, 0xFF, "SDES length field far past the end"),
    MUT(sr_sdes, 3, 0x0E, "SR length past the end"),
    MUT(sr_sdes, 3, 0x05, "SR length too short for sender info"),
    MUT(sr_sdes, 0, 0x81, "SR report count 1 with no block"),
    MUT(rr, 0, 0x82, "RR report count 2 with one block"),
    MUT(sr_sdes, 28, 0x82, "SDES chunk count 2 with one chunk"),
    MUT(sr_sdes, 28, 0x80, "SDES chunk count 0 with one chunk"),
    MUT(sr_sdes, 37, 0x1A, "CNAME length past the packet"),
    MUT(sr_sdes, 54, 0x05, "SDES items without an end marker"),
    MUT(bye, 0, 0x85, "BYE source count past the packet"),
    MUT(bye, 8, 12, "BYE reason past the packet"),
    MUT(pli, 0, 0xA1, "padding count 15 in a 12-byte packet"),
    MUT(nack, 0, 0xA1, "padding count 5 leaves NACK without its FCI"),
    MUT(remb, 16, 2, "REMB SSRC count past the packet"),
    MUT(remb, 17, 0xFF, "REMB bitrate beyond 64 bits (exponent 63)"),
    MUT(tcc, 20, 0xF4, "transport-cc reserved status in a vector"),
    MUT(tcc, 22, 0x60, "transport-cc run of reserved status"),
    MUT(tcc, 22, 0x40, "transport-cc large deltas past the packet"),
    MUT(tcc, 15, 0x02, "transport-cc deltas leave 12 bytes unaccounted"),
};

static void test_rejects_every_mutation_in_the_table(void **state)
{
    (void)state;
    uint8_t b[64];

    for (size_t i = 0; i < sizeof mutations / sizeof mutations[0]; i++) {
        const mutation_t *m = &mutations[i];
        assert_true(m->len <= sizeof b && m->at < m->len);
        assert_int_equal(validate(m->base, m->len), 0);
        memcpy(b, m->base, m->len);
        b[m->at] = m->val;
        if (validate(b, m->len) != -PL_EINVAL) fail_msg("accepted: %s", m->why);
    }
}

/* Whole packets that are invalid as they stand. */
typedef struct {
    const char *why;
    size_t len;
    uint8_t b[32];
} bad_t;

/* clang-format off */
static const bad_t bad_packets[] = {
    {"SR without sender info", 8, {0x80, 0xC8, 0x00, 0x01, PUB}},
    {"SDES without end marker", 12, {0x81, 0xCA, 0x00, 0x02, PUB, 0x01, 0x02, 'a', 'b'}},
    {"feedback without media SSRC", 8, {0x81, 0xCE, 0x00, 0x01, SUB}},
    {"NACK without FCI", 12, {0x81, 0xCD, 0x00, 0x02, SUB, PUB}},
    {"FIR without entries", 12, {0x84, 0xCE, 0x00, 0x02, SUB, 0, 0, 0, 0}},
    {"FIR with half an entry", 16, {0x84, 0xCE, 0x00, 0x03, SUB, 0, 0, 0, 0, PUB}},
    {"REMB without bitrate", 16, {0x8F, 0xCE, 0x00, 0x03, SUB, 0, 0, 0, 0, 'R', 'E', 'M', 'B'}},
    {"transport-cc without fixed fields", 16,
     {0x8F, 0xCD, 0x00, 0x03, SUB, PUB, 0x00, 0x01, 0x00, 0x01}},
    {"transport-cc: 10 statuses, chunks describe 7 and 0", 24,
     {0x8F, 0xCD, 0x00, 0x05, SUB, PUB, 0, 0, 0x00, 0x0A, 0, 0, 0, 0, 0xC0, 0x00, 0x00, 0x00}},
    {"padding count 0", 16, {0xA1, 0xCE, 0x00, 0x03, SUB, PUB, 0, 0, 0, 0}},
    {"padding eating the header", 16, {0xA1, 0xCE, 0x00, 0x03, SUB, PUB, 0, 0, 0, 13}},
    {"padding eating the media SSRC", 16, {0xA1, 0xCE, 0x00, 0x03, SUB, PUB, 0, 0, 0, 8}},
    {"PLI followed by 4 zero bytes", 16, {0x81, 0xCE, 0x00, 0x02, SUB, PUB, 0, 0, 0, 0}},
    {"PLI followed by a header without body", 16,
     {0x81, 0xCE, 0x00, 0x02, SUB, PUB, 0x80, 0xC9, 0x00, 0x01}},
};
/* clang-format on */

static void test_rejects_every_bad_packet_in_the_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_packets / sizeof bad_packets[0]; i++) {
        const bad_t *t = &bad_packets[i];
        uint8_t *b = dup_exact(t->b, t->len);
        if (validate(b, t->len) != -PL_EINVAL) fail_msg("accepted: %s", t->why);
        free(b);
    }
    /* The same padded PLI with a correct count is fine. */
    static const uint8_t ok[] = {0xA1, 0xCE, 0x00, 0x03, SUB, PUB, 0, 0, 0, 4};
    assert_int_equal(validate(ok, sizeof ok), 0);
}

static void test_rejects_trailing_garbage(void **state)
{
    (void)state;
    uint8_t b[64];
    static const uint8_t zeros[4] = {0};

    /* Ragged tails (not a whole word) and a zero word (version 0). */
    for (size_t extra = 1; extra <= 4; extra++) {
        size_t n = join(b, sizeof b, sr_sdes, sizeof sr_sdes, zeros, extra);
        assert_int_equal(validate(b, n), -PL_EINVAL);
    }
}

static void test_bad_sub_packet_invalidates_the_whole_compound(void **state)
{
    (void)state;
    static const uint8_t nack_empty[] = {0x81, 0xCD, 0x00, 0x02, SUB, PUB};
    uint8_t b[128];
    size_t n = join(b, sizeof b, sr_sdes, sizeof sr_sdes, nack_empty, sizeof nack_empty);
    pl_rtcp_iter_t it;
    pl_rtcp_packet_t p;

    assert_int_equal(pl_rtcp_iter_init(&it, b, n), -PL_EINVAL);
    assert_int_equal(pl_rtcp_iter_next(&it, &p), -PL_ENOTFOUND);
    /* The same with the bad packet first. */
    n = join(b, sizeof b, nack_empty, sizeof nack_empty, sr_sdes, sizeof sr_sdes);
    assert_int_equal(pl_rtcp_iter_init(&it, b, n), -PL_EINVAL);
    assert_int_equal(pl_rtcp_iter_next(&it, &p), -PL_ENOTFOUND);
}

/* ---- writers ---- */

static void test_writers_reproduce_chrome_packets(void **state)
{
    (void)state;
    uint8_t b[256];
    pl_rtcp_writer_t w;
    const pl_rtcp_sender_info_t si = {.ssrc = 0x4D2C1E0F,
                                      .ntp = 0xE8A1B2C34D5E6F70ull,
                                      .rtp_ts = 0x0011A4F8,
                                      .packet_count = 0x123,
                                      .octet_count = 0x1E240};

    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_sr(&w, &si, NULL, 0), 0);
    assert_int_equal(pl_rtcp_write_sdes_cname(&w, 0x4D2C1E0F, "xH4bS0n1Zq9aR2fK", 16), 0);
    assert_int_equal(w.len, sizeof sr_sdes);
    assert_memory_equal(b, sr_sdes, sizeof sr_sdes);

    const pl_rtcp_rb_t rb = {.ssrc = 0x4D2C1E0F,
                             .fraction_lost = 10,
                             .cumulative_lost = 5,
                             .ext_highest_seq = 0x11A2B,
                             .jitter = 32,
                             .lsr = 0xA1B2C34D,
                             .dlsr = 65536};
    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_rr(&w, 1, &rb, 1), 0);
    assert_int_equal(w.len, sizeof rr);
    assert_memory_equal(b, rr, sizeof rr);

    static const uint16_t lost[] = {0x1A2B, 0x1A2C, 0x1A2E};
    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_nack(&w, 1, 0x4D2C1E0F, lost, 3), 0);
    assert_int_equal(w.len, sizeof nack);
    assert_memory_equal(b, nack, sizeof nack);

    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_pli(&w, 1, 0x4D2C1E0F), 0);
    assert_memory_equal(b, pli, sizeof pli);

    const pl_rtcp_fir_entry_t fe = {.ssrc = 0x4D2C1E0F, .seq_nr = 7};
    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_fir(&w, 1, &fe, 1), 0);
    assert_int_equal(w.len, sizeof fir);
    assert_memory_equal(b, fir, sizeof fir);

    const uint32_t target = 0x4D2C1E0F;
    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_remb(&w, 1, 1000000, &target, 1), 0);
    assert_int_equal(w.len, sizeof remb);
    assert_memory_equal(b, remb, sizeof remb);

    const uint32_t src = 0x4D2C1E0F;
    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_bye(&w, &src, 1, "shutdown", 8), 0);
    assert_int_equal(w.len, sizeof bye);
    assert_memory_equal(b, bye, sizeof bye);
}

static void test_write_sr_rr_with_blocks_round_trip(void **state)
{
    (void)state;
    pl_rtcp_rb_t in[31];
    for (size_t i = 0; i < 31; i++)
        in[i] = (pl_rtcp_rb_t){.ssrc = (uint32_t)(0x1000 + i),
                               .fraction_lost = (uint8_t)i,
                               .cumulative_lost = (int32_t)i * 1000 - 15000,
                               .ext_highest_seq = (uint32_t)i << 16,
                               .jitter = (uint32_t)i,
                               .lsr = ~(uint32_t)i,
                               .dlsr = (uint32_t)i * 7};
    in[30].cumulative_lost = 0x7FFFFFFF; /* clamped to 24 bits */
    in[29].cumulative_lost = -0x7FFFFFFF;
    const pl_rtcp_sender_info_t si = {
        .ssrc = 42, .ntp = 1, .rtp_ts = 2, .packet_count = 3, .octet_count = 4};
    uint8_t b[2048];
    pl_rtcp_writer_t w;

    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_sr(&w, &si, in, 31), 0);
    assert_int_equal(pl_rtcp_write_rr(&w, 43, in, 2), 0);
    assert_int_equal(w.len, 28 + 31 * 24 + 8 + 2 * 24);
    assert_int_equal(touch_all(b, w.len), 2);

    pl_rtcp_iter_t it;
    pl_rtcp_packet_t p;
    pl_rtcp_report_t r;
    pl_rtcp_rb_t out;
    assert_int_equal(pl_rtcp_iter_init(&it, b, w.len), 0);
    assert_int_equal(pl_rtcp_iter_next(&it, &p), 0);
    assert_int_equal(pl_rtcp_report_parse(&p, &r), 0);
    assert_true(r.is_sr);
    assert_int_equal(r.info.ssrc, 42);
    assert_true(r.info.ntp == 1);
    assert_int_equal(r.info.octet_count, 4);
    assert_int_equal(r.rb_count, 31);
    for (size_t i = 0; i < 29; i++) {
        assert_int_equal(pl_rtcp_report_block(&r, i, &out), 0);
        assert_int_equal(out.ssrc, in[i].ssrc);
        assert_int_equal(out.fraction_lost, in[i].fraction_lost);
        assert_int_equal(out.cumulative_lost, in[i].cumulative_lost);
        assert_int_equal(out.ext_highest_seq, in[i].ext_highest_seq);
        assert_int_equal(out.jitter, in[i].jitter);
        assert_int_equal(out.lsr, in[i].lsr);
        assert_int_equal(out.dlsr, in[i].dlsr);
    }
    assert_int_equal(pl_rtcp_report_block(&r, 29, &out), 0);
    assert_int_equal(out.cumulative_lost, -0x800000);
    assert_int_equal(pl_rtcp_report_block(&r, 30, &out), 0);
    assert_int_equal(out.cumulative_lost, 0x7FFFFF);
    assert_int_equal(pl_rtcp_iter_next(&it, &p), 0);
    assert_int_equal(pl_rtcp_report_parse(&p, &r), 0);
    assert_false(r.is_sr);
    assert_int_equal(r.info.ssrc, 43);
    assert_int_equal(r.rb_count, 2);

    /* 32 blocks do not fit the 5-bit count. */
    pl_rtcp_rb_t many[32] = {0};
    assert_int_equal(pl_rtcp_write_rr(&w, 1, many, 32), -PL_EINVAL);
    assert_int_equal(pl_rtcp_write_rr(&w, 1, NULL, 1), -PL_EINVAL);
    assert_int_equal(pl_rtcp_write_sr(&w, NULL, NULL, 0), -PL_EINVAL);
}

static void test_write_sdes_and_bye_round_trip(void **state)
{
    (void)state;
    uint8_t b[1024];
    pl_rtcp_writer_t w;
    char name[256];
    memset(name, 'n', sizeof name);

    /* Every CNAME length, so each padding case (1..4 null octets) is exercised. */
    for (size_t len = 1; len <= 255; len++) {
        pl_rtcp_writer_init(&w, b, sizeof b);
        assert_int_equal(pl_rtcp_write_sdes_cname(&w, 7, name, len), 0);
        assert_int_equal(w.len % 4, 0);
        pl_rtcp_packet_t p = only_packet(b, w.len);
        pl_rtcp_sdes_iter_t si;
        pl_rtcp_sdes_chunk_t c;
        assert_int_equal(pl_rtcp_sdes_iter_init(&si, &p), 0);
        assert_int_equal(pl_rtcp_sdes_next(&si, &c), 0);
        assert_int_equal(c.ssrc, 7);
        assert_int_equal(c.cname_len, len);
        assert_memory_equal(c.cname, name, len);
    }
    assert_int_equal(pl_rtcp_write_sdes_cname(&w, 7, name, 256), -PL_EINVAL);
    assert_int_equal(pl_rtcp_write_sdes_cname(&w, 7, name, 0), -PL_EINVAL);

    const uint32_t srcs[3] = {1, 2, 3};
    for (size_t len = 1; len <= 8; len++) {
        pl_rtcp_writer_init(&w, b, sizeof b);
        assert_int_equal(pl_rtcp_write_bye(&w, srcs, 3, "left the room", len), 0);
        pl_rtcp_packet_t p = only_packet(b, w.len);
        pl_rtcp_bye_t by;
        assert_int_equal(pl_rtcp_bye_parse(&p, &by), 0);
        assert_int_equal(by.count, 3);
        assert_int_equal(pl_rtcp_bye_ssrc(&by, 2), 3);
        assert_int_equal(by.reason_len, len);
        assert_memory_equal(by.reason, "left the room", len);
    }
    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_bye(&w, srcs, 3, NULL, 0), 0);
    assert_int_equal(w.len, 16);
    assert_int_equal(pl_rtcp_write_bye(&w, srcs, 0, NULL, 0), -PL_EINVAL);
    assert_int_equal(pl_rtcp_write_bye(&w, srcs, 1, "x", 0), -PL_EINVAL);
}

/* Collects the seqs a NACK names, in order. */
static size_t nack_seqs(const uint8_t *b, size_t n, uint16_t *out, size_t cap)
{
    pl_rtcp_fb_t fb = only_fb(b, n);
    pl_rtcp_nack_iter_t it;
    size_t k = 0;
    uint16_t seq;

    assert_int_equal(pl_rtcp_nack_iter_init(&it, &fb), 0);
    while (pl_rtcp_nack_next(&it, &seq) == 0) {
        assert_true(k < cap);
        out[k++] = seq;
    }
    return k;
}

static void test_write_nack_packs_blp(void **state)
{
    (void)state;
    uint8_t b[256];
    uint16_t got[64];
    pl_rtcp_writer_t w;

    /* Across the wrap: 65534 is the PID and the next 16 fit its BLP. */
    static const uint16_t wrap[] = {65534, 65535, 0, 1, 14};
    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_nack(&w, 1, 2, wrap, 5), 0);
    assert_int_equal(w.len, 16); /* one entry */
    assert_int_equal(nack_seqs(b, w.len, got, 64), 5);
    assert_memory_equal(got, wrap, sizeof wrap);

    /* 17 apart needs a second entry; duplicates within an entry merge. */
    static const uint16_t spread[] = {100, 101, 101, 116, 117, 117, 500};
    static const uint16_t want[] = {100, 101, 116, 117, 500};
    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_nack(&w, 1, 2, spread, 7), 0);
    assert_int_equal(w.len, 12 + 3 * 4);
    assert_int_equal(nack_seqs(b, w.len, got, 64), 5);
    assert_memory_equal(got, want, sizeof want);

    /* Unsorted input still names every seq. */
    static const uint16_t unsorted[] = {30, 10, 20, 11};
    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_nack(&w, 1, 2, unsorted, 4), 0);
    size_t k = nack_seqs(b, w.len, got, 64);
    for (size_t i = 0; i < 4; i++) {
        bool seen = false;
        for (size_t j = 0; j < k; j++)
            seen |= got[j] == unsorted[i];
        assert_true(seen);
    }

    /* Out of room part way: nothing appended. */
    static const uint16_t far[] = {0, 100, 200, 300};
    pl_rtcp_writer_init(&w, b, 20);
    assert_int_equal(pl_rtcp_write_nack(&w, 1, 2, far, 4), -PL_ETOOBIG);
    assert_int_equal(w.len, 0);
    assert_int_equal(pl_rtcp_write_nack(&w, 1, 2, far, 0), -PL_EINVAL);
    assert_int_equal(pl_rtcp_write_nack(&w, 1, 2, NULL, 1), -PL_EINVAL);
}

static void test_write_remb_rounds_bitrate_down(void **state)
{
    (void)state;
    static const uint64_t rates[] = {
        0, 1, 262143, 262144, 262145, 1000000, 2500000000ull, (uint64_t)1 << 40, UINT64_MAX};
    uint8_t b[256];
    pl_rtcp_writer_t w;
    const uint32_t ssrcs[2] = {11, 22};

    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        pl_rtcp_writer_init(&w, b, sizeof b);
        assert_int_equal(pl_rtcp_write_remb(&w, 9, rates[i], ssrcs, 2), 0);
        pl_rtcp_fb_t fb = only_fb(b, w.len);
        pl_rtcp_remb_t r;
        assert_int_equal(pl_rtcp_remb_parse(&fb, &r), 0);
        assert_true(r.bitrate <= rates[i]);
        /* Rounding loses less than one part in 2^17. */
        assert_true(rates[i] - r.bitrate <= rates[i] >> 17);
        assert_int_equal(r.ssrc_count, 2);
        assert_int_equal(pl_rtcp_remb_ssrc(&r, 1), 22);
    }
    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_remb(&w, 9, 1, NULL, 0), 0);
    assert_int_equal(w.len, 20);
    assert_int_equal(pl_rtcp_write_remb(&w, 9, 1, NULL, 1), -PL_EINVAL);
}

static void test_write_fir_entries_round_trip(void **state)
{
    (void)state;
    const pl_rtcp_fir_entry_t e[3] = {{1, 10}, {2, 20}, {3, 255}};
    uint8_t b[64];
    pl_rtcp_writer_t w;
    pl_rtcp_fir_entry_t out;

    pl_rtcp_writer_init(&w, b, sizeof b);
    assert_int_equal(pl_rtcp_write_fir(&w, 9, e, 3), 0);
    pl_rtcp_fb_t fb = only_fb(b, w.len);
    assert_int_equal(pl_rtcp_fir_count(&fb), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pl_rtcp_fir_entry(&fb, i, &out), 0);
        assert_int_equal(out.ssrc, e[i].ssrc);
        assert_int_equal(out.seq_nr, e[i].seq_nr);
    }
    assert_int_equal(pl_rtcp_write_fir(&w, 9, e, 0), -PL_EINVAL);
    assert_int_equal(pl_rtcp_write_fir(&w, 9, e, SIZE_MAX), -PL_ETOOBIG);
}

static void test_compound_builder_appends_until_full(void **state)
{
    (void)state;
    uint8_t b[64];
    pl_rtcp_writer_t w;
    const uint32_t ssrc = 5;
    static const uint16_t lost[] = {7};

    /* Receiver feedback as Chrome sends it: RR, SDES, then PLI and NACK, in 52 bytes. */
    pl_rtcp_writer_init(&w, b, 52);
    assert_int_equal(pl_rtcp_write_rr(&w, 1, NULL, 0), 0);
    assert_int_equal(pl_rtcp_write_sdes_cname(&w, 1, "abcd", 4), 0);
    assert_int_equal(pl_rtcp_write_pli(&w, 1, ssrc), 0);
    assert_int_equal(pl_rtcp_write_nack(&w, 1, ssrc, lost, 1), 0);
    assert_int_equal(w.len, 8 + 16 + 12 + 16);
    /* Full: each writer refuses without moving len. */
    size_t before = w.len;
    assert_int_equal(pl_rtcp_write_pli(&w, 1, ssrc), -PL_ETOOBIG);
    assert_int_equal(pl_rtcp_write_remb(&w, 1, 1, &ssrc, 1), -PL_ETOOBIG);
    assert_int_equal(pl_rtcp_write_bye(&w, &ssrc, 1, NULL, 0), -PL_ETOOBIG);
    assert_int_equal(pl_rtcp_write_rr(&w, 1, NULL, 0), -PL_ETOOBIG);
    assert_int_equal(w.len, before);
    assert_int_equal(touch_all(b, w.len), 4);

    pl_rtcp_writer_init(&w, NULL, 100);
    assert_int_equal(pl_rtcp_write_pli(&w, 1, 2), -PL_ETOOBIG);
    assert_int_equal(pl_rtcp_write_pli(NULL, 1, 2), -PL_EINVAL);
}

/* ---- rewriters ---- */

static void test_rewrite_feedback_ssrcs_in_a_compound_copy(void **state)
{
    (void)state;
    /* A subscriber's RR + PLI + NACK + FIR about the SSRC the SFU gave it (0x00005555); the
     * SFU relays them to the publisher with the real SSRC and its own sender SSRC. */
    uint8_t in[128];
    pl_rtcp_writer_t w;
    static const uint16_t lost[] = {1, 2};
    const pl_rtcp_fir_entry_t fe[2] = {{0x5555, 1}, {0x6666, 2}};

    pl_rtcp_writer_init(&w, in, sizeof in);
    assert_int_equal(pl_rtcp_write_rr(&w, 0xAAAA, NULL, 0), 0);
    assert_int_equal(pl_rtcp_write_pli(&w, 0xAAAA, 0x5555), 0);
    assert_int_equal(pl_rtcp_write_nack(&w, 0xAAAA, 0x5555, lost, 2), 0);
    assert_int_equal(pl_rtcp_write_fir(&w, 0xAAAA, fe, 2), 0);
    assert_int_equal(pl_rtcp_write_sdes_cname(&w, 0xAAAA, "c", 1), 0);

    uint8_t out[128];
    memcpy(out, in, w.len);
    pl_rtcp_iter_t it;
    pl_rtcp_packet_t p;
    assert_int_equal(pl_rtcp_iter_init(&it, in, w.len), 0);
    while (pl_rtcp_iter_next(&it, &p) == 0) {
        if (p.pt == PL_RTCP_SDES) {
            assert_int_equal(pl_rtcp_set_sender_ssrc(&p, out, 0xBBBB), -PL_EINVAL);
            assert_int_equal(pl_rtcp_fb_set_media_ssrc(&p, out, 1), -PL_EINVAL);
            continue;
        }
        assert_int_equal(pl_rtcp_set_sender_ssrc(&p, out, 0xBBBB), 0);
        pl_rtcp_fb_t fb;
        if (pl_rtcp_fb_parse(&p, &fb) < 0) continue;
        if (pl_rtcp_fir_count(&fb) > 0) {
            assert_int_equal(pl_rtcp_fb_set_media_ssrc(&p, out, 1), -PL_EINVAL);
            pl_rtcp_fir_entry_t e;
            for (size_t i = 0; i < pl_rtcp_fir_count(&fb); i++) {
                assert_int_equal(pl_rtcp_fir_entry(&fb, i, &e), 0);
                if (e.ssrc == 0x5555)
                    assert_int_equal(pl_rtcp_fir_set_ssrc(&p, out, i, 0x4D2C1E0F), 0);
            }
            assert_int_equal(pl_rtcp_fir_set_ssrc(&p, out, 2, 1), -PL_EINVAL);
        } else {
            assert_int_equal(pl_rtcp_fb_set_media_ssrc(&p, out, 0x4D2C1E0F), 0);
            assert_int_equal(pl_rtcp_fir_set_ssrc(&p, out, 0, 1), -PL_EINVAL);
        }
    }

    /* The copy parses, carries the new SSRCs, and the original is untouched. */
    assert_int_equal(touch_all(out, w.len), 5);
    assert_int_equal(pl_rtcp_iter_init(&it, out, w.len), 0);
    while (pl_rtcp_iter_next(&it, &p) == 0) {
        pl_rtcp_fb_t fb;
        pl_rtcp_report_t r;
        if (pl_rtcp_report_parse(&p, &r) == 0) assert_int_equal(r.info.ssrc, 0xBBBB);
        if (pl_rtcp_fb_parse(&p, &fb) < 0) continue;
        assert_int_equal(fb.sender_ssrc, 0xBBBB);
        if (pl_rtcp_fir_count(&fb) > 0) {
            pl_rtcp_fir_entry_t e;
            assert_int_equal(fb.media_ssrc, 0);
            assert_int_equal(pl_rtcp_fir_entry(&fb, 0, &e), 0);
            assert_int_equal(e.ssrc, 0x4D2C1E0F);
            assert_int_equal(e.seq_nr, 1);
            assert_int_equal(pl_rtcp_fir_entry(&fb, 1, &e), 0);
            assert_int_equal(e.ssrc, 0x6666);
        } else {
            assert_int_equal(fb.media_ssrc, 0x4D2C1E0F);
        }
    }
    pl_rtcp_packet_t first = only_packet(in, 8);
    pl_rtcp_report_t r;
    assert_int_equal(pl_rtcp_report_parse(&first, &r), 0);
    assert_int_equal(r.info.ssrc, 0xAAAA);
}

/* ---- mutation ---- */

static uint32_t rng_state = 0x9E3779B9;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void test_iter_survives_random_mutation(void **state)
{
    (void)state;
    uint8_t all[512];
    size_t total = 0;

    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        memcpy(all + total, samples[s].buf, samples[s].len);
        total += samples[s].len;
    }
    size_t accepted = 0;
    for (unsigned round = 0; round < 20000; round++) {
        /* Mutate either one sample or the whole compound. */
        const uint8_t *src = all;
        size_t n = total;
        if (round % 2) {
            const sample_t *s = &samples[rng() % (sizeof samples / sizeof samples[0])];
            src = s->buf;
            n = s->len;
        }
        uint8_t *b = dup_exact(src, n);
        unsigned flips = 1 + rng() % 3;
        for (unsigned f = 0; f < flips; f++)
            b[rng() % n] ^= (uint8_t)(1u << (rng() % 8));
        if (validate(b, n) == 0) {
            touch_all(b, n);
            accepted++;
        }
        free(b);
    }
    /* Some mutations (payload bits) must survive, or the test proves nothing. */
    assert_true(accepted > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iter_chrome_sr_sdes_compound),
        cmocka_unit_test(test_rr_report_block_fields_and_negative_loss),
        cmocka_unit_test(test_empty_rr_is_valid),
        cmocka_unit_test(test_nack_expands_pid_and_blp),
        cmocka_unit_test(test_pli_and_fir),
        cmocka_unit_test(test_remb_bitrate_and_ssrcs),
        cmocka_unit_test(test_tcc_header_and_packet_statuses),
        cmocka_unit_test(test_tcc_one_bit_vector_and_run_of_lost),
        cmocka_unit_test(test_bye_with_and_without_reason),
        cmocka_unit_test(test_unknown_types_are_checked_for_framing_only),
        cmocka_unit_test(test_padding_on_a_sub_packet_is_honoured),
        cmocka_unit_test(test_every_truncation_is_rejected_or_a_whole_prefix),
        cmocka_unit_test(test_rejects_zero_length_null_and_ragged_length),
        cmocka_unit_test(test_rejects_every_mutation_in_the_table),
        cmocka_unit_test(test_rejects_every_bad_packet_in_the_table),
        cmocka_unit_test(test_rejects_trailing_garbage),
        cmocka_unit_test(test_bad_sub_packet_invalidates_the_whole_compound),
        cmocka_unit_test(test_writers_reproduce_chrome_packets),
        cmocka_unit_test(test_write_sr_rr_with_blocks_round_trip),
        cmocka_unit_test(test_write_sdes_and_bye_round_trip),
        cmocka_unit_test(test_write_nack_packs_blp),
        cmocka_unit_test(test_write_remb_rounds_bitrate_down),
        cmocka_unit_test(test_write_fir_entries_round_trip),
        cmocka_unit_test(test_compound_builder_appends_until_full),
        cmocka_unit_test(test_rewrite_feedback_ssrcs_in_a_compound_copy),
        cmocka_unit_test(test_iter_survives_random_mutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
