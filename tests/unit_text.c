/*
 * unit_text.c - the rule for text from others (common/text.c): text_escape
 * with exact output strings, for each kind of byte that could end a line
 * early, move the cursor or reorder text, and for the cut of a long input;
 * and, against random bytes, that its output is always text the daemon
 * accepts (policy_text_valid, built on text_char_len).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../common/text.h"
#include "../daemon/policy.h"

static void
expect_sanitized(const char *in, const char *want)
{
	char	 out[256];
	size_t	 n;

	n = text_escape(out, sizeof(out), in);
	cr_expect_str_eq(out, want);
	cr_expect_eq(n, strlen(out));
}

Test(text_escape, printable_text_unchanged)
{
	expect_sanitized("", "");
	expect_sanitized("verify: VALID key AAAAAAAAAAB service 'sshd'",
	    "verify: VALID key AAAAAAAAAAB service 'sshd'");
	expect_sanitized("back\\slash \\x41", "back\\slash \\x41");
	expect_sanitized("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
	    "\xf4\x8f\xbf\xbf \xc2\xa0",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
	    "\xf4\x8f\xbf\xbf \xc2\xa0");
	/* Direction marks open nothing, so they pass (see log.c). */
	expect_sanitized("a\xe2\x80\x8e" "b\xe2\x80\x8f", "a\xe2\x80\x8e"
	    "b\xe2\x80\x8f");
}

Test(text_escape, newline_injection)
{
	expect_sanitized("user 'a\nFAKE LINE'", "user 'a\\x0aFAKE LINE'");
	expect_sanitized("a\r\nb", "a\\x0d\\x0ab");
	expect_sanitized("\n", "\\x0a");
	expect_sanitized("a\tb", "a\\x09b");
	expect_sanitized("a\x0b\x0c" "b", "a\\x0b\\x0cb");
}

Test(text_escape, c0_and_del)
{
	expect_sanitized("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H");
	expect_sanitized("\x1b]0;title\x07", "\\x1b]0;title\\x07");
	expect_sanitized("bs\x08\x08", "bs\\x08\\x08");
	expect_sanitized("\x01\x1f", "\\x01\\x1f");
	expect_sanitized("a\x7f", "a\\x7f");
}

Test(text_escape, c1_controls)
{
	/* CSI as UTF-8, and as the raw byte a terminal may also take. */
	expect_sanitized("\xc2\x9b" "2J", "\\xc2\\x9b2J");
	expect_sanitized("\x9b" "2J", "\\x9b2J");
	expect_sanitized("\xc2\x80\xc2\x85\xc2\x9f", "\\xc2\\x80\\xc2\\x85"
	    "\\xc2\\x9f");
	expect_sanitized("\x85", "\\x85");
}

Test(text_escape, invalid_utf8)
{
	expect_sanitized("caf\xe9!", "caf\\xe9!");
	expect_sanitized("\xc0\xaf", "\\xc0\\xaf");
	expect_sanitized("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
	expect_sanitized("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf");
	expect_sanitized("\xed\xa0\x80", "\\xed\\xa0\\x80");
	expect_sanitized("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
	expect_sanitized("\xff\xfe", "\\xff\\xfe");
	/* A cut sequence: the bytes are escaped, what follows is kept. */
	expect_sanitized("ab\xe2\x82", "ab\\xe2\\x82");
	expect_sanitized("\xe2\x82" "a\xc3\xa9", "\\xe2\\x82a\xc3\xa9");
	expect_sanitized("\xc3\xc3\xa9", "\\xc3\xc3\xa9");
}

Test(text_escape, bidi_and_separators)
{
	expect_sanitized("txt\xe2\x80\xae" "gpj.exe",
	    "txt\\xe2\\x80\\xaegpj.exe");
	expect_sanitized("\xe2\x80\xaa\xe2\x80\xac", "\\xe2\\x80\\xaa"
	    "\\xe2\\x80\\xac");
	expect_sanitized("\xe2\x81\xa6x\xe2\x81\xa9", "\\xe2\\x81\\xa6x"
	    "\\xe2\\x81\\xa9");
	expect_sanitized("a\xe2\x80\xa8" "b\xe2\x80\xa9",
	    "a\\xe2\\x80\\xa8b\\xe2\\x80\\xa9");
}

Test(text_escape, cut_between_characters)
{
	char	 out[128], in[600];
	size_t	 i;

	/* "a" then a 2-byte character: it fits only with its NUL. */
	cr_expect_eq(text_escape(out, 3, "a\xc3\xa9"), 1);
	cr_expect_str_eq(out, "a");
	cr_expect_eq(text_escape(out, 4, "a\xc3\xa9"), 3);
	cr_expect_str_eq(out, "a\xc3\xa9");
	/* An escape is four bytes, never fewer. */
	cr_expect_eq(text_escape(out, 5, "a\n"), 1);
	cr_expect_str_eq(out, "a");
	cr_expect_eq(text_escape(out, 6, "a\n"), 5);
	cr_expect_str_eq(out, "a\\x0a");
	cr_expect_eq(text_escape(out, 1, "abc"), 0);
	cr_expect_str_eq(out, "");

	/* 199 euro signs (3 bytes each) into 100 bytes: 33 fit exactly,
	 * and one byte less leaves 32. */
	for (i = 0; i < 199; i++)
		memcpy(in + 3 * i, "\xe2\x82\xac", 3);
	in[597] = '\0';
	cr_expect_eq(text_escape(out, 100, in), 99);
	cr_expect_eq(text_escape(out, 99, in), 96);
	cr_expect_eq(policy_text_valid(out), 1);
	cr_expect_eq(memcmp(out, in, 96), 0);

	/* Escapes alone, into an odd size: no escape is cut. */
	memset(in, '\n', 100);
	in[100] = '\0';
	cr_expect_eq(text_escape(out, 23, in), 20);
	cr_expect_str_eq(out, "\\x0a\\x0a\\x0a\\x0a\\x0a");
}

/*
 * Random bytes, weighted to the interesting ones: the output is always text
 * policy_text_valid accepts, and equals the input exactly when the input is
 * accepted. The generator is fixed, so a failure is repeatable.
 */
Test(text_escape, random_input_always_clean)
{
	static const unsigned char pool[] = { 'a', ' ', '\\', '\n', 0x1b,
	    0x7f, 0x80, 0x85, 0x9b, 0xa0, 0xae, 0xbf, 0xc0, 0xc2, 0xc3, 0xe0,
	    0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x81, 0xa8, 0x8e };
	char		 in[24], out[24 * 4 + 1];
	uint32_t	 x = 0x2545f491;
	size_t		 len, i;
	int		 round;

	for (round = 0; round < 200000; round++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		len = x % sizeof(in);
		for (i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			in[i] = (char)pool[x % sizeof(pool)];
		}
		in[len] = '\0';
		text_escape(out, sizeof(out), in);
		if (policy_text_valid(out) != 1 ||
		    (strcmp(out, in) == 0) != policy_text_valid(in)) {
			cr_expect_fail("round %d: input not handled", round);
			break;
		}
	}
}
