/*
 * reply.c - reply frames for both handlers. The scratch frame is
 * thread-local: the verify and admin threads each build their own, one
 * reply at a time, and `lent` says which reply holds it. Only the frame
 * and its head are made here; each handler encodes its body with the
 * proto_enc_* of its message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../common/secret.h"
#include "log.h"
#include "reply.h"

static _Thread_local uint8_t	 scratch[PROTO_ADMIN_MAX];
/* The open reply that holds scratch; NULL when it is free. */
static _Thread_local const struct reply *lent;

struct writer *
reply_begin(struct reply *r, const struct proto_hdr *req, int more)
{
	/* Two open replies would share one frame: a bug, never input. */
	if (lent != NULL)
		fatalx("reply to %s begun while the reply to %s is open",
		    proto_op_name(req->opcode),
		    proto_op_name(lent->req.opcode));
	lent = r;
	r->open = 1;
	r->req = *req;
	proto_frame_init(&r->w, scratch, sizeof(scratch),
	    req->opcode | PROTO_REPLY, more ? PROTO_F_MORE : 0, req->id);
	proto_enc_reply_head(&r->w, PROTO_OK, "");
	return &r->w;
}

/* Frames r; gives scratch back either way. 0, or -1 when it overflowed. */
static int
finish(struct reply *r)
{
	if (!r->open || lent != r)
		fatalx("reply to %s finished but not open",
		    proto_op_name(r->req.opcode));
	r->open = 0;
	lent = NULL;
	if (proto_frame_end(&r->w) != 0) {
		/* Field limits keep every reply under PROTO_ADMIN_MAX. */
		log_warnx("reply to %s does not fit a frame",
		    proto_op_name(r->req.opcode));
		return -1;
	}
	return 0;
}

int
reply_send(struct reply *r, struct conn *c, int secret)
{
	int	 rc;

	if (finish(r) != 0) {
		if (secret)
			secret_wipe(scratch, sizeof(scratch));
		reply_error(c, &r->req, PROTO_EINTERNAL, "reply too large");
		return -1;
	}
	if (secret) {
		rc = conn_send_secret(c, scratch, r->w.len);
		secret_wipe(scratch, r->w.len);
	} else
		rc = conn_send(c, scratch, r->w.len);
	return rc;
}

const uint8_t *
reply_end(struct reply *r, size_t *len)
{
	if (finish(r) != 0)
		return NULL;
	*len = r->w.len;
	return scratch;
}

static size_t error_frame(uint8_t *, size_t, const struct proto_hdr *,
	    uint32_t, const char *, va_list)
	    __attribute__((format(printf, 5, 0)));

static size_t
error_frame(uint8_t *buf, size_t size, const struct proto_hdr *req,
    uint32_t status, const char *fmt, va_list ap)
{
	char		 msg[PROTO_MESSAGE_MAX + 1];
	struct writer	 w;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	proto_frame_init(&w, buf, size, req->opcode | PROTO_REPLY, 0, req->id);
	proto_enc_reply_head(&w, status, msg);
	return proto_frame_end(&w) == 0 ? w.len : 0;
}

size_t
reply_error_frame(uint8_t *buf, size_t size, const struct proto_hdr *req,
    uint32_t status, const char *fmt, ...)
{
	va_list		 ap;
	size_t		 len;

	va_start(ap, fmt);
	len = error_frame(buf, size, req, status, fmt, ap);
	va_end(ap);
	return len;
}

void
reply_error(struct conn *c, const struct proto_hdr *req, uint32_t status,
    const char *fmt, ...)
{
	uint8_t		 frame[REPLY_ERROR_MAX];
	va_list		 ap;
	size_t		 len;

	va_start(ap, fmt);
	len = error_frame(frame, sizeof(frame), req, status, fmt, ap);
	va_end(ap);
	if (len > 0)
		(void)conn_send(c, frame, len);
}
