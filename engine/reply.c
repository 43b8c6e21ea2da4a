/* SPDX-License-Identifier: ISC */
/*
 * reply.c - whose fault is an SMTP refusal (see reply.h).
 *
 * Owns the rule table: PCRE2 patterns over the reply's text, compiled
 * once per process (pthread_once) and read-only afterwards, then the
 * enhanced status (RFC 3463, RFC 5248 registry, RFC 7372 for
 * 5.7.20-5.7.27), then the stage.  Does not own what happens next: the
 * queue turns a verdict into a bounce, a suppression or a stopped run.
 *
 * The order of the table is the design.  Texts that name a recipient
 * side policy explicitly ("the recipient's domain ...") come first, so
 * that the words they share with our faults ("blocklist", "authentication
 * required") do not make them ours; then our faults, the most specific
 * first (HELO, TLS, AUTH, relaying, sender address, our domain's
 * SPF/DKIM/DMARC, limits, blocklists, reputation); then the message's
 * (size, form, content); the recipient's ("user unknown", "over quota")
 * last, so that "Sender address rejected: User unknown" is ours.
 *
 * Thread safety: the compiled patterns are shared and never written
 * after pthread_once; each call has its own match data.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

/*
 * Only the first REPLY_TEXT_MAX bytes of a text are matched: smtp.c keeps
 * 255, a DSN's Diagnostic-Code may be longer, and every cause the table
 * knows is named in a reply's first lines.  Bounds the matching time on a
 * hostile text.
 */
#define REPLY_TEXT_MAX 1024

/* ---- what to change, for our faults and the message's ---- */

#define FIX_HELO                                                               \
    "set helo in [relay] to a fully-qualified name that resolves to this "     \
    "host (and this host's address back to it)"
#define FIX_TLS                                                                \
    "the relay requires TLS: set tls in [relay] to starttls (or smtps)"
#define FIX_AUTH                                                               \
    "the relay wants authentication: set username and password_env or "        \
    "password_file in [relay], and check that they are right"
#define FIX_RELAY                                                              \
    "the relay does not let this client relay: check [relay] username and "    \
    "password (and host), or ask the relay's admin to allow this client"
#define FIX_IDENTITY                                                           \
    "the relay sends only from senders verified in its account: verify "       \
    "[sender] from and bounce_domain (or their domain) with the relay"
#define FIX_SENDER                                                             \
    "the relay refuses the envelope sender (bounce_domain): check [sender] "   \
    "bounce_domain exists in DNS and that the relay accepts it"
#define FIX_SPF                                                                \
    "publish SPF for the sender's domain and for [sender] bounce_domain, "     \
    "listing the relay's addresses"
#define FIX_DKIM                                                               \
    "sign with a [dkim] key of the sender's domain and publish its public "    \
    "key in DNS"
#define FIX_DMARC                                                              \
    "publish SPF/DKIM/DMARC for the sender's domain: sign with a [dkim] key "  \
    "of the From domain and publish SPF and a DMARC record that align"
#define FIX_ACCOUNT                                                            \
    "the relay has suspended sending for this account: see its dashboard "     \
    "or ask its admin"
#define FIX_RATE                                                               \
    "the relay or the receiver refuses our sending rate: lower rate in "       \
    "[limits] (or the domain's limit) and send the rest later"
#define FIX_BLOCKLIST                                                          \
    "this client's address (or the relay's, or the sender's domain) is on a "  \
    "blocklist: look it up on the list the reply names, fix the cause and "    \
    "request removal, or send through another relay"
#define FIX_CLIENT                                                             \
    "the receiver refuses this client's address (often for missing reverse "   \
    "DNS): give the sending address a PTR record that resolves back to it, "   \
    "or ask the relay's admin"
#define FIX_REPUTATION                                                         \
    "the receiver refuses mail from this address or domain for its "           \
    "reputation: check the receiver's postmaster tools and the blocklists, "   \
    "send less, or send through another relay"
#define FIX_ACL                                                                \
    "the relay's access rules refuse this sender or client: ask its admin "    \
    "which rule; check [sender] bounce_domain and [relay] username"
#define FIX_PROTOCOL                                                           \
    "the relay refused a command of ours: check [relay] tls and auth, and "    \
    "report the reply as a bug"
