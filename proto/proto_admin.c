/*
 * proto_admin.c - the codecs of the messages only admin.sock carries:
 * STATUS, tenants, keys, the audit log, and the small requests that name
 * one tenant or one key (proto.h has the table of which body each opcode
 * sends and gets).
 *
 * Same rules as proto.c: encoders list the fields in the order of the
 * table, decoders zero their output first (or, for plain out-parameters,
 * write them only on success), check every enum and switch, and end with
 * rd_end(). A tenant name or key id in a request is read up to its
 * PROTO_*_ARG_MAX, longer than any valid one, so that the daemon can quote
 * a wrong one back in an EINVAL instead of calling it undecodable.
 */
#include <stdint.h>
#include <string.h>

#include "../common/secret.h"
#include "proto_int.h"

void
proto_enc_status_info(struct writer *w, const struct proto_status_info *s)
{
	size_t	i;

	pf_put_str(w, s->version, sizeof s->version);
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
	pf_put_str(w, s->verify_socket, sizeof s->verify_socket);
	pf_put_str(w, s->admin_socket, sizeof s->admin_socket);
	wr_u64(w, s->store_size);
	wr_u8(w, s->has_counters);
	for (i = 0; i <= PROTO_CODE_MAX; i++)
		wr_u64(w, s->verifies[i]);
	wr_u8(w, s->fleet);
	wr_u8(w, s->fleet_connected);
	wr_u64(w, s->fleet_last_seq);
	wr_u64(w, s->fleet_head_seq);
	wr_u64(w, s->fleet_synced_at);
	wr_u64(w, s->fleet_max_staleness);
	wr_u8(w, s->fleet_digest);
	pf_put_str(w, s->fleet_error, sizeof s->fleet_error);
}

int
proto_dec_status_info(struct reader *r, struct proto_status_info *s)
{
	size_t	i;
	int	rv;

	memset(s, 0, sizeof *s);
	if ((rv = pf_get_str(r, s->version, sizeof s->version)) != 0 ||
	    (rv = rd_u32(r, &s->pid)) != 0 ||
	    (rv = rd_u64(r, &s->started_at)) != 0 ||
	    (rv = rd_u64(r, &s->keys)) != 0 ||
	    (rv = rd_u64(r, &s->tenants)) != 0 ||
	    (rv = rd_u32(r, &s->caller_uid)) != 0 ||
	    (rv = pf_get_u8_max(r, &s->caller_admin, 1)) != 0 ||
	    (rv = rd_u64(r, &s->map_size)) != 0 ||
	    (rv = rd_u64(r, &s->map_used)) != 0 ||
	    (rv = rd_u64(r, &s->map_limit)) != 0 ||
	    (rv = rd_u64(r, &s->audit_entries)) != 0 ||
	    (rv = rd_u64(r, &s->audit_pruned)) != 0 ||
	    (rv = pf_get_str(r, s->verify_socket,
	    sizeof s->verify_socket)) != 0 ||
	    (rv = pf_get_str(r, s->admin_socket,
	    sizeof s->admin_socket)) != 0 ||
	    (rv = rd_u64(r, &s->store_size)) != 0 ||
	    (rv = pf_get_u8_max(r, &s->has_counters, 1)) != 0)
		return rv;
	for (i = 0; i <= PROTO_CODE_MAX; i++)
		if ((rv = rd_u64(r, &s->verifies[i])) != 0)
			return rv;
	if ((rv = pf_get_u8_max(r, &s->fleet, 1)) != 0 ||
	    (rv = pf_get_u8_max(r, &s->fleet_connected, 1)) != 0 ||
	    (rv = rd_u64(r, &s->fleet_last_seq)) != 0 ||
	    (rv = rd_u64(r, &s->fleet_head_seq)) != 0 ||
	    (rv = rd_u64(r, &s->fleet_synced_at)) != 0 ||
	    (rv = rd_u64(r, &s->fleet_max_staleness)) != 0 ||
	    (rv = pf_get_u8_max(r, &s->fleet_digest, PROTO_DIGEST_MAX)) != 0 ||
	    (rv = pf_get_str(r, s->fleet_error, sizeof s->fleet_error)) != 0)
		return rv;
	return rd_end(r);
}

