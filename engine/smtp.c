/* SPDX-License-Identifier: ISC */
/*
 * smtp.c - the SMTP client: one connection to a relay as a non-blocking
 * state machine.  See smtp.h for the interface and the RFCs.
 *
 * Owns: the socket, the TLS session (through tls.h), the dialogue and
 * the per-message outcome.  Does not own: the message bytes (the
 * caller's until the result), retries, the ledger, the event loop.
 *
 * How the dialogue is kept straight.  Every command written is recorded
 * in a FIFO of expected replies (struct expect): what it was, which
 * message it belongs to, and where it ends in the output stream.  Each
 * complete reply pops the head of that FIFO, so a reply is matched to
 * exactly one command; a reply with no command waiting, or one that
 * arrives before its command has even been written, is a surplus reply:
 * a protocol error, never mistaken for the 250 of a later command
 * (Postfix smtp_chat.c: a misread 2xx loses mail).
 *
 * Pipelining (RFC 2920).  Nothing may follow DATA until its 354 is in:
 * whatever we wrote after it would become message content.  So a
 * transaction is one group "MAIL, RCPT, DATA", then the body and the dot
 * after the 354, and the next transaction's group goes out right behind
 * that dot in the same write (the message content may start a group, RFC
 * 2920 3.1).  The wire therefore holds at most the dot of message N and
 * the envelope of message N+1 (plus an RSET when N+1 follows a failed
 * transaction): one round trip per message.  pipeline_max bounds how many
 * submitted messages the client holds at once (queued locally or on the
 * wire), so the caller can keep it fed.  Without PIPELINING every command
 * waits for the previous reply and the client holds one message.
 *
 * Failed transactions.  A 4xx/5xx to MAIL or RCPT decides the message;
 * with pipelining its DATA has already been sent and draws 503/554, which
 * is consumed.  If the server answers that DATA with 354 anyway (no valid
 * recipient but a lenient server), a lone "." ends the empty content and
 * its reply is ignored (Postfix does the same).  RSET goes out before the
 * next MAIL.  A 421 to anything ends the connection: messages whose
 * commands reached the server are TEMPFAIL with the 421 text, those still
 * only queued here are NOT_SENT.
 *
 * The connection dying.  Every message without an outcome gets NOT_SENT
 * if its final dot had not been completely handed to the kernel, and
 * UNCERTAIN if it had (RFC 1047: the one gap no protocol closes).  That
 * is decided from byte offsets in the output stream, not from states.
 * A protocol error (garbage, a surplus reply, a 503 "bad sequence" to a
 * transaction in progress) also takes back an outcome decided on a reply
 * of a transaction still waiting for others: replies out of step may
 * belong to other commands, and a misread 5xx would bounce (and
 * suppress) a good address.
 *
 * Timeouts (RFC 5321 4.5.3.2) are deadlines, not idle timers: the clock
 * for a reply starts when its command has been written (or, pipelined,
 * when the previous reply was complete) and is not reset by partial
 * input, so a server that trickles a byte at a time still times out.
 * Writing uses timeout_data_block, reset whenever bytes go out.
 *
 * Refused here (SMTP_HELD).  A message whose addresses cannot go on the
 * wire, that needs SMTPUTF8 (RFC 6531: a UTF-8 mailbox) from a relay that
 * does not offer it, or that is larger than the relay's SIZE is decided
 * at submit, without a word to the relay: held, never a bounce.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "log.h"
#include "smtp.h"
#include "tls.h"
#include "utf8.h"
#include "xalloc.h"

/* Bytes read from the socket at once. */
#define SMTP_READ_CHUNK 4096
/* The input buffer: one partial line plus one chunk.  Complete lines are
 * consumed after every chunk, so it never holds more. */
#define SMTP_IN_MAX (SMTP_LINE_MAX + SMTP_READ_CHUNK + 1)
/* The output buffer: the commands in flight and one dot-stuffed body.
 * A body larger than this is refused as a local error. */
#define SMTP_OUT_MAX ((size_t)64 * 1024 * 1024)
/* Dot-stuffing and CRLF at most double a body, so this always fits. */
#define SMTP_BODY_MAX (SMTP_OUT_MAX / 2 - 65536)
/* Replies expected at once.  Pipelined, at most: the dot of one message,
 * RSET, MAIL, RCPT, DATA of the next, QUIT.  Bigger is a bug. */
#define SMTP_EXPECT_MAX 16
/* Default number of messages a pipelining connection holds. */
#define SMTP_PIPELINE_DEFAULT 8
/* Reads in one call of smtp_client_handle: a server that floods us
 * either completes replies (bounded by the commands in flight) or runs
 * into a limit long before this; the cap is a safety net. */
#define SMTP_READS_MAX 1024
/* State changes handled in one call of smtp_client_handle before it
 * returns to the event loop. */
#define SMTP_TURNS_MAX 8
/* RFC 4954 4: a user name and a password fit in a 12288-octet line; we
 * need far less. */
#define SMTP_AUTH_FIELD_MAX 512

enum state {
    ST_CONNECT,   /* non-blocking connect in progress */
    ST_TLS_SMTPS, /* implicit TLS handshake (RFC 8314) */
    ST_GREETING,  /* waiting for 220 */
    ST_EHLO,      /* EHLO sent */
    ST_HELO,      /* HELO sent after EHLO was refused with 500/502 */
    ST_STARTTLS,  /* STARTTLS sent */
    ST_TLS_START, /* the STARTTLS handshake */
    ST_EHLO_TLS,  /* EHLO again inside TLS */
    ST_AUTH,      /* AUTH PLAIN or AUTH LOGIN sent */
    ST_AUTH_USER, /* AUTH LOGIN: user name sent */
    ST_AUTH_PASS, /* AUTH LOGIN: password sent */
    ST_READY,     /* transactions */
    ST_QUIT,      /* QUIT sent */
    ST_CLOSED,    /* over; only smtp_client_free is left */
};

static const char *const state_names[] = {
    "connect",   "tls-smtps",    "greeting", "ehlo",   "helo",
    "starttls",  "tls-starttls", "ehlo-tls", "auth",   "auth-user",
    "auth-pass", "ready",        "quit",     "closed",
};

enum cmd {
    CMD_NONE, /* an unsolicited reply */
    CMD_GREETING,
    CMD_EHLO,
    CMD_HELO,
    CMD_STARTTLS,
    CMD_AUTH,
    CMD_AUTH_USER,
    CMD_AUTH_PASS,
    CMD_MAIL,
    CMD_RCPT,
    CMD_DATA,
    CMD_DOT,
    CMD_RSET,
    CMD_QUIT,
};

static const char *const cmd_names[] = {
    "(nothing)", "the greeting",  "EHLO",          "HELO",      "STARTTLS",
    "AUTH",      "AUTH user",     "AUTH password", "MAIL FROM", "RCPT TO",
    "DATA",      "the final dot", "RSET",          "QUIT",
};

/* One reply we are waiting for. */
struct expect {
    enum cmd cmd;
    int slot;      /* message slot, -1 for session commands */
    uint64_t end;  /* output stream offset just past the command */
    int64_t since; /* when it was completely written; -1: not yet */
};

/* One submitted message. */
struct xmsg {
    int used;
    uint64_t seq; /* submission order */
    struct smtp_msg m;
    int ncmd;         /* MAIL, RCPT, DATA written so far (0..3) */
    int npend;        /* replies still expected for it */
    int has_dot;      /* 354 came: content (or a lone dot) is queued */
    uint64_t dot_end; /* output offset just past its final dot */
    int reached;      /* a command of it was written to the server */
    int decided;      /* res holds the outcome */
    int local;        /* decided here, without the server */
    struct smtp_result res;
};

/* The reply being assembled. */
struct reply {
    int code;
    int nlines;
    char status[16];
    char text[256]; /* printable-escaped, lines joined with a space */
    size_t textlen;
};

struct smtp_client {
    struct smtp_params p;
    struct smtp_callbacks cb;
    const char *host;
    int port;
    enum state state;
    int fd;
    char peer[INET6_ADDRSTRLEN + 32]; /* "[addr]:port" */
    char ehlo[256];                   /* the name our EHLO gave */

    struct addrinfo *ai, *ai_cur;
    char conn_err[256]; /* the last connect error, for the message */

    struct tls_ctx *ctx;
    int own_ctx;
    struct tls *tls;
    short tls_want; /* POLLIN/POLLOUT the TLS layer is waiting for */

    struct smtp_caps caps, newcaps;

    struct buf in, out;
    size_t out_off;         /* bytes of out already written */
    uint64_t q_total;       /* bytes ever queued for output */
    uint64_t w_total;       /* bytes ever written */
    int out_secret;         /* out holds credentials: wipe it */
    int64_t now;            /* last time given by the caller */
    int64_t state_deadline; /* connect and handshake */
    int64_t write_since;    /* last write progress */
    int64_t head_since;     /* when the head expect became the head */

    struct expect ex[SMTP_EXPECT_MAX];
    int ex_head, ex_n;
    struct reply r;
    char rstr[300]; /* reply_str */
    char last[300]; /* the last complete reply, for server_gone */

