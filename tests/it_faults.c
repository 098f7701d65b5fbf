/*
 * it_faults.c - apikeyd when things break under it (issue 10): killed
 * with SIGKILL in the middle of thousands of management writes, its map
 * full, its disk full, stopped while a PAM login waits on it, and
 * restarted or killed while libapikey clients hold connections.
 *
 * What must hold: a write that was acknowledged is in the store after
 * any crash, and the store opens and reads whole (mdb_stat and mdb_dump
 * of lmdb-utils); a write that cannot be made fails with a clear error
 * while verifies of existing keys go on; the PAM module gives up on a
 * silent daemon within its timeout with the documented code; a client's
 * next call after a restart reconnects by itself.
 *
 * The writers are workers (harness_load.h) run as fixture users; each
 * keeps a ledger of what it asked for and what was acknowledged, written
 * before its next call, so the ledger is exact whenever the daemon dies.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include <criterion/criterion.h>

#include "harness_load.h"
#include "harness_pam.h"
#include "harness_usage.h"

static void
fini(void)
{
	/* A test that stopped the daemon may have failed before SIGCONT. */
	if (it_daemon_pid() > 0)
		kill(it_daemon_pid(), SIGCONT);
	it_prog_end_all();
	itl_tmpfs_end();
	itp_teardown();
}

TestSuite(faults, .fini = fini, .timeout = 240);

/* --- SIGKILL during management writes ------------------------------------- */

#define WRITES		10000
#define WRITERS		4

static const char *const writers[WRITERS] = { "root", "alice", "bob",
    "carol" };

static long
env_num(const char *name, long dflt)
{
	const char	*v = getenv(name);

	return v != NULL && *v != '\0' ? strtol(v, NULL, 10) : dflt;
}

/*
 * Four writers (root, alice, bob, carol) make 10,000 management writes
 * between them, creates and every fourth a revoke, and the daemon is
 * killed at a random point among them (ITL_SEED=N repeats one,
 * ITL_WRITES=N sets their number). The store left behind passes
 * mdb_stat and mdb_dump; after the restart every acknowledged create is
 * there and its token verifies VALID, every acknowledged revoke is gone
 * (NOT_FOUND), and the only keys nobody acknowledged are creates that
 * were on their way when the daemon died, at most one per writer. A
 * daemon that answered before its commit loses acknowledged keys here;
 * one that left a broken store fails the LMDB tools or the restart.
 */
Test(faults, kill_during_ten_thousand_writes)
{
	const char	*acks[WRITERS];
	long		 writes = env_num("ITL_WRITES", WRITES);
	unsigned	 seed = (unsigned)env_num("ITL_SEED", (long)time(NULL));
	long long	 at;

	it_prepare("max_keys_per_user = 0\nthrottle_failures = 0\n");
	it_start();
	srand(seed);
	/* Somewhere in the first half, which keeps the test within seconds
	 * on a slow disk; stress_crash.c kills later and more often. */
	at = (writes / 20 + rand() % (writes * 2 / 5)) *
	    ITL_LEDGER_BYTES_PER_WRITE;
	cr_log_info("ITL_SEED=%u: SIGKILL once the ledgers hold %lld bytes, "
	    "about %lld of %ld writes", seed, at,
	    at / ITL_LEDGER_BYTES_PER_WRITE, writes);
	itl_writes_until_kill(writers, WRITERS, writes / WRITERS, at, "crash",
	    acks);
	/* What the killed daemon left, before anything opens it again. */
	itl_mdb_check(it_state_dir());
	it_start();
	itl_check_writes(writers, acks, WRITERS, "after the crash");
	itl_mdb_check(it_state_dir());
}

/* --- a full map ----------------------------------------------------------- */

#define MAP_FULL_MSG	"the key store is full (raise map_size in " \
	"apikeyd.conf)"
#define FILL_BOUND	5000

