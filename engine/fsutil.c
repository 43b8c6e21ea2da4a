/* SPDX-License-Identifier: ISC */
/*
 * fsutil.c - atomic file output: temporary file, fsync, rename (the
 * OpenSMTPD queue commit).  See fsutil.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "xalloc.h"

int
fs_out_open(struct fs_out *o, const char *path, int mode, struct err *e)
{
    int fd;

    o->f = NULL;
    o->path = xstrdup(path);
    o->tmp = xasprintf("%s.tmp.XXXXXX", path);
    fd = mkstemp(o->tmp);
    if (fd == -1) {
        err_set(e, EX_CANTCREAT, "%s: %s", path, strerror(errno));
        free(o->path);
        free(o->tmp);
        o->path = o->tmp = NULL;
        return -1;
    }
    (void)fchmod(fd, (mode_t)mode);
    o->f = fdopen(fd, "w");
    if (o->f == NULL) {
        close(fd);
        unlink(o->tmp);
        err_set(e, EX_CANTCREAT, "%s: %s", path, strerror(errno));
        free(o->path);
        free(o->tmp);
        o->path = o->tmp = NULL;
        return -1;
    }
    return 0;
}

int
fs_out_commit(struct fs_out *o, struct err *e)
{
    int rc = 0;

    if (fflush(o->f) == EOF || ferror(o->f) || fsync(fileno(o->f)) == -1) {
        err_set(e, EX_CANTCREAT, "%s: %s", o->path, strerror(errno));
        rc = -1;
    }
    if (fclose(o->f) == EOF && rc == 0) {
        err_set(e, EX_CANTCREAT, "%s: %s", o->path, strerror(errno));
        rc = -1;
    }
    o->f = NULL;
    if (rc == 0 && rename(o->tmp, o->path) == -1) {
        err_set(e, EX_CANTCREAT, "%s: %s", o->path, strerror(errno));
        rc = -1;
    }
    if (rc == -1)
        unlink(o->tmp);
    free(o->path);
    free(o->tmp);
    o->path = o->tmp = NULL;
    return rc;
}

void
fs_out_abort(struct fs_out *o)
{
    if (o->f != NULL)
        fclose(o->f);
    if (o->tmp != NULL)
        unlink(o->tmp);
    free(o->path);
    free(o->tmp);
    o->f = NULL;
    o->path = o->tmp = NULL;
}

int
fs_write_atomic(const char *path, const void *p, size_t n, int mode,
                struct err *e)
{
    struct fs_out o;

    if (fs_out_open(&o, path, mode, e) == -1)
        return -1;
    if (fwrite(p, 1, n, o.f) != n) {
        err_set(e, EX_CANTCREAT, "%s: %s", path, strerror(errno));
        fs_out_abort(&o);
        return -1;
    }
    return fs_out_commit(&o, e);
}

char *
fs_read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char tmp[8192];
    size_t n;
    int err;

    if (f == NULL)
        return NULL;
    buf_init(&b, max);
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (buf_append(&b, tmp, n) == -1) {
            fclose(f);
            buf_free(&b);
            errno = EFBIG;
            return NULL;
        }
    }
    err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        buf_free(&b);
        errno = err;
        return NULL;
    }
    *len = b.len;
    return buf_steal(&b);
}
