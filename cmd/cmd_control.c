/* SPDX-License-Identifier: ISC */
/*
 * cmd_control.c - campaign pause | resume | cancel NAME.  A running send
 * polls the campaign's control column every second: it stops handing out
 * messages, waits for the replies in flight, commits, and exits.  A
 * finished or cancelled campaign is left as it is.  `cancel` also moves
 * the recipients left to send (queued, deferred, uncertain owed a retry)
 * to `cancelled`, in the transaction that sets the control; when no send
 * is running (its lock is free), the rows a crashed send left `sending`
 * are settled first from its crash journal (queue_recover), so none is
 * left claimed in a cancelled campaign.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../engine/clock.h"
#include "../engine/log.h"
#include "../engine/queue.h"
#include "cmd.h"

struct now {
    int64_t id;
    char status[16];
};

static int
status_cb(const struct store_campaign *c, void *arg)
{
    struct now *n = arg;

    n->id = c->id;
    snprintf(n->status, sizeof n->status, "%s", c->status);
    return 0;
}

/* shell_word - s as one word a shell reads back as s */
static void
shell_word(const char *s)
{
    if (*s != '\0' &&
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                  "vwxyz0123456789._-/@%+=:,") == strlen(s)) {
        fputs(s, stdout);
        return;
    }
    putchar('\'');
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*s);
    putchar('\'');
}

/*
 * control - request ctl (NULL: clear the request) and set the status.  A
 * campaign that is over stays over: a finished or cancelled campaign is
 * neither paused, resumed nor cancelled (a resume would send again what
 * `cancel` promised never to send).  The check, the request and (for
 * cancel) the rows moved are one transaction.
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
    struct now now = {0, ""};
    long cancelled = 0, unfrozen = 0;
    int c, code = 0, rc, lock = -1, rebased = 0, resched = 0;
    int64_t cid, at = 0;

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
    if (ctl != NULL && strcmp(ctl, "cancel") == 0 &&
        store_campaign_find(st, argv[optind], &cid, &e) == 1 &&
        (lock = queue_lock(ctx->db_path, cid, &e)) != -1) {
        /* no send is running: what a crashed one left claimed is
         * settled before the rest is cancelled (it holds the lock until
         * the cancel is committed) */
        struct queue_recovered rec;
        if (queue_recover(st, ctx->db_path, cid, argv[optind], &rec, &e) ==
            -1) {
            code = cmd_fail(&e);
            queue_unlock(lock);
            store_close(st);
            return code;
        }
    }
    err_clear(&e);
    if (store_begin(st, &e) == -1) {
        code = cmd_fail(&e);
        store_close(st);
        return code;
    }
    rc = store_campaign_get(st, argv[optind], status_cb, &now, &e);
    if (rc == 1 && (strcmp(now.status, "done") == 0 ||
                    strcmp(now.status, "cancelled") == 0)) {
        store_rollback(st);
        log_warnx("campaign %s is %s: nothing to %s", argv[optind],
                  strcmp(now.status, "done") == 0 ? "finished" : "cancelled",
                  name);
        queue_unlock(lock);
        store_close(st);
        return EX_DATAERR;
    }
    if (rc == 1)
        rc = store_campaign_set_control(st, argv[optind], ctl, status, &e);
    /* resumed after the circuit breaker paused it: the rates are measured
     * again from here */
    if (rc == 1 && strcmp(name, "resume") == 0 &&
        (rebased = store_breaker_rebase(st, now.id, &e)) == -1)
        rc = -1;
    /* a schedule that has not started stays one: due now if its time
     * passed (run-due does not start one overdue by more than its grace
     * on its own), else at its time */
    if (rc == 1 && strcmp(name, "resume") == 0 &&
        (resched =
             store_campaign_reschedule(st, now.id, clock_now(), &at, &e)) == -1)
        rc = -1;
    if (rc == 1 && ctl != NULL && strcmp(ctl, "cancel") == 0 &&
        store_ledger_cancel(st, now.id, clock_now(), &cancelled, &unfrozen,
                            &e) == -1)
        rc = -1;
    if (rc == 1 && store_commit(st, &e) == -1)
        rc = -1;
    if (rc != 1)
        store_rollback(st);
    if (rc == -1) {
        code = cmd_fail(&e);
    } else if (rc == 0) {
        log_warnx("no campaign \"%s\" (see campaign report)", argv[optind]);
        code = EX_NOINPUT;
    } else if (ctl != NULL && strcmp(ctl, "cancel") == 0) {
        printf("campaign %s %s; %ld recipients left to send are cancelled",
               argv[optind], said, cancelled + unfrozen);
        if (unfrozen > 0)
            printf(" (%ld of them members not frozen yet, which the "
                   "campaign's recipients no longer count)",
                   unfrozen);
        putchar('\n');
    } else if (resched) {
        char t[40];
        printf("campaign %s %s: scheduled for %s; the next campaign run-due "
               "starts it\n",
               argv[optind], said, cmd_time(at, t, sizeof t));
    } else {
        printf("campaign %s %s", argv[optind], said);
        if (ctl == NULL) { /* resume: the command that goes on */
            fputs(": run campaign send --campaign ", stdout);
            shell_word(argv[optind]);
            fputs(" to go on", stdout);
            if (rebased)
                fputs(" (the circuit breaker had paused it: its rates are "
                      "measured again from now)",
                      stdout);
        }
        putchar('\n');
    }
    queue_unlock(lock);
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
    return control(ctx, argc, argv, "resume", NULL, "sending", "resumed");
}

int
cmd_cancel(struct ctx *ctx, int argc, char **argv)
{
    return control(ctx, argc, argv, "cancel", "cancel", "cancelled",
                   "cancelled: nothing more will be sent");
}
