/* RTP parse, extension access, in-place rewrite, receive statistics and writing (see rtp.h).
 *
 * Every read is bounded by the length the caller gave. The parser checks the whole extension
 * element list once, so the finders and rewriters that walk it later cannot hit a bad element;
 * they still carry their own bounds so that a view and a buffer that disagree cannot overrun. */
#include "media/rtp.h"

#include <string.h>

#include "core/err.h"
#include "media/wire.h"


pl_rtp_class_t pl_rtp_classify(const uint8_t *buf, size_t len)
{
    if (buf == NULL || len < 4 || buf[0] < 128 || buf[0] > 191) return PL_RTP_CLASS_OTHER;
    uint8_t pt = buf[1] & 0x7F;
    if (pt >= 64 && pt <= 95) return PL_RTP_CLASS_RTCP;
    return len >= PL_RTP_HEADER_LEN ? PL_RTP_CLASS_RTP : PL_RTP_CLASS_OTHER;
}

/* ---- extension element walking ---- */

typedef enum { EXT_NONE, EXT_ONE, EXT_TWO } ext_form_t;

static ext_form_t ext_form(uint16_t profile)
{
    if (profile == PL_RTP_EXT_ONE_BYTE) return EXT_ONE;
    if ((profile & 0xFFF0u) == PL_RTP_EXT_TWO_BYTE) return EXT_TWO;
    return EXT_NONE;
}

/* One element found by ext_walk: hdr is the offset of its first header byte in the packet. */
typedef struct {
    size_t hdr;
    uint8_t id;
    uint8_t len;
} elem_t;

/* Reads the element at or after *pos (an offset into p, below end). Returns 1 with e filled and
 * *pos past it, 0 at the end of the list, or -PL_EINVAL when an element overruns end. */
static int ext_walk(const uint8_t *p, size_t end, ext_form_t form, size_t *pos, elem_t *e)
{
    while (*pos < end) {
        size_t at = *pos;
        uint8_t b = p[at];
        if (form == EXT_ONE) {
            /* A zero id is padding whatever its length nibble: it covers just this byte. */
            if ((b >> 4) == 0) {
                (*pos)++;
                continue;
            }
            if ((b >> 4) == 15) {
                *pos = end;
                return 0;
            }
            size_t n = (size_t)(b & 0x0F) + 1;
            if (n > end - at - 1) return -PL_EINVAL;
            *e = (elem_t){.hdr = at, .id = (uint8_t)(b >> 4), .len = (uint8_t)n};
            *pos = at + 1 + n;
            return 1;
        }
        if (b == 0) {
            (*pos)++;
            continue;
        }
        if (end - at < 2) return -PL_EINVAL;
        size_t n = p[at + 1];
        if (n > end - at - 2) return -PL_EINVAL;
        *e = (elem_t){.hdr = at, .id = b, .len = (uint8_t)n};
        *pos = at + 2 + n;
        return 1;
    }
    return 0;
}

static size_t elem_data(ext_form_t form, const elem_t *e)
{
    return e->hdr + (form == EXT_ONE ? 1 : 2);
}

/* Walks the whole element list in [start, end) once, so later walks cannot fail. */
static int ext_check(const uint8_t *p, size_t start, size_t end, ext_form_t form)
{
    size_t pos = start;
    elem_t e;
    int rc = 1;

    if (form == EXT_NONE) return 0;
    while (rc > 0)
        rc = ext_walk(p, end, form, &pos, &e);
    return rc;
}

static int parse_fail(pl_rtp_packet_t *out)
{
    memset(out, 0, sizeof *out);
    return -PL_EINVAL;
}

