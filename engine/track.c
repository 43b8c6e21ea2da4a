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

/* URLs in click tokens: RFC 7230 suggests supporting 8000 octets. */
#define TRACK_URL_MAX 8000

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
track_b64url_encode(const void *p, size_t n, struct buf *out)
{
    const unsigned char *s = p;
    size_t i;
    char q[4];

    if (buf_reserve(out, (n + 2) / 3 * 4) == -1)
        return -1;
    for (i = 0; i + 3 <= n; i += 3) {
        q[0] = b64url[s[i] >> 2];
        q[1] = b64url[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        q[2] = b64url[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
        q[3] = b64url[s[i + 2] & 63];
        if (buf_append(out, q, 4) == -1)
            return -1;
    }
    if (n - i == 1) {
        q[0] = b64url[s[i] >> 2];
        q[1] = b64url[(s[i] & 3) << 4];
        return buf_append(out, q, 2);
    }
    if (n - i == 2) {
        q[0] = b64url[s[i] >> 2];
        q[1] = b64url[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        q[2] = b64url[(s[i + 1] & 15) << 2];
        return buf_append(out, q, 3);
    }
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
        return err_set(e, EX_CONFIG, "%s: not a %d-byte tracking secret",
                       path, TRACK_SECRET_LEN);
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

int
track_token(const struct track_key *k, enum track_purpose p,
            uint32_t campaign, uint64_t contact, const char *url,
            struct buf *out)
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
    raw[0] = (uint8_t)p;
    put_be(raw + 1, campaign, 4);
    put_be(raw + 5, contact, 8);
    if (ulen)
        memcpy(raw + 13, url, ulen);
    n = 13 + ulen;
    mac(k, raw, n, raw + n);
    rc = track_b64url_encode(raw, n + TRACK_MAC_LEN, out);
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
