/*
 * codec_all.h - every message decoder of proto.h, run over one body.
 *
 * For each decoder that accepts the bytes, the matching encoder must give
 * back exactly the bytes the decoder consumed: the wire format has one
 * encoding per message, so a decoder that accepts what its encoder would
 * write differently (or not at all) is a bug, and codec_all aborts,
 * naming the message, for the fuzzer to report. After a reply head that
 * decodes, the rest of the body goes through every decoder too, as a
 * client reads a reply.
 */
#ifndef APIKEY_FUZZ_CODEC_ALL_H
#define APIKEY_FUZZ_CODEC_ALL_H

#include <stddef.h>
#include <stdint.h>

void	codec_all(const uint8_t *body, size_t len);

#endif
