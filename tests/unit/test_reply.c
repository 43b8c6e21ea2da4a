/* SPDX-License-Identifier: ISC */
/*
 * test_reply.c - whose fault is a refusal (engine/reply.c): real 5xx
 * replies of Postfix, Exim, Sendmail, qmail, OpenSMTPD, Exchange/Office
 * 365, Gmail, Yahoo, Amazon SES, Mailgun and SendGrid, each with the
 * stage it came at and the verdict it must get; every pattern of the
 * table and every branch of the status and stage rules has a row.
 */
#include <pthread.h>
#include <stdlib.h>

#include "th.h"

#include "reply.h"

#define MAIL REPLY_STAGE_MAIL
#define RCPT REPLY_STAGE_RCPT
#define DATA REPLY_STAGE_DATA
#define OTHER REPLY_STAGE_OTHER
#define RCP REPLY_FAULT_RECIPIENT
#define MSG REPLY_FAULT_MESSAGE
#define SND REPLY_FAULT_SENDER

static const struct {
    const char *name;
    int code;
    const char *status;
    const char *text;
    enum reply_stage stage;
    enum reply_fault fault;
    const char *class; /* "" for the message's and the sender's faults */
    const char *why;   /* NULL: any; else the rule that must decide */
    int config;        /* for a sender fault: -1 any */
} cases[] = {
    /* ---- Gmail ---- */
    {"gmail no such user", 550, "5.1.1",
     "The email account that you tried to reach does not exist. Please try "
     "double-checking the recipient's email address for typos or "
     "unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser",
     RCPT, RCP, "hard", "no such recipient", -1},
    {"gmail over quota", 552, "5.2.2",
     "The email account that you tried to reach is over quota. Please "
     "direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm",
     RCPT, RCP, "soft", "mailbox full", -1},
    {"gmail disabled account", 550, "5.2.1",
     "The email account that you tried to reach is disabled. "
     "https://support.google.com/mail/?p=DisabledUser",
     RCPT, RCP, "hard", "no such recipient", -1},
    {"gmail DMARC policy", 550, "5.7.26",
     "Unauthenticated email from acme.example is not accepted due to "
     "domain's DMARC policy. Please contact the administrator of "
     "acme.example domain if this was a legitimate mail.",
     DATA, SND, "", "DMARC fails for the sender's domain", 1},
    {"gmail sender unauthenticated", 550, "5.7.26",
     "This mail has been blocked because the sender is unauthenticated. "
     "Gmail requires all senders to authenticate with either SPF or DKIM.",
     DATA, SND, "", "DMARC fails for the sender's domain", 1},
    {"gmail likely unsolicited", 550, "5.7.1",
     "[192.0.2.1] Our system has detected that this message is likely "
     "unsolicited mail. To reduce the amount of spam sent to Gmail, this "
     "message has been blocked.",
     DATA, MSG, "", "message content refused", -1},
    {"gmail IP not authorized directly", 550, "5.7.1",
     "[192.0.2.1] The IP you're using to send mail is not authorized to "
     "send email directly to our servers. Please use the SMTP relay at your "
     "service provider instead.",
     RCPT, SND, "", "client refused for its reputation", 0},
    {"gmail low domain reputation", 550, "5.7.1",
     "Our system has detected that this message is likely suspicious due "
     "to the very low reputation of the sending domain. To best protect our "
     "users from spam, the message has been blocked.",
     DATA, SND, "", "client refused for its reputation", 0},
    {"gmail no PTR", 550, "5.7.25",
     "[192.0.2.1] The IP address sending this message does not have a PTR "
     "record setup, or the corresponding forward DNS entry does not point "
     "to the sending IP.",
     DATA, SND, "", "client host refused", 0},
    {"gmail security issue", 552, "5.7.0",
     "This message was blocked because its content presents a potential "
     "security issue. Please visit "
     "https://support.google.com/mail/?p=BlockedMessage",
     DATA, MSG, "", "message content refused", -1},
    {"gmail unusual rate", 550, "5.7.28",
     "[192.0.2.1] Our system has detected an unusual rate of unsolicited "
     "mail originating from your IP address. To protect our users from "
     "spam, mail sent from your IP address has been blocked.",
     RCPT, SND, "", "sending rate or quota exceeded", 0},
    {"gmail relay wants AUTH", 530, "5.7.0",
     "Authentication Required. Learn more at "
     "https://support.google.com/mail/?p=WantAuthError",
     OTHER, SND, "", "authentication required or refused", 1},
    {"gmail bad credentials", 535, "5.7.8",
     "Username and Password not accepted. Learn more at "
     "https://support.google.com/mail/?p=BadCredentials",
     OTHER, SND, "", "authentication required or refused", 1},
    {"gmail daily sending quota", 550, "5.4.5",
     "Daily user sending quota exceeded. "
     "https://support.google.com/a/answer/166852",
     MAIL, SND, "", "sending rate or quota exceeded", 0},

    /* ---- Office 365 / Exchange / Outlook.com ---- */
    {"o365 traffic not accepted from IP", 550, "5.7.708",
     "Service unavailable. Access denied, traffic not accepted from this "
     "IP. For more information please go to "
     "http://go.microsoft.com/fwlink/?LinkId=526653 AS(2301)",
     RCPT, SND, "", "client refused for its reputation", 0},
    {"o365 directory edge blocking", 550, "5.4.1",
     "Recipient address rejected: Access denied. AS(201806281) "
     "[BN8NAM12FT045.eop-nam12.prod.protection.outlook.com]",
     RCPT, RCP, "hard", "no such recipient (directory lookup)", -1},
    {"o365 RecipientNotFound", 550, "5.1.10",
     "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address "
     "lookup",
     RCPT, RCP, "hard", "no such recipient", -1},
    {"o365 group accepts only internal senders", 550, "5.7.133",
     "RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required; "
     "Delivery restriction check failed as sender not authenticated",
     RCPT, RCP, "blocked", "refused by the recipient's policy", -1},
    {"outlook.com network on block list", 550, "5.7.1",
     "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact "
     "your Internet service provider since part of their network is on our "
     "block list (S3150). You can also refer your provider to "
     "http://mail.live.com/mail/troubleshooting.aspx#errors.",
     RCPT, SND, "", "client blocklisted", 0},
    {"o365 tenant relay access denied", 550, "5.7.64",
     "TenantAttribution; Relay Access Denied "
     "[SN1NAM02FT008.eop-nam02.prod.protection.outlook.com]",
     RCPT, SND, "", "relaying denied", 1},
    {"o365 client not authenticated", 530, "5.7.57",
     "Client not authenticated to send mail. "
     "[MW4PR03CA0001.namprd03.prod.outlook.com]",
     MAIL, SND, "", "authentication required or refused", 1},
    {"o365 no send-as permission", 550, "5.7.60",
     "SMTP; Client does not have permissions to send as this sender", MAIL, SND,
     "", "authentication required or refused", 1},
    {"o365 DMARC reject", 550, "5.7.509",
     "Access denied, sending domain [ACME.EXAMPLE] does not pass DMARC "
     "verification and has a DMARC policy of reject.",
     DATA, SND, "", "DMARC fails for the sender's domain", 1},
    {"exchange mailbox full", 554, "5.2.2",
     "mailbox full; "
     "STOREDRV.Deliver.Exception:QuotaExceededException."
     "MapiExceptionShutoffQuotaExceeded",
     RCPT, RCP, "soft", "mailbox full", -1},
    {"o365 invalid MIME", 554, "5.6.211",
     "Invalid MIME Content: Single text value size (32768) exceeded allowed "
     "maximum (32768) for the 'X-Long' property.",
     DATA, MSG, "", "message malformed", -1},
    {"exchange unable to relay", 550, "5.7.54",
     "SMTP; Unable to relay recipient in non-accepted domain", RCPT, SND, "",
     "relaying denied", 1},
    {"hotmail mailbox unavailable", 550, "",
     "Requested action not taken: mailbox unavailable "
     "(3158725290:2832:-2147467259)",
     RCPT, RCP, "hard", "no such recipient", -1},

    /* ---- Yahoo / AOL ---- */
    {"yahoo no such account", 554, "",
     "delivery error: dd This user doesn't have a yahoo.com account "
     "(x@yahoo.com) [0] - mta1234.mail.ne1.yahoo.com",
     DATA, RCP, "hard", "no such recipient", -1},
    {"yahoo policy reasons after the dot", 554, "5.7.9",
     "Message not accepted for policy reasons.  See "
     "https://postmaster.yahooinc.com/error-codes",
     DATA, MSG, "", "message content refused", -1},
    {"yahoo BL21 spamhaus", 553, "5.7.1",
     "[BL21] Connections will not be accepted from 192.0.2.1, because the "
     "ip is in Spamhaus's list; see "
     "https://postmaster.yahooinc.com/error-codes",
     OTHER, SND, "", "client blocklisted", 0},
    {"yahoo TSS09 permanently deferred", 553, "5.7.2",
     "[TSS09] All messages from 192.0.2.1 will be permanently deferred; "
     "Retrying will NOT succeed. See "
     "https://postmaster.yahooinc.com/error-codes",
     RCPT, SND, "", "client refused for its reputation", 0},
    {"yahoo mailbox disabled", 554, "",
     "30 Sorry, your message to x@yahoo.com cannot be delivered. This "
     "mailbox is disabled (554.30).",
     DATA, RCP, "hard", "no such recipient", -1},
    {"aol mailbox not found", 552, "",
     "1 Requested mail action aborted, mailbox not found", RCPT, RCP, "hard",
     "no such recipient", -1},

    /* ---- Amazon SES, Mailgun, SendGrid ---- */
    {"ses identity not verified", 554, "",
     "Message rejected: Email address is not verified. The following "
     "identities failed the check in region US-EAST-1: bounces@b.example",
     DATA, SND, "", "sender not verified by the relay", 1},
    {"ses suppression list", 554, "", "Message rejected: Address blacklisted.",
     DATA, RCP, "hard", "recipient on the relay's suppression list", -1},
    {"ses sending suspended", 554, "",
     "Message rejected: Sending suspended for this account. For more "
     "information, please check the inbox of the email address associated "
     "with your AWS account.",
     MAIL, SND, "", "relay account suspended", 0},
    {"ses bad credentials", 535, "", "Authentication Credentials Invalid",
     OTHER, SND, "", "authentication required or refused", 1},
    {"ses duplicate header", 554, "",
     "Transaction failed: Duplicate header 'Subject'.", DATA, MSG, "",
     "message malformed", -1},
    {"mailgun sandbox", 550, "5.7.1",
     "Sandbox subdomains are for test purposes only. Please add your own "
     "domain or add the address to authorized recipients in Account "
     "Settings.",
     RCPT, SND, "", "sender not verified by the relay", 1},
    {"mailgun relaying denied", 550, "5.7.1", "Relaying denied", RCPT, SND, "",
     "relaying denied", 1},
    {"sendgrid unverified sender identity", 550, "",
     "The from address does not match a verified Sender Identity. Mail "
     "cannot be sent until this error is resolved.",
     MAIL, SND, "", "sender not verified by the relay", 1},

    /* ---- Postfix ---- */
    {"postfix relay access denied", 554, "5.7.1",
     "<x@y.example>: Relay access denied", RCPT, SND, "", "relaying denied", 1},
    {"postfix HELO not FQDN", 504, "5.5.2",
     "<vm>: Helo command rejected: need fully-qualified hostname", RCPT, SND,
     "", "HELO refused", 1},
    {"postfix HELO host not found", 550, "5.7.1",
     "<vm.local>: Helo command rejected: Host not found", RCPT, SND, "",
     "HELO refused", 1},
    {"postfix sender domain not found", 553, "5.1.8",
     "<bounces+x@b.example>: Sender address rejected: Domain not found", RCPT,
     SND, "", "sender address refused", 1},
    {"postfix sender login mismatch", 553, "5.7.1",
     "<news@acme.example>: Sender address rejected: not owned by user "
     "campaign",
     MAIL, SND, "", "sender address refused", 1},
    {"postfix unlisted sender: user unknown", 550, "5.1.0",
     "<bounces@b.example>: Sender address rejected: User unknown in virtual "
     "mailbox table",
     RCPT, SND, "", "sender address refused", 1},
    {"postfix client without reverse DNS", 550, "5.7.1",
     "Client host rejected: cannot find your hostname, [192.0.2.1]", RCPT, SND,
     "", "client host refused", 0},
    {"postfix client on zen.spamhaus.org", 554, "5.7.1",
     "Service unavailable; Client host [192.0.2.1] blocked using "
     "zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
     RCPT, SND, "", "client blocklisted", 0},
    {"postfix sender domain on dbl", 554, "5.7.1",
     "Service unavailable; Sender address [bounces@b.example] blocked using "
     "dbl.spamhaus.org",
     RCPT, SND, "", "client blocklisted", 0},
    {"postfix user unknown", 550, "5.1.1",
     "<x@y.example>: Recipient address rejected: User unknown in local "
     "recipient table",
     RCPT, RCP, "hard", "no such recipient", -1},
    {"postfix recipient access denied", 554, "5.7.1",
     "<x@y.example>: Recipient address rejected: Access denied", RCPT, RCP,
     "blocked", "refused by the recipient's policy", -1},
    {"postfix policyd-spf fail", 550, "5.7.1",
     "<x@y.example>: Recipient address rejected: Message rejected due to: "
     "SPF fail - not authorized. Please see "
     "http://www.openspf.net/Why?s=mfrom;id=bounces@b.example;ip=192.0.2.1",
     RCPT, SND, "", "SPF fails for the sender's domain", 1},
    {"exim SPF fail after the dot", 550, "",
     "SPF check failed: b.example does not designate 192.0.2.1 as permitted "
     "sender",
     DATA, SND, "", "SPF fails for the sender's domain", 1},
    {"DKIM verification failed after the dot", 550, "5.7.1",
     "Message rejected: DKIM signature verification failed", DATA, SND, "",
     "DKIM fails for the sender's domain", 1},
    {"postfix message size after the dot", 552, "5.3.4",
     "Message size exceeds fixed limit", DATA, MSG, "", "message too large",
     -1},
    {"postfix message size at MAIL (SIZE=)", 552, "5.3.4",
     "Message size exceeds fixed limit", MAIL, MSG, "", "message too large",
     -1},
    {"postfix content rejected", 554, "5.6.0", "Message content rejected", DATA,
     MSG, "", "message content refused", -1},
    {"postfix header_checks spam", 550, "5.7.1",
     "Message rejected as spam by Content Filtering", DATA, MSG, "",
     "message content refused", -1},
    {"postfix STARTTLS first", 530, "5.7.0",
     "Must issue a STARTTLS command first", MAIL, SND, "", "TLS required", 1},
    {"postfix authentication required", 530, "5.7.0", "Authentication required",
     MAIL, SND, "", "authentication required or refused", 1},
    {"postfix authentication failed", 535, "5.7.8",
     "Error: authentication failed: authentication failure", OTHER, SND, "",
     "authentication required or refused", 1},
    {"postfix MAIL syntax", 501, "5.5.4", "Syntax: MAIL FROM:<address>", MAIL,
     SND, "", "protocol error", 0},
    {"postfix SMTPUTF8 refused at RCPT", 555, "5.5.4",
     "Unsupported option: SMTPUTF8", RCPT, SND, "", "protocol error", 0},
    {"local policy at RCPT", 550, "5.7.1",
     "Message rejected due to local policy", RCPT, RCP, "blocked",
     "refused by the recipient's policy", -1},
    {"local policy after the dot", 550, "5.7.1",
     "Message rejected due to local policy", DATA, MSG, "",
     "message refused by policy", -1},

    /* ---- Exim ---- */
    {"exim administrative prohibition", 550, "", "Administrative prohibition",
     RCPT, SND, "", "refused by the relay's access rules", 0},
    {"exim relay not permitted", 550, "", "relay not permitted", RCPT, SND, "",
     "relaying denied", 1},
    {"exim sender verify failed", 550, "",
     "Verification failed for <bounces@b.example> Unrouteable address "
     "Sender verify failed",
     RCPT, SND, "", "sender address refused", 1},
    {"exim unknown user", 550, "", "Unknown user", RCPT, RCP, "hard",
     "no such recipient", -1},
    {"exim unrouteable address", 550, "", "Unrouteable address", RCPT, RCP,
     "hard", "no such recipient", -1},
    {"exim dnsbl black list", 550, "",
     "Rejected because 192.0.2.1 is in a black list at "
     "b.barracudacentral.org",
     RCPT, SND, "", "client blocklisted", 0},
    {"exim spamassassin", 550, "",
     "This message was classified as SPAM and may not be delivered", DATA, MSG,
     "", "message content refused", -1},
    {"exim virus", 550, "",
     "This message contains a virus (Eicar-Test-Signature) and has been "
     "rejected",
     DATA, MSG, "", "message content refused", -1},
    {"cpanel exim callout failed", 550, "",
     "The mail server could not deliver mail to x@y.example.  The account "
     "or domain may not exist, they may be blacklisted, or missing the "
     "proper dns entries.",
     RCPT, RCP, "soft", "recipient verification failed", -1},

    /* ---- Sendmail ---- */
    {"sendmail relaying denied, auth", 550, "5.7.1",
     "<x@y.example>... Relaying denied. Proper authentication required.", RCPT,
     SND, "", NULL, 1},
    {"sendmail relaying denied", 550, "5.7.1",
     "<x@y.example>... Relaying denied", RCPT, SND, "", "relaying denied", 1},
    {"sendmail user unknown", 550, "5.1.1", "<x@y.example>... User unknown",
     RCPT, RCP, "hard", "no such recipient", -1},
    {"sendmail 5.3.0 user unknown", 553, "5.3.0",
     "<x@y.example>... User unknown", RCPT, RCP, "hard", "no such recipient",
     -1},
    {"sendmail sender domain does not exist", 553, "5.1.8",
     "<bounces@b.example>... Domain of sender address bounces@b.example "
     "does not exist",
     MAIL, SND, "", "sender address refused", 1},
    {"sendmail access db at RCPT", 550, "5.7.1",
     "<x@y.example>... Access denied", RCPT, RCP, "blocked",
     "refused by the recipient's policy", -1},
    {"sendmail access db at MAIL", 550, "5.7.1",
     "<bounces@b.example>... Access denied", MAIL, SND, "",
     "sender refused by the relay", 0},
    {"sendmail dnsbl", 554, "5.7.1",
     "Rejected 192.0.2.1 found in dnsbl.sorbs.net", OTHER, SND, "",
     "client blocklisted", 0},

    /* ---- qmail, OpenSMTPD ---- */
    {"qmail rcpthosts", 553, "",
     "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", RCPT,
     SND, "", "relaying denied", 1},
    {"qmail no mailbox", 550, "",
     "sorry, no mailbox here by that name. (#5.1.1)", RCPT, RCP, "hard",
     "no such recipient", -1},
    {"qmail status only in the text", 550, "", "sorry, refused (#5.1.1)", RCPT,
     RCP, "hard", NULL, -1},
    {"qmail malformed status in the text", 550, "", "sorry (#5.1.1x)", RCPT,
     RCP, "soft", NULL, -1},
    {"status at the start of the text", 550, "", "5.2.2 sorry, try later", RCPT,
     RCP, "soft", "mailbox full", -1},
    {"exim quota, from a DSN", 552, "",
     "x@y.example: mailbox is full (MTA-imposed quota exceeded while "
     "writing to file /var/mail/x)",
     OTHER, RCP, "soft", "mailbox full", -1},
    {"opensmtpd invalid recipient", 550, "", "Invalid recipient: <x@y.example>",
     RCPT, RCP, "hard", "no such recipient", -1},
    {"opensmtpd AUTH first", 530, "5.5.1",
     "Invalid command: Must issue an AUTH command first", MAIL, SND, "",
     "authentication required or refused", 1},
    {"opensmtpd message too large", 552, "", "Message too large", DATA, MSG, "",
     "message too large", -1},
    {"mailbox name not allowed", 553, "",
     "Requested action not taken: mailbox name not allowed", RCPT, RCP, "hard",
     "no such recipient", -1},

    /* ---- the recipient's own policy, named ---- */
    {"recipient's domain refuses us", 550, "5.7.1",
     "Your message was rejected: the recipient's domain does not accept "
     "mail from you",
     RCPT, RCP, "blocked", "refused by the recipient's policy", -1},
    {"recipient's spam filter", 550, "5.7.1",
     "<x@y.example>: the recipient's spam filter blocked your message", RCPT,
     RCP, "blocked", "refused by the recipient's policy", -1},
    {"user's blacklist", 550, "5.7.1", "Sender is on user's blacklist", RCPT,
     RCP, "blocked", "refused by the recipient's policy", -1},
    {"delivery not authorized", 550, "5.7.1",
     "Delivery not authorized, message refused", RCPT, RCP, "blocked",
     "refused by the recipient's policy", -1},

    /* ---- the enhanced status alone ---- */
    {"5.1.1", 550, "5.1.1", "", RCPT, RCP, "hard", NULL, -1},
    {"5.1.2", 550, "5.1.2", "", RCPT, RCP, "hard", NULL, -1},
    {"5.1.3", 501, "5.1.3", "", RCPT, RCP, "hard", NULL, -1},
    {"5.1.6", 550, "5.1.6", "", RCPT, RCP, "hard", NULL, -1},
    {"5.1.10", 556, "5.1.10", "", RCPT, RCP, "hard", NULL, -1},
    {"5.2.1", 550, "5.2.1", "", RCPT, RCP, "hard", NULL, -1},
    {"5.4.4", 550, "5.4.4", "", RCPT, RCP, "hard", NULL, -1},
    {"5.1.7 sender syntax", 553, "5.1.7", "", RCPT, SND, "",
     "sender address refused", 1},
    {"5.1.8 sender domain", 553, "5.1.8", "", RCPT, SND, "",
     "sender address refused", 1},
    {"5.2.2 full", 552, "5.2.2", "", RCPT, RCP, "soft", "mailbox full", -1},
    {"5.2.4 list expansion", 550, "5.2.4", "", RCPT, RCP, "soft", NULL, -1},
    {"5.2.3 too long", 552, "5.2.3", "", DATA, MSG, "", "message too large",
     -1},
    {"5.3.4 at RCPT", 552, "5.3.4", "", RCPT, MSG, "", "message too large", -1},
    {"5.3.2 system not accepting", 550, "5.3.2", "", RCPT, RCP, "soft", NULL,
     -1},
    {"5.5.1 protocol", 500, "5.5.1", "", RCPT, SND, "", "protocol error", 0},
    {"5.6.0 at RCPT", 554, "5.6.0", "", RCPT, MSG, "", NULL, -1},
    {"5.7.1 at MAIL", 554, "5.7.1", "", MAIL, SND, "",
     "sender refused by the relay", 0},
    {"5.7.1 at RCPT", 554, "5.7.1", "", RCPT, RCP, "blocked", NULL, -1},
    {"5.7.1 after the dot", 554, "5.7.1", "", DATA, MSG, "",
     "message refused by policy", -1},
    {"5.7.1 elsewhere", 554, "5.7.1", "", OTHER, RCP, "blocked", NULL, -1},
    {"5.7.0 at MAIL", 550, "5.7.0", NULL, MAIL, SND, "", NULL, 0},
    {"5.7.20 DKIM", 550, "5.7.20", "", DATA, SND, "",
     "DKIM fails for the sender's domain", 1},
    {"5.7.23 SPF", 550, "5.7.23", "", RCPT, SND, "",
     "SPF fails for the sender's domain", 1},
    {"5.7.24 SPF error", 550, "5.7.24", "", RCPT, SND, "",
     "SPF fails for the sender's domain", 1},
    {"5.7.25 reverse DNS", 550, "5.7.25", "", RCPT, SND, "",
     "client reverse DNS fails", 0},
    {"5.7.27 sender null MX", 550, "5.7.27", "", RCPT, SND, "",
     "sender address refused", 1},
    {"5.7.8 credentials", 535, "5.7.8", "", RCPT, SND, "",
     "authentication required or refused", 1},
    {"5.7.9 weak mechanism", 534, "5.7.9", "", OTHER, SND, "",
     "authentication required or refused", 1},
    {"5.7.11 encryption required", 538, "5.7.11", "", OTHER, SND, "",
     "TLS required", 1},
    {"5.7.13 account disabled", 525, "5.7.13", "", OTHER, SND, "",
     "relay account disabled", 0},
    {"5.0.0 at RCPT", 550, "5.0.0", "", RCPT, RCP, "soft", NULL, -1},
    {"5.0.0 at MAIL", 550, "5.0.0", "", MAIL, SND, "", NULL, 0},
    {"5.0.0 after the dot", 550, "5.0.0", "", DATA, MSG, "", NULL, -1},
    {"5.1.0 at RCPT", 550, "5.1.0", "", RCPT, RCP, "soft", NULL, -1},
    {"5.4.7 expired", 550, "5.4.7", "", RCPT, RCP, "soft", NULL, -1},
    {"class 4 status is no status", 550, "4.1.1", "", RCPT, RCP, "soft", NULL,
     -1},
    {"status without detail", 550, "5.1", "", RCPT, RCP, "soft", NULL, -1},
    {"status detail of 4 digits", 550, "5.1.1000", "", RCPT, RCP, "soft", NULL,
     -1},

    /* ---- no status: only a text that says so is hard ---- */
    {"550 bare, the issue's case", 550, "", "Requested action not taken", RCPT,
     RCP, "soft", NULL, -1},
    {"550 bare, policy words", 550, "",
     "Requested action not taken: policy violation", RCPT, RCP, "blocked", NULL,
     -1},
    {"551 user not local", 551, "", "User not local; please try <x@z.example>",
     RCPT, RCP, "soft", NULL, -1},
    {"554 bare at RCPT", 554, "", "Transaction failed", RCPT, RCP, "soft", NULL,
     -1},
    {"554 bare at MAIL", 554, "", "Transaction failed", MAIL, SND, "",
     "sender refused by the relay", 0},
    {"554 bare after the dot", 554, "", "Transaction failed", DATA, MSG, "",
     NULL, -1},

    /* ---- overrides ---- */
    {"5.7.x outranks a user-unknown text", 550, "5.7.1", "User unknown", RCPT,
     RCP, "blocked", NULL, -1},
    {"5.1.8 outranks a does-not-exist text", 550, "5.1.8",
     "The address <bounces@b.example> does not exist", RCPT, SND, "",
     "sender address refused", 1},
    {"user unknown at MAIL is the sender's", 550, "", "User unknown", MAIL, SND,
     "", "sender address refused", 1},
    {"mailbox full at MAIL is the sender's", 552, "", "Mailbox full", MAIL, SND,
     "", "sender refused by the relay", 0},
    {"4xx never hard", 450, "4.1.1",
     "<x@y.example>: Recipient address rejected: User unknown in local "
     "recipient table",
     RCPT, RCP, "soft", NULL, -1},

    /* ---- empty and odd input ---- */
    {"NULL status and text at RCPT", 550, NULL, NULL, RCPT, RCP, "soft", NULL,
     -1},
    {"NULL status and text at MAIL", 550, NULL, NULL, MAIL, SND, "", NULL, 0},
    {"NULL status and text after the dot", 554, NULL, NULL, DATA, MSG, "", NULL,
     -1},
    {"empty status and text", 550, "", "", RCPT, RCP, "soft", NULL, -1},
    {"bytes >= 0x80 around user unknown", 550, "",
     "\xff\xfe\x80 User unknown caf\xc3\xa9 \xc0\xaf", RCPT, RCP, "hard",
     "no such recipient", -1},
    {"control characters around relay denied", 554, "",
     "\x01\x1b[0m Relay access denied\x7f\x08\t\r\n", RCPT, SND, "",
     "relaying denied", 1},
    {"invalid UTF-8 only", 550, "", "\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x90",
     RCPT, RCP, "soft", NULL, -1},
};

