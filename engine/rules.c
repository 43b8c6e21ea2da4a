/* SPDX-License-Identifier: ISC */
/*
 * rules.c - the rule table (see rules.h and engine/classify.rules).
 *
 * Each pattern is compiled on its own, caseless and DOTALL, JIT when the
 * library has it; a rule matches when one of its patterns does.  (One
 * alternation a rule took 28% more instructions over the bench corpus: a
 * pattern alone often starts with a literal PCRE2 scans for, where an
 * alternation of many is tried at every position.)  Every match runs
 * under a match limit and a heap limit, so a user's pattern that
 * backtracks catastrophically on a hostile text fails that one match (as
 * no match) instead of taking the process's time.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "rules.h"
#include "rules_fix.h"
#include "xalloc.h"

/* generated from engine/classify.rules by scripts/embed-text */
extern const char rules_shipped_text[];

#define RULES_MATCH_LIMIT 200000u
#define RULES_HEAP_LIMIT 2048u /* KiB */
#define RULES_FILE_MAX (1u << 20)

struct compiled {
    struct rule r;
    pcre2_code **re; /* its patterns */
    size_t nre;
    int jit; /* every pattern compiled to machine code: pcre2_jit_match */
};

static struct compiled *table;
static size_t ntable;
/* tables replaced by a later rules_init, kept reachable: a thread of an
 * earlier caller may hold a rule of one */
struct retired {
    struct compiled *t;
    struct retired *next;
};
static struct retired *retired;
static int have_user; /* the table holds a user's rules */
static int ready;     /* read with __atomic_load_n */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pcre2_match_context *mctx;

static const struct {
    const char *key;
    const char *fix;
    int config;
} sender_keys[] =
    {
        {"helo", FIX_HELO, 1},         {"tls", FIX_TLS, 1},
        {"auth", FIX_AUTH, 1},         {"relay", FIX_RELAY, 1},
        {"identity", FIX_IDENTITY, 1}, {"dmarc", FIX_DMARC, 1},
        {"spf", FIX_SPF, 1},           {"dkim", FIX_DKIM, 1},
        {"address", FIX_SENDER, 1},    {"blocklist", FIX_BLOCKLIST, 0},
        {"account", FIX_ACCOUNT, 0},   {"rate", FIX_RATE, 0},
        {"client", FIX_CLIENT, 0},     {"reputation", FIX_REPUTATION, 0},
        {"acl", FIX_ACL, 0},           {"protocol", FIX_PROTOCOL, 0},
        {"mail", FIX_MAIL, 0},
},
  message_keys[] = {
      {"size", FIX_SIZE, 0},
      {"form", FIX_FORM, 0},
      {"content", FIX_CONTENT, 0},
};

const char *
rules_shipped(void)
{
    return rules_shipped_text;
}

/* verdict - fill r from "hard", "sender.helo", ...; -1 unknown */
static int
verdict(const char *v, size_t n, struct rule *r)
{
    static const char *const cls[] = {"hard", "soft", "blocked"};

    for (size_t i = 0; i < 3; i++)
        if (n == strlen(cls[i]) && memcmp(v, cls[i], n) == 0) {
            r->fault = RULE_RECIPIENT;
            r->bounce_class = cls[i];
            r->key = "";
            r->fix = NULL;
            r->config = 0;
            return 0;
        }
    r->bounce_class = "";
    if (n > 7 && memcmp(v, "sender.", 7) == 0) {
        for (size_t i = 0; i < sizeof sender_keys / sizeof sender_keys[0]; i++)
            if (n - 7 == strlen(sender_keys[i].key) &&
                memcmp(v + 7, sender_keys[i].key, n - 7) == 0) {
                r->fault = RULE_SENDER;
                r->key = sender_keys[i].key;
                r->fix = sender_keys[i].fix;
                r->config = sender_keys[i].config;
                return 0;
            }
    } else if (n > 8 && memcmp(v, "message.", 8) == 0) {
        for (size_t i = 0; i < sizeof message_keys / sizeof message_keys[0];
             i++)
            if (n - 8 == strlen(message_keys[i].key) &&
                memcmp(v + 8, message_keys[i].key, n - 8) == 0) {
                r->fault = RULE_MESSAGE;
                r->key = message_keys[i].key;
                r->fix = message_keys[i].fix;
                r->config = 0;
                return 0;
            }
    }
    return -1;
}

