/*
 * json.c - apikeyctl's --json documents, built with jansson.
 *
 * Documents are small (a key, a listing of at most some thousands of
 * keys), so each is built whole with json_pack, dumped once with two-space
 * indentation and freed. Times are integers, null for none; a key's
 * metadata is embedded as the object it is, not as a string.
 *
 * A create or rotate document holds a token, so jout_init() hands jansson
 * the secret allocator (common/secret.h), whose free wipes each block:
 * that covers the built value, the dump and every buffer jansson grew on
 * the way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apikey.h>
#include <jansson.h>

#include "../common/secret.h"
#include "../common/text.h"
#include "json.h"
#include "output.h"
#include "view.h"

void
jout_init(void)
{
	json_set_alloc_funcs(secret_alloc, secret_free);
}

int
jout_is_object(const char *s)
{
	json_t	*v;
	int	 ok;

	v = json_loads(s, 0, NULL);
	ok = json_is_object(v);
	json_decref(v);
	return ok;
}

/* Prints doc and frees it; doc NULL means building it ran out of memory. */
static int
emit(json_t *doc)
{
	char	*s;

	if (doc == NULL)
		return -1;
	s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (s == NULL)
		return -1;
	printf("%s\n", s);
	secret_free(s);
	return 0;
}

static json_t *
time_json(time_t t)
{
	return t == 0 ? json_null() : json_integer((json_int_t)t);
}

/* A count the daemon keeps as u64; JSON integers here are signed 64-bit,
 * and apikeyctl never sets more than INT64_MAX. */
static json_t *
count_json(uint64_t n)
{
	return json_integer(n > (uint64_t)INT64_MAX ? INT64_MAX :
	    (json_int_t)n);
}

