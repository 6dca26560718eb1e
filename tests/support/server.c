/* Starts and stops the real Parley server binary for integration tests and the benchmark, and
 * runs its CLI (see server.h). Children are forked with PR_SET_PDEATHSIG so they die with the
 * test process, get the default SIGPIPE action and an empty signal mask back (the test may have
 * changed both), and inherit no descriptor but stdin/stdout/stderr. Readiness is the server's
 * own /healthz over real TLS, the same path every test then uses.
 *
 * The store: with PARLEY_TEST_BACKEND=postgres every data directory gets a database of its own
 * on the PARLEY_TEST_PG server (pg_fx), named to the children through PARLEY_STORE in an
 * environment built for them (the parent's own environment is never changed). The registry of
 * directory -> URL is a process singleton, as the tests are: servers and CLI commands are
 * started from the test's main thread. */
#include "tests/support/server.h"
#include "tests/support/https.h"
#include "tests/support/internal.h"
#include "tests/support/pg_fx.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 15000
#define READY_POLL_MS 50
#define STOP_TIMEOUT_MS 10000
#define CLI_TIMEOUT_MS 60000
#define LOG_TAIL_BYTES 4096
#define STORE_URL_MAX 1024

extern char **environ;

struct pl_test_server {
    pid_t pid; /* 0 when not running */
    int port, media_port;
    int owns_dir, keep_dir;
    char *dir;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int exit_status(int wstatus)
{
    if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
    return -1;
}

/* Reaps pid within timeout_ms. Returns 1 with *wstatus set, 0 on timeout, or a negative errno. */
static int reap(pid_t pid, int *wstatus, int timeout_ms)
{
    int64_t deadline = pl_tls__deadline(timeout_ms);
    for (;;) {
        pid_t r = waitpid(pid, wstatus, WNOHANG);
        if (r == pid) return 1;
        if (r < 0 && errno != EINTR) return -errno;
        if (pl_tls__now_ms() >= deadline) return 0;
        sleep_ms(10);
    }
}

static void kill_and_reap(pid_t pid)
{
    int wstatus;
    kill(pid, SIGKILL);
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
}

/* A free loopback port for `type` (SOCK_STREAM or SOCK_DGRAM): bind port 0, read it, close.
 * Returns the port or a negative errno. Another process could take it before the server binds;
 * on loopback in tests that race is accepted. */
static int free_port(int type)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -EADDRNOTAVAIL;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    else
        port = -errno;
    close(fd);
    return port;
}

/* Puts fd on target in the child, clearing close-on-exec even when fd already is target. */
static void child_fd(int fd, int target)
{
    if (fd == target)
        fcntl(fd, F_SETFD, 0);
    else
        dup2(fd, target);
}

/* Forks and execs argv[0] with the given stdin/stdout/stderr and environment (NULL: this
 * process's). Only async-signal-safe calls run in the child. Returns the pid or a negative
 * errno. */
static pid_t spawn(char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid > 0) return pid;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127); /* the test died before prctl took effect */
    child_fd(in_fd, 0);
    child_fd(out_fd, 1);
    child_fd(err_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, NULL);
    /* Descriptors the test opened without O_CLOEXEC (close_range(2), CLOSE_RANGE_CLOEXEC). */
    syscall(SYS_close_range, 3U, ~0U, 4U);
    execve(argv[0], argv, envp ? envp : environ);
    static const char msg[] = "tests/support: exec of PARLEY_BIN failed\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
}

/* ---- the store of each data directory ---- */

typedef struct {
    char *dir; /* canonical path (realpath), or the path as given while it did not exist */
    char url[STORE_URL_MAX];
} store_entry_t;

static store_entry_t **stores; /* each entry allocated alone, so its url never moves */
static size_t n_stores, cap_stores;
static pid_t stores_pid; /* the process that made them: a forked child never drops them */

int pl_test_backend_is_pg(void)
{
    const char *b = getenv("PARLEY_TEST_BACKEND");
    return b && strcmp(b, "postgres") == 0;
}

static int keep_env(void)
{
    const char *env = getenv("PARLEY_TEST_KEEP");
    return env && *env && strcmp(env, "0") != 0;
}

/* The database name of a URL made by pg_fx_create_db (never the whole URL: it may carry a
 * password). */
