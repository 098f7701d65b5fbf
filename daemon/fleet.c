/*
 * fleet.c - fleet mode's thread, connections and status (fleet.h).
 *
 * libpq is used asynchronously (PQconnectStartParams, PQsendQueryParams,
 * non-blocking connections) so that every wait is a poll() this file
 * bounds: by a deadline (fleet_timeout, or fleet_deadline() for the follow
 * thread's statements), and on the follow thread also by the eventfd a
 * stop writes to. A database that hangs can then delay a management reply
 * by fleet_timeout at most, and never a stop; the verify loops never wait
 * on it at all.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "fleet_int.h"
#include "log.h"

void
fleet_set_ready(struct fleet *f)
{
	pthread_mutex_lock(&f->mu);
	atomic_store(&f->ready, 1);
	pthread_cond_broadcast(&f->ready_cv);
	pthread_mutex_unlock(&f->mu);
}

void
fleet_set_error(struct fleet *f, const char *err)
{
	int	changed;

	pthread_mutex_lock(&f->mu);
	if (err == NULL) {
		changed = f->error[0] != '\0';
		f->error[0] = '\0';
	} else {
		changed = strcmp(f->error, err) != 0;
		snprintf(f->error, sizeof(f->error), "%s", err);
		/* A request waiting for the first pass stops waiting. */
		pthread_cond_broadcast(&f->ready_cv);
	}
	pthread_mutex_unlock(&f->mu);
	/* Once per new failure: a database down for an hour is one line,
	 * not one per retry. */
	if (changed && err != NULL)
		log_warnx("fleet: %s", err);
	else if (changed)
		log_info("fleet: in step with the database again");
}

/* libpq's messages end in a newline and may span lines: the first. */
void
pq_message(const char *what, const char *msg, char *err, size_t errsz)
{
	size_t	n;

	n = strcspn(msg != NULL ? msg : "", "\n");
	snprintf(err, errsz, "%s: %.*s", what, (int)n,
	    msg != NULL && n > 0 ? msg : "failed");
}

/* Consumes the eventfd's count: whatever it asked for is looked at now. */
static void
drain(int fd)
{
	uint64_t	v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return;	/* nothing pending */
}

/*
 * Waits for fd to be ready for events until deadline (monotonic ms). The
 * follow thread (stopping) also wakes for the eventfd: a stop ends the
 * wait (-1, "stopping"); a request to look now is consumed and the wait
 * goes on. 0 when ready, -1 with err otherwise.
 */
static int
wait_fd(struct fleet *f, int fd, short events, int stopping,
    uint64_t deadline, char *err, size_t errsz)
{
	struct pollfd	 p[2];
	uint64_t	 now;
	int		 n;

	for (;;) {
		if (stopping && atomic_load(&f->stop)) {
			snprintf(err, errsz, "stopping");
			return -1;
		}
		now = clock_now_ms();
		if (now >= deadline && stopping) {
			snprintf(err, errsz, "no answer from the database in "
			    "time");
			return -1;
		}
		if (now >= deadline) {
			snprintf(err, errsz, "no answer from the database "
			    "within fleet_timeout (%" PRIu64 " ms)",
			    f->cfg->fleet_timeout_ms);
			return -1;
		}
		p[0].fd = fd;
		p[0].events = events;
		p[1].fd = f->wakefd;
		p[1].events = POLLIN;
		n = poll(p, stopping ? 2 : 1, (int)(deadline - now));
		if (n < 0 && errno != EINTR) {
			snprintf(err, errsz, "poll: %s", strerror(errno));
			return -1;
		}
		if (n > 0 && stopping && (p[1].revents & POLLIN))
			drain(f->wakefd);
		if (n > 0 && p[0].revents != 0)
			return 0;
	}
}

static void
notice(void *arg, const char *msg)
{
	(void)arg;
	log_debug("fleet: the database says: %.*s", (int)strcspn(msg, "\n"),
	    msg);
}

