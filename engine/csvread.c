/* SPDX-License-Identifier: ISC */
/*
 * csvread.c - streaming CSV reader (see csvread.h).
 *
 * libcsv is a push parser that reports neither lines nor offsets.  We feed
 * it one physical line at a time (a "piece": up to and including one CRLF,
 * LF or CR, or at most CSV_CHUNK bytes of a longer line), so that when it
 * calls back we know the line being read, and so that its field buffer can
 * be checked against CSV_FIELD_MAX between pieces.  Each piece holds at
 * most one record terminator, so at most one record completes per piece.
 * A record's first line is taken when a piece is fed while libcsv is
 * between rows (pstate 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <csv.h>

#include "buf.h"
#include "csvread.h"
#include "bounds.h"
#include "utf8.h"
#include "xalloc.h"

#define INBUF_SIZE (2 * CSV_CHUNK)

struct csvread {
    int fd;
    int eof;
    const char *path;
    struct csv_parser parser;
    char delim;
    enum csv_encoding enc;
    iconv_t cd;

    char in[INBUF_SIZE];
    size_t pos, end;
    char *conv; /* converted piece for Latin-1 / Windows-1252 */
    size_t convcap;

    unsigned long line;     /* physical line of the piece being fed */
    size_t line_off;        /* bytes of that line before the piece */
    unsigned long rec_line; /* line where the current record began */

    /* the record being assembled */
    struct buf row;
    size_t *off;
    size_t *lens;
    const char **fields;
    size_t nfields;
    int have_record;

    /* an error found inside a libcsv callback */
    int failed;
    struct err cb_err;

    struct csv_record rec;
};

int
csv_encoding_parse(const char *name, enum csv_encoding *out)
{
    static const struct {
        const char *name;
        enum csv_encoding enc;
    } names[] = {
        {"utf-8", CSV_ENC_UTF8},          {"utf8", CSV_ENC_UTF8},
        {"latin1", CSV_ENC_LATIN1},       {"latin-1", CSV_ENC_LATIN1},
        {"iso-8859-1", CSV_ENC_LATIN1},   {"iso8859-1", CSV_ENC_LATIN1},
        {"windows-1252", CSV_ENC_CP1252}, {"cp1252", CSV_ENC_CP1252},
        {"win1252", CSV_ENC_CP1252},
    };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].enc;
            return 0;
        }
    }
    return -1;
}

/* fill - read more input after compacting; sets eof. */
static int
fill(struct csvread *r, struct err *e)
{
    ssize_t n;

    if (r->pos > 0) {
        memmove(r->in, r->in + r->pos, r->end - r->pos);
        r->end -= r->pos;
        r->pos = 0;
    }
    while (!r->eof && r->end < sizeof r->in) {
        n = read(r->fd, r->in + r->end, sizeof r->in - r->end);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            return err_set(e, EX_IOERR, "%s: read: %s", r->path,
                           strerror(errno));
        }
        if (n == 0)
            r->eof = 1;
        r->end += (size_t)n;
        if (r->end - r->pos >= CSV_CHUNK)
            break;
    }
    return 0;
}

/* field_cb - libcsv: one field complete. */
static void
field_cb(void *data, size_t len, void *arg)
{
    struct csvread *r = arg;
    const char *s = data ? data : "";

    if (r->failed)
        return;
    if (r->nfields >= CSV_FIELDS_MAX) {
        r->failed = 1;
        err_set(&r->cb_err, EX_DATAERR,
                "%s:%lu: more than %d columns in one record", r->path, r->line,
                CSV_FIELDS_MAX);
        return;
    }
    if (len > CSV_FIELD_MAX) {
        r->failed = 1;
        err_set(&r->cb_err, EX_DATAERR,
                "%s:%lu: field %zu is longer than %d bytes", r->path,
                r->rec_line, r->nfields + 1, CSV_FIELD_MAX);
        return;
    }
    if (r->enc == CSV_ENC_UTF8) {
        size_t bad = utf8_check(s, len);
        if (bad != UTF8_VALID) {
            r->failed = 1;
            err_set(&r->cb_err, EX_DATAERR,
                    "%s:%lu: invalid UTF-8 in column %zu (byte 0x%02x at "
                    "offset %zu of the field); if the file comes from "
                    "Excel, try --encoding windows-1252",
                    r->path, r->line, r->nfields + 1, (unsigned char)s[bad],
                    bad);
            return;
        }
    }
    if (buf_append(&r->row, s, len) == -1 || buf_putc(&r->row, '\0') == -1) {
        r->failed = 1;
        err_set(&r->cb_err, EX_DATAERR, "%s:%lu: record longer than %d bytes",
                r->path, r->line, CSV_ROW_MAX);
        return;
    }
    r->off[r->nfields] = r->row.len - len - 1;
    r->lens[r->nfields] = len;
    r->nfields++;
}

/* record_cb - libcsv: end of record. */
static void
record_cb(int c, void *arg)
{
    struct csvread *r = arg;

    (void)c;
    if (r->failed)
        return;
    r->have_record = 1;
}

