/*
 * store_walk.c - cursor walks over the key store: a user's or a tenant's
 * keys through the owner index, all keys, all tenants. Each walk can start
 * after a given entry, so a long listing is served in short read
 * transactions (see admin's streams) instead of one transaction held for
 * as long as a slow reader takes: a long-lived reader would keep LMDB from
 * reusing freed pages.
 */
#include <string.h>

#include "../proto/token.h"
#include "store_int.h"
#include "store_record.h"

int
walk_open(struct store_txn *t, MDB_dbi dbi, struct walk *w)
{
	int	rc;

	w->t = t;
	if ((rc = mdb_cursor_open(t->txn, dbi, &w->c)) != 0)
		return map_err(rc);
	return STORE_OK;
}

/*
 * Visits the entry the cursor was just placed on (rc: how that went) and
 * each one after it in direction op, then closes the cursor. Running off
 * the end is success; otherwise the first nonzero visit or LMDB error.
 */
int
walk_run(struct walk *w, int rc, MDB_cursor_op op, visit_fn visit)
{
	int	rv;

	for (; rc == 0; rc = mdb_cursor_get(w->c, &w->k, &w->v, op))
		if ((rv = visit(w)) != 0)
			goto out;
	rv = rc == MDB_NOTFOUND ? STORE_OK : map_err(rc);
out:
	mdb_cursor_close(w->c);
	return rv;
}

static int
key_to_cb(struct walk *w, const MDB_val *v)
{
	struct store_key	rec;
	int			rv;

	if ((rv = rec_dec_key(v->mv_data, v->mv_size, &rec)) != 0)
		return rv;
	return w->cb.key(&rec, w->arg);
}

static int
visit_key(struct walk *w)
{
	return key_to_cb(w, &w->v);
}

/* An owner index entry: its value is the id of the key to visit. */
static int
visit_owned_key(struct walk *w)
{
	MDB_val	val;
	int	rc;

	/* The index and the keys change in one txn: a miss is damage. */
	if ((rc = mdb_get(w->t->txn, w->t->slot->s->keys, &w->v, &val)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ECORRUPT : map_err(rc);
	return key_to_cb(w, &val);
}

/* 1 when a holds the same bytes as b. */
static int
val_eq(const MDB_val *a, const MDB_val *b)
{
	return a->mv_size == b->mv_size &&
	    memcmp(a->mv_data, b->mv_data, a->mv_size) == 0;
}

/*
 * Places the cursor on the first entry after `after` (NULL: the first
 * entry). In a dup walk the key (w->k) is fixed and `after` is a value
 * among its duplicates. Returns an LMDB code, as mdb_cursor_get does.
 */
static int
seek_after(struct walk *w, const MDB_val *after, int dup)
{
	int	rc;

	if (after == NULL)
		return mdb_cursor_get(w->c, &w->k, &w->v,
		    dup ? MDB_SET : MDB_FIRST);
	if (dup) {
		w->v = *after;
		rc = mdb_cursor_get(w->c, &w->k, &w->v, MDB_GET_BOTH_RANGE);
		if (rc == 0 && val_eq(&w->v, after))
			rc = mdb_cursor_get(w->c, &w->k, &w->v, MDB_NEXT_DUP);
		return rc;
	}
	w->k = *after;
	rc = mdb_cursor_get(w->c, &w->k, &w->v, MDB_SET_RANGE);
	if (rc == 0 && val_eq(&w->k, after))
		rc = mdb_cursor_get(w->c, &w->k, &w->v, MDB_NEXT);
	return rc;
}

/* after as an MDB_val in *v, or NULL for "from the start". */
static const MDB_val *
after_val(const char *after, size_t len, MDB_val *v)
{
	if (after == NULL || len == 0)
		return NULL;
	set_val(v, after, len);
	return v;
}

int
store_key_foreach_owner_after(struct store_txn *t, uint8_t kind,
    uint32_t uid, const char *tenant, const char *after, store_key_cb cb,
    void *arg)
{
	struct walk	w;
	MDB_val		av;
	char		okbuf[OWNER_KEY_MAX];
	int		rv;

	if (!txn_ok(t))
		return STORE_EIO;
	if ((rv = owner_key(kind, uid, tenant, okbuf, &w.k)) != 0)
		return rv;
	w.cb.key = cb;
	w.arg = arg;
	if ((rv = walk_open(t, t->slot->s->owners, &w)) != 0)
		return rv;
	return walk_run(&w, seek_after(&w, after_val(after, after != NULL ?
	    strnlen(after, TOKEN_ID_LEN) : 0, &av), 1), MDB_NEXT_DUP,
	    visit_owned_key);
}

int
store_key_foreach_owner(struct store_txn *t, uint8_t kind, uint32_t uid,
    const char *tenant, store_key_cb cb, void *arg)
{
	return store_key_foreach_owner_after(t, kind, uid, tenant, NULL, cb,
	    arg);
}

int
store_key_foreach_after(struct store_txn *t, const char *after,
    store_key_cb cb, void *arg)
{
	struct walk	w;
	MDB_val		av;
	int		rv;

	if (!txn_ok(t))
		return STORE_EIO;
	w.cb.key = cb;
	w.arg = arg;
	if ((rv = walk_open(t, t->slot->s->keys, &w)) != 0)
		return rv;
	return walk_run(&w, seek_after(&w, after_val(after, after != NULL ?
	    strnlen(after, TOKEN_ID_LEN) : 0, &av), 0), MDB_NEXT, visit_key);
}

static int
visit_tenant(struct walk *w)
{
	struct proto_tenant	tn;
	int			rv;

	if ((rv = tenant_load(w->t, &w->v, &tn)) != 0)
		return rv;
	return w->cb.tenant(&tn, w->arg);
}

int
store_tenant_foreach_after(struct store_txn *t, const char *after,
    store_tenant_cb cb, void *arg)
{
	struct walk	w;
	MDB_val		av;
	int		rv;

	if (!txn_ok(t))
		return STORE_EIO;
	w.cb.tenant = cb;
	w.arg = arg;
	if ((rv = walk_open(t, t->slot->s->tenants, &w)) != 0)
		return rv;
	return walk_run(&w, seek_after(&w, after_val(after, after != NULL ?
	    strnlen(after, PROTO_TENANT_MAX) : 0, &av), 0), MDB_NEXT,
	    visit_tenant);
}

int
store_tenant_foreach(struct store_txn *t, store_tenant_cb cb, void *arg)
{
	return store_tenant_foreach_after(t, NULL, cb, arg);
}
