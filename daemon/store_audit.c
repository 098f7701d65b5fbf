/*
 * store_audit.c - the audit log: an append-only database keyed by a
 * big-endian sequence number, so LMDB's order is the log's order and
 * appends use MDB_APPEND. Retention prunes from the oldest end, in bounded
 * batches, and counts what it dropped in the meta database, so a pruned
 * log still says how much is gone.
 */
#include <string.h>

#include "store_int.h"
#include "store_record.h"

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
		seq = 1;
		rv = STORE_OK;
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
store_audit_foreach(struct store_txn *t, uint32_t limit, store_audit_cb cb,
    void *arg)
{
	struct walk	w;
	uint32_t	i;
	int		rc, rv;

	if (!txn_ok(t))
		return STORE_EIO;
	w.cb.audit = cb;
	w.arg = arg;
	if (limit == 0)
		return walk_all(t, t->slot->s->audit, &w, visit_audit);
	if ((rv = walk_open(t, t->slot->s->audit, &w)) != 0)
		return rv;
	/* Step back from the newest entry to the first one to show. */
	rc = mdb_cursor_get(w.c, &w.k, &w.v, MDB_LAST);
	for (i = 1; rc == 0 && i < limit; i++) {
		rc = mdb_cursor_get(w.c, &w.k, &w.v, MDB_PREV);
		if (rc == MDB_NOTFOUND) {
			rc = mdb_cursor_get(w.c, &w.k, &w.v, MDB_FIRST);
			break;
		}
	}
	return walk_run(&w, rc, MDB_NEXT, visit_audit);
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

static const char pruned_name[] = "audit_pruned";

static int
pruned_get(struct store_txn *t, uint64_t *n)
{
	MDB_val	k, v;
	int	rc;

	set_val(&k, pruned_name, sizeof(pruned_name) - 1);
	if ((rc = mdb_get(t->txn, t->slot->s->meta, &k, &v)) == MDB_NOTFOUND) {
		*n = 0;
		return STORE_OK;
	}
	if (rc != 0)
		return map_err(rc);
	return rec_dec_counter(v.mv_data, v.mv_size, n);
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
	if ((rv = pruned_get(t, &ai.pruned)) != 0)
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
	uint8_t			 buf[COUNTER_REC_MAX];
	uint64_t		 left, pruned;
	uint32_t		 done = 0;
	size_t			 len;
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
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		left--;
		done++;
	}
	mdb_cursor_close(c);
	if (rv != 0)
		return rv;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return map_err(rc);
	if (done > 0) {
		if ((rv = pruned_get(t, &pruned)) != 0 ||
		    (rv = rec_enc_counter(pruned + done, buf, sizeof(buf),
		    &len)) != 0)
			return rv;
		set_val(&k, pruned_name, sizeof(pruned_name) - 1);
		set_val(&v, buf, len);
		if ((rc = mdb_put(t->txn, t->slot->s->meta, &k, &v, 0)) != 0)
			return map_err(rc);
	}
	*n = done;
	return STORE_OK;
}
