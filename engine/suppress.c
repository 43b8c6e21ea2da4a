/* SPDX-License-Identifier: ISC */
/*
 * suppress.c - opt-outs, suppression lists and forgetting (suppress.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "csv_import.h"
#include "digest.h"
#include "email.h"
#include "log.h"
#include "suppress.h"

const char *
suppress_reason_parse(const char *word, size_t n)
{
    static const struct {
        const char *word;
        const char *reason;
    } words[] = {
        {"unsubscribed", "unsubscribed"}, {"unsubscribe", "unsubscribed"},
        {"unsub", "unsubscribed"},        {"optout", "unsubscribed"},
        {"opt-out", "unsubscribed"},      {"opted_out", "unsubscribed"},
        {"blocklisted", "unsubscribed"},  {"blacklisted", "unsubscribed"},
        {"bounced", "bounced"},           {"bounce", "bounced"},
        {"hard_bounce", "bounced"},       {"hardbounce", "bounced"},
        {"cleaned", "bounced"},           {"complained", "complained"},
        {"complaint", "complained"},      {"spam", "complained"},
        {"abuse", "complained"},          {"manual", "manual"},
        {"suppressed", "manual"},
    };

    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i].word) == n &&
            strncasecmp(word, words[i].word, n) == 0)
            return words[i].reason;
    return NULL;
}

int
suppress_hashes(struct store *st, const char *email, uint8_t hash[DIGEST_LEN],
                uint8_t legacy[DIGEST_LEN])
{
    char alabel[EMAIL_MAX + 1];

    digest_email(store_hash_salt(st), email, hash);
    if (!email_alabel_form(email, alabel))
        return 0;
    digest_email(store_hash_salt(st), alabel, legacy);
    return 1;
}

int
suppress_lookup(struct store *st, const char *email, store_suppression_cb cb,
                void *arg, struct err *e)
{
    uint8_t hash[DIGEST_LEN], legacy[DIGEST_LEN];
    int has_legacy = suppress_hashes(st, email, hash, legacy), rc;

    rc = store_suppression_get(st, hash, cb, arg, e);
    if (rc != 0 || !has_legacy)
        return rc;
    return store_suppression_get(st, legacy, cb, arg, e);
}

/* fold_legacy - inside a write transaction: a suppression of the
 * address's A-label form (an older release's, or an erased person's
 * hash-only row) becomes the canonical form's (hash), so that what
 * follows finds one row.  0 or -1. */
static int
fold_legacy(struct store *st, const char *email, uint8_t hash[DIGEST_LEN],
            struct err *e)
{
    uint8_t legacy[DIGEST_LEN];

    if (!suppress_hashes(st, email, hash, legacy))
        return 0;
    return store_suppression_rekey(st, legacy, hash, email, e) == -1 ? -1 : 0;
}

/* suppress_one - one validated address; counts the outcome. */
static int
suppress_one(struct store *st, const char *email, const char *reason,
             const char *source, int64_t now, struct suppress_counts *c,
             struct err *e)
{
    uint8_t hash[DIGEST_LEN];
    struct store_suppression s;
    int rc;

    if (fold_legacy(st, email, hash, e) == -1)
        return -1;
    s.hash = hash;
    s.email = email;
    s.reason = reason;
    s.source = source;
    s.created_at = now;
    if ((rc = store_suppress(st, &s, e)) == -1)
        return -1;
    if (rc == 1)
        c->added++;
    else
        c->already++;
    return 0;
}

int
suppress_emails(struct store *st, char *const *emails, size_t n,
                const char *reason, const char *source,
                struct suppress_counts *c, struct err *e)
{
    char norm[EMAIL_MAX + 1];
    const char *why;
    int64_t now = (int64_t)time(NULL);

    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < n; i++) {
        if (email_normalize(emails[i], strlen(emails[i]), norm, &why) == -1) {
            char pr[80];
            log_printable(pr, sizeof pr, emails[i], strlen(emails[i]));
            return err_set(e, EX_DATAERR, "\"%s\": %s", pr, why);
        }
    }
    if (store_begin(st, e) == -1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        email_normalize(emails[i], strlen(emails[i]), norm, &why);
        if (suppress_one(st, norm, reason, source, now, c, e) == -1) {
            store_rollback(st);
            return -1;
        }
    }
    return store_commit(st, e);
}

