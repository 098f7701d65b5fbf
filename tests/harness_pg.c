/*
 * harness_pg.c - the private PostgreSQL cluster of the fleet tests; see
 * harness_pg.h.
 *
 * The server is started as "postgres -D DATA -k SOCK", not through
 * pg_ctl, which would detach it: as a child of the test it gets
 * PR_SET_PDEATHSIG (as root through setpriv --pdeathsig, since the change
 * of uid clears the request it_proc_spawn() made), so a test that crashes
 * or times out leaves no server behind. Its readiness is read where
 * pg_ctl -w reads it, the status line of DATA/postmaster.pid.
 *
 * Each test runs in a process of its own (Criterion), so the state below
 * is one static struct; pg_teardown() frees it. Nothing sleeps to wait
 * for an event: the server's start is polled with a deadline, its exit
 * waited for on a pidfd (harness_proc.c). Programs run to their end as
 * apikeyctl does (ith_run_capture()).
 *
 * Strings go to harness.c's pool (it_keep(), it_printf()), which needs
 * no it_prepare(): a test of this file alone (tests/it_fleet_schema.c)
 * never calls it_teardown(), so they stay reachable from harness.c's
 * state until the test's process exits, which LeakSanitizer does not
 * report; with it_teardown() (the fleet tests) they are freed there.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "harness.h"
#include "harness_int.h"
#include "harness_pg.h"
#include "harness_proc.h"

#define PG_MAX_ARGS	32
#define PG_MAX_SESSIONS	8
/* initdb writes a few hundred files; several tests may run one at once. */
#define PG_INITDB_MS	(6 * IT_DEADLINE_MS)
#define PG_START_MS	(3 * IT_DEADLINE_MS)
#define PG_PSQL_MS	IT_DEADLINE_MS
/* The end of the server's log in failure messages. */
#define PG_LOG_TAIL	4000

struct pg_session {
	pid_t		 pid;
	int		 in;		/* its standard input */
	struct it_out	 out;		/* its standard output and error */
	size_t		 mark;		/* start of what no sync returned */
	unsigned	 nsync;
	int		 backend;
};

static struct {
	int		 ready;		/* the directory exists */
	char		 dir[PATH_MAX];
	char		 data[PATH_MAX];
	char		 sock[PATH_MAX];
	char		 log[PATH_MAX];
	char		 bin[PATH_MAX];
	char		 schema[PATH_MAX];
	const char	*conninfo;
	char		**env;
	pid_t		 server;	/* 0: not running */
	struct pg_session *sessions[PG_MAX_SESSIONS];
} pg;

/* --- small things --------------------------------------------------------- */

/* s without the newlines at its end, harness-owned. */
static const char *
chomped(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '\n')
		n--;
	return it_keep(strndup(s, n));
}

/* The whole file, or "" when it cannot be read; malloc'd. */
static char *
slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd != -1) {
		while (it_append_fd(fd, &buf, &len, &cap))
			;
		close(fd);
	}
	return buf != NULL ? buf : strdup("");
}

const char *
pg_log(void)
{
	return it_keep(slurp(pg.log));
}

static const char *
log_tail(void)
{
	return it_text_tail(pg_log(), PG_LOG_TAIL);
}

const char *
pg_dir(void)
{
	return pg.dir;
}

const char *
pg_log_path(void)
{
	return pg.log;
}

const char *
pg_conninfo(void)
{
	return pg.conninfo;
}

const char *
pg_schema_path(void)
{
	return pg.schema;
}

/* --- finding things ------------------------------------------------------- */

/* The highest /usr/lib/postgresql/N/bin, as bench/peers.sh picks it. */
static void
find_bin(void)
{
	const char *e = getenv("APIKEY_PG_BIN");
	const char *best = NULL;
	glob_t g;
	size_t i;

	if (e != NULL && *e != '\0')
		snprintf(pg.bin, sizeof(pg.bin), "%s", e);
	else {
		if (glob("/usr/lib/postgresql/*/bin", GLOB_ONLYDIR, NULL,
		    &g) == 0)
			for (i = 0; i < g.gl_pathc; i++)
				if (best == NULL ||
				    strverscmp(g.gl_pathv[i], best) > 0)
					best = g.gl_pathv[i];
		cr_assert_not_null(best, "no /usr/lib/postgresql/*/bin: "
		    "install postgresql (scripts/deps.sh test) or set "
		    "APIKEY_PG_BIN");
		snprintf(pg.bin, sizeof(pg.bin), "%s", best);
		globfree(&g);
	}
	cr_assert(access(it_printf("%s/postgres", pg.bin), X_OK) == 0,
	    "%s/postgres: %s", pg.bin, strerror(errno));
}

