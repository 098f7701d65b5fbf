/*
 * it_usage.c - the usage policy of the real apikeyd, as README "Usage
 * limits" and "Failure throttling" describe it: rate windows that fill
 * and reset, credits that count down by the verify's cost, refill, are
 * set anew by an update and survive a restart, source allowlists for
 * IPv4 and IPv6 with their edges, the back-off of a failing source, and
 * the last-used time and use count written in batches and at shutdown.
 *
 * Every suite but "throttle" turns failure throttling off: those tests
 * refuse verifies on purpose, and must not be cut short by it. Times are
 * polled with a deadline, never slept on.
 */
#include <sys/socket.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../proto/proto.h"
#include "harness_raw.h"
#include "harness_usage.h"

/* For itu_expect: the reply carries no credits / no check of them. */
#define NO_CREDITS	(-2)
#define ANY		(-1)

static void
setup_quiet(void)
{
	it_prepare("throttle_failures = 0\n");
	it_start();
}

static void
setup_throttle(void)
{
	it_prepare("throttle_failures = 3\nthrottle_window = 10s\n"
	    "throttle_backoff = 1s\n");
	it_start();
}

static void
setup_flush_fast(void)
{
	it_prepare("throttle_failures = 0\nusage_flush_interval = 200ms\n");
	it_start();
}

static void
setup_flush_never(void)
{
	it_prepare("throttle_failures = 0\nusage_flush_interval = 24h\n");
	it_start();
}

TestSuite(rate, .init = setup_quiet, .fini = it_teardown, .timeout = 90);
TestSuite(credits, .init = setup_quiet, .fini = it_teardown, .timeout = 90);
TestSuite(cidr, .init = setup_quiet, .fini = it_teardown, .timeout = 90);
TestSuite(throttle, .init = setup_throttle, .fini = it_teardown,
    .timeout = 90);
TestSuite(use, .fini = it_teardown, .timeout = 90);

/* The retry_after_ms of a RATE_LIMITED answer. */
static uint64_t
limited(const char *token, const char *ctx)
{
	struct apikey_result *res = it_verify(token, ctx);
	enum apikey_code c = apikey_result_code(res);
	uint64_t retry = apikey_result_retry_after_ms(res);

	apikey_result_free(res);
	cr_assert_eq(c, APIKEY_RATE_LIMITED, "verify (%s) answered %s, "
	    "expected RATE_LIMITED", ctx != NULL ? ctx : "no context",
	    apikey_code_name(c));
	return retry;
}

/* --- rate limits ---------------------------------------------------------- */

Test(rate, hit_and_reset)
{
	const char *tok = it_key(NULL, "--rate", "3/2s", NULL);
	struct apikey_result *res;
	int64_t t0, t1;
	uint64_t retry;
	int i;

	t0 = it_now_ms();
	for (i = 0; i < 3; i++)
		itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	retry = limited(tok, NULL);
	t1 = it_now_ms();
	/* The window began with the first verify, no earlier than t0. */
	cr_assert_gt(retry, 0);
	cr_assert_leq(retry, 2000);
	cr_assert_geq(retry + 2, (uint64_t)(2000 - (t1 - t0)),
	    "retry after %llu ms, %lld ms into a 2 s window",
	    (unsigned long long)retry, (long long)(t1 - t0));

	res = itu_wait_result(tok, NULL, APIKEY_VALID);
	apikey_result_free(res);
	cr_assert_geq(it_now_ms() - t0 + 2, 2000,
	    "VALID again %lld ms after the first verify of a 2 s window",
	    (long long)(it_now_ms() - t0));
	/* A new window of three, its first slot taken by that verify. */
	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	retry = limited(tok, NULL);
	cr_assert(retry > 0 && retry <= 2000, "retry after %llu ms",
	    (unsigned long long)retry);
}

Test(rate, refused_verifies_take_no_slot)
{
	const char *good = "svc=sshd perm=doc:read rhost=10.0.0.1";
	const char *tok;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--rate", "2/1m", "--service", "sshd",
	    "--permission", "doc:read", "--allow-cidr", "10.0.0.0/8", NULL);

	itu_expect(tok, "svc=ftp perm=doc:read rhost=10.0.0.1",
	    APIKEY_FORBIDDEN, ANY);
	itu_expect(tok, "svc=sshd perm=doc:write rhost=10.0.0.1",
	    APIKEY_INSUFFICIENT_PERMISSIONS, ANY);
	itu_expect(tok, "svc=sshd perm=doc:read rhost=192.0.2.1",
	    APIKEY_FORBIDDEN, ANY);
	itu_expect(tok, "svc=sshd perm=doc:read tenant=acme rhost=10.0.0.1",
	    APIKEY_FORBIDDEN, ANY);
	itu_expect(it_wrong_secret(tok), good, APIKEY_NOT_FOUND, ANY);
	it_expect(NULL, 0, NULL, "key", "disable", it_id(tok), NULL);
	itu_expect(tok, good, APIKEY_DISABLED, ANY);
	it_expect(NULL, 0, NULL, "key", "enable", it_id(tok), NULL);

	itu_expect(tok, good, APIKEY_VALID, NO_CREDITS);
	itu_expect(tok, good, APIKEY_VALID, NO_CREDITS);
	cr_assert_gt(limited(tok, good), 58000);
	/* Over the limit, a refusal by an earlier check still wins. */
	itu_expect(tok, "svc=ftp perm=doc:read rhost=10.0.0.1",
	    APIKEY_FORBIDDEN, ANY);
}

