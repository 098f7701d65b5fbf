/*
 * reply.c - reply frames for both handlers. The scratch frame is
 * thread-local: the verify and admin threads each build their own. Only
 * the frame and its head are made here; each handler encodes its body
 * with the proto_enc_* of its message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "reply.h"

static _Thread_local uint8_t	 scratch[PROTO_ADMIN_MAX];
static _Thread_local struct writer scratch_w;
static _Thread_local struct proto_hdr scratch_req;

struct writer *
reply_begin(const struct proto_hdr *req, int more)
{
	scratch_req = *req;
	proto_frame_init(&scratch_w, scratch, sizeof(scratch),
	    req->opcode | PROTO_REPLY, more ? PROTO_F_MORE : 0, req->id);
	proto_enc_reply_head(&scratch_w, PROTO_OK, "");
	return &scratch_w;
}

int
reply_send(struct conn *c, int secret)
{
	int	 rc;

	if (proto_frame_end(&scratch_w) != 0) {
		/* Field limits keep every reply under PROTO_ADMIN_MAX. */
		log_warnx("reply to %s does not fit a frame",
		    proto_op_name(scratch_req.opcode));
		if (secret)
			keys_wipe(scratch, sizeof(scratch));
		reply_error(c, &scratch_req, PROTO_EINTERNAL,
		    "reply too large");
		return -1;
	}
	if (secret) {
		rc = conn_send_secret(c, scratch, scratch_w.len);
		keys_wipe(scratch, scratch_w.len);
	} else
		rc = conn_send(c, scratch, scratch_w.len);
	return rc;
}

uint8_t *
reply_copy(size_t *len)
{
	uint8_t	*copy;

	if (proto_frame_end(&scratch_w) != 0 ||
	    (copy = malloc(scratch_w.len)) == NULL)
		return NULL;
	memcpy(copy, scratch, scratch_w.len);
	*len = scratch_w.len;
	return copy;
}

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
	va_list		 ap;
	size_t		 len;

	va_start(ap, fmt);
	len = error_frame(scratch, sizeof(scratch), req, status, fmt, ap);
	va_end(ap);
	if (len > 0)
		(void)conn_send(c, scratch, len);
}
