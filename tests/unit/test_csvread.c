/* SPDX-License-Identifier: ISC */
/*
 * test_csvread.c - the CSV reader (engine/csvread.c): dialects, line ends,
 * quoting, BOM, encodings, line numbers and errors.  Each case writes its
 * bytes to a temporary file and renders the records as
 * "LINE:field|field;LINE:field..." for comparison.
 */
#include <stdlib.h>
#include <unistd.h>

#include "th.h"

#include "buf.h"
#include "csvread.h"

static const struct {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen */
    char delim; /* 0: sniff */
    enum csv_encoding enc;
    const char *want; /* records, or "ERR:substring" */
} cases[] = {
    {"comma LF", "email,name\na@x.io,Ada\n", 0, 0, CSV_ENC_UTF8,
     "1:email|name;2:a@x.io|Ada;"},
    {"semicolon sniffed", "email;name\na@x.io;Ada, Jr\n", 0, 0, CSV_ENC_UTF8,
     "1:email|name;2:a@x.io|Ada, Jr;"},
    {"tab sniffed", "email\tname\na@x.io\tA b\n", 0, 0, CSV_ENC_UTF8,
     "1:email|name;2:a@x.io|A b;"},
    {"pipe sniffed", "email|name\na@x.io|Ada\n", 0, 0, CSV_ENC_UTF8,
     "1:email|name;2:a@x.io|Ada;"},
    {"forced delimiter", "email;name,x\na;b,c\n", 0, ',', CSV_ENC_UTF8,
     "1:email;name|x;2:a;b|c;"},
    {"quoted delimiter does not count when sniffing", "\"a,b,c\";x\n1;2\n", 0,
     0, CSV_ENC_UTF8, "1:a,b,c|x;2:1|2;"},
    {"CRLF", "email,name\r\na@x.io,Ada\r\nb@x.io,Bob\r\n", 0, 0, CSV_ENC_UTF8,
     "1:email|name;2:a@x.io|Ada;3:b@x.io|Bob;"},
    {"CR only", "email,name\ra@x.io,Ada\rb@x.io,Bob\r", 0, 0, CSV_ENC_UTF8,
     "1:email|name;2:a@x.io|Ada;3:b@x.io|Bob;"},
    {"no final newline", "email\na@x.io", 0, 0, CSV_ENC_UTF8,
     "1:email;2:a@x.io;"},
    {"BOM stripped",
     "\xef\xbb\xbf"
     "email,n\na@x.io,1\n",
     0, 0, CSV_ENC_UTF8, "1:email|n;2:a@x.io|1;"},
    {"doubled quotes", "a,b\n\"say \"\"hi\"\"\",x\n", 0, 0, CSV_ENC_UTF8,
     "1:a|b;2:say \"hi\"|x;"},
    {"quoted newline keeps line of record start",
     "a,b\n\"line1\nline2\",x\nc,d\n", 0, 0, CSV_ENC_UTF8,
     "1:a|b;2:line1\nline2|x;4:c|d;"},
    {"quoted CRLF inside field", "a,b\r\n\"l1\r\nl2\",x\r\nc,d\r\n", 0, 0,
     CSV_ENC_UTF8, "1:a|b;2:l1\r\nl2|x;4:c|d;"},
    {"blank lines skipped", "a\n\n\nb\n", 0, 0, CSV_ENC_UTF8, "1:a;4:b;"},
    {"empty fields", "a,b,c\n,,\n", 0, 0, CSV_ENC_UTF8, "1:a|b|c;2:||;"},
    {"spaces kept", "a,b\n x , y \n", 0, 0, CSV_ENC_UTF8, "1:a|b;2: x | y ;"},
    {"latin1 converted", "n\nNiccol\xf2\n", 0, 0, CSV_ENC_LATIN1,
     "1:n;2:Niccolò;"},
    {"windows-1252 euro", "n;p\nCitt\xe0;\x80 5\n", 0, 0, CSV_ENC_CP1252,
     "1:n|p;2:Città|€ 5;"},
    {"invalid UTF-8 names the line", "n\nok\nNiccol\xf2\n", 0, 0, CSV_ENC_UTF8,
     "ERR::3: invalid UTF-8 in column 1"},
    {"overlong UTF-8", "n\n\xc0\xaf\n", 0, 0, CSV_ENC_UTF8,
     "ERR::2: invalid UTF-8"},
    {"undefined windows-1252 byte", "n\nx\x81y\n", 0, 0, CSV_ENC_CP1252,
     "ERR::2: byte 0x81"},
    {"unterminated quote names its record", "a,b\nx,y\n\"open,z\nmore\n", 0, 0,
     CSV_ENC_UTF8, "ERR::3: unterminated quoted field"},
    {"text after closing quote", "a,b\n\"x\"y,z\n", 0, 0, CSV_ENC_UTF8,
     "ERR::2: malformed quoting"},
    {"UTF-16 refused",
     "\xff\xfe"
     "e\0m\0",
     6, 0, CSV_ENC_UTF8, "ERR::1: the file is UTF-16"},
    {"UTF-32 with its BOM is named UTF-32, not UTF-16",
     "\xff\xfe\0\0"
     "e\0\0\0m\0\0\0",
     12, 0, CSV_ENC_UTF8, "ERR::1: the file is UTF-32LE (with a byte order"},
    {"UTF-16LE without a BOM is recognised by its NULs",
     "e\0m\0a\0i\0l\0\n\0a\0@\0x\0.\0i\0o\0\n\0", 26, 0, CSV_ENC_UTF8,
     "ERR::1: the file is UTF-16LE (no byte order mark)"},
    {"UTF-16BE without a BOM", "\0e\0m\0a\0i\0l\0\n\0a\0@\0x\0.\0i\0o\0\n", 26,
     0, CSV_ENC_UTF8, "ERR::1: the file is UTF-16BE (no byte order mark)"},
    {"UTF-32LE without a BOM", "e\0\0\0m\0\0\0a\0\0\0i\0\0\0l\0\0\0\n\0\0\0",
     24, 0, CSV_ENC_UTF8, "ERR::1: the file is UTF-32LE (no byte order mark)"},
    {"an undefined windows-1252 byte is placed by its byte in the line",
     "n,m\nab,x\x81y\n", 0, 0, CSV_ENC_CP1252,
     "ERR::2: byte 0x81 (byte 5 of the line) is not valid Windows-1252"},
    {"NUL kept as data", "a,b\nx\0y,z\n", 10, 0, CSV_ENC_UTF8,
     "1:a|b;2:x\\0y|z;"},
};

