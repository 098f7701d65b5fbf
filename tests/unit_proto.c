/*
 * unit_proto.c - framing and every message codec (proto/proto.c,
 * proto_admin.c, proto_field.c).
 *
 * Two tables drive it. codecs[] lists every body layout, a proto_enc_ /
 * proto_dec_ pair with a fill function; messages[] is proto.h's message
 * table, each opcode's request, reply and (for listings) end-of-listing
 * body, and a test checks that it has a row for every opcode and uses
 * every codec. Every body of every message, its error reply included, is
 * checked the same ways: a round trip through a real frame of that
 * opcode, flags and socket limit (peek, open, head, decode, memcmp with
 * the original) with every field set to a distinct value, every string at
 * its maximum length and every list full; the same with short strings and
 * partial lists, decoded over a struct full of junk, which the decoders
 * of the large structs must zero (the wrappers of the small bodies, whose
 * decoders write only the fields they read, clear their own output
 * first; the verify reply's decoder, run once per verify, writes every
 * field but only up to each string's NUL and list's n, and is compared
 * that far); an all-zero round trip; every truncated body (on an exact-size
 * heap copy, so ASan sees an over-read), which must fail with BUF_ESHORT;
 * one trailing byte, which must fail with BUF_ETRAILING. Then the enum
 * checks, the wire bytes of the small bodies, the framing edge cases and
 * the name tables.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../proto/proto.h"
#include "proto_same.h"

/* A printable, non-NUL pattern distinct per seed; full = maximum length. */
static void
fill_str(char *s, size_t size, unsigned int seed, int full)
{
	size_t	i, n;

	n = full ? size - 1 : 1 + seed % 5;
	if (n > size - 1)
		n = size - 1;
	for (i = 0; i < n; i++)
		s[i] = (char)(0x21 + (seed * 31 + i * 7) % 94);
	s[n] = '\0';
}

static void
fill_rows(char *base, size_t stride, size_t maxn, uint32_t *n,
    unsigned int seed, int full)
{
	uint32_t	i;

	*n = full ? (uint32_t)maxn : 3;
	for (i = 0; i < *n; i++)
		fill_str(base + (size_t)i * stride, stride, seed + i, full);
}

static void
fill_perms(struct proto_perm_list *l, unsigned int seed, int full)
{
	fill_rows(l->v[0], sizeof l->v[0], PROTO_MAX_PERMS, &l->n, seed, full);
}

static void
fill_services(struct proto_service_list *l, unsigned int seed, int full)
{
	fill_rows(l->v[0], sizeof l->v[0], PROTO_MAX_SERVICES, &l->n, seed,
	    full);
}

static void
fill_users(struct proto_user_list *l, unsigned int seed, int full)
{
	fill_rows(l->v[0], sizeof l->v[0], PROTO_MAX_USERS, &l->n, seed, full);
}

static void
fill_cidrs(struct proto_cidr_list *l, unsigned int seed, int full)
{
	fill_rows(l->v[0], sizeof l->v[0], PROTO_MAX_CIDRS, &l->n, seed, full);
}

/* Distinct non-zero values; base tells the struct's users apart. */
static void
fill_limits(struct proto_limits *l, uint64_t base, int full)
{
	l->rate_max = 0x11000000u + (uint32_t)base;
	l->rate_window_ms = 0x12000000u + (uint32_t)base;
	l->has_credits = 1;
	l->remaining = 0x1300000000000000ull + base;
	l->refill_amount = 0x1400000000000000ull + base;
	l->refill_interval = 0x1500000000000000ull + base;
	fill_cidrs(&l->cidrs, 900 + (unsigned int)base, full);
}

static void
fill_usage(struct proto_usage *u)
{
	u->remaining = 0x1600000000000001ull;
	u->last_refill_at = 0x1700000000000002ull;
	u->last_used = 0x1800000000000003ull;
	u->use_count = 0x1900000000000004ull;
}

static void
fill_owner(struct proto_owner *o, int full)
{
	o->kind = PROTO_OWNER_TENANT;
	o->uid = 1001;
	fill_str(o->user, sizeof o->user, 1, full);
	fill_str(o->tenant, sizeof o->tenant, 2, full);
	fill_str(o->group, sizeof o->group, 3, full);
	o->gid = 2002;
}

static void
fill_owner_sel(struct proto_owner_sel *o, int full)
{
	o->kind = PROTO_OWNER_TENANT;
	fill_str(o->user, sizeof o->user, 4, full);
	fill_str(o->tenant, sizeof o->tenant, 5, full);
}

static void
fill_spec(struct proto_key_spec *s, int full)
{
	s->set = PROTO_SET_ALL;
	fill_str(s->name, sizeof s->name, 6, full);
	fill_str(s->prefix, sizeof s->prefix, 7, full);
	s->expires_in = 0x0102030405060708ull;
	fill_services(&s->services, 100, full);
	fill_perms(&s->permissions, 200, full);
	fill_users(&s->allowed_users, 300, full);
	fill_str(s->metadata, sizeof s->metadata, 8, full);
	fill_limits(&s->limits, 1, full);
	s->strict_sync = 1;
}

/* Two small bodies without a struct in proto.h, given one for the table. */
struct ping_reply {
	uint32_t	version;
	char		verstr[PROTO_VERSTR_MAX + 1];
};

struct reply_head {
	uint32_t	status;
	char		message[PROTO_MESSAGE_MAX + 1];
};

static void
fill_ping(void *p, int full)
{
	struct ping_reply	*v = p;

	v->version = 0x01020304;
	fill_str(v->verstr, sizeof v->verstr, 9, full);
}

static void
enc_ping(struct writer *w, const void *p)
{
	const struct ping_reply	*v = p;

	proto_enc_ping_reply(w, v->version, v->verstr);
}

static int
dec_ping(struct reader *r, void *p)
{
	struct ping_reply	*v = p;

	memset(v, 0, sizeof *v);
	return proto_dec_ping_reply(r, &v->version, v->verstr);
}

static void
fill_head(void *p, int full)
{
	struct reply_head	*h = p;

	h->status = PROTO_EBUSY;
	fill_str(h->message, sizeof h->message, 10, full);
}

static void
enc_head(struct writer *w, const void *p)
{
	const struct reply_head	*h = p;

	proto_enc_reply_head(w, h->status, h->message);
}

/* The head starts every reply; alone it is a whole (error) reply body. */
static int
dec_head(struct reader *r, void *p)
{
	struct reply_head	*h = p;
	int			 rv;

	memset(h, 0, sizeof *h);
	if ((rv = proto_dec_reply_head(r, &h->status, h->message)) != 0)
		return rv;
	return proto_dec_empty(r);
}

static void
fill_status(void *p, int full)
{
	struct proto_status_info	*s = p;
	size_t				 i;

	fill_str(s->version, sizeof s->version, 11, full);
	s->pid = 4242;
	s->started_at = 1700000000;
	s->keys = 0x1111111111ull;
	s->tenants = 0x2222222222ull;
	s->caller_uid = 1003;
	s->caller_admin = 1;
	s->map_size = 0x3333333333ull;
	s->map_used = 0x4444444444ull;
	s->map_limit = 0x5555555555ull;
	s->audit_entries = 0x6666666666ull;
	s->audit_pruned = 0x7777777777ull;
	fill_str(s->verify_socket, sizeof s->verify_socket, 17, full);
	fill_str(s->admin_socket, sizeof s->admin_socket, 18, full);
	s->store_size = 0x8888888888ull;
	s->has_counters = 1;
	for (i = 0; i <= PROTO_CODE_MAX; i++)
		s->verifies[i] = 0x9900000000000000ull + i;
	s->fleet = 1;
	s->fleet_connected = 1;
	s->fleet_last_seq = 0xaa00000000000001ull;
	s->fleet_head_seq = 0xab00000000000002ull;
	s->fleet_synced_at = 1700000009;
	s->fleet_max_staleness = 0xac00000000000003ull;
	s->fleet_digest = PROTO_DIGEST_MISMATCH;
	fill_str(s->fleet_error, sizeof s->fleet_error, 19, full);
}

static void
enc_status(struct writer *w, const void *p)
{
	proto_enc_status_info(w, p);
}

static int
dec_status(struct reader *r, void *p)
{
	return proto_dec_status_info(r, p);
}

static void
fill_verify_req(void *p, int full)
{
	struct proto_verify_req	*q = p;

	fill_str(q->token, sizeof q->token, 12, full);
	fill_str(q->service, sizeof q->service, 13, full);
	fill_str(q->user, sizeof q->user, 14, full);
	fill_str(q->rhost, sizeof q->rhost, 15, full);
	fill_str(q->tenant, sizeof q->tenant, 16, full);
	fill_perms(&q->required, 400, full);
	q->cost = 0x1a1b1c1du;
	q->check_only = 1;
}

static void
enc_verify_req(struct writer *w, const void *p)
{
	proto_enc_verify_req(w, p);
}

static int
dec_verify_req(struct reader *r, void *p)
{
	return proto_dec_verify_req(r, p);
}

static void
fill_verify_reply(void *p, int full)
{
	struct proto_verify_reply	*v = p;

	v->code = PROTO_USAGE_EXCEEDED;
	fill_str(v->reason, sizeof v->reason, 17, full);
	fill_str(v->key_id, sizeof v->key_id, 18, full);
	fill_str(v->name, sizeof v->name, 19, full);
	fill_owner(&v->owner, full);
	fill_perms(&v->permissions, 500, full);
	fill_users(&v->allowed_users, 550, full);
	fill_str(v->metadata, sizeof v->metadata, 20, full);
	v->expires_at = 0x0a0b0c0d0e0f1011ull;
	v->retry_after_ms = 0x2021222324252627ull;
	v->has_credits = 1;
	v->remaining = 0x3031323334353637ull;
	v->allow_privileged = 1;
	v->has_admin_gid = 1;
	v->admin_gid = 0x40414243u;
}

static void
enc_verify_reply(struct writer *w, const void *p)
{
	proto_enc_verify_reply(w, p);
}

