/* SPDX-License-Identifier: ISC */
/*
 * serve.c - the HTTP endpoint of the links (see serve.h).
 *
 * RFCs: 8058 (one-click unsubscribe: a POST whose body is
 * List-Unsubscribe=One-Click, application/x-www-form-urlencoded or
 * multipart/form-data), 9110 (HTTP semantics: 302, 404, 405, 413, HEAD),
 * 7578 (multipart/form-data, parsed by libmicrohttpd's post processor).
 *
 * The path of a hit: libmicrohttpd's threads parse the request (bounded by
 * its connection memory), handler() checks the token (HMAC, constant
 * time: track.h), classifies the client (machine.h) and puts an event in
 * the queue, then answers.  The writer thread takes the whole queue at
 * most SERVE_FLUSH_MS after its first event and records it in one
 * transaction.  An unsubscribe marks the queue urgent and waits until
 * the writer's commit has included it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../db/store.h"
#include "buf.h"
#include "compose.h"
#include "digest.h"
#include "email.h"
#include "log.h"
#include "serve.h"
#include "tmpl.h"
#include "xalloc.h"

/* The smallest transparent GIF: 1x1, a two-colour table, a graphic
 * control extension marking colour 0 transparent. */
static const unsigned char pixel_gif[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};
_Static_assert(sizeof pixel_gif == 43, "the pixel is 43 bytes");

static const char not_found[] = "Not found\n";

/* Read connections for the pages beside the writer's. */
#define SERVE_POOL_MAX 16
/* The WAL is copied back into the database this often (ckpt_main). */
#define SERVE_CKPT_MS 1000
/* serve_stop waits this long at most for the requests begun. */
#define SERVE_STOP_MS 5000
/* A token in a path: a click token carries its URL (track.c allows 8,000
 * bytes), base64url-encoded with its head and MAC. */
#define SERVE_TOKEN_MAX 10800

enum ev_kind { EV_OPEN, EV_CLICK, EV_VIEW, EV_UNSUB };
static const char *const ev_name[] = {"open", "click", "view", "unsubscribe"};

/* waiter - an unsubscribe waiting for the writer's commit (s->mu). */
struct waiter {
    int done;
    int rc;                   /* 0 committed, -1 not */
    struct MHD_Connection *c; /* suspended until the commit */
};

/* ev - one hit in the queue: small, since the queue holds many. */
struct ev {
    enum ev_kind kind;
    uint32_t campaign;
    uint64_t contact;
    int64_t at_ms;
    struct machine_verdict v;
    char *url;        /* clicks: owned */
    char *ip;         /* with store_ip: owned */
    const char *via;  /* unsubscribes: the source recorded */
    struct waiter *w; /* unsubscribes */
};

struct serve {
    struct serve_params p;
    struct MHD_Daemon *d;
    atomic_int stopping;  /* serve_stop: no new request is begun */
    atomic_long inflight; /* requests begun and not yet answered */
    struct MHD_Response *gif, *nf;
    int port;

    /* the queue and the writer (mu) */
    pthread_mutex_t mu;
    pthread_cond_t wake, space, wake_ckpt;
    struct ev *q, *batch;
    size_t n, qbytes;   /* hits queued, and the bytes they hold */
    int64_t first_mono; /* when the queue's first event came */
    int urgent, stop;
    pthread_t writer, ckpt;
    int writer_started, ckpt_started;
    struct store *wst, *cst; /* the writer's and the checkpointer's */
    long lost;

    /* read connections (pool_mu) */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    struct store *pool[SERVE_POOL_MAX];
    size_t npool, nfree;

    /* the web view's composer, for one campaign at a time (view_mu) */
    pthread_mutex_t view_mu;
    int64_t view_campaign;
    struct tmpl *view_tmpl;
    json_t *view_data;
    char *view_name;
    struct composer *view_comp;
    struct buf view_msg;
    char *salt;
};

