/*
 * table.h - a bounded map from key ids to fixed-size values, for the
 * ledger's counters: uses not yet written and credits in flight. The
 * tables that others could fill (rate windows, failures, log budgets) are
 * ttables, shared fairly between owners. A glibc tsearch(3) tree
 * underneath. Not thread-safe: each table belongs to one thread, or to
 * whoever holds its owner's lock.
 */
#ifndef APIKEY_TABLE_H
#define APIKEY_TABLE_H

#include <stddef.h>

struct table;

/* Caller frees with table_free(). */
struct table *table_new(size_t value_size, size_t max_entries);
void	table_free(struct table *);
/*
 * The value stored under key. With create, a missing entry is added with
 * a zeroed value; NULL when it is missing (and not created), or when the
 * table is full. The pointer is valid until the entry is removed.
 */
void	*table_get(struct table *, const char *key, int create);
/* Removes key's entry, if any. */
void	table_del(struct table *, const char *key);
size_t	table_count(const struct table *);
/* Calls fn for every entry, in key order; the table must not change. */
void	table_foreach(struct table *, void (*fn)(const char *key, void *value,
	    void *arg), void *arg);

#endif
