/* SPDX-License-Identifier: ISC */
/*
 * journal.c - the crash journal of a send (see journal.h).
 *
 * The file: a header of JOURNAL_HDR bytes (magic, format, the campaign,
 * the boot it was written in), then slots of JOURNAL_SLOT bytes.  It
 * starts with JOURNAL_SLOTS0 slots and doubles when every slot is taken
 * (mremap; the build defines _GNU_SOURCE): a slot is held from hand-out
 * to commit, so the count follows what is in flight, not the campaign's
 * size.  Its blocks are allocated up front (posix_fallocate): a store
 * into a page of a sparse file that the file system cannot allocate (a
 * full disk) would kill the process with SIGBUS.  A message that gets no
 * slot (the file cannot grow) marks the journal incomplete, and the
 * replay then trusts none of it.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fsutil.h"
#include "journal.h"
#include "xalloc.h"

#define JOURNAL_MAGIC "CMPJRN01"
#define JOURNAL_HDR 256
#define JOURNAL_SLOT 256
#define JOURNAL_SLOTS0 256
/* a file larger than this is not one of ours (damaged): 64 MiB */
#define JOURNAL_MAX_BYTES (64L << 20)

struct header {
    char magic[8];
    uint32_t slot_size;
    uint32_t incomplete; /* a message went out without a record */
    int64_t campaign;
    char boot_id[40];
};

struct slot {
    uint32_t kind; /* written last, cleared first (journal.h) */
    int32_t attempt;
    int64_t contact;
    uint64_t seq;
    char message_id[JOURNAL_MSGID];
};

_Static_assert(sizeof(struct header) <= JOURNAL_HDR, "journal header size");
_Static_assert(sizeof(struct slot) <= JOURNAL_SLOT, "journal slot size");

struct journal {
    int fd;
    char *map;
    size_t nslots;
    int *free; /* a stack of free slots */
    size_t nfree;
    uint64_t seq;
    char path[4096];
};

void
journal_path(const char *db_path, int64_t campaign, char *out, size_t n)
{
    snprintf(out, n, "%s.campaign-%lld.journal", db_path, (long long)campaign);
}

