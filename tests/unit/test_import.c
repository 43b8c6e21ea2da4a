/* SPDX-License-Identifier: ISC */
/* test_import.c - header names to attribute names, email header
 * detection, and UTF-8 validation (engine/csv_import.c, engine/utf8.c). */
#include "th.h"

#include "csv_import.h"
#include "bounds.h"
#include "utf8.h"

static const struct {
    const char *in, *want;
} names[] = {
    {"First Name", "first_name"},
    {"  E-Mail  ", "e_mail"},
    {"Email Address", "email_address"},
    {"MEMBER_RATING", "member_rating"},
    {"Città / Provincia", "città_provincia"},
    {"__x__y__", "x_y"},
    {"$$$", ""},
    {"Phone #2", "phone_2"},
};

static const struct {
    const char *header;
    int is_email;
} headers[] = {
    {"Email", 1},           {"E-mail", 1},       {"Email Address", 1},
    {"e-mail address", 1},  {"MAIL", 1},         {"email_address", 1},
    {"Indirizzo email", 1}, {"Courriel", 1},     {"name", 0},
    {"emails sent", 0},     {"email_opt_in", 0},
};

static const struct {
    const char *name, *s;
    size_t n;
    size_t want;
} utf8[] = {
    {"ascii", "hello", 5, UTF8_VALID},
    {"2-byte", "caf\xc3\xa9", 5, UTF8_VALID},
    {"4-byte", "\xf0\x9f\x93\xa7 mail", 9, UTF8_VALID},
    {"lone continuation", "ab\x80", 3, 2},
    {"truncated", "ab\xe2\x82", 4, 2},
    {"surrogate", "\xed\xa0\x80", 3, 0},
    {"above U+10FFFF", "\xf4\x90\x80\x80", 4, 0},
    {"overlong 3-byte", "\xe0\x80\xaf", 3, 0},
    {"latin1 byte after 8 ascii", "12345678\xe9", 9, 8},
};

int
main(void)
{
    char out[ATTR_NAME_MAX + 1];
    char norm[ATTR_NAME_MAX + 1];

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        import_attr_name(names[i].in, strlen(names[i].in), out, sizeof out);
        TH_STREQ(out, names[i].want, "attr name \"%s\"", names[i].in);
    }
    /* truncation never splits a UTF-8 sequence */
    import_attr_name("abcàààà", strlen("abcàààà"), out, 7);
    TH_CHECK(utf8_check(out, strlen(out)) == UTF8_VALID,
             "attr name truncation keeps UTF-8 whole (\"%s\")", out);
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        import_attr_name(headers[i].header, strlen(headers[i].header), norm,
                         sizeof norm);
        TH_CHECK(import_is_email_header(norm) == headers[i].is_email,
                 "email header \"%s\" -> %d", headers[i].header,
                 headers[i].is_email);
    }
    for (size_t i = 0; i < sizeof utf8 / sizeof utf8[0]; i++)
        TH_CHECK(utf8_check(utf8[i].s, utf8[i].n) == utf8[i].want,
                 "utf8_check %s", utf8[i].name);
    return TH_DONE();
}
