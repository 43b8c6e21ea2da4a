/* SPDX-License-Identifier: ISC */
/*
 * mailjob.h - what preview and send load before composing: the
 * configuration, the template, the campaign data, the tracking secret and
 * the DKIM keys.  Glue for cmd/ only.
 */
#ifndef CAMPAIGN_MAILJOB_H
#define CAMPAIGN_MAILJOB_H

#include <jansson.h>

#include "../engine/compose.h"
#include "../engine/config.h"
#include "../engine/dkim.h"
#include "../engine/tmpl.h"
#include "../engine/track.h"
#include "cmd.h"

struct mailjob {
    struct config cfg;
    struct tmpl *tmpl;
    json_t *data;
    char *data_path; /* NULL when there is none */
    struct track_key key;
    int have_key;
    struct dkim_key *dkim[CONFIG_DKIM_MAX];
    size_t ndkim;
    char *secret_path;
};

/*
 * mailjob_open - load everything for template `name`.  data_path NULL
 * means templates/NAME.json when it exists.  Errors with their exit code
 * in e->kind.
 */
int mailjob_open(struct ctx *ctx, const char *name, const char *data_path,
                 struct mailjob *j, struct err *e);
void mailjob_close(struct mailjob *j);

/*
 * mailjob_compose_params - the composer's parameters for this job and
 * campaign (strict: a missing field is an error).
 */
void mailjob_compose_params(struct mailjob *j, const char *campaign,
                            uint32_t campaign_id, const char *salt,
                            struct compose_params *cp);

/*
 * mailjob_relay_password - the relay's password (malloc'd; the caller
 * wipes it with freezero) from password_env or password_file, which must
 * not be readable by others; *out NULL when the relay has no username.
 * Errors: EX_CONFIG naming the variable or file.
 */
int mailjob_relay_password(const struct config_relay *r, char **out,
                           struct err *e);

/* mailjob_secret_path - the tracking secret's path (malloc'd). */
char *mailjob_secret_path(const struct ctx *ctx, const struct config *cfg);

#endif
