/*
 * ttable.h - a bounded table of timed entries grouped by owner, for the
 * counters that a caller could otherwise use to fill memory: rate windows,
 * failure counts, log-line budgets. Each entry has a short string key, a
 * fixed-size value, a group (its owner: "u:1000", "t:acme") and an expiry
 * time in milliseconds after which it is garbage.
 *
 * Every operation is O(log n) or amortized O(1); nothing walks the table.
 * When the table is full, an insert first drops expired entries; if none
 * are left, the group holding the most entries gives up its entry that
 * expires first, but only to a group holding at least two fewer entries.
 * So one owner can fill the table only for itself: every other owner still
 * gets a slot, and only the owner holding the most entries is refused.
 *
 * Not thread-safe: a table belongs to one thread.
 */
#ifndef APIKEY_TTABLE_H
#define APIKEY_TTABLE_H

#include <stddef.h>
#include <stdint.h>

#define TTABLE_EFULL	-1	/* full, and the group may not evict */
#define TTABLE_ENOMEM	-2

/* At most this many expired entries are dropped by one insert. */
#define TTABLE_RECLAIM_MAX	16

struct ttable;

/* NULL when out of memory. Caller frees with ttable_free(). */
struct ttable *ttable_new(size_t value_size, size_t max_entries);
void	ttable_free(struct ttable *);

/*
 * The value stored under key, or NULL. An entry past its expiry is still
 * found until an insert drops it: the caller decides it is stale.
 */
void	*ttable_find(struct ttable *, const char *key);

/*
 * Finds key or inserts it under group. An inserted entry has a zeroed value
 * and expiry 0, so the caller sets its expiry right away. A found entry
 * that was in another group moves to group. Returns 1 (inserted) or 0
 * (found) and the value in *value, or TTABLE_EFULL or TTABLE_ENOMEM.
 *
 * A value stays at its address until its entry is removed, by
 * ttable_remove() or by a later ttable_get() of another key (which may
 * drop expired entries or evict), or the table is freed.
 */
int	ttable_get(struct ttable *, const char *key, const char *group,
	    uint64_t now_ms, void **value);

/* value is one returned by ttable_find() or ttable_get(). */
void	ttable_set_expiry(struct ttable *, void *value, uint64_t expiry_ms);
void	ttable_remove(struct ttable *, void *value);

size_t	ttable_count(const struct ttable *);
size_t	ttable_group_count(struct ttable *, const char *group);
/* The number of groups holding entries. */
size_t	ttable_groups(const struct ttable *);

/*
 * For tests: the work done so far, counted in key comparisons, heap moves
 * and entries dropped, so that a test can prove an operation did not walk
 * the table without timing it.
 */
uint64_t ttable_ops(const struct ttable *);
/*
 * For tests: checks every invariant of the trees and heaps, walking the
 * whole table. Returns 0, or -1 when one is broken.
 */
int	ttable_check(const struct ttable *);

#endif
