/*
 * keyspec.c - struct apikey_key_spec, the settings of a key create or
 * update. Each setter checks the field limits of the wire format, so a
 * spec that was built without errors always encodes, and records in the
 * set bits which settings the daemon should apply.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

APIKEY_EXPORT struct apikey_key_spec *
apikey_key_spec_new(void)
{
	return calloc(1, sizeof(struct apikey_key_spec));
}

APIKEY_EXPORT void
apikey_key_spec_free(struct apikey_key_spec *sp)
{
	free(sp);
}

APIKEY_EXPORT int
apikey_key_spec_set_name(struct apikey_key_spec *sp, const char *name)
{
	if (sp == NULL || akc_copy(sp->s.name, name, PROTO_NAME_MAX) != 0)
		return APIKEY_EINVAL;
	sp->s.set |= PROTO_SET_NAME;
	return 0;
}

APIKEY_EXPORT int
apikey_key_spec_set_prefix(struct apikey_key_spec *sp, const char *prefix)
{
	if (sp == NULL || prefix == NULL || !token_prefix_valid(prefix) ||
	    akc_copy(sp->s.prefix, prefix, TOKEN_PREFIX_MAX) != 0)
		return APIKEY_EINVAL;
	sp->s.set |= PROTO_SET_PREFIX;
	return 0;
}

APIKEY_EXPORT int
apikey_key_spec_set_expires_in(struct apikey_key_spec *sp, uint64_t seconds)
{
	if (sp == NULL)
		return APIKEY_EINVAL;
	sp->s.expires_in = seconds;
	sp->s.set |= PROTO_SET_EXPIRES;
	return 0;
}

APIKEY_EXPORT int
apikey_key_spec_add_service(struct apikey_key_spec *sp, const char *s)
{
	struct proto_service_list	*l;
	int				 rc;

	if (sp == NULL)
		return APIKEY_EINVAL;
	l = &sp->s.services;
	rc = akc_strlist_add(&l->v[0][0], sizeof(l->v[0]), &l->n,
	    PROTO_MAX_SERVICES, PROTO_SERVICE_MAX, s);
	if (rc == 0)
		sp->s.set |= PROTO_SET_SERVICES;
	return rc;
}

APIKEY_EXPORT int
apikey_key_spec_add_permission(struct apikey_key_spec *sp, const char *s)
{
	struct proto_perm_list	*l;
	int			 rc;

	if (sp == NULL)
		return APIKEY_EINVAL;
	l = &sp->s.permissions;
	rc = akc_strlist_add(&l->v[0][0], sizeof(l->v[0]), &l->n,
	    PROTO_MAX_PERMS, PROTO_PERM_MAX, s);
	if (rc == 0)
		sp->s.set |= PROTO_SET_PERMISSIONS;
	return rc;
}

APIKEY_EXPORT int
apikey_key_spec_add_allowed_user(struct apikey_key_spec *sp, const char *s)
{
	struct proto_user_list	*l;
	int			 rc;

	if (sp == NULL)
		return APIKEY_EINVAL;
	l = &sp->s.allowed_users;
	rc = akc_strlist_add(&l->v[0][0], sizeof(l->v[0]), &l->n,
	    PROTO_MAX_USERS, PROTO_ACCOUNT_MAX, s);
	if (rc == 0)
		sp->s.set |= PROTO_SET_USERS;
	return rc;
}

APIKEY_EXPORT int
apikey_key_spec_clear_services(struct apikey_key_spec *sp)
{
	if (sp == NULL)
		return APIKEY_EINVAL;
	memset(&sp->s.services, 0, sizeof(sp->s.services));
	sp->s.set |= PROTO_SET_SERVICES;
	return 0;
}

APIKEY_EXPORT int
apikey_key_spec_clear_permissions(struct apikey_key_spec *sp)
{
	if (sp == NULL)
		return APIKEY_EINVAL;
	memset(&sp->s.permissions, 0, sizeof(sp->s.permissions));
	sp->s.set |= PROTO_SET_PERMISSIONS;
	return 0;
}

APIKEY_EXPORT int
apikey_key_spec_clear_allowed_users(struct apikey_key_spec *sp)
{
	if (sp == NULL)
		return APIKEY_EINVAL;
	memset(&sp->s.allowed_users, 0, sizeof(sp->s.allowed_users));
	sp->s.set |= PROTO_SET_USERS;
	return 0;
}

APIKEY_EXPORT int
apikey_key_spec_set_metadata(struct apikey_key_spec *sp, const char *json)
{
	if (sp == NULL ||
	    akc_copy(sp->s.metadata, json, PROTO_METADATA_MAX) != 0)
		return APIKEY_EINVAL;
	sp->s.set |= PROTO_SET_METADATA;
	return 0;
}

APIKEY_EXPORT int
apikey_key_spec_set_rate(struct apikey_key_spec *sp, uint32_t max,
    uint32_t window_ms)
{
	/* A limit over no time at all would refuse every verify. */
	if (sp == NULL || (max > 0 && window_ms == 0))
		return APIKEY_EINVAL;
	sp->s.limits.rate_max = max;
	sp->s.limits.rate_window_ms = max > 0 ? window_ms : 0;
	sp->s.set |= PROTO_SET_RATE;
	return 0;
}

