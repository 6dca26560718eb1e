/* Fuzz target: the uploaded-file checks (storage/attach_sniff.c). The input is the body of an
 * upload, checked as it is and against every claimed content type (the four accepted ones and
 * some that are not), as signalling/attach.c does before it stores anything.
 *
 * What must hold, whatever the bytes (besides no read past them, which ASan watches):
 * - pl_attach_sniff gives a type (one of the four, NULL reason) exactly when it returns 0, and a
 *   reason (NULL type) otherwise; the type agrees with the file's magic bytes;
 * - pl_attach_check with the sniffed type succeeds; with another of the four it is a mismatch;
 *   with a type that is not one of the four it is PL_SNIFF_UNKNOWN; when the sniff fails, every
 *   accepted claim fails the same way; the class always has a name;
 * - a file it accepts stops being acceptable when anything is put after it: a zip archive (the
 *   polyglot the checks exist for) is PL_SNIFF_ZIP, and one more byte that is neither zero nor
 *   white space is refused (PL_SNIFF_TRAILING after a JPEG, PNG or PDF), except after a HEIC
 *   whose last box is declared to run to the end of the file (size 0), which then simply grows;
 *   and an accepted PNG cut by one byte is refused. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "storage/attach_sniff.h"
#include "tests/support/attach_files.h"

static const char *const known[] = {"image/jpeg", "image/png", "image/heic", "application/pdf"};
static const char *const unknown[] = {"",           "image/gif",        "IMAGE/PNG",
                                      "image/png ", "image/png; x=y",   "application/zip",
                                      "image/jpg",  "application/pdf\n"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void fail(const char *why, const char *detail)
{
    fprintf(stderr, "fuzz_upload: %s%s%s\n", why, detail ? ": " : "", detail ? detail : "");
    abort();
}

static bool is_known(const char *t)
{
    for (size_t i = 0; i < COUNT(known); i++)
        if (t && strcmp(t, known[i]) == 0) return true;
    return false;
}

/* The check of b against claimed, with the contract of its out-parameters verified. */
static pl_sniff_class_t check(const uint8_t *b, size_t n, const char *claimed, const char **why)
{
    const char *type = "unset";
    pl_sniff_class_t cls = PL_SNIFF_CLASSES_;
    *why = "unset";
    int rc = pl_attach_check(b, n, claimed, &type, why, &cls);
    if ((unsigned)cls >= PL_SNIFF_CLASSES_) fail("a class out of range", claimed);
    if (strcmp(pl_sniff_class_name(cls), "unknown") == 0) fail("a class without a name", claimed);
    if ((rc == 0) != (cls == PL_SNIFF_OK)) fail("the return code and the class disagree", claimed);
    if (rc == 0 && (!type || strcmp(type, claimed) != 0 || *why))
        fail("accepted, but not as the type claimed", claimed);
    if (rc != 0 && (rc != -PL_EINVAL || type || !*why)) fail("refused without a reason", claimed);
    return cls;
}

/* b[0..n) with extra appended, sniffed. Returns its class. */
static pl_sniff_class_t class_with(const uint8_t *b, size_t n, const uint8_t *extra, size_t k,
                                   const char *claimed)
{
    uint8_t *c = malloc(n + k);
    if (!c) fail("out of memory", NULL);
    memcpy(c, b, n);
    memcpy(c + n, extra, k);
    const char *why;
    pl_sniff_class_t cls = check(c, n + k, claimed, &why);
    free(c);
    return cls;
}

/* The HEIC at b[0..n) ends with a box whose size field is 0 ("to the end of the file"). */
static bool heic_last_box_open(const uint8_t *b, size_t n)
{
    size_t p = 0;
    while (p + 8 <= n) {
        uint64_t size =
            (uint64_t)b[p] << 24 | (uint64_t)b[p + 1] << 16 | (uint64_t)b[p + 2] << 8 | b[p + 3];
        if (size == 0) return true;
        if (size == 1) {
            if (p + 16 > n) return false;
            size = 0;
            for (int i = 8; i < 16; i++)
                size = size << 8 | b[p + i];
        }
        if (size > n - p) return false;
        p += (size_t)size;
    }
    return false;
}

