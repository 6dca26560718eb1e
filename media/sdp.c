/* SDP offer parser (see sdp.h). Part of the SFU's zero-copy parser layer (DESIGN.md, "Media"):
 * no sockets, no logging, no global state.
 *
 * The offer keeps one private copy of the text. Lines and tokens are cut in place by writing
 * NULs into that copy, so every string in the views points into it and the parse needs one
 * allocation for the text, one for the offer and one per m-section. Each m-section's public
 * view points at arrays inside the same allocation. Everything is bounded by the PL_SDP_MAX_*
 * limits, checked before anything is stored.
 *
 * The parse runs in two passes: line by line into raw fields, then check_sections(),
 * check_bundle() and resolve_transport() settle what depends on the whole description (rtx apt
 * links, BUNDLE membership, extmap ids across the group, which level's ICE and DTLS attributes
 * apply). The helpers that read only the public views (pl_sdp_section_codec_by_pt,
 * pl_sdp_fmtp_param) live in sdp_write.c, with the codec policy that uses them most. */
#include "media/sdp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/util.h"

typedef struct {
    const char *ufrag, *pwd, *options;
    bool has_fp;    /* any a=fingerprint at this level */
    bool fp_sha256; /* ...of which one is sha-256, stored in fp */
    uint8_t fp[PL_SDP_FINGERPRINT_LEN];
    pl_sdp_setup_t setup;
} xport_t;

enum { SEEN_RTPMAP = 1, SEEN_FMTP = 2 };

typedef struct {
    pl_sdp_section_t pub; /* the view; its array pointers point at the arrays below */
    bool is_rtp;          /* proto carries RTP, so the formats are payload types */
    bool bundle_only, has_dir;
    xport_t xport;
    int line;        /* of the m= line, for errors found after the whole text is read */
    uint32_t fb_all; /* a=rtcp-fb:* applies to every payload type */
    pl_sdp_codec_t codecs[PL_SDP_MAX_PTS];
    uint8_t seen[PL_SDP_MAX_PTS];
    pl_sdp_extmap_t extmaps[PL_SDP_MAX_EXTMAPS];
    pl_sdp_ssrc_t ssrcs[PL_SDP_MAX_SSRCS];
    pl_sdp_fid_t fids[PL_SDP_MAX_FIDS];
} section_t;

struct pl_sdp_offer {
    char *text;
    pl_sdp_session_t pub;
    xport_t session; /* session-level transport attributes, before resolve_transport() */
    bool has_session_dir, has_bundle;
    pl_sdp_dir_t session_dir;
    size_t n_sections;
    section_t *sections[PL_SDP_MAX_SECTIONS];
};

typedef struct {
    pl_sdp_offer_t *o;
    section_t *cur; /* NULL at session level */
    int line;
    unsigned seen; /* SEEN() of every line type read so far */
    pl_sdp_error_t *err;
} parser_t;

#define SEEN(type) (1u << ((type) - 'a'))
/* RFC 8866 section 5: every description starts v=, o=, s= and t= before any m=. */
#define SESSION_LINES (SEEN('v') | SEEN('o') | SEEN('s') | SEEN('t'))

static int fail(parser_t *p, int rc, int line, const char *what)
{
    if (p->err != NULL) {
        p->err->line = line;
        p->err->what = what;
    }
    return rc;
}

/* Fails on the line being read. */
#define BAD(p, what) fail((p), -PL_EINVAL, (p)->line, (what))

/* ---- small lexical helpers ---- */

/* Cuts the next space-separated token from *s, NUL-terminating it in place. Returns NULL when
 * nothing is left. Runs of spaces count as one separator. */
static char *take(char **s)
{
    char *t = *s;

    while (*t == ' ')
        t++;
    if (*t == '\0') {
        *s = t;
        return NULL;
    }
    char *e = t + strcspn(t, " ");
    if (*e != '\0') *e++ = '\0';
    *s = e;
    return t;
}

/* The rest of the line after leading spaces, or NULL if empty. */
static char *rest(char *s)
{
    while (*s == ' ')
        s++;
    return *s != '\0' ? s : NULL;
}

