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
    TH_CHECK(t.len >= 22 && strspn(t.p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"
                                         "jklmnopqrstuvwxyz0123456789-_") ==
                                t.len,
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
    track_token(&k, TRACK_CLICK, 3, 42, "https://shop.example/p?a=1&b=2",
                &t);
    TH_CHECK(track_token_parse(&k, TRACK_CLICK, t.p, t.len, &camp, &contact,
                               &url) == 0 &&
                 strcmp(url.p, "https://shop.example/p?a=1&b=2") == 0 &&
                 contact == 42,
             "click token carries its URL");
    TH_CHECK(track_token_parse(&k, TRACK_CLICK, "AAAA", 4, &camp, &contact,
                               &url) == -1,
             "short garbage refused");
    TH_CHECK(track_token_parse(&k, TRACK_CLICK, "!!!!////", 8, &camp,
                               &contact, &url) == -1,
             "characters outside base64url refused");
    buf_free(&t);
    buf_free(&url);
    return TH_DONE();
}
