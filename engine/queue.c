/* SPDX-License-Identifier: ISC */
/*
 * queue.c - the ledger in motion (see queue.h for the promises).
 *
 * The relay loop pulls messages through queue_next(); each comes from a
 * claimed batch: rows read, re-checked against suppressions, marked
 * `sending` and committed before any of them is rendered, signed
 * (compose.h) and handed out.  Results come back through queue_result()
 * into a pending list that is written, with the suppression of hard
 * bounces, in the transaction of the next claim (or alone every
 * QUEUE_FLUSH_MS).  Claims, commits and composing run on a second thread
 * (see struct run) so that the loop never waits for an fsync.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "provider.h"
#include "email.h"
#include "journal.h"
#include "log.h"
#include "clock.h"
#include "queue.h"
#include "reply.h"
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

/* One claimed recipient, from claim to result. */
struct item {
    int64_t contact_id;
    int64_t claimed_ms; /* when its batch was claimed (relay_now_ms) */
    int attempts;
    int slot; /* its journal slot once handed out, else -1 */
    char email[EMAIL_MAX + 1];
    char domain[EMAIL_MAX + 1];
    const char *provider; /* its group (provider.h), or NULL */
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
    char text[512]; /* a reply's text, or an error message (struct err) */
    const char *bounce_class;
    char message_id[128];
    char relay[64];
    int64_t next_attempt_at;
    int suppress;
    int release; /* claimed, never handed out: undo the claim (2: keeping
                    an earlier reply as the last text) */
    int slot;    /* the journal slot to free once this is committed */
    char email[EMAIL_MAX + 1];
};

struct pendlist {
    struct pending *v;
    int n, cap;
};

/*
 * The summary counts recipients, each in its last state of the run, not
 * attempts: a recipient counted `uncertain` (the link died after its dot)
 * is owed its retry in the same run, and the retry's result replaces that
 * count.  These are the contact ids counted uncertain so far: a set with
 * open addressing (ids are positive; 0 is an empty slot, -1 a removed
 * one), which grows only with the run's uncertain recipients.
 */
struct idset {
    int64_t *v;
    size_t cap, used; /* used: ids and removed slots */
};

static size_t
idset_slot(const struct idset *t, int64_t id)
{
    uint64_t h = (uint64_t)id * UINT64_C(0x9e3779b97f4a7c15);

    return (size_t)(h >> 32) & (t->cap - 1);
}

/* idset_find - id's slot, or -1 when id is not in the set. */
static long
idset_find(const struct idset *t, int64_t id)
{
    if (t->cap == 0)
        return -1;
    for (size_t i = idset_slot(t, id);; i = (i + 1) & (t->cap - 1)) {
        if (t->v[i] == 0)
            return -1;
        if (t->v[i] == id)
            return (long)i;
    }
}

/* idset_take - 1 (and id removed) when id is in the set, else 0. */
static int
idset_take(struct idset *t, int64_t id)
{
    long i = idset_find(t, id);

    if (i == -1)
        return 0;
    t->v[i] = -1;
    return 1;
}

static void
idset_add(struct idset *t, int64_t id)
{
    size_t i;

    if (2 * (t->used + 1) > t->cap) {
        /* grow (at most half full), dropping the removed slots */
        struct idset n = {NULL, t->cap ? t->cap * 2 : 64, 0};
        n.v = xcalloc(n.cap, sizeof *n.v);
        for (size_t k = 0; k < t->cap; k++)
            if (t->v[k] > 0)
                idset_add(&n, t->v[k]);
        free(t->v);
        *t = n;
    }
    for (i = idset_slot(t, id); t->v[i] != 0; i = (i + 1) & (t->cap - 1))
        if (t->v[i] == id)
            return;
    t->v[i] = id;
    t->used++;
}

struct claimed_row {
    int64_t contact_id;
    char *email;
    char *attrs;
    int active;
    int attempts;
    char message_id[128]; /* store_claim_row's, or "" */
};

/*
 * Two threads share a run.  The loop thread (relay_run: the connections,
 * queue_next, queue_result, queue_tick) never waits for the disk; the
 * feeder thread owns a second database connection and the composer, and
 * does everything that commits or renders: it writes the results the
 * loop collected, claims the next batch in the same transaction, commits
 * (synchronous=FULL: the fsync happens here, while the loop sends the
 * batch before), and only then renders and signs the claimed rows, one at
 * a time, into the ready list the loop hands out from.  It keeps about
 * one batch ahead of the loop, so the rows claimed but not yet handed out
 * (those a crash turns `uncertain`) stay within two batches.
 *
 * Everything between the two lines marked "under mu" is shared and read
 * or written only with the mutex held.  The loop sleeps in poll(); the
 * feeder wakes it through a pipe when the loop found nothing ready.
 */
struct run {
    long planned; /* recipients this run may send, for the ETA */
    const struct queue_params *p;
    struct queue_summary *s;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* the feeder waits on it for work */
    /* ---- under mu ---- */
    struct item **ready; /* composed, in claim order: a ring */
    int rhead, rcount, rcap;
    int composing;        /* claimed and committed, not yet in ready */
    int handing;          /* taken from ready, not yet handed out */
    struct pendlist pend; /* results for the feeder to write */
    int want_flush;       /* the loop's tick: write the results now */
    int starved;          /* the loop found nothing ready: wake it */
    int held;             /* the loop held back for the results: wake it */
    int feeder_stop;      /* queue_send: no more claims */
    int exhausted;        /* nothing claimable in this run (so far) */
    int reclaim;          /* a result made a row claimable again */
    int failed;           /* a database error: stop */
    int halted;           /* the loop stops (its stop, seen): no claims */
    struct err err;
    long attempted;         /* handed out (s->attempted, kept here) */
    int batch;              /* rows the next claim takes (QUEUE_BATCH..MAX) */
    struct idset uncertain; /* counted uncertain in s (struct idset) */
    struct idset was_uncertain; /* made uncertain in this run */
    struct journal *jr;         /* its slots (journal.h); its records are
                                   written by the loop alone */
    /* ---- end of what mu guards ---- */

