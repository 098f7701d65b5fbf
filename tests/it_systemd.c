/*
 * it_systemd.c - apikeyd under a service manager, as apikeyd.service and
 * its socket units run it: readiness and watchdog notifications, sockets
 * passed by socket activation (named, or known by their paths), restarts
 * that lose no request, and log priorities for the journal.
 *
 * PID 1 here is not systemd, so the tests play its part with its own
 * protocols: a datagram socket for NOTIFY_SOCKET, listening sockets passed
 * as fds 3 and up with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES, and
 * systemd-socket-activate, systemd's own tool for running a socket-activated
 * program from the command line.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../proto/proto.h"
#include "harness_usage.h"

#define SOCKET_ACTIVATE	"/usr/bin/systemd-socket-activate"

TestSuite(systemd, .init = it_setup, .fini = it_teardown, .timeout = 120);

/* --- the service manager's side ---------------------------------------- */

static int
unix_socket(const char *path, int type)
{
	struct sockaddr_un sun;
	int		 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	cr_assert_lt(strlen(path), sizeof(sun.sun_path), "%s: too long", path);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	cr_assert_neq(fd, -1, "socket: %s", strerror(errno));
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0,
	    "bind %s: %s", path, strerror(errno));
	return fd;
}

/* A listening socket as systemd makes one for a .socket unit. */
static int
listen_socket(const char *path)
{
	int	 fd = unix_socket(path, SOCK_STREAM);

	cr_assert_eq(listen(fd, 128), 0, "listen: %s", strerror(errno));
	cr_assert_eq(chmod(path, 0666), 0);
	return fd;
}

/*
 * Waits for a notification datagram holding the line want, and returns
 * it (harness-owned); fails at the deadline, naming what did come.
 */
static const char *
notify_wait(int fd, const char *want)
{
	int64_t		 end = it_now_ms() + IT_DEADLINE_MS;
	char		 buf[4096], seen[8192] = "";
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	ssize_t		 n;
	char		*line;

	for (;;) {
		int64_t left = end - it_now_ms();

		cr_assert_gt(left, 0, "no %s within %d ms; got:\n%s", want,
		    IT_DEADLINE_MS, seen);
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strlen(seen) + (size_t)n + 2 < sizeof(seen)) {
			strcat(seen, buf);
			strcat(seen, "|");
		}
		for (line = buf; line != NULL; line = strchr(line, '\n')) {
			if (*line == '\n')
				line++;
			if (strncmp(line, want, strlen(want)) == 0 &&
			    (line[strlen(want)] == '\n' ||
			    line[strlen(want)] == '\0'))
				return it_keep(strdup(buf));
		}
	}
}

static const char *const *
daemon_args(void)
{
	static const char *args[8];

	args[0] = "-f";
	args[1] = "-d";
	args[2] = "-c";
	args[3] = it_conf_path();
	args[4] = "--state-dir";
	args[5] = it_state_dir();
	args[6] = "--socket-dir";
	args[7] = NULL;
	return args;
}

/* daemon_args() with --socket-dir dir. */
static const char *const *
daemon_args_in(const char *dir)
{
	static const char *args[9];

	memcpy(args, daemon_args(), 7 * sizeof(*args));
	args[7] = dir;
	args[8] = NULL;
	return args;
}

static void
stop_with(int sig)
{
	int	 st;

	cr_assert_eq(kill(it_daemon_pid(), sig), 0);
	st = it_wait_daemon_exit(IT_DEADLINE_MS);
	cr_assert_eq(st, 0, "exit %d; log:\n%s", st, it_log());
}

static const char *
make_dir(const char *path)
{
	cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s: %s", path,
	    strerror(errno));
	return path;
}

static enum apikey_code
code_at(const char *dir, const char *token)
{
	struct apikey_client *c = NULL;
	struct apikey_result *res;
	enum apikey_code code;
	int		 rc;

	rc = apikey_open(dir, IT_DEADLINE_MS, &c);
	cr_assert_eq(rc, 0, "apikey_open %s: %s", dir, apikey_strerror(rc));
	res = it_verify_on(c, token, NULL);
	code = apikey_result_code(res);
	apikey_result_free(res);
	apikey_close(c);
	return code;
}

