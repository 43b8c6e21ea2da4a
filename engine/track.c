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

/* URLs in click tokens: RFC 7230 suggests supporting 8000 octets. */
#define TRACK_URL_MAX 8000

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* b64url_put - base64url of n bytes into dst, which has room for
 * (n + 2) / 3 * 4 bytes; returns the length written (no padding). */
static size_t
b64url_put(const uint8_t *s, size_t n, char *dst)
{
    char *o = dst;
    size_t i;

    for (i = 0; i + 3 <= n; i += 3) {
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

/*
 * A message makes ten tokens (unsubscribe, view, open pixel, a click per
 * link, the VERP return path), each two or three SHA-256 blocks.  Through
 * EVP each token also pays for copying two digest contexts, padding and
 * cleansing.  On x86-64 processors with the SHA extensions we run the
 * blocks ourselves from the two key states (the compression of FIPS
 * 180-4 section 6.2.2, done by the SHA-NI instructions); elsewhere the
 * EVP contexts do it.  Both give HMAC()'s tokens: tests/unit/test_track.c
 * checks every padding case against OpenSSL.
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TRACK_SHANI 1
#include <cpuid.h>
#include <immintrin.h>

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

/* shani_blocks - run n 64-byte blocks into the state st (a..h). */
__attribute__((target("sha,sse4.1,ssse3"))) static void
shani_blocks(uint32_t st[8], const uint8_t *p, size_t n)
{
    const __m128i bswap =
        _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i s0, s1, t, m0, m1, m2, m3, msg, abef, cdgh;

    /* the instructions want the state as ABEF and CDGH */
    t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[0]), 0xb1);
    s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[4]), 0x1b);
    s0 = _mm_alignr_epi8(t, s1, 8);
    s1 = _mm_blend_epi16(s1, t, 0xf0);
/* four rounds of group g with its schedule words m */
#define R4(m, g)                                                               \
    do {                                                                       \
        msg = _mm_add_epi32(                                                   \
            (m), _mm_load_si128((const __m128i *)&sha256_k[4 * (g)]));         \
        s1 = _mm_sha256rnds2_epu32(s1, s0, msg);                               \
        s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(msg, 0x0e));      \
    } while (0)
/* the next group's words into a, from groups a, b, c, d (oldest first):
 * msg1 adds sigma0, msg2 sigma1 (FIPS 180-4 6.2.2 step 1) */
#define S4(a, b, c, d)                                                         \
    (a) = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((a), (b)),   \
                                             _mm_alignr_epi8((d), (c), 4)),    \
                               (d))
    for (; n > 0; n--, p += 64) {
        abef = s0;
        cdgh = s1;
        m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), bswap);
        m1 =
            _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
        m2 =
            _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
        m3 =
            _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
        R4(m0, 0);
        R4(m1, 1);
        R4(m2, 2);
        R4(m3, 3);
        S4(m0, m1, m2, m3);
        R4(m0, 4);
        S4(m1, m2, m3, m0);
        R4(m1, 5);
        S4(m2, m3, m0, m1);
        R4(m2, 6);
        S4(m3, m0, m1, m2);
        R4(m3, 7);
        S4(m0, m1, m2, m3);
        R4(m0, 8);
        S4(m1, m2, m3, m0);
        R4(m1, 9);
        S4(m2, m3, m0, m1);
        R4(m2, 10);
        S4(m3, m0, m1, m2);
        R4(m3, 11);
        S4(m0, m1, m2, m3);
        R4(m0, 12);
        S4(m1, m2, m3, m0);
        R4(m1, 13);
        S4(m2, m3, m0, m1);
        R4(m2, 14);
        S4(m3, m0, m1, m2);
        R4(m3, 15);
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
    }
#undef R4
#undef S4
    t = _mm_shuffle_epi32(s0, 0x1b);
    s1 = _mm_shuffle_epi32(s1, 0xb1);
    _mm_storeu_si128((__m128i *)&st[0], _mm_blend_epi16(t, s1, 0xf0));
    _mm_storeu_si128((__m128i *)&st[4], _mm_alignr_epi8(s1, t, 8));
}

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

/* shani_final - hash the last n (< 64 * 2 - 9) bytes of a message of
 * total bytes into st, padded (FIPS 180-4 5.1.1); digest out. */
static void
shani_final(uint32_t st[8], const uint8_t *p, size_t n, uint64_t total,
            uint8_t out[32])
{
    uint8_t blk[128];
    size_t nb = n + 9 > 64 ? 2 : 1;
    uint64_t bits = total * 8;

    memcpy(blk, p, n);
    blk[n] = 0x80;
    memset(blk + n + 1, 0, nb * 64 - n - 1);
    for (int i = 0; i < 8; i++)
        blk[nb * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
    shani_blocks(st, blk, nb);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(st[i] >> 24);
        out[4 * i + 1] = (uint8_t)(st[i] >> 16);
        out[4 * i + 2] = (uint8_t)(st[i] >> 8);
        out[4 * i + 3] = (uint8_t)st[i];
    }
}
#endif

struct track_signer {
    EVP_MD *md;
    EVP_MD_CTX *inner, *outer; /* after the padded key block */
    EVP_MD_CTX *work;
#ifdef TRACK_SHANI
    int shani;
    uint32_t ist[8], ost[8]; /* the same two states, for shani_blocks */
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
        memcpy(s->ist, sha256_iv, sizeof s->ist);
        memcpy(s->ost, sha256_iv, sizeof s->ost);
        shani_blocks(s->ist, ipad, 1);
        shani_blocks(s->ost, opad, 1);
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

/* signer_mac - the truncated HMAC of raw (n bytes) into mac. */
static int
signer_mac(struct track_signer *s, const uint8_t *raw, size_t n,
           uint8_t mac[TRACK_MAC_LEN])
{
    uint8_t ih[32];

#ifdef TRACK_SHANI
    if (s->shani) {
        uint32_t st[8];
        size_t full = n / 64 * 64;

        /* inner: the key block is in ist; the message, then padding */
        memcpy(st, s->ist, sizeof st);
        if (full > 0)
            shani_blocks(st, raw, full / 64);
        shani_final(st, raw + full, n - full, HMAC_BLOCK + n, ih);
        /* outer: the key block is in ost; the inner digest */
        memcpy(st, s->ost, sizeof st);
        shani_final(st, ih, sizeof ih, HMAC_BLOCK + sizeof ih, ih);
        memcpy(mac, ih, TRACK_MAC_LEN);
        return 0;
    }
#endif
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

int
track_signer_token(struct track_signer *s, enum track_purpose p,
                   uint32_t campaign, uint64_t contact, const char *url,
                   size_t ulen, struct buf *out)
{
    uint8_t small[13 + 256 + TRACK_MAC_LEN], *raw = small;
    size_t n = 13 + ulen;
    int rc;

    if (ulen > TRACK_URL_MAX ||
        buf_reserve(out, (n + TRACK_MAC_LEN + 2) / 3 * 4) == -1)
        return -1;
    if (n + TRACK_MAC_LEN > sizeof small &&
        (raw = malloc(n + TRACK_MAC_LEN)) == NULL)
        return -1;
    token_head(raw, p, campaign, contact);
    if (ulen)
        memcpy(raw + 13, url, ulen);
    rc = signer_mac(s, raw, n, raw + n);
    if (rc == 0) {
        out->len += b64url_put(raw, n + TRACK_MAC_LEN, out->p + out->len);
        out->p[out->len] = '\0';
    }
    if (raw != small)
        free(raw);
    return rc;
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
