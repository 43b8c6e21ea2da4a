/* SPDX-License-Identifier: ISC */
/*
 * config.c - campaign.conf: load, validate, override, write the default
 * (see config.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "email.h"
#include "fsutil.h"
#include "provider.h"
#include "xalloc.h"

static const char config_default[] =
    "; campaign.conf - configuration for campaign(1).\n"
    "; Every value can be overridden by the environment variable\n"
    "; CAMPAIGN_SECTION_KEY (for example CAMPAIGN_RELAY_HOST).\n"
    "; This file is created mode 0600: keep it so if it holds a password.\n"
    "\n"
    "[sender]\n"
    "; from = Acme News <news@acme.example>\n"
    "; reply_to = help@acme.example\n"
    "; list_id = news.acme.example\n"
    "; bounce_domain = bounces.acme.example   ; VERP return path\n"
    "\n"
    "[relay]\n"
    "; host = smtp.provider.example\n"
    "; port = 587\n"
    "; tls = starttls                 ; starttls | smtps | none\n"
    "; tls_verify = on\n"
    "; ca_file = /etc/ssl/certs/ca-certificates.crt\n"
    "; username = acme\n"
    "; password_env = CAMPAIGN_SMTP_PASSWORD   ; or password_file =\n"
    "; rate = 14/s                     ; what the relay sells, if it says\n"
    "; max_connections = 8             ; at once to it (within concurrency)\n"
    "\n"
    "[limits]\n"
    "; rate = 50/s\n"
    "; concurrency = 8\n"
    "; provider.google = 20/s               ; gmail.com, Workspace domains, "
    "...\n"
    "; resolver = 127.0.0.1:53              ; MX lookups (default: the "
    "system's)\n"
    "; domain.gmail.com = 20/s\n"
    "; window = Mon-Fri 09:00-18:00         ; send only then (repeat the key)\n"
    "; timezone = Europe/Rome               ; of windows and the daily count\n"
    "; daily_cap = 10000                    ; a day, per sending domain\n"
    "; warmup = 500, 1000, 2500, 5000       ; a day, from warmup_start\n"
    "; warmup_start = 2026-12-07\n"
    "\n"
    "[dkim]\n"
    "; domain = acme.example\n"
    "; selector = s2026\n"
    "; key_file = s2026.acme.example.key\n"
    "\n"
    "[tracking]\n"
    "; base_url = https://t.acme.example\n"
    "; opens = on\n"
    "; clicks = on\n"
    "; secret_file = campaign.db.secret      ; default: the database path + "
    ".secret\n"
    "\n"
    "[serve]                                 ; campaign serve: the links' "
    "endpoint\n"
    "; listen = 127.0.0.1:8787               ; behind nginx/TLS (README)\n"
    "; trusted_proxy = 127.0.0.1             ; takes X-Forwarded-For from it\n"
    "; store_ip = off                        ; keep client addresses\n"
    "; machine_ua = Acme Link Scanner        ; more machines (repeat the key)\n"
    "; machine_net = 192.0.2.0/24\n"
    "\n"
    "[bounces]                               ; campaign bounces ingest|fetch\n"
    "; soft_limit = 3                        ; soft bounces that suppress ...\n"
    "; soft_days = 30                        ; ... within this many days\n"
    "; breaker_hard = 5%                     ; a campaign pauses past this\n"
    "; breaker_complaint = 0.3%              ; ... or this, after\n"
    "; breaker_min = 200                     ; ... this many messages\n"
    "; rules = local.rules                   ; your rules, before ours\n"
    "; imap = imaps://imap.acme.example/INBOX ; campaign bounces fetch\n"
    "; username = bounces\n"
    "; password_env = CAMPAIGN_IMAP_PASSWORD  ; or password_file =\n"
    "; processed = move:Processed            ; or seen, or delete\n";

struct parse {
    struct config *cfg;
    char msg[300];
};

static void
set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = (v != NULL && *v != '\0') ? xstrdup(v) : NULL;
}

static int
parse_bool(const char *v, int *out)
{
    if (strcasecmp(v, "on") == 0 || strcasecmp(v, "yes") == 0 ||
        strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcasecmp(v, "off") == 0 || strcasecmp(v, "no") == 0 ||
             strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

static int
parse_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
        return -1;
    *out = (int)n;
    return 0;
}

/* parse_duration - "90" or "90s", "30m", "2h", "1d": seconds, at most
 * 30 days */
static int
parse_duration(const char *v, int *out)
{
    size_t d = strspn(v, "0123456789");
    long n, unit = 1;

    if (d == 0 || d > 7)
        return -1;
    n = strtol(v, NULL, 10);
    switch (v[d]) {
    case '\0':
    case 's':
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    default:
        return -1;
    }
    if (v[d] != '\0' && v[d + 1] != '\0')
        return -1;
    if (n * unit > 30L * 86400)
        return -1;
    *out = (int)(n * unit);
    return 0;
}

int
config_rate_parse(const char *s, struct config_rate *r)
{
    char num[32];
    const char *end;
    double n, per = 1;
    size_t d = strspn(s, "0123456789");

    /* decimal digits, an optional fraction: no sign, hex, exponent,
     * nan or inf (strtod would take them all, so it reads a copy of
     * the digits alone) */
    if (d == 0)
        return -1;
    if (s[d] == '.') {
        size_t f = strspn(s + d + 1, "0123456789");
        if (f == 0)
            return -1;
        d += 1 + f;
    }
    if (d >= sizeof num)
        return -1;
    memcpy(num, s, d);
    num[d] = '\0';
    end = s + d;
    n = strtod(num, NULL);
    if (!(n > 0) || n > CONFIG_RATE_MAX)
        return -1;
    while (*end == ' ')
        end++;
    if (*end == '/') {
        end++;
        if (strcmp(end, "s") == 0 || strcmp(end, "sec") == 0)
            per = 1;
        else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
            per = 60;
        else if (strcmp(end, "h") == 0 || strcmp(end, "hour") == 0)
            per = 3600;
        else if (strcmp(end, "d") == 0 || strcmp(end, "day") == 0)
            per = 86400;
        else
            return -1;
    } else if (*end != '\0') {
        return -1;
    }
    r->per_second = n / per;
    if (r->per_second > CONFIG_RATE_MAX)
        return -1;
    return 0;
}

