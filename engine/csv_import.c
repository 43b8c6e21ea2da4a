/* SPDX-License-Identifier: ISC */
/*
 * csv_import.c - one CSV file into the contacts table (see csv_import.h).
 *
 * Each row goes through two steps.  prepare() is pure: validate and
 * normalise the email, build the attributes as a JSON object, hash the
 * address, or decide why the row is refused.  apply() does everything
 * that shows: counts, reject reports, one insert-or-merge of the contact
 * and (with --list) its list membership, added with the rest of its
 * batch in one statement.  Everything is inside one BEGIN IMMEDIATE
 * transaction per file, so a parse error, a full disk or a kill -9 leaves
 * the database as it was.
 *
 * The two steps run as a pipeline on two threads, because the store's
 * b-tree work (80% of an import) and the reading, parsing, validation and
 * hashing (the other 20%) can overlap: the calling thread reads the file
 * and prepares rows into batches; an applier thread applies the batches
 * in file order.  So the output (counts, rejects, which error is reported
 * first) is what a single loop would give.  The store connection belongs
 * to the applier from pthread_create to pthread_join and to the caller
 * outside; the reader touches neither the store nor the output.  Memory
 * is bounded by PIPE_BATCHES batches of at most PIPE_TEXT bytes (plus one
 * row) whatever the file size.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <csv.h>

#include "buf.h"
#include "csv_import.h"
#include "digest.h"
#include "email.h"
#include "bounds.h"
#include "log.h"
#include "xalloc.h"

/* What a column means. */
enum col_kind {
    COL_ATTR,       /* an attribute */
    COL_EMAIL,      /* the address */
    COL_JSON_ATTRS, /* listmonk: a JSON object of attributes */
    COL_UNSUB_TIME, /* Mailchimp: set when the person unsubscribed */
    COL_CLEAN_TIME, /* Mailchimp: set when the address was cleaned */
    COL_LM_STATUS,  /* listmonk: "blocklisted" means opted out */
};

struct column {
    enum col_kind kind;
    char *name;     /* attribute name (normalised) */
    char *key_json; /* "name": pre-escaped, with quotes and colon */
};

/*
 * The pipeline.  A batch is handed over whole, so the threads meet once
 * per PIPE_ROWS rows, not per row; PIPE_BATCHES lets the reader run ahead
 * while the applier waits on the disk.
 */
#define PIPE_BATCHES 4
#define PIPE_ROWS 1024
#define PIPE_TEXT (256 * 1024) /* a batch is full past this many bytes */
/* A batch's text: PIPE_TEXT plus one row, which is at most an address and
 * attributes of 2 * CSV_ROW_MAX (JSON escaping can double a record), or a
 * reason and a copy of the record (CSV_ROW_MAX and its lengths). */
#define PIPE_TEXT_MAX (PIPE_TEXT + 3 * CSV_ROW_MAX)

enum prep_kind {
    PREP_ROW,    /* a contact to store */
    PREP_REJECT, /* a refused row */
};

/* One data record, prepared. */
struct prep {
    enum prep_kind kind;
    unsigned long line;
    /*
     * Offset in the batch text.  PREP_ROW: the address, NUL, the
     * attributes, NUL.  PREP_REJECT: the reason, NUL, then nfields copies
     * of the fields, each as its length (a size_t) and its bytes.
     */
    size_t text;
    size_t nfields;
    const char *optout; /* PREP_ROW: reason to suppress (static), or NULL */
    uint8_t hash[DIGEST_LEN];
    /* PREP_ROW with an IDN domain and an ASCII local part: the hash of the
     * A-label form, which an older release may have suppressed (email.h,
     * email_alabel_form) */
    int has_legacy;
    uint8_t legacy[DIGEST_LEN];
};

struct batch {
    struct prep *items; /* PIPE_ROWS */
    size_t n;
    struct buf text;
    int last; /* the reader stopped after this batch */
};

/* The ring of batches between the reader (tail) and the applier (head). */
struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t filled, freed;
    struct batch b[PIPE_BATCHES];
    size_t head, count;
    int failed;     /* the applier stopped on an error ... */
    struct err err; /* ... this one */
};

