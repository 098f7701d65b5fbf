/*
 * unit_store.c - the LMDB key store (daemon/store.c).
 *
 * Each test runs in a fresh temporary directory (removed afterwards) and
 * drives the store only through store.h, except where a test must plant a
 * record the store would never write (a newer schema, a damaged key, a key
 * record in the old version 1 format): those open the environment with LMDB
 * directly while the store is closed. The record size bounds are checked
 * against the record encoders of store_record.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <lmdb.h>

#include "../daemon/store.h"
#include "../daemon/store_record.h"
#include "../proto/buf.h"
#include "../proto/token.h"
#include "unitlib.h"

#define MAP_SIZE	(16u * 1024 * 1024)

static char	tmpdir[64];

static void
rm_tree(const char *dir)
{
	unit_rmtree(dir);
}

static void
mk_tmp(char *buf, size_t sz)
{
	snprintf(buf, sz, "/tmp/unit_store.XXXXXX");
	cr_assert_not_null(mkdtemp(buf), "mkdtemp: %s", strerror(errno));
}

static void
setup(void)
{
	mk_tmp(tmpdir, sizeof(tmpdir));
}

static void
teardown(void)
{
	rm_tree(tmpdir);
}

TestSuite(store, .init = setup, .fini = teardown);

/* Fills every field with a value derived from n. */
static void
mk_key(struct store_key *k, uint64_t n, uint8_t kind, uint32_t uid,
    const char *tenant)
{
	struct proto_key	*i = &k->info;
	uint32_t		 j;

	memset(k, 0, sizeof(*k));
	for (j = 0; j < STORE_HASH_LEN; j++) {
		k->hash[j] = (uint8_t)(n + j);
		k->prev_hash[j] = (uint8_t)(0xff - n - j);
	}
	/* Raw hashes may hold NULs; strings may not. */
	k->hash[3] = 0;
	k->prev_hash[7] = 0;
	unit_key_id(n, i->id);
	snprintf(i->prefix, sizeof(i->prefix), "ak%u", (unsigned)(n % 100));
	snprintf(i->name, sizeof(i->name), "key number %llu",
	    (unsigned long long)n);
	i->owner.kind = kind;
	if (kind == PROTO_OWNER_USER) {
		i->owner.uid = uid;
		snprintf(i->owner.user, sizeof(i->owner.user), "user%u", uid);
		snprintf(i->owner.group, sizeof(i->owner.group), "grp%u", uid);
		i->owner.gid = uid + 5;
	} else {
		snprintf(i->owner.tenant, sizeof(i->owner.tenant), "%s",
		    tenant);
	}
	i->enabled = (uint8_t)(n & 1);
	i->created_by = 4242;
	i->created_at = 1700000000ull + n;
	i->updated_at = 1700000100ull + n;
	i->expires_at = 1800000000ull + n;
	i->grace_until = 1700000200ull + n;
	i->services.n = 2;
	strcpy(i->services.v[0], "sshd");
	strcpy(i->services.v[1], "vsftpd");
	i->permissions.n = 3;
	strcpy(i->permissions.v[0], "files:read");
	strcpy(i->permissions.v[1], "files:write");
	strcpy(i->permissions.v[2], "admin:*");
	i->allowed_users.n = 1;
	strcpy(i->allowed_users.v[0], "alice");
	snprintf(i->metadata, sizeof(i->metadata), "{\"n\":%llu}",
	    (unsigned long long)n);
	i->limits.rate_max = 100 + (uint32_t)n;
	i->limits.rate_window_ms = 60000 + (uint32_t)n;
	i->limits.has_credits = 1;
	i->limits.remaining = 5000 + n;
	i->limits.refill_amount = 1000 + n;
	i->limits.refill_interval = 86400 + n;
	i->limits.cidrs.n = 2;
	strcpy(i->limits.cidrs.v[0], "10.0.0.0/8");
	strcpy(i->limits.cidrs.v[1], "2001:db8::/32");
	i->strict_sync = (uint8_t)(n >> 1 & 1);
	/* Not part of the key record: must read back as zero. */
	i->usage.remaining = 77;
	i->usage.last_refill_at = 1700000300ull + n;
	i->usage.last_used = 1700000400ull + n;
	i->usage.use_count = 99;
}

static void
put_key(struct store *s, const struct store_key *k)
{
	struct store_txn	*t;
	int			 rv;

	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	rv = store_key_put(t, k);
	cr_assert_eq(rv, STORE_OK, "put: %s", store_strerror(rv));
	cr_assert_eq(store_commit(t), STORE_OK);
}

static void
mk_tenant(struct proto_tenant *tn, const char *name, uint32_t gid)
{
	memset(tn, 0, sizeof(*tn));
	snprintf(tn->name, sizeof(tn->name), "%s", name);
	snprintf(tn->group, sizeof(tn->group), "g-%s", name);
	tn->gid = gid;
	snprintf(tn->admin_group, sizeof(tn->admin_group), "adm-%s", name);
	tn->admin_gid = gid + 1;
	tn->enabled = 1;
	tn->created_by = 7;
	tn->created_at = 1700000000ull + gid;
	tn->allow_privileged = gid % 2;
}

static void
put_tenant(struct store *s, const struct proto_tenant *tn)
{
	struct store_txn	*t;

	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_tenant_put(t, tn), STORE_OK);
	cr_assert_eq(store_commit(t), STORE_OK);
}

static void
assert_key_eq(const struct store_key *got, const struct store_key *want)
{
	const struct proto_key	*g = &got->info, *w = &want->info;
	uint32_t		 j;

	cr_assert_arr_eq(got->hash, want->hash, STORE_HASH_LEN);
	cr_assert_arr_eq(got->prev_hash, want->prev_hash, STORE_HASH_LEN);
	cr_assert_str_eq(g->id, w->id);
	cr_assert_str_eq(g->prefix, w->prefix);
	cr_assert_str_eq(g->name, w->name);
	cr_assert_eq(g->owner.kind, w->owner.kind);
	cr_assert_eq(g->owner.uid, w->owner.uid);
	cr_assert_str_eq(g->owner.user, w->owner.user);
	cr_assert_str_eq(g->owner.tenant, w->owner.tenant);
	cr_assert_str_eq(g->owner.group, w->owner.group);
	cr_assert_eq(g->owner.gid, w->owner.gid);
	cr_assert_eq(g->enabled, w->enabled);
	cr_assert_eq(g->created_by, w->created_by);
	cr_assert_eq(g->created_at, w->created_at);
	cr_assert_eq(g->updated_at, w->updated_at);
	cr_assert_eq(g->expires_at, w->expires_at);
	cr_assert_eq(g->grace_until, w->grace_until);
	cr_assert_eq(g->services.n, w->services.n);
	for (j = 0; j < w->services.n; j++)
		cr_assert_str_eq(g->services.v[j], w->services.v[j]);
	cr_assert_eq(g->permissions.n, w->permissions.n);
	for (j = 0; j < w->permissions.n; j++)
		cr_assert_str_eq(g->permissions.v[j], w->permissions.v[j]);
	cr_assert_eq(g->allowed_users.n, w->allowed_users.n);
	for (j = 0; j < w->allowed_users.n; j++)
		cr_assert_str_eq(g->allowed_users.v[j], w->allowed_users.v[j]);
	cr_assert_str_eq(g->metadata, w->metadata);
	cr_assert_eq(g->limits.rate_max, w->limits.rate_max);
	cr_assert_eq(g->limits.rate_window_ms, w->limits.rate_window_ms);
	cr_assert_eq(g->limits.has_credits, w->limits.has_credits);
	cr_assert_eq(g->limits.remaining, w->limits.remaining);
	cr_assert_eq(g->limits.refill_amount, w->limits.refill_amount);
	cr_assert_eq(g->limits.refill_interval, w->limits.refill_interval);
	cr_assert_eq(g->limits.cidrs.n, w->limits.cidrs.n);
	for (j = 0; j < w->limits.cidrs.n; j++)
		cr_assert_str_eq(g->limits.cidrs.v[j], w->limits.cidrs.v[j]);
	cr_assert_eq(g->strict_sync, w->strict_sync);
	/* Usage lives in its own database, never in the key record. */
	cr_assert_eq(g->usage.remaining, 0);
	cr_assert_eq(g->usage.last_refill_at, 0);
	cr_assert_eq(g->usage.last_used, 0);
	cr_assert_eq(g->usage.use_count, 0);
}

static void
assert_tenant_eq(const struct proto_tenant *g, const struct proto_tenant *w,
    uint32_t keys)
{
	cr_assert_str_eq(g->name, w->name);
	cr_assert_str_eq(g->group, w->group);
	cr_assert_eq(g->gid, w->gid);
	cr_assert_str_eq(g->admin_group, w->admin_group);
	cr_assert_eq(g->admin_gid, w->admin_gid);
	cr_assert_eq(g->enabled, w->enabled);
	cr_assert_eq(g->created_by, w->created_by);
	cr_assert_eq(g->created_at, w->created_at);
	cr_assert_eq(g->keys, keys);
	cr_assert_eq(g->allow_privileged, w->allow_privileged);
}

