/* SPDX-License-Identifier: ISC */
/*
 * buf.h - the one growable byte buffer (curl dynbuf, Postfix VSTRING).
 *
 * Every buffer carries a maximum: an append that would pass `max` fails
 * with -1 and leaves the buffer unchanged, so untrusted input can never
 * grow memory without bound.  The contents are always NUL-terminated for
 * convenience (the NUL is not counted in len).
 */
#ifndef CAMPAIGN_BUF_H
#define CAMPAIGN_BUF_H

#include <stddef.h>

struct buf {
    char *p;
    size_t len;
    size_t cap;
    size_t max; /* hard limit on len; 0 means the library default */
};

#define BUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* buf_append - append n bytes; -1 (unchanged) if len would exceed max. */
int buf_append(struct buf *b, const void *p, size_t n)
    __attribute__((warn_unused_result));
int buf_puts(struct buf *b, const char *s) __attribute__((warn_unused_result));
int buf_putc(struct buf *b, int c) __attribute__((warn_unused_result));
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));
/* buf_reserve - make room for n more bytes; -1 past max. */
int buf_reserve(struct buf *b, size_t n) __attribute__((warn_unused_result));
/* buf_steal - hand the storage to the caller (NUL-terminated); reset b. */
char *buf_steal(struct buf *b);

#endif
