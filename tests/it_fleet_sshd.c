/*
 * it_fleet_sshd.c - fleet mode (issue 12) through PAM: two apikeyd hosts
 * following one private PostgreSQL cluster (harness_pg.h), host A where
 * the keys are managed and host B, the harness's own daemon, that PAM
 * asks.
 *
 * Suite fleet_sshd (issue 12, test 9): a tenant key created on A logs a
 * member of the tenant's group into a real sshd whose pam_apikey.so asks
 * B (harness_e2e.h), a non-member is denied, and once the key is revoked
 * on A and B has applied that, so is the member.
 *
 * Suite fleet_pam: with max_staleness = 5s on B and the database stopped,
 * B answers STALE for a --strict-sync key no sooner than 5 s after its
 * last sync, and pam_apikey.so (under pam_driver, harness_pam.h) turns
 * that into PAM_AUTHINFO_UNAVAIL while a key of the same tenant without
 * strict sync still authenticates; the strict key passes again once the
 * database is back.
 *
 * The fleet is harness_fleet.h's: host B is its host 0, the harness's own
 * daemon, started first (its pepper is the fleet's); host A is its host
 * 1, with state and socket directories of its own under the test's root
 * and a copy of B's pepper.
 */
#include <string.h>

#include <security/pam_appl.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "harness.h"
#include "harness_e2e.h"
#include "harness_fleet.h"
#include "harness_pam.h"
#include "harness_sshd.h"

/* B's max_staleness in the fleet_pam suite, in milliseconds. */
#define STALENESS_MS	5000
/* Deadline for B to answer STALE once the database is stopped. */
#define STALE_DEADLINE_MS	15000

/* The fleet's hosts: sshd and pam_driver ask B. */
#define HOST_B	0
#define HOST_A	1

/* --- suite fleet_sshd: a tenant key made on A, sshd asking B -------------- */

/*
 * The e2e harness, then the fleet (B is the harness's daemon, restarted
 * in fleet mode on an empty state directory, then A), the host key, and
 * sshd with ite_pam_service()'s stack, whose pam_apikey.so asks B.
 */
static void
sshd_setup(void)
{
	ite_setup();
	fleet_start(2, NULL);
	itsh_prepare("fleet");
	ite_pam_service("sshd");
	itsh_start();
}

static void
sshd_teardown(void)
{
	/* A and the database first: ite_teardown() kills every child of
	 * the test's but the daemon. */
	fleet_teardown_hosts();
	ite_teardown();
}

TestSuite(fleet_sshd, .init = sshd_setup, .fini = sshd_teardown,
    .timeout = 240);

/* user's login with token is refused, and sshd is done with it. */
static void
login_refused(const char *user, const char *token)
{
	struct ite_run r;

	itsh_login(&r, user, token, "id -un", "ERROR");
	cr_assert_eq(r.status, 255, "ssh %s: exit %d\nstdout:\n%s\nstderr:"
	    "\n%s", user, r.status, r.out, r.err);
	cr_assert_str_eq(r.out, "");
	itsh_expect_sshd(1, it_printf("Connection closed by authenticating "
	    "user %s 127.0.0.1 port ", user), NULL);
	itsh_expect_sshd(1, it_printf("PAM: Authentication failure for %s "
	    "from 127.0.0.1", user), NULL);
}

Test(fleet_sshd, tenant_key_from_a_logs_in_through_b)
{
	struct ite_run r;
	const char *token;

	fleet_tenant(HOST_A, "acme", "acme");
	token = fleet_key_acme(HOST_A, NULL, NULL);
	/* B has it through the fleet alone: nothing was made on B. */
	it_wait_code(token, NULL, APIKEY_VALID);
	fleet_wait_synced(HOST_B, IT_DEADLINE_MS);
	cr_assert_eq(ite_count_lines(fleet_log(HOST_A), it_printf(
	    "key.create %s by uid 0 ", it_id(token)), NULL), 1);
	cr_assert_eq(ite_count_lines(it_log(), it_printf("key.create %s ",
	    it_id(token)), NULL), 0, "the key was made on host B:\n%s",
	    it_log());

	/* alice is on acme's member list. */
	itsh_login(&r, "alice", token, ITSH_WHOAMI, "ERROR");
	cr_assert_eq(r.status, 0, "ssh alice: exit %d\nstdout:\n%s\nstderr:"
	    "\n%s\nsshd log:\n%s", r.status, r.out, r.err, ite_server_log());
	cr_assert_str_eq(r.out, it_printf("alice\n%u\nalice\ntenant acme acme "
	    "%s\n%s\n", (unsigned)it_uid("alice"), it_id(token),
	    ite_home("alice")), "stderr:\n%s", r.err);
	itsh_expect_sshd(1, "Accepted keyboard-interactive/pam for alice from "
	    "127.0.0.1 port ", NULL);
	/* authenticate, then the account re-check, both on B */
	itsh_expect_verifies(token, "VALID", "alice", 2);

	/* dave is not in acme: the key is valid, the module refuses him. */
	login_refused("dave", token);
	itsh_expect_verifies(token, "VALID", "dave", 1);
	itsh_expect_sshd(1, "Failed keyboard-interactive/pam for dave from "
	    "127.0.0.1 port ", NULL);

	/* Revoked on A: B applies it, and alice is refused. */
	fleet_expect(HOST_A, NULL, 0, NULL, "key", "revoke", it_id(token),
	    NULL);
	it_wait_code(token, NULL, APIKEY_NOT_FOUND);
	login_refused("alice", token);
	itsh_expect_verifies(token, "NOT_FOUND", "alice", 1);
	itsh_expect_verifies(token, "VALID", "alice", 2);
	itsh_expect_sshd(1, "Accepted keyboard-interactive/pam for alice ",
	    NULL);
	/* A never saw a verify: sshd asked B only. */
	cr_assert_eq(ite_count_lines(fleet_log(HOST_A), "verify: ", NULL), 0,
	    "host A was asked:\n%s", fleet_log(HOST_A));
	fleet_host_stop(HOST_A);
	/* ite_finish() kills every child of the test's but the daemon. */
	pg_stop();
	ite_finish();
}

