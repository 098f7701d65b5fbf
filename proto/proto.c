/*
 * proto.c - framing and the message codecs of the apikeyd wire protocol
 * (specified in proto.h).
 *
 * Each message has one encoder and one decoder that list the struct members
 * in declaration order; a nested struct (owner, key settings, string lists)
 * has one static put/get pair that every message containing it calls, so a
 * field order is written down exactly once. Decoders zero their struct
 * first, read through buf.c's checked reader, validate every enum and flag,
 * and end with rd_end(). Encoders trust enum values (the daemon and the
 * client fill them from constants) but refuse to read past a string array or
 * a list that is not terminated or over its maximum: that fails the writer
 * with BUF_ETOOLONG instead of sending what no decoder would accept.
 *
 * The workload is one small frame per request, a few KB at most, so the
 * codecs are straight-line code with no allocation.
 */
#include <stdint.h>
#include <string.h>

#include "proto.h"

static void
wr_fail(struct writer *w, int err)
{
	if (w->err == 0)
		w->err = err;
}

/* size is the whole array (maximum + 1): the field is at most size - 1. */
static void
put_str(struct writer *w, const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL) {
		wr_fail(w, BUF_ETOOLONG);
		return;
	}
	wr_str(w, s);
}

static int
get_str(struct reader *r, char *s, size_t size)
{
	return rd_str(r, s, size - 1);
}

/* A u8 enum or flag whose valid values are 0..max. */
static int
get_u8_max(struct reader *r, uint8_t *v, uint8_t max)
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

static int
get_u32_max(struct reader *r, uint32_t *v, uint32_t max)
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
		wr_fail(w, BUF_ETOOLONG);
		return;
	}
	for (i = 0; i < n; i++) {
		if (memchr(base + (size_t)i * stride, '\0', stride) == NULL) {
			wr_fail(w, BUF_ETOOLONG);
			return;
		}
	}
	wr_strlist(w, base, stride, n);
}

static void
put_perms(struct writer *w, const struct proto_perm_list *l)
{
	put_list(w, l->v[0], sizeof l->v[0], sizeof l->v / sizeof l->v[0],
	    l->n);
}

static int
get_perms(struct reader *r, struct proto_perm_list *l)
{
	return rd_strlist(r, l->v[0], sizeof l->v[0],
	    sizeof l->v / sizeof l->v[0], sizeof l->v[0] - 1, &l->n);
}

static void
put_services(struct writer *w, const struct proto_service_list *l)
{
	put_list(w, l->v[0], sizeof l->v[0], sizeof l->v / sizeof l->v[0],
	    l->n);
}

static int
get_services(struct reader *r, struct proto_service_list *l)
{
	return rd_strlist(r, l->v[0], sizeof l->v[0],
	    sizeof l->v / sizeof l->v[0], sizeof l->v[0] - 1, &l->n);
}

static void
put_users(struct writer *w, const struct proto_user_list *l)
{
	put_list(w, l->v[0], sizeof l->v[0], sizeof l->v / sizeof l->v[0],
	    l->n);
}

static int
get_users(struct reader *r, struct proto_user_list *l)
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

static void
put_limits(struct writer *w, const struct proto_limits *l)
{
	wr_u32(w, l->rate_max);
	wr_u32(w, l->rate_window_ms);
	wr_u8(w, l->has_credits);
	wr_u64(w, l->remaining);
	wr_u64(w, l->refill_amount);
	wr_u64(w, l->refill_interval);
	put_cidrs(w, &l->cidrs);
}

static int
get_limits(struct reader *r, struct proto_limits *l)
{
	int	rv;

	if ((rv = rd_u32(r, &l->rate_max)) != 0 ||
	    (rv = rd_u32(r, &l->rate_window_ms)) != 0 ||
	    (rv = get_u8_max(r, &l->has_credits, 1)) != 0 ||
	    (rv = rd_u64(r, &l->remaining)) != 0 ||
	    (rv = rd_u64(r, &l->refill_amount)) != 0 ||
	    (rv = rd_u64(r, &l->refill_interval)) != 0 ||
	    (rv = get_cidrs(r, &l->cidrs)) != 0)
		return rv;
	return 0;
}