PGconn *
fleet_connect(struct fleet *f, int stopping, char *err, size_t errsz)
{
	/* Ours first: what fleet_url says, expanded last, wins. */
	static const char *const kw[] = {
		"fallback_application_name", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "dbname", NULL
	};
	const char	*vals[] = {
		"apikeyd", "10", "5", "3", f->cfg->fleet_url, NULL
	};
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn		*c;
	PGresult	*r;
	uint64_t	 deadline, v;

	if ((c = PQconnectStartParams(kw, vals, 1)) == NULL) {
		snprintf(err, errsz, "connect: out of memory");
		return NULL;
	}
	deadline = clock_now_ms() + f->cfg->fleet_timeout_ms;
	while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED)
			break;
		if (wait_fd(f, PQsocket(c), st == PGRES_POLLING_READING ?
		    POLLIN : POLLOUT, stopping, deadline, err, errsz) != 0) {
			PQfinish(c);
			return NULL;
		}
		st = PQconnectPoll(c);
	}
	if (PQstatus(c) != CONNECTION_OK) {
		pq_message("cannot connect to the database", PQerrorMessage(c),
		    err, errsz);
		PQfinish(c);
		return NULL;
	}
	/* libpq would print the server's notices on stderr. */
	PQsetNoticeProcessor(c, notice, NULL);
	if (PQsetnonblocking(c, 1) != 0) {
		pq_message("the database", PQerrorMessage(c), err, errsz);
		PQfinish(c);
		return NULL;
	}
	if ((r = fleet_exec(f, c, stopping, "SELECT max(version)::int8 "
	    "FROM apikeyd.schema_version", 0, NULL, NULL, err,
	    errsz)) == NULL) {
		if (strstr(err, "does not exist") != NULL)
			snprintf(err, errsz, "the database has no apikeyd "
			    "schema: load sql/schema.sql into it (README, "
			    "Fleet)");
		PQfinish(c);
		return NULL;
	}
	v = fleet_u64(r, 0, 0);
	PQclear(r);
	if (v != FLEET_SCHEMA) {
		snprintf(err, errsz, "the database's apikeyd schema is version "
		    "%" PRIu64 "; this apikeyd reads version %d", v,
		    FLEET_SCHEMA);
		PQfinish(c);
		return NULL;
	}
	return c;
}

int
fleet_send(struct fleet *f, PGconn *c, int stopping, uint64_t deadline,
    const char *sql, int n, const char *const *vals, const int *lens,
    char *err, size_t errsz)
{
	int	fmts[8] = { 0 }, i;

	if (n > 8) {
		snprintf(err, errsz, "too many parameters");
		return -1;
	}
	for (i = 0; lens != NULL && i < n; i++)
		fmts[i] = lens[i] >= 0;
	if (!PQsendQueryParams(c, sql, n, NULL, vals, lens, fmts, 1)) {
		pq_message("the database", PQerrorMessage(c), err, errsz);
		return -1;
	}
	/* In a pipeline, statements queue until the sync's flush. */
	if (PQpipelineStatus(c) != PQ_PIPELINE_OFF)
		return 0;
	return fleet_flush(f, c, stopping, deadline, err, errsz);
}

int
fleet_flush(struct fleet *f, PGconn *c, int stopping, uint64_t deadline,
    char *err, size_t errsz)
{
	int	rc;

	/* Non-blocking: what does not fit the socket waits in libpq until
	 * the socket takes it, within the deadline. */
	while ((rc = PQflush(c)) == 1) {
		if (wait_fd(f, PQsocket(c), POLLIN | POLLOUT, stopping,
		    deadline, err, errsz) != 0)
			return -1;
		if (!PQconsumeInput(c))
			break;
	}
	if (rc != 0) {
		pq_message("the database", PQerrorMessage(c), err, errsz);
		return -1;
	}
	return 0;
}

int
fleet_recv(struct fleet *f, PGconn *c, int stopping, uint64_t deadline,
    PGresult **out, char *err, size_t errsz)
{
	while (PQisBusy(c)) {
		if (wait_fd(f, PQsocket(c), POLLIN, stopping, deadline, err,
		    errsz) != 0)
			return -1;
		if (!PQconsumeInput(c)) {
			pq_message("the database", PQerrorMessage(c), err,
			    errsz);
			return -1;
		}
	}
	*out = PQgetResult(c);
	return 0;
}

uint64_t
fleet_deadline(const struct fleet *f, int stopping)
{
	uint64_t	ms = f->cfg->fleet_timeout_ms;

	/* The follow thread's statements may read a whole table's worth;
	 * a stop still ends their wait at once. */
	if (stopping && ms < FLEET_FOLLOW_TIMEOUT_MS)
		ms = FLEET_FOLLOW_TIMEOUT_MS;
	return clock_now_ms() + ms;
}

