/* SPDX-License-Identifier: ISC */
/*
 * test_template.c - the Mustache renderer (engine/template.c) beyond the
 * spec (whose every test has a counterpart in test_mustache.c): compile
 * errors with path:line:column, strict misses, the depth bound, merge
 * values never re-parsed, escaping, values, template_fields, buffer reuse
 * and limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "th.h"

#include "template_th.h"

#include "buf.h"
#include "template.h"
#include "tmpl.h"
#include "xalloc.h"

static const struct {
    const char *name;
    const char *src;
    const char *data;
    partial_set partials;
    int strict;
    const char *want; /* output, or "ERR:" + the exact message */
} cases[] = {
    /* compile errors: path:line:column, columns in characters */
    {"unclosed section",
     "a\n  {{#items}}\nx",
     NULL,
     {NULL},
     0,
     "ERR:t.mustache:2:3: unclosed section \"items\""},
    {"unopened section",
     "ok\n{{/items}}",
     NULL,
     {NULL},
     0,
     "ERR:t.mustache:2:1: unopened section \"items\""},
    {"mismatched closing tag",
     "{{#a}}{{#b}}{{/a}}",
     NULL,
     {NULL},
     0,
     "ERR:t.mustache:1:13: mismatched closing tag \"a\" (\"b\" opened at "
     "1:7 is still open)"},
    {"unclosed tag",
     "Hello {{name",
     NULL,
     {NULL},
     0,
     "ERR:t.mustache:1:7: unclosed tag"},
    {"unclosed triple",
     "{{{name}}",
     NULL,
     {NULL},
     0,
     "ERR:t.mustache:1:1: unclosed tag"},
    {"column counts UTF-8 characters",
     "città {{#x}}",
     NULL,
     {NULL},
     0,
     "ERR:t.mustache:1:7: unclosed section \"x\""},
    {"bad delimiters (one)",
     "{{=<%%>=}}",
     NULL,
     {NULL},
     0,
     "ERR:t.mustache:1:1: bad set-delimiters tag"},
    {"bad delimiters (=)",
     "x\n{{=a= b=}}",
     NULL,
     {NULL},
     0,
     "ERR:t.mustache:2:1: bad set-delimiters tag"},
    {"unclosed tag after new delimiters",
     "{{=<% %>=}}\n<% x",
     NULL,
     {NULL},
     0,
     "ERR:t.mustache:2:1: unclosed tag"},
    {"empty tag", "{{ }}", NULL, {NULL}, 0, "ERR:t.mustache:1:1: empty tag"},
    {"blank inside a name",
     "{{first name}}",
     NULL,
     {NULL},
     0,
     "ERR:t.mustache:1:1: bad name \"first name\""},
    {"empty dotted part",
     "{{a..b}}",
     NULL,
     {NULL},
     0,
     "ERR:t.mustache:1:1: bad name \"a..b\""},
    {"error inside a partial names the partial",
     "ok {{>p}}",
     NULL,
     {"p", "line\n{{#open}}", NULL},
     0,
     "ERR:p.mustache:2:1: unclosed section \"open\""},
    {"interpolation inside a parent",
     "{{<layout}}{{x}}{{/layout}}",
     NULL,
     {NULL},
     0,
     "ERR:t.mustache:1:12: only {{$block}} tags may appear inside parent "
     "\"layout\""},

    /* strict mode */
    {"strict miss",
     "Hi {{name}}!",
     "{}",
     {NULL},
     1,
     "ERR:t.mustache:1:4: field \"name\" is missing"},
    {"strict miss, dotted",
     "x\n {{a.b}}",
     "{\"a\":{}}",
     {NULL},
     1,
     "ERR:t.mustache:2:2: field \"a.b\" is missing"},
    {"strict miss in a partial",
     "{{>foot}}",
     "{}",
     {"foot", "\n{{{url}}}", NULL},
     1,
     "ERR:foot.mustache:2:1: field \"url\" is missing"},
    {"strict: sections on a miss are false",
     "{{#vip}}VIP {{/vip}}{{^nick}}"
     "friend{{/nick}}",
     "{}",
     {NULL},
     1,
     "friend"},
    {"strict: inverted fallback",
     "{{^name}}Customer{{/name}}{{#name}}"
     "{{name}}{{/name}}",
     "{\"name\":\"Ada\"}",
     {NULL},
     1,
     "Ada"},
    {"strict: null is present", "[{{x}}]", "{\"x\":null}", {NULL}, 1, "[]"},
    {"strict: object is not text",
     "{{a}}",
     "{\"a\":{}}",
     {NULL},
     1,
     "ERR:t.mustache:1:1: field \"a\" is a list or object, not text"},
    {"not strict: miss is empty", "Hi {{name}}!", "{}", {NULL}, 0, "Hi !"},

    /* the depth bound */
    {"partial including itself",
     "{{>self}}",
     NULL,
     {"self", "x{{>self}}", NULL},
     0,
     "ERR:self.mustache:1:2: nesting deeper than 64"},
    {"parent including itself",
     "{{<p}}{{/p}}",
     NULL,
     {"p", "{{<p}}{{$b}}x{{/b}}{{/p}}", NULL},
     0,
     "ERR:p.mustache:1:1: nesting deeper than 64"},
    {"recursive partial follows the data",
     "{{>node}}",
     "{\"n\":1,\"kids\":[{\"n\":2,\"kids\":[{\"n\":3,\"kids\":[]}]},"
     "{\"n\":4,\"kids\":[]}]}",
     {"node", "{{n}}({{#kids}}{{>node}}{{/kids}})", NULL},
     0,
     "1(2(3())4())"},
    {"recursive partial too deep for the bound",
     "{{>node}}",
     "{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":"
     "{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":"
     "{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":"
     "{\"k\":{\"k\":{\"k\":{\"k\":1}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}",
     {"node", "{{#k}}{{>node}}{{/k}}", NULL},
     0,
     "ERR:node.mustache:1:7: nesting deeper than 64"},

    /* merge values are data, never template text */
    {"no re-evaluation",
     "{{x}}|{{{x}}}|{{#s}}{{x}}{{/s}}",
     "{\"x\":\"{{y}}{{>p}}\",\"y\":\"BAD\",\"s\":true}",
     {"p", "BAD", NULL},
     0,
     "{{y}}{{&gt;p}}|{{y}}{{>p}}|{{y}}{{&gt;p}}"},
    {"no re-evaluation of delimiters",
     "{{x}}",
     "{\"x\":\"{{=| |=}}|y|\"}",
     {NULL},
     0,
     "{{=| |=}}|y|"},
    {"HTML escaping",
     "{{x}}|{{{x}}}|{{&x}}",
     "{\"x\":\"<a href='u'>\\\"R&D\\\"</a>\"}",
     {NULL},
     0,
     "&lt;a href=&#39;u&#39;&gt;&quot;R&amp;D&quot;&lt;/a&gt;|"
     "<a href='u'>\"R&D\"</a>|<a href='u'>\"R&D\"</a>"},
    {"non-ASCII untouched",
     "{{x}}",
     "{\"x\":\"Perché è così\"}",
     {NULL},
     0,
     "Perché è così"},

    /* values and sections */
    {"numbers",
     "{{i}} {{r}} {{w}} {{n}} {{b}}",
     "{\"i\":85,\"r\":1.21,\"w\":2.0,\"n\":-0.5,\"b\":true}",
     {NULL},
     0,
     "85 1.21 2 -0.5 true"},
    {"empty string and list are false",
     "{{#s}}S{{/s}}{{^s}}s{{/s}}{{#l}}L{{/l}}{{^l}}l{{/l}}{{#z}}Z{{/z}}",
     "{\"s\":\"\",\"l\":[],\"z\":0}",
     {NULL},
     0,
     "slZ"},
    {"list of products",
     "{{#items}}- {{title}}: {{price}} EUR\n{{/items}}",
     "{\"items\":[{\"title\":\"Pasta\",\"price\":1.5},"
     "{\"title\":\"Olio\",\"price\":7}]}",
     {NULL},
     0,
     "- Pasta: 1.5 EUR\n- Olio: 7 EUR\n"},
    {"data may be a string", "Hi {{.}}", "\"world\"", {NULL}, 0, "Hi world"},
    {"layout with blocks",
     "{{<layout}}\n{{$title}}Sale{{/title}}\n{{$body}}\n  <p>Hi "
     "{{name}}</p>\n  <p>Bye</p>\n{{/body}}\n{{/layout}}\n",
     "{\"name\":\"Ada\"}",
     {"layout",
      "<title>{{$title}}News{{/title}}</title>\n<body>\n    {{$body}}\n"
      "    {{/body}}\n</body>\n",
      NULL},
     0,
     "<title>Sale</title>\n<body>\n    <p>Hi Ada</p>\n    <p>Bye</p>\n"
     "</body>\n"},
    {"inline block pair keeps its line end (spec: Standalone block)",
     "{{<layout}}{{$body}}\nx\n{{/body}}{{/layout}}",
     NULL,
     {"layout", "<b>\n  {{$body}}{{/body}}\n</b>", NULL},
     0,
     "<b>\n  x\n\n</b>"},
    {"indented partial inside an indented partial",
     "<ul>\n  {{>li}}\n</ul>",
     "{\"xs\":[1,2]}",
     {"li", "{{#xs}}\n<li>\n  {{>v}}\n</li>\n{{/xs}}", "v", "{{.}}\n", NULL},
     0,
     "<ul>\n  <li>\n    1\n  </li>\n  <li>\n    2\n  </li>\n</ul>"},
};

