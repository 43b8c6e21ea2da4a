/* SPDX-License-Identifier: ISC */
/*
 * csvread.h - a streaming CSV record reader on libcsv.
 *
 * Owns: reading a file (or stdin) in fixed chunks, the dialect (delimiter
 * sniffed from the header line among , ; TAB |, or given), a UTF-8 byte
 * order mark, CRLF / LF / CR line ends, RFC 4180 quoting (embedded
 * delimiters, doubled quotes, newlines inside quotes), the input encoding
 * (UTF-8 validated; Latin-1 or Windows-1252 converted with iconv), and the
 * physical line on which each record starts, for error messages.
 *
 * Memory is bounded by CSV_FIELD_MAX / CSV_ROW_MAX / CSV_FIELDS_MAX
 * (bounds.h) whatever the file size.  Does not know what the columns mean:
 * that is csv_import.c.
 */
#ifndef CAMPAIGN_CSVREAD_H
#define CAMPAIGN_CSVREAD_H

#include <stddef.h>

#include "err.h"

enum csv_encoding {
    CSV_ENC_UTF8,
    CSV_ENC_LATIN1,
    CSV_ENC_CP1252,
};

/* csv_encoding_parse - "utf-8", "latin1", "windows-1252" (and common
 * spellings); -1 if unknown. */
int csv_encoding_parse(const char *name, enum csv_encoding *out);

struct csvread_params {
    char delimiter; /* 0: sniff from the header line */
    enum csv_encoding encoding;
};

/*
 * One record.  field[i] is NUL-terminated and len[i] is its length (a
 * field may contain NUL bytes; len is authoritative).  Valid until the
 * next csvread_next call.
 */
struct csv_record {
    size_t nfields;
    const char **field;
    const size_t *len;
    unsigned long line; /* physical line (1-based) where the record starts */
};

struct csvread;

/*
 * csvread_open - open path ("-" for standard input) and read enough to
 * sniff the dialect.  Errors: EX_NOINPUT (missing / unreadable),
 * EX_DATAERR (UTF-16, bad delimiter), EX_USAGE.
 */
struct csvread *csvread_open(const char *path, const struct csvread_params *p,
                             struct err *e);
/*
 * csvread_next - the next record: 1 with *rec set, 0 at end of input, -1
 * on error (EX_DATAERR with "LINE: reason" detail: invalid UTF-8, an
 * unterminated quote, a field past CSV_FIELD_MAX, ...; EX_IOERR).  After
 * an error the reader is finished.
 */
int csvread_next(struct csvread *r, const struct csv_record **rec,
                 struct err *e);
/* csvread_delimiter - the delimiter in use. */
char csvread_delimiter(const struct csvread *r);
/* csvread_free - close; NULL is a no-op. */
void csvread_free(struct csvread *r);

#endif
