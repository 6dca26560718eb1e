/* Server configuration. Sources, later ones winning: built-in defaults, an optional config file
 * (`key = value` lines, '#' comments), PARLEY_<KEY> environment variables, then command-line
 * flags (`--key value` or `--key=value`, with '-' or '_' in key names).
 * The config is a process singleton created in main and passed by pointer. */
#ifndef PL_CONFIG_H
#define PL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int port;                    /* HTTPS/WSS port */
    char bind[64];               /* listen address */
    char data_dir[512];          /* var/ directory: database, keys, certificate */
    int media_port;              /* UDP media port (video issue) */
    char store[600];             /* "sqlite:PATH"; empty means sqlite:<data_dir>/parley.db */
    char log_level[16];
    int max_message_bytes;       /* message body limit */
    int max_frame_bytes;         /* hard cap on one WebSocket frame / message */
    int rate_limit_per_sec;      /* per-connection request rate ... */
    int rate_limit_burst;        /* ... and burst */
    int send_rate_per_min;       /* messages one person may send per minute, all connections;
                                    0: no limit */
    int send_burst;              /* ... and at once */
    int session_idle_timeout_s;
    int session_absolute_timeout_s;
    int session_recheck_s;       /* sign-out, disable or password change elsewhere ends a
                                    connection within this */
    int http_timeout_s;          /* whole request (headers and body) must arrive within this */
    int event_page_size;         /* events per replay page */
    int max_connections;
    int max_store_queue;         /* shed load beyond this many queued store requests */
    char web_root[512];          /* static files of the web app */
    char media_ip[64];           /* address put in the media host candidate browsers connect to */
    char turn_urls[512];         /* comma-separated turn:/turns: URLs handed to clients */
    char turn_secret_file[512];  /* file holding coturn's static-auth-secret (0600) */
    int turn_ttl_s;              /* lifetime of the TURN credentials handed out */
    int media_force_relay;       /* 1: browsers send all media through TURN */
    int attachment_url_ttl_s;    /* lifetime of a signed attachment download link */
    int attachment_unsent_ttl_s; /* an upload no message carries is deleted after this */
    int attachment_pending_max;  /* uploads one user may have waiting to be sent */
    /* write-back of filed transcripts to a record system (signalling/outbox.c) */
    char record_fhir_url[512];   /* FHIR server base; empty: write-back off */
    char record_bearer_token_file[512]; /* file (0600) holding a bearer token, or empty */
    char record_client_cert_file[512];  /* mutual TLS: client certificate chain (PEM) ... */
    char record_client_key_file[512];   /* ... and its private key (PEM, 0600) */
    char record_ca_file[512];    /* CA bundle trusted for the endpoint; empty: system store */
    int record_max_attempts;     /* an entry is dead-lettered after this many failed tries */
    int record_retry_base_s;     /* back-off base: base * 2^(tries-1), at most an hour */
    /* a cluster of nodes on one PostgreSQL store (signalling/cluster.c, docs/CLUSTER.md) */
    char bus[512];               /* redis://host:port[/db] of the event bus; empty: one node */
    char node_id[64];            /* this node's name; empty: <hostname>:<port> */
    char node_url[300];          /* where clients reach this node (wss://...); empty: bind:port */
} pl_config_t;

void pl_config_defaults(pl_config_t *c);
/* Applies `key = value` lines from path. 0, -PL_EIO if unreadable, -PL_EINVAL on a bad line. */
int pl_config_load_file(pl_config_t *c, const char *path);
/* Applies PARLEY_* variables from the environment. 0 or -PL_EINVAL. */
int pl_config_load_env(pl_config_t *c);
/* Sets one option by name ("port", "data-dir" or "data_dir"). 0, -PL_ENOTFOUND, -PL_EINVAL. */
int pl_config_set(pl_config_t *c, const char *key, const char *value);
/* The store URL with the default filled in; writes into out. */
void pl_config_store_url(const pl_config_t *c, char *out, size_t cap);
/* A URL as record_fhir_url takes it: http(s)://host[:port][/path], no query or fragment. */
typedef struct {
    bool tls;       /* https */
    char host[256]; /* without brackets for an IPv6 literal */
    int port;       /* 443 or 80 unless given */
    char path[256]; /* the base path without a trailing '/', "" for the root */
} pl_url_t;
/* Parses url into *out. -PL_EINVAL if it is not http(s), has no host, a bad port, a query,
 * credentials, spaces, or is plain http to anywhere but a loopback address. */
int pl_config_parse_url(const char *url, pl_url_t *out);

/* Prints every option with its default and description (for --help). */
void pl_config_print_help(void);

#endif