static void db_name(const char *url, char *out, size_t cap)
{
    const char *slash = strrchr(url, '/'), *name = slash ? slash + 1 : "?";
    size_t n = strcspn(name, "?");
    snprintf(out, cap, "%.*s", (int)n, name);
}

/* Drops the database of stores[i] (or names it, under PARLEY_TEST_KEEP) and forgets it. */
static void drop_store(size_t i)
{
    store_entry_t *e = stores[i];
    if (keep_env()) {
        char name[256];
        db_name(e->url, name, sizeof name);
        fprintf(stderr, "tests/support: database %s of %s kept (PARLEY_TEST_KEEP)\n", name, e->dir);
    } else {
        pg_fx_drop_db(e->url);
    }
    free(e->dir);
    free(e);
    stores[i] = stores[--n_stores];
}

static void drop_all_stores(void)
{
    if (getpid() != stores_pid) return;
    while (n_stores > 0)
        drop_store(n_stores - 1);
    free(stores);
    stores = NULL;
    cap_stores = 0;
}

/* The index of dir's registry entry, or -1. An entry made before its directory existed is
 * found by the path as given, and re-keyed to the canonical path once there is one. */
static ssize_t find_store(const char *dir)
{
    char *canon = realpath(dir, NULL);
    ssize_t hit = -1;
    for (size_t i = 0; i < n_stores && hit < 0; i++)
        if (strcmp(stores[i]->dir, canon ? canon : dir) == 0) hit = (ssize_t)i;
    for (size_t i = 0; i < n_stores && hit < 0 && canon; i++)
        if (strcmp(stores[i]->dir, dir) == 0) {
            hit = (ssize_t)i;
            free(stores[i]->dir);
            stores[i]->dir = canon;
            canon = NULL;
        }
    free(canon);
    return hit;
}

const char *pl_test_store_url(const char *data_dir)
{
    if (!pl_test_backend_is_pg() || !data_dir || !*data_dir) return NULL;
    if (!pg_fx_available()) {
        fprintf(stderr, "tests/support: PARLEY_TEST_BACKEND=postgres needs PARLEY_TEST_PG "
                        "(eval \"$(bash scripts/testdb.sh start DIR)\")\n");
        return NULL;
    }
    ssize_t i = find_store(data_dir);
    if (i >= 0) return stores[i]->url;
    if (n_stores == cap_stores) {
        size_t cap = cap_stores ? cap_stores * 2 : 8;
        store_entry_t **grown = realloc(stores, cap * sizeof *grown);
        if (!grown) return NULL;
        stores = grown;
        cap_stores = cap;
    }
    store_entry_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->dir = realpath(data_dir, NULL);
    if (!e->dir) e->dir = strdup(data_dir);
    if (!e->dir || pg_fx_create_db(e->url, sizeof e->url) < 0) {
        free(e->dir);
        free(e);
        return NULL;
    }
    if (stores_pid != getpid()) {
        stores_pid = getpid();
        atexit(drop_all_stores);
    }
    stores[n_stores++] = e;
    return e->url;
}

/* Echoes the store's error lines of dir/server.log to stderr: on PostgreSQL, SQL the engine
 * refused is the first thing to look for when a test fails, and the directory is about to go. */
static void print_log_errors(const char *dir)
{
    char path[4096], line[4096];
    snprintf(path, sizeof path, "%s/server.log", dir);
    FILE *f = fopen(path, "re");
    if (!f) return;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "\"level\":\"error\"") && strstr(line, "\"module\":\"store\""))
            fprintf(stderr, "server.log: %s", line);
    fclose(f);
}

/* Drops the database of dir, if it has one (dir is about to be removed). */
static void forget_store(const char *dir)
{
    if (n_stores == 0) return;
    ssize_t i = find_store(dir);
    if (i < 0) return;
    print_log_errors(dir);
    drop_store((size_t)i);
}

/* A copy of this process's environment with PARLEY_STORE=url in place of any it had, for a
 * child: *envp (free with free_env), or NULL in *envp when url is NULL (inherit as is). 0 or
 * -ENOMEM. */
static int store_env(const char *url, char ***envp)
{
    *envp = NULL;
    if (!url) return 0;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    if (!env) return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "PARLEY_STORE=", 13) != 0) env[k++] = environ[i];
    if (asprintf(&env[k], "PARLEY_STORE=%s", url) < 0) {
        free(env);
        return -ENOMEM;
    }
    *envp = env;
    return 0;
}