PGresult *
fleet_exec(struct fleet *f, PGconn *c, int stopping, const char *sql,
    int n, const char *const *vals, const int *lens, char *err,
    size_t errsz)
{
	PGresult	*r, *last = NULL;
	uint64_t	 deadline = fleet_deadline(f, stopping);
	ExecStatusType	 st;

	if (fleet_send(f, c, stopping, deadline, sql, n, vals, lens, err,
	    errsz) != 0)
		return NULL;
	for (;;) {
		if (fleet_recv(f, c, stopping, deadline, &r, err, errsz) != 0) {
			PQclear(last);
			return NULL;
		}
		if (r == NULL)
			break;
		PQclear(last);
		last = r;
	}
	st = last != NULL ? PQresultStatus(last) : PGRES_FATAL_ERROR;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		pq_message("the database", last != NULL ?
		    PQresultErrorMessage(last) : PQerrorMessage(c), err, errsz);
		PQclear(last);
		return NULL;
	}
	return last;
}

int
fleet_cmd(struct fleet *f, PGconn *c, int stopping, const char *sql,
    char *err, size_t errsz)
{
	PGresult	*r;

	if ((r = fleet_exec(f, c, stopping, sql, 0, NULL, NULL, err,
	    errsz)) == NULL)
		return -1;
	PQclear(r);
	return 0;
}

