/*
 * harness_usage.c - the helpers of harness_usage.h: polls that return the
 * answer they waited for, and reads of a key's stored credits and use
 * counters through libapikey and apikeyctl.
 *
 * Everything runs in the test's own process against the daemon of
 * harness.c; like there, nothing sleeps to wait for an event (polls have
 * a deadline, it_msleep only spaces them).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness_usage.h"

#define MAX_ARGS	64

enum apikey_code
itu_code(const char *token, const char *ctx)
{
	struct apikey_result *res = it_verify(token, ctx);
	enum apikey_code c = apikey_result_code(res);

	apikey_result_free(res);
	return c;
}

void
itu_expect(const char *token, const char *ctx, enum apikey_code want,
    int64_t want_remaining)
{
	struct apikey_result *res = it_verify(token, ctx);
	enum apikey_code c = apikey_result_code(res);
	int has = apikey_result_has_credits(res);
	uint64_t left = apikey_result_remaining(res);

	apikey_result_free(res);
	cr_assert_eq(c, want, "verify (%s) answered %s, expected %s",
	    ctx != NULL ? ctx : "no context", apikey_code_name(c),
	    apikey_code_name(want));
	if (want_remaining == -2)
		cr_assert_eq(has, 0, "verify (%s): the reply has credits",
		    ctx != NULL ? ctx : "no context");
	else if (want_remaining >= 0) {
		cr_assert_eq(has, 1, "verify (%s): the reply has no credits",
		    ctx != NULL ? ctx : "no context");
		cr_assert_eq(left, (uint64_t)want_remaining, "verify (%s): "
		    "%llu credits left, expected %lld", ctx != NULL ? ctx :
		    "no context", (unsigned long long)left,
		    (long long)want_remaining);
	}
}

struct apikey_result *
itu_wait_result(const char *token, const char *ctx, enum apikey_code want)
{
	int64_t end = it_now_ms() + IT_DEADLINE_MS;
	struct apikey_result *res;
	enum apikey_code c;

	for (;;) {
		res = it_verify(token, ctx);
		c = apikey_result_code(res);
		if (c == want)
			return res;
		apikey_result_free(res);
		cr_assert(it_now_ms() < end, "verify still answers %s after "
		    "%d ms, expected %s", apikey_code_name(c), IT_DEADLINE_MS,
		    apikey_code_name(want));
		it_msleep(50);
	}
}

struct apikey_key *
itu_show(const char *token)
{
	struct apikey_key *k = NULL;
	int rc;

	rc = apikey_key_show(it_aclient(), it_id(token), &k);
	cr_assert_eq(rc, 0, "apikey_key_show: %s: %s", apikey_strerror(rc),
	    apikey_last_error(it_aclient()));
	return k;
}

uint64_t
itu_remaining(const char *token)
{
	struct apikey_key *k = itu_show(token);
	uint64_t n = apikey_key_remaining(k);
	int has = apikey_key_has_credits(k);

	apikey_key_free(k);
	cr_assert_eq(has, 1, "key %s has no credits", it_id(token));
	return n;
}

json_t *
itu_show_json(const char *token)
{
	return it_json(it_expect(NULL, 0, NULL, "--json", "key", "show",
	    it_id(token), NULL));
}

time_t
itu_now(void)
{
	return it_time();
}

enum apikey_code
itu_code_of(const char *name)
{
	int c;

	cr_assert_not_null(name, "no code");
	for (c = APIKEY_VALID; c <= APIKEY_CODE_MAX; c++)
		if (strcmp(apikey_code_name((enum apikey_code)c), name) == 0)
			return (enum apikey_code)c;
	cr_assert_fail("unknown verify code %s", name);
	return APIKEY_MALFORMED;
}

enum apikey_code
itu_json_code(const json_t *doc)
{
	return itu_code_of(json_string_value(json_object_get(doc, "code")));
}

json_t *
itu_ctl_verify(const char *as, const char *token, ...)
{
	const char *args[MAX_ARGS];
	struct it_ctl_opt o = { 0 };
	struct it_run r;
	enum apikey_code c;
	va_list ap;
	size_t n = 0;
	json_t *doc;

	args[n++] = "--json";
	args[n++] = "verify";
	args[n++] = "-";
	va_start(ap, token);
	it_argv_va(args, MAX_ARGS, n, ap);
	va_end(ap);
	o.as = as;
	o.in = it_printf("%s\n", token);
	it_ctlv(&r, &o, args);
	cr_assert(r.status == 0 || r.status == 1, "as %s: apikeyctl verify: "
	    "exit %d; stderr:\n%s", as != NULL ? as : "root", r.status,
	    r.err);
	doc = it_json(r.out);
	c = itu_json_code(doc);
	cr_assert_eq(r.status, c == APIKEY_VALID ? 0 : 1, "as %s: apikeyctl "
	    "verify: exit %d with code %s", as != NULL ? as : "root",
	    r.status, apikey_code_name(c));
	return doc;
}
