/*
 * ttable.c - see ttable.h. The workload is the verify thread's: every
 * verify finds or inserts one or two entries and moves their expiry, in
 * tables of up to a few hundred thousand entries, while a local caller may
 * be trying to fill them (many keys of its own, many remote host names).
 * So no operation may cost more than O(log n), and the time spent on one
 * call is bounded too, not only on average.
 *
 * Keys are found in a glibc tsearch(3) tree: a red-black tree, O(log n) in
 * the worst case whatever the keys are, so remote host names chosen by a
 * caller cannot degrade it the way they could flood an unkeyed hash.
 * Groups live in a second tree. Expiry is kept in binary min-heaps: one
 * over every entry, so that expired entries are found at its top, and one
 * per group, so that the group that must give up an entry gives up its
 * earliest-expiring one. A max-heap of groups by entry count names the
 * group holding the most entries. Entries carry their index in both heaps,
 * so removing one or moving its expiry is O(log n) too.
 *
 * An insert drops at most TTABLE_RECLAIM_MAX expired entries: each entry is
 * dropped once, so this is amortized O(1) per insert and never a sweep of
 * the table, even when all entries expire at the same instant. Since it
 * drops at least one when any has expired, a full table never refuses or
 * evicts while it holds garbage.
 */
#include <search.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ttable.h"

struct group;

/*
 * The name comes first: one comparison function serves both trees. (Not
 * "struct entry": <search.h> declares one.)
 */
struct tentry {
	const char	*key;		/* stored after the value */
	struct group	*group;
	uint64_t	 expiry;
	size_t		 pos[2];	/* index in the table's heap, the group's */
	max_align_t	 value[];
};

#define IN_TABLE	0
#define IN_GROUP	1

struct heap {
	struct tentry	**v;
	size_t		 n;
	size_t		 cap;
};

struct group {
	const char	*name;		/* stored after the struct */
	size_t		 pos;		/* index in the table's group heap */
	struct heap	 entries;	/* n is the group's entry count */
};

struct ttable {
	void		*entries;	/* tsearch tree of struct tentry */
	void		*groups;	/* tsearch tree of struct group */
	struct heap	 expiry;	/* every entry, earliest expiry on top */
	struct group	**gheap;	/* most entries on top */
	size_t		 ngroups;
	size_t		 gcap;
	size_t		 value_size;
	size_t		 max;
	uint64_t	 ops;
};

/* Comparisons are counted for ttable_ops(); tsearch passes no context. */
static _Thread_local uint64_t ncmp;

static int
cmp(const void *a, const void *b)
{
	ncmp++;
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void *
tree_find(struct ttable *t, void *const *root, const char *name)
{
	uint64_t	 before = ncmp;
	void		**node;

	node = tfind(&name, root, cmp);
	t->ops += ncmp - before;
	return node != NULL ? *node : NULL;
}

/* Returns 0, or -1 when out of memory. item must not be in the tree. */
static int
tree_add(struct ttable *t, void **root, void *item)
{
	uint64_t	 before = ncmp;
	void		*node;

	node = tsearch(item, root, cmp);
	t->ops += ncmp - before;
	return node != NULL ? 0 : -1;
}

static void
tree_del(struct ttable *t, void **root, void *item)
{
	uint64_t	 before = ncmp;

	tdelete(item, root, cmp);
	t->ops += ncmp - before;
}

static struct tentry *
entry_of(void *value)
{
	return (struct tentry *)(void *)((unsigned char *)value -
	    offsetof(struct tentry, value));
}

/* Returns v grown by doubling to hold want items, so that pushes are
 * amortized O(1); NULL when out of memory (v is then unchanged). */
static void *
grow(void *v, size_t *cap, size_t want, size_t size)
{
	void	*nv;
	size_t	 ncap;

	if (want <= *cap)
		return v;
	ncap = *cap > 0 ? *cap : 4;
	while (ncap < want)
		ncap *= 2;
	if ((nv = reallocarray(v, ncap, size)) == NULL)
		return NULL;
	*cap = ncap;
	return nv;
}

static int
heap_reserve(struct heap *h, size_t want)
{
	struct tentry	**v;

	if ((v = grow(h->v, &h->cap, want, sizeof(*v))) == NULL)
		return -1;
	h->v = v;
	return 0;
}

static void
heap_set(struct heap *h, int which, size_t i, struct tentry *e)
{
	h->v[i] = e;
	e->pos[which] = i;
}

static void
heap_up(struct ttable *t, struct heap *h, int which, size_t i)
{
	struct tentry	*e = h->v[i];
	size_t		 p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (h->v[p]->expiry <= e->expiry)
			break;
		heap_set(h, which, i, h->v[p]);
		i = p;
		t->ops++;
	}
	heap_set(h, which, i, e);
}

