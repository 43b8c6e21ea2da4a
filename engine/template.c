/* SPDX-License-Identifier: ISC */
/*
 * template.c - the Mustache renderer (interface and guarantees in
 * template.h).
 *
 * Owns: turning Mustache source into a compiled node array, and rendering
 * that array against a stack of frames (jansson values, and at most one
 * flat frame of scalar key/value pairs: template_render_flat) into a
 * bounded buffer, with an optional cache (struct template_cache) of
 * look-ups, sections and whole renders.
 * Does not own: where sources come from (the caller's loader), what the
 * data means, or how the output is encoded afterwards (mime.c).
 *
 * Spec: mustache/spec as vendored in ../shared/conformance/mustache:
 * comments, delimiters, interpolation, inverted, partials, sections and
 * ~inheritance.  No lambdas, no dynamic names.
 *
 * Compiling.  Each unit (the main template, then every partial or parent
 * by name, on first reference) is compiled once, in four passes over its
 * source, none of them recursive:
 *
 *   scan   split into text and tag tokens, following {{=| |=}} tags;
 *   match  pair each opening tag with its closing tag;
 *   lines  decide which tags own the blanks and line end around them;
 *   emit   append nodes.  A section, block or parent node is followed by
 *          its children; node.b is the index just past them.
 *
 * All units share one node array, one byte arena (text, names,
 * indentation) and one name table, so rendering allocates nothing (a
 * cache allocates when it first keeps something).
 *
 * Replaying whole renders (struct trace).  With a cache, a render against
 * the stable frames (the campaign data: the same, unmodified objects at
 * every render through this cache - the caller's promise) and a flat
 * frame depends on the flat frame only through (1) the class of each
 * value it consults - absent, false or true: every look-up, truthiness
 * test, {{.}}, dotted name and section-cache dependency records one - and
 * (2) the values it prints, which reach the output only through put_flat.
 * So a render whose recorded classes all match this frame's is this
 * render's output with this frame's values put in place, escaped as each
 * tag says.  The caller changes the flat frame's epoch whenever its keys
 * change (the cache remembers key positions by epoch).  At most TRACE_MAX
 * renders of at most TRACE_OUT_MAX bytes are kept per cache: up to 2 MiB
 * per template part of a composer, allocated only as used.
 *
 * Standalone tags.  A tag other than an interpolation that is alone on its
 * line (blanks only around it) owns that whole line, which disappears from
 * the output.  Inheritance adds pairs (mustache/spec #130 and #131): a
 * parent {{<p}}..{{/p}} owns the blanks before its opening tag and the
 * line end after its closing tag when the first starts a line and the
 * second ends one; so does a block {{$b}}..{{/b}} outside a parent (a
 * parameter); a block directly inside a parent (an argument) owns the line
 * end after its opening tag and the blanks before its closing tag.
 *
 * Indentation.  The spec prepends a standalone partial's indentation to
 * every line of the partial "before rendering".  Doing that literally
 * would compile a partial once per indentation, and without end for a
 * recursive one.  Instead, each place where a source line starts holds an
 * INDENT node (or, inside a text node, the F_LINES flag), and the renderer
 * carries the indentation in force as a chain of strings (struct ind)
 * built on its own stack.  A block's content loses its intrinsic
 * indentation (the blanks opening its first line, when the opening tag
 * ends its line) at compile time and gains the indentation of the place
 * where it is expanded at render time.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "log.h"
#include "template.h"
#include "xalloc.h"

/* Set-delimiter strings: {{=<% %>=}} needs two; nobody needs sixteen. */
#define DELIM_MAX 16

/* ---- the compiled form ---- */

enum node_kind {
    N_TEXT,    /* a: arena offset, b: length */
    N_INDENT,  /* the indentation in force (F_START: block's first line) */
    N_VAR,     /* a: name */
    N_SECTION, /* a: name, b: end of children */
    N_PARTIAL, /* a: unit; ioff/ilen: indentation when F_STANDALONE */
    N_PARENT,  /* a: unit, b: end of children (argument blocks only) */
    N_BLOCK,   /* a: block id, b: end; ioff/ilen when F_STANDALONE */
};

#define F_RAW 0x01        /* var: {{{x}}} or {{&x}} */
#define F_INVERTED 0x02   /* section: {{^x}} */
#define F_LINES 0x04      /* text: holds line starts to indent */
#define F_START 0x08      /* indent: first line of a block's content */
#define F_STANDALONE 0x10 /* partial, parent, block: indentation applies */
#define F_DEDENT 0x20     /* block: intrinsic indentation was removed */

struct node {
    uint8_t kind;
    uint8_t flags;
    uint16_t unit;
    uint32_t a;
    uint32_t b;
    uint32_t ioff, ilen;
    uint32_t line, col; /* of the tag, for render-time errors */
};

/* A name as written ("a.b.c", NUL-terminated in the arena) and its
 * segments; "." has none. */
struct name {
    uint32_t off, len;
    uint32_t seg, nseg;
};

struct seg {
    uint32_t off, len;
};

struct unit {
    char *name;  /* NULL for the main template */
    char *path;  /* for messages */
    int missing; /* the loader had no source: it renders as nothing */
    uint32_t begin, end;
};

struct template
{
    struct node *nodes;
    size_t nnodes, capnodes;
    char *arena;
    size_t alen, acap;
    struct name *names;
    size_t nnames, capnames;
    struct seg *segs;
    size_t nsegs, capsegs;
    struct unit *units;
    size_t nunits, capunits;
    uint32_t *blocks; /* block id -> arena offset of its name */
    size_t nblocks, capblocks;
    size_t srclen; /* source compiled so far, all units */
};

#define GROW(p, n, cap)                                                        \
    do {                                                                       \
        if ((n) == (cap)) {                                                    \
            (cap) = (cap) ? (cap)*2 : 64;                                      \
            (p) = xreallocarray((p), (cap), sizeof *(p));                      \
        }                                                                      \
    } while (0)

/* ---- compiling ---- */

enum tok_kind {
    T_TEXT,
    T_VAR,
    T_RAW,
    T_SECTION,
    T_INVERTED,
    T_CLOSE,
    T_PARTIAL,
    T_PARENT,
    T_BLOCK,
    T_COMMENT,
    T_DELIM,
};

struct tok {
    uint8_t kind;
    uint8_t lclear, rclear; /* blanks only to the line's start / end */
    uint8_t strip_before;   /* the blanks from ls belong to the tag */
    uint8_t strip_after;    /* the blanks and line end to le, too */
    uint8_t arg;            /* block directly inside a parent */
    uint8_t pair;           /* parent or parameter block pair standalone */
    size_t s, e;            /* the whole tag; for text, the bytes kept */
    size_t ns, ne;          /* tag content, trimmed */
    size_t ls, le;          /* start of the line / past its end */
    uint32_t line, col;
    size_t partner; /* the matching opening or closing tag */
};

struct cc {
    struct template *t;
    uint16_t unit;
    const char *src;
    size_t len;
    struct err *e;
    struct tok *toks;
    size_t ntok, captok;
    int bol; /* 0: mid-line, 1: a line starts, 2: a block's content starts */
    struct {
        size_t off, len;
    } ded[TEMPLATE_DEPTH_MAX]; /* intrinsic indentations being removed */
    size_t nded;
    struct {
        uint32_t node;
        size_t tok;
        int ded;
    } open[TEMPLATE_DEPTH_MAX];
    size_t nopen;
};

static int cc_fail(struct cc *c, uint32_t line, uint32_t col, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

/* cc_fail - a compile error at line:col of the unit being compiled. */
static int
cc_fail(struct cc *c, uint32_t line, uint32_t col, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(c->e, EX_DATAERR, "%s:%u:%u: %s", c->t->units[c->unit].path,
                   line, col, msg);
}

/* shown - a tag's name, printable, for messages. */
static const char *
shown(char *out, size_t sz, const char *s, size_t n)
{
    return log_printable(out, sz, s, n);
}

static int
is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int
is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' ||
           ch == '\v';
}

static uint32_t
arena_put(struct template *t, const char *p, size_t n)
{
    size_t off = t->alen;

    if (t->acap - t->alen < n + 1) {
        size_t cap = t->acap ? t->acap : 4096;
        while (cap - t->alen < n + 1)
            cap *= 2;
        t->arena = xrealloc(t->arena, cap);
        t->acap = cap;
    }
    if (n)
        memcpy(t->arena + t->alen, p, n);
    t->alen += n;
    return (uint32_t)off;
}

static uint32_t
node_add(struct cc *c, int kind, const struct tok *tk, int flags)
{
    struct template *t = c->t;
    struct node *n;

    GROW(t->nodes, t->nnodes, t->capnodes);
    n = &t->nodes[t->nnodes];
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->flags = (uint8_t)flags;
    n->unit = c->unit;
    if (tk) {
        n->line = tk->line;
        n->col = tk->col;
    }
    return (uint32_t)t->nnodes++;
}

static void
tok_add(struct cc *c, int kind, size_t s, size_t e)
{
    struct tok *tk;

    GROW(c->toks, c->ntok, c->captok);
    tk = &c->toks[c->ntok++];
    memset(tk, 0, sizeof *tk);
    tk->kind = (uint8_t)kind;
    tk->s = s;
    tk->e = e;
}

/* set_delims - parse "<% %>" from a {{=<% %>=}} tag. */
static int
set_delims(const char *s, size_t n, char *open, size_t *olen, char *close,
           size_t *clen)
{
    size_t i = 0, a, al, b, bl;

    while (i < n && !is_space(s[i]))
        i++;
    a = 0;
    al = i;
    while (i < n && is_space(s[i]))
        i++;
    b = i;
    while (i < n && !is_space(s[i]))
        i++;
    bl = i - b;
    if (i != n || al == 0 || bl == 0 || al > DELIM_MAX || bl > DELIM_MAX ||
        memchr(s + a, '=', al) || memchr(s + b, '=', bl))
        return -1;
    memcpy(open, s + a, al);
    *olen = al;
    memcpy(close, s + b, bl);
    *clen = bl;
    return 0;
}