/* Decimal without sign or leading junk, at most max. */
static int parse_uint(const char *s, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    size_t n = 0;

    if (s == NULL || *s == '\0') return -PL_EINVAL;
    for (; s[n] != '\0'; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 10) return -PL_EINVAL;
        v = v * 10 + (uint64_t)(s[n] - '0');
    }
    if (v > max) return -PL_EINVAL;
    *out = (uint32_t)v;
    return 0;
}

#define TOKEN_CHARS "!#$%&'*+-.^_`{|}~" /* RFC 8866 token, beside letters and digits */
#define ICE_CHARS "+/"                  /* RFC 8839 ice-char, beside letters and digits */

/* True if s has min..max characters, each a letter, a digit or one of extra. */
static bool chars_in(const char *s, size_t min, size_t max, const char *extra)
{
    size_t n = 0;

    if (s == NULL) return false;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr(extra, c) != NULL;
        if (!ok || n >= max) return false;
    }
    return n >= min;
}

static bool is_token(const char *s, size_t max)
{
    return chars_in(s, 1, max, TOKEN_CHARS);
}

/* "AB:CD:..." with exactly PL_SDP_FINGERPRINT_LEN bytes. */
static int parse_fingerprint(const char *s, uint8_t out[PL_SDP_FINGERPRINT_LEN])
{
    char hex[2 * PL_SDP_FINGERPRINT_LEN + 1];
    size_t n = 0, len = strlen(s);

    if (len != 3 * PL_SDP_FINGERPRINT_LEN - 1) return -PL_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (i % 3 == 2) {
            if (s[i] != ':') return -PL_EINVAL;
        } else {
            hex[n++] = s[i];
        }
    }
    hex[n] = '\0';
    return pl_hex_decode(hex, out, PL_SDP_FINGERPRINT_LEN, NULL) == 0 ? 0 : -PL_EINVAL;
}

/* The index of s in names[0..n), or -1. */
static int lookup(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) return i;
    }
    return -1;
}

static int parse_dir(const char *s, pl_sdp_dir_t *out)
{
    static const char *const names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
    int i = lookup(s, names, 4);

    if (i < 0) return -PL_EINVAL;
    *out = (pl_sdp_dir_t)i;
    return 0;
}

static pl_sdp_codec_t *codec_by_pt(section_t *s, uint32_t pt)
{
    for (size_t i = 0; i < s->pub.n_codecs; i++) {
        if (s->codecs[i].pt == pt) return &s->codecs[i];
    }
    return NULL;
}

static section_t *find_mid(const pl_sdp_offer_t *o, const char *mid)
{
    for (size_t i = 0; mid != NULL && i < o->n_sections; i++) {
        const char *m = o->sections[i]->pub.mid;
        if (m != NULL && strcmp(m, mid) == 0) return o->sections[i];
    }
    return NULL;
}

/* Reads the "<pt> " that starts rtpmap, fmtp and rtcp-fb values. *c is NULL (and the line is
 * to be ignored) when the PT is not on the m= line: RFC 8866 has such attributes ignored. */
static int lead_pt(parser_t *p, char **v, pl_sdp_codec_t **c, size_t *idx)
{
    uint32_t pt;
    char *tok = take(v);

    *c = NULL;
    if (tok == NULL || parse_uint(tok, 127, &pt) < 0) return BAD(p, "bad payload type");
    if (p->cur->is_rtp) *c = codec_by_pt(p->cur, pt);
    if (*c != NULL && idx != NULL) *idx = (size_t)(*c - p->cur->codecs);
    return 0;
}

/* ---- attributes ---- */

static xport_t *level_xport(parser_t *p)
{
    return p->cur != NULL ? &p->cur->xport : &p->o->session;
}

/* RFC 8839 section 5.4: a ufrag has 4..256 ice-chars, a password 22..256. */
static int ice_cred(parser_t *p, const char **slot, char *v, size_t min)
{
    if (*slot != NULL) return BAD(p, "repeated ICE credential");
    if (!chars_in(v, min, 256, ICE_CHARS)) return BAD(p, "bad ICE credential");
    *slot = v;
    return 0;
}

static int a_ice_ufrag(parser_t *p, char *v)
{
    return ice_cred(p, &level_xport(p)->ufrag, v, 4);
}

static int a_ice_pwd(parser_t *p, char *v)
{
    return ice_cred(p, &level_xport(p)->pwd, v, 22);
}

