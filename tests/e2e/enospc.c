/* SPDX-License-Identifier: ISC */
/*
 * enospc.c - LD_PRELOAD shim that fills the disk under one SQLite
 * database, on demand, for the disk-full end-to-end tests
 * (send_diskfull.bats; RELIABILITY.md: disk full / SQLITE_FULL during
 * send).
 *
 *   ENOSPC_DB=/abs/path/c.db   the database
 *   ENOSPC_FLAG=/abs/path      while this file exists the disk is "full"
 *
 * While the flag file exists, every write to the database file or its
 * companions (DB-wal, DB-journal, DB-shm) fails with ENOSPC: write,
 * pwrite, pwrite64, writev, and ftruncate/ftruncate64 to a larger size
 * (what SQLite's os_unix.c calls: it extends files by writing, and uses
 * fallocate only when built for it, which Debian's libsqlite3 is not).
 * Shrinking and fsync still work, as on a real full disk.  Which file an fd is
 * comes from readlink(/proc/self/fd/N), so the test can create and remove
 * the flag while the process runs.  Everything else (sockets, the lock
 * file, stderr) is untouched, and without ENOSPC_DB or ENOSPC_FLAG the
 * shim changes nothing.
 *
 * Harsher than a real full disk in one way: overwriting blocks already
 * allocated (a WAL reused after a checkpoint) fails too.  SQLite turns
 * ENOSPC from a write into SQLITE_FULL either way (os_unix.c).
 *
 *   cc -shared -fPIC -o enospc.so enospc.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* full - the disk is full for fd: the flag exists and fd is one of the
 * database's files.  errno is left as it was. */
static int
full(int fd)
{
    static const char *const suffix[] = {"", "-wal", "-journal", "-shm"};
    const char *db = getenv("ENOSPC_DB"), *flag = getenv("ENOSPC_FLAG");
    char link[64], path[PATH_MAX], want[PATH_MAX];
    int saved = errno, hit = 0;
    ssize_t n;

    if (db == NULL || flag == NULL || access(flag, F_OK) == -1) {
        errno = saved;
        return 0;
    }
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof path - 1);
    if (n > 0) {
        path[n] = '\0';
        for (size_t i = 0; !hit && i < sizeof suffix / sizeof suffix[0]; i++) {
            snprintf(want, sizeof want, "%s%s", db, suffix[i]);
            hit = strcmp(path, want) == 0;
        }
    }
    errno = saved;
    return hit;
}

/* grows - a truncate of fd to len would make the file larger. */
static int
grows(int fd, off_t len)
{
    struct stat sb;
    int saved = errno, r = fstat(fd, &sb) == 0 && len > sb.st_size;

    errno = saved;
    return r;
}

/* the next definition of a symbol: libc's (or a sanitizer's) */
#define NEXT(fn, name)                                                         \
    do {                                                                       \
        if ((fn) == NULL)                                                      \
            *(void **)&(fn) = dlsym(RTLD_NEXT, name);                          \
    } while (0)

ssize_t
write(int fd, const void *buf, size_t len)
{
    static ssize_t (*real)(int, const void *, size_t);

    NEXT(real, "write");
    if (full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, buf, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);

    NEXT(real, "pwrite");
    if (full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, buf, len, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off64_t);

    NEXT(real, "pwrite64");
    if (full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, buf, len, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
    static ssize_t (*real)(int, const struct iovec *, int);

    NEXT(real, "writev");
    if (full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, iov, n);
}

int
ftruncate(int fd, off_t len)
{
    static int (*real)(int, off_t);

    NEXT(real, "ftruncate");
    if (grows(fd, len) && full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, len);
}

int
ftruncate64(int fd, off64_t len)
{
    static int (*real)(int, off64_t);

    NEXT(real, "ftruncate64");
    if (grows(fd, (off_t)len) && full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, len);
}
