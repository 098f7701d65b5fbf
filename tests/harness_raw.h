/*
 * harness_raw.h - the wire protocol by hand, for tests that must send
 * what libapikey never would (a malformed token, a trailing byte, a
 * half-closed connection). The it_* tests link libapikey only, whose
 * protocol code is hidden, so frames are built here from proto/proto.h's
 * specification. Functions assert instead of returning errors.
 */
#ifndef APIKEY_TEST_HARNESS_RAW_H
#define APIKEY_TEST_HARNESS_RAW_H

#include <stddef.h>
#include <stdint.h>

/* Room for any frame itr_verify_frame() builds. */
#define ITR_VERIFY_FRAME_MAX	512

/* Connects to the socket at path; returns the descriptor. */
int	itr_connect(const char *path);
/*
 * A VERIFY request for token with request id and cost, into f (at least
 * ITR_VERIFY_FRAME_MAX bytes), as libapikey would build it but without
 * its check of the token; with trailing, one byte too many. Returns its
 * length.
 */
size_t	itr_verify_frame(uint8_t *f, uint32_t id, const char *token,
	    uint32_t cost, int trailing);
/* Writes all of buf. */
void	itr_write(int fd, const void *buf, size_t len);
/*
 * Reads the next frame into a buffer it allocates (*frame, freed by the
 * caller) within IT_DEADLINE_MS; returns its length, or 0 at end of file.
 */
size_t	itr_read_frame(int fd, uint8_t **frame);
/* Of a VERIFY reply frame: its request id, and its verify code, or
 * 0x100 + status for an error reply. */
uint32_t itr_reply_id(const uint8_t *frame);
uint32_t itr_verify_code(const uint8_t *frame, size_t len);

#endif
