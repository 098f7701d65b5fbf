/*
 * text.c - the one rule for text that others chose (names, services, user
 * names, remote hosts) and that ends up in logs and on terminals: it must
 * be well-formed UTF-8 without controls or reordering characters. The
 * daemon refuses text that breaks it, and its log and apikeyctl's output
 * escape whatever breaks it, byte by byte, so nothing can end a line early,
 * move the cursor or reorder what follows. Escapes are not reversible (a
 * literal "\x0a" looks the same), which text meant for reading can afford.
 */
#include <stdint.h>
#include <string.h>

#include "text.h"

/* A C1 control, a bidi embedding, override or isolate, or U+2028/2029. */
static int
refused_code_point(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) ||
	    (cp >= 0x2028 && cp <= 0x202e) ||	/* LS, PS, LRE..RLO */
	    (cp >= 0x2066 && cp <= 0x2069);	/* LRI, RLI, FSI, PDI */
}

/*
 * A hand-written decoder, since mbrtowc(3) depends on the locale and the
 * daemon runs in the C locale. The lead byte fixes the length and the
 * smallest code point that may use it, which rejects overlong forms;
 * 0x80-0xc1 and 0xf5-0xff never lead. The loop stops at the first byte that
 * is not a continuation, the NUL included, so it never reads past the
 * string.
 *
 * U+200E, U+200F and U+061C (LRM, RLM, ALM) are allowed: they are
 * zero-width marks with a direction, needed to write mixed-direction names,
 * and unlike the embeddings, overrides and isolates they open nothing, so
 * they cannot reorder the text after them.
 */
size_t
text_char_len(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t	 cp, min;
	size_t		 len, i;

	if (s[0] < 0x80)
		return s[0] >= 0x20 && s[0] != 0x7f;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    refused_code_point(cp))
		return 0;
	return len;
}

size_t
text_escape(char *dst, size_t dstsz, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 c;
	size_t		 n = 0, len;

	if (dstsz == 0)
		return 0;
	while (*src != '\0') {
		if ((len = text_char_len(src)) > 0) {
			/* Whole characters only, and room for the NUL. */
			if (len >= dstsz - n)
				break;
			memcpy(dst + n, src, len);
			n += len;
			src += len;
			continue;
		}
		/* One byte at a time, so the next character is found
		 * again right after a bad sequence. */
		if (4 >= dstsz - n)
			break;
		c = (unsigned char)*src++;
		dst[n++] = '\\';
		dst[n++] = 'x';
		dst[n++] = hex[c >> 4];
		dst[n++] = hex[c & 0xf];
	}
	dst[n] = '\0';
	return n;
}

