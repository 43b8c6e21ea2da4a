/* SPDX-License-Identifier: ISC */
/*
 * track.c - HMAC tokens for tracking, unsubscribe and VERP (track.h).
 *
 * Layout before base64url: purpose (1) | campaign (4, big-endian) |
 * contact (8, big-endian) | url (clicks only) | MAC (16).  The MAC covers
 * every byte before it, so the purpose byte keeps an open token from
 * being used to unsubscribe.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "track.h"
#include "xalloc.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TRACK_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* URLs in click tokens: RFC 7230 suggests supporting 8000 octets. */
#define TRACK_URL_MAX 8000

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#ifdef TRACK_X86
/*
 * b64url_ssse3 - base64url of s's first 12 * k bytes while 16 can be
 * read (k the largest with 12 * (k - 1) + 16 <= n), 16 characters per 12
 * bytes into dst; returns the bytes done.  Wojciech Mula's method: spread
 * each 3 bytes over 4 lanes, cut the 6-bit indexes out with two
 * multiplies, then map index ranges (A-Z, a-z, 0-9, '-', '_') to their
 * offsets with one table lookup.
 */
__attribute__((target("ssse3"))) static size_t
b64url_ssse3(const uint8_t *s, size_t n, char *dst)
{
    const __m128i spread =
        _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    const __m128i offs = _mm_setr_epi8(
        'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
        '0' - 52, '0' - 52, '0' - 52, '0' - 52, '-' - 62, '_' - 63, 'A', 0, 0);
    size_t i;

    for (i = 0; n - i >= 16; i += 12, dst += 16) {
        __m128i in =
            _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + i)), spread);
        /* per 32-bit lane, bytes b1 b0 b2 b1: index 0 is b0's top six
         * bits, 1 the next six, and so on */
        __m128i hi =
            _mm_mulhi_epu16(_mm_and_si128(in, _mm_set1_epi32(0x0fc0fc00)),
                            _mm_set1_epi32(0x04000040));
        __m128i lo =
            _mm_mullo_epi16(_mm_and_si128(in, _mm_set1_epi32(0x003f03f0)),
                            _mm_set1_epi32(0x01000010));
        __m128i idx = _mm_or_si128(hi, lo);
        /* 0..51 -> 0, 52..63 -> 1..12; then below 26 -> 13 */
        __m128i r = _mm_subs_epu8(idx, _mm_set1_epi8(51));
        r = _mm_or_si128(r,
                         _mm_and_si128(_mm_cmpgt_epi8(_mm_set1_epi8(26), idx),
                                       _mm_set1_epi8(13)));
        _mm_storeu_si128((__m128i *)dst,
                         _mm_add_epi8(idx, _mm_shuffle_epi8(offs, r)));
    }
    return i;
}
#endif

/* b64url_put - base64url of n bytes into dst, which has room for
 * (n + 2) / 3 * 4 bytes; returns the length written (no padding). */
static size_t
b64url_put(const uint8_t *s, size_t n, char *dst)
{
    char *o = dst;
    size_t i = 0;

#ifdef TRACK_X86
    if (n >= 16 && __builtin_cpu_supports("ssse3")) {
        i = b64url_ssse3(s, n, o);
        o += i / 3 * 4;
    }
#endif
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        o[0] = b64url[v >> 18];
        o[1] = b64url[(v >> 12) & 63];
        o[2] = b64url[(v >> 6) & 63];
        o[3] = b64url[v & 63];
        o += 4;
    }
    if (n - i == 1) {
        o[0] = b64url[s[i] >> 2];
        o[1] = b64url[(s[i] & 3) << 4];
        o += 2;
    } else if (n - i == 2) {
        o[0] = b64url[s[i] >> 2];
        o[1] = b64url[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        o[2] = b64url[(s[i + 1] & 15) << 2];
        o += 3;
    }
    return (size_t)(o - dst);
}

int
track_b64url_encode(const void *p, size_t n, struct buf *out)
{
    if (buf_reserve(out, (n + 2) / 3 * 4) == -1)
        return -1;
    out->len += b64url_put(p, n, out->p + out->len);
    out->p[out->len] = '\0';
    return 0;
}

static int
b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int
track_b64url_decode(const char *s, size_t n, struct buf *out)
{
    unsigned acc = 0;
    int bits = 0;

    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (buf_putc(out, (int)((acc >> bits) & 0xff)) == -1)
                return -1;
        }
    }
    /* leftover bits must be zero: one encoding per token */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return 0;
}