/* ---- template_fields ---- */

static void
collect(const char *name, int interpolated, void *arg)
{
    struct buf *b = arg;

    if (buf_printf(b, "%s%s:%d", b->len ? " " : "", name, interpolated) == -1)
        abort();
}

static void
test_fields(void)
{
    static const char src[] =
        "{{name}} {{#items}}{{title}}{{/items}} {{#vip}}{{vip}}{{/vip}}"
        "{{^nick}}friend{{/nick}}{{nick}} {{a.b}} {{.}} {{>foot}} {{name}}";
    static const char *const parts[] = {
        "foot", "{{{unsubscribe_url}}} {{#items}}{{/items}}", NULL};
    struct template *t;
    struct err e;
    struct buf b;

    err_clear(&e);
    t = template_compile(src, strlen(src), "t", load, (void *)parts, &e);
    TH_CHECK(t != NULL, "fields: compiles");
    if (t == NULL)
        return;
    buf_init(&b, 0);
    template_fields(t, collect, &b);
    TH_STREQ(b.p,
             "name:1 items:0 title:1 vip:0 nick:1 a.b:1 .:1 "
             "unsubscribe_url:1",
             "fields: names in order of first use, interpolated flag");
    buf_free(&b);
    template_free(t);
}

/* ---- template_missing ---- */

