/*
 * store_record.c - the key store's record formats, apart from LMDB.
 *
 * Records are written with the typed writer of proto/buf.h and read back
 * with its length-checked reader, but with encoders of their own: the store
 * format is on disk for years and must not change when the wire does. Every
 * record except the schema starts with a u8 record version. A record that
 * fails to decode is STORE_ECORRUPT, and so is one the encoder refuses
 * because it would not decode again: nothing unreadable reaches the disk.
 *
 * Workload: one key decode per verify, an encode per management write.
 * Nothing here allocates; the callers own every buffer.
 */
#include <string.h>

#include "../proto/buf.h"
#include "store_record.h"

#define REC_VERSION	1	/* first field of every record */

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
rec_start(struct writer *w, uint8_t *buf, size_t size)
{
	wr_init(w, buf, size);
	wr_u8(w, REC_VERSION);
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

/* Starts a decoder: the reader over p, then a version we know. */
static int
rec_open(struct reader *r, const void *p, size_t n)
{
	uint8_t	ver;

	rd_init(r, p, n);
	if (rd_u8(r, &ver) != 0 || ver != REC_VERSION)
		return STORE_ECORRUPT;
	return STORE_OK;
}

/*
 * Key record, version 1:
 *   u8 version, raw hash[32], raw prev_hash[32],
 *   str id, str prefix, str name,
 *   u8 owner.kind, u32 owner.uid, str owner.user, str owner.tenant,
 *   str owner.group, u32 owner.gid   (both "" / 0 for tenant keys),
 *   u8 enabled, u32 created_by, u64 created_at, u64 updated_at,
 *   u64 expires_at, u64 grace_until,
 *   list services, list permissions, list allowed_users, str metadata
 */
static int
key_valid(const struct store_key *k)
{
	const struct proto_key	*i = &k->info;

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
	return list_fits(&i->services.v[0][0], sizeof(i->services.v[0]),
	    i->services.n, PROTO_MAX_SERVICES) &&
	    list_fits(&i->permissions.v[0][0], sizeof(i->permissions.v[0]),
	    i->permissions.n, PROTO_MAX_PERMS) &&
	    list_fits(&i->allowed_users.v[0][0],
	    sizeof(i->allowed_users.v[0]), i->allowed_users.n,
	    PROTO_MAX_USERS);
}

int
rec_enc_key(const struct store_key *k, uint8_t *buf, size_t size,
    size_t *len)
{
	const struct proto_key	*i = &k->info;
	struct writer		 w;
	int			 tenant = i->owner.kind == PROTO_OWNER_TENANT;

	if (!key_valid(k))
		return STORE_ECORRUPT;
	rec_start(&w, buf, size);
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
	return rec_finish(&w, len);
}

int
rec_dec_key(const void *p, size_t n, struct store_key *out)
{
	struct proto_key	*i = &out->info;
	struct reader		 r;

	memset(out, 0, sizeof(*out));
	if (rec_open(&r, p, n) != 0 ||
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
	    rd_str(&r, i->metadata, PROTO_METADATA_MAX) != 0 ||
	    rd_end(&r) != 0)
		return STORE_ECORRUPT;
	if (i->owner.kind == PROTO_OWNER_TENANT) {
		i->owner.group[0] = '\0';
		i->owner.gid = 0;
	} else if (i->owner.kind != PROTO_OWNER_USER)
		return STORE_ECORRUPT;
	return STORE_OK;
}

/*
 * Tenant record, version 1:
 *   u8 version, str name, str group, u32 gid, str admin_group,
 *   u32 admin_gid, u8 enabled, u32 created_by, u64 created_at
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
	rec_start(&w, buf, size);
	wr_str(&w, t->name);
	wr_str(&w, t->group);
	wr_u32(&w, t->gid);
	wr_str(&w, t->admin_group);
	wr_u32(&w, t->admin_gid);
	wr_u8(&w, t->enabled);
	wr_u32(&w, t->created_by);
	wr_u64(&w, t->created_at);
	return rec_finish(&w, len);
}

int
rec_dec_tenant(const void *p, size_t n, struct proto_tenant *out)
{
	struct reader	r;

	memset(out, 0, sizeof(*out));
	if (rec_open(&r, p, n) != 0 ||
	    rd_str(&r, out->name, PROTO_TENANT_MAX) != 0 ||
	    rd_str(&r, out->group, PROTO_ACCOUNT_MAX) != 0 ||
	    rd_u32(&r, &out->gid) != 0 ||
	    rd_str(&r, out->admin_group, PROTO_ACCOUNT_MAX) != 0 ||
	    rd_u32(&r, &out->admin_gid) != 0 ||
	    rd_u8(&r, &out->enabled) != 0 ||
	    rd_u32(&r, &out->created_by) != 0 ||
	    rd_u64(&r, &out->created_at) != 0 ||
	    rd_end(&r) != 0)
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
	rec_start(&w, buf, size);
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
	    rec_open(&r, p, n) != 0 ||
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