/* `apikeyctl --socket-dir dir ARGS...` as root; returns stdout. */
static const char *
ctl_at(const char *dir, const char *cmd)
{
	const struct it_ctl_opt o = { .no_sockdir = 1 };
	const char	*args[] = { "--socket-dir", dir, cmd, NULL };
	struct it_run	 r;

	cr_assert_eq(it_ctlv(&r, &o, args), 0, "%s", r.err);
	return r.out;
}

/* --- readiness and the watchdog ------------------------------------------- */

Test(systemd, ready_once_both_sockets_serve_then_watchdog_then_stopping)
{
	const char	*tok = it_key(NULL, NULL);
	const char	*path = it_path("notify");
	const char	*env[] = {
		it_printf("NOTIFY_SOCKET=%s", path), "WATCHDOG_USEC=200000",
		NULL
	};
	const struct it_daemon_opt o = { .env = env };
	const char	*msg;
	int		 fd;

	it_stop();
	fd = unix_socket(path, SOCK_DGRAM);
	it_spawn_daemon_opt(&o, daemon_args_in(it_sock_dir()));

	msg = notify_wait(fd, "READY=1");
	it_assert_has(msg, it_printf("STATUS=Serving %s/verify.sock and "
	    "%s/admin.sock", it_sock_dir(), it_sock_dir()));
	/* READY means served: no waiting for the sockets from here on. */
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	cr_assert_str_eq(it_field(it_expect(NULL, 0, NULL, "status", NULL),
	    "caller_admin"), "yes");

	/* Every 100 ms, half of WATCHDOG_USEC. */
	notify_wait(fd, "WATCHDOG=1");
	notify_wait(fd, "WATCHDOG=1");

	cr_assert_eq(kill(it_daemon_pid(), SIGTERM), 0);
	msg = notify_wait(fd, "STOPPING=1");
	it_assert_has(msg, "STATUS=Stopping: answering what was asked");
	cr_assert_eq(it_wait_daemon_exit(IT_DEADLINE_MS), 0, "log:\n%s",
	    it_log());
	close(fd);
}

