/* SPDX-License-Identifier: ISC */
/*
 * fuzz_bounce.c - libFuzzer target for engine/bounce.c: the fuzz bytes
 * are one raw inbound message for bounce_parse (GMime, the DSN and ARF
 * field readers, the recipient-line scanner, the rule table), and, cut
 * into action, status, diagnostic and reply code, one recipient for
 * bounce_classify.
 *
 * Built and run by `make fuzz` (clang, -fsanitize=fuzzer,address,
 * undefined, against a clang build of engine/ and db/ in build/fuzz/).
 * A crash, a sanitizer report, a leak, a timeout (-timeout) or an input
 * that takes more than -rss_limit_mb is a finding: libFuzzer writes the
 * input to tests/fuzz/crashes/ and exits non-zero.  Reproduce with
 *   build/fuzz/fuzz_bounce tests/fuzz/crashes/crash-...
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "err.h"
#include "rules.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* about 180 KB: not on the stack (bounce.h) */
static struct bounce_report report;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct err e;

    (void)argc;
    (void)argv;
    err_clear(&e);
    if (rules_init(NULL, &e) == -1)
        abort();
    return 0;
}

/*
 * take - the next field of the fuzz bytes, up to a NUL byte or the end,
 * copied NUL-terminated into dst (cut to size); advances *p and *n
 */
static void
take(const uint8_t **p, size_t *n, char *dst, size_t size)
{
    const uint8_t *end = memchr(*p, '\0', *n);
    size_t k = end != NULL ? (size_t)(end - *p) : *n;

    if (size > 0) {
        size_t c = k < size - 1 ? k : size - 1;
        memcpy(dst, *p, c);
        dst[c] = '\0';
    }
    *p += k;
    *n -= k;
    if (*n > 0) { /* the NUL */
        (*p)++;
        (*n)--;
    }
}

/* classify_one - a recipient made of the fuzz bytes, NUL-separated:
 * action, status, diagnostic; the first two bytes make the reply code */
static void
classify_one(const uint8_t *data, size_t size)
{
    struct bounce_rcpt rc;
    const uint8_t *p = data;
    size_t n = size;

    memset(&rc, 0, sizeof rc);
    if (n >= 2) {
        rc.reply_code = (p[0] << 8 | p[1]) % 1000;
        p += 2;
        n -= 2;
    }
    take(&p, &n, rc.action, sizeof rc.action);
    take(&p, &n, rc.status, sizeof rc.status);
    take(&p, &n, rc.diagnostic, sizeof rc.diagnostic);
    bounce_classify(&rc);
    if (rc.classification == NULL)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bounce_opts o = {NULL};
    struct err e;

    err_clear(&e);
    if (bounce_parse((const char *)data, size, &o, &report, &e) == -1)
        abort(); /* only out of memory, which -rss_limit_mb reports first */
    if (report.nrcpt > BOUNCE_RCPT_MAX)
        abort();
    for (size_t i = 0; i < report.nrcpt; i++)
        if (report.rcpt[i].classification == NULL)
            abort();
    /* the classifier alone on the first 2 KB, where it is cheap */
    classify_one(data, size < 2048 ? size : 2048);
    return 0;
}
