/* RTCP compound validation, typed views, writers and feedback rewriters (see rtcp.h).
 *
 * pl_rtcp_iter_init runs every typed parser over the compound before the first sub-packet is
 * handed out, so the typed parsers are the single definition of "well formed" and iteration
 * itself cannot fail half way. Padding is accepted on any sub-packet, not only the last as RFC
 * 3550 section 6.4.1 asks: libwebrtc pads transport-cc packets itself and may bundle them, and
 * padding that stays inside its own length field is harmless to us. */
#include "media/rtcp.h"

#include <string.h>

#include "core/err.h"
#include "media/wire.h"


#define SENDER_INFO_LEN 20
#define RB_LEN 24
#define FB_HEADER_LEN 8 /* sender SSRC + media SSRC */
#define FIR_ENTRY_LEN 8
#define MAX_PACKET_LEN (4u * 65536u) /* what a 16-bit length field in words can describe */

/* ---- framing and validation ---- */

/* Frames the sub-packet at off without looking inside it. */
static int frame_at(const uint8_t *buf, size_t len, size_t off, pl_rtcp_packet_t *out)
{
    size_t left = len - off;
    if (left < 4) return -PL_EINVAL;
    const uint8_t *d = buf + off;
    if (d[0] >> 6 != 2 || d[1] < 192 || d[1] > 223) return -PL_EINVAL;
    size_t size = ((size_t)rd16(d + 2) + 1) * 4;
    if (size > left) return -PL_EINVAL;
    size_t pad = 0;
    if (d[0] & 0x20) {
        /* The count includes itself and may not eat into the 4-byte header. */
        pad = d[size - 1];
        if (pad == 0 || pad > size - 4) return -PL_EINVAL;
    }
    *out = (pl_rtcp_packet_t){
        .pt = d[1],
        .count = d[0] & 0x1F,
        .padding = pad > 0,
        .off = off,
        .data = d,
        .len = size,
        .body = d + 4,
        .body_len = size - 4 - pad,
    };
    return 0;
}

static int check_sdes(const pl_rtcp_packet_t *p)
{
    pl_rtcp_sdes_iter_t it;
    pl_rtcp_sdes_chunk_t c;
    int rc;

    pl_rtcp_sdes_iter_init(&it, p);
    do
        rc = pl_rtcp_sdes_next(&it, &c);
    while (rc == 0);
    if (rc != -PL_ENOTFOUND) return rc;
    /* Chunks must fill the packet exactly: anything left over is not SDES. */
    return it.off == it.len ? 0 : -PL_EINVAL;
}

static int check_fb(const pl_rtcp_packet_t *p)
{
    pl_rtcp_fb_t fb;
    int rc = pl_rtcp_fb_parse(p, &fb);
    if (rc < 0) return rc;
    if (fb.pt == PL_RTCP_RTPFB && fb.fmt == PL_RTCP_FMT_TCC) {
        pl_rtcp_tcc_t tcc;
        return pl_rtcp_tcc_parse(&fb, &tcc);
    }
    if (fb.pt == PL_RTCP_PSFB && fb.fmt == PL_RTCP_FMT_AFB) {
        pl_rtcp_remb_t remb;
        rc = pl_rtcp_remb_parse(&fb, &remb);
        /* Other AFB applications are opaque to us, and fine. */
        return rc == -PL_ENOTFOUND ? 0 : rc;
    }
    return 0;
}

static int check_contents(const pl_rtcp_packet_t *p)
{
    switch (p->pt) {
    case PL_RTCP_SR:
    case PL_RTCP_RR: {
        pl_rtcp_report_t r;
        return pl_rtcp_report_parse(p, &r);
    }
    case PL_RTCP_SDES:
        return check_sdes(p);
    case PL_RTCP_BYE: {
        pl_rtcp_bye_t b;
        return pl_rtcp_bye_parse(p, &b);
    }
    case PL_RTCP_RTPFB:
    case PL_RTCP_PSFB:
        return check_fb(p);
    default:
        /* APP, XR and the rest: we relay or ignore them, so framing is all we need. */
        return 0;
    }
}

