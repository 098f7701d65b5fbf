/*
 * it_verify.c - every verify outcome of the real apikeyd, through
 * libapikey (codes and result accessors) and through `apikeyctl verify`
 * (exit status, first line, stdin, JSON), including the documented check
 * order when a key fails more than one check.
 *
 * Nothing here waits for a key to expire. EXPIRED, and where expiry comes
 * in the check order, are tests/unit_verify.c's, which sets the clock
 * verify reads (and also checks a past expiry against the system clock):
 * the real daemon cannot be made to skip a second, and waiting for one
 * would prove only that its clock runs. What stays here is what only the
 * real daemon shows: that the expiry --expires asks for is stamped from
 * the daemon's wall clock, which is the clock its verifies compare with.
 */
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(verify, .init = it_setup, .fini = it_teardown, .timeout = 90);

static struct apikey_key_spec *
spec_new(void)
{
	struct apikey_key_spec *s = apikey_key_spec_new();

	cr_assert_not_null(s);
	return s;
}

Test(verify, user_key_valid_with_details)
{
	struct apikey_key_spec *s = spec_new();
	struct apikey_result *res;
	struct apikey_key *key;
	const char *tok;
	time_t now = it_time();

	cr_assert_eq(apikey_key_spec_set_name(s, "ci deploy"), 0);
	cr_assert_eq(apikey_key_spec_add_permission(s, "doc:read"), 0);
	cr_assert_eq(apikey_key_spec_add_permission(s, "doc:write"), 0);
	cr_assert_eq(apikey_key_spec_set_metadata(s, "{\"team\":\"ops\"}"), 0);
	cr_assert_eq(apikey_key_spec_set_expires_in(s, 3600), 0);
	tok = it_key_lib(APIKEY_OWNER_USER, "alice", s, &key);
	apikey_key_spec_free(s);
	cr_assert_eq(strncmp(tok, "ak_", 3), 0);

	res = it_verify(tok, NULL);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	cr_assert_str_eq(apikey_result_reason(res), "");
	cr_assert_str_eq(apikey_result_key_id(res), apikey_key_id(key));
	cr_assert_str_eq(apikey_result_key_id(res), it_id(tok));
	cr_assert_str_eq(apikey_result_name(res), "ci deploy");
	cr_assert_eq(apikey_result_owner_kind(res), APIKEY_OWNER_USER);
	cr_assert_eq(apikey_result_uid(res), 10001);
	cr_assert_str_eq(apikey_result_user(res), "alice");
	cr_assert_eq(apikey_result_permission_count(res), 2);
	cr_assert_str_eq(apikey_result_permission(res, 0), "doc:read");
	cr_assert_str_eq(apikey_result_permission(res, 1), "doc:write");
	cr_assert_eq(apikey_result_allowed_user_count(res), 0);
	cr_assert(json_equal(it_json(apikey_result_metadata(res)),
	    it_json("{\"team\":\"ops\"}")));
	cr_assert_geq(apikey_result_expires_at(res), now + 3600);
	cr_assert_leq(apikey_result_expires_at(res), it_time() + 3600);
	cr_assert_eq(apikey_result_expires_at(res), apikey_key_expires_at(key));
	apikey_result_free(res);
	apikey_key_free(key);
}

