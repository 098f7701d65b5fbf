/*
 * proto.c - framing, the reply head, and the messages both sockets carry
 * (empty bodies, PING, VERIFY) of the apikeyd wire protocol (specified in
 * proto.h); the management messages are in proto_admin.c, the fields they
 * share in proto_field.c.
 *
 * proto/ is the only code that reads or writes message bytes: the daemon
 * and libapikey hand a frame to proto_frame_* and a body to one codec pair
 * per message, and never call buf.c's reader or writer themselves, so the
 * wire format is written down in one place and every decoder ends with the
 * same trailing-bytes check. Decoders zero their struct first, read through
 * buf.c's checked reader, validate every enum and flag, and end with
 * rd_end().
 *
 * The workload is one small frame per request, a few KB at most, so the
 * codecs are straight-line code with no allocation.
 */
#include <stdint.h>
#include <string.h>

#include "../common/secret.h"
#include "proto_int.h"

/* See PROTO_ID_ARG_MAX: no token fits where a key id is read. */
_Static_assert(PROTO_ID_ARG_MAX < 1 + 1 + TOKEN_ID_LEN + 1 +
    TOKEN_SECRET_LEN + TOKEN_CRC_LEN, "a whole token fits an id argument");

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

/* The header fields after the length, untagged. */
static int
get_hdr(struct reader *r, struct proto_hdr *h)
{
	if (rd_raw_u8(r, &h->version) != 0 ||
	    rd_raw_u8(r, &h->opcode) != 0 ||
	    rd_raw_u16(r, &h->flags) != 0 ||
	    rd_raw_u32(r, &h->id) != 0)
		return PROTO_EFRAME;
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
	if (get_hdr(&r, &h) != 0)
		return PROTO_EFRAME;
	if (h.version != PROTO_VERSION)
		return PROTO_EVERSION;
	*hdr = h;
	rd_init(body, frame + PROTO_HDR_LEN, len - PROTO_HDR_LEN);
	return 0;
}

/* Whatever the length and version say: the daemon echoes opcode and id
 * in its answer to the very frame whose length or version it refused. */
