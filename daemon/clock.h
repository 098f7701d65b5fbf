/*
 * clock.h - the daemon's time, of two kinds that are never mixed:
 *
 *   wall-clock seconds since the epoch (CLOCK_REALTIME), for what is
 *   stored or shown: expires_at, grace_until, refills, last_used, audit
 *   and creation times. Every stamp and every comparison with one reads
 *   this clock, so they agree.
 *
 *   monotonic milliseconds (CLOCK_MONOTONIC), for intervals and deadlines
 *   kept in memory: rate windows, failure back-off, log budgets,
 *   connection timeouts, the ledger's flush and the wait for the admin
 *   thread. A step of the wall clock must neither lock keys out nor let
 *   them loose, nor move a deadline.
 *
 * clock_now() and clock_now_ms() read the system. Code whose time tests
 * must set (verify.c) reads a struct clock it is given instead: the daemon
 * passes clock_system, a unit test a struct clock_manual. Nothing in the
 * daemon makes a manual clock, and no setting or environment variable
 * reaches one: the seam exists only where a test links the objects.
 */
#ifndef APIKEY_CLOCK_H
#define APIKEY_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

uint64_t clock_now(void);
uint64_t clock_now_ms(void);

/* A source of both kinds of time; each function is given its clock. */
struct clock {
	uint64_t	(*now)(const struct clock *);	/* wall, seconds */
	uint64_t	(*now_ms)(const struct clock *); /* monotonic, ms */
};

/* clock_now() and clock_now_ms(); what apikeyd runs on. */
extern const struct clock clock_system;

/*
 * A clock that tells the time it is set to, for unit tests: pass &m.clock
 * and move m.now and m.now_ms by hand. It never advances by itself.
 */
struct clock_manual {
	struct clock	 clock;		/* first: the functions find m by it */
	uint64_t	 now;
	uint64_t	 now_ms;
};

void	clock_manual_init(struct clock_manual *, uint64_t now,
	    uint64_t now_ms);

/*
 * Deadlines for the pthread functions that take an absolute time: *ts is
 * ms from now on CLOCK_MONOTONIC. A condition variable waited on with such
 * a deadline must come from clock_cond_init(); pthread_clockjoin_np()
 * takes CLOCK_MONOTONIC itself. clock_cond_init() returns 0 or an errno
 * value, as the pthread functions do.
 */
void	clock_deadline(struct timespec *ts, uint64_t ms);
int	clock_cond_init(pthread_cond_t *);

#endif
