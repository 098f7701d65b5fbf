/*
 * ledger.c - the commit thread behind ledger.h.
 *
 * Operations travel between the threads on lists under one mutex: a lane
 * (verify thread) appends consumptions to `queue` and wakes the commit
 * thread; the commit thread takes the whole queue, commits it in one write
 * transaction, appends each operation to its lane's `done` list and wakes
 * that lane, which runs ledger_complete() and calls each consumption's
 * done function (verify.c then sends its held reply). Uses are counted in
 * a table under the same mutex and swapped out whole when they are
 * written.
 *
 * The flush timer is a deadline on the monotonic clock (clock.h), so a
 * step of the wall clock never writes the uses early or holds them back.
 *
 * A consumption is applied only if the key's credits are still the
 * generation it was counted against: a management request that set new
 * credits in between wins. The credits reserved and not yet completed are
 * kept per key (`pending`), so that verifies on any lane never spend the
 * same credit twice before their commit lands. A committed consumption
 * carries its LMDB txn id until completed, so that a read that already
 * sees the commit does not count it twice. ledger_reserve reads the usage
 * under the mutex: a consumption completed (and so no longer pending)
 * before the lock was taken was committed before the read began, which
 * therefore sees it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "keys.h"
#include "ledger.h"
#include "limits.h"
#include "log.h"
#include "table.h"

#define USE_ENTRIES	(4 * LEDGER_USES_EARLY)
/* Uses written per write transaction, in key order: a chunk dirties a few
 * hundred pages, which LMDB then keeps cached for good. */
#define USE_CHUNK	4096

/* A consumption, from its reservation to its call back: a ledger_hold. */
struct ledger_hold {
	struct ledger_hold *next;
	char		 id[TOKEN_ID_LEN + 1];
	uint32_t	 gen;
	uint64_t	 refill_at;	/* refilled at this time first; 0: no */
	uint64_t	 refill_to;
	uint64_t	 refill_interval;
	uint64_t	 cost;
	size_t		 lane;
	ledger_done_fn	 done;
	void		*arg;
	int		 result;
	uint64_t	 txn;		/* committed in this txn; 0: not */
};

struct oplist {
	struct ledger_hold *head;
	struct ledger_hold *tail;
};

struct use {
	uint64_t	 last_used;
	uint64_t	 count;
};

struct inflight {
	uint32_t	 gen;
	uint64_t	 cost;
};

/* A use to write: into the table being flushed. */
struct useref {
	const char	*id;
	const struct use *use;
};

/* The uses being written, a chunk per commit; the commit thread's. */
struct flushing {
	struct table	*uses;		/* swapped out; NULL: none */
	struct useref	*refs;		/* in key order */
	size_t		 n;
	size_t		 next;
};

struct lane {
	struct oplist	 done;		/* under mu */
	void		*wake_arg;
	int		 woken;		/* commit thread only */
};

struct ledger {
	struct store	*store;
	void		(*wake)(void *);
	struct lane	*lanes;
	size_t		 nlanes;
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct oplist	 queue;		/* under mu */
	/* The batch being committed, its txn id set before the commit:
	 * under mu, for pending_unseen. */
	struct ledger_hold *committing;
	struct table	*uses;		/* under mu */
	struct table	*pending;	/* under mu */
	int		 stop;		/* under mu */
	int		 flush_now;	/* the use table filled up; under mu */
	uint64_t	 flush_ms;
	struct flushing	 fl;		/* commit thread only */
	int		 uses_full_logged;	/* under mu */
	int		 stopped;	/* the thread was joined */
};

static void
list_add(struct oplist *l, struct ledger_hold *o)
{
	o->next = NULL;
	if (l->tail != NULL)
		l->tail->next = o;
	else
		l->head = o;
	l->tail = o;
}

static struct ledger_hold *
list_take(struct oplist *l)
{
	struct ledger_hold *h = l->head;

	l->head = l->tail = NULL;
	return h;
}

/* --- commit thread ------------------------------------------------------ */