Test(rate, windows_per_key)
{
	const char *a = it_key(NULL, "--rate", "1/1m", NULL);
	const char *b = it_key(NULL, "--rate", "1/1m", NULL);

	itu_expect(a, NULL, APIKEY_VALID, NO_CREDITS);
	limited(a, NULL);
	itu_expect(b, NULL, APIKEY_VALID, NO_CREDITS);
	limited(b, NULL);
}

Test(rate, restart_resets_windows)
{
	const char *tok = it_key(NULL, "--rate", "1/1h", NULL);

	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	cr_assert_gt(limited(tok, NULL), 3590000);
	it_restart();
	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	limited(tok, NULL);
}

Test(rate, update_removes_and_sets)
{
	const char *tok = it_key(NULL, "--rate", "1/1h", NULL);
	int i;

	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	limited(tok, NULL);
	it_expect(NULL, 0, NULL, "key", "update", it_id(tok), "--no-rate",
	    NULL);
	cr_assert_str_eq(it_field(it_expect(NULL, 0, NULL, "key", "show",
	    it_id(tok), NULL), "rate_limit"), "-");
	for (i = 0; i < 5; i++)
		itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	/* A window of another length starts afresh. */
	it_expect(NULL, 0, NULL, "key", "update", it_id(tok), "--rate",
	    "2/30m", NULL);
	cr_assert_str_eq(it_field(it_expect(NULL, 0, NULL, "key", "show",
	    it_id(tok), NULL), "rate_limit"), "2/1800s");
	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	limited(tok, NULL);
}

Test(rate, cli_prints_retry_after)
{
	const char *tok = it_key(NULL, "--rate", "1/1m", NULL);
	struct it_run r;
	json_t *doc;
	json_int_t retry;

	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	doc = itu_ctl_verify(NULL, tok, NULL);
	cr_assert_eq(itu_json_code(doc), APIKEY_RATE_LIMITED);
	retry = json_integer_value(json_object_get(doc, "retry_after_ms"));
	cr_assert(retry > 0 && retry <= 60000, "retry_after_ms %lld",
	    (long long)retry);
	cr_assert(json_is_false(json_object_get(doc, "valid")));

	cr_assert_eq(it_ctl(&r, NULL, it_printf("%s\n", tok), "verify", "-",
	    NULL), 1);
	cr_assert_eq(strncmp(it_line(r.out, 0), "RATE_LIMITED", 12), 0,
	    "first line: %s", it_line(r.out, 0));
	retry = strtoll(it_field(r.out, "retry_after_ms"), NULL, 10);
	cr_assert(retry > 0 && retry <= 60000, "retry_after_ms %lld",
	    (long long)retry);
}

/* --- credits ---------------------------------------------------------------- */

/*
 * Credit verifies are answered only once their credits are committed. A
 * peer that pipelines them and then half-closes (or sends a bad frame
 * behind them) is still owed every reply: the connection goes only once
 * they are out, and each credit spent is a reply received.
 */
static void
pipelined_then(int half_close)
{
	const char	*tok = it_key(NULL, "--remaining", "100", NULL);
	uint8_t		 f[5 * ITR_VERIFY_FRAME_MAX], *reply;
	size_t		 n = 0, len;
	uint32_t	 id, seen = 0;
	int		 fd, i;

	for (i = 1; i <= 5; i++)
		n += itr_verify_frame(f + n, (uint32_t)i, tok, 1, 0);
	if (!half_close) {
		/* A frame of another protocol version: EBADREQ, then go. */
		memcpy(f + n, f, PROTO_HDR_LEN);
		f[n + 4] = 0x7f;
		f[n + 0] = f[n + 1] = f[n + 2] = 0;
		f[n + 3] = PROTO_HDR_LEN - 4;
		f[n + 8] = f[n + 9] = f[n + 10] = 0;
		f[n + 11] = 99;			/* its request id */
		n += PROTO_HDR_LEN;
	}
	fd = itr_connect(it_printf("%s/verify.sock", it_sock_dir()));
	itr_write(fd, f, n);
	if (half_close)
		cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	while ((len = itr_read_frame(fd, &reply)) > 0) {
		id = itr_reply_id(reply);
		if (id >= 1 && id <= 5) {
			cr_assert_eq(itr_verify_code(reply, len),
			    PROTO_VALID);
			cr_assert_eq(seen & (1u << id), 0, "%u twice", id);
			seen |= 1u << id;
		} else {
			cr_assert_eq(id, 99, "a reply to id %u", id);
			cr_assert_eq(itr_verify_code(reply, len),
			    0x100 + PROTO_EBADREQ);
		}
		free(reply);
	}
	close(fd);
	cr_assert_eq(seen, 0x3e, "replies received: %#x", seen);
	cr_assert_eq(itu_remaining(tok), 95);
}