Test(systemd, journal_stream_gets_priorities)
{
	struct stat	 st;
	const char	*env[3];
	const struct it_daemon_opt o = { .env = env };
	const char	*log;

	it_stop();
	/* The daemon's stderr is the log file: make it "the journal". */
	cr_assert_eq(stat(it_log_path(), &st), 0);
	env[0] = it_printf("JOURNAL_STREAM=%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	env[1] = "WATCHDOG_USEC=60000000";	/* for a debug line */
	env[2] = NULL;
	cr_assert_eq(truncate(it_log_path(), 0), 0);
	it_spawn_daemon_opt(&o, daemon_args_in(it_sock_dir()));
	it_wait_ready(it_sock_dir());
	stop_with(SIGTERM);

	log = it_log();
	/* "(N verify threads)" between the two: N is the machine's. */
	it_assert_has(log, it_printf("<6>listening on %s/verify.sock (",
	    it_sock_dir()));
	it_assert_has(log, it_printf(") and %s/admin.sock\n", it_sock_dir()));
	it_assert_has(log, "\n<6>received Terminated, shutting down");
	it_assert_has(log, "\n<7>feeding the watchdog every 30000 ms\n");
	it_assert_lacks(log, "apikeyd: ");	/* the journal names us */
}

Test(systemd, stop_asked_while_starting_is_a_clean_stop)
{
	/*
	 * systemctl stop may come before the daemon is ready. Here the
	 * start is held in an NSS lookup (admin_group), the stop comes, and
	 * then NSS answers: the daemon starts, drains nothing, and exits 0
	 * instead of being killed by a signal it was not handling yet.
	 */
	it_stop();
	it_nss_block();
	cr_assert_eq(truncate(it_log_path(), 0), 0);
	it_spawn_daemon(daemon_args_in(it_sock_dir()));
	it_nss_wait_blocked();
	cr_assert_eq(kill(it_daemon_pid(), SIGTERM), 0);
	it_nss_unblock();
	cr_assert_eq(it_wait_daemon_exit(IT_DEADLINE_MS), 0, "log:\n%s",
	    it_log());
	it_assert_has(it_log(), "apikeyd: received Terminated, shutting "
	    "down: answering 0 verify and 0 admin connections first\n");
}

/* --- socket activation ------------------------------------------------------ */

Test(systemd, activated_by_systemd_socket_activate_with_named_sockets)
{
	/*
	 * systemd-socket-activate listens, and execs the daemon (same pid)
	 * at the first connection, passing both sockets named as the units
	 * name them. The verify below is that first connection: it waits
	 * in the backlog until the daemon takes it.
	 */
	const char	*tok = it_key(NULL, NULL);
	const char	*dir = make_dir(it_path("run"));
	const char	*unused = it_path("unused");
	const char	*args[32], *out;
	const struct it_daemon_opt o = { .prog = SOCKET_ACTIVATE };
	const char *const *d = daemon_args_in(unused);
	/* make asan's settings, for the sanitized daemon. */
	static const char *const san[] = {
		"ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"
	};
	size_t		 n = 0, i;

	if (access(SOCKET_ACTIVATE, X_OK) != 0 && getenv("CI") == NULL)
		cr_skip_test(SOCKET_ACTIVATE " is missing: scripts/deps.sh "
		    "test installs systemd");
	it_stop();
	args[n++] = "-l";
	args[n++] = it_printf("%s/verify.sock", dir);
	args[n++] = "-l";
	args[n++] = it_printf("%s/admin.sock", dir);
	args[n++] = "--fdname=verify:admin";
	/* It passes on only what it is told to. */
	args[n++] = "-E";
	args[n++] = "NSS_WRAPPER_PASSWD";
	args[n++] = "-E";
	args[n++] = "NSS_WRAPPER_GROUP";
	args[n++] = "-E";
	args[n++] = "LD_PRELOAD";
	for (i = 0; i < sizeof(san) / sizeof(san[0]); i++)
		if (getenv(san[i]) != NULL) {
			args[n++] = "-E";
			args[n++] = san[i];
		}
	args[n++] = it_apikeyd_path();
	for (i = 0; d[i] != NULL; i++)
		args[n++] = d[i];
	args[n] = NULL;
	it_spawn_daemon_opt(&o, args);
	/* Connecting is what starts the daemon. */
	it_wait_ready(dir);

	cr_assert_eq(code_at(dir, tok), APIKEY_VALID, "log:\n%s", it_log());
	it_assert_has(it_log(), it_printf("apikeyd: listening on "
	    "%s/verify.sock (", dir));
	it_assert_has(it_log(), it_printf(") and %s/admin.sock (passed by "
	    "the service manager)\n", dir));
	/* status names the sockets served, not socket_dir's. */
	out = ctl_at(dir, "status");
	cr_assert_str_eq(it_field(out, "caller_admin"), "yes");
	cr_assert_str_eq(it_field(out, "verify_socket"),
	    it_printf("%s/verify.sock", dir));
	cr_assert_str_eq(it_field(out, "admin_socket"),
	    it_printf("%s/admin.sock", dir));
	/* The daemon made and checked no socket directory of its own. */
	cr_assert_eq(access(unused, F_OK), -1);

	stop_with(SIGTERM);
	/* Passed sockets are the manager's: left for the next daemon. */
	cr_assert_eq(access(it_printf("%s/verify.sock", dir), F_OK), 0);
	cr_assert_eq(access(it_printf("%s/admin.sock", dir), F_OK), 0);
}

Test(systemd, unnamed_sockets_are_known_by_their_paths)
{
	/*
	 * One socket unit with both ListenStream= lines names both sockets
	 * alike; the daemon tells them apart by path. They come here in
	 * the "wrong" order, admin first.
	 */
	const char	*tok = it_key(NULL, NULL);
	const char	*dir = make_dir(it_path("run"));
	int		 fds[2];
	const struct it_daemon_opt o = { .fds = fds, .nfds = 2,
	    .fdnames = "apikeyd.socket:apikeyd.socket" };

	it_stop();
	fds[0] = listen_socket(it_printf("%s/admin.sock", dir));
	fds[1] = listen_socket(it_printf("%s/verify.sock", dir));
	it_spawn_daemon_opt(&o, daemon_args_in(it_sock_dir()));

	cr_assert_eq(code_at(dir, tok), APIKEY_VALID, "log:\n%s", it_log());
	cr_assert_str_eq(it_field(ctl_at(dir, "status"), "keys"), "1");
	stop_with(SIGTERM);
	close(fds[0]);
	close(fds[1]);
}

/* Starts the daemon with fds named names; asserts it fails with msg. */
static void
assert_refused(const int *fds, size_t n, const char *names, const char *msg)
{
	const struct it_daemon_opt o = { .fds = fds, .nfds = n,
	    .fdnames = names };
	int	 st;

	cr_assert_eq(truncate(it_log_path(), 0), 0);
	it_spawn_daemon_opt(&o, daemon_args_in(it_sock_dir()));
	st = it_wait_daemon_exit(IT_DEADLINE_MS);
	cr_assert_eq(st, 1, "exit %d; log:\n%s", st, it_log());
	cr_assert_str_eq(it_log(), msg);
}

Test(systemd, wrong_passed_sockets_stop_the_start)
{
	const char	*dir = make_dir(it_path("run"));
	int		 fds[3], sp[2];

	it_stop();
	fds[0] = listen_socket(it_printf("%s/verify.sock", dir));
	fds[1] = listen_socket(it_printf("%s/admin.sock", dir));
	fds[2] = listen_socket(it_printf("%s/other.sock", dir));
	assert_refused(fds, 3, "verify:admin:other", "apikeyd: passed "
	    "socket 5 (other) is neither \"verify\" nor \"admin\" (set "
	    "FileDescriptorName=, or bind it to verify.sock or admin.sock)\n");
	assert_refused(fds, 3, NULL, "apikeyd: passed socket 5 (unknown) is "
	    "neither \"verify\" nor \"admin\" (set FileDescriptorName=, or "
	    "bind it to verify.sock or admin.sock)\n");
	assert_refused(fds, 2, "verify:verify",
	    "apikeyd: two sockets passed for verify\n");

	/* A connected socket, not a listening one. */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
	    0);
	fds[2] = sp[0];
	assert_refused(&fds[1], 2, "admin:verify", "apikeyd: passed "
	    "descriptor 4 (verify) is not a listening Unix stream socket\n");
}

