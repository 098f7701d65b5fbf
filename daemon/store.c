/*
 * store.c - the LMDB key store: the environment, transactions and records.
 * With store_walk.c (cursor walks) and store_audit.c (the audit log), the
 * only code that includes <lmdb.h> (through store_int.h).
 *
 * One environment in the state directory holds seven named databases:
 *
 *   meta     "schema" -> typed u32 schema version (STORE_SCHEMA),
 *            "audit_pruned" -> typed u64 (entries retention deleted)
 *   tenants  tenant name -> tenant record
 *   keys     key id (TOKEN_ID_LEN bytes) -> key record
 *   owners   (MDB_DUPSORT) "u:<uid>" or "t:<tenant>" -> key id
 *   audit    u64 sequence number, big-endian -> audit record
 *   usage    key id -> usage record (credits left, use counters)
 *   fleet    'k' + key id or 't' + tenant name -> typed u64 version, and
 *            meta "fleet_seq": fleet mode only (store_fleet.c)
 *
 * Usage has its own database because it changes on every verify that
 * consumes credits: writing it never rewrites (or races with) the key
 * record a management request is changing. A key without a usage record
 * simply has none yet; deleting a key deletes its usage record too.
 *
 * The record formats and their encoders and decoders are in store_record.c;
 * these files move the encoded bytes in and out of LMDB. store_map_usage
 * reads LMDB's own free list (database 0), so the daemon can tell how
 * full the map really is. A record that fails
 * to decode is STORE_ECORRUPT; so is a schema newer than this code
 * understands, which is the nearest code for "this file is not one we can
 * read".
 *
 * Workload: verify is a point lookup in a read transaction, thousands per
 * second from the verify loop; management is a handful of writes, each its
 * own durable write transaction (the environment keeps LMDB's default
 * synchronous commits). Listings walk a cursor and are rare.
 *
 * Read transactions are cached per thread and per store, and reset/renewed
 * rather than begun/aborted, so a verify neither allocates nor touches the
 * reader table lock. The environment is opened with MDB_NOTLS: it ties each
 * reader-table slot to its MDB_txn instead of to a thread, so the binding of
 * transactions to threads is ours alone, and a reset handle keeps its slot
 * across uses. The per-thread cache lives under a pthread key of the store
 * (not a plain _Thread_local): each store gets a fresh key, so a thread never
 * mistakes a cached transaction of a closed store for one of a new store at
 * the same address, and the key's destructor aborts the cached transaction
 * when a thread exits, returning its reader slot. Every cache entry is also
 * on a list in the store, so store_close() can abort them all; other threads
 * must have ended their transactions (or exited) before store_close().
 *
 * A thread has at most one transaction of a given store open through this
 * API; beginning a second one (read or write) is STORE_EBUSY. That rule also
 * keeps a thread from deadlocking on LMDB's writer lock by beginning a write
 * transaction while it already holds one.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/token.h"
#include "store_fleet.h"
#include "store_int.h"
#include "store_record.h"

#define STORE_SCHEMA	1	/* layout of the databases */
#define STORE_MAXDBS	8	/* seven in use, room to grow */

int
map_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return STORE_OK;
	case MDB_NOTFOUND:
		return STORE_ENOTFOUND;
	case MDB_KEYEXIST:
		return STORE_EEXIST;
	case MDB_MAP_FULL:
		return STORE_EFULL;
	case ENOSPC:
	case EDQUOT:
		return STORE_ENOSPC;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return STORE_ECORRUPT;
	default:
		return STORE_EIO;
	}
}

void
set_val(MDB_val *v, const void *p, size_t n)
{
	v->mv_data = (void *)(uintptr_t)p;	/* LMDB does not write keys */
	v->mv_size = n;
}

/* The length of a storable tenant name (1 to PROTO_TENANT_MAX), else 0. */
static size_t
tenant_name_len(const char *name)
{
	size_t	n;

	if (name == NULL)
		return 0;
	n = strnlen(name, PROTO_TENANT_MAX + 1);
	return n > PROTO_TENANT_MAX ? 0 : n;
}

/*
 * Builds the owner index key. A selector that cannot name an owner (bad
 * kind, empty or over-long tenant name) owns nothing: STORE_ENOTFOUND.
 */
