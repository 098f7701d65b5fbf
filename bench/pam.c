/*
 * pam.c - the PAM path of apikey-bench, in process: a loop of pam_start,
 * pam_authenticate, pam_acct_mgmt and pam_end over a service of
 * pam_apikey.so, and the same loop over pam_permit.so. libpam loads and
 * unloads every module of a service on each pam_start, which costs
 * milliseconds here, so what pam_apikey costs is its loop's time above
 * pam_permit's.
 *
 * The services come from a private directory through pam_wrapper, as in
 * tests/harness_pam.c: /etc/pam.d is never touched. pam_wrapper works
 * when it is preloaded into a process that starts, so each loop runs in a
 * child, this program run again as "apikey-bench --pam-child SERVICE USER
 * WARMUP SECONDS" with LD_PRELOAD=libpam_wrapper.so. The child reads its
 * tokens from a pipe, answers the prompt with one (turn by turn), and
 * reports on its standard output, a line at a time:
 *
 *   measure                   the warm-up is over
 *   done COUNT SECS P50 P99 P999   the measured loops, in microseconds
 *   fail MESSAGE              a PAM call did not return PAM_SUCCESS
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "bench.h"

extern char **environ;

/*
 * pam_wrapper (1.1.4) picks its directory /tmp/pam.X with lstat() then
 * mkdir() as it loads, so two processes starting at once may collide and
 * one fails pam_start(). The tests (tests/harness_pam.c) serialise their
 * drivers with this lock, machine-wide; the bench takes the same one. The
 * child inherits it as LOCK_FD and closes it first thing in main(), after
 * pam_wrapper's constructor ran.
 */
#define PWRAP_LOCK	"/tmp/apikey-pam_wrapper.lock"
#define LOCK_FD		3
#define LOCK_WAIT_MS	60000
#define MAX_TOKENS	16
/* The child's set-up and drain, beyond its warm-up and measured time. */
#define CHILD_SLACK_MS	60000

/* --- the parent ----------------------------------------------------------- */

static int
write_file(const char *dir, const char *name, const char *text)
{
	char	 path[128];
	FILE	*f;
	int	 rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "we")) == NULL)
		return -1;
	rc = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

int
pam_prepare(struct pam_setup *p, const char *module, const char *sockdir,
    char *err, size_t errlen)
{
	struct passwd	*pw;
	char		 text[1024];

	memset(p, 0, sizeof(*p));
	/* The keys are the caller's own: that user logs in with them. */
	if ((pw = getpwuid(geteuid())) == NULL) {
		snprintf(err, errlen, "no user name for uid %u",
		    (unsigned)geteuid());
		return -1;
	}
	snprintf(p->user, sizeof(p->user), "%s", pw->pw_name);
	/* A PAM configuration line splits at white space. */
	if (strpbrk(module, " \t\n") != NULL ||
	    strpbrk(sockdir, " \t\n") != NULL) {
		snprintf(err, errlen, "the module path and the socket "
		    "directory must have no white space");
		return -1;
	}
	if (access(module, R_OK) != 0) {
		snprintf(err, errlen, "%s: %s (--pam-module)", module,
		    strerror(errno));
		return -1;
	}
	snprintf(p->dir, sizeof(p->dir), "/tmp/apikey-bench-pam.XXXXXX");
	if (mkdtemp(p->dir) == NULL) {
		snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
		p->dir[0] = '\0';
		return -1;
	}
	snprintf(text, sizeof(text), "auth required %s socket=%s nodelay\n"
	    "account required %s socket=%s nodelay\n", module, sockdir,
	    module, sockdir);
	/* Without "other" pam_wrapper complains on every start. */
	if (write_file(p->dir, PAM_SVC_APIKEY, text) != 0 ||
	    write_file(p->dir, PAM_SVC_PERMIT, "auth required pam_permit.so\n"
	    "account required pam_permit.so\n") != 0 ||
	    write_file(p->dir, "other", "auth required pam_deny.so\n"
	    "account required pam_deny.so\nsession required pam_deny.so\n"
	    "password required pam_deny.so\n") != 0) {
		snprintf(err, errlen, "writing %s: %s", p->dir,
		    strerror(errno));
		pam_cleanup(p);
		return -1;
	}
	return 0;
}

