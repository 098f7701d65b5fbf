/*
 * keys.h - key material: secret generation, the keyed hash and the pepper.
 * keys.c is the only file in the daemon that calls libsodium.
 *
 * At rest only BLAKE2b-256(id || secret) keyed with the 32-byte pepper is
 * stored. The pepper lives in its own 0600 file in the state directory,
 * created on first start, and is kept in locked memory.
 */
#ifndef APIKEY_KEYS_H
#define APIKEY_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/token.h"

#define KEYS_HASH_LEN	32
#define KEYS_PEPPER_LEN	32
#define KEYS_PEPPER_FILE "pepper"

#define KEYS_OK		0
#define KEYS_EINIT	(-1)	/* libsodium failed to initialise */
#define KEYS_EIO	(-2)	/* pepper file unreadable or unwritable */
#define KEYS_EPEPPER	(-3)	/* pepper file has wrong size, owner or mode */
#define KEYS_ENOMEM	(-4)
#define KEYS_EPREFIX	(-5)	/* prefix not [a-z0-9]{1,16} */

struct pepper;

int	keys_init(void);
/* Loads state_dir/pepper, creating it (0600, random) if missing. A file of
 * the wrong size or group/world-accessible is refused. Caller frees with
 * keys_pepper_free(), which wipes it. */
int	keys_pepper_load(const char *state_dir, struct pepper **out);
void	keys_pepper_free(struct pepper *);

void	keys_new_id(char id[TOKEN_ID_LEN + 1]);
/* Draws a new secret for id: writes the token (to be shown once, then
 * wiped by the caller: see common/secret.h) and its hash. */
int	keys_new_secret(const struct pepper *, const char *prefix,
	    const char *id, char *token, size_t tokensz,
	    uint8_t hash[KEYS_HASH_LEN]);
void	keys_hash(const struct pepper *, const struct token *,
	    uint8_t out[KEYS_HASH_LEN]);
/* Constant time; 1 when equal. */
int	keys_equal(const uint8_t a[KEYS_HASH_LEN], const uint8_t b[KEYS_HASH_LEN]);
const char *keys_strerror(int);

#endif
