/*
 * limits.c - rate windows and failure throttling, kept in two ttables
 * that the verify threads share under one mutex (held for a table lookup,
 * never across a system call), so every verify costs O(log n) here
 * however full they are, and a key's rate is one count whichever thread
 * serves its verifies. A rate window is the entry of a key in the group
 * of its owner; a failure count is the entry of a (uid, remote host) pair
 * in the group of its uid. The tables drop an entry once its window (or
 * backoff) is over, and a full table takes room only from the owner
 * holding the most: so a full rate table refuses that owner's new keys
 * rather than letting them through unlimited (only a window that owner
 * gave up restarts when its key next gets one), and a full failure table
 * stops counting that uid's new sources (throttling is a defence, not a
 * guarantee). Nothing is logged here: callers log what the return values
 * say, through their own rate-limited logger.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "ttable.h"

/* "<uid>|<remote host>": the uid has no '|', so the split is unique. */
#define SOURCE_MAX	(10 + 1 + PROTO_RHOST_MAX + 1)
#define UID_GROUP_MAX	16

struct window {
	uint64_t	start_ms;
	uint64_t	len_ms;
	uint32_t	count;
};

struct failures {
	uint64_t	start_ms;
	uint64_t	blocked_until_ms;
	uint32_t	count;
};

struct limits {
	struct limits_conf conf;
	pthread_mutex_t	 mu;		/* over both tables */
	struct ttable	*rate;
	struct ttable	*fail;
};

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int
limits_new(const struct limits_conf *conf, struct limits **out)
{
	struct limits	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	l->conf = *conf;
	pthread_mutex_init(&l->mu, NULL);
	if (l->conf.rate_entries == 0)
		l->conf.rate_entries = LIMITS_RATE_ENTRIES;
	if (l->conf.fail_entries == 0)
		l->conf.fail_entries = LIMITS_FAIL_ENTRIES;
	l->rate = ttable_new(sizeof(struct window), l->conf.rate_entries);
	l->fail = ttable_new(sizeof(struct failures), l->conf.fail_entries);
	if (l->rate == NULL || l->fail == NULL) {
		limits_free(l);
		return -1;
	}
	*out = l;
	return 0;
}

