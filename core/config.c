/* Table-driven configuration: each option is one row, so the file, environment, flags and --help
 * all read the same table and cannot drift apart. */
#include "core/config.h"
#include "core/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { T_INT, T_STR } opt_type_t;

/* A string option's own check (NULL: any string that fits). 0 or -PL_EINVAL. */
typedef int (*check_fn)(const char *value);

static int check_record_url(const char *value);

static const struct opt {
    const char *name;
    opt_type_t type;
    size_t off;
    size_t size;
    int min, max;
    const char *def_text;
    const char *help;
    check_fn check;
} opts[] = {
#define I(n, f, lo, hi, d, h) {n, T_INT, offsetof(pl_config_t, f), sizeof(int), lo, hi, d, h, NULL}
#define S(n, f, d, h)                                                                              \
    {n, T_STR, offsetof(pl_config_t, f), sizeof(((pl_config_t *)0)->f), 0, 0, d, h, NULL}
#define SC(n, f, d, h, chk)                                                                        \
    {n, T_STR, offsetof(pl_config_t, f), sizeof(((pl_config_t *)0)->f), 0, 0, d, h, chk}
    I("port", port, 0, 65535, "8443", "HTTPS and WSS listen port"),
    S("bind", bind, "127.0.0.1", "listen address (0.0.0.0 for all interfaces)"),
    S("data_dir", data_dir, "./var", "data directory: database, keys, TLS certificate"),
    I("media_port", media_port, 0, 65535, "40000", "UDP port for media (video calls)"),
    S("store", store, "sqlite:<data_dir>/parley.db", "store URL"),
    S("log_level", log_level, "info", "debug, info, warn or error"),
    S("bus", bus, "", "Redis URL of a cluster's event bus (redis://host:port); empty: one node"),
    S("node_id", node_id, "", "this node's name in a cluster (empty: <hostname>:<port>)"),
    S("node_url", node_url, "",
      "where clients reach this node in a cluster, for calls held here (empty: wss://bind:port/)"),
    I("max_message_bytes", max_message_bytes, 1, 1 << 20, "16384", "largest message body"),
    I("max_frame_bytes", max_frame_bytes, 1024, 1 << 22, "65536",
      "hard cap on one WebSocket message"),
    I("rate_limit_per_sec", rate_limit_per_sec, 1, 1000000, "50",
      "sustained requests per second per connection"),
    I("rate_limit_burst", rate_limit_burst, 1, 1000000, "200", "request burst per connection"),
    I("send_rate_per_min", send_rate_per_min, 0, 1000000, "600",
      "messages one person may send per minute over all their connections (0: no limit)"),
    I("send_burst", send_burst, 1, 1000000, "600", "messages one person may send at once"),
    I("session_idle_timeout_s", session_idle_timeout_s, 2, 86400 * 30, "1800",
      "session ends after this long unused"),
    I("session_absolute_timeout_s", session_absolute_timeout_s, 2, 86400 * 90, "43200",
      "session ends this long after login whatever its use"),
    I("session_recheck_s", session_recheck_s, 1, 3600, "30",
      "how often open connections re-check their session still exists"),
    I("http_timeout_s", http_timeout_s, 1, 600, "10",
      "an HTTP request's headers and body must arrive within this"),
    I("event_page_size", event_page_size, 1, 10000, "200", "events per replay page"),
    I("max_store_queue", max_store_queue, 100, 10000000, "20000",
      "store requests queued before new ones are refused with unavailable"),
    I("max_connections", max_connections, 1, 1000000, "20000", "simultaneous connections"),
    S("web_root", web_root, "./web/public", "directory of the web app's static files"),
    S("media_ip", media_ip, "127.0.0.1",
      "IP address browsers reach the media port on (the ICE host candidate)"),
    S("turn_urls", turn_urls, "",
      "comma-separated TURN URLs for clients behind UDP-blocking firewalls, e.g. "
      "turn:turn.example.nhs.uk:3478?transport=udp,turns:turn.example.nhs.uk:5349?transport=tcp"),
    S("turn_secret_file", turn_secret_file, "",
      "file holding the TURN REST API shared secret (coturn static-auth-secret)"),
    I("turn_ttl_s", turn_ttl_s, 60, 86400 * 2, "43200", "lifetime of TURN credentials handed out"),
    I("media_force_relay", media_force_relay, 0, 1, "0",
      "1: browsers send all media through TURN (for networks where only TURN gets through)"),
    I("attachment_url_ttl_s", attachment_url_ttl_s, 1, 3600, "60",
      "how long a signed attachment download link stays valid"),
    I("attachment_unsent_ttl_s", attachment_unsent_ttl_s, 2, 86400 * 30, "86400",
      "an uploaded file not sent on a message within this is deleted"),
    I("attachment_pending_max", attachment_pending_max, 1, 1000, "20",
      "uploaded files one user may have waiting to be sent on a message"),
    SC("record_fhir_url", record_fhir_url, "",
       "FHIR server base URL that filed transcripts are written back to (https://...; "
       "http:// only to a loopback address); empty: write-back off",
       check_record_url),
    S("record_bearer_token_file", record_bearer_token_file, "",
      "file (mode 0600) holding the bearer token sent to the record system"),
    S("record_client_cert_file", record_client_cert_file, "",
      "client certificate (PEM) for mutual TLS with the record system"),
    S("record_client_key_file", record_client_key_file, "",
      "private key (PEM, mode 0600) of record_client_cert_file"),
    S("record_ca_file", record_ca_file, "",
      "CA certificates (PEM) trusted for the record system; empty: the system store"),
    I("record_max_attempts", record_max_attempts, 1, 1000, "10",
      "a filed transcript is dead-lettered after this many failed deliveries"),
    I("record_retry_base_s", record_retry_base_s, 1, 3600, "30",
      "first retry delay of a failed delivery; doubles each time, at most an hour, with jitter"),
#undef I
#undef S
#undef SC
};
#define NOPTS (sizeof opts / sizeof opts[0])

