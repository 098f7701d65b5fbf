/*
 * it_cli.c - apikeyctl against docs/cli.md: output forms (-q, text, JSON
 * with the documented fields), listings that never show a token, the audit
 * log, purge-expired, key update touching only what it names, global
 * options, and the exit status of each kind of failure.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(cli, .init = it_setup, .fini = it_teardown, .timeout = 90);

static const char *const key_fields[] = {
	"id", "prefix", "name", "owner", "enabled", "created_by", "created_at",
	"updated_at", "expires_at", "grace_until", "services", "permissions",
	"allowed_users", "metadata", "rate_limit", "credits", "allowed_cidrs",
	"last_used", "use_count", "strict_sync", NULL
};

/* Asserts that j has exactly the documented fields of a key. */
static void
assert_key_fields(json_t *j)
{
	size_t i;

	cr_assert(json_is_object(j));
	for (i = 0; key_fields[i] != NULL; i++)
		cr_assert_not_null(json_object_get(j, key_fields[i]),
		    "key without \"%s\"", key_fields[i]);
	cr_assert_eq(json_object_size(j), i, "a key has %zu fields, "
	    "documented are %zu", json_object_size(j), i);
}

static const char *
jstr(json_t *j, const char *k)
{
	cr_assert(json_is_string(json_object_get(j, k)), "\"%s\" is no "
	    "string", k);
	return json_string_value(json_object_get(j, k));
}

static json_t *
show(const char *id)
{
	return it_json(it_expect(NULL, 0, NULL, "--json", "key", "show", id,
	    NULL));
}

Test(cli, create_quiet_prints_only_the_token)
{
	struct it_run r;

	cr_assert_eq(it_ctl(&r, "alice", NULL, "key", "create", "-q", NULL), 0,
	    "%s", r.err);
	cr_assert_str_eq(r.err, "");
	cr_assert_eq(it_line_count(r.out), 1);
	cr_assert_eq(strlen(r.out), 2 + 1 + 11 + 1 + 49 + 1, "%s", r.out);
	cr_assert_eq(strncmp(r.out, "ak_", 3), 0);
	cr_assert_eq(it_code(it_line(r.out, 0), NULL), APIKEY_VALID);
}