struct importer {
    struct store *st;
    struct import_params *p;
    struct import_counts *c;
    const char *path;
    const char *salt; /* the store's hash salt, read once */
    int legacy;       /* store_legacy_hashes: try A-label forms' hashes */
    struct column *cols;
    size_t ncols;
    size_t email_col;
    int64_t list_id;
    int64_t run;
    int64_t now;
    struct buf attrs;  /* reader: the row's attributes being built */
    struct buf merged; /* applier: merged attributes */
    struct buf tmp;
    long existing; /* distinct contacts of the file that existed before */
    const struct csv_record *header;
    char **header_copy;
    size_t nheader;
    int64_t members[PIPE_ROWS]; /* applier: the batch's contacts, for --list */
    size_t nmembers;
    const char **rej_field; /* applier: a refused record, rebuilt */
    size_t *rej_len;
    struct pipe pipe;
};

/* Header names (normalised) that mean "the email address". */
static const char *const email_headers[] = {
    "email",
    "e_mail",
    "email_address",
    "e_mail_address",
    "emailaddress",
    "mail",
    "mail_address",
    "email_addr",
    "e_mail_adresse",
    "email_adresse",
    "emailadresse",
    "mailadresse",
    "adresse_mail",
    "adresse_e_mail",
    "adresse_email",
    "courriel",
    "indirizzo_email",
    "indirizzo_e_mail",
    "correo",
    "correo_electronico",
    "correo_electrónico",
    "endereco_de_email",
    "e_mailadres",
    "emailadres",
    "subscriber_email",
    NULL,
};

int
import_is_email_header(const char *name)
{
    for (size_t i = 0; email_headers[i]; i++)
        if (strcmp(name, email_headers[i]) == 0)
            return 1;
    return 0;
}

size_t
import_attr_name(const char *in, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    int pending = 0;

    if (outsz == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        int keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   (c >= 'A' && c <= 'Z') || c >= 0x80;
        if (!keep) {
            pending = o > 0;
            continue;
        }
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + ('a' - 'A'));
        /* Latin-1 capitals (U+00C0-U+00DE but U+00D7): C3 80-9E */
        if (c == 0xc3 && i + 1 < n && (unsigned char)in[i + 1] >= 0x80 &&
            (unsigned char)in[i + 1] <= 0x9e &&
            (unsigned char)in[i + 1] != 0x97) {
            if (pending) {
                if (o + 2 >= outsz)
                    break;
                out[o++] = '_';
                pending = 0;
            }
            if (o + 3 >= outsz)
                break;
            out[o++] = (char)c;
            out[o++] = (char)((unsigned char)in[++i] + 0x20);
            continue;
        }
        if (pending) {
            if (o + 2 >= outsz)
                break;
            out[o++] = '_';
            pending = 0;
        }
        if (o + 1 >= outsz)
            break;
        out[o++] = (char)c;
    }
    /* never cut a UTF-8 sequence in half */
    if (o > 0 && ((unsigned char)out[o - 1] & 0x80)) {
        size_t k = o - 1;
        while (k > 0 && ((unsigned char)out[k] & 0xc0) == 0x80)
            k--;
        unsigned char lead = (unsigned char)out[k];
        size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (o - k < need)
            o = k;
    }
    out[o] = '\0';
    return o;
}

/* json_str - append s (n bytes of valid UTF-8) as a JSON string. */
static int
json_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;

    if (buf_putc(b, '"') == -1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
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
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = '\0';
            esc = u;
            break;
        }
        if (buf_append(b, s + start, i - start) == -1 || buf_puts(b, esc) == -1)
            return -1;
        start = i + 1;
    }
    if (buf_append(b, s + start, n - start) == -1 || buf_putc(b, '"') == -1)
        return -1;
    return 0;
}

/* trim - strip ASCII spaces and tabs at both ends. */
static const char *
trim(const char *s, size_t *n)
{
    while (*n > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        (*n)--;
    }
    while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        (*n)--;
    return s;
}

