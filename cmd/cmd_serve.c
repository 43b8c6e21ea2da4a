/* SPDX-License-Identifier: ISC */
/*
 * cmd_serve.c - campaign serve [--listen ADDR:PORT]: the HTTP endpoint of
 * the links in every message (engine/serve.h), in the foreground until
 * SIGTERM or SIGINT.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/config.h"
#include "../engine/log.h"
#include "../engine/machine.h"
#include "../engine/serve.h"
#include "../engine/track.h"
#include "../engine/xalloc.h"
#include "cmd.h"
#include "mailjob.h"

int
cmd_serve(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct config cfg;
    struct track_key key;
    struct machine_rules *rules = NULL;
    struct serve_params sp;
    struct serve *s = NULL;
    struct err e;
    struct stat sb;
    sigset_t set;
    char *secret = NULL;
    const char *listen = NULL;
    int c, sig = 0, code = 0;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 'h':
            return cmd_usage("serve", stdout, 0);
        default:
            return cmd_usage("serve", stderr, EX_USAGE);
        }
    }
    if (optind != argc)
        return cmd_usage("serve", stderr, EX_USAGE);
    err_clear(&e);
    memset(&key, 0, sizeof key);
    if (cmd_config_load(ctx, &cfg, &e) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    if (listen != NULL) {
        free(cfg.serve.listen);
        cfg.serve.listen = xstrdup(listen);
    }
    if (stat(ctx->db_path, &sb) == -1) {
        err_set(&e, EX_NOINPUT, "%s: no database (run campaign init first)",
                ctx->db_path);
        code = cmd_fail(&e);
        goto out;
    }
    secret = mailjob_secret_path(ctx, &cfg);
    if (track_secret_load(secret, &key, &e) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    if (cfg.tracking.base_url == NULL)
        log_warnx("[tracking] base_url is not set in %s: the messages sent "
                  "carry no links to this server",
                  cfg.path);
    rules = machine_rules_new();
    for (size_t i = 0; i < cfg.serve.nmachine_ua; i++)
        if (machine_rules_add_ua(rules, cfg.serve.machine_ua[i], NULL, &e) ==
            -1) {
            code = cmd_fail(&e);
            goto out;
        }
    for (size_t i = 0; i < cfg.serve.nmachine_net; i++)
        if (machine_rules_add_net(rules, cfg.serve.machine_net[i], NULL, &e) ==
            -1) {
            code = cmd_fail(&e);
            goto out;
        }

    /* every thread started from here on inherits the mask: the signals
     * are taken by sigwait below, never by a request thread */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&sp, 0, sizeof sp);
    sp.db_path = ctx->db_path;
    sp.cfg = &cfg;
    sp.key = &key;
    sp.rules = rules;
    if ((s = serve_start(&sp, &e)) == NULL) {
        code = cmd_fail(&e);
        goto out;
    }
    if (!ctx->quiet)
        fprintf(stderr,
                "campaign serve: listening on %s (port %d), database %s\n",
                cfg.serve.listen ? cfg.serve.listen : "127.0.0.1:8787",
                serve_port(s), ctx->db_path);
    do {
        if (sigwait(&set, &sig) != 0)
            break;
    } while (sig == SIGHUP);
    if (!ctx->quiet)
        fprintf(stderr, "campaign serve: %s: stopping\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    if (serve_stop(s, &e) == -1)
        code = cmd_fail(&e);
out:
    machine_rules_free(rules);
    explicit_bzero(&key, sizeof key);
    free(secret);
    config_free(&cfg);
    return code;
}