/* check_name - a tag's name: no blanks inside; dotted names without empty
 * parts (a lone "." is the implicit iterator). */
static int
check_name(struct cc *c, const struct tok *tk)
{
    const char *s = c->src + tk->ns;
    size_t n = tk->ne - tk->ns;
    char buf[80];
    int dotted = tk->kind == T_VAR || tk->kind == T_RAW ||
                 tk->kind == T_SECTION || tk->kind == T_INVERTED ||
                 tk->kind == T_CLOSE;

    if (n == 0)
        return cc_fail(c, tk->line, tk->col, "empty tag");
    for (size_t i = 0; i < n; i++)
        if (is_space(s[i]))
            return cc_fail(c, tk->line, tk->col, "bad name \"%s\"",
                           shown(buf, sizeof buf, s, n));
    if (dotted && !(n == 1 && s[0] == '.') &&
        (s[0] == '.' || s[n - 1] == '.' || memmem(s, n, "..", 2)))
        return cc_fail(c, tk->line, tk->col, "bad name \"%s\"",
                       shown(buf, sizeof buf, s, n));
    return 0;
}

/* scan - pass 1: text and tag tokens. */
static int
scan(struct cc *c)
{
    const char *src = c->src;
    size_t len = c->len, p = 0, tpos = 0;
    char open[DELIM_MAX] = "{{", cbuf[DELIM_MAX + 1] = " }}";
    size_t olen = 2, clen = 2;
    uint32_t line = 1, col = 1;

    while (p < len) {
        const char *q = memmem(src + p, len - p, open, olen);
        size_t ts = q ? (size_t)(q - src) : len, cs, xs, ce, te, cll;
        const char *cl;
        int kind, sigil = 1, triple = 0;
        struct tok *tk;

        if (ts > p)
            tok_add(c, T_TEXT, p, ts);
        if (q == NULL)
            break;
        for (; tpos < ts; tpos++) {
            if (src[tpos] == '\n')
                line++, col = 1;
            else if (((unsigned char)src[tpos] & 0xC0) != 0x80)
                col++;
        }
        cs = ts + olen;
        if (cs >= len)
            return cc_fail(c, line, col, "unclosed tag");
        switch (src[cs]) {
        case '!':
            kind = T_COMMENT;
            break;
        case '=':
            kind = T_DELIM;
            break;
        case '{':
            kind = T_RAW;
            triple = 1;
            break;
        case '&':
            kind = T_RAW;
            break;
        case '#':
            kind = T_SECTION;
            break;
        case '^':
            kind = T_INVERTED;
            break;
        case '/':
            kind = T_CLOSE;
            break;
        case '>':
            kind = T_PARTIAL;
            break;
        case '<':
            kind = T_PARENT;
            break;
        case '$':
            kind = T_BLOCK;
            break;
        default:
            kind = T_VAR;
            sigil = 0;
            break;
        }
        xs = cs + (size_t)sigil;
        /* {{=a b=}} ends at "=" + close, {{{x}}} at "}" + close */
        if (kind == T_DELIM || triple) {
            cbuf[0] = triple ? '}' : '=';
            cl = cbuf;
            cll = clen + 1;
        } else {
            cl = cbuf + 1;
            cll = clen;
        }
        q = memmem(src + xs, len - xs, cl, cll);
        if (q == NULL)
            return cc_fail(c, line, col, "unclosed tag");
        ce = (size_t)(q - src);
        te = ce + cll;
        tok_add(c, kind, ts, te);
        tk = &c->toks[c->ntok - 1];
        tk->line = line;
        tk->col = col;
        while (xs < ce && is_space(src[xs]))
            xs++;
        while (ce > xs && is_space(src[ce - 1]))
            ce--;
        tk->ns = xs;
        tk->ne = ce;
        if (kind == T_DELIM) {
            if (set_delims(src + xs, ce - xs, open, &olen, cbuf + 1, &clen) ==
                -1)
                return cc_fail(c, line, col, "bad set-delimiters tag");
        } else if (kind != T_COMMENT && check_name(c, tk) == -1) {
            return -1;
        }
        p = te;
    }
    return 0;
}

/* match - pass 2: pair opening and closing tags. */
static int
match(struct cc *c)
{
    size_t stack[TEMPLATE_DEPTH_MAX], n = 0;
    char b1[80], b2[80];

    for (size_t i = 0; i < c->ntok; i++) {
        struct tok *tk = &c->toks[i];
        int in_parent = n > 0 && c->toks[stack[n - 1]].kind == T_PARENT;

        if (in_parent && (tk->kind == T_VAR || tk->kind == T_RAW ||
                          tk->kind == T_SECTION || tk->kind == T_INVERTED ||
                          tk->kind == T_PARTIAL || tk->kind == T_PARENT)) {
            struct tok *p = &c->toks[stack[n - 1]];
            return cc_fail(c, tk->line, tk->col,
                           "only {{$block}} tags may appear inside parent "
                           "\"%s\"",
                           shown(b1, sizeof b1, c->src + p->ns, p->ne - p->ns));
        }
        switch (tk->kind) {
        case T_SECTION:
        case T_INVERTED:
        case T_PARENT:
        case T_BLOCK:
            if (n == TEMPLATE_DEPTH_MAX)
                return cc_fail(c, tk->line, tk->col,
                               "sections nested deeper than %d",
                               TEMPLATE_DEPTH_MAX);
            tk->arg = tk->kind == T_BLOCK && in_parent;
            stack[n++] = i;
            break;
        case T_CLOSE: {
            struct tok *o;
            if (n == 0)
                return cc_fail(
                    c, tk->line, tk->col, "unopened section \"%s\"",
                    shown(b1, sizeof b1, c->src + tk->ns, tk->ne - tk->ns));
            o = &c->toks[stack[n - 1]];
            if (o->ne - o->ns != tk->ne - tk->ns ||
                memcmp(c->src + o->ns, c->src + tk->ns, tk->ne - tk->ns) != 0)
                return cc_fail(
                    c, tk->line, tk->col,
                    "mismatched closing tag \"%s\" (\"%s\" opened at "
                    "%u:%u is still open)",
                    shown(b1, sizeof b1, c->src + tk->ns, tk->ne - tk->ns),
                    shown(b2, sizeof b2, c->src + o->ns, o->ne - o->ns),
                    o->line, o->col);
            o->partner = i;
            tk->partner = stack[--n];
            tk->arg = o->arg;
            break;
        }
        default:
            break;
        }
    }
    if (n > 0) {
        struct tok *o = &c->toks[stack[n - 1]];
        return cc_fail(c, o->line, o->col, "unclosed section \"%s\"",
                       shown(b1, sizeof b1, c->src + o->ns, o->ne - o->ns));
    }
    return 0;
}

/* left_clear - only blanks between the start of pos's line and pos. */
static int
left_clear(const struct cc *c, size_t pos, size_t *ls)
{
    while (pos > 0 && is_blank(c->src[pos - 1]))
        pos--;
    *ls = pos;
    return pos == 0 || c->src[pos - 1] == '\n';
}

/* right_clear - only blanks between pos and the end of its line (LF,
 * CRLF or the end of the source). */
static int
right_clear(const struct cc *c, size_t pos, size_t *le)
{
    while (pos < c->len && is_blank(c->src[pos]))
        pos++;
    if (pos == c->len) {
        *le = pos;
        return 1;
    }
    if (c->src[pos] == '\n') {
        *le = pos + 1;
        return 1;
    }
    if (c->src[pos] == '\r' && pos + 1 < c->len && c->src[pos + 1] == '\n') {
        *le = pos + 2;
        return 1;
    }
    return 0;
}

static void
classic(struct tok *tk)
{
    if (tk->lclear && tk->rclear)
        tk->strip_before = tk->strip_after = 1;
}

/* lines - pass 3: which blanks and line ends belong to tags. */
static void
lines(struct cc *c)
{
    struct tok *toks = c->toks;
    size_t i;

    for (i = 0; i < c->ntok; i++) {
        if (toks[i].kind == T_TEXT)
            continue;
        toks[i].lclear = (uint8_t)left_clear(c, toks[i].s, &toks[i].ls);
        toks[i].rclear = (uint8_t)right_clear(c, toks[i].e, &toks[i].le);
    }
    for (i = 0; i < c->ntok; i++) {
        struct tok *tk = &toks[i], *o;

        switch (tk->kind) {
        case T_COMMENT:
        case T_DELIM:
        case T_SECTION:
        case T_INVERTED:
        case T_PARTIAL:
            classic(tk);
            break;
        case T_BLOCK:
            /* an argument's text starts after its opening line */
            if (tk->arg)
                tk->strip_after = tk->rclear;
            else
                classic(tk);
            break;
        case T_CLOSE:
            o = &toks[tk->partner];
            if (o->kind == T_PARENT) {
                o->pair = o->lclear && tk->rclear;
                if (o->pair)
                    o->strip_before = tk->strip_after = 1;
            } else if (o->kind == T_BLOCK && o->arg) {
                /* the end of an argument is like the end of a file */
                tk->strip_before = tk->lclear;
            } else {
                classic(tk);
                if (o->kind == T_BLOCK) {
                    o->pair = o->lclear && tk->rclear;
                    /* blanks before a pair are its indentation */
                    if (o->pair)
                        o->strip_before = 1;
                }
            }
            break;
        default:
            break;
        }
    }
    for (i = 0; i < c->ntok; i++) {
        struct tok *tk = &toks[i];

        if (tk->kind == T_TEXT)
            continue;
        if (tk->strip_before && i > 0 && toks[i - 1].kind == T_TEXT &&
            toks[i - 1].e > tk->ls)
            toks[i - 1].e = tk->ls > toks[i - 1].s ? tk->ls : toks[i - 1].s;
        if (tk->strip_after && i + 1 < c->ntok && toks[i + 1].kind == T_TEXT &&
            toks[i + 1].s < tk->le)
            toks[i + 1].s = tk->le < toks[i + 1].e ? tk->le : toks[i + 1].e;
    }
}

