/* Unit tests for storage/attach_sniff.c: the four accepted types built byte by byte here (a
 * minimal but well-formed JPEG, PNG with real CRCs, PDF and HEIC box layout), every truncation
 * of each, malformed structure, polyglots (JPEG + zip, PNG with trailing data, a PDF carrying a
 * zip entry), claims that do not match, and a deterministic mutation run that must never read
 * out of bounds (run it under make test-asan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "storage/attach_sniff.h"
#include "tests/support/attach_files.h"

/* ---- JPEG: SOI, APP0 JFIF, DQT, SOF0 1x1 grey, DHT, SOS, entropy data, EOI ---- */

static void jpeg_segment(afx_file_t *f, uint8_t marker, const uint8_t *data, size_t n)
{
    afx_put_u8(f, 0xFF);
    afx_put_u8(f, marker);
    afx_put_be16(f, (uint32_t)n + 2);
    afx_append(f, data, n);
}

static afx_file_t jpeg_file(void)
{
    afx_file_t f = {.n = 0};
    static const uint8_t soi[] = {0xFF, 0xD8};
    static const uint8_t jfif[] = {'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};
    static const uint8_t sof0[] = {8, 0, 1, 0, 1, 1, 1, 0x11, 0};
    static const uint8_t dht[] = {0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t sos[] = {1, 1, 0, 0, 0x3F, 0};
    /* entropy-coded data with a stuffed FF 00, a restart marker and fill bytes before EOI */
    static const uint8_t scan[] = {0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xFF};
    static const uint8_t eoi[] = {0xFF, 0xD9};
    uint8_t dqt[65] = {0};
    for (int i = 1; i < 65; i++)
        dqt[i] = 1;
    afx_append(&f, soi, sizeof soi);
    jpeg_segment(&f, 0xE0, jfif, sizeof jfif);
    jpeg_segment(&f, 0xDB, dqt, sizeof dqt);
    jpeg_segment(&f, 0xC0, sof0, sizeof sof0);
    jpeg_segment(&f, 0xC4, dht, sizeof dht);
    jpeg_segment(&f, 0xDA, sos, sizeof sos);
    afx_append(&f, scan, sizeof scan);
    afx_append(&f, eoi, sizeof eoi);
    return f;
}

/* ---- PNG: signature, IHDR 1x1 grey, IDAT (a stored zlib block), IEND; real CRCs ---- */

/* Bitwise CRC-32, independent of the table the sniffer uses. */
static void png_chunk(afx_file_t *f, const char *type, const uint8_t *data, size_t n)
{
    afx_put_be32(f, (uint32_t)n);
    size_t at = f->n;
    afx_append(f, type, 4);
    if (n) afx_append(f, data, n);
    afx_put_be32(f, afx_crc32(f->b + at, n + 4));
}

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

static void png_ihdr(afx_file_t *f, uint32_t w, uint32_t h)
{
    uint8_t ihdr[13] = {(uint8_t)(w >> 24),
                        (uint8_t)(w >> 16),
                        (uint8_t)(w >> 8),
                        (uint8_t)w,
                        (uint8_t)(h >> 24),
                        (uint8_t)(h >> 16),
                        (uint8_t)(h >> 8),
                        (uint8_t)h,
                        8,
                        0,
                        0,
                        0,
                        0};
    png_chunk(f, "IHDR", ihdr, sizeof ihdr);
}

static void png_idat(afx_file_t *f)
{
    /* zlib header, one final stored block of 2 bytes (filter 0, pixel 0), Adler-32 */
    static const uint8_t z[] = {0x78, 0x01, 0x01, 0x02, 0x00, 0xFD, 0xFF,
                                0x00, 0x00, 0x00, 0x02, 0x00, 0x01};
    png_chunk(f, "IDAT", z, sizeof z);
}

static afx_file_t png_file(void)
{
    afx_file_t f = {.n = 0};
    afx_append(&f, png_sig, sizeof png_sig);
    png_ihdr(&f, 1, 1);
    png_idat(&f);
    png_chunk(&f, "IEND", NULL, 0);
    return f;
}

/* ---- PDF: header, two objects, xref, trailer, startxref, %%EOF ---- */

static afx_file_t pdf_with(const char *extra_object)
{
    afx_file_t f = {.n = 0};
    afx_put_str(&f, "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    afx_put_str(&f, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    afx_put_str(&f, "2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n");
    if (extra_object) afx_put_str(&f, extra_object);
    char tail[200];
    snprintf(tail, sizeof tail,
             "xref\n0 3\n0000000000 65535 f \n0000000015 00000 n \n0000000064 00000 n \n"
             "trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n",
             f.n);
    afx_put_str(&f, tail);
    return f;
}

static afx_file_t pdf_file(void)
{
    return pdf_with(NULL);
}

/* ---- HEIC: ftyp (brands), meta (full box with an hdlr 'pict'), mdat ---- */

static void heic_ftyp(afx_file_t *f, const char *major, const char *const *compat, int ncompat)
{
    afx_put_be32(f, (uint32_t)(16 + 4 * ncompat));
    afx_put_str(f, "ftyp");
    afx_append(f, major, 4);
    afx_put_be32(f, 0);
    for (int i = 0; i < ncompat; i++)
        afx_append(f, compat[i], 4);
}

static void heic_meta(afx_file_t *f)
{
    afx_put_be32(f, 8 + 4 + 33);
    afx_put_str(f, "meta");
    afx_put_be32(f, 0); /* version and flags */
    afx_put_be32(f, 33);
    afx_put_str(f, "hdlr");
    afx_put_be32(f, 0);
    afx_put_be32(f, 0);
    afx_put_str(f, "pict");
    for (int i = 0; i < 12; i++)
        afx_put_u8(f, 0);
    afx_put_u8(f, 0); /* empty name */
}

static void heic_mdat(afx_file_t *f)
{
    afx_put_be32(f, 8 + 4);
    afx_put_str(f, "mdat");
    afx_put_be32(f, 0xDEADBEEF);
}

static afx_file_t heic_file(void)
{
    static const char *const compat[] = {"mif1", "heic"};
    afx_file_t f = {.n = 0};
    heic_ftyp(&f, "heic", compat, 2);
    heic_meta(&f);
    heic_mdat(&f);
    return f;
}

/* ---- assertions ---- */

static void assert_type(const afx_file_t *f, const char *want)
{
    const char *type = "unset", *why = "unset";
    int rc = pl_attach_sniff(f->b, f->n, &type, &why);
    if (rc != 0) print_error("refused: %s\n", why);
    assert_int_equal(rc, 0);
    assert_string_equal(type, want);
    assert_null(why);
    /* and the same file claimed as what it is passes the check */
    pl_sniff_class_t cls = PL_SNIFF_CLASSES_;
    assert_int_equal(pl_attach_check(f->b, f->n, want, &type, &why, &cls), 0);
    assert_int_equal(cls, PL_SNIFF_OK);
}

static void assert_refused(const uint8_t *b, size_t n, pl_sniff_class_t want, const char *why_has)
{
    const char *type = "unset", *why = NULL;
    pl_sniff_class_t cls = PL_SNIFF_OK;
    assert_int_equal(pl_attach_sniff(b, n, &type, &why), -PL_EINVAL);
    assert_null(type);
    assert_non_null(why);
    /* any claim gets the same class, since the bytes are refused before the claim counts */
    assert_int_equal(pl_attach_check(b, n, "image/jpeg", &type, &why, &cls), -PL_EINVAL);
    if (cls != want)
        print_error("class %s, wanted %s (%s)\n", pl_sniff_class_name(cls),
                    pl_sniff_class_name(want), why);
    assert_int_equal(cls, want);
    if (why_has && !strstr(why, why_has)) print_error("why: %s\n", why);
    if (why_has) assert_non_null(strstr(why, why_has));
}

/* Every proper prefix of a valid file is refused (never accepted, never read past its end). */
static void assert_every_prefix_refused(const afx_file_t *f)
{
    for (size_t k = 0; k < f->n; k++) {
        uint8_t *copy = malloc(k ? k : 1); /* exact size: ASan catches a read past k */
        assert_non_null(copy);
        memcpy(copy, f->b, k);
        const char *why = NULL;
        int rc = pl_attach_sniff(copy, k, NULL, &why);
        if (rc == 0) print_error("prefix of %zu bytes accepted\n", k);
        assert_int_equal(rc, -PL_EINVAL);
        assert_non_null(why);
        free(copy);
    }
}

/* ---- JPEG ---- */

static void test_minimal_jpeg_is_image_jpeg(void **s)
{
    afx_file_t f = jpeg_file();
    assert_type(&f, "image/jpeg");
}

static void test_jpeg_with_zero_padding_after_eoi_is_accepted(void **s)
{
    afx_file_t f = jpeg_file();
    for (int i = 0; i < 64; i++)
        afx_put_u8(&f, 0);
    assert_type(&f, "image/jpeg");
}

static void test_jpeg_with_data_after_eoi_is_refused(void **s)
{
    afx_file_t f = jpeg_file();
    afx_put_str(&f, "<script>alert(1)</script>");
    assert_refused(f.b, f.n, PL_SNIFF_TRAILING, "after the end of the JPEG");
    f = jpeg_file();
    afx_put_u8(&f, 0);
    afx_put_u8(&f, 1); /* zeros, then one byte that is not */
    assert_refused(f.b, f.n, PL_SNIFF_TRAILING, NULL);
}

static void test_jpeg_followed_by_zip_is_refused_as_zip(void **s)
{
    afx_file_t f = jpeg_file();
    afx_append_zip(&f);
    assert_refused(f.b, f.n, PL_SNIFF_ZIP, "zip");
}

static void test_every_truncation_of_a_jpeg_is_refused(void **s)
{
    afx_file_t f = jpeg_file();
    assert_every_prefix_refused(&f);
}

static void test_jpeg_segment_length_past_the_end_is_refused(void **s)
{
    afx_file_t f = jpeg_file();
    /* APP0's length (at offset 4) claims more than the file holds */
    f.b[4] = 0xFF;
    f.b[5] = 0xF0;
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "past the end");
    f = jpeg_file();
    f.b[4] = 0;
    f.b[5] = 1; /* shorter than its own length field */
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, NULL);
}

static void test_jpeg_without_frame_or_scan_or_with_stray_bytes_is_refused(void **s)
{
    static const uint8_t soi_eoi[] = {0xFF, 0xD8, 0xFF, 0xD9};
    assert_refused(soi_eoi, sizeof soi_eoi, PL_SNIFF_MALFORMED, "no image data");
    static const uint8_t sos_first[] = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x00, 0xFF, 0xD9};
    assert_refused(sos_first, sizeof sos_first, PL_SNIFF_MALFORMED, "before its frame");
    static const uint8_t stray[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0x41, 0xFF, 0xD9};
    assert_refused(stray, sizeof stray, PL_SNIFF_MALFORMED, "where a marker should be");
    static const uint8_t nested[] = {0xFF, 0xD8, 0xFF, 0xD8, 0xFF, 0xD9};
    assert_refused(nested, sizeof nested, PL_SNIFF_MALFORMED, "misplaced marker");
    afx_file_t f = jpeg_file();
    f.n -= 2; /* scan data runs to the end: no EOI */
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "cut short");
}