APIKEY_EXPORT int
apikey_key_spec_set_credits(struct apikey_key_spec *sp, uint64_t remaining)
{
	if (sp == NULL)
		return APIKEY_EINVAL;
	sp->s.limits.has_credits = 1;
	sp->s.limits.remaining = remaining;
	sp->s.set |= PROTO_SET_CREDITS;
	return 0;
}

APIKEY_EXPORT int
apikey_key_spec_clear_credits(struct apikey_key_spec *sp)
{
	if (sp == NULL)
		return APIKEY_EINVAL;
	sp->s.limits.has_credits = 0;
	sp->s.limits.remaining = 0;
	sp->s.set |= PROTO_SET_CREDITS;
	return 0;
}

APIKEY_EXPORT int
apikey_key_spec_set_refill(struct apikey_key_spec *sp, uint64_t amount,
    uint64_t interval_s)
{
	/* A refill with no interval would have to happen all the time. */
	if (sp == NULL || (amount > 0 && interval_s == 0))
		return APIKEY_EINVAL;
	sp->s.limits.refill_amount = amount;
	sp->s.limits.refill_interval = amount > 0 ? interval_s : 0;
	sp->s.set |= PROTO_SET_REFILL;
	return 0;
}

/* Only the length is checked here: what is a valid range is the daemon's
 * call, and it answers with a message that names the bad entry. */
APIKEY_EXPORT int
apikey_key_spec_add_cidr(struct apikey_key_spec *sp, const char *cidr)
{
	struct proto_cidr_list	*l;
	int			 rc;

	if (sp == NULL)
		return APIKEY_EINVAL;
	l = &sp->s.limits.cidrs;
	rc = akc_strlist_add(&l->v[0][0], sizeof(l->v[0]), &l->n,
	    PROTO_MAX_CIDRS, PROTO_CIDR_MAX, cidr);
	if (rc == 0)
		sp->s.set |= PROTO_SET_CIDRS;
	return rc;
}

APIKEY_EXPORT int
apikey_key_spec_clear_cidrs(struct apikey_key_spec *sp)
{
	if (sp == NULL)
		return APIKEY_EINVAL;
	memset(&sp->s.limits.cidrs, 0, sizeof(sp->s.limits.cidrs));
	sp->s.set |= PROTO_SET_CIDRS;
	return 0;
}

APIKEY_EXPORT int
apikey_key_spec_set_strict_sync(struct apikey_key_spec *sp, int on)
{
	if (sp == NULL)
		return APIKEY_EINVAL;
	sp->s.strict_sync = on != 0;
	sp->s.set |= PROTO_SET_STRICT_SYNC;
	return 0;
}