int
owner_key(uint8_t kind, uint32_t uid, const char *tenant,
    char buf[OWNER_KEY_MAX], MDB_val *k)
{
	int	len;

	switch (kind) {
	case PROTO_OWNER_USER:
		len = snprintf(buf, OWNER_KEY_MAX, "u:%u", (unsigned)uid);
		break;
	case PROTO_OWNER_TENANT:
		if (tenant_name_len(tenant) == 0)
			return STORE_ENOTFOUND;
		len = snprintf(buf, OWNER_KEY_MAX, "t:%s", tenant);
		break;
	default:
		return STORE_ENOTFOUND;
	}
	if (len < 0 || len >= OWNER_KEY_MAX)
		return STORE_ENOTFOUND;
	set_val(k, buf, (size_t)len);
	return STORE_OK;
}

/* Key ids are the LMDB key; anything that is not one is not stored. */
int
id_key(const char *id, MDB_val *k)
{
	if (id == NULL || !token_id_valid(id))
		return STORE_ENOTFOUND;
	set_val(k, id, TOKEN_ID_LEN);
	return STORE_OK;
}

int
tenant_key(const char *name, MDB_val *k)
{
	size_t	n;

	if ((n = tenant_name_len(name)) == 0)
		return STORE_ENOTFOUND;
	set_val(k, name, n);
	return STORE_OK;
}

/*
 * Checks the schema record inside the opening write transaction, writing it
 * into a fresh environment.
 */
static int
schema_check(MDB_txn *txn, MDB_dbi meta)
{
	static const char	 name[] = "schema";
	uint8_t			 buf[SCHEMA_REC_MAX];
	MDB_val			 k, v;
	size_t			 len;
	uint32_t		 schema;
	int			 rc, rv;

	set_val(&k, name, sizeof(name) - 1);
	rc = mdb_get(txn, meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		if (rec_enc_schema(STORE_SCHEMA, buf, sizeof(buf), &len) != 0)
			return STORE_EIO;
		set_val(&v, buf, len);
		return map_err(mdb_put(txn, meta, &k, &v, 0));
	}
	if (rc != 0)
		return map_err(rc);
	if ((rv = rec_dec_schema(v.mv_data, v.mv_size, &schema)) != 0)
		return rv;
	/* Newer (or nonsense) schema: refuse rather than misread it. */
	if (schema == 0 || schema > STORE_SCHEMA)
		return STORE_ECORRUPT;
	return STORE_OK;
}

static int
open_dbis(struct store *s)
{
	MDB_txn	*txn;
	int	 rc, rv;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return map_err(rc);
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "tenants", MDB_CREATE, &s->tenants)) != 0 ||
	    (rc = mdb_dbi_open(txn, "keys", MDB_CREATE, &s->keys)) != 0 ||
	    (rc = mdb_dbi_open(txn, "owners", MDB_CREATE | MDB_DUPSORT,
	    &s->owners)) != 0 ||
	    (rc = mdb_dbi_open(txn, "audit", MDB_CREATE, &s->audit)) != 0 ||
	    (rc = mdb_dbi_open(txn, "usage", MDB_CREATE, &s->usage)) != 0 ||
	    (rc = mdb_dbi_open(txn, "fleet", MDB_CREATE, &s->fleet)) != 0) {
		rv = map_err(rc);
		goto out;
	}
	if ((rv = schema_check(txn, s->meta)) != 0)
		goto out;
	rc = mdb_txn_commit(txn);
	txn = NULL;	/* freed by commit, success or not */
	rv = map_err(rc);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rv;
}

static void
slot_unlink(struct store *s, struct slot *sl)
{
	if (sl->prev != NULL)
		sl->prev->next = sl->next;
	else
		s->slots = sl->next;
	if (sl->next != NULL)
		sl->next->prev = sl->prev;
	sl->prev = sl->next = NULL;
}

/* Aborts whatever transactions the slot holds. */
static void
slot_release(struct slot *sl)
{
	if (sl->busy && sl->t.write && sl->t.txn != NULL)
		mdb_txn_abort(sl->t.txn);
	journal_drop(&sl->t);
	if (sl->rcur != NULL)
		mdb_cursor_close(sl->rcur);
	sl->rcur = NULL;
	sl->rcur_live = 0;
	if (sl->rtxn != NULL)
		mdb_txn_abort(sl->rtxn);
	sl->rtxn = NULL;
	sl->t.txn = NULL;
	sl->busy = 0;
}

