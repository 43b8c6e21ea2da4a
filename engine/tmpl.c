/* SPDX-License-Identifier: ISC */
/*
 * tmpl.c - loading campaign templates (see tmpl.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>

#include "buf.h"
#include "fsutil.h"
#include "tmpl.h"
#include "xalloc.h"

/* A template file is text written by a person: 1 MiB is generous. */
#define TMPL_FILE_MAX (1024 * 1024)
#define TMPL_NAME_MAX 100

/*
 * struct loader - where the files come from: the templates directory
 * (and every file read is kept in `files`, so that tmpl_frozen can give
 * them back), or the files a campaign froze (`frozen`, read-only).  Keys
 * are paths relative to the templates directory: "NAME.mustache",
 * "NAME.txt.mustache", "partials/NAME.mustache".
 */
struct loader {
    const char *top; /* the templates directory as named */
    char *dir;       /* top/partials */
    char *last_path;
    json_t *files;        /* the files read from top */
    const json_t *frozen; /* or the frozen files */
};

/* src_read - the file rel (under top) as a NUL-terminated copy; NULL with
 * errno set (ENOENT when it does not exist, EILSEQ when it is not
 * UTF-8 and so cannot be frozen). */
static char *
src_read(struct loader *l, const char *rel, size_t *len)
{
    char *p, *src;

    if (l->frozen != NULL) {
        const json_t *f = json_object_get(l->frozen, rel);
        if (!json_is_string(f)) {
            errno = ENOENT;
            return NULL;
        }
        *len = json_string_length(f);
        src = xmalloc(*len + 1);
        memcpy(src, json_string_value(f), *len);
        src[*len] = '\0';
        return src;
    }
    p = xasprintf("%s/%s", l->top, rel);
    src = fs_read_file(p, TMPL_FILE_MAX, len);
    free(p);
    if (src != NULL && l->files != NULL) {
        json_t *v = json_stringn(src, *len);
        if (v == NULL) {
            free(src);
            errno = EILSEQ;
            return NULL;
        }
        json_object_set_new(l->files, rel, v);
    }
    return src;
}

/* src_exists - whether rel is there (a layout). */
static int
src_exists(struct loader *l, const char *rel)
{
    size_t n;
    char *s = src_read(l, rel, &n);

    free(s);
    return s != NULL;
}