int pl_rtcp_iter_init(pl_rtcp_iter_t *it, const uint8_t *buf, size_t len)
{
    if (it == NULL) return -PL_EINVAL;
    *it = (pl_rtcp_iter_t){0};
    /* Every RTCP packet is a whole number of words, so a ragged tail is garbage. */
    if (buf == NULL || len == 0 || len % 4 != 0) return -PL_EINVAL;
    size_t off = 0;
    while (off < len) {
        pl_rtcp_packet_t p;
        int rc = frame_at(buf, len, off, &p);
        if (rc == 0) rc = check_contents(&p);
        if (rc < 0) return -PL_EINVAL;
        off += p.len;
    }
    *it = (pl_rtcp_iter_t){.buf = buf, .len = len, .off = 0};
    return 0;
}

int pl_rtcp_iter_next(pl_rtcp_iter_t *it, pl_rtcp_packet_t *out)
{
    if (it == NULL || out == NULL || it->buf == NULL || it->off >= it->len) return -PL_ENOTFOUND;
    if (frame_at(it->buf, it->len, it->off, out) < 0) {
        it->off = it->len;
        return -PL_ENOTFOUND;
    }
    it->off += out->len;
    return 0;
}

/* ---- SR and RR ---- */

int pl_rtcp_report_parse(const pl_rtcp_packet_t *p, pl_rtcp_report_t *out)
{
    if (p == NULL || out == NULL || (p->pt != PL_RTCP_SR && p->pt != PL_RTCP_RR)) return -PL_EINVAL;
    bool sr = p->pt == PL_RTCP_SR;
    size_t fixed = 4 + (sr ? SENDER_INFO_LEN : 0);
    if (p->body_len < fixed + (size_t)p->count * RB_LEN) return -PL_EINVAL;

    const uint8_t *b = p->body;
    *out = (pl_rtcp_report_t){.is_sr = sr, .rb_count = p->count, .rb = b + fixed};
    out->info.ssrc = rd32(b);
    if (sr) {
        out->info.ntp = (uint64_t)rd32(b + 4) << 32 | rd32(b + 8);
        out->info.rtp_ts = rd32(b + 12);
        out->info.packet_count = rd32(b + 16);
        out->info.octet_count = rd32(b + 20);
    }
    return 0;
}

int pl_rtcp_report_block(const pl_rtcp_report_t *r, size_t i, pl_rtcp_rb_t *out)
{
    if (r == NULL || out == NULL || i >= r->rb_count) return -PL_EINVAL;
    const uint8_t *b = r->rb + i * RB_LEN;
    uint32_t lost = rd24(b + 5);
    /* Sign-extend the 24-bit count: it goes negative when duplicates outnumber losses. */
    int32_t cl = (lost & 0x800000u) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
    *out = (pl_rtcp_rb_t){
        .ssrc = rd32(b),
        .fraction_lost = b[4],
        .cumulative_lost = cl,
        .ext_highest_seq = rd32(b + 8),
        .jitter = rd32(b + 12),
        .lsr = rd32(b + 16),
        .dlsr = rd32(b + 20),
    };
    return 0;
}

/* ---- SDES ---- */

int pl_rtcp_sdes_iter_init(pl_rtcp_sdes_iter_t *it, const pl_rtcp_packet_t *p)
{
    if (it == NULL) return -PL_EINVAL;
    *it = (pl_rtcp_sdes_iter_t){0};
    if (p == NULL || p->pt != PL_RTCP_SDES) return -PL_EINVAL;
    *it = (pl_rtcp_sdes_iter_t){.body = p->body, .len = p->body_len, .left = p->count};
    return 0;
}

int pl_rtcp_sdes_next(pl_rtcp_sdes_iter_t *it, pl_rtcp_sdes_chunk_t *out)
{
    if (it == NULL || out == NULL || it->left == 0 || it->body == NULL) return -PL_ENOTFOUND;
    const uint8_t *b = it->body;
    size_t at = it->off;
    if (at > it->len || it->len - at < 4) return -PL_EINVAL;
    *out = (pl_rtcp_sdes_chunk_t){.ssrc = rd32(b + at)};
    at += 4;
    /* Items until a zero type byte; the first CNAME wins. */
    for (;;) {
        if (at >= it->len) return -PL_EINVAL;
        if (b[at] == 0) break;
        if (it->len - at < 2) return -PL_EINVAL;
        size_t n = b[at + 1];
        if (n > it->len - at - 2) return -PL_EINVAL;
        if (b[at] == PL_RTCP_SDES_CNAME && out->cname == NULL) {
            out->cname = b + at + 2;
            out->cname_len = (uint8_t)n;
        }
        at += 2 + n;
    }
    /* The terminating null octet, then null padding to the next word (chunks start aligned). */
    size_t end = (at + 4) & ~(size_t)3;
    if (end > it->len) return -PL_EINVAL;
    it->off = end;
    it->left--;
    return 0;
}

