/*
 * it_authz.c - who may manage what, as the daemon decides it from the
 * caller's SO_PEERCRED uid and NSS groups. Every case runs apikeyctl as a
 * fixture user through setpriv and checks the exit status (4 for a denial,
 * 5 for a key the caller may not see) and the message, and that a denied
 * request changed nothing.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

#define DENIED	"apikeyctl: permission denied: "

TestSuite(authz, .init = it_setup, .fini = it_teardown, .timeout = 90);

/*
 * Every per-key command, as user as, expecting status. A key the caller
 * may not manage is "not found" (5), word for word what a key that does
 * not exist gets, so key ids reveal nothing to others.
 */
static void
key_commands(const char *as, int status, const char *id)
{
	const char *err = status == 5 ?
	    it_printf("apikeyctl: no key with id %s\n", id) : NULL;

	it_expect(as, status, err, "key", "show", id, NULL);
	it_expect(as, status, err, "key", "update", id, "--name", "renamed",
	    NULL);
	it_expect(as, status, err, "key", "disable", id, NULL);
	it_expect(as, status, err, "key", "enable", id, NULL);
	it_expect(as, status, err, "key", "rotate", id, "--grace", "1h", "-q",
	    NULL);
	it_expect(as, status, err, "key", "revoke", id, NULL);
}

Test(authz, user_manages_own_keys)
{
	const char *tok = it_key("alice", "--name", "mine", NULL);
	struct apikey_result *res;
	const char *out;

	res = it_verify(tok, NULL);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	cr_assert_eq(apikey_result_owner_kind(res), APIKEY_OWNER_USER);
	cr_assert_eq(apikey_result_uid(res), 10001);
	cr_assert_str_eq(apikey_result_user(res), "alice");
	apikey_result_free(res);

	out = it_expect("alice", 0, NULL, "key", "list", NULL);
	it_assert_has(out, it_id(tok));
	key_commands("alice", 0, it_id(tok));
	cr_assert_eq(it_code(tok, NULL), APIKEY_NOT_FOUND);
}

Test(authz, user_cannot_manage_other_users_keys)
{
	const char *tok = it_key("alice", NULL);
	const char *out;

	it_tenant("acme", "acme", "acme-admins");
	key_commands("dave", 5, it_id(tok));
	key_commands("carol", 5, it_id(tok));
	/* A tenant admin is no admin of members' own keys. */
	key_commands("bob", 5, it_id(tok));
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	out = it_expect("dave", 0, NULL, "key", "list", NULL);
	it_assert_lacks(out, it_id(tok));
	cr_assert_eq(it_line_count(out), 1, "dave has no keys, so only the "
	    "header:\n%s", out);
}

Test(authz, user_cannot_administer)
{
	const char *tok;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--user", "bob", NULL);
	it_expect("alice", 4, DENIED, "tenant", "add", "zeta", "--group",
	    "alice", NULL);
	it_expect("alice", 4, DENIED, "tenant", "disable", "acme", NULL);
	it_expect("alice", 4, DENIED, "tenant", "enable", "acme", NULL);
	it_expect("alice", 4, DENIED, "tenant", "remove", "acme", "--force",
	    NULL);
	it_expect("alice", 4, DENIED, "key", "create", "--user", "bob", NULL);
	it_expect("alice", 4, DENIED, "key", "list", "--user", "bob", NULL);
	it_expect("alice", 4, DENIED, "audit", NULL);
	it_expect("dave", 4, DENIED, "audit", "--limit", "1", NULL);
	/* Nothing changed. */
	it_expect(NULL, 5, NULL, "tenant", "show", "zeta", NULL);
	it_assert_has(it_expect(NULL, 0, NULL, "tenant", "show", "acme", NULL),
	    "enabled: ");
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	cr_assert_eq(it_line_count(it_expect(NULL, 0, NULL, "key", "list",
	    "--user", "bob", NULL)), 2);
}

Test(authz, admin_group_member_may_do_everything)
{
	const char *tok, *out;
	struct apikey_result *res;

	it_expect("eve", 0, NULL, "tenant", "add", "acme", "--group", "acme",
	    NULL);
	it_expect("eve", 0, NULL, "tenant", "disable", "acme", NULL);
	it_expect("eve", 0, NULL, "tenant", "enable", "acme", NULL);
	tok = it_key("eve", "--user", "alice", NULL);
	res = it_verify(tok, NULL);
	cr_assert_eq(apikey_result_uid(res), 10001);
	cr_assert_str_eq(apikey_result_user(res), "alice");
	apikey_result_free(res);
	out = it_expect("eve", 0, NULL, "key", "list", "--user", "alice",
	    NULL);
	it_assert_has(out, it_id(tok));
	key_commands("eve", 0, it_id(it_key("alice", NULL)));
	tok = it_key("eve", "--tenant", "acme", NULL);
	key_commands("eve", 0, it_id(tok));
	it_assert_has(it_expect("eve", 0, NULL, "audit", NULL), "tenant.add");
	it_expect("eve", 0, NULL, "tenant", "remove", "acme", NULL);
}

