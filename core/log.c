/* JSON-lines logger. Writes each line with one fwrite under a lock so lines from the storage
 * thread and the loop thread never interleave. */
#include "core/log.h"
#include "core/err.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static pl_log_level_t min_level = PL_LOG_INFO;
static int use_stderr;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void pl_log_set_level(pl_log_level_t level)
{
    min_level = level;
}

void pl_log_to_stderr(void)
{
    use_stderr = 1;
}

int pl_log_parse_level(const char *s, pl_log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (s && strcasecmp(s, level_names[i]) == 0) {
            *out = (pl_log_level_t)i;
            return 0;
        }
    }
    return -PL_EINVAL;
}

/* Appends s JSON-escaped to buf (bounded); returns new length. */
static size_t esc(char *buf, size_t len, size_t cap, const char *s)
{
    for (; *s && len + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    return len;
}

void pl_log(pl_log_level_t level, const char *module, const char *req_id, const char *fmt, ...)
{
    if (level < min_level) return;
    char msg[1024], line[2400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = (size_t)snprintf(line, sizeof line,
                                "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
                                "\"module\":\"",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                                tm.tm_sec, ts.tv_nsec / 1000000L, level_names[level]);
    n = esc(line, n, sizeof line, module ? module : "-");
    n += (size_t)snprintf(line + n, sizeof line - n, "\"");
    if (req_id) {
        n += (size_t)snprintf(line + n, sizeof line - n, ",\"request_id\":\"");
        n = esc(line, n, sizeof line, req_id);
        n += (size_t)snprintf(line + n, sizeof line - n, "\"");
    }
    n += (size_t)snprintf(line + n, sizeof line - n, ",\"msg\":\"");
    n = esc(line, n, sizeof line - 4, msg);
    n += (size_t)snprintf(line + n, sizeof line - n, "\"}\n");
    pthread_mutex_lock(&log_lock);
    FILE *f = use_stderr ? stderr : stdout;
    fwrite(line, 1, n, f);
    fflush(f);
    pthread_mutex_unlock(&log_lock);
}
