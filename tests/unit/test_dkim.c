/* SPDX-License-Identifier: ISC */
/*
 * test_dkim.c - DKIM canonicalisation, signing and keys (engine/dkim.c).
 *
 * The signatures are checked by a small verifier written here against
 * OpenSSL directly (RFC 6376 6.1.3 step by step), with the public key
 * taken from the DNS record that dkim_keygen printed.  The verifier
 * canonicalises with ref_header and ref_body, RFC 6376 3.4.2 and 3.4.4
 * written out step by step in this file, not with the signer's own
 * dkim_canon_* (which the tables check against the same references), so
 * that a canonicalisation mistake cannot be made twice and cancel out.
 * Both the references and the library are held to published answers:
 * the RFC 6376 3.4.5 examples, and RFC 8463 Appendix A - its Ed25519 and
 * RSA signatures of the same message verify, the bytes they sign are
 * written out here and proven by OpenSSL alone, and dkim_sign with the
 * RFC's Ed25519 secret key (A.1) gives the RFC's body hash and exactly
 * the signature OpenSSL computes over those bytes.  The independent
 * verifiers (python3-dkim, opendkim-testmsg) stay the authority: they run
 * in tests/e2e/dkim.bats on the samples this binary writes when
 * DKIM_SAMPLES_DIR is set:
 *
 *   DKIM_SAMPLES_DIR=DIR test_dkim
 *     DIR/rsa.key, DIR/ed25519.key      the keys (mode 0600), selectors
 *     DIR/rsa.txt, DIR/ed25519.txt      rsa and ed25519 at acme.example,
 *                                       with their DNS records; used as
 *                                       they are when already there
 *                                       (from campaign dkim keygen)
 *     DIR/{rsa,ed25519,dual}-NAME.eml     NAME: basic accents longlines
 *                                         hostile repeated emptybody
 *     DIR/dual-twoto.eml                  two To fields (see dkim.bats)
 *     DIR/random-NNN.eml, DIR/random.txt  random hostile messages signed
 *                                         Ed25519 by another key, and its
 *                                         record
 *
 * DKIM_BENCH=N prints (as TAP comments) sign rates over N messages beside
 * the raw private-key rate of the same key.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "th.h"

#include "buf.h"
#include "dkim.h"

/*---- helpers ----*/

/* crlf - a fixture written with \n, as the CRLF message it stands for. */
static char *
crlf(const char *s)
{
    struct buf b;

    buf_init(&b, 0);
    for (; *s; s++) {
        if (*s == '\n')
            (void)buf_append(&b, "\r\n", 2);
        else
            (void)buf_putc(&b, *s);
    }
    return buf_steal(&b);
}

static char *
slurp(const char *path, size_t *n)
{
    struct buf b;
    char tmp[4096];
    size_t r;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return NULL;
    buf_init(&b, 0);
    while ((r = fread(tmp, 1, sizeof tmp, f)) > 0)
        (void)buf_append(&b, tmp, r);
    fclose(f);
    if (n)
        *n = b.len;
    return buf_steal(&b);
}

static int
spit(const char *path, const char *p, size_t n, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    int ok;

    if (fd == -1)
        return -1;
    ok = write(fd, p, n) == (ssize_t)n;
    (void)fchmod(fd, (mode_t)mode);
    close(fd);
    return ok ? 0 : -1;
}

static char *
b64(const unsigned char *p, size_t n)
{
    char *o = malloc(n / 3 * 4 + 8);

    EVP_EncodeBlock((unsigned char *)o, p, (int)n);
    return o;
}

/* unb64 - decode base64, ignoring white space; length in *n. */
static unsigned char *
unb64(const char *s, size_t *n)
{
    size_t len = strlen(s), j = 0;
    char *clean = malloc(len + 1);
    unsigned char *o;
    int r;

    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            clean[j++] = s[i];
    clean[j] = '\0';
    o = malloc(j / 4 * 3 + 4);
    r = EVP_DecodeBlock(o, (unsigned char *)clean, (int)j);
    if (r < 0 || j % 4 != 0) {
        free(clean);
        free(o);
        return NULL;
    }
    /* EVP_DecodeBlock counts the padding as data */
    while (j > 0 && clean[j - 1] == '=') {
        j--;
        r--;
    }
    free(clean);
    *n = (size_t)r;
    return o;
}

static void
sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 32;

    EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

/*---- a DNS record, as dkim_keygen prints it ----*/

/* record_value - the concatenated quoted strings of a zone-file line. */
static char *
record_value(const char *rec)
{
    struct buf b;
    const char *p = rec;

    buf_init(&b, 0);
    while ((p = strchr(p, '"')) != NULL) {
        const char *q = strchr(p + 1, '"');

        if (q == NULL)
            break;
        (void)buf_append(&b, p + 1, (size_t)(q - p - 1));
        p = q + 1;
    }
    return buf_steal(&b);
}

/* record_key - the public key in a DKIM record "v=DKIM1; k=..; p=..". */
static EVP_PKEY *
record_key(const char *rec)
{
    char *v = record_value(rec), *p = strstr(v, "p="), *k = strstr(v, "k=");
    unsigned char *der;
    const unsigned char *q;
    size_t n;
    EVP_PKEY *pk = NULL;

    if (p == NULL || k == NULL || (der = unb64(p + 2, &n)) == NULL) {
        free(v);
        return NULL;
    }
    if (strncmp(k, "k=ed25519;", 10) == 0) {
        if (n == 32)
            pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, n);
    } else {
        q = der;
        pk = d2i_PUBKEY(NULL, &q, (long)n);
    }
    free(der);
    free(v);
    return pk;
}

/*---- RFC 6376 3.4.2 and 3.4.4, step by step: the verifier's own ----*/

/* ref_header - RFC 6376 3.4.2 literally: the field unfolded (every CR
 * and LF removed: the signer refuses bare ones, so each is part of a CRLF
 * that ends a line), the name in lower case, WSP before and after the
 * colon deleted, each run of WSP in the value one SP, WSP at the end of
 * the value deleted.  "name:value\r\n", malloc'd; NULL without a colon. */
static char *
ref_header(const char *h, size_t len)
{
    struct buf unf, out;
    const char *colon, *v, *end;
    size_t nl;
    int sp = 0, seen = 0;

    buf_init(&unf, 0);
    for (size_t i = 0; i < len; i++)
        if (h[i] != '\r' && h[i] != '\n')
            (void)buf_putc(&unf, h[i]);
    colon = unf.p ? memchr(unf.p, ':', unf.len) : NULL;
    if (colon == NULL) {
        buf_free(&unf);
        return NULL;
    }
    buf_init(&out, 0);
    nl = (size_t)(colon - unf.p);
    while (nl > 0 && (unf.p[nl - 1] == ' ' || unf.p[nl - 1] == '\t'))
        nl--;
    for (size_t i = 0; i < nl; i++)
        (void)buf_putc(&out, tolower((unsigned char)unf.p[i]));
    (void)buf_putc(&out, ':');
    for (v = colon + 1, end = unf.p + unf.len; v < end; v++) {
        if (*v == ' ' || *v == '\t') {
            sp = 1;
            continue;
        }
        if (sp && seen)
            (void)buf_putc(&out, ' ');
        sp = 0;
        seen = 1;
        (void)buf_putc(&out, *v);
    }
    (void)buf_append(&out, "\r\n", 2);
    buf_free(&unf);
    return buf_steal(&out);
}

/* ref_body - RFC 6376 3.4.4 literally, step by step, for comparison. */
static char *
ref_body(const char *in, size_t len)
{
    struct buf out, line;
    size_t i = 0, keep = 0;

    buf_init(&out, 0);
    buf_init(&line, 0);
    while (i < len) {
        const char *e = memmem(in + i, len - i, "\r\n", 2);
        size_t l = e ? (size_t)(e - in - i) : len - i;
        int sp = 0;

        buf_reset(&line);
        for (size_t k = 0; k < l; k++) {
            char c = in[i + k];

            if (c == ' ' || c == '\t') {
                sp = 1;
                continue;
            }
            if (sp)
                (void)buf_putc(&line, ' ');
            sp = 0;
            (void)buf_putc(&line, c);
        }
        (void)buf_append(&out, line.p ? line.p : "", line.len);
        (void)buf_append(&out, "\r\n", 2);
        if (line.len > 0)
            keep = out.len;
        i += l + (e ? 2 : 0);
    }
    out.len = keep;
    if (out.p != NULL)
        out.p[keep] = '\0';
    buf_free(&line);
    return buf_steal(&out);
}

/*---- a verifier (RFC 6376 6.1.3), on OpenSSL directly ----*/

struct hf {
    const char *p;
    size_t len; /* with the CRLF */
    size_t nlen;
    int used;
};

/* split_header - index the fields; returns the count, body offset in
 * *body; at most max fields. */
static size_t
split_header(const char *m, size_t len, struct hf *f, size_t max, size_t *body)
{
    size_t i = 0, n = 0;

    while (i + 1 < len && !(m[i] == '\r' && m[i + 1] == '\n') && n < max) {
        size_t s = i;
        const char *colon;

        for (;;) {
            const char *e = strstr(m + i, "\r\n");

            if (e == NULL)
                return 0;
            i = (size_t)(e - m) + 2;
            if (i >= len || (m[i] != ' ' && m[i] != '\t'))
                break;
        }
        colon = memchr(m + s, ':', i - s);
        f[n].p = m + s;
        f[n].len = i - s;
        f[n].nlen = colon ? (size_t)(colon - m - s) : 0;
        f[n].used = 0;
        n++;
    }
    *body = i + 2;
    return n;
}

/* tag - the value of tag t in a tag list with all FWS removed. */
static int
tag(const char *list, const char *t, char *out, size_t outsz)
{
    size_t tl = strlen(t);
    const char *p = list;

    while (*p) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);

        if (len > tl && strncmp(p, t, tl) == 0 && p[tl] == '=') {
            snprintf(out, outsz, "%.*s", (int)(len - tl - 1), p + tl + 1);
            return 1;
        }
        p += len + (end ? 1 : 0);
    }
    return 0;
}

struct vres {
    char a[32], d[300], s[80], h[4096];
    int has_l;
};

/*
 * verify - check the idx-th DKIM-Signature (0: the topmost) of m with
 * pub.  0 when it verifies; otherwise -1 and why says what failed.
 */
