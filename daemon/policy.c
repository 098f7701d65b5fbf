/*
 * policy.c - the verify decision and the syntax rules for names. Runs on
 * the verify thread for every request after the hash matched, so it only
 * compares short strings held in the record; lists are at most 32 long.
 */
#include <stdio.h>
#include <string.h>

#include "policy.h"

#define MAX_EXPIRES_IN	(100ULL * 366 * 24 * 3600)

static int
in_list(const char *base, size_t stride, uint32_t n, const char *s)
{
	uint32_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(base + i * stride, s) == 0)
			return 1;
	return 0;
}

int
policy_permission_granted(const struct proto_perm_list *have,
    const char *need)
{
	const char	*colon = strchr(need, ':');
	size_t		 rlen;
	uint32_t	 i;

	if (colon == NULL)
		return 0;
	rlen = (size_t)(colon - need);
	for (i = 0; i < have->n; i++) {
		const char *h = have->v[i];

		if (strcmp(h, need) == 0)
			return 1;
		if (strncmp(h, need, rlen + 1) == 0 &&
		    strcmp(h + rlen + 1, "*") == 0)
			return 1;
	}
	return 0;
}

static int
restrictions(const struct store_key *k, const struct proto_verify_req *req,
    char *reason, size_t reasonsz)
{
	const struct proto_key *i = &k->info;

	if (i->services.n > 0 && (req->service[0] == '\0' ||
	    !in_list(i->services.v[0], sizeof(i->services.v[0]),
	    i->services.n, req->service))) {
		if (req->service[0] == '\0')
			snprintf(reason, reasonsz, "key is limited to certain "
			    "services and no service was given");
		else
			snprintf(reason, reasonsz, "service '%s' is not "
			    "allowed", req->service);
		return PROTO_FORBIDDEN;
	}
	if (req->tenant[0] != '\0' && (i->owner.kind != PROTO_OWNER_TENANT ||
	    strcmp(i->owner.tenant, req->tenant) != 0)) {
		snprintf(reason, reasonsz, "key does not belong to tenant '%s'",
		    req->tenant);
		return PROTO_FORBIDDEN;
	}
	if (i->allowed_users.n > 0 && (req->user[0] == '\0' ||
	    !in_list(i->allowed_users.v[0], sizeof(i->allowed_users.v[0]),
	    i->allowed_users.n, req->user))) {
		if (req->user[0] == '\0')
			snprintf(reason, reasonsz, "key is limited to certain "
			    "users and no user was given");
		else
			snprintf(reason, reasonsz, "user '%s' is not allowed",
			    req->user);
		return PROTO_FORBIDDEN;
	}
	return PROTO_VALID;
}

int
policy_verify(const struct store_key *k, const struct proto_tenant *t,
    const struct proto_verify_req *req, uint64_t now, char *reason,
    size_t reasonsz)
{
	const struct proto_key *i = &k->info;
	uint32_t	 n;
	int		 code;

	reason[0] = '\0';
	if (!i->enabled) {
		snprintf(reason, reasonsz, "key is disabled");
		return PROTO_DISABLED;
	}
	if (i->owner.kind == PROTO_OWNER_TENANT) {
		if (t == NULL) {
			snprintf(reason, reasonsz, "tenant no longer exists");
			return PROTO_NOT_FOUND;
		}
		if (!t->enabled) {
			snprintf(reason, reasonsz, "tenant '%s' is disabled",
			    t->name);
			return PROTO_TENANT_DISABLED;
		}
	}
	if (i->expires_at != 0 && now >= i->expires_at) {
		snprintf(reason, reasonsz, "key expired");
		return PROTO_EXPIRED;
	}
	if ((code = restrictions(k, req, reason, reasonsz)) != PROTO_VALID)
		return code;
	for (n = 0; n < req->required.n; n++) {
		if (!policy_permission_granted(&i->permissions,
		    req->required.v[n])) {
			snprintf(reason, reasonsz, "permission '%s' not granted",
			    req->required.v[n]);
			return PROTO_INSUFFICIENT_PERMISSIONS;
		}
	}
	return PROTO_VALID;
}

static int
chars_in(const char *s, const char *extra)
{
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    strchr(extra, *s) != NULL)
			continue;
		return 0;
	}
	return 1;
}

#define UPPER	"ABCDEFGHIJKLMNOPQRSTUVWXYZ"

int
policy_tenant_name_valid(const char *s)
{
	size_t	 len = strlen(s);

	if (len == 0 || len > PROTO_TENANT_MAX)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	return chars_in(s, "._-");
}

static int
perm_part_valid(const char *s, size_t len)
{
	char	 part[PROTO_PERM_MAX + 1];

	if (len == 0 || len > PROTO_PERM_MAX)
		return 0;
	memcpy(part, s, len);
	part[len] = '\0';
	return chars_in(part, UPPER "._-");
}

int
policy_permission_valid(const char *s)
{
	const char	*colon = strchr(s, ':');

	if (colon == NULL || strlen(s) > PROTO_PERM_MAX)
		return 0;
	if (!perm_part_valid(s, (size_t)(colon - s)))
		return 0;
	return strcmp(colon + 1, "*") == 0 ||
	    perm_part_valid(colon + 1, strlen(colon + 1));
}

int
policy_service_valid(const char *s)
{
	size_t	 len = strlen(s);

	return len > 0 && len <= PROTO_SERVICE_MAX && chars_in(s, UPPER "._@+-");
}

int
policy_text_valid(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
policy_spec_valid(const struct proto_key_spec *sp, uint8_t owner_kind,
    char *msg, size_t msgsz)
{
	uint32_t	 i;

	if ((sp->set & PROTO_SET_NAME) && !policy_text_valid(sp->name)) {
		snprintf(msg, msgsz, "key name contains control characters");
		return -1;
	}
	if ((sp->set & PROTO_SET_PREFIX) && !token_prefix_valid(sp->prefix)) {
		snprintf(msg, msgsz, "prefix '%s' is not 1-16 of [a-z0-9]",
		    sp->prefix);
		return -1;
	}
	if ((sp->set & PROTO_SET_EXPIRES) && sp->expires_in > MAX_EXPIRES_IN) {
		snprintf(msg, msgsz, "expiry is more than 100 years away");
		return -1;
	}
	for (i = 0; (sp->set & PROTO_SET_SERVICES) && i < sp->services.n; i++)
		if (!policy_service_valid(sp->services.v[i])) {
			snprintf(msg, msgsz, "service '%s' is not a valid "
			    "service name", sp->services.v[i]);
			return -1;
		}
	for (i = 0; (sp->set & PROTO_SET_PERMISSIONS) &&
	    i < sp->permissions.n; i++)
		if (!policy_permission_valid(sp->permissions.v[i])) {
			snprintf(msg, msgsz, "permission '%s' is not "
			    "resource:action", sp->permissions.v[i]);
			return -1;
		}
	if ((sp->set & PROTO_SET_USERS) && sp->allowed_users.n > 0 &&
	    owner_kind != PROTO_OWNER_TENANT) {
		snprintf(msg, msgsz, "allowed users apply to tenant keys only");
		return -1;
	}
	return 0;
}
