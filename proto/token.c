/*
 * token.c - parse and format API key tokens (<prefix>_<id>_<secret><crc>).
 *
 * Every verify starts here, in the daemon, in libapikey and in the PAM
 * module, so parsing rejects garbage and typos with plain byte checks before
 * anything touches the store. Numbers are at most 32 bytes, so base62 is
 * schoolbook arithmetic on a few 32-bit limbs: short, obviously bounded,
 * and no bignum library in the PAM module's address space.
 *
 * The secret is sensitive: token_parse decodes it straight into
 * out->secret, and only after every other check has passed, so no other
 * buffer ever holds it; scratch copies made while encoding are wiped.
 * zlib's crc32 is the only library call, and it is bound before any token
 * is seen (crc_bind, below).
 */
#include <stdint.h>
#include <string.h>

#include <zlib.h>

#include "../common/secret.h"
#include "token.h"

/*
 * The largest id and secret, base62(2^64 - 1) and base62(2^256 - 1) at their
 * fixed widths. The alphabet is in ASCII order, so for two valid digit
 * strings of equal width memcmp orders them by value: a range check is one
 * memcmp, without decoding anything. tests/unit_token.c pins both strings
 * against token_id_encode and token_format.
 */
static const char id_max[TOKEN_ID_LEN + 1] = "LygHa16AHYF";
static const char secret_max[TOKEN_SECRET_LEN + 1] =
    "yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp1";

#define CRC_BYTES	4

/*
 * Base62 works on the number in 32-bit limbs, most significant first, five
 * digits at a time: 62^5 < 2^30, so a limb times 62^5 plus a carry, or a
 * remainder shifted in front of a limb, fits in 64 bits. That is a tenth
 * of the steps of a digit at a time on bytes, which cost 20k instructions
 * per key created and 14k per verify.
 *
 * The loops run a fixed number of times for a given width and no branch
 * depends on a digit's value, nor do table indexes: the secret's digits
 * leave no trace in the timing or the cache beyond what b62_valid shows
 * (its memcmp with the maximum, which stops at the first difference).
 */
#define LIMB_BYTES	4
#define LIMBS_MAX	(TOKEN_SECRET_BYTES / LIMB_BYTES)
#define CHUNK_DIGITS	5
#define CHUNK		916132832u	/* 62^5 */

/* Every number here is whole limbs: the CRC, the id and the secret. */
_Static_assert(CRC_BYTES % LIMB_BYTES == 0 &&
    TOKEN_ID_BYTES % LIMB_BYTES == 0 &&
    TOKEN_SECRET_BYTES % LIMB_BYTES == 0, "base62 numbers are whole limbs");

static const uint32_t b62_pow[CHUNK_DIGITS + 1] = {
	1, 62, 3844, 238328, 14776336, CHUNK,
};

/* All ones when c is a base62 digit, else 0. */
static uint32_t
b62_is_digit(char c)
{
	uint32_t	u = (unsigned char)c;

	return (0u - (u - '0' < 10)) | (0u - (u - 'A' < 26)) |
	    (0u - (u - 'a' < 26));
}

/* The digit's value, or -1 for any other byte. */
static int
b62_digit(char c)
{
	uint32_t	u = (unsigned char)c;
	uint32_t	num = u - '0', up = u - 'A', low = u - 'a';

	return (int)((num & (0u - (num < 10))) |
	    ((up + 10) & (0u - (up < 26))) |
	    ((low + 36) & (0u - (low < 26))) | ~b62_is_digit(c));
}

/* The character of digit d (0 to 61), by arithmetic: no table lookup.
 * (9 - d) >> 8 is all ones from 10 on, (35 - d) >> 8 from 36 on. */
static char
b62_char(uint32_t d)
{
	return (char)('0' + d + (((9 - d) >> 8) & 7) + (((35 - d) >> 8) & 6));
}

/*
 * The bytes of a number go in and out of limbs one at a time, through
 * volatile, so that no compiler gathers them into vector registers: nothing
 * wipes those, and the next lazily bound call spills them to the stack
 * (see crc_bind). tests/it_memory.c found half a secret there when the
 * compiler did so here.
 */

/* The big-endian bytes at in as nl limbs. */
static void
limbs_load(const volatile uint8_t *in, uint32_t *limb, size_t nl)
{
	size_t	j;

	for (j = 0; j < nl; j++, in += LIMB_BYTES)
		limb[j] = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
		    (uint32_t)in[2] << 8 | in[3];
}

/* The nl limbs as big-endian bytes into out. */
static void
limbs_store(const uint32_t *limb, size_t nl, volatile uint8_t *out)
{
	size_t	j;

	for (j = 0; j < nl; j++, out += LIMB_BYTES) {
		out[0] = (uint8_t)(limb[j] >> 24);
		out[1] = (uint8_t)(limb[j] >> 16);
		out[2] = (uint8_t)(limb[j] >> 8);
		out[3] = (uint8_t)limb[j];
	}
}

