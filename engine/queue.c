/* SPDX-License-Identifier: ISC */
/*
 * queue.c - the ledger in motion (see queue.h for the promises).
 *
 * The relay loop pulls messages through queue_next(); each comes from a
 * claimed batch: rows read, re-checked against suppressions, rendered and
 * signed (compose.h), marked `sending` and committed before the first of
 * them is handed out.  Results come back through queue_result() into a
 * pending list that queue_flush() writes in one transaction, together
 * with the suppression of hard bounces.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "email.h"
#include "log.h"
#include "queue.h"
#include "xalloc.h"

int
queue_lock(const char *db_path, int64_t campaign_id, struct err *e)
{
    char path[4096], pid[32];
    int fd;
    ssize_t n;

    snprintf(path, sizeof path, "%s.campaign-%lld.lock", db_path,
             (long long)campaign_id);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd == -1)
        return err_set(e, EX_CANTCREAT, "%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
        int saved = errno;
        n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        if (saved == EWOULDBLOCK)
            return err_set(e, EX_TEMPFAIL,
                           "another send of this campaign is running (pid "
                           "%s holds %s); try later",
                           pid[0] ? pid : "?", path);
        return err_set(e, EX_TEMPFAIL, "%s: %s", path, strerror(saved));
    }
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == -1 ||
        pwrite(fd, pid, strlen(pid), 0) != (ssize_t)strlen(pid)) {
        close(fd);
        return err_set(e, EX_CANTCREAT, "%s: %s", path, strerror(errno));
    }
    return fd;
}

void
queue_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

int64_t
queue_backoff(int attempts)
{
    int64_t s = 300;

    for (int i = 1; i < attempts && s < 4 * 3600; i++)
        s *= 2;
    return s < 4 * 3600 ? s : 4 * 3600;
}

const char *
queue_classify(int code, const char *status, const char *text)
{
    static const char *const blocked_words[] = {
        "spam",       "block",  "blacklist",       "blocklist",
        "reputation", "policy", "rejected due to", "dmarc",
        "spf",        "dkim",   "listed",
    };
    static const char *const hard_words[] = {
        "user unknown",      "unknown user",        "no such user",
        "does not exist",    "unknown recipient",   "recipient unknown",
        "invalid recipient", "mailbox unavailable", "no mailbox",
        "address rejected",  "no such mailbox",     "not found",
    };

    if (status && strncmp(status, "5.7.", 4) == 0)
        return "blocked";
    if (status &&
        (strncmp(status, "5.1.", 4) == 0 || strcmp(status, "5.2.1") == 0 ||
         strcmp(status, "5.4.4") == 0))
        return "hard";
    if (status && *status)
        return "soft";
    for (size_t i = 0;
         text && i < sizeof blocked_words / sizeof blocked_words[0]; i++)
        if (strcasestr(text, blocked_words[i]))
            return "blocked";
    for (size_t i = 0; text && i < sizeof hard_words / sizeof hard_words[0];
         i++)
        if (strcasestr(text, hard_words[i]))
            return "hard";
    return code == 550 || code == 551 || code == 553 ? "hard" : "soft";
}

/* One claimed recipient, from claim to result. */
struct item {
    int64_t contact_id;
    int64_t claimed_ms; /* when its batch was claimed (relay_now_ms) */
    int attempts;
    int handed; /* given to the relay loop */
    char email[EMAIL_MAX + 1];
    char domain[EMAIL_MAX + 1];
    struct compose_result cr;
    char *data;
    size_t len;
};

/* A result waiting to be written. */
struct pending {
    int64_t contact_id;
    char state[12];
    int code;
    char status[16];
    char text[256];
    const char *bounce_class;
    char message_id[128];
    char relay[64];
    int64_t next_attempt_at;
    int suppress;
    char email[EMAIL_MAX + 1];
};

struct claimed_row {
    int64_t contact_id;
    char *email;
    char *attrs;
    int active;
    int attempts;
};

struct run {
    long planned; /* recipients this run may send, for the ETA */
    const struct queue_params *p;
    struct queue_summary *s;
    struct item *items[QUEUE_BATCH];
    int nitems;
    int next_hand; /* index of the next item to hand out */
    struct pending *pend;
    int npend, cappend;
    struct claimed_row rows[QUEUE_BATCH];
    int nrows;
    long outstanding; /* handed out, no result yet */
    int claim_kind;   /* which claim query is next */
    int exhausted;    /* nothing claimable in this run */
    int reclaim;      /* a result made a row claimable again */
    int stop;         /* stop reason set by tick */
    int64_t last_flush, last_control, last_progress, start_ms;
    int failed; /* a database error: stop */
    struct err err;
    struct buf msg;
};

