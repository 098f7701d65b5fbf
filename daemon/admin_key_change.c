/*
 * admin_key_change.c - the management requests that change one existing
 * key: enable/disable, revoke, update and rotate. Each
 * is one write transaction that loads and authorizes the key, changes
 * it, stores it and appends the audit record, so a change is never half
 * done and never unaudited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/secret.h"
#include "admin_int.h"
#include "admin_key.h"
#include "clock.h"
#include "reply.h"

#define MAX_GRACE	(366ULL * 24 * 3600)

/*
 * One change to one key: load and authorize it in a write transaction,
 * let change() edit the record (it replies and returns 1 to refuse, or
 * returns CHANGE_NONE when the key is already as asked), then store,
 * audit and commit together. A NULL change deletes the key.
 */
#define CHANGE_NONE	2
struct change {
	const char	*action;
	int		 ordinary;	/* refused when the map is tight */
	int		(*fn)(struct areq *, struct store_txn *,
			    struct store_key *, void *arg, char *detail,
			    size_t detailsz);
	void		*arg;
	char		*token;		/* rotate: the new token to send */
};

static int
change_key(struct areq *r, const char *id, struct change *ch)
{
	struct proto_tenant t;
	const struct proto_tenant *tp;
	struct store_key k;
	struct store_txn *txn;
	struct reply	 rp;
	char		 detail[PROTO_DETAIL_MAX + 1] = "deleted";
	int		 rc;

	if (admin_space_check(r, ch->ordinary))
		return 0;
	if ((rc = store_write_begin(r->a->store, &txn)) != 0)
		return admin_store_fail(r, rc, ch->action);
	if ((rc = akey_load(r, txn, id, &k, &t, &tp)) == 0 && ch->fn != NULL)
		rc = ch->fn(r, txn, &k, ch->arg, detail, sizeof(detail));
	if (rc != 0) {
		admin_abort(r, txn);
		/* Nothing to write, nothing to audit: a flood of these
		 * cannot push others' entries out of the audit log. */
		return rc == CHANGE_NONE ? akey_send(r, &k, tp, NULL, 0) : 0;
	}
	if ((rc = ch->fn != NULL ? store_key_put(txn, &k) :
	    store_key_del(txn, id)) == 0 &&
	    (rc = admin_audit(r, txn, ch->action, id, "%s", detail)) == 0) {
		akey_fill_usage(txn, &k);
		rc = admin_commit(r, txn);
	}
	else
		admin_abort(r, txn);
	if (rc != 0)
		return admin_store_fail(r, rc, ch->action);
	if (ch->fn != NULL)
		return akey_send(r, &k, tp, ch->token, 0);
	proto_enc_empty(reply_begin(&rp, r->h, 0));
	return reply_send(&rp, r->c, 0) == 0 ? 0 : -1;
}

static int
set_enabled(struct areq *r, struct store_txn *txn, struct store_key *k,
    void *arg, char *detail, size_t detailsz)
{
	(void)r;
	(void)txn;
	if (k->info.enabled == *(uint8_t *)arg)
		return CHANGE_NONE;
	k->info.enabled = *(uint8_t *)arg;
	k->info.updated_at = clock_now();
	snprintf(detail, detailsz, "%s", k->info.enabled ? "enabled" :
	    "disabled");
	return 0;
}

int
admin_key_set_enabled(struct areq *r)
{
	struct change	 ch = { NULL, 0, set_enabled, NULL, NULL };
	char		 arg[PROTO_ID_ARG_MAX + 1], id[TOKEN_ID_LEN + 1];
	uint8_t		 en;
	int		 rc;

	if ((rc = proto_dec_key_switch(r->body, arg, &en)) != 0)
		return admin_bad_request(r, rc);
	if (admin_check_id(r, arg, id) != 0)
		return 0;
	ch.action = en ? "key.enable" : "key.disable";
	/* Disabling must always be possible; enabling is an ordinary write. */
	ch.ordinary = en;
	ch.arg = &en;
	return change_key(r, id, &ch);
}

int
admin_key_revoke(struct areq *r)
{
	struct change	 ch = { "key.revoke", 0, NULL, NULL, NULL };
	char		 arg[PROTO_ID_ARG_MAX + 1], id[TOKEN_ID_LEN + 1];
	int		 rc;

	if ((rc = proto_dec_key_id(r->body, arg)) != 0)
		return admin_bad_request(r, rc);
	if (admin_check_id(r, arg, id) != 0)
		return 0;
	return change_key(r, id, &ch);
}

