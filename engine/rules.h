/* SPDX-License-Identifier: ISC */
/*
 * rules.h - the rule table: what the text of a refusal means.
 *
 * Owns engine/classify.rules (embedded in the binary at build time) and
 * the user's own rules file ([bounces] rules), parsed and compiled once
 * per process into PCRE2 patterns with match limits, and read-only
 * afterwards.  The SMTP replies `send` sees (engine/reply.h) and the
 * diagnostics of the bounces that come back (engine/bounce.h) both go
 * through rules_match: a text means the same thing in both.  The format
 * is described at the top of engine/classify.rules.
 *
 * Thread safety: rules_init must run before any thread matches (the
 * commands call it after loading the configuration); without it the
 * first rules_match compiles the shipped table alone, once.
 */
#ifndef CAMPAIGN_RULES_H
#define CAMPAIGN_RULES_H

#include <stddef.h>

#include "err.h"

/* whose fault a rule's text names; the values of enum reply_fault */
enum rule_fault {
    RULE_RECIPIENT = 0,
    RULE_MESSAGE = 1,
    RULE_SENDER = 2,
};

struct rule {
    enum rule_fault fault;
    const char *bounce_class; /* recipient: "hard", "soft", "blocked"; "" */
    const char *key;          /* KEY of sender.KEY, message.KEY; "" */
    const char *why;          /* the rule's words */
    const char *fix;          /* ours and the message's: what to change */
    int config;               /* 1: our configuration (EX_CONFIG) */
    char status[12];          /* the status a bounce gets, "" if none */
    const char *file;         /* where the rule is: the user's file or */
    int line;                 /* "classify.rules", and its line */
};

/* Only the first RULES_TEXT_MAX bytes of a text are matched. */
#define RULES_TEXT_MAX 1024

/*
 * rules_init - compile the user's rules (path; NULL or "" for none)
 * ahead of the shipped ones.  Errors: EX_NOINPUT when the file cannot be read;
 * EX_CONFIG with "path:line: ..." for a bad verdict or a pattern that does not
 * compile (with PCRE2's message and the offset); the table in use is
 * then unchanged.  Each call with a path reads it again.
 */
int rules_init(const char *path, struct err *e);

/* rules_match - the first rule whose pattern matches the first
 * RULES_TEXT_MAX bytes of text (n bytes), or NULL. */
const struct rule *rules_match(const char *text, size_t n);

/* rules_shipped - the text of engine/classify.rules */
const char *rules_shipped(void);

#endif
