/* SPDX-License-Identifier: ISC */
/*
 * log.c - stderr diagnostics.  See log.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "utf8.h"
#include "xalloc.h"

static const char *log_prog = "campaign";
static enum log_level log_level = LOG_NORMAL;

void
log_init(const char *progname, enum log_level level)
{
    log_prog = progname;
    log_level = level;
}

enum log_level
log_get_level(void)
{
    return log_level;
}

/* raw - c would drive a terminal (keep_lines: LF and TAB do not) */
static int
raw(unsigned char c, int keep_lines)
{
    return (c < ' ' && !(keep_lines && (c == '\n' || c == '\t'))) || c == 0x7f;
}

char *
log_unraw(const char *s, int keep_lines)
{
    size_t n = 0, bad = 0, k;
    uint32_t c;
    char *o, *p;

    for (; s[n]; n++)
        bad += raw((unsigned char)s[n], keep_lines) ||
               ((unsigned char)s[n] >= 0x80 && utf8_next(s + n, &c) > 0 &&
                utf8_hidden(c));
    if (bad == 0)
        return NULL;
    o = p = xmalloc(4 * n + 1); /* \xHH for a byte, \uXXXX for 2 or more */
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] >= 0x80 && (k = utf8_next(s + i, &c)) > 0 &&
            utf8_hidden(c)) {
            p += sprintf(p, "\\u%04X", (unsigned)c);
            i += k - 1;
        } else if (raw((unsigned char)s[i], keep_lines))
            p += sprintf(p, "\\x%02x", (unsigned char)s[i]);
        else
            *p++ = s[i];
    }
    *p = '\0';
    return o;
}

static void
log_vemit(int with_errno, int saved, const char *fmt, va_list ap)
{
    char *msg = NULL;

    fprintf(stderr, "%s: ", log_prog);
    if (vasprintf(&msg, fmt, ap) == -1) {
        fputs("(out of memory formatting a message)", stderr);
        msg = NULL;
    } else {
        /* a contact's name from a CSV file may hold an ESC sequence */
        char *safe = log_unraw(msg, 1);
        fputs(safe ? safe : msg, stderr);
        free(safe);
        free(msg);
    }
    if (with_errno)
        fprintf(stderr, ": %s", strerror(saved));
    fputc('\n', stderr);
}

void
log_warn(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vemit(1, saved, fmt, ap);
    va_end(ap);
    errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vemit(0, 0, fmt, ap);
    va_end(ap);
}

void
log_info(const char *fmt, ...)
{
    va_list ap;

    if (log_level < LOG_NORMAL)
        return;
    va_start(ap, fmt);
    log_vemit(0, 0, fmt, ap);
    va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
    va_list ap;

    if (log_level < LOG_VERBOSE)
        return;
    va_start(ap, fmt);
    log_vemit(0, 0, fmt, ap);
    va_end(ap);
}

char *
log_printable(char *out, size_t outsz, const char *s, size_t n)
{
    size_t o = 0, i;

    if (outsz == 0)
        return out;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 8 >= outsz) {
            if (outsz >= 4) {
                o = o < outsz - 4 ? o : outsz - 4;
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (c >= 0x20 && c != 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else if (c == '\\') {
            out[o++] = '\\';
            out[o++] = '\\';
        } else {
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
        }
    }
    out[o] = '\0';
    return out;
}

int
err_set(struct err *e, int kind, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return -1;
    e->kind = kind;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

void
err_clear(struct err *e)
{
    e->kind = 0;
    e->msg[0] = '\0';
}