/* ---- PNG ---- */

static void test_minimal_png_is_image_png(void **s)
{
    afx_file_t f = png_file();
    assert_type(&f, "image/png");
}

static void test_png_with_data_after_iend_is_refused(void **s)
{
    afx_file_t f = png_file();
    afx_put_u8(&f, 0);
    assert_refused(f.b, f.n, PL_SNIFF_TRAILING, "after the end of the PNG");
    f = png_file();
    afx_put_str(&f, "%PDF-1.4 hidden");
    assert_refused(f.b, f.n, PL_SNIFF_TRAILING, NULL);
}

static void test_every_truncation_of_a_png_is_refused(void **s)
{
    afx_file_t f = png_file();
    assert_every_prefix_refused(&f);
}

static void test_png_with_a_bad_crc_or_bad_chunk_is_refused(void **s)
{
    afx_file_t f = png_file();
    f.b[8 + 8 + 3] ^= 1; /* a byte of IHDR's width: its CRC no longer matches */
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "CRC");
    f = png_file();
    f.b[8] = 0xFF; /* IHDR length 0xFF00000D: over 2^31 */
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, NULL);
    f = png_file();
    f.b[8 + 4] = '1'; /* chunk type with a digit */
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, NULL);
    f = png_file();
    f.b[8 + 3] = 0x40; /* IHDR length runs past the end */
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "past the end");
}