Test(store, open_close_reopen_keeps_records)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k, got;
	struct proto_tenant	 tn, tgot;

	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_key(&k, 1, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	mk_tenant(&tn, "acme", 2000);
	put_tenant(s, &tn);
	store_close(s);

	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
	assert_key_eq(&got, &k);
	cr_assert_eq(store_tenant_get(t, "acme", &tgot), STORE_OK);
	assert_tenant_eq(&tgot, &tn, 0);
	store_end(t);
	store_close(s);

	/* A reopen with the default map size sees the same data. */
	s = unit_store_open(tmpdir, 0);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
	assert_key_eq(&got, &k);
	store_end(t);
	store_close(s);
}

Test(store, open_missing_dir_fails)
{
	struct store	*s = (struct store *)0x1;
	char		 path[128];

	snprintf(path, sizeof(path), "%s/nope", tmpdir);
	cr_assert_eq(store_open(path, MAP_SIZE, &s), STORE_EIO);
	cr_assert_eq(s, (struct store *)0x1, "out written on failure");
}

Test(store, data_file_mode_0600)
{
	struct store	*s;
	struct stat	 st;
	char		 path[128];

	s = unit_store_open(tmpdir, MAP_SIZE);
	snprintf(path, sizeof(path), "%s/data.mdb", tmpdir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	snprintf(path, sizeof(path), "%s/lock.mdb", tmpdir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	store_close(s);
}

Test(store, key_roundtrip_every_field)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k, got;
	uint32_t		 j;

	s = unit_store_open(tmpdir, MAP_SIZE);

	/* User key: all fields come back, owner group and gid included. */
	mk_key(&k, 7, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	memset(&got, 0xa5, sizeof(got));
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
	assert_key_eq(&got, &k);
	store_end(t);

	/* Lists and strings at their maxima. */
	mk_key(&k, 8, PROTO_OWNER_USER, 1000, NULL);
	k.info.services.n = PROTO_MAX_SERVICES;
	for (j = 0; j < PROTO_MAX_SERVICES; j++)
		memset(k.info.services.v[j], 's', PROTO_SERVICE_MAX);
	k.info.permissions.n = PROTO_MAX_PERMS;
	for (j = 0; j < PROTO_MAX_PERMS; j++)
		memset(k.info.permissions.v[j], 'p', PROTO_PERM_MAX);
	k.info.allowed_users.n = PROTO_MAX_USERS;
	for (j = 0; j < PROTO_MAX_USERS; j++)
		memset(k.info.allowed_users.v[j], 'u', PROTO_ACCOUNT_MAX);
	memset(k.info.metadata, 'm', PROTO_METADATA_MAX);
	memset(k.info.name, 'n', PROTO_NAME_MAX);
	memset(k.info.prefix, 'p', TOKEN_PREFIX_MAX);
	memset(k.info.owner.user, 'w', PROTO_ACCOUNT_MAX);
	memset(k.info.owner.group, 'g', PROTO_ACCOUNT_MAX);
	k.info.limits.rate_max = UINT32_MAX;
	k.info.limits.rate_window_ms = UINT32_MAX - 1;
	k.info.limits.remaining = UINT64_MAX;
	k.info.limits.refill_amount = UINT64_MAX - 1;
	k.info.limits.refill_interval = UINT64_MAX - 2;
	k.info.limits.cidrs.n = PROTO_MAX_CIDRS;
	for (j = 0; j < PROTO_MAX_CIDRS; j++) {
		memset(k.info.limits.cidrs.v[j], 'c', PROTO_CIDR_MAX);
		k.info.limits.cidrs.v[j][0] = (char)('A' + j);
	}
	put_key(s, &k);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
	assert_key_eq(&got, &k);
	store_end(t);

	/* Empty lists and strings, no limits. */
	mk_key(&k, 9, PROTO_OWNER_USER, 0, NULL);
	k.info.services.n = 0;
	k.info.permissions.n = 0;
	k.info.allowed_users.n = 0;
	k.info.metadata[0] = '\0';
	k.info.name[0] = '\0';
	memset(&k.info.limits, 0, sizeof(k.info.limits));
	put_key(s, &k);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
	assert_key_eq(&got, &k);
	store_end(t);

	/* Tenant key: group and gid are not stored, they read back empty. */
	mk_key(&k, 10, PROTO_OWNER_TENANT, 0, "acme");
	snprintf(k.info.owner.group, sizeof(k.info.owner.group), "g-acme");
	k.info.owner.gid = 2000;
	put_key(s, &k);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
	k.info.owner.group[0] = '\0';
	k.info.owner.gid = 0;
	assert_key_eq(&got, &k);
	store_end(t);
	store_close(s);
}

Test(store, key_put_replaces_and_rejects_bad_records)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k, k2, got;
	uint32_t		 n;

	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_key(&k, 1, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);

	/* Same owner: replaced in place, still one index entry. */
	snprintf(k.info.name, sizeof(k.info.name), "renamed");
	k.hash[0] ^= 0xff;
	put_key(s, &k);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
	assert_key_eq(&got, &k);
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_USER, 1000, NULL,
	    &n), STORE_OK);
	cr_assert_eq(n, 1);
	store_end(t);

	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	/* Another owner for an existing id is refused. */
	k2 = k;
	k2.info.owner.uid = 1001;
	cr_assert_eq(store_key_put(t, &k2), STORE_EEXIST);
	mk_key(&k2, 1, PROTO_OWNER_TENANT, 0, "acme");
	cr_assert_eq(store_key_put(t, &k2), STORE_EEXIST);
	/* Records that could not be read back are refused. */
	mk_key(&k2, 2, PROTO_OWNER_USER, 1000, NULL);
	strcpy(k2.info.id, "short");
	cr_assert_eq(store_key_put(t, &k2), STORE_ECORRUPT);
	mk_key(&k2, 2, PROTO_OWNER_USER, 1000, NULL);
	k2.info.owner.kind = PROTO_OWNER_NONE;
	cr_assert_eq(store_key_put(t, &k2), STORE_ECORRUPT);
	mk_key(&k2, 2, PROTO_OWNER_TENANT, 0, "");
	cr_assert_eq(store_key_put(t, &k2), STORE_ECORRUPT);
	mk_key(&k2, 2, PROTO_OWNER_USER, 1000, NULL);
	k2.info.permissions.n = PROTO_MAX_PERMS + 1;
	cr_assert_eq(store_key_put(t, &k2), STORE_ECORRUPT);
	mk_key(&k2, 2, PROTO_OWNER_USER, 1000, NULL);
	memset(k2.info.metadata, 'x', sizeof(k2.info.metadata));
	cr_assert_eq(store_key_put(t, &k2), STORE_ECORRUPT);
	mk_key(&k2, 2, PROTO_OWNER_USER, 1000, NULL);
	memset(k2.info.services.v[1], 'x', sizeof(k2.info.services.v[1]));
	cr_assert_eq(store_key_put(t, &k2), STORE_ECORRUPT);
	mk_key(&k2, 2, PROTO_OWNER_USER, 1000, NULL);
	k2.info.limits.cidrs.n = PROTO_MAX_CIDRS + 1;
	cr_assert_eq(store_key_put(t, &k2), STORE_ECORRUPT);
	mk_key(&k2, 2, PROTO_OWNER_USER, 1000, NULL);
	memset(k2.info.limits.cidrs.v[1], 'x',
	    sizeof(k2.info.limits.cidrs.v[1]));
	cr_assert_eq(store_key_put(t, &k2), STORE_ECORRUPT);
	mk_key(&k2, 2, PROTO_OWNER_USER, 1000, NULL);
	k2.info.limits.has_credits = 2;
	cr_assert_eq(store_key_put(t, &k2), STORE_ECORRUPT);
	cr_assert_eq(store_commit(t), STORE_OK);

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
	cr_assert_eq(got.info.owner.uid, 1000);
	unit_key_id(2, k2.info.id);
	cr_assert_eq(store_key_get(t, k2.info.id, &got), STORE_ENOTFOUND);
	store_end(t);
	store_close(s);
}

Test(store, missing_records_are_enotfound)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 got;
	struct proto_tenant	 tgot;
	char			 id[TOKEN_ID_LEN + 1];

	s = unit_store_open(tmpdir, MAP_SIZE);
	unit_key_id(99, id);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	memset(&got, 0x5a, sizeof(got));
	cr_assert_eq(store_key_get(t, id, &got), STORE_ENOTFOUND);
	cr_assert_eq(got.info.id[0], 0x5a, "out written on failure");
	cr_assert_eq(store_key_get(t, "", &got), STORE_ENOTFOUND);
	cr_assert_eq(store_key_get(t, "not-an-id!!", &got), STORE_ENOTFOUND);
	cr_assert_eq(store_tenant_get(t, "nope", &tgot), STORE_ENOTFOUND);
	cr_assert_eq(store_tenant_get(t, "", &tgot), STORE_ENOTFOUND);
	store_end(t);

	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_del(t, id), STORE_ENOTFOUND);
	cr_assert_eq(store_tenant_del(t, "nope"), STORE_ENOTFOUND);
	store_end(t);
	store_close(s);
}

