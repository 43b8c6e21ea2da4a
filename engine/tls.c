/* SPDX-License-Identifier: ISC */
/*
 * tls.c - TLS client over a non-blocking socket with OpenSSL.  See tls.h.
 *
 * The socket is reached through a small BIO of our own instead of
 * BIO_s_socket so that writes use send(MSG_NOSIGNAL): a relay that resets
 * the connection mid-write gives EPIPE, never a SIGPIPE that would kill a
 * campaign half-way.  The BIO also keeps the last few bytes it read: when
 * a record header turns out not to be TLS, they say whether the server
 * wrote clear text instead (an SMTP reply after the TLS session, a plain
 * server on a TLS port), and that text goes into the message.
 *
 * Errors after the handshake.  Once the session is up, a reset, a
 * truncated record or bytes that are not TLS on read, and EPIPE or a
 * reset on write, are the server going away - typically right after a
 * "421" - not a TLS problem: they come back as TLS_CLOSED, the OpenSSL
 * reason only as detail, so that the SMTP layer reports the server's
 * close with its last reply.  Before the handshake has finished, every
 * failure is a TLS error as such.
 *
 * Implements the client side of RFC 8446/5246 through OpenSSL, with the
 * host-name rules of RFC 6125 (X509_VERIFY_PARAM: no partial wildcards)
 * and SNI (RFC 6066, names only: never an address literal).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls.h"
#include "xalloc.h"

/* A TLS record header (RFC 8446 5.1): type, version, length.  OpenSSL
 * without read-ahead reads exactly this much before it judges a record. */
#define TLS_HEADER_LEN 5
/* Clear text read after a record that is not TLS: one SMTP reply line
 * (RFC 5321 4.5.3.1.5: 512 octets with CRLF); of it a message keeps the
 * first TLS_CLEAR_MAX octets. */
#define TLS_CLEAR_LINE 512
#define TLS_CLEAR_MAX 160

struct tls_ctx {
    SSL_CTX *ssl;
    int verify;
};

struct tls {
    SSL *ssl;
    int fd;
    int verify;
    int established;                    /* the handshake completed */
    unsigned char tail[TLS_HEADER_LEN]; /* the last bytes read */
    size_t ntail;
    char clear[TLS_CLEAR_MAX]; /* tls_cleartext */
    char host[256];
};

/*---- the socket BIO: recv/send(MSG_NOSIGNAL) on a non-blocking fd ----*/

static BIO_METHOD *sock_method;
static pthread_once_t sock_once = PTHREAD_ONCE_INIT;

/* sock_fd - the fd of the connection in a BIO's data pointer. */
static int
sock_fd(BIO *b)
{
    return ((struct tls *)BIO_get_data(b))->fd;
}

/* sock_keep - remember the last TLS_HEADER_LEN bytes read. */
static void
sock_keep(struct tls *t, const char *p, size_t n)
{
    if (n >= TLS_HEADER_LEN) {
        memcpy(t->tail, p + n - TLS_HEADER_LEN, TLS_HEADER_LEN);
        t->ntail = TLS_HEADER_LEN;
        return;
    }
    if (t->ntail + n > TLS_HEADER_LEN) {
        size_t drop = t->ntail + n - TLS_HEADER_LEN;
        memmove(t->tail, t->tail + drop, t->ntail - drop);
        t->ntail -= drop;
    }
    memcpy(t->tail + t->ntail, p, n);
    t->ntail += n;
}

/* sock_write - BIO write: send without SIGPIPE, retry on EAGAIN. */
static int
sock_write(BIO *b, const char *p, int n)
{
    ssize_t r;

    BIO_clear_retry_flags(b);
    r = send(sock_fd(b), p, (size_t)n, MSG_NOSIGNAL);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)r;
}

