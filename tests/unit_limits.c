/*
 * unit_limits.c - rate windows, failure throttling and credit arithmetic
 * (daemon/limits.c).
 *
 * Every function takes the time as a parameter, so the tests move a clock
 * of their own instead of sleeping: each test picks instants relative to
 * an arbitrary start and checks the exact retry time the daemon would send.
 * The throttle fixture uses 3 failures per 10 s window and a 5 s backoff,
 * small numbers whose edges are easy to reach by hand.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../daemon/limits.h"
#include "../proto/proto.h"

#define T0		1700000000000ULL	/* ms */
#define WINDOW		10000ULL
#define BACKOFF		5000ULL
#define RATE_ENTRIES	(256 * 1024)		/* as in limits.c */
#define FAIL_ENTRIES	(64 * 1024)

static struct limits	*l;

static void
setup(void)
{
	struct limits_conf conf = { 3, WINDOW, BACKOFF };

	l = NULL;
	cr_assert_eq(limits_new(&conf, &l), 0);
	cr_assert_not_null(l);
}

static void
teardown(void)
{
	limits_free(l);
}

TestSuite(rate, .init = setup, .fini = teardown);
TestSuite(throttle, .init = setup, .fini = teardown);
TestSuite(credits);

/* Takes a slot and expects success; *retry must stay untouched. */
static void
take_ok(const char *id, uint32_t max, uint32_t window, uint64_t now)
{
	uint64_t	 retry = 12345;

	cr_expect_eq(limits_rate_take(l, id, max, window, now, &retry), 0,
	    "%s refused at %+lld", id, (long long)(now - T0));
	cr_expect_eq(retry, 12345);
}

static void
take_limited(const char *id, uint32_t max, uint32_t window, uint64_t now,
    uint64_t want_retry)
{
	uint64_t	 retry = 12345;

	cr_expect_eq(limits_rate_take(l, id, max, window, now, &retry),
	    PROTO_RATE_LIMITED, "%s allowed at %+lld", id,
	    (long long)(now - T0));
	cr_expect_eq(retry, want_retry, "retry %llu, want %llu",
	    (unsigned long long)retry, (unsigned long long)want_retry);
}

/* ------------------------------------------------------------------ */
/* Rate windows */

Test(rate, max_per_window_then_limited)
{
	take_ok("key1", 3, 1000, T0);
	take_ok("key1", 3, 1000, T0 + 10);
	take_ok("key1", 3, 1000, T0 + 20);
	take_limited("key1", 3, 1000, T0 + 30, 970);
	take_limited("key1", 3, 1000, T0 + 999, 1);
	/* A refusal takes no slot and does not move the window. */
	take_limited("key1", 3, 1000, T0 + 500, 500);
}

Test(rate, window_resets_at_its_end)
{
	take_ok("key1", 3, 1000, T0);
	take_ok("key1", 3, 1000, T0);
	take_ok("key1", 3, 1000, T0);
	take_limited("key1", 3, 1000, T0 + 999, 1);
	/* The window is [T0, T0 + 1000). */
	take_ok("key1", 3, 1000, T0 + 1000);
	take_ok("key1", 3, 1000, T0 + 1001);
	take_ok("key1", 3, 1000, T0 + 1999);
	/* The new window started at T0 + 1000, not at the refusal. */
	take_limited("key1", 3, 1000, T0 + 1999, 1);
	take_ok("key1", 3, 1000, T0 + 2000);
}

Test(rate, window_starts_at_first_verify)
{
	take_ok("key1", 2, 1000, T0 + 250);
	take_ok("key1", 2, 1000, T0 + 900);
	take_limited("key1", 2, 1000, T0 + 1000, 250);
	take_ok("key1", 2, 1000, T0 + 1250);
}

Test(rate, late_verify_opens_a_fresh_window)
{
	take_ok("key1", 1, 1000, T0);
	take_limited("key1", 1, 1000, T0 + 1, 999);
	/* Long after: the window starts at this verify, not at T0 + 5000. */
	take_ok("key1", 1, 1000, T0 + 5500);
	take_limited("key1", 1, 1000, T0 + 5600, 900);
}

Test(rate, keys_independent)
{
	take_ok("key1", 1, 1000, T0);
	take_limited("key1", 1, 1000, T0, 1000);
	take_ok("key2", 1, 1000, T0 + 100);
	take_limited("key2", 1, 1000, T0 + 100, 1000);
	take_limited("key1", 1, 1000, T0 + 100, 900);
	take_ok("key1", 1, 1000, T0 + 1000);
	take_limited("key2", 1, 1000, T0 + 1000, 100);
	/* Ids that share a prefix are still distinct keys. */
	take_ok("key", 1, 1000, T0 + 1000);
	take_ok("key10", 1, 1000, T0 + 1000);
}

