/*
 * unit_ledger.c - the commit thread behind ledger.h (daemon/ledger.c),
 * over a real store in a temporary directory.
 *
 * The ledger's wake function signals the test, which then completes the
 * batch as the verify thread would and reads the store: a consumption is
 * applied once, against the generation it was counted for, after the
 * refill it was decided with (at the time the test chose), and the
 * credits in flight are released when it is called back. Uses are written
 * at close, or once the flush interval passes.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../daemon/clock.h"
#include "../daemon/keys.h"
#include "../daemon/ledger.h"
#include "../daemon/store.h"
#include "unitlib.h"

#define MAP_SIZE	(16u * 1024 * 1024)
#define HOUR_MS		(3600 * 1000)

static char		 tmpdir[64];
static struct store	*st;
static struct ledger	*led;
static char		 id[TOKEN_ID_LEN + 1];

/* What each consumption was called back with; -1: not yet. */
static int		 results[8];
static int		 ncalls;

static void
done(void *arg, int rc)
{
	int	*slot = arg;

	cr_assert_eq(*slot, -1, "called back twice");
	*slot = rc;
	ncalls++;
}

/* Completes wakes until n consumptions were called back (10 s at most). */
static void
await_calls(int n)
{
	while (ncalls < n) {
		unit_wake_wait();
		ledger_complete(led);
	}
}

static void
key_put(const char *kid)
{
	struct store_key k;
	struct store_txn *txn;

	memset(&k, 0, sizeof(k));
	memcpy(k.info.id, kid, TOKEN_ID_LEN + 1);
	strcpy(k.info.prefix, "ak");
	k.info.owner.kind = PROTO_OWNER_USER;
	k.info.owner.uid = 1000;
	k.info.enabled = 1;
	k.info.limits.has_credits = 1;
	cr_assert_eq(store_write_begin(st, &txn), 0);
	cr_assert_eq(store_key_put(txn, &k), 0);
	cr_assert_eq(store_commit(txn), 0);
}

/* The usage record of kid: 0, or STORE_ENOTFOUND. */
static int
usage_get(const char *kid, struct store_usage *u)
{
	struct store_txn *txn;
	int		 rc;

	memset(u, 0, sizeof(*u));
	cr_assert_eq(store_read_begin(st, &txn), 0);
	rc = store_usage_get(txn, kid, u);
	store_end(txn);
	cr_assert(rc == 0 || rc == STORE_ENOTFOUND, "%s", store_strerror(rc));
	return rc;
}

static uint64_t
remaining(const char *kid)
{
	struct store_usage u;

	cr_assert_eq(usage_get(kid, &u), 0);
	return u.remaining;
}

/* The id of a read txn begun now: it sees every commit so far. */
static uint64_t
snapshot(void)
{
	struct store_txn *txn;
	uint64_t	 txid;

	cr_assert_eq(store_read_begin(st, &txn), 0);
	txid = store_txn_id(txn);
	store_end(txn);
	return txid;
}

static void
consume(const char *kid, uint32_t gen, uint64_t refill_at,
    uint64_t refill_to, uint64_t cost, int *slot)
{
	*slot = -1;
	cr_assert_eq(ledger_consume(led, kid, gen, refill_at, refill_to, cost,
	    done, slot), 0);
}

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/unit_ledger.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	cr_assert_eq(store_open(tmpdir, MAP_SIZE, &st), 0);
	unit_wake_init();
	cr_assert_eq(ledger_open(st, HOUR_MS, unit_wake, NULL, &led), 0);
	keys_new_id(id);
	key_put(id);
}

static void
teardown(void)
{
	ledger_close(led);
	store_close(st);
	unit_rmtree(tmpdir);
}

TestSuite(ledger, .init = setup, .fini = teardown, .timeout = 60);

Test(ledger, commit_spends_once_and_releases_the_pending)
{
	unit_usage_put(st, id, 10, 0, 1);
	consume(id, 1, 0, 0, 3, &results[0]);
	/* In flight until committed, and only for its generation. */
	cr_assert_eq(ledger_pending(led, id, 1, snapshot()), 3);
	cr_assert_eq(ledger_pending(led, id, 2, snapshot()), 0);
	consume(id, 1, 0, 0, 2, &results[1]);
	cr_assert_eq(ledger_pending(led, id, 1, snapshot()), 5);
	await_calls(2);
	cr_assert_eq(results[0], 0);
	cr_assert_eq(results[1], 0);
	cr_assert_eq(remaining(id), 5);
	cr_assert_eq(ledger_pending(led, id, 1, snapshot()), 0);
}

