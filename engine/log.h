/* SPDX-License-Identifier: ISC */
/*
 * log.h - diagnostics on stderr (OpenSMTPD log.h): log_warn appends
 * strerror(errno), log_warnx does not.  log_debug prints only with -v.
 * Untrusted text must go through log_printable() first.
 */
#ifndef CAMPAIGN_LOG_H
#define CAMPAIGN_LOG_H

#include <stddef.h>

enum log_level { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2 };

void log_init(const char *progname, enum log_level level);
enum log_level log_get_level(void);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * log_printable - copy at most n bytes of untrusted s into out (size outsz),
 * escaping control and non-UTF-8 bytes as \xHH, truncating with "...".
 * Returns out.
 */
char *log_printable(char *out, size_t outsz, const char *s, size_t n);
/*
 * log_unraw - s with the control characters that drive a terminal (ESC,
 * CR, BEL, ... and DEL) as \xHH, and the other code points utf8_hidden
 * names (C1 controls, bidirectional controls and marks, the line and
 * paragraph separators) as \uXXXX, line feeds and tabs too unless
 * keep_lines, in a new string (free it); NULL when s has none, so the
 * caller prints s itself.  Unlike log_printable, whole and unbounded:
 * for text that is shown, not for text that is logged.
 */
char *log_unraw(const char *s, int keep_lines);

#endif