static int
verify(const char *m, size_t len, int idx, EVP_PKEY *pub, struct vres *vr,
       const char **why)
{
    struct hf f[256];
    size_t n, body = 0, i, sigf = (size_t)-1;
    struct buf data, raw;
    char tags[8192], bh[100], b[4000], *name, *save = NULL;
    unsigned char hash[32];
    char *bh64;
    unsigned char *sig;
    size_t siglen, t = 0;
    int seen = 0, rc = -1;
    EVP_MD_CTX *mc;

    *why = "no such signature";
    n = split_header(m, len, f, 256, &body);
    for (i = 0; i < n; i++)
        if (f[i].nlen == 14 && strncasecmp(f[i].p, "DKIM-Signature", 14) == 0)
            if (seen++ == idx)
                sigf = i;
    if (sigf == (size_t)-1)
        return -1;
    /* the tag list without FWS */
    for (i = f[sigf].nlen + 1; i < f[sigf].len && t < sizeof tags - 1; i++) {
        char c = f[sigf].p[i];

        if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
            tags[t++] = c;
    }
    tags[t] = '\0';
    memset(vr, 0, sizeof *vr);
    tag(tags, "a", vr->a, sizeof vr->a);
    tag(tags, "d", vr->d, sizeof vr->d);
    tag(tags, "s", vr->s, sizeof vr->s);
    vr->has_l = tag(tags, "l", b, sizeof b);
    if (!tag(tags, "h", vr->h, sizeof vr->h) ||
        !tag(tags, "bh", bh, sizeof bh) || !tag(tags, "b", b, sizeof b)) {
        *why = "missing tag";
        return -1;
    }

    /* body hash (the test messages hold no NUL) */
    {
        char *cb = ref_body(m + body, len - body);

        sha256(cb ? cb : "", cb ? strlen(cb) : 0, hash);
        free(cb);
    }
    bh64 = b64(hash, 32);
    if (strcmp(bh64, bh) != 0) {
        free(bh64);
        *why = "body hash mismatch";
        return -1;
    }
    free(bh64);

    /* header data: h= names, instances from the bottom up */
    buf_init(&data, 0);
    {
        char hcopy[sizeof vr->h];

        snprintf(hcopy, sizeof hcopy, "%s", vr->h);
        for (name = strtok_r(hcopy, ":", &save); name;
             name = strtok_r(NULL, ":", &save)) {
            size_t nl = strlen(name);

            for (i = n; i-- > 0;) {
                if (!f[i].used && f[i].nlen == nl &&
                    strncasecmp(f[i].p, name, nl) == 0) {
                    char *c = ref_header(f[i].p, f[i].len);

                    f[i].used = 1;
                    (void)buf_puts(&data, c ? c : "");
                    free(c);
                    break;
                }
            }
        }
    }
    /* the signature field with the b= value removed (RFC 6376 3.7) */
    buf_init(&raw, 0);
    {
        const char *p = f[sigf].p;
        size_t l = f[sigf].len - 2, k, vs = 0, ve = 0;

        for (k = f[sigf].nlen + 1; k + 1 < l; k++) {
            size_t j = k;

            if (p[k] != 'b' || p[k + 1] != '=')
                continue;
            while (j > f[sigf].nlen + 1 &&
                   (p[j - 1] == ' ' || p[j - 1] == '\t' || p[j - 1] == '\r' ||
                    p[j - 1] == '\n'))
                j--;
            if (j != f[sigf].nlen + 1 && p[j - 1] != ';')
                continue;
            vs = k + 2;
            for (ve = vs; ve < l && p[ve] != ';'; ve++)
                ;
            break;
        }
        (void)buf_append(&raw, p, vs);
        (void)buf_append(&raw, p + ve, l - ve);
        {
            char *c = ref_header(raw.p, raw.len);

            (void)buf_puts(&data, c ? c : "");
            free(c);
        }
        data.len -= 2; /* without its CRLF */
    }
    buf_free(&raw);

    sig = unb64(b, &siglen);
    mc = EVP_MD_CTX_new();
    if (sig == NULL) {
        *why = "b= is not base64";
    } else if (strcmp(vr->a, "ed25519-sha256") == 0) {
        sha256(data.p, data.len, hash);
        if (EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pub) == 1 &&
            EVP_DigestVerify(mc, sig, siglen, hash, 32) == 1)
            rc = 0;
        else
            *why = "bad ed25519 signature";
    } else if (strcmp(vr->a, "rsa-sha256") == 0) {
        if (EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pub) == 1 &&
            EVP_DigestVerify(mc, sig, siglen, (unsigned char *)data.p,
                             data.len) == 1)
            rc = 0;
        else
            *why = "bad rsa signature";
    } else {
        *why = "unknown a=";
    }
    ERR_clear_error();
    EVP_MD_CTX_free(mc);
    free(sig);
    buf_free(&data);
    if (rc == 0)
        *why = "ok";
    return rc;
}

/*---- fixtures ----*/

static const char msg_basic[] =
    "From: Acme News <news@acme.example>\n"
    "To: Ada Lovelace <ada@example.com>\n"
    "Subject: Hello from Acme\n"
    "Date: Sat, 28 Nov 2026 09:00:00 +0000\n"
    "Message-ID: <c1.4b2f@acme.example>\n"
    "Reply-To: help@acme.example\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 7bit\n"
    "List-Unsubscribe: <https://t.acme.example/u/AbC123>,\n"
    " <mailto:unsub+AbC123@acme.example>\n"
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
    "List-Id: Acme News <news.acme.example>\n"
    "Feedback-ID: c1:news:acme\n"
    "\n"
    "Hello Ada,\n"
    "\n"
    "this is the November letter.\n"
    "\n"
    "-- \n"
    "Acme\n";

static const char msg_accents[] =
    "From: =?UTF-8?Q?Caff=C3=A8_Acme?= <news@acme.example>\n"
    "To: =?UTF-8?Q?Niccol=C3=B2_Ros=C3=A0?= <niccolo@example.it>\n"
    "Subject: =?UTF-8?Q?Novit=C3=A0_di_novembre:_perch=C3=A9_aspettare=3F?=\n"
    "Date: Sat, 28 Nov 2026 09:00:00 +0100\n"
    "Message-ID: <c2.77aa@acme.example>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"=_b1\"\n"
    "List-Unsubscribe: <https://t.acme.example/u/Zz9>\n"
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
    "\n"
    "--=_b1\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Ciao Niccol=C3=B2,\n"
    "\n"
    "=C3=A8 arrivata la nuova collezione: perch=C3=A9 aspettare? Caff=C3=A8 =\n"
    "e cioccolato, pi=C3=B9 =E2=82=AC 3,50.\n"
    "\n"
    "--=_b1\n"
    "Content-Type: text/html; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "<p>Ciao <b>Niccol=C3=B2</b>,</p><p>=C3=A8 arrivata la nuova collezione=\n"
    ": perch=C3=A9 aspettare?</p>\n"
    "--=_b1--\n";

static const char msg_hostile[] =
    "From: \"Acme; b=; h=To\" <news@acme.example>\n"
    "To: \"Robert'); DROP TABLE contacts;--\" <bob@example.com>\n"
    "sUBJECT:   \t DKIM-Signature: v=1; a=rsa-sha256; b=AAAA;  \t \n"
    "   bh=AAAA; \t spaces   and\ttabs   \n"
    "Date: Sat, 28 Nov 2026 09:00:00 +0000\n"
    "Message-ID: <c3.x@acme.example>\n"
    "Comments: \xe2\x80\x8b zero width and raw UTF-8 \xc3\xa8\n"
    "Comments: =?utf-8?b?Pz8/?= ==?= ?=\n"
    "X-Empty:\n"
    "X-Spaces:     \n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "From the start of a line\n"
    ".\n"
    "..dot\n"
    "   leading spaces\n"
    "\t\ttabs \t inside\t \t\n"
    "trailing spaces      \n"
    "   \n"
    "b=; bh=; h=From:To\n"
    "\n"
    "\n"
    " \t \n"
    "\n";

/* repeated fields (not the RFC 5322 3.6 singletons, which OpenDKIM
 * refuses to see twice): signed from the bottom up */
static const char msg_repeated[] =
    "From: Acme <news@acme.example>\n"
    "To: ada@example.com\n"
    "Subject: repeated fields\n"
    "Date: Sat, 28 Nov 2026 09:00:00 +0000\n"
    "Message-ID: <c6@acme.example>\n"
    "List-Unsubscribe: <https://t.acme.example/u/first>\n"
    "Comments: one\n"
    "List-Unsubscribe: <https://t.acme.example/u/second>\n"
    "Comments: two\n"
    "List-Id: first <a.acme.example>\n"
    "List-Id: second <b.acme.example>\n"
    "\n"
    "body\n";

static const char msg_empty_body[] = "From: Acme <news@acme.example>\n"
                                     "To: ada@example.com\n"
                                     "Subject: empty\n"
                                     "Date: Sat, 28 Nov 2026 09:00:00 +0000\n"
                                     "Message-ID: <c4@acme.example>\n"
                                     "\n";

/* msg_longlines - long folded headers, QP lines of 76, a 998-octet
 * line, whitespace at line ends, blank lines at the end. */
static char *
msg_longlines(void)
{
    struct buf b;
    int i;

    buf_init(&b, 0);
    (void)buf_puts(&b, "From: Acme <news@acme.example>\r\n"
                       "To: ada@example.com\r\n"
                       "Subject: =?UTF-8?Q?Un_oggetto_molto_lungo_che_va_"
                       "piegato_su_pi=C3=B9_righe?=\r\n"
                       " =?UTF-8?Q?_perch=C3=A9_supera_i_78_caratteri_"
                       "della_riga?=\r\n"
                       "\t=?UTF-8?Q?_e_anche_la_terza?=\r\n"
                       "Date: Sat, 28 Nov 2026 09:00:00 +0000\r\n"
                       "Message-ID: <c5@acme.example>\r\n"
                       "MIME-Version: 1.0\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n"
                       "\r\n");
    for (i = 0; i < 40; i++) {
        for (int j = 0; j < 75; j++)
            (void)buf_putc(&b, "abcdefghij=C3=A8 "[(i + j) % 17]);
        (void)buf_puts(&b, "=\r\n");
    }
    for (i = 0; i < 998; i++)
        (void)buf_putc(&b, i % 50 == 49 ? ' ' : 'x');
    (void)buf_puts(&b, "\r\nend   \t\r\n\r\n  \r\n\r\n");
    return buf_steal(&b);
}

