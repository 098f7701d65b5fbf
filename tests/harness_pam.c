/*
 * harness_pam.c - the PAM side of the integration tests: the driver's
 * NSS files and PAM service directory in the test's root, the probe stack,
 * and runs of build/tests/pam_driver under pam_wrapper and nss_wrapper
 * (optionally paused between two steps), with their output captured and
 * checked for secrets, then and at teardown (it_scan_later()).
 *
 * pam_syslog() output is captured as the driver's standard error
 * (PAM_WRAPPER_DEBUGLEVEL=2): pam_wrapper writes it there instead of to
 * syslog, and keeps no other copy. With APIKEY_VALGRIND=1 in the
 * environment (make valgrind) the driver runs under valgrind's memcheck,
 * which then checks pam_apikey.so and the libapikey inside it.
 *
 * Linked into every it_* binary, so everything global here is prefixed
 * itp_; the PAM tests (it_pam*.c) call it, and so do the tests that also
 * check their case through PAM (it_connections.c, it_dirs.c,
 * it_fairness.c, it_identity.c). Nothing here sleeps to wait for an event:
 * the driver's output is read with poll() against a deadline, its exit is
 * waited for on a pidfd (harness_proc.c).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
/* A driver run includes pam_wrapper's set-up and, under ASan, a slow
 * start; the tests that measure time bound it themselves. */
#define ITP_RUN_MS	(3 * IT_DEADLINE_MS)
/* Serializes pam_wrapper's start-up, see itp_lock_pam_wrapper(). */
#define ITP_PWRAP_LOCK	"/tmp/apikey-pam_wrapper.lock"
#define ITP_LOCK_FD	3

#define PAM_ECHO	"pam_echo.so"
#define PAM_PERMIT	"pam_permit.so"
#define PAM_EXEC	"pam_exec.so"
#define PAM_DENY	"pam_deny.so"

struct itp_drv {
	pid_t		 pid;
	int		 in;		/* write end of the driver's stdin */
	struct it_out	 o[2];		/* its stdout and stderr */
	size_t		 oscan;		/* stdout scanned for "pause" so far */
	int		 paused;	/* a "pause" line not yet waited for */
	int64_t		 start;
	int64_t		 end;
	const char	*vglog;		/* valgrind's log, or NULL */
};

