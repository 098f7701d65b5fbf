/*
 * harness_int.h - what the files of the integration-test harness share and
 * tests never use (tests include harness.h): harness.c owns the test's
 * directory, its paths and the shared clients; harness_daemon.c the
 * daemon; harness_ctl.c the apikeyctl runs and the files they capture;
 * harness_tokens.c the noted tokens and the search for secrets, which
 * it_teardown() runs through the functions below.
 *
 * Each file keeps its own state; the others reach it through these
 * functions or get it as arguments. Like the rest of the harness, they
 * assert (and so end the test) instead of returning errors, but where a
 * comment says that they never assert: those run in the teardown too.
 */
#ifndef APIKEY_TEST_HARNESS_INT_H
#define APIKEY_TEST_HARNESS_INT_H

#include <sys/types.h>
#include <stddef.h>

#include "harness.h"

/* Entries of a child's argv, its NULL included, at most. */
#define MAX_ARGS	96

/* --- harness.c: the test's directory and clients -------------------------- */

/* Whether it_prepare() made the root and it_teardown() has not removed it. */
int	ith_ready(void);
/* The daemon's copies of the NSS files, under the root. */
const char *ith_passwd_path(void);
const char *ith_group_path(void);
/* The apikeyctl binary under test. */
const char *ith_apikeyctl_path(void);
/* The name of fixture user i, or NULL past the last. */
const char *ith_fixture_user(size_t i);
/* Closes it_vclient()'s and it_aclient()'s connections (a stopped daemon's
 * are dead). Never asserts. */
void	ith_close_clients(void);

/* --- harness_daemon.c: the daemon ----------------------------------------- */

/* Whether the daemon the harness started is still running (not reaped). */
int	ith_daemon_alive(void);
/* Whether a connection to the Unix socket at path is accepted (it is
 * closed at once). Never asserts. */
int	ith_can_connect(const char *path);
/*
 * Stops the daemon with sig: what went wrong (no clean exit within
 * IT_DEADLINE_MS, then killed; a nonzero exit status; sockets left
 * behind), harness-owned, or NULL. Asserts only when out of memory.
 */
const char *ith_stop_daemon(int sig);
/* it_text_tail() of the daemon's log, for failure messages.
 * Harness-owned. */
const char *ith_log_tail(size_t n);
#define ITH_LOG_TAIL	8192

/* --- harness_ctl.c: apikeyctl and helper programs ------------------------- */

/*
 * Writes the start of an argv that runs a program as uid/gid through
 * setpriv, with no supplementary groups; with setuid, as a setuid-root
 * program run by that user is: real ids the user's, effective ids root's.
 * Returns the number of arguments written.
 */
size_t	ith_setpriv_argv(const char **argv, uid_t uid, gid_t gid, int setuid);
/*
 * Runs argv with envp, stdin data in (NULL: none; small inputs only),
 * capturing its standard output and error into *r (harness-owned), within
 * timeout_ms; fails the test, showing what it printed, when it does not
 * finish in time (it is killed then). For apikeyctl and the PostgreSQL
 * programs of harness_pg.c.
 */
void	ith_run_capture(const char *const *argv, char **envp, const char *in,
	    int timeout_ms, struct it_run *r);
/* "apikeyctl ARGS", shortened, for messages; harness-owned. */
const char *ith_ctl_what(const char *const *args);
/*
 * Runs apikeyctl --socket-dir SOCK ARGS as root, with no input, within
 * timeout_ms (else kills it). Returns NULL, or what went wrong (*r then
 * holds what it printed, status -1). Notes nothing, and asserts only
 * when out of memory or processes.
 */
const char *ith_ctl_try(const char *const *args, int timeout_ms,
	    struct it_run *r);
/*
 * The files under the root that hold a token by design: the captured
 * standard output of every background key create or rotate
 * (it_ctl_spawn()). Valid until ith_ctl_forget().
 */
const char *const *ith_ctl_captures(size_t *n);
/* Kills the background runs still running; never asserts. */
void	ith_ctl_kill_spawned(void);
/* Forgets the captures; never asserts. */
void	ith_ctl_forget(void);

/* --- harness_tokens.c: the search for secrets ----------------------------- */

/* Problems found, one a line, for a failure message. */
struct ith_problems {
	char		*buf;
	size_t		 len;
	size_t		 n;
};

/* Appends one line; never asserts (teardown uses it). */
void	ith_problem_add(struct ith_problems *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * The teardown's search, while the daemon still runs: notes the tokens
 * in the captures, then, if any token was noted, looks for the secrets in
 * what root reads of the daemon's records through sockdir.
 */
void	ith_teardown_scan_live(struct ith_problems *, const char *sockdir,
	    const char *const *captures, size_t ncaptures);
/*
 * The teardown's search, once the daemon has stopped: in log (the daemon's
 * log, read from log_path), then, if any token was noted, in the texts
 * given to it_scan_later() and in every regular file under root but
 * log_path and the captures.
 */
void	ith_teardown_scan(struct ith_problems *, const char *log,
	    const char *root, const char *log_path,
	    const char *const *captures, size_t ncaptures);
/* Forgets (and wipes) the noted tokens and the texts to scan. */
void	ith_tokens_forget(void);

#endif