static void free_env(char **envp)
{
    if (!envp) return;
    size_t n = 0;
    while (envp[n + 1])
        n++;
    free(envp[n]); /* the one string store_env made; the rest belong to environ */
    free(envp);
}

/* The child environment for a command on dir: in postgres mode, the dir's store; otherwise
 * inherited. 0, or a negative errno (-EIO when the database could not be made). */
static int env_for_dir(const char *dir, char ***envp)
{
    *envp = NULL;
    if (!dir || !pl_test_backend_is_pg()) return 0;
    const char *url = pl_test_store_url(dir);
    if (!url) {
        fprintf(stderr, "tests/support: no PostgreSQL store for %s\n", dir);
        return -EIO;
    }
    return store_env(url, envp);
}

static const char *parley_bin(const char *who)
{
    const char *bin = getenv("PARLEY_BIN");
    if (!bin || !*bin) {
        fprintf(stderr,
                "%s: PARLEY_BIN is not set; point it at the parley binary "
                "(make integration does)\n",
                who);
        return NULL;
    }
    return bin;
}

static void print_log_tail(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/server.log", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "---- %s: (missing) ----\n", path);
        return;
    }
    struct stat st;
    char buf[LOG_TAIL_BYTES + 1];
    ssize_t n = 0;
    if (fstat(fd, &st) == 0) {
        off_t from = st.st_size > LOG_TAIL_BYTES ? st.st_size - LOG_TAIL_BYTES : 0;
        n = pread(fd, buf, LOG_TAIL_BYTES, from);
    }
    close(fd);
    if (n < 0) n = 0;
    buf[n] = '\0';
    fprintf(stderr, "---- tail of %s ----\n%s%s---- end of server.log ----\n", path, buf,
            n > 0 && buf[n - 1] != '\n' ? "\n" : "");
}

static int keep_requested(const pl_test_server_t *s)
{
    const char *env = getenv("PARLEY_TEST_KEEP");
    return s->keep_dir || (env && *env && strcmp(env, "0") != 0);
}

/* Polls /healthz until 200, the child exits, or the deadline. */
static int wait_ready(pl_test_server_t *s)
{
    int64_t deadline = pl_tls__deadline(READY_TIMEOUT_MS);
    for (;;) {
        int wstatus;
        if (waitpid(s->pid, &wstatus, WNOHANG) == s->pid) {
            s->pid = 0;
            fprintf(stderr,
                    "pl_test_server_start: server exited (status %d) before it was "
                    "ready\n",
                    exit_status(wstatus));
            return -ECHILD;
        }
        pl_http_resp_t r;
        if (pl_https_request("127.0.0.1", s->port, "GET", "/healthz", NULL, NULL, 0, 1000, &r) ==
            0) {
            int status = r.status;
            pl_http_resp_free(&r);
            if (status == 200) return 0;
        }
        if (pl_tls__now_ms() >= deadline) {
            fprintf(stderr, "pl_test_server_start: /healthz on port %d not 200 within %d ms\n",
                    s->port, READY_TIMEOUT_MS);
            return -ETIMEDOUT;
        }
        sleep_ms(READY_POLL_MS);
    }
}

static int launch(pl_test_server_t *s, const char *bin, const char *const *extra_args)
{
    s->port = free_port(SOCK_STREAM);
    s->media_port = free_port(SOCK_DGRAM);
    if (s->port < 0) return s->port;
    if (s->media_port < 0) return s->media_port;

    char port[16], media[16], log_path[4096];
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(media, sizeof media, "%d", s->media_port);
    snprintf(log_path, sizeof log_path, "%s/server.log", s->dir);
    const char *fixed[] = {bin,  "serve",        "--data-dir", s->dir,   "--port",
                           port, "--media-port", media,        "--bind", "127.0.0.1"};
    size_t nfixed = sizeof fixed / sizeof fixed[0], nextra = 0;
    while (extra_args && extra_args[nextra])
        nextra++;
    char **argv = calloc(nfixed + nextra + 1, sizeof *argv);
    if (!argv) return -ENOMEM;
    memcpy(argv, fixed, sizeof fixed);
    for (size_t i = 0; i < nextra; i++)
        argv[nfixed + i] = (char *)extra_args[i];

    char **envp = NULL;
    int err = env_for_dir(s->dir, &envp);
    if (err < 0) {
        free(argv);
        return err;
    }
    int log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) err = -errno;
    if (err == 0) {
        pid_t pid = spawn(argv, envp, null_fd, log_fd, log_fd);
        if (pid < 0)
            err = pid;
        else
            s->pid = pid;
    }
    if (log_fd >= 0) close(log_fd);
    if (null_fd >= 0) close(null_fd);
    free_env(envp);
    free(argv);
    return err;
}

