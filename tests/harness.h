/*
 * harness.h - shared helpers of the integration tests (tests/it_*.c).
 *
 * Each test starts the real apikeyd in its own temporary directory and
 * drives it through libapikey and the apikeyctl binary. Users and groups
 * come from nss_wrapper with the fixture below, never from the machine:
 * the test binary re-executes itself under nss_wrapper before main(), and
 * passes the same environment to apikeyctl; the daemon gets its own copy of
 * the fixture files, so a test can make its NSS lookups hang.
 *
 * Fixture users (name uid:gid, extra groups):
 *   root 0:0 | alice 10001:10001, acme | bob 10002:10002, acme-admins |
 *   carol 10003:20001 (primary group acme) | dave 10004:10004, beta |
 *   eve 10005:10005, apikey-admins (the daemon's admin_group)
 * Groups: acme 20001, acme-admins 20002, beta 20003, apikey-admins 20010.
 *
 * Criterion runs every test in a process of its own, so the state behind
 * these functions (one daemon, its directory, the tokens seen) is per test.
 * Strings and JSON documents the helpers return are owned by the harness
 * and freed by it_teardown(); the functions assert (and so end the test)
 * instead of returning errors. With APIKEY_IT_KEEP=1 in the environment
 * the temporary directories are kept (and named on stderr).
 */
#ifndef APIKEY_TEST_HARNESS_H
#define APIKEY_TEST_HARNESS_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "../libclient/apikey.h"
/* Children's environments (it_make_env()) and output (it_append_fd()). */
#include "harness_proc.h"

#define IT_SENTINEL	__attribute__((sentinel))

/* Deadline for anything the daemon must do "soon", in milliseconds. */
#define IT_DEADLINE_MS	10000

/* --- daemon ------------------------------------------------------------ */

/*
 * it_setup() is it_prepare(NULL) then it_start(); it_teardown() stops the
 * daemon (asserting a clean exit), checks that no token the test saw is in
 * the daemon's log, and removes the directory. Use them as .init/.fini.
 *
 * When the test noted a token (see "keys" below), it_teardown() first
 * reads as root, while the daemon still runs, the whole audit log (plain
 * and --json) and the key listings of every fixture user and tenant, and
 * once it stopped looks for every noted token, whole or its secret alone,
 * there, in every text given to it_scan_later() (the output of every
 * apikeyctl run and pam_driver run) and in every regular file under the
 * root but the captured output of a background key create or rotate.
 * Any hit fails the test, naming the key id and where.
 */
void	it_setup(void);
void	it_teardown(void);
/*
 * Makes the temporary root (mode 0755) and writes the config file:
 * "admin_group = apikey-admins", "log_level = debug", then conf_extra
 * (whole lines, may be NULL). The state and socket directories are not
 * created: the daemon creates them.
 */
void	it_prepare(const char *conf_extra);
/* Starts apikeyd -f -d -c CONF --state-dir STATE --socket-dir SOCK and
 * waits until both sockets accept a connection. */
void	it_start(void);
/* Starts apikeyd with exactly these arguments (NULL-terminated, after the
 * program name), output appended to the log; does not wait. */
pid_t	it_spawn_daemon(const char *const *args);
/*
 * it_spawn_daemon() with more: prog instead of apikeyd (args then name
 * apikeyd themselves, e.g. for systemd-socket-activate), as a fixture
 * user, with env ("NAME=value" set, "NAME" removed; the harness removes
 * the service manager's variables otherwise), and with fds passed as
 * listening sockets the way systemd passes them: moved to 3 and up, with
 * LISTEN_FDS, LISTEN_PID (the child's) and, if fdnames, LISTEN_FDNAMES.
 */
struct it_daemon_opt {
	const char	*prog;
	const char	*user;
	const char *const *env;
	const int	*fds;
	size_t		 nfds;
	const char	*fdnames;
};
pid_t	it_spawn_daemon_opt(const struct it_daemon_opt *,
	    const char *const *args);
/* Waits for both sockets in dir; fails if the daemon exits first. */
void	it_wait_ready(const char *sockdir);
/* Waits up to ms for the spawned daemon to exit; returns its exit status
 * (128 + signal when killed), or -1 if it is still running. */
int	it_wait_daemon_exit(int ms);
/* Sends sig, waits IT_DEADLINE_MS, asserts exit status 0 and that both
 * sockets are gone. */
void	it_stop_sig(int sig);
void	it_stop(void);
void	it_restart(void);
pid_t	it_daemon_pid(void);

const char *it_root(void);
const char *it_state_dir(void);
const char *it_sock_dir(void);
const char *it_conf_path(void);
const char *it_log_path(void);
/* The apikeyd binary under test. */
const char *it_apikeyd_path(void);
/* The build directory, $APIKEY_BUILD (default "build"), made absolute;
 * harness-owned. Needs no it_prepare(). */
const char *it_build_dir(void);
/* root/rel, owned by the harness. */
const char *it_path(const char *rel);
/* The daemon's log so far. */
const char *it_log(void);

/* --- fixture users ------------------------------------------------------ */

