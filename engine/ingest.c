/* SPDX-License-Identifier: ISC */
/*
 * ingest.c - matching what came back to what was sent, and recording it
 * (see ingest.h).
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sysexits.h>

#include "bounce.h"
#include "digest.h"
#include "email.h"
#include "ingest.h"
#include "log.h"
#include "xalloc.h"

#define INGEST_CAMPAIGNS_MAX 64

struct ingest {
    struct store *st;
    const struct track_key *key;
    struct ingest_policy p;
    struct bounce_report *r; /* one report's room, reused */
    struct ingest_totals t;
    int64_t touched[INGEST_CAMPAIGNS_MAX]; /* campaigns a bounce or a
                                              complaint reached */
    size_t ntouched;
};

struct ingest *
ingest_new(struct store *st, const struct track_key *key,
           const struct ingest_policy *p, struct err *e)
{
    struct ingest *in = calloc(1, sizeof *in);

    if (in == NULL || (in->r = malloc(sizeof *in->r)) == NULL) {
        free(in);
        err_set(e, EX_SOFTWARE, "out of memory");
        return NULL;
    }
    in->st = st;
    in->key = key;
    in->p = *p;
    return in;
}

void
ingest_free(struct ingest *in)
{
    if (in == NULL)
        return;
    free(in->r);
    free(in);
}

void
ingest_totals(const struct ingest *in, struct ingest_totals *t)
{
    *t = in->t;
}

static int64_t
now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/*
 * identity - the SHA-256 of what makes this message itself: its own
 * Message-ID, else its body (the part after the header, which relays do
 * not touch when they add Received lines).
 */
