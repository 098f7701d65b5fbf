/*
 * unit_token.c - token parse and format (proto/token.c).
 *
 * Expected values come from an independent computation (a known token made
 * with Python's int/zlib.crc32, and a small base62 encoder here), not from
 * the code under test. Every malformed shape is checked for its exact code.
 * The limb-wise base62 is also checked against the byte-wise reference at
 * the end of this file, on many random numbers and on the edges.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <zlib.h>

#include "../common/secret.h"
#include "../proto/token.h"

static const char alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* base62(2^64 - 1) and base62(2^256 - 1), computed with Python ints. */
#define ID_MAX		"LygHa16AHYF"
#define SECRET_MAX	"yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp1"

/*
 * id bytes 01..08, secret bytes 00..1f, prefix "ak": made with Python
 * (int.from_bytes, base62 by divmod, zlib.crc32).
 */
#define KNOWN_TOKEN \
    "ak_05McJmDgrvc_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf149beY"
#define KNOWN_ID	"05McJmDgrvc"

/* Offsets inside a token with a two-character prefix. */
#define ID_OFF		3
#define SECRET_OFF	(ID_OFF + TOKEN_ID_LEN + 1)
#define CRC_OFF		(SECRET_OFF + TOKEN_SECRET_LEN)
#define KNOWN_LEN	(CRC_OFF + TOKEN_CRC_LEN)

static void
known_secret(uint8_t secret[TOKEN_SECRET_BYTES])
{
	int	i;

	for (i = 0; i < TOKEN_SECRET_BYTES; i++)
		secret[i] = (uint8_t)i;
}

/* Appends the correct checksum to the n characters in s (s has room). */
static void
add_crc(char *s, size_t n)
{
	unsigned long	crc = crc32(0L, (const Bytef *)s, (uInt)n);
	int		i;

	for (i = TOKEN_CRC_LEN - 1; i >= 0; i--) {
		s[n + (size_t)i] = alphabet[crc % 62];
		crc /= 62;
	}
	s[n + TOKEN_CRC_LEN] = '\0';
}

/* Builds prefix_id_secret plus its correct checksum into out. */
static void
build(char *out, size_t outsz, const char *prefix, const char *id,
    const char *secret)
{
	int	n;

	n = snprintf(out, outsz, "%s_%s_%s", prefix, id, secret);
	cr_assert(n > 0 && (size_t)n + TOKEN_CRC_LEN < outsz);
	add_crc(out, (size_t)n);
}

static int
parse(const char *s)
{
	struct token	t;
	int		rv;

	memset(&t, 0xa5, sizeof t);
	rv = token_parse(s, strlen(s), &t);
	if (rv != 0) {
		struct token	untouched;

		memset(&untouched, 0xa5, sizeof untouched);
		cr_assert_eq(memcmp(&t, &untouched, sizeof t), 0,
		    "out written on failure %d", rv);
	}
	secret_wipe(&t, sizeof(t));
	return rv;
}

/* n copies of c; two buffers in turn, so one call may use two results. */
static char *
repeat(char c, size_t n)
{
	static char	buf[2][128];
	static int	next;
	char		*b = buf[next];

	next ^= 1;
	cr_assert(n < sizeof buf[0]);
	memset(b, c, n);
	b[n] = '\0';
	return b;
}