static int64_t
now_s(void)
{
    return (int64_t)time(NULL);
}

/* write_pending - the pending results (and the suppression of hard
 * bounces) into the open transaction. */
static int
write_pending(struct run *r)
{
    struct err *e = &r->err;
    int64_t now = now_s();

    if (r->npend == 0)
        return 0;
    for (int i = 0; i < r->npend; i++) {
        struct pending *q = &r->pend[i];
        struct store_result res;
        memset(&res, 0, sizeof res);
        res.campaign_id = r->p->campaign_id;
        res.contact_id = q->contact_id;
        res.state = q->state;
        res.code = q->code;
        res.status = q->status;
        res.text = q->text;
        res.bounce_class = q->bounce_class;
        res.message_id = q->message_id[0] ? q->message_id : NULL;
        res.relay = q->relay[0] ? q->relay : NULL;
        res.next_attempt_at = q->next_attempt_at;
        if (strcmp(q->state, "queued") != 0 &&
            strcmp(q->state, "deferred") != 0)
            res.done_at = now;
        if (store_ledger_result(r->p->st, &res, e) == -1)
            goto fail;
        if (q->suppress) {
            uint8_t hash[DIGEST_LEN];
            struct store_suppression sup;
            digest_email(store_hash_salt(r->p->st), q->email, hash);
            sup.hash = hash;
            sup.email = q->email;
            sup.reason = "bounced";
            sup.source = "smtp";
            sup.created_at = now;
            if (store_suppress(r->p->st, &sup, e) == -1)
                goto fail;
        }
    }
    return 0;
fail:
    return -1;
}

/* flush - write the pending results in one transaction. */
static int
flush(struct run *r)
{
    if (r->npend == 0)
        return 0;
    if (store_begin(r->p->st, &r->err) == -1)
        return -1;
    if (write_pending(r) == -1 || store_commit(r->p->st, &r->err) == -1) {
        store_rollback(r->p->st);
        return -1;
    }
    r->npend = 0;
    return 0;
}

static struct pending *
pend_add(struct run *r, int64_t contact, const char *state)
{
    struct pending *q;

    if (r->npend == r->cappend) {
        r->cappend = r->cappend ? r->cappend * 2 : 128;
        r->pend = xreallocarray(r->pend, (size_t)r->cappend, sizeof *r->pend);
    }
    q = &r->pend[r->npend++];
    memset(q, 0, sizeof *q);
    q->contact_id = contact;
    snprintf(q->state, sizeof q->state, "%s", state);
    return q;
}

static void
claim_cb(const struct store_claim_row *row, void *arg)
{
    struct run *r = arg;
    struct claimed_row *c = &r->rows[r->nrows++];

    c->contact_id = row->contact_id;
    c->email = xstrdup(row->email);
    c->attrs = xstrdup(row->attrs ? row->attrs : "{}");
    c->active = strcmp(row->status, "active") == 0;
    c->attempts = row->attempts;
}

static void
item_free(struct item *it)
{
    if (it == NULL)
        return;
    free(it->data);
    free(it);
}

/*
 * claim - the next batch: rows read, rendered, marked sending, committed.
 * Returns the number of items ready (0: nothing claimable), -1 on error.
 */
