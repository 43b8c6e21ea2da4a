/* SPDX-License-Identifier: ISC */
/*
 * serve.h - `campaign serve`: the HTTP endpoint that the links of every
 * message point to (PRODUCT.md, tracking and opt-outs), on libmicrohttpd.
 *
 * Owns the routes and what each records:
 *   GET|HEAD /o/TOKEN[.gif]  the open pixel: 200, a 43-byte transparent
 *                            GIF, Cache-Control: no-store; an open
 *   GET  /c/TOKEN            302 to the link the signed token carries (no
 *                            other part of the request is ever used: no
 *                            open redirect); a click, and an open if the
 *                            contact had none
 *   GET  /u/TOKEN            the unsubscribe page (the list, the address
 *                            partly masked, one button); changes nothing,
 *                            since link scanners follow every URL
 *   POST /u/TOKEN            RFC 8058 one-click, List-Unsubscribe=One-Click
 *                            urlencoded or multipart/form-data, or the
 *                            page's button: the contact is suppressed
 *                            (unsubscribed) and the 200 goes out only once
 *                            that is committed; idempotent
 *   GET  /v/TOKEN            the web view: the message's HTML part as sent,
 *                            from the campaign's frozen template and data,
 *                            without the open pixel; a view
 *   GET  /healthz            200 when the database answers
 * Everything else, and every forged, truncated, re-purposed (an open token
 * on /u/) or sample (--test-to) token, is a 404 with one fixed body.
 *
 * Threads: libmicrohttpd's pool answers requests; opens, clicks and views
 * go into a bounded queue that one writer thread commits every
 * SERVE_FLUSH_MS at most (one transaction per batch), so request threads
 * never wait for an fsync.  An unsubscribe waits for the writer's commit
 * (which it hastens).  Reads for the pages come from a small pool of
 * connections of their own.  Machine hits (mail-privacy proxies, link
 * scanners: machine.h; a click within click_seconds of delivery; two or
 * more links of one message clicked within a second) are recorded with
 * machine = 1 and why.
 *
 * Hostile input is bounded by libmicrohttpd's limits (connection memory:
 * request line and headers; connections at once, per address; idle
 * timeout) and ours (SERVE_BODY_MAX); responses carry no header value
 * taken from the request.
 */
#ifndef CAMPAIGN_SERVE_H
#define CAMPAIGN_SERVE_H

#include "config.h"
#include "err.h"
#include "machine.h"
#include "track.h"

/* A batch of events is committed at most this long after its first hit:
 * what `kill -9` may lose. */
#define SERVE_FLUSH_MS 100
/* Hits waiting for the writer: about three seconds of 44,000 a second,
 * so that a disk that stalls for a moment (writeback) does not stall the
 * requests; past this a request waits (memory stays bounded: 80 bytes a
 * hit, touched only when used). */
#define SERVE_QUEUE_MAX 131072
/* ... and the bytes their URLs (clicks) and addresses hold at most. */
#define SERVE_QUEUE_BYTES (16 * 1024 * 1024)
/* A POST body: RFC 8058's is 26 bytes; a multipart one a few hundred. */
#define SERVE_BODY_MAX 4096
/* Per-connection memory for the request line and headers: a click token
 * carries its URL (up to 8,000 bytes, track.c), base64url-encoded. */
#define SERVE_CONN_MEMORY (64 * 1024)

struct serve_params {
    const char *db_path;
    const struct config *cfg; /* [serve], [sender], [tracking] */
    const struct track_key *key;
    const struct machine_rules *rules;
};

struct serve;

/*
 * serve_start - open the database, start the writer and listen on
 * cfg->serve.listen.  Signals should be blocked in the caller first, so
 * that the threads started here inherit the mask.  NULL on error: EX_USAGE
 * or EX_CONFIG for a bad address, EX_UNAVAILABLE when it cannot listen,
 * the store's errors.
 */
struct serve *serve_start(const struct serve_params *p, struct err *e);
/* serve_port - the port listened on (for listen = ...:0). */
int serve_port(const struct serve *s);
/*
 * serve_stop - stop accepting, finish the requests in flight, commit
 * every event received, close.  Returns 0, or -1 when the last commit
 * failed (e says how many events were lost).  NULL is a no-op.
 */
int serve_stop(struct serve *s, struct err *e);

/* serve_mask - "m***@e***.it": an address for a page, never in full
 * (out at least EMAIL_MAX + 1 bytes). */
void serve_mask(const char *email, char *out, size_t n);

#endif
