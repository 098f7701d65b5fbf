/*
 * harness_ctl.c - apikeyctl runs of the integration tests: as root or,
 * through setpriv, as a fixture user; in the foreground with their output
 * captured, or in the background with it in files under the test's root.
 * Every token apikeyctl prints is noted, and whatever else it printed is
 * handed to the search for secrets at teardown (harness_tokens.c).
 *
 * A run is waited for on a pidfd with a deadline (harness_proc.c), and
 * killed when it does not finish in time; the background runs of a test
 * (MAX_SPAWNED at most at once) are killed at its teardown.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_int.h"

#define MAX_SPAWNED	8
#define CTL_TIMEOUT_MS	30000

/* The background runs of it_ctl_spawn(). */
static struct {
	int		 nbg;		/* bg-N.* made so far */
	char		**captures;	/* bg-N.out with a token by design */
	size_t		 ncaptures;
	pid_t		 spawned[MAX_SPAWNED];
	int		 spawned_n[MAX_SPAWNED];	/* bg-N.out */
	size_t		 nspawned;
} bg;

/* --- processes ------------------------------------------------------------ */

/*
 * Runs argv with envp, stdin data in, capturing stdout and stderr, within
 * timeout_ms (else kills it). Returns NULL, or what went wrong (*r then
 * holds what it printed, status -1). Asserts only when out of memory or
 * processes: the teardown uses it too.
 */