struct idlist {
	int	n;
	char	ids[16][TOKEN_ID_LEN + 1];
	int	stop_at;	/* stop the walk after this many; 0: never */
};

static int
collect_key(const struct store_key *k, void *arg)
{
	struct idlist	*l = arg;

	cr_assert_lt(l->n, 16);
	memcpy(l->ids[l->n++], k->info.id, TOKEN_ID_LEN + 1);
	if (l->stop_at != 0 && l->n == l->stop_at)
		return 77;
	return 0;
}

Test(store, owner_index_lists_and_counts)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k;
	struct idlist		 l;
	char			 id[TOKEN_ID_LEN + 1];
	uint32_t		 n;

	s = unit_store_open(tmpdir, MAP_SIZE);
	/* Index order is id order: put out of order on purpose. */
	mk_key(&k, 3, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	mk_key(&k, 1, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	mk_key(&k, 2, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	mk_key(&k, 4, PROTO_OWNER_USER, 1001, NULL);
	put_key(s, &k);
	mk_key(&k, 5, PROTO_OWNER_TENANT, 0, "acme");
	put_key(s, &k);
	mk_key(&k, 6, PROTO_OWNER_TENANT, 0, "acme");
	put_key(s, &k);
	mk_key(&k, 7, PROTO_OWNER_TENANT, 0, "acme2");
	put_key(s, &k);

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_key_foreach_owner(t, PROTO_OWNER_USER, 1000, NULL,
	    collect_key, &l), STORE_OK);
	cr_assert_eq(l.n, 3);
	unit_key_id(1, id);
	cr_assert_str_eq(l.ids[0], id);
	unit_key_id(2, id);
	cr_assert_str_eq(l.ids[1], id);
	unit_key_id(3, id);
	cr_assert_str_eq(l.ids[2], id);

	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_key_foreach_owner(t, PROTO_OWNER_TENANT, 0, "acme",
	    collect_key, &l), STORE_OK);
	cr_assert_eq(l.n, 2);
	unit_key_id(5, id);
	cr_assert_str_eq(l.ids[0], id);
	unit_key_id(6, id);
	cr_assert_str_eq(l.ids[1], id);

	/* A callback's non-zero return stops the walk and is returned. */
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	cr_assert_eq(store_key_foreach_owner(t, PROTO_OWNER_USER, 1000, NULL,
	    collect_key, &l), 77);
	cr_assert_eq(l.n, 2);

	/* An owner without keys: no calls, count 0. */
	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_key_foreach_owner(t, PROTO_OWNER_USER, 5, NULL,
	    collect_key, &l), STORE_OK);
	cr_assert_eq(l.n, 0);

	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_USER, 1000, NULL,
	    &n), STORE_OK);
	cr_assert_eq(n, 3);
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_USER, 1001, NULL,
	    &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_TENANT, 0, "acme",
	    &n), STORE_OK);
	cr_assert_eq(n, 2);
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_TENANT, 0, "acme2",
	    &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_TENANT, 0, "none",
	    &n), STORE_OK);
	cr_assert_eq(n, 0);
	/* A selector that names no owner. */
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_NONE, 0, NULL, &n),
	    STORE_ENOTFOUND);
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_TENANT, 0, "", &n),
	    STORE_ENOTFOUND);

	/* All keys, in id order. */
	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_key_foreach_after(t, NULL, collect_key, &l), STORE_OK);
	cr_assert_eq(l.n, 7);
	unit_key_id(1, id);
	cr_assert_str_eq(l.ids[0], id);
	unit_key_id(7, id);
	cr_assert_str_eq(l.ids[6], id);
	store_end(t);
	store_close(s);
}

Test(store, key_del_removes_index_entry)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k, got;
	struct idlist		 l;
	char			 id1[TOKEN_ID_LEN + 1], id2[TOKEN_ID_LEN + 1];
	uint32_t		 n;

	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_key(&k, 1, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	mk_key(&k, 2, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	mk_key(&k, 3, PROTO_OWNER_TENANT, 0, "acme");
	put_key(s, &k);
	unit_key_id(1, id1);
	unit_key_id(3, id2);

	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_del(t, id1), STORE_OK);
	cr_assert_eq(store_key_del(t, id2), STORE_OK);
	cr_assert_eq(store_key_del(t, id2), STORE_ENOTFOUND);
	cr_assert_eq(store_commit(t), STORE_OK);

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, id1, &got), STORE_ENOTFOUND);
	cr_assert_eq(store_key_get(t, id2, &got), STORE_ENOTFOUND);
	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_key_foreach_owner(t, PROTO_OWNER_USER, 1000, NULL,
	    collect_key, &l), STORE_OK);
	cr_assert_eq(l.n, 1);
	unit_key_id(2, id1);
	cr_assert_str_eq(l.ids[0], id1);
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_TENANT, 0, "acme",
	    &n), STORE_OK);
	cr_assert_eq(n, 0);
	store_end(t);

	/* An aborted delete changes nothing. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_del(t, id1), STORE_OK);
	store_end(t);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, id1, &got), STORE_OK);
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_USER, 1000, NULL,
	    &n), STORE_OK);
	cr_assert_eq(n, 1);
	store_end(t);
	store_close(s);
}

struct tlist {
	int			n;
	struct proto_tenant	v[4];
};

static int
collect_tenant(const struct proto_tenant *tn, void *arg)
{
	struct tlist	*l = arg;

	cr_assert_lt(l->n, 4);
	l->v[l->n++] = *tn;
	return 0;
}

Test(store, tenant_put_get_del_foreach)
{
	struct store		*s;
	struct store_txn	*t;
	struct proto_tenant	 a, b, got;
	struct store_key	 k;
	struct tlist		 l;

	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_tenant(&b, "beta", 3000);
	b.admin_group[0] = '\0';
	b.admin_gid = 0;
	b.enabled = 0;
	put_tenant(s, &b);
	mk_tenant(&a, "acme", 2000);
	a.keys = 99;	/* ignored: derived from the index */
	put_tenant(s, &a);
	mk_key(&k, 1, PROTO_OWNER_TENANT, 0, "acme");
	put_key(s, &k);
	mk_key(&k, 2, PROTO_OWNER_TENANT, 0, "acme");
	put_key(s, &k);

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_tenant_get(t, "acme", &got), STORE_OK);
	assert_tenant_eq(&got, &a, 2);
	cr_assert_eq(store_tenant_get(t, "beta", &got), STORE_OK);
	assert_tenant_eq(&got, &b, 0);
	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_tenant_foreach(t, collect_tenant, &l), STORE_OK);
	cr_assert_eq(l.n, 2);
	assert_tenant_eq(&l.v[0], &a, 2);
	assert_tenant_eq(&l.v[1], &b, 0);
	store_end(t);

	/* Update in place. */
	a.enabled = 0;
	put_tenant(s, &a);

	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_tenant_del(t, "beta"), STORE_OK);
	cr_assert_eq(store_tenant_get(t, "acme", &got), STORE_OK);
	assert_tenant_eq(&got, &a, 2);
	/* Bad names are refused, not truncated. */
	mk_tenant(&b, "", 1);
	cr_assert_eq(store_tenant_put(t, &b), STORE_ECORRUPT);
	mk_tenant(&b, "x", 1);
	memset(b.name, 'x', sizeof(b.name));
	cr_assert_eq(store_tenant_put(t, &b), STORE_ECORRUPT);
	cr_assert_eq(store_commit(t), STORE_OK);

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_tenant_get(t, "beta", &got), STORE_ENOTFOUND);
	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_tenant_foreach(t, collect_tenant, &l), STORE_OK);
	cr_assert_eq(l.n, 1);
	assert_tenant_eq(&l.v[0], &a, 2);
	store_end(t);
	store_close(s);
}

struct alist {
	int		n;
	uint64_t	seq[8];
	char		action[8][PROTO_ACTION_MAX + 1];
};

static int
collect_audit(const struct proto_audit *a, void *arg)
{
	struct alist	*l = arg;

	cr_assert_lt(l->n, 8);
	l->seq[l->n] = a->seq;
	memcpy(l->action[l->n], a->action, sizeof(a->action));
	l->n++;
	return 0;
}

static void
append(struct store *s, const char *action, uint64_t want_seq)
{
	struct store_txn	*t;
	struct proto_audit	 a;

	memset(&a, 0, sizeof(a));
	a.seq = 12345;	/* overwritten by the store */
	a.time = 1700000000ull + want_seq;
	a.uid = 1000;
	a.pid = 4321;
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.target, sizeof(a.target), "target%llu",
	    (unsigned long long)want_seq);
	snprintf(a.detail, sizeof(a.detail), "detail");
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_audit_append(t, &a), STORE_OK);
	cr_assert_eq(a.seq, want_seq);
	cr_assert_eq(store_commit(t), STORE_OK);
}

