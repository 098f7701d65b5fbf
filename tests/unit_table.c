/*
 * unit_table.c - the bounded string map under the in-memory counters
 * (daemon/table.c).
 *
 * Values are a small struct so that zeroing, alignment and writes through
 * the returned pointer are all visible. Each test builds its own table;
 * prune and foreach are checked against exact sets of keys, and the bound
 * is checked at its edge (full, then one removed). A random sequence of
 * creates and removes is checked against a brute-force model, through
 * growths and removals inside probe runs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../daemon/table.h"

struct val {
	uint64_t	a;
	uint32_t	b;
	char		tag[20];
};

static const struct val zero;

Test(table, new_is_empty)
{
	struct table	*t = table_new(sizeof(struct val), 10);

	cr_assert_not_null(t);
	cr_expect_eq(table_count(t), 0);
	cr_expect_null(table_get(t, "a", 0));
	cr_expect_eq(table_count(t), 0);
	table_free(t);
}

Test(table, free_null)
{
	table_free(NULL);
}

Test(table, create_is_zeroed_and_stable)
{
	struct table	*t = table_new(sizeof(struct val), 10);
	struct val	*v, *again;

	cr_assert_not_null(t);
	v = table_get(t, "key1", 1);
	cr_assert_not_null(v);
	cr_expect_eq(memcmp(v, &zero, sizeof(zero)), 0);
	cr_expect_eq((uintptr_t)v % 16, 0, "value at %p not 16-aligned",
	    (void *)v);
	cr_expect_eq(table_count(t), 1);

	v->a = 42;
	v->b = 7;
	strcpy(v->tag, "first");
	/* Found again with or without create; not re-zeroed, not added. */
	again = table_get(t, "key1", 1);
	cr_expect_eq(again, v);
	again = table_get(t, "key1", 0);
	cr_expect_eq(again, v);
	cr_expect_eq(again->a, 42);
	cr_expect_eq(again->b, 7);
	cr_expect_str_eq(again->tag, "first");
	cr_expect_eq(table_count(t), 1);
	table_free(t);
}

Test(table, keys_are_exact_and_copied)
{
	struct table	*t = table_new(sizeof(struct val), 10);
	struct val	*v;
	char		 key[16];

	cr_assert_not_null(t);
	strcpy(key, "abc");
	v = table_get(t, key, 1);
	cr_assert_not_null(v);
	v->a = 1;
	/* The table keeps its own copy of the key. */
	strcpy(key, "zzz");
	cr_expect_null(table_get(t, "zzz", 0));
	v = table_get(t, "abc", 0);
	cr_assert_not_null(v);
	cr_expect_eq(v->a, 1);

	cr_expect_null(table_get(t, "ab", 0));
	cr_expect_null(table_get(t, "abcd", 0));
	cr_expect_null(table_get(t, "ABC", 0));
	cr_expect_null(table_get(t, "", 0));
	cr_expect_eq(table_count(t), 1);

	/* The empty string is a key like any other. */
	v = table_get(t, "", 1);
	cr_assert_not_null(v);
	cr_expect_eq(v->a, 0);
	cr_expect_eq(table_count(t), 2);
	table_free(t);
}

Test(table, get_without_create_on_missing)
{
	struct table	*t = table_new(sizeof(struct val), 10);

	cr_assert_not_null(t);
	cr_assert_not_null(table_get(t, "present", 1));
	cr_expect_null(table_get(t, "absent", 0));
	cr_expect_eq(table_count(t), 1);
	table_free(t);
}

Test(table, distinct_keys_distinct_values)
{
	struct table	*t = table_new(sizeof(struct val), 100);
	struct val	*v;
	char		 key[16];
	int		 i;

	cr_assert_not_null(t);
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		v = table_get(t, key, 1);
		cr_assert_not_null(v, "%s", key);
		cr_expect_eq(memcmp(v, &zero, sizeof(zero)), 0);
		v->a = (uint64_t)i * 3;
	}
	cr_expect_eq(table_count(t), 100);
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		v = table_get(t, key, 0);
		cr_assert_not_null(v, "%s", key);
		cr_expect_eq(v->a, (uint64_t)i * 3, "%s", key);
	}
	table_free(t);
}