int
proto_frame_hdr(const uint8_t *p, size_t avail, struct proto_hdr *hdr)
{
	struct reader	r;
	struct proto_hdr h;
	uint32_t	len;

	rd_init(&r, p, avail);
	if (rd_raw_u32(&r, &len) != 0 || get_hdr(&r, &h) != 0)
		return PROTO_EFRAME;
	*hdr = h;
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

void
proto_frame_init(struct writer *w, void *buf, size_t size, uint8_t opcode,
    uint16_t flags, uint32_t id)
{
	wr_init(w, buf, size);
	proto_frame_begin(w, opcode, flags, id);
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
	/* Not pf_put_str: the message is any C string, and NULL means none.
	 * The daemon formats it into PROTO_MESSAGE_MAX + 1 bytes. */
	wr_str(w, message != NULL ? message : "");
}

int
proto_dec_reply_head(struct reader *r, uint32_t *status,
    char message[PROTO_MESSAGE_MAX + 1])
{
	uint32_t	st;
	int		rv;

	if ((rv = pf_get_u32_max(r, &st, PROTO_STATUS_MAX)) != 0 ||
	    (rv = rd_str(r, message, PROTO_MESSAGE_MAX)) != 0)
		return rv;
	*status = st;
	return 0;
}

/*
 * Messages of both sockets.
 */

/* Nothing to write: the encoder is there so that every message a caller
 * sends goes through its codec, empty or not. */
void
proto_enc_empty(struct writer *w)
{
	(void)w;
}

int
proto_dec_empty(struct reader *r)
{
	return rd_end(r);
}

void
proto_enc_ping_reply(struct writer *w, uint32_t version, const char *verstr)
{
	wr_u32(w, version);
	pf_put_cstr(w, verstr, PROTO_VERSTR_MAX);
}

int
proto_dec_ping_reply(struct reader *r, uint32_t *version,
    char verstr[PROTO_VERSTR_MAX + 1])
{
	char		s[PROTO_VERSTR_MAX + 1];
	uint32_t	v;
	int		rv;

	if ((rv = rd_u32(r, &v)) != 0 ||
	    (rv = pf_get_str(r, s, sizeof s)) != 0 ||
	    (rv = rd_end(r)) != 0)
		return rv;
	*version = v;
	memcpy(verstr, s, strlen(s) + 1);
	return 0;
}

void
proto_enc_verify_req(struct writer *w, const struct proto_verify_req *q)
{
	proto_enc_verify_req_token(w, q->token, q);
}

void
proto_enc_verify_req_token(struct writer *w, const char *token,
    const struct proto_verify_req *q)
{
	static const struct proto_verify_req none;

	if (q == NULL)
		q = &none;
	pf_put_str(w, token, sizeof q->token);
	pf_put_str(w, q->service, sizeof q->service);
	pf_put_str(w, q->user, sizeof q->user);
	pf_put_str(w, q->rhost, sizeof q->rhost);
	pf_put_str(w, q->tenant, sizeof q->tenant);
	pf_put_perms(w, &q->required);
	wr_u32(w, q->cost);
	wr_u8(w, q->check_only);
}

/*
 * The token goes from the frame straight into q->token, never through a
 * local; the caller wipes the frame and the struct. A request that fails
 * to decode may still carry a live token, so the field is wiped here. No
 * memset first: the daemon decodes one per verify into the same 4.7 KB
 * struct, and every field is written (proto.h).
 */
int
proto_dec_verify_req(struct reader *r, struct proto_verify_req *q)
{
	int	rv;

	if ((rv = pf_get_str(r, q->token, sizeof q->token)) != 0 ||
	    (rv = pf_get_str(r, q->service, sizeof q->service)) != 0 ||
	    (rv = pf_get_str(r, q->user, sizeof q->user)) != 0 ||
	    (rv = pf_get_str(r, q->rhost, sizeof q->rhost)) != 0 ||
	    (rv = pf_get_str(r, q->tenant, sizeof q->tenant)) != 0 ||
	    (rv = pf_get_perms(r, &q->required)) != 0 ||
	    (rv = rd_u32(r, &q->cost)) != 0 ||
	    (rv = pf_get_u8_max(r, &q->check_only, 1)) != 0 ||
	    (rv = rd_end(r)) != 0) {
		secret_wipe(q->token, sizeof q->token);
		return rv;
	}
	return 0;
}

void
proto_enc_verify_reply(struct writer *w, const struct proto_verify_reply *v)
{
	wr_u32(w, v->code);
	pf_put_str(w, v->reason, sizeof v->reason);
	pf_put_str(w, v->key_id, sizeof v->key_id);
	pf_put_str(w, v->name, sizeof v->name);
	pf_put_owner(w, &v->owner);
	pf_put_perms(w, &v->permissions);
	pf_put_users(w, &v->allowed_users);
	pf_put_str(w, v->metadata, sizeof v->metadata);
	wr_u64(w, v->expires_at);
	wr_u64(w, v->retry_after_ms);
	wr_u8(w, v->has_credits);
	wr_u64(w, v->remaining);
	wr_u8(w, v->allow_privileged);
	wr_u8(w, v->has_admin_gid);
	wr_u32(w, v->admin_gid);
}

/*
 * Every field of the struct is on the wire, so a decode that succeeds
 * writes each one: strings up to their NUL, lists up to their n. The
 * bytes past those (most of 13 KB) are not zeroed first, as a client
 * decodes one reply per verify; nothing reads them.
 */
int
proto_dec_verify_reply(struct reader *r, struct proto_verify_reply *v)
{
	int	rv;

	if ((rv = pf_get_u32_max(r, &v->code, PROTO_CODE_MAX)) != 0 ||
	    (rv = pf_get_str(r, v->reason, sizeof v->reason)) != 0 ||
	    (rv = pf_get_str(r, v->key_id, sizeof v->key_id)) != 0 ||
	    (rv = pf_get_str(r, v->name, sizeof v->name)) != 0 ||
	    (rv = pf_get_owner(r, &v->owner)) != 0 ||
	    (rv = pf_get_perms(r, &v->permissions)) != 0 ||
	    (rv = pf_get_users(r, &v->allowed_users)) != 0 ||
	    (rv = pf_get_str(r, v->metadata, sizeof v->metadata)) != 0 ||
	    (rv = rd_u64(r, &v->expires_at)) != 0 ||
	    (rv = rd_u64(r, &v->retry_after_ms)) != 0 ||
	    (rv = pf_get_u8_max(r, &v->has_credits, 1)) != 0 ||
	    (rv = rd_u64(r, &v->remaining)) != 0 ||
	    (rv = pf_get_u8_max(r, &v->allow_privileged, 1)) != 0 ||
	    (rv = pf_get_u8_max(r, &v->has_admin_gid, 1)) != 0 ||
	    (rv = rd_u32(r, &v->admin_gid)) != 0)
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
	[PROTO_STALE] = "STALE",
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
	[PROTO_EUNAVAIL] = "EUNAVAIL",
	[PROTO_ECONFLICT] = "ECONFLICT",
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
	case PROTO_OP_KEY_CREATE_MANY:
		return "KEY_CREATE_MANY";
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