static void
missing_cb(const char *name, const char *path, const char *from, unsigned line,
           unsigned col, void *arg)
{
    struct buf *b = arg;

    if (buf_printf(b, "%s%s(%s)@%s:%u:%u", b->len ? " " : "", name, path, from,
                   line, col) == -1)
        abort();
}

static void
test_missing(void)
{
    static const char src[] = "a\n  {{>head}} {{>gone}}\n{{<layout}}{{/layout}}"
                              "{{>gone}}";
    static const char *const parts[] = {"head", "{{>gone}}{{>also}}", NULL};
    static const char *const all[] = {"x", "x", NULL};
    struct template *t;
    struct err e;
    struct buf b;

    err_clear(&e);
    t = template_compile(src, strlen(src), "t", load, (void *)parts, &e);
    TH_CHECK(t != NULL, "missing: compiles (a missing partial is empty text)");
    if (t == NULL)
        return;
    buf_init(&b, 0);
    TH_CHECK(template_missing(t, missing_cb, &b) == 3,
             "missing: three partials have no source");
    TH_STREQ(b.p,
             "gone(gone)@t:2:13 layout(layout)@t:3:1 "
             "also(also)@head.mustache:1:10",
             "missing: each once, at its first reference, in order");
    buf_free(&b);
    template_free(t);
    t = template_compile("{{>x}}", 6, "t", load, (void *)all, &e);
    TH_CHECK(t != NULL && template_missing(t, NULL, NULL) == 0,
             "missing: none when every partial has a source");
    template_free(t);
}