static void
heap_down(struct ttable *t, struct heap *h, int which, size_t i)
{
	struct tentry	*e = h->v[i];
	size_t		 c;

	while ((c = 2 * i + 1) < h->n) {
		if (c + 1 < h->n && h->v[c + 1]->expiry < h->v[c]->expiry)
			c++;
		if (e->expiry <= h->v[c]->expiry)
			break;
		heap_set(h, which, i, h->v[c]);
		i = c;
		t->ops++;
	}
	heap_set(h, which, i, e);
}

static void
heap_fix(struct ttable *t, struct heap *h, int which, size_t i)
{
	if (i > 0 && h->v[(i - 1) / 2]->expiry > h->v[i]->expiry)
		heap_up(t, h, which, i);
	else
		heap_down(t, h, which, i);
}

/* The caller reserved room. */
static void
heap_push(struct ttable *t, struct heap *h, int which, struct tentry *e)
{
	h->v[h->n++] = e;
	heap_up(t, h, which, h->n - 1);
}

static void
heap_del(struct ttable *t, struct heap *h, int which, struct tentry *e)
{
	size_t		 i = e->pos[which];
	struct tentry	*last = h->v[--h->n];

	if (last != e) {
		heap_set(h, which, i, last);
		heap_fix(t, h, which, i);
	}
}

/* The group heap: the same as above, on entry counts, largest on top. */
static void
gheap_set(struct ttable *t, size_t i, struct group *g)
{
	t->gheap[i] = g;
	g->pos = i;
}

static void
group_fix(struct ttable *t, struct group *g)
{
	size_t	 i = g->pos, p, c;

	while (i > 0 && t->gheap[p = (i - 1) / 2]->entries.n < g->entries.n) {
		gheap_set(t, i, t->gheap[p]);
		i = p;
		t->ops++;
	}
	while ((c = 2 * i + 1) < t->ngroups) {
		if (c + 1 < t->ngroups && t->gheap[c + 1]->entries.n >
		    t->gheap[c]->entries.n)
			c++;
		if (g->entries.n >= t->gheap[c]->entries.n)
			break;
		gheap_set(t, i, t->gheap[c]);
		i = c;
		t->ops++;
	}
	gheap_set(t, i, g);
}

static void
group_free(void *p)
{
	struct group	*g = p;

	free(g->entries.v);
	free(g);
}

/* An empty group, in the tree and the heap; NULL when out of memory. */
static struct group *
group_new(struct ttable *t, const char *name)
{
	struct group	*g, **v;
	size_t		 len = strlen(name);
	char		*s;

	if ((v = grow(t->gheap, &t->gcap, t->ngroups + 1, sizeof(*v))) == NULL)
		return NULL;
	t->gheap = v;
	if ((g = calloc(1, sizeof(*g) + len + 1)) == NULL)
		return NULL;
	s = (char *)(g + 1);
	memcpy(s, name, len + 1);
	g->name = s;
	if (tree_add(t, &t->groups, g) != 0) {
		free(g);
		return NULL;
	}
	gheap_set(t, t->ngroups++, g);
	group_fix(t, g);
	return g;
}

