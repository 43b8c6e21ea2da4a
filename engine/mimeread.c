/* SPDX-License-Identifier: ISC */
/*
 * mimeread.c - the structure of a received message, read in place (see
 * mimeread.h).  RFC 5322 section 2.2 (header fields, folding), RFC 2045
 * (Content-Type and its parameters, Content-Transfer-Encoding), RFC 2046
 * section 5.1 (multipart bodies: delimiter lines, the close delimiter,
 * preamble and epilogue ignored).
 */
#include <ctype.h>
#include <gmime/gmime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mimeread.h"

/* field_name_len - the length of a field name starting s (up to the
 * colon, blanks before it allowed), 0 when the line is not a field */
static size_t
field_name_len(const char *s, const char *end, const char **colon)
{
    const char *p = s;
    size_t n;

    while (p < end && (*p > ' ' && *p < 127) && *p != ':')
        p++;
    if ((n = (size_t)(p - s)) == 0)
        return 0;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end || *p != ':')
        return 0;
    *colon = p;
    return n;
}

/* split - mimeread_split; the mbox "From " line skipped only when
 * from_line (a message, not a part) */
static void
split(const char *s, size_t n, struct mimeread_part *p, int from_line)
{
    const char *q = s, *end = s + n;

    memset(p, 0, sizeof *p);
    /* an mbox "From " line before the header is not part of it */
    if (from_line && n > 5 && memcmp(s, "From ", 5) == 0) {
        const char *eol = memchr(s, '\n', n);
        q = eol ? eol + 1 : end;
    }
    p->head = q;
    while (q < end) {
        const char *eol = memchr(q, '\n', (size_t)(end - q));
        const char *le = eol ? eol : end, *colon;
        if (le == q) { /* the empty line */
            p->head_len = (size_t)(q - p->head);
            p->body = eol ? eol + 1 : end;
            p->body_len = (size_t)(end - p->body);
            return;
        }
        if ((*q != ' ' && *q != '\t') || q == p->head) {
            if (field_name_len(q, le, &colon) == 0) {
                /* not a field: the body begins here */
                p->head_len = (size_t)(q - p->head);
                p->body = q;
                p->body_len = (size_t)(end - q);
                return;
            }
        }
        q = eol ? eol + 1 : end;
    }
    p->head_len = (size_t)(end - p->head);
    p->body = end;
    p->body_len = 0;
}

void
mimeread_split(const char *s, size_t n, struct mimeread_part *p)
{
    split(s, n, p, 1);
}

/* value_of - the value of the field whose colon is at colon, on the line
 * ending at le, with its continuation lines up to end: unfolded (line
 * ends removed), trimmed, into out (cut at size); its length.  *next is
 * set to where the next line begins. */
static long
value_of(const char *colon, const char *le, const char *end, char *out,
         size_t size, const char **next)
{
    const char *v = colon + 1, *eol;
    size_t o = 0, k;

    for (;;) {
        size_t n = (size_t)(le - v);
        if (o + 1 < size) {
            size_t room = size - 1 - o;
            memcpy(out + o, v, n < room ? n : room);
            o += n < room ? n : room;
        }
        if (le == end || le + 1 >= end || (le[1] != ' ' && le[1] != '\t'))
            break;
        v = le + 1;
        eol = memchr(v, '\n', (size_t)(end - v));
        le = eol ? eol : end;
    }
    *next = le < end ? le + 1 : end;
    if (size == 0)
        return 0;
    out[o] = '\0';
    /* leading and trailing blanks */
    for (k = 0; out[k] == ' ' || out[k] == '\t'; k++)
        ;
    if (k > 0) {
        memmove(out, out + k, o - k + 1);
        o -= k;
    }
    while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
        out[--o] = '\0';
    return (long)o;
}

long
mimeread_field(const char *head, size_t head_len, const char *name, int index,
               char *out, size_t size)
{
    const char *q = head, *end = head + head_len, *next;
    size_t want = strlen(name);
    int c0 = tolower((unsigned char)name[0]);

    while (q < end) {
        const char *eol = memchr(q, '\n', (size_t)(end - q));
        const char *le = eol ? eol : end, *colon = NULL;
        /* the first letter rules out most fields before the name is read */
        if (tolower((unsigned char)*q) == c0 &&
            field_name_len(q, le, &colon) == want &&
            strncasecmp(q, name, want) == 0 && index-- == 0)
            return value_of(colon, le, end, out, size, &next);
        q = eol ? eol + 1 : end;
    }
    if (size > 0)
        out[0] = '\0';
    return -1;
}

