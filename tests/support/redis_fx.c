/* A private redis-server per test (see redis_fx.h). Readiness is a real PING over a blocking
 * hiredis connection, not a sleep, so a slow machine waits longer and a fast one does not wait. */
#include "tests/support/redis_fx.h"
#include "tests/support/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The kernel's pick for 127.0.0.1:0; another process could take it before redis binds, which
 * start reports as a failure to come up. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void print_log_tail(const redis_fx_t *f)
{
    char path[128];
    snprintf(path, sizeof path, "%s/redis.log", f->dir);
    FILE *fp = fopen(path, "r");
    if (!fp) return;
    char buf[2048];
    if (fseek(fp, -(long)(sizeof buf - 1), SEEK_END) != 0) rewind(fp);
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = 0;
    fclose(fp);
    fprintf(stderr, "redis_fx: tail of %s:\n%s\n", path, buf);
}

static int pings(int port)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c) return 0;
    int ok = 0;
    if (!c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        if (r) freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

int redis_fx_start(redis_fx_t *f)
{
    if (access(REDIS_FX_BIN, X_OK) != 0) {
        fprintf(stderr,
                "redis_fx: %s is missing (apt-get install redis-server): the bus tests "
                "need a real Redis\n",
                REDIS_FX_BIN);
        return -1;
    }
    if (f->pid > 0) return 0;
    if (!f->dir[0]) {
        snprintf(f->dir, sizeof f->dir, "/tmp/parley-redis-XXXXXX");
        if (!mkdtemp(f->dir)) {
            fprintf(stderr, "redis_fx: mkdtemp: %s\n", strerror(errno));
            f->dir[0] = 0;
            return -1;
        }
    }
    if (f->port <= 0 && (f->port = free_port()) <= 0) {
        fprintf(stderr, "redis_fx: no free port\n");
        return -1;
    }
    snprintf(f->url, sizeof f->url, "redis://127.0.0.1:%d", f->port);
    char port[16], logp[128];
    snprintf(port, sizeof port, "%d", f->port);
    snprintf(logp, sizeof logp, "%s/redis.log", f->dir);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "redis_fx: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127); /* the parent died before prctl */
        int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int nul = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0) dup2(nul, 0);
        execl(REDIS_FX_BIN, REDIS_FX_BIN, "--port", port, "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--dir", f->dir, "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    f->pid = pid;
    for (int waited = 0; waited < 5000; waited += 20) {
        if (pings(f->port)) return 0;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            f->pid = 0;
            fprintf(stderr, "redis_fx: redis-server exited before answering (port %d)\n", f->port);
            print_log_tail(f);
            return -1;
        }
        sleep_ms(20);
    }
    fprintf(stderr, "redis_fx: redis-server did not answer PING on port %d within 5 s\n", f->port);
    print_log_tail(f);
    redis_fx_stop(f);
    return -1;
}

void redis_fx_stop(redis_fx_t *f)
{
    if (f->pid <= 0) return;
    kill(f->pid, SIGTERM);
    int st;
    for (int waited = 0; waited < 5000; waited += 10) {
        if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
            f->pid = 0;
            return;
        }
        sleep_ms(10);
    }
    kill(f->pid, SIGKILL);
    waitpid(f->pid, &st, 0);
    f->pid = 0;
}

int redis_fx_restart(redis_fx_t *f)
{
    redis_fx_stop(f);
    return redis_fx_start(f);
}

void redis_fx_cleanup(redis_fx_t *f)
{
    redis_fx_stop(f);
    if (f->dir[0]) pl_test_rmtree(f->dir);
    memset(f, 0, sizeof *f);
}
