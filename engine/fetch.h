/* SPDX-License-Identifier: ISC */
/*
 * fetch.h - reading the bounce mailbox over IMAP (RFC 9051, RFC 3501),
 * through libcurl's IMAP support.
 *
 * Owns one IMAP session: login (TLS always: imaps:// or imap:// with
 * STARTTLS required; the password never in a URL, argv or a log), the
 * search for the messages to read, each message fetched with its UID,
 * handed to the caller, and - once the caller has recorded it - moved to
 * the processed folder (UID MOVE, RFC 6851, or COPY + \Deleted +
 * EXPUNGE where MOVE is missing), flagged \Seen, or deleted, as
 * configured, so that a cron run never reads a message twice.  A message
 * the caller could not record, or did not (it matched nothing), stays
 * where it was, unseen, for a later run.  Deleting expunges only the
 * messages this run deleted (UID EXPUNGE, RFC 4315), never what another
 * client flagged.
 */
#ifndef CAMPAIGN_FETCH_H
#define CAMPAIGN_FETCH_H

#include <stddef.h>

#include "err.h"

struct fetch_params {
    const char *url; /* imaps://HOST[:PORT]/MAILBOX or imap://... */
    const char *username;
    const char *password;
    int tls_verify;
    const char *ca_file;   /* NULL: the system's */
    const char *processed; /* "move:FOLDER", "seen", "delete"; NULL: move
                              to Processed */
    int timeout;           /* seconds for each command; 0: 60 */
    size_t max_bytes;      /* of a message kept; the rest is dropped */
};

/*
 * fetch_cb - one message (len bytes; cut at max_bytes), where naming it
 * ("imaps://host/INBOX UID 7").  Return 0 when it is recorded (it is then
 * marked processed), 1 when it is not (it stays, unseen), -1 to stop the
 * run with e set (it stays).
 */
typedef int (*fetch_cb)(const char *msg, size_t len, const char *where,
                        void *arg, struct err *e);

/*
 * fetch_run - every message to read in the mailbox, oldest first; *n
 * counts those handed to cb.  Errors: EX_CONFIG when the login is refused
 * (the server's words in e), EX_UNAVAILABLE when the server cannot be
 * reached or its certificate is not trusted, the callback's own.
 */
int fetch_run(const struct fetch_params *p, fetch_cb cb, void *arg, long *n,
              struct err *e);

#endif
