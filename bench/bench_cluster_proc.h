/* /proc and /metrics readers for bench_cluster: CPU seconds of the generator,
 * of one process, and of a PostgreSQL server as a whole (its postmaster and
 * every child: the backends, the WAL writer, the checkpointer), pids from pid
 * files, and counters from a node's /metrics text. Linux only; header-only (see
 * bench_hist.h). */
#ifndef PL_BENCH_CLUSTER_PROC_H
#define PL_BENCH_CLUSTER_PROC_H

#include "bench/bench_proc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>

static inline double pl_bc_self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static inline double pl_bc_proc_cpu_s(pid_t pid) {
  double s = 0;
  return pid > 0 && pl_proc_stat(pid, &s, NULL, NULL) == 0 ? s : 0;
}

/* PostgreSQL's CPU seconds: the postmaster and its children (the nodes'
 * backends, which live as long as their connections, and the WAL writer,
 * checkpointer...). */
static inline double pl_bc_pg_cpu_s(pid_t postmaster) {
  if (postmaster <= 0)
    return 0;
  double total = pl_bc_proc_cpu_s(postmaster);
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d))) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    pid_t ppid = 0;
    double s = 0;
    if (!*end && pid > 0 && pl_proc_stat((pid_t)pid, &s, &ppid, NULL) == 0 &&
        ppid == postmaster)
      total += s;
  }
  if (d)
    closedir(d);
  return total;
}

/* The first number in a file (a pid file), or 0. */
static inline pid_t pl_bc_pid_from_file(const char *dir, const char *rel) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "re");
  long pid = 0;
  if (f && fscanf(f, "%ld", &pid) != 1)
    pid = 0;
  if (f)
    fclose(f);
  return (pid_t)pid;
}

/* A counter from /metrics text, or 0. */
static inline double pl_bc_metric(const char *text, const char *name) {
  size_t n = strlen(name);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, name, n) == 0 && p[n] == ' ')
      return strtod(p + n + 1, NULL);
  return 0;
}

#endif