static void
put_usage(struct writer *w, const struct proto_usage *u)
{
	wr_u64(w, u->remaining);
	wr_u64(w, u->last_refill_at);
	wr_u64(w, u->last_used);
	wr_u64(w, u->use_count);
}

static int
get_usage(struct reader *r, struct proto_usage *u)
{
	int	rv;

	if ((rv = rd_u64(r, &u->remaining)) != 0 ||
	    (rv = rd_u64(r, &u->last_refill_at)) != 0 ||
	    (rv = rd_u64(r, &u->last_used)) != 0 ||
	    (rv = rd_u64(r, &u->use_count)) != 0)
		return rv;
	return 0;
}

static void
put_owner(struct writer *w, const struct proto_owner *o)
{
	wr_u8(w, o->kind);
	wr_u32(w, o->uid);
	put_str(w, o->user, sizeof o->user);
	put_str(w, o->tenant, sizeof o->tenant);
	put_str(w, o->group, sizeof o->group);
	wr_u32(w, o->gid);
}

static int
get_owner(struct reader *r, struct proto_owner *o)
{
	int	rv;

	if ((rv = get_u8_max(r, &o->kind, PROTO_OWNER_TENANT)) != 0 ||
	    (rv = rd_u32(r, &o->uid)) != 0 ||
	    (rv = get_str(r, o->user, sizeof o->user)) != 0 ||
	    (rv = get_str(r, o->tenant, sizeof o->tenant)) != 0 ||
	    (rv = get_str(r, o->group, sizeof o->group)) != 0 ||
	    (rv = rd_u32(r, &o->gid)) != 0)
		return rv;
	return 0;
}

static void
put_owner_sel(struct writer *w, const struct proto_owner_sel *o)
{
	wr_u8(w, o->kind);
	put_str(w, o->user, sizeof o->user);
	put_str(w, o->tenant, sizeof o->tenant);
}

static int
get_owner_sel(struct reader *r, struct proto_owner_sel *o)
{
	int	rv;

	if ((rv = get_u8_max(r, &o->kind, PROTO_OWNER_TENANT)) != 0 ||
	    (rv = get_str(r, o->user, sizeof o->user)) != 0 ||
	    (rv = get_str(r, o->tenant, sizeof o->tenant)) != 0)
		return rv;
	return 0;
}

static void
put_spec(struct writer *w, const struct proto_key_spec *s)
{
	wr_u32(w, s->set);
	put_str(w, s->name, sizeof s->name);
	put_str(w, s->prefix, sizeof s->prefix);
	wr_u64(w, s->expires_in);
	put_services(w, &s->services);
	put_perms(w, &s->permissions);
	put_users(w, &s->allowed_users);
	put_str(w, s->metadata, sizeof s->metadata);
	put_limits(w, &s->limits);
}

static int
get_spec(struct reader *r, struct proto_key_spec *s)
{
	int	rv;

	if ((rv = rd_u32(r, &s->set)) != 0)
		return rv;
	if ((s->set & ~(uint32_t)PROTO_SET_ALL) != 0)
		return PROTO_EVALUE;
	if ((rv = get_str(r, s->name, sizeof s->name)) != 0 ||
	    (rv = get_str(r, s->prefix, sizeof s->prefix)) != 0 ||
	    (rv = rd_u64(r, &s->expires_in)) != 0 ||
	    (rv = get_services(r, &s->services)) != 0 ||
	    (rv = get_perms(r, &s->permissions)) != 0 ||
	    (rv = get_users(r, &s->allowed_users)) != 0 ||
	    (rv = get_str(r, s->metadata, sizeof s->metadata)) != 0 ||
	    (rv = get_limits(r, &s->limits)) != 0)
		return rv;
	return 0;
}

/*
 * Framing.
 */

