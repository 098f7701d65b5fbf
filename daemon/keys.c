/*
 * keys.c - key material: the only file in the daemon that calls libsodium.
 *
 * It draws key ids and secrets, computes the keyed hash that the store
 * keeps instead of the secret, and owns the pepper that keys that hash.
 * The hash is BLAKE2b-256 over the TOKEN_ID_LEN id characters followed by
 * the TOKEN_SECRET_BYTES raw secret bytes, keyed with the 32-byte pepper.
 * Both parts have fixed lengths, so the concatenation is unambiguous, and
 * binding the id means a secret is worth nothing under another key's id.
 *
 * The pepper is created once, on first start, as state_dir/pepper (0600,
 * never in the LMDB file, so a copy of the database alone cannot be brute
 * forced), and loaded on every start into sodium_malloc'd memory: locked
 * out of swap (as far as RLIMIT_MEMLOCK allows), excluded from core dumps,
 * fenced by guard pages, read-only once loaded, and wiped when freed. A
 * pepper file that is not a regular file of exactly 32 bytes, owned by us
 * and closed to group and others, is refused rather than repaired: it
 * would mean someone else touched it.
 *
 * Tokens and the hash state are wiped through common/secret.h like every
 * other secret; a new key's hash is not: the store keeps it anyway.
 *
 * Workload: one keyed hash per verify (well under a microsecond), one
 * secret per create or rotate, and ids and secrets by the thousand when
 * keys are created in bulk: those come from a pool (keys_pool_new), so
 * that a million keys do not cost two million getrandom calls. Nothing
 * here allocates after start-up but a pool, which its caller asks for.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../common/secret.h"
#include "../proto/token.h"
#include "keys.h"

_Static_assert(KEYS_HASH_LEN == crypto_generichash_BYTES,
    "keyed hash is BLAKE2b-256");
_Static_assert(KEYS_PEPPER_LEN >= crypto_generichash_KEYBYTES_MIN &&
    KEYS_PEPPER_LEN <= crypto_generichash_KEYBYTES_MAX,
    "pepper is a BLAKE2b key");

/* Lives in sodium_malloc'd memory: the whole struct is the secret. */
struct pepper {
	uint8_t	k[KEYS_PEPPER_LEN];
};

int
keys_init(void)
{
	if (sodium_init() < 0)
		return KEYS_EINIT;
	return KEYS_OK;
}

/* Reads exactly n bytes; a short file is a wrong-size pepper. */
static int
read_full(int fd, uint8_t *p, size_t n)
{
	ssize_t	r;

	while (n > 0) {
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return KEYS_EIO;
		if (r == 0)
			return KEYS_EPEPPER;
		p += r;
		n -= (size_t)r;
	}
	return KEYS_OK;
}

static int
write_full(int fd, const uint8_t *p, size_t n)
{
	ssize_t	r;

	while (n > 0) {
		r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return KEYS_EIO;
		p += r;
		n -= (size_t)r;
	}
	return KEYS_OK;
}

/* Internal result of the two steps below, never returned to callers. */
#define PEPPER_MISSING	1	/* pepper_read: no file yet */
#define PEPPER_RACED	2	/* pepper_create: another process made it */

/*
 * Creates the pepper file holding fresh random bytes, drawn straight into
 * pp so they never sit on the stack. A file that could not be written
 * completely is removed, so a later start does not refuse a half-written
 * pepper.
 */
