/* SPDX-License-Identifier: ISC */
/*
 * test_smtp.c - the SMTP client (engine/smtp.c) against scripted servers.
 *
 * Each case forks a child that listens on 127.0.0.1 (port chosen by the
 * kernel) and plays a script: lines it expects from the client, replies
 * it sends, disconnects, silences.  The parent drives the client with a
 * small poll loop, bounded in iterations and in time, and checks the
 * results, the reason the connection closed, and that the child saw
 * exactly the dialogue it expected (its exit status).
 *
 * Live mode (tests/e2e/smtp_tls.bats): with SMTP_TEST_PORT set, the
 * binary instead runs one session against a real server and checks the
 * outcome the environment describes:
 *   SMTP_TEST_HOST      host (127.0.0.1)     SMTP_TEST_PORT   port
 *   SMTP_TEST_TLS       starttls|smtps|none  SMTP_TEST_VERIFY 1|0 (1)
 *   SMTP_TEST_CA        CA file              SMTP_TEST_AUTH   plain|login
 *   SMTP_TEST_USER, SMTP_TEST_PASSWORD       credentials (none: no AUTH)
 *   SMTP_TEST_COUNT     messages to send (2) SMTP_TEST_RCPT   recipient
 *   SMTP_TEST_EXPECT    none|tls|auth|conn|proto|refused: how it must end
 *   SMTP_TEST_ERR       a substring the closing error must contain
 *   SMTP_TEST_OUTCOME   sent|permfail|tempfail: every message's (sent)
 *   SMTP_TEST_PIPELINE  pipeline_max (0: the default)
 * The transcript goes to stderr.
 */
#include "th.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "smtp.h"

/*---- the scripted server (child process) ----*/

enum op {
    S_END,
    S_SEND,     /* write s */
    S_EXPECT,   /* read one line, equal to s ("...*": prefix) */
    S_BUFFERED, /* the next line is already here (pipelined), equal to s */
    S_NOTHING,  /* nothing arrives for ms */
    S_DATA,     /* read up to and including CRLF.CRLF, equal to s */
    S_EOF,      /* the client closes without sending anything more */
    S_CLOSE,    /* hang up now */
    S_RESET,    /* hang up with a TCP reset (SO_LINGER 0) */
    S_SLEEP,    /* ms */
    S_TRICKLE,  /* write s one byte every ms */
    S_BIG,      /* write "250 " and ms KiB of 'x', no line end */
};

struct step {
    enum op op;
    const char *s;
    int ms;
};

#define SEND(x)                                                                \
    {                                                                          \
        S_SEND, x, 0                                                           \
    }
#define EXPECT(x)                                                              \
    {                                                                          \
        S_EXPECT, x, 0                                                         \
    }
#define BUFFERED(x)                                                            \
    {                                                                          \
        S_BUFFERED, x, 0                                                       \
    }
#define NOTHING(ms)                                                            \
    {                                                                          \
        S_NOTHING, NULL, ms                                                    \
    }
#define DATA(x)                                                                \
    {                                                                          \
        S_DATA, x, 0                                                           \
    }
#define XEOF                                                                   \
    {                                                                          \
        S_EOF, NULL, 0                                                         \
    }
#define CLOSE                                                                  \
    {                                                                          \
        S_CLOSE, NULL, 0                                                       \
    }
#define RESET                                                                  \
    {                                                                          \
        S_RESET, NULL, 0                                                       \
    }
#define SLEEP(ms)                                                              \
    {                                                                          \
        S_SLEEP, NULL, ms                                                      \
    }
#define TRICKLE(x, ms)                                                         \
    {                                                                          \
        S_TRICKLE, x, ms                                                       \
    }
#define BIG(kib)                                                               \
    {                                                                          \
        S_BIG, NULL, kib                                                       \
    }
#define END                                                                    \
    {                                                                          \
        S_END, NULL, 0                                                         \
    }

struct srv {
    int fd;
    char buf[1 << 16];
    size_t len;
};

static void __attribute__((noreturn, format(printf, 1, 2)))
srv_die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "# server: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    _exit(1);
}

/* srv_fill - wait up to ms for more input; 1 read, 0 EOF, -1 timeout. */
static int
srv_fill(struct srv *s, int ms)
{
    struct pollfd p = {s->fd, POLLIN, 0};
    ssize_t n;

    if (s->len == sizeof s->buf)
        srv_die("input buffer full");
    if (poll(&p, 1, ms) <= 0)
        return -1;
    n = recv(s->fd, s->buf + s->len, sizeof s->buf - s->len, 0);
    if (n <= 0)
        return 0;
    s->len += (size_t)n;
    return 1;
}

/* srv_line - the next line (without CRLF) into out; may_read: wait for
 * more input if it is not complete yet. */
static void
srv_line(struct srv *s, char *out, size_t outsz, int may_read)
{
    for (;;) {
        char *nl = memchr(s->buf, '\n', s->len);
        if (nl) {
            size_t n = (size_t)(nl - s->buf), k = n;
            if (k > 0 && s->buf[k - 1] == '\r')
                k--;
            if (k >= outsz)
                srv_die("line too long");
            memcpy(out, s->buf, k);
            out[k] = '\0';
            memmove(s->buf, nl + 1, s->len - n - 1);
            s->len -= n + 1;
            return;
        }
        if (!may_read)
            srv_die("expected a pipelined line, buffer holds \"%.*s\"",
                    (int)s->len, s->buf);
        int r = srv_fill(s, 5000);
        if (r <= 0)
            srv_die("%s while waiting for a line", r == 0 ? "EOF" : "timeout");
    }
}

static void
srv_write(struct srv *s, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the client hung up: its side is being tested */
        p += w;
        n -= (size_t)w;
    }
}

static void __attribute__((noreturn))
srv_run(int lfd, const struct step *script)
{
    struct srv s;
    char line[4096];

    alarm(20);
    memset(&s, 0, sizeof s);
    if ((s.fd = accept(lfd, NULL, NULL)) == -1)
        srv_die("accept: %s", strerror(errno));
    close(lfd);
    for (const struct step *st = script; st->op != S_END; st++) {
        switch (st->op) {
        case S_SEND:
            srv_write(&s, st->s, strlen(st->s));
            break;
        case S_EXPECT:
        case S_BUFFERED: {
            size_t n = strlen(st->s);
            srv_line(&s, line, sizeof line, st->op == S_EXPECT);
            if (n > 0 && st->s[n - 1] == '*' ? strncmp(line, st->s, n - 1)
                                             : strcmp(line, st->s))
                srv_die("expected \"%s\", got \"%s\"", st->s, line);
            break;
        }
        case S_NOTHING:
            if (s.len > 0 || srv_fill(&s, st->ms) == 1)
                srv_die("expected silence, got \"%.*s\"", (int)s.len, s.buf);
            break;
        case S_DATA: {
            size_t want = strlen(st->s);
            char *end;
            while ((end = memmem(s.buf, s.len, "\r\n.\r\n", 5)) == NULL &&
                   !(s.len >= 3 && memcmp(s.buf, ".\r\n", 3) == 0))
                if (srv_fill(&s, 5000) != 1)
                    srv_die("no end of data; have %zu bytes", s.len);
            size_t n = end ? (size_t)(end - s.buf) + 5 : 3;
            if (n != want || memcmp(s.buf, st->s, n) != 0)
                srv_die("data differs: got %zu bytes \"%.*s\"", n, (int)n,
                        s.buf);
            memmove(s.buf, s.buf + n, s.len - n);
            s.len -= n;
            break;
        }
        case S_EOF:
            if (s.len > 0)
                srv_die("expected EOF, have \"%.*s\"", (int)s.len, s.buf);
            int r = srv_fill(&s, 5000);
            if (r != 0)
                srv_die("expected EOF, got %s",
                        r < 0 ? "a timeout" : "more data");
            break;
        case S_CLOSE:
            close(s.fd);
            _exit(0);
        case S_RESET: {
            struct linger lg = {1, 0};
            setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(s.fd);
            _exit(0);
        }
        case S_SLEEP:
            usleep((useconds_t)st->ms * 1000);
            break;
        case S_TRICKLE:
            for (const char *p = st->s; *p; p++) {
                srv_write(&s, p, 1);
                usleep((useconds_t)st->ms * 1000);
            }
            break;
        case S_BIG: {
            char k[1024];
            memset(k, 'x', sizeof k);
            srv_write(&s, "250 ", 4);
            for (int i = 0; i < st->ms; i++)
                srv_write(&s, k, sizeof k);
            break;
        }
        case S_END:
            break;
        }
    }
    close(s.fd);
    _exit(0);
}

