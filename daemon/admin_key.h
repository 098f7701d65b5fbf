/*
 * admin_key.h - shared by the admin_key*.c, admin_list.c and admin_purge.c
 * handlers only: the steps every key request is made of. Functions taking
 * an areq reply to the caller themselves when they refuse, and then
 * return 1.
 */
#ifndef APIKEY_ADMIN_KEY_H
#define APIKEY_ADMIN_KEY_H

#include "admin_int.h"

/* Sends k (owner group from t) as a reply, with the token when given
 * (the caller owns and wipes it). more: another frame follows. k keeps
 * t's group and gid in its owner (the store ignores both for a tenant
 * key). */
int	akey_send(struct areq *, struct store_key *k,
	    const struct proto_tenant *t, const char *token, int more);
/* Reads id's key, its usage and its tenant in txn, and checks the caller
 * may manage it. *tp is NULL for user keys. */
int	akey_load(struct areq *, struct store_txn *txn, const char *id,
	    struct store_key *k, struct proto_tenant *t,
	    const struct proto_tenant **tp);
/* Allowed users must exist (NSS): call before a write transaction. */
int	akey_check_users(struct areq *, const struct proto_key_spec *);
/* Syntax of the settings given, for a key of owner kind. */
int	akey_check_spec(struct areq *, const struct proto_key_spec *,
	    uint8_t kind);
/* Refuses limits that contradict each other (a refill without credits). */
int	akey_check_limits(struct areq *, const struct proto_key *);
void	akey_apply_spec(struct proto_key *, const struct proto_key_spec *,
	    uint64_t now);
/* New credits: a new generation of the key's usage record. */
int	akey_reset_credits(struct store_txn *, const struct proto_key *,
	    uint64_t now);
/* The owner a create or list request names (kind NONE: the caller),
 * checked against what the caller may manage. */
int	akey_resolve_owner(struct areq *, const struct proto_owner_sel *,
	    struct proto_owner *);
/* Copies what the store has counted into k->info.usage. */
void	akey_fill_usage(struct store_txn *, struct store_key *);

/*
 * Creating keys, in three steps. akey_new: the record of a new key from a
 * create request (owner, settings, defaults), all checked, NSS included,
 * before any write transaction. akey_create_begin, in the write
 * transaction: the owner's tenant (*tp, in t; NULL for a user key) and
 * room for count more keys. akey_create_one: a fresh id and secret for k
 * (the token written to token), drawn from kp (keys.h; NULL: straight
 * from the kernel), stored with its credits and, unless r->quiet, its
 * audit record. The first two reply and return 1 when they refuse; store
 * errors are returned negative, unreplied.
 */
int	akey_new(struct areq *, const struct proto_key_create_req *,
	    uint64_t now, struct store_key *k);
int	akey_create_begin(struct areq *, struct store_txn *,
	    const struct store_key *k, uint32_t count, struct proto_tenant *t,
	    const struct proto_tenant **tp);
int	akey_create_one(struct areq *, struct store_txn *,
	    struct keys_pool *kp, struct store_key *k,
	    char token[TOKEN_MAX + 1], uint64_t now);
/* "tenant NAME" or "user NAME (uid N)", for audit records. */
void	akey_describe_owner(const struct proto_owner *, char *buf,
	    size_t sz);

#endif