/* dedent - at the start of a line, skip the intrinsic indentations being
 * removed (outermost first), not past lim. */
static size_t
dedent(const struct cc *c, size_t p, size_t lim)
{
    for (size_t k = 0; k < c->nded; k++) {
        const char *d = c->src + c->ded[k].off;
        for (size_t j = 0; j < c->ded[k].len && p < lim && c->src[p] == d[j];
             j++)
            p++;
    }
    return p;
}

/* intrinsic - the blanks opening the line at le, less the indentations
 * already being removed. */
static void
intrinsic(const struct cc *c, size_t le, size_t *off, size_t *len)
{
    size_t p = dedent(c, le, c->len), q = p;

    while (q < c->len && is_blank(c->src[q]))
        q++;
    *off = p;
    *len = q - p;
}

static void
indent_node(struct cc *c)
{
    node_add(c, N_INDENT, NULL, c->bol == 2 ? F_START : 0);
}

/* mark - a tag producing output starts here: indent first if a line
 * starts here. */
static void
mark(struct cc *c)
{
    if (c->bol)
        indent_node(c);
    c->bol = 0;
}

/* text - append the bytes [s, e) of the source as text nodes. */
static void
text(struct cc *c, size_t s, size_t e)
{
    const char *src = c->src;
    uint32_t cur = UINT32_MAX;
    size_t p = s;

    while (p < e) {
        const char *q;
        size_t pe, n;
        int empty;

        if (p == 0 || src[p - 1] == '\n')
            p = dedent(c, p, e);
        if (p >= e)
            break;
        q = memchr(src + p, '\n', e - p);
        pe = q ? (size_t)(q - src) + 1 : e;
        n = pe - p;
        empty =
            src[p] == '\n' || (n >= 2 && src[p] == '\r' && src[p + 1] == '\n');
        if (c->bol && !empty) {
            if (cur != UINT32_MAX && c->bol == 1) {
                c->t->nodes[cur].flags |= F_LINES;
            } else {
                indent_node(c);
                cur = UINT32_MAX;
            }
        }
        if (cur == UINT32_MAX) {
            cur = node_add(c, N_TEXT, NULL, 0);
            c->t->nodes[cur].a = (uint32_t)c->t->alen;
        }
        arena_put(c->t, src + p, n);
        c->t->nodes[cur].b += (uint32_t)n;
        c->bol = src[pe - 1] == '\n';
        p = pe;
    }
}

/* name_add - a variable or section name and its dotted segments. */
static uint32_t
name_add(struct cc *c, const struct tok *tk)
{
    struct template *t = c->t;
    size_t n = tk->ne - tk->ns;
    uint32_t off = arena_put(t, c->src + tk->ns, n);
    struct name *nm;

    arena_put(t, "", 1); /* the NUL */
    GROW(t->names, t->nnames, t->capnames);
    nm = &t->names[t->nnames];
    nm->off = off;
    nm->len = (uint32_t)n;
    nm->seg = (uint32_t)t->nsegs;
    nm->nseg = 0;
    if (!(n == 1 && c->src[tk->ns] == '.')) {
        size_t i = 0;
        while (i < n) {
            size_t j = i;
            while (j < n && c->src[tk->ns + j] != '.')
                j++;
            GROW(t->segs, t->nsegs, t->capsegs);
            t->segs[t->nsegs].off = off + (uint32_t)i;
            t->segs[t->nsegs].len = (uint32_t)(j - i);
            t->nsegs++;
            nm->nseg++;
            i = j + 1;
        }
    }
    return (uint32_t)t->nnames++;
}

/* block_id - the same id for the same block name in every unit. */
static uint32_t
block_id(struct cc *c, const struct tok *tk)
{
    struct template *t = c->t;
    size_t n = tk->ne - tk->ns;

    for (size_t i = 0; i < t->nblocks; i++) {
        const char *b = t->arena + t->blocks[i];
        if (strlen(b) == n && memcmp(b, c->src + tk->ns, n) == 0)
            return (uint32_t)i;
    }
    GROW(t->blocks, t->nblocks, t->capblocks);
    t->blocks[t->nblocks] = arena_put(t, c->src + tk->ns, n);
    arena_put(t, "", 1);
    return (uint32_t)t->nblocks++;
}

/* unit_ref - the unit compiled from partial or parent `name` (compiled
 * later, after the current one: compiling never recurses). */
static int
unit_ref(struct cc *c, const struct tok *tk, uint32_t *u)
{
    struct template *t = c->t;
    size_t n = tk->ne - tk->ns;
    const char *name = c->src + tk->ns;

    for (size_t i = 1; i < t->nunits; i++) {
        if (strlen(t->units[i].name) == n &&
            memcmp(t->units[i].name, name, n) == 0) {
            *u = (uint32_t)i;
            return 0;
        }
    }
    if (t->nunits > TEMPLATE_PARTIALS_MAX)
        return cc_fail(c, tk->line, tk->col, "more than %d partials",
                       TEMPLATE_PARTIALS_MAX);
    GROW(t->units, t->nunits, t->capunits);
    t->units[t->nunits].name = xstrndup(name, n);
    t->units[t->nunits].path = NULL;
    t->units[t->nunits].missing = 0;
    t->units[t->nunits].begin = t->units[t->nunits].end = 0;
    *u = (uint32_t)t->nunits++;
    return 0;
}

/* indentation - store src[s, e) (blanks) as a node's indentation. */
static void
indentation(struct cc *c, uint32_t ni, size_t s, size_t e)
{
    uint32_t off = arena_put(c->t, c->src + s, e - s);

    c->t->nodes[ni].ioff = off;
    c->t->nodes[ni].ilen = (uint32_t)(e - s);
}

static void
open_push(struct cc *c, uint32_t ni, size_t tok, int ded)
{
    c->open[c->nopen].node = ni;
    c->open[c->nopen].tok = tok;
    c->open[c->nopen].ded = ded;
    c->nopen++;
}

/* emit_block - an opening block tag: an argument inside a parent or a
 * parameter anywhere else. */
static void
emit_block(struct cc *c, size_t i)
{
    struct tok *tk = &c->toks[i];
    size_t off = 0, len = 0;
    uint32_t ni;
    int flags = 0, ded = 0;

    if (tk->arg || tk->pair) {
        if (tk->rclear) {
            /* the opening tag ends its line: the blanks opening the next
             * line are the block's own indentation, removed from each of
             * its lines */
            intrinsic(c, tk->le, &off, &len);
            ded = 1;
            flags |= F_DEDENT;
        } else if (!tk->arg) {
            /* the blanks before the pair are its indentation */
            off = dedent(c, tk->ls, tk->s);
            len = tk->s - off;
        }
        if (!tk->arg)
            flags |= F_STANDALONE;
        c->bol = ded ? 1 : 2;
    } else {
        /* not a standalone pair: no indentation is added */
        if (!tk->strip_before)
            mark(c);
        c->bol = tk->strip_after ? 1 : 2;
    }
    ni = node_add(c, N_BLOCK, tk, flags);
    c->t->nodes[ni].a = block_id(c, tk);
    if (flags & F_STANDALONE)
        indentation(c, ni, off, off + len);
    if (ded) {
        c->ded[c->nded].off = off;
        c->ded[c->nded].len = len;
        c->nded++;
    }
    open_push(c, ni, i, ded);
}

/* emit - pass 4: nodes. */
static int
emit(struct cc *c)
{
    struct template *t = c->t;

    c->bol = 1;
    for (size_t i = 0; i < c->ntok; i++) {
        struct tok *tk = &c->toks[i];
        int in_parent = c->nopen > 0 &&
                        t->nodes[c->open[c->nopen - 1].node].kind == N_PARENT;
        uint32_t ni, u;

        switch (tk->kind) {
        case T_TEXT:
            if (!in_parent) /* text inside a parent is ignored */
                text(c, tk->s, tk->e);
            break;
        case T_COMMENT:
        case T_DELIM:
            break;
        case T_VAR:
        case T_RAW:
            mark(c);
            ni = node_add(c, N_VAR, tk, tk->kind == T_RAW ? F_RAW : 0);
            t->nodes[ni].a = name_add(c, tk);
            break;
        case T_SECTION:
        case T_INVERTED:
            if (!tk->strip_before)
                mark(c);
            ni = node_add(c, N_SECTION, tk,
                          tk->kind == T_INVERTED ? F_INVERTED : 0);
            t->nodes[ni].a = name_add(c, tk);
            open_push(c, ni, i, 0);
            if (!tk->strip_after)
                c->bol = 0;
            break;
        case T_PARTIAL:
            if (unit_ref(c, tk, &u) == -1)
                return -1;
            if (tk->strip_before && tk->strip_after) {
                /* the line is gone; its blanks indent the partial */
                ni = node_add(c, N_PARTIAL, tk, F_STANDALONE);
                indentation(c, ni, dedent(c, tk->ls, tk->s), tk->s);
            } else {
                mark(c);
                ni = node_add(c, N_PARTIAL, tk, 0);
            }
            t->nodes[ni].a = u;
            break;
        case T_PARENT:
            if (unit_ref(c, tk, &u) == -1)
                return -1;
            if (tk->pair) {
                ni = node_add(c, N_PARENT, tk, F_STANDALONE);
                indentation(c, ni, dedent(c, tk->ls, tk->s), tk->s);
            } else {
                mark(c);
                ni = node_add(c, N_PARENT, tk, 0);
            }
            t->nodes[ni].a = u;
            open_push(c, ni, i, 0);
            c->bol = 0;
            break;
        case T_BLOCK:
            emit_block(c, i);
            break;
        case T_CLOSE: {
            size_t k = c->nopen - 1;
            struct node *o = &t->nodes[c->open[k].node];
            int arg = c->toks[c->open[k].tok].arg;

            /* a line starting inside a section ends at its closing tag */
            if ((o->kind == N_SECTION || (o->kind == N_BLOCK && !arg)) &&
                !tk->strip_before && c->bol == 1)
                indent_node(c);
            o = &t->nodes[c->open[k].node];
            o->b = (uint32_t)t->nnodes;
            if (c->open[k].ded)
                c->nded--;
            c->nopen--;
            c->bol = tk->strip_after ? 1 : 0;
            break;
        }
        }
    }
    return 0;
}