int
track_secret_create(const char *path, struct err *e)
{
    uint8_t secret[TRACK_SECRET_LEN];
    struct stat sb;
    int rc;

    if (stat(path, &sb) == 0)
        return 0;
    if (RAND_bytes(secret, sizeof secret) != 1)
        return err_set(e, EX_SOFTWARE, "no randomness for the secret");
    rc = fs_write_atomic(path, secret, sizeof secret, 0600, e);
    explicit_bzero(secret, sizeof secret);
    return rc == -1 ? -1 : 1;
}

int
track_secret_load(const char *path, struct track_key *k, struct err *e)
{
    struct stat sb;
    ssize_t n;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
        return err_set(e, EX_CONFIG,
                       "%s: %s (campaign init creates the tracking secret)",
                       path, strerror(errno));
    if (fstat(fd, &sb) == -1 || (sb.st_mode & 077) != 0) {
        close(fd);
        return err_set(e, EX_CONFIG,
                       "%s: the tracking secret must not be readable by "
                       "others (chmod 600 %s)",
                       path, path);
    }
    n = read(fd, k->secret, sizeof k->secret);
    close(fd);
    if (n != (ssize_t)sizeof k->secret)
        return err_set(e, EX_CONFIG, "%s: not a %d-byte tracking secret", path,
                       TRACK_SECRET_LEN);
    return 0;
}

/* mac - HMAC-SHA256 of p, truncated. */
static void
mac(const struct track_key *k, const void *p, size_t n,
    uint8_t out[TRACK_MAC_LEN])
{
    uint8_t full[32];
    unsigned int len = 0;

    HMAC(EVP_sha256(), k->secret, sizeof k->secret, p, n, full, &len);
    memcpy(out, full, TRACK_MAC_LEN);
}

static void
put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t
get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* token_head - the fixed part of a token: purpose, campaign, contact. */
static void
token_head(uint8_t raw[13], enum track_purpose p, uint32_t campaign,
           uint64_t contact)
{
    raw[0] = (uint8_t)p;
    put_be(raw + 1, campaign, 4);
    put_be(raw + 5, contact, 8);
}

int
track_token(const struct track_key *k, enum track_purpose p, uint32_t campaign,
            uint64_t contact, const char *url, struct buf *out)
{
    uint8_t fixed[13 + TRACK_MAC_LEN], small[13 + 256 + TRACK_MAC_LEN];
    size_t ulen = url ? strlen(url) : 0, n;
    uint8_t *raw;
    int rc;

    if (ulen > TRACK_URL_MAX)
        return -1;
    raw = ulen + sizeof fixed <= sizeof small ? small : NULL;
    if (raw == NULL)
        raw = (uint8_t *)malloc(13 + ulen + TRACK_MAC_LEN);
    if (raw == NULL)
        return -1;
    token_head(raw, p, campaign, contact);
    if (ulen)
        memcpy(raw + 13, url, ulen);
    n = 13 + ulen;
    mac(k, raw, n, raw + n);
    rc = track_b64url_encode(raw, n + TRACK_MAC_LEN, out);
    if (raw != small)
        free(raw);
    return rc;
}

/*---- precomputed HMAC (RFC 2104) ----*/

/* SHA-256 works on 64-byte blocks: the key, zero-padded to a block and
 * XORed with ipad or opad, is one block whose hash state we keep. */
#define HMAC_BLOCK 64
/* A token's bytes (head, url, MAC) up to this size stay on the stack:
 * a head and a URL of 300 bytes, padded for the inner hash. */
#define RAW_SMALL 384

/*
 * A message makes ten tokens (unsubscribe, view, open pixel, a click per
 * link, the VERP return path), each two or three SHA-256 blocks.  Through
 * EVP each token also pays for copying two digest contexts, padding and
 * cleansing.  On x86-64 processors with the SHA extensions we run the
 * blocks ourselves from the two key states (the compression of FIPS
 * 180-4 section 6.2.2, done by the SHA-NI instructions); elsewhere the
 * EVP contexts do it.  Both give HMAC()'s tokens: tests/unit/test_track.c
 * checks every padding case against OpenSSL.
 *
 * Each sha256rnds2 waits for the one before it (two rounds on the same
 * state), so one message leaves the SHA unit idle most of the time.
 * track_signer_tokens hashes two messages at once, their rounds
 * interleaved, at nearly the cost of one.
 */
