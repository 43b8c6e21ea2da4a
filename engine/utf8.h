/* SPDX-License-Identifier: ISC */
/*
 * utf8.h - UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF).
 */
#ifndef CAMPAIGN_UTF8_H
#define CAMPAIGN_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * utf8_check - return the offset of the first byte that does not start a
 * valid sequence, or (size_t)-1 when all n bytes are valid UTF-8.
 */
size_t utf8_check(const char *s, size_t n);

#define UTF8_VALID ((size_t)-1)

/*
 * utf8_next - the code point that s starts with into *c, and its length
 * in bytes; 0 when s starts no valid sequence (RFC 3629: no overlong, no
 * surrogate, nothing above U+10FFFF; the NUL that ends s, too, past the
 * first byte).
 */
size_t utf8_next(const char *s, uint32_t *c);

/*
 * utf8_hidden - a code point that would hide or reorder what is shown,
 * which text for a reader (a terminal, a page) writes as an escape: the
 * C0 and C1 controls and DEL, the bidirectional controls and marks
 * (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069: "Trojan
 * Source", CVE-2021-42574), the line and paragraph separators (U+2028,
 * U+2029).
 */
int utf8_hidden(uint32_t c);

#endif
