/*
 * unit_store_fleet.c - fleet mode's side of the key store
 * (daemon/store_fleet.c): the journal of management transactions and the
 * follow path's apply of the fleet database's changelog.
 *
 * Each test runs in a fresh temporary directory (removed afterwards) and
 * drives the store through store.h and store_fleet.h only. Changelog
 * records are made with the record encoders of store_record.h, which are
 * what store_key_put and store_tenant_put write (and journal): the journal
 * test checks that the bytes are the same.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../daemon/store.h"
#include "../daemon/store_fleet.h"
#include "../daemon/store_record.h"
#include "../proto/token.h"
#include "unitlib.h"

#define MAP_SIZE	(16u * 1024 * 1024)
#define K		STORE_FLEET_KEY
#define T		STORE_FLEET_TENANT
#define NONE		STORE_GID_NONE

static char	tmpdir[64];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/unit_store_fleet.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void
teardown(void)
{
	unit_rmtree(tmpdir);
}

TestSuite(store_fleet, .init = setup, .fini = teardown);

static struct store *
open_store(void)
{
	return unit_store_open(tmpdir, MAP_SIZE);
}

/* Key n of user uid, or (tenant non-NULL) of that tenant, named name. */
static void
mk_key(struct store_key *k, uint64_t n, const char *name, uint32_t uid,
    const char *tenant)
{
	struct proto_key	*i = &k->info;

	memset(k, 0, sizeof(*k));
	memset(k->hash, (int)n, sizeof(k->hash));
	unit_key_id(n, i->id);
	snprintf(i->prefix, sizeof(i->prefix), "ak");
	snprintf(i->name, sizeof(i->name), "%s", name);
	if (tenant != NULL) {
		i->owner.kind = PROTO_OWNER_TENANT;
		snprintf(i->owner.tenant, sizeof(i->owner.tenant), "%s",
		    tenant);
	} else {
		i->owner.kind = PROTO_OWNER_USER;
		i->owner.uid = uid;
		snprintf(i->owner.user, sizeof(i->owner.user), "user%u", uid);
		snprintf(i->owner.group, sizeof(i->owner.group), "grp%u", uid);
		i->owner.gid = uid;
	}
	i->enabled = 1;
	i->created_at = 1700000000ull + n;
}

/* admin NULL: no admin group. gid 77 is another host's gid for the
 * group: the follow path must never keep it. */
static void
mk_tenant(struct proto_tenant *tn, const char *name, const char *group,
    const char *admin)
{
	memset(tn, 0, sizeof(*tn));
	snprintf(tn->name, sizeof(tn->name), "%s", name);
	snprintf(tn->group, sizeof(tn->group), "%s", group);
	tn->gid = 77;
	snprintf(tn->admin_group, sizeof(tn->admin_group), "%s",
	    admin != NULL ? admin : "");
	tn->admin_gid = admin != NULL ? 78 : 0;
	tn->enabled = 1;
	tn->created_at = 1700000000ull;
}

/* A changelog record, as the database holds it. */
struct rec {
	uint8_t	b[KEY_REC_MAX];
	size_t	len;
};

static void
enc_key(const struct store_key *k, struct rec *r)
{
	cr_assert_eq(rec_enc_key(k, r->b, sizeof(r->b), &r->len), STORE_OK);
}

static void
enc_tenant(const struct proto_tenant *tn, struct rec *r)
{
	cr_assert_eq(rec_enc_tenant(tn, r->b, sizeof(r->b), &r->len),
	    STORE_OK);
}

/*
 * This host's groups for the gid callback: a listed group answers its
 * rc (and its gid when rc is 0); an unlisted one is unknown (1). It never
 * writes *gid unless it answers 0, as the daemon's does not.
 */
struct grp {
	const char	*name;
	int		 rc;
	uint32_t	 gid;
};

struct groups {
	const struct grp *v;
	size_t		 n;
	unsigned	 calls;
};

static int
gid_cb(const char *group, uint32_t *gid, void *arg)
{
	struct groups	*g = arg;
	size_t		 i;

	g->calls++;
	for (i = 0; i < g->n; i++) {
		if (strcmp(g->v[i].name, group) != 0)
			continue;
		if (g->v[i].rc == 0)
			*gid = g->v[i].gid;
		return g->v[i].rc;
	}
	return 1;
}

static struct groups	no_groups = { NULL, 0, 0 };

/*
 * Applies one changelog row in a follow-path transaction of its own and
 * commits it, as the follow path does even after a record that does not
 * decode (the store's copy is deleted then). rec NULL: a tombstone.
 */
static int
apply(struct store *s, char kind, const char *id, const struct rec *r,
    uint64_t seq, struct groups *g)
{
	struct store_txn	*t;
	int			 rv;

	cr_assert_eq(store_fleet_begin(s, &t), STORE_OK);
	rv = store_fleet_apply(t, kind, id, r != NULL ? r->b : NULL,
	    r != NULL ? r->len : 0, seq, gid_cb, g);
	if (rv == STORE_OK || rv == STORE_ECORRUPT)
		cr_assert_eq(store_commit(t), STORE_OK);
	else
		store_end(t);
	return rv;
}

