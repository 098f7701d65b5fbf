/*
 * reply.h - building reply frames.
 *
 * A reply is a struct reply that its handler owns (it is small: put it on
 * the stack). reply_begin() lends it the calling thread's scratch frame of
 * PROTO_ADMIN_MAX bytes, so that no handler puts a large frame on the
 * stack, and reply_send() or reply_end() gives the frame back. A thread
 * has one scratch frame, so it builds one reply at a time: beginning a
 * reply while another of the same thread is open is a broken invariant,
 * and fatal, rather than one reply silently overwriting the other. Error
 * replies never touch the scratch frame: each is built in a buffer of its
 * own, so one may be sent at any time.
 */
#ifndef APIKEY_REPLY_H
#define APIKEY_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/proto.h"
#include "server.h"

/* The largest error reply: header, status and a PROTO_MESSAGE_MAX text. */
#define REPLY_ERROR_MAX	(PROTO_HDR_LEN + 16 + PROTO_MESSAGE_MAX)

struct reply {
	struct writer	 w;	/* the body: proto_enc_*(&r->w, ...) */
	struct proto_hdr req;	/* the request answered */
	int		 open;	/* holds the thread's scratch frame */
};

/*
 * Starts an OK reply to req in r (with PROTO_F_MORE when more is set) and
 * returns r's writer for the proto_enc_* of the reply's body.
 */
struct writer *reply_begin(struct reply *r, const struct proto_hdr *req,
	    int more);
/*
 * Frames r and queues it on c, then gives the frame back. secret: the
 * reply holds a token, so every copy is wiped once written. A reply too
 * large for a frame is answered with EINTERNAL instead and returns -1, as
 * does a connection that is gone.
 */
int	reply_send(struct reply *r, struct conn *c, int secret);
/*
 * Frames r and gives the frame back without sending it: returns the
 * frame's bytes (*len of them), which stay valid only until this thread
 * begins its next reply, so copy them at once; NULL when the reply does
 * not fit a frame. Not for replies holding a token.
 */
const uint8_t *reply_end(struct reply *r, size_t *len);

/* Sends a whole error reply to req: status and a formatted message. */
void	reply_error(struct conn *, const struct proto_hdr *req,
	    uint32_t status, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
/*
 * Writes the same error reply into buf (size bytes; REPLY_ERROR_MAX always
 * suffice) without a connection, for peers refused before they got one
 * and for replies sent later; returns its length, 0 if it does not fit.
 */
size_t	reply_error_frame(uint8_t *buf, size_t size,
	    const struct proto_hdr *req, uint32_t status, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

#endif
