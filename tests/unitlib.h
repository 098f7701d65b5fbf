/*
 * unitlib.h - helpers shared by the unit tests (tests/unit_*.c) that link
 * the daemon's objects. They assert (ending the test) instead of
 * returning errors.
 */
#ifndef APIKEY_TEST_UNITLIB_H
#define APIKEY_TEST_UNITLIB_H

#include <stdint.h>

struct store;

/* Removes dir and everything below it, links not followed; best effort,
 * for teardowns. */
void	unit_rmtree(const char *dir);
/* Writes kid's usage record (credits left, last refill, generation) in a
 * transaction of its own. */
void	unit_usage_put(struct store *, const char *kid, uint64_t remaining,
	    uint64_t last_refill_at, uint32_t gen);

#endif