static int
check_audit_fields(const struct proto_audit *a, void *arg)
{
	(void)arg;
	cr_assert_eq(a->time, 1700000000ull + a->seq);
	cr_assert_eq(a->uid, 1000);
	cr_assert_eq(a->pid, 4321);
	cr_assert_str_eq(a->detail, "detail");
	return 0;
}

Test(store, audit_append_and_walk)
{
	struct store		*s;
	struct store_txn	*t;
	struct alist		 l;

	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_audit_foreach_from(t, 0, collect_audit, &l),
	    STORE_OK);
	cr_assert_eq(l.n, 0);
	store_end(t);

	append(s, "key.create", 1);
	append(s, "key.revoke", 2);
	append(s, "tenant.add", 3);

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_audit_foreach_from(t, 2, collect_audit, &l),
	    STORE_OK);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(l.seq[0], 2);
	cr_assert_eq(l.seq[1], 3);
	cr_assert_str_eq(l.action[0], "key.revoke");
	cr_assert_str_eq(l.action[1], "tenant.add");

	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_audit_foreach_from(t, 0, collect_audit, &l),
	    STORE_OK);
	cr_assert_eq(l.n, 3);
	cr_assert_eq(l.seq[0], 1);
	cr_assert_eq(l.seq[2], 3);
	cr_assert_str_eq(l.action[0], "key.create");

	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_audit_foreach_from(t, 4, collect_audit, &l),
	    STORE_OK);
	cr_assert_eq(l.n, 0);
	cr_assert_eq(store_audit_foreach_from(t, 1, check_audit_fields, NULL),
	    STORE_OK);
	store_end(t);

	/* An aborted append does not use up its number... */
	{
		struct proto_audit	a;

		memset(&a, 0, sizeof(a));
		cr_assert_eq(store_write_begin(s, &t), STORE_OK);
		cr_assert_eq(store_audit_append(t, &a), STORE_OK);
		cr_assert_eq(a.seq, 4);
		store_end(t);
	}
	/* ...and numbering goes on across a reopen. */
	store_close(s);
	s = unit_store_open(tmpdir, MAP_SIZE);
	append(s, "key.rotate", 4);
	store_close(s);
}

Test(store, stat_counts)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k;
	struct proto_tenant	 tn;
	uint64_t		 nk = 99, nt = 99;
	int			 i;

	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_stat(t, &nk, &nt), STORE_OK);
	cr_assert_eq(nk, 0);
	cr_assert_eq(nt, 0);
	store_end(t);

	for (i = 1; i <= 5; i++) {
		mk_key(&k, (uint64_t)i, PROTO_OWNER_USER, 1000, NULL);
		put_key(s, &k);
	}
	mk_tenant(&tn, "acme", 1);
	put_tenant(s, &tn);
	mk_tenant(&tn, "beta", 2);
	put_tenant(s, &tn);

	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_stat(t, &nk, &nt), STORE_OK);
	cr_assert_eq(nk, 5);
	cr_assert_eq(nt, 2);
	store_end(t);
	store_close(s);
}

Test(store, read_txn_is_reused)
{
	struct store		*s;
	struct store_txn	*t, *first = NULL;
	struct store_key	 k, got;
	int			 i;

	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_key(&k, 1, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	for (i = 0; i < 10000; i++) {
		cr_assert_eq(store_read_begin(s, &t), STORE_OK);
		if (first == NULL)
			first = t;
		cr_assert_eq(t, first);
		cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
		/* Alternate the two ways a read txn ends. */
		if (i & 1)
			store_end(t);
		else
			cr_assert_eq(store_commit(t), STORE_OK);
	}
	/* A write between reads is seen by the next (renewed) read. */
	k.info.enabled = 0;
	snprintf(k.info.name, sizeof(k.info.name), "changed");
	put_key(s, &k);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
	cr_assert_str_eq(got.info.name, "changed");
	store_end(t);
	/* Ending twice, or ending NULL, is harmless. */
	store_end(t);
	store_end(NULL);
	store_close(s);
}

Test(store, one_txn_per_thread)
{
	struct store		*s;
	struct store_txn	*t, *t2 = NULL;

	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_read_begin(s, &t2), STORE_EBUSY);
	cr_assert_eq(store_write_begin(s, &t2), STORE_EBUSY);
	cr_assert_null(t2);
	store_end(t);

	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_read_begin(s, &t2), STORE_EBUSY);
	cr_assert_eq(store_write_begin(s, &t2), STORE_EBUSY);
	cr_assert_null(t2);
	cr_assert_eq(store_commit(t), STORE_OK);

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	store_end(t);
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	store_end(t);
	store_close(s);
}

Test(store, writes_need_a_write_txn)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k;
	struct proto_tenant	 tn;
	struct proto_audit	 a;
	struct store_usage	 u;
	uint64_t		 nk, nt;

	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_key(&k, 1, PROTO_OWNER_USER, 1000, NULL);
	mk_tenant(&tn, "acme", 1);
	memset(&a, 0, sizeof(a));
	memset(&u, 0, sizeof(u));
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_usage_put(t, k.info.id, &u), STORE_EIO);
	cr_assert_eq(store_key_put(t, &k), STORE_EIO);
	cr_assert_eq(store_key_del(t, k.info.id), STORE_EIO);
	cr_assert_eq(store_tenant_put(t, &tn), STORE_EIO);
	cr_assert_eq(store_tenant_del(t, "acme"), STORE_EIO);
	cr_assert_eq(store_audit_append(t, &a), STORE_EIO);
	store_end(t);
	/* An ended txn is unusable, not a crash. */
	cr_assert_eq(store_stat(t, &nk, &nt), STORE_EIO);
	cr_assert_eq(store_usage_get(t, k.info.id, &u), STORE_EIO);
	cr_assert_eq(store_commit(t), STORE_EIO);
	store_close(s);
}

struct writer_arg {
	struct store	*s;
	uint64_t	 n;
	int		 rv;
};

static void *
writer_thread(void *p)
{
	struct writer_arg	*w = p;
	struct store_txn	*t;
	struct store_key	 k;

	mk_key(&k, w->n, PROTO_OWNER_USER, 1000, NULL);
	if ((w->rv = store_write_begin(w->s, &t)) != 0)
		return NULL;
	if ((w->rv = store_key_put(t, &k)) != 0) {
		store_end(t);
		return NULL;
	}
	w->rv = store_commit(t);
	return NULL;
}

static void *
reader_thread(void *p)
{
	struct writer_arg	*w = p;
	struct store_txn	*t;
	struct store_key	 got;
	char			 id[TOKEN_ID_LEN + 1];

	unit_key_id(w->n, id);
	if ((w->rv = store_read_begin(w->s, &t)) != 0)
		return NULL;
	w->rv = store_key_get(t, id, &got);
	store_end(t);
	return NULL;
}

Test(store, threads_have_their_own_txns)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 got;
	struct writer_arg	 w;
	pthread_t		 th;
	char			 id[TOKEN_ID_LEN + 1];

	s = unit_store_open(tmpdir, MAP_SIZE);
	unit_key_id(1, id);
	/* This thread's read txn does not keep another thread from writing,
	 * and keeps its snapshot until it ends. */
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	w.s = s;
	w.n = 1;
	w.rv = -99;
	cr_assert_eq(pthread_create(&th, NULL, writer_thread, &w), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(w.rv, STORE_OK);
	cr_assert_eq(store_key_get(t, id, &got), STORE_ENOTFOUND);
	store_end(t);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, id, &got), STORE_OK);

	/* Another thread reads while this one holds a read txn. */
	w.rv = -99;
	cr_assert_eq(pthread_create(&th, NULL, reader_thread, &w), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(w.rv, STORE_OK);
	store_end(t);

	/* Many short-lived reader threads: each exit returns its slot (the
	 * default table has 126), so this would fail with leaked slots. */
	for (int i = 0; i < 300; i++) {
		w.rv = -99;
		cr_assert_eq(pthread_create(&th, NULL, reader_thread, &w), 0);
		cr_assert_eq(pthread_join(th, NULL), 0);
		cr_assert_eq(w.rv, STORE_OK, "thread %d: %s", i,
		    store_strerror(w.rv));
	}
	store_close(s);
}

struct idle_arg {
	struct store		*s;
	pthread_barrier_t	*b;
	int			 rv;
};

/* Caches a read txn, then stays alive while the store is closed. */
static void *
idle_reader(void *p)
{
	struct idle_arg		*a = p;
	struct store_txn	*t;

	if ((a->rv = store_read_begin(a->s, &t)) == 0)
		store_end(t);
	pthread_barrier_wait(a->b);
	pthread_barrier_wait(a->b);	/* store closed meanwhile */
	return NULL;
}

