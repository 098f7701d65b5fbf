/*
 * reply_check.h - what a client may rely on in every reply frame the
 * daemon sends (proto.h), checked as libapikey would read it: within the
 * socket's reply bound, of this protocol version, a reply opcode for the
 * request's opcode and id, a reply head, and, when the status is OK,
 * exactly the body of that reply (PROTO_F_MORE only in listings). A frame
 * that carries a new token must have been queued with conn_send_secret,
 * and the token must parse and name the key it came with.
 *
 * reply_check aborts with a message on any violation, so a fuzz target
 * reports it as a crash.
 */
#ifndef APIKEY_FUZZ_REPLY_CHECK_H
#define APIKEY_FUZZ_REPLY_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "../../proto/proto.h"

/*
 * frame: one whole frame of len bytes. max: the socket's reply bound.
 * req: the request answered, or NULL when that is not known (a reply held
 * for the ledger goes out after later requests). secret: it was queued
 * with conn_send_secret.
 */
void	reply_check(const uint8_t *frame, size_t len, size_t max,
	    const struct proto_hdr *req, int secret);

#endif
