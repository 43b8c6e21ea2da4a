/* SPDX-License-Identifier: ISC */
/*
 * config.h - campaign.conf: parsing, validation, defaults, environment
 * overrides, and the commented default that `init` writes.
 *
 * The file is INI (PRODUCT.md, Configuration), read with inih.  Order of
 * precedence: built-in defaults, then the file, then the environment
 * (CAMPAIGN_SECTION_KEY, e.g. CAMPAIGN_SENDER_FROM, CAMPAIGN_RELAY_HOST;
 * for a named section [relay backup]: CAMPAIGN_RELAY_BACKUP_HOST), then
 * command-line flags (applied by cmd/).  Everything is validated once in
 * config_load with "file:line: message" errors (EX_CONFIG); modules get
 * the sub-structs they need and never read the file themselves.
 *
 * A file that holds a password (relay password = ...) must be mode 0600.
 */
#ifndef CAMPAIGN_CONFIG_H
#define CAMPAIGN_CONFIG_H

#include <stddef.h>

#include "err.h"
#include "schedule.h"

#define CONFIG_DKIM_MAX 4
#define CONFIG_RELAY_MAX 8
#define CONFIG_DOMAIN_LIMITS_MAX 64

struct config_sender {
    char *from; /* "Acme News <news@acme.example>" */
    char *reply_to;
    char *list_id;       /* news.acme.example */
    char *bounce_domain; /* VERP: bounces+TOKEN@bounce_domain */
    char *feedback_id;   /* Feedback-ID sender part, default list_id */
};

struct config_dkim {
    char *name; /* "" for [dkim], else the section's second word */
    char *domain;
    char *selector;
    char *key_file;
};

#define CONFIG_SERVE_RULES_MAX 64
#define CONFIG_PROXIES_MAX 16

/* [serve]: `campaign serve`, the HTTP endpoint of the links. */
struct config_serve {
    char *listen;        /* ADDR:PORT, default 127.0.0.1:8787 */
    int threads;         /* 0: one per processor */
    int max_connections; /* at once, all clients */
    int per_ip;          /* at once from one address; 0: no limit */
    int timeout;         /* seconds a connection may stay idle */
    int store_ip;        /* keep the client's address with each event */
    int click_seconds;   /* a click this soon after delivery: a machine */
    char *trusted_proxy[CONFIG_PROXIES_MAX]; /* X-Forwarded-For from these */
    size_t ntrusted_proxy;
    char *machine_ua[CONFIG_SERVE_RULES_MAX]; /* user-agent substrings */
    size_t nmachine_ua;
    char *machine_net[CONFIG_SERVE_RULES_MAX]; /* address ranges */
    size_t nmachine_net;
};

struct config_tracking {
    char *base_url;    /* https://t.acme.example (no trailing slash) */
    char *secret_file; /* default: DB path + ".secret" (set by cmd/) */
    int opens;
    int clicks;
};

struct config_rate {
    double per_second; /* 0: unlimited */
};

enum config_tls { CONFIG_TLS_STARTTLS, CONFIG_TLS_SMTPS, CONFIG_TLS_NONE };

struct config_relay {
    char *name; /* "" for [relay] */
    char *host;
    int port; /* 0: 587 for starttls, 465 for smtps, 25 for none */
    enum config_tls tls;
    int tls_verify;
    char *ca_file;
    char *username;
    char *password_env;
    char *password_file;
    char *auth; /* NULL (best offered), "plain", "login" */
    char *helo; /* NULL: the host name */
    int weight;
    int max_messages;        /* per connection */
    int max_connections;     /* open to it at once; 0: up to concurrency */
    struct config_rate rate; /* what it sells; 0: no rate of its own */
    int timeout_connect, timeout_greeting, timeout_mail, timeout_rcpt,
        timeout_data, timeout_data_block, timeout_dot; /* seconds */
};

struct config_domain_limit {
    char *domain;
    struct config_rate rate;
};

