/* SPDX-License-Identifier: ISC */
/*
 * cmd_import.c - campaign import FILE...: options, the rejects file
 * (written beside and renamed into place only when the import commits
 * and something was rejected; never over one of the input files, nor
 * over an existing file without --force), and the summary line, printed
 * after COMMIT.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../engine/csv_import.h"
#include "../engine/fsutil.h"
#include "../engine/bounds.h"
#include "../engine/log.h"
#include "cmd.h"

/* parse_delimiter - "," ";" "|" "tab" "\t" (or a literal TAB). */
int cmd_parse_delimiter(const char *s, char *out);

int
cmd_parse_delimiter(const char *s, char *out)
{
    if (strcmp(s, "tab") == 0 || strcmp(s, "TAB") == 0 ||
        strcmp(s, "\\t") == 0 || strcmp(s, "\t") == 0) {
        *out = '\t';
        return 0;
    }
    if (strlen(s) == 1 && strchr(",;|", s[0]) != NULL) {
        *out = s[0];
        return 0;
    }
    return -1;
}

int
cmd_import(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"list", required_argument, NULL, 'l'},
        {"delimiter", required_argument, NULL, 'd'},
        {"encoding", required_argument, NULL, 'e'},
        {"no-update", no_argument, NULL, 'n'},
        {"rejects", required_argument, NULL, 'r'},
        {"force", no_argument, NULL, 'f'},
        {"dry-run", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct import_params p;
    struct import_counts cnt;
    struct fs_out rejects;
    const char *rejects_path = NULL;
    struct store *st;
    struct err e;
    int c, code = 0, force = 0;

    memset(&p, 0, sizeof p);
    p.update = 1;
    p.stderr_max = 100;
    p.csv.encoding = CSV_ENC_UTF8;
    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cmd_name_check("--list", optarg) == -1)
                return EX_USAGE;
            p.list = optarg;
            break;
        case 'd':
            if (cmd_parse_delimiter(optarg, &p.csv.delimiter) == -1) {
                log_warnx("--delimiter: one of , ; | tab (got \"%s\")", optarg);
                return EX_USAGE;
            }
            break;
        case 'e':
            if (csv_encoding_parse(optarg, &p.csv.encoding) == -1) {
                log_warnx("--encoding: utf-8, latin1 or windows-1252 (got "
                          "\"%s\")",
                          optarg);
                return EX_USAGE;
            }
            break;
        case 'n':
            p.update = 0;
            break;
        case 'r':
            rejects_path = optarg;
            break;
        case 'D':
            p.dry_run = 1;
            break;
        case 'f':
            force = 1;
            break;
        case 'h':
            return cmd_usage("import", stdout, 0);
        default:
            return cmd_usage("import", stderr, EX_USAGE);
        }
    }
    if (optind >= argc) {
        log_warnx("import: no FILE given");
        return cmd_usage("import", stderr, EX_USAGE);
    }
    err_clear(&e);
    if (rejects_path != NULL && fs_out_new(&rejects, rejects_path, 0644, force,
                                           (const char *const *)argv + optind,
                                           (size_t)(argc - optind), &e) == -1)
        return cmd_fail(&e);
    if ((st = cmd_open(ctx, &code)) == NULL) {
        if (rejects_path != NULL)
            fs_out_abort(&rejects);
        return code;
    }
    if (rejects_path != NULL)
        p.rejects = rejects.f;
    for (int i = optind; i < argc; i++) {
        if (import_file(st, argv[i], &p, &cnt, &e) == -1) {
            code = cmd_fail(&e);
            if (i > optind)
                log_warnx("files before %s were imported; %s and the rest "
                          "were not",
                          argv[i], argv[i]);
            break;
        }
        if (argc - optind > 1)
            printf("%s: ", argv[i]);
        printf("%simported %ld, updated %ld, unchanged %ld, rejected %ld\n",
               p.dry_run ? "dry run: " : "", cnt.imported, cnt.updated,
               cnt.unchanged, cnt.rejected);
        if (cnt.suppressed > 0)
            printf("%ld rows carried an opt-out (unsubscribed or cleaned) "
                   "and are suppressed\n",
                   cnt.suppressed);
        fflush(stdout);
    }
    if (rejects_path != NULL) {
        /* rejects of a file that was rolled back would be misleading;
         * with none, nothing is written (an earlier file stays) */
        if (code == 0 && p.rejects_header) {
            if (fs_out_commit(&rejects, &e) == -1)
                code = cmd_fail(&e);
        } else {
            fs_out_abort(&rejects);
            if (code == 0)
                log_info("no rejects: %s not written", rejects_path);
        }
    }
    store_close(st);
    return code;
}
