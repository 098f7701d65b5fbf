/*
 * unit_ttable.c - the bounded table of timed entries grouped by owner
 * (daemon/ttable.c).
 *
 * Time is a plain number the tests move. The small tests check each rule
 * at its edge: what a full table does for the largest group, for a group
 * two entries short of it and for a tie, and that expired entries go
 * before anything is evicted. A random sequence of operations is then
 * checked step by step against a reference model kept in arrays, and a
 * table of the daemon's size proves that an insert into a full table does
 * a few dozen steps of work (ttable_ops()), not a walk of the table.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../daemon/ttable.h"

struct val {
	uint64_t	a;
	uint32_t	b;
	char		tag[20];
};

static const struct val zero;

/* Inserts key under group and sets its expiry; returns the value. */
static struct val *
put(struct ttable *t, const char *key, const char *group, uint64_t now,
    uint64_t expiry)
{
	void	*v = NULL;
	int	 rc;

	rc = ttable_get(t, key, group, now, &v);
	cr_assert_eq(rc, 1, "%s: ttable_get %d, want 1 (inserted)", key, rc);
	cr_assert_not_null(v);
	cr_assert_eq(memcmp(v, &zero, sizeof(zero)), 0, "%s not zeroed", key);
	ttable_set_expiry(t, v, expiry);
	return v;
}

static void
expect_refused(struct ttable *t, const char *key, const char *group,
    uint64_t now)
{
	void	*v = &v;

	cr_assert_eq(ttable_get(t, key, group, now, &v), TTABLE_EFULL,
	    "%s in %s not refused", key, group);
	/* Out-parameters are written only on success. */
	cr_assert_eq(v, &v);
	cr_assert_null(ttable_find(t, key));
}

Test(ttable, new_is_empty)
{
	struct ttable	*t = ttable_new(sizeof(struct val), 10);

	cr_assert_not_null(t);
	cr_expect_eq(ttable_count(t), 0);
	cr_expect_null(ttable_find(t, "a"));
	cr_expect_eq(ttable_group_count(t, "u:1"), 0);
	cr_expect_eq(ttable_groups(t), 0);
	ttable_free(t);
	ttable_free(NULL);
}

Test(ttable, insert_find_and_stable_values)
{
	struct ttable	*t = ttable_new(sizeof(struct val), 1000);
	struct val	*a, *b;
	void		*v = NULL;
	char		 key[16];
	int		 i;

	a = put(t, "a", "u:1", 0, 100);
	a->a = 7;
	a->b = 8;
	strcpy(a->tag, "first");
	cr_expect_eq((uintptr_t)a % alignof(max_align_t), 0);
	/* A second get finds the same entry at the same address. */
	cr_assert_eq(ttable_get(t, "a", "u:1", 50, &v), 0);
	cr_expect_eq(v, a);
	cr_expect_eq(ttable_find(t, "a"), a);
	/* Keys sharing a prefix are distinct. */
	b = put(t, "ab", "u:1", 0, 100);
	cr_expect_neq(b, a);
	cr_expect_null(ttable_find(t, "b"));
	cr_expect_null(ttable_find(t, ""));
	/* Many inserts later the value has not moved. */
	for (i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		put(t, key, i % 2 ? "u:1" : "u:2", 0, 100 + (uint64_t)i);
	}
	cr_expect_eq(ttable_find(t, "a"), a);
	cr_expect_eq(a->a, 7);
	cr_expect_eq(a->b, 8);
	cr_expect_str_eq(a->tag, "first");
	cr_expect_eq(ttable_count(t), 502);
	cr_expect_eq(ttable_group_count(t, "u:1"), 252);
	cr_expect_eq(ttable_group_count(t, "u:2"), 250);
	ttable_free(t);
}

Test(ttable, expired_entry_found_until_an_insert_reclaims_it)
{
	struct ttable	*t = ttable_new(sizeof(struct val), 10);
	struct val	*a;
	void		*v = NULL;

	a = put(t, "a", "u:1", 0, 100);
	put(t, "b", "u:1", 0, 101);
	/* Past its expiry, found (not reinserted) until reclaimed. */
	cr_assert_eq(ttable_get(t, "a", "u:1", 100, &v), 0);
	cr_expect_eq(v, a);
	cr_expect_eq(ttable_find(t, "a"), a);
	/* An insert at 100 drops "a" (expiry <= now), not "b". */
	put(t, "c", "u:2", 100, 200);
	cr_expect_null(ttable_find(t, "a"));
	cr_expect_not_null(ttable_find(t, "b"));
	cr_expect_eq(ttable_count(t), 2);
	cr_expect_eq(ttable_group_count(t, "u:1"), 1);
	/* Expiry 0 is expired at once. */
	put(t, "d", "u:1", 150, 0);
	put(t, "e", "u:1", 150, 300);
	cr_expect_null(ttable_find(t, "d"));
	cr_expect_null(ttable_find(t, "b"));
	cr_expect_eq(ttable_count(t), 2);
	ttable_free(t);
}