/* [limits] provider.NAME = RATE: a provider's group (provider.h) */
struct config_provider_limit {
    char *name;
    struct config_rate rate;
};

/* [provider NAME]: more domains and MX host suffixes for a shipped
 * provider, or a new one (provider.h) */
struct config_provider {
    char *name;
    char **domain; /* lower-case A-labels */
    size_t ndomain;
    char **mx; /* lower case, no "*." */
    size_t nmx;
};

#define CONFIG_PROVIDERS_MAX 32

struct config_limits {
    /* providers (provider.h): their rates, the user's [provider NAME]
     * sections, the MX lookups' name server (NULL: the system's; "off";
     * ADDR[:PORT]) */
    struct config_provider_limit provider_rate[CONFIG_PROVIDERS_MAX];
    size_t nprovider_rate;
    struct config_provider provider[CONFIG_PROVIDERS_MAX];
    size_t nprovider;
    char *resolver;
    struct config_rate rate;
    double burst;
    int concurrency;
    struct config_domain_limit domain[CONFIG_DOMAIN_LIMITS_MAX];
    size_t ndomain;
    /* when (engine/schedule.h): sending windows (none: always), the
     * zone of windows without one and of the daily count ("": the
     * machine's), the daily cap and warm-up per sending domain */
    struct sched_window window[SCHED_WINDOWS_MAX];
    size_t nwindow;
    char *timezone;
    struct sched_cap cap;
    int warmup_start_set;
    int campaigns; /* run-due: campaigns sent at once (1) */
    int grace;     /* run-due: seconds a schedule may be overdue (7200) */
};

/* [bounces]: what comes back (engine/ingest.h, engine/fetch.h). */
struct config_bounces {
    char *rules;         /* the user's rules file (engine/rules.h), or NULL */
    int soft_limit;      /* soft bounces within soft_days that suppress: 3 */
    int soft_days;       /* 30 */
    double breaker_hard; /* a campaign pauses past this hard-bounce
                            rate: 0.05; 0 never */
    double breaker_complaint; /* ... or this complaint rate: 0.003 */
    int breaker_min;          /* after at least this many sent: 200 */
    char *imap;               /* imaps://host[:port]/MAILBOX (fetch) */
    char *username;
    char *password_env;
    char *password_file;
    int tls_verify; /* default on */
    char *ca_file;
    char *processed; /* "move:FOLDER" (default move:Processed), "seen",
                        "delete" */
};

struct config {
    char *path;
    int exists; /* the file was there */
    struct config_sender sender;
    struct config_dkim dkim[CONFIG_DKIM_MAX];
    size_t ndkim;
    struct config_tracking tracking;
    struct config_relay relay[CONFIG_RELAY_MAX];
    size_t nrelay;
    struct config_limits limits;
    struct config_serve serve;
    struct config_bounces bounces;
};

/*
 * config_load - defaults, then path (a missing file is not an error:
 * cfg->exists = 0), then the environment.  Errors: EX_CONFIG with
 * "path:line: message", or naming the variable for the environment.
 */
int config_load(struct config *cfg, const char *path, struct err *e);
void config_free(struct config *cfg);

/* config_rate_parse - "50/s", "3000/m", "100000/h", "500000/d", "20" (per
 * second): a positive decimal number (no sign, exponent, hex, nan), at
 * most CONFIG_RATE_MAX per unit and per second; -1 otherwise. */
int config_rate_parse(const char *s, struct config_rate *r);
/* the most config_rate_parse takes, per unit and per second */
#define CONFIG_RATE_MAX 1000000.0

/*
 * config_write_default - create path with the commented default
 * configuration unless it exists.  Returns 1 when written, 0 when a file
 * was already there, -1 on error (EX_CANTCREAT).  The write is atomic:
 * a temporary file renamed into place, mode 0600.
 */
int config_write_default(const char *path, struct err *e);

#endif