    struct xmsg msg[SMTP_PIPELINE_MAX];
    uint64_t seq;
    int nused;     /* used slots */
    int nstarted;  /* messages that went to the server on this link */
    int depth_max; /* messages held at once, from pipeline_max */
    int await_354; /* a DATA reply is pending: nothing may follow */
    int need_rset; /* a transaction failed before its dot */
    int quit_req;
    int want_ready; /* call ready when there is capacity */
    int local_pending;
    int in_421;     /* closing because of a 421 */
    int auth_plain; /* AUTH PLAIN was sent */

    int depth;    /* callbacks on the stack */
    int free_req; /* smtp_client_free was called inside a callback */
};

/*---- names ----*/

const char *
smtp_stage_str(enum smtp_stage s)
{
    static const char *const names[] = {
        "connect", "greeting", "ehlo", "starttls", "auth",
        "mail",    "rcpt",     "data", "dot",
    };
    if ((unsigned)s < sizeof names / sizeof names[0])
        return names[s];
    return "?";
}

const char *
smtp_fail_str(enum smtp_fail f)
{
    static const char *const names[] = {
        "none", "connection", "tls", "auth", "protocol", "refused", "internal",
    };
    if ((unsigned)f < sizeof names / sizeof names[0])
        return names[f];
    return "?";
}

/*---- small helpers ----*/

/* set_state - the only way to change state (curl smtp.c). */
static void
set_state(struct smtp_client *c, enum state s)
{
    if (c->state != s)
        log_debug("smtp %s: %s -> %s", c->host, state_names[c->state],
                  state_names[s]);
    c->state = s;
}

/* timeout_ms - a relay timeout (seconds, or ms for tests) in ms. */
static int64_t
timeout_ms(const struct smtp_client *c, int t)
{
    if (t <= 0)
        t = 300;
    return c->p.timeouts_in_ms ? (int64_t)t : (int64_t)t * 1000;
}

/* cmd_timeout - RFC 5321 4.5.3.2: how long a reply to cmd may take. */
static int64_t
cmd_timeout(const struct smtp_client *c, enum cmd cmd)
{
    const struct config_relay *r = c->p.relay;

    switch (cmd) {
    case CMD_GREETING:
    case CMD_EHLO:
    case CMD_HELO:
    case CMD_STARTTLS:
    case CMD_AUTH:
    case CMD_AUTH_USER:
    case CMD_AUTH_PASS:
        return timeout_ms(c, r->timeout_greeting);
    case CMD_RCPT:
        return timeout_ms(c, r->timeout_rcpt);
    case CMD_DATA:
        return timeout_ms(c, r->timeout_data);
    case CMD_DOT:
        return timeout_ms(c, r->timeout_dot);
    default:
        return timeout_ms(c, r->timeout_mail);
    }
}

/* transcript - one line of the dialogue on stderr (-v), escaped. */
static void
transcript(const struct smtp_client *c, const char *dir, const char *s,
           size_t n)
{
    char esc[640];

    if (!c->p.transcript)
        return;
    log_printable(esc, sizeof esc, s, n);
    /* log_warnx: the transcript was asked for, whatever the log level. */
    log_warnx("smtp %s: %s %s", c->host, dir, esc);
}

/* word_eq - the n bytes at s are the keyword kw, ignoring case. */
static int
word_eq(const char *s, size_t n, const char *kw)
{
    return n == strlen(kw) && strncasecmp(s, kw, n) == 0;
}

/*
 * dsn_valid - length of an RFC 3463 status code at s: class 2, 4 or 5,
 * '.', 1-3 digits, '.', 1-3 digits, then a space or the end; 0 if there
 * is none (Postfix global/dsn_util.c dsn_valid()).
 */
static size_t
dsn_valid(const char *s, size_t n)
{
    size_t i, d;

    if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    for (i = 2, d = 0; i < n && d < 4 && isdigit((unsigned char)s[i]); i++)
        d++;
    if (d == 0 || d > 3 || i >= n || s[i] != '.')
        return 0;
    for (i++, d = 0; i < n && d < 4 && isdigit((unsigned char)s[i]); i++)
        d++;
    if (d == 0 || d > 3 || (i < n && s[i] != ' '))
        return 0;
    return i;
}

