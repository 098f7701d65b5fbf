/*
 * store_fleet.c - fleet mode's side of the key store (store_fleet.h): the
 * journal of a management transaction's changes, and the follow path's
 * apply of the fleet database's changelog.
 *
 * Per-record versions live in the "fleet" database, apart from the
 * records: the record formats stay those of a single host, and the
 * versions cost nothing when fleet mode is off. The last changelog seq
 * applied is meta "fleet_seq"; its presence means a snapshot was loaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/token.h"
#include "store_fleet.h"
#include "store_int.h"
#include "store_record.h"

#define VKEY_MAX	(1 + STORE_FLEET_ID_MAX)
/*
 * A version with this bit is a deletion this host made and sent: it stays
 * until the follow path reaches it, so that an older put of the record
 * still on its way (one this host made, applied here before the database
 * echoed it back) cannot bring a revoked key back meanwhile.
 */
#define DEAD		(UINT64_C(1) << 63)
/*
 * A version with this bit is a record this host could not read (a newer
 * format, say): it has no copy, fails closed, and counts the record as
 * held for the digest, which would otherwise differ for ever. Each is
 * counted in meta "fleet_unreadable", so that a restart (perhaps of a
 * newer apikeyd) loads a snapshot and tries again.
 */
#define BAD		(UINT64_C(1) << 62)
#define VERSION(v)	((v) & ~(DEAD | BAD))
#define LINE_MAX_LEN	(VKEY_MAX + 1 + 20 + 1)

static const char seq_name[] = "fleet_seq";
static const char unreadable_name[] = "fleet_unreadable";

/* The version key of a record: kind then id. */
static int
vkey(char kind, const char *id, char buf[VKEY_MAX], MDB_val *k)
{
	size_t	n;

	n = strnlen(id, STORE_FLEET_ID_MAX + 1);
	if (n == 0 || n > STORE_FLEET_ID_MAX ||
	    (kind != STORE_FLEET_KEY && kind != STORE_FLEET_TENANT))
		return STORE_ECORRUPT;
	buf[0] = kind;
	memcpy(buf + 1, id, n);
	set_val(k, buf, n + 1);
	return STORE_OK;
}

/* The version the store holds for a record (DEAD set for a deletion
 * not yet echoed); 0 when it has none. */
static int
version_get(struct store_txn *t, char kind, const char *id, uint64_t *v)
{
	char	buf[VKEY_MAX];
	MDB_val	k, val;
	int	rc, rv;

	if ((rv = vkey(kind, id, buf, &k)) != 0)
		return rv;
	rc = mdb_get(t->txn, t->slot->s->fleet, &k, &val);
	if (rc == MDB_NOTFOUND) {
		*v = 0;
		return STORE_OK;
	}
	if (rc != 0)
		return map_err(rc);
	return rec_dec_counter(val.mv_data, val.mv_size, v);
}

/* Sets a record's version, or (v 0) forgets it. */
static int
version_put(struct store_txn *t, char kind, const char *id, uint64_t v)
{
	char	buf[VKEY_MAX];
	uint8_t	rec[COUNTER_REC_MAX];
	MDB_val	k, val;
	size_t	len;
	int	rc, rv;

	if ((rv = vkey(kind, id, buf, &k)) != 0)
		return rv;
	if (v == 0) {
		rc = mdb_del(t->txn, t->slot->s->fleet, &k, NULL);
		return rc == MDB_NOTFOUND ? STORE_OK : map_err(rc);
	}
	if ((rv = rec_enc_counter(v, rec, sizeof(rec), &len)) != 0)
		return rv;
	set_val(&val, rec, len);
	return map_err(mdb_put(t->txn, t->slot->s->fleet, &k, &val, 0));
}

void
store_fleet_journal(struct store *s, int on)
{
	s->journal = on;
}

/* The change already recorded for this record, if any. A transaction
 * changes few records, but for KEY_CREATE_MANY's 512: a linear search. */
static struct store_change *
journal_find(struct store_txn *t, char kind, const char *id)
{
	size_t	i;

	for (i = t->nchg; i-- > 0; )
		if (t->chg[i].kind == kind && strcmp(t->chg[i].id, id) == 0)
			return &t->chg[i];
	return NULL;
}