void
pam_cleanup(struct pam_setup *p)
{
	static const char *const names[] = {
		PAM_SVC_APIKEY, PAM_SVC_PERMIT, "other"
	};
	char	 path[128];
	size_t	 i;

	if (p->dir[0] == '\0')
		return;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", p->dir, names[i]);
		unlink(path);
	}
	rmdir(p->dir);
	p->dir[0] = '\0';
}

/* "NAME=value" for the child; NULL when out of memory. */
static char *
env_var(const char *name, const char *value)
{
	size_t	 n = strlen(name) + strlen(value) + 2;
	char	*s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s=%s", name, value);
	return s;
}

/* environ with pam_wrapper preloaded and pointed at p->dir. */
static char **
child_env(const struct pam_setup *p)
{
	const char	*pre = getenv("LD_PRELOAD");
	char		 preload[1024];
	char		**env;
	size_t		 n = 0, i, j = 0;

	snprintf(preload, sizeof(preload), "libpam_wrapper.so%s%s",
	    pre != NULL && *pre != '\0' ? " " : "", pre != NULL ? pre : "");
	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 6, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
		    strncmp(environ[i], "PAM_WRAPPER", 11) != 0)
			env[j++] = environ[i];
	env[j++] = env_var("LD_PRELOAD", preload);
	env[j++] = env_var("PAM_WRAPPER", "1");
	env[j++] = env_var("PAM_WRAPPER_SERVICE_DIR", p->dir);
#ifdef __SANITIZE_ADDRESS__
	/* ASan refuses dlopen(RTLD_DEEPBIND); pam_wrapper 1.1.4 reads the
	 * second name, later releases the first (tests/harness_pam.c). */
	env[j++] = env_var("PAM_WRAPPER_DISABLE_DEEPBIND", "1");
	env[j++] = env_var("UID_WRAPPER_DISABLE_DEEPBIND", "1");
#endif
	return env;
}

static void
child_env_free(char **env)
{
	size_t	 i;

	/* Only the variables added at the end were allocated. */
	for (i = 0; env[i] != NULL; i++)
		if (strncmp(env[i], "LD_PRELOAD=", 11) == 0 ||
		    strncmp(env[i], "PAM_WRAPPER", 11) == 0 ||
		    strncmp(env[i], "UID_WRAPPER", 11) == 0)
			free(env[i]);
	free(env);
}

static int
take_lock(void)
{
	int64_t	 end = now_ns() + (int64_t)LOCK_WAIT_MS * 1000000;
	int	 fd;

	if ((fd = open(PWRAP_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) == -1)
		return -1;
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    now_ns() > end) {
			close(fd);
			return -1;
		}
		usleep(5000);
	}
	return fd;
}