/* ---- BYE ---- */

int pl_rtcp_bye_parse(const pl_rtcp_packet_t *p, pl_rtcp_bye_t *out)
{
    if (p == NULL || out == NULL || p->pt != PL_RTCP_BYE) return -PL_EINVAL;
    size_t n = 4u * p->count;
    if (p->body_len < n) return -PL_EINVAL;
    *out = (pl_rtcp_bye_t){.count = p->count, .ssrcs = p->body};
    if (p->body_len > n) {
        size_t rlen = p->body[n];
        if (rlen > p->body_len - n - 1) return -PL_EINVAL;
        if (rlen > 0) {
            out->reason = p->body + n + 1;
            out->reason_len = (uint8_t)rlen;
        }
    }
    return 0;
}

uint32_t pl_rtcp_bye_ssrc(const pl_rtcp_bye_t *b, size_t i)
{
    if (b == NULL || i >= b->count) return 0;
    return rd32(b->ssrcs + 4 * i);
}

/* ---- feedback ---- */

static bool is_fb(uint8_t pt)
{
    return pt == PL_RTCP_RTPFB || pt == PL_RTCP_PSFB;
}

static bool is_fir(uint8_t pt, uint8_t fmt)
{
    return pt == PL_RTCP_PSFB && fmt == PL_RTCP_FMT_FIR;
}

static bool is_nack(uint8_t pt, uint8_t fmt)
{
    return pt == PL_RTCP_RTPFB && fmt == PL_RTCP_FMT_NACK;
}

int pl_rtcp_fb_parse(const pl_rtcp_packet_t *p, pl_rtcp_fb_t *out)
{
    if (p == NULL || out == NULL || !is_fb(p->pt) || p->body_len < FB_HEADER_LEN) return -PL_EINVAL;
    *out = (pl_rtcp_fb_t){
        .pt = p->pt,
        .fmt = p->count,
        .sender_ssrc = rd32(p->body),
        .media_ssrc = rd32(p->body + 4),
        .fci = p->body + FB_HEADER_LEN,
        .fci_len = p->body_len - FB_HEADER_LEN,
    };
    if (is_nack(out->pt, out->fmt) && (out->fci_len == 0 || out->fci_len % 4 != 0))
        return -PL_EINVAL;
    if (is_fir(out->pt, out->fmt) && (out->fci_len == 0 || out->fci_len % FIR_ENTRY_LEN != 0))
        return -PL_EINVAL;
    return 0;
}

int pl_rtcp_nack_iter_init(pl_rtcp_nack_iter_t *it, const pl_rtcp_fb_t *fb)
{
    if (it == NULL) return -PL_EINVAL;
    *it = (pl_rtcp_nack_iter_t){0};
    if (fb == NULL || !is_nack(fb->pt, fb->fmt)) return -PL_EINVAL;
    /* A partial trailing entry is never read. */
    *it = (pl_rtcp_nack_iter_t){.fci = fb->fci, .len = fb->fci_len & ~(size_t)3};
    return 0;
}

int pl_rtcp_nack_next(pl_rtcp_nack_iter_t *it, uint16_t *seq)
{
    if (it == NULL || seq == NULL || it->fci == NULL) return -PL_ENOTFOUND;
    while (it->off < it->len) {
        const uint8_t *e = it->fci + it->off;
        uint16_t pid = rd16(e);
        uint16_t blp = rd16(e + 2);
        uint8_t bit = it->bit;
        if (bit == 16) {
            it->off += 4;
            it->bit = 0;
        } else {
            it->bit++;
        }
        if (bit == 0) {
            *seq = pid;
            return 0;
        }
        if (blp & (1u << (bit - 1))) {
            *seq = (uint16_t)(pid + bit);
            return 0;
        }
    }
    return -PL_ENOTFOUND;
}

size_t pl_rtcp_fir_count(const pl_rtcp_fb_t *fb)
{
    if (fb == NULL || !is_fir(fb->pt, fb->fmt)) return 0;
    return fb->fci_len / FIR_ENTRY_LEN;
}