static int
compile_unit(struct template *t, uint16_t u, const char *src, size_t len,
             struct err *e)
{
    struct cc c;
    int r;

    memset(&c, 0, sizeof c);
    c.t = t;
    c.unit = u;
    c.src = src;
    c.len = len;
    c.e = e;
    t->units[u].begin = (uint32_t)t->nnodes;
    if (len > TEMPLATE_SOURCE_MAX - t->srclen) {
        r = err_set(e, EX_DATAERR, "%s: templates larger than %d bytes",
                    t->units[u].path, TEMPLATE_SOURCE_MAX);
    } else {
        t->srclen += len;
        r = scan(&c);
        if (r == 0)
            r = match(&c);
        if (r == 0) {
            lines(&c);
            r = emit(&c);
        }
    }
    t->units[u].end = (uint32_t)t->nnodes;
    free(c.toks);
    return r;
}

struct template *
template_compile(const char *src, size_t len, const char *path,
                 template_loader loader, void *arg, struct err *e)
{
    struct template *t = xcalloc(1, sizeof *t);

    GROW(t->units, t->nunits, t->capunits);
    t->units[0].name = NULL;
    t->units[0].path = xstrdup(path ? path : "template");
    t->units[0].missing = 0;
    t->nunits = 1;
    if (compile_unit(t, 0, src ? src : "", src ? len : 0, e) == -1)
        goto fail;
    /* partials and parents, in order of first reference; compiling one may
     * add more at the end of the table */
    for (size_t u = 1; u < t->nunits; u++) {
        const char *lpath = NULL;
        size_t l = 0;
        char *s = loader ? loader(t->units[u].name, &l, &lpath, arg) : NULL;
        int r;

        t->units[u].path = xstrdup(lpath ? lpath : t->units[u].name);
        t->units[u].missing = s == NULL;
        r = compile_unit(t, (uint16_t)u, s ? s : "", s ? l : 0, e);
        free(s);
        if (r == -1)
            goto fail;
    }
    return t;
fail:
    template_free(t);
    return NULL;
}

void
template_free(struct template *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nunits; i++) {
        free(t->units[i].name);
        free(t->units[i].path);
    }
    free(t->units);
    free(t->nodes);
    free(t->arena);
    free(t->names);
    free(t->segs);
    free(t->blocks);
    free(t);
}

/* ---- rendering ---- */

/*
 * The indentation in force: a's, then s, then b's.  Built on the render
 * stack; total (all three lengths) lets empty chains cost nothing.
 */
struct ind {
    const struct ind *a, *b;
    const char *s;
    size_t n, total;
};

/* The arguments of the parents being rendered, innermost first; the
 * outermost definition of a block wins. */
struct ovr {
    const struct ovr *up;
    uint32_t parent;       /* the N_PARENT node */
    const struct ind *ind; /* indentation where the parent tag stood */
};

/* Names whose resolution against the caller's frames is remembered for
 * the rest of a render (the first RENDER_MEMO names of a template). */
#define RENDER_MEMO 128

/* Frames whose look-ups a cache keeps, per name (a section over a list
 * of the campaign data pushes one frame per item); a power of 2, as
 * frame_get takes the top 3 bits of a hash. */
#define CACHE_WAYS 8

/* A section's output kept for the next render (see render_section). */
#define SEC_OUT_MAX (64 * 1024)
#define SEC_DEPS_MAX 32
#define SEC_IND_MAX 128

struct sec {
    int valid;
    const json_t *v; /* the section's value (stable) */
    int escape, strict;
    char ind[SEC_IND_MAX]; /* the indentation in force, flattened */
    size_t nind;
    struct buf out;
    /* the names looked up in the caller's frames (below the section's
     * own), and what they gave: NULL or a stable value */
    struct dep {
        uint32_t ni;
        json_t *v;
    } deps[SEC_DEPS_MAX];
    size_t ndeps;
};

/*
 * A render against a flat frame and stable frames, kept for the next
 * renders (see template_render_flat): what it output, with the places
 * where values of the flat frame went, and the class of each value of
 * the flat frame it consulted (absent, false, true) - all that the
 * output depends on besides those values themselves.
 */
#define TRACE_MAX 8
#define TRACE_CONDS_MAX 64
#define TRACE_VALS_MAX 64
#define TRACE_OUT_MAX (256 * 1024)

enum flat_class { FC_ABSENT, FC_FALSE, FC_TRUE };

struct trace {
    int valid;
    int escape, strict;
    size_t nframes;
    unsigned long used; /* the tick of its last use, to replace the oldest */
    struct tcond {
        uint32_t ix;
        uint8_t cls;
    } conds[TRACE_CONDS_MAX];
    size_t nconds;
    struct tval {
        /* where the value went: while recording, [at, end) in the
         * output; once kept, at is its offset in text (without any
         * value) and end is not used */
        size_t at, end;
        uint32_t ix;
        uint8_t raw;
    } vals[TRACE_VALS_MAX];
    size_t nvals;
    struct buf text; /* the output without the values */
};

struct template_cache {
    const struct template *t;
    size_t nnames;
    struct way {
        const json_t *frame;
        json_t *v;
    } * ways; /* nnames * CACHE_WAYS */
    /* per node: 0 not looked at, 1 a section whose output may be kept
     * (no partial, parent or block inside), 2 not */
    unsigned char *sec_ok;
    struct sec **secs; /* per node, NULL until kept */
    /* where each name's first segment is among a flat frame's keys (-1:
     * not there, FLAT_UNKNOWN: not looked for yet), for these keys */
    int32_t *flat_ix;
    const struct template_flat_key *flat_keys;
    size_t flat_nkeys;
    unsigned long flat_epoch;
    struct trace traces[TRACE_MAX];
    unsigned long tick;
};

#define FLAT_UNKNOWN (-2)

/* The flat frame itself on the stack (its fctx entry); the values of its
 * fields have types of enum template_flat_type. */
#define FLAT_FRAME (-1)
static const struct template_flat_val flat_frame = {FLAT_FRAME, NULL, 0, 0};

struct rs {
    const struct template *t;
    const struct template_render_opts *o;
    struct buf *out;
    struct err *e;
    size_t nctx;
    size_t base; /* the caller's frames: ctx[0, base) */
    json_t *ctx[TEMPLATE_STACK_MAX + TEMPLATE_DEPTH_MAX + 1];
    /* fctx[k]: NULL when ctx[k] is a jansson value, else ctx[k] is NULL
     * and this is the flat frame (&flat_frame) or a value of it that a
     * section pushed */
    const struct template_flat_val
        *fctx[TEMPLATE_STACK_MAX + TEMPLATE_DEPTH_MAX + 1];
    const struct template_flat *flat; /* the caller's flat frame or NULL */
    /* stable[k]: ctx[k] and all in it stay the same from render to render
     * (the caller's stable frames, and what sections push from them) */
    unsigned char stable[TEMPLATE_STACK_MAX + TEMPLATE_DEPTH_MAX + 1];
    struct template_cache *cache;
    int found_stable; /* the last lookup found its value in a stable frame */
    /* the last lookup found a value of the flat frame, or the frame: it
     * returned NULL, and this is the value */
    const struct template_flat_val *found_flat;
    int base_unstable; /* some of the caller's frames are not stable */
    /* the section whose output is being kept, or NULL; rec_bad when
     * something in it came from a frame that changes */
    struct sec *rec;
    int rec_bad;
    /* the render being kept (template_render_flat), or NULL; tr_bad when
     * it depends on something a trace cannot say */
    struct trace *tr;
    int tr_bad;
    size_t tr_mark; /* out->len when the render started */
    /* memo[ni] is the value of name ni in the caller's frames (valid when
     * known[ni]): they do not change while we render, and a template
     * names the same field many times (a fallback is {{#x}}{{x}}{{/x}}
     * {{^x}}..{{/x}}), each a hash lookup per frame */
    json_t *memo[RENDER_MEMO];
    const struct template_flat_val *memo_flat[RENDER_MEMO];
    unsigned char known[RENDER_MEMO], memo_stable[RENDER_MEMO];
};

/* ind_str - x = a then s; a alone when s is empty. */
static const struct ind *
ind_str(struct ind *x, const struct ind *a, const char *s, size_t n)
{
    if (n == 0)
        return a;
    x->a = a;
    x->b = NULL;
    x->s = s;
    x->n = n;
    x->total = (a ? a->total : 0) + n;
    return x;
}

/* ind_cat - x = a then b. */
static const struct ind *
ind_cat(struct ind *x, const struct ind *a, const struct ind *b)
{
    if (a == NULL || a->total == 0)
        return b;
    if (b == NULL || b->total == 0)
        return a;
    x->a = a;
    x->b = b;
    x->s = NULL;
    x->n = 0;
    x->total = a->total + b->total;
    return x;
}

/* put - append to the output; the common case (room already there) is
 * inline, the rest goes through buf_append and its max. */