int pl_test_server_start(pl_test_server_t **out, const char *data_dir,
                         const char *const *extra_args)
{
    *out = NULL;
    const char *bin = parley_bin("pl_test_server_start");
    if (!bin) return -ENOENT;
    pl_test_server_t *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    if (data_dir) {
        s->dir = strdup(data_dir);
    } else {
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp) tmp = "/tmp";
        if (asprintf(&s->dir, "%s/parley-test-XXXXXX", tmp) < 0) s->dir = NULL;
        if (s->dir && !mkdtemp(s->dir)) {
            int e = errno;
            fprintf(stderr, "pl_test_server_start: mkdtemp %s: %s\n", s->dir, strerror(e));
            free(s->dir);
            free(s);
            return -e;
        }
        s->owns_dir = 1;
    }
    if (!s->dir) {
        free(s);
        return -ENOMEM;
    }
    int err = launch(s, bin, extra_args);
    if (err == 0) err = wait_ready(s);
    if (err < 0) {
        if (s->pid > 0) kill_and_reap(s->pid);
        s->pid = 0;
        print_log_tail(s->dir);
        if (s->owns_dir && keep_requested(s))
            fprintf(stderr, "pl_test_server_start: data dir kept: %s\n", s->dir);
        pl_test_server_destroy(s);
        return err;
    }
    *out = s;
    return 0;
}

int pl_test_server_port(const pl_test_server_t *s)
{
    return s->port;
}

int pl_test_server_media_port(const pl_test_server_t *s)
{
    return s->media_port;
}

const char *pl_test_server_dir(const pl_test_server_t *s)
{
    return s->dir;
}

int pl_test_server_stop(pl_test_server_t *s)
{
    if (s->pid <= 0) return -ESRCH;
    int wstatus = 0;
    kill(s->pid, SIGTERM);
    int r = reap(s->pid, &wstatus, STOP_TIMEOUT_MS);
    if (r == 1) {
        s->pid = 0;
        return exit_status(wstatus);
    }
    fprintf(stderr, "pl_test_server_stop: server pid %d ignored SIGTERM for %d ms; killing\n",
            (int)s->pid, STOP_TIMEOUT_MS);
    kill_and_reap(s->pid);
    s->pid = 0;
    return -1;
}

void pl_test_server_kill(pl_test_server_t *s)
{
    if (s->pid <= 0) return;
    kill_and_reap(s->pid);
    s->pid = 0;
}

void pl_test_server_keep_dir(pl_test_server_t *s, int keep)
{
    s->keep_dir = keep != 0;
}

void pl_test_server_destroy(pl_test_server_t *s)
{
    if (!s) return;
    if (s->pid > 0) pl_test_server_stop(s);
    if (s->owns_dir && !keep_requested(s)) pl_test_rmtree(s->dir);
    free(s->dir);
    free(s);
}

int pl_test_run_cli(char **out, const char *const *args)
{
    return pl_test_run_cli_input(out, NULL, args);
}