static int64_t
now_ms(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*---- the queue and the writer ----*/

/* ev_bytes - what a queued hit holds beside its slot. */
static size_t
ev_bytes(const struct ev *ev)
{
    return (ev->url ? strlen(ev->url) + 1 : 0) +
           (ev->ip ? strlen(ev->ip) + 1 : 0);
}

/* enqueue - add ev (copied; the queue owns its url and ip) to the queue,
 * waiting while it is full, in slots or in bytes (a click carries its
 * URL, up to 8,000 bytes: the slots alone would not bound the memory). */
static void
enqueue(struct serve *s, const struct ev *ev)
{
    size_t bytes = ev_bytes(ev);

    pthread_mutex_lock(&s->mu);
    while ((s->n >= SERVE_QUEUE_MAX || s->qbytes + bytes > SERVE_QUEUE_BYTES) &&
           !s->stop)
        pthread_cond_wait(&s->space, &s->mu);
    if (s->n >= SERVE_QUEUE_MAX) {
        /* stopped with a full queue (cannot happen while requests are
         * answered: the daemon stops first); the hit is not recorded */
        s->lost++;
        pthread_mutex_unlock(&s->mu);
        free(ev->url);
        free(ev->ip);
        return;
    }
    s->qbytes += bytes;
    if (s->n == 0)
        s->first_mono = now_ms(CLOCK_MONOTONIC);
    s->q[s->n++] = *ev;
    if (ev->kind == EV_UNSUB)
        s->urgent = 1;
    if (s->n == 1 || s->urgent)
        pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
}

/* record_click - machine rules that need the ledger and the events so far,
 * then the click and, when the contact had no open of its kind, an open. */
static int
record_click(struct serve *s, struct ev *ev, struct store_event *se,
             struct err *e)
{
    char why[64]; /* the reason, while the click and its open are added */
    struct store_send_times t;
    long other = 0;
    int rc = 0;

    if (!se->machine && s->p.cfg->serve.click_seconds > 0 &&
        (rc = store_send_times(s->wst, ev->campaign, (int64_t)ev->contact, &t,
                               e)) == -1)
        return -1;
    if (!se->machine && s->p.cfg->serve.click_seconds > 0 && rc == 1 &&
        t.done_at > 0 && ev->at_ms / 1000 - t.done_at >= 0 &&
        ev->at_ms / 1000 - t.done_at < s->p.cfg->serve.click_seconds) {
        snprintf(why, sizeof why, "clicked %lld s after delivery",
                 (long long)(ev->at_ms / 1000 - t.done_at));
        se->machine = 1;
        se->machine_reason = why;
    }
    /* a person does not click two links of one message within a second;
     * a scanner following every link does */
    if (store_event_other_clicks(s->wst, ev->campaign, (int64_t)ev->contact,
                                 ev->url, ev->at_ms - 1000, &other, e) == -1)
        return -1;
    if (other > 0) {
        snprintf(why, sizeof why, "%ld links clicked within 1 s", other + 1);
        se->machine = 1;
        se->machine_reason = why;
        if (store_event_flag_machine(s->wst, ev->campaign, (int64_t)ev->contact,
                                     ev->at_ms - 1000, why, e) == -1)
            return -1;
    }
    if ((rc = store_event_add(s->wst, se, e)) != 1)
        return rc;
    rc = store_event_has(s->wst, ev->campaign, (int64_t)ev->contact, "open",
                         se->machine, e);
    if (rc != 0)
        return rc == -1 ? -1 : 0;
    se->kind = "open";
    se->url = NULL;
    return store_event_add(s->wst, se, e) == -1 ? -1 : 0;
}

struct who {
    char email[EMAIL_MAX + 1];
    int found;
};

static int
who_cb(const struct store_contact *c, void *arg)
{
    struct who *w = arg;

    w->found = 1;
    snprintf(w->email, sizeof w->email, "%s", c->email);
    return 0;
}

/* record_unsub - suppress the contact (an unsubscribe is never lifted by
 * an import) and record the event once. */
static int
record_unsub(struct serve *s, struct ev *ev, struct store_event *se,
             struct err *e)
{
    struct who w;
    struct store_suppression sup;
    uint8_t hash[DIGEST_LEN];
    int rc;

    memset(&w, 0, sizeof w);
    if (store_contact_get_id(s->wst, (int64_t)ev->contact, who_cb, &w, e) == -1)
        return -1;
    if (!w.found) /* forgotten since: suppressed by its hash already */
        return 0;
    digest_email(store_hash_salt(s->wst), w.email, hash);
    sup.hash = hash;
    sup.email = w.email;
    sup.reason = "unsubscribed";
    sup.source = ev->via;
    sup.created_at = ev->at_ms / 1000;
    if (store_suppress(s->wst, &sup, e) == -1)
        return -1;
    rc = store_event_has(s->wst, ev->campaign, (int64_t)ev->contact,
                         "unsubscribe", -1, e);
    if (rc != 0)
        return rc == -1 ? -1 : 0;
    return store_event_add(s->wst, se, e) == -1 ? -1 : 0;
}

static int
record(struct serve *s, struct ev *ev, struct err *e)
{
    struct store_event se;

    int64_t now_id;

    /* a link in mail sent before migration 007 merged its contact */
    if (store_contact_current(s->wst, (int64_t)ev->contact, &now_id, e) == -1)
        return -1;
    ev->contact = (uint64_t)now_id;
    memset(&se, 0, sizeof se);
    se.campaign_id = ev->campaign;
    se.contact_id = (int64_t)ev->contact;
    se.kind = ev_name[ev->kind];
    se.url = ev->url;
    se.at_ms = ev->at_ms;
    se.machine = ev->v.machine;
    se.machine_reason = ev->v.reason;
    se.ua_class = ev->v.ua_class;
    se.ip = ev->ip;
    switch (ev->kind) {
    case EV_CLICK:
        return record_click(s, ev, &se, e);
    case EV_UNSUB:
        se.machine = 0;
        se.machine_reason = NULL;
        return record_unsub(s, ev, &se, e);
    case EV_OPEN:
    case EV_VIEW:
        break;
    }
    return store_event_add(s->wst, &se, e) == -1 ? -1 : 0;
}

/* write_batch - the batch in one transaction; a busy database (a send's
 * commit) is tried again a few times.  Returns 0 or -1 (nothing kept). */
static int
write_batch(struct serve *s, struct ev *b, size_t n, struct err *e)
{
    int unsub = 0;

    /* opens and clicks: a commit is written, not synced (WAL with
     * synchronous=NORMAL survives kill -9; a power cut may take the last
     * ones); a batch that holds an unsubscribe is synced before its 200 */
    for (size_t i = 0; i < n && !unsub; i++)
        unsub = b[i].kind == EV_UNSUB;
    if (store_durable(s->wst, unsub, e) == -1)
        return -1;
    for (int attempt = 0; attempt < 3; attempt++) {
        size_t i = 0;
        err_clear(e);
        if (store_begin(s->wst, e) == 0) {
            for (i = 0; i < n; i++)
                if (record(s, &b[i], e) == -1)
                    break;
            if (i == n && store_commit(s->wst, e) == 0)
                return 0;
        }
        store_rollback(s->wst);
        if (e->kind != EX_TEMPFAIL)
            break;
    }
    return -1;
}

static void *
writer_main(void *arg)
{
    struct serve *s = arg;
    struct err e;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->n == 0 && !s->stop)
            pthread_cond_wait(&s->wake, &s->mu);
        if (s->n == 0)
            break;
        while (!s->urgent && !s->stop) {
            int64_t due = s->first_mono + SERVE_FLUSH_MS;
            struct timespec ts;
            if (now_ms(CLOCK_MONOTONIC) >= due)
                break;
            ts.tv_sec = (time_t)(due / 1000);
            ts.tv_nsec = (long)(due % 1000) * 1000000;
            pthread_cond_timedwait(&s->wake, &s->mu, &ts);
        }
        struct ev *b = s->q;
        size_t n = s->n;
        s->q = s->batch;
        s->batch = b;
        s->n = 0;
        s->qbytes = 0;
        s->urgent = 0;
        pthread_cond_broadcast(&s->space);
        pthread_mutex_unlock(&s->mu);

        int rc = write_batch(s, b, n, &e);
        if (rc == -1)
            log_warnx("serve: %zu events not recorded: %s", n, e.msg);

        /* the unsubscribes' requests, suspended until now, resumed
         * outside our lock (libmicrohttpd takes its own); a waiter lives
         * in its request's state, which may end as soon as it is
         * resumed, so it is not touched after */
        for (size_t i = 0; i < n; i++) {
            free(b[i].url);
            free(b[i].ip);
            if (b[i].w != NULL) {
                struct MHD_Connection *c = b[i].w->c;
                pthread_mutex_lock(&s->mu);
                b[i].w->rc = rc;
                b[i].w->done = 1;
                pthread_mutex_unlock(&s->mu);
                MHD_resume_connection(c);
            }
        }
        pthread_mutex_lock(&s->mu);
        if (rc == -1)
            s->lost += (long)n;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/*
 * ckpt_main - copy the WAL back into the database once a second, on a
 * connection of its own: in WAL mode a checkpoint runs beside the writer,
 * which then never pays for it (its commits would, SQLite's automatic
 * checkpoint: a few hundred milliseconds of I/O now and then, while the
 * hits queue up).
 */
static void *
ckpt_main(void *arg)
{
    struct serve *s = arg;
    int64_t last_warn = -60000;

    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec ts;
        int64_t due = now_ms(CLOCK_MONOTONIC) + SERVE_CKPT_MS;
        ts.tv_sec = (time_t)(due / 1000);
        ts.tv_nsec = (long)(due % 1000) * 1000000;
        pthread_cond_timedwait(&s->wake_ckpt, &s->mu, &ts);
        if (s->stop)
            break;
        pthread_mutex_unlock(&s->mu);
        if (store_checkpoint(s->cst) == -1 &&
            now_ms(CLOCK_MONOTONIC) - last_warn >= 60000) {
            /* the WAL grows until one succeeds: say so, once a minute */
            log_warnx("serve: %s: the WAL could not be checkpointed (a "
                      "reader holds it?); it grows until it can",
                      s->p.db_path);
            last_warn = now_ms(CLOCK_MONOTONIC);
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/*---- read connections ----*/

static struct store *
pool_get(struct serve *s)
{
    struct store *st;

    pthread_mutex_lock(&s->pool_mu);
    while (s->nfree == 0)
        pthread_cond_wait(&s->pool_cv, &s->pool_mu);
    st = s->pool[--s->nfree];
    pthread_mutex_unlock(&s->pool_mu);
    return st;
}

static void
pool_put(struct serve *s, struct store *st)
{
    pthread_mutex_lock(&s->pool_mu);
    s->pool[s->nfree++] = st;
    pthread_cond_signal(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mu);
}

/*---- responses ----*/

/* respond - a response with a copy of body; the headers every answer of
 * ours carries, none of them from the request. */
static enum MHD_Result
respond(struct MHD_Connection *c, unsigned int code, const char *type,
        const void *body, size_t n, const char *location)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        n, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    if (type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    if (location != NULL && MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION,
                                                    location) == MHD_NO) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    if (type != NULL && strncmp(type, "text/html", 9) == 0 && location == NULL)
        MHD_add_response_header(
            r, "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; "
            "img-src * data:; form-action 'self'; "
            "frame-ancestors 'none'");
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* respond_text - a fixed plain-text answer (a string literal). */
#define respond_text(c, code, lit)                                             \
    respond((c), (code), "text/plain; charset=utf-8", (lit), sizeof(lit) - 1,  \
            NULL)

static enum MHD_Result
respond_nf(struct serve *s, struct MHD_Connection *c)
{
    return MHD_queue_response(c, MHD_HTTP_NOT_FOUND, s->nf);
}

/* html_put - text escaped for HTML (element content and quoted
 * attributes). */
static int
html_put(struct buf *b, const char *t)
{
    for (; *t; t++) {
        int rc;
        switch (*t) {
        case '&':
            rc = buf_puts(b, "&amp;");
            break;
        case '<':
            rc = buf_puts(b, "&lt;");
            break;
        case '>':
            rc = buf_puts(b, "&gt;");
            break;
        case '"':
            rc = buf_puts(b, "&quot;");
            break;
        case '\'':
            rc = buf_puts(b, "&#39;");
            break;
        default:
            rc = buf_putc(b, *t);
        }
        if (rc == -1)
            return -1;
    }
    return 0;
}

/* utf8_len - bytes of the UTF-8 sequence that starts at p (1 for a stray
 * byte), not past the end of the string. */
static size_t
utf8_len(const char *p)
{
    unsigned char c = (unsigned char)*p;
    size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

    for (size_t i = 1; i < n; i++)
        if (p[i] == '\0')
            return i;
    return n;
}

void
serve_mask(const char *email, char *out, size_t n)
{
    const char *at = strrchr(email, '@');
    const char *dot;
    size_t a, d;

    if (at == NULL || at == email || at[1] == '\0') {
        snprintf(out, n, "***");
        return;
    }
    a = utf8_len(email);
    if (email + a > at)
        a = 1;
    dot = strrchr(at + 1, '.');
    d = utf8_len(at + 1);
    if (dot != NULL && dot > at + 1 && at + 1 + d <= dot)
        snprintf(out, n, "%.*s***@%.*s***%s", (int)a, email, (int)d, at + 1,
                 dot);
    else
        snprintf(out, n, "%.*s***@***", (int)a, email);
}

/* sender_name - the display name of [sender] from, or its address's
 * domain, into out. */
static void
sender_name(const struct config *cfg, char *out, size_t n)
{
    const char *f = cfg->sender.from, *lt;

    if (f == NULL) {
        snprintf(out, n, "us");
        return;
    }
    lt = strchr(f, '<');
    if (lt != NULL && lt > f) {
        const char *b = f, *e = lt;
        while (b < e && (*b == ' ' || *b == '"'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '"'))
            e--;
        if (e > b) {
            snprintf(out, n, "%.*s", (int)(e - b), b);
            return;
        }
    }
    const char *at = strrchr(f, '@');
    snprintf(out, n, "%.*s", at ? (int)strcspn(at + 1, ">") : (int)strlen(f),
             at ? at + 1 : f);
}

static const char page_head[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
    "<meta name=\"robots\" content=\"noindex\">"
    "<title>%s</title><style>"
    "body{font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,"
    "sans-serif;margin:0;padding:0 1rem;background:#f4f5f7;color:#1f2430}"
    "main{max-width:28rem;margin:10vh auto;padding:2rem 1.5rem;"
    "background:#fff;border-radius:12px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.08)}"
    "h1{font-size:1.35rem;margin:0 0 1rem}p{margin:0 0 1.25rem}"
    "button{font:inherit;font-weight:600;width:100%%;padding:.85rem;border:0;"
    "border-radius:8px;background:#1d4ed8;color:#fff;cursor:pointer}"
    "button:hover{background:#1e40af}"
    "button:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}"
    ".who{font-weight:600}.small{color:#5b6270;font-size:.9rem;margin:0}"
    "</style></head><body><main>";

struct page_info {
    char email[EMAIL_MAX + 1];
    char status[16];
    char list[256];
    int contact, campaign, send;
};

static int
page_contact_cb(const struct store_contact *c, void *arg)
{
    struct page_info *pi = arg;

    pi->contact = 1;
    snprintf(pi->email, sizeof pi->email, "%s", c->email);
    snprintf(pi->status, sizeof pi->status, "%s", c->status);
    return 0;
}

static int
page_campaign_cb(const struct store_campaign *c, void *arg)
{
    struct page_info *pi = arg;

    pi->campaign = 1;
    snprintf(pi->list, sizeof pi->list, "%s", c->list ? c->list : c->name);
    return 0;
}

/* page_info - what the unsubscribe page shows; 1 when the token names a
 * recipient of the campaign, 0 when not, -1 (e) when the database
 * failed. */
static int
page_info(struct serve *s, uint32_t camp, uint64_t contact,
          struct page_info *pi, struct err *e)
{
    struct store *st = pool_get(s);
    struct store_send_times t;
    int rc;

    memset(pi, 0, sizeof *pi);
    rc = store_send_times(st, camp, (int64_t)contact, &t, e);
    if (rc == 1)
        rc = store_campaign_get_id(st, camp, page_campaign_cb, pi, e);
    if (rc == 1)
        rc = store_contact_get_id(st, (int64_t)contact, page_contact_cb, pi, e);
    pool_put(s, st);
    if (rc == 1 && s->p.cfg->sender.list_id && pi->list[0] == '\0')
        snprintf(pi->list, sizeof pi->list, "%s", s->p.cfg->sender.list_id);
    return rc;
}

/* unsub_page - the confirmation page (done = 0) or the answer after the
 * unsubscribe (done = 1). */
static enum MHD_Result
unsub_page(struct serve *s, struct MHD_Connection *c,
           const struct page_info *pi, int done)
{
    struct buf b;
    char masked[EMAIL_MAX + 16], from[256];
    enum MHD_Result ret;
    int bad = 0;

    buf_init(&b, 64 * 1024);
    serve_mask(pi->email, masked, sizeof masked);
    sender_name(s->p.cfg, from, sizeof from);
    bad |=
        buf_printf(&b, page_head, done ? "Unsubscribed" : "Unsubscribe") == -1;
    if (done || strcmp(pi->status, "active") != 0) {
        bad |=
            buf_puts(&b, "<h1 id=\"done\">You are unsubscribed</h1><p>") == -1;
        bad |= buf_puts(&b, "<span class=\"who\">") == -1 ||
               html_put(&b, masked) == -1 ||
               buf_puts(&b, "</span> will get no more email from ") == -1 ||
               html_put(&b, from) == -1 || buf_puts(&b, " (") == -1 ||
               html_put(&b, pi->list) == -1 ||
               buf_puts(&b, ").</p><p class=\"small\">It may take a "
                            "moment for a message already on its way."
                            "</p>") == -1;
    } else {
        bad |= buf_puts(&b, "<h1>Unsubscribe from ") == -1 ||
               html_put(&b, pi->list) == -1 ||
               buf_puts(&b, "?</h1><p>Stop email from ") == -1 ||
               html_put(&b, from) == -1 ||
               buf_puts(&b, " to <span class=\"who\">") == -1 ||
               html_put(&b, masked) == -1 ||
               buf_puts(&b,
                        "</span>.</p><form method=\"post\">"
                        "<input type=\"hidden\" name=\"List-Unsubscribe\" "
                        "value=\"One-Click\"><input type=\"hidden\" "
                        "name=\"via\" value=\"page\"><button type=\"submit\" "
                        "id=\"unsubscribe\">Unsubscribe</button></form>") == -1;
    }
    bad |= buf_puts(&b, "</main></body></html>\n") == -1;
    if (bad) {
        buf_free(&b);
        return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error\n");
    }
    ret = respond(c, MHD_HTTP_OK, "text/html; charset=utf-8", b.p, b.len, NULL);
    buf_free(&b);
    return ret;
}

/*---- the web view ----*/

struct view_info {
    int found;
    char *name, *template, *template_src, *data;
    char *email, *attrs;
};

static int
view_campaign_cb(const struct store_campaign *c, void *arg)
{
    struct view_info *vi = arg;

    vi->name = xstrdup(c->name);
    vi->template = xstrdup(c->template);
    vi->template_src = c->template_src ? xstrdup(c->template_src) : NULL;
    vi->data = c->data ? xstrdup(c->data) : NULL;
    return 0;
}

static int
view_contact_cb(const struct store_contact *c, void *arg)
{
    struct view_info *vi = arg;

    vi->email = xstrdup(c->email);
    vi->attrs = xstrdup(c->attrs);
    return 0;
}

static void
view_info_free(struct view_info *vi)
{
    free(vi->name);
    free(vi->template);
    free(vi->template_src);
    free(vi->data);
    free(vi->email);
    free(vi->attrs);
}

/* view_composer - s->view_comp for campaign camp (s->view_mu held). */
static int
view_composer(struct serve *s, uint32_t camp, const struct view_info *vi,
              struct err *e)
{
    struct compose_params cp;
    json_error_t jerr;

    if (s->view_comp != NULL && s->view_campaign == camp)
        return 0;
    composer_free(s->view_comp);
    tmpl_free(s->view_tmpl);
    json_decref(s->view_data);
    free(s->view_name);
    s->view_comp = NULL;
    s->view_tmpl = NULL;
    s->view_data = NULL;
    s->view_name = xstrdup(vi->name);
    s->view_campaign = 0;
    if ((s->view_tmpl = tmpl_load_frozen(vi->template_src, vi->template, e)) ==
        NULL)
        return -1;
    if (vi->data != NULL &&
        (s->view_data = json_loads(vi->data, 0, &jerr)) == NULL)
        return err_set(e, EX_DATAERR, "campaign %s: data: %s", vi->name,
                       jerr.text);
    memset(&cp, 0, sizeof cp);
    cp.tmpl = s->view_tmpl;
    cp.data = s->view_data;
    cp.campaign = s->view_name;
    cp.campaign_id = camp;
    cp.salt = s->salt;
    cp.sender = &s->p.cfg->sender;
    cp.tracking = &s->p.cfg->tracking;
    cp.key = s->p.key;
    cp.strict = 0;
    if ((s->view_comp = composer_new(&cp, e)) == NULL)
        return -1;
    s->view_campaign = camp;
    return 0;
}

/* strip_pixel - the open pixel compose put into the HTML, out of it: a
 * web view is no open. */
static void
strip_pixel(struct serve *s, uint32_t camp, uint64_t contact, struct buf *h)
{
    const struct config_tracking *t = &s->p.cfg->tracking;
    struct buf tok, img;
    char *at;

    if (t->base_url == NULL || !t->opens)
        return;
    buf_init(&tok, 0);
    buf_init(&img, 0);
    if (track_token(s->p.key, TRACK_OPEN, camp, contact, NULL, &tok) == 0 &&
        buf_puts(&tok, "") == 0 &&
        buf_printf(&img,
                   "<img src=\"%s/o/%.*s.gif\" width=\"1\" height=\"1\" "
                   "alt=\"\" style=\"display:block;border:0;width:1px;"
                   "height:1px\">",
                   t->base_url, (int)tok.len, tok.p) == 0 &&
        (at = memmem(h->p, h->len, img.p, img.len)) != NULL) {
        size_t off = (size_t)(at - h->p);
        memmove(at, at + img.len, h->len - off - img.len);
        h->len -= img.len;
    }
    buf_free(&tok);
    buf_free(&img);
}

/* view - the HTML part of the message the contact was sent; 1 done, 0 no
 * such recipient (or a campaign from before templates were frozen). */
static int
view(struct serve *s, uint32_t camp, uint64_t contact, struct buf *out,
     struct err *e)
{
    struct store *st = pool_get(s);
    struct store_send_times t;
    struct view_info vi;
    struct compose_contact ct;
    struct compose_result res;
    const char *html;
    size_t len;
    int rc;

    memset(&vi, 0, sizeof vi);
    rc = store_send_times(st, camp, (int64_t)contact, &t, e);
    if (rc == 1)
        rc = store_campaign_get_id(st, camp, view_campaign_cb, &vi, e);
    if (rc == 1)
        rc =
            store_contact_get_id(st, (int64_t)contact, view_contact_cb, &vi, e);
    pool_put(s, st);
    if (rc == 1 && vi.template_src == NULL)
        rc = 0;
    if (rc != 1) {
        view_info_free(&vi);
        return rc;
    }
    ct.id = contact;
    ct.email = vi.email;
    ct.attrs = vi.attrs;
    ct.message_id = NULL;
    pthread_mutex_lock(&s->view_mu);
    rc = view_composer(s, camp, &vi, e);
    if (rc == 0)
        rc = composer_build(s->view_comp, &ct,
                            t.first_attempt_at ? t.first_attempt_at
                                               : (int64_t)time(NULL),
                            &s->view_msg, &res, e);
    if (rc == 0) {
        html = composer_last_html(s->view_comp, &len);
        buf_reset(out);
        rc = buf_append(out, html, len);
        if (rc == -1)
            err_set(e, EX_SOFTWARE, "web view too large");
    }
    pthread_mutex_unlock(&s->view_mu);
    view_info_free(&vi);
    if (rc == -1)
        return -1;
    strip_pixel(s, camp, contact, out);
    return 1;
}

/*---- requests ----*/

/* post_state - a POST to /u/ while its body arrives. */
/* post_state - a POST to /u/ while its body arrives, then while it
 * waits for the writer's commit (suspended). */
struct post_state {
    struct MHD_PostProcessor *pp;
    size_t got;
    int too_big, bad, queued;
    /* the two fields we read, collected across the pieces the post
     * processor hands over (a value may come in several) */
    char lu[16], via[8];
    size_t lu_len, via_len;
    struct waiter w;
    struct page_info *pi;
};

/* collect - piece [off, off + size) of a field's value into dst (n
 * bytes); a value too long for dst is marked by a length past n. */
static void
collect(char *dst, size_t n, size_t *len, const char *data, uint64_t off,
        size_t size)
{
    if (off != *len || *len > n)
        return;
    if (size > n - *len) {
        *len = n + 1;
        return;
    }
    memcpy(dst + *len, data, size);
    *len += size;
}

static enum MHD_Result
post_field(void *cls, enum MHD_ValueKind kind, const char *key,
           const char *filename, const char *content_type,
           const char *transfer_encoding, const char *data, uint64_t off,
           size_t size)
{
    struct post_state *ps = cls;

    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    if (strcmp(key, "List-Unsubscribe") == 0)
        collect(ps->lu, sizeof ps->lu, &ps->lu_len, data, off, size);
    else if (strcmp(key, "via") == 0)
        collect(ps->via, sizeof ps->via, &ps->via_len, data, off, size);
    return MHD_YES;
}

/* get_mark - the request state of a GET or HEAD: nothing to keep. */
static char get_mark;

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct serve *s = cls;
    struct post_state *ps = *con_cls;

    (void)c, (void)toe;
    if (ps != NULL)
        atomic_fetch_sub(&s->inflight, 1);
    if (ps != NULL && *con_cls != (void *)&get_mark) {
        if (ps->pp != NULL)
            MHD_destroy_post_processor(ps->pp);
        free(ps->pi);
        free(ps);
        *con_cls = NULL;
    }
}

/* client_ip - the client's address: the peer, or the last address of
 * X-Forwarded-For when the peer is a trusted proxy. */
static void
client_ip(struct serve *s, struct MHD_Connection *c, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    const struct config_serve *cs = &s->p.cfg->serve;

    out[0] = '\0';
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
                  (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
                  (socklen_t)n);
    for (size_t i = 0; i < cs->ntrusted_proxy; i++) {
        if (strcmp(out, cs->trusted_proxy[i]) != 0)
            continue;
        const char *x =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
        if (x == NULL)
            return;
        const char *last = strrchr(x, ',');
        last = last ? last + 1 : x;
        while (*last == ' ' || *last == '\t')
            last++;
        size_t l = strcspn(last, " \t");
        char tmp[INET6_ADDRSTRLEN];
        unsigned char bin[16];
        if (l == 0 || l >= sizeof tmp)
            return;
        memcpy(tmp, last, l);
        tmp[l] = '\0';
        if (inet_pton(AF_INET, tmp, bin) == 1 ||
            inet_pton(AF_INET6, tmp, bin) == 1)
            snprintf(out, n, "%s", tmp);
        return;
    }
}

/* location - the click's URL for a Location header: http(s) only, and
 * every byte outside printable ASCII percent-encoded. -1 when it is not
 * a web link. */
static int
location(const struct buf *url, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";

    if (!(url->len > 7 && strncasecmp(url->p, "http://", 7) == 0) &&
        !(url->len > 8 && strncasecmp(url->p, "https://", 8) == 0))
        return -1;
    for (size_t i = 0; i < url->len; i++) {
        unsigned char ch = (unsigned char)url->p[i];
        int rc;
        if (ch > 0x20 && ch < 0x7f && ch != '"' && ch != '<' && ch != '>' &&
            ch != '\\' && ch != '^' && ch != '`' && ch != '{' && ch != '|' &&
            ch != '}')
            rc = buf_putc(out, ch);
        else
            rc = buf_putc(out, '%') == -1 || buf_putc(out, hex[ch >> 4]) == -1
                     ? -1
                     : buf_putc(out, hex[ch & 15]);
        if (rc == -1)
            return -1;
    }
    return buf_puts(out, "");
}

/* token - the path's token for purpose p, checked; 1 valid (campaign and
 * contact set, url for clicks), 0 not.  Samples sent with --test-to carry
 * campaign 0 or a contact id above 2^63: no recipient of ours. */
static int
token(struct serve *s, enum track_purpose p, const char *tok, size_t n,
      uint32_t *camp, uint64_t *contact, struct buf *url)
{
    if (n == 0 || n > SERVE_TOKEN_MAX)
        return 0;
    if (track_token_parse(s->p.key, p, tok, n, camp, contact, url) == -1)
        return 0;
    return *camp != 0 && *contact < ((uint64_t)1 << 63);
}

static void
event_for(struct serve *s, struct MHD_Connection *c, enum ev_kind k,
          uint32_t camp, uint64_t contact, struct ev *ev)
{
    char ip[INET6_ADDRSTRLEN];
    const char *ua =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");

    memset(ev, 0, sizeof *ev);
    ev->kind = k;
    ev->campaign = camp;
    ev->contact = contact;
    ev->at_ms = now_ms(CLOCK_REALTIME);
    client_ip(s, c, ip, sizeof ip);
    machine_classify(s->p.rules, ua, ip[0] ? ip : NULL, &ev->v);
    if (s->p.cfg->serve.store_ip)
        ev->ip = ip[0] ? xstrdup(ip) : NULL;
}

static enum MHD_Result
fail_page(struct MHD_Connection *c, const struct err *e, const char *what)
{
    log_warnx("serve: %s: %s", what, e->msg);
    return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                        "Temporarily unavailable, please try again\n");
}

/*
 * unsubscribe_post - the end of a POST to /u/.  The suppression is
 * committed by the writer; meanwhile the request is suspended, so that
 * the thread goes on answering its other connections, and the writer
 * resumes it after the commit: then the 200 (or a 503) goes out.
 */
static enum MHD_Result
unsubscribe_post(struct serve *s, struct MHD_Connection *c, uint32_t camp,
                 uint64_t contact, struct post_state *ps)
{
    struct ev ev;
    struct err e;
    int rc, one_click = ps->lu_len == 9 && memcmp(ps->lu, "One-Click", 9) == 0;

    if (ps->queued) {
        int done, ok;
        pthread_mutex_lock(&s->mu);
        done = ps->w.done;
        ok = ps->w.rc == 0;
        pthread_mutex_unlock(&s->mu);
        if (!done) /* resumed early: wait on */
            return MHD_YES;
        if (!ok) {
            err_set(&e, EX_TEMPFAIL, "not committed (see above)");
            return fail_page(c, &e, "unsubscribe");
        }
        log_debug("serve: unsubscribed campaign=%u contact=%llu", camp,
                  (unsigned long long)contact);
        return unsub_page(s, c, ps->pi, 1);
    }
    if (ps->too_big)
        return respond_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
                            "Request body too large\n");
    if (!one_click || ps->bad)
        return respond_text(c, MHD_HTTP_BAD_REQUEST,
                            "Expected List-Unsubscribe=One-Click (RFC 8058)\n");
    ps->pi = xcalloc(1, sizeof *ps->pi);
    if ((rc = page_info(s, camp, contact, ps->pi, &e)) == -1)
        return fail_page(c, &e, "unsubscribe");
    if (rc == 0)
        return respond_nf(s, c);
    event_for(s, c, EV_UNSUB, camp, contact, &ev);
    ev.via = ps->via_len == 4 && memcmp(ps->via, "page", 4) == 0
                 ? "unsubscribe page"
                 : "one-click";
    ps->w.c = c;
    ev.w = &ps->w;
    ps->queued = 1;
    MHD_suspend_connection(c);
    enqueue(s, &ev);
    return MHD_YES;
}

/* unescape - leave the path as it came: ours are base64url tokens, which
 * need no decoding, so a %00 or any other escape is simply no token (and
 * the path is never cut short by a decoded NUL). */
static size_t
unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    return strlen(s);
}

