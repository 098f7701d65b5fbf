/*
 * objects.c - the objects management calls hand out: daemon status,
 * tenants, keys, audit entries and their lists. Each wraps a decoded wire
 * struct, so accessors only read fields; they accept NULL (returning ""
 * or 0) and an index past the end (returning NULL), so that a caller's
 * mistake is not a crash inside the library. A key's owner is read through
 * the owner view (owner.c), which verify results share.
 */
#include <stdlib.h>

#include "internal.h"

const void *
akc_list_get(const struct akc_list *l, size_t i)
{
	return i >= l->n ? NULL : (const char *)l->v + i * l->size;
}

void
akc_list_free(struct akc_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

APIKEY_EXPORT void
apikey_status_free(struct apikey_status *st)
{
	free(st);
}

APIKEY_EXPORT const char *
apikey_status_version(const struct apikey_status *st)
{
	return st == NULL ? "" : st->s.version;
}

APIKEY_EXPORT pid_t
apikey_status_pid(const struct apikey_status *st)
{
	return st == NULL ? 0 : (pid_t)st->s.pid;
}

APIKEY_EXPORT time_t
apikey_status_started_at(const struct apikey_status *st)
{
	return st == NULL ? 0 : akc_time(st->s.started_at);
}

APIKEY_EXPORT uint64_t
apikey_status_keys(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.keys;
}

APIKEY_EXPORT uint64_t
apikey_status_tenants(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.tenants;
}

APIKEY_EXPORT uid_t
apikey_status_caller_uid(const struct apikey_status *st)
{
	return st == NULL ? (uid_t)-1 : (uid_t)st->s.caller_uid;
}

APIKEY_EXPORT int
apikey_status_caller_admin(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.caller_admin != 0;
}

APIKEY_EXPORT uint64_t
apikey_status_map_size(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.map_size;
}

APIKEY_EXPORT uint64_t
apikey_status_map_used(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.map_used;
}

APIKEY_EXPORT uint64_t
apikey_status_map_limit(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.map_limit;
}

APIKEY_EXPORT uint64_t
apikey_status_audit_entries(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.audit_entries;
}

APIKEY_EXPORT uint64_t
apikey_status_audit_pruned(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.audit_pruned;
}

APIKEY_EXPORT const char *
apikey_status_verify_socket(const struct apikey_status *st)
{
	return st == NULL ? "" : st->s.verify_socket;
}

APIKEY_EXPORT const char *
apikey_status_admin_socket(const struct apikey_status *st)
{
	return st == NULL ? "" : st->s.admin_socket;
}

APIKEY_EXPORT uint64_t
apikey_status_store_size(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.store_size;
}

APIKEY_EXPORT int
apikey_status_has_counters(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.has_counters != 0;
}

/* The public codes are the wire's, so a code indexes verifies[]. */
_Static_assert((int)APIKEY_CODE_MAX == (int)PROTO_CODE_MAX,
    "enum apikey_code and enum proto_code differ");

APIKEY_EXPORT uint64_t
apikey_status_verifies(const struct apikey_status *st, enum apikey_code code)
{
	if (st == NULL || (int)code < 0 || (int)code > APIKEY_CODE_MAX)
		return 0;
	return st->s.verifies[code];
}

/* Saturates rather than wraps: no caller can count 2^64 verifies, but a
 * daemon could claim to. */
APIKEY_EXPORT uint64_t
apikey_status_verifies_total(const struct apikey_status *st)
{
	uint64_t	sum = 0;
	size_t		i;

	if (st == NULL)
		return 0;
	for (i = 0; i <= PROTO_CODE_MAX; i++)
		sum = st->s.verifies[i] > UINT64_MAX - sum ? UINT64_MAX :
		    sum + st->s.verifies[i];
	return sum;
}

APIKEY_EXPORT int
apikey_status_fleet(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.fleet != 0;
}

APIKEY_EXPORT int
apikey_status_fleet_connected(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.fleet_connected != 0;
}

APIKEY_EXPORT uint64_t
apikey_status_fleet_last_seq(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.fleet_last_seq;
}

APIKEY_EXPORT uint64_t
apikey_status_fleet_head_seq(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.fleet_head_seq;
}

APIKEY_EXPORT time_t
apikey_status_fleet_synced_at(const struct apikey_status *st)
{
	return st == NULL ? 0 : akc_time(st->s.fleet_synced_at);
}

APIKEY_EXPORT uint64_t
apikey_status_fleet_max_staleness(const struct apikey_status *st)
{
	return st == NULL ? 0 : st->s.fleet_max_staleness;
}

/* The public values are the wire's, which the decoder bounds. */
_Static_assert((int)APIKEY_FLEET_DIGEST_MISMATCH ==
    (int)PROTO_DIGEST_MISMATCH && PROTO_DIGEST_MAX == PROTO_DIGEST_MISMATCH,
    "enum apikey_fleet_digest and enum proto_fleet_digest differ");

APIKEY_EXPORT enum apikey_fleet_digest
apikey_status_fleet_digest(const struct apikey_status *st)
{
	return st == NULL ? APIKEY_FLEET_DIGEST_UNKNOWN :
	    (enum apikey_fleet_digest)st->s.fleet_digest;
}

_Static_assert(APIKEY_FLEET_ERROR_MAX == PROTO_DETAIL_MAX,
    "APIKEY_FLEET_ERROR_MAX is not the wire's bound");

APIKEY_EXPORT const char *
apikey_status_fleet_error(const struct apikey_status *st)
{
	return st == NULL ? "" : st->s.fleet_error;
}

APIKEY_EXPORT void
apikey_tenant_free(struct apikey_tenant *t)
{
	free(t);
}

APIKEY_EXPORT const char *
apikey_tenant_name(const struct apikey_tenant *t)
{
	return t == NULL ? "" : t->t.name;
}

APIKEY_EXPORT const char *
apikey_tenant_group(const struct apikey_tenant *t)
{
	return t == NULL ? "" : t->t.group;
}

APIKEY_EXPORT gid_t
apikey_tenant_gid(const struct apikey_tenant *t)
{
	return t == NULL ? (gid_t)-1 : (gid_t)t->t.gid;
}

APIKEY_EXPORT const char *
apikey_tenant_admin_group(const struct apikey_tenant *t)
{
	return t == NULL ? "" : t->t.admin_group;
}

APIKEY_EXPORT gid_t
apikey_tenant_admin_gid(const struct apikey_tenant *t)
{
	return t == NULL ? (gid_t)-1 : (gid_t)t->t.admin_gid;
}

APIKEY_EXPORT int
apikey_tenant_enabled(const struct apikey_tenant *t)
{
	return t == NULL ? 0 : t->t.enabled != 0;
}

APIKEY_EXPORT int
apikey_tenant_allow_privileged(const struct apikey_tenant *t)
{
	return t == NULL ? 0 : t->t.allow_privileged != 0;
}

APIKEY_EXPORT uid_t
apikey_tenant_created_by(const struct apikey_tenant *t)
{
	return t == NULL ? (uid_t)-1 : (uid_t)t->t.created_by;
}

APIKEY_EXPORT time_t
apikey_tenant_created_at(const struct apikey_tenant *t)
{
	return t == NULL ? 0 : akc_time(t->t.created_at);
}

APIKEY_EXPORT unsigned
apikey_tenant_key_count(const struct apikey_tenant *t)
{
	return t == NULL ? 0 : t->t.keys;
}

APIKEY_EXPORT size_t
apikey_tenant_list_count(const struct apikey_tenant_list *l)
{
	return l == NULL ? 0 : l->items.n;
}

APIKEY_EXPORT const struct apikey_tenant *
apikey_tenant_list_get(const struct apikey_tenant_list *l, size_t i)
{
	return l == NULL ? NULL : akc_list_get(&l->items, i);
}

APIKEY_EXPORT void
apikey_tenant_list_free(struct apikey_tenant_list *l)
{
	if (l == NULL)
		return;
	akc_list_free(&l->items);
	free(l);
}

APIKEY_EXPORT void
apikey_key_free(struct apikey_key *k)
{
	free(k);
}

APIKEY_EXPORT const char *
apikey_key_id(const struct apikey_key *k)
{
	return k == NULL ? "" : k->k.id;
}

APIKEY_EXPORT const char *
apikey_key_prefix(const struct apikey_key *k)
{
	return k == NULL ? "" : k->k.prefix;
}

APIKEY_EXPORT const char *
apikey_key_name(const struct apikey_key *k)
{
	return k == NULL ? "" : k->k.name;
}

APIKEY_EXPORT int
apikey_key_enabled(const struct apikey_key *k)
{
	return k == NULL ? 0 : k->k.enabled != 0;
}

APIKEY_EXPORT uid_t
apikey_key_created_by(const struct apikey_key *k)
{
	return k == NULL ? (uid_t)-1 : (uid_t)k->k.created_by;
}

APIKEY_EXPORT time_t
apikey_key_created_at(const struct apikey_key *k)
{
	return k == NULL ? 0 : akc_time(k->k.created_at);
}

APIKEY_EXPORT time_t
apikey_key_updated_at(const struct apikey_key *k)
{
	return k == NULL ? 0 : akc_time(k->k.updated_at);
}

APIKEY_EXPORT time_t
apikey_key_expires_at(const struct apikey_key *k)
{
	return k == NULL ? 0 : akc_time(k->k.expires_at);
}

APIKEY_EXPORT time_t
apikey_key_grace_until(const struct apikey_key *k)
{
	return k == NULL ? 0 : akc_time(k->k.grace_until);
}

APIKEY_EXPORT size_t
apikey_key_service_count(const struct apikey_key *k)
{
	return k == NULL ? 0 : k->k.services.n;
}

APIKEY_EXPORT const char *
apikey_key_service(const struct apikey_key *k, size_t i)
{
	return k == NULL || i >= k->k.services.n ? NULL : k->k.services.v[i];
}

APIKEY_EXPORT size_t
apikey_key_permission_count(const struct apikey_key *k)
{
	return k == NULL ? 0 : k->k.permissions.n;
}

APIKEY_EXPORT const char *
apikey_key_permission(const struct apikey_key *k, size_t i)
{
	return k == NULL || i >= k->k.permissions.n ? NULL :
	    k->k.permissions.v[i];
}

APIKEY_EXPORT size_t
apikey_key_allowed_user_count(const struct apikey_key *k)
{
	return k == NULL ? 0 : k->k.allowed_users.n;
}

APIKEY_EXPORT const char *
apikey_key_allowed_user(const struct apikey_key *k, size_t i)
{
	return k == NULL || i >= k->k.allowed_users.n ? NULL :
	    k->k.allowed_users.v[i];
}

APIKEY_EXPORT const char *
apikey_key_metadata(const struct apikey_key *k)
{
	return k == NULL ? "" : k->k.metadata;
}

APIKEY_EXPORT uint32_t
apikey_key_rate_max(const struct apikey_key *k)
{
	return k == NULL ? 0 : k->k.limits.rate_max;
}

APIKEY_EXPORT uint32_t
apikey_key_rate_window_ms(const struct apikey_key *k)
{
	return k == NULL || k->k.limits.rate_max == 0 ? 0 :
	    k->k.limits.rate_window_ms;
}

APIKEY_EXPORT int
apikey_key_has_credits(const struct apikey_key *k)
{
	return k == NULL ? 0 : k->k.limits.has_credits != 0;
}

/* What is left now (usage), not what was last set (limits.remaining). */
APIKEY_EXPORT uint64_t
apikey_key_remaining(const struct apikey_key *k)
{
	return k == NULL || !k->k.limits.has_credits ? 0 :
	    k->k.usage.remaining;
}

APIKEY_EXPORT uint64_t
apikey_key_refill_amount(const struct apikey_key *k)
{
	return k == NULL ? 0 : k->k.limits.refill_amount;
}

APIKEY_EXPORT uint64_t
apikey_key_refill_interval(const struct apikey_key *k)
{
	return k == NULL || k->k.limits.refill_amount == 0 ? 0 :
	    k->k.limits.refill_interval;
}

APIKEY_EXPORT time_t
apikey_key_last_refill_at(const struct apikey_key *k)
{
	return k == NULL ? 0 : akc_time(k->k.usage.last_refill_at);
}

APIKEY_EXPORT size_t
apikey_key_cidr_count(const struct apikey_key *k)
{
	return k == NULL ? 0 : k->k.limits.cidrs.n;
}

APIKEY_EXPORT const char *
apikey_key_cidr(const struct apikey_key *k, size_t i)
{
	return k == NULL || i >= k->k.limits.cidrs.n ? NULL :
	    k->k.limits.cidrs.v[i];
}

APIKEY_EXPORT time_t
apikey_key_last_used(const struct apikey_key *k)
{
	return k == NULL ? 0 : akc_time(k->k.usage.last_used);
}

APIKEY_EXPORT uint64_t
apikey_key_use_count(const struct apikey_key *k)
{
	return k == NULL ? 0 : k->k.usage.use_count;
}

APIKEY_EXPORT int
apikey_key_strict_sync(const struct apikey_key *k)
{
	return k == NULL ? 0 : k->k.strict_sync != 0;
}

APIKEY_EXPORT size_t
apikey_key_list_count(const struct apikey_key_list *l)
{
	return l == NULL ? 0 : l->items.n;
}

APIKEY_EXPORT const struct apikey_key *
apikey_key_list_get(const struct apikey_key_list *l, size_t i)
{
	return l == NULL ? NULL : akc_list_get(&l->items, i);
}

APIKEY_EXPORT void
apikey_key_list_free(struct apikey_key_list *l)
{
	if (l == NULL)
		return;
	akc_list_free(&l->items);
	free(l);
}

APIKEY_EXPORT size_t
apikey_audit_list_count(const struct apikey_audit_list *l)
{
	return l == NULL ? 0 : l->items.n;
}

APIKEY_EXPORT const struct apikey_audit *
apikey_audit_list_get(const struct apikey_audit_list *l, size_t i)
{
	return l == NULL ? NULL : akc_list_get(&l->items, i);
}

APIKEY_EXPORT void
apikey_audit_list_free(struct apikey_audit_list *l)
{
	if (l == NULL)
		return;
	akc_list_free(&l->items);
	free(l);
}

APIKEY_EXPORT uint64_t
apikey_audit_seq(const struct apikey_audit *a)
{
	return a == NULL ? 0 : a->a.seq;
}

APIKEY_EXPORT time_t
apikey_audit_time(const struct apikey_audit *a)
{
	return a == NULL ? 0 : akc_time(a->a.time);
}

APIKEY_EXPORT uid_t
apikey_audit_uid(const struct apikey_audit *a)
{
	return a == NULL ? (uid_t)-1 : (uid_t)a->a.uid;
}

APIKEY_EXPORT pid_t
apikey_audit_pid(const struct apikey_audit *a)
{
	return a == NULL ? 0 : (pid_t)a->a.pid;
}

APIKEY_EXPORT const char *
apikey_audit_action(const struct apikey_audit *a)
{
	return a == NULL ? "" : a->a.action;
}

APIKEY_EXPORT const char *
apikey_audit_target(const struct apikey_audit *a)
{
	return a == NULL ? "" : a->a.target;
}

APIKEY_EXPORT const char *
apikey_audit_detail(const struct apikey_audit *a)
{
	return a == NULL ? "" : a->a.detail;
}
