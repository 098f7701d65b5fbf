/*
 * harness_pam.c - the PAM side of the integration tests: the driver's
 * NSS files and PAM service directory in the test's root, the probe stack,
 * and runs of build/tests/pam_driver under pam_wrapper and nss_wrapper
 * (optionally paused between two steps), with their output captured and
 * checked for secrets.
 *
 * Linked into every it_* binary, so everything global here is prefixed
 * itp_; only it_pam*.c call it. Nothing here sleeps to wait for an event:
 * the driver's output is read with poll() against a deadline, its exit is
 * waited for on a pidfd.
 */
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include <criterion/criterion.h>

#include "harness_pam.h"

extern char **environ;

#define ITP_MAX_ARGS	64
#define ITP_MAX_RUNS	128
/* A driver run includes pam_wrapper's set-up and, under ASan, a slow
 * start; the tests that measure time bound it themselves. */
#define ITP_RUN_MS	(3 * IT_DEADLINE_MS)
/* Serializes pam_wrapper's start-up, see itp_lock_pam_wrapper(). */
#define ITP_PWRAP_LOCK	"/tmp/apikey-pam_wrapper.lock"
#define ITP_LOCK_FD	3

#define PAM_LIBDIR	"/usr/lib/x86_64-linux-gnu"
#define PAM_ECHO	PAM_LIBDIR "/security/pam_echo.so"
#define PAM_PERMIT	PAM_LIBDIR "/security/pam_permit.so"
#define PAM_EXEC	PAM_LIBDIR "/security/pam_exec.so"
#define PAM_DENY	PAM_LIBDIR "/security/pam_deny.so"

struct itp_drv {
	pid_t		 pid;
	int		 in;		/* write end of the driver's stdin */
	int		 out;		/* read ends, -1 once at EOF */
	int		 err;
	char		*obuf;
	size_t		 olen, ocap;
	size_t		 oscan;		/* stdout scanned for "pause" so far */
	int		 paused;	/* a "pause" line not yet waited for */
	char		*ebuf;
	size_t		 elen, ecap;
	int64_t		 start;
	int64_t		 end;
};

static struct {
	int		 ready;
	char		 module[PATH_MAX];
	char		 driver[PATH_MAX];
	char		 passwd[PATH_MAX];
	char		 group[PATH_MAX];
	char		 pamd[PATH_MAX];
	int		 edits;
	const char	*outputs[2 * ITP_MAX_RUNS];
	size_t		 noutputs;
} itp;

/* --- set-up --------------------------------------------------------------- */

static void
itp_write_file(const char *path, const char *data, time_t mtime)
{
	struct timespec	 ts[2];
	size_t		 len = strlen(data);
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert(fd != -1, "open %s: %s", path, strerror(errno));
	n = write(fd, data, len);
	cr_assert(n == (ssize_t)len, "write %s: %s", path, strerror(errno));
	if (mtime != 0) {
		/* nss_wrapper reloads a file when its mtime changed; two
		 * writes within a second must still differ. */
		ts[0].tv_sec = ts[1].tv_sec = mtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		cr_assert(futimens(fd, ts) == 0, "futimens: %s",
		    strerror(errno));
	}
	cr_assert(close(fd) == 0, "close %s: %s", path, strerror(errno));
}

static void
itp_find(char *dst, const char *dir, const char *rel)
{
	int	 n;

	n = snprintf(dst, PATH_MAX, "%s/%s", dir, rel);
	cr_assert(n > 0 && n < PATH_MAX, "path too long");
	cr_assert(access(dst, R_OK) == 0, "%s: %s (make build and "
	    "build/tests/pam_driver first)", dst, strerror(errno));
}

void
itp_init(void)
{
	const char	*b = getenv("APIKEY_BUILD");
	char		 dir[PATH_MAX];

	cr_assert(!itp.ready, "itp_init called twice");
	if (b == NULL || *b == '\0')
		b = "build";
	cr_assert_not_null(realpath(b, dir), "build directory %s: %s", b,
	    strerror(errno));
	itp_find(itp.module, dir, "pam_apikey.so");
	itp_find(itp.driver, dir, "tests/pam_driver");
	cr_assert(access(PAM_ECHO, R_OK) == 0 && access(PAM_EXEC, R_OK) == 0 &&
	    access(PAM_PERMIT, R_OK) == 0 && access(PAM_DENY, R_OK) == 0,
	    "libpam-modules is missing");

	snprintf(itp.passwd, sizeof(itp.passwd), "%s", it_path("pam-passwd"));
	snprintf(itp.group, sizeof(itp.group), "%s", it_path("pam-group"));
	snprintf(itp.pamd, sizeof(itp.pamd), "%s", it_path("pam.d"));
	itp_write_file(itp.passwd, it_read_file(getenv("NSS_WRAPPER_PASSWD"),
	    NULL), 0);
	itp_write_file(itp.group, it_read_file(getenv("NSS_WRAPPER_GROUP"),
	    NULL), 0);
	cr_assert(mkdir(itp.pamd, 0755) == 0, "mkdir %s: %s", itp.pamd,
	    strerror(errno));
	itp.ready = 1;
	/* Without it pam_wrapper logs "no default config other". */
	itp_service("other", "auth required " PAM_DENY "\n"
	    "account required " PAM_DENY "\n"
	    "session required " PAM_DENY "\n"
	    "password required " PAM_DENY "\n");
}