    /* the feeder's own */
    struct store *fst;
    struct providers *prov; /* recipient domains' providers (MX lookups
                               block: here, never on the loop); NULL when
                               no provider.NAME rate needs them */
    pthread_t feeder;
    int feeder_running;
    int claim_kind; /* which claim query is next */
    int freezing;   /* the campaign's freeze is not complete */
    int fed;        /* claims in a row that the loop did not wait for */
    struct claimed_row rows[QUEUE_BATCH_MAX];
    int nrows;
    struct buf msg;

    /* the loop's own */
    int wake[2];      /* pipe: the feeder writes a byte, poll() wakes */
    long outstanding; /* handed out, no result yet */
    int stop;         /* stop reason set by tick */
    int64_t last_flush, last_control, last_progress, start_ms;
    long breaker_seen; /* s->bounced at the breaker's last check */
};

static int64_t
now_s(void)
{
    return clock_now();
}

/* recount - (under mu) a recipient has a new last state in this run: if
 * it was counted uncertain, that count goes (the caller counts the new
 * state). */
static void
recount(struct run *r, int64_t contact)
{
    if (idset_take(&r->uncertain, contact))
        r->s->uncertain--;
}

/* released - (under mu) a claim undone: the row is as before the claim,
 * which for a recipient made uncertain in this run is uncertain again
 * (S_RELEASE: its retry was claimed), whatever was counted since. */
static void
released(struct run *r, int64_t contact)
{
    if (idset_find(&r->was_uncertain, contact) != -1 &&
        idset_find(&r->uncertain, contact) == -1) {
        r->s->uncertain++;
        idset_add(&r->uncertain, contact);
    }
}

static struct pending *
pend_add(struct pendlist *l, int64_t contact, const char *state)
{
    struct pending *q;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 128;
        l->v = xreallocarray(l->v, (size_t)l->cap, sizeof *l->v);
    }
    q = &l->v[l->n++];
    memset(q, 0, sizeof *q);
    q->slot = -1;
    q->contact_id = contact;
    snprintf(q->state, sizeof q->state, "%s", state);
    return q;
}

/* pend_move - append every result of src to dst; src becomes empty. */
static void
pend_move(struct pendlist *dst, struct pendlist *src)
{
    for (int i = 0; i < src->n; i++)
        *pend_add(dst, 0, "") = src->v[i];
    src->n = 0;
}

/* suppress_bounced - the address, for a bounce (source: why) */
static int
suppress_bounced(struct store *st, const char *email, const char *source,
                 int64_t now, struct err *e)
{
    uint8_t hash[DIGEST_LEN];
    struct store_suppression sup;

    digest_email(store_hash_salt(st), email, hash);
    memset(&sup, 0, sizeof sup);
    sup.hash = hash;
    sup.email = email;
    sup.reason = "bounced";
    sup.source = source;
    sup.created_at = now;
    return store_suppress(st, &sup, e);
}

/* write_pending - the results of l (and the suppression of hard bounces)
 * into the transaction open on st. */
static int
write_pending(struct run *r, struct store *st, const struct pendlist *l,
              struct err *e)
{
    int64_t now = now_s();

    for (int i = 0; i < l->n; i++) {
        const struct pending *q = &l->v[i];
        struct store_result res;

        if (q->release) {
            if (store_ledger_release(st, r->p->campaign_id, q->contact_id,
                                     q->text, q->release == 2, q->code,
                                     q->status, e) == -1)
                return -1;
            continue;
        }
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
        if (store_ledger_result(st, &res, e) == -1)
            return -1;
        /* a soft bounce suppresses at the soft limit ([bounces]
         * soft_limit within soft_days, with those that came back by
         * mail: the row just written counts) */
        if (!q->suppress && r->p->soft_limit > 0 &&
            strcmp(q->state, "bounced") == 0 && q->bounce_class &&
            strcmp(q->bounce_class, "soft") == 0) {
            long n;
            if (store_soft_bounces(st, q->contact_id,
                                   (now - (int64_t)r->p->soft_days * 86400) *
                                       1000,
                                   0, &n, e) == -1)
                return -1;
            if (n >= r->p->soft_limit &&
                suppress_bounced(st, q->email, "soft bounces", now, e) == -1)
                return -1;
        }
        if (q->suppress && suppress_bounced(st, q->email, "smtp", now, e) == -1)
            return -1;
    }
    return 0;
}

/* free_slots - (under mu) the results of l are committed: their journal
 * slots may be reused. */
static void
free_slots(struct run *r, const struct pendlist *l)
{
    for (int i = 0; i < l->n; i++)
        journal_free(r->jr, l->v[i].slot);
}

/* commit_results - the results of l in a transaction of their own on st;
 * -1 with nothing kept. */
static int
commit_results(struct run *r, struct store *st, const struct pendlist *l,
               struct err *e)
{
    if (store_begin(st, e) == -1)
        return -1;
    if (write_pending(r, st, l, e) == -1 || store_commit(st, e) == -1) {
        store_rollback(st);
        return -1;
    }
    return 0;
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
    snprintf(c->message_id, sizeof c->message_id, "%s",
             row->message_id ? row->message_id : "");
}