/* ---- tmpl_missing, tmpl_frozen_same: campaign templates on disk ---- */

static void
put(const char *dir, const char *rel, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    if ((f = fopen(path, "w")) == NULL)
        abort();
    fputs(text, f);
    fclose(f);
}

static void
missing_msg(const char *msg, void *arg)
{
    struct buf *b = arg;

    if (buf_printf(b, "%s%s", b->len ? "|" : "", msg) == -1)
        abort();
}

static void
test_tmpl_files(void)
{
    char dir[] = "/tmp/test_template.XXXXXX", sub[600], want[1024];
    struct tmpl *t, *t2, *t3;
    struct err e;
    struct buf b;
    char *frozen;

    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(sub, sizeof sub, "%s/partials", dir);
    if (mkdir(sub, 0700) == -1)
        abort();
    put(dir, "n.mustache", "Subject: s {{>sp}}\n\n<p>\n{{>foot}} {{>gone}}\n");
    put(dir, "partials/foot.mustache", "foot {{>deep}}");
    err_clear(&e);
    t = tmpl_load(dir, "n", &e);
    TH_CHECK(t != NULL, "tmpl: loads with missing partials");
    if (t == NULL)
        return;
    buf_init(&b, 0);
    TH_CHECK(tmpl_missing(t, missing_msg, &b) == 3,
             "tmpl: three missing partials");
    snprintf(want, sizeof want,
             "%s/n.mustache:1:3: partial \"sp\" is missing "
             "(%s/partials/sp.mustache)|"
             "%s/n.mustache:4:11: partial \"gone\" is missing "
             "(%s/partials/gone.mustache)|"
             "%s/partials/foot.mustache:1:6: partial \"deep\" is missing "
             "(%s/partials/deep.mustache)",
             dir, dir, dir, dir, dir, dir);
    TH_STREQ(b.p, want,
             "tmpl: missing partials named at the template's "
             "file line, in part order");
    buf_free(&b);
    frozen = tmpl_frozen(t, dir);
    TH_CHECK(frozen != NULL && tmpl_frozen_same(t, frozen) == 1,
             "tmpl: the files are the frozen ones");
    t2 = tmpl_load(dir, "n", &e);
    TH_CHECK(t2 != NULL && tmpl_frozen_same(t2, frozen) == 1,
             "tmpl: loaded again, the same files");
    put(dir, "partials/foot.mustache", "foot fixed");
    t3 = tmpl_load(dir, "n", &e);
    TH_CHECK(t3 != NULL && tmpl_frozen_same(t3, frozen) == 0,
             "tmpl: a partial changed: not the frozen files");
    TH_CHECK(tmpl_frozen_same(t, NULL) == 0 &&
                 tmpl_frozen_same(t, "{\"files\": 1}") == 0,
             "tmpl: no frozen files, or not a template's: not the same");
    free(frozen);
    tmpl_free(t);
    tmpl_free(t2);
    tmpl_free(t3);
    snprintf(want, sizeof want, "rm -rf '%s'", dir); /* the scratch directory */
    if (system(want) != 0)
        abort();
}

/* ---- one compiled template, many renders, one buffer ---- */

