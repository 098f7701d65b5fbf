/*
 * harness_fleet.c - a fleet of apikeyd hosts on one private PostgreSQL
 * cluster; see harness_fleet.h.
 *
 * The harness's own daemon is started and stopped through harness.h
 * (it_start(), it_stop()), which allows one daemon at a time; the other
 * hosts are children of this file, spawned the way harness_daemon.c
 * spawns its daemon (same nss_wrapper files, service manager variables
 * removed), each writing its own log. A host's pid is a plain static:
 * Criterion runs each test in a process of its own.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "harness_fleet.h"
#include "harness_int.h"

#define PEPPER_LEN	32
/* Client timeout: a status or verify call on a loaded host under ASan. */
#define CLIENT_MS	5000
/* Waits of a host's start: its snapshot may be 20,000 keys under ASan. */
#define SYNC_MS		(6 * IT_DEADLINE_MS)

struct host {
	int		 harness;	/* the harness's own daemon */
	const char	*dir;		/* it_root()/hostN, or root */
	const char	*state, *sock, *conf, *log;
	pid_t		 pid;		/* 0: stopped, or the harness's */
	struct apikey_client *vc, *ac;
};

static struct {
	int		 n;
	int		 started;	/* fleet_start_opt() ran */
	struct host	 h[FLEET_MAX_HOSTS];
} fl;

static struct host *
host(int i)
{
	cr_assert(fl.started && i >= 0 && i < fl.n, "no fleet host %d", i);
	return &fl.h[i];
}

int
fleet_nhosts(void)
{
	return fl.n;
}

const char *
fleet_sockdir(int i)
{
	return host(i)->sock;
}

const char *
fleet_state_dir(int i)
{
	return host(i)->state;
}

const char *
fleet_log_path(int i)
{
	return host(i)->log;
}

const char *
fleet_log(int i)
{
	struct host *h = host(i);

	if (access(h->log, F_OK) != 0)
		return "";
	return it_read_file(h->log, NULL);
}

const char *
fleet_app_name(int i)
{
	return it_printf("host%d", i);
}

/* The end of host i's log, for failure messages. */
static const char *
log_tail(int i)
{
	return it_text_tail(fleet_log(i), ITH_LOG_TAIL);
}

size_t
fleet_log_wait(int i, size_t from, const char *needle, int ms)
{
	int64_t end = it_now_ms() + ms;
	const char *log, *p;

	for (;;) {
		log = fleet_log(i);
		if (strlen(log) > from && (p = strstr(log + from,
		    needle)) != NULL)
			return (size_t)(p - log);
		cr_assert(it_now_ms() < end, "no \"%s\" in host %d's log "
		    "within %d ms; log (end):\n%s", needle, i, ms, log_tail(i));
		it_msleep(10);
	}
}

/* --- clients -------------------------------------------------------------- */

static void
close_clients(struct host *h)
{
	apikey_close(h->vc);
	apikey_close(h->ac);
	h->vc = NULL;
	h->ac = NULL;
}

struct apikey_client *
fleet_vclient(int i)
{
	struct host *h = host(i);
	int rc;

	if (h->vc == NULL) {
		rc = apikey_open(h->sock, CLIENT_MS, &h->vc);
		cr_assert_eq(rc, 0, "apikey_open %s: %s", h->sock,
		    apikey_strerror(rc));
	}
	return h->vc;
}

struct apikey_client *
fleet_aclient(int i)
{
	struct host *h = host(i);
	int rc;

	if (h->ac == NULL) {
		rc = apikey_open_admin(h->sock, CLIENT_MS, &h->ac);
		cr_assert_eq(rc, 0, "apikey_open_admin %s: %s", h->sock,
		    apikey_strerror(rc));
	}
	return h->ac;
}

enum apikey_code
fleet_code(int i, const char *token, const char *ctx)
{
	struct apikey_result *res = it_verify_on(fleet_vclient(i), token,
	    ctx);
	enum apikey_code c = apikey_result_code(res);

	apikey_result_free(res);
	return c;
}

/* Half a millisecond: a verify costs far less, so a poll this dense
 * measures a change's arrival to about a millisecond. */
static void
spin_pause(void)
{
	const struct timespec ts = { 0, 500 * 1000 };

	nanosleep(&ts, NULL);
}

int64_t
fleet_wait_code(int i, const char *token, const char *ctx,
    enum apikey_code want, int ms)
{
	int64_t start = it_now_ms(), now;
	enum apikey_code c;

