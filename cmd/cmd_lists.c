/* SPDX-License-Identifier: ISC */
/*
 * cmd_lists.c - campaign lists: each list with its member counts.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

struct lists_out {
    int json;
    int n;
    json_t *arr;
};

static int
lists_row(const struct store_list_row *r, void *arg)
{
    struct lists_out *o = arg;
    char t[40];

    cmd_time(r->created_at, t, sizeof t);
    if (o->json) {
        json_array_append_new(
            o->arr, json_pack("{s:s, s:I, s:I, s:s}", "name", r->name,
                              "members", (json_int_t)r->members, "active",
                              (json_int_t)r->active, "created_at", t));
    } else {
        if (o->n == 0)
            printf("%-30s %10s %10s  %s\n", "LIST", "MEMBERS", "ACTIVE",
                   "CREATED");
        printf("%-30s %10ld %10ld  %s\n", cmd_safe(r->name), r->members,
               r->active, t);
    }
    o->n++;
    return 0;
}

int
cmd_lists(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct lists_out o = {0, 0, NULL};
    struct store *st;
    struct err e;
    int c, code = 0;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "json") == 0)
                o.json = 1;
            else if (strcmp(optarg, "table") != 0 &&
                     strcmp(optarg, "text") != 0)
                return cmd_usage("lists", stderr, EX_USAGE);
            break;
        case 'h':
            return cmd_usage("lists", stdout, 0);
        default:
            return cmd_usage("lists", stderr, EX_USAGE);
        }
    }
    if (optind != argc)
        return cmd_usage("lists", stderr, EX_USAGE);
    if ((st = cmd_open(ctx, &code)) == NULL)
        return code;
    err_clear(&e);
    if (o.json)
        o.arr = json_array();
    if (store_lists(st, lists_row, &o, &e) == -1)
        code = cmd_fail(&e);
    else if (o.json)
        json_dumpf(o.arr, stdout, JSON_INDENT(2)), putchar('\n');
    else if (o.n == 0)
        printf("no lists yet (import --list NAME creates one)\n");
    json_decref(o.arr);
    store_close(st);
    return code;
}