Test(rate, changed_window_length_resets)
{
	take_ok("key1", 2, 1000, T0);
	take_ok("key1", 2, 1000, T0 + 1);
	take_limited("key1", 2, 1000, T0 + 2, 998);
	/* The key was updated to a 60 s window: a fresh window from now. */
	take_ok("key1", 2, 60000, T0 + 3);
	take_ok("key1", 2, 60000, T0 + 4);
	take_limited("key1", 2, 60000, T0 + 5, 59998);
	/* Back to 1 s, still inside the old 1 s window: also fresh. */
	take_ok("key1", 2, 1000, T0 + 6);
}

Test(rate, raised_max_applies_to_current_window)
{
	take_ok("key1", 1, 1000, T0);
	take_limited("key1", 1, 1000, T0 + 1, 999);
	/* Same window length: the count carries over against the new max. */
	take_ok("key1", 2, 1000, T0 + 2);
	take_limited("key1", 2, 1000, T0 + 3, 997);
}

Test(rate, zero_time)
{
	/* The clock's zero is a valid instant for a window start. */
	take_ok("key1", 1, 1000, 0);
	take_limited("key1", 1, 1000, 999, 1);
	take_ok("key1", 1, 1000, 1000);
}

Test(rate, one_ms_window)
{
	take_ok("key1", 1, 1, T0);
	take_limited("key1", 1, 1, T0, 1);
	take_ok("key1", 1, 1, T0 + 1);
}

Test(rate, full_table_refuses_until_windows_pass, .timeout = 60)
{
	char		 id[32];
	uint64_t	 retry = 0;
	int		 i;

	/* Fill the table with keys whose windows end at T0 + 1000. */
	for (i = 0; i < RATE_ENTRIES; i++) {
		snprintf(id, sizeof(id), "fill%d", i);
		cr_assert_eq(limits_rate_take(l, id, 5, 1000, T0, &retry), 0,
		    "%s", id);
	}
	/* A limit is never lifted by a full table: the new key waits. */
	take_limited("newkey", 5, 2000, T0 + 500, 2000);
	/* Known keys still count. */
	take_ok("fill7", 5, 1000, T0 + 500);
	/* Once the old windows are over, pruning makes room. */
	take_ok("newkey", 5, 2000, T0 + 1000);
	take_limited("newkey", 1, 2000, T0 + 1000 + 1999, 1);
}

/* ------------------------------------------------------------------ */
/* Failure throttling: 3 failures in 10 s, 5 s backoff */

static int
throttled(uid_t uid, const char *rhost, uint64_t now, uint64_t *retry)
{
	return limits_throttled(l, uid, rhost, now, retry);
}

static void
expect_free(uid_t uid, const char *rhost, uint64_t now)
{
	uint64_t	 retry = 777;

	cr_expect_eq(throttled(uid, rhost, now, &retry), 0,
	    "uid %u rhost '%s' throttled at %+lld", (unsigned)uid, rhost,
	    (long long)(now - T0));
	cr_expect_eq(retry, 777);
}

static void
expect_throttled(uid_t uid, const char *rhost, uint64_t now,
    uint64_t want_retry)
{
	uint64_t	 retry = 777;

	cr_expect_eq(throttled(uid, rhost, now, &retry), 1,
	    "uid %u rhost '%s' not throttled at %+lld", (unsigned)uid, rhost,
	    (long long)(now - T0));
	cr_expect_eq(retry, want_retry, "retry %llu, want %llu",
	    (unsigned long long)retry, (unsigned long long)want_retry);
}

Test(throttle, three_failures_throttle_the_uid)
{
	limits_failed(l, 1000, "", T0);
	expect_free(1000, "", T0 + 1);
	limits_failed(l, 1000, "", T0 + 100);
	expect_free(1000, "", T0 + 101);
	limits_failed(l, 1000, "", T0 + 200);
	/* Backoff counted from the third failure. */
	expect_throttled(1000, "", T0 + 200, 5000);
	expect_throttled(1000, "", T0 + 1200, 4000);
	expect_throttled(1000, "", T0 + 5199, 1);
	expect_free(1000, "", T0 + 5200);
	expect_free(1000, "", T0 + 100000);
}

