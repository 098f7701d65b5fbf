/*
 * admin_key.c - key management: create and show, and the pieces
 * every key request shares (admin_key.h): loading and authorizing a key,
 * checking and applying settings, and sending a key back. The requests
 * that change an existing key are in admin_key_change.c.
 *
 * Everything that needs NSS (owner and allowed-user names) is resolved
 * before the write transaction begins. A new token exists only in this
 * file's stack buffer and the reply frame, and both are wiped once sent.
 * Revoking deletes the record: a revoked key is indistinguishable from one
 * that never existed (NOT_FOUND), and its id is never reused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/account.h"
#include "../common/secret.h"
#include "admin_int.h"
#include "admin_key.h"
#include "clock.h"
#include "metadata.h"
#include "policy.h"
#include "reply.h"

#define ID_ATTEMPTS	4

/*
 * Sends k (owner group from t) as a reply, with the token when given.
 * t's group is written into k itself: a copy of the key would cost 15 KB
 * per key sent, and the store keeps no group for a tenant key
 * (store_record.c), so k is the same key to it afterwards.
 */
int
akey_send(struct areq *r, struct store_key *k, const struct proto_tenant *t,
    const char *token, int more)
{
	struct writer	*w;
	struct reply	 rp;
	int		 rc;

	if (t != NULL) {
		memcpy(k->info.owner.group, t->group,
		    sizeof(k->info.owner.group));
		k->info.owner.gid = t->gid;
	}
	w = reply_begin(&rp, r->h, more);
	if (token != NULL)
		proto_enc_key_token(w, &k->info, token);
	else
		proto_enc_key(w, &k->info);
	rc = reply_send(&rp, r->c, token != NULL);
	return rc == 0 ? 0 : -1;
}

/* Reads id's key and tenant in txn, and checks the caller may manage it.
 * Replies and returns 1 when not. *tp is NULL for user keys. */
int
akey_load(struct areq *r, struct store_txn *txn, const char *id,
    struct store_key *k, struct proto_tenant *t,
    const struct proto_tenant **tp)
{
	int	 rc;

	*tp = NULL;
	if ((rc = store_key_get(txn, id, k)) != 0) {
		if (rc == STORE_ENOTFOUND)
			reply_error(r->c, r->h, PROTO_ENOTFOUND, "no key with "
			    "id %s", id);
		else
			admin_store_fail(r, rc, "key lookup");
		return 1;
	}
	akey_fill_usage(txn, k);
	if (k->info.owner.kind == PROTO_OWNER_TENANT) {
		rc = store_tenant_get(txn, k->info.owner.tenant, t);
		if (rc == 0)
			*tp = t;
		else if (rc != STORE_ENOTFOUND) {
			admin_store_fail(r, rc, "tenant lookup");
			return 1;
		}
	}
	return authz_key(r, k, *tp);
}

/* Checks names that need NSS (allowed users); replies and returns 1. */
int
akey_check_users(struct areq *r, const struct proto_key_spec *sp)
{
	uid_t		 uid;
	gid_t		 gid;
	uint32_t	 i;
	int		 rc;

	for (i = 0; (sp->set & PROTO_SET_USERS) && i < sp->allowed_users.n;
	    i++) {
		rc = account_user_by_name(sp->allowed_users.v[i], &uid, &gid);
		if (rc == ACCOUNT_OK)
			continue;
		reply_error(r->c, r->h, rc == ACCOUNT_ENOTFOUND ?
		    PROTO_ENOTFOUND : PROTO_EINTERNAL, "user '%s' %s",
		    sp->allowed_users.v[i], rc == ACCOUNT_ENOTFOUND ?
		    "not found" : "cannot be looked up through NSS");
		return 1;
	}
	return 0;
}

/* Syntax checks that do not depend on the owner; replies, returns 1. */
int
akey_check_spec(struct areq *r, const struct proto_key_spec *sp,
    uint8_t kind)
{
	char	 msg[PROTO_MESSAGE_MAX];

	if (policy_spec_valid(sp, kind, msg, sizeof(msg)) != 0 ||
	    ((sp->set & PROTO_SET_METADATA) &&
	    metadata_valid(sp->metadata, msg, sizeof(msg)) != 0)) {
		reply_error(r->c, r->h, PROTO_EINVAL, "%s", msg);
		return 1;
	}
	return 0;
}

