/* SPDX-License-Identifier: ISC */
/*
 * reply.h - whose fault is an SMTP refusal: the recipient's, the
 * message's, or ours (the sender, the client, our relay).
 *
 * Owns the judgement - the stage the reply came at, the enhanced status
 * (RFC 3463, the IANA registry of RFC 5248), and the reply's text matched
 * against the rule table (engine/rules.h, engine/classify.rules) - and
 * the class of a recipient's bounce (hard, soft, blocked).  Pure: no I/O,
 * no state but the compiled patterns; the queue decides what to do with
 * a verdict, and the bounce parser (engine/bounce.h) reads a DSN's
 * diagnostic through the same function.
 *
 * Why it matters: a relay that refuses *us* (relaying denied, HELO
 * refused, sender address rejected, authentication required, our own
 * domain's SPF/DMARC failing, our address blocklisted) answers the same
 * to every recipient.  Counting that against each recipient bounces and
 * suppresses a whole list for one misconfiguration.  Only a recipient
 * fault may bounce or suppress anyone.
 */
#ifndef CAMPAIGN_REPLY_H
#define CAMPAIGN_REPLY_H

enum reply_fault {
    REPLY_FAULT_RECIPIENT, /* the address, the mailbox, its own policy */
    REPLY_FAULT_MESSAGE,   /* the content or size: every copy would fail */
    REPLY_FAULT_SENDER,    /* us: relay, client, HELO, AUTH, sender */
};

/* Where in the transaction the reply came. */
enum reply_stage {
    REPLY_STAGE_MAIL,  /* to MAIL FROM */
    REPLY_STAGE_RCPT,  /* to RCPT TO */
    REPLY_STAGE_DATA,  /* to DATA or to the final dot */
    REPLY_STAGE_OTHER, /* elsewhere (greeting, EHLO, AUTH), or not known
                          (a DSN): judged as at RCPT */
};

struct reply_verdict {
    enum reply_fault fault;
    /* for a recipient fault: "hard" (the address does not exist: it is
     * suppressed), "soft" (mailbox full, a temporary state) or "blocked"
     * (the recipient's system refused us by policy: reported, kept);
     * "" for the other faults */
    const char *bounce_class;
    const char *why; /* a few words, static: "relaying denied", ... */
    const char *fix; /* for the sender's and the message's faults: what to
                        change, static; for the recipient's NULL */
    int config;      /* 1: our configuration is wrong (HELO, AUTH): EX_CONFIG;
                        0: the relay refused us: EX_UNAVAILABLE */
    const char *status; /* the status the rule gives a bounce that carries
                           none ("5.1.2"); NULL or "" when none */
};

/*
 * reply_classify - the verdict on a permanent (5xx) refusal with this
 * code, enhanced status (may be "" or NULL) and text (may be NULL; the
 * untrusted reply text, matched case-insensitively) at this stage.
 *
 * The rules, first match wins: the text table (it names the cause most
 * precisely: "Relay access denied", "Helo command rejected", "Sender
 * address rejected", "Administrative prohibition", "User unknown", ...),
 * then the enhanced status (5.1.1/5.1.10 and 5.1.2/5.1.3/5.1.6 and 5.2.1
 * and 5.4.4 the recipient, hard; 5.2.2 a full mailbox, soft; 5.1.7/5.1.8 the
 * sender's address; 5.5.x protocol: ours; 5.7.0/5.7.1 at MAIL or with a
 * relaying text ours, at RCPT blocked; 5.7.20-5.7.27 our domain's
 * DKIM/SPF/DMARC (RFC 7372); 5.7.8-5.7.14 AUTH, TLS, our account (but at the
 * dot: the message's); 5.3.4, 5.6.x and 5.7.x at the dot the message), then the
 * stage (a refusal of MAIL FROM is ours; of the dot, without more, the
 * message's).  A 550 with no enhanced status is "hard" only when its
 * text says the mailbox does not exist; otherwise it is a soft bounce of
 * the recipient, which suppresses nobody.  A text saying the mailbox
 * does not exist is not believed against a status of policy (5.7.x) or
 * of the sender's address (5.1.7/5.1.8); a refusal of MAIL FROM is never
 * the recipient's; a code below 500 is never "hard".  An empty status is
 * looked for at the start of the text and in qmail's "(#5.x.y)".  Only
 * the first 1024 bytes of the text are read.  Thread-safe.
 */
void reply_classify(int code, const char *status, const char *text,
                    enum reply_stage stage, struct reply_verdict *v);

#endif