Test(systemd, only_admin_passed_binds_verify_itself)
{
	const char	*tok = it_key(NULL, NULL);
	const char	*dir = make_dir(it_path("run"));
	int		 fd;
	const struct it_daemon_opt o = { .fds = &fd, .nfds = 1,
	    .fdnames = "admin" };

	it_stop();
	fd = listen_socket(it_printf("%s/admin.sock", dir));
	it_spawn_daemon_opt(&o, daemon_args_in(dir));
	it_wait_ready(dir);
	cr_assert_eq(code_at(dir, tok), APIKEY_VALID, "log:\n%s", it_log());
	stop_with(SIGTERM);
	/* Its own socket it removes; the passed one it leaves. */
	cr_assert_eq(access(it_printf("%s/verify.sock", dir), F_OK), -1);
	cr_assert_eq(access(it_printf("%s/admin.sock", dir), F_OK), 0);
	close(fd);
}

/* --- restarts ------------------------------------------------------------------ */

/*
 * What a `systemctl restart` does to clients: the sockets stay with the
 * manager (this test), the old daemon drains and exits on SIGTERM, the
 * new one takes the same sockets. Clients call all the while, on kept
 * connections and on new ones, verify and management alike, with
 * libapikey's default 2 s timeout as pam_apikey uses it; not one call may
 * fail. The key has credits, so verifies hold their replies for the
 * ledger, and every credit spent must be a VALID received: a request
 * sent again after a goodbye is never counted twice. In every generation
 * two hostile peers (PINGs pipelined on each socket, replies never read)
 * try to hold the stop up. Workers only count: the main thread judges.
 */
#define RESTARTS	3
#define CALLS_PER_GEN	100
#define CREDITS		10000000

struct load {
	const char	*dir;
	const char	*token;
	atomic_int	 stop;
	atomic_uint	 valid;		/* VALID replies received */
	atomic_uint	 ok;		/* every call that succeeded */
	atomic_uint	 failed;
	char		 first_error[256];
	pthread_mutex_t	 mu;
};

