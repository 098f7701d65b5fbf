/*
 * authz.h - the decisions behind the authz_* functions of admin_int.h,
 * without their replies, so that every rule of the DESIGN's table is
 * unit-testable: no I/O and no NSS (the caller was resolved before, by
 * authz_caller). Each returns 0 when the caller may, else the status to
 * answer with and, in msg, the message naming the rule that was not met.
 */
#ifndef APIKEY_AUTHZ_H
#define APIKEY_AUTHZ_H

#include <stddef.h>
#include <stdint.h>

#include "admin_int.h"

/* Whether the caller is root or in admin_group, for what ("removing a
 * tenant"); PROTO_EPERM when not. */
uint32_t authz_admin_check(const struct config *, const struct caller *,
	    const char *what, char *msg, size_t msgsz);
/* Whether the caller may manage tenant t's keys; PROTO_EPERM when not. */
uint32_t authz_tenant_check(const struct config *, const struct caller *,
	    const struct proto_tenant *t, char *msg, size_t msgsz);
/*
 * Whether the caller may manage key k (t: its tenant, NULL for user keys
 * or a tenant that is gone). A key the caller may not manage is
 * PROTO_ENOTFOUND, worded as for a key that does not exist.
 */
uint32_t authz_key_check(const struct caller *, const struct store_key *k,
	    const struct proto_tenant *t, char *msg, size_t msgsz);

#endif