static int a_ice_options(parser_t *p, char *v)
{
    level_xport(p)->options = v;
    return 0;
}

static int a_fingerprint(parser_t *p, char *v)
{
    xport_t *x = level_xport(p);
    char *alg = take(&v), *hex = rest(v);

    if (alg == NULL || hex == NULL) return BAD(p, "bad a=fingerprint");
    x->has_fp = true;
    /* RFC 8122 allows one line per certificate and algorithm: only sha-256 is used, and when
     * there are several sha-256 lines the first is kept. Others are not checked. */
    if (strcasecmp(alg, "sha-256") != 0 || x->fp_sha256) return 0;
    if (parse_fingerprint(hex, x->fp) < 0) return BAD(p, "bad sha-256 fingerprint");
    x->fp_sha256 = true;
    return 0;
}

static int a_setup(parser_t *p, char *v)
{
    static const char *const names[] = {"actpass", "active", "passive", "holdconn"};
    int i = lookup(v, names, 4);

    if (i < 0) return BAD(p, "bad a=setup");
    level_xport(p)->setup = (pl_sdp_setup_t)(PL_SDP_SETUP_ACTPASS + i);
    return 0;
}

static int a_group(parser_t *p, char *v)
{
    pl_sdp_offer_t *o = p->o;
    char *sem = take(&v), *mid;

    if (sem == NULL) return BAD(p, "bad a=group");
    if (strcmp(sem, "BUNDLE") != 0) return 0; /* LS and others mean nothing to an SFU */
    if (p->cur != NULL) return BAD(p, "a=group inside an m-section");
    if (o->has_bundle) return BAD(p, "more than one BUNDLE group");
    o->has_bundle = true;
    while ((mid = take(&v)) != NULL) {
        if (!is_token(mid, PL_SDP_MID_MAX)) return BAD(p, "bad mid in BUNDLE group");
        if (o->pub.n_bundle == PL_SDP_MAX_SECTIONS)
            return fail(p, -PL_ETOOBIG, p->line, "too many mids in BUNDLE group");
        o->pub.bundle[o->pub.n_bundle++] = mid;
    }
    return 0;
}

static int a_mid(parser_t *p, char *v)
{
    if (p->cur->pub.mid != NULL) return BAD(p, "repeated a=mid");
    if (!is_token(v, PL_SDP_MID_MAX)) return BAD(p, "bad a=mid");
    p->cur->pub.mid = v;
    return 0;
}

static int a_rtpmap(parser_t *p, char *v)
{
    pl_sdp_codec_t *c;
    size_t i;
    uint32_t clock, ch = 0;

    int rc = lead_pt(p, &v, &c, &i);
    if (rc < 0 || c == NULL) return rc;
    /* <name>/<clock>[/<channels>], every part non-empty. */
    char *name = take(&v);
    if (name == NULL || rest(v) != NULL) return BAD(p, "bad a=rtpmap");
    char *clk = strchr(name, '/');
    char *chs = clk != NULL ? strchr(clk + 1, '/') : NULL;
    if (clk != NULL) *clk++ = '\0';
    if (chs != NULL) *chs++ = '\0';
    if (!is_token(name, 32) || parse_uint(clk, UINT32_MAX, &clock) < 0 || clock == 0 ||
        (chs != NULL && (parse_uint(chs, 255, &ch) < 0 || ch == 0)))
        return BAD(p, "bad a=rtpmap");
    if (p->cur->seen[i] & SEEN_RTPMAP) return BAD(p, "repeated a=rtpmap for one payload type");
    p->cur->seen[i] |= SEEN_RTPMAP;
    c->name = name;
    c->clock = clock;
    c->channels = (uint8_t)ch;
    return 0;
}

static int a_fmtp(parser_t *p, char *v)
{
    pl_sdp_codec_t *c;
    size_t i;

    int rc = lead_pt(p, &v, &c, &i);
    if (rc < 0 || c == NULL) return rc;
    char *params = rest(v);
    if (params == NULL) return BAD(p, "bad a=fmtp");
    if (p->cur->seen[i] & SEEN_FMTP) return BAD(p, "repeated a=fmtp for one payload type");
    p->cur->seen[i] |= SEEN_FMTP;
    c->fmtp = params;
    return 0;
}

