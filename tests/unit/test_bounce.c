/* SPDX-License-Identifier: ISC */
/*
 * test_bounce.c - engine/bounce.c (what a message that came back says)
 * and engine/rules.c (the rule table shared with the SMTP replies).
 *
 * Each case is a message written inline in the published form of its
 * kind (RFC 3464 DSN, RFC 5965 ARF, RFC 3834 auto-reply, qmail, Exim,
 * Postfix without DSN) and what the parser must find in it.  The golden
 * files of tests/data/bounces/ and the oracles (tests/e2e/bounces_*.bats)
 * test the same parser on whole real messages.
 */
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "reply.h"
#include "rules.h"
#include "th.h"

#define TOK "YgAAAAEAAAAAAAAAA12D2kRTvaqjG3HlpyLZ8R8"
#define UTOK "dQAAAAEAAAAAAAAAA_TBdOb0HgxyWFI-wgCfXaM"

static const char dsn_hard[] =
    "Return-Path: <>\n"
    "Delivered-To: bounces+" TOK "@bounces.acme.example\n"
    "From: MAILER-DAEMON@relay.example (Mail Delivery System)\n"
    "To: bounces+" TOK "@bounces.acme.example\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "Message-ID: <20261203.ABC@relay.example>\n"
    "Auto-Submitted: auto-replied\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status;\n"
    "\tboundary=\"B1\"\n"
    "\n"
    "--B1\n"
    "Content-Type: text/plain\n"
    "\n"
    "I'm sorry to have to inform you that your message could not be\n"
    "delivered.\n"
    "\n"
    "--B1\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; relay.example\n"
    "\n"
    "Final-Recipient: rfc822; C@Example.org\n"
    "Original-Recipient: rfc822;c@example.org\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "Remote-MTA: dns; mx.example.org\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <c@example.org>: Recipient address\n"
    "    rejected: User unknown in virtual mailbox table\n"
    "\n"
    "--B1\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "From: \"Acme News\" <news@acme.example>\n"
    "Message-ID: <2f62df5c-8ef3@acme.example>\n"
    "\n"
    "--B1--\n";

/* dsn - a DSN for one recipient with these fields */
static char *
dsn(const char *fields)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "From: MAILER-DAEMON@relay.example\n"
             "To: bounces+" TOK "@bounces.acme.example\n"
             "Subject: Delivery Status Notification\n"
             "MIME-Version: 1.0\n"
             "Content-Type: multipart/report; report-type=delivery-status; "
             "boundary=\"b\"\n\n"
             "--b\nContent-Type: text/plain\n\nSee below.\n\n"
             "--b\nContent-Type: message/delivery-status\n\n"
             "Reporting-MTA: dns; relay.example\n\n"
             "Final-Recipient: rfc822; someone@example.net\n%s\n"
             "--b--\n",
             fields);
    return buf;
}

static struct bounce_report *R;

static const struct bounce_report *
parse(const char *msg, const char *env)
{
    struct bounce_opts o = {env};
    struct err e;

    err_clear(&e);
    if (bounce_parse(msg, strlen(msg), &o, R, &e) == -1)
        printf("# bounce_parse failed: %s\n", e.msg);
    return R;
}

