/*
 * harness_ledger.c - the ledgers of acknowledged writes that workers keep
 * (harness_load.h): making them, reading them, and checking a store
 * against them after the daemon was killed in the middle of writes.
 *
 * Ledgers are read at the end of a test and may hold a hundred thousand
 * lines (a soak): keys are looked up in a hash table while a file is
 * read, and found by binary search afterwards.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness_load.h"

/* --- acknowledged writes -------------------------------------------------- */

const char *
itl_ack_file(const char *name, const char *user)
{
	const char	*path = it_path(name);
	int		 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert(fd != -1, "%s: %s", path, strerror(errno));
	cr_assert_eq(fchown(fd, it_uid(user), it_gid(user)), 0, "chown %s: "
	    "%s", path, strerror(errno));
	close(fd);
	/* The worker writes its tokens here: teardown looks for each in
	 * the daemon's log and records. */
	it_token_file(path);
	return path;
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct itl_key *)a)->id,
	    ((const struct itl_key *)b)->id);
}

static char *
dup_or_die(const char *s, size_t n)
{
	char	*d = strndup(s, n);

	cr_assert_not_null(d, "out of memory");
	return d;
}

/* The key of id in this file's table, or NULL. */
static struct itl_key *
file_key(struct itl_ledger *l, struct hsearch_data *h, const char *id)
{
	ENTRY		 e, *found = NULL;

	/* hsearch_r() takes the key as char * and never writes it. */
	e.key = (char *)(uintptr_t)id;

	if (hsearch_r(e, FIND, &found, h) == 0 || found == NULL)
		return NULL;
	return &l->keys[(size_t)(uintptr_t)found->data];
}

static struct itl_key *
new_key(struct itl_ledger *l, struct hsearch_data *h, char **ids,
    size_t *nids, const char *id, const char *token, const char *path)
{
	struct itl_key	*k;
	ENTRY		 e, *found = NULL;

	cr_assert_eq(strlen(id), APIKEY_KEY_ID_SIZE - 1, "%s: key id %s", path,
	    id);
	cr_assert_null(file_key(l, h, id), "%s: key %s created twice", path,
	    id);
	k = reallocarray(l->keys, l->nkeys + 1, sizeof(*k));
	cr_assert_not_null(k, "out of memory");
	l->keys = k;
	k = &l->keys[l->nkeys];
	memset(k, 0, sizeof(*k));
	memcpy(k->id, id, APIKEY_KEY_ID_SIZE);
	k->token = dup_or_die(token, strlen(token));
	k->file = path;
	ids[*nids] = e.key = dup_or_die(id, strlen(id));
	(*nids)++;
	e.data = (void *)(uintptr_t)l->nkeys;
	cr_assert_neq(hsearch_r(e, ENTER, &found, h), 0, "hsearch: %s",
	    strerror(errno));
	l->nkeys++;
	return k;
}

