/* SPDX-License-Identifier: ISC */
/*
 * provider.h - recipient domains grouped by who receives their mail.
 *
 * Gmail, Outlook or Yahoo limit what one sender may deliver to them, not
 * what it may deliver to one of their domains: gmail.com and
 * googlemail.com are one mailbox provider, and so is every company domain
 * whose mail Google Workspace receives.  This module puts a recipient
 * domain in its provider's group, so that `[limits] provider.google =
 * 20/s` (throttle.h) holds for all of them together:
 *  - a shipped table of the big providers (provider.c: their consumer
 *    domains and the host names of their MX servers), extended by the
 *    user's [provider NAME] sections (config.h struct config_provider);
 *  - a domain not in the table is looked up (its MX records, RFC 1035
 *    3.3.9, through the system resolver or the one [limits] resolver
 *    names), and its most preferred MX hosts (RFC 5321 section 5.1: the
 *    ones mail goes to) matched against the providers' MX suffixes on a
 *    label boundary ("MX rollup", as KumoMTA calls it);
 *  - every answer, negative and failed ones too, is kept for the run: a
 *    domain is looked up once.
 * A domain of no provider is its own group (provider NULL), as before.
 *
 * Owns: the table, the run's cache, and a resolver state (res_ninit) of
 * its own.  Does not own: the rates (throttle.h), the recipient's domain
 * spelling (the caller passes lower-case A-labels, email.h).
 *
 * A lookup blocks (res_nquery): it runs on the queue's feeder thread,
 * never on the relay loop.  It is bounded - PROVIDER_DNS_TIMEOUT seconds
 * a server, one try - and after PROVIDER_DNS_FAILS failures in a row
 * (timeouts, refusals, SERVFAIL) lookups stop for the rest of the run (said
 * once on stderr): a dead resolver costs a few seconds, never the send.
 */
#ifndef CAMPAIGN_PROVIDER_H
#define CAMPAIGN_PROVIDER_H

#include <stddef.h>

#include "config.h"
#include "err.h"

/* seconds a name server has to answer one MX query (one try) */
#define PROVIDER_DNS_TIMEOUT 2
/* failed lookups in a row after which no more are made in the run */
#define PROVIDER_DNS_FAILS 3
/* the longest provider name ([provider NAME], provider.NAME) */
#define PROVIDER_NAME_MAX 31

struct providers;

/* provider_shipped - is name a provider of the shipped table? */
int provider_shipped(const char *name);

/* provider_shipped_names - "google, microsoft, ...": the shipped
 * providers, for messages (a static buffer) */
const char *provider_shipped_names(void);

/* provider_suffix_match - host (any case, an optional final dot) is
 * suffix itself or ends with "." suffix: "aspmx.l.google.com" matches
 * "google.com", "evilgoogle.com" does not. */
int provider_suffix_match(const char *host, const char *suffix);

/*
 * providers_new - the shipped table extended by l->provider (the user's
 * [provider NAME] sections: more domains and MX suffixes for a shipped
 * provider, or a new one), and a resolver: the system's (/etc/resolv.conf)
 * when l->resolver is NULL, none when "off", else the IPv4 ADDRESS[:PORT]
 * it names.  -1 with e (EX_CONFIG, EX_OSERR) when the resolver cannot be
 * set up; the returned set belongs to the caller (providers_free).
 */
struct providers *providers_new(const struct config_limits *l, struct err *e);
void providers_free(struct providers *p);

/* providers_of_domain - the provider whose table lists domain (exact,
 * any case), or NULL.  The name is the set's: valid until providers_free. */
const char *providers_of_domain(const struct providers *p, const char *domain);

/* providers_of_mx - the provider one of whose MX suffixes host matches,
 * or NULL. */
const char *providers_of_mx(const struct providers *p, const char *host);

/*
 * providers_resolve - domain's provider: from the run's cache, else the
 * table, else its MX records (a blocking, bounded lookup); NULL for none
 * (a domain of no known provider, no MX, no answer).  Not thread-safe:
 * one thread uses a set.
 */
const char *providers_resolve(struct providers *p, const char *domain);

struct providers_stats {
    long lookups; /* MX queries sent */
    long failed;  /* of which failed (no answer, SERVFAIL, ...) */
    long by_mx;   /* domains put in a provider's group by their MX */
    int dns_off;  /* lookups stopped (PROVIDER_DNS_FAILS, or "off") */
};

void providers_stats(const struct providers *p, struct providers_stats *s);

#endif