static void test_png_structure_rules(void **s)
{
    afx_file_t f = {.n = 0}; /* IDAT before IHDR */
    afx_append(&f, png_sig, 8);
    png_idat(&f);
    png_ihdr(&f, 1, 1);
    png_chunk(&f, "IEND", NULL, 0);
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "start with its header");
    f.n = 0; /* no IDAT */
    afx_append(&f, png_sig, 8);
    png_ihdr(&f, 1, 1);
    png_chunk(&f, "IEND", NULL, 0);
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "no image data");
    f.n = 0; /* zero width */
    afx_append(&f, png_sig, 8);
    png_ihdr(&f, 0, 1);
    png_idat(&f);
    png_chunk(&f, "IEND", NULL, 0);
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "header is not valid");
    f.n = 0; /* two IHDRs */
    afx_append(&f, png_sig, 8);
    png_ihdr(&f, 1, 1);
    png_ihdr(&f, 1, 1);
    png_idat(&f);
    png_chunk(&f, "IEND", NULL, 0);
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, NULL);
    f.n = 0; /* an ancillary chunk between is fine */
    afx_append(&f, png_sig, 8);
    png_ihdr(&f, 1, 1);
    png_chunk(&f, "tEXt", (const uint8_t *)"Comment\0hi", 10);
    png_idat(&f);
    png_chunk(&f, "IEND", NULL, 0);
    assert_type(&f, "image/png");
}

