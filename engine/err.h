/* SPDX-License-Identifier: ISC */
/*
 * err.h - the caller-owned error record every fallible engine call fills.
 *
 * The error path never allocates: the message is formatted into a fixed
 * buffer.  `kind` is a sysexits.h code so that cmd/ can exit with it
 * directly; engine code picks the code that describes the failure (bad
 * input data, missing file, cannot create output, temporary failure, ...).
 */
#ifndef CAMPAIGN_ERR_H
#define CAMPAIGN_ERR_H

#include <sysexits.h>

#define ERR_MSG_MAX 512

struct err {
    int kind;              /* EX_* from sysexits.h; 0 when clear */
    char msg[ERR_MSG_MAX]; /* human text naming what and where */
};

/* err_set - record an error of the given kind; returns -1 for tail calls. */
int err_set(struct err *e, int kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* err_clear - reset to "no error". */
void err_clear(struct err *e);

#endif
