/* SPDX-License-Identifier: ISC */
/*
 * config.h - campaign.conf: the commented default that `init` writes.
 *
 * The file is INI (PRODUCT.md, Configuration).  It may come to hold a
 * password, so it is created mode 0600.
 */
#ifndef CAMPAIGN_CONFIG_H
#define CAMPAIGN_CONFIG_H

#include "err.h"

/*
 * config_write_default - create path with the commented default
 * configuration unless it exists.  Returns 1 when written, 0 when a file
 * was already there, -1 on error (EX_CANTCREAT).  The write is atomic:
 * a temporary file renamed into place.
 */
int config_write_default(const char *path, struct err *e);

#endif