static void
identity(const char *buf, size_t len, const struct bounce_report *r,
         const char *envelope, uint8_t out[32])
{
    const char *self_id = r->self_id;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 32;

    if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "campaign: libcrypto: no SHA-256\n");
        abort();
    }
    /* where it went: two people's "unsubscribe" mails may have the same
     * body, one message sent to two of our addresses is two */
    EVP_DigestUpdate(c, "to:", 3);
    EVP_DigestUpdate(c, r->verp, strlen(r->verp));
    EVP_DigestUpdate(c, "/", 1);
    EVP_DigestUpdate(c, r->unsub, strlen(r->unsub));
    EVP_DigestUpdate(c, "/", 1);
    if (envelope != NULL)
        EVP_DigestUpdate(c, envelope, strlen(envelope));
    if (self_id != NULL && *self_id != '\0') {
        EVP_DigestUpdate(c, "id:", 3);
        EVP_DigestUpdate(c, self_id, strlen(self_id));
    } else {
        const char *body = NULL;
        for (size_t i = 0; i + 1 < len && body == NULL; i++)
            if (buf[i] == '\n' &&
                (buf[i + 1] == '\n' ||
                 (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')))
                body = buf + i;
        if (body == NULL)
            body = buf;
        EVP_DigestUpdate(c, "body:", 5);
        EVP_DigestUpdate(c, body, len - (size_t)(body - buf));
    }
    EVP_DigestFinal_ex(c, out, &n);
    EVP_MD_CTX_free(c);
}

/* ---- matching ---- */

struct match {
    int64_t campaign, contact;
    char email[EMAIL_MAX + 1]; /* the contact's address, "" if forgotten */
    const char *how;           /* "token", "message-id", "address" */
};

struct who {
    int found;
    int64_t id;
    char email[EMAIL_MAX + 1];
};

static int
who_cb(const struct store_contact *c, void *arg)
{
    struct who *w = arg;

    w->found = 1;
    w->id = c->id;
    snprintf(w->email, sizeof w->email, "%s", c->email);
    return 0;
}

/* by_token - the (campaign, contact) of a token of purpose p that checks
 * and names a recipient of that campaign: 1, else 0 */
static int
by_token(struct ingest *in, const char *tok, enum track_purpose p,
         struct match *m, struct err *e)
{
    uint32_t campaign;
    uint64_t contact;
    int64_t cur;
    struct store_send_times t;
    struct who w;
    int rc;

    if (in->key == NULL || tok == NULL || *tok == '\0' ||
        track_token_parse(in->key, p, tok, strlen(tok), &campaign, &contact,
                          NULL) == -1)
        return 0;
    if (store_contact_current(in->st, (int64_t)contact, &cur, e) == -1)
        return -1;
    if ((rc = store_send_times(in->st, campaign, cur, &t, e)) != 1)
        return rc;
    memset(&w, 0, sizeof w);
    if (store_contact_get_id(in->st, cur, who_cb, &w, e) == -1)
        return -1;
    m->campaign = campaign;
    m->contact = cur;
    snprintf(m->email, sizeof m->email, "%s", w.email);
    m->how = "token";
    return 1;
}

struct rows {
    const char *message_id;
    int64_t campaign; /* the row found */
};

static int
rows_cb(const struct store_row *r, void *arg)
{
    struct rows *x = arg;

    if (x->message_id != NULL) {
        if (r->message_id != NULL &&
            strcmp(r->message_id, x->message_id) == 0) {
            x->campaign = r->campaign_id;
            return 1;
        }
        return 0;
    }
    /* the latest campaign that mailed the address */
    if (strcmp(r->state, "sent") == 0 || strcmp(r->state, "bounced") == 0 ||
        strcmp(r->state, "uncertain") == 0) {
        x->campaign = r->campaign_id;
        return 1;
    }
    return 0;
}

/* by_address - the contact of addr and the campaign of the returned
 * Message-ID among its rows (when the report has one), else its latest
 * campaign: 1, else 0 */
static int
by_address(struct ingest *in, const char *addr, const char *message_id,
           struct match *m, struct err *e)
{
    char canon[EMAIL_MAX + 1];
    const char *why;
    struct who w;
    struct rows x;
    int rc;

    if (addr == NULL || *addr == '\0' ||
        email_normalize(addr, strlen(addr), canon, &why) == -1)
        return 0;
    memset(&w, 0, sizeof w);
    if ((rc = store_contact_get(in->st, canon, who_cb, &w, e)) != 1)
        return rc;
    x.message_id = message_id && *message_id ? message_id : NULL;
    x.campaign = 0;
    if ((rc = store_contact_rows(in->st, w.id, rows_cb, &x, e)) == -1)
        return -1;
    if (x.campaign == 0)
        return 0;
    m->campaign = x.campaign;
    m->contact = w.id;
    snprintf(m->email, sizeof m->email, "%s", w.email);
    m->how = x.message_id ? "message-id" : "address";
    return 1;
}

/* match - the recipient of what we sent that report r is about */
static int
match(struct ingest *in, const struct bounce_report *r, struct match *m,
      struct err *e)
{
    int rc;

    memset(m, 0, sizeof *m);
    if (r->kind == BOUNCE_UNSUBSCRIBE)
        /* only the token proves who asked: From can be anyone's */
        return by_token(in, r->unsub, TRACK_UNSUBSCRIBE, m, e);
    if ((rc = by_token(in, r->verp, TRACK_BOUNCE, m, e)) != 0 ||
        (rc = by_token(in, r->returned_verp, TRACK_BOUNCE, m, e)) != 0 ||
        (rc = by_token(in, r->returned_unsub, TRACK_UNSUBSCRIBE, m, e)) != 0)
        return rc;
    /* a message that carries a token of our form that does not check is
     * forged (or for another database): the address it names proves
     * nothing, so nothing else is tried */
    if (in->key != NULL && (r->verp[0] || r->unsub[0] || r->returned_verp[0] ||
                            r->returned_unsub[0]))
        return 0;
    for (size_t i = 0; i < r->nrcpt; i++) {
        if ((rc = by_address(in, r->rcpt[i].recipient, r->message_id, m, e)) !=
                0 ||
            (rc = by_address(in, r->rcpt[i].original, r->message_id, m, e)) !=
                0)
            return rc;
    }
    return 0;
}

/* pick - the report's entry about the matched contact: the one naming
 * its address, else the first that is not a success */
static const struct bounce_rcpt *
pick(const struct bounce_report *r, const struct match *m)
{
    const struct bounce_rcpt *first = NULL;

    for (size_t i = 0; i < r->nrcpt; i++) {
        const struct bounce_rcpt *c = &r->rcpt[i];
        char canon[EMAIL_MAX + 1];
        const char *why;
        if (strcmp(c->classification, "delivered") == 0)
            continue;
        if (first == NULL)
            first = c;
        if (m->email[0] != '\0' &&
            ((email_normalize(c->recipient, strlen(c->recipient), canon, &why) >
                  0 &&
              strcmp(canon, m->email) == 0) ||
             (email_normalize(c->original, strlen(c->original), canon, &why) >
                  0 &&
              strcmp(canon, m->email) == 0)))
            return c;
    }
    return first;
}

/* ---- recording ---- */

static void
touch(struct ingest *in, int64_t campaign)
{
    for (size_t i = 0; i < in->ntouched; i++)
        if (in->touched[i] == campaign)
            return;
    if (in->ntouched < INGEST_CAMPAIGNS_MAX)
        in->touched[in->ntouched++] = campaign;
}

/* suppress - the contact's address, for reason, unless it was forgotten
 * (its hash is suppressed already) */
static int
suppress(struct ingest *in, const struct match *m, const char *reason,
         const char *source, int64_t at_ms, struct err *e)
{
    struct store_suppression sup;
    uint8_t hash[DIGEST_LEN];

    if (m->email[0] == '\0')
        return 0;
    digest_email(store_hash_salt(in->st), m->email, hash);
    memset(&sup, 0, sizeof sup);
    sup.hash = hash;
    sup.email = m->email;
    sup.reason = reason;
    sup.source = source;
    sup.created_at = at_ms / 1000;
    return store_suppress(in->st, &sup, e) == -1 ? -1 : 0;
}

/*
 * record - what one matched report changes; *outcome says what it was.
 */
static int
record(struct ingest *in, const struct bounce_report *r, const struct match *m,
       int64_t at_ms, const char **outcome, struct err *e)
{
    struct store_event ev;
    const struct bounce_rcpt *c = pick(r, m);
    const char *cls = c ? c->classification : "unknown";

    memset(&ev, 0, sizeof ev);
    ev.campaign_id = m->campaign;
    ev.contact_id = m->contact;
    ev.at_ms = at_ms;
    *outcome = cls;
    /* matched by the address alone, where every message sent carries
     * tokens: anyone can write such a message, so it is kept for the
     * report but changes no ledger row and suppresses nobody */
    if (in->key != NULL && strcmp(m->how, "address") == 0) {
        *outcome = "unverified";
        in->t.unverified++;
        if (r->kind == BOUNCE_ARF || strcmp(cls, "complaint") == 0)
            ev.kind = "complaint";
        else if (r->kind == BOUNCE_AUTO_REPLY || strcmp(cls, "auto_reply") == 0)
            ev.kind = "auto_reply";
        else if (strcmp(cls, "delayed") == 0)
            ev.kind = "delayed";
        else if (strcmp(cls, "hard") == 0 || strcmp(cls, "soft") == 0 ||
                 strcmp(cls, "blocked") == 0)
            ev.kind = "bounce";
        else
            return 0;
        ev.cls = ev.kind[0] == 'c'
                     ? (r->feedback_type[0] ? r->feedback_type : "abuse")
                     : cls;
        ev.machine = 1; /* not the person's word: kept apart */
        ev.machine_reason = "unverified: matched by address only";
        if (c != NULL) {
            ev.status = c->status[0] ? c->status : NULL;
            ev.code = c->reply_code;
            ev.detail = c->diagnostic[0] ? c->diagnostic : NULL;
        }
        log_warnx("%s for %s matched by its address alone (no token of "
                  "ours, no Message-ID): recorded, not acted on",
                  ev.kind, m->email[0] ? m->email : "a forgotten contact");
        return store_event_add(in->st, &ev, e) == -1 ? -1 : 0;
    }
    if (r->kind == BOUNCE_ARF || strcmp(cls, "complaint") == 0) {
        if (strcmp(r->feedback_type, "not-spam") == 0) {
            *outcome = "not-spam";
            in->t.unknown++;
            return 0;
        }
        ev.kind = "complaint";
        ev.cls = r->feedback_type[0] ? r->feedback_type : "abuse";
        in->t.complaint++;
        touch(in, m->campaign);
        if (suppress(in, m, "complained", "complaint", at_ms, e) == -1)
            return -1;
    } else if (r->kind == BOUNCE_UNSUBSCRIBE) {
        int rc = store_event_has(in->st, m->campaign, m->contact, "unsubscribe",
                                 -1, e);
        if (rc == -1)
            return -1;
        in->t.unsubscribe++;
        if (suppress(in, m, "unsubscribed", "mailto", at_ms, e) == -1)
            return -1;
        if (rc == 1)
            return 0;
        ev.kind = "unsubscribe";
        ev.cls = "mail";
    } else if (r->kind == BOUNCE_AUTO_REPLY || strcmp(cls, "auto_reply") == 0) {
        ev.kind = "auto_reply";
        in->t.auto_reply++;
    } else if (strcmp(cls, "delayed") == 0) {
        ev.kind = "delayed";
        ev.status = c->status[0] ? c->status : NULL;
        ev.code = c->reply_code;
        ev.detail = c->diagnostic[0] ? c->diagnostic : NULL;
        in->t.delayed++;
    } else if (strcmp(cls, "hard") == 0 || strcmp(cls, "soft") == 0 ||
               strcmp(cls, "blocked") == 0) {
        struct store_bounce b;
        const char *text = c->diagnostic[0] ? c->diagnostic : c->reason;

        /* the ledger keeps code and status in their own columns: the text
         * goes without them ("550 5.1.1 <a>: ..." -> "<a>: ...") */
        if (c->reply_code > 0 && text == c->diagnostic) {
            const char *t = text;
            while (*t == ' ')
                t++;
            if (t[0] >= '2' && t[0] <= '5' && t[1] >= '0' && t[1] <= '9' &&
                t[2] >= '0' && t[2] <= '9' && (t[3] == ' ' || t[3] == '-')) {
                t += 4;
                if (c->status[0] != '\0' &&
                    strncmp(t, c->status, strlen(c->status)) == 0 &&
                    (t[strlen(c->status)] == ' ' ||
                     t[strlen(c->status)] == '\0'))
                    t += strlen(c->status);
                while (*t == ' ')
                    t++;
                if (*t != '\0')
                    text = t;
            }
        }

        ev.kind = "bounce";
        ev.cls = cls;
        ev.status = c->status[0] ? c->status : NULL;
        ev.code = c->reply_code;
        ev.detail = c->diagnostic[0] ? c->diagnostic : NULL;
        memset(&b, 0, sizeof b);
        b.campaign_id = m->campaign;
        b.contact_id = m->contact;
        b.bounce_class = cls;
        b.code = c->reply_code;
        b.status = c->status[0] ? c->status : NULL;
        b.text = text;
        b.at = at_ms / 1000;
        if (store_ledger_bounce(in->st, &b, e) == -1)
            return -1;
        touch(in, m->campaign);
        if (cls[0] == 'h') {
            in->t.hard++;
            if (suppress(in, m, "bounced", "bounce", at_ms, e) == -1)
                return -1;
        } else if (cls[0] == 's') {
            long n;
            in->t.soft++;
            /* the other campaigns', and this one: n + 1 */
            if (store_soft_bounces(in->st, m->contact,
                                   at_ms - (int64_t)in->p.soft_days * 86400000,
                                   m->campaign, &n, e) == -1)
                return -1;
            if (n + 1 >= in->p.soft_limit &&
                suppress(in, m, "bounced", "soft bounces", at_ms, e) == -1)
                return -1;
        } else {
            in->t.blocked++;
        }
    } else if (strcmp(cls, "delivered") == 0) {
        in->t.delivered++;
        return 0;
    } else {
        in->t.unknown++;
        return 0;
    }
    return store_event_add(in->st, &ev, e) == -1 ? -1 : 0;
}

int
ingest_message(struct ingest *in, const char *buf, size_t len,
               const char *envelope_rcpt, const char *where, struct err *e)
{
    struct bounce_opts o = {envelope_rcpt};
    struct bounce_report *r = in->r;
    struct store_inbound ib;
    struct match m;
    uint8_t key[32];
    const char *outcome = "unmatched";
    int64_t at = now_ms();
    int rc;

    if (bounce_parse(buf, len, &o, r, e) == -1)
        return -1;
    in->t.messages++;
    identity(buf, len, r, envelope_rcpt, key);
    if (store_begin(in->st, e) == -1)
        return -1;
    if ((rc = store_inbound_seen(in->st, key, e)) == -1)
        goto fail;
    if (rc == 1) {
        in->t.duplicate++;
        log_debug("%s: read before: nothing changes", where);
        store_rollback(in->st);
        return 1;
    }
    if ((rc = match(in, r, &m, e)) == -1)
        goto fail;
    if (rc == 0) {
        if (r->kind == BOUNCE_UNKNOWN) {
            in->t.unknown++;
            outcome = "unknown";
            log_info("%s: not a bounce, complaint, auto-reply or "
                     "unsubscribe: ignored",
                     where);
        } else {
            in->t.unmatched++;
            log_warnx("%s: %s%s%s matches nothing this database sent "
                      "(no valid token, Message-ID or recipient): ignored",
                      where, bounce_kind_name(r->kind),
                      r->nrcpt && r->rcpt[0].recipient[0] ? " for " : "",
                      r->nrcpt ? r->rcpt[0].recipient : "");
        }
        /* not kept in inbound: read again once the cause is fixed (the
         * tracking secret, --rcpt), it may match */
        store_rollback(in->st);
        return 0;
    }
    if (record(in, r, &m, at, &outcome, e) == -1)
        goto fail;
    log_debug("%s: %s, matched by %s", where, outcome, m.how);
    memset(&ib, 0, sizeof ib);
    ib.key = key;
    ib.at_ms = at;
    ib.kind = bounce_kind_name(r->kind);
    ib.outcome = outcome;
    ib.campaign_id = m.campaign;
    ib.contact_id = m.contact;
    if (store_inbound_add(in->st, &ib, e) == -1)
        goto fail;
    if (store_commit(in->st, e) == -1)
        goto fail;
    return 1;
fail:
    store_rollback(in->st);
    return -1;
}

static int
name_cb(const struct store_campaign *c, void *arg)
{
    snprintf(arg, 128, "%s", c->name);
    return 0;
}

int
ingest_finish(struct ingest *in, struct err *e)
{
    if (in->ntouched == 0)
        return 0;
    if (store_begin(in->st, e) == -1)
        return -1;
    for (size_t i = 0; i < in->ntouched; i++) {
        char why[256];
        int rc = breaker_check(in->st, in->touched[i], &in->p.breaker, why,
                               sizeof why, e);
        if (rc == -1) {
            store_rollback(in->st);
            return -1;
        }
        if (rc == 1) {
            char name[128] = "";
            in->t.paused++;
            if (store_campaign_get_id(in->st, in->touched[i], name_cb, name,
                                      e) == -1) {
                store_rollback(in->st);
                return -1;
            }
            log_warnx("campaign %s paused: %s", name, why);
        }
    }
    return store_commit(in->st, e);
}
