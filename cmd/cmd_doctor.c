/* SPDX-License-Identifier: ISC */
/*
 * cmd_doctor.c - campaign doctor: check the configuration, connect to
 * each relay (TLS, capabilities, AUTH), load the DKIM keys, check what
 * bulk senders are required to have (one-click unsubscribe, DKIM aligned
 * with From, TLS to the relay), and say what to fix.
 */
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../engine/config.h"
#include "../engine/dkim.h"
#include "../engine/log.h"
#include "../engine/mime.h"
#include "../engine/relay.h"
#include "../engine/smtp.h"
#include "../engine/track.h"
#include "../engine/xalloc.h"
#include "cmd.h"
#include "mailjob.h"

struct probe {
    int ready;
    int closed;
    enum smtp_fail fail;
    struct err e;
};

static void
probe_ready(struct smtp_client *c, void *arg)
{
    struct probe *p = arg;

    p->ready = 1;
    smtp_client_quit(c);
}

static void
probe_result(struct smtp_client *c, const struct smtp_result *r, void *arg)
{
    (void)c;
    (void)r;
    (void)arg;
}

static void
probe_closed(struct smtp_client *c, enum smtp_fail fail, const struct err *e,
             void *arg)
{
    struct probe *p = arg;

    (void)c;
    p->closed = 1;
    p->fail = fail;
    if (e)
        p->e = *e;
}

static int problems, unreachable;

