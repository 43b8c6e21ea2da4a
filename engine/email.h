/* SPDX-License-Identifier: ISC */
/*
 * email.h - the mailbox grammar every address passes before it is stored,
 * its one canonical form, and the form it takes on the wire.
 *
 * Grammar: a pragmatic subset of RFC 5321 4.1.2 "Mailbox" as RFC 6531
 * extends it: a dot-atom or a quoted local part (ASCII, or UTF-8 for
 * SMTPUTF8 mailboxes, at most 64 octets) "@" a domain of at least two
 * labels, at most 254 octets in all.  Address literals, comments, display
 * names, and quoted local parts that hide an "@" or a backslash are
 * refused: they are how addresses get rerouted.  A UTF-8 local part may
 * not hold control, format (bidi, zero-width), space, private-use,
 * surrogate or unassigned code points: characters that look like nothing.
 *
 * Canonical form (one person is one contact and one suppression, whatever
 * form a list spells the address in):
 *  - surrounding whitespace trimmed;
 *  - the local part lower-cased (mailbox providers treat local parts
 *    case-insensitively): ASCII letters, and for a UTF-8 local part every
 *    letter (Unicode lower case, libunistring), in Normalization Form C;
 *  - the domain by IDNA2008 (RFC 5890-5893) with the UTS #46
 *    non-transitional mapping, through libidn2: case folded, NFC,
 *    full-width forms and ideographic full stops mapped, A-labels
 *    ("xn--...") decoded, so "BÜCHER.DE", "bücher.de" and
 *    "xn--bcher-kva.de" are the same domain, kept as U-labels ("bücher.de":
 *    what people read).  A name IDNA2008 refuses (a disallowed code point,
 *    a bidi rule violation, a label over 63 octets as an A-label, an
 *    invalid A-label) is refused with libidn2's reason.  All-ASCII domains
 *    without an A-label are only lower-cased: the import's fast path.
 *
 * Wire form (email_wire): what goes in RCPT TO and To:.  An ASCII local
 * part goes with the domain as A-labels and needs no extension, whatever
 * the relay offers; a UTF-8 local part can only travel with SMTPUTF8 (RFC
 * 6531) and goes as it is.
 */
#ifndef CAMPAIGN_EMAIL_H
#define CAMPAIGN_EMAIL_H

#include <stddef.h>

#include "bounds.h"

/* Input longer than this is refused before any work: room for an address
 * of 254 octets spelt in full-width forms (3 octets each). */
#define EMAIL_INPUT_MAX (4 * EMAIL_MAX)

/*
 * email_normalize - validate the n bytes at in and write the canonical
 * form, NUL-terminated, into out (at least EMAIL_MAX + 1 bytes).  Returns
 * its length, or -1 with *reason set to a static human-readable reason
 * ("contains a line break", "no @", ...).  Thread-safe.
 */
int email_normalize(const char *in, size_t n, char out[EMAIL_MAX + 1],
                    const char **reason);

/*
 * email_wire - the wire form of a canonical address into out (at least
 * EMAIL_MAX + 1 bytes), and *smtputf8 = whether it needs SMTPUTF8 (its
 * local part is UTF-8).  -1 with *reason when the domain has no A-label
 * form (an address stored by a release before IDNA2008 was enforced).
 */
int email_wire(const char *email, char out[EMAIL_MAX + 1], int *smtputf8,
               const char **reason);

/* email_smtputf8 - whether the address's local part has a non-ASCII byte,
 * so that it can only be sent with SMTPUTF8. */
int email_smtputf8(const char *email);

/*
 * email_alabel_form - for a canonical address whose domain is
 * internationalised and whose local part is ASCII: the address with the
 * domain as A-labels into out, returning 1.  0 (out untouched) for any
 * other address.  Releases before IDNA2008 kept such addresses in
 * whichever form the list gave, and an erased person's suppression is a
 * hash of that form: look-ups try this one too.
 */
int email_alabel_form(const char *email, char out[EMAIL_MAX + 1]);

/*
 * email_domain_alabels - a domain (U-labels, A-labels or ASCII, any case)
 * as lower-case A-labels into out (at least EMAIL_MAX + 1 bytes): the one
 * spelling of a domain for keys such as per-domain limits.  -1 with
 * *reason when IDNA2008 refuses it.
 */
int email_domain_alabels(const char *domain, char out[EMAIL_MAX + 1],
                         const char **reason);

/* email_domain - pointer to the domain part of a normalised address. */
const char *email_domain(const char *email);

#endif
