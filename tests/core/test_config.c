/* Unit tests for core/config.c: built-in defaults, the `key = value` file format (comments,
 * quotes, blank lines, and rejection of unknown keys, bad integers and out-of-range values),
 * PARLEY_* environment variables overriding the file, option names with '-' or '_', and the
 * store URL defaulting from the data directory. Each test writes its files in its own mkdtemp
 * directory and starts with no PARLEY_* variables set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/err.h"

typedef struct {
    char dir[64];
    char path[128];
    pl_config_t cfg;
} fixture_t;

/* Every variable pl_config_load_env reads, so the caller's environment cannot leak in. */
static const char *const env_vars[] = {
    "PARLEY_PORT",
    "PARLEY_BIND",
    "PARLEY_DATA_DIR",
    "PARLEY_MEDIA_PORT",
    "PARLEY_STORE",
    "PARLEY_LOG_LEVEL",
    "PARLEY_MAX_MESSAGE_BYTES",
    "PARLEY_MAX_FRAME_BYTES",
    "PARLEY_RATE_LIMIT_PER_SEC",
    "PARLEY_RATE_LIMIT_BURST",
    "PARLEY_SESSION_IDLE_TIMEOUT_S",
    "PARLEY_SESSION_ABSOLUTE_TIMEOUT_S",
    "PARLEY_HTTP_TIMEOUT_S",
    "PARLEY_EVENT_PAGE_SIZE",
    "PARLEY_MAX_CONNECTIONS",
    "PARLEY_WEB_ROOT",
    "PARLEY_ATTACHMENT_UNSENT_TTL_S",
    "PARLEY_ATTACHMENT_PENDING_MAX",
    "PARLEY_RECORD_FHIR_URL",
    "PARLEY_RECORD_BEARER_TOKEN_FILE",
    "PARLEY_RECORD_CLIENT_CERT_FILE",
    "PARLEY_RECORD_CLIENT_KEY_FILE",
    "PARLEY_RECORD_CA_FILE",
    "PARLEY_RECORD_MAX_ATTEMPTS",
    "PARLEY_RECORD_RETRY_BASE_S",
};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof env_vars / sizeof env_vars[0]; i++)
        unsetenv(env_vars[i]);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/parley-test-config-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/parley.conf", f->dir);
    clear_env();
    pl_config_defaults(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    clear_env();
    free(f);
    return 0;
}

/* Writes text as the fixture's config file. */
static void write_conf(fixture_t *f, const char *text)
{
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void test_defaults_match_the_documented_values(void **state)
{
    fixture_t *f = *state;
    pl_config_t c;
    memset(&c, 0x5a, sizeof c); /* defaults must overwrite every field, not rely on zeroed memory */
    pl_config_defaults(&c);
    assert_int_equal(c.port, 8443);
    assert_string_equal(c.bind, "127.0.0.1");
    assert_string_equal(c.data_dir, "./var");
    assert_int_equal(c.media_port, 40000);
    assert_string_equal(c.store, "");
    assert_string_equal(c.log_level, "info");
    assert_int_equal(c.max_message_bytes, 16384);
    assert_int_equal(c.max_frame_bytes, 65536);
    assert_int_equal(c.rate_limit_per_sec, 50);
    assert_int_equal(c.rate_limit_burst, 200);
    assert_int_equal(c.session_idle_timeout_s, 1800);
    assert_int_equal(c.session_absolute_timeout_s, 43200);
    assert_int_equal(c.http_timeout_s, 10);
    assert_int_equal(c.event_page_size, 200);
    assert_int_equal(c.max_connections, 20000);
    assert_string_equal(c.web_root, "./web/public");
    assert_int_equal(c.attachment_url_ttl_s, 60);
    assert_int_equal(c.attachment_unsent_ttl_s, 86400);
    assert_int_equal(c.attachment_pending_max, 20);
    /* Write-back to the record system is off until a URL is given. */
    assert_string_equal(c.record_fhir_url, "");
    assert_string_equal(c.record_bearer_token_file, "");
    assert_string_equal(c.record_client_cert_file, "");
    assert_string_equal(c.record_client_key_file, "");
    assert_string_equal(c.record_ca_file, "");
    assert_int_equal(c.record_max_attempts, 10);
    assert_int_equal(c.record_retry_base_s, 30);
    (void)f;
}

static void test_file_applies_values_and_skips_comments_and_blank_lines(void **state)
{
    fixture_t *f = *state;
    write_conf(f, "# Parley test configuration\n"
                  "\n"
                  "   \n"
                  "port = 9001\n"
                  "   # an indented comment\n"
                  "\tbind=0.0.0.0   \n"
                  "data_dir = \"/srv/parley data\"\n"
                  "log_level = \"debug\"\n"
                  "max_message_bytes=\"2048\"\n"
                  "\n");
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), 0);
    assert_int_equal(f->cfg.port, 9001);
    assert_string_equal(f->cfg.bind, "0.0.0.0");
    assert_string_equal(f->cfg.data_dir, "/srv/parley data");
    assert_string_equal(f->cfg.log_level, "debug");
    assert_int_equal(f->cfg.max_message_bytes, 2048);
    /* Options the file does not mention keep their defaults. */
    assert_int_equal(f->cfg.media_port, 40000);
    assert_string_equal(f->cfg.web_root, "./web/public");
}