static pid_t
spawn_child(const struct pam_setup *p, const char *service, double warmup,
    double seconds, int in, int out, char *err, size_t errlen)
{
	char		 a0[] = "apikey-bench", a1[] = "--pam-child";
	char		 svc[64], user[64], w[32], s[32];
	char *const	 argv[] = { a0, a1, svc, user, w, s, NULL };
	char		**env;
	pid_t		 pid;
	int		 lock;

	snprintf(svc, sizeof(svc), "%s", service);
	snprintf(user, sizeof(user), "%s", p->user);
	snprintf(w, sizeof(w), "%.3f", warmup);
	snprintf(s, sizeof(s), "%.3f", seconds);
	if ((env = child_env(p)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((lock = take_lock()) == -1) {
		snprintf(err, errlen, "%s: %s", PWRAP_LOCK, strerror(errno));
		child_env_free(env);
		return -1;
	}
	if ((pid = fork()) == 0) {
		if (dup2(in, 0) == -1 || dup2(out, 1) == -1 ||
		    (lock == LOCK_FD ? fcntl(lock, F_SETFD, 0) :
		    dup2(lock, LOCK_FD)) == -1)
			_exit(126);
		execve(p->exe, argv, env);
		_exit(127);
	}
	if (pid == -1)
		snprintf(err, errlen, "fork: %s", strerror(errno));
	close(lock);
	child_env_free(env);
	return pid;
}

/* Hands the tokens over, one a line, and wipes the copy. */
static int
send_tokens(int fd, const char *const *tokens, size_t n)
{
	char	*buf;
	size_t	 len = 0, i, l;
	ssize_t	 w;
	int	 rc = 0;

	if ((buf = malloc(n * KEY_STRIDE + 1)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		l = strlen(tokens[i]);
		memcpy(buf + len, tokens[i], l);
		buf[len + l] = '\n';
		len += l + 1;
	}
	/* At most 16 lines of 80 bytes: the pipe takes them whole. */
	for (i = 0; i < len; i += (size_t)w)
		if ((w = write(fd, buf + i, len - i)) <= 0) {
			rc = -1;
			break;
		}
	explicit_bzero(buf, n * KEY_STRIDE + 1);
	free(buf);
	return rc;
}

/* One line of the child's output into line, or -1 at EOF, error or the
 * deadline. buf keeps what follows it. */
static int
read_line(int fd, char *buf, size_t size, size_t *have, int64_t end,
    char *line)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	char		*nl;
	ssize_t		 n;
	int64_t		 left;

	for (;;) {
		if ((nl = memchr(buf, '\n', *have)) != NULL) {
			*nl = '\0';
			memcpy(line, buf, (size_t)(nl - buf) + 1);
			*have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, *have);
			return 0;
		}
		if (*have + 1 >= size || (left = end - now_ns()) <= 0)
			return -1;
		if (poll(&pfd, 1, (int)(left / 1000000) + 1) == -1 &&
		    errno != EINTR)
			return -1;
		if (pfd.revents == 0)
			continue;
		if ((n = read(fd, buf + *have, size - 1 - *have)) <= 0)
			return -1;
		*have += (size_t)n;
	}
}

int
pam_run(struct run *r, const struct pam_setup *p, const char *service,
    const char *const *tokens, size_t n, double warmup, double seconds,
    pid_t daemon, struct pam_result *out)
{
	char		 buf[1024], line[1024], err[256];
	int		 in[2] = { -1, -1 }, o[2] = { -1, -1 }, st, rc = -1;
	size_t		 have = 0;
	int64_t		 end;
	pid_t		 pid = -1;

	memset(out, 0, sizeof(*out));
	if (n > MAX_TOKENS)
		n = MAX_TOKENS;
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(o, O_CLOEXEC) == -1) {
		run_fail(r, "%s: pipe: %s", r->name, strerror(errno));
		goto out;
	}
	if ((pid = spawn_child(p, service, warmup, seconds, in[0], o[1], err,
	    sizeof(err))) == -1) {
		run_fail(r, "%s: %s", r->name, err);
		goto out;
	}
	close(in[0]);
	close(o[1]);
	in[0] = o[1] = -1;
	if (send_tokens(in[1], tokens, n) != 0) {
		run_fail(r, "%s: handing the tokens to the PAM child: %s",
		    r->name, strerror(errno));
		goto out;
	}
	close(in[1]);
	in[1] = -1;
	end = now_ns() + (int64_t)((warmup + seconds) * 1e9) +
	    (int64_t)CHILD_SLACK_MS * 1000000;
	while (read_line(o[0], buf, sizeof(buf), &have, end, line) == 0) {
		if (strcmp(line, "measure") == 0) {
			out->sampled = proc_read(daemon, &out->before) == 0;
		} else if (strncmp(line, "done ", 5) == 0) {
			if (proc_read(daemon, &out->after) != 0)
				out->sampled = 0;
			if (sscanf(line + 5, "%llu %lf %lf %lf %lf",
			    (unsigned long long *)&out->count, &out->secs,
			    &out->p50, &out->p99, &out->p999) == 5)
				rc = 0;
		} else if (strncmp(line, "fail ", 5) == 0) {
			run_fail(r, "%s: %s", r->name, line + 5);
			goto out;
		}
	}
	if (rc != 0)
		run_fail(r, "%s: the PAM child ended without a result",
		    r->name);
 out:
	if (in[0] != -1)
		close(in[0]);
	if (in[1] != -1)
		close(in[1]);
	if (o[0] != -1)
		close(o[0]);
	if (o[1] != -1)
		close(o[1]);
	if (pid > 0) {
		if (rc != 0)
			kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		if (rc == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
			run_fail(r, "%s: the PAM child exited with status %d",
			    r->name, WIFEXITED(st) ? WEXITSTATUS(st) :
			    128 + WTERMSIG(st));
			rc = -1;
		}
	}
	return rc;
}

/* --- the child ------------------------------------------------------------ */

struct child {
	const char	*token;		/* the answer to the next prompt */
};

