/*
 * output.h - everything apikeyctl prints on stdout.
 *
 * A command hands each result to one out_* function with the --json flag;
 * that prints either text (`field: value` lines or a table, as
 * docs/cli.md shows) or one JSON document (json.c). Commands never format
 * a result themselves, so a key looks the same after create, show, update
 * and verify.
 *
 * Each out_* function returns 0, or -1 when memory ran out.
 */
#ifndef APIKEYCTL_OUTPUT_H
#define APIKEYCTL_OUTPUT_H

#include <stdint.h>

#include <apikey.h>

/* key show, key update. */
int	out_key(int json, const struct apikey_key *);
/* key create, key rotate: the key and its token; quiet: the token alone. */
/* `key create --count`: each key as it arrives (item i; "ID TOKEN"
 * lines, tokens alone with quiet, or a JSON array), then the end. */
int	out_key_token_item(int json, int quiet, size_t i,
	    const struct apikey_key *, const char *token);
void	out_key_token_end(int json, int quiet, size_t n);
int	out_key_token(int json, int quiet, const struct apikey_key *,
	    const char *token);
int	out_key_list(int json, const struct apikey_key_list *);
/* key enable, key disable: "VERB key ID". */
int	out_key_done(int json, const char *verb, const struct apikey_key *);
int	out_key_revoked(int json, const char *id);
int	out_keys_purged(int json, unsigned n);

/* tenant add, tenant show. */
int	out_tenant(int json, const struct apikey_tenant *);
int	out_tenant_list(int json, const struct apikey_tenant_list *);
/* tenant enable, tenant disable: "VERB tenant NAME". */
int	out_tenant_done(int json, const char *verb,
	    const struct apikey_tenant *);
int	out_tenant_removed(int json, const char *name, unsigned keys_revoked);

/*
 * status. The verify counters come only to administrators; anyone else
 * is told they are shown to administrators only.
 */
int	out_status(int json, const struct apikey_status *);
/* Seconds since the daemon started, by this host's clock (0 if ahead). */
uint64_t out_uptime(const struct apikey_status *);
/* Fleet mode: changelog entries seen in the database and not yet applied
 * here (0 when the database is not ahead), and the last digest comparison
 * as "unknown", "match" or "mismatch". */
uint64_t out_fleet_lag(const struct apikey_status *);
const char *out_fleet_digest(const struct apikey_status *);
int	out_audit(int json, const struct apikey_audit_list *);

/*
 * verify. user is --user or NULL; authz is what apikey_authorize_user()
 * returned for it, looked at only when user is set and the key is VALID.
 */
int	out_verify(int json, const struct apikey_result *, const char *user,
	    int authz);

/* 1 when a verify passed: VALID and, with a user, authorized; else 0. */
int	out_verify_passed(const struct apikey_result *, const char *user,
	    int authz);

#endif
