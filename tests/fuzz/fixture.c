/*
 * fixture.c - see fixture.h. One key per verify outcome the store decides
 * (valid, disabled, expired, tenant disabled, restricted, rate limited,
 * out of credits, old secret in grace), so that a seed's VERIFY frame
 * reaches each of them with a real token and the fuzzer mutates from
 * there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

/* Ids are base62 and below base62(2^64 - 1), as token_id_valid wants. */
const struct fx_key fx_keys[FX_NKEYS] = {
	{ "FzKey000001", "ak", 0x10, PROTO_OWNER_USER, 0, "root", NULL,
	    1, 0, 0, 0, 0, 0 },
	{ "FzKey000002", "ak", 0x20, PROTO_OWNER_USER, 1, "daemon", NULL,
	    1, 0, 0, 0, 1, 0 },
	{ "FzKey000003", "ak", 0x30, PROTO_OWNER_TENANT, 0, NULL, "acme",
	    1, 0, 1, 1, 0, 0 },
	{ "FzKey000004", "ak", 0x40, PROTO_OWNER_USER, 65534, "nobody", NULL,
	    0, 0, 0, 0, 0, 0 },
	{ "FzKey000005", "ak", 0x50, PROTO_OWNER_USER, 1, "daemon", NULL,
	    1, 1, 0, 0, 0, 0 },
	{ "FzKey000006", "ak", 0x60, PROTO_OWNER_USER, 65534, "nobody", NULL,
	    1, 0, 0, 0, 0, 0x66 },
	{ "FzKey000007", "svc", 0x70, PROTO_OWNER_TENANT, 0, NULL, "acme",
	    1, 0, 0, 0, 1, 0 },
	{ "FzKey000008", "ak", 0x80, PROTO_OWNER_TENANT, 0, NULL, "off",
	    1, 0, 0, 0, 0, 0 },
};

const struct fx_tenant fx_tenants[FX_NTENANTS] = {
	{ "acme", "users", "nogroup", 1 },
	{ "off", "users", "", 0 },
};

/*
 * root and sys are administrators (uid 0, admin_group), daemon owns user
 * keys, nobody administers the tenant acme (its admin group is nogroup),
 * and 4242 is unknown to NSS.
 */
const uint32_t fx_peers[FX_NPEERS] = {
	0, 3, 1, 65534, 4242, 0, 1, 65534
};

void
fx_key_record(const struct fx_key *f, uint64_t now, struct store_key *k)
{
	struct proto_key *i = &k->info;

	memset(k, 0, sizeof(*k));
	snprintf(i->id, sizeof(i->id), "%s", f->id);
	snprintf(i->prefix, sizeof(i->prefix), "%s", f->prefix);
	snprintf(i->name, sizeof(i->name), "fixture %s", f->id);
	i->owner.kind = f->kind;
	i->owner.uid = f->uid;
	if (f->user != NULL)
		snprintf(i->owner.user, sizeof(i->owner.user), "%s", f->user);
	if (f->tenant != NULL)
		snprintf(i->owner.tenant, sizeof(i->owner.tenant), "%s",
		    f->tenant);
	i->enabled = (uint8_t)f->enabled;
	i->created_at = now - 3600;
	i->updated_at = now - 3600;
	i->expires_at = f->expired ? 1 : now + 86400;
	if (f->prev_seed != 0)
		i->grace_until = now + 86400;
	snprintf(i->metadata, sizeof(i->metadata), "{\"fixture\":\"%s\"}",
	    f->id);
	if (f->credits) {
		i->limits.has_credits = 1;
		i->limits.remaining = 3;
		i->limits.refill_amount = 3;
		i->limits.refill_interval = 3600;
	}
	if (f->rate) {
		i->limits.rate_max = 2;
		i->limits.rate_window_ms = 1000;
	}
	if (!f->restricted)
		return;
	i->services.n = 2;
	strcpy(i->services.v[0], "sshd");
	strcpy(i->services.v[1], "login");
	i->permissions.n = 2;
	strcpy(i->permissions.v[0], "db:read");
	strcpy(i->permissions.v[1], "logs:*");
	if (f->kind == PROTO_OWNER_TENANT) {
		i->allowed_users.n = 2;
		strcpy(i->allowed_users.v[0], "daemon");
		strcpy(i->allowed_users.v[1], "nobody");
	}
	i->limits.cidrs.n = 2;
	strcpy(i->limits.cidrs.v[0], "10.0.0.0/8");
	strcpy(i->limits.cidrs.v[1], "::1/128");
}

void
fx_tenant_record(const struct fx_tenant *f, uint64_t now, uint32_t gid,
    uint32_t admin_gid, struct proto_tenant *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", f->name);
	snprintf(t->group, sizeof(t->group), "%s", f->group);
	t->gid = gid;
	snprintf(t->admin_group, sizeof(t->admin_group), "%s",
	    f->admin_group);
	t->admin_gid = f->admin_group[0] != '\0' ? admin_gid : 0;
	t->enabled = (uint8_t)f->enabled;
	t->allow_privileged = (uint8_t)f->enabled;
	t->created_at = now - 7200;
}

void
fx_secret(uint8_t seed, uint8_t secret[TOKEN_SECRET_BYTES])
{
	int	i;

	for (i = 0; i < TOKEN_SECRET_BYTES; i++)
		secret[i] = (uint8_t)(seed + i);
}

void
fx_token(const struct fx_key *k, uint8_t seed, char out[TOKEN_MAX + 1])
{
	uint8_t	secret[TOKEN_SECRET_BYTES];

	fx_secret(seed, secret);
	/* Fixed, valid inputs: a failure is a broken fixture. */
	if (token_format(k->prefix, k->id, secret, out, TOKEN_MAX + 1) != 0)
		abort();
}
