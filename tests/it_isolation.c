/*
 * it_isolation.c - the verify path stays apart from everything slow:
 * thousands of verifies leave data.mdb byte for byte unchanged (no LMDB
 * write), and with every NSS lookup inside the daemon hanging on a FIFO
 * and a management request stuck in one, verifies still answer at once
 * (no NSS on the verify path, management on its own thread).
 *
 * Two things that legitimately write are kept out of the way: failure
 * throttling (these rounds fail on purpose, from one uid) is off, and the
 * use counts, written by the ledger thread every usage_flush_interval and
 * at shutdown, are not flushed during the test.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

static void
setup(void)
{
	it_prepare("throttle_failures = 0\nusage_flush_interval = 24h\n");
	it_start();
}

TestSuite(isolation, .init = setup, .fini = it_teardown, .timeout = 120);

struct fixture {
	const char	*user;		/* alice's key, doc:read */
	const char	*tenant;	/* acme's key, sshd, allowed: alice */
	const char	*off;		/* disabled */
	const char	*gone;		/* revoked */
};

static void
make_keys(struct fixture *f)
{
	it_tenant("acme", "acme", "acme-admins");
	f->user = it_key(NULL, "--user", "alice", "--permission", "doc:read",
	    NULL);
	f->tenant = it_key(NULL, "--tenant", "acme", "--service", "sshd",
	    "--allow-user", "alice", NULL);
	f->off = it_key(NULL, NULL);
	it_expect(NULL, 0, NULL, "key", "disable", it_id(f->off), NULL);
	f->gone = it_key(NULL, NULL);
	it_expect(NULL, 0, NULL, "key", "revoke", it_id(f->gone), NULL);
}

/* One round of verifies with every outcome; each must answer in time. */
static void
verify_round(const struct fixture *f)
{
	cr_assert_eq(it_code(f->user, "perm=doc:read"), APIKEY_VALID);
	cr_assert_eq(it_code(f->tenant, "svc=sshd user=alice tenant=acme"),
	    APIKEY_VALID);
	cr_assert_eq(it_code(f->gone, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(it_wrong_secret(f->user), NULL),
	    APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(f->off, NULL), APIKEY_DISABLED);
	cr_assert_eq(it_code(f->tenant, "svc=sshd user=carol"),
	    APIKEY_FORBIDDEN);
	cr_assert_eq(it_code(f->user, "perm=doc:write"),
	    APIKEY_INSUFFICIENT_PERMISSIONS);
	cr_assert_eq(it_code(it_bad_crc(f->user), NULL), APIKEY_MALFORMED);
}

Test(isolation, verify_never_writes_lmdb)
{
	const char *mdb = it_printf("%s/data.mdb", it_state_dir());
	const char *before, *after;
	size_t n1, n2, i;
	struct fixture f;
	struct it_run r;

	make_keys(&f);
	before = it_read_file(mdb, &n1);
	for (i = 0; i < 2000 / 8; i++)
		verify_round(&f);
	cr_assert_eq(it_ctl(&r, "alice", it_printf("%s\n", f.user), "verify",
	    "--user", "alice", NULL), 0, "%s", r.err);
	after = it_read_file(mdb, &n2);
	cr_assert(n1 == n2 && memcmp(before, after, n1) == 0,
	    "data.mdb changed during verifies");
}

Test(isolation, verify_answers_while_nss_hangs)
{
	struct apikey_client *fresh = NULL;
	struct apikey_result *res = NULL;
	struct fixture f;
	pid_t bg;
	int i, st;

	make_keys(&f);
	it_vclient();
	it_nss_block();

	/* No management request yet: verify alone must not touch NSS. */
	verify_round(&f);

	/* A management request that needs NSS, stuck inside the daemon. */
	bg = it_ctl_spawn(NULL, "--timeout", "60000", "key", "create",
	    "--user", "bob", "-q", NULL);
	it_nss_wait_blocked();
	for (i = 0; i < 25; i++)
		verify_round(&f);
	/* New connections are accepted too. */
	cr_assert_eq(apikey_open(it_sock_dir(), 2000, &fresh), 0);
	cr_assert_eq(apikey_verify(fresh, f.user, NULL, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	apikey_result_free(res);
	apikey_close(fresh);
	/* ... all while the management request was still waiting. */
	cr_assert_eq(it_ctl_reap(bg, 0), -1, "the management request did "
	    "not wait for NSS");
	it_nss_wait_blocked();

	it_nss_unblock();
	st = it_ctl_reap(bg, IT_DEADLINE_MS);
	cr_assert_neq(st, -1, "the management request never finished");
	/* Management works again once NSS answers. */
	it_key(NULL, "--user", "bob", NULL);
	it_key("carol", NULL);
	verify_round(&f);
}
