/* SPDX-License-Identifier: ISC */
/*
 * dkim.h - DKIM signing (RFC 6376) with rsa-sha256 and ed25519-sha256
 * (RFC 8463); relaxed/relaxed canonicalisation; no l= tag; t= set; the
 * key headers signed and over-signed (each name listed once more than it
 * occurs) so that nobody can add another From, Subject, ... after us.
 *
 * This file and tls.c are the only ones that see OpenSSL types.  Keys are
 * PEM files (PKCS#8 or traditional); the algorithm follows the key.
 */
#ifndef CAMPAIGN_DKIM_H
#define CAMPAIGN_DKIM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

enum dkim_algo { DKIM_RSA_SHA256, DKIM_ED25519_SHA256 };

struct dkim_key;

/*
 * dkim_key_load - read a private key (mode 0600 expected; a key readable
 * by others is refused with EX_CONFIG) for signing as domain/selector.
 * Errors: EX_NOINPUT, EX_CONFIG (wrong permissions, unsupported key type,
 * RSA under 1024 bits), EX_DATAERR (not a key).
 */
struct dkim_key *dkim_key_load(const char *path, const char *domain,
                               const char *selector, struct err *e);
void dkim_key_free(struct dkim_key *k);
enum dkim_algo dkim_key_algo(const struct dkim_key *k);

/*
 * The headers signed by default (RFC 6376 5.4.1 recommendations plus the
 * RFC 8058 ones), NULL-terminated: each is over-signed, i.e. listed in h=
 * once more than it occurs in the message (once when absent).
 */
extern const char *const dkim_signed_headers[];

/*
 * dkim_sign - sign the complete message msg (len bytes, CRLF line ends,
 * headers then an empty line then the body) with each of the n keys, and
 * append one "DKIM-Signature: ..." header per key (folded, CRLF-ended)
 * to out, ready to be put before the message's first header.  t is the
 * signing time (t= tag).  The body hash is computed once and shared.
 * Errors: EX_DATAERR (no header/body separator, a malformed header field,
 * a bare CR or LF anywhere, a last body line without CRLF that ends in
 * WSP, more than 32 fields of one signed name, out->max reached),
 * EX_SOFTWARE (OpenSSL).
 * On error out is left as it was.  The message is untrusted input.
 * Thread-safe for distinct out buffers (keys are read-only).
 */
int dkim_sign(struct dkim_key *const *keys, size_t n, const char *msg,
              size_t len, int64_t t, struct buf *out, struct err *e);

/*
 * dkim_keygen - generate a key (RSA of `bits` bits, or Ed25519), write it
 * to path as PEM with mode 0600 (atomically; an existing file is not
 * overwritten: EX_CANTCREAT), and append to dns the TXT record to publish:
 *   S._domainkey.D. IN TXT ( "v=DKIM1; k=rsa; p=..." "..." )
 * long values split into quoted strings of at most 255 octets.  bits is
 * ignored for Ed25519.  Errors: EX_USAGE (domain or selector not a DNS
 * name, RSA bits outside 1024..16384), EX_CANTCREAT, EX_SOFTWARE.
 */
int dkim_keygen(enum dkim_algo algo, int bits, const char *path,
                const char *domain, const char *selector, struct buf *dns,
                struct err *e);

/*
 * dkim_name_ok - 1 if s can be a d= domain or s= selector: dot-separated
 * labels of ASCII letters, digits, '-' and '_' (1-63 octets each, 253 in
 * all; IDNs in A-label form), no leading, trailing or doubled dot.
 */
int dkim_name_ok(const char *s);

/* Canonicalisation, exposed for tests and fuzzing. */
/* dkim_canon_header_relaxed - RFC 6376 3.4.2 of one header field (name,
 * colon, value, possibly folded, with or without the final CRLF):
 * appends "name:value\r\n".  -1 if there is no colon, or past out->max. */
int dkim_canon_header_relaxed(const char *h, size_t len, struct buf *out);
/* dkim_canon_body_relaxed - RFC 6376 3.4.4 of a whole body; a body that
 * is empty after canonicalisation stays empty (no CRLF is added to it, as
 * python3-dkim and OpenDKIM compute it).  -1 on a bare CR or LF, a last
 * line without CRLF that ends in WSP (verifiers disagree on it), or past
 * out->max. */
int dkim_canon_body_relaxed(const char *body, size_t len, struct buf *out);

#endif
