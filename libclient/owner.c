/*
 * owner.c - the owner view of keys and verify results. Both carry the
 * decoded wire owner (struct proto_owner); a view is a pointer to it under
 * the opaque public name, so nothing is copied, the view lives exactly as
 * long as its object, and one set of accessors serves both kinds of object.
 * struct apikey_owner is never defined: a view only ever turns back into
 * the proto_owner it was made from.
 *
 * The per-field accessors of keys and results that came before the view
 * stay, for libapikey.so.1's callers, as thin wrappers around it.
 */
#include <stddef.h>

#include "internal.h"

static const struct apikey_owner *
view(const struct proto_owner *o)
{
	return (const struct apikey_owner *)(const void *)o;
}

static const struct proto_owner *
unview(const struct apikey_owner *o)
{
	return (const struct proto_owner *)(const void *)o;
}

APIKEY_EXPORT const struct apikey_owner *
apikey_key_owner(const struct apikey_key *k)
{
	return k == NULL ? NULL : view(&k->k.owner);
}

APIKEY_EXPORT const struct apikey_owner *
apikey_result_owner(const struct apikey_result *res)
{
	return res == NULL ? NULL : view(&res->r.owner);
}

APIKEY_EXPORT enum apikey_owner_kind
apikey_owner_kind(const struct apikey_owner *o)
{
	return o == NULL ? APIKEY_OWNER_SELF :
	    (enum apikey_owner_kind)unview(o)->kind;
}

/* Each field is answered for the kind it belongs to only, whatever else
 * a daemon sent, so a caller cannot mistake a tenant key for uid 0's. */
APIKEY_EXPORT const char *
apikey_owner_name(const struct apikey_owner *o)
{
	switch (apikey_owner_kind(o)) {
	case APIKEY_OWNER_USER:
		return unview(o)->user;
	case APIKEY_OWNER_TENANT:
		return unview(o)->tenant;
	default:
		return "";
	}
}

APIKEY_EXPORT uid_t
apikey_owner_uid(const struct apikey_owner *o)
{
	return apikey_owner_kind(o) != APIKEY_OWNER_USER ? (uid_t)-1 :
	    (uid_t)unview(o)->uid;
}

APIKEY_EXPORT const char *
apikey_owner_group(const struct apikey_owner *o)
{
	return apikey_owner_kind(o) != APIKEY_OWNER_TENANT ? "" :
	    unview(o)->group;
}

APIKEY_EXPORT gid_t
apikey_owner_gid(const struct apikey_owner *o)
{
	return apikey_owner_kind(o) != APIKEY_OWNER_TENANT ? (gid_t)-1 :
	    (gid_t)unview(o)->gid;
}

/* --- superseded accessors ---------------------------------------------- */

static const char *
name_if(const struct apikey_owner *o, enum apikey_owner_kind kind)
{
	return apikey_owner_kind(o) == kind ? apikey_owner_name(o) : "";
}

APIKEY_EXPORT enum apikey_owner_kind
apikey_key_owner_kind(const struct apikey_key *k)
{
	return apikey_owner_kind(apikey_key_owner(k));
}

APIKEY_EXPORT uid_t
apikey_key_uid(const struct apikey_key *k)
{
	return apikey_owner_uid(apikey_key_owner(k));
}

APIKEY_EXPORT const char *
apikey_key_user(const struct apikey_key *k)
{
	return name_if(apikey_key_owner(k), APIKEY_OWNER_USER);
}

APIKEY_EXPORT const char *
apikey_key_tenant(const struct apikey_key *k)
{
	return name_if(apikey_key_owner(k), APIKEY_OWNER_TENANT);
}

APIKEY_EXPORT const char *
apikey_key_group(const struct apikey_key *k)
{
	return apikey_owner_group(apikey_key_owner(k));
}

APIKEY_EXPORT gid_t
apikey_key_gid(const struct apikey_key *k)
{
	return apikey_owner_gid(apikey_key_owner(k));
}

APIKEY_EXPORT enum apikey_owner_kind
apikey_result_owner_kind(const struct apikey_result *res)
{
	return apikey_owner_kind(apikey_result_owner(res));
}

APIKEY_EXPORT uid_t
apikey_result_uid(const struct apikey_result *res)
{
	return apikey_owner_uid(apikey_result_owner(res));
}

APIKEY_EXPORT const char *
apikey_result_user(const struct apikey_result *res)
{
	return name_if(apikey_result_owner(res), APIKEY_OWNER_USER);
}

APIKEY_EXPORT const char *
apikey_result_tenant(const struct apikey_result *res)
{
	return name_if(apikey_result_owner(res), APIKEY_OWNER_TENANT);
}

APIKEY_EXPORT const char *
apikey_result_group(const struct apikey_result *res)
{
	return apikey_owner_group(apikey_result_owner(res));
}

APIKEY_EXPORT gid_t
apikey_result_gid(const struct apikey_result *res)
{
	return apikey_owner_gid(apikey_result_owner(res));
}
