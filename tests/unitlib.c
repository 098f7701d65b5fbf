/*
 * unitlib.c - see unitlib.h.
 */
#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../daemon/store.h"
#include "unitlib.h"

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
unit_rmtree(const char *dir)
{
	(void)nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

void
unit_usage_put(struct store *st, const char *kid, uint64_t remaining,
    uint64_t last_refill_at, uint32_t gen)
{
	struct store_usage u;
	struct store_txn *txn;

	memset(&u, 0, sizeof(u));
	u.remaining = remaining;
	u.last_refill_at = last_refill_at;
	u.gen = gen;
	cr_assert_eq(store_write_begin(st, &txn), 0);
	cr_assert_eq(store_usage_put(txn, kid, &u), 0);
	cr_assert_eq(store_commit(txn), 0);
}
