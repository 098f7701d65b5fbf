/*
 * fleet_int.h - what fleet.c (the thread, connections, status),
 * fleet_sync.c (snapshot, follow, digest) and fleet_write.c (management
 * writes) share. With fleet_url.c (the check of fleet_url), the only
 * files that include <libpq-fe.h>.
 */
#ifndef APIKEY_FLEET_INT_H
#define APIKEY_FLEET_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "fleet.h"

/* The schema version this code reads and writes (sql/schema.sql). */
#define FLEET_SCHEMA	1
/* The changelog writers' advisory lock, as in sql/schema.sql. */
#define FLEET_LOCK	"1634757497"
/* The database's head: the highest seq, even once pruned away. */
#define FLEET_HEAD_SQL "SELECT greatest(coalesce((SELECT max(seq) FROM " \
	"apikeyd.changelog), 0), (SELECT pruned_through FROM " \
	"apikeyd.horizon))::int8"
/* Changelog rows per fetch, and snapshot rows per cursor fetch. */
#define FLEET_BATCH	1000
#define FLEET_SNAP_BATCH 10000
/* How often tenants' groups are looked up again (a group made on this
 * host after its tenant arrived). */
#define FLEET_REGROUP_MS (60 * 1000)
/* The least time a follow-thread statement may take (a snapshot's fetch,
 * the digest over every row). */
#define FLEET_FOLLOW_TIMEOUT_MS (60 * 1000)

struct fleet {
	const struct config	*cfg;
	struct store		*store;
	const struct pepper	*pepper;

	pthread_t		 thread;
	int			 wakefd;	/* eventfd: stop, or look now */
	atomic_int		 stop;

	/* The follow thread's own; cancel is shared with fleet_close. */
	PGconn			*conn;
	uint64_t		 next_digest_ms;
	uint64_t		 last_regroup_ms;
	int			 need_snapshot;

	/* The admin thread's own. */
	PGconn			*wconn;

	/* Status: atomics for the counters, mu for the text. */
	atomic_int		 connected;
	/* The pepper was checked and a snapshot loaded: writes may go.
	 * It stays set when a session drops: the versions the store holds
	 * may then be old, which the database tells (a conflict). */
	atomic_int		 ready;
	_Atomic uint64_t	 last_seq;
	_Atomic uint64_t	 head_seq;
	_Atomic uint64_t	 synced_at;	/* wall seconds */
	_Atomic uint64_t	 synced_ms;	/* monotonic */
	atomic_int		 digest;
	pthread_mutex_t		 mu;
	pthread_cond_t		 ready_cv;	/* ready became 1 (mu) */
	char			 error[256];
};

/* fleet.c */
/* About ms, give or take a quarter: the fleet's hosts do not all meet
 * the database in the same millisecond. Thread-safe. */
uint64_t fleet_jitter(uint64_t ms);
/*
 * Opens a connection (the follow thread's with stopping set, which a
 * stop interrupts): NULL with a message in err.
 */
PGconn	*fleet_connect(struct fleet *, int stopping, char *err,
	    size_t errsz);
/* The deadline of a statement begun now: fleet_timeout, or on the follow
 * thread (stopping) at least FLEET_FOLLOW_TIMEOUT_MS. */
uint64_t fleet_deadline(const struct fleet *, int stopping);
/* Sends one statement (parameters as fleet_exec) and flushes it, within
 * deadline: 0, or -1 with err. */
int	fleet_send(struct fleet *, PGconn *, int stopping, uint64_t deadline,
	    const char *sql, int n, const char *const *vals, const int *lens,
	    char *err, size_t errsz);
/* Sends what libpq holds for the socket, within deadline (a pipeline's
 * statements, after PQpipelineSync): 0, or -1 with err. */
int	fleet_flush(struct fleet *, PGconn *, int stopping, uint64_t deadline,
	    char *err, size_t errsz);
/* The next result (NULL at the end of a statement's), within deadline:
 * 0, or -1 with err. The caller clears it. */
int	fleet_recv(struct fleet *, PGconn *, int stopping, uint64_t deadline,
	    PGresult **out, char *err, size_t errsz);
/* libpq's message msg (its first line), after what, into err. */
void	pq_message(const char *what, const char *msg, char *err,
	    size_t errsz);
/*
 * Runs one statement with parameters (text, but for bytea ones given a
 * length in lens) and binary results, within fleet_deadline(); a stop
 * ends the follow thread's wait (stopping). The result, or NULL with a
 * message in err; a result that is not a success is cleared and NULL.
 */
PGresult *fleet_exec(struct fleet *, PGconn *, int stopping,
	    const char *sql, int n, const char *const *vals, const int *lens,
	    char *err, size_t errsz);
/* Runs a statement without parameters or rows: 0 or -1 with err. */
int	fleet_cmd(struct fleet *, PGconn *, int stopping, const char *sql,
	    char *err, size_t errsz);
/* A binary int8 column as a u64 (0 for NULL). */
uint64_t fleet_u64(const PGresult *, int row, int col);
/* The follow path is in step for the first time: writes may go. */
void	fleet_set_ready(struct fleet *);
/* Records a failure for status (and logs it once per new message), or
 * with err NULL, that the last step passed. */
void	fleet_set_error(struct fleet *, const char *err);

/* fleet_sync.c: the follow thread's work. 0, or -1 with err when the
 * connection must be dropped. */
int	fleet_check_pepper(struct fleet *, char *err, size_t errsz);
int	fleet_snapshot(struct fleet *, char *err, size_t errsz);
int	fleet_follow(struct fleet *, char *err, size_t errsz);
int	fleet_compare(struct fleet *, char *err, size_t errsz);
void	fleet_regroup(struct fleet *);

#endif