/* srv_start - fork a server playing script; its port in *port. */
static pid_t
srv_start(const struct step *script, int *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int lfd;
    pid_t pid;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) == -1 ||
        listen(lfd, 1) == -1 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) == -1) {
        perror("server socket");
        exit(2);
    }
    *port = ntohs(a.sin_port);
    fflush(stdout);
    if ((pid = fork()) == -1) {
        perror("fork");
        exit(2);
    }
    if (pid == 0)
        srv_run(lfd, script);
    close(lfd);
    return pid;
}

/* srv_wait - the child's verdict: 1 when it saw the expected dialogue. */
static int
srv_wait(pid_t pid)
{
    int st;

    for (int i = 0; i < 600; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) && WEXITSTATUS(st) == 0;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    printf("# server did not finish\n");
    return 0;
}

/*---- the client side ----*/

#define RUN_MSGS_MAX 8

struct run {
    struct smtp_client *c;
    const struct smtp_msg *msgs;
    int nmsgs, next;
    int no_quit;    /* don't quit after the last result */
    int free_in_cb; /* free the client inside the closed callback */
    struct smtp_result res[RUN_MSGS_MAX + 4];
    int nres;
    int closed;
    enum smtp_fail fail;
    struct err err;
    int ready_calls;
    int64_t elapsed; /* ms from smtp_client_new to closed */
};

static void
submit_all(struct run *r)
{
    while (r->next < r->nmsgs && smtp_client_capacity(r->c) > 0)
        if (smtp_client_submit(r->c, &r->msgs[r->next]) == 0)
            r->next++;
}

static void
cb_ready(struct smtp_client *c, void *arg)
{
    struct run *r = arg;

    r->ready_calls++;
    submit_all(r);
    if (r->nres == r->next &&
        (r->next == r->nmsgs || smtp_client_capacity(c) == 0) && !r->no_quit)
        smtp_client_quit(c);
}

static void
cb_result(struct smtp_client *c, const struct smtp_result *res, void *arg)
{
    struct run *r = arg;

    (void)c;
    if (r->nres < (int)(sizeof r->res / sizeof r->res[0]))
        r->res[r->nres] = *res;
    r->nres++;
}