/* comment - a line that starts with '#' (after blanks) and is not an
 * address ('#' may begin a local part): exports and hand-kept lists carry
 * them */
static int
comment(const struct csv_record *rec)
{
    char norm[EMAIL_MAX + 1];
    const char *why;
    size_t i = 0;

    if (rec->nfields == 0)
        return 0;
    while (i < rec->len[0] &&
           (rec->field[0][i] == ' ' || rec->field[0][i] == '\t'))
        i++;
    return i < rec->len[0] && rec->field[0][i] == '#' &&
           email_normalize(rec->field[0], rec->len[0], norm, &why) == -1;
}

int
suppress_import(struct store *st, const char *path,
                const struct csvread_params *csv, const char *reason,
                struct suppress_counts *c, struct err *e)
{
    struct csvread *rd;
    const struct csv_record *rec;
    char norm[EMAIL_MAX + 1], name[ATTR_NAME_MAX + 1], source[300];
    const char *why;
    size_t email_col = 0, reason_col = (size_t)-1;
    int rc, headerless = 0, found = 0, in_tx = 0;
    int64_t now = (int64_t)time(NULL);

    memset(c, 0, sizeof *c);
    snprintf(source, sizeof source, "suppress:%s", path);
    if ((rd = csvread_open(path, csv, e)) == NULL)
        return -1;
    /* comment lines ("# exported from ...") before the first line */
    while ((rc = csvread_next(rd, &rec, e)) == 1 && comment(rec))
        ;
    if (rc <= 0) {
        if (rc == 0)
            err_set(e, EX_DATAERR, "%s:1: empty file", path);
        goto fail;
    }
    /* a first line that is an address means a plain list, no header */
    if (rec->nfields >= 1 &&
        email_normalize(rec->field[0], rec->len[0], norm, &why) >= 0) {
        headerless = 1;
    } else {
        for (size_t i = 0; i < rec->nfields; i++) {
            import_attr_name(rec->field[i], rec->len[i], name, sizeof name);
            if (!found && import_is_email_header(name)) {
                email_col = i;
                found = 1;
            } else if (strcmp(name, "reason") == 0) {
                reason_col = i;
            }
        }
        if (!found) {
            err_set(e, EX_DATAERR,
                    "%s:%lu: neither an email column in the header nor an "
                    "address on the first line",
                    path, rec->line);
            goto fail;
        }
    }
    if (store_begin(st, e) == -1)
        goto fail;
    in_tx = 1;
    do {
        const char *r = reason;
        if (headerless) {
            headerless = 0; /* the first line is data: fall through once */
        } else if ((rc = csvread_next(rd, &rec, e)) != 1) {
            if (rc == -1)
                goto fail;
            break;
        }
        if (comment(rec))
            continue;
        if (email_col >= rec->nfields ||
            email_normalize(rec->field[email_col], rec->len[email_col], norm,
                            &why) == -1) {
            if (email_col >= rec->nfields)
                why = "no email field";
            log_warnx("%s:%lu: %s", path, rec->line, why);
            c->rejected++;
            continue;
        }
        if (reason_col < rec->nfields && rec->len[reason_col] > 0) {
            r = suppress_reason_parse(rec->field[reason_col],
                                      rec->len[reason_col]);
            if (r == NULL) {
                log_warnx("%s:%lu: unknown reason \"%.40s\" (use "
                          "unsubscribed, bounced, complained or manual)",
                          path, rec->line, rec->field[reason_col]);
                c->rejected++;
                continue;
            }
        }
        if (suppress_one(st, norm, r, source, now, c, e) == -1)
            goto fail;
    } while (1);
    csvread_free(rd);
    return store_commit(st, e);
fail:
    if (in_tx)
        store_rollback(st);
    csvread_free(rd);
    return -1;
}