static int
conv(int n, const struct pam_message **msg, struct pam_response **out,
    void *appdata)
{
	struct child		*c = appdata;
	struct pam_response	*resp;
	int			 i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG ||
	    (resp = calloc((size_t)n, sizeof(*resp))) == NULL)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF &&
		    msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		/* libpam wipes and frees the answer. */
		if ((resp[i].resp = strdup(c->token)) == NULL) {
			while (i-- > 0)
				if (resp[i].resp != NULL) {
					explicit_bzero(resp[i].resp,
					    strlen(resp[i].resp));
					free(resp[i].resp);
				}
			free(resp);
			return PAM_BUF_ERR;
		}
	}
	*out = resp;
	return PAM_SUCCESS;
}

static void __attribute__((noreturn, format(printf, 2, 3)))
child_fail(struct keyset *k, const char *fmt, ...)
{
	va_list	 ap;

	printf("fail ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	keys_free(k);
	exit(1);
}

/* One login: authenticate and account, on a handle of its own. */
static void
child_login(struct keyset *k, const char *service, const char *user,
    const struct pam_conv *pc)
{
	pam_handle_t	*ph;
	char		 why[256];
	const char	*step = "pam_authenticate";
	int		 rc;

	if ((rc = pam_start(service, user, pc, &ph)) != PAM_SUCCESS)
		child_fail(k, "pam_start (service %s): %s", service,
		    pam_strerror(NULL, rc));
	if ((rc = pam_authenticate(ph, 0)) == PAM_SUCCESS) {
		step = "pam_acct_mgmt";
		rc = pam_acct_mgmt(ph, 0);
	}
	if (rc != PAM_SUCCESS) {
		snprintf(why, sizeof(why), "%s", pam_strerror(ph, rc));
		pam_end(ph, rc);
		child_fail(k, "%s (service %s, user %s): %s", step, service,
		    user, why);
	}
	pam_end(ph, PAM_SUCCESS);
}

/* Reads up to MAX_TOKENS lines of standard input into k. */
static void
child_tokens(struct keyset *k)
{
	char	*dst;
	size_t	 len = 0;
	ssize_t	 r;
	char	 ch;

	keys_init(k, MAX_TOKENS);
	dst = k->area;
	/* A byte at a time: no stdio buffer keeps a copy. */
	while (k->n < k->cap && (r = read(0, &ch, 1)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (ch == '\n') {
			dst[len] = '\0';
			if (len > 0)
				k->n++;
			dst = k->area + k->n * KEY_STRIDE;
			len = 0;
		} else if (len + 1 < KEY_STRIDE)
			dst[len++] = ch;
	}
}

int
pam_child_main(int argc, char **argv)
{
	struct keyset	 k;
	struct child	 c;
	struct pam_conv	 pc = { conv, &c };
	struct hist	*h;
	int		(*enabled)(void);
	int64_t		 warm_end, end, t0, mstart = 0;
	uint64_t	 count = 0, i = 0;
	int		 measuring = 0;

	/* pam_wrapper is set up by now: let the next process start. */
	close(LOCK_FD);
	if (argc != 6) {
		fprintf(stderr, "apikey-bench: --pam-child: wrong arguments\n");
		return BENCH_EXIT_USAGE;
	}
	child_tokens(&k);
	if (k.n == 0)
		child_fail(&k, "no tokens on standard input");
	*(void **)&enabled = dlsym(RTLD_DEFAULT, "pam_wrapper_enabled");
	if (enabled == NULL || !enabled())
		child_fail(&k, "pam_wrapper is not loaded: libpam_wrapper.so "
		    "(Debian: libpam-wrapper) is needed");
	if ((h = calloc(1, sizeof(*h))) == NULL)
		child_fail(&k, "out of memory");
	warm_end = now_ns() + (int64_t)(strtod(argv[4], NULL) * 1e9);
	end = warm_end + (int64_t)(strtod(argv[5], NULL) * 1e9);
	for (;;) {
		t0 = now_ns();
		if (!measuring && t0 >= warm_end) {
			printf("measure\n");
			fflush(stdout);
			measuring = 1;
			mstart = t0 = now_ns();
		}
		if (t0 >= end)
			break;
		c.token = keys_get(&k, i++ % k.n);
		child_login(&k, argv[2], argv[3], &pc);
		if (measuring) {
			count++;
			hist_add(h, (uint64_t)(now_ns() - t0));
		}
	}
	printf("done %llu %.6f %.3f %.3f %.3f\n", (unsigned long long)count,
	    (double)(now_ns() - mstart) / 1e9, hist_quantile_us(h, 0.5),
	    hist_quantile_us(h, 0.99), hist_quantile_us(h, 0.999));
	fflush(stdout);
	free(h);
	keys_free(&k);
	return 0;
}