#ifdef TRACK_X86
#define TRACK_SHANI 1

#define SHANI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t sha256_k[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t sha256_iv[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/*
 * The macros work on a lane L: its state L_s0 (ABEF) and L_s1 (CDGH), the
 * order the instructions want, the state before the block L_h0, L_h1, and
 * its schedule words L_m0 .. L_m3.  Naming the lane lets two lanes'
 * rounds be written one after the other.
 */
/* R4 - four rounds of group g with the schedule words L_m */
#define R4(L, m, g)                                                            \
    do {                                                                       \
        __m128i L##_k = _mm_add_epi32(                                         \
            L##_##m, _mm_load_si128((const __m128i *)&sha256_k[4 * (g)]));     \
        L##_s1 = _mm_sha256rnds2_epu32(L##_s1, L##_s0, L##_k);                 \
        L##_s0 = _mm_sha256rnds2_epu32(L##_s0, L##_s1,                         \
                                       _mm_shuffle_epi32(L##_k, 0x0e));        \
    } while (0)
/* S4 - the next group's words into L_a, from groups a, b, c, d (oldest
 * first): msg1 adds sigma0, msg2 sigma1 (FIPS 180-4 6.2.2 step 1) */
#define S4(L, a, b, c, d)                                                      \
    L##_##a = _mm_sha256msg2_epu32(                                            \
        _mm_add_epi32(_mm_sha256msg1_epu32(L##_##a, L##_##b),                  \
                      _mm_alignr_epi8(L##_##d, L##_##c, 4)),                   \
        L##_##d)
/* G - group g >= 4: its words, then its rounds */
#define G(L, g, a, b, c, d)                                                    \
    do {                                                                       \
        S4(L, a, b, c, d);                                                     \
        R4(L, a, g);                                                           \
    } while (0)
/* LOADW - the words of the 64-byte block at p (big-endian) */
#define LOADW(L, p)                                                            \
    do {                                                                       \
        L##_m0 =                                                               \
            _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p)), bswap);    \
        L##_m1 = _mm_shuffle_epi8(                                             \
            _mm_loadu_si128((const __m128i *)((p) + 16)), bswap);              \
        L##_m2 = _mm_shuffle_epi8(                                             \
            _mm_loadu_si128((const __m128i *)((p) + 32)), bswap);              \
        L##_m3 = _mm_shuffle_epi8(                                             \
            _mm_loadu_si128((const __m128i *)((p) + 48)), bswap);              \
    } while (0)
/* OPEN, CLOSE - keep the state before a block; add it after (6.2.2 4) */
#define OPEN(L)                                                                \
    do {                                                                       \
        L##_h0 = L##_s0;                                                       \
        L##_h1 = L##_s1;                                                       \
    } while (0)
#define CLOSE(L)                                                               \
    do {                                                                       \
        L##_s0 = _mm_add_epi32(L##_s0, L##_h0);                                \
        L##_s1 = _mm_add_epi32(L##_s1, L##_h1);                                \
    } while (0)
/* BLOCK - one block's 64 rounds on lane L (words in L_m) */
#define BLOCK(L)                                                               \
    do {                                                                       \
        OPEN(L);                                                               \
        R4(L, m0, 0);                                                          \
        R4(L, m1, 1);                                                          \
        R4(L, m2, 2);                                                          \
        R4(L, m3, 3);                                                          \
        G(L, 4, m0, m1, m2, m3);                                               \
        G(L, 5, m1, m2, m3, m0);                                               \
        G(L, 6, m2, m3, m0, m1);                                               \
        G(L, 7, m3, m0, m1, m2);                                               \
        G(L, 8, m0, m1, m2, m3);                                               \
        G(L, 9, m1, m2, m3, m0);                                               \
        G(L, 10, m2, m3, m0, m1);                                              \
        G(L, 11, m3, m0, m1, m2);                                              \
        G(L, 12, m0, m1, m2, m3);                                              \
        G(L, 13, m1, m2, m3, m0);                                              \
        G(L, 14, m2, m3, m0, m1);                                              \
        G(L, 15, m3, m0, m1, m2);                                              \
        CLOSE(L);                                                              \
    } while (0)
