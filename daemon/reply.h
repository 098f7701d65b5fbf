/*
 * reply.h - building reply frames. One per-thread scratch frame of
 * PROTO_ADMIN_MAX bytes holds the reply being built, so handlers never put
 * large frames on the stack. A reply is built and sent before the next one
 * begins on the same thread.
 */
#ifndef APIKEY_REPLY_H
#define APIKEY_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/proto.h"
#include "server.h"

/* Starts an OK reply to req (with PROTO_F_MORE when more is set); returns
 * the writer for the proto_enc_* of the reply's body. */
struct writer *reply_begin(const struct proto_hdr *req, int more);
/* Frames and queues the reply begun last. secret: it holds a token. */
int	reply_send(struct conn *, int secret);
/* Frames the reply begun last and returns a copy to send later; caller
 * frees it. NULL when out of memory or the reply does not fit. */
uint8_t	*reply_copy(size_t *len);
/* Sends a whole error reply: status and a formatted message. */
void	reply_error(struct conn *, const struct proto_hdr *req,
	    uint32_t status, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

/* Writes the same error reply into buf (size bytes) without a connection,
 * for peers refused before they got one; returns its length, 0 if it does
 * not fit. */
size_t	reply_error_frame(uint8_t *buf, size_t size,
	    const struct proto_hdr *req, uint32_t status, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

#endif