/* b64_encode - standard base64 with padding; out holds 4*ceil(n/3)+1. */
static size_t
b64_encode(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
                     (unsigned)in[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
        out[o++] = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* addr_ok - an envelope address we can put between angle brackets:
 * printable ASCII without space, '<' or '>' (no command injection), and
 * with utf8 (SMTPUTF8, RFC 6531 3.3) valid UTF-8 as well; at most
 * EMAIL_MAX octets.  "" is the null sender. */
static int
addr_ok(const char *s, int empty_ok, int utf8)
{
    size_t n = strlen(s);

    if (n == 0)
        return empty_ok;
    if (n > EMAIL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch == 0x7f || ch == '<' || ch == '>' ||
            (ch > 0x7f && !utf8))
            return 0;
    }
    return !utf8 || utf8_check(s, n) == UTF8_VALID;
}

/*---- output ----*/

/* out_put - queue bytes for the server; -1 past SMTP_OUT_MAX. */
static int
out_put(struct smtp_client *c, const void *p, size_t n)
{
    /* Outside smtp_client_handle (submit, quit) the time is stale: the
     * write clock starts at the next handle. */
    if (c->out_off == c->out.len)
        c->write_since = c->depth > 0 ? c->now : -1;
    if (buf_append(&c->out, p, n) == -1)
        return -1;
    c->q_total += n;
    return 0;
}

static void fail(struct smtp_client *c, enum smtp_fail f, int kind,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* expect_push - record the reply the command just queued will draw. */
static void
expect_push(struct smtp_client *c, enum cmd cmd, int slot)
{
    struct expect *x;

    if (c->ex_n == SMTP_EXPECT_MAX) {
        /* Cannot happen: the pump never queues that many. */
        log_warnx("smtp %s: BUG: expected-reply queue full", c->host);
        abort();
    }
    x = &c->ex[(c->ex_head + c->ex_n) % SMTP_EXPECT_MAX];
    x->cmd = cmd;
    x->slot = slot;
    x->end = c->q_total;
    x->since = -1;
    if (c->ex_n++ == 0)
        c->head_since = c->now;
}

/*
 * send_cmd - queue one command line (CRLF added) and the reply it will
 * draw.  shown replaces the line in the transcript (AUTH).  -1 after
 * closing the connection when the output buffer is full.
 */
static int send_cmd(struct smtp_client *c, enum cmd cmd, int slot,
                    const char *shown, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
send_cmd(struct smtp_client *c, enum cmd cmd, int slot, const char *shown,
         const char *fmt, ...)
{
    char line[SMTP_LINE_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line - 2) {
        fail(c, SMTP_FAIL_INTERNAL, EX_SOFTWARE, "%s: command too long",
             cmd_names[cmd]);
        return -1;
    }
    transcript(c, ">", shown ? shown : line, shown ? strlen(shown) : (size_t)n);
    memcpy(line + n, "\r\n", 2);
    if (out_put(c, line, (size_t)n + 2) == -1) {
        if (shown)
            explicit_bzero(line, sizeof line);
        fail(c, SMTP_FAIL_INTERNAL, EX_SOFTWARE, "output buffer full");
        return -1;
    }
    if (shown) /* AUTH: the line held a secret */
        explicit_bzero(line, sizeof line);
    expect_push(c, cmd, slot);
    return 0;
}

/*
 * queue_body - the message content, line ends made CRLF (a bare CR or LF
 * becomes CRLF: RFC 5321 2.3.8, and no "\n.\n" smuggling, CVE-2023-51764),
 * every line starting with '.' given another (4.5.2), a final CRLF if
 * missing, then ".\r\n".
 */
static int
queue_body(struct smtp_client *c, const char *d, size_t n)
{
    size_t i = 0, start;
    int bol = 1;

    if (buf_reserve(&c->out, n + n / 32 + 8) == -1)
        return -1;
    while (i < n) {
        if (bol && d[i] == '.' && out_put(c, ".", 1) == -1)
            return -1;
        start = i;
        while (i < n && d[i] != '\r' && d[i] != '\n')
            i++;
        if (out_put(c, d + start, i - start) == -1)
            return -1;
        if (i == n) {
            bol = 0;
            break;
        }
        if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')
            i++;
        i++;
        if (out_put(c, "\r\n", 2) == -1)
            return -1;
        bol = 1;
    }
    if (!bol && out_put(c, "\r\n", 2) == -1)
        return -1;
    return out_put(c, ".\r\n", 3);
}

/*---- messages and results ----*/

/* reply_str - the current reply for messages: "535 5.7.8 text". */
static const char *
reply_str(struct smtp_client *c)
{
    snprintf(c->rstr, sizeof c->rstr, "%d%s%s%s%s", c->r.code,
             c->r.status[0] ? " " : "", c->r.status, c->r.text[0] ? " " : "",
             c->r.text);
    return c->rstr;
}

/* msg_stage - where a message without a reply stopped. */
static enum smtp_stage
msg_stage(const struct xmsg *m)
{
    if (m->has_dot)
        return SMTP_STAGE_DOT;
    if (m->ncmd >= 3)
        return SMTP_STAGE_DATA;
    if (m->ncmd == 2)
        return SMTP_STAGE_RCPT;
    return SMTP_STAGE_MAIL;
}

/* cmd_stage - the stage a transaction command stands for. */
static enum smtp_stage
cmd_stage(enum cmd cmd)
{
    switch (cmd) {
    case CMD_MAIL:
        return SMTP_STAGE_MAIL;
    case CMD_RCPT:
        return SMTP_STAGE_RCPT;
    case CMD_DATA:
        return SMTP_STAGE_DATA;
    default:
        return SMTP_STAGE_DOT;
    }
}

/* decide - record a message's outcome from the current reply. */
static void
decide(struct smtp_client *c, struct xmsg *m, enum smtp_outcome o,
       enum smtp_stage st)
{
    if (m->decided)
        return;
    m->decided = 1;
    m->res.outcome = o;
    m->res.stage = st;
    m->res.code = c->r.code;
    memcpy(m->res.status, c->r.status, sizeof m->res.status);
    memcpy(m->res.text, c->r.text, sizeof m->res.text);
}

/* decide_local - an outcome without a reply (code 0). */
static void
decide_local(struct xmsg *m, enum smtp_outcome o, enum smtp_stage st,
             const char *status, const char *text)
{
    m->decided = 1;
    m->res.outcome = o;
    m->res.stage = st;
    m->res.code = 0;
    snprintf(m->res.status, sizeof m->res.status, "%s", status);
    snprintf(m->res.text, sizeof m->res.text, "%s", text);
}

/* finish - deliver a decided message's result and free its slot. */
static void
finish(struct smtp_client *c, struct xmsg *m)
{
    struct smtp_result res = m->res;

    res.cookie = m->m.cookie;
    /* A transaction that did not end with a dot may have left MAIL or
     * RCPT state on the server. */
    if (m->reached && !m->has_dot)
        c->need_rset = 1;
    memset(m, 0, sizeof *m);
    c->nused--;
    c->want_ready = 1;
    if (c->cb.result)
        c->cb.result(c, &res, c->cb.arg);
}

/* next_to_send - the oldest message with commands still to write. */
static struct xmsg *
next_to_send(struct smtp_client *c)
{
    struct xmsg *best = NULL;

    for (int i = 0; i < SMTP_PIPELINE_MAX; i++) {
        struct xmsg *m = &c->msg[i];
        if (m->used && !m->decided && m->ncmd < 3 &&
            (best == NULL || m->seq < best->seq))
            best = m;
    }
    return best;
}

/*---- closing ----*/

/* conn_close - drop the socket and the TLS session. */
static void
conn_close(struct smtp_client *c)
{
    if (c->tls) {
        /* close_notify only on an established session: nothing at all
         * goes out when the handshake never happened (injection). */
        if (c->caps.tls_active)
            tls_shutdown(c->tls);
        tls_free(c->tls);
        c->tls = NULL;
    }
    if (c->fd != -1) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->out_secret && c->out.p)
        explicit_bzero(c->out.p, c->out.cap);
    c->out_secret = 0;
    c->tls_want = 0;
}

/*
 * fail - end the connection: every message without an outcome gets one
 * (NOT_SENT before its dot was written, UNCERTAIN after, TEMPFAIL with
 * the reply when a 421 closed it and its commands had reached the
 * server), then the closed callback.  For SMTP_FAIL_NONE kind 0 means
 * "no error".
 */
static void
fail(struct smtp_client *c, enum smtp_fail f, int kind, const char *fmt, ...)
{
    struct err e;
    va_list ap;

    if (c->state == ST_CLOSED)
        return;
    err_clear(&e);
    e.kind = kind;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    if (f != SMTP_FAIL_NONE)
        transcript(c, "!", e.msg, strlen(e.msg));
    conn_close(c);
    set_state(c, ST_CLOSED);
    c->ex_n = 0;
    c->await_354 = 0;
    for (;;) {
        struct xmsg *m = NULL;
        for (int i = 0; i < SMTP_PIPELINE_MAX; i++)
            if (c->msg[i].used && (m == NULL || c->msg[i].seq < m->seq))
                m = &c->msg[i];
        if (m == NULL)
            break;
        if (m->decided && !m->local && m->npend > 0 && f == SMTP_FAIL_PROTO &&
            !(m->has_dot && c->w_total >= m->dot_end)) {
            /* Decided on a reply of a transaction whose other replies
             * never came in order: once the dialogue is out of step,
             * that reply may have answered another command.  Not a
             * result to record; the message was not sent. */
            m->decided = 0;
        }
        if (!m->decided) {
            if (m->has_dot && c->w_total >= m->dot_end)
                decide_local(m, SMTP_UNCERTAIN, SMTP_STAGE_DOT, "", e.msg);
            else if (c->in_421 && m->reached)
                decide(c, m, SMTP_TEMPFAIL, msg_stage(m));
            else
                decide_local(m, SMTP_NOT_SENT, msg_stage(m), "", e.msg);
        }
        m->reached = 0; /* no RSET bookkeeping on a closed link */
        finish(c, m);
    }
    if (c->cb.closed)
        c->cb.closed(c, f, &e, c->cb.arg);
}

/*---- capabilities ----*/

/* caps_line - one EHLO keyword line (RFC 5321 4.1.1.1); unknown ones
 * are ignored.  Lengths are checked word by word (curl smtp_endofresp). */
static void
caps_line(struct smtp_caps *k, const char *s, size_t n)
{
    size_t w = 0, i;

    while (w < n && s[w] != ' ' && s[w] != '=')
        w++;
    if (word_eq(s, w, "PIPELINING"))
        k->pipelining = 1;
    else if (word_eq(s, w, "STARTTLS"))
        k->starttls = 1;
    else if (word_eq(s, w, "8BITMIME"))
        k->eightbitmime = 1;
    else if (word_eq(s, w, "SMTPUTF8"))
        k->smtputf8 = 1;
    else if (word_eq(s, w, "ENHANCEDSTATUSCODES"))
        k->enhancedstatuscodes = 1;
    else if (word_eq(s, w, "SIZE")) {
        /* RFC 1870: "SIZE" [SP number]; a bounded parse, 0 = no limit
         * or unparseable. */
        long v = 0;
        i = w + 1;
        if (w < n && s[w] == ' ') {
            size_t digits = 0;
            for (; i < n && isdigit((unsigned char)s[i]) && digits < 16;
                 i++, digits++)
                v = v * 10 + (s[i] - '0');
            if (digits == 0 || digits >= 16 || i != n)
                v = 0;
        }
        k->size = v;
    } else if (word_eq(s, w, "AUTH")) {
        /* "AUTH PLAIN LOGIN", or the old "AUTH=PLAIN LOGIN". */
        i = w;
        while (i < n) {
            size_t st, len;
            while (i < n && (s[i] == ' ' || s[i] == '='))
                i++;
            st = i;
            while (i < n && s[i] != ' ')
                i++;
            len = i - st;
            if (word_eq(s + st, len, "PLAIN"))
                k->auth_plain = 1;
            else if (word_eq(s + st, len, "LOGIN"))
                k->auth_login = 1;
        }
    }
}

/*---- the session ----*/

static void enter_ready(struct smtp_client *c);
static void pump(struct smtp_client *c);

/*
 * The host's fully-qualified name, found once per process: the name
 * gethostname gives when it has a dot and resolves, else "".  A bare
 * "vm" or "localhost" is what strict relays refuse
 * (reject_non_fqdn_helo_hostname: "504 5.5.2 Helo command rejected").
 */
static char fqdn[256];
static pthread_once_t fqdn_once = PTHREAD_ONCE_INIT;

static void
fqdn_find(void)
{
    char host[256];
    struct addrinfo hints, *ai = NULL;

    if (gethostname(host, sizeof host) == -1)
        return;
    host[sizeof host - 1] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_CANONNAME;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &ai) == 0 && ai != NULL) {
        const char *n = ai->ai_canonname ? ai->ai_canonname : host;
        if (strchr(n, '.') != NULL && n[strlen(n) - 1] != '.' &&
            strlen(n) < sizeof fqdn)
            snprintf(fqdn, sizeof fqdn, "%s", n);
    }
    if (ai != NULL)
        freeaddrinfo(ai);
}

const char *
smtp_host_fqdn(void)
{
    pthread_once(&fqdn_once, fqdn_find);
    return fqdn;
}

/* ehlo_name - our name for EHLO into out: [relay] helo when set, else the
 * host's fully-qualified name, else the address literal of our end of
 * the connection (RFC 5321 4.1.3: "[192.0.2.1]", "[IPv6:2001:db8::1]"),
 * which a relay cannot refuse as not fully qualified. */
static void
ehlo_name(struct smtp_client *c, char *out, size_t n)
{
    const char *name = c->p.helo ? c->p.helo : c->p.relay->helo;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char a[INET6_ADDRSTRLEN];

    if (name != NULL && *name != '\0') {
        snprintf(out, n, "%s", name);
        return;
    }
    if (*smtp_host_fqdn() != '\0') {
        snprintf(out, n, "%s", smtp_host_fqdn());
        return;
    }
    memset(&ss, 0, sizeof ss);
    if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == -1)
        ss.ss_family = AF_UNSPEC;
    if (ss.ss_family == AF_INET &&
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a,
                  sizeof a) != NULL)
        snprintf(out, n, "[%s]", a);
    else if (ss.ss_family == AF_INET6 &&
             inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a,
                       sizeof a) != NULL)
        snprintf(out, n, "[IPv6:%s]", a);
    else
        snprintf(out, n, "localhost");
}