static int
apply_op(struct store_txn *txn, const struct ledger_hold *o)
{
	struct store_usage u;
	struct store_key k;
	int		 rc;

	if ((rc = store_usage_get(txn, o->id, &u)) == STORE_ENOTFOUND) {
		/* Revoked meanwhile is fine; a key with credits but no usage
		 * record must not hand any out. */
		rc = store_key_get(txn, o->id, &k);
		return rc == STORE_ENOTFOUND ? 0 : rc == 0 ? STORE_ECORRUPT : rc;
	}
	if (rc != 0)
		return rc;
	if (u.gen != o->gen)
		return 0;	/* new credits were set meanwhile */
	/* Decided on a refill that is still due: an earlier consumption
	 * (of this batch or a late one) may have refilled since. */
	if (o->refill_at != 0 &&
	    o->refill_at >= u.last_refill_at + o->refill_interval) {
		u.remaining = o->refill_to;
		u.last_refill_at = o->refill_at;
	}
	u.remaining = u.remaining >= o->cost ? u.remaining - o->cost : 0;
	return store_usage_put(txn, o->id, &u);
}

static int
apply_use(struct store_txn *txn, const struct useref *r)
{
	struct store_usage u;
	int		 rc;

	rc = store_usage_get(txn, r->id, &u);
	if (rc == STORE_ENOTFOUND) {
		/* Only keys that still exist get a record. */
		if ((rc = store_key_exists(txn, r->id)) != 0)
			return rc == STORE_ENOTFOUND ? 0 : rc;
		memset(&u, 0, sizeof(u));
	} else if (rc != 0)
		return rc;
	if (r->use->last_used > u.last_used)
		u.last_used = r->use->last_used;
	u.use_count += r->use->count;
	return store_usage_put(txn, r->id, &u);
}

static void
collect_use(const char *id, void *v, void *arg)
{
	struct flushing	*fl = arg;

	fl->refs[fl->n].id = id;
	fl->refs[fl->n].use = v;
	fl->n++;
}

/* Starts writing the uses in table uses, which the flush now owns. */
static void
flush_begin(struct flushing *fl, struct table *uses)
{
	fl->uses = uses;
	fl->n = fl->next = 0;
	if ((fl->refs = calloc(table_count(uses), sizeof(*fl->refs))) ==
	    NULL || table_foreach(uses, collect_use, fl) != 0)
		log_warnx("out of memory: %zu keys' last-used times and use "
		    "counts are not written", table_count(uses));
}

/* The next chunk of uses to write, *n of them; NULL when none is left. */
static const struct useref *
flush_chunk(const struct flushing *fl, size_t *n)
{
	*n = fl->n - fl->next < USE_CHUNK ? fl->n - fl->next : USE_CHUNK;
	return *n > 0 ? fl->refs + fl->next : NULL;
}

/* The chunk of n was written (or failed): on to the next. Returns 1
 * when that was the last. */
static int
flush_advance(struct flushing *fl, size_t n)
{
	fl->next += n;
	if (fl->next < fl->n)
		return 0;
	free(fl->refs);
	table_free(fl->uses);
	memset(fl, 0, sizeof(*fl));
	return 1;
}

/*
 * One write transaction for a batch of consumptions and the uses. The
 * batch is published with its txn id before the commit can make it
 * visible, so that a reservation whose read sees the commit never counts
 * the batch as pending too (pending_unseen); a read that does not see it
 * has a lower txn id. A failed commit's id is given to the next writer,
 * so it is taken back at once (errs toward refusing, for a moment).
 */
