/*
 * unitlib.c - see unitlib.h.
 */
#include <sys/stat.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "../daemon/clock.h"
#include "../daemon/store.h"
#include "../proto/token.h"
#include "unitlib.h"

static pthread_mutex_t	 wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 wake_cv;
static int		 woken;

void
unit_wake_init(void)
{
	cr_assert_eq(clock_cond_init(&wake_cv), 0);
	woken = 0;
}

void
unit_wake(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wake_mu);
	woken++;
	pthread_cond_signal(&wake_cv);
	pthread_mutex_unlock(&wake_mu);
}

void
unit_wake_wait(void)
{
	struct timespec	 ts;
	int		 rc = 0;

	clock_deadline(&ts, 10000);
	pthread_mutex_lock(&wake_mu);
	while (woken == 0 && rc == 0)
		rc = pthread_cond_timedwait(&wake_cv, &wake_mu, &ts);
	woken = 0;
	pthread_mutex_unlock(&wake_mu);
	cr_assert_eq(rc, 0, "the ledger did not wake the test within 10 s");
}

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

struct store *
unit_store_open(const char *dir, size_t map_size)
{
	struct store	*s = NULL;
	int		 rv;

	rv = store_open(dir, map_size, &s);
	cr_assert_eq(rv, STORE_OK, "store_open: %s", store_strerror(rv));
	cr_assert_not_null(s);
	return s;
}

void
unit_key_id(uint64_t n, char id[TOKEN_ID_LEN + 1])
{
	uint8_t	raw[TOKEN_ID_BYTES];
	int	i;

	for (i = TOKEN_ID_BYTES - 1; i >= 0; i--) {
		raw[i] = (uint8_t)n;
		n >>= 8;
	}
	token_id_encode(raw, id);
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