int pl_rtp_parse(const uint8_t *buf, size_t len, pl_rtp_packet_t *out)
{
    if (out == NULL) return -PL_EINVAL;
    if (buf == NULL || len < PL_RTP_HEADER_LEN || len > PL_RTP_MAX_LEN) return parse_fail(out);
    if (buf[0] >> 6 != 2) return parse_fail(out);

    pl_rtp_packet_t p = {
        .data = buf,
        .len = len,
        .version = 2,
        .padding = (buf[0] & 0x20) != 0,
        .extension = (buf[0] & 0x10) != 0,
        .csrc_count = buf[0] & 0x0F,
        .marker = (buf[1] & 0x80) != 0,
        .pt = buf[1] & 0x7F,
        .seq = rd16(buf + 2),
        .timestamp = rd32(buf + 4),
        .ssrc = rd32(buf + 8),
    };
    size_t off = PL_RTP_HEADER_LEN + 4u * p.csrc_count;
    if (off > len) return parse_fail(out);
    p.csrcs = buf + PL_RTP_HEADER_LEN;

    if (p.extension) {
        if (len - off < 4) return parse_fail(out);
        p.ext_profile = rd16(buf + off);
        p.ext_len = 4u * rd16(buf + off + 2);
        p.ext_off = off + 4;
        if (p.ext_len > len - p.ext_off) return parse_fail(out);
        off = p.ext_off + p.ext_len;

        if (ext_check(buf, p.ext_off, off, ext_form(p.ext_profile)) < 0) return parse_fail(out);
    }
    p.header_len = off;

    size_t body = len - off;
    if (p.padding) {
        /* The count includes itself, so 0 is not a padding length. */
        if (body == 0 || buf[len - 1] == 0 || buf[len - 1] > body) return parse_fail(out);
        p.padding_len = buf[len - 1];
    }
    p.payload = buf + off;
    p.payload_len = body - p.padding_len;
    *out = p;
    return 0;
}

uint32_t pl_rtp_csrc(const pl_rtp_packet_t *pkt, size_t i)
{
    if (pkt == NULL || i >= pkt->csrc_count) return 0;
    return rd32(pkt->csrcs + 4 * i);
}

/* Bounds of the element list, or false when the packet has no RFC 8285 block. */
static bool ext_bounds(const pl_rtp_packet_t *pkt, ext_form_t *form, size_t *end)
{
    if (pkt == NULL || pkt->data == NULL || !pkt->extension) return false;
    *form = ext_form(pkt->ext_profile);
    *end = pkt->ext_off + pkt->ext_len;
    return *form != EXT_NONE && *end <= pkt->len;
}

int pl_rtp_ext_next(const pl_rtp_packet_t *pkt, size_t *cursor, pl_rtp_ext_t *out)
{
    ext_form_t form;
    size_t end;
    elem_t e;

    if (cursor == NULL || out == NULL || !ext_bounds(pkt, &form, &end)) return -PL_ENOTFOUND;
    size_t pos = *cursor < pkt->ext_off ? pkt->ext_off : *cursor;
    if (ext_walk(pkt->data, end, form, &pos, &e) <= 0) {
        *cursor = end;
        return -PL_ENOTFOUND;
    }
    *cursor = pos;
    *out = (pl_rtp_ext_t){.id = e.id, .len = e.len, .data = pkt->data + elem_data(form, &e)};
    return 0;
}

/* Finds id, returning the element with its offsets (for rewriters) and its form. */
static int ext_locate(const pl_rtp_packet_t *pkt, uint8_t id, ext_form_t *form, elem_t *found)
{
    size_t end;

    if (id == 0) return -PL_EINVAL;
    if (!ext_bounds(pkt, form, &end)) return -PL_ENOTFOUND;
    size_t pos = pkt->ext_off;
    while (ext_walk(pkt->data, end, *form, &pos, found) > 0)
        if (found->id == id) return 0;
    return -PL_ENOTFOUND;
}

int pl_rtp_ext_find(const pl_rtp_packet_t *pkt, uint8_t id, pl_rtp_ext_t *out)
{
    ext_form_t form;
    elem_t e;

    if (out == NULL) return -PL_EINVAL;
    int rc = ext_locate(pkt, id, &form, &e);
    if (rc < 0) return rc;
    *out = (pl_rtp_ext_t){.id = e.id, .len = e.len, .data = pkt->data + elem_data(form, &e)};
    return 0;
}

int pl_rtp_ext_get_mid(const pl_rtp_packet_t *pkt, uint8_t id, char *out, size_t cap)
{
    pl_rtp_ext_t e;

    if (out == NULL) return -PL_EINVAL;
    int rc = pl_rtp_ext_find(pkt, id, &e);
    if (rc < 0) return rc;
    if (e.len == 0) return -PL_EINVAL;
    /* A mid is an SDP token: refusing control bytes keeps it safe to log and to use as a key. */
    for (size_t i = 0; i < e.len; i++)
        if (e.data[i] < 0x21 || e.data[i] > 0x7E) return -PL_EINVAL;
    if (cap < (size_t)e.len + 1) return -PL_ETOOBIG;
    memcpy(out, e.data, e.len);
    out[e.len] = '\0';
    return 0;
}

