/* SPDX-License-Identifier: ISC */
/*
 * test_track.c - tracking tokens (engine/track.c): round trips, and every
 * kind of forgery refused.
 */
#include "th.h"

#include "track.h"

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
    for (size_t i = 0; i < t.len; i++) {
        char saved = t.p[i];
        t.p[i] = saved == 'A' ? 'B' : 'A';
        int bad = track_token_parse(&k, TRACK_UNSUBSCRIBE, t.p, t.len, &camp,
                                    &contact, NULL) == -1;
        t.p[i] = saved;
        if (!bad) {
            TH_CHECK(0, "a token altered at %zu is refused", i);
            break;
        }
        if (i + 1 == t.len)
            TH_CHECK(1, "a token altered at any position is refused");
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
    buf_free(&t);
    buf_free(&url);
    return TH_DONE();
}