static void
group_drop(struct ttable *t, struct group *g)
{
	struct group	*last = t->gheap[--t->ngroups];

	if (last != g) {
		gheap_set(t, g->pos, last);
		group_fix(t, last);
	}
	tree_del(t, &t->groups, g);
	group_free(g);
}

/* After g lost an entry. */
static void
group_shrunk(struct ttable *t, struct group *g)
{
	if (g->entries.n == 0)
		group_drop(t, g);
	else
		group_fix(t, g);
}

static void
entry_drop(struct ttable *t, struct tentry *e)
{
	tree_del(t, &t->entries, e);
	heap_del(t, &t->expiry, IN_TABLE, e);
	heap_del(t, &e->group->entries, IN_GROUP, e);
	group_shrunk(t, e->group);
	free(e);
}

static void
reclaim(struct ttable *t, uint64_t now_ms)
{
	int	 i;

	for (i = 0; i < TTABLE_RECLAIM_MAX && t->expiry.n > 0 &&
	    t->expiry.v[0]->expiry <= now_ms; i++) {
		entry_drop(t, t->expiry.v[0]);
		t->ops++;
	}
}

static int
entry_move(struct ttable *t, struct tentry *e, const char *name)
{
	struct group	*g, *old = e->group;

	if ((g = tree_find(t, &t->groups, name)) == NULL &&
	    (g = group_new(t, name)) == NULL)
		return TTABLE_ENOMEM;
	if (heap_reserve(&g->entries, g->entries.n + 1) != 0) {
		if (g->entries.n == 0)
			group_drop(t, g);
		return TTABLE_ENOMEM;
	}
	heap_del(t, &old->entries, IN_GROUP, e);
	group_shrunk(t, old);
	e->group = g;
	heap_push(t, &g->entries, IN_GROUP, e);
	group_fix(t, g);
	return 0;
}

struct ttable *
ttable_new(size_t value_size, size_t max_entries)
{
	struct ttable	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->value_size = value_size;
	t->max = max_entries;
	return t;
}

void
ttable_free(struct ttable *t)
{
	if (t == NULL)
		return;
	tdestroy(t->entries, free);
	tdestroy(t->groups, group_free);
	free(t->expiry.v);
	free(t->gheap);
	free(t);
}

void *
ttable_find(struct ttable *t, const char *key)
{
	struct tentry	*e;

	if ((e = tree_find(t, &t->entries, key)) == NULL)
		return NULL;
	return e->value;
}

int
ttable_get(struct ttable *t, const char *key, const char *group,
    uint64_t now_ms, void **value)
{
	struct tentry	*e, *victim = NULL;
	struct group	*g, *hog;
	size_t		 have, len;
	char		*s;
	int		 rc;

	if ((e = tree_find(t, &t->entries, key)) != NULL) {
		if (strcmp(e->group->name, group) != 0 &&
		    (rc = entry_move(t, e, group)) != 0)
			return rc;
		*value = e->value;
		return 0;
	}

	reclaim(t, now_ms);
	g = tree_find(t, &t->groups, group);
	if (t->expiry.n >= t->max) {
		/* Only to a group two short of the largest: after the move
		 * the largest still holds at least as many. */
		have = g != NULL ? g->entries.n : 0;
		hog = t->ngroups > 0 ? t->gheap[0] : NULL;
		if (hog == NULL || hog->entries.n < have + 2)
			return TTABLE_EFULL;
		victim = hog->entries.v[0];
	}

	/* Everything that can fail comes before the eviction. */
	if (g == NULL && (g = group_new(t, group)) == NULL)
		return TTABLE_ENOMEM;
	len = strlen(key);
	if (heap_reserve(&t->expiry, t->expiry.n + 1) != 0 ||
	    heap_reserve(&g->entries, g->entries.n + 1) != 0 ||
	    (e = calloc(1, sizeof(*e) + t->value_size + len + 1)) == NULL)
		goto nomem;
	s = (char *)e->value + t->value_size;
	memcpy(s, key, len + 1);
	e->key = s;
	e->group = g;
	if (tree_add(t, &t->entries, e) != 0) {
		free(e);
		goto nomem;
	}
	if (victim != NULL) {
		entry_drop(t, victim);
		t->ops++;
	}
	heap_push(t, &t->expiry, IN_TABLE, e);
	heap_push(t, &g->entries, IN_GROUP, e);
	group_fix(t, g);
	*value = e->value;
	return 1;

nomem:
	if (g->entries.n == 0)
		group_drop(t, g);
	return TTABLE_ENOMEM;
}

