/* SPDX-License-Identifier: ISC */
/*
 * provider.c - recipient domains grouped by provider, MX rollup (see
 * provider.h).  RFC 1035 (the MX record, 3.3.9; read with the resolver's
 * ns_initparse/ns_parserr), RFC 5321 section 5.1 (mail goes to the most
 * preferred MX hosts), RFC 7505 (a null MX "." is no provider's).
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "provider.h"
#include "xalloc.h"

/*
 * The shipped table: the providers that receive most consumer mail, with
 * their own domains and the host names of the MX servers they run for
 * themselves and for the domains they host.  An MX suffix matches the
 * host itself and every name under it ("google.com": aspmx.l.google.com,
 * smtp.google.com, gmail-smtp-in.l.google.com).  Only what is sure is
 * here; [provider NAME] in campaign.conf adds the rest (README,
 * "Providers").
 */
static const struct shipped {
    const char *name;
    const char *domains; /* space-separated */
    const char *mx;      /* space-separated suffixes */
} shipped[] = {
    {"google", "gmail.com googlemail.com", "google.com googlemail.com"},
    {"microsoft",
     "outlook.com hotmail.com live.com msn.com windowslive.com "
     "hotmail.co.uk hotmail.fr hotmail.de hotmail.it hotmail.es "
     "hotmail.nl hotmail.be hotmail.se hotmail.com.br "
     "live.co.uk live.fr live.de live.it live.nl live.be live.ca "
     "live.com.au outlook.fr outlook.de outlook.it outlook.es outlook.jp",
     "protection.outlook.com hotmail.com"},
    {"yahoo",
     "yahoo.com yahoo.co.uk yahoo.fr yahoo.de yahoo.it yahoo.es yahoo.ie "
     "yahoo.gr yahoo.se yahoo.ca yahoo.com.au yahoo.co.nz yahoo.co.in "
     "yahoo.com.br yahoo.com.mx yahoo.com.ar yahoo.com.sg "
     "ymail.com rocketmail.com aol.com aim.com aol.co.uk",
     "yahoodns.net aol.com"},
    {"apple", "icloud.com me.com mac.com", "mail.icloud.com"},
    {"gmx", "gmx.de gmx.net gmx.at gmx.ch gmx.com web.de",
     "gmx.net gmx.com web.de"},
    {"mailru", "mail.ru inbox.ru list.ru bk.ru internet.ru", "mail.ru"},
    {"yandex", "yandex.ru yandex.com ya.ru yandex.by yandex.kz narod.ru",
     "yandex.ru yandex.net"},
    {"comcast", "comcast.net", "comcast.net"},
    {"zoho", "zoho.com zohomail.com zoho.eu", "zoho.com zoho.eu zoho.in"},
    {"proton", "protonmail.com protonmail.ch proton.me pm.me", "protonmail.ch"},
    {"fastmail", "fastmail.com fastmail.fm", "messagingengine.com"},
};

struct provider {
    char *name;
    char **domain;
    size_t ndomain;
    char **mx;
    size_t nmx;
};

/* one domain's answer, for the run; provider NULL: none */
struct cached {
    char *domain;
    const char *provider;
};

struct providers {
    struct provider *v;
    size_t n;
    struct cached *cache; /* open addressing, a power of two */
    size_t cache_cap, cache_n;
    int dns;   /* a resolver is set up */
    int fails; /* failed lookups in a row */
    struct providers_stats st;
    struct __res_state res;
};

int
provider_shipped(const char *name)
{
    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++)
        if (strcmp(shipped[i].name, name) == 0)
            return 1;
    return 0;
}

const char *
provider_shipped_names(void)
{
    static char names[256];
    size_t o = 0;

    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
        int n = snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "",
                         shipped[i].name);
        if (n < 0 || (size_t)n >= sizeof names - o)
            break;
        o += (size_t)n;
    }
    return names;
}

int
provider_suffix_match(const char *host, const char *suffix)
{
    size_t h = strlen(host), s = strlen(suffix);

    if (h > 0 && host[h - 1] == '.')
        h--;
    if (s == 0 || h < s || strncasecmp(host + h - s, suffix, s) != 0)
        return 0;
    /* the whole name, or a label boundary before the suffix */
    return h == s || host[h - s - 1] == '.';
}

