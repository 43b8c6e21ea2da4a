/* SPDX-License-Identifier: ISC */
/*
 * email.c - address validation, canonical and wire forms (see email.h).
 *
 * The grammar is one PCRE2 pattern compiled (and JIT-compiled) once per
 * process; match data is per thread.  Length limits are checked in C
 * before the pattern runs, so the pattern never sees a huge subject.  The
 * pattern always sees the domain as A-labels (ASCII), so it checks the
 * letters-digits-hyphen rule for every domain; Unicode goes through
 * libidn2 (domains) and libunistring (local parts), and only for
 * addresses that have a non-ASCII byte or an A-label.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <idn2.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "email.h"
#include "utf8.h"
#include "xalloc.h"

/*
 * Local part: RFC 5322 dot-atom over atext and, as RFC 6531 3.3 extends
 * it, UTF-8 (validated separately), or a quoted string of printable ASCII
 * other than '"', '\' and '@', or UTF-8.  Domain (as A-labels): labels of
 * [A-Za-z0-9-] not starting or ending with '-', separated by dots; the
 * top-level label must not be all digits.
 */
static const char email_pattern[] =
    "^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\x80-\\xff-]+"
    "(?:\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\x80-\\xff-]+)*"
    "|\"[\\x20\\x21\\x23-\\x3f\\x41-\\x5b\\x5d-\\x7e\\x80-\\xff]+\")"
    "@"
    "(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)\\.)+"
    "(?=[A-Za-z0-9-]*[A-Za-z])"
    "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$";

/* UTS #46 non-transitional processing (IDNA2008 as browsers and mail
 * providers apply it: "faß.de" stays itself), NFC on input, and the STD3
 * rules (letters, digits and hyphens only in ASCII). */
#define EMAIL_IDN_FLAGS                                                        \
    (IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL | IDN2_USE_STD3_ASCII_RULES)

/* A domain, as A-labels, is at most 253 octets (RFC 1034 3.1 without
 * the root's dot). */
#define EMAIL_DOMAIN_MAX 253

static pcre2_code *email_re;
static pthread_once_t email_once = PTHREAD_ONCE_INIT;
static _Thread_local pcre2_match_data *email_md;

static void
email_compile(void)
{
    int errcode;
    PCRE2_SIZE erroff;

    email_re = pcre2_compile((PCRE2_SPTR)email_pattern, PCRE2_ZERO_TERMINATED,
                             0, &errcode, &erroff, NULL);
    if (email_re == NULL) {
        /* our own constant pattern: a failure is a bug */
        fprintf(stderr,
                "campaign: email pattern does not compile (%d at %zu)\n",
                errcode, (size_t)erroff);
        abort();
    }
    (void)pcre2_jit_compile(email_re, PCRE2_JIT_COMPLETE);
}

static int
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/* all_ascii - whether the n bytes at p are all below 0x80 */
static int
all_ascii(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 0x80)
            return 0;
    return 1;
}

/* lower_ascii - the n bytes at p into out, ASCII letters lower-cased */
static void
lower_ascii(char *out, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
}

/* has_alabel - whether a label of the ASCII domain starts "xn--" (any
 * case): an A-label, to be decoded and checked. */
static int
has_alabel(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++) {
        if (i > 0 && p[i - 1] != '.')
            continue;
        if ((p[i] | 0x20) == 'x' && (p[i + 1] | 0x20) == 'n' &&
            p[i + 2] == '-' && p[i + 3] == '-')
            return 1;
    }
    return 0;
}

/* idn_reason - libidn2's refusal in our words. */
static const char *
idn_reason(int rc)
{
    switch (rc) {
    case IDN2_DISALLOWED:
        return "domain has a character IDNA2008 disallows";
    case IDN2_BIDI:
        return "domain breaks the IDNA bidi rule (RFC 5893)";
    case IDN2_TOO_BIG_LABEL:
        return "domain label longer than 63 octets as an A-label";
    case IDN2_TOO_BIG_DOMAIN:
        return "domain longer than 253 octets as A-labels";
    case IDN2_CONTEXTJ:
    case IDN2_CONTEXTJ_NO_RULE:
    case IDN2_CONTEXTO:
    case IDN2_CONTEXTO_NO_RULE:
        return "domain has a joiner or character out of its context "
               "(RFC 5892)";
    case IDN2_LEADING_COMBINING:
        return "domain label starts with a combining mark";
    case IDN2_HYPHEN_STARTEND:
        return "domain label starts or ends with a hyphen";
    case IDN2_UNASSIGNED:
        return "domain has an unassigned code point";
    case IDN2_PUNYCODE_BAD_INPUT:
    case IDN2_PUNYCODE_BIG_OUTPUT:
    case IDN2_PUNYCODE_OVERFLOW:
    case IDN2_INVALID_ALABEL:
    case IDN2_UALABEL_MISMATCH:
    case IDN2_ALABEL_ROUNDTRIP_FAILED:
    case IDN2_INVALID_NONTRANSITIONAL:
        return "domain has an invalid A-label (xn--)";
    case IDN2_ENCODING_ERROR:
        return "domain is not valid UTF-8";
    default:
        return "domain is not a valid IDNA2008 name";
    }
}

