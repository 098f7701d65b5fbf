/*
 * it_load.c - apikeyd's connections under load (issue 10): a thousand
 * idle connections from four users and a hundred slow clients at once,
 * with the per-uid caps, the reserve for root, max_connections, and the
 * read and idle timeouts each holding to the exact refusal or close the
 * daemon documents; and running out of file descriptors, which pauses
 * accepting instead of taking the daemon down.
 *
 * While the connections pile up, a root client (as sshd's PAM stack is)
 * verifies a key every few milliseconds on a connection of its own, and
 * each of its verifies must be answered within libapikey's and
 * pam_apikey's default timeout (APIKEY_DEFAULT_TIMEOUT_MS); real PAM
 * logins with the module's defaults are made in between. The idle clients are tests/hostile as in
 * it_connections.c; the slow ones and the flood are workers
 * (harness_load.h), run as fixture users. Connections are made one after
 * another by each client and the caps are per uid, so which connections
 * are refused does not depend on timing.
 */
#include <sys/resource.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include <criterion/criterion.h>

#include "harness_load.h"
#include "harness_pam.h"

/* A report on a few hundred connections comes within this. */
#define REPORT_MS	(6 * IT_DEADLINE_MS)

/* 1000 idle connections need room: 2 * 1200 + 64 descriptors. */
#define LOAD_CONF \
	"max_connections = 1200\nmax_connections_per_uid = 250\n" \
	"reserved_connections = 90\nlog_lines_per_uid = 0\n"
#define LOAD_NOFILE	4096
#define PER_UID		250
#define OPEN_SLOTS	(1200 - 90)
#define RESERVED	"apikeyd's last 90 connections on verify.sock are " \
	"reserved for root and service_users"
#define MAXED		"apikeyd has reached max_connections (1200) on " \
	"verify.sock"

/* The slow clients: drippers finish each PING within read_timeout. */
#define DRIP		50
#define STALL		50
#define DRIP_PACE_MS	40	/* 12 bytes: 480 ms a PING */
#define DRIP_ROUNDS	3
#define READ_TIMEOUT_MS	1000
#define IDLE_TIMEOUT_MS	2000

static const char *const idlers[] = { "alice", "bob", "carol", "dave" };

static void
fini(void)
{
	it_prog_end_all();
	itp_teardown();
}

TestSuite(load, .fini = fini, .timeout = 180);

static const char *
vsock(void)
{
	return it_printf("%s/verify.sock", it_sock_dir());
}

static const char *
per_uid(const char *user)
{
	return it_printf("too many connections from uid %u to verify.sock "
	    "(max_connections_per_uid = %d)", (unsigned)it_uid(user),
	    PER_UID);
}

/* Starts tests/hostile SOCK idle n as user as; does not wait. */
static struct it_prog *
idle(const char *as, int n)
{
	return it_prog_start(as, "tests/hostile", vsock(), "idle",
	    it_printf("%d", n), NULL);
}

/* The number after "C what " on line C of report, or -1. */
static long
value_of(const char *report, size_t c, const char *what)
{
	const char	*head = it_printf("%zu %s ", c, what), *p;

	for (p = report; (p = strstr(p, head)) != NULL; p++)
		if (p == report || p[-1] == '\n')
			return strtol(p + strlen(head), NULL, 10);
	return -1;
}

/* Waits until root can verify on a new connection again. */
static void
wait_root_slot(const char *tok)
{
	struct apikey_client *c;
	struct apikey_result *res;
	int64_t		 end = it_now_ms() + IT_DEADLINE_MS;
	int		 rc;

	for (;;) {
		c = NULL;
		res = NULL;
		rc = apikey_open(it_sock_dir(), IT_DEADLINE_MS, &c);
		if (rc == 0)
			rc = apikey_verify(c, tok, NULL, &res);
		apikey_result_free(res);
		apikey_close(c);
		if (rc == 0)
			return;
		cr_assert(rc == APIKEY_EBUSY && it_now_ms() < end, "root "
		    "after its connections closed: %s", apikey_strerror(rc));
		it_msleep(20);
	}
}

/*
 * A thousand idle connections, 250 from each of four users and all made
 * at once, then a hundred slow clients of a fifth: fifty send three
 * PINGs a byte every 40 ms (480 ms a PING) and are answered, fifty stop
 * five bytes into a PING and are closed once read_timeout (1 s) has
 * passed, never sooner. Then the reserve: eve gets the last unreserved
 * slots and is refused the rest, root gets the reserved ones up to
 * max_connections and is refused past it. Without the per-uid cap the
 * 251st connections are admitted; without the read timeout the stalled
 * ones stay open ("C open"); without the reserve eve's last 21 are let
 * in. Root's verifies and PAM logins go on all the while.
 */
