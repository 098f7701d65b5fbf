/*
 * secret.c - the allocator and the wipe behind secret.h. Secret buffers are
 * few and small (a token, a frame that carries one, an I/O buffer per
 * connection), so each carries its own size in a header in front of it,
 * and secret_free() needs no size from its caller: a size that a caller
 * passes can be wrong, and then bytes survive.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"

/* Keeps the buffer after it aligned for any object, as malloc's is. */
union secret_hdr {
	size_t		n;
	max_align_t	align;
};

void *
secret_alloc(size_t n)
{
	union secret_hdr *h;

	if (n > SIZE_MAX - sizeof(*h)) {
		errno = ENOMEM;
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h) + n)) == NULL)
		return NULL;
	h->n = n;
	return h + 1;
}

void
secret_free(void *p)
{
	union secret_hdr *h;

	if (p == NULL)
		return;
	h = (union secret_hdr *)p - 1;
	explicit_bzero(p, h->n);
	explicit_bzero(h, sizeof(*h));
	free(h);
}

void
secret_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void
secret_scope_end(struct secret_scope *s)
{
	secret_wipe(s->p, s->n);
}
