/*
 * proto_field.c - the fields that more than one message carries: checked
 * strings and enums, the string lists, usage limits and counters, owners,
 * owner selectors and key settings (proto_int.h).
 *
 * Each composite has one put/get pair listing its members in declaration
 * order, and every message containing it calls that pair, so a field
 * order is written down exactly once. The getters read through buf.c's
 * checked reader and validate every enum and flag. The putters trust enum
 * values (the daemon and the client fill them from constants) but refuse
 * to read past a string array or a list that is not terminated or over
 * its maximum: that fails the writer with BUF_ETOOLONG instead of sending
 * what no decoder would accept.
 */
#include <stdint.h>
#include <string.h>

#include "proto_int.h"

void
pf_fail(struct writer *w, int err)
{
	if (w->err == 0)
		w->err = err;
}

/* size is the whole array (maximum + 1): the field is at most size - 1. */
void
pf_put_str(struct writer *w, const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL) {
		pf_fail(w, BUF_ETOOLONG);
		return;
	}
	wr_str(w, s);
}

int
pf_get_str(struct reader *r, char *s, size_t size)
{
	return rd_str(r, s, size - 1);
}

/* strnlen, not strlen: the caller's string may be any length. */
void
pf_put_cstr(struct writer *w, const char *s, size_t max)
{
	if (strnlen(s, max + 1) > max) {
		pf_fail(w, BUF_ETOOLONG);
		return;
	}
	wr_str(w, s);
}

int
pf_get_u8_max(struct reader *r, uint8_t *v, uint8_t max)
{
	uint8_t	x;
	int	rv;

	if ((rv = rd_u8(r, &x)) != 0)
		return rv;
	if (x > max)
		return PROTO_EVALUE;
	*v = x;
	return 0;
}

int
pf_get_u32_max(struct reader *r, uint32_t *v, uint32_t max)
{
	uint32_t	x;
	int		rv;

	if ((rv = rd_u32(r, &x)) != 0)
		return rv;
	if (x > max)
		return PROTO_EVALUE;
	*v = x;
	return 0;
}

/*
 * String lists: rows of stride bytes (maximum length stride - 1), at most
 * maxn of them. The list structs' array dimensions are the PROTO_MAX_* and
 * PROTO_*_MAX limits, so the callers pass sizeof expressions and the limits
 * cannot drift apart from the storage.
 */
static void
put_list(struct writer *w, const char *base, size_t stride, size_t maxn,
    uint32_t n)
{
	uint32_t	i;

	if (n > maxn) {
		pf_fail(w, BUF_ETOOLONG);
		return;
	}
	for (i = 0; i < n; i++) {
		if (memchr(base + (size_t)i * stride, '\0', stride) == NULL) {
			pf_fail(w, BUF_ETOOLONG);
			return;
		}
	}
	wr_strlist(w, base, stride, n);
}

void
pf_put_perms(struct writer *w, const struct proto_perm_list *l)
{
	put_list(w, l->v[0], sizeof l->v[0], sizeof l->v / sizeof l->v[0],
	    l->n);
}

int
pf_get_perms(struct reader *r, struct proto_perm_list *l)
{
	return rd_strlist(r, l->v[0], sizeof l->v[0],
	    sizeof l->v / sizeof l->v[0], sizeof l->v[0] - 1, &l->n);
}

void
pf_put_services(struct writer *w, const struct proto_service_list *l)
{
	put_list(w, l->v[0], sizeof l->v[0], sizeof l->v / sizeof l->v[0],
	    l->n);
}

int
pf_get_services(struct reader *r, struct proto_service_list *l)
{
	return rd_strlist(r, l->v[0], sizeof l->v[0],
	    sizeof l->v / sizeof l->v[0], sizeof l->v[0] - 1, &l->n);
}

void
pf_put_users(struct writer *w, const struct proto_user_list *l)
{
	put_list(w, l->v[0], sizeof l->v[0], sizeof l->v / sizeof l->v[0],
	    l->n);
}

int
pf_get_users(struct reader *r, struct proto_user_list *l)
{
	return rd_strlist(r, l->v[0], sizeof l->v[0],
	    sizeof l->v / sizeof l->v[0], sizeof l->v[0] - 1, &l->n);
}

static void
put_cidrs(struct writer *w, const struct proto_cidr_list *l)
{
	put_list(w, l->v[0], sizeof l->v[0], sizeof l->v / sizeof l->v[0],
	    l->n);
}

static int
get_cidrs(struct reader *r, struct proto_cidr_list *l)
{
	return rd_strlist(r, l->v[0], sizeof l->v[0],
	    sizeof l->v / sizeof l->v[0], sizeof l->v[0] - 1, &l->n);
}

void
pf_put_limits(struct writer *w, const struct proto_limits *l)
{
	wr_u32(w, l->rate_max);
	wr_u32(w, l->rate_window_ms);
	wr_u8(w, l->has_credits);
	wr_u64(w, l->remaining);
	wr_u64(w, l->refill_amount);
	wr_u64(w, l->refill_interval);
	put_cidrs(w, &l->cidrs);
}

