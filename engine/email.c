/* SPDX-License-Identifier: ISC */
/*
 * email.c - address validation and normalisation (see email.h).
 *
 * The grammar is one PCRE2 pattern compiled (and JIT-compiled) once per
 * process; match data is per thread.  Length limits are checked in C
 * before the pattern runs, so the pattern never sees a huge subject.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "email.h"
#include "utf8.h"

/*
 * Local part: RFC 5322 dot-atom over atext, or a quoted string of
 * printable ASCII other than '"', '\' and '@'.  Domain: labels of
 * [A-Za-z0-9-] or any byte >= 0x80 (UTF-8, validated separately), not
 * starting or ending with '-', separated by dots; the top-level label must
 * not be all digits.
 */
static const char email_pattern[] =
    "^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    "|\"[\\x20\\x21\\x23-\\x3f\\x41-\\x5b\\x5d-\\x7e]+\")"
    "@"
    "(?:(?:[A-Za-z0-9\\x80-\\xff](?:[A-Za-z0-9\\x80-\\xff-]{0,61}"
    "[A-Za-z0-9\\x80-\\xff])?)\\.)+"
    "(?=[A-Za-z0-9\\x80-\\xff-]*[A-Za-z\\x80-\\xff])"
    "[A-Za-z0-9\\x80-\\xff](?:[A-Za-z0-9\\x80-\\xff-]{0,61}"
    "[A-Za-z0-9\\x80-\\xff])?$";

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

int
email_normalize(const char *in, size_t n, char out[EMAIL_MAX + 1],
                const char **reason)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t i, at = 0, nat = 0;
    int rc;

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
    if (n > EMAIL_MAX) {
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
    if (at > EMAIL_LOCAL_MAX) {
        *reason = "local part longer than 64 octets";
        return -1;
    }
    for (i = 0; i < at; i++) {
        if (p[i] >= 0x80) {
            *reason = "non-ASCII local part (needs SMTPUTF8)";
            return -1;
        }
    }
    if (utf8_check((const char *)p + at + 1, n - at - 1) != UTF8_VALID) {
        *reason = "domain is not valid UTF-8";
        return -1;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = p[i];
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    out[n] = '\0';

    pthread_once(&email_once, email_compile);
    if (email_md == NULL)
        email_md = pcre2_match_data_create_from_pattern(email_re, NULL);
    rc = pcre2_match(email_re, (PCRE2_SPTR)out, n, 0, 0, email_md, NULL);
    if (rc < 0) {
        *reason = "not a valid email address";
        return -1;
    }
    return (int)n;
}

const char *
email_domain(const char *email)
{
    const char *at = strrchr(email, '@');
    return at ? at + 1 : email;
}