static void
columns_free(struct importer *im)
{
    for (size_t i = 0; i < im->ncols; i++) {
        free(im->cols[i].name);
        free(im->cols[i].key_json);
    }
    free(im->cols);
    for (size_t i = 0; i < im->nheader; i++)
        free(im->header_copy[i]);
    free(im->header_copy);
    free(im->rej_field);
    free(im->rej_len);
}

/* map_header - decide what each column means. */
static int
map_header(struct importer *im, const struct csv_record *h, struct err *e)
{
    char name[ATTR_NAME_MAX + 1];
    int found = 0;
    struct buf seen;

    im->ncols = h->nfields;
    im->cols = xcalloc(h->nfields ? h->nfields : 1, sizeof *im->cols);
    im->nheader = h->nfields;
    im->header_copy = xcalloc(h->nfields ? h->nfields : 1, sizeof(char *));
    im->rej_field = xcalloc(h->nfields ? h->nfields : 1, sizeof(char *));
    im->rej_len = xcalloc(h->nfields ? h->nfields : 1, sizeof(size_t));
    for (size_t i = 0; i < h->nfields; i++) {
        size_t n = h->len[i];
        const char *s = trim(h->field[i], &n);
        im->header_copy[i] = xstrndup(h->field[i], h->len[i]);
        if (import_attr_name(s, n, name, sizeof name) == 0)
            snprintf(name, sizeof name, "column_%zu", i + 1);
        if (!found && import_is_email_header(name)) {
            im->cols[i].kind = COL_EMAIL;
            im->email_col = i;
            found = 1;
        } else if (strcmp(name, "attributes") == 0 ||
                   strcmp(name, "attribs") == 0) {
            im->cols[i].kind = COL_JSON_ATTRS;
        } else if (strcmp(name, "unsub_time") == 0) {
            im->cols[i].kind = COL_UNSUB_TIME;
        } else if (strcmp(name, "clean_time") == 0) {
            im->cols[i].kind = COL_CLEAN_TIME;
        }
        /* make the name unique among earlier columns */
        char unique[ATTR_NAME_MAX + 16];
        snprintf(unique, sizeof unique, "%s", name);
        for (int k = 2;; k++) {
            int clash = strcmp(unique, "email") == 0 && i != im->email_col;
            for (size_t j = 0; j < i && !clash; j++)
                clash = strcmp(im->cols[j].name, unique) == 0;
            if (!clash)
                break;
            snprintf(unique, sizeof unique, "%s_%d", name, k);
        }
        im->cols[i].name = xstrdup(unique);
        if (im->cols[i].kind == COL_ATTR && strcmp(unique, "status") == 0)
            im->cols[i].kind = COL_LM_STATUS; /* still stored as attribute */
        buf_init(&seen, 0);
        if (json_str(&seen, unique, strlen(unique)) == -1 ||
            buf_putc(&seen, ':') == -1) {
            buf_free(&seen);
            return err_set(e, EX_SOFTWARE, "header too long");
        }
        im->cols[i].key_json = buf_steal(&seen);
    }
    if (!found) {
        struct buf b;
        buf_init(&b, 400);
        for (size_t i = 0; i < h->nfields; i++) {
            char pr[64];
            log_printable(pr, sizeof pr, h->field[i], h->len[i]);
            if (buf_printf(&b, "%s\"%s\"", i ? ", " : "", pr) == -1)
                break;
        }
        err_set(e, EX_DATAERR,
                "%s:%lu: no email column; the header has %s (name one "
                "column \"email\")",
                im->path, h->line, b.len ? b.p : "no columns");
        buf_free(&b);
        return -1;
    }
    return 0;
}

void
csv_write_cell(FILE *f, const char *s, size_t n)
{
    if (n > 0 && memchr("=+-@\t\r", s[0], 6) != NULL) {
        fputs("\"'", f);
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '"')
                fputc('"', f);
            fputc(s[i], f);
        }
        fputc('"', f);
        return;
    }
    csv_fwrite(f, s, n);
}