Test(token, known_answer)
{
	uint8_t		raw[TOKEN_ID_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t		secret[TOKEN_SECRET_BYTES];
	char		id[TOKEN_ID_LEN + 1], out[TOKEN_MAX + 1];
	struct token	t;

	token_id_encode(raw, id);
	cr_assert_str_eq(id, KNOWN_ID);
	known_secret(secret);
	cr_assert_eq(token_format("ak", id, secret, out, sizeof out), 0);
	cr_assert_str_eq(out, KNOWN_TOKEN);
	cr_assert_eq(strlen(out), KNOWN_LEN);

	cr_assert_eq(token_parse(out, strlen(out), &t), 0);
	cr_assert_str_eq(t.prefix, "ak");
	cr_assert_str_eq(t.id, KNOWN_ID);
	cr_assert_arr_eq(t.secret, secret, sizeof secret);
	secret_wipe(&t, sizeof(t));
}

Test(token, round_trip)
{
	static const char *const prefixes[] = {
		"ak", "a", "0", "z9", "abcdefghijklmnop", "0123456789abcdef",
	};
	uint8_t		raw[TOKEN_ID_BYTES], secret[TOKEN_SECRET_BYTES];
	char		id[TOKEN_ID_LEN + 1], out[TOKEN_MAX + 1];
	struct token	t;
	size_t		p, i;
	int		fill;

	for (p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
		for (fill = 0; fill < 4; fill++) {
			for (i = 0; i < sizeof raw; i++)
				raw[i] = fill == 0 ? 0 : fill == 1 ? 0xff :
				    (uint8_t)(i * 37 + fill);
			for (i = 0; i < sizeof secret; i++)
				secret[i] = fill == 0 ? 0 : fill == 1 ? 0xff :
				    (uint8_t)(i * 91 + fill * 7);
			token_id_encode(raw, id);
			cr_assert_eq(token_id_valid(id), 1);
			cr_assert_eq(token_format(prefixes[p], id, secret, out,
			    sizeof out), 0);
			cr_assert_eq(strlen(out), strlen(prefixes[p]) + 1 +
			    TOKEN_ID_LEN + 1 + TOKEN_SECRET_LEN +
			    TOKEN_CRC_LEN);
			memset(&t, 0, sizeof t);
			cr_assert_eq(token_parse(out, strlen(out), &t), 0,
			    "%s", prefixes[p]);
			cr_assert_str_eq(t.prefix, prefixes[p]);
			cr_assert_str_eq(t.id, id);
			cr_assert_arr_eq(t.secret, secret, sizeof secret);
			secret_wipe(&t, sizeof(t));
		}
	}
}

Test(token, extremes_are_pinned)
{
	uint8_t		raw[TOKEN_ID_BYTES], secret[TOKEN_SECRET_BYTES];
	char		id[TOKEN_ID_LEN + 1], out[TOKEN_MAX + 1];

	memset(raw, 0, sizeof raw);
	token_id_encode(raw, id);
	cr_assert_str_eq(id, "00000000000");
	memset(raw, 0xff, sizeof raw);
	token_id_encode(raw, id);
	cr_assert_str_eq(id, ID_MAX);

	memset(secret, 0xff, sizeof secret);
	cr_assert_eq(token_format("ak", id, secret, out, sizeof out), 0);
	cr_assert_eq(memcmp(out + SECRET_OFF, SECRET_MAX, TOKEN_SECRET_LEN),
	    0);
	memset(secret, 0, sizeof secret);
	secret[TOKEN_SECRET_BYTES - 1] = 1;
	cr_assert_eq(token_format("ak", id, secret, out, sizeof out), 0);
	cr_assert_eq(memcmp(out + SECRET_OFF, repeat('0', 42), 42), 0);
	cr_assert_eq(out[SECRET_OFF + 42], '1');
}

Test(token, parse_uses_len_not_nul)
{
	char		s[KNOWN_LEN + 8];
	struct token	t;

	memcpy(s, KNOWN_TOKEN "trailing", sizeof s);
	cr_assert_eq(token_parse(s, KNOWN_LEN, &t), 0);
	cr_assert_str_eq(t.id, KNOWN_ID);
	secret_wipe(&t, sizeof(t));
	cr_assert_eq(token_parse(s, KNOWN_LEN - 1, &t), TOKEN_ESECRET);
	cr_assert_eq(token_parse(s, KNOWN_LEN + 1, &t), TOKEN_ESECRET);
}

/* What a parse of the valid token with one character changed must say. */
static int
expect_after_change(const char *s, size_t pos)
{
	if (pos < 2)
		return (s[pos] >= 'A' && s[pos] <= 'Z') ? TOKEN_EPREFIX :
		    TOKEN_ECHECKSUM;
	if (pos >= ID_OFF && pos < ID_OFF + TOKEN_ID_LEN)
		return memcmp(s + ID_OFF, ID_MAX, TOKEN_ID_LEN) > 0 ?
		    TOKEN_EID : TOKEN_ECHECKSUM;
	if (pos >= SECRET_OFF && pos < CRC_OFF)
		return memcmp(s + SECRET_OFF, SECRET_MAX,
		    TOKEN_SECRET_LEN) > 0 ? TOKEN_ESECRET : TOKEN_ECHECKSUM;
	return TOKEN_ECHECKSUM;
}

Test(token, every_single_character_change_is_caught)
{
	char	s[KNOWN_LEN + 1];
	size_t	pos, a, checked = 0, by_crc = 0;
	int	rv, want;

	for (pos = 0; pos < KNOWN_LEN; pos++) {
		if (pos == 2 || pos == SECRET_OFF - 1)
			continue;	/* the underscores: see shape tests */
		for (a = 0; a < sizeof alphabet - 1; a++) {
			memcpy(s, KNOWN_TOKEN, sizeof s);
			if (s[pos] == alphabet[a])
				continue;
			s[pos] = alphabet[a];
			want = expect_after_change(s, pos);
			rv = parse(s);
			cr_assert_eq(rv, want, "pos %zu char %c: %d, want %d",
			    pos, alphabet[a], rv, want);
			checked++;
			if (rv == TOKEN_ECHECKSUM)
				by_crc++;
		}
	}
	cr_assert_eq(checked, (KNOWN_LEN - 2) * 61);
	/* Most changes keep the shape: the checksum is what catches them. */
	cr_assert(by_crc > checked * 9 / 10, "%zu of %zu", by_crc, checked);
}

Test(token, malformed_shapes)
{
	char	s[256], secret[TOKEN_SECRET_LEN + 8];
	char	*sec = secret;

	memcpy(secret, KNOWN_TOKEN + SECRET_OFF, TOKEN_SECRET_LEN);
	secret[TOKEN_SECRET_LEN] = '\0';

	/* Length. */
	cr_assert_eq(token_parse("", 0, NULL), TOKEN_ELENGTH);
	build(s, sizeof s, repeat('a', 17), KNOWN_ID, sec);
	cr_assert_eq(strlen(s), TOKEN_MAX + 1);
	cr_assert_eq(parse(s), TOKEN_ELENGTH);
	build(s, sizeof s, repeat('a', 16), KNOWN_ID, sec);
	cr_assert_eq(strlen(s), TOKEN_MAX);
	cr_assert_eq(parse(s), 0);

	/* Underscores. */
	cr_assert_eq(parse("akabcdefghijk"), TOKEN_ESHAPE);
	memcpy(s, KNOWN_TOKEN, KNOWN_LEN + 1);
	s[2] = 'x';
	cr_assert_eq(parse(s), TOKEN_ESHAPE);		/* one underscore */
	memcpy(s, KNOWN_TOKEN, KNOWN_LEN + 1);
	s[SECRET_OFF - 1] = 'x';
	cr_assert_eq(parse(s), TOKEN_ESHAPE);		/* one underscore */
	build(s, sizeof s, "a_k", KNOWN_ID, sec);
	cr_assert_eq(parse(s), TOKEN_ESHAPE);		/* three */
	memcpy(s, KNOWN_TOKEN, KNOWN_LEN + 1);
	s[SECRET_OFF + 5] = '_';
	cr_assert_eq(parse(s), TOKEN_ESHAPE);		/* in the secret */
	cr_assert_eq(parse("___"), TOKEN_ESHAPE);
	cr_assert_eq(parse("_"), TOKEN_ESHAPE);

	/* Prefix. */
	build(s, sizeof s, "", KNOWN_ID, sec);
	cr_assert_eq(parse(s), TOKEN_EPREFIX);
	/* 17 characters, with a shorter secret so the length still fits. */
	build(s, sizeof s, repeat('a', 17), KNOWN_ID, repeat('0', 42));
	cr_assert_eq(strlen(s), TOKEN_MAX);
	cr_assert_eq(parse(s), TOKEN_EPREFIX);
	build(s, sizeof s, "Ak", KNOWN_ID, sec);
	cr_assert_eq(parse(s), TOKEN_EPREFIX);
	build(s, sizeof s, "a-k", KNOWN_ID, sec);
	cr_assert_eq(parse(s), TOKEN_EPREFIX);

	/* Id. */
	build(s, sizeof s, "ak", "05McJmDgrv", sec);
	cr_assert_eq(parse(s), TOKEN_EID);
	build(s, sizeof s, "ak", "05McJmDgrvc0", sec);
	cr_assert_eq(parse(s), TOKEN_EID);
	build(s, sizeof s, "ak", "", sec);
	cr_assert_eq(parse(s), TOKEN_EID);
	build(s, sizeof s, "ak", "05McJmDgrv-", sec);
	cr_assert_eq(parse(s), TOKEN_EID);
	build(s, sizeof s, "ak", "zzzzzzzzzzz", sec);
	cr_assert_eq(parse(s), TOKEN_EID);
	build(s, sizeof s, "ak", "LygHa16AHYG", sec);	/* 2^64 */
	cr_assert_eq(parse(s), TOKEN_EID);
	build(s, sizeof s, "ak", ID_MAX, sec);
	cr_assert_eq(parse(s), 0);

	/* Secret (with a correct checksum, so only the secret is wrong). */
	build(s, sizeof s, "ak", KNOWN_ID, repeat('0', 42));
	cr_assert_eq(parse(s), TOKEN_ESECRET);
	build(s, sizeof s, "ak", KNOWN_ID, repeat('0', 44));
	cr_assert_eq(parse(s), TOKEN_ESECRET);
	build(s, sizeof s, "ak", KNOWN_ID, "");
	cr_assert_eq(parse(s), TOKEN_ESECRET);
	memcpy(s, "ak_" KNOWN_ID "_", SECRET_OFF);
	s[SECRET_OFF] = '\0';
	cr_assert_eq(parse(s), TOKEN_ESECRET);		/* nothing after id */
	secret[10] = '+';
	build(s, sizeof s, "ak", KNOWN_ID, sec);
	cr_assert_eq(parse(s), TOKEN_ESECRET);
	build(s, sizeof s, "ak", KNOWN_ID, repeat('z', 43));
	cr_assert_eq(parse(s), TOKEN_ESECRET);		/* value overflows */
	build(s, sizeof s, "ak", KNOWN_ID,
	    "yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp2");	/* 2^256 */
	cr_assert_eq(parse(s), TOKEN_ESECRET);
	build(s, sizeof s, "ak", KNOWN_ID, SECRET_MAX);
	cr_assert_eq(parse(s), 0);

	/* Checksum. */
	memcpy(s, KNOWN_TOKEN, KNOWN_LEN + 1);
	s[KNOWN_LEN - 1] = s[KNOWN_LEN - 1] == 'Y' ? 'Z' : 'Y';
	cr_assert_eq(parse(s), TOKEN_ECHECKSUM);
	memcpy(s, KNOWN_TOKEN, KNOWN_LEN + 1);
	s[KNOWN_LEN - 1] = '-';
	cr_assert_eq(parse(s), TOKEN_ECHECKSUM);
}

Test(token, nul_inside_is_rejected)
{
	char	s[KNOWN_LEN + 1];

	memcpy(s, KNOWN_TOKEN, sizeof s);
	s[1] = '\0';
	cr_assert_eq(token_parse(s, KNOWN_LEN, NULL), TOKEN_EPREFIX);
	memcpy(s, KNOWN_TOKEN, sizeof s);
	s[ID_OFF + 4] = '\0';
	cr_assert_eq(token_parse(s, KNOWN_LEN, NULL), TOKEN_EID);
	memcpy(s, KNOWN_TOKEN, sizeof s);
	s[SECRET_OFF + 4] = '\0';
	cr_assert_eq(token_parse(s, KNOWN_LEN, NULL), TOKEN_ESECRET);
	memcpy(s, KNOWN_TOKEN, sizeof s);
	s[CRC_OFF + 4] = '\0';
	cr_assert_eq(token_parse(s, KNOWN_LEN, NULL), TOKEN_ECHECKSUM);
}

Test(token, format_errors)
{
	uint8_t	secret[TOKEN_SECRET_BYTES];
	char	out[TOKEN_MAX + 1];

	known_secret(secret);
	memset(out, 'x', sizeof out);
	cr_assert_eq(token_format("ak", KNOWN_ID, secret, out, KNOWN_LEN),
	    TOKEN_ESPACE);
	cr_assert_eq(out[0], 'x');
	cr_assert_eq(token_format("ak", KNOWN_ID, secret, out, 0),
	    TOKEN_ESPACE);
	cr_assert_eq(token_format("ak", KNOWN_ID, secret, out, KNOWN_LEN + 1),
	    0);
	cr_assert_str_eq(out, KNOWN_TOKEN);

	cr_assert_eq(token_format("", KNOWN_ID, secret, out, sizeof out),
	    TOKEN_EPREFIX);
	cr_assert_eq(token_format(repeat('a', 17), KNOWN_ID, secret, out,
	    sizeof out), TOKEN_EPREFIX);
	cr_assert_eq(token_format("aK", KNOWN_ID, secret, out, sizeof out),
	    TOKEN_EPREFIX);
	cr_assert_eq(token_format("a_", KNOWN_ID, secret, out, sizeof out),
	    TOKEN_EPREFIX);
	cr_assert_eq(token_format("ak", "05McJmDgrv", secret, out,
	    sizeof out), TOKEN_EID);
	cr_assert_eq(token_format("ak", "zzzzzzzzzzz", secret, out,
	    sizeof out), TOKEN_EID);
	cr_assert_eq(token_format("ak", "05McJmDgr_c", secret, out,
	    sizeof out), TOKEN_EID);
}

Test(token, id_valid)
{
	cr_assert_eq(token_id_valid(KNOWN_ID), 1);
	cr_assert_eq(token_id_valid("00000000000"), 1);
	cr_assert_eq(token_id_valid(ID_MAX), 1);
	cr_assert_eq(token_id_valid("LygHa16AHYG"), 0);	/* 2^64 */
	cr_assert_eq(token_id_valid("LygHa16AHZ0"), 0);
	cr_assert_eq(token_id_valid("M0000000000"), 0);
	cr_assert_eq(token_id_valid("zzzzzzzzzzz"), 0);
	cr_assert_eq(token_id_valid(""), 0);
	cr_assert_eq(token_id_valid("05McJmDgrv"), 0);
	cr_assert_eq(token_id_valid("05McJmDgrvc0"), 0);
	cr_assert_eq(token_id_valid("05McJmDgrv-"), 0);
	cr_assert_eq(token_id_valid("05McJmDgrv_"), 0);
	cr_assert_eq(token_id_valid("05McJ mDgrv"), 0);
}

Test(token, prefix_valid)
{
	cr_assert_eq(token_prefix_valid("ak"), 1);
	cr_assert_eq(token_prefix_valid(TOKEN_DEFAULT_PREFIX), 1);
	cr_assert_eq(token_prefix_valid("0"), 1);
	cr_assert_eq(token_prefix_valid(repeat('z', 16)), 1);
	cr_assert_eq(token_prefix_valid(repeat('z', 17)), 0);
	cr_assert_eq(token_prefix_valid(""), 0);
	cr_assert_eq(token_prefix_valid("Ak"), 0);
	cr_assert_eq(token_prefix_valid("a_k"), 0);
	cr_assert_eq(token_prefix_valid("a-k"), 0);
	cr_assert_eq(token_prefix_valid("a k"), 0);
	cr_assert_eq(token_prefix_valid("\xe9t\xe9"), 0);
}

Test(token, wipe)
{
	struct token	t, zero;

	cr_assert_eq(token_parse(KNOWN_TOKEN, KNOWN_LEN, &t), 0);
	secret_wipe(&t, sizeof(t));
	memset(&zero, 0, sizeof zero);
	cr_assert_eq(memcmp(&t, &zero, sizeof t), 0);
}

Test(token, strerror_covers_every_code)
{
	static const int codes[] = {
		TOKEN_OK, TOKEN_ELENGTH, TOKEN_ESHAPE, TOKEN_EPREFIX,
		TOKEN_EID, TOKEN_ESECRET, TOKEN_ECHECKSUM, TOKEN_ESPACE,
	};
	const char	*unknown = token_strerror(-1000);
	size_t		 i, j;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		cr_assert_str_neq(token_strerror(codes[i]), unknown);
		for (j = 0; j < i; j++)
			cr_assert_str_neq(token_strerror(codes[i]),
			    token_strerror(codes[j]));
	}
}