static void ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
ok(const char *fmt, ...)
{
    va_list ap;

    printf("  ok   ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void
fix(const char *fmt, ...)
{
    va_list ap;

    problems++;
    printf("  FIX  ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* each wait of the probe at most this long (s): a relay that accepts and
 * never greets must not hold doctor for its 300 s greeting timeout */
#define DOCTOR_TIMEOUT 10

static void
cap_timeout(int *t)
{
    if (*t <= 0 || *t > DOCTOR_TIMEOUT)
        *t = DOCTOR_TIMEOUT;
}

/* The active contacts whose address needs SMTPUTF8 (RFC 6531), and one
 * of them: each relay is checked for it. */
static long utf8_contacts;
static char utf8_example[EMAIL_MAX + 1];

/* relay - connect, go through TLS and AUTH, report the capabilities. */
static void
relay(const struct config_relay *r, int transcript)
{
    struct config_relay rr = *r;
    struct smtp_params sp;
    struct smtp_callbacks cb;
    struct smtp_client *c;
    struct probe p;
    struct err e;
    char *pw = NULL;
    int64_t start = relay_now_ms();

    printf("relay %s%s%s:%d (tls %s%s)\n", *r->name ? r->name : "",
           *r->name ? " " : "", r->host, r->port,
           r->tls == CONFIG_TLS_STARTTLS ? "starttls"
           : r->tls == CONFIG_TLS_SMTPS  ? "smtps"
                                         : "none",
           r->tls != CONFIG_TLS_NONE && !r->tls_verify ? ", not verified" : "");
    int loopback = strcmp(r->host, "127.0.0.1") == 0 ||
                   strcmp(r->host, "::1") == 0 ||
                   strcmp(r->host, "localhost") == 0;
    if (r->tls == CONFIG_TLS_NONE && loopback)
        printf("  note tls = none on this host's loopback: fine for a local "
               "MTA or a test sink\n");
    else if (r->tls == CONFIG_TLS_NONE)
        fix("tls = none: mail and passwords cross the network in clear; use "
            "starttls (587) or smtps (465) unless the relay is on this host");
    else if (!r->tls_verify)
        fix("tls_verify = off: anyone on the path can pretend to be the "
            "relay; give ca_file instead");
    if (mailjob_relay_password(r, &pw, &e) == -1)
        fix("%s", e.msg);
    memset(&sp, 0, sizeof sp);
    memset(&p, 0, sizeof p);
    /* the probe's own short timeouts */
    cap_timeout(&rr.timeout_connect);
    cap_timeout(&rr.timeout_greeting);
    cap_timeout(&rr.timeout_mail);
    cap_timeout(&rr.timeout_rcpt);
    cap_timeout(&rr.timeout_data);
    cap_timeout(&rr.timeout_data_block);
    cap_timeout(&rr.timeout_dot);
    sp.relay = &rr;
    sp.password = pw;
    sp.transcript = transcript;
    cb.ready = probe_ready;
    cb.result = probe_result;
    cb.closed = probe_closed;
    cb.arg = &p;
    err_clear(&e);
    if ((c = smtp_client_new(&sp, &cb, relay_now_ms(), &e)) == NULL) {
        fix("cannot connect: %s", e.msg);
        unreachable++;
        goto out;
    }
    /* bounded: the client's own timeouts end every wait */
    while (!p.closed && relay_now_ms() - start < 120000) {
        struct pollfd pfd;
        int64_t now = relay_now_ms(), d = smtp_client_deadline(c);
        int timeout = d < 0 ? 1000 : d > now ? (int)(d - now) : 0;
        pfd.fd = smtp_client_fd(c);
        pfd.events = smtp_client_events(c);
        pfd.revents = 0;
        int n = poll(&pfd, pfd.fd >= 0 ? 1 : 0, timeout);
        smtp_client_handle(c, n > 0 ? pfd.revents : 0, relay_now_ms());
    }
    {
        const struct smtp_caps *caps = smtp_client_caps(c);
        if (p.ready) {
            ok("connected in %lld ms%s%s%s%s",
               (long long)(relay_now_ms() - start),
               caps->tls_active ? ", " : "",
               caps->tls_active ? caps->tls_version : "",
               caps->tls_active ? " " : "",
               caps->tls_active ? caps->tls_cipher : "");
            printf("       capabilities:%s%s%s%s%s%s%s",
                   caps->pipelining ? " PIPELINING" : "",
                   caps->eightbitmime ? " 8BITMIME" : "",
                   caps->smtputf8 ? " SMTPUTF8" : "",
                   caps->enhancedstatuscodes ? " ENHANCEDSTATUSCODES" : "",
                   caps->starttls ? " STARTTLS" : "",
                   caps->auth_plain ? " AUTH=PLAIN" : "",
                   caps->auth_login ? " AUTH=LOGIN" : "");
            if (caps->size > 0)
                printf(" SIZE=%ld", caps->size);
            putchar('\n');
            if (!caps->pipelining)
                printf("       note: no PIPELINING: each message costs "
                       "more round trips\n");
            if (utf8_contacts > 0 && caps->smtputf8)
                ok("%ld contact%s SMTPUTF8 (e.g. %s); relay %s offers it",
                   utf8_contacts, utf8_contacts == 1 ? " needs" : "s need",
                   utf8_example, r->host);
            else if (utf8_contacts > 0)
                fix("%ld contact%s SMTPUTF8 (e.g. %s); relay %s does not "
                    "offer it: their messages are held, not sent, until a "
                    "relay that does sends them",
                    utf8_contacts, utf8_contacts == 1 ? " needs" : "s need",
                    utf8_example, r->host);
            if (pw)
                ok("AUTH accepted for %s", r->username);
            /* strict relays refuse a name that is not fully qualified
             * (Postfix reject_non_fqdn_helo_hostname: 504 5.5.2) */
            if (r->helo != NULL &&
                (strchr(r->helo, '.') != NULL || r->helo[0] == '['))
                ok("EHLO %s ([relay] helo)", smtp_client_ehlo(c));
            else if (r->helo != NULL)
                /* RFC 5321 4.1.1.1: a primary host name, or else an
                 * address literal */
                fix("EHLO %s ([relay] helo) is neither a fully-qualified "
                    "name nor an address literal: a relay that checks "
                    "(Postfix reject_non_fqdn_helo_hostname) refuses every "
                    "recipient; set helo in [relay] to a name that resolves "
                    "to this host, or remove it",
                    smtp_client_ehlo(c));
            else if (*smtp_host_fqdn() != '\0')
                ok("EHLO %s (this host's fully-qualified name)",
                   smtp_client_ehlo(c));
            else
                printf("  note EHLO %s: this host has no fully-qualified "
                       "name, so campaign gives its address; a relay that "
                       "wants a name refuses it: set helo in [relay] to a "
                       "name that resolves to this host\n",
                       smtp_client_ehlo(c));
        } else {
            fix("%s: %s", smtp_fail_str(p.fail),
                p.e.msg[0] ? p.e.msg : "connection failed");
            if (p.fail == SMTP_FAIL_CONN || p.fail == SMTP_FAIL_REFUSED)
                unreachable++;
        }
    }
    smtp_client_free(c);
out:
    if (pw)
        freezero(pw, strlen(pw));
}

int
cmd_doctor(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct config cfg;
    struct err e;
    struct stat sb;
    struct mime_address from;
    struct buf fb;
    int c;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return cmd_usage("doctor", stdout, 0);
        return cmd_usage("doctor", stderr, EX_USAGE);
    }
    if (optind != argc)
        return cmd_usage("doctor", stderr, EX_USAGE);
    err_clear(&e);
    problems = unreachable = 0;
    buf_init(&fb, 0);
    printf("configuration %s\n", ctx->config_path);
    if (cmd_config_load(ctx, &cfg, &e) == -1) {
        fix("%s", e.msg);
        config_free(&cfg);
        return e.kind;
    }
    if (!cfg.exists)
        fix("no %s: run campaign init", ctx->config_path);
    else if (stat(ctx->config_path, &sb) == 0 && (sb.st_mode & 077))
        printf("  note %s is readable by others (fine while it holds no "
               "secret)\n",
               ctx->config_path);
    utf8_contacts = 0;
    if (stat(ctx->db_path, &sb) == -1)
        fix("no database %s: run campaign init", ctx->db_path);
    else {
        struct store *st;
        int code;
        ok("database %s", ctx->db_path);
        if ((st = cmd_open(ctx, &code)) == NULL)
            fix("database %s cannot be opened", ctx->db_path);
        else if (store_contacts_smtputf8(st, &utf8_contacts, utf8_example,
                                         sizeof utf8_example, &e) == -1)
            fix("%s", e.msg);
        store_close(st);
    }

    printf("sender\n");
    if (cfg.sender.from == NULL ||
        mime_parse_address(cfg.sender.from, &from, &fb) == -1) {
        fix("[sender] from is missing or not an address (or give From: in "
            "each template)");
        from.addr = NULL;
    } else {
        ok("from %s", cfg.sender.from);
    }
    if (cfg.sender.list_id == NULL)
        fix("[sender] list_id is missing: List-Id (RFC 2919) lets "
            "receivers and Gmail's feedback loop group your mail");
    else
        ok("list_id %s", cfg.sender.list_id);
    if (cfg.sender.bounce_domain == NULL)
        fix("[sender] bounce_domain is missing: without VERP "
            "(bounces+TOKEN@domain) bounces cannot be matched reliably");
    else
        ok("VERP return path bounces+TOKEN@%s", cfg.sender.bounce_domain);

    printf("one-click unsubscribe (RFC 8058; required by Gmail and Yahoo "
           "for bulk mail)\n");
    {
        char *secret = mailjob_secret_path(ctx, &cfg);
        struct track_key k;
        if (cfg.tracking.base_url == NULL)
            fix("[tracking] base_url is missing: no https "
                "List-Unsubscribe, so no one-click unsubscribe");
        else if (strncmp(cfg.tracking.base_url, "https://", 8) != 0)
            printf("  note base_url %s is http on this machine's loopback: "
                   "fine for a test server; mail needs https (RFC 8058), "
                   "so List-Unsubscribe-Post is not written\n",
                   cfg.tracking.base_url);
        else
            ok("List-Unsubscribe <%s/u/...> with List-Unsubscribe-Post",
               cfg.tracking.base_url);
        if (track_secret_load(secret, &k, &e) == -1)
            fix("%s", e.msg);
        else
            ok("tracking secret %s", secret);
        explicit_bzero(&k, sizeof k);
        free(secret);
    }

    printf("DKIM\n");
    if (cfg.ndkim == 0)
        fix("no [dkim] key: unsigned bulk mail is rejected or junked by "
            "the large mailbox providers (campaign dkim keygen)");
    for (size_t i = 0; i < cfg.ndkim; i++) {
        struct config_dkim *d = &cfg.dkim[i];
        struct dkim_key *k =
            dkim_key_load(d->key_file, d->domain, d->selector, &e);
        if (k == NULL) {
            fix("%s", e.msg);
            continue;
        }
        ok("%s key %s for d=%s s=%s",
           dkim_key_algo(k) == DKIM_RSA_SHA256 ? "rsa-sha256"
                                               : "ed25519-sha256",
           d->key_file, d->domain, d->selector);
        dkim_key_free(k);
        if (from.addr) {
            const char *fd = strrchr(from.addr, '@');
            int aligned = fd && mailjob_aligned(fd + 1, d->domain);
            if (!aligned)
                fix("d=%s is not aligned with the From domain %s: DMARC "
                    "fails",
                    d->domain, fd ? fd + 1 : "?");
        }
        printf("       publish: %s._domainkey.%s TXT (see campaign dkim "
               "keygen)\n",
               d->selector, d->domain);
    }

    printf("relays\n");
    if (cfg.nrelay == 0)
        fix("no [relay] section: set host, port, tls, username, "
            "password_env");
    for (size_t i = 0; i < cfg.nrelay; i++)
        relay(&cfg.relay[i], ctx->verbose);

    if (problems == 0)
        printf("\nall checks passed\n");
    else
        printf("\n%d thing%s to fix\n", problems, problems == 1 ? "" : "s");
    config_free(&cfg);
    buf_free(&fb);
    return unreachable ? EX_UNAVAILABLE : problems ? EX_CONFIG : 0;
}
