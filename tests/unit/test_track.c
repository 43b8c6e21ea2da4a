/* SPDX-License-Identifier: ISC */
/*
 * test_track.c - tracking tokens (engine/track.c): round trips, every
 * kind of forgery refused, and known answers computed by another
 * implementation (OpenSSL's command line), so that the layout, the key
 * and the MAC are checked against something other than the library.
 */
#include "th.h"

#include "track.h"

static unsigned rng = 2463534242u;

/* next - xorshift32 */
static unsigned
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* batch_one - track_signer_tokens on r[0..n) equals track_token on each;
 * the tokens NUL-separated in out.  Returns the number that differ. */
static unsigned
batch_one(const struct track_key *k, struct track_signer *s, uint32_t camp,
          struct track_req *r, size_t n, struct buf *out, struct buf *want)
{
    unsigned bad = 0;
    char urlz[9000];

    buf_reset(out);
    if (buf_append(out, "x", 1) == -1 || /* tokens after what is there */
        track_signer_tokens(s, camp, r, n, out) == -1)
        return (unsigned)n;
    for (size_t i = 0; i < n; i++) {
        buf_reset(want);
        if (r[i].url) {
            memcpy(urlz, r[i].url, r[i].ulen);
            urlz[r[i].ulen] = '\0';
        }
        if (track_token(k, r[i].p, camp, r[i].contact, r[i].url ? urlz : NULL,
                        want) == -1 ||
            r[i].len != want->len || r[i].off + r[i].len > out->len ||
            memcmp(out->p + r[i].off, want->p, want->len) != 0 ||
            out->p[r[i].off + r[i].len] != '\0')
            bad++;
    }
    if (n > 0 && r[n - 1].off + r[n - 1].len != out->len)
        bad++;
    return bad;
}

/*
 * batch_tests - batched tokens (two hashed at once on the SHA extensions,
 * one by one through OpenSSL otherwise) equal track_token's for random
 * purposes, contacts and URLs of every length 0..300 and some long ones,
 * in batches of 0 to 7; a URL over the maximum fails the batch.
 */
static void
batch_tests(const struct track_key *k)
{
    struct err e;
    struct track_signer *s[2];
    struct buf out, want;
    static char u[9000];
    struct track_req r[8];
    static const enum track_purpose ps[] = {TRACK_UNSUBSCRIBE, TRACK_OPEN,
                                            TRACK_VIEW, TRACK_BOUNCE};

    buf_init(&out, 0);
    buf_init(&want, 0);
    for (size_t i = 0; i < sizeof u; i++)
        u[i] = (char)(1 + next() % 255); /* no NUL */
    s[0] = track_signer_new(k, &e);
    s[1] = track_signer_new(k, &e);
    TH_CHECK(s[0] && s[1], "signers made");
    if (!s[0] || !s[1])
        return;
    track_signer_portable(s[1]);
    for (int w = 0; w < 2; w++) {
        unsigned bad = 0, runs = 0;
        /* every URL length 0..300: each in a batch with a random
         * partner, so that block counts differ within a pair */
        for (size_t n = 0; n <= 300; n++) {
            size_t nb = 1 + next() % 7;
            for (size_t i = 0; i < nb; i++) {
                size_t len = i == 0 ? n : next() % 301;
                r[i].contact = (uint64_t)next() << 32 | next();
                r[i].url = len ? u + next() % (sizeof u - len) : NULL;
                r[i].ulen = len;
                r[i].p = len ? TRACK_CLICK : ps[next() % 4];
            }
            bad += batch_one(k, s[w], next(), r, nb, &out, &want);
            runs++;
        }
        /* large batches (ordered by blocks a chunk at a time) */
        for (size_t nb = 8; nb <= 40; nb += 16) {
            static struct track_req big[40];
            for (size_t i = 0; i < nb; i++) {
                size_t len = next() % 3 == 0 ? 0 : next() % 200;
                big[i].contact = next();
                big[i].url = len ? u + next() % (sizeof u - len) : NULL;
                big[i].ulen = len;
                big[i].p = len ? TRACK_CLICK : TRACK_OPEN;
            }
            bad += batch_one(k, s[w], next(), big, nb, &out, &want);
            runs++;
        }
        /* long URLs (malloc'd messages), up to the maximum */
        for (size_t i = 0; i < 4; i++) {
            size_t len = i == 3 ? 8000 : 301 + next() % 7700;
            r[i].contact = next();
            r[i].url = u + next() % (sizeof u - len);
            r[i].ulen = len;
            r[i].p = TRACK_CLICK;
        }
        bad += batch_one(k, s[w], 9, r, 4, &out, &want);
        bad += batch_one(k, s[w], 9, r + 1, 3, &out, &want);
        TH_CHECK(bad == 0,
                 "%s: batched tokens equal track_token's (%u of %u "
                 "batches differ)",
                 w ? "OpenSSL" : "default", bad, runs + 2);
        buf_reset(&out);
        TH_CHECK(track_signer_tokens(s[w], 1, r, 0, &out) == 0 && out.len == 0,
                 "%s: an empty batch makes nothing", w ? "OpenSSL" : "default");
        r[1].ulen = 8001;
        TH_CHECK(track_signer_tokens(s[w], 1, r, 3, &out) == -1,
                 "%s: a URL over 8000 bytes fails the batch",
                 w ? "OpenSSL" : "default");
        buf_free(&want);
        buf_init(&want, 40);
        r[0] = (struct track_req){TRACK_OPEN, 1, NULL, 0, 0, 0};
        r[1] = r[0];
        TH_CHECK(track_signer_tokens(s[w], 1, r, 1, &want) == 0 &&
                     track_signer_tokens(s[w], 1, r, 2, &want) == -1,
                 "%s: a batch past the buffer's maximum fails",
                 w ? "OpenSSL" : "default");
        buf_free(&want);
        buf_init(&want, 0);
    }
    track_signer_free(s[0]);
    track_signer_free(s[1]);
    buf_free(&out);
    buf_free(&want);
}