static int a_rtcp_fb(parser_t *p, char *v)
{
    pl_sdp_codec_t *c = NULL;
    bool all = strncmp(v, "* ", 2) == 0;

    if (all) {
        v += 2;
    } else {
        int rc = lead_pt(p, &v, &c, NULL);
        if (rc < 0 || c == NULL) return rc;
    }
    char *type = take(&v), *param = take(&v);
    if (type == NULL) return BAD(p, "bad a=rtcp-fb");
    uint32_t bit = 0;
    if (strcmp(type, "nack") == 0 && param == NULL)
        bit = PL_SDP_FB_NACK;
    else if (strcmp(type, "nack") == 0 && strcmp(param, "pli") == 0)
        bit = PL_SDP_FB_NACK_PLI;
    else if (strcmp(type, "ccm") == 0 && param != NULL && strcmp(param, "fir") == 0)
        bit = PL_SDP_FB_CCM_FIR;
    else if (strcmp(type, "goog-remb") == 0)
        bit = PL_SDP_FB_GOOG_REMB;
    else if (strcmp(type, "transport-cc") == 0)
        bit = PL_SDP_FB_TRANSPORT_CC;
    if (all)
        p->cur->fb_all |= bit;
    else
        c->fb |= bit;
    return 0;
}

static int a_extmap(parser_t *p, char *v)
{
    section_t *s = p->cur;
    char *head = take(&v), *uri = take(&v);
    uint32_t id;

    /* Trailing extension attributes (RFC 8285 section 7) are allowed and ignored. */
    if (head == NULL || uri == NULL) return BAD(p, "bad a=extmap");
    char *slash = strchr(head, '/');
    pl_sdp_dir_t dir = PL_SDP_SENDRECV;
    if (slash != NULL) {
        *slash = '\0';
        if (parse_dir(slash + 1, &dir) < 0) return BAD(p, "bad a=extmap direction");
    }
    /* 15..255 need the two-byte header form; validate() checks it was offered. */
    if (parse_uint(head, 255, &id) < 0 || id == 0) return BAD(p, "a=extmap id out of range");
    for (size_t i = 0; i < s->pub.n_extmaps; i++) {
        if (s->extmaps[i].id == id) return BAD(p, "repeated a=extmap id");
    }
    if (s->pub.n_extmaps == PL_SDP_MAX_EXTMAPS)
        return fail(p, -PL_ETOOBIG, p->line, "too many a=extmap lines");
    s->extmaps[s->pub.n_extmaps++] =
        (pl_sdp_extmap_t){.id = (uint16_t)id, .uri = uri, .has_dir = slash != NULL, .dir = dir};
    return 0;
}

static int a_msid(parser_t *p, char *v)
{
    char *stream = take(&v), *track = take(&v);

    if (stream == NULL || rest(v) != NULL) return BAD(p, "bad a=msid");
    /* RFC 8830 allows one track in several streams; the SFU needs only the first. */
    if (p->cur->pub.msid_stream == NULL) {
        p->cur->pub.msid_stream = stream;
        p->cur->pub.msid_track = track;
    }
    return 0;
}

static int a_ssrc(parser_t *p, char *v)
{
    section_t *s = p->cur;
    char *num = take(&v), *attr = rest(v);
    uint32_t ssrc;

    if (parse_uint(num, UINT32_MAX, &ssrc) < 0 || attr == NULL) return BAD(p, "bad a=ssrc");
    pl_sdp_ssrc_t *e = NULL;
    for (size_t i = 0; i < s->pub.n_ssrcs && e == NULL; i++) {
        if (s->ssrcs[i].ssrc == ssrc) e = &s->ssrcs[i];
    }
    if (e == NULL) {
        if (s->pub.n_ssrcs == PL_SDP_MAX_SSRCS)
            return fail(p, -PL_ETOOBIG, p->line, "too many a=ssrc values");
        e = &s->ssrcs[s->pub.n_ssrcs++];
        e->ssrc = ssrc;
    }
    char *val = strchr(attr, ':');
    if (val != NULL) *val++ = '\0';
    if (strcmp(attr, "cname") == 0) {
        if (val == NULL || *val == '\0') return BAD(p, "bad a=ssrc cname");
        e->cname = val;
    } else if (strcmp(attr, "msid") == 0) {
        char *stream = val != NULL ? take(&val) : NULL;
        if (stream == NULL) return BAD(p, "bad a=ssrc msid");
        e->msid_stream = stream;
        e->msid_track = take(&val);
    }
    return 0;
}

