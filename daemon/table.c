/*
 * table.c - see table.h. Entries are one allocation each: the key string
 * and the value side by side. The tables hold at most tens of thousands of
 * entries, so a balanced tree's O(log n) is as good as a hash here, and
 * glibc's tsearch() is well tested where a hand-written hash is not.
 */
#include <search.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

struct tnode {
	char	*key;
	size_t	 pad;		/* keeps value aligned to 16 bytes */
	unsigned char value[];
};

struct table {
	void	*root;
	size_t	 value_size;
	size_t	 max;
	size_t	 count;
};

static int
cmp(const void *a, const void *b)
{
	const struct tnode *x = a, *y = b;

	return strcmp(x->key, y->key);
}

struct table *
table_new(size_t value_size, size_t max_entries)
{
	struct table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->value_size = value_size;
	t->max = max_entries;
	return t;
}

static void
free_entry(void *p)
{
	struct tnode	*e = p;

	free(e->key);
	free(e);
}

void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	tdestroy(t->root, free_entry);
	free(t);
}

void *
table_get(struct table *t, const char *key, int create)
{
	struct tnode	 probe, *e, **found;

	probe.key = (char *)(uintptr_t)key;
	if ((found = tfind(&probe, &t->root, cmp)) != NULL)
		return (*found)->value;
	if (!create || t->count >= t->max)
		return NULL;
	if ((e = calloc(1, sizeof(*e) + t->value_size)) == NULL)
		return NULL;
	if ((e->key = strdup(key)) == NULL) {
		free(e);
		return NULL;
	}
	if (tsearch(e, &t->root, cmp) == NULL) {
		free_entry(e);
		return NULL;
	}
	t->count++;
	return e->value;
}

void
table_del(struct table *t, const char *key)
{
	struct tnode	 probe, *e, **found;

	probe.key = (char *)(uintptr_t)key;
	if ((found = tfind(&probe, &t->root, cmp)) == NULL)
		return;
	e = *found;
	tdelete(&probe, &t->root, cmp);
	free_entry(e);
	t->count--;
}

size_t
table_count(const struct table *t)
{
	return t->count;
}

struct each {
	void	(*fn)(const char *, void *, void *);
	void	*arg;
};

static void
visit_each(const void *node, VISIT which, void *arg)
{
	struct each	*e = arg;
	struct tnode	*n = *(struct tnode *const *)node;

	if (which == postorder || which == leaf)
		e->fn(n->key, n->value, e->arg);
}

void
table_foreach(struct table *t, void (*fn)(const char *, void *, void *),
    void *arg)
{
	struct each	 e = { fn, arg };

	twalk_r(t->root, visit_each, &e);
}
