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
    int noreplace; /* the commit never replaces a file (fs_out_new) */
};
int fs_out_open(struct fs_out *o, const char *path, int mode, struct err *e);
/*
 * fs_out_new - fs_out_open for a file the user named (--rejects, --out):
 * refused before anything is written when it is one of the n inputs (the
 * same file, also through a link: EX_USAGE) or, unless force, when it
 * exists (EX_CANTCREAT, naming --force); without force the commit never
 * replaces a file that appeared meanwhile (RENAME_NOREPLACE).
 */
int fs_out_new(struct fs_out *o, const char *path, int mode, int force,
               const char *const *inputs, size_t n, struct err *e);
/* fs_same_file - 1 when a and b both exist and are the same file. */
int fs_same_file(const char *a, const char *b);
int fs_out_commit(struct fs_out *o, struct err *e);
void fs_out_abort(struct fs_out *o);

#endif
