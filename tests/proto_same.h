/*
 * proto_same.h - field-by-field equality of the protocol's structs, for
 * unit_proto.c and the record fuzzer. The decoders write each string up
 * to its NUL and each list up to its n and leave the bytes after as they
 * were, so two decodes of one input are equal field by field, not byte
 * by byte. Header-only: each test program takes what it uses.
 */
#ifndef APIKEY_TEST_PROTO_SAME_H
#define APIKEY_TEST_PROTO_SAME_H

#include <stdint.h>
#include <string.h>

#include "../proto/proto.h"

/* The first n rows of two lists of strings, stride bytes apart. */
static inline int
same_rows(const char *a, const char *b, size_t stride, uint32_t n)
{
	uint32_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(a + (size_t)i * stride, b + (size_t)i * stride) != 0)
			return 0;
	return 1;
}

/* Two lists (a struct with n and v[][]), up to their n. */
#define SAME_LIST(a, b) ((a).n == (b).n && \
	same_rows((a).v[0], (b).v[0], sizeof((a).v[0]), (a).n))

static inline int
same_owner(const struct proto_owner *a, const struct proto_owner *b)
{
	return a->kind == b->kind && a->uid == b->uid &&
	    strcmp(a->user, b->user) == 0 &&
	    strcmp(a->tenant, b->tenant) == 0 &&
	    strcmp(a->group, b->group) == 0 && a->gid == b->gid;
}

#endif
