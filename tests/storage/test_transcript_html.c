/* Unit tests for storage/transcript_html.c: the filed rendering of a transcript. Every piece of
 * text is escaped (a message cannot become markup), an entry marked entered in error keeps its
 * text struck through with who, when and why, the summary names its SNOMED CT code, and input
 * without entries is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "storage/transcript_html.h"

static json_t *sample(void)
{
    return json_pack(
        "{ss s{ss ss ss} ss ss sI s{ss ss} s[{ss ss sI ss s[{ss ss}]} {ss ss sI ss s[] s{ss sI ss}}]}",
        "title", "Rash <on> arm", "patient", "display_name", "Ann \"Annie\" Taylor", "nhs_number",
        "9990002592", "date_of_birth", "1948-03-12", "organisation", "Riverside & Co",
        "filed_by", "Dr Asha Patel", "filed_at", (json_int_t)1795550100000LL, "summary", "code",
        "271807003", "display", "Eruption of skin", "entries", "author", "Ann Taylor", "role",
        "patient", "at", (json_int_t)1795550000000LL, "body", "<script>alert(1)</script>",
        "attachments", "filename", "arm's photo.png", "content_type", "image/png", "author",
        "Dr Asha Patel", "role", "staff", "at", (json_int_t)1795550050000LL, "body",
        "Take two tablets", "attachments", "entered_in_error", "by_name", "Dr Asha Patel", "at",
        (json_int_t)1795550060000LL, "reason", "Wrong patient");
}

static void test_text_is_escaped_everywhere(void **state)
{
    (void)state;
    json_t *t = sample();
    char *html = NULL;
    assert_int_equal(pl_transcript_html(t, &html), 0);
    assert_null(strstr(html, "<script>"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(html, "<title>Rash &lt;on&gt; arm</title>"));
    assert_non_null(strstr(html, "Ann &quot;Annie&quot; Taylor"));
    assert_non_null(strstr(html, "Riverside &amp; Co"));
    assert_non_null(strstr(html, "arm&#39;s photo.png (image/png)"));
    assert_non_null(strstr(html, "9990002592"));
    free(html);
    json_decref(t);
}

static void test_entered_in_error_is_kept_and_flagged(void **state)
{
    (void)state;
    json_t *t = sample();
    char *html = NULL;
    assert_int_equal(pl_transcript_html(t, &html), 0);
    assert_non_null(strstr(html, "<strong>Entered in error</strong>: marked by Dr Asha Patel"));
    assert_non_null(strstr(html, "Reason: Wrong patient"));
    assert_non_null(strstr(html, "<del>Take two tablets</del>"));
    assert_non_null(strstr(html, "Eruption of skin (SNOMED CT 271807003)"));
    /* In order: Ann's message before the GP's. */
    assert_true(strstr(html, "&lt;script&gt;") < strstr(html, "Take two tablets"));
    free(html);
    json_decref(t);
}

static void test_malformed_input_is_refused(void **state)
{
    (void)state;
    char *html = (char *)"untouched";
    json_t *none = json_object(), *bad = json_pack("{ss}", "entries", "x");
    assert_int_equal(pl_transcript_html(none, &html), -PL_EINVAL);
    assert_int_equal(pl_transcript_html(bad, &html), -PL_EINVAL);
    assert_int_equal(pl_transcript_html(NULL, &html), -PL_EINVAL);
    assert_string_equal(html, "untouched");
    /* Wrong types inside entries are rendered as empty, never crash. */
    json_t *odd = json_pack("{s[{si sb}]}", "entries", "body", 5, "attachments", 1);
    assert_int_equal(pl_transcript_html(odd, &html), 0);
    free(html);
    json_decref(odd);
    json_decref(none);
    json_decref(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_is_escaped_everywhere),
        cmocka_unit_test(test_entered_in_error_is_kept_and_flagged),
        cmocka_unit_test(test_malformed_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