/* provider_name_ok - [a-z0-9_-], 1 to PROVIDER_NAME_MAX of them */
static int
provider_name_ok(const char *n)
{
    size_t len = strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-_");

    return len > 0 && len <= PROVIDER_NAME_MAX && n[len] == '\0';
}

/* resolver_ok - "off" or IPV4[:PORT] */
static int
resolver_ok(const char *v)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strchr(v, ':');
    size_t hl = colon ? (size_t)(colon - v) : strlen(v);
    struct in_addr a;
    int port;

    if (strcmp(v, "off") == 0)
        return 1;
    if (hl >= sizeof host)
        return 0;
    memcpy(host, v, hl);
    host[hl] = '\0';
    return inet_pton(AF_INET, host, &a) == 1 &&
           (colon == NULL || parse_int(colon + 1, 1, 65535, &port) == 0);
}

/* section_of - the section's first word and (after a space) its name. */
static void
section_split(const char *section, char *kind, size_t ksz, const char **name)
{
    const char *sp = strchr(section, ' ');
    size_t n = sp ? (size_t)(sp - section) : strlen(section);

    if (n >= ksz)
        n = ksz - 1;
    memcpy(kind, section, n);
    kind[n] = '\0';
    *name = "";
    if (sp != NULL) {
        while (*sp == ' ')
            sp++;
        *name = sp;
    }
}

static struct config_dkim *
dkim_for(struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ndkim; i++)
        if (strcmp(cfg->dkim[i].name, name) == 0)
            return &cfg->dkim[i];
    if (cfg->ndkim >= CONFIG_DKIM_MAX)
        return NULL;
    cfg->dkim[cfg->ndkim].name = xstrdup(name);
    return &cfg->dkim[cfg->ndkim++];
}

static void
relay_defaults(struct config_relay *r)
{
    r->tls = CONFIG_TLS_STARTTLS;
    r->tls_verify = 1;
    r->weight = 1;
    r->max_messages = 100;
    /* RFC 5321 4.5.3.2 minimums */
    r->timeout_connect = 30;
    r->timeout_greeting = 300;
    r->timeout_mail = 300;
    r->timeout_rcpt = 300;
    r->timeout_data = 120;
    r->timeout_data_block = 180;
    r->timeout_dot = 600;
}

static struct config_relay *
relay_for(struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nrelay; i++)
        if (strcmp(cfg->relay[i].name, name) == 0)
            return &cfg->relay[i];
    if (cfg->nrelay >= CONFIG_RELAY_MAX)
        return NULL;
    relay_defaults(&cfg->relay[cfg->nrelay]);
    cfg->relay[cfg->nrelay].name = xstrdup(name);
    return &cfg->relay[cfg->nrelay++];
}

#define BAD(...) (snprintf(p->msg, sizeof p->msg, __VA_ARGS__), 0)

static int
set_sender(struct parse *p, const char *key, const char *v)
{
    struct config_sender *s = &p->cfg->sender;

    if (strcmp(key, "from") == 0)
        set_str(&s->from, v);
    else if (strcmp(key, "reply_to") == 0)
        set_str(&s->reply_to, v);
    else if (strcmp(key, "list_id") == 0)
        set_str(&s->list_id, v);
    else if (strcmp(key, "bounce_domain") == 0)
        set_str(&s->bounce_domain, v);
    else if (strcmp(key, "feedback_id") == 0)
        set_str(&s->feedback_id, v);
    else
        return BAD("unknown key \"%s\" in [sender]", key);
    return 1;
}

static int
set_dkim(struct parse *p, const char *name, const char *key, const char *v)
{
    struct config_dkim *d = dkim_for(p->cfg, name);

    if (d == NULL)
        return BAD("more than %d [dkim] sections", CONFIG_DKIM_MAX);
    if (strcmp(key, "domain") == 0)
        set_str(&d->domain, v);
    else if (strcmp(key, "selector") == 0)
        set_str(&d->selector, v);
    else if (strcmp(key, "key_file") == 0)
        set_str(&d->key_file, v);
    else if (strcmp(key, "algorithm") == 0 || strcmp(key, "algo") == 0) {
        /* the algorithm follows the key; accepted for documentation */
        if (strcmp(v, "rsa") != 0 && strcmp(v, "ed25519") != 0 &&
            strcmp(v, "rsa-sha256") != 0 && strcmp(v, "ed25519-sha256") != 0)
            return BAD("algorithm: rsa or ed25519 (got \"%s\")", v);
    } else
        return BAD("unknown key \"%s\" in [dkim]", key);
    return 1;
}

/* loopback - a host name or address of this machine's loopback */
static int
loopback(const char *h, size_t n)
{
    return (n == 9 && strncasecmp(h, "localhost", 9) == 0) ||
           (n == 5 && memcmp(h, "[::1]", 5) == 0) ||
           (n >= 9 && memcmp(h, "127.", 4) == 0 &&
            strspn(h, "0123456789.") >= n);
}

/*
 * base_url_shape - NULL when v is https://HOST[:PORT][/PATH] (http:// only
 * for a loopback host: a test server), else why not.  HOST is a DNS name
 * in ASCII (an IDN in its xn-- form), an IPv4 address or [IPv6]; no
 * userinfo, query or fragment: each token is appended to the path, so
 * "?x=1" would break every link and "#x" would keep the token from ever
 * reaching the server.
 */
