/*
 * it_store_limits.c - what one local user can do to the key store, and
 * what they can no longer do: fill it until root cannot revoke, own keys
 * without limit, grow the audit log without bound, make another user's
 * purge slow, or have the log report changes that never committed.
 *
 * Each test drives the real daemon through apikeyctl run as a fixture
 * user through setpriv, and checks exit statuses and messages. Each would
 * fail against the daemon before these limits existed (see the comment on
 * each).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

/* A JSON object of about 4 KiB, so a few hundred keys fill a 1 MiB map. */
static const char *
big_metadata(void)
{
	char	 pad[4000];

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	return it_printf("{\"pad\":\"%s\"}", pad);
}

static long long
status_num(const char *field)
{
	json_t	*j = it_json(it_expect(NULL, 0, NULL, "--json", "status",
	    NULL));

	cr_assert(json_is_integer(json_object_get(j, field)), "status has no "
	    "%s", field);
	return json_integer_value(json_object_get(j, field));
}

/* Number of lines of the daemon's log that contain needle. */
static size_t
log_count(const char *needle)
{
	const char	*p = it_log();
	size_t		 n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/*
 * Creates keys as user `as` until apikeyctl refuses; returns how many were
 * made, the refusal in *r. The bound only stops a runaway loop.
 */
static int
fill_as(const char *as, struct it_run *r)
{
	const char	*meta = big_metadata();
	int		 n;

	for (n = 0; n < 5000; n++)
		if (it_ctl(r, as, NULL, "key", "create", "-q", "--metadata",
		    meta, NULL) != 0)
			return n;
	cr_assert_fail("%s made 5000 keys without being stopped", as);
	return n;
}

static void
setup_small_map(void)
{
	it_prepare("map_size = 1M\nmax_keys_per_user = 0\n"
	    "throttle_failures = 0\n");
	it_start();
}

static void
setup_owner_limits(void)
{
	it_prepare("max_keys_per_user = 3\nmax_keys_per_tenant = 2\n");
	it_start();
}

static void
setup_audit_count(void)
{
	it_prepare("audit_max_entries = 5\n");
	it_start();
}

static void
setup_auto_purge(void)
{
	it_prepare("expired_key_grace = 1s\nmaintenance_interval = 100ms\n");
	it_start();
}

TestSuite(store_fill, .init = setup_small_map, .fini = it_teardown,
    .timeout = 240);
TestSuite(owner_limits, .init = setup_owner_limits, .fini = it_teardown,
    .timeout = 240);
TestSuite(audit_retention, .init = setup_audit_count, .fini = it_teardown,
    .timeout = 240);
TestSuite(purge, .init = it_setup, .fini = it_teardown, .timeout = 240);
TestSuite(auto_purge, .init = setup_auto_purge, .fini = it_teardown,
    .timeout = 240);

/*
 * Finding 1. Before: alice's creates filled the map, and then root's
 * disable, rotate and revoke of a leaked key failed with "key store is
 * full" while the key still verified VALID. Now ordinary writes stop at
 * the map limit (map_reserve), and deletes, disables and admins go on.
 */
Test(store_fill, user_cannot_deny_root_a_revoke)
{
	const char *leaked = it_key(NULL, "--user", "alice", NULL);
	const char *id = it_id(leaked);
	struct it_run r;
	long long size, limit, entries;
	json_t *ids;
	int n, i;

	n = fill_as("alice", &r);
	cr_assert_eq(r.status, 7, "refused with %d: %s", r.status, r.err);
	it_assert_has(r.err, "apikeyctl: the key store is ");
	it_assert_has(r.err, "% full: until an administrator frees space or "
	    "raises map_size, only deletes, disables and administrators may "
	    "write");
	cr_log_info("alice made %d keys before the limit", n);
	size = status_num("map_size");
	limit = status_num("map_limit");
	cr_assert_eq(size, 1 << 20);
	cr_assert_eq(limit, (1 << 20) - 256 * 1024, "the reserve is at least "
	    "256 KiB");
	cr_assert_geq(status_num("map_used"), limit);

	/*
	 * Ordinary writes of hers stay refused; disables do not, for every
	 * key she has, and they do not grow the audit log into the reserve:
	 * once the map is tight each one's record replaces the oldest. One
	 * that changes nothing writes nothing at all.
	 */
	it_expect("alice", 7, "% full", "key", "update", id, "--name", "x",
	    NULL);
	it_expect("alice", 7, "% full", "key", "rotate", id, NULL);
	entries = status_num("audit_entries");
	ids = it_json(it_expect("alice", 0, NULL, "--json", "key", "list",
	    NULL));
	cr_assert_eq(json_array_size(ids), (size_t)n + 1);
	for (i = 0; i < (int)json_array_size(ids); i++)
		it_expect("alice", 0, NULL, "key", "disable",
		    json_string_value(json_object_get(json_array_get(ids,
		    (size_t)i), "id")), NULL);
	for (i = 0; i < 50; i++)
		it_expect("alice", 0, NULL, "key", "disable", id, NULL);
	cr_assert_leq(status_num("audit_entries"), entries);
	it_expect("alice", 7, "% full", "key", "enable", id, NULL);

	/* Root can always stop the leaked key. */
	it_expect(NULL, 0, NULL, "key", "enable", id, NULL);
	it_expect(NULL, 0, NULL, "key", "disable", id, NULL);
	it_expect(NULL, 0, NULL, "key", "rotate", id, "-q", NULL);
	it_expect(NULL, 0, NULL, "key", "revoke", id, NULL);
	cr_assert_eq(it_code(leaked, NULL), APIKEY_NOT_FOUND);
	cr_assert_geq(status_num("audit_pruned"), n);
}

/*
 * Finding 10. Before, the audit line was logged before the commit: while
 * the store filled, 22,760 key.create lines were logged for 87 keys. Root
 * may write into the reserve, so here the map really runs out and creates
 * fail inside their transactions; the log must name exactly the keys that
 * exist, and each failure must be logged as one.
 */
Test(store_fill, log_names_only_committed_changes)
{
	struct it_run r;
	long long keys;
	int n;

	n = fill_as("root", &r);
	cr_assert_eq(r.status, 7, "refused with %d: %s", r.status, r.err);
	it_assert_has(r.err, "the key store is full (raise map_size in "
	    "apikeyd.conf)");
	keys = status_num("keys");
	cr_assert_eq(keys, n);
	cr_assert_eq((long long)log_count(" key.create "), keys, "%zu "
	    "key.create lines for %lld keys", log_count(" key.create "),
	    keys);
}

/*
 * Keys per owner. Before there was no limit: one user could make keys
 * until the store was full. Root and the admin group are exempt.
 */
Test(owner_limits, per_user_and_per_tenant)
{
	const char *t;
	int i;

	for (i = 0; i < 3; i++)
		t = it_key("alice", NULL);
	it_expect("alice", 7, "apikeyctl: user alice already owns 3 keys, the "
	    "most max_keys_per_user allows", "key", "create", NULL);
	it_key(NULL, "--user", "alice", NULL);
	it_key("eve", "--user", "alice", NULL);
	cr_assert_eq(it_line_count(it_expect("alice", 0, NULL, "key", "list",
	    NULL)), 6);
	/* Room again once she revokes some. */
	it_expect("alice", 0, NULL, "key", "revoke", it_id(t), NULL);
	it_expect("alice", 7, "already owns 4 keys", "key", "create", NULL);

	it_tenant("acme", "acme", "acme-admins");
	it_key("bob", "--tenant", "acme", NULL);
	it_key("bob", "--tenant", "acme", NULL);
	it_expect("bob", 7, "apikeyctl: tenant acme already owns 2 keys, the "
	    "most max_keys_per_tenant allows", "key", "create", "--tenant",
	    "acme", NULL);
	it_key(NULL, "--tenant", "acme", NULL);
	/* bob's own keys are counted apart from the tenant's. */
	it_key("bob", NULL);
}

/*
 * Finding 1: the audit log grew without bound. Now audit_max_entries
 * holds at every append, and what retention dropped is counted.
 */
Test(audit_retention, count_holds_and_pruned_entries_are_counted)
{
	const char *ids[8];
	const char *out;
	size_t i;

	for (i = 0; i < 8; i++)
		ids[i] = it_id(it_key(NULL, NULL));
	cr_assert_eq(status_num("audit_entries"), 5);
	cr_assert_eq(status_num("audit_pruned"), 3);
	out = it_expect(NULL, 0, NULL, "audit", NULL);
	/* The newest five remain, oldest first. */
	for (i = 0; i < 3; i++)
		it_assert_lacks(out, ids[i]);
	for (i = 3; i < 8; i++)
		it_assert_has(out, ids[i]);
	cr_assert_eq(it_line_count(out), 6, "header and five entries:\n%s",
	    out);
}

/*
 * Finding 5. Before, any user's purge walked every expired key of every
 * user inside one write transaction: with another user's 100,000 expired
 * keys it took 10 s and 2 GB, and purged nothing. Now it walks the
 * caller's own keys through the owner index; the daemon's debug line
 * shows how many keys it looked at.
 */
Test(purge, walks_only_the_callers_keys)
{
	const char *mine[2], *other = NULL, *live;
	int i;

	for (i = 0; i < 200; i++)
		other = it_key(NULL, "--user", "bob", "--expires", "1s", NULL);
	mine[0] = it_key("alice", "--expires", "1s", NULL);
	mine[1] = it_key("alice", "--expires", "1s", NULL);
	live = it_key("alice", NULL);
	it_wait_code(other, NULL, APIKEY_EXPIRED);
	it_wait_code(mine[1], NULL, APIKEY_EXPIRED);

	cr_assert_str_eq(it_expect("alice", 0, NULL, "key", "purge-expired",
	    NULL), "purged 2 expired keys\n");
	it_assert_has(it_log(), "purge: uid 10001 examined 3 keys, purged 2");
	cr_assert_eq(it_code(mine[0], NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(live, NULL), APIKEY_VALID);
	/* bob's were not hers to purge, and were not even looked at. */
	cr_assert_eq(it_code(other, NULL), APIKEY_EXPIRED);
	cr_assert_eq(it_line_count(it_expect(NULL, 0, NULL, "key", "list",
	    "--user", "bob", NULL)), 201);
	/* An admin's purge takes everything expired, in batches. */
	cr_assert_str_eq(it_expect(NULL, 0, NULL, "key", "purge-expired",
	    NULL), "purged 200 expired keys\n");
	cr_assert_eq(it_code(other, NULL), APIKEY_NOT_FOUND);
}

/* A tenant admin purges the tenant's expired keys along with their own. */
Test(purge, tenant_admin_purges_the_tenants_keys)
{
	const char *t, *u, *beta;

	it_tenant("acme", "acme", "acme-admins");
	it_tenant("beta", "beta", NULL);
	t = it_key(NULL, "--tenant", "acme", "--expires", "1s", NULL);
	beta = it_key(NULL, "--tenant", "beta", "--expires", "1s", NULL);
	u = it_key("bob", "--expires", "1s", NULL);
	it_wait_code(t, NULL, APIKEY_EXPIRED);
	it_wait_code(beta, NULL, APIKEY_EXPIRED);
	it_wait_code(u, NULL, APIKEY_EXPIRED);
	cr_assert_str_eq(it_expect("bob", 0, NULL, "key", "purge-expired",
	    NULL), "purged 2 expired keys\n");
	cr_assert_eq(it_code(t, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(u, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(beta, NULL), APIKEY_EXPIRED);
}

/*
 * Expired keys go by themselves once expired_key_grace has passed, each
 * with an audit record; keys that have not expired stay.
 */
Test(auto_purge, expired_keys_go_after_the_grace_period)
{
	const char *old = it_key("alice", "--expires", "1s", NULL);
	const char *live = it_key("alice", "--expires", "1h", NULL);
	const char *forever = it_key("alice", NULL);
	int64_t end = it_now_ms() + IT_DEADLINE_MS;
	struct it_run r;

	it_wait_code(old, NULL, APIKEY_EXPIRED);
	for (;;) {
		if (it_ctl(&r, NULL, NULL, "key", "show", it_id(old),
		    NULL) == 5)
			break;
		cr_assert_eq(r.status, 0, "%s", r.err);
		cr_assert(it_now_ms() < end, "the expired key is still there");
		it_msleep(100);
	}
	cr_assert_eq(it_code(old, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(live, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(forever, NULL), APIKEY_VALID);
	it_assert_has(it_expect(NULL, 0, NULL, "audit", NULL),
	    "past expired_key_grace");
	it_assert_has(it_log(), "maintenance: purged 1 keys expired for "
	    "longer than expired_key_grace");
}

/*
 * Review follow-up. A change that changes nothing is not written and not
 * audited: otherwise toggling nothing would be a free way to push older
 * entries out of the audit log.
 */
Test(purge, unchanged_key_writes_no_audit_record)
{
	const char *id = it_id(it_key("alice", NULL));
	long long before;
	int i;

	it_expect("alice", 0, NULL, "key", "disable", id, NULL);
	before = status_num("audit_entries");
	for (i = 0; i < 20; i++) {
		it_assert_has(it_expect("alice", 0, NULL, "key", "disable", id,
		    NULL), "disabled key");
		it_expect("alice", 0, NULL, "key", "show", id, NULL);
	}
	cr_assert_eq(status_num("audit_entries"), before);
	it_expect("alice", 0, NULL, "key", "enable", id, NULL);
	cr_assert_eq(status_num("audit_entries"), before + 1);
}