/*
 * Committed but not yet completed (the verify loop has not run
 * ledger_complete): a read that sees the commit must not count those
 * credits again, one that began before it must.
 */
Test(ledger, committed_credits_count_once)
{
	uint64_t	 before;

	unit_usage_put(st, id, 10, 0, 1);
	before = snapshot();
	consume(id, 1, 0, 0, 3, &results[0]);
	unit_wake_wait();
	cr_assert_eq(results[0], -1, "called back before ledger_complete");
	cr_assert_eq(remaining(id), 7);
	cr_assert_eq(ledger_pending(led, id, 1, snapshot()), 0);
	cr_assert_eq(ledger_pending(led, id, 1, before), 3);
	consume(id, 1, 0, 0, 2, &results[1]);
	cr_assert_eq(ledger_pending(led, id, 1, snapshot()), 2);
	ledger_complete(led);
	cr_assert_eq(results[0], 0);
	await_calls(2);
	cr_assert_eq(remaining(id), 5);
	cr_assert_eq(ledger_pending(led, id, 1, snapshot()), 0);
}

/* New credits set meanwhile (a new generation) win over old verifies. */
Test(ledger, generation_mismatch_is_dropped)
{
	unit_usage_put(st, id, 10, 0, 2);
	consume(id, 1, 0, 0, 3, &results[0]);
	await_calls(1);
	cr_assert_eq(results[0], 0, "dropped, not failed");
	cr_assert_eq(remaining(id), 10);
	/* The pending count follows the newest generation only. */
	consume(id, 2, 0, 0, 4, &results[1]);
	consume(id, 3, 0, 0, 1, &results[2]);
	cr_assert_eq(ledger_pending(led, id, 3, snapshot()), 1);
	cr_assert_eq(ledger_pending(led, id, 2, snapshot()), 0);
	await_calls(3);
	cr_assert_eq(remaining(id), 6);
	cr_assert_eq(ledger_pending(led, id, 3, snapshot()), 0);
}

/*
 * A consumption decided with a refill at a set time refills first and
 * stores that time; another decided with the same refill (before the
 * first was committed) or an older one does not refill again.
 */
Test(ledger, refill_at_a_set_time)
{
	struct store_usage u;

	unit_usage_put(st, id, 0, 1000, 1);
	consume(id, 1, 5000, 10, 1, &results[0]);
	consume(id, 1, 5000, 10, 1, &results[1]);
	await_calls(2);
	cr_assert_eq(usage_get(id, &u), 0);
	cr_assert_eq(u.remaining, 8);
	cr_assert_eq(u.last_refill_at, 5000);
	consume(id, 1, 4000, 10, 1, &results[2]);
	await_calls(3);
	cr_assert_eq(usage_get(id, &u), 0);
	cr_assert_eq(u.remaining, 7);
	cr_assert_eq(u.last_refill_at, 5000);
	consume(id, 1, 9000, 10, 4, &results[3]);
	await_calls(4);
	cr_assert_eq(usage_get(id, &u), 0);
	cr_assert_eq(u.remaining, 6);
	cr_assert_eq(u.last_refill_at, 9000);
}

/* Credits never go below zero, whatever was asked. */
Test(ledger, spending_stops_at_zero)
{
	unit_usage_put(st, id, 2, 0, 1);
	consume(id, 1, 0, 0, 5, &results[0]);
	await_calls(1);
	cr_assert_eq(results[0], 0);
	cr_assert_eq(remaining(id), 0);
}

/* A key revoked meanwhile is fine: nothing is written for it. */
Test(ledger, revoked_key_writes_nothing)
{
	struct store_usage u;
	char		 gone[TOKEN_ID_LEN + 1];

	keys_new_id(gone);
	consume(gone, 1, 0, 0, 1, &results[0]);
	await_calls(1);
	cr_assert_eq(results[0], 0);
	cr_assert_eq(usage_get(gone, &u), STORE_ENOTFOUND);
}