static int
pepper_create(int dfd, struct pepper *pp)
{
	int	fd, rv;

	fd = openat(dfd, KEYS_PEPPER_FILE,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? PEPPER_RACED : KEYS_EIO;
	randombytes_buf(pp->k, sizeof(pp->k));
	rv = write_full(fd, pp->k, sizeof(pp->k));
	if (rv == 0 && fsync(fd) != 0)
		rv = KEYS_EIO;
	if (close(fd) != 0 && rv == 0)
		rv = KEYS_EIO;
	/* Make the new name durable before any key is hashed with it. */
	if (rv == 0 && fsync(dfd) != 0)
		rv = KEYS_EIO;
	if (rv != 0)
		(void)unlinkat(dfd, KEYS_PEPPER_FILE, 0);
	return rv;
}

static int
pepper_read(int dfd, struct pepper *pp)
{
	struct stat	st;
	int		fd, rv;

	fd = openat(dfd, KEYS_PEPPER_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return PEPPER_MISSING;
		/* A symlink in place of the pepper is not ours to follow. */
		return errno == ELOOP ? KEYS_EPEPPER : KEYS_EIO;
	}
	if (fstat(fd, &st) != 0) {
		rv = KEYS_EIO;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != KEYS_PEPPER_LEN ||
	    (st.st_mode & (S_IRWXG | S_IRWXO)) != 0 ||
	    st.st_uid != geteuid()) {
		rv = KEYS_EPEPPER;
		goto out;
	}
	rv = read_full(fd, pp->k, sizeof(pp->k));
out:
	close(fd);
	return rv;
}

int
keys_pepper_load(const char *state_dir, struct pepper **out)
{
	struct pepper	*pp;
	int		 dfd, rv;

	if ((pp = sodium_malloc(sizeof(*pp))) == NULL)
		return KEYS_ENOMEM;
	dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rv = KEYS_EIO;
		goto out;
	}
	rv = pepper_read(dfd, pp);
	if (rv == PEPPER_MISSING) {
		rv = pepper_create(dfd, pp);
		if (rv == PEPPER_RACED)	/* use the winner's pepper */
			rv = pepper_read(dfd, pp);
	}
	if (rv != 0) {
		if (rv > 0)	/* vanished between create and read */
			rv = KEYS_EIO;
		goto out;
	}
	if (sodium_mprotect_readonly(pp) != 0) {
		rv = KEYS_ENOMEM;
		goto out;
	}
	*out = pp;
	pp = NULL;	/* transferred */
out:
	if (dfd >= 0)
		close(dfd);
	sodium_free(pp);	/* wipes; NULL is fine */
	return rv;
}

void
keys_pepper_free(struct pepper *pp)
{
	sodium_free(pp);
}

void
keys_pepper_check(const struct pepper *pp, uint8_t out[KEYS_CHECK_LEN])
{
	static const char	what[] = "apikeyd fleet pepper check v1";

	_Static_assert(KEYS_PEPPER_LEN == crypto_auth_hmacsha256_KEYBYTES,
	    "the pepper keys the check");
	_Static_assert(KEYS_CHECK_LEN == crypto_auth_hmacsha256_BYTES,
	    "check length");
	crypto_auth_hmacsha256(out, (const unsigned char *)what,
	    sizeof(what) - 1, pp->k);
}

struct keys_digest {
	crypto_hash_sha256_state st;
};

struct keys_digest *
keys_digest_new(void)
{
	struct keys_digest	*d;

	if ((d = malloc(sizeof(*d))) != NULL)
		crypto_hash_sha256_init(&d->st);
	return d;
}

void
keys_digest_add(struct keys_digest *d, const void *p, size_t n)
{
	crypto_hash_sha256_update(&d->st, p, n);
}

void
keys_digest_end(struct keys_digest *d, uint8_t out[KEYS_DIGEST_LEN])
{
	_Static_assert(KEYS_DIGEST_LEN == crypto_hash_sha256_BYTES,
	    "digest length");
	crypto_hash_sha256_final(&d->st, out);
	free(d);
}

/*
 * A pool is one ChaCha20 stream (randombytes_buf_deterministic) under a
 * fresh 32-byte seed from the kernel, as the kernel's own generator
 * stretches its seed: as unpredictable as a getrandom per draw, without
 * the system call. buf[used..size) is what is still unread.
 */
struct keys_pool {
	size_t	 size;
	size_t	 used;
	uint8_t	 buf[];
};

struct keys_pool *
keys_pool_new(size_t nkeys)
{
	struct keys_pool *kp;
	size_t		 size;

	if (nkeys == 0 ||
	    nkeys > (SIZE_MAX - sizeof(*kp)) / KEYS_POOL_PER_KEY)
		return NULL;
	size = nkeys * KEYS_POOL_PER_KEY;
	if ((kp = secret_alloc(sizeof(*kp) + size)) == NULL)
		return NULL;
	kp->size = size;
	kp->used = size;	/* empty: the first draw fills it */
	return kp;
}

void
keys_pool_drop(struct keys_pool *kp)
{
	if (kp == NULL)
		return;
	secret_wipe(kp->buf + kp->used, kp->size - kp->used);
	kp->used = kp->size;
}

