/* SPDX-License-Identifier: ISC */
/*
 * digest.c - salted SHA-256 of addresses and name-based UUIDs (see
 * digest.h), on libcrypto's EVP interface.
 *
 * An import hashes every row and a send makes a Message-ID per message, so the
 * per-call set-up is kept out of the loop: the SHA-256 implementation is
 * fetched from the provider once per process (EVP_sha256() would look it up
 * again on every EVP_DigestInit_ex) and each thread keeps one EVP_MD_CTX,
 * re-initialised per address rather than allocated and freed.  The context
 * never holds a secret for long: it is re-initialised before every use.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

static EVP_MD *digest_md, *digest_sha1_md;
static pthread_once_t digest_once = PTHREAD_ONCE_INIT;
static _Thread_local EVP_MD_CTX *digest_ctx;

/* digest_unavailable - libcrypto without SHA-256 or SHA-1 is a broken
 * install. */
static void
digest_unavailable(void)
{
    fprintf(stderr, "campaign: SHA-256 or SHA-1 unavailable\n");
    abort();
}

/* digest_fetch - the provider's SHA-256, once. */
static void
digest_fetch(void)
{
    digest_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    digest_sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
}

void
digest_email(const char *salt, const char *email, uint8_t out[DIGEST_LEN])
{
    unsigned int n = 0;

    pthread_once(&digest_once, digest_fetch);
    if (digest_md == NULL)
        digest_unavailable();
    if (digest_ctx == NULL && (digest_ctx = EVP_MD_CTX_new()) == NULL)
        digest_unavailable();
    if (EVP_DigestInit_ex(digest_ctx, digest_md, NULL) != 1 ||
        EVP_DigestUpdate(digest_ctx, salt, strlen(salt)) != 1 ||
        EVP_DigestUpdate(digest_ctx, email, strlen(email)) != 1 ||
        EVP_DigestFinal_ex(digest_ctx, out, &n) != 1 || n != DIGEST_LEN)
        digest_unavailable();
}

void
digest_uuid_sha1(const uint8_t ns[16], const void *name, size_t n, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char h[20];
    unsigned int hn = 0;
    size_t o = 0;

    pthread_once(&digest_once, digest_fetch);
    if (digest_sha1_md == NULL)
        digest_unavailable();
    if (digest_ctx == NULL && (digest_ctx = EVP_MD_CTX_new()) == NULL)
        digest_unavailable();
    if (EVP_DigestInit_ex(digest_ctx, digest_sha1_md, NULL) != 1 ||
        EVP_DigestUpdate(digest_ctx, ns, 16) != 1 ||
        EVP_DigestUpdate(digest_ctx, name, n) != 1 ||
        EVP_DigestFinal_ex(digest_ctx, h, &hn) != 1 || hn != sizeof h)
        digest_unavailable();
    /* RFC 4122 4.3: version 5 in the high nibble of octet 6, the variant
     * 10 in the high bits of octet 8 */
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x50);
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[h[i] >> 4];
        out[o++] = hex[h[i] & 15];
    }
    out[o] = '\0';
}

void
digest_hex(const uint8_t in[DIGEST_LEN], char out[2 * DIGEST_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < DIGEST_LEN; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * DIGEST_LEN] = '\0';
}
