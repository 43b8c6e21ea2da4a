/* SPDX-License-Identifier: ISC */
/*
 * fetch.c - the bounce mailbox over IMAP with libcurl (see fetch.h).
 *
 * One easy handle for the whole run, so that libcurl keeps the one
 * connection and its login between the commands: the search (a custom
 * request; the mailbox in the URL is SELECTed first), then for each UID
 * the message (the URL's ";UID=N", which libcurl sends as UID FETCH
 * BODY[]), then the custom request that marks it processed.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "fetch.h"
#include "xalloc.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_start(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
    char *p;
    size_t len, cap, max;
};

static size_t
sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb, keep = n;

    if (s->len + keep > s->max)
        keep = s->max > s->len ? s->max - s->len : 0;
    if (keep > 0) {
        if (s->len + keep + 1 > s->cap) {
            s->cap = (s->len + keep + 1) * 2;
            if (s->cap > s->max + 1)
                s->cap = s->max + 1;
            s->p = xrealloc(s->p, s->cap);
        }
        memcpy(s->p + s->len, data, keep);
        s->len += keep;
        s->p[s->len] = '\0';
    }
    return n;
}

struct session {
    CURL *c;
    const struct fetch_params *p;
    char errbuf[CURL_ERROR_SIZE];
    char said[300]; /* the server's last NO or BAD, for errors */
    char *base;     /* the URL without a trailing slash */
};

/*
 * heard - libcurl's debug callback: keeps the server's last tagged NO or
 * BAD line (what it said when it refused).  Only what came in is read:
 * what went out holds the password.
 */
static int
heard(CURL *c, curl_infotype type, char *data, size_t n, void *arg)
{
    struct session *s = arg;
    const char *sp;
    size_t k;

    (void)c;
    if (type != CURLINFO_HEADER_IN || n < 4 || data[0] == '*')
        return 0;
    sp = memchr(data, ' ', n);
    if (sp == NULL || (size_t)(sp - data) + 4 > n ||
        (strncmp(sp + 1, "NO", 2) != 0 && strncmp(sp + 1, "BAD", 3) != 0))
        return 0;
    k = n - (size_t)(sp + 1 - data);
    while (k > 0 && (sp[k] == '\r' || sp[k] == '\n'))
        k--;
    if (k >= sizeof s->said)
        k = sizeof s->said - 1;
    memcpy(s->said, sp + 1, k);
    s->said[k] = '\0';
    for (char *q = s->said; *q; q++)
        if ((unsigned char)*q < ' ' || *q == 0x7f)
            *q = ' ';
    return 0;
}

/* fail - e from a curl result, naming the server and what was asked */
static int
fail(struct session *s, CURLcode rc, const char *what, struct err *e)
{
    const char *why = s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc);
    int kind = EX_UNAVAILABLE;
    char both[CURL_ERROR_SIZE + 320];

    if (s->said[0] != '\0') {
        snprintf(both, sizeof both, "%s (the server said: %s)", why, s->said);
        why = both;
    }

    if (rc == CURLE_LOGIN_DENIED)
        kind = EX_CONFIG;
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
        return err_set(e, kind,
                       "%s: %s: %s (check [bounces] ca_file, or "
                       "tls_verify)",
                       s->p->url, what, why);
    if (rc == CURLE_LOGIN_DENIED)
        return err_set(e, kind,
                       "%s: %s: the server refused the login: %s "
                       "(check [bounces] username and password_env or "
                       "password_file)",
                       s->p->url, what, why);
    return err_set(e, kind, "%s: %s: %s", s->p->url, what, why);
}

/* perform - url with the custom request req (NULL: none), the answer in
 * out */