/* Takes a journaled txn's changes, gives them the versions first,
 * first + 1, ... as the database would, and commits. */
static void
commit_versions(struct store_txn *t, uint64_t first)
{
	struct store_change	*v;
	size_t			 n, i;

	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_OK);
	for (i = 0; i < n; i++)
		v[i].new_version = first + i;
	cr_assert_eq(store_fleet_versions(t, v, n), STORE_OK);
	store_changes_free(v, n);
	cr_assert_eq(store_commit(t), STORE_OK);
}

/* Key id's name as the store holds it, or its error. */
static int
key_name(struct store *s, const char *id, char name[PROTO_NAME_MAX + 1])
{
	static struct store_key	 k;
	struct store_txn	*t;
	int			 rv;

	name[0] = '\0';
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	if ((rv = store_key_get(t, id, &k)) == STORE_OK)
		snprintf(name, PROTO_NAME_MAX + 1, "%s", k.info.name);
	store_end(t);
	return rv;
}

/* Asserts that the store holds key id, named want. */
static void
assert_named(struct store *s, const char *id, const char *want)
{
	char	name[PROTO_NAME_MAX + 1];

	cr_assert_eq(key_name(s, id, name), STORE_OK);
	cr_assert_str_eq(name, want);
}

static int
tenant_get(struct store *s, const char *name, struct proto_tenant *out)
{
	struct store_txn	*t;
	int			 rv;

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	rv = store_tenant_get(t, name, out);
	store_end(t);
	return rv;
}

struct text {
	char	s[1024];
	size_t	n;
	int	stop;	/* non-zero: returned by the first call */
};

static int
add_line(const char *line, size_t len, void *arg)
{
	struct text	*x = arg;

	cr_assert_lt(x->n + len, sizeof(x->s));
	memcpy(x->s + x->n, line, len);
	x->n += len;
	x->s[x->n] = '\0';
	return x->stop;
}

/* The digest lines up to upto, in a read txn; returns the call's rv. */
static int
lines(struct store *s, uint64_t upto, struct text *x)
{
	struct store_txn	*t;
	int			 rv;

	memset(x, 0, sizeof(*x));
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	rv = store_fleet_lines(t, upto, add_line, x);
	store_end(t);
	return rv;
}

/* Asserts that the digest lines up to upto are want. */
static void
assert_lines(struct store *s, uint64_t upto, const char *want)
{
	struct text	x;

	cr_assert_eq(lines(s, upto, &x), STORE_OK);
	cr_assert_str_eq(x.s, want);
}

Test(store_fleet, journal_off_records_nothing)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_change	*v = (struct store_change *)0x1;
	struct store_key	 k;
	struct proto_tenant	 tn;
	char			 name[PROTO_NAME_MAX + 1];
	size_t			 n = 99;

	/* The journal is off by default: a single host's store. */
	s = open_store();
	mk_key(&k, 1, "one", 1000, NULL);
	mk_tenant(&tn, "acme", "g-acme", NULL);
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	cr_assert_eq(store_tenant_put(t, &tn), STORE_OK);
	cr_assert_eq(store_commit(t), STORE_OK);

	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	mk_key(&k, 2, "two", 1000, NULL);
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	unit_key_id(1, k.info.id);
	cr_assert_eq(store_key_del(t, k.info.id), STORE_OK);
	cr_assert_eq(store_tenant_del(t, "acme"), STORE_OK);
	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_OK);
	cr_assert_null(v);
	cr_assert_eq(n, 0);
	/* Nothing recorded, nothing to refuse: commits as before. */
	cr_assert_eq(store_commit(t), STORE_OK);

	unit_key_id(1, k.info.id);
	cr_assert_eq(key_name(s, k.info.id, name), STORE_ENOTFOUND);
	unit_key_id(2, k.info.id);
	assert_named(s, k.info.id, "two");
	cr_assert_eq(tenant_get(s, "acme", &tn), STORE_ENOTFOUND);
	/* No versions were written either. */
	assert_lines(s, UINT64_MAX, "");

	/* A read txn has no changes to hand over. */
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_EIO);
	cr_assert_null(v);
	cr_assert_eq(n, 0);
	store_end(t);
	store_close(s);
}

