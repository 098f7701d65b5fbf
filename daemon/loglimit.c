/*
 * loglimit.c - see loglimit.h. Called on an event thread before each log
 * line about a peer, so it must stay cheap under the very flood it damps:
 * one ttable lookup, nearly always of an entry that is already there.
 *
 * Each uid is one entry in its own ttable group. The table takes an entry
 * from a group only for a group holding two fewer, so uids never push each
 * other out: with max_sources uids tracked, a new uid is suppressed until
 * some entry expires. An entry lives while its window lasts, and one more
 * window when it holds a count still to report.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "loglimit.h"
#include "ttable.h"

struct source {
	uint64_t	start_ms;	/* of the current window */
	uint64_t	suppressed;	/* in the current window */
	uint32_t	lines;		/* logged in the current window */
};

struct loglimit {
	struct ttable	*sources;
	uint32_t	 lines;
	uint64_t	 window_ms;
};

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int
loglimit_new(uint32_t lines, uint64_t window_ms, size_t max_sources,
    struct loglimit **out)
{
	struct loglimit	*ll;

	if (lines == 0 || window_ms == 0 || max_sources == 0)
		return -1;
	if ((ll = calloc(1, sizeof(*ll))) == NULL)
		return -1;
	if ((ll->sources = ttable_new(sizeof(struct source),
	    max_sources)) == NULL) {
		free(ll);
		return -1;
	}
	ll->lines = lines;
	ll->window_ms = window_ms;
	*out = ll;
	return 0;
}

void
loglimit_free(struct loglimit *ll)
{
	if (ll == NULL)
		return;
	ttable_free(ll->sources);
	free(ll);
}

int
loglimit_allow(struct loglimit *ll, uid_t uid, uint64_t now_ms,
    uint64_t *suppressed)
{
	char		 name[16];
	struct source	*s;
	void		*v;
	uint64_t	 carry = 0, keep;
	int		 rc, allowed;

	*suppressed = 0;
	snprintf(name, sizeof(name), "u:%u", (unsigned)uid);
	if ((rc = ttable_get(ll->sources, name, name, now_ms, &v)) < 0)
		return 0;
	s = v;
	/* now before the start: the caller's clock went back (the daemon's
	 * is monotonic; the arithmetic is kept safe for any caller). */
	if (rc == 1 || now_ms >= add_sat(s->start_ms, ll->window_ms) ||
	    now_ms < s->start_ms) {
		carry = s->suppressed;
		s->start_ms = now_ms;
		s->lines = 0;
		s->suppressed = 0;
	}
	if (s->lines < ll->lines) {
		s->lines++;
		*suppressed = carry;
		allowed = 1;
	} else {
		s->suppressed++;
		allowed = 0;
	}
	keep = add_sat(s->start_ms, ll->window_ms);
	if (s->suppressed > 0)
		keep = add_sat(keep, ll->window_ms);
	ttable_set_expiry(ll->sources, s, keep);
	return allowed;
}
