/* SPDX-License-Identifier: ISC */
/*
 * cmd_cron.c - what runs campaigns on their own: run-due (for a crontab
 * line or a systemd timer), resend, and the campaigns listing.
 *
 * run-due looks at every campaign not over and sends those that have
 * something to send now: a schedule whose time has come (send --at), a
 * campaign under way with recipients queued (a run that was stopped by
 * the window, the daily cap, a signal, a crash), or deferrals whose retry
 * is due.  Each is sent by `send` in a child process of its own (one
 * summary line each), at most [limits] campaigns at once; a campaign
 * whose send lock is held (a send still running from the last cron run)
 * is left to it, and so is everything while another run-due runs (its
 * lock, DB.run-due.lock: a crontab line every five minutes and a send of
 * an hour overlap).  Outside the sending window, or with the day's
 * allowance spent, it sends nothing and says nothing: cron mails what a
 * command prints, and those are not news.
 *
 * A schedule the machine slept through - more than [limits] grace past
 * its time and past run-due's last run (meta run_due_at, recorded at each
 * run's start and end) - is not started without --force or `campaign
 * resume NAME`: it is said, every run, until then.  One held back while
 * run-due ran (by the window, the daily cap, a long send) is not late.
 *
 * Each send of a run-due that sends several campaigns at once takes
 * 1/[limits] campaigns of every rate, so that together they keep them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../engine/clock.h"
#include "../engine/config.h"
#include "../engine/log.h"
#include "../engine/queue.h"
#include "../engine/schedule.h"
#include "../engine/xalloc.h"
#include "cmd.h"

struct due {
    struct ctx *ctx;
    struct store *st;
    const struct config_limits *l;
    const char *tz;
    int64_t now;
    int64_t last; /* run-due's last run before this one (0: never) */
    int force;
    char **names;
    size_t n, cap;
    int64_t *late; /* schedules found overdue now: marked after the scan */
    size_t nlate;
    struct err e;
    int failed;
};

/* spent - 1 when the sending domain's allowance for today is used up */
static int
spent(struct due *u, const char *domain)
{
    long allowed, used;
    int64_t day = sched_day(u->tz, u->now);

    if (domain == NULL || (allowed = sched_allowance(&u->l->cap, day)) == -1)
        return 0;
    if (store_daily_get(u->st, domain, day, &used, &u->e) == -1) {
        u->failed = 1;
        return 1;
    }
    return used >= allowed;
}

static void
say_overdue(const struct due *u, const struct store_due *d)
{
    char t[64];
    int64_t late = u->now - d->scheduled_at;

    sched_format(d->scheduled_at, u->tz, t, sizeof t);
    printf("campaign %s: scheduled for %s, overdue by %lld h %02lld min "
           "(more than the grace of %d min: was the machine off?): not "
           "started; campaign run-due --force or campaign resume %s starts "
           "it\n",
           d->name, t, (long long)(late / 3600), (long long)(late % 3600 / 60),
           u->l->grace / 60, d->name);
}

static int
due_cb(const struct store_due *d, void *arg)
{
    struct due *u = arg;
    int go = 0;

    if (strcmp(d->status, "overdue") == 0) {
        /* found overdue by an earlier run: said until resumed or forced */
        if (!u->force) {
            say_overdue(u, d);
            return 0;
        }
        go = 1;
    } else if (strcmp(d->status, "scheduled") == 0) {
        if (d->scheduled_at > u->now)
            return 0;
        /* late: since its time, or since run-due last ran after it - a
         * schedule held back while run-due ran is not one the machine
         * slept through */
        if (u->now - (d->scheduled_at > u->last ? d->scheduled_at : u->last) >
                u->l->grace &&
            !u->force) {
            say_overdue(u, d);
            u->late = xreallocarray(u->late, u->nlate + 1, sizeof *u->late);
            u->late[u->nlate++] = d->id;
            return 0;
        }
        go = 1;
    } else if (strcmp(d->status, "sending") == 0) {
        go = d->queued || (d->next_retry > 0 && d->next_retry <= u->now);
    }
    if (!go || spent(u, d->sender_domain))
        return u->failed;
    {
        /* a send still running (the last cron run's) keeps it */
        struct err e;
        int fd = queue_lock(u->ctx->db_path, d->id, &e);
        if (fd == -1 && e.kind == EX_TEMPFAIL)
            return 0;
        if (fd == -1) {
            u->e = e;
            u->failed = 1;
            return 1;
        }
        queue_unlock(fd);
    }
    if (u->n == u->cap) {
        u->cap = u->cap ? 2 * u->cap : 8;
        u->names = xreallocarray(u->names, u->cap, sizeof *u->names);
    }
    u->names[u->n++] = xstrdup(d->name);
    return 0;
}

