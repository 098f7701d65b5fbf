/*
 * clock.c - wall-clock seconds, monotonic milliseconds and monotonic
 * deadlines (clock.h), and the clocks verify.c is given: the system's and
 * the manual one of the unit tests.
 */
#include <pthread.h>
#include <time.h>

#include "clock.h"

uint64_t
clock_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec < 0 ? 0 : (uint64_t)ts.tv_sec;
}

uint64_t
clock_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
system_now(const struct clock *c)
{
	(void)c;
	return clock_now();
}

static uint64_t
system_now_ms(const struct clock *c)
{
	(void)c;
	return clock_now_ms();
}

const struct clock clock_system = { system_now, system_now_ms };

static uint64_t
manual_now(const struct clock *c)
{
	return ((const struct clock_manual *)c)->now;
}

static uint64_t
manual_now_ms(const struct clock *c)
{
	return ((const struct clock_manual *)c)->now_ms;
}

void
clock_manual_init(struct clock_manual *m, uint64_t now, uint64_t now_ms)
{
	m->clock.now = manual_now;
	m->clock.now_ms = manual_now_ms;
	m->now = now;
	m->now_ms = now_ms;
}

void
clock_deadline(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int
clock_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t attr;
	int		 rc;

	if ((rc = pthread_condattr_init(&attr)) != 0)
		return rc;
	if ((rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) == 0)
		rc = pthread_cond_init(cv, &attr);
	pthread_condattr_destroy(&attr);
	return rc;
}
