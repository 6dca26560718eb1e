/* libFuzzer target for media/rtcp.c: compound validation and iteration, every typed view (SR
 * and RR with their report blocks, SDES chunks, BYE, feedback with NACK, PLI, FIR, REMB and
 * transport-cc), the writers (each parsed packet is written again and must parse back to the
 * same values), and the SSRC rewriters used when relaying feedback.
 *
 * The input is one compound. What pl_rtcp_iter_init accepted, every typed parser must accept
 * too (rtcp.h: the iterator validates with them), so a refusal after that aborts. Writers
 * get exact-size heap buffers, so a write past what they reserved is an ASan report. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "media/rtcp.h"

static uint8_t *xmalloc(size_t n)
{
    uint8_t *p = malloc(n > 0 ? n : 1);
    if (p == NULL) abort();
    return p;
}

/* The one packet written into w, framed as a compound of its own. */
static void only_packet(const pl_rtcp_writer_t *w, pl_rtcp_packet_t *out)
{
    pl_rtcp_iter_t it;
    if (pl_rtcp_iter_init(&it, w->buf, w->len) != 0) abort();
    if (pl_rtcp_iter_next(&it, out) != 0 || out->len != w->len) abort();
}

static void check_report(const pl_rtcp_packet_t *p)
{
    pl_rtcp_report_t r, back;
    pl_rtcp_rb_t rb[PL_RTCP_MAX_COUNT], x;
    pl_rtcp_packet_t q;

    if (pl_rtcp_report_parse(p, &r) != 0) abort();
    if (r.rb_count != p->count || r.is_sr != (p->pt == PL_RTCP_SR)) abort();
    for (size_t i = 0; i < r.rb_count; i++) {
        if (pl_rtcp_report_block(&r, i, &rb[i]) != 0) abort();
        if (rb[i].cumulative_lost > 0x7FFFFF || rb[i].cumulative_lost < -0x800000) abort();
    }
    if (pl_rtcp_report_block(&r, r.rb_count, &x) != -PL_EINVAL) abort();

    size_t cap = 8 + (r.is_sr ? 20 : 0) + 24u * r.rb_count;
    uint8_t *buf = xmalloc(cap);
    pl_rtcp_writer_t w;
    pl_rtcp_writer_init(&w, buf, cap);
    int rc = r.is_sr ? pl_rtcp_write_sr(&w, &r.info, rb, r.rb_count)
                     : pl_rtcp_write_rr(&w, r.info.ssrc, rb, r.rb_count);
    if (rc != 0) abort();
    only_packet(&w, &q);
    /* Field by field: the structs have padding, which memcmp would read. */
    if (pl_rtcp_report_parse(&q, &back) != 0 || back.rb_count != r.rb_count ||
        back.info.ssrc != r.info.ssrc || back.info.ntp != r.info.ntp ||
        back.info.rtp_ts != r.info.rtp_ts || back.info.packet_count != r.info.packet_count ||
        back.info.octet_count != r.info.octet_count)
        abort();
    for (size_t i = 0; i < r.rb_count; i++) {
        if (pl_rtcp_report_block(&back, i, &x) != 0 || x.ssrc != rb[i].ssrc ||
            x.fraction_lost != rb[i].fraction_lost || x.cumulative_lost != rb[i].cumulative_lost ||
            x.ext_highest_seq != rb[i].ext_highest_seq || x.jitter != rb[i].jitter ||
            x.lsr != rb[i].lsr || x.dlsr != rb[i].dlsr)
            abort();
    }
    free(buf);
}

static void check_sdes(const pl_rtcp_packet_t *p)
{
    pl_rtcp_sdes_iter_t it;
    pl_rtcp_sdes_chunk_t c;
    size_t n = 0;
    int rc;

    if (pl_rtcp_sdes_iter_init(&it, p) != 0) abort();
    while ((rc = pl_rtcp_sdes_next(&it, &c)) == 0) {
        n++;
        if (c.cname == NULL || c.cname_len == 0) continue;
        if (c.cname < p->body || c.cname + c.cname_len > p->body + p->body_len) abort();
        uint8_t buf[8 + 260];
        pl_rtcp_writer_t w;
        pl_rtcp_packet_t q;
        pl_rtcp_sdes_iter_t it2;
        pl_rtcp_sdes_chunk_t c2;
        pl_rtcp_writer_init(&w, buf, sizeof buf);
        if (pl_rtcp_write_sdes_cname(&w, c.ssrc, (const char *)c.cname, c.cname_len) != 0) abort();
        only_packet(&w, &q);
        if (pl_rtcp_sdes_iter_init(&it2, &q) != 0 || pl_rtcp_sdes_next(&it2, &c2) != 0 ||
            c2.ssrc != c.ssrc || c2.cname_len != c.cname_len ||
            memcmp(c2.cname, c.cname, c.cname_len) != 0 ||
            pl_rtcp_sdes_next(&it2, &c2) != -PL_ENOTFOUND)
            abort();
    }
    if (rc != -PL_ENOTFOUND || n != p->count) abort();
}

