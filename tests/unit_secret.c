/*
 * unit_secret.c - memory that held a secret wipes itself (common/secret.c):
 * a SECRET_SCOPE wipes what it names on each way out of its block (return
 * from inside a loop, goto, break, falling off the end), and secret_free
 * wipes every byte secret_alloc handed out. The scopes here name heap
 * memory that outlives the block, so the test can look at it afterwards
 * without reading a dead stack frame.
 */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../common/secret.h"

#define LEN	77

static int
all_zero(const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Leaves its block by the path named: 0 return, 1 return from a loop,
 * 2 goto, 3 break, 4 the end of a nested block. */
static int
leave(uint8_t *buf, int path)
{
	int	i;

	if (path == 2)
		goto skip;
	{
		struct secret_scope s SECRET_SCOPE = { buf, LEN };

		memset(buf, 0xA5, LEN);
		if (path == 0)
			return 0;
		for (i = 0; i < 3; i++) {
			if (path == 1 && i == 1)
				return 1;
			if (path == 3)
				break;
		}
	}
	/* path 3 and 4 come here once the block's scope has ended. */
	return all_zero(buf, LEN) ? path : -1;
 skip:
	{
		struct secret_scope s SECRET_SCOPE = { buf, LEN };

		memset(buf, 0x5A, LEN);
		goto out;
	}
 out:
	return all_zero(buf, LEN) ? path : -1;
}

Test(secret_scope, every_way_out_wipes)
{
	uint8_t	*buf = malloc(LEN);
	int	 path;

	cr_assert_not_null(buf);
	for (path = 0; path <= 4; path++) {
		memset(buf, 0xFF, LEN);
		cr_expect_eq(leave(buf, path), path, "path %d: wiped too late",
		    path);
		cr_expect(all_zero(buf, LEN), "path %d left the secret", path);
	}
	free(buf);
}

Test(secret_scope, names_a_struct_field)
{
	struct {
		char	token[LEN];
		int	other;
	} *ctx = calloc(1, sizeof(*ctx));

	cr_assert_not_null(ctx);
	ctx->other = 7;
	{
		struct secret_scope s SECRET_SCOPE =
		    { ctx->token, sizeof(ctx->token) };

		strcpy(ctx->token, "ak_AAAAAAAAAAB_secret");
	}
	cr_expect(all_zero((const uint8_t *)ctx->token, sizeof(ctx->token)));
	cr_expect_eq(ctx->other, 7, "the scope wiped past what it names");
	free(ctx);
}

Test(secret_wipe, exactly_the_bytes_named)
{
	uint8_t	buf[40];

	memset(buf, 0xcc, sizeof(buf));
	secret_wipe(buf + 1, 38);
	cr_expect_eq(buf[0], 0xcc);
	cr_expect(all_zero(buf + 1, 38));
	cr_expect_eq(buf[39], 0xcc);
	secret_wipe(NULL, 0);
}

Test(secret_alloc, zeroed_aligned_and_sized)
{
	size_t	 sizes[] = { 0, 1, LEN, 4096, 65536 };
	uint8_t	*p;
	size_t	 i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p = secret_alloc(sizes[i]);
		cr_assert_not_null(p, "secret_alloc(%zu)", sizes[i]);
		cr_expect_eq((uintptr_t)p % alignof(max_align_t), 0,
		    "secret_alloc(%zu) is not aligned for every type",
		    sizes[i]);
		cr_expect(all_zero(p, sizes[i]));
		memset(p, 0xA5, sizes[i]);	/* ASan: all of it is ours */
		secret_free(p);
	}
	secret_free(NULL);
}

Test(secret_alloc, absurd_size_is_enomem)
{
	errno = 0;
	cr_expect_null(secret_alloc(SIZE_MAX));
	cr_expect_eq(errno, ENOMEM);
	cr_expect_null(secret_alloc(SIZE_MAX - 8));
}

/*
 * Reads what secret_free left behind through the allocator's next hand-out
 * of the same block: glibc's per-thread cache returns the last block freed
 * of a size first, without clearing it. Under ASan the quarantine never
 * returns it, and then there is nothing to look at: the test says so.
 */
Test(secret_free, wipes_every_byte)
{
	const size_t	 hdr = sizeof(max_align_t) > sizeof(size_t) ?
			    sizeof(max_align_t) : sizeof(size_t);
	uint8_t		*p, *again;
	size_t		 i, left = 0;

	p = secret_alloc(LEN);
	cr_assert_not_null(p);
	memset(p, 0xA5, LEN);
	secret_free(p);
	again = malloc(hdr + LEN);
	cr_assert_not_null(again);
	if (again != p - hdr) {
		free(again);
		cr_skip_test("the allocator did not hand the block back");
	}
	/* The allocator's own links may reuse the block's first 16 bytes. */
	for (i = 16; i < hdr + LEN; i++)
		if (again[i] == 0xA5)
			left++;
	free(again);
	cr_expect_eq(left, 0, "%zu bytes of the secret were left", left);
}