/* send_ehlo - EHLO with our name. */
static void
send_ehlo(struct smtp_client *c, enum state st)
{
    const char *name;

    ehlo_name(c, c->ehlo, sizeof c->ehlo);
    name = c->ehlo;
    /* A name that could break the command line becomes "localhost". */
    for (const char *s = name; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(".-_:[]", *s)) {
            name = "localhost";
            break;
        }
    if (*name == '\0')
        name = "localhost";
    if (name != c->ehlo)
        snprintf(c->ehlo, sizeof c->ehlo, "%s", name);
    set_state(c, st);
    send_cmd(c, st == ST_HELO ? CMD_HELO : CMD_EHLO, -1, NULL, "%s %s",
             st == ST_HELO ? "HELO" : "EHLO", name);
}

/* start_auth - AUTH PLAIN (preferred) or LOGIN, RFC 4954. */
static void
start_auth(struct smtp_client *c)
{
    const struct config_relay *r = c->p.relay;
    const char *user = r->username, *pass = c->p.password;
    const char *force = r->auth;
    int plain;
    size_t ul, pl;

    /* Never before TLS, unless tls = none was configured explicitly. */
    if (c->tls == NULL && r->tls != CONFIG_TLS_NONE) {
        fail(c, SMTP_FAIL_AUTH, EX_SOFTWARE,
             "refusing to send credentials to %s without TLS", c->host);
        return;
    }
    if (user == NULL || *user == '\0') {
        fail(c, SMTP_FAIL_AUTH, EX_CONFIG,
             "a password is set for %s but no username", c->host);
        return;
    }
    ul = strlen(user);
    pl = strlen(pass);
    if (ul > SMTP_AUTH_FIELD_MAX || pl > SMTP_AUTH_FIELD_MAX) {
        fail(c, SMTP_FAIL_AUTH, EX_CONFIG,
             "username or password longer than %d octets", SMTP_AUTH_FIELD_MAX);
        return;
    }
    if (force && strcasecmp(force, "plain") == 0)
        plain = 1;
    else if (force && strcasecmp(force, "login") == 0)
        plain = 0;
    else if (c->caps.auth_plain)
        plain = 1;
    else if (c->caps.auth_login)
        plain = 0;
    else {
        fail(c, SMTP_FAIL_AUTH, EX_UNAVAILABLE,
             "%s offers neither AUTH PLAIN nor AUTH LOGIN%s", c->host,
             c->tls ? "" : " (maybe only after STARTTLS)");
        return;
    }
    set_state(c, ST_AUTH);
    if (plain) {
        /* RFC 4616: authzid NUL authcid NUL passwd, as the initial
         * response. */
        unsigned char raw[2 * SMTP_AUTH_FIELD_MAX + 2];
        char b64[(sizeof raw + 2) / 3 * 4 + 1];

        raw[0] = '\0';
        memcpy(raw + 1, user, ul);
        raw[1 + ul] = '\0';
        memcpy(raw + 2 + ul, pass, pl);
        b64_encode(raw, ul + pl + 2, b64);
        c->auth_plain = 1;
        if (buf_reserve(&c->out, sizeof b64 + 16) == 0) {
            c->out_secret = 1;
            send_cmd(c, CMD_AUTH, -1, "AUTH PLAIN <redacted>", "AUTH PLAIN %s",
                     b64);
        } else {
            fail(c, SMTP_FAIL_INTERNAL, EX_SOFTWARE, "output buffer full");
        }
        explicit_bzero(raw, sizeof raw);
        explicit_bzero(b64, sizeof b64);
    } else {
        send_cmd(c, CMD_AUTH, -1, NULL, "AUTH LOGIN");
    }
}

/* auth_login_step - AUTH LOGIN: answer the 334 with the user name or the
 * password, base64. */
static void
auth_login_step(struct smtp_client *c, int password)
{
    const char *s = password ? c->p.password : c->p.relay->username;
    char b64[(SMTP_AUTH_FIELD_MAX + 2) / 3 * 4 + 1];

    b64_encode((const unsigned char *)s, strlen(s), b64);
    set_state(c, password ? ST_AUTH_PASS : ST_AUTH_USER);
    if (buf_reserve(&c->out, sizeof b64 + 4) == 0) {
        c->out_secret = 1;
        send_cmd(c, password ? CMD_AUTH_PASS : CMD_AUTH_USER, -1, "<redacted>",
                 "%s", b64);
    } else {
        fail(c, SMTP_FAIL_INTERNAL, EX_SOFTWARE, "output buffer full");
    }
    explicit_bzero(b64, sizeof b64);
}

/* start_tls - the handshake on the connected socket. */
static void
start_tls(struct smtp_client *c, enum state st)
{
    struct err e;

    err_clear(&e);
    if ((c->tls = tls_new(c->ctx, c->fd, c->host, &e)) == NULL) {
        fail(c, SMTP_FAIL_TLS, e.kind, "%s", e.msg);
        return;
    }
    c->tls_want = POLLOUT;
    c->state_deadline = c->now + timeout_ms(c, c->p.relay->timeout_greeting);
    set_state(c, st);
}

/* after_ehlo - the capabilities are known: STARTTLS, AUTH or ready. */
static void
after_ehlo(struct smtp_client *c)
{
    if (c->p.relay->tls == CONFIG_TLS_STARTTLS && c->tls == NULL) {
        if (!c->caps.starttls) {
            fail(c, SMTP_FAIL_TLS, EX_PROTOCOL,
                 "%s does not offer STARTTLS (tls = starttls requires it; "
                 "it may have been stripped on the way)",
                 c->host);
            return;
        }
        set_state(c, ST_STARTTLS);
        send_cmd(c, CMD_STARTTLS, -1, NULL, "STARTTLS");
        return;
    }
    if (c->p.password) {
        start_auth(c);
        return;
    }
    enter_ready(c);
}

/* tls_done - the handshake finished. */
static void
tls_done(struct smtp_client *c)
{
    int verified = tls_verified(c->tls);
    char line[160];

    c->tls_want = 0;
    /* RFC 3207 4.2: forget everything learnt before TLS. */
    memset(&c->caps, 0, sizeof c->caps);
    c->caps.tls_active = 1;
    snprintf(c->caps.tls_version, sizeof c->caps.tls_version, "%s",
             tls_version(c->tls));
    snprintf(c->caps.tls_cipher, sizeof c->caps.tls_cipher, "%s",
             tls_cipher(c->tls));
    snprintf(line, sizeof line, "%s %s (%s)", c->caps.tls_version,
             c->caps.tls_cipher,
             verified ? "certificate verified" : "certificate NOT verified");
    transcript(c, "TLS", line, strlen(line));
    if (c->state == ST_TLS_SMTPS) {
        set_state(c, ST_GREETING);
        expect_push(c, CMD_GREETING, -1);
        c->ex[c->ex_head].since = c->now;
    } else {
        send_ehlo(c, ST_EHLO_TLS);
    }
}

/* enter_ready - setup done: transactions may start. */
static void
enter_ready(struct smtp_client *c)
{
    set_state(c, ST_READY);
    c->depth_max = c->caps.pipelining ? c->p.pipeline_max : 1;
    c->want_ready = 1;
    pump(c);
}

/*---- transactions ----*/

/* mail_from - MAIL FROM with the parameters the relay offers: SIZE (RFC
 * 1870) and, for a message with UTF-8 addresses or headers, SMTPUTF8 (RFC
 * 6531 3.4) with BODY=8BITMIME (its headers are 8-bit; a server offering
 * SMTPUTF8 offers 8BITMIME too, 3.1). */
static int
mail_from(struct smtp_client *c, const struct xmsg *m, int slot)
{
    char size[32] = "";

    if (c->caps.size > 0)
        snprintf(size, sizeof size, " SIZE=%zu", m->m.len);
    return send_cmd(
        c, CMD_MAIL, slot, NULL, "MAIL FROM:<%s>%s%s%s", m->m.mail_from, size,
        m->m.smtputf8 && c->caps.eightbitmime ? " BODY=8BITMIME" : "",
        m->m.smtputf8 ? " SMTPUTF8" : "");
}

/*
 * pump - write what may be written now: RSET after a failed transaction,
 * then the next message's MAIL, RCPT and DATA (all three at once when
 * pipelining, one per reply otherwise), and QUIT when everything is done
 * and quitting was asked for or max_messages reached.  Never anything
 * behind a DATA whose reply is not in.
 */
