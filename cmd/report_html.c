/* SPDX-License-Identifier: ISC */
/*
 * report_html.c - campaign report NAME --format html --out FILE: the page
 * of engine/report_html.c written into a temporary file beside FILE and
 * renamed over it once complete (engine/fsutil.h), mode 0600 since it
 * holds addresses.  The page itself (HTML, escaping, charts) is the
 * engine's; this file owns only where it goes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../engine/fsutil.h"
#include "../engine/report_html.h"
#include "cmd.h"

int
report_html_file(struct ctx *ctx, const json_t *doc, const char *path,
                 struct err *e)
{
    const char *inputs[] = {ctx->db_path};
    struct fs_out o;

    /* force: an existing file is replaced (only when complete) - but never
     * the database itself */
    if (fs_out_new(&o, path, 0600, 1, inputs, 1, e) == -1)
        return -1;
    errno = 0;
    if (report_html_write(o.f, doc) == -1) {
        /* nothing of it stays: path is as it was */
        err_set(e, EX_CANTCREAT, "%s: %s (not written)", path,
                strerror(errno ? errno : EIO));
        fs_out_abort(&o);
        return -1;
    }
    return fs_out_commit(&o, e);
}