#define FIX_MAIL                                                               \
    "the relay refuses MAIL FROM: check [sender] bounce_domain and the "       \
    "relay's log for the reason"
#define FIX_SIZE                                                               \
    "the message is bigger than the relay or the receiver accepts: make it "   \
    "smaller (fewer or smaller images and attachments)"
#define FIX_FORM                                                               \
    "the message's form (MIME, headers, line length) is refused: report "      \
    "the reply as a bug"
#define FIX_CONTENT                                                            \
    "the message's content is refused as spam or unsafe: revise it (links, "   \
    "images, wording, attachments) and test it before sending again"

#define S REPLY_FAULT_SENDER
#define M REPLY_FAULT_MESSAGE
#define R REPLY_FAULT_RECIPIENT

/* The verdicts that more than one rule gives. */
static const struct reply_verdict v_sender_addr = {
    S, "", "sender address refused", FIX_SENDER, 1};
static const struct reply_verdict v_mail = {
    S, "", "sender refused by the relay", FIX_MAIL, 0};
static const struct reply_verdict v_data = {M, "", "message refused after DATA",
                                            FIX_CONTENT, 0};
static const struct reply_verdict v_soft = {R, "soft", "refused", NULL, 0};
static const struct reply_verdict v_blocked = {
    R, "blocked", "refused by the recipient's policy", NULL, 0};

struct reply_rule {
    const char *pattern;
    struct reply_verdict v;
};

/*
 * The text table, first match wins.  Caseless, DOTALL; a reply's lines
 * arrive joined with a space.
 */
