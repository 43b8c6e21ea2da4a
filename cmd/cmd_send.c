/* SPDX-License-Identifier: ISC */
/*
 * cmd_send.c - campaign send: create or resume a campaign and send it
 * through the relay (engine/queue.c does the work), or, with --dry-run,
 * render, build and sign the whole campaign without any network and
 * without writing to the database, or,
 * with --test-to, send rendered samples to reviewers without recording
 * anything.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <signal.h>
#include <unistd.h>

#include "../engine/clock.h"
#include "../engine/email.h"
#include "../engine/fsutil.h"
#include "../engine/queue.h"
#include "../engine/schedule.h"
#include "../engine/log.h"
#include "../engine/xalloc.h"
#include "mailjob.h"

/* --test-to addresses in one run: a handful of reviewers, not a list */
#define TEST_TO_MAX 20
/* the members whose message a new campaign checks before it starts
 * (precheck): about 0.1 s of building, so that the first message goes
 * out within a second at any size (issue 17); every one on a list no
 * larger */
#define SEND_PRECHECK 20000

/* Message sizes are summarised from a histogram of 256-byte buckets, so
 * memory does not grow with the list. */
#define HIST_BUCKET 256
#define HIST_N 4096

struct dryrun {
    struct composer *comp;
    const char *out_dir;
    int force; /* --force: replace the .eml files of an earlier dry run */
    struct store *st;
    int64_t campaign_id; /* a campaign that exists: its ledger's
                            recipients; 0: the list's members */
    long limit;          /* --max: messages to build; 0: all */
    int limited;         /* stopped by limit */
    struct err serr;     /* reading the ledger failed */
    int store_failed;
    struct buf msg;
    struct buf path;
    int64_t now;
    long built, failed, skipped;
    long smtputf8; /* built, for a UTF-8 address (held without SMTPUTF8) */
    long held;     /* built, with an address that has no wire form */
    char smtputf8_example[EMAIL_MAX + 1];
    size_t min, max;
    unsigned long long total;
    unsigned long hist[HIST_N];
    int write_failed;
    struct err werr;
};

/* file_name - NNNNNN-address.eml with only safe characters. */
static int
file_name(struct dryrun *d, int64_t id, const char *email)
{
    buf_reset(&d->path);
    if (buf_printf(&d->path, "%s/%06lld-", d->out_dir, (long long)id) == -1)
        return -1;
    for (const char *p = email; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '@' || c == '.' || c == '-' ||
                 c == '+' || c == '_';
        if (buf_putc(&d->path, ok ? c : '_') == -1)
            return -1;
    }
    return buf_puts(&d->path, ".eml");
}

static int
one(const struct store_member *m, void *arg)
{
    struct dryrun *d = arg;
    struct compose_contact ct;
    struct compose_result r;
    struct err e;

    if (strcmp(m->status, "active") != 0) {
        d->skipped++;
        return 0;
    }
    ct.id = (uint64_t)m->id;
    ct.email = m->email;
    ct.attrs = m->attrs;
    ct.message_id = NULL;
    err_clear(&e);
    if (composer_build(d->comp, &ct, d->now, &d->msg, &r, &e) == -1) {
        if (d->failed < 20)
            log_warnx("%s", e.msg);
        else if (d->failed == 20)
            log_warnx("more recipients fail; not shown");
        d->failed++;
        return 0;
    }
    if (d->out_dir != NULL) {
        struct fs_out o;
        if (file_name(d, m->id, m->email) == -1 ||
            fs_out_new(&o, d->path.p, 0644, d->force, NULL, 0, &d->werr) ==
                -1) {
            d->write_failed = 1;
            return 1; /* stop: not writable, or a file is in the way */
        }
        if (fwrite(d->msg.p, 1, d->msg.len, o.f) != d->msg.len) {
            err_set(&d->werr, EX_CANTCREAT, "%s: %s", d->path.p,
                    strerror(errno));
            fs_out_abort(&o);
            d->write_failed = 1;
            return 1;
        }
        if (fs_out_commit(&o, &d->werr) == -1) {
            d->write_failed = 1;
            return 1;
        }
    }
    d->built++;
    if (r.held[0] != '\0' && d->held++ < 20)
        log_warnx("contact %s: would be held, not sent: %s", m->email, r.held);
    if (r.smtputf8 && d->smtputf8++ == 0)
        snprintf(d->smtputf8_example, sizeof d->smtputf8_example, "%s",
                 m->email);
    d->total += d->msg.len;
    if (d->built == 1 || d->msg.len < d->min)
        d->min = d->msg.len;
    if (d->msg.len > d->max)
        d->max = d->msg.len;
    d->hist[d->msg.len / HIST_BUCKET < HIST_N ? d->msg.len / HIST_BUCKET
                                              : HIST_N - 1]++;
    if (d->limit > 0 && d->built >= d->limit) {
        d->limited = 1;
        return 1; /* --max reached */
    }
    return 0;
}

/* one_frozen - a member of a campaign that exists: rendered when the
 * campaign's ledger has it or its freeze under way will (the recipients
 * when it started; a member who joined the list later is none), skipped
 * when the ledger skipped it.  Only reads. */
static int
one_frozen(const struct store_member *m, void *arg)
{
    struct dryrun *d = arg;
    struct store_send_times t;
    int rc = store_send_times(d->st, d->campaign_id, m->id, &t, &d->serr);

    if (rc == 0)
        rc = store_ledger_unfrozen(d->st, d->campaign_id, m->id, &d->serr);
    else if (rc == 1 && strcmp(t.state, "skipped") == 0) {
        d->skipped++;
        return 0;
    }
    if (rc == -1) {
        d->store_failed = 1;
        return 1;
    }
    if (rc == 0)
        return 0;
    return one(m, d);
}

/* has_eml - dir holds a .eml file (an earlier dry run's) */
static int
has_eml(const char *dir)
{
    DIR *dp = opendir(dir);
    struct dirent *de;
    int found = 0;

    if (dp == NULL)
        return 0;
    while (!found && (de = readdir(dp)) != NULL) {
        size_t n = strlen(de->d_name);
        found = n > 4 && strcmp(de->d_name + n - 4, ".eml") == 0;
    }
    closedir(dp);
    return found;
}

/* percentile - the upper edge of the bucket holding the q-th message,
 * never past the largest message (a bucket's edge can be: then "median
 * <= X" would say more than the max), so min <= median <= p95 <= max. */
