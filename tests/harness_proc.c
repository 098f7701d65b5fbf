/*
 * harness_proc.c - starting, waiting for and reading the children of the
 * integration tests; see harness_proc.h.
 *
 * A test starts a handful of children (a daemon, a server, a few clients)
 * and waits for each with a deadline. The wait is on a pidfd, so it ends
 * the moment the child does; without pidfd_open (Linux before 5.3) it
 * falls back to polling waitpid() every 10 ms.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_proc.h"

#define MAX_OUT	4

extern char **environ;

/* --- argument lists and environments -------------------------------------- */

size_t
it_argv_va(const char **argv, size_t max, size_t n, va_list ap)
{
	const char	*a;

	while ((a = va_arg(ap, const char *)) != NULL) {
		cr_assert(n + 1 < max, "too many arguments");
		argv[n++] = a;
	}
	argv[n] = NULL;
	return n;
}

char **
it_make_env(const char *const *set)
{
	size_t		 n = 0, i, j, k = 0, nl;
	const char	*eq;
	char		**env;
	int		 drop;

	while (environ[n] != NULL)
		n++;
	for (j = 0; set[j] != NULL; j++)
		n++;
	env = calloc(n + 1, sizeof(*env));
	cr_assert_not_null(env, "out of memory");
	for (i = 0; environ[i] != NULL; i++) {
		drop = 0;
		for (j = 0; set[j] != NULL; j++) {
			eq = strchr(set[j], '=');
			nl = eq != NULL ? (size_t)(eq - set[j]) :
			    strlen(set[j]);
			if (strncmp(environ[i], set[j], nl) == 0 &&
			    environ[i][nl] == '=')
				drop = 1;
		}
		if (!drop)
			env[k++] = strdup(environ[i]);
	}
	for (j = 0; set[j] != NULL; j++)
		if (strchr(set[j], '=') != NULL)
			env[k++] = strdup(set[j]);
	for (i = 0; i < k; i++)
		cr_assert_not_null(env[i], "out of memory");
	return env;
}

void
it_free_env(char **env)
{
	size_t	 i;

	for (i = 0; env[i] != NULL; i++) {
		explicit_bzero(env[i], strlen(env[i]));
		free(env[i]);
	}
	free(env);
}

/* --- starting and waiting ------------------------------------------------- */

/* In the child: fd becomes to, without close-on-exec. */
static int
child_fd(int fd, int to)
{
	if (fd == to)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, to) == -1 ? -1 : 0;
}

pid_t
it_proc_spawn(const char *const *argv, char *const *env, const int fd[3],
    const struct it_proc_opt *o)
{
	/* POSIX keeps execve's argv non-const only for old callers; it
	 * promises not to modify it. One cast here spares every caller a
	 * copy. */
	char *const	*av = (char *const *)(uintptr_t)argv;
	sigset_t	 none;
	pid_t		 pid;
	int		 i, null = -1;

	pid = fork();
	cr_assert(pid != -1, "fork: %s", strerror(errno));
	if (pid != 0)
		return pid;
	/* A child that dies with the test, so none outlives it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (o != NULL && o->pgrp)
		setpgid(0, 0);
	for (i = 0; i < 3; i++) {
		if (fd[i] == -1 && null == -1 &&
		    (null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
			_exit(126);
		if (child_fd(fd[i] != -1 ? fd[i] : null, i) == -1)
			_exit(126);
	}
	if (o != NULL && o->child != NULL && o->child(o->arg) == -1)
		_exit(126);
	if (strchr(argv[0], '/') != NULL)
		execve(argv[0], av, env);
	else
		execvpe(argv[0], av, env);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int
it_proc_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

int
it_proc_wait(pid_t pid, int ms)
{
	int64_t		 end = it_now_ms() + ms;
	struct pollfd	 pfd;
	int		 status, fd, left, rc = -1;
	pid_t		 r;

	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			rc = it_proc_status(status);
			break;
		}
		if (r == -1 && errno != EINTR)
			break;
		left = (int)(end - it_now_ms());
		if (left <= 0)
			break;
		if (fd != -1) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			poll(&pfd, 1, left);
		} else
			it_msleep(left < 10 ? left : 10);
	}
	if (fd != -1)
		close(fd);
	return rc;
}

void
it_proc_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
}

/* --- reading its output --------------------------------------------------- */

int
it_append_fd(int fd, char **buf, size_t *len, size_t *cap)
{
	char	 tmp[4096], *p;
	ssize_t	 n;

	n = read(fd, tmp, sizeof(tmp));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	if (*len + (size_t)n + 1 > *cap) {
		*cap = (*len + (size_t)n + 1) * 2;
		p = realloc(*buf, *cap);
		cr_assert_not_null(p, "out of memory");
		*buf = p;
	}
	memcpy(*buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
	return 1;
}

int
it_proc_read(struct it_out *o, size_t n, int64_t end, int (*stop)(void *),
    void *arg)
{
	struct pollfd	 pfd[MAX_OUT];
	size_t		 i, k;
	int		 left, r;

	cr_assert(n <= MAX_OUT, "it_proc_read: too many pipes");
	for (;;) {
		if (stop != NULL && stop(arg))
			return 1;
		for (i = k = 0; i < n; i++) {
			if (o[i].fd == -1)
				continue;
			pfd[k].fd = o[i].fd;
			pfd[k].events = POLLIN;
			pfd[k++].revents = 0;
		}
		if (k == 0)
			return 0;
		left = (int)(end - it_now_ms());
		if (left <= 0)
			return -1;
		r = poll(pfd, (nfds_t)k, left);
		if (r == -1 && errno == EINTR)
			continue;
		cr_assert(r != -1, "poll: %s", strerror(errno));
		if (r == 0)
			return -1;
		/* pfd holds the open ones in order; none closed since. */
		for (i = k = 0; i < n; i++) {
			if (o[i].fd == -1 || pfd[k++].revents == 0)
				continue;
			if (!it_append_fd(o[i].fd, &o[i].buf, &o[i].len,
			    &o[i].cap)) {
				close(o[i].fd);
				o[i].fd = -1;
			}
		}
	}
}
