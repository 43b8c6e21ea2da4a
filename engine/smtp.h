/* SPDX-License-Identifier: ISC */
/*
 * smtp.h - the SMTP client: one connection to a relay, as a non-blocking
 * state machine driven by an event loop (relay.c).
 *
 * Implements RFC 5321 (EHLO with HELO fallback, multi-line replies,
 * timeouts of 4.5.3.2), RFC 2034/3463 enhanced status codes, RFC 1870
 * SIZE, RFC 6152 8BITMIME (BODY=8BITMIME only with SMTPUTF8: bodies are
 * 7-bit QP), RFC 6531 SMTPUTF8 (UTF-8 mailboxes and headers), RFC
 * 2920 PIPELINING (MAIL, RCPT and DATA in one write, bounded depth), RFC
 * 3207 STARTTLS and RFC 8314 implicit TLS (through tls.h), RFC 4954 AUTH
 * PLAIN and LOGIN.  Connection reuse with RSET after a failed
 * transaction, at most max_messages per connection, QUIT.
 *
 * The wire knows no SQL and no templates: it takes an envelope and the
 * message bytes (CRLF lines, not yet dot-stuffed: smtp.c stuffs) and
 * returns a per-recipient result.  An SMTP rejection is a result, not an
 * error (STYLE.md).
 *
 * Safety (RELIABILITY.md): replies longer than SMTP_LINE_MAX or with more
 * than SMTP_REPLY_LINES_MAX lines, garbage, continuation lines with mixed
 * codes, or surplus replies are protocol errors: the connection is
 * dropped and nothing is read as a 250.  Bytes received after "220" to
 * STARTTLS and before the handshake abort the session (CVE-2011-0411).
 * After STARTTLS the capabilities are read again with a new EHLO and only
 * those are used.  AUTH is never sent before TLS unless tls = none was
 * configured explicitly; AUTH lines never appear in a transcript.
 */
#ifndef CAMPAIGN_SMTP_H
#define CAMPAIGN_SMTP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with CRLF; we
 * allow some slack for servers that send longer text. */
#define SMTP_LINE_MAX 2048
/* A multi-line reply (EHLO) longer than this is garbage. */
#define SMTP_REPLY_LINES_MAX 100
/* Messages in flight on one connection when pipelining (msmtp uses 100
 * commands; deep pipelines can deadlock on the TCP window). */
#define SMTP_PIPELINE_MAX 16

/* What a message's delivery attempt came to. */
enum smtp_outcome {
    SMTP_SENT,      /* 250 to the final dot */
    SMTP_TEMPFAIL,  /* 4xx at MAIL/RCPT/DATA/dot: defer */
    SMTP_PERMFAIL,  /* 5xx at MAIL/RCPT/DATA/dot: bounce */
    SMTP_NOT_SENT,  /* the connection failed before the dot: safe to retry */
    SMTP_UNCERTAIN, /* the connection failed after the dot, before the reply */
    SMTP_HELD,      /* refused by the client before the relay saw it (an
                     * address without a wire form, a message over the
                     * relay's SIZE, SMTPUTF8 needed and not offered): the
                     * relay said nothing, so never a bounce */
};

/* Where it happened. */
enum smtp_stage {
    SMTP_STAGE_CONNECT,
    SMTP_STAGE_GREETING,
    SMTP_STAGE_EHLO,
    SMTP_STAGE_STARTTLS,
    SMTP_STAGE_AUTH,
    SMTP_STAGE_MAIL,
    SMTP_STAGE_RCPT,
    SMTP_STAGE_DATA,
    SMTP_STAGE_DOT,
};
const char *smtp_stage_str(enum smtp_stage s);

struct smtp_result {
    uint64_t cookie; /* the caller's, from smtp_msg */
    enum smtp_outcome outcome;
    enum smtp_stage stage;
    int code;        /* reply code, 0 when there was none */
    char status[16]; /* enhanced status "4.7.1", or "" */
    char text[256];  /* reply text, printable-escaped */
};

