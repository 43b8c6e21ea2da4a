/* SPDX-License-Identifier: ISC */
/*
 * csv_import.h - importing a contact list file into the store.
 *
 * Owns the meaning of the columns: which one is the email (by header name,
 * case-insensitive: email, e-mail, Email Address, mail, ...), how the
 * others become attributes (names lower-cased, spaces and punctuation to
 * '_'), listmonk's JSON "attributes" column, the opt-out markers of
 * Mailchimp and listmonk exports, per-row validation and rejects, and the
 * all-or-nothing transaction per file.  Reading the bytes is csvread.c;
 * storing is db/store.c.
 */
#ifndef CAMPAIGN_CSV_IMPORT_H
#define CAMPAIGN_CSV_IMPORT_H

#include <stdio.h>

#include "../db/store.h"
#include "csvread.h"
#include "err.h"

struct import_params {
    const char *list; /* add every imported contact here; may be NULL */
    int update;       /* merge attributes into existing contacts */
    int dry_run;      /* validate and count, then roll back */
    struct csvread_params csv;
    FILE *rejects;            /* CSV of rejected rows, or NULL for stderr */
    int rejects_header;       /* in/out: a header has been written to rejects */
    unsigned long stderr_max; /* rejects reported on stderr at most */
};

struct import_counts {
    long imported;   /* new contacts */
    long updated;    /* existing contacts whose attributes changed */
    long unchanged;  /* existing contacts left as they were */
    long rejected;   /* rows refused (each reported) */
    long suppressed; /* rows that carried an opt-out marker */
    long rows;       /* data rows read */
};

/*
 * import_file - import one CSV file in one transaction.  On success the
 * transaction is committed (or rolled back for a dry run) and counts are
 * final.  On error nothing was written.  Errors: EX_DATAERR (no email
 * column, malformed file: names the line), EX_NOINPUT, EX_IOERR,
 * EX_CANTCREAT (disk full), EX_TEMPFAIL (database locked), EX_OSERR (no
 * thread).  While it runs, a second thread of its own uses st and writes
 * the rejects (stderr or p->rejects): the caller must leave them alone
 * until it returns.
 */
int import_file(struct store *st, const char *path, struct import_params *p,
                struct import_counts *c, struct err *e);

/*
 * import_attr_name - normalise a column header into an attribute name:
 * ASCII lower-cased, runs of spaces and punctuation to one '_', leading
 * and trailing '_' dropped, UTF-8 letters kept.  Writes at most outsz
 * bytes including the NUL; returns the length (0 if nothing is left).
 */
size_t import_attr_name(const char *in, size_t n, char *out, size_t outsz);

/* import_is_email_header - 1 if a normalised header names the email. */
int import_is_email_header(const char *name);

/*
 * csv_write_cell - one CSV cell (RFC 4180 quoting) of n bytes at s, for a
 * file a person opens in a spreadsheet: a cell that starts with = + - @
 * TAB or CR is written with a ' in front, so that it is shown as text,
 * never run as a formula (OWASP, CSV injection).
 */
void csv_write_cell(FILE *f, const char *s, size_t n);

#endif