/*
 * path_whole - 0 when a raw NUL byte cut the path short.  libmicrohttpd
 * (0.9.75, parse_initial_message_line) hands the path over as a C string
 * in its buffer of the request line, which the HTTP version follows: so
 * the path's own length is known.  A query string (split off at '?')
 * comes with arguments.  This leans on that layout: the e2e test that
 * sends a raw NUL (serve.bats, hostile requests) pins it.
 */
static int
path_whole(struct MHD_Connection *c, const char *url, const char *version)
{
    size_t n = strlen(url);

    if (version == NULL || version <= url + n ||
        version - url > SERVE_CONN_MEMORY || (size_t)(version - 1 - url) == n)
        return 1;
    return MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0;
}

/* origin - the path of an absolute-form request target (RFC 9112 3.2.2:
 * "GET http://t.acme.example/o/T.gif" is to be accepted). */
static const char *
origin(const char *url)
{
    const char *p;

    if (strncasecmp(url, "http://", 7) == 0)
        p = strchr(url + 7, '/');
    else if (strncasecmp(url, "https://", 8) == 0)
        p = strchr(url + 8, '/');
    else
        return url;
    return p ? p : "/";
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
        const char *method, const char *version, const char *upload_data,
        size_t *upload_data_size, void **con_cls)
{
    struct serve *s = cls;
    int head = strcmp(method, "HEAD") == 0;
    int get = head || strcmp(method, "GET") == 0;
    int post = strcmp(method, "POST") == 0;
    size_t plen, tlen;
    enum track_purpose p;
    const char *tok;
    uint32_t camp = 0;
    uint64_t contact = 0;
    struct ev ev;
    struct err e;
    enum MHD_Result ret;

    if (*con_cls == NULL) {
        /* stopping: a request not begun is not begun (its client sees
         * the connection close, with no answer and nothing recorded) */
        if (atomic_load(&s->stopping))
            return MHD_NO;
        if (!path_whole(c, url, version))
            return respond_nf(s, c);
    }
    url = origin(url);
    plen = strlen(url);
    if (*con_cls == NULL && !post) {
        /* answer on the second call, once the request is read whole: a
         * response queued before that makes libmicrohttpd close the
         * connection (no keep-alive) */
        *con_cls = &get_mark;
        atomic_fetch_add(&s->inflight, 1);
        return MHD_YES;
    }
    if (*con_cls == &get_mark && *upload_data_size > 0)
        return MHD_NO; /* a body on a GET: no business of ours */
    if (*con_cls != NULL && *con_cls != &get_mark) {
        /* the body of a POST /u/ (checked when its headers came) */
        struct post_state *ps = *con_cls;
        if (*upload_data_size > 0) {
            ps->got += *upload_data_size;
            if (ps->got > SERVE_BODY_MAX)
                ps->too_big = 1;
            else if (MHD_post_process(ps->pp, upload_data, *upload_data_size) ==
                     MHD_NO)
                ps->bad = 1;
            *upload_data_size = 0;
            if (ps->too_big)
                return respond_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
                                    "Request body too large\n");
            return MHD_YES;
        }
        tok = url + 3;
        tlen = plen - 3;
        if (!token(s, TRACK_UNSUBSCRIBE, tok, tlen, &camp, &contact, NULL))
            return respond_nf(s, c);
        return unsubscribe_post(s, c, camp, contact, ps);
    }

    if (get && strcmp(url, "/healthz") == 0) {
        struct store *st = pool_get(s);
        struct store_send_times t;
        int rc = store_send_times(st, 0, 0, &t, &e);
        pool_put(s, st);
        if (rc == -1)
            return fail_page(c, &e, "healthz");
        return respond_text(c, MHD_HTTP_OK, "ok\n");
    }
    if (plen < 4 || url[0] != '/' || url[2] != '/' ||
        strchr("ocuv", url[1]) == NULL || (!get && !post))
        return respond_nf(s, c);
    p = (enum track_purpose)url[1];
    tok = url + 3;
    tlen = plen - 3;
    if (p == TRACK_OPEN && tlen > 4 && memcmp(tok + tlen - 4, ".gif", 4) == 0)
        tlen -= 4;
    if (post && p != TRACK_UNSUBSCRIBE)
        return respond_nf(s, c);

    if (p == TRACK_CLICK) {
        struct buf u, loc;
        buf_init(&u, 8192);
        buf_init(&loc, 3 * 8192 + 1);
        if (!token(s, p, tok, tlen, &camp, &contact, &u) ||
            location(&u, &loc) == -1) {
            buf_free(&u);
            buf_free(&loc);
            return respond_nf(s, c);
        }
        event_for(s, c, EV_CLICK, camp, contact, &ev);
        if (head) {
            /* a browser clicking sends a GET: a HEAD is a link checker */
            ev.v.machine = 1;
            ev.v.reason = "HEAD request (a link checker)";
        }
        ev.url = xstrndup(u.p, u.len);
        enqueue(s, &ev);
        log_debug("serve: click campaign=%u contact=%llu machine=%d", camp,
                  (unsigned long long)contact, ev.v.machine);
        ret = respond(c, MHD_HTTP_FOUND, "text/plain", "", 0, loc.p);
        buf_free(&u);
        buf_free(&loc);
        return ret;
    }
    if (!token(s, p, tok, tlen, &camp, &contact, NULL))
        return respond_nf(s, c);

    switch (p) {
    case TRACK_OPEN:
        event_for(s, c, EV_OPEN, camp, contact, &ev);
        enqueue(s, &ev);
        log_debug("serve: open campaign=%u contact=%llu machine=%d%s%s", camp,
                  (unsigned long long)contact, ev.v.machine,
                  ev.v.machine ? " " : "", ev.v.machine ? ev.v.reason : "");
        return MHD_queue_response(c, MHD_HTTP_OK, s->gif);
    case TRACK_UNSUBSCRIBE: {
        struct page_info pi;
        int rc;
        if (post) {
            struct post_state *ps = xcalloc(1, sizeof *ps);
            const char *cl = MHD_lookup_connection_value(
                c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            *con_cls = ps;
            atomic_fetch_add(&s->inflight, 1);
            if (cl != NULL && strtoull(cl, NULL, 10) > SERVE_BODY_MAX) {
                ps->too_big = 1;
                return respond_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
                                    "Request body too large\n");
            }
            ps->pp = MHD_create_post_processor(c, 1024, post_field, ps);
            if (ps->pp == NULL) /* neither urlencoded nor multipart */
                return respond_text(c, MHD_HTTP_BAD_REQUEST,
                                    "Expected List-Unsubscribe=One-Click "
                                    "(RFC 8058)\n");
            return MHD_YES;
        }
        if ((rc = page_info(s, camp, contact, &pi, &e)) == -1)
            return fail_page(c, &e, "unsubscribe page");
        if (rc == 0)
            return respond_nf(s, c);
        log_debug("serve: unsubscribe page campaign=%u contact=%llu", camp,
                  (unsigned long long)contact);
        return unsub_page(s, c, &pi, 0);
    }
    case TRACK_VIEW: {
        struct buf h;
        int rc;
        buf_init(&h, 0);
        if ((rc = view(s, camp, contact, &h, &e)) == 1) {
            if (!head) { /* a HEAD sees no page: no view */
                event_for(s, c, EV_VIEW, camp, contact, &ev);
                enqueue(s, &ev);
            }
            log_debug("serve: view campaign=%u contact=%llu", camp,
                      (unsigned long long)contact);
            ret = respond(c, MHD_HTTP_OK, "text/html; charset=utf-8", h.p,
                          h.len, NULL);
        } else if (rc == 0) {
            ret = respond_nf(s, c);
        } else {
            ret = fail_page(c, &e, "web view");
        }
        buf_free(&h);
        return ret;
    }
    default:
        return respond_nf(s, c);
    }
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    static atomic_llong last;
    char line[512], pr[512];
    int64_t now = now_ms(CLOCK_MONOTONIC);
    long long was = atomic_load(&last);

    (void)cls;
    /* its errors (a connection limit reached, accept failing) once a
     * second at most, the rest with -v: a flood of bad requests does not
     * flood the log */
    if (log_get_level() < LOG_VERBOSE &&
        (now - was < 1000 || !atomic_compare_exchange_strong(&last, &was, now)))
        return;
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\r\n")] = '\0';
    log_printable(pr, sizeof pr, line, strlen(line));
    log_warnx("serve: libmicrohttpd: %s", pr);
}