static void
item_free(struct item *it)
{
    if (it == NULL)
        return;
    free(it->data);
    free(it);
}

static void
rows_free(struct run *r)
{
    for (int i = 0; i < r->nrows; i++) {
        free(r->rows[i].email);
        free(r->rows[i].attrs);
    }
    r->nrows = 0;
}

/* wake_loop - (under mu) wake the loop's poll() if it waits for us. */
static void
wake_loop(struct run *r)
{
    if (r->starved || r->held) {
        r->starved = r->held = 0;
        /* a full pipe already holds a wake-up: EAGAIN is fine */
        if (write(r->wake[1], "", 1) == -1 && errno != EAGAIN) {
            /* never mind: the loop's tick polls every 100 ms anyway */
        }
    }
}

/* need_items - (under mu) should the feeder claim another batch: at most
 * one claim ahead of the loop, and not past --max. */
static int
need_items(const struct run *r)
{
    long ahead = (long)r->rcount + r->composing;

    if (r->exhausted || r->feeder_stop || r->failed || r->halted)
        return 0;
    if (r->p->max > 0 && r->attempted + ahead >= r->p->max)
        return 0;
    return ahead < r->batch;
}

/* feeder_fail - (under mu) a database error stops the run. */
static void
feeder_fail(struct run *r, const struct err *e)
{
    if (!r->failed) {
        r->failed = 1;
        r->err = *e;
    }
    r->starved = 1;
    wake_loop(r);
}

/*
 * claim - one transaction: the results in res, then up to room rows
 * claimed and marked sending (a contact suppressed since the freeze is
 * recorded as skipped instead); committed, durable before any of them is
 * handed out.  The claimed rows are left in r->rows for compose_rows.
 * Returns the number of rows claimed for sending, or -1 (nothing of the
 * transaction kept).
 */
static int
claim(struct run *r, const struct pendlist *res, int room, long *skipped,
      struct err *e)
{
    const struct queue_params *p = r->p;
    int64_t now = now_s();
    int got = 0, freezing = r->freezing, chunks = 0;

    *skipped = 0;
    if (store_begin(r->fst, e) == -1)
        return -1;
    if (write_pending(r, r->fst, res, e) == -1)
        goto fail;
    r->nrows = 0;
    while (room > 0 && r->claim_kind <= STORE_CLAIM_UNCERTAIN &&
           r->nrows < room) {
        int want = room - r->nrows;
        int n = store_ledger_claim(r->fst, p->campaign_id,
                                   (enum store_claim)r->claim_kind, now, want,
                                   claim_cb, r, e);
        if (n == -1)
            goto fail;
        if (n < want && r->claim_kind == STORE_CLAIM_QUEUED && freezing) {
            /* the queued rows are used up, the freeze is not: the next
             * chunk, then claim again - only when nothing is claimed yet
             * (rows are marked sending below: claimed again, a row would
             * be sent twice), and after a few chunks of suppressed
             * members the next claim goes on */
            if (r->nrows > 0 || chunks++ == QUEUE_FREEZE_CLAIM)
                break;
            if (store_ledger_freeze_more(r->fst, p->campaign_id, now,
                                         QUEUE_FREEZE, &freezing, e) == -1)
                goto fail;
            continue;
        }
        if (n < want)
            r->claim_kind++; /* this kind is used up for this run */
    }
    for (int i = 0; i < r->nrows; i++) {
        struct claimed_row *c = &r->rows[i];

        if (!c->active) {
            /* suppressed after the freeze */
            struct store_result sr;
            memset(&sr, 0, sizeof sr);
            sr.campaign_id = p->campaign_id;
            sr.contact_id = c->contact_id;
            sr.state = "skipped";
            sr.text = "suppressed after the campaign started";
            sr.done_at = now;
            if (store_ledger_result(r->fst, &sr, e) == -1)
                goto fail;
            ++*skipped;
            continue;
        }
        if (store_ledger_mark_sending(r->fst, p->campaign_id, c->contact_id,
                                      now, e) == -1)
            goto fail;
        got++;
    }
    /* durable before the first MAIL FROM */
    if (store_commit(r->fst, e) == -1)
        goto fail;
    r->freezing = freezing;
    return got;
fail:
    store_rollback(r->fst);
    rows_free(r);
    return -1;
}

/* flush_results - (feeder, mu not held) write the results collected so
 * far in a transaction of their own, when the loop waits for that or
 * QUEUE_RESULTS are due: composing a large batch must not hold them back.
 * -1 after a database error (the run stops; the results stay in pend). */
