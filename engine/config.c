/* SPDX-License-Identifier: ISC */
/*
 * config.c - the default campaign.conf (see config.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fsutil.h"

static const char config_default[] =
    "; campaign.conf - configuration for campaign(1).\n"
    "; Every value can be overridden by the environment variable\n"
    "; CAMPAIGN_SECTION_KEY (for example CAMPAIGN_RELAY_HOST).\n"
    "; This file is created mode 0600: keep it so if it holds a password.\n"
    "\n"
    "[sender]\n"
    "; from = Acme News <news@acme.example>\n"
    "; reply_to = help@acme.example\n"
    "; list_id = news.acme.example\n"
    "; bounce_domain = bounces.acme.example   ; VERP return path\n"
    "\n"
    "[relay]\n"
    "; host = smtp.provider.example\n"
    "; port = 587\n"
    "; tls = starttls                 ; starttls | smtps | none\n"
    "; tls_verify = on\n"
    "; ca_file = /etc/ssl/certs/ca-certificates.crt\n"
    "; username = acme\n"
    "; password_env = CAMPAIGN_SMTP_PASSWORD   ; or password_file =\n"
    "\n"
    "[limits]\n"
    "; rate = 50/s\n"
    "; concurrency = 8\n"
    "; domain.gmail.com = 20/s\n"
    "\n"
    "[dkim]\n"
    "; domain = acme.example\n"
    "; selector = s2026\n"
    "; key_file = s2026.acme.example.key\n"
    "\n"
    "[tracking]\n"
    "; base_url = https://t.acme.example\n"
    "; opens = on\n"
    "; clicks = on\n";

int
config_write_default(const char *path, struct err *e)
{
    struct stat sb;

    if (stat(path, &sb) == 0)
        return 0;
    if (errno != ENOENT)
        return err_set(e, EX_CANTCREAT, "%s: %s", path, strerror(errno));
    if (fs_write_atomic(path, config_default, sizeof config_default - 1,
                        0600, e) == -1)
        return -1;
    return 1;
}
