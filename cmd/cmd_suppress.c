/* SPDX-License-Identifier: ISC */
/*
 * cmd_suppress.c - campaign optout, suppress import, suppress list,
 * suppress lift.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../engine/digest.h"
#include "../engine/log.h"
#include "../engine/suppress.h"
#include "cmd.h"

int cmd_parse_delimiter(const char *s, char *out);

static const char *
reason_arg(const char *s)
{
    const char *r = suppress_reason_parse(s, strlen(s));

    if (r == NULL)
        log_warnx("--reason: unsubscribed, bounced, complained or manual "
                  "(got \"%s\")",
                  s);
    return r;
}

/* reason_opts - the options of optout and suppress lift (--reason,
 * --help) for command name; -1 to go on with *reason set (or left as it
 * was), else the exit code. */
static int
reason_opts(const char *name, int argc, char **argv, const char **reason)
{
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if ((*reason = reason_arg(optarg)) == NULL)
                return EX_USAGE;
            break;
        case 'h':
            return cmd_usage(name, stdout, 0);
        default:
            return cmd_usage(name, stderr, EX_USAGE);
        }
    }
    if (optind >= argc || *reason == NULL)
        return cmd_usage(name, stderr, EX_USAGE);
    return -1;
}

int
cmd_optout(struct ctx *ctx, int argc, char **argv)
{
    const char *reason = "unsubscribed";
    struct suppress_counts cnt;
    struct store *st;
    struct err e;
    int code = 0;

    if ((code = reason_opts("optout", argc, argv, &reason)) != -1)
        return code;
    code = 0;
    if ((st = cmd_open(ctx, &code)) == NULL)
        return code;
    err_clear(&e);
    if (suppress_emails(st, argv + optind, (size_t)(argc - optind), reason,
                        "manual", &cnt, &e) == -1)
        code = cmd_fail(&e);
    else
        printf("suppressed %ld, already suppressed %ld\n", cnt.added,
               cnt.already);
    store_close(st);
    return code;
}

int
cmd_suppress_import(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        {"delimiter", required_argument, NULL, 'd'},
        {"encoding", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *reason = "manual";
    struct csvread_params csv = {0, CSV_ENC_UTF8};
    struct suppress_counts cnt;
    struct store *st;
    struct err e;
    int c, code = 0;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if ((reason = reason_arg(optarg)) == NULL)
                return EX_USAGE;
            break;
        case 'd':
            if (cmd_parse_delimiter(optarg, &csv.delimiter) == -1)
                return cmd_usage("suppress import", stderr, EX_USAGE);
            break;
        case 'e':
            if (csv_encoding_parse(optarg, &csv.encoding) == -1)
                return cmd_usage("suppress import", stderr, EX_USAGE);
            break;
        case 'h':
            return cmd_usage("suppress import", stdout, 0);
        default:
            return cmd_usage("suppress import", stderr, EX_USAGE);
        }
    }
    if (optind + 1 != argc)
        return cmd_usage("suppress import", stderr, EX_USAGE);
    if ((st = cmd_open(ctx, &code)) == NULL)
        return code;
    err_clear(&e);
    if (suppress_import(st, argv[optind], &csv, reason, &cnt, &e) == -1)
        code = cmd_fail(&e);
    else
        printf("suppressed %ld, already suppressed %ld, rejected %ld\n",
               cnt.added, cnt.already, cnt.rejected);
    store_close(st);
    return code;
}

struct sup_out {
    int csv;
    long n;
};

static int
sup_row(const struct store_suppression *s, void *arg)
{
    struct sup_out *o = arg;
    char t[40], hex[2 * DIGEST_LEN + 1];
    const char *who;

    cmd_time(s->created_at, t, sizeof t);
    digest_hex(s->hash, hex);
    who = s->email ? s->email : hex;
    if (o->csv) {
        if (o->n == 0)
            printf("email,hash,reason,source,created_at,reply\r\n");
        cmd_csv_cell(stdout, s->email ? s->email : "");
        printf(",%s,%s,", hex, s->reason);
        cmd_csv_cell(stdout, s->source);
        printf(",%s,", t);
        cmd_csv_cell(stdout, s->reply ? s->reply : "");
        printf("\r\n");
    } else {
        if (o->n == 0)
            printf("%-40s %-13s %-24s %-23s %s\n",
                   "EMAIL (or hash if forgotten)", "REASON", "SOURCE", "SINCE",
                   "LAST REPLY");
        printf("%-40s %-13s %-24s %-23s %s\n", who, s->reason, s->source, t,
               s->reply ? s->reply : "-");
    }
    o->n++;
    return 0;
}

int
cmd_suppress_list(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"source", required_argument, NULL, 's'},
        {"reason", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct sup_out o = {0, 0};
    const char *source = NULL, *reason = NULL;
    struct store *st;
    struct err e;
    int c, code = 0;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "csv") == 0)
                o.csv = 1;
            else if (strcmp(optarg, "text") != 0 &&
                     strcmp(optarg, "table") != 0)
                return cmd_usage("suppress list", stderr, EX_USAGE);
            break;
        case 's':
            source = optarg;
            break;
        case 'r':
            /* forgotten too: a listing may ask for it */
            if (strcmp(optarg, "forgotten") == 0)
                reason = "forgotten";
            else if ((reason = suppress_reason_parse(optarg, strlen(optarg))) ==
                     NULL) {
                log_warnx("--reason: unsubscribed, bounced, complained, "
                          "manual or forgotten (got \"%s\")",
                          optarg);
                return EX_USAGE;
            }
            break;
        case 'h':
            return cmd_usage("suppress list", stdout, 0);
        default:
            return cmd_usage("suppress list", stderr, EX_USAGE);
        }
    }
    if (optind != argc)
        return cmd_usage("suppress list", stderr, EX_USAGE);
    if ((st = cmd_open(ctx, &code)) == NULL)
        return code;
    err_clear(&e);
    if (store_suppressions(st, source, reason, sup_row, &o, &e) == -1)
        code = cmd_fail(&e);
    else if (o.n == 0 && !o.csv)
        printf(source || reason ? "no such suppression\n"
                                : "the suppression list is empty\n");
    store_close(st);
    return code;
}

int
cmd_suppress_lift(struct ctx *ctx, int argc, char **argv)
{
    const char *reason = NULL;
    struct store *st;
    struct err e;
    int code;

    if ((code = reason_opts("suppress lift", argc, argv, &reason)) != -1)
        return code;
    code = 0;
    if ((st = cmd_open(ctx, &code)) == NULL)
        return code;
    err_clear(&e);
    if (suppress_lift(st, argv + optind, (size_t)(argc - optind), reason, &e) ==
        -1)
        code = cmd_fail(&e);
    else
        printf("lifted %d\n", argc - optind);
    store_close(st);
    return code;
}