static json_t *
list_json(const struct out_list *l)
{
	json_t	*a;
	size_t	 i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < l->n; i++) {
		if (json_array_append_new(a, json_string(l->get(l->obj, i)))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The stored metadata is a JSON object, so it is embedded as one. Should
 * the daemon ever hand back something else, it is kept as a string rather
 * than lost. */
static json_t *
metadata_json(const char *s)
{
	json_t	*v;

	if (*s == '\0')
		return json_null();
	if ((v = json_loads(s, 0, NULL)) != NULL)
		return v;
	return json_string(s);
}

static json_t *
owner_json(const struct apikey_owner *o)
{
	if (apikey_owner_kind(o) == APIKEY_OWNER_TENANT)
		return json_pack("{s:s, s:s, s:s, s:I}",
		    "kind", "tenant",
		    "tenant", apikey_owner_name(o),
		    "group", apikey_owner_group(o),
		    "gid", (json_int_t)apikey_owner_gid(o));
	return json_pack("{s:s, s:I, s:s}",
	    "kind", "user",
	    "uid", (json_int_t)apikey_owner_uid(o),
	    "user", apikey_owner_name(o));
}

static json_t *
rate_json(const struct apikey_key *k)
{
	if (apikey_key_rate_max(k) == 0)
		return json_null();
	return json_pack("{s:I, s:I}",
	    "max", (json_int_t)apikey_key_rate_max(k),
	    "window_ms", (json_int_t)apikey_key_rate_window_ms(k));
}

static json_t *
credits_json(const struct apikey_key *k)
{
	uint64_t amount = apikey_key_refill_amount(k);

	if (!apikey_key_has_credits(k))
		return json_null();
	return json_pack("{s:o, s:o, s:o, s:o}",
	    "remaining", count_json(apikey_key_remaining(k)),
	    "refill_amount", amount > 0 ? count_json(amount) : json_null(),
	    "refill_interval", amount > 0 ?
	    count_json(apikey_key_refill_interval(k)) : json_null(),
	    "last_refill_at", time_json(apikey_key_last_refill_at(k)));
}

static json_t *
key_json(const struct apikey_key *k)
{
	struct out_list		svc, perm, users, cidrs;

	out_key_services(k, &svc);
	out_key_permissions(k, &perm);
	out_key_allowed_users(k, &users);
	out_key_cidrs(k, &cidrs);
	/* "o" steals each value, and json_pack frees them if it fails. */
	return json_pack("{s:s, s:s, s:s, s:o, s:b, s:I, s:o, s:o, s:o, s:o,"
	    " s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
	    "id", apikey_key_id(k),
	    "prefix", apikey_key_prefix(k),
	    "name", apikey_key_name(k),
	    "owner", owner_json(apikey_key_owner(k)),
	    "enabled", apikey_key_enabled(k) != 0,
	    "created_by", (json_int_t)apikey_key_created_by(k),
	    "created_at", time_json(apikey_key_created_at(k)),
	    "updated_at", time_json(apikey_key_updated_at(k)),
	    "expires_at", time_json(apikey_key_expires_at(k)),
	    "grace_until", time_json(apikey_key_grace_until(k)),
	    "services", list_json(&svc),
	    "permissions", list_json(&perm),
	    "allowed_users", list_json(&users),
	    "metadata", metadata_json(apikey_key_metadata(k)),
	    "rate_limit", rate_json(k),
	    "credits", credits_json(k),
	    "allowed_cidrs", list_json(&cidrs),
	    "last_used", time_json(apikey_key_last_used(k)),
	    "use_count", count_json(apikey_key_use_count(k)),
	    "strict_sync", apikey_key_strict_sync(k) != 0);
}

static json_t *
tenant_json(const struct apikey_tenant *t)
{
	const char	*admin = apikey_tenant_admin_group(t);
	int		 has_admin = *admin != '\0';

	return json_pack("{s:s, s:s, s:I, s:o, s:o, s:b, s:b, s:I, s:o, s:I}",
	    "name", apikey_tenant_name(t),
	    "group", apikey_tenant_group(t),
	    "gid", (json_int_t)apikey_tenant_gid(t),
	    "admin_group", has_admin ? json_string(admin) : json_null(),
	    "admin_gid", has_admin ?
	    json_integer((json_int_t)apikey_tenant_admin_gid(t)) : json_null(),
	    "enabled", apikey_tenant_enabled(t) != 0,
	    "allow_privileged", apikey_tenant_allow_privileged(t) != 0,
	    "created_by", (json_int_t)apikey_tenant_created_by(t),
	    "created_at", time_json(apikey_tenant_created_at(t)),
	    "keys", (json_int_t)apikey_tenant_key_count(t));
}

int
jout_key(const struct apikey_key *k)
{
	return emit(key_json(k));
}

int
jout_key_token(const struct apikey_key *k, const char *token)
{
	return emit(json_pack("{s:o, s:s}", "key", key_json(k),
	    "token", token));
}

int
jout_key_token_item(size_t i, const struct apikey_key *k, const char *token)
{
	json_t	*doc;
	char	*s;

	if ((doc = json_pack("{s:o, s:s}", "key", key_json(k), "token",
	    token)) == NULL)
		return -1;
	s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (s == NULL)
		return -1;
	printf("%s%s", i == 0 ? "[\n" : ",\n", s);
	secret_free(s);
	return 0;
}

void
jout_key_token_end(size_t n)
{
	printf(n == 0 ? "[]\n" : "\n]\n");
}

int
jout_key_list(const struct apikey_key_list *l)
{
	json_t	*a;
	size_t	 i, n = apikey_key_list_count(l);

	if ((a = json_array()) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (json_array_append_new(a,
		    key_json(apikey_key_list_get(l, i))) == -1) {
			json_decref(a);
			return -1;
		}
	}
	return emit(a);
}

int
jout_key_done(const struct apikey_key *k)
{
	return emit(json_pack("{s:b, s:o}", "ok", 1, "key", key_json(k)));
}

int
jout_key_revoked(const char *id)
{
	return emit(json_pack("{s:b, s:s}", "ok", 1, "id", id));
}

int
jout_keys_purged(unsigned n)
{
	return emit(json_pack("{s:b, s:I}", "ok", 1, "purged", (json_int_t)n));
}

int
jout_tenant(const struct apikey_tenant *t)
{
	return emit(tenant_json(t));
}

int
jout_tenant_list(const struct apikey_tenant_list *l)
{
	json_t	*a;
	size_t	 i, n = apikey_tenant_list_count(l);

	if ((a = json_array()) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (json_array_append_new(a,
		    tenant_json(apikey_tenant_list_get(l, i))) == -1) {
			json_decref(a);
			return -1;
		}
	}
	return emit(a);
}

int
jout_tenant_done(const struct apikey_tenant *t)
{
	return emit(json_pack("{s:b, s:o}", "ok", 1, "tenant", tenant_json(t)));
}

int
jout_tenant_removed(const char *name, unsigned keys_revoked)
{
	return emit(json_pack("{s:b, s:s, s:I}", "ok", 1, "name", name,
	    "keys_revoked", (json_int_t)keys_revoked));
}

/* {"VALID": N, ...} in code order, or null for a caller who may not see
 * the counters. */
static json_t *
verifies_json(const struct apikey_status *s)
{
	json_t	*o;
	int	 c;

	if (!apikey_status_has_counters(s))
		return json_null();
	if ((o = json_object()) == NULL)
		return NULL;
	for (c = APIKEY_VALID; c <= APIKEY_CODE_MAX; c++) {
		if (json_object_set_new(o, apikey_code_name((enum apikey_code)c),
		    count_json(apikey_status_verifies(s,
		    (enum apikey_code)c))) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/*
 * The fleet object, or null on a single host. The error is the daemon's
 * account of a database failure, text it got from libpq: escaped as the
 * text output shows it, so that the document is valid UTF-8 whatever it
 * holds.
 */
static json_t *
fleet_json(const struct apikey_status *s)
{
	const char	*err = apikey_status_fleet_error(s);
	char		 buf[4 * APIKEY_FLEET_ERROR_MAX + 1];
	time_t		 at = apikey_status_fleet_synced_at(s);

	if (!apikey_status_fleet(s))
		return json_null();
	if (*err != '\0')
		(void)text_escape(buf, sizeof(buf), err);
	return json_pack("{s:b, s:o, s:o, s:o, s:o, s:o, s:s, s:o}",
	    "connected", apikey_status_fleet_connected(s) != 0,
	    "last_seq", count_json(apikey_status_fleet_last_seq(s)),
	    "head_seq", count_json(apikey_status_fleet_head_seq(s)),
	    "lag", count_json(out_fleet_lag(s)),
	    "synced_at", time_json(at),
	    "max_staleness", count_json(apikey_status_fleet_max_staleness(s)),
	    "digest", out_fleet_digest(s),
	    "error", *err != '\0' ? json_string(buf) : json_null());
}

int
jout_status(const struct apikey_status *s)
{
	int	 counters = apikey_status_has_counters(s);

	return emit(json_pack("{s:s, s:I, s:o, s:I, s:s, s:s, s:I, s:I, s:I, "
	    "s:b, s:o, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}",
	    "version", apikey_status_version(s),
	    "pid", (json_int_t)apikey_status_pid(s),
	    "started_at", time_json(apikey_status_started_at(s)),
	    "uptime", (json_int_t)out_uptime(s),
	    "verify_socket", apikey_status_verify_socket(s),
	    "admin_socket", apikey_status_admin_socket(s),
	    "keys", (json_int_t)apikey_status_keys(s),
	    "tenants", (json_int_t)apikey_status_tenants(s),
	    "caller_uid", (json_int_t)apikey_status_caller_uid(s),
	    "caller_admin", apikey_status_caller_admin(s) != 0,
	    "store_size", count_json(apikey_status_store_size(s)),
	    "map_size", (json_int_t)apikey_status_map_size(s),
	    "map_used", (json_int_t)apikey_status_map_used(s),
	    "map_limit", (json_int_t)apikey_status_map_limit(s),
	    "audit_entries", (json_int_t)apikey_status_audit_entries(s),
	    "audit_pruned", count_json(apikey_status_audit_pruned(s)),
	    "verifies_total", counters ?
	    count_json(apikey_status_verifies_total(s)) : json_null(),
	    "verifies", verifies_json(s),
	    "fleet", fleet_json(s)));
}

int
jout_audit(const struct apikey_audit_list *l)
{
	const struct apikey_audit	*e;
	json_t				*a;
	size_t				 i, n = apikey_audit_list_count(l);

	if ((a = json_array()) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		e = apikey_audit_list_get(l, i);
		if (json_array_append_new(a, json_pack(
		    "{s:I, s:I, s:I, s:I, s:s, s:s, s:s}",
		    "seq", (json_int_t)apikey_audit_seq(e),
		    "time", (json_int_t)apikey_audit_time(e),
		    "uid", (json_int_t)apikey_audit_uid(e),
		    "pid", (json_int_t)apikey_audit_pid(e),
		    "action", apikey_audit_action(e),
		    "target", apikey_audit_target(e),
		    "detail", apikey_audit_detail(e))) == -1) {
			json_decref(a);
			return -1;
		}
	}
	return emit(a);
}

/* The key part of a verify reply; null when no key matched. */
static json_t *
result_key_json(const struct apikey_result *r)
{
	struct out_list		perm, users;

	if (*apikey_result_key_id(r) == '\0')
		return json_null();
	out_result_permissions(r, &perm);
	out_result_allowed_users(r, &users);
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
	    "id", apikey_result_key_id(r),
	    "name", apikey_result_name(r),
	    "owner", owner_json(apikey_result_owner(r)),
	    "permissions", list_json(&perm),
	    "allowed_users", list_json(&users),
	    "metadata", metadata_json(apikey_result_metadata(r)),
	    "expires_at", time_json(apikey_result_expires_at(r)));
}

int
jout_verify(const struct apikey_result *r, int authorized)
{
	enum apikey_code code = apikey_result_code(r);

	return emit(json_pack("{s:s, s:b, s:s, s:o, s:o, s:o, s:o}",
	    "code", apikey_code_name(code),
	    "valid", code == APIKEY_VALID,
	    "reason", apikey_result_reason(r),
	    "retry_after_ms", count_json(apikey_result_retry_after_ms(r)),
	    "remaining", apikey_result_has_credits(r) ?
	    count_json(apikey_result_remaining(r)) : json_null(),
	    "key", result_key_json(r),
	    "authorized", authorized < 0 ? json_null() :
	    json_boolean(authorized)));
}