/*---- start and stop ----*/

/* listen_addr - "host:port" or "[v6]:port" into ss. */
static int
listen_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
            struct err *e)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    struct addrinfo hints, *ai = NULL;
    size_t hl;
    int rc;

    if (colon == NULL || colon == spec)
        return err_set(e, EX_USAGE,
                       "listen address \"%s\": ADDRESS:PORT, e.g. "
                       "127.0.0.1:8787",
                       spec);
    hl = (size_t)(colon - spec);
    if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']')
        snprintf(host, sizeof host, "%.*s", (int)hl - 2, spec + 1);
    else
        snprintf(host, sizeof host, "%.*s", (int)hl, spec);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0)
        return err_set(e, EX_USAGE, "listen address \"%s\": %s", spec,
                       gai_strerror(rc));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static void
serve_free(struct serve *s)
{
    if (s->gif)
        MHD_destroy_response(s->gif);
    if (s->nf)
        MHD_destroy_response(s->nf);
    for (size_t i = 0; i < s->npool; i++)
        store_close(s->pool[i]);
    store_close(s->wst);
    store_close(s->cst);
    composer_free(s->view_comp);
    tmpl_free(s->view_tmpl);
    json_decref(s->view_data);
    free(s->view_name);
    buf_free(&s->view_msg);
    free(s->salt);
    free(s->q);
    free(s->batch);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->wake_ckpt);
    pthread_cond_destroy(&s->space);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_cond_destroy(&s->pool_cv);
    pthread_mutex_destroy(&s->view_mu);
    free(s);
}

