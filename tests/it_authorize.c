/*
 * it_authorize.c - apikey_authorize_user() on real verify results, in this
 * process under nss_wrapper (the fixture users), and `apikeyctl verify
 * --user`, which applies the same check after a VALID answer.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(authorize, .init = it_setup, .fini = it_teardown, .timeout = 90);

static int
authorize(const char *token, const char *ctx, const char *user)
{
	struct apikey_result *res = it_verify(token, ctx);
	int rc;

	rc = apikey_authorize_user(res, user);
	apikey_result_free(res);
	return rc;
}

Test(authorize, user_key)
{
	const char *tok = it_key(NULL, "--user", "alice", NULL);

	cr_assert_eq(authorize(tok, NULL, "alice"), 0);
	cr_assert_eq(authorize(tok, NULL, "bob"), APIKEY_EDENIED);
	cr_assert_eq(authorize(tok, NULL, "root"), APIKEY_EDENIED);
	cr_assert_eq(authorize(tok, NULL, "nosuchuser"), APIKEY_ENOUSER);
}

Test(authorize, tenant_key_members)
{
	const char *tok;

	it_tenant("acme", "acme", "acme-admins");
	tok = it_key(NULL, "--tenant", "acme", NULL);
	/* alice: member list; carol: primary gid; bob: admins, not members. */
	cr_assert_eq(authorize(tok, NULL, "alice"), 0);
	cr_assert_eq(authorize(tok, NULL, "carol"), 0);
	cr_assert_eq(authorize(tok, NULL, "dave"), APIKEY_EDENIED);
	cr_assert_eq(authorize(tok, NULL, "bob"), APIKEY_EDENIED);
	cr_assert_eq(authorize(tok, NULL, "nosuchuser"), APIKEY_ENOUSER);
}

Test(authorize, tenant_key_allowed_users)
{
	const char *tok;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", "--allow-user", "carol",
	    "--allow-user", "dave", NULL);
	/* The list narrows membership; it does not replace it. */
	cr_assert_eq(authorize(tok, "user=carol", "carol"), 0);
	cr_assert_eq(authorize(tok, "user=dave", "dave"), APIKEY_EDENIED);
	cr_assert_eq(authorize(tok, "user=carol", "alice"), APIKEY_EDENIED);
}

Test(authorize, not_valid_result)
{
	const char *tok = it_key(NULL, "--user", "alice", NULL);

	it_expect(NULL, 0, NULL, "key", "disable", it_id(tok), NULL);
	cr_assert_eq(authorize(tok, NULL, "alice"), APIKEY_EINVAL);
	cr_assert_eq(authorize(it_wrong_secret(tok), NULL, "alice"),
	    APIKEY_EINVAL);
	cr_assert_eq(authorize("garbage", NULL, "alice"), APIKEY_EINVAL);
}

Test(authorize, cli_verify_user)
{
	const char *u, *t, *in;
	struct it_run r;
	json_t *j;

	it_tenant("acme", "acme", NULL);
	u = it_printf("%s\n", it_key(NULL, "--user", "alice", NULL));
	t = it_printf("%s\n", it_key(NULL, "--tenant", "acme", NULL));
	cr_assert_eq(it_ctl(&r, NULL, u, "verify", "--user", "alice", NULL), 0,
	    "%s%s", r.out, r.err);
	cr_assert_eq(it_ctl(&r, NULL, u, "verify", "--user", "bob", NULL), 1,
	    "%s%s", r.out, r.err);
	cr_assert_eq(it_ctl(&r, NULL, t, "verify", "--user", "alice", NULL), 0,
	    "%s%s", r.out, r.err);
	cr_assert_eq(it_ctl(&r, NULL, t, "verify", "--user", "carol", NULL), 0,
	    "%s%s", r.out, r.err);
	cr_assert_eq(it_ctl(&r, NULL, t, "verify", "--user", "dave", NULL), 1,
	    "%s%s", r.out, r.err);
	cr_assert_eq(it_ctl(&r, NULL, t, "verify", "--user", "nosuchuser",
	    NULL), 1, "%s%s", r.out, r.err);
	/* As a non-root caller too: NSS runs in the apikeyctl process. */
	cr_assert_eq(it_ctl(&r, "dave", t, "verify", "--user", "carol", NULL),
	    0, "%s%s", r.out, r.err);

	in = t;
	cr_assert_eq(it_ctl(&r, NULL, in, "--json", "verify", "--user", "alice",
	    NULL), 0, "%s", r.err);
	j = it_json(r.out);
	cr_assert(json_is_true(json_object_get(j, "valid")));
	cr_assert(json_is_true(json_object_get(j, "authorized")));
	cr_assert_eq(it_ctl(&r, NULL, in, "--json", "verify", "--user", "dave",
	    NULL), 1, "%s", r.err);
	j = it_json(r.out);
	cr_assert_str_eq(json_string_value(json_object_get(j, "code")),
	    "VALID");
	cr_assert(json_is_true(json_object_get(j, "valid")));
	cr_assert(json_is_false(json_object_get(j, "authorized")));
}
