/*
 * unit_limits.c - rate windows, failure throttling and credit arithmetic
 * (daemon/limits.c).
 *
 * Every function takes the time as a parameter, so the tests move a clock
 * of their own instead of sleeping: each test picks instants relative to
 * an arbitrary start and checks the exact retry time the daemon would send.
 * The throttle fixture uses 3 failures per 10 s window and a 5 s backoff,
 * small numbers whose edges are easy to reach by hand. The tests of full
 * tables use small tables, but for one that proves the default size.
 */
#include <pthread.h>
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
#define OWNER		"u:1000"
#define SMALL		64			/* entries, for full tables */

static struct limits	*l;

static struct limits *
limits_sized(size_t rate_entries, size_t fail_entries)
{
	struct limits_conf conf = { 3, WINDOW, BACKOFF, rate_entries,
	    fail_entries };
	struct limits	*lim = NULL;

	cr_assert_eq(limits_new(&conf, &lim), 0);
	cr_assert_not_null(lim);
	return lim;
}

static void
setup(void)
{
	l = limits_sized(0, 0);
}

static void
teardown(void)
{
	limits_free(l);
}

TestSuite(rate, .init = setup, .fini = teardown);
TestSuite(throttle, .init = setup, .fini = teardown);
TestSuite(credits);

/* Takes a slot and expects rc; with rc 0 *retry must stay untouched. */
static void
take_as(const char *owner, const char *id, uint32_t max, uint32_t window,
    uint64_t now, int want, uint64_t want_retry)
{
	uint64_t	 retry = 12345;
	int		 rc;

	rc = limits_rate_take(l, id, owner, max, window, now, &retry);
	cr_expect_eq(rc, want, "%s of %s at %+lld: %d, want %d", id, owner,
	    (long long)(now - T0), rc, want);
	cr_expect_eq(retry, want == 0 ? 12345 : want_retry, "retry %llu, want "
	    "%llu", (unsigned long long)retry, (unsigned long long)want_retry);
}

static void
take_ok(const char *id, uint32_t max, uint32_t window, uint64_t now)
{
	take_as(OWNER, id, max, window, now, 0, 0);
}

static void
take_limited(const char *id, uint32_t max, uint32_t window, uint64_t now,
    uint64_t want_retry)
{
	take_as(OWNER, id, max, window, now, PROTO_RATE_LIMITED, want_retry);
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

/* Fleet writes: n records at once against a uid's minute. */
Test(rate, fleet_writes_count_records_per_uid)
{
	uint64_t	 retry = 0;

	cr_assert_eq(limits_writes_take(l, 1000, 3, 5, T0, &retry), 0);
	/* Three more would pass 5: refused whole, nothing counted. */
	cr_assert_eq(limits_writes_take(l, 1000, 3, 5, T0 + 100, &retry),
	    PROTO_RATE_LIMITED);
	cr_assert_eq(retry, LIMITS_WRITES_WINDOW_MS - 100);
	cr_assert_eq(limits_writes_take(l, 1000, 2, 5, T0 + 200, &retry), 0);
	cr_assert_eq(limits_writes_take(l, 1000, 1, 5, T0 + 300, &retry),
	    PROTO_RATE_LIMITED);
	/* Another uid has a window of its own; a key's rate window of the
	 * same owner is another entry. */
	cr_assert_eq(limits_writes_take(l, 1001, 5, 5, T0 + 300, &retry), 0);
	take_ok("key1", 1, 1000, T0 + 300);
	/* More than the limit at once never passes. */
	cr_assert_eq(limits_writes_take(l, 1002, 6, 5, T0, &retry),
	    PROTO_RATE_LIMITED);
	/* The next minute starts afresh. */
	cr_assert_eq(limits_writes_take(l, 1000, 5, 5,
	    T0 + LIMITS_WRITES_WINDOW_MS, &retry), 0);
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

Test(rate, owner_change_keeps_the_window)
{
	take_as("u:1000", "key1", 2, 1000, T0, 0, 0);
	/* The key moved to a tenant: its window goes on counting. */
	take_as("t:acme", "key1", 2, 1000, T0 + 1, 0, 0);
	take_as("t:acme", "key1", 2, 1000, T0 + 2, PROTO_RATE_LIMITED, 998);
}

Test(rate, owner_names)
{
	struct proto_owner o;
	char		 buf[LIMITS_OWNER_MAX];

	memset(&o, 0, sizeof(o));
	o.kind = PROTO_OWNER_USER;
	o.uid = 4294967294U;
	strcpy(o.tenant, "ignored");
	cr_expect_str_eq(limits_owner(&o, buf), "u:4294967294");
	o.kind = PROTO_OWNER_TENANT;
	memset(o.tenant, 'a', PROTO_TENANT_MAX);
	o.tenant[PROTO_TENANT_MAX] = '\0';
	cr_expect_eq(limits_owner(&o, buf), buf);
	cr_expect_eq(strlen(buf), 2 + PROTO_TENANT_MAX);
	strcpy(o.tenant, "acme");
	cr_expect_str_eq(limits_owner(&o, buf), "t:acme");
}

/* Fills the table with n keys of owner whose windows end at T0 + 1000
 * + i, so that fill0's ends first. */
static void
fill_rate(const char *owner, int n)
{
	char		 id[32];
	uint64_t	 retry = 0;
	int		 i;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "fill%d", i);
		cr_assert_eq(limits_rate_take(l, id, owner, 5, 1000 +
		    (uint32_t)i, T0, &retry), 0, "%s", id);
	}
}

