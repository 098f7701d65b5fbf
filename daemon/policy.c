/*
 * policy.c - the verify decision and the syntax rules for names. Runs on
 * the verify thread for every request after the hash matched, so it only
 * compares short strings held in the record; lists are at most 32 long.
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/text.h"
#include "policy.h"

#define MAX_EXPIRES_IN	(100ULL * 366 * 24 * 3600)
#define MAX_RATE_WINDOW_MS (24U * 3600 * 1000)

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

/*
 * An address as 16 bytes, IPv4 mapped into ::ffff:0:0/96. v4 is set for
 * IPv4 and IPv4-mapped addresses alike (sshd on a dual-stack socket
 * reports "::ffff:192.0.2.1"), so both match IPv4 ranges; written_v4 says
 * how a prefix length must be read.
 */
struct addr {
	uint8_t	 b[16];
	int	 v4;
	int	 written_v4;
};

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0xff, 0xff };

static int
parse_addr(const char *s, struct addr *a)
{
	struct in_addr	 in4;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &in4) == 1) {
		memcpy(a->b, v4_mapped, sizeof(v4_mapped));
		memcpy(a->b + 12, &in4, 4);
		a->v4 = a->written_v4 = 1;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->b) != 1)
		return -1;
	a->v4 = memcmp(a->b, v4_mapped, sizeof(v4_mapped)) == 0;
	return 0;
}

/* Parses "addr" or "addr/len" into the network and a prefix length
 * counted over the 128-bit form. */
static int
parse_cidr(const char *s, struct addr *net, unsigned *bits)
{
	char		 buf[PROTO_CIDR_MAX + 1], *slash, *end;
	unsigned long	 len;

	if (strlen(s) > PROTO_CIDR_MAX)
		return -1;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (parse_addr(buf, net) != 0)
		return -1;
	if (slash == NULL)
		len = net->written_v4 ? 32 : 128;
	else {
		if (*slash < '0' || *slash > '9')
			return -1;
		len = strtoul(slash, &end, 10);
		if (*end != '\0' || len > (net->written_v4 ? 32UL : 128UL) ||
		    (slash[0] == '0' && slash[1] != '\0'))
			return -1;
	}
	*bits = (unsigned)len + (net->written_v4 ? 96 : 0);
	/* A range shorter than the mapped prefix covers more than IPv4. */
	if (*bits < 96)
		net->v4 = 0;
	return 0;
}

static int
prefix_equal(const struct addr *a, const struct addr *net, unsigned bits)
{
	unsigned	 full = bits / 8, rest = bits % 8;
	uint8_t		 mask;

	if (memcmp(a->b, net->b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a->b[full] & mask) == (net->b[full] & mask);
}

int
policy_cidr_valid(const char *s)
{
	struct addr	 net;
	unsigned	 bits;

	return parse_cidr(s, &net, &bits) == 0;
}

int
policy_cidr_match(const struct proto_cidr_list *l, const char *rhost)
{
	struct addr	 a, net;
	unsigned	 bits;
	uint32_t	 i;

	if (parse_addr(rhost, &a) != 0)
		return 0;
	for (i = 0; i < l->n; i++)
		if (parse_cidr(l->v[i], &net, &bits) == 0 &&
		    (net.v4 == a.v4 || bits < 96) &&
		    prefix_equal(&a, &net, bits))
			return 1;
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
	if (i->limits.cidrs.n > 0 && !policy_cidr_match(&i->limits.cidrs,
	    req->rhost)) {
		if (req->rhost[0] == '\0')
			snprintf(reason, reasonsz, "key is limited to certain "
			    "source addresses and no remote host was given");
		else
			snprintf(reason, reasonsz, "source address '%s' is not "
			    "allowed", req->rhost);
		return PROTO_FORBIDDEN;
	}
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

/*
 * Free text from clients (key names, and the service, user, host and
 * permission strings of a verify request) ends up in the log and on other
 * users' terminals through apikeyctl. The rule for it is log.c's, so that
 * whatever is accepted here is logged unchanged, never escaped.
 */
int
policy_text_valid(const char *s)
{
	size_t	 len;

	for (; *s != '\0'; s += len)
		if ((len = text_char_len(s)) == 0)
			return 0;
	return 1;
}

int
policy_spec_valid(const struct proto_key_spec *sp, uint8_t owner_kind,
    char *msg, size_t msgsz)
{
	uint32_t	 i;

	if ((sp->set & PROTO_SET_NAME) && !policy_text_valid(sp->name)) {
		snprintf(msg, msgsz, "key name is not valid UTF-8 or "
		    "contains control characters");
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
	for (i = 0; (sp->set & PROTO_SET_CIDRS) && i < sp->limits.cidrs.n; i++)
		if (!policy_cidr_valid(sp->limits.cidrs.v[i])) {
			snprintf(msg, msgsz, "'%s' is not an IPv4 or IPv6 "
			    "address or range", sp->limits.cidrs.v[i]);
			return -1;
		}
	if ((sp->set & PROTO_SET_RATE) && sp->limits.rate_max > 0 &&
	    (sp->limits.rate_window_ms == 0 ||
	    sp->limits.rate_window_ms > MAX_RATE_WINDOW_MS)) {
		snprintf(msg, msgsz, "rate limit window must be between 1 ms "
		    "and 1 day");
		return -1;
	}
	if ((sp->set & PROTO_SET_REFILL) && sp->limits.refill_amount > 0 &&
	    (sp->limits.refill_interval == 0 ||
	    sp->limits.refill_interval > MAX_EXPIRES_IN)) {
		snprintf(msg, msgsz, "refill interval must be between 1 second "
		    "and 100 years");
		return -1;
	}
	if ((sp->set & PROTO_SET_USERS) && sp->allowed_users.n > 0 &&
	    owner_kind != PROTO_OWNER_TENANT) {
		snprintf(msg, msgsz, "allowed users apply to tenant keys only");
		return -1;
	}
	return 0;
}