/* The verify request, field by field, as the reply below. */
static int
same_verify_req(const void *pa, const void *pb)
{
	const struct proto_verify_req	*a = pa, *b = pb;

	return strcmp(a->token, b->token) == 0 &&
	    strcmp(a->service, b->service) == 0 &&
	    strcmp(a->user, b->user) == 0 &&
	    strcmp(a->rhost, b->rhost) == 0 &&
	    strcmp(a->tenant, b->tenant) == 0 &&
	    a->required.n == b->required.n &&
	    same_rows(a->required.v[0], b->required.v[0],
	    sizeof a->required.v[0], a->required.n) &&
	    a->cost == b->cost && a->check_only == b->check_only;
}

/*
 * The verify reply's decoder leaves the bytes past each string's NUL and
 * the rows past each list's n as they were (proto.c): equal is every
 * field a reader sees, each string up to its NUL, each list up to its n.
 */
static int
same_verify_reply(const void *pa, const void *pb)
{
	const struct proto_verify_reply	*a = pa, *b = pb;

	return a->code == b->code && strcmp(a->reason, b->reason) == 0 &&
	    strcmp(a->key_id, b->key_id) == 0 &&
	    strcmp(a->name, b->name) == 0 &&
	    same_owner(&a->owner, &b->owner) &&
	    a->permissions.n == b->permissions.n &&
	    same_rows(a->permissions.v[0], b->permissions.v[0],
	    sizeof a->permissions.v[0], a->permissions.n) &&
	    a->allowed_users.n == b->allowed_users.n &&
	    same_rows(a->allowed_users.v[0], b->allowed_users.v[0],
	    sizeof a->allowed_users.v[0], a->allowed_users.n) &&
	    strcmp(a->metadata, b->metadata) == 0 &&
	    a->expires_at == b->expires_at &&
	    a->retry_after_ms == b->retry_after_ms &&
	    a->has_credits == b->has_credits &&
	    a->remaining == b->remaining &&
	    a->allow_privileged == b->allow_privileged &&
	    a->has_admin_gid == b->has_admin_gid &&
	    a->admin_gid == b->admin_gid;
}

static int
dec_verify_reply(struct reader *r, void *p)
{
	return proto_dec_verify_reply(r, p);
}

static void
fill_tenant(void *p, int full)
{
	struct proto_tenant	*t = p;

	fill_str(t->name, sizeof t->name, 21, full);
	fill_str(t->group, sizeof t->group, 22, full);
	t->gid = 3001;
	fill_str(t->admin_group, sizeof t->admin_group, 23, full);
	t->admin_gid = 3002;
	t->enabled = 1;
	t->created_by = 1004;
	t->created_at = 1700000001;
	t->keys = 77;
	t->allow_privileged = 1;
}

static void
enc_tenant(struct writer *w, const void *p)
{
	proto_enc_tenant(w, p);
}

static int
dec_tenant(struct reader *r, void *p)
{
	return proto_dec_tenant(r, p);
}

static void
fill_key(void *p, int full)
{
	struct proto_key	*k = p;

	fill_str(k->id, sizeof k->id, 24, full);
	fill_str(k->prefix, sizeof k->prefix, 25, full);
	fill_str(k->name, sizeof k->name, 26, full);
	fill_owner(&k->owner, full);
	k->enabled = 1;
	k->created_by = 1005;
	k->created_at = 1700000002;
	k->updated_at = 1700000003;
	k->expires_at = 1700000004;
	k->grace_until = 1700000005;
	fill_services(&k->services, 600, full);
	fill_perms(&k->permissions, 700, full);
	fill_users(&k->allowed_users, 800, full);
	fill_str(k->metadata, sizeof k->metadata, 27, full);
	fill_limits(&k->limits, 2, full);
	fill_usage(&k->usage);
	k->strict_sync = 1;
}

static void
enc_key(struct writer *w, const void *p)
{
	proto_enc_key(w, p);
}

static int
dec_key(struct reader *r, void *p)
{
	return proto_dec_key(r, p);
}

static void
fill_create(void *p, int full)
{
	struct proto_key_create_req	*q = p;

	fill_owner_sel(&q->owner, full);
	fill_spec(&q->spec, full);
}

static void
enc_create(struct writer *w, const void *p)
{
	proto_enc_key_create_req(w, p);
}

static int
dec_create(struct reader *r, void *p)
{
	return proto_dec_key_create_req(r, p);
}

static void
fill_create_many(void *p, int full)
{
	struct proto_key_create_many_req *q = p;

	fill_create(&q->create, full);
	q->count = full ? UINT32_MAX : 1000;
}

static void
enc_create_many(struct writer *w, const void *p)
{
	proto_enc_key_create_many_req(w, p);
}

static int
dec_create_many(struct reader *r, void *p)
{
	return proto_dec_key_create_many_req(r, p);
}

static void
fill_update(void *p, int full)
{
	struct proto_key_update_req	*q = p;

	fill_str(q->id, sizeof q->id, 28, full);
	fill_spec(&q->spec, full);
}

static void
enc_update(struct writer *w, const void *p)
{
	proto_enc_key_update_req(w, p);
}

static int
dec_update(struct reader *r, void *p)
{
	return proto_dec_key_update_req(r, p);
}

static void
fill_sel(void *p, int full)
{
	fill_owner_sel(p, full);
}

static void
enc_sel(struct writer *w, const void *p)
{
	proto_enc_owner_sel(w, p);
}

static int
dec_sel(struct reader *r, void *p)
{
	return proto_dec_owner_sel(r, p);
}

static void
fill_audit(void *p, int full)
{
	struct proto_audit	*a = p;

	a->seq = 0x123456789aull;
	a->time = 1700000006;
	a->uid = 1006;
	a->pid = 5151;
	fill_str(a->action, sizeof a->action, 29, full);
	fill_str(a->target, sizeof a->target, 30, full);
	fill_str(a->detail, sizeof a->detail, 31, full);
}

static void
enc_audit(struct writer *w, const void *p)
{
	proto_enc_audit(w, p);
}

static int
dec_audit(struct reader *r, void *p)
{
	return proto_dec_audit(r, p);
}

/*
 * The small bodies: plain fields with no struct in proto.h (a name or an
 * id and a switch, a count, a limit), given one here for the table.
 */
struct empty_body {
	uint8_t		unused;		/* calloc(0) may be NULL */
};

struct tenant_name_req {
	char		name[PROTO_TENANT_ARG_MAX + 1];
};

struct tenant_switch_req {
	char		name[PROTO_TENANT_ARG_MAX + 1];
	uint8_t		on;
};

struct key_id_req {
	char		id[PROTO_ID_ARG_MAX + 1];
};

struct key_switch_req {
	char		id[PROTO_ID_ARG_MAX + 1];
	uint8_t		enabled;
};

struct key_rotate_req {
	char		id[PROTO_ID_ARG_MAX + 1];
	uint64_t	grace;
};

struct count_reply {
	uint32_t	n;
};

struct audit_list_req {
	uint32_t	limit;
};

struct key_token_reply {
	struct proto_key key;
	char		token[TOKEN_MAX + 1];
};

static void
fill_empty(void *p, int full)
{
	(void)p;
	(void)full;
}

static void
enc_empty(struct writer *w, const void *p)
{
	(void)p;
	proto_enc_empty(w);
}

static int
dec_empty(struct reader *r, void *p)
{
	memset(p, 0, sizeof(struct empty_body));
	return proto_dec_empty(r);
}

static void
fill_tenant_add(void *p, int full)
{
	struct proto_tenant_add_req	*q = p;

	fill_str(q->name, sizeof q->name, 32, full);
	fill_str(q->group, sizeof q->group, 33, full);
	fill_str(q->admin_group, sizeof q->admin_group, 34, full);
}

static void
enc_tenant_add(struct writer *w, const void *p)
{
	proto_enc_tenant_add_req(w, p);
}

static int
dec_tenant_add(struct reader *r, void *p)
{
	return proto_dec_tenant_add_req(r, p);
}

static void
fill_tenant_name(void *p, int full)
{
	struct tenant_name_req	*q = p;

	fill_str(q->name, sizeof q->name, 35, full);
}

static void
enc_tenant_name(struct writer *w, const void *p)
{
	const struct tenant_name_req	*q = p;

	proto_enc_tenant_name(w, q->name);
}

static int
dec_tenant_name(struct reader *r, void *p)
{
	struct tenant_name_req	*q = p;

	memset(q, 0, sizeof *q);
	return proto_dec_tenant_name(r, q->name);
}

static void
fill_tenant_switch(void *p, int full)
{
	struct tenant_switch_req	*q = p;

	fill_str(q->name, sizeof q->name, 36, full);
	q->on = 1;
}

static void
enc_tenant_switch(struct writer *w, const void *p)
{
	const struct tenant_switch_req	*q = p;

	proto_enc_tenant_switch(w, q->name, q->on);
}

static int
dec_tenant_switch(struct reader *r, void *p)
{
	struct tenant_switch_req	*q = p;

	memset(q, 0, sizeof *q);
	return proto_dec_tenant_switch(r, q->name, &q->on);
}

static void
fill_key_id(void *p, int full)
{
	struct key_id_req	*q = p;

	fill_str(q->id, sizeof q->id, 37, full);
}

static void
enc_key_id(struct writer *w, const void *p)
{
	const struct key_id_req	*q = p;

	proto_enc_key_id(w, q->id);
}

static int
dec_key_id(struct reader *r, void *p)
{
	struct key_id_req	*q = p;

	memset(q, 0, sizeof *q);
	return proto_dec_key_id(r, q->id);
}

static void
fill_key_switch(void *p, int full)
{
	struct key_switch_req	*q = p;

	fill_str(q->id, sizeof q->id, 38, full);
	q->enabled = 1;
}

static void
enc_key_switch(struct writer *w, const void *p)
{
	const struct key_switch_req	*q = p;

	proto_enc_key_switch(w, q->id, q->enabled);
}