static void
pump(struct smtp_client *c)
{
    int max = c->p.relay->max_messages;

    while (c->state == ST_READY) {
        struct xmsg *m;
        int slot;

        if (c->await_354)
            return;
        if (!c->caps.pipelining && c->ex_n > 0)
            return;
        if ((m = next_to_send(c)) == NULL) {
            if (c->nused == 0 && c->ex_n == 0 &&
                (c->quit_req || (max > 0 && c->nstarted >= max))) {
                set_state(c, ST_QUIT);
                send_cmd(c, CMD_QUIT, -1, NULL, "QUIT");
            }
            return;
        }
        slot = (int)(m - c->msg);
        if (m->ncmd == 0 && c->need_rset) {
            c->need_rset = 0;
            if (send_cmd(c, CMD_RSET, -1, NULL, "RSET") == -1)
                return;
            continue;
        }
        switch (m->ncmd) {
        case 0:
            c->nstarted++;
            m->reached = 1;
            if (mail_from(c, m, slot) == -1)
                return;
            break;
        case 1:
            if (send_cmd(c, CMD_RCPT, slot, NULL, "RCPT TO:<%s>", m->m.rcpt) ==
                -1)
                return;
            break;
        default:
            if (send_cmd(c, CMD_DATA, slot, NULL, "DATA") == -1)
                return;
            c->await_354 = 1;
            break;
        }
        m->ncmd++;
        m->npend++;
    }
}

/* txn_reply - a reply to MAIL, RCPT, DATA or the dot. */
static void
txn_reply(struct smtp_client *c, const struct expect *x)
{
    struct xmsg *m = &c->msg[x->slot];
    int code = c->r.code, cls = code / 100;
    enum smtp_stage st = cmd_stage(x->cmd);

    m->npend--;
    if (x->cmd == CMD_DATA)
        c->await_354 = 0;
    if (x->cmd == CMD_DATA && code == 354) {
        int rc;
        char line[64];
        /* No valid recipient but 354 anyway: end the empty content with
         * a lone dot and ignore its reply (RFC 2920 3.1, Postfix). */
        if (m->decided)
            rc = out_put(c, ".\r\n", 3);
        else
            rc = queue_body(c, m->m.data, m->m.len);
        if (rc == -1) {
            fail(c, SMTP_FAIL_INTERNAL, EX_SOFTWARE,
                 "message of %zu octets does not fit the output buffer",
                 m->m.len);
            return;
        }
        /* before any byte of it can reach the socket */
        if (!m->decided && c->cb.content)
            c->cb.content(c, m->m.cookie, c->cb.arg);
        snprintf(line, sizeof line, "[%zu octets of content]",
                 m->decided ? (size_t)0 : m->m.len);
        transcript(c, ">", line, strlen(line));
        transcript(c, ">", ".", 1);
        m->has_dot = 1;
        m->dot_end = c->q_total;
        m->npend++;
        expect_push(c, CMD_DOT, x->slot);
        return;
    }
    if (code == 503 && !m->decided) {
        /* "Bad sequence of commands" to a transaction we believe in
         * order: the server and we disagree about the dialogue (or its
         * replies came out of order).  It says nothing about the
         * recipient: never a bounce. */
        fail(c, SMTP_FAIL_PROTO, EX_PROTOCOL, "%s: out of sequence at %s: %s",
             c->host, cmd_names[x->cmd], reply_str(c));
        return;
    }
    if (cls == 2 && x->cmd != CMD_DATA) {
        if (x->cmd == CMD_DOT && !m->decided)
            decide(c, m, SMTP_SENT, st);
    } else if (cls == 4 || cls == 5) {
        decide(c, m, cls == 4 ? SMTP_TEMPFAIL : SMTP_PERMFAIL, st);
    } else {
        /* Out of step: the reply that decided this message (a 5xx to
         * RCPT, say) may have answered another command. */
        if (m->decided && !m->local && !m->has_dot)
            m->decided = 0;
        fail(c, SMTP_FAIL_PROTO, EX_PROTOCOL, "%s: unexpected reply to %s: %s",
             c->host, cmd_names[x->cmd], reply_str(c));
        return;
    }
    /* Pipelined, a failed MAIL or RCPT still has replies to come;
     * lock-step, nothing more was sent for it. */
    if (m->npend == 0 && m->decided)
        finish(c, m);
}

/* reply_done - a complete reply to the head of the expect queue. */
static void
reply_done(struct smtp_client *c, const struct expect *x)
{
    int code = c->r.code, cls = code / 100;

    if (code == 421 && x->cmd != CMD_QUIT) {
        /* RFC 5321 3.8: the server is closing the channel. */
        c->in_421 = 1;
        if (x->slot >= 0)
            decide(c, &c->msg[x->slot], SMTP_TEMPFAIL, cmd_stage(x->cmd));
        fail(c, SMTP_FAIL_REFUSED, EX_TEMPFAIL, "%s closed the session: %s",
             c->host, reply_str(c));
        return;
    }
    switch (x->cmd) {
    case CMD_NONE:
        fail(c, SMTP_FAIL_PROTO, EX_PROTOCOL,
             "%s: surplus reply (none was expected): %s", c->host,
             reply_str(c));
        return;
    case CMD_GREETING:
        if (code == 220)
            send_ehlo(c, ST_EHLO);
        else
            fail(c, SMTP_FAIL_REFUSED, cls == 4 ? EX_TEMPFAIL : EX_UNAVAILABLE,
                 "%s refused the session: %s", c->host, reply_str(c));
        return;
    case CMD_EHLO:
        if (cls == 2) {
            c->newcaps.esmtp = 1;
            c->newcaps.tls_active = c->caps.tls_active;
            memcpy(c->newcaps.tls_version, c->caps.tls_version,
                   sizeof c->newcaps.tls_version);
            memcpy(c->newcaps.tls_cipher, c->caps.tls_cipher,
                   sizeof c->newcaps.tls_cipher);
            c->caps = c->newcaps;
            after_ehlo(c);
        } else if ((code == 500 || code == 502) && c->tls == NULL) {
            send_ehlo(c, ST_HELO);
        } else {
            fail(c, SMTP_FAIL_REFUSED, cls == 4 ? EX_TEMPFAIL : EX_UNAVAILABLE,
                 "%s refused EHLO: %s", c->host, reply_str(c));
        }
        return;
    case CMD_HELO:
        if (cls == 2) {
            int tls = c->caps.tls_active;
            memset(&c->caps, 0, sizeof c->caps);
            c->caps.tls_active = tls;
            after_ehlo(c);
        } else {
            fail(c, SMTP_FAIL_REFUSED, cls == 4 ? EX_TEMPFAIL : EX_UNAVAILABLE,
                 "%s refused HELO: %s", c->host, reply_str(c));
        }
        return;
    case CMD_STARTTLS:
        if (code == 220)
            start_tls(c, ST_TLS_START);
        else
            fail(c, SMTP_FAIL_TLS, EX_PROTOCOL, "%s refused STARTTLS: %s",
                 c->host, reply_str(c));
        return;
    case CMD_AUTH:
    case CMD_AUTH_USER:
    case CMD_AUTH_PASS:
        if (code == 235) {
            enter_ready(c);
        } else if (code == 334 && !c->auth_plain && x->cmd != CMD_AUTH_PASS) {
            /* AUTH LOGIN challenges (PLAIN sent its initial response). */
            auth_login_step(c, x->cmd == CMD_AUTH_USER);
        } else {
            fail(c, SMTP_FAIL_AUTH, cls == 4 ? EX_TEMPFAIL : EX_NOPERM,
                 "%s rejected the credentials of %s: %s", c->host,
                 c->p.relay->username, reply_str(c));
        }
        return;
    case CMD_MAIL:
    case CMD_RCPT:
    case CMD_DATA:
    case CMD_DOT:
        txn_reply(c, x);
        return;
    case CMD_RSET:
        if (cls != 2)
            fail(c, SMTP_FAIL_PROTO, EX_PROTOCOL, "%s refused RSET: %s",
                 c->host, reply_str(c));
        return;
    case CMD_QUIT:
        fail(c, SMTP_FAIL_NONE, 0, "%s", "");
        return;
    }
}

/*---- input ----*/

/*
 * reply_line - one reply line without its line end.  1 when it ends the
 * reply, 0 when more lines follow, -1 after closing the connection on a
 * malformed line (OpenSMTPD smtp_client_readline).
 */
static int
reply_line(struct smtp_client *c, const struct expect *x, const char *l,
           size_t n)
{
    struct reply *r = &c->r;
    const char *text;
    size_t tn, sl, room;
    int code, last;

    transcript(c, "<", l, n);
    if (n < 3 || !isdigit((unsigned char)l[0]) ||
        !isdigit((unsigned char)l[1]) || !isdigit((unsigned char)l[2]) ||
        l[0] < '2' || l[0] > '5' || l[1] > '5' ||
        (n > 3 && l[3] != ' ' && l[3] != '-')) {
        char esc[80];
        fail(c, SMTP_FAIL_PROTO, EX_PROTOCOL, "%s: malformed reply \"%s\"",
             c->host, log_printable(esc, sizeof esc, l, n < 40 ? n : 40));
        return -1;
    }
    code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
    last = n == 3 || l[3] == ' ';
    if (r->nlines == 0) {
        memset(r, 0, sizeof *r);
        r->code = code;
        if (x->cmd == CMD_EHLO)
            memset(&c->newcaps, 0, sizeof c->newcaps);
    } else if (code != r->code) {
        fail(c, SMTP_FAIL_PROTO, EX_PROTOCOL,
             "%s: reply lines with different codes (%d, then %d)", c->host,
             r->code, code);
        return -1;
    }
    if (++r->nlines > SMTP_REPLY_LINES_MAX) {
        fail(c, SMTP_FAIL_PROTO, EX_PROTOCOL, "%s: reply of more than %d lines",
             c->host, SMTP_REPLY_LINES_MAX);
        return -1;
    }
    text = n > 4 ? l + 4 : "";
    tn = n > 4 ? n - 4 : 0;
    if (x->cmd == CMD_EHLO && r->nlines > 1)
        caps_line(&c->newcaps, text, tn);
    /* RFC 3463 status, first line; repeated ones are dropped. */
    if ((sl = dsn_valid(text, tn)) > 0 && text[0] == l[0] &&
        sl < sizeof r->status) {
        if (r->nlines == 1)
            memcpy(r->status, text, sl);
        if (strncmp(r->status, text, sl) == 0 && r->status[sl] == '\0') {
            text += sl;
            tn -= sl;
            while (tn > 0 && *text == ' ')
                text++, tn--;
        }
    }
    room = sizeof r->text - r->textlen;
    if (room > 8 && tn > 0) {
        if (r->textlen > 0) {
            r->text[r->textlen++] = ' ';
            room--;
        }
        log_printable(r->text + r->textlen, room, text, tn);
        r->textlen += strlen(r->text + r->textlen);
    }
    return last;
}