static size_t
percentile(const struct dryrun *d, double q)
{
    unsigned long want = (unsigned long)((double)d->built * q), seen = 0;

    for (size_t i = 0; i < HIST_N; i++) {
        seen += d->hist[i];
        if (seen > want) {
            size_t edge = (i + 1) * HIST_BUCKET;
            return edge < d->max ? edge : d->max;
        }
    }
    return d->max;
}

static void
human(size_t n, char *buf, size_t sz)
{
    if (n >= 1024 * 1024)
        snprintf(buf, sz, "%.1f MB", (double)n / (1024 * 1024));
    else if (n >= 1024)
        snprintf(buf, sz, "%.1f KB", (double)n / 1024);
    else
        snprintf(buf, sz, "%zu B", n);
}

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* catch_signals - SIGINT and SIGTERM stop the send cleanly; a peer's
 * reset never kills us (SIGPIPE). */
static void
catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* relay_setup - the relay loop's parameters from the configuration;
 * EX_CONFIG (said) when there is no relay. */
static int
relay_setup(const struct ctx *ctx, const struct mailjob *j, char **passwords,
            int concurrency, struct relay_params *rp)
{
    if (j->cfg.nrelay == 0) {
        log_warnx("%s: no [relay] section: set host, port, tls, username "
                  "and password_env",
                  ctx->config_path);
        return -1;
    }
    memset(rp, 0, sizeof *rp);
    rp->relays = j->cfg.relay;
    rp->nrelays = j->cfg.nrelay;
    rp->passwords = (const char *const *)passwords;
    rp->limits = &j->cfg.limits;
    rp->concurrency = concurrency ? concurrency : j->cfg.limits.concurrency;
    rp->transcript = ctx->verbose;
    rp->stop_grace_ms = 30000;
    return 0;
}

/*---- --test-to: samples of real contacts, the ledger untouched ----*/

struct sample {
    int64_t id;
    char *email;
    char *attrs;
};

struct samples {
    struct sample s[TEST_TO_MAX];
    int n, want;
};

/* sample_cb - the first `want` mailable members of the list. */
static int
sample_cb(const struct store_member *m, void *arg)
{
    struct samples *k = arg;

    if (strcmp(m->status, "active") != 0)
        return 0;
    k->s[k->n].id = m->id;
    k->s[k->n].email = xstrdup(m->email);
    k->s[k->n].attrs = xstrdup(m->attrs ? m->attrs : "{}");
    return ++k->n >= k->want;
}

struct test_msg {
    char rcpt[EMAIL_MAX + 1];
    const char *domain;
    const struct sample *from; /* the contact it was rendered for */
    struct compose_result cr;
    char *data;
    size_t len;
    int handed, done, tries;
    struct smtp_result res;
};

struct test_run {
    struct test_msg *m;
    int n;
    int outstanding;
};

/* test_next - each test message once; again (up to 3 tries) when the
 * connection died before its dot. */
static enum relay_next
test_next(void *arg, struct relay_msg *out)
{
    struct test_run *t = arg;

    for (int i = 0; i < t->n && !interrupted; i++) {
        struct test_msg *x = &t->m[i];
        if (x->handed || x->done)
            continue;
        x->handed = 1;
        x->tries++;
        t->outstanding++;
        out->cookie = (uint64_t)i;
        out->mail_from = x->cr.envelope_from;
        out->rcpt = x->cr.rcpt;
        out->smtputf8 = x->cr.smtputf8;
        out->domain = x->domain;
        out->provider = NULL;
        out->data = x->data;
        out->len = x->len;
        return RELAY_GOT;
    }
    return t->outstanding ? RELAY_AWAITING : RELAY_DRAINED;
}

static void
test_result(void *arg, const struct relay_done *d)
{
    struct test_run *t = arg;
    struct test_msg *x = &t->m[d->cookie];

    t->outstanding--;
    x->handed = 0;
    x->res = d->r;
    if (d->r.outcome != SMTP_NOT_SENT || x->tries >= 3 || interrupted)
        x->done = 1;
}

static int
test_tick(void *arg, int64_t now_ms)
{
    (void)arg;
    (void)now_ms;
    return interrupted != 0;
}

static const char *const outcome_words[] = {
    [SMTP_SENT] = "sent",
    [SMTP_TEMPFAIL] = "deferred",
    [SMTP_PERMFAIL] = "rejected",
    [SMTP_NOT_SENT] = "not sent",
    [SMTP_UNCERTAIN] = "uncertain (the link died after the dot)",
    [SMTP_HELD] = "held (not sent)",
};

/*
 * send_tests - render one message per --test-to address from the first
 * mailable members of the list (one contact each, round the list when
 * there are more addresses than members), Subject prefixed "[test] ",
 * and deliver them through the relays.  Nothing is written: no campaign,
 * no ledger row.  The samples are composed for campaign id 0 and contact
 * ids of their own (above 2^63, never a contact's), so their Message-IDs
 * differ from the real messages' and their tracking, unsubscribe and
 * VERP tokens match no recipient: a click, an unsubscribe or a bounce of
 * a sample never touches the contact it was rendered for.
 */