/* Why a connection ended (OpenSMTPD's failure classes). */
enum smtp_fail {
    SMTP_FAIL_NONE,     /* QUIT after max_messages or on request */
    SMTP_FAIL_CONN,     /* connect, read or write error, timeout, EOF */
    SMTP_FAIL_TLS,      /* handshake, certificate or STARTTLS missing */
    SMTP_FAIL_AUTH,     /* AUTH rejected (535) or not possible */
    SMTP_FAIL_PROTO,    /* garbage or unexpected replies */
    SMTP_FAIL_REFUSED,  /* greeting or EHLO refused (554, 421) */
    SMTP_FAIL_INTERNAL, /* our side */
};
const char *smtp_fail_str(enum smtp_fail f);

struct smtp_msg {
    uint64_t cookie;
    const char *mail_from; /* envelope sender (may be "" for <>) */
    const char *rcpt;      /* one recipient */
    const char *data;      /* the message, CRLF lines, not dot-stuffed */
    size_t len;
    int smtputf8; /* a UTF-8 address or header (RFC 6531/6532): sent with
                   * MAIL FROM's SMTPUTF8 parameter, held if the relay
                   * does not offer it */
};

struct tls_ctx; /* tls.h */

struct smtp_params {
    const struct config_relay *relay; /* host, port, tls, timeouts, ... */
    const char *password;             /* NULL: no AUTH; wiped by the caller */
    const char *helo; /* EHLO name; NULL: relay->helo, else the host's
                         fully-qualified name, else the address literal
                         of our end of the connection */
    int pipeline_max; /* 1..SMTP_PIPELINE_MAX, 0 = default */
    int transcript;   /* -v: the dialogue on stderr, AUTH redacted */
    /* Optional: a TLS context shared by the connections to this relay
     * (tls_ctx_new(relay->tls_verify, relay->ca_file)), so the CA store
     * is loaded once; it must outlive the client.  NULL: the client makes
     * and frees its own. */
    struct tls_ctx *tls_ctx;
    /* Optional, for tests: every timeout of relay is read in
     * milliseconds instead of seconds. */
    int timeouts_in_ms;
};

struct smtp_client;

/*
 * Callbacks, called from smtp_client_handle() (and, for result and
 * closed, from smtp_client_abort()):
 *  ready  - the connection can take a message (after the greeting and
 *           setup, and after each finished transaction while under
 *           max_messages); the caller answers with smtp_client_submit()
 *           (possibly several, up to smtp_client_capacity()) or
 *           smtp_client_quit(), or later: submitting outside a callback
 *           is fine too;
 *  result - one message's outcome (each submitted message gets exactly
 *           one result, also when the connection fails; results come in
 *           submission order except for messages refused locally at
 *           submit, which come at the next smtp_client_handle());
 *  content - optional (NULL): a message's content and final dot were
 *           just queued for output (after its 354), before any byte of
 *           them is written to the socket - the last moment at which
 *           nothing of it can have reached the server (journal.h);
 *  closed - the connection is over (fail says why, err names the reply
 *           or the system error; for SMTP_FAIL_NONE after QUIT err is
 *           clear), called exactly once, after the results of every
 *           message still held; the client must then be freed.
 * Any function of the client may be called from a callback, including
 * smtp_client_free() (the free is deferred until the callback returns).
 */
struct smtp_callbacks {
    void (*ready)(struct smtp_client *c, void *arg);
    void (*result)(struct smtp_client *c, const struct smtp_result *r,
                   void *arg);
    void (*closed)(struct smtp_client *c, enum smtp_fail fail,
                   const struct err *e, void *arg);
    void *arg;
    void (*content)(struct smtp_client *c, uint64_t cookie, void *arg);
};

/*
 * smtp_client_new - start connecting (non-blocking) to the relay.  The
 * params struct is copied; the strings it points to must outlive the
 * client.  getaddrinfo() blocks; each address is tried in turn.  NULL
 * with e set when the connection cannot even start (name resolution
 * failure: EX_NOHOST; TLS context or CA file: EX_CONFIG; every address
 * refused at once, or no socket: EX_TEMPFAIL) - no callback is called
 * then.  Writes never raise SIGPIPE (MSG_NOSIGNAL, also under TLS).
 */
