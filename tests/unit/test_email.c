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
    {"non-ASCII local part", "città@x.it", NULL},
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
    return TH_DONE();
}
