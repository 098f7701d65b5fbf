/*
 * fleet_sync.c - the follow thread's work (fleet_int.h): the pepper
 * check, loading a snapshot, following the changelog, comparing digests
 * and looking tenants' groups up again.
 *
 * Each LMDB write transaction holds changes and the seq they bring the
 * store to, so a crash anywhere leaves the two together; the changelog's
 * order is the commit order (sql/schema.sql), so "seq > last" never skips
 * a row that could still commit.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/account.h"
#include "clock.h"
#include "fleet_int.h"
#include "log.h"

/* A store failure, for status and the log. */
static void
store_failed(int rv, char *err, size_t errsz)
{
	/* A snapshot keeps the old records until it commits: the map must
	 * hold both. */
	if (rv == STORE_EFULL)
		snprintf(err, errsz, "the key store is full: raise map_size "
		    "(loading a snapshot needs room for the old records and the "
		    "new until it commits)");
	else
		snprintf(err, errsz, "key store: %s", store_strerror(rv));
}

/* NSS, on this thread only: a slow directory delays the follow path,
 * never a verify. */
static int
gid_of(const char *group, uint32_t *gid, void *arg)
{
	gid_t	g;
	int	rc;

	(void)arg;
	if ((rc = account_group_by_name(group, &g)) == ACCOUNT_OK) {
		*gid = (uint32_t)g;
		return 0;
	}
	return rc == ACCOUNT_ENOTFOUND ? 1 : -1;
}

int
fleet_check_pepper(struct fleet *f, char *err, size_t errsz)
{
	uint8_t		 check[KEYS_CHECK_LEN];
	const char	*vals[1] = { (const char *)check };
	const int	 lens[1] = { sizeof(check) };
	PGresult	*r;
	int		 same;

	keys_pepper_check(f->pepper, check);
	/* The first host to ask sets it; the CTE's SELECT does not see the
	 * insert, so exactly one of the two arms has a row. */
	if ((r = fleet_exec(f, f->conn, 1, "WITH ins AS (INSERT INTO "
	    "apikeyd.pepper (check_value) VALUES ($1) ON CONFLICT DO NOTHING "
	    "RETURNING check_value) SELECT check_value FROM ins UNION ALL "
	    "SELECT check_value FROM apikeyd.pepper", 1, vals, lens, err,
	    errsz)) == NULL)
		return -1;
	same = PQntuples(r) == 1 && PQgetlength(r, 0, 0) == sizeof(check) &&
	    memcmp(PQgetvalue(r, 0, 0), check, sizeof(check)) == 0;
	PQclear(r);
	if (!same) {
		snprintf(err, errsz, "this host's pepper (%s/pepper) is not "
		    "the fleet's: no key of the fleet would verify here. Copy "
		    "the pepper file of a fleet host here and restart (README, "
		    "Fleet); not following", f->cfg->state_dir);
		return -1;
	}
	return 0;
}

/*
 * A record as fetched: one longer than any record apikeyd writes (a key's
 * is at most about 15 KB, store_record.h) is cut, so it fails to decode
 * (and fails closed) instead of a batch of them taking the memory.
 */
#define RECORD_SQL	"substring(c.record from 1 for 65536)"

/*
 * A text column into id: 0, or -1 when it does not fit or is no key id
 * or tenant name (base62; [a-z0-9._-]), which then never reaches the
 * store or, unescaped, the log.
 */
static int
column_id(const PGresult *r, int row, int col, char *id, size_t size)
{
	const char	*v = PQgetvalue(r, row, col);
	int		 n = PQgetlength(r, row, col), i;

	if (PQgetisnull(r, row, col) || n <= 0 || (size_t)n >= size)
		return -1;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '.' &&
		    v[i] != '_' && v[i] != '-')
			return -1;
	memcpy(id, v, (size_t)n);
	id[n] = '\0';
	return 0;
}

/*
 * Applies rows (kind, id, record, seq at columns c..c+3; kind NULL for
 * the snapshot's rows of one table, given as kind). A record that does
 * not decode is logged and dropped, fail closed: the rest goes on.
 */