int pl_rtcp_fir_entry(const pl_rtcp_fb_t *fb, size_t i, pl_rtcp_fir_entry_t *out)
{
    if (out == NULL || i >= pl_rtcp_fir_count(fb)) return -PL_EINVAL;
    const uint8_t *e = fb->fci + i * FIR_ENTRY_LEN;
    *out = (pl_rtcp_fir_entry_t){.ssrc = rd32(e), .seq_nr = e[4]};
    return 0;
}

int pl_rtcp_remb_parse(const pl_rtcp_fb_t *fb, pl_rtcp_remb_t *out)
{
    if (fb == NULL || out == NULL || fb->pt != PL_RTCP_PSFB || fb->fmt != PL_RTCP_FMT_AFB)
        return -PL_EINVAL;
    if (fb->fci_len < 4 || memcmp(fb->fci, "REMB", 4) != 0) return -PL_ENOTFOUND;
    if (fb->fci_len < 8) return -PL_EINVAL;
    const uint8_t *f = fb->fci;
    uint8_t n = f[4];
    unsigned exp = f[5] >> 2;
    uint64_t mantissa = (uint64_t)(f[5] & 3) << 16 | rd16(f + 6);
    if ((size_t)n * 4 > fb->fci_len - 8) return -PL_EINVAL;
    /* An 18-bit mantissa shifted by up to 46 always fits; beyond that, check it. */
    if (exp > 46 && (mantissa >> (64 - exp)) != 0) return -PL_EINVAL;
    *out = (pl_rtcp_remb_t){.bitrate = mantissa << exp, .ssrc_count = n, .ssrcs = f + 8};
    return 0;
}

uint32_t pl_rtcp_remb_ssrc(const pl_rtcp_remb_t *r, size_t i)
{
    if (r == NULL || i >= r->ssrc_count) return 0;
    return rd32(r->ssrcs + 4 * i);
}

/* ---- transport-cc ---- */

/* How many statuses chunk c holds, and the i-th of them (i below that count). A run-length
 * chunk is T=0, S(2), run(13); a vector chunk is T=1 then S=0 with 14 one-bit symbols or S=1
 * with 7 two-bit symbols. */
static unsigned chunk_capacity(uint16_t c)
{
    if (!(c & 0x8000)) return c & 0x1FFF;
    return (c & 0x4000) ? 7 : 14;
}

static uint8_t chunk_symbol(uint16_t c, unsigned i)
{
    if (!(c & 0x8000)) return (uint8_t)((c >> 13) & 3);
    if (c & 0x4000) return (uint8_t)((c >> (12 - 2 * i)) & 3);
    return (uint8_t)((c >> (13 - i)) & 1);
}

int pl_rtcp_tcc_parse(const pl_rtcp_fb_t *fb, pl_rtcp_tcc_t *out)
{
    if (fb == NULL || out == NULL || fb->pt != PL_RTCP_RTPFB || fb->fmt != PL_RTCP_FMT_TCC)
        return -PL_EINVAL;
    if (fb->fci_len < 8) return -PL_EINVAL;
    const uint8_t *f = fb->fci;
    pl_rtcp_tcc_t t = {
        .base_seq = rd16(f),
        .status_count = rd16(f + 2),
        .reference_time = rd24(f + 4),
        .fb_count = f[7],
        .chunks = f + 8,
    };
    /* Walk the chunks to learn where the deltas start and how many bytes they take. Symbols in
     * the last chunk beyond status_count are unused and not checked. */
    size_t off = 8, delta_bytes = 0;
    unsigned remaining = t.status_count;
    while (remaining > 0) {
        if (fb->fci_len - off < 2) return -PL_EINVAL;
        uint16_t c = rd16(f + off);
        off += 2;
        unsigned cap = chunk_capacity(c);
        unsigned take = cap < remaining ? cap : remaining;
        for (unsigned i = 0; i < take; i++) {
            uint8_t s = chunk_symbol(c, i);
            if (s == 3) return -PL_EINVAL; /* reserved */
            delta_bytes += s;              /* a small delta is 1 byte, a large one 2 */
            /* A run-length chunk repeats one symbol: account for the rest at once. */
            if (!(c & 0x8000)) {
                delta_bytes += (size_t)s * (take - 1);
                break;
            }
        }
        remaining -= take;
    }
    t.chunks_len = off - 8;
    if (delta_bytes > fb->fci_len - off) return -PL_EINVAL;
    /* Up to 3 zero bytes may pad the deltas out to a word. */
    if (fb->fci_len - off - delta_bytes > 3) return -PL_EINVAL;
    t.deltas = f + off;
    t.deltas_len = delta_bytes;
    *out = t;
    return 0;
}

