/*
 * harness_pam.h - helpers of the PAM integration tests (tests/it_pam*.c,
 * and the tests that also check their case through PAM), on top of
 * harness.h.
 *
 * Each PAM case runs build/tests/pam_driver (see tests/pam_driver.c) as a
 * child process under pam_wrapper and nss_wrapper; the test process never
 * loads libpam. The driver gets its own copy of the fixture passwd and
 * group files (itp_group_edit() changes them) and the PAM service files
 * the test writes into ROOT/pam.d. pam_syslog() output reaches the
 * driver's stderr (PAM_WRAPPER_DEBUGLEVEL=2); every output of every run is
 * checked for the secrets of the tokens the test saw, when the run ends
 * and again at teardown, for the tokens noted since.
 *
 * With APIKEY_VALGRIND=1 in the environment (make valgrind), the driver
 * runs under valgrind (memcheck, definite and indirect leaks are errors,
 * suppressions from $APIKEY_VALGRIND_SUPP or ./tests/valgrind.supp); a
 * run whose valgrind log, ROOT/valgrind/pam_driver.PID.log, reports an
 * error fails the test and shows the log.
 *
 * The probe stack (itp_probe()) makes the module's own return value
 * visible in the stack's result:
 *
 *     PHASE [success=done ignore=ignore default=die] pam_apikey.so ARGS
 *     PHASE optional pam_echo.so apikey-ignored-PHASE
 *     PHASE required pam_permit.so
 *
 * (session: pam_exec.so stdout quiet /bin/echo instead of pam_echo, which
 * says nothing in close_session). Success and every error end the stack
 * with the module's value; only PAM_IGNORE reaches the marker module,
 * whose message the driver prints, and
 * itp_rc() turns "success after the marker" back into PAM_IGNORE.
 */
#ifndef APIKEY_TEST_HARNESS_PAM_H
#define APIKEY_TEST_HARNESS_PAM_H

#include <stdint.h>

#include "harness.h"

/* it_setup() then itp_init(); itp_teardown() then it_teardown(). */
void	itp_setup(void);
void	itp_teardown(void);
/* The driver's NSS files and ROOT/pam.d; after it_prepare(). */
void	itp_init(void);

/* Absolute paths of the module and of the driver under test. */
const char *itp_module(void);
const char *itp_driver(void);
/*
 * The absolute path of the system's PAM module name ("pam_permit.so") in
 * the directory libpam's pkg-config file names, else the multiarch one;
 * fails the test, saying where it looked, when neither holds the stock
 * modules. Harness-owned; needs no itp_init().
 */
const char *itp_pam_lib(const char *name);
/* pam_wrapper's pam_matrix.so, from pam_wrapper.pc. */
const char *itp_matrix_module(void);
/* "socket=SOCK nodelay": the arguments every probe line starts with. */
const char *itp_base_args(void);
/* path := text (mode 0644). */
void	itp_write(const char *path, const char *text);
/* ROOT/pam.d/name := text. */
void	itp_service(const char *name, const char *text);
/* The three probe lines of phase (auth, account, session, password) with
 * the module's arguments itp_base_args() then args (may be NULL). */
const char *itp_probe_lines(const char *phase, const char *args);
/* A service whose four phases are probe stacks with the same args. */
void	itp_probe(const char *name, const char *args);

/* Number of "verify: " lines in the daemon's log so far. */
size_t	itp_verify_lines(void);
/* Waits (IT_DEADLINE_MS) until the log has at least n of them. */
void	itp_wait_verify_lines(size_t n);

/* Replaces the first occurrence of from in the driver's group file. */
void	itp_group_edit(const char *from, const char *to);
/* The same in the driver's passwd file. */
void	itp_passwd_edit(const char *from, const char *to);

/* --- running the driver --------------------------------------------------- */

struct itp_run {
	int		 status;	/* driver's exit status */
	const char	*out;		/* stdout, harness-owned */
	const char	*err;		/* stderr (pam_syslog), harness-owned */
	int64_t		 ms;		/* wall time of the whole run */
};

struct itp_drv;

/*
 * Starts pam_driver ARGS... (options, SERVICE, USER, STEP...) with secret
 * as the first line of its standard input (NULL: no line).
 */
struct itp_drv *itp_start(const char *secret, ...) IT_SENTINEL;
/* Waits until the driver printed its "pause" line. */
void	itp_wait_pause(struct itp_drv *d);
/* Lets a paused driver go on. */
void	itp_resume(struct itp_drv *d);
/* Waits for the driver to exit (asserting exit status 0 and no secret in
 * its output), fills *r and frees d. */
void	itp_finish(struct itp_drv *d, struct itp_run *r);
/* itp_start() then itp_finish(). */
void	itp_run(struct itp_run *r, const char *secret, ...) IT_SENTINEL;

/*
 * The PAM return value of the n-th (0-based) step called step in out, as
 * the module returned it behind a probe stack: PAM_IGNORE when the
 * probe's marker was printed during that step, else the stack's value.
 * Asserts the step ran.
 */
int	itp_rc(const char *out, const char *step, int n);
/* The stack's raw value of the n-th step called step. */
int	itp_raw_rc(const char *out, const char *step, int n);
/* One-shot: SERVICE USER authenticate with secret; itp_rc() of it. */
int	itp_auth(const char *service, const char *user, const char *secret);

/* Runs argv (argv[0] an absolute path) and captures its output. */
void	itp_exec(struct itp_run *r, const char *const *argv);

#endif