static int
flush_results(struct run *r, struct pendlist *tmp)
{
    struct err e;

    pthread_mutex_lock(&r->mu);
    if (!(r->held || r->pend.n >= QUEUE_RESULTS ||
          (r->want_flush && r->pend.n > 0)) ||
        r->failed) {
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    r->want_flush = 0;
    pend_move(tmp, &r->pend);
    pthread_mutex_unlock(&r->mu);
    err_clear(&e);
    int rc = commit_results(r, r->fst, tmp, &e);
    pthread_mutex_lock(&r->mu);
    if (rc == -1) {
        pend_move(&r->pend, tmp);
        feeder_fail(r, &e);
    } else {
        free_slots(r, tmp);
    }
    tmp->n = 0;
    wake_loop(r);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/*
 * compose_rows - render and sign the claimed rows one by one into the
 * ready list (the loop may start on the first while the others are
 * built); a row that cannot be built becomes an `unbuildable` result
 * (with the reason), which a later send queues again.
 */
static void
compose_rows(struct run *r)
{
    const struct queue_params *p = r->p;
    int64_t now = now_s(), claimed_ms = relay_now_ms();
    struct pendlist tmp = {NULL, 0, 0};

    for (int i = 0; i < r->nrows; i++) {
        struct claimed_row *c = &r->rows[i];
        struct compose_contact ct;
        struct item *it;
        struct err ce;

        if (!c->active)
            continue;
        (void)flush_results(r, &tmp);
        it = xcalloc(1, sizeof *it);
        it->slot = -1;
        it->contact_id = c->contact_id;
        it->claimed_ms = claimed_ms;
        it->attempts = c->attempts + 1;
        snprintf(it->email, sizeof it->email, "%s", c->email);
        ct.id = (uint64_t)c->contact_id;
        ct.email = c->email;
        ct.attrs = c->attrs;
        ct.message_id = c->message_id[0] ? c->message_id : NULL;
        err_clear(&ce);
        if (composer_build(p->comp, &ct, now, &r->msg, &it->cr, &ce) == -1) {
            log_warnx("campaign=%s rcpt=<%s>: %s", p->campaign, c->email,
                      ce.msg);
            pthread_mutex_lock(&r->mu);
            /* not final: a later send retries it, once the template
             * or the contact is fixed */
            struct pending *q =
                pend_add(&r->pend, c->contact_id, "unbuildable");
            snprintf(q->text, sizeof q->text, "%s", ce.msg);
            recount(r, c->contact_id);
            r->s->unbuildable++;
            r->composing--;
            wake_loop(r); /* it may be waiting for this one */
            pthread_mutex_unlock(&r->mu);
            item_free(it);
            continue;
        }
        if (it->cr.held[0] != '\0') {
            /* built, but with no address the wire takes: held, as the
             * client holds what it refuses (queue_result) */
            log_warnx("campaign=%s msg=%s rcpt=<%s>: held: %s", p->campaign,
                      it->cr.message_id, c->email, it->cr.held);
            pthread_mutex_lock(&r->mu);
            struct pending *q = pend_add(&r->pend, c->contact_id, "held");
            snprintf(q->text, sizeof q->text, "%s", it->cr.held);
            recount(r, c->contact_id);
            r->s->held++;
            r->composing--;
            wake_loop(r);
            pthread_mutex_unlock(&r->mu);
            item_free(it);
            continue;
        }
        /* the throttle's domain: A-labels, as [limits] domain.X keys
         * are, whatever the address's wire form */
        {
            const char *why;
            if (email_domain_alabels(email_domain(it->cr.rcpt), it->domain,
                                     &why) == -1)
                snprintf(it->domain, sizeof it->domain, "%s",
                         email_domain(it->cr.rcpt));
        }
        if (r->prov != NULL)
            it->provider = providers_resolve(r->prov, it->domain);
        it->data = xmalloc(r->msg.len ? r->msg.len : 1);
        memcpy(it->data, r->msg.p, r->msg.len);
        it->len = r->msg.len;
        pthread_mutex_lock(&r->mu);
        if (r->rcount == r->rcap) {
            /* grow the ring, unrolled into the new array */
            int cap = r->rcap ? r->rcap * 2 : 2 * QUEUE_BATCH_MAX;
            struct item **v = xreallocarray(NULL, (size_t)cap, sizeof *v);
            for (int k = 0; k < r->rcount; k++)
                v[k] = r->ready[(r->rhead + k) % r->rcap];
            free(r->ready);
            r->ready = v;
            r->rcap = cap;
            r->rhead = 0;
        }
        r->ready[(r->rhead + r->rcount) % r->rcap] = it;
        r->rcount++;
        r->composing--;
        wake_loop(r);
        pthread_mutex_unlock(&r->mu);
    }
    free(tmp.v);
    rows_free(r);
}

/* feeder - the feeder thread: results out, claims in, messages built. */
static void *
feeder(void *arg)
{
    struct run *r = arg;
    struct pendlist res = {NULL, 0, 0};
    struct err e;

    pthread_mutex_lock(&r->mu);
    for (;;) {
        int room, n;
        long skipped = 0;

        while (!r->feeder_stop && !r->failed && !need_items(r) &&
               r->pend.n < QUEUE_RESULTS && !(r->want_flush && r->pend.n > 0) &&
               !(r->exhausted && r->reclaim))
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->feeder_stop || r->failed)
            break;
        if (r->exhausted && r->reclaim) {
            /* rows went back to the queue (the link died before their
             * dot) or became uncertain: claimable again once their
             * results, in this transaction, are written (not past
             * --max) */
            if (!(r->p->max > 0 && r->attempted >= r->p->max)) {
                r->exhausted = 0;
                r->claim_kind = STORE_CLAIM_QUEUED;
            }
            r->reclaim = 0;
        }
        r->want_flush = 0;
        pend_move(&res, &r->pend);
        /* the loop waited for the last claim: claim more at once; eight
         * claims it did not wait for: fewer */
        if (need_items(r)) {
            if (r->starved && r->attempted > 0) {
                r->fed = 0;
                if (r->batch < QUEUE_BATCH_MAX)
                    r->batch *= 2;
            } else if (++r->fed >= 8 && r->batch > QUEUE_BATCH) {
                r->fed = 0;
                r->batch /= 2;
            }
        }
        room = 0;
        if (need_items(r)) {
            long left = r->p->max > 0 ? r->p->max - r->attempted - r->rcount -
                                            r->composing - r->handing
                                      : r->batch;
            room = left < r->batch ? (int)left : r->batch;
        }
        pthread_mutex_unlock(&r->mu);

        err_clear(&e);
        n = room > 0 || res.n > 0 ? claim(r, &res, room, &skipped, &e) : 0;

        pthread_mutex_lock(&r->mu);
        if (n == -1) {
            /* the results stay for the last flush of queue_send */
            pend_move(&r->pend, &res);
            feeder_fail(r, &e);
            break;
        }
        free_slots(r, &res);
        res.n = 0;
        if (r->held)
            wake_loop(r);
        r->s->skipped += skipped;
        for (int i = 0; skipped > 0 && i < r->nrows; i++)
            if (!r->rows[i].active)
                recount(r, r->rows[i].contact_id);
        if (room > 0 && n + skipped == 0 &&
            r->claim_kind > STORE_CLAIM_UNCERTAIN) {
            r->exhausted = 1;
            r->starved = 1; /* the loop decides whether it is done */
            wake_loop(r);
        }
        r->composing += n;
        pthread_mutex_unlock(&r->mu);

        compose_rows(r);

        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    free(res.v);
    return NULL;
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
still_mailable(struct run *r, const struct item *it, struct err *e)
{
    int active = 0, rc;

    if (relay_now_ms() - it->claimed_ms < QUEUE_RECHECK_MS)
        return 1;
    rc = store_contact_get(r->p->st, it->email, status_cb, &active, e);
    if (rc == -1)
        return -1;
    return rc == 1 && active;
}

/* maxed - (under mu) --max is reached: the run's stop says so */
static int
maxed(struct run *r)
{
    if (r->p->max <= 0 || r->attempted < r->p->max)
        return 0;
    if (r->s->stop == QUEUE_DONE)
        r->s->stop = QUEUE_MAXED;
    return 1;
}

/* drained - (under mu) nothing is being built, nothing is claimable, and
 * no result can change that: with nothing ready, no message will come */
static int
drained(const struct run *r)
{
    return r->exhausted && r->composing == 0 && !r->reclaim;
}

static enum relay_next
queue_next(void *arg, struct relay_msg *m)
{
    struct run *r = arg;
    struct item *it;
    struct err e;

    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (r->failed || r->stop || maxed(r))
            goto none;
        if (r->pend.n >= QUEUE_RESULTS_MAX) {
            /* the results are not being written (the feeder composes,
             * waits for an fsync or a busy database): nothing more goes
             * out whose result could not be recorded */
            r->held = 1;
            pthread_cond_signal(&r->cv);
            pthread_mutex_unlock(&r->mu);
            return RELAY_NONE_NOW;
        }
        if (r->rcount == 0) {
            /* done when nothing is ready, nothing is being built,
             * nothing is claimable, and no result can change that */
            if (drained(r)) {
                pthread_mutex_unlock(&r->mu);
                return r->outstanding ? RELAY_AWAITING : RELAY_DRAINED;
            }
            r->starved = 1;
            pthread_cond_signal(&r->cv);
            pthread_mutex_unlock(&r->mu);
            return RELAY_NONE_NOW;
        }
        it = r->ready[r->rhead];
        r->rhead = (r->rhead + 1) % r->rcap;
        r->rcount--;
        r->handing++;
        if (need_items(r))
            pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);

        err_clear(&e);
        switch (still_mailable(r, it, &e)) {
        case -1:
            pthread_mutex_lock(&r->mu);
            r->handing--;
            /* not handed out: back to the queue */
            pend_add(&r->pend, it->contact_id, "queued")->release = 1;
            released(r, it->contact_id);
            if (!r->failed) {
                r->failed = 1;
                r->err = e;
            }
            item_free(it);
            goto none;
        case 0: {
            struct pending *q;
            pthread_mutex_lock(&r->mu);
            r->handing--;
            q = pend_add(&r->pend, it->contact_id, "skipped");
            snprintf(q->text, sizeof q->text,
                     "suppressed after the campaign started");
            recount(r, it->contact_id);
            r->s->skipped++;
            item_free(it);
            continue;
        }
        default:
            break;
        }
        break;
    }
    pthread_mutex_lock(&r->mu);
    r->handing--;
    r->outstanding++;
    r->attempted++;
    r->s->attempted++;
    /* in the journal before the relay loop has it */
    it->slot =
        journal_take(r->jr, it->contact_id, it->attempts, it->cr.message_id);
    pthread_mutex_unlock(&r->mu);
    m->cookie = (uint64_t)(uintptr_t)it;
    m->mail_from = it->cr.envelope_from;
    m->rcpt = it->cr.rcpt;
    m->smtputf8 = it->cr.smtputf8;
    m->domain = it->domain;
    m->provider = it->provider;
    m->data = it->data;
    m->len = it->len;
    return RELAY_GOT;
none : {
    enum relay_next rn = r->outstanding ? RELAY_AWAITING : RELAY_DRAINED;
    pthread_mutex_unlock(&r->mu);
    return rn;
}
}

/* queue_peek - (the loop) would queue_next have a message: DRAINED or
 * AWAITING when none will come (--max reached, a stop, nothing left),
 * RELAY_GOT when one may.  Takes nothing. */
static enum relay_next
queue_peek(void *arg)
{
    struct run *r = arg;
    enum relay_next rn = RELAY_GOT;

    pthread_mutex_lock(&r->mu);
    if (r->failed || r->stop || maxed(r) || (r->rcount == 0 && drained(r)))
        rn = r->outstanding ? RELAY_AWAITING : RELAY_DRAINED;
    pthread_mutex_unlock(&r->mu);
    return rn;
}

/* queue_content - (the loop) the message's content is about to go out:
 * from now on it may arrive, so a crash before its result makes it
 * uncertain (journal.h). */
static void
queue_content(void *arg, uint64_t cookie)
{
    struct run *r = arg;
    const struct item *it = (const struct item *)(uintptr_t)cookie;

    journal_mark(r->jr, it->slot, JOURNAL_CONTENT);
}

/* journal_kind_of - what the journal records of a result */
static enum journal_kind
journal_kind_of(const struct pending *q, enum smtp_outcome o)
{
    if (q->release)
        return JOURNAL_RELEASED;
    switch (o) {
    case SMTP_SENT:
        return JOURNAL_SENT;
    case SMTP_UNCERTAIN:
        return JOURNAL_UNCERTAIN;
    default:
        return JOURNAL_REFUSED;
    }
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
    int release = 0;

    pthread_mutex_lock(&r->mu);
    r->outstanding--;
    switch (x->outcome) {
    case SMTP_SENT:
        state = "sent";
        r->s->sent++;
        break;
    case SMTP_TEMPFAIL:
        if (it->attempts >= QUEUE_MAX_ATTEMPTS) {
            state = "expired";
            r->s->expired++;
        } else {
            state = "deferred";
            r->s->deferred++;
        }
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
        r->reclaim = 1; /* after a reconnect, in this run */
        break;
    case SMTP_HELD:
        /* the client refused it, the relay said nothing: not a bounce,
         * not final, not an attempt (--max counts the messages the relay
         * saw: a cron chunk must not spend itself on the held ones first
         * in the queue); the next send queues it again */
        state = "held";
        r->s->held++;
        r->attempted--;
        r->s->attempted--;
        break;
    }
    if (x->outcome == SMTP_NOT_SENT && x->stage < SMTP_STAGE_MAIL) {
        /* no MAIL FROM went out for it (no connection, or the run
         * stopped first): not an attempt - the claim is undone, and an
         * earlier reply of the relay stays its last text */
        state = "queued";
        release = 2;
    }
    if (x->outcome == SMTP_NOT_SENT) {
        /* deferred for good in this run (it kept failing), or queued
         * again: counted when it is tried again */
        if (strcmp(state, "deferred") == 0)
            r->s->deferred++;
        else
            r->s->requeued++;
    }
    q = pend_add(&r->pend, it->contact_id, state);
    q->release = release;
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
        const struct reply_verdict *v = &d->verdict;
        if (v->fault == REPLY_FAULT_RECIPIENT) {
            q->bounce_class = v->bounce_class;
            q->suppress = strcmp(q->bounce_class, "hard") == 0;
        } else {
            /* the relay refused us or the message, not this recipient:
             * every other recipient would get the same answer.  No
             * bounce, no suppression, no attempt: the claim is undone
             * with the reply as its last text, and the run stops (a
             * circuit breaker) so the list is not burnt through */
            snprintf(q->state, sizeof q->state, "queued");
            q->release = 1;
            r->s->bounced--;
            r->s->requeued++;
            /* the code and status go in their own columns */
            snprintf(q->text, sizeof q->text, "%s (not the recipient's: %s)",
                     x->text, v->why);
            if (d->set_aside) {
                /* that relay is set aside; another one sends it, in
                 * this run, and it was not an attempt (--max) */
                r->reclaim = 1;
                r->attempted--;
                r->s->attempted--;
            } else if (r->s->refusal.code == 0) {
                struct queue_refusal *f = &r->s->refusal;
                f->code = x->code;
                snprintf(f->status, sizeof f->status, "%s", x->status);
                snprintf(f->text, sizeof f->text, "%s", x->text);
                snprintf(f->stage, sizeof f->stage, "%s",
                         smtp_stage_str(x->stage));
                snprintf(f->relay, sizeof f->relay, "%s",
                         d->relay ? d->relay : "");
                f->why = v->why;
                f->fix = v->fix;
                f->config = v->config;
                r->stop = v->fault == REPLY_FAULT_MESSAGE
                              ? QUEUE_MESSAGE_REFUSED
                              : QUEUE_REFUSED;
                r->halted = 1;
            }
        }
    }
    q->slot = it->slot;
    journal_mark(r->jr, it->slot, journal_kind_of(q, x->outcome));
    if (!q->release) {
        /* its last state in this run so far, counted above; a claim
         * undone leaves the row as it was, and its count too */
        recount(r, it->contact_id);
        if (x->outcome == SMTP_UNCERTAIN) {
            idset_add(&r->uncertain, it->contact_id);
            idset_add(&r->was_uncertain, it->contact_id);
        }
    } else {
        released(r, it->contact_id);
    }
    if (r->pend.n >= QUEUE_RESULTS || (r->exhausted && r->reclaim))
        pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (x->outcome != SMTP_SENT && log_get_level() >= LOG_VERBOSE)
        log_debug("campaign=%s rcpt=<%s> %s: %d %s %s", r->p->campaign,
                  it->email, state, x->code, x->status, x->text);
    item_free(it);
}

