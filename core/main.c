/* parley: one binary, several subcommands. `serve` runs the server on one libuv loop; the
 * others are admin tools that open the store directly. The process singletons (loop, config,
 * log level) are created here and passed down. */
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "signalling/admin.h"
#include "signalling/audit_cli.h"
#include "signalling/export_cli.h"
#include "signalling/keys_cli.h"
#include "signalling/server.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

static void usage(void)
{
    printf("usage: parley COMMAND [OPTIONS]\n\n"
           "Secure messaging and video consultations for primary care.\n\n"
           "Commands:\n"
           "  serve   Run the server (HTTPS + WSS; see `parley serve --help`).\n"
           "  demo    Seed a demo practice and print its logins.\n"
           "  org     Manage organisations (practices, networks, specialist services).\n"
           "  user    Manage patients and staff.\n"
           "  audit   Verify the tamper-evident audit trail, sign a checkpoint, or export a\n"
           "          patient's trail as FHIR AuditEvents.\n"
           "  export  Export a patient's record as FHIR R4 (`parley export fhir --help`).\n"
           "  keys    Rotate the at-rest master key, or an organisation's data key.\n\n"
           "Every command that touches data takes --data-dir DIR (default ./var).\n"
           "`parley COMMAND --help` explains each command.\n");
}

static void serve_usage(void)
{
    printf("usage: parley serve [--config FILE] [--port N] [--data-dir DIR] [--media-port N]\n"
           "                    [--bind ADDR] [--OPTION VALUE ...]\n\n"
           "Runs the server. On first run it creates DIR with the SQLite database, a random\n"
           "at-rest data key and a self-signed development TLS certificate. Logs are JSON lines\n"
           "on stdout. SIGTERM or SIGINT drains and exits 0.\n\n");
    pl_config_print_help();
}

static uv_signal_t sig_term, sig_int;

static void on_signal(uv_signal_t *h, int signum)
{
    pl_server_t *srv = h->data;
    pl_log_info("main", "signal %d: draining", signum);
    uv_signal_stop(&sig_term);
    uv_signal_stop(&sig_int);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    pl_server_shutdown(srv);
}

static int serve_main(int argc, char **argv)
{
    pl_config_t cfg;
    pl_config_defaults(&cfg);
    /* The config file comes first whatever its place on the line: flags must win over it. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            serve_usage();
            return 0;
        }
        if (!strcmp(argv[i], "--config") && i + 1 < argc &&
            pl_config_load_file(&cfg, argv[i + 1]) < 0) {
            fprintf(stderr, "cannot load config file %s\n", argv[i + 1]);
            return 2;
        }
    }
    if (pl_config_load_env(&cfg) < 0) return 2;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "unexpected argument %s (see parley serve --help)\n", arg);
            return 2;
        }
        char key[64];
        const char *val, *eq = strchr(arg, '=');
        if (eq) {
            snprintf(key, sizeof key, "%.*s", (int)(eq - arg - 2), arg + 2);
            val = eq + 1;
        } else {
            snprintf(key, sizeof key, "%s", arg + 2);
            if (i + 1 >= argc) {
                fprintf(stderr, "--%s needs a value\n", key);
                return 2;
            }
            val = argv[++i];
        }
        if (!strcmp(key, "config")) continue;
        int rc = pl_config_set(&cfg, key, val);
        if (rc < 0) {
            fprintf(stderr, "%s option --%s (see parley serve --help)\n",
                    rc == -PL_ENOTFOUND ? "unknown" : "bad value for", key);
            return 2;
        }
    }
    pl_log_level_t lvl;
    if (pl_log_parse_level(cfg.log_level, &lvl) == 0) pl_log_set_level(lvl);

    uv_loop_t *loop = uv_default_loop();
    pl_server_t *srv = NULL;
    if (pl_server_create(&srv, loop, &cfg) < 0) return 1;
    uv_signal_init(loop, &sig_term);
    uv_signal_init(loop, &sig_int);
    sig_term.data = sig_int.data = srv;
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    pl_server_destroy(srv);
    uv_loop_close(loop);
    pl_log_info("main", "stopped");
    return 0;
}

int main(int argc, char **argv)
{
    /* Everything Parley creates (database, keys, logs it writes) is private to its user. */
    umask(077);
    signal(SIGPIPE, SIG_IGN);
    json_object_seed(0);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve")) return serve_main(argc - 1, argv + 1);
    pl_log_to_stderr();
    if (!strcmp(cmd, "demo")) return pl_admin_demo_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "org")) return pl_admin_org_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "user")) return pl_admin_user_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "audit")) return pl_audit_cli_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "export")) return pl_export_cli_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "keys")) return pl_keys_cli_main(argc - 1, argv + 1);
    fprintf(stderr, "unknown command %s\n\n", cmd);
    usage();
    return 2;
}