/* sock_read - BIO read: recv, retry on EAGAIN; 0 is the end of stream. */
static int
sock_read(BIO *b, char *p, int n)
{
    ssize_t r;

    BIO_clear_retry_flags(b);
    r = recv(sock_fd(b), p, (size_t)n, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    if (r > 0)
        sock_keep(BIO_get_data(b), p, (size_t)r);
    return (int)r;
}

/* sock_ctrl - BIO control: only flush (a no-op) is meaningful here. */
static long
sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

/* sock_create - BIO constructor. */
static int
sock_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* sock_method_init - build the BIO method once per process. */
static void
sock_method_init(void)
{
    BIO_METHOD *m;

    m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                     "campaign socket");
    if (m == NULL)
        return;
    if (BIO_meth_set_write(m, sock_write) != 1 ||
        BIO_meth_set_read(m, sock_read) != 1 ||
        BIO_meth_set_ctrl(m, sock_ctrl) != 1 ||
        BIO_meth_set_create(m, sock_create) != 1) {
        BIO_meth_free(m);
        return;
    }
    sock_method = m;
}

/*---- errors ----*/

/* ssl_errstr - the oldest queued OpenSSL error as text, or fallback. */
static const char *
ssl_errstr(char *out, size_t n, const char *fallback)
{
    unsigned long code = ERR_get_error();
    const char *reason;

    if (code == 0)
        return fallback;
    reason = ERR_reason_error_string(code);
    if (reason)
        snprintf(out, n, "%s", reason);
    else
        ERR_error_string_n(code, out, n);
    ERR_clear_error();
    return out;
}

/*---- contexts ----*/

struct tls_ctx *
tls_ctx_new(int verify, const char *ca_file, struct err *e)
{
    struct tls_ctx *ctx;
    char ebuf[256];

    pthread_once(&sock_once, sock_method_init);
    if (sock_method == NULL) {
        err_set(e, EX_SOFTWARE, "TLS: cannot create the socket BIO");
        return NULL;
    }
    ERR_clear_error();
    ctx = xcalloc(1, sizeof *ctx);
    ctx->verify = verify;
    if ((ctx->ssl = SSL_CTX_new(TLS_client_method())) == NULL) {
        err_set(e, EX_SOFTWARE, "TLS: %s",
                ssl_errstr(ebuf, sizeof ebuf, "cannot create a context"));
        free(ctx);
        return NULL;
    }
    if (SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_2_VERSION) != 1) {
        err_set(e, EX_SOFTWARE, "TLS: cannot require TLS 1.2");
        tls_ctx_free(ctx);
        return NULL;
    }
    SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_COMPRESSION |
                                      SSL_OP_NO_RENEGOTIATION |
                                      SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                   SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!verify) {
        SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER, NULL);
    if (ca_file && *ca_file) {
        if (SSL_CTX_load_verify_locations(ctx->ssl, ca_file, NULL) != 1) {
            err_set(e, EX_CONFIG, "ca_file %s: %s", ca_file,
                    ssl_errstr(ebuf, sizeof ebuf, "cannot load"));
            tls_ctx_free(ctx);
            return NULL;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx->ssl) != 1) {
        err_set(e, EX_CONFIG, "TLS: cannot load the system CA store: %s",
                ssl_errstr(ebuf, sizeof ebuf, "unknown error"));
        tls_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

void
tls_ctx_free(struct tls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx);
}

/*---- connections ----*/

/* is_address - 1 when host is an IPv4 or IPv6 literal. */
static int
is_address(const char *host)
{
    unsigned char a[16];

    return inet_pton(AF_INET, host, a) == 1 ||
           inet_pton(AF_INET6, host, a) == 1;
}

