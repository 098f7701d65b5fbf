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
 * ledger_pending, ledger_consume, ledger_note_use and the completion run
 * on the verify thread; the store and the commit thread are the ledger's.
 */
#ifndef APIKEY_LEDGER_H
#define APIKEY_LEDGER_H

#include <stdint.h>

#include "server.h"
#include "store.h"

struct ledger;

/* Starts the commit thread. Caller stops and frees with ledger_close(). */
int	ledger_open(struct store *, struct server *, uint64_t flush_interval_ms,
	    struct ledger **out);
/* Writes what is pending, stops the thread, frees held replies. */
void	ledger_close(struct ledger *);

/* Credits consumed by verifies not yet committed, for this gen of the
 * key's credits. */
uint64_t ledger_pending(struct ledger *, const char *id, uint32_t gen);
/*
 * Queues the consumption of cost credits (after a refill to refill_to at
 * refill_at, when refill_at is not 0) and holds frame, the reply to req on
 * c, until it is committed; a failed commit answers with an error instead.
 * Takes frame (malloc'd). Returns -1 (frame freed) when out of memory.
 */
int	ledger_consume(struct ledger *, const char *id, uint32_t gen,
	    uint64_t refill_at, uint64_t refill_to, uint64_t cost,
	    struct conn *c, const struct proto_hdr *req, uint8_t *frame,
	    size_t len);
/* Notes that key id was used at now (seconds). */
void	ledger_note_use(struct ledger *, const char *id, uint64_t now);

#endif