Test(store_fleet, journal_records_changes_and_versions)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_change	*v;
	struct store_key	 k0, k1;
	struct proto_tenant	 tn;
	struct rec		 r;
	char			 want[256];
	size_t			 n;

	s = open_store();
	store_fleet_journal(s, 1);
	mk_key(&k0, 1, "zero", 1000, NULL);
	mk_key(&k1, 2, "one", 1000, NULL);
	mk_tenant(&tn, "acme", "g-acme", "a-acme");

	/* K0 reaches the database as version 3. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_put(t, &k0), STORE_OK);
	commit_versions(t, 3);

	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_put(t, &k1), STORE_OK);
	cr_assert_eq(store_tenant_put(t, &tn), STORE_OK);
	cr_assert_eq(store_key_del(t, k0.info.id), STORE_OK);
	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_OK);
	cr_assert_eq(n, 3);

	/* In the order made, each with the bytes the store wrote. */
	cr_assert_eq(v[0].kind, K);
	cr_assert_str_eq(v[0].id, k1.info.id);
	cr_assert_str_eq(v[0].group, "");
	enc_key(&k1, &r);
	cr_assert_not_null(v[0].rec);
	cr_assert_eq(v[0].len, r.len);
	cr_assert_arr_eq(v[0].rec, r.b, r.len);
	cr_assert_eq(v[0].version, 0, "a new record replaces none");

	cr_assert_eq(v[1].kind, T);
	cr_assert_str_eq(v[1].id, "acme");
	cr_assert_str_eq(v[1].group, "g-acme");
	enc_tenant(&tn, &r);
	cr_assert_not_null(v[1].rec);
	cr_assert_eq(v[1].len, r.len);
	cr_assert_arr_eq(v[1].rec, r.b, r.len);
	cr_assert_eq(v[1].version, 0);

	/* A deletion carries no record, and the version it deletes. */
	cr_assert_eq(v[2].kind, K);
	cr_assert_str_eq(v[2].id, k0.info.id);
	cr_assert_null(v[2].rec);
	cr_assert_eq(v[2].len, 0);
	cr_assert_eq(v[2].version, 3);

	/* Handed over once: a second call finds none. */
	{
		struct store_change	*v2;
		size_t			 n2;

		cr_assert_eq(store_fleet_changes(t, &v2, &n2), STORE_OK);
		cr_assert_null(v2);
		cr_assert_eq(n2, 0);
	}
	v[0].new_version = 4;
	v[1].new_version = 5;
	v[2].new_version = 6;
	cr_assert_eq(store_fleet_versions(t, v, n), STORE_OK);
	store_changes_free(v, n);
	cr_assert_eq(store_commit(t), STORE_OK);

	/* The versions are stored; K0's deletion leaves no line. */
	snprintf(want, sizeof(want), "k%s:4\nt%s:5\n", k1.info.id, "acme");
	assert_lines(s, 6, want);

	/* The next change of each record replaces the version stored. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	snprintf(k1.info.name, sizeof(k1.info.name), "renamed");
	cr_assert_eq(store_key_put(t, &k1), STORE_OK);
	tn.enabled = 0;
	cr_assert_eq(store_tenant_put(t, &tn), STORE_OK);
	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_OK);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0].id, k1.info.id);
	cr_assert_eq(v[0].version, 4);
	cr_assert_str_eq(v[1].id, "acme");
	cr_assert_eq(v[1].version, 5);
	store_changes_free(v, n);
	store_end(t);
	store_close(s);
}

Test(store_fleet, commit_refuses_untaken_changes)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_change	*v;
	struct store_key	 k;
	char			 name[PROTO_NAME_MAX + 1];
	size_t			 n;

	s = open_store();
	store_fleet_journal(s, 1);
	mk_key(&k, 1, "one", 1000, NULL);

	/* Nobody sent the change to the database: nothing reaches LMDB. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	cr_assert_eq(store_commit(t), STORE_EIO);
	cr_assert_eq(key_name(s, k.info.id, name), STORE_ENOTFOUND);

	/* The refusal ended the txn: the thread can write again. A change
	 * made after the hand-over is untaken again. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_OK);
	cr_assert_eq(n, 1);
	store_changes_free(v, n);
	mk_key(&k, 2, "two", 1000, NULL);
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	cr_assert_eq(store_commit(t), STORE_EIO);
	cr_assert_eq(key_name(s, k.info.id, name), STORE_ENOTFOUND);
	unit_key_id(1, k.info.id);
	cr_assert_eq(key_name(s, k.info.id, name), STORE_ENOTFOUND);

	/* Taken (even without versions), the txn commits. */
	mk_key(&k, 1, "one", 1000, NULL);
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_OK);
	store_changes_free(v, n);
	cr_assert_eq(store_commit(t), STORE_OK);
	cr_assert_eq(key_name(s, k.info.id, name), STORE_OK);
	store_close(s);
}