/* progress - the progress line, from a copy of the counts taken under mu
 * (a stalled terminal must not hold up the feeder); mu not held. */
static void
progress(struct run *r, int64_t now_ms, int final)
{
    struct queue_summary s;
    double secs = (double)(now_ms - r->start_ms) / 1000.0, rate;
    long done, left;
    char eta[32] = "";

    pthread_mutex_lock(&r->mu);
    s = *r->s;
    pthread_mutex_unlock(&r->mu);
    rate = secs > 0 ? (double)s.sent / secs : 0;
    done = s.sent + s.deferred + s.expired + s.bounced + s.failed + s.skipped +
           s.uncertain + s.unbuildable + s.held;
    left = r->planned > done ? r->planned - done : 0;
    if (!final && rate > 0 && left > 0)
        snprintf(eta, sizeof eta, "  ETA %lds", (long)((double)left / rate));
    fprintf(stderr,
            "\r\033[Ksent %ld/%ld  deferred %ld  bounced %ld  failed %ld  "
            "unbuildable %ld  %.0f/s%s%s",
            s.sent, r->planned, s.deferred, s.bounced, s.failed, s.unbuildable,
            rate, eta, final ? "\n" : "");
    fflush(stderr);
}

static int
queue_tick(void *arg, int64_t now_ms)
{
    struct run *r = arg;
    int stop;

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
        /* the circuit breaker, when this run bounced more since its last
         * look (the results written so far; the ledger counts) */
        if (r->p->breaker != NULL && r->stop == 0) {
            long bounced;
            char why[256];
            pthread_mutex_lock(&r->mu);
            bounced = r->s->bounced;
            pthread_mutex_unlock(&r->mu);
            if (bounced != r->breaker_seen) {
                r->breaker_seen = bounced;
                err_clear(&e);
                if (breaker_check(r->p->st, r->p->campaign_id, r->p->breaker,
                                  why, sizeof why, &e) == 1) {
                    log_warnx("campaign %s paused by the circuit breaker: %s",
                              r->p->campaign, why);
                    r->stop = QUEUE_PAUSED;
                }
            }
        }
    }
    if (r->p->interrupted && *r->p->interrupted)
        r->stop = QUEUE_SIGNALLED;
    /* the sending window closed: nothing more is handed out */
    if (r->stop == 0 && r->p->stop_at > 0 && clock_now() >= r->p->stop_at)
        r->stop = QUEUE_WINDOW;
    pthread_mutex_lock(&r->mu);
    if (now_ms - r->last_flush >= QUEUE_FLUSH_MS) {
        if (r->pend.n > 0) {
            r->want_flush = 1;
            pthread_cond_signal(&r->cv);
        }
        r->last_flush = now_ms;
    }
    if (r->stop && r->s->stop == QUEUE_DONE)
        r->s->stop = (enum queue_stop)r->stop;
    if (r->stop)
        r->halted = 1;
    stop = r->stop != 0 || r->failed;
    pthread_mutex_unlock(&r->mu);
    if (r->p->progress && now_ms - r->last_progress >= 250) {
        r->last_progress = now_ms;
        progress(r, now_ms, 0);
    }
    return stop;
}

