/* A transcript rendered as a small, self-contained HTML document: what a filing keeps and the
 * record system receives (FHIR DocumentReference, text/html). Pure: no store, no clock. Every
 * piece of text is escaped; nothing from a message can become markup or script. */
#include "storage/transcript_html.h"
#include "core/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} sb_t;

static void sb_add(sb_t *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->buf, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

static void raw(sb_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Text as HTML: the five characters that could end an element or an attribute, escaped. */
static void text(sb_t *b, const char *s)
{
    if (!s) return;
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': raw(b, "&amp;"); break;
        case '<': raw(b, "&lt;"); break;
        case '>': raw(b, "&gt;"); break;
        case '"': raw(b, "&quot;"); break;
        case '\'': raw(b, "&#39;"); break;
        default: sb_add(b, p, 1);
        }
    }
}

/* "25 Nov 2026 10:04 UTC": the record's readers are people. */
static void when(sb_t *b, int64_t ms)
{
    char out[40];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, sizeof out, "%d %b %Y %H:%M UTC", &tm)) {
        raw(b, "unknown time");
        return;
    }
    raw(b, out);
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int pl_transcript_html(const json_t *t, char **out)
{
    if (!json_is_object(t) || !json_is_array(json_object_get(t, "entries"))) return -PL_EINVAL;
    sb_t b = {0};
    const json_t *pat = json_object_get(t, "patient"), *sum = json_object_get(t, "summary");
    raw(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    text(&b, str(t, "title"));
    raw(&b, "</title></head><body>\n<h1>");
    text(&b, str(t, "title"));
    raw(&b, "</h1>\n<dl>\n<dt>Patient</dt><dd>");
    text(&b, str(pat, "display_name"));
    raw(&b, "</dd>\n<dt>NHS number</dt><dd>");
    text(&b, str(pat, "nhs_number"));
    raw(&b, "</dd>\n<dt>Date of birth</dt><dd>");
    text(&b, str(pat, "date_of_birth"));
    raw(&b, "</dd>\n<dt>Organisation</dt><dd>");
    text(&b, str(t, "organisation"));
    raw(&b, "</dd>\n<dt>Filed by</dt><dd>");
    text(&b, str(t, "filed_by"));
    raw(&b, ", ");
    when(&b, json_integer_value(json_object_get(t, "filed_at")));
    raw(&b, "</dd>\n");
    if (json_is_object(sum)) {
        raw(&b, "<dt>Summary</dt><dd>");
        text(&b, str(sum, "display"));
        raw(&b, " (SNOMED CT ");
        text(&b, str(sum, "code"));
        raw(&b, ")</dd>\n");
    }
    raw(&b, "</dl>\n<ol>\n");
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(t, "entries"), i, e)
    {
        const json_t *err = json_object_get(e, "entered_in_error");
        raw(&b, "<li><p><strong>");
        text(&b, str(e, "author"));
        raw(&b, "</strong>");
        if (*str(e, "role")) {
            raw(&b, " (");
            text(&b, str(e, "role"));
            raw(&b, ")");
        }
        raw(&b, ", ");
        when(&b, json_integer_value(json_object_get(e, "at")));
        raw(&b, "</p>\n");
        if (json_is_object(err)) {
            raw(&b, "<p><strong>Entered in error</strong>: marked by ");
            text(&b, str(err, "by_name"));
            raw(&b, ", ");
            when(&b, json_integer_value(json_object_get(err, "at")));
            raw(&b, ". Reason: ");
            text(&b, str(err, "reason"));
            raw(&b, "</p>\n<p><del>");
            text(&b, str(e, "body"));
            raw(&b, "</del></p>\n");
        } else {
            raw(&b, "<p>");
            text(&b, str(e, "body"));
            raw(&b, "</p>\n");
        }
        size_t j;
        const json_t *a;
        json_array_foreach(json_object_get(e, "attachments"), j, a)
        {
            raw(&b, "<p>Attachment: ");
            text(&b, str(a, "filename"));
            raw(&b, " (");
            text(&b, str(a, "content_type"));
            raw(&b, ")</p>\n");
        }
        raw(&b, "</li>\n");
    }
    raw(&b, "</ol>\n</body></html>\n");
    if (b.oom) {
        free(b.buf);
        return -PL_ENOMEM;
    }
    *out = b.buf;
    return 0;
}