static int
send_tests(struct ctx *ctx, struct store *st, struct mailjob *j,
           const struct compose_params *base, int64_t list_id, const char *list,
           char (*to)[EMAIL_MAX + 1], int nto, char **passwords)
{
    struct relay_params rp;
    struct samples k;
    struct test_run t;
    struct tmpl tt;
    struct compose_params cp = *base;
    struct composer *comp = NULL;
    struct template *subject = NULL;
    struct relay_stats stats;
    struct buf src, msg;
    struct err e;
    int code = 0, sent = 0, rc;
    int64_t now = clock_now();
    struct timespec ts;
    uint64_t nonce;

    memset(&k, 0, sizeof k);
    memset(&t, 0, sizeof t);
    buf_init(&src, 0);
    buf_init(&msg, 0);
    err_clear(&e);
    if (relay_setup(ctx, j, passwords, 1, &rp) == -1) {
        code = EX_CONFIG;
        goto out;
    }
    for (size_t i = 0; i < j->cfg.nrelay; i++) {
        if (mailjob_relay_password(&j->cfg.relay[i], &passwords[i], &e) == -1) {
            code = cmd_fail(&e);
            goto out;
        }
    }
    catch_signals();
    k.want = nto;
    if (store_members(st, list_id, sample_cb, &k, &e) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    if (k.n == 0) {
        log_warnx("list %s has no mailable member to render a sample for",
                  list);
        code = EX_DATAERR;
        goto out;
    }
    /* the subject, prefixed */
    if (buf_puts(&src, "[test] ") == -1 ||
        buf_puts(&src, j->tmpl->subject_src) == -1) {
        code = EX_SOFTWARE;
        goto out;
    }
    if ((subject = template_compile(src.p, src.len, j->tmpl->path, NULL, NULL,
                                    &e)) == NULL) {
        code = cmd_fail(&e);
        goto out;
    }
    tt = *j->tmpl;
    tt.subject = subject;
    cp.tmpl = &tt;
    cp.campaign_id = 0;
    if ((comp = composer_new(&cp, &e)) == NULL) {
        code = cmd_fail(&e);
        goto out;
    }
    /* ids of their own: bit 63 (no contact id has it), the time in ms,
     * the message's number */
    clock_gettime(CLOCK_REALTIME, &ts);
    nonce = (UINT64_C(1) << 63) |
            ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) << 8;
    t.m = xcalloc((size_t)nto, sizeof *t.m);
    t.n = nto;
    for (int i = 0; i < nto; i++) {
        struct test_msg *x = &t.m[i];
        const struct sample *sm = &k.s[i % k.n];
        struct compose_contact ct;

        memcpy(x->rcpt, to[i], sizeof x->rcpt); /* both EMAIL_MAX + 1 */
        x->domain = email_domain(x->rcpt);
        x->from = sm;
        ct.id = nonce | (uint64_t)i;
        ct.email = x->rcpt;
        ct.attrs = sm->attrs;
        ct.message_id = NULL;
        if (composer_build(comp, &ct, now, &msg, &x->cr, &e) == -1) {
            log_warnx("test message for %s (rendered for %s): %s", x->rcpt,
                      sm->email, e.msg);
            code = EX_DATAERR;
            goto out;
        }
        x->data = xmalloc(msg.len ? msg.len : 1);
        memcpy(x->data, msg.p, msg.len);
        x->len = msg.len;
    }
    {
        struct relay_source rs;
        memset(&rs, 0, sizeof rs);
        rs.next = test_next;
        rs.result = test_result;
        rs.tick = test_tick;
        rs.wake_fd = -1;
        rs.arg = &t;
        rc = relay_run(&rp, &rs, &stats, &e);
    }
    for (int i = 0; i < nto; i++) {
        struct test_msg *x = &t.m[i];
        const struct smtp_result *r = &x->res;
        if (!x->done) {
            printf("test message to %s (rendered for %s): not sent\n", x->rcpt,
                   x->from->email);
            continue;
        }
        if (r->outcome == SMTP_SENT)
            sent++;
        printf("test message to %s (rendered for %s): %s", x->rcpt,
               x->from->email, outcome_words[r->outcome]);
        if (r->code > 0)
            printf(": %d%s%s %s", r->code, r->status[0] ? " " : "", r->status,
                   r->text);
        else if (r->outcome != SMTP_SENT && r->text[0])
            printf(": %s", r->text);
        putchar('\n');
    }
    printf("%d of %d test messages sent; the campaign and its ledger are "
           "untouched\n",
           sent, nto);
    if (rc == -1)
        code = cmd_fail(&e);
    else if (sent < nto)
        code = interrupted ? EX_TEMPFAIL : EX_UNAVAILABLE;
out:
    for (int i = 0; i < t.n; i++)
        free(t.m[i].data);
    free(t.m);
    for (int i = 0; i < k.n; i++) {
        free(k.s[i].email);
        free(k.s[i].attrs);
    }
    composer_free(comp);
    template_free(subject);
    buf_free(&src);
    buf_free(&msg);
    return code;
}

/* add_test_to - the addresses of one --test-to value (commas allowed),
 * normalised; -1 after saying what is wrong. */