void
limits_free(struct limits *l)
{
	if (l == NULL)
		return;
	ttable_free(l->rate);
	ttable_free(l->fail);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

const char *
limits_owner(const struct proto_owner *o, char buf[LIMITS_OWNER_MAX])
{
	if (o->kind == PROTO_OWNER_TENANT)
		snprintf(buf, LIMITS_OWNER_MAX, "t:%s", o->tenant);
	else
		snprintf(buf, LIMITS_OWNER_MAX, "u:%u", (unsigned)o->uid);
	return buf;
}

static int
rate_take(struct limits *l, const char *key_id, const char *owner,
    uint32_t n, uint32_t max, uint32_t window_ms, uint64_t now_ms,
    uint64_t *retry_ms)
{
	struct window	*w;
	void		*v;
	int		 rc;

	if ((rc = ttable_get(l->rate, key_id, owner, now_ms, &v)) < 0) {
		*retry_ms = window_ms;
		return LIMITS_EFULL;
	}
	w = v;
	/* now before the start: the caller's clock went back (the daemon's
	 * is monotonic; the arithmetic is kept safe for any caller). */
	if (rc == 1 || now_ms >= add_sat(w->start_ms, w->len_ms) ||
	    now_ms < w->start_ms || w->len_ms != window_ms) {
		w->start_ms = now_ms;
		w->len_ms = window_ms;
		w->count = 0;
		ttable_set_expiry(l->rate, w, add_sat(now_ms, window_ms));
	}
	if (w->count >= max || max - w->count < n) {
		*retry_ms = add_sat(w->start_ms, w->len_ms) - now_ms;
		return PROTO_RATE_LIMITED;
	}
	w->count += n;
	return 0;
}

/* Returns 0, or -1 for a remote host longer than the protocol allows. */
static int
source_key(uid_t uid, const char *rhost, char key[SOURCE_MAX])
{
	int	 n;

	n = snprintf(key, SOURCE_MAX, "%u|%s", (unsigned)uid, rhost);
	return n >= 0 && n < SOURCE_MAX ? 0 : -1;
}

/* The entry is garbage once both its window and its backoff are over. */
static void
failures_expire(struct limits *l, struct failures *f)
{
	uint64_t	 end = add_sat(f->start_ms, l->conf.fail_window_ms);

	ttable_set_expiry(l->fail, f, end > f->blocked_until_ms ? end :
	    f->blocked_until_ms);
}

int
limits_rate_take(struct limits *l, const char *key_id, const char *owner,
    uint32_t max, uint32_t window_ms, uint64_t now_ms, uint64_t *retry_ms)
{
	int	 rc;

	pthread_mutex_lock(&l->mu);
	rc = rate_take(l, key_id, owner, 1, max, window_ms, now_ms, retry_ms);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int
limits_writes_take(struct limits *l, uid_t uid, uint32_t n, uint32_t max,
    uint64_t now_ms, uint64_t *retry_ms)
{
	char	 key[LIMITS_OWNER_MAX + 2], owner[LIMITS_OWNER_MAX];
	int	 rc;

	/* "w:" keys cannot meet a key id (base62) in the shared table. */
	snprintf(owner, sizeof(owner), "u:%u", (unsigned)uid);
	snprintf(key, sizeof(key), "w:%u", (unsigned)uid);
	pthread_mutex_lock(&l->mu);
	rc = rate_take(l, key, owner, n, max, LIMITS_WRITES_WINDOW_MS, now_ms,
	    retry_ms);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

static int
throttled(struct limits *l, uid_t uid, const char *rhost, uint64_t now_ms,
    uint64_t *retry_ms)
{
	char		 key[SOURCE_MAX];
	struct failures	*f;

	if (l->conf.fail_max == 0 || source_key(uid, rhost, key) != 0)
		return 0;
	if ((f = ttable_find(l->fail, key)) == NULL ||
	    f->blocked_until_ms <= now_ms)
		return 0;
	/* Never longer than configured, even for a clock that went back. */
	if (f->blocked_until_ms - now_ms > l->conf.fail_backoff_ms) {
		f->blocked_until_ms = now_ms + l->conf.fail_backoff_ms;
		f->start_ms = f->blocked_until_ms;
		failures_expire(l, f);
	}
	*retry_ms = f->blocked_until_ms - now_ms;
	return 1;
}

int
limits_throttled(struct limits *l, uid_t uid, const char *rhost,
    uint64_t now_ms, uint64_t *retry_ms)
{
	int	 rc;

	pthread_mutex_lock(&l->mu);
	rc = throttled(l, uid, rhost, now_ms, retry_ms);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

static int
failed(struct limits *l, uid_t uid, const char *rhost, uint64_t now_ms)
{
	char		 key[SOURCE_MAX], group[UID_GROUP_MAX];
	struct failures	*f;
	void		*v;
	int		 rc, started = 0;

	if (l->conf.fail_max == 0 || source_key(uid, rhost, key) != 0)
		return 0;
	snprintf(group, sizeof(group), "u:%u", (unsigned)uid);
	if ((rc = ttable_get(l->fail, key, group, now_ms, &v)) < 0)
		return 0;
	f = v;
	/*
	 * A window starts in the future only while backing off (it starts
	 * when the backoff ends); otherwise the caller's clock went back.
	 */
	if (rc == 1 ||
	    now_ms >= add_sat(f->start_ms, l->conf.fail_window_ms) ||
	    (now_ms < f->start_ms && now_ms >= f->blocked_until_ms)) {
		f->start_ms = now_ms;
		f->count = 0;
	}
	if (++f->count >= l->conf.fail_max) {
		f->blocked_until_ms = add_sat(now_ms, l->conf.fail_backoff_ms);
		f->start_ms = f->blocked_until_ms;
		f->count = 0;
		started = 1;
	}
	failures_expire(l, f);
	return started;
}

int
limits_failed(struct limits *l, uid_t uid, const char *rhost,
    uint64_t now_ms)
{
	int	 rc;

	pthread_mutex_lock(&l->mu);
	rc = failed(l, uid, rhost, now_ms);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int
limits_failure(struct limits *l, uid_t uid, const char *rhost,
    uint64_t now_ms, uint64_t *retry_ms)
{
	int	 rc;

	pthread_mutex_lock(&l->mu);
	if (throttled(l, uid, rhost, now_ms, retry_ms))
		rc = LIMITS_THROTTLED;
	else
		rc = failed(l, uid, rhost, now_ms);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

uint64_t
credits_available(const struct proto_limits *lim,
    const struct store_usage *u, uint64_t now, uint64_t *refill_at)
{
	*refill_at = 0;
	if (lim->refill_amount > 0 && lim->refill_interval > 0 &&
	    now >= u->last_refill_at + lim->refill_interval) {
		*refill_at = now;
		return lim->refill_amount;
	}
	return u->remaining;
}
