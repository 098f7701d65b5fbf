/*
 * unit_ledger.c - the commit thread behind ledger.h (daemon/ledger.c),
 * over a real store in a temporary directory.
 *
 * The ledger's wake function signals the test, which then completes the
 * batch as a verify thread would and reads the store: a reservation is
 * decided against the stored credits and every other reservation, a
 * consumption is applied once, against the generation it was reserved in,
 * after the refill it was decided with (at the time the test chose), and
 * its credits are released when it is called back, on its own lane. Many
 * threads reserving at once never spend one credit twice. Uses are
 * written at close, once the flush interval passes, or as soon as the use
 * table is three quarters full, a chunk per transaction, none lost.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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
#define NOW		1700000000ULL	/* seconds, for reservations */
#define LANES		4

static char		 tmpdir[64];
static struct store	*st;
static struct ledger	*led;
static char		 id[TOKEN_ID_LEN + 1];
/* The key's limits: credits, no refill unless a test sets one. */
static struct proto_limits lim;
/* Each lane's wake argument, and the lanes woken (bit i: lane i). */
static int		 lane_ids[LANES] = { 0, 1, 2, 3 };
static void		*wake_args[LANES] = {
	&lane_ids[0], &lane_ids[1], &lane_ids[2], &lane_ids[3] };
static _Atomic unsigned	 lanes_woken;

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

static void
wake(void *arg)
{
	atomic_fetch_or(&lanes_woken, 1u << *(int *)arg);
	unit_wake(arg);
}

static void
open_ledger(uint64_t flush_ms)
{
	cr_assert_eq(ledger_open(st, flush_ms, LANES, wake, wake_args, &led),
	    0);
}

/* Completes wakes of lane 0 until n consumptions were called back (10 s
 * at most). */
