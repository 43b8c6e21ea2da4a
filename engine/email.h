/* SPDX-License-Identifier: ISC */
/*
 * email.h - the mailbox grammar every address passes before it is stored.
 *
 * A pragmatic subset of RFC 5321 4.1.2 "Mailbox": a dot-atom or a quoted
 * local part (ASCII, at most 64 octets) "@" a domain of labels (letters,
 * digits, hyphens, or UTF-8 for internationalised names; at most 63 octets
 * each; at least two labels), at most 254 octets in all.  Address literals,
 * comments, display names, and quoted local parts that hide an "@" or a
 * backslash are refused: they are how addresses get rerouted.
 *
 * Normal form: surrounding whitespace trimmed, ASCII letters lower-cased
 * in the whole address (mailbox providers treat local parts
 * case-insensitively, and one person must be one contact).
 */
#ifndef CAMPAIGN_EMAIL_H
#define CAMPAIGN_EMAIL_H

#include <stddef.h>

#include "bounds.h"

/*
 * email_normalize - validate the n bytes at in and write the normal form,
 * NUL-terminated, into out (at least EMAIL_MAX + 1 bytes).  Returns the
 * length of the normal form, or -1 with *reason set to a static
 * human-readable reason ("contains a line break", "no @", ...).
 */
int email_normalize(const char *in, size_t n, char out[EMAIL_MAX + 1],
                    const char **reason);

/* email_domain - pointer to the domain part of a normalised address. */
const char *email_domain(const char *email);

#endif