static int
put(struct rs *rs, const char *p, size_t n)
{
    struct buf *b = rs->out;

    if (n < b->cap - b->len && n <= b->max - b->len) {
        memcpy(b->p + b->len, p, n);
        b->len += n;
        b->p[b->len] = '\0';
        return 0;
    }
    if (n == 0)
        return 0;
    if (buf_append(b, p, n) == -1)
        return err_set(rs->e, EX_DATAERR,
                       "%s: rendered output exceeds %zu bytes",
                       rs->t->units[0].path, b->max);
    return 0;
}

static int
ind_emit(struct rs *rs, const struct ind *x)
{
    if (x == NULL || x->total == 0)
        return 0;
    if (ind_emit(rs, x->a) == -1 || put(rs, x->s, x->n) == -1)
        return -1;
    return ind_emit(rs, x->b);
}

/* text_lines - text whose inner lines take the indentation (an empty
 * line takes none, as for the line that opens a node). */
static int
text_lines(struct rs *rs, const char *p, size_t n, const struct ind *ind)
{
    const char *end = p + n, *run = p, *s = p, *q;

    while ((q = memchr(s, '\n', (size_t)(end - s))) != NULL) {
        s = ++q;
        if (q == end)
            break;
        if (*q == '\n' || (*q == '\r' && q + 1 < end && q[1] == '\n'))
            continue;
        if (put(rs, run, (size_t)(q - run)) == -1 || ind_emit(rs, ind) == -1)
            return -1;
        run = q;
    }
    return put(rs, run, (size_t)(end - run));
}

/* HTML escaping: & < > " ' (the spec tests the first four). */
static const unsigned char html_class[256] = {
    ['&'] = 1, ['<'] = 2, ['>'] = 3, ['"'] = 4, ['\''] = 5,
};
static const struct {
    const char *s;
    size_t n;
} html_repl[] = {
    {"", 0},     {"&amp;", 5},  {"&lt;", 4},
    {"&gt;", 4}, {"&quot;", 6}, {"&#39;", 5},
};

/* html_word_safe - 1 when none of the 8 bytes at p is & < > " or ': a
 * zero byte of p XOR c is found by the usual borrow test, exact for its
 * existence. */
static inline int
html_word_safe(const char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
    uint64_t x, a, l, g, q, s;

    memcpy(&x, p, 8);
    a = x ^ (ones * '&');
    l = x ^ (ones * '<');
    g = x ^ (ones * '>');
    q = x ^ (ones * '"');
    s = x ^ (ones * '\'');
    return (((a - ones) & ~a) | ((l - ones) & ~l) | ((g - ones) & ~g) |
            ((q - ones) & ~q) | ((s - ones) & ~s)) &
                   high
               ? 0
               : 1;
}

/* put_html - copy runs of safe bytes with one append each. */
static int
put_html(struct rs *rs, const char *s, size_t n)
{
    const char *end = s + n, *run = s, *p = s;

    for (;;) {
#ifdef __SSE2__
        /* sixteen bytes at a time, to the first byte to escape */
        while (end - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i m = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('&')),
                             _mm_cmpeq_epi8(x, _mm_set1_epi8('<'))),
                _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('>')),
                                 _mm_cmpeq_epi8(x, _mm_set1_epi8('"'))),
                    _mm_cmpeq_epi8(x, _mm_set1_epi8('\''))));
            unsigned bits = (unsigned)_mm_movemask_epi8(m);
            if (bits != 0) {
                p += __builtin_ctz(bits);
                goto found;
            }
            p += 16;
        }
#endif
        while (end - p >= 8 && html_word_safe(p))
            p += 8;
        for (; p < end; p++)
            if (html_class[(unsigned char)*p] != 0)
                break;
        if (p == end)
            break;
#ifdef __SSE2__
    found:;
#endif
        unsigned k = html_class[(unsigned char)*p];
        if (put(rs, run, (size_t)(p - run)) == -1 ||
            put(rs, html_repl[k].s, html_repl[k].n) == -1)
            return -1;
        run = ++p;
    }
    return put(rs, run, (size_t)(end - run));
}

/* frame_get - name ni (its first segment s, n bytes) in frame c, and
 * the rest of its segments within what it finds; through the cache when
 * the frame is stable.  NULL when the first segment is not there (*found
 * 0) or when the rest is not (*found 1). */