void
itl_ledger_read(struct itl_ledger *l, const char *path)
{
	struct hsearch_data h;
	const char	*text = it_read_file(path, NULL), *p, *nl;
	char		 line[256], id[64], arg[160], **ids;
	struct itl_key	*k;
	size_t		 lines = 0, nids = 0, i;
	int		 pending_create = 0;

	for (p = text; *p != '\0'; p++)
		lines += *p == '\n';
	memset(&h, 0, sizeof(h));
	cr_assert_neq(hcreate_r(lines * 2 + 16, &h), 0, "hcreate");
	ids = calloc(lines + 1, sizeof(*ids));
	cr_assert_not_null(ids, "out of memory");
	for (p = text; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		cr_assert_not_null(nl, "%s: a line without its newline: %s",
		    path, p);
		cr_assert_lt((size_t)(nl - p), sizeof(line), "%s: long line",
		    path);
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		id[0] = arg[0] = '\0';
		if (strcmp(line, "? c") == 0) {
			/* The one before never got its answer. */
			l->pending_creates += (size_t)pending_create;
			pending_create = 1;
			continue;
		}
		if (sscanf(line, "? r %63s", id) == 1) {
			cr_assert_not_null(k = file_key(l, &h, id), "%s: "
			    "revoking unknown key %s", path, id);
			k->pending_revoke = 1;
			continue;
		}
		l->nlines++;
		if (line[0] == 'p')
			continue;
		cr_assert(sscanf(line + 1, " %63s %159s", id, arg) >= 1 &&
		    line[1] == ' ', "%s: bad line \"%s\"", path, line);
		switch (line[0]) {
		case 'c':
		case 'e':
			k = new_key(l, &h, ids, &nids, id, arg, path);
			k->expiring = line[0] == 'e';
			pending_create = 0;
			break;
		case 'u':
		case 'o':
		case 'r':
			cr_assert_not_null(k = file_key(l, &h, id), "%s: %s of "
			    "a key it did not create", path, line);
			cr_assert(!k->revoked, "%s: %s after its revoke", path,
			    line);
			if (line[0] == 'r') {
				k->revoked = 1;
				k->pending_revoke = 0;
			} else if (line[0] == 'u') {
				free(k->name);
				k->name = dup_or_die(arg, strlen(arg));
			} else {
				k->old = reallocarray(k->old, k->nold + 1,
				    sizeof(*k->old));
				cr_assert_not_null(k->old, "out of memory");
				k->old[k->nold++] = k->token;
				k->token = dup_or_die(arg, strlen(arg));
			}
			break;
		default:
			cr_assert_fail("%s: bad line \"%s\"", path, line);
		}
	}
	l->pending_creates += (size_t)pending_create;
	hdestroy_r(&h);
	for (i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	qsort(l->keys, l->nkeys, sizeof(*l->keys), key_cmp);
}

const struct itl_key *
itl_ledger_find(const struct itl_ledger *l, const char *id)
{
	struct itl_key	 k;

	memset(&k, 0, sizeof(k));
	snprintf(k.id, sizeof(k.id), "%s", id);
	return bsearch(&k, l->keys, l->nkeys, sizeof(k), key_cmp);
}

static void
wipe_free(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
	free(s);
}

void
itl_ledger_free(struct itl_ledger *l)
{
	size_t	 i, j;

	for (i = 0; i < l->nkeys; i++) {
		wipe_free(l->keys[i].token);
		for (j = 0; j < l->keys[i].nold; j++)
			wipe_free(l->keys[i].old[j]);
		free(l->keys[i].old);
		free(l->keys[i].name);
	}
	free(l->keys);
	memset(l, 0, sizeof(*l));
}

/* --- crashes during writes ------------------------------------------------ */

#define MAX_WRITERS	8
/* The writers' pace is the disk's (a commit each); this bounds it. */
#define WRITES_MS	(18 * IT_DEADLINE_MS)

static off_t
file_size(const char *path)
{
	struct stat	 st;

	cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
	return st.st_size;
}

void
itl_writes_until_kill(const char *const *users, size_t n, long per,
    long long at, const char *tag, const char **acks)
{
	struct it_prog	*w[MAX_WRITERS];
	const char	*report;
	long long	 total;
	size_t		 i, stopped = 0;
	int64_t		 t0 = it_now_ms(), end = t0 + WRITES_MS;
	int		 st;

	cr_assert_leq(n, MAX_WRITERS);
	for (i = 0; i < n; i++) {
		acks[i] = itl_ack_file(it_printf("ack-%s-%s", tag, users[i]),
		    users[i]);
		w[i] = itl_worker(users[i], "writes", it_sock_dir(),
		    it_printf("%ld", per), acks[i], NULL);
	}
	for (;;) {
		for (i = 0, total = 0; i < n; i++)
			total += (long long)file_size(acks[i]);
		if (total >= at)
			break;
		cr_assert(it_now_ms() < end, "the writers wrote %lld bytes of "
		    "ledger in %d ms", total, WRITES_MS);
		it_msleep(2);
	}
	cr_assert_eq(kill(it_daemon_pid(), SIGKILL), 0);
	st = it_wait_daemon_exit(IT_DEADLINE_MS);
	cr_assert_eq(st, 128 + SIGKILL, "apikeyd exit status %d", st);
	cr_log_info("%s: killed after %lld ms, with %lld bytes of ledgers",
	    tag, (long long)(it_now_ms() - t0), total);
	for (i = 0; i < n; i++) {
		report = it_prog_until(w[i], "done", IT_DEADLINE_MS);
		/* -1, EUNAVAIL: the daemon went away under the call. */
		if (strncmp(report, "stopped ", 8) == 0) {
			cr_assert(strstr(report, " -1 ") != NULL, "%s: %s",
			    users[i], report);
			stopped++;
		} else
			cr_assert_str_eq(report, it_printf("wrote %ld\n", per),
			    "%s", users[i]);
		cr_assert_eq(it_prog_end(w[i], IT_DEADLINE_MS), 0);
	}
	cr_assert_gt(stopped, 0, "every writer had finished: the kill came "
	    "too late to test anything");
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ids of owner's keys in the store, sorted. */
static char **
stored_ids(const char *owner, size_t *n)
{
	struct apikey_key_list *l = NULL;
	char		**ids;
	size_t		 i;
	int		 root = strcmp(owner, "root") == 0, rc;

	rc = apikey_key_list(it_aclient(), root ? APIKEY_OWNER_SELF :
	    APIKEY_OWNER_USER, root ? NULL : owner, &l);
	cr_assert_eq(rc, 0, "key list of %s: %s", owner, apikey_strerror(rc));
	*n = apikey_key_list_count(l);
	ids = calloc(*n + 1, sizeof(*ids));
	cr_assert_not_null(ids, "out of memory");
	for (i = 0; i < *n; i++)
		ids[i] = dup_or_die(apikey_key_id(apikey_key_list_get(l, i)),
		    APIKEY_KEY_ID_SIZE);
	apikey_key_list_free(l);
	qsort(ids, *n, sizeof(*ids), id_cmp);
	return ids;
}

enum apikey_code
itl_code(const char *token)
{
	struct apikey_result *res = NULL;
	enum apikey_code code;
	int		 rc;

	rc = apikey_verify(it_vclient(), token, NULL, &res);
	cr_assert_eq(rc, 0, "verify: %s", apikey_strerror(rc));
	code = apikey_result_code(res);
	apikey_result_free(res);
	return code;
}

/* Whether user u is among the first i of users. */
static int
seen_before(const char *const *users, size_t i, const char *u)
{
	while (i-- > 0)
		if (strcmp(users[i], u) == 0)
			return 1;
	return 0;
}

void
itl_check_writes(const char *const *users, const char *const *acks,
    size_t n, const char *when)
{
	struct itl_ledger led;
	const struct itl_key *k;
	const char	*id;
	char		**ids;
	size_t		 i, j, u, nids, live = 0, gone = 0, unacked = 0;

	memset(&led, 0, sizeof(led));
	for (i = 0; i < n; i++)
		itl_ledger_read(&led, acks[i]);
	for (u = 0; u < n; u++) {
		if (seen_before(users, u, users[u]))
			continue;
		ids = stored_ids(users[u], &nids);
		for (j = 0; j < nids; j++) {
			if ((k = itl_ledger_find(&led, ids[j])) == NULL)
				unacked++;
			else
				cr_assert(!k->revoked, "%s: key %s of %s is in "
				    "the store, its revoke was acknowledged",
				    when, ids[j], users[u]);
		}
		for (j = 0; j < led.nkeys; j++) {
			k = &led.keys[j];
			for (i = 0; i < n && k->file != acks[i]; i++)
				;
			cr_assert_lt(i, n);
			if (strcmp(users[i], users[u]) != 0 || k->revoked ||
			    k->pending_revoke)
				continue;
			id = k->id;
			cr_assert_not_null(bsearch(&id, ids, nids,
			    sizeof(*ids), id_cmp), "%s: key %s of %s was "
			    "acknowledged and is not in the store", when,
			    k->id, users[u]);
		}
		for (j = 0; j < nids; j++)
			free(ids[j]);
		free(ids);
	}
	cr_assert_leq(unacked, led.pending_creates, "%s: %zu keys in the "
	    "store that no writer was told of, and only %zu creates were on "
	    "their way", when, unacked, led.pending_creates);
	/* Each acknowledged key, one by one, by its token. */
	for (j = 0; j < led.nkeys; j++) {
		k = &led.keys[j];
		if (k->pending_revoke)
			continue;
		cr_assert_eq(itl_code(k->token), k->revoked ?
		    APIKEY_NOT_FOUND : APIKEY_VALID, "%s: key %s (%s)", when,
		    k->id, k->revoked ? "revoked" : "created");
		if (k->revoked)
			gone++;
		else
			live++;
	}
	cr_log_info("%s: %zu acknowledged writes: %zu keys present and "
	    "VALID, %zu revoked and NOT_FOUND; %zu unacknowledged keys "
	    "stored of %zu creates on their way", when, led.nlines, live,
	    gone, unacked, led.pending_creates);
	itl_ledger_free(&led);
}
