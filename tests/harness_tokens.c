/*
 * harness_tokens.c - token bookkeeping for the "never logged" checks of
 * the integration tests, and the search for secrets.
 *
 * Every token a test is given is noted (it_key(), apikeyctl's output, and
 * libapikey's key create, create-many and rotate, which this file
 * interposes), and it_teardown() looks for each one's secret in the
 * daemon's log, in what root can read of the daemon's records (the audit
 * log, every key listing), in every output the harness captured and in
 * every file under the test's root, except the few that hold a token by
 * design. One pass over each text finds every noted secret: the secrets
 * are sorted and each 43-character base62 window is looked up.
 *
 * A test notes a handful of tokens, a load test thousands. The state is
 * per test (Criterion runs each in a process of its own); the paths,
 * apikeyctl runs and captured files it needs come from the other harness
 * files through harness_int.h, mostly as arguments.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_int.h"

/* A token's secret: 43 base62 characters, after prefix_id_. */
#define SECRET_LEN	43
/* Keys named in a failure for one text, at most. */
#define SCAN_REPORT_MAX	8
/* Files under the root larger than this are a problem, not scanned. */
#define SCAN_FILE_MAX	((off_t)256 << 20)

/* A noted token's secret (into noted.tokens[tok]), sorted for bsearch(). */
struct secret_ent {
	const char	*s;
	size_t		 tok;
};

/* A text to look for secrets in at teardown. */
struct later {
	const char	*what;
	const char	*text;		/* harness-owned */
};

static struct {
	char		**tokens;	/* noted, see it_note_token() */
	size_t		 ntokens, tokcap;
	size_t		*tokset;	/* set: 1 + index into tokens */
	size_t		 tokset_cap;
	struct secret_ent *sec;		/* their secrets, sorted */
	size_t		 nsec;
	struct later	*later;		/* see it_scan_later() */
	size_t		 nlater;
} noted;

/* --- tokens --------------------------------------------------------------- */

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int
isb62(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z');
}