static const char *
try_capture(const char *const *argv, char **envp, const char *in,
    int timeout_ms, struct it_run *r)
{
	struct it_out o[2] = { { .fd = -1 }, { .fd = -1 } };
	int inp[2], outp[2], errp[2];
	const char *e = NULL;
	size_t inlen;
	int64_t end;
	ssize_t w;
	pid_t pid;
	int status = -1;

	signal(SIGPIPE, SIG_IGN);
	/* A caller that reports a failure reads r: never leave it unset. */
	r->status = -1;
	r->out = "";
	r->err = "";
	if (pipe2(inp, O_CLOEXEC) == -1)
		return it_printf("pipe: %s", strerror(errno));
	if (pipe2(outp, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1)
		cr_assert_fail("pipe: %s", strerror(errno));
	pid = it_proc_spawn(argv, envp, (const int[3]){ inp[0], outp[1],
	    errp[1] }, NULL);
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	o[0].fd = outp[0];
	o[1].fd = errp[0];
	if (in != NULL) {
		/* Small inputs only: they fit in the pipe buffer. */
		inlen = strlen(in);
		w = write(inp[1], in, inlen);
		if (w != (ssize_t)inlen && errno != EPIPE)
			e = it_printf("write stdin: %s", strerror(errno));
	}
	close(inp[1]);
	end = it_now_ms() + timeout_ms;
	if (e == NULL && it_proc_read(o, 2, end, NULL, NULL) == -1)
		e = it_printf("%s did not finish within %d ms", argv[0],
		    timeout_ms);
	if (e == NULL && (status = it_proc_wait(pid, (int)(end -
	    it_now_ms()) + 1000)) == -1)
		e = it_printf("%s closed its output but did not exit",
		    argv[0]);
	if (e != NULL)
		it_proc_kill(pid);
	if (o[0].fd != -1)
		close(o[0].fd);
	if (o[1].fd != -1)
		close(o[1].fd);
	r->status = status;
	r->out = it_keep(o[0].buf != NULL ? o[0].buf : strdup(""));
	r->err = it_keep(o[1].buf != NULL ? o[1].buf : strdup(""));
	return e;
}

void
ith_run_capture(const char *const *argv, char **envp, const char *in,
    int timeout_ms, struct it_run *r)
{
	const char *e = try_capture(argv, envp, in, timeout_ms, r);

	cr_assert_null(e, "%s; stdout:\n%s\nstderr:\n%s", e, r->out, r->err);
}

/* --- apikeyctl ------------------------------------------------------------ */

/*
 * The start of an argv that runs a program as uid/gid through setpriv,
 * with no supplementary groups; with setuid, as a setuid-root program run
 * by that user is: real ids the user's, effective ids root's. Returns the
 * number of arguments written.
 */
size_t
ith_setpriv_argv(const char **argv, uid_t uid, gid_t gid, int setuid)
{
	size_t n = 0;

	argv[n++] = access("/usr/bin/setpriv", X_OK) == 0 ?
	    "/usr/bin/setpriv" : "/bin/setpriv";
	if (setuid) {
		argv[n++] = it_printf("--ruid=%u", (unsigned)uid);
		argv[n++] = "--euid=0";
		argv[n++] = it_printf("--rgid=%u", (unsigned)gid);
		argv[n++] = "--egid=0";
	} else {
		argv[n++] = it_printf("--reuid=%u", (unsigned)uid);
		argv[n++] = it_printf("--regid=%u", (unsigned)gid);
	}
	argv[n++] = "--clear-groups";
	argv[n++] = "--";
	return n;
}

/* argv := apikeyctl [as user via setpriv] [--socket-dir] args. */
static void
ctl_argv(const char *argv[MAX_ARGS], const struct it_ctl_opt *o,
    const char *const *args)
{
	size_t n = 0;

	cr_assert(ith_ready(), "it_prepare first");
	if (o->ids)
		n = ith_setpriv_argv(argv, o->uid, o->gid, 0);
	else if (o->as != NULL && strcmp(o->as, "root") != 0)
		n = ith_setpriv_argv(argv, it_uid(o->as), it_gid(o->as), 0);
	argv[n++] = ith_apikeyctl_path();
	if (!o->no_sockdir) {
		argv[n++] = "--socket-dir";
		argv[n++] = it_sock_dir();
	}
	while (*args != NULL) {
		cr_assert(n < MAX_ARGS - 1, "too many arguments");
		argv[n++] = *args++;
	}
	argv[n] = NULL;
}

static char **
ctl_env(const struct it_ctl_opt *o)
{
	const char *set[] = { "APIKEY_SOCKET_DIR", NULL };

	if (o->sockdir_env != NULL)
		set[0] = it_printf("APIKEY_SOCKET_DIR=%s", o->sockdir_env);
	return it_make_env(set);
}

/*
 * Whether apikeyctl ARGS prints a token by design: key create and key
 * rotate do, once (global options may stand anywhere, so any "create" or
 * "rotate" after "key" counts).
 */
static int
prints_token(const char *const *args)
{
	size_t i, j;

	for (i = 0; args[i] != NULL; i++) {
		if (strcmp(args[i], "key") != 0)
			continue;
		for (j = i + 1; args[j] != NULL; j++)
			if (strcmp(args[j], "create") == 0 ||
			    strcmp(args[j], "rotate") == 0)
				return 1;
	}
	return 0;
}

/* "apikeyctl ARGS", shortened, for messages. */
const char *
ith_ctl_what(const char *const *args)
{
	const char *w = "apikeyctl";
	size_t i;

	for (i = 0; args[i] != NULL && strlen(w) < 100; i++)
		w = it_printf("%s %.40s", w, args[i]);
	return args[i] != NULL ? it_printf("%s ...", w) : w;
}

/* it_ctlv() as root for the teardown: never fails the test. */
const char *
ith_ctl_try(const char *const *args, int timeout_ms, struct it_run *r)
{
	const struct it_ctl_opt o = { 0 };
	const char *argv[MAX_ARGS], *e;
	char **env;

	ctl_argv(argv, &o, args);
	env = ctl_env(&o);
	e = try_capture(argv, env, NULL, timeout_ms, r);
	it_free_env(env);
	return e;
}

int
it_ctlv(struct it_run *r, const struct it_ctl_opt *o,
    const char *const *args)
{
	const char *argv[MAX_ARGS], *what;
	char **env = ctl_env(o);

	ctl_argv(argv, o, args);
	ith_run_capture(argv, env, o->in, CTL_TIMEOUT_MS, r);
	it_free_env(env);
	it_note_tokens(r->out);
	/* Whatever else it printed must not hold a token noted later. */
	what = ith_ctl_what(args);
	if (!prints_token(args))
		it_scan_later(it_printf("the output of %s", what), r->out);
	it_scan_later(it_printf("the standard error of %s", what), r->err);
	return r->status;
}

int
it_ctl(struct it_run *r, const char *as, const char *in, ...)
{
	const char *args[MAX_ARGS];
	struct it_ctl_opt o = { 0 };
	va_list ap;

	va_start(ap, in);
	it_argv_va(args, MAX_ARGS, 0, ap);
	va_end(ap);
	o.as = as;
	o.in = in;
	return it_ctlv(r, &o, args);
}

const char *
it_expect(const char *as, int status, const char *errsub, ...)
{
	const char *args[MAX_ARGS];
	struct it_ctl_opt o = { 0 };
	struct it_run r;
	va_list ap;
	size_t i;
	char *cmd = NULL, *p;

	va_start(ap, errsub);
	it_argv_va(args, MAX_ARGS, 0, ap);
	va_end(ap);
	o.as = as;
	it_ctlv(&r, &o, args);
	if (r.status != status || (errsub != NULL &&
	    strstr(r.err, errsub) == NULL)) {
		for (i = 0; args[i] != NULL; i++) {
			if (asprintf(&p, "%s %.60s%s", cmd != NULL ? cmd : "",
			    args[i], strlen(args[i]) > 60 ? "..." : "") == -1)
				break;
			free(cmd);
			cmd = p;
		}
		it_keep(cmd != NULL ? cmd : strdup(""));
		cr_assert_fail("as %s: apikeyctl%s: exit %d, expected %d%s%s;"
		    "\nstdout:\n%s\nstderr:\n%s", as != NULL ? as : "root",
		    cmd != NULL ? cmd : "", r.status, status,
		    errsub != NULL ? " with stderr containing " : "",
		    errsub != NULL ? errsub : "", r.out, r.err);
	}
	return r.out;
}

/* --- in the background ---------------------------------------------------- */

void
it_token_file(const char *path)
{
	char **p;

	p = realloc(bg.captures, (bg.ncaptures + 1) * sizeof(*p));
	cr_assert_not_null(p, "out of memory");
	bg.captures = p;
	bg.captures[bg.ncaptures] = strdup(path);
	cr_assert_not_null(bg.captures[bg.ncaptures], "out of memory");
	bg.ncaptures++;
}

pid_t
it_ctl_spawn(const char *as, ...)
{
	const char *args[MAX_ARGS], *argv[MAX_ARGS];
	struct it_ctl_opt o = { 0 };
	char **env;
	va_list ap;
	pid_t pid;
	int fo, fe;

	va_start(ap, as);
	it_argv_va(args, MAX_ARGS, 0, ap);
	va_end(ap);
	cr_assert(bg.nspawned < MAX_SPAWNED, "too many background runs");
	o.as = as;
	ctl_argv(argv, &o, args);
	env = ctl_env(&o);
	fo = open(it_printf("%s/bg-%d.out", it_root(), bg.nbg),
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	fe = open(it_printf("%s/bg-%d.err", it_root(), bg.nbg),
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert(fo != -1 && fe != -1, "open: %s", strerror(errno));
	if (prints_token(args))
		it_token_file(it_printf("%s/bg-%d.out", it_root(), bg.nbg));
	bg.nbg++;
	pid = it_proc_spawn(argv, env, (const int[3]){ -1, fo, fe }, NULL);
	close(fo);
	close(fe);
	it_free_env(env);
	bg.spawned_n[bg.nspawned] = bg.nbg - 1;
	bg.spawned[bg.nspawned++] = pid;
	return pid;
}

int
it_ctl_reap(pid_t pid, int ms)
{
	size_t i;
	int st;

	st = it_proc_wait(pid, ms);
	if (st == -1)
		return -1;
	for (i = 0; i < bg.nspawned; i++) {
		if (bg.spawned[i] != pid)
			continue;
		it_note_tokens(it_read_file(it_printf("%s/bg-%d.out",
		    it_root(), bg.spawned_n[i]), NULL));
		bg.nspawned--;
		bg.spawned[i] = bg.spawned[bg.nspawned];
		bg.spawned_n[i] = bg.spawned_n[bg.nspawned];
		break;
	}
	return st;
}

void
ith_ctl_kill_spawned(void)
{
	size_t i;
	int st;

	for (i = 0; i < bg.nspawned; i++) {
		st = it_proc_wait(bg.spawned[i], 0);
		if (st == -1) {
			it_proc_kill(bg.spawned[i]);
		}
	}
	bg.nspawned = 0;
}

const char *const *
ith_ctl_captures(size_t *n)
{
	*n = bg.ncaptures;
	return (const char *const *)bg.captures;
}

void
ith_ctl_forget(void)
{
	size_t i;

	for (i = 0; i < bg.ncaptures; i++)
		free(bg.captures[i]);
	free(bg.captures);
	bg.captures = NULL;
	bg.ncaptures = 0;
}