#define NCASES (sizeof cases / sizeof cases[0])

/* verdict_ok - the row's verdict, and the promises of reply.h */
static int
verdict_ok(size_t i, const struct reply_verdict *v)
{
    int ours = v->fault != REPLY_FAULT_RECIPIENT;

    if (v->fault != cases[i].fault || v->bounce_class == NULL ||
        strcmp(v->bounce_class, cases[i].class) != 0)
        return 0;
    if (cases[i].why && (v->why == NULL || strcmp(v->why, cases[i].why)))
        return 0;
    if (v->why == NULL || *v->why == '\0')
        return 0;
    /* a fix for ours and the message's, none for the recipient's */
    if (ours != (v->fix != NULL))
        return 0;
    if (v->fault == REPLY_FAULT_SENDER && cases[i].config >= 0 &&
        v->config != cases[i].config)
        return 0;
    if (v->fault == REPLY_FAULT_RECIPIENT && v->config != 0)
        return 0;
    return 1;
}

static const char *
fault_str(enum reply_fault f)
{
    return f == REPLY_FAULT_RECIPIENT ? "recipient"
           : f == REPLY_FAULT_MESSAGE ? "message"
                                      : "sender";
}

/* classify_all - every row, from one thread; 0 when all agree */
static void *
classify_all(void *arg)
{
    long bad = 0;

    (void)arg;
    for (int round = 0; round < 20; round++)
        for (size_t i = 0; i < NCASES; i++) {
            struct reply_verdict v;
            reply_classify(cases[i].code, cases[i].status, cases[i].text,
                           cases[i].stage, &v);
            bad += !verdict_ok(i, &v);
        }
    return (void *)bad;
}