void
akey_apply_spec(struct proto_key *k, const struct proto_key_spec *sp,
    uint64_t now)
{
	if (sp->set & PROTO_SET_NAME)
		memcpy(k->name, sp->name, sizeof(k->name));
	if (sp->set & PROTO_SET_PREFIX)
		memcpy(k->prefix, sp->prefix, sizeof(k->prefix));
	if (sp->set & PROTO_SET_EXPIRES)
		k->expires_at = sp->expires_in ? now + sp->expires_in : 0;
	if (sp->set & PROTO_SET_SERVICES)
		k->services = sp->services;
	if (sp->set & PROTO_SET_PERMISSIONS)
		k->permissions = sp->permissions;
	if (sp->set & PROTO_SET_USERS)
		k->allowed_users = sp->allowed_users;
	if (sp->set & PROTO_SET_METADATA)
		memcpy(k->metadata, sp->metadata, sizeof(k->metadata));
	if (sp->set & PROTO_SET_RATE) {
		k->limits.rate_max = sp->limits.rate_max;
		k->limits.rate_window_ms = sp->limits.rate_max > 0 ?
		    sp->limits.rate_window_ms : 0;
	}
	if (sp->set & PROTO_SET_CREDITS) {
		k->limits.has_credits = sp->limits.has_credits;
		k->limits.remaining = sp->limits.has_credits ?
		    sp->limits.remaining : 0;
	}
	if (sp->set & PROTO_SET_REFILL) {
		k->limits.refill_amount = sp->limits.refill_amount;
		k->limits.refill_interval = sp->limits.refill_amount > 0 ?
		    sp->limits.refill_interval : 0;
	}
	if (sp->set & PROTO_SET_CIDRS)
		k->limits.cidrs = sp->limits.cidrs;
	if (sp->set & PROTO_SET_STRICT_SYNC)
		k->strict_sync = sp->strict_sync;
	k->updated_at = now;
}

/*
 * A refill without credits would do nothing; say so. In fleet mode credits
 * are refused: every host would spend them on its own until fleet-wide
 * leases exist (docs/decisions.md). Replies, returns 1.
 */
int
akey_check_limits(struct areq *r, const struct proto_key *k)
{
	if (k->limits.has_credits && r->a->fleet != NULL) {
		reply_error(r->c, r->h, PROTO_EINVAL, "usage credits "
		    "(--remaining) are not available in fleet mode yet: each "
		    "host would spend them on its own (a rate limit, --rate, "
		    "works per host)");
		return 1;
	}
	if (k->limits.refill_amount > 0 && !k->limits.has_credits) {
		reply_error(r->c, r->h, PROTO_EINVAL, "a refill needs usage "
		    "credits (--remaining)");
		return 1;
	}
	return 0;
}

/*
 * New credits for k (set by this request): a new generation of its usage
 * record, so that consumption counted against the old credits is dropped.
 * Use counts are kept.
 */
int
akey_reset_credits(struct store_txn *txn, const struct proto_key *k,
    uint64_t now)
{
	struct store_usage u;
	int		 rc;

	if ((rc = store_usage_get(txn, k->id, &u)) == STORE_ENOTFOUND)
		memset(&u, 0, sizeof(u));
	else if (rc != 0)
		return rc;
	u.remaining = k->limits.remaining;
	u.last_refill_at = now;
	u.gen++;
	return store_usage_put(txn, k->id, &u);
}

/* Shows what the store has counted for k (writes may lag; see ledger.h). */
void
akey_fill_usage(struct store_txn *txn, struct store_key *k)
{
	struct store_usage u;

	memset(&k->info.usage, 0, sizeof(k->info.usage));
	if (store_usage_get(txn, k->info.id, &u) != 0)
		return;
	k->info.usage.remaining = u.remaining;
	k->info.usage.last_refill_at = u.last_refill_at;
	k->info.usage.last_used = u.last_used;
	k->info.usage.use_count = u.use_count;
}

void
akey_describe_owner(const struct proto_owner *o, char *buf, size_t sz)
{
	if (o->kind == PROTO_OWNER_TENANT)
		snprintf(buf, sz, "tenant %s", o->tenant);
	else
		snprintf(buf, sz, "user %s (uid %u)", o->user[0] ? o->user :
		    "-", o->uid);
}

/* Fills the owner a request names; replies, returns 1. */
int
akey_resolve_owner(struct areq *r, const struct proto_owner_sel *sel,
    struct proto_owner *o)
{
	struct store_txn *txn;
	struct proto_tenant t;
	uid_t		 uid;
	gid_t		 gid;
	int		 rc;

