/*
 * limits.c - rate windows and failure throttling, kept in two tables that
 * only the verify thread touches. Both are bounded: a full table is pruned
 * of entries whose windows have passed; a rate table still full after that
 * refuses the verify (a limit is never silently lifted), a throttle table
 * still full stops counting (throttling is a defence, not a guarantee).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "log.h"
#include "table.h"

#define RATE_ENTRIES	(256 * 1024)
#define FAIL_ENTRIES	(64 * 1024)
#define SOURCE_MAX	(PROTO_RHOST_MAX + 3)

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
	struct table	*rate;
	struct table	*fail;
	int		 fail_full_logged;
};

int
limits_new(const struct limits_conf *conf, struct limits **out)
{
	struct limits	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	l->conf = *conf;
	l->rate = table_new(sizeof(struct window), RATE_ENTRIES);
	l->fail = table_new(sizeof(struct failures), FAIL_ENTRIES);
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
	table_free(l->rate);
	table_free(l->fail);
	free(l);
}

static int
window_over(const char *key, void *v, void *arg)
{
	const struct window *w = v;
	uint64_t	 now = *(uint64_t *)arg;

	(void)key;
	return now >= w->start_ms + w->len_ms;
}

int
limits_rate_take(struct limits *l, const char *key_id, uint32_t max,
    uint32_t window_ms, uint64_t now_ms, uint64_t *retry_ms)
{
	struct window	*w;

	if ((w = table_get(l->rate, key_id, 1)) == NULL) {
		table_prune(l->rate, window_over, &now_ms);
		w = table_get(l->rate, key_id, 1);
	}
	if (w == NULL) {
		log_warnx("rate limit table full; refusing key %s", key_id);
		*retry_ms = window_ms;
		return PROTO_RATE_LIMITED;
	}
	/* now before the start: the wall clock was set back. */
	if (w->len_ms == 0 || now_ms >= w->start_ms + w->len_ms ||
	    now_ms < w->start_ms || w->len_ms != window_ms) {
		w->start_ms = now_ms;
		w->len_ms = window_ms;
		w->count = 0;
	}
	if (w->count >= max) {
		*retry_ms = w->start_ms + w->len_ms - now_ms;
		return PROTO_RATE_LIMITED;
	}
	w->count++;
	return 0;
}

/* The sources of a request: up to two table keys. */
static int
sources(uid_t uid, const char *rhost, char keys[2][SOURCE_MAX + 16])
{
	int	 n = 0;

	if (uid != 0 || rhost[0] == '\0')
		snprintf(keys[n++], sizeof(keys[0]), "u:%u", (unsigned)uid);
	if (rhost[0] != '\0')
		snprintf(keys[n++], sizeof(keys[0]), "h:%s", rhost);
	return n;
}

int
limits_throttled(struct limits *l, uid_t uid, const char *rhost,
    uint64_t now_ms, uint64_t *retry_ms)
{
	char		 keys[2][SOURCE_MAX + 16];
	struct failures	*f;
	int		 i, n;

	if (l->conf.fail_max == 0)
		return 0;
	n = sources(uid, rhost, keys);
	for (i = 0; i < n; i++) {
		f = table_get(l->fail, keys[i], 0);
		if (f != NULL && f->blocked_until_ms > now_ms) {
			/* Never longer than configured, even when the wall
			 * clock was set back. */
			if (f->blocked_until_ms - now_ms >
			    l->conf.fail_backoff_ms) {
				f->blocked_until_ms = now_ms +
				    l->conf.fail_backoff_ms;
				f->start_ms = f->blocked_until_ms;
			}
			*retry_ms = f->blocked_until_ms - now_ms;
			return 1;
		}
	}
	return 0;
}

static int
failures_over(const char *key, void *v, void *arg)
{
	const struct failures *f = v;
	const struct limits *l = ((void **)arg)[0];
	uint64_t	 now = *(uint64_t *)((void **)arg)[1];

	(void)key;
	return now >= f->blocked_until_ms &&
	    now >= f->start_ms + l->conf.fail_window_ms;
}

void
limits_failed(struct limits *l, uid_t uid, const char *rhost,
    uint64_t now_ms)
{
	char		 keys[2][SOURCE_MAX + 16];
	struct failures	*f;
	void		*arg[2] = { l, &now_ms };
	int		 i, n;

	if (l->conf.fail_max == 0)
		return;
	n = sources(uid, rhost, keys);
	for (i = 0; i < n; i++) {
		if ((f = table_get(l->fail, keys[i], 1)) == NULL) {
			table_prune(l->fail, failures_over, arg);
			f = table_get(l->fail, keys[i], 1);
		}
		if (f == NULL) {
			if (!l->fail_full_logged)
				log_warnx("failure table full: not counting "
				    "failures until entries expire");
			l->fail_full_logged = 1;
			continue;
		}
		/*
		 * A window starts in the future only while backing off (it
		 * starts when the backoff ends); otherwise the wall clock
		 * was set back.
		 */
		if (now_ms >= f->start_ms + l->conf.fail_window_ms ||
		    (now_ms < f->start_ms && now_ms >= f->blocked_until_ms)) {
			f->start_ms = now_ms;
			f->count = 0;
		}
		if (++f->count >= l->conf.fail_max) {
			f->blocked_until_ms = now_ms + l->conf.fail_backoff_ms;
			f->start_ms = f->blocked_until_ms;
			f->count = 0;
			log_warnx("throttling %s source %s for %llu ms after "
			    "%u failed verifies", keys[i][0] == 'u' ? "uid" :
			    "remote host", keys[i] + 2,
			    (unsigned long long)l->conf.fail_backoff_ms,
			    l->conf.fail_max);
		}
	}
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