struct serve *
serve_start(const struct serve_params *p, struct err *e)
{
    const struct config_serve *cs = &p->cfg->serve;
    struct serve *s = xcalloc(1, sizeof *s);
    struct sockaddr_storage ss;
    socklen_t sslen;
    pthread_condattr_t ca;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned int threads = cs->threads > 0 ? (unsigned)cs->threads
                                           : (unsigned)(ncpu > 0 ? ncpu : 2);
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_USE_ITC | MHD_USE_ERROR_LOG |
                         MHD_ALLOW_SUSPEND_RESUME;
    const union MHD_DaemonInfo *di;
    /* behind a proxy every connection comes from the proxy: the limit per
     * address would refuse its connections (502s); the proxy limits its
     * clients instead (nginx limit_conn) */
    unsigned int per_ip = cs->ntrusted_proxy > 0 ? 0 : (unsigned int)cs->per_ip;

    s->p = *p;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_cond_init(&s->wake_ckpt, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->space, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    pthread_mutex_init(&s->view_mu, NULL);
    buf_init(&s->view_msg, 0);
    s->q = xcalloc(SERVE_QUEUE_MAX, sizeof *s->q);
    s->batch = xcalloc(SERVE_QUEUE_MAX, sizeof *s->batch);

    if (listen_addr(cs->listen ? cs->listen : "127.0.0.1:8787", &ss, &sslen,
                    e) == -1)
        goto fail;
    if ((s->wst = store_open(p->db_path, STORE_OPEN_EXISTING, NULL, e)) ==
            NULL ||
        store_cache(s->wst, 16384, e) == -1 ||
        store_autocheckpoint(s->wst, 0, e) == -1 ||
        (s->cst = store_open(p->db_path, STORE_OPEN_EXISTING, NULL, e)) ==
            NULL ||
        store_cache(s->cst, 1024, e) == -1)
        goto fail;
    s->salt = xstrdup(store_hash_salt(s->wst));
    s->npool = threads + 1 < SERVE_POOL_MAX ? threads + 1 : SERVE_POOL_MAX;
    for (size_t i = 0; i < s->npool; i++) {
        if ((s->pool[i] = store_open(p->db_path, STORE_OPEN_EXISTING, NULL,
                                     e)) == NULL ||
            store_cache(s->pool[i], 2048, e) == -1) {
            s->npool = i + (s->pool[i] != NULL);
            goto fail;
        }
    }
    s->nfree = s->npool;

    s->gif = MHD_create_response_from_buffer(
        sizeof pixel_gif, (void *)(uintptr_t)pixel_gif, MHD_RESPMEM_PERSISTENT);
    s->nf = MHD_create_response_from_buffer(sizeof not_found - 1,
                                            (void *)(uintptr_t)not_found,
                                            MHD_RESPMEM_PERSISTENT);
    if (s->gif == NULL || s->nf == NULL) {
        err_set(e, EX_SOFTWARE, "serve: cannot make the fixed responses");
        goto fail;
    }
    MHD_add_response_header(s->gif, MHD_HTTP_HEADER_CONTENT_TYPE, "image/gif");
    MHD_add_response_header(s->gif, MHD_HTTP_HEADER_CACHE_CONTROL,
                            "no-store, no-cache, max-age=0");
    MHD_add_response_header(s->gif, MHD_HTTP_HEADER_PRAGMA, "no-cache");
    MHD_add_response_header(s->nf, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; charset=utf-8");
    MHD_add_response_header(s->nf, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");

    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        err_set(e, EX_OSERR, "serve: cannot start the writer thread");
        goto fail;
    }
    s->writer_started = 1;
    if (pthread_create(&s->ckpt, NULL, ckpt_main, s) != 0) {
        err_set(e, EX_OSERR, "serve: cannot start the checkpoint thread");
        goto fail;
    }
    s->ckpt_started = 1;

    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, handler, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)cs->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        per_ip, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cs->timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVE_CONN_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_STRICT_FOR_CLIENT, 1,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_UNESCAPE_CALLBACK,
        unescape, s, MHD_OPTION_END);
    if (s->d == NULL) {
        err_set(e, EX_UNAVAILABLE,
                "serve: cannot listen on %s (in use, or not an address of "
                "this machine)",
                cs->listen ? cs->listen : "127.0.0.1:8787");
        goto fail;
    }
    di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    return s;
fail:
    (void)serve_stop(s, NULL);
    return NULL;
}

int
serve_port(const struct serve *s)
{
    return s->port;
}

int
serve_stop(struct serve *s, struct err *e)
{
    long lost;

    if (s == NULL)
        return 0;
    if (s->d != NULL) {
        /* no new connection, no new request; the requests begun are
         * answered (at most SERVE_STOP_MS), then the connections close */
        MHD_socket fd = MHD_quiesce_daemon(s->d);
        atomic_store(&s->stopping, 1);
        for (int i = 0; i < SERVE_STOP_MS / 10 && atomic_load(&s->inflight) > 0;
             i++)
            usleep(10000);
        MHD_stop_daemon(s->d);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
    if (s->writer_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_broadcast(&s->wake);
        pthread_cond_broadcast(&s->space);
        pthread_cond_broadcast(&s->wake_ckpt);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->writer, NULL);
    }
    if (s->ckpt_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_broadcast(&s->wake_ckpt);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->ckpt, NULL);
    }
    lost = s->lost;
    serve_free(s);
    if (lost > 0 && e != NULL)
        return err_set(e, EX_CANTCREAT, "serve: %ld events were not recorded",
                       lost);
    return 0;
}
