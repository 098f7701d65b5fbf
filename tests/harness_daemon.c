/*
 * harness_daemon.c - apikeyd under test: started in the test's temporary
 * directory, as root or as a fixture user, optionally with listening
 * sockets passed the way systemd passes them; waited for until both its
 * sockets accept; stopped with a signal, checking that it exits cleanly
 * and leaves no socket behind.
 *
 * A test runs one daemon at a time (Criterion runs each test in a process
 * of its own), so its pid is a plain static. Nothing here sleeps to wait
 * for an event: exits are waited for on a pidfd (harness_proc.c), the
 * sockets and the log are polled with a deadline.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_int.h"

/* The daemon the harness started, until it is reaped; else 0. */
static pid_t daemon_pid;

pid_t
it_daemon_pid(void)
{
	return daemon_pid;
}

/* --- starting ------------------------------------------------------------- */

#define LISTEN_PID_VAR	"LISTEN_PID="

/*
 * In the child, between fork and exec: moves the passed sockets to fds 3
 * and up (through fds above them, so no move overwrites another) and puts
 * the child's pid in the LISTEN_PID entry that spawn_daemon left room
 * for. No allocation: the test may have threads.
 */
static int
child_pass_fds(const int *fds, size_t n, char **env)
{
	char	 digits[16], *p;
	int	 tmp[8], v, k, i;
	size_t	 j;

	if (n > 8)
		return -1;
	for (j = 0; j < n; j++)
		if ((tmp[j] = fcntl(fds[j], F_DUPFD, 64)) == -1)
			return -1;
	for (j = 0; j < n; j++)
		if (dup2(tmp[j], 3 + (int)j) == -1)
			return -1;
	for (j = 0; j < n; j++)
		close(tmp[j]);
	for (v = getpid(), k = 0; v > 0; v /= 10)
		digits[k++] = (char)('0' + v % 10);
	for (j = 0; env[j] != NULL; j++) {
		if (strncmp(env[j], LISTEN_PID_VAR,
		    strlen(LISTEN_PID_VAR)) != 0)
			continue;
		p = env[j] + strlen(LISTEN_PID_VAR);
		for (i = 0; i < k; i++)
			p[i] = digits[k - 1 - i];
		p[k] = '\0';
	}
	return 0;
}

/* What the daemon's child does before exec; see daemon_child(). */
struct daemon_child {
	const struct it_daemon_opt *o;
	char		**env;
	uid_t		 uid;
	gid_t		 gid;
	pid_t		 parent;
};

/*
 * In the child: the passed sockets, then, with o->user, the drop to that
 * fixture user; only then does it ask to be killed with the test, because
 * a uid change clears that request (so setpriv could not do it).
 */