Test(table, full_returns_null)
{
	struct table	*t = table_new(sizeof(struct val), 3);
	struct val	*a;

	cr_assert_not_null(t);
	a = table_get(t, "a", 1);
	cr_assert_not_null(a);
	cr_assert_not_null(table_get(t, "b", 1));
	cr_assert_not_null(table_get(t, "c", 1));
	cr_expect_eq(table_count(t), 3);
	cr_expect_null(table_get(t, "d", 1));
	cr_expect_null(table_get(t, "d", 0));
	cr_expect_eq(table_count(t), 3);
	/* Existing entries are still found, with create too. */
	cr_expect_eq(table_get(t, "a", 1), a);
	cr_expect_eq(table_count(t), 3);
	table_free(t);
}

Test(table, zero_max_holds_nothing)
{
	struct table	*t = table_new(sizeof(struct val), 0);

	cr_assert_not_null(t);
	cr_expect_null(table_get(t, "a", 1));
	cr_expect_eq(table_count(t), 0);
	table_free(t);
}

/* ------------------------------------------------------------------ */
/* del and foreach */

/* Records every key visited, in order, as "k0,k1,...". */
struct seen {
	char	keys[4096];
	int	calls;
	uint64_t sum;
};

static void
collect(const char *key, void *value, void *arg)
{
	struct seen	*s = arg;
	struct val	*v = value;

	if (s->keys[0] != '\0')
		strcat(s->keys, ",");
	strcat(s->keys, key);
	s->calls++;
	s->sum += v->a;
}

static struct table *
numbered(int n, size_t max)
{
	struct table	*t = table_new(sizeof(struct val), max);
	struct val	*v;
	char		 key[16];
	int		 i;

	cr_assert_not_null(t);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		v = table_get(t, key, 1);
		cr_assert_not_null(v);
		v->a = (uint64_t)i;
	}
	return t;
}

Test(table, del_removes_one_and_frees_room)
{
	struct table	*t = numbered(4, 4);
	struct seen	 s;
	struct val	*v;

	cr_expect_null(table_get(t, "new1", 1));
	table_del(t, "k01");
	table_del(t, "k01");		/* gone already: nothing happens */
	table_del(t, "nothere");
	cr_expect_eq(table_count(t), 3);
	cr_expect_null(table_get(t, "k01", 0));
	v = table_get(t, "new1", 1);
	cr_assert_not_null(v);
	cr_expect_eq(memcmp(v, &zero, sizeof(zero)), 0);
	/* A deleted key comes back zeroed when created again. */
	table_del(t, "k02");
	v = table_get(t, "k02", 1);
	cr_assert_not_null(v);
	cr_expect_eq(v->a, 0);
	memset(&s, 0, sizeof(s));
	table_foreach(t, collect, &s);
	cr_expect_str_eq(s.keys, "k00,k02,k03,new1");
	table_free(t);
}

Test(table, foreach_visits_each_once_in_key_order)
{
	struct table	*t = table_new(sizeof(struct val), 10);
	const char	*keys[] = { "m", "c", "x", "a", "e", "z", "b" };
	struct seen	 s;
	size_t		 i;

	cr_assert_not_null(t);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct val *v = table_get(t, keys[i], 1);

		cr_assert_not_null(v);
		v->a = 1;
	}
	memset(&s, 0, sizeof(s));
	table_foreach(t, collect, &s);
	cr_expect_str_eq(s.keys, "a,b,c,e,m,x,z");
	cr_expect_eq(s.calls, 7);
	cr_expect_eq(s.sum, 7);
	cr_expect_eq(table_count(t), 7);
	table_free(t);
}

static void
bump(const char *key, void *value, void *arg)
{
	struct val	*v = value;

	(void)key;
	(void)arg;
	v->b++;
}

Test(table, foreach_may_change_values)
{
	struct table	*t = numbered(5, 5);
	struct val	*v;

	table_foreach(t, bump, NULL);
	table_foreach(t, bump, NULL);
	v = table_get(t, "k03", 0);
	cr_assert_not_null(v);
	cr_expect_eq(v->b, 2);
	cr_expect_eq(v->a, 3);
	table_free(t);
}