/* status_ok - "4.x.y" or "5.x.y", 1-3 digits each */
static int
status_ok(const char *s, size_t n)
{
    size_t i = 1, d;

    if (n < 5 || n > 11 || (s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    for (int part = 0; part < 2; part++) {
        i++;
        for (d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            d++;
        if (d < 1 || d > 3)
            return 0;
        if (part == 0 && (i >= n || s[i] != '.'))
            return 0;
    }
    return i == n;
}

/* push - rule r with its patterns re[0..nre) (taken) onto t */
static int
push(struct compiled **t, size_t *n, size_t *cap, const struct rule *r,
     pcre2_code **re, size_t nre, int jit, struct err *e)
{
    if (nre == 0)
        return err_set(e, EX_CONFIG, "%s:%d: rule [%s] has no pattern", r->file,
                       r->line, r->why);
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        *t = xreallocarray(*t, *cap, sizeof **t);
    }
    (*t)[*n].r = *r;
    (*t)[*n].re = re;
    (*t)[*n].nre = nre;
    (*t)[*n].jit = jit;
    (*n)++;
    return 0;
}

/* free_codes - re[0..n) and re */
static void
free_codes(pcre2_code **re, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pcre2_code_free(re[i]);
    free(re);
}

/*
 * parse - the rules of text (a NUL-terminated file), named file, appended
 * to t.  Strings the rules point to are copied and kept for the process.
 */
static int
parse(const char *text, const char *file, struct compiled **t, size_t *n,
      size_t *cap, struct err *e)
{
    pcre2_code **cur = NULL; /* the patterns of the rule being read */
    size_t ncur = 0, capcur = 0;
    int jit = 1; /* each of them compiled to machine code */
    struct rule r;
    int have = 0, line = 0;
    const char *p = text;

    memset(&r, 0, sizeof r);
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *next = end ? end + 1 : p + len;

        line++;
        while (len > 0 &&
               (p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        if (len == 0 || *p == '#') {
            p = next;
            continue;
        }
        if (*p == '[') {
            const char *close = memchr(p, ']', len), *sp;
            size_t vlen;

            if (have && push(t, n, cap, &r, cur, ncur, jit, e) == -1)
                goto fail;
            if (have)
                cur = NULL, ncur = capcur = 0, jit = 1;
            have = 0;
            memset(&r, 0, sizeof r);
            r.file = file;
            r.line = line;
            if (close == NULL) {
                err_set(e, EX_CONFIG,
                        "%s:%d: a rule line is \"[VERDICT] "
                        "words\": no ]",
                        file, line);
                goto fail;
            }
            sp = memchr(p + 1, ' ', (size_t)(close - p - 1));
            vlen = (size_t)((sp ? sp : close) - (p + 1));
            if (verdict(p + 1, vlen, &r) == -1) {
                err_set(e, EX_CONFIG,
                        "%s:%d: unknown verdict \"%.*s\" (hard, "
                        "soft, blocked, sender.KEY or message.KEY: see "
                        "`campaign bounces rules`)",
                        file, line, (int)vlen, p + 1);
                goto fail;
            }
            if (sp != NULL) {
                const char *st = sp + 1;
                size_t slen = (size_t)(close - st);
                if (!status_ok(st, slen)) {
                    err_set(e, EX_CONFIG,
                            "%s:%d: \"%.*s\" is not an enhanced "
                            "status (4.x.y or 5.x.y)",
                            file, line, (int)slen, st);
                    goto fail;
                }
                memcpy(r.status, st, slen);
                r.status[slen] = '\0';
            }
            {
                const char *w = close + 1;
                size_t wlen = len - (size_t)(w - p);
                while (wlen > 0 && *w == ' ') {
                    w++;
                    wlen--;
                }
                if (wlen == 0) {
                    err_set(e, EX_CONFIG,
                            "%s:%d: the rule needs a few words "
                            "after the verdict, saying why",
                            file, line);
                    goto fail;
                }
                r.why = xstrndup(w, wlen);
            }
            have = 1;
        } else {
            if (!have) {
                err_set(e, EX_CONFIG,
                        "%s:%d: a pattern before any "
                        "\"[VERDICT] words\" line",
                        file, line);
                goto fail;
            }
            {
                int code;
                PCRE2_SIZE off;
                pcre2_code *re = pcre2_compile((PCRE2_SPTR)p, len,
                                               PCRE2_CASELESS | PCRE2_DOTALL,
                                               &code, &off, NULL);
                if (re == NULL) {
                    PCRE2_UCHAR msg[160];
                    pcre2_get_error_message(code, msg, sizeof msg);
                    err_set(e, EX_CONFIG,
                            "%s:%d: a pattern of this rule does not "
                            "compile: %s (at offset %zu)",
                            file, line, (const char *)msg, (size_t)off);
                    goto fail;
                }
                if (pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) != 0)
                    jit = 0;
                if (ncur == capcur) {
                    capcur = capcur ? capcur * 2 : 8;
                    cur = xreallocarray(cur, capcur, sizeof *cur);
                }
                cur[ncur++] = re;
            }
        }
        p = next;
    }
    if (have && push(t, n, cap, &r, cur, ncur, jit, e) == -1)
        goto fail;
    if (!have)
        free_codes(cur, ncur);
    return 0;
fail:
    /* a rule read but not pushed owns its words and its patterns */
    if (have && (*n == 0 || (*t)[*n - 1].r.why != r.why))
        free((char *)(uintptr_t)r.why);
    free_codes(cur, ncur);
    return -1;
}

/* read_file - path's text, NUL-terminated, or NULL with e set */
static char *
read_file(const char *path, struct err *e)
{
    FILE *f = fopen(path, "r");
    char *s;
    size_t n;

    if (f == NULL) {
        err_set(e, EX_NOINPUT, "%s: cannot read the rules file: %s", path,
                strerror(errno));
        return NULL;
    }
    s = xmalloc(RULES_FILE_MAX + 1);
    n = fread(s, 1, RULES_FILE_MAX + 1, f);
    if (ferror(f) || n > RULES_FILE_MAX) {
        err_set(e, ferror(f) ? EX_IOERR : EX_CONFIG, "%s: %s", path,
                ferror(f) ? "read error" : "a rules file is at most 1 MiB");
        fclose(f);
        free(s);
        return NULL;
    }
    fclose(f);
    s[n] = '\0';
    if (memchr(s, '\0', n) != NULL) {
        err_set(e, EX_CONFIG, "%s: holds a NUL byte: not a rules file", path);
        free(s);
        return NULL;
    }
    return s;
}

/* build - compile the user's rules then the shipped ones, under lock */
static int
build(const char *path, struct err *e)
{
    struct compiled *t = NULL;
    size_t n = 0, cap = 0;
    char *text = NULL, *file = NULL;

    if (path != NULL && *path != '\0') {
        if ((text = read_file(path, e)) == NULL)
            return -1;
        file = xstrdup(path);
        if (parse(text, file, &t, &n, &cap, e) == -1)
            goto fail;
    }
    if (parse(rules_shipped_text, "classify.rules", &t, &n, &cap, e) == -1) {
        /* the shipped table is ours: a failure is a bug */
        fprintf(stderr, "campaign: %s\n", e->msg);
        abort();
    }
    if (mctx == NULL) {
        mctx = pcre2_match_context_create(NULL);
        if (mctx == NULL) {
            fprintf(stderr, "campaign: out of memory\n");
            abort();
        }
        pcre2_set_match_limit(mctx, RULES_MATCH_LIMIT);
        pcre2_set_heap_limit(mctx, RULES_HEAP_LIMIT);
    }
    if (table != NULL) {
        struct retired *r = xmalloc(sizeof *r);
        r->t = table;
        r->next = retired;
        retired = r;
    }
    table = t;
    ntable = n;
    have_user = file != NULL;
    free(text);
    __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    return 0;
fail:
    for (size_t i = 0; i < n; i++) {
        free_codes(t[i].re, t[i].nre);
        free((char *)(uintptr_t)t[i].r.why);
    }
    free(t);
    free(text);
    free(file);
    return -1;
}

int
rules_init(const char *path, struct err *e)
{
    int rc = 0;

    pthread_mutex_lock(&lock);
    if (path != NULL && *path == '\0')
        path = NULL;
    if (!ready || path != NULL || have_user)
        rc = build(path, e);
    pthread_mutex_unlock(&lock);
    return rc;
}

const struct rule *
rules_match(const char *text, size_t n)
{
    pcre2_match_data *md;
    const struct rule *r = NULL;

    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        struct err e;
        pthread_mutex_lock(&lock);
        if (!ready && build(NULL, &e) == -1) {
            fprintf(stderr, "campaign: %s\n", e.msg);
            abort();
        }
        pthread_mutex_unlock(&lock);
    }
    if (text == NULL || n == 0)
        return NULL;
    if (n > RULES_TEXT_MAX)
        n = RULES_TEXT_MAX;
    md = pcre2_match_data_create(1, NULL);
    if (md == NULL) {
        fprintf(stderr, "campaign: out of memory\n");
        abort();
    }
    /* pcre2_jit_match skips the checks pcre2_match makes of each call: a
     * third of the cost of a match of a short text */
    for (size_t i = 0; r == NULL && i < ntable; i++)
        for (size_t k = 0; r == NULL && k < table[i].nre; k++)
            if ((table[i].jit
                     ? pcre2_jit_match(table[i].re[k], (PCRE2_SPTR)text, n, 0,
                                       0, md, mctx)
                     : pcre2_match(table[i].re[k], (PCRE2_SPTR)text, n, 0, 0,
                                   md, mctx)) >= 0)
                r = &table[i].r;
    pcre2_match_data_free(md);
    return r;
}