/* send_one - `campaign send --campaign NAME` in a child, its messages
 * tagged "campaign NAME" and its rates shared by share sends; its pid */
static pid_t
send_one(struct ctx *ctx, const char *name, int share)
{
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) == -1) {
        log_warn("run-due: fork");
        return -1;
    }
    if (pid == 0) {
        char *argv[] = {"send", "--campaign", (char *)name, NULL};
        static char tag[300];
        snprintf(tag, sizeof tag, "campaign %s", name);
        log_init(tag, log_get_level());
        setvbuf(stdout, NULL, _IOLBF, 0);
        ctx->run_due = 1;
        ctx->rate_share = share;
        int code = cmd_send(ctx, 3, argv);
        fflush(stdout);
        fflush(stderr);
        _exit(code);
    }
    return pid;
}

/* reap - wait for one child; its exit code (EX_SOFTWARE when killed) */
static int
reap(void)
{
    int st;
    pid_t p;

    while ((p = wait(&st)) == -1 && errno == EINTR)
        ;
    if (p == -1)
        return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    log_warnx("run-due: a send was killed by signal %d", WTERMSIG(st));
    return EX_SOFTWARE;
}

/* run_due_lock - one run-due at a time: the fd, or -1 when another has
 * it (EX_TEMPFAIL) or the lock cannot be made */
static int
run_due_lock(const char *db_path, struct err *e)
{
    char path[4096];
    int fd;

    if (snprintf(path, sizeof path, "%s.run-due.lock", db_path) >=
        (int)sizeof path)
        return err_set(e, EX_CANTCREAT, "%s: name too long", db_path);
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
        return err_set(e, EX_CANTCREAT, "%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
        int busy = errno == EWOULDBLOCK;
        close(fd);
        return err_set(e, busy ? EX_TEMPFAIL : EX_CANTCREAT, "%s: %s", path,
                       strerror(errno));
    }
    return fd;
}

/* tick - record this run-due's end, so that the next one knows it ran */
static void
tick(struct ctx *ctx)
{
    struct store *st;
    struct err e;
    int64_t prev;
    int code;

    err_clear(&e);
    if ((st = cmd_open(ctx, &code)) == NULL)
        return;
    if (store_run_due_tick(st, clock_now(), &prev, &e) == -1)
        cmd_fail(&e);
    store_close(st);
}

