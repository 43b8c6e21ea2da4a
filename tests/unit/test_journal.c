/* SPDX-License-Identifier: ISC */
/*
 * test_journal.c - the crash journal (engine/journal.h): what a run
 * records survives the death of its process, the latest record of a
 * contact wins, freed slots are reused, the file grows with what is in
 * flight, and a journal of another boot or campaign (or a damaged one) is
 * not trusted.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../engine/journal.h"
#include "th.h"

#define MAXR 2048

struct seen {
    int n;
    struct journal_rec r[MAXR];
};

static int
collect(const struct journal_rec *r, void *arg)
{
    struct seen *s = arg;

    if (s->n < MAXR)
        s->r[s->n++] = *r;
    return 0;
}

static int
stop_cb(const struct journal_rec *r, void *arg)
{
    (void)r;
    (void)arg;
    return 1;
}

/* find - the record of contact, or NULL */
static const struct journal_rec *
find(const struct seen *s, int64_t contact)
{
    for (int i = 0; i < s->n; i++)
        if (s->r[i].contact == contact)
            return &s->r[i];
    return NULL;
}

static int
replay(const char *db, int64_t campaign, struct seen *s, const char **why)
{
    struct err e;

    memset(s, 0, sizeof *s);
    err_clear(&e);
    return journal_replay(db, campaign, collect, s, why, &e);
}

static char db[4096];

/* a run that dies (SIGKILL) after recording: nothing closed or synced */
static void
killed_run(void)
{
    struct err e;
    struct journal *j = journal_open(db, 7, &e);
    int a, b, c;

    if (j == NULL)
        _exit(1);
    a = journal_take(j, 101, 1, "<a@x>");
    b = journal_take(j, 102, 1, "<b@x>");
    c = journal_take(j, 103, 2, "<c@x>");
    (void)journal_take(j, 104, 1, "<d@x>");
    journal_mark(j, a, JOURNAL_CONTENT);
    journal_mark(j, a, JOURNAL_SENT);
    journal_mark(j, b, JOURNAL_CONTENT);
    journal_mark(j, c, JOURNAL_REFUSED);
    kill(getpid(), SIGKILL);
    _exit(2);
}

/* a run whose journal cannot grow (a file size limit: as a full disk) */
static void
full_run(void)
{
    struct rlimit rl = {65792, 65792}; /* the header and 256 slots */
    struct err e;
    struct journal *j;

    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) == -1 ||
        (j = journal_open(db, 9, &e)) == NULL)
        _exit(1);
    for (int i = 0; i < 256; i++)
        if (journal_take(j, 1 + i, 1, "<m@x>") < 0)
            _exit(3);
    if (journal_take(j, 999, 1, "<m@x>") != -1)
        _exit(4);
    journal_close(j, 0);
    _exit(0);
}