/* add - one more string (lower case) to a list */
static void
add(char ***v, size_t *n, const char *s, size_t len)
{
    char *c = xstrndup(s, len);

    for (char *p = c; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    *v = xreallocarray(*v, *n + 1, sizeof **v);
    (*v)[(*n)++] = c;
}

/* add_words - each space-separated word of s */
static void
add_words(char ***v, size_t *n, const char *s)
{
    for (;;) {
        size_t len;
        s += strspn(s, " ");
        if ((len = strcspn(s, " ")) == 0)
            return;
        add(v, n, s, len);
        s += len;
    }
}

static struct provider *
provider_for(struct providers *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].name, name) == 0)
            return &p->v[i];
    p->v = xreallocarray(p->v, p->n + 1, sizeof *p->v);
    memset(&p->v[p->n], 0, sizeof p->v[p->n]);
    p->v[p->n].name = xstrdup(name);
    return &p->v[p->n++];
}

/* resolver_setup - the resolver state: the system's, with a short
 * timeout and one try, and the one name server of `addr` if set. */
static int
resolver_setup(struct providers *p, const char *addr, struct err *e)
{
    struct sockaddr_in sin;
    char host[INET_ADDRSTRLEN];
    const char *colon;
    long port = 53;

    memset(&sin, 0, sizeof sin);
    if (addr != NULL) {
        size_t hl;
        colon = strchr(addr, ':');
        hl = colon ? (size_t)(colon - addr) : strlen(addr);
        if (hl >= sizeof host)
            return err_set(e, EX_CONFIG, "resolver \"%s\": an IPv4 address",
                           addr);
        memcpy(host, addr, hl);
        host[hl] = '\0';
        if (colon != NULL) {
            char *end;
            port = strtol(colon + 1, &end, 10);
            if (end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
                return err_set(e, EX_CONFIG,
                               "resolver \"%s\": a port from 1 to 65535", addr);
        }
        if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
            return err_set(e, EX_CONFIG,
                           "resolver \"%s\": an IPv4 address[:port]", addr);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)port);
    }
    if (res_ninit(&p->res) == -1)
        return err_set(e, EX_OSERR, "the resolver cannot be set up");
    p->res.retrans = PROVIDER_DNS_TIMEOUT;
    p->res.retry = 1;
    if (addr != NULL) {
        /* the one server; a set sin_family makes glibc use nsaddr_list
         * and not an IPv6 server of resolv.conf in its place */
        p->res.nsaddr_list[0] = sin;
        p->res.nscount = 1;
    }
    p->dns = 1;
    return 0;
}

struct providers *
providers_new(const struct config_limits *l, struct err *e)
{
    struct providers *p = xcalloc(1, sizeof *p);

    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
        struct provider *v = provider_for(p, shipped[i].name);
        add_words(&v->domain, &v->ndomain, shipped[i].domains);
        add_words(&v->mx, &v->nmx, shipped[i].mx);
    }
    for (size_t i = 0; l != NULL && i < l->nprovider; i++) {
        const struct config_provider *c = &l->provider[i];
        struct provider *v = provider_for(p, c->name);
        for (size_t k = 0; k < c->ndomain; k++)
            add(&v->domain, &v->ndomain, c->domain[k], strlen(c->domain[k]));
        for (size_t k = 0; k < c->nmx; k++)
            add(&v->mx, &v->nmx, c->mx[k], strlen(c->mx[k]));
    }
    if (l != NULL && l->resolver != NULL && strcmp(l->resolver, "off") == 0)
        p->st.dns_off = 1;
    else if (resolver_setup(p, l ? l->resolver : NULL, e) == -1) {
        providers_free(p);
        return NULL;
    }
    return p;
}

void
providers_free(struct providers *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t k = 0; k < p->v[i].ndomain; k++)
            free(p->v[i].domain[k]);
        for (size_t k = 0; k < p->v[i].nmx; k++)
            free(p->v[i].mx[k]);
        free(p->v[i].domain);
        free(p->v[i].mx);
        free(p->v[i].name);
    }
    free(p->v);
    for (size_t i = 0; i < p->cache_cap; i++)
        free(p->cache[i].domain);
    free(p->cache);
    if (p->dns)
        res_nclose(&p->res);
    free(p);
}

const char *
providers_of_domain(const struct providers *p, const char *domain)
{
    for (size_t i = 0; i < p->n; i++)
        for (size_t k = 0; k < p->v[i].ndomain; k++)
            if (strcasecmp(p->v[i].domain[k], domain) == 0)
                return p->v[i].name;
    return NULL;
}