static void check_bye(const pl_rtcp_packet_t *p)
{
    pl_rtcp_bye_t b, back;
    uint32_t ssrcs[PL_RTCP_MAX_COUNT];
    pl_rtcp_packet_t q;

    if (pl_rtcp_bye_parse(p, &b) != 0 || b.count != p->count) abort();
    for (size_t i = 0; i < b.count; i++)
        ssrcs[i] = pl_rtcp_bye_ssrc(&b, i);
    if (pl_rtcp_bye_ssrc(&b, b.count) != 0) abort();
    if (b.reason != NULL && b.reason + b.reason_len > p->body + p->body_len) abort();

    uint8_t buf[4 + 4 * PL_RTCP_MAX_COUNT + 256];
    pl_rtcp_writer_t w;
    pl_rtcp_writer_init(&w, buf, sizeof buf);
    int rc = pl_rtcp_write_bye(&w, ssrcs, b.count, (const char *)b.reason, b.reason_len);
    if (b.count == 0) {
        if (rc != -PL_EINVAL) abort();
        return;
    }
    if (rc != 0) abort();
    only_packet(&w, &q);
    if (pl_rtcp_bye_parse(&q, &back) != 0 || back.count != b.count ||
        back.reason_len != b.reason_len ||
        (b.reason_len > 0 && memcmp(back.reason, b.reason, b.reason_len) != 0))
        abort();
    for (size_t i = 0; i < b.count; i++)
        if (pl_rtcp_bye_ssrc(&back, i) != ssrcs[i]) abort();
}

/* Every seq named by a NACK, as a set, must survive pl_rtcp_write_nack. */
static void check_nack(const pl_rtcp_fb_t *fb)
{
    pl_rtcp_nack_iter_t it;
    uint16_t seq;
    size_t max = fb->fci_len / 4 * 17, n = 0;
    uint16_t *seqs = (uint16_t *)xmalloc(max * sizeof *seqs);
    uint8_t *want = xmalloc(8192), *got = xmalloc(8192);

    memset(want, 0, 8192);
    memset(got, 0, 8192);
    if (pl_rtcp_nack_iter_init(&it, fb) != 0) abort();
    while (pl_rtcp_nack_next(&it, &seq) == 0) {
        if (n >= max) abort();
        seqs[n++] = seq;
        want[seq >> 3] |= (uint8_t)(1u << (seq & 7));
    }
    if (n == 0) abort(); /* every entry names at least its PID */

    /* At worst one entry per seq. */
    size_t cap = 12 + 4 * n;
    uint8_t *buf = xmalloc(cap);
    pl_rtcp_writer_t w;
    pl_rtcp_packet_t q;
    pl_rtcp_fb_t back;
    pl_rtcp_writer_init(&w, buf, cap);
    if (pl_rtcp_write_nack(&w, fb->sender_ssrc, fb->media_ssrc, seqs, n) != 0) abort();
    only_packet(&w, &q);
    if (pl_rtcp_fb_parse(&q, &back) != 0 || back.sender_ssrc != fb->sender_ssrc ||
        back.media_ssrc != fb->media_ssrc || pl_rtcp_nack_iter_init(&it, &back) != 0)
        abort();
    while (pl_rtcp_nack_next(&it, &seq) == 0)
        got[seq >> 3] |= (uint8_t)(1u << (seq & 7));
    if (memcmp(want, got, 8192) != 0) abort();
    free(buf);
    free(got);
    free(want);
    free(seqs);
}

