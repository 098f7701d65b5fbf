/*
 * fixture.h - the keys and tenants every input of fuzz_frames starts
 * from, shared with the seed generator (seeds.c) so that the seeds can
 * carry their real tokens.
 *
 * Ids and secrets are fixed bytes, so a fixture key's token is the same
 * in every build and every run; only its stored hash depends on the
 * pepper, which the target makes once per process. The peers are users
 * and groups every Debian system has (base-passwd): root, daemon, sys and
 * nobody, the groups sys, users and nogroup, and one uid no one has.
 */
#ifndef APIKEY_FUZZ_FIXTURE_H
#define APIKEY_FUZZ_FIXTURE_H

#include <stdint.h>

#include "../../daemon/store.h"
#include "../../proto/proto.h"

/* The daemon's admin_group in the target: uid 3 (sys) is an admin by it. */
#define FX_ADMIN_GROUP	"sys"
#define FX_NKEYS	8
#define FX_NTENANTS	2
/* Peers, chosen by the low three bits of an input's first byte. */
#define FX_NPEERS	8

struct fx_key {
	const char	*id;
	const char	*prefix;
	uint8_t		 seed;		/* secret: bytes seed + i */
	uint8_t		 kind;		/* PROTO_OWNER_* */
	uint32_t	 uid;		/* user keys */
	const char	*user;
	const char	*tenant;	/* tenant keys */
	int		 enabled;
	int		 expired;
	int		 credits;	/* 3 credits, refilled hourly */
	int		 rate;		/* 2 verifies a second */
	/* Services, users (tenant keys), permissions and addresses. */
	int		 restricted;
	uint8_t		 prev_seed;	/* rotated: the old seed, or 0 */
};

struct fx_tenant {
	const char	*name;
	const char	*group;
	const char	*admin_group;
	int		 enabled;
};

extern const struct fx_key	fx_keys[FX_NKEYS];
extern const struct fx_tenant	fx_tenants[FX_NTENANTS];
extern const uint32_t		fx_peers[FX_NPEERS];

/*
 * The records the target stores: k's key at time now, without its hashes
 * (they need the pepper), and t's tenant with the gids given.
 */
void	fx_key_record(const struct fx_key *k, uint64_t now,
	    struct store_key *out);
void	fx_tenant_record(const struct fx_tenant *t, uint64_t now,
	    uint32_t gid, uint32_t admin_gid, struct proto_tenant *out);
/* The secret of seed (a key's, or its previous one). */
void	fx_secret(uint8_t seed, uint8_t secret[TOKEN_SECRET_BYTES]);
/* The token of seed for key k into out (TOKEN_MAX + 1 bytes). */
void	fx_token(const struct fx_key *k, uint8_t seed,
	    char out[TOKEN_MAX + 1]);

#endif