static const char *
base_url_shape(const char *v)
{
    const char *h, *end, *port;
    size_t hn;
    int https = strncmp(v, "https://", 8) == 0;

    if (!https && strncmp(v, "http://", 7) != 0)
        return "it must start with https://";
    h = v + (https ? 8 : 7);
    end = h + strcspn(h, "/");
    if (memchr(h, '@', (size_t)(end - h)) != NULL)
        return "no user or password before the host (user@)";
    if (strpbrk(v, "?#") != NULL)
        return "no query (?) or fragment (#): the tokens are appended to "
               "the path";
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '\\' ||
            (unsigned char)*c >= 0x80)
            return "spaces, control characters, backslashes and non-ASCII "
                   "characters are not allowed (an internationalised "
                   "domain in its xn-- form)";
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (rb == NULL || rb == h + 1)
            return "an IPv6 host is written [address]";
        port = rb + 1;
    } else {
        port = h + strcspn(h, ":/");
        if (port == h)
            return "no host";
        for (const char *c = h; c < port; c++)
            if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.')
                return "the host has a character a host name cannot have";
    }
    hn = (size_t)(port - h);
    if (port < end) {
        char *stop;
        long n;
        if (*port != ':' || port + 1 == end)
            return "a port is written :NUMBER after the host";
        n = strtol(port + 1, &stop, 10);
        if (stop != end || n < 1 || n > 65535)
            return "the port must be a number from 1 to 65535";
    }
    if (!https && !loopback(h, hn))
        return "http:// only for a test server on this machine (127.0.0.1, "
               "localhost, [::1]); mail needs https (RFC 8058 one-click "
               "unsubscribe)";
    return NULL;
}

static int
set_tracking(struct parse *p, const char *key, const char *v)
{
    struct config_tracking *t = &p->cfg->tracking;

    if (strcmp(key, "base_url") == 0) {
        size_t n = strlen(v);
        const char *why = base_url_shape(v);
        if (why != NULL)
            return BAD("base_url \"%s\" is not https://HOST[:PORT][/PATH]: "
                       "%s",
                       v, why);
        set_str(&t->base_url, v);
        while (n > 0 && t->base_url[n - 1] == '/')
            t->base_url[--n] = '\0';
    } else if (strcmp(key, "secret_file") == 0)
        set_str(&t->secret_file, v);
    else if (strcmp(key, "opens") == 0) {
        if (parse_bool(v, &t->opens) == -1)
            return BAD("opens: on or off (got \"%s\")", v);
    } else if (strcmp(key, "clicks") == 0) {
        if (parse_bool(v, &t->clicks) == -1)
            return BAD("clicks: on or off (got \"%s\")", v);
    } else
        return BAD("unknown key \"%s\" in [tracking]", key);
    return 1;
}

/* add_str - one more value of a repeatable key. */
static int
add_str(struct parse *p, char **arr, size_t *n, size_t max, const char *key,
        const char *v)
{
    if (*v == '\0')
        return BAD("%s: empty value", key);
    if (*n >= max)
        return BAD("%s: more than %zu values", key, max);
    arr[(*n)++] = xstrdup(v);
    return 1;
}

static int
set_serve(struct parse *p, const char *key, const char *v)
{
    struct config_serve *s = &p->cfg->serve;
    static const struct {
        const char *key;
        size_t off;
        int lo, hi;
    } ints[] = {
        {"threads", offsetof(struct config_serve, threads), 0, 64},
        {"max_connections", offsetof(struct config_serve, max_connections), 1,
         100000},
        {"per_ip", offsetof(struct config_serve, per_ip), 0, 100000},
        {"timeout", offsetof(struct config_serve, timeout), 1, 3600},
        {"click_seconds", offsetof(struct config_serve, click_seconds), 0,
         86400},
    };

    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(key, ints[i].key) == 0) {
            if (parse_int(v, ints[i].lo, ints[i].hi,
                          (int *)(void *)((char *)s + ints[i].off)) == -1)
                return BAD("%s: a number from %d to %d (got \"%s\")", key,
                           ints[i].lo, ints[i].hi, v);
            return 1;
        }
    if (strcmp(key, "listen") == 0) {
        const char *colon = strrchr(v, ':');
        int port;
        if (colon == NULL || colon == v ||
            parse_int(colon + 1, 1, 65535, &port) == -1)
            return BAD("listen: ADDRESS:PORT, e.g. 127.0.0.1:8787 or "
                       "[::1]:8787 (got \"%s\")",
                       v);
        set_str(&s->listen, v);
    } else if (strcmp(key, "store_ip") == 0) {
        if (parse_bool(v, &s->store_ip) == -1)
            return BAD("store_ip: on or off (got \"%s\")", v);
    } else if (strcmp(key, "trusted_proxy") == 0) {
        /* kept in the form inet_ntop gives, which the server compares
         * with the peer's address */
        unsigned char bin[16];
        char canon[INET6_ADDRSTRLEN];
        int af = inet_pton(AF_INET, v, bin) == 1    ? AF_INET
                 : inet_pton(AF_INET6, v, bin) == 1 ? AF_INET6
                                                    : 0;
        if (af == 0 || inet_ntop(af, bin, canon, sizeof canon) == NULL)
            return BAD("trusted_proxy: an IPv4 or IPv6 address, such as "
                       "127.0.0.1 (got \"%s\")",
                       v);
        return add_str(p, s->trusted_proxy, &s->ntrusted_proxy,
                       CONFIG_PROXIES_MAX, key, canon);
    } else if (strcmp(key, "machine_ua") == 0) {
        return add_str(p, s->machine_ua, &s->nmachine_ua,
                       CONFIG_SERVE_RULES_MAX, key, v);
    } else if (strcmp(key, "machine_net") == 0) {
        return add_str(p, s->machine_net, &s->nmachine_net,
                       CONFIG_SERVE_RULES_MAX, key, v);
    } else
        return BAD("unknown key \"%s\" in [serve]", key);
    return 1;
}

