/* SPDX-License-Identifier: ISC */
/* test_email.c - the mailbox grammar and normal form (engine/email.c). */
#include "th.h"

#include "email.h"

static const struct {
    const char *name;
    const char *in;
    const char *want; /* NULL: rejected */
} cases[] = {
    {"plain", "ada@example.com", "ada@example.com"},
    {"lower-cased", "Ada.Lovelace@Example.COM", "ada.lovelace@example.com"},
    {"trimmed", "  bob@x.org\t", "bob@x.org"},
    {"plus tag", "a+news@x.io", "a+news@x.io"},
    {"atext specials", "o'brien!#$%&*=?^_`{|}~-@x.io",
     "o'brien!#$%&*=?^_`{|}~-@x.io"},
    {"quoted local part", "\"john doe\"@x.io", "\"john doe\"@x.io"},
    {"UTF-8 domain", "ciao@città.it", "ciao@città.it"},
    {"subdomains", "a@mail.eu.example.co.uk", "a@mail.eu.example.co.uk"},
    {"hyphen inside label", "a@my-host.example", "a@my-host.example"},
    {"empty", "", NULL},
    {"spaces only", "   ", NULL},
    {"no at", "ada.example.com", NULL},
    {"two ats", "a@b@c.com", NULL},
    {"CRLF header injection", "a@x.com\r\nBcc: v@evil.com", NULL},
    {"LF", "a@x.com\nb", NULL},
    {"quoted at hides a second address", "\"v@evil.com\"@x.com", NULL},
    {"quoted backslash", "\"a\\\"b\"@x.com", NULL},
    {"comment", "a(comment)@x.com", NULL},
    {"display name", "Ada <ada@x.com>", NULL},
    {"leading dot", ".a@x.com", NULL},
    {"double dot", "a..b@x.com", NULL},
    {"trailing dot local", "a.@x.com", NULL},
    {"no TLD", "a@localhost", NULL},
    {"numeric TLD", "a@1.2.3.4", NULL},
    {"address literal", "a@[127.0.0.1]", NULL},
    {"label starts with hyphen", "a@-x.com", NULL},
    {"label ends with hyphen", "a@x-.com", NULL},
    {"empty label", "a@x..com", NULL},
    {"trailing dot domain", "a@x.com.", NULL},
    {"space inside", "a b@x.com", NULL},
    /* RFC 6531: a UTF-8 local part, lower-cased (Unicode) and NFC */
    {"UTF-8 local part", "città@x.it", "città@x.it"},
    {"UTF-8 local part upper case", "CHLOÉ.Dubois@Example.FR",
     "chloé.dubois@example.fr"},
    {"UTF-8 local part NFD to NFC", "chloe\xcc\x81@example.fr",
     "chlo\xc3\xa9@example.fr"},
    {"UTF-8 quoted local part", "\"chloé d\"@example.fr",
     "\"chloé d\"@example.fr"},
    {"Cyrillic local part", "ИВАН@пример.рф", "иван@пример.рф"},
    {"local part with zero-width space", "a\xe2\x80\x8b@x.com", NULL},
    {"local part with bidi override",
     "a\xe2\x80\xae"
     "b@x.com",
     NULL},
    {"local part with no-break space",
     "a\xc2\xa0"
     "b@x.com",
     NULL},
    {"local part with a C1 control",
     "a\xc2\x85"
     "b@x.com",
     NULL},
    {"local part with private use", "a\xee\x80\x80@x.com", NULL},
    {"invalid UTF-8 local part", "a\xc3@x.com", NULL},
    {"full-width @ in the local part", "victim＠evil.example@x.org", NULL},
    {"small commercial at in the local part", "a﹫b@x.org", NULL},
    {"full-width less-than in the local part", "a＜b@x.org", NULL},
    {"full-width letters in a local part are kept", "ｊｏｅ@x.org",
     "ｊｏｅ@x.org"},
    {"UTF-8 local part over 64 octets",
     "ééééééééééééééééééééééééééééééééé@x.com", NULL},
    /* IDNA2008 + UTS #46 (libidn2): one domain, whatever its spelling */
    {"U-label kept", "hans@bücher.de", "hans@bücher.de"},
    {"U-label upper case folded", "user@BÜCHER.DE", "user@bücher.de"},
    {"A-label decoded", "hans@xn--bcher-kva.de", "hans@bücher.de"},
    {"A-label upper case decoded", "hans@XN--BCHER-KVA.DE", "hans@bücher.de"},
    {"NFD domain to NFC",
     "hans@bu\xcc\x88"
     "cher.de",
     "hans@bücher.de"},
    {"full-width domain mapped", "x@ＥＸＡＭＰＬＥ.com", "x@example.com"},
    {"ideographic full stop", "x@例え。jp", "x@例え.jp"},
    {"CJK domain", "info@例え.jp", "info@例え.jp"},
    {"A-label TLD", "a@xn--bcher-kva.xn--p1ai", "a@bücher.рф"},
    {"sharp s kept (non-transitional)", "a@faß.de", "a@faß.de"},
    {"right-to-left label", "a@שלום.com", "a@שלום.com"},
    {"disallowed code point (snowman)", "a@☃.com", NULL},
    {"disallowed code point as an A-label", "a@xn--n3h.com", NULL},
    {"bidi rule: RTL label starting with a digit", "a@1שלום.com", NULL},
    {"invalid A-label", "a@xn--abc.de", NULL},
    {"bad punycode", "a@xn--.de", NULL},
    {"A-label over 63 octets",
     "a@ääääääääääääääääääääääääääääääääääääääääääääääääääääääääää.de", NULL},
    {"label starts with a combining mark", "a@\xcc\x88x.de", NULL},
    {"U-label with a trailing dot", "a@bücher.de.", NULL},
    {"U-label with an empty label", "a@bücher..de", NULL},
    {"invalid UTF-8 domain", "a@\xff\xfe.com", NULL},
    {"local part 65 octets",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.com",
     NULL},
    {"label 64 octets",
     "a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
     NULL},
};

