/* SPDX-License-Identifier: ISC */
/*
 * mailjob.c - load what composing needs (see mailjob.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/log.h"
#include "../engine/xalloc.h"
#include "mailjob.h"

char *
mailjob_secret_path(const struct ctx *ctx, const struct config *cfg)
{
    if (cfg && cfg->tracking.secret_file)
        return xstrdup(cfg->tracking.secret_file);
    return xasprintf("%s.secret", ctx->db_path);
}

int
mailjob_open(struct ctx *ctx, const char *name, const char *data_path,
             struct mailjob *j, struct err *e)
{
    struct stat sb;
    json_error_t jerr;

    memset(j, 0, sizeof *j);
    if (cmd_config_load(ctx, &j->cfg, e) == -1)
        return -1;
    if ((j->tmpl = tmpl_load(ctx->templates_dir, name, e)) == NULL)
        return -1;
    if (data_path != NULL) {
        j->data_path = xstrdup(data_path);
    } else {
        char *p = xasprintf("%s/%s.json", ctx->templates_dir, name);
        if (stat(p, &sb) == 0)
            j->data_path = p;
        else
            free(p);
    }
    if (j->data_path != NULL) {
        j->data = json_load_file(j->data_path, JSON_REJECT_DUPLICATES, &jerr);
        if (j->data == NULL)
            return err_set(
                e, access(j->data_path, R_OK) == 0 ? EX_DATAERR : EX_NOINPUT,
                "%s:%d:%d: %s", j->data_path, jerr.line, jerr.column,
                jerr.text);
        if (!json_is_object(j->data))
            return err_set(e, EX_DATAERR,
                           "%s: campaign data must be a JSON object",
                           j->data_path);
    }
    j->secret_path = mailjob_secret_path(ctx, &j->cfg);
    if (stat(j->secret_path, &sb) == 0) {
        if (track_secret_load(j->secret_path, &j->key, e) == -1)
            return -1;
        j->have_key = 1;
    } else if (j->cfg.tracking.base_url != NULL) {
        return err_set(e, EX_CONFIG,
                       "%s: no tracking secret (campaign init creates it)",
                       j->secret_path);
    }
    for (size_t i = 0; i < j->cfg.ndkim; i++) {
        const struct config_dkim *d = &j->cfg.dkim[i];
        j->dkim[i] = dkim_key_load(d->key_file, d->domain, d->selector, e);
        if (j->dkim[i] == NULL)
            return -1;
        j->ndkim++;
    }
    return 0;
}

void
mailjob_close(struct mailjob *j)
{
    for (size_t i = 0; i < j->ndkim; i++)
        dkim_key_free(j->dkim[i]);
    json_decref(j->data);
    tmpl_free(j->tmpl);
    free(j->data_path);
    free(j->secret_path);
    explicit_bzero(&j->key, sizeof j->key);
    config_free(&j->cfg);
}

void
mailjob_compose_params(struct mailjob *j, const char *campaign,
                       uint32_t campaign_id, const char *salt,
                       struct compose_params *cp)
{
    memset(cp, 0, sizeof *cp);
    cp->tmpl = j->tmpl;
    cp->data = j->data;
    cp->campaign = campaign;
    cp->campaign_id = campaign_id;
    cp->salt = salt;
    cp->sender = &j->cfg.sender;
    cp->tracking = &j->cfg.tracking;
    cp->key = j->have_key ? &j->key : NULL;
    cp->dkim = j->dkim;
    cp->ndkim = j->ndkim;
    cp->strict = 1;
}

int
mailjob_password(const char *who, const char *username, const char *env,
                 const char *file, char **out, struct err *e)
{
    *out = NULL;
    if (username == NULL)
        return 0;
    if (env) {
        const char *v = getenv(env);
        if (v == NULL || *v == '\0')
            return err_set(e, EX_CONFIG, "%s: $%s is not set (password_env)",
                           who, env);
        *out = xstrdup(v);
        return 0;
    }
    if (file) {
        struct stat sb;
        char buf[1024];
        FILE *f = fopen(file, "r");
        size_t n;
        if (f == NULL)
            return err_set(e, EX_CONFIG, "%s: %s", file, strerror(errno));
        if (fstat(fileno(f), &sb) == -1 || (sb.st_mode & 077) != 0) {
            fclose(f);
            return err_set(e, EX_CONFIG,
                           "%s: a password file must not be readable by "
                           "others (chmod 600 %s)",
                           file, file);
        }
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        *out = xstrdup(buf);
        explicit_bzero(buf, sizeof buf);
        return 0;
    }
    return err_set(e, EX_CONFIG,
                   "%s: username without password_env or password_file", who);
}

int
mailjob_relay_password(const struct config_relay *r, char **out, struct err *e)
{
    char who[300];

    snprintf(who, sizeof who, "relay %s", r->host);
    return mailjob_password(who, r->username, r->password_env, r->password_file,
                            out, e);
}

/*---- the check before a campaign records anything ----*/

/* problem - the entry for msg, a new one while there is room, or NULL */
static struct mailjob_problem *
problem(struct mailjob_check *k, const char *msg)
{
    struct mailjob_problem *p;

    for (size_t i = 0; i < k->nprob; i++)
        if (strcmp(k->prob[i].msg, msg) == 0)
            return &k->prob[i];
    if (k->nprob == MAILJOB_CHECK_PROBLEMS)
        return NULL;
    p = &k->prob[k->nprob++];
    memset(p, 0, sizeof *p);
    snprintf(p->msg, sizeof p->msg, "%s", msg);
    return p;
}