Test(rate, full_table_refuses_only_the_owner_that_filled_it)
{
	limits_free(l);
	l = limits_sized(SMALL, 0);
	fill_rate("u:666", SMALL);
	/* A limit is never lifted by a full table: the filler's new key is
	 * refused, told to retry in a window. */
	take_as("u:666", "newkey", 5, 2000, T0 + 500, LIMITS_EFULL, 2000);
	/* Its known keys still count. */
	take_as("u:666", "fill7", 5, 1007, T0 + 500, 0, 0);
	/* Another owner's keys, user or tenant, still get windows. */
	take_as("u:1000", "mine", 1, 2000, T0 + 500, 0, 0);
	take_as("u:1000", "mine", 1, 2000, T0 + 600, PROTO_RATE_LIMITED, 1900);
	take_as("t:acme", "ours", 1, 2000, T0 + 600, 0, 0);
	/* The filler paid for them with its earliest-ending windows: fill0
	 * and fill1 start afresh, and only as room allows. */
	take_as("u:666", "fill0", 5, 1000, T0 + 700, LIMITS_EFULL, 1000);
	take_as("u:666", "fill2", 5, 1002, T0 + 700, 0, 0);
	/* Once its windows are over, the filler gets room again. */
	take_as("u:666", "newkey", 1, 2000, T0 + 1000 + SMALL, 0, 0);
	take_as("u:666", "newkey", 1, 2000, T0 + 2999 + SMALL,
	    PROTO_RATE_LIMITED, 1);
}

Test(rate, default_size_full_table, .timeout = 120)
{
	/* 0 in the configuration: LIMITS_RATE_ENTRIES. */
	fill_rate("u:666", LIMITS_RATE_ENTRIES);
	take_as("u:666", "newkey", 5, 2000, T0 + 500, LIMITS_EFULL, 2000);
	take_as("u:1000", "mine", 5, 2000, T0 + 500, 0, 0);
	take_as("u:666", "fill1", 5, 1001, T0 + 500, 0, 0);
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
	cr_expect_eq(limits_failed(l, 1000, "", T0), 0);
	expect_free(1000, "", T0 + 1);
	cr_expect_eq(limits_failed(l, 1000, "", T0 + 100), 0);
	expect_free(1000, "", T0 + 101);
	/* This one starts the backoff: the caller logs it. */
	cr_expect_eq(limits_failed(l, 1000, "", T0 + 200), 1);
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
	/* The uid naming a remote host is another source. */
	expect_free(1000, "192.0.2.1", T0 + 1);
}