static int
valid_name(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > TMPL_NAME_MAX || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

/* partial_loader - {{>name}} and {{<name}} from templates/partials. */
static char *
partial_loader(const char *name, size_t *len, const char **path, void *arg)
{
    struct loader *l = arg;
    char *p, *src, *rel;

    if (!valid_name(name))
        return NULL;
    p = xasprintf("%s/%s.mustache", l->dir, name);
    rel = xasprintf("partials/%s.mustache", name);
    src = src_read(l, rel, len);
    free(rel);
    free(l->last_path);
    l->last_path = p;
    *path = p;
    return src;
}

/*
 * shift_lines - a compile or render error names body line L; the file
 * line is L + offset.  Messages have the form "PATH:LINE:COL: ...".
 */
static void
shift_lines(struct err *e, const char *path, int offset)
{
    size_t pl = strlen(path);
    char *end, rest[ERR_MSG_MAX];
    long line;

    if (offset == 0 || strncmp(e->msg, path, pl) != 0 || e->msg[pl] != ':')
        return;
    line = strtol(e->msg + pl + 1, &end, 10);
    if (end == e->msg + pl + 1 || *end != ':')
        return;
    snprintf(rest, sizeof rest, "%s", end);
    snprintf(e->msg + pl + 1, sizeof e->msg - pl - 1, "%ld%s", line + offset,
             rest);
}

static struct template *
compile(const char *src, size_t len, const char *path, int offset,
        struct loader *l, struct err *e)
{
    struct template *t = template_compile(src, len, path, partial_loader, l, e);

    if (t == NULL)
        shift_lines(e, path, offset);
    return t;
}

void
tmpl_error_line(const struct tmpl *t, int off, struct err *e)
{
    shift_lines(e, t->path, off);
}

struct header {
    const char *key;
    char *val;
    int line;
};

void
tmpl_free(struct tmpl *t)
{
    if (t == NULL)
        return;
    free(t->name);
    free(t->path);
    free(t->text_path);
    free(t->subject_src);
    free(t->layout);
    template_free(t->subject);
    template_free(t->preheader);
    template_free(t->from);
    template_free(t->reply_to);
    template_free(t->html);
    template_free(t->text);
    json_decref(t->files);
    free(t);
}

/* load - tmpl_load from dir, or from the frozen files when not NULL. */
static struct tmpl *
load(const char *dir, const char *name, const json_t *frozen, struct err *e)
{
    struct tmpl *t;
    struct loader l;
    char *src = NULL, *text = NULL, *body_src = NULL, *rel;
    size_t len, tlen, pos = 0;
    int line = 1, body_line = 0;
    struct header h[5] = {
        {"subject", NULL, 0},   {"from", NULL, 0},   {"reply-to", NULL, 0},
        {"preheader", NULL, 0}, {"layout", NULL, 0},
    };

    if (!valid_name(name)) {
        err_set(e, EX_USAGE,
                "template name \"%s\": letters, digits, '-', '_' and '.' "
                "only",
                name);
        return NULL;
    }
    t = xcalloc(1, sizeof *t);
    l.top = dir;
    l.dir = xasprintf("%s/partials", dir);
    l.last_path = NULL;
    l.frozen = frozen;
    l.files = frozen == NULL ? json_object() : NULL;
    t->files = l.files;
    t->name = xstrdup(name);
    t->path = xasprintf("%s/%s.mustache", dir, name);
    rel = xasprintf("%s.mustache", name);
    src = src_read(&l, rel, &len);
    free(rel);
    if (src == NULL) {
        err_set(e, errno == ENOENT ? EX_NOINPUT : EX_DATAERR, "%s: %s%s",
                t->path, frozen ? "frozen template: " : "", strerror(errno));
        goto fail;
    }

    /* the header block: "Key: value" lines up to the first blank line */
    while (pos < len) {
        char *nl = memchr(src + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - src) : len;
        size_t le = end;
        if (le > pos && src[le - 1] == '\r')
            le--;
        if (le == pos) {
            pos = nl ? end + 1 : len;
            line++;
            body_line = line;
            break;
        }
        char *colon = memchr(src + pos, ':', le - pos);
        if (colon == NULL) {
            err_set(e, EX_DATAERR,
                    "%s:%d: header line without ':' (the header block - "
                    "Subject:, From:, Reply-To:, Preheader:, Layout: - "
                    "ends with a blank line)",
                    t->path, line);
            goto fail;
        }
        size_t kl = (size_t)(colon - (src + pos));
        size_t k;
        for (k = 0; k < sizeof h / sizeof h[0]; k++)
            if (strlen(h[k].key) == kl &&
                strncasecmp(src + pos, h[k].key, kl) == 0)
                break;
        if (k == sizeof h / sizeof h[0]) {
            err_set(e, EX_DATAERR,
                    "%s:%d: unknown header \"%.*s\" (Subject, From, "
                    "Reply-To, Preheader or Layout)",
                    t->path, line, (int)(kl > 40 ? 40 : kl), src + pos);
            goto fail;
        }
        if (h[k].val != NULL) {
            err_set(e, EX_DATAERR, "%s:%d: %s given twice", t->path, line,
                    h[k].key);
            goto fail;
        }
        const char *v = colon + 1;
        size_t vl = (size_t)(src + le - v);
        while (vl > 0 && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        h[k].val = xstrndup(v, vl);
        h[k].line = line;
        pos = nl ? end + 1 : len;
        line++;
    }
    if (body_line == 0) {
        err_set(e, EX_DATAERR,
                "%s: no blank line after the header block, so no body",
                t->path);
        goto fail;
    }
    if (h[0].val == NULL || h[0].val[0] == '\0') {
        err_set(e, EX_DATAERR, "%s:1: no Subject: header", t->path);
        goto fail;
    }
    t->subject_src = xstrdup(h[0].val);
    t->off_subject = h[0].line - 1;
    t->off_from = h[1].line - 1;
    t->off_reply_to = h[2].line - 1;
    t->off_preheader = h[3].line - 1;
    t->off_html = body_line - 1;
    if ((t->subject = compile(h[0].val, strlen(h[0].val), t->path,
                              h[0].line - 1, &l, e)) == NULL)
        goto fail;
    if (h[1].val && (t->from = compile(h[1].val, strlen(h[1].val), t->path,
                                       h[1].line - 1, &l, e)) == NULL)
        goto fail;
    if (h[2].val && (t->reply_to = compile(h[2].val, strlen(h[2].val), t->path,
                                           h[2].line - 1, &l, e)) == NULL)
        goto fail;
    if (h[3].val && (t->preheader = compile(h[3].val, strlen(h[3].val), t->path,
                                            h[3].line - 1, &l, e)) == NULL)
        goto fail;

    /* the body, inside its layout */
    if (h[4].val && h[4].val[0] != '\0') {
        if (!valid_name(h[4].val)) {
            err_set(e, EX_DATAERR, "%s:%d: layout name \"%s\"", t->path,
                    h[4].line, h[4].val);
            goto fail;
        }
        t->layout = xstrdup(h[4].val);
        int has_blocks = memmem(src + pos, len - pos, "{{$", 3) != NULL;
        body_src =
            has_blocks
                ? xasprintf("{{<%s}}%.*s{{/%s}}", t->layout, (int)(len - pos),
                            src + pos, t->layout)
                : xasprintf("{{<%s}}{{$content}}%.*s{{/content}}{{/%s}}",
                            t->layout, (int)(len - pos), src + pos, t->layout);
        char *lp = xasprintf("%s/%s.mustache", l.dir, t->layout);
        rel = xasprintf("partials/%s.mustache", t->layout);
        int have = src_exists(&l, rel);
        free(rel);
        if (!have) {
            err_set(e, EX_DATAERR, "%s:%d: layout %s: %s", t->path, h[4].line,
                    lp, strerror(errno));
            free(lp);
            goto fail;
        }
        free(lp);
        t->html =
            compile(body_src, strlen(body_src), t->path, body_line - 1, &l, e);
    } else {
        t->html = compile(src + pos, len - pos, t->path, body_line - 1, &l, e);
    }
    if (t->html == NULL)
        goto fail;

    t->text_path = xasprintf("%s/%s.txt.mustache", dir, name);
    rel = xasprintf("%s.txt.mustache", name);
    text = src_read(&l, rel, &tlen);
    free(rel);
    if (text != NULL) {
        if ((t->text = compile(text, tlen, t->text_path, 0, &l, e)) == NULL)
            goto fail;
    } else if (errno == ENOENT) {
        free(t->text_path);
        t->text_path = NULL;
    } else {
        err_set(e, EX_DATAERR, "%s: %s", t->text_path, strerror(errno));
        goto fail;
    }
    for (size_t k = 0; k < sizeof h / sizeof h[0]; k++)
        free(h[k].val);
    free(src);
    free(text);
    free(body_src);
    free(l.dir);
    free(l.last_path);
    return t;
fail:
    for (size_t k = 0; k < sizeof h / sizeof h[0]; k++)
        free(h[k].val);
    free(src);
    free(text);
    free(body_src);
    free(l.dir);
    free(l.last_path);
    tmpl_free(t);
    return NULL;
}

struct tmpl *
tmpl_load(const char *dir, const char *name, struct err *e)
{
    return load(dir, name, NULL, e);
}

/*
 * The frozen form: {"dir": "templates", "files": {"promo.mustache":
 * "...", "partials/layout.mustache": "...", ...}} - every file the load
 * read, and only those.
 */
char *
tmpl_frozen(const struct tmpl *t, const char *dir)
{
    json_t *o;
    char *s;

    if (t->files == NULL)
        return NULL;
    o = json_pack("{s:s, s:O}", "dir", dir, "files", t->files);
    if (o == NULL)
        return NULL;
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

struct tmpl *
tmpl_load_frozen(const char *frozen, const char *name, struct err *e)
{
    json_error_t jerr;
    json_t *o = json_loads(frozen, 0, &jerr);
    const json_t *dir, *files;
    struct tmpl *t;

    dir = json_object_get(o, "dir");
    files = json_object_get(o, "files");
    if (o == NULL || !json_is_string(dir) || !json_is_object(files)) {
        err_set(e, EX_DATAERR, "frozen template %s: not a template's files",
                name);
        json_decref(o);
        return NULL;
    }
    t = load(json_string_value(dir), name, files, e);
    json_decref(o);
    return t;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
tmpl_names(const char *dir, tmpl_name_cb cb, void *arg, struct err *e)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0;

    if (d == NULL)
        return err_set(e, EX_NOINPUT, "%s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l <= 9 || strcmp(de->d_name + l - 9, ".mustache") != 0)
            continue;
        if (l > 13 && strcmp(de->d_name + l - 13, ".txt.mustache") == 0)
            continue;
        names = xreallocarray(names, n + 1, sizeof *names);
        names[n++] = xstrndup(de->d_name, l - 9);
    }
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        cb(names[i], arg);
        free(names[i]);
    }
    free(names);
    return (int)n;
}

struct fields {
    struct buf seen; /* entries: flag byte, name, NUL */
};

static void
collect(const char *name, int interpolated, void *arg)
{
    struct fields *f = arg;
    size_t nl = strlen(name);

    for (size_t i = 0; i < f->seen.len;) {
        size_t l = strlen(f->seen.p + i + 1);
        if (l == nl && memcmp(f->seen.p + i + 1, name, nl) == 0) {
            if (interpolated)
                f->seen.p[i] = 1;
            return;
        }
        i += l + 2;
    }
    if (buf_putc(&f->seen, interpolated ? 1 : 2) == -1 ||
        buf_append(&f->seen, name, nl + 1) == -1)
        return;
}

void
tmpl_fields(const struct tmpl *t, template_field_cb cb, void *arg)
{
    struct fields f;
    const struct template *parts[] = {t->subject,   t->from, t->reply_to,
                                      t->preheader, t->html, t->text};

    buf_init(&f.seen, 0);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i])
            template_fields(parts[i], collect, &f);
    for (size_t i = 0; i < f.seen.len;) {
        const char *name = f.seen.p + i + 1;
        cb(name, f.seen.p[i] == 1, arg);
        i += strlen(name) + 2;
    }
    buf_free(&f.seen);
}

