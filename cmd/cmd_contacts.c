/* SPDX-License-Identifier: ISC */
/*
 * cmd_contacts.c - campaign contacts show EMAIL / contacts forget EMAIL.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../engine/email.h"
#include "../engine/log.h"
#include "../engine/suppress.h"
#include "cmd.h"

struct show {
    struct store *st;
    int json;
    json_t *doc;
    struct err *e;
    int rc;
    int64_t id; /* the contact's, once found */
};

/* show_send - one campaign of the contact: its state and, when it was
 * not delivered, the relay's last reply (why). */
static int
show_send(const struct store_contact_send *r, void *arg)
{
    struct show *s = arg;
    char t[40];

    if (s->json) {
        json_t *o = json_pack("{s:s, s:s, s:i}", "campaign", r->campaign,
                              "state", r->state, "attempts", r->attempts);
        if (r->code > 0)
            json_object_set_new(o, "code", json_integer(r->code));
        if (r->status && *r->status)
            json_object_set_new(o, "status", json_string(r->status));
        if (r->text && *r->text)
            json_object_set_new(o, "reply", json_string(r->text));
        if (r->bounce_class)
            json_object_set_new(o, "bounce_class",
                                json_string(r->bounce_class));
        if (r->done_at > 0)
            json_object_set_new(o, "at",
                                json_string(cmd_time(r->done_at, t, sizeof t)));
        json_array_append_new(json_object_get(s->doc, "campaigns"), o);
        return 0;
    }
    printf("  %s: %s%s%s%s", cmd_safe(r->campaign), r->state,
           r->bounce_class ? " (" : "", r->bounce_class ? r->bounce_class : "",
           r->bounce_class ? ")" : "");
    if (r->done_at > 0)
        printf(" %s", cmd_time(r->done_at, t, sizeof t));
    putchar('\n');
    if (strcmp(r->state, "sent") != 0 && r->text && *r->text) {
        if (r->code > 0)
            printf("    last reply: %d%s%s %s\n", r->code,
                   r->status && *r->status ? " " : "",
                   r->status ? cmd_safe(r->status) : "", cmd_safe(r->text));
        else
            printf("    last: %s\n", cmd_safe(r->text));
    }
    return 0;
}

static int
show_list(const char *name, void *arg)
{
    struct show *s = arg;

    if (s->json)
        json_array_append_new(json_object_get(s->doc, "lists"),
                              json_string(name));
    else
        printf("  %s\n", cmd_safe(name));
    return 0;
}

static int
show_contact(const struct store_contact *c, void *arg)
{
    struct show *s = arg;
    char t1[40], t2[40], t3[40];
    json_t *attrs = json_loads(c->attrs, 0, NULL);
    const char *k;
    json_t *v;

    cmd_time(c->created_at, t1, sizeof t1);
    cmd_time(c->updated_at, t2, sizeof t2);
    if (s->json) {
        json_object_set_new(s->doc, "email", json_string(c->email));
        json_object_set_new(s->doc, "status", json_string(c->status));
        json_object_set_new(s->doc, "created_at", json_string(t1));
        json_object_set_new(s->doc, "updated_at", json_string(t2));
        json_object_set_new(s->doc, "attributes",
                            attrs ? json_incref(attrs) : json_object());
        json_object_set_new(s->doc, "lists", json_array());
        if (c->last_import_file)
            json_object_set_new(
                s->doc, "last_import",
                json_pack("{s:s, s:s}", "file", c->last_import_file, "at",
                          cmd_time(c->last_import_at, t3, sizeof t3)));
    } else {
        printf("email:       %s\n", cmd_safe(c->email));
        printf("status:      %s\n", c->status);
        printf("created:     %s\n", t1);
        printf("updated:     %s\n", t2);
        if (c->last_import_file)
            printf("last import: %s (%s)\n", cmd_safe(c->last_import_file),
                   cmd_time(c->last_import_at, t3, sizeof t3));
        printf("attributes:\n");
        if (attrs == NULL || json_object_size(attrs) == 0)
            printf("  (none)\n");
        json_object_foreach(attrs, k, v)
        {
            if (json_is_string(v)) {
                printf("  %s: %s\n", cmd_safe(k),
                       cmd_safe(json_string_value(v)));
            } else {
                char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                printf("  %s: %s\n", cmd_safe(k), d ? cmd_safe(d) : "?");
                free(d);
            }
        }
        printf("lists:\n");
    }
    json_decref(attrs);
    s->id = c->id;
    s->rc = store_contact_lists(s->st, c->id, show_list, s, s->e);
    return 0;
}

