/* SPDX-License-Identifier: ISC */
/*
 * mimeread.h - the structure of a received message, read in place: its
 * header fields, its parts and their bodies, without building an object
 * per header or part.
 *
 * Owns the reading of RFC 5322 header blocks (fields, folding) and of the
 * RFC 2045/2046 MIME structure (Content-Type with its parameters,
 * multipart boundaries, Content-Transfer-Encoding).  Decoding is GMime's:
 * base64, quoted-printable and uuencode through its encoders, charsets
 * through its iconv cache (its charset aliases), RFC 2047 encoded words
 * and addresses through its utilities - only the walk over the structure
 * is done here, because GMime's parser builds and frees some fifty
 * GObjects for a three-part bounce, most of the cost of reading one.
 *
 * The input is what engine/bounce.c's prepare() makes of a message: line
 * ends LF alone, no NUL bytes, NUL-terminated.  g_mime_init() must have
 * been called (the decoding's tables).  Pure and reentrant: a walk keeps
 * its state on the stack, so threads may walk messages at once.  Every walk is
 * bounded: max_depth levels of nesting, MIMEREAD_PARTS_MAX parts a multipart,
 * and each level reads its own bytes once (so at most max_depth passes).
 */
#ifndef CAMPAIGN_MIMEREAD_H
#define CAMPAIGN_MIMEREAD_H

#include <stddef.h>

#define MIMEREAD_PARTS_MAX 64

struct mimeread_part {
    const char *head; /* the header block, without the blank line */
    size_t head_len;
    const char *body; /* the body as it came (transfer-encoded) */
    size_t body_len;
    char type[80];     /* "type/subtype" in lower case; text/plain when
                          absent, application/octet-stream when unreadable */
    char charset[64];  /* the charset parameter, or "" */
    char encoding[32]; /* Content-Transfer-Encoding, lower case, or "" */
    int depth;         /* 0: the message itself */
};

/* mimeread_split - the header block and the body of a message (or a
 * part) of n bytes at s: the header ends at the first empty line, or at
 * the first line that is neither a field nor a continuation */
void mimeread_split(const char *s, size_t n, struct mimeread_part *p);

/*
 * mimeread_walk - cb(p, arg) for each part of the message of n bytes at s
 * that is not a multipart, in order, down to max_depth levels; a
 * multipart's parts are walked, not given.  A message/... part is given
 * as it is (its body not read): the caller decides.
 */
typedef void (*mimeread_cb)(const struct mimeread_part *p, void *arg);
void mimeread_walk(const char *s, size_t n, int max_depth, mimeread_cb cb,
                   void *arg);

/*
 * mimeread_field - the value of the (index)th field called name in the
 * header block (0: the first), unfolded, with its leading and trailing
 * blanks removed, into out (cut at size); returns its length, or -1 when
 * there is none
 */
long mimeread_field(const char *head, size_t head_len, const char *name,
                    int index, char *out, size_t size);

/*
 * mimeread_next_field - the field after *cursor in the header block (NULL
 * to begin), in order: its name (*name, *nlen bytes) and its value as
 * mimeread_field gives it; 0, or -1 past the last.  One pass over the
 * block, where mimeread_field reads it from the start at each call.
 */
int mimeread_next_field(const char *head, size_t head_len, const char **cursor,
                        const char **name, size_t *nlen, char *out,
                        size_t size);

/*
 * mimeread_param - the value of parameter name in a Content-Type-like
 * value (quotes and backslash escapes removed; RFC 2231's name*= and
 * name*0, name*1... pieces read too) into out, which must not overlap
 * value; 0, or -1 when absent
 */
int mimeread_param(const char *value, const char *name, char *out, size_t size);

/*
 * mimeread_decode - p's body with its transfer encoding undone, at most
 * max bytes, NUL-terminated (NUL bytes of the content become spaces);
 * malloc'd, length in *len, or NULL when out of memory
 */
char *mimeread_decode(const struct mimeread_part *p, size_t max, size_t *len);

/*
 * mimeread_text - a text part's text: decoded, then converted from its
 * charset to UTF-8 where GMime knows the charset (else its bytes as they
 * are), as GMime's g_mime_text_part_get_text does; malloc'd, or NULL
 */
char *mimeread_text(const struct mimeread_part *p, size_t max, size_t *len);

#endif