Test(table, foreach_empty_and_single)
{
	struct table	*t = table_new(sizeof(struct val), 4);
	struct seen	 s;

	cr_assert_not_null(t);
	memset(&s, 0, sizeof(s));
	table_foreach(t, collect, &s);
	cr_expect_eq(s.calls, 0);
	cr_assert_not_null(table_get(t, "only", 1));
	table_foreach(t, collect, &s);
	cr_expect_str_eq(s.keys, "only");
	cr_expect_eq(s.calls, 1);
	table_free(t);
}

Test(table, zero_sized_values)
{
	/* A set of keys: the pointer only says present or not. */
	struct table	*t = table_new(0, 2);

	cr_assert_not_null(t);
	cr_expect_not_null(table_get(t, "a", 1));
	cr_expect_not_null(table_get(t, "a", 0));
	cr_expect_not_null(table_get(t, "b", 1));
	cr_expect_null(table_get(t, "c", 1));
	cr_expect_eq(table_count(t), 2);
	table_free(t);
}

Test(table, longer_keys_are_refused)
{
	struct table	*t = table_new(sizeof(struct val), 4);
	char		 key[TABLE_KEY_MAX + 2];

	cr_assert_not_null(t);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	cr_expect_null(table_get(t, key, 1));
	key[TABLE_KEY_MAX] = '\0';
	cr_expect_not_null(table_get(t, key, 1));
	cr_expect_eq(table_count(t), 1);
	table_free(t);
}

/*
 * Random creates, writes and removes against a plain array that does the
 * same by brute force: the hash table must agree with it after every
 * step, through many growths and with removals in the middle of probe
 * runs (a small key space makes long runs).
 */
#define MODEL_KEYS	600
#define MODEL_STEPS	60000

struct model {
	int		 present[MODEL_KEYS];
	uint64_t	 a[MODEL_KEYS];
	size_t		 count;
	size_t		 visited;
	int		 ordered;
	char		 last[16];
};

static void
model_check(const char *key, void *value, void *arg)
{
	struct model	*m = arg;
	struct val	*v = value;
	int		 k = atoi(key + 1);

	cr_assert(m->present[k], "%s visited but removed", key);
	cr_assert_eq(v->a, m->a[k], "%s", key);
	if (m->visited > 0 && strcmp(m->last, key) >= 0)
		m->ordered = 0;
	snprintf(m->last, sizeof(m->last), "%s", key);
	m->visited++;
}

Test(table, agrees_with_a_brute_force_model)
{
	struct table	*t = table_new(sizeof(struct val), MODEL_KEYS);
	struct model	 m;
	struct val	*v;
	char		 key[16];
	unsigned	 seed = 12345;
	int		 i, k;

	cr_assert_not_null(t);
	memset(&m, 0, sizeof(m));
	for (i = 0; i < MODEL_STEPS; i++) {
		k = rand_r(&seed) % MODEL_KEYS;
		snprintf(key, sizeof(key), "k%d", k);
		switch (rand_r(&seed) % 3) {
		case 0:
			table_del(t, key);
			if (m.present[k])
				m.count--;
			m.present[k] = 0;
			m.a[k] = 0;
			break;
		default:
			v = table_get(t, key, 1);
			cr_assert_not_null(v, "step %d: %s", i, key);
			cr_assert_eq(v->a, m.a[k], "step %d: %s", i, key);
			if (!m.present[k])
				m.count++;
			m.present[k] = 1;
			v->a = m.a[k] = (uint64_t)i + 1;
			break;
		}
		cr_assert_eq(table_count(t), m.count, "step %d", i);
		v = table_get(t, key, 0);
		cr_assert_eq(v != NULL, m.present[k], "step %d: %s", i, key);
	}
	m.ordered = 1;
	cr_assert_eq(table_foreach(t, model_check, &m), 0);
	cr_expect_eq(m.visited, m.count);
	cr_expect(m.ordered, "not visited in key order");
	for (k = 0; k < MODEL_KEYS; k++) {
		snprintf(key, sizeof(key), "k%d", k);
		cr_expect_eq(table_get(t, key, 0) != NULL, m.present[k], "%s",
		    key);
	}
	table_free(t);
}