struct tls *
tls_new(struct tls_ctx *ctx, int fd, const char *host, struct err *e)
{
    struct tls *t;
    BIO *bio;
    char ebuf[256];

    ERR_clear_error();
    t = xcalloc(1, sizeof *t);
    t->verify = ctx->verify;
    if (strlen(host) >= sizeof t->host) {
        err_set(e, EX_CONFIG, "TLS: host name too long");
        free(t);
        return NULL;
    }
    memcpy(t->host, host, strlen(host) + 1);
    if ((t->ssl = SSL_new(ctx->ssl)) == NULL ||
        (bio = BIO_new(sock_method)) == NULL) {
        err_set(e, EX_SOFTWARE, "TLS: %s",
                ssl_errstr(ebuf, sizeof ebuf, "cannot create a session"));
        tls_free(t);
        return NULL;
    }
    t->fd = fd;
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio);
    if (is_address(host)) {
        /* RFC 6066 3: no SNI for address literals; match an IP SAN. */
        if (t->verify &&
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) != 1) {
            err_set(e, EX_SOFTWARE, "TLS: cannot verify address %s", host);
            tls_free(t);
            return NULL;
        }
    } else {
        if (SSL_set_tlsext_host_name(t->ssl, host) != 1) {
            err_set(e, EX_CONFIG, "TLS: invalid server name %s", host);
            tls_free(t);
            return NULL;
        }
        if (t->verify) {
            SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (SSL_set1_host(t->ssl, host) != 1) {
                err_set(e, EX_SOFTWARE, "TLS: cannot verify host %s", host);
                tls_free(t);
                return NULL;
            }
        }
    }
    SSL_set_connect_state(t->ssl);
    return t;
}

void
tls_free(struct tls *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl);
    free(t);
}

/* text_byte - printable ASCII or a tab: what an SMTP reply is made of. */
static int
text_byte(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch < 0x7f);
}

/*
 * clear_text - after a record error: when the bytes that broke the record
 * were text (a server writing an SMTP reply outside TLS, or a plain server
 * on a TLS port), read the rest of that line without waiting and keep it,
 * printable-escaped, in t->clear; else t->clear is "".  Without
 * read-ahead the last bytes read are the header that failed.  The
 * connection is lost either way, so reading past the record does no harm.
 */