int
main(void)
{
    char out[EMAIL_MAX + 1];
    char big[400];
    const char *why;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = email_normalize(cases[i].in, strlen(cases[i].in), out, &why);
        if (cases[i].want == NULL)
            TH_CHECK(n == -1 && why != NULL, "email rejects %s", cases[i].name);
        else
            TH_STREQ(n >= 0 ? out : NULL, cases[i].want, "email accepts %s",
                     cases[i].name);
    }
    /* NUL inside: length says more than strlen */
    TH_CHECK(email_normalize("a@x.com\0b", 9, out, &why) == -1,
             "email rejects an embedded NUL");
    /* total length: 64 + 1 + 189 = 254 accepted, 255 refused */
    memset(big, 'a', sizeof big);
    memcpy(big + 64, "@", 1);
    for (int i = 75; i < 254; i += 10)
        big[i] = '.';
    big[253] = 'z';
    big[254] = '\0';
    TH_CHECK(email_normalize(big, 254, out, &why) == 254,
             "email accepts 254 octets");
    big[254] = 'z';
    big[255] = '\0';
    TH_CHECK(email_normalize(big, 255, out, &why) == -1,
             "email rejects 255 octets");
    TH_STREQ(email_domain("a@x.org"), "x.org", "email_domain");

    /* the wire form */
    {
        int u8 = -1;
        TH_CHECK(email_wire("hans@bücher.de", out, &u8, &why) == 0 &&
                     strcmp(out, "hans@xn--bcher-kva.de") == 0 && u8 == 0,
                 "wire: ASCII local part, A-label domain, no SMTPUTF8");
        TH_CHECK(email_wire("chloé@bücher.de", out, &u8, &why) == 0 &&
                     strcmp(out, "chloé@bücher.de") == 0 && u8 == 1,
                 "wire: UTF-8 local part as it is, with SMTPUTF8");
        TH_CHECK(email_wire("ada@example.com", out, &u8, &why) == 0 &&
                     strcmp(out, "ada@example.com") == 0 && u8 == 0,
                 "wire: ASCII address unchanged");
        TH_CHECK(email_wire("a@☃.com", out, &u8, &why) == -1 && why != NULL,
                 "wire: a stored domain IDNA2008 refuses has no wire form");
    }
    TH_CHECK(email_smtputf8("chloé@x.fr") && !email_smtputf8("hans@bücher.de"),
             "email_smtputf8 looks at the local part only");
    TH_CHECK(email_alabel_form("hans@bücher.de", out) == 1 &&
                 strcmp(out, "hans@xn--bcher-kva.de") == 0,
             "A-label form of an IDN address");
    TH_CHECK(email_alabel_form("ada@example.com", out) == 0 &&
                 email_alabel_form("chloé@bücher.de", out) == 0,
             "no A-label form for ASCII domains or UTF-8 local parts");
    TH_CHECK(email_domain_alabels("BÜCHER.de", out, &why) == 0 &&
                 strcmp(out, "xn--bcher-kva.de") == 0,
             "domain key: U-labels to lower-case A-labels");
    TH_CHECK(email_domain_alabels("XN--BCHER-KVA.DE", out, &why) == 0 &&
                 strcmp(out, "xn--bcher-kva.de") == 0,
             "domain key: A-labels lower-cased");
    TH_CHECK(email_domain_alabels("Gmail.COM", out, &why) == 0 &&
                 strcmp(out, "gmail.com") == 0,
             "domain key: ASCII lower-cased");
    TH_CHECK(email_domain_alabels("☃.com", out, &why) == -1,
             "domain key: IDNA2008 refusal");
    /* the per-thread cache of IDN domains: the same answers, the second
     * time and after others took their slots (300 domains, 128 slots) */
    {
        char in[64], want[64];
        int bad = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int k = 0; k < 300; k++) {
                int i = pass ? 299 - k : k;
                snprintf(in, sizeof in,
                         "h@B\xc3\x9c"
                         "CHER%d.DE",
                         i);
                snprintf(want, sizeof want,
                         "h@b\xc3\xbc"
                         "cher%d.de",
                         i);
                if (email_normalize(in, strlen(in), out, &why) < 0 ||
                    strcmp(out, want) != 0 ||
                    email_domain_alabels(in + 2, big, &why) != 0 ||
                    strncmp(big, "xn--bcher", 9) != 0)
                    bad++;
            }
        TH_CHECK(bad == 0,
                 "IDN cache: 300 domains twice, every answer right "
                 "(%d wrong)",
                 bad);
        TH_CHECK(email_normalize("a@☃.com", 9, out, &why) == -1 &&
                     email_normalize("a@☃.com", 9, out, &why) == -1 &&
                     strstr(why, "disallows") != NULL,
                 "IDN cache: a refusal is remembered with its reason");
    }
    /* every accepted form is canonical: normalising it again is a no-op */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char again[EMAIL_MAX + 1];
        if (cases[i].want == NULL ||
            email_normalize(cases[i].in, strlen(cases[i].in), out, &why) < 0)
            continue;
        TH_CHECK(email_normalize(out, strlen(out), again, &why) >= 0 &&
                     strcmp(out, again) == 0,
                 "canonical form is stable: %s", cases[i].name);
    }
    return TH_DONE();
}
