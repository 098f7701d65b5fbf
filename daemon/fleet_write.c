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
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "fleet_int.h"
#include "log.h"

/* Statements by kind of record and of change: $1 id, then what each
 * needs. Each returns the version the change gave the record. */
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
/* A deletion's seq is drawn by the AFTER trigger, once the row is gone:
 * currval() in this session is then the tombstone's. */
static const char *const sql_delete[2] = {
	"WITH d AS (DELETE FROM apikeyd.keys WHERE id = $1 AND "
	"version = $2::int8 RETURNING 1) SELECT count(*)::int8 FROM d",
	"WITH d AS (DELETE FROM apikeyd.tenants WHERE id = $1 AND "
	"version = $2::int8 RETURNING 1) SELECT count(*)::int8 FROM d",
};

/*
 * Writes one change. 1 when the record is not as this host read it
 * (a conflict), 0 with c->new_version set, -1 with err.
 */
static int
write_one(struct fleet *f, struct store_change *c, char *err, size_t errsz)
{
	char		 ver[24];
	const char	*vals[4];
	int		 lens[4] = { -1, -1, -1, -1 };
	int		 t = c->kind == STORE_FLEET_TENANT, n;
	PGresult	*r;

	snprintf(ver, sizeof(ver), "%" PRIu64, c->version);
	vals[0] = c->id;
	if (c->rec == NULL) {
		vals[1] = ver;
		if ((r = fleet_exec(f, f->wconn, 0, sql_delete[t], 2, vals,
		    lens, err, errsz)) == NULL)
			return -1;
		n = (int)fleet_u64(r, 0, 0);
		PQclear(r);
		if (n != 1)
			return 1;
		if ((r = fleet_exec(f, f->wconn, 0, "SELECT currval('apikeyd."
		    "changelog_seq')", 0, NULL, NULL, err, errsz)) == NULL)
			return -1;
	} else {
		vals[1] = (const char *)c->rec;
		lens[1] = (int)c->len;
		vals[2] = c->version == 0 ? c->group : ver;
		vals[3] = c->group;
		n = c->version == 0 ? 2 + t : 3 + t;
		if ((r = fleet_exec(f, f->wconn, 0, c->version == 0 ?
		    sql_insert[t] : sql_update[t], n, vals, lens, err,
		    errsz)) == NULL)
			return -1;
		if (PQntuples(r) != 1) {
			PQclear(r);
			return 1;
		}
	}
	c->new_version = fleet_u64(r, 0, 0);
	PQclear(r);
	return 0;
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

	if (atomic_load(&f->ready))
		return 0;
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
static int
begin(struct fleet *f, char *err, size_t errsz)
{
	int	tries;

	for (tries = f->wconn != NULL ? 2 : 1; tries > 0; tries--) {
		if (f->wconn == NULL &&
		    (f->wconn = fleet_connect(f, 0, err, errsz)) == NULL)
			return -1;
		if (fleet_cmd(f, f->wconn, 0, "BEGIN", err, errsz) == 0)
			return fleet_cmd(f, f->wconn, 0, "SELECT "
			    "pg_advisory_xact_lock(" FLEET_LOCK ")", err, errsz);
		drop_write(f);
	}
	return -1;
}

int
fleet_write(struct fleet *f, struct store_change *v, size_t n, char *err,
    size_t errsz)
{
	size_t		 i;
	int		 rc;

	if (wait_ready(f, err, errsz) != 0)
		return FLEET_EUNAVAIL;
	if (begin(f, err, errsz) != 0)
		goto unavail;
	for (i = 0; i < n; i++) {
		if ((rc = write_one(f, &v[i], err, errsz)) < 0)
			goto unavail;
		if (rc > 0) {
			snprintf(err, errsz, "%s %s changed meanwhile through "
			    "another host", v[i].kind == STORE_FLEET_KEY ?
			    "key" : "tenant", v[i].id);
			if (fleet_cmd(f, f->wconn, 0, "ROLLBACK", err,
			    errsz) != 0)
				drop_write(f);
			fleet_kick(f);	/* bring the newer record here */
			return FLEET_ECONFLICT;
		}
	}
	if (fleet_cmd(f, f->wconn, 0, "COMMIT", err, errsz) != 0) {
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
unavail:
	/* Nothing was committed: the connection goes, and the transaction
	 * with it. */
	drop_write(f);
	return FLEET_EUNAVAIL;
}