Test(verify, tenant_key_valid_with_details)
{
	struct apikey_key_spec *s = spec_new();
	struct apikey_result *res;
	const char *tok;

	it_tenant("acme", "acme", "acme-admins");
	cr_assert_eq(apikey_key_spec_add_allowed_user(s, "alice"), 0);
	cr_assert_eq(apikey_key_spec_add_allowed_user(s, "carol"), 0);
	cr_assert_eq(apikey_key_spec_add_permission(s, "repo:*"), 0);
	tok = it_key_lib(APIKEY_OWNER_TENANT, "acme", s, NULL);
	apikey_key_spec_free(s);

	res = it_verify(tok, "user=carol");
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	cr_assert_eq(apikey_result_owner_kind(res), APIKEY_OWNER_TENANT);
	cr_assert_str_eq(apikey_result_tenant(res), "acme");
	cr_assert_str_eq(apikey_result_group(res), "acme");
	cr_assert_eq(apikey_result_gid(res), 20001);
	cr_assert_eq(apikey_result_permission_count(res), 1);
	cr_assert_str_eq(apikey_result_permission(res, 0), "repo:*");
	cr_assert_eq(apikey_result_allowed_user_count(res), 2);
	cr_assert_str_eq(apikey_result_allowed_user(res, 0), "alice");
	cr_assert_str_eq(apikey_result_allowed_user(res, 1), "carol");
	cr_assert_str_eq(apikey_result_metadata(res), "");
	cr_assert_eq(apikey_result_expires_at(res), 0);
	cr_assert_str_eq(apikey_result_name(res), "");
	apikey_result_free(res);
}

