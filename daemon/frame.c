/*
 * frame.c - see frame.h. Small on purpose: everything about a frame that
 * does not need the connection's buffers or the event loop, so that the
 * fuzz target drives the daemon's own answers to PING and to broken
 * frames rather than a copy of them.
 */
#include <string.h>

#include "frame.h"
#include "reply.h"

static int
send_ping(struct conn *c, const struct proto_hdr *h, struct reader *body)
{
	struct reply	 rp;

	if (proto_dec_empty(body) != 0) {
		reply_error(c, h, PROTO_EBADREQ, "PING takes no fields");
		return -1;
	}
	proto_enc_ping_reply(reply_begin(&rp, h, 0), PROTO_VERSION,
	    APIKEY_VERSION);
	return reply_send(&rp, c, 0) == 0 ? 0 : -1;
}

void
frame_refuse(struct conn *c, const uint8_t *p, size_t avail, int rc)
{
	struct proto_hdr h;

	if (proto_frame_hdr(p, avail, &h) == 0)
		h.opcode &= (uint8_t)~PROTO_REPLY;
	else
		memset(&h, 0, sizeof(h));
	reply_error(c, &h, PROTO_EBADREQ, "undecodable frame: %s",
	    proto_strerror(rc));
}

int
frame_dispatch(struct conn *c, const struct peer *p, const uint8_t *f,
    size_t flen, server_handler fn, void *arg)
{
	struct proto_hdr h;
	struct reader	 body;
	int		 rc;

	if ((rc = proto_frame_open(f, flen, &h, &body)) != 0) {
		frame_refuse(c, f, flen, rc);
		return FRAME_BAD;
	}
	if (h.opcode & PROTO_REPLY) {
		reply_error(c, &h, PROTO_EBADREQ,
		    "a reply opcode is not a request");
		return -1;
	}
	if (h.opcode == PROTO_OP_PING)
		return send_ping(c, &h, &body);
	return fn(arg, c, p, &h, &body) != 0 ? -1 : 0;
}