/*
 * Base62 against a reference: the byte-at-a-time schoolbook code token.c
 * used before it worked in limbs, kept here verbatim in substance. It is
 * too slow for every verify but obviously right, so the limb code must
 * give the same digits and bytes for every number, and refuse the same
 * digit strings.
 */
static void
ref_encode(const uint8_t *in, size_t nbytes, char *out, size_t width)
{
	uint8_t		num[TOKEN_SECRET_BYTES];
	unsigned int	acc, rem;
	size_t		i, j;

	memcpy(num, in, nbytes);
	for (i = width; i > 0; i--) {
		rem = 0;
		for (j = 0; j < nbytes; j++) {
			acc = rem << 8 | num[j];
			num[j] = (uint8_t)(acc / 62);
			rem = acc % 62;
		}
		out[i - 1] = alphabet[rem];
	}
}

static int
ref_digit(char c)
{
	const char	*p = c != '\0' ? strchr(alphabet, c) : NULL;

	return p != NULL ? (int)(p - alphabet) : -1;
}

static int
ref_decode(const char *in, size_t width, uint8_t *out, size_t nbytes)
{
	unsigned int	acc, carry;
	size_t		i, j;
	int		d;

	memset(out, 0, nbytes);
	for (i = 0; i < width; i++) {
		if ((d = ref_digit(in[i])) < 0)
			return -1;
		carry = (unsigned int)d;
		for (j = nbytes; j > 0; j--) {
			acc = out[j - 1] * 62u + carry;
			out[j - 1] = (uint8_t)acc;
			carry = acc >> 8;
		}
		if (carry != 0)
			return -1;
	}
	return 0;
}

