/* SPDX-License-Identifier: ISC */
/*
 * xalloc.h - allocation that never returns NULL (OpenSMTPD util.c, msmtp
 * xalloc.h): out of memory is fatal, so callers never test for it.
 */
#ifndef CAMPAIGN_XALLOC_H
#define CAMPAIGN_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf - allocate a formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* freezero - wipe then free a secret (OpenBSD freezero). */
void freezero(void *p, size_t n);

#endif