void
ttable_set_expiry(struct ttable *t, void *value, uint64_t expiry_ms)
{
	struct tentry	*e = entry_of(value);

	e->expiry = expiry_ms;
	heap_fix(t, &t->expiry, IN_TABLE, e->pos[IN_TABLE]);
	heap_fix(t, &e->group->entries, IN_GROUP, e->pos[IN_GROUP]);
}

void
ttable_remove(struct ttable *t, void *value)
{
	entry_drop(t, entry_of(value));
}

size_t
ttable_count(const struct ttable *t)
{
	return t->expiry.n;
}

size_t
ttable_group_count(struct ttable *t, const char *group)
{
	struct group	*g;

	g = tree_find(t, &t->groups, group);
	return g != NULL ? g->entries.n : 0;
}

size_t
ttable_groups(const struct ttable *t)
{
	return t->ngroups;
}

uint64_t
ttable_ops(const struct ttable *t)
{
	return t->ops;
}

struct walk {
	const struct ttable *t;
	size_t		 n;
	int		 bad;
};

static void
check_entry(const void *node, VISIT which, void *arg)
{
	const struct tentry *e = *(const struct tentry *const *)node;
	struct walk	*w = arg;
	const struct heap *h = &w->t->expiry;

	if (which != postorder && which != leaf)
		return;
	w->n++;
	if (e->pos[IN_TABLE] >= h->n || h->v[e->pos[IN_TABLE]] != e ||
	    e->pos[IN_GROUP] >= e->group->entries.n ||
	    e->group->entries.v[e->pos[IN_GROUP]] != e)
		w->bad = 1;
}

static void
check_group(const void *node, VISIT which, void *arg)
{
	const struct group *g = *(const struct group *const *)node;
	struct walk	*w = arg;
	const struct heap *h = &g->entries;
	size_t		 i;

	if (which != postorder && which != leaf)
		return;
	w->n++;
	if (h->n == 0 || g->pos >= w->t->ngroups || w->t->gheap[g->pos] != g)
		w->bad = 1;
	for (i = 0; i < h->n; i++)
		if (h->v[i]->group != g || h->v[i]->pos[IN_GROUP] != i ||
		    (i > 0 && h->v[(i - 1) / 2]->expiry > h->v[i]->expiry))
			w->bad = 1;
}

int
ttable_check(const struct ttable *t)
{
	struct walk	 we = { t, 0, 0 }, wg = { t, 0, 0 };
	size_t		 i, sum = 0;

	twalk_r(t->entries, check_entry, &we);
	twalk_r(t->groups, check_group, &wg);
	if (we.bad || wg.bad || we.n != t->expiry.n || wg.n != t->ngroups)
		return -1;
	for (i = 0; i < t->expiry.n; i++)
		if (t->expiry.v[i]->pos[IN_TABLE] != i || (i > 0 &&
		    t->expiry.v[(i - 1) / 2]->expiry > t->expiry.v[i]->expiry))
			return -1;
	for (i = 0; i < t->ngroups; i++) {
		if (t->gheap[i]->pos != i || (i > 0 &&
		    t->gheap[(i - 1) / 2]->entries.n <
		    t->gheap[i]->entries.n))
			return -1;
		sum += t->gheap[i]->entries.n;
	}
	return sum == t->expiry.n ? 0 : -1;
}
