/* SPDX-License-Identifier: ISC */
/*
 * utf8.c - UTF-8 validation per RFC 3629 section 4 (the byte-sequence
 * table), with an 8-bytes-at-a-time ASCII fast path since contact data is
 * mostly ASCII; decoding one code point; the code points not to show raw.
 */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

size_t
utf8_check(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* above U+10FFFF */
        } else {
            return i;
        }
        if (i + len > n)
            return i;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return i;
        for (size_t k = 2; k < len; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xbf)
                return i;
        i += len;
    }
    return UTF8_VALID;
}

size_t
utf8_next(const char *s, uint32_t *c)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;
    uint32_t v;

    if (p[0] < 0x80) {
        *c = p[0];
        return 1;
    }
    if ((p[0] & 0xe0) == 0xc0) {
        n = 2;
        v = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
        v = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4;
        v = p[0] & 0x07;
    } else
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80) /* the NUL that ends s, too */
            return 0;
        v = v << 6 | (p[k] & 0x3f);
    }
    if (utf8_check(s, n) != UTF8_VALID)
        return 0;
    *c = v;
    return n;
}

int
utf8_hidden(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e ||
           c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
           (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029;
}