/* R4X, GX, BLOCK2 - the same on lanes x and y, interleaved */
#define R4X(m, g)                                                              \
    do {                                                                       \
        R4(x, m, g);                                                           \
        R4(y, m, g);                                                           \
    } while (0)
#define GX(g, a, b, c, d)                                                      \
    do {                                                                       \
        G(x, g, a, b, c, d);                                                   \
        G(y, g, a, b, c, d);                                                   \
    } while (0)
#define BLOCK2()                                                               \
    do {                                                                       \
        OPEN(x);                                                               \
        OPEN(y);                                                               \
        R4X(m0, 0);                                                            \
        R4X(m1, 1);                                                            \
        R4X(m2, 2);                                                            \
        R4X(m3, 3);                                                            \
        GX(4, m0, m1, m2, m3);                                                 \
        GX(5, m1, m2, m3, m0);                                                 \
        GX(6, m2, m3, m0, m1);                                                 \
        GX(7, m3, m0, m1, m2);                                                 \
        GX(8, m0, m1, m2, m3);                                                 \
        GX(9, m1, m2, m3, m0);                                                 \
        GX(10, m2, m3, m0, m1);                                                \
        GX(11, m3, m0, m1, m2);                                                \
        GX(12, m0, m1, m2, m3);                                                \
        GX(13, m1, m2, m3, m0);                                                \
        GX(14, m2, m3, m0, m1);                                                \
        GX(15, m3, m0, m1, m2);                                                \
        CLOSE(x);                                                              \
        CLOSE(y);                                                              \
    } while (0)
/* R4Q, GQ, BLOCK4 - the same on lanes x, y, z and w */
#define R4Q(m, g)                                                              \
    do {                                                                       \
        R4(x, m, g);                                                           \
        R4(y, m, g);                                                           \
        R4(z, m, g);                                                           \
        R4(w, m, g);                                                           \
    } while (0)
#define GQ(g, a, b, c, d)                                                      \
    do {                                                                       \
        G(x, g, a, b, c, d);                                                   \
        G(y, g, a, b, c, d);                                                   \
        G(z, g, a, b, c, d);                                                   \
        G(w, g, a, b, c, d);                                                   \
    } while (0)
#define BLOCK4()                                                               \
    do {                                                                       \
        OPEN(x);                                                               \
        OPEN(y);                                                               \
        OPEN(z);                                                               \
        OPEN(w);                                                               \
        R4Q(m0, 0);                                                            \
        R4Q(m1, 1);                                                            \
        R4Q(m2, 2);                                                            \
        R4Q(m3, 3);                                                            \
        GQ(4, m0, m1, m2, m3);                                                 \
        GQ(5, m1, m2, m3, m0);                                                 \
        GQ(6, m2, m3, m0, m1);                                                 \
        GQ(7, m3, m0, m1, m2);                                                 \
        GQ(8, m0, m1, m2, m3);                                                 \
        GQ(9, m1, m2, m3, m0);                                                 \
        GQ(10, m2, m3, m0, m1);                                                \
        GQ(11, m3, m0, m1, m2);                                                \
        GQ(12, m0, m1, m2, m3);                                                \
        GQ(13, m1, m2, m3, m0);                                                \
        GQ(14, m2, m3, m0, m1);                                                \
        GQ(15, m3, m0, m1, m2);                                                \
        CLOSE(x);                                                              \
        CLOSE(y);                                                              \
        CLOSE(z);                                                              \
        CLOSE(w);                                                              \
    } while (0)
/* OUTERW - the outer message, the inner digest (H0..H7) then its padding
 * (96 bytes after the key block), as words: FIPS 180-4 5.1.1 */
#define OUTERW(L)                                                              \
    do {                                                                       \
        __m128i L##_t = _mm_shuffle_epi32(L##_s0, 0x1b);                       \
        __m128i L##_u = _mm_shuffle_epi32(L##_s1, 0xb1);                       \
        L##_m0 = _mm_blend_epi16(L##_t, L##_u, 0xf0);                          \
        L##_m1 = _mm_alignr_epi8(L##_u, L##_t, 8);                             \
        L##_m2 = _mm_set_epi32(0, 0, 0, (int)0x80000000);                      \
        L##_m3 = _mm_set_epi32((HMAC_BLOCK + 32) * 8, 0, 0, 0);                \
    } while (0)
