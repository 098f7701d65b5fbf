/*
 * json.h - the JSON half of apikeyctl's output, and the only part of
 * apikeyctl that knows jansson. The documents and their field names are the
 * ones in docs/cli.md. Each jout_* function prints one document on stdout
 * and returns 0, or -1 when memory ran out.
 */
#ifndef APIKEYCTL_JSON_H
#define APIKEYCTL_JSON_H

#include <apikey.h>

/* Makes jansson wipe what it frees, since documents may hold a token. Call
 * before any other jansson use. */
void	jout_init(void);
/* 1 when s is a JSON object, else 0. */
int	jout_is_object(const char *s);

int	jout_key(const struct apikey_key *);
int	jout_key_token(const struct apikey_key *, const char *token);
/* A `key create --count` array, printed as its keys arrive: item i (one
 * line each), then the end after n items. */
int	jout_key_token_item(size_t i, const struct apikey_key *,
	    const char *token);
void	jout_key_token_end(size_t n);
int	jout_key_list(const struct apikey_key_list *);
int	jout_key_done(const struct apikey_key *);
int	jout_key_revoked(const char *id);
int	jout_keys_purged(unsigned n);
int	jout_tenant(const struct apikey_tenant *);
int	jout_tenant_list(const struct apikey_tenant_list *);
int	jout_tenant_done(const struct apikey_tenant *);
int	jout_tenant_removed(const char *name, unsigned keys_revoked);
int	jout_status(const struct apikey_status *);
int	jout_audit(const struct apikey_audit_list *);
/* authorized: -1 for null (no --user), else 0 or 1. */
int	jout_verify(const struct apikey_result *, int authorized);

#endif