/* ---- PDF ---- */

static void test_minimal_pdf_is_application_pdf(void **s)
{
    afx_file_t f = pdf_file();
    assert_type(&f, "application/pdf");
    afx_put_str(&f, "\r\n\n  \n"); /* white space after %%EOF is allowed */
    assert_type(&f, "application/pdf");
}

static void test_pdf_with_data_after_eof_is_refused(void **s)
{
    afx_file_t f = pdf_file();
    afx_put_str(&f, "<html><script>alert(1)</script></html>");
    assert_refused(f.b, f.n, PL_SNIFF_TRAILING, "after the end of the PDF");
}

static void test_pdf_containing_a_zip_entry_is_refused(void **s)
{
    afx_file_t z = {.n = 0};
    afx_append_zip(&z);
    afx_file_t f;
    char obj[64];
    snprintf(obj, sizeof obj, "3 0 obj\n<< /Length %zu >>\nstream\n", z.n);
    afx_file_t inner = {.n = 0};
    afx_put_str(&inner, obj);
    afx_append(&inner, z.b, z.n);
    afx_put_str(&inner, "\nendstream\nendobj\n");
    /* pdf_with takes a string: the archive has NULs, so splice it in by hand */
    f = pdf_with("@@@\n");
    uint8_t *at = memmem(f.b, f.n, "@@@\n", 4);
    assert_non_null(at);
    size_t off = (size_t)(at - f.b), rest = f.n - off - 4;
    uint8_t tail[1024];
    memcpy(tail, at + 4, rest);
    f.n = off;
    afx_append(&f, inner.b, inner.n);
    afx_append(&f, tail, rest);
    assert_refused(f.b, f.n, PL_SNIFF_ZIP, "zip");
}

static void test_pk_bytes_that_are_no_zip_record_are_not_a_zip(void **s)
{
    /* "PK\3\4" with an impossible version and method, and "PK\5\6" whose central directory
     * would lie after it: chance bytes in compressed data, not an archive. */
    afx_file_t f = pdf_with("% PK\x03\x04\xff\xff\xff\xff\xff\xff then PK\x05\x06\x01\x01\x02\x02"
                       "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\n");
    assert_type(&f, "application/pdf");
}