static void
test_dsn(void)
{
    const struct bounce_report *r = parse(dsn_hard, NULL);
    char *cr, *p;

    TH_STREQ(bounce_kind_name(r->kind), "dsn", "DSN: kind");
    TH_CHECK(r->nrcpt == 1, "DSN: one recipient");
    TH_STREQ(r->rcpt[0].recipient, "c@example.org",
             "DSN: Final-Recipient, its type gone, lower-cased");
    TH_STREQ(r->rcpt[0].original, "c@example.org", "DSN: Original-Recipient");
    TH_STREQ(r->rcpt[0].action, "failed", "DSN: action");
    TH_STREQ(r->rcpt[0].status, "5.1.1", "DSN: status");
    TH_CHECK(!r->rcpt[0].status_derived, "DSN: the status is its own");
    TH_CHECK(r->rcpt[0].reply_code == 550, "DSN: reply code");
    TH_STREQ(r->rcpt[0].diagnostic,
             "550 5.1.1 <c@example.org>: Recipient address rejected: User "
             "unknown in virtual mailbox table",
             "DSN: the diagnostic unfolded, smtp; gone");
    TH_STREQ(r->rcpt[0].remote_mta, "mx.example.org", "DSN: Remote-MTA");
    TH_STREQ(r->rcpt[0].classification, "hard", "DSN: user unknown is hard");
    TH_STREQ(r->verp, TOK, "DSN: the VERP token of Delivered-To");
    TH_STREQ(r->message_id, "<2f62df5c-8ef3@acme.example>",
             "DSN: the returned Message-ID (text/rfc822-headers)");
    TH_STREQ(r->self_id, "<20261203.ABC@relay.example>",
             "DSN: its own Message-ID, apart");

    /* the same message with CR alone, and with CRLF, as line ends */
    cr = strdup(dsn_hard);
    for (p = cr; *p; p++)
        if (*p == '\n')
            *p = '\r';
    r = parse(cr, NULL);
    TH_CHECK(r->kind == BOUNCE_DSN && r->nrcpt == 1 &&
                 strcmp(r->rcpt[0].classification, "hard") == 0 &&
                 strcmp(r->message_id, "<2f62df5c-8ef3@acme.example>") == 0,
             "DSN with CR-only line ends reads the same");
    free(cr);
    {
        size_t n = strlen(dsn_hard), k = 0;
        char *crlf = malloc(2 * n + 1);
        for (size_t i = 0; i < n; i++) {
            if (dsn_hard[i] == '\n')
                crlf[k++] = '\r';
            crlf[k++] = dsn_hard[i];
        }
        crlf[k] = '\0';
        r = parse(crlf, NULL);
        TH_CHECK(r->kind == BOUNCE_DSN && r->nrcpt == 1 &&
                     strcmp(r->rcpt[0].status, "5.1.1") == 0,
                 "DSN with CRLF line ends reads the same");
        free(crlf);
    }
}

static void
test_dsn_classes(void)
{
    static const struct {
        const char *fields, *cls, *status;
        int derived;
    } c[] = {
        {"Action: delayed\nStatus: 4.4.7\nDiagnostic-Code: smtp; 451 4.4.1 "
         "try again later\n",
         "delayed", "4.4.7", 0},
        {"Action: failed\nStatus: 4.4.7\nDiagnostic-Code: X-Postfix; connect "
         "to mx.example.net[192.0.2.7]:25: Connection timed out\n",
         "soft", "4.4.7", 0},
        {"Action: failed\nStatus: 5.7.1\nDiagnostic-Code: smtp; 554 5.7.1 "
         "Service unavailable; Client host [192.0.2.1] blocked using "
         "zen.spamhaus.org\n",
         "blocked", "5.7.1", 0},
        {"Action: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552 5.2.2 "
         "Mailbox full\n",
         "soft", "5.2.2", 0},
        {"Action: failed\nStatus: 5.0.0 (recipient reached disk quota)\n",
         "soft", "5.0.0", 0},
        {"Action: failed\nDiagnostic-Code: smtp; 550 Host or domain name not "
         "found\n",
         "hard", "5.1.2", 1},
        {"Action: failed\nDiagnostic-Code: smtp; 550 sorry, no mailbox here "
         "by that name (#5.1.1)\n",
         "hard", "5.1.1", 0},
        {"Action: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 550 "
         "rejected\n",
         "soft", "5.0.0", 0},
        {"Action: failed\nStatus: 5.7.26\nDiagnostic-Code: smtp; 550 5.7.26 "
         "Unauthenticated email from acme.example is not accepted due to "
         "domain's DMARC policy\n",
         "blocked", "5.7.26", 0},
        {"Action: delivered\nStatus: 2.0.0\n", "delivered", "2.0.0", 0},
    };

    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const struct bounce_report *r = parse(dsn(c[i].fields), NULL);
        TH_CHECK(r->nrcpt == 1, "DSN class %zu: one recipient", i);
        if (r->nrcpt != 1)
            continue;
        TH_STREQ(r->rcpt[0].classification, c[i].cls, "DSN class %zu: %s", i,
                 c[i].cls);
        TH_STREQ(r->rcpt[0].status, c[i].status, "DSN class %zu: status %s", i,
                 c[i].status);
        TH_CHECK(r->rcpt[0].status_derived == c[i].derived,
                 "DSN class %zu: status derived %d", i, c[i].derived);
    }
}