/*
 * The forms of an internationalised domain, as libidn2 gives them: about
 * 40,000 instructions a domain, and lists repeat their domains, so each
 * thread keeps the last ones it resolved (direct-mapped, keyed by the
 * domain's bytes as given; a domain longer than IDN_KEY_MAX is resolved
 * each time).  An entry is valid until the thread's next look-up.
 */
#define IDN_CACHE 128
#define IDN_KEY_MAX 96

struct idn_forms {
    int used;
    uint32_t hash;
    size_t klen;
    char key[IDN_KEY_MAX];
    const char *reason; /* NULL: a, u set */
    char a[EMAIL_DOMAIN_MAX + 1];
    char u[EMAIL_MAX + 1];
};

static pthread_key_t idn_key;
static int idn_key_ok; /* 0: no key (none left): no cache, scratch only */
static pthread_once_t idn_once = PTHREAD_ONCE_INIT;
static _Thread_local struct idn_forms idn_scratch;

/* idn_key_make - the key whose destructor frees a thread's table */
static void
idn_key_make(void)
{
    idn_key_ok = pthread_key_create(&idn_key, free) == 0;
}

/* resolve - the n bytes of domain at p: A-labels and U-labels into f */
static void
resolve(const unsigned char *p, size_t n, struct idn_forms *f)
{
    char in[EMAIL_INPUT_MAX + 1];
    uint8_t *a = NULL;
    char *u = NULL;
    int rc;

    f->reason = NULL;
    if (n > EMAIL_INPUT_MAX) {
        f->reason = "domain longer than 253 octets";
        return;
    }
    memcpy(in, p, n);
    in[n] = '\0';
    rc = idn2_lookup_u8((const uint8_t *)in, &a, EMAIL_IDN_FLAGS);
    if (rc != IDN2_OK) {
        f->reason = idn_reason(rc);
        return;
    }
    if (strlen((char *)a) > EMAIL_DOMAIN_MAX) {
        idn2_free(a);
        f->reason = "domain longer than 253 octets as A-labels";
        return;
    }
    if (idn2_to_unicode_8z8z((char *)a, &u, 0) != IDN2_OK ||
        strlen(u) > EMAIL_MAX) {
        idn2_free(a);
        idn2_free(u);
        f->reason = "domain has an invalid A-label (xn--)";
        return;
    }
    memcpy(f->a, a, strlen((char *)a) + 1);
    memcpy(f->u, u, strlen(u) + 1);
    idn2_free(a);
    idn2_free(u);
}

/* idn - the forms of the n bytes of domain at p (see struct idn_forms) */
static const struct idn_forms *
idn(const unsigned char *p, size_t n)
{
    struct idn_forms *tab, *f = &idn_scratch;
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    pthread_once(&idn_once, idn_key_make);
    if (n <= IDN_KEY_MAX && idn_key_ok) {
        if ((tab = pthread_getspecific(idn_key)) == NULL) {
            tab = xcalloc(IDN_CACHE, sizeof *tab);
            if (pthread_setspecific(idn_key, tab) != 0) {
                free(tab);
                tab = NULL;
            }
        }
        if (tab != NULL) {
            f = &tab[h % IDN_CACHE];
            if (f->used && f->hash == h && f->klen == n &&
                memcmp(f->key, p, n) == 0)
                return f;
            f->used = 1;
            f->hash = h;
            f->klen = n;
            memcpy(f->key, p, n);
        }
    }
    resolve(p, n, f);
    return f;
}

/* unseen - whether a non-ASCII code point in a local part would be
 * invisible or meaningless: Cc (C1 controls), Cf (bidi controls,
 * zero-width joiners), Cs, Co, Cn (unassigned) and every separator.  ASCII
 * is the grammar's (a space in a quoted local part is allowed). */
static int
unseen(ucs4_t uc)
{
    return uc >= 0x80 && (uc_is_general_category(uc, UC_CATEGORY_C) ||
                          uc_is_general_category(uc, UC_CATEGORY_Z));
}