/* Divides the nl limbs by 62^5 in place; returns the remainder. */
static uint32_t
limbs_divmod(uint32_t *limb, size_t nl)
{
	uint64_t	acc;
	uint32_t	rem = 0;
	size_t		j;

	for (j = 0; j < nl; j++) {
		acc = (uint64_t)rem << 32 | limb[j];
		limb[j] = (uint32_t)(acc / CHUNK);
		rem = (uint32_t)(acc % CHUNK);
	}
	return rem;
}

/* Multiplies the nl limbs by mul and adds add; returns what overflowed. */
static uint32_t
limbs_muladd(uint32_t *limb, size_t nl, uint32_t mul, uint32_t add)
{
	uint64_t	acc;
	uint32_t	carry = add;
	size_t		j;

	for (j = nl; j > 0; j--) {
		acc = (uint64_t)limb[j - 1] * mul + carry;
		limb[j - 1] = (uint32_t)acc;
		carry = (uint32_t)(acc >> 32);
	}
	return carry;
}

/*
 * Writes the nbytes big-endian number in as exactly width digits, most
 * significant first. width must be large enough for nbytes (11 for 8, 43 for
 * 32, 6 for 4) and nbytes whole limbs; every caller passes such a fixed
 * pair. The limbs are a
 * scratch copy, wiped, since they may hold a secret.
 */
static void
b62_encode(const uint8_t *in, size_t nbytes, char *out, size_t width)
{
	uint32_t	limb[LIMBS_MAX];
	struct secret_scope limb_scope SECRET_SCOPE = { limb, sizeof(limb) };
	uint32_t	rem;
	size_t		i = width, k, n, nl = nbytes / LIMB_BYTES;

	limbs_load(in, limb, nl);
	while (i > 0) {
		rem = limbs_divmod(limb, nl);
		n = i < CHUNK_DIGITS ? i : CHUNK_DIGITS;
		for (k = 0; k < n; k++) {
			out[--i] = b62_char(rem % 62);
			rem /= 62;
		}
	}
}

/*
 * Decodes width digits into nbytes (whole limbs) big-endian bytes by
 * multiply-and-add, five digits per pass: first width % 5 of them, then
 * five at a time.
 * Returns -1 on a bad digit or when the value does not fit, having read
 * every digit all the same; out is then zeroed.
 */
static int
b62_decode(const char *in, size_t width, uint8_t *out, size_t nbytes)
{
	uint32_t	limb[LIMBS_MAX];
	struct secret_scope limb_scope SECRET_SCOPE = { limb, sizeof(limb) };
	uint32_t	chunk, over = 0;
	size_t		i = 0, k, n, nl = nbytes / LIMB_BYTES;
	int		d, bad = 0;

	memset(limb, 0, sizeof(limb));
	for (n = width % CHUNK_DIGITS; i < width; n = CHUNK_DIGITS) {
		for (chunk = 0, k = 0; k < n; k++, i++) {
			d = b62_digit(in[i]);
			bad |= d;
			chunk = chunk * 62 + ((unsigned int)d & 63);
		}
		over |= limbs_muladd(limb, nl, b62_pow[n], chunk);
	}
	if (bad < 0 || over != 0) {
		memset(out, 0, nbytes);
		return -1;
	}
	limbs_store(limb, nl, out);
	return 0;
}

/* 1 when s holds width base62 digits whose value is at most max. */
static int
b62_valid(const char *s, size_t width, const char *max)
{
	uint32_t	all = ~0u;
	size_t		i;

	for (i = 0; i < width; i++)
		all &= b62_is_digit(s[i]);
	return all != 0 && memcmp(s, max, width) <= 0;
}

/* [a-z0-9]{1,16}, spelled out: isalnum() would follow the locale. */
static int
prefix_valid(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || n > TOKEN_PREFIX_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if ((s[i] < 'a' || s[i] > 'z') && (s[i] < '0' || s[i] > '9'))
			return 0;
	}
	return 1;
}

/*
 * zlib's crc32() calls crc32_z() through zlib's own PLT, which Debian's
 * libz binds lazily, whatever -z now says for our objects. The first call
 * goes through the dynamic linker's trampoline, which saves the vector
 * registers on the stack: when it runs in crc_encode, one of them still
 * holds secret digits from b62_encode, and they stay in a stack page no
 * later call reaches (tests/it_memory.c found the first key's secret in
 * the daemon's admin thread that way). So every program and library that
 * holds this file makes that first call when it is loaded, before it can
 * see a token.
 */
__attribute__((constructor)) static void
crc_bind(void)
{
	(void)crc32(0L, Z_NULL, 0);
}

/* The checksum digits of the n characters at s. */
static void
crc_encode(const char *s, size_t n, char out[TOKEN_CRC_LEN])
{
	uint8_t		be[CRC_BYTES];
	unsigned long	crc;

	crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)s, (uInt)n);
	be[0] = (uint8_t)(crc >> 24);
	be[1] = (uint8_t)(crc >> 16);
	be[2] = (uint8_t)(crc >> 8);
	be[3] = (uint8_t)crc;
	b62_encode(be, sizeof be, out, TOKEN_CRC_LEN);
}