static const struct reply_rule reply_rules[] = {
    /* -- the recipient's, named so explicitly that nothing else counts -- */
    /* SES: the relay's own suppression list (an earlier bounce or
     * complaint); before "blacklist" below */
    {"\\baddress blacklisted\\b|\\bon (?:the |your |an? )?(?:account[- ]level "
     ")?suppression list\\b|\\baddress is suppressed\\b",
     {R, "hard", "recipient on the relay's suppression list", NULL, 0}},
    /* Office 365 directory-based edge blocking: no such recipient */
    {"\\bAS\\(201806281\\)",
     {R, "hard", "no such recipient (directory lookup)", NULL, 0}},
    /* cPanel Exim, a failed callout: cause unknown, suppress nobody */
    {"\\bcould not deliver mail to\\b.{0,200}\\bmay not exist\\b",
     {R, "soft", "recipient verification failed", NULL, 0}},
    {"\\bRESOLVER\\.RST\\.|\\brecipient'?s (?:domain|server|mail ?server|"
     "organi[sz]ation|policy|policies|spam ?filter|admin\\w*|block ?list|"
     "black ?list|allow ?list|white ?list|settings)\\b|\\b(?:user|recipient)"
     "'?s? (?:block|black) ?list\\b|\\brecipient address rejected: access "
     "denied\\b|\\bdelivery not authori[sz]ed\\b|\\bnot authori[sz]ed to "
     "send to\\b|\\bdoes not accept mail from you\\b|\\b(?:rejected|blocked) "
     "by (?:the )?recipient\\b",
     {R, "blocked", "refused by the recipient's policy", NULL, 0}},

    /* -- ours: the client, the relay account, the sender -- */
    {"\\b(?:helo|ehlo)\\b.{0,60}\\b(?:rejected|"
     "refused|invalid|denied|not allowed|not accepted)\\b|\\b(?:bad|invalid|"
     "forged|illegal|non-fqdn) (?:helo|ehlo)\\b",
     {S, "", "HELO refused", FIX_HELO, 1}},
    {"\\bmust issue an? starttls\\b|\\bstarttls (?:is )?required\\b|"
     "\\bencryption (?:is )?(?:required|needed)\\b|\\btls (?:is )?required\\b"
     "|\\bmust (?:use|issue) (?:tls|starttls)\\b|\\brequires? (?:a )?secure "
     "connection\\b",
     {S, "", "TLS required", FIX_TLS, 1}},
    {"\\bauthentication (?:is )?required\\b|\\bmust (?:issue an? auth\\b|"
     "authenticate\\b)|\\bauthentication (?:credentials )?(?:invalid|"
     "failed|failure|unsuccessful)\\b|\\b(?:username|user name) and password "
     "not accepted\\b|\\b(?:invalid|bad|incorrect) (?:credentials|"
     "password)\\b|\\bclient was not authenticated\\b|\\bnot authenticated "
     "to send\\b|\\bunauthenticated (?:senders?|relay(?:ing)?|"
     "submission)\\b|\\bapplication-specific password\\b|\\bplease log in "
     "(?:via|with) your web browser\\b|\\bsmtp auth(?:entication)? "
     "(?:is )?(?:disabled|required)\\b|\\bdoes not have permissions? to "
     "send as\\b",
     {S, "", "authentication required or refused", FIX_AUTH, 1}},
    {"\\brelay(?:ing)? (?:access )?(?:is )?(?:denied|not permitted|not "
     "allowed|prohibited|disallowed|refused)\\b|\\bunable to relay\\b|"
     "\\bnot (?:permitted|allowed|authori[sz]ed) to relay\\b|\\b(?:we )?do "
     "not relay\\b|\\bno relaying\\b|\\ballowed rcpthosts\\b|\\bcannot "
     "relay\\b",
     {S, "", "relaying denied", FIX_RELAY, 1}},
    {"\\baddress (?:is )?not verified\\b|\\bidentities failed the check\\b|"
     "\\bverified sender identity\\b|\\bsandbox subdomains?\\b|\\bauthorized "
     "recipients\\b|\\bfree accounts are for test\\b|\\bdomain \\S+ is not "
     "allowed to send\\b",
     {S, "", "sender not verified by the relay", FIX_IDENTITY, 1}},
    {"\\bdmarc\\b|\\bsender is unauthenticated\\b|\\bunauthenticated "
     "(?:e-?mail|mail|messages?)\\b|\\bsenders to authenticate\\b",
     {S, "", "DMARC fails for the sender's domain", FIX_DMARC, 1}},
    {"\\bspf\\b|\\bsender policy framework\\b",
     {S, "", "SPF fails for the sender's domain", FIX_SPF, 1}},
    {"\\bdkim\\b", {S, "", "DKIM fails for the sender's domain", FIX_DKIM, 1}},
    /* before the sender's address: "Sender address [x] blocked using" */
    {"\\bblocked using\\b|\\b(?:listed|found) (?:at|in|on|by)\\b.{0,80}"
     "\\b(?:bl|rbl|dnsbl|spamhaus|spamcop|sorbs|barracuda\\w*|uceprotect)\\b|"
     "\\bspamhaus\\b|\\bspamcop\\b|\\bbarracudacentral\\b|\\bsorbs\\b|"
     "\\buceprotect\\b|\\b(?:dnsbl|rbl|rhsbl)\\b|\\b(?:block|black) ?"
     "(?:list|listed)\\b|\\[BL\\d+\\]",
     {S, "", "client blocklisted", FIX_BLOCKLIST, 0}},
    {"\\bsender address rejected\\b|\\bsender (?:address|domain)\\b.{0,40}"
     "\\b(?:invalid|rejected|refused|denied|unknown|not (?:found|allowed|"
     "accepted|permitted|valid|verified)|does not (?:exist|resolve)|must "
     "(?:exist|resolve))\\b|\\bdomain of sender(?: address)?\\b.{0,120}"
     "\\b(?:does not (?:exist|resolve)|not found|unknown)\\b|\\bsender "
     "verify failed\\b|\\bverification failed for\\b|\\b(?:invalid|bad|"
     "unknown) sender\\b",
     {S, "", "sender address refused", FIX_SENDER, 1}},
    {"\\bsending (?:is |has been )?(?:suspended|paused|disabled)\\b|"
     "\\baccount (?:is |has been )?(?:suspended|paused)\\b",
     {S, "", "relay account suspended", FIX_ACCOUNT, 0}},
    {"\\bsending (?:quota|limits?)\\b|\\bmessage quota exceeded\\b|\\brate "
     "limit(?:ed|s)?\\b|\\btoo many (?:messages|e-?mails|mails|"
     "connections)\\b|\\bunusual rate\\b|\\bmail flood\\b|\\bsending rate\\b",
     {S, "", "sending rate or quota exceeded", FIX_RATE, 0}},
    {"\\bclient host\\b.{0,60}\\b(?:rejected|blocked|refused|denied)\\b|"
     "\\bcannot find your (?:reverse )?hostname\\b|\\bptr record\\b|"
     "\\breverse dns\\b|\\brdns\\b|\\bdoes not resolve to your address\\b",
     {S, "", "client host refused", FIX_CLIENT, 0}},
    {"\\breputation\\b|\\btraffic not accepted from this ip\\b|\\bbanned "
     "sending ip\\b|\\bnot authori[sz]ed to send (?:e-?mail )?directly\\b|"
     "\\bspam abuse detected\\b|\\[TSS\\d+\\]|\\boriginating from your ip\\b|"
     "\\bunregistered domains?\\b|\\bmessages from \\S+ weren't sent\\b",
     {S, "", "client refused for its reputation", FIX_REPUTATION, 0}},
    /* Exim's text for an ACL "deny" without a message */
    {"\\badministrative prohibition\\b",
     {S, "", "refused by the relay's access rules", FIX_ACL, 0}},

    /* -- the message's -- */
    {"\\b(?:message|mail) (?:size )?(?:exceeds|is too (?:large|big)|too "
     "(?:large|big))\\b|\\bsize exceeds\\b|\\bexceeds (?:the )?(?:fixed |"
     "maximum |max |allowed )*(?:message )?size\\b|\\bmessage length "
     "exceeds\\b",
     {M, "", "message too large", FIX_SIZE, 0}},
    {"\\binvalid mime\\b|\\bmalformed\\b|\\bnot rfc ?5322 compliant\\b|"
     "\\brfc ?5322 section\\b|\\bbare (?:lf|linefeeds?)\\b|\\bline (?:is )?"
     "too long\\b|\\bduplicate header\\b",
     {M, "", "message malformed", FIX_FORM, 0}},
    {"\\bcontent rejected\\b|\\b(?:rejected|classified|identified|detected|"
     "flagged|marked|considered|blocked) as (?:spam|junk|bulk)\\b|\\blooks "
     "like spam\\b|\\bspam (?:content|score|detected|message)\\b|"
     "\\blikely unsolicited\\b|\\bunsolicited (?:bulk )?(?:mail|e-?mail|"
     "messages?)\\b|\\bvirus\\b|\\bmalware\\b|\\binfected\\b|\\b(?:banned|"
     "blocked|forbidden|prohibited) (?:attachment|file|content)s?\\b|"
     "\\bpotential security issue\\b|\\bnot accepted for policy reasons\\b|"
     "\\bcontent filter",
     {M, "", "message content refused", FIX_CONTENT, 0}},

    /* -- the recipient's: the mailbox does not exist -- */
    {"\\buser unknown\\b|\\bunknown (?:user|recipient|mailbox|address)\\b|"
     "\\brecipient unknown\\b|\\bno such (?:user|mailbox|recipient|address|"
     "account)\\b|\\b(?:user|mailbox|recipient|address|account)\\b.{0,40}"
     "\\b(?:does not|doesn't) exist\\b|\\b(?:recipient|user|mailbox|address)"
     " not found\\b|\\brecip(?:ient)?notfound\\b|\\binvalid "
     "(?:recipient|mailbox)\\b|\\bmailbox (?:is )?unavailable\\b|\\bno "
     "mailbox\\b|\\bmailbox (?:is )?disabled\\b|\\baccount (?:that you "
     "tried to reach )?(?:is |has been )?disabled\\b|\\bmailbox name not "
     "allowed\\b|\\bunrouteable address\\b|\\bundeliverable address\\b|"
     "\\bdoesn't have an? \\S+ account\\b|\\bnot a valid (?:mailbox|"
     "recipient|user)\\b",
     {R, "hard", "no such recipient", NULL, 0}},
    {"\\bover ?quota\\b|\\bquota exceeded\\b|\\bmailbox (?:is )?full\\b|"
     "\\bmailbox size limit\\b|\\binsufficient (?:storage|disk|space)\\b|"
     "\\bexceeded (?:its |the )?storage\\b",
     {R, "soft", "mailbox full", NULL, 0}},
};

