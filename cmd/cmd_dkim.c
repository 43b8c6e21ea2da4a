/* SPDX-License-Identifier: ISC */
/*
 * cmd_dkim.c - campaign dkim keygen: a signing key and its DNS record.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/buf.h"
#include "../engine/dkim.h"
#include "../engine/log.h"
#include "../engine/xalloc.h"
#include "cmd.h"

#define NAME "dkim keygen"

int
cmd_dkim_keygen(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"domain", required_argument, NULL, 'd'},
        {"selector", required_argument, NULL, 's'},
        {"algo", required_argument, NULL, 'a'},
        {"bits", required_argument, NULL, 'b'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *domain = NULL, *selector = NULL, *out = NULL;
    enum dkim_algo algo = DKIM_RSA_SHA256;
    char *path = NULL, *end;
    struct buf dns;
    struct err e;
    long bits = 2048;
    int c, have_bits = 0, code = 0;

    (void)ctx;
    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            domain = optarg;
            break;
        case 's':
            selector = optarg;
            break;
        case 'a':
            if (strcmp(optarg, "rsa") == 0 || strcmp(optarg, "rsa-sha256") == 0)
                algo = DKIM_RSA_SHA256;
            else if (strcmp(optarg, "ed25519") == 0 ||
                     strcmp(optarg, "ed25519-sha256") == 0)
                algo = DKIM_ED25519_SHA256;
            else {
                fprintf(stderr, "campaign: --algo is rsa or ed25519\n");
                return cmd_usage(NAME, stderr, EX_USAGE);
            }
            break;
        case 'b':
            bits = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || bits < 1024 ||
                bits > 16384) {
                fprintf(stderr, "campaign: --bits is 1024 to 16384 "
                                "(2048 recommended)\n");
                return cmd_usage(NAME, stderr, EX_USAGE);
            }
            have_bits = 1;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            return cmd_usage(NAME, stdout, 0);
        default:
            return cmd_usage(NAME, stderr, EX_USAGE);
        }
    }
    if (optind != argc || domain == NULL || selector == NULL)
        return cmd_usage(NAME, stderr, EX_USAGE);
    if (have_bits && algo == DKIM_ED25519_SHA256) {
        fprintf(stderr, "campaign: --bits applies to RSA keys only\n");
        return cmd_usage(NAME, stderr, EX_USAGE);
    }
    if (have_bits && bits < 2048)
        log_warnx("warning: a %ld-bit RSA key is weak: RFC 8301 requires "
                  "verifiers to accept 1024 bits at least and Gmail and "
                  "Yahoo ask for 2048; use --bits 2048 or more",
                  bits);
    if (!dkim_name_ok(domain) || !dkim_name_ok(selector)) {
        fprintf(stderr,
                "campaign: --%s must be a DNS name (letters, "
                "digits, '-' and '_' in dot-separated labels)\n",
                dkim_name_ok(domain) ? "selector" : "domain");
        return EX_USAGE;
    }
    if (out == NULL)
        out = path = xasprintf("%s.%s.key", selector, domain);

    buf_init(&dns, 0);
    err_clear(&e);
    if (dkim_keygen(algo, (int)bits, out, domain, selector, &dns, &e) == -1) {
        code = cmd_fail(&e);
    } else {
        /* the record, then zone-file comments: stdout stays a valid
         * fragment of a zone file */
        /* the full path: it works in campaign.conf wherever that is (a
         * relative key_file is read from the configuration's directory) */
        char *abs = realpath(out, NULL);
        fputs(dns.p, stdout);
        printf("; private key: %s (mode 0600); publish the record above, "
               "then in campaign.conf:\n"
               ";   [dkim]\n"
               ";   domain = %s\n"
               ";   selector = %s\n"
               ";   key_file = %s\n",
               abs ? abs : out, domain, selector, abs ? abs : out);
        free(abs);
        if (fflush(stdout) == EOF)
            code = EX_IOERR;
    }
    buf_free(&dns);
    free(path);
    return code;
}