int
proto_frame_peek(const uint8_t *p, size_t avail, size_t max,
    size_t *framelen)
{
	struct reader	r;
	uint32_t	len;

	rd_init(&r, p, avail);
	if (rd_raw_u32(&r, &len) != 0)
		return 1;
	/* Checked before waiting for the body: never buffer a bad frame. */
	if (len < PROTO_HDR_LEN - 4 || max < 4 || len > max - 4)
		return PROTO_EFRAME;
	if (avail - 4 < len)
		return 1;
	*framelen = (size_t)len + 4;
	return 0;
}

int
proto_frame_open(const uint8_t *frame, size_t len, struct proto_hdr *hdr,
    struct reader *body)
{
	struct reader	r;
	struct proto_hdr h;
	uint32_t	flen;

	rd_init(&r, frame, len);
	if (rd_raw_u32(&r, &flen) != 0 || flen < PROTO_HDR_LEN - 4 ||
	    flen != len - 4)
		return PROTO_EFRAME;
	if (rd_raw_u8(&r, &h.version) != 0 ||
	    rd_raw_u8(&r, &h.opcode) != 0 ||
	    rd_raw_u16(&r, &h.flags) != 0 ||
	    rd_raw_u32(&r, &h.id) != 0)
		return PROTO_EFRAME;
	if (h.version != PROTO_VERSION)
		return PROTO_EVERSION;
	*hdr = h;
	rd_init(body, frame + PROTO_HDR_LEN, len - PROTO_HDR_LEN);
	return 0;
}

/*
 * A writer holds one frame: proto_frame_end patches the length at offset 0.
 * To queue several frames in one buffer, give each its own writer over the
 * free tail of the buffer.
 */
void
proto_frame_begin(struct writer *w, uint8_t opcode, uint16_t flags,
    uint32_t id)
{
	wr_raw_u32(w, 0);
	wr_raw_u8(w, PROTO_VERSION);
	wr_raw_u8(w, opcode);
	wr_raw_u16(w, flags);
	wr_raw_u32(w, id);
}

int
proto_frame_end(struct writer *w)
{
	if (wr_error(w) == 0)
		wr_patch_u32(w, 0, (uint32_t)(w->len - 4));
	return wr_error(w);
}

void
proto_enc_reply_head(struct writer *w, uint32_t status, const char *message)
{
	wr_u32(w, status);
	/* Not put_str: the message is any C string, and NULL means none. */
	wr_str(w, message != NULL ? message : "");
}

int
proto_dec_reply_head(struct reader *r, uint32_t *status,
    char message[PROTO_MESSAGE_MAX + 1])
{
	uint32_t	st;
	int		rv;

	if ((rv = get_u32_max(r, &st, PROTO_STATUS_MAX)) != 0 ||
	    (rv = rd_str(r, message, PROTO_MESSAGE_MAX)) != 0)
		return rv;
	*status = st;
	return 0;
}

/*
 * Message codecs.
 */

void
proto_enc_ping_reply(struct writer *w, uint32_t version, const char *verstr)
{
	wr_u32(w, version);
	wr_str(w, verstr);
}

int
proto_dec_ping_reply(struct reader *r, uint32_t *version,
    char verstr[PROTO_VERSTR_MAX + 1])
{
	char		s[PROTO_VERSTR_MAX + 1];
	uint32_t	v;
	int		rv;

	if ((rv = rd_u32(r, &v)) != 0 ||
	    (rv = get_str(r, s, sizeof s)) != 0 ||
	    (rv = rd_end(r)) != 0)
		return rv;
	*version = v;
	memcpy(verstr, s, strlen(s) + 1);
	return 0;
}

void
proto_enc_status_info(struct writer *w, const struct proto_status_info *s)
{
	size_t	i;

	put_str(w, s->version, sizeof s->version);
	wr_u32(w, s->pid);
	wr_u64(w, s->started_at);
	wr_u64(w, s->keys);
	wr_u64(w, s->tenants);
	wr_u32(w, s->caller_uid);
	wr_u8(w, s->caller_admin);
	wr_u64(w, s->map_size);
	wr_u64(w, s->map_used);
	wr_u64(w, s->map_limit);
	wr_u64(w, s->audit_entries);
	wr_u64(w, s->audit_pruned);
	put_str(w, s->verify_socket, sizeof s->verify_socket);
	put_str(w, s->admin_socket, sizeof s->admin_socket);
	wr_u64(w, s->store_size);
	wr_u8(w, s->has_counters);
	for (i = 0; i <= PROTO_CODE_MAX; i++)
		wr_u64(w, s->verifies[i]);
}

