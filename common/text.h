/*
 * text.h - what text from others may hold, shared by apikeyd (its checks
 * and its log) and apikeyctl (its output): well-formed UTF-8 without C0,
 * DEL, C1, bidi embeddings, overrides or isolates, or U+2028/2029.
 */
#ifndef APIKEY_TEXT_H
#define APIKEY_TEXT_H

#include <stddef.h>

/* Length of the character at s when it is such a character, else 0; 0 at
 * the terminating NUL. */
size_t	text_char_len(const char *s);
/* Copies src into dst (NUL-terminated, dstsz > 0), each byte not of such a
 * character written as \xNN, cut only between characters and escapes;
 * returns strlen(dst). */
size_t	text_escape(char *dst, size_t dstsz, const char *src);

#endif
