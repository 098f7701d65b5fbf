/*
 * ledger.c - the commit thread behind ledger.h.
 *
 * Operations travel between the threads on two lists under one mutex:
 * the verify thread appends consumptions to `queue` and wakes the commit
 * thread; the commit thread takes the whole queue, commits it in one write
 * transaction, appends it to `done` and calls the wake function, upon
 * which the verify thread runs ledger_complete() and calls each
 * consumption's done function (verify.c then sends its held reply). Uses
 * are counted in a table under the same mutex and swapped out whole when
 * they are written.
 *
 * The flush timer is a deadline on the monotonic clock (clock.h), so a
 * step of the wall clock never writes the uses early or holds them back.
 *
 * A consumption is applied only if the key's credits are still the
 * generation it was counted against: a management request that set new
 * credits in between wins. The verify thread keeps the credits in flight
 * per key (`pending`) so that back-to-back verifies never spend the same
 * credit twice before their commit lands. A committed consumption carries
 * its LMDB txn id until completed, so that a read that already sees the
 * commit does not count it twice (ledger_pending).
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
#include "log.h"
#include "table.h"

#define USE_ENTRIES	(256 * 1024)

struct op {
	struct op	*next;
	char		 id[TOKEN_ID_LEN + 1];
	uint32_t	 gen;
	uint64_t	 refill_at;
	uint64_t	 refill_to;
	uint64_t	 cost;
	ledger_done_fn	 done;
	void		*arg;
	int		 result;
	uint64_t	 txn;		/* committed in this txn; 0: not */
};

struct oplist {
	struct op	*head;
	struct op	*tail;
};

struct use {
	uint64_t	 last_used;
	uint64_t	 count;
};

struct inflight {
	uint32_t	 gen;
	uint64_t	 cost;
};

struct ledger {
	struct store	*store;
	void		(*wake)(void *);
	void		*wake_arg;
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct oplist	 queue;		/* under mu */
	struct oplist	 done;		/* under mu */
	struct table	*uses;		/* under mu */
	int		 stop;		/* under mu */
	uint64_t	 flush_ms;
	struct table	*pending;	/* verify thread only */
	int		 uses_full_logged;
};

static void
list_add(struct oplist *l, struct op *o)
{
	o->next = NULL;
	if (l->tail != NULL)
		l->tail->next = o;
	else
		l->head = o;
	l->tail = o;
}

static struct op *
list_take(struct oplist *l)
{
	struct op	*h = l->head;

	l->head = l->tail = NULL;
	return h;
}

/* --- commit thread ------------------------------------------------------ */

static int
apply_op(struct store_txn *txn, const struct op *o)
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
	if (o->refill_at > u.last_refill_at) {
		u.remaining = o->refill_to;
		u.last_refill_at = o->refill_at;
	}
	u.remaining = u.remaining >= o->cost ? u.remaining - o->cost : 0;
	return store_usage_put(txn, o->id, &u);
}

struct flush {
	struct store_txn *txn;
	int		 rc;
};

static void
apply_use(const char *id, void *v, void *arg)
{
	struct flush	*f = arg;
	const struct use *use = v;
	struct store_usage u;
	struct store_key k;
	int		 rc;

	if (f->rc != 0)
		return;
	rc = store_usage_get(f->txn, id, &u);
	if (rc == STORE_ENOTFOUND) {
		/* Only keys that still exist get a record. */
		if ((rc = store_key_get(f->txn, id, &k)) != 0) {
			f->rc = rc == STORE_ENOTFOUND ? 0 : rc;
			return;
		}
		memset(&u, 0, sizeof(u));
	} else if (rc != 0) {
		f->rc = rc;
		return;
	}
	if (use->last_used > u.last_used)
		u.last_used = use->last_used;
	u.use_count += use->count;
	f->rc = store_usage_put(f->txn, id, &u);
}

/* One write transaction for a batch of consumptions and the uses; *txn
 * is its id once committed. */
static int
commit(struct ledger *l, struct op *batch, struct table *uses, uint64_t *txn)
{
	struct flush	 f = { NULL, 0 };
	struct op	*o;
	int		 rc;

	if ((rc = store_write_begin(l->store, &f.txn)) != 0)
		return rc;
	*txn = store_txn_id(f.txn);
	for (o = batch; o != NULL && rc == 0; o = o->next)
		rc = apply_op(f.txn, o);
	if (rc == 0 && uses != NULL) {
		table_foreach(uses, apply_use, &f);
		rc = f.rc;
	}
	if (rc != 0) {
		store_end(f.txn);
		return rc;
	}
	return store_commit(f.txn);
}