/* our_column - the name of one of the columns the rejects file adds
 * (file, line, reason): "reject_NAME" when the input has a column of that
 * name already, so that no name is doubled. */
static const char *
our_column(const struct importer *im, const char *name, char *buf, size_t n)
{
    for (size_t i = 0; i < im->nheader; i++)
        if (strcasecmp(im->header_copy[i], name) == 0) {
            snprintf(buf, n, "reject_%s", name);
            return buf;
        }
    return name;
}

/* reject - report one refused row: on stderr (line and reason), or in the
 * rejects file (the record's fields, file, line, reason). */
static void
reject(struct importer *im, const struct csv_record *r, const char *reason)
{
    char linebuf[32];
    FILE *f = im->p->rejects;

    im->c->rejected++;
    if (f == NULL) {
        if ((unsigned long)im->c->rejected <= im->p->stderr_max)
            log_warnx("%s:%lu: %s", im->path, r->line, reason);
        else if ((unsigned long)im->c->rejected == im->p->stderr_max + 1)
            log_warnx("%s: more rejects not shown (use --rejects FILE)",
                      im->path);
        return;
    }
    if (!im->p->rejects_header) {
        static const char *const ours[] = {"file", "line", "reason"};
        char col[32];
        for (size_t i = 0; i < im->nheader; i++) {
            csv_write_cell(f, im->header_copy[i], strlen(im->header_copy[i]));
            fputc(',', f);
        }
        for (size_t i = 0; i < 3; i++) {
            const char *c = our_column(im, ours[i], col, sizeof col);
            csv_fwrite(f, c, strlen(c));
            fputs(i < 2 ? "," : "\r\n", f);
        }
        im->p->rejects_header = 1;
    }
    for (size_t i = 0; i < im->nheader; i++) {
        if (i < r->nfields)
            csv_write_cell(f, r->field[i], r->len[i]);
        fputc(',', f);
    }
    csv_write_cell(f, im->path, strlen(im->path));
    snprintf(linebuf, sizeof linebuf, ",%lu,", r->line);
    fputs(linebuf, f);
    csv_write_cell(f, reason, strlen(reason));
    fputs("\r\n", f);
}

/* add_json_attrs - merge listmonk's attributes JSON object into attrs. */
static int
add_json_attrs(struct importer *im, const char *s, size_t n, int *first,
               const char **why)
{
    json_error_t jerr;
    json_t *obj;
    const char *key;
    json_t *val;
    int rc = 0;

    if (n == 0)
        return 0;
    obj = json_loadb(s, n, 0, &jerr);
    if (obj == NULL || !json_is_object(obj)) {
        json_decref(obj);
        *why = "the attributes column is not a JSON object";
        return -1;
    }
    json_object_foreach(obj, key, val)
    {
        int clash = strcmp(key, "email") == 0;
        for (size_t i = 0; i < im->ncols && !clash; i++)
            clash = im->cols[i].kind != COL_JSON_ATTRS &&
                    strcmp(im->cols[i].name, key) == 0;
        if (clash)
            continue;
        char *v = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
        if (v == NULL || (!*first && buf_putc(&im->attrs, ',') == -1) ||
            json_str(&im->attrs, key, strlen(key)) == -1 ||
            buf_putc(&im->attrs, ':') == -1 || buf_puts(&im->attrs, v) == -1) {
            *why = "attributes too large";
            rc = -1;
        }
        free(v);
        *first = 0;
        if (rc == -1)
            break;
    }
    json_decref(obj);
    return rc;
}

/*
 * merge - the new attributes (JSON object text) over the old: into
 * im->merged, and *changed set when any value differs.  The common cases
 * (nothing new, or the very same text) are decided without parsing.
 */
static int
merge(struct importer *im, const char *old, const char *neu, int *changed,
      struct err *e)
{
    json_t *o, *n, *v;
    const char *k;
    char *d;