	for (;;) {
		c = fleet_code(i, token, ctx);
		now = it_now_ms();
		if (c == want)
			return now - start;
		cr_assert(now - start < ms, "host %d still answers %s after %d "
		    "ms, expected %s", i, apikey_code_name(c), ms,
		    apikey_code_name(want));
		spin_pause();
	}
}

/* --- status --------------------------------------------------------------- */

struct fleet_st
fleet_status(int i)
{
	struct apikey_status *s = NULL;
	struct fleet_st st;
	int rc;

	rc = apikey_status(fleet_aclient(i), &s);
	cr_assert_eq(rc, 0, "status of host %d: %s (%s)", i,
	    apikey_strerror(rc), apikey_last_error(fleet_aclient(i)));
	st.fleet = apikey_status_fleet(s);
	st.connected = apikey_status_fleet_connected(s);
	st.last_seq = apikey_status_fleet_last_seq(s);
	st.head_seq = apikey_status_fleet_head_seq(s);
	st.synced_at = apikey_status_fleet_synced_at(s);
	st.max_staleness = apikey_status_fleet_max_staleness(s);
	st.digest = apikey_status_fleet_digest(s);
	st.error = it_printf("%s", apikey_status_fleet_error(s));
	st.keys = apikey_status_keys(s);
	st.tenants = apikey_status_tenants(s);
	apikey_status_free(s);
	return st;
}

json_t *
fleet_status_json(int i, const char *as)
{
	const char *out = fleet_expect(i, as, 0, NULL, "--json", "status",
	    (const char *)NULL);
	json_t *f = json_object_get(it_json(out), "fleet");

	cr_assert(json_is_object(f), "no fleet object in the status of host "
	    "%d:\n%s", i, out);
	return f;
}

uint64_t
fleet_head(void)
{
	return pg_u64(pg_sql("SELECT greatest(coalesce((SELECT max(seq) "
	    "FROM apikeyd.changelog), 0), (SELECT pruned_through FROM "
	    "apikeyd.horizon))"));
}

void
fleet_wait_applied(int i, uint64_t seq, int ms)
{
	int64_t end = it_now_ms() + ms;
	struct fleet_st st;

	for (;;) {
		st = fleet_status(i);
		if (st.last_seq >= seq)
			return;
		cr_assert(it_now_ms() < end, "host %d applied up to seq "
		    "%" PRIu64 " within %d ms, not %" PRIu64 " (head "
		    "%" PRIu64 ", error \"%s\"); log (end):\n%s", i,
		    st.last_seq, ms, seq, st.head_seq, st.error, log_tail(i));
		it_msleep(5);
	}
}

void
fleet_wait_synced(int i, int ms)
{
	int64_t end = it_now_ms() + ms;
	struct fleet_st st;
	uint64_t head;

	for (;;) {
		st = fleet_status(i);
		/* synced_at: this run of the daemon finished a pass over the
		 * changelog (so a first snapshot is loaded, and writes go). */
		if (st.connected && st.synced_at != 0) {
			head = fleet_head();
			if (st.last_seq == head)
				return;
		} else
			head = st.head_seq;
		cr_assert(it_now_ms() < end, "host %d not in step within %d "
		    "ms: connected %d, synced_at %lld, last_seq %" PRIu64
		    ", head %" PRIu64 ", error \"%s\"; log (end):\n%s", i, ms,
		    st.connected, (long long)st.synced_at, st.last_seq, head,
		    st.error, log_tail(i));
		it_msleep(10);
	}
}

/* --- apikeyctl ------------------------------------------------------------ */

static int
ctl_va(int i, struct it_run *r, const char *as, va_list ap)
{
	const char *args[MAX_ARGS];
	struct it_ctl_opt o = { .as = as, .no_sockdir = 1 };

	args[0] = "--socket-dir";
	args[1] = host(i)->sock;
	it_argv_va(args, MAX_ARGS, 2, ap);
	return it_ctlv(r, &o, args);
}

int
fleet_ctl(int i, struct it_run *r, const char *as, ...)
{
	va_list ap;
	int st;

	va_start(ap, as);
	st = ctl_va(i, r, as, ap);
	va_end(ap);
	return st;
}