static void
test_arf(void)
{
    static const char arf[] =
        "From: feedback@fbl.example.net\n"
        "To: abuse@acme.example\n"
        "Subject: FW: spring sale\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=feedback-report;\n"
        "  boundary=\"part1\"\n\n"
        "--part1\nContent-Type: text/plain\n\nThis is an email abuse "
        "report.\n\n"
        "--part1\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: abuse\nUser-Agent: SomeGenerator/1.0\nVersion: 1\n"
        "Original-Mail-From: <bounces+" TOK "@bounces.acme.example>\n"
        "Original-Rcpt-To: <Person@Example.net>\n"
        "Source-IP: 192.0.2.2\n\n"
        "--part1\nContent-Type: message/rfc822\n\n"
        "From: news@acme.example\nTo: person@example.net\n"
        "Message-ID: <m1@acme.example>\n"
        "List-Unsubscribe: <https://t.acme.example/u/x>,\n"
        " <mailto:unsubscribe+" UTOK "@bounces.acme.example?subject=x>\n"
        "Subject: spring sale\n\nbody\n\n"
        "--part1--\n";
    const struct bounce_report *r = parse(arf, NULL);
    char *redacted, *p;

    TH_STREQ(bounce_kind_name(r->kind), "arf", "ARF: kind");
    TH_STREQ(r->feedback_type, "abuse", "ARF: Feedback-Type");
    TH_STREQ(r->arf_source_ip, "192.0.2.2", "ARF: Source-IP");
    TH_CHECK(r->nrcpt == 1 &&
                 strcmp(r->rcpt[0].recipient, "person@example.net") == 0,
             "ARF: Original-Rcpt-To");
    TH_STREQ(r->rcpt[0].classification, "complaint", "ARF: a complaint");
    TH_STREQ(r->message_id, "<m1@acme.example>",
             "ARF: the returned Message-ID");
    TH_STREQ(r->returned_unsub, UTOK,
             "ARF: the unsubscribe token of the returned List-Unsubscribe");
    TH_STREQ(r->returned_verp, TOK, "ARF: the VERP token it quotes");

    /* providers redact the recipient: the token still names them */
    redacted = strdup(arf);
    p = strstr(redacted, "Original-Rcpt-To: <Person@Example.net>\n");
    memmove(p, p + strlen("Original-Rcpt-To: <Person@Example.net>\n"),
            strlen(p) - strlen("Original-Rcpt-To: <Person@Example.net>\n") + 1);
    p = strstr(redacted, "To: person@example.net");
    memcpy(p, "X-: ", 4);
    r = parse(redacted, NULL);
    TH_CHECK(r->kind == BOUNCE_ARF && r->nrcpt == 1 &&
                 r->rcpt[0].recipient[0] == '\0' &&
                 strcmp(r->returned_unsub, UTOK) == 0,
             "ARF without a recipient: a complaint, found by its token");
    free(redacted);
}