	switch (sel->kind) {
	case PROTO_OWNER_NONE:
		/* A key records its owner's name, so that whoever gets the
		 * uid next does not inherit it: a uid without one gets none. */
		if (!r->who.known) {
			reply_error(r->c, r->h, PROTO_EINVAL, "uid %u has no "
			    "user name (NSS does not know it), and a key must "
			    "record its owner's", (unsigned)r->who.uid);
			return 1;
		}
		o->kind = PROTO_OWNER_USER;
		o->uid = (uint32_t)r->who.uid;
		memcpy(o->user, r->who.name, sizeof(o->user));
		return 0;
	case PROTO_OWNER_USER:
		rc = account_user_by_name(sel->user, &uid, &gid);
		if (rc != ACCOUNT_OK) {
			reply_error(r->c, r->h, rc == ACCOUNT_ENOTFOUND ?
			    PROTO_ENOTFOUND : PROTO_EINTERNAL, "user '%s' %s",
			    sel->user, rc == ACCOUNT_ENOTFOUND ? "not found" :
			    "cannot be looked up through NSS");
			return 1;
		}
		if (uid != r->who.uid && authz_require_admin(r,
		    "managing another user's keys"))
			return 1;
		o->kind = PROTO_OWNER_USER;
		o->uid = (uint32_t)uid;
		memcpy(o->user, sel->user, sizeof(o->user));
		return 0;
	default:
		/* Judged as every tenant name is, before any lookup. */
		if (!policy_tenant_name_valid(sel->tenant)) {
			reply_error(r->c, r->h, PROTO_EINVAL, "'%s' is not a "
			    "valid tenant name", sel->tenant);
			return 1;
		}
		if ((rc = store_read_begin(r->a->store, &txn)) != 0) {
			admin_store_fail(r, rc, "tenant lookup");
			return 1;
		}
		rc = store_tenant_get(txn, sel->tenant, &t);
		store_end(txn);
		if (rc != 0) {
			if (rc == STORE_ENOTFOUND)
				reply_error(r->c, r->h, PROTO_ENOTFOUND,
				    "tenant '%s' not found", sel->tenant);
			else
				admin_store_fail(r, rc, "tenant lookup");
			return 1;
		}
		if (authz_tenant(r, &t))
			return 1;
		o->kind = PROTO_OWNER_TENANT;
		memcpy(o->tenant, t.name, sizeof(o->tenant));
		return 0;
	}
}

/* In txn: a fresh id and secret for k, from kp (NULL: the kernel). */
static int
new_key_material(struct areq *r, struct store_txn *txn, struct keys_pool *kp,
    struct store_key *k, char *token, size_t tokensz)
{
	struct store_key tmp;
	int		 i, rc = STORE_EEXIST;

	for (i = 0; i < ID_ATTEMPTS && rc == STORE_EEXIST; i++) {
		keys_new_id_from(kp, k->info.id);
		rc = store_key_get(txn, k->info.id, &tmp);
		rc = rc == STORE_ENOTFOUND ? 0 : rc == 0 ? STORE_EEXIST : rc;
	}
	if (rc != 0)
		return rc;
	if (keys_new_secret_from(kp, r->a->pepper, k->info.prefix, k->info.id,
	    token, tokensz, k->hash) != 0)
		return STORE_EIO;
	return 0;
}

/*
 * Keys per owner are limited (max_keys_per_user, max_keys_per_tenant) for
 * everyone but root and the admin group, so one user cannot fill the
 * store. Counted in the write transaction, for count more keys. Replies
 * and returns 1 when full; a store error is returned negative, unreplied.
 */
static int
owner_has_room(struct areq *r, struct store_txn *txn,
    const struct proto_owner *o, uint32_t count)
{
	const struct config *cfg = r->a->cfg;
	unsigned	 max;
	uint32_t	 n;
	int		 rc, tenant = o->kind == PROTO_OWNER_TENANT;

	max = tenant ? cfg->max_keys_per_tenant : cfg->max_keys_per_user;
	if (r->who.admin || max == 0)
		return 0;
	if ((rc = store_key_count_owner(txn, o->kind, o->uid, o->tenant,
	    &n)) != 0)
		return rc;
	if (n < max && count <= max - n)
		return 0;
	if (count > 1 && n < max)
		reply_error(r->c, r->h, PROTO_ELIMIT, "%s %s owns %u keys; "
		    "%u more would pass the %u %s (ask an administrator)",
		    tenant ? "tenant" : "user", tenant ? o->tenant :
		    o->user[0] ? o->user : "(this uid)", (unsigned)n,
		    (unsigned)count, max, tenant ? "max_keys_per_tenant "
		    "allows" : "max_keys_per_user allows");
	else
		reply_error(r->c, r->h, PROTO_ELIMIT, "%s %s already owns %u "
		    "keys, the most %s (revoke some, or ask an "
		    "administrator)", tenant ? "tenant" : "user", tenant ?
		    o->tenant : o->user[0] ? o->user : "(this uid)",
		    (unsigned)n, tenant ? "max_keys_per_tenant allows" :
		    "max_keys_per_user allows");
	return 1;
}

