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
    o->noreplace = 0;
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
fs_same_file(const char *a, const char *b)
{
    struct stat x, y;

    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev &&
           x.st_ino == y.st_ino;
}

int
fs_out_new(struct fs_out *o, const char *path, int mode, int force,
           const char *const *inputs, size_t n, struct err *e)
{
    struct stat sb;

    for (size_t i = 0; i < n; i++)
        if (fs_same_file(path, inputs[i]))
            return err_set(e, EX_USAGE,
                           "%s is also an input (%s): writing it would "
                           "destroy that input; name another file",
                           path, inputs[i]);
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return err_set(e, EX_CANTCREAT, "%s is a directory", path);
        if (!force)
            return err_set(e, EX_CANTCREAT,
                           "%s exists: not replaced (--force replaces it)",
                           path);
    }
    if (fs_out_open(o, path, mode, e) == -1)
        return -1;
    o->noreplace = !force;
    return 0;
}

/* put_in_place - rename tmp to path; without replacing a file there when
 * noreplace (RENAME_NOREPLACE, or link and unlink where the file system
 * has no such rename). */
static int
put_in_place(const char *tmp, const char *path, int noreplace)
{
    if (!noreplace)
        return rename(tmp, path);
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (link(tmp, path) == -1)
        return -1;
    (void)unlink(tmp);
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
    if (rc == 0 && put_in_place(o->tmp, o->path, o->noreplace) == -1) {
        if (errno == EEXIST)
            err_set(e, EX_CANTCREAT,
                    "%s appeared while it was being written: not replaced "
                    "(--force replaces it)",
                    o->path);
        else
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