/*---- canonicalisation tables ----*/

static const struct {
    const char *name, *in, *want;
} hcases[] = {
    /* RFC 6376 3.4.5 */
    {"RFC 6376 3.4.5 A", "A: X \r\n", "a:X\r\n"},
    {"RFC 6376 3.4.5 B", "B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n"},
    {"name lower-cased", "SUBJECT: Hi", "subject:Hi\r\n"},
    {"value case kept", "X-A: MiXeD CaSe", "x-a:MiXeD CaSe\r\n"},
    {"WSP runs to one SP", "S: a \t  b\t\tc", "s:a b c\r\n"},
    {"leading and trailing WSP", "S:\t  a  \t", "s:a\r\n"},
    {"fold unfolded", "S: a\r\n b\r\n\tc\r\n", "s:a b c\r\n"},
    {"WSP before fold", "S: a \t\r\n \t b", "s:a b\r\n"},
    {"empty value", "X-Empty:", "x-empty:\r\n"},
    {"WSP-only value", "X-Empty:   \t ", "x-empty:\r\n"},
    {"folded empty value", "X-Empty:\r\n \r\n", "x-empty:\r\n"},
    {"colon in value", "Date: 09:00:00", "date:09:00:00\r\n"},
    {"8-bit bytes kept", "S: caff\xc3\xa8  \xe2\x82\xac",
     "s:caff\xc3\xa8 \xe2\x82\xac\r\n"},
    {"WSP before colon, folded", "Subject \t: x", "subject:x\r\n"},
    {"b= empty at end",
     "DKIM-Signature: v=1;\r\n\tb=", "dkim-signature:v=1; b=\r\n"},
    /* the ends of the ASCII capitals: only A-Z change case */
    {"every capital lower-cased", "ABCDEFGHIJKLMNOPQRSTUVWXYZ: V",
     "abcdefghijklmnopqrstuvwxyz:V\r\n"},
    {"the bytes around A-Z kept", "X-@[`{\xc3\x80: v", "x-@[`{\xc3\x80:v\r\n"},
};

static const struct {
    const char *name, *in, *want;
} bcases[] = {
    /* RFC 6376 3.4.5 */
    {"RFC 6376 3.4.5 body", " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n"},
    {"empty body stays empty", "", ""},
    {"only CRLF is empty", "\r\n", ""},
    {"only blank lines is empty", "\r\n\r\n \t\r\n", ""},
    {"CRLF added at end", "abc", "abc\r\n"},
    {"trailing WSP", "a  \t\r\n", "a\r\n"},
    {"inner WSP", "a \t \tb\r\n", "a b\r\n"},
    {"leading WSP kept as one SP", "\t\t a\r\n", " a\r\n"},
    {"inner empty lines kept", "a\r\n\r\n\r\nb\r\n", "a\r\n\r\n\r\nb\r\n"},
    {"WSP-only line inside is empty", "a\r\n  \r\nb\r\n", "a\r\n\r\nb\r\n"},
    {"trailing empty lines go", "a\r\n\r\n\r\n", "a\r\n"},
    {"trailing WSP lines go", "a\r\n \r\n\t\r\n", "a\r\n"},
    {"last line without CRLF after blank", "a\r\n\r\nb", "a\r\n\r\nb\r\n"},
    {"control bytes are text", "a\x0b\x0c b\r\n", "a\x0b\x0c b\r\n"},
    {"8-bit bytes kept", "caff\xc3\xa8 \r\n", "caff\xc3\xa8\r\n"},
};

static const struct {
    const char *name, *in;
} bbad[] = {
    {"bare LF", "a\nb\r\n"},
    {"bare CR", "a\rb\r\n"},
    {"CR at end", "a\r"},
    {"LF CR", "a\n\r"},
    {"last line without CRLF ends in WSP", "abc \t"},
    {"WSP-only last line without CRLF", "a\r\n \t"},
};

static void
test_canon(void)
{
    struct buf b;
    unsigned int seed = 6376;

    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof hcases / sizeof hcases[0]; i++) {
        char *ref = ref_header(hcases[i].in, strlen(hcases[i].in));

        buf_reset(&b);
        TH_CHECK(dkim_canon_header_relaxed(hcases[i].in, strlen(hcases[i].in),
                                           &b) == 0,
                 "header canon: %s: accepted", hcases[i].name);
        TH_STREQ(b.p, hcases[i].want, "header canon: %s", hcases[i].name);
        TH_STREQ(ref, hcases[i].want, "header canon: %s: the verifier's",
                 hcases[i].name);
        free(ref);
    }
    buf_reset(&b);
    TH_CHECK(dkim_canon_header_relaxed("no colon", 8, &b) == -1 && b.len == 0,
             "header canon: a field without a colon is refused");
    for (size_t i = 0; i < sizeof bcases / sizeof bcases[0]; i++) {
        char *ref = ref_body(bcases[i].in, strlen(bcases[i].in));

        buf_reset(&b);
        TH_CHECK(dkim_canon_body_relaxed(bcases[i].in, strlen(bcases[i].in),
                                         &b) == 0,
                 "body canon: %s: accepted", bcases[i].name);
        TH_STREQ(b.p ? b.p : "", bcases[i].want, "body canon: %s",
                 bcases[i].name);
        TH_STREQ(ref ? ref : "", bcases[i].want,
                 "body canon: %s: the verifier's", bcases[i].name);
        free(ref);
    }
    for (size_t i = 0; i < sizeof bbad / sizeof bbad[0]; i++) {
        buf_reset(&b);
        (void)buf_puts(&b, "keep");
        TH_CHECK(dkim_canon_body_relaxed(bbad[i].in, strlen(bbad[i].in), &b) ==
                         -1 &&
                     strcmp(b.p, "keep") == 0,
                 "body canon: %s refused, output untouched", bbad[i].name);
    }

    /* RFC 6376 A.2 / RFC 8463 A.3 body: a published body hash */
    {
        static const char body[] = "Hi.\r\n\r\nWe lost the game.  Are you "
                                   "hungry yet?\r\n\r\nJoe.\r\n";
        unsigned char h[32];
        char *s;

        buf_reset(&b);
        (void)dkim_canon_body_relaxed(body, sizeof body - 1, &b);
        sha256(b.p, b.len, h);
        s = b64(h, 32);
        TH_STREQ(s, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=",
                 "body canon: RFC 8463 A.3 body hash");
        free(s);
    }

    /* random bodies, across the internal block size, against ref_body */
    {
        static const char *const alpha[] = {"a",    "b",    " ",        "\t",
                                            "\r\n", "\r\n", "\xc3\xa8", "  \t"};
        int bad = 0;

        for (int r = 0; r < 300; r++) {
            struct buf in;
            size_t want = (size_t)(rand_r(&seed) % (r < 250 ? 200 : 12000));
            char *ref;

            buf_init(&in, 0);
            while (in.len < want)
                (void)buf_puts(&in, alpha[rand_r(&seed) % 8]);
            buf_reset(&b);
            ref = ref_body(in.p ? in.p : "", in.len);
            if (in.len > 0 &&
                (in.p[in.len - 1] == ' ' || in.p[in.len - 1] == '\t')) {
                /* refused: see body_canon in dkim.c */
                bad += dkim_canon_body_relaxed(in.p, in.len, &b) != -1;
                free(ref);
                buf_free(&in);
                continue;
            }
            if (dkim_canon_body_relaxed(in.p ? in.p : "", in.len, &b) == -1 ||
                strcmp(b.p ? b.p : "", ref) != 0) {
                if (bad++ == 0) {
                    printf("# in   ");
                    for (size_t k = 0; k < in.len && k < 200; k++)
                        printf("%02x", (unsigned char)in.p[k]);
                    printf("\n# got  %s\n# want %s\n", b.p, ref);
                }
            }
            free(ref);
            buf_free(&in);
        }
        TH_CHECK(bad == 0,
                 "body canon: 300 random bodies match the "
                 "step-by-step reference (%d differ)",
                 bad);
    }

    /* random bodies with lone CRs and LFs: refused exactly when one is
     * bare, whatever 16-byte block it falls in; else the reference */
    {
        static const char *const alpha[] = {
            "a", "b", " ", "\t", "\r\n", "\r", "\n", "xyzxyzxyzxyzxyz"};
        int bad = 0;

        for (int r = 0; r < 2000; r++) {
            struct buf in;
            size_t want = (size_t)(rand_r(&seed) % (r < 1500 ? 60 : 3000));
            int bare = 0, ws;

            buf_init(&in, 0);
            while (in.len < want) {
                /* lone CR/LF rarely, so that long bodies are often clean */
                unsigned a = (unsigned)rand_r(&seed) % 8;
                if ((a == 5 || a == 6) && rand_r(&seed) % 64 != 0)
                    a = 4;
                (void)buf_puts(&in, alpha[a]);
            }
            for (size_t k = 0; k < in.len; k++)
                if ((in.p[k] == '\r' &&
                     (k + 1 == in.len || in.p[k + 1] != '\n')) ||
                    (in.p[k] == '\n' && (k == 0 || in.p[k - 1] != '\r')))
                    bare = 1;
            ws = in.len > 0 &&
                 (in.p[in.len - 1] == ' ' || in.p[in.len - 1] == '\t');
            buf_reset(&b);
            if (bare || ws) {
                bad += dkim_canon_body_relaxed(in.p, in.len, &b) != -1;
            } else {
                char *ref = ref_body(in.p ? in.p : "", in.len);
                if (dkim_canon_body_relaxed(in.p ? in.p : "", in.len, &b) ==
                        -1 ||
                    strcmp(b.p ? b.p : "", ref) != 0)
                    bad++;
                free(ref);
            }
            buf_free(&in);
        }
        TH_CHECK(bad == 0,
                 "body canon: 2000 random bodies with lone CR/LF: refused "
                 "exactly when one is bare (%d differ)",
                 bad);
    }
    buf_free(&b);
}

/*---- RFC 8463 Appendix A: published keys, message and signatures ----*/