/*
 * Known answers.  A token is base64url, without padding, of
 *     purpose (1 byte) | campaign (4, big-endian) | contact (8, big-endian)
 *     | URL (clicks only) | MAC
 * where MAC is the first 16 bytes of HMAC-SHA256 of everything before it,
 * keyed with the 32 bytes of the tracking secret as they are (track.c,
 * track.h).  The expected tokens were computed once, outside this
 * library, with OpenSSL 3.0's command line and coreutils, the secret
 * being the 32 ASCII bytes "0123456789abcdefghijklmnopqrstuv":
 *
 *   K=0123456789abcdefghijklmnopqrstuv
 *   tok() { { printf "$1"; printf "$1" |
 *             openssl dgst -sha256 -hmac "$K" -binary | head -c 16; } |
 *           base64 -w0 | tr '+/' '-_' | tr -d '='; echo; }
 *   tok 'u\x00\x00\x00\x03\x00\x00\x00\x00\x07\x5b\xcd\x15'
 *   tok 'o\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff'
 *   C='c\x01\x02\x03\x04\x11\x22\x33\x44\x55\x66\x77\x88'
 *   tok "${C}https://shop.example/p?a=1&b=2"
 *
 * The first one's HMAC in full (openssl dgst -sha256 -hmac "$K" of the
 * same 13 bytes): 91485d658946c894c66ab326d61e3027 (kept) and
 * 18ad10860eff6309cebb9466cf464224 (dropped).
 */
static const char kat_secret[] = "0123456789abcdefghijklmnopqrstuv";
static const struct {
    const char *name;
    enum track_purpose p;
    uint32_t campaign;
    uint64_t contact;
    const char *url;
    const char *token;
} kat[] = {
    {"unsubscribe, campaign 3, contact 123456789", TRACK_UNSUBSCRIBE, 3,
     123456789, NULL, "dQAAAAMAAAAAB1vNFZFIXWWJRsiUxmqzJtYeMCc"},
    {"open, every bit of campaign and contact set", TRACK_OPEN, 0xffffffffu,
     UINT64_MAX, NULL, "b________________0DE723Co9PECAW1gJDH57w"},
    {"click with its URL", TRACK_CLICK, 0x01020304u, 0x1122334455667788u,
     "https://shop.example/p?a=1&b=2",
     "YwECAwQRIjNEVWZ3iGh0dHBzOi8vc2hvcC5leGFtcGxlL3A_YT0xJmI9MnYKKFM7ZU9a38"
     "fIGut03pg"},
};