Test(load, thousand_idle_and_slow_clients)
{
	struct it_prog	*h[4], *slow, *more, *rooth;
	struct apikey_client *c = NULL;
	struct apikey_result *res = NULL;
	struct itl_prober *pr;
	const char	*tok, *report;
	size_t		 i, pam = 0;
	long		 ms;
	int		 rc;

	itl_nofile(LOAD_NOFILE);
	it_prepare(LOAD_CONF "idle_timeout = 0\nread_timeout = 1s\n");
	it_start();
	itp_init();
	/* The module's defaults: timeout 2000 ms. */
	itp_probe("sshd", NULL);
	tok = it_key(NULL, "--user", "alice", NULL);
	pr = itl_prober_start(tok, APIKEY_DEFAULT_TIMEOUT_MS);

	for (i = 0; i < 4; i++)
		h[i] = idle(idlers[i], PER_UID + 1);
	for (i = 0; i < 4; i++)
		itl_expect_report(idlers[i], it_prog_until(h[i], "ready",
		    REPORT_MS), PER_UID, 1, per_uid(idlers[i]));
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
	pam++;

	slow = itl_worker("eve", "slow", vsock(), it_printf("%d", DRIP),
	    it_printf("%d", STALL), it_printf("%d", DRIP_PACE_MS),
	    it_printf("%d", DRIP_ROUNDS), NULL);
	/* A login while they drip and stall. */
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
	pam++;
	report = it_prog_until(slow, "ready", REPORT_MS);
	cr_assert_eq(itl_count(report, it_printf("dripped %d", DRIP_ROUNDS)),
	    DRIP, "every PING sent a byte at a time is answered:\n%s", report);
	for (i = DRIP; i < DRIP + STALL; i++) {
		ms = value_of(report, i, "closed");
		cr_assert(ms >= READ_TIMEOUT_MS && ms < REPORT_MS, "stalled "
		    "connection %zu: expected closed by the daemon once "
		    "read_timeout (%d ms) had passed, not sooner; the slow "
		    "clients' report:\n%s", i, READ_TIMEOUT_MS, report);
	}
	cr_assert_eq(it_line_count(report), DRIP + STALL, "%s", report);
	itl_log_wait_count(it_printf("verify: uid %u pid %d: frame not "
	    "finished within read_timeout; closing", (unsigned)it_uid("eve"),
	    (int)it_prog_pid(slow)), STALL, IT_DEADLINE_MS);

	/*
	 * Now 1000 idle, 50 dripping and the root client: eve gets the
	 * 59 slots left below the reserve. Root takes the 90 reserved
	 * ones, and its next is past max_connections.
	 */
	more = idle("eve", 80);
	i = OPEN_SLOTS - 4 * PER_UID - DRIP - 1;
	itl_expect_report("eve", it_prog_until(more, "ready", REPORT_MS), i,
	    80 - i, RESERVED);
	rooth = idle("root", 91);
	itl_expect_report("root", it_prog_until(rooth, "ready", REPORT_MS), 90,
	    1, MAXED);
	rc = apikey_open(it_sock_dir(), APIKEY_DEFAULT_TIMEOUT_MS, &c);
	if (rc == 0)
		rc = apikey_verify(c, tok, NULL, &res);
	cr_assert_eq(rc, APIKEY_EBUSY, "a root client past max_connections: "
	    "%s", apikey_strerror(rc));
	if (c != NULL)
		cr_assert_str_eq(apikey_last_error(c), MAXED);
	apikey_close(c);
	itl_log_wait_count(it_printf("verify: refusing uid %u pid %d: "
	    RESERVED, (unsigned)it_uid("eve"), (int)it_prog_pid(more)), 21,
	    IT_DEADLINE_MS);
	for (i = 0; i < 4; i++)
		itl_log_wait_count(it_printf("verify: refusing uid %u pid %d: "
		    "%s", (unsigned)it_uid(idlers[i]), (int)it_prog_pid(h[i]),
		    per_uid(idlers[i])), 1, IT_DEADLINE_MS);

	/* Root's slots come back as its connections go. */
	cr_assert_eq(it_prog_end(rooth, IT_DEADLINE_MS), 0);
	wait_root_slot(tok);
	cr_assert_eq(itp_auth("sshd", "alice", tok), PAM_SUCCESS);
	pam++;
	/* The dripping connections were never closed. */
	it_prog_say(slow, "ping");
	cr_assert_eq(itl_count(it_prog_until(slow, "done", REPORT_MS), "pong"),
	    DRIP);
	itl_prober_check(pr, APIKEY_DEFAULT_TIMEOUT_MS, "1000 idle and 100 "
	    "slow connections");
	cr_log_info("%zu PAM logins with the module's default timeout, all "
	    "PAM_SUCCESS", pam);
	cr_assert_eq(it_prog_end(slow, IT_DEADLINE_MS), 0);
	cr_assert_eq(it_prog_end(more, IT_DEADLINE_MS), 0);
	for (i = 0; i < 4; i++)
		cr_assert_eq(it_prog_end(h[i], IT_DEADLINE_MS), 0);
}