/* About 4 KiB of metadata, so a hundred keys fill a 1 MiB map. */
static struct apikey_key_spec *
big_spec(void)
{
	struct apikey_key_spec *spec = apikey_key_spec_new();
	char		 meta[4000];

	cr_assert_not_null(spec, "out of memory");
	memset(meta, 'x', sizeof(meta));
	memcpy(meta, "{\"pad\":\"", 8);
	memcpy(meta + sizeof(meta) - 3, "\"}", 3);
	cr_assert_eq(apikey_key_spec_set_metadata(spec, meta), 0);
	return spec;
}

/*
 * Root creates keys until the store is full (map_size = 1M, the least
 * allowed): root may write into the reserve, so the map itself runs out.
 * The create that does not fit fails with ELIMIT and the message naming
 * map_size; every key made before verifies VALID all the same, and so
 * does a key with credits, whose verifies are writes: each one's credit
 * is still taken. Revoking keys then makes room for new ones, and the
 * store passes mdb_stat and mdb_dump.
 */
Test(faults, full_map_refuses_writes_and_keeps_verifying)
{
	struct apikey_key_spec *spec;
	struct apikey_key *k = NULL;
	struct apikey_status *st = NULL;
	const char	**toks, *credit;
	char		*tok;
	size_t		 n, i;
	int		 rc, big;

	it_prepare("map_size = 1M\nmax_keys_per_user = 0\n"
	    "throttle_failures = 0\n");
	it_start();
	spec = apikey_key_spec_new();
	cr_assert_eq(apikey_key_spec_set_credits(spec, 1000000), 0);
	credit = it_key_lib(APIKEY_OWNER_SELF, NULL, spec, NULL);
	apikey_key_spec_free(spec);
	spec = big_spec();
	toks = calloc(FILL_BOUND, sizeof(*toks));
	cr_assert_not_null(toks, "out of memory");
	/* Big keys first, then small ones into the last pages. */
	for (n = 0, big = 1;; n++) {
		cr_assert_lt(n, FILL_BOUND, "%d keys did not fill 1 MiB",
		    FILL_BOUND);
		tok = NULL;
		rc = apikey_key_create(it_aclient(), APIKEY_OWNER_SELF, NULL,
		    big ? spec : NULL, NULL, &tok);
		if (rc != 0 && big) {
			big = 0;
			n--;
			continue;
		}
		if (rc != 0)
			break;
		toks[n] = it_printf("%s", tok);
		apikey_token_free(tok);
	}
	cr_assert_eq(rc, APIKEY_ELIMIT, "create in a full store: %s (%s)",
	    apikey_strerror(rc), apikey_last_error(it_aclient()));
	cr_assert_str_eq(apikey_last_error(it_aclient()), MAP_FULL_MSG);
	cr_assert_eq(apikey_status(it_aclient(), &st), 0);
	cr_log_info("%zu keys filled the map: map_used %llu of %llu bytes", n,
	    (unsigned long long)apikey_status_map_used(st),
	    (unsigned long long)apikey_status_map_size(st));
	apikey_status_free(st);
	it_log_wait("admin: key create: key store is full; raise map_size",
	    IT_DEADLINE_MS);

	/* Reads need no room: every key verifies. */
	for (i = 0; i < n; i++)
		cr_assert_eq(itl_code(toks[i]), APIKEY_VALID, "key %zu of %zu "
		    "in the full store", i, n);
	for (i = 0; i < 5; i++)
		cr_assert_eq(itl_code(credit), APIKEY_VALID, "a key with "
		    "credits in the full store");
	/* Each of those verifies was a write, and each was made. */
	cr_assert_eq(itu_remaining(credit), 1000000 - 5);

	/* Deletes make room. */
	for (i = 0; i < 8; i++) {
		rc = apikey_key_revoke(it_aclient(), it_id(toks[i]));
		cr_assert_eq(rc, 0, "revoke %zu in the full store: %s (%s)", i,
		    apikey_strerror(rc), apikey_last_error(it_aclient()));
	}
	tok = NULL;
	rc = apikey_key_create(it_aclient(), APIKEY_OWNER_SELF, NULL, spec, &k,
	    &tok);
	cr_assert_eq(rc, 0, "create after 8 revokes: %s (%s)",
	    apikey_strerror(rc), apikey_last_error(it_aclient()));
	it_note_token(tok);
	cr_assert_eq(itl_code(tok), APIKEY_VALID);
	apikey_token_free(tok);
	apikey_key_free(k);
	apikey_key_spec_free(spec);
	for (i = 8; i < n; i++)
		cr_assert_eq(itl_code(toks[i]), APIKEY_VALID);
	free(toks);
	itl_mdb_check(it_state_dir());
}