uint64_t
fleet_u64(const PGresult *r, int row, int col)
{
	const unsigned char	*p;
	uint64_t		 v = 0;
	int			 i;

	if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
		return 0;
	p = (const unsigned char *)PQgetvalue(r, row, col);
	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
drop(struct fleet *f)
{
	PQfinish(f->conn);
	f->conn = NULL;
	atomic_store(&f->connected, 0);
}

/* Drops the notifications libpq holds: 1 when there were any. */
static int
notified(PGconn *c)
{
	PGnotify	*n;
	int		 any = 0;

	while ((n = PQnotifies(c)) != NULL) {
		PQfreemem(n);
		any = 1;
	}
	return any;
}

/*
 * Waits up to ms for a notification, a request to look, or a stop. A
 * notification that came in with the last statement's reply is already in
 * libpq's queue, not on the socket: its change may have committed after
 * that statement's snapshot, so it ends the wait at once.
 */
static int
idle(struct fleet *f, uint64_t ms, char *err, size_t errsz)
{
	struct pollfd	 p[2];
	int		 np = 1;

	if (f->conn != NULL && notified(f->conn))
		return 0;
	p[0].fd = f->wakefd;
	p[0].events = POLLIN;
	if (f->conn != NULL) {
		p[1].fd = PQsocket(f->conn);
		p[1].events = POLLIN;
		np = 2;
	}
	if (poll(p, np, (int)ms) > 0 && (p[0].revents & POLLIN))
		drain(f->wakefd);
	if (f->conn == NULL)
		return 0;
	if (!PQconsumeInput(f->conn)) {
		pq_message("the database", PQerrorMessage(f->conn), err,
		    errsz);
		return -1;
	}
	(void)notified(f->conn);
	return 0;
}

/* One session: connect, check, load a snapshot if needed, then follow. */
static int
session(struct fleet *f, char *err, size_t errsz)
{
	uint64_t	now;

	if (f->conn == NULL) {
		if ((f->conn = fleet_connect(f, 1, err, errsz)) == NULL)
			return -1;
		if (fleet_cmd(f, f->conn, 1, "LISTEN apikeyd", err,
		    errsz) != 0 || fleet_check_pepper(f, err, errsz) != 0)
			return -1;
		atomic_store(&f->connected, 1);
	}
	if (f->need_snapshot && fleet_snapshot(f, err, errsz) != 0)
		return -1;
	if (fleet_follow(f, err, errsz) != 0)
		return -1;
	if (f->need_snapshot)
		return 0;	/* the changelog was pruned past us */
	if (!atomic_load(&f->ready))
		fleet_set_ready(f);
	now = clock_now_ms();
	if (f->cfg->fleet_digest_ms != 0 && now >= f->next_digest_ms &&
	    fleet_compare(f, err, errsz) != 0)
		return -1;
	if (now - f->last_regroup_ms >= FLEET_REGROUP_MS) {
		fleet_regroup(f);
		f->last_regroup_ms = now;
	}
	return 0;
}

uint64_t
fleet_jitter(uint64_t ms)
{
	static _Thread_local unsigned	seed;

	if (seed == 0)
		seed = (unsigned)getpid() ^ (unsigned)clock_now_ms();
	return ms < 4 ? ms : ms * 3 / 4 + (uint64_t)rand_r(&seed) % (ms / 2);
}

/*
 * The follow thread. A session that fails is dropped and tried again at
 * once (a restarted server, a killed backend: a connection that worked
 * is likely to work again), then every fleet_poll_interval.
 */
static void *
run(void *arg)
{
	struct fleet	*f = arg;
	char		 err[512];
	unsigned	 failures = 0;

	(void)pthread_setname_np(pthread_self(), "apikeyd-fleet");
	while (!atomic_load(&f->stop)) {
		err[0] = '\0';
		if (session(f, err, sizeof(err)) != 0) {
			if (atomic_load(&f->stop))
				break;
			fleet_set_error(f, err);
			drop(f);
			if (failures++ > 0)
				(void)idle(f, fleet_jitter(f->cfg->fleet_poll_ms),
				    err, sizeof(err));
			continue;
		}
		failures = 0;
		if (f->need_snapshot)
			continue;	/* the changelog was pruned past us */
		fleet_set_error(f, NULL);
		if (idle(f, f->cfg->fleet_poll_ms, err, sizeof(err)) != 0) {
			fleet_set_error(f, err);
			drop(f);
		}
	}
	drop(f);
	return NULL;
}

int
fleet_open(const struct config *cfg, struct store *store,
    const struct pepper *pepper, struct fleet **out, char *err,
    size_t errsz)
{
	struct store_txn *txn;
	struct fleet	*f;
	uint64_t	 seq, keys, tenants, unreadable = 0;
	int		 loaded, rc;

	if ((rc = store_read_begin(store, &txn)) == 0) {
		if ((rc = store_fleet_seq(txn, &seq, &loaded)) == 0 &&
		    (rc = store_stat(txn, &keys, &tenants)) == 0)
			rc = store_fleet_unreadable(txn, &unreadable);
		store_end(txn);
	}
	if (rc != 0) {
		snprintf(err, errsz, "%s", store_strerror(rc));
		return -1;
	}
	if (!loaded && keys + tenants > 0) {
		snprintf(err, errsz, "fleet_url is set, but the store in %s "
		    "holds %" PRIu64 " keys and %" PRIu64 " tenants of a "
		    "single host, which the fleet's snapshot would replace: "
		    "start fleet mode on an empty state directory (README, "
		    "Fleet)", cfg->state_dir, keys, tenants);
		return -1;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	f->cfg = cfg;
	f->store = store;
	f->pepper = pepper;
	f->need_snapshot = !loaded || unreadable > 0;
	if (loaded && unreadable > 0)
		log_info("fleet: %" PRIu64 " records could not be read here "
		    "before: loading a snapshot, which this apikeyd may read",
		    unreadable);
	atomic_store(&f->last_seq, seq);
	f->next_digest_ms = clock_now_ms();	/* once in step */
	f->last_regroup_ms = clock_now_ms();
	if ((f->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		snprintf(err, errsz, "eventfd: %s", strerror(errno));
		free(f);
		return -1;
	}
	if (pthread_mutex_init(&f->mu, NULL) != 0 ||
	    clock_cond_init(&f->ready_cv) != 0) {
		snprintf(err, errsz, "out of memory");
		close(f->wakefd);
		free(f);
		return -1;
	}
	store_fleet_journal(store, 1);
	if ((rc = pthread_create(&f->thread, NULL, run, f)) != 0) {
		snprintf(err, errsz, "cannot start the fleet thread: %s",
		    strerror(rc));
		store_fleet_journal(store, 0);
		close(f->wakefd);
		pthread_cond_destroy(&f->ready_cv);
		pthread_mutex_destroy(&f->mu);
		free(f);
		return -1;
	}
	*out = f;
	return 0;
}

void
fleet_kick(struct fleet *f)
{
	uint64_t	one = 1;

	/* Only a counter at its maximum refuses: a wake-up is pending. */
	if (write(f->wakefd, &one, sizeof(one)) != sizeof(one))
		return;
}

void
fleet_close(struct fleet *f)
{
	if (f == NULL)
		return;
	atomic_store(&f->stop, 1);
	fleet_kick(f);
	pthread_join(f->thread, NULL);	/* a fleet exists once it runs */
	PQfinish(f->wconn);
	close(f->wakefd);
	pthread_cond_destroy(&f->ready_cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void
fleet_status(struct fleet *f, struct fleet_status *out)
{
	memset(out, 0, sizeof(*out));
	out->connected = atomic_load(&f->connected);
	out->last_seq = atomic_load(&f->last_seq);
	out->head_seq = atomic_load(&f->head_seq);
	out->synced_at = atomic_load(&f->synced_at);
	out->digest = atomic_load(&f->digest);
	pthread_mutex_lock(&f->mu);
	memcpy(out->error, f->error, sizeof(out->error));
	pthread_mutex_unlock(&f->mu);
}

uint64_t
fleet_synced_ms(const struct fleet *f)
{
	return atomic_load_explicit(&f->synced_ms, memory_order_relaxed);
}
