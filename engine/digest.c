/* SPDX-License-Identifier: ISC */
/*
 * digest.c - salted SHA-256 of addresses (see digest.h), on libcrypto's
 * one-shot EVP interface.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

void
digest_email(const char *salt, const char *email, uint8_t out[DIGEST_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;

    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, salt, strlen(salt)) != 1 ||
        EVP_DigestUpdate(ctx, email, strlen(email)) != 1 ||
        EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != DIGEST_LEN) {
        fprintf(stderr, "campaign: SHA-256 unavailable\n");
        abort();
    }
    EVP_MD_CTX_free(ctx);
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
