/*
 * fleet_write.c - management writes in fleet mode (fleet_write, on the
 * admin thread, through a connection of its own).
 *
 * One database transaction per management transaction. It takes the
 * changelog writers' lock first, so its row locks always come after it
 * (no deadlock with another host's writer), then writes each record
 * against the version this host read: a row another host changed
 * meanwhile matches nothing, and the whole transaction is rolled back as
 * a conflict. The triggers append the changelog rows and notify.
 *
 * The changes go in one pipeline (libpq's pipeline mode): a turn of
 * KEY_CREATE_MANY's 512 keys is one round trip, not 512, so the writers'
 * lock, which every host's writes wait for, is held for one round trip
 * and the database's work. The whole write, from BEGIN to COMMIT, is
 * bounded by fleet_timeout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "fleet_int.h"
#include "log.h"

/* Statements by kind of record (keys, tenants) and change: $1 id, then
 * what each needs. Each returns the version the change gave the record,
 * or no row (NULL for a deletion) when the record was not as read. */
static const char *const sql_insert[2] = {
	"INSERT INTO apikeyd.keys (id, record) VALUES ($1, $2) "
	"ON CONFLICT (id) DO NOTHING RETURNING version",
	"INSERT INTO apikeyd.tenants (id, record, group_name) "
	"VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING version",
};
static const char *const sql_update[2] = {
	"UPDATE apikeyd.keys SET record = $2 WHERE id = $1 "
	"AND version = $3::int8 RETURNING version",
	"UPDATE apikeyd.tenants SET record = $2, group_name = $4 "
	"WHERE id = $1 AND version = $3::int8 RETURNING version",
};
static const char sql_delete[] =
	"SELECT apikeyd.delete_record($2::\"char\", $1, $3::int8)";

/*
 * Sends the statement for change c. A deletion by an administrator
 * matches the row whatever its version (want NULL): a revocation must not
 * fail because another host changed the key meanwhile, or because this
 * host is behind, and a key's owner changing it in a loop through another
 * host must not keep root's revoke out. Others' deletions are checked
 * like any write, against the record their rights were decided on.
 */
static int
send_change(struct fleet *f, const struct store_change *c, int admin,
    uint64_t deadline, char *err, size_t errsz)
{
	char		 ver[24], kind[2] = { c->kind, '\0' };
	const char	*vals[4];
	int		 lens[4] = { -1, -1, -1, -1 };
	int		 t = c->kind == STORE_FLEET_TENANT, n;

	snprintf(ver, sizeof(ver), "%" PRIu64, c->version);
	vals[0] = c->id;
	if (c->rec == NULL) {
		vals[1] = kind;
		vals[2] = admin || c->version == 0 ? NULL : ver;
		return fleet_send(f, f->wconn, 0, deadline, sql_delete, 3, vals,
		    lens, err, errsz);
	}
	vals[1] = (const char *)c->rec;
	lens[1] = (int)c->len;
	vals[2] = c->version == 0 ? c->group : ver;
	vals[3] = c->group;
	n = c->version == 0 ? 2 + t : 3 + t;
	return fleet_send(f, f->wconn, 0, deadline, c->version == 0 ?
	    sql_insert[t] : sql_update[t], n, vals, lens, err, errsz);
}

/*
 * Reads the result of one change's statement: 0 with c->new_version set,
 * 1 when the record was not as read (a conflict), -1 with err.
 */
static int
read_change(struct fleet *f, struct store_change *c, uint64_t deadline,
    char *err, size_t errsz)
{
	PGresult	*r, *end;
	int		 rc;

	if (fleet_recv(f, f->wconn, 0, deadline, &r, err, errsz) != 0)
		return -1;
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		pq_message("the database", r != NULL ?
		    PQresultErrorMessage(r) : PQerrorMessage(f->wconn), err,
		    errsz);
		rc = -1;
	} else if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
		rc = 1;
	else {
		c->new_version = fleet_u64(r, 0, 0);
		rc = 0;
	}
	PQclear(r);
	/* Each statement's results end with a NULL. */
	if (fleet_recv(f, f->wconn, 0, deadline, &end, err, errsz) != 0)
		return -1;
	PQclear(end);
	return rc;
}

/* A deletion that matched no row: the record is gone already (another
 * host's revoke). Its tombstone is at or below the head, which then marks
 * it here (store_fleet_versions). */