Test(store_fleet, same_record_twice_is_one_change)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_change	*v;
	struct store_key	 k;
	struct proto_tenant	 tn;
	struct rec		 r;
	char			 name[PROTO_NAME_MAX + 1];
	size_t			 n;

	s = open_store();
	store_fleet_journal(s, 1);
	mk_key(&k, 1, "first", 1000, NULL);
	mk_tenant(&tn, "acme", "g-acme", NULL);

	/* Made and deleted in one txn: the database never hears of it. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	cr_assert_eq(store_tenant_put(t, &tn), STORE_OK);
	cr_assert_eq(store_key_del(t, k.info.id), STORE_OK);
	cr_assert_eq(store_tenant_del(t, "acme"), STORE_OK);
	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_OK);
	cr_assert_eq(n, 0);
	/* None means *out NULL: admin.c's fleet_first returns on n == 0
	 * without store_changes_free, so the array journal_grow made for
	 * the changes that cancelled out must not be handed over. */
	cr_assert_null(v);
	cr_assert_eq(store_commit(t), STORE_OK);
	cr_assert_eq(key_name(s, k.info.id, name), STORE_ENOTFOUND);

	/* Put twice: one change, with the last record. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	snprintf(k.info.name, sizeof(k.info.name), "second");
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_OK);
	cr_assert_eq(n, 1);
	enc_key(&k, &r);
	cr_assert_eq(v[0].len, r.len);
	cr_assert_arr_eq(v[0].rec, r.b, r.len);
	cr_assert_eq(v[0].version, 0);
	v[0].new_version = 7;
	cr_assert_eq(store_fleet_versions(t, v, n), STORE_OK);
	store_changes_free(v, n);
	cr_assert_eq(store_commit(t), STORE_OK);

	/* A record the database holds (version 7), changed then deleted:
	 * the deletion of version 7 is what the database must get. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	snprintf(k.info.name, sizeof(k.info.name), "third");
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	cr_assert_eq(store_key_del(t, k.info.id), STORE_OK);
	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_null(v[0].rec);
	cr_assert_eq(v[0].len, 0);
	cr_assert_eq(v[0].version, 7);
	store_changes_free(v, n);
	store_end(t);

	/* Deleted then made again: one put, against version 7. */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_del(t, k.info.id), STORE_OK);
	snprintf(k.info.name, sizeof(k.info.name), "fourth");
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_OK);
	cr_assert_eq(n, 1);
	enc_key(&k, &r);
	cr_assert_not_null(v[0].rec);
	cr_assert_arr_eq(v[0].rec, r.b, r.len);
	cr_assert_eq(v[0].version, 7);
	store_changes_free(v, n);
	store_end(t);
	store_close(s);
}

Test(store_fleet, apply_orders_by_seq)
{
	struct store		*s;
	struct store_key	 k;
	struct rec		 r;
	char			 id[TOKEN_ID_LEN + 1], name[PROTO_NAME_MAX + 1];
	char			 want[64];

	s = open_store();
	unit_key_id(1, id);
	mk_key(&k, 1, "v5", 1000, NULL);
	enc_key(&k, &r);
	cr_assert_eq(apply(s, K, id, &r, 5, &no_groups), STORE_OK);
	assert_named(s, id, "v5");

	/* Older than what the store holds: skipped. */
	mk_key(&k, 1, "v3", 1000, NULL);
	enc_key(&k, &r);
	cr_assert_eq(apply(s, K, id, &r, 3, &no_groups), STORE_OK);
	assert_named(s, id, "v5");

	mk_key(&k, 1, "v7", 1000, NULL);
	enc_key(&k, &r);
	cr_assert_eq(apply(s, K, id, &r, 7, &no_groups), STORE_OK);
	assert_named(s, id, "v7");
	/* The same change again is harmless... */
	cr_assert_eq(apply(s, K, id, &r, 7, &no_groups), STORE_OK);
	assert_named(s, id, "v7");
	/* ...because a row at the version held is skipped, not re-applied:
	 * different bytes at seq 7 (which the database never makes) show it. */
	mk_key(&k, 1, "other", 1000, NULL);
	enc_key(&k, &r);
	cr_assert_eq(apply(s, K, id, &r, 7, &no_groups), STORE_OK);
	assert_named(s, id, "v7");
	snprintf(want, sizeof(want), "k%s:7\n", id);
	assert_lines(s, 7, want);

	/* A tombstone deletes it and its version; twice is harmless. */
	cr_assert_eq(apply(s, K, id, NULL, 9, &no_groups), STORE_OK);
	cr_assert_eq(key_name(s, id, name), STORE_ENOTFOUND);
	cr_assert_eq(apply(s, K, id, NULL, 9, &no_groups), STORE_OK);
	cr_assert_eq(key_name(s, id, name), STORE_ENOTFOUND);
	assert_lines(s, UINT64_MAX, "");
	/* A tombstone of a record never held is nothing to do. */
	unit_key_id(2, id);
	cr_assert_eq(apply(s, K, id, NULL, 10, &no_groups), STORE_OK);
	assert_lines(s, UINT64_MAX, "");
	store_close(s);
}