/* feeder_join - stop the feeder thread and wait for it. */
static void
feeder_join(struct run *r)
{
    if (!r->feeder_running)
        return;
    pthread_mutex_lock(&r->mu);
    r->feeder_stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->feeder, NULL);
    r->feeder_running = 0;
}

/* replay_cb - one contact's latest journal record, applied to its row
 * if the row is still `sending` at that attempt. */
struct replay {
    struct store *st;
    int64_t campaign, now;
    struct queue_recovered *out;
    struct err *e;
};

static int
replay_cb(const struct journal_rec *jr, void *arg)
{
    struct replay *x = arg;
    enum store_replay how;
    long *count;
    int n;

    switch (jr->kind) {
    case JOURNAL_SENT:
        how = STORE_REPLAY_SENT;
        count = &x->out->sent;
        break;
    case JOURNAL_CONTENT:
    case JOURNAL_UNCERTAIN:
        how = STORE_REPLAY_UNCERTAIN;
        count = &x->out->uncertain;
        break;
    default: /* handed out, refused, released: nobody got it */
        how = STORE_REPLAY_QUEUED;
        count = &x->out->requeued;
        break;
    }
    n = store_ledger_replay(x->st, x->campaign, jr->contact, jr->attempt, how,
                            jr->message_id[0] ? jr->message_id : NULL, x->now,
                            x->e);
    if (n == -1)
        return -1;
    *count += n;
    return 0;
}