    *changed = 0;
    if (!im->p->update || strcmp(neu, "{}") == 0 || strcmp(old, neu) == 0)
        return 0;
    o = json_loads(old, 0, NULL);
    n = json_loads(neu, 0, NULL);
    if (o == NULL || n == NULL || !json_is_object(o)) {
        json_decref(o);
        json_decref(n);
        return err_set(e, EX_DATAERR, "stored attributes are not JSON");
    }
    json_object_foreach(n, k, v)
    {
        json_t *was = json_object_get(o, k);
        if (was == NULL || !json_equal(was, v)) {
            json_object_set(o, k, v);
            *changed = 1;
        }
    }
    if (*changed) {
        d = json_dumps(o, JSON_COMPACT);
        buf_reset(&im->merged);
        if (d == NULL || buf_puts(&im->merged, d) == -1) {
            free(d);
            json_decref(o);
            json_decref(n);
            return err_set(e, EX_DATAERR, "attributes too large");
        }
        free(d);
    }
    json_decref(o);
    json_decref(n);
    return 0;
}

/*
 * store_row - insert the contact or merge into the existing one, keeping
 * the run's bookkeeping (store.h): the first sight of an existing contact
 * counts it; a repeat inside the file only merges.  The insert is tried
 * first because most rows of a large file are new addresses: one probe of
 * the email index instead of a look-up followed by an insert.
 */
static int
store_row(struct importer *im, const char *email, const char *attrs,
          const struct prep *it, int64_t *id, struct err *e)
{
    struct store_found f;
    struct store_touch t;
    int rc, changed;

    rc = store_contact_insert(im->st, email, attrs, it->hash,
                              it->has_legacy ? it->legacy : NULL, im->now,
                              im->run, id, e);
    if (rc == -1)
        return -1;
    if (rc == 1) {
        im->c->imported++;
        return 0;
    }
    rc = store_contact_find(im->st, email, im->run, &f, e);
    if (rc == -1)
        return -1;
    if (rc == 0) /* the insert saw it, inside our own transaction */
        return err_set(e, EX_SOFTWARE, "%s: contact <%s> vanished", im->path,
                       email);
    *id = f.id;
    if (merge(im, f.attrs, attrs, &changed, e) == -1)
        return -1;
    memset(&t, 0, sizeof t);
    t.id = f.id;
    t.run = im->run;
    if (f.same_run) {
        if (!changed)
            return 0;
        t.attrs = im->merged.p;
        t.updated_at = im->now;
        t.keep_prev = f.new_in_run || f.has_prev;
        t.prev_attrs = f.attrs;
        t.prev_updated = f.updated_at;
        t.new_in_run = f.new_in_run;
        return store_contact_touch(im->st, &t, e);
    }
    im->existing++;
    t.attrs = changed ? im->merged.p : f.attrs;
    t.updated_at = changed ? im->now : f.updated_at;
    t.prev_attrs = changed ? f.attrs : NULL;
    t.prev_updated = f.updated_at;
    return store_contact_touch(im->st, &t, e);
}

/* refuse - make the next item of b a refused row, with its reason and,
 * for a rejects file, a copy of the record. */
