/*
 * it_tenant.c - tenants: add (names, groups, duplicates), show and list in
 * text and JSON, disable and enable as seen by verify, and remove with and
 * without --force, through apikeyctl and libapikey.
 */
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(tenant, .init = it_setup, .fini = it_teardown, .timeout = 90);

Test(tenant, add_and_show)
{
	time_t before = it_time();
	const char *out;
	json_t *j;

	it_expect(NULL, 0, NULL, "tenant", "add", "acme", "--group", "acme",
	    "--admin-group", "acme-admins", NULL);
	it_key(NULL, "--tenant", "acme", NULL);
	it_key(NULL, "--tenant", "acme", NULL);
	j = it_json(it_expect(NULL, 0, NULL, "--json", "tenant", "show",
	    "acme", NULL));
	cr_assert_eq(json_object_size(j), 10, "fields: %s",
	    json_dumps(j, JSON_COMPACT));
	cr_assert(json_is_false(json_object_get(j, "allow_privileged")));
	cr_assert_str_eq(json_string_value(json_object_get(j, "name")), "acme");
	cr_assert_str_eq(json_string_value(json_object_get(j, "group")),
	    "acme");
	cr_assert_eq(json_integer_value(json_object_get(j, "gid")), 20001);
	cr_assert_str_eq(json_string_value(json_object_get(j, "admin_group")),
	    "acme-admins");
	cr_assert_eq(json_integer_value(json_object_get(j, "admin_gid")),
	    20002);
	cr_assert(json_is_true(json_object_get(j, "enabled")));
	cr_assert_eq(json_integer_value(json_object_get(j, "created_by")), 0);
	cr_assert_geq(json_integer_value(json_object_get(j, "created_at")),
	    before);
	cr_assert_leq(json_integer_value(json_object_get(j, "created_at")),
	    it_time());
	cr_assert_eq(json_integer_value(json_object_get(j, "keys")), 2);

	out = it_expect(NULL, 0, NULL, "tenant", "show", "acme", NULL);
	cr_assert_str_eq(it_field(out, "name"), "acme");
	cr_assert_str_eq(it_field(out, "group"), "acme");
	cr_assert_str_eq(it_field(out, "gid"), "20001");
	cr_assert_str_eq(it_field(out, "admin_group"), "acme-admins");
	cr_assert_str_eq(it_field(out, "keys"), "2");
}

Test(tenant, add_without_admin_group_by_admin_member)
{
	struct apikey_tenant *t = NULL;
	const char *out;
	json_t *j;

	it_expect("eve", 0, NULL, "tenant", "add", "beta", "--group", "beta",
	    NULL);
	j = it_json(it_expect(NULL, 0, NULL, "tenant", "show", "beta",
	    "--json", NULL));
	cr_assert(json_is_null(json_object_get(j, "admin_group")));
	cr_assert(json_is_null(json_object_get(j, "admin_gid")));
	cr_assert_eq(json_integer_value(json_object_get(j, "created_by")),
	    10005);
	out = it_expect(NULL, 0, NULL, "tenant", "show", "beta", NULL);
	cr_assert_str_eq(it_field(out, "admin_group"), "-");

	cr_assert_eq(apikey_tenant_show(it_aclient(), "beta", &t), 0);
	cr_assert_str_eq(apikey_tenant_name(t), "beta");
	cr_assert_str_eq(apikey_tenant_group(t), "beta");
	cr_assert_eq(apikey_tenant_gid(t), 20003);
	cr_assert_str_eq(apikey_tenant_admin_group(t), "");
	cr_assert_eq(apikey_tenant_enabled(t), 1);
	cr_assert_eq(apikey_tenant_created_by(t), 10005);
	cr_assert_eq(apikey_tenant_key_count(t), 0);
	apikey_tenant_free(t);
}

Test(tenant, add_errors)
{
	struct apikey_tenant *t = NULL;
	static const char *const bad[] = {
		"Acme", "_acme", ".acme", "ac me", "acme/x", "acme:x", "ac\xc3\xa9",
		"a23456789012345678901234567890123", NULL
	};
	size_t i;

	it_expect(NULL, 5, NULL, "tenant", "add", "acme", "--group",
	    "nosuchgroup", NULL);
	it_expect(NULL, 5, NULL, "tenant", "add", "acme", "--group", "acme",
	    "--admin-group", "nosuchgroup", NULL);
	it_expect(NULL, 0, NULL, "tenant", "add", "acme", "--group", "acme",
	    NULL);
	it_expect(NULL, 6, NULL, "tenant", "add", "acme", "--group", "beta",
	    NULL);
	for (i = 0; bad[i] != NULL; i++)
		it_expect(NULL, 7, NULL, "tenant", "add", bad[i], "--group",
		    "beta", NULL);
	cr_assert_eq(apikey_tenant_add(it_aclient(), "", "beta", NULL, &t),
	    APIKEY_EINVAL);
	/* The longest and the most varied allowed names. */
	it_expect(NULL, 0, NULL, "tenant", "add",
	    "a2345678901234567890123456789012", "--group", "beta", NULL);
	it_expect(NULL, 0, NULL, "tenant", "add", "0a.b_c-d", "--group", "beta",
	    NULL);
	cr_assert_eq(json_array_size(it_json(it_expect(NULL, 0, NULL, "tenant",
	    "list", "--json", NULL))), 3);
}

