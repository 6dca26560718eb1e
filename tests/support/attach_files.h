/* Test support: small but well-formed files of the four attachment types (a 1x1 JPEG and PNG,
 * a one-page-tree PDF, a HEIC box layout) and a one-entry zip archive, built byte by byte, for
 * the integration tests of attachments; and the byte writers that tests/storage/test_attach_sniff.c
 * uses to build its own, piece by piece, to break them in particular places. */
#ifndef PL_TEST_ATTACH_FILES_H
#define PL_TEST_ATTACH_FILES_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t b[4096];
    size_t n;
} afx_file_t;

/* Each fills *f with a whole file. salt (0..255) changes one byte that the format ignores (a
 * comment or metadata), so that files with different salts have different SHA-256s. */
void afx_jpeg(afx_file_t *f, uint8_t salt);
void afx_png(afx_file_t *f, uint8_t salt);
void afx_pdf(afx_file_t *f, uint8_t salt);
void afx_heic(afx_file_t *f, uint8_t salt);
/* Appends a one-entry zip archive to f (a polyglot if f already holds a file). */
void afx_append_zip(afx_file_t *f);
/* Appends n bytes of p (aborts past the buffer: a test that outgrows it is a bug). */
void afx_append(afx_file_t *f, const void *p, size_t n);
/* Byte writers, for tests that build files piece by piece (test_attach_sniff.c). */
void afx_put_str(afx_file_t *f, const char *s);
void afx_put_u8(afx_file_t *f, uint8_t v);
void afx_put_be16(afx_file_t *f, uint32_t v);
void afx_put_be32(afx_file_t *f, uint32_t v);
void afx_put_le16(afx_file_t *f, uint32_t v);
void afx_put_le32(afx_file_t *f, uint32_t v);
/* CRC-32 (the polynomial of zlib, PNG and zip). */
uint32_t afx_crc32(const uint8_t *p, size_t n);

#endif
