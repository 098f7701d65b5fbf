/*
 * policy.h - pure checks over records: which verify outcome a key earns
 * and which names and settings are acceptable. No I/O, no NSS, no clock
 * (the caller passes now), so every rule is unit-testable.
 */
#ifndef APIKEY_POLICY_H
#define APIKEY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/proto.h"
#include "store.h"

/*
 * The checks after the secret matched, in order: enabled, tenant enabled,
 * expiry, restrictions (service, expected tenant, allowed users), source
 * address, then permissions. Rate limits and credits, which keep state,
 * come after these in verify.c. t is the key's tenant (NULL for user keys; for a tenant
 * key whose tenant is gone, NOT_FOUND). Writes a reason on refusal.
 * Returns an enum proto_code.
 */
int	policy_verify(const struct store_key *k, const struct proto_tenant *t,
	    const struct proto_verify_req *req, uint64_t now, char *reason,
	    size_t reasonsz);

/* 1 when rhost is an IP address inside one of the ranges. */
int	policy_cidr_match(const struct proto_cidr_list *, const char *rhost);
/* 1 when s is an IPv4 or IPv6 address with an optional /prefix. */
int	policy_cidr_valid(const char *s);

/* 1 when have grants need ("res:act"; "res:*" grants any action). */
int	policy_permission_granted(const struct proto_perm_list *have,
	    const char *need);

/* Syntax checks: 1 when acceptable. */
int	policy_tenant_name_valid(const char *);	/* [a-z0-9][a-z0-9._-]{0,31} */
int	policy_permission_valid(const char *);	/* res:act, parts [A-Za-z0-9._-]+, act may be * */
int	policy_service_valid(const char *);	/* [A-Za-z0-9._@+-]{1,64} */
/*
 * 1 when s is well-formed UTF-8 (no overlong form, surrogate, code point
 * past U+10FFFF, cut or stray sequence) without C0 controls, DEL, C1
 * controls, bidi embeddings, overrides or isolates (U+202A-202E,
 * U+2066-2069) or U+2028/2029; "" is valid. The marks LRM, RLM and ALM
 * (U+200E/200F/061C) are allowed: they open nothing, so they cannot
 * reorder the text after them. Text accepted here is logged unchanged.
 */
int	policy_text_valid(const char *s);

/* Checks every setting of a create or update spec; 0 or -1 with msg. */
int	policy_spec_valid(const struct proto_key_spec *, uint8_t owner_kind,
	    char *msg, size_t msgsz);

#endif