static int
apply_rows(struct store_txn *txn, const PGresult *r,
    int c, char kind, unsigned *n, char *err, size_t errsz)
{
	char		 id[STORE_FLEET_ID_MAX + 1];
	char		 k;
	uint64_t	 seq;
	int		 row, rv;

	for (row = 0; row < PQntuples(r); row++) {
		if (PQgetisnull(r, row, c + 3))
			continue;	/* the LEFT JOIN's empty row */
		k = kind != 0 ? kind : *PQgetvalue(r, row, c);
		seq = fleet_u64(r, row, c + 3);
		if (column_id(r, row, c + 1, id, sizeof(id)) != 0 ||
		    (k != STORE_FLEET_KEY && k != STORE_FLEET_TENANT)) {
			log_warnx("fleet: change %" PRIu64 " names no record "
			    "apikeyd knows; skipped", seq);
			continue;
		}
		rv = store_fleet_apply(txn, k, id, PQgetisnull(r, row, c + 2) ?
		    NULL : PQgetvalue(r, row, c + 2),
		    (size_t)PQgetlength(r, row, c + 2), seq, gid_of, NULL);
		if (rv == STORE_ECORRUPT) {
			log_warnx("fleet: the %s %s of change %" PRIu64 " does "
			    "not decode: deleted here, not applied",
			    k == STORE_FLEET_KEY ? "key" : "tenant", id, seq);
			continue;
		}
		if (rv != 0) {
			store_failed(rv, err, errsz);
			return -1;
		}
		(*n)++;
	}
	return 0;
}

/* Begins a read-only snapshot of the database and reads its head in it:
 * whatever else the transaction reads is of that head, and no other. */
static int
begin_snapshot(struct fleet *f, uint64_t *head, char *err, size_t errsz)
{
	PGresult	*r;

	if (fleet_cmd(f, f->conn, 1, "BEGIN ISOLATION LEVEL REPEATABLE READ "
	    "READ ONLY", err, errsz) != 0 ||
	    (r = fleet_exec(f, f->conn, 1, FLEET_HEAD_SQL, 0, NULL, NULL, err,
	    errsz)) == NULL)
		return -1;
	*head = fleet_u64(r, 0, 0);
	PQclear(r);
	return 0;
}

static int
snapshot_table(struct fleet *f, struct store_txn *txn, const char *table,
    char kind, unsigned *n, char *err, size_t errsz)
{
	char		 sql[256];
	PGresult	*r;
	int		 rows;

	snprintf(sql, sizeof(sql), "DECLARE snap NO SCROLL CURSOR FOR "
	    "SELECT NULL, id, %s, version FROM apikeyd.%s c", RECORD_SQL,
	    table);
	if (fleet_cmd(f, f->conn, 1, sql, err, errsz) != 0)
		return -1;
	do {
		snprintf(sql, sizeof(sql), "FETCH %d FROM snap",
		    FLEET_SNAP_BATCH);
		if ((r = fleet_exec(f, f->conn, 1, sql, 0, NULL, NULL, err,
		    errsz)) == NULL)
			return -1;
		rows = PQntuples(r);
		if (apply_rows(txn, r, 0, kind, n, err, errsz) != 0) {
			PQclear(r);
			return -1;
		}
		PQclear(r);
	} while (rows == FLEET_SNAP_BATCH);
	return fleet_cmd(f, f->conn, 1, "CLOSE snap", err, errsz);
}

/*
 * Loads the database's records and head in one snapshot, into the store
 * in one write transaction. The store's writer lock is taken before the
 * snapshot: a management write holds it from before its database commit
 * to after its LMDB commit, so the snapshot then sees every change this
 * host committed, and cannot wipe one (a revocation, say) that its older
 * view lacks.
 */
int
fleet_snapshot(struct fleet *f, char *err, size_t errsz)
{
	struct store_txn *txn;
	uint64_t	 head;
	unsigned	 tenants = 0, keys = 0;
	int		 rv;

	if ((rv = store_fleet_begin(f->store, &txn)) != 0) {
		store_failed(rv, err, errsz);
		return -1;
	}
	if (begin_snapshot(f, &head, err, errsz) != 0)
		goto fail;
	if ((rv = store_fleet_wipe(txn)) != 0)
		goto store_fail;
	/* Tenants first: a tenant key's owner is then already there. */
	if (snapshot_table(f, txn, "tenants", STORE_FLEET_TENANT, &tenants,
	    err, errsz) != 0 ||
	    snapshot_table(f, txn, "keys", STORE_FLEET_KEY, &keys, err,
	    errsz) != 0)
		goto fail;
	if ((rv = store_fleet_sweep_usage(txn)) != 0 ||
	    (rv = store_fleet_set_seq(txn, head)) != 0)
		goto store_fail;
	if ((rv = store_commit(txn)) != 0) {
		store_failed(rv, err, errsz);
		return -1;
	}
	(void)fleet_cmd(f, f->conn, 1, "COMMIT", err, errsz);
	f->need_snapshot = 0;
	atomic_store(&f->last_seq, head);
	atomic_store(&f->head_seq, head);
	log_info("fleet: loaded the database's snapshot at seq %" PRIu64
	    ": %u tenants, %u keys", head, tenants, keys);
	return 0;
store_fail:
	store_failed(rv, err, errsz);
fail:
	store_end(txn);
	return -1;
}

/* Marks the host in step with the database as of now. */
static void
synced(struct fleet *f)
{
	atomic_store(&f->synced_at, clock_now());
	atomic_store_explicit(&f->synced_ms, clock_now_ms(),
	    memory_order_relaxed);
}