int pl_rtp_ext_get_abs_send_time(const pl_rtp_packet_t *pkt, uint8_t id, uint32_t *out)
{
    pl_rtp_ext_t e;

    if (out == NULL) return -PL_EINVAL;
    int rc = pl_rtp_ext_find(pkt, id, &e);
    if (rc < 0) return rc;
    if (e.len != 3) return -PL_EINVAL;
    *out = rd24(e.data);
    return 0;
}

int pl_rtp_ext_get_transport_seq(const pl_rtp_packet_t *pkt, uint8_t id, uint16_t *out)
{
    pl_rtp_ext_t e;

    if (out == NULL) return -PL_EINVAL;
    int rc = pl_rtp_ext_find(pkt, id, &e);
    if (rc < 0) return rc;
    /* Version 1 is exactly 2 bytes; the transport-cc v2 variant appends request bytes. */
    if (e.len < 2) return -PL_EINVAL;
    *out = rd16(e.data);
    return 0;
}

int pl_rtp_ext_get_audio_level(const pl_rtp_packet_t *pkt, uint8_t id, bool *voice, uint8_t *level)
{
    pl_rtp_ext_t e;

    if (voice == NULL || level == NULL) return -PL_EINVAL;
    int rc = pl_rtp_ext_find(pkt, id, &e);
    if (rc < 0) return rc;
    /* RFC 6464 allows the two-byte form to pad the single byte out, so read only the first. */
    if (e.len < 1) return -PL_EINVAL;
    *voice = (e.data[0] & 0x80) != 0;
    *level = e.data[0] & 0x7F;
    return 0;
}

/* ---- rewriters ---- */

int pl_rtp_set_ssrc(uint8_t *buf, size_t len, uint32_t ssrc)
{
    if (buf == NULL || len < PL_RTP_HEADER_LEN) return -PL_EINVAL;
    wr32(buf + 8, ssrc);
    return 0;
}

int pl_rtp_set_seq(uint8_t *buf, size_t len, uint16_t seq)
{
    if (buf == NULL || len < PL_RTP_HEADER_LEN) return -PL_EINVAL;
    wr16(buf + 2, seq);
    return 0;
}

int pl_rtp_set_timestamp(uint8_t *buf, size_t len, uint32_t ts)
{
    if (buf == NULL || len < PL_RTP_HEADER_LEN) return -PL_EINVAL;
    wr32(buf + 4, ts);
    return 0;
}

int pl_rtp_set_pt(uint8_t *buf, size_t len, uint8_t pt)
{
    if (buf == NULL || len < PL_RTP_HEADER_LEN || pt > 127) return -PL_EINVAL;
    buf[1] = (uint8_t)((buf[1] & 0x80) | pt);
    return 0;
}

static bool id_fits(ext_form_t form, uint8_t id)
{
    return id >= 1 && (form == EXT_TWO || id <= 14);
}

/* Writes id into the header of element e; an id of 0 blanks the whole element. */
static void elem_rename(uint8_t *buf, ext_form_t form, const elem_t *e, uint8_t id)
{
    if (id == 0) {
        memset(buf + e->hdr, 0, (size_t)(elem_data(form, e) - e->hdr) + e->len);
    } else if (form == EXT_ONE) {
        buf[e->hdr] = (uint8_t)(id << 4 | (e->len - 1));
    } else {
        buf[e->hdr] = id;
    }
}

int pl_rtp_ext_set_id(const pl_rtp_packet_t *pkt, uint8_t *buf, uint8_t from, uint8_t to)
{
    ext_form_t form;
    elem_t e;

    if (buf == NULL) return -PL_EINVAL;
    int rc = ext_locate(pkt, from, &form, &e);
    if (rc < 0) return rc;
    if (!id_fits(form, to)) return -PL_EINVAL;
    elem_rename(buf, form, &e, to);
    return 0;
}

int pl_rtp_ext_remap(const pl_rtp_packet_t *pkt, uint8_t *buf, const uint8_t map[256])
{
    ext_form_t form;
    size_t end;
    elem_t e;

    if (buf == NULL || map == NULL) return -PL_EINVAL;
    if (!ext_bounds(pkt, &form, &end)) return 0;
    /* Check every target first so that a refused map leaves the packet untouched. */
    size_t pos = pkt->ext_off;
    while (ext_walk(pkt->data, end, form, &pos, &e) > 0)
        if (map[e.id] != 0 && !id_fits(form, map[e.id])) return -PL_EINVAL;
    /* Ids are read from pkt->data. When buf is that same buffer, each header byte is read
     * before it is written and never read again, so renames still do not chain. */
    pos = pkt->ext_off;
    while (ext_walk(pkt->data, end, form, &pos, &e) > 0) {
        if (map[e.id] != e.id) elem_rename(buf, form, &e, map[e.id]);
    }
    return 0;
}