static int
show_suppression(const struct store_suppression *sup, void *arg)
{
    struct show *s = arg;
    char t[40];

    cmd_time(sup->created_at, t, sizeof t);
    if (s->json)
        json_object_set_new(s->doc, "suppression",
                            json_pack("{s:s, s:s, s:s}", "reason", sup->reason,
                                      "source", sup->source, "at", t));
    else
        printf("suppressed:  yes: %s (source %s, %s)\n", sup->reason,
               sup->source, t);
    return 0;
}

int
cmd_contacts_show(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char email[EMAIL_MAX + 1];
    const char *why;
    struct show s;
    struct err e;
    int c, code = 0, found, sup;

    memset(&s, 0, sizeof s);
    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "json") == 0)
                s.json = 1;
            else if (strcmp(optarg, "text") != 0)
                return cmd_usage("contacts show", stderr, EX_USAGE);
            break;
        case 'h':
            return cmd_usage("contacts show", stdout, 0);
        default:
            return cmd_usage("contacts show", stderr, EX_USAGE);
        }
    }
    if (optind + 1 != argc)
        return cmd_usage("contacts show", stderr, EX_USAGE);
    if (email_normalize(argv[optind], strlen(argv[optind]), email, &why) ==
        -1) {
        char pr[80];
        log_warnx(
            "\"%s\": %s",
            log_printable(pr, sizeof pr, argv[optind], strlen(argv[optind])),
            why);
        return EX_DATAERR;
    }
    if ((s.st = cmd_open(ctx, &code)) == NULL)
        return code;
    err_clear(&e);
    s.e = &e;
    if (s.json)
        s.doc = json_object();
    found = store_contact_get(s.st, email, show_contact, &s, &e);
    if (found == -1 || s.rc == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    if (!found && !s.json)
        printf("%s is not a contact\n", email);
    if ((sup = suppress_lookup(s.st, email, show_suppression, &s, &e)) == -1) {
        code = cmd_fail(&e);
        goto out;
    }
    if (!sup && !s.json)
        printf("suppressed:  no\n");
    if (found) {
        if (s.json)
            json_object_set_new(s.doc, "campaigns", json_array());
        else
            printf("campaigns:\n");
        if (store_contact_sends(s.st, s.id, show_send, &s, &e) == -1) {
            code = cmd_fail(&e);
            goto out;
        }
    }
    if (s.json) {
        if (!found)
            json_object_set_new(s.doc, "email", json_string(email));
        json_object_set_new(s.doc, "contact", json_boolean(found));
        if (!sup)
            json_object_set_new(s.doc, "suppression", json_null());
        json_dumpf(s.doc, stdout, JSON_INDENT(2));
        putchar('\n');
    }
    if (!found && !sup)
        code = EX_NOUSER;
out:
    json_decref(s.doc);
    store_close(s.st);
    return code;
}

int
cmd_contacts_forget(struct ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct store *st;
    struct err e;
    int c, code = 0, rc;

    cmd_opt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return cmd_usage("contacts forget", stdout, 0);
        return cmd_usage("contacts forget", stderr, EX_USAGE);
    }
    if (optind + 1 != argc)
        return cmd_usage("contacts forget", stderr, EX_USAGE);
    if ((st = cmd_open(ctx, &code)) == NULL)
        return code;
    err_clear(&e);
    rc = suppress_forget(st, argv[optind], &e);
    if (rc == -1)
        code = cmd_fail(&e);
    else if (rc == 1)
        printf("forgotten: the contact is erased; only a hash of the "
               "address stays suppressed\n");
    else
        printf("no contact with that address; its hash is now suppressed\n");
    store_close(st);
    return code;
}