static int a_ssrc_group(parser_t *p, char *v)
{
    section_t *s = p->cur;
    char *sem = take(&v), *a = take(&v), *b = take(&v);
    uint32_t x, y;

    if (sem == NULL || a == NULL) return BAD(p, "bad a=ssrc-group");
    if (strcmp(sem, "FID") != 0) return 0; /* SIM and FEC-FR: simulcast is not negotiated */
    if (b == NULL || rest(v) != NULL || parse_uint(a, UINT32_MAX, &x) < 0 ||
        parse_uint(b, UINT32_MAX, &y) < 0)
        return BAD(p, "bad a=ssrc-group:FID");
    if (s->pub.n_fids == PL_SDP_MAX_FIDS)
        return fail(p, -PL_ETOOBIG, p->line, "too many a=ssrc-group lines");
    s->fids[s->pub.n_fids++] = (pl_sdp_fid_t){.ssrc = x, .rtx_ssrc = y};
    return 0;
}

typedef int (*attr_fn)(parser_t *p, char *v);

/* Attributes Parley reads; every other attribute is ignored, as RFC 8866 asks. media_only
 * ones are ignored at session level too (a session-level a=extmap, for instance, is legal
 * but no browser writes one, so none is negotiated). */
static const struct {
    const char *name;
    bool media_only;
    attr_fn fn;
} attr_table[] = {
    {"ice-ufrag", false, a_ice_ufrag},
    {"ice-pwd", false, a_ice_pwd},
    {"ice-options", false, a_ice_options},
    {"fingerprint", false, a_fingerprint},
    {"setup", false, a_setup},
    {"group", false, a_group},
    {"mid", true, a_mid},
    {"rtpmap", true, a_rtpmap},
    {"fmtp", true, a_fmtp},
    {"rtcp-fb", true, a_rtcp_fb},
    {"extmap", true, a_extmap},
    {"msid", true, a_msid},
    {"ssrc", true, a_ssrc},
    {"ssrc-group", true, a_ssrc_group},
};

/* Value-less attributes. */
static int flag_attr(parser_t *p, const char *name)
{
    pl_sdp_dir_t dir;
    section_t *s = p->cur;

    if (parse_dir(name, &dir) == 0) {
        bool *has = s != NULL ? &s->has_dir : &p->o->has_session_dir;
        if (*has) return BAD(p, "repeated direction attribute");
        *has = true;
        *(s != NULL ? &s->pub.dir : &p->o->session_dir) = dir;
    } else if (strcmp(name, "extmap-allow-mixed") == 0) {
        p->o->pub.extmap_allow_mixed = true;
    } else if (strcmp(name, "ice-lite") == 0) {
        if (s == NULL) p->o->pub.ice_lite = true;
    } else if (s != NULL && strcmp(name, "rtcp-mux") == 0) {
        s->pub.rtcp_mux = true;
    } else if (s != NULL && strcmp(name, "bundle-only") == 0) {
        s->bundle_only = true;
    }
    return 0;
}

static int parse_attr(parser_t *p, char *a)
{
    char *colon = strchr(a, ':');

    if (colon == NULL) return flag_attr(p, a);
    *colon = '\0';
    char *v = colon + 1;
    for (size_t i = 0; i < sizeof attr_table / sizeof attr_table[0]; i++) {
        if (strcmp(a, attr_table[i].name) != 0) continue;
        if (attr_table[i].media_only && p->cur == NULL) return 0;
        /* Chromium writes "a=msid-semantic: WMS", so a space after the colon is tolerated. */
        v = rest(v);
        if (v == NULL) return BAD(p, "attribute without a value");
        return attr_table[i].fn(p, v);
    }
    return 0;
}

/* ---- m= lines ---- */

