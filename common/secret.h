/*
 * secret.h - memory that has held a key, a secret or its keyed hash wipes
 * itself, so that no exit path can leave one behind in freed memory.
 *
 * On the heap, a secret buffer comes from secret_alloc() and goes back
 * through secret_free(), which always wipes every byte it handed out before
 * freeing, as OpenSSH's sshbuf_free does; forgetting the free is a leak
 * that LeakSanitizer reports, never a secret left in the allocator.
 *
 * On the stack, a secret local is named by a struct secret_scope declared
 * right after it with the SECRET_SCOPE attribute:
 *
 *	struct token		 tok;
 *	struct secret_scope	 tok_scope SECRET_SCOPE = { &tok, sizeof(tok) };
 *
 * The compiler wipes tok whenever the block is left, by return, goto or
 * break alike (GCC's and clang's cleanup attribute, run in reverse order of
 * declaration). The scope names memory that lives at least as long as the
 * block: a local of the same or an enclosing block, or a field of an
 * object that outlives it.
 *
 * secret_wipe() is the one primitive under both; it is called directly
 * only where a long-lived buffer drops part of its bytes (an I/O buffer
 * consuming a frame) or a context is reused for the next request.
 */
#ifndef APIKEY_SECRET_H
#define APIKEY_SECRET_H

#include <stddef.h>

struct secret_scope {
	void	*p;
	size_t	 n;
};

#define SECRET_SCOPE	__attribute__((cleanup(secret_scope_end), unused))

/* Zeroed; NULL (errno ENOMEM) when memory is short or n is absurd. Caller
 * frees with secret_free(). */
void	*secret_alloc(size_t n);
/* Wipes all the bytes secret_alloc() handed out, then frees; NULL is a
 * no-op. */
void	 secret_free(void *);
/* Zeroes n bytes in a way the compiler may not drop. */
void	 secret_wipe(void *, size_t);
/* The cleanup that SECRET_SCOPE names. */
void	 secret_scope_end(struct secret_scope *);

#endif
