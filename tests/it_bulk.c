/*
 * it_bulk.c - many keys in one request (KEY_CREATE_MANY): `apikeyctl key
 * create --count N` and apikey_key_create_many() against the real daemon.
 * Every key made works and is listed, its token shown once and only then;
 * a batch transaction gets one audit record; the limits of a single create
 * hold for all N (keys per owner counted up front, the caller's right to
 * the owner); and a request stopped short by a limit leaves exactly the
 * keys it handed out.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

static void
setup_limits(void)
{
	it_prepare("max_keys_per_user = 10\n");
	it_start();
}

TestSuite(bulk, .init = it_setup, .fini = it_teardown, .timeout = 120);
TestSuite(bulk_limits, .init = setup_limits, .fini = it_teardown,
    .timeout = 60);

/* Splits text into its lines (in place); returns how many. */
static size_t
lines(char *text, const char **v, size_t max)
{
	size_t	 n = 0;
	char	*p, *save = NULL;

	for (p = strtok_r(text, "\n", &save); p != NULL && n < max;
	    p = strtok_r(NULL, "\n", &save))
		v[n++] = p;
	return n;
}

/* Verifies tokens[0..n) in batches: all VALID, each its own key. */
static void
expect_all_valid(const char **tokens, size_t n)
{
	struct apikey_result **res = calloc(n, sizeof(*res));
	size_t		 i;
	int		 rc;

	cr_assert_not_null(res);
	rc = apikey_verify_batch(it_vclient(), n, tokens, NULL, res);
	cr_assert_eq(rc, 0, "batch: %s", apikey_strerror(rc));
	for (i = 0; i < n; i++) {
		cr_assert_eq(apikey_result_code(res[i]), APIKEY_VALID,
		    "key %zu: %s", i, apikey_result_reason(res[i]));
		cr_assert_str_eq(apikey_result_key_id(res[i]),
		    it_id(tokens[i]));
		apikey_result_free(res[i]);
	}
	free(res);
}

Test(bulk, count_creates_each_key_once_in_batches)
{
	const size_t	 n = 2500;
	const char	**tok = calloc(n + 1, sizeof(*tok));
	const char	*audit;
	char		*out;
	size_t		 i;

	cr_assert_not_null(tok);
	out = it_keep(strdup(it_expect(NULL, 0, NULL, "key", "create",
	    "--count", "2500", "--name", "seed", "-q", NULL)));
	cr_assert_eq(lines(out, tok, n + 1), n);
	for (i = 1; i < n; i++)
		cr_assert_str_neq(tok[i], tok[i - 1]);
	expect_all_valid(tok, n);
	/* All listed; one audit record per transaction of 512. */
	cr_assert_eq(it_line_count(it_expect(NULL, 0, NULL, "key", "list",
	    NULL)), n + 1);
	audit = it_expect(NULL, 0, NULL, "audit", NULL);
	it_assert_has(audit, "key.create  ");
	it_assert_has(audit, " 512 keys (1 to 512 of 2500), owner user root "
	    "(uid 0), name 'seed'\n");
	it_assert_has(audit, " 512 keys (513 to 1024 of 2500), owner user "
	    "root (uid 0), name 'seed'\n");
	it_assert_has(audit, " 452 keys (2049 to 2500 of 2500), owner user root "
	    "(uid 0), name 'seed'\n");
	it_assert_has(it_log(), "key.create ");
	free(tok);
}

/* The default output is "ID TOKEN" lines; --json one array. */
Test(bulk, outputs)
{
	const char	*v[8];
	json_t		*doc, *item;
	char		*out, id[16], token[128];
	size_t		 i;

	out = it_keep(strdup(it_expect(NULL, 0, NULL, "key", "create",
	    "--count", "3", NULL)));
	cr_assert_eq(lines(out, v, 8), 3);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(sscanf(v[i], "%15s %127s", id, token), 2);
		cr_assert_str_eq(it_id(token), id);
	}
	doc = it_json(it_expect(NULL, 0, NULL, "key", "create", "--count",
	    "2", "--json", "--service", "sshd", NULL));
	cr_assert(json_is_array(doc));
	cr_assert_eq(json_array_size(doc), 2);
	json_array_foreach(doc, i, item) {
		const char *t = json_string_value(json_object_get(item,
		    "token"));
		json_t *k = json_object_get(item, "key");

		cr_assert_not_null(t);
		cr_assert_str_eq(json_string_value(json_object_get(k, "id")),
		    it_id(t));
		cr_assert_str_eq(json_string_value(json_array_get(
		    json_object_get(k, "services"), 0)), "sshd");
		cr_assert_eq(it_code(t, "svc=sshd"), APIKEY_VALID);
		cr_assert_eq(it_code(t, "svc=ftp"), APIKEY_FORBIDDEN);
	}
}

Test(bulk, count_out_of_range_is_a_usage_error)
{
	it_expect(NULL, 2, "--count: must be at least 1", "key", "create",
	    "--count", "0", NULL);
	it_expect(NULL, 2, "--count", "key", "create", "--count", "1000001",
	    NULL);
	/* The header alone. */
	cr_assert_eq(it_line_count(it_expect(NULL, 0, NULL, "key", "list",
	    NULL)), 1);
}

struct seen {
	size_t	 n;
	char	 first[APIKEY_KEY_ID_SIZE];
};