/* --- a full disk ---------------------------------------------------------- */

#define DISK_KEYS	20
#define DISK_MORE	1000
#define DISK_FULL	"no space left on the device of apikeyd's state " \
	"directory: nothing was changed (an administrator must free space " \
	"there)"

/* Starts apikeyd on the state directory state, not the harness's. */
static void
start_on(const char *state)
{
	it_spawn_daemon((const char *const[]){ "-f", "-d", "-c",
	    it_conf_path(), "--state-dir", state, "--socket-dir",
	    it_sock_dir(), NULL });
	it_wait_ready(it_sock_dir());
}

struct disk {
	const char	*state;
	const char	*filler;
	const char	*toks[DISK_KEYS];	/* made before it filled */
	const char	*more[DISK_MORE];	/* made on the full disk */
	size_t		 nmore;
	int		 rc;		/* of the create that failed */
};

/*
 * The state directory on a tmpfs of 4 MiB, DISK_KEYS keys made, then a
 * filler file takes the disk to its last byte and root creates keys
 * until one fails: LMDB first reuses the pages its own commits freed.
 */
static void
fill_disk(struct disk *d)
{
	const char	*disk;
	char		*tok;
	size_t		 filled;

	memset(d, 0, sizeof(*d));
	it_prepare(NULL);
	disk = it_path("disk");
	itl_tmpfs(disk, "4m");
	d->state = it_printf("%s/state", disk);
	d->filler = it_printf("%s/filler", disk);
	start_on(d->state);
	for (d->nmore = 0; d->nmore < DISK_KEYS; d->nmore++)
		d->toks[d->nmore] = it_key(NULL, NULL);
	filled = itl_fill(d->filler);
	for (d->nmore = 0;; d->nmore++) {
		cr_assert_lt(d->nmore, DISK_MORE, "%d creates on a full disk",
		    DISK_MORE);
		tok = NULL;
		d->rc = apikey_key_create(it_aclient(), APIKEY_OWNER_SELF,
		    NULL, NULL, NULL, &tok);
		if (d->rc != 0)
			break;
		it_note_token(tok);
		d->more[d->nmore] = it_printf("%s", tok);
		apikey_token_free(tok);
	}
	cr_log_info("a filler took the last %zu bytes of the disk; %zu more "
	    "keys fitted in the store's free pages, then: %s: \"%s\"", filled,
	    d->nmore, apikey_strerror(d->rc), apikey_last_error(it_aclient()));
}

/*
 * The create that does not fit fails with ELIMIT and a message that says
 * the disk is full and nothing was changed, and the log names the cause
 * (ENOSPC); every key acknowledged before and on the full disk still
 * verifies, a revoke either works or changes nothing, and the store
 * passes mdb_stat and mdb_dump. Once the filler is gone writes work
 * again, and after a restart every key is still there. (Until the fix
 * that came with this test, the create got EINTERNAL "key store failure
 * during key create; see the apikeyd log", and the log said only "store
 * I/O or internal error".)
 */
