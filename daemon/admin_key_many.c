/*
 * admin_key_many.c - KEY_CREATE_MANY: up to PROTO_CREATE_MANY_MAX keys of
 * one owner and one set of settings in one request, for seeding a store
 * and for migrations. One KEY_CREATE per key would cost a commit, and so
 * a disk sync, per key: a million keys would take a quarter of an hour.
 *
 * The answer is a stream (server.h's conn_stream), one key and its token
 * per frame, produced as fast as the peer reads: each turn creates up to
 * MANY_BATCH keys in one write transaction and sends them once it is
 * committed, so that no token is ever shown for a key a crash could lose.
 * The checks of KEY_CREATE apply (owner, settings, the caller's right, the
 * map's reserve, keys per owner for all count keys up front and again each
 * turn). A turn that fails ends the stream with an error frame after the
 * keys already sent, which exist. An ordinary caller's turn is also kept
 * small enough not to reach into the map's reserve, which must stay for
 * revokes: near the limit, turns shrink to one key, and then stop.
 *
 * Each turn's keys get one audit record and one log line between them,
 * naming the first and the count; `key list` shows them all. A record per
 * key would let one seeding of a million keys push every other record out
 * of the audit log (audit_max_entries), and fill the log likewise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/secret.h"
#include "admin_int.h"
#include "admin_key.h"
#include "clock.h"
#include "log.h"
#include "reply.h"

/*
 * Keys per write transaction. LMDB keeps the pages a transaction dirtied
 * (a page per key, with random ids) cached for good: 1024 left about 11 MiB
 * of them, 512 half that, at a few seconds more per million keys.
 */
#define MANY_BATCH	512

struct many {
	struct admin		*a;
	struct proto_hdr	 h;
	struct caller		 who;		/* groups owned */
	struct store_key	 tmpl;		/* owner, settings, defaults */
	uint32_t		 count;
	uint32_t		 done;
	/* This turn's keys: all like tmpl but for the id and the secret,
	 * made at one time, with the same usage record. The tokens wait
	 * to be sent. */
	char			 ids[MANY_BATCH][TOKEN_ID_LEN + 1];
	char			(*tokens)[TOKEN_MAX + 1];	/* secret */
	struct keys_pool	*pool;		/* this turn's random bytes */
	struct store_key	 k;			/* scratch */
	struct proto_tenant	 tenant;
};

static void
many_free(void *arg)
{
	struct many	*m = arg;

	authz_free(&m->who);
	secret_free(m->tokens);
	keys_pool_free(m->pool);
	free(m);
}

/* Creates n keys in one transaction, with one audit record. Replies and
 * returns 1 when refused; store errors negative, unreplied. */
static int
make_keys(struct areq *r, struct many *m, uint32_t n, uint64_t now,
    const struct proto_tenant **tp)
{
	struct store_txn *txn;
	char		 owner[PROTO_ACCOUNT_MAX + 32];
	uint32_t	 i;
	int		 rc;

	if ((rc = store_write_begin(m->a->store, &txn)) != 0)
		return rc;
	/* The first turn counts all the keys asked for, the others theirs. */
	rc = akey_create_begin(r, txn, &m->tmpl, m->done == 0 ? m->count : n,
	    &m->tenant, tp);
	m->tmpl.info.created_at = now;
	/* The keys are built in m->k in turn, copied from tmpl once: a
	 * copy per key (15 KB) cost more than the rest of making it. Each
	 * key overwrites its id and hash; its usage is put back to tmpl's. */
	m->k = m->tmpl;
	for (i = 0; i < n && rc == 0; i++) {
		m->k.info.usage = m->tmpl.info.usage;
		rc = akey_create_one(r, txn, m->pool, &m->k, m->tokens[i],
		    now);
		memcpy(m->ids[i], m->k.info.id, sizeof(m->ids[i]));
	}
	/* The stream may wait long for the peer: no future secret waits
	 * with it in memory. */
	keys_pool_drop(m->pool);
	if (rc == 0) {
		akey_describe_owner(&m->tmpl.info.owner, owner,
		    sizeof(owner));
		rc = admin_audit(r, txn, "key.create", m->ids[0],
		    "%u keys (%u to %u of %u), owner %s, name '%s'",
		    (unsigned)n, (unsigned)m->done + 1, (unsigned)(m->done + n),
		    (unsigned)m->count, owner, m->tmpl.info.name);
	}
	if (rc != 0) {
		admin_abort(r, txn);
		return rc;
	}
	return admin_commit(r, txn);
}