static void test_file_accepts_dashed_keys_and_crlf_line_endings(void **state)
{
    fixture_t *f = *state;
    write_conf(f, "media-port = 41000\r\nweb-root = /opt/web\r\n");
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), 0);
    assert_int_equal(f->cfg.media_port, 41000);
    assert_string_equal(f->cfg.web_root, "/opt/web");
}

static void test_file_with_only_comments_changes_nothing(void **state)
{
    fixture_t *f = *state;
    pl_config_t before = f->cfg;
    write_conf(f, "# nothing here\n# port = 1\n");
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), 0);
    assert_memory_equal(&before, &f->cfg, sizeof before);
}

/* Regression: a line longer than a fixed read buffer once split, and its tail acted. */
static void test_long_comment_line_is_ignored_entirely(void **state)
{
    fixture_t *f = *state;
    char text[1200];
    size_t n = 0;
    text[n++] = '#';
    memset(text + n, 'x', 1022);
    n += 1022;
    snprintf(text + n, sizeof text - n, "port = 1\n");
    write_conf(f, text);
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), 0);
    assert_int_equal(f->cfg.port, 8443);
}

static void test_missing_file_is_an_io_error(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), -PL_EIO);
}

static void test_file_unknown_key_is_rejected(void **state)
{
    fixture_t *f = *state;
    write_conf(f, "port = 9001\nno_such_option = 1\n");
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), -PL_EINVAL);
}

static void test_file_line_without_equals_is_rejected(void **state)
{
    fixture_t *f = *state;
    write_conf(f, "port 9001\n");
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), -PL_EINVAL);
}

static void test_file_bad_integers_are_rejected(void **state)
{
    fixture_t *f = *state;
    const char *bad[] = {"port = 80x\n",  "port = x80\n", "port =\n",
                         "port = \"\"\n", "port = 8.5\n", "port = 99999999999999999999\n",
                         "port = 0x50\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pl_config_defaults(&f->cfg);
        write_conf(f, bad[i]);
        assert_int_equal(pl_config_load_file(&f->cfg, f->path), -PL_EINVAL);
        assert_int_equal(f->cfg.port, 8443);
    }
}

static void test_file_out_of_range_values_are_rejected(void **state)
{
    fixture_t *f = *state;
    const char *bad[] = {"port = 65536\n",
                         "port = -1\n",
                         "session_idle_timeout_s = 1\n",
                         "http_timeout_s = 0\n",
                         "http_timeout_s = 601\n",
                         "max_frame_bytes = 1023\n",
                         "event_page_size = 0\n",
                         "attachment_unsent_ttl_s = 1\n",
                         "attachment_unsent_ttl_s = 2592001\n",
                         "attachment_pending_max = 0\n",
                         "attachment_pending_max = 1001\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pl_config_defaults(&f->cfg);
        write_conf(f, bad[i]);
        assert_int_equal(pl_config_load_file(&f->cfg, f->path), -PL_EINVAL);
    }
    /* The bounds themselves are allowed. */
    write_conf(f, "port = 65535\nhttp_timeout_s = 600\nmax_frame_bytes = 1024\n"
                  "attachment_unsent_ttl_s = 2592000\nattachment_pending_max = 1000\n");
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), 0);
    assert_int_equal(f->cfg.port, 65535);
    assert_int_equal(f->cfg.http_timeout_s, 600);
    assert_int_equal(f->cfg.max_frame_bytes, 1024);
    assert_int_equal(f->cfg.attachment_unsent_ttl_s, 2592000);
    assert_int_equal(f->cfg.attachment_pending_max, 1000);
    write_conf(f, "attachment_unsent_ttl_s = 2\nattachment_pending_max = 1\n");
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), 0);
    assert_int_equal(f->cfg.attachment_unsent_ttl_s, 2);
    assert_int_equal(f->cfg.attachment_pending_max, 1);
}

