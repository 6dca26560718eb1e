/* The TLS the server accepts, checked from outside with the openssl command-line client, as an
 * auditor would: TLS 1.2 and 1.3 only, with Mozilla's "intermediate" suites (forward-secret
 * AEAD), nothing older or weaker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/server.h"

static pl_test_server_t *srv;

static int setup(void **state)
{
    return pl_test_server_start(&srv, NULL, NULL);
}

static int teardown(void **state)
{
    pl_test_server_destroy(srv);
    return 0;
}

/* The cipher the handshake settled on with these s_client options, or "" if it failed. */
static void handshake(const char *opts, char *cipher, size_t cap)
{
    char cmd[512], line[512];
    snprintf(cmd, sizeof cmd,
             "echo | timeout 10 openssl s_client -connect 127.0.0.1:%d %s 2>&1",
             pl_test_server_port(srv), opts);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    cipher[0] = 0;
    bool seen = false;
    while (fgets(line, sizeof line, p)) {
        const char *c = strstr(line, ", Cipher is ");
        if (!c || strncmp(line, "New,", 4) != 0) continue;
        seen = true;
        c += strlen(", Cipher is ");
        snprintf(cipher, cap, "%.*s", (int)strcspn(c, "\r\n"), c);
        if (strcmp(cipher, "(NONE)") == 0) cipher[0] = 0;
    }
    pclose(p);
    if (!seen) cipher[0] = 0; /* no session at all: refused before it got that far */
}

static void test_tls_1_2_and_1_3_with_aead_suites_are_accepted(void **state)
{
    char c[128];
    handshake("-tls1_3", c, sizeof c);
    assert_string_equal(c, "TLS_AES_128_GCM_SHA256");
    handshake("-tls1_2", c, sizeof c);
    assert_string_equal(c, "ECDHE-ECDSA-AES128-GCM-SHA256");
    handshake("-tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384", c, sizeof c);
    assert_string_equal(c, "ECDHE-ECDSA-AES256-GCM-SHA384");
    handshake("-tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305", c, sizeof c);
    assert_string_equal(c, "ECDHE-ECDSA-CHACHA20-POLY1305");
    handshake("-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256", c, sizeof c);
    assert_string_equal(c, "TLS_CHACHA20_POLY1305_SHA256");
}

static void test_old_protocols_and_weak_suites_are_refused(void **state)
{
    /* The client is told to allow them (security level 0), so a refusal is the server's. */
    static const char *const refused[] = {
        "-tls1 -cipher DEFAULT@SECLEVEL=0",
        "-tls1_1 -cipher DEFAULT@SECLEVEL=0",
        "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0",   /* CBC */
        "-tls1_2 -cipher ECDHE-ECDSA-AES256-SHA384:@SECLEVEL=0", /* CBC */
        "-tls1_2 -cipher AES128-GCM-SHA256:@SECLEVEL=0",         /* no forward secrecy */
        "-tls1_2 -cipher ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0",      /* no encryption */
        "-tls1_3 -ciphersuites TLS_AES_128_CCM_SHA256",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char c[128];
        handshake(refused[i], c, sizeof c);
        if (c[0]) fail_msg("accepted %s with %s", refused[i], c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_1_2_and_1_3_with_aead_suites_are_accepted),
        cmocka_unit_test(test_old_protocols_and_weak_suites_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