Test(authz, tenant_admin_manages_that_tenant_only)
{
	const char *tok, *mine, *other, *out;
	struct apikey_result *res;

	it_tenant("acme", "acme", "acme-admins");
	it_tenant("beta", "beta", NULL);
	mine = it_key("bob", "--tenant", "acme", NULL);
	res = it_verify(mine, NULL);
	cr_assert_eq(apikey_result_owner_kind(res), APIKEY_OWNER_TENANT);
	cr_assert_str_eq(apikey_result_tenant(res), "acme");
	apikey_result_free(res);
	tok = it_key(NULL, "--tenant", "acme", NULL);
	other = it_key(NULL, "--tenant", "beta", NULL);

	out = it_expect("bob", 0, NULL, "key", "list", "--tenant", "acme",
	    NULL);
	it_assert_has(out, it_id(mine));
	it_assert_has(out, it_id(tok));
	key_commands("bob", 0, it_id(tok));

	it_expect("bob", 4, DENIED, "key", "create", "--tenant", "beta", NULL);
	it_expect("bob", 4, DENIED, "key", "list", "--tenant", "beta", NULL);
	key_commands("bob", 5, it_id(other));
	it_expect("bob", 4, DENIED, "tenant", "disable", "acme", NULL);
	it_expect("bob", 4, DENIED, "tenant", "remove", "acme", "--force",
	    NULL);
	it_expect("bob", 4, DENIED, "tenant", "add", "zeta", "--group", "bob",
	    NULL);
	it_expect("bob", 4, DENIED, "key", "create", "--user", "alice", NULL);
	cr_assert_eq(it_code(other, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(mine, NULL), APIKEY_VALID);
}

Test(authz, tenant_members_are_not_tenant_admins)
{
	const char *tok;

	it_tenant("acme", "acme", "acme-admins");
	tok = it_key(NULL, "--tenant", "acme", NULL);
	/* alice: supplementary member; carol: primary group acme. */
	it_expect("alice", 4, DENIED, "key", "create", "--tenant", "acme",
	    NULL);
	it_expect("carol", 4, DENIED, "key", "create", "--tenant", "acme",
	    NULL);
	it_expect("alice", 4, DENIED, "key", "list", "--tenant", "acme", NULL);
	it_expect("carol", 4, DENIED, "key", "list", "--tenant", "acme", NULL);
	key_commands("alice", 5, it_id(tok));
	key_commands("carol", 5, it_id(tok));
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(authz, tenant_admin_group_membership_by_primary_gid)
{
	const char *tok;

	/* gamma's admin group is acme: carol by primary gid, alice by list. */
	it_tenant("gamma", "beta", "acme");
	tok = it_key("carol", "--tenant", "gamma", NULL);
	it_key("alice", "--tenant", "gamma", NULL);
	it_expect("dave", 4, DENIED, "key", "create", "--tenant", "gamma",
	    NULL);
	key_commands("carol", 0, it_id(tok));
}

Test(authz, tenant_without_admin_group)
{
	it_tenant("beta", "beta", NULL);
	/* dave is a member of beta, which has no admin group. */
	it_expect("dave", 4, DENIED, "key", "create", "--tenant", "beta",
	    NULL);
	it_key("eve", "--tenant", "beta", NULL);
}

Test(authz, status_reports_the_caller)
{
	static const struct {
		const char	*as;
		int		 uid;
		int		 admin;
	} c[] = {
		{ "root", 0, 1 }, { "eve", 10005, 1 }, { "alice", 10001, 0 },
		{ "bob", 10002, 0 },
	};
	json_t *j;
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		j = it_json(it_expect(c[i].as, 0, NULL, "status", "--json",
		    NULL));
		cr_assert_eq(json_integer_value(json_object_get(j,
		    "caller_uid")), c[i].uid, "%s", c[i].as);
		cr_assert_eq(json_is_true(json_object_get(j, "caller_admin")),
		    c[i].admin, "%s", c[i].as);
	}
}