static int
dec_key_switch(struct reader *r, void *p)
{
	struct key_switch_req	*q = p;

	memset(q, 0, sizeof *q);
	return proto_dec_key_switch(r, q->id, &q->enabled);
}

static void
fill_key_rotate(void *p, int full)
{
	struct key_rotate_req	*q = p;

	fill_str(q->id, sizeof q->id, 39, full);
	q->grace = 0x0807060504030201ull;
}

static void
enc_key_rotate(struct writer *w, const void *p)
{
	const struct key_rotate_req	*q = p;

	proto_enc_key_rotate_req(w, q->id, q->grace);
}

static int
dec_key_rotate(struct reader *r, void *p)
{
	struct key_rotate_req	*q = p;

	memset(q, 0, sizeof *q);
	return proto_dec_key_rotate_req(r, q->id, &q->grace);
}

static void
fill_count(void *p, int full)
{
	struct count_reply	*q = p;

	(void)full;
	q->n = 0xa1b2c3d4u;
}

static void
enc_count(struct writer *w, const void *p)
{
	const struct count_reply	*q = p;

	proto_enc_count(w, q->n);
}

static int
dec_count(struct reader *r, void *p)
{
	struct count_reply	*q = p;

	memset(q, 0, sizeof *q);
	return proto_dec_count(r, &q->n);
}

static void
fill_audit_list(void *p, int full)
{
	struct audit_list_req	*q = p;

	(void)full;
	q->limit = 0xd4c3b2a1u;
}

static void
enc_audit_list(struct writer *w, const void *p)
{
	const struct audit_list_req	*q = p;

	proto_enc_audit_list_req(w, q->limit);
}

static int
dec_audit_list(struct reader *r, void *p)
{
	struct audit_list_req	*q = p;

	memset(q, 0, sizeof *q);
	return proto_dec_audit_list_req(r, &q->limit);
}

static void
fill_key_token(void *p, int full)
{
	struct key_token_reply	*q = p;

	fill_key(&q->key, full);
	fill_str(q->token, sizeof q->token, 40, full);
}

static void
enc_key_token(struct writer *w, const void *p)
{
	const struct key_token_reply	*q = p;

	proto_enc_key_token(w, &q->key, q->token);
}

static int
dec_key_token(struct reader *r, void *p)
{
	struct key_token_reply	*q = p;

	memset(q, 0, sizeof *q);
	return proto_dec_key_token(r, &q->key, q->token);
}

/* One body layout: a codec pair of proto.h and a way to fill its input. */
struct codec {
	const char	*name;
	size_t		 size;
	void		(*fill)(void *, int);
	void		(*enc)(struct writer *, const void *);
	int		(*dec)(struct reader *, void *);
	/* 1 when equal; NULL: the decoder writes every byte, so memcmp. */
	int		(*same)(const void *, const void *);
};