static void
test_auto_and_unsubscribe(void)
{
    static const char vacation[] = "From: Person <person@example.net>\n"
                                   "To: bounces+" TOK "@bounces.acme.example\n"
                                   "Subject: Out of Office: spring sale\n"
                                   "Auto-Submitted: auto-replied\n\n"
                                   "I am away until Monday.\n";
    static const char xauto[] = "From: person@example.net\n"
                                "To: news@acme.example\n"
                                "Subject: Re: spring sale\n"
                                "X-Autoreply: yes\n\n"
                                "I am away.\n";
    static const char unsub[] =
        "From: Person <Person@example.net>\n"
        "To: unsubscribe+" UTOK "@bounces.acme.example\n"
        "Subject: unsubscribe\n\n";
    static const char unsub_env[] = "From: person@example.net\n"
                                    "To: someone@elsewhere.example\n"
                                    "Subject: unsubscribe\n\n";
    /* no header says so: only the subject, in RFC 2047 encoded words */
    static const char encoded[] =
        "From: person@example.net\n"
        "To: news@acme.example\n"
        "Subject: =?utf-8?q?R=C3=A9ponse_automatique_?=\n"
        " =?iso-8859-1?q?=3A_absent?=\n\n"
        "Je suis absent.\n";
    static const char plain[] = "From: person@example.net\n"
                                "To: news@acme.example\n"
                                "Subject: question\n\n"
                                "Do you ship to Norway?\n";
    const struct bounce_report *r;

    r = parse(vacation, NULL);
    TH_STREQ(bounce_kind_name(r->kind), "auto_reply",
             "Auto-Submitted: auto-replied is an auto-reply");
    TH_CHECK(r->nrcpt == 1 &&
                 strcmp(r->rcpt[0].classification, "auto_reply") == 0 &&
                 strcmp(r->rcpt[0].recipient, "person@example.net") == 0,
             "an auto-reply names its sender, never a bounce");
    TH_STREQ(r->verp, TOK, "an auto-reply to the VERP address: its token");
    r = parse(xauto, NULL);
    TH_STREQ(bounce_kind_name(r->kind), "auto_reply",
             "X-Autoreply is an auto-reply");
    {
        /* not from a daemon, no token: only the subject says it is a
         * bounce, in capitals */
        static const char shout[] =
            "From: helpdesk@example.org\n"
            "To: news@acme.example\n"
            "Subject: UNDELIVERABLE MAIL\n\n"
            "<gone@example.net>: 550 5.1.1 No such user here\n";
        r = parse(shout, NULL);
        TH_CHECK(r->kind == BOUNCE_NONSTANDARD && r->nrcpt == 1 &&
                     strcmp(r->rcpt[0].recipient, "gone@example.net") == 0,
                 "a subject's words are found in any case (UNDELIVERABLE): "
                 "%s",
                 bounce_kind_name(r->kind));
    }
    {
        /* the returned message's type folded onto its own line, the
         * DSN's with a comment: both still read */
        static const char folded[] =
            "From: MAILER-DAEMON@mx.example.net\n"
            "To: news@acme.example\n"
            "Subject: Undelivered Mail Returned to Sender\n"
            "Content-Type: multipart/report; report-type=delivery-status;\n"
            "\tboundary=\"B\"\n\n"
            "--B\nContent-Type: message/delivery-status (RFC 3464)\n\n"
            "Reporting-MTA: dns; mx.example.net\n\n"
            "Final-Recipient: rfc822; gone@example.net\nAction: failed\n"
            "Status: 5.1.1\n\n"
            "--B\nContent-Type:\n message/rfc822\n\n"
            "Message-ID: <m.1@acme.example>\n"
            "Return-Path: <bounces+" TOK "@bounces.acme.example>\n"
            "Subject: news\n\nhello\n--B--\n";
        /* To first, Delivered-To after: Delivered-To is the stronger */
        static const char order[] =
            "To: bounces+AAAAAAAAAAAAAAAA@bounces.acme.example\n"
            "Delivered-To: bounces+" TOK "@bounces.acme.example\n"
            "From: x@example.org\nSubject: hi\n\nbody\n";
        r = parse(folded, NULL);
        TH_CHECK(r->kind == BOUNCE_DSN && r->nrcpt == 1 &&
                     strcmp(r->rcpt[0].classification, "hard") == 0 &&
                     strcmp(r->message_id, "<m.1@acme.example>") == 0 &&
                     strcmp(r->returned_verp, TOK) == 0,
                 "a DSN type with a comment and a returned message/rfc822 "
                 "folded onto the next line are both read (%s, %s)",
                 bounce_kind_name(r->kind), r->message_id);
        /* a complaint whose recipient is only in the returned message's
         * To, that message's type folded */
        static const char arf[] =
            "From: fbl@isp.example\nTo: abuse@acme.example\n"
            "Subject: complaint\n"
            "Content-Type: multipart/report; report-type=feedback-report; "
            "boundary=F\n\n"
            "--F\nContent-Type: message/feedback-report\n\n"
            "Feedback-Type: abuse\nUser-Agent: fbl/1.0\nVersion: 1\n\n"
            "--F\nContent-Type:\n message/rfc822\n\n"
            "To: Someone <Someone@Example.NET>\nSubject: news\n\nhi\n"
            "--F--\n";
        r = parse(arf, NULL);
        TH_CHECK(r->kind == BOUNCE_ARF && r->nrcpt == 1 &&
                     strcmp(r->rcpt[0].recipient, "someone@example.net") == 0,
                 "a complaint's recipient from the returned To, its type "
                 "folded (%s)",
                 r->nrcpt ? r->rcpt[0].recipient : "none");
        r = parse(order, NULL);
        TH_STREQ(r->verp, TOK,
                 "Delivered-To's token is taken over an earlier To's");
    }
    r = parse(encoded, NULL);
    TH_STREQ(bounce_kind_name(r->kind), "auto_reply",
             "a subject in encoded words (folded, two charsets) is decoded: "
             "\"R\xc3\xa9ponse automatique\" is an auto-reply");
    r = parse(unsub, NULL);
    TH_STREQ(bounce_kind_name(r->kind), "unsubscribe",
             "mail to unsubscribe+TOKEN@ is an unsubscribe");
    TH_STREQ(r->unsub, UTOK, "unsubscribe: its token");
    TH_CHECK(r->nrcpt == 1 &&
                 strcmp(r->rcpt[0].recipient, "person@example.net") == 0,
             "unsubscribe: the sender's address");
    r = parse(unsub_env, "unsubscribe+" UTOK "@bounces.acme.example");
    TH_CHECK(r->kind == BOUNCE_UNSUBSCRIBE && strcmp(r->unsub, UTOK) == 0,
             "unsubscribe: the token of the envelope recipient");
    r = parse(plain, NULL);
    TH_CHECK(r->kind == BOUNCE_UNKNOWN && r->nrcpt == 0,
             "a plain message is unknown, with no recipient");
    r = parse("", NULL);
    TH_CHECK(r->kind == BOUNCE_UNKNOWN && r->nrcpt == 0,
             "an empty input is unknown");
}