Test(store_fleet, own_deletion_marker_blocks_older_puts)
{
	struct store		*s;
	struct store_txn	*t;
	struct store_change	*v;
	struct store_key	 k;
	struct rec		 r;
	struct text		 x;
	char			 name[PROTO_NAME_MAX + 1], want[64];
	size_t			 n;

	s = open_store();
	store_fleet_journal(s, 1);
	mk_key(&k, 1, "kept", 1000, NULL);
	enc_key(&k, &r);

	/* This host makes K (the database's seq 10), then deletes it (12). */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	commit_versions(t, 10);
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_del(t, k.info.id), STORE_OK);
	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].version, 10);
	v[0].new_version = 12;
	cr_assert_eq(store_fleet_versions(t, v, n), STORE_OK);
	store_changes_free(v, n);
	cr_assert_eq(store_commit(t), STORE_OK);

	/* The marker has no digest line, but counts as newer than 11: the
	 * follow path has not reached this host's own deletion yet. */
	assert_lines(s, 12, "");
	cr_assert_eq(lines(s, 11, &x), 1);

	/* Made again here, it is new to the database (its row is gone). */
	cr_assert_eq(store_write_begin(s, &t), STORE_OK);
	cr_assert_eq(store_key_put(t, &k), STORE_OK);
	cr_assert_eq(store_fleet_changes(t, &v, &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].version, 0);
	store_changes_free(v, n);
	store_end(t);

	/* The follow path brings back this host's own put (seq 10): the
	 * revoked key must not come back. Its txns record nothing, so they
	 * commit with the journal on (apply asserts the commit). */
	cr_assert_eq(apply(s, K, k.info.id, &r, 10, &no_groups), STORE_OK);
	cr_assert_eq(key_name(s, k.info.id, name), STORE_ENOTFOUND);
	cr_assert_eq(apply(s, K, k.info.id, &r, 11, &no_groups), STORE_OK);
	cr_assert_eq(key_name(s, k.info.id, name), STORE_ENOTFOUND);
	cr_assert_eq(lines(s, 11, &x), 1, "the marker is still there");

	/* The deletion itself (exactly seq 12) removes the marker. */
	cr_assert_eq(apply(s, K, k.info.id, NULL, 12, &no_groups), STORE_OK);
	cr_assert_eq(key_name(s, k.info.id, name), STORE_ENOTFOUND);
	assert_lines(s, 11, "");
	cr_assert_eq(lines(s, 0, &x), STORE_OK, "no version is left");

	/*
	 * With the marker gone the store holds no version, so any put
	 * applies, even one older than the deletion (seq 11): that is the
	 * code's behaviour. The follow path never meets it: it applies only
	 * seqs past the last it applied (12 by now).
	 */
	cr_assert_eq(apply(s, K, k.info.id, &r, 11, &no_groups), STORE_OK);
	assert_named(s, k.info.id, "kept");
	snprintf(want, sizeof(want), "k%s:11\n", k.info.id);
	assert_lines(s, 11, want);
	store_close(s);
}

Test(store_fleet, tenant_gids_resolved_on_this_host)
{
	static const struct grp	up[] = {
		{ "g-alpha", 0, 1001 }, { "a-alpha", 0, 2001 },
		{ "g-down", -1, 0 }, { "a-down", -1, 0 },
		{ "g-delta", 0, 4001 },
	};
	static const struct grp	nss_down[] = {
		{ "g-alpha", -1, 0 }, { "a-alpha", -1, 0 },
	};
	struct groups		 g = { up, sizeof(up) / sizeof(up[0]), 0 };
	struct groups		 gd = { nss_down, 2, 0 };
	struct store		*s;
	struct proto_tenant	 tn, got;
	struct rec		 r;

	s = open_store();

	/* Found: this host's gids, not the record's (77, 78). */
	mk_tenant(&tn, "alpha", "g-alpha", "a-alpha");
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "alpha", &r, 1, &g), STORE_OK);
	cr_assert_eq(tenant_get(s, "alpha", &got), STORE_OK);
	cr_assert_eq(got.gid, 1001);
	cr_assert_eq(got.admin_gid, 2001);
	cr_assert_str_eq(got.group, "g-alpha");

	/* A group this host lacks (1): no one is in STORE_GID_NONE. */
	mk_tenant(&tn, "beta", "g-missing", "a-missing");
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "beta", &r, 2, &g), STORE_OK);
	cr_assert_eq(tenant_get(s, "beta", &got), STORE_OK);
	cr_assert_eq(got.gid, NONE);
	cr_assert_eq(got.admin_gid, NONE);

	/* A lookup failure (-1) for a new tenant: nothing to keep. */
	mk_tenant(&tn, "gamma", "g-down", "a-down");
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "gamma", &r, 3, &g), STORE_OK);
	cr_assert_eq(tenant_get(s, "gamma", &got), STORE_OK);
	cr_assert_eq(got.gid, NONE);
	cr_assert_eq(got.admin_gid, NONE);

	/* No admin group: admin_gid 0, and no lookup for it. */
	mk_tenant(&tn, "delta", "g-delta", NULL);
	tn.admin_gid = 78;
	enc_tenant(&tn, &r);
	g.calls = 0;
	cr_assert_eq(apply(s, T, "delta", &r, 4, &g), STORE_OK);
	cr_assert_eq(g.calls, 1);
	cr_assert_eq(tenant_get(s, "delta", &got), STORE_OK);
	cr_assert_eq(got.gid, 4001);
	cr_assert_eq(got.admin_gid, 0);

	/* NSS down for a tenant held: a directory outage keeps its gids
	 * (the change itself still applies: enabled is 0 now). */
	mk_tenant(&tn, "alpha", "g-alpha", "a-alpha");
	tn.enabled = 0;
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "alpha", &r, 5, &gd), STORE_OK);
	cr_assert_eq(tenant_get(s, "alpha", &got), STORE_OK);
	cr_assert_eq(got.enabled, 0);
	cr_assert_eq(got.gid, 1001);
	cr_assert_eq(got.admin_gid, 2001);

	/* NSS down while the tenant moves to other groups: the old groups'
	 * gids must not stay with it (their members would keep access). */
	mk_tenant(&tn, "delta", "g-alpha", "a-alpha");
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "delta", &r, 6, &gd), STORE_OK);
	cr_assert_eq(tenant_get(s, "delta", &got), STORE_OK);
	cr_assert_str_eq(got.group, "g-alpha");
	cr_assert_eq(got.gid, NONE);
	cr_assert_eq(got.admin_gid, NONE);

	/* The groups gone from this host (1): NONE, even for one held. */
	mk_tenant(&tn, "alpha", "g-alpha", "a-alpha");
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "alpha", &r, 6, &no_groups), STORE_OK);
	cr_assert_eq(tenant_get(s, "alpha", &got), STORE_OK);
	cr_assert_eq(got.enabled, 1);
	cr_assert_eq(got.gid, NONE);
	cr_assert_eq(got.admin_gid, NONE);

	/* A record of another tenant under this name does not decode as
	 * this one: ECORRUPT, and the copy held is dropped (fail closed). */
	mk_tenant(&tn, "other", "g-alpha", NULL);
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "alpha", &r, 7, &g), STORE_ECORRUPT);
	cr_assert_eq(tenant_get(s, "alpha", &got), STORE_ENOTFOUND);
	cr_assert_eq(tenant_get(s, "other", &got), STORE_ENOTFOUND);
	store_close(s);
}