static int
commit(struct ledger *l, struct ledger_hold *batch, const struct useref *uses,
    size_t nuses)
{
	struct store_txn *wtxn;
	struct ledger_hold *o;
	uint64_t	 txn;
	size_t		 i;
	int		 rc;

	if ((rc = store_write_begin(l->store, &wtxn)) != 0) {
		for (o = batch; o != NULL; o = o->next)
			o->result = rc;
		return rc;
	}
	txn = store_txn_id(wtxn);
	pthread_mutex_lock(&l->mu);
	for (o = batch; o != NULL; o = o->next)
		o->txn = txn;
	l->committing = batch;
	pthread_mutex_unlock(&l->mu);
	for (o = batch; o != NULL && rc == 0; o = o->next)
		rc = apply_op(wtxn, o);
	for (i = 0; i < nuses && rc == 0; i++)
		rc = apply_use(wtxn, &uses[i]);
	if (rc != 0)
		store_end(wtxn);
	else
		rc = store_commit(wtxn);
	pthread_mutex_lock(&l->mu);
	for (o = batch; o != NULL; o = o->next) {
		o->result = rc;
		if (rc != 0)
			o->txn = 0;
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

/* Wakes each lane that has results waiting. */
static void
wake_lanes(struct ledger *l)
{
	size_t	 i;

	for (i = 0; i < l->nlanes; i++)
		if (l->lanes[i].woken) {
			l->lanes[i].woken = 0;
			l->wake(l->lanes[i].wake_arg);
		}
}

/*
 * The commit thread: each turn commits what verifies queued since the last
 * one and, while uses are being written, the next chunk of them, in one
 * transaction. Uses are swapped out for writing every flush interval, when
 * the table is three quarters full (so that none has to be dropped), and
 * at the stop, which ends once everything is written.
 */
static void *
commit_main(void *arg)
{
	struct ledger	*l = arg;
	struct flushing	*fl = &l->fl;
	struct timespec	 next_flush;
	struct table	*fresh, *taken;
	struct ledger_hold *batch, *o;
	const struct useref *chunk;
	size_t		 nchunk;
	int		 stopping, flush_due, rc;

	/* For top -H and /proc/PID/task/TID/comm. */
	(void)pthread_setname_np(pthread_self(), "apikeyd-ledger");
	clock_deadline(&next_flush, l->flush_ms);
	for (;;) {
		pthread_mutex_lock(&l->mu);
		flush_due = 0;
		while (!l->stop && l->queue.head == NULL && !l->flush_now &&
		    fl->uses == NULL)
			if (pthread_cond_timedwait(&l->cv, &l->mu,
			    &next_flush) == ETIMEDOUT) {
				flush_due = 1;
				break;
			}
		flush_due |= l->flush_now;
		/* Without memory for a fresh table, the next try is at the
		 * next flush or note, not in a spin. */
		l->flush_now = 0;
		stopping = l->stop;
		batch = list_take(&l->queue);
		taken = NULL;
		if ((flush_due || stopping) && fl->uses == NULL &&
		    l->uses != NULL && table_count(l->uses) > 0 &&
		    ((fresh = table_new(sizeof(struct use), USE_ENTRIES)) !=
		    NULL || stopping)) {
			/* Stopping, the last table goes even without a new
			 * one: no verify notes a use any more. */
			taken = l->uses;
			l->uses = fresh;
		}
		pthread_mutex_unlock(&l->mu);
		/* Sorted outside the lock, which every verify takes. */
		if (taken != NULL)
			flush_begin(fl, taken);
		if (flush_due)
			clock_deadline(&next_flush, l->flush_ms);

		chunk = flush_chunk(fl, &nchunk);
		if (batch != NULL || chunk != NULL) {
			rc = commit(l, batch, chunk, nchunk);
			if (rc != 0)
				log_warnx("usage commit failed: %s%s",
				    store_strerror(rc), batch != NULL ?
				    "; refusing the verifies that waited on it"
				    : "");
		}
		if (fl->uses != NULL && flush_advance(fl, nchunk)) {
			/* Written: a later loss of uses is logged again. */
			pthread_mutex_lock(&l->mu);
			l->uses_full_logged = 0;
			pthread_mutex_unlock(&l->mu);
		}
		if (batch != NULL) {
			pthread_mutex_lock(&l->mu);
			l->committing = NULL;
			while (batch != NULL) {
				o = batch->next;
				list_add(&l->lanes[batch->lane].done, batch);
				l->lanes[batch->lane].woken = 1;
				batch = o;
			}
			pthread_mutex_unlock(&l->mu);
			wake_lanes(l);
		}
		if (stopping && fl->uses == NULL) {
			pthread_mutex_lock(&l->mu);
			rc = l->queue.head == NULL && (l->uses == NULL ||
			    table_count(l->uses) == 0);
			pthread_mutex_unlock(&l->mu);
			if (rc)
				break;
		}
	}
	return NULL;
}

/* --- lanes ------------------------------------------------------------ */

/* Takes a finished consumption's credits off the pending ones. Under mu. */
static void
pending_release(struct ledger *l, const struct ledger_hold *o)
{
	struct inflight	*in = table_get(l->pending, o->id, 0);

	if (in != NULL && in->gen == o->gen) {
		in->cost = in->cost >= o->cost ? in->cost - o->cost : 0;
		/* Only credits in flight are kept: the table stays as small
		 * as the verifies awaiting a commit. */
		if (in->cost == 0)
			table_del(l->pending, o->id);
	}
}

/* Releases the credits of lane's finished consumptions and calls them
 * back, outside the lock. */
void
ledger_complete(struct ledger *l, size_t lane)
{
	struct ledger_hold *o, *next, *list;

	pthread_mutex_lock(&l->mu);
	list = list_take(&l->lanes[lane].done);
	for (o = list; o != NULL; o = o->next)
		pending_release(l, o);
	pthread_mutex_unlock(&l->mu);
	for (o = list; o != NULL; o = next) {
		next = o->next;
		o->done(o->arg, o->result);
		free(o);
	}
}

/* The credits of ops of list (id, gen) that a read in txn snapshot sees. */
static uint64_t
seen_cost(const struct ledger_hold *list, const char *id, uint32_t gen,
    uint64_t snapshot)
{
	const struct ledger_hold *o;
	uint64_t	 cost = 0;

	for (o = list; o != NULL; o = o->next)
		if (o->txn != 0 && o->txn <= snapshot && o->gen == gen &&
		    strcmp(o->id, id) == 0)
			cost += o->cost;
	return cost;
}

/*
 * The credits reserved for key id at generation gen that a read in txn
 * snapshot does not see: all those not completed, less those committed
 * in a txn the snapshot sees (the stored credits already count them).
 * They are in the batch being committed or on the done lists, which are
 * short: the batches since each lane last ran ledger_complete. Under mu.
 */
static uint64_t
pending_unseen(struct ledger *l, const char *id, uint32_t gen,
    uint64_t snapshot)
{
	struct inflight	*in = table_get(l->pending, id, 0);
	uint64_t	 seen;
	size_t		 i;

	if (in == NULL || in->gen != gen || in->cost == 0)
		return 0;
	seen = seen_cost(l->committing, id, gen, snapshot);
	for (i = 0; i < l->nlanes; i++)
		seen += seen_cost(l->lanes[i].done.head, id, gen, snapshot);
	return in->cost > seen ? in->cost - seen : 0;
}

/* The usage of id as stored now, and the read txn it is from. A key with
 * credits and no record yet has none left. */
static int
usage_read(struct ledger *l, const char *id, struct store_usage *u,
    uint64_t *snapshot)
{
	struct store_txn *txn;
	int		 rc;

	memset(u, 0, sizeof(*u));
	if ((rc = store_read_begin(l->store, &txn)) != 0)
		return rc;
	*snapshot = store_txn_id(txn);
	if ((rc = store_usage_get(txn, id, u)) == STORE_ENOTFOUND)
		rc = 0;
	store_end(txn);
	return rc;
}

int
ledger_reserve(struct ledger *l, const char *id,
    const struct proto_limits *lim, uint64_t now, uint64_t cost,
    uint64_t *remaining, struct ledger_hold **out)
{
	struct store_usage u;
	struct inflight	*in;
	struct ledger_hold *o = NULL;
	uint64_t	 avail, pending, snapshot = 0, refill_at;
	int		 rc;

	if (cost > 0 && (o = calloc(1, sizeof(*o))) == NULL)
		return -1;
	pthread_mutex_lock(&l->mu);
	if ((rc = usage_read(l, id, &u, &snapshot)) != 0)
		goto out;
	avail = credits_available(lim, &u, now, &refill_at);
	pending = pending_unseen(l, id, u.gen, snapshot);
	avail = avail > pending ? avail - pending : 0;
	*remaining = avail;
	if (cost == 0)
		goto out;
	if (avail < cost) {
		rc = LEDGER_SHORT;
		goto out;
	}
	/* Full means USE_ENTRIES keys awaiting a commit at once: refuse. */
	if ((in = table_get(l->pending, id, 1)) == NULL) {
		rc = -1;
		goto out;
	}
	if (in->gen != u.gen) {
		in->gen = u.gen;
		in->cost = 0;
	}
	in->cost += cost;
	*remaining = avail - cost;
	memcpy(o->id, id, sizeof(o->id));
	o->gen = u.gen;
	o->refill_at = refill_at;
	o->refill_to = lim->refill_amount;
	o->refill_interval = lim->refill_interval;
	o->cost = cost;
	*out = o;
	o = NULL;
out:
	pthread_mutex_unlock(&l->mu);
	free(o);
	return rc;
}

void
ledger_consume(struct ledger *l, struct ledger_hold *o, size_t lane,
    ledger_done_fn done, void *arg)
{
	o->lane = lane;
	o->done = done;
	o->arg = arg;
	pthread_mutex_lock(&l->mu);
	list_add(&l->queue, o);
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

void
ledger_cancel(struct ledger *l, struct ledger_hold *o)
{
	if (o == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	pending_release(l, o);
	pthread_mutex_unlock(&l->mu);
	free(o);
}

void
ledger_note_use(struct ledger *l, const char *id, uint64_t now)
{
	struct use	*u;

	pthread_mutex_lock(&l->mu);
	if (l->uses != NULL && (u = table_get(l->uses, id, 1)) != NULL) {
		u->last_used = now;
		u->count++;
		/* Written early rather than dropped once full. */
		if (table_count(l->uses) >= LEDGER_USES_EARLY &&
		    !l->flush_now) {
			l->flush_now = 1;
			pthread_cond_signal(&l->cv);
		}
	} else if (!l->uses_full_logged) {
		l->uses_full_logged = 1;
		log_warnx("use table full while the last uses are written: "
		    "some last-used times and use counts are lost");
	}
	pthread_mutex_unlock(&l->mu);
}

/* --- life cycle --------------------------------------------------------- */

int
ledger_open(struct store *st, uint64_t flush_ms, size_t nlanes,
    void (*wake)(void *), void *const *wake_args, struct ledger **out)
{
	struct ledger	*l;
	sigset_t	 all, old;
	size_t		 i;
	int		 rc;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	if ((l->lanes = calloc(nlanes, sizeof(*l->lanes))) == NULL) {
		free(l);
		return -1;
	}
	l->store = st;
	l->flush_ms = flush_ms;
	l->wake = wake;
	l->nlanes = nlanes;
	for (i = 0; i < nlanes; i++)
		l->lanes[i].wake_arg = wake_args[i];
	/* The flush deadline is monotonic, and so must the wait be. */
	if ((rc = clock_cond_init(&l->cv)) != 0) {
		errno = rc;
		log_warn("pthread_cond_init");
		free(l->lanes);
		free(l);
		return -1;
	}
	pthread_mutex_init(&l->mu, NULL);
	l->uses = table_new(sizeof(struct use), USE_ENTRIES);
	l->pending = table_new(sizeof(struct inflight), USE_ENTRIES);
	if (l->uses == NULL || l->pending == NULL)
		goto fail;
	/* Signals are for the first verify thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&l->thread, NULL, commit_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		log_warn("pthread_create");
		goto fail;
	}
	*out = l;
	return 0;
fail:
	table_free(l->uses);
	table_free(l->pending);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l->lanes);
	free(l);
	return -1;
}

void
ledger_stop(struct ledger *l)
{
	if (l == NULL || l->stopped)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	l->stopped = 1;
}

void
ledger_close(struct ledger *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	ledger_stop(l);
	/* Committed replies go out if their peers are still there. */
	for (i = 0; i < l->nlanes; i++)
		ledger_complete(l, i);
	table_free(l->uses);
	table_free(l->pending);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l->lanes);
	free(l);
}
