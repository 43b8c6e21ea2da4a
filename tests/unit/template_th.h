/* SPDX-License-Identifier: ISC */
/*
 * template_th.h - what the template tests share (test_template.c,
 * test_mustache.c): partials from a list, and one compile-and-render.
 */
#ifndef CAMPAIGN_TEMPLATE_TH_H
#define CAMPAIGN_TEMPLATE_TH_H

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "template.h"
#include "xalloc.h"

/* Partials for a case: name, source, name, source, ..., NULL. */
typedef const char *const partial_set[9];

static char *
load(const char *name, size_t *len, const char **path, void *arg)
{
    const char *const *p = arg;
    static char pathbuf[128];

    for (; p && p[0]; p += 2) {
        if (strcmp(p[0], name) == 0) {
            snprintf(pathbuf, sizeof pathbuf, "%s.mustache", name);
            *path = pathbuf;
            *len = strlen(p[1]);
            return xstrdup(p[1]);
        }
    }
    return NULL;
}

/*
 * render_case - compile src with the partials and render it against data
 * (JSON); the output, or "ERR:" and the message.  The result is in a
 * static buffer.
 */
static const char *
render_case(const char *src, const char *data, const char *const *partials,
            int strict, enum template_escape esc)
{
    static char res[4096];
    struct template_render_opts o = {esc, strict};
    struct template *t;
    json_error_t je;
    json_t *v = NULL;
    struct buf out;
    struct err e;

    err_clear(&e);
    t = template_compile(src, strlen(src), "t.mustache", load, (void *)partials,
                         &e);
    if (t == NULL) {
        snprintf(res, sizeof res, "ERR:%s", e.msg);
        return res;
    }
    v = json_loads(data ? data : "{}", JSON_DECODE_ANY, &je);
    if (v == NULL) {
        template_free(t);
        snprintf(res, sizeof res, "BAD JSON: %s", je.text);
        return res;
    }
    buf_init(&out, 0);
    if (template_render(t, &v, 1, &o, &out, &e) == -1)
        snprintf(res, sizeof res, "ERR:%s", e.msg);
    else
        snprintf(res, sizeof res, "%s", out.p ? out.p : "");
    buf_free(&out);
    json_decref(v);
    template_free(t);
    return res;
}

#endif
