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

/*
 * For creating keys in bulk: a pool of random bytes for nkeys ids and
 * secrets, drawn from the kernel once per fill rather than twice per key.
 * It refills itself when it runs short. It holds future secrets: it lives
 * in secret memory, wipes each part it hands out, and keys_pool_drop
 * wipes the rest (call it when a batch is done). NULL when out of memory;
 * caller frees with keys_pool_free(), which wipes it.
 */
#define KEYS_POOL_PER_KEY	(TOKEN_ID_BYTES + TOKEN_SECRET_BYTES)

struct keys_pool;

struct keys_pool *keys_pool_new(size_t nkeys);
void	keys_pool_drop(struct keys_pool *);
void	keys_pool_free(struct keys_pool *);
/* keys_new_id and keys_new_secret drawing from kp (NULL: the kernel). */
void	keys_new_id_from(struct keys_pool *kp, char id[TOKEN_ID_LEN + 1]);
int	keys_new_secret_from(struct keys_pool *kp, const struct pepper *,
	    const char *prefix, const char *id, char *token, size_t tokensz,
	    uint8_t hash[KEYS_HASH_LEN]);
void	keys_hash(const struct pepper *, const struct token *,
	    uint8_t out[KEYS_HASH_LEN]);
/* Constant time; 1 when equal. */
int	keys_equal(const uint8_t a[KEYS_HASH_LEN], const uint8_t b[KEYS_HASH_LEN]);
/* HMAC-SHA-256 keyed with the pepper over a fixed string: tells whether
 * two hosts share a pepper without revealing it (fleet mode). */
#define KEYS_CHECK_LEN	32
void	keys_pepper_check(const struct pepper *, uint8_t out[KEYS_CHECK_LEN]);

/* SHA-256 of a stream, for fleet mode's digest. NULL when out of memory;
 * keys_digest_end writes the sum and frees d. */
#define KEYS_DIGEST_LEN	32
struct keys_digest;
struct keys_digest *keys_digest_new(void);
void	keys_digest_add(struct keys_digest *, const void *, size_t);
void	keys_digest_end(struct keys_digest *, uint8_t out[KEYS_DIGEST_LEN]);

const char *keys_strerror(int);

#endif