int
suppress_forget(struct store *st, const char *email, struct err *e)
{
    char norm[EMAIL_MAX + 1];
    const char *why;
    uint8_t hash[DIGEST_LEN];
    int rc;

    if (email_normalize(email, strlen(email), norm, &why) == -1) {
        char pr[80];
        log_printable(pr, sizeof pr, email, strlen(email));
        return err_set(e, EX_DATAERR, "\"%s\": %s", pr, why);
    }
    if (store_begin(st, e) == -1)
        return -1;
    if (fold_legacy(st, norm, hash, e) == -1) {
        store_rollback(st);
        return -1;
    }
    rc = store_contact_forget(st, norm, hash, (int64_t)time(NULL), e);
    if (rc == -1) {
        store_rollback(st);
        return -1;
    }
    if (store_commit(st, e) == -1)
        return -1;
    /* the old pages (the address, the reply text, the Message-ID, the IP)
     * may still be in the WAL and, until copied back, in the database
     * file: copy them back and empty the WAL now, not at the next
     * checkpoint (secure_delete overwrites what the copy frees) */
    if (store_checkpoint_truncate(st) == -1)
        log_warnx("forget: the write-ahead log could not be emptied now "
                  "(another process holds the database): old copies of "
                  "the erased data stay in it until its next checkpoint");
    return rc;
}

struct lift_check {
    char reason[32];
    uint8_t hash[DIGEST_LEN]; /* the row found: the canonical form's, or
                                 an older release's (suppress_lookup) */
    int found;
    int erased; /* a hash-only row: contacts forget */
};

static int
lift_cb(const struct store_suppression *sup, void *arg)
{
    struct lift_check *k = arg;

    k->found = 1;
    k->erased = sup->email == NULL;
    snprintf(k->reason, sizeof k->reason, "%s", sup->reason);
    memcpy(k->hash, sup->hash, DIGEST_LEN);
    return 0;
}

int
suppress_lift(struct store *st, char *const *emails, size_t n,
              const char *reason, struct err *e)
{
    char norm[EMAIL_MAX + 1];
    const char *why;
    int64_t now = (int64_t)time(NULL);

    if (strcmp(reason, "bounced") != 0 && strcmp(reason, "manual") != 0)
        return err_set(e, EX_USAGE,
                       "--reason %s: an unsubscribe or a complaint is the "
                       "person's own word and is never lifted (bounced or "
                       "manual only)",
                       reason);
    /* every address first: all or nothing */
    for (size_t i = 0; i < n; i++) {
        struct lift_check k;
        char pr[80];
        if (email_normalize(emails[i], strlen(emails[i]), norm, &why) == -1)
            return err_set(
                e, EX_DATAERR, "\"%s\": %s",
                log_printable(pr, sizeof pr, emails[i], strlen(emails[i])),
                why);
        memset(&k, 0, sizeof k);
        if (suppress_lookup(st, norm, lift_cb, &k, e) == -1)
            return -1;
        if (!k.found)
            return err_set(e, EX_DATAERR, "%s is not suppressed", norm);
        /* forget keeps the first reason: a bounce may be an erasure */
        if (k.erased)
            return err_set(e, EX_DATAERR,
                           "%s was erased (contacts forget): its suppression "
                           "is never lifted; nothing lifted",
                           norm);
        if (strcmp(k.reason, reason) != 0)
            return err_set(e, EX_DATAERR,
                           "%s is suppressed as %s, not %s: nothing lifted%s",
                           norm, k.reason, reason,
                           strcmp(k.reason, "unsubscribed") == 0 ||
                                   strcmp(k.reason, "complained") == 0
                               ? " (the person's own word is never lifted)"
                               : "");
    }
    if (store_begin(st, e) == -1)
        return -1;
    /* each lifts the row its check saw */
    for (size_t i = 0; i < n; i++) {
        struct lift_check k;
        memset(&k, 0, sizeof k);
        email_normalize(emails[i], strlen(emails[i]), norm, &why);
        if (suppress_lookup(st, norm, lift_cb, &k, e) == -1 ||
            (k.found &&
             store_suppression_lift(st, k.hash, norm, reason, now, e) == -1)) {
            store_rollback(st);
            return -1;
        }
    }
    if (store_commit(st, e) == -1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        email_normalize(emails[i], strlen(emails[i]), norm, &why);
        log_info("suppression lifted: %s (was %s)", norm, reason);
    }
    return 0;
}
