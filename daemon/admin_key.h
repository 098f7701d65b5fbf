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
 * (the caller owns and wipes it). more: another frame follows. */
int	akey_send(struct areq *, const struct store_key *k,
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

#endif