static int parse_m(parser_t *p, char *v)
{
    pl_sdp_offer_t *o = p->o;
    uint32_t port, pt;

    if ((p->seen & SESSION_LINES) != SESSION_LINES) return BAD(p, "missing o=, s= or t= line");
    if (o->n_sections == PL_SDP_MAX_SECTIONS)
        return fail(p, -PL_ETOOBIG, p->line, "too many m-sections");
    section_t *s = calloc(1, sizeof *s);
    if (s == NULL) return fail(p, -PL_ENOMEM, p->line, "out of memory");
    o->sections[o->n_sections++] = s;
    p->cur = s;
    s->line = p->line;
    s->pub.codecs = s->codecs;
    s->pub.extmaps = s->extmaps;
    s->pub.ssrcs = s->ssrcs;
    s->pub.fids = s->fids;

    char *media = take(&v), *portv = take(&v), *proto = take(&v), *fmt;
    if (media == NULL || proto == NULL || !is_token(media, 32) ||
        !chars_in(proto, 1, 64, TOKEN_CHARS "/"))
        return BAD(p, "bad m= line");
    if (parse_uint(portv, 65535, &port) < 0) return BAD(p, "bad m= port");
    s->pub.media = media;
    static const char *const kinds[] = {"audio", "video", "application"}; /* enum order */
    int kind = lookup(media, kinds, 3);
    s->pub.kind = kind < 0 ? PL_SDP_KIND_OTHER : (pl_sdp_kind_t)kind;
    s->pub.port = (uint16_t)port;
    s->pub.proto = proto;
    s->is_rtp = strstr(proto, "RTP/") != NULL;
    while ((fmt = take(&v)) != NULL) {
        if (s->pub.fmt == NULL) s->pub.fmt = fmt;
        if (!s->is_rtp) {
            if (!is_token(fmt, 64)) return BAD(p, "bad m= format");
            continue;
        }
        if (parse_uint(fmt, 127, &pt) < 0) return BAD(p, "bad payload type on m= line");
        if (codec_by_pt(s, pt) != NULL) return BAD(p, "repeated payload type on m= line");
        if (s->pub.n_codecs == PL_SDP_MAX_PTS)
            return fail(p, -PL_ETOOBIG, p->line, "too many payload types");
        s->codecs[s->pub.n_codecs++] =
            (pl_sdp_codec_t){.pt = (uint8_t)pt, .name = "", .fmtp = "", .apt = -1, .rtx_pt = -1};
    }
    if (s->pub.fmt == NULL) return BAD(p, "m= line without formats");
    return 0;
}

/* ---- lines ---- */

static int parse_line(parser_t *p, char *line)
{
    char type = line[0], *v = line + 2;

    if (type < 'a' || type > 'z' || line[1] != '=') return BAD(p, "malformed line");
    if (p->seen == 0 && type != 'v') return BAD(p, "description does not start with v=0");
    if (type == 'v' && (p->seen != 0 || strcmp(v, "0") != 0)) return BAD(p, "bad v= line");
    p->seen |= SEEN(type);
    if (type == 'm') return parse_m(p, v);
    if (type == 'a') return parse_attr(p, v);
    /* The other RFC 8866 types carry nothing an SFU uses. A type letter outside that list
     * makes the whole description unreadable (section 5), so it is rejected. */
    return strchr("vostiuepcbrzk", type) != NULL ? 0 : BAD(p, "unknown line type");
}

/* Splits the private copy into lines, NUL-terminating each in place (text has len + 1
 * bytes), and parses each. */
static int parse_text(parser_t *p, char *text, size_t len)
{
    size_t i = 0;

    while (i < len) {
        char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        size_t n = end - i;
        p->line++;
        if (n > 0 && text[end - 1] == '\r') n--;
        if (n > PL_SDP_MAX_LINE) return fail(p, -PL_ETOOBIG, p->line, "line too long");
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)text[i + k];
            /* Bytes from 0x80 are allowed for UTF-8 in s= and i=; control characters never. */
            if ((c < 0x20 && c != '\t') || c == 0x7f) return BAD(p, "control character");
        }
        text[i + n] = '\0';
        if (n > 0) {
            int rc = parse_line(p, text + i);
            if (rc < 0) return rc;
        }
        i = end + 1;
    }
    return 0;
}

/* ---- whole-description checks ---- */

