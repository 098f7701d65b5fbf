/*
 * admin_list.c - KEY_LIST, TENANT_LIST and AUDIT_LIST: listings answered
 * as streams (server.h's conn_stream), one item per frame.
 *
 * A listing is produced as fast as the peer reads it, never faster: each
 * turn opens a read transaction, sends items until the connection's output
 * passes its low-water mark or LIST_BATCH entries were looked at, notes
 * where it stopped, and ends the transaction. The next turn starts after
 * that entry. Before this, a client that asked for a large listing and
 * never read it made the daemon buffer all of it (64 such clients grew it
 * from 11 MB to 1.28 GB); and one long read transaction per listing would
 * have kept LMDB from reusing freed pages for as long as the reader
 * dawdled. The price: a listing is not one snapshot; an item changed while
 * it runs may show either way, and none is shown twice.
 */
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"
#include "admin_key.h"
#include "log.h"
#include "reply.h"

#define LIST_BATCH	256	/* entries looked at per read transaction */

/* Walk callbacks' answers besides 0 (go on) and store errors. */
#define WALK_PAUSE	1	/* enough for this turn */
#define WALK_DONE	2	/* past the last entry to show */

enum list_kind {
	LIST_KEYS,
	LIST_TENANTS,
	LIST_AUDIT,
};

struct listing {
	struct admin		*a;
	struct proto_hdr	 h;
	enum list_kind		 kind;
	struct caller		 who;		/* groups owned */
	struct proto_owner	 owner;		/* LIST_KEYS */
	int			 mine_only;	/* the caller's own keys */
	struct proto_tenant	 tenant;	/* the owner tenant, if any */
	int			 has_tenant;
	char			 after[PROTO_TENANT_MAX + 1]; /* id or name */
	uint64_t		 next_seq;	/* LIST_AUDIT */
	uint64_t		 end_seq;
	/* This turn. */
	struct conn		*c;
	struct store_txn	*txn;
	size_t			 seen;
};

static void
listing_free(void *arg)
{
	struct listing	*l = arg;

	authz_free(&l->who);
	free(l);
}

/* Whether this turn has done its share; the entry is then left for the
 * next turn (after is not moved past it). */
static int
turn_over(struct listing *l)
{
	return l->seen++ >= LIST_BATCH || conn_full(l->c);
}

static int
key_item(const struct store_key *k, void *arg)
{
	struct listing	*l = arg;
	struct store_key copy;
	struct areq	 r;

	if (turn_over(l))
		return WALK_PAUSE;
	memcpy(l->after, k->info.id, TOKEN_ID_LEN + 1);
	if (l->mine_only && !authz_owns(&l->who, &k->info.owner))
		return 0;
	memset(&r, 0, sizeof(r));
	r.a = l->a;
	r.c = l->c;
	r.h = &l->h;
	copy = *k;
	akey_fill_usage(l->txn, &copy);
	(void)akey_send(&r, &copy, l->has_tenant ? &l->tenant : NULL, NULL,
	    1);
	return 0;
}

static int
tenant_item(const struct proto_tenant *t, void *arg)
{
	struct listing	*l = arg;
	struct reply	 rp;

	if (turn_over(l))
		return WALK_PAUSE;
	memcpy(l->after, t->name, sizeof(t->name));
	/* Others see only the tenants whose keys they manage. */
	if (authz_tenant_admin(&l->who, t)) {
		proto_enc_tenant(reply_begin(&rp, &l->h, 1), t);
		(void)reply_send(&rp, l->c, 0);
	}
	return 0;
}

static int
audit_item(const struct proto_audit *a, void *arg)
{
	struct listing	*l = arg;
	struct reply	 rp;

	if (a->seq > l->end_seq)
		return WALK_DONE;
	if (turn_over(l))
		return WALK_PAUSE;
	l->next_seq = a->seq + 1;
	proto_enc_audit(reply_begin(&rp, &l->h, 1), a);
	(void)reply_send(&rp, l->c, 0);
	return 0;
}

