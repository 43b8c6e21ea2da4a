/* SPDX-License-Identifier: ISC */
/*
 * cmd_preview.c - campaign preview: the complete message one contact
 * would receive (headers, MIME, DKIM), or its HTML or text part.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../engine/email.h"
#include "../engine/log.h"
#include "../engine/xalloc.h"
#include "mailjob.h"

struct picked {
    int found;
    int64_t id;
    char *email;
    char *attrs;
};

static int
pick(const struct store_contact *c, void *arg)
{
    struct picked *p = arg;

    p->found = 1;
    p->id = c->id;
    p->email = xstrdup(c->email);
    p->attrs = xstrdup(c->attrs);
    return 0;
}

int
cmd_preview(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"template", required_argument, NULL, 't'},
        {"to", required_argument, NULL, 'T'},
        {"format", required_argument, NULL, 'f'},
        {"data", required_argument, NULL, 'd'},
        {"campaign", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *template = NULL, *to = NULL, *format = "eml", *data = NULL;
    const char *campaign = NULL, *why;
    char email[EMAIL_MAX + 1];
    struct mailjob j;
    struct picked p = {0, 0, NULL, NULL};
    struct store *st = NULL;
    struct composer *comp = NULL;
    struct compose_params cp;
    struct compose_contact ct;
    struct compose_result res;
    struct buf out;
    struct err e;
    int64_t cid = 0;
    int c, code = 0, rc;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            template = optarg;
            break;
        case 'T':
            to = optarg;
            break;
        case 'f':
            format = optarg;
            if (strcmp(format, "eml") != 0 && strcmp(format, "html") != 0 &&
                strcmp(format, "text") != 0) {
                log_warnx("--format: eml, html or text (got \"%s\")", format);
                return EX_USAGE;
            }
            break;
        case 'd':
            data = optarg;
            break;
        case 'c':
            campaign = optarg;
            break;
        case 'h':
            return cmd_usage("preview", stdout, 0);
        default:
            return cmd_usage("preview", stderr, EX_USAGE);
        }
    }
    if (template == NULL || optind != argc)
        return cmd_usage("preview", stderr, EX_USAGE);
    if (campaign == NULL)
        campaign = template;
    err_clear(&e);
    buf_init(&out, 0);
    if (mailjob_open(ctx, template, data, &j, &e) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    if ((st = cmd_open(ctx, &code)) == NULL)
        goto out;
    if (to != NULL) {
        if (email_normalize(to, strlen(to), email, &why) == -1) {
            log_warnx("--to \"%s\": %s", to, why);
            code = EX_DATAERR;
            goto out;
        }
        rc = store_contact_get(st, email, pick, &p, &e);
    } else {
        rc = store_contact_first(st, pick, &p, &e);
    }
    if (rc == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    if (!p.found) {
        if (to)
            log_warnx("%s is not a contact (import it first)", email);
        else
            log_warnx("no active contact to preview with (import a list "
                      "first, or give --to)");
        code = EX_NOUSER;
        goto out;
    }
    if (store_campaign_find(st, campaign, &cid, &e) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    mailjob_compose_params(&j, campaign, (uint32_t)cid, store_hash_salt(st),
                           &cp);
    if ((comp = composer_new(&cp, &e)) == NULL) {
        code = cmd_fail(&e);
        goto out;
    }
    /* what send checks before it records anything, for this contact:
     * the same problems, in the same words */
    {
        struct mailjob_check k;
        struct store_member m = {p.id, p.email, p.attrs, NULL};
        mailjob_check_init(&k, comp, j.tmpl);
        mailjob_check_one(&m, &k);
        if ((code = mailjob_check_report(&k)) != 0)
            goto out;
    }
    ct.id = (uint64_t)p.id;
    ct.email = p.email;
    ct.attrs = p.attrs;
    ct.message_id = NULL;
    if (composer_build(comp, &ct, (int64_t)time(NULL), &out, &res, &e) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    if (strcmp(format, "eml") == 0) {
        fwrite(out.p, 1, out.len, stdout);
    } else {
        size_t n;
        const char *s = strcmp(format, "html") == 0
                            ? composer_last_html(comp, &n)
                            : composer_last_text(comp, &n);
        fwrite(s, 1, n, stdout);
    }
    if (cp.key == NULL || j.cfg.tracking.base_url == NULL)
        log_info("note: no [tracking] base_url: no one-click unsubscribe "
                 "(RFC 8058), which Gmail and Yahoo require of bulk senders");
    if (j.ndkim == 0)
        log_info("note: no [dkim] key: the message is not signed");
    mailjob_dmarc_warn(&j, composer_from_domain(comp));
out:
    composer_free(comp);
    if (j.tmpl != NULL || j.cfg.path != NULL)
        mailjob_close(&j);
    store_close(st);
    free(p.email);
    free(p.attrs);
    buf_free(&out);
    return code;
}