#define REPLY_NRULES (sizeof reply_rules / sizeof reply_rules[0])

/*
 * queue_classify()'s words for a recipient's policy, tried last: only
 * when neither the table, the status nor the stage decided.
 */
static const char reply_late_pattern[] =
    "spam|block|black ?list|reputation|policy|rejected due to|listed|"
    "refused|denied|prohibited|not (?:allowed|accepted|authori[sz]ed)";

static pcre2_code *reply_re[REPLY_NRULES];
static pcre2_code *reply_late_re;
static pthread_once_t reply_once = PTHREAD_ONCE_INIT;

/* reply_compile_one - compile one of our own patterns; failure is a bug */
static pcre2_code *
reply_compile_one(const char *pattern)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re;

    re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                       PCRE2_CASELESS | PCRE2_DOTALL, &errcode, &erroff, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[120];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        fprintf(stderr,
                "campaign: reply pattern does not compile: %s at %zu: "
                "%s\n",
                (const char *)msg, (size_t)erroff, pattern);
        abort();
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

/* reply_compile - compile the table, once per process */
static void
reply_compile(void)
{
    for (size_t i = 0; i < REPLY_NRULES; i++)
        reply_re[i] = reply_compile_one(reply_rules[i].pattern);
    reply_late_re = reply_compile_one(reply_late_pattern);
}

