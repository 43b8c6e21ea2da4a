/* SPDX-License-Identifier: ISC */
/*
 * dkim.c - DKIM signatures: RFC 6376 with rsa-sha256 and ed25519-sha256
 * (RFC 8463), relaxed/relaxed canonicalisation, and key generation.
 *
 * Owns: reading and generating signing keys, canonicalising a complete
 * CRLF message, and producing its DKIM-Signature header fields.  Does not
 * own: verification (the tests use python3-dkim and opendkim-testmsg as
 * independent verifiers), DNS, or choosing which keys sign (config).
 *
 * Cost model.  A signature costs one private-key operation; everything
 * else must be small beside it (even beside Ed25519, ~15 us):
 *   - the body is canonicalised in one pass into the spare room of the
 *     caller's output buffer (the places that need work are found 16
 *     bytes at a time, the runs between them copied whole) and hashed
 *     with one call; the body hash is shared by every key;
 *   - the signed header fields are canonicalised one at a time into the
 *     same spare room and hashed once into a SHA-256 state that each key
 *     copies before adding its own DKIM-Signature field;
 *   - each key then signs the 32-byte digest: RSA as PKCS#1 v1.5 with a
 *     SHA-256 DigestInfo (what EVP_DigestSign would produce), Ed25519 as
 *     PureEdDSA over the digest, which is exactly RFC 8463 section 3,
 *     with libsodium (twice OpenSSL 3.0's speed; the same bytes, since
 *     Ed25519 signatures are deterministic, and checked at key load).
 * Keys are read-only after dkim_key_load, so any number of threads may
 * sign with them at once: every OpenSSL context is per call.
 *
 * Header selection (RFC 6376 5.4): every name in dkim_signed_headers is
 * listed in h= once more than it occurs (a name that is absent is listed
 * once): a verifier that looks for one instance more than we signed finds
 * none, so any instance added later, above or below, breaks the
 * signature.  Repeated names are taken from the bottom up (5.4.2).
 *
 * We refuse to sign a message with a bare CR or LF, or a malformed header
 * section: the transport would rewrite those bytes and break the
 * signature, so the message is wrong, not the signature.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "dkim.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

/* RFC 5322 2.1.1: lines SHOULD be at most 78 characters (998 MUST). */
#define DKIM_FOLD 78
/* RFC 8301 3.2: signers MUST use RSA keys of at least 1024 bits. */
#define DKIM_RSA_MIN_BITS 1024
/* Far above any key in use (4096 is the usual maximum); bounds the
 * signature and base64 buffers below. */
#define DKIM_RSA_MAX_BITS 16384
#define DKIM_SIG_MAX (DKIM_RSA_MAX_BITS / 8)
/* A PEM private key of DKIM_RSA_MAX_BITS is about 12.5 KB. */
#define DKIM_KEYFILE_MAX (64 * 1024)
/* RFC 1035 3.3.14: a TXT record is a sequence of <character-string>s of
 * at most 255 octets each. */
#define DKIM_TXT_STRING_MAX 255
/* RFC 1035 2.3.4: names at most 255 octets (253 in text), labels 63. */
#define DKIM_NAME_MAX 253
#define DKIM_LABEL_MAX 63
/* Header fields kept on the stack before the index moves to the heap;
 * our messages have about fifteen. */
#define DKIM_FIELDS_STACK 64
/* Instances of one signed name: over-signing lists each one in h=, so a
 * message with thousands of To fields would get a header of as many
 * names.  RFC 5322 3.6 allows one of most of them; a List-* field may
 * legitimately repeat a few times. */
#define DKIM_REPEAT_MAX 32

const char *const dkim_signed_headers[] = {
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "Feedback-ID",
    NULL,
};

#define DKIM_NSIGNED                                                           \
    (sizeof dkim_signed_headers / sizeof dkim_signed_headers[0] - 1)

struct dkim_key {
    enum dkim_algo algo;
    EVP_PKEY *pkey;
    EVP_MD *sha256; /* fetched once: no method-store lookup per message */
    /* Ed25519: the key in libsodium's form (seed and public key), which
     * signs in half the time of OpenSSL 3.0's Ed25519; the signatures are
     * the same bytes (Ed25519 is deterministic), checked at load */
    unsigned char ed_sk[crypto_sign_ed25519_SECRETKEYBYTES];
    char *domain;
    char *selector;
    size_t domain_len, selector_len;
};

/*---- errors and names ----*/

/* ossl_fail - record an error with OpenSSL's reason; clears its queue. */
static int
ossl_fail(struct err *e, int kind, const char *what)
{
    char detail[160];
    unsigned long code = ERR_peek_last_error();

    if (code != 0)
        ERR_error_string_n(code, detail, sizeof detail);
    else
        snprintf(detail, sizeof detail, "unknown error");
    ERR_clear_error();
    return err_set(e, kind, "%s: %s", what, detail);
}

