/*
 * ledger.h - durable usage credits and use counters.
 *
 * A verify that consumes credits is answered only after the consumption is
 * committed to the store, so a crash can never hand out a credit twice.
 * The commits run on a thread of their own, so the verify thread never
 * waits for a disk sync: while one commit is in flight, the next batch
 * collects, and each batch is one LMDB write transaction (group commit).
 * Keys without credits never reach this write path; their last-used time
 * and use count are kept in memory and written in batches every
 * flush_interval (and at shutdown).
 *
 * The ledger knows nothing of connections or replies: whoever queues a
 * consumption is called back once it is committed, and holds its reply
 * until then. ledger_pending, ledger_consume, ledger_note_use and
 * ledger_complete run on the verify thread; the store and the commit
 * thread are the ledger's. Times passed in are wall-clock seconds (they
 * are stored); the flush interval is measured on the monotonic clock.
 */
#ifndef APIKEY_LEDGER_H
#define APIKEY_LEDGER_H

#include <stdint.h>

#include "store.h"

struct ledger;

/*
 * Called on the verify thread, from ledger_complete() or ledger_close(),
 * once a consumption is committed (rc 0; also when the key was revoked or
 * got new credits meanwhile, and the consumption was dropped) or its
 * commit failed (rc a store error).
 */
typedef void (*ledger_done_fn)(void *arg, int rc);

/*
 * Starts the commit thread. When results are ready, the commit thread
 * calls wake(wake_arg), which must be safe from any thread and make the
 * verify thread call ledger_complete() soon. Caller stops and frees with
 * ledger_close().
 */
int	ledger_open(struct store *, uint64_t flush_interval_ms,
	    void (*wake)(void *), void *wake_arg, struct ledger **out);
/* Writes what is pending, stops the thread, then calls back every
 * consumption still waiting, as ledger_complete() does. */
void	ledger_close(struct ledger *);

/* Calls back the consumptions committed (or failed) since the last call. */
void	ledger_complete(struct ledger *);

/*
 * Credits consumed by verifies that a read of the key's usage in read txn
 * snapshot (store_txn_id) does not see yet, for this gen of the key's
 * credits: those not committed, and those committed after the snapshot.
 */
uint64_t ledger_pending(struct ledger *, const char *id, uint32_t gen,
	    uint64_t snapshot);
/*
 * Queues the consumption of cost credits, counted against generation gen
 * of the key's credits (after a refill to refill_to at refill_at, when
 * refill_at is not 0), and calls done(arg, rc) once it is committed.
 * Returns -1, without calling done, when out of memory.
 */
int	ledger_consume(struct ledger *, const char *id, uint32_t gen,
	    uint64_t refill_at, uint64_t refill_to, uint64_t cost,
	    ledger_done_fn done, void *arg);
/* Notes that key id was used at now (seconds). */
void	ledger_note_use(struct ledger *, const char *id, uint64_t now);

#endif
