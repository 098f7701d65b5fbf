/*
 * keys.c - the tokens apikey-bench verifies: made by apikey_key_create_many
 * (the bulk path meant for seeding and migrations, one transaction per
 * turn of 1024 keys), kept in one anonymous mapping that core dumps leave
 * out, and wiped before the program ends. A token is never printed or
 * written to a file; a failure names the key id, which is public.
 *
 * The wrong-secret tokens of the invalid scenarios are made here too:
 * the prefix and key id of a real key with a random secret and a correct
 * checksum, so the daemon finds the key and the hash does not match, the
 * case a guessing attacker costs it. Nothing of the real secret is in them.
 */
#include <sys/mman.h>
#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "bench.h"

/* The token format of README.md, "Key format": the secret is 43 base62
 * digits, then 6 of CRC32 over everything before them. */
#define SECRET_LEN	43
#define CRC_LEN		6

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void
die(const char *what)
{
	fprintf(stderr, "apikey-bench: %s: %s\n", what, strerror(errno));
	exit(BENCH_EXIT_SETUP);
}

void
keys_init(struct keyset *k, size_t cap)
{
	memset(k, 0, sizeof(*k));
	if (cap == 0)
		cap = 1;
	k->cap = cap;
	k->maplen = cap * KEY_STRIDE;
	k->area = mmap(NULL, k->maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k->area == MAP_FAILED)
		die("mmap");
	/* Tokens stay out of a core dump, should one happen, and out of
	 * the children that do not exec (the echo server), whose memory
	 * would otherwise count them too. */
	if (madvise(k->area, k->maplen, MADV_DONTDUMP) == -1 ||
	    madvise(k->area, k->maplen, MADV_DONTFORK) == -1)
		die("madvise");
}

void
keys_free(struct keyset *k)
{
	if (k->area == NULL)
		return;
	explicit_bzero(k->area, k->maplen);
	munmap(k->area, k->maplen);
	memset(k, 0, sizeof(*k));
}

struct seed {
	struct keyset	*k;
	int		 toolong;
};

static void
seed_one(void *arg, const struct apikey_key *key, const char *token)
{
	struct seed	*s = arg;
	size_t		 len = strlen(token);

	(void)key;
	if (s->k->n == s->k->cap || len >= KEY_STRIDE) {
		s->toolong = 1;
		return;
	}
	memcpy(s->k->area + s->k->n * KEY_STRIDE, token, len + 1);
	s->k->n++;
}

int
keys_seed(struct apikey_client *admin, struct keyset *k, uint32_t count,
    uint64_t credits, const char *name, char *err, size_t errlen)
{
	struct apikey_key_spec	*spec;
	struct seed		 s = { .k = k };
	uint32_t		 made = 0;
	int			 rc;

	if ((spec = apikey_key_spec_new()) == NULL)
		return APIKEY_ENOMEM;
	rc = apikey_key_spec_set_name(spec, name);
	if (rc == 0 && credits != 0)
		rc = apikey_key_spec_set_credits(spec, credits);
	if (rc == 0)
		rc = apikey_key_create_many(admin, APIKEY_OWNER_SELF, NULL,
		    spec, count, seed_one, &s, &made);
	apikey_key_spec_free(spec);
	if (rc == 0 && (s.toolong || made != count)) {
		snprintf(err, errlen, "%u of %u keys made, or a token too "
		    "long to keep", made, count);
		return APIKEY_EPROTO;
	}
	if (rc != 0)
		snprintf(err, errlen, "%s (%s); %u of %u keys made",
		    apikey_strerror(rc), apikey_last_error(admin), made, count);
	return rc;
}

/* Base62 digits of a 32-bit value, most significant first, zero-padded. */
static void
crc_digits(uint32_t v, char out[CRC_LEN])
{
	int	 i;

	for (i = CRC_LEN - 1; i >= 0; i--) {
		out[i] = b62[v % 62];
		v /= 62;
	}
}

int
keys_wrong_secret(const struct keyset *in, size_t n, struct keyset *out,
    char *err, size_t errlen)
{
	unsigned char	 rnd[SECRET_LEN];
	const char	*tok, *u;
	char		*dst;
	size_t		 i, head, len;
	uLong		 crc;
	int		 j;

	for (i = 0; i < n && i < in->n && out->n < out->cap; i++) {
		tok = keys_get(in, i);
		len = strlen(tok);
		/* prefix_id_ is kept: everything up to the second '_'. */
		if ((u = strchr(tok, '_')) == NULL ||
		    (u = strchr(u + 1, '_')) == NULL ||
		    (head = (size_t)(u + 1 - tok)) + SECRET_LEN + CRC_LEN !=
		    len) {
			snprintf(err, errlen, "a token is not shaped like "
			    "prefix_id_secret: the key format changed");
			return -1;
		}
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			return -1;
		}
		dst = out->area + out->n * KEY_STRIDE;
		memcpy(dst, tok, head);
		/* The first digit stays below 'y' so that the value is below
		 * 2^256 whatever follows. */
		dst[head] = b62[rnd[0] % 60];
		for (j = 1; j < SECRET_LEN; j++)
			dst[head + (size_t)j] = b62[rnd[j] % 62];
		crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)dst,
		    (uInt)(head + SECRET_LEN));
		crc_digits((uint32_t)crc, dst + head + SECRET_LEN);
		dst[len] = '\0';
		/* The library must take it as a key, or the daemon never
		 * sees it and the scenario measures nothing. */
		if (apikey_token_check(dst) != 0) {
			snprintf(err, errlen, "a wrong-secret token fails "
			    "apikey_token_check(): the key format changed");
			explicit_bzero(dst, KEY_STRIDE);
			return -1;
		}
		out->n++;
	}
	return 0;
}