static int
journal_grow(struct store_txn *t)
{
	struct store_change	*v;
	size_t			 cap;

	if (t->nchg < t->capchg)
		return 0;
	cap = t->capchg == 0 ? 8 : t->capchg * 2;
	if ((v = realloc(t->chg, cap * sizeof(*v))) == NULL)
		return -1;
	t->chg = v;
	t->capchg = cap;
	return 0;
}

/*
 * A record changed twice in one transaction is one change: the last
 * record, against the version first read. One made and deleted in the
 * same transaction never existed for the database.
 */
int
journal_note(struct store_txn *t, char kind, const char *id,
    const char *group, const uint8_t *rec, size_t len)
{
	struct store_change	*c;
	uint8_t			*copy = NULL;
	int			 rv;

	if (t->jfail)
		return STORE_EIO;
	if (rec != NULL && (copy = malloc(len)) == NULL)
		goto fail;
	if (rec != NULL)
		memcpy(copy, rec, len);
	if ((c = journal_find(t, kind, id)) != NULL) {
		free(c->rec);
		c->rec = copy;
		c->len = len;
		if (group != NULL)
			snprintf(c->group, sizeof(c->group), "%s", group);
		if (copy == NULL && c->version == 0)
			*c = t->chg[--t->nchg];
		return STORE_OK;
	}
	if (journal_grow(t) != 0)
		goto fail;
	c = &t->chg[t->nchg];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->group, sizeof(c->group), "%s", group != NULL ? group : "");
	if ((rv = version_get(t, kind, id, &c->version)) != 0) {
		/* The write is in the txn already: it must not commit. */
		free(copy);
		t->jfail = 1;
		return rv;
	}
	if (c->version & DEAD)
		c->version = 0;	/* deleted: the database has no row */
	c->version = VERSION(c->version);
	c->rec = copy;
	c->len = len;
	t->nchg++;
	return STORE_OK;
fail:
	free(copy);
	t->jfail = 1;
	return STORE_EIO;
}

void
store_changes_free(struct store_change *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i].rec);
	free(v);
}

void
journal_drop(struct store_txn *t)
{
	store_changes_free(t->chg, t->nchg);
	t->chg = NULL;
	t->nchg = t->capchg = 0;
	t->jfail = 0;
}

int
store_fleet_changes(struct store_txn *t, struct store_change **out,
    size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!txn_writable(t) || t->jfail)
		return STORE_EIO;
	if (t->nchg == 0) {
		journal_drop(t);	/* changes that cancelled out */
		return STORE_OK;
	}
	*out = t->chg;
	*n = t->nchg;
	t->chg = NULL;
	t->nchg = t->capchg = 0;
	return STORE_OK;
}

int
store_fleet_versions(struct store_txn *t, const struct store_change *v,
    size_t n)
{
	size_t	i;
	int	rv;

	if (!txn_writable(t))
		return STORE_EIO;
	for (i = 0; i < n; i++)
		if ((rv = version_put(t, v[i].kind, v[i].id,
		    v[i].new_version | (v[i].rec != NULL ? 0 : DEAD))) != 0)
			return rv;
	return STORE_OK;
}

int
store_fleet_begin(struct store *s, struct store_txn **out)
{
	int	rv;

	if ((rv = store_write_begin(s, out)) == 0)
		(*out)->journal = 0;
	return rv;
}

/*
 * A key from the database. Its owner may differ from the copy's (an id
 * deleted and made again elsewhere), which store_key_put never moves, and
 * the copy may be damaged: either way the copy goes first.
 */
static int
apply_key(struct store_txn *t, const char *id, const void *rec, size_t len)
{
	static _Thread_local struct store_key k;
	int	rv;

	if (rec == NULL) {
		rv = store_key_del(t, id);
		return rv == STORE_ENOTFOUND ? STORE_OK : rv;
	}
	if (rec_dec_key(rec, len, &k) != 0 || strcmp(k.info.id, id) != 0)
		return STORE_ECORRUPT;
	rv = store_key_put(t, &k);
	if ((rv == STORE_EEXIST || rv == STORE_ECORRUPT) &&
	    (rv = store_key_del(t, id)) == 0)
		rv = store_key_put(t, &k);
	return rv;
}