/* xorshift64*: the same numbers on every run, so a failure repeats. */
static uint64_t
next_rand(uint64_t *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return *st * 2685821657736338717ULL;
}

/*
 * Random bytes, often in runs of 0x00 or 0xff, where carries and borrows
 * cross limbs and leading zeros show.
 */
static void
fill_rand(uint64_t *st, uint8_t *b, size_t n)
{
	size_t	i;
	int	mode = (int)(next_rand(st) % 4);

	for (i = 0; i < n; i++) {
		if (mode == 0 || next_rand(st) % 3 != 0)
			b[i] = (uint8_t)next_rand(st);
		else
			b[i] = mode == 1 ? 0 : mode == 2 ? 0xff :
			    (uint8_t)(next_rand(st) % 2 ? 0 : 0xff);
	}
}

/* Formats secret with id and checks every character of the token against
 * the reference, then parses it back. */
static void
check_against_ref(const uint8_t raw[TOKEN_ID_BYTES],
    const uint8_t secret[TOKEN_SECRET_BYTES])
{
	char		id[TOKEN_ID_LEN + 1], want_id[TOKEN_ID_LEN + 1];
	char		want[TOKEN_MAX + 1], out[TOKEN_MAX + 1];
	char		sec[TOKEN_SECRET_LEN + 1];
	struct token	t;

	token_id_encode(raw, id);
	ref_encode(raw, TOKEN_ID_BYTES, want_id, TOKEN_ID_LEN);
	want_id[TOKEN_ID_LEN] = '\0';
	cr_assert_str_eq(id, want_id);

	ref_encode(secret, TOKEN_SECRET_BYTES, sec, TOKEN_SECRET_LEN);
	sec[TOKEN_SECRET_LEN] = '\0';
	build(want, sizeof want, "ak", want_id, sec);
	cr_assert_eq(token_format("ak", id, secret, out, sizeof out), 0);
	cr_assert_str_eq(out, want);

	cr_assert_eq(token_parse(out, strlen(out), &t), 0, "%s", out);
	cr_assert_arr_eq(t.secret, secret, TOKEN_SECRET_BYTES, "%s", out);
	secret_wipe(&t, sizeof(t));
}

