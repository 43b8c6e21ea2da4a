/* SPDX-License-Identifier: ISC */
/*
 * mime.h - the message builder: exactly the bytes one recipient gets.
 *
 * Implements RFC 5322 (header fields, Date, Message-ID), RFC 2045-2047
 * (MIME, quoted-printable, encoded-words for non-ASCII Subject and display
 * names), RFC 2046 multipart/alternative (text first, then HTML), RFC 2369
 * and RFC 8058 (List-Unsubscribe with an https URL and a mailto, and
 * List-Unsubscribe-Post: List-Unsubscribe=One-Click), RFC 2919 (List-Id).
 *
 * Wire rules, whatever the input holds: CRLF line ends only, never a bare
 * CR or LF; no line over 998 octets (bodies are quoted-printable with
 * lines of at most 76); a header value containing CR, LF or NUL is an
 * error, never silently stripped, so merge data can never add a header.
 * A line of the body that starts with "." or "From " is encoded, so dot
 * stuffing and mbox quoting never change the message.
 *
 * Also owns the derivation of a text part from HTML (links kept as URLs).
 */
#ifndef CAMPAIGN_MIME_H
#define CAMPAIGN_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct mime_address {
    const char *name; /* display name (UTF-8) or NULL */
    const char *addr; /* addr-spec */
};

struct mime_cache;

struct mime_message {
    struct mime_address from;
    struct mime_address to;
    const char *reply_to;        /* an address or "Name <address>", or NULL */
    const char *subject;         /* UTF-8 */
    const char *message_id;      /* "<...@...>" */
    int64_t date;                /* Unix time */
    const char *unsubscribe_url; /* https://... or NULL */
    const char *unsubscribe_mailto; /* mailto:... or NULL */
    const char *list_id;            /* "Name <list.id.example>" or NULL */
    const char *feedback_id;        /* or NULL */
    const char *text;               /* text part (UTF-8) */
    size_t text_len;
    const char *html; /* HTML part (UTF-8), or NULL for text only */
    size_t html_len;
    struct mime_cache *cache; /* NULL, or see mime_cache_new */
    /* NULL, or where mime_build puts the length of the header section it
     * wrote, its empty line included */
    size_t *header_len;
};

/*
 * mime_build - append the complete message (headers, empty line, body)
 * to out.  Errors: EX_DATAERR naming the header whose value holds a line
 * break or NUL, or an invalid address; -1 with "message too large" when
 * out's maximum is reached.
 */
int mime_build(const struct mime_message *m, struct buf *out, struct err *e);

/*
 * mime_parse_address - split "Name <a@b>" or "a@b" into name and address
 * (copied into buf, which owns them).  Returns -1 if there is no
 * plausible address.
 */
int mime_parse_address(const char *s, struct mime_address *out,
                       struct buf *buf);

/* mime_qp_encode - quoted-printable body encoding (RFC 2045 6.7). */
int mime_qp_encode(const char *s, size_t n, struct buf *out);

/*
 * mime_encode_header - append an unstructured header value (Subject) as
 * ASCII, folded, with RFC 2047 encoded-words when it is not plain ASCII.
 * `used` is the length of "Name: " already on the line.
 */
int mime_encode_header(const char *s, size_t n, size_t used, struct buf *out);

/*
 * mime_html_to_text - derive a readable text part from HTML: tags
 * dropped, block elements as line breaks, list items as "- ", links as
 * "text (URL)", entities decoded, style/script/head skipped, whitespace
 * collapsed.  Appends to out.
 */
int mime_html_to_text(const char *html, size_t n, struct buf *out);

/*
 * struct mime_cache - what the last message of a campaign turned into,
 * line by line, so that the next one, which differs from it in a few
 * lines (a name, a link), reuses the rest: the quoted-printable encoding
 * of a line depends on that line alone, and the text derived from HTML
 * on the line and a small state at its start.  Results are byte for byte
 * those of the calls without a cache.  One cache per thread, used for one
 * stream of similar messages; it holds a copy of the last parts.
 */
struct mime_cache *mime_cache_new(void);
void mime_cache_free(struct mime_cache *c);

/* mime_html_to_text_cached - mime_html_to_text through cache c (NULL:
 * none); the cache is used when out is empty. */
int mime_html_to_text_cached(struct mime_cache *c, const char *html, size_t n,
                             struct buf *out);

/* mime_date - RFC 5322 date-time of t in UTC, into out (>= 40 bytes). */
void mime_date(int64_t t, char *out, size_t n);

#endif
