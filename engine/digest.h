/* SPDX-License-Identifier: ISC */
/*
 * digest.h - the salted address hash kept in the suppression list, so that
 * a forgotten person's address is gone but a later import of it can still
 * be recognised and kept suppressed.
 */
#ifndef CAMPAIGN_DIGEST_H
#define CAMPAIGN_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_LEN 32

/*
 * digest_email - SHA-256(salt || email) into out.  salt is the database's
 * hex salt (store_hash_salt), email the normal form.
 */
void digest_email(const char *salt, const char *email, uint8_t out[DIGEST_LEN]);

/*
 * digest_uuid_sha1 - the name-based UUID (RFC 4122 4.3, version 5, SHA-1)
 * of the n bytes of name in the namespace ns, in text form: 36 lower-case
 * characters and a NUL into out.  The same as libuuid's
 * uuid_generate_sha1 followed by uuid_unparse_lower, through libcrypto's
 * SHA-1 (a fraction of the cost; a Message-ID per message uses it).
 */
void digest_uuid_sha1(const uint8_t ns[16], const void *name, size_t n,
                      char out[37]);

/* digest_available - 1 when libcrypto gives SHA-256 and SHA-1 (without
 * them the functions above abort: check at start-up), else 0. */
int digest_available(void);

/* digest_hex - 64 lower-case hex digits and a NUL into out. */
void digest_hex(const uint8_t in[DIGEST_LEN], char out[2 * DIGEST_LEN + 1]);

#endif
