/* SPDX-License-Identifier: ISC */
/*
 * compose.h - one recipient's complete, signed message from a template.
 *
 * Owns the rendering context (the contact - email and imported
 * attributes - over the campaign's data, under the built-ins
 * unsubscribe_url, view_url, campaign and date), the per-recipient
 * identities (a Message-ID stable per campaign and contact, a name-based
 * UUID (digest.h), so a resend carries the same one; the VERP return
 * path bounces+TOKEN@bounce_domain), tracking (open pixel, signed click
 * links, List-Unsubscribe with RFC 8058 one-click), the preheader, and
 * the order render -> build (mime.c) -> sign (dkim.c).
 *
 * Pure: no database, no network; one composer is used by one thread and
 * reuses its buffers from message to message.  It also remembers the last
 * message it built - its lines, quoted-printable and as text (mime.h
 * struct mime_cache), the contact's attributes as a flat frame (template.h
 * struct template_flat: the values point into the attribute text, nothing
 * is allocated per message), the look-ups in the campaign data, the
 * sections that depend on nothing else and a few whole renders that are
 * replayed with this contact's values dropped in (template.h struct
 * template_cache) - so that the next message costs what differs from the
 * last: the bytes are always those built from scratch.
 */
#ifndef CAMPAIGN_COMPOSE_H
#define CAMPAIGN_COMPOSE_H

#include <jansson.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "dkim.h"
#include "email.h"
#include "err.h"
#include "tmpl.h"
#include "track.h"

struct compose_params {
    const struct tmpl *tmpl;
    json_t *data;         /* campaign data (any JSON object) or NULL */
    const char *campaign; /* the campaign's name */
    uint32_t campaign_id; /* 0 when the campaign is not yet recorded */
    const char *salt;     /* database salt: Message-IDs differ per db */
    const struct config_sender *sender;
    const struct config_tracking *tracking;
    const struct track_key *key;  /* NULL: no tokens (no tracking) */
    struct dkim_key *const *dkim; /* n keys, may be 0 */
    size_t ndkim;
    int strict; /* a field used without fallback and missing is an error */
};

struct compose_contact {
    uint64_t id;
    const char *email;
    const char *attrs;      /* JSON object text */
    const char *message_id; /* NULL: the campaign's and id's; else the one
                             * this recipient's row was sent with (the
                             * retry of an uncertain message keeps it) */
};

/*
 * The recipient on the wire (email.h email_wire): an ASCII local part
 * with the domain as A-labels, in RCPT TO and To:, whatever the relay
 * offers; a UTF-8 local part as it is, with smtputf8 set: RCPT TO and a
 * UTF-8 To: (RFC 6531/6532), which only a relay offering SMTPUTF8 takes.
 * held is "" or why the message must not go (an address stored before
 * IDNA2008 was enforced, which has no wire form): the caller records it
 * held, not bounced.
 */
struct compose_result {
    char message_id[128];    /* "<uuid@domain>" */
    char envelope_from[320]; /* the VERP return path, or the From address */
    size_t header_len;       /* bytes of the header block (with DKIM) */
    char rcpt[EMAIL_MAX + 1];
    int smtputf8;
    char held[128];
};

struct composer;

/* composer_new - validate the sender (a From address from the template or
 * [sender] from), prepare; EX_CONFIG when there is no sender. */
struct composer *composer_new(const struct compose_params *p, struct err *e);
void composer_free(struct composer *c);

/* composer_from_domain - the From domain of the last message built (or
 * checked), "" before the first. */
const char *composer_from_domain(const struct composer *c);
/* composer_sender_domain - the domain a campaign sends from, before any
 * message is built: the last From's, else the template's fixed From or
 * [sender] from; "" when none (its daily cap's key, schedule.h) */
const char *composer_sender_domain(const struct composer *c);

/*
 * composer_build - the message for one contact into out (reset first),
 * dated now.  Errors (the contact's message cannot be made; the caller
 * reports and goes on): EX_DATAERR for a missing field (strict), a line
 * break in a header value, an invalid address; out's content is then
 * unspecified.
 */
int composer_build(struct composer *c, const struct compose_contact *ct,
                   int64_t now, struct buf *out, struct compose_result *r,
                   struct err *e);

/*
 * composer_check - whether the message for one contact can be built:
 * composer_build's work and errors, without the DKIM signatures (which
 * cannot fail for one contact), and nothing kept.  The message of an
 * error starts "contact EMAIL: " (the rest is the same for every
 * recipient with the same problem).  A campaign checks its recipients
 * with it before it records anything.
 */
int composer_check(struct composer *c, const struct compose_contact *ct,
                   int64_t now, struct err *e);

/* Parts of the last message built, for `preview --format html|text`. */
const char *composer_last_html(const struct composer *c, size_t *len);
const char *composer_last_text(const struct composer *c, size_t *len);

#endif