Test(ttable, reclaim_is_bounded_per_insert)
{
	struct ttable	*t = ttable_new(sizeof(struct val), 1000);
	char		 key[16];
	int		 i;

	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		put(t, key, "u:1", 0, 10);
	}
	/* All expired at once: one insert drops only a batch... */
	put(t, "new", "u:2", 20, 1000);
	cr_expect_eq(ttable_count(t), 100 - TTABLE_RECLAIM_MAX + 1);
	/* ...and the next ones the rest. */
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "n%d", i);
		put(t, key, "u:2", 20, 1000);
	}
	cr_expect_eq(ttable_count(t), 11);
	cr_expect_eq(ttable_group_count(t, "u:1"), 0);
	ttable_free(t);
}

Test(ttable, full_table_evicts_the_hogs_earliest_entry)
{
	struct ttable	*t = ttable_new(sizeof(struct val), 10);
	char		 key[16];
	int		 i;

	/* The hog's earliest expiry is h3's, inserted in the middle. */
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "h%d", i);
		put(t, key, "u:666", 0, i == 3 ? 500 : 1000 + (uint64_t)i);
	}
	cr_assert_eq(ttable_count(t), 10);
	/* The hog itself is refused. */
	expect_refused(t, "h10", "u:666", 100);
	/* Another owner gets a slot; the hog loses h3. */
	put(t, "o1", "u:1", 100, 2000);
	cr_expect_null(ttable_find(t, "h3"));
	cr_expect_not_null(ttable_find(t, "h4"));
	cr_expect_eq(ttable_group_count(t, "u:666"), 9);
	cr_expect_eq(ttable_group_count(t, "u:1"), 1);
	cr_expect_eq(ttable_count(t), 10);
	/* Next: h0, the earliest now. */
	put(t, "o2", "t:acme", 100, 2000);
	cr_expect_null(ttable_find(t, "h0"));
	cr_expect_eq(ttable_group_count(t, "u:666"), 8);
	/* u:1 holds 1 and may still take from a hog of 8... */
	put(t, "o3", "u:1", 100, 2000);
	cr_expect_null(ttable_find(t, "h1"));
	expect_refused(t, "h11", "u:666", 100);
	/* Known keys of a refused owner are still found. */
	cr_expect_not_null(ttable_find(t, "h9"));
	ttable_free(t);
}

Test(ttable, ties_and_near_ties_refuse)
{
	struct ttable	*t = ttable_new(sizeof(struct val), 4);

	put(t, "a1", "A", 0, 100);
	put(t, "a2", "A", 0, 101);
	put(t, "b1", "B", 0, 102);
	put(t, "b2", "B", 0, 103);
	/* 2 and 2: neither may take from the other. */
	expect_refused(t, "a3", "A", 0);
	expect_refused(t, "b3", "B", 0);
	/* A newcomer holding none may take from a group of 2. */
	put(t, "c1", "C", 0, 104);
	cr_expect_eq(ttable_count(t), 4);
	cr_expect_eq(ttable_group_count(t, "A") + ttable_group_count(t, "B"),
	    3);
	/* Now 2, 1, 1 (in some order): 2 >= 1 + 2 is false... */
	expect_refused(t, "c2", "C", 0);
	/* ...but a group holding none may still take one. */
	put(t, "d1", "D", 0, 105);
	cr_expect_eq(ttable_group_count(t, "A"), 1);
	cr_expect_eq(ttable_group_count(t, "B"), 1);
	/* 1, 1, 1, 1: nobody can take from anybody. */
	expect_refused(t, "d2", "D", 0);
	expect_refused(t, "e1", "E", 0);
	ttable_free(t);
}

