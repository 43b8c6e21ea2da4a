/* SPDX-License-Identifier: ISC */
/*
 * template.h - the Mustache renderer.
 *
 * Implements the Mustache specification (conformance suite in
 * ../shared/conformance/mustache: comments, delimiters, interpolation,
 * inverted, partials, sections, and ~inheritance for layouts: parents
 * {{<name}} and blocks {{$name}}).  Lambdas are not supported.
 *
 * A template is compiled once into a node array; partials and parents are
 * compiled on first reference at compile time (through the loader) and
 * kept in the compiled template, so rendering never parses.  Rendering
 * walks the nodes against a stack of JSON values (jansson), appending to
 * a caller-owned bounded buffer that is reused from one render to the
 * next.  Nesting depth (sections, partials, parents) is bounded by
 * TEMPLATE_DEPTH_MAX, so hostile or recursive templates cannot exhaust
 * the stack.  Merge values are data: they are output once and never
 * parsed as template text.
 */
#ifndef CAMPAIGN_TEMPLATE_H
#define CAMPAIGN_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Sections, partials and parents nested deeper than this are an error at
 * render time: legitimate layouts nest a handful of levels. */
#define TEMPLATE_DEPTH_MAX 64
/* Context stack frames the caller may pass. */
#define TEMPLATE_STACK_MAX 8

struct template;

/*
 * template_loader - return the source of partial or parent `name`
 * (malloc'd, *len set, *path set to a static or malloc'd-by-loader name
 * for error messages valid for the loader's lifetime), or NULL if there
 * is none.  A missing partial renders as empty text (the spec).
 */
typedef char *(*template_loader)(const char *name, size_t *len,
                                 const char **path, void *arg);

/*
 * template_compile - compile src (len bytes).  path names the source in
 * errors ("promo.mustache:3:14: unclosed section \"items\"").  loader may
 * be NULL (no partials).  Errors: EX_DATAERR with file:line:column.
 */
struct template *template_compile(const char *src, size_t len,
                                  const char *path, template_loader loader,
                                  void *arg, struct err *e);
/* template_free - NULL is a no-op. */
void template_free(struct template *t);

enum template_escape {
    TEMPLATE_ESCAPE_HTML, /* {{x}} escapes & < > " ' (HTML part) */
    TEMPLATE_ESCAPE_NONE, /* {{x}} raw (text part, headers) */
};

struct template_render_opts {
    enum template_escape escape;
    /* strict: interpolating a name that resolves to nothing is an error
     * (EX_DATAERR "file:line:col: field \"x\" is missing") instead of
     * empty text; sections on missing names stay simply false, so an
     * inverted section is the way to give a fallback. */
    int strict;
};

/*
 * template_render - render t against the context stack (stack[0] is the
 * bottom, stack[n-1] the top: names resolve from the top down), appending
 * to out.  Returns 0, or -1 with e set (strict miss, depth, buffer max).
 */
int template_render(const struct template *t, json_t *const *stack, size_t n,
                    const struct template_render_opts *o, struct buf *out,
                    struct err *e);

/*
 * template_fields - call cb once for each distinct top-level name the
 * template (with its partials and parents) interpolates or tests, in
 * order of first use; "." and names under a section's own context are
 * included as written (dotted names whole).  `interpolated` is 1 when the
 * name is output with {{ }} somewhere outside a section of the same name.
 */
typedef void (*template_field_cb)(const char *name, int interpolated,
                                  void *arg);
void template_fields(const struct template *t, template_field_cb cb,
                     void *arg);

#endif