/* --- suite fleet_pam: STALE through pam_driver ---------------------------- */

static void
pam_setup(void)
{
	struct fleet_opt o = { .nhosts = 2, .harness_host = HOST_B };

	o.host_conf[HOST_B] = it_printf("max_staleness = %ds\n",
	    STALENESS_MS / 1000);
	fleet_start_opt(&o);
	itp_init();
	itp_probe("sshd", NULL);
}

static void
pam_teardown(void)
{
	fleet_teardown_hosts();
	itp_teardown();
}

TestSuite(fleet_pam, .init = pam_setup, .fini = pam_teardown,
    .timeout = 180);

Test(fleet_pam, strict_key_stale_is_authinfo_unavail)
{
	const char *strict, *plain;
	int64_t low, stopped, end, now;
	enum apikey_code c;
	struct itp_run r;
	json_t *f;

	fleet_tenant(HOST_A, "acme", "acme");
	strict = fleet_key_acme(HOST_A, "--strict-sync", NULL);
	/*
	 * B's last sync before the database stops is no earlier than the
	 * one that applied the last change, which committed after low: so
	 * B may not answer STALE before low + max_staleness.
	 */
	low = it_now_ms();
	plain = fleet_key_acme(HOST_A, NULL, NULL);
	it_wait_code(plain, NULL, APIKEY_VALID);
	it_wait_code(strict, NULL, APIKEY_VALID);
	fleet_wait_synced(HOST_B, IT_DEADLINE_MS);
	cr_assert_eq(fleet_status(HOST_B).max_staleness, STALENESS_MS / 1000);
	cr_assert_eq(itp_auth("sshd", "alice", strict), PAM_SUCCESS);
	cr_assert_eq(itp_auth("sshd", "alice", plain), PAM_SUCCESS);

	pg_stop();
	stopped = it_now_ms();
	end = stopped + STALE_DEADLINE_MS;
	for (;;) {
		c = it_code(strict, NULL);
		now = it_now_ms();
		if (c == APIKEY_STALE)
			break;
		cr_assert_eq(c, APIKEY_VALID, "the strict key answered %s",
		    apikey_code_name(c));
		cr_assert_eq(it_code(plain, NULL), APIKEY_VALID);
		cr_assert(now < end, "the strict key still answers VALID %d ms "
		    "after the database stopped", STALE_DEADLINE_MS);
		it_msleep(50);
	}
	cr_log_info("STALE %lld ms after the last change, %lld ms after the "
	    "database stopped", (long long)(now - low),
	    (long long)(now - stopped));
	cr_assert_gt(now - low, STALENESS_MS, "STALE %lld ms after a sync "
	    "(max_staleness %d ms)", (long long)(now - low), STALENESS_MS);
	f = fleet_status_json(HOST_B, NULL);
	cr_assert(json_is_false(json_object_get(f, "connected")),
	    "host B still connected: %s", it_keep(json_dumps(f,
	    JSON_COMPACT)));

	/* The strict key cannot be checked here now: an outage, not a
	 * refusal. The other key goes on. */
	itp_run(&r, strict, "sshd", "alice", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTHINFO_UNAVAIL,
	    "stdout:\n%s\nstderr:\n%s", r.out, r.err);
	/* Logged at LOG_ERR, which pam_wrapper shows as PWRAP_ERROR. */
	cr_assert_eq(ite_count_lines(r.err, "PWRAP_ERROR", it_printf(
	    "authentication failed for user 'alice' service sshd rhost -: key "
	    "%s STALE (strict sync: this host last synced with the fleet "
	    "database ", it_id(strict)), it_printf(" s ago (max_staleness %d "
	    "s))", STALENESS_MS / 1000), NULL), 1, "stderr:\n%s", r.err);
	cr_assert_eq(itp_auth("sshd", "alice", plain), PAM_SUCCESS);
	cr_assert_eq(itp_auth("sshd", "dave", plain), PAM_AUTH_ERR);
	ite_expect_lines(it_log_path(), 1, it_printf("verify: STALE key %s ",
	    it_id(strict)), " service 'sshd' user 'alice'");

	/* The database is back: B syncs again, and the key passes. */
	pg_restart();
	it_wait_code(strict, NULL, APIKEY_VALID);
	cr_assert_eq(itp_auth("sshd", "alice", strict), PAM_SUCCESS);
	fleet_host_stop(HOST_A);
}