/* sql/schema.sql of the source tree: the current directory, as under
 * make, else the build directory's parent (tests/it_install.c does the
 * same). */
static void
find_schema(void)
{
	char build[PATH_MAX], *slash;

	if (realpath("sql/schema.sql", pg.schema) != NULL)
		return;
	/* A realpath(), so it fits. */
	snprintf(build, sizeof(build), "%s", it_build_dir());
	slash = strrchr(build, '/');
	cr_assert(slash != NULL && slash != build, "no parent of %s", build);
	*slash = '\0';
	cr_assert(strlen(build) < sizeof(pg.schema) - 16, "path too long");
	snprintf(pg.schema, sizeof(pg.schema), "%.4000s/sql/schema.sql",
	    build);
	cr_assert(access(pg.schema, R_OK) == 0, "%s: %s", pg.schema,
	    strerror(errno));
}

/*
 * The environment of every PostgreSQL program: the test's without
 * nss_wrapper (the postgres user, and a non-root test's own, are not in
 * the fixture, and initdb, postgres and setpriv look them up) and without
 * the libpq variables that could point psql at another server.
 */
static void
make_env(void)
{
	const char *old = getenv("LD_PRELOAD"), *p, *e, *preload;
	char *keep = NULL;
	size_t n = 0, len;

	if (old != NULL) {
		keep = calloc(1, strlen(old) + 1);
		cr_assert_not_null(keep, "out of memory");
		for (p = old; *p != '\0'; p = e) {
			p += strspn(p, ": ");
			len = strcspn(p, ": ");
			e = p + len;
			if (len == 0 || memmem(p, len, "libnss_wrapper", 14))
				continue;
			if (n > 0)
				keep[n++] = ' ';
			memcpy(keep + n, p, len);
			n += len;
		}
	}
	preload = n > 0 ? it_printf("LD_PRELOAD=%s", keep) : "LD_PRELOAD";
	free(keep);
	pg.env = it_make_env((const char *const[]){ preload,
	    "NSS_WRAPPER_PASSWD", "NSS_WRAPPER_GROUP", "NSS_WRAPPER_HOSTS",
	    "PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE",
	    "PGOPTIONS", "PGSERVICE", "PGDATA", NULL });
}

/* --- processes ------------------------------------------------------------ */

/*
 * Appends to argv, from n, what runs the program that follows as the
 * cluster's owner: as root, setpriv to postgres with no supplementary
 * groups and SIGKILL when the test dies; otherwise nothing.
 */
static size_t
as_owner(const char **argv, size_t n)
{
	if (geteuid() != 0)
		return n;
	argv[n++] = "setpriv";
	argv[n++] = "--reuid=postgres";
	argv[n++] = "--regid=postgres";
	argv[n++] = "--clear-groups";
	argv[n++] = "--pdeathsig=KILL";
	argv[n++] = "--";
	return n;
}

/* Runs argv with pg.env within ms (else fails the test) and asserts exit
 * status 0. */
static void
run_ok(const char *what, const char *const *argv, int ms)
{
	struct it_run r;

	ith_run_capture(argv, pg.env, NULL, ms, &r);
	cr_assert_eq(r.status, 0, "%s: exit %d; stdout:\n%s\nstderr:\n%s",
	    what, r.status, r.out, r.err);
}

/* --- the server ----------------------------------------------------------- */

/* Whether DATA/postmaster.pid names pid and says "ready" (line 8; line
 * 6, the TCP addresses, is empty). */
static int
server_ready(pid_t pid)
{
	char *s = slurp(it_printf("%s/postmaster.pid", pg.data)), *line;
	int i, ok = 0;

	if (atol(s) == (long)pid) {
		for (i = 1, line = s; i < 8 && line != NULL; i++)
			if ((line = strchr(line, '\n')) != NULL)
				line++;
		ok = line != NULL && strncmp(line, "ready", 5) == 0;
	}
	free(s);
	return ok;
}