static void
test_nonstandard(void)
{
    static const struct {
        const char *name, *msg, *rcpt, *cls, *status;
        int code;
    } c[] = {
        {"qmail",
         "From: MAILER-DAEMON@mail.example.net\n"
         "To: bounces+" TOK "@bounces.acme.example\n"
         "Subject: failure notice\n\n"
         "Hi. This is the qmail-send program at mail.example.net.\n"
         "I'm afraid I wasn't able to deliver your message to the following "
         "addresses.\nThis is a permanent error; I've given up. Sorry it "
         "didn't work out.\n\n"
         "<nobody@example.net>:\n"
         "Sorry, no mailbox here by that name. (#5.1.1)\n\n"
         "--- Below this line is a copy of the message.\n\n"
         "Return-Path: <bounces+" TOK "@bounces.acme.example>\n"
         "Message-ID: <q1@acme.example>\n\nhello\n",
         "nobody@example.net", "hard", "5.1.1", 0},
        {"Exim",
         "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
         "To: bounces+" TOK "@bounces.acme.example\n"
         "Subject: Mail delivery failed: returning message to sender\n\n"
         "This message was created automatically by mail delivery software.\n"
         "\nA message that you sent could not be delivered to one or more of "
         "its\nrecipients. This is a permanent error. The following "
         "address(es) failed:\n\n"
         "  someone@example.net\n"
         "    host mx.example.net [192.0.2.9]\n"
         "    SMTP error from remote mail server after RCPT "
         "TO:<someone@example.net>:\n"
         "    550 5.1.1 <someone@example.net>: Recipient address rejected: "
         "User unknown\n\n"
         "------ This is a copy of the message, including all the headers. "
         "------\n\nMessage-ID: <e1@acme.example>\n",
         "someone@example.net", "hard", "5.1.1", 550},
        {"Postfix without DSN",
         "From: MAILER-DAEMON (Mail Delivery System)\n"
         "To: bounces+" TOK "@bounces.acme.example\n"
         "Subject: Undelivered Mail Returned to Sender\n\n"
         "This is the mail system at host relay.example.\n\n"
         "<full@example.net>: host mx.example.net[192.0.2.3] said: 552 5.2.2 "
         "<full@example.net>: mailbox full (in reply to RCPT TO command)\n",
         "full@example.net", "soft", "5.2.2", 552},
        {"a provider that paraphrases",
         "From: postmaster@provider.example\n"
         "To: bounces+" TOK "@bounces.acme.example\n"
         "Subject: Undeliverable: spring sale\n\n"
         "Your message to gone@provider.example couldn't be delivered.\n"
         "The email account that you tried to reach does not exist.\n",
         "gone@provider.example", "hard", "5.1.1", 0},
    };

    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const struct bounce_report *r = parse(c[i].msg, NULL);
        TH_STREQ(bounce_kind_name(r->kind), "nonstandard", "%s: kind",
                 c[i].name);
        TH_CHECK(r->nrcpt == 1, "%s: one recipient (%zu)", c[i].name, r->nrcpt);
        if (r->nrcpt < 1)
            continue;
        TH_STREQ(r->rcpt[0].recipient, c[i].rcpt, "%s: recipient", c[i].name);
        TH_STREQ(r->rcpt[0].classification, c[i].cls, "%s: %s", c[i].name,
                 c[i].cls);
        TH_STREQ(r->rcpt[0].status, c[i].status, "%s: status", c[i].name);
        TH_CHECK(r->rcpt[0].reply_code == c[i].code, "%s: reply code %d (%d)",
                 c[i].name, c[i].code, r->rcpt[0].reply_code);
        TH_STREQ(r->verp, TOK, "%s: the VERP token", c[i].name);
    }
    {
        const struct bounce_report *r = parse(c[0].msg, NULL);
        TH_STREQ(r->message_id, "<q1@acme.example>",
                 "qmail: the Message-ID of the copy below the line");
        TH_STREQ(r->returned_verp, TOK,
                 "qmail: the VERP token of the copy's Return-Path");
    }
}

