/* SPDX-License-Identifier: ISC */
/*
 * cmd_bounces.c - `campaign bounces parse|ingest|fetch|rules`: what comes
 * back to the VERP and unsubscribe addresses (engine/bounce.h reads a
 * message, engine/ingest.h records it, engine/fetch.h reads an IMAP
 * mailbox).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/bounce.h"
#include "../engine/config.h"
#include "../engine/log.h"
#include "../engine/rules.h"
#include "../engine/xalloc.h"
#include "cmd.h"

/*
 * read_message - at most BOUNCE_INPUT_MAX + 1 bytes of f (the parser
 * reads no more; the + 1 tells it the input was longer).  Returns a
 * malloc'd buffer, or NULL with errno set on a read error.
 */
static char *
read_message(FILE *f, size_t *len)
{
    size_t cap = 64 * 1024, n = 0;
    char *b = xmalloc(cap);

    for (;;) {
        size_t got;
        if (n == cap) {
            if (cap > BOUNCE_INPUT_MAX)
                break;
            cap *= 2;
            b = xrealloc(b, cap);
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(b);
        return NULL;
    }
    *len = n;
    return b;
}

/* json_str - s as a JSON string, or null when empty */
static json_t *
json_str(const char *s)
{
    return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

/* report_json - one element per recipient (one with a null recipient when
 * there is none) appended to arr */
static void
report_json(json_t *arr, const char *file, const struct bounce_report *r)
{
    size_t n = r->nrcpt ? r->nrcpt : 1;

    for (size_t i = 0; i < n; i++) {
        static const struct bounce_rcpt none = {.classification = "unknown",
                                                .reason = ""};
        const struct bounce_rcpt *c = r->nrcpt ? &r->rcpt[i] : &none;
        json_t *o = json_object();

        json_object_set_new(o, "file", json_string(file));
        json_object_set_new(o, "kind", json_string(bounce_kind_name(r->kind)));
        json_object_set_new(o, "recipient", json_str(c->recipient));
        json_object_set_new(o, "original_recipient", json_str(c->original));
        json_object_set_new(o, "action", json_str(c->action));
        json_object_set_new(o, "status", json_str(c->status));
        json_object_set_new(o, "status_derived",
                            json_boolean(c->status_derived));
        json_object_set_new(o, "reply_code",
                            c->reply_code ? json_integer(c->reply_code)
                                          : json_null());
        json_object_set_new(o, "diagnostic", json_str(c->diagnostic));
        json_object_set_new(o, "remote_mta", json_str(c->remote_mta));
        json_object_set_new(o, "classification",
                            json_string(c->classification));
        json_object_set_new(o, "reason",
                            json_string(c->reason ? c->reason : ""));
        json_object_set_new(o, "message_id", json_str(r->message_id));
        json_object_set_new(o, "feedback_type", json_str(r->feedback_type));
        json_object_set_new(
            o, "token",
            json_boolean(r->verp[0] != '\0' || r->unsub[0] != '\0' ||
                         r->returned_verp[0] || r->returned_unsub[0]));
        json_object_set_new(o, "truncated", json_boolean(r->truncated));
        json_array_append_new(arr, o);
    }
}

/* report_text - one line per recipient */
static void
report_text(const char *file, const struct bounce_report *r)
{
    if (r->nrcpt == 0) {
        printf("%s: %s, no recipient found\n", cmd_safe(file),
               bounce_kind_name(r->kind));
        return;
    }
    for (size_t i = 0; i < r->nrcpt; i++) {
        const struct bounce_rcpt *c = &r->rcpt[i];
        printf("%s: %s %s %s", cmd_safe(file), bounce_kind_name(r->kind),
               c->classification,
               c->recipient[0] ? cmd_safe(c->recipient) : "(no recipient)");
        if (c->status[0])
            printf(" %s%s", c->status, c->status_derived ? "?" : "");
        if (c->reason && *c->reason)
            printf(" (%s)", cmd_safe(c->reason));
        if (c->diagnostic[0])
            printf(": %s", cmd_safe(c->diagnostic));
        putchar('\n');
    }
}

/* rules_from_config - the user's rules of [bounces] rules, if any */
static int
rules_from_config(struct ctx *ctx, struct err *e)
{
    struct config cfg;
    int rc;

    if (cmd_config_load(ctx, &cfg, e) == -1)
        return -1;
    rc = rules_init(cfg.bounces.rules, e);
    config_free(&cfg);
    return rc;
}

int
cmd_bounces_parse(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct bounce_report *r;
    struct bounce_opts bo = {NULL};
    struct err e;
    json_t *arr = NULL;
    int c, json = 0, code = 0;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'h')
            return cmd_usage("bounces parse", stdout, 0);
        else
            return cmd_usage("bounces parse", stderr, EX_USAGE);
    }
    if (optind >= argc)
        return cmd_usage("bounces parse", stderr, EX_USAGE);
    err_clear(&e);
    if (rules_from_config(ctx, &e) == -1)
        return cmd_fail(&e);
    r = xmalloc(sizeof *r);
    if (json)
        arr = json_array();
    for (int i = optind; i < argc; i++) {
        FILE *f = strcmp(argv[i], "-") == 0 ? stdin : fopen(argv[i], "rb");
        char *buf;
        size_t len;

        if (f == NULL) {
            log_warnx("%s: %s", argv[i], strerror(errno));
            code = EX_NOINPUT;
            continue;
        }
        buf = read_message(f, &len);
        if (buf == NULL) {
            log_warnx("%s: read error: %s", argv[i], strerror(errno));
            code = EX_IOERR;
        }
        if (f != stdin)
            fclose(f);
        if (buf == NULL)
            continue;
        err_clear(&e);
        if (bounce_parse(buf, len, &bo, r, &e) == -1) {
            free(buf);
            code = cmd_fail(&e);
            break;
        }
        free(buf);
        if (json)
            report_json(arr, argv[i], r);
        else
            report_text(argv[i], r);
    }
    if (json) {
        json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        putchar('\n');
        json_decref(arr);
    }
    free(r);
    if (fflush(stdout) == EOF && code == 0)
        code = EX_IOERR;
    return code;
}

int
cmd_bounces_rules(struct ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    if (argc > 1)
        return cmd_usage("bounces rules",
                         strcmp(argv[1], "--help") == 0 ? stdout : stderr,
                         strcmp(argv[1], "--help") == 0 ? 0 : EX_USAGE);
    fputs(rules_shipped(), stdout);
    return fflush(stdout) == EOF ? EX_IOERR : 0;
}