/* boot_id - this boot's id (the kernel's), "" when it cannot be read. */
static void
boot_id(char out[40])
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

    out[0] = '\0';
    if (f == NULL)
        return;
    if (fgets(out, 40, f) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

static struct slot *
slot_at(const struct journal *j, size_t i)
{
    return (struct slot *)(void *)(j->map + JOURNAL_HDR + i * JOURNAL_SLOT);
}

struct journal *
journal_open(const char *db_path, int64_t campaign, struct err *e)
{
    struct journal *j = xcalloc(1, sizeof *j);
    struct header h;
    size_t size = JOURNAL_HDR + (size_t)JOURNAL_SLOTS0 * JOURNAL_SLOT;

    journal_path(db_path, campaign, j->path, sizeof j->path);
    j->fd = open(j->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (j->fd == -1) {
        err_set(e, EX_CANTCREAT, "%s: %s", j->path, strerror(errno));
        free(j);
        return NULL;
    }
    if ((errno = posix_fallocate(j->fd, 0, (off_t)size)) != 0 ||
        (j->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd,
                       0)) == MAP_FAILED) {
        err_set(e, EX_CANTCREAT, "%s: %s", j->path, strerror(errno));
        close(j->fd);
        free(j);
        return NULL;
    }
    memset(&h, 0, sizeof h);
    memcpy(h.magic, JOURNAL_MAGIC, sizeof h.magic);
    h.slot_size = JOURNAL_SLOT;
    h.campaign = campaign;
    boot_id(h.boot_id);
    memcpy(j->map, &h, sizeof h);
    j->nslots = JOURNAL_SLOTS0;
    j->free = xreallocarray(NULL, j->nslots, sizeof *j->free);
    for (size_t i = 0; i < j->nslots; i++)
        j->free[i] = (int)(j->nslots - 1 - i); /* slot 0 on top */
    j->nfree = j->nslots;
    return j;
}

void
journal_close(struct journal *j, int remove)
{
    if (j == NULL)
        return;
    munmap(j->map, JOURNAL_HDR + j->nslots * JOURNAL_SLOT);
    close(j->fd);
    if (remove)
        (void)unlink(j->path);
    free(j->free);
    free(j);
}

/* grow - double the slots; -1 (nothing changed) when the file cannot. */
static int
grow(struct journal *j)
{
    size_t old = JOURNAL_HDR + j->nslots * JOURNAL_SLOT;
    size_t n = j->nslots * 2, size = JOURNAL_HDR + n * JOURNAL_SLOT;
    char *map;

    if (size > (size_t)JOURNAL_MAX_BYTES ||
        posix_fallocate(j->fd, (off_t)old, (off_t)(size - old)) != 0)
        return -1;
    map = mremap(j->map, old, size, MREMAP_MAYMOVE);
    if (map == MAP_FAILED)
        return -1;
    j->map = map;
    j->free = xreallocarray(j->free, n, sizeof *j->free);
    for (size_t i = n; i > j->nslots; i--)
        j->free[j->nfree++] = (int)(i - 1);
    j->nslots = n;
    return 0;
}

int
journal_take(struct journal *j, int64_t contact, int attempt,
             const char *message_id)
{
    struct slot *s;
    int i;

    if (j == NULL)
        return -1;
    if (j->nfree == 0 && grow(j) == -1) {
        /* this message goes out unrecorded: trust none of it */
        uint32_t one = 1;
        memcpy(j->map + offsetof(struct header, incomplete), &one, sizeof one);
        return -1;
    }
    i = j->free[--j->nfree];
    s = slot_at(j, (size_t)i);
    /* cleared first: a crash now leaves an empty slot */
    __atomic_store_n(&s->kind, JOURNAL_EMPTY, __ATOMIC_RELEASE);
    s->attempt = attempt;
    s->contact = contact;
    s->seq = ++j->seq;
    snprintf(s->message_id, sizeof s->message_id, "%s",
             message_id ? message_id : "");
    __atomic_store_n(&s->kind, JOURNAL_HANDED, __ATOMIC_RELEASE);
    return i;
}

void
journal_mark(struct journal *j, int slot, enum journal_kind kind)
{
    if (j == NULL || slot < 0 || (size_t)slot >= j->nslots)
        return;
    __atomic_store_n(&slot_at(j, (size_t)slot)->kind, (uint32_t)kind,
                     __ATOMIC_RELEASE);
}

void
journal_free(struct journal *j, int slot)
{
    if (j == NULL || slot < 0 || (size_t)slot >= j->nslots)
        return;
    j->free[j->nfree++] = slot;
}

/* by contact, then seq */
static int
rec_cmp(const void *a, const void *b)
{
    const struct journal_rec *x = a, *y = b;

    if (x->contact != y->contact)
        return x->contact < y->contact ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
known_kind(uint32_t k)
{
    switch (k) {
    case JOURNAL_HANDED:
    case JOURNAL_CONTENT:
    case JOURNAL_SENT:
    case JOURNAL_REFUSED:
    case JOURNAL_UNCERTAIN:
    case JOURNAL_RELEASED:
        return 1;
    default:
        return 0;
    }
}

int
journal_replay(const char *db_path, int64_t campaign, journal_cb cb, void *arg,
               const char **why, struct err *e)
{
    char path[4096], boot[40];
    struct header h;
    struct journal_rec *v = NULL;
    size_t n = 0, nslots, len;
    char *data;
    int rc = 0;

    *why = NULL;
    journal_path(db_path, campaign, path, sizeof path);
    if ((data = fs_read_file(path, JOURNAL_MAX_BYTES, &len)) == NULL) {
        if (errno == ENOENT) {
            *why = "no journal";
            return 0;
        }
        if (errno == EFBIG) {
            *why = "the journal has a size none of ours has";
            return 0;
        }
        return err_set(e, EX_IOERR, "%s: %s", path, strerror(errno));
    }
    if (len < JOURNAL_HDR || (len - JOURNAL_HDR) % JOURNAL_SLOT != 0) {
        *why = "the journal has a size none of ours has";
        goto out;
    }
    memcpy(&h, data, sizeof h);
    boot_id(boot);
    if (memcmp(h.magic, JOURNAL_MAGIC, sizeof h.magic) != 0 ||
        h.slot_size != JOURNAL_SLOT || h.campaign != campaign) {
        *why = "the journal is not this campaign's";
        goto out;
    }
    h.boot_id[sizeof h.boot_id - 1] = '\0';
    if (h.incomplete) {
        *why = "the journal could not record every message in flight";
        goto out;
    }
    if (boot[0] == '\0' || strcmp(h.boot_id, boot) != 0) {
        *why = "the journal was written before the machine restarted (what "
               "the kernel had not yet written to disk may be lost)";
        goto out;
    }
    nslots = (len - JOURNAL_HDR) / JOURNAL_SLOT;
    v = xreallocarray(NULL, nslots ? nslots : 1, sizeof *v);
    for (size_t i = 0; i < nslots; i++) {
        struct slot s;
        memcpy(&s, data + JOURNAL_HDR + i * JOURNAL_SLOT, sizeof s);
        if (!known_kind(s.kind) || s.contact == 0)
            continue;
        v[n].contact = s.contact;
        v[n].seq = s.seq;
        v[n].attempt = s.attempt;
        v[n].kind = (enum journal_kind)s.kind;
        memcpy(v[n].message_id, s.message_id, JOURNAL_MSGID);
        v[n].message_id[JOURNAL_MSGID - 1] = '\0';
        n++;
    }
    qsort(v, n, sizeof *v, rec_cmp);
    rc = 1;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && v[i + 1].contact == v[i].contact)
            continue; /* a later record of the same contact wins */
        if (cb(&v[i], arg) != 0) {
            rc = -1;
            break;
        }
    }
out:
    free(v);
    free(data);
    return rc;
}
