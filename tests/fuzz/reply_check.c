/*
 * reply_check.c - see reply_check.h. Runs once per reply frame of
 * fuzz_frames; the decode structs are static, being too large for the
 * stack.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/secret.h"
#include "../../proto/proto.h"
#include "reply_check.h"

static union {
	struct proto_status_info	st;
	struct proto_verify_reply	vr;
	struct proto_tenant		t;
	struct proto_key		k;
	struct proto_audit		a;
} m;

static void	bad(const struct proto_hdr *, const char *, ...)
		    __attribute__((format(printf, 2, 3), noreturn));

static void
bad(const struct proto_hdr *h, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "reply_check: reply to %s (opcode 0x%02x id %u): ",
	    h != NULL ? proto_op_name(h->opcode) : "?",
	    h != NULL ? h->opcode : 0, h != NULL ? h->id : 0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* A new token: it parses, and names the key sent with it. */
static void
check_token(const struct proto_hdr *h, const char *token,
    const struct proto_key *k)
{
	struct token	 t;
	struct secret_scope t_scope SECRET_SCOPE = { &t, sizeof(t) };

	if (token_parse(token, strlen(token), &t) != 0)
		bad(h, "the new token does not parse");
	if (strcmp(t.id, k->id) != 0 || strcmp(t.prefix, k->prefix) != 0)
		bad(h, "the new token is not key %s's", k->id);
}

/* The body of an OK reply to opcode; more: PROTO_F_MORE was set. */
static int
check_body(const struct proto_hdr *h, struct reader *r, int more,
    int secret)
{
	static char	 token[TOKEN_MAX + 1];
	char		 verstr[PROTO_VERSTR_MAX + 1];
	uint32_t	 u;
	int		 listing = 0, rc;

	switch (h->opcode & ~PROTO_REPLY) {
	case PROTO_OP_TENANT_LIST:
	case PROTO_OP_KEY_LIST:
	case PROTO_OP_AUDIT_LIST:
	case PROTO_OP_KEY_CREATE_MANY:
		listing = 1;
		break;
	default:
		break;
	}
	if (more && !listing)
		bad(h, "PROTO_F_MORE outside a listing");
	if (listing && !more)
		return proto_dec_empty(r);
	switch (h->opcode & ~PROTO_REPLY) {
	case PROTO_OP_PING:
		return proto_dec_ping_reply(r, &u, verstr);
	case PROTO_OP_STATUS:
		return proto_dec_status_info(r, &m.st);
	case PROTO_OP_VERIFY:
		return proto_dec_verify_reply(r, &m.vr);
	case PROTO_OP_TENANT_ADD:
	case PROTO_OP_TENANT_LIST:
	case PROTO_OP_TENANT_SHOW:
	case PROTO_OP_TENANT_SET_ENABLED:
	case PROTO_OP_TENANT_SET_PRIVILEGED:
		return proto_dec_tenant(r, &m.t);
	case PROTO_OP_TENANT_REMOVE:
	case PROTO_OP_KEY_PURGE_EXPIRED:
		return proto_dec_count(r, &u);
	case PROTO_OP_KEY_CREATE:
	case PROTO_OP_KEY_ROTATE:
	case PROTO_OP_KEY_CREATE_MANY:
		if ((rc = proto_dec_key_token(r, &m.k, token)) != 0)
			return rc;
		if (!secret)
			bad(h, "a new token was queued without "
			    "conn_send_secret");
		check_token(h, token, &m.k);
		secret_wipe(token, sizeof(token));
		return 0;
	case PROTO_OP_KEY_LIST:
	case PROTO_OP_KEY_SHOW:
	case PROTO_OP_KEY_SET_ENABLED:
	case PROTO_OP_KEY_UPDATE:
		return proto_dec_key(r, &m.k);
	case PROTO_OP_KEY_REVOKE:
		return proto_dec_empty(r);
	case PROTO_OP_AUDIT_LIST:
		return proto_dec_audit(r, &m.a);
	default:
		bad(h, "OK for an opcode that is not served");
		return -1;
	}
}

void
reply_check(const uint8_t *frame, size_t len, size_t max,
    const struct proto_hdr *req, int secret)
{
	char		 msg[PROTO_MESSAGE_MAX + 1];
	struct proto_hdr h;
	struct reader	 body;
	size_t		 flen;
	uint32_t	 status;
	int		 rc;

	if (proto_frame_peek(frame, len, max, &flen) != 0 || flen != len)
		bad(req, "not one whole frame within %zu bytes (%zu)", max,
		    len);
	if ((rc = proto_frame_open(frame, len, &h, &body)) != 0)
		bad(req, "the frame does not open: %s", proto_strerror(rc));
	if (!(h.opcode & PROTO_REPLY))
		bad(&h, "not a reply opcode");
	if (req != NULL && (h.opcode != (req->opcode | PROTO_REPLY) ||
	    h.id != req->id))
		bad(req, "answered as opcode 0x%02x id %u", h.opcode, h.id);
	if ((rc = proto_dec_reply_head(&body, &status, msg)) != 0)
		bad(&h, "bad reply head: %s", proto_strerror(rc));
	if (status != PROTO_OK) {
		if (h.flags != 0)
			bad(&h, "flags 0x%x on an error", h.flags);
		if (rd_end(&body) != 0)
			bad(&h, "fields after an error head");
		return;
	}
	if ((h.flags & ~PROTO_F_MORE) != 0)
		bad(&h, "unknown flags 0x%x", h.flags);
	if ((rc = check_body(&h, &body, h.flags & PROTO_F_MORE, secret)) != 0)
		bad(&h, "the OK body does not decode: %s", proto_strerror(rc));
}