Test(store, close_with_idle_thread_cache_then_new_store)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k, got;
	struct idle_arg		 a;
	pthread_barrier_t	 b;
	pthread_t		 th;
	char			 dir2[64];

	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_key(&k, 1, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	cr_assert_eq(pthread_barrier_init(&b, NULL, 2), 0);
	a.s = s;
	a.b = &b;
	a.rv = -99;
	cr_assert_eq(pthread_create(&th, NULL, idle_reader, &a), 0);
	pthread_barrier_wait(&b);
	cr_assert_eq(a.rv, STORE_OK);
	/* This thread's cache is also live when the store closes. */
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	store_end(t);
	store_close(s);
	pthread_barrier_wait(&b);
	cr_assert_eq(pthread_join(th, NULL), 0);
	pthread_barrier_destroy(&b);

	/* A second store in the same thread starts with a clean cache. */
	mk_tmp(dir2, sizeof(dir2));
	s = unit_store_open(dir2, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_ENOTFOUND);
	store_end(t);
	store_close(s);
	rm_tree(dir2);

	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
	store_end(t);
	store_close(s);
}

Test(store, map_full_keeps_committed_records)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k, got;
	size_t			 page = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t		 nk, nt, n, committed = 0;
	int			 rv = 0;

	s = unit_store_open(tmpdir, 32 * page);
	for (n = 1; n <= 1000; n++) {
		mk_key(&k, n, PROTO_OWNER_USER, 1000, NULL);
		memset(k.info.metadata, 'm', PROTO_METADATA_MAX);
		cr_assert_eq(store_write_begin(s, &t), STORE_OK);
		if ((rv = store_key_put(t, &k)) != 0) {
			store_end(t);
			break;
		}
		if ((rv = store_commit(t)) != 0)
			break;
		committed++;
	}
	cr_assert_eq(rv, STORE_EFULL, "got %d (%s) after %llu keys", rv,
	    store_strerror(rv), (unsigned long long)committed);
	cr_assert_gt(committed, 0);
	cr_log_info("map full after %llu keys", (unsigned long long)committed);

	/* Every committed key is still there, readable and whole. */
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_stat(t, &nk, &nt), STORE_OK);
	cr_assert_eq(nk, committed);
	for (n = 1; n <= committed; n++) {
		mk_key(&k, n, PROTO_OWNER_USER, 1000, NULL);
		memset(k.info.metadata, 'm', PROTO_METADATA_MAX);
		cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
		assert_key_eq(&got, &k);
	}
	store_end(t);
	store_close(s);

	/* And after a reopen with room to grow, writes work again. */
	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_key(&k, committed + 1, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_stat(t, &nk, &nt), STORE_OK);
	cr_assert_eq(nk, committed + 1);
	store_end(t);
	store_close(s);
}

/*
 * Plants a raw record with LMDB itself (the store is closed), to reach
 * states the store never writes.
 */
static void
raw_put(const char *dir, const char *db, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k, v;

	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 8), 0);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, db, 0, &dbi), 0);
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	v.mv_data = (void *)(uintptr_t)val;
	v.mv_size = vlen;
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

Test(store, newer_schema_is_refused)
{
	struct store	*s;
	const uint8_t	 v2[] = { BUF_T_U32, 0, 0, 0, 2 };
	const uint8_t	 v1[] = { BUF_T_U32, 0, 0, 0, 1 };

	s = unit_store_open(tmpdir, MAP_SIZE);
	store_close(s);
	raw_put(tmpdir, "meta", "schema", 6, v2, sizeof(v2));
	s = NULL;
	cr_assert_eq(store_open(tmpdir, MAP_SIZE, &s), STORE_ECORRUPT);
	cr_assert_null(s);
	/* Its own schema opens. */
	raw_put(tmpdir, "meta", "schema", 6, v1, sizeof(v1));
	s = unit_store_open(tmpdir, MAP_SIZE);
	store_close(s);
}

Test(store, damaged_key_record)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k, got;
	struct idlist		 l;
	const uint8_t		 junk[] = { BUF_T_U8, 1, 0xde, 0xad };
	const uint8_t		 v3[] = { BUF_T_U8, 3 };
	uint32_t		 n;

	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_key(&k, 1, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	store_close(s);
	raw_put(tmpdir, "keys", k.info.id, TOKEN_ID_LEN, junk, sizeof(junk));

	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_ECORRUPT);
	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_key_foreach_after(t, NULL, collect_key, &l), STORE_ECORRUPT);
	cr_assert_eq(store_key_foreach_owner(t, PROTO_OWNER_USER, 1000, NULL,
	    collect_key, &l), STORE_ECORRUPT);
	store_end(t);

	/* A damaged record can be neither overwritten blindly nor kept:
	 * delete still removes it and its index entry. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_put(t, &k), STORE_ECORRUPT);
	cr_assert_eq(store_key_del(t, k.info.id), STORE_OK);
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_USER, 1000, NULL,
	    &n), STORE_OK);
	cr_assert_eq(n, 0);
	cr_assert_eq(store_commit(t), STORE_OK);
	store_close(s);

	/* A record version from the future is damage too. */
	raw_put(tmpdir, "keys", k.info.id, TOKEN_ID_LEN, v3, sizeof(v3));
	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_ECORRUPT);
	store_end(t);
	store_close(s);
}

/* Copies out a raw record with LMDB itself (the store is closed). */
static size_t
raw_get(const char *dir, const char *db, const void *key, size_t klen,
    uint8_t *out, size_t size)
{
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k, v;
	size_t	 n;

	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 8), 0);
	cr_assert_eq(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, db, 0, &dbi), 0);
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
	cr_assert_leq(v.mv_size, size);
	memcpy(out, v.mv_data, v.mv_size);
	n = v.mv_size;
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return n;
}

/*
 * A key record as older releases wrote it, from the format documented in
 * store_record.c: layout 1 up to issue 4, layout 2 (the limits appended)
 * up to issue 12, which appends strict_sync. The version byte is a
 * parameter so a test can mislabel one.
 */
static size_t
enc_key_old(const struct store_key *k, int layout, uint8_t version,
    uint8_t *buf, size_t size)
{
	const struct proto_key	*i = &k->info;
	const struct proto_limits *l = &i->limits;
	struct writer		 w;
	int			 tenant = i->owner.kind == PROTO_OWNER_TENANT;

	wr_init(&w, buf, size);
	wr_u8(&w, version);
	wr_raw_bytes(&w, k->hash, STORE_HASH_LEN);
	wr_raw_bytes(&w, k->prev_hash, STORE_HASH_LEN);
	wr_str(&w, i->id);
	wr_str(&w, i->prefix);
	wr_str(&w, i->name);
	wr_u8(&w, i->owner.kind);
	wr_u32(&w, i->owner.uid);
	wr_str(&w, i->owner.user);
	wr_str(&w, i->owner.tenant);
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
	if (layout >= 2) {
		wr_u32(&w, l->rate_max);
		wr_u32(&w, l->rate_window_ms);
		wr_u8(&w, l->has_credits);
		wr_u64(&w, l->remaining);
		wr_u64(&w, l->refill_amount);
		wr_u64(&w, l->refill_interval);
		wr_strlist(&w, &l->cidrs.v[0][0], sizeof(l->cidrs.v[0]),
		    l->cidrs.n);
	}
	cr_assert_eq(wr_error(&w), 0);
	return w.len;
}

Test(store, version1_key_record_reads_with_no_limits)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k[2], want, got;
	struct idlist		 l;
	uint8_t			 buf[KEY_REC_MAX + 16];
	size_t			 len;
	int			 i;

	/* Through the store first, for the owner index entries. */
	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_key(&k[0], 1, PROTO_OWNER_USER, 1000, NULL);
	mk_key(&k[1], 2, PROTO_OWNER_TENANT, 0, "acme");
	put_key(s, &k[0]);
	put_key(s, &k[1]);
	store_close(s);
	for (i = 0; i < 2; i++) {
		len = enc_key_old(&k[i], 1, 1, buf, sizeof(buf));
		raw_put(tmpdir, "keys", k[i].info.id, TOKEN_ID_LEN, buf, len);
	}

	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	for (i = 0; i < 2; i++) {
		want = k[i];
		memset(&want.info.limits, 0, sizeof(want.info.limits));
		want.info.strict_sync = 0;
		if (i == 1) {
			want.info.owner.group[0] = '\0';
			want.info.owner.gid = 0;
		}
		memset(&got, 0xa5, sizeof(got));
		cr_assert_eq(store_key_get(t, k[i].info.id, &got), STORE_OK);
		assert_key_eq(&got, &want);
		/* want has them zeroed; say so plainly too. */
		cr_assert_eq(got.info.limits.rate_max, 0);
		cr_assert_eq(got.info.limits.has_credits, 0);
		cr_assert_eq(got.info.limits.cidrs.n, 0);
	}
	/* Walks decode them too. */
	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_key_foreach_after(t, NULL, collect_key, &l), STORE_OK);
	cr_assert_eq(l.n, 2);
	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_key_foreach_owner(t, PROTO_OWNER_TENANT, 0, "acme",
	    collect_key, &l), STORE_OK);
	cr_assert_eq(l.n, 1);
	cr_assert_str_eq(l.ids[0], k[1].info.id);
	store_end(t);

	/* Rewriting an old record stores it as version 3, limits included. */
	put_key(s, &k[0]);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k[0].info.id, &got), STORE_OK);
	assert_key_eq(&got, &k[0]);
	cr_assert_eq(got.info.limits.cidrs.n, 2);
	store_end(t);
	store_close(s);
	len = raw_get(tmpdir, "keys", k[0].info.id, TOKEN_ID_LEN, buf,
	    sizeof(buf));
	cr_assert_geq(len, 2);
	cr_assert_eq(buf[0], BUF_T_U8);
	cr_assert_eq(buf[1], 3);

	/* A version 1 body labelled 2 lacks the limits... */
	len = enc_key_old(&k[0], 1, 2, buf, sizeof(buf));
	raw_put(tmpdir, "keys", k[0].info.id, TOKEN_ID_LEN, buf, len);
	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k[0].info.id, &got), STORE_ECORRUPT);
	store_end(t);
	store_close(s);

	/* ...and a version 2 body labelled 1 has trailing fields. */
	cr_assert_eq(rec_enc_key(&k[0], buf, sizeof(buf), &len), STORE_OK);
	buf[1] = 1;
	raw_put(tmpdir, "keys", k[0].info.id, TOKEN_ID_LEN, buf, len);
	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k[0].info.id, &got), STORE_ECORRUPT);
	store_end(t);
	store_close(s);
}

