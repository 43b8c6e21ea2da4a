/* SPDX-License-Identifier: ISC */
/*
 * cmd_bounces.c - `campaign bounces parse|ingest|fetch|rules`: what comes
 * back to the VERP and unsubscribe addresses (engine/bounce.h reads a
 * message, engine/ingest.h records it, engine/fetch.h reads an IMAP
 * mailbox).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/bounce.h"
#include "../engine/buf.h"
#include "../engine/config.h"
#include "../engine/fetch.h"
#include "../engine/ingest.h"
#include "../engine/log.h"
#include "../engine/pmap.h"
#include "../engine/rules.h"
#include "../engine/utf8.h"
#include "../engine/xalloc.h"
#include "cmd.h"
#include "mailjob.h"

/*
 * read_fd - at most BOUNCE_INPUT_MAX + 1 bytes of fd (the parser reads no
 * more; the + 1 tells it the input was longer), by read(2) alone: a file
 * of a Maildir is read in two calls (its bytes, then the end), where
 * stdio would also ask fcntl and fstat.  A malloc'd buffer, or NULL with
 * errno set on a read error.
 */
static char *
read_fd(int fd, size_t *len)
{
    size_t cap = 64 * 1024, n = 0;
    char *b = xmalloc(cap);

    for (;;) {
        ssize_t got;
        if (n == cap) {
            if (cap >= BOUNCE_INPUT_MAX + 1)
                break;
            cap =
                cap * 2 > BOUNCE_INPUT_MAX + 1 ? BOUNCE_INPUT_MAX + 1 : cap * 2;
            b = xrealloc(b, cap);
        }
        got = read(fd, b + n, cap - n);
        if (got == -1 && errno == EINTR)
            continue;
        if (got == -1) {
            int saved = errno;
            free(b);
            errno = saved;
            return NULL;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *len = n;
    return b;
}

/*
 * out_write - append to a job's report (engine/buf.h).  A report is
 * bounded by the parser's limits (BOUNCE_RCPT_MAX recipients, each field
 * cut to its buffer: a few MB escaped at most), far below the buffer's
 * maximum, so passing it is a bug, not an input: stop, as xmalloc does.
 */
static void
out_write(struct buf *o, const void *p, size_t n)
{
    if (buf_append(o, p, n) == -1) {
        fprintf(stderr, "campaign: a bounce report past %zu bytes\n", o->max);
        abort();
    }
}

static void
out_puts(struct buf *o, const char *s)
{
    out_write(o, s, strlen(s));
}

static void
out_putc(struct buf *o, char c)
{
    out_write(o, &c, 1);
}

/* out_u - "\uXXXX" of a code unit below 0x10000 (upper-case hex, as
 * jansson writes it) */
static void
out_u(struct buf *o, unsigned cu)
{
    static const char hex[] = "0123456789ABCDEF";
    char u[6] = {'\\',
                 'u',
                 hex[(cu >> 12) & 15],
                 hex[(cu >> 8) & 15],
                 hex[(cu >> 4) & 15],
                 hex[cu & 15]};

    out_write(o, u, sizeof u);
}

/*
 * json_str - s as a JSON string (jansson's JSON_ENSURE_ASCII form: every
 * character past ASCII as \uXXXX), or null when empty, appended to out.
 * What came in mail may be any bytes: a byte that does not start valid
 * UTF-8 becomes U+FFFD, so the value is kept, not dropped.
 */
static void
json_str(struct buf *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;

    if (s == NULL || *s == '\0') {
        out_puts(out, "null");
        return;
    }
    n = strlen(s);
    out_putc(out, '"');
    while (n > 0) {
        unsigned cp;
        size_t k;
        if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
            const unsigned char *q = p;
            while (n > 0 && *q >= 0x20 && *q < 0x80 && *q != '"' &&
                   *q != '\\') {
                q++;
                n--;
            }
            out_write(out, p, (size_t)(q - p));
            p = q;
            continue;
        }
        if (*p < 0x80) {
            const char *esc = NULL;
            switch (*p) {
            case '"':
                esc = "\\\"";
                break;
            case '\\':
                esc = "\\\\";
                break;
            case '\b':
                esc = "\\b";
                break;
            case '\f':
                esc = "\\f";
                break;
            case '\n':
                esc = "\\n";
                break;
            case '\r':
                esc = "\\r";
                break;
            case '\t':
                esc = "\\t";
                break;
            default:
                break;
            }
            if (esc != NULL)
                out_puts(out, esc);
            else
                out_u(out, *p);
            p++;
            n--;
            continue;
        }
        k = utf8_check((const char *)p, n < 4 ? n : 4);
        if (k == 0) {
            cp = 0xFFFD; /* not the start of valid UTF-8 */
            k = 1;
        } else {
            /* a valid sequence starts here; read its one character */
            k = (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : 4;
            cp = *p & (k == 2 ? 0x1F : k == 3 ? 0x0F : 0x07);
            for (size_t i = 1; i < k; i++)
                cp = cp << 6 | (p[i] & 0x3F);
        }
        if (cp >= 0x10000) { /* a surrogate pair */
            out_u(out, 0xD800 | ((cp - 0x10000) >> 10));
            out_u(out, 0xDC00 | ((cp - 0x10000) & 0x3FF));
        } else {
            out_u(out, cp);
        }
        p += k;
        n -= k;
    }
    out_putc(out, '"');
}

/* json_text - s as a JSON string, "" when empty or NULL */
static void
json_text(struct buf *out, const char *s)
{
    if (s == NULL || *s == '\0')
        out_puts(out, "\"\"");
    else
        json_str(out, s);
}

/* json_field - ",\n  \"name\": " before a value (the first without the
 * comma): jansson's JSON_INDENT(2) layout, kept byte for byte */
static void
json_field(struct buf *out, int first, const char *name)
{
    out_puts(out, first ? "{\n  \"" : ",\n  \"");
    out_puts(out, name);
    out_puts(out, "\": ");
}

/* report_json - one element per recipient (one with a null recipient when
 * there is none), each after ",\n" (the run's first is put after "[\n"
 * instead: parse_done's) */
static void
report_json(struct buf *out, const char *file, const struct bounce_report *r)
{
    size_t n = r->nrcpt ? r->nrcpt : 1;
    int token = r->verp[0] != '\0' || r->unsub[0] != '\0' ||
                r->returned_verp[0] || r->returned_unsub[0];

    for (size_t i = 0; i < n; i++) {
        static const struct bounce_rcpt none = {.classification = "unknown",
                                                .reason = ""};
        const struct bounce_rcpt *c = r->nrcpt ? &r->rcpt[i] : &none;

        out_puts(out, ",\n");
        json_field(out, 1, "file");
        json_str(out, file);
        json_field(out, 0, "kind");
        json_str(out, bounce_kind_name(r->kind));
        json_field(out, 0, "recipient");
        json_str(out, c->recipient);
        json_field(out, 0, "original_recipient");
        json_str(out, c->original);
        json_field(out, 0, "action");
        json_str(out, c->action);
        json_field(out, 0, "status");
        json_str(out, c->status);
        json_field(out, 0, "status_derived");
        out_puts(out, c->status_derived ? "true" : "false");
        json_field(out, 0, "reply_code");
        if (c->reply_code) {
            char code[16];
            snprintf(code, sizeof code, "%d", c->reply_code);
            out_puts(out, code);
        } else {
            out_puts(out, "null");
        }
        json_field(out, 0, "diagnostic");
        json_str(out, c->diagnostic);
        json_field(out, 0, "remote_mta");
        json_str(out, c->remote_mta);
        json_field(out, 0, "classification");
        json_text(out, c->classification);
        json_field(out, 0, "reason");
        json_text(out, c->reason);
        json_field(out, 0, "message_id");
        json_str(out, r->message_id);
        json_field(out, 0, "feedback_type");
        json_str(out, r->feedback_type);
        json_field(out, 0, "token");
        out_puts(out, token ? "true" : "false");
        json_field(out, 0, "truncated");
        out_puts(out, r->truncated ? "true" : "false");
        out_puts(out, "\n}");
    }
}

/* safe - s with terminal controls made visible (log_unraw), printed */
static void
safe(struct buf *out, const char *s)
{
    char *o = log_unraw(s, 0);

    out_puts(out, o ? o : s);
    free(o);
}

/* report_text - one line per recipient */
static void
report_text(struct buf *out, const char *file, const struct bounce_report *r)
{
    if (r->nrcpt == 0) {
        safe(out, file);
        out_puts(out, ": ");
        out_puts(out, bounce_kind_name(r->kind));
        out_puts(out, ", no recipient found\n");
        return;
    }
    for (size_t i = 0; i < r->nrcpt; i++) {
        const struct bounce_rcpt *c = &r->rcpt[i];
        safe(out, file);
        out_puts(out, ": ");
        out_puts(out, bounce_kind_name(r->kind));
        out_putc(out, ' ');
        out_puts(out, c->classification);
        out_putc(out, ' ');
        safe(out, c->recipient[0] ? c->recipient : "(no recipient)");
        if (c->status[0]) {
            out_putc(out, ' ');
            out_puts(out, c->status);
            if (c->status_derived)
                out_putc(out, '?');
        }
        if (c->reason && *c->reason) {
            out_puts(out, " (");
            safe(out, c->reason);
            out_putc(out, ')');
        }
        if (c->diagnostic[0]) {
            out_puts(out, ": ");
            safe(out, c->diagnostic);
        }
        out_putc(out, '\n');
    }
}

/* rules_from_config - the user's rules of [bounces] rules, if any */
static int
rules_from_config(struct ctx *ctx, struct err *e)
{
    struct config cfg;
    int rc;

    if (cmd_config_load(ctx, &cfg, e) == -1)
        return -1;
    rc = rules_init(cfg.bounces.rules, e);
    config_free(&cfg);
    return rc;
}

/* a reader of one directory's messages: *found set when it exists;
 * nonzero (a sysexits code) stops the reading */
typedef int (*dir_reader)(const char *dir, int *found, void *arg);

/*
 * each_maildir - rd(DIR/new) then rd(DIR/cur), or rd(DIR) itself when it
 * has neither (a folder of message files).  Stops at the first nonzero
 * return and returns it; a DIR that is not a directory is EX_NOINPUT,
 * warned of.
 */
static int
each_maildir(const char *dir, dir_reader rd, void *arg)
{
    char *sub;
    int code, found = 0;
    struct stat sb;

    if (stat(dir, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
        log_warnx("%s: %s", dir,
                  stat(dir, &sb) == -1 ? strerror(errno) : "not a directory");
        return EX_NOINPUT;
    }
    sub = xasprintf("%s/new", dir);
    code = rd(sub, &found, arg);
    free(sub);
    if (code == 0) {
        sub = xasprintf("%s/cur", dir);
        code = rd(sub, &found, arg);
        free(sub);
    }
    if (code == 0 && !found)
        code = rd(dir, &found, arg);
    return code;
}

/* open_dir - dir for reading, *found set; NULL when it does not exist
 * (silently) or cannot be read (warned of, *code EX_IOERR) */
static DIR *
open_dir(const char *dir, int *found, int *code)
{
    DIR *d = opendir(dir);

    *code = 0;
    if (d == NULL && errno != ENOENT) {
        log_warnx("%s: %s", dir, strerror(errno));
        *code = EX_IOERR;
    }
    if (d != NULL)
        *found = 1;
    return d;
}

/* a_message - a directory entry that names a message: not a dot file,
 * a regular file (or a link to one) */
static int
a_message(DIR *d, const struct dirent *de)
{
    struct stat sb;

    if (de->d_name[0] == '.')
        return 0;
    if (de->d_type == DT_REG)
        return 1;
    if (de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
        return 0;
    return fstatat(dirfd(d), de->d_name, &sb, 0) == 0 && S_ISREG(sb.st_mode);
}

/* ---- bounces parse: files read and parsed on every core, printed in
 * the order given ---- */

#define PARSE_THREADS_MAX 8
#define PARSE_DEPTH 4 /* jobs in flight a thread */

struct parse_job {
    char *file;     /* as named (a directory's name, "/", the entry's) */
    int dirfd;      /* a directory read: the entry is opened in it */
    size_t name_at; /* then: where the entry's name begins in file */
    char *buf;      /* the message: read by the worker unless given (or
                       its reading failed: warn) */
    size_t len;
    int code;          /* a sysexits code for this input, or 0 */
    struct err *fatal; /* bounce_parse failed: the run ends */
    char *warn;        /* what to warn of, or NULL */
    struct buf out;    /* what to print */
};

struct parse_run {
    int json, first; /* --json; no element printed yet */
    int code, stop;  /* the exit code; a failure ended the run */
    struct pmap *p;
};

static void
parse_work(void *v, void *scratch, void *arg)
{
    struct parse_job *j = v;
    struct parse_run *run = arg;
    struct bounce_report *r = scratch;
    struct bounce_opts bo = {NULL};
    struct err e;

    if (j->buf == NULL && j->warn == NULL) { /* not read yet */
        int fd = j->dirfd >= 0 ? openat(j->dirfd, j->file + j->name_at,
                                        O_RDONLY | O_CLOEXEC)
                               : open(j->file, O_RDONLY | O_CLOEXEC);
        if (fd == -1) {
            j->warn = xasprintf("%s: %s", j->file, strerror(errno));
            j->code = EX_NOINPUT;
            return;
        }
        j->buf = read_fd(fd, &j->len);
        if (j->buf == NULL) {
            j->warn = xasprintf("%s: read error: %s", j->file, strerror(errno));
            j->code = EX_IOERR;
        }
        close(fd);
    }
    if (j->buf == NULL)
        return;
    err_clear(&e);
    if (bounce_parse(j->buf, j->len, &bo, r, &e) == -1) {
        j->fatal = xmalloc(sizeof *j->fatal);
        err_set(j->fatal, e.kind, "%s: %s", j->file, e.msg);
    }
    /* the message is read: up to 4 MB a job need not wait for delivery */
    free(j->buf);
    j->buf = NULL;
    if (j->fatal != NULL)
        return;
    buf_init(&j->out, 0);
    if (run->json)
        report_json(&j->out, j->file, r);
    else
        report_text(&j->out, j->file, r);
}

static void
parse_done(void *v, void *arg)
{
    struct parse_job *j = v;
    struct parse_run *run = arg;

    if (!run->stop) {
        if (j->warn != NULL) {
            log_warnx("%s", j->warn);
            run->code = j->code;
        } else if (j->fatal != NULL) {
            run->code = cmd_fail(j->fatal);
            run->stop = 1;
        } else if (j->out.len > 0) {
            const char *o = j->out.p;
            size_t n = j->out.len;
            if (run->json && run->first) {
                /* the job printed ",\n" before its first element */
                fputs("[\n", stdout);
                o += 2;
                n -= 2;
                run->first = 0;
            }
            fwrite(o, 1, n, stdout);
        }
    }
    free(j->file);
    free(j->buf);
    free(j->warn);
    free(j->fatal);
    buf_free(&j->out);
    free(j);
}

/* parse_put - a file named on the command line to the workers */
static void
parse_put(struct parse_run *run, const char *path)
{
    struct parse_job *j = xcalloc(1, sizeof *j);

    j->file = xstrdup(path);
    j->dirfd = -1;
    pmap_put(run->p, j);
}

/*
 * parse_dir - every message file of dir to the workers, in the
 * directory's own order: nothing is held per file, so memory stays flat
 * over a Maildir of any size (ingest, which holds the names to read them
 * in name order, does not).  Its jobs open their files in it, so it is
 * closed once they are all delivered.
 */
static int
parse_dir(const char *dir, int *found, void *arg)
{
    struct parse_run *run = arg;
    struct dirent *de;
    DIR *d;
    int code;

    if ((d = open_dir(dir, found, &code)) == NULL)
        return code;
    while (!run->stop && (de = readdir(d)) != NULL) {
        struct parse_job *j;
        if (!a_message(d, de))
            continue;
        j = xcalloc(1, sizeof *j);
        j->file = xasprintf("%s/%s", dir, de->d_name);
        j->dirfd = dirfd(d);
        j->name_at = strlen(dir) + 1;
        pmap_put(run->p, j);
    }
    pmap_drain(run->p);
    closedir(d);
    return run->stop ? run->code : 0;
}

int
cmd_bounces_parse(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct parse_run run = {0, 1, 0, 0, NULL};
    struct err e;
    int c;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j')
            run.json = 1;
        else if (c == 'h')
            return cmd_usage("bounces parse", stdout, 0);
        else
            return cmd_usage("bounces parse", stderr, EX_USAGE);
    }
    if (optind >= argc)
        return cmd_usage("bounces parse", stderr, EX_USAGE);
    err_clear(&e);
    if (rules_from_config(ctx, &e) == -1)
        return cmd_fail(&e);
    /* one message is parsed in place; more share the cores, with at most
     * PARSE_DEPTH * PARSE_THREADS_MAX in flight */
    bounce_init();
    {
        struct stat sb;
        int one = optind + 1 == argc &&
                  (strcmp(argv[optind], "-") == 0 ||
                   stat(argv[optind], &sb) == -1 || !S_ISDIR(sb.st_mode));
        run.p = pmap_new(one ? 1 : pmap_threads(PARSE_THREADS_MAX),
                         (size_t)PARSE_DEPTH * PARSE_THREADS_MAX,
                         sizeof(struct bounce_report), parse_work, parse_done,
                         &run);
    }
    for (int i = optind; i < argc && !run.stop; i++) {
        struct stat sb;
        if (strcmp(argv[i], "-") == 0) {
            struct parse_job *j = xcalloc(1, sizeof *j);
            j->file = xstrdup("-");
            j->dirfd = -1;
            j->buf = read_fd(STDIN_FILENO, &j->len);
            if (j->buf == NULL) {
                j->warn = xasprintf("-: read error: %s", strerror(errno));
                j->code = EX_IOERR;
            }
            pmap_put(run.p, j);
        } else if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            int rc = each_maildir(argv[i], parse_dir, &run);
            if (rc != 0 && !run.stop)
                run.code = rc;
        } else {
            parse_put(&run, argv[i]);
        }
    }
    pmap_finish(run.p);
    /* the array is printed as it goes: memory stays flat over any
     * number of files */
    if (run.json)
        fputs(run.first ? "[]\n" : "\n]\n", stdout);
    if (fflush(stdout) == EOF && run.code == 0)
        run.code = EX_IOERR;
    return run.code;
}

int
cmd_bounces_rules(struct ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    if (argc > 1)
        return cmd_usage("bounces rules",
                         strcmp(argv[1], "--help") == 0 ? stdout : stderr,
                         strcmp(argv[1], "--help") == 0 ? 0 : EX_USAGE);
    fputs(rules_shipped(), stdout);
    return fflush(stdout) == EOF ? EX_IOERR : 0;
}

/* ---- ingest ---- */

struct job {
    struct ctx *ctx;
    struct config cfg;
    struct store *st;
    struct track_key key;
    int have_key;
    struct ingest *in;
};

/*
 * job_open - the configuration, the rules, the tracking key (without it
 * no token checks, and only Message-IDs and addresses match), the
 * database and the ingest.  Returns 0 or an exit code.
 */
static int
job_open(struct ctx *ctx, struct job *j)
{
    struct ingest_policy p;
    struct stat sb;
    struct err e;
    char *secret;
    int code = 0;

    memset(j, 0, sizeof *j);
    j->ctx = ctx;
    err_clear(&e);
    if (cmd_config_load(ctx, &j->cfg, &e) == -1 ||
        rules_init(j->cfg.bounces.rules, &e) == -1)
        return cmd_fail(&e);
    secret = mailjob_secret_path(ctx, &j->cfg);
    if (stat(secret, &sb) == -1 && errno != ENOENT) {
        /* there but unreadable (the pipe's user?): not "no secret" */
        err_set(&e, EX_CONFIG,
                "%s: %s (the tracking secret: the user that "
                "runs bounces ingest must read it)",
                secret, strerror(errno));
        free(secret);
        return cmd_fail(&e);
    }
    if (stat(secret, &sb) == 0) {
        if (track_secret_load(secret, &j->key, &e) == -1) {
            free(secret);
            return cmd_fail(&e);
        }
        j->have_key = 1;
    } else {
        log_warnx("%s: no tracking secret: VERP and unsubscribe tokens "
                  "cannot be checked, only Message-IDs and addresses match",
                  secret);
    }
    free(secret);
    if ((j->st = cmd_open(ctx, &code)) == NULL)
        return code;
    memset(&p, 0, sizeof p);
    p.soft_limit = j->cfg.bounces.soft_limit;
    p.soft_days = j->cfg.bounces.soft_days;
    p.breaker.hard = j->cfg.bounces.breaker_hard;
    p.breaker.complaint = j->cfg.bounces.breaker_complaint;
    p.breaker.min = j->cfg.bounces.breaker_min;
    if ((j->in = ingest_new(j->st, j->have_key ? &j->key : NULL, &p, &e)) ==
        NULL)
        return cmd_fail(&e);
    return 0;
}

static void
job_close(struct job *j)
{
    ingest_free(j->in);
    if (j->st)
        store_close(j->st);
    explicit_bzero(&j->key, sizeof j->key);
    config_free(&j->cfg);
}

/* job_summary - the one line every run prints (stdout) */
static void
job_summary(struct job *j, const char *prefix)
{
    struct ingest_totals t;

    ingest_totals(j->in, &t);
    if (j->ctx->quiet)
        return;
    printf("%singested %ld message%s: hard %ld, soft %ld, blocked %ld, "
           "delayed %ld, complaint %ld, auto_reply %ld, unsubscribe %ld, "
           "unmatched %ld, duplicate %ld, unknown %ld",
           prefix, t.messages, t.messages == 1 ? "" : "s", t.hard, t.soft,
           t.blocked, t.delayed, t.complaint, t.auto_reply, t.unsubscribe,
           t.unmatched, t.duplicate, t.unknown + t.delivered);
    if (t.unverified)
        printf(", unverified %ld", t.unverified);
    if (t.paused)
        printf("; %ld campaign%s paused by the circuit breaker", t.paused,
               t.paused == 1 ? "" : "s");
    putchar('\n');
}

/* one - ingest one message of len bytes; an exit code */
static int
one(struct job *j, const char *buf, size_t len, const char *rcpt,
    const char *where)
{
    struct err e;

    err_clear(&e);
    if (ingest_message(j->in, buf, len, rcpt, where, &e) == -1)
        return cmd_fail(&e);
    return 0; /* recorded or not, it was read */
}

static int
ingest_file(struct job *j, const char *path, const char *rcpt)
{
    int in = strcmp(path, "-") == 0;
    int fd = in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    char *buf;
    size_t len;
    int code;

    if (fd == -1) {
        log_warnx("%s: %s", path, strerror(errno));
        return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
    }
    buf = read_fd(fd, &len);
    if (!in) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    if (buf == NULL) {
        log_warnx("%s: read error: %s", path, strerror(errno));
        return EX_IOERR;
    }
    code = one(j, buf, len, rcpt,
               strcmp(path, "-") == 0 ? "the message on standard input" : path);
    free(buf);
    return code;
}

/*
 * ingest_mbox - every message of an mbox file (mboxo or mboxrd: a line
 * "From " starts a message, ">From " lines lose one ">"), read as a
 * stream: one message in memory at a time, each at most the parser's
 * bound (the rest of a bigger one is skipped).
 */
static int
ingest_mbox(struct job *j, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL, *msg = NULL, where[4200];
    size_t cap = 0, mlen = 0, mcap = 0;
    ssize_t n;
    long count = 0, lineno = 0, start = 0;
    int code = 0, in_msg = 0, over = 0;

    if (f == NULL) {
        log_warnx("%s: %s", path, strerror(errno));
        return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
    }
    for (;;) {
        n = getline(&line, &cap, f);
        lineno++;
        if (n == -1 || strncmp(line, "From ", 5) == 0) {
            if (in_msg && mlen > 0) {
                snprintf(where, sizeof where, "%s:%ld (message %ld)", path,
                         start, ++count);
                if ((code = one(j, msg, mlen, NULL, where)) != 0)
                    break;
            }
            if (n == -1)
                break;
            in_msg = 1;
            mlen = 0;
            over = 0;
            start = lineno;
            continue;
        }
        if (!in_msg) {
            if (lineno == 1 || line[0] != '\n') {
                log_warnx("%s:%ld: not an mbox file (it must start with a "
                          "\"From \" line)",
                          path, lineno);
                code = EX_DATAERR;
                break;
            }
            continue;
        }
        {
            const char *p = line;
            size_t k = (size_t)n;
            /* mboxrd: ">From ", ">>From " ... lose one ">" */
            if (line[0] == '>') {
                size_t g = strspn(line, ">");
                if (strncmp(line + g, "From ", 5) == 0) {
                    p++;
                    k--;
                }
            }
            /* past the parser's bound the rest of this message is
             * skipped whole: never a message with its middle cut out */
            if (over || mlen + k > BOUNCE_INPUT_MAX + 1) {
                over = 1;
                continue;
            }
            if (mlen + k > mcap) {
                mcap = (mlen + k) * 2;
                msg = xrealloc(msg, mcap);
            }
            memcpy(msg + mlen, p, k);
            mlen += k;
        }
    }
    if (ferror(f) && code == 0) {
        log_warnx("%s: read error: %s", path, strerror(errno));
        code = EX_IOERR;
    }
    fclose(f);
    free(line);
    free(msg);
    return code;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * ingest_dir - every message file of dir ingested, in name order (Maildir
 * names begin with the delivery time, so this is the order they came
 * in); the names are held while they are read, about 60 bytes each
 */
static int
ingest_dir(const char *dir, int *found, void *arg)
{
    struct job *j = arg;
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int code;

    if ((d = open_dir(dir, found, &code)) == NULL)
        return code;
    while ((de = readdir(d)) != NULL) {
        if (!a_message(d, de))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            names = xreallocarray(names, cap, sizeof *names);
        }
        names[n++] = xasprintf("%s/%s", dir, de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        if (code == 0)
            code = ingest_file(j, names[i], NULL);
        free(names[i]);
    }
    free(names);
    return code;
}

/* keep - the exit code of one input into the run's: the first problem
 * wins; one that is not the input's (the database) ends the run */
static void
keep(int *code, int *fatal, int rc)
{
    if (rc == 0)
        return;
    if (rc != EX_NOINPUT && rc != EX_IOERR && rc != EX_DATAERR) {
        *code = rc;
        *fatal = 1;
    } else if (*code == 0) {
        *code = rc;
    }
}

int
cmd_bounces_ingest(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"mbox", required_argument, NULL, 'm'},
        {"maildir", required_argument, NULL, 'd'},
        {"rcpt", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *mbox[16], *maildir[16], *rcpt = NULL;
    size_t nmbox = 0, nmaildir = 0;
    struct job j;
    struct err e;
    int c, code, fatal = 0;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (nmbox == 16)
                return cmd_usage("bounces ingest", stderr, EX_USAGE);
            mbox[nmbox++] = optarg;
            break;
        case 'd':
            if (nmaildir == 16)
                return cmd_usage("bounces ingest", stderr, EX_USAGE);
            maildir[nmaildir++] = optarg;
            break;
        case 'r':
            rcpt = optarg;
            break;
        case 'h':
            return cmd_usage("bounces ingest", stdout, 0);
        default:
            return cmd_usage("bounces ingest", stderr, EX_USAGE);
        }
    }
    if ((code = job_open(ctx, &j)) != 0) {
        job_close(&j);
        return code;
    }
    /* standard input: one message, as a pipe alias gives it, with the
     * envelope recipient local(8) puts in the environment */
    if (optind == argc && nmbox == 0 && nmaildir == 0) {
        if (rcpt == NULL)
            rcpt = getenv("ORIGINAL_RECIPIENT");
        if (rcpt == NULL)
            rcpt = getenv("RECIPIENT");
        code = ingest_file(&j, "-", rcpt);
    }
    /* a file that cannot be read is said and the others are read; the
     * database failing (busy: 75) stops the run */
    for (int i = optind; i < argc && !fatal; i++)
        keep(&code, &fatal,
             ingest_file(&j, argv[i], strcmp(argv[i], "-") == 0 ? rcpt : NULL));
    for (size_t i = 0; i < nmbox && !fatal; i++)
        keep(&code, &fatal, ingest_mbox(&j, mbox[i]));
    for (size_t i = 0; i < nmaildir && !fatal; i++)
        keep(&code, &fatal, each_maildir(maildir[i], ingest_dir, &j));
    err_clear(&e);
    if (ingest_finish(j.in, &e) == -1 && code == 0)
        code = cmd_fail(&e);
    job_summary(&j, "");
    job_close(&j);
    if (fflush(stdout) == EOF && code == 0)
        code = EX_IOERR;
    return code;
}

/* ---- fetch ---- */

static int
fetched_cb(const char *msg, size_t len, const char *where, void *arg,
           struct err *e)
{
    struct job *j = arg;
    int rc = ingest_message(j->in, msg, len, NULL, where, e);

    /* one not recorded stays in the mailbox: read again once its cause
     * (the secret, a rule) is fixed, it may match */
    return rc == -1 ? -1 : rc == 1 ? 0 : 1;
}

int
cmd_bounces_fetch(struct ctx *ctx, int argc, char **argv)
{
    struct fetch_params fp;
    struct job j;
    struct err e;
    char *password = NULL, prefix[64];
    long n = 0;
    int code;

    if (argc > 1)
        return cmd_usage("bounces fetch",
                         strcmp(argv[1], "--help") == 0 ? stdout : stderr,
                         strcmp(argv[1], "--help") == 0 ? 0 : EX_USAGE);
    if ((code = job_open(ctx, &j)) != 0) {
        job_close(&j);
        return code;
    }
    err_clear(&e);
    if (j.cfg.bounces.imap == NULL) {
        err_set(&e, EX_CONFIG,
                "%s: no [bounces] imap = imaps://HOST/MAILBOX: the mailbox "
                "to read",
                j.cfg.path);
        code = cmd_fail(&e);
        goto out;
    }
    if (j.cfg.bounces.username == NULL) {
        err_set(&e, EX_CONFIG,
                "%s: [bounces] imap without username: the mailbox's login",
                j.cfg.path);
        code = cmd_fail(&e);
        goto out;
    }
    if (mailjob_password("[bounces]", j.cfg.bounces.username,
                         j.cfg.bounces.password_env,
                         j.cfg.bounces.password_file, &password, &e) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    memset(&fp, 0, sizeof fp);
    fp.url = j.cfg.bounces.imap;
    fp.username = j.cfg.bounces.username;
    fp.password = password;
    fp.tls_verify = j.cfg.bounces.tls_verify;
    fp.ca_file = j.cfg.bounces.ca_file;
    fp.processed = j.cfg.bounces.processed;
    fp.max_bytes = BOUNCE_INPUT_MAX + 1;
    if (fetch_run(&fp, fetched_cb, &j, &n, &e) == -1)
        code = cmd_fail(&e);
    err_clear(&e);
    if (ingest_finish(j.in, &e) == -1 && code == 0)
        code = cmd_fail(&e);
    snprintf(prefix, sizeof prefix, "fetched %ld message%s; ", n,
             n == 1 ? "" : "s");
    job_summary(&j, prefix);
out:
    if (password != NULL) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    job_close(&j);
    if (fflush(stdout) == EOF && code == 0)
        code = EX_IOERR;
    return code;
}
