/* SPDX-License-Identifier: ISC */
/*
 * tmpl.h - campaign templates on disk (PRODUCT.md, Templates).
 *
 * templates/NAME.mustache holds a header block - Subject: (required),
 * From:, Reply-To:, Preheader:, Layout: - then a blank line, then the
 * HTML body.  templates/NAME.txt.mustache, when present, is the text
 * part; otherwise the text part is derived from the rendered HTML.
 * Partials and layouts come from templates/partials/NAME.mustache.
 * "Layout: base" wraps the body in the layout by Mustache inheritance:
 * the body fills the layout's {{$content}} block, or, when the body
 * defines blocks itself ({{$name}}...{{/name}}), it is the parent's
 * override list as written.
 *
 * Every part is compiled once (template.h) when the template is loaded.
 */
#ifndef CAMPAIGN_TMPL_H
#define CAMPAIGN_TMPL_H

#include <jansson.h>

#include "err.h"
#include "template.h"

struct tmpl {
    char *name;
    char *path;        /* templates/NAME.mustache */
    char *text_path;   /* templates/NAME.txt.mustache or NULL */
    char *subject_src; /* the header values as written */
    char *layout;      /* NULL or the layout name */
    struct template *subject;
    struct template *preheader; /* NULL if none */
    struct template *from;      /* NULL if none */
    struct template *reply_to;  /* NULL if none */
    struct template *html;
    struct template *text; /* NULL: derived from the HTML */
    /* file line of each part's first line, minus one: render errors
     * name body lines, tmpl_error_line() makes them file lines */
    int off_subject, off_from, off_reply_to, off_preheader, off_html;
    json_t *files; /* the files read, when loaded from a directory */
};

/* tmpl_error_line - turn "PATH:L:C: ..." naming line L of a part into the
 * file's line; off is one of the off_* fields. */
void tmpl_error_line(const struct tmpl *t, int off, struct err *e);

/*
 * tmpl_load - load and compile dir/NAME.mustache (and its text part).
 * Errors: EX_NOINPUT (no such template), EX_DATAERR (no Subject, bad
 * header line, Mustache errors with file:line:column).
 */
struct tmpl *tmpl_load(const char *dir, const char *name, struct err *e);
void tmpl_free(struct tmpl *t);

/*
 * tmpl_frozen - every file the load read (the template, its text part,
 * the partials and layout it used) as one JSON text (malloc'd), which a
 * campaign keeps so that it always renders what it started with; dir
 * names the templates directory in error messages.  NULL when t was
 * itself loaded from frozen files.
 */
char *tmpl_frozen(const struct tmpl *t, const char *dir);
/* tmpl_load_frozen - load NAME from tmpl_frozen's text; errors as
 * tmpl_load's. */
struct tmpl *tmpl_load_frozen(const char *frozen, const char *name,
                              struct err *e);

/*
 * tmpl_names - call cb with the name of every template in dir (files
 * NAME.mustache, not NAME.txt.mustache, not partials), sorted.  Returns
 * the count, or -1 (EX_NOINPUT) when dir cannot be read.
 */
typedef void (*tmpl_name_cb)(const char *name, void *arg);
int tmpl_names(const char *dir, tmpl_name_cb cb, void *arg, struct err *e);

/*
 * tmpl_fields - cb for each distinct field the template uses (all parts),
 * with `required` set when it is interpolated without a fallback, in
 * order of first use.
 */
void tmpl_fields(const struct tmpl *t, template_field_cb cb, void *arg);

/*
 * tmpl_missing - the partials and parents the template (any part) names
 * and that have no file: cb, when not NULL, once for each with the
 * message "PATH:LINE:COL: partial \"NAME\" is missing (ITS PATH)", the
 * line that of the template's file.  Returns how many.
 */
typedef void (*tmpl_missing_cb)(const char *msg, void *arg);
size_t tmpl_missing(const struct tmpl *t, tmpl_missing_cb cb, void *arg);

/*
 * tmpl_frozen_same - 1 when t, loaded from the templates directory, read
 * exactly the files `frozen` (tmpl_frozen's text) holds, with the same
 * contents; 0 otherwise (t loaded from frozen files, frozen NULL or not
 * a template's files).
 */
int tmpl_frozen_same(const struct tmpl *t, const char *frozen);

#endif