static void check_fir(const pl_rtcp_fb_t *fb)
{
    size_t n = pl_rtcp_fir_count(fb);
    pl_rtcp_fir_entry_t *e = (pl_rtcp_fir_entry_t *)xmalloc(n * sizeof *e), x;

    if (n == 0) abort(); /* fb_parse refuses an empty FIR */
    for (size_t i = 0; i < n; i++)
        if (pl_rtcp_fir_entry(fb, i, &e[i]) != 0) abort();
    if (pl_rtcp_fir_entry(fb, n, &x) != -PL_EINVAL) abort();

    size_t cap = 12 + 8 * n;
    uint8_t *buf = xmalloc(cap);
    pl_rtcp_writer_t w;
    pl_rtcp_packet_t q;
    pl_rtcp_fb_t back;
    pl_rtcp_writer_init(&w, buf, cap);
    if (pl_rtcp_write_fir(&w, fb->sender_ssrc, e, n) != 0) abort();
    only_packet(&w, &q);
    if (pl_rtcp_fb_parse(&q, &back) != 0 || pl_rtcp_fir_count(&back) != n) abort();
    for (size_t i = 0; i < n; i++)
        if (pl_rtcp_fir_entry(&back, i, &x) != 0 || x.ssrc != e[i].ssrc || x.seq_nr != e[i].seq_nr)
            abort();
    free(buf);
    free(e);
}

static void check_remb(const pl_rtcp_fb_t *fb)
{
    pl_rtcp_remb_t r, back;
    int rc = pl_rtcp_remb_parse(fb, &r);
    if (rc == -PL_ENOTFOUND) return; /* another AFB application */
    if (rc != 0) abort();
    uint32_t ssrcs[255];
    for (size_t i = 0; i < r.ssrc_count; i++)
        ssrcs[i] = pl_rtcp_remb_ssrc(&r, i);
    if (pl_rtcp_remb_ssrc(&r, r.ssrc_count) != 0) abort();

    size_t cap = 20 + 4u * r.ssrc_count;
    uint8_t *buf = xmalloc(cap);
    pl_rtcp_writer_t w;
    pl_rtcp_packet_t q;
    pl_rtcp_fb_t fb2;
    pl_rtcp_writer_init(&w, buf, cap);
    if (pl_rtcp_write_remb(&w, fb->sender_ssrc, r.bitrate, ssrcs, r.ssrc_count) != 0) abort();
    only_packet(&w, &q);
    /* A parsed bitrate has an 18-bit mantissa already, so writing it loses nothing. */
    if (pl_rtcp_fb_parse(&q, &fb2) != 0 || pl_rtcp_remb_parse(&fb2, &back) != 0 ||
        back.bitrate != r.bitrate || back.ssrc_count != r.ssrc_count)
        abort();
    for (size_t i = 0; i < r.ssrc_count; i++)
        if (pl_rtcp_remb_ssrc(&back, i) != ssrcs[i]) abort();
    free(buf);
}

static void check_tcc(const pl_rtcp_fb_t *fb)
{
    pl_rtcp_tcc_t t;
    pl_rtcp_tcc_iter_t it;
    pl_rtcp_tcc_packet_t x;
    size_t n = 0, received = 0;

    if (pl_rtcp_tcc_parse(fb, &t) != 0) abort();
    if (t.chunks + t.chunks_len > fb->fci + fb->fci_len ||
        t.deltas + t.deltas_len > fb->fci + fb->fci_len)
        abort();
    pl_rtcp_tcc_iter_init(&it, &t);
    while (pl_rtcp_tcc_next(&it, &x) == 0) {
        if (x.seq != (uint16_t)(t.base_seq + n) || x.status > PL_RTCP_TCC_LARGE_DELTA) abort();
        if (x.status == PL_RTCP_TCC_NOT_RECEIVED && x.delta_us != 0) abort();
        if (x.status == PL_RTCP_TCC_SMALL_DELTA && (x.delta_us < 0 || x.delta_us > 255 * 250))
            abort();
        received += x.status != PL_RTCP_TCC_NOT_RECEIVED;
        n++;
    }
    /* The parser checked every chunk and delta, so the iterator yields every packet. */
    if (n != t.status_count || received > t.deltas_len) abort();
}