static void
await_calls(int n)
{
	while (ncalls < n) {
		unit_wake_wait();
		ledger_complete(led, 0);
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

static void
key_del(const char *kid)
{
	struct store_txn *txn;

	cr_assert_eq(store_write_begin(st, &txn), 0);
	cr_assert_eq(store_key_del(txn, kid), 0);
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

/* What a verify of id at now would be told is left (cost 0: a peek). */
static uint64_t
left_at(uint64_t now)
{
	uint64_t	 r = 0;

	cr_assert_eq(ledger_reserve(led, id, &lim, now, 0, &r, NULL), 0);
	return r;
}

static uint64_t
left(void)
{
	return left_at(NOW);
}

/* Reserves cost credits of id at now; the test hands them over. */
static struct ledger_hold *
reserve_at(uint64_t now, uint64_t cost)
{
	struct ledger_hold *h = NULL;
	uint64_t	 r;
	int		 rc;

	rc = ledger_reserve(led, id, &lim, now, cost, &r, &h);
	cr_assert_eq(rc, 0, "ledger_reserve: %d", rc);
	cr_assert_not_null(h);
	return h;
}

/* Reserves and hands over cost credits of id at now, on lane 0. */
static void
consume_at(uint64_t now, uint64_t cost, int *slot)
{
	*slot = -1;
	ledger_consume(led, reserve_at(now, cost), 0, done, slot);
}

static void
consume(uint64_t cost, int *slot)
{
	consume_at(NOW, cost, slot);
}

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/unit_ledger.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	cr_assert_eq(store_open(tmpdir, MAP_SIZE, &st), 0);
	unit_wake_init();
	open_ledger(HOUR_MS);
	keys_new_id(id);
	key_put(id);
	memset(&lim, 0, sizeof(lim));
	lim.has_credits = 1;
}

static void
teardown(void)
{
	ledger_close(led);
	store_close(st);
	unit_rmtree(tmpdir);
}

TestSuite(ledger, .init = setup, .fini = teardown, .timeout = 60);

Test(ledger, commit_spends_once_and_releases_the_reservation)
{
	unit_usage_put(st, id, 10, 0, 1);
	consume(3, &results[0]);
	/* Reserved until committed and called back. */
	cr_assert_eq(left(), 7);
	consume(2, &results[1]);
	cr_assert_eq(left(), 5);
	await_calls(2);
	cr_assert_eq(results[0], 0);
	cr_assert_eq(results[1], 0);
	cr_assert_eq(remaining(id), 5);
	cr_assert_eq(left(), 5);
}

/* More than there are is refused, with what there is; nothing is kept. */
Test(ledger, short_reservation_is_refused)
{
	struct ledger_hold *h = NULL;
	uint64_t	 r = 0;

	unit_usage_put(st, id, 5, 0, 1);
	consume(3, &results[0]);
	cr_assert_eq(ledger_reserve(led, id, &lim, NOW, 3, &r, &h),
	    LEDGER_SHORT);
	cr_assert_eq(r, 2);
	cr_assert_null(h);
	cr_assert_eq(left(), 2);
	await_calls(1);
	cr_assert_eq(remaining(id), 2);
}

/* A key with credits and no usage record yet has none. */
Test(ledger, no_record_means_no_credits)
{
	struct ledger_hold *h = NULL;
	uint64_t	 r = 99;

	cr_assert_eq(ledger_reserve(led, id, &lim, NOW, 1, &r, &h),
	    LEDGER_SHORT);
	cr_assert_eq(r, 0);
	cr_assert_null(h);
}

/* A reservation given back (its reply could not be made) frees its
 * credits; nothing is written. */
Test(ledger, cancel_gives_the_credits_back)
{
	struct ledger_hold *h;

	unit_usage_put(st, id, 10, 0, 1);
	h = reserve_at(NOW, 4);
	cr_assert_eq(left(), 6);
	ledger_cancel(led, h);
	cr_assert_eq(left(), 10);
	cr_assert_eq(remaining(id), 10);
}

/*
 * Committed but not yet completed (its lane has not run
 * ledger_complete): the stored credits already count it, so it must not
 * be counted again.
 */
Test(ledger, committed_credits_count_once)
{
	unit_usage_put(st, id, 10, 0, 1);
	consume(3, &results[0]);
	unit_wake_wait();
	cr_assert_eq(results[0], -1, "called back before ledger_complete");
	cr_assert_eq(remaining(id), 7);
	cr_assert_eq(left(), 7);
	consume(2, &results[1]);
	cr_assert_eq(left(), 5);
	ledger_complete(led, 0);
	cr_assert_eq(results[0], 0);
	await_calls(2);
	cr_assert_eq(remaining(id), 5);
	cr_assert_eq(left(), 5);
}

/* New credits set meanwhile (a new generation) win over old verifies,
 * and the reservations of the old generation do not count against them. */
Test(ledger, generation_mismatch_is_dropped)
{
	struct ledger_hold *old;

	unit_usage_put(st, id, 10, 0, 1);
	old = reserve_at(NOW, 3);
	unit_usage_put(st, id, 10, 0, 2);
	cr_assert_eq(left(), 10);
	consume(4, &results[1]);
	cr_assert_eq(left(), 6);
	results[0] = -1;
	ledger_consume(led, old, 0, done, &results[0]);
	await_calls(2);
	cr_assert_eq(results[0], 0, "dropped, not failed");
	cr_assert_eq(results[1], 0);
	cr_assert_eq(remaining(id), 6);
	cr_assert_eq(left(), 6);
}

/*
 * A refill is due once its interval has passed since the stored one. A
 * consumption decided on it refills first and stores the time; another
 * decided on the same stored refill (before the first was committed)
 * refills only if its interval has passed since the first one's: a
 * second later, it spends from the refill the first made.
 */
Test(ledger, refill_at_a_set_time)
{
	struct store_usage u;

	lim.refill_amount = 10;
	lim.refill_interval = 1000;
	unit_usage_put(st, id, 0, 1000, 1);
	cr_assert_eq(left_at(1999), 0);
	cr_assert_eq(left_at(2000), 10);
	consume_at(5000, 1, &results[0]);
	consume_at(5001, 2, &results[1]);
	cr_assert_eq(left_at(5001), 7);
	await_calls(2);
	cr_assert_eq(usage_get(id, &u), 0);
	cr_assert_eq(u.remaining, 7);
	cr_assert_eq(u.last_refill_at, 5000);
	consume_at(5999, 1, &results[2]);
	await_calls(3);
	cr_assert_eq(usage_get(id, &u), 0);
	cr_assert_eq(u.remaining, 6);
	cr_assert_eq(u.last_refill_at, 5000);
	consume_at(9000, 4, &results[3]);
	await_calls(4);
	cr_assert_eq(usage_get(id, &u), 0);
	cr_assert_eq(u.remaining, 6);
	cr_assert_eq(u.last_refill_at, 9000);
}

/* A key revoked meanwhile is fine: nothing is written for it. */
Test(ledger, revoked_key_writes_nothing)
{
	struct store_usage u;

	unit_usage_put(st, id, 4, 0, 1);
	consume(1, &results[0]);
	key_del(id);
	await_calls(1);
	cr_assert_eq(results[0], 0);
	cr_assert_eq(usage_get(id, &u), STORE_ENOTFOUND);
}

/* A key with credits but no usage record must hand none out: if it lost
 * its record after the reservation, the commit fails, and the verify
 * waiting on it is told so. */
Test(ledger, credits_without_a_record_fail_the_commit)
{
	struct store_usage u;
	struct ledger_hold *h;

	unit_usage_put(st, id, 4, 0, 1);
	h = reserve_at(NOW, 1);
	key_del(id);
	key_put(id);
	results[0] = -1;
	ledger_consume(led, h, 0, done, &results[0]);
	await_calls(1);
	cr_assert_eq(results[0], STORE_ECORRUPT);
	cr_assert_eq(usage_get(id, &u), STORE_ENOTFOUND);
}

/* Closing commits what is queued and calls it back. */
Test(ledger, close_calls_back_what_waits)
{
	unit_usage_put(st, id, 4, 0, 1);
	consume(1, &results[0]);
	ledger_close(led);
	cr_assert_eq(ncalls, 1);
	cr_assert_eq(results[0], 0);
	cr_assert_eq(remaining(id), 3);
	open_ledger(HOUR_MS);
}

/* Each consumption is called back on the lane that handed it over, and
 * only that lane is woken for it. */
Test(ledger, called_back_on_its_own_lane)
{
	unit_usage_put(st, id, 10, 0, 1);
	results[0] = -1;
	ledger_consume(led, reserve_at(NOW, 1), 2, done, &results[0]);
	unit_wake_wait();
	cr_assert_eq(atomic_load(&lanes_woken), 1u << 2);
	ledger_complete(led, 0);
	ledger_complete(led, 1);
	ledger_complete(led, 3);
	cr_assert_eq(results[0], -1, "called back on another lane");
	ledger_complete(led, 2);
	cr_assert_eq(results[0], 0);
	cr_assert_eq(remaining(id), 9);
}

/*
 * Threads reserving credits of one key at once, each on its lane and
 * completing its own: together they get exactly the credits there are,
 * and the store ends at zero. A reservation decided on a read that did
 * not see another thread's would spend a credit twice.
 */
#define RACE_CREDITS	2000

/* A racer's counts; Criterion asserts only on the test's own thread. */
struct racer {
	int		 lane;
	uint64_t	 got;
	uint64_t	 called;
	uint64_t	 failed;	/* commits or reservations that failed */
};

static void
race_done(void *arg, int rc)
{
	struct racer	*r = arg;

	if (rc != 0)
		r->failed++;
	r->called++;
}

static void *
race(void *arg)
{
	struct racer	*r = arg;
	struct ledger_hold *h;
	uint64_t	 left_now;
	int		 rc;

	for (;;) {
		h = NULL;
		rc = ledger_reserve(led, id, &lim, NOW, 1, &left_now, &h);
		if (rc == LEDGER_SHORT)
			break;
		if (rc != 0) {
			r->failed++;
			break;
		}
		r->got++;
		ledger_consume(led, h, (size_t)r->lane, race_done, r);
		ledger_complete(led, (size_t)r->lane);
	}
	return NULL;
}

Test(ledger, threads_never_spend_a_credit_twice)
{
	struct racer	 r[LANES];
	pthread_t	 t[LANES];
	uint64_t	 got = 0, called = 0, failed = 0;
	int		 i;

	unit_usage_put(st, id, RACE_CREDITS, 0, 1);
	memset(r, 0, sizeof(r));
	for (i = 0; i < LANES; i++) {
		r[i].lane = i;
		cr_assert_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (i = 0; i < LANES; i++)
		cr_assert_eq(pthread_join(t[i], NULL), 0);
	/* The last commits are called back at close; the teardown closes
	 * the next one. */
	ledger_close(led);
	open_ledger(HOUR_MS);
	for (i = 0; i < LANES; i++) {
		got += r[i].got;
		called += r[i].called;
		failed += r[i].failed;
	}
	cr_assert_eq(failed, 0);
	cr_assert_eq(got, RACE_CREDITS);
	cr_assert_eq(called, RACE_CREDITS);
	cr_assert_eq(remaining(id), 0);
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
	open_ledger(HOUR_MS);
}

/* An older time never replaces a newer last use; counts add up. */
Test(ledger, uses_accumulate_across_flushes)
{
	struct store_usage u;

	ledger_note_use(led, id, 2000);
	ledger_close(led);
	open_ledger(HOUR_MS);
	ledger_note_use(led, id, 1000);
	ledger_close(led);
	cr_assert_eq(usage_get(id, &u), 0);
	cr_assert_eq(u.last_used, 2000);
	cr_assert_eq(u.use_count, 2);
	open_ledger(HOUR_MS);
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
	open_ledger(20);
	ledger_note_use(led, id, 1700000000);
	end = clock_now_ms() + 10000;
	while (usage_get(id, &u) != 0 || u.use_count == 0) {
		cr_assert_lt(clock_now_ms(), end, "no flush within 10 s");
		nanosleep(&pause, NULL);
	}
	cr_assert_eq(u.last_used, 1700000000);
	cr_assert_eq(u.use_count, 1);
}

/*
 * Keys used faster than the flush interval writes them: once
 * LEDGER_USES_EARLY keys were used, the uses are written at once (the
 * interval here is an hour), and a use noted meanwhile goes into a fresh
 * table instead of being lost. The other ids are of no stored key: the
 * write skips them.
 */
Test(ledger, uses_written_early_when_the_table_fills)
{
	struct store_usage u;
	struct timespec	 pause = { 0, 5 * 1000000L };
	char		 other[TOKEN_ID_LEN + 1];
	uint64_t	 end;
	int		 i;

	ledger_note_use(led, id, 1700000000);
	for (i = 1; i < LEDGER_USES_EARLY; i++) {
		keys_new_id(other);
		ledger_note_use(led, other, 1700000000);
	}
	end = clock_now_ms() + 10000;
	while (usage_get(id, &u) != 0 || u.use_count == 0) {
		cr_assert_lt(clock_now_ms(), end, "not written within 10 s");
		nanosleep(&pause, NULL);
	}
	cr_assert_eq(u.use_count, 1);
	ledger_note_use(led, id, 1700000100);
	ledger_close(led);
	open_ledger(HOUR_MS);
	cr_assert_eq(usage_get(id, &u), 0);
	cr_assert_eq(u.use_count, 2);
	cr_assert_eq(u.last_used, 1700000100);
}

/* Many keys' uses are written a chunk per transaction: every one of them,
 * whatever chunk it falls in. */
#define MANY_KEYS	10000

Test(ledger, uses_of_many_keys_are_all_written)
{
	static char	 ids[MANY_KEYS][TOKEN_ID_LEN + 1];
	struct store_usage u;
	struct store_key k;
	struct store_txn *txn;
	int		 i;

	memset(&k, 0, sizeof(k));
	strcpy(k.info.prefix, "ak");
	k.info.owner.kind = PROTO_OWNER_USER;
	k.info.owner.uid = 1000;
	k.info.enabled = 1;
	cr_assert_eq(store_write_begin(st, &txn), 0);
	for (i = 0; i < MANY_KEYS; i++) {
		keys_new_id(ids[i]);
		memcpy(k.info.id, ids[i], sizeof(ids[i]));
		cr_assert_eq(store_key_put(txn, &k), 0);
	}
	cr_assert_eq(store_commit(txn), 0);
	for (i = 0; i < MANY_KEYS; i++)
		ledger_note_use(led, ids[i], 1700000000 + (uint64_t)i);
	ledger_close(led);
	open_ledger(HOUR_MS);
	for (i = 0; i < MANY_KEYS; i++) {
		cr_assert_eq(usage_get(ids[i], &u), 0, "key %d", i);
		cr_assert_eq(u.use_count, 1, "key %d", i);
		cr_assert_eq(u.last_used, 1700000000 + (uint64_t)i);
	}
}
