/* SPDX-License-Identifier: ISC */
/*
 * fsutil.h - files that are either wholly written or not there at all.
 */
#ifndef CAMPAIGN_FSUTIL_H
#define CAMPAIGN_FSUTIL_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

/*
 * fs_write_atomic - write n bytes to path through a temporary file in the
 * same directory, fsync, rename.  EX_CANTCREAT on failure; nothing is left
 * behind.
 */
int fs_write_atomic(const char *path, const void *p, size_t n, int mode,
                    struct err *e);

/*
 * fs_read_file - the whole file at path, NUL-terminated, at most max
 * bytes; NULL with errno set (EFBIG past max).  *len gets the length.
 */
char *fs_read_file(const char *path, size_t max, size_t *len);

/*
 * An output file being written: fs_out_open creates PATH.tmp.XXXXXX;
 * fs_out_commit flushes, fsyncs and renames it to PATH; fs_out_abort
 * removes it.
 */
struct fs_out {
    FILE *f;
    char *path;
    char *tmp;
};
int fs_out_open(struct fs_out *o, const char *path, int mode, struct err *e);
int fs_out_commit(struct fs_out *o, struct err *e);
void fs_out_abort(struct fs_out *o);

#endif