/* pthread key destructor: the thread exits, give back its reader slot. */
static void
slot_destroy(void *p)
{
	struct slot	*sl = p;
	struct store	*s = sl->s;

	pthread_mutex_lock(&s->lock);
	slot_unlink(s, sl);
	pthread_mutex_unlock(&s->lock);
	slot_release(sl);
	free(sl);
}

/*
 * This thread's slot for s, made on first use (the only allocation), to
 * begin a transaction in: STORE_EBUSY while it has one out already.
 */
static int
slot_get(struct store *s, struct slot **out)
{
	struct slot	*sl;

	if ((sl = pthread_getspecific(s->tls)) != NULL) {
		if (sl->busy)
			return STORE_EBUSY;
		*out = sl;
		return STORE_OK;
	}
	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		return STORE_EIO;
	sl->s = s;
	sl->t.slot = sl;
	if (pthread_setspecific(s->tls, sl) != 0) {
		free(sl);
		return STORE_EIO;
	}
	pthread_mutex_lock(&s->lock);
	sl->next = s->slots;
	if (s->slots != NULL)
		s->slots->prev = sl;
	s->slots = sl;
	pthread_mutex_unlock(&s->lock);
	*out = sl;
	return STORE_OK;
}

/* Hands out the slot's transaction handle, now holding txn. */
static struct store_txn *
slot_lend(struct slot *sl, MDB_txn *txn, int write)
{
	sl->busy = 1;
	sl->t.txn = txn;
	sl->t.write = write;
	return &sl->t;
}

int
store_open(const char *dir, size_t map_size, struct store **out)
{
	struct store	*s;
	int		 rc, rv, dead, mutex = 0, key = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return STORE_EIO;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		rv = STORE_EIO;
		goto out;
	}
	mutex = 1;
	if (pthread_key_create(&s->tls, slot_destroy) != 0) {
		rv = STORE_EIO;
		goto out;
	}
	key = 1;
	if ((rc = mdb_env_create(&s->env)) != 0) {
		s->env = NULL;
		rv = map_err(rc);
		goto out;
	}
	if ((rc = mdb_env_set_maxdbs(s->env, STORE_MAXDBS)) != 0 ||
	    (map_size != 0 &&
	    (rc = mdb_env_set_mapsize(s->env, map_size)) != 0) ||
	    (rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)) != 0) {
		rv = map_err(rc);
		goto out;
	}
	/* Free reader slots left behind by a crashed process. */
	if ((rc = mdb_reader_check(s->env, &dead)) != 0) {
		rv = map_err(rc);
		goto out;
	}
	if ((rv = open_dbis(s)) != 0)
		goto out;
	*out = s;
	s = NULL;	/* transferred */
	rv = STORE_OK;
out:
	if (s != NULL) {
		if (s->env != NULL)
			mdb_env_close(s->env);
		if (key)
			pthread_key_delete(s->tls);
		if (mutex)
			pthread_mutex_destroy(&s->lock);
		free(s);
	}
	return rv;
}