/* sniff - choose the delimiter that occurs most often, outside quotes, on
 * the first line. */
static char
sniff(const char *s, size_t n)
{
    static const char cand[] = {',', ';', '\t', '|'};
    size_t count[4] = {0, 0, 0, 0}, best = 0;
    int quoted = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            quoted = !quoted;
            continue;
        }
        if (quoted)
            continue;
        if (c == '\n' || c == '\r')
            break;
        for (int k = 0; k < 4; k++)
            if (c == cand[k])
                count[k]++;
    }
    for (int k = 1; k < 4; k++)
        if (count[k] > count[best])
            best = (size_t)k;
    return count[best] ? cand[best] : ',';
}

static int
is_space_none(unsigned char c)
{
    (void)c;
    return 0;
}

/*
 * wide_encoding - the name of the UTF-16 or UTF-32 encoding the first n
 * bytes of a file are in (by its byte order mark, or without one by the
 * NUL bytes that ASCII text has in those encodings: "e\0m\0" is
 * UTF-16LE), or NULL for anything else.
 */
static const char *
wide_encoding(const unsigned char *b, size_t n)
{
    size_t m = n < 64 ? n : 64, z[4] = {0, 0, 0, 0};

    if (n >= 4 && b[0] == 0xff && b[1] == 0xfe && b[2] == 0 && b[3] == 0)
        return "UTF-32LE (with a byte order mark)";
    if (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0xfe && b[3] == 0xff)
        return "UTF-32BE (with a byte order mark)";
    if (n >= 2 && b[0] == 0xff && b[1] == 0xfe)
        return "UTF-16LE (with a byte order mark)";
    if (n >= 2 && b[0] == 0xfe && b[1] == 0xff)
        return "UTF-16BE (with a byte order mark)";
    if (m < 4)
        return NULL;
    m &= ~(size_t)3;
    for (size_t i = 0; i < m; i++)
        if (b[i] == 0)
            z[i % 4]++;
    /* ASCII text: the NULs fill whole positions of every unit */
    if (z[1] == m / 4 && z[2] == m / 4 && z[3] == m / 4 && z[0] == 0)
        return "UTF-32LE (no byte order mark)";
    if (z[0] == m / 4 && z[1] == m / 4 && z[2] == m / 4 && z[3] == 0)
        return "UTF-32BE (no byte order mark)";
    if (z[1] + z[3] >= m / 2 - m / 16 && z[0] + z[2] == 0)
        return "UTF-16LE (no byte order mark)";
    if (z[0] + z[2] >= m / 2 - m / 16 && z[1] + z[3] == 0)
        return "UTF-16BE (no byte order mark)";
    return NULL;
}