int
queue_recover(struct store *st, const char *db_path, int64_t campaign,
              const char *name, struct queue_recovered *out, struct err *e)
{
    struct replay x;
    const char *why = NULL;
    long n = 0;
    int rc;

    memset(out, 0, sizeof *out);
    x.st = st;
    x.campaign = campaign;
    x.now = now_s();
    x.out = out;
    x.e = e;
    if (store_begin(st, e) == -1)
        return -1;
    rc = journal_replay(db_path, campaign, replay_cb, &x, &why, e);
    if (rc == -1)
        goto fail;
    if (rc == 1) {
        /* every row handed out has its record: the rest never left */
        if (store_ledger_release_all(
                st, campaign, "not sent: the run stopped first", &n, e) == -1)
            goto fail;
        out->requeued += n;
    } else {
        /* no journal to trust: any of them may have gone */
        if (store_ledger_recover(st, campaign, &n, e) == -1)
            goto fail;
        out->uncertain += n;
        out->untrusted = n > 0 ? why : NULL;
    }
    if (store_commit(st, e) == -1)
        goto fail;
    out->journal = rc == 1;
    if (out->untrusted != NULL)
        log_warnx("campaign %s: %ld recipients were being sent when the last "
                  "run stopped, and %s: each is tried once more as "
                  "uncertain, with the same Message-ID",
                  name, out->uncertain, out->untrusted);
    else if (out->sent + out->uncertain + out->requeued > 0)
        log_warnx("campaign %s: the last run stopped before recording %ld "
                  "recipients; its crash journal says %ld were delivered "
                  "(recorded sent), %ld were not (queued again) and %ld "
                  "went out with no reply read (tried once more as "
                  "uncertain, with the same Message-ID)",
                  name, out->sent + out->uncertain + out->requeued, out->sent,
                  out->requeued, out->uncertain);
    return 0;
fail:
    store_rollback(st);
    return -1;
}