int
dkim_name_ok(const char *s)
{
    size_t n = 0, label = 0;

    if (s == NULL || *s == '\0')
        return 0;
    for (; *s != '\0'; s++, n++) {
        unsigned char c = (unsigned char)*s;

        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
        if (++label > DKIM_LABEL_MAX)
            return 0;
    }
    return label > 0 && n <= DKIM_NAME_MAX;
}

/* name_error - the error for a domain or selector that dkim_name_ok
 * refuses; the value is untrusted (config or argv). */
static int
name_error(struct err *e, int kind, const char *what, const char *v)
{
    char shown[80];

    if (v == NULL)
        v = "";
    log_printable(shown, sizeof shown, v, strlen(v));
    return err_set(e, kind,
                   "DKIM %s \"%s\" is not a DNS name (letters, digits, '-' "
                   "and '_' in dot-separated labels; IDNs in A-label form)",
                   what, shown);
}

/*---- keys ----*/

/* no_passphrase - PEM callback: encrypted keys are refused, never
 * prompted for (we may run under cron). */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* read_keyfile - the whole file into a fresh buffer (wiped by the caller
 * with freezero), after checking its permissions. */
static char *
read_keyfile(const char *path, size_t *lenp, struct err *e)
{
    struct stat st;
    char *data;
    size_t got = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        err_set(e, EX_NOINPUT, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) == -1) {
        err_set(e, EX_NOINPUT, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set(e, EX_CONFIG, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        err_set(e, EX_CONFIG,
                "%s: private key is accessible by group or others (mode "
                "%04o); chmod 600 %s",
                path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return NULL;
    }
    if (st.st_size > DKIM_KEYFILE_MAX) {
        err_set(e, EX_DATAERR, "%s: %lld bytes is too large for a key file",
                path, (long long)st.st_size);
        close(fd);
        return NULL;
    }
    data = xmalloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);

        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0) {
            err_set(e, EX_NOINPUT, "%s: %s", path,
                    r == 0 ? "file shrank while read" : strerror(errno));
            freezero(data, (size_t)st.st_size + 1);
            close(fd);
            return NULL;
        }
        got += (size_t)r;
    }
    close(fd);
    data[got] = '\0';
    *lenp = got;
    return data;
}

/*
 * ed_load - the libsodium form of k's Ed25519 key, and a check that both
 * libraries sign a test digest with the same bytes (a key that they read
 * differently would give signatures that do not verify: refuse it here,
 * not at the receivers).
 */
static int
ed_load(struct dkim_key *k, struct err *e)
{
    unsigned char seed[32], pk[crypto_sign_ed25519_PUBLICKEYBYTES];
    unsigned char dg[32], a[64], b[64];
    size_t slen = sizeof seed, alen = sizeof a;
    EVP_MD_CTX *mc;
    int ok;

    if (sodium_init() < 0)
        return err_set(e, EX_SOFTWARE, "libsodium could not initialise");
    if (EVP_PKEY_get_raw_private_key(k->pkey, seed, &slen) != 1 ||
        slen != sizeof seed) {
        sodium_memzero(seed, sizeof seed);
        return ossl_fail(e, EX_SOFTWARE, "Ed25519 private key");
    }
    ok = crypto_sign_ed25519_seed_keypair(pk, k->ed_sk, seed) == 0;
    sodium_memzero(seed, sizeof seed);
    if (!ok)
        return err_set(e, EX_SOFTWARE, "Ed25519: libsodium refused the key");
    for (size_t i = 0; i < sizeof dg; i++)
        dg[i] = (unsigned char)(i * 7 + 1);
    mc = EVP_MD_CTX_new();
    ok =
        mc != NULL &&
        EVP_DigestSignInit_ex(mc, NULL, NULL, NULL, NULL, k->pkey, NULL) == 1 &&
        EVP_DigestSign(mc, a, &alen, dg, sizeof dg) == 1 && alen == 64;
    EVP_MD_CTX_free(mc);
    if (!ok)
        return ossl_fail(e, EX_SOFTWARE, "Ed25519 signing");
    if (crypto_sign_ed25519_detached(b, NULL, dg, sizeof dg, k->ed_sk) != 0 ||
        memcmp(a, b, sizeof a) != 0)
        return err_set(e, EX_SOFTWARE,
                       "Ed25519: OpenSSL and libsodium disagree on the "
                       "signature of a test digest; refusing the key");
    return 0;
}

struct dkim_key *
dkim_key_load(const char *path, const char *domain, const char *selector,
              struct err *e)
{
    struct dkim_key *k;
    EVP_PKEY *pk;
    BIO *bio;
    char *data;
    size_t len = 0;
    int id;

