/*
 * unit_loglimit.c - the per-uid budget of log lines (daemon/loglimit.c).
 *
 * The clock is a number the tests move; nothing sleeps. The fixture allows
 * 3 lines per 1 s window and tracks up to 4 uids, so that each edge (the
 * last line of a budget, the first of the next window, a full table of
 * uids) is a few calls away. Every suppressed count is checked exactly, as
 * the "N lines suppressed" line of the log would show it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "../daemon/loglimit.h"

#define T0	1700000000000ULL	/* ms */
#define LINES	3
#define WIN	1000ULL
#define SOURCES	4

static struct loglimit	*ll;

static void
setup(void)
{
	ll = NULL;
	cr_assert_eq(loglimit_new(LINES, WIN, SOURCES, &ll), 0);
	cr_assert_not_null(ll);
}

static void
teardown(void)
{
	loglimit_free(ll);
}

TestSuite(loglimit, .init = setup, .fini = teardown);

/* Expects a line allowed with this suppressed count. */
static void
allowed(uid_t uid, uint64_t now, uint64_t want_suppressed)
{
	uint64_t	 n = 999;

	cr_assert_eq(loglimit_allow(ll, uid, now, &n), 1, "uid %u at %+lld "
	    "suppressed", (unsigned)uid, (long long)(now - T0));
	cr_assert_eq(n, want_suppressed, "uid %u at %+lld: %llu suppressed, "
	    "want %llu", (unsigned)uid, (long long)(now - T0),
	    (unsigned long long)n, (unsigned long long)want_suppressed);
}

static void
suppressed(uid_t uid, uint64_t now)
{
	uint64_t	 n = 999;

	cr_assert_eq(loglimit_allow(ll, uid, now, &n), 0, "uid %u at %+lld "
	    "allowed", (unsigned)uid, (long long)(now - T0));
	cr_assert_eq(n, 0);
}

Test(loglimit, first_lines_pass_then_counted_and_reported)
{
	int	 i;

	allowed(1000, T0, 0);
	allowed(1000, T0 + 1, 0);
	allowed(1000, T0 + 2, 0);
	for (i = 0; i < 5; i++)
		suppressed(1000, T0 + 3 + (uint64_t)i);
	suppressed(1000, T0 + WIN - 1);
	/* The window is [T0, T0 + 1000): the next one reports 6. */
	allowed(1000, T0 + WIN, 6);
	/* Reported once, not again with the next lines. */
	allowed(1000, T0 + WIN + 1, 0);
	allowed(1000, T0 + WIN + 2, 0);
	suppressed(1000, T0 + WIN + 3);
	/* A window starts at its first line, not at a multiple of WIN. */
	suppressed(1000, T0 + 2 * WIN - 1);
	allowed(1000, T0 + 2 * WIN + 500, 2);
	allowed(1000, T0 + 3 * WIN + 499, 0);
	allowed(1000, T0 + 3 * WIN + 499, 0);
	suppressed(1000, T0 + 3 * WIN + 499);
	allowed(1000, T0 + 3 * WIN + 500, 1);
}

Test(loglimit, nothing_suppressed_reports_zero)
{
	allowed(1000, T0, 0);
	allowed(1000, T0 + WIN, 0);
	allowed(1000, T0 + 5 * WIN, 0);
}

Test(loglimit, sources_are_independent)
{
	uint64_t	 n;
	int		 i;

	for (i = 0; i < 10; i++)
		(void)loglimit_allow(ll, 1000, T0, &n);
	/* uid 1000 spent its budget: others have theirs. */
	suppressed(1000, T0 + 1);
	allowed(1001, T0 + 1, 0);
	allowed(0, T0 + 1, 0);
	allowed(1001, T0 + 2, 0);
	allowed(1001, T0 + 3, 0);
	suppressed(1001, T0 + 4);
	/* Each reports its own count. */
	allowed(1001, T0 + WIN + 4, 1);
	allowed(1000, T0 + WIN + 4, 8);
	allowed(0, T0 + WIN + 4, 0);
}

Test(loglimit, count_kept_one_window_after_its_window)
{
	allowed(1000, T0, 0);
	allowed(1000, T0, 0);
	allowed(1000, T0, 0);
	suppressed(1000, T0 + 3);
	/* Other uids come and go meanwhile (each insert may drop expired
	 * entries): uid 1000's count is not dropped with them. */
	allowed(1001, T0 + WIN, 0);
	allowed(1002, T0 + 2 * WIN - 1, 0);
	/* No line in the next window; reported just before its end. */
	allowed(1000, T0 + 2 * WIN - 1, 1);
}

Test(loglimit, count_dropped_once_the_entry_is_reclaimed)
{
	allowed(1000, T0, 0);
	allowed(1000, T0, 0);
	allowed(1000, T0, 0);
	suppressed(1000, T0);
	/* Two windows on, another uid's line makes room by dropping the
	 * entry: the count is lost, as loglimit.h says. */
	allowed(1001, T0 + 2 * WIN, 0);
	allowed(1000, T0 + 2 * WIN, 0);
}

Test(loglimit, full_table_suppresses_new_uids_uncounted)
{
	uid_t	 u;

	for (u = 1; u <= SOURCES; u++)
		allowed(u, T0, 0);
	/* Four uids tracked, none expired: a fifth is suppressed... */
	suppressed(5, T0 + 1);
	suppressed(5, T0 + 2);
	/* ...while the tracked ones go on as before. */
	allowed(1, T0 + 3, 0);
	/* Once their windows are over they make room; 5's lines while it
	 * could not be tracked were not counted. */
	allowed(5, T0 + WIN, 0);
}

Test(loglimit, clock_set_back_starts_a_window)
{
	allowed(1000, T0, 0);
	allowed(1000, T0, 0);
	allowed(1000, T0, 0);
	suppressed(1000, T0 + 1);
	suppressed(1000, T0 + 2);
	/* An hour back: not an hour of silence. */
	allowed(1000, T0 - 3600000, 2);
	allowed(1000, T0 - 3600000 + 1, 0);
}

Test(loglimit, flood_counted_exactly)
{
	uint64_t	 i, n, passed = 0;

	for (i = 0; i < 100000; i++) {
		n = 0;
		passed += loglimit_allow(ll, 1000, T0 + i % WIN, &n);
		cr_assert_eq(n, 0);
	}
	cr_expect_eq(passed, LINES);
	allowed(1000, T0 + WIN, 100000 - LINES);
}

Test(loglimit, one_line_windows)
{
	struct loglimit	*one = NULL;
	uint64_t	 n = 999;

	cr_assert_eq(loglimit_new(1, 1, 1, &one), 0);
	cr_expect_eq(loglimit_allow(one, 7, T0, &n), 1);
	cr_expect_eq(n, 0);
	cr_expect_eq(loglimit_allow(one, 7, T0, &n), 0);
	cr_expect_eq(loglimit_allow(one, 7, T0 + 1, &n), 1);
	cr_expect_eq(n, 1);
	loglimit_free(one);
}

Test(loglimit_new, refuses_zero_arguments)
{
	struct loglimit	*x = (struct loglimit *)&x;

	cr_expect_eq(loglimit_new(0, WIN, SOURCES, &x), -1);
	cr_expect_eq(loglimit_new(LINES, 0, SOURCES, &x), -1);
	cr_expect_eq(loglimit_new(LINES, WIN, 0, &x), -1);
	/* Out-parameters are written only on success. */
	cr_expect_eq(x, (struct loglimit *)&x);
	loglimit_free(NULL);
}