static uint64_t
unreadable(struct store *s)
{
	struct store_txn	*t;
	uint64_t		 n;

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_fleet_unreadable(t, &n), STORE_OK);
	store_end(t);
	return n;
}

Test(store_fleet, undecodable_record_fails_closed)
{
	static const uint8_t	 junk[] = { 0xff, 0x00, 0x13, 0x37 };
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k;
	struct rec		 r, bad;
	char			 id[TOKEN_ID_LEN + 1], name[PROTO_NAME_MAX + 1];
	char			 want[64];

	s = open_store();
	unit_key_id(1, id);
	mk_key(&k, 1, "held", 1000, NULL);
	enc_key(&k, &r);
	cr_assert_eq(apply(s, K, id, &r, 2, &no_groups), STORE_OK);

	/* Older than the copy held: skipped before it is even decoded. */
	memcpy(bad.b, junk, sizeof(junk));
	bad.len = sizeof(junk);
	cr_assert_eq(apply(s, K, id, &bad, 1, &no_groups), STORE_OK);
	cr_assert_eq(key_name(s, id, name), STORE_OK);

	/* Newer and unreadable: the held key must not go on working. Its
	 * version stays, so the digest still agrees with the database's,
	 * and it is counted for a snapshot after the next start. */
	cr_assert_eq(apply(s, K, id, &bad, 3, &no_groups), STORE_ECORRUPT);
	cr_assert_eq(key_name(s, id, name), STORE_ENOTFOUND);
	snprintf(want, sizeof(want), "k%s:3\n", id);
	assert_lines(s, 3, want);
	cr_assert_eq(unreadable(s), 1);
	/* Applying it again changes nothing: the version is held. */
	cr_assert_eq(apply(s, K, id, &bad, 3, &no_groups), STORE_OK);
	cr_assert_eq(unreadable(s), 1);

	/* A truncated record, and one of another key under this id. */
	cr_assert_eq(apply(s, K, id, &r, 4, &no_groups), STORE_OK);
	bad = r;
	bad.len--;
	cr_assert_eq(apply(s, K, id, &bad, 5, &no_groups), STORE_ECORRUPT);
	cr_assert_eq(key_name(s, id, name), STORE_ENOTFOUND);
	cr_assert_eq(apply(s, K, id, &r, 6, &no_groups), STORE_OK);
	mk_key(&k, 2, "intruder", 1000, NULL);
	enc_key(&k, &bad);
	cr_assert_eq(apply(s, K, id, &bad, 7, &no_groups), STORE_ECORRUPT);
	cr_assert_eq(key_name(s, id, name), STORE_ENOTFOUND);
	cr_assert_eq(key_name(s, k.info.id, name), STORE_ENOTFOUND);

	/* A later good record applies again. */
	cr_assert_eq(apply(s, K, id, &r, 8, &no_groups), STORE_OK);
	assert_named(s, id, "held");
	snprintf(want, sizeof(want), "k%s:8\n", id);
	assert_lines(s, 8, want);
	cr_assert_eq(unreadable(s), 3);
	/* A snapshot starts the count again. */
	cr_assert_eq(store_fleet_begin(s, &t), STORE_OK);
	cr_assert_eq(store_fleet_wipe(t), STORE_OK);
	cr_assert_eq(store_commit(t), STORE_OK);
	cr_assert_eq(unreadable(s), 0);
	store_close(s);
}

static int
count_key(const struct store_key *k, void *arg)
{
	(void)k;
	(*(unsigned *)arg)++;
	return 0;
}

