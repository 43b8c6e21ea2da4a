/* SPDX-License-Identifier: ISC */
/*
 * opendkim_keyfile.c - LD_PRELOAD shim that makes opendkim-testmsg take
 * its public keys from a file instead of DNS, so that the end-to-end
 * tests verify offline.
 *
 * opendkim-testmsg has no option for this, but libopendkim has a query
 * method for testing, DKIM_QUERY_FILE: the DKIM_OPTS_QUERYINFO file holds
 * lines "<selector>._domainkey.<domain> <TXT record text>" (dkim-keys.c,
 * dkim_get_key_file).  We wrap dkim_init(), the first library call the
 * tool makes, and set both options from $OPENDKIM_KEYFILE.  Without that
 * variable the shim changes nothing.
 *
 * The constants are those of libopendkim's dkim.h (not installed here:
 * libopendkim-dev is not a test dependency); they have not changed since
 * OpenDKIM 1.x.
 *
 *   cc -shared -fPIC -o keyfile.so opendkim_keyfile.c -ldl
 *   LD_PRELOAD=./keyfile.so OPENDKIM_KEYFILE=keys opendkim-testmsg < msg
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DKIM_OP_SETOPT 1
#define DKIM_OPTS_QUERYMETHOD 6
#define DKIM_OPTS_QUERYINFO 7
#define DKIM_QUERY_FILE 1

typedef void *(*dkim_malloc_fn)(void *, size_t);
typedef void (*dkim_free_fn)(void *, void *);

void *dkim_init(dkim_malloc_fn, dkim_free_fn);
int dkim_options(void *lib, int op, int opt, void *ptr, size_t len);

void *
dkim_init(dkim_malloc_fn m, dkim_free_fn f)
{
    void *(*real)(dkim_malloc_fn, dkim_free_fn);
    const char *path = getenv("OPENDKIM_KEYFILE");
    void *lib;
    int method = DKIM_QUERY_FILE;

    *(void **)&real = dlsym(RTLD_NEXT, "dkim_init");
    if (real == NULL) {
        fprintf(stderr, "opendkim_keyfile: dkim_init not found\n");
        return NULL;
    }
    lib = real(m, f);
    if (lib == NULL || path == NULL || *path == '\0')
        return lib;
    if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &method,
                     sizeof method) != 0 ||
        dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, (void *)path,
                     strlen(path)) != 0) {
        fprintf(stderr, "opendkim_keyfile: cannot set the key file\n");
        return NULL;
    }
    return lib;
}