/* kat_tests - every way the library makes a token gives the known
 * answer, and the known answer parses back to its fields. */
static void
kat_tests(void)
{
    struct track_key k;
    struct track_signer *s[2];
    struct buf t, url;
    struct err e;

    memcpy(k.secret, kat_secret, sizeof k.secret);
    buf_init(&t, 0);
    buf_init(&url, 0);
    s[0] = track_signer_new(&k, &e);
    s[1] = track_signer_new(&k, &e);
    TH_CHECK(s[0] && s[1], "known answers: signers made");
    if (s[1])
        track_signer_portable(s[1]);
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        size_t ulen = kat[i].url ? strlen(kat[i].url) : 0;
        uint32_t camp = 0;
        uint64_t contact = 0;
        int rc;

        buf_reset(&t);
        rc = track_token(&k, kat[i].p, kat[i].campaign, kat[i].contact,
                         kat[i].url, &t);
        TH_STREQ(rc == 0 ? t.p : "(track_token failed)", kat[i].token,
                 "known answer: %s: track_token", kat[i].name);
        for (int w = 0; w < 2; w++) {
            struct track_req r = {kat[i].p, kat[i].contact, kat[i].url, ulen, 0,
                                  0};

            if (s[w] == NULL)
                continue;
            buf_reset(&t);
            TH_CHECK(track_signer_token(s[w], kat[i].p, kat[i].campaign,
                                        kat[i].contact, kat[i].url, ulen,
                                        &t) == 0 &&
                         strcmp(t.p, kat[i].token) == 0,
                     "known answer: %s: %s signer", kat[i].name,
                     w ? "OpenSSL" : "default");
            buf_reset(&t);
            TH_CHECK(track_signer_tokens(s[w], kat[i].campaign, &r, 1, &t) ==
                             0 &&
                         r.len == strlen(kat[i].token) &&
                         memcmp(t.p + r.off, kat[i].token, r.len) == 0,
                     "known answer: %s: %s batch", kat[i].name,
                     w ? "OpenSSL" : "default");
        }
        buf_reset(&url);
        TH_CHECK(track_token_parse(&k, kat[i].p, kat[i].token,
                                   strlen(kat[i].token), &camp, &contact,
                                   &url) == 0 &&
                     camp == kat[i].campaign && contact == kat[i].contact &&
                     (kat[i].url == NULL ||
                      (url.p && strcmp(url.p, kat[i].url) == 0)),
                 "known answer: %s: parses back", kat[i].name);
    }
    track_signer_free(s[0]);
    track_signer_free(s[1]);
    buf_free(&t);
    buf_free(&url);
}

