/* SPDX-License-Identifier: ISC */
/*
 * render.c - the driver behind scripts/bench/render: messages per second
 * for render + build (compose.h composer_build), optionally DKIM-signed.
 *
 *   build/rel/bench/render [--contacts N] [--threads T]
 *                          [--dkim none|ed25519|rsa] [--templates DIR]
 *                          [--name NAME] [--now T] [--out FILE]
 *   build/rel/bench/render --csv FILE [--contacts N]
 *   build/rel/bench/render --sign-speed SECONDS [--threads T]
 *
 * Everything is set up before the clock starts, as `campaign send` does
 * it: the template loaded and compiled with tmpl_load, the campaign data
 * (templates/NAME.json) parsed once, a tracking secret (struct track_key)
 * with a base_url so that the unsubscribe, view, open and click tokens
 * and the VERP return path are made as in production, DKIM keys made by
 * dkim_keygen into a temporary directory and loaded with dkim_key_load.
 * The N contacts are generated in memory as the JSON attribute text the
 * store hands to the composer (ten attributes, accents, the odd missing
 * company or city).
 *
 * Timed: T threads, one composer each, thread k building the messages of
 * contacts k, k+T, k+2T, ...  Output: one line
 *   mode=MODE threads=T messages=N seconds=S rate=R avg_bytes=B
 * Exit 0, or 1 when a message could not be built (the error is printed).
 *
 * --sign-speed S measures the Ed25519 signer that campaign uses
 * (libsodium's crypto_sign_ed25519_detached over a 32-byte digest, as
 * DKIM signs) for S seconds on T threads and prints "sign_rate=R" (per
 * second, all threads): the ceiling of our own signer, beside the one
 * `openssl speed ed25519` shows.
 *
 * --csv FILE writes the same N contacts as CSV for `campaign import`
 * (scripts/bench/send uses it) and stops.
 *
 * --out FILE (one thread only) writes every message, each after a line
 * "envelope_from message_id header_len", to compare two builds of the
 * library byte for byte; --now fixes the Date and the DKIM t= for that.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "compose.h"
#include "dkim.h"
#include "tmpl.h"
#include "track.h"

struct bench {
    struct compose_params cp;
    char **email, **attrs;
    size_t n;
    int threads;
    int64_t now;
    FILE *out;
};

struct worker {
    struct bench *b;
    int k;
    pthread_t tid;
    size_t built, bytes;
    double cpu; /* seconds of CPU time the thread used */
    int failed;
    struct err e;
};

/* ---- contacts ---- */

static const char *const first_names[] = {
    "Niccolò", "Zoë",    "José",   "Françoise", "Björn",  "Łukasz",
    "Giulia",  "Marco",  "Anna",   "Luca",      "Chiara", "Matteo",
    "Sofia",   "Andrea", "Elena",  "Paolo",     "Irene",  "Davide",
    "Noël",    "Renée",  "Jürgen", "Ása",       "Çağla",  "Ivan",
};
static const char *const last_names[] = {
    "Rossi",    "D'Amico", "Müller",   "García",   "Nørgaard",
    "Esposito", "Bianchi", "Romano",   "Colombo",  "Ricci",
    "Marino",   "Greco",   "Bruno",    "Gallo",    "Conti",
    "De Luca",  "Mancini", "Costa",    "Giordano", "Rizzo",
    "Lombardi", "Moretti", "Barbieri", "Fontana",  "Öztürk",
};
static const char *const cities[] = {
    "Città di Castello",
    "Forlì",
    "Cantù",
    "São Paulo",
    "Zürich",
    "Kraków",
    "Milano",
    "Roma",
    "Torino",
    "Napoli",
    "Bologna",
    "Firenze",
    "Genova",
    "Bari",
    "Palermo",
    "Reggio nell'Emilia",
    "Trento",
    "Aosta",
    "Lecce",
    "Málaga",
};
static const char *const companies[] = {
    "Caffè Nero S.p.A.",   "Società Agricola Il Poggio",
    "Müller & Söhne GmbH", "Rossi e Figli S.r.l.",
    "Acme \"Italia\"",     "Studio Bianchi",
    "Pasticceria Dolcè",   "Ferramenta <Gallo>",
    "Vini del Collio",     "Tipografia Moretti",
};
static const char *const plans[] = {"free", "basic", "pro", "business"};
static const char *const countries[] = {"IT", "IT", "IT", "CH", "DE",
                                        "ES", "FR", "PL", "BR", "TR"};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
    /* xorshift64*: deterministic, so every run builds the same messages */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

#define PICK(a) (a[next() % (sizeof a / sizeof a[0])])

