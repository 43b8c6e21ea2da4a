/* SPDX-License-Identifier: ISC */
/*
 * cmd_init.c - campaign init: create or migrate the database, write a
 * commented campaign.conf when there is none.
 */
#include <getopt.h>
#include <stdio.h>

#include "../engine/config.h"
#include "../engine/log.h"
#include "cmd.h"

int
cmd_init(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct err e;
    struct store *st;
    int c, created, before, rc;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
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
    return 0;
}