void
keys_pool_free(struct keys_pool *kp)
{
	secret_free(kp);
}

static void
pool_fill(struct keys_pool *kp)
{
	uint8_t	 seed[randombytes_SEEDBYTES];
	struct secret_scope seed_scope SECRET_SCOPE = { seed, sizeof(seed) };

	randombytes_buf(seed, sizeof(seed));
	randombytes_buf_deterministic(kp->buf, kp->size, seed);
	kp->used = 0;
}

/* n random bytes into out: from the kernel without a pool, else from the
 * pool, refilled when short. What is handed out is wiped from the pool. */
static void
draw(struct keys_pool *kp, void *out, size_t n)
{
	if (kp == NULL) {
		randombytes_buf(out, n);
		return;
	}
	if (kp->size - kp->used < n)
		pool_fill(kp);
	memcpy(out, kp->buf + kp->used, n);
	secret_wipe(kp->buf + kp->used, n);
	kp->used += n;
}

void
keys_new_id(char id[TOKEN_ID_LEN + 1])
{
	keys_new_id_from(NULL, id);
}

void
keys_new_id_from(struct keys_pool *kp, char id[TOKEN_ID_LEN + 1])
{
	uint8_t	raw[TOKEN_ID_BYTES];

	draw(kp, raw, sizeof(raw));
	token_id_encode(raw, id);
}

/*
 * An id that is not a key id or a token buffer under TOKEN_MAX + 1 bytes
 * is a caller bug (ids come from keys_new_id or the store); it gets
 * KEYS_EIO, "could not write the key", as no code of its own exists.
 */
int
keys_new_secret(const struct pepper *pp, const char *prefix, const char *id,
    char *token, size_t tokensz, uint8_t hash[KEYS_HASH_LEN])
{
	return keys_new_secret_from(NULL, pp, prefix, id, token, tokensz,
	    hash);
}

int
keys_new_secret_from(struct keys_pool *kp, const struct pepper *pp,
    const char *prefix, const char *id, char *token, size_t tokensz,
    uint8_t hash[KEYS_HASH_LEN])
{
	struct token	t;
	struct secret_scope t_scope SECRET_SCOPE = { &t, sizeof(t) };
	uint8_t		h[KEYS_HASH_LEN];

	if (prefix == NULL || !token_prefix_valid(prefix))
		return KEYS_EPREFIX;
	if (id == NULL || !token_id_valid(id) || tokensz < TOKEN_MAX + 1)
		return KEYS_EIO;
	memset(&t, 0, sizeof(t));
	memcpy(t.prefix, prefix, strlen(prefix) + 1);
	memcpy(t.id, id, TOKEN_ID_LEN + 1);
	draw(kp, t.secret, sizeof(t.secret));
	if (token_format(t.prefix, t.id, t.secret, token, tokensz) != 0)
		return KEYS_EIO;
	keys_hash(pp, &t, h);
	memcpy(hash, h, sizeof(h));
	return KEYS_OK;
}

void
keys_hash(const struct pepper *pp, const struct token *t,
    uint8_t out[KEYS_HASH_LEN])
{
	crypto_generichash_state st;
	/* The state holds the pepper-derived key block and secret bytes. */
	struct secret_scope st_scope SECRET_SCOPE = { &st, sizeof(st) };

	crypto_generichash_init(&st, pp->k, sizeof(pp->k), KEYS_HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *)t->id,
	    TOKEN_ID_LEN);
	crypto_generichash_update(&st, t->secret, sizeof(t->secret));
	crypto_generichash_final(&st, out, KEYS_HASH_LEN);
}

int
keys_equal(const uint8_t a[KEYS_HASH_LEN], const uint8_t b[KEYS_HASH_LEN])
{
	return crypto_verify_32(a, b) == 0;
}

const char *
keys_strerror(int err)
{
	switch (err) {
	case KEYS_OK:
		return "success";
	case KEYS_EINIT:
		return "libsodium failed to initialise";
	case KEYS_EIO:
		return "pepper file or key could not be read or written";
	case KEYS_EPEPPER:
		return "pepper file has the wrong type, size, owner or mode";
	case KEYS_ENOMEM:
		return "out of secure memory";
	case KEYS_EPREFIX:
		return "key prefix must be 1 to 16 of [a-z0-9]";
	default:
		return "unknown key error";
	}
}
