/* Content sniffing for attachments (attach_sniff.h). The bytes come from outside: every read is
 * bounds-checked against n, and every length read from the file is checked before it is used.
 *
 * What each type must be, exactly:
 *
 *   JPEG  FF D8 FF, then marker segments walked by their lengths; at least one frame header
 *         (SOFn) and one scan (SOS) whose entropy-coded data is skipped to the next real marker;
 *         then EOI (FF D9). After EOI only zero bytes may follow (some encoders pad to a block
 *         size, and zeros can hide nothing). Anything else there is refused: that is where a
 *         `cat photo.jpg archive.zip` polyglot puts its payload. (Phones that append a second
 *         image after EOI, an MPF depth map, are refused too; the client re-encodes.)
 *   PNG   the 8-byte signature, IHDR first (13 bytes, non-zero size), every chunk's length
 *         inside the file and its CRC right, at least one IDAT, and the file ends exactly after
 *         IEND's CRC.
 *   PDF   "%PDF-1.0" to "%PDF-1.7" or "%PDF-2.0" at offset 0 and then a line end; the last
 *         "%%EOF" followed only by white space, with "startxref" in the 1 KiB before it.
 *   HEIC  ISO-BMFF: an ftyp box first whose major or compatible brands include an HEVC image
 *         brand (heic, heix, heim, heis, hevc, hevx; mif1/msf1 alone are not enough, since AVIF
 *         uses them too); every top-level box's size inside the file (32-bit, 64-bit or "to the
 *         end"), the boxes ending exactly at the end of the file, and a meta box (the image
 *         items) and an mdat box (their coded data) among them.
 *
 * And for every type: no zip record anywhere. A zip needs its end-of-central-directory record
 * (PK 05 06) to be opened, and its entries start with a local file header (PK 03 04). Four
 * bytes alone would match by chance about once in 2^32 positions, which is one photo in a few
 * hundred at 10 MiB, so a match counts only when the fields after it are plausible: a local
 * header's version (<= 6.3, from a known host system) and compression method (one zip
 * defines), or an end record whose disk numbers agree and whose central directory lies before
 * it. Any archive a zip reader would open has those. */
#include "storage/attach_sniff.h"
#include "core/err.h"

#include <string.h>

static const char T_JPEG[] = "image/jpeg", T_PNG[] = "image/png", T_HEIC[] = "image/heic",
                  T_PDF[] = "application/pdf";

typedef struct {
    const char *type;
    const char *why;
    pl_sniff_class_t cls;
} verdict_t;

static verdict_t refuse(pl_sniff_class_t cls, const char *why)
{
    verdict_t v = {NULL, why, cls};
    return v;
}

static verdict_t accept(const char *type)
{
    verdict_t v = {type, NULL, PL_SNIFF_OK};
    return v;
}

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
    return le16(p) | le16(p + 2) << 16;
}

/* ---- zip records ---- */

static bool zip_method_known(uint32_t m)
{
    static const uint16_t methods[] = {0,  1,  2,  3,  4,  5,  6,  8,  9,  10, 12,
                                       14, 18, 19, 93, 94, 95, 96, 97, 98, 99};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (methods[i] == m) return true;
    return false;
}

/* A zip record at b[p] (b[p..p+4) is already "PK" 03 04 or "PK" 05 06). */
static bool zip_record_at(const uint8_t *b, size_t n, size_t p)
{
    const uint8_t *r = b + p;
    size_t left = n - p;
    if (r[2] == 3) {
        if (left < 10) return false; /* too short to be an entry any reader would open */
        /* version needed: spec version (<= 6.3) in the low byte, a host system (0-19) above */
        return r[4] <= 63 && r[5] <= 19 && zip_method_known(le16(r + 8));
    }
    if (left < 22) return false;
    uint32_t disk = le16(r + 4), cd_disk = le16(r + 6), here = le16(r + 8), total = le16(r + 10);
    uint64_t cd_size = le32(r + 12), cd_off = le32(r + 16);
    if (disk != cd_disk || here > total) return false;
    return cd_off == 0xFFFFFFFFu || cd_off + cd_size <= p;
}

static bool has_zip(const uint8_t *b, size_t n)
{
    for (size_t p = 0; n >= 4 && p <= n - 4;) {
        const uint8_t *hit = memchr(b + p, 'P', n - 3 - p);
        if (!hit) return false;
        p = (size_t)(hit - b);
        if (b[p + 1] == 'K' &&
            ((b[p + 2] == 3 && b[p + 3] == 4) || (b[p + 2] == 5 && b[p + 3] == 6)) &&
            zip_record_at(b, n, p))
            return true;
        p++;
    }
    return false;
}