Test(ttable, three_to_one_evicts_then_refuses)
{
	struct ttable	*t = ttable_new(sizeof(struct val), 4);

	put(t, "a1", "A", 0, 100);
	put(t, "a2", "A", 0, 101);
	put(t, "a3", "A", 0, 102);
	put(t, "b1", "B", 0, 103);
	put(t, "b2", "B", 0, 104);
	cr_expect_null(ttable_find(t, "a1"));
	cr_expect_eq(ttable_group_count(t, "A"), 2);
	cr_expect_eq(ttable_group_count(t, "B"), 2);
	expect_refused(t, "b3", "B", 0);
	ttable_free(t);
}

Test(ttable, reclaim_comes_before_eviction)
{
	struct ttable	*t = ttable_new(sizeof(struct val), 4);

	put(t, "h1", "hog", 0, 1000);
	put(t, "h2", "hog", 0, 2000);
	put(t, "h3", "hog", 0, 3000);
	put(t, "x1", "X", 0, 50);
	/* Full, but x1 has expired: it goes, the hog keeps everything. */
	put(t, "y1", "Y", 100, 5000);
	cr_expect_null(ttable_find(t, "x1"));
	cr_expect_eq(ttable_group_count(t, "hog"), 3);
	cr_expect_eq(ttable_group_count(t, "X"), 0);
	/* Even the hog may insert while garbage is left to drop. */
	ttable_set_expiry(t, ttable_find(t, "y1"), 100);
	put(t, "h4", "hog", 100, 4000);
	cr_expect_null(ttable_find(t, "y1"));
	cr_expect_eq(ttable_group_count(t, "hog"), 4);
	ttable_free(t);
}

Test(ttable, remove_and_set_expiry)
{
	struct ttable	*t = ttable_new(sizeof(struct val), 3);
	struct val	*a;

	a = put(t, "a", "u:1", 0, 100);
	put(t, "b", "u:1", 0, 200);
	put(t, "c", "u:2", 0, 300);
	/* a outlives b now: b is the one dropped at 250. */
	ttable_set_expiry(t, a, 1000);
	put(t, "d", "u:3", 250, 400);
	cr_expect_null(ttable_find(t, "b"));
	cr_expect_eq(ttable_find(t, "a"), a);
	/* Removing frees a slot, and the last entry of a group its group. */
	ttable_remove(t, ttable_find(t, "c"));
	cr_expect_null(ttable_find(t, "c"));
	cr_expect_eq(ttable_group_count(t, "u:2"), 0);
	cr_expect_eq(ttable_count(t), 2);
	put(t, "e", "u:1", 250, 500);
	cr_expect_eq(ttable_count(t), 3);
	ttable_remove(t, a);
	ttable_remove(t, ttable_find(t, "d"));
	ttable_remove(t, ttable_find(t, "e"));
	cr_expect_eq(ttable_count(t), 0);
	cr_expect_eq(ttable_group_count(t, "u:1"), 0);
	put(t, "a", "u:1", 250, 500);
	ttable_free(t);
}

Test(ttable, found_entry_moves_to_its_new_group)
{
	struct ttable	*t = ttable_new(sizeof(struct val), 10);
	struct val	*a;
	void		*v = NULL;

	a = put(t, "a", "u:1", 0, 100);
	a->b = 42;
	put(t, "b", "u:1", 0, 200);
	cr_assert_eq(ttable_get(t, "a", "t:acme", 0, &v), 0);
	cr_expect_eq(v, a);
	cr_expect_eq(a->b, 42);
	cr_expect_eq(ttable_group_count(t, "u:1"), 1);
	cr_expect_eq(ttable_group_count(t, "t:acme"), 1);
	cr_assert_eq(ttable_get(t, "b", "t:acme", 0, &v), 0);
	cr_expect_eq(ttable_group_count(t, "u:1"), 0);
	cr_expect_eq(ttable_group_count(t, "t:acme"), 2);
	/* u:1 is gone, not an empty group left behind. */
	cr_expect_eq(ttable_groups(t), 1);
	/* The moved entries expire as before. */
	put(t, "c", "u:2", 150, 300);
	cr_expect_null(ttable_find(t, "a"));
	cr_expect_eq(ttable_group_count(t, "t:acme"), 1);
	ttable_free(t);
}

Test(ttable, zero_entries_refuses_everything)
{
	struct ttable	*t = ttable_new(sizeof(struct val), 0);

	expect_refused(t, "a", "u:1", 0);
	cr_expect_eq(ttable_count(t), 0);
	ttable_free(t);
}

/* ------------------------------------------------------------------ */
/* Random operations against a reference model */