Test(faults, full_disk_refuses_writes_and_loses_nothing)
{
	struct disk	 d;
	struct apikey_key *k = NULL;
	const char	*made;
	char		*tok;
	size_t		 i;
	int		 rc;

	fill_disk(&d);
	cr_assert_eq(d.rc, APIKEY_ELIMIT, "a create on a full disk: %s",
	    apikey_strerror(d.rc));
	cr_assert_str_eq(apikey_last_error(it_aclient()), DISK_FULL);
	itl_log_wait_count(it_printf("admin: key create: %s",
	    "no space left on the device"), 1, IT_DEADLINE_MS);
	cr_assert_gt(itl_log_count(strerror(ENOSPC)), 0, "the daemon's log "
	    "does not say \"%s\"", strerror(ENOSPC));
	/* A revoke needs pages too: all or nothing. */
	rc = apikey_key_revoke(it_aclient(), it_id(d.toks[0]));
	cr_assert(rc == 0 || (rc == APIKEY_ELIMIT &&
	    strcmp(apikey_last_error(it_aclient()), DISK_FULL) == 0),
	    "revoke on a full disk: %s (%s)", apikey_strerror(rc),
	    apikey_last_error(it_aclient()));
	cr_assert_eq(itl_code(d.toks[0]), rc == 0 ? APIKEY_NOT_FOUND :
	    APIKEY_VALID);
	for (i = 1; i < DISK_KEYS; i++)
		cr_assert_eq(itl_code(d.toks[i]), APIKEY_VALID, "key %zu on "
		    "the full disk", i);
	for (i = 0; i < d.nmore; i++)
		cr_assert_eq(itl_code(d.more[i]), APIKEY_VALID);
	itl_mdb_check(d.state);

	cr_assert_eq(unlink(d.filler), 0, "unlink %s: %s", d.filler,
	    strerror(errno));
	rc = apikey_key_create(it_aclient(), APIKEY_OWNER_SELF, NULL, NULL, &k,
	    &tok);
	cr_assert_eq(rc, 0, "create once the disk has room: %s (%s)",
	    apikey_strerror(rc), apikey_last_error(it_aclient()));
	it_note_token(tok);
	made = it_printf("%s", tok);
	apikey_token_free(tok);
	apikey_key_free(k);
	it_stop();
	itl_mdb_check(d.state);
	start_on(d.state);
	cr_assert_eq(itl_code(made), APIKEY_VALID);
	for (i = 1; i < DISK_KEYS; i++)
		cr_assert_eq(itl_code(d.toks[i]), APIKEY_VALID, "key %zu after "
		    "the restart", i);
	for (i = 0; i < d.nmore; i++)
		cr_assert_eq(itl_code(d.more[i]), APIKEY_VALID, "key %zu made "
		    "on the full disk, after the restart", i);
}

/* --- a stopped daemon and a PAM login ------------------------------------- */

/* Waits until process pid is stopped ("T" in /proc/PID/stat). */
static void
wait_stopped(pid_t pid)
{
	int64_t		 end = it_now_ms() + IT_DEADLINE_MS;
	const char	*stat, *p;

	for (;;) {
		stat = it_read_file(it_printf("/proc/%d/stat", (int)pid), NULL);
		p = strrchr(stat, ')');
		if (p != NULL && p[1] == ' ' && p[2] == 'T')
			return;
		cr_assert(it_now_ms() < end, "pid %d did not stop: %s",
		    (int)pid, stat);
		it_msleep(5);
	}
}

/*
 * apikeyd stopped with SIGSTOP: its sockets still take connections (the
 * backlog), and nothing answers. pam_authenticate with the module's
 * default timeout (2000 ms, no timeout= argument) waits that long, then
 * returns PAM_AUTHINFO_UNAVAIL (PAM_IGNORE with
 * ignore_authinfo_unavail), as the README documents; once the daemon
 * goes on, logins work again. it_pam_phases.c has the same with a
 * listener that never accepts and timeout=1000.
 */