Test(cli, create_text)
{
	struct it_run r;
	const char *tok;

	cr_assert_eq(it_ctl(&r, "alice", NULL, "key", "create", "--name", "t1",
	    NULL), 0, "%s", r.err);
	tok = it_field(r.out, "token");
	cr_assert_not_null(tok, "%s", r.out);
	cr_assert_str_eq(it_field(r.out, "id"), it_id(tok));
	cr_assert_str_eq(it_field(r.out, "prefix"), "ak");
	cr_assert_str_eq(it_field(r.out, "name"), "t1");
	cr_assert_str_eq(it_field(r.out, "created_by"), "10001");
	cr_assert_str_eq(it_field(r.out, "expires_at"), "never");
	cr_assert_str_eq(r.err, "Store this token now: it is shown only "
	    "once.\n");
	/* The token line is the last line. */
	cr_assert_str_eq(it_line(r.out, it_line_count(r.out) - 1),
	    it_printf("token: %s", tok));
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(cli, create_json)
{
	struct it_run r;
	json_t *j, *k, *o;
	const char *tok;
	time_t now = it_time();

	cr_assert_eq(it_ctl(&r, "alice", NULL, "--json", "key", "create",
	    "--prefix", "svc", NULL), 0, "%s", r.err);
	j = it_json(r.out);
	cr_assert_eq(json_object_size(j), 2);
	tok = jstr(j, "token");
	k = json_object_get(j, "key");
	assert_key_fields(k);
	cr_assert_eq(strncmp(tok, it_printf("svc_%s_", jstr(k, "id")),
	    3 + 1 + 11 + 1), 0);
	cr_assert_str_eq(jstr(k, "prefix"), "svc");
	cr_assert_str_eq(jstr(k, "name"), "");
	o = json_object_get(k, "owner");
	cr_assert_eq(json_object_size(o), 3);
	cr_assert_str_eq(jstr(o, "kind"), "user");
	cr_assert_eq(json_integer_value(json_object_get(o, "uid")), 10001);
	cr_assert_str_eq(jstr(o, "user"), "alice");
	cr_assert(json_is_true(json_object_get(k, "enabled")));
	cr_assert_eq(json_integer_value(json_object_get(k, "created_by")),
	    10001);
	cr_assert_geq(json_integer_value(json_object_get(k, "created_at")),
	    now);
	cr_assert(json_is_null(json_object_get(k, "expires_at")));
	cr_assert(json_is_null(json_object_get(k, "grace_until")));
	cr_assert(json_is_null(json_object_get(k, "metadata")));
	cr_assert_eq(json_array_size(json_object_get(k, "services")), 0);
	cr_assert_eq(json_array_size(json_object_get(k, "permissions")), 0);
	cr_assert_eq(json_array_size(json_object_get(k, "allowed_users")), 0);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);

	it_tenant("acme", "acme", NULL);
	cr_assert_eq(it_ctl(&r, NULL, NULL, "key", "create", "--tenant",
	    "acme", "--json", "--expires", "1h", "--service", "sshd",
	    "--metadata", "{\"n\":1}", NULL), 0, "%s", r.err);
	k = json_object_get(it_json(r.out), "key");
	assert_key_fields(k);
	o = json_object_get(k, "owner");
	cr_assert_eq(json_object_size(o), 4);
	cr_assert_str_eq(jstr(o, "kind"), "tenant");
	cr_assert_str_eq(jstr(o, "tenant"), "acme");
	cr_assert_str_eq(jstr(o, "group"), "acme");
	cr_assert_eq(json_integer_value(json_object_get(o, "gid")), 20001);
	cr_assert_geq(json_integer_value(json_object_get(k, "expires_at")),
	    now + 3600);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(k,
	    "services"), 0)), "sshd");
	cr_assert(json_equal(json_object_get(k, "metadata"),
	    it_json("{\"n\":1}")));
}

Test(cli, listings_never_show_a_token)
{
	const char *a, *b, *c, *out;
	json_t *j, *e;
	size_t i;

	it_tenant("acme", "acme", "acme-admins");
	a = it_key("alice", "--name", "one", NULL);
	b = it_key("alice", "--name", "two", NULL);
	c = it_key("bob", "--tenant", "acme", NULL);
	it_expect(NULL, 0, NULL, "key", "rotate", it_id(b), "--grace", "1h",
	    NULL);

	out = it_expect("alice", 0, NULL, "key", "list", NULL);
	cr_assert_eq(it_line_count(out), 3, "%s", out);
	it_assert_has(out, it_id(a));
	it_assert_has(out, it_id(b));
	it_assert_no_token("key list", out);
	j = it_json(it_expect("alice", 0, NULL, "key", "list", "--json",
	    NULL));
	cr_assert_eq(json_array_size(j), 2);
	json_array_foreach(j, i, e)
		assert_key_fields(e);
	it_assert_no_token("key list --json", it_keep(json_dumps(j, 0)));
	out = it_expect(NULL, 0, NULL, "key", "list", "--user", "alice", NULL);
	it_assert_no_token("key list --user", out);
	out = it_expect("bob", 0, NULL, "key", "list", "--tenant", "acme",
	    "--json", NULL);
	it_assert_no_token("key list --tenant --json", out);
	it_assert_has(out, it_id(c));
	out = it_expect(NULL, 0, NULL, "key", "show", it_id(b), NULL);
	it_assert_no_token("key show", out);
	it_assert_lacks(out, "token");
	it_assert_lacks(out, "hash");
	out = it_expect(NULL, 0, NULL, "--json", "key", "show", it_id(b), NULL);
	assert_key_fields(it_json(out));
	it_assert_no_token("key show --json", out);
	it_assert_no_token("audit", it_expect(NULL, 0, NULL, "audit", NULL));
	it_assert_no_token("audit --json", it_expect(NULL, 0, NULL, "audit",
	    "--json", NULL));
}