#define NKEYS	48
#define NGROUPS	12
#define MAXENT	20
#define NOPS	20000
#define TICK	65536ULL	/* expiries are unique below a tick */

struct model {
	int		 live[NKEYS];
	int		 group[NKEYS];
	uint64_t	 expiry[NKEYS];
	int		 count;
};

static uint64_t	 rng;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void
names(int k, int g, char *key, char *group)
{
	snprintf(key, 16, "k%d", k);
	snprintf(group, 16, "g%d", g);
}

static int
group_count(const struct model *m, int g)
{
	int	 i, n = 0;

	for (i = 0; i < NKEYS; i++)
		n += m->live[i] && m->group[i] == g;
	return n;
}

/* The live entry of g that expires first; -1 if none. */
static int
earliest(const struct model *m, int g, int any_group)
{
	int	 i, best = -1;

	for (i = 0; i < NKEYS; i++)
		if (m->live[i] && (any_group || m->group[i] == g) &&
		    (best < 0 || m->expiry[i] < m->expiry[best]))
			best = i;
	return best;
}

static void
check(struct ttable *t, const struct model *m, int step)
{
	char		 key[16], group[16];
	struct val	*v;
	int		 i;
	size_t		 groups = 0;

	cr_assert_eq(ttable_count(t), (size_t)m->count, "step %d: count %zu, "
	    "want %d", step, ttable_count(t), m->count);
	for (i = 0; i < NGROUPS; i++) {
		names(0, i, key, group);
		cr_assert_eq(ttable_group_count(t, group),
		    (size_t)group_count(m, i), "step %d: group %d", step, i);
		groups += group_count(m, i) > 0;
	}
	cr_assert_eq(ttable_check(t), 0, "step %d: invariant broken", step);
	/* Empty groups are freed. */
	cr_assert_eq(ttable_groups(t), groups, "step %d: %zu groups, want %zu",
	    step, ttable_groups(t), groups);
	for (i = 0; i < NKEYS; i++) {
		names(i, 0, key, group);
		v = ttable_find(t, key);
		cr_assert_eq(v != NULL, m->live[i], "step %d: key %d %s", step,
		    i, m->live[i] ? "lost" : "not dropped");
		if (v != NULL)
			cr_assert_eq(v->a, (uint64_t)i + 1, "step %d", step);
	}
}

static uint64_t
new_expiry(uint64_t now_ticks, int *seq)
{
	int64_t	 base = (int64_t)now_ticks + (int64_t)rnd(200) - 5;

	if (base < 0)
		base = 0;
	return (uint64_t)base * TICK + (uint64_t)(*seq)++;
}

/*
 * ngroups: keys spread over this many groups (evenly, but for skewed);
 * skewed: half the keys in group 0, the hog.
 */