void pl_config_defaults(pl_config_t *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].type == T_INT) {
            *(int *)((char *)c + opts[i].off) = atoi(opts[i].def_text);
        } else if (!strchr(opts[i].def_text, '<')) {
            snprintf((char *)c + opts[i].off, opts[i].size, "%s", opts[i].def_text);
        }
    }
}

static const struct opt *find(const char *key)
{
    char norm[64];
    size_t n = 0;
    for (; key[n] && n < sizeof norm - 1; n++)
        norm[n] = key[n] == '-' ? '_' : (char)tolower((unsigned char)key[n]);
    norm[n] = 0;
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].name, norm) == 0) return &opts[i];
    return NULL;
}

int pl_config_set(pl_config_t *c, const char *key, const char *value)
{
    const struct opt *o = find(key);
    if (!o) return -PL_ENOTFOUND;
    if (o->type == T_INT) {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < o->min || v > o->max) return -PL_EINVAL;
        *(int *)((char *)c + o->off) = (int)v;
    } else {
        if (strlen(value) >= o->size) return -PL_EINVAL;
        if (o->check && value[0] && o->check(value) < 0) return -PL_EINVAL;
        snprintf((char *)c + o->off, o->size, "%s", value);
    }
    return 0;
}

/* Whether host (no port, no brackets) names this machine: where plain HTTP may go, since the
 * Bundle then never crosses a network (a local TLS-terminating proxy, or a test endpoint). */
static bool host_is_loopback(const char *host, size_t n)
{
    if (n == 9 && strncasecmp(host, "localhost", 9) == 0) return true;
    if (n == 3 && strncmp(host, "::1", 3) == 0) return true;
    return n >= 4 && strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") == n;
}

