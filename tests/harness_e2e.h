/*
 * harness_e2e.h - helpers of the end-to-end tests (tests/it_e2e_*.c): a real
 * sshd or vsftpd on 127.0.0.1, its PAM stack supplied through pam_wrapper,
 * logging users in through pam_apikey.so against the harness's apikeyd.
 *
 * Built on tests/harness.h: call ite_setup()/ite_teardown() instead of
 * it_setup()/it_teardown(). Everything lives in the harness's temporary
 * directory (it_root()):
 *
 *   srv-passwd, srv-group  the servers' and clients' nss_wrapper files: the
 *                          harness fixture, every user with a home of its
 *                          own under home/, plus "sshd" (privilege
 *                          separation) and "nobody" (vsftpd's nopriv_user)
 *   home/USER              the fixture users' homes, owned by them
 *   pam/SERVICE            the PAM stack (ite_pam_service(), or a test's
 *                          own with ite_pam_apikey())
 *   empty/                 an empty root-owned directory for chroots
 *   NAME.log               the server's stdout and stderr
 *   client/                every client's stdout and stderr
 *   san/                   sanitizer reports of the servers (make asan)
 *
 * When pam_apikey.so needs the AddressSanitizer runtime (make asan), the
 * servers, which are not built with it, get it preloaded first, leak
 * detection off (sshd and vsftpd are not ours), and reports written to
 * san/, which ite_finish() requires to be empty.
 *
 * Every wait has a deadline; the servers die with the test process
 * (PR_SET_PDEATHSIG), and the test process is a child subreaper, so
 * ite_teardown() also finds and kills what the servers forked.
 */
#ifndef APIKEY_TEST_HARNESS_E2E_H
#define APIKEY_TEST_HARNESS_E2E_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

/* pam_apikey's timeout= in the PAM files, in milliseconds. */
#define ITE_PAM_TIMEOUT_MS	1500
/* Deadline of one client run (ssh, curl, ssh-keygen). */
#define ITE_CLIENT_MS		60000
/* Deadline for a server to listen, and to exit once signalled. */
#define ITE_SERVER_MS		20000
/* Slack on top of the module's timeout for a denied login to finish: a
 * bound on correctness (the login did not hang), not on speed. */
#define ITE_SLACK_MS		20000

struct ite_run {
	int		 status;	/* exit status; 128 + signal */
	const char	*out;		/* stdout, harness-owned */
	const char	*err;		/* stderr, harness-owned */
	int64_t		 ms;		/* wall time of the run */
};

struct ite_server {
	const char		 *name;	/* log is NAME.log */
	/* Writes the server's configuration for a port. */
	void			(*conf)(int port);
	const char *const	 *argv;	/* argv[0] is an absolute path */
	/* Make setrlimit(RLIMIT_AS) fail with EPERM (needed by vsftpd under
	 * the ASan runtime, whose shadow memory no such limit allows). */
	int			  deny_as_limit;
	/* pam_wrapper passes PAM's log messages to syslog (as libpam does)
	 * instead of writing them to stderr, when stderr is the client's
	 * connection (vsftpd). */
	int			  pam_syslog;
};

/* it_setup(), then the files above; makes this process a subreaper. */
void	ite_setup(void);
/* Kills whatever is left (never asserts), then it_teardown(). */
void	ite_teardown(void);
/*
 * Stops the server (asserting it exits), asserts that the servers wrote
 * no sanitizer report, and that no file in the test directory (logs,
 * client output, uploads, the key store) holds the secret of a token the
 * test saw (it_assert_no_token_in_files(); it_teardown() checks them
 * again, for every token noted by then).
 */
void	ite_finish(void);

/* Absolute path of pam_apikey.so ($APIKEY_BUILD, else ./build). */
const char *ite_module(void);
/* The sanitizer runtime pam_apikey.so needs ("libasan.so.8"), or NULL. */
const char *ite_san_runtime(void);
const char *ite_passwd(void);
const char *ite_group(void);
/* home/USER, owned by the fixture user. */
const char *ite_home(const char *user);

/* Absolute path of apikeyctl, in the same build directory. */
const char *ite_apikeyctl(void);
/*
 * "MODULE socket=SOCKDIR timeout=ITE_PAM_TIMEOUT_MS": pam_apikey.so with
 * the arguments that point it at the harness's daemon, for a test that
 * writes a PAM stack of its own (ite_write() to it_path("pam/SERVICE"),
 * before the server starts).
 */
const char *ite_pam_apikey(void);
/*
 * Writes pam/SERVICE: auth and account through pam_apikey.so (socket=
 * the daemon's socket directory, timeout=ITE_PAM_TIMEOUT_MS, nodelay,
 * export_env), session through pam_permit.so and pam_apikey.so.
 */
void	ite_pam_service(const char *service);
/* Writes path with data (mode), or fails the test. */
void	ite_write(const char *path, const char *data, mode_t mode);

/*
 * Starts the server on a free port of 127.0.0.1 and waits until it holds
 * a listening socket there; retries with another port when the one picked
 * was taken meanwhile.
 */
void	ite_server_start(const struct ite_server *s);
/* SIGTERM, then waits ITE_SERVER_MS for the server to exit. */
void	ite_server_stop(void);
int	ite_server_port(void);
/* The server's log so far, and its path. */
const char *ite_server_log(void);
const char *ite_server_log_path(void);

/*
 * Runs argv (argv[0] an absolute path or a name looked up in PATH) as a
 * client: environment of the test with the servers' NSS files and HOME
 * home/root, plus set ("NAME=value"); stdin data in (NULL: /dev/null);
 * stdout and stderr to client/LABEL-N.{out,err}. Fails the test if it
 * runs past ITE_CLIENT_MS. Returns the exit status.
 */
int	ite_client(struct ite_run *r, const char *label, const char *in,
	    const char *const *set, const char *const *argv);

/* Stops (SIGSTOP) and continues (SIGCONT) the daemon: it then accepts
 * connections and never answers. ite_teardown() continues it. */
void	ite_daemon_freeze(void);
void	ite_daemon_thaw(void);

/* The start of the first line at or after from holding every one of the
 * NULL-terminated substrings, or NULL. */
const char *ite_find_line(const char *from, ...) __attribute__((sentinel));
/* Number of lines of text holding every one of the NULL-terminated
 * substrings. */
size_t	ite_count_lines(const char *text, ...)
	    __attribute__((sentinel));
/*
 * The same count in the file at path, polled until it reaches want or
 * ITE_SERVER_MS passed: servers and the daemon may write a line after the
 * client saw the outcome. Returns the last count (assert it equals want).
 */
size_t	ite_wait_lines(const char *path, size_t want, ...)
	    __attribute__((sentinel));
/* Asserts that the file at path comes to hold exactly want lines with a
 * and (unless NULL) b, after ite_wait_lines(). */
void	ite_expect_lines(const char *path, size_t want, const char *a,
	    const char *b);

#endif