/* render - the records of path as text, or "ERR:" and the message. */
static char *
render(const char *path, char delim, enum csv_encoding enc)
{
    struct csvread_params p = {delim, enc};
    struct err e;
    struct csvread *r;
    const struct csv_record *rec;
    struct buf b;
    int rc;

    buf_init(&b, 0);
    err_clear(&e);
    if ((r = csvread_open(path, &p, &e)) == NULL) {
        (void)buf_printf(&b, "ERR:%s", e.msg);
        return buf_steal(&b);
    }
    while ((rc = csvread_next(r, &rec, &e)) == 1) {
        (void)buf_printf(&b, "%lu:", rec->line);
        for (size_t i = 0; i < rec->nfields; i++) {
            if (i)
                (void)buf_putc(&b, '|');
            for (size_t k = 0; k < rec->len[i]; k++) {
                if (rec->field[i][k] == '\0')
                    (void)buf_puts(&b, "\\0");
                else
                    (void)buf_putc(&b, rec->field[i][k]);
            }
        }
        (void)buf_putc(&b, ';');
    }
    if (rc == -1) {
        buf_reset(&b);
        (void)buf_printf(&b, "ERR:%s", e.msg);
    }
    csvread_free(r);
    return buf_steal(&b);
}

int
main(void)
{
    char path[] = "/tmp/test_csvread.XXXXXX";
    int fd = mkstemp(path);

    if (fd == -1)
        return 2;
    close(fd);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "wb");
        size_t n = cases[i].len ? cases[i].len : strlen(cases[i].in);
        fwrite(cases[i].in, 1, n, f);
        fclose(f);
        char *got = render(path, cases[i].delim, cases[i].enc);
        if (strncmp(cases[i].want, "ERR:", 4) == 0) {
            int ok = strncmp(got, "ERR:", 4) == 0 &&
                     strstr(got, cases[i].want + 4) != NULL;
            TH_CHECK(ok, "csvread %s", cases[i].name);
            if (!ok)
                printf("#   got  \"%s\"\n#   want \"%s\"\n", got,
                       cases[i].want);
        } else {
            TH_STREQ(got, cases[i].want, "csvread %s", cases[i].name);
        }
        free(got);
    }

    /* a field over CSV_FIELD_MAX is an error naming its line, and memory
     * stays bounded (ASan would catch an overrun) */
    {
        FILE *f = fopen(path, "wb");
        fputs("email,notes\na@x.io,ok\nb@x.io,\"", f);
        for (int i = 0; i < 3 * 1024 * 1024; i++)
            fputc('x', f);
        fputs("\"\n", f);
        fclose(f);
        char *got = render(path, 0, CSV_ENC_UTF8);
        TH_CHECK(strstr(got, ":3: field 2 is longer than") != NULL,
                 "csvread refuses a 3 MB field naming line 3");
        free(got);
    }
    unlink(path);
    return TH_DONE();
}