/* Feeds input to in_w (closing it when done) and collects out_r until EOF or deadline. */
static int exchange(int in_w, const char *input, int out_r, char **data, size_t *len,
                    int64_t deadline)
{
    size_t in_left = input ? strlen(input) : 0, cap = 0;
    if (in_w >= 0 && in_left == 0) {
        close(in_w);
        in_w = -1;
    }
    int err = 0;
    while (out_r >= 0) {
        struct pollfd p[2] = {{.fd = out_r, .events = POLLIN}, {.fd = in_w, .events = POLLOUT}};
        int ms = (int)(deadline - pl_tls__now_ms());
        if (ms <= 0) {
            err = -ETIMEDOUT;
            break;
        }
        if (poll(p, in_w >= 0 ? 2 : 1, ms) < 0) {
            if (errno == EINTR) continue;
            err = -errno;
            break;
        }
        if (in_w >= 0 && p[1].revents) {
            ssize_t w = write(in_w, input, in_left);
            if (w > 0) {
                input += w;
                in_left -= (size_t)w;
            }
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_left == 0) {
                close(in_w); /* done, or the command stopped reading (EPIPE) */
                in_w = -1;
            }
        }
        if (p[0].revents) {
            if (*len + 4096 + 1 > cap) {
                cap = cap ? cap * 2 : 8192;
                char *d = realloc(*data, cap);
                if (!d) {
                    err = -ENOMEM;
                    break;
                }
                *data = d;
            }
            ssize_t n = read(out_r, *data + *len, cap - *len - 1);
            if (n > 0)
                *len += (size_t)n;
            else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                break;
        }
    }
    if (in_w >= 0) close(in_w);
    return err;
}

int pl_test_run_cli_input(char **out, const char *input, const char *const *args)
{
    if (out) *out = NULL;
    const char *bin = parley_bin("pl_test_run_cli");
    if (!bin) return -ENOENT;
    pl_tls__ignore_sigpipe(); /* a command that exits without reading stdin must not kill us */

    size_t nargs = 0;
    while (args && args[nargs])
        nargs++;
    char **argv = calloc(nargs + 2, sizeof *argv);
    if (!argv) return -ENOMEM;
    argv[0] = (char *)bin;
    const char *dir = NULL;
    for (size_t i = 0; i < nargs; i++) {
        argv[i + 1] = (char *)args[i];
        if (i + 1 < nargs && strcmp(args[i], "--data-dir") == 0) dir = args[i + 1];
    }
    char **envp = NULL;
    int err = env_for_dir(dir, &envp);
    if (err < 0) {
        free(argv);
        return err;
    }

    int outp[2] = {-1, -1}, inp[2] = {-1, -1}, null_fd = -1;
    if (pipe2(outp, O_CLOEXEC) < 0) err = -errno;
    if (err == 0 && input && pipe2(inp, O_CLOEXEC) < 0) err = -errno;
    if (err == 0 && !input && (null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) err = -errno;
    pid_t pid = 0;
    if (err == 0) {
        pid = spawn(argv, envp, input ? inp[0] : null_fd, outp[1], 2);
        if (pid < 0) err = pid;
    }
    free_env(envp);
    free(argv);
    if (null_fd >= 0) close(null_fd);
    if (inp[0] >= 0) close(inp[0]);
    if (outp[1] >= 0) close(outp[1]);
    if (err < 0) {
        if (inp[1] >= 0) close(inp[1]);
        if (outp[0] >= 0) close(outp[0]);
        return err;
    }
    if (inp[1] >= 0) fcntl(inp[1], F_SETFL, O_NONBLOCK);

    int64_t deadline = pl_tls__deadline(CLI_TIMEOUT_MS);
    char *data = NULL;
    size_t len = 0;
    err = exchange(inp[1], input, outp[0], &data, &len, deadline);
    close(outp[0]);

    int wstatus = 0;
    if (err == 0) {
        int64_t left = deadline - pl_tls__now_ms();
        int r = reap(pid, &wstatus, left > 0 ? (int)left : 0);
        if (r == 0)
            err = -ETIMEDOUT;
        else if (r < 0)
            err = r;
    }
    if (err < 0) {
        if (err == -ETIMEDOUT)
            fprintf(stderr, "pl_test_run_cli: %s %s ran over %d ms; killed\n", bin,
                    nargs ? args[0] : "", CLI_TIMEOUT_MS);
        kill_and_reap(pid);
        free(data);
        return err;
    }
    if (out) {
        if (!data) data = malloc(1);
        if (data) data[len] = '\0';
        *out = data;
    } else {
        free(data);
    }
    return exit_status(wstatus);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) < 0 && errno != ENOENT ? errno : 0;
}

int pl_test_rmtree(const char *path)
{
    if (!path || !*path || strcmp(path, "/") == 0) return -EINVAL;
    forget_store(path);
    struct stat st;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -errno;
    int r = nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (r < 0) return -errno;
    return -r;
}