/*
 * A tenant's gids on this host: gids differ between hosts, the names are
 * what the fleet shares. A group NSS could not look up just now keeps the
 * gid held before (a directory outage must not lock a tenant out); one it
 * does not know gets STORE_GID_NONE. 1 when a gid changed.
 */
static int
resolve(struct proto_tenant *tn, const struct proto_tenant *old,
    store_gid_fn fn, void *arg)
{
	uint32_t	gid, agid;
	int		rc;

	/* What was held counts only for the same group name: a tenant
	 * moved to another group must not keep the old one's members. */
	gid = old != NULL && strcmp(old->group, tn->group) == 0 ? old->gid :
	    STORE_GID_NONE;
	agid = old != NULL && strcmp(old->admin_group, tn->admin_group) == 0 ?
	    old->admin_gid : STORE_GID_NONE;
	if (fn(tn->group, &gid, arg) > 0)
		gid = STORE_GID_NONE;
	if (tn->admin_group[0] == '\0')
		agid = 0;
	else if (fn(tn->admin_group, &agid, arg) > 0)
		agid = STORE_GID_NONE;
	rc = gid != tn->gid || agid != tn->admin_gid;
	tn->gid = gid;
	tn->admin_gid = agid;
	return rc;
}

static int
apply_tenant(struct store_txn *t, const char *name, const void *rec,
    size_t len, store_gid_fn fn, void *arg)
{
	struct proto_tenant	tn, old;
	int			rv, have;

	if (rec == NULL) {
		rv = store_tenant_del(t, name);
		return rv == STORE_ENOTFOUND ? STORE_OK : rv;
	}
	if (rec_dec_tenant(rec, len, &tn) != 0 || strcmp(tn.name, name) != 0)
		return STORE_ECORRUPT;
	/* A damaged copy is replaced like a missing one. */
	if ((rv = store_tenant_get(t, name, &old)) != 0 &&
	    rv != STORE_ENOTFOUND && rv != STORE_ECORRUPT)
		return rv;
	have = rv == 0;
	(void)resolve(&tn, have ? &old : NULL, fn, arg);
	return store_tenant_put(t, &tn);
}

struct tenant_list {
	struct proto_tenant	*v;
	size_t			 n, cap;
};

static int
collect_tenant(const struct proto_tenant *tn, void *arg)
{
	struct tenant_list	*c = arg;
	struct proto_tenant	*v;

	if (c->n == c->cap) {
		c->cap = c->cap == 0 ? 16 : c->cap * 2;
		if ((v = realloc(c->v, c->cap * sizeof(*v))) == NULL)
			return STORE_EIO;
		c->v = v;
	}
	c->v[c->n++] = *tn;
	return 0;
}

int
store_fleet_regroup(struct store_txn *t, store_gid_fn fn, void *arg,
    unsigned *changed)
{
	struct tenant_list	 c = { NULL, 0, 0 };
	struct proto_tenant	 old;
	size_t			 i;
	int			 rv;

	*changed = 0;
	if (!txn_writable(t))
		return STORE_EIO;
	if ((rv = store_tenant_foreach(t, collect_tenant, &c)) != 0)
		goto out;
	for (i = 0; i < c.n && rv == 0; i++) {
		old = c.v[i];
		if (resolve(&c.v[i], &old, fn, arg) == 0)
			continue;
		if ((rv = store_tenant_put(t, &c.v[i])) == 0)
			(*changed)++;
	}
out:
	free(c.v);
	return rv;
}