static void
test_reuse(void)
{
    static const char src[] = "Dear {{name}},{{#vip}} VIP{{/vip}}\n";
    static const char *const names[] = {"Ada", "Bob & Co", "Carla"};
    struct template_render_opts o = {TEMPLATE_ESCAPE_HTML, 1};
    struct template *t;
    struct err e;
    struct buf b;
    char want[64];
    int ok = 1;

    err_clear(&e);
    t = template_compile(src, strlen(src), "t", NULL, NULL, &e);
    TH_CHECK(t != NULL, "reuse: compiles");
    if (t == NULL)
        return;
    buf_init(&b, 0);
    for (int round = 0; round < 300; round++) {
        int k = round % 3;
        json_t *v = json_pack("{s:s, s:b}", "name", names[k], "vip", k == 2);
        buf_reset(&b);
        if (template_render(t, &v, 1, &o, &b, &e) == -1)
            ok = 0;
        snprintf(want, sizeof want, "Dear %s,%s\n",
                 k == 1 ? "Bob &amp; Co" : names[k], k == 2 ? " VIP" : "");
        if (b.p == NULL || strcmp(b.p, want) != 0)
            ok = 0;
        json_decref(v);
    }
    TH_CHECK(ok, "reuse: 300 renders of one template into one buffer");

    /* rendering appends; a contact over the campaign data (top wins) */
    {
        json_t *stack[2];
        stack[0] = json_pack("{s:s, s:b}", "name", "campaign", "vip", 1);
        stack[1] = json_pack("{s:s}", "name", "Dora");
        buf_reset(&b);
        ok = buf_puts(&b, "> ") == 0 &&
             template_render(t, stack, 2, &o, &b, &e) == 0;
        TH_STREQ(ok ? b.p : NULL, "> Dear Dora, VIP\n",
                 "render appends; names resolve from the top of the stack");
        json_decref(stack[0]);
        json_decref(stack[1]);
    }

    /* an error leaves the buffer as it was */
    {
        json_t *v = json_object();
        buf_reset(&b);
        ok = buf_puts(&b, "kept") == 0 &&
             template_render(t, &v, 1, &o, &b, &e) == -1;
        TH_CHECK(ok && b.len == 4 && strcmp(b.p, "kept") == 0,
                 "strict miss: buffer unchanged");
        TH_STREQ(e.msg, "t:1:6: field \"name\" is missing",
                 "strict miss: message");
        json_decref(v);
    }
    buf_free(&b);

    /* a bounded buffer: past max is an error, not truncation */
    {
        json_t *v = json_pack("{s:s}", "name", "a very long name indeed");
        buf_init(&b, 16);
        ok = template_render(t, &v, 1, &o, &b, &e) == -1 && b.len == 0;
        TH_CHECK(ok && strstr(e.msg, "exceeds 16 bytes") != NULL,
                 "output past the buffer max is an error");
        buf_free(&b);
        json_decref(v);
    }

    /* escaping off for text parts and headers */
    {
        json_t *v = json_pack("{s:s}", "name", "<Ann>");
        struct template_render_opts raw = {TEMPLATE_ESCAPE_NONE, 0};
        buf_init(&b, 0);
        ok = template_render(t, &v, 1, &raw, &b, &e) == 0;
        TH_STREQ(ok ? b.p : NULL, "Dear <Ann>,\n", "TEMPLATE_ESCAPE_NONE");
        buf_reset(&b);
        ok = template_render(t, &v, 1, NULL, &b, &e) == 0;
        TH_STREQ(ok ? b.p : NULL, "Dear &lt;Ann&gt;,\n",
                 "NULL options: HTML escaping, not strict");
        buf_free(&b);
        json_decref(v);
    }

    /* the caller's stack is bounded */
    {
        json_t *stack[TEMPLATE_STACK_MAX + 1];
        for (int i = 0; i <= TEMPLATE_STACK_MAX; i++)
            stack[i] = json_object();
        buf_init(&b, 0);
        TH_CHECK(
            template_render(t, stack, TEMPLATE_STACK_MAX + 1, &o, &b, &e) == -1,
            "context stack deeper than TEMPLATE_STACK_MAX refused");
        buf_free(&b);
        for (int i = 0; i <= TEMPLATE_STACK_MAX; i++)
            json_decref(stack[i]);
    }
    template_free(t);
}

/* ---- nesting bound at compile time ---- */

static void
free_null(void)
{
    template_free(NULL);
}