Test(verify, malformed)
{
	const char *tok = it_key(NULL, NULL);
	const char *bad[] = {
		"", "hello", "ak_", "ak_123_456", "AK_x_y",
		it_bad_crc(tok), it_printf("%s ", tok), it_printf("x%s", tok),
		it_printf("%.*s", (int)strlen(tok) - 1, tok), NULL
	};
	size_t i;

	for (i = 0; bad[i] != NULL; i++)
		cr_expect_eq(it_code(bad[i], NULL), APIKEY_MALFORMED,
		    "case %zu", i);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(verify, not_found)
{
	const char *tok = it_key(NULL, NULL), *gone = it_key(NULL, NULL);

	cr_assert_eq(it_code(it_wrong_secret(tok), NULL), APIKEY_NOT_FOUND);
	it_expect(NULL, 0, NULL, "key", "revoke", it_id(gone), NULL);
	cr_assert_eq(it_code(gone, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(verify, disabled)
{
	const char *tok = it_key(NULL, NULL);

	it_expect(NULL, 0, NULL, "key", "disable", it_id(tok), NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_DISABLED);
	/* The secret is checked before the enabled flag. */
	cr_assert_eq(it_code(it_wrong_secret(tok), NULL), APIKEY_NOT_FOUND);
	it_expect(NULL, 0, NULL, "key", "enable", it_id(tok), NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

/*
 * The expiry apikeyctl asks for is the daemon's wall clock plus the
 * duration: the time verify replies carry and compare against (see the
 * file comment for EXPIRED itself).
 */
Test(verify, expires_on_the_daemons_wall_clock)
{
	time_t before = it_time();
	const char *tok = it_key(NULL, "--expires", "1h", NULL);
	time_t after = it_time();
	const char *off = it_key(NULL, "--expires", "1h", NULL);
	struct it_run r;
	json_t *exp;

	cr_assert_eq(it_ctl(&r, NULL, it_printf("%s\n", tok), "--json",
	    "verify", NULL), 0, "%s", r.err);
	exp = json_object_get(json_object_get(it_json(r.out), "key"),
	    "expires_at");
	cr_assert(json_is_integer(exp), "%s", r.out);
	cr_assert_geq(json_integer_value(exp), before + 3600);
	cr_assert_leq(json_integer_value(exp), after + 3600);
	it_expect(NULL, 0, NULL, "key", "disable", it_id(off), NULL);
	cr_assert_eq(it_code(off, NULL), APIKEY_DISABLED);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(verify, tenant_disabled)
{
	const char *tok, *off;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", NULL);
	off = it_key(NULL, "--tenant", "acme", NULL);
	it_expect(NULL, 0, NULL, "key", "disable", it_id(off), NULL);
	it_expect(NULL, 0, NULL, "tenant", "disable", "acme", NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_TENANT_DISABLED);
	/* Order: enabled, then tenant enabled (then expiry: unit_verify.c,
	 * tenant_disabled_comes_after_enabled_before_expiry). */
	cr_assert_eq(it_code(off, NULL), APIKEY_DISABLED);
	cr_assert_eq(it_code(it_wrong_secret(tok), NULL), APIKEY_NOT_FOUND);
	it_expect(NULL, 0, NULL, "tenant", "enable", "acme", NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(verify, forbidden_service)
{
	const char *tok = it_key(NULL, "--service", "sshd", "--service",
	    "vsftpd", NULL);
	const char *any = it_key(NULL, NULL);

	cr_assert_eq(it_code(tok, NULL), APIKEY_FORBIDDEN);
	cr_assert_eq(it_code(tok, "svc=su"), APIKEY_FORBIDDEN);
	cr_assert_eq(it_code(tok, "svc=sshd"), APIKEY_VALID);
	cr_assert_eq(it_code(tok, "svc=vsftpd"), APIKEY_VALID);
	cr_assert_eq(it_code(any, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(any, "svc=su"), APIKEY_VALID);
}

Test(verify, forbidden_tenant)
{
	const char *tok, *user;

	it_tenant("acme", "acme", NULL);
	it_tenant("beta", "beta", NULL);
	tok = it_key(NULL, "--tenant", "acme", NULL);
	user = it_key(NULL, "--user", "alice", NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(tok, "tenant=acme"), APIKEY_VALID);
	cr_assert_eq(it_code(tok, "tenant=beta"), APIKEY_FORBIDDEN);
	cr_assert_eq(it_code(tok, "tenant=nosuch"), APIKEY_FORBIDDEN);
	cr_assert_eq(it_code(user, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(user, "tenant=acme"), APIKEY_FORBIDDEN);
}

Test(verify, forbidden_user)
{
	const char *tok, *open;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", "--allow-user", "alice", NULL);
	open = it_key(NULL, "--tenant", "acme", NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_FORBIDDEN);
	cr_assert_eq(it_code(tok, "user=carol"), APIKEY_FORBIDDEN);
	cr_assert_eq(it_code(tok, "user=alice"), APIKEY_VALID);
	cr_assert_eq(it_code(open, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(open, "user=carol"), APIKEY_VALID);
}

Test(verify, insufficient_permissions)
{
	const char *tok = it_key(NULL, "--permission", "doc:read",
	    "--permission", "doc:write", NULL);
	const char *wild = it_key(NULL, "--permission", "doc:*", NULL);
	const char *none = it_key(NULL, NULL);

	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(tok, "perm=doc:read"), APIKEY_VALID);
	cr_assert_eq(it_code(tok, "perm=doc:read perm=doc:write"),
	    APIKEY_VALID);
	cr_assert_eq(it_code(tok, "perm=doc:delete"),
	    APIKEY_INSUFFICIENT_PERMISSIONS);
	cr_assert_eq(it_code(tok, "perm=doc:read perm=img:read"),
	    APIKEY_INSUFFICIENT_PERMISSIONS);
	cr_assert_eq(it_code(tok, "perm=doc:*"),
	    APIKEY_INSUFFICIENT_PERMISSIONS);
	cr_assert_eq(it_code(wild, "perm=doc:read perm=doc:purge"),
	    APIKEY_VALID);
	cr_assert_eq(it_code(wild, "perm=docs:read"),
	    APIKEY_INSUFFICIENT_PERMISSIONS);
	cr_assert_eq(it_code(none, "perm=doc:read"),
	    APIKEY_INSUFFICIENT_PERMISSIONS);
}

Test(verify, check_order_of_restrictions)
{
	const char *both = it_key(NULL, "--service", "sshd", "--permission",
	    "doc:read", NULL);

	/* Service before permissions (expiry before both: unit_verify.c,
	 * expiry_comes_before_restrictions). */
	cr_assert_eq(it_code(both, "svc=su perm=doc:write"), APIKEY_FORBIDDEN);
	cr_assert_eq(it_code(both, "svc=sshd perm=doc:write"),
	    APIKEY_INSUFFICIENT_PERMISSIONS);
}

Test(verify, cli_codes_and_stdin)
{
	const char *tok = it_key(NULL, "--name", "cli", NULL);
	const char *off = it_key(NULL, NULL);
	const char *in = it_printf("%s\n", tok);
	struct it_run r;

	/* KEY as an argument (deliberately on the command line). */
	cr_assert_eq(it_ctl(&r, NULL, NULL, "verify", tok, NULL), 0, "%s",
	    r.err);
	cr_assert_str_eq(it_line(r.out, 0), "VALID");
	cr_assert_str_eq(it_field(r.out, "id"), it_id(tok));
	cr_assert_str_eq(it_field(r.out, "name"), "cli");
	/* "-" and no KEY read the first line of stdin. */
	cr_assert_eq(it_ctl(&r, NULL, in, "verify", "-", NULL), 0, "%s",
	    r.err);
	cr_assert_str_eq(it_line(r.out, 0), "VALID");
	cr_assert_eq(it_ctl(&r, NULL, in, "verify", NULL), 0, "%s", r.err);
	cr_assert_str_eq(it_line(r.out, 0), "VALID");
	cr_assert_eq(it_ctl(&r, "dave", in, "verify", NULL), 0, "%s", r.err);

	cr_assert_eq(it_ctl(&r, NULL, "garbage\n", "verify", NULL), 1);
	cr_assert_eq(strncmp(it_line(r.out, 0), "MALFORMED", 9), 0, "%s",
	    r.out);
	cr_assert_eq(it_ctl(&r, NULL, it_printf("%s\n", it_wrong_secret(tok)),
	    "verify", "-", NULL), 1);
	cr_assert_eq(strncmp(it_line(r.out, 0), "NOT_FOUND", 9), 0, "%s",
	    r.out);
	cr_assert_null(it_field(r.out, "id"), "details of a key whose "
	    "secret did not match:\n%s", r.out);
	it_expect(NULL, 0, NULL, "key", "disable", it_id(off), NULL);
	cr_assert_eq(it_ctl(&r, NULL, it_printf("%s\n", off), "verify", NULL),
	    1);
	cr_assert_eq(strncmp(it_line(r.out, 0), "DISABLED", 8), 0, "%s",
	    r.out);
}

Test(verify, cli_requirements)
{
	const char *tok, *in;
	struct it_run r;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", "--service", "sshd",
	    "--permission", "doc:read", "--allow-user", "alice", NULL);
	in = it_printf("%s\n", tok);
	cr_assert_eq(it_ctl(&r, NULL, in, "verify", "--service", "sshd",
	    "--tenant", "acme", "--user", "alice", "--permission", "doc:read",
	    "--rhost", "192.0.2.1", NULL), 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(it_line(r.out, 0), "VALID");
	cr_assert_eq(it_ctl(&r, NULL, in, "verify", "--service", "su",
	    "--user", "alice", NULL), 1);
	cr_assert_eq(strncmp(it_line(r.out, 0), "FORBIDDEN", 9), 0, "%s",
	    r.out);
	cr_assert_eq(it_ctl(&r, NULL, in, "verify", "--service", "sshd",
	    "--user", "alice", "--tenant", "beta", NULL), 1);
	cr_assert_eq(strncmp(it_line(r.out, 0), "FORBIDDEN", 9), 0, "%s",
	    r.out);
	cr_assert_eq(it_ctl(&r, NULL, in, "verify", "--service", "sshd",
	    "--user", "alice", "--permission", "doc:write", NULL), 1);
	cr_assert_eq(strncmp(it_line(r.out, 0), "INSUFFICIENT_PERMISSIONS",
	    24), 0, "%s", r.out);
}

Test(verify, cli_json)
{
	const char *tok = it_key(NULL, "--user", "alice", "--permission",
	    "doc:read", "--metadata", "{\"a\":1}", NULL);
	struct it_run r;
	json_t *j, *k;

	cr_assert_eq(it_ctl(&r, NULL, it_printf("%s\n", tok), "--json",
	    "verify", NULL), 0, "%s", r.err);
	j = it_json(r.out);
	cr_assert_eq(json_object_size(j), 7, "%s", r.out);
	cr_assert_str_eq(json_string_value(json_object_get(j, "code")),
	    "VALID");
	cr_assert_eq(json_integer_value(json_object_get(j, "retry_after_ms")),
	    0);
	cr_assert(json_is_null(json_object_get(j, "remaining")));
	cr_assert(json_is_true(json_object_get(j, "valid")));
	cr_assert_str_eq(json_string_value(json_object_get(j, "reason")), "");
	cr_assert(json_is_null(json_object_get(j, "authorized")));
	k = json_object_get(j, "key");
	cr_assert(json_is_object(k), "%s", r.out);
	/* id, name, owner, permissions, allowed_users, metadata, expires_at */
	cr_assert_eq(json_object_size(k), 7, "%s", r.out);
	cr_assert_str_eq(json_string_value(json_object_get(k, "id")),
	    it_id(tok));
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(k,
	    "owner"), "kind")), "user");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(k,
	    "owner"), "uid")), 10001);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(k,
	    "owner"), "user")), "alice");
	cr_assert_eq(json_array_size(json_object_get(k, "permissions")), 1);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(k,
	    "permissions"), 0)), "doc:read");
	cr_assert_eq(json_array_size(json_object_get(k, "allowed_users")), 0);
	cr_assert(json_equal(json_object_get(k, "metadata"),
	    it_json("{\"a\":1}")));
	cr_assert(json_is_null(json_object_get(k, "expires_at")));
	it_assert_no_token("verify --json", r.out);

	cr_assert_eq(it_ctl(&r, NULL, "ak_nothing\n", "verify", "--json",
	    NULL), 1);
	j = it_json(r.out);
	cr_assert_str_eq(json_string_value(json_object_get(j, "code")),
	    "MALFORMED");
	cr_assert(json_is_false(json_object_get(j, "valid")));
	cr_assert(json_is_null(json_object_get(j, "key")));
}