/* bounded: more recipients than kept, deep nesting */
static void
test_bounds(void)
{
    size_t cap = 1 << 20, n = 0;
    char *m = malloc(cap);
    const struct bounce_report *r;

    n += (size_t)snprintf(m + n, cap - n,
                          "From: MAILER-DAEMON@x.example\n"
                          "Content-Type: multipart/report; "
                          "report-type=delivery-status; boundary=b\n\n"
                          "--b\nContent-Type: message/delivery-status\n\n"
                          "Reporting-MTA: dns; x.example\n\n");
    for (int i = 0; i < 150; i++)
        n += (size_t)snprintf(m + n, cap - n,
                              "Final-Recipient: rfc822; u%d@example.net\n"
                              "Action: failed\nStatus: 5.1.1\n\n",
                              i);
    snprintf(m + n, cap - n, "--b--\n");
    r = parse(m, NULL);
    TH_CHECK(r->nrcpt == BOUNCE_RCPT_MAX && r->truncated,
             "150 recipients: %d kept, said truncated", BOUNCE_RCPT_MAX);

    /* message/rfc822 nested 100 deep */
    n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(m + n, cap - n,
                              "From: a@x.example\nContent-Type: "
                              "message/rfc822\n\n");
    snprintf(m + n, cap - n, "From: b@x.example\n\nend\n");
    r = parse(m, NULL);
    TH_CHECK(r->kind == BOUNCE_UNKNOWN, "message/rfc822 100 deep: read, "
                                        "bounded, unknown");
    free(m);
}

static void
test_same_classifier(void)
{
    static const struct {
        const char *text;
        const char *reply_class; /* "" when the reply is ours */
        const char *bounce_class;
    } c[] = {
        {"550 5.1.1 <a@x>: Recipient address rejected: User unknown", "hard",
         "hard"},
        {"552 5.2.2 mailbox full", "soft", "soft"},
        {"554 5.7.1 Service unavailable; client [192.0.2.1] blocked using "
         "zen.spamhaus.org",
         "", "blocked"},
        {"550 5.7.1 Message rejected as spam by Content Filtering", "",
         "blocked"},
        {"550 Host or domain name not found", "hard", "hard"},
    };

    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct reply_verdict v;
        struct bounce_rcpt b;

        reply_classify(550, "", c[i].text, REPLY_STAGE_RCPT, &v);
        memset(&b, 0, sizeof b);
        snprintf(b.action, sizeof b.action, "failed");
        snprintf(b.diagnostic, sizeof b.diagnostic, "%s", c[i].text);
        b.reply_code = atoi(c[i].text);
        bounce_classify(&b);
        TH_STREQ(v.bounce_class, c[i].reply_class,
                 "the same text, at RCPT: \"%s\"", c[i].reply_class);
        TH_STREQ(b.classification, c[i].bounce_class,
                 "the same text, in a bounce: %s", c[i].bounce_class);
    }
}

