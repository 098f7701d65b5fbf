/*
 * table.h - a bounded map from key ids to fixed-size values, for the
 * ledger's counters: uses not yet written and credits in flight. The
 * tables that others could fill (rate windows, failures, log budgets) are
 * ttables, shared fairly between owners. Keys are strings of at most
 * TABLE_KEY_MAX bytes; only the daemon's own key ids go in, never a
 * caller's text. Not thread-safe: each table belongs to one thread, or to
 * whoever holds its owner's lock.
 */
#ifndef APIKEY_TABLE_H
#define APIKEY_TABLE_H

#include <stddef.h>

#define TABLE_KEY_MAX	14

struct table;

/* Caller frees with table_free(). Memory grows with the entries. */
struct table *table_new(size_t value_size, size_t max_entries);
void	table_free(struct table *);
/*
 * The value stored under key. With create, a missing entry is added with
 * a zeroed value; NULL when it is missing (and not created), when the
 * table is full, when key is longer than TABLE_KEY_MAX, or when out of
 * memory. The pointer is valid until the table next changes (an entry
 * created or removed).
 */
void	*table_get(struct table *, const char *key, int create);
/* Removes key's entry, if any. */
void	table_del(struct table *, const char *key);
size_t	table_count(const struct table *);
/*
 * Calls fn for every entry, in key order (strcmp); the table must not
 * change meanwhile, but fn may write the values. Returns 0, or -1 when
 * out of memory (nothing was called).
 */
int	table_foreach(struct table *, void (*fn)(const char *key, void *value,
	    void *arg), void *arg);

#endif