static void
test_nesting(void)
{
    struct buf src;
    struct err e;
    struct template *t;
    int ok;

    buf_init(&src, 0);
    ok = 1;
    for (int i = 0; i < TEMPLATE_DEPTH_MAX; i++)
        ok &= buf_puts(&src, "{{#a}}") == 0;
    for (int i = 0; i < TEMPLATE_DEPTH_MAX; i++)
        ok &= buf_puts(&src, "{{/a}}") == 0;
    err_clear(&e);
    t = template_compile(src.p, src.len, "t", NULL, NULL, &e);
    TH_CHECK(ok && t != NULL, "%d nested sections compile", TEMPLATE_DEPTH_MAX);
    template_free(t);

    buf_reset(&src);
    for (int i = 0; i < 100000; i++)
        ok &= buf_puts(&src, "{{#a}}") == 0;
    t = template_compile(src.p, src.len, "t", NULL, NULL, &e);
    TH_CHECK(ok && t == NULL && e.kind == EX_DATAERR,
             "100000 nested sections refused, no crash");
    TH_STREQ(e.msg, "t:1:385: sections nested deeper than 64",
             "nesting error names where");

    t = template_compile("", 0, NULL, NULL, NULL, &e);
    buf_reset(&src);
    TH_CHECK(t != NULL && template_render(t, NULL, 0, NULL, &src, &e) == 0 &&
                 src.len == 0,
             "empty source, empty stack: empty output");
    buf_free(&src);
    template_free(t);
    TH_CHECK(th_survives(free_null), "template_free(NULL) is a no-op");
}

/* ---- a flat frame renders as the jansson object of the same fields ---- */

static uint64_t flat_rng = 0x2545f4914f6cdd1dULL;

static unsigned
flat_next(unsigned n)
{
    flat_rng ^= flat_rng >> 12;
    flat_rng ^= flat_rng << 25;
    flat_rng ^= flat_rng >> 27;
    return (unsigned)((flat_rng * 2685821657736338717ULL) >> 33) % n;
}

/* render_both - t against data and the fields as an object (2 frames),
 * and against data and the same fields as a flat frame; each with and
 * without a cache.  1 when all four give the same output or error. */
static int
render_both(const struct template *t, json_t *data, json_t *obj,
            const struct template_flat *f, const struct template_render_opts *o,
            struct template_cache *ca, struct template_cache *cb,
            const char **why)
{
    json_t *stack[2] = {data, obj};
    struct buf b[4];
    struct err e[4];
    int r[4], ok = 1;

    for (int k = 0; k < 4; k++) {
        buf_init(&b[k], 0);
        err_clear(&e[k]);
    }
    r[0] = template_render_cached(t, stack, 2, 1, o, ca, &b[0], &e[0]);
    r[1] = template_render_flat(t, stack, 1, 1, f, o, cb, &b[1], &e[1]);
    r[2] = template_render(t, stack, 2, o, &b[2], &e[2]);
    r[3] = template_render_flat(t, stack, 1, 1, f, o, NULL, &b[3], &e[3]);
    for (int k = 1; k < 4; k++) {
        if (r[k] != r[0] ||
            (r[0] == 0 && (b[k].len != b[0].len ||
                           (b[0].len && memcmp(b[k].p, b[0].p, b[0].len)))) ||
            (r[0] == -1 && strcmp(e[k].msg, e[0].msg) != 0)) {
            static char msg[512];
            snprintf(msg, sizeof msg, "[%d] \"%.200s\" vs \"%.200s\"", k,
                     r[k] == 0 ? (b[k].p ? b[k].p : "") : e[k].msg,
                     r[0] == 0 ? (b[0].p ? b[0].p : "") : e[0].msg);
            *why = msg;
            ok = 0;
            break;
        }
    }
    for (int k = 0; k < 4; k++)
        buf_free(&b[k]);
    return ok;
}