int
queue_send(const struct queue_params *p, struct queue_summary *s, struct err *e)
{
    struct run r;
    struct relay_source src;
    struct store_counts cnt;
    struct queue_recovered rec;
    sigset_t block, old;
    int rc, started;

    memset(s, 0, sizeof *s);
    memset(&r, 0, sizeof r);
    r.p = p;
    r.s = s;
    r.wake[0] = r.wake[1] = -1;
    r.batch = QUEUE_BATCH;
    r.freezing = 1; /* until the first chunk says it is complete */
    buf_init(&r.msg, 0);
    if (queue_recover(p->st, p->db_path, p->campaign_id, p->campaign, &rec,
                      e) == -1)
        return -1;
    s->recovered = rec;
    if ((r.jr = journal_open(p->db_path, p->campaign_id, e)) == NULL)
        return -1;
    /* for the progress line's ETA: what this run may send */
    if (p->progress && store_ledger_counts(p->st, p->campaign_id, &cnt, e) == 0)
        r.planned = cnt.queued + cnt.uncertain_retry;
    if (p->max > 0 && r.planned > p->max)
        r.planned = p->max;

    /* the loop's connection only reads a contact now and then: its cache
     * (filled by the freeze) goes; the feeder's claims walk an index */
    if (store_cache(p->st, QUEUE_LOOP_CACHE_KIB, e) == -1) {
        journal_close(r.jr, 1);
        return -1;
    }
    if ((r.fst = store_open(p->db_path, STORE_OPEN_EXISTING, NULL, e)) ==
            NULL ||
        store_cache(r.fst, QUEUE_FEEDER_CACHE_KIB, e) == -1) {
        store_close(r.fst);
        journal_close(r.jr, 1);
        return -1;
    }
    if (pipe2(r.wake, O_NONBLOCK | O_CLOEXEC) == -1) {
        err_set(e, EX_OSERR, "pipe: %s", strerror(errno));
        store_close(r.fst);
        journal_close(r.jr, 1);
        return -1;
    }
    if (p->relay->limits->nprovider_rate > 0 &&
        (r.prov = providers_new(p->relay->limits, e)) == NULL) {
        close(r.wake[0]);
        close(r.wake[1]);
        store_close(r.fst);
        journal_close(r.jr, 1);
        return -1;
    }
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.start_ms = r.last_flush = r.last_control = relay_now_ms();
    /* SIGINT and SIGTERM go to the loop's thread (the feeder starts with
     * them blocked), whose poll() they interrupt */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    started = pthread_create(&r.feeder, NULL, feeder, &r) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        err_set(e, EX_OSERR, "cannot start the feeder thread");
        rc = -1;
    } else {
        r.feeder_running = 1;
        src.next = queue_next;
        src.result = queue_result;
        src.content = queue_content;
        src.peek = queue_peek;
        src.tick = queue_tick;
        src.arg = &r;
        src.wake_fd = r.wake[0];
        rc = relay_run(p->relay, &src, &s->relay, e);
        feeder_join(&r);
    }
    store_close(r.fst);
    providers_free(r.prov);
    /* every handed-out message has its result; what was claimed and not
     * handed out goes back to the queue; all of it recorded here */
    for (; r.rcount > 0; r.rcount--) {
        struct item *it = r.ready[r.rhead];
        struct pending *q = pend_add(&r.pend, it->contact_id, "queued");
        snprintf(q->text, sizeof q->text, "not sent: the run stopped first");
        q->release = 2;
        released(&r, it->contact_id);
        r.rhead = (r.rhead + 1) % r.rcap;
        item_free(it);
    }
    if (r.pend.n > 0) {
        struct err fe;
        err_clear(&fe);
        if (commit_results(&r, p->st, &r.pend, &fe) == -1) {
            if (rc == 0 && !r.failed) {
                *e = fe;
                rc = -1;
            }
        } else {
            free_slots(&r, &r.pend);
            r.pend.n = 0;
        }
    }
    /* every result recorded: the journal has nothing more to say; else it
     * stays for the next run's replay */
    journal_close(r.jr, r.pend.n == 0);
    if (r.failed && rc == 0) {
        *e = r.err;
        rc = -1;
    }
    /* the database cannot be written (a full disk): say what that costs */
    if (r.pend.n > 0)
        log_warnx("campaign %s: the results of %d recipients could not be "
                  "recorded; they stay `sending`, and the next run records "
                  "them from the crash journal",
                  p->campaign, r.pend.n);
    if (p->progress)
        progress(&r, relay_now_ms(), 1);
    /* a stop the results asked for (a refusal) after the loop's last tick */
    if (r.stop && s->stop == QUEUE_DONE)
        s->stop = (enum queue_stop)r.stop;
    s->seconds = (double)(relay_now_ms() - r.start_ms) / 1000.0;
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    close(r.wake[0]);
    close(r.wake[1]);
    free(r.pend.v);
    free(r.ready);
    free(r.uncertain.v);
    free(r.was_uncertain.v);
    buf_free(&r.msg);
    return rc;
}