/* jstr - s as a JSON string (what jansson's json_dumps writes). */
static void
jstr(struct buf *b, const char *s)
{
    if (buf_putc(b, '"') == -1)
        goto full;
    for (; *s; s++) {
        if ((*s == '"' || *s == '\\') && buf_putc(b, '\\') == -1)
            goto full;
        if (buf_putc(b, *s) == -1)
            goto full;
    }
    if (buf_putc(b, '"') == -1)
        goto full;
    return;
full:
    fprintf(stderr, "render: out of buffer\n");
    exit(2);
}

/* One generated contact: the fields, NULL when absent. */
struct person {
    char email[128], phone[32], signup[16];
    const char *first, *last, *city, *company, *country, *plan;
    unsigned score;
    int vip;
};

static void
gen_person(size_t i, struct person *p)
{
    uint64_t r;

    p->first = PICK(first_names);
    p->last = PICK(last_names);
    r = next();
    snprintf(p->email, sizeof p->email, "user%zu.%c%c@%s", i,
             p->first[0] | 0x20, p->last[0] | 0x20,
             (r & 3) == 0   ? "example.com"
             : (r & 3) == 1 ? "mail.example.org"
             : (r & 3) == 2 ? "posta.example.it"
                            : "example.net");
    /* accents in the local part are not what lists hold: ASCII only */
    for (char *q = p->email; *q; q++)
        if ((unsigned char)*q >= 0x80 || *q == '\'' || *q == ' ')
            *q = 'x';
    p->city = r % 9 != 0 ? PICK(cities) : NULL;       /* some have none */
    p->company = r % 7 != 0 ? PICK(companies) : NULL; /* some have none */
    p->country = PICK(countries);
    snprintf(p->phone, sizeof p->phone, "+39 3%02u %03u %04u",
             (unsigned)(next() % 100), (unsigned)(next() % 1000),
             (unsigned)(next() % 10000));
    p->plan = PICK(plans);
    snprintf(p->signup, sizeof p->signup, "20%02u-%02u-%02u",
             (unsigned)(15 + next() % 10), (unsigned)(1 + next() % 12),
             (unsigned)(1 + next() % 28));
    p->score = (unsigned)(next() % 1000);
    p->vip = next() % 5 == 0;
}

static void
put_attr(struct buf *a, const char *k, const char *v)
{
    if (v == NULL)
        return;
    if (buf_printf(a, "%s\"%s\":", a->len > 1 ? "," : "", k) == -1)
        exit(2);
    jstr(a, v);
}

static void
gen_contacts(struct bench *b)
{
    struct buf a;
    struct person p;

    b->email = calloc(b->n, sizeof *b->email);
    b->attrs = calloc(b->n, sizeof *b->attrs);
    if (b->email == NULL || b->attrs == NULL) {
        fprintf(stderr, "render: out of memory\n");
        exit(2);
    }
    buf_init(&a, 0);
    for (size_t i = 0; i < b->n; i++) {
        gen_person(i, &p);
        buf_reset(&a);
        if (buf_putc(&a, '{') == -1)
            exit(2);
        put_attr(&a, "first_name", p.first);
        put_attr(&a, "last_name", p.last);
        put_attr(&a, "city", p.city);
        put_attr(&a, "company", p.company);
        put_attr(&a, "country", p.country);
        put_attr(&a, "phone", p.phone);
        put_attr(&a, "plan", p.plan);
        put_attr(&a, "signup_date", p.signup);
        if (buf_printf(&a, ",\"score\":%u,\"vip\":%s}", p.score,
                       p.vip ? "true" : "false") == -1)
            exit(2);
        b->email[i] = strdup(p.email);
        b->attrs[i] = strdup(a.p);
        if (b->email[i] == NULL || b->attrs[i] == NULL)
            exit(2);
    }
    buf_free(&a);
}

/* csv_field - v as a quoted CSV field (RFC 4180). */
static void
csv_field(FILE *f, const char *v, int last)
{
    fputc('"', f);
    for (; v && *v; v++) {
        if (*v == '"')
            fputc('"', f);
        fputc(*v, f);
    }
    fputs(last ? "\"\r\n" : "\",", f);
}

/* write_csv - the same n contacts as a CSV file for campaign import
 * (scripts/bench/send); empty cells where a contact has no value. */
static int
write_csv(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    struct person p;
    char num[16];

    if (f == NULL)
        return -1;
    fputs("email,first_name,last_name,city,company,country,phone,plan,"
          "signup_date,score,vip\r\n",
          f);
    for (size_t i = 0; i < n; i++) {
        gen_person(i, &p);
        csv_field(f, p.email, 0);
        csv_field(f, p.first, 0);
        csv_field(f, p.last, 0);
        csv_field(f, p.city, 0);
        csv_field(f, p.company, 0);
        csv_field(f, p.country, 0);
        csv_field(f, p.phone, 0);
        csv_field(f, p.plan, 0);
        csv_field(f, p.signup, 0);
        snprintf(num, sizeof num, "%u", p.score);
        csv_field(f, num, 0);
        csv_field(f, p.vip ? "true" : "false", 1);
    }
    return fclose(f) == EOF ? -1 : 0;
}