/* A.3: the message (RFC 6376's example), without its two signatures */
#define RFC8463_MSG                                                            \
    "From: Joe SixPack <joe@football.example.com>\r\n"                         \
    "To: Suzie Q <suzie@shopping.example.net>\r\n"                             \
    "Subject: Is dinner ready?\r\n"                                            \
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"                          \
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"         \
    "\r\n"                                                                     \
    "Hi.\r\n"                                                                  \
    "\r\n"                                                                     \
    "We lost the game.  Are you hungry yet?\r\n"                               \
    "\r\n"                                                                     \
    "Joe.\r\n"

/* A.3: its Ed25519 and its RSA signature, as published */
#define RFC8463_ED_SIG                                                         \
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"            \
    " d=football.example.com; i=@football.example.com;\r\n"                    \
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"                  \
    " subject : date : message-id : from : subject : date;\r\n"                \
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"                    \
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"          \
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
#define RFC8463_RSA_SIG                                                        \
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"                \
    " d=football.example.com; i=@football.example.com;\r\n"                    \
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"            \
    " date : message-id : from : subject : date;\r\n"                          \
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"                    \
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"          \
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"          \
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"

/* A.2: the public keys (brisbane and test._domainkey.football.example.com) */
static const char rfc8463_ed_rec[] =
    "\"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"";
static const char rfc8463_rsa_rec[] =
    "\"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs"
    "5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/"
    "BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kry"
    "OTIKT+l/K4w3QIDAQAB\"";
/* A.1: the Ed25519 secret key (RFC 8032 7.1, test 1) */
static const char rfc8463_ed_secret[] =
    "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";

/* The canonical form of the five fields, written out by hand from RFC
 * 6376 3.4.2 (name lower-cased, no WSP around the colon); h= selects
 * each once, in this order. */
static const char *const rfc8463_fields[][2] = {
    {"from", "from:Joe SixPack <joe@football.example.com>\r\n"},
    {"to", "to:Suzie Q <suzie@shopping.example.net>\r\n"},
    {"subject", "subject:Is dinner ready?\r\n"},
    {"date", "date:Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"},
    {"message-id",
     "message-id:<20030712040037.46341.5F8J@football.example.com>\r\n"},
};
/* ... and of each signature field with its b= value empty, unfolded, and
 * without a final CRLF (RFC 6376 3.7): what follows them in the signed
 * data */
static const char rfc8463_ed_tail[] =
    "dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; "
    "d=football.example.com; i=@football.example.com; q=dns/txt; s=brisbane; "
    "t=1528637909; h=from : to : subject : date : message-id : from : subject "
    ": date; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=";
static const char rfc8463_rsa_tail[] =
    "dkim-signature:v=1; a=rsa-sha256; c=relaxed/relaxed; "
    "d=football.example.com; i=@football.example.com; q=dns/txt; s=test; "
    "t=1528637909; h=from : to : subject : date : message-id : from : subject "
    ": date; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=";

/* rfc8463_data - the five written-out fields and tail: the bytes that a
 * signature of the A.3 message with that tail signs; malloc'd. */
static char *
rfc8463_data(const char *tail)
{
    struct buf b;

    buf_init(&b, 0);
    for (size_t i = 0; i < 5; i++)
        (void)buf_puts(&b, rfc8463_fields[i][1]);
    (void)buf_puts(&b, tail);
    return buf_steal(&b);
}

/* sig_b - the b= value of a signature field, FWS removed (malloc'd) */
static char *
sig_b(const char *field)
{
    struct buf t;
    char out[2048];
    const char *colon = strchr(field, ':');

    buf_init(&t, 0);
    for (const char *p = colon ? colon + 1 : field; *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            (void)buf_putc(&t, *p);
    if (t.p == NULL || !tag(t.p, "b", out, sizeof out))
        out[0] = '\0';
    buf_free(&t);
    return strdup(out);
}

/* openssl_verify - the signature b64 of data under pub, by OpenSSL alone:
 * RSA PKCS#1 v1.5 of SHA-256(data), or Ed25519 of SHA-256(data) (RFC
 * 8463 3).  1 when it verifies. */
static int
openssl_verify(EVP_PKEY *pub, const char *data, const char *b64sig)
{
    size_t siglen;
    unsigned char *sig = unb64(b64sig, &siglen), h[32];
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    int ok = 0;

    if (sig != NULL && pub != NULL && mc != NULL) {
        if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_ED25519) {
            sha256(data, strlen(data), h);
            ok = EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pub) == 1 &&
                 EVP_DigestVerify(mc, sig, siglen, h, 32) == 1;
        } else {
            ok = EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pub) == 1 &&
                 EVP_DigestVerify(mc, sig, siglen, (const unsigned char *)data,
                                  strlen(data)) == 1;
        }
    }
    ERR_clear_error();
    EVP_MD_CTX_free(mc);
    free(sig);
    return ok;
}

/*
 * test_rfc8463 - RFC 8463 A.3: each published signature verifies with
 * the published key through the verifier here; the bytes each signs,
 * written out above by hand, are proven by OpenSSL alone (so they are
 * known answers, not our reading of the RFC); the library's and the
 * verifier's canonical forms of each field equal them.
 */
static void
test_rfc8463(void)
{
    static const char ed_msg[] = RFC8463_ED_SIG RFC8463_MSG;
    static const char rsa_msg[] = RFC8463_RSA_SIG RFC8463_MSG;
    static const char both_msg[] = RFC8463_ED_SIG RFC8463_RSA_SIG RFC8463_MSG;
    static const struct {
        const char *name, *sig, *tail;
    } sigs[] = {
        {"Ed25519", RFC8463_ED_SIG, rfc8463_ed_tail},
        {"RSA", RFC8463_RSA_SIG, rfc8463_rsa_tail},
    };
    EVP_PKEY *ed = record_key(rfc8463_ed_rec);
    EVP_PKEY *rsa = record_key(rfc8463_rsa_rec);
    EVP_PKEY *pub[2] = {ed, rsa};
    struct vres vr;
    const char *why = "";

    TH_CHECK(ed && rsa, "RFC 8463 A.2: the published keys load");
    TH_CHECK(ed && verify(ed_msg, sizeof ed_msg - 1, 0, ed, &vr, &why) == 0,
             "RFC 8463 A.3: the Ed25519 example verifies (%s)", why);
    TH_CHECK(rsa && verify(rsa_msg, sizeof rsa_msg - 1, 0, rsa, &vr, &why) == 0,
             "RFC 8463 A.3: the RSA example verifies (%s)", why);
    TH_CHECK(ed && rsa &&
                 verify(both_msg, sizeof both_msg - 1, 0, ed, &vr, &why) == 0 &&
                 verify(both_msg, sizeof both_msg - 1, 1, rsa, &vr, &why) == 0,
             "RFC 8463 A.3: both signatures of the message verify (%s)", why);
    for (size_t i = 0; i < 2; i++) {
        char *data = rfc8463_data(sigs[i].tail), *b = sig_b(sigs[i].sig);
        const char *bstart = strstr(sigs[i].sig, " b=");
        struct buf c;
        char *ref;
        int same = 1;

        TH_CHECK(openssl_verify(pub[i], data, b),
                 "RFC 8463 A.3 %s: the bytes it signs, written out, are "
                 "proven by OpenSSL alone",
                 sigs[i].name);
        /* each field through the library and through ref_header */
        buf_init(&c, 0);
        for (size_t f = 0; f < 5; f++) {
            const char *line = strstr(RFC8463_MSG, "\r\n"),
                       *start = RFC8463_MSG;

            for (size_t k = 0; k < f; k++) {
                start = line + 2;
                line = strstr(start, "\r\n");
            }
            buf_reset(&c);
            ref = ref_header(start, (size_t)(line + 2 - start));
            same &= dkim_canon_header_relaxed(start, (size_t)(line + 2 - start),
                                              &c) == 0 &&
                    strcmp(c.p, rfc8463_fields[f][1]) == 0 && ref &&
                    strcmp(ref, rfc8463_fields[f][1]) == 0;
            free(ref);
        }
        /* the signature field with b= empty: canonical, less its CRLF */
        buf_reset(&c);
        ref = ref_header(sigs[i].sig, (size_t)(bstart + 3 - sigs[i].sig));
        same &= dkim_canon_header_relaxed(
                    sigs[i].sig, (size_t)(bstart + 3 - sigs[i].sig), &c) == 0 &&
                c.len >= 2 && strncmp(c.p, sigs[i].tail, c.len - 2) == 0 &&
                strlen(sigs[i].tail) == c.len - 2 && ref &&
                strncmp(ref, sigs[i].tail, strlen(sigs[i].tail)) == 0 &&
                strcmp(ref + strlen(sigs[i].tail), "\r\n") == 0;
        free(ref);
        TH_CHECK(same,
                 "RFC 8463 A.3 %s: the library's and the verifier's "
                 "canonical fields are the signed bytes",
                 sigs[i].name);
        buf_free(&c);
        free(data);
        free(b);
    }
    EVP_PKEY_free(ed);
    EVP_PKEY_free(rsa);
}

/*
 * test_rfc8463_sign - dkim_sign with the RFC 8463 A.1 Ed25519 secret key
 * over the A.3 message: the RFC's body hash, and exactly the signature
 * (Ed25519 is deterministic) that OpenSSL makes with that key over the
 * bytes our h= selects - taken from the written-out fields, proven above
 * - and our signature field with b= empty.  A known answer for the
 * signer's whole path: canonicalisation, header selection, the hash of
 * the header data and the Ed25519 signature of it.
 */