/* ---- JPEG ---- */

static bool jpeg_sof(uint8_t m)
{
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

/* Skips entropy-coded data from p to the next marker that is not a stuffed 00, a restart
 * marker or fill: returns its 0xFF's offset, or n if the data runs to the end. */
static size_t jpeg_skip_scan(const uint8_t *b, size_t n, size_t p)
{
    while (p < n) {
        const uint8_t *ff = memchr(b + p, 0xFF, n - p);
        if (!ff) return n;
        p = (size_t)(ff - b);
        if (p + 1 >= n) return n;
        uint8_t x = b[p + 1];
        if (x == 0x00 || (x >= 0xD0 && x <= 0xD7))
            p += 2;
        else if (x == 0xFF)
            p++;
        else
            return p;
    }
    return n;
}

static verdict_t sniff_jpeg(const uint8_t *b, size_t n)
{
    static const char cut[] = "the JPEG image is cut short";
    bool frame = false, scan = false;
    size_t p = 2;
    for (;;) {
        if (p >= n) return refuse(PL_SNIFF_MALFORMED, cut);
        if (b[p] != 0xFF)
            return refuse(PL_SNIFF_MALFORMED, "the JPEG image has data where a marker should be");
        /* fill bytes before a marker */
        while (p < n && b[p] == 0xFF) p++;
        if (p >= n) return refuse(PL_SNIFF_MALFORMED, cut);
        uint8_t m = b[p++];
        if (m == 0xD9) {
            if (!frame || !scan) return refuse(PL_SNIFF_MALFORMED, "the JPEG has no image data");
            for (; p < n; p++)
                if (b[p] != 0)
                    return refuse(PL_SNIFF_TRAILING,
                                  "there is data after the end of the JPEG image");
            return accept(T_JPEG);
        }
        if (m == 0x00 || m == 0xD8)
            return refuse(PL_SNIFF_MALFORMED, "the JPEG image has a misplaced marker");
        if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) continue; /* no length */
        if (n - p < 2) return refuse(PL_SNIFF_MALFORMED, cut);
        size_t len = be16(b + p);
        if (len < 2 || len > n - p)
            return refuse(PL_SNIFF_MALFORMED, "a JPEG segment runs past the end of the file");
        if (jpeg_sof(m)) {
            if (len < 8) return refuse(PL_SNIFF_MALFORMED, "the JPEG frame header is too short");
            frame = true;
        }
        p += len;
        if (m == 0xDA) {
            if (!frame)
                return refuse(PL_SNIFF_MALFORMED, "the JPEG has a scan before its frame header");
            scan = true;
            p = jpeg_skip_scan(b, n, p);
        }
    }
}

/* ---- PNG ---- */

/* CRC-32 (ISO 3309, as PNG uses it), four bits at a time: a 16-entry table, no state. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    static const uint32_t t[16] = {0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC,
                                   0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
                                   0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
                                   0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C};
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ t[crc & 15];
        crc = (crc >> 4) ^ t[crc & 15];
    }
    return crc;
}

static bool png_type_ok(const uint8_t *t)
{
    for (int i = 0; i < 4; i++)
        if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z'))) return false;
    return true;
}

static verdict_t sniff_png(const uint8_t *b, size_t n)
{
    bool first = true, idat = false;
    size_t p = 8;
    for (;;) {
        if (n - p < 12) return refuse(PL_SNIFF_MALFORMED, "the PNG image is cut short");
        uint32_t len = be32(b + p);
        const uint8_t *type = b + p + 4;
        if (len > 0x7FFFFFFFu || !png_type_ok(type))
            return refuse(PL_SNIFF_MALFORMED, "the PNG image has a damaged chunk");
        if ((uint64_t)len + 12 > n - p)
            return refuse(PL_SNIFF_MALFORMED, "a PNG chunk runs past the end of the file");
        uint32_t crc = crc32_update(0xFFFFFFFFu, type, (size_t)len + 4) ^ 0xFFFFFFFFu;
        if (crc != be32(b + p + 8 + len))
            return refuse(PL_SNIFF_MALFORMED, "the PNG image has a damaged chunk (bad CRC)");
        bool ihdr = memcmp(type, "IHDR", 4) == 0;
        if (first != ihdr)
            return refuse(PL_SNIFF_MALFORMED, "the PNG image does not start with its header");
        if (ihdr && (len != 13 || be32(type + 4) == 0 || be32(type + 8) == 0 ||
                     be32(type + 4) > 0x7FFFFFFFu || be32(type + 8) > 0x7FFFFFFFu))
            return refuse(PL_SNIFF_MALFORMED, "the PNG image header is not valid");
        first = false;
        if (memcmp(type, "IDAT", 4) == 0) idat = true;
        p += (size_t)len + 12;
        if (memcmp(type, "IEND", 4) == 0) {
            if (len != 0 || !idat)
                return refuse(PL_SNIFF_MALFORMED, "the PNG image has no image data");
            if (p != n)
                return refuse(PL_SNIFF_TRAILING, "there is data after the end of the PNG image");
            return accept(T_PNG);
        }
    }
}

/* ---- PDF ---- */