static void check_accepted(const uint8_t *b, size_t n, const char *type)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    bool magic = strcmp(type, "image/jpeg") == 0        ? n >= 3 && b[0] == 0xFF && b[1] == 0xD8
                 : strcmp(type, "image/png") == 0       ? n >= 8 && memcmp(b, png_sig, 8) == 0
                 : strcmp(type, "application/pdf") == 0 ? n >= 5 && memcmp(b, "%PDF-", 5) == 0
                                                        : n >= 8 && memcmp(b + 4, "ftyp", 4) == 0;
    if (!magic) fail("accepted without the type's magic bytes", type);

    /* The polyglot: the same file with a zip archive after it. */
    afx_file_t *zip = calloc(1, sizeof *zip);
    if (!zip) fail("out of memory", NULL);
    afx_append_zip(zip);
    if (class_with(b, n, zip->b, zip->n, type) != PL_SNIFF_ZIP)
        fail("a zip archive after an accepted file is not refused as a zip", type);
    free(zip);

    /* One byte more. A zip record cut too short to count may become one that counts (a zip,
     * then); after a HEIC the byte reads as a box cut short (malformed). */
    static const uint8_t z = 'Z';
    pl_sniff_class_t cls = class_with(b, n, &z, 1, type);
    if (strcmp(type, "image/heic") == 0) {
        /* A HEIC whose open last box ends in a zip record cut one byte short becomes a zip
         * with the byte: refusing it is right (the first saved input showed it). */
        if (cls != PL_SNIFF_ZIP && (cls == PL_SNIFF_OK) != heic_last_box_open(b, n))
            fail("a byte after a HEIC is judged against its last box's size", type);
    } else if (cls != PL_SNIFF_TRAILING && cls != PL_SNIFF_ZIP) {
        fail("a byte after an accepted file is not refused as trailing data", type);
    }

    if (strcmp(type, "image/png") == 0) {
        const char *why;
        if (check(b, n - 1, type, &why) == PL_SNIFF_OK) fail("a PNG cut short is accepted", NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > PL_ATTACH_MAX_BYTES) return 0; /* the caller refuses it before the sniffer */
    const char *type = "unset", *why = "unset";
    int rc = pl_attach_sniff(size ? data : NULL, size, &type, &why);
    if (rc == 0 && (!is_known(type) || why)) fail("accepted with no known type", type);
    if (rc != 0 && (rc != -PL_EINVAL || type || !why)) fail("refused without a reason", NULL);
    if (pl_attach_sniff(data, size, NULL, NULL) != rc) fail("NULL out-parameters change it", NULL);
    if (size == 0 && rc == 0) fail("an empty file is accepted", NULL);

    const char *first_why = NULL;
    pl_sniff_class_t first_cls = PL_SNIFF_OK;
    for (size_t i = 0; i < COUNT(known); i++) {
        const char *cwhy;
        pl_sniff_class_t cls = check(data, size, known[i], &cwhy);
        if (rc == 0) {
            bool same = strcmp(type, known[i]) == 0;
            if (cls != (same ? PL_SNIFF_OK : PL_SNIFF_MISMATCH))
                fail("the claim is judged against another type than the sniffed one", known[i]);
        } else {
            if (cls == PL_SNIFF_OK || cls == PL_SNIFF_MISMATCH)
                fail("a refused file passes a claim", known[i]);
            if (strcmp(cwhy, why) != 0) fail("the check gives another reason than the sniff", cwhy);
            if (i == 0) {
                first_why = cwhy;
                first_cls = cls;
            } else if (cls != first_cls || strcmp(cwhy, first_why) != 0) {
                fail("claims of different types refuse the same file differently", known[i]);
            }
        }
    }
    for (size_t i = 0; i < COUNT(unknown); i++) {
        const char *cwhy;
        if (check(data, size, unknown[i], &cwhy) != PL_SNIFF_UNKNOWN)
            fail("a claim of an unaccepted type is not refused as unknown", unknown[i]);
    }
    const char *cwhy;
    if (check(data, size, NULL, &cwhy) != PL_SNIFF_UNKNOWN) fail("a NULL claim passes", NULL);
    if (rc == 0) check_accepted(data, size, type);
    return 0;
}
