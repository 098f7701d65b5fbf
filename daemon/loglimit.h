/*
 * loglimit.h - a budget of log lines per peer uid, so that a flood of bad
 * frames or failed verifies from one user cannot fill the logs: each uid
 * may have a number of lines logged per window, the rest are counted and
 * the count is reported with its first line of a later window.
 *
 * Memory is bounded by the number of uids tracked. Not thread-safe: a
 * limiter belongs to one thread.
 */
#ifndef APIKEY_LOGLIMIT_H
#define APIKEY_LOGLIMIT_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

struct loglimit;

/*
 * lines per window_ms per uid; max_sources bounds memory (the uids tracked
 * at once). Returns 0, or -1 when out of memory or when any argument is 0.
 * Caller frees with loglimit_free().
 */
int	loglimit_new(uint32_t lines, uint64_t window_ms, size_t max_sources,
	    struct loglimit **out);
void	loglimit_free(struct loglimit *);

/*
 * 1: the caller may log a line about uid now. 0: suppressed and counted.
 * When it returns 1 and lines were suppressed for uid in its previous
 * window, *suppressed is set to their number so that the caller can say
 * "N lines suppressed"; else (and whenever it returns 0) to 0.
 *
 * A count is kept for one window after its own window ends: a uid that
 * logs nothing in that time loses it. A uid that cannot be tracked because
 * max_sources uids are (and none may be dropped yet) is suppressed without
 * being counted.
 */
int	loglimit_allow(struct loglimit *, uid_t uid, uint64_t now_ms,
	    uint64_t *suppressed);

#endif