static int
isprefixc(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

/* CRC32 as zlib computes it (reflected, polynomial 0xedb88320). */
static uint32_t
crc32_of(const char *s, size_t len)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < len; i++) {
		c ^= (unsigned char)s[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

static void
crc_encode(uint32_t v, char out[6])
{
	int i;

	for (i = 5; i >= 0; i--) {
		out[i] = b62[v % 62];
		v /= 62;
	}
}

/*
 * Length of a token starting at s (prefix_id_secretcrc, followed by a
 * non-base62 character), or 0.
 */
static size_t
token_len_at(const char *s)
{
	size_t i = 0, j;

	while (i < 16 && isprefixc(s[i]))
		i++;
	if (i == 0 || s[i] != '_')
		return 0;
	i++;
	for (j = 0; j < 11; j++, i++)
		if (!isb62(s[i]))
			return 0;
	if (s[i++] != '_')
		return 0;
	for (j = 0; j < 49; j++, i++)
		if (!isb62(s[i]))
			return 0;
	if (isb62(s[i]) || s[i] == '_')
		return 0;
	return i;
}

/* Offset of the secret in a token. */
static size_t
secret_off(const char *token)
{
	const char *p;

	p = strchr(token, '_');
	cr_assert_not_null(p, "not a token");
	p = strchr(p + 1, '_');
	cr_assert_not_null(p, "not a token");
	return (size_t)(p + 1 - token);
}

/* The secret of a token already checked by token_len_at(). */
static const char *
secret_of(const char *token)
{
	return strchr(strchr(token, '_') + 1, '_') + 1;
}

/* Noting may happen on a test's own threads (libapikey calls). */
static pthread_mutex_t token_lock = PTHREAD_MUTEX_INITIALIZER;

/* FNV-1a, for the set of noted tokens. */
static size_t
token_hash(const char *s)
{
	uint64_t h = 14695981039346656037u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return (size_t)h;
}

/*
 * The slot of token in noted.tokset: where it is, or the empty one where it
 * goes. The set is never more than half full. Load tests note thousands
 * of tokens, so the lookup is not a walk of the list.
 */
static size_t *
tokset_slot(const char *token)
{
	size_t i = token_hash(token) & (noted.tokset_cap - 1);

	while (noted.tokset[i] != 0 &&
	    strcmp(noted.tokens[noted.tokset[i] - 1], token) != 0)
		i = (i + 1) & (noted.tokset_cap - 1);
	return &noted.tokset[i];
}

/* Doubles the set (and makes it, the first time); -1 when memory is short. */
static int
tokset_grow(void)
{
	size_t *old = noted.tokset, oldcap = noted.tokset_cap, i;

	noted.tokset_cap = oldcap == 0 ? 256 : oldcap * 2;
	if ((noted.tokset = calloc(noted.tokset_cap,
	    sizeof(*noted.tokset))) == NULL) {
		noted.tokset = old;
		noted.tokset_cap = oldcap;
		return -1;
	}
	for (i = 0; i < noted.ntokens; i++)
		*tokset_slot(noted.tokens[i]) = i + 1;
	free(old);
	return 0;
}

/*
 * Adds token to the noted ones unless it is there. Returns 0, or -1 when
 * it is not shaped like a token or memory is short; never asserts, for the
 * libapikey calls interposed below.
 */
static int
note_token(const char *token)
{
	size_t cap, *slot;
	char **p;
	int rc = -1;

	if (token_len_at(token) != strlen(token))
		return -1;
	pthread_mutex_lock(&token_lock);
	if (2 * (noted.ntokens + 1) > noted.tokset_cap && tokset_grow() == -1)
		goto out;
	slot = tokset_slot(token);
	if (*slot != 0) {
		rc = 0;
		goto out;
	}
	if (noted.ntokens == noted.tokcap) {
		cap = noted.tokcap == 0 ? 64 : noted.tokcap * 2;
		if ((p = realloc(noted.tokens, cap * sizeof(*p))) == NULL)
			goto out;
		noted.tokens = p;
		noted.tokcap = cap;
	}
	if ((noted.tokens[noted.ntokens] = strdup(token)) == NULL)
		goto out;
	*slot = ++noted.ntokens;
	rc = 0;
 out:
	pthread_mutex_unlock(&token_lock);
	return rc;
}

void
it_note_token(const char *token)
{
	cr_assert(token_len_at(token) == strlen(token),
	    "not shaped like a token (%zu characters)", strlen(token));
	cr_assert(note_token(token) == 0, "out of memory");
}

/* Notes every token-shaped string in text; -1 when memory is short. */
static int
note_tokens(const char *text)
{
	const char *p;
	size_t n;
	char *t;
	int rc = 0;

	for (p = text; *p != '\0'; p++) {
		if (!isprefixc(*p) || (p > text && (isb62(p[-1]) ||
		    p[-1] == '_')))
			continue;
		n = token_len_at(p);
		if (n == 0)
			continue;
		if ((t = strndup(p, n)) == NULL || note_token(t) == -1)
			rc = -1;
		free(t);
		p += n - 1;
	}
	return rc;
}

void
it_note_tokens(const char *text)
{
	cr_assert(note_tokens(text) == 0, "out of memory");
}

const char *
it_id(const char *token)
{
	const char *p;

	p = strchr(token, '_');
	cr_assert_not_null(p, "not a token");
	return it_keep(strndup(p + 1, 11));
}

const char *
it_wrong_secret(const char *token)
{
	size_t len = strlen(token), off = secret_off(token);
	char *t, crc[6];

	cr_assert(len == off + 49, "not a token");
	crc_encode(crc32_of(token, len - 6), crc);
	cr_assert(memcmp(crc, token + len - 6, 6) == 0,
	    "harness CRC32 disagrees with the token's checksum");
	t = it_keep(strdup(token));
	/* The last secret digit: the value stays below 2^256. */
	t[off + 42] = t[off + 42] == 'a' ? 'b' : 'a';
	crc_encode(crc32_of(t, len - 6), t + len - 6);
	return t;
}

const char *
it_with_prefix(const char *token, const char *prefix)
{
	const char *rest = strchr(token, '_');
	char *t;
	size_t len;

	cr_assert_not_null(rest, "not a token");
	t = it_keep(strdup(it_printf("%s%s", prefix, rest)));
	len = strlen(t);
	crc_encode(crc32_of(t, len - 6), t + len - 6);
	return t;
}

const char *
it_bad_crc(const char *token)
{
	char *t = it_keep(strdup(token));
	size_t len = strlen(t);

	t[len - 1] = t[len - 1] == '0' ? '1' : '0';
	return t;
}

/*
 * Every token a test is given through libapikey is noted, however the test
 * called libapikey, and even when it drops the token at once: these
 * definitions in the test binary come before libapikey.so's (the
 * executable is searched first), and note the token the real function
 * returned before handing it on.
 */
typedef int (*key_create_fn)(struct apikey_client *, enum apikey_owner_kind,
    const char *, const struct apikey_key_spec *, struct apikey_key **,
    char **);
typedef int (*key_rotate_fn)(struct apikey_client *, const char *, uint64_t,
    struct apikey_key **, char **);

static void *
real_symbol(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL) {
		fprintf(stderr, "harness: dlsym %s: %s\n", name, dlerror());
		abort();
	}
	return f;
}

int
apikey_key_create(struct apikey_client *c, enum apikey_owner_kind kind,
    const char *owner, const struct apikey_key_spec *spec,
    struct apikey_key **key_out, char **token_out)
{
	static key_create_fn real;
	int rc;

	if (real == NULL)
		real = (key_create_fn)real_symbol("apikey_key_create");
	rc = real(c, kind, owner, spec, key_out, token_out);
	if (rc == 0 && token_out != NULL && *token_out != NULL)
		(void)note_token(*token_out);
	return rc;
}

int
apikey_key_rotate(struct apikey_client *c, const char *id,
    uint64_t grace_seconds, struct apikey_key **key_out, char **token_out)
{
	static key_rotate_fn real;
	int rc;

	if (real == NULL)
		real = (key_rotate_fn)real_symbol("apikey_key_rotate");
	rc = real(c, id, grace_seconds, key_out, token_out);
	if (rc == 0 && token_out != NULL && *token_out != NULL)
		(void)note_token(*token_out);
	return rc;
}

typedef int (*key_create_many_fn)(struct apikey_client *,
    enum apikey_owner_kind, const char *, const struct apikey_key_spec *,
    uint32_t, apikey_key_fn, void *, uint32_t *);

/* The caller's callback of apikey_key_create_many, behind the noting. */
struct many_wrap {
	apikey_key_fn	 fn;
	void		*arg;
};

static void
note_many(void *arg, const struct apikey_key *key, const char *token)
{
	const struct many_wrap *w = arg;

	(void)note_token(token);
	w->fn(w->arg, key, token);
}

int
apikey_key_create_many(struct apikey_client *c, enum apikey_owner_kind kind,
    const char *owner, const struct apikey_key_spec *spec, uint32_t count,
    apikey_key_fn fn, void *arg, uint32_t *made)
{
	static key_create_many_fn real;
	struct many_wrap w = { fn, arg };

	if (real == NULL)
		real = (key_create_many_fn)real_symbol(
		    "apikey_key_create_many");
	/* A NULL callback is the library's to refuse. */
	return real(c, kind, owner, spec, count, fn != NULL ? note_many : NULL,
	    &w, made);
}

/* --- looking for secrets -------------------------------------------------- */

/* Appends one line; never asserts (teardown uses it). */
void
ith_problem_add(struct ith_problems *pb, const char *fmt, ...)
{
	va_list ap;
	char *line = NULL, *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	p = realloc(pb->buf, pb->len + (size_t)n + 2);
	if (p != NULL) {
		memcpy(p + pb->len, line, (size_t)n);
		pb->len += (size_t)n;
		p[pb->len++] = '\n';
		p[pb->len] = '\0';
		pb->buf = p;
		pb->n++;
	}
	free(line);
}

static int
secret_ent_cmp(const void *a, const void *b)
{
	return memcmp(((const struct secret_ent *)a)->s,
	    ((const struct secret_ent *)b)->s, SECRET_LEN);
}

/* Sorts the secrets of the tokens noted so far; -1 when memory is short. */
static int
secrets_index(void)
{
	struct secret_ent *e;
	size_t i;

	if (noted.sec != NULL && noted.nsec == noted.ntokens)
		return 0;
	e = realloc(noted.sec, (noted.ntokens + 1) * sizeof(*e));
	if (e == NULL)
		return -1;
	for (i = 0; i < noted.ntokens; i++) {
		e[i].s = secret_of(noted.tokens[i]);
		e[i].tok = i;
	}
	qsort(e, noted.ntokens, sizeof(*e), secret_ent_cmp);
	noted.sec = e;
	noted.nsec = noted.ntokens;
	return 0;
}

/*
 * The offset of the first secret of a noted token in len bytes (of any
 * content) at text, at or after from, and in *tok that token's index; -1
 * if there is none. Each window of SECRET_LEN base62 characters is looked
 * up among the sorted secrets, so one pass finds all of them.
 */
static ssize_t
find_secret(const char *text, size_t len, size_t from, size_t *tok)
{
	const struct secret_ent *e;
	struct secret_ent key;
	size_t i, run = 0;

	for (i = from; i < len; i++) {
		if (!isb62((unsigned char)text[i])) {
			run = 0;
			continue;
		}
		if (++run < SECRET_LEN)
			continue;
		key.s = text + i + 1 - SECRET_LEN;
		e = bsearch(&key, noted.sec, noted.nsec, sizeof(*e),
		    secret_ent_cmp);
		if (e != NULL) {
			*tok = e->tok;
			return (ssize_t)(i + 1 - SECRET_LEN);
		}
	}
	return -1;
}

/*
 * Adds one problem for each noted key whose secret occurs in len bytes at
 * text ("the whole token of key ID appears in WHAT" when the whole token
 * does somewhere, else "the secret of key ID ..."), with the offset of the
 * first, naming SCAN_REPORT_MAX keys at most. Returns the number of keys
 * found. Never asserts.
 */
static size_t
scan_secrets(struct ith_problems *pb, const char *what, const char *text,
    size_t len)
{
	unsigned char *seen;
	size_t *first, t, off, soff, tlen, i, found = 0;
	ssize_t hit;

	if (noted.ntokens == 0 || secrets_index() == -1)
		return 0;
	seen = calloc(noted.nsec, 1);
	first = calloc(noted.nsec, sizeof(*first));
	if (seen == NULL || first == NULL) {
		ith_problem_add(pb, "out of memory scanning %s", what);
		free(seen);
		free(first);
		return 0;
	}
	for (off = 0; (hit = find_secret(text, len, off, &t)) != -1;
	    off = (size_t)hit + 1) {
		soff = (size_t)(secret_of(noted.tokens[t]) - noted.tokens[t]);
		tlen = strlen(noted.tokens[t]);
		if (!seen[t])
			first[t] = (size_t)hit;
		/* 1: the secret, 2: the whole token. */
		seen[t] |= 1;
		if ((size_t)hit >= soff && (size_t)hit - soff + tlen <= len &&
		    memcmp(text + hit - soff, noted.tokens[t], tlen) == 0)
			seen[t] |= 2;
	}
	for (i = 0; i < noted.nsec; i++) {
		if (!seen[i] || found++ >= SCAN_REPORT_MAX)
			continue;
		soff = (size_t)(secret_of(noted.tokens[i]) - noted.tokens[i]);
		ith_problem_add(pb, "the %s of key %.11s appears in %s (at "
		    "byte %zu)", (seen[i] & 2) ? "whole token" : "secret",
		    noted.tokens[i] + soff - 12, what, first[i]);
	}
	if (found > SCAN_REPORT_MAX)
		ith_problem_add(pb, "... and the secrets of %zu more keys "
		    "appear in %s", found - SCAN_REPORT_MAX, what);
	free(seen);
	free(first);
	return found;
}

void
it_assert_no_token(const char *what, const char *text)
{
	struct ith_problems pb = { 0 };

	if (scan_secrets(&pb, what, text, strlen(text)) == 0)
		return;
	it_keep(pb.buf);
	cr_assert_fail("%s", pb.buf);
}

void
it_scan_later(const char *what, const char *text)
{
	struct later *l;

	l = realloc(noted.later, (noted.nlater + 1) * sizeof(*l));
	cr_assert_not_null(l, "out of memory");
	noted.later = l;
	noted.later[noted.nlater].what = what;
	noted.later[noted.nlater].text = text;
	noted.nlater++;
}

/* --- the teardown's search for secrets ------------------------------------ */

/*
 * The regular file at path, whole and NUL-terminated (*len its size), or
 * NULL with *why saying why not (NULL too when it is gone: daemons may
 * remove their files). Caller frees. Never asserts.
 */
static char *
slurp(const char *path, size_t *len, const char **why)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int fd;

	*why = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT)
			*why = strerror(errno);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		*why = "not a regular file";
	else if (st.st_size > SCAN_FILE_MAX)
		*why = "too large to scan";
	else if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		*why = "out of memory";
	/* A file may still grow (the daemon's log): read what fstat saw. */
	while (buf != NULL && n < (size_t)st.st_size) {
		r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (buf != NULL) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/*
 * nftw() passes its callback no argument: scan_files() leaves them here,
 * the daemon's log and the files that hold a token by design skipped.
 */
static struct {
	struct ith_problems *pb;
	const char	*log_path;
	const char *const *captures;
	size_t		 ncaptures;
} files;

static int
scan_file(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	const char *why;
	size_t i, len;
	char *data;

	(void)f;
	/* Regular files only: no socket, no FIFO of it_nss_block(). The
	 * daemon's log has a check of its own, named for it. */
	if (flag != FTW_F || !S_ISREG(st->st_mode) ||
	    strcmp(path, files.log_path) == 0)
		return 0;
	/*
	 * The captured standard output of a background `key create` or
	 * `key rotate` (it_ctl_spawn()) holds the token it printed: that is
	 * what the command is for, and the test reads it from there.
	 */
	for (i = 0; i < files.ncaptures; i++)
		if (strcmp(path, files.captures[i]) == 0)
			return 0;
	if ((data = slurp(path, &len, &why)) == NULL) {
		if (why != NULL)
			ith_problem_add(files.pb, "%s: not scanned: %s", path,
			    why);
		return 0;
	}
	scan_secrets(files.pb, path, data, len);
	free(data);
	return 0;
}

/*
 * Looks for the noted secrets in every regular file under the root: the
 * state directory (hashes only, and LMDB's map), NSS and PAM files,
 * apikeyctl's and the servers' captured output, sanitizer and valgrind
 * reports, uploads. The daemon's log at log_path and the captures are
 * left out.
 */
static void
scan_files(struct ith_problems *pb, const char *root, const char *log_path,
    const char *const *captures, size_t ncaptures)
{
	files.pb = pb;
	files.log_path = log_path;
	files.captures = captures;
	files.ncaptures = ncaptures;
	if (nftw(root, scan_file, 16, FTW_PHYS) == -1)
		ith_problem_add(pb, "walking %s: %s", root, strerror(errno));
	memset(&files, 0, sizeof(files));
}

void
it_assert_no_token_in_files(void)
{
	struct ith_problems pb = { 0 };
	const char *const *captures;
	size_t ncaptures;

	cr_assert(ith_ready(), "it_prepare first");
	captures = ith_ctl_captures(&ncaptures);
	scan_files(&pb, it_root(), it_log_path(), captures, ncaptures);
	if (pb.n == 0)
		return;
	it_keep(pb.buf);
	cr_assert_fail("%s", pb.buf);
}

/*
 * apikeyctl ARGS as root for the teardown: its standard output, or NULL
 * after adding a problem. Exit status 5 (no such user or tenant: a test
 * may have taken one away from the daemon's NSS) is NULL, no problem.
 * After one failure, runs nothing more: a daemon that does not answer
 * would cost TEARDOWN_CTL_MS a run. The bound is generous: after the
 * stress runs the audit log and the listings hold tens of thousands of
 * entries, and apikeyctl prints them under ASan.
 */
#define TEARDOWN_CTL_MS	120000

static const char *
teardown_ctl(struct ith_problems *pb, const char *const *args)
{
	static int failed;
	const char *e;
	struct it_run r;

	if (failed)
		return NULL;
	e = ith_ctl_try(args, TEARDOWN_CTL_MS, &r);
	if (e == NULL && r.status == 0)
		return r.out;
	if (e == NULL && r.status == 5)
		return NULL;
	failed = 1;
	ith_problem_add(pb, "%s as root, to look for secrets: %s; stderr: %s",
	    ith_ctl_what(args), e != NULL ? e : it_printf("exit %d",
	    r.status), r.err);
	return NULL;
}

/*
 * apikeyctl [--json] ARGS... as root, at teardown; looks for the noted
 * secrets in what it printed, which it returns (NULL when it failed).
 */
static const char *
scan_ctl(struct ith_problems *pb, int json, ...)
{
	const char *args[MAX_ARGS], *out;
	size_t n = 0;
	va_list ap;

	if (json)
		args[n++] = "--json";
	va_start(ap, json);
	it_argv_va(args, MAX_ARGS, n, ap);
	va_end(ap);
	out = teardown_ctl(pb, args);
	if (out != NULL)
		scan_secrets(pb, it_printf("what root reads with %s",
		    ith_ctl_what(args)), out, strlen(out));
	return out;
}

/*
 * What root reads of the daemon's records, scanned before the daemon
 * stops: the whole audit log (audit without --limit), plain and with
 * --json, and the keys of every fixture user and of every tenant (there
 * is no listing of all keys at once) with --json, which shows every field
 * whole where the plain table may shorten one. None of it ever holds a
 * token by design. Only while the daemon the harness started still runs
 * and answers on the test's socket directory, sockdir.
 */
static void
scan_records(struct ith_problems *pb, const char *sockdir)
{
	const char *out, *name;
	json_t *tenants;
	size_t i, j, nt = 0;
	int json;

	if (!ith_daemon_alive() || access(it_printf("%s/admin.sock",
	    sockdir), F_OK) != 0)
		return;
	out = scan_ctl(pb, 1, "tenant", "list", (const char *)NULL);
	tenants = out != NULL ? json_loads(out, 0, NULL) : NULL;
	if (out != NULL && !json_is_array(tenants))
		ith_problem_add(pb, "apikeyctl --json tenant list: not a JSON "
		    "array: %.200s", out);
	if (json_is_array(tenants))
		nt = json_array_size(tenants);
	for (json = 0; json < 2; json++)
		scan_ctl(pb, json, "audit", (const char *)NULL);
	for (i = 0; (name = ith_fixture_user(i)) != NULL; i++)
		scan_ctl(pb, 1, "key", "list", "--user", name,
		    (const char *)NULL);
	for (j = 0; j < nt; j++) {
		name = json_string_value(json_object_get(json_array_get(
		    tenants, j), "name"));
		if (name != NULL)
			scan_ctl(pb, 1, "key", "list", "--tenant", name,
			    (const char *)NULL);
	}
	json_decref(tenants);
}

/* Notes the tokens that background runs printed, reaped or not. */
static void
note_captured(const char *const *captures, size_t ncaptures)
{
	const char *why;
	size_t i, len;
	char *data;

	for (i = 0; i < ncaptures; i++) {
		if ((data = slurp(captures[i], &len, &why)) == NULL)
			continue;
		(void)note_tokens(data);
		free(data);
	}
}

void
ith_teardown_scan_live(struct ith_problems *pb, const char *sockdir,
    const char *const *captures, size_t ncaptures)
{
	note_captured(captures, ncaptures);
	if (noted.ntokens > 0)
		scan_records(pb, sockdir);
}

void
ith_teardown_scan(struct ith_problems *pb, const char *log,
    const char *root, const char *log_path, const char *const *captures,
    size_t ncaptures)
{
	size_t i;

	scan_secrets(pb, "the daemon log", log, strlen(log));
	for (i = 0; noted.ntokens > 0 && i < noted.nlater; i++)
		scan_secrets(pb, noted.later[i].what, noted.later[i].text,
		    strlen(noted.later[i].text));
	if (noted.ntokens > 0)
		scan_files(pb, root, log_path, captures, ncaptures);
}

void
ith_tokens_forget(void)
{
	size_t i;

	for (i = 0; i < noted.ntokens; i++) {
		explicit_bzero(noted.tokens[i], strlen(noted.tokens[i]));
		free(noted.tokens[i]);
	}
	free(noted.tokens);
	noted.tokens = NULL;
	noted.ntokens = noted.tokcap = 0;
	free(noted.tokset);
	noted.tokset = NULL;
	noted.tokset_cap = 0;
	free(noted.sec);
	noted.sec = NULL;
	noted.nsec = 0;
	free(noted.later);
	noted.later = NULL;
	noted.nlater = 0;
}