void
store_close(struct store *s)
{
	struct slot	*sl;

	if (s == NULL)
		return;
	/* No destructor may run for this store once the key is gone. */
	pthread_key_delete(s->tls);
	pthread_mutex_lock(&s->lock);
	while ((sl = s->slots) != NULL) {
		slot_unlink(s, sl);
		slot_release(sl);
		free(sl);
	}
	pthread_mutex_unlock(&s->lock);
	mdb_env_close(s->env);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int
store_read_begin(struct store *s, struct store_txn **out)
{
	struct slot	*sl;
	MDB_txn		*txn;
	int		 rc, rv;

	if ((rv = slot_get(s, &sl)) != 0)
		return rv;
	if (sl->rtxn == NULL) {
		if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
			return map_err(rc);
		sl->rtxn = txn;
	} else if ((rc = mdb_txn_renew(sl->rtxn)) != 0) {
		mdb_txn_abort(sl->rtxn);
		sl->rtxn = NULL;
		return map_err(rc);
	}
	*out = slot_lend(sl, sl->rtxn, 0);
	return STORE_OK;
}

int
store_write_begin(struct store *s, struct store_txn **out)
{
	struct slot	*sl;
	MDB_txn		*txn;
	int		 rc, rv;

	if ((rv = slot_get(s, &sl)) != 0)
		return rv;
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return map_err(rc);
	*out = slot_lend(sl, txn, 1);
	(*out)->journal = s->journal;
	return STORE_OK;
}

/*
 * Whether the file system of the store has no room left: LMDB reports a
 * write that the disk cut short as EIO (mdb_page_flush), and that is what
 * filling a disk mid-write gives. Less than 64 pages free counts as full.
 */
static int
disk_full(struct store *s)
{
	struct statvfs	 sv;
	int		 fd;

	if (mdb_env_get_fd(s->env, &fd) != 0 || fstatvfs(fd, &sv) != 0)
		return 0;
	return (uint64_t)sv.f_bavail * sv.f_frsize < 64 * 4096;
}

int
store_commit(struct store_txn *t)
{
	struct slot	*sl;
	int		 rc;

	if (t == NULL || !t->slot->busy)
		return STORE_EIO;
	sl = t->slot;
	sl->busy = 0;
	if (!t->write) {
		sl->rcur_live = 0;
		mdb_txn_reset(t->txn);
		t->txn = NULL;
		return STORE_OK;
	}
	/* Journaled changes nobody sent to the fleet database (a bug, or
	 * no memory to record one) must not reach LMDB alone. */
	if (t->nchg > 0 || t->jfail) {
		journal_drop(t);
		mdb_txn_abort(t->txn);
		t->txn = NULL;
		t->write = 0;
		return STORE_EIO;
	}
	rc = mdb_txn_commit(t->txn);	/* frees the txn either way */
	t->txn = NULL;
	t->write = 0;
	if ((rc = map_err(rc)) == STORE_EIO && disk_full(sl->s))
		rc = STORE_ENOSPC;
	return rc;
}

uint64_t
store_txn_id(const struct store_txn *t)
{
	return (uint64_t)mdb_txn_id(t->txn);
}

void
store_end(struct store_txn *t)
{
	if (t == NULL || !t->slot->busy)
		return;
	t->slot->busy = 0;
	t->slot->rcur_live = 0;
	journal_drop(t);
	if (t->write)
		mdb_txn_abort(t->txn);
	else
		mdb_txn_reset(t->txn);
	t->txn = NULL;
	t->write = 0;
}

int
txn_ok(const struct store_txn *t)
{
	return t != NULL && t->slot->busy && t->txn != NULL;
}

/* Writes need a write transaction; LMDB would say EACCES, we say EIO. */
int
txn_writable(const struct store_txn *t)
{
	return txn_ok(t) && t->write;
}

/* The key or usage record stored under key id; val points into the map.
 * The database is picked only once the txn is known to be good. */
static int
get_by_id(struct store_txn *t, int usage, const char *id, MDB_val *val)
{
	MDB_val		 key;
	int		 rc, rv;

	if (!txn_ok(t))
		return STORE_EIO;
	if ((rv = id_key(id, &key)) != 0)
		return rv;
	if ((rc = mdb_get(t->txn, usage ? t->slot->s->usage :
	    t->slot->s->keys, &key, val)) != 0)
		return map_err(rc);
	return STORE_OK;
}

/* Decoded straight into *out: verify reads a key per request, and a copy
 * through a local would move the whole struct (about 15 KB) once more. */
int
store_key_get(struct store_txn *t, const char *id, struct store_key *out)
{
	MDB_val			 val;
	int			 rv;

	if ((rv = get_by_id(t, 0, id, &val)) != 0)
		return rv;
	return rec_dec_key(val.mv_data, val.mv_size, out);
}

int
store_key_exists(struct store_txn *t, const char *id)
{
	MDB_val		 val;

	return get_by_id(t, 0, id, &val);
}

static int
same_owner(const struct proto_owner *a, const struct proto_owner *b)
{
	if (a->kind != b->kind)
		return 0;
	if (a->kind == PROTO_OWNER_USER)
		return a->uid == b->uid;
	return strcmp(a->tenant, b->tenant) == 0;
}

/*
 * An existing id keeps its owner: a put that would move it is STORE_EEXIST
 * ("a key with this id exists under another owner"), which is also what a
 * freshly drawn id that collides with someone else's key gets. A record
 * that would not decode again is refused as STORE_ECORRUPT.
 */
int
store_key_put(struct store_txn *t, const struct store_key *k)
{
	struct store		*s;
	struct store_key	 old;
	uint8_t			 buf[KEY_REC_MAX];
	char			 okbuf[OWNER_KEY_MAX];
	MDB_val			 key, val, ok, idv;
	size_t			 len;
	int			 rc, rv, exists = 0;

	if (!txn_writable(t))
		return STORE_EIO;
	s = t->slot->s;
	if ((rv = rec_enc_key(k, buf, sizeof(buf), &len)) != 0)
		return rv;
	set_val(&key, k->info.id, TOKEN_ID_LEN);
	rc = mdb_get(t->txn, s->keys, &key, &val);
	if (rc == 0) {
		if ((rv = rec_dec_key(val.mv_data, val.mv_size, &old)) != 0)
			return rv;
		if (!same_owner(&old.info.owner, &k->info.owner))
			return STORE_EEXIST;
		exists = 1;
	} else if (rc != MDB_NOTFOUND)
		return map_err(rc);
	set_val(&val, buf, len);
	if ((rc = mdb_put(t->txn, s->keys, &key, &val, 0)) != 0)
		return map_err(rc);
	if (t->journal && (rv = journal_note(t, STORE_FLEET_KEY, k->info.id,
	    NULL, buf, len)) != 0)
		return rv;
	if (exists)
		return STORE_OK;
	if ((rv = owner_key(k->info.owner.kind, k->info.owner.uid,
	    k->info.owner.tenant, okbuf, &ok)) != 0)
		return STORE_ECORRUPT;
	set_val(&idv, k->info.id, TOKEN_ID_LEN);
	rc = mdb_put(t->txn, s->owners, &ok, &idv, MDB_NODUPDATA);
	if (rc == MDB_KEYEXIST)
		rc = 0;
	return map_err(rc);
}

/*
 * Without a readable record the owner is unknown: find the index entry by
 * its value instead. A full scan, but only for a record that is already
 * damaged, so a damaged key can still be removed.
 */
static int
owner_unindex_scan(struct store_txn *t, const char *id)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc;

	if ((rc = mdb_cursor_open(t->txn, t->slot->s->owners, &c)) != 0)
		return map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (v.mv_size == TOKEN_ID_LEN &&
		    memcmp(v.mv_data, id, TOKEN_ID_LEN) == 0) {
			if ((rc = mdb_cursor_del(c, 0)) != 0)
				break;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? STORE_OK : map_err(rc);
}

int
store_key_del(struct store_txn *t, const char *id)
{
	struct store		*s;
	struct store_key	 old;
	char			 okbuf[OWNER_KEY_MAX];
	MDB_val			 key, val, ok;
	int			 rc, rv;

	if (!txn_writable(t))
		return STORE_EIO;
	s = t->slot->s;
	if ((rv = id_key(id, &key)) != 0)
		return rv;
	if ((rc = mdb_get(t->txn, s->keys, &key, &val)) != 0)
		return map_err(rc);
	if (rec_dec_key(val.mv_data, val.mv_size, &old) == 0 &&
	    owner_key(old.info.owner.kind, old.info.owner.uid,
	    old.info.owner.tenant, okbuf, &ok) == 0) {
		set_val(&val, id, TOKEN_ID_LEN);
		rc = mdb_del(t->txn, s->owners, &ok, &val);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return map_err(rc);
	} else if ((rv = owner_unindex_scan(t, id)) != 0)
		return rv;
	/* A key that was never used or given credits has no usage record. */
	rc = mdb_del(t->txn, s->usage, &key, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return map_err(rc);
	if ((rc = mdb_del(t->txn, s->keys, &key, NULL)) != 0)
		return map_err(rc);
	return t->journal ? journal_note(t, STORE_FLEET_KEY, id, NULL, NULL,
	    0) : STORE_OK;
}

int
store_usage_get(struct store_txn *t, const char *id, struct store_usage *out)
{
	struct store_usage	u;
	MDB_val			val;
	int			rv;

	if ((rv = get_by_id(t, 1, id, &val)) != 0 ||
	    (rv = rec_dec_usage(val.mv_data, val.mv_size, &u)) != 0)
		return rv;
	*out = u;
	return STORE_OK;
}

/*
 * Inserts or replaces. Whether the key still exists is the caller's
 * business (it has the key record at hand, or looks it up in the same
 * transaction); an id that is not one could never be read back, so it is
 * STORE_ECORRUPT like a bad key record.
 */
int
store_usage_put(struct store_txn *t, const char *id,
    const struct store_usage *u)
{
	uint8_t	buf[USAGE_REC_MAX];
	MDB_val	key, val;
	size_t	len;
	int	rv;

	if (!txn_writable(t))
		return STORE_EIO;
	if (id_key(id, &key) != 0)
		return STORE_ECORRUPT;
	if ((rv = rec_enc_usage(u, buf, sizeof(buf), &len)) != 0)
		return rv;
	set_val(&val, buf, len);
	return map_err(mdb_put(t->txn, t->slot->s->usage, &key, &val, 0));
}

/*
 * Counts the index entries of one owner. In a read transaction it uses the
 * slot's cached cursor, so a verify that looks up a tenant does not
 * allocate; write transactions open and close their own.
 */
int
count_owner(struct store_txn *t, const MDB_val *okey, uint32_t *count)
{
	struct slot	*sl = t->slot;
	MDB_cursor	*c;
	MDB_val		 k = *okey, v;
	size_t		 n = 0;
	int		 rc;

	if (t->write)
		rc = mdb_cursor_open(t->txn, sl->s->owners, &c);
	else if (sl->rcur == NULL) {
		rc = mdb_cursor_open(t->txn, sl->s->owners, &c);
		if (rc == 0) {
			sl->rcur = c;
			sl->rcur_live = 1;
		}
	} else {
		c = sl->rcur;
		rc = sl->rcur_live ? 0 : mdb_cursor_renew(t->txn, c);
		if (rc == 0)
			sl->rcur_live = 1;
	}
	if (rc != 0)
		return map_err(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET);
	if (rc == 0)
		rc = mdb_cursor_count(c, &n);
	else if (rc == MDB_NOTFOUND)
		rc = 0;
	if (t->write)
		mdb_cursor_close(c);
	if (rc != 0)
		return map_err(rc);
	*count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	return STORE_OK;
}

int
store_key_count_owner(struct store_txn *t, uint8_t kind, uint32_t uid,
    const char *tenant, uint32_t *count)
{
	char	okbuf[OWNER_KEY_MAX];
	MDB_val	ok;
	int	rv;

	if (!txn_ok(t))
		return STORE_EIO;
	if ((rv = owner_key(kind, uid, tenant, okbuf, &ok)) != 0)
		return rv;
	return count_owner(t, &ok, count);
}

/* Fills out->keys from the owner index. */
static int
tenant_fill_count(struct store_txn *t, struct proto_tenant *tn)
{
	char	okbuf[OWNER_KEY_MAX];
	MDB_val	ok;

	if (owner_key(PROTO_OWNER_TENANT, 0, tn->name, okbuf, &ok) != 0)
		return STORE_ECORRUPT;
	return count_owner(t, &ok, &tn->keys);
}

/* Decodes a tenant record and counts its keys. */
int
tenant_load(struct store_txn *t, const MDB_val *v, struct proto_tenant *tn)
{
	int	rv;

	if ((rv = rec_dec_tenant(v->mv_data, v->mv_size, tn)) != 0)
		return rv;
	return tenant_fill_count(t, tn);
}

int
store_tenant_get(struct store_txn *t, const char *name,
    struct proto_tenant *out)
{
	struct proto_tenant	tn;
	MDB_val			k, v;
	int			rc, rv;

	if (!txn_ok(t))
		return STORE_EIO;
	if ((rv = tenant_key(name, &k)) != 0)
		return rv;
	if ((rc = mdb_get(t->txn, t->slot->s->tenants, &k, &v)) != 0)
		return map_err(rc);
	if ((rv = tenant_load(t, &v, &tn)) != 0)
		return rv;
	*out = tn;
	return STORE_OK;
}

/* tn->keys is ignored: the count is always derived. */
int
store_tenant_put(struct store_txn *t, const struct proto_tenant *tn)
{
	uint8_t		buf[TENANT_REC_MAX];
	MDB_val		k, v;
	size_t		len;
	int		rv;

	if (!txn_writable(t))
		return STORE_EIO;
	if ((rv = rec_enc_tenant(tn, buf, sizeof(buf), &len)) != 0)
		return rv;
	if (tenant_key(tn->name, &k) != 0)
		return STORE_ECORRUPT;
	set_val(&v, buf, len);
	if ((rv = map_err(mdb_put(t->txn, t->slot->s->tenants, &k, &v,
	    0))) != 0)
		return rv;
	return t->journal ? journal_note(t, STORE_FLEET_TENANT, tn->name,
	    tn->group, buf, len) : STORE_OK;
}

/* Only the tenant record: its keys are the caller's business. */
int
store_tenant_del(struct store_txn *t, const char *name)
{
	MDB_val	k;
	int	rv;

	if (!txn_writable(t))
		return STORE_EIO;
	if ((rv = tenant_key(name, &k)) != 0)
		return rv;
	if ((rv = map_err(mdb_del(t->txn, t->slot->s->tenants, &k,
	    NULL))) != 0)
		return rv;
	return t->journal ? journal_note(t, STORE_FLEET_TENANT, name, NULL,
	    NULL, 0) : STORE_OK;
}

int
store_stat(struct store_txn *t, uint64_t *keys, uint64_t *tenants)
{
	MDB_stat	ks, ts;
	int		rc;

	if (!txn_ok(t))
		return STORE_EIO;
	if ((rc = mdb_stat(t->txn, t->slot->s->keys, &ks)) != 0 ||
	    (rc = mdb_stat(t->txn, t->slot->s->tenants, &ts)) != 0)
		return map_err(rc);
	*keys = ks.ms_entries;
	*tenants = ts.ms_entries;
	return STORE_OK;
}

int
store_map_usage(struct store *s, uint64_t *size, uint64_t *used)
{
	MDB_envinfo	 info;
	MDB_stat	 st;
	MDB_txn		*txn;
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint64_t	 pages, freepg = 0;
	size_t		 n;
	int		 rc;

	if ((rc = mdb_env_info(s->env, &info)) != 0 ||
	    (rc = mdb_env_stat(s->env, &st)) != 0)
		return map_err(rc);
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return map_err(rc);
	/* Database 0 is LMDB's free list: each value is a list of page
	 * numbers whose first word is their count (as mdb_stat -f reads). */
	if ((rc = mdb_cursor_open(txn, 0, &c)) == 0) {
		while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
			if (v.mv_size < sizeof(n)) {
				rc = MDB_CORRUPTED;
				break;
			}
			memcpy(&n, v.mv_data, sizeof(n));
			freepg += n;
		}
		mdb_cursor_close(c);
	}
	mdb_txn_abort(txn);
	if (rc != MDB_NOTFOUND)
		return map_err(rc);
	pages = (uint64_t)info.me_last_pgno + 1;
	*size = info.me_mapsize;
	*used = (pages > freepg ? pages - freepg : 0) * st.ms_psize;
	return STORE_OK;
}

int
store_file_size(struct store *s, uint64_t *size)
{
	struct stat	 st;
	mdb_filehandle_t fd;
	int		 rc;

	if ((rc = mdb_env_get_fd(s->env, &fd)) != 0)
		return map_err(rc);
	if (fstat(fd, &st) == -1)
		return STORE_EIO;
	*size = (uint64_t)st.st_size;
	return STORE_OK;
}

const char *
store_strerror(int err)
{
	switch (err) {
	case STORE_OK:
		return "success";
	case STORE_ENOTFOUND:
		return "no such record";
	case STORE_EEXIST:
		return "record already exists (or belongs to another owner)";
	case STORE_EFULL:
		return "store is full (map size reached)";
	case STORE_ECORRUPT:
		return "store record or schema is damaged or unsupported";
	case STORE_EIO:
		return "store I/O or internal error";
	case STORE_EBUSY:
		return "this thread already has a store transaction open";
	case STORE_ENOSPC:
		return "no space left on the device of the state directory";
	default:
		return "unknown store error";
	}
}
