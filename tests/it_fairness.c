/*
 * it_fairness.c - shared in-memory state that one party must not be able
 * to turn against another: the rate-limit windows (findings 2) and the
 * failure throttle (finding 3) of the security review.
 *
 * The rate table is made small (rate_windows = 16) so that one owner can
 * fill it with a few keys; the daemon before the fix refused every
 * rate-limited key of every owner once its (larger) table was full. The
 * throttle tests reproduce the review's three ways of aiming it: naming
 * someone else's remote host, failing su as a user (su verifies as root
 * without a remote host), and a service relaying bad keys for many
 * clients; before the fix each one made a valid key answer RATE_LIMITED.
 */
#include <string.h>

#include <security/pam_appl.h>

#include <criterion/criterion.h>

#include "harness_pam.h"
#include "harness_usage.h"

#define ANY	(-1)	/* itu_expect: whatever credits the reply has */

static void
setup_small_rate_table(void)
{
	it_prepare("rate_windows = 16\nthrottle_failures = 0\n");
	it_start();
}

/* Three failures throttle a source for a minute: long enough to still be
 * backing off when the valid key comes. */
static const char throttle_conf[] = "throttle_failures = 3\n"
    "throttle_window = 60s\nthrottle_backoff = 60s\n";

static void
setup_throttle(void)
{
	it_prepare(throttle_conf);
	it_start();
}

static void
setup_throttle_pam(void)
{
	setup_throttle();
	itp_init();
}

TestSuite(rate_table, .init = setup_small_rate_table, .fini = it_teardown,
    .timeout = 120);
TestSuite(throttle_aim, .init = setup_throttle, .fini = it_teardown,
    .timeout = 120);
TestSuite(throttle_aim_pam, .init = setup_throttle_pam,
    .fini = itp_teardown, .timeout = 120);

static void
expect_reason(const char *token, enum apikey_code want, const char *reason)
{
	struct apikey_result *res = it_verify(token, NULL);

	cr_assert_eq(apikey_result_code(res), want, "%s: %s",
	    apikey_code_name(apikey_result_code(res)),
	    apikey_result_reason(res));
	if (reason != NULL)
		cr_assert_str_eq(apikey_result_reason(res), reason);
	apikey_result_free(res);
}

/*
 * dave fills the table with windows of his own keys; his next key is
 * refused (only he degrades), while root's and a tenant's rate-limited
 * keys still get windows, and still count against their own limits.
 */
Test(rate_table, one_owner_cannot_take_other_owners_windows)
{
	static const char full[] = "too many rate windows in use by this "
	    "key's owner; retry later";
	const char *daves[18], *roots, *tenants;
	int i, evicted = 0;

	it_tenant("acme", "acme", NULL);
	roots = it_key(NULL, "--rate", "3/1d", NULL);
	tenants = it_key(NULL, "--tenant", "acme", "--rate", "3/1d", NULL);
	for (i = 0; i < 18; i++)
		daves[i] = it_key("dave", "--rate", "1/1d", NULL);
	for (i = 0; i < 16; i++)
		expect_reason(daves[i], APIKEY_VALID, NULL);
	expect_reason(daves[16], APIKEY_RATE_LIMITED, full);

	for (i = 0; i < 3; i++) {
		expect_reason(roots, APIKEY_VALID, NULL);
		expect_reason(tenants, APIKEY_VALID, NULL);
	}
	/* Their windows are real: the fourth verify is over the limit. */
	expect_reason(roots, APIKEY_RATE_LIMITED,
	    "rate limit of 3 per 86400000 ms reached");
	expect_reason(tenants, APIKEY_RATE_LIMITED,
	    "rate limit of 3 per 86400000 ms reached");
	/* dave, holding the most windows, is still the one refused. */
	expect_reason(daves[17], APIKEY_RATE_LIMITED, full);
	/* He gave up exactly the two windows root and the tenant took; the
	 * rest still hold his keys to their limit. */
	for (i = 0; i < 16; i++) {
		struct apikey_result *res = it_verify(daves[i], NULL);

		cr_assert_eq(apikey_result_code(res), APIKEY_RATE_LIMITED);
		if (strcmp(apikey_result_reason(res), full) == 0)
			evicted++;
		else
			cr_assert_str_eq(apikey_result_reason(res),
			    "rate limit of 1 per 86400000 ms reached");
		apikey_result_free(res);
	}
	cr_assert_eq(evicted, 2);
}