static void
random_run(uint64_t seed, int ngroups, int skewed)
{
	struct ttable	*t = ttable_new(sizeof(struct val), MAXENT);
	struct model	 m;
	char		 key[16], group[16];
	uint64_t	 now_ticks = 10, now;
	void		*v;
	int		 step, seq = 1, k, g, i, n, rc, hogn, have, gone;
	int		 cand[NGROUPS];

	memset(&m, 0, sizeof(m));
	rng = seed;
	for (step = 0; step < NOPS; step++) {
		now_ticks += rnd(300) == 0 ? 250 : rnd(3);
		now = now_ticks * TICK;
		k = (int)rnd(NKEYS);
		switch (rnd(10)) {
		case 0:
			if (!m.live[k])
				break;
			names(k, 0, key, group);
			ttable_remove(t, ttable_find(t, key));
			m.live[k] = 0;
			m.count--;
			break;
		case 1:
		case 2:
			if (!m.live[k])
				break;
			names(k, 0, key, group);
			m.expiry[k] = new_expiry(now_ticks, &seq);
			ttable_set_expiry(t, ttable_find(t, key), m.expiry[k]);
			break;
		default:
			/* Mostly each key's own group; now and then another. */
			if (rnd(20) == 0)
				g = (int)rnd((uint32_t)ngroups);
			else if (skewed && k < NKEYS / 2)
				g = 0;
			else
				g = k % ngroups;
			names(k, g, key, group);
			v = NULL;
			rc = ttable_get(t, key, group, now, &v);
			if (m.live[k]) {
				cr_assert_eq(rc, 0, "step %d", step);
				m.group[k] = g;
				break;
			}
			for (n = 0; n < TTABLE_RECLAIM_MAX; n++) {
				i = earliest(&m, 0, 1);
				if (i < 0 || m.expiry[i] > now)
					break;
				m.live[i] = 0;
				m.count--;
			}
			memset(cand, -1, sizeof(cand));
			if (m.count >= MAXENT) {
				hogn = 0;
				for (i = 0; i < NGROUPS; i++)
					if (group_count(&m, i) > hogn)
						hogn = group_count(&m, i);
				have = group_count(&m, g);
				if (hogn < have + 2) {
					cr_assert_eq(rc, TTABLE_EFULL,
					    "step %d: rc %d", step, rc);
					break;
				}
				/* Any group tied for the most may lose. */
				for (i = 0; i < NGROUPS; i++)
					if (group_count(&m, i) == hogn)
						cand[i] = earliest(&m, i, 0);
			}
			cr_assert_eq(rc, 1, "step %d: rc %d", step, rc);
			gone = -1;
			for (i = 0; i < NGROUPS; i++) {
				if (cand[i] < 0)
					continue;
				names(cand[i], 0, key, group);
				if (ttable_find(t, key) == NULL) {
					cr_assert_eq(gone, -1, "step %d: two "
					    "evicted", step);
					gone = cand[i];
				}
			}
			if (m.count >= MAXENT) {
				cr_assert_neq(gone, -1, "step %d: nothing "
				    "evicted", step);
				m.live[gone] = 0;
				m.count--;
			}
			((struct val *)v)->a = (uint64_t)k + 1;
			m.live[k] = 1;
			m.group[k] = g;
			m.expiry[k] = new_expiry(now_ticks, &seq);
			m.count++;
			ttable_set_expiry(t, v, m.expiry[k]);
			break;
		}
		check(t, &m, step);
	}
	ttable_free(t);
}

Test(ttable, random_operations_match_a_model, .timeout = 120)
{
	random_run(0x9e3779b97f4a7c15ULL, 5, 1);
	random_run(12345, 5, 1);
	random_run(0xdeadbeefULL, NGROUPS, 0);
	random_run(777, NGROUPS, 0);
	random_run(4242, 3, 0);
}

/* ------------------------------------------------------------------ */
/* The daemon's size: no operation walks the table */

#define BIG	(256 * 1024)
/* Three heaps and two trees of at most 2^18 entries: O(log n) steps. */
#define LOGBOUND	400

Test(ttable, full_big_table_insert_is_logarithmic, .timeout = 120)
{
	struct ttable	*t = ttable_new(sizeof(struct val), BIG);
	char		 key[32];
	uint64_t	 before;
	void		*v;
	int		 i;

	cr_assert_not_null(t);
	for (i = 0; i < BIG; i++) {
		snprintf(key, sizeof(key), "hog%d", i);
		cr_assert_eq(ttable_get(t, key, "u:666", 0, &v), 1);
		ttable_set_expiry(t, v, 1000000 + (uint64_t)i * 7919 % BIG);
	}
	cr_assert_eq(ttable_count(t), BIG);

	before = ttable_ops(t);
	cr_assert_eq(ttable_get(t, "mine", "u:1000", 1000, &v), 1);
	ttable_set_expiry(t, v, 5000);
	cr_expect_lt(ttable_ops(t) - before, LOGBOUND, "evicting insert: %llu "
	    "steps", (unsigned long long)(ttable_ops(t) - before));
	/* hog0 had the earliest expiry. */
	cr_expect_null(ttable_find(t, "hog0"));

	before = ttable_ops(t);
	cr_assert_eq(ttable_get(t, "hogx", "u:666", 1000, &v), TTABLE_EFULL);
	cr_expect_lt(ttable_ops(t) - before, LOGBOUND, "refused insert: %llu "
	    "steps", (unsigned long long)(ttable_ops(t) - before));

	/* Everything expired at once: still a bounded batch per insert. */
	before = ttable_ops(t);
	cr_assert_eq(ttable_get(t, "late", "u:1001", 5000000, &v), 1);
	cr_expect_lt(ttable_ops(t) - before,
	    (uint64_t)TTABLE_RECLAIM_MAX * LOGBOUND, "reclaiming insert: %llu "
	    "steps", (unsigned long long)(ttable_ops(t) - before));
	cr_expect_eq(ttable_count(t), BIG - TTABLE_RECLAIM_MAX + 1);
	ttable_free(t);
}