    if (!dkim_name_ok(domain)) {
        name_error(e, EX_CONFIG, "domain", domain);
        return NULL;
    }
    if (!dkim_name_ok(selector)) {
        name_error(e, EX_CONFIG, "selector", selector);
        return NULL;
    }
    if ((data = read_keyfile(path, &len, e)) == NULL)
        return NULL;
    bio = BIO_new_mem_buf(data, (int)len);
    pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    if (pk == NULL) {
        int encrypted = strstr(data, "ENCRYPTED") != NULL;

        freezero(data, len + 1);
        ERR_clear_error();
        err_set(e, EX_DATAERR, "%s: %s", path,
                encrypted ? "encrypted private keys are not supported "
                            "(store it unencrypted with mode 0600)"
                          : "not a PEM private key");
        return NULL;
    }
    freezero(data, len + 1);

    k = xcalloc(1, sizeof *k);
    k->pkey = pk;
    id = EVP_PKEY_get_base_id(pk);
    if (id == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(pk);

        k->algo = DKIM_RSA_SHA256;
        if (bits < DKIM_RSA_MIN_BITS || bits > DKIM_RSA_MAX_BITS) {
            err_set(e, EX_CONFIG,
                    "%s: RSA key of %d bits; DKIM needs %d to %d (RFC 8301; "
                    "2048 recommended)",
                    path, bits, DKIM_RSA_MIN_BITS, DKIM_RSA_MAX_BITS);
            dkim_key_free(k);
            return NULL;
        }
    } else if (id == EVP_PKEY_ED25519) {
        k->algo = DKIM_ED25519_SHA256;
    } else {
        err_set(e, EX_CONFIG,
                "%s: unsupported key type %s (DKIM signs with RSA or "
                "Ed25519)",
                path, OBJ_nid2sn(id));
        dkim_key_free(k);
        return NULL;
    }
    k->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (k->sha256 == NULL) {
        ossl_fail(e, EX_SOFTWARE, "SHA-256");
        dkim_key_free(k);
        return NULL;
    }
    if (k->algo == DKIM_ED25519_SHA256 && ed_load(k, e) == -1) {
        dkim_key_free(k);
        return NULL;
    }
    k->domain = xstrdup(domain);
    k->selector = xstrdup(selector);
    k->domain_len = strlen(domain);
    k->selector_len = strlen(selector);
    return k;
}

void
dkim_key_free(struct dkim_key *k)
{
    if (k == NULL)
        return;
    sodium_memzero(k->ed_sk, sizeof k->ed_sk);
    EVP_PKEY_free(k->pkey);
    EVP_MD_free(k->sha256);
    free(k->domain);
    free(k->selector);
    free(k);
}

enum dkim_algo
dkim_key_algo(const struct dkim_key *k)
{
    return k->algo;
}

/*---- canonicalisation ----*/

/* canon_bad - 1 when p[j] (of a body of len bytes) starts something the
 * relaxed form changes or we refuse: a HTAB; a SP followed by SP, HTAB,
 * CR or the end; a CR not followed by LF; any byte but CR followed by LF.
 * The SIMD scan below computes the same predicate 16 bytes at a time. */
static int
canon_bad(const char *p, size_t j, size_t len)
{
    unsigned char c = (unsigned char)p[j];
    int next = j + 1 < len ? (unsigned char)p[j + 1] : -1;

    if (c == '\t')
        return 1;
    if (c == ' ' && (next == ' ' || next == '\t' || next == '\r' || next == -1))
        return 1;
    return (c == '\r') != (next == '\n');
}

/* canon_next_bad - the first j >= i with canon_bad(p, j, len), or len. */
static size_t
canon_next_bad(const char *p, size_t i, size_t len)
{
#ifdef __SSE2__
    const __m128i sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t');
    const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');

    /* each block reads 17 bytes: the 16 and the byte after them */
    while (i + 17 <= len) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 1));
        __m128i wws = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(w, sp), _mm_cmpeq_epi8(w, tab)),
            _mm_cmpeq_epi8(w, cr));
        __m128i bad =
            _mm_or_si128(_mm_cmpeq_epi8(v, tab),
                         _mm_or_si128(_mm_and_si128(_mm_cmpeq_epi8(v, sp), wws),
                                      _mm_xor_si128(_mm_cmpeq_epi8(v, cr),
                                                    _mm_cmpeq_epi8(w, lf))));
        unsigned m = (unsigned)_mm_movemask_epi8(bad);

        if (m != 0)
            return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#endif
    for (; i < len; i++)
        if (canon_bad(p, i, len))
            return i;
    return len;
}