Test(credits, held_replies_reach_a_half_closed_peer)
{
	pipelined_then(1);
}

Test(credits, held_replies_come_before_a_bad_frame_ends_it)
{
	pipelined_then(0);
}

Test(credits, count_down_to_exceeded)
{
	const char *tok = it_key(NULL, "--remaining", "3", NULL);
	const char *show;

	show = it_expect(NULL, 0, NULL, "key", "show", it_id(tok), NULL);
	cr_assert_str_eq(it_field(show, "remaining"), "3");
	itu_expect(tok, NULL, APIKEY_VALID, 2);
	itu_expect(tok, NULL, APIKEY_VALID, 1);
	itu_expect(tok, NULL, APIKEY_VALID, 0);
	itu_expect(tok, NULL, APIKEY_USAGE_EXCEEDED, 0);
	itu_expect(tok, NULL, APIKEY_USAGE_EXCEEDED, 0);
	cr_assert_eq(itu_remaining(tok), 0);
	show = it_expect(NULL, 0, NULL, "key", "show", it_id(tok), NULL);
	cr_assert_str_eq(it_field(show, "remaining"), "0");
	cr_assert_str_eq(it_field(show, "refill"), "-");
}

Test(credits, key_without_credits_is_unlimited)
{
	const char *tok = it_key(NULL, NULL);
	struct apikey_key *k;
	json_t *doc;
	int i;

	for (i = 0; i < 20; i++)
		itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	k = itu_show(tok);
	cr_assert_eq(apikey_key_has_credits(k), 0);
	apikey_key_free(k);
	cr_assert(json_is_null(json_object_get(itu_show_json(tok),
	    "credits")));
	cr_assert_str_eq(it_field(it_expect(NULL, 0, NULL, "key", "show",
	    it_id(tok), NULL), "remaining"), "-");
	doc = itu_ctl_verify(NULL, tok, NULL);
	cr_assert_eq(itu_json_code(doc), APIKEY_VALID);
	cr_assert(json_is_null(json_object_get(doc, "remaining")));
}

Test(credits, cost)
{
	const char *tok = it_key(NULL, "--remaining", "10", NULL);

	itu_expect(tok, "cost=4", APIKEY_VALID, 6);
	cr_assert_eq(itu_remaining(tok), 6);
	itu_expect(tok, "cost=7", APIKEY_USAGE_EXCEEDED, 6);
	cr_assert_eq(itu_remaining(tok), 6, "a refused cost was consumed");
	itu_expect(tok, "cost=6", APIKEY_VALID, 0);
	cr_assert_eq(itu_remaining(tok), 0);
	itu_expect(tok, "cost=1", APIKEY_USAGE_EXCEEDED, 0);
}

Test(credits, cost_through_apikeyctl)
{
	const char *tok = it_key(NULL, "--remaining", "5", NULL);
	struct it_run r;
	json_t *doc;

	doc = itu_ctl_verify(NULL, tok, "--cost", "2", NULL);
	cr_assert_eq(itu_json_code(doc), APIKEY_VALID);
	cr_assert_eq(json_integer_value(json_object_get(doc, "remaining")), 3);
	doc = itu_ctl_verify(NULL, tok, "--cost", "4", NULL);
	cr_assert_eq(itu_json_code(doc), APIKEY_USAGE_EXCEEDED);
	cr_assert_eq(json_integer_value(json_object_get(doc, "remaining")), 3);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(
	    itu_show_json(tok), "credits"), "remaining")), 3);

	cr_assert_eq(it_ctl(&r, NULL, it_printf("%s\n", tok), "verify", "-",
	    "--cost", "3", NULL), 0, "%s", r.err);
	cr_assert_str_eq(it_line(r.out, 0), "VALID");
	cr_assert_str_eq(it_field(r.out, "remaining"), "0");
	cr_assert_eq(it_ctl(&r, NULL, it_printf("%s\n", tok), "verify", "-",
	    "--cost", "0", NULL), 2);
	cr_assert_eq(itu_remaining(tok), 0);
}

Test(credits, failed_checks_consume_nothing)
{
	const char *good = "svc=sshd perm=doc:read rhost=10.0.0.1";
	const char *tok;

	it_tenant("acme", "acme", NULL);
	tok = it_key(NULL, "--remaining", "5", "--service", "sshd",
	    "--permission", "doc:read", "--allow-cidr", "10.0.0.0/8", NULL);

	itu_expect(tok, "svc=ftp perm=doc:read rhost=10.0.0.1",
	    APIKEY_FORBIDDEN, ANY);
	cr_assert_eq(itu_remaining(tok), 5);
	itu_expect(tok, "svc=sshd perm=doc:read tenant=acme rhost=10.0.0.1",
	    APIKEY_FORBIDDEN, ANY);
	cr_assert_eq(itu_remaining(tok), 5);
	itu_expect(tok, "svc=sshd perm=doc:write rhost=10.0.0.1",
	    APIKEY_INSUFFICIENT_PERMISSIONS, ANY);
	cr_assert_eq(itu_remaining(tok), 5);
	itu_expect(tok, "svc=sshd perm=doc:read rhost=192.0.2.1",
	    APIKEY_FORBIDDEN, ANY);
	cr_assert_eq(itu_remaining(tok), 5);
	itu_expect(tok, "svc=sshd perm=doc:read", APIKEY_FORBIDDEN, ANY);
	cr_assert_eq(itu_remaining(tok), 5);
	itu_expect(it_wrong_secret(tok), good, APIKEY_NOT_FOUND, ANY);
	cr_assert_eq(itu_remaining(tok), 5);
	it_expect(NULL, 0, NULL, "key", "disable", it_id(tok), NULL);
	itu_expect(tok, good, APIKEY_DISABLED, ANY);
	cr_assert_eq(itu_remaining(tok), 5);
	it_expect(NULL, 0, NULL, "key", "enable", it_id(tok), NULL);

	itu_expect(tok, good, APIKEY_VALID, 4);
	cr_assert_eq(itu_remaining(tok), 4);
	cr_assert_str_eq(it_field(it_expect(NULL, 0, NULL, "key", "show",
	    it_id(tok), NULL), "remaining"), "4");
}

