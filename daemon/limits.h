/*
 * limits.h - the usage controls that live in memory only, shared by the
 * verify threads (the functions are safe from any of them): per-key rate
 * windows and the throttling of sources that keep failing. A restart
 * resets both (documented). Also the credit arithmetic,
 * which is pure so that refill timing is tested with any clock.
 *
 * Both tables are bounded and shared fairly between owners (ttable.h): an
 * owner that fills one can only displace or be refused its own entries.
 * Nothing here logs; the return values tell the caller what to log.
 */
#ifndef APIKEY_LIMITS_H
#define APIKEY_LIMITS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../proto/proto.h"
#include "store.h"

#define LIMITS_EFULL	-1	/* the table refused this owner a new entry */

#define LIMITS_RATE_ENTRIES	(256 * 1024)
#define LIMITS_FAIL_ENTRIES	(64 * 1024)

/* "u:4294967295", "t:" and a tenant name, and the NUL. */
#define LIMITS_OWNER_MAX	(PROTO_TENANT_MAX + 3)

struct limits_conf {
	uint32_t	fail_max;	/* failures per window; 0: no throttle */
	uint64_t	fail_window_ms;
	uint64_t	fail_backoff_ms;
	size_t		rate_entries;	/* 0: LIMITS_RATE_ENTRIES */
	size_t		fail_entries;	/* 0: LIMITS_FAIL_ENTRIES */
};

struct limits;

/* Returns 0, or -1 when out of memory. Caller frees with limits_free(). */
int	limits_new(const struct limits_conf *, struct limits **out);
void	limits_free(struct limits *);

/*
 * The name of a key's owner as limits_rate_take() wants it: "u:<uid>" or
 * "t:<tenant>". Returns buf.
 */
const char *limits_owner(const struct proto_owner *,
	    char buf[LIMITS_OWNER_MAX]);

/*
 * Takes one slot of key_id's fixed window (max per window_ms, the window
 * starting at its first verify). owner is the key's, from limits_owner().
 * Returns 0; PROTO_RATE_LIMITED with the milliseconds until the window
 * ends in *retry_ms; or LIMITS_EFULL, with window_ms in *retry_ms, when
 * the table is full and owner already holds the most windows (or memory
 * ran out): the verify is refused, never let through unlimited.
 */
int	limits_rate_take(struct limits *, const char *key_id,
	    const char *owner, uint32_t max, uint32_t window_ms,
	    uint64_t now_ms, uint64_t *retry_ms);

/*
 * Fleet mode: n changes by uid through the fleet database, at most max a
 * minute (a window starting at the first). Every host applies each one,
 * so one host's user could otherwise keep the whole fleet busy. The window
 * is a rate window of the uid's own ("u:<uid>"). Returns as
 * limits_rate_take(); nothing is counted when refused.
 */
#define LIMITS_WRITES_WINDOW_MS	(60 * 1000)
int	limits_writes_take(struct limits *, uid_t uid, uint32_t n,
	    uint32_t max, uint64_t now_ms, uint64_t *retry_ms);

/*
 * Failure throttling. A source is the pair of the peer uid and the remote
 * host the request names (empty when it names none), so a service failing
 * for one remote host never throttles itself for others. Root is counted
 * like any uid. limits_throttled() returns 1 with *retry_ms while the
 * source backs off, else 0.
 *
 * limits_failed() counts a failure and returns 1 exactly when it started a
 * backoff (for the caller to log), else 0. The sources of one uid share
 * its part of the table: a uid naming endless remote hosts displaces only
 * its own. When the table refuses a source, its failure is not counted.
 */
int	limits_throttled(struct limits *, uid_t uid, const char *rhost,
	    uint64_t now_ms, uint64_t *retry_ms);
int	limits_failed(struct limits *, uid_t uid, const char *rhost,
	    uint64_t now_ms);
/*
 * Both at once, as one step for the verify threads (two would let each
 * thread count a failure past the limit): LIMITS_THROTTLED with
 * *retry_ms while the source backs off (the failure is not counted),
 * else what limits_failed() returns.
 */
#define LIMITS_THROTTLED	2
int	limits_failure(struct limits *, uid_t uid, const char *rhost,
	    uint64_t now_ms, uint64_t *retry_ms);

/*
 * Credits a key has at now (seconds): its stored remaining, or the refill
 * amount once refill_interval has passed since the last refill, in which
 * case *refill_at is set to now (else 0).
 */
uint64_t credits_available(const struct proto_limits *,
	    const struct store_usage *, uint64_t now, uint64_t *refill_at);

#endif