/* ---- the timed part ---- */

static void *
work(void *arg)
{
    struct worker *w = arg;
    struct bench *b = w->b;
    struct composer *c;
    struct compose_result r;
    struct buf out;

    if ((c = composer_new(&b->cp, &w->e)) == NULL) {
        w->failed = 1;
        return NULL;
    }
    buf_init(&out, 16u * 1024 * 1024);
    for (size_t i = (size_t)w->k; i < b->n; i += (size_t)b->threads) {
        struct compose_contact ct = {i + 1, b->email[i], b->attrs[i], NULL};

        if (composer_build(c, &ct, b->now, &out, &r, &w->e) == -1) {
            w->failed = 1;
            break;
        }
        w->built++;
        w->bytes += out.len;
        if (b->out) {
            fprintf(b->out, "%s %s %zu\n", r.envelope_from, r.message_id,
                    r.header_len);
            fwrite(out.p, 1, out.len, b->out);
        }
    }
    buf_free(&out);
    composer_free(c);
    {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        w->cpu = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
    return NULL;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the signer alone ---- */

struct signer {
    double seconds;
    pthread_t tid;
    unsigned long n;
};

static void *
sign_loop(void *arg)
{
    struct signer *s = arg;
    unsigned char pk[32], sk[64], dg[32], sig[64];
    double t0 = now_s();

    crypto_sign_ed25519_keypair(pk, sk);
    memset(dg, 0x5a, sizeof dg);
    do {
        for (int i = 0; i < 64; i++) {
            dg[0] = (unsigned char)i;
            crypto_sign_ed25519_detached(sig, NULL, dg, sizeof dg, sk);
        }
        s->n += 64;
    } while (now_s() - t0 < s->seconds);
    return NULL;
}

/* sign_speed - Ed25519 signatures per second on T threads. */
static int
sign_speed(double seconds, int threads)
{
    struct signer *s = calloc((size_t)threads, sizeof *s);
    unsigned long n = 0;
    double t0, t1;

    if (s == NULL || sodium_init() < 0)
        return 2;
    t0 = now_s();
    for (int k = 0; k < threads; k++) {
        s[k].seconds = seconds;
        if (pthread_create(&s[k].tid, NULL, sign_loop, &s[k]) != 0) {
            fprintf(stderr, "render: pthread_create failed\n");
            exit(2);
        }
    }
    for (int k = 0; k < threads; k++) {
        pthread_join(s[k].tid, NULL);
        n += s[k].n;
    }
    t1 = now_s();
    printf("sign_rate=%.0f\n", (double)n / (t1 - t0));
    free(s);
    return 0;
}

/* ---- set-up ---- */

static char tmpdir[] = "/tmp/campaign-bench-render.XXXXXX";
static char keypath[sizeof tmpdir + 32];

static void
cleanup(void)
{
    if (keypath[0])
        unlink(keypath);
    rmdir(tmpdir);
}

static struct dkim_key *
make_key(enum dkim_algo algo, struct err *e)
{
    struct buf dns;
    struct dkim_key *k;

    if (mkdtemp(tmpdir) == NULL) {
        fprintf(stderr, "render: mkdtemp: %s\n", strerror(errno));
        exit(2);
    }
    atexit(cleanup);
    snprintf(keypath, sizeof keypath, "%s/dkim.pem", tmpdir);
    buf_init(&dns, 0);
    if (dkim_keygen(algo, 2048, keypath, "acme.example", "bench", &dns, e) ==
        -1) {
        buf_free(&dns);
        return NULL;
    }
    buf_free(&dns);
    k = dkim_key_load(keypath, "acme.example", "bench", e);
    return k;
}

static void
usage(void)
{
    fprintf(stderr, "usage: render [--contacts N] [--threads T] "
                    "[--dkim none|ed25519|rsa] [--templates DIR] "
                    "[--name NAME] [--now T] [--out FILE] [--csv FILE] "
                    "[--sign-speed SECONDS]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    struct bench b;
    struct err e = {0};
    struct tmpl *t;
    struct track_key key;
    struct config_sender sender;
    struct config_tracking tracking;
    struct dkim_key *dk = NULL;
    const char *dir = "templates", *name = "promo", *dkim = "none";
    const char *outpath = NULL, *csvpath = NULL;
    double sign_secs = 0;
    char datapath[4096];
    json_error_t jerr;
    json_t *data;
    struct worker *w;
    double t0, t1;
    size_t built = 0, bytes = 0;
    double cpu = 0;
    int failed = 0;

    memset(&b, 0, sizeof b);
    b.n = 100000;
    b.threads = 1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--contacts") == 0)
            b.n = strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0)
            b.threads = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--dkim") == 0)
            dkim = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--templates") == 0)
            dir = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--name") == 0)
            name = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--now") == 0)
            b.now = strtoll(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--out") == 0)
            outpath = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--csv") == 0)
            csvpath = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--sign-speed") == 0)
            sign_secs = strtod(argv[++i], NULL);
        else
            usage();
    }
    if (b.n == 0 || b.threads < 1 || b.threads > 256 ||
        (outpath && b.threads != 1))
        usage();
    if (sign_secs > 0)
        return sign_speed(sign_secs, b.threads);
    if (csvpath != NULL) {
        if (write_csv(csvpath, b.n) == -1) {
            fprintf(stderr, "render: %s: %s\n", csvpath, strerror(errno));
            return 2;
        }
        return 0;
    }
    if (outpath && (b.out = fopen(outpath, "wb")) == NULL) {
        fprintf(stderr, "render: %s: %s\n", outpath, strerror(errno));
        return 2;
    }

    if ((t = tmpl_load(dir, name, &e)) == NULL) {
        fprintf(stderr, "render: %s\n", e.msg);
        return 2;
    }
    snprintf(datapath, sizeof datapath, "%s/%s.json", dir, name);
    data = json_load_file(datapath, JSON_REJECT_DUPLICATES, &jerr);
    if (data == NULL) {
        fprintf(stderr, "render: %s: %s\n", datapath, jerr.text);
        return 2;
    }
    for (size_t i = 0; i < sizeof key.secret; i++)
        key.secret[i] = (uint8_t)(next() & 0xff);
    memset(&sender, 0, sizeof sender);
    sender.from = "Acme Moda <news@acme.example>";
    sender.list_id = "news.acme.example";
    sender.bounce_domain = "bounce.acme.example";
    memset(&tracking, 0, sizeof tracking);
    tracking.base_url = "https://t.acme.example";
    tracking.opens = 1;
    tracking.clicks = 1;
    if (strcmp(dkim, "ed25519") == 0)
        dk = make_key(DKIM_ED25519_SHA256, &e);
    else if (strcmp(dkim, "rsa") == 0)
        dk = make_key(DKIM_RSA_SHA256, &e);
    else if (strcmp(dkim, "none") != 0)
        usage();
    if (strcmp(dkim, "none") != 0 && dk == NULL) {
        fprintf(stderr, "render: %s\n", e.msg);
        return 2;
    }

    b.cp.tmpl = t;
    b.cp.data = data;
    b.cp.campaign = "primavera-2026";
    b.cp.campaign_id = 42;
    b.cp.salt = "bench-salt";
    b.cp.sender = &sender;
    b.cp.tracking = &tracking;
    b.cp.key = &key;
    b.cp.dkim = dk ? &dk : NULL;
    b.cp.ndkim = dk ? 1 : 0;
    b.cp.strict = 1;
    if (b.now == 0)
        b.now = (int64_t)time(NULL);
    gen_contacts(&b);

    w = calloc((size_t)b.threads, sizeof *w);
    if (w == NULL)
        return 2;
    t0 = now_s();
    for (int k = 0; k < b.threads; k++) {
        w[k].b = &b;
        w[k].k = k;
        if (pthread_create(&w[k].tid, NULL, work, &w[k]) != 0) {
            fprintf(stderr, "render: pthread_create failed\n");
            return 2;
        }
    }
    for (int k = 0; k < b.threads; k++) {
        pthread_join(w[k].tid, NULL);
        built += w[k].built;
        cpu += w[k].cpu;
        bytes += w[k].bytes;
        if (w[k].failed && !failed) {
            fprintf(stderr, "render: %s\n", w[k].e.msg);
            failed = 1;
        }
    }
    t1 = now_s();
    /* cpu_rate: messages per second of CPU time per thread, what one core
     * would do undisturbed (other processes share this machine) */
    printf("mode=%s threads=%d messages=%zu seconds=%.3f rate=%.0f "
           "cpu_seconds=%.3f cpu_rate=%.0f avg_bytes=%zu\n",
           dkim, b.threads, built, t1 - t0, (double)built / (t1 - t0), cpu,
           cpu > 0 ? (double)built * b.threads / cpu : 0.0,
           built ? bytes / built : 0);

    for (size_t i = 0; i < b.n; i++) {
        free(b.email[i]);
        free(b.attrs[i]);
    }
    free(b.email);
    free(b.attrs);
    free(w);
    if (b.out && fclose(b.out) == EOF) {
        fprintf(stderr, "render: %s: %s\n", outpath, strerror(errno));
        failed = 1;
    }
    dkim_key_free(dk);
    json_decref(data);
    tmpl_free(t);
    return failed;
}
