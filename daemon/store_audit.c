/*
 * store_audit.c - the audit log: an append-only database keyed by a
 * big-endian sequence number, so LMDB's order is the log's order and
 * appends use MDB_APPEND. Retention prunes from the oldest end, in bounded
 * batches, and counts what it dropped in the meta database, so a pruned
 * log still says how much is gone; it also notes the last number it
 * dropped, so numbers go on where they were even when it emptied the log.
 */
#include <string.h>

#include "store_int.h"
#include "store_record.h"

/* Counters in the meta database: entries pruned, and the highest pruned
 * sequence number (so an emptied log does not start again at 1). */
static const char pruned_name[] = "audit_pruned";
static const char pruned_upto_name[] = "audit_pruned_upto";

/* A meta counter; 0 when it was never written. */
int
meta_get(struct store_txn *t, const char *name, uint64_t *n)
{
	MDB_val	k, v;
	int	rc;

	set_val(&k, name, strlen(name));
	if ((rc = mdb_get(t->txn, t->slot->s->meta, &k, &v)) == MDB_NOTFOUND) {
		*n = 0;
		return STORE_OK;
	}
	if (rc != 0)
		return map_err(rc);
	return rec_dec_counter(v.mv_data, v.mv_size, n);
}

int
meta_put(struct store_txn *t, const char *name, uint64_t n)
{
	uint8_t	buf[COUNTER_REC_MAX];
	MDB_val	k, v;
	size_t	len;
	int	rv;

	if ((rv = rec_enc_counter(n, buf, sizeof(buf), &len)) != 0)
		return rv;
	set_val(&k, name, strlen(name));
	set_val(&v, buf, len);
	return map_err(mdb_put(t->txn, t->slot->s->meta, &k, &v, 0));
}

/* a->seq is set once the record is in the txn (it is lost with the txn). */
int
store_audit_append(struct store_txn *t, struct proto_audit *a)
{
	uint8_t		 buf[AUDIT_REC_MAX], seqb[SEQ_KEY_LEN];
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 len;
	uint64_t	 seq;
	int		 rc, rv;

	if (!txn_writable(t))
		return STORE_EIO;
	if ((rv = rec_enc_audit(a, buf, sizeof(buf), &len)) != 0)
		return rv;

	if ((rc = mdb_cursor_open(t->txn, t->slot->s->audit, &c)) != 0)
		return map_err(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == MDB_NOTFOUND) {
		/* Empty, maybe pruned empty: numbers are never reused. */
		if ((rv = meta_get(t, pruned_upto_name, &seq)) == 0)
			seq++;
	} else if (rc != 0)
		rv = map_err(rc);
	else if ((rv = rec_dec_seq(k.mv_data, k.mv_size, &seq)) == 0)
		seq++;
	if (rv == 0) {
		rec_enc_seq(seq, seqb);
		set_val(&k, seqb, sizeof(seqb));
		set_val(&v, buf, len);
		rv = map_err(mdb_cursor_put(c, &k, &v, MDB_APPEND));
	}
	mdb_cursor_close(c);
	if (rv != 0)
		return rv;
	a->seq = seq;
	return STORE_OK;
}

static int
visit_audit(struct walk *w)
{
	struct proto_audit	a;
	int			rv;

	if ((rv = rec_dec_audit(w->k.mv_data, w->k.mv_size, w->v.mv_data,
	    w->v.mv_size, &a)) != 0)
		return rv;
	return w->cb.audit(&a, w->arg);
}

int
store_audit_foreach_from(struct store_txn *t, uint64_t seq, store_audit_cb cb,
    void *arg)
{
	struct walk	w;
	uint8_t		seqb[SEQ_KEY_LEN];
	int		rv;

	if (!txn_ok(t))
		return STORE_EIO;
	w.cb.audit = cb;
	w.arg = arg;
	if ((rv = walk_open(t, t->slot->s->audit, &w)) != 0)
		return rv;
	rec_enc_seq(seq, seqb);
	set_val(&w.k, seqb, sizeof(seqb));
	return walk_run(&w, mdb_cursor_get(w.c, &w.k, &w.v, MDB_SET_RANGE),
	    MDB_NEXT, visit_audit);
}

/* The sequence number under the cursor's first or last entry, 0 if none. */
static int
edge_seq(MDB_cursor *c, MDB_cursor_op op, uint64_t *seq)
{
	MDB_val	k, v;
	int	rc;

	if ((rc = mdb_cursor_get(c, &k, &v, op)) == MDB_NOTFOUND) {
		*seq = 0;
		return STORE_OK;
	}
	if (rc != 0)
		return map_err(rc);
	return rec_dec_seq(k.mv_data, k.mv_size, seq);
}

int
store_audit_stat(struct store_txn *t, struct store_audit_info *out)
{
	struct store_audit_info	 ai;
	MDB_cursor		*c;
	MDB_stat		 st;
	int			 rc, rv;

	if (!txn_ok(t))
		return STORE_EIO;
	memset(&ai, 0, sizeof(ai));
	if ((rc = mdb_stat(t->txn, t->slot->s->audit, &st)) != 0)
		return map_err(rc);
	ai.entries = st.ms_entries;
	if ((rv = meta_get(t, pruned_name, &ai.pruned)) != 0)
		return rv;
	if ((rc = mdb_cursor_open(t->txn, t->slot->s->audit, &c)) != 0)
		return map_err(rc);
	if ((rv = edge_seq(c, MDB_FIRST, &ai.first_seq)) == 0)
		rv = edge_seq(c, MDB_LAST, &ai.last_seq);
	mdb_cursor_close(c);
	if (rv != 0)
		return rv;
	*out = ai;
	return STORE_OK;
}

/*
 * Deletes from the oldest end while more than max_entries remain or the
 * entry is older than before, at most batch entries, and adds them to the
 * pruned counter in the same transaction.
 */
int
store_audit_prune(struct store_txn *t, uint64_t max_entries, uint64_t before,
    uint32_t batch, uint32_t *n)
{
	struct proto_audit	 a;
	MDB_cursor		*c;
	MDB_stat		 st;
	MDB_val			 k, v;
	uint64_t		 left, pruned, seq, upto = 0;
	uint32_t		 done = 0;
	int			 rc, rv = STORE_OK;

	if (!txn_writable(t))
		return STORE_EIO;
	if ((rc = mdb_stat(t->txn, t->slot->s->audit, &st)) != 0)
		return map_err(rc);
	left = st.ms_entries;
	if ((rc = mdb_cursor_open(t->txn, t->slot->s->audit, &c)) != 0)
		return map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 &&
	    done < batch; rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) {
		if (max_entries == 0 || left <= max_entries) {
			/* Within the count: only age can still prune. */
			if (before == 0)
				break;
			if ((rv = rec_dec_audit(k.mv_data, k.mv_size,
			    v.mv_data, v.mv_size, &a)) != 0)
				break;
			if (a.time >= before)
				break;
		}
		if ((rv = rec_dec_seq(k.mv_data, k.mv_size, &seq)) != 0)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		upto = seq;
		left--;
		done++;
	}
	mdb_cursor_close(c);
	if (rv != 0)
		return rv;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return map_err(rc);
	if (done > 0 && ((rv = meta_get(t, pruned_name, &pruned)) != 0 ||
	    (rv = meta_put(t, pruned_name, pruned + done)) != 0 ||
	    (rv = meta_put(t, pruned_upto_name, upto)) != 0))
		return rv;
	*n = done;
	return STORE_OK;
}
