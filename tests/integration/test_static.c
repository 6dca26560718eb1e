/* Integration: static files and the web app's routes, against the real server binary over real
 * HTTPS. The server is given its own web root (a temporary directory holding index.html and one
 * script), so the test does not depend on the default web_root or on the web app's build. */
#include "tests/support/https.h"
#include "tests/support/pclient.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#define T 5000

static const char index_html[] = "<!doctype html><title>Parley test page</title>\n";
static const char app_js[] = "console.log('parley');\n";

static pl_fixture_t fx;
static char web_root[256];

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) != 0 ? -1 : rc;
}

static int group_setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(web_root, sizeof web_root, "%s/parley-web-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(web_root)) return -1;
    char sub[300];
    snprintf(sub, sizeof sub, "%s/app", web_root);
    if (write_file(web_root, "index.html", index_html) < 0 || mkdir(sub, 0700) < 0 ||
        write_file(sub, "main.js", app_js) < 0)
        return -1;
    const char *args[] = {"--web-root", web_root, NULL};
    return pl_fixture_start(&fx, args);
}

static int group_teardown(void **state)
{
    pl_fixture_stop(&fx);
    pl_test_rmtree(web_root);
    return 0;
}

/* GETs path and returns the response (caller frees with pl_http_resp_free). */
static pl_http_resp_t get(const char *path)
{
    pl_http_resp_t r;
    assert_int_equal(pl_https_request("127.0.0.1", fx.port, "GET", path, NULL, NULL, 0, T, &r), 0);
    return r;
}

static void assert_header(const pl_http_resp_t *r, const char *name, const char *want)
{
    char *v = pl_http_resp_header(r, name);
    assert_non_null(v);
    assert_non_null(strstr(v, want));
    free(v);
}

static void assert_index_page(const char *path)
{
    pl_http_resp_t r = get(path);
    if (r.status != 200) print_error("GET %s: status %d\n", path, r.status);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, index_html);
    assert_header(&r, "content-type", "text/html");
    /* The same security headers as any other static file. */
    assert_header(&r, "x-frame-options", "DENY");
    assert_header(&r, "x-content-type-options", "nosniff");
    assert_header(&r, "content-security-policy", "frame-ancestors 'none'");
    assert_header(&r, "strict-transport-security", "max-age=");
    assert_header(&r, "cache-control", "no-store");
    pl_http_resp_free(&r);
}

static void assert_json_404(const char *path)
{
    pl_http_resp_t r = get(path);
    if (r.status != 404) print_error("GET %s: status %d\n", path, r.status);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "\"not_found\""));
    pl_http_resp_free(&r);
}

static void test_app_routes_serve_index_html(void **s)
{
    assert_index_page("/practice/inbox");
    assert_index_page("/patient/requests/12");
    assert_index_page("/signin");
    assert_index_page("/practice/");
    assert_index_page("/practice/inbox?filter=open");
    assert_index_page("/");
    assert_index_page("/index.html");
}

static void test_files_are_served_by_extension(void **s)
{
    pl_http_resp_t r = get("/app/main.js");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, app_js);
    assert_header(&r, "content-type", "text/javascript");
    assert_header(&r, "x-frame-options", "DENY");
    pl_http_resp_free(&r);
}

static void test_unknown_extensions_odd_paths_and_api_paths_are_404(void **s)
{
    assert_json_404("/nope.txt");
    assert_json_404("/practice/inbox.php");
    assert_json_404("/api/v1/nope");
    assert_json_404("/api/v1/templates");
    assert_json_404("/api");
    /* Hidden files, dot runs, and bytes outside the allowed set never reach the file system,
     * and are not turned into the app's page either. */
    assert_json_404("/.env");
    assert_json_404("/practice/.hidden");
    assert_json_404("/app/..main.js");
    assert_json_404("/app/main..js");
    assert_json_404("/practice/in%20box");
    assert_json_404("/practice/inbox~");
}

static void test_dot_dot_does_not_leave_the_web_root(void **s)
{
    /* The HTTP layer resolves ".." segments before the server sees the path, at worst to the
     * root: an app route there gets the app's page, never a file from outside. */
    pl_http_resp_t r = get("/../../../../etc/passwd");
    assert_null(strstr(r.body, "root:"));
    assert_true(r.status == 200 || r.status == 404);
    if (r.status == 200) assert_string_equal(r.body, index_html);
    pl_http_resp_free(&r);
}

static void test_a_missing_file_with_a_known_extension_is_404(void **s)
{
    pl_http_resp_t r = get("/app/missing.js");
    assert_int_equal(r.status, 404);
    assert_null(strstr(r.body, "Parley test page"));
    pl_http_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_app_routes_serve_index_html),
        cmocka_unit_test(test_files_are_served_by_extension),
        cmocka_unit_test(test_unknown_extensions_odd_paths_and_api_paths_are_404),
        cmocka_unit_test(test_dot_dot_does_not_leave_the_web_root),
        cmocka_unit_test(test_a_missing_file_with_a_known_extension_is_404),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