int
proto_dec_status_info(struct reader *r, struct proto_status_info *s)
{
	size_t	i;
	int	rv;

	memset(s, 0, sizeof *s);
	if ((rv = get_str(r, s->version, sizeof s->version)) != 0 ||
	    (rv = rd_u32(r, &s->pid)) != 0 ||
	    (rv = rd_u64(r, &s->started_at)) != 0 ||
	    (rv = rd_u64(r, &s->keys)) != 0 ||
	    (rv = rd_u64(r, &s->tenants)) != 0 ||
	    (rv = rd_u32(r, &s->caller_uid)) != 0 ||
	    (rv = get_u8_max(r, &s->caller_admin, 1)) != 0 ||
	    (rv = rd_u64(r, &s->map_size)) != 0 ||
	    (rv = rd_u64(r, &s->map_used)) != 0 ||
	    (rv = rd_u64(r, &s->map_limit)) != 0 ||
	    (rv = rd_u64(r, &s->audit_entries)) != 0 ||
	    (rv = rd_u64(r, &s->audit_pruned)) != 0 ||
	    (rv = get_str(r, s->verify_socket, sizeof s->verify_socket)) != 0 ||
	    (rv = get_str(r, s->admin_socket, sizeof s->admin_socket)) != 0 ||
	    (rv = rd_u64(r, &s->store_size)) != 0 ||
	    (rv = get_u8_max(r, &s->has_counters, 1)) != 0)
		return rv;
	for (i = 0; i <= PROTO_CODE_MAX; i++)
		if ((rv = rd_u64(r, &s->verifies[i])) != 0)
			return rv;
	return rd_end(r);
}

void
proto_enc_verify_req(struct writer *w, const struct proto_verify_req *q)
{
	put_str(w, q->token, sizeof q->token);
	put_str(w, q->service, sizeof q->service);
	put_str(w, q->user, sizeof q->user);
	put_str(w, q->rhost, sizeof q->rhost);
	put_str(w, q->tenant, sizeof q->tenant);
	put_perms(w, &q->required);
	wr_u32(w, q->cost);
}

/*
 * The token goes from the frame straight into q->token, never through a
 * local; the caller wipes the frame and the struct. A request that fails
 * to decode may still carry a live token, so the field is wiped here.
 */
int
proto_dec_verify_req(struct reader *r, struct proto_verify_req *q)
{
	int	rv;

	memset(q, 0, sizeof *q);
	if ((rv = get_str(r, q->token, sizeof q->token)) != 0 ||
	    (rv = get_str(r, q->service, sizeof q->service)) != 0 ||
	    (rv = get_str(r, q->user, sizeof q->user)) != 0 ||
	    (rv = get_str(r, q->rhost, sizeof q->rhost)) != 0 ||
	    (rv = get_str(r, q->tenant, sizeof q->tenant)) != 0 ||
	    (rv = get_perms(r, &q->required)) != 0 ||
	    (rv = rd_u32(r, &q->cost)) != 0 ||
	    (rv = rd_end(r)) != 0) {
		explicit_bzero(q->token, sizeof q->token);
		return rv;
	}
	return 0;
}

void
proto_enc_verify_reply(struct writer *w, const struct proto_verify_reply *v)
{
	wr_u32(w, v->code);
	put_str(w, v->reason, sizeof v->reason);
	put_str(w, v->key_id, sizeof v->key_id);
	put_str(w, v->name, sizeof v->name);
	put_owner(w, &v->owner);
	put_perms(w, &v->permissions);
	put_users(w, &v->allowed_users);
	put_str(w, v->metadata, sizeof v->metadata);
	wr_u64(w, v->expires_at);
	wr_u64(w, v->retry_after_ms);
	wr_u8(w, v->has_credits);
	wr_u64(w, v->remaining);
	wr_u8(w, v->allow_privileged);
	wr_u8(w, v->has_admin_gid);
	wr_u32(w, v->admin_gid);
}