/* b64_ref - base64url the slow way, six bits at a time */
static void
b64_ref(const unsigned char *p, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "abcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned acc = 0;
    int bits = 0;

    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            *out++ = a[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        *out++ = a[(acc << (6 - bits)) & 63];
    *out = '\0';
}

/* b64_tests - the encoder (vector and scalar parts) equals b64_ref for
 * every length 0..200 of random bytes and of each byte value repeated,
 * and decodes back. */
static void
b64_tests(void)
{
    unsigned char in[256];
    char want[400];
    struct buf got, back;
    unsigned bad = 0;

    buf_init(&got, 0);
    buf_init(&back, 0);
    for (int round = 0; round < 256 + 20; round++) {
        for (size_t i = 0; i < sizeof in; i++)
            in[i] = round < 256 ? (unsigned char)round : (unsigned char)next();
        for (size_t n = 0; n <= 200; n++) {
            /* at every alignment of the input */
            const unsigned char *p = in + (round + n) % 50;
            buf_reset(&got);
            buf_reset(&back);
            b64_ref(p, n, want);
            if (track_b64url_encode(p, n, &got) == -1 ||
                strcmp(got.p ? got.p : "", want) != 0 ||
                track_b64url_decode(got.p, got.len, &back) == -1 ||
                back.len != n || (n && memcmp(back.p, p, n) != 0))
                bad++;
        }
    }
    TH_CHECK(bad == 0, "base64url of 0..200 bytes, all byte values (%u bad)",
             bad);
    buf_free(&got);
    buf_free(&back);
}

int
main(void)
{
    struct track_key k, other;
    struct buf t, url;
    uint32_t camp;
    uint64_t contact;

    memset(k.secret, 7, sizeof k.secret);
    memset(other.secret, 8, sizeof other.secret);
    buf_init(&t, 0);
    buf_init(&url, 0);

    TH_CHECK(track_token(&k, TRACK_UNSUBSCRIBE, 3, 123456789, NULL, &t) == 0,
             "make an unsubscribe token");
    TH_CHECK(t.len >= 22 &&
                 strspn(t.p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"
                             "jklmnopqrstuvwxyz0123456789-_") == t.len,
             "token is base64url (%s)", t.p);
    TH_CHECK(track_token_parse(&k, TRACK_UNSUBSCRIBE, t.p, t.len, &camp,
                               &contact, NULL) == 0 &&
                 camp == 3 && contact == 123456789,
             "parse it back");
    TH_CHECK(track_token_parse(&k, TRACK_OPEN, t.p, t.len, &camp, &contact,
                               NULL) == -1,
             "another purpose is refused");
    TH_CHECK(track_token_parse(&other, TRACK_UNSUBSCRIBE, t.p, t.len, &camp,
                               &contact, NULL) == -1,
             "another secret is refused");
    TH_CHECK(track_token_parse(&k, TRACK_UNSUBSCRIBE, t.p, t.len - 1, &camp,
                               &contact, NULL) == -1,
             "a truncated token is refused");
    {
        size_t accepted = 0, first = 0;

        for (size_t i = 0; i < t.len; i++) {
            char saved = t.p[i];
            t.p[i] = saved == 'A' ? 'B' : 'A';
            if (track_token_parse(&k, TRACK_UNSUBSCRIBE, t.p, t.len, &camp,
                                  &contact, NULL) == 0 &&
                accepted++ == 0)
                first = i;
            t.p[i] = saved;
        }
        TH_CHECK(t.len > 0 && accepted == 0,
                 "a token altered at any of its %zu positions is refused "
                 "(%zu accepted, the first at %zu)",
                 t.len, accepted, first);
    }
    buf_reset(&t);
    track_token(&k, TRACK_CLICK, 3, 42, "https://shop.example/p?a=1&b=2", &t);
    TH_CHECK(track_token_parse(&k, TRACK_CLICK, t.p, t.len, &camp, &contact,
                               &url) == 0 &&
                 strcmp(url.p, "https://shop.example/p?a=1&b=2") == 0 &&
                 contact == 42,
             "click token carries its URL");
    TH_CHECK(track_token_parse(&k, TRACK_CLICK, "AAAA", 4, &camp, &contact,
                               &url) == -1,
             "short garbage refused");
    TH_CHECK(track_token_parse(&k, TRACK_CLICK, "!!!!////", 8, &camp, &contact,
                               &url) == -1,
             "characters outside base64url refused");

    /* the precomputed signer makes HMAC()'s tokens, for
     * every padding case: URLs of 0 to 300 bytes put the message end
     * anywhere in a block */
    {
        struct err e;
        struct track_signer *s = track_signer_new(&k, &e);
        struct buf a, b;
        char u[301];
        unsigned x = 12345, bad = 0;

        buf_init(&a, 0);
        buf_init(&b, 0);
        TH_CHECK(s != NULL, "signer made");
        for (size_t n = 0; s && n <= 300; n++) {
            for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                u[i] = (char)(1 + (x >> 16) % 255); /* no NUL */
            }
            u[n] = '\0';
            buf_reset(&a);
            buf_reset(&b);
            x = x * 1103515245u + 12345u;
            if (track_signer_token(s, n ? TRACK_CLICK : TRACK_OPEN, x,
                                   (uint64_t)x * 7919u + n, n ? u : NULL, n,
                                   &a) == -1 ||
                track_token(&k, n ? TRACK_CLICK : TRACK_OPEN, x,
                            (uint64_t)x * 7919u + n, n ? u : NULL, &b) == -1 ||
                a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
                bad++;
        }
        TH_CHECK(bad == 0, "signer tokens equal track_token's (%u differ)",
                 bad);
        track_signer_free(s);
        buf_free(&a);
        buf_free(&b);
    }
    batch_tests(&k);
    b64_tests();
    kat_tests();
    buf_free(&t);
    buf_free(&url);
    return TH_DONE();
}