Test(credits, rate_limited_consumes_nothing)
{
	const char *tok = it_key(NULL, "--rate", "1/1h", "--remaining", "5",
	    NULL);

	itu_expect(tok, NULL, APIKEY_VALID, 4);
	limited(tok, NULL);
	limited(tok, "cost=2");
	cr_assert_eq(itu_remaining(tok), 4);
}

Test(credits, refill)
{
	const char *tok = it_key(NULL, "--remaining", "1", "--refill", "2/2s",
	    NULL);
	struct apikey_result *res;
	struct apikey_key *k;
	time_t created, refilled;

	k = itu_show(tok);
	cr_assert_eq(apikey_key_refill_amount(k), 2);
	cr_assert_eq(apikey_key_refill_interval(k), 2);
	created = apikey_key_last_refill_at(k);
	cr_assert_eq(created, apikey_key_created_at(k));
	apikey_key_free(k);

	itu_expect(tok, NULL, APIKEY_VALID, 0);
	itu_expect(tok, NULL, APIKEY_USAGE_EXCEEDED, 0);
	res = itu_wait_result(tok, NULL, APIKEY_VALID);
	cr_assert_eq(apikey_result_has_credits(res), 1);
	cr_assert_eq(apikey_result_remaining(res), 1,
	    "refill to 2 then this verify: %llu left",
	    (unsigned long long)apikey_result_remaining(res));
	apikey_result_free(res);

	k = itu_show(tok);
	cr_assert_eq(apikey_key_remaining(k), 1);
	refilled = apikey_key_last_refill_at(k);
	apikey_key_free(k);
	cr_assert_geq(refilled, created + 2);
	cr_assert_leq(refilled, itu_now());
	cr_assert_str_eq(it_field(it_expect(NULL, 0, NULL, "key", "show",
	    it_id(tok), NULL), "refill"), "2/2s");
}

Test(credits, update_sets_credits_anew)
{
	const char *tok = it_key(NULL, "--remaining", "2", NULL);
	const char *out;

	itu_expect(tok, NULL, APIKEY_VALID, 1);
	out = it_expect(NULL, 0, NULL, "key", "update", it_id(tok),
	    "--remaining", "5", NULL);
	cr_assert_str_eq(it_field(out, "remaining"), "5");
	cr_assert_str_eq(it_field(it_expect(NULL, 0, NULL, "key", "show",
	    it_id(tok), NULL), "remaining"), "5");
	itu_expect(tok, NULL, APIKEY_VALID, 4);
	cr_assert_eq(itu_remaining(tok), 4);

	it_expect(NULL, 0, NULL, "key", "update", it_id(tok), "--remaining",
	    "0", NULL);
	itu_expect(tok, NULL, APIKEY_USAGE_EXCEEDED, 0);

	it_expect(NULL, 0, NULL, "key", "update", it_id(tok), "--no-credits",
	    NULL);
	cr_assert(json_is_null(json_object_get(itu_show_json(tok),
	    "credits")));
	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);

	it_expect(NULL, 0, NULL, "key", "update", it_id(tok), "--remaining",
	    "3", NULL);
	itu_expect(tok, NULL, APIKEY_VALID, 2);
	cr_assert_eq(itu_remaining(tok), 2);
}

Test(credits, update_refill)
{
	const char *tok = it_key(NULL, "--remaining", "1", NULL);
	json_t *cr;

	it_expect(NULL, 2, "--refill and --no-credits", "key", "update",
	    it_id(tok), "--refill", "5/1h", "--no-credits", NULL);
	it_expect(NULL, 0, NULL, "key", "update", it_id(tok), "--refill",
	    "5/1h", NULL);
	cr = json_object_get(itu_show_json(tok), "credits");
	cr_assert_eq(json_integer_value(json_object_get(cr, "remaining")), 1);
	cr_assert_eq(json_integer_value(json_object_get(cr, "refill_amount")),
	    5);
	cr_assert_eq(json_integer_value(json_object_get(cr,
	    "refill_interval")), 3600);
	itu_expect(tok, NULL, APIKEY_VALID, 0);
	itu_expect(tok, NULL, APIKEY_USAGE_EXCEEDED, 0);
	it_expect(NULL, 0, NULL, "key", "update", it_id(tok), "--no-refill",
	    NULL);
	cr = json_object_get(itu_show_json(tok), "credits");
	cr_assert(json_is_null(json_object_get(cr, "refill_amount")));
	cr_assert_eq(json_integer_value(json_object_get(cr, "remaining")), 0);
}