int pl_config_parse_url(const char *url, pl_url_t *out)
{
    memset(out, 0, sizeof *out);
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0) {
        out->tls = true;
        out->port = 443;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        out->port = 80;
        p = url + 7;
    } else {
        return -PL_EINVAL;
    }
    for (const char *q = url; *q; q++) /* no spaces or controls: it ends up in a request line */
        if ((unsigned char)*q <= 0x20 || *q == 0x7f || *q == '?' || *q == '#') return -PL_EINVAL;
    const char *host = p, *host_end;
    if (*p == '[') { /* [v6]:port */
        host = ++p;
        host_end = strchr(p, ']');
        if (!host_end) return -PL_EINVAL;
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/");
        p = host_end;
    }
    size_t hn = (size_t)(host_end - host);
    if (hn == 0 || hn >= sizeof out->host || memchr(host, '@', hn)) return -PL_EINVAL;
    memcpy(out->host, host, hn);
    if (*p == ':') {
        char *end;
        errno = 0;
        long port = strtol(p + 1, &end, 10);
        if (errno || end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/'))
            return -PL_EINVAL;
        out->port = (int)port;
        p = end;
    }
    if (*p && *p != '/') return -PL_EINVAL;
    size_t pn = strlen(p);
    while (pn > 0 && p[pn - 1] == '/') pn--; /* "https://h/fhir/" is the base "/fhir" */
    if (pn >= sizeof out->path) return -PL_EINVAL;
    memcpy(out->path, p, pn);
    if (!out->tls && !host_is_loopback(out->host, hn)) return -PL_EINVAL;
    return 0;
}

static int check_record_url(const char *value)
{
    pl_url_t u;
    return pl_config_parse_url(value, &u);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

int pl_config_load_file(pl_config_t *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -PL_EIO;
    char *line = NULL;
    size_t linecap = 0;
    int rc = 0, lineno = 0;
    /* getline, not a fixed buffer: a long line split in two would let a comment's tail act. */
    while (getline(&line, &linecap, f) >= 0) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "%s:%d: expected key = value\n", path, lineno);
            rc = -PL_EINVAL;
            break;
        }
        *eq = 0;
        char *k = trim(s), *v = trim(eq + 1);
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v[vl - 1] = 0;
            v++;
        }
        int r = pl_config_set(c, k, v);
        if (r < 0) {
            fprintf(stderr, "%s:%d: %s option '%s'\n", path, lineno,
                    r == -PL_ENOTFOUND ? "unknown" : "bad value for", k);
            rc = r == -PL_ENOTFOUND ? -PL_EINVAL : r;
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

int pl_config_load_env(pl_config_t *c)
{
    for (size_t i = 0; i < NOPTS; i++) {
        char var[80] = "PARLEY_";
        size_t n = 7;
        for (const char *p = opts[i].name; *p && n < sizeof var - 1; p++)
            var[n++] = (char)toupper((unsigned char)*p);
        var[n] = 0;
        const char *v = getenv(var);
        if (v && pl_config_set(c, opts[i].name, v) < 0) {
            fprintf(stderr, "bad value in %s\n", var);
            return -PL_EINVAL;
        }
    }
    return 0;
}

void pl_config_store_url(const pl_config_t *c, char *out, size_t cap)
{
    if (c->store[0])
        snprintf(out, cap, "%s", c->store);
    else
        snprintf(out, cap, "sqlite:%s/parley.db", c->data_dir);
}

void pl_config_print_help(void)
{
    printf("Options (config file key, PARLEY_<KEY> variable, or --key flag):\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[64];
        size_t n = 0;
        for (const char *p = opts[i].name; *p && n < sizeof flag - 1; p++)
            flag[n++] = *p == '_' ? '-' : *p;
        flag[n] = 0;
        printf("  --%-28s %s (default %s)\n", flag, opts[i].help, opts[i].def_text);
    }
}