Test(token, base62_matches_reference_on_random_numbers)
{
	uint8_t		raw[TOKEN_ID_BYTES], secret[TOKEN_SECRET_BYTES];
	uint64_t	st = 0x9e3779b97f4a7c15ULL;
	int		i;

	for (i = 0; i < 20000; i++) {
		fill_rand(&st, raw, sizeof raw);
		fill_rand(&st, secret, sizeof secret);
		check_against_ref(raw, secret);
	}
}

Test(token, base62_matches_reference_on_edges)
{
	uint8_t		raw[TOKEN_ID_BYTES], secret[TOKEN_SECRET_BYTES];
	size_t		pos;
	int		bit;

	/* Zero, all ones, and every single bit alone or cleared. */
	memset(raw, 0, sizeof raw);
	memset(secret, 0, sizeof secret);
	check_against_ref(raw, secret);
	memset(raw, 0xff, sizeof raw);
	memset(secret, 0xff, sizeof secret);
	check_against_ref(raw, secret);
	for (pos = 0; pos < TOKEN_SECRET_BYTES; pos++) {
		for (bit = 0; bit < 8; bit++) {
			memset(raw, 0, sizeof raw);
			memset(secret, 0, sizeof secret);
			raw[pos % TOKEN_ID_BYTES] = (uint8_t)(1u << bit);
			secret[pos] = (uint8_t)(1u << bit);
			check_against_ref(raw, secret);
			memset(raw, 0xff, sizeof raw);
			memset(secret, 0xff, sizeof secret);
			raw[pos % TOKEN_ID_BYTES] ^= (uint8_t)(1u << bit);
			secret[pos] ^= (uint8_t)(1u << bit);
			check_against_ref(raw, secret);
		}
	}
}