static void
test_rfc8463_sign(const char *dir)
{
    static const char msg[] = RFC8463_MSG;
    char path[512], *bh = NULL, *b = NULL, *ref = NULL, h[2048];
    unsigned char *seed = NULL, sig[64], dg[32];
    size_t n = 0, siglen = sizeof sig;
    EVP_PKEY *pk = NULL;
    EVP_MD_CTX *mc = NULL;
    struct dkim_key *k = NULL;
    struct buf out, data, tags;
    struct err e;
    const char *bpos;
    char *want = NULL;
    FILE *f;

    buf_init(&out, 0);
    buf_init(&data, 0);
    buf_init(&tags, 0);
    snprintf(path, sizeof path, "%s/rfc8463.key", dir);
    seed = unb64(rfc8463_ed_secret, &n);
    if (seed != NULL && n == 32)
        pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    f = fopen(path, "w");
    if (f != NULL) {
        (void)fchmod(fileno(f), 0600);
        if (pk == NULL ||
            PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) != 1)
            printf("# could not write %s\n", path);
        fclose(f);
    }
    err_clear(&e);
    k = dkim_key_load(path, "football.example.com", "brisbane", &e);
    TH_CHECK(k != NULL, "RFC 8463 A.1: the Ed25519 secret key loads (%s)",
             e.msg);
    if (k == NULL)
        goto done;
    TH_CHECK(dkim_sign(&k, 1, msg, sizeof msg - 1, 1528637909, &out, &e) == 0,
             "RFC 8463: dkim_sign of the A.3 message (%s)", e.msg);
    /* the tags, FWS removed */
    for (const char *p = out.p ? strchr(out.p, ':') + 1 : ""; *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            (void)buf_putc(&tags, *p);
    bh = tags.p && tag(tags.p, "bh", h, sizeof h) ? strdup(h) : NULL;
    TH_STREQ(bh, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=",
             "RFC 8463: dkim_sign gives the RFC's body hash");
    /* the header data: the written-out field of each name of our h=
     * (each field occurs once: the first listing takes it), then our
     * signature field with b= empty */
    if (tags.p && tag(tags.p, "h", h, sizeof h)) {
        int used[5] = {0};
        char *save = NULL;

        for (char *name = strtok_r(h, ":", &save); name;
             name = strtok_r(NULL, ":", &save))
            for (size_t i = 0; i < 5; i++)
                if (!used[i] && strcasecmp(name, rfc8463_fields[i][0]) == 0) {
                    used[i] = 1;
                    (void)buf_puts(&data, rfc8463_fields[i][1]);
                }
    }
    bpos = out.p ? strstr(out.p, " b=") : NULL;
    if (bpos == NULL && out.p)
        bpos = strstr(out.p, "\tb=");
    ref = bpos ? ref_header(out.p, (size_t)(bpos + 3 - out.p)) : NULL;
    if (ref != NULL) {
        (void)buf_append(&data, ref, strlen(ref) - 2);
        sha256(data.p, data.len, dg);
        mc = EVP_MD_CTX_new();
        if (EVP_DigestSignInit(mc, NULL, NULL, NULL, pk) == 1 &&
            EVP_DigestSign(mc, sig, &siglen, dg, 32) == 1)
            want = b64(sig, siglen);
    }
    b = out.p ? sig_b(out.p) : NULL;
    TH_CHECK(want != NULL && data.len > 0 &&
                 strncmp(data.p, "from:Joe SixPack", 16) == 0,
             "RFC 8463: the expected signature is computed by OpenSSL");
    TH_STREQ(b, want,
             "RFC 8463: dkim_sign's b= is OpenSSL's Ed25519 signature of "
             "the written-out bytes");
    {
        EVP_PKEY *ed = record_key(rfc8463_ed_rec);
        struct vres vr;
        const char *why = "";

        (void)buf_puts(&out, msg);
        TH_CHECK(ed && verify(out.p, out.len, 0, ed, &vr, &why) == 0,
                 "RFC 8463: our signature verifies with the published key "
                 "(%s)",
                 why);
        EVP_PKEY_free(ed);
    }
done:
    ERR_clear_error();
    EVP_MD_CTX_free(mc);
    EVP_PKEY_free(pk);
    dkim_key_free(k);
    free(seed);
    free(bh);
    free(b);
    free(ref);
    free(want);
    buf_free(&out);
    buf_free(&data);
    buf_free(&tags);
    unlink(path);
}

/*---- signing ----*/

struct keyset {
    char dir[64];
    struct dkim_key *rsa, *ed;
    char *rsa_rec, *ed_rec;
    EVP_PKEY *rsa_pub, *ed_pub;
};

static int
make_key(const char *dir, const char *file, enum dkim_algo algo,
         const char *selector, struct dkim_key **k, char **rec, EVP_PKEY **pub)
{
    char path[512];
    struct buf dns;
    struct err e;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    buf_init(&dns, 0);
    err_clear(&e);
    if (dkim_keygen(algo, 2048, path, "acme.example", selector, &dns, &e) ==
        -1) {
        printf("# keygen: %s\n", e.msg);
        buf_free(&dns);
        return -1;
    }
    *rec = buf_steal(&dns);
    *pub = record_key(*rec);
    *k = dkim_key_load(path, "acme.example", selector, &e);
    if (*k == NULL)
        printf("# load: %s\n", e.msg);
    return *k && *pub ? 0 : -1;
}

/* sign - the signed message (signature fields + msg), or NULL. */
static char *
sign(struct dkim_key *const *keys, size_t n, const char *msg, size_t *len)
{
    struct buf out;
    struct err e;

    buf_init(&out, 0);
    err_clear(&e);
    if (dkim_sign(keys, n, msg, strlen(msg), 1764320400, &out, &e) == -1) {
        printf("# sign: %s\n", e.msg);
        buf_free(&out);
        return NULL;
    }
    (void)buf_puts(&out, msg);
    *len = out.len;
    return buf_steal(&out);
}

static size_t
count_name(const char *msg, const char *name)
{
    size_t n = 0, nl = strlen(name);
    const char *p = msg;

    for (;;) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
            n++;
        p = strstr(p, "\r\n");
        if (p == NULL || p[2] == '\r')
            return n;
        p += 2;
    }
}

static size_t
count_h(const char *h, const char *name)
{
    char copy[4096], *t, *save = NULL;
    size_t n = 0;

    snprintf(copy, sizeof copy, "%s", h);
    for (t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save))
        n += strcasecmp(t, name) == 0;
    return n;
}

/* fold_ok - the signature fields: CRLF lines, continuation lines start
 * with WSP, none longer than max. */
static int
fold_ok(const char *s, size_t max)
{
    const char *end = strstr(s, "\r\n\r\n");
    const char *line = s;

    (void)end;
    while (strncasecmp(line, "DKIM-Signature:", 15) == 0 || *line == '\t' ||
           *line == ' ') {
        const char *e = strstr(line, "\r\n");

        if (e == NULL || (size_t)(e - line) > max ||
            memchr(line, '\n', (size_t)(e - line)) ||
            memchr(line, '\r', (size_t)(e - line)))
            return 0;
        line = e + 2;
    }
    return 1;
}