/* process_input - consume every complete line in the input buffer. */
static void
process_input(struct smtp_client *c)
{
    size_t off = 0;

    while (c->state != ST_CLOSED && off < c->in.len) {
        char *s = c->in.p + off, *nl;
        size_t avail = c->in.len - off, n;
        struct expect *x;
        int rc;

        if (c->state == ST_TLS_START) {
            /* Bytes after "220" to STARTTLS and before the handshake:
             * an injection (CVE-2011-0411, CVE-2021-22947). */
            fail(c, SMTP_FAIL_TLS, EX_PROTOCOL,
                 "%s sent data after \"220\" to STARTTLS, before the TLS "
                 "handshake (possible STARTTLS command injection): "
                 "aborted",
                 c->host);
            return;
        }
        if ((nl = memchr(s, '\n', avail)) == NULL) {
            if (avail > SMTP_LINE_MAX)
                fail(c, SMTP_FAIL_PROTO, EX_PROTOCOL,
                     "%s: reply line longer than %d octets", c->host,
                     SMTP_LINE_MAX);
            break;
        }
        n = (size_t)(nl - s);
        off += n + 1;
        if (n + 1 > SMTP_LINE_MAX) {
            fail(c, SMTP_FAIL_PROTO, EX_PROTOCOL,
                 "%s: reply line longer than %d octets", c->host,
                 SMTP_LINE_MAX);
            return;
        }
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (c->ex_n == 0)
            expect_push(c, CMD_NONE, -1); /* unsolicited; see reply_done */
        x = &c->ex[c->ex_head];
        if (x->cmd != CMD_NONE && x->cmd != CMD_GREETING &&
            c->w_total < x->end) {
            char esc[80];
            fail(c, SMTP_FAIL_PROTO, EX_PROTOCOL,
                 "%s: reply before %s was sent (surplus reply \"%s\")", c->host,
                 cmd_names[x->cmd],
                 log_printable(esc, sizeof esc, s, n < 40 ? n : 40));
            return;
        }
        rc = reply_line(c, x, s, n);
        if (rc == -1)
            return;
        if (rc == 1) {
            struct expect done = *x;
            memcpy(c->last, reply_str(c), sizeof c->last);
            c->ex_head = (c->ex_head + 1) % SMTP_EXPECT_MAX;
            c->ex_n--;
            c->head_since = c->now;
            reply_done(c, &done);
            c->r.nlines = 0;
        }
    }
    if (c->state == ST_CLOSED)
        return;
    if (off > 0) {
        memmove(c->in.p, c->in.p + off, c->in.len - off);
        c->in.len -= off;
        c->in.p[c->in.len] = '\0';
    }
}

/* io_read - read from the socket or TLS: >0, 0 EOF, TLS_WANT_*, -1. */
static ssize_t
io_read(struct smtp_client *c, char *p, size_t n, struct err *e)
{
    ssize_t r;

    if (c->tls)
        return tls_read(c->tls, p, n, e);
    r = recv(c->fd, p, n, 0);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return TLS_WANT_READ;
    if (errno == ECONNRESET || errno == ECONNABORTED) {
        err_set(e, EX_TEMPFAIL, "read: %s", strerror(errno));
        return TLS_CLOSED; /* as tls_read: the server went away */
    }
    err_set(e, EX_IOERR, "read from %s %s: %s", c->host, c->peer,
            strerror(errno));
    return -1;
}

/* io_write - write to the socket or TLS: >0, TLS_WANT_*, -1. */
static ssize_t
io_write(struct smtp_client *c, const char *p, size_t n, struct err *e)
{
    ssize_t r;

    if (c->tls)
        return tls_write(c->tls, p, n, e);
    r = send(c->fd, p, n, MSG_NOSIGNAL);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return TLS_WANT_WRITE;
    if (errno == EPIPE || errno == ECONNRESET) {
        err_set(e, EX_TEMPFAIL, "write: %s", strerror(errno));
        return TLS_CLOSED; /* as tls_write: the server went away */
    }
    err_set(e, EX_IOERR, "write to %s %s: %s", c->host, c->peer,
            strerror(errno));
    return -1;
}

