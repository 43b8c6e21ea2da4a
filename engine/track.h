/* SPDX-License-Identifier: ISC */
/*
 * track.h - tracking and unsubscribe tokens.
 *
 * A token names a purpose (unsubscribe, open, click, view), a campaign, a
 * contact and, for clicks, the destination URL, and carries an
 * HMAC-SHA256 over all of it with the database's tracking secret,
 * truncated to 128 bits (RFC 2104 section 5 allows truncation to half the
 * hash; 128 bits is beyond guessing).  Tokens are base64url without
 * padding, safe in URLs and in the local part of an address.  Checking a
 * token compares the MAC in constant time; a forged, truncated or altered
 * token (other purpose, campaign, contact or URL) does not parse.
 *
 * The secret is 32 random bytes in a mode-0600 file that `init` creates.
 */
#ifndef CAMPAIGN_TRACK_H
#define CAMPAIGN_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define TRACK_SECRET_LEN 32
#define TRACK_MAC_LEN 16
/* A token without URL: 1 + 4 + 8 + 16 bytes -> 39 base64url chars. */
#define TRACK_TOKEN_MAX 40

enum track_purpose {
    TRACK_UNSUBSCRIBE = 'u',
    TRACK_OPEN = 'o',
    TRACK_CLICK = 'c',
    TRACK_VIEW = 'v',
    TRACK_BOUNCE = 'b', /* VERP return path */
};

struct track_key {
    uint8_t secret[TRACK_SECRET_LEN];
};

/*
 * track_secret_create - write a new random secret to path (mode 0600,
 * atomically) unless the file exists.  Returns 1 written, 0 existed, -1.
 */
int track_secret_create(const char *path, struct err *e);
/* track_secret_load - read the secret; EX_CONFIG when missing, not 0600,
 * or not 32 bytes. */
int track_secret_load(const char *path, struct track_key *k, struct err *e);

/*
 * track_token - append the token for (purpose, campaign, contact, url) to
 * out; url may be NULL (and must be NULL except for clicks).
 */
int track_token(const struct track_key *k, enum track_purpose p,
                uint32_t campaign, uint64_t contact, const char *url,
                struct buf *out);

/*
 * struct track_signer - a key's HMAC state computed once (the SHA-256 of
 * the padded key, inner and outer), so that each token costs two or three
 * SHA-256 blocks instead of a key schedule.  One signer per thread: it
 * holds its own working state.  The tokens are those track_token makes.
 */
struct track_signer;

/* track_signer_new - NULL (EX_SOFTWARE in e) when OpenSSL fails. */
struct track_signer *track_signer_new(const struct track_key *k, struct err *e);
/* track_signer_free - wipes the key state; NULL is a no-op. */
void track_signer_free(struct track_signer *s);
/* track_signer_token - track_token with a url of ulen bytes (url NULL
 * and ulen 0 except for clicks); -1 past out->max, on a url over the
 * maximum, or when OpenSSL fails. */
int track_signer_token(struct track_signer *s, enum track_purpose p,
                       uint32_t campaign, uint64_t contact, const char *url,
                       size_t ulen, struct buf *out);

/*
 * struct track_req - one token of a batch: purpose, contact and, for a
 * click, the url's ulen bytes (url NULL and ulen 0 otherwise; the caller
 * owns url).  track_signer_tokens fills off and len.
 */
struct track_req {
    enum track_purpose p;
    uint64_t contact;
    const char *url;
    size_t ulen;
    size_t off, len; /* out: the token is out->p[off, off + len) */
};

/*
 * track_signer_tokens - the tokens of n requests of one campaign, the
 * same as n calls of track_signer_token, appended to out one after the
 * other, each followed by a NUL (the last one's is out's own: out->len
 * ends at the last token).  With the SHA extensions two tokens are hashed
 * at once, nearly twice as fast as one by one: batch what you can.
 * -1 (out may hold some tokens) past out->max, on a url over the maximum,
 * or when OpenSSL fails.
 */
int track_signer_tokens(struct track_signer *s, uint32_t campaign,
                        struct track_req *r, size_t n, struct buf *out);

/* track_signer_portable - for tests: make s hash through OpenSSL, as on a
 * processor without the SHA extensions. */
void track_signer_portable(struct track_signer *s);

/*
 * track_token_parse - check a token (len bytes) for the expected purpose;
 * fill campaign, contact and (for clicks) url.  Returns 0 valid, -1
 * invalid.  Never allocates beyond url's maximum.
 */
int track_token_parse(const struct track_key *k, enum track_purpose p,
                      const char *tok, size_t len, uint32_t *campaign,
                      uint64_t *contact, struct buf *url);

/* base64url without padding. */
int track_b64url_encode(const void *p, size_t n, struct buf *out);
/* track_b64url_decode - -1 on a character outside the alphabet. */
int track_b64url_decode(const char *s, size_t n, struct buf *out);

#endif