int
mimeread_next_field(const char *head, size_t head_len, const char **cursor,
                    const char **name, size_t *nlen, char *out, size_t size)
{
    const char *q = *cursor ? *cursor : head, *end = head + head_len;

    while (q < end) {
        const char *eol = memchr(q, '\n', (size_t)(end - q));
        const char *le = eol ? eol : end, *colon = NULL;
        size_t n;
        if (*q != ' ' && *q != '\t' &&
            (n = field_name_len(q, le, &colon)) > 0) {
            *name = q;
            *nlen = n;
            value_of(colon, le, end, out, size, cursor);
            return 0;
        }
        q = eol ? eol + 1 : end;
    }
    *cursor = end;
    return -1;
}

/*
 * next_param - the parameter after *pp (which points at its ";"): its
 * name at *name (*nlen bytes) and its value, unquoted, into v (cut at
 * vsize); *pp moves past it.  0, or -1 when there is none.  A parameter
 * without "=" is skipped.
 */
static int
next_param(const char **pp, const char **name, size_t *nlen, char *v,
           size_t vsize)
{
    const char *p = *pp;

    while (p != NULL && *p == ';') {
        const char *a, *ae;
        size_t o = 0;
        p++;
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        a = p;
        while (*p && *p != '=' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        ae = p;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '=') { /* no value: on to the next ";" */
            p = strchr(p, ';');
            continue;
        }
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                if (o + 1 < vsize)
                    v[o++] = *p;
            }
            if (*p == '"')
                p++;
        } else {
            for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++)
                if (o + 1 < vsize)
                    v[o++] = *p;
        }
        if (vsize > 0)
            v[o] = '\0';
        while (*p && *p != ';')
            p++;
        *pp = p;
        *name = a;
        *nlen = (size_t)(ae - a);
        return 0;
    }
    *pp = p;
    return -1;
}

/* ext_value - an RFC 2231 extended value (charset'language'%XX...)
 * decoded in place: the charset and language dropped (with first), the
 * %XX escapes made bytes */