/*
 * body_canon - RFC 6376 3.4.4 of the body p[0..len) into dst (room for
 * len + 2 bytes; the form is never longer): WSP runs become one SP, WSP
 * at the end of a line goes, empty lines at the end go, a last line
 * without CRLF gets one.  A body that is empty after all this stays
 * empty: the CRLF is added only to a non-empty body (RFC 6376 3.4.4;
 * python3-dkim and OpenDKIM agree; under "simple" it would be one CRLF).
 * Returns the length, -1 on a bare CR or LF, or -2 when the last line
 * has no CRLF and ends in WSP: python3-dkim and OpenDKIM keep that WSP
 * when they read such a message from a file, but SMTP ends the body with
 * CRLF on the way, after which they strip it, so no signature could
 * verify both ways (our MIME bodies always end with CRLF).
 *
 * One pass, copying: the bytes between two places that need work (in a
 * quoted-printable body, the indentation of HTML lines and little else)
 * go over with one memcpy, and the places are found 16 bytes at a time.
 * The whole form is then hashed with one call.
 */
static ssize_t
body_canon(const char *p, size_t len, char *dst)
{
    size_t i = 0, o = 0, span = 0;

    if (len > 0 && p[0] == '\n')
        return -1; /* bare LF: no CR before it */
    for (;;) {
        size_t b = canon_next_bad(p, i, len), r;

        memcpy(dst + o, p + span, b - span);
        o += b - span;
        if (b == len)
            break;
        if (b + 1 < len && p[b + 1] == '\n' && p[b] != '\r')
            return -1; /* bare LF */
        if (p[b] == '\r')
            return -1; /* bare CR (a CR with its LF is not bad) */
        /* a WSP run: one SP, or nothing before the CRLF */
        for (r = b; r < len && (p[r] == ' ' || p[r] == '\t'); r++)
            ;
        if (r == len)
            return -2;
        if (p[r] == '\n')
            return -1; /* bare LF right after the run */
        if (p[r] != '\r')
            dst[o++] = ' ';
        i = span = r;
    }
    if (o > 0 && (o < 2 || dst[o - 2] != '\r' || dst[o - 1] != '\n')) {
        dst[o++] = '\r';
        dst[o++] = '\n';
    }
    /* the empty lines at the end (every line ends in CRLF by now, and a
     * line with content never ends in CR) */
    while (o == 2 || (o >= 4 && dst[o - 4] == '\r' && dst[o - 3] == '\n'))
        o -= 2;
    return (ssize_t)o;
}

/*
 * field_canon - RFC 6376 3.4.2 of the header field h (len bytes, which
 * contain a colon) into dst, which has room for len + 2 bytes (the output
 * is never longer).  Returns the bytes written, "name:value\r\n".
 */
