/* SPDX-License-Identifier: ISC */
/*
 * cmd_render.c - campaign render FILE [--data JSON] [--partials DIR]:
 * one Mustache template rendered to stdout, byte for byte, in the spec's
 * mode ({{x}} HTML-escaped).  No database: this is the command the
 * conformance suite and template authors run.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/buf.h"
#include "../engine/fsutil.h"
#include "../engine/log.h"
#include "../engine/template.h"
#include "../engine/xalloc.h"
#include "cmd.h"

struct partials {
    const char *dir;
    char *path; /* the last one asked for, for messages */
    int failed; /* a partial exists but cannot be read */
    char why[ERR_MSG_MAX];
};

/* partial_name_ok - a name that stays inside DIR: no absolute path, no
 * ".." part, no control characters. */
static int
partial_name_ok(const char *name)
{
    const char *p = name;

    if (*name == '\0' || *name == '/')
        return 0;
    for (; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    for (p = name; p; p = strchr(p, '/')) {
        if (*p == '/')
            p++;
        if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
            return 0;
    }
    return 1;
}

/* load_partial - {{>name}} and {{<name}} are DIR/name.mustache; a missing
 * file is an empty partial (the spec). */
static char *
load_partial(const char *name, size_t *len, const char **path, void *arg)
{
    struct partials *p = arg;
    char *src;

    if (p->dir == NULL || !partial_name_ok(name))
        return NULL;
    free(p->path);
    p->path = xasprintf("%s/%s.mustache", p->dir, name);
    *path = p->path;
    src = fs_read_file(p->path, TEMPLATE_SOURCE_MAX, len);
    if (src == NULL && errno != ENOENT && errno != ENOTDIR && !p->failed) {
        p->failed = 1;
        snprintf(p->why, sizeof p->why, "%s: %s", p->path, strerror(errno));
    }
    return src;
}

/* load_data - the --data file: any JSON value. */
static json_t *
load_data(const char *path, int *code)
{
    json_error_t je;
    json_t *v;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        log_warnx("%s: %s", path, strerror(errno));
        *code = EX_NOINPUT;
        return NULL;
    }
    v = json_loadf(f, JSON_DECODE_ANY, &je);
    fclose(f);
    if (v == NULL) {
        log_warnx("%s:%d:%d: %s", path, je.line, je.column, je.text);
        *code = EX_DATAERR;
    }
    return v;
}

int
cmd_render(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"partials", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct template_render_opts ro = {TEMPLATE_ESCAPE_HTML, 0};
    struct partials parts;
    const char *data_path = NULL, *file;
    struct template *t = NULL;
    json_t *data = NULL;
    struct buf out;
    struct err e;
    char *src = NULL;
    size_t len = 0;
    int c, code = 0;

    (void)ctx;
    memset(&parts, 0, sizeof parts);
    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data_path = optarg;
            break;
        case 'p':
            parts.dir = optarg;
            break;
        case 'h':
            return cmd_usage("render", stdout, 0);
        default:
            return cmd_usage("render", stderr, EX_USAGE);
        }
    }
    if (optind != argc - 1)
        return cmd_usage("render", stderr, EX_USAGE);
    file = argv[optind];

    err_clear(&e);
    buf_init(&out, 0);
    if ((src = fs_read_file(file, TEMPLATE_SOURCE_MAX, &len)) == NULL) {
        log_warnx("%s: %s", file, strerror(errno));
        code = errno == EFBIG ? EX_DATAERR : EX_NOINPUT;
        goto done;
    }
    if (data_path) {
        if ((data = load_data(data_path, &code)) == NULL)
            goto done;
    } else {
        data = json_object();
    }
    t = template_compile(src, len, file, load_partial, &parts, &e);
    if (t == NULL) {
        code = cmd_fail(&e);
        goto done;
    }
    if (parts.failed) {
        log_warnx("%s", parts.why);
        code = EX_NOINPUT;
        goto done;
    }
    if (template_render(t, &data, 1, &ro, &out, &e) == -1) {
        code = cmd_fail(&e);
        goto done;
    }
    if (fwrite(out.p ? out.p : "", 1, out.len, stdout) != out.len ||
        fflush(stdout) == EOF) {
        log_warn("stdout");
        code = EX_IOERR;
    }
done:
    buf_free(&out);
    template_free(t);
    json_decref(data);
    free(src);
    free(parts.path);
    return code;
}