static void
load_fail(struct load *ld, const char *what, int rc, const char *msg)
{
	pthread_mutex_lock(&ld->mu);
	if (atomic_fetch_add(&ld->failed, 1) == 0)
		snprintf(ld->first_error, sizeof(ld->first_error),
		    "%s: %s (%s)", what, apikey_strerror(rc),
		    msg != NULL ? msg : "");
	pthread_mutex_unlock(&ld->mu);
}

static void
load_verify(struct load *ld, struct apikey_client *c)
{
	struct apikey_result *res = NULL;
	int		 rc;

	rc = apikey_verify(c, ld->token, NULL, &res);
	if (rc != 0)
		load_fail(ld, "verify", rc, apikey_last_error(c));
	else if (apikey_result_code(res) != APIKEY_VALID)
		load_fail(ld, "verify", APIKEY_EPROTO,
		    apikey_code_name(apikey_result_code(res)));
	else {
		atomic_fetch_add(&ld->valid, 1);
		atomic_fetch_add(&ld->ok, 1);
	}
	apikey_result_free(res);
}

/* A client kept open across every restart. */
static void *
kept_verifier(void *arg)
{
	struct load	*ld = arg;
	struct apikey_client *c = NULL;
	int		 rc;

	if ((rc = apikey_open(ld->dir, 0, &c)) != 0) {
		load_fail(ld, "open", rc, NULL);
		return NULL;
	}
	while (!atomic_load(&ld->stop))
		load_verify(ld, c);
	apikey_close(c);
	return NULL;
}

/* Pipelined batches on a client kept open across every restart: what a
 * stopping daemon did not read goes again, unseen by the caller. */
static void *
kept_pipeliner(void *arg)
{
	struct load	*ld = arg;
	struct apikey_client *c = NULL;
	struct apikey_result *res[64];
	const char	*tokens[64];
	size_t		 i;
	int		 rc;

	for (i = 0; i < 64; i++)
		tokens[i] = ld->token;
	if ((rc = apikey_open(ld->dir, 0, &c)) != 0) {
		load_fail(ld, "open", rc, NULL);
		return NULL;
	}
	while (!atomic_load(&ld->stop)) {
		if ((rc = apikey_verify_batch(c, 64, tokens, NULL, res)) !=
		    0) {
			load_fail(ld, "batch", rc, apikey_last_error(c));
			continue;
		}
		for (i = 0; i < 64; i++) {
			if (apikey_result_code(res[i]) != APIKEY_VALID)
				load_fail(ld, "batch", APIKEY_EPROTO,
				    apikey_code_name(apikey_result_code(
				    res[i])));
			else
				atomic_fetch_add(&ld->valid, 1);
			apikey_result_free(res[i]);
		}
		atomic_fetch_add(&ld->ok, 1);
	}
	apikey_close(c);
	return NULL;
}

/* A new connection for every call. */
static void *
new_verifier(void *arg)
{
	struct load	*ld = arg;
	struct apikey_client *c;
	int		 rc;

	while (!atomic_load(&ld->stop)) {
		c = NULL;
		if ((rc = apikey_open(ld->dir, 0, &c)) != 0) {
			load_fail(ld, "open", rc, NULL);
			continue;
		}
		load_verify(ld, c);
		apikey_close(c);
	}
	return NULL;
}

/* Management calls on a kept admin connection. */
static void *
kept_admin(void *arg)
{
	struct load	*ld = arg;
	struct apikey_client *c = NULL;
	struct apikey_status *st;
	int		 rc;

	if ((rc = apikey_open_admin(ld->dir, 0, &c)) != 0) {
		load_fail(ld, "open_admin", rc, NULL);
		return NULL;
	}
	while (!atomic_load(&ld->stop)) {
		st = NULL;
		if ((rc = apikey_status(c, &st)) != 0)
			load_fail(ld, "status", rc, apikey_last_error(c));
		else
			atomic_fetch_add(&ld->ok, 1);
		apikey_status_free(st);
	}
	apikey_close(c);
	return NULL;
}

