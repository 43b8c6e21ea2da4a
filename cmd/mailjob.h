/* SPDX-License-Identifier: ISC */
/*
 * mailjob.h - what preview and send load before composing: the
 * configuration, the template, the campaign data, the tracking secret and
 * the DKIM keys.  Glue for cmd/ only.
 */
#ifndef CAMPAIGN_MAILJOB_H
#define CAMPAIGN_MAILJOB_H

#include <jansson.h>

#include "../engine/compose.h"
#include "../engine/config.h"
#include "../engine/dkim.h"
#include "../engine/email.h"
#include "../engine/tmpl.h"
#include "../engine/track.h"
#include "cmd.h"

struct mailjob {
    struct config cfg;
    struct tmpl *tmpl;
    json_t *data;
    char *data_path; /* NULL when there is none */
    struct track_key key;
    int have_key;
    struct dkim_key *dkim[CONFIG_DKIM_MAX];
    size_t ndkim;
    char *secret_path;
};

/*
 * mailjob_open - load everything for template `name`.  data_path NULL
 * means templates/NAME.json when it exists.  Errors with their exit code
 * in e->kind.
 */
int mailjob_open(struct ctx *ctx, const char *name, const char *data_path,
                 struct mailjob *j, struct err *e);
void mailjob_close(struct mailjob *j);

/*
 * mailjob_compose_params - the composer's parameters for this job and
 * campaign (strict: a missing field is an error).
 */
void mailjob_compose_params(struct mailjob *j, const char *campaign,
                            uint32_t campaign_id, const char *salt,
                            struct compose_params *cp);

/*
 * mailjob_relay_password - the relay's password (malloc'd; the caller
 * wipes it with freezero) from password_env or password_file, which must
 * not be readable by others; *out NULL when the relay has no username.
 * Errors: EX_CONFIG naming the variable or file.
 */
/* mailjob_password - the password of username (NULL: none needed, *out
 * NULL) from the environment variable env or the mode-0600 file, for who
 * ("relay HOST", "[bounces]") in errors; EX_CONFIG. */
int mailjob_password(const char *who, const char *username, const char *env,
                     const char *file, char **out, struct err *e);
int mailjob_relay_password(const struct config_relay *r, char **out,
                           struct err *e);

/* mailjob_secret_path - the tracking secret's path (malloc'd). */
char *mailjob_secret_path(const struct ctx *ctx, const struct config *cfg);

/* mailjob_aligned - the DKIM domain d is aligned with the From domain
 * from (DMARC relaxed alignment: the same domain, or from is a
 * subdomain of d). */
int mailjob_aligned(const char *from, const char *d);
/* mailjob_dmarc_warn - say on stderr when messages with From domain from
 * are signed by [dkim] keys none of which is aligned with it (DMARC
 * fails unless SPF aligns); nothing when there is no key or no domain. */
void mailjob_dmarc_warn(const struct mailjob *j, const char *from);

/*
 * struct mailjob_check - whether a template can be built for a set of
 * recipients, checked before a campaign records anything (send) and for
 * one contact (preview): each recipient's message is built without
 * signing (composer_check), and the problems are grouped by what is
 * wrong - "FILE:LINE:COL: field \"x\" is missing", a missing partial, a
 * header value with a line break - each with how many recipients it
 * affects and the first few of them.  Memory stays flat whatever the
 * number of recipients: at most MAILJOB_CHECK_PROBLEMS problems are
 * named (the recipients of others are counted), each with at most
 * MAILJOB_CHECK_EXAMPLES addresses.
 */
#define MAILJOB_CHECK_PROBLEMS 10
#define MAILJOB_CHECK_EXAMPLES 3

struct mailjob_check {
    struct composer *comp;
    int64_t now;
    long limit;    /* check at most this many (0: every one) */
    int more;      /* the limit stopped it: recipients are left unchecked */
    long checked;  /* mailable recipients checked */
    long failed;   /* of them, whose message cannot be built */
    long unnamed;  /* failed for a problem past MAILJOB_CHECK_PROBLEMS */
    int kind;      /* the first problem's exit code (EX_DATAERR mostly) */
    long smtputf8; /* of them, whose address needs SMTPUTF8 */
    char smtputf8_example[EMAIL_MAX + 1];
    size_t nprob;
    struct mailjob_problem {
        char msg[ERR_MSG_MAX];
        int all; /* the template's own (a missing partial): everyone */
        long count;
        char example[MAILJOB_CHECK_EXAMPLES][EMAIL_MAX + 1];
    } prob[MAILJOB_CHECK_PROBLEMS];
};

/* mailjob_check_init - a check with comp of the template t (its missing
 * partials are problems at once). */
void mailjob_check_init(struct mailjob_check *k, struct composer *comp,
                        const struct tmpl *t);
/* mailjob_check_one - check one recipient (a store_member_cb: members
 * not active are left out, as a send skips them).  Returns 0. */
int mailjob_check_one(const struct store_member *m, void *arg);
/* mailjob_check_report - say each problem on stderr, "MESSAGE: N
 * recipients (a@x, b@y and N-2 more)", and the recipients that need
 * SMTPUTF8 (mailjob_smtputf8_note); returns 0 when there is no problem,
 * else the exit code (k->kind). */
int mailjob_check_report(const struct mailjob_check *k);

/* mailjob_smtputf8_note - say on stderr that n recipients (at least n,
 * with more: a check that stopped at its limit; example one of them) have
 * a UTF-8 address, which only a relay offering SMTPUTF8 (RFC 6531) takes:
 * held otherwise.  Nothing when n is 0. */
void mailjob_smtputf8_note(long n, int more, const char *example);

#endif
