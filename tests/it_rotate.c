/*
 * it_rotate.c - key rotation: same id and settings, a new secret; the old
 * token stops at once without a grace period and keeps working until the
 * grace period ends with one (polled, never slept on).
 */
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(rotate, .init = it_setup, .fini = it_teardown, .timeout = 90);

/* key show --json of id without the fields a rotation may change. */
static json_t *
settings(const char *id)
{
	json_t *j = it_json(it_expect(NULL, 0, NULL, "--json", "key", "show",
	    id, NULL));

	json_object_del(j, "updated_at");
	json_object_del(j, "grace_until");
	return j;
}

Test(rotate, without_grace)
{
	const char *old, *new;
	json_t *before;

	it_tenant("acme", "acme", NULL);
	old = it_key(NULL, "--tenant", "acme", "--name", "build",
	    "--service", "sshd", "--permission", "doc:read", "--allow-user",
	    "alice", "--metadata", "{\"a\":[1,2]}", "--expires", "1d", NULL);
	before = settings(it_id(old));
	new = it_expect(NULL, 0, NULL, "key", "rotate", it_id(old), "-q",
	    NULL);
	cr_assert_eq(it_line_count(new), 1);
	new = it_line(new, 0);
	cr_assert_str_neq(new, old);
	cr_assert_str_eq(it_id(new), it_id(old));
	cr_assert_eq(it_code(old, "svc=sshd user=alice"), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(new, "svc=sshd user=alice perm=doc:read"),
	    APIKEY_VALID);
	cr_assert_eq(it_code(new, "svc=su user=alice"), APIKEY_FORBIDDEN);
	cr_assert(json_equal(settings(it_id(old)), before),
	    "settings changed by the rotation");
	cr_assert(json_is_null(json_object_get(it_json(it_expect(NULL, 0, NULL,
	    "--json", "key", "show", it_id(old), NULL)), "grace_until")));
}

Test(rotate, with_grace)
{
	const char *old = it_key(NULL, NULL), *new;
	time_t now = it_time();
	json_t *j;
	int64_t until;

	new = it_line(it_expect(NULL, 0, NULL, "key", "rotate", it_id(old),
	    "--grace", "2s", "-q", NULL), 0);
	cr_assert_eq(it_code(old, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(new, NULL), APIKEY_VALID);
	j = it_json(it_expect(NULL, 0, NULL, "--json", "key", "show",
	    it_id(old), NULL));
	until = json_integer_value(json_object_get(j, "grace_until"));
	cr_assert_geq(until, now + 2);
	cr_assert_leq(until, it_time() + 2);
	it_wait_code(old, NULL, APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(new, NULL), APIKEY_VALID);
}

Test(rotate, through_libapikey)
{
	const char *first = it_key(NULL, "--user", "alice", NULL);
	struct apikey_key *key = NULL;
	char *second = NULL, *third = NULL;
	time_t now = it_time();

	cr_assert_eq(apikey_key_rotate(it_aclient(), it_id(first), 3600, &key,
	    &second), 0);
	it_note_token(second);
	cr_assert_str_eq(apikey_key_id(key), it_id(first));
	cr_assert_eq(apikey_key_uid(key), 10001);
	cr_assert_geq(apikey_key_grace_until(key), now + 3600);
	cr_assert_leq(apikey_key_grace_until(key), it_time() + 3600);
	cr_assert_eq(it_code(first, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(second, NULL), APIKEY_VALID);
	apikey_key_free(key);

	/* A rotation without grace ends every earlier secret. */
	cr_assert_eq(apikey_key_rotate(it_aclient(), it_id(first), 0, &key,
	    &third), 0);
	it_note_token(third);
	cr_assert_eq(apikey_key_grace_until(key), 0);
	cr_assert_eq(it_code(first, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(second, NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(third, NULL), APIKEY_VALID);
	apikey_key_free(key);
	apikey_token_free(second);
	apikey_token_free(third);
}

Test(rotate, output_forms)
{
	const char *tok = it_key(NULL, "--name", "out", NULL), *t;
	struct it_run r;
	json_t *j;

	cr_assert_eq(it_ctl(&r, NULL, NULL, "key", "rotate", it_id(tok), NULL),
	    0, "%s", r.err);
	cr_assert_str_eq(it_field(r.out, "id"), it_id(tok));
	cr_assert_str_eq(it_field(r.out, "name"), "out");
	t = it_field(r.out, "token");
	cr_assert_not_null(t, "%s", r.out);
	cr_assert_str_eq(it_id(t), it_id(tok));
	cr_assert_str_eq(r.err, "Store this token now: it is shown only "
	    "once.\n");
	cr_assert_eq(it_code(t, NULL), APIKEY_VALID);

	cr_assert_eq(it_ctl(&r, NULL, NULL, "--json", "key", "rotate",
	    it_id(tok), "--grace", "1h", NULL), 0, "%s", r.err);
	j = it_json(r.out);
	cr_assert_eq(json_object_size(j), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j,
	    "key"), "id")), it_id(tok));
	cr_assert_eq(it_code(json_string_value(json_object_get(j, "token")),
	    NULL), APIKEY_VALID);
	cr_assert_eq(it_code(t, NULL), APIKEY_VALID);
}

Test(rotate, disabled_key_stays_disabled)
{
	const char *tok = it_key(NULL, NULL), *new;

	it_expect(NULL, 0, NULL, "key", "disable", it_id(tok), NULL);
	new = it_line(it_expect(NULL, 0, NULL, "key", "rotate", it_id(tok),
	    "-q", NULL), 0);
	cr_assert_eq(it_code(new, NULL), APIKEY_DISABLED);
}

Test(rotate, errors)
{
	const char *tok = it_key(NULL, NULL);

	it_expect(NULL, 5, NULL, "key", "rotate", "00000000001", NULL);
	it_expect(NULL, 2, NULL, "key", "rotate", it_id(tok), "--grace", "10",
	    NULL);
	it_expect(NULL, 2, NULL, "key", "rotate", it_id(tok), "--grace", "5x",
	    NULL);
	it_expect(NULL, 2, NULL, "key", "rotate", NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}