uid_t	it_uid(const char *user);
gid_t	it_gid(const char *user);

/* --- apikeyctl ---------------------------------------------------------- */

struct it_run {
	int		 status;	/* exit status; 128 + signal if killed */
	const char	*out;		/* stdout, harness-owned */
	const char	*err;		/* stderr, harness-owned */
};

struct it_ctl_opt {
	const char	*as;		/* fixture user; NULL or "root": as root */
	const char	*in;		/* stdin data; NULL: none (EOF) */
	int		 no_sockdir;	/* do not add --socket-dir */
	const char	*sockdir_env;	/* APIKEY_SOCKET_DIR for the child */
	int		 ids;		/* run as uid/gid below, not as */
	uid_t		 uid;
	gid_t		 gid;
};

/*
 * Runs apikeyctl --socket-dir SOCK ARGS... as user as (through setpriv,
 * with no supplementary groups) with stdin data in, and returns the exit
 * status. Output and status land in *r. Tokens in the output are noted.
 */
int	it_ctl(struct it_run *r, const char *as, const char *in, ...)
	    IT_SENTINEL;
int	it_ctlv(struct it_run *r, const struct it_ctl_opt *o,
	    const char *const *args);
/* Runs it_ctl and asserts the exit status and, when errsub is not NULL, that
 * stderr contains errsub. Returns stdout. */
const char *it_expect(const char *as, int status, const char *errsub, ...)
	    IT_SENTINEL;
/* Starts apikeyctl in the background (output to files in the root). */
pid_t	it_ctl_spawn(const char *as, ...) IT_SENTINEL;
/* Exit status of a spawned apikeyctl within ms, or -1 if still running. */
int	it_ctl_reap(pid_t pid, int ms);

/* --- keys ---------------------------------------------------------------- */

/* `key create -q ARGS` as user as; asserts success; returns the token. */
const char *it_key(const char *as, ...) IT_SENTINEL;
/* apikey_key_create as root through libapikey; *key_out optional. */
const char *it_key_lib(enum apikey_owner_kind kind, const char *owner,
	    const struct apikey_key_spec *spec, struct apikey_key **key_out);
/* apikey_tenant_add as root through libapikey; asserts success. */
void	it_tenant(const char *name, const char *group, const char *admin_group);

/*
 * Records a token so the log and outputs are checked for it. The tokens
 * printed by apikeyctl (it_ctl() and the rest) and those returned by
 * apikey_key_create(), apikey_key_rotate() and apikey_key_create_many()
 * are noted by the harness, which interposes these functions in the test
 * binary; so is it_key_lib()'s.
 */
void	it_note_token(const char *token);
/* Notes every token-shaped string in text. */
void	it_note_tokens(const char *text);
/* The key id of a token. */
const char *it_id(const char *token);
/* The same id with another secret and a valid checksum. */
const char *it_wrong_secret(const char *token);
/* The same id and secret under another prefix, with a valid checksum. */
const char *it_with_prefix(const char *token, const char *prefix);
/* The token with a broken checksum. */
const char *it_bad_crc(const char *token);
/* Asserts that no noted token or secret occurs in text. */
void	it_assert_no_token(const char *what, const char *text);
/*
 * Has it_teardown() look for the tokens noted by then in text
 * (harness-owned, NUL-terminated), what naming it in a failure.
 */
void	it_scan_later(const char *what, const char *text);
/*
 * A file under the root that holds tokens by design, written by a process
 * of the test's own (a worker's record of the keys it made): at teardown
 * every token in it is noted before the daemon's records are scanned, and
 * the file itself is not scanned.
 */
void	it_token_file(const char *path);
/*
 * Asserts that no regular file under the root holds a noted token or
 * secret, but the captured output of a background key create or rotate
 * (it_ctl_spawn()) and the it_token_file()s, which do by design.
 */
void	it_assert_no_token_in_files(void);

/* --- verify through libapikey --------------------------------------------- */

/* Shared clients as root, opened on first use, closed by it_stop(). */
struct apikey_client *it_vclient(void);
struct apikey_client *it_aclient(void);
/*
 * ctx is NULL or space-separated settings of the request:
 * "svc=sshd user=alice tenant=acme rhost=10.0.0.1 perm=doc:read perm=x:y
 * cost=3". it_req builds the request (NULL for a NULL ctx; caller frees it
 * with apikey_verify_req_free()). it_verify asserts apikey_verify()
 * returned 0; caller frees the result. it_verify_on uses client c (NULL:
 * it_vclient()).
 */
struct apikey_verify_req *it_req(const char *ctx);
struct apikey_result *it_verify(const char *token, const char *ctx);
struct apikey_result *it_verify_on(struct apikey_client *c,
	    const char *token, const char *ctx);
enum apikey_code it_code(const char *token, const char *ctx);
/* Polls verify (every ~50 ms, IT_DEADLINE_MS) until it answers want. */
void	it_wait_code(const char *token, const char *ctx, enum apikey_code want);

/* --- text and files ------------------------------------------------------- */