/* last: rules_init changes the process's table */
static void
test_user_rules(void)
{
    char path[] = "/tmp/test_bounce_rules.XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    struct bounce_rcpt b;
    struct err e;

    fputs("# ours\n\n[blocked 5.7.9] our relay's words for a policy\n"
          "\\bzzqq policy\\b\n",
          f);
    fclose(f);
    err_clear(&e);
    TH_CHECK(rules_init(path, &e) == 0, "a user's rules file loads (%s)",
             e.msg);
    memset(&b, 0, sizeof b);
    snprintf(b.action, sizeof b.action, "failed");
    snprintf(b.diagnostic, sizeof b.diagnostic,
             "550 user unknown (zzqq policy)");
    bounce_classify(&b);
    TH_STREQ(b.classification, "blocked",
             "a user's rule goes before the shipped ones");
    TH_STREQ(b.status, "5.7.9", "a user's rule gives its status");

    f = fopen(path, "w");
    fputs("[blocked] fine\nx\n[bogus] words\ny\n", f);
    fclose(f);
    err_clear(&e);
    TH_CHECK(rules_init("/nonexistent/rules", &e) == -1 && e.kind == EX_NOINPUT,
             "a missing rules file: EX_NOINPUT");
    err_clear(&e);
    TH_CHECK(rules_init(path, &e) == -1 && e.kind == EX_CONFIG &&
                 strstr(e.msg, ":3: unknown verdict \"bogus\"") != NULL,
             "an unknown verdict: file:line (%s)", e.msg);
    f = fopen(path, "w");
    fputs("[soft] words\n\\bunclosed (group\n", f);
    fclose(f);
    err_clear(&e);
    TH_CHECK(
        rules_init(path, &e) == -1 && e.kind == EX_CONFIG &&
            strstr(e.msg, ":2: a pattern of this rule does not compile") !=
                NULL,
        "a pattern that does not compile: file and the pattern's line (%s)",
        e.msg);
    f = fopen(path, "w");
    fputs("\\bbefore any rule\\b\n", f);
    fclose(f);
    err_clear(&e);
    TH_CHECK(rules_init(path, &e) == -1 && strstr(e.msg, ":1: a pattern "
                                                         "before") != NULL,
             "a pattern before any rule line (%s)", e.msg);
    f = fopen(path, "w");
    fputs("[hard 6.1.1] words\nx\n", f);
    fclose(f);
    err_clear(&e);
    TH_CHECK(rules_init(path, &e) == -1 && strstr(e.msg, "not an enhanced "
                                                         "status") != NULL,
             "a status that is not 4.x.y or 5.x.y (%s)", e.msg);
    /* a pattern that backtracks without end is stopped by the match
     * limit: no match, in bounded time */
    f = fopen(path, "w");
    fputs("[blocked] catastrophic\n^(a+)+$\n", f);
    fclose(f);
    err_clear(&e);
    TH_CHECK(rules_init(path, &e) == 0, "a backtracking pattern loads");
    memset(&b, 0, sizeof b);
    snprintf(b.action, sizeof b.action, "failed");
    memset(b.diagnostic, 'a', 200);
    b.diagnostic[200] = '!';
    bounce_classify(&b);
    TH_CHECK(strcmp(b.classification, "blocked") != 0,
             "a runaway pattern is stopped by the match limit");
    unlink(path);
}

int
main(void)
{
    R = malloc(sizeof *R);
    test_dsn();
    test_dsn_classes();
    test_arf();
    test_auto_and_unsubscribe();
    test_nonstandard();
    test_bounds();
    test_same_classifier();
    test_user_rules();
    free(R);
    printf("1..%d\n", th_n);
    return TH_DONE();
}
