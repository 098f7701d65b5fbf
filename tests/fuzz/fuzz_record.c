/*
 * fuzz_record.c - libFuzzer target: the key store's record codec
 * (daemon/store_record.c). The store trusts nothing it reads back: a
 * record a crash, a disk or an older release left behind must decode or
 * be STORE_ECORRUPT, never more.
 *
 * The input is decoded as every kind of record in turn: key, tenant,
 * audit (under a fixed sequence key), usage, schema and counter; its
 * first eight bytes also as an audit sequence key. Whenever a decode
 * succeeds, the result is encoded again, and the encoding decoded again:
 * the encoder must accept what the decoder accepted (store.h: nothing
 * unwritable is read, nothing unreadable is written), the second decode
 * must give the same struct, and encoding that must give the same bytes.
 * A key decodes over junk, different junk each time, and is compared
 * field by field (rec_dec_key writes each string up to its NUL and each
 * list up to its n, not the whole struct), so a field it forgot to write
 * shows as a difference.
 * A record of the newest version must moreover encode to exactly its own
 * bytes, but for the fields the decoder drops on purpose (a tenant key's
 * group and gid, which come from the tenant). Any mismatch aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/store_record.h"
#include "../proto_same.h"
#include "fuzz.h"

/* The newest record versions (store_record.c); the first byte of a
 * record is its typed u8 version: tag, then value. */
#define KEY_NEWEST	3
#define TENANT_NEWEST	2
#define AUDIT_NEWEST	1
#define USAGE_NEWEST	1

static struct store_key		 k1, k2;
static uint8_t			 b1[KEY_REC_MAX], b2[KEY_REC_MAX];

static void
fail(const char *kind, const char *what)
{
	fprintf(stderr, "fuzz_record: %s record: %s\n", kind, what);
	abort();
}

/* The record's version byte, when the record is its own encoding. */
static int
newest(const uint8_t *p, size_t n, uint8_t version)
{
	return n >= 2 && p[0] == 0x01 && p[1] == version;
}

/* Same struct, same bytes: the checks every kind shares. */
static void
same(const char *kind, const void *s1, const void *s2, size_t size,
    size_t len1, size_t len2)
{
	if (memcmp(s1, s2, size) != 0)
		fail(kind, "decodes differently once encoded");
	if (len1 != len2 || memcmp(b1, b2, len1) != 0)
		fail(kind, "encodes differently once decoded");
}

static int
same_limits(const struct proto_limits *a, const struct proto_limits *b)
{
	return a->rate_max == b->rate_max &&
	    a->rate_window_ms == b->rate_window_ms &&
	    a->has_credits == b->has_credits &&
	    a->remaining == b->remaining &&
	    a->refill_amount == b->refill_amount &&
	    a->refill_interval == b->refill_interval &&
	    SAME_LIST(a->cidrs, b->cidrs);
}

/* Every field a reader of a struct store_key sees. */
static int
same_key(const struct store_key *a, const struct store_key *b)
{
	const struct proto_key	*x = &a->info, *y = &b->info;

	return memcmp(a->hash, b->hash, sizeof(a->hash)) == 0 &&
	    memcmp(a->prev_hash, b->prev_hash, sizeof(a->prev_hash)) == 0 &&
	    strcmp(x->id, y->id) == 0 && strcmp(x->prefix, y->prefix) == 0 &&
	    strcmp(x->name, y->name) == 0 &&
	    same_owner(&x->owner, &y->owner) && x->enabled == y->enabled &&
	    x->created_by == y->created_by &&
	    x->created_at == y->created_at &&
	    x->updated_at == y->updated_at &&
	    x->expires_at == y->expires_at &&
	    x->grace_until == y->grace_until &&
	    SAME_LIST(x->services, y->services) &&
	    SAME_LIST(x->permissions, y->permissions) &&
	    SAME_LIST(x->allowed_users, y->allowed_users) &&
	    strcmp(x->metadata, y->metadata) == 0 &&
	    same_limits(&x->limits, &y->limits) &&
	    x->strict_sync == y->strict_sync &&
	    x->usage.remaining == 0 && x->usage.last_refill_at == 0 &&
	    x->usage.last_used == 0 && x->usage.use_count == 0 &&
	    y->usage.remaining == 0 && y->usage.last_refill_at == 0 &&
	    y->usage.last_used == 0 && y->usage.use_count == 0;
}