static int
set_relay(struct parse *p, const char *name, const char *key, const char *v)
{
    struct config_relay *r = relay_for(p->cfg, name);
    static const struct {
        const char *key;
        size_t off;
    } timeouts[] = {
        {"timeout_connect", offsetof(struct config_relay, timeout_connect)},
        {"timeout_greeting", offsetof(struct config_relay, timeout_greeting)},
        {"timeout_mail", offsetof(struct config_relay, timeout_mail)},
        {"timeout_rcpt", offsetof(struct config_relay, timeout_rcpt)},
        {"timeout_data", offsetof(struct config_relay, timeout_data)},
        {"timeout_data_block",
         offsetof(struct config_relay, timeout_data_block)},
        {"timeout_dot", offsetof(struct config_relay, timeout_dot)},
    };

    if (r == NULL)
        return BAD("more than %d [relay] sections", CONFIG_RELAY_MAX);
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        if (strcmp(key, timeouts[i].key) == 0) {
            if (parse_int(v, 1, 86400, (int *)((char *)r + timeouts[i].off)) ==
                -1)
                return BAD("%s: seconds, 1 to 86400 (got \"%s\")", key, v);
            return 1;
        }
    }
    if (strcmp(key, "host") == 0)
        set_str(&r->host, v);
    else if (strcmp(key, "port") == 0) {
        if (parse_int(v, 1, 65535, &r->port) == -1)
            return BAD("port: 1 to 65535 (got \"%s\")", v);
    } else if (strcmp(key, "tls") == 0) {
        if (strcmp(v, "starttls") == 0)
            r->tls = CONFIG_TLS_STARTTLS;
        else if (strcmp(v, "smtps") == 0 || strcmp(v, "tls") == 0)
            r->tls = CONFIG_TLS_SMTPS;
        else if (strcmp(v, "none") == 0)
            r->tls = CONFIG_TLS_NONE;
        else
            return BAD("tls: starttls, smtps or none (got \"%s\")", v);
    } else if (strcmp(key, "tls_verify") == 0) {
        if (parse_bool(v, &r->tls_verify) == -1)
            return BAD("tls_verify: on or off (got \"%s\")", v);
    } else if (strcmp(key, "ca_file") == 0)
        set_str(&r->ca_file, v);
    else if (strcmp(key, "username") == 0)
        set_str(&r->username, v);
    else if (strcmp(key, "password_env") == 0)
        set_str(&r->password_env, v);
    else if (strcmp(key, "password_file") == 0)
        set_str(&r->password_file, v);
    else if (strcmp(key, "password") == 0)
        return BAD("a password is never written in campaign.conf: use "
                   "password_env or password_file");
    else if (strcmp(key, "auth") == 0) {
        if (strcasecmp(v, "plain") != 0 && strcasecmp(v, "login") != 0)
            return BAD("auth: plain or login (got \"%s\")", v);
        set_str(&r->auth, v);
    } else if (strcmp(key, "helo") == 0)
        set_str(&r->helo, v);
    else if (strcmp(key, "weight") == 0) {
        if (parse_int(v, 0, 1000, &r->weight) == -1)
            return BAD("weight: 0 to 1000 (got \"%s\")", v);
    } else if (strcmp(key, "max_messages") == 0) {
        if (parse_int(v, 1, 100000, &r->max_messages) == -1)
            return BAD("max_messages: 1 to 100000 (got \"%s\")", v);
    } else if (strcmp(key, "max_connections") == 0) {
        if (parse_int(v, 1, 256, &r->max_connections) == -1)
            return BAD("max_connections: 1 to 256 (got \"%s\")", v);
    } else if (strcmp(key, "rate") == 0) {
        if (config_rate_parse(v, &r->rate) == -1)
            return BAD("rate: like 14/s, 3000/m or 100000/h (got \"%s\")", v);
    } else
        return BAD("unknown key \"%s\" in [relay]", key);
    return 1;
}

/* set_limits_when - the [limits] keys of when to send (schedule.h) */
static int
set_limits_when(struct parse *p, const char *key, const char *v)
{
    struct config_limits *l = &p->cfg->limits;
    char why[160];

    if (strcmp(key, "window") == 0) {
        if (l->nwindow >= SCHED_WINDOWS_MAX)
            return BAD("more than %d windows", SCHED_WINDOWS_MAX);
        if (sched_window_parse(v, &l->window[l->nwindow], why, sizeof why) ==
            -1)
            return BAD("window: %s", why);
        l->nwindow++;
    } else if (strcmp(key, "timezone") == 0) {
        if (*v == '\0' || !sched_tz_valid(v))
            return BAD("timezone: \"%s\" is not a zone of the tz database "
                       "(an IANA name such as Europe/Rome)",
                       v);
        set_str(&l->timezone, v);
    } else if (strcmp(key, "daily_cap") == 0) {
        int n;
        if (parse_int(v, 1, 100000000, &n) == -1)
            return BAD("daily_cap: 1 to 100000000 (got \"%s\")", v);
        l->cap.daily_cap = n;
    } else if (strcmp(key, "warmup") == 0) {
        if (sched_warmup_parse(v, &l->cap, why, sizeof why) == -1)
            return BAD("warmup: %s", why);
    } else if (strcmp(key, "warmup_start") == 0) {
        if (sched_date_parse(v, &l->cap.warmup_start) == -1)
            return BAD("warmup_start: a date like 2026-12-07 (got \"%s\")", v);
        l->warmup_start_set = 1;
    } else if (strcmp(key, "campaigns") == 0) {
        if (parse_int(v, 1, 64, &l->campaigns) == -1)
            return BAD("campaigns: 1 to 64 (got \"%s\")", v);
    } else if (strcmp(key, "grace") == 0) {
        if (parse_duration(v, &l->grace) == -1 || l->grace < 600)
            return BAD("grace: a duration from 10m (two ticks of run-due) "
                       "to 30d, like 2h or 90m (got \"%s\")",
                       v);
    } else
        return BAD("unknown key \"%s\" in [limits]", key);
    return 1;
}