/*
 * Tenants.
 */

void
proto_enc_tenant(struct writer *w, const struct proto_tenant *t)
{
	pf_put_str(w, t->name, sizeof t->name);
	pf_put_str(w, t->group, sizeof t->group);
	wr_u32(w, t->gid);
	pf_put_str(w, t->admin_group, sizeof t->admin_group);
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
	if ((rv = pf_get_str(r, t->name, sizeof t->name)) != 0 ||
	    (rv = pf_get_str(r, t->group, sizeof t->group)) != 0 ||
	    (rv = rd_u32(r, &t->gid)) != 0 ||
	    (rv = pf_get_str(r, t->admin_group, sizeof t->admin_group)) != 0 ||
	    (rv = rd_u32(r, &t->admin_gid)) != 0 ||
	    (rv = pf_get_u8_max(r, &t->enabled, 1)) != 0 ||
	    (rv = rd_u32(r, &t->created_by)) != 0 ||
	    (rv = rd_u64(r, &t->created_at)) != 0 ||
	    (rv = rd_u32(r, &t->keys)) != 0 ||
	    (rv = pf_get_u8_max(r, &t->allow_privileged, 1)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_tenant_add_req(struct writer *w,
    const struct proto_tenant_add_req *q)
{
	pf_put_str(w, q->name, sizeof q->name);
	pf_put_str(w, q->group, sizeof q->group);
	pf_put_str(w, q->admin_group, sizeof q->admin_group);
}

int
proto_dec_tenant_add_req(struct reader *r, struct proto_tenant_add_req *q)
{
	int	rv;

	memset(q, 0, sizeof *q);
	if ((rv = pf_get_str(r, q->name, sizeof q->name)) != 0 ||
	    (rv = pf_get_str(r, q->group, sizeof q->group)) != 0 ||
	    (rv = pf_get_str(r, q->admin_group, sizeof q->admin_group)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_tenant_name(struct writer *w, const char *name)
{
	pf_put_cstr(w, name, PROTO_TENANT_ARG_MAX);
}

/*
 * The bodies that name one tenant or key: the name (size bytes with its
 * NUL at most), then, with on, a 0/1 switch. The outputs are written only
 * when the whole body decodes.
 */
_Static_assert(PROTO_ID_ARG_MAX <= PROTO_TENANT_ARG_MAX,
    "dec_arg's buffer holds the longer argument");

static int
dec_arg(struct reader *r, char *out, size_t size, uint8_t *on)
{
	char	s[PROTO_TENANT_ARG_MAX + 1];
	uint8_t	v = 0;
	int	rv;

	if ((rv = pf_get_str(r, s, size)) != 0 ||
	    (on != NULL && (rv = pf_get_u8_max(r, &v, 1)) != 0) ||
	    (rv = rd_end(r)) != 0)
		return rv;
	memcpy(out, s, strlen(s) + 1);
	if (on != NULL)
		*on = v;
	return 0;
}

int
proto_dec_tenant_name(struct reader *r, char name[PROTO_TENANT_ARG_MAX + 1])
{
	return dec_arg(r, name, PROTO_TENANT_ARG_MAX + 1, NULL);
}

void
proto_enc_tenant_switch(struct writer *w, const char *name, uint8_t on)
{
	pf_put_cstr(w, name, PROTO_TENANT_ARG_MAX);
	wr_u8(w, on);
}

int
proto_dec_tenant_switch(struct reader *r,
    char name[PROTO_TENANT_ARG_MAX + 1], uint8_t *on)
{
	return dec_arg(r, name, PROTO_TENANT_ARG_MAX + 1, on);
}

/*
 * Keys.
 */

void
proto_enc_key(struct writer *w, const struct proto_key *k)
{
	pf_put_str(w, k->id, sizeof k->id);
	pf_put_str(w, k->prefix, sizeof k->prefix);
	pf_put_str(w, k->name, sizeof k->name);
	pf_put_owner(w, &k->owner);
	wr_u8(w, k->enabled);
	wr_u32(w, k->created_by);
	wr_u64(w, k->created_at);
	wr_u64(w, k->updated_at);
	wr_u64(w, k->expires_at);
	wr_u64(w, k->grace_until);
	pf_put_services(w, &k->services);
	pf_put_perms(w, &k->permissions);
	pf_put_users(w, &k->allowed_users);
	pf_put_str(w, k->metadata, sizeof k->metadata);
	pf_put_limits(w, &k->limits);
	pf_put_usage(w, &k->usage);
	wr_u8(w, k->strict_sync);
}

/* The fields of a key, without the end check: create and rotate replies
 * carry a token after them. */
static int
get_key(struct reader *r, struct proto_key *k)
{
	int	rv;

	memset(k, 0, sizeof *k);
	if ((rv = pf_get_str(r, k->id, sizeof k->id)) != 0 ||
	    (rv = pf_get_str(r, k->prefix, sizeof k->prefix)) != 0 ||
	    (rv = pf_get_str(r, k->name, sizeof k->name)) != 0 ||
	    (rv = pf_get_owner(r, &k->owner)) != 0 ||
	    (rv = pf_get_u8_max(r, &k->enabled, 1)) != 0 ||
	    (rv = rd_u32(r, &k->created_by)) != 0 ||
	    (rv = rd_u64(r, &k->created_at)) != 0 ||
	    (rv = rd_u64(r, &k->updated_at)) != 0 ||
	    (rv = rd_u64(r, &k->expires_at)) != 0 ||
	    (rv = rd_u64(r, &k->grace_until)) != 0 ||
	    (rv = pf_get_services(r, &k->services)) != 0 ||
	    (rv = pf_get_perms(r, &k->permissions)) != 0 ||
	    (rv = pf_get_users(r, &k->allowed_users)) != 0 ||
	    (rv = pf_get_str(r, k->metadata, sizeof k->metadata)) != 0 ||
	    (rv = pf_get_limits(r, &k->limits)) != 0 ||
	    (rv = pf_get_usage(r, &k->usage)) != 0 ||
	    (rv = pf_get_u8_max(r, &k->strict_sync, 1)) != 0)
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
	pf_put_cstr(w, token, TOKEN_MAX);
}

int
proto_dec_key_token(struct reader *r, struct proto_key *k,
    char token[TOKEN_MAX + 1])
{
	int	rv;

	if ((rv = get_key(r, k)) != 0 ||
	    (rv = rd_str(r, token, TOKEN_MAX)) != 0 ||
	    (rv = rd_end(r)) != 0) {
		secret_wipe(token, TOKEN_MAX + 1);
		return rv;
	}
	return 0;
}

void
proto_enc_key_create_req(struct writer *w,
    const struct proto_key_create_req *q)
{
	pf_put_owner_sel(w, &q->owner);
	pf_put_spec(w, &q->spec);
}

int
proto_dec_key_create_req(struct reader *r, struct proto_key_create_req *q)
{
	int	rv;

	memset(q, 0, sizeof *q);
	if ((rv = pf_get_owner_sel(r, &q->owner)) != 0 ||
	    (rv = pf_get_spec(r, &q->spec)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_key_create_many_req(struct writer *w,
    const struct proto_key_create_many_req *q)
{
	pf_put_owner_sel(w, &q->create.owner);
	pf_put_spec(w, &q->create.spec);
	wr_u32(w, q->count);
}

int
proto_dec_key_create_many_req(struct reader *r,
    struct proto_key_create_many_req *q)
{
	int	rv;

	memset(q, 0, sizeof *q);
	if ((rv = pf_get_owner_sel(r, &q->create.owner)) != 0 ||
	    (rv = pf_get_spec(r, &q->create.spec)) != 0 ||
	    (rv = rd_u32(r, &q->count)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_key_update_req(struct writer *w,
    const struct proto_key_update_req *q)
{
	pf_put_str(w, q->id, sizeof q->id);
	pf_put_spec(w, &q->spec);
}

int
proto_dec_key_update_req(struct reader *r, struct proto_key_update_req *q)
{
	int	rv;

	memset(q, 0, sizeof *q);
	if ((rv = pf_get_str(r, q->id, sizeof q->id)) != 0 ||
	    (rv = pf_get_spec(r, &q->spec)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_owner_sel(struct writer *w, const struct proto_owner_sel *o)
{
	pf_put_owner_sel(w, o);
}

int
proto_dec_owner_sel(struct reader *r, struct proto_owner_sel *o)
{
	int	rv;

	memset(o, 0, sizeof *o);
	if ((rv = pf_get_owner_sel(r, o)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_key_id(struct writer *w, const char *id)
{
	pf_put_cstr(w, id, PROTO_ID_ARG_MAX);
}

int
proto_dec_key_id(struct reader *r, char id[PROTO_ID_ARG_MAX + 1])
{
	return dec_arg(r, id, PROTO_ID_ARG_MAX + 1, NULL);
}

void
proto_enc_key_switch(struct writer *w, const char *id, uint8_t enabled)
{
	pf_put_cstr(w, id, PROTO_ID_ARG_MAX);
	wr_u8(w, enabled);
}

int
proto_dec_key_switch(struct reader *r, char id[PROTO_ID_ARG_MAX + 1],
    uint8_t *enabled)
{
	return dec_arg(r, id, PROTO_ID_ARG_MAX + 1, enabled);
}

void
proto_enc_key_rotate_req(struct writer *w, const char *id, uint64_t grace)
{
	pf_put_cstr(w, id, PROTO_ID_ARG_MAX);
	wr_u64(w, grace);
}

int
proto_dec_key_rotate_req(struct reader *r, char id[PROTO_ID_ARG_MAX + 1],
    uint64_t *grace)
{
	char		s[PROTO_ID_ARG_MAX + 1];
	uint64_t	v;
	int		rv;

	if ((rv = pf_get_str(r, s, sizeof s)) != 0 ||
	    (rv = rd_u64(r, &v)) != 0 ||
	    (rv = rd_end(r)) != 0)
		return rv;
	memcpy(id, s, strlen(s) + 1);
	*grace = v;
	return 0;
}

/* How many keys a TENANT_REMOVE revoked or a KEY_PURGE_EXPIRED purged. */
void
proto_enc_count(struct writer *w, uint32_t n)
{
	wr_u32(w, n);
}

int
proto_dec_count(struct reader *r, uint32_t *n)
{
	uint32_t	v;
	int		rv;

	if ((rv = rd_u32(r, &v)) != 0 || (rv = rd_end(r)) != 0)
		return rv;
	*n = v;
	return 0;
}

/*
 * The audit log.
 */

void
proto_enc_audit(struct writer *w, const struct proto_audit *a)
{
	wr_u64(w, a->seq);
	wr_u64(w, a->time);
	wr_u32(w, a->uid);
	wr_u32(w, a->pid);
	pf_put_str(w, a->action, sizeof a->action);
	pf_put_str(w, a->target, sizeof a->target);
	pf_put_str(w, a->detail, sizeof a->detail);
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
	    (rv = pf_get_str(r, a->action, sizeof a->action)) != 0 ||
	    (rv = pf_get_str(r, a->target, sizeof a->target)) != 0 ||
	    (rv = pf_get_str(r, a->detail, sizeof a->detail)) != 0)
		return rv;
	return rd_end(r);
}

void
proto_enc_audit_list_req(struct writer *w, uint32_t limit)
{
	wr_u32(w, limit);
}

int
proto_dec_audit_list_req(struct reader *r, uint32_t *limit)
{
	uint32_t	v;
	int		rv;

	if ((rv = rd_u32(r, &v)) != 0 || (rv = rd_end(r)) != 0)
		return rv;
	*limit = v;
	return 0;
}
