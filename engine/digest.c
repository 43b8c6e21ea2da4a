/* SPDX-License-Identifier: ISC */
/*
 * digest.c - salted SHA-256 of addresses and name-based UUIDs (see
 * digest.h), on libcrypto's EVP interface.
 *
 * An import hashes every row and a send makes a Message-ID per message,
 * so the per-call set-up is kept out of the loop: the implementations are
 * fetched from the provider once per process (EVP_sha256() would look it
 * up again on every EVP_DigestInit_ex) and each thread keeps one
 * EVP_MD_CTX (freed when the thread ends), re-initialised per use rather
 * than allocated and freed.  The context never holds a secret for long:
 * it is re-initialised before every use.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

static EVP_MD *digest_md, *digest_sha1_md;
static pthread_once_t digest_once = PTHREAD_ONCE_INIT;
/* each thread's context, freed when the thread ends */
static pthread_key_t digest_key;

/* digest_unavailable - libcrypto without SHA-256 or SHA-1 is a broken
 * install. */
static void
digest_unavailable(void)
{
    fprintf(stderr, "campaign: SHA-256 or SHA-1 unavailable\n");
    abort();
}

static void
ctx_free(void *c)
{
    EVP_MD_CTX_free(c);
}

/* digest_fetch - the provider's SHA-256 and SHA-1, once. */
static void
digest_fetch(void)
{
    digest_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    digest_sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
    if (pthread_key_create(&digest_key, ctx_free) != 0)
        digest_md = NULL; /* reported as unavailable */
}

/* digest_ctx - this thread's context (made on first use). */
static EVP_MD_CTX *
digest_ctx(void)
{
    EVP_MD_CTX *c = pthread_getspecific(digest_key);

    if (c == NULL) {
        if ((c = EVP_MD_CTX_new()) == NULL ||
            pthread_setspecific(digest_key, c) != 0)
            digest_unavailable();
    }
    return c;
}

void
digest_email(const char *salt, const char *email, uint8_t out[DIGEST_LEN])
{
    unsigned int n = 0;

    EVP_MD_CTX *c;

    pthread_once(&digest_once, digest_fetch);
    if (digest_md == NULL)
        digest_unavailable();
    c = digest_ctx();
    if (EVP_DigestInit_ex(c, digest_md, NULL) != 1 ||
        EVP_DigestUpdate(c, salt, strlen(salt)) != 1 ||
        EVP_DigestUpdate(c, email, strlen(email)) != 1 ||
        EVP_DigestFinal_ex(c, out, &n) != 1 || n != DIGEST_LEN)
        digest_unavailable();
}

void
digest_uuid_sha1(const uint8_t ns[16], const void *name, size_t n, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char h[20];
    unsigned int hn = 0;
    size_t o = 0;

    EVP_MD_CTX *c;

    pthread_once(&digest_once, digest_fetch);
    if (digest_md == NULL || digest_sha1_md == NULL)
        digest_unavailable();
    c = digest_ctx();
    if (EVP_DigestInit_ex(c, digest_sha1_md, NULL) != 1 ||
        EVP_DigestUpdate(c, ns, 16) != 1 || EVP_DigestUpdate(c, name, n) != 1 ||
        EVP_DigestFinal_ex(c, h, &hn) != 1 || hn != sizeof h)
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

int
digest_available(void)
{
    pthread_once(&digest_once, digest_fetch);
    return digest_md != NULL && digest_sha1_md != NULL;
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
