/*
 * harness_proc.h - the child processes of the integration tests: argument
 * lists and environments for them, a fork and exec with the child's
 * standard streams given as descriptors, a wait for its exit on a pidfd
 * with a deadline, and a reader of its output pipes with a deadline.
 *
 * One module for harness.c (apikeyd, apikeyctl, helper programs),
 * harness_e2e.c (sshd, vsftpd and their clients) and harness_pam.c
 * (pam_driver), so every child of a test is started, waited for and read
 * the same way. Like the rest of the harness, the functions assert (and so
 * end the test) instead of returning errors, and nothing sleeps to wait
 * for an event.
 */
#ifndef APIKEY_TEST_HARNESS_PROC_H
#define APIKEY_TEST_HARNESS_PROC_H

#include <sys/types.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* --- argument lists and environments -------------------------------------- */

/*
 * Appends the arguments of ap up to its NULL to argv, whose first n
 * entries are set, and terminates it; asserts that they fit in max
 * entries, the NULL included. Returns the new count.
 */
size_t	it_argv_va(const char **argv, size_t max, size_t n, va_list ap);

/*
 * This process's environment with each "NAME=value" of set replacing NAME
 * and each bare "NAME" of set removed. Free with it_free_env(), which
 * wipes it: children's environments may carry tokens.
 */
char	**it_make_env(const char *const *set);
void	it_free_env(char **env);

/* --- starting and waiting ------------------------------------------------- */

/*
 * What a child does between fork and exec besides the standard set-up;
 * child() runs last before exec, in the child, so it may only make
 * async-signal-safe calls (no Criterion, no allocation: the test may have
 * threads). It says what failed on fd 2 itself and returns -1, which ends
 * the child with status 126.
 */
struct it_proc_opt {
	int		 pgrp;		/* a process group of its own */
	int		(*child)(void *);
	void		*arg;
};

/*
 * Forks and runs argv with env (argv[0] searched in PATH when it has no
 * slash), fd[0], fd[1] and fd[2] as its standard input, output and error
 * (-1: /dev/null; descriptors above 2, as pipe(2) and open(2) give them
 * here). The child is killed when the test process dies, starts with no
 * signal blocked and SIGPIPE at its default, and exits with status 127
 * (saying why on its stderr) when the exec fails. o may be NULL. Returns
 * its pid; the caller still owns the fds.
 */
pid_t	it_proc_spawn(const char *const *argv, char *const *env,
	    const int fd[3], const struct it_proc_opt *o);

/* The exit status of a wait(2) status: 128 + the signal when killed. */
int	it_proc_status(int status);

/*
 * Waits up to ms for child pid to exit, on a pidfd, and reaps it. Returns
 * its it_proc_status(), or -1 if it is still running (or is not a child).
 */
int	it_proc_wait(pid_t pid, int ms);

/* Kills child pid with SIGKILL and reaps it, however long that takes. */
void	it_proc_kill(pid_t pid);

/* --- reading its output --------------------------------------------------- */

/* A pipe being read into a growing buffer. */
struct it_out {
	int		 fd;		/* read end; -1 once closed at EOF */
	char		*buf;		/* NUL-terminated; NULL until data */
	size_t		 len, cap;
};

/* Appends what one read(2) of fd gives to the growing, NUL-terminated
 * *buf. Returns 0 at EOF or on error, 1 otherwise (EINTR/EAGAIN too). */
int	it_append_fd(int fd, char **buf, size_t *len, size_t *cap);

/*
 * Reads every open o[0..n) (at most 4) into its buffer, closing each at
 * EOF, until all are closed (returns 0), until stop(arg), asked before
 * each wait, says so (stop may be NULL; returns 1), or until it_now_ms()
 * reaches end (returns -1).
 */
int	it_proc_read(struct it_out *o, size_t n, int64_t end,
	    int (*stop)(void *), void *arg);

#endif