static void
ext_value(char *v, int first)
{
    char *r = v, *w = v;
    const char *q1, *q2;

    if (first && (q1 = strchr(v, '\'')) != NULL &&
        (q2 = strchr(q1 + 1, '\'')) != NULL)
        r = (char *)(uintptr_t)(q2 + 1);
    while (*r) {
        if (r[0] == '%' && isxdigit((unsigned char)r[1]) &&
            isxdigit((unsigned char)r[2])) {
            char h[3] = {r[1], r[2], '\0'};
            *w++ = (char)strtol(h, NULL, 16);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

int
mimeread_param(const char *value, const char *name, char *out, size_t size)
{
    const char *p, *a;
    size_t want = strlen(name), nlen, o = 0;
    char v[1024];
    int found = 0;

    if (size == 0)
        return -1;
    out[0] = '\0';
    /* the plain form, name=value */
    for (p = strchr(value, ';'); next_param(&p, &a, &nlen, v, sizeof v) == 0;)
        if (nlen == want && strncasecmp(a, name, want) == 0) {
            snprintf(out, size, "%s", v);
            return 0;
        }
    /* RFC 2231: name*=charset'lang'value, or the pieces name*0, name*1...
     * (each name*N* when encoded), joined in order */
    for (int seg = -1; seg < 64; seg++) {
        int got = 0;
        for (p = strchr(value, ';');
             next_param(&p, &a, &nlen, v, sizeof v) == 0;) {
            char num[16];
            size_t k = want + 1;
            int star;
            if (nlen <= want || strncasecmp(a, name, want) != 0 ||
                a[want] != '*')
                continue;
            if (seg == -1) { /* name* alone */
                if (nlen != want + 1)
                    continue;
                ext_value(v, 1);
                snprintf(out, size, "%s", v);
                return 0;
            }
            snprintf(num, sizeof num, "%d", seg);
            if (nlen < k + strlen(num) || strncmp(a + k, num, strlen(num)) != 0)
                continue;
            k += strlen(num);
            star = nlen == k + 1 && a[k] == '*';
            if (nlen != k && !star)
                continue;
            if (star)
                ext_value(v, seg == 0);
            for (const char *c = v; *c && o + 1 < size; c++)
                out[o++] = *c;
            out[o] = '\0';
            got = found = 1;
            break;
        }
        if (seg >= 0 && !got)
            break;
    }
    return found ? 0 : -1;
}

/* skip_cfws - past blanks and RFC 5322 (comments), nested */
static const char *
skip_cfws(const char *v)
{
    for (;;) {
        while (*v == ' ' || *v == '\t' || *v == '\n')
            v++;
        if (*v != '(')
            return v;
        for (int depth = 0; *v; v++) {
            if (*v == '\\' && v[1] != '\0')
                v++;
            else if (*v == '(')
                depth++;
            else if (*v == ')' && --depth == 0) {
                v++;
                break;
            }
        }
    }
}

/* token_len - the length of the RFC 2045 token at v */
static size_t
token_len(const char *v)
{
    size_t n = 0;

    while (v[n] > ' ' && v[n] < 127 &&
           strchr("()<>@,;:\\\"/[]?=", v[n]) == NULL)
        n++;
    return n;
}

/* content_type - p's type and charset, and its transfer encoding, from
 * its header; a part without a type is text/plain, or message/rfc822 in
 * a multipart/digest (RFC 2046 section 5.1.5).  A multipart's boundary
 * into boundary ("" when it has none). */
static void
content_type(struct mimeread_part *p, int in_digest, char *boundary,
             size_t bsize)
{
    char v[4096];
    const char *t, *sub;
    size_t tl, sl, i = 0;

    boundary[0] = '\0';
    if (mimeread_field(p->head, p->head_len, "Content-Transfer-Encoding", 0, v,
                       sizeof v) > 0) {
        t = skip_cfws(v);
        for (tl = token_len(t); i < tl && i + 1 < sizeof p->encoding; i++)
            p->encoding[i] = (char)tolower((unsigned char)t[i]);
        p->encoding[i] = '\0';
    }
    if (mimeread_field(p->head, p->head_len, "Content-Type", 0, v, sizeof v) <
        0) {
        t = in_digest ? "message/rfc822" : "text/plain";
        memcpy(p->type, t, strlen(t) + 1);
        return;
    }
    /* type "/" subtype, tokens, comments and blanks around them allowed */
    t = skip_cfws(v);
    tl = token_len(t);
    sub = skip_cfws(t + tl);
    if (tl > 0 && *sub == '/' && (sub = skip_cfws(sub + 1)) != NULL &&
        (sl = token_len(sub)) > 0 && tl + 1 + sl < sizeof p->type) {
        for (i = 0; i < tl; i++)
            p->type[i] = (char)tolower((unsigned char)t[i]);
        p->type[tl] = '/';
        for (i = 0; i < sl; i++)
            p->type[tl + 1 + i] = (char)tolower((unsigned char)sub[i]);
        p->type[tl + 1 + sl] = '\0';
    } else {
        /* a type alone, or no type: what it most likely is */
        const char *g = tl >= 4 && strncasecmp(t, "text", 4) == 0 ? "text/plain"
                        : tl >= 9 && strncasecmp(t, "multipart", 9) == 0
                            ? "multipart/mixed"
                            : "application/octet-stream";
        memcpy(p->type, g, strlen(g) + 1);
    }
    mimeread_param(v, "charset", p->charset, sizeof p->charset);
    if (strncmp(p->type, "multipart/", 10) == 0)
        mimeread_param(v, "boundary", boundary, bsize);
}

static void
walk_part(const char *s, size_t n, int depth, int in_digest, int max_depth,
          mimeread_cb cb, void *arg)
{
    struct mimeread_part p;
    char boundary[256];
    const char *q, *end, *part = NULL;
    size_t bl;
    int nparts = 0, digest;

    if (depth > max_depth)
        return;
    split(s, n, &p, depth == 0);
    p.depth = depth;
    content_type(&p, in_digest, boundary, sizeof boundary);
    if (strncmp(p.type, "multipart/", 10) != 0) {
        cb(&p, arg);
        return;
    }
    if ((bl = strlen(boundary)) == 0)
        return; /* a multipart without a boundary has no parts */
    digest = strcmp(p.type, "multipart/digest") == 0;
    /* RFC 2046: a delimiter is a line "--boundary", the last
     * "--boundary--", blanks after either allowed; the line end before a
     * delimiter belongs to it */
    end = p.body + p.body_len;
    for (q = p.body; q < end;) {
        const char *eol = memchr(q, '\n', (size_t)(end - q));
        const char *le = eol ? eol : end;
        if ((size_t)(le - q) >= bl + 2 && q[0] == '-' && q[1] == '-' &&
            memcmp(q + 2, boundary, bl) == 0) {
            const char *t = q + 2 + bl;
            int closing = le - t >= 2 && t[0] == '-' && t[1] == '-';
            if (closing)
                t += 2;
            while (t < le && (*t == ' ' || *t == '\t'))
                t++;
            if (t == le) {
                if (part != NULL) {
                    const char *pe = q > part ? q - 1 : q;
                    walk_part(part, (size_t)(pe - part), depth + 1, digest,
                              max_depth, cb, arg);
                    nparts++;
                }
                part = eol ? eol + 1 : end;
                if (closing || nparts >= MIMEREAD_PARTS_MAX) {
                    part = NULL;
                    break;
                }
            }
        }
        q = eol ? eol + 1 : end;
    }
    if (part != NULL) /* no close delimiter: the last part runs to the end */
        walk_part(part, (size_t)(end - part), depth + 1, digest, max_depth, cb,
                  arg);
}

void
mimeread_walk(const char *s, size_t n, int max_depth, mimeread_cb cb, void *arg)
{
    walk_part(s, n, 0, 0, max_depth, cb, arg);
}

char *
mimeread_decode(const struct mimeread_part *p, size_t max, size_t *len)
{
    GMimeContentEncoding enc =
        p->encoding[0] ? g_mime_content_encoding_from_string(p->encoding)
                       : GMIME_CONTENT_ENCODING_DEFAULT;
    const char *in = p->body;
    size_t inlen = p->body_len, n;
    char *out;

    if (enc == GMIME_CONTENT_ENCODING_UUENCODE) {
        /* the data begins after the "begin MODE NAME" line */
        const char *b = in;
        while (b != NULL && (size_t)(b - in) < inlen &&
               strncmp(b, "begin ", 6) != 0) {
            b = memchr(b, '\n', inlen - (size_t)(b - in));
            b = b ? b + 1 : NULL;
        }
        if (b != NULL && (size_t)(b - in) < inlen) {
            const char *eol = memchr(b, '\n', inlen - (size_t)(b - in));
            b = eol ? eol + 1 : in + inlen;
            inlen -= (size_t)(b - in);
            in = b;
        } else {
            enc = GMIME_CONTENT_ENCODING_DEFAULT; /* no data: as it is */
        }
    }
    if (enc == GMIME_CONTENT_ENCODING_BASE64 ||
        enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
        enc == GMIME_CONTENT_ENCODING_UUENCODE) {
        GMimeEncoding st;
        g_mime_encoding_init_decode(&st, enc);
        if ((out = malloc(g_mime_encoding_outlen(&st, inlen) + 1)) == NULL)
            return NULL;
        n = g_mime_encoding_flush(&st, in, inlen, out);
    } else {
        if ((out = malloc(inlen + 1)) == NULL)
            return NULL;
        memcpy(out, in, inlen);
        n = inlen;
    }
    if (n > max)
        n = max;
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (out[i] == '\0')
            out[i] = ' ';
    *len = n;
    return out;
}

/* ascii_superset - a charset whose bytes below 0x80 are ASCII */
static int
ascii_superset(const char *cs)
{
    static const char *const prefix[] = {"us-ascii", "ascii",      "iso-8859-",
                                         "iso8859-", "windows-12", "cp12",
                                         "latin",    "utf-8",      "utf8"};

    for (size_t i = 0; i < sizeof prefix / sizeof prefix[0]; i++)
        if (strncasecmp(cs, prefix[i], strlen(prefix[i])) == 0)
            return 1;
    return 0;
}

/* all_ascii - no byte of s[0..n) past 0x7F */
static int
all_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

char *
mimeread_text(const struct mimeread_part *p, size_t max, size_t *len)
{
    char *b = mimeread_decode(p, max, len), *u;
    iconv_t cd;

    if (b == NULL || p->charset[0] == '\0' ||
        strcasecmp(p->charset, "utf-8") == 0)
        return b;
    /* ASCII in a charset that extends it is itself: nothing to convert */
    if (ascii_superset(p->charset) && all_ascii(b, *len))
        return b;
    cd = g_mime_iconv_open("UTF-8", p->charset);
    if (cd == (iconv_t)-1)
        return b; /* a charset GMime does not know: the bytes */
    u = g_mime_iconv_strndup(cd, b, *len);
    g_mime_iconv_close(cd);
    if (u != NULL) {
        size_t n = strlen(u);
        char *c;
        if (n > max) { /* cut where a character starts */
            n = max;
            while (n > 0 && ((unsigned char)u[n] & 0xC0) == 0x80)
                n--;
        }
        if ((c = malloc(n + 1)) != NULL) {
            memcpy(c, u, n);
            c[n] = '\0';
            free(b);
            b = c;
            *len = n;
        }
        g_free(u);
    }
    return b;
}