int
proto_dec_verify_reply(struct reader *r, struct proto_verify_reply *v)
{
	int	rv;

	memset(v, 0, sizeof *v);
	if ((rv = get_u32_max(r, &v->code, PROTO_CODE_MAX)) != 0 ||
	    (rv = get_str(r, v->reason, sizeof v->reason)) != 0 ||
	    (rv = get_str(r, v->key_id, sizeof v->key_id)) != 0 ||
	    (rv = get_str(r, v->name, sizeof v->name)) != 0 ||
	    (rv = get_owner(r, &v->owner)) != 0 ||
	    (rv = get_perms(r, &v->permissions)) != 0 ||
	    (rv = get_users(r, &v->allowed_users)) != 0 ||
	    (rv = get_str(r, v->metadata, sizeof v->metadata)) != 0 ||
	    (rv = rd_u64(r, &v->expires_at)) != 0 ||
	    (rv = rd_u64(r, &v->retry_after_ms)) != 0 ||
	    (rv = get_u8_max(r, &v->has_credits, 1)) != 0 ||
	    (rv = rd_u64(r, &v->remaining)) != 0 ||
	    (rv = get_u8_max(r, &v->allow_privileged, 1)) != 0 ||
	    (rv = get_u8_max(r, &v->has_admin_gid, 1)) != 0 ||
	    (rv = rd_u32(r, &v->admin_gid)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_tenant(struct writer *w, const struct proto_tenant *t)
{
	put_str(w, t->name, sizeof t->name);
	put_str(w, t->group, sizeof t->group);
	wr_u32(w, t->gid);
	put_str(w, t->admin_group, sizeof t->admin_group);
	wr_u32(w, t->admin_gid);
	wr_u8(w, t->enabled);
	wr_u32(w, t->created_by);
	wr_u64(w, t->created_at);
	wr_u32(w, t->keys);
	wr_u8(w, t->allow_privileged);
}

int
proto_dec_tenant(struct reader *r, struct proto_tenant *t)
{
	int	rv;

	memset(t, 0, sizeof *t);
	if ((rv = get_str(r, t->name, sizeof t->name)) != 0 ||
	    (rv = get_str(r, t->group, sizeof t->group)) != 0 ||
	    (rv = rd_u32(r, &t->gid)) != 0 ||
	    (rv = get_str(r, t->admin_group, sizeof t->admin_group)) != 0 ||
	    (rv = rd_u32(r, &t->admin_gid)) != 0 ||
	    (rv = get_u8_max(r, &t->enabled, 1)) != 0 ||
	    (rv = rd_u32(r, &t->created_by)) != 0 ||
	    (rv = rd_u64(r, &t->created_at)) != 0 ||
	    (rv = rd_u32(r, &t->keys)) != 0 ||
	    (rv = get_u8_max(r, &t->allow_privileged, 1)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_key(struct writer *w, const struct proto_key *k)
{
	put_str(w, k->id, sizeof k->id);
	put_str(w, k->prefix, sizeof k->prefix);
	put_str(w, k->name, sizeof k->name);
	put_owner(w, &k->owner);
	wr_u8(w, k->enabled);
	wr_u32(w, k->created_by);
	wr_u64(w, k->created_at);
	wr_u64(w, k->updated_at);
	wr_u64(w, k->expires_at);
	wr_u64(w, k->grace_until);
	put_services(w, &k->services);
	put_perms(w, &k->permissions);
	put_users(w, &k->allowed_users);
	put_str(w, k->metadata, sizeof k->metadata);
	put_limits(w, &k->limits);
	put_usage(w, &k->usage);
}

/* The fields of a key, without the end check: create and rotate replies
 * carry a token after them. */
static int
get_key(struct reader *r, struct proto_key *k)
{
	int	rv;

	memset(k, 0, sizeof *k);
	if ((rv = get_str(r, k->id, sizeof k->id)) != 0 ||
	    (rv = get_str(r, k->prefix, sizeof k->prefix)) != 0 ||
	    (rv = get_str(r, k->name, sizeof k->name)) != 0 ||
	    (rv = get_owner(r, &k->owner)) != 0 ||
	    (rv = get_u8_max(r, &k->enabled, 1)) != 0 ||
	    (rv = rd_u32(r, &k->created_by)) != 0 ||
	    (rv = rd_u64(r, &k->created_at)) != 0 ||
	    (rv = rd_u64(r, &k->updated_at)) != 0 ||
	    (rv = rd_u64(r, &k->expires_at)) != 0 ||
	    (rv = rd_u64(r, &k->grace_until)) != 0 ||
	    (rv = get_services(r, &k->services)) != 0 ||
	    (rv = get_perms(r, &k->permissions)) != 0 ||
	    (rv = get_users(r, &k->allowed_users)) != 0 ||
	    (rv = get_str(r, k->metadata, sizeof k->metadata)) != 0 ||
	    (rv = get_limits(r, &k->limits)) != 0 ||
	    (rv = get_usage(r, &k->usage)) != 0)
		return rv;
	return 0;
}

int
proto_dec_key(struct reader *r, struct proto_key *k)
{
	int	rv;

	if ((rv = get_key(r, k)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_key_token(struct writer *w, const struct proto_key *k,
    const char *token)
{
	proto_enc_key(w, k);
	wr_str(w, token);
}

int
proto_dec_key_token(struct reader *r, struct proto_key *k,
    char token[TOKEN_MAX + 1])
{
	int	rv;

	if ((rv = get_key(r, k)) != 0 ||
	    (rv = rd_str(r, token, TOKEN_MAX)) != 0 ||
	    (rv = rd_end(r)) != 0) {
		explicit_bzero(token, TOKEN_MAX + 1);
		return rv;
	}
	return 0;
}

void
proto_enc_key_create_req(struct writer *w,
    const struct proto_key_create_req *q)
{
	put_owner_sel(w, &q->owner);
	put_spec(w, &q->spec);
}

int
proto_dec_key_create_req(struct reader *r, struct proto_key_create_req *q)
{
	int	rv;

	memset(q, 0, sizeof *q);
	if ((rv = get_owner_sel(r, &q->owner)) != 0 ||
	    (rv = get_spec(r, &q->spec)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_key_update_req(struct writer *w,
    const struct proto_key_update_req *q)
{
	put_str(w, q->id, sizeof q->id);
	put_spec(w, &q->spec);
}

int
proto_dec_key_update_req(struct reader *r, struct proto_key_update_req *q)
{
	int	rv;

	memset(q, 0, sizeof *q);
	if ((rv = get_str(r, q->id, sizeof q->id)) != 0 ||
	    (rv = get_spec(r, &q->spec)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_owner_sel(struct writer *w, const struct proto_owner_sel *o)
{
	put_owner_sel(w, o);
}

int
proto_dec_owner_sel(struct reader *r, struct proto_owner_sel *o)
{
	int	rv;

	memset(o, 0, sizeof *o);
	if ((rv = get_owner_sel(r, o)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_audit(struct writer *w, const struct proto_audit *a)
{
	wr_u64(w, a->seq);
	wr_u64(w, a->time);
	wr_u32(w, a->uid);
	wr_u32(w, a->pid);
	put_str(w, a->action, sizeof a->action);
	put_str(w, a->target, sizeof a->target);
	put_str(w, a->detail, sizeof a->detail);
}

int
proto_dec_audit(struct reader *r, struct proto_audit *a)
{
	int	rv;

	memset(a, 0, sizeof *a);
	if ((rv = rd_u64(r, &a->seq)) != 0 ||
	    (rv = rd_u64(r, &a->time)) != 0 ||
	    (rv = rd_u32(r, &a->uid)) != 0 ||
	    (rv = rd_u32(r, &a->pid)) != 0 ||
	    (rv = get_str(r, a->action, sizeof a->action)) != 0 ||
	    (rv = get_str(r, a->target, sizeof a->target)) != 0 ||
	    (rv = get_str(r, a->detail, sizeof a->detail)) != 0)
		return rv;
	return rd_end(r);
}

/*
 * Names.
 */

static const char *const code_names[] = {
	[PROTO_VALID] = "VALID",
	[PROTO_MALFORMED] = "MALFORMED",
	[PROTO_NOT_FOUND] = "NOT_FOUND",
	[PROTO_DISABLED] = "DISABLED",
	[PROTO_TENANT_DISABLED] = "TENANT_DISABLED",
	[PROTO_EXPIRED] = "EXPIRED",
	[PROTO_FORBIDDEN] = "FORBIDDEN",
	[PROTO_INSUFFICIENT_PERMISSIONS] = "INSUFFICIENT_PERMISSIONS",
	[PROTO_RATE_LIMITED] = "RATE_LIMITED",
	[PROTO_USAGE_EXCEEDED] = "USAGE_EXCEEDED",
};

static const char *const status_names[] = {
	[PROTO_OK] = "OK",
	[PROTO_EBADREQ] = "EBADREQ",
	[PROTO_EUNSUPPORTED] = "EUNSUPPORTED",
	[PROTO_EPERM] = "EPERM",
	[PROTO_ENOTFOUND] = "ENOTFOUND",
	[PROTO_EEXIST] = "EEXIST",
	[PROTO_EINVAL] = "EINVAL",
	[PROTO_ELIMIT] = "ELIMIT",
	[PROTO_EINTERNAL] = "EINTERNAL",
	[PROTO_EBUSY] = "EBUSY",
	[PROTO_ESHUTDOWN] = "ESHUTDOWN",
};

const char *
proto_code_name(uint32_t code)
{
	if (code > PROTO_CODE_MAX)
		return "UNKNOWN";
	return code_names[code];
}

const char *
proto_status_name(uint32_t status)
{
	if (status > PROTO_STATUS_MAX)
		return "UNKNOWN";
	return status_names[status];
}

/* A reply frame's opcode carries PROTO_REPLY; it names the same operation. */
const char *
proto_op_name(uint8_t opcode)
{
	switch (opcode & ~PROTO_REPLY) {
	case PROTO_OP_PING:
		return "PING";
	case PROTO_OP_STATUS:
		return "STATUS";
	case PROTO_OP_VERIFY:
		return "VERIFY";
	case PROTO_OP_TENANT_ADD:
		return "TENANT_ADD";
	case PROTO_OP_TENANT_LIST:
		return "TENANT_LIST";
	case PROTO_OP_TENANT_SHOW:
		return "TENANT_SHOW";
	case PROTO_OP_TENANT_SET_ENABLED:
		return "TENANT_SET_ENABLED";
	case PROTO_OP_TENANT_REMOVE:
		return "TENANT_REMOVE";
	case PROTO_OP_TENANT_SET_PRIVILEGED:
		return "TENANT_SET_PRIVILEGED";
	case PROTO_OP_KEY_CREATE:
		return "KEY_CREATE";
	case PROTO_OP_KEY_LIST:
		return "KEY_LIST";
	case PROTO_OP_KEY_SHOW:
		return "KEY_SHOW";
	case PROTO_OP_KEY_SET_ENABLED:
		return "KEY_SET_ENABLED";
	case PROTO_OP_KEY_REVOKE:
		return "KEY_REVOKE";
	case PROTO_OP_KEY_UPDATE:
		return "KEY_UPDATE";
	case PROTO_OP_KEY_ROTATE:
		return "KEY_ROTATE";
	case PROTO_OP_KEY_PURGE_EXPIRED:
		return "KEY_PURGE_EXPIRED";
	case PROTO_OP_AUDIT_LIST:
		return "AUDIT_LIST";
	default:
		return "UNKNOWN";
	}
}

const char *
proto_strerror(int err)
{
	switch (err) {
	case PROTO_EFRAME:
		return "bad frame length";
	case PROTO_EVERSION:
		return "unsupported protocol version";
	case PROTO_EVALUE:
		return "enum or flag value out of range";
	default:
		if (err <= BUF_OK && err >= BUF_EOVERFLOW)
			return buf_strerror(err);
		return "unknown protocol error";
	}
}