const char *
fleet_expect(int i, const char *as, int status, const char *errsub, ...)
{
	struct it_run r;
	va_list ap;

	va_start(ap, errsub);
	ctl_va(i, &r, as, ap);
	va_end(ap);
	cr_assert(r.status == status && (errsub == NULL ||
	    strstr(r.err, errsub) != NULL), "host %d, as %s: apikeyctl: exit "
	    "%d, expected %d%s%s;\nstdout:\n%s\nstderr:\n%s", i,
	    as != NULL ? as : "root", r.status, status, errsub != NULL ?
	    " with stderr containing " : "", errsub != NULL ? errsub : "",
	    r.out, r.err);
	return r.out;
}

/* --- hosts ---------------------------------------------------------------- */

/* it_wait_ready() for a host of this file's. */
static void
wait_ready(int i)
{
	struct host *h = &fl.h[i];
	const char *v = it_printf("%s/verify.sock", h->sock);
	const char *a = it_printf("%s/admin.sock", h->sock);
	int64_t end = it_now_ms() + IT_DEADLINE_MS;
	int st;

	for (;;) {
		if (ith_can_connect(v) && ith_can_connect(a))
			return;
		if ((st = it_proc_wait(h->pid, 0)) != -1) {
			h->pid = 0;
			cr_assert_fail("host %d exited with status %d before "
			    "its sockets accepted; log (end):\n%s", i, st,
			    log_tail(i));
		}
		cr_assert(it_now_ms() < end, "host %d's sockets did not accept "
		    "within %d ms; log (end):\n%s", i, IT_DEADLINE_MS,
		    log_tail(i));
		it_msleep(5);
	}
}

/* Spawns a host of this file's, as harness_daemon.c spawns its daemon. */
static void
spawn(int i)
{
	struct host *h = &fl.h[i];
	const char *const args[] = {
		it_apikeyd_path(), "-f", "-d", "-c", h->conf, "--state-dir",
		h->state, "--socket-dir", h->sock, NULL
	};
	const char *const set[] = {
		it_printf("NSS_WRAPPER_PASSWD=%s", ith_passwd_path()),
		it_printf("NSS_WRAPPER_GROUP=%s", ith_group_path()),
		"APIKEY_SOCKET_DIR", "NOTIFY_SOCKET", "WATCHDOG_USEC",
		"WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
		"JOURNAL_STREAM", NULL
	};
	char **env = it_make_env(set);
	int fd;

	fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	cr_assert(fd != -1, "open %s: %s", h->log, strerror(errno));
	h->pid = it_proc_spawn(args, env, (const int[3]){ -1, fd, fd }, NULL);
	close(fd);
	it_free_env(env);
}

static void
write_all(const char *path, const void *data, size_t len, mode_t mode,
    int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, mode);

	cr_assert(fd != -1, "open %s: %s", path, strerror(errno));
	cr_assert(write(fd, data, len) == (ssize_t)len, "write %s: %s", path,
	    strerror(errno));
	cr_assert(close(fd) == 0, "close %s: %s", path, strerror(errno));
}

/* The state directory, 0700, as the daemon would make it. */
static void
make_state_dir(struct host *h)
{
	cr_assert(mkdir(h->state, 0700) == 0 || errno == EEXIST, "mkdir %s: "
	    "%s", h->state, strerror(errno));
}

void
fleet_host_pepper(int i, const unsigned char pep[PEPPER_LEN])
{
	struct host *h = host(i);

	make_state_dir(h);
	write_all(it_printf("%s/pepper", h->state), pep, PEPPER_LEN, 0600,
	    O_EXCL);
}

/* Before a host's start: host 0's pepper, unless it has one. */
static void
give_pepper(int i)
{
	struct host *h = &fl.h[i];
	const char *mine = it_printf("%s/pepper", h->state);
	const char *first = it_printf("%s/pepper", fl.h[0].state);
	const char *data;
	size_t len;

	if (i == 0 || access(mine, F_OK) == 0)
		return;
	cr_assert(access(first, F_OK) == 0, "host 0 must start before host %d "
	    "(its pepper is the fleet's)", i);
	data = it_read_file(first, &len);
	cr_assert_eq(len, PEPPER_LEN, "%s: %zu bytes", first, len);
	make_state_dir(h);
	write_all(mine, data, len, 0600, O_EXCL);
}

void
fleet_host_start(int i)
{
	struct host *h = host(i);

	cr_assert(!fleet_host_running(i), "host %d already runs", i);
	give_pepper(i);
	close_clients(h);
	if (h->harness)
		it_start();
	else {
		spawn(i);
		wait_ready(i);
	}
}

int
fleet_host_running(int i)
{
	return fleet_host_pid(i) != 0;
}

pid_t
fleet_host_pid(int i)
{
	struct host *h = host(i);

	return h->harness ? it_daemon_pid() : h->pid;
}