static int
gone_already(struct fleet *f, struct store_change *c, uint64_t deadline,
    char *err, size_t errsz)
{
	PGresult	*r;
	int		 rc = -1;

	if (fleet_send(f, f->wconn, 0, deadline, FLEET_HEAD_SQL, 0, NULL,
	    NULL, err, errsz) != 0 ||
	    fleet_recv(f, f->wconn, 0, deadline, &r, err, errsz) != 0)
		return -1;
	if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK) {
		c->new_version = fleet_u64(r, 0, 0);
		rc = 0;
	} else
		pq_message("the database", r != NULL ?
		    PQresultErrorMessage(r) : PQerrorMessage(f->wconn), err,
		    errsz);
	PQclear(r);
	while (fleet_recv(f, f->wconn, 0, deadline, &r, err, errsz) == 0 &&
	    r != NULL)
		PQclear(r);
	return rc;
}

/* Runs one statement without rows on the write connection. */
static int
wcmd(struct fleet *f, const char *sql, uint64_t deadline, char *err,
    size_t errsz)
{
	PGresult	*r;
	int		 rc = -1;

	if (fleet_send(f, f->wconn, 0, deadline, sql, 0, NULL, NULL, err,
	    errsz) != 0)
		return -1;
	while (fleet_recv(f, f->wconn, 0, deadline, &r, err, errsz) == 0) {
		if (r == NULL)
			return rc;
		if (PQresultStatus(r) == PGRES_COMMAND_OK ||
		    PQresultStatus(r) == PGRES_TUPLES_OK)
			rc = 0;
		else
			pq_message("the database", PQresultErrorMessage(r),
			    err, errsz);
		PQclear(r);
	}
	return -1;
}

/*
 * Before a snapshot, the store has no versions to write against; with
 * another pepper, its hashes would match no host's keys. A daemon just
 * started is usually in step within milliseconds, so a request waits for
 * its first pass a little (a script that starts apikeyd and then adds a
 * tenant should not fail), but not once that pass has failed, and never
 * long: the admin thread serves everyone, and apikeyctl waits 2 s.
 */
#define READY_WAIT_MS	1000

static int
wait_ready(struct fleet *f, char *err, size_t errsz)
{
	struct timespec	ts;
	int		rc = 0;

	if (atomic_load(&f->ready)) {
		/* The follow thread lost the database and waits to try
		 * again: no use waiting fleet_timeout to learn the same. */
		pthread_mutex_lock(&f->mu);
		if (!atomic_load(&f->connected) && f->error[0] != '\0') {
			snprintf(err, errsz, "%s", f->error);
			rc = -1;
		}
		pthread_mutex_unlock(&f->mu);
		return rc;
	}
	clock_deadline(&ts, f->cfg->fleet_timeout_ms < READY_WAIT_MS ?
	    f->cfg->fleet_timeout_ms : READY_WAIT_MS);
	pthread_mutex_lock(&f->mu);
	while (!atomic_load(&f->ready) && f->error[0] == '\0' && rc == 0)
		rc = pthread_cond_timedwait(&f->ready_cv, &f->mu, &ts);
	if (!atomic_load(&f->ready))
		snprintf(err, errsz, "not in step with the fleet database yet"
		    "%s%s", f->error[0] != '\0' ? ": " : "", f->error);
	pthread_mutex_unlock(&f->mu);
	return atomic_load(&f->ready) ? 0 : -1;
}

static void
drop_write(struct fleet *f)
{
	PQfinish(f->wconn);
	f->wconn = NULL;
}

/*
 * Begins a transaction holding the writers' lock. A kept connection the
 * server has closed since (a restart, pg_terminate_backend) shows only
 * when used: nothing was sent in a transaction yet, so one new
 * connection may try again.
 */
/*
 * A write this host gave up on must not go on waiting in the server,
 * holding the writers' lock that every host's writes wait for: its
 * server process is told to give up on locks and statements a second
 * after this host does (not before: the host's own deadline says why),
 * and (PostgreSQL 14 and later) to notice a closed connection within a
 * second while it waits.
 */
static int
write_session(struct fleet *f, uint64_t deadline, char *err, size_t errsz)
{
	static const char *const what[] = { "lock_timeout",
	    "statement_timeout" };
	char	sql[80];
	size_t	i;

	for (i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		snprintf(sql, sizeof(sql), "SET %s = %llu", what[i],
		    (unsigned long long)f->cfg->fleet_timeout_ms + 1000);
		if (wcmd(f, sql, deadline, err, errsz) != 0)
			return -1;
	}
	if (PQserverVersion(f->wconn) >= 140000 && wcmd(f,
	    "SET client_connection_check_interval = 1000", deadline, err,
	    errsz) != 0)
		return -1;
	return 0;
}

