/* SPDX-License-Identifier: ISC */
/*
 * test_digest.c - engine/digest.c: the salted address hash and the
 * name-based UUIDs behind every Message-ID, against independent
 * implementations (a published SHA-256 value; libuuid).
 */
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "digest.h"
#include "th.h"

static void
test_email(void)
{
    uint8_t d[DIGEST_LEN];
    char hex[2 * DIGEST_LEN + 1];

    /* SHA-256("abc"): FIPS 180-2 B.1, as salt "a" + address "bc" */
    digest_email("a", "bc", d);
    digest_hex(d, hex);
    TH_STREQ(hex,
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
             "digest_email: SHA-256 of salt and address (FIPS 180-2 B.1)");
}

static void
test_uuid(void)
{
    unsigned int seed = 4122;
    int bad = 0;
    uuid_t ns, want;
    char w[40], got[40];

    /* RFC 4122 appendix B's DNS namespace and www.example.com, as the
     * errata and every implementation give it */
    uuid_parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8", ns);
    digest_uuid_sha1(ns, "www.example.com", 15, got);
    TH_STREQ(got, "2ed6657d-e927-568b-95e1-2665a8aea6a2",
             "digest_uuid_sha1: www.example.com in the DNS namespace");

    /* random namespaces and names of every length up to 200 (one and
     * several SHA-1 blocks), against libuuid */
    for (int r = 0; r < 2000; r++) {
        unsigned char name[200];
        size_t n = (size_t)r % sizeof name;

        for (size_t i = 0; i < 16; i++)
            ns[i] = (unsigned char)rand_r(&seed);
        for (size_t i = 0; i < n; i++)
            name[i] = (unsigned char)rand_r(&seed);
        uuid_generate_sha1(want, ns, (const char *)name, n);
        uuid_unparse_lower(want, w);
        digest_uuid_sha1(ns, name, n, got);
        bad += strcmp(w, got) != 0;
    }
    TH_CHECK(bad == 0,
             "digest_uuid_sha1: 2000 random names equal libuuid's "
             "uuid_generate_sha1 (%d differ)",
             bad);
}

int
main(void)
{
    test_email();
    test_uuid();
    return TH_DONE();
}
