/*
 * harness_pg.h - a private PostgreSQL cluster for the fleet tests (issue
 * 12): initdb into a directory of the test's, the server on a Unix socket
 * there (no TCP), sql/schema.sql loaded, statements through psql, and psql
 * sessions held open, so that a test can keep one transaction open while
 * another commits.
 *
 * As root the cluster runs as the postgres user (initdb and postgres
 * refuse root), otherwise as the test's user. The server is a child of the
 * test process, started without pg_ctl so that it dies with the test like
 * every other child of the harness (harness_proc.h); its log is
 * pg_log_path(). Programs come from the highest /usr/lib/postgresql/N/bin
 * ($APIKEY_PG_BIN names another directory), and run without nss_wrapper:
 * the postgres user is not a fixture user.
 *
 * One cluster per test (Criterion runs each in a process of its own). The
 * functions assert (and so end the test) instead of returning errors;
 * strings they return are the harness's, in the pool of it_keep() and
 * it_printf() (harness.h), which it_teardown() frees and which a test
 * without it_teardown() leaves until its process exits. pg_teardown()
 * ends the sessions and the server and removes the directory (kept, and
 * named on stderr, with APIKEY_IT_KEEP=1).
 */
#ifndef APIKEY_TEST_HARNESS_PG_H
#define APIKEY_TEST_HARNESS_PG_H

#include <stddef.h>
#include <stdint.h>

/* The advisory lock every changelog writer holds (sql/schema.sql). */
#define PG_WRITER_LOCK	1634757497

/*
 * Makes dir (NULL: a fresh /tmp/apikey-pg.XXXXXX; else it must not
 * exist), runs initdb in dir/data (UTF8, locale C.UTF-8, trust), starts
 * the server with its socket in dir/sock, and loads sql/schema.sql into
 * the database "postgres". The source tree is the current directory when
 * it holds sql/schema.sql, else $APIKEY_BUILD's parent.
 */
void	pg_start(const char *dir);
/* Fast shutdown (SIGINT): asserts the server exits with status 0. */
void	pg_stop(void);
/* Stops the server if it runs, then starts it again on the same data. */
void	pg_restart(void);
/* Ends the sessions and the server, removes the directory, frees what
 * the harness returned; for .fini, asserts nothing. */
void	pg_teardown(void);

/* "host=DIR/sock dbname=postgres user=postgres", for fleet_url. */
const char *pg_conninfo(void);
const char *pg_dir(void);
const char *pg_log_path(void);
/* The server's log so far. */
const char *pg_log(void);
/* Absolute path of sql/schema.sql. */
const char *pg_schema_path(void);

/* --- statements ----------------------------------------------------------- */

/*
 * Runs one psql -c (several statements in it run in one transaction) in
 * the database "postgres", unaligned and tuples only, and returns its
 * standard output without the trailing newlines. Asserts exit status 0.
 */
const char *pg_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for a statement that may fail: returns psql's exit status (1
 * or 3 for an error in the statement, 2 when the server is away); out
 * and err may be NULL. */
int	pg_sql_try(const char **out, const char **err, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Polls query until it succeeds with output equal to want, or fails the
 * test after ms, showing the last output. */
void	pg_wait_sql(const char *query, const char *want, int ms);
/* A count or seq pg_sql() printed, asserted to be one. */
uint64_t pg_u64(const char *text);
/* psql -1 -v ON_ERROR_STOP=1 -f sql/schema.sql into database db; returns
 * the exit status, psql's standard error in *err (may be NULL). */
int	pg_load_schema_try(const char *db, const char **err);

/* --- sessions ------------------------------------------------------------- */

/*
 * A psql reading statements from a pipe, in the database "postgres", its
 * standard output and error in one pipe, so errors and notifications come
 * in order with the results. ON_ERROR_STOP is off: a failed statement
 * leaves the session running (in an aborted transaction, if in one).
 */
struct pg_session;

struct pg_session *pg_session_open(void);
/* The session's server process id, for pg_locks and pg_stat_activity. */
int	pg_session_backend(const struct pg_session *);
/* Writes fmt and a newline to the session; does not wait. */
void	pg_session_send(struct pg_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Waits up to ms until the session has run everything sent so far (a
 * marker \echo comes back) and returns what it printed since the last
 * sync, harness-owned. psql prints notifications ("Asynchronous
 * notification ...") only after a statement, so send one first.
 */
const char *pg_session_sync(struct pg_session *, int ms);
/* Closes its input and waits for psql to exit; returns its exit status.
 * Frees the handle. */
int	pg_session_close(struct pg_session *);
/* Runs what was sent to s and asserts it printed nothing. */
void	pg_session_quiet(struct pg_session *);

#endif
