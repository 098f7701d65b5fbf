/*
 * limits.h - the usage controls that live in memory only, on the verify
 * thread: per-key rate windows and the throttling of sources that keep
 * failing. A restart resets both (documented). Also the credit arithmetic,
 * which is pure so that refill timing is tested with any clock.
 */
#ifndef APIKEY_LIMITS_H
#define APIKEY_LIMITS_H

#include <stdint.h>
#include <sys/types.h>

#include "../proto/proto.h"
#include "store.h"

struct limits_conf {
	uint32_t	fail_max;	/* failures per window; 0: no throttle */
	uint64_t	fail_window_ms;
	uint64_t	fail_backoff_ms;
};

struct limits;

/* Caller frees with limits_free(). */
int	limits_new(const struct limits_conf *, struct limits **out);
void	limits_free(struct limits *);

/*
 * Takes one slot of key_id's fixed window (max per window_ms, the window
 * starting at its first verify). Returns 0, or PROTO_RATE_LIMITED with the
 * milliseconds until the window ends in *retry_ms.
 */
int	limits_rate_take(struct limits *, const char *key_id, uint32_t max,
	    uint32_t window_ms, uint64_t now_ms, uint64_t *retry_ms);

/*
 * Failure throttling. A source is the peer uid, and the remote host when
 * the request names one; the uid of root is counted only for requests
 * without a remote host, because root services (sshd) verify for many
 * remote hosts. limits_throttled() returns 1 with *retry_ms while any
 * source of the request is backing off.
 */
int	limits_throttled(struct limits *, uid_t uid, const char *rhost,
	    uint64_t now_ms, uint64_t *retry_ms);
void	limits_failed(struct limits *, uid_t uid, const char *rhost,
	    uint64_t now_ms);

/*
 * Credits a key has at now (seconds): its stored remaining, or the refill
 * amount once refill_interval has passed since the last refill, in which
 * case *refill_at is set to now (else 0).
 */
uint64_t credits_available(const struct proto_limits *,
	    const struct store_usage *, uint64_t now, uint64_t *refill_at);

#endif