/*
 * The codes of the checks before the limits, as apikeyctl prints them.
 * EXPIRED, which would take a second of waiting, goes through the same
 * line (apikey_code_name, whose names unit_proto.c checks for every code);
 * the daemon's EXPIRED itself is unit_verify.c's.
 */
Test(verify, cli_every_code)
{
	static const char *const want[] = {
		"VALID", "MALFORMED", "NOT_FOUND", "DISABLED", "TENANT_DISABLED",
		"FORBIDDEN", "INSUFFICIENT_PERMISSIONS"
	};
	const char *tok[7];
	struct it_run r;
	const char *line;
	size_t i;

	it_tenant("acme", "acme", NULL);
	it_tenant("beta", "beta", NULL);
	tok[0] = it_key(NULL, "--service", "su", "--permission", "a:b", NULL);
	tok[1] = it_bad_crc(tok[0]);
	tok[2] = it_wrong_secret(tok[0]);
	tok[3] = it_key(NULL, NULL);
	it_expect(NULL, 0, NULL, "key", "disable", it_id(tok[3]), NULL);
	tok[4] = it_key(NULL, "--tenant", "beta", NULL);
	it_expect(NULL, 0, NULL, "tenant", "disable", "beta", NULL);
	tok[5] = it_key(NULL, "--tenant", "acme", "--service", "sshd", NULL);
	tok[6] = it_key(NULL, "--service", "su", NULL);
	for (i = 0; i < 7; i++) {
		cr_assert_eq(it_ctl(&r, "dave", it_printf("%s\n", tok[i]),
		    "verify", "--service", "su", "--permission", "a:b", NULL),
		    i == 0 ? 0 : 1, "%s: %s%s", want[i], r.out, r.err);
		line = it_line(r.out, 0);
		cr_assert_not_null(line, "%s: no output", want[i]);
		cr_assert(strcmp(line, want[i]) == 0 || (strncmp(line,
		    want[i], strlen(want[i])) == 0 &&
		    strncmp(line + strlen(want[i]), ": ", 2) == 0),
		    "expected %s, got %s", want[i], line);
	}
}