int
akey_new(struct areq *r, const struct proto_key_create_req *req,
    uint64_t now, struct store_key *k)
{
	memset(k, 0, sizeof(*k));
	if (akey_resolve_owner(r, &req->owner, &k->info.owner) != 0 ||
	    akey_check_spec(r, &req->spec, k->info.owner.kind) != 0 ||
	    akey_check_users(r, &req->spec) != 0)
		return 1;
	strcpy(k->info.prefix, TOKEN_DEFAULT_PREFIX);
	akey_apply_spec(&k->info, &req->spec, now);
	if (akey_check_limits(r, &k->info) != 0)
		return 1;
	k->info.enabled = 1;
	k->info.created_by = (uint32_t)r->who.uid;
	k->info.created_at = now;
	return 0;
}

int
akey_create_begin(struct areq *r, struct store_txn *txn,
    const struct store_key *k, uint32_t count, struct proto_tenant *t,
    const struct proto_tenant **tp)
{
	int	 rc;

	*tp = NULL;
	if (k->info.owner.kind == PROTO_OWNER_TENANT) {
		/* It may have gone since akey_resolve_owner looked. */
		rc = store_tenant_get(txn, k->info.owner.tenant, t);
		if (rc == STORE_ENOTFOUND) {
			reply_error(r->c, r->h, PROTO_ENOTFOUND, "tenant '%s' "
			    "not found", k->info.owner.tenant);
			return 1;
		}
		if (rc != 0)
			return rc;
		*tp = t;
	}
	return owner_has_room(r, txn, &k->info.owner, count);
}

int
akey_create_one(struct areq *r, struct store_txn *txn, struct keys_pool *kp,
    struct store_key *k, char token[TOKEN_MAX + 1], uint64_t now)
{
	char	 owner[PROTO_ACCOUNT_MAX + 32];
	int	 rc;

	if ((rc = new_key_material(r, txn, kp, k, token, TOKEN_MAX + 1)) != 0 ||
	    (rc = store_key_put(txn, k)) != 0 ||
	    (k->info.limits.has_credits &&
	    (rc = akey_reset_credits(txn, &k->info, now)) != 0))
		return rc;
	if (!r->quiet) {
		akey_describe_owner(&k->info.owner, owner, sizeof(owner));
		if ((rc = admin_audit(r, txn, "key.create", k->info.id,
		    "owner %s, name '%s'", owner, k->info.name)) != 0)
			return rc;
	}
	akey_fill_usage(txn, k);
	return 0;
}

int
admin_key_create(struct areq *r)
{
	struct proto_key_create_req req;
	struct proto_tenant t;
	const struct proto_tenant *tp;
	struct store_key k;
	struct store_txn *txn;
	char		 token[TOKEN_MAX + 1];
	struct secret_scope token_scope SECRET_SCOPE = { token, sizeof(token) };
	uint64_t	 now = clock_now();
	int		 rc;

	if ((rc = proto_dec_key_create_req(r->body, &req)) != 0)
		return admin_bad_request(r, rc);
	if (akey_new(r, &req, now, &k) != 0 || admin_space_check(r, 1))
		return 0;
	if ((rc = store_write_begin(r->a->store, &txn)) != 0)
		return admin_store_fail(r, rc, "key create");
	if ((rc = akey_create_begin(r, txn, &k, 1, &t, &tp)) != 0) {
		admin_abort(r, txn);
		return rc < 0 ? admin_store_fail(r, rc, "key create") : 0;
	}
	if ((rc = akey_create_one(r, txn, NULL, &k, token, now)) == 0)
		rc = admin_commit(r, txn);
	else
		admin_abort(r, txn);
	if (rc != 0)
		return admin_store_fail(r, rc, "key create");
	return akey_send(r, &k, tp, token, 0);
}

int
admin_key_show(struct areq *r)
{
	struct proto_tenant t;
	const struct proto_tenant *tp;
	struct store_key k;
	struct store_txn *txn;
	char		 arg[PROTO_ID_ARG_MAX + 1], id[TOKEN_ID_LEN + 1];
	int		 rc;

	if ((rc = proto_dec_key_id(r->body, arg)) != 0)
		return admin_bad_request(r, rc);
	if (admin_check_id(r, arg, id) != 0)
		return 0;
	if ((rc = store_read_begin(r->a->store, &txn)) != 0)
		return admin_store_fail(r, rc, "key show");
	rc = akey_load(r, txn, id, &k, &t, &tp);
	store_end(txn);
	if (rc != 0)
		return 0;
	return akey_send(r, &k, tp, NULL, 0);
}