void pl_rtcp_tcc_iter_init(pl_rtcp_tcc_iter_t *it, const pl_rtcp_tcc_t *tcc)
{
    if (it == NULL) return;
    *it = (pl_rtcp_tcc_iter_t){0};
    if (tcc != NULL) it->tcc = *tcc;
}

int pl_rtcp_tcc_next(pl_rtcp_tcc_iter_t *it, pl_rtcp_tcc_packet_t *out)
{
    if (it == NULL || out == NULL || it->done >= it->tcc.status_count) return -PL_ENOTFOUND;
    const pl_rtcp_tcc_t *t = &it->tcc;
    uint16_t c;
    for (;;) {
        if (t->chunks == NULL || it->chunk_off + 2 > t->chunks_len) return -PL_ENOTFOUND;
        c = rd16(t->chunks + it->chunk_off);
        if (it->in_chunk < chunk_capacity(c)) break;
        it->chunk_off += 2;
        it->in_chunk = 0;
    }
    uint8_t s = chunk_symbol(c, it->in_chunk);
    int32_t delta = 0;
    if (s == PL_RTCP_TCC_SMALL_DELTA) {
        if (it->delta_off + 1 > t->deltas_len) return -PL_ENOTFOUND;
        delta = t->deltas[it->delta_off] * 250;
        it->delta_off += 1;
    } else if (s == PL_RTCP_TCC_LARGE_DELTA) {
        if (it->delta_off + 2 > t->deltas_len) return -PL_ENOTFOUND;
        delta = (int16_t)rd16(t->deltas + it->delta_off) * 250;
        it->delta_off += 2;
    } else if (s != PL_RTCP_TCC_NOT_RECEIVED) {
        return -PL_ENOTFOUND;
    }
    *out = (pl_rtcp_tcc_packet_t){
        .seq = (uint16_t)(t->base_seq + it->done), .status = s, .delta_us = delta};
    it->in_chunk++;
    it->done++;
    return 0;
}

/* ---- writers ---- */

void pl_rtcp_writer_init(pl_rtcp_writer_t *w, uint8_t *buf, size_t cap)
{
    if (w != NULL) *w = (pl_rtcp_writer_t){.buf = buf, .cap = buf != NULL ? cap : 0, .len = 0};
}

/* Room for size more bytes, or NULL. */
static uint8_t *reserve(const pl_rtcp_writer_t *w, size_t size)
{
    if (w->buf == NULL || w->len > w->cap || size > w->cap - w->len) return NULL;
    return w->buf + w->len;
}

static void put_header(uint8_t *p, uint8_t count, uint8_t pt, size_t size)
{
    p[0] = (uint8_t)(0x80 | count);
    p[1] = pt;
    wr16(p + 2, (uint16_t)(size / 4 - 1));
}

static void put_rb(uint8_t *p, const pl_rtcp_rb_t *rb)
{
    int32_t cl = rb->cumulative_lost;
    if (cl > 0x7FFFFF) cl = 0x7FFFFF;
    if (cl < -0x800000) cl = -0x800000;
    wr32(p, rb->ssrc);
    p[4] = rb->fraction_lost;
    wr24(p + 5, (uint32_t)cl & 0xFFFFFFu);
    wr32(p + 8, rb->ext_highest_seq);
    wr32(p + 12, rb->jitter);
    wr32(p + 16, rb->lsr);
    wr32(p + 20, rb->dlsr);
}

static int write_report(pl_rtcp_writer_t *w, const pl_rtcp_sender_info_t *info, uint32_t ssrc,
                        const pl_rtcp_rb_t *rb, size_t n)
{
    if (w == NULL || n > PL_RTCP_MAX_COUNT || (n > 0 && rb == NULL)) return -PL_EINVAL;
    size_t fixed = 8 + (info != NULL ? SENDER_INFO_LEN : 0);
    size_t size = fixed + n * RB_LEN;
    uint8_t *p = reserve(w, size);
    if (p == NULL) return -PL_ETOOBIG;
    put_header(p, (uint8_t)n, info != NULL ? PL_RTCP_SR : PL_RTCP_RR, size);
    wr32(p + 4, ssrc);
    if (info != NULL) {
        wr32(p + 8, (uint32_t)(info->ntp >> 32));
        wr32(p + 12, (uint32_t)info->ntp);
        wr32(p + 16, info->rtp_ts);
        wr32(p + 20, info->packet_count);
        wr32(p + 24, info->octet_count);
    }
    for (size_t i = 0; i < n; i++)
        put_rb(p + fixed + i * RB_LEN, &rb[i]);
    w->len += size;
    return 0;
}