static void
test_flat(void)
{
    static const char *const srcs[] = {
        "{{a}}|{{{a}}}|{{b}}|{{name}}|{{n}}|{{k}}|{{z}}",
        "{{#a}}A{{.}}{{/a}}{{^a}}noA{{/a}}{{#b}}[{{b}}]{{/b}}{{^b}}-{{/b}}",
        "{{a.x}}|{{k.x}}|{{name.x}}|{{#k}}{{x}}{{/k}}|{{#k}}{{.}}{{/k}}",
        "{{#items}}<{{x}}{{name}}{{a}}{{#b}}b{{/b}}{{^z}}!{{/z}}>{{/items}}",
        "{{.}}|{{#.}}{{a}}{{/.}}|{{^.}}none{{/.}}",
        "{{#items}}{{#k}}{{x}}{{a}}{{/k}}{{/items}}{{#a}}{{#items}}{{a}}{{."
        "}}{{/items}}{{/a}}",
        "{{#name}}{{name}}{{/name}}{{^name}}friend{{/name}}, {{>p}}",
        "{{<lay}}{{$b}}{{#a}}{{a}}{{/a}}{{k.x}}{{/b}}{{/lay}}",
        "{{#n}}{{n}}{{#.}}({{.}}){{/.}}{{/n}}{{#z}}Z{{z}}{{/z}}",
    };
    static const char *const parts[] = {"p", "{{#items}}{{a}}{{/items}}{{b}}",
                                        "lay", "<{{$b}}d{{/b}}>", NULL};
    static const char *const names[] = {"a",     "b", "name", "k",
                                        "items", "n", "z",    "x"};
    static const char *const texts[] = {"", "Ada", "<R&D>", "\"q\" 'x'",
                                        "città"};
    json_t *data = json_loads(
        "{\"a\":\"DA\",\"name\":\"dn\",\"k\":{\"x\":\"kx\"},\"items\":"
        "[{\"x\":1},{\"y\":2,\"b\":false},{\"x\":\"three\",\"a\":null}]}",
        0, NULL);
    struct template_flat_key keys[8];
    struct template_flat_val vals[8];
    struct template_flat f = {keys, vals, 0, 1};
    int ok = 1, n = 0;
    const char *why = "";

    for (size_t s = 0; s < sizeof srcs / sizeof srcs[0] && ok; s++) {
        struct err e;
        struct template *t = template_compile(srcs[s], strlen(srcs[s]), "t",
                                              load, (void *)parts, &e);
        struct template_cache *ca, *cb;
        if (t == NULL) {
            TH_CHECK(0, "flat: compiles %s: %s", srcs[s], e.msg);
            continue;
        }
        ca = template_cache_new(t);
        cb = template_cache_new(t);
        f.nkeys = 0;
        for (int round = 0; round < 400 && ok; round++) {
            struct template_render_opts o = {
                flat_next(2) ? TEMPLATE_ESCAPE_HTML : TEMPLATE_ESCAPE_NONE,
                (int)flat_next(2)};
            json_t *obj = json_object();
            /* now and then the keys change: more of them, another order */
            if (f.nkeys == 0 || flat_next(10) == 0) {
                f.nkeys = 1 + flat_next(8);
                for (size_t k = 0; k < f.nkeys; k++) {
                    keys[k].s = names[(k + (size_t)round) % 8];
                    keys[k].n = strlen(keys[k].s);
                }
                f.epoch++;
            }
            for (size_t k = 0; k < f.nkeys; k++) {
                struct template_flat_val *v = &vals[k];
                json_t *j = NULL;
                memset(v, 0, sizeof *v);
                /* absent half the time: names fall through to data */
                v->type = flat_next(2) ? (int)flat_next(6) : 0;
                switch (v->type) {
                case TEMPLATE_FLAT_STRING:
                    v->s = texts[flat_next(5)];
                    v->n = strlen(v->s);
                    j = json_stringn(v->s, v->n);
                    break;
                case TEMPLATE_FLAT_INTEGER:
                    v->i = (json_int_t)flat_next(3) - 1;
                    j = json_integer(v->i);
                    break;
                case TEMPLATE_FLAT_TRUE:
                    j = json_true();
                    break;
                case TEMPLATE_FLAT_FALSE:
                    j = json_false();
                    break;
                case TEMPLATE_FLAT_NULL:
                    j = json_null();
                    break;
                default:
                    break;
                }
                if (j != NULL)
                    json_object_setn_new(obj, keys[k].s, keys[k].n, j);
            }
            ok = render_both(t, data, obj, &f, &o, ca, cb, &why);
            n++;
            json_decref(obj);
        }
        TH_CHECK(ok, "flat frame = object: %s %s", srcs[s], why);
        template_cache_free(ca);
        template_cache_free(cb);
        template_free(t);
    }
    TH_CHECK(n > 3000, "flat frame: %d renders compared", n);
    json_decref(data);
}