struct csvread *
csvread_open(const char *path, const struct csvread_params *p, struct err *e)
{
    struct csvread *r = xcalloc(1, sizeof *r);
    const char *enc_name;

    r->path = path;
    r->fd = -1;
    r->cd = (iconv_t)-1;
    r->enc = p->encoding;
    r->line = 1;
    buf_init(&r->row, CSV_ROW_MAX + CSV_FIELDS_MAX);
    r->off = xcalloc(CSV_FIELDS_MAX, sizeof *r->off);
    r->lens = xcalloc(CSV_FIELDS_MAX, sizeof *r->lens);
    r->fields = xcalloc(CSV_FIELDS_MAX, sizeof *r->fields);

    if (strcmp(path, "-") == 0) {
        r->fd = dup(STDIN_FILENO);
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (r->fd == -1) {
        err_set(e, EX_NOINPUT, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (fill(r, e) == -1)
        goto fail;
    if ((enc_name = wide_encoding((const unsigned char *)r->in, r->end)) !=
        NULL) {
        err_set(e, EX_DATAERR,
                "%s:1: the file is %s; save it as CSV UTF-8 "
                "(or Windows-1252 and use --encoding windows-1252)",
                path, enc_name);
        goto fail;
    }
    if (r->end >= 3 && memcmp(r->in, "\xef\xbb\xbf", 3) == 0)
        r->pos = 3;
    if (r->enc != CSV_ENC_UTF8) {
        r->cd = iconv_open("UTF-8", r->enc == CSV_ENC_LATIN1 ? "ISO-8859-1"
                                                             : "WINDOWS-1252");
        if (r->cd == (iconv_t)-1) {
            err_set(e, EX_SOFTWARE, "iconv: %s", strerror(errno));
            goto fail;
        }
        r->convcap = 3 * CSV_CHUNK + 8;
        r->conv = xmalloc(r->convcap);
    }
    r->delim =
        p->delimiter ? p->delimiter : sniff(r->in + r->pos, r->end - r->pos);
    if (csv_init(&r->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) !=
        0) {
        err_set(e, EX_SOFTWARE, "csv_init failed");
        goto fail;
    }
    csv_set_delim(&r->parser, (unsigned char)r->delim);
    csv_set_space_func(&r->parser, is_space_none);
    /* libcsv grows a field 128 bytes at a time by default: quadratic
     * copying for long fields; grow by chunks instead */
    csv_set_blk_size(&r->parser, CSV_CHUNK);
    return r;
fail:
    csvread_free(r);
    return NULL;
}

char
csvread_delimiter(const struct csvread *r)
{
    return r->delim;
}

void
csvread_free(struct csvread *r)
{
    if (r == NULL)
        return;
    if (r->fd != -1) {
        close(r->fd);
        csv_free(&r->parser);
    }
    if (r->cd != (iconv_t)-1)
        iconv_close(r->cd);
    free(r->conv);
    buf_free(&r->row);
    free(r->off);
    free(r->lens);
    free(r->fields);
    free(r);
}

/* convert - the piece in the input encoding to UTF-8. */
static int
convert(struct csvread *r, const char *s, size_t n, const char **out,
        size_t *outlen, struct err *e)
{
    char *ip = (char *)s, *op = r->conv;
    size_t il = n, ol = r->convcap;

    iconv(r->cd, NULL, NULL, NULL, NULL);
    if (iconv(r->cd, &ip, &il, &op, &ol) == (size_t)-1)
        return err_set(e, EX_DATAERR,
                       "%s:%lu: byte 0x%02x (byte %zu of the line) is not "
                       "valid %s",
                       r->path, r->line, (unsigned char)*ip,
                       r->line_off + (size_t)(ip - s) + 1,
                       r->enc == CSV_ENC_LATIN1 ? "Latin-1" : "Windows-1252");
    *out = r->conv;
    *outlen = r->convcap - ol;
    return 0;
}

/* feed - give one piece to libcsv and check what it did. */
static int
feed(struct csvread *r, const char *s, size_t n, struct err *e)
{
    const char *p = s;
    size_t len = n;

    if (r->cd != (iconv_t)-1 && convert(r, s, n, &p, &len, e) == -1)
        return -1;
    if (r->parser.pstate == 0)
        r->rec_line = r->line;
    if (csv_parse(&r->parser, p, len, field_cb, record_cb, r) != len &&
        !r->failed) {
        return err_set(e, EX_DATAERR,
                       "%s:%lu: malformed quoting (a quote inside an "
                       "unquoted field, or text after a closing quote)",
                       r->path, r->line);
    }
    if (r->failed) {
        *e = r->cb_err;
        return -1;
    }
    if (r->parser.entry_pos > CSV_FIELD_MAX)
        return err_set(e, EX_DATAERR,
                       "%s:%lu: field %zu is longer than %d bytes", r->path,
                       r->rec_line, r->nfields + 1, CSV_FIELD_MAX);
    return 0;
}

/* next_piece - the next physical line (or CSV_CHUNK of it); 0 at EOF. */
static int
next_piece(struct csvread *r, const char **s, size_t *n, int *newline,
           struct err *e)
{
    size_t avail, win;
    const char *base, *nl, *cr;

    avail = r->end - r->pos;
    if (avail < CSV_CHUNK + 1 && !r->eof) {
        if (fill(r, e) == -1)
            return -1;
        avail = r->end - r->pos;
    }
    if (avail == 0)
        return 0;
    base = r->in + r->pos;
    win = avail < CSV_CHUNK ? avail : CSV_CHUNK;
    *newline = 0;
    nl = memchr(base, '\n', win);
    cr = memchr(base, '\r', nl ? (size_t)(nl - base) : win);
    if (cr != NULL) {
        size_t i = (size_t)(cr - base);
        if (i + 1 < avail && base[i + 1] == '\n')
            *n = i + 2;
        else
            *n = i + 1;
        *newline = 1;
    } else if (nl != NULL) {
        *n = (size_t)(nl - base) + 1;
        *newline = 1;
    } else {
        *n = win;
    }
    *s = base;
    r->pos += *n;
    return 1;
}

int
csvread_next(struct csvread *r, const struct csv_record **rec, struct err *e)
{
    const char *s;
    size_t n;
    int newline, rc;

    r->have_record = 0;
    r->nfields = 0;
    buf_reset(&r->row);
    for (;;) {
        rc = next_piece(r, &s, &n, &newline, e);
        if (rc == -1)
            return -1;
        if (rc == 0) {
            if (csv_fini(&r->parser, field_cb, record_cb, r) != 0 && !r->failed)
                return err_set(e, EX_DATAERR,
                               "%s:%lu: unterminated quoted field (the "
                               "quote opens in the record starting here)",
                               r->path, r->rec_line);
            if (r->failed) {
                *e = r->cb_err;
                return -1;
            }
            if (!r->have_record)
                return 0;
            break;
        }
        if (feed(r, s, n, e) == -1)
            return -1;
        if (newline) {
            r->line++;
            r->line_off = 0;
        } else {
            r->line_off += n;
        }
        if (r->have_record)
            break;
    }
    for (size_t i = 0; i < r->nfields; i++)
        r->fields[i] = r->row.p + r->off[i];
    r->rec.nfields = r->nfields;
    r->rec.field = r->fields;
    r->rec.len = r->lens;
    r->rec.line = r->rec_line;
    *rec = &r->rec;
    return 1;
}