void	it_assert_has(const char *hay, const char *needle);
void	it_assert_lacks(const char *hay, const char *needle);
/* Line n (0-based) of text without its newline, or NULL. */
const char *it_line(const char *text, size_t n);
size_t	it_line_count(const char *text);
/* The value of the "name: value" line, or NULL. */
const char *it_field(const char *text, const char *name);
/* Parses JSON; asserts it parses. Harness-owned (borrowed reference). */
json_t	*it_json(const char *text);
/* The whole file; *len optional. Harness-owned, NUL-terminated. */
const char *it_read_file(const char *path, size_t *len);
/*
 * The end of text, at most n bytes of it, from a line start when there
 * is one in them: logs in failure messages, where one of several
 * megabytes makes Criterion's runner die before it prints the failure.
 * Points into text.
 */
const char *it_text_tail(const char *text, size_t n);
/*
 * Removes path and everything below it, links not followed; goes on past
 * what it cannot remove and never asserts, for teardowns.
 */
void	it_rm_tree(const char *path);
/*
 * it_keep() takes malloc'd s (asserting it is not NULL: out of memory)
 * into the harness's pool, it_printf() and it_vprintf() format into it.
 * They need no it_prepare(): a test that never calls it_teardown() (one
 * of harness_pg.h's alone) leaves the pool reachable from the harness's
 * state until the test's process exits, which LeakSanitizer does not
 * report.
 */
char	*it_keep(char *s);
const char *it_printf(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
const char *it_vprintf(const char *fmt, va_list ap)
	    __attribute__((format(printf, 1, 0)));
int64_t	it_now_ms(void);
/* Seconds since the epoch as the daemon reads them (CLOCK_REALTIME).
 * Not time(NULL): that reads a coarser clock, which may still show the
 * second before the one the daemon already saw. */
time_t	it_time(void);
/* Poll spacing only, never a wait for an event. */
void	it_msleep(int ms);

/* --- NSS inside the daemon ------------------------------------------------- */

/*
 * Replaces the first occurrence of from with to in the daemon's copy of
 * the "passwd" or "group" file, so its next lookup sees the change (a
 * user deleted and its uid given to another, say).
 */
void	it_nss_edit(const char *which, const char *from, const char *to);

/* Replaces the daemon's passwd and group files with FIFOs, so that any NSS
 * lookup in the daemon blocks in open(). */
void	it_nss_block(void);
/* Waits until some daemon thread is blocked opening a file. */
void	it_nss_wait_blocked(void);
/* Restores the files and wakes blocked openers (it_teardown does it). */
void	it_nss_unblock(void);

/* --- dirs and trust --------------------------------------------------------- */

/*
 * it_spawn_daemon() with apikeyd running as the fixture user (uid, primary
 * gid, no supplementary groups), as the packaged daemon runs as its own
 * user. The child drops its credentials itself before exec and only then
 * asks to die with the test: a uid change clears that request, so setpriv
 * cannot be used. SIGTERM from the test (root) still reaches it.
 */
pid_t	it_spawn_daemon_as(const char *user, const char *const *args);
/* it_start() as user; the test makes the state and socket directories
 * somewhere that user may create them, or owned by that user. */
void	it_start_as(const char *user);

/* --- connections ---------------------------------------------------------- */

/*
 * Helper programs of the connection tests (tests/it_connections.c), such
 * as build/tests/hostile, run as a fixture user (through setpriv, like
 * apikeyctl) or as root, with apikeyctl's environment. Standard output
 * and standard error come back through one pipe, read a line at a time;
 * the test writes commands to the program's standard input. A program
 * runs until it_prog_end() closes its input (it_prog_end_all() in .fini
 * ends every one still running).
 */
struct it_prog;

/*
 * Starts prog ARGS... as user as (NULL or "root": as root; "su:alice": as
 * a setuid-root program alice started, real uid hers, effective uid 0);
 * prog is an absolute path or relative to the build directory
 * ("tests/hostile").
 */
struct it_prog *it_prog_start(const char *as, const char *prog, ...)
	    IT_SENTINEL;
pid_t	it_prog_pid(const struct it_prog *);
/*
 * Reads the program's output until a line equal to line, within ms.
 * Returns the lines before it (since the last call, each with its
 * newline), harness-owned. Fails the test at the deadline or if the
 * program ends first.
 */
const char *it_prog_until(struct it_prog *, const char *line, int ms);
/* Writes one line (a newline is added) to the program's standard input. */
void	it_prog_say(struct it_prog *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Closes its standard input, waits up to ms for it to exit (then kills
 * it and fails) and returns its exit status; the rest of its output is
 * logged. Frees the handle. */
int	it_prog_end(struct it_prog *, int ms);
/* Ends every program still running, killing what does not end in time;
 * for .fini (asserts nothing). */
void	it_prog_end_all(void);

/* A "NAME:  N kB" field of the daemon's /proc/PID/status ("VmRSS"). */
long	it_daemon_kb(const char *field);
/* Waits up to ms until the daemon's log contains needle. */
void	it_log_wait(const char *needle, int ms);

#endif