int
cmd_run_due(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct config cfg;
    struct due u;
    int c, code = 0, running = 0, lock = -1;
    int64_t change;
    size_t next = 0;

    memset(&u, 0, sizeof u);
    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'f')
            u.force = 1;
        else if (c == 'h')
            return cmd_usage("run-due", stdout, 0);
        else
            return cmd_usage("run-due", stderr, EX_USAGE);
    }
    if (optind != argc)
        return cmd_usage("run-due", stderr, EX_USAGE);
    err_clear(&u.e);
    if (cmd_config_load(ctx, &cfg, &u.e) == -1) {
        config_free(&cfg);
        return cmd_fail(&u.e);
    }
    if ((u.st = cmd_open(ctx, &code)) == NULL) {
        config_free(&cfg);
        return code;
    }
    /* another run-due still at work (a long send): it is doing the job */
    if ((lock = run_due_lock(ctx->db_path, &u.e)) == -1) {
        if (u.e.kind != EX_TEMPFAIL)
            code = cmd_fail(&u.e);
        goto out;
    }
    u.ctx = ctx;
    u.l = &cfg.limits;
    u.tz = cfg.limits.timezone ? cfg.limits.timezone : "";
    u.now = clock_now();
    if (store_run_due_tick(u.st, u.now, &u.last, &u.e) == -1 ||
        store_campaigns_due(u.st, 0, due_cb, &u, &u.e) == -1 || u.failed) {
        code = cmd_fail(&u.e);
        goto out;
    }
    /* overdue stays overdue: the next run, minutes later, must not take
     * it for a fresh schedule */
    for (size_t i = 0; i < u.nlate; i++)
        if (store_campaign_overdue(u.st, u.late[i], &u.e) == -1) {
            code = cmd_fail(&u.e);
            goto out;
        }
    store_close(u.st);
    u.st = NULL;
    /* outside the window nothing is due: quiet */
    if (cfg.limits.nwindow > 0 &&
        !sched_window_check(cfg.limits.window, cfg.limits.nwindow, u.tz, u.now,
                            &change))
        goto out;
    /* at most [limits] campaigns sends at once; the exit code is the
     * first failure's */
    while (next < u.n || running > 0) {
        int rc;
        if (next < u.n && running < cfg.limits.campaigns) {
            int share = (int)(u.n < (size_t)cfg.limits.campaigns
                                  ? u.n
                                  : (size_t)cfg.limits.campaigns);
            if (send_one(ctx, u.names[next++], share) == -1) {
                if (code == 0)
                    code = EX_OSERR;
                continue;
            }
            running++;
            continue;
        }
        if ((rc = reap()) == -1)
            break;
        running--;
        if (rc != 0 && code == 0)
            code = rc;
    }
    if (u.n > 0)
        tick(ctx);
out:
    for (size_t i = 0; i < u.n; i++)
        free(u.names[i]);
    free(u.names);
    free(u.late);
    store_close(u.st);
    config_free(&cfg);
    if (lock != -1)
        close(lock);
    return code;
}

/* ---- resend ---- */

struct camp_status {
    int64_t id;
    char status[16];
};

static int
status_cb(const struct store_campaign *c, void *arg)
{
    struct camp_status *k = arg;

    k->id = c->id;
    snprintf(k->status, sizeof k->status, "%s", c->status);
    return 0;
}

int
cmd_resend(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"deferred", no_argument, NULL, 'd'},
        {"failed", no_argument, NULL, 'f'},
        {"uncertain", no_argument, NULL, 'u'},
        {"expired", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct camp_status k = {0, ""};
    struct store_resent n;
    struct store *st;
    struct err e;
    int c, which = 0, code = 0, rc, lock = -1;
    long total;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            which |= STORE_RESEND_DEFERRED;
            break;
        case 'f':
            which |= STORE_RESEND_FAILED;
            break;
        case 'u':
            which |= STORE_RESEND_UNCERTAIN;
            break;
        case 'x':
            which |= STORE_RESEND_EXPIRED;
            break;
        case 'h':
            return cmd_usage("resend", stdout, 0);
        default:
            return cmd_usage("resend", stderr, EX_USAGE);
        }
    }
    if (optind + 1 != argc || which == 0)
        return cmd_usage("resend", stderr, EX_USAGE);
    if ((st = cmd_open(ctx, &code)) == NULL)
        return code;
    err_clear(&e);
    if (store_begin(st, &e) == -1 ||
        (rc = store_campaign_get(st, argv[optind], status_cb, &k, &e)) == -1) {
        store_rollback(st);
        code = cmd_fail(&e);
        goto out;
    }
    if (rc == 0) {
        store_rollback(st);
        log_warnx("no campaign \"%s\" (see campaign campaigns)", argv[optind]);
        code = EX_NOINPUT;
        goto out;
    }
    if (strcmp(k.status, "cancelled") == 0) {
        store_rollback(st);
        log_warnx("campaign %s is cancelled: nothing is sent for it again",
                  argv[optind]);
        code = EX_DATAERR;
        goto out;
    }
    /* not under a running send, which could call the campaign done
     * with the rows this puts back unseen (75 names its pid) */
    if ((lock = queue_lock(ctx->db_path, k.id, &e)) == -1) {
        store_rollback(st);
        code = cmd_fail(&e);
        goto out;
    }
    if (store_ledger_resend(st, k.id, which, &n, &e) == -1 ||
        store_commit(st, &e) == -1) {
        store_rollback(st);
        code = cmd_fail(&e);
        goto out;
    }
    total = n.deferred + n.failed + n.uncertain + n.expired;
    printf("campaign %s: %ld recipient%s queued again (", argv[optind], total,
           total == 1 ? "" : "s");
    {
        const char *sep = "";
        if (which & STORE_RESEND_DEFERRED) {
            printf("%sdeferred %ld", sep, n.deferred);
            sep = ", ";
        }
        if (which & STORE_RESEND_FAILED) {
            printf("%sfailed %ld", sep, n.failed);
            sep = ", ";
        }
        if (which & STORE_RESEND_UNCERTAIN) {
            printf("%suncertain %ld", sep, n.uncertain);
            sep = ", ";
        }
        if (which & STORE_RESEND_EXPIRED)
            printf("%sexpired %ld", sep, n.expired);
    }
    printf(")%s\n", total > 0
                        ? ": the next send or run-due sends them; addresses "
                          "suppressed since are skipped"
                        : "");