/* delimiters - how many of the address delimiters the n bytes at p hold */
static size_t
delimiters(const uint8_t *p, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        k += p[i] != '\0' && strchr("@<>,;:\"\\()[] ", p[i]) != NULL;
    return k;
}

/* lookalike - whether a non-ASCII character of the local part at p (n
 * bytes, NFC) stands for an ASCII delimiter under compatibility
 * normalisation (NFKC): U+FF20 FULLWIDTH COMMERCIAL AT in
 * "victim＠evil.example@x.org" shows a second address to a reader. */
static int
lookalike(const uint8_t *p, size_t n)
{
    uint8_t buf[4 * EMAIL_LOCAL_MAX + 64], *k;
    size_t len = sizeof buf;
    int bad;

    if ((k = u8_normalize(UNINORM_NFKC, p, n, buf, &len)) == NULL)
        return 1;
    bad = delimiters(k, len) > delimiters(p, n);
    if (k != buf)
        free(k);
    return bad;
}

/* local_utf8 - the canonical form of a UTF-8 local part of n bytes into
 * out (EMAIL_LOCAL_MAX + 1 bytes): its length, or -1 with *reason. */
static int
local_utf8(const unsigned char *p, size_t n, char *out, const char **reason)
{
    uint8_t buf[4 * EMAIL_LOCAL_MAX + 16], *r;
    size_t len = sizeof buf, i;
    ucs4_t uc;
    int k;

    if (utf8_check((const char *)p, n) != UTF8_VALID) {
        *reason = "local part is not valid UTF-8";
        return -1;
    }
    r = u8_tolower(p, n, NULL, UNINORM_NFC, buf, &len);
    if (r == NULL) {
        *reason = "local part cannot be normalised";
        return -1;
    }
    for (i = 0; i < len; i += (size_t)k) {
        k = u8_mbtouc(&uc, r + i, len - i);
        if (k <= 0 || unseen(uc)) {
            if (r != buf)
                free(r);
            *reason = "local part has an invisible, control or unassigned "
                      "character";
            return -1;
        }
    }
    if (len > EMAIL_LOCAL_MAX) {
        if (r != buf)
            free(r);
        *reason = "local part longer than 64 octets";
        return -1;
    }
    if (lookalike(r, len)) {
        if (r != buf)
            free(r);
        *reason = "local part has a character that stands for @, <, >, a "
                  "quote or another delimiter (a full-width form)";
        return -1;
    }
    memcpy(out, r, len);
    if (r != buf)
        free(r);
    return (int)len;
}

/* grammar_ok - whether the n bytes at s match email_pattern */
static int
grammar_ok(const char *s, size_t n)
{
    pthread_once(&email_once, email_compile);
    if (email_md == NULL)
        email_md = pcre2_match_data_create_from_pattern(email_re, NULL);
    return pcre2_match(email_re, (PCRE2_SPTR)s, n, 0, 0, email_md, NULL) >= 0;
}

