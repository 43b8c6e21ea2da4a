/* SPDX-License-Identifier: ISC */
/*
 * cmd_init.c - campaign init: create or migrate the database, write a
 * commented campaign.conf and the tracking secret when there are none.
 * A secret that is missing once campaigns were sent is not replaced
 * without --force: every link already sent is signed with the old one.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include <stdlib.h>

#include "../engine/config.h"
#include "../engine/log.h"
#include "../engine/track.h"
#include "cmd.h"
#include "mailjob.h"

static int
count_cb(const char *name, void *arg)
{
    (void)name;
    ++*(long *)arg;
    return 0;
}

int
cmd_init(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct err e;
    struct store *st;
    int c, created, before, rc, force = 0;
    long campaigns = 0;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'f') {
            force = 1;
            continue;
        }
        if (c == 'h')
            return cmd_usage("init", stdout, 0);
        return cmd_usage("init", stderr, EX_USAGE);
    }
    if (optind != argc)
        return cmd_usage("init", stderr, EX_USAGE);

    err_clear(&e);
    st = store_open(ctx->db_path, STORE_OPEN_CREATE, &created, &e);
    if (st == NULL)
        return cmd_fail(&e);
    before = store_schema_version(st);
    if (store_campaign_names(st, count_cb, &campaigns, &e) == -1) {
        store_close(st);
        return cmd_fail(&e);
    }
    store_close(st);
    if (created)
        printf("created %s (schema version %d)\n", ctx->db_path, before);
    else
        printf("%s is at schema version %d\n", ctx->db_path, before);

    rc = config_write_default(ctx->config_path, &e);
    if (rc == -1)
        return cmd_fail(&e);
    if (rc == 1)
        printf("wrote %s (commented defaults; edit [sender] and [relay])\n",
               ctx->config_path);

    /* the tracking secret: HMAC key of every token (track.h) */
    {
        struct config cfg;
        char *secret;
        if (config_load(&cfg, ctx->config_path, &e) == -1) {
            config_free(&cfg);
            return cmd_fail(&e);
        }
        struct stat sb;
        secret = mailjob_secret_path(ctx, &cfg);
        config_free(&cfg);
        if (campaigns > 0 && !force && stat(secret, &sb) == -1 &&
            errno == ENOENT) {
            log_warnx("%s is missing, and %ld campaign%s been sent with it: "
                      "every link in those messages (unsubscribe, tracking, "
                      "the VERP return path) is signed with it, and a new "
                      "secret would make them all invalid - restore it from "
                      "a backup, or run campaign init --force to write a new "
                      "one (the links already sent then stop working)",
                      secret, campaigns, campaigns == 1 ? " has" : "s have");
            free(secret);
            return EX_CONFIG;
        }
        rc = track_secret_create(secret, &e);
        if (rc == 1)
            printf("wrote %s (tracking secret, mode 0600)\n", secret);
        free(secret);
        if (rc == -1)
            return cmd_fail(&e);
    }
    return 0;
}
