/* SPDX-License-Identifier: ISC */
/*
 * bounds.h - every named maximum on untrusted input, in one place, each
 * with the reason for its value.  A limit hit is reported as an error that
 * names the limit, never as silent truncation.
 */
#ifndef CAMPAIGN_BOUNDS_H
#define CAMPAIGN_BOUNDS_H

/* RFC 5321 4.5.3.1.3: a forward-path holds at most 256 octets including
 * the angle brackets, so an address is at most 254 octets. */
#define EMAIL_MAX 254
/* RFC 5321 4.5.3.1.1: local part at most 64 octets. */
#define EMAIL_LOCAL_MAX 64
/* RFC 1035 2.3.4: a DNS label is at most 63 octets. */
#define EMAIL_LABEL_MAX 63

/* CSV: one field may hold a notes column, a rendered HTML snippet or a
 * listmonk attributes JSON object; 1 MiB is far above any of these and
 * small enough that a hostile 10 MB field cannot inflate memory. */
#define CSV_FIELD_MAX (1024 * 1024)
/* CSV: a whole record (all fields) - a few fields at the field maximum. */
#define CSV_ROW_MAX (4 * 1024 * 1024)
/* CSV: columns per record.  Spreadsheet exports stay well below this
 * (Excel allows 16384 columns but contact lists have tens). */
#define CSV_FIELDS_MAX 1024
/* CSV: bytes of input fed to the parser at once. */
#define CSV_CHUNK 65536
/* Attribute names after normalisation (column headers). */
#define ATTR_NAME_MAX 64

/* List names: shown in tables and used on the command line. */
#define LIST_NAME_MAX 200

#endif