static void test_pdf_header_and_end_rules(void **s)
{
    afx_file_t f = pdf_file();
    f.b[5] = '9'; /* %PDF-9.4 */
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "PDF version");
    f = pdf_file();
    f.n -= 6; /* no %%EOF */
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "end-of-file marker");
    f = pdf_file();
    uint8_t *sx = memmem(f.b, f.n, "startxref", 9);
    assert_non_null(sx);
    sx[0] = 'S';
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "cross-reference");
    static const char v2[] = "%PDF-2.0\n%%EOF"; /* 2.0 is known, but no startxref */
    assert_refused((const uint8_t *)v2, strlen(v2), PL_SNIFF_MALFORMED, "cross-reference");
    static const char bare[] = "%PDF-";
    assert_refused((const uint8_t *)bare, strlen(bare), PL_SNIFF_MALFORMED, NULL);
}

static void test_every_truncation_of_a_pdf_is_refused(void **s)
{
    afx_file_t f = pdf_file();
    f.n -= 1; /* without its final line end the file is still whole: cut from there */
    assert_type(&f, "application/pdf");
    assert_every_prefix_refused(&f);
}

/* ---- HEIC ---- */

static void test_minimal_heic_is_image_heic(void **s)
{
    afx_file_t f = heic_file();
    assert_type(&f, "image/heic");
    /* major brand mif1 with heic among the compatible ones, as some phones write it */
    static const char *const compat[] = {"heic"};
    f.n = 0;
    heic_ftyp(&f, "mif1", compat, 1);
    heic_meta(&f);
    heic_mdat(&f);
    assert_type(&f, "image/heic");
}

static void test_heic_box_sizes_64_bit_and_to_the_end(void **s)
{
    static const char *const compat[] = {"mif1"};
    afx_file_t f = {.n = 0};
    heic_ftyp(&f, "heic", compat, 1);
    heic_meta(&f);
    afx_put_be32(&f, 1); /* mdat with a 64-bit size */
    afx_put_str(&f, "mdat");
    afx_put_be32(&f, 0);
    afx_put_be32(&f, 16 + 4);
    afx_put_be32(&f, 0x01020304);
    assert_type(&f, "image/heic");
    f.n = 0;
    heic_ftyp(&f, "heic", compat, 1);
    heic_meta(&f);
    afx_put_be32(&f, 0); /* mdat to the end of the file */
    afx_put_str(&f, "mdat");
    afx_put_str(&f, "pixels");
    assert_type(&f, "image/heic");
}

static void test_heic_malformed_boxes_are_refused(void **s)
{
    afx_file_t f = heic_file();
    afx_put_u8(&f, 0); /* trailing bytes too few for a box */
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "cut short");
    f = heic_file();
    f.b[f.n - 12 + 3] = 0x40; /* mdat claims more than the file holds */
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "past the end");
    f = heic_file();
    f.b[f.n - 12 + 3] = 4; /* mdat smaller than its own header */
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, NULL);
    static const char *const compat[] = {"mif1"};
    f.n = 0; /* no meta box */
    heic_ftyp(&f, "heic", compat, 1);
    heic_mdat(&f);
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "metadata");
    f.n = 0; /* no mdat box */
    heic_ftyp(&f, "heic", compat, 1);
    heic_meta(&f);
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "no image data");
    f.n = 0; /* a 64-bit size of 2^63 */
    heic_ftyp(&f, "heic", compat, 1);
    heic_meta(&f);
    afx_put_be32(&f, 1);
    afx_put_str(&f, "mdat");
    afx_put_be32(&f, 0x80000000u);
    afx_put_be32(&f, 0);
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "past the end");
    f.n = 0; /* a second ftyp */
    heic_ftyp(&f, "heic", compat, 1);
    heic_ftyp(&f, "heic", compat, 1);
    heic_meta(&f);
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "second file type");
    f.n = 0; /* ftyp whose brand list is not whole words */
    afx_put_be32(&f, 18);
    afx_put_str(&f, "ftypheic");
    afx_put_be32(&f, 0);
    afx_put_str(&f, "mi");
    heic_meta(&f);
    assert_refused(f.b, f.n, PL_SNIFF_MALFORMED, "file type box");
}