out:
    queue_unlock(lock);
    store_close(st);
    return code;
}

/* ---- campaigns ---- */

struct listing {
    struct store *st;
    const char *tz;
    struct err e;
    int failed;
    int header;
};

static int
list_cb(const struct store_due *d, void *arg)
{
    struct listing *g = arg;
    struct store_counts n;
    char when[64] = "-", retry[64] = "-";

    if (store_ledger_counts(g->st, d->id, &n, &g->e) == -1) {
        g->failed = 1;
        return 1;
    }
    if (d->scheduled_at > 0)
        sched_format(d->scheduled_at, g->tz, when, sizeof when);
    if (d->next_retry > 0)
        sched_format(d->next_retry, g->tz, retry, sizeof retry);
    if (!g->header) {
        printf("%-20s %-10s %-22s %10s %10s %10s  %s\n", "CAMPAIGN", "STATUS",
               "SCHEDULED", "RECIPIENTS", "SENT", "LEFT", "NEXT RETRY");
        g->header = 1;
    }
    printf("%-20s %-10s %-22s %10ld %10ld %10ld  %s\n", cmd_safe(d->name),
           d->status, when, n.recipients, n.sent,
           n.queued + n.sending + n.deferred + n.uncertain_retry +
               n.unbuildable + n.held,
           retry);
    return 0;
}

int
cmd_campaigns(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct config cfg;
    struct listing g;
    int c, code = 0;
    int64_t change, now = clock_now();
    const struct config_limits *l = &cfg.limits;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return cmd_usage("campaigns", stdout, 0);
        return cmd_usage("campaigns", stderr, EX_USAGE);
    }
    if (optind != argc)
        return cmd_usage("campaigns", stderr, EX_USAGE);
    memset(&g, 0, sizeof g);
    err_clear(&g.e);
    if (cmd_config_load(ctx, &cfg, &g.e) == -1) {
        config_free(&cfg);
        return cmd_fail(&g.e);
    }
    g.tz = l->timezone ? l->timezone : "";
    if ((g.st = cmd_open(ctx, &code)) == NULL) {
        config_free(&cfg);
        return code;
    }
    if (store_campaigns_due(g.st, 1, list_cb, &g, &g.e) == -1 || g.failed) {
        code = cmd_fail(&g.e);
        goto out;
    }
    if (!g.header)
        printf("no campaigns yet\n");
    if (l->nwindow > 0) {
        char t[64] = "never";
        int open =
            sched_window_check(l->window, l->nwindow, g.tz, now, &change);
        if (change > 0)
            sched_format(change, g.tz, t, sizeof t);
        printf("sending window: ");
        for (size_t i = 0; i < l->nwindow; i++)
            printf("%s%s", i ? "; " : "", l->window[i].text);
        printf(" (%s %s%s)\n", open ? "open, closes" : "closed, opens",
               change > 0 ? "at " : "", t);
    }
    {
        int64_t day = sched_day(g.tz, now);
        long allowed = sched_allowance(&l->cap, day);
        if (allowed != -1)
            printf("daily allowance today: %ld messages per sending domain%s\n",
                   allowed, l->cap.nwarmup > 0 ? " (warm-up)" : "");
    }
out:
    store_close(g.st);
    config_free(&cfg);
    return code;
}
