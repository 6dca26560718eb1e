/* libFuzzer target for media/rtp.c: the packet parser, the RFC 8285 element walk and readers,
 * the in-place rewriters the forwarder applies to each subscriber's copy, the receive
 * statistics, and the header writer (a parsed packet written again must parse to the same
 * fields and elements).
 *
 * The input is the packet. Rewriters work on exact-size heap copies, so a write past the
 * packet is an ASan report; a rewriter that fails must leave its copy untouched, and a copy
 * that was rewritten must still parse, since the forwarder sends it on. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "media/rtp.h"

#define MAX_EXTS 64

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint8_t *dup_exact(const uint8_t *b, size_t n)
{
    uint8_t *p = malloc(n);
    if (p == NULL) abort();
    memcpy(p, b, n);
    return p;
}

static void must_parse(const uint8_t *b, size_t n, pl_rtp_packet_t *out)
{
    if (pl_rtp_parse(b, n, out) != 0) abort();
}

/* The elements of p, in order; returns how many (at most MAX_EXTS). */
static size_t collect(const pl_rtp_packet_t *p, pl_rtp_ext_t *e)
{
    size_t cur = 0, n = 0;
    pl_rtp_ext_t x;
    while (n < MAX_EXTS && pl_rtp_ext_next(p, &cur, &x) == 0) {
        if (x.id == 0 || x.data < p->data || x.data + x.len > p->data + p->header_len) abort();
        e[n++] = x;
    }
    return n;
}

static void read_extensions(const pl_rtp_packet_t *p)
{
    pl_rtp_ext_t e[MAX_EXTS];
    volatile uint8_t sink = 0;
    size_t n = collect(p, e);

    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < e[i].len; k++)
            sink ^= e[i].data[k];
    for (unsigned id = 1; id <= 14; id++) {
        char mid[17];
        uint32_t ast;
        uint16_t tseq;
        bool voice;
        uint8_t level;
        pl_rtp_ext_t f;
        int rc = pl_rtp_ext_find(p, (uint8_t)id, &f);
        if (rc == 0 && f.id != id) abort();
        if (pl_rtp_ext_get_mid(p, (uint8_t)id, mid, sizeof mid) == 0 && strlen(mid) == 0) abort();
        if (pl_rtp_ext_get_mid(p, (uint8_t)id, mid, 2) == 0 && strlen(mid) != 1) abort();
        if (pl_rtp_ext_get_abs_send_time(p, (uint8_t)id, &ast) == 0 && ast > 0xFFFFFFu) abort();
        (void)pl_rtp_ext_get_transport_seq(p, (uint8_t)id, &tseq);
        if (pl_rtp_ext_get_audio_level(p, (uint8_t)id, &voice, &level) == 0 && level > 127)
            abort();
    }
    (void)sink;
}

/* Header field setters, then a re-parse that must see the new values and nothing else moved. */
static void rewrite_header(const pl_rtp_packet_t *p)
{
    uint8_t *b = dup_exact(p->data, p->len);
    pl_rtp_packet_t q;

    if (pl_rtp_set_ssrc(b, p->len, 0xCAFEBABEu) != 0) abort();
    if (pl_rtp_set_seq(b, p->len, (uint16_t)(p->seq + 1000)) != 0) abort();
    if (pl_rtp_set_timestamp(b, p->len, p->timestamp ^ 0x80000000u) != 0) abort();
    if (pl_rtp_set_pt(b, p->len, (uint8_t)((p->pt + 1) & 0x7F)) != 0) abort();
    if (pl_rtp_set_pt(b, p->len, 128) != -PL_EINVAL) abort();
    if (pl_rtp_set_ssrc(b, PL_RTP_HEADER_LEN - 1, 0) != -PL_EINVAL) abort();
    must_parse(b, p->len, &q);
    if (q.ssrc != 0xCAFEBABEu || q.seq != (uint16_t)(p->seq + 1000) ||
        q.timestamp != (p->timestamp ^ 0x80000000u) || q.pt != ((p->pt + 1) & 0x7F) ||
        q.marker != p->marker || q.header_len != p->header_len || q.payload_len != p->payload_len)
        abort();
    free(b);
}

/* One rewrite of the element list on a fresh copy: on success the copy parses with the same
 * layout, on failure it is byte for byte the original. */