static void
wait_calls(struct load *ld, unsigned from)
{
	int64_t	 end = it_now_ms() + IT_DEADLINE_MS;

	while (atomic_load(&ld->ok) < from + CALLS_PER_GEN &&
	    atomic_load(&ld->failed) == 0 && it_now_ms() < end)
		it_msleep(5);
	cr_assert_eq(atomic_load(&ld->failed), 0, "%s", ld->first_error);
	cr_assert_geq(atomic_load(&ld->ok), from + CALLS_PER_GEN,
	    "calls stalled; log:\n%s", it_log());
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sun;
	int		 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	cr_assert_lt(strlen(path), sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_neq(fd, -1);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0,
	    "connect %s: %s", path, strerror(errno));
	return fd;
}

/* A request frame by hand (proto.h: big-endian header, typed body). */
static size_t
frame(uint8_t *p, uint8_t op, uint32_t id, const uint8_t *body, size_t n)
{
	uint32_t len = PROTO_HDR_LEN - 4 + (uint32_t)n;

	p[0] = (uint8_t)(len >> 24);
	p[1] = (uint8_t)(len >> 16);
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[4] = PROTO_VERSION;
	p[5] = op;
	p[6] = p[7] = 0;
	p[8] = (uint8_t)(id >> 24);
	p[9] = (uint8_t)(id >> 16);
	p[10] = (uint8_t)(id >> 8);
	p[11] = (uint8_t)id;
	if (n > 0)
		memcpy(p + PROTO_HDR_LEN, body, n);
	return PROTO_HDR_LEN + n;
}

/*
 * A peer that pipelines PINGs and never reads a reply: once the daemon's
 * output to it passes its mark, the daemon stops reading it, and it is
 * owed replies it will never take. It is alice, an unprivileged user
 * (a child that drops to her before it connects, so SO_PEERCRED names
 * her). The child sends until nothing more goes for 200 ms, which is the
 * daemon having paused it, says so on ready, and waits to be killed.
 * No allocation and no assertion in the child: the test has threads.
 */