/* MACOUT - the first 16 bytes of the digest (H0..H3, big-endian) */
#define MACOUT(L, out)                                                         \
    _mm_storeu_si128(                                                          \
        (__m128i *)(out),                                                      \
        _mm_shuffle_epi8(_mm_blend_epi16(_mm_shuffle_epi32(L##_s0, 0x1b),      \
                                         _mm_shuffle_epi32(L##_s1, 0xb1),      \
                                         0xf0),                                \
                         bswap))

/* shani_key - the state after the block pad (from the IV), ABEF then
 * CDGH, for shani_hmac. */
SHANI_TARGET static void
shani_key(const uint8_t pad[HMAC_BLOCK], uint32_t st[8])
{
    const __m128i bswap =
        _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i x_s0, x_s1, x_h0, x_h1, x_m0, x_m1, x_m2, x_m3, t;

    t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&sha256_iv[0]),
                          0xb1);
    x_s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&sha256_iv[4]),
                             0x1b);
    x_s0 = _mm_alignr_epi8(t, x_s1, 8);
    x_s1 = _mm_blend_epi16(x_s1, t, 0xf0);
    LOADW(x, pad);
    BLOCK(x);
    _mm_storeu_si128((__m128i *)&st[0], x_s0);
    _mm_storeu_si128((__m128i *)&st[4], x_s1);
}

/*
 * shani_hmac - the truncated HMACs of two messages at once (or of one,
 * pb NULL): pa, already padded as na blocks for the inner hash (after the
 * key block), into maca; pb likewise into macb.  ist and ost are the key
 * states from shani_key.
 */
SHANI_TARGET static void
shani_hmac(const uint32_t ist[8], const uint32_t ost[8], const uint8_t *pa,
           size_t na, uint8_t *maca, const uint8_t *pb, size_t nb,
           uint8_t *macb)
{
    const __m128i bswap =
        _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    const __m128i i0 = _mm_loadu_si128((const __m128i *)&ist[0]),
                  i1 = _mm_loadu_si128((const __m128i *)&ist[4]),
                  o0 = _mm_loadu_si128((const __m128i *)&ost[0]),
                  o1 = _mm_loadu_si128((const __m128i *)&ost[4]);
    __m128i x_s0 = i0, x_s1 = i1, x_h0, x_h1, x_m0, x_m1, x_m2, x_m3;
    __m128i y_s0 = i0, y_s1 = i1, y_h0, y_h1, y_m0, y_m1, y_m2, y_m3;

    if (pb == NULL) {
        for (; na > 0; na--, pa += 64) {
            LOADW(x, pa);
            BLOCK(x);
        }
        OUTERW(x);
        x_s0 = o0;
        x_s1 = o1;
        BLOCK(x);
        MACOUT(x, maca);
        return;
    }
    for (; na > 0 && nb > 0; na--, nb--, pa += 64, pb += 64) {
        LOADW(x, pa);
        LOADW(y, pb);
        BLOCK2();
    }
    for (; na > 0; na--, pa += 64) {
        LOADW(x, pa);
        BLOCK(x);
    }
    for (; nb > 0; nb--, pb += 64) {
        LOADW(y, pb);
        BLOCK(y);
    }
    OUTERW(x);
    OUTERW(y);
    x_s0 = y_s0 = o0;
    x_s1 = y_s1 = o1;
    BLOCK2();
    MACOUT(x, maca);
    MACOUT(y, macb);
}
/*
 * shani_hmac4 - shani_hmac on four messages p[j] of nb blocks each into
 * mac[j].  Four lanes keep the SHA unit busier than two (their registers
 * no longer all fit, but the spills cost less than the rounds' wait).
 */
