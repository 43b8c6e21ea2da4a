/* SPDX-License-Identifier: ISC */
/*
 * reply.c - whose fault is an SMTP refusal (see reply.h).
 *
 * Owns the order of the judgement: the rule table over the reply's text
 * (engine/rules.h: engine/classify.rules and the user's rules, whose
 * order is the design), then the enhanced status (RFC 3463, RFC 5248
 * registry, RFC 7372 for 5.7.20-5.7.27), then the stage, then a last
 * pattern of policy words.  Does not own what happens next: the queue
 * turns a verdict into a bounce, a suppression or a stopped run, the
 * bounce parser (engine/bounce.h) into a bounce's class.
 *
 * Thread safety: the compiled patterns are shared and never written
 * after pthread_once (the last pattern) and rules_init (the table); each
 * call has its own match data.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "rules.h"
#include "rules_fix.h"

/*
 * Only the first REPLY_TEXT_MAX bytes of a text are matched: smtp.c keeps
 * 255, a DSN's Diagnostic-Code may be longer, and every cause the table
 * knows is named in a reply's first lines.  Bounds the matching time on a
 * hostile text.
 */
#define REPLY_TEXT_MAX 1024

#define S REPLY_FAULT_SENDER
#define M REPLY_FAULT_MESSAGE
#define R REPLY_FAULT_RECIPIENT

/* The verdicts that more than one rule gives. */
static const struct reply_verdict v_sender_addr = {
    S, "", "sender address refused", FIX_SENDER, 1, NULL};
static const struct reply_verdict v_mail = {
    S, "", "sender refused by the relay", FIX_MAIL, 0, NULL};
static const struct reply_verdict v_data = {
    M, "", "message refused after DATA", FIX_CONTENT, 0, NULL};
static const struct reply_verdict v_soft = {R,    "soft", "refused",
                                            NULL, 0,      NULL};
static const struct reply_verdict v_blocked = {
    R, "blocked", "refused by the recipient's policy", NULL, 0, NULL};

/*
 * queue_classify()'s words for a recipient's policy, tried last: only
 * when neither the table, the status nor the stage decided.
 */
static const char reply_late_pattern[] =
    "spam|block|black ?list|reputation|policy|rejected due to|listed|"
    "refused|denied|prohibited|not (?:allowed|accepted|authori[sz]ed)";

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
        hard_addr = {R, "hard", "no such recipient", NULL, 0, NULL},
        hard_dest = {R, "hard", "no such destination", NULL, 0, NULL},
        hard_off = {R, "hard", "mailbox disabled", NULL, 0, NULL},
        soft_full = {R, "soft", "mailbox full", NULL, 0, NULL},
        soft_sys = {R, "soft", "recipient's system unavailable", NULL, 0, NULL},
        s_proto = {S, "", "protocol error", FIX_PROTOCOL, 0, NULL},
        s_dkim = {S,        "", "DKIM fails for the sender's domain",
                  FIX_DKIM, 1,  NULL},
        s_spf = {S, "", "SPF fails for the sender's domain", FIX_SPF, 1, NULL},
        s_rdns = {S, "", "client reverse DNS fails", FIX_CLIENT, 0, NULL},
        s_dmarc = {S,         "", "DMARC fails for the sender's domain",
                   FIX_DMARC, 1,  NULL},
        s_auth = {S,        "", "authentication required or refused",
                  FIX_AUTH, 1,  NULL},
        s_tls = {S, "", "TLS required", FIX_TLS, 1, NULL},
        s_acct = {S, "", "relay account disabled", FIX_ACCOUNT, 0, NULL},
        m_size = {M, "", "message too large", FIX_SIZE, 0, NULL},
        m_form = {M, "", "message content refused", FIX_CONTENT, 0, NULL},
        m_policy = {M, "", "message refused by policy", FIX_CONTENT, 0, NULL};
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
    const struct rule *rule;
    struct reply_verdict ruled;
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
        if ((rule = rules_match(text, n)) != NULL) {
            ruled.fault = (enum reply_fault)rule->fault;
            ruled.bounce_class = rule->bounce_class;
            ruled.why = rule->why;
            ruled.fix = rule->fix;
            ruled.config = rule->config;
            ruled.status = rule->status;
            r = &ruled;
        }
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