struct want {
	const char	*action;
	const char	*target;
	int		 uid;
};

Test(cli, audit_in_order_without_tokens)
{
	const char *a, *b, *c, *d;
	struct want w[16];
	size_t n = 0, i;
	json_t *j, *e;
	int64_t seq = -1, t0 = it_time();

	it_expect(NULL, 0, NULL, "tenant", "add", "acme", "--group", "acme",
	    "--admin-group", "acme-admins", NULL);
	w[n++] = (struct want){ "tenant.add", "acme", 0 };
	a = it_key("bob", "--tenant", "acme", NULL);
	w[n++] = (struct want){ "key.create", it_id(a), 10002 };
	it_expect(NULL, 0, NULL, "key", "update", it_id(a), "--name", "x",
	    NULL);
	w[n++] = (struct want){ "key.update", it_id(a), 0 };
	it_expect(NULL, 0, NULL, "key", "disable", it_id(a), NULL);
	w[n++] = (struct want){ "key.disable", it_id(a), 0 };
	it_expect("bob", 0, NULL, "key", "enable", it_id(a), NULL);
	w[n++] = (struct want){ "key.enable", it_id(a), 10002 };
	it_expect(NULL, 0, NULL, "key", "rotate", it_id(a), NULL);
	w[n++] = (struct want){ "key.rotate", it_id(a), 0 };
	b = it_key("alice", "--expires", "1s", NULL);
	w[n++] = (struct want){ "key.create", it_id(b), 10001 };
	it_wait_code(b, NULL, APIKEY_EXPIRED);
	it_expect(NULL, 0, NULL, "key", "purge-expired", NULL);
	w[n++] = (struct want){ "key.purge", it_id(b), 0 };
	it_expect(NULL, 0, NULL, "key", "revoke", it_id(a), NULL);
	w[n++] = (struct want){ "key.revoke", it_id(a), 0 };
	it_expect("eve", 0, NULL, "tenant", "disable", "acme", NULL);
	w[n++] = (struct want){ "tenant.disable", "acme", 10005 };
	it_expect(NULL, 0, NULL, "tenant", "enable", "acme", NULL);
	w[n++] = (struct want){ "tenant.enable", "acme", 0 };
	it_expect(NULL, 0, NULL, "tenant", "remove", "acme", NULL);
	w[n++] = (struct want){ "tenant.remove", "acme", 0 };

	j = it_json(it_expect(NULL, 0, NULL, "audit", "--json", NULL));
	cr_assert_eq(json_array_size(j), n, "%s", it_keep(json_dumps(j, 0)));
	json_array_foreach(j, i, e) {
		cr_assert_eq(json_object_size(e), 7);
		cr_assert_str_eq(jstr(e, "action"), w[i].action, "entry %zu",
		    i);
		cr_assert_str_eq(jstr(e, "target"), w[i].target, "entry %zu",
		    i);
		cr_assert_eq(json_integer_value(json_object_get(e, "uid")),
		    w[i].uid, "entry %zu", i);
		cr_assert_gt(json_integer_value(json_object_get(e, "pid")), 0);
		cr_assert_gt(json_integer_value(json_object_get(e, "seq")), seq);
		seq = json_integer_value(json_object_get(e, "seq"));
		cr_assert_geq(json_integer_value(json_object_get(e, "time")),
		    t0);
		cr_assert_leq(json_integer_value(json_object_get(e, "time")),
		    it_time());
		cr_assert(json_is_string(json_object_get(e, "detail")));
	}
	/* --limit keeps the newest, oldest first. */
	j = it_json(it_expect(NULL, 0, NULL, "audit", "--limit", "2", "--json",
	    NULL));
	cr_assert_eq(json_array_size(j), 2);
	cr_assert_str_eq(jstr(json_array_get(j, 0), "action"),
	    "tenant.enable");
	cr_assert_str_eq(jstr(json_array_get(j, 1), "action"),
	    "tenant.remove");
	a = it_expect(NULL, 0, NULL, "audit", NULL);
	cr_assert_eq(it_line_count(a), n + 1, "%s", a);
	it_assert_has(it_line(a, 1), "tenant.add");
	it_assert_has(it_line(a, n), "tenant.remove");

	/* A forced removal revokes each key with its own record. */
	it_tenant("beta", "beta", NULL);
	c = it_key(NULL, "--tenant", "beta", NULL);
	d = it_key(NULL, "--tenant", "beta", NULL);
	it_expect(NULL, 0, NULL, "tenant", "remove", "beta", "--force", NULL);
	j = it_json(it_expect(NULL, 0, NULL, "audit", "--limit", "3", "--json",
	    NULL));
	cr_assert_eq(json_array_size(j), 3);
	n = 0;
	json_array_foreach(j, i, e) {
		a = it_printf("%s %s", jstr(e, "action"), jstr(e, "target"));
		if (strcmp(a, "tenant.remove beta") == 0 ||
		    strcmp(a, it_printf("key.revoke %s", it_id(c))) == 0 ||
		    strcmp(a, it_printf("key.revoke %s", it_id(d))) == 0)
			n++;
	}
	cr_assert_eq(n, 3, "%s", it_keep(json_dumps(j, 0)));
	it_assert_no_token("audit", it_expect(NULL, 0, NULL, "audit", NULL));
	it_assert_no_token("audit --json", it_expect(NULL, 0, NULL, "audit",
	    "--json", NULL));
}