static pid_t
hostile_flood(const char *path, uid_t uid, gid_t gid)
{
	static uint8_t	 buf[4096 * PROTO_HDR_LEN];
	struct sockaddr_un sun;
	struct pollfd	 pfd;
	size_t		 n = 0, off;
	ssize_t		 w;
	uint32_t	 id = 1;
	int		 ready[2], fd;
	char		 c;
	pid_t		 pid;

	while (n + PROTO_HDR_LEN <= sizeof(buf))
		n += frame(buf + n, PROTO_OP_PING, id++, NULL, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	cr_assert_lt(strlen(path), sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) ==
		    -1 || setresuid(uid, uid, uid) == -1 ||
		    (fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
		    fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
			_exit(1);
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do {
			for (off = 0; off < n; off += (size_t)w)
				if ((w = send(fd, buf + off, n - off,
				    MSG_NOSIGNAL)) <= 0)
					break;
		} while (poll(&pfd, 1, 200) != 0);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	cr_assert_eq(read(ready[0], &c, 1), 1, "the hostile peer failed");
	close(ready[0]);
	return pid;
}

static void
hostile_end(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

Test(systemd, restart_under_load_loses_no_request)
{
	const char	*dir = it_sock_dir();
	const char	*npath = it_path("notify");
	const char	*env[] = { it_printf("NOTIFY_SOCKET=%s", npath), NULL };
	void		*(*fns[])(void *) = {
		kept_verifier, kept_verifier, new_verifier, kept_admin,
		kept_pipeliner
	};
	pthread_t	 th[5];
	struct apikey_key_spec *spec = apikey_key_spec_new();
	struct load	 ld;
	int		 fds[2], nfd, gen;
	pid_t		 bad[2];
	size_t		 i;
	const struct it_daemon_opt o = { .env = env, .fds = fds, .nfds = 2,
	    .fdnames = "verify:admin" };

	memset(&ld, 0, sizeof(ld));
	pthread_mutex_init(&ld.mu, NULL);
	ld.dir = dir;
	cr_assert_eq(apikey_key_spec_set_credits(spec, CREDITS), 0);
	ld.token = it_key_lib(APIKEY_OWNER_SELF, NULL, spec, NULL);
	apikey_key_spec_free(spec);
	it_stop();
	/* The manager's sockets, where the harness's own clients look. */
	fds[0] = listen_socket(it_printf("%s/verify.sock", dir));
	fds[1] = listen_socket(it_printf("%s/admin.sock", dir));
	nfd = unix_socket(npath, SOCK_DGRAM);
	it_spawn_daemon_opt(&o, daemon_args_in(dir));
	notify_wait(nfd, "READY=1");

	for (i = 0; i < 5; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, fns[i], &ld), 0);
	wait_calls(&ld, 0);
	for (gen = 0; gen < RESTARTS; gen++) {
		unsigned before = atomic_load(&ld.ok);

		bad[0] = hostile_flood(it_printf("%s/verify.sock", dir),
		    it_uid("alice"), it_gid("alice"));
		bad[1] = hostile_flood(it_printf("%s/admin.sock", dir),
		    it_uid("alice"), it_gid("alice"));
		stop_with(SIGTERM);
		hostile_end(bad[0]);
		hostile_end(bad[1]);
		it_spawn_daemon_opt(&o, daemon_args_in(dir));
		notify_wait(nfd, "READY=1");
		wait_calls(&ld, before);
	}
	atomic_store(&ld.stop, 1);
	for (i = 0; i < 5; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&ld.failed), 0, "%s", ld.first_error);
	/* Each VALID spent one credit, and nothing else did. */
	cr_assert_eq(itu_remaining(ld.token), CREDITS - atomic_load(&ld.valid));
	it_assert_has(it_log(), "verify: 1 connections still busy after "
	    "1000 ms; closing them\n");
	it_assert_has(it_log(), "admin: 1 connections still busy after "
	    "1000 ms; closing them\n");
	stop_with(SIGTERM);
	close(fds[0]);
	close(fds[1]);
	close(nfd);
}

/* The next frame from fd, whole, into buf; its length, 0 at EOF. */
static size_t
read_frame(int fd, uint8_t *buf, size_t size)
{
	size_t	 got = 0, want = 4;
	ssize_t	 n;

	while (got < want) {
		n = read(fd, buf + got, want - got);
		if (n == 0 && got == 0)
			return 0;
		cr_assert_gt(n, 0, "read: %s", n < 0 ? strerror(errno) :
		    "EOF in a frame");
		got += (size_t)n;
		if (got == 4) {
			want = 4 + ((size_t)buf[0] << 24 | (size_t)buf[1] << 16 |
			    (size_t)buf[2] << 8 | buf[3]);
			cr_assert_leq(want, size);
		}
	}
	return got;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Audit entries: some 500 KB of listing, more than the socket buffers
 * hold, so the listing is still being produced when the signal comes. */
#define LISTED		5000

Test(systemd, listing_running_at_the_stop_ends_then_says_goodbye)
{
	/*
	 * A listing in progress when SIGTERM comes is owed every item: it
	 * is finished, and the goodbye follows its last frame. The audit
	 * log is made long enough that the listing waits on the output
	 * mark when the signal comes.
	 */
	static const uint8_t all[] = { 0x02, 0, 0, 0, 0 };	/* u32 0 */
	struct apikey_client *c = NULL;
	uint8_t		*buf = malloc(PROTO_ADMIN_MAX), req[64];
	struct pollfd	 pfd;
	char		*tok;
	size_t		 n, items = 0;
	int		 fd, i, done = 0, bye = 0;

	cr_assert_not_null(buf);
	cr_assert_eq(apikey_open_admin(it_sock_dir(), IT_DEADLINE_MS, &c), 0);
	for (i = 0; i < LISTED; i++) {
		tok = NULL;
		cr_assert_eq(apikey_key_create(c, APIKEY_OWNER_SELF, NULL, NULL,
		    NULL, &tok), 0, "%s", apikey_last_error(c));
		apikey_token_free(tok);
	}
	apikey_close(c);

	fd = connect_to(it_printf("%s/admin.sock", it_sock_dir()));
	n = frame(req, PROTO_OP_AUDIT_LIST, 7, all, sizeof(all));
	cr_assert_eq(write(fd, req, n), (ssize_t)n);
	/* The listing has begun once its first frame can be read. */
	pfd.fd = fd;
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, IT_DEADLINE_MS), 1);
	cr_assert_eq(kill(it_daemon_pid(), SIGTERM), 0);

	while ((n = read_frame(fd, buf, PROTO_ADMIN_MAX)) > 0) {
		cr_assert(!bye, "a frame after the goodbye");
		if (be32(buf + 8) == 7) {
			cr_assert(!done, "listing frames after its end");
			cr_assert_eq(buf[12], 0x02);	/* u32 status */
			cr_assert_eq(be32(buf + 13), PROTO_OK);
			if (buf[6] << 8 | buf[7])	/* PROTO_F_MORE */
				items++;
			else
				done = 1;
			continue;
		}
		/* Request id 0, status ESHUTDOWN: the goodbye. */
		cr_assert_eq(be32(buf + 8), 0);
		cr_assert_eq(buf[12], 0x02);
		cr_assert_eq(be32(buf + 13), PROTO_ESHUTDOWN);
		cr_assert(done, "the goodbye came before the listing's end");
		bye = 1;
	}
	cr_assert(bye, "no goodbye; log:\n%s", it_log());
	cr_assert_geq(items, LISTED);
	close(fd);
	free(buf);
	cr_assert_eq(it_wait_daemon_exit(IT_DEADLINE_MS), 0);
}