Test(store_fleet, wipe_and_sweep_usage)
{
	static const struct grp	 gr[] = { { "g-acme", 0, 500 } };
	struct groups		 g = { gr, 1, 0 };
	struct store		*s;
	struct store_txn	*t;
	struct store_key	 k;
	struct store_usage	 u;
	struct proto_tenant	 tn;
	struct rec		 r, r1;
	struct text		 x;
	char			 id[5][TOKEN_ID_LEN + 1], want[64];
	uint64_t		 nk, nt;
	uint32_t		 cnt;
	unsigned		 seen;
	int			 i;

	s = open_store();
	mk_tenant(&tn, "acme", "g-acme", NULL);
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "acme", &r, 1, &g), STORE_OK);
	/* Keys 1 and 2 of uid 1000, 3 and 4 of acme; each with usage. */
	for (i = 1; i <= 4; i++) {
		mk_key(&k, (uint64_t)i, "k", 1000, i <= 2 ? NULL : "acme");
		memcpy(id[i], k.info.id, sizeof(id[i]));
		enc_key(&k, i == 1 ? &r1 : &r);
		cr_assert_eq(apply(s, K, id[i], i == 1 ? &r1 : &r,
		    (uint64_t)(1 + i), &g), STORE_OK);
		unit_usage_put(s, id[i], 100 + (uint64_t)i, 0, 1);
	}

	cr_assert_eq(store_fleet_begin(s, &t), STORE_OK);
	cr_assert_eq(store_fleet_wipe(t), STORE_OK);
	cr_assert_eq(store_stat(t, &nk, &nt), STORE_OK);
	cr_assert_eq(nk, 0);
	cr_assert_eq(nt, 0);
	/* The owner index is emptied with the keys. */
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_USER, 1000, NULL,
	    &cnt), STORE_OK);
	cr_assert_eq(cnt, 0);
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_TENANT, 0, "acme",
	    &cnt), STORE_OK);
	cr_assert_eq(cnt, 0);
	seen = 0;
	cr_assert_eq(store_key_foreach_owner(t, PROTO_OWNER_USER, 1000, NULL,
	    count_key, &seen), STORE_OK);
	cr_assert_eq(seen, 0);
	/* And the versions: the snapshot's rows (at older seqs than the
	 * copies wiped had) all apply. */
	memset(&x, 0, sizeof(x));
	cr_assert_eq(store_fleet_lines(t, UINT64_MAX, add_line, &x),
	    STORE_OK);
	cr_assert_str_eq(x.s, "");
	cr_assert_eq(store_fleet_apply(t, K, id[1], r1.b, r1.len, 1, gid_cb,
	    &g), STORE_OK);
	/* Usage is the sweep's: still there until it runs. */
	cr_assert_eq(store_usage_get(t, id[3], &u), STORE_OK);
	cr_assert_eq(store_fleet_sweep_usage(t), STORE_OK);
	cr_assert_eq(store_commit(t), STORE_OK);

	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	/* The key applied again keeps its credits... */
	cr_assert_eq(store_usage_get(t, id[1], &u), STORE_OK);
	cr_assert_eq(u.remaining, 101);
	/* ...the others' usage goes (three in a row: the cursor walk must
	 * not skip one after a delete). */
	for (i = 2; i <= 4; i++)
		cr_assert_eq(store_usage_get(t, id[i], &u), STORE_ENOTFOUND,
		    "usage of key %d survived the sweep", i);
	cr_assert_eq(store_key_count_owner(t, PROTO_OWNER_USER, 1000, NULL,
	    &cnt), STORE_OK);
	cr_assert_eq(cnt, 1);
	cr_assert_eq(store_tenant_get(t, "acme", &tn), STORE_ENOTFOUND);
	store_end(t);
	snprintf(want, sizeof(want), "k%s:1\n", id[1]);
	assert_lines(s, 1, want);
	store_close(s);
}

Test(store_fleet, seq_is_kept_with_the_commit)
{
	struct store		*s;
	struct store_txn	*t;
	uint64_t		 seq = 99;
	int			 loaded = 99;

	s = open_store();
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_fleet_seq(t, &seq, &loaded), STORE_OK);
	cr_assert_eq(seq, 0);
	cr_assert_eq(loaded, 0, "a new store never loaded a snapshot");
	cr_assert_eq(store_fleet_set_seq(t, 1), STORE_EIO, "read txn");
	store_end(t);

	cr_assert_eq(store_fleet_begin(s, &t), STORE_OK);
	cr_assert_eq(store_fleet_set_seq(t, 42), STORE_OK);
	cr_assert_eq(store_commit(t), STORE_OK);
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_fleet_seq(t, &seq, &loaded), STORE_OK);
	cr_assert_eq(seq, 42);
	cr_assert_eq(loaded, 1);
	store_end(t);

	/* A txn that never commits (a crash) leaves the seq it found. */
	cr_assert_eq(store_fleet_begin(s, &t), STORE_OK);
	cr_assert_eq(store_fleet_set_seq(t, 50), STORE_OK);
	store_end(t);
	store_close(s);

	s = open_store();
	cr_assert_eq(store_read_begin(s, &t), STORE_OK);
	cr_assert_eq(store_fleet_seq(t, &seq, &loaded), STORE_OK);
	cr_assert_eq(seq, 42);
	cr_assert_eq(loaded, 1);
	store_end(t);
	store_close(s);
}