/* reply_match - does re match the first n bytes of text */
static int
reply_match(const pcre2_code *re, const char *text, size_t n,
            pcre2_match_data *md)
{
    return pcre2_match(re, (PCRE2_SPTR)text, n, 0, 0, md, NULL) >= 0;
}

/* An enhanced status, class 5 only: subject and detail, or -1. */
struct reply_status {
    int subject, detail;
};

/* reply_digits - 1 to max digits at *p, advancing it; -1 if none */
static int
reply_digits(const char **p, int max)
{
    int v = 0, n = 0;

    while (n < max && **p >= '0' && **p <= '9') {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n ? v : -1;
}

/*
 * reply_status_parse - "5.x.y" at s (RFC 3463: subject 1-3 digits, detail
 * 1-3 digits); the status is known only when s is one of class 5.
 * Returns the characters read, 0 when s holds none.
 */
static size_t
reply_status_parse(const char *s, struct reply_status *st)
{
    const char *p = s;
    int sub, det;

    if (p[0] != '5' || p[1] != '.')
        return 0;
    p += 2;
    if ((sub = reply_digits(&p, 3)) < 0 || *p != '.')
        return 0;
    p++;
    if ((det = reply_digits(&p, 3)) < 0 || (*p >= '0' && *p <= '9'))
        return 0;
    st->subject = sub;
    st->detail = det;
    return (size_t)(p - s);
}

/*
 * reply_status_find - the status of the reply: the given one, else one
 * at the start of the text ("5.1.1 ...": a caller that did not split
 * it) or qmail's "(#5.1.1)" at its end.
 */
static void
reply_status_find(const char *status, const char *text, size_t n,
                  struct reply_status *st)
{
    st->subject = st->detail = -1;
    if (status && *status) {
        reply_status_parse(status, st);
        return;
    }
    if (text == NULL || n == 0)
        return;
    if (reply_status_parse(text, st))
        return;
    for (size_t i = n; i-- > 1;)
        if (text[i] == '#' && text[i - 1] == '(') {
            size_t k = reply_status_parse(text + i + 1, st);
            if (k == 0 || i + 1 + k >= n || text[i + 1 + k] != ')')
                st->subject = st->detail = -1;
            return;
        }
}

/*
 * reply_by_status - the verdict the enhanced status gives, or NULL: it
 * says nothing this table knows.
 */
static const struct reply_verdict *
reply_by_status(const struct reply_status *st, enum reply_stage stage)
{
    static const struct reply_verdict
        hard_addr = {R, "hard", "no such recipient", NULL, 0},
        hard_dest = {R, "hard", "no such destination", NULL, 0},
        hard_off = {R, "hard", "mailbox disabled", NULL, 0},
        soft_full = {R, "soft", "mailbox full", NULL, 0},
        soft_sys = {R, "soft", "recipient's system unavailable", NULL, 0},
        s_proto = {S, "", "protocol error", FIX_PROTOCOL, 0},
        s_dkim = {S, "", "DKIM fails for the sender's domain", FIX_DKIM, 1},
        s_spf = {S, "", "SPF fails for the sender's domain", FIX_SPF, 1},
        s_rdns = {S, "", "client reverse DNS fails", FIX_CLIENT, 0},
        s_dmarc = {S, "", "DMARC fails for the sender's domain", FIX_DMARC, 1},
        s_auth = {S, "", "authentication required or refused", FIX_AUTH, 1},
        s_tls = {S, "", "TLS required", FIX_TLS, 1},
        s_acct = {S, "", "relay account disabled", FIX_ACCOUNT, 0},
        m_size = {M, "", "message too large", FIX_SIZE, 0},
        m_form = {M, "", "message content refused", FIX_CONTENT, 0},
        m_policy = {M, "", "message refused by policy", FIX_CONTENT, 0};
    int s = st->subject, d = st->detail;

    if (s < 0)
        return NULL;
    switch (s) {
    case 1:
        if (d == 7 || d == 8)
            return &v_sender_addr;
        if (d == 1 || d == 3 || d == 6 || d == 10)
            return &hard_addr;
        if (d == 2)
            return &hard_dest;
        return NULL;
    case 2:
        if (d == 1)
            return &hard_off;
        if (d == 3)
            return &m_size;
        return &soft_full; /* 5.2.2 and the rest of the mailbox's state */
    case 3:
        if (d == 4)
            return &m_size;
        return &soft_sys;
    case 4:
        if (d == 4)
            return &hard_dest;
        return NULL;
    case 5:
        return &s_proto;
    case 6:
        return &m_form;
    case 7:
        /* RFC 7372: the sender's domain failed authentication */
        if (d >= 20 && d <= 22)
            return &s_dkim;
        if (d == 23 || d == 24)
            return &s_spf;
        if (d == 25)
            return &s_rdns;
        if (d == 26)
            return &s_dmarc;
        if (d == 27)
            return &v_sender_addr; /* the sender's domain has a null MX */
        if (stage == REPLY_STAGE_DATA)
            return &m_policy; /* Yahoo's 5.7.9 after the dot included */
        if (d == 8 || d == 9 || d == 12 || d == 14)
            return &s_auth;
        if (d == 10 || d == 11)
            return &s_tls;
        if (d == 13)
            return &s_acct;
        if (stage == REPLY_STAGE_MAIL)
            return &v_mail;
        return &v_blocked;
    default:
        return NULL;
    }
}

void
reply_classify(int code, const char *status, const char *text,
               enum reply_stage stage, struct reply_verdict *v)
{
    const struct reply_verdict *r = NULL;
    struct reply_status st;
    pcre2_match_data *md = NULL;
    size_t n = text ? strnlen(text, REPLY_TEXT_MAX) : 0;

    pthread_once(&reply_once, reply_compile);
    reply_status_find(status, text, n, &st);
    if (n > 0) {
        md = pcre2_match_data_create(1, NULL);
        if (md == NULL) {
            fprintf(stderr, "campaign: out of memory\n");
            abort();
        }
        for (size_t i = 0; r == NULL && i < REPLY_NRULES; i++)
            if (reply_match(reply_re[i], text, n, md))
                r = &reply_rules[i].v;
    }
    /* a text that says "does not exist" is believed unless the status
     * says policy (5.7.x) or the sender's address (5.1.7, 5.1.8) */
    if (r && strcmp(r->bounce_class, "hard") == 0 &&
        (st.subject == 7 ||
         (st.subject == 1 && (st.detail == 7 || st.detail == 8))))
        r = NULL;
    if (r == NULL)
        r = reply_by_status(&st, stage);
    if (r == NULL && stage == REPLY_STAGE_MAIL)
        r = &v_mail;
    if (r == NULL && stage == REPLY_STAGE_DATA)
        r = &v_data;
    if (r == NULL && md && reply_match(reply_late_re, text, n, md))
        r = &v_blocked;
    if (r == NULL)
        r = &v_soft;
    if (md)
        pcre2_match_data_free(md);

    /* MAIL FROM names no recipient: what is the recipient's elsewhere is
     * the sender's here */
    if (stage == REPLY_STAGE_MAIL && r->fault == REPLY_FAULT_RECIPIENT)
        r = strcmp(r->bounce_class, "hard") == 0 ? &v_sender_addr : &v_mail;
    *v = *r;
    /* not a permanent reply: nothing to suppress */
    if (code >= 100 && code < 500 && v->fault == REPLY_FAULT_RECIPIENT &&
        strcmp(v->bounce_class, "hard") == 0) {
        v->bounce_class = "soft";
    }
}