static int
add_test_to(char (*to)[EMAIL_MAX + 1], int *n, const char *arg)
{
    const char *p = arg;

    for (;;) {
        size_t len = strcspn(p, ",");
        const char *why = NULL;
        if (len > 0) {
            if (*n == TEST_TO_MAX) {
                log_warnx("--test-to: at most %d addresses", TEST_TO_MAX);
                return -1;
            }
            if (email_normalize(p, len, to[*n], &why) == -1) {
                log_warnx("--test-to: \"%.*s\": %s", (int)len, p, why);
                return -1;
            }
            (*n)++;
        }
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    if (*n == 0) {
        log_warnx("--test-to: an email address");
        return -1;
    }
    return 0;
}

struct camp {
    int found;
    int64_t id, list_id, frozen_at, scheduled_at;
    char status[16];
    char template[128];
    char *list;
    char *data;
    char *template_src;
};

static int
camp_cb(const struct store_campaign *c, void *arg)
{
    struct camp *k = arg;

    k->found = 1;
    k->id = c->id;
    k->list_id = c->list_id;
    k->frozen_at = c->frozen_at;
    k->scheduled_at = c->scheduled_at;
    snprintf(k->status, sizeof k->status, "%s", c->status);
    snprintf(k->template, sizeof k->template, "%s", c->template);
    k->list = c->list ? xstrdup(c->list) : NULL;
    k->data = c->data ? xstrdup(c->data) : NULL;
    k->template_src = c->template_src ? xstrdup(c->template_src) : NULL;
    return 0;
}

/*
 * precheck - before a campaign freezes template t: can every recipient's
 * message be built?  The recipients are the list's mailable members
 * (list_id, a campaign not frozen yet: the first SEND_PRECHECK of them,
 * so that the first message goes out at once whatever the size of the
 * list; the others are checked as they are sent, and one that cannot be
 * built is unbuildable) or the campaign's recipients left to send
 * (list_id 0).  Streams them, says each problem as preview does
 * (cmd/mailjob.c) and returns its exit code (EX_DATAERR), or 0.
 */
static int
precheck(struct store *st, struct mailjob *j, const struct tmpl *t,
         const char *campaign, int64_t cid, int64_t list_id, struct err *e)
{
    struct compose_params cp;
    struct composer *comp;
    struct mailjob_check k;
    int rc, code;

    mailjob_compose_params(j, campaign, (uint32_t)cid, store_hash_salt(st),
                           &cp);
    cp.tmpl = t;
    if ((comp = composer_new(&cp, e)) == NULL)
        return cmd_fail(e);
    mailjob_check_init(&k, comp, t);
    if (list_id > 0)
        k.limit = SEND_PRECHECK;
    rc = list_id > 0 ? store_members(st, list_id, mailjob_check_one, &k, e)
                     : store_ledger_pending(st, cid, mailjob_check_one, &k, e);
    if (rc != -1) /* 1: the check stopped at its limit */
        mailjob_dmarc_warn(j, composer_from_domain(comp));
    composer_free(comp);
    if (rc == -1)
        return cmd_fail(e);
    if ((code = mailjob_check_report(&k)) == 0) {
        if (k.more)
            log_info("campaign %s: checked the message of the first %ld "
                     "recipients; the others' are checked as they are sent "
                     "(send --dry-run checks every one first)",
                     campaign, k.checked);
        return 0;
    }
    if (list_id > 0)
        log_warnx("campaign %s: the message cannot be built for %ld of %s%ld "
                  "recipients: nothing sent, nothing recorded (campaign "
                  "preview --to EMAIL shows one)",
                  campaign, k.failed > 0 ? k.failed : k.checked,
                  k.more ? "the first " : "", k.checked);
    else
        log_warnx("campaign %s: %s cannot be built for %ld of the %ld "
                  "recipients left to send: nothing sent, nothing changed",
                  campaign, t->path, k.failed > 0 ? k.failed : k.checked,
                  k.checked);
    return code;
}

/* share_rates - run-due sends n campaigns at once: each takes 1/n of
 * every rate, so that together they keep it (a relay sold at 14/s gets
 * 14/s) */
static void
share_rates(struct config *cfg, int n)
{
    struct config_limits *l = &cfg->limits;

    l->rate.per_second /= n;
    for (size_t i = 0; i < l->ndomain; i++)
        l->domain[i].rate.per_second /= n;
    for (size_t i = 0; i < l->nprovider_rate; i++)
        l->provider_rate[i].rate.per_second /= n;
    for (size_t i = 0; i < cfg->nrelay; i++)
        cfg->relay[i].rate.per_second /= n;
}

/* sending_domain - the domain a campaign's daily cap counts on */
static const char *
sending_domain(const struct composer *c)
{
    const char *d = composer_sender_domain(c);

    return *d ? d : "(no domain)";
}

/* schedule - send --at: the campaign waits for run-due (its recipients
 * are frozen when it starts, not now) */
static int
schedule(struct store *st, const char *db_path, int64_t cid,
         const char *campaign, int64_t at, const char *tz, json_t *data,
         const char *from)
{
    char *dj;
    char t[64], u[40];
    struct err e;
    int ok = 0, lock;

    err_clear(&e);
    /* not while a send of it starts (run-due's, now due) */
    if ((lock = queue_lock(db_path, cid, &e)) == -1)
        return cmd_fail(&e);
    dj = data ? json_dumps(data, JSON_COMPACT) : NULL;
    if (store_begin(st, &e) == -1 ||
        (ok = store_campaign_schedule(st, cid, at, dj, &e)) == -1 ||
        (ok && store_campaign_set_sender(st, cid, from, &e) == -1) ||
        store_commit(st, &e) == -1) {
        store_rollback(st);
        free(dj);
        queue_unlock(lock);
        return cmd_fail(&e);
    }
    free(dj);
    queue_unlock(lock);
    if (!ok) {
        log_warnx("campaign %s cannot be scheduled: it has started or is over",
                  campaign);
        return EX_USAGE;
    }
    sched_format(at, tz, t, sizeof t);
    printf("campaign %s scheduled for %s (%s): campaign run-due starts it "
           "then, with the list's members at that time\n",
           campaign, t, cmd_time(at, u, sizeof u));
    return 0;
}

/* the day's allowance of a sending domain (schedule.h), reserved in
 * daily_sent before the run and settled after it */
struct allowance {
    int on;
    int64_t day;
    const char *domain;
    long allowed, used, reserved;
    int binding; /* the reservation, not --max nor the queue, limits */
};

/* allowance_take - reserve what this run may send today: 1 when some,
 * 0 when the day's allowance is spent (said), -1 on error */
static int
allowance_take(struct store *st, const struct config_limits *l, const char *tz,
               int64_t cid, const char *campaign, long max, struct allowance *a,
               struct err *e)
{
    struct store_counts c;
    long pending, want;

    a->allowed = sched_allowance(&l->cap, a->day = sched_day(tz, clock_now()));
    if ((a->on = a->allowed != -1) == 0)
        return 1;
    /* what could go now: deferrals not yet due take nothing of the day
     * (another campaign of the domain may use it meanwhile) */
    if (store_ledger_sendable(st, cid, clock_now(), &pending, e) == -1)
        return -1;
    if (pending == 0) { /* nothing to send: nothing to count */
        a->on = 0;
        return 1;
    }
    if (store_begin(st, e) == -1 ||
        store_daily_get(st, a->domain, a->day, &a->used, e) == -1) {
        store_rollback(st);
        return -1;
    }
    if (a->used >= a->allowed) {
        store_rollback(st);
        a->on = 0;
        if (store_ledger_counts(st, cid, &c, e) == -1)
            return -1;
        printf("campaign %s: daily limit reached (%ld of %ld today from "
               "%s), %ld left for tomorrow\n",
               campaign, a->used, a->allowed, a->domain,
               c.queued + c.sending + c.deferred + c.uncertain_retry +
                   c.unbuildable + c.held);
        return 0;
    }
    want = a->allowed - a->used;
    a->binding = want < pending && (max == 0 || want < max);
    if (!a->binding)
        want = max > 0 && max < pending ? max : pending;
    a->reserved = want;
    if (store_daily_add(st, a->domain, a->day, want, e) == -1 ||
        store_commit(st, e) == -1) {
        store_rollback(st);
        return -1;
    }
    return 1;
}

static const char *const stop_words[] = {
    [QUEUE_DONE] = "",
    [QUEUE_PAUSED] = " (paused)",
    [QUEUE_CANCELLED] = " (cancelled)",
    [QUEUE_SIGNALLED] = " (interrupted)",
    [QUEUE_MAXED] = " (--max reached)",
    [QUEUE_REFUSED] = " (stopped: the relay refused us)",
    [QUEUE_MESSAGE_REFUSED] = " (stopped: the relay refused the message)",
    [QUEUE_WINDOW] = " (the sending window closed)",
};

int
cmd_send(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"template", required_argument, NULL, 't'},
        {"list", required_argument, NULL, 'l'},
        {"campaign", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'd'},
        {"dry-run", no_argument, NULL, 'D'},
        {"out", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'F'},
        {"concurrency", required_argument, NULL, 'C'},
        {"rate", required_argument, NULL, 'r'},
        {"max", required_argument, NULL, 'm'},
        {"test-to", required_argument, NULL, 'T'},
        {"trust-refusals", no_argument, NULL, 'R'},
        {"at", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *template = NULL, *list = NULL, *campaign = NULL;
    const char *data = NULL, *rate = NULL, *at = NULL;
    struct config_rate rate_v = {0};
    int dry = 0, c, code = 0, rc, concurrency = 0, lock = -1;
    long max = 0;
    struct dryrun d;
    struct mailjob j;
    struct store *st = NULL;
    struct compose_params cp;
    struct err e;
    struct camp k;
    char *passwords[CONFIG_RELAY_MAX] = {NULL};
    int64_t list_id = 0, cid = 0;
    char test_to[TEST_TO_MAX][EMAIL_MAX + 1];
    int ntest = 0, testing = 0, trust = 0, started = 0;
    struct relay_params rp;
    struct tmpl *today = NULL;
    const char *tz = "";
    int64_t at_t = 0, stop_at = 0;

    memset(&d, 0, sizeof d);
    memset(&k, 0, sizeof k);
    memset(&j, 0, sizeof j);
    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 't':
            template = optarg;
            break;
        case 'l':
            list = optarg;
            break;
        case 'c':
            campaign = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'D':
            dry = 1;
            break;
        case 'o':
            d.out_dir = optarg;
            break;
        case 'F':
            d.force = 1;
            break;
        case 'C':
            concurrency = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || concurrency < 1 || concurrency > 256) {
                log_warnx("--concurrency: 1 to 256 (got \"%s\")", optarg);
                return EX_USAGE;
            }
            break;
        case 'r':
            /* checked here: a dry run takes it too */
            if (config_rate_parse(optarg, &rate_v) == -1) {
                log_warnx("--rate: a positive number per s, m, h or d, like "
                          "50/s, 3000/m or 100000/h (got \"%s\")",
                          optarg);
                return EX_USAGE;
            }
            rate = optarg;
            break;
        case 'm':
            errno = 0;
            max = strtol(optarg, &end, 10);
            if (*end != '\0' || *optarg == '\0' || errno == ERANGE || max < 1) {
                log_warnx("--max: a positive count (got \"%s\")", optarg);
                return EX_USAGE;
            }
            break;
        case 'R':
            trust = 1;
            break;
        case 'A':
            at = optarg;
            break;
        case 'T':
            testing = 1;
            if (add_test_to(test_to, &ntest, optarg) == -1)
                return EX_USAGE;
            break;
        case 'h':
            return cmd_usage("send", stdout, 0);
        default:
            return cmd_usage("send", stderr, EX_USAGE);
        }
    }
    /* --test-to EMAIL...: the words after it are addresses too */
    for (; testing && optind < argc; optind++)
        if (add_test_to(test_to, &ntest, argv[optind]) == -1)
            return EX_USAGE;
    if (optind != argc || (template == NULL && campaign == NULL))
        return cmd_usage("send", stderr, EX_USAGE);
    if (testing && dry) {
        log_warnx("send: --test-to and --dry-run do not go together");
        return EX_USAGE;
    }
    if (trust && (testing || dry)) {
        log_warnx("send: --trust-refusals goes with a real send, not with "
                  "--test-to or --dry-run");
        return EX_USAGE;
    }
    if (d.force && d.out_dir == NULL) {
        log_warnx("send: --force goes with --dry-run --out DIR");
        return EX_USAGE;
    }
    if (d.out_dir != NULL && !dry) {
        log_warnx("send: --out goes with --dry-run");
        return EX_USAGE;
    }
    if (at != NULL && (testing || dry || max > 0 || rate != NULL ||
                       concurrency > 0 || trust)) {
        log_warnx("send: --at schedules the campaign and sends nothing now: "
                  "it does not go with --test-to, --dry-run, --max, --rate, "
                  "--concurrency or --trust-refusals");
        return EX_USAGE;
    }
    if (campaign == NULL)
        campaign = template;
    if (cmd_name_check("--campaign", campaign) == -1 ||
        (list != NULL && cmd_name_check("--list", list) == -1))
        return EX_USAGE;
    err_clear(&e);
    buf_init(&d.msg, 0);
    buf_init(&d.path, 0);
    if ((st = cmd_open(ctx, &code)) == NULL)
        goto out;
    if (store_campaign_get(st, campaign, camp_cb, &k, &e) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    if (k.found) {
        /* a campaign's template and list are its identity, from its
         * first run on (started or not): another one is another
         * campaign, said before anything is written */
        if (template != NULL && strcmp(template, k.template) != 0) {
            log_warnx("campaign %s uses template %s, not %s: name another "
                      "campaign with --campaign",
                      campaign, k.template, template);
            code = EX_USAGE;
            goto out;
        }
        if (list != NULL && k.list != NULL && strcmp(list, k.list) != 0) {
            log_warnx("campaign %s is for list %s, not %s: name another "
                      "campaign with --campaign",
                      campaign, k.list, list);
            code = EX_USAGE;
            goto out;
        }
        template = k.template;
        if (list == NULL)
            list = k.list;
    }
    if (template == NULL || list == NULL) {
        log_warnx("send: a new campaign needs --template and --list");
        code = EX_USAGE;
        goto out;
    }
    if (at != NULL && k.found &&
        (strcmp(k.status, "done") == 0 || strcmp(k.status, "cancelled") == 0)) {
        log_warnx("campaign %s is %s: it cannot be scheduled", campaign,
                  strcmp(k.status, "done") == 0 ? "finished" : "cancelled");
        code = EX_DATAERR;
        goto out;
    }
    if (!dry && !testing && k.found &&
        (strcmp(k.status, "done") == 0 || strcmp(k.status, "cancelled") == 0)) {
        printf("campaign %s is %s: nothing to send\n", campaign,
               strcmp(k.status, "done") == 0 ? "finished" : "cancelled");
        goto out;
    }
    if (!dry && !testing && k.found && strcmp(k.status, "paused") == 0) {
        printf("campaign %s is paused: run campaign resume %s first\n",
               campaign, campaign);
        code = EX_TEMPFAIL;
        goto out;
    }
    if (mailjob_open(ctx, template, data, &j, &e) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    if (j.cfg.limits.timezone != NULL)
        tz = j.cfg.limits.timezone;
    if (at != NULL) {
        char why[200];
        if (sched_at_parse(at, tz, &at_t, why, sizeof why) == -1) {
            log_warnx("--at: %s", why);
            code = EX_USAGE;
            goto out;
        }
        if (at_t < clock_now() - 60) {
            log_warnx("--at: \"%s\" is in the past", at);
            code = EX_USAGE;
            goto out;
        }
        if (k.found && k.frozen_at > 0) {
            log_warnx("campaign %s has started: --at schedules a campaign "
                      "before it starts",
                      campaign);
            code = EX_USAGE;
            goto out;
        }
    }
    /* a schedule is kept: run-due starts it (a send on its own before
     * the time says when) */
    if (!dry && !testing && at == NULL && k.found &&
        strcmp(k.status, "scheduled") == 0 && k.scheduled_at > clock_now()) {
        char t[64];
        sched_format(k.scheduled_at, tz, t, sizeof t);
        printf("campaign %s is scheduled for %s: campaign run-due starts "
               "it then (send --at changes the time, campaign cancel drops "
               "it)\n",
               campaign, t);
        goto out;
    }
    /* a resumed campaign (and a dry run of it) renders with the data it
     * started with */
    if (k.data != NULL) {
        json_error_t jerr;
        json_decref(j.data);
        j.data = json_loads(k.data, 0, &jerr);
        if (data != NULL)
            log_warnx("campaign %s keeps the data it started with; --data "
                      "ignored",
                      campaign);
    }
    /* ... and the template it froze: what was sent is what the web view
     * shows, and a resume (or a dry run) builds the same message */
    if (k.template_src != NULL && !testing) {
        struct tmpl *ft = tmpl_load_frozen(k.template_src, template, &e);
        if (ft == NULL) {
            code = cmd_fail(&e);
            goto out;
        }
        /* today's files: a run that queues unbuildable recipients again
         * may freeze them instead (below) */
        today = j.tmpl;
        j.tmpl = ft;
    }
    if ((rc = store_list_find(st, list, &list_id, &e)) != 1) {
        if (rc == 0)
            err_set(&e, EX_DATAERR, "no list \"%s\" (see campaign lists)",
                    list);
        code = cmd_fail(&e);
        goto out;
    }
    /* a campaign about to freeze its template: every recipient's message
     * must build, or nothing is recorded */
    if (!testing && !dry && (k.frozen_at == 0 || k.template_src == NULL) &&
        (code = precheck(st, &j, j.tmpl, campaign, k.found ? k.id : 0,
                         k.frozen_at == 0 ? list_id : 0, &e)) != 0)
        goto out;
    /* test messages and dry runs record nothing, not even the
     * campaign's name: a campaign that does not exist yet renders as
     * campaign 0 (whose tokens `serve` refuses) */
    if (testing || dry)
        cid = k.found ? k.id : 0;
    else if (store_begin(st, &e) == -1 ||
             store_campaign_ensure(st, campaign, template, list_id, clock_now(),
                                   &cid, &e) == -1 ||
             store_commit(st, &e) == -1) {
        store_rollback(st);
        code = cmd_fail(&e);
        goto out;
    }
    mailjob_compose_params(&j, campaign, (uint32_t)cid, store_hash_salt(st),
                           &cp);
    if (testing) {
        code = send_tests(ctx, st, &j, &cp, list_id, list, test_to, ntest,
                          passwords);
        goto out;
    }
    if ((d.comp = composer_new(&cp, &e)) == NULL) {
        code = cmd_fail(&e);
        goto out;
    }
    if (at != NULL) {
        code = schedule(st, ctx->db_path, cid, campaign, at_t, tz, j.data,
                        sending_domain(d.comp));
        goto out;
    }

    if (dry) {
        if (d.out_dir != NULL && mkdir(d.out_dir, 0755) == -1 &&
            errno != EEXIST) {
            log_warn("%s", d.out_dir);
            code = EX_CANTCREAT;
            goto out;
        }
        if (d.out_dir != NULL && !d.force && has_eml(d.out_dir)) {
            /* before anything is built: nothing half-replaced */
            log_warnx("%s holds the messages of an earlier dry run: not "
                      "replaced (--force replaces them, or name another "
                      "directory)",
                      d.out_dir);
            code = EX_CANTCREAT;
            goto out;
        }
        d.now = clock_now();
        d.st = st;
        d.limit = max;
        err_clear(&d.serr);
        /* a started campaign: its frozen recipients */
        d.campaign_id = k.found && k.frozen_at > 0 ? k.id : 0;
        if (store_members(st, list_id, d.campaign_id ? one_frozen : one, &d,
                          &e) == -1) {
            code = cmd_fail(&e);
            goto out;
        }
        if (d.store_failed) {
            code = cmd_fail(&d.serr);
            goto out;
        }
        {
            /* a partial the template names and that has no file */
            struct mailjob_check mk;
            mailjob_check_init(&mk, d.comp, j.tmpl);
            if (mailjob_check_report(&mk) != 0)
                d.failed = d.built + d.failed;
        }
        if (d.write_failed) {
            code = cmd_fail(&d.werr);
            goto out;
        }
        char tot[32], mn[32], md[32], p95[32], mx[32];
        human((size_t)d.total, tot, sizeof tot);
        human(d.min, mn, sizeof mn);
        human(percentile(&d, 0.5), md, sizeof md);
        human(percentile(&d, 0.95), p95, sizeof p95);
        human(d.max, mx, sizeof mx);
        printf("dry run of campaign %s (template %s, list %s): %ld "
               "messages built and signed%s%s, %s in all%s\n",
               campaign, template, list, d.built, d.out_dir ? " into " : "",
               d.out_dir ? d.out_dir : "", tot,
               d.limited ? " (--max reached)" : "");
        if (d.built > 0)
            printf("sizes: min %s, median <= %s, p95 <= %s, max %s\n", mn, md,
                   p95, mx);
        mailjob_dmarc_warn(&j, composer_from_domain(d.comp));
        mailjob_smtputf8_note(d.smtputf8, 0, d.smtputf8_example);
        printf("%ld suppressed or unsubscribed recipients skipped\n",
               d.skipped);
        printf("%ld recipients cannot be built (missing fields or bad "
               "values)\n",
               d.failed);
        if (d.failed > 0)
            code = EX_DATAERR;
        goto out;
    }

    /* ---- the real send ---- */
    if (j.cfg.limits.nwindow > 0) {
        /* outside the sending window nothing is claimed; inside, the
         * queue stops handing out when it closes */
        if (!sched_window_check(j.cfg.limits.window, j.cfg.limits.nwindow, tz,
                                clock_now(), &stop_at)) {
            char t[64] = "never";
            if (stop_at > 0)
                sched_format(stop_at, tz, t, sizeof t);
            printf("campaign %s: outside the sending window (", campaign);
            for (size_t i = 0; i < j.cfg.limits.nwindow; i++)
                printf("%s%s", i ? "; " : "", j.cfg.limits.window[i].text);
            printf("): it opens %s%s; nothing sent (run it again then, or "
                   "schedule it with --at for campaign run-due)\n",
                   stop_at > 0 ? "at " : "", t);
            goto out;
        }
    }
    if (relay_setup(ctx, &j, passwords, concurrency, &rp) == -1) {
        code = EX_CONFIG;
        goto out;
    }
    rp.trust_refusals = trust;
    if (rate != NULL)
        j.cfg.limits.rate = rate_v;
    if (ctx->rate_share > 1)
        share_rates(&j.cfg, ctx->rate_share);
    if ((lock = queue_lock(ctx->db_path, cid, &e)) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    for (size_t i = 0; i < j.cfg.nrelay; i++) {
        if (mailjob_relay_password(&j.cfg.relay[i], &passwords[i], &e) == -1) {
            code = cmd_fail(&e);
            goto out;
        }
    }
    if (k.frozen_at == 0 || k.template_src == NULL) {
        char *dj = j.data ? json_dumps(j.data, JSON_COMPACT) : NULL;
        char *ts = tmpl_frozen(j.tmpl, ctx->templates_dir);
        int64_t now = clock_now();
        if (store_begin(st, &e) == -1 ||
            (k.frozen_at == 0 &&
             store_ledger_freeze(st, cid, list_id, now, &e) == -1) ||
            (started = store_campaign_start(st, cid, now, dj, &e)) == -1 ||
            (started && ts != NULL &&
             store_campaign_template(st, cid, ts, &e) == -1) ||
            (started && store_commit(st, &e) == -1)) {
            store_rollback(st);
            free(dj);
            free(ts);
            code = cmd_fail(&e);
            goto out;
        }
        if (!started)
            store_rollback(st); /* the freeze too */
        free(dj);
        free(ts);
    } else {
        /* a campaign under way: the recipients whose message could not
         * be built are retried; when the template's files changed since
         * it froze them, the fixed files are frozen instead, once every
         * recipient left can be built with them */
        struct store_counts c0;
        char *ts = NULL;
        long requeued = 0;

        if (store_ledger_counts(st, cid, &c0, &e) == -1) {
            code = cmd_fail(&e);
            goto out;
        }
        if (c0.unbuildable > 0 && today != NULL &&
            !tmpl_frozen_same(today, k.template_src)) {
            struct composer *nc;
            if ((code = precheck(st, &j, today, campaign, cid, 0, &e)) != 0)
                goto out;
            ts = tmpl_frozen(today, ctx->templates_dir);
            cp.tmpl = today;
            if ((nc = composer_new(&cp, &e)) == NULL) {
                free(ts);
                code = cmd_fail(&e);
                goto out;
            }
            composer_free(d.comp);
            d.comp = nc;
        }
        if (store_begin(st, &e) == -1 ||
            (started = store_campaign_start(st, cid, clock_now(), NULL, &e)) ==
                -1 ||
            (started && c0.unbuildable + c0.held > 0 &&
             store_ledger_requeue_unbuildable(st, cid, &requeued, &e) == -1) ||
            (started && ts != NULL &&
             store_campaign_refreeze(st, cid, ts, &e) == -1) ||
            store_commit(st, &e) == -1) {
            store_rollback(st);
            free(ts);
            code = cmd_fail(&e);
            goto out;
        }
        if (started && ts != NULL) {
            struct tmpl *t = j.tmpl;
            j.tmpl = today;
            today = t;
            log_warnx("campaign %s: its template's files changed since it "
                      "started (%s): the recipients left to send get them "
                      "from now on",
                      campaign, j.tmpl->path);
        }
        if (started && requeued > 0 && c0.held == 0)
            log_warnx("campaign %s: %ld recipient%s whose message could not "
                      "be built %s queued again",
                      campaign, requeued, requeued == 1 ? "" : "s",
                      requeued == 1 ? "is" : "are");
        else if (started && requeued > 0)
            log_warnx("campaign %s: %ld recipient%s held or unbuildable "
                      "before %s queued again",
                      campaign, requeued, requeued == 1 ? "" : "s",
                      requeued == 1 ? "is" : "are");
        free(ts);
    }
    if (!started) {
        /* a pause or a cancel from another shell landed after this
         * send read the campaign: it wins, nothing was frozen or sent */
        log_warnx("campaign %s was paused or cancelled while this send "
                  "started: nothing sent",
                  campaign);
        code = EX_TEMPFAIL;
        goto out;
    }

    {
        struct queue_params qp;
        struct breaker_limits brk;
        struct queue_summary sum;
        struct store_counts cnt;
        struct allowance allow;
        const char *stopped;
        int64_t due = 0;

        memset(&qp, 0, sizeof qp);
        qp.st = st;
        qp.db_path = ctx->db_path;
        qp.campaign_id = cid;
        qp.campaign = campaign;
        qp.comp = d.comp;
        qp.relay = &rp;
        qp.max = max;
        qp.interrupted = &interrupted;
        qp.progress = isatty(STDERR_FILENO) && !ctx->quiet;
        brk.hard = j.cfg.bounces.breaker_hard;
        brk.complaint = j.cfg.bounces.breaker_complaint;
        brk.min = j.cfg.bounces.breaker_min;
        qp.breaker = &brk;
        qp.soft_limit = j.cfg.bounces.soft_limit;
        qp.soft_days = j.cfg.bounces.soft_days;
        qp.stop_at = stop_at;

        /* the daily cap and warm-up of the sending domain */
        memset(&allow, 0, sizeof allow);
        allow.domain = sending_domain(d.comp);
        if (store_campaign_set_sender(st, cid, allow.domain, &e) == -1 ||
            (rc = allowance_take(st, &j.cfg.limits, tz, cid, campaign, max,
                                 &allow, &e)) == -1) {
            code = cmd_fail(&e);
            goto out;
        }
        if (rc == 0)
            goto out;
        /* never more than reserved: a message tried twice in the run (a
         * connection lost before its reply) counts twice */
        if (allow.on)
            qp.max = allow.reserved;

        catch_signals();
        rc = queue_send(&qp, &sum, &e);
        if (rc == -1)
            code = cmd_fail(&e);
        /* what the reservation did not use goes back to the day */
        if (allow.on && sum.attempted != allow.reserved &&
            store_daily_add(st, allow.domain, allow.day,
                            sum.attempted - allow.reserved, &e) == -1)
            code = cmd_fail(&e);
        if (store_ledger_counts(st, cid, &cnt, &e) == -1 ||
            store_ledger_next_due(st, cid, &due, &e) == -1) {
            code = cmd_fail(&e);
            goto out;
        }
        const char *status = "sending";
        char expired[48];
        if (sum.stop == QUEUE_PAUSED || sum.stop == QUEUE_MESSAGE_REFUSED)
            status = "paused";
        else if (sum.stop == QUEUE_CANCELLED)
            status = "cancelled";
        else if (cnt.queued + cnt.sending + cnt.deferred + cnt.uncertain_retry +
                         cnt.unbuildable + cnt.held ==
                     0 &&
                 rc == 0)
            status = "done";
        if (store_campaign_finish(st, cid, status,
                                  strcmp(status, "done") == 0 ||
                                          strcmp(status, "cancelled") == 0
                                      ? clock_now()
                                      : 0,
                                  &e) == -1)
            code = cmd_fail(&e);
        /* expired and unbuildable only when some did: they are rare,
         * and scripts read the fields before them */
        char ub[48] = "", lub[48] = "", hd[48] = "", lhd[48] = "";
        snprintf(expired, sizeof expired, ", expired %ld", sum.expired);
        if (sum.unbuildable > 0)
            snprintf(ub, sizeof ub, ", unbuildable %ld", sum.unbuildable);
        if (cnt.unbuildable > 0)
            snprintf(lub, sizeof lub, ", %ld unbuildable", cnt.unbuildable);
        if (sum.held > 0)
            snprintf(hd, sizeof hd, ", held %ld", sum.held);
        if (cnt.held > 0)
            snprintf(lhd, sizeof lhd, ", %ld held", cnt.held);
        stopped = stop_words[sum.stop];
        if (sum.stop == QUEUE_MAXED && allow.on && allow.binding)
            stopped = " (daily limit reached)";
        else if (sum.stop == QUEUE_MAXED && allow.on && max == 0)
            stopped = ""; /* all it had reserved: what was there */
        printf("campaign %s: sent %ld, deferred %ld, bounced %ld, failed "
               "%ld, skipped %ld, uncertain %ld%s%s%s in %.1f s (%.0f "
               "msg/s)%s\n",
               campaign, sum.sent, sum.deferred, sum.bounced, sum.failed,
               sum.skipped, sum.uncertain, sum.expired > 0 ? expired : "", ub,
               hd, sum.seconds,
               sum.seconds > 0 ? (double)sum.sent / sum.seconds : 0.0, stopped);
        if (sum.stop == QUEUE_MAXED && allow.on && allow.binding)
            printf("campaign %s: daily limit reached (%ld today from %s), "
                   "%ld left for tomorrow\n",
                   campaign, allow.allowed, allow.domain,
                   cnt.queued + cnt.sending + cnt.deferred +
                       cnt.uncertain_retry);
        if (sum.stop == QUEUE_WINDOW) {
            char t[64];
            sched_format(stop_at, tz, t, sizeof t);
            printf("campaign %s: the sending window closed at %s; the next "
                   "run in the window goes on\n",
                   campaign, t);
        }
        snprintf(expired, sizeof expired, ", %ld expired", cnt.expired);
        if (!ctx->run_due)
            printf(
                "ledger: %ld recipients: %ld sent, %ld queued, %ld deferred, "
                "%ld bounced, %ld failed, %ld suppressed, %ld uncertain%s%s%s; "
                "campaign %s\n",
                cnt.recipients, cnt.sent, cnt.queued + cnt.sending,
                cnt.deferred, cnt.bounced_hard + cnt.bounced_soft + cnt.blocked,
                cnt.failed, cnt.skipped, cnt.uncertain,
                cnt.expired > 0 ? expired : "", lub, lhd, status);
        if (sum.unbuildable > 0) {
            fprintf(stderr,
                    "campaign %s: the message of %ld recipient%s could not "
                    "be built (report %s --undelivered says why): fix the "
                    "template or the contacts and run send again, which "
                    "retries them\n",
                    campaign, sum.unbuildable, sum.unbuildable == 1 ? "" : "s",
                    campaign);
            if (code == 0)
                code = EX_DATAERR;
        }
        if (sum.held > 0) {
            fprintf(stderr,
                    "campaign %s: %ld recipient%s held, not sent and not "
                    "bounced (report %s --undelivered says why: a UTF-8 "
                    "address needs a relay that offers SMTPUTF8, a message "
                    "over the relay's SIZE): change the relay or the "
                    "message and run send again, which retries them\n",
                    campaign, sum.held, sum.held == 1 ? "" : "s", campaign);
            if (code == 0)
                code = EX_UNAVAILABLE;
        }
        if (cnt.deferred > 0 && due > 0 && !ctx->run_due) {
            char t[40];
            printf("%ld deferred; the next retry is due at %s: run this "
                   "command again then\n",
                   cnt.deferred, cmd_time(due, t, sizeof t));
        }
        /* interrupted or paused: a later run (after campaign resume)
         * goes on */
        if (code == 0 &&
            (sum.stop == QUEUE_SIGNALLED || sum.stop == QUEUE_PAUSED))
            code = EX_TEMPFAIL;
        if (sum.stop == QUEUE_REFUSED || sum.stop == QUEUE_MESSAGE_REFUSED) {
            const struct queue_refusal *f = &sum.refusal;
            int thawed = 0;
            if (sum.stop == QUEUE_MESSAGE_REFUSED &&
                store_campaign_thaw(st, cid, &thawed, &e) == -1)
                code = cmd_fail(&e);
            fprintf(stderr,
                    "campaign %s: relay %s refused %s at %s: %d%s%s %s\n"
                    "  %s%s%s\n"
                    "  nobody was bounced or suppressed for it: the "
                    "recipients stay queued%s\n",
                    campaign, f->relay,
                    sum.stop == QUEUE_REFUSED ? "us, not the recipients,"
                                              : "the message",
                    f->stage, f->code, f->status[0] ? " " : "", f->status,
                    f->text, f->why ? f->why : "", f->fix ? ": " : "",
                    f->fix ? f->fix : "",
                    sum.stop == QUEUE_MESSAGE_REFUSED
                        ? (thawed ? "; the campaign is paused: change the "
                                    "template, then campaign resume and "
                                    "send again (nobody got this message "
                                    "yet: the next run takes the changed "
                                    "files)"
                                  : "; the campaign is paused: some "
                                    "recipients already got this message, "
                                    "which it keeps; to send another, "
                                    "cancel it and start a new campaign")
                        : "; fix it and run the same command again");
            if (code == 0)
                code = sum.stop == QUEUE_MESSAGE_REFUSED ? EX_DATAERR
                       : f->config                       ? EX_CONFIG
                                                         : EX_UNAVAILABLE;
        }
    }
out:
    for (size_t i = 0; i < CONFIG_RELAY_MAX; i++)
        if (passwords[i])
            freezero(passwords[i], strlen(passwords[i]));
    queue_unlock(lock);
    composer_free(d.comp);
    tmpl_free(today);
    mailjob_close(&j);
    store_close(st);
    free(k.list);
    free(k.data);
    free(k.template_src);
    buf_free(&d.msg);
    buf_free(&d.path);
    return code;
}
