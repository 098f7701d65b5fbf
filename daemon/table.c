/*
 * table.c - see table.h. An open-addressing hash table with linear
 * probing: one array of fixed-size slots, each the key inline and the
 * value beside it, doubled when three quarters full. The use table held
 * up to 262,144 keys at a million keys touched (issue 11): a tsearch(3)
 * tree there cost three allocations (112 bytes) per key and a pointer
 * chase per level on every verify, a sixth of the verify loop's user
 * time. Probing compares keys inline, in one or two cache lines.
 *
 * Removal shifts the following entries of the run back (no tombstones),
 * so a table that sees many creates and removes (credits in flight) never
 * fills up with dead slots. The hash is FNV-1a: keys are ids the daemon
 * drew at random, which nobody can choose to collide.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

#define SLOT_HEAD	16	/* key, NUL, used flag: keeps values aligned */
#define MIN_CAP		16

struct slot {
	char		 key[TABLE_KEY_MAX + 1];
	unsigned char	 used;
};

struct table {
	unsigned char	*slots;		/* cap slots of slot_size bytes */
	size_t		 cap;		/* a power of two, or 0 */
	size_t		 slot_size;
	size_t		 value_size;
	size_t		 max;
	size_t		 count;
};

_Static_assert(sizeof(struct slot) == SLOT_HEAD, "slot head");

static struct slot *
slot_at(const struct table *t, size_t i)
{
	return (struct slot *)(void *)(t->slots + i * t->slot_size);
}

static void *
value_of(struct slot *s)
{
	return (unsigned char *)s + SLOT_HEAD;
}

static uint64_t
hash(const char *key)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 0x100000001b3ULL;
	return h;
}

struct table *
table_new(size_t value_size, size_t max_entries)
{
	struct table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->value_size = value_size;
	t->slot_size = SLOT_HEAD + ((value_size + 15) & ~(size_t)15);
	t->max = max_entries;
	return t;
}

void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t);
}

/* The slot of key, or the empty slot where it would go. */
static struct slot *
probe(const struct table *t, const char *key)
{
	size_t		 mask = t->cap - 1, i = (size_t)hash(key) & mask;
	struct slot	*s;

	for (;; i = (i + 1) & mask) {
		s = slot_at(t, i);
		if (!s->used || strcmp(s->key, key) == 0)
			return s;
	}
}

/* Doubles the slots (or makes the first ones), moving every entry. */
static int
grow(struct table *t)
{
	struct table	 old = *t;
	struct slot	*s, *to;
	size_t		 cap = t->cap ? t->cap * 2 : MIN_CAP, i;

	if (cap > SIZE_MAX / t->slot_size ||
	    (t->slots = calloc(cap, t->slot_size)) == NULL) {
		t->slots = old.slots;
		return -1;
	}
	t->cap = cap;
	for (i = 0; i < old.cap; i++) {
		s = slot_at(&old, i);
		if (!s->used)
			continue;
		to = probe(t, s->key);
		memcpy(to, s, t->slot_size);
	}
	free(old.slots);
	return 0;
}

void *
table_get(struct table *t, const char *key, int create)
{
	struct slot	*s;

	if (strlen(key) > TABLE_KEY_MAX)
		return NULL;
	if (t->cap > 0 && (s = probe(t, key))->used)
		return value_of(s);
	if (!create || t->count >= t->max)
		return NULL;
	/* At most three quarters full, so that probes stay short. */
	if ((t->count + 1) * 4 > t->cap * 3 && grow(t) != 0)
		return NULL;
	s = probe(t, key);
	memset(s, 0, t->slot_size);
	strcpy(s->key, key);
	s->used = 1;
	t->count++;
	return value_of(s);
}

/* Whether home slot k lies cyclically in (i, j]: the entry at j may not
 * move back to i. */
static int
between(size_t i, size_t k, size_t j)
{
	return i <= j ? i < k && k <= j : i < k || k <= j;
}

void
table_del(struct table *t, const char *key)
{
	size_t		 mask = t->cap - 1, i, j, k;
	struct slot	*s;

	if (t->cap == 0 || strlen(key) > TABLE_KEY_MAX ||
	    !(s = probe(t, key))->used)
		return;
	i = (size_t)((unsigned char *)s - t->slots) / t->slot_size;
	/* Close the gap: entries after it in the run move back, unless
	 * their home lies after the gap. */
	for (j = (i + 1) & mask;; j = (j + 1) & mask) {
		s = slot_at(t, j);
		if (!s->used)
			break;
		k = (size_t)hash(s->key) & mask;
		if (between(i, k, j))
			continue;
		memcpy(slot_at(t, i), s, t->slot_size);
		i = j;
	}
	memset(slot_at(t, i), 0, t->slot_size);
	t->count--;
}

size_t
table_count(const struct table *t)
{
	return t->count;
}

static int
by_key(const void *a, const void *b)
{
	const struct slot *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

int
table_foreach(struct table *t, void (*fn)(const char *key, void *value,
    void *arg), void *arg)
{
	struct slot	**order;
	size_t		 i, n = 0;

	if (t->count == 0)
		return 0;
	if ((order = calloc(t->count, sizeof(*order))) == NULL)
		return -1;
	for (i = 0; i < t->cap; i++)
		if (slot_at(t, i)->used)
			order[n++] = slot_at(t, i);
	qsort(order, n, sizeof(*order), by_key);
	for (i = 0; i < n; i++)
		fn(order[i]->key, value_of(order[i]), arg);
	free(order);
	return 0;
}