/* A key with credits but no usage record must hand none out: the commit
 * fails, and the verify waiting on it is told so. */
Test(ledger, credits_without_a_record_fail_the_commit)
{
	struct store_usage u;

	consume(id, 1, 0, 0, 1, &results[0]);
	cr_assert_eq(ledger_pending(led, id, 1, snapshot()), 1);
	await_calls(1);
	cr_assert_eq(results[0], STORE_ECORRUPT);
	cr_assert_eq(ledger_pending(led, id, 1, snapshot()), 0);
	cr_assert_eq(usage_get(id, &u), STORE_ENOTFOUND);
}

/* Closing commits what is queued and calls it back. */
Test(ledger, close_calls_back_what_waits)
{
	unit_usage_put(st, id, 4, 0, 1);
	consume(id, 1, 0, 0, 1, &results[0]);
	ledger_close(led);
	cr_assert_eq(ncalls, 1);
	cr_assert_eq(results[0], 0);
	cr_assert_eq(remaining(id), 3);
	cr_assert_eq(ledger_open(st, HOUR_MS, unit_wake, NULL, &led), 0);
}

/* Uses are kept in memory and written at close, for existing keys only,
 * leaving the credits alone. */
Test(ledger, uses_written_at_close)
{
	struct store_usage u;
	char		 other[TOKEN_ID_LEN + 1], gone[TOKEN_ID_LEN + 1];

	keys_new_id(other);
	key_put(other);
	keys_new_id(gone);
	unit_usage_put(st, id, 7, 100, 3);
	ledger_note_use(led, id, 1700000000);
	ledger_note_use(led, id, 1700000050);
	ledger_note_use(led, other, 1700000020);
	ledger_note_use(led, gone, 1700000030);
	cr_assert_eq(usage_get(id, &u), 0);
	cr_assert_eq(u.use_count, 0, "written before the flush");
	ledger_close(led);
	cr_assert_eq(usage_get(id, &u), 0);
	cr_assert_eq(u.last_used, 1700000050);
	cr_assert_eq(u.use_count, 2);
	cr_assert_eq(u.remaining, 7);
	cr_assert_eq(u.last_refill_at, 100);
	cr_assert_eq(u.gen, 3);
	cr_assert_eq(usage_get(other, &u), 0);
	cr_assert_eq(u.last_used, 1700000020);
	cr_assert_eq(u.use_count, 1);
	cr_assert_eq(usage_get(gone, &u), STORE_ENOTFOUND);
	cr_assert_eq(ledger_open(st, HOUR_MS, unit_wake, NULL, &led), 0);
}

/* An older time never replaces a newer last use; counts add up. */
Test(ledger, uses_accumulate_across_flushes)
{
	struct store_usage u;

	ledger_note_use(led, id, 2000);
	ledger_close(led);
	cr_assert_eq(ledger_open(st, HOUR_MS, unit_wake, NULL, &led), 0);
	ledger_note_use(led, id, 1000);
	ledger_close(led);
	cr_assert_eq(usage_get(id, &u), 0);
	cr_assert_eq(u.last_used, 2000);
	cr_assert_eq(u.use_count, 2);
	cr_assert_eq(ledger_open(st, HOUR_MS, unit_wake, NULL, &led), 0);
}

/*
 * With a short interval, uses are written without a close: the flush
 * deadline (on the monotonic clock) fires by itself. A flush tells nobody,
 * so the test looks at the store every few milliseconds, until a deadline.
 */
Test(ledger, uses_written_every_flush_interval)
{
	struct store_usage u;
	struct timespec	 pause = { 0, 5 * 1000000L };
	uint64_t	 end;

	ledger_close(led);
	cr_assert_eq(ledger_open(st, 20, unit_wake, NULL, &led), 0);
	ledger_note_use(led, id, 1700000000);
	end = clock_now_ms() + 10000;
	while (usage_get(id, &u) != 0 || u.use_count == 0) {
		cr_assert_lt(clock_now_ms(), end, "no flush within 10 s");
		nanosleep(&pause, NULL);
	}
	cr_assert_eq(u.last_used, 1700000000);
	cr_assert_eq(u.use_count, 1);
}