Test(throttle, other_uid_unaffected)
{
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 1000, "", T0);
	expect_throttled(1000, "", T0 + 1, 4999);
	expect_free(1001, "", T0 + 1);
	expect_free(0, "", T0 + 1);
	/* The uid is throttled whatever remote host it names. */
	expect_throttled(1000, "192.0.2.1", T0 + 1, 4999);
}

Test(throttle, failures_spread_over_more_than_window)
{
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 1000, "", T0 + 5000);
	/* The window [T0, T0 + 10 s) has ended: this one starts a new one. */
	limits_failed(l, 1000, "", T0 + WINDOW);
	expect_free(1000, "", T0 + WINDOW);
	limits_failed(l, 1000, "", T0 + WINDOW + 9000);
	expect_free(1000, "", T0 + WINDOW + 9000);
	/* Third failure inside the window that began at T0 + 10 s. */
	limits_failed(l, 1000, "", T0 + WINDOW + 9999);
	expect_throttled(1000, "", T0 + WINDOW + 9999, BACKOFF);
}

Test(throttle, last_failure_just_inside_window)
{
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 1000, "", T0 + 1);
	limits_failed(l, 1000, "", T0 + WINDOW - 1);
	expect_throttled(1000, "", T0 + WINDOW - 1, BACKOFF);
}

Test(throttle, counting_starts_over_after_backoff)
{
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 1000, "", T0);
	expect_throttled(1000, "", T0, BACKOFF);
	expect_free(1000, "", T0 + BACKOFF);
	/* One or two more failures after the backoff are not enough. */
	limits_failed(l, 1000, "", T0 + BACKOFF);
	limits_failed(l, 1000, "", T0 + BACKOFF + 1);
	expect_free(1000, "", T0 + BACKOFF + 2);
	limits_failed(l, 1000, "", T0 + BACKOFF + 2);
	expect_throttled(1000, "", T0 + BACKOFF + 2, BACKOFF);
}

Test(throttle, root_with_rhost_counts_the_rhost_only)
{
	limits_failed(l, 0, "192.0.2.1", T0);
	limits_failed(l, 0, "192.0.2.1", T0 + 1);
	limits_failed(l, 0, "192.0.2.1", T0 + 2);
	expect_throttled(0, "192.0.2.1", T0 + 2, BACKOFF);
	/* sshd's other clients are unaffected. */
	expect_free(0, "192.0.2.2", T0 + 2);
	expect_free(0, "", T0 + 2);
	/* Any caller naming that remote host is throttled. */
	expect_throttled(1000, "192.0.2.1", T0 + 1002, BACKOFF - 1000);
	expect_free(1000, "", T0 + 2);
	expect_free(0, "192.0.2.1", T0 + 2 + BACKOFF);
}

Test(throttle, root_without_rhost_counts_uid_0)
{
	limits_failed(l, 0, "", T0);
	limits_failed(l, 0, "", T0);
	limits_failed(l, 0, "", T0);
	expect_throttled(0, "", T0, BACKOFF);
	/* Root verifying for a remote host is not counted as uid 0. */
	expect_free(0, "192.0.2.1", T0);
}

Test(throttle, root_failures_with_different_rhosts_do_not_add_up)
{
	limits_failed(l, 0, "192.0.2.1", T0);
	limits_failed(l, 0, "192.0.2.2", T0);
	limits_failed(l, 0, "2001:db8::1", T0);
	limits_failed(l, 0, "", T0);
	limits_failed(l, 0, "", T0);
	expect_free(0, "192.0.2.1", T0);
	expect_free(0, "192.0.2.2", T0);
	expect_free(0, "2001:db8::1", T0);
	expect_free(0, "", T0);
}

Test(throttle, non_root_with_rhost_counts_both)
{
	limits_failed(l, 1000, "192.0.2.9", T0);
	limits_failed(l, 1000, "192.0.2.9", T0);
	limits_failed(l, 1000, "192.0.2.9", T0);
	expect_throttled(1000, "192.0.2.9", T0, BACKOFF);
	/* The uid, with any or no remote host. */
	expect_throttled(1000, "", T0, BACKOFF);
	expect_throttled(1000, "198.51.100.1", T0, BACKOFF);
	/* The remote host, with any caller. */
	expect_throttled(0, "192.0.2.9", T0, BACKOFF);
	expect_throttled(1001, "192.0.2.9", T0, BACKOFF);
	expect_free(1001, "198.51.100.1", T0);
	expect_free(0, "", T0);
}