typedef enum { RW_SET_ID, RW_REMAP, RW_TSEQ, RW_AST } rw_kind_t;

static void rewrite_ext_once(const pl_rtp_packet_t *p, rw_kind_t kind, uint8_t a, uint8_t b,
                             const uint8_t *map, bool in_place)
{
    uint8_t *buf = dup_exact(p->data, p->len);
    pl_rtp_packet_t src = *p, q;
    int rc;

    /* In place: the view is of the buffer being written, as when the forwarder rewrites the
     * publisher's own bytes. */
    if (in_place) must_parse(buf, p->len, &src);
    switch (kind) {
    case RW_SET_ID:
        rc = pl_rtp_ext_set_id(&src, buf, a, b);
        break;
    case RW_REMAP:
        rc = pl_rtp_ext_remap(&src, buf, map);
        break;
    case RW_TSEQ:
        rc = pl_rtp_ext_set_transport_seq(&src, buf, a, (uint16_t)(0xBEEF ^ b));
        break;
    default:
        rc = pl_rtp_ext_set_abs_send_time(&src, buf, a, 0xABCDEFu ^ b);
        break;
    }
    if (rc != 0) {
        if (memcmp(buf, p->data, p->len) != 0) abort();
    } else {
        must_parse(buf, p->len, &q);
        if (q.header_len != p->header_len || q.payload_len != p->payload_len) abort();
        if (memcmp(buf + p->header_len, p->data + p->header_len, p->len - p->header_len) != 0)
            abort();
        if (kind == RW_TSEQ) {
            uint16_t v;
            /* An element renamed earlier in the list could shadow it, but no rename ran. */
            if (pl_rtp_ext_get_transport_seq(&q, a, &v) != 0 || v != (uint16_t)(0xBEEF ^ b))
                abort();
        } else if (kind == RW_AST) {
            uint32_t v;
            if (pl_rtp_ext_get_abs_send_time(&q, a, &v) != 0 || v != (0xABCDEFu ^ b)) abort();
        } else if (kind == RW_REMAP) {
            /* Every element survives under its mapped id, in order, or was blanked. */
            pl_rtp_ext_t before[MAX_EXTS], after[MAX_EXTS];
            size_t nb = collect(p, before), na = collect(&q, after), k = 0;
            for (size_t i = 0; i < nb && nb < MAX_EXTS; i++) {
                if (map[before[i].id] == 0) continue;
                if (k >= na || after[k].id != map[before[i].id] || after[k].len != before[i].len ||
                    memcmp(after[k].data, before[i].data, before[i].len) != 0)
                    abort();
                k++;
            }
            if (nb < MAX_EXTS && k != na) abort();
        }
    }
    free(buf);
}

static void rewrite_extensions(const pl_rtp_packet_t *p)
{
    uint8_t map[256];

    for (unsigned id = 1; id <= 14; id++) {
        rewrite_ext_once(p, RW_SET_ID, (uint8_t)id, (uint8_t)(15 - id), NULL, id & 1);
        rewrite_ext_once(p, RW_SET_ID, (uint8_t)id, 15, NULL, false); /* not in the one-byte form */
        rewrite_ext_once(p, RW_SET_ID, (uint8_t)id, (uint8_t)(id + 100), NULL, false);
        rewrite_ext_once(p, RW_TSEQ, (uint8_t)id, (uint8_t)id, NULL, id & 1);
        rewrite_ext_once(p, RW_AST, (uint8_t)id, (uint8_t)id, NULL, !(id & 1));
    }
    /* Maps: identity; swaps of neighbours with every third id blanked, as a subscriber that
     * negotiated other ids and fewer extensions gets; and one into the two-byte range. */
    for (unsigned i = 0; i < 256; i++)
        map[i] = (uint8_t)i;
    rewrite_ext_once(p, RW_REMAP, 0, 0, map, false);
    for (unsigned i = 1; i < 256; i++)
        map[i] = i % 3 == 0 ? 0 : (uint8_t)((i & 1) ? (i + 1 < 256 ? i + 1 : i) : i - 1);
    rewrite_ext_once(p, RW_REMAP, 0, 0, map, false);
    rewrite_ext_once(p, RW_REMAP, 0, 0, map, true);
    for (unsigned i = 1; i < 256; i++)
        map[i] = (uint8_t)(i < 200 ? i + 20 : 0);
    rewrite_ext_once(p, RW_REMAP, 0, 0, map, false);
}