Test(store_fleet, digest_lines)
{
	static const struct grp	 gr[] = { { "g-acme", 0, 500 } };
	struct groups		 g = { gr, 1, 0 };
	struct store		*s;
	struct store_key	 k;
	struct proto_tenant	 tn;
	struct rec		 r;
	struct text		 x;
	char			 a[TOKEN_ID_LEN + 1], b[TOKEN_ID_LEN + 1];
	char			 want[128];

	s = open_store();
	/* Applied out of id order, at seqs out of order too. */
	mk_tenant(&tn, "acme", "g-acme", NULL);
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "acme", &r, 4, &g), STORE_OK);
	mk_key(&k, 9, "b", 1000, NULL);
	memcpy(b, k.info.id, sizeof(b));
	enc_key(&k, &r);
	cr_assert_eq(apply(s, K, b, &r, 3, &g), STORE_OK);
	mk_key(&k, 2, "a", 1000, NULL);
	memcpy(a, k.info.id, sizeof(a));
	enc_key(&k, &r);
	cr_assert_eq(apply(s, K, a, &r, 5, &g), STORE_OK);
	cr_assert_lt(strcmp(a, b), 0);

	/* Keys in id order, then tenants: byte order of 'k'/'t' + id, as
	 * apikeyd.digest() orders them. */
	snprintf(want, sizeof(want), "k%s:5\nk%s:3\ntacme:4\n", a, b);
	assert_lines(s, 5, want);
	assert_lines(s, UINT64_MAX, want);

	/* A record newer than upto: not the lines of any snapshot. */
	cr_assert_eq(lines(s, 4, &x), 1);
	cr_assert_eq(lines(s, 0, &x), 1);

	/* The callback's non-zero return stops the walk and is returned. */
	{
		struct store_txn	*t;

		memset(&x, 0, sizeof(x));
		x.stop = 7;
		cr_assert_eq(store_read_begin(s, &t), STORE_OK);
		cr_assert_eq(store_fleet_lines(t, 5, add_line, &x), 7);
		store_end(t);
		snprintf(want, sizeof(want), "k%s:5\n", a);
		cr_assert_str_eq(x.s, want);
	}
	store_close(s);
}

Test(store_fleet, regroup_counts_tenants_whose_gids_changed)
{
	static const struct grp	 before[] = {
		{ "g-a", 0, 100 }, { "g-b", 0, 200 },
		{ "g-d", 0, 400 }, { "adm-d", 0, 401 },
	};
	static const struct grp	 after[] = {
		{ "g-a", 0, 101 },			/* moved */
		{ "g-b", 0, 200 },			/* same */
		{ "g-c", 0, 300 },			/* made since */
		{ "g-d", -1, 0 }, { "adm-d", 0, 402 },	/* admin moved */
	};
	struct groups		 g1 = { before, 4, 0 };
	struct groups		 g2 = { after, 5, 0 };
	struct store		*s;
	struct store_txn	*t;
	struct proto_tenant	 tn;
	struct rec		 r;
	struct text		 x1, x2;
	unsigned		 changed = 99;

	s = open_store();
	mk_tenant(&tn, "a", "g-a", NULL);
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "a", &r, 1, &g1), STORE_OK);
	mk_tenant(&tn, "b", "g-b", NULL);
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "b", &r, 2, &g1), STORE_OK);
	mk_tenant(&tn, "c", "g-c", NULL);
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "c", &r, 3, &g1), STORE_OK);
	mk_tenant(&tn, "d", "g-d", "adm-d");
	enc_tenant(&tn, &r);
	cr_assert_eq(apply(s, T, "d", &r, 4, &g1), STORE_OK);
	cr_assert_eq(tenant_get(s, "c", &tn), STORE_OK);
	cr_assert_eq(tn.gid, NONE);
	cr_assert_eq(lines(s, 4, &x1), STORE_OK);

	cr_assert_eq(store_fleet_begin(s, &t), STORE_OK);
	cr_assert_eq(store_fleet_regroup(t, gid_cb, &g2, &changed), STORE_OK);
	cr_assert_eq(changed, 3, "a, c and d changed; b did not");
	cr_assert_eq(store_commit(t), STORE_OK);

	cr_assert_eq(tenant_get(s, "a", &tn), STORE_OK);
	cr_assert_eq(tn.gid, 101);
	cr_assert_eq(tenant_get(s, "b", &tn), STORE_OK);
	cr_assert_eq(tn.gid, 200);
	cr_assert_eq(tenant_get(s, "c", &tn), STORE_OK);
	cr_assert_eq(tn.gid, 300);
	/* NSS failed for g-d: its gid is kept; its admin group moved. */
	cr_assert_eq(tenant_get(s, "d", &tn), STORE_OK);
	cr_assert_eq(tn.gid, 400);
	cr_assert_eq(tn.admin_gid, 402);
	/* gids are this host's own: the versions do not move. */
	cr_assert_eq(lines(s, 4, &x2), STORE_OK);
	cr_assert_str_eq(x2.s, x1.s);

	/* Nothing changed since: nothing counted. */
	cr_assert_eq(store_fleet_begin(s, &t), STORE_OK);
	cr_assert_eq(store_fleet_regroup(t, gid_cb, &g2, &changed), STORE_OK);
	cr_assert_eq(changed, 0);
	store_end(t);
	store_close(s);
}