/* ---- HTML escaping of any bytes, any length ---- */

/* escape_ref - the escaping put_html does, a byte at a time. */
static void
escape_ref(struct buf *b, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int r;
        switch (s[i]) {
        case '&':
            r = buf_puts(b, "&amp;");
            break;
        case '<':
            r = buf_puts(b, "&lt;");
            break;
        case '>':
            r = buf_puts(b, "&gt;");
            break;
        case '"':
            r = buf_puts(b, "&quot;");
            break;
        case '\'':
            r = buf_puts(b, "&#39;");
            break;
        default:
            r = buf_putc(b, s[i]);
            break;
        }
        if (r == -1)
            abort();
    }
}

static void
test_escape(void)
{
    static const char src[] = "[{{x}}]";
    unsigned char v[256 + 16];
    struct template_flat_key key = {"x", 1};
    struct template_flat_val val = {TEMPLATE_FLAT_STRING, NULL, 0, 0};
    struct template_flat f = {&key, &val, 1, 1};
    struct err e;
    struct template *t =
        template_compile(src, sizeof src - 1, "t", NULL, NULL, &e);
    struct buf got, want;
    int ok = t != NULL, n = 0;

    buf_init(&got, 0);
    buf_init(&want, 0);
    /* every length 0..200, at every offset of a 16-byte block, with a
     * byte to escape (or not) at each place; then all 256 byte values */
    for (size_t len = 0; len <= 200 && ok; len++) {
        for (size_t off = 0; off < 16 && ok; off++) {
            unsigned char *s = v + off;
            for (size_t i = 0; i < len; i++)
                s[i] = (unsigned char)flat_next(4) == 0
                           ? (unsigned char)"&<>\"'"[flat_next(5)]
                           : (unsigned char)flat_next(256);
            val.s = (const char *)s;
            val.n = len;
            buf_reset(&got);
            buf_reset(&want);
            ok = template_render_flat(t, NULL, 0, 0, &f, NULL, NULL, &got,
                                      &e) == 0;
            escape_ref(&want, (const unsigned char *)"[", 1);
            escape_ref(&want, s, len);
            escape_ref(&want, (const unsigned char *)"]", 1);
            ok = ok && got.len == want.len &&
                 memcmp(got.p, want.p, want.len) == 0;
            n++;
        }
    }
    for (size_t i = 0; i < 256; i++)
        v[i] = (unsigned char)i;
    val.s = (const char *)v;
    val.n = 256;
    buf_reset(&got);
    buf_reset(&want);
    ok = ok &&
         template_render_flat(t, NULL, 0, 0, &f, NULL, NULL, &got, &e) == 0;
    want.len = 0;
    escape_ref(&want, (const unsigned char *)"[", 1);
    escape_ref(&want, v, 256);
    escape_ref(&want, (const unsigned char *)"]", 1);
    ok = ok && got.len == want.len && memcmp(got.p, want.p, want.len) == 0;
    TH_CHECK(ok,
             "HTML escaping = a byte at a time: %d strings, then all 256 "
             "bytes",
             n);
    buf_free(&got);
    buf_free(&want);
    template_free(t);
}

int
main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got =
            render_case(cases[i].src, cases[i].data, cases[i].partials,
                        cases[i].strict, TEMPLATE_ESCAPE_HTML);
        TH_STREQ(got, cases[i].want, "template: %s", cases[i].name);
    }
    test_fields();
    test_missing();
    test_tmpl_files();
    test_reuse();
    test_nesting();
    test_flat();
    test_escape();
    return TH_DONE();
}