/* Writes the parsed packet again with pl_rtp_write; it must parse back to the same fields. */
static void write_again(const pl_rtp_packet_t *p)
{
    pl_rtp_ext_t e[MAX_EXTS];
    uint32_t csrcs[PL_RTP_MAX_CSRC];
    uint8_t out[PL_RTP_MAX_LEN];
    size_t n = collect(p, e), len = 0;
    pl_rtp_packet_t q;

    if (n == MAX_EXTS) return;
    for (size_t i = 0; i < p->csrc_count; i++)
        csrcs[i] = pl_rtp_csrc(p, i);
    pl_rtp_header_t h = {
        .marker = p->marker,
        .pt = p->pt,
        .seq = p->seq,
        .timestamp = p->timestamp,
        .ssrc = p->ssrc,
        .csrcs = csrcs,
        .csrc_count = p->csrc_count,
        .exts = e,
        .ext_count = n,
        .padding = p->padding_len,
    };
    int rc = pl_rtp_write(&h, p->payload, p->payload_len, out, sizeof out, &len);
    /* Never too big: the elements of an RFC 8285 block are re-encoded in the same form or the
     * smaller one-byte form, and padding inside the block is dropped. */
    if (rc != 0) abort();
    must_parse(out, len, &q);
    if (q.marker != p->marker || q.pt != p->pt || q.seq != p->seq ||
        q.timestamp != p->timestamp || q.ssrc != p->ssrc || q.csrc_count != p->csrc_count ||
        q.padding_len != p->padding_len || q.payload_len != p->payload_len ||
        memcmp(q.payload, p->payload, p->payload_len) != 0)
        abort();
    for (size_t i = 0; i < p->csrc_count; i++)
        if (pl_rtp_csrc(&q, i) != csrcs[i]) abort();
    pl_rtp_ext_t back[MAX_EXTS];
    if (collect(&q, back) != n) abort();
    for (size_t i = 0; i < n; i++)
        if (back[i].id != e[i].id || back[i].len != e[i].len ||
            memcmp(back[i].data, e[i].data, e[i].len) != 0)
            abort();
    /* Too small a buffer is refused. */
    if (pl_rtp_write(&h, p->payload, p->payload_len, out, len - 1, &len) != -PL_ETOOBIG) abort();
}

/* Feeds the payload, read as (seq, timestamp delta) pairs, through the receive statistics. */
static void receive_stats(const pl_rtp_packet_t *p)
{
    pl_rtp_seq_t s;
    pl_rtp_seq_stats_t st;
    uint32_t arrival = p->timestamp;

    pl_rtp_seq_init(&s);
    (void)pl_rtp_seq_update(&s, p->seq);
    pl_rtp_seq_jitter(&s, p->timestamp, arrival);
    for (size_t i = 0; i + 4 <= p->payload_len && i < 4 * 128; i += 4) {
        uint16_t seq = rd16(p->payload + i);
        arrival += rd16(p->payload + i + 2);
        (void)pl_rtp_seq_update(&s, seq);
        pl_rtp_seq_jitter(&s, p->timestamp + (uint32_t)seq * 90u, arrival);
        if ((i / 4) % 16 == 15) pl_rtp_seq_report(&s, &st);
    }
    pl_rtp_seq_report(&s, &st);
    if (st.cumulative_lost > 0x7FFFFF || st.cumulative_lost < -0x800000) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pl_rtp_packet_t p;

    pl_rtp_class_t cls = pl_rtp_classify(data, size);
    if (pl_rtp_parse(data, size, &p) != 0) return 0;
    if (cls == PL_RTP_CLASS_OTHER) abort(); /* a parsed packet has version 2 and 12 bytes */
    if (p.header_len + p.payload_len + p.padding_len != size) abort();
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < p.payload_len; i++)
        sink ^= p.payload[i];
    (void)sink;
    for (size_t i = 0; i <= p.csrc_count; i++)
        (void)pl_rtp_csrc(&p, i);

    read_extensions(&p);
    rewrite_header(&p);
    rewrite_extensions(&p);
    write_again(&p);
    receive_stats(&p);
    return 0;
}