/* --- the packaged way: an unprivileged daemon on the manager's sockets --- */

Test(systemd, unprivileged_daemon_on_passed_sockets)
{
	/*
	 * As apikeyd.service runs it: sockets made by the manager (root)
	 * in a root directory, the daemon as a user of its own (alice here)
	 * with a state directory it owns. It needs no root for any of its
	 * work: SO_PEERCRED names the callers, NSS resolves the tenant's
	 * groups and bob's admin rights, and it writes only its store.
	 */
	const char	*dir = make_dir(it_path("run"));
	const char	*npath = it_path("notify");
	const char	*env[] = { it_printf("NOTIFY_SOCKET=%s", npath), NULL };
	int		 fds[2], nfd;
	const struct it_daemon_opt o = { .user = "alice", .env = env,
	    .fds = fds, .nfds = 2, .fdnames = "verify:admin" };
	const char	*tok, *out;
	struct it_ctl_opt co = { .no_sockdir = 1, .as = "bob" };
	struct it_run	 r;

	it_stop();
	cr_assert_eq(chown(it_state_dir(), it_uid("alice"),
	    it_gid("alice")), 0);
	cr_assert_eq(chmod(it_state_dir(), 0700), 0);
	cr_assert_eq(system(it_printf("chown -R %u:%u %s",
	    (unsigned)it_uid("alice"), (unsigned)it_gid("alice"),
	    it_state_dir())), 0);
	fds[0] = listen_socket(it_printf("%s/verify.sock", dir));
	fds[1] = listen_socket(it_printf("%s/admin.sock", dir));
	nfd = unix_socket(npath, SOCK_DGRAM);
	cr_assert_eq(chmod(npath, 0666), 0);
	it_spawn_daemon_opt(&o, daemon_args_in(it_sock_dir()));
	notify_wait(nfd, "READY=1");

	out = ctl_at(dir, "status");
	cr_assert_str_eq(it_field(out, "caller_admin"), "yes");
	cr_assert_str_eq(it_field(out, "pid"), it_printf("%d",
	    (int)it_daemon_pid()));
	/* NSS in the daemon: the group exists, bob administers it. */
	cr_assert_eq(it_ctlv(&r, &(struct it_ctl_opt){ .no_sockdir = 1 },
	    (const char *[]){ "--socket-dir", dir, "tenant", "add", "acme",
	    "--group", "acme", "--admin-group", "acme-admins", NULL }), 0,
	    "%s", r.err);
	cr_assert_eq(it_ctlv(&r, &co, (const char *[]){ "--socket-dir", dir,
	    "key", "create", "-q", "--tenant", "acme", NULL }), 0, "%s",
	    r.err);
	it_note_tokens(r.out);
	tok = it_keep(strndup(r.out, strcspn(r.out, "\n")));
	cr_assert_eq(code_at(dir, tok), APIKEY_VALID, "log:\n%s", it_log());
	/* dave is not in acme-admins: refused by the same lookup. */
	co.as = "dave";
	cr_assert_eq(it_ctlv(&r, &co, (const char *[]){ "--socket-dir", dir,
	    "key", "create", "-q", "--tenant", "acme", NULL }), 4, "%s",
	    r.err);

	stop_with(SIGTERM);
	close(fds[0]);
	close(fds[1]);
	close(nfd);
}