static int
set_limits(struct parse *p, const char *key, const char *v)
{
    struct config_limits *l = &p->cfg->limits;

    if (strcmp(key, "rate") == 0) {
        if (config_rate_parse(v, &l->rate) == -1)
            return BAD("rate: like 50/s, 3000/m or 100000/h (got \"%s\")", v);
    } else if (strcmp(key, "burst") == 0) {
        int b;
        if (parse_int(v, 1, 1000000, &b) == -1)
            return BAD("burst: 1 to 1000000 (got \"%s\")", v);
        l->burst = b;
    } else if (strcmp(key, "concurrency") == 0) {
        if (parse_int(v, 1, 256, &l->concurrency) == -1)
            return BAD("concurrency: 1 to 256 (got \"%s\")", v);
    } else if (strncmp(key, "provider.", 9) == 0) {
        struct config_provider_limit *pl;
        if (!provider_name_ok(key + 9))
            return BAD("%s: a provider's name is 1 to %d lower-case "
                       "letters, digits, - or _",
                       key, PROVIDER_NAME_MAX);
        for (size_t i = 0; i < l->nprovider_rate; i++)
            if (strcmp(l->provider_rate[i].name, key + 9) == 0)
                return BAD("%s: the same provider as an earlier key", key);
        if (l->nprovider_rate >= CONFIG_PROVIDERS_MAX)
            return BAD("more than %d provider limits", CONFIG_PROVIDERS_MAX);
        pl = &l->provider_rate[l->nprovider_rate];
        if (config_rate_parse(v, &pl->rate) == -1)
            return BAD("%s: like 20/s (got \"%s\")", key, v);
        pl->name = xstrdup(key + 9);
        l->nprovider_rate++;
    } else if (strcmp(key, "resolver") == 0) {
        if (!resolver_ok(v))
            return BAD("resolver: off, or the IPv4 address of a name server "
                       "with an optional port, like 127.0.0.1:5353 (got "
                       "\"%s\")",
                       v);
        set_str(&l->resolver, v);
    } else if (strncmp(key, "domain.", 7) == 0 && key[7] != '\0') {
        struct config_domain_limit *d;
        if (l->ndomain >= CONFIG_DOMAIN_LIMITS_MAX)
            return BAD("more than %d per-domain limits",
                       CONFIG_DOMAIN_LIMITS_MAX);
        d = &l->domain[l->ndomain];
        if (config_rate_parse(v, &d->rate) == -1)
            return BAD("%s: like 20/s (got \"%s\")", key, v);
        /* one spelling: the A-labels the queue's domains have */
        char dom[EMAIL_MAX + 1];
        const char *why;
        if (email_domain_alabels(key + 7, dom, &why) == -1)
            return BAD("%s: %s", key, why);
        for (size_t i = 0; i < l->ndomain; i++)
            if (strcmp(l->domain[i].domain, dom) == 0)
                return BAD("%s: the same domain as an earlier key (%s)", key,
                           dom);
        d->domain = xstrdup(dom);
        l->ndomain++;
    } else
        return set_limits_when(p, key, v);
    return 1;
}

static struct config_provider *
provider_for(struct config *cfg, const char *name)
{
    struct config_limits *l = &cfg->limits;

    for (size_t i = 0; i < l->nprovider; i++)
        if (strcmp(l->provider[i].name, name) == 0)
            return &l->provider[i];
    if (l->nprovider >= CONFIG_PROVIDERS_MAX)
        return NULL;
    l->provider[l->nprovider].name = xstrdup(name);
    return &l->provider[l->nprovider++];
}

/*
 * set_provider - [provider NAME]: domains = and mx = add to the lists
 * (repeatable, comma- or space-separated).  A domain is kept in
 * lower-case A-labels, as the queue's domains are; an MX suffix written
 * "*.mx.example", ".mx.example" or "mx.example" matches mx.example and
 * every host under it.
 */
