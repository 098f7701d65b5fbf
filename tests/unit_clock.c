/*
 * unit_clock.c - the clock's deadlines (daemon/clock.c). A condition
 * variable from clock_cond_init() waits on CLOCK_MONOTONIC, the clock
 * clock_deadline() counts on: waited on with a deadline 200 ms away, it
 * times out no earlier than that. On a condition variable of the default
 * clock (CLOCK_REALTIME) the same deadline lies decades in the past, and
 * the wait returns at once; the ledger's commit thread would then spin.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <criterion/criterion.h>

#include "../daemon/clock.h"

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(clock, cond_deadline_waits_on_the_monotonic_clock, .timeout = 10)
{
	pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t	 cv;
	struct timespec	 ts;
	int64_t		 start;
	int		 rc;

	cr_assert_eq(clock_cond_init(&cv), 0);
	pthread_mutex_lock(&mu);
	start = mono_ms();
	clock_deadline(&ts, 200);
	/* Nobody signals: only the deadline ends the wait. */
	do {
		rc = pthread_cond_timedwait(&cv, &mu, &ts);
	} while (rc == 0);
	pthread_mutex_unlock(&mu);
	cr_assert_eq(rc, ETIMEDOUT);
	cr_assert_geq(mono_ms() - start, 200, "the wait ended after %lld ms",
	    (long long)(mono_ms() - start));
	pthread_cond_destroy(&cv);
}