static void
key(const uint8_t *p, size_t n)
{
	size_t	 l1, l2;

	memset(&k1, 0xa5, sizeof(k1));
	memset(&k2, 0x5a, sizeof(k2));
	if (rec_dec_key(p, n, &k1) != 0)
		return;
	if (rec_enc_key(&k1, b1, sizeof(b1), &l1) != 0)
		fail("key", "the encoder refuses what was decoded");
	if (rec_dec_key(b1, l1, &k2) != 0)
		fail("key", "its encoding does not decode");
	if (rec_enc_key(&k2, b2, sizeof(b2), &l2) != 0)
		fail("key", "the encoder refuses it the second time");
	if (!same_key(&k1, &k2))
		fail("key", "decodes differently once encoded");
	if (l1 != l2 || memcmp(b1, b2, l1) != 0)
		fail("key", "encodes differently once decoded");
	if (newest(p, n, KEY_NEWEST) &&
	    k1.info.owner.kind != PROTO_OWNER_TENANT &&
	    (l1 != n || memcmp(b1, p, n) != 0))
		fail("key", "a newest record encodes to other bytes");
}

static void
tenant(const uint8_t *p, size_t n)
{
	static struct proto_tenant t1, t2;
	size_t	 l1, l2;

	if (rec_dec_tenant(p, n, &t1) != 0)
		return;
	if (rec_enc_tenant(&t1, b1, sizeof(b1), &l1) != 0)
		fail("tenant", "the encoder refuses what was decoded");
	if (rec_dec_tenant(b1, l1, &t2) != 0)
		fail("tenant", "its encoding does not decode");
	if (rec_enc_tenant(&t2, b2, sizeof(b2), &l2) != 0)
		fail("tenant", "the encoder refuses it the second time");
	same("tenant", &t1, &t2, sizeof(t1), l1, l2);
	if (newest(p, n, TENANT_NEWEST) && (l1 != n || memcmp(b1, p, n) != 0))
		fail("tenant", "a newest record encodes to other bytes");
}

static void
audit(const uint8_t *p, size_t n)
{
	static struct proto_audit a1, a2;
	uint8_t	 seq[SEQ_KEY_LEN];
	size_t	 l1, l2;

	rec_enc_seq(42, seq);
	if (rec_dec_audit(seq, sizeof(seq), p, n, &a1) != 0)
		return;
	if (a1.seq != 42)
		fail("audit", "the sequence number is not its key's");
	if (rec_enc_audit(&a1, b1, sizeof(b1), &l1) != 0)
		fail("audit", "the encoder refuses what was decoded");
	if (rec_dec_audit(seq, sizeof(seq), b1, l1, &a2) != 0)
		fail("audit", "its encoding does not decode");
	if (rec_enc_audit(&a2, b2, sizeof(b2), &l2) != 0)
		fail("audit", "the encoder refuses it the second time");
	same("audit", &a1, &a2, sizeof(a1), l1, l2);
	if (newest(p, n, AUDIT_NEWEST) && (l1 != n || memcmp(b1, p, n) != 0))
		fail("audit", "a newest record encodes to other bytes");
}

static void
usage(const uint8_t *p, size_t n)
{
	struct store_usage u1, u2;
	size_t	 l1, l2;

	if (rec_dec_usage(p, n, &u1) != 0)
		return;
	if (rec_enc_usage(&u1, b1, sizeof(b1), &l1) != 0)
		fail("usage", "the encoder refuses what was decoded");
	if (rec_dec_usage(b1, l1, &u2) != 0)
		fail("usage", "its encoding does not decode");
	if (rec_enc_usage(&u2, b2, sizeof(b2), &l2) != 0)
		fail("usage", "the encoder refuses it the second time");
	same("usage", &u1, &u2, sizeof(u1), l1, l2);
	if (newest(p, n, USAGE_NEWEST) && (l1 != n || memcmp(b1, p, n) != 0))
		fail("usage", "a newest record encodes to other bytes");
}

/* Schema and counter are one typed integer: their own encoding. */
static void
meta(const uint8_t *p, size_t n)
{
	uint64_t c;
	uint32_t s;
	size_t	 l;

	if (rec_dec_schema(p, n, &s) == 0 &&
	    (rec_enc_schema(s, b1, sizeof(b1), &l) != 0 || l != n ||
	    memcmp(b1, p, n) != 0))
		fail("schema", "does not encode to its own bytes");
	if (rec_dec_counter(p, n, &c) == 0 &&
	    (rec_enc_counter(c, b1, sizeof(b1), &l) != 0 || l != n ||
	    memcmp(b1, p, n) != 0))
		fail("counter", "does not encode to its own bytes");
}

static void
seq(const uint8_t *p, size_t n)
{
	uint8_t	 out[SEQ_KEY_LEN];
	uint64_t v;

	if (rec_dec_seq(p, n < SEQ_KEY_LEN ? n : SEQ_KEY_LEN, &v) != 0)
		return;
	rec_enc_seq(v, out);
	if (memcmp(out, p, SEQ_KEY_LEN) != 0)
		fail("audit sequence key", "does not encode to its own bytes");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	key(data, size);
	tenant(data, size);
	audit(data, size);
	usage(data, size);
	meta(data, size);
	seq(data, size);
	return 0;
}
