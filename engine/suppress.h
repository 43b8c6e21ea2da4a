/* SPDX-License-Identifier: ISC */
/*
 * suppress.h - opt-outs, bulk suppression and erasure of a person.
 *
 * Owns the rules: every address is validated and normalised before it is
 * suppressed; a suppression is never lifted by anything in this program;
 * `forget` deletes the contact and keeps only the salted hash
 * (digest.h), so that a later import brings the address back suppressed.
 * Each call is one transaction: all or nothing.
 */
#ifndef CAMPAIGN_SUPPRESS_H
#define CAMPAIGN_SUPPRESS_H

#include <stddef.h>

#include "../db/store.h"
#include "csvread.h"
#include "digest.h"
#include "err.h"

struct suppress_counts {
    long added;    /* newly suppressed */
    long already;  /* were suppressed before */
    long rejected; /* rows refused (suppress import) */
};

/*
 * Identity: a suppression is keyed by the hash of the canonical address
 * (email.h), and every new suppression and forget writes that hash.
 * Releases before IDNA2008 kept an internationalised domain in whichever
 * form a list gave, and an erased person's hash-only row cannot be
 * rewritten (the address is gone): a look-up of an address with an
 * IDN domain and an ASCII local part also tries the hash of its A-label
 * form ("legacy"), and a write folds such a row into the canonical one
 * (store_suppression_rekey).  For any other address it costs nothing.
 */

/* suppress_hashes - the canonical address's hash into hash; when it has
 * an A-label form (email_alabel_form), that form's hash into legacy and
 * 1, else 0 (legacy untouched). */
int suppress_hashes(struct store *st, const char *email,
                    uint8_t hash[DIGEST_LEN], uint8_t legacy[DIGEST_LEN]);

/* suppress_lookup - store_suppression_get for a canonical address, by its
 * hash, else by its legacy hash: 1 and cb called once when suppressed, 0
 * when not, -1. */
int suppress_lookup(struct store *st, const char *email,
                    store_suppression_cb cb, void *arg, struct err *e);

/* suppress_reason_parse - canonical reason for a user's word
 * ("unsubscribe", "cleaned", "spam", ...), or NULL if unknown. */
const char *suppress_reason_parse(const char *word, size_t n);

/*
 * suppress_emails - suppress each of the n addresses for reason (from
 * source, e.g. "manual").  An invalid address fails the whole call
 * (EX_DATAERR, naming it) before anything is written.
 */
int suppress_emails(struct store *st, char *const *emails, size_t n,
                    const char *reason, const char *source,
                    struct suppress_counts *c, struct err *e);

/*
 * suppress_import - suppress the addresses of a file: a CSV with an email
 * column (and optionally a reason column), or a plain list of addresses,
 * one per line, without a header.  Invalid rows are reported on stderr as
 * FILE:LINE: reason and counted.  reason is the default reason.
 */
int suppress_import(struct store *st, const char *path,
                    const struct csvread_params *csv, const char *reason,
                    struct suppress_counts *c, struct err *e);

/*
 * suppress_lift - undo the suppressions of the n addresses, each of which
 * must be suppressed for reason: "bounced" (a bounce recorded by mistake,
 * such as a relay refusing the sender) or "manual".  An unsubscribe or a
 * complaint is the person's own word and is never lifted (EX_USAGE), nor
 * is an erased person.  All or nothing: an invalid address, one not
 * suppressed, or one suppressed for another reason fails the whole call
 * (EX_DATAERR, naming it and its reason) before anything is written.
 * Each lift is logged on stderr.
 */
int suppress_lift(struct store *st, char *const *emails, size_t n,
                  const char *reason, struct err *e);

/*
 * suppress_forget - erase the person with this address: returns 1 when
 * something was erased, 0 when the address was unknown (it is suppressed
 * by hash all the same), -1 on error.
 */
int suppress_forget(struct store *st, const char *email, struct err *e);

#endif
