/* SPDX-License-Identifier: ISC */
/*
 * cmd_control.c - campaign pause | resume | cancel NAME.  A running send
 * polls the campaign's control column every second: it stops handing out
 * messages, waits for the replies in flight, commits, and exits.  A
 * finished or cancelled campaign is left as it is.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../engine/log.h"
#include "cmd.h"

static int
status_cb(const struct store_campaign *c, void *arg)
{
    snprintf(arg, 16, "%s", c->status);
    return 0;
}

/*
 * control - request ctl (NULL: clear the request) and set the status.  A
 * campaign that is over stays over: a finished or cancelled campaign is
 * neither paused, resumed nor cancelled (a resume would send again what
 * `cancel` promised never to send).
 */
static int
control(struct ctx *ctx, int argc, char **argv, const char *name,
        const char *ctl, const char *status, const char *said)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct store *st;
    struct err e;
    char now[16] = "";
    int c, code = 0, rc;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return cmd_usage(name, stdout, 0);
        return cmd_usage(name, stderr, EX_USAGE);
    }
    if (optind + 1 != argc)
        return cmd_usage(name, stderr, EX_USAGE);
    if ((st = cmd_open(ctx, &code)) == NULL)
        return code;
    err_clear(&e);
    rc = store_campaign_get(st, argv[optind], status_cb, now, &e);
    if (rc == 1 &&
        (strcmp(now, "done") == 0 || strcmp(now, "cancelled") == 0)) {
        log_warnx("campaign %s is %s: nothing to %s", argv[optind],
                  strcmp(now, "done") == 0 ? "finished" : "cancelled", name);
        store_close(st);
        return EX_DATAERR;
    }
    if (rc == 1)
        rc = store_campaign_set_control(st, argv[optind], ctl, status, &e);
    if (rc == -1) {
        code = cmd_fail(&e);
    } else if (rc == 0) {
        log_warnx("no campaign \"%s\" (see campaign report)", argv[optind]);
        code = EX_DATAERR;
    } else {
        printf("campaign %s %s\n", argv[optind], said);
    }
    store_close(st);
    return code;
}

int
cmd_pause(struct ctx *ctx, int argc, char **argv)
{
    return control(ctx, argc, argv, "pause", "pause", "paused",
                   "paused: a running send stops within a second");
}

int
cmd_resume(struct ctx *ctx, int argc, char **argv)
{
    return control(ctx, argc, argv, "resume", NULL, "sending",
                   "resumed: run campaign send --campaign NAME to go on");
}

int
cmd_cancel(struct ctx *ctx, int argc, char **argv)
{
    return control(ctx, argc, argv, "cancel", "cancel", "cancelled",
                   "cancelled: nothing more will be sent");
}