Test(credits, survive_restart)
{
	const char *tok = it_key(NULL, "--remaining", "10", NULL);
	const char *other = it_key(NULL, "--remaining", "2", NULL);

	itu_expect(tok, "cost=3", APIKEY_VALID, 7);
	itu_expect(other, NULL, APIKEY_VALID, 1);
	itu_expect(other, NULL, APIKEY_VALID, 0);
	it_restart();
	cr_assert_eq(itu_remaining(tok), 7);
	cr_assert_eq(itu_remaining(other), 0);
	itu_expect(tok, NULL, APIKEY_VALID, 6);
	itu_expect(other, NULL, APIKEY_USAGE_EXCEEDED, 0);
	/* And once more, after a stop with nothing in flight. */
	it_stop_sig(SIGINT);
	it_start();
	cr_assert_eq(itu_remaining(tok), 6);
}

Test(credits, shown_in_key_list)
{
	const char *tok = it_key(NULL, "--remaining", "4", NULL);
	const char *plain = it_key(NULL, NULL);
	const char *list, *line;
	size_t i, n;
	int seen = 0;

	itu_expect(tok, NULL, APIKEY_VALID, 3);
	list = it_expect(NULL, 0, NULL, "key", "list", NULL);
	n = it_line_count(list);
	cr_assert_eq(n, 3, "%s", list);
	it_assert_has(it_line(list, 0), "REMAINING");
	for (i = 1; i < n; i++) {
		line = it_line(list, i);
		if (strstr(line, it_id(tok)) != NULL) {
			cr_assert_eq(line[strlen(line) - 1], '3', "%s", line);
			cr_assert_eq(line[strlen(line) - 2], ' ', "%s", line);
			seen++;
		} else if (strstr(line, it_id(plain)) != NULL) {
			cr_assert_eq(line[strlen(line) - 1], '-', "%s", line);
			cr_assert_eq(line[strlen(line) - 2], ' ', "%s", line);
			seen++;
		}
	}
	cr_assert_eq(seen, 2, "%s", list);
}

/* --- source allowlists -------------------------------------------------------- */

static void
cidr_rejected(const char *value)
{
	struct it_run r;

	cr_assert_eq(it_ctl(&r, NULL, NULL, "key", "create", "-q",
	    "--allow-cidr", value, NULL), 7, "--allow-cidr %s: exit %d",
	    value, r.status);
	cr_assert_str_eq(r.err, it_printf("apikeyctl: '%s' is not an IPv4 "
	    "or IPv6 address or range\n", value));
	cr_assert_str_eq(r.out, "");
}

Test(cidr, create_rejects_malformed)
{
	static const char *const bad[] = {
		"10.0.0.0/33", "300.1.1.1", "::/129", "host.example",
		"10.0.0.0/", "10.0.0.0/8/8", "2001:db8::/32x", "10.0.0/8",
		"10.0.0.0/+8",
	};
	struct it_run r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cidr_rejected(bad[i]);
	/* One bad range among good ones is named, and nothing is made. */
	cr_assert_eq(it_ctl(&r, NULL, NULL, "key", "create", "--allow-cidr",
	    "10.0.0.0/8", "--allow-cidr", "2001:db8::/129", NULL), 7);
	it_assert_has(r.err, "'2001:db8::/129'");
	cr_assert_eq(it_line_count(it_expect(NULL, 0, NULL, "key", "list",
	    NULL)), 1, "a key was created");
}

Test(cidr, update_rejects_malformed)
{
	const char *tok = it_key(NULL, "--allow-cidr", "10.0.0.0/8", NULL);
	struct it_run r;

	cr_assert_eq(it_ctl(&r, NULL, NULL, "key", "update", it_id(tok),
	    "--allow-cidr", "192.0.2.0/33", NULL), 7);
	cr_assert_str_eq(r.err, "apikeyctl: '192.0.2.0/33' is not an IPv4 "
	    "or IPv6 address or range\n");
	cr_assert_str_eq(it_field(it_expect(NULL, 0, NULL, "key", "show",
	    it_id(tok), NULL), "allowed_cidrs"), "10.0.0.0/8");
	itu_expect(tok, "rhost=10.9.9.9", APIKEY_VALID, NO_CREDITS);
}

static void
source_ok(const char *tok, const char *rhost)
{
	itu_expect(tok, it_printf("rhost=%s", rhost), APIKEY_VALID, ANY);
}

static void
source_refused(const char *tok, const char *rhost)
{
	struct apikey_result *res = it_verify(tok, it_printf("rhost=%s",
	    rhost));
	enum apikey_code c = apikey_result_code(res);

	cr_assert_eq(c, APIKEY_FORBIDDEN, "rhost %s answered %s", rhost,
	    apikey_code_name(c));
	it_assert_has(apikey_result_reason(res), rhost);
	apikey_result_free(res);
}