static int
update(struct areq *r, struct store_txn *txn, struct store_key *k,
    void *arg, char *detail, size_t detailsz)
{
	const struct proto_key_spec *sp = arg;
	uint64_t	 now = clock_now();
	int		 rc;

	/* Allowed users depend on the owner kind, known only now. */
	if (akey_check_spec(r, sp, k->info.owner.kind) != 0)
		return 1;
	akey_apply_spec(&k->info, sp, now);
	if (akey_check_limits(r, &k->info) != 0)
		return 1;
	if ((sp->set & PROTO_SET_CREDITS) && k->info.limits.has_credits &&
	    (rc = akey_reset_credits(txn, &k->info, now)) != 0) {
		admin_store_fail(r, rc, "key update");
		return 1;
	}
	snprintf(detail, detailsz, "changed%s%s%s%s%s%s%s%s%s%s%s",
	    sp->set & PROTO_SET_NAME ? " name" : "",
	    sp->set & PROTO_SET_EXPIRES ? " expiry" : "",
	    sp->set & PROTO_SET_SERVICES ? " services" : "",
	    sp->set & PROTO_SET_PERMISSIONS ? " permissions" : "",
	    sp->set & PROTO_SET_USERS ? " allowed-users" : "",
	    sp->set & PROTO_SET_METADATA ? " metadata" : "",
	    sp->set & PROTO_SET_RATE ? " rate-limit" : "",
	    sp->set & PROTO_SET_CREDITS ? " credits" : "",
	    sp->set & PROTO_SET_REFILL ? " refill" : "",
	    sp->set & PROTO_SET_CIDRS ? " allowed-cidrs" : "",
	    sp->set & PROTO_SET_STRICT_SYNC ? " strict-sync" : "");
	return 0;
}

int
admin_key_update(struct areq *r)
{
	struct proto_key_update_req req;
	struct change	 ch = { "key.update", 1, update, NULL, NULL };
	char		 id[TOKEN_ID_LEN + 1];
	int		 rc;

	if ((rc = proto_dec_key_update_req(r->body, &req)) != 0)
		return admin_bad_request(r, rc);
	if (admin_check_id(r, req.id, id) != 0)
		return 0;
	if (req.spec.set == 0 || (req.spec.set & PROTO_SET_PREFIX)) {
		reply_error(r->c, r->h, PROTO_EINVAL, "%s", req.spec.set == 0 ?
		    "nothing to update" : "the prefix of a key cannot change");
		return 0;
	}
	if (akey_check_spec(r, &req.spec, PROTO_OWNER_TENANT) != 0 ||
	    akey_check_users(r, &req.spec) != 0)
		return 0;
	ch.arg = &req.spec;
	return change_key(r, id, &ch);
}

struct rotation {
	uint64_t	 grace;
	char		*token;
	size_t		 tokensz;
};

static int
rotate(struct areq *r, struct store_txn *txn, struct store_key *k,
    void *arg, char *detail, size_t detailsz)
{
	struct rotation	*ro = arg;
	uint8_t		 hash[KEYS_HASH_LEN];
	uint64_t	 now = clock_now();

	(void)txn;
	if (keys_new_secret(r->a->pepper, k->info.prefix, k->info.id,
	    ro->token, ro->tokensz, hash) != 0) {
		reply_error(r->c, r->h, PROTO_EINTERNAL, "cannot draw a new "
		    "secret");
		return 1;
	}
	if (ro->grace > 0) {
		memcpy(k->prev_hash, k->hash, sizeof(k->prev_hash));
		k->info.grace_until = now + ro->grace;
	} else {
		memset(k->prev_hash, 0, sizeof(k->prev_hash));
		k->info.grace_until = 0;
	}
	memcpy(k->hash, hash, sizeof(k->hash));
	k->info.updated_at = now;
	snprintf(detail, detailsz, "grace %llus",
	    (unsigned long long)ro->grace);
	return 0;
}

int
admin_key_rotate(struct areq *r)
{
	char		 arg[PROTO_ID_ARG_MAX + 1], id[TOKEN_ID_LEN + 1];
	char		 token[TOKEN_MAX + 1];
	struct secret_scope token_scope SECRET_SCOPE = { token, sizeof(token) };
	struct rotation	 ro = { 0, token, sizeof(token) };
	struct change	 ch = { "key.rotate", 1, rotate, &ro, token };
	int		 rc;

	if ((rc = proto_dec_key_rotate_req(r->body, arg, &ro.grace)) != 0)
		return admin_bad_request(r, rc);
	if (admin_check_id(r, arg, id) != 0)
		return 0;
	if (ro.grace > MAX_GRACE) {
		reply_error(r->c, r->h, PROTO_EINVAL, "grace period is longer "
		    "than a year");
		return 0;
	}
	memset(token, 0, sizeof(token));
	return change_key(r, id, &ch);
}