static void *
commit_main(void *arg)
{
	struct ledger	*l = arg;
	struct timespec	 next_flush;
	struct table	*uses, *fresh;
	struct op	*batch, *o;
	uint64_t	 txn = 0;
	int		 stopping, flush_due, rc;

	clock_deadline(&next_flush, l->flush_ms);
	for (;;) {
		pthread_mutex_lock(&l->mu);
		flush_due = 0;
		while (!l->stop && l->queue.head == NULL) {
			if (pthread_cond_timedwait(&l->cv, &l->mu,
			    &next_flush) == ETIMEDOUT) {
				flush_due = 1;
				break;
			}
		}
		stopping = l->stop;
		batch = list_take(&l->queue);
		uses = NULL;
		if ((flush_due || stopping) && table_count(l->uses) > 0 &&
		    (fresh = table_new(sizeof(struct use), USE_ENTRIES)) !=
		    NULL) {
			uses = l->uses;
			l->uses = fresh;
		}
		pthread_mutex_unlock(&l->mu);
		if (flush_due)
			clock_deadline(&next_flush, l->flush_ms);

		if (batch != NULL || uses != NULL) {
			rc = commit(l, batch, uses, &txn);
			if (rc != 0)
				log_warnx("usage commit failed: %s%s",
				    store_strerror(rc), batch != NULL ?
				    "; refusing the verifies that waited on it"
				    : "");
			for (o = batch; o != NULL; o = o->next) {
				o->result = rc;
				o->txn = rc == 0 ? txn : 0;
			}
		}
		table_free(uses);
		if (batch != NULL) {
			pthread_mutex_lock(&l->mu);
			while (batch != NULL) {
				o = batch->next;
				list_add(&l->done, batch);
				batch = o;
			}
			pthread_mutex_unlock(&l->mu);
			l->wake(l->wake_arg);
		}
		if (stopping && batch == NULL) {
			pthread_mutex_lock(&l->mu);
			rc = l->queue.head == NULL;
			pthread_mutex_unlock(&l->mu);
			if (rc)
				break;
		}
	}
	return NULL;
}

/* --- verify thread -------------------------------------------------------- */

/* Releases the credits of finished consumptions and calls them back. */
void
ledger_complete(struct ledger *l)
{
	struct inflight	*in;
	struct op	*o, *next;

	pthread_mutex_lock(&l->mu);
	o = list_take(&l->done);
	pthread_mutex_unlock(&l->mu);
	for (; o != NULL; o = next) {
		next = o->next;
		in = table_get(l->pending, o->id, 0);
		if (in != NULL && in->gen == o->gen) {
			in->cost = in->cost >= o->cost ? in->cost - o->cost : 0;
			/* Only credits in flight are kept: the table stays
			 * as small as the verifies awaiting a commit. */
			if (in->cost == 0)
				table_del(l->pending, o->id);
		}
		o->done(o->arg, o->result);
		free(o);
	}
}

/*
 * The credits in flight, less those of consumptions that are committed in
 * a txn the snapshot sees but not yet completed: the stored credits
 * already count those, and counting them twice would refuse a credit that
 * is there. They wait on the done list, which is short (the batches since
 * the verify loop last ran ledger_complete).
 */
uint64_t
ledger_pending(struct ledger *l, const char *id, uint32_t gen,
    uint64_t snapshot)
{
	struct inflight	*in = table_get(l->pending, id, 0);
	const struct op	*o;
	uint64_t	 cost;

	if (in == NULL || in->gen != gen || in->cost == 0)
		return 0;
	cost = in->cost;
	pthread_mutex_lock(&l->mu);
	for (o = l->done.head; o != NULL; o = o->next)
		if (o->txn != 0 && o->txn <= snapshot && o->gen == gen &&
		    strcmp(o->id, id) == 0)
			cost = cost >= o->cost ? cost - o->cost : 0;
	pthread_mutex_unlock(&l->mu);
	return cost;
}

int
ledger_consume(struct ledger *l, const char *id, uint32_t gen,
    uint64_t refill_at, uint64_t refill_to, uint64_t cost,
    ledger_done_fn done, void *arg)
{
	struct inflight	*in;
	struct op	*o;

	/* Full means USE_ENTRIES keys awaiting a commit at once: refuse. */
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (in = table_get(l->pending, id, 1)) == NULL) {
		free(o);
		return -1;
	}
	if (in->gen != gen) {
		in->gen = gen;
		in->cost = 0;
	}
	in->cost += cost;
	memcpy(o->id, id, sizeof(o->id));
	o->gen = gen;
	o->refill_at = refill_at;
	o->refill_to = refill_to;
	o->cost = cost;
	o->done = done;
	o->arg = arg;
	pthread_mutex_lock(&l->mu);
	list_add(&l->queue, o);
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return 0;
}

void
ledger_note_use(struct ledger *l, const char *id, uint64_t now)
{
	struct use	*u;

	pthread_mutex_lock(&l->mu);
	if ((u = table_get(l->uses, id, 1)) != NULL) {
		u->last_used = now;
		u->count++;
	} else if (!l->uses_full_logged) {
		l->uses_full_logged = 1;
		log_warnx("use table full: use counts lag until the next "
		    "flush");
	}
	pthread_mutex_unlock(&l->mu);
}

/* --- life cycle --------------------------------------------------------- */

int
ledger_open(struct store *st, uint64_t flush_ms, void (*wake)(void *),
    void *wake_arg, struct ledger **out)
{
	struct ledger	*l;
	sigset_t	 all, old;
	int		 rc;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	l->store = st;
	l->flush_ms = flush_ms;
	l->wake = wake;
	l->wake_arg = wake_arg;
	/* The flush deadline is monotonic, and so must the wait be. */
	if ((rc = clock_cond_init(&l->cv)) != 0) {
		errno = rc;
		log_warn("pthread_cond_init");
		free(l);
		return -1;
	}
	pthread_mutex_init(&l->mu, NULL);
	l->uses = table_new(sizeof(struct use), USE_ENTRIES);
	l->pending = table_new(sizeof(struct inflight), USE_ENTRIES);
	if (l->uses == NULL || l->pending == NULL)
		goto fail;
	/* Signals are for the verify thread. */
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
	free(l);
	return -1;
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	/* Committed replies go out if their peers are still there. */
	ledger_complete(l);
	table_free(l->uses);
	table_free(l->pending);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
}