static void
server_start(void)
{
	const char *argv[PG_MAX_ARGS];
	size_t n;
	int64_t end;
	int fd, status;

	cr_assert_eq(pg.server, 0, "the server is already running");
	fd = open(pg.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	cr_assert(fd != -1, "open %s: %s", pg.log, strerror(errno));
	n = as_owner(argv, 0);
	argv[n++] = it_printf("%s/postgres", pg.bin);
	argv[n++] = "-D";
	argv[n++] = pg.data;
	argv[n++] = "-k";
	argv[n++] = pg.sock;
	argv[n++] = "-c";
	argv[n++] = "listen_addresses=";
	/* A test's data need not survive a crash of the machine. */
	argv[n++] = "-c";
	argv[n++] = "fsync=off";
	/* pg_xact_commit_timestamp(): tests check the order of commits. */
	argv[n++] = "-c";
	argv[n++] = "track_commit_timestamp=on";
	argv[n] = NULL;
	pg.server = it_proc_spawn(argv, pg.env, (const int[3]){ -1, fd, fd },
	    NULL);
	close(fd);
	end = it_now_ms() + PG_START_MS;
	while (!server_ready(pg.server)) {
		/* The poll's spacing, ended early by the server's exit. */
		status = it_proc_wait(pg.server, 10);
		if (status != -1) {
			pg.server = 0;
			cr_assert_fail("postgres exited with status %d; log:\n"
			    "%s", status, log_tail());
		}
		cr_assert(it_now_ms() < end, "postgres not ready within %d "
		    "ms; log:\n%s", PG_START_MS, log_tail());
	}
}

void
pg_start(const char *dir)
{
	const char *argv[PG_MAX_ARGS], *err;
	char tmpl[] = "/tmp/apikey-pg.XXXXXX";
	size_t n;
	int status;

	cr_assert(!pg.ready, "pg_start called twice");
	find_bin();
	find_schema();
	make_env();
	if (dir == NULL) {
		cr_assert_not_null(mkdtemp(tmpl), "mkdtemp: %s",
		    strerror(errno));
		dir = tmpl;
	} else
		cr_assert(mkdir(dir, 0755) == 0, "mkdir %s: %s", dir,
		    strerror(errno));
	cr_assert(strlen(dir) < sizeof(pg.dir) - 64, "path too long: %s",
	    dir);
	snprintf(pg.dir, sizeof(pg.dir), "%s", dir);
	pg.ready = 1;
	/* postgres must reach its directories inside. */
	cr_assert(chmod(pg.dir, 0755) == 0, "chmod %s: %s", pg.dir,
	    strerror(errno));
	snprintf(pg.data, sizeof(pg.data), "%.4000s/data", pg.dir);
	snprintf(pg.sock, sizeof(pg.sock), "%.4000s/sock", pg.dir);
	snprintf(pg.log, sizeof(pg.log), "%.4000s/postgres.log", pg.dir);
	cr_assert(mkdir(pg.data, 0700) == 0 && mkdir(pg.sock, 0755) == 0,
	    "mkdir in %s: %s", pg.dir, strerror(errno));
	/* By name, outside nss_wrapper: the fixture has no postgres user. */
	if (geteuid() == 0)
		run_ok("chown", (const char *const[]){ "chown",
		    "postgres:postgres", pg.data, pg.sock, NULL },
		    PG_PSQL_MS);
	n = as_owner(argv, 0);
	argv[n++] = it_printf("%s/initdb", pg.bin);
	argv[n++] = "-D";
	argv[n++] = pg.data;
	argv[n++] = "-A";
	argv[n++] = "trust";
	argv[n++] = "-U";
	argv[n++] = "postgres";
	argv[n++] = "--no-sync";
	/* Not the machine's locale: the same database everywhere. */
	argv[n++] = "-E";
	argv[n++] = "UTF8";
	argv[n++] = "--locale=C.UTF-8";
	argv[n] = NULL;
	run_ok("initdb", argv, PG_INITDB_MS);
	pg.conninfo = it_printf("host=%s dbname=postgres user=postgres",
	    pg.sock);
	server_start();
	status = pg_load_schema_try("postgres", &err);
	cr_assert_eq(status, 0, "loading %s: exit %d:\n%s", pg.schema,
	    status, err);
}

void
pg_stop(void)
{
	int status;

	cr_assert_neq(pg.server, 0, "the server is not running");
	kill(pg.server, SIGINT);
	status = it_proc_wait(pg.server, IT_DEADLINE_MS);
	if (status == -1)
		it_proc_kill(pg.server);
	pg.server = 0;
	cr_assert_eq(status, 0, "postgres: fast shutdown: status %d; log:\n"
	    "%s", status, log_tail());
}

void
pg_restart(void)
{
	if (pg.server != 0)
		pg_stop();
	server_start();
}

static void
session_free(struct pg_session *s)
{
	size_t i;

	for (i = 0; i < PG_MAX_SESSIONS; i++)
		if (pg.sessions[i] == s)
			pg.sessions[i] = NULL;
	if (s->in != -1)
		close(s->in);
	if (s->out.fd != -1)
		close(s->out.fd);
	free(s->out.buf);
	free(s);
}

void
pg_teardown(void)
{
	size_t i;

	for (i = 0; i < PG_MAX_SESSIONS; i++)
		if (pg.sessions[i] != NULL) {
			it_proc_kill(pg.sessions[i]->pid);
			session_free(pg.sessions[i]);
		}
	if (pg.server != 0) {
		kill(pg.server, SIGINT);
		if (it_proc_wait(pg.server, IT_DEADLINE_MS) == -1) {
			cr_log_error("postgres did not stop within %d ms: "
			    "killed", IT_DEADLINE_MS);
			it_proc_kill(pg.server);
		}
	}
	if (pg.ready) {
		if (getenv("APIKEY_IT_KEEP") == NULL)
			it_rm_tree(pg.dir);
		else
			fprintf(stderr, "kept %s\n", pg.dir);
	}
	if (pg.env != NULL)
		it_free_env(pg.env);
	memset(&pg, 0, sizeof(pg));
}

/* --- statements ----------------------------------------------------------- */

/* The start of a psql argv for database db; stop: ON_ERROR_STOP. */
static size_t
psql_argv(const char **argv, const char *db, int stop)
{
	size_t n = 0;

	cr_assert(pg.ready, "pg_start first");
	argv[n++] = it_printf("%s/psql", pg.bin);
	argv[n++] = "-X";
	argv[n++] = "-A";
	argv[n++] = "-t";
	argv[n++] = "-q";
	argv[n++] = "-v";
	argv[n++] = stop ? "ON_ERROR_STOP=1" : "ON_ERROR_STOP=0";
	argv[n++] = "-h";
	argv[n++] = pg.sock;
	argv[n++] = "-U";
	argv[n++] = "postgres";
	argv[n++] = "-d";
	argv[n++] = db;
	return n;
}

/* psql -c sql, within PG_PSQL_MS (else fails the test). */
static void
sql_run(const char *sql, struct it_run *r)
{
	const char *argv[PG_MAX_ARGS];
	size_t n = psql_argv(argv, "postgres", 1);

	argv[n++] = "-c";
	argv[n++] = sql;
	argv[n] = NULL;
	ith_run_capture(argv, pg.env, NULL, PG_PSQL_MS, r);
}

int
pg_sql_try(const char **out, const char **err, const char *fmt, ...)
{
	struct it_run r;
	va_list ap;

	va_start(ap, fmt);
	sql_run(it_vprintf(fmt, ap), &r);
	va_end(ap);
	if (out != NULL)
		*out = chomped(r.out);
	if (err != NULL)
		*err = r.err;
	return r.status;
}

const char *
pg_sql(const char *fmt, ...)
{
	struct it_run r;
	const char *sql;
	va_list ap;

	va_start(ap, fmt);
	sql = it_vprintf(fmt, ap);
	va_end(ap);
	sql_run(sql, &r);
	cr_assert_eq(r.status, 0, "psql -c \"%s\": exit %d:\n%s", sql,
	    r.status, r.err);
	return chomped(r.out);
}

void
pg_wait_sql(const char *query, const char *want, int ms)
{
	int64_t end = it_now_ms() + ms;
	struct it_run r;
	const char *out;

	for (;;) {
		sql_run(query, &r);
		out = chomped(r.out);
		if (r.status == 0 && strcmp(out, want) == 0)
			return;
		if (it_now_ms() >= end)
			break;
		/* Poll spacing only. */
		it_msleep(10);
	}
	cr_assert_fail("\"%s\" did not give \"%s\" within %d ms; last: exit "
	    "%d, \"%s\"; %s", query, want, ms, r.status, out, r.err);
}

int
pg_load_schema_try(const char *db, const char **err)
{
	const char *argv[PG_MAX_ARGS];
	size_t n = psql_argv(argv, db, 1);
	struct it_run r;

	argv[n++] = "-1";
	argv[n++] = "-f";
	argv[n++] = pg.schema;
	argv[n] = NULL;
	ith_run_capture(argv, pg.env, NULL, PG_PSQL_MS, &r);
	if (err != NULL)
		*err = r.err;
	return r.status;
}

/* --- sessions ------------------------------------------------------------- */

struct pg_session *
pg_session_open(void)
{
	const char *argv[PG_MAX_ARGS];
	struct pg_session *s;
	int inp[2], outp[2];
	size_t i, n;

	for (i = 0; i < PG_MAX_SESSIONS && pg.sessions[i] != NULL; i++)
		;
	cr_assert(i < PG_MAX_SESSIONS, "more than %d sessions",
	    PG_MAX_SESSIONS);
	signal(SIGPIPE, SIG_IGN);
	cr_assert(pipe2(inp, O_CLOEXEC) == 0 && pipe2(outp, O_CLOEXEC) == 0,
	    "pipe: %s", strerror(errno));
	/* A failed statement must not end the session. */
	n = psql_argv(argv, "postgres", 0);
	argv[n] = NULL;
	s = calloc(1, sizeof(*s));
	cr_assert_not_null(s, "out of memory");
	s->pid = it_proc_spawn(argv, pg.env, (const int[3]){ inp[0],
	    outp[1], outp[1] }, NULL);
	close(inp[0]);
	close(outp[1]);
	s->in = inp[1];
	s->out.fd = outp[0];
	/* Registered once it runs: pg_teardown() kills its pid. */
	pg.sessions[i] = s;
	pg_session_send(s, "SELECT pg_backend_pid();");
	s->backend = atoi(pg_session_sync(s, PG_PSQL_MS));
	cr_assert_gt(s->backend, 0, "no backend pid from the session");
	return s;
}

int
pg_session_backend(const struct pg_session *s)
{
	return s->backend;
}

void
pg_session_send(struct pg_session *s, const char *fmt, ...)
{
	const char *line, *p;
	va_list ap;
	size_t len;
	ssize_t w;

	va_start(ap, fmt);
	line = it_printf("%s\n", it_vprintf(fmt, ap));
	va_end(ap);
	len = strlen(line);
	for (p = line; len > 0; p += w, len -= (size_t)w) {
		w = write(s->in, p, len);
		if (w == -1 && errno == EINTR) {
			w = 0;
			continue;
		}
		cr_assert(w > 0, "write to psql: %s", strerror(errno));
	}
}

/* The sync marker's line in s's output since its mark, or NULL. */
static const char *
marker(const struct pg_session *s, const char *m)
{
	const char *p;

	if (s->out.buf == NULL)
		return NULL;
	for (p = s->out.buf + s->mark; (p = strstr(p, m)) != NULL; p++)
		if (p == s->out.buf + s->mark || p[-1] == '\n')
			return p;
	return NULL;
}

struct sync_arg {
	const struct pg_session	*s;
	const char		*m;
};

static int
synced(void *arg)
{
	const struct sync_arg *a = arg;

	return marker(a->s, a->m) != NULL;
}

const char *
pg_session_sync(struct pg_session *s, int ms)
{
	struct sync_arg a = { s, NULL };
	const char *at;
	const char *before;
	int r;

	/* A meta-command, so it comes back in an aborted transaction too. */
	a.m = it_printf("harness-pg-sync-%u\n", ++s->nsync);
	pg_session_send(s, "\\echo harness-pg-sync-%u", s->nsync);
	r = it_proc_read(&s->out, 1, it_now_ms() + ms, synced, &a);
	cr_assert(r != -1, "psql session did not run its input within %d ms; "
	    "it printed:\n%s", ms, s->out.buf != NULL ?
	    s->out.buf + s->mark : "");
	cr_assert(r != 0, "psql session ended; it printed:\n%s",
	    s->out.buf != NULL ? s->out.buf + s->mark : "");
	at = marker(s, a.m);
	before = it_keep(strndup(s->out.buf + s->mark,
	    (size_t)(at - (s->out.buf + s->mark))));
	s->mark = (size_t)(at - s->out.buf) + strlen(a.m);
	return before;
}

int
pg_session_close(struct pg_session *s)
{
	int64_t end = it_now_ms() + PG_PSQL_MS;
	int status = -1;

	close(s->in);
	s->in = -1;
	if (it_proc_read(&s->out, 1, end, NULL, NULL) == 0)
		status = it_proc_wait(s->pid, (int)(end - it_now_ms()) + 1000);
	if (status == -1)
		it_proc_kill(s->pid);
	session_free(s);
	cr_assert_neq(status, -1, "psql session did not exit within %d ms",
	    PG_PSQL_MS);
	return status;
}

uint64_t
pg_u64(const char *text)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	cr_assert(errno == 0 && end != text && *end == '\0', "not a number: "
	    "\"%s\"", text);
	return v;
}

void
pg_session_quiet(struct pg_session *s)
{
	const char *out = pg_session_sync(s, IT_DEADLINE_MS);

	cr_assert_str_eq(out, "", "session printed:\n%s", out);
}