static void
partial_missing(const char *msg, void *arg)
{
    struct mailjob_check *k = arg;
    struct mailjob_problem *p = problem(k, msg);

    if (k->kind == 0)
        k->kind = EX_DATAERR;
    if (p != NULL)
        p->all = 1;
}

void
mailjob_check_init(struct mailjob_check *k, struct composer *comp,
                   const struct tmpl *t)
{
    memset(k, 0, sizeof *k);
    k->comp = comp;
    k->now = (int64_t)time(NULL);
    tmpl_missing(t, partial_missing, k);
}

int
mailjob_check_one(const struct store_member *m, void *arg)
{
    struct mailjob_check *k = arg;
    struct compose_contact ct;
    struct mailjob_problem *p;
    struct err e;
    const char *msg;
    size_t pl;
    char prefix[EMAIL_MAX + 16];

    if (m->status != NULL && strcmp(m->status, "active") != 0)
        return 0;
    if (k->limit > 0 && k->checked >= k->limit) {
        k->more = 1;
        return 1;
    }
    k->checked++;
    if (email_smtputf8(m->email) && k->smtputf8++ == 0)
        snprintf(k->smtputf8_example, sizeof k->smtputf8_example, "%s",
                 m->email);
    ct.id = (uint64_t)m->id;
    ct.email = m->email;
    ct.attrs = m->attrs ? m->attrs : "{}";
    ct.message_id = NULL;
    err_clear(&e);
    if (composer_check(k->comp, &ct, k->now, &e) == 0)
        return 0;
    k->failed++;
    if (k->kind == 0)
        k->kind = e.kind ? e.kind : EX_DATAERR;
    /* the problem is the message without the contact it names */
    msg = e.msg;
    pl = (size_t)snprintf(prefix, sizeof prefix, "contact %s: ", m->email);
    if (pl < sizeof prefix && strncmp(msg, prefix, pl) == 0)
        msg += pl;
    if ((p = problem(k, msg)) == NULL) {
        k->unnamed++;
        return 0;
    }
    if (p->count < MAILJOB_CHECK_EXAMPLES)
        snprintf(p->example[p->count], sizeof p->example[0], "%s", m->email);
    p->count++;
    return 0;
}

int
mailjob_check_report(const struct mailjob_check *k)
{
    char who[MAILJOB_CHECK_EXAMPLES * (EMAIL_MAX + 2) + 64];

    mailjob_smtputf8_note(k->smtputf8, k->more, k->smtputf8_example);
    for (size_t i = 0; i < k->nprob; i++) {
        const struct mailjob_problem *p = &k->prob[i];
        size_t n = 0;
        long shown = p->count < MAILJOB_CHECK_EXAMPLES ? p->count
                                                       : MAILJOB_CHECK_EXAMPLES;

        if (p->all) {
            log_warnx("%s: every recipient", p->msg);
            continue;
        }
        who[0] = '\0';
        for (long x = 0; x < shown; x++)
            n += (size_t)snprintf(who + n, sizeof who - n, "%s%s",
                                  x ? ", " : "", p->example[x]);
        if (p->count > shown)
            snprintf(who + n, sizeof who - n, " and %ld more",
                     p->count - shown);
        log_warnx("%s: %ld recipient%s (%s)", p->msg, p->count,
                  p->count == 1 ? "" : "s", who);
    }
    if (k->unnamed > 0)
        log_warnx("and %ld more recipients whose message cannot be built "
                  "for other reasons",
                  k->unnamed);
    return k->nprob > 0 || k->unnamed > 0 ? (k->kind ? k->kind : EX_DATAERR)
                                          : 0;
}

void
mailjob_smtputf8_note(long n, int more, const char *example)
{
    if (n <= 0)
        return;
    log_warnx("note: %s%ld recipient%s SMTPUTF8 (a UTF-8 address, e.g. %s): "
              "sent only through a relay that offers it (RFC 6531), held "
              "otherwise - campaign doctor says whether yours does",
              more ? "at least " : "", n, n == 1 ? " needs" : "s need",
              example);
}

int
mailjob_aligned(const char *from, const char *d)
{
    size_t fl = strlen(from), dl = strlen(d);

    return strcasecmp(from, d) == 0 || (fl > dl && from[fl - dl - 1] == '.' &&
                                        strcasecmp(from + fl - dl, d) == 0);
}

void
mailjob_dmarc_warn(const struct mailjob *j, const char *from)
{
    if (from == NULL || *from == '\0' || j->cfg.ndkim == 0)
        return;
    for (size_t i = 0; i < j->cfg.ndkim; i++)
        if (mailjob_aligned(from, j->cfg.dkim[i].domain))
            return;
    log_warnx("warning: the From domain %s is not aligned with any [dkim] "
              "domain (d=%s%s): DMARC fails unless SPF aligns - sign with a "
              "key of %s or send From that domain",
              from, j->cfg.dkim[0].domain, j->cfg.ndkim > 1 ? ", ..." : "",
              from);
}