struct missing {
    const struct tmpl *t;
    int off; /* the part's first line in its file, minus one */
    tmpl_missing_cb cb;
    void *arg;
};

/* missing_one - one missing partial as "PATH:LINE:COL: ..." with the
 * line in the template's file. */
static void
missing_one(const char *name, const char *path, const char *from, unsigned line,
            unsigned col, void *arg)
{
    struct missing *m = arg;
    char msg[ERR_MSG_MAX];
    long l = (long)line;

    if (strcmp(from, m->t->path) == 0)
        l += m->off;
    snprintf(msg, sizeof msg, "%s:%ld:%u: partial \"%s\" is missing (%s)", from,
             l, col, name, path);
    m->cb(msg, m->arg);
}

size_t
tmpl_missing(const struct tmpl *t, tmpl_missing_cb cb, void *arg)
{
    const struct template *parts[] = {t->subject,   t->from, t->reply_to,
                                      t->preheader, t->html, t->text};
    const int offs[] = {t->off_subject,   t->off_from, t->off_reply_to,
                        t->off_preheader, t->off_html, 0};
    struct missing m = {t, 0, cb, arg};
    size_t n = 0;

    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i] == NULL)
            continue;
        m.off = offs[i];
        n += template_missing(parts[i], cb ? missing_one : NULL, &m);
    }
    return n;
}

int
tmpl_frozen_same(const struct tmpl *t, const char *frozen)
{
    json_error_t jerr;
    json_t *o;
    int same;

    if (t->files == NULL || frozen == NULL)
        return 0;
    if ((o = json_loads(frozen, 0, &jerr)) == NULL)
        return 0;
    same = json_equal(t->files, json_object_get(o, "files"));
    json_decref(o);
    return same;
}