static json_t *
frame_get(struct rs *rs, uint32_t ni, json_t *c, int stable, int *found)
{
    const struct template *t = rs->t;
    const struct name *nm = &t->names[ni];
    const struct seg *sg = &t->segs[nm->seg];
    struct way *w = NULL;
    json_t *v;

    if (stable && rs->cache != NULL) {
        /* the high bits of a Fibonacci hash of the address */
        uint64_t h = (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ULL;
        w = &rs->cache->ways[(size_t)ni * CACHE_WAYS + (size_t)(h >> 61)];
        if (w->frame == c) {
            /* NULL: no first segment; the frame itself: a first segment
             * whose rest is not there */
            *found = w->v != NULL;
            return w->v == c ? NULL : w->v;
        }
    }
    *found = 0;
    if (!json_is_object(c) ||
        (v = json_object_getn(c, t->arena + sg[0].off, sg[0].len)) == NULL) {
        if (w != NULL) {
            w->frame = c;
            w->v = NULL;
        }
        return NULL;
    }
    *found = 1;
    for (uint32_t j = 1; v && j < nm->nseg; j++)
        v = json_is_object(v)
                ? json_object_getn(v, t->arena + sg[j].off, sg[j].len)
                : NULL;
    if (w != NULL) {
        /* a first segment found whose rest is not: the frame itself
         * stands for "found, NULL" (it cannot be its own member) */
        w->frame = c;
        w->v = v ? v : c;
    }
    return v;
}

/* flat_find - the index of the first of f's keys that is s (n bytes), or
 * -1. */
static int32_t
flat_find(const struct template_flat *f, const char *s, size_t n)
{
    for (size_t k = 0; k < f->nkeys && k < INT32_MAX; k++)
        if (f->keys[k].n == n && memcmp(f->keys[k].s, s, n) == 0)
            return (int32_t)k;
    return -1;
}

/* flat_class - what a value of the flat frame is for a section. */
static enum flat_class
flat_class(const struct template_flat_val *v)
{
    switch (v->type) {
    case TEMPLATE_FLAT_ABSENT:
        return FC_ABSENT;
    case TEMPLATE_FLAT_STRING:
        return v->n > 0 ? FC_TRUE : FC_FALSE;
    case TEMPLATE_FLAT_INTEGER:
    case TEMPLATE_FLAT_TRUE:
        return FC_TRUE;
    default:
        return FC_FALSE;
    }
}

/* trace_cond - the render being kept depends on the class of value v of
 * the flat frame. */
static void
trace_cond(struct rs *rs, const struct template_flat_val *v)
{
    struct trace *tr = rs->tr;
    uint32_t ix = (uint32_t)(v - rs->flat->vals);
    uint8_t cls = (uint8_t)flat_class(v);

    for (size_t k = 0; k < tr->nconds; k++)
        if (tr->conds[k].ix == ix)
            return; /* the same value, the same class */
    if (tr->nconds == TRACE_CONDS_MAX) {
        rs->tr_bad = 1;
        return;
    }
    tr->conds[tr->nconds].ix = ix;
    tr->conds[tr->nconds++].cls = cls;
}

/* flat_get - the value of name ni's first segment in the flat frame, or
 * NULL when it is not there; where it is among the keys is kept in the
 * cache. */
static const struct template_flat_val *
flat_get(struct rs *rs, uint32_t ni)
{
    const struct template_flat *f = rs->flat;
    struct template_cache *c = rs->cache;
    const struct template *t = rs->t;
    const struct seg *sg = &t->segs[t->names[ni].seg];
    const struct template_flat_val *v;
    int32_t ix;

    /* (template_render_flat has made the cache's indexes those of f) */
    if (c == NULL) {
        ix = flat_find(f, t->arena + sg->off, sg->len);
    } else {
        ix = c->flat_ix[ni];
        if (ix == FLAT_UNKNOWN)
            ix = c->flat_ix[ni] = flat_find(f, t->arena + sg->off, sg->len);
    }
    if (ix < 0)
        return NULL;
    v = &f->vals[ix];
    if (rs->tr != NULL)
        trace_cond(rs, v);
    return v->type == TEMPLATE_FLAT_ABSENT ? NULL : v;
}

/* ctx_get - name ni in frame k of the stack: a jansson value
 * (frame_get), the flat frame, or a value of it (which holds no names).
 * A field of the flat frame found sets rs->found_flat and gives NULL (a
 * dotted name: found, and NULL, as its rest is not there). */
static json_t *
ctx_get(struct rs *rs, uint32_t ni, size_t k, int *found)
{
    const struct template_flat_val *f = rs->fctx[k];

    if (f == NULL)
        return frame_get(rs, ni, rs->ctx[k], rs->stable[k], found);
    *found = 0;
    if (f != &flat_frame || (f = flat_get(rs, ni)) == NULL)
        return NULL;
    *found = 1;
    if (rs->t->names[ni].nseg == 1)
        rs->found_flat = f;
    return NULL;
}

/* base_lookup - name ni in the caller's frames alone (remembered for the
 * rest of the render). */
static json_t *
base_lookup(struct rs *rs, uint32_t ni)
{
    json_t *v = NULL;
    size_t k;
    int found = 0;

    if (ni < RENDER_MEMO && rs->known[ni]) {
        rs->found_stable = rs->memo_stable[ni];
        rs->found_flat = rs->memo_flat[ni];
        return rs->memo[ni];
    }
    rs->found_flat = NULL;
    for (k = rs->base; k-- > 0;) {
        v = ctx_get(rs, ni, k, &found);
        if (found)
            break;
    }
    rs->found_stable = found && rs->stable[k];
    if (ni < RENDER_MEMO) {
        rs->memo[ni] = v;
        rs->memo_flat[ni] = rs->found_flat;
        rs->memo_stable[ni] = (unsigned char)rs->found_stable;
        rs->known[ni] = 1;
    }
    return v;
}

/* lookup - resolve a name against the context stack (spec: the first
 * part from the top of the stack down, the rest within what it found). */
static json_t *
lookup(struct rs *rs, uint32_t ni)
{
    const struct name *nm = &rs->t->names[ni];
    json_t *v = NULL;
    size_t k;
    int found = 0;

    rs->found_stable = 0;
    rs->found_flat = NULL;
    if (nm->nseg == 0) {
        if (rs->nctx == 0)
            return NULL;
        rs->found_stable = rs->stable[rs->nctx - 1];
        rs->found_flat = rs->fctx[rs->nctx - 1];
        if (!rs->found_stable && rs->rec != NULL)
            rs->rec_bad = 1;
        if (rs->tr != NULL && rs->found_flat != NULL) {
            if (rs->found_flat == &flat_frame)
                rs->tr_bad = 1;
            else
                trace_cond(rs, rs->found_flat);
        }
        return rs->ctx[rs->nctx - 1];
    }
    /* the frames that sections pushed, then (remembered) the caller's */
    for (k = rs->nctx; k-- > rs->base;) {
        if (!rs->stable[k] && rs->rec != NULL)
            rs->rec_bad = 1;
        v = ctx_get(rs, ni, k, &found);
        if (found) {
            rs->found_stable = rs->stable[k];
            return v;
        }
    }
    v = base_lookup(rs, ni);
    if (rs->rec != NULL && rs->base_unstable) {
        struct sec *sc = rs->rec;
        if ((v != NULL && !rs->found_stable) || rs->found_flat != NULL ||
            sc->ndeps == SEC_DEPS_MAX)
            rs->rec_bad = 1;
        else {
            sc->deps[sc->ndeps].ni = ni;
            sc->deps[sc->ndeps++].v = v;
        }
    }
    return v;
}

/* truthy - false, null, "", [] and a miss are false (v NULL: f, the
 * value of the flat frame found, or a miss). */
static int
truthy(const json_t *v, const struct template_flat_val *f)
{
    if (v == NULL && f != NULL)
        return f->type == FLAT_FRAME || f->type == TEMPLATE_FLAT_TRUE ||
               f->type == TEMPLATE_FLAT_INTEGER ||
               (f->type == TEMPLATE_FLAT_STRING && f->n > 0);
    if (v == NULL || json_is_false(v) || json_is_null(v))
        return 0;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    return 1;
}

/* fmt_int - v in decimal into buf (at least 24 bytes); returns the
 * length.  snprintf would cost more than the rest of a merge field. */
static size_t
fmt_int(long long v, char *buf)
{
    char tmp[24];
    unsigned long long u =
        v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    size_t n = 0, len = 0;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    return len;
}

/*
 * fmt_real - the shortest text that reads back as d: 1.21 is "1.21", 2.0
 * is "2".  Fast path: the smallest k <= 9 for which r = round(d * 10^k)
 * gives r / 10^k == d.  Both are exact doubles and IEEE division rounds
 * correctly, as strtod does, so "r with k decimals" reads back as d, and
 * no shorter decimal does.  Otherwise %.*g, widening until it reads back.
 */
static size_t
fmt_real(double d, char *buf, size_t sz)
{
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4,
                                 1e5, 1e6, 1e7, 1e8, 1e9};
    int n = 0;

    if (!isfinite(d))
        return 0;
    for (int k = 0; k < 10 && fabs(d) * p10[k] < 9e15; k++) {
        /* no nearbyint: libm is not linked; m is within an ulp of a
         * whole number whenever this k can succeed */
        double m = d * p10[k];
        double r = (double)(long long)(m < 0 ? m - 0.5 : m + 0.5);
        if (r / p10[k] == d) {
            long long ip = (long long)r;
            unsigned long long a =
                ip < 0 ? 0ULL - (unsigned long long)ip : (unsigned long long)ip;
            unsigned long long div = (unsigned long long)p10[k];
            size_t len = 0;
            if (ip < 0)
                buf[len++] = '-';
            len += fmt_int((long long)(a / div), buf + len);
            if (k > 0) {
                unsigned long long frac = a % div;
                buf[len++] = '.';
                for (int j = k - 1; j >= 0; j--) {
                    buf[len + (size_t)j] = (char)('0' + frac % 10);
                    frac /= 10;
                }
                len += (size_t)k;
            }
            return len;
        }
    }
    for (int p = 1; p <= 17; p++) {
        n = snprintf(buf, sz, "%.*e", p - 1, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (n > 0 && (size_t)n < sz && fabs(d) < 1e21 && d == floor(d)) {
        /* a big whole number: its digits, then zeros (4.8e+17 is
         * "480000000000000000") */
        char m[32];
        const char *x = strchr(buf, 'e');
        int exp = x ? atoi(x + 1) : 0, nd = 0;
        size_t len = 0;
        for (const char *c = buf; c < x; c++)
            if (*c >= '0' && *c <= '9')
                m[nd++] = *c;
        if (x == NULL || exp < nd - 1 || (size_t)exp + 3 > sz)
            return (size_t)n;
        if (d < 0)
            buf[len++] = '-';
        for (int j = 0; j <= exp; j++)
            buf[len++] = j < nd ? m[j] : '0';
        return len;
    }
    return n > 0 && (size_t)n < sz ? (size_t)n : 0;
}

static int
node_fail(struct rs *rs, const struct node *n, const char *what,
          const char *detail)
{
    return err_set(rs->e, EX_DATAERR, "%s:%u:%u: %s%s",
                   rs->t->units[n->unit].path, n->line, n->col, what, detail);
}

/* put_flat - value v of the flat frame as text, escaped unless raw. */
static int
put_flat(struct rs *rs, const struct template_flat_val *v, int raw)
{
    char num[32];
    const char *s;
    size_t len;

    switch (v->type) {
    case TEMPLATE_FLAT_STRING:
        s = v->s;
        len = v->n;
        break;
    case TEMPLATE_FLAT_INTEGER:
        s = num;
        len = fmt_int((long long)v->i, num);
        break;
    case TEMPLATE_FLAT_TRUE:
        s = "true";
        len = 4;
        break;
    case TEMPLATE_FLAT_FALSE:
        s = "false";
        len = 5;
        break;
    default: /* null: nothing */
        return 0;
    }
    return raw ? put(rs, s, len) : put_html(rs, s, len);
}

/* trace_val - put_flat, noting where the value went in the render being
 * kept. */
static int
trace_val(struct rs *rs, const struct template_flat_val *v, int raw)
{
    struct trace *tr = rs->tr;
    size_t at = rs->out->len;

    if (put_flat(rs, v, raw) == -1)
        return -1;
    if (tr->nvals == TRACE_VALS_MAX) {
        rs->tr_bad = 1;
        return 0;
    }
    tr->vals[tr->nvals].at = at - rs->tr_mark;
    tr->vals[tr->nvals].end = rs->out->len - rs->tr_mark;
    tr->vals[tr->nvals].ix = (uint32_t)(v - rs->flat->vals);
    tr->vals[tr->nvals++].raw = (uint8_t)raw;
    return 0;
}

static int
interpolate(struct rs *rs, const struct node *n)
{
    json_t *v = lookup(rs, n->a);
    const struct template_flat_val *f = rs->found_flat;
    char num[64], buf[ERR_MSG_MAX / 2];
    const char *s;
    size_t len;
    const struct name *nm = &rs->t->names[n->a];
    json_type type;

    if (v == NULL && f != NULL) {
        int raw = (n->flags & F_RAW) || rs->o->escape == TEMPLATE_ESCAPE_NONE;
        if (f->type != FLAT_FRAME)
            return rs->tr != NULL ? trace_val(rs, f, raw)
                                  : put_flat(rs, f, raw);
        type = JSON_OBJECT; /* the frame itself */
    } else if (v == NULL) {
        if (!rs->o->strict)
            return 0;
        snprintf(
            buf, sizeof buf, "\"%s\" is missing",
            log_printable(num, sizeof num, rs->t->arena + nm->off, nm->len));
        return node_fail(rs, n, "field ", buf);
    } else {
        type = json_typeof(v);
    }
    switch (type) {
    case JSON_STRING:
        s = json_string_value(v);
        len = json_string_length(v);
        break;
    case JSON_INTEGER:
        s = num;
        len = fmt_int((long long)json_integer_value(v), num);
        break;
    case JSON_REAL:
        s = num;
        len = fmt_real(json_real_value(v), num, sizeof num);
        break;
    case JSON_TRUE:
        s = "true";
        len = 4;
        break;
    case JSON_FALSE:
        s = "false";
        len = 5;
        break;
    case JSON_NULL:
        return 0;
    default: /* object, array: no text of their own */
        if (!rs->o->strict)
            return 0;
        snprintf(
            buf, sizeof buf, "\"%s\" is a list or object, not text",
            log_printable(num, sizeof num, rs->t->arena + nm->off, nm->len));
        return node_fail(rs, n, "field ", buf);
    }
    if ((n->flags & F_RAW) || rs->o->escape == TEMPLATE_ESCAPE_NONE)
        return put(rs, s, len);
    return put_html(rs, s, len);
}

static int
deeper(struct rs *rs, const struct node *n, int depth)
{
    char d[32];

    if (depth < TEMPLATE_DEPTH_MAX &&
        rs->nctx < sizeof rs->ctx / sizeof rs->ctx[0])
        return 0;
    snprintf(d, sizeof d, "%d", TEMPLATE_DEPTH_MAX);
    return node_fail(rs, n, "nesting deeper than ", d);
}

static int render(struct rs *rs, uint32_t i, uint32_t end,
                  const struct ind *full, const struct ind *start,
                  const struct ovr *ov, int depth);

/* sec_children - render a section's content once per item of v. */
static int
sec_children(struct rs *rs, uint32_t i, json_t *v,
             const struct template_flat_val *f, unsigned char st,
             const struct ind *full, const struct ind *start,
             const struct ovr *ov, int depth)
{
    const struct node *n = &rs->t->nodes[i];
    int r = 0;

    if (json_is_array(v)) {
        size_t m = json_array_size(v);
        for (size_t k = 0; k < m && r == 0; k++) {
            rs->stable[rs->nctx] = st;
            rs->fctx[rs->nctx] = NULL;
            rs->ctx[rs->nctx++] = json_array_get(v, k);
            r = render(rs, i + 1, n->b, full, start, ov, depth + 1);
            rs->nctx--;
        }
        return r;
    }
    rs->stable[rs->nctx] = st;
    rs->fctx[rs->nctx] = v == NULL ? f : NULL;
    rs->ctx[rs->nctx++] = v;
    r = render(rs, i + 1, n->b, full, start, ov, depth + 1);
    rs->nctx--;
    return r;
}

/* ind_flat - the indentation chain x as text into b (cap bytes); -1 when
 * it does not fit. */
static int
ind_flat(const struct ind *x, char *b, size_t cap, size_t *len)
{
    if (x == NULL || x->total == 0)
        return 0;
    if (ind_flat(x->a, b, cap, len) == -1)
        return -1;
    if (x->n > cap - *len)
        return -1;
    memcpy(b + *len, x->s, x->n);
    *len += x->n;
    return ind_flat(x->b, b, cap, len);
}

/* sec_cacheable - 1 when section i holds no partial, parent or block,
 * whose output would depend on more than the node and its context. */
static int
sec_cacheable(struct template_cache *c, const struct template *t, uint32_t i)
{
    if (c->sec_ok[i] == 0) {
        c->sec_ok[i] = 1;
        for (uint32_t j = i + 1; j < t->nodes[i].b; j++)
            if (t->nodes[j].kind == N_PARTIAL || t->nodes[j].kind == N_PARENT ||
                t->nodes[j].kind == N_BLOCK)
                c->sec_ok[i] = 2;
    }
    return c->sec_ok[i] == 1;
}

/*
 * render_section - {{#x}} and {{^x}}.
 *
 * A section over a stable value (the campaign data: a list of products)
 * renders the same way for every recipient unless a name inside it comes
 * from a frame that changes (the contact's).  With a cache, its output
 * is kept with the names it looked up in the caller's frames and what
 * they gave (nothing, or a stable value); the next render with the same
 * value and indentation, where each of those names gives the same again,
 * copies the output instead of rendering it.  A name that gives a value
 * of a changing frame keeps nothing.
 */
static int
render_section(struct rs *rs, uint32_t i, const struct ind *full,
               const struct ind *start, const struct ovr *ov, int depth)
{
    const struct node *n = &rs->t->nodes[i];
    json_t *v = lookup(rs, n->a);
    const struct template_flat_val *f = rs->found_flat;
    unsigned char st = (unsigned char)rs->found_stable;
    struct template_cache *c = rs->cache;
    struct sec *sc;
    char ind[SEC_IND_MAX];
    size_t nind = 0, mark;
    int r;

    if (n->flags & F_INVERTED) {
        if (!truthy(v, f))
            return render(rs, i + 1, n->b, full, start, ov, depth + 1);
        return 0;
    }
    if (!truthy(v, f))
        return 0;
    if (c == NULL || !st || f != NULL || rs->rec != NULL ||
        !sec_cacheable(c, rs->t, i) ||
        ind_flat(full, ind, sizeof ind / 2, &nind) == -1 ||
        nind >= sizeof ind / 2 || (ind[nind++] = '\0', 0) ||
        ind_flat(start, ind, sizeof ind, &nind) == -1)
        return sec_children(rs, i, v, f, st, full, start, ov, depth);
    if ((sc = c->secs[i]) == NULL) {
        sc = c->secs[i] = xcalloc(1, sizeof *sc);
        buf_init(&sc->out, SEC_OUT_MAX);
    }
    if (sc->valid && sc->v == v && sc->escape == (int)rs->o->escape &&
        sc->strict == rs->o->strict && sc->nind == nind &&
        memcmp(sc->ind, ind, nind) == 0) {
        size_t d;
        for (d = 0; d < sc->ndeps; d++)
            if (base_lookup(rs, sc->deps[d].ni) != sc->deps[d].v ||
                rs->found_flat != NULL)
                break;
        if (d == sc->ndeps)
            return put(rs, sc->out.p ? sc->out.p : "", sc->out.len);
    }
    /* render it, keeping what it looks up */
    sc->valid = 0;
    sc->ndeps = 0;
    rs->rec = sc;
    rs->rec_bad = 0;
    mark = rs->out->len;
    r = sec_children(rs, i, v, NULL, st, full, start, ov, depth);
    rs->rec = NULL;
    if (r == 0 && !rs->rec_bad) {
        buf_reset(&sc->out);
        if (buf_append(&sc->out, rs->out->p + mark, rs->out->len - mark) == 0) {
            sc->valid = 1;
            sc->v = v;
            sc->escape = (int)rs->o->escape;
            sc->strict = rs->o->strict;
            sc->nind = nind;
            memcpy(sc->ind, ind, nind);
        }
    }
    return r;
}

/* render_block - a parameter block: the outermost argument of that name
 * if a parent being rendered passes one, else the block's own content. */
static int
render_block(struct rs *rs, uint32_t i, const struct ind *full,
             const struct ovr *ov, int depth)
{
    const struct node *nodes = rs->t->nodes, *n = &nodes[i], *c = n;
    const struct ind *idef = full, *e, *f;
    struct ind xe, xf;

    for (const struct ovr *o = ov; o; o = o->up) {
        for (uint32_t j = o->parent + 1; j < nodes[o->parent].b;
             j = nodes[j].b) {
            if (nodes[j].a == n->a) {
                c = &nodes[j];
                idef = o->ind;
                break;
            }
        }
    }
    /* the place of expansion gives the indentation when the pair is
     * standalone; lines of content that kept their own (not dedented)
     * keep the indentation of where they were written, too */
    e = (n->flags & F_STANDALONE)
            ? ind_str(&xe, full, rs->t->arena + n->ioff, n->ilen)
            : NULL;
    f = (c->flags & F_DEDENT) ? e : ind_cat(&xf, e, idef);
    return render(rs, (uint32_t)(c - nodes) + 1, c->b, f, e, ov, depth + 1);
}

/*
 * render - nodes [i, end) with indentation full (start for the first line
 * of a block's content) and the parents' arguments ov.  Recursion is
 * bounded by depth (TEMPLATE_DEPTH_MAX), whatever the data.
 */
static int
render(struct rs *rs, uint32_t i, uint32_t end, const struct ind *full,
       const struct ind *start, const struct ovr *ov, int depth)
{
    const struct template *t = rs->t;

    while (i < end) {
        const struct node *n = &t->nodes[i];
        struct ind x;
        const struct ind *f;

        switch (n->kind) {
        case N_TEXT:
            if ((n->flags & F_LINES) && full && full->total) {
                if (text_lines(rs, t->arena + n->a, n->b, full) == -1)
                    return -1;
            } else if (put(rs, t->arena + n->a, n->b) == -1) {
                return -1;
            }
            i++;
            break;
        case N_INDENT:
            if (ind_emit(rs, (n->flags & F_START) ? start : full) == -1)
                return -1;
            i++;
            break;
        case N_VAR:
            if (interpolate(rs, n) == -1)
                return -1;
            i++;
            break;
        case N_SECTION:
            if (deeper(rs, n, depth) == -1 ||
                render_section(rs, i, full, start, ov, depth) == -1)
                return -1;
            i = n->b;
            break;
        case N_PARTIAL: {
            const struct unit *u = &t->units[n->a];
            f = (n->flags & F_STANDALONE)
                    ? ind_str(&x, full, t->arena + n->ioff, n->ilen)
                    : NULL;
            if (deeper(rs, n, depth) == -1 ||
                render(rs, u->begin, u->end, f, f, ov, depth + 1) == -1)
                return -1;
            i++;
            break;
        }
        case N_PARENT: {
            const struct unit *u = &t->units[n->a];
            struct ovr o2 = {ov, i, full};
            f = (n->flags & F_STANDALONE)
                    ? ind_str(&x, full, t->arena + n->ioff, n->ilen)
                    : NULL;
            if (deeper(rs, n, depth) == -1 ||
                render(rs, u->begin, u->end, f, f, &o2, depth + 1) == -1)
                return -1;
            i = n->b;
            break;
        }
        case N_BLOCK:
            if (deeper(rs, n, depth) == -1 ||
                render_block(rs, i, full, ov, depth) == -1)
                return -1;
            i = n->b;
            break;
        default:
            i++;
            break;
        }
    }
    return 0;
}

struct template_cache *
template_cache_new(const struct template *t)
{
    struct template_cache *c = xcalloc(1, sizeof *c);

    c->t = t;
    c->nnames = t->nnames;
    c->ways = xcalloc(t->nnames ? t->nnames * CACHE_WAYS : 1, sizeof *c->ways);
    c->sec_ok = xcalloc(t->nnodes ? t->nnodes : 1, 1);
    c->secs = xcalloc(t->nnodes ? t->nnodes : 1, sizeof *c->secs);
    c->flat_ix = xcalloc(t->nnames ? t->nnames : 1, sizeof *c->flat_ix);
    for (size_t k = 0; k < TRACE_MAX; k++)
        buf_init(&c->traces[k].text, TRACE_OUT_MAX);
    return c;
}

void
template_cache_free(struct template_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->t->nnodes; i++) {
        if (c->secs[i] != NULL)
            buf_free(&c->secs[i]->out);
        free(c->secs[i]);
    }
    free(c->secs);
    free(c->sec_ok);
    free(c->flat_ix);
    for (size_t k = 0; k < TRACE_MAX; k++)
        buf_free(&c->traces[k].text);
    free(c->ways);
    free(c);
}

/* flat_sync - the cache's indexes of names among the flat frame's keys
 * and its traces are for f's keys: forget them when those changed. */
static void
flat_sync(struct template_cache *c, const struct template_flat *f)
{
    if (c->flat_keys == f->keys && c->flat_nkeys == f->nkeys &&
        c->flat_epoch == f->epoch)
        return;
    for (size_t j = 0; j < c->nnames; j++)
        c->flat_ix[j] = FLAT_UNKNOWN;
    for (size_t k = 0; k < TRACE_MAX; k++)
        c->traces[k].valid = 0;
    c->flat_keys = f->keys;
    c->flat_nkeys = f->nkeys;
    c->flat_epoch = f->epoch;
}

/* trace_find - the trace of a render with these options, n frames and
 * values of the flat frame of the same classes; else (not valid) the
 * slot to keep this render in: an empty one, or the one used least
 * lately. */
static struct trace *
trace_find(struct rs *rs, size_t n)
{
    struct template_cache *c = rs->cache;
    const struct template_flat_val *vals = rs->flat->vals;
    struct trace *old = &c->traces[0];

    c->tick++;
    for (size_t k = 0; k < TRACE_MAX; k++) {
        struct trace *tr = &c->traces[k];
        size_t j;
        if (!tr->valid) {
            old = tr;
            continue;
        }
        if (old->valid && tr->used < old->used)
            old = tr;
        if (tr->escape != (int)rs->o->escape || tr->strict != rs->o->strict ||
            tr->nframes != n)
            continue;
        for (j = 0; j < tr->nconds; j++)
            if (flat_class(&vals[tr->conds[j].ix]) != tr->conds[j].cls)
                break;
        if (j == tr->nconds) {
            tr->used = c->tick;
            return tr;
        }
    }
    old->valid = 0;
    old->used = c->tick;
    return old;
}

/* trace_replay - the output of a kept render, with this render's values
 * of the flat frame where its values went. */
static int
trace_replay(struct rs *rs, const struct trace *tr)
{
    const char *p = tr->text.p ? tr->text.p : "";
    size_t at = 0;

    for (size_t k = 0; k < tr->nvals; k++) {
        const struct tval *tv = &tr->vals[k];
        if (put(rs, p + at, tv->at - at) == -1 ||
            put_flat(rs, &rs->flat->vals[tv->ix], tv->raw) == -1)
            return -1;
        at = tv->at;
    }
    return put(rs, p + at, tr->text.len - at);
}

/* trace_keep - the render just done (ok: rendered without error, and
 * nothing in it a trace cannot say) into rs->tr: its output without the
 * values of the flat frame. */
static void
trace_keep(struct rs *rs, int ok, size_t n)
{
    struct trace *tr = rs->tr;
    const char *o = rs->out->p + rs->tr_mark;
    size_t from = 0;

    tr->valid = 0;
    if (!ok)
        return;
    buf_reset(&tr->text);
    for (size_t k = 0; k < tr->nvals; k++) {
        struct tval *tv = &tr->vals[k];
        if (buf_append(&tr->text, o + from, tv->at - from) == -1)
            return;
        from = tv->end;
        tv->at = tr->text.len;
    }
    if (buf_append(&tr->text, o + from, rs->out->len - rs->tr_mark - from) ==
        -1)
        return;
    tr->escape = (int)rs->o->escape;
    tr->strict = rs->o->strict;
    tr->nframes = n;
    tr->valid = 1;
}

int
template_render_cached(const struct template *t, json_t *const *stack, size_t n,
                       size_t stable, const struct template_render_opts *o,
                       struct template_cache *cache, struct buf *out,
                       struct err *e)
{
    return template_render_flat(t, stack, n, stable, NULL, o, cache, out, e);
}

int
template_render_flat(const struct template *t, json_t *const *stack, size_t n,
                     size_t stable, const struct template_flat *f,
                     const struct template_render_opts *o,
                     struct template_cache *cache, struct buf *out,
                     struct err *e)
{
    static const struct template_render_opts defaults = {TEMPLATE_ESCAPE_HTML,
                                                         0};
    struct rs rs;
    size_t mark = out->len;
    int r;

    if (n > TEMPLATE_STACK_MAX)
        return err_set(e, EX_SOFTWARE, "%s: context stack deeper than %d",
                       t->units[0].path, TEMPLATE_STACK_MAX);
    if (cache != NULL && cache->t != t)
        return err_set(e, EX_SOFTWARE, "%s: cache of another template",
                       t->units[0].path);
    rs.t = t;
    rs.o = o ? o : &defaults;
    rs.out = out;
    rs.e = e;
    rs.cache = cache;
    rs.flat = f;
    rs.rec = NULL;
    rs.rec_bad = 0;
    rs.found_flat = NULL;
    rs.tr = NULL;
    rs.tr_bad = 0;
    rs.tr_mark = mark;
    if (cache != NULL && f != NULL) {
        flat_sync(cache, f);
        if (stable >= n) {
            struct trace *tr = trace_find(&rs, n);
            if (tr != NULL && tr->valid) {
                if (trace_replay(&rs, tr) == 0)
                    return 0;
                out->len = mark;
                if (out->p)
                    out->p[mark] = '\0';
                return -1;
            }
            rs.tr = tr; /* a slot to keep this render in */
            tr->nconds = tr->nvals = 0;
        }
    }
    rs.base_unstable = 0;
    memset(rs.known, 0, t->nnames < RENDER_MEMO ? t->nnames : sizeof rs.known);
    if (n)
        memcpy(rs.ctx, stack, n * sizeof *stack);
    for (size_t k = 0; k < n; k++) {
        rs.stable[k] = cache != NULL && k < stable;
        rs.fctx[k] = NULL;
        if (!rs.stable[k])
            rs.base_unstable = 1;
    }
    if (f != NULL) {
        rs.ctx[n] = NULL;
        rs.fctx[n] = &flat_frame;
        rs.stable[n++] = 0;
        rs.base_unstable = 1;
    }
    rs.nctx = n;
    rs.base = n;
    r = render(&rs, t->units[0].begin, t->units[0].end, NULL, NULL, NULL, 0);
    if (rs.tr != NULL)
        trace_keep(&rs, r == 0 && !rs.tr_bad, n - 1);
    if (r == -1) {
        out->len = mark; /* no half-rendered message */
        if (out->p)
            out->p[mark] = '\0';
        return -1;
    }
    return 0;
}

int
template_render(const struct template *t, json_t *const *stack, size_t n,
                const struct template_render_opts *o, struct buf *out,
                struct err *e)
{
    return template_render_cached(t, stack, n, 0, o, NULL, out, e);
}

/* ---- fields ---- */

struct fields {
    const struct template *t;
    struct {
        const char *name;
        int interpolated;
    } * v;
    size_t n, cap;
    unsigned char *seen; /* units visited */
};

static void
field_add(struct fields *f, const char *name, int interpolated)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->v[i].name, name) == 0) {
            f->v[i].interpolated |= interpolated;
            return;
        }
    }
    GROW(f->v, f->n, f->cap);
    f->v[f->n].name = name;
    f->v[f->n].interpolated = interpolated;
    f->n++;
}

