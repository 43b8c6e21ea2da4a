/* SPDX-License-Identifier: ISC */
/*
 * cmd_templates.c - campaign templates: each template with its subject
 * and the fields it uses.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../engine/log.h"
#include "../engine/tmpl.h"
#include "cmd.h"

struct listing {
    struct ctx *ctx;
    int n;
    int bad;
};

static void
field(const char *name, int required, void *arg)
{
    int *first = arg;

    printf("%s%s%s", *first ? "" : ", ", name, required ? "" : "?");
    *first = 0;
}

static void
missing(const char *msg, void *arg)
{
    (void)arg;
    log_warnx("%s", msg);
}

static void
one(const char *name, void *arg)
{
    struct listing *l = arg;
    struct err e;
    struct tmpl *t;
    int first = 1;

    err_clear(&e);
    if ((t = tmpl_load(l->ctx->templates_dir, name, &e)) == NULL) {
        log_warnx("%s", e.msg);
        l->bad++;
        return;
    }
    printf("%s\n  subject: %s\n", name, t->subject_src);
    if (t->layout)
        printf("  layout:  %s\n", t->layout);
    printf("  text:    %s\n",
           t->text_path ? t->text_path : "derived from the HTML");
    printf("  fields:  ");
    tmpl_fields(t, field, &first);
    printf("%s\n", first ? "(none)" : "");
    /* a missing partial would drop what it holds (the unsubscribe link
     * of a footer) from every message: an error, as at preview and send */
    if (tmpl_missing(t, missing, NULL) > 0) {
        printf("  error:   a partial it names has no file (named on stderr)\n");
        l->bad++;
    } else {
        l->n++;
    }
    tmpl_free(t);
}

int
cmd_templates(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct listing l = {ctx, 0, 0};
    struct err e;
    int c;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return cmd_usage("templates", stdout, 0);
        return cmd_usage("templates", stderr, EX_USAGE);
    }
    if (optind != argc)
        return cmd_usage("templates", stderr, EX_USAGE);
    err_clear(&e);
    if (tmpl_names(ctx->templates_dir, one, &l, &e) == -1)
        return cmd_fail(&e);
    if (l.n + l.bad == 0)
        printf("no templates in %s\n", ctx->templates_dir);
    else if (l.n + l.bad > 0)
        printf("\nfields marked ? have a fallback (used only in sections)\n");
    return l.bad ? EX_DATAERR : 0;
}