/*
 * The same thousand idle connections with idle_timeout = 2s: every one is
 * closed, never before 2 s after its last traffic, and each close is
 * logged; root's client, busy all along, is never closed; the slots
 * come back. Without the sweep they stay open ("C open" after 20 s).
 */
Test(load, idle_timeout_closes_a_thousand_connections)
{
	struct it_prog	*h[4];
	struct itl_prober *pr;
	const char	*tok, *report;
	size_t		 i, c;
	long		 ms;

	itl_nofile(LOAD_NOFILE);
	it_prepare(LOAD_CONF "idle_timeout = 2s\n");
	it_start();
	tok = it_key(NULL, "--user", "alice", NULL);
	pr = itl_prober_start(tok, APIKEY_DEFAULT_TIMEOUT_MS);
	for (i = 0; i < 4; i++)
		h[i] = idle(idlers[i], PER_UID);
	for (i = 0; i < 4; i++)
		itl_expect_report(idlers[i], it_prog_until(h[i], "ready",
		    REPORT_MS), PER_UID, 0, NULL);
	for (i = 0; i < 4; i++)
		it_prog_say(h[i], "wait %d", 10 * IDLE_TIMEOUT_MS);
	for (i = 0; i < 4; i++) {
		report = it_prog_until(h[i], "done", REPORT_MS);
		cr_assert_eq(it_line_count(report), PER_UID, "%s", report);
		for (c = 0; c < PER_UID; c++) {
			ms = value_of(report, c, "closed");
			cr_assert(ms >= IDLE_TIMEOUT_MS, "%s's connection "
			    "%zu: expected closed by the daemon once "
			    "idle_timeout (%d ms) had passed, not sooner; "
			    "report:\n%s", idlers[i], c, IDLE_TIMEOUT_MS,
			    report);
		}
	}
	for (i = 0; i < 4; i++)
		itl_log_wait_count(it_printf("verify: uid %u pid %d: idle past "
		    "idle_timeout; closing", (unsigned)it_uid(idlers[i]),
		    (int)it_prog_pid(h[i])), PER_UID, IT_DEADLINE_MS);
	cr_assert_eq(itl_log_count(it_printf("uid 0 pid %d: idle past",
	    (int)getpid())), 0, "the busy root client was closed as idle");
	itl_prober_check(pr, APIKEY_DEFAULT_TIMEOUT_MS, "1000 idle "
	    "connections timing out");
	for (i = 0; i < 4; i++)
		cr_assert_eq(it_prog_end(h[i], IT_DEADLINE_MS), 0);
	h[0] = idle("alice", PER_UID);
	itl_expect_report("alice again", it_prog_until(h[0], "ready",
	    REPORT_MS), PER_UID, 0, NULL);
	cr_assert_eq(it_prog_end(h[0], IT_DEADLINE_MS), 0);
}

/* --- running out of descriptors ------------------------------------------- */

/* A verify by root on a client of its own, while accepting is paused. */
struct late {
	pthread_t	 thread;
	const char	*token;
	atomic_int	 opened;
	int		 rc;
	enum apikey_code code;
	int64_t		 ms;
};

static void *
late_main(void *arg)
{
	struct late	*l = arg;
	struct apikey_client *c = NULL;
	struct apikey_result *res = NULL;
	int64_t		 t0 = it_now_ms();

	/* connect() lands in the backlog; the verify waits for accept. */
	l->rc = apikey_open(it_sock_dir(), 3 * IT_DEADLINE_MS, &c);
	atomic_store(&l->opened, 1);
	if (l->rc == 0 && (l->rc = apikey_verify(c, l->token, NULL,
	    &res)) == 0)
		l->code = apikey_result_code(res);
	l->ms = it_now_ms() - t0;
	apikey_result_free(res);
	apikey_close(c);
	return NULL;
}

#define DAEMON_FDS	200
#define SQUEEZED	64
#define FLOOD_CONNS	60
#define ACCEPT_PAUSED	"verify: accept; pausing for a second: Too many " \
	"open files"