static void test_too_long_string_is_rejected_not_truncated(void **state)
{
    fixture_t *f = *state;
    char value[sizeof f->cfg.bind + 1];
    memset(value, 'a', sizeof value - 1);
    value[sizeof value - 1] = 0;
    assert_int_equal(pl_config_set(&f->cfg, "bind", value), -PL_EINVAL);
    assert_string_equal(f->cfg.bind, "127.0.0.1");
    value[sizeof f->cfg.bind - 1] = 0; /* exactly fits with its NUL */
    assert_int_equal(pl_config_set(&f->cfg, "bind", value), 0);
    assert_string_equal(f->cfg.bind, value);
}

static void test_env_port_overrides_file(void **state)
{
    fixture_t *f = *state;
    write_conf(f, "port = 9001\nbind = 10.0.0.1\n");
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), 0);
    assert_int_equal(setenv("PARLEY_PORT", "9100", 1), 0);
    assert_int_equal(pl_config_load_env(&f->cfg), 0);
    assert_int_equal(f->cfg.port, 9100);
    /* A value with no variable set keeps what the file said. */
    assert_string_equal(f->cfg.bind, "10.0.0.1");
}

static void test_env_multiword_option_is_read(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(setenv("PARLEY_DATA_DIR", "/var/lib/parley", 1), 0);
    assert_int_equal(setenv("PARLEY_EVENT_PAGE_SIZE", "50", 1), 0);
    assert_int_equal(pl_config_load_env(&f->cfg), 0);
    assert_string_equal(f->cfg.data_dir, "/var/lib/parley");
    assert_int_equal(f->cfg.event_page_size, 50);
}

static void test_env_bad_value_is_rejected(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(setenv("PARLEY_PORT", "eighty", 1), 0);
    assert_int_equal(pl_config_load_env(&f->cfg), -PL_EINVAL);
    assert_int_equal(f->cfg.port, 8443);
}

static void test_attachment_limits_come_from_file_env_and_flags(void **state)
{
    fixture_t *f = *state;
    write_conf(f, "attachment_unsent_ttl_s = 3600\nattachment-pending-max = 5\n");
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), 0);
    assert_int_equal(f->cfg.attachment_unsent_ttl_s, 3600);
    assert_int_equal(f->cfg.attachment_pending_max, 5);
    assert_int_equal(setenv("PARLEY_ATTACHMENT_PENDING_MAX", "7", 1), 0);
    assert_int_equal(pl_config_load_env(&f->cfg), 0);
    assert_int_equal(f->cfg.attachment_pending_max, 7);
    assert_int_equal(f->cfg.attachment_unsent_ttl_s, 3600); /* no variable: the file's value */
    /* a flag, as `--attachment-unsent-ttl-s 2` sets it */
    assert_int_equal(pl_config_set(&f->cfg, "attachment-unsent-ttl-s", "2"), 0);
    assert_int_equal(f->cfg.attachment_unsent_ttl_s, 2);
    assert_int_equal(pl_config_set(&f->cfg, "attachment-pending-max", "many"), -PL_EINVAL);
    assert_int_equal(f->cfg.attachment_pending_max, 7);
    assert_int_equal(setenv("PARLEY_ATTACHMENT_UNSENT_TTL_S", "0", 1), 0);
    assert_int_equal(pl_config_load_env(&f->cfg), -PL_EINVAL);
    assert_int_equal(f->cfg.attachment_unsent_ttl_s, 2);
}