static int
claim(struct run *r)
{
    const struct queue_params *p = r->p;
    struct err *e = &r->err;
    int64_t now = now_s();
    int room = QUEUE_BATCH, got = 0;

    /* the previous batch is all handed out: compact */
    for (int i = 0; i < r->nitems; i++)
        r->items[i] = NULL;
    r->nitems = r->next_hand = 0;
    if (p->max > 0 && r->s->attempted >= p->max)
        return 0;
    if (p->max > 0 && p->max - r->s->attempted < room)
        room = (int)(p->max - r->s->attempted);

    /* the results so far and the next claim: one transaction, one fsync */
    if (store_begin(p->st, e) == -1)
        return -1;
    if (write_pending(r) == -1)
        goto fail;
    r->nrows = 0;
    while (r->claim_kind <= STORE_CLAIM_UNCERTAIN && r->nrows < room) {
        int want = room - r->nrows;
        int n = store_ledger_claim(p->st, p->campaign_id,
                                   (enum store_claim)r->claim_kind, now, want,
                                   claim_cb, r, e);
        if (n == -1)
            goto fail;
        if (n < want)
            r->claim_kind++; /* this kind is used up for this run */
    }
    for (int i = 0; i < r->nrows; i++) {
        struct claimed_row *c = &r->rows[i];
        struct compose_contact ct;
        struct item *it;
        struct err ce;
        const char *at;

        if (!c->active) {
            /* suppressed after the freeze */
            struct store_result res;
            memset(&res, 0, sizeof res);
            res.campaign_id = p->campaign_id;
            res.contact_id = c->contact_id;
            res.state = "skipped";
            res.text = "suppressed after the campaign started";
            res.done_at = now;
            if (store_ledger_result(p->st, &res, e) == -1)
                goto fail;
            r->s->skipped++;
            continue;
        }
        it = xcalloc(1, sizeof *it);
        it->contact_id = c->contact_id;
        it->claimed_ms = relay_now_ms();
        it->attempts = c->attempts + 1;
        snprintf(it->email, sizeof it->email, "%s", c->email);
        at = strrchr(c->email, '@');
        snprintf(it->domain, sizeof it->domain, "%s", at ? at + 1 : "");
        ct.id = (uint64_t)c->contact_id;
        ct.email = c->email;
        ct.attrs = c->attrs;
        err_clear(&ce);
        if (composer_build(p->comp, &ct, now, &r->msg, &it->cr, &ce) == -1) {
            struct store_result res;
            memset(&res, 0, sizeof res);
            res.campaign_id = p->campaign_id;
            res.contact_id = c->contact_id;
            res.state = "failed";
            res.text = ce.msg;
            res.done_at = now;
            log_warnx("campaign=%s rcpt=<%s>: %s", p->campaign, c->email,
                      ce.msg);
            item_free(it);
            if (store_ledger_result(p->st, &res, e) == -1)
                goto fail;
            r->s->failed++;
            continue;
        }
        it->data = xmalloc(r->msg.len ? r->msg.len : 1);
        memcpy(it->data, r->msg.p, r->msg.len);
        it->len = r->msg.len;
        if (store_ledger_mark_sending(p->st, p->campaign_id, c->contact_id, now,
                                      e) == -1) {
            item_free(it);
            goto fail;
        }
        r->items[r->nitems++] = it;
        got++;
    }
    /* durable before the first MAIL FROM */
    if (store_commit(p->st, e) == -1)
        goto fail;
    r->npend = 0; /* written in the same transaction */
    for (int i = 0; i < r->nrows; i++) {
        free(r->rows[i].email);
        free(r->rows[i].attrs);
    }
    r->nrows = 0;
    return got;
fail:
    store_rollback(p->st);
    for (int i = 0; i < r->nitems; i++) {
        item_free(r->items[i]);
        r->items[i] = NULL;
    }
    r->nitems = 0;
    for (int i = 0; i < r->nrows; i++) {
        free(r->rows[i].email);
        free(r->rows[i].attrs);
    }
    r->nrows = 0;
    return -1;
}

static int
status_cb(const struct store_contact *c, void *arg)
{
    *(int *)arg = strcmp(c->status, "active") == 0;
    return 0;
}

/*
 * still_mailable - an item about to be handed out that was claimed a
 * while ago (a slow rate, a throttled relay) has its contact's status
 * read again, so that a suppression landing meanwhile stops this send:
 * 1 go on, 0 suppressed or forgotten since, -1 database error.
 */
static int
still_mailable(struct run *r, const struct item *it)
{
    int active = 0, rc;

    if (relay_now_ms() - it->claimed_ms < QUEUE_RECHECK_MS)
        return 1;
    rc = store_contact_get(r->p->st, it->email, status_cb, &active, &r->err);
    if (rc == -1)
        return -1;
    return rc == 1 && active;
}

