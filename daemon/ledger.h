/*
 * ledger.h - durable usage credits and use counters.
 *
 * A verify that consumes credits is answered only after the consumption is
 * committed to the store, so a crash can never hand out a credit twice.
 * The commits run on a thread of their own, so no verify thread waits for
 * a disk sync: while one commit is in flight, the next batch collects, and
 * each batch is one LMDB write transaction (group commit). Keys without
 * credits never reach this write path; their last-used time and use count
 * are kept in memory and written in batches every flush_interval, when
 * LEDGER_USES_EARLY keys were used meanwhile, and at shutdown.
 *
 * Several verify threads (lanes) share one ledger. A consumption is first
 * reserved (ledger_reserve), which decides it against the stored credits
 * and every reservation of every lane under one lock, then handed over
 * (ledger_consume) or given back (ledger_cancel). The ledger knows nothing
 * of connections or replies: whoever hands a consumption over is called
 * back on its own lane once it is committed, and holds its reply until
 * then. Times passed in are wall-clock seconds (they are stored); the
 * flush interval is measured on the monotonic clock.
 */
#ifndef APIKEY_LEDGER_H
#define APIKEY_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/proto.h"
#include "store.h"

#define LEDGER_SHORT	1	/* ledger_reserve: not enough credits */
/*
 * Keys with uses noted since the last write at which the uses are written
 * at once, before the flush interval: the table (32-byte slots, at most
 * three quarters full) is then 2 MiB. A larger one would only cost more
 * memory when many keys are used at once, since it is written sooner
 * anyway. While one is being written, the next may take four times as
 * many keys before a use is lost.
 */
#define LEDGER_USES_EARLY (40 * 1024)

struct ledger;
/* Credits reserved for one verify; the ledger's, until consumed or
 * cancelled. */
struct ledger_hold;

/*
 * Called on the lane that handed the consumption over, from
 * ledger_complete() or ledger_close(), once it is committed (rc 0; also
 * when the key was revoked or got new credits meanwhile, and the
 * consumption was dropped) or its commit failed (rc a store error).
 */
typedef void (*ledger_done_fn)(void *arg, int rc);

/*
 * Starts the commit thread for nlanes lanes. When results for lane i are
 * ready, the commit thread calls wake(wake_args[i]), which must be safe
 * from any thread and make lane i call ledger_complete(l, i) soon.
 * wake_args is copied. Caller stops and frees with ledger_close().
 */
int	ledger_open(struct store *, uint64_t flush_interval_ms, size_t nlanes,
	    void (*wake)(void *), void *const *wake_args, struct ledger **out);
/* Writes what is pending, stops the thread, then calls back every
 * consumption still waiting, on the calling thread: call it once no lane
 * runs any more. */
void	ledger_close(struct ledger *);
/* Writes what is pending and stops the thread, calling nothing back and
 * freeing nothing: for an exit while a lane may still run. */
void	ledger_stop(struct ledger *);

/* Calls back lane's consumptions committed (or failed) since its last
 * call. Runs on that lane's thread. */
void	ledger_complete(struct ledger *, size_t lane);

/*
 * Reserves cost credits of key id, whose limits are lim, at now: its
 * usage is read afresh from the store, refilled if due, and the credits
 * reserved and not yet committed are taken off (all under the ledger's
 * lock, so no two lanes ever spend the same credit). Returns 0 with the
 * credits left after this one in *remaining and the reservation in *out;
 * LEDGER_SHORT with the credits there are in *remaining; -1 when out of
 * memory (too many keys in flight); or a store error. With cost 0 it only
 * says what is left, reserves nothing and sets no *out.
 */
int	ledger_reserve(struct ledger *, const char *id,
	    const struct proto_limits *lim, uint64_t now, uint64_t cost,
	    uint64_t *remaining, struct ledger_hold **out);
/* Queues the reserved consumption for commit; done(arg, rc) is called on
 * lane once it is committed. */
void	ledger_consume(struct ledger *, struct ledger_hold *, size_t lane,
	    ledger_done_fn done, void *arg);
/* Gives a reservation back, unused. */
void	ledger_cancel(struct ledger *, struct ledger_hold *);

/* Notes that key id was used at now (seconds). Any lane. */
void	ledger_note_use(struct ledger *, const char *id, uint64_t now);

#endif