static void test_record_options_come_from_file_env_and_flags(void **state)
{
    fixture_t *f = *state;
    write_conf(f, "record_fhir_url = https://fhir.example.nhs.uk/R4\n"
                  "record_bearer_token_file = /etc/parley/record.token\n"
                  "record-client-cert-file = /etc/parley/record.crt\n"
                  "record_client_key_file = /etc/parley/record.key\n"
                  "record_ca_file = /etc/parley/record-ca.pem\n"
                  "record_max_attempts = 5\n");
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), 0);
    assert_string_equal(f->cfg.record_fhir_url, "https://fhir.example.nhs.uk/R4");
    assert_string_equal(f->cfg.record_bearer_token_file, "/etc/parley/record.token");
    assert_string_equal(f->cfg.record_client_cert_file, "/etc/parley/record.crt");
    assert_string_equal(f->cfg.record_client_key_file, "/etc/parley/record.key");
    assert_string_equal(f->cfg.record_ca_file, "/etc/parley/record-ca.pem");
    assert_int_equal(f->cfg.record_max_attempts, 5);
    assert_int_equal(f->cfg.record_retry_base_s, 30);
    assert_int_equal(setenv("PARLEY_RECORD_RETRY_BASE_S", "60", 1), 0);
    assert_int_equal(setenv("PARLEY_RECORD_FHIR_URL", "http://127.0.0.1:8080/fhir", 1), 0);
    assert_int_equal(pl_config_load_env(&f->cfg), 0);
    assert_int_equal(f->cfg.record_retry_base_s, 60);
    assert_string_equal(f->cfg.record_fhir_url, "http://127.0.0.1:8080/fhir");
    /* flags, as `--record-max-attempts 1000 --record-retry-base-s 1` set them */
    assert_int_equal(pl_config_set(&f->cfg, "record-max-attempts", "1000"), 0);
    assert_int_equal(pl_config_set(&f->cfg, "record-retry-base-s", "1"), 0);
    assert_int_equal(f->cfg.record_max_attempts, 1000);
    assert_int_equal(f->cfg.record_retry_base_s, 1);
    /* An empty URL turns write-back off again. */
    assert_int_equal(pl_config_set(&f->cfg, "record-fhir-url", ""), 0);
    assert_string_equal(f->cfg.record_fhir_url, "");
}

static void test_record_limits_out_of_range_are_rejected(void **state)
{
    fixture_t *f = *state;
    const char *bad[][2] = {{"record_max_attempts", "0"},    {"record_max_attempts", "1001"},
                            {"record_max_attempts", "ten"},  {"record_retry_base_s", "0"},
                            {"record_retry_base_s", "-30"},  {"record_retry_base_s", "3601"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pl_config_set(&f->cfg, bad[i][0], bad[i][1]), -PL_EINVAL);
    }
    assert_int_equal(f->cfg.record_max_attempts, 10);
    assert_int_equal(f->cfg.record_retry_base_s, 30);
    write_conf(f, "record_max_attempts = 0\n");
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), -PL_EINVAL);
    assert_int_equal(setenv("PARLEY_RECORD_RETRY_BASE_S", "0", 1), 0);
    assert_int_equal(pl_config_load_env(&f->cfg), -PL_EINVAL);
    assert_int_equal(f->cfg.record_retry_base_s, 30);
    assert_int_equal(pl_config_set(&f->cfg, "record_max_attempts", "1"), 0);
    assert_int_equal(pl_config_set(&f->cfg, "record_retry_base_s", "3600"), 0);
}

static void test_record_url_must_be_https_or_http_to_loopback(void **state)
{
    fixture_t *f = *state;
    const char *good[] = {"https://fhir.example.nhs.uk",
                          "https://fhir.example.nhs.uk/",
                          "https://fhir.example.nhs.uk:9443/fhir/R4/",
                          "HTTPS://10.0.0.5/fhir",
                          "https://[2001:db8::1]:8443/fhir",
                          "http://127.0.0.1:8080",
                          "http://localhost/fhir",
                          "http://[::1]:9000/"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (pl_config_set(&f->cfg, "record_fhir_url", good[i]) != 0)
            fail_msg("refused %s", good[i]);
        assert_string_equal(f->cfg.record_fhir_url, good[i]);
    }
    const char *bad[] = {"fhir.example.nhs.uk",          /* no scheme */
                         "ftp://fhir.example.nhs.uk",    /* not HTTP */
                         "http://fhir.example.nhs.uk",   /* plain HTTP across a network */
                         "http://10.0.0.5/fhir",         /* ... to an address too */
                         "http://127.0.0.1.example.com", /* not loopback, whatever it starts with */
                         "https://",                     /* no host */
                         "https:///fhir",
                         "https://fhir.example.nhs.uk:0",
                         "https://fhir.example.nhs.uk:65536",
                         "https://fhir.example.nhs.uk:x/",
                         "https://user:pw@fhir.example.nhs.uk", /* credentials in a URL */
                         "https://fhir.example.nhs.uk/fhir?x=1",
                         "https://fhir.example.nhs.uk/fhir#top",
                         "https://fhir.example.nhs.uk/a b",
                         "https://fhir.example.nhs.uk/\r\nX-Injected: 1",
                         "https://[::1/fhir"};
    pl_config_defaults(&f->cfg);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (pl_config_set(&f->cfg, "record_fhir_url", bad[i]) != -PL_EINVAL)
            fail_msg("accepted %s", bad[i]);
        assert_string_equal(f->cfg.record_fhir_url, "");
    }
    /* From a file, too: the server would not start. */
    write_conf(f, "record_fhir_url = http://records.example.nhs.uk/fhir\n");
    assert_int_equal(pl_config_load_file(&f->cfg, f->path), -PL_EINVAL);
}