Test(cidr, ipv4)
{
	const char *tok = it_key(NULL, "--allow-cidr", "10.0.0.0/8",
	    "--allow-cidr", "198.51.100.0/24", "--allow-cidr", "192.0.2.7",
	    NULL);

	cr_assert_str_eq(it_field(it_expect(NULL, 0, NULL, "key", "show",
	    it_id(tok), NULL), "allowed_cidrs"),
	    "10.0.0.0/8, 198.51.100.0/24, 192.0.2.7");
	source_ok(tok, "10.0.0.0");
	source_ok(tok, "10.1.2.3");
	source_ok(tok, "10.255.255.255");
	source_ok(tok, "198.51.100.0");
	source_ok(tok, "198.51.100.255");
	source_ok(tok, "192.0.2.7");
	/* IPv4 ranges match IPv4-mapped IPv6 addresses. */
	source_ok(tok, "::ffff:10.1.2.3");
	source_ok(tok, "::ffff:192.0.2.7");
	source_refused(tok, "9.255.255.255");
	source_refused(tok, "11.0.0.0");
	source_refused(tok, "198.51.99.255");
	source_refused(tok, "198.51.101.0");
	source_refused(tok, "192.0.2.6");
	source_refused(tok, "192.0.2.8");
	source_refused(tok, "::ffff:11.0.0.1");
	source_refused(tok, "2001:db8::1");
	source_refused(tok, "host.example");
}