SHANI_TARGET static void
shani_hmac4(const uint32_t ist[8], const uint32_t ost[8],
            const uint8_t *const p[4], size_t nb, uint8_t *const mac[4])
{
    const __m128i bswap =
        _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    const __m128i i0 = _mm_loadu_si128((const __m128i *)&ist[0]),
                  i1 = _mm_loadu_si128((const __m128i *)&ist[4]),
                  o0 = _mm_loadu_si128((const __m128i *)&ost[0]),
                  o1 = _mm_loadu_si128((const __m128i *)&ost[4]);
    __m128i x_s0 = i0, x_s1 = i1, x_h0, x_h1, x_m0, x_m1, x_m2, x_m3;
    __m128i y_s0 = i0, y_s1 = i1, y_h0, y_h1, y_m0, y_m1, y_m2, y_m3;
    __m128i z_s0 = i0, z_s1 = i1, z_h0, z_h1, z_m0, z_m1, z_m2, z_m3;
    __m128i w_s0 = i0, w_s1 = i1, w_h0, w_h1, w_m0, w_m1, w_m2, w_m3;

    for (size_t b = 0; b < nb; b++) {
        LOADW(x, p[0] + 64 * b);
        LOADW(y, p[1] + 64 * b);
        LOADW(z, p[2] + 64 * b);
        LOADW(w, p[3] + 64 * b);
        BLOCK4();
    }
    OUTERW(x);
    OUTERW(y);
    OUTERW(z);
    OUTERW(w);
    x_s0 = y_s0 = z_s0 = w_s0 = o0;
    x_s1 = y_s1 = z_s1 = w_s1 = o1;
    BLOCK4();
    MACOUT(x, mac[0]);
    MACOUT(y, mac[1]);
    MACOUT(z, mac[2]);
    MACOUT(w, mac[3]);
}
#undef R4
#undef S4
#undef G
#undef LOADW
#undef OPEN
#undef CLOSE
#undef BLOCK
#undef R4X
#undef GX
#undef BLOCK2
#undef R4Q
#undef GQ
#undef BLOCK4
#undef OUTERW
#undef MACOUT

/* shani_ok - the processor has the SHA extensions (CPUID 7.0 EBX bit 29)
 * and SSE4.1 (CPUID 1 ECX bit 19). */
static int
shani_ok(void)
{
    unsigned a, b, c, d;

    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)))
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b >> 29) & 1;
}
#endif

struct track_signer {
    EVP_MD *md;
    EVP_MD_CTX *inner, *outer; /* after the padded key block */
    EVP_MD_CTX *work;
#ifdef TRACK_SHANI
    int shani;
    uint32_t ist[8], ost[8]; /* the same two states, for shani_hmac */
#endif
};

void
track_signer_free(struct track_signer *s)
{
    if (s == NULL)
        return;
    EVP_MD_CTX_free(s->inner);
    EVP_MD_CTX_free(s->outer);
    EVP_MD_CTX_free(s->work);
    EVP_MD_free(s->md);
    explicit_bzero(s, sizeof *s);
    free(s);
}

struct track_signer *
track_signer_new(const struct track_key *k, struct err *e)
{
    struct track_signer *s = xcalloc(1, sizeof *s);
    uint8_t ipad[HMAC_BLOCK], opad[HMAC_BLOCK];
    int ok;

    memset(ipad, 0x36, sizeof ipad);
    memset(opad, 0x5c, sizeof opad);
    for (size_t i = 0; i < sizeof k->secret; i++) {
        ipad[i] ^= k->secret[i];
        opad[i] ^= k->secret[i];
    }
    s->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    s->inner = EVP_MD_CTX_new();
    s->outer = EVP_MD_CTX_new();
    s->work = EVP_MD_CTX_new();
    ok = s->md && s->inner && s->outer && s->work &&
         EVP_DigestInit_ex2(s->inner, s->md, NULL) == 1 &&
         EVP_DigestUpdate(s->inner, ipad, sizeof ipad) == 1 &&
         EVP_DigestInit_ex2(s->outer, s->md, NULL) == 1 &&
         EVP_DigestUpdate(s->outer, opad, sizeof opad) == 1;
#ifdef TRACK_SHANI
    if (ok && (s->shani = shani_ok())) {
        shani_key(ipad, s->ist);
        shani_key(opad, s->ost);
    }
#endif
    explicit_bzero(ipad, sizeof ipad);
    explicit_bzero(opad, sizeof opad);
    if (!ok) {
        track_signer_free(s);
        err_set(e, EX_SOFTWARE, "HMAC-SHA256 set-up failed (OpenSSL)");
        return NULL;
    }
    return s;
}

void
track_signer_portable(struct track_signer *s)
{
#ifdef TRACK_SHANI
    s->shani = 0;
#else
    (void)s;
#endif
}

/* signer_evp - the truncated HMAC of raw (n bytes) into mac through the
 * EVP contexts. */