const char *
providers_of_mx(const struct providers *p, const char *host)
{
    for (size_t i = 0; i < p->n; i++)
        for (size_t k = 0; k < p->v[i].nmx; k++)
            if (provider_suffix_match(host, p->v[i].mx[k]))
                return p->v[i].name;
    return NULL;
}

/* hash - FNV-1a of the lower-cased name */
static size_t
hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *s; s++) {
        h ^= (unsigned char)tolower((unsigned char)*s);
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

/* cache_slot - domain's slot: its entry, or the empty one it would take */
static struct cached *
cache_slot(struct cached *v, size_t cap, const char *domain)
{
    size_t i = hash(domain) & (cap - 1);

    while (v[i].domain != NULL && strcasecmp(v[i].domain, domain) != 0)
        i = (i + 1) & (cap - 1);
    return &v[i];
}

static void
cache_put(struct providers *p, const char *domain, const char *provider)
{
    struct cached *c;

    if (2 * (p->cache_n + 1) > p->cache_cap) {
        size_t cap = p->cache_cap ? 2 * p->cache_cap : 256;
        struct cached *v = xcalloc(cap, sizeof *v);
        for (size_t i = 0; i < p->cache_cap; i++)
            if (p->cache[i].domain != NULL)
                *cache_slot(v, cap, p->cache[i].domain) = p->cache[i];
        free(p->cache);
        p->cache = v;
        p->cache_cap = cap;
    }
    c = cache_slot(p->cache, p->cache_cap, domain);
    c->domain = xstrdup(domain);
    c->provider = provider;
    p->cache_n++;
}

/*
 * mx_lookup - the provider of domain's most preferred MX hosts (the
 * first of them that matches one), NULL for none.  0 with an answer
 * (NXDOMAIN and "no MX" are answers), -1 when there was none.
 */
static int
mx_lookup(struct providers *p, const char *domain, const char **out)
{
    unsigned char ans[4096];
    ns_msg msg;
    int n, best = 65536;

    *out = NULL;
    p->st.lookups++;
    n = res_nquery(&p->res, domain, ns_c_in, ns_t_mx, ans, sizeof ans);
    if (n < 0)
        return p->res.res_h_errno == HOST_NOT_FOUND ||
                       p->res.res_h_errno == NO_DATA
                   ? 0
                   : -1;
    if ((size_t)n > sizeof ans)
        n = (int)sizeof ans; /* truncated: read what is here */
    if (ns_initparse(ans, n, &msg) == -1)
        return -1;
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
        ns_rr rr;
        char host[NS_MAXDNAME];
        int pref;
        const char *prov;

        if (ns_parserr(&msg, ns_s_an, i, &rr) == -1)
            return -1;
        if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
            continue;
        pref = ns_get16(ns_rr_rdata(rr));
        if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg),
                               ns_rr_rdata(rr) + 2, host, sizeof host) == -1)
            continue;
        prov = providers_of_mx(p, host);
        if (pref < best) {
            best = pref;
            *out = prov;
        } else if (pref == best && *out == NULL) {
            *out = prov;
        }
    }
    return 0;
}

const char *
providers_resolve(struct providers *p, const char *domain)
{
    struct cached *c;
    const char *prov;

    if (p->cache_cap > 0) {
        c = cache_slot(p->cache, p->cache_cap, domain);
        if (c->domain != NULL)
            return c->provider;
    }
    prov = providers_of_domain(p, domain);
    if (prov == NULL && p->dns && !p->st.dns_off) {
        if (mx_lookup(p, domain, &prov) == -1) {
            p->st.failed++;
            if (++p->fails >= PROVIDER_DNS_FAILS) {
                p->st.dns_off = 1;
                log_warnx("MX lookups: %d failed in a row (the last for "
                          "%s): no more in this run; a domain not in the "
                          "provider table is its own group",
                          p->fails, domain);
            }
        } else {
            p->fails = 0;
            if (prov != NULL) {
                p->st.by_mx++;
                log_debug("domain %s: provider %s by its MX", domain, prov);
            }
        }
    }
    cache_put(p, domain, prov);
    return prov;
}

void
providers_stats(const struct providers *p, struct providers_stats *s)
{
    *s = p->st;
}
