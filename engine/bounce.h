/* SPDX-License-Identifier: ISC */
/*
 * bounce.h - what a message that came back says: delivery status
 * notifications, feedback-loop complaints, auto-replies and mailed
 * opt-outs, read from the raw bytes.
 *
 * Owns the reading of one inbound message (its MIME structure walked in
 * place by engine/mimeread.h, the decoding GMime 3's) into a report: its
 * kind, the tokens of ours it carries (the VERP return path
 * bounces+TOKEN@, the List-Unsubscribe mailto unsubscribe+TOKEN@, and
 * the tokens in the returned message's headers), the returned
 * Message-ID, and one entry per recipient with the action, the status,
 * the reply code, the diagnostic and the class.  Implements:
 *   RFC 3464 (DSN: message/delivery-status, per-recipient fields),
 *   RFC 3462/6522 (multipart/report), RFC 3463 (enhanced status codes),
 *   RFC 5965 (ARF feedback reports), RFC 3834 (Auto-Submitted), and
 *   RFC 8058/2369 (the mailto of List-Unsubscribe, as it comes back).
 * Non-standard bounces (Exim, qmail, Sendmail, Exchange, Office 365,
 * Gmail, Yahoo, SES, Postfix without DSN) are read by their recipient
 * lines and classified by the same rule table (engine/rules.h) that
 * judges the replies `send` sees, so a reply text means the same thing
 * synchronously and in a bounce.
 *
 * Pure: no database, no I/O but the caller's buffer.  Matching a report
 * to what was sent, and what to record, is engine/ingest.h's.
 *
 * Hostile input is bounded: only the first BOUNCE_INPUT_MAX bytes are
 * read (the report parts come before the returned message), MIME nesting
 * is followed BOUNCE_DEPTH_MAX deep, at most BOUNCE_RCPT_MAX recipients
 * are reported (a message of ours has one), every field is cut to its
 * buffer.  Line ends may be CRLF, LF or CR alone; charsets that do not
 * convert are read as bytes.
 */
#ifndef CAMPAIGN_BOUNCE_H
#define CAMPAIGN_BOUNCE_H

#include <stddef.h>

#include "err.h"

#define BOUNCE_INPUT_MAX (4u << 20)
#define BOUNCE_DEPTH_MAX 8
#define BOUNCE_RCPT_MAX 100
#define BOUNCE_ADDR_MAX 320
#define BOUNCE_DIAG_MAX 1024
#define BOUNCE_TOKEN_MAX 64

enum bounce_kind {
    BOUNCE_DSN,         /* multipart/report; report-type=delivery-status */
    BOUNCE_ARF,         /* multipart/report; report-type=feedback-report */
    BOUNCE_NONSTANDARD, /* a bounce without a DSN part, read by its text */
    BOUNCE_AUTO_REPLY,  /* vacation, out-of-office (RFC 3834) */
    BOUNCE_UNSUBSCRIBE, /* mail to unsubscribe+TOKEN@ */
    BOUNCE_UNKNOWN,     /* none of these */
};

/* bounce_kind_name - "dsn", "arf", "nonstandard", "auto_reply",
 * "unsubscribe", "unknown" */
const char *bounce_kind_name(enum bounce_kind k);

struct bounce_rcpt {
    char recipient[BOUNCE_ADDR_MAX]; /* Final-Recipient's address, or the
                                        address the text names; "" unknown */
    char original[BOUNCE_ADDR_MAX];  /* Original-Recipient, "" if none */
    char action[16];    /* failed, delayed, delivered, relayed, expanded;
                           "failed" for a non-standard bounce; "" else */
    char status[16];    /* "5.1.1": the DSN's Status, else the first one
                           in the diagnostic, else derived from the class;
                           "" if none */
    int status_derived; /* 1: derived from the class: the message carries
                           no status, in a field or in its text */
    int reply_code;     /* the SMTP code of the diagnostic, 0 if none */
    char diagnostic[BOUNCE_DIAG_MAX]; /* the remote reply, one line */
    char remote_mta[256];
    /* "hard", "soft", "blocked", "complaint", "auto_reply",
     * "unsubscribe", "delayed" (Action: delayed: not a bounce),
     * "delivered" (a success notice), "unknown"; static */
    const char *classification;
    const char *reason; /* a few words: the rule's, static; "" if none */
};

struct bounce_report {
    enum bounce_kind kind;
    /* tokens found (base64url, as in the address): the VERP token of
     * bounces+TOKEN@ in the envelope recipient or in To, Delivered-To or
     * X-Original-To; the unsubscribe token of unsubscribe+TOKEN@ the
     * message was sent to; the tokens found in the returned message's
     * headers (its Return-Path, its List-Unsubscribe) */
    char verp[BOUNCE_TOKEN_MAX];
    char unsub[BOUNCE_TOKEN_MAX];
    char returned_verp[BOUNCE_TOKEN_MAX];
    char returned_unsub[BOUNCE_TOKEN_MAX];
    char message_id[256];       /* the returned message's Message-ID, "<...>" */
    char self_id[256];          /* this message's own Message-ID, "" if none */
    char from[BOUNCE_ADDR_MAX]; /* this message's From address */
    char feedback_type[32];     /* ARF: abuse, fraud, not-spam, ... */
    char arf_source_ip[64];     /* ARF: Source-IP */
    size_t nrcpt;
    int truncated; /* more recipients than BOUNCE_RCPT_MAX, or input cut */
    struct bounce_rcpt rcpt[BOUNCE_RCPT_MAX];
};

struct bounce_opts {
    /* the envelope recipient, as a pipe transport gives it ($RECIPIENT,
     * $ORIGINAL_RECIPIENT); NULL when not known */
    const char *envelope_rcpt;
};

/* bounce_init - GMime started and the types a parse uses made; bounce_parse
 * calls it, and a caller that parses on several threads calls it first */
void bounce_init(void);

/*
 * bounce_parse - read len bytes of one raw message into r (which the
 * caller provides; it is about 180 KB: not on a thread's stack).  Returns
 * 0; -1 only when out of memory (EX_SOFTWARE in e).  A message this
 * module cannot make sense of is kind BOUNCE_UNKNOWN with no recipient,
 * never an error.
 */
int bounce_parse(const char *buf, size_t len, const struct bounce_opts *o,
                 struct bounce_report *r, struct err *e);

/*
 * bounce_classify - the class of one recipient's failure from its DSN
 * action, status (may be ""), SMTP code (0 if none) and diagnostic text:
 * the rule table's verdict (engine/rules.h) read as a bounce, where a
 * refusal that is not the recipient's fault (policy, reputation, content,
 * a blocklist) is "blocked".  Fills classification, reason, and the
 * status when it was empty (status_derived).
 */
void bounce_classify(struct bounce_rcpt *r);

#endif