static int
signer_evp(struct track_signer *s, const uint8_t *raw, size_t n,
           uint8_t mac[TRACK_MAC_LEN])
{
    uint8_t ih[32];

    if (EVP_MD_CTX_copy_ex(s->work, s->inner) != 1 ||
        EVP_DigestUpdate(s->work, raw, n) != 1 ||
        EVP_DigestFinal_ex(s->work, ih, NULL) != 1 ||
        EVP_MD_CTX_copy_ex(s->work, s->outer) != 1 ||
        EVP_DigestUpdate(s->work, ih, sizeof ih) != 1 ||
        EVP_DigestFinal_ex(s->work, ih, NULL) != 1)
        return -1;
    memcpy(mac, ih, TRACK_MAC_LEN);
    return 0;
}

/* raw_room - the bytes a token of a n-byte message needs: the message
 * padded for the inner hash (FIPS 180-4 5.1.1), and the MAC after the
 * message. */
static size_t
raw_room(size_t n)
{
    return (n + 9 + 63) / 64 * 64 + 8;
}

/* raw_make - the message of request r (head, url) into raw, padded for
 * the inner hash after the key block; returns its blocks. */
static size_t
raw_make(uint8_t *raw, const struct track_req *r, uint32_t campaign)
{
    size_t n = 13 + r->ulen, nb = (n + 9 + 63) / 64;
    uint64_t bits = (uint64_t)(HMAC_BLOCK + n) * 8;

    token_head(raw, r->p, campaign, r->contact);
    if (r->ulen)
        memcpy(raw + 13, r->url, r->ulen);
    raw[n] = 0x80;
    memset(raw + n + 1, 0, nb * 64 - n - 1 - 8);
    put_be(raw + nb * 64 - 8, bits, 8);
    return nb;
}

/* raw_get - small when need bytes fit, else a new allocation (NULL on
 * failure). */
static uint8_t *
raw_get(uint8_t *small, size_t need)
{
    return need <= RAW_SMALL ? small : malloc(need);
}

/* token_put - the token (raw's n bytes and the MAC after them) at its
 * place r->off in out, then a NUL. */
static void
token_put(const uint8_t *raw, size_t n, const struct track_req *r,
          struct buf *out)
{
    b64url_put(raw, n + TRACK_MAC_LEN, out->p + r->off);
    out->p[r->off + r->len] = '\0';
}

/* token_room - what track_signer_token reserved for a token of a n-byte
 * message: its base64 with padding. */
static size_t
token_room(size_t n)
{
    return (n + TRACK_MAC_LEN + 2) / 3 * 4;
}

/* macs - the MACs of k (1, 2 or 4) padded messages raw[j] of len[j]
 * bytes and nb[j] blocks (four: all as many), each right after its
 * message. */
static int
macs(struct track_signer *s, uint8_t *const raw[4], const size_t len[4],
     const size_t nb[4], size_t k)
{
#ifdef TRACK_SHANI
    if (s->shani) {
        uint8_t *mac[4];
        for (size_t j = 0; j < k; j++)
            mac[j] = raw[j] + len[j];
        if (k == 4)
            shani_hmac4(s->ist, s->ost, (const uint8_t *const *)raw, nb[0],
                        mac);
        else
            shani_hmac(s->ist, s->ost, raw[0], nb[0], mac[0],
                       k == 2 ? raw[1] : NULL, k == 2 ? nb[1] : 0,
                       k == 2 ? mac[1] : NULL);
        return 0;
    }
#else
    (void)nb;
#endif
    for (size_t j = 0; j < k; j++)
        if (signer_evp(s, raw[j], len[j], raw[j] + len[j]) == -1)
            return -1;
    return 0;
}

/* BATCH_CHUNK - requests ordered by their blocks at a time */
#define BATCH_CHUNK 16

/*
 * group - hash and place the tokens of requests r[ix[0..k)] (k 1, 2 or
 * 4).  Returns 0, or -1 on allocation or OpenSSL failure.
 */