/* A valid key of root's, and a bad one for the same failing source. */
struct pair {
	const char	*tok;
	const char	*bad;
};

static struct pair
root_key(void)
{
	struct pair	 p;

	p.tok = it_key(NULL, NULL);
	p.bad = it_wrong_secret(p.tok);
	return p;
}

/*
 * alice's bad verifies naming 10.9.9.9 used to make root's valid key
 * answer RATE_LIMITED from that address. Now her failures count for the
 * pair (alice, 10.9.9.9) only, and no failure refuses a valid key.
 */
Test(throttle_aim, a_user_cannot_throttle_roots_remote_host)
{
	struct pair k = root_key();
	int i;

	for (i = 0; i < 3; i++)
		cr_assert_eq(itu_json_code(itu_ctl_verify("alice", k.bad,
		    "--rhost", "10.9.9.9", NULL)), APIKEY_NOT_FOUND);
	for (i = 0; i < 20; i++)
		cr_assert_eq(itu_json_code(itu_ctl_verify("alice", k.bad,
		    "--rhost", "10.9.9.9", NULL)), APIKEY_RATE_LIMITED);
	itu_expect(k.tok, "svc=sshd rhost=10.9.9.9", APIKEY_VALID, ANY);
	itu_expect(k.bad, "svc=sshd rhost=10.9.9.9", APIKEY_NOT_FOUND, ANY);
	/* Even alice's own valid verify from there is served. */
	cr_assert_eq(itu_json_code(itu_ctl_verify("alice", k.tok, "--rhost",
	    "10.9.9.9", NULL)), APIKEY_VALID);
}

/*
 * A service (alice) relays bad keys for 20 clients at 20 addresses; its
 * other clients, and those same addresses with a valid key, are served.
 */
Test(throttle_aim, relayed_failures_do_not_lock_out_the_relays_clients)
{
	struct pair k = root_key();
	int i, j;

	for (i = 1; i <= 20; i++)
		for (j = 0; j < 4; j++)
			cr_assert_neq(itu_json_code(itu_ctl_verify("alice",
			    k.bad, "--rhost", it_printf("192.0.2.%d", i),
			    NULL)), APIKEY_VALID);
	cr_assert_eq(itu_json_code(itu_ctl_verify("alice", k.tok, "--rhost",
	    "192.0.2.77", NULL)), APIKEY_VALID);
	cr_assert_eq(itu_json_code(itu_ctl_verify("alice", k.tok, "--rhost",
	    "192.0.2.1", NULL)), APIKEY_VALID);
	cr_assert_eq(itu_json_code(itu_ctl_verify("alice", k.bad, "--rhost",
	    "192.0.2.77", NULL)), APIKEY_NOT_FOUND);
}

/*
 * With pam_apikey stacked into su, an ordinary user's failed su attempts
 * are verifies by uid 0 without a remote host: 22 of them used to
 * throttle root's own valid key for a minute, again and again.
 */
Test(throttle_aim_pam, failed_su_attempts_do_not_lock_out_root)
{
	struct pair k = root_key();
	int i;

	itp_probe("su", NULL);
	for (i = 0; i < 25; i++)
		cr_assert_eq(itp_auth("su", "root", k.bad), PAM_AUTH_ERR);
	cr_assert_eq(itp_auth("su", "root", k.tok), PAM_SUCCESS);
	/* The failing source itself is throttled: its failures now read
	 * RATE_LIMITED in the log, and stay refused. */
	cr_assert_eq(itp_auth("su", "root", k.bad), PAM_AUTH_ERR);
	it_assert_has(it_log(), it_printf("verify: RATE_LIMITED key %s",
	    it_id(k.tok)));
	it_assert_has(it_log(), "too many failed verifies from this source");
}