Test(throttle, failed_reports_each_backoff_once)
{
	int	 i, started = 0;

	/* 30 failures in one window, 10 backoffs' worth: each third starts
	 * one. verify.c never counts a throttled request as a failure. */
	for (i = 0; i < 30; i++)
		started += limits_failed(l, 1000, "", T0 + (uint64_t)i);
	cr_expect_eq(started, 10);
	cr_expect_eq(limits_failed(l, 1000, "", T0 + 100), 0);
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

Test(throttle, root_with_rhost_counts_that_pair_only)
{
	limits_failed(l, 0, "192.0.2.1", T0);
	limits_failed(l, 0, "192.0.2.1", T0 + 1);
	limits_failed(l, 0, "192.0.2.1", T0 + 2);
	expect_throttled(0, "192.0.2.1", T0 + 2, BACKOFF);
	expect_throttled(0, "192.0.2.1", T0 + 1002, BACKOFF - 1000);
	/* sshd's other clients are unaffected. */
	expect_free(0, "192.0.2.2", T0 + 2);
	expect_free(0, "", T0 + 2);
	/* So are other callers naming that remote host. */
	expect_free(1000, "192.0.2.1", T0 + 2);
	expect_free(1000, "", T0 + 2);
	expect_free(0, "192.0.2.1", T0 + 2 + BACKOFF);
}

Test(throttle, root_without_rhost_throttles_only_root_without_rhost)
{
	/* Root is no longer special: (0, "") is a source like any other. */
	limits_failed(l, 0, "", T0);
	limits_failed(l, 0, "", T0);
	cr_expect_eq(limits_failed(l, 0, "", T0), 1);
	expect_throttled(0, "", T0, BACKOFF);
	expect_free(0, "192.0.2.1", T0);
	expect_free(1000, "", T0);
	expect_free(1000, "192.0.2.1", T0);
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

Test(throttle, source_is_the_uid_and_rhost_pair)
{
	limits_failed(l, 1000, "192.0.2.9", T0);
	limits_failed(l, 1000, "192.0.2.9", T0);
	cr_expect_eq(limits_failed(l, 1000, "192.0.2.9", T0), 1);
	expect_throttled(1000, "192.0.2.9", T0, BACKOFF);
	/* Not another uid for that host... */
	expect_free(1001, "192.0.2.9", T0);
	expect_free(0, "192.0.2.9", T0);
	/* ...nor that uid for another host, or for none. */
	expect_free(1000, "198.51.100.1", T0);
	expect_free(1000, "", T0);
	/* A prefix of the host is another host. */
	expect_free(1000, "192.0.2.", T0);
}

Test(throttle, pairs_counted_separately)
{
	/* Two failures as uid 1000 alone, two for a host, one as root. */
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 1000, "", T0);
	limits_failed(l, 1000, "192.0.2.9", T0);
	limits_failed(l, 1000, "192.0.2.9", T0);
	limits_failed(l, 0, "192.0.2.9", T0);
	expect_free(1000, "", T0);
	expect_free(1000, "192.0.2.9", T0);
	expect_free(0, "192.0.2.9", T0);
	/* The third of one pair throttles that pair only. */
	limits_failed(l, 1000, "192.0.2.9", T0 + 1);
	expect_throttled(1000, "192.0.2.9", T0 + 1, BACKOFF);
	expect_free(1000, "", T0 + 1);
	expect_free(0, "192.0.2.9", T0 + 1);
}

Test(throttle, uid_and_host_digits_do_not_run_together)
{
	/* "1|23" and "12|3" would be one key without the separator. */
	limits_failed(l, 1, "23", T0);
	limits_failed(l, 1, "23", T0);
	limits_failed(l, 1, "23", T0);
	expect_throttled(1, "23", T0, BACKOFF);
	expect_free(12, "3", T0);
	expect_free(1, "2", T0);
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
	struct limits_conf conf = { 0, WINDOW, BACKOFF, 0, 0 };
	struct limits	*off = NULL;
	uint64_t	 retry = 777;
	int		 i;

	cr_assert_eq(limits_new(&conf, &off), 0);
	for (i = 0; i < 100; i++) {
		cr_expect_eq(limits_failed(off, 1000, "", T0 + (uint64_t)i), 0);
		cr_expect_eq(limits_failed(off, 0, "192.0.2.1", T0 +
		    (uint64_t)i), 0);
	}
	cr_expect_eq(limits_throttled(off, 1000, "", T0 + 100, &retry), 0);
	cr_expect_eq(limits_throttled(off, 0, "192.0.2.1", T0 + 100, &retry),
	    0);
	cr_expect_eq(retry, 777);
	limits_free(off);
}

Test(throttle, fail_max_one)
{
	struct limits_conf conf = { 1, WINDOW, BACKOFF, 0, 0 };
	struct limits	*one = NULL;
	uint64_t	 retry = 0;

	cr_assert_eq(limits_new(&conf, &one), 0);
	cr_expect_eq(limits_throttled(one, 1000, "", T0, &retry), 0);
	cr_expect_eq(limits_failed(one, 1000, "", T0), 1);
	cr_expect_eq(limits_throttled(one, 1000, "", T0, &retry), 1);
	cr_expect_eq(retry, BACKOFF);
	limits_free(one);
}

/* uid fails once for each of n remote hosts, from T0 to T0 + n / 16
 * (less than a window even for the default size). */
static void
fill_fail(uid_t uid, int n)
{
	char	 host[32];
	int	 i;

	for (i = 0; i < n; i++) {
		snprintf(host, sizeof(host), "10.%d.%d.1", i / 256, i % 256);
		cr_assert_eq(limits_failed(l, uid, host, T0 + (uint64_t)i / 16),
		    0);
	}
}

Test(throttle, full_table_stops_counting_only_for_the_filler)
{
	limits_free(l);
	l = limits_sized(0, SMALL);
	/* One uid naming a new remote host each time fills the table. */
	fill_fail(0, SMALL);
	/* Its new sources are not counted any more... */
	limits_failed(l, 0, "192.0.2.1", T0 + 100);
	limits_failed(l, 0, "192.0.2.1", T0 + 101);
	cr_expect_eq(limits_failed(l, 0, "192.0.2.1", T0 + 102), 0);
	expect_free(0, "192.0.2.1", T0 + 102);
	/* ...its sources already counted still are... */
	limits_failed(l, 0, "10.0.5.1", T0 + 200);
	cr_expect_eq(limits_failed(l, 0, "10.0.5.1", T0 + 201), 1);
	expect_throttled(0, "10.0.5.1", T0 + 201, BACKOFF);
	/* ...and other uids' failures are counted: the filler's oldest
	 * sources make room. */
	limits_failed(l, 1000, "", T0 + 300);
	limits_failed(l, 1000, "", T0 + 301);
	cr_expect_eq(limits_failed(l, 1000, "", T0 + 302), 1);
	expect_throttled(1000, "", T0 + 302, BACKOFF);
	limits_failed(l, 1001, "192.0.2.1", T0 + 300);
	limits_failed(l, 1001, "192.0.2.1", T0 + 301);
	limits_failed(l, 1001, "192.0.2.1", T0 + 302);
	expect_throttled(1001, "192.0.2.1", T0 + 302, BACKOFF);
	expect_throttled(0, "10.0.5.1", T0 + 5000, 201 + BACKOFF - 5000);
	expect_throttled(1000, "", T0 + 5000, 302 + BACKOFF - 5000);
	expect_free(0, "10.0.5.1", T0 + 201 + BACKOFF);
	/* Once the filler's windows have passed, it is counted again. */
	limits_failed(l, 0, "192.0.2.1", T0 + WINDOW + 100);
	limits_failed(l, 0, "192.0.2.1", T0 + WINDOW + 100);
	limits_failed(l, 0, "192.0.2.1", T0 + WINDOW + 100);
	expect_throttled(0, "192.0.2.1", T0 + WINDOW + 100, BACKOFF);
}

Test(throttle, default_size_full_table, .timeout = 120)
{
	/* 0 in the configuration: LIMITS_FAIL_ENTRIES. */
	fill_fail(0, LIMITS_FAIL_ENTRIES);
	limits_failed(l, 0, "192.0.2.1", T0 + WINDOW - 3);
	limits_failed(l, 0, "192.0.2.1", T0 + WINDOW - 2);
	limits_failed(l, 0, "192.0.2.1", T0 + WINDOW - 1);
	expect_free(0, "192.0.2.1", T0 + WINDOW - 1);
	limits_failed(l, 1000, "", T0 + WINDOW - 3);
	limits_failed(l, 1000, "", T0 + WINDOW - 2);
	limits_failed(l, 1000, "", T0 + WINDOW - 1);
	expect_throttled(1000, "", T0 + WINDOW - 1, BACKOFF);
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
/*
 * An instant before the stored ones, as a clock set back would give. The
 * daemon passes clock_now_ms(), which is CLOCK_MONOTONIC and never goes
 * back; limits.c takes any clock, and stays safe with one that does.
 */

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

/*
 * The verify threads share the tables: threads taking slots of one key at
 * once get exactly its max between them, whichever thread each verify
 * ran on, and the table stays whole for the next window.
 */
#define RACE_THREADS	4
#define RACE_MAX	20000

static void *
race_take(void *arg)
{
	uint64_t	*got = arg, retry;

	for (;;) {
		if (limits_rate_take(l, "shared", OWNER, RACE_MAX, 1000, T0,
		    &retry) != 0)
			break;
		(*got)++;
	}
	return NULL;
}

Test(rate, threads_share_one_count)
{
	pthread_t	 t[RACE_THREADS];
	uint64_t	 got[RACE_THREADS] = { 0 }, sum = 0;
	int		 i;

	for (i = 0; i < RACE_THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, race_take, &got[i]),
		    0);
	for (i = 0; i < RACE_THREADS; i++) {
		cr_assert_eq(pthread_join(t[i], NULL), 0);
		sum += got[i];
	}
	cr_assert_eq(sum, RACE_MAX);
	take_limited("shared", RACE_MAX, 1000, T0 + 1, 999);
	take_ok("shared", RACE_MAX, 1000, T0 + 1000);
}