static void test_record_url_parses_into_host_port_and_base_path(void **state)
{
    pl_url_t u;
    assert_int_equal(pl_config_parse_url("https://fhir.example.nhs.uk/fhir/R4/", &u), 0);
    assert_true(u.tls);
    assert_string_equal(u.host, "fhir.example.nhs.uk");
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/fhir/R4");
    assert_int_equal(pl_config_parse_url("http://127.0.0.1:8080", &u), 0);
    assert_false(u.tls);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "");
    assert_int_equal(pl_config_parse_url("https://[2001:db8::1]:8443/", &u), 0);
    assert_string_equal(u.host, "2001:db8::1");
    assert_int_equal(u.port, 8443);
    assert_string_equal(u.path, "");
    (void)state;
}

static void test_set_accepts_dashes_underscores_and_any_case(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(pl_config_set(&f->cfg, "data-dir", "/a"), 0);
    assert_string_equal(f->cfg.data_dir, "/a");
    assert_int_equal(pl_config_set(&f->cfg, "data_dir", "/b"), 0);
    assert_string_equal(f->cfg.data_dir, "/b");
    assert_int_equal(pl_config_set(&f->cfg, "session-idle-timeout_s", "60"), 0);
    assert_int_equal(f->cfg.session_idle_timeout_s, 60);
    assert_int_equal(pl_config_set(&f->cfg, "PORT", "1234"), 0);
    assert_int_equal(f->cfg.port, 1234);
}

static void test_set_unknown_key_is_not_found_and_bad_value_invalid(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(pl_config_set(&f->cfg, "nope", "1"), -PL_ENOTFOUND);
    assert_int_equal(pl_config_set(&f->cfg, "", "1"), -PL_ENOTFOUND);
    assert_int_equal(pl_config_set(&f->cfg, "port-", "1"), -PL_ENOTFOUND);
    assert_int_equal(pl_config_set(&f->cfg, "port", "70000"), -PL_EINVAL);
    assert_int_equal(f->cfg.port, 8443);
}

static void test_store_url_defaults_from_data_dir(void **state)
{
    fixture_t *f = *state;
    char url[700];
    pl_config_store_url(&f->cfg, url, sizeof url);
    assert_string_equal(url, "sqlite:./var/parley.db");

    assert_int_equal(pl_config_set(&f->cfg, "data-dir", "/srv/parley"), 0);
    pl_config_store_url(&f->cfg, url, sizeof url);
    assert_string_equal(url, "sqlite:/srv/parley/parley.db");

    /* An explicit store wins over the data directory. */
    assert_int_equal(pl_config_set(&f->cfg, "store", "sqlite:/elsewhere/x.db"), 0);
    pl_config_store_url(&f->cfg, url, sizeof url);
    assert_string_equal(url, "sqlite:/elsewhere/x.db");
}

static void test_store_url_is_truncated_to_cap(void **state)
{
    fixture_t *f = *state;
    char url[8];
    memset(url, 'z', sizeof url);
    pl_config_store_url(&f->cfg, url, sizeof url);
    assert_string_equal(url, "sqlite:");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults_match_the_documented_values),
        T(test_file_applies_values_and_skips_comments_and_blank_lines),
        T(test_file_accepts_dashed_keys_and_crlf_line_endings),
        T(test_file_with_only_comments_changes_nothing),
        T(test_long_comment_line_is_ignored_entirely),
        T(test_missing_file_is_an_io_error),
        T(test_file_unknown_key_is_rejected),
        T(test_file_line_without_equals_is_rejected),
        T(test_file_bad_integers_are_rejected),
        T(test_file_out_of_range_values_are_rejected),
        T(test_too_long_string_is_rejected_not_truncated),
        T(test_env_port_overrides_file),
        T(test_env_multiword_option_is_read),
        T(test_env_bad_value_is_rejected),
        T(test_attachment_limits_come_from_file_env_and_flags),
        T(test_record_options_come_from_file_env_and_flags),
        T(test_record_limits_out_of_range_are_rejected),
        T(test_record_url_must_be_https_or_http_to_loopback),
        T(test_record_url_parses_into_host_port_and_base_path),
        T(test_set_accepts_dashes_underscores_and_any_case),
        T(test_set_unknown_key_is_not_found_and_bad_value_invalid),
        T(test_store_url_defaults_from_data_dir),
        T(test_store_url_is_truncated_to_cap),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
