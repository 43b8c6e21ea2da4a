/* SPDX-License-Identifier: ISC */
/*
 * machine.h - is a tracking hit (an open pixel or a click) from a machine
 * rather than a person?
 *
 * Owns the shipped table of machine user agents and address ranges (mail
 * privacy proxies, image proxies, link scanners, crawlers, HTTP
 * libraries), the user's additions to it, and a pure classifier over
 * both.  Knows nothing of HTTP or SQL: the tracking server passes in the
 * User-Agent header and the peer address as text and stores the verdict.
 *
 * Order of the rules; the first that matches decides:
 *   1. user user-agent rules, then user address rules, each in the order
 *      added (so a user rule overrides the reason and class of a shipped
 *      one);
 *   2. the shipped user-agent table, including the bare "Mozilla/5.0" of
 *      Apple Mail Privacy Protection;
 *   3. the shipped address ranges;
 *   4. no User-Agent at all: a machine, reason "no user agent", class
 *      "bot".  This comes after the ranges because knowing whose proxy
 *      sent a hit says more than knowing it sent no header;
 *   5. else a person, with ua_class "mail-client", "browser" or "unknown"
 *      from a light heuristic (see machine_classify).
 * There is no allow-list: a rule can only say "machine".
 *
 * User-agent rules match case-insensitively (ASCII) against at most the
 * first MACHINE_UA_SCAN bytes of the header; address rules compare the
 * numeric address against binary prefixes.  An IPv4-mapped IPv6 peer
 * (::ffff:192.0.2.1, what a dual-stack socket reports) is matched as the
 * IPv4 address.
 *
 * The shipped address ranges are the operators' published ranges as of
 * 2024; they change.  Users extend the table in campaign.conf, which
 * reaches machine_rules_add_ua and machine_rules_add_net.
 */
#ifndef CAMPAIGN_MACHINE_H
#define CAMPAIGN_MACHINE_H

#include "err.h"

/* The classifier lower-cases at most this many bytes of a User-Agent into
 * a stack buffer; the rest is not looked at.  Real user agents are 100 to
 * 300 bytes; one longer than this is either padded or hostile, and its
 * first 512 bytes still name the client. */
#define MACHINE_UA_SCAN 512
/* Longest user pattern or label, in bytes. */
#define MACHINE_PATTERN_MAX 200

struct machine_rules; /* opaque */

/* machine_rules_new - the shipped table, no user rules.  Never NULL (out
 * of memory is fatal, see xalloc.h).  Free with machine_rules_free. */
struct machine_rules *machine_rules_new(void);
/* machine_rules_free - NULL is a no-op. */
void machine_rules_free(struct machine_rules *r);

/*
 * machine_rules_add_ua - a hit whose User-Agent contains substring
 * (ASCII case-insensitive) is a machine, with reason label.
 *
 * label is the reason text, e.g. "scanner: Acme Gateway".  It also gives
 * the verdict's ua_class: a label that begins with one of the machine
 * classes "apple-mpp", "gmail-proxy", "yahoo-proxy", "microsoft-proxy",
 * "scanner" or "bot" followed by ':' (case-insensitive) gets that class;
 * any other label gets "scanner".  label may be NULL or empty, for
 * reason "user rule: user agent contains \"<substring>\"" and class
 * "scanner".
 *
 * Both strings are copied.  Returns 0, or -1 with EX_CONFIG in e (the
 * message names the value) when substring is NULL or empty, longer than
 * MACHINE_PATTERN_MAX bytes or holds a control character, or label is
 * longer than MACHINE_PATTERN_MAX bytes or holds a control character.
 * Setup only: not safe while another thread classifies with r.
 */
int machine_rules_add_ua(struct machine_rules *r, const char *substring,
                         const char *label, struct err *e);

/*
 * machine_rules_add_net - a hit from the address range cidr is a machine,
 * with reason label.  cidr is "192.0.2.0/24", "2001:db8::/32" or a single
 * address ("192.0.2.7", "2001:db8::7").  A range with bits set after the
 * prefix ("192.0.2.1/24") is refused as a likely typo.  An IPv4-mapped
 * IPv6 range (::ffff:0:0/96 and longer) is stored as the IPv4 range.
 *
 * label and the ua_class it gives are as for machine_rules_add_ua; a NULL
 * or empty label gives reason "user rule: address in <cidr>".
 *
 * Both strings are copied.  Returns 0, or -1 with EX_CONFIG in e naming
 * the bad value (not an address, prefix length out of range, host bits
 * set, bad label).  Setup only, as machine_rules_add_ua.
 */
int machine_rules_add_net(struct machine_rules *r, const char *cidr,
                          const char *label, struct err *e);

struct machine_verdict {
    int machine;          /* 1: a machine, not a person */
    const char *reason;   /* why (NULL when machine == 0); points into the
                             rules or static text, valid while r lives */
    const char *ua_class; /* never NULL: "apple-mpp", "gmail-proxy",
                             "yahoo-proxy", "microsoft-proxy", "scanner",
                             "bot" (machines); "browser", "mail-client",
                             "unknown" (people); static text */
};

/*
 * machine_classify - fill v with the verdict for one hit.
 *
 * ua is the User-Agent header or NULL; NULL, "" and a header of blanks
 * all mean the header was missing.  ip is the peer's numeric IPv4 or
 * IPv6 address as text, or NULL; an address that does not parse matches
 * no range.  Both are untrusted and only read.
 *
 * A person's ua_class is a heuristic, for reports only: "mail-client" for
 * Thunderbird, desktop Outlook ("Microsoft Outlook", "ms-office",
 * "MSOffice") and Apple Mail-style "AppleWebKit" without "Safari" or
 * "Version/" (which also matches some apps' embedded web views);
 * "browser" for "Mozilla/" with "Chrome", "Firefox", "Safari" or "Edg";
 * else "unknown".
 *
 * Pure and thread-safe: r is only read.  No allocation; the cost is one
 * pass over the header (capped) plus a comparison for each pattern whose
 * first two bytes occur in it, so it hardly grows with the rule count.
 */
void machine_classify(const struct machine_rules *r, const char *ua,
                      const char *ip, struct machine_verdict *v);

#endif
