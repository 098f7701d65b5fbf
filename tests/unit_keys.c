/*
 * unit_keys.c - key material (daemon/keys.c): the pepper file, secret
 * generation and the keyed hash.
 *
 * Each test works in a fresh temporary state directory, removed afterwards.
 * The hash construction is pinned by recomputing it here with libsodium
 * from the pepper file's bytes.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "../common/secret.h"
#include "../daemon/keys.h"
#include "../proto/token.h"
#include "unitlib.h"

static char	tmpdir[64];
static char	pepper_path[128];

static void
rm_tree(const char *dir)
{
	unit_rmtree(dir);
}

static void
mk_tmp(char *buf, size_t sz)
{
	snprintf(buf, sz, "/tmp/unit_keys.XXXXXX");
	cr_assert_not_null(mkdtemp(buf), "mkdtemp: %s", strerror(errno));
}

static void
setup(void)
{
	cr_assert_eq(keys_init(), KEYS_OK);
	mk_tmp(tmpdir, sizeof(tmpdir));
	snprintf(pepper_path, sizeof(pepper_path), "%s/%s", tmpdir,
	    KEYS_PEPPER_FILE);
}

static void
teardown(void)
{
	rm_tree(tmpdir);
}

TestSuite(keys, .init = setup, .fini = teardown);

static struct pepper *
load(const char *dir)
{
	struct pepper	*pp = NULL;
	int		 rv;

	rv = keys_pepper_load(dir, &pp);
	cr_assert_eq(rv, KEYS_OK, "load: %s", keys_strerror(rv));
	cr_assert_not_null(pp);
	return pp;
}

/* A fixed token: prefix "ak", id from bytes 1..8, secret bytes 0..31. */
static void
known_token(struct token *t)
{
	const uint8_t	raw[TOKEN_ID_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	int		i;

	memset(t, 0, sizeof(*t));
	strcpy(t->prefix, "ak");
	token_id_encode(raw, t->id);
	for (i = 0; i < TOKEN_SECRET_BYTES; i++)
		t->secret[i] = (uint8_t)i;
}

/* Writes a pepper file of n bytes with the given mode. */
static void
plant_pepper(size_t n, mode_t mode)
{
	uint8_t	buf[64];
	int	fd;

	cr_assert_leq(n, sizeof(buf));
	memset(buf, 0x42, sizeof(buf));
	fd = open(pepper_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void
assert_refused(int want)
{
	struct pepper	*pp = (struct pepper *)0x1;

	cr_assert_eq(keys_pepper_load(tmpdir, &pp), want, "want %s",
	    keys_strerror(want));
	cr_assert_eq(pp, (struct pepper *)0x1, "out written on failure");
}

Test(keys, pepper_created_0600_and_stable)
{
	struct pepper	*pp;
	struct stat	 st;
	struct token	 t;
	uint8_t		 h1[KEYS_HASH_LEN], h2[KEYS_HASH_LEN];
	uint8_t		 file1[KEYS_PEPPER_LEN], file2[KEYS_PEPPER_LEN];
	uint8_t		 zero[KEYS_PEPPER_LEN] = { 0 };
	int		 fd;

	cr_assert_eq(stat(pepper_path, &st), -1);
	pp = load(tmpdir);
	cr_assert_eq(stat(pepper_path, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	cr_assert_eq(st.st_size, KEYS_PEPPER_LEN);
	cr_assert_eq(st.st_uid, geteuid());
	fd = open(pepper_path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, file1, sizeof(file1)), KEYS_PEPPER_LEN);
	close(fd);
	cr_assert_arr_neq(file1, zero, sizeof(zero));

	known_token(&t);
	keys_hash(pp, &t, h1);
	keys_pepper_free(pp);

	/* Reload: same file, same bytes, same hash. */
	pp = load(tmpdir);
	keys_hash(pp, &t, h2);
	keys_pepper_free(pp);
	cr_assert_arr_eq(h1, h2, KEYS_HASH_LEN);
	fd = open(pepper_path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, file2, sizeof(file2)), KEYS_PEPPER_LEN);
	close(fd);
	cr_assert_arr_eq(file1, file2, KEYS_PEPPER_LEN);
}

Test(keys, hash_is_keyed_blake2b_of_id_and_secret)
{
	struct pepper	*pp;
	struct token	 t;
	uint8_t		 pep[KEYS_PEPPER_LEN], msg[TOKEN_ID_LEN +
			    TOKEN_SECRET_BYTES];
	uint8_t		 want[KEYS_HASH_LEN], got[KEYS_HASH_LEN];

	plant_pepper(KEYS_PEPPER_LEN, 0600);	/* 32 bytes of 0x42 */
	memset(pep, 0x42, sizeof(pep));
	pp = load(tmpdir);
	known_token(&t);
	memcpy(msg, t.id, TOKEN_ID_LEN);
	memcpy(msg + TOKEN_ID_LEN, t.secret, TOKEN_SECRET_BYTES);
	cr_assert_eq(crypto_generichash(want, sizeof(want), msg, sizeof(msg),
	    pep, sizeof(pep)), 0);
	keys_hash(pp, &t, got);
	cr_assert_arr_eq(got, want, KEYS_HASH_LEN);
	keys_pepper_free(pp);
}

Test(keys, pepper_wrong_mode_refused)
{
	plant_pepper(KEYS_PEPPER_LEN, 0644);
	assert_refused(KEYS_EPEPPER);
	plant_pepper(KEYS_PEPPER_LEN, 0640);
	assert_refused(KEYS_EPEPPER);
	plant_pepper(KEYS_PEPPER_LEN, 0602);
	assert_refused(KEYS_EPEPPER);
	plant_pepper(KEYS_PEPPER_LEN, 0610);
	assert_refused(KEYS_EPEPPER);
	/* Tighter than 0600 is fine. */
	plant_pepper(KEYS_PEPPER_LEN, 0400);
	keys_pepper_free(load(tmpdir));
}

Test(keys, pepper_wrong_size_refused)
{
	plant_pepper(KEYS_PEPPER_LEN - 1, 0600);
	assert_refused(KEYS_EPEPPER);
	plant_pepper(KEYS_PEPPER_LEN + 1, 0600);
	assert_refused(KEYS_EPEPPER);
	plant_pepper(0, 0600);
	assert_refused(KEYS_EPEPPER);
	/* The refused file is left alone, not replaced. */
	{
		struct stat	st;

		cr_assert_eq(stat(pepper_path, &st), 0);
		cr_assert_eq(st.st_size, 0);
	}
}

Test(keys, pepper_not_a_regular_file_refused)
{
	char	target[160];

	/* A directory. */
	cr_assert_eq(mkdir(pepper_path, 0700), 0);
	assert_refused(KEYS_EPEPPER);
	cr_assert_eq(rmdir(pepper_path), 0);

	/* A symlink to a well-formed pepper elsewhere. */
	snprintf(target, sizeof(target), "%s/real", tmpdir);
	cr_assert_eq(symlink(target, pepper_path), 0);
	{
		int	fd = open(target, O_WRONLY | O_CREAT, 0600);
		uint8_t	buf[KEYS_PEPPER_LEN] = { 0 };

		cr_assert_geq(fd, 0);
		cr_assert_eq(write(fd, buf, sizeof(buf)), KEYS_PEPPER_LEN);
		close(fd);
	}
	assert_refused(KEYS_EPEPPER);
	/* Even a dangling one is not followed to create a file. */
	cr_assert_eq(unlink(target), 0);
	assert_refused(KEYS_EPEPPER);
	cr_assert_eq(access(target, F_OK), -1);
}

Test(keys, pepper_other_owner_refused)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to chown the pepper file");
	plant_pepper(KEYS_PEPPER_LEN, 0600);
	cr_assert_eq(chown(pepper_path, 1, 1), 0);
	assert_refused(KEYS_EPEPPER);
}

Test(keys, missing_state_dir_is_eio)
{
	char	dir[128];

	snprintf(dir, sizeof(dir), "%s/nope", tmpdir);
	{
		struct pepper	*pp = (struct pepper *)0x1;

		cr_assert_eq(keys_pepper_load(dir, &pp), KEYS_EIO);
		cr_assert_eq(pp, (struct pepper *)0x1);
	}
}

Test(keys, new_secret_round_trip)
{
	struct pepper	*pp;
	struct token	 t;
	char		 id[TOKEN_ID_LEN + 1];
	char		 tok[TOKEN_MAX + 1];
	uint8_t		 hash[KEYS_HASH_LEN], h[KEYS_HASH_LEN];
	size_t		 len;

	pp = load(tmpdir);
	keys_new_id(id);
	cr_assert(token_id_valid(id));
	cr_assert_eq(keys_new_secret(pp, "svc42", id, tok, sizeof(tok), hash),
	    KEYS_OK);
	len = strlen(tok);
	cr_assert_eq(len, 5 + 1 + TOKEN_ID_LEN + 1 + TOKEN_SECRET_LEN +
	    TOKEN_CRC_LEN);
	cr_assert_eq(token_parse(tok, len, &t), TOKEN_OK);
	cr_assert_str_eq(t.prefix, "svc42");
	cr_assert_str_eq(t.id, id);
	cr_assert_eq(strncmp(tok, "svc42_", 6), 0);
	cr_assert_eq(memcmp(tok + 6, id, TOKEN_ID_LEN), 0);
	keys_hash(pp, &t, h);
	cr_assert_arr_eq(h, hash, KEYS_HASH_LEN);
	cr_assert(keys_equal(h, hash));

	/* The default prefix and the longest one. */
	cr_assert_eq(keys_new_secret(pp, TOKEN_DEFAULT_PREFIX, id, tok,
	    TOKEN_MAX + 1, hash), KEYS_OK);
	cr_assert_eq(strncmp(tok, "ak_", 3), 0);
	cr_assert_eq(keys_new_secret(pp, "abcdefghijklmnop", id, tok,
	    TOKEN_MAX + 1, hash), KEYS_OK);
	cr_assert_eq(strlen(tok), TOKEN_MAX);
	cr_assert_eq(token_parse(tok, strlen(tok), &t), TOKEN_OK);
	keys_hash(pp, &t, h);
	cr_assert_arr_eq(h, hash, KEYS_HASH_LEN);

	secret_wipe(tok, sizeof(tok));
	secret_wipe(&t, sizeof(t));
	keys_pepper_free(pp);
}

Test(keys, secrets_and_ids_are_fresh)
{
	struct pepper	*pp;
	char		 id1[TOKEN_ID_LEN + 1], id2[TOKEN_ID_LEN + 1];
	char		 tok1[TOKEN_MAX + 1], tok2[TOKEN_MAX + 1];
	uint8_t		 h1[KEYS_HASH_LEN], h2[KEYS_HASH_LEN];

	pp = load(tmpdir);
	keys_new_id(id1);
	keys_new_id(id2);
	cr_assert_str_neq(id1, id2);
	cr_assert_eq(keys_new_secret(pp, "ak", id1, tok1, sizeof(tok1), h1),
	    KEYS_OK);
	cr_assert_eq(keys_new_secret(pp, "ak", id1, tok2, sizeof(tok2), h2),
	    KEYS_OK);
	cr_assert_str_neq(tok1, tok2);
	cr_assert_not(keys_equal(h1, h2));
	secret_wipe(tok1, sizeof(tok1));
	secret_wipe(tok2, sizeof(tok2));
	keys_pepper_free(pp);
}

Test(keys, different_peppers_different_hashes)
{
	struct pepper	*p1, *p2;
	struct token	 t;
	char		 dir2[64];
	uint8_t		 h1[KEYS_HASH_LEN], h2[KEYS_HASH_LEN];

	mk_tmp(dir2, sizeof(dir2));
	p1 = load(tmpdir);
	p2 = load(dir2);
	known_token(&t);
	keys_hash(p1, &t, h1);
	keys_hash(p2, &t, h2);
	cr_assert_arr_neq(h1, h2, KEYS_HASH_LEN);
	cr_assert_not(keys_equal(h1, h2));
	keys_pepper_free(p1);
	keys_pepper_free(p2);
	rm_tree(dir2);
}

Test(keys, hash_binds_the_id)
{
	struct pepper	*pp;
	struct token	 t;
	uint8_t		 h1[KEYS_HASH_LEN], h2[KEYS_HASH_LEN];

	pp = load(tmpdir);
	known_token(&t);
	keys_hash(pp, &t, h1);
	t.id[0] = t.id[0] == '0' ? '1' : '0';
	keys_hash(pp, &t, h2);
	cr_assert_not(keys_equal(h1, h2));
	known_token(&t);
	t.secret[31] ^= 1;
	keys_hash(pp, &t, h2);
	cr_assert_not(keys_equal(h1, h2));
	/* The prefix is not part of the hash. */
	known_token(&t);
	strcpy(t.prefix, "other");
	keys_hash(pp, &t, h2);
	cr_assert(keys_equal(h1, h2));
	keys_pepper_free(pp);
}

Test(keys, equal_is_exact)
{
	uint8_t	a[KEYS_HASH_LEN], b[KEYS_HASH_LEN];

	memset(a, 0x11, sizeof(a));
	memcpy(b, a, sizeof(b));
	cr_assert_eq(keys_equal(a, b), 1);
	b[0] ^= 1;
	cr_assert_eq(keys_equal(a, b), 0);
	b[0] ^= 1;
	b[KEYS_HASH_LEN - 1] ^= 0x80;
	cr_assert_eq(keys_equal(a, b), 0);
}

Test(keys, bad_arguments_refused)
{
	struct pepper	*pp;
	char		 id[TOKEN_ID_LEN + 1];
	char		 tok[TOKEN_MAX + 1];
	uint8_t		 hash[KEYS_HASH_LEN], untouched[KEYS_HASH_LEN];
	static const char *const bad[] = {
		"", "AK", "a_b", "a-b", "ak ", "abcdefghijklmnopq", "é",
	};
	size_t		 i;

	pp = load(tmpdir);
	keys_new_id(id);
	memset(hash, 0x77, sizeof(hash));
	memcpy(untouched, hash, sizeof(hash));
	memset(tok, 'z', sizeof(tok));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(keys_new_secret(pp, bad[i], id, tok, sizeof(tok),
		    hash), KEYS_EPREFIX, "prefix \"%s\"", bad[i]);
		cr_assert_arr_eq(hash, untouched, KEYS_HASH_LEN);
		cr_assert_eq(tok[0], 'z');
	}
	/* Not a key id, or no room for the token: nothing written. */
	cr_assert_eq(keys_new_secret(pp, "ak", "short", tok, sizeof(tok),
	    hash), KEYS_EIO);
	cr_assert_eq(keys_new_secret(pp, "ak", id, tok, TOKEN_MAX, hash),
	    KEYS_EIO);
	cr_assert_arr_eq(hash, untouched, KEYS_HASH_LEN);
	cr_assert_eq(tok[0], 'z');
	keys_pepper_free(pp);
}


Test(keys, strerror_names_every_code)
{
	cr_assert_str_eq(keys_strerror(KEYS_OK), "success");
	cr_assert_str_eq(keys_strerror(KEYS_EPEPPER),
	    "pepper file has the wrong type, size, owner or mode");
	cr_assert_str_eq(keys_strerror(KEYS_EPREFIX),
	    "key prefix must be 1 to 16 of [a-z0-9]");
	cr_assert_str_eq(keys_strerror(-1000), "unknown key error");
}

/*
 * The bulk pool: ids and secrets from it are as good as single ones (the
 * token parses, the hash matches) and all different, through refills and
 * drops; a NULL pool draws from the kernel, as keys_new_id does.
 */
Test(keys, pool_gives_fresh_valid_keys)
{
	enum { NKEYS = 4, MADE = 3 * NKEYS + 1 };
	struct keys_pool *kp;
	struct pepper	*pp;
	struct token	 t;
	char		 ids[MADE][TOKEN_ID_LEN + 1];
	char		 toks[MADE][TOKEN_MAX + 1];
	uint8_t		 hash[KEYS_HASH_LEN], h[KEYS_HASH_LEN];
	int		 i, j;

	pp = load(tmpdir);
	cr_assert_null(keys_pool_new(0));
	cr_assert_null(keys_pool_new(SIZE_MAX / KEYS_POOL_PER_KEY));
	cr_assert_not_null(kp = keys_pool_new(NKEYS));
	for (i = 0; i < MADE; i++) {
		keys_new_id_from(i == 5 ? NULL : kp, ids[i]);
		cr_assert(token_id_valid(ids[i]));
		cr_assert_eq(keys_new_secret_from(i == 6 ? NULL : kp, pp,
		    "ak", ids[i], toks[i], sizeof(toks[i]), hash), KEYS_OK);
		cr_assert_eq(token_parse(toks[i], strlen(toks[i]), &t),
		    TOKEN_OK);
		cr_assert_str_eq(t.id, ids[i]);
		keys_hash(pp, &t, h);
		cr_assert_arr_eq(h, hash, KEYS_HASH_LEN);
		if (i == 7)
			keys_pool_drop(kp);	/* the next draw refills */
	}
	for (i = 0; i < MADE; i++)
		for (j = 0; j < i; j++) {
			cr_assert_str_neq(ids[i], ids[j]);
			cr_assert_str_neq(toks[i] + 3 + TOKEN_ID_LEN + 1,
			    toks[j] + 3 + TOKEN_ID_LEN + 1);
		}
	/* A bad prefix is refused as without a pool. */
	cr_assert_eq(keys_new_secret_from(kp, pp, "A", ids[0], toks[0],
	    sizeof(toks[0]), hash), KEYS_EPREFIX);
	keys_pool_drop(NULL);
	keys_pool_free(kp);
	keys_pool_free(NULL);
	secret_wipe(toks, sizeof(toks));
	secret_wipe(&t, sizeof(t));
	keys_pepper_free(pp);
}

/* Two pools, or a pool after a drop, never repeat each other: every fill
 * has its own seed. */
Test(keys, pool_fills_are_independent)
{
	struct keys_pool *a, *b;
	char		 ia[TOKEN_ID_LEN + 1], ib[TOKEN_ID_LEN + 1];
	char		 ic[TOKEN_ID_LEN + 1];

	cr_assert_not_null(a = keys_pool_new(1));
	cr_assert_not_null(b = keys_pool_new(1));
	keys_new_id_from(a, ia);
	keys_new_id_from(b, ib);
	keys_pool_drop(a);
	keys_new_id_from(a, ic);
	cr_assert_str_neq(ia, ib);
	cr_assert_str_neq(ia, ic);
	keys_pool_free(a);
	keys_pool_free(b);
}
