/*
 * store_record.c - the key store's record formats, apart from LMDB.
 *
 * Records are written with the typed writer of proto/buf.h and read back
 * with its length-checked reader, but with encoders of their own: the store
 * format is on disk for years and must not change when the wire does. Every
 * record except the schema starts with a u8 record version. Encoders always
 * write the newest version of their record; a decoder also reads every older
 * version, so a store written by an earlier release keeps working and its
 * records are upgraded one by one as they are rewritten. A record that
 * fails to decode is STORE_ECORRUPT, and so is one the encoder refuses
 * because it would not decode again: nothing unreadable reaches the disk.
 *
 * Workload: one key decode per verify, an encode per management write.
 * Nothing here allocates; the callers own every buffer.
 */
#include <string.h>

#include "../proto/buf.h"
#include "store_record.h"

/* Record versions: the first field of every record but the schema. */
#define KEY_REC_V1		1	/* up to issue 4: no limits */
#define KEY_REC_V2		2	/* limits appended */
#define KEY_REC_V3		3	/* issue 12: strict_sync appended */
#define KEY_REC_VERSION		KEY_REC_V3
#define TENANT_REC_V1		1	/* up to issue 7 */
#define TENANT_REC_V2		2	/* allow_privileged appended */
#define TENANT_REC_VERSION	TENANT_REC_V2
#define AUDIT_REC_VERSION	1
#define USAGE_REC_VERSION	1