void
itp_setup(void)
{
	it_setup();
	itp_init();
}

void
itp_teardown(void)
{
	size_t	 i;

	/* Tokens created after a run are checked against it here. */
	for (i = 0; itp.ready && i < itp.noutputs; i++)
		it_assert_no_token("the output of pam_driver",
		    itp.outputs[i]);
	itp.noutputs = 0;
	itp.ready = 0;
	it_teardown();
}

const char *
itp_module(void)
{
	cr_assert(itp.ready, "itp_init first");
	return itp.module;
}

const char *
itp_driver(void)
{
	cr_assert(itp.ready, "itp_init first");
	return itp.driver;
}

const char *
itp_base_args(void)
{
	return it_printf("socket=%s nodelay", it_sock_dir());
}

void
itp_write(const char *path, const char *text)
{
	itp_write_file(path, text, 0);
}

void
itp_service(const char *name, const char *text)
{
	cr_assert(itp.ready, "itp_init first");
	itp_write_file(it_printf("%s/%s", itp.pamd, name), text, 0);
}

const char *
itp_probe_lines(const char *phase, const char *args)
{
	/* pam_echo is silent in close_session; pam_exec is not. */
	const char	*marker = strcmp(phase, "session") == 0 ?
	    PAM_EXEC " stdout quiet /bin/echo" : PAM_ECHO;

	return it_printf("%s [success=done ignore=ignore default=die] %s %s"
	    "%s%s\n%s optional %s apikey-ignored-%s\n%s required %s\n",
	    phase, itp_module(), itp_base_args(), args != NULL ? " " : "",
	    args != NULL ? args : "", phase, marker, phase, phase,
	    PAM_PERMIT);
}

void
itp_probe(const char *name, const char *args)
{
	itp_service(name, it_printf("%s%s%s%s", itp_probe_lines("auth", args),
	    itp_probe_lines("account", args), itp_probe_lines("session", args),
	    itp_probe_lines("password", args)));
}

static void
edit_file(const char *path, const char *from, const char *to)
{
	const char	*cur, *p;

	cr_assert(itp.ready, "itp_init first");
	cur = it_read_file(path, NULL);
	p = strstr(cur, from);
	cr_assert_not_null(p, "\"%s\" is not in %s:\n%s", from, path, cur);
	itp.edits++;
	itp_write_file(path, it_printf("%.*s%s%s", (int)(p - cur), cur,
	    to, p + strlen(from)), time(NULL) + 10 * itp.edits);
}

void
itp_group_edit(const char *from, const char *to)
{
	edit_file(itp.group, from, to);
}

void
itp_passwd_edit(const char *from, const char *to)
{
	edit_file(itp.passwd, from, to);
}

size_t
itp_verify_lines(void)
{
	const char	*p = it_log();
	size_t		 n = 0;

	while ((p = strstr(p, "verify: ")) != NULL) {
		n++;
		p++;
	}
	return n;
}

void
itp_wait_verify_lines(size_t n)
{
	int64_t	 end = it_now_ms() + IT_DEADLINE_MS;

	/* The daemon may log a verify after its reply went out. */
	while (itp_verify_lines() < n) {
		cr_assert(it_now_ms() < end, "fewer than %zu verify lines in "
		    "the log:\n%s", n, it_log());
		it_msleep(20);
	}
}

/* --- processes ------------------------------------------------------------ */

