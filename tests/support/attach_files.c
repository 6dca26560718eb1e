/* See attach_files.h. Bounds: every builder fits well inside afx_file_t's 4 KiB; afx_append
 * aborts rather than overflow, since a test that outgrows it is a bug in the test. */
#include "tests/support/attach_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void afx_append(afx_file_t *f, const void *p, size_t n)
{
    if (f->n + n > sizeof f->b) {
        fprintf(stderr, "attach_files: file over %zu bytes\n", sizeof f->b);
        abort();
    }
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

void afx_put_u8(afx_file_t *f, uint8_t v)
{
    afx_append(f, &v, 1);
}

void afx_put_be16(afx_file_t *f, uint32_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    afx_append(f, b, 2);
}

void afx_put_be32(afx_file_t *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    afx_append(f, b, 4);
}

void afx_put_le16(afx_file_t *f, uint32_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    afx_append(f, b, 2);
}

void afx_put_le32(afx_file_t *f, uint32_t v)
{
    afx_put_le16(f, v & 0xFFFF);
    afx_put_le16(f, v >> 16);
}

void afx_put_str(afx_file_t *f, const char *s)
{
    afx_append(f, s, strlen(s));
}

uint32_t afx_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

void afx_jpeg(afx_file_t *f, uint8_t salt)
{
    /* clang-format off: one marker segment per line */
    static const uint8_t head[] = {
        0xFF, 0xD8,                                                            /* SOI */
        0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, /* APP0 */
        0xFF, 0xFE, 0x00, 0x03};                                    /* COM, 1 byte: salt */
    static const uint8_t tail[] = {
        0xFF, 0xC0, 0x00, 0x0B, 8, 0, 1, 0, 1, 1, 1, 0x11, 0,        /* SOF0, 1x1 grey */
        0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 0x3F, 0,                /* SOS */
        0x12, 0xFF, 0x00, 0x34,                                     /* scan data */
        0xFF, 0xD9};                                                /* EOI */
    /* clang-format on */
    f->n = 0;
    afx_append(f, head, sizeof head);
    afx_put_u8(f, salt);
    afx_append(f, tail, sizeof tail);
}

static void png_chunk(afx_file_t *f, const char *type, const uint8_t *data, size_t n)
{
    afx_put_be32(f, (uint32_t)n);
    size_t at = f->n;
    afx_append(f, type, 4);
    if (n) afx_append(f, data, n);
    afx_put_be32(f, afx_crc32(f->b + at, n + 4));
}

void afx_png(afx_file_t *f, uint8_t salt)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    static const uint8_t ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0};
    static const uint8_t idat[] = {0x78, 0x01, 0x01, 0x02, 0x00, 0xFD, 0xFF,
                                   0x00, 0x00, 0x00, 0x02, 0x00, 0x01};
    uint8_t text[] = {'C', 'o', 'm', 'm', 'e', 'n', 't', 0, salt};
    f->n = 0;
    afx_append(f, sig, sizeof sig);
    png_chunk(f, "IHDR", ihdr, sizeof ihdr);
    png_chunk(f, "tEXt", text, sizeof text);
    png_chunk(f, "IDAT", idat, sizeof idat);
    png_chunk(f, "IEND", NULL, 0);
}

void afx_pdf(afx_file_t *f, uint8_t salt)
{
    char tail[160];
    f->n = 0;
    afx_put_str(f, "%PDF-1.4\n");
    char comment[16];
    snprintf(comment, sizeof comment, "%%salt %u\n", salt);
    afx_put_str(f, comment);
    afx_put_str(f, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
               "2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n");
    size_t xref = f->n;
    afx_put_str(f, "xref\n0 3\n0000000000 65535 f \n0000000015 00000 n \n0000000064 00000 n \n");
    snprintf(tail, sizeof tail, "trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n",
             xref);
    afx_put_str(f, tail);
}

void afx_heic(afx_file_t *f, uint8_t salt)
{
    f->n = 0;
    afx_put_be32(f, 24);
    afx_put_str(f, "ftypheic");
    afx_put_be32(f, 0);
    afx_put_str(f, "mif1heic");
    afx_put_be32(f, 8 + 4 + 33); /* meta: a full box holding an hdlr 'pict' */
    afx_put_str(f, "meta");
    afx_put_be32(f, 0);
    afx_put_be32(f, 33);
    afx_put_str(f, "hdlr");
    afx_put_be32(f, 0);
    afx_put_be32(f, 0);
    afx_put_str(f, "pict");
    for (int i = 0; i < 12; i++)
        afx_put_u8(f, 0);
    afx_put_u8(f, 0);
    afx_put_be32(f, 8 + 4);
    afx_put_str(f, "mdat");
    afx_put_be32(f, 0xC0FFEE00u | salt);
}

void afx_append_zip(afx_file_t *f)
{
    static const char name[] = "a.txt", data[] = "hello";
    size_t start = f->n;
    uint32_t crc = afx_crc32((const uint8_t *)data, 5);
    afx_put_str(f, "PK\x03\x04");
    afx_put_le16(f, 20);
    afx_put_le16(f, 0);
    afx_put_le16(f, 0);
    afx_put_le32(f, 0);
    afx_put_le32(f, crc);
    afx_put_le32(f, 5);
    afx_put_le32(f, 5);
    afx_put_le16(f, 5);
    afx_put_le16(f, 0);
    afx_put_str(f, name);
    afx_put_str(f, data);
    size_t cd = f->n;
    afx_put_str(f, "PK\x01\x02");
    afx_put_le16(f, 0x0314);
    afx_put_le16(f, 20);
    afx_put_le16(f, 0);
    afx_put_le16(f, 0);
    afx_put_le32(f, 0);
    afx_put_le32(f, crc);
    afx_put_le32(f, 5);
    afx_put_le32(f, 5);
    afx_put_le16(f, 5);
    afx_put_le16(f, 0);
    afx_put_le16(f, 0);
    afx_put_le16(f, 0);
    afx_put_le16(f, 0);
    afx_put_le32(f, 0);
    afx_put_le32(f, 0);
    afx_put_str(f, name);
    size_t cd_len = f->n - cd;
    afx_put_str(f, "PK\x05\x06");
    afx_put_le16(f, 0);
    afx_put_le16(f, 0);
    afx_put_le16(f, 1);
    afx_put_le16(f, 1);
    afx_put_le32(f, (uint32_t)cd_len);
    afx_put_le32(f, (uint32_t)(cd - start));
    afx_put_le16(f, 0);
}