/*
 * Checks, in this order, each reported by its own code: the length
 * (ELENGTH), exactly two underscores (ESHAPE), the prefix (EPREFIX), the id
 * (EID: 11 digits, at most 2^64 - 1), the secret (ESECRET: 43 digits plus 6
 * checksum characters, value at most 2^256 - 1), then the checksum
 * (ECHECKSUM). An empty id or secret is a wrong length for that part, not a
 * shape error. Only once all have passed is *out written and the secret
 * decoded, so the decode cannot fail half-way.
 */
int
token_parse(const char *s, size_t len, struct token *out)
{
	const char	*u1, *u2, *id, *tail, *end;
	char		 crc[TOKEN_CRC_LEN];
	size_t		 plen;

	if (len == 0 || len > TOKEN_MAX)
		return TOKEN_ELENGTH;
	end = s + len;
	if ((u1 = memchr(s, '_', len)) == NULL ||
	    (u2 = memchr(u1 + 1, '_', (size_t)(end - u1 - 1))) == NULL ||
	    memchr(u2 + 1, '_', (size_t)(end - u2 - 1)) != NULL)
		return TOKEN_ESHAPE;

	plen = (size_t)(u1 - s);
	if (!prefix_valid(s, plen))
		return TOKEN_EPREFIX;
	id = u1 + 1;
	if (u2 - id != TOKEN_ID_LEN || !b62_valid(id, TOKEN_ID_LEN, id_max))
		return TOKEN_EID;
	tail = u2 + 1;
	if (end - tail != TOKEN_SECRET_LEN + TOKEN_CRC_LEN ||
	    !b62_valid(tail, TOKEN_SECRET_LEN, secret_max))
		return TOKEN_ESECRET;
	crc_encode(s, len - TOKEN_CRC_LEN, crc);
	if (memcmp(crc, tail + TOKEN_SECRET_LEN, TOKEN_CRC_LEN) != 0)
		return TOKEN_ECHECKSUM;

	memset(out->prefix, 0, sizeof out->prefix);
	memcpy(out->prefix, s, plen);
	memcpy(out->id, id, TOKEN_ID_LEN);
	out->id[TOKEN_ID_LEN] = '\0';
	if (b62_decode(tail, TOKEN_SECRET_LEN, out->secret,
	    TOKEN_SECRET_BYTES) != 0) {
		/* Unreachable after b62_valid; never leave a partial secret. */
		secret_wipe(out, sizeof *out);
		return TOKEN_ESECRET;
	}
	return TOKEN_OK;
}

int
token_format(const char *prefix, const char *id,
    const uint8_t secret[TOKEN_SECRET_BYTES], char *out, size_t outsz)
{
	size_t	plen, n;

	if (!token_prefix_valid(prefix))
		return TOKEN_EPREFIX;
	if (!token_id_valid(id))
		return TOKEN_EID;
	plen = strlen(prefix);
	if (outsz < plen + 1 + TOKEN_ID_LEN + 1 + TOKEN_SECRET_LEN +
	    TOKEN_CRC_LEN + 1)
		return TOKEN_ESPACE;

	memcpy(out, prefix, plen);
	n = plen;
	out[n++] = '_';
	memcpy(out + n, id, TOKEN_ID_LEN);
	n += TOKEN_ID_LEN;
	out[n++] = '_';
	b62_encode(secret, TOKEN_SECRET_BYTES, out + n, TOKEN_SECRET_LEN);
	n += TOKEN_SECRET_LEN;
	crc_encode(out, n, out + n);
	n += TOKEN_CRC_LEN;
	out[n] = '\0';
	return TOKEN_OK;
}

void
token_id_encode(const uint8_t raw[TOKEN_ID_BYTES], char out[TOKEN_ID_LEN + 1])
{
	b62_encode(raw, TOKEN_ID_BYTES, out, TOKEN_ID_LEN);
	out[TOKEN_ID_LEN] = '\0';
}

int
token_id_valid(const char *s)
{
	return strnlen(s, TOKEN_ID_LEN + 1) == TOKEN_ID_LEN &&
	    b62_valid(s, TOKEN_ID_LEN, id_max);
}

int
token_prefix_valid(const char *s)
{
	return prefix_valid(s, strnlen(s, TOKEN_PREFIX_MAX + 1));
}

const char *
token_strerror(int err)
{
	switch (err) {
	case TOKEN_OK:
		return "success";
	case TOKEN_ELENGTH:
		return "token empty or too long";
	case TOKEN_ESHAPE:
		return "token is not prefix_id_secret";
	case TOKEN_EPREFIX:
		return "bad token prefix";
	case TOKEN_EID:
		return "bad key id";
	case TOKEN_ESECRET:
		return "bad token secret";
	case TOKEN_ECHECKSUM:
		return "token checksum mismatch";
	case TOKEN_ESPACE:
		return "token buffer too small";
	default:
		return "unknown token error";
	}
}