/* Stops a host of this file's with sig: what went wrong, or NULL. Never
 * asserts (the teardown uses it). */
static const char *
stop_spawned(struct host *h, int sig)
{
	int st;

	close_clients(h);
	if (h->pid == 0)
		return NULL;
	kill(h->pid, sig);
	st = it_proc_wait(h->pid, IT_DEADLINE_MS);
	if (st == -1) {
		it_proc_kill(h->pid);
		h->pid = 0;
		return it_printf("did not exit within %d ms of signal %d; "
		    "killed", IT_DEADLINE_MS, sig);
	}
	h->pid = 0;
	if (st != 0 && sig != SIGKILL)
		return it_printf("exited with status %d on signal %d", st, sig);
	if (sig != SIGKILL && (access(it_printf("%s/verify.sock", h->sock),
	    F_OK) == 0 || access(it_printf("%s/admin.sock", h->sock),
	    F_OK) == 0))
		return "left its sockets behind";
	return NULL;
}

void
fleet_host_stop(int i)
{
	struct host *h = host(i);
	const char *e;

	cr_assert(fleet_host_running(i), "host %d does not run", i);
	close_clients(h);
	if (h->harness) {
		it_stop();
		return;
	}
	e = stop_spawned(h, SIGTERM);
	cr_assert_null(e, "host %d %s; log (end):\n%s", i, e, log_tail(i));
}

void
fleet_host_kill(int i)
{
	struct host *h = host(i);
	int st;

	cr_assert(fleet_host_running(i), "host %d does not run", i);
	close_clients(h);
	if (h->harness) {
		kill(it_daemon_pid(), SIGKILL);
		st = it_wait_daemon_exit(IT_DEADLINE_MS);
		cr_assert_eq(st, 128 + SIGKILL, "host %d: exit %d after "
		    "SIGKILL", i, st);
		return;
	}
	(void)stop_spawned(h, SIGKILL);
}

/* --- the fleet ------------------------------------------------------------ */

/* The fleet lines of host i's config. */
static const char *
fleet_conf(const struct fleet_opt *o, int i)
{
	return it_printf("fleet_url = %s application_name=%s\n%s%s%s%s%s",
	    pg_conninfo(), fleet_app_name(i), FLEET_CONF_DEFAULT,
	    o->conf_extra != NULL ? o->conf_extra : "",
	    o->conf_extra != NULL && *o->conf_extra != '\0' &&
	    o->conf_extra[strlen(o->conf_extra) - 1] != '\n' ? "\n" : "",
	    o->host_conf[i] != NULL ? o->host_conf[i] : "",
	    o->host_conf[i] != NULL && *o->host_conf[i] != '\0' &&
	    o->host_conf[i][strlen(o->host_conf[i]) - 1] != '\n' ? "\n" : "");
}

void
fleet_start_opt(const struct fleet_opt *o)
{
	struct host *h;
	int i, start;

	cr_assert(!fl.started, "fleet_start called twice");
	cr_assert(o->nhosts >= 1 && o->nhosts <= FLEET_MAX_HOSTS,
	    "nhosts %d", o->nhosts);
	cr_assert(o->harness_host >= 0 && o->harness_host < o->nhosts,
	    "harness_host %d", o->harness_host);
	if (!ith_ready())
		it_prepare(NULL);
	else if (it_daemon_pid() != 0) {
		/* A daemon started on a single host (ite_setup()): fleet mode
		 * starts from an empty state directory. */
		it_stop();
		it_rm_tree(it_state_dir());
	}
	pg_start(NULL);
	memset(&fl, 0, sizeof(fl));
	fl.n = o->nhosts;
	fl.started = 1;
	for (i = 0; i < fl.n; i++) {
		h = &fl.h[i];
		if (i == o->harness_host) {
			h->harness = 1;
			h->dir = it_root();
			h->state = it_state_dir();
			h->sock = it_sock_dir();
			h->conf = it_conf_path();
			h->log = it_log_path();
			write_all(h->conf, fleet_conf(o, i),
			    strlen(fleet_conf(o, i)), 0644, O_APPEND);
			continue;
		}
		h->dir = it_printf("%s/host%d", it_root(), i);
		h->state = it_printf("%s/state", h->dir);
		h->sock = it_printf("%s/sock", h->dir);
		h->conf = it_printf("%s/apikeyd.conf", h->dir);
		h->log = it_printf("%s/apikeyd.log", h->dir);
		cr_assert(mkdir(h->dir, 0755) == 0, "mkdir %s: %s", h->dir,
		    strerror(errno));
		write_all(h->conf, it_printf("# written by "
		    "tests/harness_fleet.c\nadmin_group = apikey-admins\n"
		    "log_level = debug\n%s", fleet_conf(o, i)),
		    strlen(it_printf("# written by tests/harness_fleet.c\n"
		    "admin_group = apikey-admins\nlog_level = debug\n%s",
		    fleet_conf(o, i))), 0644, O_TRUNC);
	}
	start = o->start > 0 ? o->start : fl.n;
	for (i = 0; i < start; i++) {
		fleet_host_start(i);
		fleet_wait_synced(i, SYNC_MS);
	}
}