static void
clear_text(struct tls *t)
{
    char line[TLS_CLEAR_LINE];
    size_t n = TLS_HEADER_LEN, end;

    t->clear[0] = '\0';
    if (t->ntail < TLS_HEADER_LEN)
        return;
    for (end = 0; end < TLS_HEADER_LEN; end++)
        if (!text_byte(t->tail[end]))
            return;
    memcpy(line, t->tail, TLS_HEADER_LEN);
    while (n < sizeof line && memchr(line, '\n', n) == NULL) {
        ssize_t r = recv(t->fd, line + n, sizeof line - n, MSG_DONTWAIT);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    for (end = 0; end < n && line[end] != '\r' && line[end] != '\n'; end++)
        if (!text_byte((unsigned char)line[end]))
            return;
    /* a whole line: not the tail of a broken record that happens to be
     * five printable bytes */
    if (end == n)
        return;
    while (end > 0 && isspace((unsigned char)line[end - 1]))
        end--;
    log_printable(t->clear, sizeof t->clear, line, end);
}

/* gone_errno - a system error that means the peer went away. */
static int
gone_errno(int e)
{
    return e == ECONNRESET || e == EPIPE || e == ECONNABORTED;
}

/*
 * io_error - turn an SSL_get_error() code into TLS_WANT_*, 0 (end of
 * stream), TLS_CLOSED (after the handshake, the server went away: see
 * tls.h; e holds the detail) or -1 with e set.  what names the operation
 * for the message.
 */
static int
io_error(struct tls *t, int ret, int saved_errno, const char *what,
         struct err *e)
{
    int reading = strcmp(what, "read") == 0, alert;
    unsigned long code;
    char ebuf[256];
    const char *reason;
    long v;

    switch (SSL_get_error(t->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        return TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && (ret == 0 || saved_errno == 0))
            return 0;
        if (ERR_peek_error() == 0) {
            if (t->established && gone_errno(saved_errno)) {
                err_set(e, EX_TEMPFAIL, "TLS %s: %s", what,
                        strerror(saved_errno));
                return TLS_CLOSED;
            }
            err_set(e, EX_IOERR, "TLS %s with %s: %s", what, t->host,
                    strerror(saved_errno));
            return -1;
        }
        break;
    default:
        break;
    }
    v = SSL_get_verify_result(t->ssl);
    if (!t->established && t->verify && v != X509_V_OK) {
        ERR_clear_error();
        err_set(e, EX_PROTOCOL,
                "TLS %s with %s: certificate verification failed: %s", what,
                t->host, X509_verify_cert_error_string(v));
        return -1;
    }
    /* A fatal alert is the server saying why, at the TLS level (TLS 1.3
     * "certificate required" comes after the client's handshake is
     * done): a TLS error still. */
    code = ERR_peek_error();
    alert = ERR_GET_LIB(code) == ERR_LIB_SSL &&
            ERR_GET_REASON(code) >= SSL_AD_REASON_OFFSET;
    reason = ssl_errstr(ebuf, sizeof ebuf, "protocol error");
    clear_text(t);
    if (t->established && reading && !alert) {
        /* A truncated record, clear text or garbage where the next
         * record should be: the session is over, and the server ended
         * it. */
        err_set(e, EX_TEMPFAIL, "TLS %s: %s", what, reason);
        return TLS_CLOSED;
    }
    if (t->clear[0])
        err_set(e, EX_PROTOCOL,
                "TLS %s with %s: %s (the server sent clear text: \"%s\")", what,
                t->host, reason, t->clear);
    else
        err_set(e, EX_PROTOCOL, "TLS %s with %s: %s", what, t->host, reason);
    return -1;
}

int
tls_handshake(struct tls *t, struct err *e)
{
    int r;

    ERR_clear_error();
    errno = 0;
    r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        /* Belt and braces: SSL_VERIFY_PEER already failed the handshake
         * on a bad chain or name. */
        if (t->verify && (SSL_get0_peer_certificate(t->ssl) == NULL ||
                          SSL_get_verify_result(t->ssl) != X509_V_OK))
            return err_set(e, EX_PROTOCOL,
                           "TLS handshake with %s: certificate verification "
                           "failed: no verified certificate",
                           t->host);
        t->established = 1;
        return 0;
    }
    r = io_error(t, r, errno, "handshake", e);
    if (r == 0)
        return err_set(e, EX_IOERR,
                       "TLS handshake with %s: connection closed by the "
                       "server",
                       t->host);
    return r;
}

ssize_t
tls_read(struct tls *t, void *p, size_t n, struct err *e)
{
    int r;

    if (n > INT_MAX)
        n = INT_MAX;
    ERR_clear_error();
    errno = 0;
    r = SSL_read(t->ssl, p, (int)n);
    if (r > 0)
        return r;
    return io_error(t, r, errno, "read", e);
}

ssize_t
tls_write(struct tls *t, const void *p, size_t n, struct err *e)
{
    int r;

    if (n == 0)
        return 0;
    if (n > INT_MAX)
        n = INT_MAX;
    ERR_clear_error();
    errno = 0;
    r = SSL_write(t->ssl, p, (int)n);
    if (r > 0)
        return r;
    r = io_error(t, r, errno, "write", e);
    if (r == 0 && t->established) {
        err_set(e, EX_TEMPFAIL, "TLS write: connection closed");
        return TLS_CLOSED;
    }
    if (r == 0)
        return err_set(e, EX_IOERR, "TLS write to %s: connection closed",
                       t->host);
    return r;
}

void
tls_shutdown(struct tls *t)
{
    if (t == NULL)
        return;
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl);
    ERR_clear_error();
}

const char *
tls_version(const struct tls *t)
{
    return SSL_get_version(t->ssl);
}

const char *
tls_cipher(const struct tls *t)
{
    const char *s = SSL_get_cipher_name(t->ssl);
    return s ? s : "";
}

const char *
tls_cleartext(const struct tls *t)
{
    return t->clear;
}

int
tls_verified(const struct tls *t)
{
    return t->verify && SSL_get0_peer_certificate(t->ssl) != NULL &&
           SSL_get_verify_result(t->ssl) == X509_V_OK;
}