static void
cb_closed(struct smtp_client *c, enum smtp_fail f, const struct err *e,
          void *arg)
{
    struct run *r = arg;

    r->closed++;
    r->fail = f;
    r->err = *e;
    if (r->free_in_cb) {
        smtp_client_free(c);
        r->c = NULL;
    }
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
relay_init(struct config_relay *rl, int port)
{
    memset(rl, 0, sizeof *rl);
    rl->name = "";
    rl->host = "127.0.0.1";
    rl->port = port;
    rl->tls = CONFIG_TLS_NONE;
    rl->tls_verify = 1;
    rl->max_messages = 100;
    /* milliseconds (timeouts_in_ms) */
    rl->timeout_connect = rl->timeout_greeting = rl->timeout_mail =
        rl->timeout_rcpt = rl->timeout_data = rl->timeout_data_block =
            rl->timeout_dot = 3000;
}

/* drive - run the client until it closes; 0 if it did within limits. */
static int
drive(struct run *r, const struct smtp_params *p, int64_t limit_ms)
{
    struct smtp_callbacks cb = {cb_ready, cb_result, cb_closed, r, NULL};
    struct err e;
    int64_t start = now_ms();

    err_clear(&e);
    r->c = smtp_client_new(p, &cb, start, &e);
    if (r->c == NULL) {
        r->closed = 1;
        r->fail = SMTP_FAIL_CONN;
        r->err = e;
        return 0;
    }
    for (int i = 0; i < 100000 && !r->closed; i++) {
        int64_t now = now_ms(), d = smtp_client_deadline(r->c);
        struct pollfd pf = {smtp_client_fd(r->c), smtp_client_events(r->c), 0};
        int timeout = 200;

        if (now - start > limit_ms)
            break;
        if (d >= 0)
            timeout = d <= now ? 0 : (int)(d - now < 200 ? d - now : 200);
        if (poll(&pf, 1, timeout) == -1 && errno != EINTR)
            break;
        smtp_client_handle(r->c, pf.revents, now_ms());
    }
    r->elapsed = now_ms() - start;
    if (r->c) {
        if (!r->closed)
            printf("# client did not close within %lld ms\n",
                   (long long)limit_ms);
        smtp_client_free(r->c);
        r->c = NULL;
    }
    return r->closed ? 0 : -1;
}

/* run_case - script on a server, msgs through a client; 1 if the server
 * saw what it expected and the client closed. */
static int
run_case(const struct step *script, struct config_relay *rl,
         struct smtp_params *p, const struct smtp_msg *msgs, int n,
         struct run *r)
{
    int port;
    pid_t pid = srv_start(script, &port);
    int ok;

    memset(r, 0, sizeof *r);
    r->msgs = msgs;
    r->nmsgs = n;
    rl->port = port;
    p->relay = rl;
    p->timeouts_in_ms = 1;
    ok = drive(r, p, 10000) == 0;
    ok = srv_wait(pid) && ok;
    if (!ok)
        printf("# closed=%d fail=%s err=%s\n", r->closed,
               smtp_fail_str(r->fail), r->err.msg);
    return ok;
}

static int
has(const char *s, const char *sub)
{
    return s && strstr(s, sub) != NULL;
}

/*---- scripts ----*/

#define GREET SEND("220 test.example ESMTP\r\n"), EXPECT("EHLO *")
#define EHLO_PIPE                                                              \
    SEND("250-test.example\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"   \
         "250-8BITMIME\r\n250 AUTH=PLAIN LOGIN\r\n")
#define EHLO_PLAIN SEND("250-test.example\r\n250 8BITMIME\r\n")
#define ENVELOPE                                                               \
    EXPECT("MAIL FROM:<a@x.test>"), BUFFERED("RCPT TO:<b@y.test>"),            \
        BUFFERED("DATA")
#define ENVELOPE_PIPED                                                         \
    BUFFERED("MAIL FROM:<a@x.test>"), BUFFERED("RCPT TO:<b@y.test>"),          \
        BUFFERED("DATA")
#define OK3 SEND("250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n")
#define BODY DATA("Subject: t\r\n\r\nhello\r\n.\r\n")
#define QUIT EXPECT("QUIT"), SEND("221 2.0.0 bye\r\n")

static const struct smtp_msg msg1 = {
    1, "a@x.test", "b@y.test", "Subject: t\r\n\r\nhello\r\n", 21, 0};

static void
msgs_init(struct smtp_msg *m, int n)
{
    for (int i = 0; i < n; i++) {
        m[i] = msg1;
        m[i].cookie = (uint64_t)i + 1;
    }
}

static void
test_happy(void)
{
    static const struct step script[] = {
        GREET, EHLO_PIPE, ENVELOPE,
        OK3,   BODY,      SEND("250 2.0.0 queued as A1\r\n"),
        QUIT,  XEOF,      END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct run r;

    relay_init(&rl, 0);
    TH_CHECK(run_case(script, &rl, &p, &msg1, 1, &r),
             "pipelining: one group MAIL/RCPT/DATA, body after 354, QUIT");
    TH_CHECK(r.nres == 1 && r.res[0].outcome == SMTP_SENT &&
                 r.res[0].cookie == 1 && r.res[0].code == 250 &&
                 r.res[0].stage == SMTP_STAGE_DOT,
             "pipelining: one SENT result with code 250");
    TH_STREQ(r.res[0].status, "2.0.0", "pipelining: enhanced status");
    TH_STREQ(r.res[0].text, "queued as A1", "pipelining: reply text");
    TH_CHECK(r.closed == 1 && r.fail == SMTP_FAIL_NONE,
             "pipelining: closed once, FAIL_NONE after QUIT");
}

static void
test_caps(void)
{
    static const struct step script[] = {
        GREET,
        SEND("250-test.example greets you\r\n250-pipelining\r\n"
             "250-SIZE 35882577\r\n250-STARTTLSX\r\n250-AUTH LOGIN PLAINX "
             "PLAIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 "
             "SMTPUTF8\r\n"),
        XEOF,
        END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct run r;
    struct smtp_caps k;
    int port;
    pid_t pid = srv_start(script, &port);
    struct smtp_callbacks cb = {NULL, cb_result, cb_closed, &r, NULL};
    struct err e;
    int64_t start = now_ms();

    memset(&r, 0, sizeof r);
    relay_init(&rl, port);
    p.relay = &rl;
    p.timeouts_in_ms = 1;
    r.c = smtp_client_new(&p, &cb, start, &e);
    memset(&k, 0, sizeof k);
    for (int i = 0; i < 1000 && r.c && now_ms() - start < 5000; i++) {
        struct pollfd pf = {smtp_client_fd(r.c), smtp_client_events(r.c), 0};
        poll(&pf, 1, 100);
        smtp_client_handle(r.c, pf.revents, now_ms());
        if (smtp_client_capacity(r.c) > 0) {
            k = *smtp_client_caps(r.c);
            TH_CHECK(smtp_client_submit(r.c, &msg1) == 0 &&
                         smtp_client_capacity(r.c) == 7,
                     "capacity: 8 with PIPELINING, 7 after a submit");
            smtp_client_abort(r.c);
            break;
        }
    }
    TH_CHECK(k.esmtp && k.pipelining && k.size == 35882577 && !k.starttls &&
                 k.auth_plain && k.auth_login && k.enhancedstatuscodes &&
                 k.eightbitmime && !k.tls_active,
             "EHLO keywords parsed word by word (STARTTLSX, PLAINX ignored)");
    TH_CHECK(r.nres == 1 && r.res[0].outcome == SMTP_NOT_SENT,
             "abort: the queued message is NOT_SENT");
    TH_CHECK(r.closed == 1, "abort: closed callback once");
    smtp_client_free(r.c);
    srv_wait(pid);
}

static void
test_lockstep(void)
{
    static const struct step script[] = {
        GREET,
        EHLO_PLAIN,
        EXPECT("MAIL FROM:<a@x.test>"),
        NOTHING(150),
        SEND("250 ok\r\n"),
        EXPECT("RCPT TO:<b@y.test>"),
        NOTHING(150),
        SEND("250 ok\r\n"),
        EXPECT("DATA"),
        NOTHING(100),
        SEND("354 go\r\n"),
        BODY,
        SEND("250 ok\r\n"),
        /* second message: MAIL refused, RSET, third message */
        EXPECT("MAIL FROM:<a@x.test>"),
        SEND("553 5.1.8 sender refused\r\n"),
        EXPECT("RSET"),
        NOTHING(100),
        SEND("250 ok\r\n"),
        EXPECT("MAIL FROM:<a@x.test>"),
        SEND("250 ok\r\n"),
        EXPECT("RCPT TO:<b@y.test>"),
        SEND("250 ok\r\n"),
        EXPECT("DATA"),
        SEND("354 go\r\n"),
        BODY,
        SEND("250 ok\r\n"),
        QUIT,
        END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m[3];
    struct run r;

    msgs_init(m, 3);
    relay_init(&rl, 0);
    TH_CHECK(run_case(script, &rl, &p, m, 3, &r),
             "no PIPELINING: lock-step, RSET after a refused MAIL");
    TH_CHECK(r.nres == 3 && r.res[0].outcome == SMTP_SENT &&
                 r.res[1].outcome == SMTP_PERMFAIL &&
                 r.res[1].stage == SMTP_STAGE_MAIL && r.res[1].code == 553 &&
                 r.res[2].outcome == SMTP_SENT && r.res[1].cookie == 2,
             "no PIPELINING: SENT, PERMFAIL at MAIL, SENT");
}

static void
test_several(void)
{
    /* max_messages 3: five offered, three taken; the envelope of each
     * next message follows the previous dot in the same write. */
    static const struct step script[] = {
        GREET,
        EHLO_PIPE,
        ENVELOPE,
        OK3,
        BODY,
        ENVELOPE_PIPED,
        SEND("250 2.0.0 one\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
        BODY,
        ENVELOPE_PIPED,
        SEND("250 2.0.0 two\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
        BODY,
        SEND("250 2.0.0 three\r\n"),
        QUIT,
        XEOF,
        END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m[5];
    struct run r;

    msgs_init(m, 5);
    relay_init(&rl, 0);
    rl.max_messages = 3;
    TH_CHECK(run_case(script, &rl, &p, m, 5, &r),
             "several messages pipelined on one connection");
    TH_CHECK(r.next == 3 && r.nres == 3 && r.res[0].cookie == 1 &&
                 r.res[1].cookie == 2 && r.res[2].cookie == 3 &&
                 r.res[0].outcome == SMTP_SENT &&
                 r.res[1].outcome == SMTP_SENT && r.res[2].outcome == SMTP_SENT,
             "max_messages 3: three taken, three SENT results in order");
    TH_STREQ(r.res[2].text, "three", "third result is the third reply");
    TH_CHECK(r.closed == 1 && r.fail == SMTP_FAIL_NONE,
             "QUIT after max_messages, FAIL_NONE");
}

static void
test_dots(void)
{
    static const char body[] = ".first\r\nSubject: dots\r\n\r\n.leading\r\n"
                               "middle\r\n.\r\nafter\r\n..two\r\nbare\nlf\r"
                               "cr\r\n\r\n.\n.\r.end";
    static const struct step script[] = {
        GREET,
        EHLO_PIPE,
        ENVELOPE,
        OK3,
        DATA("..first\r\nSubject: dots\r\n\r\n..leading\r\nmiddle\r\n..\r\n"
             "after\r\n...two\r\nbare\r\nlf\r\ncr\r\n\r\n..\r\n..\r\n..end"
             "\r\n.\r\n"),
        SEND("250 ok\r\n"),
        QUIT,
        END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m = msg1;
    struct run r;

    m.data = body;
    m.len = sizeof body - 1;
    relay_init(&rl, 0);
    TH_CHECK(run_case(script, &rl, &p, &m, 1, &r),
             "dot-stuffing: leading dots doubled, CRLF.CRLF inside the "
             "body kept as data, bare CR/LF made CRLF, final CRLF added");
    TH_CHECK(r.nres == 1 && r.res[0].outcome == SMTP_SENT,
             "dot-stuffing: one message SENT");
}

static void
test_rcpt_fail(void)
{
    static const struct step script[] = {
        GREET,
        EHLO_PIPE,
        ENVELOPE,
        SEND("250 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid "
             "recipients\r\n"),
        /* message 2: RSET first, in the same group */
        EXPECT("RSET"),
        ENVELOPE_PIPED,
        SEND("250 flushed\r\n250 ok\r\n451 4.7.1 try later\r\n554 no\r\n"),
        EXPECT("RSET"),
        ENVELOPE_PIPED,
        /* message 3: RCPT refused but DATA accepted: a lone dot */
        SEND("250 flushed\r\n250 ok\r\n550 5.1.1 nope\r\n354 go\r\n"),
        DATA(".\r\n"),
        ENVELOPE_PIPED, /* the lone dot ended that transaction */
        SEND("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
        BODY,
        SEND("250 ok\r\n"),
        QUIT,
        END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m[4];
    struct run r;

    msgs_init(m, 4);
    relay_init(&rl, 0);
    TH_CHECK(run_case(script, &rl, &p, m, 4, &r),
             "RCPT 5xx/4xx: DATA reply consumed, no body, RSET before the "
             "next transaction");
    TH_CHECK(r.nres == 4 && r.res[0].outcome == SMTP_PERMFAIL &&
                 r.res[0].stage == SMTP_STAGE_RCPT && r.res[0].code == 550 &&
                 strcmp(r.res[0].status, "5.1.1") == 0 &&
                 r.res[1].outcome == SMTP_TEMPFAIL && r.res[1].code == 451 &&
                 r.res[1].stage == SMTP_STAGE_RCPT &&
                 r.res[2].outcome == SMTP_PERMFAIL &&
                 r.res[2].stage == SMTP_STAGE_RCPT &&
                 r.res[3].outcome == SMTP_SENT,
             "RCPT: PERMFAIL 550 5.1.1, TEMPFAIL 451, PERMFAIL (lone dot), "
             "SENT");
    TH_STREQ(r.res[0].text, "no such user", "RCPT: text without status");
}

static void
test_dot_fail(void)
{
    static const struct step script[] = {
        GREET,
        EHLO_PIPE,
        ENVELOPE,
        OK3,
        BODY,
        ENVELOPE_PIPED, /* no RSET after a refused dot */
        SEND("552 5.3.4 too big\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
        BODY,
        SEND("451 4.3.0 queue trouble\r\n"),
        QUIT,
        END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m[2];
    struct run r;

    msgs_init(m, 2);
    relay_init(&rl, 0);
    TH_CHECK(run_case(script, &rl, &p, m, 2, &r),
             "4xx/5xx to the dot: next transaction without RSET");
    TH_CHECK(r.nres == 2 && r.res[0].outcome == SMTP_PERMFAIL &&
                 r.res[0].stage == SMTP_STAGE_DOT && r.res[0].code == 552 &&
                 r.res[1].outcome == SMTP_TEMPFAIL &&
                 r.res[1].stage == SMTP_STAGE_DOT &&
                 strcmp(r.res[1].status, "4.3.0") == 0,
             "dot: PERMFAIL 552 5.3.4, TEMPFAIL 451 4.3.0");
}

static void
test_421(void)
{
    static const struct step script[] = {
        GREET,
        EHLO_PIPE,
        ENVELOPE,
        OK3,
        BODY,
        ENVELOPE_PIPED,
        SEND("250 ok\r\n250 ok\r\n421 4.7.0 closing, too busy\r\n"),
        XEOF,
        END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m[3];
    struct run r;

    msgs_init(m, 3);
    relay_init(&rl, 0);
    p.pipeline_max = 2;
    /* free the client inside its closed callback (deferred free) */
    int port;
    pid_t pid = srv_start(script, &port);
    memset(&r, 0, sizeof r);
    r.msgs = m;
    r.nmsgs = 3;
    r.free_in_cb = 1;
    rl.port = port;
    p.relay = &rl;
    p.timeouts_in_ms = 1;
    int ok = drive(&r, &p, 10000) == 0;
    TH_CHECK(srv_wait(pid) && ok, "421 mid-session: the client hangs up");
    TH_CHECK(r.nres == 2 && r.res[0].outcome == SMTP_SENT &&
                 r.res[1].outcome == SMTP_TEMPFAIL && r.res[1].code == 421 &&
                 r.res[1].stage == SMTP_STAGE_RCPT,
             "421: first SENT, second TEMPFAIL 421 at RCPT");
    TH_CHECK(r.closed == 1 && r.fail == SMTP_FAIL_REFUSED &&
                 has(r.err.msg, "421"),
             "421: FAIL_REFUSED naming the reply (%s)", r.err.msg);
    TH_CHECK(r.next == 2, "421: the third message was never taken");
}

static void
test_421_queued(void)
{
    /* A message only queued locally when the 421 comes is NOT_SENT. */
    static const struct step script[] = {
        GREET, EHLO_PIPE, ENVELOPE, SEND("421 4.3.2 shutting down\r\n"),
        XEOF,  END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m[2];
    struct run r;

    msgs_init(m, 2);
    relay_init(&rl, 0);
    TH_CHECK(run_case(script, &rl, &p, m, 2, &r), "421 to MAIL");
    TH_CHECK(r.nres == 2 && r.res[0].outcome == SMTP_TEMPFAIL &&
                 r.res[0].code == 421 && r.res[0].stage == SMTP_STAGE_MAIL &&
                 r.res[1].outcome == SMTP_NOT_SENT &&
                 r.fail == SMTP_FAIL_REFUSED,
             "421: TEMPFAIL for the message on the wire, NOT_SENT for the "
             "one queued behind its DATA, FAIL_REFUSED");
}

static void
test_data_fail(void)
{
    static const struct step script[] = {
        GREET,
        EHLO_PIPE,
        ENVELOPE,
        SEND("250 ok\r\n250 ok\r\n554 5.7.1 DATA refused\r\n"),
        EXPECT("RSET"),
        ENVELOPE_PIPED,
        SEND("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
        BODY,
        SEND("250 ok\r\n"),
        QUIT,
        END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m[2];
    struct run r;

    msgs_init(m, 2);
    relay_init(&rl, 0);
    TH_CHECK(run_case(script, &rl, &p, m, 2, &r) && r.nres == 2 &&
                 r.res[0].outcome == SMTP_PERMFAIL &&
                 r.res[0].stage == SMTP_STAGE_DATA &&
                 strcmp(r.res[0].status, "5.7.1") == 0 &&
                 r.res[1].outcome == SMTP_SENT,
             "DATA 554: PERMFAIL at DATA, no body, RSET, next SENT");
}

static void
test_idle(void)
{
    static const struct step idle421[] = {
        GREET, EHLO_PIPE, SLEEP(100), SEND("421 4.4.2 idle too long\r\n"),
        XEOF,  END,
    };
    static const struct step idle250[] = {
        GREET, EHLO_PIPE, SLEEP(100), SEND("250 surprise\r\n"), XEOF, END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct run r;
    int port;
    pid_t pid;

    for (int i = 0; i < 2; i++) {
        relay_init(&rl, 0);
        pid = srv_start(i == 0 ? idle421 : idle250, &port);
        memset(&r, 0, sizeof r);
        r.no_quit = 1;
        rl.port = port;
        p.relay = &rl;
        p.timeouts_in_ms = 1;
        int ok = drive(&r, &p, 5000) == 0;
        ok = srv_wait(pid) && ok;
        if (i == 0)
            TH_CHECK(ok && r.fail == SMTP_FAIL_REFUSED &&
                         has(r.err.msg, "421 4.4.2 idle too long"),
                     "idle connection, unsolicited 421: FAIL_REFUSED (%s)",
                     r.err.msg);
        else
            TH_CHECK(
                ok && r.fail == SMTP_FAIL_PROTO && has(r.err.msg, "surplus"),
                "idle connection, unsolicited 250: FAIL_PROTO (%s)", r.err.msg);
    }
}

static void
test_stuck_write(void)
{
    /* The server never reads: the body cannot be written, the data
     * block timeout fires, the message was not sent. */
    static const struct step script[] = {
        GREET, EHLO_PIPE, ENVELOPE, OK3, SLEEP(2000), END,
    };
    size_t n = (size_t)24 * 1024 * 1024;
    char *big = malloc(n);
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m = msg1;
    struct run r;

    for (size_t i = 0; i < n; i++)
        big[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : 'a';
    m.data = big;
    m.len = n;
    relay_init(&rl, 0);
    rl.timeout_data_block = 300;
    TH_CHECK(run_case(script, &rl, &p, &m, 1, &r) && r.fail == SMTP_FAIL_CONN &&
                 r.nres == 1 && r.res[0].outcome == SMTP_NOT_SENT &&
                 has(r.err.msg, "timeout writing"),
             "server stops reading: write timeout, NOT_SENT (%s)", r.err.msg);
    TH_CHECK(r.elapsed < 1800, "stuck write: closed after %lld ms",
             (long long)r.elapsed);
    free(big);
}

static void
test_drops(void)
{
    static const struct step before[] = {
        GREET, EHLO_PIPE, ENVELOPE, SEND("250 ok\r\n250 ok\r\n"), CLOSE, END,
    };
    static const struct step after[] = {
        GREET, EHLO_PIPE, ENVELOPE, OK3, BODY, CLOSE, END,
    };
    static const struct step mid[] = {
        GREET, EHLO_PIPE, ENVELOPE, OK3, BODY, SEND("250-2.0.0 part"),
        CLOSE, END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct run r;

    relay_init(&rl, 0);
    TH_CHECK(run_case(before, &rl, &p, &msg1, 1, &r),
             "drop before the dot: script");
    TH_CHECK(r.nres == 1 && r.res[0].outcome == SMTP_NOT_SENT &&
                 r.fail == SMTP_FAIL_CONN,
             "drop before the dot: NOT_SENT, FAIL_CONN (%s)", r.err.msg);
    TH_CHECK(has(r.err.msg, "127.0.0.1 closed the connection while we waited "
                            "for the reply to DATA (after its last reply "
                            "\"250 ok\")"),
             "drop before the dot: the server's close with its last reply "
             "(%s)",
             r.err.msg);
    TH_CHECK(run_case(after, &rl, &p, &msg1, 1, &r),
             "drop after the dot: script");
    TH_CHECK(r.nres == 1 && r.res[0].outcome == SMTP_UNCERTAIN &&
                 r.res[0].stage == SMTP_STAGE_DOT && r.fail == SMTP_FAIL_CONN,
             "drop after the dot: UNCERTAIN, FAIL_CONN (%s)", r.err.msg);
    TH_CHECK(run_case(mid, &rl, &p, &msg1, 1, &r),
             "drop in the middle of the dot's reply: script");
    TH_CHECK(r.nres == 1 && r.res[0].outcome == SMTP_UNCERTAIN,
             "drop mid-reply after the dot: UNCERTAIN (%s)", r.err.msg);
    TH_CHECK(has(r.err.msg, "(after its last reply \"354 go ahead\"; in the "
                            "middle of a reply: \"250-2.0.0 part\")"),
             "drop mid-reply: the last reply and the partial one named (%s)",
             r.err.msg);
}

/* A reset is the server's close like an end of stream (issue 9): named
 * so, with the last reply, the system error only as detail; the outcome
 * is a closed connection's. */
static void
test_resets(void)
{
    static const struct step rcpt[] = {
        GREET,      EHLO_PIPE, ENVELOPE, SEND("250 2.1.0 ok\r\n"),
        SLEEP(100), RESET,     END,
    };
    /* reset while the client writes a body the server does not read:
     * noticed by the write (ECONNRESET, then EPIPE) or by the read */
    static const struct step body[] = {
        GREET, EHLO_PIPE, ENVELOPE, OK3, SLEEP(200), RESET, END,
    };
    size_t n = (size_t)8 * 1024 * 1024;
    char *big = malloc(n);
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m = msg1;
    struct run r;

    relay_init(&rl, 0);
    TH_CHECK(run_case(rcpt, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_CONN && r.nres == 1 &&
                 r.res[0].outcome == SMTP_NOT_SENT,
             "reset at RCPT: FAIL_CONN, NOT_SENT (%s)", r.err.msg);
    TH_STREQ(r.err.msg,
             "127.0.0.1 closed the connection while we waited for the reply "
             "to RCPT TO (after its last reply \"250 2.1.0 ok\"; read: "
             "Connection reset by peer)",
             "reset at RCPT: the server's close, the reset as detail");
    for (size_t i = 0; i < n; i++)
        big[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : 'a';
    m.data = big;
    m.len = n;
    TH_CHECK(run_case(body, &rl, &p, &m, 1, &r) && r.fail == SMTP_FAIL_CONN &&
                 r.nres == 1 && r.res[0].outcome == SMTP_NOT_SENT,
             "reset during the body: FAIL_CONN, NOT_SENT (%s)", r.err.msg);
    TH_CHECK(has(r.err.msg, "127.0.0.1 closed the connection while we waited "
                            "for the reply to the final dot (after its last "
                            "reply \"354 go ahead\"; "),
             "reset during the body: the server's close (%s)", r.err.msg);
    TH_CHECK(has(r.err.msg, "write: Connection reset by peer)") ||
                 has(r.err.msg, "write: Broken pipe)") ||
                 has(r.err.msg, "read: Connection reset by peer)"),
             "reset during the body: the system error as detail (%s)",
             r.err.msg);
    free(big);
}

static void
test_protocol_errors(void)
{
    static const struct step garbage[] = {
        GREET, EHLO_PIPE, ENVELOPE, SEND("250 ok\r\nhello world\r\n"),
        XEOF,  END,
    };
    static const struct step mixed[] = {
        GREET, EHLO_PIPE, ENVELOPE, SEND("250-ok\r\n550 no\r\n"), XEOF, END,
    };
    static const struct step surplus[] = {
        GREET,
        EHLO_PLAIN,
        EXPECT("MAIL FROM:<a@x.test>"),
        SEND("250 ok\r\n250 ok\r\n"),
        XEOF,
        END,
    };
    static const struct step surplus_greeting[] = {
        SEND("220 hi\r\n250 surprise\r\n"),
        XEOF,
        END,
    };
    static const struct step code600[] = {
        SEND("220 hi\r\n"), EXPECT("EHLO *"), SEND("600 what\r\n"), XEOF, END,
    };
    static const struct step bigline[] = {
        SEND("220 hi\r\n"),
        EXPECT("EHLO *"),
        BIG(1024),
        END,
    };
    static const struct step after_dot[] = {
        GREET, EHLO_PIPE, ENVELOPE, OK3, BODY, SEND("2x0 ok\r\n"), XEOF, END,
    };
    /* replies out of order (smtp-sink -W RCPT:1 answers the pipelined
     * DATA first): never a bounce */
    static const struct step early503[] = {
        GREET,
        EHLO_PIPE,
        ENVELOPE,
        SEND("250 2.1.0 ok\r\n503 5.5.1 Error: need RCPT command\r\n"
             "250 2.1.5 ok\r\n"),
        XEOF,
        END,
    };
    static const struct step rcpt550_then_250[] = {
        GREET,
        EHLO_PIPE,
        ENVELOPE,
        SEND("250 2.1.0 ok\r\n550 5.1.1 no such user\r\n250 2.1.5 ok\r\n"),
        XEOF,
        END,
    };
    static char many[128 * 8 + 64];
    const struct step toomany[] = {
        SEND("220 hi\r\n"), EXPECT("EHLO *"), SEND(many), XEOF, END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct run r;

    many[0] = '\0';
    for (int i = 0; i < SMTP_REPLY_LINES_MAX; i++)
        strcat(many, "250-cap\r\n");
    strcat(many, "250 last\r\n");
    relay_init(&rl, 0);
    TH_CHECK(run_case(toomany, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_PROTO && has(r.err.msg, "lines"),
             "EHLO reply of %d lines: FAIL_PROTO (%s)",
             SMTP_REPLY_LINES_MAX + 1, r.err.msg);
    TH_CHECK(run_case(garbage, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_PROTO && r.nres == 1 &&
                 r.res[0].outcome == SMTP_NOT_SENT &&
                 has(r.err.msg, "malformed"),
             "garbage reply: FAIL_PROTO, NOT_SENT (%s)", r.err.msg);
    TH_CHECK(run_case(mixed, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_PROTO && r.nres == 1 &&
                 r.res[0].outcome == SMTP_NOT_SENT &&
                 has(r.err.msg, "different codes"),
             "mixed-code continuation: FAIL_PROTO (%s)", r.err.msg);
    TH_CHECK(run_case(surplus, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_PROTO && r.nres == 1 &&
                 r.res[0].outcome == SMTP_NOT_SENT && has(r.err.msg, "surplus"),
             "surplus reply (not pipelining): FAIL_PROTO (%s)", r.err.msg);
    TH_CHECK(run_case(surplus_greeting, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_PROTO && r.nres == 0,
             "surplus reply after the greeting: FAIL_PROTO, no EHLO sent "
             "(%s)",
             r.err.msg);
    TH_CHECK(run_case(code600, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_PROTO,
             "reply code 600: FAIL_PROTO (%s)", r.err.msg);
    TH_CHECK(run_case(bigline, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_PROTO && has(r.err.msg, "longer than"),
             "1 MB reply line: FAIL_PROTO (%s)", r.err.msg);
    TH_CHECK(r.elapsed < 2000, "1 MB reply line: fails fast (%lld ms)",
             (long long)r.elapsed);
    TH_CHECK(run_case(after_dot, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_PROTO && r.nres == 1 &&
                 r.res[0].outcome == SMTP_UNCERTAIN,
             "garbage after the dot: UNCERTAIN, never SENT (%s)", r.err.msg);
    TH_CHECK(run_case(early503, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_PROTO && r.nres == 1 &&
                 r.res[0].outcome == SMTP_NOT_SENT &&
                 has(r.err.msg, "out of sequence at RCPT TO: 503"),
             "503 to RCPT after MAIL 250: FAIL_PROTO, NOT_SENT, not a bounce "
             "(%s)",
             r.err.msg);
    TH_CHECK(run_case(rcpt550_then_250, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_PROTO && r.nres == 1 &&
                 r.res[0].outcome == SMTP_NOT_SENT &&
                 has(r.err.msg, "unexpected reply to DATA"),
             "550 to RCPT, then 250 to DATA: out of step, the 550 is not "
             "recorded (%s)",
             r.err.msg);
}

static void
test_timeouts(void)
{
    static const struct step silent[] = {SLEEP(1500), END};
    static const struct step trickle[] = {
        TRICKLE("220 hello there, this is a slow server\r\n", 40), END};
    static const struct step mail[] = {
        GREET, EHLO_PIPE, EXPECT("MAIL FROM:<a@x.test>"), SLEEP(1500), END,
    };
    static const struct step dot[] = {
        GREET, EHLO_PIPE, ENVELOPE, OK3, BODY, SLEEP(1500), END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct run r;

    relay_init(&rl, 0);
    rl.timeout_greeting = 400;
    TH_CHECK(run_case(silent, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_CONN && has(r.err.msg, "timeout") &&
                 has(r.err.msg, "greeting"),
             "silent server: greeting timeout (%s)", r.err.msg);
    TH_CHECK(r.elapsed >= 400 && r.elapsed < 1400,
             "silent server: closed after %lld ms", (long long)r.elapsed);
    TH_CHECK(run_case(trickle, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_CONN && has(r.err.msg, "timeout"),
             "one byte at a time: the deadline is not reset by input (%s)",
             r.err.msg);
    TH_CHECK(r.elapsed >= 400 && r.elapsed < 1400,
             "trickle: closed after %lld ms", (long long)r.elapsed);
    relay_init(&rl, 0);
    rl.timeout_mail = 300;
    TH_CHECK(run_case(mail, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_CONN && r.nres == 1 &&
                 r.res[0].outcome == SMTP_NOT_SENT &&
                 has(r.err.msg, "MAIL FROM"),
             "no reply to MAIL: timeout, NOT_SENT (%s)", r.err.msg);
    relay_init(&rl, 0);
    rl.timeout_dot = 300;
    TH_CHECK(run_case(dot, &rl, &p, &msg1, 1, &r) && r.fail == SMTP_FAIL_CONN &&
                 r.nres == 1 && r.res[0].outcome == SMTP_UNCERTAIN &&
                 has(r.err.msg, "dot"),
             "no reply to the dot: timeout, UNCERTAIN (%s)", r.err.msg);
}

static void
test_starttls(void)
{
    static const struct step missing[] = {
        GREET,
        SEND("250-test.example\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n"),
        XEOF,
        END,
    };
    static const struct step inject[] = {
        GREET,
        SEND("250-test.example\r\n250-STARTTLS\r\n250 PIPELINING\r\n"),
        EXPECT("STARTTLS"),
        SEND("220 2.0.0 ready\r\n250-injected\r\n"),
        XEOF,
        END,
    };
    static const struct step refused[] = {
        GREET,
        SEND("250-test.example\r\n250 STARTTLS\r\n"),
        EXPECT("STARTTLS"),
        SEND("454 4.7.0 TLS not available\r\n"),
        XEOF,
        END,
    };
    static const struct step not_tls[] = {
        GREET,
        SEND("250-test.example\r\n250 STARTTLS\r\n"),
        EXPECT("STARTTLS"),
        SEND("220 2.0.0 ready\r\n"),
        SLEEP(200),
        SEND("this is not TLS at all\r\n"),
        SLEEP(300),
        END,
    };
    static const struct step hang[] = {
        GREET,
        SEND("250-test.example\r\n250 STARTTLS\r\n"),
        EXPECT("STARTTLS"),
        SEND("220 2.0.0 ready\r\n"),
        SLEEP(1500),
        END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct run r;

    relay_init(&rl, 0);
    rl.tls = CONFIG_TLS_STARTTLS;
    rl.tls_verify = 0;
    rl.username = "user";
    p.password = "secret";
    TH_CHECK(run_case(missing, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_TLS && has(r.err.msg, "STARTTLS") &&
                 r.nres == 0,
             "STARTTLS not offered: FAIL_TLS, no AUTH, nothing sent (%s)",
             r.err.msg);
    TH_CHECK(run_case(inject, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_TLS && has(r.err.msg, "injection"),
             "STARTTLS injection: aborted with nothing sent (%s)", r.err.msg);
    TH_CHECK(run_case(refused, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_TLS && has(r.err.msg, "454"),
             "STARTTLS refused: FAIL_TLS with the reply (%s)", r.err.msg);
    TH_CHECK(run_case(not_tls, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_TLS &&
                 has(r.err.msg, "TLS handshake with 127.0.0.1"),
             "plaintext instead of a TLS handshake: FAIL_TLS (%s)", r.err.msg);
    rl.timeout_greeting = 300;
    TH_CHECK(run_case(hang, &rl, &p, &msg1, 1, &r) && r.fail == SMTP_FAIL_TLS &&
                 has(r.err.msg, "timed out") && r.elapsed < 1400,
             "silent TLS handshake: timeout (%s)", r.err.msg);
}

/* capture - stderr to a file while f runs; the file's text in out. */
static void
capture_start(FILE **f, int *saved)
{
    fflush(stderr);
    *f = tmpfile();
    *saved = dup(2);
    dup2(fileno(*f), 2);
}

static void
capture_end(FILE *f, int saved, char *out, size_t n)
{
    size_t got;

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    fclose(f);
}

static void
test_auth(void)
{
    static const struct step plain_ok[] = {
        GREET,
        EHLO_PIPE,
        EXPECT("AUTH PLAIN AHVzZXIAc2VjcmV0"),
        SEND("235 2.7.0 accepted\r\n"),
        QUIT,
        END,
    };
    static const struct step plain_bad[] = {
        GREET,
        EHLO_PIPE,
        EXPECT("AUTH PLAIN AHVzZXIAd3Jvbmc="),
        SEND("535 5.7.8 Authentication credentials invalid\r\n"),
        XEOF,
        END,
    };
    static const struct step login_ok[] = {
        GREET,
        SEND("250-test.example\r\n250 AUTH LOGIN\r\n"),
        EXPECT("AUTH LOGIN"),
        SEND("334 VXNlcm5hbWU6\r\n"),
        EXPECT("dXNlcg=="),
        SEND("334 UGFzc3dvcmQ6\r\n"),
        EXPECT("c2VjcmV0"),
        SEND("235 2.7.0 ok\r\n"),
        EXPECT("MAIL FROM:<a@x.test>"),
        SEND("250 ok\r\n"),
        EXPECT("RCPT TO:<b@y.test>"),
        SEND("250 ok\r\n"),
        EXPECT("DATA"),
        SEND("354 go\r\n"),
        BODY,
        SEND("250 ok\r\n"),
        QUIT,
        END,
    };
    static const struct step login_bad[] = {
        GREET,
        EHLO_PIPE, /* offers PLAIN too: auth = login forces LOGIN */
        EXPECT("AUTH LOGIN"),
        SEND("334 VXNlcm5hbWU6\r\n"),
        EXPECT("dXNlcg=="),
        SEND("334 UGFzc3dvcmQ6\r\n"),
        EXPECT("d3Jvbmc="),
        SEND("535 5.7.8 bad credentials\r\n"),
        XEOF,
        END,
    };
    static const struct step none[] = {
        GREET,
        SEND("250-test.example\r\n250 PIPELINING\r\n"),
        XEOF,
        END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct run r;
    FILE *f;
    int saved;
    char out[8192];

    relay_init(&rl, 0);
    rl.username = "user";
    p.password = "secret";
    p.transcript = 1;
    capture_start(&f, &saved);
    int ok = run_case(plain_ok, &rl, &p, NULL, 0, &r);
    capture_end(f, saved, out, sizeof out);
    TH_CHECK(ok && r.fail == SMTP_FAIL_NONE,
             "AUTH PLAIN with tls = none: accepted (%s)", r.err.msg);
    TH_CHECK(has(out, "smtp 127.0.0.1: > AUTH PLAIN <redacted>") &&
                 has(out, "smtp 127.0.0.1: > EHLO ") &&
                 has(out, "smtp 127.0.0.1: < 235 2.7.0 accepted"),
             "transcript: dialogue shown, AUTH redacted");
    TH_CHECK(!has(out, "AHVzZXIAc2VjcmV0") && !has(out, "secret"),
             "transcript: neither the password nor its base64");
    p.transcript = 0;
    p.password = "wrong";
    TH_CHECK(
        run_case(plain_bad, &rl, &p, &msg1, 1, &r) &&
            r.fail == SMTP_FAIL_AUTH &&
            has(r.err.msg, "535 5.7.8 Authentication credentials invalid") &&
            r.nres == 0,
        "AUTH PLAIN 535: FAIL_AUTH with the reply, no retry (%s)", r.err.msg);
    p.password = "secret";
    TH_CHECK(run_case(login_ok, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_NONE && r.nres == 1 &&
                 r.res[0].outcome == SMTP_SENT,
             "AUTH LOGIN (only LOGIN offered), then a message (%s)", r.err.msg);
    rl.auth = "login";
    p.password = "wrong";
    TH_CHECK(run_case(login_bad, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_AUTH && has(r.err.msg, "535"),
             "AUTH LOGIN forced, 535: FAIL_AUTH (%s)", r.err.msg);
    rl.auth = NULL;
    p.password = "secret";
    TH_CHECK(run_case(none, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_AUTH && has(r.err.msg, "AUTH"),
             "password set, no AUTH offered: FAIL_AUTH (%s)", r.err.msg);
}

static void
test_setup(void)
{
    static const struct step helo[] = {
        GREET,
        SEND("502 5.5.2 command not recognized\r\n"),
        EXPECT("HELO *"),
        SEND("250 hello\r\n"),
        EXPECT("MAIL FROM:<a@x.test>"),
        SEND("250 ok\r\n"),
        EXPECT("RCPT TO:<b@y.test>"),
        SEND("250 ok\r\n"),
        EXPECT("DATA"),
        SEND("354 go\r\n"),
        BODY,
        SEND("250 ok\r\n"),
        QUIT,
        END,
    };
    static const struct step refused[] = {
        SEND("554 5.7.1 no mail from you\r\n"),
        XEOF,
        END,
    };
    static const struct step multiline[] = {
        GREET,
        EHLO_PIPE,
        ENVELOPE,
        SEND("250 ok\r\n550-5.1.1 first line\r\n550-5.1.1 bad\x01\x1b[31m"
             "\r\n550 5.1.1 last\r\n554 no\r\n"),
        QUIT,
        END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct run r;

    relay_init(&rl, 0);
    p.helo = "client.example";
    TH_CHECK(run_case(helo, &rl, &p, &msg1, 1, &r) && r.nres == 1 &&
                 r.res[0].outcome == SMTP_SENT,
             "EHLO 502: HELO fallback, lock-step transaction");
    TH_CHECK(run_case(refused, &rl, &p, &msg1, 1, &r) &&
                 r.fail == SMTP_FAIL_REFUSED && has(r.err.msg, "554"),
             "greeting 554: FAIL_REFUSED (%s)", r.err.msg);
    TH_CHECK(run_case(multiline, &rl, &p, &msg1, 1, &r) && r.nres == 1 &&
                 r.res[0].code == 550,
             "multi-line RCPT reply");
    TH_STREQ(r.res[0].text, "first line bad\\x01\\x1b[31m last",
             "multi-line reply: lines joined, status once, escaped");
}

static void
test_envelope_checks(void)
{
    static const struct step script[] = {
        GREET,
        SEND("250-test.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"),
        EXPECT("MAIL FROM:<a@x.test> SIZE=21"),
        BUFFERED("RCPT TO:<b@y.test>"),
        BUFFERED("DATA"),
        OK3,
        BODY,
        SEND("250 ok\r\n"),
        QUIT,
        END,
    };
    static char big[2000];
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m[4];
    struct run r;

    msgs_init(m, 4);
    m[0].rcpt = "b@y.test>\r\nRCPT TO:<evil@z.test";
    m[1].mail_from = "a b@x.test";
    memset(big, 'a', sizeof big);
    m[2].data = big;
    m[2].len = sizeof big;
    relay_init(&rl, 0);
    TH_CHECK(run_case(script, &rl, &p, m, 4, &r),
             "bad envelope and oversized messages never reach the server");
    int perm = 0, sent = 0;
    for (int i = 0; i < r.nres && i < 4; i++) {
        if (r.res[i].outcome == SMTP_HELD && r.res[i].code == 0)
            perm++;
        if (r.res[i].outcome == SMTP_SENT && r.res[i].cookie == 4)
            sent++;
    }
    TH_CHECK(r.nres == 4 && perm == 3 && sent == 1,
             "CR/LF in RCPT, space in MAIL, over SIZE: HELD here, never a "
             "bounce; the good one SENT with SIZE=");
}

/* RFC 6531: a UTF-8 mailbox goes with SMTPUTF8 (and BODY=8BITMIME) to a
 * relay that offers it; to one that does not, it is held, unsaid; an
 * ASCII message on the same connection is sent as ever. */
static void
test_smtputf8(void)
{
    static const struct step offers[] = {
        GREET,
        SEND("250-test.example\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"),
        EXPECT("MAIL FROM:<a@x.test> BODY=8BITMIME SMTPUTF8"),
        SEND("250 2.1.0 ok\r\n"),
        EXPECT("RCPT TO:<chlo\xc3\xa9@y.test>"),
        SEND("250 2.1.5 ok\r\n"),
        EXPECT("DATA"),
        SEND("354 go ahead\r\n"),
        BODY,
        SEND("250 ok\r\n"),
        QUIT,
        END,
    };
    static const struct step lacks[] = {
        GREET,
        SEND("250-test.example\r\n250 8BITMIME\r\n"),
        EXPECT("MAIL FROM:<a@x.test>"),
        SEND("250 2.1.0 ok\r\n"),
        EXPECT("RCPT TO:<b@y.test>"),
        SEND("250 2.1.5 ok\r\n"),
        EXPECT("DATA"),
        SEND("354 go ahead\r\n"),
        BODY,
        SEND("250 ok\r\n"),
        QUIT,
        END,
    };
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m[3];
    struct run r;

    relay_init(&rl, 0);
    msgs_init(m, 1);
    m[0].rcpt = "chlo\xc3\xa9@y.test";
    m[0].smtputf8 = 1;
    TH_CHECK(run_case(offers, &rl, &p, m, 1, &r) && r.nres == 1 &&
                 r.res[0].outcome == SMTP_SENT,
             "SMTPUTF8 offered: MAIL FROM with BODY=8BITMIME SMTPUTF8, "
             "RCPT TO in UTF-8, sent");
    msgs_init(m, 3);
    m[0].rcpt = "chlo\xc3\xa9@y.test";
    m[0].smtputf8 = 1;
    m[1].rcpt = "chlo\xc3\xa9@y.test"; /* UTF-8, not said: never on the wire */
    int held = 0, sent = 0;
    TH_CHECK(run_case(lacks, &rl, &p, m, 3, &r) && r.nres == 3,
             "SMTPUTF8 not offered: the session goes on");
    for (int i = 0; i < r.nres && i < 3; i++) {
        if (r.res[i].outcome == SMTP_HELD && r.res[i].code == 0 &&
            (r.res[i].cookie != 1 ||
             strcmp(r.res[i].text, "relay lacks SMTPUTF8") == 0))
            held++;
        if (r.res[i].outcome == SMTP_SENT && r.res[i].cookie == 3)
            sent++;
    }
    TH_CHECK(held == 2 && sent == 1,
             "SMTPUTF8 not offered: the UTF-8 messages HELD (\"relay lacks "
             "SMTPUTF8\"), the ASCII one sent");
}

static void
test_enhanced_status(void)
{
    static const struct {
        const char *reply, *status, *text;
    } rows[] = {
        {"550 5.1.1 user unknown\r\n", "5.1.1", "user unknown"},
        {"550 5.1.10 ok\r\n", "5.1.10", "ok"},
        {"550 5.123.456 three digits\r\n", "5.123.456", "three digits"},
        {"550 5.1234.1 four digits\r\n", "", "5.1234.1 four digits"},
        {"550 5.1.1234 four digits\r\n", "", "5.1.1234 four digits"},
        {"550 4.1.1 wrong class\r\n", "", "4.1.1 wrong class"},
        {"550 5.1.1\r\n", "5.1.1", ""},
        {"550 5..1 empty\r\n", "", "5..1 empty"},
        {"550 5.1.1x glued\r\n", "", "5.1.1x glued"},
        {"550 3.1.1 class 3\r\n", "", "3.1.1 class 3"},
        {"550\r\n", "", ""},
        {"550 nothing\r\n", "", "nothing"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct step script[] = {
            GREET,
            SEND("250 test.example\r\n"),
            EXPECT("MAIL FROM:<a@x.test>"),
            SEND("250 ok\r\n"),
            EXPECT("RCPT TO:<b@y.test>"),
            SEND(rows[i].reply),
            QUIT, /* no RSET needed before QUIT */
            END,
        };
        struct config_relay rl;
        struct smtp_params p = {0};
        struct run r;

        relay_init(&rl, 0);
        int ok = run_case(script, &rl, &p, &msg1, 1, &r) && r.nres == 1 &&
                 r.res[0].code == 550 &&
                 strcmp(r.res[0].status, rows[i].status) == 0 &&
                 strcmp(r.res[0].text, rows[i].text) == 0;
        TH_CHECK(ok, "RFC 3463 status in \"%.*s\"",
                 (int)strlen(rows[i].reply) - 2, rows[i].reply);
        if (!ok && r.nres == 1)
            printf("#   status \"%s\" text \"%s\"\n", r.res[0].status,
                   r.res[0].text);
    }
}

static void
test_refused_connect(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    struct config_relay rl;
    struct smtp_params p = {0};
    struct run r;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd); /* nobody listens there now */
    relay_init(&rl, ntohs(a.sin_port));
    p.relay = &rl;
    p.timeouts_in_ms = 1;
    memset(&r, 0, sizeof r);
    r.msgs = &msg1;
    r.nmsgs = 1;
    drive(&r, &p, 5000);
    TH_CHECK(r.closed == 1 && r.fail == SMTP_FAIL_CONN && r.nres == 0 &&
                 has(r.err.msg, "refused"),
             "connection refused: FAIL_CONN naming it (%s)", r.err.msg);
}

/*---- live mode ----*/

static const char *
env(const char *k, const char *def)
{
    const char *v = getenv(k);
    return v && *v ? v : def;
}

static int
live(void)
{
    struct config_relay rl;
    struct smtp_params p = {0};
    struct smtp_msg m[RUN_MSGS_MAX];
    struct run r;
    const char *tls = env("SMTP_TEST_TLS", "starttls");
    const char *expect = env("SMTP_TEST_EXPECT", "none");
    const char *want_err = env("SMTP_TEST_ERR", NULL);
    int n = atoi(env("SMTP_TEST_COUNT", "2"));
    static const char body[] = "From: a@x.test\r\nTo: rcpt@example.test\r\n"
                               "Subject: live\r\n\r\nline one\r\n.dot line\r\n"
                               "\r\n.\r\nlast\r\n";

    if (n < 0 || n > RUN_MSGS_MAX)
        n = 2;
    relay_init(&rl, atoi(env("SMTP_TEST_PORT", "0")));
    rl.host = (char *)env("SMTP_TEST_HOST", "127.0.0.1");
    rl.tls = strcmp(tls, "smtps") == 0  ? CONFIG_TLS_SMTPS
             : strcmp(tls, "none") == 0 ? CONFIG_TLS_NONE
                                        : CONFIG_TLS_STARTTLS;
    rl.tls_verify = atoi(env("SMTP_TEST_VERIFY", "1"));
    rl.ca_file = (char *)env("SMTP_TEST_CA", NULL);
    rl.auth = (char *)env("SMTP_TEST_AUTH", NULL);
    rl.username = (char *)env("SMTP_TEST_USER", NULL);
    rl.timeout_connect = rl.timeout_greeting = rl.timeout_mail =
        rl.timeout_rcpt = rl.timeout_data = rl.timeout_data_block =
            rl.timeout_dot = 10;
    p.relay = &rl;
    p.password = env("SMTP_TEST_PASSWORD", NULL);
    p.transcript = 1;
    p.pipeline_max = atoi(env("SMTP_TEST_PIPELINE", "0"));
    for (int i = 0; i < n; i++) {
        m[i].cookie = (uint64_t)i + 1;
        m[i].mail_from = "a@x.test";
        m[i].rcpt = env("SMTP_TEST_RCPT", "rcpt@example.test");
        m[i].data = body;
        m[i].len = sizeof body - 1;
        m[i].smtputf8 = 0;
    }
    memset(&r, 0, sizeof r);
    r.msgs = m;
    r.nmsgs = n;
    drive(&r, &p, 30000);
    printf("# closed: %s: %s\n", smtp_fail_str(r.fail), r.err.msg);
    TH_CHECK(r.closed == 1, "live: the connection closed once");
    TH_CHECK(strcmp(smtp_fail_str(r.fail), expect) == 0,
             "live: ended with \"%s\" (want \"%s\")", smtp_fail_str(r.fail),
             expect);
    if (want_err)
        TH_CHECK(has(r.err.msg, want_err), "live: error names \"%s\"",
                 want_err);
    if (strcmp(expect, "none") == 0) {
        const char *want = env("SMTP_TEST_OUTCOME", "sent");
        enum smtp_outcome o = strcmp(want, "permfail") == 0   ? SMTP_PERMFAIL
                              : strcmp(want, "tempfail") == 0 ? SMTP_TEMPFAIL
                                                              : SMTP_SENT;
        int got = 0;
        for (int i = 0; i < r.nres && i < n; i++) {
            got += r.res[i].outcome == o;
            printf("# result %llu: %s %d %s %s\n",
                   (unsigned long long)r.res[i].cookie,
                   smtp_stage_str(r.res[i].stage), r.res[i].code,
                   r.res[i].status, r.res[i].text);
        }
        TH_CHECK(r.nres == n && got == n, "live: %d of %d messages %s", got, n,
                 want);
    } else {
        TH_CHECK(r.nres == 0, "live: no message was attempted");
    }
    return TH_DONE();
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("SMTP_TEST_PORT"))
        return live();
    test_happy();
    test_caps();
    test_lockstep();
    test_several();
    test_dots();
    test_rcpt_fail();
    test_dot_fail();
    test_421();
    test_421_queued();
    test_data_fail();
    test_idle();
    test_stuck_write();
    test_drops();
    test_resets();
    test_protocol_errors();
    test_timeouts();
    test_starttls();
    test_auth();
    test_setup();
    test_envelope_checks();
    test_smtputf8();
    test_enhanced_status();
    test_refused_connect();
    return TH_DONE();
}
