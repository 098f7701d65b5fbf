/*
 * unitlib.h - helpers shared by the unit tests (tests/unit_*.c) that link
 * the daemon's objects. They assert (ending the test) instead of
 * returning errors.
 */
#ifndef APIKEY_TEST_UNITLIB_H
#define APIKEY_TEST_UNITLIB_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/token.h"

struct store;

/* Removes dir and everything below it, links not followed; best effort,
 * for teardowns. */
void	unit_rmtree(const char *dir);
/* store_open(dir, map_size); asserts that it opened. */
struct store *unit_store_open(const char *dir, size_t map_size);
/* A valid key id derived from n, so tests are repeatable: ids sort as
 * their n do. */
void	unit_key_id(uint64_t n, char id[TOKEN_ID_LEN + 1]);
/*
 * The ledger's wake function for tests (ledger_open's wake; arg unused):
 * it counts wakes under a mutex. unit_wake_wait() returns once a wake came
 * since it last returned, and fails the test after 10 s without one.
 * unit_wake_init() makes the condition (monotonic deadlines) and clears
 * the count; call it in each test's setup.
 */
void	unit_wake_init(void);
void	unit_wake(void *arg);
void	unit_wake_wait(void);
/* Writes kid's usage record (credits left, last refill, generation) in a
 * transaction of its own. */
void	unit_usage_put(struct store *, const char *kid, uint64_t remaining,
	    uint64_t last_refill_at, uint32_t gen);

#endif