/*
 * Applies every change past last_seq, a batch per LMDB transaction. The
 * horizon comes in the same statement (one snapshot): a prune past
 * last_seq means rows this host needs are gone, and a snapshot is due.
 */
int
fleet_follow(struct fleet *f, char *err, size_t errsz)
{
	struct store_txn *txn;
	PGresult	*r;
	char		 last[24], lim[16];
	const char	*vals[2] = { last, lim };
	uint64_t	 seq, horizon, head;
	unsigned	 n;
	int		 rows, rv;

	snprintf(lim, sizeof(lim), "%d", FLEET_BATCH);
	do {
		seq = atomic_load(&f->last_seq);
		snprintf(last, sizeof(last), "%" PRIu64, seq);
		if ((r = fleet_exec(f, f->conn, 1, "SELECT h.pruned_through, "
		    "coalesce((SELECT max(seq) FROM apikeyd.changelog), 0), "
		    "c.kind, c.id, " RECORD_SQL ", c.seq FROM apikeyd.horizon h "
		    "LEFT JOIN LATERAL (SELECT seq, kind, id, record FROM "
		    "apikeyd.changelog WHERE seq > $1::int8 ORDER BY seq "
		    "LIMIT $2::int4) c ON true", 2, vals, NULL, err,
		    errsz)) == NULL)
			return -1;
		horizon = fleet_u64(r, 0, 0);
		head = fleet_u64(r, 0, 1);
		atomic_store(&f->head_seq, head > horizon ? head : horizon);
		if (horizon > seq) {
			PQclear(r);
			log_info("fleet: the changelog was pruned past seq "
			    "%" PRIu64 ", which this host applied last: "
			    "loading a snapshot", seq);
			f->need_snapshot = 1;
			return 0;
		}
		/* A database made anew, or restored from a backup older than
		 * what this host holds: its seqs no longer mean ours. */
		if ((head > horizon ? head : horizon) < seq) {
			PQclear(r);
			log_warnx("fleet: the database's changelog ends at seq "
			    "%" PRIu64 ", before seq %" PRIu64 " which this host "
			    "applied (a new or restored database?): loading a "
			    "snapshot", head > horizon ? head : horizon, seq);
			f->need_snapshot = 1;
			return 0;
		}
		rows = PQgetisnull(r, 0, 5) ? 0 : PQntuples(r);
		if (rows == 0) {
			PQclear(r);
			break;
		}
		/* A seq that does not move on (a column of another type
		 * reads as 0) would be fetched again for ever. */
		if (fleet_u64(r, rows - 1, 5) <= seq) {
			PQclear(r);
			snprintf(err, errsz, "the changelog's seq did not move "
			    "past %" PRIu64 ": is apikeyd.changelog as "
			    "sql/schema.sql makes it?", seq);
			return -1;
		}
		seq = fleet_u64(r, rows - 1, 5);
		n = 0;
		if ((rv = store_fleet_begin(f->store, &txn)) != 0) {
			PQclear(r);
			store_failed(rv, err, errsz);
			return -1;
		}
		if (apply_rows(txn, r, 2, 0, &n, err, errsz) != 0) {
			store_end(txn);
			PQclear(r);
			return -1;
		}
		PQclear(r);
		if ((rv = store_fleet_set_seq(txn, seq)) != 0 ||
		    (rv = store_commit(txn)) != 0) {
			store_end(txn);
			store_failed(rv, err, errsz);
			return -1;
		}
		atomic_store(&f->last_seq, seq);
		log_debug("fleet: applied %d changes, now at seq %" PRIu64,
		    rows, seq);
	} while (rows == FLEET_BATCH);
	synced(f);
	return 0;
}

static int
add_line(const char *line, size_t len, void *arg)
{
	keys_digest_add(arg, line, len);
	return 0;
}

/*
 * Compares the store's digest with the database's at the same seq. When
 * they are not at the same seq (changes arrived meanwhile, or this host
 * wrote some the follow path has not reached), it waits for next time.
 */
