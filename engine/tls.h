/* SPDX-License-Identifier: ISC */
/*
 * tls.h - TLS for the SMTP client over a non-blocking socket (msmtp
 * mtls.h).  tls.c is the only file that includes <openssl/ssl.h>; nothing
 * outside it sees an OpenSSL type.
 *
 * A client context (tls_ctx) holds the policy: TLS 1.2 minimum, no
 * compression or renegotiation, and verification of the certificate chain
 * and of the host name ON unless the caller says otherwise (tls_verify =
 * off in the configuration).  Trust anchors come from ca_file or from the
 * system's default paths.  A connection (tls) wraps a connected fd:
 * host-name verification with SSL_set1_host (or the IP address for an
 * address literal) and SNI for names.
 *
 * Every call is non-blocking: TLS_WANT_READ / TLS_WANT_WRITE tell the
 * event loop which poll event to wait for before calling again.  Writes
 * go through send(MSG_NOSIGNAL), so a peer that resets the connection
 * never raises SIGPIPE.  Error messages name the certificate problem
 * ("certificate verification failed: hostname mismatch").
 */
#ifndef CAMPAIGN_TLS_H
#define CAMPAIGN_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* Returned by tls_handshake, tls_read and tls_write. */
#define TLS_WANT_READ (-2)
#define TLS_WANT_WRITE (-3)

struct tls_ctx;
struct tls;

/*
 * tls_ctx_new - a client context.  verify: check chain and host name;
 * ca_file: PEM trust anchors, NULL for the system default paths (ignored
 * when verify is 0).  NULL with e set (EX_CONFIG) when the CA file cannot
 * be loaded, or EX_SOFTWARE when OpenSSL fails.  A context may be shared
 * by many connections; free it after the last one.
 */
struct tls_ctx *tls_ctx_new(int verify, const char *ca_file, struct err *e);
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * tls_new - a client connection on the connected, non-blocking fd
 * (which stays the caller's to close).  host is the name (or address)
 * the certificate must match.  NULL with e set on failure.
 */
struct tls *tls_new(struct tls_ctx *ctx, int fd, const char *host,
                    struct err *e);
/* tls_free - free without closing the fd; NULL is a no-op. */
void tls_free(struct tls *t);

/*
 * tls_handshake - drive the handshake: 0 when done, TLS_WANT_READ or
 * TLS_WANT_WRITE to be called again, -1 with e set (certificate problems
 * name the reason: "certificate verification failed: ...").
 */
int tls_handshake(struct tls *t, struct err *e);

/*
 * tls_read - up to n bytes: >0 bytes read, 0 at end of stream (the peer
 * closed, with or without close_notify: SMTP frames its own data),
 * TLS_WANT_READ / TLS_WANT_WRITE, or -1 with e set.  Returned bytes are
 * untrusted.
 */
ssize_t tls_read(struct tls *t, void *p, size_t n, struct err *e);

/*
 * tls_write - write up to n bytes: >0 bytes written (partial writes are
 * allowed; the buffer may move between retries), TLS_WANT_READ /
 * TLS_WANT_WRITE, or -1 with e set.
 */
ssize_t tls_write(struct tls *t, const void *p, size_t n, struct err *e);

/* tls_shutdown - send close_notify once, best effort, without waiting. */
void tls_shutdown(struct tls *t);

/* The negotiated protocol ("TLSv1.3") and cipher, after the handshake. */
const char *tls_version(const struct tls *t);
const char *tls_cipher(const struct tls *t);
/* tls_verified - 1 when the peer's chain and name were verified. */
int tls_verified(const struct tls *t);

#endif