int
store_fleet_apply(struct store_txn *t, char kind, const char *id,
    const void *rec, size_t len, uint64_t seq, store_gid_fn fn, void *arg)
{
	uint64_t	have;
	int		rv;

	if (!txn_writable(t))
		return STORE_EIO;
	if ((rv = version_get(t, kind, id, &have)) != 0)
		return rv;
	if (VERSION(have) >= seq) {
		/* Our own deletion, echoed: the marker has done its work. */
		if (have == (seq | DEAD))
			return version_put(t, kind, id, 0);
		return STORE_OK;
	}
	rv = kind == STORE_FLEET_KEY ? apply_key(t, id, rec, len) :
	    apply_tenant(t, id, rec, len, fn, arg);
	if (rv == STORE_ECORRUPT) {
		/* Fail closed: drop the copy the change was meant to replace. */
		if (kind == STORE_FLEET_KEY)
			(void)apply_key(t, id, NULL, 0);
		else
			(void)apply_tenant(t, id, NULL, 0, fn, arg);
		if ((rv = version_put(t, kind, id, seq | BAD)) == 0 &&
		    (rv = meta_get(t, unreadable_name, &have)) == 0)
			rv = meta_put(t, unreadable_name, have + 1);
		return rv != 0 ? rv : STORE_ECORRUPT;
	}
	if (rv != 0)
		return rv;
	return version_put(t, kind, id, rec != NULL ? seq : 0);
}

int
store_fleet_wipe(struct store_txn *t)
{
	struct store	*s;
	int		 rc;

	if (!txn_writable(t))
		return STORE_EIO;
	s = t->slot->s;
	if ((rc = mdb_drop(t->txn, s->keys, 0)) != 0 ||
	    (rc = mdb_drop(t->txn, s->owners, 0)) != 0 ||
	    (rc = mdb_drop(t->txn, s->tenants, 0)) != 0 ||
	    (rc = mdb_drop(t->txn, s->fleet, 0)) != 0)
		return map_err(rc);
	return meta_put(t, unreadable_name, 0);
}

int
store_fleet_sweep_usage(struct store_txn *t)
{
	struct store	*s;
	MDB_cursor	*c;
	MDB_val		 k, v, kv;
	int		 rc;

	if (!txn_writable(t))
		return STORE_EIO;
	s = t->slot->s;
	if ((rc = mdb_cursor_open(t->txn, s->usage, &c)) != 0)
		return map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if ((rc = mdb_get(t->txn, s->keys, &k, &kv)) == 0)
			continue;
		if (rc != MDB_NOTFOUND || (rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? STORE_OK : map_err(rc);
}

int
store_fleet_seq(struct store_txn *t, uint64_t *seq, int *loaded)
{
	MDB_val	k, v;
	int	rc;

	if (!txn_ok(t))
		return STORE_EIO;
	set_val(&k, seq_name, sizeof(seq_name) - 1);
	rc = mdb_get(t->txn, t->slot->s->meta, &k, &v);
	*loaded = rc == 0;
	*seq = 0;
	if (rc != 0)
		return rc == MDB_NOTFOUND ? STORE_OK : map_err(rc);
	return rec_dec_counter(v.mv_data, v.mv_size, seq);
}

int
store_fleet_unreadable(struct store_txn *t, uint64_t *n)
{
	if (!txn_ok(t))
		return STORE_EIO;
	return meta_get(t, unreadable_name, n);
}

int
store_fleet_set_seq(struct store_txn *t, uint64_t seq)
{
	if (!txn_writable(t))
		return STORE_EIO;
	return meta_put(t, seq_name, seq);
}

int
store_fleet_lines(struct store_txn *t, uint64_t upto, store_line_fn fn,
    void *arg)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint64_t	 ver;
	char		 line[LINE_MAX_LEN + 1];
	int		 rc, rv = STORE_OK, n;

	if (!txn_ok(t))
		return STORE_EIO;
	if ((rc = mdb_cursor_open(t->txn, t->slot->s->fleet, &c)) != 0)
		return map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 2 || k.mv_size > VKEY_MAX ||
		    rec_dec_counter(v.mv_data, v.mv_size, &ver) != 0) {
			rv = STORE_ECORRUPT;
			break;
		}
		if (VERSION(ver) > upto) {
			rv = 1;
			break;
		}
		if (ver & DEAD)
			continue;	/* no record: the database has no row */
		n = snprintf(line, sizeof(line), "%.*s:%llu\n",
		    (int)k.mv_size, (const char *)k.mv_data,
		    (unsigned long long)VERSION(ver));
		if (n < 0 || (size_t)n >= sizeof(line)) {
			rv = STORE_ECORRUPT;
			break;
		}
		if ((rv = fn(line, (size_t)n, arg)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rv != STORE_OK)
		return rv;
	return rc == MDB_NOTFOUND ? STORE_OK : map_err(rc);
}