/* fields_unit - a unit's names in order, then each partial or parent at
 * its first reference (depth bounded by TEMPLATE_PARTIALS_MAX). */
static void
fields_unit(struct fields *f, uint32_t u)
{
    const struct template *t = f->t;
    const char *sec[TEMPLATE_DEPTH_MAX];
    uint32_t sec_end[TEMPLATE_DEPTH_MAX];
    size_t ns = 0;

    f->seen[u] = 1;
    for (uint32_t i = t->units[u].begin; i < t->units[u].end; i++) {
        const struct node *n = &t->nodes[i];
        const char *name;
        int guarded = 0;

        while (ns > 0 && i >= sec_end[ns - 1])
            ns--;
        switch (n->kind) {
        case N_VAR:
            name = t->arena + t->names[n->a].off;
            for (size_t k = 0; k < ns && !guarded; k++)
                guarded = strcmp(sec[k], name) == 0;
            field_add(f, name, !guarded);
            break;
        case N_SECTION:
            name = t->arena + t->names[n->a].off;
            field_add(f, name, 0);
            if (ns < TEMPLATE_DEPTH_MAX) {
                sec[ns] = name;
                sec_end[ns++] = n->b;
            }
            break;
        case N_PARTIAL:
        case N_PARENT:
            if (!f->seen[n->a])
                fields_unit(f, n->a);
            break;
        default:
            break;
        }
    }
}

void
template_fields(const struct template *t, template_field_cb cb, void *arg)
{
    struct fields f;

    memset(&f, 0, sizeof f);
    f.t = t;
    f.seen = xcalloc(t->nunits, 1);
    fields_unit(&f, 0);
    for (size_t i = 0; i < f.n; i++)
        cb(f.v[i].name, f.v[i].interpolated, arg);
    free(f.v);
    free(f.seen);
}

size_t
template_missing(const struct template *t, template_missing_cb cb, void *arg)
{
    size_t n = 0;

    for (size_t u = 1; u < t->nunits; u++) {
        if (!t->units[u].missing)
            continue;
        n++;
        /* its first reference: units are compiled, and their nodes
         * appended, in order of first reference */
        for (size_t i = 0; i < t->nnodes; i++) {
            const struct node *nd = &t->nodes[i];
            if ((nd->kind == N_PARTIAL || nd->kind == N_PARENT) && nd->a == u) {
                if (cb != NULL)
                    cb(t->units[u].name, t->units[u].path,
                       t->units[nd->unit].path, nd->line, nd->col, arg);
                break;
            }
        }
    }
    return n;
}