static int
set_provider(struct parse *p, const char *name, const char *key, const char *v)
{
    struct config_provider *c;
    int dom = strcmp(key, "domains") == 0;

    if (!provider_name_ok(name))
        return BAD("[provider %s]: a provider's name is 1 to %d lower-case "
                   "letters, digits, - or _",
                   name, PROVIDER_NAME_MAX);
    if (!dom && strcmp(key, "mx") != 0)
        return BAD("unknown key \"%s\" in [provider %s] (domains or mx)", key,
                   name);
    if ((c = provider_for(p->cfg, name)) == NULL)
        return BAD("more than %d [provider] sections", CONFIG_PROVIDERS_MAX);
    for (;;) {
        char word[EMAIL_MAX + 1], out[EMAIL_MAX + 1];
        const char *why, *w;
        size_t n;

        v += strspn(v, " \t,");
        if ((n = strcspn(v, " \t,")) == 0)
            break;
        if (n >= sizeof word)
            return BAD("%s: \"%.*s\" is too long", key, (int)n, v);
        memcpy(word, v, n);
        word[n] = '\0';
        v += n;
        if (dom) {
            if (email_domain_alabels(word, out, &why) == -1)
                return BAD("domains: \"%.64s\": %s", word, why);
            c->domain =
                xreallocarray(c->domain, c->ndomain + 1, sizeof *c->domain);
            c->domain[c->ndomain++] = xstrdup(out);
            continue;
        }
        w = word;
        if (strncmp(w, "*.", 2) == 0)
            w += 2;
        else if (*w == '.')
            w++;
        n = strlen(w);
        if (n > 0 && w[n - 1] == '.')
            n--;
        if (n == 0 || strspn(w, "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") < n)
            return BAD("mx: \"%.64s\" is not a host name suffix (like "
                       "mail.protection.outlook.com or *.google.com)",
                       word);
        c->mx = xreallocarray(c->mx, c->nmx + 1, sizeof *c->mx);
        c->mx[c->nmx] = xstrndup(w, n);
        for (char *q = c->mx[c->nmx]; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        c->nmx++;
    }
    return 1;
}

/* parse_ratio - "5%", "0.3%" or "0.05": a fraction from 0 to 1 */
static int
parse_ratio(const char *v, double *out)
{
    char *end;
    double d;

    if (*v < '0' || *v > '9')
        return -1;
    errno = 0;
    d = strtod(v, &end);
    if (errno != 0 || end == v)
        return -1;
    if (*end == '%') {
        d /= 100;
        end++;
    }
    if (*end != '\0' || !(d >= 0 && d <= 1))
        return -1;
    *out = d;
    return 0;
}

static int
set_bounces(struct parse *p, const char *key, const char *v)
{
    struct config_bounces *b = &p->cfg->bounces;

    if (strcmp(key, "rules") == 0) {
        set_str(&b->rules, v);
    } else if (strcmp(key, "soft_limit") == 0) {
        if (parse_int(v, 1, 1000, &b->soft_limit) == -1)
            return BAD("soft_limit: 1 to 1000 (got \"%s\")", v);
    } else if (strcmp(key, "soft_days") == 0) {
        if (parse_int(v, 1, 3650, &b->soft_days) == -1)
            return BAD("soft_days: 1 to 3650 (got \"%s\")", v);
    } else if (strcmp(key, "breaker_hard") == 0 ||
               strcmp(key, "breaker_complaint") == 0) {
        if (parse_ratio(v, key[8] == 'h' ? &b->breaker_hard
                                         : &b->breaker_complaint) == -1)
            return BAD("%s: a rate like 5%% or 0.3%% (0 never pauses; got "
                       "\"%s\")",
                       key, v);
    } else if (strcmp(key, "breaker_min") == 0) {
        if (parse_int(v, 1, INT_MAX, &b->breaker_min) == -1)
            return BAD("breaker_min: a count of messages (got \"%s\")", v);
    } else if (strcmp(key, "imap") == 0) {
        if (strncmp(v, "imaps://", 8) != 0 && strncmp(v, "imap://", 7) != 0)
            return BAD("imap: imaps://HOST[:PORT]/MAILBOX or "
                       "imap://HOST[:PORT]/MAILBOX (STARTTLS) (got \"%s\")",
                       v);
        {
            const char *host = strstr(v, "://") + 3;
            const char *slash = strchr(host, '/');
            const char *at = strchr(host, '@');
            if (at != NULL && (slash == NULL || at < slash))
                return BAD("imap: no user or password in the URL (it is "
                           "shown in messages): set username and "
                           "password_env or password_file");
        }
        set_str(&b->imap, v);
    } else if (strcmp(key, "username") == 0) {
        set_str(&b->username, v);
    } else if (strcmp(key, "password_env") == 0) {
        set_str(&b->password_env, v);
    } else if (strcmp(key, "password_file") == 0) {
        set_str(&b->password_file, v);
    } else if (strcmp(key, "tls_verify") == 0) {
        if (parse_bool(v, &b->tls_verify) == -1)
            return BAD("tls_verify: on or off (got \"%s\")", v);
    } else if (strcmp(key, "ca_file") == 0) {
        set_str(&b->ca_file, v);
    } else if (strcmp(key, "processed") == 0) {
        if (strcmp(v, "seen") != 0 && strcmp(v, "delete") != 0 &&
            (strncmp(v, "move:", 5) != 0 || v[5] == '\0'))
            return BAD("processed: move:FOLDER, seen or delete (got \"%s\")",
                       v);
        set_str(&b->processed, v);
    } else
        return BAD("unknown key \"%s\" in [bounces]", key);
    return 1;
}

/* handler - inih: one name = value; returns 0 (error, message kept). */
static int
handler(void *arg, const char *section, const char *key, const char *v)
{
    struct parse *p = arg;
    char kind[32];
    const char *name;

    /* a value goes into headers, paths and URLs: a CR or LF (possible
     * from the environment) would split a header, and is never flattened
     * or cut here - refused, naming the key */
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c < ' ' && *c != '\t')
            return BAD("%s: a control character (CR, LF, ...) in the value "
                       "is refused",
                       key);
    section_split(section, kind, sizeof kind, &name);
    if (strcmp(kind, "sender") == 0 && *name == '\0')
        return set_sender(p, key, v);
    if (strcmp(kind, "dkim") == 0)
        return set_dkim(p, name, key, v);
    if (strcmp(kind, "tracking") == 0 && *name == '\0')
        return set_tracking(p, key, v);
    if (strcmp(kind, "relay") == 0)
        return set_relay(p, name, key, v);
    if (strcmp(kind, "limits") == 0 && *name == '\0')
        return set_limits(p, key, v);
    if (strcmp(kind, "serve") == 0 && *name == '\0')
        return set_serve(p, key, v);
    if (strcmp(kind, "bounces") == 0 && *name == '\0')
        return set_bounces(p, key, v);
    if (strcmp(kind, "provider") == 0)
        return set_provider(p, name, key, v);
    return BAD("unknown section [%s]", section);
}