static void
note(void *arg, const struct apikey_key *k, const char *token)
{
	struct seen	*s = arg;

	it_note_token(token);
	cr_assert_str_eq(apikey_key_id(k), it_id(token));
	if (s->n++ == 0)
		snprintf(s->first, sizeof(s->first), "%s", apikey_key_id(k));
}

/* Through libapikey, for a tenant by its admin group's member. */
Test(bulk, tenant_admin_creates_for_the_tenant)
{
	struct apikey_client *c;
	struct seen	 s = { 0 };
	uint32_t	 made = 0;
	int		 rc;

	it_tenant("acme", "acme", "acme-admins");
	/* bob is in acme-admins; as him, through apikeyctl. */
	cr_assert_eq(it_line_count(it_expect("bob", 0, NULL, "key", "create",
	    "--tenant", "acme", "--count", "5", "-q", NULL)), 5);
	/* alice is a member, not an admin: refused, nothing made. */
	it_expect("alice", 4, "permission denied", "key", "create",
	    "--tenant", "acme", "--count", "5", NULL);
	cr_assert_eq(it_line_count(it_expect(NULL, 0, NULL, "key", "list",
	    "--tenant", "acme", NULL)), 6);
	/* And through the library, as root. */
	c = it_aclient();
	rc = apikey_key_create_many(c, APIKEY_OWNER_TENANT, "acme", NULL, 7,
	    note, &s, &made);
	cr_assert_eq(rc, 0, "%s: %s", apikey_strerror(rc),
	    apikey_last_error(c));
	cr_assert_eq(made, 7);
	cr_assert_eq(s.n, 7);
	cr_assert_eq(apikey_key_create_many(c, APIKEY_OWNER_TENANT, "acme",
	    NULL, 0, note, &s, &made), APIKEY_EINVAL);
	cr_assert_eq(apikey_key_create_many(c, APIKEY_OWNER_TENANT, "acme",
	    NULL, 1, NULL, &s, &made), APIKEY_EINVAL);
	cr_assert_eq(apikey_key_create_many(it_vclient(), APIKEY_OWNER_SELF,
	    NULL, NULL, 1, note, &s, &made), APIKEY_EINVAL);
	cr_assert_eq(made, 0);
}

/* Keys per owner are counted for all N up front: nothing is made. */
Test(bulk_limits, keys_per_user_hold_for_all_of_them)
{
	it_expect("alice", 7, "user alice owns 0 keys; 11 more would pass "
	    "the 10 max_keys_per_user allows (ask an administrator)", "key",
	    "create", "--count", "11", NULL);
	cr_assert_eq(it_line_count(it_expect("alice", 0, NULL, "key", "list",
	    NULL)), 1);
	cr_assert_eq(it_line_count(it_expect("alice", 0, NULL, "key",
	    "create", "--count", "10", "-q", NULL)), 10);
	it_expect("alice", 7, "user alice already owns 10 keys, the most "
	    "max_keys_per_user allows", "key", "create", "--count", "1",
	    NULL);
	/* Root is exempt, for anyone. */
	cr_assert_eq(it_line_count(it_expect(NULL, 0, NULL, "key", "create",
	    "--user", "alice", "--count", "3", "-q", NULL)), 3);
	/* alice may not make keys for bob, however many. */
	it_expect("alice", 4, NULL, "key", "create", "--user", "bob",
	    "--count", "2", NULL);
	cr_assert_eq(it_line_count(it_expect(NULL, 0, NULL, "key", "list",
	    "--user", "bob", NULL)), 1);
}

static void
setup_small_map(void)
{
	it_prepare("map_size = 2M\nmax_keys_per_user = 0\n");
	it_start();
}

TestSuite(bulk_small_map, .init = setup_small_map, .fini = it_teardown,
    .timeout = 120);

/*
 * An ordinary user's request for more keys than the store has room for
 * stops at the map's limit: the keys handed out before exist, the reserve
 * is left for revokes, and the error says why.
 */
Test(bulk_small_map, a_user_stops_at_the_limit_and_keeps_what_was_shown)
{
	static const char *v[100000];
	struct it_run	 r;
	char		*out;
	size_t		 n;

	it_ctl(&r, "alice", NULL, "key", "create", "--count", "100000", "-q",
	    NULL);
	cr_assert_eq(r.status, 7, "status %d, stderr: %s", r.status, r.err);
	it_assert_has(r.err, "apikeyctl: the key store is ");
	it_assert_has(r.err, "% full: until an administrator frees space or "
	    "raises map_size, only deletes, disables and administrators may "
	    "write\n");
	out = it_keep(strdup(r.out));
	n = lines(out, v, 100000);
	cr_assert_gt(n, 100, "only %zu keys before the limit", n);
	cr_assert_lt(n, 100000);
	/* Exactly those exist, and they work. */
	cr_assert_eq(it_line_count(it_expect("alice", 0, NULL, "key", "list",
	    NULL)), n + 1);
	expect_all_valid(v, n);
	/* The reserve is there for revokes, hers and root's. */
	it_expect("alice", 0, NULL, "key", "revoke", it_id(v[0]), NULL);
	it_expect(NULL, 0, NULL, "key", "revoke", it_id(v[1]), NULL);
	cr_assert_eq(it_code(v[0], NULL), APIKEY_NOT_FOUND);
}