static void test_every_truncation_of_a_heic_is_refused(void **s)
{
    afx_file_t f = heic_file();
    assert_every_prefix_refused(&f);
}

static void test_avif_and_mp4_are_not_heic(void **s)
{
    static const char *const avif_compat[] = {"avif", "mif1", "miaf"};
    afx_file_t f = {.n = 0};
    heic_ftyp(&f, "avif", avif_compat, 3);
    heic_meta(&f);
    heic_mdat(&f);
    assert_refused(f.b, f.n, PL_SNIFF_UNKNOWN, "not HEIC");
    static const char *const mp4_compat[] = {"isom", "iso2", "mp41"};
    f.n = 0;
    heic_ftyp(&f, "isom", mp4_compat, 3);
    heic_mdat(&f);
    assert_refused(f.b, f.n, PL_SNIFF_UNKNOWN, NULL);
}

/* ---- everything else ---- */

static void test_empty_and_unknown_files_are_refused(void **s)
{
    assert_refused(NULL, 0, PL_SNIFF_EMPTY, "empty");
    static const uint8_t one[] = {0xFF};
    assert_refused(one, 1, PL_SNIFF_UNKNOWN, NULL);
    static const char gif[] = "GIF89a\x01\x00\x01\x00";
    assert_refused((const uint8_t *)gif, sizeof gif - 1, PL_SNIFF_UNKNOWN, "not a JPEG");
    static const char html[] = "<html><body>photo.jpg</body></html>";
    assert_refused((const uint8_t *)html, strlen(html), PL_SNIFF_UNKNOWN, NULL);
    afx_file_t z = {.n = 0};
    afx_append_zip(&z);
    assert_refused(z.b, z.n, PL_SNIFF_ZIP, "zip archive");
    /* an empty zip is only its end record */
    afx_file_t e = {.n = 0};
    afx_put_str(&e, "PK\x05\x06");
    for (int i = 0; i < 18; i++)
        afx_put_u8(&e, 0);
    assert_refused(e.b, e.n, PL_SNIFF_ZIP, NULL);
}

static void test_a_claim_that_differs_from_the_content_is_refused(void **s)
{
    const char *type = "unset", *why = NULL;
    pl_sniff_class_t cls = PL_SNIFF_OK;
    afx_file_t png = png_file(), pdf = pdf_file(), jpeg = jpeg_file(), heic = heic_file();
    assert_int_equal(pl_attach_check(png.b, png.n, "image/jpeg", &type, &why, &cls), -PL_EINVAL);
    assert_int_equal(cls, PL_SNIFF_MISMATCH);
    assert_null(type);
    assert_non_null(strstr(why, "PNG"));
    assert_int_equal(pl_attach_check(pdf.b, pdf.n, "image/png", &type, &why, &cls), -PL_EINVAL);
    assert_int_equal(cls, PL_SNIFF_MISMATCH);
    assert_non_null(strstr(why, "PDF"));
    assert_int_equal(pl_attach_check(jpeg.b, jpeg.n, "application/pdf", NULL, &why, &cls),
                     -PL_EINVAL);
    assert_int_equal(cls, PL_SNIFF_MISMATCH);
    assert_int_equal(pl_attach_check(heic.b, heic.n, "image/png", NULL, NULL, &cls), -PL_EINVAL);
    assert_int_equal(cls, PL_SNIFF_MISMATCH);
    /* a claim outside the four types, even for a good file */
    assert_int_equal(pl_attach_check(jpeg.b, jpeg.n, "text/html", NULL, &why, &cls), -PL_EINVAL);
    assert_int_equal(cls, PL_SNIFF_UNKNOWN);
    assert_int_equal(pl_attach_check(jpeg.b, jpeg.n, "IMAGE/JPEG", NULL, NULL, &cls), -PL_EINVAL);
    assert_int_equal(pl_attach_check(jpeg.b, jpeg.n, NULL, NULL, NULL, &cls), -PL_EINVAL);
    assert_int_equal(cls, PL_SNIFF_UNKNOWN);
}