/*
 * A key record as releases before issue 12 wrote it (version 2): limits
 * but no strict_sync, which reads back as 0 (a key made before fleet mode
 * never asked for it); rewritten, it is version 3 and keeps the flag.
 */
Test(store, version2_key_record_reads_without_strict_sync)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k, want, got;
	uint8_t			 buf[KEY_REC_MAX + 16];
	size_t			 len;

	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_key(&k, 2, PROTO_OWNER_USER, 1000, NULL);
	cr_assert_eq(k.info.strict_sync, 1);
	put_key(s, &k);
	store_close(s);
	len = enc_key_old(&k, 2, 2, buf, sizeof(buf));
	raw_put(tmpdir, "keys", k.info.id, TOKEN_ID_LEN, buf, len);

	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	want = k;
	want.info.strict_sync = 0;
	memset(&got, 0xa5, sizeof(got));
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
	assert_key_eq(&got, &want);
	cr_assert_eq(got.info.limits.cidrs.n, 2);
	store_end(t);

	put_key(s, &k);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_get(t, k.info.id, &got), STORE_OK);
	assert_key_eq(&got, &k);
	store_end(t);
	store_close(s);
	len = raw_get(tmpdir, "keys", k.info.id, TOKEN_ID_LEN, buf,
	    sizeof(buf));
	cr_assert_eq(buf[1], 3);
	cr_assert_eq(buf[len - 2], BUF_T_U8);
	cr_assert_eq(buf[len - 1], 1);

	/* A version 2 body labelled 3 lacks strict_sync... */
	len = enc_key_old(&k, 2, 3, buf, sizeof(buf));
	cr_assert_eq(rec_dec_key(buf, len, &got), STORE_ECORRUPT);
	/* ...a version 3 one labelled 2 has a trailing field... */
	cr_assert_eq(rec_enc_key(&k, buf, sizeof(buf), &len), STORE_OK);
	buf[1] = 2;
	cr_assert_eq(rec_dec_key(buf, len, &got), STORE_ECORRUPT);
	/* ...and strict_sync is a flag, 0 or 1. */
	buf[1] = 3;
	buf[len - 1] = 2;
	cr_assert_eq(rec_dec_key(buf, len, &got), STORE_ECORRUPT);
	buf[len - 1] = 0;
	cr_assert_eq(rec_dec_key(buf, len, &got), STORE_OK);
	cr_assert_eq(got.info.strict_sync, 0);
}

/* Every variable field at its maximum: the record is exactly KEY_REC_MAX. */
Test(store, key_record_bound_is_exact)
{
	struct store_key	 k, got;
	uint8_t			*buf = malloc(KEY_REC_MAX + 1);
	size_t			 len = 0;
	uint32_t		 j;

	cr_assert_not_null(buf);
	mk_key(&k, 1, PROTO_OWNER_USER, UINT32_MAX, NULL);
	memset(k.info.prefix, 'p', TOKEN_PREFIX_MAX);
	memset(k.info.name, 'n', PROTO_NAME_MAX);
	memset(k.info.owner.user, 'u', PROTO_ACCOUNT_MAX);
	memset(k.info.owner.tenant, 't', PROTO_TENANT_MAX);
	memset(k.info.owner.group, 'g', PROTO_ACCOUNT_MAX);
	memset(k.info.metadata, 'm', PROTO_METADATA_MAX);
	k.info.services.n = PROTO_MAX_SERVICES;
	for (j = 0; j < PROTO_MAX_SERVICES; j++)
		memset(k.info.services.v[j], 's', PROTO_SERVICE_MAX);
	k.info.permissions.n = PROTO_MAX_PERMS;
	for (j = 0; j < PROTO_MAX_PERMS; j++)
		memset(k.info.permissions.v[j], 'p', PROTO_PERM_MAX);
	k.info.allowed_users.n = PROTO_MAX_USERS;
	for (j = 0; j < PROTO_MAX_USERS; j++)
		memset(k.info.allowed_users.v[j], 'a', PROTO_ACCOUNT_MAX);
	k.info.limits.cidrs.n = PROTO_MAX_CIDRS;
	for (j = 0; j < PROTO_MAX_CIDRS; j++)
		memset(k.info.limits.cidrs.v[j], 'c', PROTO_CIDR_MAX);

	cr_assert_eq(rec_enc_key(&k, buf, KEY_REC_MAX + 1, &len), STORE_OK);
	cr_assert_eq(len, KEY_REC_MAX, "len %zu, KEY_REC_MAX %zu", len,
	    (size_t)KEY_REC_MAX);
	cr_log_info("KEY_REC_MAX %zu", (size_t)KEY_REC_MAX);
	cr_assert_eq(rec_dec_key(buf, len, &got), STORE_OK);
	assert_key_eq(&got, &k);
	cr_assert_eq(rec_enc_key(&k, buf, KEY_REC_MAX - 1, &len),
	    STORE_ECORRUPT);
	free(buf);
}

static void
mk_usage(struct store_usage *u, uint64_t n)
{
	memset(u, 0, sizeof(*u));
	u->remaining = 0x1000000000ull + n;
	u->last_refill_at = 1700000500ull + n;
	u->last_used = 1700000600ull + n;
	u->use_count = 0x2000000000ull + n;
	u->gen = 0x30000000u + (uint32_t)n;
}

static void
put_usage(struct store *s, const char *id, const struct store_usage *u)
{
	struct store_txn	*t;
	int			 rv;

	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	rv = store_usage_put(t, id, u);
	cr_assert_eq(rv, STORE_OK, "usage put: %s", store_strerror(rv));
	cr_assert_eq(store_commit(t), STORE_OK);
}

static void
assert_usage_eq(const struct store_usage *g, const struct store_usage *w)
{
	cr_assert_eq(g->remaining, w->remaining);
	cr_assert_eq(g->last_refill_at, w->last_refill_at);
	cr_assert_eq(g->last_used, w->last_used);
	cr_assert_eq(g->use_count, w->use_count);
	cr_assert_eq(g->gen, w->gen);
}

Test(store, usage_put_get_round_trip)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k, kgot;
	struct store_usage	 u, got;
	uint8_t			 buf[USAGE_REC_MAX];
	size_t			 len = 0;
	uint64_t		 nk, nt;

	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_key(&k, 1, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	mk_usage(&u, 1);
	put_usage(s, k.info.id, &u);

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	memset(&got, 0xa5, sizeof(got));
	cr_assert_eq(store_usage_get(t, k.info.id, &got), STORE_OK);
	assert_usage_eq(&got, &u);
	/* The key record is untouched and still has no usage in it. */
	cr_assert_eq(store_key_get(t, k.info.id, &kgot), STORE_OK);
	assert_key_eq(&kgot, &k);
	/* Usage records are not keys. */
	cr_assert_eq(store_stat(t, &nk, &nt), STORE_OK);
	cr_assert_eq(nk, 1);
	cr_assert_eq(nt, 0);
	store_end(t);

	/* Replaced in place; extremes survive. */
	u.remaining = 0;
	u.last_refill_at = UINT64_MAX;
	u.last_used = 0;
	u.use_count = UINT64_MAX;
	u.gen = UINT32_MAX;
	put_usage(s, k.info.id, &u);
	/* A rewrite of the key leaves its usage alone. */
	k.info.limits.remaining = 1;
	put_key(s, &k);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_usage_get(t, k.info.id, &got), STORE_OK);
	assert_usage_eq(&got, &u);
	store_end(t);

	/* Within one write txn, a put is seen by a get. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	mk_usage(&u, 2);
	cr_assert_eq(store_usage_put(t, k.info.id, &u), STORE_OK);
	cr_assert_eq(store_usage_get(t, k.info.id, &got), STORE_OK);
	assert_usage_eq(&got, &u);
	/* An id that is not one is refused, not stored. */
	cr_assert_eq(store_usage_put(t, "short", &u), STORE_ECORRUPT);
	cr_assert_eq(store_usage_put(t, NULL, &u), STORE_ECORRUPT);
	cr_assert_eq(store_commit(t), STORE_OK);
	store_close(s);

	/* The record is exactly USAGE_REC_MAX bytes, in the documented form. */
	len = raw_get(tmpdir, "usage", k.info.id, TOKEN_ID_LEN, buf,
	    sizeof(buf));
	cr_assert_eq(len, USAGE_REC_MAX);
	cr_assert_eq(buf[0], BUF_T_U8);
	cr_assert_eq(buf[1], 1);
	cr_assert_eq(buf[2], BUF_T_U64);
}