Test(cidr, ipv6)
{
	const char *tok = it_key(NULL, "--allow-cidr", "2001:db8::/32",
	    "--allow-cidr", "fd00:1::7/128", NULL);

	source_ok(tok, "2001:db8::");
	source_ok(tok, "2001:db8::1");
	source_ok(tok, "2001:DB8:ffff:ffff:ffff:ffff:ffff:ffff");
	source_ok(tok, "fd00:1::7");
	source_ok(tok, "fd00:1:0:0:0:0:0:7");
	source_refused(tok, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff");
	source_refused(tok, "2001:db9::");
	source_refused(tok, "fd00:1::6");
	source_refused(tok, "fd00:1::8");
	source_refused(tok, "10.0.0.1");
	source_refused(tok, "::ffff:10.0.0.1");
	source_refused(tok, "::1");
}

Test(cidr, edges)
{
	const char *any4 = it_key(NULL, "--allow-cidr", "0.0.0.0/0", NULL);
	const char *any6 = it_key(NULL, "--allow-cidr", "::/0", NULL);
	const char *one4 = it_key(NULL, "--allow-cidr", "192.0.2.7/32", NULL);
	const char *one6 = it_key(NULL, "--allow-cidr", "2001:db8::7/128",
	    NULL);
	const char *mapped = it_key(NULL, "--allow-cidr", "::ffff:192.0.2.0/120",
	    NULL);

	source_ok(any4, "0.0.0.0");
	source_ok(any4, "255.255.255.255");
	source_ok(any4, "::ffff:203.0.113.9");
	source_refused(any4, "2001:db8::1");
	source_refused(any4, "::1");

	/* ::/0 is every IPv6 address, the IPv4-mapped ones included. */
	source_ok(any6, "::");
	source_ok(any6, "::1");
	source_ok(any6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	source_ok(any6, "203.0.113.9");

	source_ok(one4, "192.0.2.7");
	source_ok(one4, "::ffff:192.0.2.7");
	source_refused(one4, "192.0.2.6");
	source_refused(one4, "192.0.2.8");

	source_ok(one6, "2001:db8::7");
	source_refused(one6, "2001:db8::6");
	source_refused(one6, "2001:db8::8");
	source_refused(one6, "2001:db8::7:0");

	source_ok(mapped, "192.0.2.1");
	source_ok(mapped, "::ffff:192.0.2.255");
	source_refused(mapped, "192.0.3.0");
}

Test(cidr, no_remote_host_is_forbidden)
{
	const char *tok = it_key(NULL, "--allow-cidr", "10.0.0.0/8", NULL);
	struct apikey_result *res;

	res = it_verify(tok, NULL);
	cr_assert_eq(apikey_result_code(res), APIKEY_FORBIDDEN);
	it_assert_has(apikey_result_reason(res), "no remote host");
	apikey_result_free(res);
	itu_expect(tok, "svc=sshd user=root", APIKEY_FORBIDDEN, ANY);
	itu_expect(tok, "rhost=10.0.0.1", APIKEY_VALID, NO_CREDITS);

	/* --no-cidrs lifts the allowlist; a new list replaces the old. */
	it_expect(NULL, 0, NULL, "key", "update", it_id(tok), "--no-cidrs",
	    NULL);
	cr_assert_str_eq(it_field(it_expect(NULL, 0, NULL, "key", "show",
	    it_id(tok), NULL), "allowed_cidrs"), "-");
	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	itu_expect(tok, "rhost=192.0.2.1", APIKEY_VALID, NO_CREDITS);
	it_expect(NULL, 0, NULL, "key", "update", it_id(tok), "--allow-cidr",
	    "192.0.2.0/24", NULL);
	itu_expect(tok, "rhost=192.0.2.1", APIKEY_VALID, NO_CREDITS);
	source_refused(tok, "10.0.0.1");
	itu_expect(tok, NULL, APIKEY_FORBIDDEN, ANY);
}

Test(cidr, through_apikeyctl)
{
	const char *tok = it_key(NULL, "--allow-cidr", "2001:db8::/32", NULL);
	struct it_run r;

	cr_assert_eq(itu_json_code(itu_ctl_verify(NULL, tok, "--rhost",
	    "2001:db8::5", NULL)), APIKEY_VALID);
	cr_assert_eq(itu_json_code(itu_ctl_verify(NULL, tok, "--rhost",
	    "2001:db9::5", NULL)), APIKEY_FORBIDDEN);
	cr_assert_eq(itu_json_code(itu_ctl_verify(NULL, tok, NULL)),
	    APIKEY_FORBIDDEN);
	/* The caller's uid plays no part: alice's verify is judged alike. */
	cr_assert_eq(itu_json_code(itu_ctl_verify("alice", tok, "--rhost",
	    "2001:db8::5", NULL)), APIKEY_VALID);
	cr_assert_eq(it_ctl(&r, NULL, it_printf("%s\n", tok), "verify", "-",
	    "--rhost", "2001:db9::5", NULL), 1);
	cr_assert_eq(strncmp(it_line(r.out, 0), "FORBIDDEN: ", 11), 0,
	    "first line: %s", it_line(r.out, 0));
}

/* --- failure throttling ------------------------------------------------------- */

/*
 * alice fails three times through apikeyctl (the verify socket takes any
 * uid). Until her back-off of 1 s ends, her failing verifies answer
 * RATE_LIMITED without key details, but a valid key is still VALID, for
 * her as for everyone: throttling never refuses a token that verifies.
 * bob, another source, still gets his real answers.
 */
Test(throttle, failing_source_backs_off)
{
	const char *tok = it_key(NULL, NULL), *bad = it_wrong_secret(tok);
	int64_t end;
	json_int_t retry;
	json_t *doc;
	int i, limited_seen = 0;

	for (i = 0; i < 3; i++)
		cr_assert_eq(itu_json_code(itu_ctl_verify("alice", bad, NULL)),
		    APIKEY_NOT_FOUND);
	doc = itu_ctl_verify("alice", bad, NULL);
	cr_assert_eq(itu_json_code(doc), APIKEY_RATE_LIMITED);
	retry = json_integer_value(json_object_get(doc, "retry_after_ms"));
	cr_assert(retry > 0 && retry <= 1000, "retry_after_ms %lld",
	    (long long)retry);
	cr_assert(json_is_null(json_object_get(doc, "key")));
	cr_assert_eq(itu_json_code(itu_ctl_verify("alice", tok, NULL)),
	    APIKEY_VALID);
	cr_assert_eq(itu_json_code(itu_ctl_verify("bob", bad, NULL)),
	    APIKEY_NOT_FOUND);
	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);

	end = it_now_ms() + IT_DEADLINE_MS;
	for (;;) {
		doc = itu_ctl_verify("alice", bad, NULL);
		if (itu_json_code(doc) == APIKEY_NOT_FOUND)
			break;
		cr_assert_eq(itu_json_code(doc), APIKEY_RATE_LIMITED);
		limited_seen++;
		cr_assert(it_now_ms() < end, "alice still throttled after %d "
		    "ms", IT_DEADLINE_MS);
		it_msleep(50);
	}
	cr_log_info("alice: %d more RATE_LIMITED before NOT_FOUND",
	    limited_seen);
}

/* Root verifying for a remote host: the pair (uid 0, host) is the source,
 * so another host, and the same host's valid key, are unaffected. */
Test(throttle, rhost_backs_off)
{
	const char *tok = it_key(NULL, NULL), *bad = it_wrong_secret(tok);
	struct apikey_result *res;
	uint64_t retry;
	int i;

	for (i = 0; i < 3; i++)
		itu_expect(bad, "svc=sshd rhost=192.0.2.1", APIKEY_NOT_FOUND,
		    ANY);
	retry = limited(bad, "svc=sshd rhost=192.0.2.1");
	cr_assert(retry > 0 && retry <= 1000, "retry after %llu ms",
	    (unsigned long long)retry);
	itu_expect(tok, "svc=sshd rhost=192.0.2.1", APIKEY_VALID, NO_CREDITS);
	itu_expect(bad, "svc=sshd rhost=192.0.2.2", APIKEY_NOT_FOUND, ANY);
	itu_expect(bad, "svc=sshd", APIKEY_NOT_FOUND, ANY);
	res = itu_wait_result(bad, "svc=sshd rhost=192.0.2.1",
	    APIKEY_NOT_FOUND);
	apikey_result_free(res);
}

/*
 * RATE_LIMITED and USAGE_EXCEEDED concern a valid secret and are not
 * failures: many of them leave root (no remote host) unthrottled, while
 * three real failures do throttle root's failing verifies.
 */
Test(throttle, limits_are_not_failures)
{
	const char *rated = it_key(NULL, "--rate", "1/1h", NULL);
	const char *spent = it_key(NULL, "--remaining", "0", NULL);
	const char *tok = it_key(NULL, NULL), *bad = it_wrong_secret(tok);
	int i;

	itu_expect(rated, NULL, APIKEY_VALID, NO_CREDITS);
	for (i = 0; i < 5; i++) {
		cr_assert_gt(limited(rated, NULL), 1000,
		    "the key's window, not a back-off");
		itu_expect(spent, NULL, APIKEY_USAGE_EXCEEDED, 0);
	}
	itu_expect(bad, NULL, APIKEY_NOT_FOUND, ANY);

	for (i = 0; i < 2; i++)
		itu_expect(bad, NULL, APIKEY_NOT_FOUND, ANY);
	cr_assert_leq(limited(bad, NULL), 1000);
	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
}

/* --- last use ------------------------------------------------------------------- */

/* The key's use counters from `key show --json`. */
static void
use_of(const char *tok, json_int_t *count, json_t **last_used)
{
	json_t *doc = itu_show_json(tok);

	*count = json_integer_value(json_object_get(doc, "use_count"));
	*last_used = json_object_get(doc, "last_used");
}

static const char *
iso_time(time_t t)
{
	char buf[32];
	struct tm tm;

	cr_assert_not_null(gmtime_r(&t, &tm));
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return it_printf("%s", buf);
}

/* Polls until the key's stored use count reaches want; asserts it is
 * exactly want and returns last_used. */
static time_t
wait_use_count(const char *tok, json_int_t want)
{
	int64_t end = it_now_ms() + IT_DEADLINE_MS;
	json_int_t count;
	json_t *last;

	for (;;) {
		use_of(tok, &count, &last);
		if (count >= want)
			break;
		cr_assert(it_now_ms() < end, "use_count still %lld after %d "
		    "ms, expected %lld", (long long)count, IT_DEADLINE_MS,
		    (long long)want);
		it_msleep(50);
	}
	cr_assert_eq(count, want, "use_count %lld, expected %lld",
	    (long long)count, (long long)want);
	cr_assert(json_is_integer(last), "use_count %lld without last_used",
	    (long long)count);
	return (time_t)json_integer_value(last);
}

Test(use, last_used_after_flush, .init = setup_flush_fast)
{
	const char *tok = it_key(NULL, "--service", "sshd", NULL);
	const char *paid = it_key(NULL, "--remaining", "5", NULL);
	const char *show;
	struct apikey_key *k;
	json_int_t count;
	json_t *last;
	time_t before, used;
	int i;

	use_of(tok, &count, &last);
	cr_assert_eq(count, 0);
	cr_assert(json_is_null(last));
	show = it_expect(NULL, 0, NULL, "key", "show", it_id(tok), NULL);
	cr_assert_str_eq(it_field(show, "last_used"), "never");
	cr_assert_str_eq(it_field(show, "use_count"), "0");

	before = itu_now();
	itu_expect(tok, "svc=ftp", APIKEY_FORBIDDEN, ANY);
	for (i = 0; i < 3; i++)
		itu_expect(tok, "svc=sshd", APIKEY_VALID, NO_CREDITS);
	itu_expect(paid, NULL, APIKEY_VALID, 4);
	itu_expect(paid, NULL, APIKEY_VALID, 3);

	used = wait_use_count(tok, 3);
	cr_assert_geq(used, before);
	cr_assert_leq(used, itu_now());
	cr_assert_geq(used, itu_now() - 60);
	show = it_expect(NULL, 0, NULL, "key", "show", it_id(tok), NULL);
	cr_assert_str_eq(it_field(show, "last_used"), iso_time(used));
	cr_assert_str_eq(it_field(show, "use_count"), "3");
	k = itu_show(tok);
	cr_assert_eq(apikey_key_last_used(k), used);
	cr_assert_eq(apikey_key_use_count(k), 3);
	apikey_key_free(k);

	/* Keys with credits are counted the same way. */
	used = wait_use_count(paid, 2);
	cr_assert_geq(used, before);
	cr_assert_leq(used, itu_now());
}

Test(use, flushed_at_shutdown, .init = setup_flush_never)
{
	const char *tok = it_key(NULL, "--rate", "2/1h", NULL);
	json_int_t count;
	json_t *last;
	time_t before, used;

	before = itu_now();
	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	itu_expect(tok, NULL, APIKEY_VALID, NO_CREDITS);
	limited(tok, NULL);
	itu_expect(tok, "perm=doc:read", APIKEY_INSUFFICIENT_PERMISSIONS, ANY);
	/* With a flush a day away, nothing is written before the stop. */
	use_of(tok, &count, &last);
	cr_assert_eq(count, 0);
	cr_assert(json_is_null(last));

	it_stop();
	it_start();
	use_of(tok, &count, &last);
	cr_assert_eq(count, 2, "use_count %lld after the restart",
	    (long long)count);
	cr_assert(json_is_integer(last));
	used = (time_t)json_integer_value(last);
	cr_assert_geq(used, before);
	cr_assert_leq(used, itu_now());
}
