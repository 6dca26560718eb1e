/* A transcript as a self-contained HTML document (storage/transcript_html.c), for filing. */
#ifndef PL_TRANSCRIPT_HTML_H
#define PL_TRANSCRIPT_HTML_H

#include <jansson.h>

/* t: {"title", "patient":{display_name, nhs_number, date_of_birth}, "organisation" (name),
 *     "filed_by" (name), "filed_at" (ms), "summary"?:{code, display},
 *     "entries":[{author, role, at, body, attachments:[{filename, content_type}],
 *                 entered_in_error?:{by_name, at, reason}}]}.
 * *out: a NUL-terminated document the caller frees. -PL_EINVAL without entries; -PL_ENOMEM. */
int pl_transcript_html(const json_t *t, char **out);

#endif