static enum relay_next
queue_next(void *arg, struct relay_msg *m)
{
    struct run *r = arg;
    struct item *it;

    if (r->failed || r->stop)
        return r->outstanding ? RELAY_NONE_NOW : RELAY_DRAINED;
    for (;;) {
        while (r->next_hand >= r->nitems) {
            if (r->exhausted && r->reclaim &&
                !(r->p->max > 0 && r->s->attempted >= r->p->max)) {
                /* rows went back to the queue (the link died before
                 * their dot) or became uncertain: claimable again, now
                 * that claim() is about to flush their results */
                r->reclaim = 0;
                r->exhausted = 0;
                r->claim_kind = STORE_CLAIM_QUEUED;
            }
            if (r->exhausted)
                return r->outstanding ? RELAY_NONE_NOW : RELAY_DRAINED;
            /* items still in flight from the last batch keep their
             * memory: they are owned through the cookie until their
             * result */
            int n = claim(r);
            if (n == -1) {
                r->failed = 1;
                return r->outstanding ? RELAY_NONE_NOW : RELAY_DRAINED;
            }
            if (n == 0 && r->claim_kind > STORE_CLAIM_UNCERTAIN)
                r->exhausted = 1;
            if (n == 0 && r->p->max > 0 && r->s->attempted >= r->p->max) {
                r->exhausted = 1;
                if (r->stop == 0)
                    r->s->stop = QUEUE_MAXED;
            }
        }
        it = r->items[r->next_hand];
        switch (still_mailable(r, it)) {
        case -1:
            /* not handed out: queue_send puts it back in the queue */
            r->failed = 1;
            return r->outstanding ? RELAY_NONE_NOW : RELAY_DRAINED;
        case 0: {
            struct pending *q = pend_add(r, it->contact_id, "skipped");
            snprintf(q->text, sizeof q->text,
                     "suppressed after the campaign started");
            r->items[r->next_hand++] = NULL;
            r->s->skipped++;
            item_free(it);
            continue;
        }
        default:
            break;
        }
        break;
    }
    r->items[r->next_hand++] = NULL; /* owned through the cookie now */
    it->handed = 1;
    r->outstanding++;
    r->s->attempted++;
    m->cookie = (uint64_t)(uintptr_t)it;
    m->mail_from = it->cr.envelope_from;
    m->rcpt = it->email;
    m->domain = it->domain;
    m->data = it->data;
    m->len = it->len;
    return RELAY_GOT;
}

static void
queue_result(void *arg, const struct relay_done *d)
{
    struct run *r = arg;
    struct item *it = (struct item *)(uintptr_t)d->cookie;
    const struct smtp_result *x = &d->r;
    struct pending *q;
    const char *state = "queued";
    int64_t now = now_s();

    r->outstanding--;
    switch (x->outcome) {
    case SMTP_SENT:
        state = "sent";
        r->s->sent++;
        break;
    case SMTP_TEMPFAIL:
        state = it->attempts >= QUEUE_MAX_ATTEMPTS ? "expired" : "deferred";
        r->s->deferred++;
        break;
    case SMTP_PERMFAIL:
        state = "bounced";
        r->s->bounced++;
        break;
    case SMTP_UNCERTAIN:
        state = "uncertain";
        r->s->uncertain++;
        r->reclaim = 1; /* owed its one retry, in this run */
        break;
    case SMTP_NOT_SENT:
        /* safe to try again: back in the queue, unless it keeps failing */
        state = it->attempts >= 10 ? "deferred" : "queued";
        r->s->requeued++;
        r->reclaim = 1; /* after a reconnect, in this run */
        break;
    }
    q = pend_add(r, it->contact_id, state);
    q->code = x->code;
    snprintf(q->status, sizeof q->status, "%s", x->status);
    if (x->outcome == SMTP_NOT_SENT && x->text[0] == '\0')
        snprintf(q->text, sizeof q->text, "not sent: connection ended at %s",
                 smtp_stage_str(x->stage));
    else
        snprintf(q->text, sizeof q->text, "%s", x->text);
    snprintf(q->message_id, sizeof q->message_id, "%s", it->cr.message_id);
    snprintf(q->relay, sizeof q->relay, "%s", d->relay ? d->relay : "");
    snprintf(q->email, sizeof q->email, "%s", it->email);
    if (strcmp(state, "deferred") == 0)
        q->next_attempt_at = now + queue_backoff(it->attempts);
    if (x->outcome == SMTP_PERMFAIL) {
        q->bounce_class = queue_classify(x->code, x->status, x->text);
        q->suppress = strcmp(q->bounce_class, "hard") == 0;
    }
    if (x->outcome != SMTP_SENT && log_get_level() >= LOG_VERBOSE)
        log_debug("campaign=%s rcpt=<%s> %s: %d %s %s", r->p->campaign,
                  it->email, state, x->code, x->status, x->text);
    item_free(it);
}

