/*
 * stress_crash.c - `make stress` (mk/stress.mk), not `make check`:
 * apikeyd killed with SIGKILL again and again during a long stream of
 * management writes, on the same store. it_faults.c kills it once, early
 * in 10,000 writes, to stay within seconds; here every round of 10,000
 * writes is killed at a random point anywhere in it, the store is
 * checked with lmdb-utils before the next daemon opens it, and after
 * each restart every write acknowledged in any round so far is checked
 * (harness_load.h: itl_check_writes). ITL_SEED=N repeats a run,
 * STRESS_CRASH_ROUNDS=N sets the number of kills (default 5).
 */
#include <stdlib.h>
#include <time.h>

#include <criterion/criterion.h>

#include "harness_load.h"

#define ROUNDS		5
#define WRITES		10000
#define WRITERS		4
#define MAX_ROUNDS	20

static const char *const writers[WRITERS] = { "root", "alice", "bob",
    "carol" };

static void
fini(void)
{
	it_prog_end_all();
	it_teardown();
}

/* Bounded inside: each round's writes and checks have their deadlines. */
TestSuite(stress_crash, .fini = fini, .timeout = 1200);

static long
env_num(const char *name, long dflt, long max)
{
	const char	*v = getenv(name);
	long		 n = v != NULL && *v != '\0' ? strtol(v, NULL, 10) :
			    dflt;

	return n < 1 ? 1 : n > max ? max : n;
}

Test(stress_crash, repeated_kills_during_writes)
{
	const char	*users[MAX_ROUNDS * WRITERS];
	const char	*acks[MAX_ROUNDS * WRITERS];
	long		 rounds = env_num("STRESS_CRASH_ROUNDS", ROUNDS,
			    MAX_ROUNDS);
	unsigned	 seed = (unsigned)env_num("ITL_SEED", (long)time(NULL),
			    0x7fffffff);
	long long	 at;
	long		 r;
	size_t		 i, n = 0;

	it_prepare("max_keys_per_user = 0\nthrottle_failures = 0\n");
	it_start();
	srand(seed);
	cr_log_info("ITL_SEED=%u, %ld rounds of %d writes", seed, rounds,
	    WRITES);
	for (r = 0; r < rounds; r++) {
		/* Anywhere from a tenth of the round to nine tenths. */
		at = (WRITES / 10 + rand() % (WRITES * 4 / 5)) *
		    ITL_LEDGER_BYTES_PER_WRITE;
		for (i = 0; i < WRITERS; i++)
			users[n + i] = writers[i];
		itl_writes_until_kill(writers, WRITERS, WRITES / WRITERS, at,
		    it_printf("round%ld", r + 1), acks + n);
		n += WRITERS;
		itl_mdb_check(it_state_dir());
		it_start();
		itl_check_writes(users, acks, n, it_printf("after kill %ld",
		    r + 1));
	}
	itl_mdb_check(it_state_dir());
}