int
main(void)
{
    char tmpl[] = "/tmp/test_journal.XXXXXX", path[4200];
    const char *why;
    struct seen *s = calloc(1, sizeof *s);
    const struct journal_rec *r;
    struct journal *j;
    struct err e;
    struct stat sb;
    pid_t pid;
    int st, rc, x, y, fd;

    if (mkdtemp(tmpl) == NULL || s == NULL)
        return 2;
    snprintf(db, sizeof db, "%s/c.db", tmpl);
    journal_path(db, 7, path, sizeof path);
    TH_STREQ(path + strlen(tmpl), "/c.db.campaign-7.journal",
             "the journal is DB.campaign-ID.journal");

    rc = replay(db, 7, s, &why);
    TH_CHECK(rc == 0 && why && strcmp(why, "no journal") == 0,
             "no file: nothing to trust (0, \"no journal\")");

    /* ---- what a killed process recorded is read back ---- */
    fflush(stdout);
    pid = fork();
    if (pid == 0)
        killed_run();
    TH_CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) &&
                 WTERMSIG(st) == SIGKILL,
             "the recording process died of SIGKILL");
    rc = replay(db, 7, s, &why);
    TH_CHECK(rc == 1 && s->n == 4, "after the kill: 4 records (rc %d, n %d)",
             rc, s->n);
    r = find(s, 101);
    TH_CHECK(r && r->kind == JOURNAL_SENT && r->attempt == 1 &&
                 strcmp(r->message_id, "<a@x>") == 0,
             "a 250 read before the kill is there, with its Message-ID");
    r = find(s, 102);
    TH_CHECK(r && r->kind == JOURNAL_CONTENT,
             "content out, no reply: recorded as content");
    r = find(s, 103);
    TH_CHECK(r && r->kind == JOURNAL_REFUSED && r->attempt == 2,
             "a refusal read: recorded, with its attempt");
    r = find(s, 104);
    TH_CHECK(r && r->kind == JOURNAL_HANDED,
             "handed out, nothing written: recorded as handed");
    rc = replay(db, 8, s, &why);
    TH_CHECK(rc == 0 && why != NULL,
             "another campaign's journal is not trusted");

    /* ---- the latest record of a contact wins; slots are reused ---- */
    err_clear(&e);
    j = journal_open(db, 7, &e);
    TH_CHECK(j != NULL, "open empties the previous journal");
    rc = replay(db, 7, s, &why);
    TH_CHECK(rc == 1 && s->n == 0, "a new journal holds nothing (n %d)", s->n);
    x = journal_take(j, 5, 1, "<m5@x>");
    journal_mark(j, x, JOURNAL_RELEASED);
    y = journal_take(j, 5, 1, "<m5@x>");
    journal_mark(j, y, JOURNAL_CONTENT);
    rc = replay(db, 7, s, &why);
    r = find(s, 5);
    TH_CHECK(rc == 1 && s->n == 1 && r && r->kind == JOURNAL_CONTENT,
             "two records of one contact: the later one (content) wins "
             "(n %d)",
             s->n);
    journal_free(j, x);
    journal_free(j, y);
    x = journal_take(j, 9, 3, "<m9@x>");
    TH_CHECK(x == y, "a freed slot is taken again (%d, %d)", x, y);
    rc = replay(db, 7, s, &why);
    TH_CHECK(rc == 1 && find(s, 9) && find(s, 9)->kind == JOURNAL_HANDED &&
                 find(s, 5) && find(s, 5)->kind == JOURNAL_RELEASED,
             "a reused slot holds its new record; the older one stays");

    /* ---- it grows with what is in flight ---- */
    {
        int ok = 1, slots[1000];
        for (int i = 0; i < 1000; i++) {
            slots[i] = journal_take(j, 1000 + i, 1, "<grow@x>");
            if (slots[i] < 0)
                ok = 0;
            else
                journal_mark(j, slots[i], JOURNAL_SENT);
        }
        for (int i = 0; ok && i < 1000; i++)
            for (int k = i + 1; k < 1000; k++)
                if (slots[i] == slots[k])
                    ok = 0;
        TH_CHECK(ok, "1,000 messages in flight: 1,000 distinct slots");
        rc = replay(db, 7, s, &why);
        /* contact 5's last slot was free: the first of these took it */
        TH_CHECK(rc == 1 && s->n == 1001 && find(s, 5) == NULL,
                 "all 1,001 records read back after the file grew (n %d)",
                 s->n);
        TH_CHECK(find(s, 1999) && find(s, 1999)->kind == JOURNAL_SENT,
                 "the last one is there");
    }
    err_clear(&e);
    rc = journal_replay(db, 7, stop_cb, NULL, &why, &e);
    TH_CHECK(rc == -1, "a callback's error stops the replay (-1)");
    journal_close(j, 0);
    TH_CHECK(stat(path, &sb) == 0, "close without remove keeps the file");

    /* ---- another boot: not trusted ---- */
    fd = open(path, O_WRONLY);
    TH_CHECK(fd >= 0 && pwrite(fd, "00000000-0000", 13, 24) == 13,
             "the boot id rewritten");
    if (fd >= 0)
        close(fd);
    rc = replay(db, 7, s, &why);
    TH_CHECK(rc == 0 && why && strstr(why, "restarted") != NULL,
             "a journal of another boot is not trusted: \"%s\"",
             why ? why : "");

    /* ---- a damaged file: not trusted ---- */
    fd = open(path, O_WRONLY | O_APPEND);
    TH_CHECK(fd >= 0 && write(fd, "x", 1) == 1, "one byte appended");
    if (fd >= 0)
        close(fd);
    rc = replay(db, 7, s, &why);
    TH_CHECK(rc == 0 && why != NULL, "a journal of a size none of ours has "
                                     "is not trusted");

    /* ---- a message without a slot: none of it is trusted ---- */
    fflush(stdout);
    pid = fork();
    if (pid == 0)
        full_run();
    TH_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
                 WEXITSTATUS(st) == 0,
             "a journal that cannot grow: 256 slots, then take says -1 "
             "(status %d)",
             WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    rc = replay(db, 9, s, &why);
    TH_CHECK(rc == 0 && why && strstr(why, "could not record") != NULL,
             "... and its replay trusts none of it: \"%s\"", why ? why : "");
    journal_path(db, 9, path, sizeof path);
    unlink(path);
    journal_path(db, 7, path, sizeof path);

    err_clear(&e);
    j = journal_open(db, 7, &e);
    journal_close(j, 1);
    TH_CHECK(stat(path, &sb) == -1, "close with remove removes the file");
    journal_close(NULL, 1);
    TH_CHECK(journal_take(NULL, 1, 1, "") == -1,
             "no journal: take says -1 (the run goes on without)");

    rmdir(tmpl);
    free(s);
    return TH_DONE();
}