Test(cli, purge_expired)
{
	const char *a = it_key(NULL, "--expires", "1s", NULL);
	const char *b = it_key("alice", "--expires", "1s", NULL);
	const char *c = it_key(NULL, "--expires", "1h", NULL);
	const char *d = it_key(NULL, NULL);
	unsigned n = 99;
	json_t *j;

	it_wait_code(a, NULL, APIKEY_EXPIRED);
	it_wait_code(b, NULL, APIKEY_EXPIRED);
	cr_assert_str_eq(it_expect(NULL, 0, NULL, "key", "purge-expired",
	    NULL), "purged 2 expired keys\n");
	cr_assert_eq(it_code(a, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(b, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(c, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(d, NULL), APIKEY_VALID);
	it_expect(NULL, 5, NULL, "key", "show", it_id(a), NULL);
	j = it_json(it_expect(NULL, 0, NULL, "--json", "key", "purge-expired",
	    NULL));
	cr_assert(json_is_true(json_object_get(j, "ok")));
	cr_assert_eq(apikey_key_purge_expired(it_aclient(), &n), 0);
	cr_assert_eq(n, 0);
}

Test(cli, update_changes_only_given_settings)
{
	const char *tok, *id;
	json_t *before, *after;
	time_t now = it_time();

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--tenant", "acme", "--name", "n1", "--service",
	    "sshd", "--permission", "a:b", "--allow-user", "alice",
	    "--metadata", "{\"x\":1}", "--expires", "1d", NULL);
	id = it_id(tok);

	before = show(id);
	it_expect(NULL, 0, NULL, "key", "update", id, "--name", "n2", NULL);
	after = show(id);
	cr_assert_str_eq(jstr(after, "name"), "n2");
	json_object_set_new(before, "name", json_string("n2"));
	json_object_del(before, "updated_at");
	json_object_del(after, "updated_at");
	cr_assert(json_equal(before, after), "%s\n%s", json_dumps(before, 0),
	    json_dumps(after, 0));

	it_expect(NULL, 0, NULL, "key", "update", id, "--permission", "c:d",
	    "--permission", "e:f", NULL);
	after = show(id);
	cr_assert_eq(json_array_size(json_object_get(after, "permissions")), 2);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(after,
	    "permissions"), 0)), "c:d");
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(after,
	    "services"), 0)), "sshd");
	cr_assert_eq(it_code(tok, "svc=sshd user=alice perm=a:b"),
	    APIKEY_INSUFFICIENT_PERMISSIONS);
	cr_assert_eq(it_code(tok, "svc=sshd user=alice perm=e:f"),
	    APIKEY_VALID);

	it_expect(NULL, 0, NULL, "key", "update", id, "--no-services",
	    "--allow-user", "carol", "--metadata", "", "--expires", "never",
	    NULL);
	after = show(id);
	cr_assert_eq(json_array_size(json_object_get(after, "services")), 0);
	cr_assert_eq(json_array_size(json_object_get(after, "allowed_users")),
	    1);
	cr_assert(json_is_null(json_object_get(after, "metadata")));
	cr_assert(json_is_null(json_object_get(after, "expires_at")));
	cr_assert_eq(json_array_size(json_object_get(after, "permissions")), 2);
	cr_assert_str_eq(jstr(after, "name"), "n2");
	cr_assert_eq(it_code(tok, "svc=su user=carol"), APIKEY_VALID);
	cr_assert_eq(it_code(tok, "svc=su user=alice"), APIKEY_FORBIDDEN);

	it_expect(NULL, 0, NULL, "key", "update", id, "--no-permissions",
	    "--no-allow-users", "--expires", "1h", NULL);
	after = show(id);
	cr_assert_eq(json_array_size(json_object_get(after, "permissions")), 0);
	cr_assert_eq(json_array_size(json_object_get(after, "allowed_users")),
	    0);
	cr_assert_geq(json_integer_value(json_object_get(after, "expires_at")),
	    now + 3600);
	cr_assert_leq(json_integer_value(json_object_get(after, "expires_at")),
	    it_time() + 3600);
	cr_assert_eq(it_code(tok, "user=dave"), APIKEY_VALID);
}