/* 1 when s has a NUL within its size bytes, so strlen stays in bounds. */
static int
str_fits(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static int
list_fits(const char *base, size_t stride, uint32_t n, uint32_t maxn)
{
	uint32_t	i;

	if (n > maxn)
		return 0;
	for (i = 0; i < n; i++)
		if (!str_fits(base + (size_t)i * stride, stride))
			return 0;
	return 1;
}

/* Starts a record: the writer over buf, then the version. */
static void
rec_start(struct writer *w, uint8_t *buf, size_t size, uint8_t version)
{
	wr_init(w, buf, size);
	wr_u8(w, version);
}

/* Ends an encoder: an overflow means the record cannot be stored. */
static int
rec_finish(const struct writer *w, size_t *len)
{
	if (wr_error(w) != 0)
		return STORE_ECORRUPT;
	*len = w->len;
	return STORE_OK;
}

/*
 * Starts a decoder: the reader over p, then a version from 1 to newest
 * (a newer one was written by a later release and cannot be read), stored
 * in *version unless that is NULL (records with a single version).
 */
static int
rec_open(struct reader *r, const void *p, size_t n, uint8_t newest,
    uint8_t *version)
{
	uint8_t	ver;

	rd_init(r, p, n);
	if (rd_u8(r, &ver) != 0 || ver == 0 || ver > newest)
		return STORE_ECORRUPT;
	if (version != NULL)
		*version = ver;
	return STORE_OK;
}

/*
 * Key record, version 3:
 *   u8 version, raw hash[32], raw prev_hash[32],
 *   str id, str prefix, str name,
 *   u8 owner.kind, u32 owner.uid, str owner.user, str owner.tenant,
 *   str owner.group, u32 owner.gid   (both "" / 0 for tenant keys),
 *   u8 enabled, u32 created_by, u64 created_at, u64 updated_at,
 *   u64 expires_at, u64 grace_until,
 *   list services, list permissions, list allowed_users, str metadata,
 *   u32 limits.rate_max, u32 limits.rate_window_ms, u8 limits.has_credits,
 *   u64 limits.remaining, u64 limits.refill_amount,
 *   u64 limits.refill_interval, list limits.cidrs, u8 strict_sync
 * Version 2 is the same without strict_sync, version 1 also without the
 * limits fields; they read back with strict_sync 0 (a key of an older
 * release never asked for it) and with no limits. info.usage is not in the record: credits and counters change on
 * every verify, so they have a record (and a database) of their own, and a
 * decoded key has them zero.
 */
static int
key_valid(const struct store_key *k)
{
	const struct proto_key	*i = &k->info;
	const struct proto_limits *l = &i->limits;

	if (!str_fits(i->id, sizeof(i->id)) || !token_id_valid(i->id))
		return 0;
	if (!str_fits(i->prefix, sizeof(i->prefix)) ||
	    !str_fits(i->name, sizeof(i->name)) ||
	    !str_fits(i->owner.user, sizeof(i->owner.user)) ||
	    !str_fits(i->owner.tenant, sizeof(i->owner.tenant)) ||
	    !str_fits(i->owner.group, sizeof(i->owner.group)) ||
	    !str_fits(i->metadata, sizeof(i->metadata)))
		return 0;
	if (i->owner.kind == PROTO_OWNER_TENANT) {
		if (i->owner.tenant[0] == '\0')
			return 0;
	} else if (i->owner.kind != PROTO_OWNER_USER)
		return 0;
	if (l->has_credits > 1 || i->strict_sync > 1)
		return 0;
	return list_fits(&i->services.v[0][0], sizeof(i->services.v[0]),
	    i->services.n, PROTO_MAX_SERVICES) &&
	    list_fits(&i->permissions.v[0][0], sizeof(i->permissions.v[0]),
	    i->permissions.n, PROTO_MAX_PERMS) &&
	    list_fits(&i->allowed_users.v[0][0],
	    sizeof(i->allowed_users.v[0]), i->allowed_users.n,
	    PROTO_MAX_USERS) &&
	    list_fits(&l->cidrs.v[0][0], sizeof(l->cidrs.v[0]), l->cidrs.n,
	    PROTO_MAX_CIDRS);
}

int
rec_enc_key(const struct store_key *k, uint8_t *buf, size_t size,
    size_t *len)
{
	const struct proto_key	*i = &k->info;
	const struct proto_limits *l = &i->limits;
	struct writer		 w;
	int			 tenant = i->owner.kind == PROTO_OWNER_TENANT;

	if (!key_valid(k))
		return STORE_ECORRUPT;
	rec_start(&w, buf, size, KEY_REC_VERSION);
	wr_raw_bytes(&w, k->hash, STORE_HASH_LEN);
	wr_raw_bytes(&w, k->prev_hash, STORE_HASH_LEN);
	wr_str(&w, i->id);
	wr_str(&w, i->prefix);
	wr_str(&w, i->name);
	wr_u8(&w, i->owner.kind);
	wr_u32(&w, i->owner.uid);
	wr_str(&w, i->owner.user);
	wr_str(&w, i->owner.tenant);
	/* A tenant key's group and gid come from the tenant record. */
	wr_str(&w, tenant ? "" : i->owner.group);
	wr_u32(&w, tenant ? 0 : i->owner.gid);
	wr_u8(&w, i->enabled);
	wr_u32(&w, i->created_by);
	wr_u64(&w, i->created_at);
	wr_u64(&w, i->updated_at);
	wr_u64(&w, i->expires_at);
	wr_u64(&w, i->grace_until);
	wr_strlist(&w, &i->services.v[0][0], sizeof(i->services.v[0]),
	    i->services.n);
	wr_strlist(&w, &i->permissions.v[0][0], sizeof(i->permissions.v[0]),
	    i->permissions.n);
	wr_strlist(&w, &i->allowed_users.v[0][0],
	    sizeof(i->allowed_users.v[0]), i->allowed_users.n);
	wr_str(&w, i->metadata);
	wr_u32(&w, l->rate_max);
	wr_u32(&w, l->rate_window_ms);
	wr_u8(&w, l->has_credits);
	wr_u64(&w, l->remaining);
	wr_u64(&w, l->refill_amount);
	wr_u64(&w, l->refill_interval);
	wr_strlist(&w, &l->cidrs.v[0][0], sizeof(l->cidrs.v[0]), l->cidrs.n);
	wr_u8(&w, i->strict_sync);
	return rec_finish(&w, len);
}

/* The limits of a key record from version 2 on; has_credits is a flag. */
static int
dec_limits(struct reader *r, struct proto_limits *l)
{
	if (rd_u32(r, &l->rate_max) != 0 ||
	    rd_u32(r, &l->rate_window_ms) != 0 ||
	    rd_u8(r, &l->has_credits) != 0 ||
	    l->has_credits > 1 ||
	    rd_u64(r, &l->remaining) != 0 ||
	    rd_u64(r, &l->refill_amount) != 0 ||
	    rd_u64(r, &l->refill_interval) != 0 ||
	    rd_strlist(r, &l->cidrs.v[0][0], sizeof(l->cidrs.v[0]),
	    PROTO_MAX_CIDRS, PROTO_CIDR_MAX, &l->cidrs.n) != 0)
		return STORE_ECORRUPT;
	return STORE_OK;
}

/* What a version 1 record, written before limits existed, reads back as. */
static void
no_limits(struct proto_limits *l)
{
	l->rate_max = 0;
	l->rate_window_ms = 0;
	l->has_credits = 0;
	l->remaining = 0;
	l->refill_amount = 0;
	l->refill_interval = 0;
	l->cidrs.n = 0;
}

/* A field added to a key must be written by rec_dec_key: the size
 * changes. */
_Static_assert(sizeof(struct store_key) == 14864,
    "a new field of store_key: write it in rec_dec_key()");

/*
 * Writes every field a reader can see, and nothing more: the struct is
 * about 15 KB, mostly string arrays, and verify decodes one per request.
 * Each rd_str NUL-terminates its field and each rd_strlist sets its n, so
 * only the bytes past a string's NUL and the rows past a list's n keep
 * what *out held before; nothing reads, compares or encodes those.
 * info.usage is not in the record and fields an older version lacks get
 * their defaults here. On failure *out is unspecified.
 */
int
rec_dec_key(const void *p, size_t n, struct store_key *out)
{
	struct proto_key	*i = &out->info;
	struct reader		 r;
	uint8_t			 ver;

	memset(&i->usage, 0, sizeof(i->usage));
	if (rec_open(&r, p, n, KEY_REC_VERSION, &ver) != 0 ||
	    rd_raw_bytes(&r, out->hash, STORE_HASH_LEN) != 0 ||
	    rd_raw_bytes(&r, out->prev_hash, STORE_HASH_LEN) != 0 ||
	    rd_str(&r, i->id, TOKEN_ID_LEN) != 0 ||
	    rd_str(&r, i->prefix, TOKEN_PREFIX_MAX) != 0 ||
	    rd_str(&r, i->name, PROTO_NAME_MAX) != 0 ||
	    rd_u8(&r, &i->owner.kind) != 0 ||
	    rd_u32(&r, &i->owner.uid) != 0 ||
	    rd_str(&r, i->owner.user, PROTO_ACCOUNT_MAX) != 0 ||
	    rd_str(&r, i->owner.tenant, PROTO_TENANT_MAX) != 0 ||
	    rd_str(&r, i->owner.group, PROTO_ACCOUNT_MAX) != 0 ||
	    rd_u32(&r, &i->owner.gid) != 0 ||
	    rd_u8(&r, &i->enabled) != 0 ||
	    rd_u32(&r, &i->created_by) != 0 ||
	    rd_u64(&r, &i->created_at) != 0 ||
	    rd_u64(&r, &i->updated_at) != 0 ||
	    rd_u64(&r, &i->expires_at) != 0 ||
	    rd_u64(&r, &i->grace_until) != 0 ||
	    rd_strlist(&r, &i->services.v[0][0], sizeof(i->services.v[0]),
	    PROTO_MAX_SERVICES, PROTO_SERVICE_MAX, &i->services.n) != 0 ||
	    rd_strlist(&r, &i->permissions.v[0][0],
	    sizeof(i->permissions.v[0]), PROTO_MAX_PERMS, PROTO_PERM_MAX,
	    &i->permissions.n) != 0 ||
	    rd_strlist(&r, &i->allowed_users.v[0][0],
	    sizeof(i->allowed_users.v[0]), PROTO_MAX_USERS, PROTO_ACCOUNT_MAX,
	    &i->allowed_users.n) != 0 ||
	    rd_str(&r, i->metadata, PROTO_METADATA_MAX) != 0)
		return STORE_ECORRUPT;
	if (ver < KEY_REC_V2)
		no_limits(&i->limits);
	else if (dec_limits(&r, &i->limits) != 0)
		return STORE_ECORRUPT;
	i->strict_sync = 0;
	if (ver >= KEY_REC_V3 && rd_u8(&r, &i->strict_sync) != 0)
		return STORE_ECORRUPT;
	if (rd_end(&r) != 0)
		return STORE_ECORRUPT;
	if (i->owner.kind == PROTO_OWNER_TENANT) {
		i->owner.group[0] = '\0';
		i->owner.gid = 0;
	} else if (i->owner.kind != PROTO_OWNER_USER)
		return STORE_ECORRUPT;
	/*
	 * What rec_enc_key refuses (an id that is not a key id, a tenant key
	 * without its tenant) is corrupt on reading too: read, such a record
	 * could never be written back, and every change to it would fail
	 * half-way. Found by tests/fuzz/fuzz_record.c.
	 */
	if (!key_valid(out))
		return STORE_ECORRUPT;
	return STORE_OK;
}

/*
 * Tenant record, version 2:
 *   u8 version, str name, str group, u32 gid, str admin_group,
 *   u32 admin_gid, u8 enabled, u32 created_by, u64 created_at,
 *   u8 allow_privileged
 * Version 1 lacks allow_privileged and reads back as 0: a tenant of an
 * older release never lets its keys log in root or admins.
 * The key count is not stored; it comes from the owner index.
 */
int
rec_enc_tenant(const struct proto_tenant *t, uint8_t *buf, size_t size,
    size_t *len)
{
	struct writer	w;

	if (!str_fits(t->name, sizeof(t->name)) ||
	    !str_fits(t->group, sizeof(t->group)) ||
	    !str_fits(t->admin_group, sizeof(t->admin_group)))
		return STORE_ECORRUPT;
	rec_start(&w, buf, size, TENANT_REC_VERSION);
	wr_str(&w, t->name);
	wr_str(&w, t->group);
	wr_u32(&w, t->gid);
	wr_str(&w, t->admin_group);
	wr_u32(&w, t->admin_gid);
	wr_u8(&w, t->enabled);
	wr_u32(&w, t->created_by);
	wr_u64(&w, t->created_at);
	wr_u8(&w, t->allow_privileged != 0);
	return rec_finish(&w, len);
}

int
rec_dec_tenant(const void *p, size_t n, struct proto_tenant *out)
{
	struct reader	r;
	uint8_t		ver;

	memset(out, 0, sizeof(*out));
	if (rec_open(&r, p, n, TENANT_REC_VERSION, &ver) != 0 ||
	    rd_str(&r, out->name, PROTO_TENANT_MAX) != 0 ||
	    rd_str(&r, out->group, PROTO_ACCOUNT_MAX) != 0 ||
	    rd_u32(&r, &out->gid) != 0 ||
	    rd_str(&r, out->admin_group, PROTO_ACCOUNT_MAX) != 0 ||
	    rd_u32(&r, &out->admin_gid) != 0 ||
	    rd_u8(&r, &out->enabled) != 0 ||
	    rd_u32(&r, &out->created_by) != 0 ||
	    rd_u64(&r, &out->created_at) != 0)
		return STORE_ECORRUPT;
	if (ver >= TENANT_REC_V2 && (rd_u8(&r, &out->allow_privileged) != 0 ||
	    out->allow_privileged > 1))
		return STORE_ECORRUPT;
	if (rd_end(&r) != 0)
		return STORE_ECORRUPT;
	return STORE_OK;
}

/*
 * Audit record, version 1:
 *   u8 version, u64 time, u32 uid, u32 pid, str action, str target,
 *   str detail
 * The sequence number is the database key (rec_enc_seq), not in the record.
 */
int
rec_enc_audit(const struct proto_audit *a, uint8_t *buf, size_t size,
    size_t *len)
{
	struct writer	w;

	if (!str_fits(a->action, sizeof(a->action)) ||
	    !str_fits(a->target, sizeof(a->target)) ||
	    !str_fits(a->detail, sizeof(a->detail)))
		return STORE_ECORRUPT;
	rec_start(&w, buf, size, AUDIT_REC_VERSION);
	wr_u64(&w, a->time);
	wr_u32(&w, a->uid);
	wr_u32(&w, a->pid);
	wr_str(&w, a->action);
	wr_str(&w, a->target);
	wr_str(&w, a->detail);
	return rec_finish(&w, len);
}

int
rec_dec_audit(const void *key, size_t keylen, const void *p, size_t n,
    struct proto_audit *out)
{
	struct reader	r;

	memset(out, 0, sizeof(*out));
	if (rec_dec_seq(key, keylen, &out->seq) != 0 ||
	    rec_open(&r, p, n, AUDIT_REC_VERSION, NULL) != 0 ||
	    rd_u64(&r, &out->time) != 0 ||
	    rd_u32(&r, &out->uid) != 0 ||
	    rd_u32(&r, &out->pid) != 0 ||
	    rd_str(&r, out->action, PROTO_ACTION_MAX) != 0 ||
	    rd_str(&r, out->target, PROTO_TARGET_MAX) != 0 ||
	    rd_str(&r, out->detail, PROTO_DETAIL_MAX) != 0 ||
	    rd_end(&r) != 0)
		return STORE_ECORRUPT;
	return STORE_OK;
}

/*
 * Usage record, version 1:
 *   u8 version, u64 remaining, u64 last_refill_at, u64 last_used,
 *   u64 use_count, u32 gen
 * The key id is the database key, as for the key record.
 */
int
rec_enc_usage(const struct store_usage *u, uint8_t *buf, size_t size,
    size_t *len)
{
	struct writer	w;

	rec_start(&w, buf, size, USAGE_REC_VERSION);
	wr_u64(&w, u->remaining);
	wr_u64(&w, u->last_refill_at);
	wr_u64(&w, u->last_used);
	wr_u64(&w, u->use_count);
	wr_u32(&w, u->gen);
	return rec_finish(&w, len);
}

int
rec_dec_usage(const void *p, size_t n, struct store_usage *out)
{
	struct reader	r;

	memset(out, 0, sizeof(*out));
	if (rec_open(&r, p, n, USAGE_REC_VERSION, NULL) != 0 ||
	    rd_u64(&r, &out->remaining) != 0 ||
	    rd_u64(&r, &out->last_refill_at) != 0 ||
	    rd_u64(&r, &out->last_used) != 0 ||
	    rd_u64(&r, &out->use_count) != 0 ||
	    rd_u32(&r, &out->gen) != 0 ||
	    rd_end(&r) != 0)
		return STORE_ECORRUPT;
	return STORE_OK;
}

/*
 * Meta record "schema": a bare typed u32, no record version - it is what
 * says how to read everything else.
 */
int
rec_enc_schema(uint32_t schema, uint8_t *buf, size_t size, size_t *len)
{
	struct writer	w;

	wr_init(&w, buf, size);
	wr_u32(&w, schema);
	return rec_finish(&w, len);
}

int
rec_dec_schema(const void *p, size_t n, uint32_t *out)
{
	struct reader	r;
	uint32_t	schema;

	rd_init(&r, p, n);
	if (rd_u32(&r, &schema) != 0 || rd_end(&r) != 0)
		return STORE_ECORRUPT;
	*out = schema;
	return STORE_OK;
}

/* Meta record "audit_pruned": a bare typed u64. */
int
rec_enc_counter(uint64_t n, uint8_t *buf, size_t size, size_t *len)
{
	struct writer	w;

	wr_init(&w, buf, size);
	wr_u64(&w, n);
	return rec_finish(&w, len);
}

int
rec_dec_counter(const void *p, size_t n, uint64_t *out)
{
	struct reader	r;
	uint64_t	v;

	rd_init(&r, p, n);
	if (rd_u64(&r, &v) != 0 || rd_end(&r) != 0)
		return STORE_ECORRUPT;
	*out = v;
	return STORE_OK;
}

/* Big-endian, so LMDB's byte order is sequence order and MDB_APPEND works. */
void
rec_enc_seq(uint64_t seq, uint8_t out[SEQ_KEY_LEN])
{
	int	i;

	for (i = SEQ_KEY_LEN - 1; i >= 0; i--) {
		out[i] = (uint8_t)seq;
		seq >>= 8;
	}
}

int
rec_dec_seq(const void *p, size_t n, uint64_t *out)
{
	const uint8_t	*b = p;
	uint64_t	 seq = 0;
	size_t		 i;

	if (n != SEQ_KEY_LEN)
		return STORE_ECORRUPT;
	for (i = 0; i < SEQ_KEY_LEN; i++)
		seq = seq << 8 | b[i];
	*out = seq;
	return STORE_OK;
}
