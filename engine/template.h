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
/* Distinct partials and parents one template may reference (all levels):
 * a layout, a header, a footer and a few snippets are typical. */
#define TEMPLATE_PARTIALS_MAX 256
/* Source bytes of one template with all its partials: an email template
 * is a few KiB; 16 MiB keeps node offsets small and memory bounded. */
#define TEMPLATE_SOURCE_MAX (16 * 1024 * 1024)

struct template;

/*
 * template_loader - return the source of partial or parent `name`
 * (malloc'd, *len set, *path set to a static or malloc'd-by-loader name
 * for error messages valid for the loader's lifetime), or NULL if there
 * is none.  A missing partial renders as empty text (the spec).
 * template_compile copies *path at once (it may change at the next call)
 * and frees the source after compiling it.  Each name is asked for once;
 * `name` is the tag's content as written (the loader decides what names
 * it accepts: it must not let "../x" escape its directory).
 */
typedef char *(*template_loader)(const char *name, size_t *len,
                                 const char **path, void *arg);

/*
 * template_compile - compile src (len bytes).  path names the source in
 * errors ("promo.mustache:3:14: unclosed section \"items\"").  loader may
 * be NULL (no partials).  Errors: EX_DATAERR with file:line:column
 * (line and column count from 1, the column in UTF-8 characters):
 * "unclosed tag", "unclosed section", "unopened section", "mismatched
 * closing tag", "bad set-delimiters tag", "empty tag", "bad name", a
 * non-block tag inside a parent, nesting deeper than TEMPLATE_DEPTH_MAX,
 * more than TEMPLATE_PARTIALS_MAX partials, more than TEMPLATE_SOURCE_MAX
 * bytes.  An error in a partial names the partial's path.
 */
struct template *template_compile(const char *src, size_t len, const char *path,
                                  template_loader loader, void *arg,
                                  struct err *e);
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
 * to out.  Returns 0, or -1 with e set (strict miss, depth, buffer max)
 * and out as it was before the call.  o NULL means HTML escaping, not
 * strict.  No allocation happens except out growing; the stack values
 * are borrowed, not referenced.
 *
 * Values: strings as they are; integers in decimal; reals in the
 * shortest form that reads back the same (1.21, not 1.2100000000000000);
 * true/false as words; null as nothing.  Sections: false, null, "", []
 * and a missing name are false; a list repeats its content per item; any
 * other value is pushed on the stack for the content.
 */
int template_render(const struct template *t, json_t *const *stack, size_t n,
                    const struct template_render_opts *o, struct buf *out,
                    struct err *e);

/*
 * struct template_cache - look-ups in frames that do not change, kept from
 * one render to the next: a campaign renders the same template against
 * the same campaign data for every recipient, and the names it looks up
 * there (the fields of a list of products, say) find the same values
 * each time.  One cache per template and thread.
 */
struct template_cache;
struct template_cache *template_cache_new(const struct template *t);
void template_cache_free(struct template_cache *c);

/*
 * template_render_cached - template_render with a cache (NULL: none) for
 * the frames stack[0, stable): the caller promises that they, and every
 * value in them, are the same objects, unmodified, at every render with
 * this cache.  The other frames may change between renders (not while
 * one runs).  The output is what template_render gives.
 */
int template_render_cached(const struct template *t, json_t *const *stack,
                           size_t n, size_t stable,
                           const struct template_render_opts *o,
                           struct template_cache *cache, struct buf *out,
                           struct err *e);

/*
 * struct template_flat - a frame of plain fields kept by the caller in its
 * own memory: for data that changes at every render (a contact's
 * attributes), where building jansson objects would cost more than the
 * render.  keys[0, nkeys) are its names (a name given twice: the first
 * counts), vals[k] the value of keys[k] at this render.  The caller
 * changes epoch whenever the keys change (added, removed, renamed, moved)
 * while it renders with the same cache: the cache keeps where each name
 * of the template is among the keys, per (keys, nkeys, epoch).  Strings
 * are s[0, n), need not be NUL-terminated, and are output as they are;
 * integers in decimal; a value absent is not in the frame at all (names
 * resolve further down the stack), null is there and is nothing.  The
 * frame renders as a jansson object of the same fields would.
 */
enum template_flat_type {
    TEMPLATE_FLAT_ABSENT,
    TEMPLATE_FLAT_STRING,
    TEMPLATE_FLAT_INTEGER,
    TEMPLATE_FLAT_TRUE,
    TEMPLATE_FLAT_FALSE,
    TEMPLATE_FLAT_NULL,
};

struct template_flat_key {
    const char *s;
    size_t n;
};

struct template_flat_val {
    int type; /* enum template_flat_type */
    const char *s;
    size_t n;
    json_int_t i;
};

struct template_flat {
    const struct template_flat_key *keys;
    const struct template_flat_val *vals;
    size_t nkeys;
    unsigned long epoch;
};

/*
 * template_render_flat - template_render_cached with the flat frame f
 * (NULL: none) on top of stack[0, n).  The frame and the memory its keys
 * and values point to are borrowed for the call.  With a cache and every
 * frame of stack stable (stable >= n), the cache also keeps the last few
 * renders whole (TRACE_MAX in template.c): the output, where values of f
 * went, and whether each value of f consulted was absent, false or true;
 * a render whose consulted values are so again copies the output with
 * its own values put in.  Errors: as template_render.
 */
int template_render_flat(const struct template *t, json_t *const *stack,
                         size_t n, size_t stable, const struct template_flat *f,
                         const struct template_render_opts *o,
                         struct template_cache *cache, struct buf *out,
                         struct err *e);

/*
 * template_fields - call cb once for each distinct top-level name the
 * template (with its partials and parents) interpolates or tests, in
 * order of first use; "." and names under a section's own context are
 * included as written (dotted names whole).  `interpolated` is 1 when the
 * name is output with {{ }} somewhere outside a section of the same name
 * (judged within each file: a partial's {{x}} counts as unguarded even if
 * the partial is included inside {{#x}}).  Each partial is visited once,
 * at its first reference.
 */
typedef void (*template_field_cb)(const char *name, int interpolated,
                                  void *arg);
void template_fields(const struct template *t, template_field_cb cb, void *arg);

/*
 * template_missing - the partials and parents the loader had no source
 * for (the spec renders them as nothing; a campaign refuses them): cb,
 * when not NULL, once for each, at its first reference, with its name,
 * the path the loader gave for it, and the path, line and column of the
 * tag that references it.  Returns how many there are.
 */
typedef void (*template_missing_cb)(const char *name, const char *path,
                                    const char *from, unsigned line,
                                    unsigned col, void *arg);
size_t template_missing(const struct template *t, template_missing_cb cb,
                        void *arg);

#endif