int pl_rtp_ext_set_transport_seq(const pl_rtp_packet_t *pkt, uint8_t *buf, uint8_t id, uint16_t seq)
{
    ext_form_t form;
    elem_t e;

    if (buf == NULL) return -PL_EINVAL;
    int rc = ext_locate(pkt, id, &form, &e);
    if (rc < 0) return rc;
    if (e.len < 2) return -PL_EINVAL;
    wr16(buf + elem_data(form, &e), seq);
    return 0;
}

int pl_rtp_ext_set_abs_send_time(const pl_rtp_packet_t *pkt, uint8_t *buf, uint8_t id, uint32_t ast)
{
    ext_form_t form;
    elem_t e;

    if (buf == NULL || ast > 0xFFFFFFu) return -PL_EINVAL;
    int rc = ext_locate(pkt, id, &form, &e);
    if (rc < 0) return rc;
    if (e.len != 3) return -PL_EINVAL;
    wr24(buf + elem_data(form, &e), ast);
    return 0;
}

/* ---- receive statistics ---- */

/* RFC 3550 A.1's thresholds: how far ahead counts as a gap, how far behind as reordering. */
#define MAX_DROPOUT 3000u
#define MAX_MISORDER 100u
#define SEQ_MOD 65536u

void pl_rtp_seq_init(pl_rtp_seq_t *s)
{
    if (s != NULL) memset(s, 0, sizeof *s);
}

/* Starts counting afresh at seq, keeping jitter (it describes the path, not the sender). */
static void seq_restart(pl_rtp_seq_t *s, uint16_t seq)
{
    s->started = true;
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = SEQ_MOD + 1; /* cannot equal a 16-bit seq */
    s->cycles = 0;
    s->received = 0;
    s->expected_prior = 0;
    s->received_prior = 0;
}

int pl_rtp_seq_update(pl_rtp_seq_t *s, uint16_t seq)
{
    if (s == NULL) return -PL_EINVAL;
    if (!s->started) {
        seq_restart(s, seq);
        s->received = 1;
        return 0;
    }
    uint16_t udelta = (uint16_t)(seq - s->max_seq);
    if (udelta < MAX_DROPOUT) {
        /* In order, with a permissible gap. A smaller number means the counter wrapped. */
        if (seq < s->max_seq) s->cycles += SEQ_MOD;
        s->max_seq = seq;
    } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
        /* A large jump. Two in a row means the sender restarted its numbering; one alone is
         * treated as a stray and not counted. */
        if (seq != s->bad_seq) {
            s->bad_seq = (uint32_t)(uint16_t)(seq + 1);
            return -PL_EINVAL;
        }
        seq_restart(s, seq);
    }
    /* else: a duplicate or a late packet, counted as A.1 does (so loss can go negative). */
    s->received++;
    return 0;
}

void pl_rtp_seq_jitter(pl_rtp_seq_t *s, uint32_t rtp_ts, uint32_t arrival)
{
    if (s == NULL) return;
    uint32_t transit = arrival - rtp_ts;
    if (!s->have_transit) {
        s->have_transit = true;
        s->transit = transit;
        return;
    }
    /* Transit differences are small signed values in a wrapping 32-bit clock. */
    int64_t d = (int32_t)(transit - s->transit);
    s->transit = transit;
    if (d < 0) d = -d;
    int64_t j = (int64_t)s->jitter_q4 + d - (((int64_t)s->jitter_q4 + 8) >> 4);
    s->jitter_q4 = j > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)j;
}

void pl_rtp_seq_report(pl_rtp_seq_t *s, pl_rtp_seq_stats_t *out)
{
    if (s == NULL || out == NULL) return;
    memset(out, 0, sizeof *out);
    out->jitter = s->jitter_q4 >> 4;
    if (!s->started) return;

    uint32_t ext_max = s->cycles + s->max_seq;
    uint32_t expected = ext_max - s->base_seq + 1;
    int64_t lost = (int64_t)expected - (int64_t)s->received;
    if (lost > 0x7FFFFF) lost = 0x7FFFFF;
    if (lost < -0x800000) lost = -0x800000;

    uint32_t expected_interval = expected - s->expected_prior;
    uint32_t received_interval = s->received - s->received_prior;
    int64_t lost_interval = (int64_t)expected_interval - (int64_t)received_interval;
    s->expected_prior = expected;
    s->received_prior = s->received;

    uint32_t fraction = 0;
    if (expected_interval != 0 && lost_interval > 0)
        fraction = (uint32_t)(((uint64_t)lost_interval << 8) / expected_interval);
    out->fraction_lost = fraction > 255 ? 255 : (uint8_t)fraction;
    out->cumulative_lost = (int32_t)lost;
    out->ext_highest_seq = ext_max;
}