/* str_add - append to the message being built in b (size cap). */
static void str_add(char *b, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
str_add(char *b, size_t cap, size_t *n, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (*n >= cap - 1)
        return;
    va_start(ap, fmt);
    k = vsnprintf(b + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0)
        *n = (size_t)k < cap - *n ? *n + (size_t)k : cap - 1;
}

/* is_reply - the n bytes at s start like an SMTP reply line. */
static int
is_reply(const char *s, size_t n)
{
    return n >= 3 && s[0] >= '2' && s[0] <= '5' &&
           isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
           (n == 3 || s[3] == ' ' || s[3] == '-');
}

/*
 * unread - what the input buffer holds that was never acted on: the last
 * complete reply line (only after salvage: normally complete lines are
 * consumed at once) into last, and a line without its end (the server
 * left in the middle of a reply) into part; both printable-escaped, ""
 * when there is none.
 */
static void
unread(const struct smtp_client *c, char *last, size_t lastsz, char *part,
       size_t partsz)
{
    size_t off = 0;

    last[0] = part[0] = '\0';
    while (off < c->in.len) {
        const char *s = c->in.p + off, *nl;
        size_t n;

        if ((nl = memchr(s, '\n', c->in.len - off)) == NULL) {
            log_printable(part, partsz, s, c->in.len - off);
            return;
        }
        n = (size_t)(nl - s);
        off += n + 1;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (is_reply(s, n) && (n == 3 || s[3] == ' ')) /* its last line */
            log_printable(last, lastsz, s, n);
    }
}

/*
 * server_gone - the server ended the connection: an end of stream, a
 * reset, or, under TLS after the handshake, bytes that are not TLS (a
 * "421" written in clear text after the session).  However the layer
 * below noticed, it is reported as the server's close: what we were
 * waiting for, the last reply it sent, and the system or TLS detail
 * last, in the parenthesis - never as a TLS problem, which would send
 * the user looking at certificates.  The outcomes are fail's, as for any
 * connection that died: NOT_SENT before a message's dot, UNCERTAIN
 * after (a reply salvaged after a failed write is named, not acted on).
 * detail is NULL for a plain end of stream.
 */
static void
server_gone(struct smtp_client *c, const char *detail)
{
    char why[ERR_MSG_MAX], last[160], part[160];
    const char *clear = c->tls ? tls_cleartext(c->tls) : "";
    int clear_reply = is_reply(clear, strlen(clear));
    const char *sep = " (";
    size_t n = 0;

    if (c->state == ST_QUIT) {
        fail(c, SMTP_FAIL_NONE, 0, "%s", "");
        return;
    }
    unread(c, last, sizeof last, part, sizeof part);
    str_add(why, sizeof why, &n, "%s closed the connection", c->host);
    if (c->ex_n > 0)
        str_add(why, sizeof why, &n, " while we waited for the reply to %s",
                cmd_names[c->ex[c->ex_head].cmd]);
    if (clear_reply) {
        str_add(why, sizeof why, &n,
                "%safter its last reply \"%s\", sent in clear text outside "
                "TLS",
                sep, clear);
        sep = "; ";
    } else if (*last || *c->last) {
        str_add(why, sizeof why, &n, "%safter its last reply \"%s\"", sep,
                *last ? last : c->last);
        sep = "; ";
    }
    if (*part) {
        str_add(why, sizeof why, &n, "%sin the middle of a reply: \"%s\"", sep,
                part);
        sep = "; ";
    }
    if (*clear && !clear_reply) {
        str_add(why, sizeof why, &n, "%sthen clear text outside TLS: \"%s\"",
                sep, clear);
        sep = "; ";
    }
    if (detail && *detail) {
        str_add(why, sizeof why, &n, "%s%s", sep, detail);
        sep = "; ";
    }
    if (*sep == ';')
        str_add(why, sizeof why, &n, ")");
    fail(c, SMTP_FAIL_CONN, EX_TEMPFAIL, "%s", why);
}

/*
 * salvage - a write found the server gone: what it sent before it went
 * may still be waiting in the socket (a "421" ahead of the reset).  Read
 * it, without waiting and without acting on it, for server_gone.
 */
static void
salvage(struct smtp_client *c)
{
    char chunk[SMTP_READ_CHUNK];
    struct err e;

    for (int i = 0; i < SMTP_READS_MAX; i++) {
        ssize_t n;

        err_clear(&e);
        n = io_read(c, chunk, sizeof chunk, &e);
        if (n <= 0 || buf_append(&c->in, chunk, (size_t)n) == -1)
            return;
    }
}

/* do_read - read until the socket is empty, consuming replies. */
static void
do_read(struct smtp_client *c)
{
    char chunk[SMTP_READ_CHUNK];
    struct err e;

    for (int i = 0; i < SMTP_READS_MAX; i++) {
        ssize_t n;

        if (c->state == ST_CLOSED || c->state == ST_TLS_START)
            return;
        err_clear(&e);
        n = io_read(c, chunk, sizeof chunk, &e);
        if (n > 0) {
            if (buf_append(&c->in, chunk, (size_t)n) == -1) {
                fail(c, SMTP_FAIL_PROTO, EX_PROTOCOL,
                     "%s: reply line longer than %d octets", c->host,
                     SMTP_LINE_MAX);
                return;
            }
            process_input(c);
            continue;
        }
        if (n == TLS_WANT_READ)
            return;
        if (n == TLS_WANT_WRITE) {
            c->tls_want = POLLOUT;
            return;
        }
        if (n == 0 || n == TLS_CLOSED) {
            server_gone(c, n == 0 ? NULL : e.msg);
            return;
        }
        fail(c, c->state == ST_QUIT ? SMTP_FAIL_NONE : SMTP_FAIL_CONN, e.kind,
             "%s", e.msg);
        return;
    }
    fail(c, SMTP_FAIL_PROTO, EX_PROTOCOL, "%s: endless input", c->host);
}

/* mark_written - start the reply clock of commands now fully written. */
static void
mark_written(struct smtp_client *c)
{
    for (int i = 0; i < c->ex_n; i++) {
        struct expect *x = &c->ex[(c->ex_head + i) % SMTP_EXPECT_MAX];
        if (x->since == -1 && x->end <= c->w_total)
            x->since = c->now;
    }
}

/* do_write - write queued output until the socket would block. */
static void
do_write(struct smtp_client *c)
{
    struct err e;

    /* A TLS write that wanted the socket writable is retried below.  Not
     * so a handshake that has not started yet: start_tls asked for
     * POLLOUT to be woken for it, and clearing that here (the same turn
     * that read the "220") left the client waiting for input that never
     * comes while the server waits for the ClientHello. */
    if (c->tls_want == POLLOUT && c->state != ST_TLS_START &&
        c->state != ST_TLS_SMTPS)
        c->tls_want = 0;
    while (c->state != ST_CLOSED && c->out_off < c->out.len) {
        ssize_t n;

        err_clear(&e);
        n = io_write(c, c->out.p + c->out_off, c->out.len - c->out_off, &e);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->w_total += (uint64_t)n;
            c->write_since = c->now;
            continue;
        }
        if (n == TLS_WANT_WRITE) {
            c->tls_want = POLLOUT;
            break;
        }
        if (n == TLS_WANT_READ)
            break;
        if (n == TLS_CLOSED) {
            if (c->state != ST_QUIT)
                salvage(c);
            server_gone(c, e.msg);
            return;
        }
        fail(c, c->state == ST_QUIT ? SMTP_FAIL_NONE : SMTP_FAIL_CONN,
             e.kind ? e.kind : EX_IOERR, "%s",
             e.msg[0] ? e.msg : "write failed");
        return;
    }
    if (c->out_off == c->out.len && c->out.len > 0) {
        if (c->out_secret)
            explicit_bzero(c->out.p, c->out.len);
        c->out_secret = 0;
        buf_reset(&c->out);
        c->out_off = 0;
    } else if (c->out_off > 65536 && c->out_off > c->out.len / 2 &&
               !c->out_secret) {
        memmove(c->out.p, c->out.p + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out.p[c->out.len] = '\0';
        c->out_off = 0;
    }
    mark_written(c);
}

/*---- connecting ----*/

/* peer_name - "[addr]:port" of an address. */
static void
peer_name(struct smtp_client *c, const struct addrinfo *a)
{
    char h[INET6_ADDRSTRLEN], s[16];

    if (getnameinfo(a->ai_addr, a->ai_addrlen, h, sizeof h, s, sizeof s,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(c->peer, sizeof c->peer, "[?]");
    else
        snprintf(c->peer, sizeof c->peer, "[%s]:%s", h, s);
}

/* conn_start - start a non-blocking connect to the current address or
 * the next ones; 0 when one is in progress, -1 when none is left. */
static int
conn_start(struct smtp_client *c)
{
    for (; c->ai_cur; c->ai_cur = c->ai_cur->ai_next) {
        struct addrinfo *a = c->ai_cur;
        int one = 1;

        peer_name(c, a);
        c->fd =
            socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   a->ai_protocol);
        if (c->fd == -1) {
            snprintf(c->conn_err, sizeof c->conn_err, "socket: %s",
                     strerror(errno));
            continue;
        }
        /* Commands are already coalesced into one write per group. */
        (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0 ||
            errno == EINPROGRESS) {
            c->state_deadline =
                c->now + timeout_ms(c, c->p.relay->timeout_connect);
            return 0;
        }
        snprintf(c->conn_err, sizeof c->conn_err, "connect to %s %s: %s",
                 c->host, c->peer, strerror(errno));
        close(c->fd);
        c->fd = -1;
    }
    return -1;
}

/* conn_next - this address failed: try the next or give up. */
static void
conn_next(struct smtp_client *c)
{
    if (c->fd != -1) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->ai_cur)
        c->ai_cur = c->ai_cur->ai_next;
    if (conn_start(c) == -1)
        fail(c, SMTP_FAIL_CONN, EX_TEMPFAIL, "%s", c->conn_err);
}

/* connected - TCP is up: TLS (smtps) or the greeting. */
static void
connected(struct smtp_client *c)
{
    freeaddrinfo(c->ai);
    c->ai = c->ai_cur = NULL;
    transcript(c, "connected to", c->peer, strlen(c->peer));
    if (c->p.relay->tls == CONFIG_TLS_SMTPS) {
        start_tls(c, ST_TLS_SMTPS);
        return;
    }
    set_state(c, ST_GREETING);
    expect_push(c, CMD_GREETING, -1);
    c->ex[c->ex_head].since = c->now;
}

/* handle_connect - the connect finished, failed or timed out. */
static void
handle_connect(struct smtp_client *c, short revents)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (revents & (POLLOUT | POLLERR | POLLHUP)) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
            err = errno;
        if (err == 0) {
            connected(c);
            return;
        }
        snprintf(c->conn_err, sizeof c->conn_err, "connect to %s %s: %s",
                 c->host, c->peer, strerror(err));
        conn_next(c);
        return;
    }
    if (c->now >= c->state_deadline) {
        snprintf(c->conn_err, sizeof c->conn_err, "connect to %s %s: timed out",
                 c->host, c->peer);
        conn_next(c);
    }
}

/* handle_tls - drive the handshake. */
static void
handle_tls(struct smtp_client *c)
{
    struct err e;
    int r;

    err_clear(&e);
    r = tls_handshake(c->tls, &e);
    if (r == 0) {
        tls_done(c);
        return;
    }
    if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
        c->tls_want = r == TLS_WANT_READ ? POLLIN : POLLOUT;
        if (c->now >= c->state_deadline)
            fail(c, SMTP_FAIL_TLS, EX_TEMPFAIL,
                 "TLS handshake with %s: timed out", c->host);
        return;
    }
    fail(c, SMTP_FAIL_TLS, e.kind, "%s", e.msg);
}

/*---- deadlines ----*/

/* io_deadline - the reply and write deadlines, or -1. */
static int64_t
io_deadline(const struct smtp_client *c, const char **what)
{
    int64_t d = -1;

    if (c->ex_n > 0) {
        const struct expect *x = &c->ex[c->ex_head];
        if (x->since != -1) {
            int64_t from = x->since > c->head_since ? x->since : c->head_since;
            d = from + cmd_timeout(c, x->cmd);
            *what = cmd_names[x->cmd];
        }
    }
    if (c->out_off < c->out.len && c->write_since != -1) {
        int64_t w =
            c->write_since + timeout_ms(c, c->p.relay->timeout_data_block);
        if (d == -1 || w < d) {
            d = w;
            *what = NULL;
        }
    }
    return d;
}

int64_t
smtp_client_deadline(const struct smtp_client *c)
{
    const char *what = NULL;

    switch (c->state) {
    case ST_CLOSED:
        return -1;
    case ST_CONNECT:
    case ST_TLS_SMTPS:
    case ST_TLS_START:
        return c->state_deadline;
    default:
        break;
    }
    if (c->local_pending)
        return c->now;
    return io_deadline(c, &what);
}