static size_t
field_canon(const char *h, size_t len, char *dst)
{
    const char *colon = memchr(h, ':', len);
    size_t i, end = (size_t)(colon - h), o = 0;
    int sp = 0, value = 0;

    while (end > 0 && (h[end - 1] == ' ' || h[end - 1] == '\t' ||
                       h[end - 1] == '\r' || h[end - 1] == '\n'))
        end--;
    for (i = 0; i < end; i++) {
        char c = h[i];

        dst[o++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    dst[o++] = ':';
    for (i = (size_t)(colon - h) + 1; i < len; i++) {
        char c = h[i];

        if (c == '\r' || c == '\n')
            continue; /* unfold */
        if (c == ' ' || c == '\t') {
            sp = 1;
            continue;
        }
        if (sp && value)
            dst[o++] = ' ';
        sp = 0;
        value = 1;
        dst[o++] = c;
    }
    dst[o++] = '\r';
    dst[o++] = '\n';
    return o;
}

int
dkim_canon_header_relaxed(const char *h, size_t len, struct buf *out)
{
    if (memchr(h, ':', len) == NULL || buf_reserve(out, len + 2) == -1)
        return -1;
    out->len += field_canon(h, len, out->p + out->len);
    out->p[out->len] = '\0';
    return 0;
}

int
dkim_canon_body_relaxed(const char *body, size_t len, struct buf *out)
{
    ssize_t n;

    if (buf_reserve(out, len + 2) == -1 ||
        (n = body_canon(body, len, out->p + out->len)) < 0) {
        if (out->p != NULL)
            out->p[out->len] = '\0';
        return -1;
    }
    out->len += (size_t)n;
    out->p[out->len] = '\0';
    return 0;
}

/*---- the header section ----*/

struct field {
    size_t off;  /* start of the name */
    size_t len;  /* up to, not including, the final CRLF */
    size_t nlen; /* name length */
};

struct fields {
    struct field *v;
    size_t n, cap;
    struct field stack[DKIM_FIELDS_STACK];
};

static void
fields_push(struct fields *fs, size_t off, size_t len, size_t nlen)
{
    if (fs->n == fs->cap) {
        if (fs->v == fs->stack) {
            fs->v = xreallocarray(NULL, fs->cap * 2, sizeof *fs->v);
            memcpy(fs->v, fs->stack, sizeof fs->stack);
        } else {
            fs->v = xreallocarray(fs->v, fs->cap * 2, sizeof *fs->v);
        }
        fs->cap *= 2;
    }
    fs->v[fs->n].off = off;
    fs->v[fs->n].len = len;
    fs->v[fs->n].nlen = nlen;
    fs->n++;
}

/*
 * parse_header - index the header fields of msg; *body gets the offset of
 * the body (after the empty line).  Strict: a field is a name of
 * printable ASCII, a colon, and a value whose line breaks are CRLF
 * followed by WSP.
 */
static int
parse_header(const char *msg, size_t len, struct fields *fs, size_t *body,
             struct err *e)
{
    size_t i = 0;

    for (;;) {
        size_t start = i, nlen;

        if (i + 1 < len && msg[i] == '\r' && msg[i + 1] == '\n') {
            *body = i + 2;
            return 0;
        }
        if (i >= len)
            return err_set(e, EX_DATAERR,
                           "message has no empty line after its header");
        while (i < len && msg[i] != ':') {
            unsigned char c = (unsigned char)msg[i];

            if (c < 33 || c > 126)
                return err_set(e, EX_DATAERR,
                               "malformed header field name at offset %zu",
                               start);
            i++;
        }
        if (i == len || i == start)
            return err_set(e, EX_DATAERR,
                           "malformed header field at offset %zu", start);
        nlen = i - start;
        for (;;) {
            while (i < len && msg[i] != '\r' && msg[i] != '\n')
                i++;
            if (i == len)
                return err_set(e, EX_DATAERR,
                               "message has no empty line after its header");
            if (msg[i] == '\n' || i + 1 == len || msg[i + 1] != '\n')
                return err_set(e, EX_DATAERR,
                               "bare CR or LF in the header at offset %zu", i);
            if (i + 2 < len && (msg[i + 2] == ' ' || msg[i + 2] == '\t')) {
                i += 2; /* folded: the field goes on */
                continue;
            }
            fields_push(fs, start, i - start, nlen);
            i += 2;
            break;
        }
    }
}

/*---- the DKIM-Signature field ----*/

/* A header field being written, folded before a token that would pass
 * DKIM_FOLD columns. */
struct fold {
    struct buf *b;
    size_t col;
    int failed;
};

static void
fold_raw(struct fold *f, const char *p, size_t n)
{
    if (buf_append(f->b, p, n) == -1)
        f->failed = 1;
}

/* fold_tok - append tok, after a space if sep, or after a fold when the
 * token would pass the margin; `need` is the width that must fit. */
static void
fold_tok(struct fold *f, const char *tok, size_t n, int sep, size_t need)
{
    if (f->col > 1 && f->col + (size_t)sep + need > DKIM_FOLD) {
        fold_raw(f, "\r\n\t", 3);
        f->col = 1;
    } else if (sep) {
        fold_raw(f, " ", 1);
        f->col++;
    }
    fold_raw(f, tok, n);
    f->col += n;
}

/* fold_tag - fold_tok of "tag" "value" and the character end (none if
 * 0), without formatting them into a temporary first. */
static void
fold_tag(struct fold *f, int sep, const char *tag, size_t tn, const char *v,
         size_t vn, char end)
{
    size_t w = tn + vn + (end ? 1 : 0);

    fold_tok(f, tag, tn, sep, w);
    fold_raw(f, v, vn);
    if (end)
        fold_raw(f, &end, 1);
    f->col += w - tn;
}

/* write_sig_head - "DKIM-Signature: v=1; ... bh=...; b=" for key k. */
static void
write_sig_head(struct fold *f, const struct dkim_key *k, int64_t t,
               const unsigned *cnt, const char *bh64)
{
    char num[24];
    size_t last = DKIM_NSIGNED - 1, j, d = sizeof num;
    uint64_t u = (uint64_t)t;

    do
        num[--d] = (char)('0' + u % 10);
    while ((u /= 10) != 0);

    fold_raw(f, "DKIM-Signature:", 15);
    f->col = 15;
    fold_tok(f, "v=1;", 4, 1, 4);
    if (k->algo == DKIM_RSA_SHA256)
        fold_tok(f, "a=rsa-sha256;", 13, 1, 13);
    else
        fold_tok(f, "a=ed25519-sha256;", 17, 1, 17);
    fold_tok(f, "c=relaxed/relaxed;", 18, 1, 18);
    fold_tag(f, 1, "d=", 2, k->domain, k->domain_len, ';');
    fold_tag(f, 1, "s=", 2, k->selector, k->selector_len, ';');
    fold_tag(f, 1, "t=", 2, num + d, sizeof num - d, ';');
    for (j = 0; j < DKIM_NSIGNED; j++) {
        const char *name = dkim_signed_headers[j];
        size_t nl = strlen(name);

        for (unsigned r = 0; r <= cnt[j]; r++) {
            int first = j == 0 && r == 0;

            fold_tag(f, first, first ? "h=" : "", first ? 2 : 0, name, nl,
                     j == last && r == cnt[j] ? ';' : ':');
        }
    }
    fold_tag(f, 1, "bh=", 3, bh64, strlen(bh64), ';');
    /* keep the first characters of the value on the b= line */
    fold_tok(f, "b=", 2, 1, 2 + 8);
}

/* write_sig_value - the base64 signature after "b=", folded; FWS inside
 * the value is ignored by verifiers (RFC 6376 3.5, b= tag). */
static void
write_sig_value(struct fold *f, const char *v, size_t n)
{
    while (n > 0) {
        size_t room = f->col < DKIM_FOLD ? DKIM_FOLD - f->col : 0, k;

        if (room == 0) {
            fold_raw(f, "\r\n\t", 3);
            f->col = 1;
            continue;
        }
        k = n < room ? n : room;
        fold_raw(f, v, k);
        f->col += k;
        v += k;
        n -= k;
    }
    fold_raw(f, "\r\n", 2);
}

/* sign_digest - the signature of the SHA-256 digest dg by k. */
static int
sign_digest(const struct dkim_key *k, const unsigned char *dg,
            unsigned char *sig, size_t *siglen, struct err *e)
{
    int ok;

    if (k->algo == DKIM_RSA_SHA256) {
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);

        ok = pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(pc, k->sha256) == 1 &&
             EVP_PKEY_sign(pc, sig, siglen, dg, 32) == 1;
        EVP_PKEY_CTX_free(pc);
    } else {
        /* RFC 8463 3: PureEdDSA over the SHA-256 of the header data */
        if (*siglen < crypto_sign_ed25519_BYTES ||
            crypto_sign_ed25519_detached(sig, NULL, dg, 32, k->ed_sk) != 0)
            return err_set(e, EX_SOFTWARE, "DKIM signing: Ed25519 failed");
        *siglen = crypto_sign_ed25519_BYTES;
        return 0;
    }
    if (!ok)
        return ossl_fail(e, EX_SOFTWARE, "DKIM signing");
    return 0;
}

static int
name_is(const char *msg, const struct field *f, const char *name, size_t nlen)
{
    return f->nlen == nlen && strncasecmp(msg + f->off, name, nlen) == 0;
}

int
dkim_sign(struct dkim_key *const *keys, size_t n, const char *msg, size_t len,
          int64_t t, struct buf *out, struct err *e)
{
    struct fields fs;
    EVP_MD_CTX *hctx = NULL, *kctx = NULL;
    unsigned cnt[DKIM_NSIGNED];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned char sig[DKIM_SIG_MAX];
    char bh64[48], sig64[DKIM_SIG_MAX / 3 * 4 + 8];
    size_t body = 0, base = out->len, i, j;
    ssize_t blen;
    int rc = -1;

    if (n == 0)
        return 0;
    if (t < 0)
        return err_set(e, EX_SOFTWARE, "DKIM: negative signing time");
    fs.v = fs.stack;
    fs.n = 0;
    fs.cap = DKIM_FIELDS_STACK;
    if (parse_header(msg, len, &fs, &body, e) == -1)
        goto done;

    hctx = EVP_MD_CTX_new();
    kctx = EVP_MD_CTX_new();
    if (hctx == NULL || kctx == NULL) {
        ossl_fail(e, EX_SOFTWARE, "DKIM");
        goto done;
    }

    /* the body hash, once for all keys: the canonical form goes into the
     * spare room of out (the signed header fields use it next) */
    if (buf_reserve(out, len - body + 2) == -1) {
        err_set(e, EX_DATAERR, "DKIM: output buffer limit reached");
        goto done;
    }
    blen = body_canon(msg + body, len - body, out->p + out->len);
    if (blen == -1) {
        err_set(e, EX_DATAERR, "bare CR or LF in the message body");
        goto done;
    }
    if (blen == -2) {
        err_set(e, EX_DATAERR,
                "the body's last line ends in white space without CRLF "
                "(verifiers disagree on it); end the body with CRLF");
        goto done;
    }
    if (EVP_DigestInit_ex2(hctx, keys[0]->sha256, NULL) != 1 ||
        EVP_DigestUpdate(hctx, out->p + out->len, (size_t)blen) != 1 ||
        EVP_DigestFinal_ex(hctx, digest, NULL) != 1) {
        ossl_fail(e, EX_SOFTWARE, "DKIM body hash");
        goto done;
    }
    EVP_EncodeBlock((unsigned char *)bh64, digest, 32);

    /* the signed header fields, bottom-up per name, hashed once */
    if (EVP_DigestInit_ex2(hctx, keys[0]->sha256, NULL) != 1) {
        ossl_fail(e, EX_SOFTWARE, "DKIM header hash");
        goto done;
    }
    for (j = 0; j < DKIM_NSIGNED; j++) {
        const char *name = dkim_signed_headers[j];
        size_t nlen = strlen(name);

        cnt[j] = 0;
        for (i = fs.n; i-- > 0;) {
            const struct field *f = &fs.v[i];
            size_t clen;

            if (!name_is(msg, f, name, nlen))
                continue;
            if (++cnt[j] > DKIM_REPEAT_MAX) {
                err_set(e, EX_DATAERR,
                        "more than %d %s fields; refusing to sign",
                        DKIM_REPEAT_MAX, name);
                goto done;
            }
            if (buf_reserve(out, f->len + 2) == -1) {
                err_set(e, EX_DATAERR, "DKIM: output buffer limit reached");
                goto done;
            }
            clen = field_canon(msg + f->off, f->len, out->p + out->len);
            if (EVP_DigestUpdate(hctx, out->p + out->len, clen) != 1) {
                ossl_fail(e, EX_SOFTWARE, "DKIM header hash");
                goto done;
            }
        }
    }

    for (size_t ki = 0; ki < n; ki++) {
        const struct dkim_key *k = keys[ki];
        struct fold f = {out, 0, 0};
        size_t start = out->len, end, clen, siglen = sizeof sig;

        write_sig_head(&f, k, t, cnt, bh64);
        end = out->len;
        if (f.failed || buf_reserve(out, end - start + 2) == -1) {
            err_set(e, EX_DATAERR, "DKIM: output buffer limit reached");
            goto done;
        }
        /* RFC 6376 3.7: the field itself, b= empty, without its CRLF */
        clen = field_canon(out->p + start, end - start, out->p + end) - 2;
        if (EVP_MD_CTX_copy_ex(kctx, hctx) != 1 ||
            EVP_DigestUpdate(kctx, out->p + end, clen) != 1 ||
            EVP_DigestFinal_ex(kctx, digest, NULL) != 1) {
            ossl_fail(e, EX_SOFTWARE, "DKIM header hash");
            goto done;
        }
        out->p[end] = '\0';
        if (sign_digest(k, digest, sig, &siglen, e) == -1)
            goto done;
        write_sig_value(
            &f, sig64,
            (size_t)EVP_EncodeBlock((unsigned char *)sig64, sig, (int)siglen));
        if (f.failed) {
            err_set(e, EX_DATAERR, "DKIM: output buffer limit reached");
            goto done;
        }
    }
    rc = 0;
done:
    if (rc == -1) {
        out->len = base;
        if (out->p != NULL)
            out->p[base] = '\0';
    }
    if (fs.v != fs.stack)
        free(fs.v);
    EVP_MD_CTX_free(hctx);
    EVP_MD_CTX_free(kctx);
    return rc;
}

/*---- key generation ----*/

/* txt_record - S._domainkey.D. IN TXT ( "v=DKIM1; k=K; p=..." ... ) */
static int
txt_record(struct buf *dns, const char *selector, const char *domain,
           const char *kt, const char *p64)
{
    struct buf v;
    size_t off;
    int rc = 0;

    buf_init(&v, 0);
    if (buf_printf(&v, "v=DKIM1; k=%s; p=%s", kt, p64) == -1 ||
        buf_printf(dns, "%s._domainkey.%s. IN TXT (", selector, domain) == -1)
        rc = -1;
    for (off = 0; rc == 0 && off < v.len; off += DKIM_TXT_STRING_MAX) {
        size_t k = v.len - off;

        if (k > DKIM_TXT_STRING_MAX)
            k = DKIM_TXT_STRING_MAX;
        if (buf_printf(dns, " \"%.*s\"", (int)k, v.p + off) == -1)
            rc = -1;
    }
    if (rc == 0 && buf_puts(dns, " )\n") == -1)
        rc = -1;
    buf_free(&v);
    return rc;
}

/* public_b64 - the p= value: base64 of the DER SubjectPublicKeyInfo for
 * RSA (RFC 6376 3.6.1), of the raw 32-byte key for Ed25519 (RFC 8463 4). */
static char *
public_b64(EVP_PKEY *pk, enum dkim_algo algo, struct err *e)
{
    unsigned char raw[32], *der = NULL;
    const unsigned char *src = raw;
    size_t n = sizeof raw;
    char *out;

    if (algo == DKIM_RSA_SHA256) {
        int dn = i2d_PUBKEY(pk, &der);

        if (dn <= 0) {
            ossl_fail(e, EX_SOFTWARE, "DKIM public key");
            return NULL;
        }
        src = der;
        n = (size_t)dn;
    } else if (EVP_PKEY_get_raw_public_key(pk, raw, &n) != 1 || n != 32) {
        ossl_fail(e, EX_SOFTWARE, "DKIM public key");
        return NULL;
    }
    out = xmalloc(n / 3 * 4 + 8);
    EVP_EncodeBlock((unsigned char *)out, src, (int)n);
    OPENSSL_free(der);
    return out;
}

/* write_new - write n bytes to path with mode 0600 through a temporary
 * file, and link it into place only if path does not exist. */
static int
write_new(const char *path, const char *p, size_t n, struct err *e)
{
    struct fs_out o;
    struct stat st;
    int rc = 0;

    if (fs_out_open(&o, path, 0600, e) == -1)
        return -1;
    setvbuf(o.f, NULL, _IONBF, 0); /* no copy of the key in a stdio buffer */
    if (fwrite(p, 1, n, o.f) != n || fflush(o.f) == EOF ||
        fsync(fileno(o.f)) == -1) {
        err_set(e, EX_CANTCREAT, "%s: %s", path, strerror(errno));
        fs_out_abort(&o);
        return -1;
    }
    if (fclose(o.f) == EOF) {
        o.f = NULL;
        err_set(e, EX_CANTCREAT, "%s: %s", path, strerror(errno));
        fs_out_abort(&o);
        return -1;
    }
    o.f = NULL;
    /* link(2) fails on an existing name, where rename(2) would replace
     * it: nobody's key is ever overwritten, even in a race */
    if (link(o.tmp, path) == -1) {
        if (errno == EEXIST) {
            rc = err_set(e, EX_CANTCREAT, "%s: exists; not overwritten", path);
        } else if (lstat(path, &st) == 0) {
            rc = err_set(e, EX_CANTCREAT, "%s: exists; not overwritten", path);
        } else if (rename(o.tmp, path) == -1) {
            /* a file system without hard links */
            rc = err_set(e, EX_CANTCREAT, "%s: %s", path, strerror(errno));
        }
    }
    fs_out_abort(&o); /* removes the temporary name */
    return rc;
}

int
dkim_keygen(enum dkim_algo algo, int bits, const char *path, const char *domain,
            const char *selector, struct buf *dns, struct err *e)
{
    struct stat st;
    EVP_PKEY *pk = NULL;
    BIO *mem = NULL;
    char *pem = NULL, *p64 = NULL;
    long pemlen;
    int rc = -1;

    if (!dkim_name_ok(domain))
        return name_error(e, EX_USAGE, "domain", domain);
    if (!dkim_name_ok(selector))
        return name_error(e, EX_USAGE, "selector", selector);
    if (algo == DKIM_RSA_SHA256 &&
        (bits < DKIM_RSA_MIN_BITS || bits > DKIM_RSA_MAX_BITS))
        return err_set(e, EX_USAGE,
                       "RSA keys for DKIM have %d to %d bits (2048 "
                       "recommended), not %d",
                       DKIM_RSA_MIN_BITS, DKIM_RSA_MAX_BITS, bits);
    /* fail before the (slow) generation; write_new checks again */
    if (lstat(path, &st) == 0)
        return err_set(e, EX_CANTCREAT, "%s: exists; not overwritten", path);

    if (algo == DKIM_RSA_SHA256)
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    else
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (pk == NULL) {
        ossl_fail(e, EX_SOFTWARE, "DKIM key generation");
        goto done;
    }
    /* a secure-memory BIO wipes the PEM text when freed */
    mem = BIO_new(BIO_s_secmem());
    if (mem == NULL ||
        PEM_write_bio_PrivateKey(mem, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
        (pemlen = BIO_get_mem_data(mem, &pem)) <= 0) {
        ossl_fail(e, EX_SOFTWARE, "DKIM key encoding");
        goto done;
    }
    if ((p64 = public_b64(pk, algo, e)) == NULL)
        goto done;
    if (write_new(path, pem, (size_t)pemlen, e) == -1)
        goto done;
    if (txt_record(dns, selector, domain,
                   algo == DKIM_RSA_SHA256 ? "rsa" : "ed25519", p64) == -1) {
        err_set(e, EX_SOFTWARE, "DKIM: DNS record too large for the buffer");
        goto done;
    }
    rc = 0;
done:
    BIO_free(mem);
    EVP_PKEY_free(pk);
    free(p64);
    return rc;
}
