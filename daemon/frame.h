/*
 * frame.h - one whole request frame to its answer, the same on both
 * sockets: PING is answered here, a reply opcode and a frame that does not
 * decode get EBADREQ (echoing what header there is, as proto.h promises),
 * and every other frame goes to the socket's handler. No libevent: the
 * server's read loop (server.c) and the fuzz target (tests/fuzz/) call the
 * same code, through the conn_* functions of server.h.
 */
#ifndef APIKEY_FRAME_H
#define APIKEY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

/*
 * Answers the frame of flen bytes at f, which proto_frame_peek found
 * whole, from peer p; fn(arg, ...) answers what is the socket's. Returns
 * 0; FRAME_BAD when it did not decode (answered; the framing is lost, so
 * the connection must close); or -1 when the connection must close for
 * another reason (a reply opcode, a bad PING, a handler's -1).
 */
#define FRAME_BAD	(-2)
int	frame_dispatch(struct conn *c, const struct peer *p, const uint8_t *f,
	    size_t flen, server_handler fn, void *arg);
/* Answers an undecodable frame (avail bytes at p; rc its proto_* error)
 * with EBADREQ, echoing its opcode and id when the header is there. */
void	frame_refuse(struct conn *c, const uint8_t *p, size_t avail, int rc);

#endif