Test(store, usage_missing_is_enotfound)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k;
	struct store_usage	 got;
	char			 id[TOKEN_ID_LEN + 1];

	s = unit_store_open(tmpdir, MAP_SIZE);
	/* A key that has no usage record yet. */
	mk_key(&k, 1, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	unit_key_id(2, id);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	memset(&got, 0x5a, sizeof(got));
	cr_assert_eq(store_usage_get(t, k.info.id, &got), STORE_ENOTFOUND);
	cr_assert_eq(store_usage_get(t, id, &got), STORE_ENOTFOUND);
	cr_assert_eq(store_usage_get(t, "", &got), STORE_ENOTFOUND);
	cr_assert_eq(store_usage_get(t, "not-an-id!!", &got),
	    STORE_ENOTFOUND);
	cr_assert_eq(store_usage_get(t, NULL, &got), STORE_ENOTFOUND);
	cr_assert_eq(got.remaining, 0x5a5a5a5a5a5a5a5aull,
	    "out written on failure");
	cr_assert_eq(got.gen, 0x5a5a5a5au);
	store_end(t);
	store_close(s);
}

Test(store, key_del_removes_usage)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k;
	struct store_usage	 u, got;
	char			 id1[TOKEN_ID_LEN + 1], id2[TOKEN_ID_LEN + 1];
	char			 id3[TOKEN_ID_LEN + 1];

	s = unit_store_open(tmpdir, MAP_SIZE);
	mk_key(&k, 1, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	mk_key(&k, 2, PROTO_OWNER_USER, 1000, NULL);
	put_key(s, &k);
	mk_key(&k, 3, PROTO_OWNER_TENANT, 0, "acme");
	put_key(s, &k);
	unit_key_id(1, id1);
	unit_key_id(2, id2);
	unit_key_id(3, id3);
	mk_usage(&u, 1);
	put_usage(s, id1, &u);
	mk_usage(&u, 2);
	put_usage(s, id2, &u);

	/* With a usage record, and (key 3) without one. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_del(t, id1), STORE_OK);
	cr_assert_eq(store_key_del(t, id3), STORE_OK);
	cr_assert_eq(store_usage_get(t, id1, &got), STORE_ENOTFOUND);
	cr_assert_eq(store_commit(t), STORE_OK);

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_usage_get(t, id1, &got), STORE_ENOTFOUND);
	cr_assert_eq(store_usage_get(t, id3, &got), STORE_ENOTFOUND);
	/* Another key's usage stays. */
	cr_assert_eq(store_usage_get(t, id2, &got), STORE_OK);
	assert_usage_eq(&got, &u);
	store_end(t);

	/* An aborted delete keeps the usage record too. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_del(t, id2), STORE_OK);
	store_end(t);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_usage_get(t, id2, &got), STORE_OK);
	assert_usage_eq(&got, &u);
	store_end(t);

	/* A key whose record is damaged still takes its usage with it. */
	store_close(s);
	{
		const uint8_t	junk[] = { BUF_T_U8, 1, 0xde, 0xad };

		raw_put(tmpdir, "keys", id2, TOKEN_ID_LEN, junk,
		    sizeof(junk));
	}
	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_del(t, id2), STORE_OK);
	cr_assert_eq(store_commit(t), STORE_OK);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_usage_get(t, id2, &got), STORE_ENOTFOUND);
	store_end(t);
	store_close(s);
}

Test(store, usage_survives_reopen)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_usage	 u1, u2, got;
	char			 id1[TOKEN_ID_LEN + 1], id2[TOKEN_ID_LEN + 1];

	s = unit_store_open(tmpdir, MAP_SIZE);
	unit_key_id(1, id1);
	unit_key_id(2, id2);
	mk_usage(&u1, 1);
	mk_usage(&u2, 2);
	put_usage(s, id1, &u1);
	put_usage(s, id2, &u2);
	store_close(s);

	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_usage_get(t, id1, &got), STORE_OK);
	assert_usage_eq(&got, &u1);
	cr_assert_eq(store_usage_get(t, id2, &got), STORE_OK);
	assert_usage_eq(&got, &u2);
	store_end(t);
	store_close(s);
}

Test(store, damaged_usage_record)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_usage	 u, got;
	uint8_t			 buf[USAGE_REC_MAX + 1];
	size_t			 len;
	char			 id[TOKEN_ID_LEN + 1];

	s = unit_store_open(tmpdir, MAP_SIZE);
	unit_key_id(1, id);
	mk_usage(&u, 1);
	put_usage(s, id, &u);
	store_close(s);
	len = raw_get(tmpdir, "usage", id, TOKEN_ID_LEN, buf, sizeof(buf));
	cr_assert_eq(len, USAGE_REC_MAX);

	/* Short by one byte, one byte too many, a version from the future. */
	raw_put(tmpdir, "usage", id, TOKEN_ID_LEN, buf, len - 1);
	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	memset(&got, 0x5a, sizeof(got));
	cr_assert_eq(store_usage_get(t, id, &got), STORE_ECORRUPT);
	cr_assert_eq(got.gen, 0x5a5a5a5au, "out written on failure");
	store_end(t);
	store_close(s);

	buf[len] = BUF_T_U8;
	raw_put(tmpdir, "usage", id, TOKEN_ID_LEN, buf, len + 1);
	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_usage_get(t, id, &got), STORE_ECORRUPT);
	store_end(t);
	store_close(s);

	buf[1] = 2;
	raw_put(tmpdir, "usage", id, TOKEN_ID_LEN, buf, len);
	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_usage_get(t, id, &got), STORE_ECORRUPT);
	store_end(t);
	/* A damaged record can be overwritten with a good one. */
	put_usage(s, id, &u);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_usage_get(t, id, &got), STORE_OK);
	assert_usage_eq(&got, &u);
	store_end(t);
	store_close(s);
}

Test(store, strerror_names_every_code)
{
	cr_assert_str_eq(store_strerror(STORE_OK), "success");
	cr_assert_str_eq(store_strerror(STORE_ENOTFOUND), "no such record");
	cr_assert_str_eq(store_strerror(STORE_EFULL),
	    "store is full (map size reached)");
	cr_assert_str_eq(store_strerror(STORE_EBUSY),
	    "this thread already has a store transaction open");
	cr_assert_str_eq(store_strerror(-1000), "unknown store error");
}

/* Appends n entries, the i-th (from 1) stamped 1700000000 + i. */
static void
append_n(struct store *s, uint64_t n)
{
	uint64_t	i;

	for (i = 1; i <= n; i++)
		append(s, "key.create", i);
}

static void
audit_info(struct store *s, struct store_audit_info *ai)
{
	struct store_txn	*t;

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_audit_stat(t, ai), STORE_OK);
	store_end(t);
}

static uint32_t
prune(struct store *s, uint64_t max, uint64_t before, uint32_t batch)
{
	struct store_txn	*t;
	uint32_t		 n = 99;

	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_audit_prune(t, max, before, batch, &n), STORE_OK);
	cr_assert_eq(store_commit(t), STORE_OK);
	return n;
}

/* Retention takes the oldest entries, by count and by age, at most a
 * batch at a time, and the pruned count survives a reopen. */
Test(store, audit_prune_by_count_and_age)
{
	struct store_audit_info	 ai;
	struct store		*s;

	s = unit_store_open(tmpdir, MAP_SIZE);
	audit_info(s, &ai);
	cr_assert_eq(ai.entries, 0);
	cr_assert_eq(ai.first_seq, 0);
	cr_assert_eq(ai.pruned, 0);
	append_n(s, 10);
	cr_assert_eq(prune(s, 20, 0, 100), 0);
	cr_assert_eq(prune(s, 0, 0, 100), 0, "no limits, nothing goes");
	cr_assert_eq(prune(s, 6, 0, 3), 3, "a batch at most");
	cr_assert_eq(prune(s, 6, 0, 100), 1);
	audit_info(s, &ai);
	cr_assert_eq(ai.entries, 6);
	cr_assert_eq(ai.first_seq, 5);
	cr_assert_eq(ai.last_seq, 10);
	cr_assert_eq(ai.pruned, 4);
	/* Older than 1700000008: entries 5, 6 and 7. */
	cr_assert_eq(prune(s, 6, 1700000008ull, 100), 3);
	/* The count and the age are each enough. */
	cr_assert_eq(prune(s, 2, 1700000001ull, 100), 1);
	store_close(s);
	s = unit_store_open(tmpdir, MAP_SIZE);
	audit_info(s, &ai);
	cr_assert_eq(ai.entries, 2);
	cr_assert_eq(ai.first_seq, 9);
	cr_assert_eq(ai.pruned, 8);
	/* Sequence numbers go on after the pruned ones, even when retention
	 * emptied the log. */
	append(s, "key.revoke", 11);
	cr_assert_eq(prune(s, 0, UINT64_MAX, 100), 3);
	audit_info(s, &ai);
	cr_assert_eq(ai.entries, 0);
	cr_assert_eq(ai.pruned, 11);
	append(s, "key.revoke", 12);
	store_close(s);
}