static struct {
	int		 ready;
	char		 module[PATH_MAX];
	char		 driver[PATH_MAX];
	char		 passwd[PATH_MAX];
	char		 group[PATH_MAX];
	char		 pamd[PATH_MAX];
	int		 edits;
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

/*
 * The first line argv prints on stdout, if it runs and exits 0 within
 * IT_DEADLINE_MS (a missing program is no error: the caller asks the
 * next); "" otherwise. Harness-owned.
 */
static const char *
itp_ask(const char *const *argv)
{
	struct it_out	 o = { .fd = -1 };
	int		 p[2], st = -1;
	pid_t		 pid;

	cr_assert(pipe2(p, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	pid = it_proc_spawn(argv, environ, (const int[3]){ -1, p[1], -1 },
	    NULL);
	close(p[1]);
	o.fd = p[0];
	if (it_proc_read(&o, 1, it_now_ms() + IT_DEADLINE_MS, NULL,
	    NULL) == 0)
		st = it_proc_wait(pid, IT_DEADLINE_MS);
	if (st == -1)
		it_proc_kill(pid);
	if (o.fd != -1)
		close(o.fd);
	if (o.buf == NULL || st != 0) {
		free(o.buf);
		return "";
	}
	o.buf[strcspn(o.buf, "\n")] = '\0';
	return it_keep(o.buf);
}

/* Whether dir holds the stock modules the probe and "other" stacks use. */
static int
itp_has_modules(const char *dir)
{
	static const char *const mods[] = {
		PAM_ECHO, PAM_EXEC, PAM_PERMIT, PAM_DENY
	};
	size_t	 i;

	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
		if (access(it_printf("%s/%s", dir, mods[i]), R_OK) != 0)
			return 0;
	return 1;
}

/*
 * The directory of the system's PAM modules, as the Makefile finds it for
 * PAMDIR: libpam's pkg-config libdir, else the multiarch library
 * directories (Debian's dpkg-architecture, else the compiler's triplet),
 * each followed by /security. Asked once per test process.
 */
static const char *
itp_security_dir(void)
{
	static const char *const pc[] = { "pkg-config", "--variable=libdir",
	    "pam", NULL };
	static const char *const dpkg[] = { "dpkg-architecture",
	    "-qDEB_HOST_MULTIARCH", NULL };
	static const char *const cc[] = { "cc", "-print-multiarch", NULL };
	static const char *const prefix[] = { "/lib", "/usr/lib" };
	static char	 found[PATH_MAX];
	const char	*libdir, *triplet[2], *dir, *tried = "";
	size_t		 i, j;

	if (found[0] != '\0')
		return found;
	libdir = itp_ask(pc);
	if (*libdir != '\0') {
		tried = it_printf("%s/security", libdir);
		if (itp_has_modules(tried)) {
			snprintf(found, sizeof(found), "%s", tried);
			return found;
		}
	}
	triplet[0] = itp_ask(dpkg);
	triplet[1] = itp_ask(cc);
	for (i = 0; i < 2; i++) {
		for (j = 0; *triplet[i] != '\0' && j < 2; j++) {
			dir = it_printf("%s/%s/security", prefix[j],
			    triplet[i]);
			tried = it_printf("%s%s%s", tried, *tried != '\0' ?
			    ", " : "", dir);
			if (itp_has_modules(dir)) {
				snprintf(found, sizeof(found), "%s", dir);
				return found;
			}
		}
	}
	cr_assert_fail("no PAM module directory with %s, %s, %s and %s "
	    "(libpam-modules installs them): %s. Asked: pkg-config "
	    "--variable=libdir pam: \"%s\" (pam.pc is in libpam0g-dev); "
	    "dpkg-architecture -qDEB_HOST_MULTIARCH: \"%s\"; "
	    "cc -print-multiarch: \"%s\"", PAM_ECHO, PAM_EXEC, PAM_PERMIT,
	    PAM_DENY, *tried != '\0' ? it_printf("not in %s", tried) :
	    "nothing to look in", libdir, triplet[0], triplet[1]);
	return NULL;
}

const char *
itp_pam_lib(const char *name)
{
	return it_printf("%s/%s", itp_security_dir(), name);
}

const char *
itp_matrix_module(void)
{
	static const char *const pc[] = { "pkg-config", "--variable=modules",
	    "pam_wrapper", NULL };
	const char	*dir = itp_ask(pc), *mod;

	cr_assert(*dir != '\0', "pkg-config --variable=modules pam_wrapper "
	    "says nothing (libpam-wrapper installs pam_wrapper.pc)");
	mod = it_printf("%s/pam_matrix.so", dir);
	cr_assert(access(mod, R_OK) == 0, "%s: %s (libpam-wrapper)", mod,
	    strerror(errno));
	return mod;
}

void
itp_init(void)
{
	const char	*b = getenv("APIKEY_BUILD"), *deny;
	char		 dir[PATH_MAX];

	cr_assert(!itp.ready, "itp_init called twice");
	if (b == NULL || *b == '\0')
		b = "build";
	cr_assert_not_null(realpath(b, dir), "build directory %s: %s", b,
	    strerror(errno));
	itp_find(itp.module, dir, "pam_apikey.so");
	itp_find(itp.driver, dir, "tests/pam_driver");
	/* Fails the test, saying where it looked, without the modules. */
	(void)itp_security_dir();

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
	deny = itp_pam_lib(PAM_DENY);
	itp_service("other", it_printf("auth required %s\naccount required "
	    "%s\nsession required %s\npassword required %s\n", deny, deny,
	    deny, deny));
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
	/* it_teardown() checks every driver's output for the tokens noted
	 * by then, also those created after the run. */
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
	    it_printf("%s stdout quiet /bin/echo", itp_pam_lib(PAM_EXEC)) :
	    itp_pam_lib(PAM_ECHO);

	return it_printf("%s [success=done ignore=ignore default=die] %s %s"
	    "%s%s\n%s optional %s apikey-ignored-%s\n%s required %s\n",
	    phase, itp_module(), itp_base_args(), args != NULL ? " " : "",
	    args != NULL ? args : "", phase, marker, phase, phase,
	    itp_pam_lib(PAM_PERMIT));
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

/* environ with PAM and NSS wrapping for the driver; free with
 * it_free_env(). */
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

	return it_make_env(set);
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

/*
 * In the child: the lock becomes fd 3 (PAM_DRIVER_LOCK_FD), which the
 * driver closes; dup2() clears close-on-exec.
 */
static int
itp_pass_lock(void *arg)
{
	int	 lock = *(const int *)arg;

	if ((lock == ITP_LOCK_FD ? fcntl(lock, F_SETFD, 0) :
	    dup2(lock, ITP_LOCK_FD)) == -1)
		return -1;
	return 0;
}

static struct itp_drv *
itp_spawn(const char *const *argv, char *const *envp, const char *secret,
    int driver)
{
	struct it_proc_opt	 o = { .child = itp_pass_lock };
	struct itp_drv		*d;
	int			 inp[2], outp[2], errp[2], lock = -1;
	char			*line;
	size_t			 len;
	ssize_t			 w;

	signal(SIGPIPE, SIG_IGN);
	if (driver)
		lock = itp_lock_pam_wrapper();
	o.arg = &lock;
	d = calloc(1, sizeof(*d));
	cr_assert_not_null(d, "out of memory");
	cr_assert(pipe2(inp, O_CLOEXEC) == 0 && pipe2(outp, O_CLOEXEC) == 0 &&
	    pipe2(errp, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	d->start = it_now_ms();
	d->end = d->start + ITP_RUN_MS;
	d->pid = it_proc_spawn(argv, envp, (const int[3]){ inp[0], outp[1],
	    errp[1] }, lock != -1 ? &o : NULL);
	if (lock != -1)
		close(lock);
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	d->in = inp[1];
	d->o[0].fd = outp[0];
	d->o[1].fd = errp[0];
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

/* What the driver printed so far on stdout (0) or stderr (1). */
static const char *
itp_so_far(const struct itp_drv *d, int i)
{
	return d->o[i].buf != NULL ? d->o[i].buf : "";
}

/*
 * Reads the driver's output until stop() says so or both streams are at
 * end; fails the test (killing the driver) past the deadline.
 */
static void
itp_pump(struct itp_drv *d, int (*stop)(void *))
{
	if (it_proc_read(d->o, 2, d->end, stop, d) != -1)
		return;
	it_proc_kill(d->pid);
	cr_assert_fail("pam_driver did not finish within %d ms; stdout:\n%s\n"
	    "stderr:\n%s", ITP_RUN_MS, itp_so_far(d, 0), itp_so_far(d, 1));
}

static int
itp_paused(void *arg)
{
	struct itp_drv	*d = arg;
	const char	*buf = d->o[0].buf, *p;

	for (p = buf != NULL ? buf + d->oscan : NULL; p != NULL &&
	    *p != '\0';) {
		if (strncmp(p, "pause\n", 6) == 0) {
			d->oscan = (size_t)(p - buf) + 6;
			d->paused = 1;
			return 1;
		}
		if ((p = strchr(p, '\n')) == NULL)
			break;
		p++;
		/* Only whole lines count as scanned. */
		d->oscan = (size_t)(p - buf);
	}
	return 0;
}

/*
 * Under valgrind, fails the test unless the driver's log says "ERROR
 * SUMMARY: 0 errors": memory errors, or a definite or indirect leak.
 */
static void
itp_check_valgrind(const struct itp_drv *d)
{
	const char	*log, *p;

	if (d->vglog == NULL)
		return;
	cr_assert(access(d->vglog, R_OK) == 0, "valgrind left no log %s: %s",
	    d->vglog, strerror(errno));
	log = it_read_file(d->vglog, NULL);
	p = strstr(log, "ERROR SUMMARY: ");
	cr_assert(p != NULL && strncmp(p, "ERROR SUMMARY: 0 errors", 23) == 0,
	    "valgrind found errors in pam_driver (%s):\n%s", d->vglog, log);
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
	st = it_proc_wait(d->pid, (int)(d->end - it_now_ms()) + 1000);
	if (st == -1) {
		it_proc_kill(d->pid);
		cr_assert_fail("pam_driver closed its output but did not exit");
	}
	r->status = st;
	r->ms = it_now_ms() - d->start;
	r->out = it_keep(d->o[0].buf != NULL ? d->o[0].buf : strdup(""));
	r->err = it_keep(d->o[1].buf != NULL ? d->o[1].buf : strdup(""));
	itp_check_valgrind(d);
	free(d);
}

/*
 * With APIKEY_VALGRIND=1, the start of an argv running what follows under
 * valgrind, its log in ROOT/valgrind/pam_driver.PID.log, suppressions
 * from $APIKEY_VALGRIND_SUPP, else tests/valgrind.supp if the current
 * directory has it. Returns the number of arguments written.
 */
static size_t
itp_valgrind_argv(const char *argv[ITP_MAX_ARGS])
{
	const char	*v = getenv("APIKEY_VALGRIND");
	const char	*supp = getenv("APIKEY_VALGRIND_SUPP");
	const char	*dir = it_path("valgrind");
	size_t		 n = 0;

	if (v == NULL || strcmp(v, "1") != 0)
		return 0;
	if (supp == NULL && access("tests/valgrind.supp", R_OK) == 0)
		supp = "tests/valgrind.supp";
	cr_assert(mkdir(dir, 0755) == 0 || errno == EEXIST, "mkdir %s: %s",
	    dir, strerror(errno));
	argv[n++] = "valgrind";
	argv[n++] = "--error-exitcode=1";
	argv[n++] = "--leak-check=full";
	argv[n++] = "--show-leak-kinds=definite,indirect";
	argv[n++] = "--errors-for-leak-kinds=definite,indirect";
	argv[n++] = "--num-callers=30";
	/* Names the module's frames even after pam_end() unloaded it. */
	argv[n++] = "--keep-debuginfo=yes";
	/* No FIFOs in /tmp for a debugger that never comes. */
	argv[n++] = "--vgdb=no";
	argv[n++] = it_printf("--log-file=%s/pam_driver.%%p.log", dir);
	if (supp != NULL)
		argv[n++] = it_printf("--suppressions=%s", supp);
	return n;
}

/*
 * [valgrind ...] pam_driver, then the arguments of ap up to its NULL;
 * *vg says whether valgrind runs it.
 */
static void
itp_argv(const char *argv[ITP_MAX_ARGS], int *vg, va_list ap)
{
	size_t	 n = itp_valgrind_argv(argv);

	*vg = n > 0;
	argv[n++] = itp_driver();
	it_argv_va(argv, ITP_MAX_ARGS, n, ap);
}

/* The driver, with the log valgrind writes for it when vg. */
static struct itp_drv *
itp_spawn_driver(const char *const *argv, const char *secret, int vg)
{
	struct itp_drv	*d;
	char		**env = itp_driver_env();

	d = itp_spawn(argv, env, secret, 1);
	it_free_env(env);
	if (vg)
		d->vglog = it_printf("%s/pam_driver.%d.log",
		    it_path("valgrind"), (int)d->pid);
	return d;
}

struct itp_drv *
itp_start(const char *secret, ...)
{
	const char	*argv[ITP_MAX_ARGS];
	va_list		 ap;
	int		 vg;

	va_start(ap, secret);
	itp_argv(argv, &vg, ap);
	va_end(ap);
	return itp_spawn_driver(argv, secret, vg);
}

void
itp_wait_pause(struct itp_drv *d)
{
	itp_pump(d, itp_paused);
	if (d->paused || itp_paused(d)) {
		d->paused = 0;
		return;
	}
	it_proc_kill(d->pid);
	cr_assert_fail("pam_driver ended without pausing; stdout:\n%s\n"
	    "stderr:\n%s", itp_so_far(d, 0), itp_so_far(d, 1));
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
	it_scan_later("the output of pam_driver", r->out);
	it_scan_later("pam_syslog output (pam_driver's stderr)", r->err);
	it_assert_no_token("the output of pam_driver", r->out);
	it_assert_no_token("pam_syslog output (pam_driver's stderr)", r->err);
	cr_assert_eq(r->status, 0, "pam_driver exited with %d; stdout:\n%s\n"
	    "stderr:\n%s", r->status, r->out, r->err);
}

void
itp_run(struct itp_run *r, const char *secret, ...)
{
	const char	*argv[ITP_MAX_ARGS];
	va_list		 ap;
	int		 vg;

	va_start(ap, secret);
	itp_argv(argv, &vg, ap);
	va_end(ap);
	itp_finish(itp_spawn_driver(argv, secret, vg), r);
}

void
itp_exec(struct itp_run *r, const char *const *argv)
{
	itp_collect(itp_spawn(argv, environ, NULL, 0), r);
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