static int
daemon_child(void *arg)
{
	const struct daemon_child *c = arg;
	const struct it_daemon_opt *o = c->o;

	if (o->nfds > 0 && child_pass_fds(o->fds, o->nfds, c->env) != 0) {
		dprintf(2, "harness: cannot pass sockets: %s\n",
		    strerror(errno));
		return -1;
	}
	if (o->user != NULL && (setgroups(0, NULL) == -1 ||
	    setresgid(c->gid, c->gid, c->gid) == -1 ||
	    setresuid(c->uid, c->uid, c->uid) == -1 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
	    getppid() != c->parent)) {
		dprintf(2, "harness: cannot become %s: %s\n", o->user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Starts apikeyd (or o->prog) with args, as root or, with o->user, as that
 * fixture user, stdin /dev/null, output appended to the log.
 */
static pid_t
spawn_daemon(const struct it_daemon_opt *o, const char *const *args)
{
	const char *argv[MAX_ARGS];
	const char *set[MAX_ARGS] = {
		it_printf("NSS_WRAPPER_PASSWD=%s", ith_passwd_path()),
		it_printf("NSS_WRAPPER_GROUP=%s", ith_group_path()),
		"APIKEY_SOCKET_DIR", "NOTIFY_SOCKET", "WATCHDOG_USEC",
		"WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
		"JOURNAL_STREAM"
	};
	struct daemon_child c = { .o = o, .parent = getpid() };
	struct it_proc_opt po = { .child = daemon_child, .arg = &c };
	size_t n = 0, ns = 10, i;
	pid_t pid;
	int fd;

	cr_assert(ith_ready(), "it_prepare first");
	cr_assert(daemon_pid == 0, "a daemon is already running");
	if (o->user != NULL) {
		c.uid = it_uid(o->user);
		c.gid = it_gid(o->user);
	}
	/* Connections to an earlier daemon are dead. */
	ith_close_clients();
	for (i = 0; o->env != NULL && o->env[i] != NULL && ns < MAX_ARGS - 4;
	    i++)
		set[ns++] = o->env[i];
	if (o->nfds > 0) {
		set[ns++] = it_printf("LISTEN_FDS=%zu", o->nfds);
		/* Room for any pid; child_pass_fds writes it. */
		set[ns++] = LISTEN_PID_VAR "0000000000";
		if (o->fdnames != NULL)
			set[ns++] = it_printf("LISTEN_FDNAMES=%s", o->fdnames);
	}
	set[ns] = NULL;
	argv[n++] = o->prog != NULL ? o->prog : it_apikeyd_path();
	while (*args != NULL && n < MAX_ARGS - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	c.env = it_make_env(set);
	/* Opened here, as root: the user need not be able to write there. */
	fd = open(it_log_path(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644);
	cr_assert(fd != -1, "open %s: %s", it_log_path(), strerror(errno));
	pid = it_proc_spawn(argv, c.env, (const int[3]){ -1, fd, fd }, &po);
	close(fd);
	it_free_env(c.env);
	daemon_pid = pid;
	return pid;
}

pid_t
it_spawn_daemon(const char *const *args)
{
	const struct it_daemon_opt o = { 0 };

	return spawn_daemon(&o, args);
}

pid_t
it_spawn_daemon_opt(const struct it_daemon_opt *o, const char *const *args)
{
	return spawn_daemon(o, args);
}

int
ith_can_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, ok;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return 0;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

void
it_wait_ready(const char *sockdir)
{
	const char *v = it_printf("%s/verify.sock", sockdir);
	const char *a = it_printf("%s/admin.sock", sockdir);
	int64_t end = it_now_ms() + IT_DEADLINE_MS;
	int backoff = 2, st;

	for (;;) {
		if (ith_can_connect(v) && ith_can_connect(a))
			return;
		st = it_proc_wait(daemon_pid, 0);
		if (st != -1) {
			daemon_pid = 0;
			cr_assert_fail("apikeyd exited with status %d before "
			    "its sockets accepted; log (end):\n%s", st,
			    ith_log_tail(ITH_LOG_TAIL));
		}
		cr_assert(it_now_ms() < end, "apikeyd sockets in %s did not "
		    "accept within %d ms; log (end):\n%s", sockdir,
		    IT_DEADLINE_MS, ith_log_tail(ITH_LOG_TAIL));
		it_msleep(backoff);
		if (backoff < 100)
			backoff *= 2;
	}
}

void
it_start(void)
{
	const char *args[] = {
		"-f", "-d", "-c", it_conf_path(), "--state-dir", it_state_dir(),
		"--socket-dir", it_sock_dir(), NULL
	};

	it_spawn_daemon(args);
	it_wait_ready(it_sock_dir());
}

/* --- stopping ------------------------------------------------------------- */

int
it_wait_daemon_exit(int ms)
{
	int st;

	cr_assert(daemon_pid != 0, "no daemon");
	st = it_proc_wait(daemon_pid, ms);
	if (st != -1)
		daemon_pid = 0;
	return st;
}

/* Stops the daemon; a description of what went wrong, or NULL. */
const char *
ith_stop_daemon(int sig)
{
	int st;

	ith_close_clients();
	if (daemon_pid == 0)
		return NULL;
	kill(daemon_pid, sig);
	st = it_proc_wait(daemon_pid, IT_DEADLINE_MS);
	if (st == -1) {
		it_proc_kill(daemon_pid);
		daemon_pid = 0;
		return it_printf("apikeyd did not exit within %d ms of signal "
		    "%d; killed", IT_DEADLINE_MS, sig);
	}
	daemon_pid = 0;
	if (st != 0)
		return it_printf("apikeyd exited with status %d on signal %d",
		    st, sig);
	if (access(it_printf("%s/verify.sock", it_sock_dir()), F_OK) == 0 ||
	    access(it_printf("%s/admin.sock", it_sock_dir()), F_OK) == 0)
		return "apikeyd left its sockets behind";
	return NULL;
}

void
it_stop_sig(int sig)
{
	const char *e = ith_stop_daemon(sig);

	cr_assert_null(e, "%s; log (end):\n%s", e, ith_log_tail(ITH_LOG_TAIL));
}

void
it_stop(void)
{
	it_stop_sig(SIGTERM);
}

void
it_restart(void)
{
	it_stop();
	it_start();
}

/* Whether the daemon the harness started is still running (not reaped). */
int
ith_daemon_alive(void)
{
	siginfo_t si;

	if (daemon_pid == 0)
		return 0;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, daemon_pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1)
		return 0;
	return si.si_pid == 0;
}

/* --- dirs and trust ------------------------------------------------------- */

/* apikeyd as a fixture user, for the tests of a daemon that is not root
 * (tests/it_dirs.c). */
pid_t
it_spawn_daemon_as(const char *user, const char *const *args)
{
	const struct it_daemon_opt o = { .user = user };

	return spawn_daemon(&o, args);
}

void
it_start_as(const char *user)
{
	const char *args[] = {
		"-f", "-d", "-c", it_conf_path(), "--state-dir", it_state_dir(),
		"--socket-dir", it_sock_dir(), NULL
	};

	it_spawn_daemon_as(user, args);
	it_wait_ready(it_sock_dir());
}

/* --- watching the daemon -------------------------------------------------- */

long
it_daemon_kb(const char *field)
{
	const char *p, *nl;
	size_t n = strlen(field);
	long kb;

	cr_assert(daemon_pid > 0, "no daemon running");
	p = it_read_file(it_printf("/proc/%d/status", (int)daemon_pid), NULL);
	for (; *p != '\0'; p = nl + 1) {
		if (strncmp(p, field, n) == 0 && p[n] == ':') {
			kb = strtol(p + n + 1, NULL, 10);
			cr_assert(kb > 0, "/proc/%d/status: %.40s",
			    (int)daemon_pid, p);
			return kb;
		}
		if ((nl = strchr(p, '\n')) == NULL)
			break;
	}
	cr_assert_fail("no %s in /proc/%d/status", field, (int)daemon_pid);
	return -1;
}

const char *
ith_log_tail(size_t n)
{
	return it_text_tail(it_log(), n);
}

void
it_log_wait(const char *needle, int ms)
{
	int64_t end = it_now_ms() + ms;

	while (strstr(it_log(), needle) == NULL) {
		cr_assert(it_now_ms() < end, "no \"%s\" in the daemon log "
		    "within %d ms; log (end):\n%s", needle, ms,
		    ith_log_tail(ITH_LOG_TAIL));
		it_msleep(10);
	}
}