Test(throttle, uid_and_rhost_counted_separately)
{
	/* Two failures as uid 1000 alone, one from the host as root. */
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 0, "192.0.2.9", T0);
	expect_free(1000, "192.0.2.9", T0);
	/* One more from both: the uid reaches 3, the host only 2. */
	limits_failed(l, 1000, "192.0.2.9", T0 + 1);
	expect_throttled(1000, "", T0 + 1, BACKOFF);
	expect_free(0, "192.0.2.9", T0 + 1);
	expect_free(1001, "192.0.2.9", T0 + 1);
}

Test(throttle, longest_rhost)
{
	char	 host[PROTO_RHOST_MAX + 1], other[PROTO_RHOST_MAX + 1];

	memset(host, 'h', PROTO_RHOST_MAX);
	host[PROTO_RHOST_MAX] = '\0';
	strcpy(other, host);
	other[PROTO_RHOST_MAX - 1] = 'x';
	limits_failed(l, 0, host, T0);
	limits_failed(l, 0, host, T0);
	limits_failed(l, 0, host, T0);
	expect_throttled(0, host, T0, BACKOFF);
	/* Differs in the last character only: not truncated together. */
	expect_free(0, other, T0);
}

Test(throttle, fail_max_zero_disables)
{
	struct limits_conf conf = { 0, WINDOW, BACKOFF };
	struct limits	*off = NULL;
	uint64_t	 retry = 777;
	int		 i;

	cr_assert_eq(limits_new(&conf, &off), 0);
	for (i = 0; i < 100; i++) {
		limits_failed(off, 1000, "", T0 + (uint64_t)i);
		limits_failed(off, 0, "192.0.2.1", T0 + (uint64_t)i);
	}
	cr_expect_eq(limits_throttled(off, 1000, "", T0 + 100, &retry), 0);
	cr_expect_eq(limits_throttled(off, 0, "192.0.2.1", T0 + 100, &retry),
	    0);
	cr_expect_eq(retry, 777);
	limits_free(off);
}

Test(throttle, fail_max_one)
{
	struct limits_conf conf = { 1, WINDOW, BACKOFF };
	struct limits	*one = NULL;
	uint64_t	 retry = 0;

	cr_assert_eq(limits_new(&conf, &one), 0);
	cr_expect_eq(limits_throttled(one, 1000, "", T0, &retry), 0);
	limits_failed(one, 1000, "", T0);
	cr_expect_eq(limits_throttled(one, 1000, "", T0, &retry), 1);
	cr_expect_eq(retry, BACKOFF);
	limits_free(one);
}

Test(throttle, full_table_stops_counting, .timeout = 60)
{
	char	 host[32];
	int	 i;

	/* Root with a remote host is exactly one source per failure. */
	for (i = 0; i < FAIL_ENTRIES; i++) {
		snprintf(host, sizeof(host), "10.%d.%d.1", i / 256, i % 256);
		limits_failed(l, 0, host, T0);
	}
	limits_failed(l, 0, "192.0.2.1", T0 + 1);
	limits_failed(l, 0, "192.0.2.1", T0 + 2);
	limits_failed(l, 0, "192.0.2.1", T0 + 3);
	expect_free(0, "192.0.2.1", T0 + 3);
	/* Sources already counted go on being counted. */
	limits_failed(l, 0, "10.0.5.1", T0 + 9000);
	limits_failed(l, 0, "10.0.5.1", T0 + 9001);
	expect_throttled(0, "10.0.5.1", T0 + 9001, BACKOFF);
	/* Once the windows have passed, pruning makes room again. */
	limits_failed(l, 0, "192.0.2.1", T0 + WINDOW);
	limits_failed(l, 0, "192.0.2.1", T0 + WINDOW);
	limits_failed(l, 0, "192.0.2.1", T0 + WINDOW);
	expect_throttled(0, "192.0.2.1", T0 + WINDOW, BACKOFF);
	/* The source still backing off survived the prune. */
	expect_throttled(0, "10.0.5.1", T0 + WINDOW, 9001 + BACKOFF - WINDOW);
	expect_free(0, "10.0.5.1", T0 + 9001 + BACKOFF);
}

/* ------------------------------------------------------------------ */
/* Credits */

static struct proto_limits *
limits_with(uint64_t amount, uint64_t interval)
{
	static struct proto_limits lim;

	memset(&lim, 0, sizeof(lim));
	lim.has_credits = 1;
	lim.remaining = 999;	/* as configured; not what is left */
	lim.refill_amount = amount;
	lim.refill_interval = interval;
	return &lim;
}