static bool pdf_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == 0;
}

/* Offset of the last occurrence of needle in b[from..to), or SIZE_MAX. */
static size_t find_last(const uint8_t *b, size_t from, size_t to, const char *needle)
{
    size_t k = strlen(needle);
    if (to < from + k) return SIZE_MAX;
    for (size_t p = to - k + 1; p-- > from;)
        if (memcmp(b + p, needle, k) == 0) return p;
    return SIZE_MAX;
}

static verdict_t sniff_pdf(const uint8_t *b, size_t n)
{
    /* "%PDF-" is already matched. */
    if (n < 9 ||
        !((b[5] == '1' && b[6] == '.' && b[7] >= '0' && b[7] <= '7') ||
          (b[5] == '2' && b[6] == '.' && b[7] == '0')) ||
        !(b[8] == '\r' || b[8] == '\n' || b[8] == ' '))
        return refuse(PL_SNIFF_MALFORMED, "the PDF header is not a known PDF version");
    size_t eof = find_last(b, 9, n, "%%EOF");
    if (eof == SIZE_MAX)
        return refuse(PL_SNIFF_MALFORMED, "the PDF has no end-of-file marker: it may be cut short");
    for (size_t p = eof + 5; p < n; p++)
        if (!pdf_space(b[p]))
            return refuse(PL_SNIFF_TRAILING, "there is data after the end of the PDF");
    size_t from = eof > 1024 + 9 ? eof - 1024 : 9;
    if (find_last(b, from, eof, "startxref") == SIZE_MAX)
        return refuse(PL_SNIFF_MALFORMED, "the PDF has no cross-reference pointer at its end");
    return accept(T_PDF);
}

/* ---- HEIC (ISO-BMFF) ---- */

static bool heic_brand(const uint8_t *b)
{
    static const char brands[][5] = {"heic", "heix", "heim", "heis", "hevc", "hevx"};
    for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
        if (memcmp(b, brands[i], 4) == 0) return true;
    return false;
}

/* The ftyp box at offset 0 (size already read as box_len, header 8 bytes) names an HEVC image
 * brand. */
static bool ftyp_is_heic(const uint8_t *b, size_t box_len)
{
    if (heic_brand(b + 8)) return true;
    for (size_t p = 16; p + 4 <= box_len; p += 4)
        if (heic_brand(b + p)) return true;
    return false;
}

static bool box_type_ok(const uint8_t *t)
{
    for (int i = 0; i < 4; i++)
        if (t[i] < 0x20 || t[i] > 0x7E) return false;
    return true;
}

static verdict_t sniff_heic(const uint8_t *b, size_t n)
{
    bool meta = false, mdat = false;
    size_t p = 0;
    while (p < n) {
        if (n - p < 8) return refuse(PL_SNIFF_MALFORMED, "the HEIC image is cut short");
        uint64_t size = be32(b + p);
        size_t hdr = 8;
        if (size == 1) {
            if (n - p < 16) return refuse(PL_SNIFF_MALFORMED, "the HEIC image is cut short");
            size = be64(b + p + 8);
            hdr = 16;
        } else if (size == 0) {
            size = n - p; /* the last box runs to the end of the file */
        }
        if (size < hdr || size > n - p)
            return refuse(PL_SNIFF_MALFORMED,
                          "a box of the HEIC image runs past the end of the file");
        const uint8_t *type = b + p + 4;
        if (!box_type_ok(type))
            return refuse(PL_SNIFF_MALFORMED, "the HEIC image has a damaged box");
        bool ftyp = memcmp(type, "ftyp", 4) == 0;
        if (p == 0) {
            /* The caller matched ftyp with an HEVC brand; check its shape. */
            if (!ftyp || hdr != 8 || size < 16 || (size - 16) % 4 != 0)
                return refuse(PL_SNIFF_MALFORMED, "the HEIC file type box is not valid");
        } else if (ftyp) {
            return refuse(PL_SNIFF_MALFORMED, "the HEIC image has a second file type box");
        }
        if (memcmp(type, "meta", 4) == 0) meta = true;
        if (memcmp(type, "mdat", 4) == 0) mdat = true;
        p += (size_t)size;
    }
    if (!meta) return refuse(PL_SNIFF_MALFORMED, "the HEIC image has no metadata box");
    if (!mdat) return refuse(PL_SNIFF_MALFORMED, "the HEIC image has no image data");
    return accept(T_HEIC);
}