Test(tenant, list)
{
	const char *out;
	json_t *j, *e;
	size_t i;
	int seen = 0;

	cr_assert_eq(it_line_count(it_expect(NULL, 0, NULL, "tenant", "list",
	    NULL)), 1, "an empty list is the header only");
	cr_assert_eq(json_array_size(it_json(it_expect(NULL, 0, NULL, "--json",
	    "tenant", "list", NULL))), 0);
	it_tenant("acme", "acme", "acme-admins");
	it_tenant("beta", "beta", NULL);
	out = it_expect(NULL, 0, NULL, "tenant", "list", NULL);
	cr_assert_eq(it_line_count(out), 3, "%s", out);
	it_assert_has(out, "acme");
	it_assert_has(out, "beta");
	j = it_json(it_expect(NULL, 0, NULL, "--json", "tenant", "list", NULL));
	cr_assert_eq(json_array_size(j), 2);
	json_array_foreach(j, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "name")),
		    "beta") == 0) {
			cr_assert_eq(json_integer_value(json_object_get(e,
			    "gid")), 20003);
			seen++;
		}
	}
	cr_assert_eq(seen, 1);
}

Test(tenant, disable_enable)
{
	const char *tok, *out;
	json_t *j;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", NULL);
	out = it_expect(NULL, 0, NULL, "tenant", "disable", "acme", NULL);
	cr_assert_eq(it_line_count(out), 1, "%s", out);
	cr_assert_eq(it_code(tok, NULL), APIKEY_TENANT_DISABLED);
	j = it_json(it_expect(NULL, 0, NULL, "--json", "tenant", "show",
	    "acme", NULL));
	cr_assert(json_is_false(json_object_get(j, "enabled")));
	/* Disabling twice is harmless. */
	j = it_json(it_expect(NULL, 0, NULL, "--json", "tenant", "disable",
	    "acme", NULL));
	cr_assert(json_is_true(json_object_get(j, "ok")));
	it_expect(NULL, 0, NULL, "tenant", "enable", "acme", NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	it_expect(NULL, 5, NULL, "tenant", "disable", "nosuch", NULL);
	it_expect(NULL, 5, NULL, "tenant", "enable", "nosuch", NULL);
	it_expect(NULL, 5, NULL, "tenant", "show", "nosuch", NULL);
}

Test(tenant, remove_needs_force_when_keys_remain)
{
	const char *a, *b, *user, *out;

	it_tenant("acme", "acme", NULL);
	a = it_key(NULL, "--tenant", "acme", NULL);
	b = it_key(NULL, "--tenant", "acme", NULL);
	user = it_key(NULL, "--user", "alice", NULL);
	it_expect(NULL, 7, "--force", "tenant", "remove", "acme", NULL);
	cr_assert_eq(it_code(a, NULL), APIKEY_VALID);
	it_expect(NULL, 0, NULL, "tenant", "show", "acme", NULL);

	out = it_expect(NULL, 0, NULL, "tenant", "remove", "acme", "--force",
	    NULL);
	cr_assert_str_eq(out, "removed tenant acme (2 keys revoked)\n");
	cr_assert_eq(it_code(a, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(b, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(user, NULL), APIKEY_VALID);
	it_expect(NULL, 5, NULL, "tenant", "show", "acme", NULL);
	it_expect(NULL, 5, NULL, "tenant", "remove", "acme", NULL);
	it_expect(NULL, 5, NULL, "key", "show", it_id(a), NULL);

	/* A new tenant of the same name inherits nothing. */
	it_tenant("acme", "acme", NULL);
	cr_assert_eq(it_line_count(it_expect(NULL, 0, NULL, "key", "list",
	    "--tenant", "acme", NULL)), 1);
	cr_assert_eq(it_code(a, NULL), APIKEY_NOT_FOUND);
}

Test(tenant, remove_empty_and_through_libapikey)
{
	unsigned n = 99;
	const char *a;

	it_tenant("beta", "beta", NULL);
	it_assert_has(it_expect(NULL, 0, NULL, "tenant", "remove", "beta",
	    NULL), "removed tenant beta");
	it_tenant("acme", "acme", NULL);
	a = it_key(NULL, "--tenant", "acme", NULL);
	it_key(NULL, "--tenant", "acme", NULL);
	it_key(NULL, "--tenant", "acme", NULL);
	cr_assert_eq(apikey_tenant_remove(it_aclient(), "acme", 0, &n),
	    APIKEY_EINVAL);
	cr_assert_eq(n, 99, "out-parameter written on failure");
	cr_assert_eq(it_code(a, NULL), APIKEY_VALID);
	cr_assert_eq(apikey_tenant_remove(it_aclient(), "acme", 1, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(it_code(a, NULL), APIKEY_NOT_FOUND);
}

Test(tenant, keys_of_unknown_tenant)
{
	it_expect(NULL, 5, NULL, "key", "create", "--tenant", "nosuch", NULL);
	it_expect(NULL, 5, NULL, "key", "list", "--tenant", "nosuch", NULL);
	it_expect(NULL, 5, NULL, "key", "create", "--user", "nosuchuser", NULL);
}