/* Walks resume after the entry they are given, exactly. */
Test(store, walks_resume_after_an_entry)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k;
	struct proto_tenant	 tn;
	struct idlist		 l;
	struct tlist		 tl;
	struct alist		 al;
	char			 id[TOKEN_ID_LEN + 1];
	uint64_t		 i;

	s = unit_store_open(tmpdir, MAP_SIZE);
	for (i = 1; i <= 5; i++) {
		mk_key(&k, i, PROTO_OWNER_USER, 1000, NULL);
		put_key(s, &k);
	}
	mk_key(&k, 6, PROTO_OWNER_USER, 1001, NULL);
	put_key(s, &k);
	mk_tenant(&tn, "acme", 2000);
	put_tenant(s, &tn);
	mk_tenant(&tn, "beta", 3000);
	put_tenant(s, &tn);
	mk_tenant(&tn, "gamma", 4000);
	put_tenant(s, &tn);
	append_n(s, 4);

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	memset(&l, 0, sizeof(l));
	unit_key_id(2, id);
	cr_assert_eq(store_key_foreach_owner_after(t, PROTO_OWNER_USER, 1000,
	    NULL, id, collect_key, &l), STORE_OK);
	cr_assert_eq(l.n, 3);
	unit_key_id(3, id);
	cr_assert_str_eq(l.ids[0], id);
	/* After an id that is not there: the next one that is. */
	memset(&l, 0, sizeof(l));
	unit_key_id(6, id);
	cr_assert_eq(store_key_foreach_owner_after(t, PROTO_OWNER_USER, 1000,
	    NULL, id, collect_key, &l), STORE_OK);
	cr_assert_eq(l.n, 0, "id 6 is uid 1001's");
	memset(&l, 0, sizeof(l));
	cr_assert_eq(store_key_foreach_owner_after(t, PROTO_OWNER_USER, 1000,
	    NULL, "", collect_key, &l), STORE_OK);
	cr_assert_eq(l.n, 5);
	/* A positive stop comes back as it is. */
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	unit_key_id(1, id);
	cr_assert_eq(store_key_foreach_after(t, id, collect_key, &l), 77);
	unit_key_id(2, id);
	cr_assert_str_eq(l.ids[0], id);

	memset(&tl, 0, sizeof(tl));
	cr_assert_eq(store_tenant_foreach_after(t, "acme", collect_tenant,
	    &tl), STORE_OK);
	cr_assert_eq(tl.n, 2);
	cr_assert_str_eq(tl.v[0].name, "beta");
	memset(&tl, 0, sizeof(tl));
	cr_assert_eq(store_tenant_foreach_after(t, "b", collect_tenant, &tl),
	    STORE_OK);
	cr_assert_eq(tl.n, 2);

	memset(&al, 0, sizeof(al));
	cr_assert_eq(store_audit_foreach_from(t, 3, collect_audit, &al),
	    STORE_OK);
	cr_assert_eq(al.n, 2);
	cr_assert_eq(al.seq[0], 3);
	cr_assert_eq(al.seq[1], 4);
	store_end(t);
	store_close(s);
}

/* Map usage grows with records and shrinks, through LMDB's free list,
 * when they are deleted. */
Test(store, map_usage_counts_free_pages)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k;
	uint64_t		 size, empty, full, after, i;

	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_map_usage(s, &size, &empty), STORE_OK);
	cr_assert_eq(size, MAP_SIZE);
	cr_assert_gt(empty, 0);
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	for (i = 1; i <= 2000; i++) {
		mk_key(&k, i, PROTO_OWNER_USER, 1000, NULL);
		cr_assert_eq(store_key_put(t, &k), STORE_OK);
	}
	cr_assert_eq(store_commit(t), STORE_OK);
	cr_assert_eq(store_map_usage(s, &size, &full), STORE_OK);
	cr_assert_gt(full, empty + 2000 * 300, "2000 keys in %llu bytes",
	    (unsigned long long)(full - empty));
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	for (i = 1; i <= 2000; i++) {
		char id[TOKEN_ID_LEN + 1];

		unit_key_id(i, id);
		cr_assert_eq(store_key_del(t, id), STORE_OK);
	}
	cr_assert_eq(store_commit(t), STORE_OK);
	cr_assert_eq(store_map_usage(s, &size, &after), STORE_OK);
	cr_assert_lt(after, full / 4, "used %llu after deleting, %llu full",
	    (unsigned long long)after, (unsigned long long)full);
	store_close(s);
}

/*
 * A tenant record as releases before issue 7 wrote it (version 1, no
 * allow_privileged) reads back as not privileged.
 */
Test(store, version1_tenant_record_is_not_privileged)
{
	struct store		*s;
	struct store_txn	*t;
	struct proto_tenant	 got;
	struct writer		 w;
	uint8_t			 buf[TENANT_REC_MAX];

	s = unit_store_open(tmpdir, MAP_SIZE);
	store_close(s);
	wr_init(&w, buf, sizeof(buf));
	wr_u8(&w, 1);
	wr_str(&w, "acme");
	wr_str(&w, "acme");
	wr_u32(&w, 2000);
	wr_str(&w, "");
	wr_u32(&w, 0);
	wr_u8(&w, 1);
	wr_u32(&w, 0);
	wr_u64(&w, 1700000000ull);
	cr_assert_eq(wr_error(&w), 0);
	raw_put(tmpdir, "tenants", "acme", 4, buf, w.len);
	s = unit_store_open(tmpdir, MAP_SIZE);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_tenant_get(t, "acme", &got), STORE_OK);
	cr_assert_eq(got.gid, 2000);
	cr_assert_eq(got.enabled, 1);
	cr_assert_eq(got.allow_privileged, 0);
	store_end(t);
	store_close(s);
}

/*
 * A key record whose id is not a key id decodes as corrupt: what the
 * encoder refuses, the decoder refuses too, or a record could be read and
 * never written back (found by tests/fuzz/fuzz_record.c; the fuzzer's
 * reproducer is tests/fuzz/regress/record/key-bad-id).
 */
Test(record, key_with_a_bad_id_is_corrupt)
{
	struct store_key k, got;
	uint8_t		*buf = malloc(KEY_REC_MAX), *p;
	size_t		 len;

	cr_assert_not_null(buf);
	mk_key(&k, 8, PROTO_OWNER_USER, 1000, NULL);
	cr_assert_eq(rec_enc_key(&k, buf, KEY_REC_MAX, &len), STORE_OK);
	cr_assert_eq(rec_dec_key(buf, len, &got), STORE_OK);
	p = memmem(buf, len, k.info.id, TOKEN_ID_LEN);
	cr_assert_not_null(p, "the id is not in the record");
	p[0] = '&';
	cr_assert_eq(rec_dec_key(buf, len, &got), STORE_ECORRUPT);
	free(buf);
}

/*
 * rec_dec_key does not zero the struct first (it is about 15 KB, decoded
 * once per verify): every field a reader sees must still be written,
 * whatever the struct held, for a user key and for a tenant key, whose
 * group and gid come from the tenant and read back empty.
 */
Test(record, key_decodes_over_junk)
{
	struct store_key k, want, got;
	uint8_t		*buf = malloc(KEY_REC_MAX);
	size_t		 len;

	cr_assert_not_null(buf);
	mk_key(&k, 9, PROTO_OWNER_USER, 1000, NULL);
	cr_assert_eq(rec_enc_key(&k, buf, KEY_REC_MAX, &len), STORE_OK);
	memset(&got, 0xa5, sizeof(got));
	cr_assert_eq(rec_dec_key(buf, len, &got), STORE_OK);
	assert_key_eq(&got, &k);

	mk_key(&k, 10, PROTO_OWNER_TENANT, 0, "acme");
	cr_assert_eq(rec_enc_key(&k, buf, KEY_REC_MAX, &len), STORE_OK);
	want = k;
	want.info.owner.group[0] = '\0';
	want.info.owner.gid = 0;
	memset(&got, 0x5a, sizeof(got));
	cr_assert_eq(rec_dec_key(buf, len, &got), STORE_OK);
	assert_key_eq(&got, &want);
	free(buf);
}