static int refuse(struct importer *im, const struct csv_record *r,
                  struct batch *b, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
refuse(struct importer *im, const struct csv_record *r, struct batch *b,
       struct err *e, const char *fmt, ...)
{
    char reason[300];
    struct prep *it = &b->items[b->n];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    it->kind = PREP_REJECT;
    it->line = r->line;
    it->text = b->text.len;
    it->nfields = 0;
    it->optout = NULL;
    if (buf_append(&b->text, reason, strlen(reason) + 1) == -1)
        return err_set(e, EX_SOFTWARE, "import batch overflow");
    if (im->p->rejects != NULL) {
        it->nfields = r->nfields < im->nheader ? r->nfields : im->nheader;
        for (size_t i = 0; i < it->nfields; i++) {
            if (buf_append(&b->text, &r->len[i], sizeof r->len[i]) == -1 ||
                buf_append(&b->text, r->field[i], r->len[i]) == -1)
                return err_set(e, EX_SOFTWARE, "import batch overflow");
        }
    }
    b->n++;
    return 0;
}

/*
 * prepare - validate one data record and make it the next item of b: a
 * contact (normal address, attributes, hash, opt-out) or a refusal.  No
 * side effect: it runs ahead of apply() on the reader thread.  -1 only on
 * an internal error.
 */
static int
prepare(struct importer *im, const struct csv_record *r, struct batch *b,
        struct err *e)
{
    char email[EMAIL_MAX + 1], alabel[EMAIL_MAX + 1];
    const char *why = NULL, *optout = NULL;
    struct prep *it;
    int first = 1;

    for (size_t i = 0; i < r->nfields; i++) {
        if (memchr(r->field[i], '\0', r->len[i]) != NULL)
            return refuse(im, r, b, e, "NUL byte in column %zu (%s)", i + 1,
                          i < im->ncols ? im->cols[i].name : "extra");
    }
    for (size_t i = im->ncols; i < r->nfields; i++) {
        if (r->len[i] != 0)
            return refuse(im, r, b, e, "%zu fields but the header has %zu",
                          r->nfields, im->ncols);
    }
    if (im->email_col >= r->nfields)
        return refuse(im, r, b, e, "no email field (%zu fields)", r->nfields);
    if (email_normalize(r->field[im->email_col], r->len[im->email_col], email,
                        &why) == -1) {
        char pr[80];
        log_printable(pr, sizeof pr, r->field[im->email_col],
                      r->len[im->email_col]);
        return refuse(im, r, b, e, "%s: \"%s\"", why, pr);
    }

    buf_reset(&im->attrs);
    if (buf_putc(&im->attrs, '{') == -1)
        return err_set(e, EX_SOFTWARE, "attributes buffer");
    for (size_t i = 0; i < im->ncols && i < r->nfields; i++) {
        const struct column *col = &im->cols[i];
        size_t n = r->len[i];
        const char *v = trim(r->field[i], &n);

        switch (col->kind) {
        case COL_EMAIL:
            continue;
        case COL_JSON_ATTRS:
            if (add_json_attrs(im, v, n, &first, &why) == -1)
                return refuse(im, r, b, e, "%s", why);
            continue;
        case COL_UNSUB_TIME:
            if (n > 0)
                optout = "unsubscribed";
            break;
        case COL_CLEAN_TIME:
            if (n > 0)
                optout = "bounced";
            break;
        case COL_LM_STATUS:
            if (n == 11 && strncasecmp(v, "blocklisted", 11) == 0)
                optout = "unsubscribed";
            break;
        case COL_ATTR:
            break;
        }
        if (n == 0)
            continue; /* an empty cell never erases a value */
        if ((!first && buf_putc(&im->attrs, ',') == -1) ||
            buf_puts(&im->attrs, col->key_json) == -1 ||
            json_str(&im->attrs, v, n) == -1)
            return refuse(im, r, b, e, "attributes longer than %zu bytes",
                          im->attrs.max);
        first = 0;
    }
    if (buf_putc(&im->attrs, '}') == -1)
        return refuse(im, r, b, e, "attributes too long");

    it = &b->items[b->n];
    it->kind = PREP_ROW;
    it->line = r->line;
    it->text = b->text.len;
    it->nfields = 0;
    it->optout = optout;
    digest_email(im->salt, email, it->hash);
    /* only for an IDN domain (email.c keeps its forms: an ASCII address
     * costs two scans, an IDN one a cache look-up) */
    it->has_legacy = im->legacy && email_alabel_form(email, alabel);
    if (it->has_legacy)
        digest_email(im->salt, alabel, it->legacy);
    if (buf_append(&b->text, email, strlen(email) + 1) == -1 ||
        buf_append(&b->text, im->attrs.p, im->attrs.len + 1) == -1)
        return err_set(e, EX_SOFTWARE, "import batch overflow");
    b->n++;
    return 0;
}

/* apply - count, report or store one prepared row (applier thread). */
static int
apply(struct importer *im, const struct batch *b, const struct prep *it,
      struct err *e)
{
    const char *text = b->text.p + it->text, *email, *attrs;
    int64_t contact_id;

    im->c->rows++;
    if (it->kind == PREP_REJECT) {
        struct csv_record r = {
            .nfields = it->nfields,
            .field = im->rej_field,
            .len = im->rej_len,
            .line = it->line,
        };
        const char *p = text + strlen(text) + 1; /* after the reason */

        for (size_t i = 0; i < it->nfields; i++) {
            memcpy(&im->rej_len[i], p, sizeof im->rej_len[i]);
            im->rej_field[i] = p + sizeof im->rej_len[i];
            p += sizeof im->rej_len[i] + im->rej_len[i];
        }
        reject(im, &r, text);
        return 0;
    }
    email = text;
    attrs = email + strlen(email) + 1;
    if (store_row(im, email, attrs, it, &contact_id, e) == -1)
        return -1;
    if (im->list_id > 0) /* added per batch, by applier() */
        im->members[im->nmembers++] = contact_id;
    if (it->optout != NULL) {
        struct store_suppression s = {
            .hash = it->hash,
            .email = email,
            .reason = it->optout,
            .source = im->tmp.p,
            .created_at = im->now,
        };
        /* a suppression an older release keyed by the A-label form
         * becomes the canonical form's: one row per person */
        if (it->has_legacy && store_suppression_rekey(im->st, it->legacy,
                                                      it->hash, email, e) == -1)
            return -1;
        if (store_suppress(im->st, &s, e) == -1)
            return -1;
        im->c->suppressed++;
    }
    return 0;
}

/* applier - the applier thread: apply batches in order until the last
 * one or an error, which stops the reader.  The list memberships of a
 * batch are added together, after its rows: nothing in between reads
 * them. */
static void *
applier(void *arg)
{
    struct importer *im = arg;
    struct pipe *q = &im->pipe;
    struct batch *b;
    int rc, last;

    do {
        pthread_mutex_lock(&q->mu);
        while (q->count == 0)
            pthread_cond_wait(&q->filled, &q->mu);
        b = &q->b[q->head];
        pthread_mutex_unlock(&q->mu);

        rc = 0;
        im->nmembers = 0;
        for (size_t i = 0; i < b->n && rc == 0; i++)
            rc = apply(im, b, &b->items[i], &q->err);
        if (rc == 0)
            rc = store_memberships_add(im->st, im->list_id, im->members,
                                       im->nmembers, im->now, &q->err);
        last = b->last;

        pthread_mutex_lock(&q->mu);
        q->head = (q->head + 1) % PIPE_BATCHES;
        q->count--;
        if (rc == -1)
            q->failed = 1;
        pthread_cond_signal(&q->freed);
        pthread_mutex_unlock(&q->mu);
    } while (rc == 0 && !last);
    return NULL;
}

/* fill - read and prepare rows into b until it is full (1), the file
 * ends (0) or an error (-1); b->last is set on 0 and -1. */
static int
fill(struct importer *im, struct csvread *rd, struct batch *b, struct err *e)
{
    const struct csv_record *rec;
    int rc;

    b->n = 0;
    b->last = 0;
    if (b->text.cap > 2 * PIPE_TEXT)
        buf_free(&b->text); /* give back what a huge row took */
    buf_reset(&b->text);
    while (b->n < PIPE_ROWS && b->text.len < PIPE_TEXT) {
        rc = csvread_next(rd, &rec, e);
        if (rc == 1 && prepare(im, rec, b, e) == -1)
            rc = -1;
        if (rc != 1) {
            b->last = 1;
            return rc;
        }
    }
    return 1;
}

/*
 * pipeline - the data rows of rd through prepare() here and apply() on an
 * applier thread.  On error, e is the first error in file order: the
 * applier's (a row it could not store) or else the reader's (a malformed
 * record after all the rows it read).
 */
static int
pipeline(struct importer *im, struct csvread *rd, struct err *e)
{
    struct pipe *q = &im->pipe;
    pthread_t tid;
    size_t tail = 0;
    int rc, failed;

    memset(q, 0, sizeof *q);
    for (size_t i = 0; i < PIPE_BATCHES; i++) {
        q->b[i].items = xcalloc(PIPE_ROWS, sizeof *q->b[i].items);
        buf_init(&q->b[i].text, PIPE_TEXT_MAX);
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->filled, NULL);
    pthread_cond_init(&q->freed, NULL);
    /* jansson's hash seed is its only global state: set it before two
     * threads can make JSON objects */
    json_object_seed(0);
    if ((rc = pthread_create(&tid, NULL, applier, im)) != 0) {
        err_set(e, EX_OSERR, "cannot start the import thread: %s",
                strerror(rc));
        failed = 1;
        goto done;
    }
    do {
        struct batch *b = &q->b[tail];

        pthread_mutex_lock(&q->mu);
        while (q->count == PIPE_BATCHES && !q->failed)
            pthread_cond_wait(&q->freed, &q->mu);
        failed = q->failed;
        pthread_mutex_unlock(&q->mu);
        if (failed)
            break;
        rc = fill(im, rd, b, e);
        tail = (tail + 1) % PIPE_BATCHES;
        pthread_mutex_lock(&q->mu);
        q->count++;
        pthread_cond_signal(&q->filled);
        pthread_mutex_unlock(&q->mu);
    } while (rc == 1);
    pthread_join(tid, NULL);
    failed = q->failed || rc == -1;
    if (q->failed)
        *e = q->err;
done:
    pthread_cond_destroy(&q->freed);
    pthread_cond_destroy(&q->filled);
    pthread_mutex_destroy(&q->mu);
    for (size_t i = 0; i < PIPE_BATCHES; i++) {
        free(q->b[i].items);
        buf_free(&q->b[i].text);
    }
    return failed ? -1 : 0;
}

int
import_file(struct store *st, const char *path, struct import_params *p,
            struct import_counts *c, struct err *e)
{
    struct importer im;
    struct csvread *rd;
    const struct csv_record *rec;
    int rc, in_tx = 0;

    memset(c, 0, sizeof *c);
    memset(&im, 0, sizeof im);
    im.st = st;
    im.p = p;
    im.c = c;
    im.path = path;
    im.salt = store_hash_salt(st);
    im.legacy = store_legacy_hashes(st);
    im.now = (int64_t)time(NULL);
    buf_init(&im.attrs, CSV_ROW_MAX * 2);
    buf_init(&im.merged, CSV_ROW_MAX * 4);
    buf_init(&im.tmp, 0);

    if ((rd = csvread_open(path, &p->csv, e)) == NULL)
        goto fail;
    rc = csvread_next(rd, &rec, e);
    if (rc == -1)
        goto fail;
    if (rc == 0) {
        err_set(e, EX_DATAERR, "%s:1: empty file: no header line", path);
        goto fail;
    }
    if (map_header(&im, rec, e) == -1)
        goto fail;
    if (buf_printf(&im.tmp, "import:%s", path) == -1) {
        err_set(e, EX_USAGE, "%s: path too long", path);
        goto fail;
    }

    if (store_begin(st, e) == -1)
        goto fail;
    in_tx = 1;
    if (p->list != NULL &&
        store_list_ensure(st, p->list, im.now, &im.list_id, e) == -1)
        goto fail;
    if (store_import_begin(st, path, im.list_id, im.now, &im.run, e) == -1)
        goto fail;
    if (pipeline(&im, rd, e) == -1)
        goto fail;
    if (store_import_settle(st, im.run, &c->updated, e) == -1)
        goto fail;
    c->unchanged = im.existing - c->updated;
    if (store_import_end(st, im.run, c->imported, c->updated, c->unchanged,
                         c->rejected, e) == -1)
        goto fail;
    if (p->dry_run)
        store_rollback(st);
    else if (store_commit(st, e) == -1)
        goto fail;
    csvread_free(rd);
    columns_free(&im);
    buf_free(&im.attrs);
    buf_free(&im.merged);
    buf_free(&im.tmp);
    return 0;
fail:
    if (in_tx)
        store_rollback(st);
    csvread_free(rd);
    columns_free(&im);
    buf_free(&im.attrs);
    buf_free(&im.merged);
    buf_free(&im.tmp);
    return -1;
}