/* check_timeout - close the connection when its deadline has passed. */
static void
check_timeout(struct smtp_client *c)
{
    const char *what = NULL;
    int64_t d;

    if (c->state == ST_CLOSED || c->state == ST_CONNECT ||
        c->state == ST_TLS_SMTPS || c->state == ST_TLS_START)
        return;
    d = io_deadline(c, &what);
    if (d == -1 || c->now < d)
        return;
    if (what)
        fail(c, c->state == ST_QUIT ? SMTP_FAIL_NONE : SMTP_FAIL_CONN,
             EX_TEMPFAIL, "%s: timeout waiting for the reply to %s", c->host,
             what);
    else
        fail(c, c->state == ST_QUIT ? SMTP_FAIL_NONE : SMTP_FAIL_CONN,
             EX_TEMPFAIL, "%s: timeout writing to the server", c->host);
}

/*---- the public interface ----*/

/* release - free everything (the caller's free, or a deferred one). */
static void
release(struct smtp_client *c)
{
    conn_close(c);
    if (c->ai)
        freeaddrinfo(c->ai);
    if (c->own_ctx)
        tls_ctx_free(c->ctx);
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
}

struct smtp_client *
smtp_client_new(const struct smtp_params *p, const struct smtp_callbacks *cb,
                int64_t now_ms, struct err *e)
{
    const struct config_relay *r = p->relay;
    struct smtp_client *c;
    struct addrinfo hints;
    char port[16];
    int rc;

    if (r == NULL || r->host == NULL || *r->host == '\0') {
        err_set(e, EX_CONFIG, "smtp: no relay host");
        return NULL;
    }
    c = xcalloc(1, sizeof *c);
    c->p = *p;
    c->cb = *cb;
    c->host = r->host;
    c->fd = -1;
    c->now = now_ms;
    c->state = ST_CONNECT;
    if (c->p.pipeline_max <= 0)
        c->p.pipeline_max = SMTP_PIPELINE_DEFAULT;
    if (c->p.pipeline_max > SMTP_PIPELINE_MAX)
        c->p.pipeline_max = SMTP_PIPELINE_MAX;
    c->port = r->port                      ? r->port
              : r->tls == CONFIG_TLS_SMTPS ? 465
              : r->tls == CONFIG_TLS_NONE  ? 25
                                           : 587;
    buf_init(&c->in, SMTP_IN_MAX);
    buf_init(&c->out, SMTP_OUT_MAX);
    if (r->tls != CONFIG_TLS_NONE) {
        if (p->tls_ctx) {
            c->ctx = p->tls_ctx;
        } else {
            if ((c->ctx = tls_ctx_new(r->tls_verify, r->ca_file, e)) == NULL) {
                release(c);
                return NULL;
            }
            c->own_ctx = 1;
        }
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof port, "%d", c->port);
    if ((rc = getaddrinfo(c->host, port, &hints, &c->ai)) != 0) {
        err_set(e, EX_NOHOST, "cannot resolve %s: %s", c->host,
                rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        c->ai = NULL;
        release(c);
        return NULL;
    }
    c->ai_cur = c->ai;
    if (conn_start(c) == -1) {
        err_set(e, EX_TEMPFAIL, "%s", c->conn_err);
        release(c);
        return NULL;
    }
    return c;
}

void
smtp_client_free(struct smtp_client *c)
{
    if (c == NULL)
        return;
    if (c->depth > 0) {
        c->free_req = 1;
        return;
    }
    release(c);
}

int
smtp_client_fd(const struct smtp_client *c)
{
    return c->fd;
}

const char *
smtp_client_ehlo(const struct smtp_client *c)
{
    return c->ehlo;
}

short
smtp_client_events(const struct smtp_client *c)
{
    switch (c->state) {
    case ST_CLOSED:
        return 0;
    case ST_CONNECT:
        return POLLOUT;
    case ST_TLS_SMTPS:
    case ST_TLS_START:
        return c->tls_want ? c->tls_want : POLLIN;
    default:
        break;
    }
    if (c->out_off < c->out.len || c->tls_want == POLLOUT)
        return POLLIN | POLLOUT;
    return POLLIN;
}

/* deliver_local - results decided without the server (submit). */
static void
deliver_local(struct smtp_client *c)
{
    c->local_pending = 0;
    for (int i = 0; i < SMTP_PIPELINE_MAX && c->state != ST_CLOSED; i++)
        if (c->msg[i].used && c->msg[i].local)
            finish(c, &c->msg[i]);
}

void
smtp_client_handle(struct smtp_client *c, short revents, int64_t now_ms)
{
    if (c->state == ST_CLOSED)
        return;
    c->depth++;
    c->now = now_ms;
    if (c->write_since == -1)
        c->write_since = now_ms;
    /* At most a few turns, one per state change: connect -> greeting ->
     * EHLO -> STARTTLS -> handshake -> EHLO -> AUTH when the replies are
     * already waiting.  A state left over when the turns run out must
     * still be woken by poll (smtp_client_events). */
    for (int turn = 0; turn < SMTP_TURNS_MAX && c->state != ST_CLOSED; turn++) {
        enum state before = c->state;

        if (c->state == ST_CONNECT) {
            handle_connect(c, revents);
            revents = 0;
        } else if (c->state == ST_TLS_SMTPS || c->state == ST_TLS_START) {
            handle_tls(c);
        } else {
            do_write(c);
            do_read(c);
            if (c->state == ST_CLOSED)
                break;
            if (c->local_pending)
                deliver_local(c);
            if (c->state == ST_READY && c->want_ready &&
                smtp_client_capacity(c) > 0) {
                c->want_ready = 0;
                if (c->cb.ready)
                    c->cb.ready(c, c->cb.arg);
            }
            pump(c);
            do_write(c);
            check_timeout(c);
        }
        if (c->state == before)
            break;
    }
    c->depth--;
    if (c->depth == 0 && c->free_req)
        release(c);
}

int
smtp_client_capacity(const struct smtp_client *c)
{
    int max = c->p.relay->max_messages, n;

    if (c->state != ST_READY || c->quit_req)
        return 0;
    n = c->depth_max - c->nused;
    if (max > 0) {
        int queued = 0;
        for (int i = 0; i < SMTP_PIPELINE_MAX; i++)
            if (c->msg[i].used && !c->msg[i].local && c->msg[i].ncmd == 0)
                queued++;
        if (max - c->nstarted - queued < n)
            n = max - c->nstarted - queued;
    }
    return n > 0 ? n : 0;
}

int
smtp_client_submit(struct smtp_client *c, const struct smtp_msg *msg)
{
    struct xmsg *m = NULL;

    if (smtp_client_capacity(c) <= 0)
        return -1;
    for (int i = 0; i < SMTP_PIPELINE_MAX && m == NULL; i++)
        if (!c->msg[i].used)
            m = &c->msg[i];
    if (m == NULL)
        return -1;
    memset(m, 0, sizeof *m);
    m->used = 1;
    m->seq = ++c->seq;
    m->m = *msg;
    if (m->m.mail_from == NULL)
        m->m.mail_from = "";
    c->nused++;
    /* refused here, before the relay sees it: held, never a bounce (the
     * relay said nothing about the recipient) */
    if (!addr_ok(m->m.mail_from, 1, 0)) {
        decide_local(m, SMTP_HELD, SMTP_STAGE_MAIL, "",
                     "invalid envelope sender address");
    } else if (m->m.rcpt == NULL || !addr_ok(m->m.rcpt, 0, m->m.smtputf8)) {
        decide_local(m, SMTP_HELD, SMTP_STAGE_RCPT, "",
                     "recipient address cannot go on the wire");
    } else if (m->m.smtputf8 && !c->caps.smtputf8) {
        decide_local(m, SMTP_HELD, SMTP_STAGE_MAIL, "", "relay lacks SMTPUTF8");
    } else if (c->caps.size > 0 && m->m.len > (size_t)c->caps.size) {
        char why[96];
        snprintf(why, sizeof why,
                 "message of %zu octets larger than the relay's SIZE %ld",
                 m->m.len, c->caps.size);
        decide_local(m, SMTP_HELD, SMTP_STAGE_MAIL, "", why);
    } else if (m->m.len > SMTP_BODY_MAX) {
        decide_local(m, SMTP_HELD, SMTP_STAGE_MAIL, "",
                     "message larger than the client's limit");
    }
    if (m->decided) {
        m->local = 1;
        c->local_pending = 1;
        return 0;
    }
    pump(c);
    return 0;
}

void
smtp_client_quit(struct smtp_client *c)
{
    if (c->state == ST_CLOSED)
        return;
    c->quit_req = 1;
    pump(c);
}

int
smtp_client_withdraw(struct smtp_client *c, const char *why)
{
    int n = 0;

    c->depth++;
    for (int i = 0; i < SMTP_PIPELINE_MAX; i++) {
        struct xmsg *m = &c->msg[i];
        if (!m->used || m->decided || m->reached || m->ncmd > 0)
            continue;
        decide_local(m, SMTP_NOT_SENT, SMTP_STAGE_CONNECT, "", why);
        finish(c, m);
        n++;
    }
    c->depth--;
    if (c->depth == 0 && c->free_req)
        release(c);
    return n;
}

void
smtp_client_abort(struct smtp_client *c)
{
    if (c->state == ST_CLOSED)
        return;
    c->depth++;
    fail(c, SMTP_FAIL_NONE, EX_TEMPFAIL, "%s: connection aborted", c->host);
    c->depth--;
    if (c->depth == 0 && c->free_req)
        release(c);
}

const struct smtp_caps *
smtp_client_caps(const struct smtp_client *c)
{
    return &c->caps;
}