int pl_rtcp_write_sr(pl_rtcp_writer_t *w, const pl_rtcp_sender_info_t *info, const pl_rtcp_rb_t *rb,
                     size_t n)
{
    if (info == NULL) return -PL_EINVAL;
    return write_report(w, info, info->ssrc, rb, n);
}

int pl_rtcp_write_rr(pl_rtcp_writer_t *w, uint32_t ssrc, const pl_rtcp_rb_t *rb, size_t n)
{
    return write_report(w, NULL, ssrc, rb, n);
}

int pl_rtcp_write_sdes_cname(pl_rtcp_writer_t *w, uint32_t ssrc, const char *cname, size_t len)
{
    if (w == NULL || cname == NULL || len == 0 || len > 255) return -PL_EINVAL;
    /* Item (type, length, text), then 1..4 null octets: the end marker and word padding. */
    size_t items = (2 + len + 4) & ~(size_t)3;
    size_t size = 8 + items;
    uint8_t *p = reserve(w, size);
    if (p == NULL) return -PL_ETOOBIG;
    put_header(p, 1, PL_RTCP_SDES, size);
    wr32(p + 4, ssrc);
    p[8] = PL_RTCP_SDES_CNAME;
    p[9] = (uint8_t)len;
    memcpy(p + 10, cname, len);
    memset(p + 10 + len, 0, size - 10 - len);
    w->len += size;
    return 0;
}

int pl_rtcp_write_bye(pl_rtcp_writer_t *w, const uint32_t *ssrcs, size_t n, const char *reason,
                      size_t reason_len)
{
    if (w == NULL || ssrcs == NULL || n == 0 || n > PL_RTCP_MAX_COUNT) return -PL_EINVAL;
    if (reason != NULL && (reason_len == 0 || reason_len > 255)) return -PL_EINVAL;
    size_t tail = reason != NULL ? (1 + reason_len + 3) & ~(size_t)3 : 0;
    size_t size = 4 + 4 * n + tail;
    uint8_t *p = reserve(w, size);
    if (p == NULL) return -PL_ETOOBIG;
    put_header(p, (uint8_t)n, PL_RTCP_BYE, size);
    for (size_t i = 0; i < n; i++)
        wr32(p + 4 + 4 * i, ssrcs[i]);
    if (reason != NULL) {
        uint8_t *r = p + 4 + 4 * n;
        memset(r, 0, tail);
        r[0] = (uint8_t)reason_len;
        memcpy(r + 1, reason, reason_len);
    }
    w->len += size;
    return 0;
}

/* Writes the common feedback header; the caller has reserved size bytes at p. */
static void put_fb(uint8_t *p, uint8_t fmt, uint8_t pt, size_t size, uint32_t sender,
                   uint32_t media)
{
    put_header(p, fmt, pt, size);
    wr32(p + 4, sender);
    wr32(p + 8, media);
}

int pl_rtcp_write_pli(pl_rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc)
{
    if (w == NULL) return -PL_EINVAL;
    uint8_t *p = reserve(w, 12);
    if (p == NULL) return -PL_ETOOBIG;
    put_fb(p, PL_RTCP_FMT_PLI, PL_RTCP_PSFB, 12, sender_ssrc, media_ssrc);
    w->len += 12;
    return 0;
}

int pl_rtcp_write_fir(pl_rtcp_writer_t *w, uint32_t sender_ssrc, const pl_rtcp_fir_entry_t *e,
                      size_t n)
{
    if (w == NULL || e == NULL || n == 0) return -PL_EINVAL;
    /* Bound n before multiplying so the size cannot wrap. */
    if (n > (MAX_PACKET_LEN - 12) / FIR_ENTRY_LEN) return -PL_ETOOBIG;
    size_t size = 12 + n * FIR_ENTRY_LEN;
    uint8_t *p = reserve(w, size);
    if (p == NULL) return -PL_ETOOBIG;
    /* RFC 5104 4.3.1.2: the media source field is unused, the targets are in the entries. */
    put_fb(p, PL_RTCP_FMT_FIR, PL_RTCP_PSFB, size, sender_ssrc, 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t *f = p + 12 + i * FIR_ENTRY_LEN;
        wr32(f, e[i].ssrc);
        f[4] = e[i].seq_nr;
        f[5] = f[6] = f[7] = 0;
    }
    w->len += size;
    return 0;
}