/* A secret of digits: parse must accept exactly what the reference
 * decodes, to the same bytes. */
static void
check_digits_against_ref(const char sec[TOKEN_SECRET_LEN + 1])
{
	char		s[TOKEN_MAX + 1];
	uint8_t		want[TOKEN_SECRET_BYTES];
	struct token	t;
	int		rv, ref;

	build(s, sizeof s, "ak", KNOWN_ID, sec);
	ref = ref_decode(sec, TOKEN_SECRET_LEN, want, sizeof want);
	rv = token_parse(s, strlen(s), &t);
	cr_assert_eq(rv, ref == 0 ? TOKEN_OK : TOKEN_ESECRET, "%s: %d", sec,
	    rv);
	if (rv == TOKEN_OK)
		cr_assert_arr_eq(t.secret, want, sizeof want, "%s", sec);
	secret_wipe(&t, sizeof(t));
}

Test(token, base62_decode_matches_reference)
{
	static const char *const fixed[] = {
		SECRET_MAX,
		"yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp0",
		"yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp2",	/* 2^256 */
		"yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xpz",
		"yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xq0",
		"yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xz0",
		"yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8zz0",
		"yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw9000",
		"yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw7zzz",
		"yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xo~",
		"yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp/",
		"yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8XpZ",
		"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
		"yzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
		"xzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
		"0000000000000000000000000000000000000000000",
		"0000000000000000000000000000000000000000001",
		"000000000000000000000000000000000000000000z",
		"00000000000000000000000000000000000000000z0",
		"000000000000000000000000000000000000000zzzz",
		"00000000000000000000000000000000000000zzzzz",
		"0000000000000000000000000000000000000100000",
		"1000000000000000000000000000000000000000000",
	};
	static const char edge[] = "0189AZaz:@[`{/";
	char		sec[TOKEN_SECRET_LEN + 1];
	uint64_t	st = 0x2545f4914f6cdd1dULL;
	size_t		i, pos, e;

	for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		cr_assert_eq(strlen(fixed[i]), TOKEN_SECRET_LEN, "%s",
		    fixed[i]);
		check_digits_against_ref(fixed[i]);
	}
	/* Random digit strings: the first digit at most 'y' keeps about
	 * half of them in range, so both answers are exercised. */
	for (i = 0; i < 20000; i++) {
		for (pos = 0; pos < TOKEN_SECRET_LEN; pos++)
			sec[pos] = alphabet[next_rand(&st) % 62];
		sec[0] = alphabet[54 + next_rand(&st) % 7];
		sec[TOKEN_SECRET_LEN] = '\0';
		check_digits_against_ref(sec);
	}
	/* Every position with characters next to the digit ranges. */
	for (pos = 0; pos < TOKEN_SECRET_LEN; pos++) {
		for (e = 0; e < sizeof edge - 1; e++) {
			memcpy(sec, SECRET_MAX, sizeof sec);
			sec[0] = 'x';
			sec[pos] = edge[e];
			check_digits_against_ref(sec);
		}
	}
}