static void test_known_types_and_class_names(void **s)
{
    assert_true(pl_attach_type_known("image/jpeg"));
    assert_true(pl_attach_type_known("image/png"));
    assert_true(pl_attach_type_known("image/heic"));
    assert_true(pl_attach_type_known("application/pdf"));
    assert_false(pl_attach_type_known("image/gif"));
    assert_false(pl_attach_type_known("image/jpeg; charset=x"));
    assert_false(pl_attach_type_known(NULL));
    assert_string_equal(pl_sniff_class_name(PL_SNIFF_ZIP), "zip");
    assert_string_equal(pl_sniff_class_name(PL_SNIFF_TRAILING), "trailing_data");
    assert_string_equal(pl_sniff_class_name(PL_SNIFF_MISMATCH), "mismatch");
    assert_string_equal(pl_sniff_class_name(PL_SNIFF_TOO_LARGE), "too_large");
    assert_string_equal(pl_sniff_class_name((pl_sniff_class_t)99), "unknown");
}

/* Flips, overwrites and cuts bytes of each valid file many times: every answer must be a clean
 * accept or refuse, never a read outside the buffer (each mutant is its own exact-size
 * allocation, so AddressSanitizer sees any overrun). */
static void test_mutated_files_never_read_out_of_bounds(void **s)
{
    afx_file_t seeds[4] = {jpeg_file(), png_file(), pdf_file(), heic_file()};
    uint32_t x = 2463534242u; /* xorshift32: the same run every time */
    for (int i = 0; i < 20000; i++) {
        const afx_file_t *seed = &seeds[i % 4];
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t n = seed->n - (x % 3 == 0 ? x % seed->n : 0);
        uint8_t *m = malloc(n ? n : 1);
        assert_non_null(m);
        memcpy(m, seed->b, n);
        for (int k = 0; k < 1 + (int)(x % 4) && n; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            m[x % n] = (uint8_t)(x >> 8);
        }
        const char *type = NULL, *why = NULL;
        int rc = pl_attach_sniff(m, n, &type, &why);
        assert_true(rc == 0 ? type != NULL && why == NULL : rc == -PL_EINVAL && why != NULL);
        free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_jpeg_is_image_jpeg),
        cmocka_unit_test(test_jpeg_with_zero_padding_after_eoi_is_accepted),
        cmocka_unit_test(test_jpeg_with_data_after_eoi_is_refused),
        cmocka_unit_test(test_jpeg_followed_by_zip_is_refused_as_zip),
        cmocka_unit_test(test_every_truncation_of_a_jpeg_is_refused),
        cmocka_unit_test(test_jpeg_segment_length_past_the_end_is_refused),
        cmocka_unit_test(test_jpeg_without_frame_or_scan_or_with_stray_bytes_is_refused),
        cmocka_unit_test(test_minimal_png_is_image_png),
        cmocka_unit_test(test_png_with_data_after_iend_is_refused),
        cmocka_unit_test(test_every_truncation_of_a_png_is_refused),
        cmocka_unit_test(test_png_with_a_bad_crc_or_bad_chunk_is_refused),
        cmocka_unit_test(test_png_structure_rules),
        cmocka_unit_test(test_minimal_pdf_is_application_pdf),
        cmocka_unit_test(test_pdf_with_data_after_eof_is_refused),
        cmocka_unit_test(test_pdf_containing_a_zip_entry_is_refused),
        cmocka_unit_test(test_pk_bytes_that_are_no_zip_record_are_not_a_zip),
        cmocka_unit_test(test_pdf_header_and_end_rules),
        cmocka_unit_test(test_every_truncation_of_a_pdf_is_refused),
        cmocka_unit_test(test_minimal_heic_is_image_heic),
        cmocka_unit_test(test_heic_box_sizes_64_bit_and_to_the_end),
        cmocka_unit_test(test_heic_malformed_boxes_are_refused),
        cmocka_unit_test(test_every_truncation_of_a_heic_is_refused),
        cmocka_unit_test(test_avif_and_mp4_are_not_heic),
        cmocka_unit_test(test_empty_and_unknown_files_are_refused),
        cmocka_unit_test(test_a_claim_that_differs_from_the_content_is_refused),
        cmocka_unit_test(test_known_types_and_class_names),
        cmocka_unit_test(test_mutated_files_never_read_out_of_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
