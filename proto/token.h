/*
 * token.h - the API key token format, shared by apikeyd, libapikey and
 * pam_apikey so that all three recognise a key the same way.
 *
 *     <prefix>_<id>_<secret><checksum>
 *
 *   prefix    [a-z0-9]{1,16}
 *   id        64 random bits, base62, exactly TOKEN_ID_LEN characters
 *   secret    32 random bytes, base62, exactly TOKEN_SECRET_LEN characters
 *   checksum  CRC32 (zlib) of everything before it, base62, TOKEN_CRC_LEN
 *
 * Base62 digits are 0-9, A-Z, a-z, most significant first, zero-padded to the
 * fixed width; a value that does not fit the byte width is rejected.
 * Parsing rejects garbage and typos before any store access. Generating the
 * random parts and hashing the secret belong to daemon/keys.c, not here.
 *
 * struct token holds the secret: name it with a struct secret_scope
 * (common/secret.h) where it is declared, so that it is wiped on every path.
 */
#ifndef APIKEY_TOKEN_H
#define APIKEY_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_PREFIX_MAX	16
#define TOKEN_ID_BYTES		8
#define TOKEN_ID_LEN		11
#define TOKEN_SECRET_BYTES	32
#define TOKEN_SECRET_LEN	43
#define TOKEN_CRC_LEN		6
/* Longest possible token, without the NUL. */
#define TOKEN_MAX	(TOKEN_PREFIX_MAX + 1 + TOKEN_ID_LEN + 1 + \
			 TOKEN_SECRET_LEN + TOKEN_CRC_LEN)
#define TOKEN_DEFAULT_PREFIX	"ak"

#define TOKEN_OK		0
#define TOKEN_ELENGTH		(-1)	/* empty or longer than TOKEN_MAX */
#define TOKEN_ESHAPE		(-2)	/* not prefix_id_secret */
#define TOKEN_EPREFIX		(-3)	/* prefix empty, too long or bad chars */
#define TOKEN_EID		(-4)	/* id wrong length, chars or value */
#define TOKEN_ESECRET		(-5)	/* secret wrong length, chars or value */
#define TOKEN_ECHECKSUM		(-6)	/* CRC does not match */
#define TOKEN_ESPACE		(-7)	/* output buffer too small */

struct token {
	char	prefix[TOKEN_PREFIX_MAX + 1];
	char	id[TOKEN_ID_LEN + 1];
	uint8_t	secret[TOKEN_SECRET_BYTES];
};

/* Parses s (len bytes, need not be NUL-terminated). *out written on success. */
int	token_parse(const char *s, size_t len, struct token *out);
/* Writes the full token, NUL-terminated, into out (outsz >= TOKEN_MAX + 1). */
int	token_format(const char *prefix, const char *id,
	    const uint8_t secret[TOKEN_SECRET_BYTES], char *out, size_t outsz);
/* Encodes 8 id bytes as the TOKEN_ID_LEN-character id plus NUL. */
void	token_id_encode(const uint8_t raw[TOKEN_ID_BYTES],
	    char out[TOKEN_ID_LEN + 1]);
/* 1 when s is a well-formed key id, else 0. */
int	token_id_valid(const char *s);
/* 1 when s is a well-formed prefix, else 0. */
int	token_prefix_valid(const char *s);
const char *token_strerror(int);

#endif