int
main(void)
{
    struct reply_verdict v;
    pthread_t t[4];
    char *big;
    size_t bign = 10 * 1024;
    long bad = 0;

    /* first, from four threads at once: the table compiles once */
    for (int k = 0; k < 4; k++)
        pthread_create(&t[k], NULL, classify_all, NULL);
    for (int k = 0; k < 4; k++) {
        void *r;
        pthread_join(t[k], &r);
        bad += (long)r;
    }
    TH_CHECK(bad == 0, "reply: four threads agree with the table");

    for (size_t i = 0; i < NCASES; i++) {
        memset(&v, 0, sizeof v);
        reply_classify(cases[i].code, cases[i].status, cases[i].text,
                       cases[i].stage, &v);
        TH_CHECK(verdict_ok(i, &v), "reply %s", cases[i].name);
        if (!verdict_ok(i, &v))
            printf("#   got  %s \"%s\" (%s) config %d\n#   want %s \"%s\" "
                   "(%s)\n",
                   fault_str(v.fault), v.bounce_class ? v.bounce_class : "?",
                   v.why ? v.why : "?", v.config, fault_str(cases[i].fault),
                   cases[i].class, cases[i].why ? cases[i].why : "any");
    }

    /* 10 KB: the cause is read from the first bytes only */
    big = malloc(bign + 1);
    if (big == NULL)
        return 1;
    memset(big, 'a', bign);
    big[bign] = '\0';
    memcpy(big + bign - 12, "User unknown", 12);
    reply_classify(550, "", big, REPLY_STAGE_RCPT, &v);
    TH_CHECK(v.fault == REPLY_FAULT_RECIPIENT &&
                 strcmp(v.bounce_class, "soft") == 0,
             "reply 10 KB text: words past the bound are not read");
    memcpy(big, "Relay access denied ", 20);
    reply_classify(554, "5.7.1", big, REPLY_STAGE_RCPT, &v);
    TH_CHECK(v.fault == REPLY_FAULT_SENDER && v.config == 1,
             "reply 10 KB text: the cause at its start is");
    for (size_t i = 0; i + 5 < bign; i += 5)
        memcpy(big + i, "helo ", 5);
    reply_classify(550, "", big, REPLY_STAGE_RCPT, &v);
    TH_CHECK(v.fault == REPLY_FAULT_RECIPIENT &&
                 strcmp(v.bounce_class, "soft") == 0,
             "reply 10 KB of \"helo \": bounded, no verdict");
    free(big);
    return TH_DONE();
}