/* ---- the decision ---- */

static verdict_t sniff(const uint8_t *b, size_t n)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (!b || n == 0) return refuse(PL_SNIFF_EMPTY, "the file is empty");
    /* A zip anywhere is refused whatever else the file is: first, so that the reason given for
     * a JPEG with an archive after it is the archive. */
    if (has_zip(b, n)) return refuse(PL_SNIFF_ZIP, "the file is or contains a zip archive");
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return sniff_jpeg(b, n);
    if (n >= 8 && memcmp(b, png_sig, 8) == 0) return sniff_png(b, n);
    if (n >= 5 && memcmp(b, "%PDF-", 5) == 0) return sniff_pdf(b, n);
    if (n >= 12 && memcmp(b + 4, "ftyp", 4) == 0) {
        uint32_t len = be32(b);
        if (len >= 16 && len <= n && ftyp_is_heic(b, len)) return sniff_heic(b, n);
        if (len >= 12 && len <= n && !heic_brand(b + 8))
            return refuse(PL_SNIFF_UNKNOWN,
                          "the file is a video or image container that is not HEIC");
        return refuse(PL_SNIFF_MALFORMED, "the HEIC file type box is not valid");
    }
    return refuse(PL_SNIFF_UNKNOWN, "the file is not a JPEG, PNG or HEIC image or a PDF document");
}

int pl_attach_sniff(const uint8_t *b, size_t n, const char **content_type, const char **why)
{
    verdict_t v = sniff(b, n);
    if (content_type) *content_type = v.type;
    if (why) *why = v.why;
    return v.cls == PL_SNIFF_OK ? 0 : -PL_EINVAL;
}

bool pl_attach_type_known(const char *t)
{
    return t && (strcmp(t, T_JPEG) == 0 || strcmp(t, T_PNG) == 0 || strcmp(t, T_HEIC) == 0 ||
                 strcmp(t, T_PDF) == 0);
}

int pl_attach_check(const uint8_t *b, size_t n, const char *claimed, const char **content_type,
                    const char **why, pl_sniff_class_t *cls)
{
    verdict_t v;
    if (!pl_attach_type_known(claimed))
        v = refuse(PL_SNIFF_UNKNOWN, "attachments must be JPEG, PNG or HEIC images or PDFs");
    else
        v = sniff(b, n);
    if (v.cls == PL_SNIFF_OK && strcmp(v.type, claimed) != 0) {
        v.cls = PL_SNIFF_MISMATCH;
        v.why = strcmp(v.type, T_PDF) == 0    ? "the file is a PDF, not the type it was sent as"
                : strcmp(v.type, T_JPEG) == 0 ? "the file is a JPEG image, not the type it was "
                                                "sent as"
                : strcmp(v.type, T_PNG) == 0  ? "the file is a PNG image, not the type it was "
                                                "sent as"
                                              : "the file is a HEIC image, not the type it was "
                                                "sent as";
        v.type = NULL;
    }
    if (content_type) *content_type = v.type;
    if (why) *why = v.why;
    if (cls) *cls = v.cls;
    return v.cls == PL_SNIFF_OK ? 0 : -PL_EINVAL;
}

const char *pl_sniff_class_name(pl_sniff_class_t cls)
{
    static const char *const names[PL_SNIFF_CLASSES_] = {"ok",        "empty",    "unknown_type",
                                                         "malformed", "zip",      "trailing_data",
                                                         "mismatch",  "too_large"};
    return (unsigned)cls < PL_SNIFF_CLASSES_ ? names[cls] : "unknown";
}