static int section_fail(parser_t *p, const section_t *s, int rc, const char *what)
{
    return fail(p, rc, s->line, what);
}

static int link_rtx(parser_t *p, section_t *s)
{
    char buf[8];
    uint32_t apt;

    for (size_t i = 0; i < s->pub.n_codecs; i++) {
        pl_sdp_codec_t *c = &s->codecs[i];
        c->fb |= s->fb_all;
        if (strcasecmp(c->name, "rtx") != 0) continue;
        /* RFC 4588 makes apt mandatory. */
        if (pl_sdp_fmtp_param(c->fmtp, "apt", buf, sizeof buf) < 0 ||
            parse_uint(buf, 127, &apt) < 0)
            return section_fail(p, s, -PL_EINVAL, "rtx payload type without a valid apt");
        c->apt = (int)apt;
        pl_sdp_codec_t *primary = codec_by_pt(s, apt);
        if (primary != NULL && primary != c && primary->rtx_pt < 0) primary->rtx_pt = c->pt;
    }
    return 0;
}

static bool active(const section_t *s)
{
    return s->pub.port != 0 || s->bundle_only;
}

static int check_sections(parser_t *p)
{
    pl_sdp_offer_t *o = p->o;

    for (size_t i = 0; i < o->n_sections; i++) {
        section_t *s = o->sections[i];
        if (s->pub.mid == NULL) return section_fail(p, s, -PL_EINVAL, "m-section without a=mid");
        if (find_mid(o, s->pub.mid) != s) return section_fail(p, s, -PL_EINVAL, "duplicate mid");
        if (!s->has_dir) s->pub.dir = o->has_session_dir ? o->session_dir : PL_SDP_SENDRECV;
        s->pub.rejected = !active(s);
        int rc = link_rtx(p, s);
        if (rc < 0) return rc;
        for (size_t k = 0; k < s->pub.n_extmaps; k++) {
            if (s->extmaps[k].id > 14 && !o->pub.extmap_allow_mixed)
                return section_fail(p, s, -PL_EINVAL,
                                    "a=extmap id above 14 without a=extmap-allow-mixed");
        }
    }
    return 0;
}

/* One RTP session carries every bundled section, so an extension id must mean one URI across
 * the group (RFC 8843) or the forwarder cannot read it. */
static int check_extmap_ids(parser_t *p, const section_t *a, const section_t *b)
{
    for (size_t x = 0; x < a->pub.n_extmaps; x++) {
        for (size_t y = 0; y < b->pub.n_extmaps; y++) {
            if (a->extmaps[x].id == b->extmaps[y].id &&
                strcmp(a->extmaps[x].uri, b->extmaps[y].uri) != 0)
                return section_fail(p, b, -PL_EINVAL,
                                    "a=extmap id means two URIs in one BUNDLE group");
        }
    }
    return 0;
}

static int check_bundle(parser_t *p)
{
    pl_sdp_offer_t *o = p->o;

    if (o->pub.n_bundle == 0) return fail(p, -PL_EINVAL, 0, "no BUNDLE group");
    for (size_t i = 0; i < o->pub.n_bundle; i++) {
        section_t *s = find_mid(o, o->pub.bundle[i]);
        if (s == NULL) return fail(p, -PL_EINVAL, 0, "BUNDLE group names an unknown mid");
        if (s->pub.in_bundle) return fail(p, -PL_EINVAL, 0, "BUNDLE group repeats a mid");
        s->pub.in_bundle = true;
    }
    for (size_t i = 0; i < o->n_sections; i++) {
        const section_t *s = o->sections[i];
        if (!active(s)) continue;
        if (!s->pub.in_bundle)
            return section_fail(p, s, -PL_EINVAL, "active m-section outside the BUNDLE group");
        /* Only RTP has RTCP to mux: an SCTP data channel section carries no a=rtcp-mux. */
        if (s->is_rtp && !s->pub.rtcp_mux)
            return section_fail(p, s, -PL_EINVAL, "m-section without a=rtcp-mux");
        for (size_t j = 0; j < i; j++) {
            int rc = o->sections[j]->pub.in_bundle ? check_extmap_ids(p, o->sections[j], s) : 0;
            if (rc < 0) return rc;
        }
    }
    return 0;
}