Test(credits, no_refill_is_stored_remaining)
{
	struct store_usage u = { .remaining = 42, .last_refill_at = 0 };
	uint64_t	 at = 99;

	cr_expect_eq(credits_available(limits_with(0, 0), &u, 5000, &at), 42);
	cr_expect_eq(at, 0);
	at = 99;
	cr_expect_eq(credits_available(limits_with(0, 0), &u, UINT64_MAX,
	    &at), 42);
	cr_expect_eq(at, 0);
}

Test(credits, refill_after_interval)
{
	struct store_usage u = { .remaining = 7, .last_refill_at = 1000 };
	const struct proto_limits *lim = limits_with(100, 3600);
	uint64_t	 at = 99;

	cr_expect_eq(credits_available(lim, &u, 1000, &at), 7);
	cr_expect_eq(at, 0);
	at = 99;
	cr_expect_eq(credits_available(lim, &u, 4599, &at), 7);
	cr_expect_eq(at, 0);
	cr_expect_eq(credits_available(lim, &u, 4600, &at), 100);
	cr_expect_eq(at, 4600);
	cr_expect_eq(credits_available(lim, &u, 1000000, &at), 100);
	cr_expect_eq(at, 1000000);
	/* Pure: the usage record is not changed. */
	cr_expect_eq(u.remaining, 7);
	cr_expect_eq(u.last_refill_at, 1000);
}

Test(credits, refill_replaces_rather_than_adds)
{
	struct store_usage u = { .remaining = 250, .last_refill_at = 1000 };
	uint64_t	 at = 0;

	/* Unused credits above the amount are not kept. */
	cr_expect_eq(credits_available(limits_with(100, 3600), &u, 4600, &at),
	    100);
	cr_expect_eq(at, 4600);
}

Test(credits, zero_remaining_without_refill)
{
	struct store_usage u = { .remaining = 0, .last_refill_at = 1000 };
	uint64_t	 at = 99;

	cr_expect_eq(credits_available(limits_with(0, 3600), &u, 1000000,
	    &at), 0);
	cr_expect_eq(at, 0);
}

Test(credits, refill_amount_zero_never_refills)
{
	struct store_usage u = { .remaining = 3, .last_refill_at = 0 };
	uint64_t	 at = 99;

	cr_expect_eq(credits_available(limits_with(0, 60), &u, 1000000, &at),
	    3);
	cr_expect_eq(at, 0);
	at = 99;
	cr_expect_eq(credits_available(limits_with(0, 60), &u, UINT64_MAX,
	    &at), 3);
	cr_expect_eq(at, 0);
}

Test(credits, interval_zero_never_refills)
{
	/* policy_spec_valid refuses this; the arithmetic stays safe. */
	struct store_usage u = { .remaining = 3, .last_refill_at = 1000 };
	uint64_t	 at = 99;

	cr_expect_eq(credits_available(limits_with(100, 0), &u, 1000000, &at),
	    3);
	cr_expect_eq(at, 0);
}

/* ------------------------------------------------------------------ */
/* The wall clock set back (clock_now_ms() is CLOCK_REALTIME) */

#define HOUR	3600000ULL

Test(rate, clock_set_back_starts_a_fresh_window)
{
	take_ok("key1", 1, 1000, T0);
	take_limited("key1", 1, 1000, T0 + 10, 990);
	/*
	 * An hour back: the old window would last another hour and tell the
	 * caller to retry in an hour. A window never outlasts its length.
	 */
	take_ok("key1", 1, 1000, T0 - HOUR);
	take_limited("key1", 1, 1000, T0 - HOUR + 1, 999);
}

Test(throttle, clock_set_back_never_backs_off_longer)
{
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 1000, "", T0);
	expect_throttled(1000, "", T0, BACKOFF);
	/* An hour back: at most the configured backoff from now. */
	expect_throttled(1000, "", T0 - HOUR, BACKOFF);
	expect_throttled(1000, "", T0 - HOUR + 1000, BACKOFF - 1000);
	expect_free(1000, "", T0 - HOUR + BACKOFF);
}

Test(throttle, clock_set_back_window_restarts)
{
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 1000, "", T0 + 1);
	/* An hour back, then two failures a full window apart in real time:
	 * they must not add up with the ones "in the future". */
	limits_failed(l, 1000, "", T0 - HOUR);
	expect_free(1000, "", T0 - HOUR);
	limits_failed(l, 1000, "", T0 - HOUR + WINDOW);
	expect_free(1000, "", T0 - HOUR + WINDOW);
	limits_failed(l, 1000, "", T0 - HOUR + 2 * WINDOW);
	expect_free(1000, "", T0 - HOUR + 2 * WINDOW);
}