static void check_fb(const pl_rtcp_packet_t *p)
{
    pl_rtcp_fb_t fb;

    if (pl_rtcp_fb_parse(p, &fb) != 0) abort();
    if (fb.fci + fb.fci_len > p->body + p->body_len) abort();
    if (fb.pt == PL_RTCP_RTPFB && fb.fmt == PL_RTCP_FMT_NACK) check_nack(&fb);
    if (fb.pt == PL_RTCP_RTPFB && fb.fmt == PL_RTCP_FMT_TCC) check_tcc(&fb);
    if (fb.pt == PL_RTCP_PSFB && fb.fmt == PL_RTCP_FMT_FIR) check_fir(&fb);
    if (fb.pt == PL_RTCP_PSFB && fb.fmt == PL_RTCP_FMT_AFB) check_remb(&fb);
    if (fb.pt == PL_RTCP_PSFB && fb.fmt == PL_RTCP_FMT_PLI) {
        uint8_t buf[12];
        pl_rtcp_writer_t w;
        pl_rtcp_packet_t q;
        pl_rtcp_fb_t back;
        pl_rtcp_writer_init(&w, buf, sizeof buf);
        if (pl_rtcp_write_pli(&w, fb.sender_ssrc, fb.media_ssrc) != 0) abort();
        only_packet(&w, &q);
        if (pl_rtcp_fb_parse(&q, &back) != 0 || back.sender_ssrc != fb.sender_ssrc ||
            back.media_ssrc != fb.media_ssrc || back.fci_len != 0)
            abort();
    }
    /* The typed parsers refuse feedback that is not theirs. */
    pl_rtcp_tcc_t t;
    pl_rtcp_nack_iter_t ni;
    if (!(fb.pt == PL_RTCP_RTPFB && fb.fmt == PL_RTCP_FMT_TCC) && pl_rtcp_tcc_parse(&fb, &t) == 0)
        abort();
    if (!(fb.pt == PL_RTCP_RTPFB && fb.fmt == PL_RTCP_FMT_NACK) &&
        pl_rtcp_nack_iter_init(&ni, &fb) == 0)
        abort();
}

/* Relays the compound as the SFU does: rewrite every SSRC it may, on an exact-size copy, which
 * must then still validate and read back the new values. */
static void rewrite(const uint8_t *data, size_t size)
{
    uint8_t *b = xmalloc(size);
    pl_rtcp_iter_t it;
    pl_rtcp_packet_t p;
    uint32_t tag = 0x5A000000u;

    memcpy(b, data, size);
    if (pl_rtcp_iter_init(&it, data, size) != 0) abort();
    while (pl_rtcp_iter_next(&it, &p) == 0) {
        tag++;
        int rc = pl_rtcp_set_sender_ssrc(&p, b, tag);
        if ((p.pt == PL_RTCP_SDES || p.pt == PL_RTCP_BYE) && rc != -PL_EINVAL) abort();
        (void)pl_rtcp_fb_set_media_ssrc(&p, b, tag ^ 0xFFu);
        for (size_t i = 0;; i++)
            if (pl_rtcp_fir_set_ssrc(&p, b, i, tag + (uint32_t)i) != 0) break;
    }
    if (pl_rtcp_iter_init(&it, b, size) != 0) abort();
    tag = 0x5A000000u;
    while (pl_rtcp_iter_next(&it, &p) == 0) {
        pl_rtcp_fb_t fb;
        pl_rtcp_report_t r;
        tag++;
        if (pl_rtcp_report_parse(&p, &r) == 0 && r.info.ssrc != tag) abort();
        if (pl_rtcp_fb_parse(&p, &fb) == 0) {
            if (fb.sender_ssrc != tag) abort();
            bool fir = fb.pt == PL_RTCP_PSFB && fb.fmt == PL_RTCP_FMT_FIR;
            if (!fir && fb.media_ssrc != (tag ^ 0xFFu)) abort();
            pl_rtcp_fir_entry_t e;
            for (size_t i = 0; i < pl_rtcp_fir_count(&fb); i++)
                if (pl_rtcp_fir_entry(&fb, i, &e) != 0 || e.ssrc != tag + (uint32_t)i) abort();
        }
    }
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pl_rtcp_iter_t it;
    pl_rtcp_packet_t p;
    size_t end = 0;

    if (pl_rtcp_iter_init(&it, data, size) != 0) {
        /* A refused compound yields nothing. */
        if (pl_rtcp_iter_next(&it, &p) != -PL_ENOTFOUND) abort();
        return 0;
    }
    while (pl_rtcp_iter_next(&it, &p) == 0) {
        if (p.off != end || p.data != data + end || p.len < 4 || p.body != p.data + 4 ||
            p.body_len > p.len - 4)
            abort();
        end += p.len;
        switch (p.pt) {
        case PL_RTCP_SR:
        case PL_RTCP_RR:
            check_report(&p);
            break;
        case PL_RTCP_SDES:
            check_sdes(&p);
            break;
        case PL_RTCP_BYE:
            check_bye(&p);
            break;
        case PL_RTCP_RTPFB:
        case PL_RTCP_PSFB:
            check_fb(&p);
            break;
        default: {
            pl_rtcp_report_t r;
            pl_rtcp_bye_t b;
            pl_rtcp_fb_t fb;
            if (pl_rtcp_report_parse(&p, &r) == 0 || pl_rtcp_bye_parse(&p, &b) == 0 ||
                pl_rtcp_fb_parse(&p, &fb) == 0)
                abort();
        }
        }
    }
    if (end != size) abort();
    rewrite(data, size);
    return 0;
}