/* name: the proto_enc_ / proto_dec_ pair's; fn: this file's wrappers. */
#define CODEC(name, fn, type) \
	{ name, sizeof(type), fill_##fn, enc_##fn, dec_##fn, NULL }
/* A decoder that writes each field up to its NUL or n only. */
#define CODEC_SAME(name, fn, type) \
	{ name, sizeof(type), fill_##fn, enc_##fn, dec_##fn, same_##fn }

static const struct codec codecs[] = {
	CODEC("reply_head", head, struct reply_head),
	CODEC("empty", empty, struct empty_body),
	CODEC("ping_reply", ping, struct ping_reply),
	CODEC("status_info", status, struct proto_status_info),
	CODEC_SAME("verify_req", verify_req, struct proto_verify_req),
	CODEC_SAME("verify_reply", verify_reply, struct proto_verify_reply),
	CODEC("tenant_add_req", tenant_add, struct proto_tenant_add_req),
	CODEC("tenant_name", tenant_name, struct tenant_name_req),
	CODEC("tenant_switch", tenant_switch, struct tenant_switch_req),
	CODEC("tenant", tenant, struct proto_tenant),
	CODEC("key_create_req", create, struct proto_key_create_req),
	CODEC("key_create_many_req", create_many,
	    struct proto_key_create_many_req),
	CODEC("key_update_req", update, struct proto_key_update_req),
	CODEC("owner_sel", sel, struct proto_owner_sel),
	CODEC("key_id", key_id, struct key_id_req),
	CODEC("key_switch", key_switch, struct key_switch_req),
	CODEC("key_rotate_req", key_rotate, struct key_rotate_req),
	CODEC("key", key, struct proto_key),
	CODEC("key_token", key_token, struct key_token_reply),
	CODEC("count", count, struct count_reply),
	CODEC("audit_list_req", audit_list, struct audit_list_req),
	CODEC("audit", audit, struct proto_audit),
};
#define NCODECS	(sizeof codecs / sizeof codecs[0])

static int
same(const struct codec *c, const void *a, const void *b)
{
	return c->same != NULL ? c->same(a, b) : memcmp(a, b, c->size) == 0;
}

static const struct codec *
codec(const char *name)
{
	size_t	i;

	for (i = 0; i < NCODECS; i++)
		if (strcmp(codecs[i].name, name) == 0)
			return &codecs[i];
	cr_assert_fail("no codec %s", name);
	return NULL;
}

/*
 * proto.h's message table, row for row: each opcode's request body, its
 * reply body after the head, and for a listing the body of the frame that
 * ends it (the reply body then being one item per MORE frame). verify: the
 * message travels on verify.sock too, so its frames must fit that
 * socket's smaller limits.
 */
struct message {
	uint8_t		 op;
	int		 verify;
	const char	*req;
	const char	*reply;
	const char	*end;
};

static const struct message messages[] = {
	{ PROTO_OP_PING, 1, "empty", "ping_reply", NULL },
	{ PROTO_OP_STATUS, 0, "empty", "status_info", NULL },
	{ PROTO_OP_VERIFY, 1, "verify_req", "verify_reply", NULL },
	{ PROTO_OP_TENANT_ADD, 0, "tenant_add_req", "tenant", NULL },
	{ PROTO_OP_TENANT_LIST, 0, "empty", "tenant", "empty" },
	{ PROTO_OP_TENANT_SHOW, 0, "tenant_name", "tenant", NULL },
	{ PROTO_OP_TENANT_SET_ENABLED, 0, "tenant_switch", "tenant", NULL },
	{ PROTO_OP_TENANT_REMOVE, 0, "tenant_switch", "count", NULL },
	{ PROTO_OP_TENANT_SET_PRIVILEGED, 0, "tenant_switch", "tenant",
	    NULL },
	{ PROTO_OP_KEY_CREATE, 0, "key_create_req", "key_token", NULL },
	{ PROTO_OP_KEY_LIST, 0, "owner_sel", "key", "empty" },
	{ PROTO_OP_KEY_SHOW, 0, "key_id", "key", NULL },
	{ PROTO_OP_KEY_SET_ENABLED, 0, "key_switch", "key", NULL },
	{ PROTO_OP_KEY_REVOKE, 0, "key_id", "empty", NULL },
	{ PROTO_OP_KEY_UPDATE, 0, "key_update_req", "key", NULL },
	{ PROTO_OP_KEY_ROTATE, 0, "key_rotate_req", "key_token", NULL },
	{ PROTO_OP_KEY_PURGE_EXPIRED, 0, "empty", "count", NULL },
	{ PROTO_OP_AUDIT_LIST, 0, "audit_list_req", "audit", "empty" },
	{ PROTO_OP_KEY_CREATE_MANY, 0, "key_create_many_req", "key_token",
	    "empty" },
};
#define NMESSAGES	(sizeof messages / sizeof messages[0])

#define REPLY(op)	((uint8_t)((op) | PROTO_REPLY))

/*
 * One body as it travels: in a frame with this opcode and flags, of at
 * most max bytes; a reply body follows an OK head (except the error reply,
 * which is the head alone).
 */
struct body {
	const struct codec *c;
	uint8_t		 opcode;
	uint16_t	 flags;
	size_t		 max;
	char		 what[64];	/* for failure messages */
};

/* Every message's 3 or 4 bodies: request, reply, error reply, end. */
#define MAX_BODIES	(4 * NMESSAGES)

static void
add_body(struct body *b, size_t *n, const char *codec_name, uint8_t opcode,
    uint16_t flags, size_t max, const char *what)
{
	cr_assert_lt(*n, MAX_BODIES);
	b[*n].c = codec(codec_name);
	b[*n].opcode = opcode;
	b[*n].flags = flags;
	b[*n].max = max;
	snprintf(b[*n].what, sizeof b[*n].what, "%s %s (%s)",
	    proto_op_name(opcode), what, codec_name);
	(*n)++;
}

/* Fills b (room for MAX_BODIES) from the message table; returns how many. */
static size_t
bodies(struct body *b)
{
	const struct message *m;
	size_t		 i, n = 0, reqmax, repmax;

	for (i = 0; i < NMESSAGES; i++) {
		m = &messages[i];
		reqmax = m->verify ? PROTO_VERIFY_REQ_MAX : PROTO_ADMIN_MAX;
		repmax = m->verify ? PROTO_VERIFY_REPLY_MAX : PROTO_ADMIN_MAX;
		add_body(b, &n, m->req, m->op, 0, reqmax, "request");
		add_body(b, &n, m->reply, REPLY(m->op), m->end != NULL ?
		    PROTO_F_MORE : 0, repmax, m->end != NULL ? "item" :
		    "reply");
		add_body(b, &n, "reply_head", REPLY(m->op), 0, repmax,
		    "error reply");
		if (m->end != NULL)
			add_body(b, &n, m->end, REPLY(m->op), 0, repmax,
			    "end of listing");
	}
	return n;
}

static void *
xcalloc(size_t n)
{
	void	*p = calloc(1, n);

	cr_assert_not_null(p);
	return p;
}

/*
 * Encodes b's filled struct into a whole frame of at most b->max bytes.
 * Replies get a full-length reply head first, as the daemon sends them, so
 * the size check covers the worst case. Returns the frame length.
 */
static size_t
encode_frame(const struct body *b, const void *msg, uint8_t *frame)
{
	struct writer	w;
	char		message[PROTO_MESSAGE_MAX + 1];
	int		rv;

	wr_init(&w, frame, b->max);
	proto_frame_begin(&w, b->opcode, b->flags, 0xc0ffee01);
	if ((b->opcode & PROTO_REPLY) != 0 && b->c->dec != dec_head) {
		fill_str(message, sizeof message, 99, 1);
		proto_enc_reply_head(&w, PROTO_OK, message);
	}
	b->c->enc(&w, msg);
	rv = proto_frame_end(&w);
	cr_assert_eq(rv, 0, "%s: %s", b->what, proto_strerror(rv));
	return w.len;
}

/* The message body alone, as the decoder sees it. Caller frees. */
static uint8_t *
encode_body(const struct codec *c, const void *msg, size_t *len)
{
	struct writer	w;
	uint8_t		*buf = xcalloc(PROTO_ADMIN_MAX);

	wr_init(&w, buf, PROTO_ADMIN_MAX);
	c->enc(&w, msg);
	cr_assert_eq(wr_error(&w), 0, "%s", c->name);
	*len = w.len;
	return buf;
}

/* Decodes len bytes of body from an exact-size heap copy. */
static int
decode_copy(const struct codec *c, const uint8_t *body, size_t len,
    void *out)
{
	struct reader	r;
	uint8_t		*copy = malloc(len > 0 ? len : 1);
	int		 rv;

	cr_assert_not_null(copy);
	memcpy(copy, body, len);
	rd_init(&r, copy, len);
	rv = c->dec(&r, out);
	free(copy);
	return rv;
}

static void
round_trip(const struct body *b, int full)
{
	const struct codec *c = b->c;
	struct proto_hdr hdr;
	struct reader	 body;
	void		*in = xcalloc(c->size), *out = xcalloc(c->size);
	uint8_t		*frame = xcalloc(b->max);
	char		 message[PROTO_MESSAGE_MAX + 1];
	uint32_t	 status;
	size_t		 len, framelen;
	int		 rv;

	c->fill(in, full);
	len = encode_frame(b, in, frame);
	cr_assert(len <= b->max);
	if (full)
		cr_log_info("%s: worst-case frame %zu of %zu bytes", b->what,
		    len, b->max);

	cr_assert_eq(proto_frame_peek(frame, len, b->max, &framelen), 0);
	cr_assert_eq(framelen, len);
	rv = proto_frame_open(frame, len, &hdr, &body);
	cr_assert_eq(rv, 0, "%s", b->what);
	cr_assert_eq(hdr.version, PROTO_VERSION);
	cr_assert_eq(hdr.opcode, b->opcode);
	cr_assert_eq(hdr.flags, b->flags);
	cr_assert_eq(hdr.id, 0xc0ffee01);
	if ((b->opcode & PROTO_REPLY) != 0 && c->dec != dec_head) {
		cr_assert_eq(proto_dec_reply_head(&body, &status, message), 0);
		cr_assert_eq(status, PROTO_OK);
		cr_assert_eq(strlen(message), PROTO_MESSAGE_MAX);
	}

	/* Junk first: the decoder must clear what the wire does not carry. */
	memset(out, 0xee, c->size);
	rv = c->dec(&body, out);
	cr_assert_eq(rv, 0, "%s full=%d: %s", b->what, full,
	    proto_strerror(rv));
	cr_assert(same(c, in, out), "%s full=%d differs",
	    b->what, full);
	free(in);
	free(out);
	free(frame);
}

/*
 * The table is proto.h's: every opcode proto_op_name knows has exactly one
 * row, and every codec here serves some message, so a new opcode or a
 * new body cannot go untested.
 */
Test(proto, message_table_covers_every_opcode_and_codec)
{
	struct body	*b = xcalloc(MAX_BODIES * sizeof *b);
	size_t		 i, j, n, rows;
	int		 op, used;

	for (op = 0; op <= 0x7f; op++) {
		for (rows = 0, j = 0; j < NMESSAGES; j++)
			rows += messages[j].op == op;
		if (strcmp(proto_op_name((uint8_t)op), "UNKNOWN") == 0)
			cr_assert_eq(rows, 0, "op 0x%02x", op);
		else
			cr_assert_eq(rows, 1, "%s has %zu rows",
			    proto_op_name((uint8_t)op), rows);
	}
	n = bodies(b);
	cr_assert_eq(n, 3 * NMESSAGES + 4, "four streamed replies");
	for (i = 0; i < NCODECS; i++) {
		for (used = 0, j = 0; j < n; j++)
			used |= b[j].c == &codecs[i];
		cr_assert(used, "codec %s serves no message", codecs[i].name);
	}
	free(b);
}

/* Runs fn on every body of every message. */
static void
each_body(void (*fn)(const struct body *, int), int arg)
{
	struct body	*b = xcalloc(MAX_BODIES * sizeof *b);
	size_t		 i, n;

	n = bodies(b);
	for (i = 0; i < n; i++)
		fn(&b[i], arg);
	free(b);
}

Test(proto, round_trip_full)
{
	each_body(round_trip, 1);
}

Test(proto, round_trip_sparse)
{
	each_body(round_trip, 0);
}

static void
round_trip_zero(const struct body *b, int unused)
{
	const struct codec *c = b->c;
	void	*in = xcalloc(c->size), *out = xcalloc(c->size);
	uint8_t	*body;
	size_t	 len;

	(void)unused;
	body = encode_body(c, in, &len);
	memset(out, 0xee, c->size);
	cr_assert_eq(decode_copy(c, body, len, out), 0, "%s", b->what);
	cr_assert(same(c, in, out), "%s", b->what);
	free(in);
	free(out);
	free(body);
}

Test(proto, round_trip_empty)
{
	each_body(round_trip_zero, 0);
}

/*
 * Every prefix of the body must fail with BUF_ESHORT: not decode, not
 * crash, not read past the end (the copy is exact-size, for ASan). On the
 * full-size bodies, fewer cuts: every 7th byte and the last.
 */
static void
truncations(const struct body *b, int full)
{
	const struct codec *c = b->c;
	void	*in = xcalloc(c->size), *out = xcalloc(c->size);
	uint8_t	*body;
	size_t	 len, cut, step;
	int	 rv;

	c->fill(in, full);
	body = encode_body(c, in, &len);
	for (cut = 0; cut < len; cut += step) {
		rv = decode_copy(c, body, cut, out);
		cr_assert_eq(rv, BUF_ESHORT, "%s full=%d cut %zu of %zu: %d",
		    b->what, full, cut, len, rv);
		step = full && cut + 7 < len ? 7 : 1;
	}
	free(in);
	free(out);
	free(body);
}

Test(proto, every_truncated_body_is_short)
{
	each_body(truncations, 0);
}

Test(proto, truncated_full_body_is_short)
{
	each_body(truncations, 1);
}

static void
trailing_byte(const struct body *b, int full)
{
	const struct codec *c = b->c;
	void	*in = xcalloc(c->size), *out = xcalloc(c->size);
	uint8_t	*body, *longer;
	size_t	 len;

	c->fill(in, full);
	body = encode_body(c, in, &len);
	longer = xcalloc(len + 1);
	memcpy(longer, body, len);
	longer[len] = BUF_T_U8;
	cr_assert_eq(decode_copy(c, longer, len + 1, out), BUF_ETRAILING,
	    "%s full=%d", b->what, full);
	free(in);
	free(out);
	free(body);
	free(longer);
}

Test(proto, one_trailing_byte_is_rejected)
{
	each_body(trailing_byte, 0);
	each_body(trailing_byte, 1);
}

/* Encodes msg (enums not checked by encoders) and decodes it. */
static int
reencode(const struct codec *c, const void *msg)
{
	void	*out = xcalloc(c->size);
	uint8_t	*body;
	size_t	 len;
	int	 rv;

	body = encode_body(c, msg, &len);
	rv = decode_copy(c, body, len, out);
	free(body);
	free(out);
	return rv;
}

Test(proto, bad_enum_values)
{
	struct proto_key		*k = xcalloc(sizeof *k);
	struct proto_verify_reply	*v = xcalloc(sizeof *v);
	struct proto_tenant		*t = xcalloc(sizeof *t);
	struct proto_status_info	*s = xcalloc(sizeof *s);
	struct proto_owner_sel		*o = xcalloc(sizeof *o);
	struct proto_key_create_req	*cq = xcalloc(sizeof *cq);
	struct proto_key_update_req	*uq = xcalloc(sizeof *uq);
	struct reply_head		*h = xcalloc(sizeof *h);

	fill_key(k, 0);
	k->owner.kind = PROTO_OWNER_TENANT + 1;
	cr_assert_eq(reencode(codec("key"), k), PROTO_EVALUE);
	k->owner.kind = 0xff;
	cr_assert_eq(reencode(codec("key"), k), PROTO_EVALUE);
	k->owner.kind = PROTO_OWNER_NONE;
	cr_assert_eq(reencode(codec("key"), k), 0);
	k->enabled = 2;
	cr_assert_eq(reencode(codec("key"), k), PROTO_EVALUE);
	k->enabled = 1;
	k->limits.has_credits = 2;
	cr_assert_eq(reencode(codec("key"), k), PROTO_EVALUE);
	k->limits.has_credits = 0xff;
	cr_assert_eq(reencode(codec("key"), k), PROTO_EVALUE);
	k->limits.has_credits = 0;
	cr_assert_eq(reencode(codec("key"), k), 0);
	k->strict_sync = 2;
	cr_assert_eq(reencode(codec("key"), k), PROTO_EVALUE);
	k->strict_sync = 0;
	cr_assert_eq(reencode(codec("key"), k), 0);

	fill_verify_reply(v, 0);
	v->code = PROTO_CODE_MAX + 1;
	cr_assert_eq(reencode(codec("verify_reply"), v), PROTO_EVALUE);
	v->code = 0xffffffffu;
	cr_assert_eq(reencode(codec("verify_reply"), v), PROTO_EVALUE);
	v->code = PROTO_CODE_MAX;
	cr_assert_eq(reencode(codec("verify_reply"), v), 0);
	v->code = PROTO_VALID;
	v->owner.kind = 3;
	cr_assert_eq(reencode(codec("verify_reply"), v), PROTO_EVALUE);
	v->owner.kind = PROTO_OWNER_USER;
	v->has_credits = 2;
	cr_assert_eq(reencode(codec("verify_reply"), v), PROTO_EVALUE);
	v->has_credits = 0;
	cr_assert_eq(reencode(codec("verify_reply"), v), 0);
	v->allow_privileged = 2;
	cr_assert_eq(reencode(codec("verify_reply"), v), PROTO_EVALUE);
	v->allow_privileged = 0;
	v->has_admin_gid = 2;
	cr_assert_eq(reencode(codec("verify_reply"), v), PROTO_EVALUE);
	v->has_admin_gid = 0;
	cr_assert_eq(reencode(codec("verify_reply"), v), 0);

	fill_tenant(t, 0);
	t->enabled = 2;
	cr_assert_eq(reencode(codec("tenant"), t), PROTO_EVALUE);
	t->enabled = 0;
	cr_assert_eq(reencode(codec("tenant"), t), 0);
	t->allow_privileged = 2;
	cr_assert_eq(reencode(codec("tenant"), t), PROTO_EVALUE);
	t->allow_privileged = 0;
	cr_assert_eq(reencode(codec("tenant"), t), 0);

	fill_status(s, 0);
	s->caller_admin = 2;
	cr_assert_eq(reencode(codec("status_info"), s), PROTO_EVALUE);
	s->caller_admin = 1;
	s->has_counters = 2;
	cr_assert_eq(reencode(codec("status_info"), s), PROTO_EVALUE);
	s->has_counters = 0;
	cr_assert_eq(reencode(codec("status_info"), s), 0);
	s->fleet = 2;
	cr_assert_eq(reencode(codec("status_info"), s), PROTO_EVALUE);
	s->fleet = 0;
	s->fleet_connected = 2;
	cr_assert_eq(reencode(codec("status_info"), s), PROTO_EVALUE);
	s->fleet_connected = 0;
	s->fleet_digest = PROTO_DIGEST_MAX + 1;
	cr_assert_eq(reencode(codec("status_info"), s), PROTO_EVALUE);
	s->fleet_digest = PROTO_DIGEST_MAX;
	cr_assert_eq(reencode(codec("status_info"), s), 0);

	fill_owner_sel(o, 0);
	o->kind = 3;
	cr_assert_eq(reencode(codec("owner_sel"), o), PROTO_EVALUE);

	fill_create(cq, 0);
	cq->owner.kind = 3;
	cr_assert_eq(reencode(codec("key_create_req"), cq), PROTO_EVALUE);
	cq->owner.kind = PROTO_OWNER_USER;
	cq->spec.set = PROTO_SET_ALL + 1;
	cr_assert_eq(reencode(codec("key_create_req"), cq), PROTO_EVALUE);
	cq->spec.set = 0x80000000u | PROTO_SET_NAME;
	cr_assert_eq(reencode(codec("key_create_req"), cq), PROTO_EVALUE);
	cq->spec.set = 0;
	cr_assert_eq(reencode(codec("key_create_req"), cq), 0);
	cq->spec.limits.has_credits = 2;
	cr_assert_eq(reencode(codec("key_create_req"), cq), PROTO_EVALUE);
	cq->spec.limits.has_credits = 0;
	cq->spec.strict_sync = 2;
	cr_assert_eq(reencode(codec("key_create_req"), cq), PROTO_EVALUE);
	cq->spec.strict_sync = 1;
	cq->spec.set = PROTO_SET_STRICT_SYNC;
	cr_assert_eq(reencode(codec("key_create_req"), cq), 0);

	fill_update(uq, 0);
	uq->spec.set = PROTO_SET_ALL + 1;
	cr_assert_eq(reencode(codec("key_update_req"), uq), PROTO_EVALUE);
	uq->spec.set = PROTO_SET_CIDRS;
	uq->spec.limits.has_credits = 2;
	cr_assert_eq(reencode(codec("key_update_req"), uq), PROTO_EVALUE);
	uq->spec.limits.has_credits = 1;
	cr_assert_eq(reencode(codec("key_update_req"), uq), 0);

	fill_head(h, 0);
	h->status = PROTO_STATUS_MAX + 1;
	cr_assert_eq(reencode(codec("reply_head"), h), PROTO_EVALUE);

	free(k);
	free(v);
	free(t);
	free(s);
	free(o);
	free(cq);
	free(uq);
	free(h);
}

/*
 * The switches of the small requests are 0 or 1, like every u8 flag, and
 * a decoder that fails leaves its plain out-parameters as they were.
 */
Test(proto, small_bodies_check_switches)
{
	struct tenant_switch_req *ts = xcalloc(sizeof *ts);
	struct key_switch_req	*ks = xcalloc(sizeof *ks);
	struct key_token_reply	*kt = xcalloc(sizeof *kt);
	char			 name[PROTO_TENANT_ARG_MAX + 1] = "kept";
	uint8_t			 buf[256], on = 7;
	struct writer		 w;
	struct reader		 r;

	fill_tenant_switch(ts, 0);
	ts->on = 2;
	cr_assert_eq(reencode(codec("tenant_switch"), ts), PROTO_EVALUE);
	ts->on = 0xff;
	cr_assert_eq(reencode(codec("tenant_switch"), ts), PROTO_EVALUE);
	ts->on = 0;
	cr_assert_eq(reencode(codec("tenant_switch"), ts), 0);

	fill_key_switch(ks, 0);
	ks->enabled = 2;
	cr_assert_eq(reencode(codec("key_switch"), ks), PROTO_EVALUE);
	ks->enabled = 0;
	cr_assert_eq(reencode(codec("key_switch"), ks), 0);

	fill_key_token(kt, 0);
	kt->key.enabled = 2;
	cr_assert_eq(reencode(codec("key_token"), kt), PROTO_EVALUE);

	wr_init(&w, buf, sizeof buf);
	proto_enc_tenant_switch(&w, "acme", 3);
	rd_init(&r, buf, w.len);
	cr_assert_eq(proto_dec_tenant_switch(&r, name, &on), PROTO_EVALUE);
	cr_assert_str_eq(name, "kept");
	cr_assert_eq(on, 7);
	free(ts);
	free(ks);
	free(kt);
}

/*
 * A tenant name or key id in a request may be longer than any valid one,
 * up to its PROTO_*_ARG_MAX, so that the daemon can quote it back in an
 * EINVAL; one byte more is refused by the encoder and the decoder alike.
 */
Test(proto, request_names_up_to_their_arg_max)
{
	char		 name[PROTO_TENANT_ARG_MAX + 2];
	char		 id[PROTO_ID_ARG_MAX + 2];
	char		 out[PROTO_TENANT_ARG_MAX + 1];
	uint8_t		 buf[512];
	struct writer	 w;
	struct reader	 r;

	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	memset(id, 'i', sizeof id - 1);
	id[sizeof id - 1] = '\0';

	wr_init(&w, buf, sizeof buf);
	proto_enc_tenant_name(&w, name);
	cr_assert_eq(wr_error(&w), BUF_ETOOLONG);
	wr_init(&w, buf, sizeof buf);
	proto_enc_key_id(&w, id);
	cr_assert_eq(wr_error(&w), BUF_ETOOLONG);

	wr_init(&w, buf, sizeof buf);
	wr_str(&w, name);
	rd_init(&r, buf, w.len);
	cr_assert_eq(proto_dec_tenant_name(&r, out), BUF_ETOOLONG);
	name[PROTO_TENANT_ARG_MAX] = '\0';
	wr_init(&w, buf, sizeof buf);
	proto_enc_tenant_name(&w, name);
	rd_init(&r, buf, w.len);
	cr_assert_eq(proto_dec_tenant_name(&r, out), 0);
	cr_assert_str_eq(out, name);

	wr_init(&w, buf, sizeof buf);
	wr_str(&w, id);
	wr_u64(&w, 1);
	rd_init(&r, buf, w.len);
	cr_assert_eq(proto_dec_key_rotate_req(&r, out, &(uint64_t){ 0 }),
	    BUF_ETOOLONG);
}

/* got (a codec's output) is exactly want (the buf.c calls it replaced). */
static void
assert_same(const char *what, const struct writer *got,
    const struct writer *want)
{
	cr_assert_eq(wr_error(got), 0, "%s", what);
	cr_assert_eq(wr_error(want), 0, "%s", what);
	cr_assert_eq(got->len, want->len, "%s: %zu bytes, want %zu", what,
	    got->len, want->len);
	cr_assert_arr_eq(got->p, want->p, want->len, "%s", what);
}

/*
 * The bodies that the daemon and libapikey used to write field by field
 * keep their bytes now that proto/ writes them (protocol version 3 did not
 * change): each codec's output is that of the buf.c calls it replaced,
 * and one is spelled out byte for byte.
 */
Test(proto, small_bodies_keep_their_wire_bytes)
{
	static const uint8_t rotate[] = {
		BUF_T_STR, 0, 0, 0, 11,
		'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K',
		BUF_T_U64, 0, 0, 0, 0, 0, 0x01, 0x51, 0x80,
	};
	static const char id[] = "ABCDEFGHIJK";
	struct proto_tenant_add_req *q = xcalloc(sizeof *q);
	struct proto_key	*k = xcalloc(sizeof *k);
	uint8_t			*gbuf = xcalloc(PROTO_ADMIN_MAX);
	uint8_t			*wbuf = xcalloc(PROTO_ADMIN_MAX);
	struct writer		 g, w;

	wr_init(&g, gbuf, PROTO_ADMIN_MAX);
	wr_init(&w, wbuf, PROTO_ADMIN_MAX);
	proto_enc_empty(&g);
	assert_same("empty", &g, &w);

	proto_enc_ping_reply(&g, PROTO_VERSION, "0.1.0");
	wr_u32(&w, PROTO_VERSION);
	wr_str(&w, "0.1.0");
	assert_same("PING reply", &g, &w);

	strcpy(q->name, "acme");
	strcpy(q->group, "acme-staff");
	proto_enc_tenant_add_req(&g, q);
	wr_str(&w, "acme");
	wr_str(&w, "acme-staff");
	wr_str(&w, "");
	assert_same("TENANT_ADD request", &g, &w);

	proto_enc_tenant_name(&g, "acme");
	wr_str(&w, "acme");
	assert_same("TENANT_SHOW request", &g, &w);

	proto_enc_tenant_switch(&g, "acme", 1);
	wr_str(&w, "acme");
	wr_u8(&w, 1);
	assert_same("TENANT_SET_ENABLED request", &g, &w);

	proto_enc_count(&g, 3);
	wr_u32(&w, 3);
	assert_same("TENANT_REMOVE reply", &g, &w);

	proto_enc_key_id(&g, id);
	wr_str(&w, id);
	assert_same("KEY_SHOW request", &g, &w);

	proto_enc_key_switch(&g, id, 0);
	wr_str(&w, id);
	wr_u8(&w, 0);
	assert_same("KEY_SET_ENABLED request", &g, &w);

	fill_key(k, 0);
	proto_enc_key_token(&g, k, "ak_token");
	proto_enc_key(&w, k);
	wr_str(&w, "ak_token");
	assert_same("KEY_CREATE reply", &g, &w);

	proto_enc_audit_list_req(&g, 25);
	wr_u32(&w, 25);
	assert_same("AUDIT_LIST request", &g, &w);

	wr_init(&g, gbuf, PROTO_ADMIN_MAX);
	proto_enc_key_rotate_req(&g, id, 86400);
	cr_assert_eq(g.len, sizeof rotate);
	cr_assert_arr_eq(gbuf, rotate, sizeof rotate);
	free(q);
	free(k);
	free(gbuf);
	free(wbuf);
}

Test(proto, wrong_tag_and_over_long_field)
{
	struct proto_audit	*a = xcalloc(sizeof *a);
	uint8_t			 buf[512];
	struct writer		 w;
	struct reader		 r;

	/* seq sent as a u32. */
	wr_init(&w, buf, sizeof buf);
	wr_u32(&w, 1);
	rd_init(&r, buf, w.len);
	cr_assert_eq(proto_dec_audit(&r, a), BUF_ETAG);

	/* action one byte over PROTO_ACTION_MAX. */
	wr_init(&w, buf, sizeof buf);
	wr_u64(&w, 1);
	wr_u64(&w, 2);
	wr_u32(&w, 3);
	wr_u32(&w, 4);
	wr_str(&w, "123456789012345678901234567890123");
	wr_str(&w, "");
	wr_str(&w, "");
	cr_assert_eq(wr_error(&w), 0);
	rd_init(&r, buf, w.len);
	cr_assert_eq(proto_dec_audit(&r, a), BUF_ETOOLONG);
	free(a);
}

/* An update request carrying only n cidr rows from base, decoded. */
static int
dec_update_cidrs(struct proto_key_update_req *q, uint8_t *buf,
    const char *base, size_t stride, uint32_t n)
{
	struct writer	w;
	struct reader	r;

	wr_init(&w, buf, PROTO_ADMIN_MAX);
	wr_str(&w, "AAAAAAAAAAA");
	wr_u32(&w, PROTO_SET_CIDRS);
	wr_str(&w, "");
	wr_str(&w, "");
	wr_u64(&w, 0);
	wr_strlist(&w, base, stride, 0);
	wr_strlist(&w, base, stride, 0);
	wr_strlist(&w, base, stride, 0);
	wr_str(&w, "");
	wr_u32(&w, 0);
	wr_u32(&w, 0);
	wr_u8(&w, 0);
	wr_u64(&w, 0);
	wr_u64(&w, 0);
	wr_u64(&w, 0);
	wr_strlist(&w, base, stride, n);
	wr_u8(&w, 0);
	cr_assert_eq(wr_error(&w), 0);
	rd_init(&r, buf, w.len);
	return proto_dec_key_update_req(&r, q);
}

Test(proto, list_over_limit_is_rejected)
{
	static const char	 rows[PROTO_MAX_CIDRS + 1][4];
	static char		 long_cidr[2][PROTO_CIDR_MAX + 2];
	struct proto_key_update_req *q = xcalloc(sizeof *q);
	uint8_t			*buf = xcalloc(PROTO_ADMIN_MAX);
	struct writer		 w;
	struct reader		 r;

	/* 50 and 49 characters. */
	memset(long_cidr[0], '1', PROTO_CIDR_MAX + 1);
	memset(long_cidr[1], '2', PROTO_CIDR_MAX);

	/* A services list of 17 rows where the limit is 16. */
	wr_init(&w, buf, PROTO_ADMIN_MAX);
	wr_str(&w, "AAAAAAAAAAA");
	wr_u32(&w, PROTO_SET_SERVICES);
	wr_str(&w, "");
	wr_str(&w, "");
	wr_u64(&w, 0);
	wr_strlist(&w, rows[0], sizeof rows[0], PROTO_MAX_SERVICES + 1);
	cr_assert_eq(wr_error(&w), 0);
	rd_init(&r, buf, w.len);
	cr_assert_eq(proto_dec_key_update_req(&r, q), BUF_ETOOLONG);

	/* A cidrs list of 17 rows, then one row over PROTO_CIDR_MAX. */
	cr_assert_eq(dec_update_cidrs(q, buf, rows[0], sizeof rows[0],
	    PROTO_MAX_CIDRS), 0);
	cr_assert_eq(dec_update_cidrs(q, buf, rows[0], sizeof rows[0],
	    PROTO_MAX_CIDRS + 1), BUF_ETOOLONG);
	cr_assert_eq(dec_update_cidrs(q, buf, long_cidr[0],
	    sizeof long_cidr[0], 1), BUF_ETOOLONG);
	cr_assert_eq(dec_update_cidrs(q, buf, long_cidr[1],
	    sizeof long_cidr[1], 1), 0);
	cr_assert_eq(strlen(q->spec.limits.cidrs.v[0]), PROTO_CIDR_MAX);
	free(q);
	free(buf);
}

Test(proto, verify_req_failure_wipes_token)
{
	struct proto_verify_req	*q = xcalloc(sizeof *q);
	uint8_t			 buf[256];
	struct writer		 w;
	struct reader		 r;
	char			 zero[sizeof q->token];

	wr_init(&w, buf, sizeof buf);
	wr_str(&w, "ak_secretsecret");
	wr_str(&w, "sshd");
	rd_init(&r, buf, w.len);
	cr_assert_eq(proto_dec_verify_req(&r, q), BUF_ESHORT);
	memset(zero, 0, sizeof zero);
	cr_assert_eq(memcmp(q->token, zero, sizeof zero), 0);
	free(q);
}

Test(proto, encoder_refuses_what_no_decoder_accepts)
{
	struct proto_key	*k = xcalloc(sizeof *k);
	uint8_t			*buf = xcalloc(PROTO_ADMIN_MAX);
	struct writer		 w;

	fill_key(k, 0);
	k->permissions.n = PROTO_MAX_PERMS + 1;
	wr_init(&w, buf, PROTO_ADMIN_MAX);
	proto_frame_begin(&w, REPLY(PROTO_OP_KEY_SHOW), 0, 1);
	proto_enc_key(&w, k);
	cr_assert_eq(proto_frame_end(&w), BUF_ETOOLONG);

	fill_key(k, 0);
	memset(k->name, 'n', sizeof k->name);		/* unterminated */
	wr_init(&w, buf, PROTO_ADMIN_MAX);
	proto_frame_begin(&w, REPLY(PROTO_OP_KEY_SHOW), 0, 1);
	proto_enc_key(&w, k);
	cr_assert_eq(proto_frame_end(&w), BUF_ETOOLONG);

	fill_key(k, 0);
	memset(k->allowed_users.v[1], 'u', sizeof k->allowed_users.v[1]);
	wr_init(&w, buf, PROTO_ADMIN_MAX);
	proto_frame_begin(&w, REPLY(PROTO_OP_KEY_SHOW), 0, 1);
	proto_enc_key(&w, k);
	cr_assert_eq(proto_frame_end(&w), BUF_ETOOLONG);

	fill_key(k, 0);
	k->limits.cidrs.n = PROTO_MAX_CIDRS + 1;
	wr_init(&w, buf, PROTO_ADMIN_MAX);
	proto_frame_begin(&w, REPLY(PROTO_OP_KEY_SHOW), 0, 1);
	proto_enc_key(&w, k);
	cr_assert_eq(proto_frame_end(&w), BUF_ETOOLONG);

	fill_key(k, 0);
	memset(k->limits.cidrs.v[2], 'c', sizeof k->limits.cidrs.v[2]);
	wr_init(&w, buf, PROTO_ADMIN_MAX);
	proto_frame_begin(&w, REPLY(PROTO_OP_KEY_SHOW), 0, 1);
	proto_enc_key(&w, k);
	cr_assert_eq(proto_frame_end(&w), BUF_ETOOLONG);

	/* A full key does not fit a verify-sized reply buffer... */
	fill_key(k, 1);
	wr_init(&w, buf, PROTO_VERIFY_REQ_MAX);
	proto_frame_begin(&w, REPLY(PROTO_OP_KEY_SHOW), 0, 1);
	proto_enc_key(&w, k);
	cr_assert_eq(proto_frame_end(&w), BUF_EOVERFLOW);
	/* ...and the error stays. */
	wr_u8(&w, 1);
	cr_assert_eq(proto_frame_end(&w), BUF_EOVERFLOW);
	free(k);
	free(buf);
}

Test(proto, frame_wire_bytes)
{
	static const uint8_t want[] = {
		0x00, 0x00, 0x00, 0x0a,		/* length: 8 + 2 */
		PROTO_VERSION, 0x90, 0x00, 0x01,
		0x01, 0x02, 0x03, 0x04,
		BUF_T_U8, 0x05,
	};
	uint8_t		buf[sizeof want];
	struct writer	w;

	wr_init(&w, buf, sizeof buf);
	proto_frame_begin(&w, REPLY(PROTO_OP_VERIFY), PROTO_F_MORE,
	    0x01020304);
	wr_u8(&w, 5);
	cr_assert_eq(proto_frame_end(&w), 0);
	cr_assert_eq(w.len, sizeof want);
	cr_assert_arr_eq(buf, want, sizeof want);
}

static void
put_len(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

Test(proto, frame_peek)
{
	uint8_t	buf[64];
	size_t	avail, framelen = 12345;

	memset(buf, 0, sizeof buf);
	buf[4] = PROTO_VERSION;
	/* Not even the length yet. */
	for (avail = 0; avail < 4; avail++)
		cr_assert_eq(proto_frame_peek(buf, avail, 64, &framelen), 1);
	/* An empty body: a 12-byte frame, incomplete until all 12 are in. */
	put_len(buf, PROTO_HDR_LEN - 4);
	for (avail = 4; avail < PROTO_HDR_LEN; avail++)
		cr_assert_eq(proto_frame_peek(buf, avail, 64, &framelen), 1);
	cr_assert_eq(framelen, 12345);
	cr_assert_eq(proto_frame_peek(buf, PROTO_HDR_LEN, 64, &framelen), 0);
	cr_assert_eq(framelen, PROTO_HDR_LEN);
	/* Pipelined: more bytes than one frame. */
	cr_assert_eq(proto_frame_peek(buf, sizeof buf, 64, &framelen), 0);
	cr_assert_eq(framelen, PROTO_HDR_LEN);

	/* Under the header size. */
	put_len(buf, PROTO_HDR_LEN - 5);
	cr_assert_eq(proto_frame_peek(buf, 4, 64, &framelen), PROTO_EFRAME);
	put_len(buf, 0);
	cr_assert_eq(proto_frame_peek(buf, 64, 64, &framelen), PROTO_EFRAME);

	/* Over the maximum, reported before the body arrives. */
	put_len(buf, 64 - 4);
	cr_assert_eq(proto_frame_peek(buf, 4, 64, &framelen), 1);
	cr_assert_eq(proto_frame_peek(buf, 64, 64, &framelen), 0);
	cr_assert_eq(framelen, 64);
	put_len(buf, 64 - 3);
	cr_assert_eq(proto_frame_peek(buf, 4, 64, &framelen), PROTO_EFRAME);
	put_len(buf, 0xffffffffu);
	cr_assert_eq(proto_frame_peek(buf, 4, PROTO_ADMIN_MAX, &framelen),
	    PROTO_EFRAME);
	put_len(buf, PROTO_VERIFY_REQ_MAX - 3);
	cr_assert_eq(proto_frame_peek(buf, 4, PROTO_VERIFY_REQ_MAX,
	    &framelen), PROTO_EFRAME);
	cr_assert_eq(proto_frame_peek(buf, 4, PROTO_ADMIN_MAX, &framelen), 1);
	cr_assert_eq(framelen, 64);
}

Test(proto, frame_open)
{
	uint8_t			buf[16];
	struct proto_hdr	hdr = { 9, 9, 9, 9 };
	struct reader		body;
	uint8_t			v;

	memset(buf, 0, sizeof buf);
	put_len(buf, 10);
	buf[4] = PROTO_VERSION;
	buf[5] = PROTO_OP_PING;
	buf[12] = BUF_T_U8;
	buf[13] = 42;
	cr_assert_eq(proto_frame_open(buf, 14, &hdr, &body), 0);
	cr_assert_eq(hdr.opcode, PROTO_OP_PING);
	cr_assert_eq(rd_left(&body), 2);
	cr_assert_eq(rd_u8(&body, &v), 0);
	cr_assert_eq(v, 42);

	/* Length field not matching the frame handed in. */
	hdr.opcode = 99;
	cr_assert_eq(proto_frame_open(buf, 13, &hdr, &body), PROTO_EFRAME);
	cr_assert_eq(proto_frame_open(buf, 15, &hdr, &body), PROTO_EFRAME);
	cr_assert_eq(proto_frame_open(buf, 3, &hdr, &body), PROTO_EFRAME);
	cr_assert_eq(proto_frame_open(buf, 0, &hdr, &body), PROTO_EFRAME);
	put_len(buf, 7);
	cr_assert_eq(proto_frame_open(buf, 11, &hdr, &body), PROTO_EFRAME);
	cr_assert_eq(hdr.opcode, 99);

	/* Version. */
	put_len(buf, 10);
	buf[4] = PROTO_VERSION + 1;
	cr_assert_eq(proto_frame_open(buf, 14, &hdr, &body), PROTO_EVERSION);
	buf[4] = 0;
	cr_assert_eq(proto_frame_open(buf, 14, &hdr, &body), PROTO_EVERSION);
	cr_assert_eq(hdr.opcode, 99);
}

/*
 * proto_frame_hdr reads the header of a frame whatever its length and
 * version, for the daemon's answer to a frame it refuses; a header cut
 * short is PROTO_EFRAME, with the output untouched. proto_frame_init is
 * a writer over a buffer plus proto_frame_begin.
 */
Test(proto, frame_hdr_and_init)
{
	uint8_t			buf[PROTO_HDR_LEN], buf2[PROTO_HDR_LEN];
	struct proto_hdr	hdr;
	struct writer		w;
	size_t			avail;

	memset(buf, 0, sizeof buf);
	put_len(buf, 0xffffffffu);
	buf[4] = PROTO_VERSION + 7;
	buf[5] = PROTO_OP_KEY_SHOW;
	buf[7] = PROTO_F_MORE;
	buf[11] = 0x2a;
	cr_assert_eq(proto_frame_hdr(buf, sizeof buf, &hdr), 0);
	cr_assert_eq(hdr.version, PROTO_VERSION + 7);
	cr_assert_eq(hdr.opcode, PROTO_OP_KEY_SHOW);
	cr_assert_eq(hdr.flags, PROTO_F_MORE);
	cr_assert_eq(hdr.id, 0x2a);
	for (avail = 0; avail < PROTO_HDR_LEN; avail++) {
		memset(&hdr, 0x55, sizeof hdr);
		cr_assert_eq(proto_frame_hdr(buf, avail, &hdr), PROTO_EFRAME);
		cr_assert_eq(hdr.id, 0x55555555u);
	}

	proto_frame_init(&w, buf, sizeof buf, REPLY(PROTO_OP_PING), 0, 7);
	cr_assert_eq(proto_frame_end(&w), 0);
	wr_init(&w, buf2, sizeof buf2);
	proto_frame_begin(&w, REPLY(PROTO_OP_PING), 0, 7);
	cr_assert_eq(proto_frame_end(&w), 0);
	cr_assert_arr_eq(buf, buf2, sizeof buf);
}

Test(proto, reply_head_with_error_message)
{
	uint8_t		buf[PROTO_VERIFY_REPLY_MAX];
	char		message[PROTO_MESSAGE_MAX + 1];
	struct writer	w;
	struct reader	r;
	uint32_t	status = 77;

	wr_init(&w, buf, sizeof buf);
	proto_enc_reply_head(&w, PROTO_EPERM, "not a member of ops");
	proto_enc_reply_head(&w, PROTO_OK, NULL);
	cr_assert_eq(wr_error(&w), 0);
	rd_init(&r, buf, w.len);
	cr_assert_eq(proto_dec_reply_head(&r, &status, message), 0);
	cr_assert_eq(status, PROTO_EPERM);
	cr_assert_str_eq(message, "not a member of ops");
	cr_assert_eq(proto_dec_reply_head(&r, &status, message), 0);
	cr_assert_eq(status, PROTO_OK);
	cr_assert_str_eq(message, "");
	cr_assert_eq(rd_end(&r), 0);
}

Test(proto, names)
{
	static const char *const codes[] = {
		"VALID", "MALFORMED", "NOT_FOUND", "DISABLED",
		"TENANT_DISABLED", "EXPIRED", "FORBIDDEN",
		"INSUFFICIENT_PERMISSIONS", "RATE_LIMITED", "USAGE_EXCEEDED",
		"STALE",
	};
	static const char *const statuses[] = {
		"OK", "EBADREQ", "EUNSUPPORTED", "EPERM", "ENOTFOUND",
		"EEXIST", "EINVAL", "ELIMIT", "EINTERNAL", "EBUSY",
		"ESHUTDOWN", "EUNAVAIL", "ECONFLICT",
	};
	static const struct {
		uint8_t		 op;
		const char	*name;
	} ops[] = {
		{ PROTO_OP_PING, "PING" },
		{ PROTO_OP_STATUS, "STATUS" },
		{ PROTO_OP_VERIFY, "VERIFY" },
		{ PROTO_OP_TENANT_ADD, "TENANT_ADD" },
		{ PROTO_OP_TENANT_LIST, "TENANT_LIST" },
		{ PROTO_OP_TENANT_SHOW, "TENANT_SHOW" },
		{ PROTO_OP_TENANT_SET_ENABLED, "TENANT_SET_ENABLED" },
		{ PROTO_OP_TENANT_REMOVE, "TENANT_REMOVE" },
		{ PROTO_OP_TENANT_SET_PRIVILEGED, "TENANT_SET_PRIVILEGED" },
		{ PROTO_OP_KEY_CREATE, "KEY_CREATE" },
		{ PROTO_OP_KEY_LIST, "KEY_LIST" },
		{ PROTO_OP_KEY_SHOW, "KEY_SHOW" },
		{ PROTO_OP_KEY_SET_ENABLED, "KEY_SET_ENABLED" },
		{ PROTO_OP_KEY_REVOKE, "KEY_REVOKE" },
		{ PROTO_OP_KEY_UPDATE, "KEY_UPDATE" },
		{ PROTO_OP_KEY_ROTATE, "KEY_ROTATE" },
		{ PROTO_OP_KEY_PURGE_EXPIRED, "KEY_PURGE_EXPIRED" },
		{ PROTO_OP_AUDIT_LIST, "AUDIT_LIST" },
		{ PROTO_OP_KEY_CREATE_MANY, "KEY_CREATE_MANY" },
	};
	uint32_t	i;
	int		op, known;
	size_t		j;

	cr_assert_eq(sizeof codes / sizeof codes[0], PROTO_CODE_MAX + 1);
	for (i = 0; i <= PROTO_CODE_MAX; i++)
		cr_assert_str_eq(proto_code_name(i), codes[i]);
	cr_assert_str_eq(proto_code_name(PROTO_CODE_MAX + 1), "UNKNOWN");
	cr_assert_str_eq(proto_code_name(0xffffffffu), "UNKNOWN");

	cr_assert_eq(sizeof statuses / sizeof statuses[0],
	    PROTO_STATUS_MAX + 1);
	for (i = 0; i <= PROTO_STATUS_MAX; i++)
		cr_assert_str_eq(proto_status_name(i), statuses[i]);
	cr_assert_str_eq(proto_status_name(PROTO_STATUS_MAX + 1), "UNKNOWN");

	for (j = 0; j < sizeof ops / sizeof ops[0]; j++) {
		cr_assert_str_eq(proto_op_name(ops[j].op), ops[j].name);
		cr_assert_str_eq(proto_op_name(REPLY(ops[j].op)),
		    ops[j].name);
	}
	for (op = 0; op <= 0x7f; op++) {
		known = 0;
		for (j = 0; j < sizeof ops / sizeof ops[0]; j++)
			known |= ops[j].op == op;
		if (!known)
			cr_assert_str_eq(proto_op_name((uint8_t)op),
			    "UNKNOWN", "op %d", op);
	}
}

Test(proto, strerror)
{
	cr_assert_str_eq(proto_strerror(PROTO_EFRAME), "bad frame length");
	cr_assert_str_eq(proto_strerror(PROTO_EVERSION),
	    "unsupported protocol version");
	cr_assert_str_eq(proto_strerror(PROTO_EVALUE),
	    "enum or flag value out of range");
	cr_assert_str_eq(proto_strerror(BUF_ESHORT), buf_strerror(BUF_ESHORT));
	cr_assert_str_eq(proto_strerror(BUF_EOVERFLOW),
	    buf_strerror(BUF_EOVERFLOW));
	cr_assert_str_eq(proto_strerror(0), buf_strerror(0));
	cr_assert_str_eq(proto_strerror(-50), "unknown protocol error");
}

/*
 * STATUS's sockets and counters, field by field: the paths at their
 * maximum (a sun_path's worth) come back whole, one byte more is refused
 * by the encoder, and the counters are PROTO_CODE_MAX + 1 u64 fields in
 * code order, after the has_counters flag and before the fleet fields
 * (FLEET_TAIL bytes with an empty fleet_error).
 */
#define FLEET_TAIL	(2 + 2 + 4 * 9 + 2 + 5)

/* The u64 at p: a tag, then 8 big-endian bytes. */
static uint64_t
u64_at(const uint8_t *p)
{
	uint64_t	v = 0;
	int		j;

	cr_assert_eq(p[0], BUF_T_U64);
	for (j = 1; j <= 8; j++)
		v = v << 8 | p[j];
	return v;
}

Test(proto, status_sockets_and_counters)
{
	const struct codec		*c = codec("status_info");
	struct proto_status_info	*in = xcalloc(sizeof *in);
	struct proto_status_info	*out = xcalloc(sizeof *out);
	struct writer			 w;
	uint8_t				*body, *p, buf[4096];
	size_t				 len, i;

	fill_status(in, 1);
	cr_assert_eq(strlen(in->verify_socket), 107);
	cr_assert_eq(PROTO_SOCKET_PATH_MAX, 107);
	for (i = 0; i <= PROTO_CODE_MAX; i++)
		in->verifies[i] = (uint64_t)(i + 1) << 40 | i;
	in->store_size = 0x0102030405060708ull;
	in->fleet_error[0] = '\0';
	body = encode_body(c, in, &len);
	memset(out, 0xee, sizeof *out);
	cr_assert_eq(decode_copy(c, body, len, out), 0);
	cr_assert_str_eq(out->verify_socket, in->verify_socket);
	cr_assert_str_eq(out->admin_socket, in->admin_socket);
	cr_assert_eq(out->store_size, 0x0102030405060708ull);
	cr_assert_eq(out->has_counters, 1);
	for (i = 0; i <= PROTO_CODE_MAX; i++)
		cr_assert_eq(out->verifies[i], in->verifies[i], "code %zu", i);

	/* The wire layout of the tail: u8 flag, then the u64 counters. */
	p = body + len - FLEET_TAIL - (PROTO_CODE_MAX + 1) * 9;
	cr_assert_eq(p[-2], BUF_T_U8);
	cr_assert_eq(p[-1], 1);
	for (i = 0; i <= PROTO_CODE_MAX; i++, p += 9)
		cr_assert_eq(u64_at(p), in->verifies[i], "code %zu", i);
	free(body);

	/* A path or an error that fills its array without its NUL is not
	 * sent. */
	for (i = 0; i < 2; i++) {
		fill_status(in, 1);
		if (i == 0)
			memset(in->admin_socket, 'a', sizeof in->admin_socket);
		else
			memset(in->fleet_error, 'e', sizeof in->fleet_error);
		wr_init(&w, buf, sizeof buf);
		proto_enc_status_info(&w, in);
		cr_assert_eq(wr_error(&w), BUF_ETOOLONG, "field %zu", i);
	}
	free(in);
	free(out);
}

/*
 * STATUS's fleet fields end the body in declaration order: the two
 * switches, the four u64s, the digest and the error. A single host sends
 * them all zero, and fleet_error may fill its PROTO_DETAIL_MAX bytes.
 */
Test(proto, status_fleet_fields)
{
	const struct codec		*c = codec("status_info");
	struct proto_status_info	*in = xcalloc(sizeof *in);
	struct proto_status_info	*out = xcalloc(sizeof *out);
	static const uint8_t		 single[] = {
		BUF_T_U8, 0, BUF_T_U8, 0,
		BUF_T_U64, 0, 0, 0, 0, 0, 0, 0, 0,
		BUF_T_U64, 0, 0, 0, 0, 0, 0, 0, 0,
		BUF_T_U64, 0, 0, 0, 0, 0, 0, 0, 0,
		BUF_T_U64, 0, 0, 0, 0, 0, 0, 0, 0,
		BUF_T_U8, 0, BUF_T_STR, 0, 0, 0, 0,
	};
	uint8_t				*body, *p;
	size_t				 len;

	fill_status(in, 0);
	in->fleet = 0;
	in->fleet_connected = 0;
	in->fleet_last_seq = in->fleet_head_seq = 0;
	in->fleet_synced_at = in->fleet_max_staleness = 0;
	in->fleet_digest = PROTO_DIGEST_UNKNOWN;
	in->fleet_error[0] = '\0';
	body = encode_body(c, in, &len);
	cr_assert_eq(sizeof single, FLEET_TAIL);
	cr_assert_arr_eq(body + len - FLEET_TAIL, single, FLEET_TAIL);
	free(body);

	fill_status(in, 1);
	cr_assert_eq(strlen(in->fleet_error), PROTO_DETAIL_MAX);
	body = encode_body(c, in, &len);
	p = body + len - (FLEET_TAIL + PROTO_DETAIL_MAX);
	cr_assert_eq(p[0], BUF_T_U8);
	cr_assert_eq(p[1], 1);
	cr_assert_eq(p[2], BUF_T_U8);
	cr_assert_eq(p[3], 1);
	cr_assert_eq(u64_at(p + 4), 0xaa00000000000001ull);
	cr_assert_eq(u64_at(p + 13), 0xab00000000000002ull);
	cr_assert_eq(u64_at(p + 22), 1700000009);
	cr_assert_eq(u64_at(p + 31), 0xac00000000000003ull);
	cr_assert_eq(p[40], BUF_T_U8);
	cr_assert_eq(p[41], PROTO_DIGEST_MISMATCH);
	cr_assert_eq(p[42], BUF_T_STR);
	cr_assert_arr_eq(p + 47, in->fleet_error, PROTO_DETAIL_MAX);
	memset(out, 0xee, sizeof *out);
	cr_assert_eq(decode_copy(c, body, len, out), 0);
	cr_assert_eq(out->fleet, 1);
	cr_assert_eq(out->fleet_connected, 1);
	cr_assert_eq(out->fleet_last_seq, 0xaa00000000000001ull);
	cr_assert_eq(out->fleet_head_seq, 0xab00000000000002ull);
	cr_assert_eq(out->fleet_synced_at, 1700000009);
	cr_assert_eq(out->fleet_max_staleness, 0xac00000000000003ull);
	cr_assert_eq(out->fleet_digest, PROTO_DIGEST_MISMATCH);
	cr_assert_str_eq(out->fleet_error, in->fleet_error);
	free(body);
	free(in);
	free(out);
}

/* strict_sync is the last field of a key and of a key's settings. */
Test(proto, strict_sync_ends_key_and_spec)
{
	struct proto_key		*k = xcalloc(sizeof *k);
	struct proto_key_update_req	*q = xcalloc(sizeof *q);
	uint8_t				*body;
	size_t				 len;

	fill_key(k, 0);
	body = encode_body(codec("key"), k, &len);
	cr_assert_eq(body[len - 2], BUF_T_U8);
	cr_assert_eq(body[len - 1], 1);
	free(body);
	k->strict_sync = 0;
	body = encode_body(codec("key"), k, &len);
	cr_assert_eq(body[len - 1], 0);
	free(body);

	fill_update(q, 0);
	q->spec.set = PROTO_SET_STRICT_SYNC;
	body = encode_body(codec("key_update_req"), q, &len);
	cr_assert_eq(body[len - 2], BUF_T_U8);
	cr_assert_eq(body[len - 1], 1);
	free(body);
	cr_assert_eq(PROTO_SET_ALL, 0x0fff);
	free(k);
	free(q);
}