/* env_overrides - CAMPAIGN_SECTION[_NAME]_KEY for every known key. */
static int
env_overrides(struct parse *p, struct err *e)
{
    static const char *const keys[][2] = {
        {"sender", "from"},
        {"sender", "reply_to"},
        {"sender", "list_id"},
        {"sender", "bounce_domain"},
        {"sender", "feedback_id"},
        {"dkim", "domain"},
        {"dkim", "selector"},
        {"dkim", "key_file"},
        {"tracking", "base_url"},
        {"tracking", "secret_file"},
        {"tracking", "opens"},
        {"tracking", "clicks"},
        {"relay", "host"},
        {"relay", "port"},
        {"relay", "tls"},
        {"relay", "tls_verify"},
        {"relay", "ca_file"},
        {"relay", "username"},
        {"relay", "password_env"},
        {"relay", "password_file"},
        {"relay", "auth"},
        {"relay", "helo"},
        {"relay", "max_messages"},
        {"relay", "max_connections"},
        {"relay", "rate"},
        {"limits", "rate"},
        {"limits", "burst"},
        {"limits", "resolver"},
        {"limits", "concurrency"},
        {"limits", "window"},
        {"limits", "timezone"},
        {"limits", "daily_cap"},
        {"limits", "warmup"},
        {"limits", "warmup_start"},
        {"limits", "campaigns"},
        {"limits", "grace"},
        {"serve", "listen"},
        {"serve", "threads"},
        {"serve", "max_connections"},
        {"serve", "per_ip"},
        {"serve", "timeout"},
        {"serve", "store_ip"},
        {"serve", "click_seconds"},
        {"serve", "trusted_proxy"},
        {"bounces", "rules"},
        {"bounces", "soft_limit"},
        {"bounces", "soft_days"},
        {"bounces", "breaker_hard"},
        {"bounces", "breaker_complaint"},
        {"bounces", "breaker_min"},
        {"bounces", "imap"},
        {"bounces", "username"},
        {"bounces", "password_env"},
        {"bounces", "password_file"},
        {"bounces", "tls_verify"},
        {"bounces", "ca_file"},
        {"bounces", "processed"},
    };
    char var[128];

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v;
        size_t o = 0;
        o += (size_t)snprintf(var + o, sizeof var - o, "CAMPAIGN_%s_%s",
                              keys[i][0], keys[i][1]);
        for (char *c = var; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        if ((v = getenv(var)) == NULL)
            continue;
        /* the environment's window replaces the file's, not adds one */
        if (strcmp(keys[i][1], "window") == 0)
            p->cfg->limits.nwindow = 0;
        if (!handler(p, keys[i][0], keys[i][1], v))
            return err_set(e, EX_CONFIG, "environment %s: %s", var, p->msg);
    }
    return 0;
}

/* resolve - a relative file name in the configuration is read from the
 * configuration file's directory, not the working directory (cron runs
 * from /): *v becomes DIR/NAME. */
static void
resolve(const struct config *cfg, char **v)
{
    const char *slash;

    if (*v == NULL || **v == '/' || **v == '\0' ||
        (slash = strrchr(cfg->path, '/')) == NULL)
        return;
    char *full = xasprintf("%.*s/%s", (int)(slash - cfg->path), cfg->path, *v);
    free(*v);
    *v = full;
}

/*
 * ascii_domain - the sender's own names go on the wire in every message
 * (MAIL FROM, From, the VERP and unsubscribe addresses, d=): an
 * internationalised domain there must be written as A-labels, which the
 * error gives.  SMTPUTF8 is for recipients' mailboxes (email.h).
 */
static int
ascii_domain(const struct config *cfg, const char *sect, const char *key,
             const char *v, struct err *e)
{
    char probe[EMAIL_MAX + 1], wire[EMAIL_MAX + 1];
    const char *why, *at, *dom, *all = v;
    size_t n;
    int utf8;

    if (v == NULL)
        return 0;
    /* the address of "Name <addr>" (a display name may be anything) */
    if (strchr(v, '<') != NULL)
        v = strchr(v, '<') + 1;
    for (n = 0; v[n] && v[n] != '>' && (unsigned char)v[n] < 0x80; n++)
        ;
    if (v[n] == '\0' || v[n] == '>')
        return 0;
    at = strrchr(v, '@');
    dom = at ? at + 1 : v;
    n = strcspn(dom, "> \t");
    if (snprintf(probe, sizeof probe, "x@%.*s", (int)n, dom) >=
            (int)sizeof probe ||
        email_normalize(probe, strlen(probe), wire, &why) == -1 ||
        email_wire(wire, probe, &utf8, &why) == -1)
        return err_set(e, EX_CONFIG,
                       "%s: [%s] %s \"%s\": not ASCII, and not a valid "
                       "internationalised domain",
                       cfg->path, sect, key, all);
    return err_set(e, EX_CONFIG,
                   "%s: [%s] %s \"%s\": write the domain as A-labels (%s) "
                   "and the local part in ASCII: the sender's addresses go "
                   "in every message",
                   cfg->path, sect, key, all, probe + 2);
}

static int
validate(struct config *cfg, struct err *e)
{
    resolve(cfg, &cfg->tracking.secret_file);
    for (size_t i = 0; i < cfg->ndkim; i++)
        resolve(cfg, &cfg->dkim[i].key_file);
    for (size_t i = 0; i < cfg->nrelay; i++) {
        resolve(cfg, &cfg->relay[i].ca_file);
        resolve(cfg, &cfg->relay[i].password_file);
    }
    resolve(cfg, &cfg->bounces.rules);
    resolve(cfg, &cfg->bounces.ca_file);
    resolve(cfg, &cfg->bounces.password_file);
    for (size_t i = 0; i < cfg->ndkim; i++) {
        struct config_dkim *d = &cfg->dkim[i];
        if (d->domain == NULL || d->selector == NULL || d->key_file == NULL)
            return err_set(e, EX_CONFIG,
                           "%s: [dkim%s%s] needs domain, selector and "
                           "key_file",
                           cfg->path, *d->name ? " " : "", d->name);
    }
    for (size_t i = 0; i < cfg->nrelay; i++) {
        struct config_relay *r = &cfg->relay[i];
        if (r->host == NULL)
            return err_set(e, EX_CONFIG, "%s: [relay%s%s] needs host",
                           cfg->path, *r->name ? " " : "", r->name);
        if (r->port == 0)
            r->port = r->tls == CONFIG_TLS_SMTPS  ? 465
                      : r->tls == CONFIG_TLS_NONE ? 25
                                                  : 587;
        if (r->password_env && r->password_file)
            return err_set(e, EX_CONFIG,
                           "%s: [relay%s%s]: password_env or password_file, "
                           "not both",
                           cfg->path, *r->name ? " " : "", r->name);
    }
    if (ascii_domain(cfg, "sender", "bounce_domain", cfg->sender.bounce_domain,
                     e) == -1 ||
        ascii_domain(cfg, "sender", "from", cfg->sender.from, e) == -1 ||
        ascii_domain(cfg, "sender", "reply_to", cfg->sender.reply_to, e) == -1)
        return -1;
    for (size_t i = 0; i < cfg->ndkim; i++)
        if (ascii_domain(cfg, "dkim", "domain", cfg->dkim[i].domain, e) == -1)
            return -1;
    for (size_t i = 0; i < cfg->limits.nprovider_rate; i++) {
        const char *n = cfg->limits.provider_rate[i].name;
        int known = provider_shipped(n);
        for (size_t k = 0; !known && k < cfg->limits.nprovider; k++)
            known = strcmp(cfg->limits.provider[k].name, n) == 0;
        if (!known)
            return err_set(e, EX_CONFIG,
                           "%s: [limits] provider.%s: no such provider "
                           "(shipped: %s; or describe it in a [provider "
                           "%s] section)",
                           cfg->path, n, provider_shipped_names(), n);
    }
    if (cfg->limits.concurrency == 0)
        cfg->limits.concurrency = 8;
    if (cfg->limits.cap.nwarmup > 0 && !cfg->limits.warmup_start_set)
        return err_set(e, EX_CONFIG,
                       "%s: [limits] warmup needs warmup_start = YYYY-MM-DD, "
                       "the day of its first step",
                       cfg->path);
    if (cfg->limits.warmup_start_set && cfg->limits.cap.nwarmup == 0)
        return err_set(e, EX_CONFIG, "%s: [limits] warmup_start without warmup",
                       cfg->path);
    return 0;
}