static void
test_sign(struct keyset *ks)
{
    struct dkim_key *both[2] = {ks->rsa, ks->ed};
    const char *why = "";
    struct vres vr;
    size_t len;
    char *m = crlf(msg_basic), *s;

    /* RSA */
    s = sign(&ks->rsa, 1, m, &len);
    TH_CHECK(s && verify(s, len, 0, ks->rsa_pub, &vr, &why) == 0,
             "rsa-sha256 verifies (%s)", why);
    TH_STREQ(vr.a, "rsa-sha256", "rsa: a=");
    TH_STREQ(vr.d, "acme.example", "rsa: d=");
    TH_STREQ(vr.s, "rsa", "rsa: s=");
    TH_CHECK(!vr.has_l, "rsa: no l= tag");
    TH_CHECK(s && strstr(s, "c=relaxed/relaxed;") && strstr(s, "t=1764320400;"),
             "rsa: c=relaxed/relaxed and t=");
    TH_CHECK(s && fold_ok(s, 78), "rsa: folded, CRLF, lines <= 78");
    {
        int ok = 1;

        for (size_t j = 0; dkim_signed_headers[j]; j++) {
            size_t in = count_name(m, dkim_signed_headers[j]);

            if (count_h(vr.h, dkim_signed_headers[j]) != in + 1) {
                printf("# %s: %zu in message, %zu in h=\n",
                       dkim_signed_headers[j], in,
                       count_h(vr.h, dkim_signed_headers[j]));
                ok = 0;
            }
        }
        TH_CHECK(ok, "h= lists each signed name once more than it occurs");
        TH_CHECK(count_h(vr.h, "From") == 2 && count_h(vr.h, "Subject") == 2 &&
                     count_h(vr.h, "Cc") == 1,
                 "h=: From and Subject over-signed, absent Cc signed once");
    }
    TH_CHECK(s && verify(s, len, 0, ks->ed_pub, &vr, &why) == -1,
             "rsa: the wrong key fails");
    free(s);

    /* Ed25519 */
    s = sign(&ks->ed, 1, m, &len);
    TH_CHECK(s && verify(s, len, 0, ks->ed_pub, &vr, &why) == 0,
             "ed25519-sha256 verifies (%s)", why);
    TH_STREQ(vr.a, "ed25519-sha256", "ed25519: a=");
    TH_CHECK(!vr.has_l && s && fold_ok(s, 78),
             "ed25519: no l=, folded, lines <= 78");
    free(s);

    /* dual */
    s = sign(both, 2, m, &len);
    TH_CHECK(s && verify(s, len, 0, ks->rsa_pub, &vr, &why) == 0,
             "dual: the first signature (rsa) verifies (%s)", why);
    TH_STREQ(vr.a, "rsa-sha256", "dual: the first is rsa-sha256");
    TH_CHECK(s && verify(s, len, 1, ks->ed_pub, &vr, &why) == 0,
             "dual: the second signature (ed25519) verifies (%s)", why);
    TH_STREQ(vr.a, "ed25519-sha256", "dual: the second is ed25519-sha256");
    TH_CHECK(s && verify(s, len, 2, ks->ed_pub, &vr, &why) == -1,
             "dual: exactly two signatures");
    {
        const char *a = s ? strstr(s, "bh=") : NULL;
        const char *b = a ? strstr(a + 3, "bh=") : NULL;

        TH_CHECK(a && b && strncmp(a, b, 48) == 0,
                 "dual: one body hash for both");
    }
    TH_CHECK(s && fold_ok(s, 78), "dual: folded, lines <= 78");

    /* tampering */
    if (s) {
        struct buf t;

        buf_init(&t, 0);
        (void)buf_puts(&t, "From: Evil <ceo@evil.example>\r\n");
        (void)buf_puts(&t, s);
        TH_CHECK(verify(t.p, t.len, 0, ks->rsa_pub, &vr, &why) == -1 &&
                     verify(t.p, t.len, 1, ks->ed_pub, &vr, &why) == -1,
                 "dual: a prepended second From breaks both (%s)", why);
        buf_reset(&t);
        (void)buf_puts(&t, s);
        (void)buf_puts(&t, "Subject: second\r\n");
        buf_reset(&t);
        {
            /* a Subject added after the signed ones, above the body */
            const char *sep = strstr(s, "\r\n\r\n");

            (void)buf_append(&t, s, (size_t)(sep - s) + 2);
            (void)buf_puts(&t, "Subject: appended\r\n");
            (void)buf_puts(&t, sep + 2);
        }
        TH_CHECK(verify(t.p, t.len, 0, ks->rsa_pub, &vr, &why) == -1 &&
                     verify(t.p, t.len, 1, ks->ed_pub, &vr, &why) == -1,
                 "dual: an appended second Subject breaks both");
        buf_reset(&t);
        (void)buf_puts(&t, s);
        (void)buf_puts(&t, "P.S. click here\r\n");
        TH_CHECK(verify(t.p, t.len, 0, ks->rsa_pub, &vr, &why) == -1 &&
                     verify(t.p, t.len, 1, ks->ed_pub, &vr, &why) == -1,
                 "dual: appended body text breaks both (%s)", why);
        buf_reset(&t);
        (void)buf_puts(&t, s);
        {
            char *cc = strstr(t.p, "To: Ada Lovelace <ada@example.com>\r\n");

            memcpy(cc, "Cc", 2);
        }
        TH_CHECK(verify(t.p, t.len, 0, ks->rsa_pub, &vr, &why) == -1,
                 "dual: To renamed to Cc breaks the signature");
        buf_reset(&t);
        (void)buf_puts(&t, "X-Mailer: relay\r\nReceived: from x\r\n");
        (void)buf_puts(&t, s);
        {
            /* relaxed: refolding and case changes are tolerated */
            char *sub = strstr(t.p, "Subject: Hello from Acme");

            memcpy(sub, "SUBJECT:\tHello ", 15);
        }
        TH_CHECK(verify(t.p, t.len, 0, ks->rsa_pub, &vr, &why) == 0 &&
                     verify(t.p, t.len, 1, ks->ed_pub, &vr, &why) == 0,
                 "dual: unsigned fields added and header case changed "
                 "still verify (%s)",
                 why);
        buf_free(&t);
    }
    free(s);
    free(m);

    /* other messages */
    {
        char *ll = msg_longlines();
        const struct {
            const char *name;
            char *msg;
        } more[] = {
            {"accents", crlf(msg_accents)},
            {"hostile", crlf(msg_hostile)},
            {"repeated", crlf(msg_repeated)},
            {"emptybody", crlf(msg_empty_body)},
            {"longlines", ll},
        };

        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
            s = sign(both, 2, more[i].msg, &len);
            TH_CHECK(s && verify(s, len, 0, ks->rsa_pub, &vr, &why) == 0 &&
                         verify(s, len, 1, ks->ed_pub, &vr, &why) == 0,
                     "dual %s: both verify (%s)", more[i].name, why);
            TH_CHECK(s && fold_ok(s, 78), "dual %s: lines <= 78", more[i].name);
            if (strcmp(more[i].name, "hostile") == 0)
                TH_CHECK(count_h(vr.h, "Subject") == 2,
                         "hostile: lower-case sUBJECT counted");
            if (strcmp(more[i].name, "repeated") == 0)
                TH_CHECK(count_h(vr.h, "List-Unsubscribe") == 3 &&
                             count_h(vr.h, "List-Id") == 3,
                         "repeated: two of a name, listed three times");
            free(s);
            free(more[i].msg);
        }
    }

    /* two To fields: both signed bottom-up, and To listed three times */
    {
        char *two = crlf(msg_basic);
        struct buf t;

        buf_init(&t, 0);
        (void)buf_puts(&t, "To: second@example.com\r\n");
        (void)buf_puts(&t, two);
        s = sign(both, 2, t.p, &len);
        TH_CHECK(s && verify(s, len, 0, ks->rsa_pub, &vr, &why) == 0 &&
                     verify(s, len, 1, ks->ed_pub, &vr, &why) == 0 &&
                     count_h(vr.h, "To") == 3,
                 "two To fields: both signed, To listed three times (%s)", why);
        if (s) {
            /* swap the two To values: the order is signed */
            char *a = strstr(s, "To: second@example.com");
            char *b2 = strstr(s, "To: Ada Lovelace <ada@example.com>");
            struct buf w;

            buf_init(&w, 0);
            (void)buf_append(&w, s, (size_t)(a - s));
            (void)buf_puts(&w, "To: Ada Lovelace <ada@example.com>\r\n");
            (void)buf_append(&w, a + 24, (size_t)(b2 - a - 24));
            (void)buf_puts(&w, "To: second@example.com\r\n");
            (void)buf_puts(&w, b2 + 36);
            TH_CHECK(w.len == len &&
                         verify(w.p, w.len, 0, ks->rsa_pub, &vr, &why) == -1,
                     "two To fields: swapping them breaks the signature");
            buf_free(&w);
        }
        free(s);
        free(two);
        buf_free(&t);
    }

    /* a 253-octet domain: lines cannot all be <= 78, but stay <= 998 */
    {
        char dom[254], path[600];
        struct buf dns;
        struct err e;
        struct dkim_key *k;
        EVP_PKEY *pub;

        for (int i = 0; i < 253; i++)
            dom[i] = i % 62 == 61 ? '.' : 'a' + i % 26;
        dom[253] = '\0';
        snprintf(path, sizeof path, "%s/long.key", ks->dir);
        buf_init(&dns, 0);
        TH_CHECK(
            dkim_keygen(DKIM_ED25519_SHA256, 0, path, dom, "s", &dns, &e) == 0,
            "keygen with a 253-octet domain");
        k = dkim_key_load(path, dom, "s", &e);
        pub = record_key(dns.p);
        m = crlf(msg_basic);
        s = k ? sign(&k, 1, m, &len) : NULL;
        TH_CHECK(s && fold_ok(s, 998) && !fold_ok(s, 78) &&
                     verify(s, len, 0, pub, &vr, &why) == 0,
                 "253-octet d=: lines <= 998 and it verifies (%s)", why);
        TH_STREQ(vr.d, dom, "253-octet d= intact");
        free(s);
        free(m);
        EVP_PKEY_free(pub);
        dkim_key_free(k);
        buf_free(&dns);
    }
}

static void
test_sign_errors(struct keyset *ks)
{
    static const struct {
        const char *name, *msg;
    } bad[] = {
        {"no empty line", "From: a@b.example\r\nSubject: x\r\n"},
        {"no CRLF at all", "From: a@b.example"},
        {"bare LF in header", "From: a@b.example\nTo: c@d.example\r\n\r\nx"},
        {"bare CR in header", "From: a@b.example\rTo: c\r\n\r\nx"},
        {"bare LF in body", "From: a@b.example\r\n\r\nline\nline\r\n"},
        {"bare CR in body", "From: a@b.example\r\n\r\nline\rline\r\n"},
        {"WSP at the end, no CRLF", "From: a@b.example\r\n\r\nline \t"},
        {"field without colon", "From a@b.example\r\n\r\nx\r\n"},
        {"continuation first", " From: a@b.example\r\n\r\nx\r\n"},
        {"space in a name", "Fr om: a@b.example\r\n\r\nx\r\n"},
        {"empty name", ": a@b.example\r\n\r\nx\r\n"},
    };
    struct dkim_key *both[2] = {ks->rsa, ks->ed};
    struct buf out;
    struct err e;

    buf_init(&out, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf_reset(&out);
        (void)buf_puts(&out, "previous\r\n");
        err_clear(&e);
        TH_CHECK(dkim_sign(both, 2, bad[i].msg, strlen(bad[i].msg), 1, &out,
                           &e) == -1 &&
                     e.kind == EX_DATAERR && strcmp(out.p, "previous\r\n") == 0,
                 "sign refuses %s (EX_DATAERR, output untouched)", bad[i].name);
    }
    {
        /* 33 To fields: refused; 32 are signed */
        struct buf m;

        buf_init(&m, 0);
        for (int i = 0; i < 33; i++)
            (void)buf_puts(&m, "To: x@example.com\r\n");
        (void)buf_puts(&m, "\r\nbody\r\n");
        buf_reset(&out);
        TH_CHECK(dkim_sign(both + 1, 1, m.p, m.len, 1, &out, &e) == -1 &&
                     e.kind == EX_DATAERR && out.len == 0,
                 "sign refuses 33 To fields (EX_DATAERR)");
        buf_reset(&out);
        TH_CHECK(dkim_sign(both + 1, 1, m.p + 19, m.len - 19, 1, &out, &e) == 0,
                 "sign accepts 32 To fields");
        buf_free(&m);
    }
    buf_reset(&out);
    TH_CHECK(dkim_sign(both, 0, "From: a\r\n\r\n", 11, 1, &out, &e) == 0 &&
                 out.len == 0,
             "sign with no keys adds nothing");
    {
        /* a small output limit: refused, not truncated */
        struct buf small;

        buf_init(&small, 100);
        TH_CHECK(dkim_sign(both, 2, "From: a\r\n\r\nx\r\n", 14, 1, &small,
                           &e) == -1 &&
                     small.len == 0,
                 "sign past out->max fails cleanly");
        buf_free(&small);
    }
    buf_free(&out);
}

/* random messages from hostile fragments: each is either refused with
 * EX_DATAERR (output untouched) or signed so that it verifies */