/* One turn of a listing: the stream function of conn_stream. */
static int
list_turn(struct conn *c, void *arg)
{
	struct listing	*l = arg;
	struct reply	 rp;
	int		 rc;

	l->c = c;
	l->seen = 0;
	if ((rc = store_read_begin(l->a->store, &l->txn)) != 0)
		goto fail;
	switch (l->kind) {
	case LIST_KEYS:
		if (l->owner.kind == PROTO_OWNER_TENANT)
			l->has_tenant = store_tenant_get(l->txn,
			    l->owner.tenant, &l->tenant) == 0;
		rc = store_key_foreach_owner_after(l->txn, l->owner.kind,
		    l->owner.uid, l->owner.tenant, l->after, key_item, l);
		break;
	case LIST_TENANTS:
		rc = store_tenant_foreach_after(l->txn, l->after, tenant_item,
		    l);
		break;
	case LIST_AUDIT:
		rc = store_audit_foreach_from(l->txn, l->next_seq, audit_item,
		    l);
		break;
	}
	store_end(l->txn);
	l->txn = NULL;
	if (rc == WALK_PAUSE)
		return 1;
	if (rc != 0 && rc != WALK_DONE)
		goto fail;
	/* The end: an empty OK frame without MORE. */
	proto_enc_empty(reply_begin(&rp, &l->h, 0));
	return reply_send(&rp, c, 0) == 0 ? 0 : -1;
fail:
	log_warnx("admin: %s: %s", proto_op_name(l->h.opcode),
	    store_strerror(rc));
	reply_error(c, &l->h, PROTO_EINTERNAL, "key store failure during "
	    "the listing; see the apikeyd log");
	return 0;
}

/* A listing for r, with a copy of the caller (its groups included). */
static struct listing *
listing_new(struct areq *r, enum list_kind kind)
{
	struct listing	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->a = r->a;
	l->h = *r->h;
	l->kind = kind;
	if (authz_dup(&l->who, &r->who) != 0) {
		free(l);
		return NULL;
	}
	return l;
}

static int
listing_start(struct areq *r, struct listing *l)
{
	if (l == NULL) {
		reply_error(r->c, r->h, PROTO_EINTERNAL, "out of memory");
		return 0;
	}
	return conn_stream(r->c, list_turn, listing_free, l) == 0 ? 0 : -1;
}

int
admin_key_list(struct areq *r)
{
	struct proto_owner_sel sel;
	struct proto_owner o;
	struct listing	*l;
	int		 rc;

	if ((rc = proto_dec_owner_sel(r->body, &sel)) != 0)
		return admin_bad_request(r, rc);
	memset(&o, 0, sizeof(o));
	if (akey_resolve_owner(r, &sel, &o) != 0)
		return 0;
	if ((l = listing_new(r, LIST_KEYS)) != NULL) {
		l->owner = o;
		/* An account that got an old uid does not see its keys. */
		l->mine_only = !r->who.admin && o.kind == PROTO_OWNER_USER;
	}
	return listing_start(r, l);
}

int
admin_tenant_list(struct areq *r)
{
	int	 rc;

	if ((rc = proto_dec_empty(r->body)) != 0)
		return admin_bad_request(r, rc);
	return listing_start(r, listing_new(r, LIST_TENANTS));
}

int
admin_audit_list(struct areq *r)
{
	struct store_audit_info ai;
	struct store_txn *txn;
	struct listing	*l;
	uint32_t	 limit;
	int		 rc;

	if ((rc = proto_dec_audit_list_req(r->body, &limit)) != 0)
		return admin_bad_request(r, rc);
	if (authz_require_admin(r, "reading the audit log"))
		return 0;
	if ((rc = store_read_begin(r->a->store, &txn)) != 0)
		return admin_store_fail(r, rc, "audit list");
	rc = store_audit_stat(txn, &ai);
	store_end(txn);
	if (rc != 0)
		return admin_store_fail(r, rc, "audit list");
	/* The newest limit entries as of now; later ones wait their turn. */
	if ((l = listing_new(r, LIST_AUDIT)) != NULL) {
		l->end_seq = ai.last_seq;
		l->next_seq = ai.first_seq;
		if (limit > 0 && ai.last_seq >= limit &&
		    ai.last_seq - limit + 1 > ai.first_seq)
			l->next_seq = ai.last_seq - limit + 1;
	}
	return listing_start(r, l);
}