int
config_load(struct config *cfg, const char *path, struct err *e)
{
    struct parse p;
    FILE *f;
    int rc;

    memset(cfg, 0, sizeof *cfg);
    cfg->path = xstrdup(path);
    cfg->tracking.opens = 1;
    cfg->tracking.clicks = 1;
    cfg->serve.max_connections = 1024;
    cfg->limits.campaigns = 1;
    cfg->limits.grace = 7200;
    cfg->serve.per_ip = 256;
    cfg->serve.timeout = 10;
    cfg->serve.click_seconds = 10;
    cfg->bounces.soft_limit = 3;
    cfg->bounces.soft_days = 30;
    cfg->bounces.breaker_hard = 0.05;
    cfg->bounces.breaker_complaint = 0.003;
    cfg->bounces.breaker_min = 200;
    cfg->bounces.tls_verify = 1;
    memset(&p, 0, sizeof p);
    p.cfg = cfg;
    if ((f = fopen(path, "r")) == NULL) {
        if (errno != ENOENT)
            return err_set(e, EX_CONFIG, "%s: %s", path, strerror(errno));
    } else {
        cfg->exists = 1;
        rc = ini_parse_file(f, handler, &p);
        fclose(f);
        if (rc > 0)
            return err_set(e, EX_CONFIG, "%s:%d: %s", path, rc,
                           p.msg[0] ? p.msg : "syntax error");
        if (rc < 0)
            return err_set(e, EX_CONFIG, "%s: cannot parse", path);
    }
    if (env_overrides(&p, e) == -1)
        return -1;
    return validate(cfg, e);
}

void
config_free(struct config *cfg)
{
    free(cfg->path);
    free(cfg->sender.from);
    free(cfg->sender.reply_to);
    free(cfg->sender.list_id);
    free(cfg->sender.bounce_domain);
    free(cfg->sender.feedback_id);
    for (size_t i = 0; i < cfg->ndkim; i++) {
        free(cfg->dkim[i].name);
        free(cfg->dkim[i].domain);
        free(cfg->dkim[i].selector);
        free(cfg->dkim[i].key_file);
    }
    free(cfg->serve.listen);
    free(cfg->bounces.rules);
    free(cfg->bounces.imap);
    free(cfg->bounces.username);
    free(cfg->bounces.password_env);
    free(cfg->bounces.password_file);
    free(cfg->bounces.ca_file);
    free(cfg->bounces.processed);
    for (size_t i = 0; i < cfg->serve.ntrusted_proxy; i++)
        free(cfg->serve.trusted_proxy[i]);
    for (size_t i = 0; i < cfg->serve.nmachine_ua; i++)
        free(cfg->serve.machine_ua[i]);
    for (size_t i = 0; i < cfg->serve.nmachine_net; i++)
        free(cfg->serve.machine_net[i]);
    free(cfg->tracking.base_url);
    free(cfg->tracking.secret_file);
    for (size_t i = 0; i < cfg->nrelay; i++) {
        struct config_relay *r = &cfg->relay[i];
        free(r->name);
        free(r->host);
        free(r->ca_file);
        free(r->username);
        free(r->password_env);
        free(r->password_file);
        free(r->auth);
        free(r->helo);
    }
    for (size_t i = 0; i < cfg->limits.nprovider_rate; i++)
        free(cfg->limits.provider_rate[i].name);
    for (size_t i = 0; i < cfg->limits.nprovider; i++) {
        struct config_provider *c = &cfg->limits.provider[i];
        for (size_t k = 0; k < c->ndomain; k++)
            free(c->domain[k]);
        for (size_t k = 0; k < c->nmx; k++)
            free(c->mx[k]);
        free(c->domain);
        free(c->mx);
        free(c->name);
    }
    free(cfg->limits.resolver);
    for (size_t i = 0; i < cfg->limits.ndomain; i++)
        free(cfg->limits.domain[i].domain);
    free(cfg->limits.timezone);
    memset(cfg, 0, sizeof *cfg);
}

int
config_write_default(const char *path, struct err *e)
{
    struct stat sb;

    if (stat(path, &sb) == 0)
        return 0;
    if (errno != ENOENT)
        return err_set(e, EX_CANTCREAT, "%s: %s", path, strerror(errno));
    if (fs_write_atomic(path, config_default, sizeof config_default - 1, 0600,
                        e) == -1)
        return -1;
    return 1;
}
