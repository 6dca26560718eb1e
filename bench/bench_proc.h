/* /proc readers for the benchmarks: a process's resident set and CPU time, and the pid of the
 * server that tests/support started for us (server.h does not expose it, and the benchmark may
 * not change tests/support, so it is found as our child whose command line names the data
 * directory). Linux only, header-only (every bench .c file is its own program). */
#ifndef PL_BENCH_PROC_H
#define PL_BENCH_PROC_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* VmRSS of pid in KiB, or a negative errno. */
static inline long pl_proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return -errno;
    long kib = -ENOENT;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

/* Parses a /proc stat file: user+system CPU seconds, the parent pid and the state letter ('Z'
 * for a zombie); any out-parameter may be NULL. 0 or a negative errno. */
static inline int pl_proc__parse_stat(const char *path, double *cpu_s, pid_t *ppid, char *state_out)
{
    char buf[1024];
    FILE *f = fopen(path, "re");
    if (!f) return -errno;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name is in parentheses and may hold spaces: fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p) return -EPROTO;
    char state;
    int pp;
    unsigned long ut, st;
    if (sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &state, &pp, &ut, &st) !=
        4)
        return -EPROTO;
    long hz = sysconf(_SC_CLK_TCK);
    if (cpu_s) *cpu_s = (double)(ut + st) / (double)(hz > 0 ? hz : 100);
    if (ppid) *ppid = pp;
    if (state_out) *state_out = state;
    return 0;
}

/* /proc/pid/stat of a whole process (all its threads); see pl_proc__parse_stat. */
static inline int pl_proc_stat(pid_t pid, double *cpu_s, pid_t *ppid, char *state_out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return pl_proc__parse_stat(path, cpu_s, ppid, state_out);
}

/* CPU seconds of one thread (tid == pid: the main thread). 0 or a negative errno. */
static inline int pl_proc_thread_cpu(pid_t pid, pid_t tid, double *cpu_s)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    return pl_proc__parse_stat(path, cpu_s, NULL, NULL);
}

/* CPU seconds of each thread of pid: fills tids[] and cpu_s[] (up to max entries) and returns
 * how many, or a negative errno. */
static inline int pl_proc_threads(pid_t pid, pid_t *tids, double *cpu_s, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -errno;
    int n = 0;
    struct dirent *e;
    while (n < max && (e = readdir(d))) {
        char *end;
        long tid = strtol(e->d_name, &end, 10);
        if (*end || tid <= 0 || pl_proc_thread_cpu(pid, (pid_t)tid, &cpu_s[n]) < 0) continue;
        tids[n++] = (pid_t)tid;
    }
    closedir(d);
    return n;
}

/* The pid of a child of this process whose command line contains `needle` (the data directory)
 * and the word "serve", or a negative errno. */
static inline pid_t pl_proc_find_child(const char *needle)
{
    DIR *d = opendir("/proc");
    if (!d) return -errno;
    pid_t me = getpid(), found = -ESRCH;
    struct dirent *e;
    while (found < 0 && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        pid_t ppid = 0;
        if (*end || pid <= 0 || pl_proc_stat((pid_t)pid, NULL, &ppid, NULL) < 0 || ppid != me)
            continue;
        char path[64], cmd[4096];
        snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
        FILE *f = fopen(path, "re");
        if (!f) continue;
        size_t n = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
            if (cmd[i] == '\0') cmd[i] = ' '; /* arguments are NUL-separated */
        cmd[n] = '\0';
        if (strstr(cmd, needle) && strstr(cmd, " serve ")) found = (pid_t)pid;
    }
    closedir(d);
    return found;
}

#endif