/*
 * Keys an ordinary caller's turn may make without reaching the map's
 * reserve. A key costs its record, its owner-index entry and its usage
 * record, each well under sizeof(struct store_key) encoded, plus the
 * pages LMDB copies on write: four times the struct is a safe bound.
 */
static uint32_t
room_for(const struct many *m, uint32_t n)
{
	uint64_t	 size, used, limit, room;

	if (m->who.admin ||
	    admin_map_usage(m->a, &size, &used, &limit) != 0 || used >= limit)
		return n;	/* admin_space_check decides */
	room = (limit - used) / (4 * sizeof(struct store_key));
	if (room == 0)
		room = 1;
	return room < n ? (uint32_t)room : n;
}

/* One turn: the stream function of conn_stream. */
static int
many_turn(struct conn *c, void *arg)
{
	struct many	*m = arg;
	const struct proto_tenant *tp = NULL;
	struct areq	 r;
	struct reply	 rp;
	uint32_t	 n, i;
	int		 rc, sent = 0;

	memset(&r, 0, sizeof(r));
	r.a = m->a;
	r.c = c;
	r.h = &m->h;
	r.who = m->who;		/* borrowed: m frees its groups */
	r.quiet = 1;
	if (m->done == m->count) {
		proto_enc_empty(reply_begin(&rp, &m->h, 0));
		return reply_send(&rp, c, 0) == 0 ? 0 : -1;
	}
	if (admin_space_check(&r, 1))
		return 0;
	n = room_for(m, m->count - m->done < MANY_BATCH ?
	    m->count - m->done : MANY_BATCH);
	rc = make_keys(&r, m, n, clock_now(), &tp);
	if (rc == 0) {
		/* m->k: the last key made, its usage that of them all. */
		for (i = 0; i < n && sent == 0; i++) {
			memcpy(m->k.info.id, m->ids[i], sizeof(m->ids[i]));
			sent = akey_send(&r, &m->k, tp, m->tokens[i], 1);
		}
		m->done += n;
	}
	secret_wipe(m->tokens, MANY_BATCH * sizeof(m->tokens[0]));
	admin_drop_logs(&r);
	if (rc > 0)
		return 0;	/* replied */
	if (rc < 0) {
		(void)admin_store_fail(&r, rc, "key create");
		return 0;
	}
	return sent == 0 ? 1 : -1;
}

int
admin_key_create_many(struct areq *r)
{
	struct proto_key_create_many_req req;
	struct many	*m;
	int		 rc;

	if ((rc = proto_dec_key_create_many_req(r->body, &req)) != 0)
		return admin_bad_request(r, rc);
	if (req.count == 0 || req.count > PROTO_CREATE_MANY_MAX) {
		reply_error(r->c, r->h, PROTO_EINVAL, "count %u: must be 1 to "
		    "%u", (unsigned)req.count, PROTO_CREATE_MANY_MAX);
		return 0;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->tokens = secret_alloc(MANY_BATCH * sizeof(m->tokens[0]))) ==
	    NULL || (m->pool = keys_pool_new(MANY_BATCH)) == NULL ||
	    authz_dup(&m->who, &r->who) != 0) {
		if (m != NULL) {
			secret_free(m->tokens);
			keys_pool_free(m->pool);
		}
		free(m);
		reply_error(r->c, r->h, PROTO_EINTERNAL, "out of memory");
		return 0;
	}
	m->a = r->a;
	m->h = *r->h;
	m->count = req.count;
	if (akey_new(r, &req.create, clock_now(), &m->tmpl) != 0) {
		many_free(m);
		return 0;
	}
	return conn_stream(r->c, many_turn, many_free, m) == 0 ? 0 : -1;
}
