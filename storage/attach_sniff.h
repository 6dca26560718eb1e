/* What an uploaded attachment really is, decided from its bytes and never from its name: JPEG,
 * PNG, PDF or HEIC, each walked far enough to know it is whole and ends where it should, with
 * nothing hidden inside (a zip archive) or after it (a polyglot). Pure: no I/O, no allocation,
 * no state, so it can run on any thread and be fuzzed as it is. See attach_sniff.c for exactly
 * what each format must look like. */
#ifndef PL_ATTACH_SNIFF_H
#define PL_ATTACH_SNIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_ATTACH_MAX_BYTES (10u * 1024u * 1024u) /* one attachment: 10 MiB */
#define PL_ATTACH_MAX_PER_MSG 5                   /* attachments on one message */

/* Why an attachment was refused, for /metrics and tests. PL_SNIFF_TOO_LARGE is decided by the
 * caller (the sniffer is given no more than it was sent). */
typedef enum {
    PL_SNIFF_OK = 0,
    PL_SNIFF_EMPTY,     /* no bytes */
    PL_SNIFF_UNKNOWN,   /* none of the four types (an AVIF, an MP4, a GIF, text ...) */
    PL_SNIFF_MALFORMED, /* starts like one of them but is cut short or broken inside */
    PL_SNIFF_ZIP,       /* a zip archive, or a zip record inside another file */
    PL_SNIFF_TRAILING,  /* bytes after the end of the image or document */
    PL_SNIFF_MISMATCH,  /* a real file, but of another type than the one claimed */
    PL_SNIFF_TOO_LARGE, /* over PL_ATTACH_MAX_BYTES */
    PL_SNIFF_CLASSES_
} pl_sniff_class_t;

/* Decides the type of b[0..n). On success returns 0 and sets *content_type to one of
 * "image/jpeg", "image/png", "image/heic", "application/pdf" (static strings). Otherwise returns
 * -PL_EINVAL and sets *why to a static sentence for people ("the PNG image is cut short");
 * *content_type is then NULL. Either out-parameter may be NULL. b may be NULL when n is 0. */
int pl_attach_sniff(const uint8_t *b, size_t n, const char **content_type, const char **why);

/* pl_attach_sniff, then the claim: claimed must be one of the four types and equal to what the
 * bytes are. 0, or -PL_EINVAL with *why and *cls (either may be NULL) saying why. A claim that
 * is not one of the four types is PL_SNIFF_UNKNOWN. */
int pl_attach_check(const uint8_t *b, size_t n, const char *claimed, const char **content_type,
                    const char **why, pl_sniff_class_t *cls);

/* True for exactly the four accepted content types (lower case, no parameters). */
bool pl_attach_type_known(const char *content_type);

/* A short stable name for a class ("zip", "trailing_data", ...), for metric labels. */
const char *pl_sniff_class_name(pl_sniff_class_t cls);

#endif