Test(faults, pam_login_against_a_stopped_daemon)
{
	const char	*tok;
	struct itp_run	 r;

	it_setup();
	itp_init();
	tok = it_key(NULL, "--user", "alice", NULL);
	itp_probe("sshd", NULL);
	itp_probe("ign", "ignore_authinfo_unavail");
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);

	cr_assert_eq(kill(it_daemon_pid(), SIGSTOP), 0);
	wait_stopped(it_daemon_pid());
	itp_run(&r, tok, "sshd", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTHINFO_UNAVAIL,
	    "%s%s", r.out, r.err);
	it_assert_has(r.err, it_printf("apikeyd unavailable at %s",
	    it_sock_dir()));
	cr_log_info("a login against the stopped daemon gave up after %lld "
	    "ms", (long long)r.ms);
	/* It waited for the reply, then gave up: not sooner, nor forever. */
	cr_assert_geq(r.ms, APIKEY_DEFAULT_TIMEOUT_MS - 50, "the login gave up "
	    "after %lld ms, before the module's default timeout (%d ms)",
	    (long long)r.ms, APIKEY_DEFAULT_TIMEOUT_MS);
	cr_assert_lt(r.ms, APIKEY_DEFAULT_TIMEOUT_MS + 3000, "the login "
	    "waited %lld ms, far past the module's default timeout (%d ms)",
	    (long long)r.ms, APIKEY_DEFAULT_TIMEOUT_MS);
	itp_run(&r, tok, "ign", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_IGNORE, "%s%s",
	    r.out, r.err);
	cr_assert_lt(r.ms, APIKEY_DEFAULT_TIMEOUT_MS + 3000, "the login "
	    "waited %lld ms", (long long)r.ms);

	cr_assert_eq(kill(it_daemon_pid(), SIGCONT), 0);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
}

/* --- restarts under held connections -------------------------------------- */

#define HELD_VERIFY	3
#define HELD_ADMIN	2

/* One call on each held client; each must succeed. */
static void
call_all(struct apikey_client **v, struct apikey_client **a,
    const char *tok, const char *when)
{
	struct apikey_result *res;
	struct apikey_status *st;
	int		 i, rc;

	for (i = 0; i < HELD_VERIFY; i++) {
		res = NULL;
		rc = apikey_verify(v[i], tok, NULL, &res);
		cr_assert(rc == 0 && apikey_result_code(res) == APIKEY_VALID,
		    "verify on held client %d %s: %s (%s)", i, when,
		    apikey_strerror(rc), apikey_last_error(v[i]));
		apikey_result_free(res);
	}
	for (i = 0; i < HELD_ADMIN; i++) {
		st = NULL;
		rc = apikey_status(a[i], &st);
		cr_assert_eq(rc, 0, "status on held admin client %d %s: %s "
		    "(%s)", i, when, apikey_strerror(rc),
		    apikey_last_error(a[i]));
		apikey_status_free(st);
	}
}

/*
 * libapikey clients (as a service or sshd holds them) keep their
 * connections across a restart with SIGTERM and a crash with SIGKILL of
 * a daemon that binds its own sockets: the next call on each reconnects
 * by itself and succeeds. it_systemd.c shows it under socket activation
 * and load; here the sockets themselves are new.
 */
Test(faults, held_clients_reconnect_after_restart_and_crash)
{
	struct apikey_client *v[HELD_VERIFY], *a[HELD_ADMIN];
	const char	*tok;
	int		 i, st;

	it_setup();
	tok = it_key(NULL, "--user", "alice", NULL);
	for (i = 0; i < HELD_VERIFY; i++)
		cr_assert_eq(apikey_open(it_sock_dir(), 0, &v[i]), 0);
	for (i = 0; i < HELD_ADMIN; i++)
		cr_assert_eq(apikey_open_admin(it_sock_dir(), 0, &a[i]), 0);
	call_all(v, a, tok, "before the restarts");

	it_restart();
	call_all(v, a, tok, "after a restart");

	cr_assert_eq(kill(it_daemon_pid(), SIGKILL), 0);
	st = it_wait_daemon_exit(IT_DEADLINE_MS);
	cr_assert_eq(st, 128 + SIGKILL);
	it_start();
	call_all(v, a, tok, "after a crash");
	for (i = 0; i < HELD_VERIFY; i++)
		apikey_close(v[i]);
	for (i = 0; i < HELD_ADMIN; i++)
		apikey_close(a[i]);
}