int pl_rtcp_write_nack(pl_rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                       const uint16_t *seqs, size_t n)
{
    if (w == NULL || seqs == NULL || n == 0) return -PL_EINVAL;
    uint8_t *p = reserve(w, 12);
    if (p == NULL) return -PL_ETOOBIG;
    /* Entries go straight into the buffer; the header, which needs their count, goes last.
     * Running out of room leaves w->len as it was. */
    size_t room = w->cap - w->len;
    size_t size = 12;
    uint16_t pid = 0, blp = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t d = (uint16_t)(seqs[i] - pid);
        if (size > 12 && d == 0) continue;
        if (size > 12 && d <= 16) {
            blp = (uint16_t)(blp | 1u << (d - 1));
            wr16(p + size - 2, blp);
            continue;
        }
        if (room - size < 4 || size + 4 > MAX_PACKET_LEN) return -PL_ETOOBIG;
        pid = seqs[i];
        blp = 0;
        wr16(p + size, pid);
        wr16(p + size + 2, 0);
        size += 4;
    }
    put_fb(p, PL_RTCP_FMT_NACK, PL_RTCP_RTPFB, size, sender_ssrc, media_ssrc);
    w->len += size;
    return 0;
}

int pl_rtcp_write_remb(pl_rtcp_writer_t *w, uint32_t sender_ssrc, uint64_t bitrate,
                       const uint32_t *ssrcs, size_t n)
{
    if (w == NULL || n > 255 || (n > 0 && ssrcs == NULL)) return -PL_EINVAL;
    size_t size = 20 + 4 * n;
    uint8_t *p = reserve(w, size);
    if (p == NULL) return -PL_ETOOBIG;
    unsigned exp = 0;
    while ((bitrate >> exp) > 0x3FFFFu)
        exp++;
    uint32_t mantissa = (uint32_t)(bitrate >> exp);
    /* The draft says the media source field is always 0; targets are in the SSRC list. */
    put_fb(p, PL_RTCP_FMT_AFB, PL_RTCP_PSFB, size, sender_ssrc, 0);
    memcpy(p + 12, "REMB", 4);
    p[16] = (uint8_t)n;
    p[17] = (uint8_t)(exp << 2 | mantissa >> 16);
    wr16(p + 18, (uint16_t)mantissa);
    for (size_t i = 0; i < n; i++)
        wr32(p + 20 + 4 * i, ssrcs[i]);
    w->len += size;
    return 0;
}

/* ---- rewriters ---- */

int pl_rtcp_set_sender_ssrc(const pl_rtcp_packet_t *p, uint8_t *buf, uint32_t ssrc)
{
    if (p == NULL || buf == NULL || p->pt == PL_RTCP_SDES || p->pt == PL_RTCP_BYE ||
        p->body_len < 4)
        return -PL_EINVAL;
    wr32(buf + p->off + 4, ssrc);
    return 0;
}

int pl_rtcp_fb_set_media_ssrc(const pl_rtcp_packet_t *p, uint8_t *buf, uint32_t ssrc)
{
    if (p == NULL || buf == NULL || !is_fb(p->pt) || is_fir(p->pt, p->count) ||
        p->body_len < FB_HEADER_LEN)
        return -PL_EINVAL;
    wr32(buf + p->off + 8, ssrc);
    return 0;
}

int pl_rtcp_fir_set_ssrc(const pl_rtcp_packet_t *p, uint8_t *buf, size_t i, uint32_t ssrc)
{
    if (p == NULL || buf == NULL || !is_fir(p->pt, p->count) || p->body_len < FB_HEADER_LEN ||
        i >= (p->body_len - FB_HEADER_LEN) / FIR_ENTRY_LEN)
        return -PL_EINVAL;
    wr32(buf + p->off + 12 + i * FIR_ENTRY_LEN, ssrc);
    return 0;
}