static int
group(struct track_signer *s, uint32_t campaign, struct track_req *r,
      const size_t *ix, size_t k, struct buf *out)
{
    uint8_t small[4][RAW_SMALL], *raw[4];
    size_t nb[4], len[4], j;
    int rc = 0;

    for (j = 0; j < k; j++) {
        len[j] = 13 + r[ix[j]].ulen;
        if ((raw[j] = raw_get(small[j], raw_room(len[j]))) == NULL) {
            rc = -1;
            break;
        }
        nb[j] = raw_make(raw[j], &r[ix[j]], campaign);
    }
    if (rc == 0)
        rc = macs(s, raw, len, nb, k);
    for (size_t i = 0; i < j; i++) {
        if (rc == 0)
            token_put(raw[i], len[i], &r[ix[i]], out);
        if (raw[i] != small[i])
            free(raw[i]);
    }
    return rc;
}

int
track_signer_tokens(struct track_signer *s, uint32_t campaign,
                    struct track_req *r, size_t n, struct buf *out)
{
    size_t need = 0, at = out->len, i;

    for (i = 0; i < n; i++) {
        if (r[i].ulen > TRACK_URL_MAX)
            return -1;
        need += token_room(13 + r[i].ulen) + (i > 0);
    }
    if (buf_reserve(out, need) == -1)
        return -1;
    /* each token's place, NUL-separated, in request order */
    for (i = 0; i < n; i++) {
        r[i].off = at;
        r[i].len = ((13 + r[i].ulen + TRACK_MAC_LEN) * 4 + 2) / 3;
        at += r[i].len + 1;
    }
    /* the lanes do best on messages of as many blocks: order each chunk
     * by blocks, then four of the same, else two, else one */
    for (i = 0; i < n; i += BATCH_CHUNK) {
        size_t m = n - i < BATCH_CHUNK ? n - i : BATCH_CHUNK, ix[BATCH_CHUNK];
        size_t key[BATCH_CHUNK], j, k;

        for (j = 0; j < m; j++) {
            size_t v = (13 + r[i + j].ulen + 9 + 63) / 64;
            for (k = j; k > 0 && key[k - 1] > v; k--) {
                key[k] = key[k - 1];
                ix[k] = ix[k - 1];
            }
            key[k] = v;
            ix[k] = i + j;
        }
        for (j = 0; j < m; j += k) {
            k = m - j >= 4 && key[j] == key[j + 3] ? 4 : m - j >= 2 ? 2 : 1;
            if (group(s, campaign, r, ix + j, k, out) == -1)
                return -1;
        }
    }
    out->len = n > 0 ? at - 1 : out->len;
    return 0;
}

int
track_signer_token(struct track_signer *s, enum track_purpose p,
                   uint32_t campaign, uint64_t contact, const char *url,
                   size_t ulen, struct buf *out)
{
    struct track_req r = {p, contact, url, ulen, 0, 0};

    return track_signer_tokens(s, campaign, &r, 1, out);
}

int
track_token_parse(const struct track_key *k, enum track_purpose p,
                  const char *tok, size_t len, uint32_t *campaign,
                  uint64_t *contact, struct buf *url)
{
    struct buf raw;
    uint8_t want[TRACK_MAC_LEN];
    size_t n;
    int ok;

    if (len > (TRACK_URL_MAX + 13 + TRACK_MAC_LEN) * 4 / 3 + 4)
        return -1;
    buf_init(&raw, TRACK_URL_MAX + 13 + TRACK_MAC_LEN);
    if (track_b64url_decode(tok, len, &raw) == -1 ||
        raw.len < 13 + TRACK_MAC_LEN) {
        /* the work of a wrong MAC all the same: every forged token is
         * answered after the same steps, whatever its shape */
        static const uint8_t zero[13];
        mac(k, raw.len >= sizeof zero ? (const void *)raw.p : zero,
            raw.len >= sizeof zero ? raw.len : sizeof zero, want);
        buf_free(&raw);
        return -1;
    }
    n = raw.len - TRACK_MAC_LEN;
    mac(k, raw.p, n, want);
    ok = CRYPTO_memcmp(want, raw.p + n, TRACK_MAC_LEN) == 0 &&
         (uint8_t)raw.p[0] == (uint8_t)p &&
         (p == TRACK_CLICK ? n > 13 : n == 13);
    if (ok) {
        *campaign = (uint32_t)get_be((uint8_t *)raw.p + 1, 4);
        *contact = get_be((uint8_t *)raw.p + 5, 8);
        if (url != NULL && n > 13) {
            buf_reset(url);
            ok = buf_append(url, raw.p + 13, n - 13) == 0;
        }
    }
    buf_free(&raw);
    return ok ? 0 : -1;
}