static void
test_random(struct keyset *ks, const char *samples)
{
    /* header lines, body pieces, and the rare broken byte */
    static const char *const hfrag[] = {"From: a@b.example\r\n",
                                        "To: c@d.example\r\n",
                                        " folded\r\n",
                                        "\tfolded\t \r\n",
                                        "X-Y: \t \r\n",
                                        "sUbJeCt: x  y\r\n",
                                        "Subject:\r\n",
                                        "DKIM-Signature: v=1; b=; bh=\r\n",
                                        "List-Id: <x> \xc3\xa8\r\n",
                                        "Reply-To:\t\r\n",
                                        "Message-ID: <\x01\x7f>\r\n"};
    static const char *const bfrag[] = {
        "body  text \t\r\n", "\r\n",   " ",    "\t",      "a", "=\r\n",
        "\xc3\xa8",          "  \r\n", "\x0c", "line\r\n"};
    static const char *const broken[] = {"\n", "\r", ":", " x\r\n"};
    struct dkim_key *both[2] = {ks->rsa, ks->ed};
    unsigned int seed = 8463;
    int bad = 0, signed_ok = 0, refused = 0;
    struct buf m, out;
    struct err e;

    buf_init(&m, 0);
    buf_init(&out, 0);
    for (int r = 0; r < 400; r++) {
        int nf = (int)(rand_r(&seed) % 40), rc;

        buf_reset(&m);
        for (int i = 0; i < nf; i++) {
            if (i == nf / 2)
                (void)buf_puts(&m, "\r\n");
            if (rand_r(&seed) % 60 == 0)
                (void)buf_puts(&m, broken[rand_r(&seed) % 4]);
            else if (i < nf / 2)
                (void)buf_puts(&m, hfrag[rand_r(&seed) % 11]);
            else
                (void)buf_puts(&m, bfrag[rand_r(&seed) % 10]);
        }
        buf_reset(&out);
        (void)buf_puts(&out, "x");
        /* Ed25519 only but for every 20th: RSA is slow under ASan */
        rc = dkim_sign(r % 20 ? both + 1 : both, r % 20 ? 1 : 2, m.p ? m.p : "",
                       m.len, 7, &out, &e);
        if (rc == -1) {
            refused++;
            bad += e.kind != EX_DATAERR || out.len != 1;
            continue;
        }
        {
            const char *why;
            struct vres vr;
            struct buf whole;

            buf_init(&whole, 0);
            (void)buf_append(&whole, out.p + 1, out.len - 1);
            (void)buf_append(&whole, m.p, m.len);
            if (verify(whole.p, whole.len, 0, r % 20 ? ks->ed_pub : ks->rsa_pub,
                       &vr, &why) == -1) {
                if (bad++ == 0)
                    printf("# random message %d does not verify: %s\n", r, why);
            }
            signed_ok++;
            if (samples != NULL && r % 20 != 0 && signed_ok <= 50) {
                /* Ed25519 with this run's key: for python3-dkim only */
                char path[1024];

                snprintf(path, sizeof path, "%s/random-%03d.eml", samples, r);
                (void)spit(path, whole.p, whole.len, 0644);
            }
            buf_free(&whole);
        }
    }
    if (samples != NULL) {
        char path[1024];

        snprintf(path, sizeof path, "%s/random.txt", samples);
        (void)spit(path, ks->ed_rec, strlen(ks->ed_rec), 0644);
    }
    TH_CHECK(bad == 0 && signed_ok > 20 && refused > 20,
             "400 random messages: %d signed and verified, %d refused "
             "(EX_DATAERR), %d wrong",
             signed_ok, refused, bad);
    buf_free(&m);
    buf_free(&out);
}

/*---- threads: keys are shared read-only ----*/

struct worker {
    struct keyset *ks;
    int n, bad;
    char tag[16];
};

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    struct dkim_key *both[2] = {w->ks->rsa, w->ks->ed};
    char *base = crlf(msg_accents);
    struct buf out, in;
    struct err e;

    buf_init(&out, 0);
    buf_init(&in, 0);
    for (int i = 0; i < w->n; i++) {
        const char *why;
        struct vres vr;

        /* a different message per iteration and thread */
        buf_reset(&in);
        if (buf_printf(&in, "X-Seq: %s-%d\r\n%s", w->tag, i, base) == -1)
            w->bad++;
        buf_reset(&out);
        /* RSA on every 10th only: it is 50 times slower */
        if (dkim_sign(i % 10 == 0 ? both : both + 1, i % 10 == 0 ? 2 : 1, in.p,
                      in.len, 1, &out, &e) == -1 ||
            buf_append(&out, in.p, in.len) == -1) {
            w->bad++;
            continue;
        }
        if (i % 10 == 0)
            w->bad +=
                verify(out.p, out.len, 0, w->ks->rsa_pub, &vr, &why) == -1 ||
                verify(out.p, out.len, 1, w->ks->ed_pub, &vr, &why) == -1;
        else
            w->bad += verify(out.p, out.len, 0, w->ks->ed_pub, &vr, &why) == -1;
    }
    buf_free(&out);
    buf_free(&in);
    free(base);
    return NULL;
}

static void
test_threads(struct keyset *ks)
{
    enum { NT = 4 };
    pthread_t t[NT];
    struct worker w[NT];
    int bad = 0, started = 0;

    for (int i = 0; i < NT; i++) {
        w[i].ks = ks;
        w[i].n = 40;
        w[i].bad = 0;
        snprintf(w[i].tag, sizeof w[i].tag, "t%d", i);
        if (pthread_create(&t[i], NULL, worker_run, &w[i]) == 0)
            started++;
        else
            bad++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
        bad += w[i].bad;
    }
    TH_CHECK(bad == 0, "4 threads sign with the same keys at once (%d bad)",
             bad);
}

/*---- keys ----*/

static int
write_pem(const char *path, EVP_PKEY *pk, int traditional, int encrypted,
          int mode)
{
    BIO *b = BIO_new_file(path, "w");
    int ok;

    if (b == NULL)
        return -1;
    if (encrypted)
        ok = PEM_write_bio_PrivateKey(b, pk, EVP_aes_256_cbc(),
                                      (unsigned char *)"secret", 6, NULL, NULL);
    else if (traditional)
        ok = PEM_write_bio_PrivateKey_traditional(b, pk, NULL, NULL, 0, NULL,
                                                  NULL);
    else
        ok = PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
    BIO_free(b);
    chmod(path, (mode_t)mode);
    return ok == 1 ? 0 : -1;
}

static void
test_keys(struct keyset *ks)
{
    char path[512], path2[512];
    struct err e;
    struct dkim_key *k;
    struct stat st;
    struct buf dns;
    EVP_PKEY *pk;
    char *before, *after, *v;

    TH_CHECK(dkim_key_algo(ks->rsa) == DKIM_RSA_SHA256 &&
                 dkim_key_algo(ks->ed) == DKIM_ED25519_SHA256,
             "key algorithm follows the key");

    /* keygen output */
    snprintf(path, sizeof path, "%s/rsa.key", ks->dir);
    TH_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
             "keygen: key file mode 0600");
    before = slurp(path, NULL);
    TH_CHECK(before && strncmp(before, "-----BEGIN PRIVATE KEY-----", 27) == 0,
             "keygen: PKCS#8 PEM");
    TH_CHECK(strncmp(ks->rsa_rec,
                     "rsa._domainkey.acme.example. IN TXT ( \"v=DKIM1; k=rsa; "
                     "p=",
                     55) == 0 &&
                 strcmp(ks->rsa_rec + strlen(ks->rsa_rec) - 4, "\" )\n") == 0,
             "keygen: RSA record format");
    TH_CHECK(strncmp(ks->ed_rec,
                     "ed25519._domainkey.acme.example. IN TXT ( \"v=DKIM1; "
                     "k=ed25519; p=",
                     63) == 0,
             "keygen: Ed25519 record format");
    {
        /* every quoted string at most 255 octets; RSA needs two */
        int ok = 1, strings = 0;
        const char *p = ks->rsa_rec;

        while ((p = strchr(p, '"')) != NULL) {
            const char *q = strchr(p + 1, '"');

            ok &= q && q - p - 1 <= 255;
            strings++;
            p = q + 1;
        }
        TH_CHECK(ok && strings == 2, "keygen: TXT strings <= 255 octets (%d)",
                 strings);
    }
    v = record_value(ks->ed_rec);
    TH_CHECK(strlen(v) == strlen("v=DKIM1; k=ed25519; p=") + 44,
             "keygen: Ed25519 p= is the raw 32-byte key");
    free(v);

    /* never overwritten */
    buf_init(&dns, 0);
    err_clear(&e);
    TH_CHECK(dkim_keygen(DKIM_RSA_SHA256, 2048, path, "acme.example", "rsa",
                         &dns, &e) == -1 &&
                 e.kind == EX_CANTCREAT && dns.len == 0,
             "keygen: an existing file is refused (EX_CANTCREAT)");
    after = slurp(path, NULL);
    TH_CHECK(before && after && strcmp(before, after) == 0,
             "keygen: the existing key is unchanged");
    free(before);
    free(after);
    TH_CHECK(dkim_keygen(DKIM_RSA_SHA256, 512, "/nonexistent/k", "acme.example",
                         "s", &dns, &e) == -1 &&
                 e.kind == EX_USAGE,
             "keygen: 512 bits refused (EX_USAGE)");
    TH_CHECK(dkim_keygen(DKIM_ED25519_SHA256, 0, "/nonexistent/k",
                         "acme.example", "s;x", &dns, &e) == -1 &&
                 e.kind == EX_USAGE,
             "keygen: a selector with ';' refused (EX_USAGE)");
    TH_CHECK(dkim_keygen(DKIM_ED25519_SHA256, 0, "/nonexistent/dir/k",
                         "acme.example", "s", &dns, &e) == -1 &&
                 e.kind == EX_CANTCREAT,
             "keygen: an unwritable directory (EX_CANTCREAT)");
    buf_free(&dns);

    /* names */
    TH_CHECK(dkim_name_ok("acme.example") && dkim_name_ok("s2026") &&
                 dkim_name_ok("a_b-c.d") && !dkim_name_ok("") &&
                 !dkim_name_ok(".a") && !dkim_name_ok("a.") &&
                 !dkim_name_ok("a..b") && !dkim_name_ok("a b") &&
                 !dkim_name_ok("a;b") && !dkim_name_ok("citt\xc3\xa0.it") &&
                 !dkim_name_ok(NULL),
             "dkim_name_ok: DNS names only");

    /* load refusals */
    err_clear(&e);
    chmod(path, 0644);
    TH_CHECK(dkim_key_load(path, "acme.example", "rsa", &e) == NULL &&
                 e.kind == EX_CONFIG && strstr(e.msg, "chmod 600"),
             "load: a world-readable key is refused (EX_CONFIG, chmod 600)");
    chmod(path, 0640);
    TH_CHECK(dkim_key_load(path, "acme.example", "rsa", &e) == NULL &&
                 e.kind == EX_CONFIG,
             "load: a group-readable key is refused");
    chmod(path, 0600);
    TH_CHECK(dkim_key_load(path, "acme example", "rsa", &e) == NULL &&
                 e.kind == EX_CONFIG,
             "load: a bad domain is refused (EX_CONFIG)");
    snprintf(path2, sizeof path2, "%s/missing.key", ks->dir);
    TH_CHECK(dkim_key_load(path2, "acme.example", "rsa", &e) == NULL &&
                 e.kind == EX_NOINPUT,
             "load: a missing file (EX_NOINPUT)");
    snprintf(path2, sizeof path2, "%s/garbage.key", ks->dir);
    spit(path2, "hello\n", 6, 0600);
    TH_CHECK(dkim_key_load(path2, "acme.example", "rsa", &e) == NULL &&
                 e.kind == EX_DATAERR,
             "load: not a key (EX_DATAERR)");

    pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    snprintf(path2, sizeof path2, "%s/trad.key", ks->dir);
    write_pem(path2, pk, 1, 0, 0600);
    before = slurp(path2, NULL);
    k = dkim_key_load(path2, "acme.example", "trad", &e);
    TH_CHECK(before && strstr(before, "BEGIN RSA PRIVATE KEY") && k &&
                 dkim_key_algo(k) == DKIM_RSA_SHA256,
             "load: traditional RSA PEM of 1024 bits");
    free(before);
    dkim_key_free(k);
    snprintf(path2, sizeof path2, "%s/enc.key", ks->dir);
    write_pem(path2, pk, 0, 1, 0600);
    TH_CHECK(dkim_key_load(path2, "acme.example", "enc", &e) == NULL &&
                 e.kind == EX_DATAERR && strstr(e.msg, "encrypted"),
             "load: an encrypted key is refused, not prompted for");
    EVP_PKEY_free(pk);

    pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
    snprintf(path2, sizeof path2, "%s/short.key", ks->dir);
    write_pem(path2, pk, 0, 0, 0600);
    TH_CHECK(dkim_key_load(path2, "acme.example", "short", &e) == NULL &&
                 e.kind == EX_CONFIG && strstr(e.msg, "512"),
             "load: RSA of 512 bits is refused (EX_CONFIG)");
    EVP_PKEY_free(pk);

    pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    snprintf(path2, sizeof path2, "%s/ec.key", ks->dir);
    write_pem(path2, pk, 0, 0, 0600);
    TH_CHECK(dkim_key_load(path2, "acme.example", "ec", &e) == NULL &&
                 e.kind == EX_CONFIG,
             "load: an EC key is refused (EX_CONFIG)");
    EVP_PKEY_free(pk);
    ERR_clear_error();
}