/* environ with PAM and NSS wrapping for the driver. */
static char **
itp_driver_env(void)
{
	const char	*preload = getenv("LD_PRELOAD");
	const char	*set[] = {
		it_printf("LD_PRELOAD=libpam_wrapper.so%s%s",
		    preload != NULL && *preload != '\0' ? " " : "",
		    preload != NULL ? preload : ""),
		it_printf("NSS_WRAPPER_PASSWD=%s", itp.passwd),
		it_printf("NSS_WRAPPER_GROUP=%s", itp.group),
		"PAM_WRAPPER=1",
		it_printf("PAM_WRAPPER_SERVICE_DIR=%s", itp.pamd),
		/* pam_syslog() lines at level 2; never 3, where
		 * pam_wrapper traces PAM_AUTHTOK itself. */
		"PAM_WRAPPER_DEBUGLEVEL=2",
		"PAM_DRIVER_LOCK_FD=3",		/* ITP_LOCK_FD */
		/* The module must not read it; a wrong one proves that. */
		"APIKEY_SOCKET_DIR=/nonexistent",
#ifdef __SANITIZE_ADDRESS__
		/* ASan refuses dlopen(RTLD_DEEPBIND). pam_wrapper 1.1.4
		 * reads the second name (a slip of its own); later
		 * releases read the documented first. */
		"PAM_WRAPPER_DISABLE_DEEPBIND=1",
		"UID_WRAPPER_DISABLE_DEEPBIND=1",
#endif
		NULL
	};
	size_t		 n = 0, i, j, k = 0, nl;
	char		**env;
	int		 drop;

	while (environ[n] != NULL)
		n++;
	env = calloc(n + sizeof(set) / sizeof(set[0]), sizeof(*env));
	cr_assert_not_null(env, "out of memory");
	for (i = 0; environ[i] != NULL; i++) {
		drop = 0;
		for (j = 0; set[j] != NULL; j++) {
			nl = (size_t)(strchr(set[j], '=') - set[j]);
			if (strncmp(environ[i], set[j], nl + 1) == 0)
				drop = 1;
		}
		if (!drop)
			env[k++] = environ[i];
	}
	for (j = 0; set[j] != NULL; j++)
		env[k++] = (char *)(uintptr_t)set[j];
	env[k] = NULL;
	return env;
}

/*
 * pam_wrapper (1.1.4) picks its directory /tmp/pam.X by lstat() then
 * mkdir() when it is loaded: two processes starting at once may pick the
 * same one, and one of them fails pam_start() with PAM_ABORT. So drivers
 * start one at a time, machine-wide: the lock is taken here, inherited by
 * the driver and dropped when it closes the descriptor at the top of
 * main(), after pam_wrapper's constructor. Returns the locked fd.
 */
