/* SPDX-License-Identifier: ISC */
/*
 * cmd.h - what the subcommands share: the global options, the dispatch
 * table, and small helpers for output.  cmd/ knows argv and exit codes and
 * nothing else: the work is done by engine/ and db/.
 */
#ifndef CAMPAIGN_CMD_H
#define CAMPAIGN_CMD_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "../db/store.h"
#include "../engine/err.h"

struct ctx {
    const char *db_path;
    const char *config_path;
    int config_named; /* --config or $CAMPAIGN_CONFIG: it must exist */
    const char *templates_dir;
    int verbose;
    int quiet;
    int run_due;    /* send called by run-due: a campaign it found due, and
                       one summary line */
    int rate_share; /* run-due sends this many at once: each takes this
                       share of every rate (0, 1: all) */
};

struct command {
    const char *name; /* "import", "contacts show", ... */
    int (*run)(struct ctx *ctx, int argc, char **argv);
    const char *synopsis;
    const char *help; /* the text after the synopsis */
};

extern const struct command commands[];

int cmd_init(struct ctx *, int, char **);
int cmd_import(struct ctx *, int, char **);
int cmd_lists(struct ctx *, int, char **);
int cmd_render(struct ctx *, int, char **);
int cmd_contacts_show(struct ctx *, int, char **);
int cmd_contacts_forget(struct ctx *, int, char **);
int cmd_optout(struct ctx *, int, char **);
int cmd_suppress_import(struct ctx *, int, char **);
int cmd_suppress_list(struct ctx *, int, char **);
int cmd_suppress_lift(struct ctx *, int, char **);
int cmd_templates(struct ctx *, int, char **);
int cmd_preview(struct ctx *, int, char **);
int cmd_send(struct ctx *, int, char **);
int cmd_pause(struct ctx *, int, char **);
int cmd_resume(struct ctx *, int, char **);
int cmd_cancel(struct ctx *, int, char **);
int cmd_report(struct ctx *, int, char **);
int cmd_doctor(struct ctx *, int, char **);
int cmd_dkim_keygen(struct ctx *, int, char **);
int cmd_serve(struct ctx *, int, char **);
int cmd_bounces_parse(struct ctx *, int, char **);
int cmd_bounces_rules(struct ctx *, int, char **);
int cmd_bounces_ingest(struct ctx *, int, char **);
int cmd_bounces_fetch(struct ctx *, int, char **);
int cmd_run_due(struct ctx *, int, char **);
int cmd_resend(struct ctx *, int, char **);
int cmd_campaigns(struct ctx *, int, char **);

/* cmd_usage - print the command's help to f; returns EX_USAGE or 0. */
int cmd_usage(const char *name, FILE *f, int code);
/* cmd_fail - print e on stderr and return its exit code. */
int cmd_fail(const struct err *e);
/* cmd_config_load - config_load of ctx's configuration file; a file named
 * by --config or $CAMPAIGN_CONFIG must exist (EX_NOINPUT), the default
 * campaign.conf may be missing (the environment can give everything). */
struct config;
int cmd_config_load(struct ctx *ctx, struct config *cfg, struct err *e);
/* cmd_open - open the database (migrating it); NULL after printing. */
struct store *cmd_open(struct ctx *ctx, int *code);
/* cmd_time - "YYYY-MM-DD HH:MM:SS UTC" into buf (at least 32 bytes). */
const char *cmd_time(int64_t t, char *buf, size_t n);

/* cmd_csv_cell - one CSV cell, quoted, and neutralised against formula
 * injection (a leading = + - @ TAB or CR gets a ' in front). */
void cmd_csv_cell(FILE *f, const char *s);
/* cmd_csv_quote - the cell cmd_csv_cell writes, of the n bytes at s, into
 * dst, which has room for CMD_CSV_QUOTED_MAX(n) bytes; its length. */
#define CMD_CSV_QUOTED_MAX(n) (2 * (size_t)(n) + 3)
size_t cmd_csv_quote(char *dst, const char *s, size_t n);

/* report_csv_write - campaign report NAME --format csv --out path
 * (cmd/report_csv.c): the campaign's recipients one a row, into a
 * temporary file renamed over path once complete (mode 0600); *rows
 * counts them.  -1 with e filled (EX_CANTCREAT: path not written whole,
 * left as it was). */
int report_csv_write(struct ctx *ctx, struct store *st, int64_t id,
                     const char *path, long *rows, struct err *e);
/* report_csv_write_all - campaign report --format csv --out path: the
 * same for every campaign (in id order), a first column naming it. */
int report_csv_write_all(struct ctx *ctx, struct store *st, const char *path,
                         long *rows, struct err *e);

/* report_html_file - campaign report NAME --format html --out path
 * (cmd/report_html.c): the page of doc (engine/report_html.h) into a
 * temporary file renamed over path once complete (mode 0600).  -1 with
 * e filled (EX_CANTCREAT: path not written whole, left as it was). */
int report_html_file(struct ctx *ctx, const json_t *doc, const char *path,
                     struct err *e);

/* cmd_safe - s for a terminal: every control character (ESC, CR, LF,
 * TAB, ... and DEL) as \xHH, so that a value from a CSV file cannot
 * drive it; s itself when it has none.  Valid until the eighth call
 * after.  NULL stays NULL. */
const char *cmd_safe(const char *s);

/* cmd_name_check - a campaign or list name: 1 to LIST_NAME_MAX bytes,
 * not only spaces, no control character; 0, or -1 after saying so
 * (naming the option what). */
int cmd_name_check(const char *what, const char *s);

/* cmd_opt_reset - prepare getopt_long for a fresh argv. */
void cmd_opt_reset(void);

#endif