static CURLcode
perform(struct session *s, const char *url, const char *req, struct sink *out)
{
    s->errbuf[0] = '\0';
    s->said[0] = '\0';
    curl_easy_setopt(s->c, CURLOPT_URL, url);
    curl_easy_setopt(s->c, CURLOPT_CUSTOMREQUEST, req);
    curl_easy_setopt(s->c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(s->c, CURLOPT_WRITEDATA, out);
    return curl_easy_perform(s->c);
}

/* uids - the numbers of "* SEARCH 1 2 3" lines, ascending */
static long *
uids(const char *text, size_t *n)
{
    long *v = NULL;
    size_t cap = 0;
    const char *p = text;

    *n = 0;
    while (p != NULL && (p = strstr(p, "* SEARCH")) != NULL) {
        p += 8;
        while (*p == ' ' || (*p >= '0' && *p <= '9')) {
            char *end;
            long u;
            if (*p == ' ') {
                p++;
                continue;
            }
            u = strtol(p, &end, 10);
            if (u > 0) {
                if (*n == cap) {
                    cap = cap ? cap * 2 : 64;
                    v = xreallocarray(v, cap, sizeof *v);
                }
                v[(*n)++] = u;
            }
            p = end;
        }
    }
    return v;
}

static int
cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* quoted - s as an IMAP quoted string into out */
static void
quoted(const char *s, char *out, size_t size)
{
    size_t k = 0;

    if (size < 3)
        return;
    out[k++] = '"';
    for (; *s && k + 3 < size; s++) {
        if (*s == '"' || *s == '\\')
            out[k++] = '\\';
        out[k++] = *s;
    }
    out[k++] = '"';
    out[k] = '\0';
}

/* expunge - this message alone (UID EXPUNGE, RFC 4315 UIDPLUS); a
 * server without it gets a plain EXPUNGE, which also takes what other
 * clients flagged \Deleted */
static CURLcode
expunge(struct session *s, long uid, struct sink *out)
{
    char req[64];
    CURLcode rc;

    snprintf(req, sizeof req, "UID EXPUNGE %ld", uid);
    if ((rc = perform(s, s->base, req, out)) == CURLE_OK)
        return rc;
    return perform(s, s->base, "EXPUNGE", out);
}

int
fetch_run(const struct fetch_params *p, fetch_cb cb, void *arg, long *n,
          struct err *e)
{
    struct session s;
    struct sink box = {NULL, 0, 0, 1u << 24}, msg;
    const char *processed = p->processed ? p->processed : "move:Processed";
    char folder[512] = "", req[700];
    long *list = NULL;
    size_t nlist = 0;
    CURLcode rc;
    int ret = -1, seen = strcmp(processed, "seen") == 0,
        del = strcmp(processed, "delete") == 0, moved = 0;

    *n = 0;
    pthread_once(&curl_once, curl_start);
    memset(&s, 0, sizeof s);
    s.p = p;
    if ((s.c = curl_easy_init()) == NULL)
        return err_set(e, EX_SOFTWARE, "libcurl: cannot start");
    s.base = xstrdup(p->url);
    while (strlen(s.base) > 0 && s.base[strlen(s.base) - 1] == '/')
        s.base[strlen(s.base) - 1] = '\0';
    curl_easy_setopt(s.c, CURLOPT_ERRORBUFFER, s.errbuf);
    /* the debug callback sees the dialogue; nothing is printed */
    curl_easy_setopt(s.c, CURLOPT_DEBUGFUNCTION, heard);
    curl_easy_setopt(s.c, CURLOPT_DEBUGDATA, &s);
    curl_easy_setopt(s.c, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(s.c, CURLOPT_USERNAME, p->username ? p->username : "");
    curl_easy_setopt(s.c, CURLOPT_PASSWORD, p->password ? p->password : "");
    curl_easy_setopt(s.c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    curl_easy_setopt(s.c, CURLOPT_SSL_VERIFYPEER, p->tls_verify ? 1L : 0L);
    curl_easy_setopt(s.c, CURLOPT_SSL_VERIFYHOST, p->tls_verify ? 2L : 0L);
    if (p->ca_file != NULL)
        curl_easy_setopt(s.c, CURLOPT_CAINFO, p->ca_file);
    curl_easy_setopt(s.c, CURLOPT_CONNECTTIMEOUT,
                     (long)(p->timeout > 0 ? p->timeout : 60));
    curl_easy_setopt(s.c, CURLOPT_TIMEOUT,
                     (long)(p->timeout > 0 ? p->timeout : 60) * 5);
    curl_easy_setopt(s.c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s.c, CURLOPT_PROTOCOLS_STR, "imap,imaps");

    if (strncmp(processed, "move:", 5) == 0)
        quoted(processed + 5, folder, sizeof folder);

    /* the messages to read: all of them (what was read has been moved or
     * deleted), or those not \Seen */
    rc = perform(&s, s.base, seen ? "UID SEARCH UNSEEN" : "UID SEARCH ALL",
                 &box);
    if (rc != CURLE_OK) {
        fail(&s, rc, "search", e);
        goto out;
    }
    list = uids(box.p ? box.p : "", &nlist);
    if (nlist > 1)
        qsort(list, nlist, sizeof *list, cmp_long);
    if (folder[0] != '\0' && nlist > 0) {
        /* the folder exists, or is made; "already exists" is no error */
        struct sink tmp = {NULL, 0, 0, 1u << 16};
        snprintf(req, sizeof req, "CREATE %s", folder);
        (void)perform(&s, s.base, req, &tmp);
        free(tmp.p);
    }
    for (size_t i = 0; i < nlist; i++) {
        char url[1200], where[1200];
        struct sink done = {NULL, 0, 0, 1u << 16};
        int crc;

        memset(&msg, 0, sizeof msg);
        msg.max = p->max_bytes ? p->max_bytes : (4u << 20);
        snprintf(url, sizeof url, "%s/;UID=%ld", s.base, list[i]);
        snprintf(where, sizeof where, "%s UID %ld", s.base, list[i]);
        rc = perform(&s, url, NULL, &msg);
        if (rc != CURLE_OK) {
            free(msg.p);
            fail(&s, rc, "fetch", e);
            goto out;
        }
        (*n)++;
        if ((crc = cb(msg.p ? msg.p : "", msg.len, where, arg, e)) != 0) {
            free(msg.p);
            /* libcurl fetched BODY[], which set \Seen: a message not
             * recorded must be found unseen by the next run */
            if (seen) {
                struct sink tmp = {NULL, 0, 0, 1u << 16};
                snprintf(req, sizeof req,
                         "UID STORE %ld -FLAGS.SILENT (\\Seen)", list[i]);
                (void)perform(&s, s.base, req, &tmp);
                free(tmp.p);
            }
            if (crc == -1)
                goto out;
            continue; /* not recorded: left as it was */
        }
        free(msg.p);
        if (folder[0] != '\0')
            snprintf(req, sizeof req, "UID MOVE %ld %s", list[i], folder);
        else
            snprintf(req, sizeof req, "UID STORE %ld +FLAGS.SILENT (%s)",
                     list[i], del ? "\\Deleted" : "\\Seen");
        rc = perform(&s, s.base, req, &done);
        if (rc != CURLE_OK && folder[0] != '\0') {
            /* no MOVE (RFC 6851) on this server: copy, then delete */
            snprintf(req, sizeof req, "UID COPY %ld %s", list[i], folder);
            rc = perform(&s, s.base, req, &done);
            if (rc == CURLE_OK) {
                snprintf(req, sizeof req,
                         "UID STORE %ld +FLAGS.SILENT (\\Deleted)", list[i]);
                rc = perform(&s, s.base, req, &done);
                moved = 1;
            }
        }
        if (rc == CURLE_OK && (del || moved))
            rc = expunge(&s, list[i], &done);
        free(done.p);
        if (rc != CURLE_OK) {
            fail(&s, rc, "mark a message processed", e);
            goto out;
        }
    }
    ret = 0;
out:
    free(box.p);
    free(list);
    free(s.base);
    curl_easy_cleanup(s.c);
    return ret;
}