static int
begin(struct fleet *f, uint64_t deadline, char *err, size_t errsz)
{
	int	tries;

	for (tries = f->wconn != NULL ? 2 : 1; tries > 0; tries--) {
		if (f->wconn == NULL &&
		    ((f->wconn = fleet_connect(f, 0, err, errsz)) == NULL ||
		    write_session(f, deadline, err, errsz) != 0))
			return -1;
		if (wcmd(f, "BEGIN", deadline, err, errsz) == 0)
			return wcmd(f, "SELECT pg_advisory_xact_lock("
			    FLEET_LOCK ")", deadline, err, errsz);
		drop_write(f);
	}
	return -1;
}

/*
 * Sends every change in one pipeline, then reads their results: 0, or the
 * index + 1 of the first change that was not as read (a conflict), or -1
 * with err. The pipeline ends idle either way.
 */
static long
pipeline(struct fleet *f, struct store_change *v, size_t n, int admin,
    uint64_t deadline, char *err, size_t errsz)
{
	PGresult	*r;
	size_t		 i;
	long		 conflict = 0;
	int		 rc, failed = 0;

	if (!PQenterPipelineMode(f->wconn)) {
		pq_message("the database", PQerrorMessage(f->wconn), err,
		    errsz);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (send_change(f, &v[i], admin, deadline, err, errsz) != 0)
			return -1;
	if (!PQpipelineSync(f->wconn) ||
	    fleet_flush(f, f->wconn, 0, deadline, err, errsz) != 0)
		return -1;
	for (i = 0; i < n && !failed; i++) {
		rc = read_change(f, &v[i], deadline, err, errsz);
		if (rc == 1 && v[i].rec == NULL && conflict == 0 &&
		    (admin || v[i].version == 0)) {
			/* Nothing to delete: the record is gone already. */
			v[i].new_version = 0;
			continue;
		}
		if (rc == 1 && conflict == 0)
			conflict = (long)i + 1;
		failed = rc < 0;
	}
	if (failed)
		return -1;
	/* The sync's own result, then out of pipeline mode. */
	if (fleet_recv(f, f->wconn, 0, deadline, &r, err, errsz) != 0)
		return -1;
	rc = r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
	PQclear(r);
	if (!rc || !PQexitPipelineMode(f->wconn)) {
		pq_message("the database", PQerrorMessage(f->wconn), err,
		    errsz);
		return -1;
	}
	/* Deletions of what was gone already: marked at the head. */
	for (i = 0; conflict == 0 && i < n; i++)
		if (v[i].rec == NULL && v[i].new_version == 0 &&
		    gone_already(f, &v[i], deadline, err, errsz) != 0)
			return -1;
	return conflict;
}

int
fleet_write(struct fleet *f, struct store_change *v, size_t n, int admin,
    char *err, size_t errsz)
{
	uint64_t	 deadline;
	long		 conflict;
	int		 rc;

	if (wait_ready(f, err, errsz) != 0)
		return FLEET_EUNAVAIL;
	deadline = clock_now_ms() + f->cfg->fleet_timeout_ms;
	if (begin(f, deadline, err, errsz) != 0 ||
	    (conflict = pipeline(f, v, n, admin, deadline, err, errsz)) < 0) {
		/* Nothing was committed: the connection goes, and the
		 * transaction with it. */
		drop_write(f);
		return FLEET_EUNAVAIL;
	}
	if (conflict > 0) {
		snprintf(err, errsz, "%s %s changed meanwhile through another "
		    "host", v[conflict - 1].kind == STORE_FLEET_KEY ? "key" :
		    "tenant", v[conflict - 1].id);
		if (wcmd(f, "ROLLBACK", deadline, err, errsz) != 0)
			drop_write(f);
		fleet_kick(f);	/* bring the newer record here */
		return FLEET_ECONFLICT;
	}
	if (wcmd(f, "COMMIT", deadline, err, errsz) != 0) {
		/* An error reply means a rollback; silence, that the commit
		 * may or may not have happened. */
		rc = PQstatus(f->wconn) == CONNECTION_OK &&
		    PQtransactionStatus(f->wconn) == PQTRANS_IDLE ?
		    FLEET_EUNAVAIL : FLEET_EUNKNOWN;
		drop_write(f);
		return rc;
	}
	fleet_kick(f);
	return FLEET_OK;
}
