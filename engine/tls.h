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
 *
 * Once the handshake has completed, the server going away is not a TLS
 * error: a reset, a truncated record or bytes that are not TLS where the
 * next record should be (a "421" written in clear text after the
 * session, say) on read, and EPIPE or a reset on write, come back as
 * TLS_CLOSED with the OpenSSL or system reason as detail, for the caller
 * to report as the server's close.  Before it has completed, every
 * failure is a TLS error (-1).
 */
#ifndef CAMPAIGN_TLS_H
#define CAMPAIGN_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* Returned by tls_handshake, tls_read and tls_write. */
#define TLS_WANT_READ (-2)
#define TLS_WANT_WRITE (-3)
/* Returned by tls_read and tls_write after the handshake: the server
 * went away (see above). */
#define TLS_CLOSED (-4)

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
 * name the reason: "certificate verification failed: ..."; when the
 * server answered with clear text, such as a plain SMTP greeting on a TLS
 * port, the message quotes it: (the server sent clear text: "220 ...")).
 */
int tls_handshake(struct tls *t, struct err *e);

/*
 * tls_read - up to n bytes: >0 bytes read, 0 at end of stream (the peer
 * closed, with or without close_notify: SMTP frames its own data),
 * TLS_WANT_READ / TLS_WANT_WRITE, TLS_CLOSED when the server went away
 * otherwise (a reset, a truncated record, bytes that are not TLS: e->msg
 * is the detail, "TLS read: wrong version number", without the host;
 * tls_cleartext() gives the clear text, if that was it), or -1 with e
 * set (among others for a fatal alert from the server: that is the
 * server saying why, at the TLS level).  Returned bytes are untrusted.
 */
ssize_t tls_read(struct tls *t, void *p, size_t n, struct err *e);

/*
 * tls_write - write up to n bytes: >0 bytes written (partial writes are
 * allowed; the buffer may move between retries), TLS_WANT_READ /
 * TLS_WANT_WRITE, TLS_CLOSED when the server has gone (EPIPE, a reset,
 * its close_notify; e->msg is the detail, "TLS write: Broken pipe"), or
 * -1 with e set.
 */
ssize_t tls_write(struct tls *t, const void *p, size_t n, struct err *e);

/* tls_shutdown - send close_notify once, best effort, without waiting. */
void tls_shutdown(struct tls *t);

/* The negotiated protocol ("TLSv1.3") and cipher, after the handshake. */
const char *tls_version(const struct tls *t);
const char *tls_cipher(const struct tls *t);
/* tls_verified - 1 when the peer's chain and name were verified. */
int tls_verified(const struct tls *t);
/*
 * tls_cleartext - after TLS_CLOSED or a failed handshake caused by bytes
 * that were not TLS but a line of text: that line (without its end, at
 * most about 150 octets, printable-escaped, untrusted), else "".  Owned
 * by t.
 */
const char *tls_cleartext(const struct tls *t);

#endif