/* ---- writer ---- */

/* The extension block's body length (unpadded) and form for h, or -PL_EINVAL. */
static int ext_plan(const pl_rtp_header_t *h, ext_form_t *form, size_t *body)
{
    *form = EXT_NONE;
    *body = 0;
    if (h->ext_count == 0) return 0;
    if (h->exts == NULL) return -PL_EINVAL;
    *form = EXT_ONE;
    for (size_t i = 0; i < h->ext_count; i++) {
        const pl_rtp_ext_t *e = &h->exts[i];
        if (e->id == 0 || (e->len > 0 && e->data == NULL)) return -PL_EINVAL;
        if (e->id > 14 || e->len == 0 || e->len > 16) *form = EXT_TWO;
    }
    for (size_t i = 0; i < h->ext_count; i++) {
        *body += (*form == EXT_ONE ? 1u : 2u) + h->exts[i].len;
        /* Stop early so that an absurd ext_count cannot wrap the sum. */
        if (*body > PL_RTP_MAX_LEN) return -PL_ETOOBIG;
    }
    return 0;
}

int pl_rtp_write(const pl_rtp_header_t *h, const uint8_t *payload, size_t payload_len, uint8_t *buf,
                 size_t cap, size_t *out_len)
{
    ext_form_t form;
    size_t ext_body;

    if (h == NULL || buf == NULL || out_len == NULL) return -PL_EINVAL;
    if (h->pt > 127 || h->csrc_count > PL_RTP_MAX_CSRC) return -PL_EINVAL;
    if ((h->csrc_count > 0 && h->csrcs == NULL) || (payload_len > 0 && payload == NULL))
        return -PL_EINVAL;
    int rc = ext_plan(h, &form, &ext_body);
    if (rc < 0) return rc;

    size_t ext_words = (ext_body + 3) / 4;
    size_t hdr = PL_RTP_HEADER_LEN + 4u * h->csrc_count;
    if (form != EXT_NONE) hdr += 4 + 4 * ext_words;
    /* Bounded before adding so that a huge payload_len cannot wrap the sum. */
    if (payload_len > PL_RTP_MAX_LEN) return -PL_ETOOBIG;
    size_t total = hdr + payload_len + h->padding;
    if (total > PL_RTP_MAX_LEN || total > cap) return -PL_ETOOBIG;

    /* The payload goes first: it may already sit in buf where the header is about to go. */
    if (payload_len > 0) memmove(buf + hdr, payload, payload_len);
    buf[0] =
        (uint8_t)(0x80 | (h->padding ? 0x20 : 0) | (form != EXT_NONE ? 0x10 : 0) | h->csrc_count);
    buf[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->pt);
    wr16(buf + 2, h->seq);
    wr32(buf + 4, h->timestamp);
    wr32(buf + 8, h->ssrc);
    size_t off = PL_RTP_HEADER_LEN;
    for (size_t i = 0; i < h->csrc_count; i++, off += 4)
        wr32(buf + off, h->csrcs[i]);
    if (form != EXT_NONE) {
        wr16(buf + off, form == EXT_ONE ? PL_RTP_EXT_ONE_BYTE : PL_RTP_EXT_TWO_BYTE);
        wr16(buf + off + 2, (uint16_t)ext_words);
        off += 4;
        size_t end = off + 4 * ext_words;
        for (size_t i = 0; i < h->ext_count; i++) {
            const pl_rtp_ext_t *e = &h->exts[i];
            if (form == EXT_ONE) {
                buf[off++] = (uint8_t)(e->id << 4 | (e->len - 1));
            } else {
                buf[off++] = e->id;
                buf[off++] = e->len;
            }
            if (e->len > 0) memcpy(buf + off, e->data, e->len);
            off += e->len;
        }
        memset(buf + off, 0, end - off);
        off = end;
    }
    off += payload_len;
    if (h->padding > 0) {
        memset(buf + off, 0, h->padding - 1u);
        buf[off + h->padding - 1] = h->padding;
        off += h->padding;
    }
    *out_len = off;
    return 0;
}