int
email_normalize(const char *in, size_t n, char out[EMAIL_MAX + 1],
                const char **reason)
{
    const unsigned char *p = (const unsigned char *)in, *dom;
    char local[EMAIL_LOCAL_MAX + 1];
    char check[EMAIL_LOCAL_MAX + 1 + EMAIL_DOMAIN_MAX + 1];
    const char *ulab = NULL;
    size_t i, at = 0, nat = 0, dn, alen, ulen;
    int llen;

    while (n > 0 && is_space(p[0])) {
        p++;
        n--;
    }
    while (n > 0 && is_space(p[n - 1]))
        n--;
    if (n == 0) {
        *reason = "empty email address";
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (p[i] == '\r' || p[i] == '\n') {
            *reason = "email address contains a line break";
            return -1;
        }
        if (p[i] == '\0') {
            *reason = "email address contains a NUL byte";
            return -1;
        }
        if (p[i] == '@') {
            at = i;
            nat++;
        }
    }
    if (nat == 0) {
        *reason = "email address has no @";
        return -1;
    }
    if (n > EMAIL_INPUT_MAX || (n > EMAIL_MAX && all_ascii(p, n))) {
        *reason = "email address longer than 254 octets";
        return -1;
    }
    if (nat > 1) {
        *reason = "email address has more than one @";
        return -1;
    }
    if (at == 0) {
        *reason = "email address has an empty local part";
        return -1;
    }
    dom = p + at + 1;
    dn = n - at - 1;

    /* the local part */
    if (all_ascii(p, at)) {
        if (at > EMAIL_LOCAL_MAX) {
            *reason = "local part longer than 64 octets";
            return -1;
        }
        lower_ascii(local, p, at);
        llen = (int)at;
    } else {
        if (at > 4 * EMAIL_LOCAL_MAX) {
            *reason = "local part longer than 64 octets";
            return -1;
        }
        if ((llen = local_utf8(p, at, local, reason)) == -1)
            return -1;
    }

    /* the domain: A-labels for the grammar, U-labels kept */
    if (utf8_check((const char *)dom, dn) != UTF8_VALID) {
        *reason = "domain is not valid UTF-8";
        return -1;
    }
    if (all_ascii(dom, dn) && !has_alabel(dom, dn)) {
        if (dn > EMAIL_DOMAIN_MAX) {
            *reason = "email address longer than 254 octets";
            return -1;
        }
        alen = ulen = dn;
        memcpy(check, local, (size_t)llen);
        check[llen] = '@';
        lower_ascii(check + llen + 1, dom, dn);
    } else {
        const struct idn_forms *f = idn(dom, dn);
        if (f->reason != NULL) {
            *reason = f->reason;
            return -1;
        }
        ulab = f->u;
        alen = strlen(f->a);
        ulen = strlen(f->u);
        memcpy(check, local, (size_t)llen);
        check[llen] = '@';
        memcpy(check + llen + 1, f->a, alen);
    }
    if ((size_t)llen + 1 + alen > EMAIL_MAX ||
        (size_t)llen + 1 + ulen > EMAIL_MAX) {
        *reason = "email address longer than 254 octets";
        return -1;
    }
    if (!grammar_ok(check, (size_t)llen + 1 + alen)) {
        *reason = "not a valid email address";
        return -1;
    }
    memcpy(out, check, (size_t)llen + 1);
    memcpy(out + llen + 1, ulab ? ulab : check + llen + 1, ulen);
    out[(size_t)llen + 1 + ulen] = '\0';
    return (int)((size_t)llen + 1 + ulen);
}

int
email_smtputf8(const char *email)
{
    const char *at = strrchr(email, '@');
    size_t n = at ? (size_t)(at - email) : strlen(email);

    return !all_ascii((const unsigned char *)email, n);
}

int
email_wire(const char *email, char out[EMAIL_MAX + 1], int *smtputf8,
           const char **reason)
{
    const char *at = strrchr(email, '@');
    const char *dom = at ? at + 1 : "";
    size_t ln = at ? (size_t)(at - email) : 0, dn = strlen(dom);
    const struct idn_forms *f;

    *smtputf8 = email_smtputf8(email);
    if (*smtputf8 || all_ascii((const unsigned char *)dom, dn)) {
        if (strlen(email) > EMAIL_MAX) {
            *reason = "email address longer than 254 octets";
            return -1;
        }
        memcpy(out, email, strlen(email) + 1);
        return 0;
    }
    if ((f = idn((const unsigned char *)dom, dn))->reason != NULL) {
        *reason = f->reason;
        return -1;
    }
    if (ln + 1 + strlen(f->a) > EMAIL_MAX) {
        *reason = "email address longer than 254 octets as A-labels";
        return -1;
    }
    memcpy(out, email, ln + 1);
    memcpy(out + ln + 1, f->a, strlen(f->a) + 1);
    return 0;
}

int
email_alabel_form(const char *email, char out[EMAIL_MAX + 1])
{
    const char *at = strrchr(email, '@');
    const char *why;
    int utf8;

    if (at == NULL || email_smtputf8(email) ||
        all_ascii((const unsigned char *)at + 1, strlen(at + 1)))
        return 0;
    return email_wire(email, out, &utf8, &why) == 0;
}

int
email_domain_alabels(const char *domain, char out[EMAIL_MAX + 1],
                     const char **reason)
{
    size_t n = strlen(domain);
    const struct idn_forms *f;

    if (all_ascii((const unsigned char *)domain, n) &&
        !has_alabel((const unsigned char *)domain, n)) {
        if (n > EMAIL_DOMAIN_MAX) {
            *reason = "domain longer than 253 octets";
            return -1;
        }
        lower_ascii(out, (const unsigned char *)domain, n);
        out[n] = '\0';
        return 0;
    }
    if ((f = idn((const unsigned char *)domain, n))->reason != NULL) {
        *reason = f->reason;
        return -1;
    }
    memcpy(out, f->a, strlen(f->a) + 1);
    return 0;
}

const char *
email_domain(const char *email)
{
    const char *at = strrchr(email, '@');
    return at ? at + 1 : email;
}