void
fleet_start(int nhosts, const char *conf_extra)
{
	const struct fleet_opt o = { .nhosts = nhosts,
	    .conf_extra = conf_extra };

	fleet_start_opt(&o);
}

void
fleet_teardown_hosts(void)
{
	const char *e;
	int i;

	for (i = 0; fl.started && i < fl.n; i++) {
		close_clients(&fl.h[i]);
		if (fl.h[i].harness)
			continue;	/* it_teardown() stops it */
		if ((e = stop_spawned(&fl.h[i], SIGTERM)) != NULL)
			cr_expect_fail("host %d %s; log (end):\n%s", i, e,
			    log_tail(i));
	}
	pg_teardown();
	memset(&fl, 0, sizeof(fl));
}

void
fleet_teardown(void)
{
	fleet_teardown_hosts();
	it_teardown();
}

/* What fleet_create_many() collects. */
struct made {
	const char	**tokens;
	size_t		  n, cap;
};

static void
collect(void *arg, const struct apikey_key *k, const char *token)
{
	struct made *m = arg;

	(void)k;
	if (m->n < m->cap)
		m->tokens[m->n] = it_printf("%s", token);
	m->n++;
}

const char **
fleet_create_many(int i, const char *tenant, size_t n, int ms)
{
	struct made m = { 0 };
	struct apikey_client *c = NULL;
	struct apikey_key_spec *spec = apikey_key_spec_new();
	uint32_t made = 0;
	int rc;

	cr_assert_not_null(spec, "out of memory");
	m.tokens = calloc(n, sizeof(*m.tokens));
	cr_assert_not_null(m.tokens, "out of memory");
	it_keep((char *)m.tokens);
	m.cap = n;
	rc = apikey_open_admin(fleet_sockdir(i), ms, &c);
	cr_assert_eq(rc, 0, "apikey_open_admin: %s", apikey_strerror(rc));
	rc = apikey_key_create_many(c, APIKEY_OWNER_TENANT, tenant, spec,
	    (uint32_t)n, collect, &m, &made);
	cr_assert_eq(rc, 0, "create-many of %zu keys on host %d: %s (%s); %u "
	    "made", n, i, apikey_strerror(rc), apikey_last_error(c), made);
	cr_assert_eq(m.n, n, "create-many gave %zu keys, not %zu", m.n, n);
	apikey_close(c);
	apikey_key_spec_free(spec);
	return m.tokens;
}

void
fleet_tenant(int i, const char *name, const char *group)
{
	fleet_expect(i, NULL, 0, NULL, "tenant", "add", name, "--group",
	    group, (const char *)NULL);
}

const char *
fleet_token(const char *out)
{
	size_t n = strlen(out);

	cr_assert(n > 1 && out[n - 1] == '\n' && it_line_count(out) == 1,
	    "key create -q printed more than a token line:\n%s", out);
	return it_printf("%.*s", (int)(n - 1), out);
}

const char *
fleet_key_acme(int i, const char *arg1, const char *arg2)
{
	return fleet_token(fleet_expect(i, NULL, 0, NULL, "key", "create",
	    "-q", "--tenant", "acme", arg1, arg2, (const char *)NULL));
}

void
fleet_wait_digest_match(int i)
{
	int64_t end = it_now_ms() + 3 * IT_DEADLINE_MS;
	struct fleet_st st;

	for (;;) {
		st = fleet_status(i);
		if (st.digest == APIKEY_FLEET_DIGEST_MATCH &&
		    st.last_seq == fleet_head())
			return;
		cr_assert(it_now_ms() < end, "host %d: digest %d at seq %"
		    PRIu64 " (head %" PRIu64 "), not a match at the head",
		    i, st.digest, st.last_seq, fleet_head());
		it_msleep(50);
	}
}