struct smtp_client *smtp_client_new(const struct smtp_params *p,
                                    const struct smtp_callbacks *cb,
                                    int64_t now_ms, struct err *e);
/* smtp_client_free - NULL is a no-op.  A client that has not closed yet
 * is closed silently: call smtp_client_abort() first for the results. */
void smtp_client_free(struct smtp_client *c);

/*
 * For the event loop: the fd, and the poll events it waits for.  Ask
 * again before every poll: the fd changes while connecting (next
 * address), and is -1 once closed.
 */
int smtp_client_fd(const struct smtp_client *c);
/* smtp_client_ehlo - the name our last EHLO gave ("" before it). */
const char *smtp_client_ehlo(const struct smtp_client *c);
/* smtp_host_fqdn - this host's fully-qualified name (the host name when
 * it has a dot and resolves), or "" when it has none; found once. */
const char *smtp_host_fqdn(void);
short smtp_client_events(const struct smtp_client *c);
/*
 * smtp_client_deadline - ms time of the next timeout, or -1 for none
 * (idle between messages).  It may be in the past (a local result is
 * waiting): call smtp_client_handle() with revents 0 at once.
 */
int64_t smtp_client_deadline(const struct smtp_client *c);
/* smtp_client_handle - revents from poll (0 on a timeout tick); now_ms
 * from a monotonic clock, the same one as for smtp_client_new. */
void smtp_client_handle(struct smtp_client *c, short revents, int64_t now_ms);

/*
 * smtp_client_submit - queue a message (the strings must stay valid
 * until its result).  Returns -1 if the client cannot take one now
 * (not ready, pipeline full, or max_messages reached).  A message that
 * must not go out is accepted and refused here, without the server:
 * SMTP_HELD with code 0 and the reason as text - an envelope address with
 * control characters, spaces, '<' or '>' (or non-ASCII without the
 * message's smtputf8) or longer than EMAIL_MAX, a message with smtputf8
 * to a relay that does not offer SMTPUTF8, or one larger than the
 * relay's SIZE.
 * Pipelining, a client holds up to pipeline_max messages: the envelope
 * (MAIL, RCPT, DATA) of one goes out behind the dot of the previous one;
 * without PIPELINING it holds one.
 */
int smtp_client_submit(struct smtp_client *c, const struct smtp_msg *m);
/* smtp_client_capacity - how many more messages it can take now. */
int smtp_client_capacity(const struct smtp_client *c);
/* smtp_client_quit - take no more messages, finish those held, then
 * QUIT; closed comes with SMTP_FAIL_NONE. */
void smtp_client_quit(struct smtp_client *c);
/* smtp_client_withdraw - give back the messages held that have not begun
 * (no command of theirs written): each gets NOT_SENT at
 * SMTP_STAGE_CONNECT with why as its text, before it returns; those
 * begun go on.  Returns how many.  For a run that stops, or a relay set
 * aside: what is queued behind a refusal would only be refused too. */
int smtp_client_withdraw(struct smtp_client *c, const char *why);
/* smtp_client_abort - close now: messages held get NOT_SENT (their dot
 * not written) or UNCERTAIN (written, no reply) results, then closed
 * with SMTP_FAIL_NONE, all before it returns. */
void smtp_client_abort(struct smtp_client *c);

/* What the server offered (after STARTTLS: the new EHLO). */
struct smtp_caps {
    int esmtp, pipelining, starttls, eightbitmime, enhancedstatuscodes;
    int smtputf8; /* RFC 6531 */
    int auth_plain, auth_login;
    long size; /* 0: not announced */
    int tls_active;
    char tls_version[32];
    char tls_cipher[64];
};
const struct smtp_caps *smtp_client_caps(const struct smtp_client *c);

#endif