/*
 * --strict-sync marks a key for fleet mode. A single host keeps and shows
 * the flag and verifies the key as any other. The text shows it only when
 * set (a line of key show, a column of key list when some key has it),
 * JSON always.
 */
Test(cli, strict_sync_is_kept_and_shown)
{
	const char *tok, *id, *other, *out, *line, *want;
	size_t i;

	other = it_key(NULL, "--name", "plain", NULL);
	tok = it_key(NULL, "--name", "strict", "--strict-sync", NULL);
	id = it_id(tok);
	out = it_expect(NULL, 0, NULL, "key", "show", id, NULL);
	cr_assert_str_eq(it_field(out, "strict_sync"), "yes");
	it_assert_has(out, "metadata: -\nstrict_sync: yes\nrate_limit: -\n");
	cr_assert(json_is_true(json_object_get(show(id), "strict_sync")));
	cr_assert(json_is_false(json_object_get(show(it_id(other)),
	    "strict_sync")));
	cr_assert_null(it_field(it_expect(NULL, 0, NULL, "key", "show",
	    it_id(other), NULL), "strict_sync"));
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);

	out = it_expect(NULL, 0, NULL, "key", "list", NULL);
	cr_assert_eq(it_line_count(out), 3);
	it_assert_has(it_line(out, 0), "  REMAINING  STRICT-SYNC");
	for (i = 1; i < 3; i++) {
		line = it_line(out, i);
		want = strncmp(line, id, strlen(id)) == 0 ? "yes" : "no";
		cr_assert_str_eq(line + strlen(line) - strlen(want), want,
		    "%s", out);
	}

	it_expect(NULL, 2, "apikeyctl: --strict-sync and --no-strict-sync "
	    "exclude each other\n", "key", "update", id, "--strict-sync",
	    "--no-strict-sync", NULL);
	it_expect(NULL, 2, NULL, "key", "create", "--no-strict-sync", NULL);
	out = it_expect(NULL, 0, NULL, "key", "update", id, "--no-strict-sync",
	    NULL);
	cr_assert_null(it_field(out, "strict_sync"));
	cr_assert_str_eq(it_field(out, "name"), "strict");
	cr_assert(json_is_false(json_object_get(show(id), "strict_sync")));
	it_assert_lacks(it_line(it_expect(NULL, 0, NULL, "key", "list", NULL),
	    0), "STRICT-SYNC");

	it_expect(NULL, 0, NULL, "key", "update", id, "--strict-sync", NULL);
	cr_assert(json_is_true(json_object_get(show(id), "strict_sync")));
	/* Other updates leave it as it is. */
	it_expect(NULL, 0, NULL, "key", "update", id, "--name", "again", NULL);
	cr_assert(json_is_true(json_object_get(show(id), "strict_sync")));
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(cli, update_through_libapikey)
{
	const char *tok = it_key(NULL, "--name", "old", "--permission", "a:b",
	    NULL);
	struct apikey_key_spec *s = apikey_key_spec_new();
	struct apikey_key *key = NULL;

	cr_assert_eq(apikey_key_spec_set_name(s, "new"), 0);
	cr_assert_eq(apikey_key_update(it_aclient(), it_id(tok), s, &key), 0);
	cr_assert_str_eq(apikey_key_name(key), "new");
	cr_assert_eq(apikey_key_permission_count(key), 1);
	cr_assert_str_eq(apikey_key_permission(key, 0), "a:b");
	apikey_key_free(key);
	apikey_key_spec_free(s);
	s = apikey_key_spec_new();
	cr_assert_eq(apikey_key_spec_clear_permissions(s), 0);
	cr_assert_eq(apikey_key_update(it_aclient(), it_id(tok), s, &key), 0);
	cr_assert_eq(apikey_key_permission_count(key), 0);
	cr_assert_str_eq(apikey_key_name(key), "new");
	apikey_key_free(key);
	apikey_key_spec_free(s);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(cli, usage_errors_exit_2)
{
	const char *tok = it_key(NULL, NULL);

	it_expect(NULL, 2, NULL, "frobnicate", NULL);
	it_expect(NULL, 2, NULL, "key", "frobnicate", NULL);
	it_expect(NULL, 2, NULL, "key", "list", "--bogus", NULL);
	it_expect(NULL, 2, NULL, "key", "show", NULL);
	it_expect(NULL, 2, NULL, "key", "create", "--expires", "10", NULL);
	it_expect(NULL, 2, NULL, "key", "create", "--expires", "1x", NULL);
	it_expect(NULL, 2, NULL, "key", "create", "--expires", "", NULL);
	it_expect(NULL, 2, NULL, "key", "create", "--metadata", "{bad", NULL);
	it_expect(NULL, 2, NULL, "key", "create", "--user", "alice",
	    "--tenant", "acme", NULL);
	it_expect(NULL, 2, NULL, "key", "update", it_id(tok), "--expires",
	    "soon", NULL);
	it_expect(NULL, 2, NULL, "tenant", "add", "acme", NULL);
	it_expect(NULL, 2, NULL, "--timeout", "abc", "status", NULL);
	it_expect(NULL, 2, NULL, "audit", "--limit", "many", NULL);
	/* Nothing was created by any of them. */
	cr_assert_eq(it_line_count(it_expect(NULL, 0, NULL, "key", "list",
	    NULL)), 2);
}

Test(cli, daemon_errors_exit_5_6_7)
{
	struct apikey_key_spec *s;
	struct apikey_key *key = NULL;
	char *tok = NULL, *big;
	const char *bad[] = { "docread", "doc:", ":read", "do c:read",
	    "doc:re/ad", "doc:read:x", NULL };
	const char *notobj[] = { "[1,2]", "42", "\"s\"", "{bad", "null",
	    "{\"a\":1} x", NULL };
	size_t i;
	int rc;

	it_expect(NULL, 5, NULL, "key", "show", "00000000001", NULL);
	/* Every key request judges its id alike; every owner selector its
	 * tenant name, listings included. */
	it_expect(NULL, 7, "'0000000000123' is not a key id (11 base62 "
	    "characters)", "key", "update", "0000000000123", "--name", "x",
	    NULL);
	it_expect(NULL, 7, "'0000000000123' is not a key id (11 base62 "
	    "characters)", "key", "show", "0000000000123", NULL);
	it_expect(NULL, 7, "'Bad!' is not a valid tenant name", "key", "list",
	    "--tenant", "Bad!", NULL);
	it_expect(NULL, 7, "'Bad!' is not a valid tenant name", "key",
	    "create", "--tenant", "Bad!", NULL);
	it_expect(NULL, 5, NULL, "key", "revoke", "00000000001", NULL);
	it_expect(NULL, 5, NULL, "tenant", "show", "nosuch", NULL);
	it_expect(NULL, 5, NULL, "key", "create", "--user", "nosuchuser",
	    NULL);
	it_expect(NULL, 5, NULL, "key", "list", "--user", "nosuchuser", NULL);
	it_tenant("acme", "acme", NULL);
	it_expect(NULL, 6, NULL, "tenant", "add", "acme", "--group", "acme",
	    NULL);
	it_expect(NULL, 7, NULL, "tenant", "add", "Acme", "--group", "acme",
	    NULL);
	it_expect(NULL, 7, "tenant", "key", "create", "--allow-user", "alice",
	    NULL);
	it_expect(NULL, 7, NULL, "key", "create", "--user", "alice",
	    "--allow-user", "alice", NULL);
	for (i = 0; bad[i] != NULL; i++)
		it_expect(NULL, 7, NULL, "key", "create", "--permission",
		    bad[i], NULL);

	/*
	 * A JSON object over 4096 bytes cannot even be sent (PROTO_METADATA_MAX):
	 * libapikey refuses it, so apikeyctl reports a bad value (exit 2).
	 */
	big = malloc(5000);
	cr_assert_not_null(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	memcpy(big, "{\"k\":\"", 6);
	memcpy(big + 4997, "\"}", 3);
	it_keep(big);
	it_expect(NULL, 2, "--metadata", "key", "create", "--metadata", big,
	    NULL);
	s = apikey_key_spec_new();
	cr_assert_eq(apikey_key_spec_set_metadata(s, big), APIKEY_EINVAL);
	apikey_key_spec_free(s);
	big[4096 - 2] = '"';
	big[4096 - 1] = '}';
	big[4096] = '\0';
	cr_assert_eq(strlen(big), 4096);
	it_key(NULL, "--metadata", big, NULL);

	/* Not a JSON object: libapikey sends it, the daemon says EINVAL. */
	for (i = 0; notobj[i] != NULL; i++) {
		s = apikey_key_spec_new();
		cr_assert_eq(apikey_key_spec_set_metadata(s, notobj[i]), 0);
		rc = apikey_key_create(it_aclient(), APIKEY_OWNER_SELF, NULL, s,
		    &key, &tok);
		cr_assert_eq(rc, APIKEY_EINVAL, "%s: %s", notobj[i],
		    apikey_strerror(rc));
		apikey_key_spec_free(s);
	}
	s = apikey_key_spec_new();
	cr_assert_eq(apikey_key_spec_add_allowed_user(s, "alice"), 0);
	cr_assert_eq(apikey_key_create(it_aclient(), APIKEY_OWNER_USER,
	    "alice", s, &key, &tok), APIKEY_EINVAL);
	apikey_key_spec_free(s);
	cr_assert_null(tok, "token written on failure");
	cr_assert_null(key, "key written on failure");
	cr_assert_eq(it_line_count(it_expect(NULL, 0, NULL, "key", "list",
	    NULL)), 2);
}

Test(cli, a_whole_key_where_its_id_belongs_is_never_sent)
{
	/*
	 * An operator revoking a leaked key pastes the key itself. It is
	 * neither sent nor echoed (it would land in the daemon's reply, the
	 * client's error text and the terminal): the CLI names its id.
	 */
	const char *tok = it_key(NULL, NULL);
	const char *cmds[] = { "show", "revoke", "enable", "disable", NULL };
	struct it_run r;
	size_t i;

	for (i = 0; cmds[i] != NULL; i++) {
		cr_assert_eq(it_ctl(&r, NULL, NULL, "key", cmds[i], tok, NULL),
		    7, "%s: %s", cmds[i], r.err);
		cr_assert_str_eq(r.err, it_printf("apikeyctl: that is a whole "
		    "key, not a key id: its key id is %s (the key was not "
		    "sent)\n", it_id(tok)));
		cr_assert_str_eq(r.out, "");
	}
	cr_assert_eq(it_ctl(&r, NULL, NULL, "key", "rotate", tok, NULL), 7,
	    "%s", r.err);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	it_assert_no_token("the daemon's log", it_log());
}

Test(cli, daemon_not_running_exit_3)
{
	const char *tok = it_key(NULL, NULL);
	struct it_ctl_opt o = { 0 };
	const char *args[] = { "status", NULL };
	struct it_run r;

	it_stop();
	it_expect(NULL, 3, "apikeyctl: ", "status", NULL);
	it_expect(NULL, 3, NULL, "key", "list", NULL);
	it_expect("alice", 3, NULL, "key", "create", NULL);
	cr_assert_eq(it_ctl(&r, NULL, it_printf("%s\n", tok), "verify", NULL),
	    3, "%s%s", r.out, r.err);
	o.no_sockdir = 1;
	o.sockdir_env = it_path("nonexistent");
	cr_assert_eq(it_ctlv(&r, &o, args), 3);
}

Test(cli, global_options_and_socket_dir_env)
{
	struct it_ctl_opt o = { 0 };
	const char *list[] = { "key", "list", "--json", "--socket-dir",
	    it_sock_dir(), NULL };
	const char *status[] = { "--timeout", "5000", "status", NULL };
	struct it_run r;
	json_t *j;

	it_key(NULL, NULL);
	o.no_sockdir = 1;
	cr_assert_eq(it_ctlv(&r, &o, list), 0, "%s", r.err);
	cr_assert_eq(json_array_size(it_json(r.out)), 1);
	o.sockdir_env = it_sock_dir();
	cr_assert_eq(it_ctlv(&r, &o, status), 0, "%s", r.err);
	cr_assert_str_eq(it_field(r.out, "pid"),
	    it_printf("%d", (int)it_daemon_pid()));
	j = it_json(it_expect(NULL, 0, NULL, "status", "--json", NULL));
	cr_assert_eq(json_object_size(j), 19);
	/* A single host: no fleet, in JSON as in the text. */
	cr_assert(json_is_null(json_object_get(j, "fleet")));
	cr_assert_null(it_field(r.out, "fleet"));
	cr_assert_null(it_field(r.out, "fleet_error"));
	cr_assert_str_eq(jstr(j, "version"), APIKEY_VERSION);
	/* The default 1 GiB map, a little of it used, 10% held back. */
	cr_assert_eq(json_integer_value(json_object_get(j, "map_size")),
	    1LL << 30);
	cr_assert_gt(json_integer_value(json_object_get(j, "map_used")), 0);
	cr_assert_lt(json_integer_value(json_object_get(j, "map_used")),
	    1 << 20);
	cr_assert_eq(json_integer_value(json_object_get(j, "map_limit")),
	    (1LL << 30) - (1LL << 30) / 100 * 10);
	cr_assert_eq(json_integer_value(json_object_get(j, "audit_entries")),
	    1);
	cr_assert_eq(json_integer_value(json_object_get(j, "audit_pruned")),
	    0);
	cr_assert_eq(json_integer_value(json_object_get(j, "pid")),
	    it_daemon_pid());
	cr_assert_eq(json_integer_value(json_object_get(j, "keys")), 1);
	cr_assert_eq(json_integer_value(json_object_get(j, "tenants")), 0);
	cr_assert_leq(json_integer_value(json_object_get(j, "started_at")),
	    it_time());
}