static void
progress(struct run *r, int64_t now_ms, int final)
{
    struct queue_summary *s = r->s;
    double secs = (double)(now_ms - r->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)s->sent / secs : 0;
    long done = s->sent + s->deferred + s->bounced + s->failed + s->skipped +
                s->uncertain;
    long left = r->planned > done ? r->planned - done : 0;
    char eta[32] = "";

    if (!final && rate > 0 && left > 0)
        snprintf(eta, sizeof eta, "  ETA %lds", (long)((double)left / rate));
    fprintf(stderr,
            "\r\033[Ksent %ld/%ld  deferred %ld  bounced %ld  failed %ld  "
            "%.0f/s%s%s",
            s->sent, r->planned, s->deferred, s->bounced, s->failed, rate, eta,
            final ? "\n" : "");
    fflush(stderr);
}

static int
queue_tick(void *arg, int64_t now_ms)
{
    struct run *r = arg;

    if (now_ms - r->last_flush >= QUEUE_FLUSH_MS || r->npend >= QUEUE_BATCH) {
        if (flush(r) == -1)
            r->failed = 1;
        r->last_flush = now_ms;
    }
    if (now_ms - r->last_control >= 1000) {
        char control[16];
        struct err e;
        r->last_control = now_ms;
        if (store_campaign_control(r->p->st, r->p->campaign_id, control,
                                   sizeof control, &e) == 0) {
            if (strcmp(control, "pause") == 0)
                r->stop = QUEUE_PAUSED;
            else if (strcmp(control, "cancel") == 0)
                r->stop = QUEUE_CANCELLED;
        }
    }
    if (r->p->interrupted && *r->p->interrupted)
        r->stop = QUEUE_SIGNALLED;
    if (r->p->progress && now_ms - r->last_progress >= 250) {
        r->last_progress = now_ms;
        progress(r, now_ms, 0);
    }
    if (r->stop && r->s->stop == QUEUE_DONE)
        r->s->stop = (enum queue_stop)r->stop;
    return r->stop != 0 || r->failed;
}

int
queue_send(const struct queue_params *p, struct queue_summary *s, struct err *e)
{
    struct run r;
    struct relay_source src;
    struct store_counts cnt;
    long recovered = 0;
    int rc;

    memset(s, 0, sizeof *s);
    memset(&r, 0, sizeof r);
    r.p = p;
    r.s = s;
    buf_init(&r.msg, 0);
    if (store_begin(p->st, e) == -1)
        return -1;
    if (store_ledger_recover(p->st, p->campaign_id, &recovered, e) == -1 ||
        store_commit(p->st, e) == -1) {
        store_rollback(p->st);
        return -1;
    }
    if (recovered > 0)
        log_warnx("campaign %s: %ld recipients were being sent when the last "
                  "run stopped; each is tried once more as uncertain, with "
                  "the same Message-ID",
                  p->campaign, recovered);
    /* for the progress line's ETA: what this run may send */
    if (p->progress && store_ledger_counts(p->st, p->campaign_id, &cnt, e) == 0)
        r.planned = cnt.queued + cnt.uncertain_retry;
    if (p->max > 0 && r.planned > p->max)
        r.planned = p->max;

    src.next = queue_next;
    src.result = queue_result;
    src.tick = queue_tick;
    src.arg = &r;
    r.start_ms = r.last_flush = r.last_control = relay_now_ms();
    rc = relay_run(p->relay, &src, &s->relay, e);
    /* every handed-out message has its result: record them all */
    if (flush(&r) == -1) {
        *e = r.err;
        rc = -1;
    } else if (r.failed) {
        *e = r.err;
        rc = -1;
    }
    /* a claimed batch not handed out goes back to the queue */
    for (int i = r.next_hand; i < r.nitems; i++) {
        struct item *it = r.items[i];
        struct pending *q = pend_add(&r, it->contact_id, "queued");
        snprintf(q->text, sizeof q->text, "not sent: the run stopped first");
        item_free(it);
    }
    if (r.npend > 0 && flush(&r) == -1 && rc == 0) {
        *e = r.err;
        rc = -1;
    }
    /* the database cannot be written (a full disk): say what that costs */
    if (r.npend > 0)
        log_warnx("campaign %s: the results of %d recipients could not be "
                  "recorded; they stay `sending`, and the next run sends "
                  "each once more as uncertain, with the same Message-ID",
                  p->campaign, r.npend);
    if (p->progress)
        progress(&r, relay_now_ms(), 1);
    s->seconds = (double)(relay_now_ms() - r.start_ms) / 1000.0;
    free(r.pend);
    buf_free(&r.msg);
    return rc;
}
