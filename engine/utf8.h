/* SPDX-License-Identifier: ISC */
/*
 * utf8.h - UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF).
 */
#ifndef CAMPAIGN_UTF8_H
#define CAMPAIGN_UTF8_H

#include <stddef.h>

/*
 * utf8_check - return the offset of the first byte that does not start a
 * valid sequence, or (size_t)-1 when all n bytes are valid UTF-8.
 */
size_t utf8_check(const char *s, size_t n);

#define UTF8_VALID ((size_t)-1)

#endif