/*---- samples for the end-to-end verifiers ----*/

/* sample_key - DIR/NAME.key with its record DIR/NAME.txt: those already
 * there (made by "campaign dkim keygen --selector NAME --domain
 * acme.example --out DIR/NAME.key > DIR/NAME.txt"), else new ones. */
static int
sample_key(const char *dir, const char *name, enum dkim_algo algo,
           struct dkim_key **k, char **rec, EVP_PKEY **pub)
{
    char key[1024], txt[1024], file[64];
    struct err e;

    snprintf(key, sizeof key, "%s/%s.key", dir, name);
    snprintf(txt, sizeof txt, "%s/%s.txt", dir, name);
    if (access(key, F_OK) == 0) {
        *k = dkim_key_load(key, "acme.example", name, &e);
        *rec = slurp(txt, NULL);
        *pub = *rec ? record_key(*rec) : NULL;
        if (*k == NULL)
            printf("# %s\n", e.msg);
        if (*k && dkim_key_algo(*k) != algo)
            printf("# %s: not the expected algorithm\n", key);
        return *k && *pub && dkim_key_algo(*k) == algo ? 0 : -1;
    }
    snprintf(file, sizeof file, "%s.key", name);
    if (make_key(dir, file, algo, name, k, rec, pub) == -1)
        return -1;
    return spit(txt, *rec, strlen(*rec), 0644);
}

static void
write_samples(const char *dir)
{
    static const char *const names[] = {"rsa", "ed25519", "dual"};
    struct dkim_key *rsa = NULL, *ed = NULL, *both[2];
    char *rrec = NULL, *erec = NULL, path[1024];
    EVP_PKEY *rp = NULL, *ep = NULL;
    char *ll = msg_longlines();
    const struct {
        const char *name;
        char *msg;
    } msgs[] = {
        {"basic", crlf(msg_basic)},          {"accents", crlf(msg_accents)},
        {"hostile", crlf(msg_hostile)},      {"repeated", crlf(msg_repeated)},
        {"emptybody", crlf(msg_empty_body)}, {"longlines", ll},
    };
    int ok = 1;

    ok &= sample_key(dir, "rsa", DKIM_RSA_SHA256, &rsa, &rrec, &rp) == 0;
    ok &= sample_key(dir, "ed25519", DKIM_ED25519_SHA256, &ed, &erec, &ep) == 0;
    both[0] = rsa;
    both[1] = ed;
    for (size_t m = 0; ok && m < sizeof msgs / sizeof msgs[0]; m++) {
        for (int a = 0; a < 3; a++) {
            struct buf out;
            struct err e;

            buf_init(&out, 0);
            if (dkim_sign(a == 1 ? &both[1] : both, a == 2 ? 2 : 1, msgs[m].msg,
                          strlen(msgs[m].msg), (int64_t)time(NULL), &out,
                          &e) == -1 ||
                buf_puts(&out, msgs[m].msg) == -1) {
                printf("# %s\n", e.msg);
                ok = 0;
            }
            snprintf(path, sizeof path, "%s/%s-%s.eml", dir, names[a],
                     msgs[m].name);
            ok &= spit(path, out.p, out.len, 0644) == 0;
            buf_free(&out);
        }
    }
    if (ok) {
        /* two To fields: python3-dkim verifies, OpenDKIM refuses the
         * message (RFC 5322 3.6 allows one To) */
        char *m = crlf(msg_basic);
        struct buf in, out;
        struct err e;

        buf_init(&in, 0);
        buf_init(&out, 0);
        (void)buf_puts(&in, "To: second@example.com\r\n");
        (void)buf_puts(&in, m);
        if (dkim_sign(both, 2, in.p, in.len, (int64_t)time(NULL), &out, &e) ==
                -1 ||
            buf_append(&out, in.p, in.len) == -1)
            ok = 0;
        snprintf(path, sizeof path, "%s/dual-twoto.eml", dir);
        ok &= spit(path, out.p, out.len, 0644) == 0;
        buf_free(&in);
        buf_free(&out);
        free(m);
    }
    TH_CHECK(ok, "samples written to %s", dir);
    for (size_t m = 0; m < sizeof msgs / sizeof msgs[0]; m++)
        free(msgs[m].msg);
    dkim_key_free(rsa);
    dkim_key_free(ed);
    EVP_PKEY_free(rp);
    EVP_PKEY_free(ep);
    free(rrec);
    free(erec);
}

/*---- optional benchmark ----*/

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
bench(struct keyset *ks, int n)
{
    char *ll = msg_longlines();
    struct buf out;
    struct err e;
    const char *label[2] = {"rsa-2048", "ed25519"};
    struct dkim_key *keys[2] = {ks->rsa, ks->ed};
    char path[512];

    buf_init(&out, 0);
    for (int a = 0; a < 2; a++) {
        double t0 = now(), t1, t2;
        EVP_PKEY *pk;
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        unsigned char sig[512], dg[32] = {0};
        size_t sl;
        BIO *b;
        int bad = 0;

        for (int i = 0; i < n; i++) {
            buf_reset(&out);
            if (dkim_sign(&keys[a], 1, ll, strlen(ll), 1, &out, &e) == -1)
                bad++;
        }
        t1 = now();
        snprintf(path, sizeof path, "%s/%s.key", ks->dir,
                 a == 0 ? "rsa" : "ed25519");
        b = BIO_new_file(path, "r");
        pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
        EVP_DigestSignInit(mc, NULL, a == 0 ? EVP_sha256() : NULL, NULL, pk);
        for (int i = 0; i < n; i++) {
            sl = sizeof sig;
            if (a == 0)
                EVP_DigestSignInit(mc, NULL, EVP_sha256(), NULL, pk);
            if (EVP_DigestSign(mc, sig, &sl, dg, 32) != 1)
                bad++;
        }
        t2 = now();
        printf("# bench %s, %zu-byte message: dkim_sign %.0f/s, bare "
               "EVP_DigestSign %.0f/s (%.0f%%)\n",
               label[a], strlen(ll), n / (t1 - t0), n / (t2 - t1),
               100.0 * (t2 - t1) / (t1 - t0));
        if (bad)
            printf("# bench: %d failures\n", bad);
        EVP_MD_CTX_free(mc);
        EVP_PKEY_free(pk);
    }
    buf_free(&out);
    free(ll);
}

int
main(void)
{
    struct keyset ks;
    const char *samples = getenv("DKIM_SAMPLES_DIR");
    const char *nbench = getenv("DKIM_BENCH");
    char cmd[200];

    test_canon();
    test_rfc8463();

    memset(&ks, 0, sizeof ks);
    snprintf(ks.dir, sizeof ks.dir, "/tmp/test_dkim.XXXXXX");
    if (mkdtemp(ks.dir) == NULL) {
        printf("not ok - mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if (make_key(ks.dir, "rsa.key", DKIM_RSA_SHA256, "rsa", &ks.rsa,
                 &ks.rsa_rec, &ks.rsa_pub) == -1 ||
        make_key(ks.dir, "ed25519.key", DKIM_ED25519_SHA256, "ed25519", &ks.ed,
                 &ks.ed_rec, &ks.ed_pub) == -1) {
        printf("not ok - key generation\n");
        return 1;
    }
    test_rfc8463_sign(ks.dir);
    test_sign(&ks);
    test_sign_errors(&ks);
    test_threads(&ks);
    test_random(&ks, samples && *samples ? samples : NULL);
    test_keys(&ks);
    if (samples && *samples)
        write_samples(samples);
    if (nbench && atoi(nbench) > 0)
        bench(&ks, atoi(nbench));

    dkim_key_free(ks.rsa);
    dkim_key_free(ks.ed);
    EVP_PKEY_free(ks.rsa_pub);
    EVP_PKEY_free(ks.ed_pub);
    free(ks.rsa_rec);
    free(ks.ed_rec);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", ks.dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", ks.dir);
    printf("# %d tests, %d failed\n", th_n, th_failed);
    return TH_DONE();
}