int
pf_get_limits(struct reader *r, struct proto_limits *l)
{
	int	rv;

	if ((rv = rd_u32(r, &l->rate_max)) != 0 ||
	    (rv = rd_u32(r, &l->rate_window_ms)) != 0 ||
	    (rv = pf_get_u8_max(r, &l->has_credits, 1)) != 0 ||
	    (rv = rd_u64(r, &l->remaining)) != 0 ||
	    (rv = rd_u64(r, &l->refill_amount)) != 0 ||
	    (rv = rd_u64(r, &l->refill_interval)) != 0 ||
	    (rv = get_cidrs(r, &l->cidrs)) != 0)
		return rv;
	return 0;
}

void
pf_put_usage(struct writer *w, const struct proto_usage *u)
{
	wr_u64(w, u->remaining);
	wr_u64(w, u->last_refill_at);
	wr_u64(w, u->last_used);
	wr_u64(w, u->use_count);
}

int
pf_get_usage(struct reader *r, struct proto_usage *u)
{
	int	rv;

	if ((rv = rd_u64(r, &u->remaining)) != 0 ||
	    (rv = rd_u64(r, &u->last_refill_at)) != 0 ||
	    (rv = rd_u64(r, &u->last_used)) != 0 ||
	    (rv = rd_u64(r, &u->use_count)) != 0)
		return rv;
	return 0;
}

void
pf_put_owner(struct writer *w, const struct proto_owner *o)
{
	wr_u8(w, o->kind);
	wr_u32(w, o->uid);
	pf_put_str(w, o->user, sizeof o->user);
	pf_put_str(w, o->tenant, sizeof o->tenant);
	pf_put_str(w, o->group, sizeof o->group);
	wr_u32(w, o->gid);
}

int
pf_get_owner(struct reader *r, struct proto_owner *o)
{
	int	rv;

	if ((rv = pf_get_u8_max(r, &o->kind, PROTO_OWNER_TENANT)) != 0 ||
	    (rv = rd_u32(r, &o->uid)) != 0 ||
	    (rv = pf_get_str(r, o->user, sizeof o->user)) != 0 ||
	    (rv = pf_get_str(r, o->tenant, sizeof o->tenant)) != 0 ||
	    (rv = pf_get_str(r, o->group, sizeof o->group)) != 0 ||
	    (rv = rd_u32(r, &o->gid)) != 0)
		return rv;
	return 0;
}

void
pf_put_owner_sel(struct writer *w, const struct proto_owner_sel *o)
{
	wr_u8(w, o->kind);
	pf_put_str(w, o->user, sizeof o->user);
	pf_put_str(w, o->tenant, sizeof o->tenant);
}

int
pf_get_owner_sel(struct reader *r, struct proto_owner_sel *o)
{
	int	rv;

	if ((rv = pf_get_u8_max(r, &o->kind, PROTO_OWNER_TENANT)) != 0 ||
	    (rv = pf_get_str(r, o->user, sizeof o->user)) != 0 ||
	    (rv = pf_get_str(r, o->tenant, sizeof o->tenant)) != 0)
		return rv;
	return 0;
}

void
pf_put_spec(struct writer *w, const struct proto_key_spec *s)
{
	wr_u32(w, s->set);
	pf_put_str(w, s->name, sizeof s->name);
	pf_put_str(w, s->prefix, sizeof s->prefix);
	wr_u64(w, s->expires_in);
	pf_put_services(w, &s->services);
	pf_put_perms(w, &s->permissions);
	pf_put_users(w, &s->allowed_users);
	pf_put_str(w, s->metadata, sizeof s->metadata);
	pf_put_limits(w, &s->limits);
	wr_u8(w, s->strict_sync);
}

int
pf_get_spec(struct reader *r, struct proto_key_spec *s)
{
	int	rv;

	if ((rv = rd_u32(r, &s->set)) != 0)
		return rv;
	if ((s->set & ~(uint32_t)PROTO_SET_ALL) != 0)
		return PROTO_EVALUE;
	if ((rv = pf_get_str(r, s->name, sizeof s->name)) != 0 ||
	    (rv = pf_get_str(r, s->prefix, sizeof s->prefix)) != 0 ||
	    (rv = rd_u64(r, &s->expires_in)) != 0 ||
	    (rv = pf_get_services(r, &s->services)) != 0 ||
	    (rv = pf_get_perms(r, &s->permissions)) != 0 ||
	    (rv = pf_get_users(r, &s->allowed_users)) != 0 ||
	    (rv = pf_get_str(r, s->metadata, sizeof s->metadata)) != 0 ||
	    (rv = pf_get_limits(r, &s->limits)) != 0 ||
	    (rv = pf_get_u8_max(r, &s->strict_sync, 1)) != 0)
		return rv;
	return 0;
}