static int
itp_lock_pam_wrapper(void)
{
	int64_t	 end = it_now_ms() + ITP_RUN_MS;
	int	 fd;

	fd = open(ITP_PWRAP_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	cr_assert(fd != -1, "open %s: %s", ITP_PWRAP_LOCK, strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		cr_assert(errno == EWOULDBLOCK || errno == EINTR, "flock: %s",
		    strerror(errno));
		cr_assert(it_now_ms() < end, "%s stayed locked for %d ms",
		    ITP_PWRAP_LOCK, ITP_RUN_MS);
		it_msleep(5);
	}
	return fd;
}

static struct itp_drv *
itp_spawn(const char *const *argv, char **envp, const char *secret)
{
	struct itp_drv	*d;
	int		 inp[2], outp[2], errp[2], lock = -1;
	char		*line;
	size_t		 len;
	ssize_t		 w;

	signal(SIGPIPE, SIG_IGN);
	if (argv[0] == itp.driver)
		lock = itp_lock_pam_wrapper();
	d = calloc(1, sizeof(*d));
	cr_assert_not_null(d, "out of memory");
	cr_assert(pipe2(inp, O_CLOEXEC) == 0 && pipe2(outp, O_CLOEXEC) == 0 &&
	    pipe2(errp, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	d->start = it_now_ms();
	d->end = d->start + ITP_RUN_MS;
	d->pid = fork();
	cr_assert(d->pid != -1, "fork: %s", strerror(errno));
	if (d->pid == 0) {
		sigset_t none;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(inp[0], 0);
		dup2(outp[1], 1);
		dup2(errp[1], 2);
		/* Inherited as fd 3 (PAM_DRIVER_LOCK_FD), which the driver
		 * closes; dup2() clears close-on-exec. */
		if (lock != -1 && (lock == ITP_LOCK_FD ? fcntl(lock, F_SETFD,
		    0) : dup2(lock, ITP_LOCK_FD)) == -1)
			_exit(126);
		/* argv and envp are not modified by execve. */
		execve(argv[0], (char *const *)(uintptr_t)argv, envp);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (lock != -1)
		close(lock);
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	d->in = inp[1];
	d->out = outp[0];
	d->err = errp[0];
	if (secret != NULL) {
		len = strlen(secret);
		line = malloc(len + 2);
		cr_assert_not_null(line, "out of memory");
		memcpy(line, secret, len);
		line[len] = '\n';
		/* A line fits in the pipe buffer. */
		w = write(d->in, line, len + 1);
		explicit_bzero(line, len + 2);
		free(line);
		cr_assert(w == (ssize_t)len + 1, "write: %s", strerror(errno));
	}
	return d;
}

static void
itp_kill(struct itp_drv *d)
{
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
}

/*
 * Reads the driver's output until stop() says so or both streams are at
 * end; fails the test (killing the driver) past the deadline.
 */
static void
itp_pump(struct itp_drv *d, int (*stop)(struct itp_drv *))
{
	struct pollfd	 pfd[2];
	int		 nfd, left, i;

	while (d->out != -1 || d->err != -1) {
		if (stop != NULL && stop(d))
			return;
		nfd = 0;
		if (d->out != -1) {
			pfd[nfd].fd = d->out;
			pfd[nfd++].events = POLLIN;
		}
		if (d->err != -1) {
			pfd[nfd].fd = d->err;
			pfd[nfd++].events = POLLIN;
		}
		left = (int)(d->end - it_now_ms());
		if (left <= 0 || poll(pfd, (nfds_t)nfd, left) == 0) {
			itp_kill(d);
			cr_assert_fail("pam_driver did not finish within %d ms;"
			    " stdout:\n%s\nstderr:\n%s", ITP_RUN_MS,
			    d->obuf != NULL ? d->obuf : "",
			    d->ebuf != NULL ? d->ebuf : "");
		}
		for (i = 0; i < nfd; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == d->out) {
				if (!it_append_fd(d->out, &d->obuf, &d->olen,
				    &d->ocap)) {
					close(d->out);
					d->out = -1;
				}
			} else if (!it_append_fd(d->err, &d->ebuf, &d->elen,
			    &d->ecap)) {
				close(d->err);
				d->err = -1;
			}
		}
	}
}

static int
itp_paused(struct itp_drv *d)
{
	const char	*p;

	for (p = d->obuf != NULL ? d->obuf + d->oscan : NULL; p != NULL &&
	    *p != '\0';) {
		if (strncmp(p, "pause\n", 6) == 0) {
			d->oscan = (size_t)(p - d->obuf) + 6;
			d->paused = 1;
			return 1;
		}
		if ((p = strchr(p, '\n')) == NULL)
			break;
		p++;
		/* Only whole lines count as scanned. */
		d->oscan = (size_t)(p - d->obuf);
	}
	return 0;
}

/* Exit status of pid within ms, -1 if it is still running. */
static int
itp_reap(pid_t pid, int ms)
{
	struct pollfd	 pfd;
	int64_t		 end = it_now_ms() + ms;
	pid_t		 r;
	int		 status, fd, left;

	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		left = (int)(end - it_now_ms());
		if ((r == -1 && errno != EINTR) || left <= 0) {
			if (fd != -1)
				close(fd);
			return -1;
		}
		if (fd != -1) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			poll(&pfd, 1, left);
		} else
			it_msleep(left < 10 ? left : 10);
	}
	if (fd != -1)
		close(fd);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* Waits for d to exit and fills *r; frees d. */
static void
itp_collect(struct itp_drv *d, struct itp_run *r)
{
	int	 st;

	if (d->in != -1) {
		close(d->in);
		d->in = -1;
	}
	itp_pump(d, NULL);
	st = itp_reap(d->pid, (int)(d->end - it_now_ms()) + 1000);
	if (st == -1) {
		itp_kill(d);
		cr_assert_fail("pam_driver closed its output but did not exit");
	}
	r->status = st;
	r->ms = it_now_ms() - d->start;
	r->out = it_keep(d->obuf != NULL ? d->obuf : strdup(""));
	r->err = it_keep(d->ebuf != NULL ? d->ebuf : strdup(""));
	free(d);
}

static const char **
itp_argv(const char *first, va_list ap)
{
	const char	**argv;
	const char	 *a;
	size_t		  n = 0;

	argv = calloc(ITP_MAX_ARGS, sizeof(*argv));
	cr_assert_not_null(argv, "out of memory");
	it_keep((char *)argv);
	argv[n++] = itp_driver();
	for (a = first; a != NULL; a = va_arg(ap, const char *)) {
		cr_assert(n < ITP_MAX_ARGS - 1, "too many arguments");
		argv[n++] = a;
	}
	argv[n] = NULL;
	return argv;
}

struct itp_drv *
itp_start(const char *secret, ...)
{
	struct itp_drv	 *d;
	const char	**argv;
	char		**env;
	va_list		  ap;

	va_start(ap, secret);
	argv = itp_argv(va_arg(ap, const char *), ap);
	va_end(ap);
	env = itp_driver_env();
	d = itp_spawn(argv, env, secret);
	free(env);
	return d;
}

void
itp_wait_pause(struct itp_drv *d)
{
	itp_pump(d, itp_paused);
	if (d->paused || itp_paused(d)) {
		d->paused = 0;
		return;
	}
	itp_kill(d);
	cr_assert_fail("pam_driver ended without pausing; stdout:\n%s\n"
	    "stderr:\n%s", d->obuf != NULL ? d->obuf : "",
	    d->ebuf != NULL ? d->ebuf : "");
}

void
itp_resume(struct itp_drv *d)
{
	cr_assert(write(d->in, "go\n", 3) == 3, "write: %s", strerror(errno));
}

void
itp_finish(struct itp_drv *d, struct itp_run *r)
{
	itp_collect(d, r);
	cr_assert(itp.noutputs + 2 <= sizeof(itp.outputs) /
	    sizeof(itp.outputs[0]), "too many driver runs");
	itp.outputs[itp.noutputs++] = r->out;
	itp.outputs[itp.noutputs++] = r->err;
	it_assert_no_token("the output of pam_driver", r->out);
	it_assert_no_token("pam_syslog output (pam_driver's stderr)", r->err);
	cr_assert_eq(r->status, 0, "pam_driver exited with %d; stdout:\n%s\n"
	    "stderr:\n%s", r->status, r->out, r->err);
}

void
itp_run(struct itp_run *r, const char *secret, ...)
{
	struct itp_drv	 *d;
	const char	**argv;
	char		**env;
	va_list		  ap;

	va_start(ap, secret);
	argv = itp_argv(va_arg(ap, const char *), ap);
	va_end(ap);
	env = itp_driver_env();
	d = itp_spawn(argv, env, secret);
	free(env);
	itp_finish(d, r);
}

void
itp_exec(struct itp_run *r, const char *const *argv)
{
	itp_collect(itp_spawn(argv, environ, NULL), r);
}

/* --- reading the driver's output ------------------------------------------ */

static const char *const itp_steps[][2] = {
	{ "authenticate", "auth" },
	{ "setcred", "auth" },
	{ "acct", "account" },
	{ "open_session", "session" },
	{ "close_session", "session" },
	{ "chauthtok", "password" },
};

/* The phase of a step name at line (followed by a space), or NULL. */
static const char *
itp_step_at(const char *line, size_t *namelen)
{
	size_t	 i, n;

	for (i = 0; i < sizeof(itp_steps) / sizeof(itp_steps[0]); i++) {
		n = strlen(itp_steps[i][0]);
		if (strncmp(line, itp_steps[i][0], n) == 0 &&
		    line[n] == ' ') {
			*namelen = n;
			return itp_steps[i][1];
		}
	}
	return NULL;
}

/* Finds the n-th result line of step; *rc its value, *ignored whether the
 * probe's marker came since the previous result line. */
static void
itp_find_step(const char *out, const char *step, int n, int *rc,
    int *ignored)
{
	const char	*p = out, *phase, *e;
	size_t		 nl;
	int		 marker = 0;
	char		*end;
	long		 v;

	while (*p != '\0') {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		phase = itp_step_at(p, &nl);
		if (phase != NULL) {
			if (nl == strlen(step) && strncmp(p, step, nl) == 0 &&
			    n-- == 0) {
				v = strtol(p + nl + 1, &end, 10);
				cr_assert(end != p + nl + 1 && *end == ' ',
				    "bad result line in:\n%s", out);
				*rc = (int)v;
				*ignored = marker;
				return;
			}
			marker = 0;
		} else if (strncmp(p, "info apikey-ignored-", 20) == 0)
			marker = 1;
		p = *e == '\n' ? e + 1 : e;
	}
	cr_assert_fail("no result of step %s in the driver's output:\n%s",
	    step, out);
}

int
itp_raw_rc(const char *out, const char *step, int n)
{
	int	 rc = -1, ignored = 0;

	itp_find_step(out, step, n, &rc, &ignored);
	return rc;
}

int
itp_rc(const char *out, const char *step, int n)
{
	int	 rc = -1, ignored = 0;

	itp_find_step(out, step, n, &rc, &ignored);
	/* The marker runs only after the module's PAM_IGNORE, whatever the
	 * modules below it decide. */
	return ignored ? PAM_IGNORE : rc;
}

int
itp_auth(const char *service, const char *user, const char *secret)
{
	struct itp_run	 r;

	itp_run(&r, secret, service, user, "authenticate", NULL);
	return itp_rc(r.out, "authenticate", 0);
}
