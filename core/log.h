/* Structured logging: one JSON object per line on stdout with level, time, module, request id and
 * message. The logger is a process singleton (level only), created in main.
 * Callers must never pass message bodies, passwords, tokens or NHS numbers: log ids instead. */
#ifndef PL_LOG_H
#define PL_LOG_H

typedef enum { PL_LOG_DEBUG = 0, PL_LOG_INFO, PL_LOG_WARN, PL_LOG_ERROR } pl_log_level_t;

void pl_log_set_level(pl_log_level_t level);
/* Admin commands print results on stdout, so their logs go to stderr. */
void pl_log_to_stderr(void);
int pl_log_parse_level(const char *s, pl_log_level_t *out); /* 0 or -PL_EINVAL */
/* req_id may be NULL. The formatted message is JSON-escaped. */
void pl_log(pl_log_level_t level, const char *module, const char *req_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define pl_log_debug(mod, ...) pl_log(PL_LOG_DEBUG, mod, NULL, __VA_ARGS__)
#define pl_log_info(mod, ...) pl_log(PL_LOG_INFO, mod, NULL, __VA_ARGS__)
#define pl_log_warn(mod, ...) pl_log(PL_LOG_WARN, mod, NULL, __VA_ARGS__)
#define pl_log_error(mod, ...) pl_log(PL_LOG_ERROR, mod, NULL, __VA_ARGS__)

#endif