/*
 * Descriptors run out. With RLIMIT_NOFILE 64 at start the daemon does
 * not start at all, naming the least it needs. Started with 200 (68
 * connections a socket, as main.c fits them), its soft limit is then
 * cut to 64 under it, so that accept() fails with EMFILE before
 * max_connections is reached: alice's flood of 60 connections gets some
 * answered and the rest left waiting in the backlog, and the daemon
 * pauses accepting (logged) instead of spinning or dying. A root verify
 * made then is answered once the flood closes and descriptors come
 * back, and new connections are served again. One verify loop: each loop
 * past the first takes two descriptors more, which the figures would
 * have to follow.
 */
/*
 * Starts apikeyd (configured by it_prepare) with SQUEEZED descriptors and
 * expects it to refuse, naming need as the least it needs.
 */
static void
squeezed_start_refused(unsigned need)
{
	const struct it_daemon_opt o = { .prog = "/usr/bin/prlimit" };
	int		 rc;

	cr_assert(access(o.prog, X_OK) == 0, "%s (util-linux) is missing",
	    o.prog);
	it_spawn_daemon_opt(&o, (const char *const[]){ it_printf("--nofile="
	    "%d", SQUEEZED), "--", it_apikeyd_path(), "-f", "-d", "-c",
	    it_conf_path(), "--state-dir", it_state_dir(), "--socket-dir",
	    it_sock_dir(), NULL });
	rc = it_wait_daemon_exit(IT_DEADLINE_MS);
	cr_assert_eq(rc, 1, "apikeyd with %d descriptors: exit %d; log:\n%s",
	    SQUEEZED, rc, it_log());
	cr_assert_eq(itl_log_count(it_printf("only %d file descriptors "
	    "allowed; apikeyd needs at least %u", SQUEEZED, need)), 1, "%s",
	    it_log());
}

Test(load, descriptor_exhaustion_pauses_accepting_then_resumes)
{
	struct rlimit	 rl = { DAEMON_FDS, DAEMON_FDS };
	struct late	 late;
	struct it_prog	*flood;
	const char	*tok, *report;
	unsigned	 a, r, e, w;
	int		 fds;

	it_prepare("verify_threads = 1\n");
	squeezed_start_refused(96);

	/* Inherited by the daemon; the test needs no more itself. */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	it_start();
	tok = it_key(NULL, "--user", "alice", NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	fds = itl_daemon_fds();
	itl_daemon_nofile(SQUEEZED);
	cr_log_info("apikeyd holds %d descriptors; its limit is now %d", fds,
	    SQUEEZED);

	flood = itl_worker("alice", "flood", vsock(), it_printf("%d",
	    FLOOD_CONNS), NULL);
	it_prog_until(flood, "ready", REPORT_MS);
	itl_log_wait_count(ACCEPT_PAUSED, 1, IT_DEADLINE_MS);
	it_prog_say(flood, "count %d", 2 * IT_DEADLINE_MS / 10);
	report = it_prog_until(flood, "done", REPORT_MS);
	cr_assert_eq(sscanf(report, "answered %u refused %u closed %u waiting "
	    "%u", &a, &r, &e, &w), 4, "%s", report);
	cr_log_info("with %d descriptors: %s", SQUEEZED, report);
	cr_assert(r == 0 && e == 0 && a + w == FLOOD_CONNS && a > 0 && w > 0 &&
	    a <= (unsigned)(SQUEEZED - fds), "of %d connections some are "
	    "served and the rest wait for a descriptor, none refused or "
	    "dropped: %s", FLOOD_CONNS, report);
	cr_assert_eq(it_wait_daemon_exit(0), -1, "apikeyd exited");

	memset(&late, 0, sizeof(late));
	late.token = tok;
	cr_assert_eq(pthread_create(&late.thread, NULL, late_main, &late), 0);
	/* Bounded by the open's own timeout. */
	while (!atomic_load(&late.opened))
		it_msleep(5);
	it_prog_say(flood, "close");
	it_prog_until(flood, "done", REPORT_MS);
	pthread_join(late.thread, NULL);
	cr_assert(late.rc == 0 && late.code == APIKEY_VALID, "root's verify "
	    "made while descriptors ran out: %s %s", apikey_strerror(late.rc),
	    apikey_code_name(late.code));
	cr_log_info("root's verify was answered after %lld ms",
	    (long long)late.ms);
	/* Accepting goes on: a new connection is served. */
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	cr_assert_eq(it_prog_end(flood, IT_DEADLINE_MS), 0);
}

/* Each verify loop past the first takes two descriptors more (its event
 * base's epoll and wake-up descriptors): four loops need 96 + 6. */
Test(load, descriptor_need_follows_the_verify_loops)
{
	it_prepare("verify_threads = 4\n");
	squeezed_start_refused(102);
}