/* The transport attributes of the offerer-tagged section override the session level, each
 * group (ICE credentials, fingerprints, setup) as a whole. */
static int resolve_transport(parser_t *p)
{
    pl_sdp_offer_t *o = p->o;
    const section_t *tag = NULL;

    for (size_t i = 0; i < o->pub.n_bundle && tag == NULL; i++) {
        const section_t *s = find_mid(o, o->pub.bundle[i]);
        if (active(s)) tag = s;
    }
    if (tag == NULL) return fail(p, -PL_EINVAL, 0, "no active m-section in the BUNDLE group");

    /* Each group comes from the tagged section if it wrote any of it, else the session. */
    const xport_t *m = &tag->xport, *sess = &o->session;
    const xport_t *ice = m->ufrag != NULL || m->pwd != NULL ? m : sess;
    const xport_t *dtls = m->has_fp ? m : sess;
    if (ice->ufrag == NULL || ice->pwd == NULL)
        return fail(p, -PL_EINVAL, 0, "missing ICE credentials");
    if (!dtls->has_fp) return fail(p, -PL_EINVAL, 0, "missing a=fingerprint");
    if (!dtls->fp_sha256) return fail(p, -PL_EINVAL, 0, "fingerprint is not sha-256");
    pl_sdp_session_t *pub = &o->pub;
    pub->ice_ufrag = ice->ufrag;
    pub->ice_pwd = ice->pwd;
    pub->ice_options = m->options != NULL ? m->options : sess->options ? sess->options : "";
    pub->fingerprint_alg = "sha-256";
    memcpy(pub->fingerprint, dtls->fp, sizeof pub->fingerprint);
    pub->setup = m->setup != PL_SDP_SETUP_NONE ? m->setup : sess->setup;
    return 0;
}

/* ---- public ---- */

int pl_sdp_offer_parse(const uint8_t *buf, size_t len, pl_sdp_offer_t **out, pl_sdp_error_t *err)
{
    parser_t p = {.err = err};

    if (err != NULL) *err = (pl_sdp_error_t){0, NULL};
    if (out == NULL) return fail(&p, -PL_EINVAL, 0, "no output");
    *out = NULL;
    if (buf == NULL || len == 0) return fail(&p, -PL_EINVAL, 0, "empty description");
    if (len > PL_SDP_MAX_TEXT) return fail(&p, -PL_ETOOBIG, 0, "description too large");

    pl_sdp_offer_t *o = calloc(1, sizeof *o);
    char *text = malloc(len + 1);
    if (o == NULL || text == NULL) {
        free(o);
        free(text);
        return fail(&p, -PL_ENOMEM, 0, "out of memory");
    }
    memcpy(text, buf, len);
    text[len] = '\0';
    o->text = text;
    p.o = o;

    int rc = parse_text(&p, text, len);
    if (rc == 0 && (p.seen & SESSION_LINES) != SESSION_LINES)
        rc = fail(&p, -PL_EINVAL, 0, "missing v=, o=, s= or t= line");
    if (rc == 0) rc = check_sections(&p);
    if (rc == 0) rc = check_bundle(&p);
    if (rc == 0) rc = resolve_transport(&p);
    if (rc < 0) {
        pl_sdp_offer_destroy(o);
        return rc;
    }
    *out = o;
    return 0;
}

void pl_sdp_offer_destroy(pl_sdp_offer_t *o)
{
    if (o == NULL) return;
    for (size_t i = 0; i < o->n_sections; i++)
        free(o->sections[i]);
    free(o->text);
    free(o);
}

const pl_sdp_session_t *pl_sdp_offer_session(const pl_sdp_offer_t *o)
{
    return &o->pub;
}

size_t pl_sdp_offer_section_count(const pl_sdp_offer_t *o)
{
    return o->n_sections;
}

const pl_sdp_section_t *pl_sdp_offer_section(const pl_sdp_offer_t *o, size_t i)
{
    return i < o->n_sections ? &o->sections[i]->pub : NULL;
}

const pl_sdp_section_t *pl_sdp_offer_find_mid(const pl_sdp_offer_t *o, const char *mid)
{
    const section_t *s = find_mid(o, mid);
    return s != NULL ? &s->pub : NULL;
}