int
fleet_compare(struct fleet *f, char *err, size_t errsz)
{
	struct store_txn	*txn;
	struct keys_digest	*d;
	PGresult		*r;
	uint8_t			 mine[KEYS_DIGEST_LEN];
	uint64_t		 head, seq;
	int			 loaded, rv, same;

	/* The head first, in the snapshot the digest will see: the digest
	 * reads every row, so it runs only when the two can be compared. */
	if (begin_snapshot(f, &head, err, errsz) != 0)
		return -1;
	r = NULL;
	if (head == atomic_load(&f->last_seq) &&
	    (r = fleet_exec(f, f->conn, 1, "SELECT 0::int8, apikeyd.digest()",
	    0, NULL, NULL, err, errsz)) == NULL)
		return -1;
	if (fleet_cmd(f, f->conn, 1, "COMMIT", err, errsz) != 0) {
		PQclear(r);
		return -1;
	}
	if (r == NULL)
		return 0;	/* changes arrived meanwhile: next round */
	if ((rv = store_read_begin(f->store, &txn)) != 0) {
		PQclear(r);
		snprintf(err, errsz, "key store: %s", store_strerror(rv));
		return -1;
	}
	if ((d = keys_digest_new()) == NULL)
		rv = STORE_EIO;
	else if ((rv = store_fleet_seq(txn, &seq, &loaded)) == 0 &&
	    seq == head)
		rv = store_fleet_lines(txn, head, add_line, d);
	store_end(txn);
	if (d != NULL)
		keys_digest_end(d, mine);
	if (rv < 0) {
		PQclear(r);
		snprintf(err, errsz, "key store: %s", store_strerror(rv));
		return -1;
	}
	if (rv == 1 || seq != head) {
		PQclear(r);
		return 0;	/* not comparable now: next round */
	}
	same = PQgetlength(r, 0, 1) == KEYS_DIGEST_LEN &&
	    memcmp(PQgetvalue(r, 0, 1), mine, sizeof(mine)) == 0;
	PQclear(r);
	/* Each comparison reads every row in the database: spread the
	 * fleet's over the interval. */
	f->next_digest_ms = clock_now_ms() +
	    fleet_jitter(f->cfg->fleet_digest_ms);
	atomic_store(&f->digest, same ? FLEET_DIGEST_MATCH :
	    FLEET_DIGEST_MISMATCH);
	if (!same) {
		log_warnx("fleet: this host's records differ from the "
		    "database's at seq %" PRIu64 ": loading a snapshot", head);
		f->need_snapshot = 1;
	}
	return 0;
}

/* Groups looked up ahead of a write transaction. */
struct gidmap {
	struct gidname {
		char		 name[PROTO_ACCOUNT_MAX + 1];
		int		 rc;
		uint32_t	 gid;
	}		*v;
	size_t		 n, cap;
};

static int
gidmap_add(struct gidmap *m, const char *name)
{
	struct gidname	*v;

	if (name[0] == '\0')
		return 0;
	if (m->n == m->cap) {
		m->cap = m->cap == 0 ? 32 : m->cap * 2;
		if ((v = realloc(m->v, m->cap * sizeof(*v))) == NULL)
			return STORE_EIO;
		m->v = v;
	}
	snprintf(m->v[m->n].name, sizeof(m->v[m->n].name), "%s", name);
	m->v[m->n].rc = gid_of(name, &m->v[m->n].gid, NULL);
	m->n++;
	return 0;
}

static int
collect_groups(const struct proto_tenant *tn, void *arg)
{
	int	rv;

	if ((rv = gidmap_add(arg, tn->group)) == 0)
		rv = gidmap_add(arg, tn->admin_group);
	return rv;
}

/* A group of the map; one not looked up (a tenant new since) keeps what
 * the store holds. */
static int
gid_in(const char *group, uint32_t *gid, void *arg)
{
	const struct gidmap	*m = arg;
	size_t			 i;

	for (i = 0; i < m->n; i++) {
		if (strcmp(m->v[i].name, group) != 0)
			continue;
		if (m->v[i].rc == 0)
			*gid = m->v[i].gid;
		return m->v[i].rc;
	}
	return -1;
}

/*
 * Looks every tenant's groups up again (a group made on this host after
 * its tenant arrived, or given another gid). NSS runs before the write
 * transaction, which then only compares: a slow directory must not hold
 * the store's writer, which management and the ledger wait for. (A
 * snapshot or a tenant's change still looks its groups up inside its
 * transaction: they are rare, and a tenant's gid must be right when it
 * lands.)
 */
void
fleet_regroup(struct fleet *f)
{
	struct store_txn	*txn = NULL;
	struct gidmap		 m = { NULL, 0, 0 };
	unsigned		 changed = 0;
	int			 rv;

	if ((rv = store_read_begin(f->store, &txn)) == 0) {
		rv = store_tenant_foreach(txn, collect_groups, &m);
		store_end(txn);
		txn = NULL;
	}
	if (rv == 0 && (rv = store_fleet_begin(f->store, &txn)) == 0 &&
	    (rv = store_fleet_regroup(txn, gid_in, &m, &changed)) == 0 &&
	    changed > 0)
		rv = store_commit(txn);
	else
		store_end(txn);
	free(m.v);
	if (rv != 0)
		log_warnx("fleet: looking up tenants' groups again: %s",
		    store_strerror(rv));
	else if (changed > 0)
		log_info("fleet: %u tenants' groups changed on this host",
		    changed);
}
