/*
 * harness.c - shared helpers of the integration tests: nss_wrapper set-up,
 * apikeyd start and stop in a temporary directory, apikeyctl runs (as root
 * or, through setpriv, as a fixture user), libapikey verify helpers, token
 * bookkeeping for the "never logged" checks, and the FIFO trick that makes
 * NSS inside the daemon hang.
 *
 * Token bookkeeping: every token a test is given is noted (it_key(),
 * apikeyctl's output, and libapikey's key create, create-many and rotate,
 * which this file interposes), and it_teardown() looks for each one's secret in the
 * daemon's log, in what root can read of the daemon's records (the audit
 * log, every key listing), in every output the harness captured and in
 * every file under the test's root, except the few that hold a token by
 * design. One pass over each text finds every noted secret: the secrets
 * are sorted and each 43-character base62 window is looked up.
 *
 * Tests run one per process (Criterion), each with its own daemon, so the
 * state below is a plain static struct. Nothing here sleeps to wait for an
 * event: process exits are waited for on a pidfd (harness_proc.c), sockets
 * and verify codes are polled with a deadline.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

#define MAX_ARGS	96
#define MAX_SPAWNED	8
#define CTL_TIMEOUT_MS	30000
/* A token's secret: 43 base62 characters, after prefix_id_. */
#define SECRET_LEN	43
/* Keys named in a failure for one text, at most. */
#define SCAN_REPORT_MAX	8
/* Files under the root larger than this are a problem, not scanned. */
#define SCAN_FILE_MAX	((off_t)256 << 20)

static const char fixture_passwd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "alice:x:10001:10001:Alice:/nonexistent:/bin/sh\n"
    "bob:x:10002:10002:Bob:/nonexistent:/bin/sh\n"
    "carol:x:10003:20001:Carol:/nonexistent:/bin/sh\n"
    "dave:x:10004:10004:Dave:/nonexistent:/bin/sh\n"
    "eve:x:10005:10005:Eve:/nonexistent:/bin/sh\n";

static const char fixture_group[] =
    "root:x:0:\n"
    "alice:x:10001:\n"
    "bob:x:10002:\n"
    "dave:x:10004:\n"
    "eve:x:10005:\n"
    "acme:x:20001:alice\n"
    "acme-admins:x:20002:bob\n"
    "beta:x:20003:dave\n"
    "apikey-admins:x:20010:eve\n";

static const struct {
	const char	*name;
	uid_t		 uid;
	gid_t		 gid;
} fixture_users[] = {
	{ "root", 0, 0 },
	{ "alice", 10001, 10001 },
	{ "bob", 10002, 10002 },
	{ "carol", 10003, 20001 },
	{ "dave", 10004, 10004 },
	{ "eve", 10005, 10005 },
};

/* A noted token's secret (into it.tokens[tok]), sorted for bsearch(). */
struct secret_ent {
	const char	*s;
	size_t		 tok;
};

/* A text to look for secrets in at teardown. */
struct later {
	const char	*what;
	const char	*text;		/* harness-owned */
};

/* Problems found, one a line, for a failure message. */
struct problems {
	char		*buf;
	size_t		 len;
	size_t		 n;
};

static struct {
	int		 ready;
	char		 root[PATH_MAX];
	char		 state[PATH_MAX];
	char		 sock[PATH_MAX];
	char		 conf[PATH_MAX];
	char		 log[PATH_MAX];
	char		 passwd[PATH_MAX];
	char		 group[PATH_MAX];
	char		 apikeyd[PATH_MAX];
	char		 apikeyctl[PATH_MAX];
	pid_t		 pid;
	int		 nss_blocked;
	int		 nbg;
	struct apikey_client *vc;
	struct apikey_client *ac;
	char		**tokens;	/* noted, see it_note_token() */
	size_t		 ntokens, tokcap;
	size_t		*tokset;	/* set: 1 + index into tokens */
	size_t		 tokset_cap;
	struct secret_ent *sec;		/* their secrets, sorted */
	size_t		 nsec;
	struct later	*later;		/* see it_scan_later() */
	size_t		 nlater;
	char		**captures;	/* files with a token by design */
	size_t		 ncaptures;
	pid_t		 spawned[MAX_SPAWNED];
	int		 spawned_n[MAX_SPAWNED];	/* bg-N.out */
	size_t		 nspawned;
	char		**pool;
	size_t		 npool;
	json_t		**jpool;
	size_t		 njpool;
} it;

/* --- nss_wrapper: re-execute under it before main() --------------------- */

static pid_t reexec_child;

static void
forward_signal(int sig)
{
	if (reexec_child > 0)
		kill(reexec_child, sig);
}

static int
write_file(const char *path, const char *data, mode_t mode)
{
	size_t len = strlen(data);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd == -1)
		return -1;
	n = write(fd, data, len);
	if (close(fd) == -1 || n < 0 || (size_t)n != len)
		return -1;
	return chmod(path, mode);
}

/*
 * Runs before Criterion's main(). Without NSS_WRAPPER_PASSWD, writes the
 * fixture files into a fresh directory, sets the nss_wrapper environment
 * and runs this same binary again as a child, then removes the directory
 * and exits with the child's status. Criterion's workers inherit the
 * environment, so the constructor does nothing in them.
 */
__attribute__((constructor)) static void
it_reexec(int argc, char **argv, char **envp)
{
	char dir[] = "/tmp/apikey-it-nss.XXXXXX";
	char passwd[PATH_MAX], group[PATH_MAX], failures[PATH_MAX];
	char self[PATH_MAX], *preload = NULL, buf[4096];
	const char *old;
	struct sigaction sa;
	int status;
	size_t n;
	FILE *f;

	(void)argc;
	(void)envp;
	if (getenv("NSS_WRAPPER_PASSWD") != NULL)
		return;
	/*
	 * The binary by its name, not as /proc/self/exe: under valgrind
	 * (make valgrind) that names valgrind's own tool, while readlink()
	 * of it names the program valgrind runs.
	 */
	n = (size_t)readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n >= sizeof(self) - 1)
		snprintf(self, sizeof(self), "/proc/self/exe");
	else
		self[n] = '\0';
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) == -1) {
		perror("harness: mkdtemp");
		_exit(2);
	}
	snprintf(passwd, sizeof(passwd), "%s/passwd", dir);
	snprintf(group, sizeof(group), "%s/group", dir);
	if (write_file(passwd, fixture_passwd, 0644) == -1 ||
	    write_file(group, fixture_group, 0644) == -1) {
		perror("harness: fixture");
		_exit(2);
	}
	old = getenv("LD_PRELOAD");
	if (asprintf(&preload, "libnss_wrapper.so%s%s",
	    old != NULL && *old != '\0' ? " " : "",
	    old != NULL ? old : "") == -1)
		_exit(2);
	setenv("LD_PRELOAD", preload, 1);
	setenv("NSS_WRAPPER_PASSWD", passwd, 1);
	setenv("NSS_WRAPPER_GROUP", group, 1);
	snprintf(failures, sizeof(failures), "%s/teardown-failures", dir);
	setenv("APIKEY_IT_TEARDOWN_LOG", failures, 1);
	free(preload);

	reexec_child = fork();
	if (reexec_child == -1) {
		perror("harness: fork");
		_exit(2);
	}
	if (reexec_child == 0) {
		execv(self, argv);
		perror(self);
		_exit(127);
	}
	/* The terminal's ^C reaches the child by itself; a kill is passed on. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = forward_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	while (waitpid(reexec_child, &status, 0) == -1 && errno == EINTR)
		;
	status = it_proc_status(status);
	f = fopen(failures, "re");
	if (f != NULL) {
		fprintf(stderr, "harness: failures in test teardown (not in "
		    "Criterion's count above):\n");
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, stderr);
		fclose(f);
		unlink(failures);
		if (status == 0)
			status = 1;
	}
	unlink(passwd);
	unlink(group);
	rmdir(dir);
	_exit(status);
}

/* --- small things ---------------------------------------------------------- */

char *
it_keep(char *s)
{
	char **p;

	cr_assert_not_null(s, "out of memory");
	p = realloc(it.pool, (it.npool + 1) * sizeof(*p));
	cr_assert_not_null(p, "out of memory");
	it.pool = p;
	it.pool[it.npool++] = s;
	return s;
}

const char *
it_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0, "out of memory");
	return it_keep(s);
}

time_t
it_time(void)
{
	struct timespec ts;

	cr_assert_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
	return ts.tv_sec;
}

int64_t
it_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
it_msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

uid_t
it_uid(const char *user)
{
	size_t i;

	for (i = 0; i < sizeof(fixture_users) / sizeof(fixture_users[0]); i++)
		if (strcmp(fixture_users[i].name, user) == 0)
			return fixture_users[i].uid;
	cr_assert_fail("no fixture user %s", user);
	return (uid_t)-1;
}

gid_t
it_gid(const char *user)
{
	size_t i;

	for (i = 0; i < sizeof(fixture_users) / sizeof(fixture_users[0]); i++)
		if (strcmp(fixture_users[i].name, user) == 0)
			return fixture_users[i].gid;
	cr_assert_fail("no fixture user %s", user);
	return (gid_t)-1;
}

const char *
it_read_file(const char *path, size_t *len)
{
	char *buf = NULL, *p;
	size_t n = 0, cap = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(fd != -1, "open %s: %s", path, strerror(errno));
	for (;;) {
		if (cap - n < 4096) {
			cap = cap == 0 ? 65536 : cap * 2;
			p = realloc(buf, cap + 1);
			cr_assert_not_null(p, "out of memory");
			buf = p;
		}
		r = read(fd, buf + n, cap - n);
		if (r == -1 && errno == EINTR)
			continue;
		cr_assert(r >= 0, "read %s: %s", path, strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (buf == NULL)
		buf = malloc(1);
	cr_assert_not_null(buf, "out of memory");
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return it_keep(buf);
}

void
it_assert_has(const char *hay, const char *needle)
{
	cr_assert_not_null(hay);
	cr_assert(strstr(hay, needle) != NULL,
	    "expected \"%s\" in:\n%s", needle, hay);
}

void
it_assert_lacks(const char *hay, const char *needle)
{
	cr_assert_not_null(hay);
	cr_assert(strstr(hay, needle) == NULL,
	    "did not expect \"%s\" in:\n%s", needle, hay);
}

const char *
it_line(const char *text, size_t n)
{
	const char *p = text, *e;

	while (n > 0 && p != NULL && *p != '\0') {
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
		n--;
	}
	if (p == NULL || *p == '\0')
		return NULL;
	e = strchr(p, '\n');
	return it_keep(strndup(p, e != NULL ? (size_t)(e - p) : strlen(p)));
}

size_t
it_line_count(const char *text)
{
	size_t n = 0;

	for (; *text != '\0'; text++)
		if (*text == '\n')
			n++;
	return n;
}

const char *
it_field(const char *text, const char *name)
{
	size_t nl = strlen(name);
	const char *p = text, *e;

	while (p != NULL && *p != '\0') {
		e = strchr(p, '\n');
		if (strncmp(p, name, nl) == 0 && p[nl] == ':' &&
		    p[nl + 1] == ' ')
			return it_keep(strndup(p + nl + 2, e != NULL ?
			    (size_t)(e - p) - nl - 2 : strlen(p + nl + 2)));
		p = e != NULL ? e + 1 : NULL;
	}
	return NULL;
}

json_t *
it_json(const char *text)
{
	json_error_t jerr;
	json_t *j, **p;

	j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	cr_assert_not_null(j, "bad JSON (%s, line %d) in:\n%s", jerr.text,
	    jerr.line, text);
	p = realloc(it.jpool, (it.njpool + 1) * sizeof(*p));
	cr_assert_not_null(p, "out of memory");
	it.jpool = p;
	it.jpool[it.njpool++] = j;
	return j;
}

/* --- tokens ------------------------------------------------------------------ */

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
 * The slot of token in it.tokset: where it is, or the empty one where it
 * goes. The set is never more than half full. Load tests note thousands
 * of tokens, so the lookup is not a walk of the list.
 */
static size_t *
tokset_slot(const char *token)
{
	size_t i = token_hash(token) & (it.tokset_cap - 1);

	while (it.tokset[i] != 0 &&
	    strcmp(it.tokens[it.tokset[i] - 1], token) != 0)
		i = (i + 1) & (it.tokset_cap - 1);
	return &it.tokset[i];
}

/* Doubles the set (and makes it, the first time); -1 when memory is short. */
static int
tokset_grow(void)
{
	size_t *old = it.tokset, oldcap = it.tokset_cap, i;

	it.tokset_cap = oldcap == 0 ? 256 : oldcap * 2;
	if ((it.tokset = calloc(it.tokset_cap, sizeof(*it.tokset))) == NULL) {
		it.tokset = old;
		it.tokset_cap = oldcap;
		return -1;
	}
	for (i = 0; i < it.ntokens; i++)
		*tokset_slot(it.tokens[i]) = i + 1;
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
	if (2 * (it.ntokens + 1) > it.tokset_cap && tokset_grow() == -1)
		goto out;
	slot = tokset_slot(token);
	if (*slot != 0) {
		rc = 0;
		goto out;
	}
	if (it.ntokens == it.tokcap) {
		cap = it.tokcap == 0 ? 64 : it.tokcap * 2;
		if ((p = realloc(it.tokens, cap * sizeof(*p))) == NULL)
			goto out;
		it.tokens = p;
		it.tokcap = cap;
	}
	if ((it.tokens[it.ntokens] = strdup(token)) == NULL)
		goto out;
	*slot = ++it.ntokens;
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

/* --- looking for secrets ------------------------------------------------ */

static void
problem_add(struct problems *pb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one line; never asserts (teardown uses it). */
static void
problem_add(struct problems *pb, const char *fmt, ...)
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

	if (it.sec != NULL && it.nsec == it.ntokens)
		return 0;
	e = realloc(it.sec, (it.ntokens + 1) * sizeof(*e));
	if (e == NULL)
		return -1;
	for (i = 0; i < it.ntokens; i++) {
		e[i].s = secret_of(it.tokens[i]);
		e[i].tok = i;
	}
	qsort(e, it.ntokens, sizeof(*e), secret_ent_cmp);
	it.sec = e;
	it.nsec = it.ntokens;
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
		e = bsearch(&key, it.sec, it.nsec, sizeof(*e), secret_ent_cmp);
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
scan_secrets(struct problems *pb, const char *what, const char *text,
    size_t len)
{
	unsigned char *seen;
	size_t *first, t, off, soff, tlen, i, found = 0;
	ssize_t hit;

	if (it.ntokens == 0 || secrets_index() == -1)
		return 0;
	seen = calloc(it.nsec, 1);
	first = calloc(it.nsec, sizeof(*first));
	if (seen == NULL || first == NULL) {
		problem_add(pb, "out of memory scanning %s", what);
		free(seen);
		free(first);
		return 0;
	}
	for (off = 0; (hit = find_secret(text, len, off, &t)) != -1;
	    off = (size_t)hit + 1) {
		soff = (size_t)(secret_of(it.tokens[t]) - it.tokens[t]);
		tlen = strlen(it.tokens[t]);
		if (!seen[t])
			first[t] = (size_t)hit;
		/* 1: the secret, 2: the whole token. */
		seen[t] |= 1;
		if ((size_t)hit >= soff && (size_t)hit - soff + tlen <= len &&
		    memcmp(text + hit - soff, it.tokens[t], tlen) == 0)
			seen[t] |= 2;
	}
	for (i = 0; i < it.nsec; i++) {
		if (!seen[i] || found++ >= SCAN_REPORT_MAX)
			continue;
		soff = (size_t)(secret_of(it.tokens[i]) - it.tokens[i]);
		problem_add(pb, "the %s of key %.11s appears in %s (at byte "
		    "%zu)", (seen[i] & 2) ? "whole token" : "secret",
		    it.tokens[i] + soff - 12, what, first[i]);
	}
	if (found > SCAN_REPORT_MAX)
		problem_add(pb, "... and the secrets of %zu more keys appear "
		    "in %s", found - SCAN_REPORT_MAX, what);
	free(seen);
	free(first);
	return found;
}

void
it_assert_no_token(const char *what, const char *text)
{
	struct problems pb = { 0 };

	if (scan_secrets(&pb, what, text, strlen(text)) == 0)
		return;
	it_keep(pb.buf);
	cr_assert_fail("%s", pb.buf);
}

void
it_scan_later(const char *what, const char *text)
{
	struct later *l;

	l = realloc(it.later, (it.nlater + 1) * sizeof(*l));
	cr_assert_not_null(l, "out of memory");
	it.later = l;
	it.later[it.nlater].what = what;
	it.later[it.nlater].text = text;
	it.nlater++;
}

/* --- processes ----------------------------------------------------------------- */

/*
 * Runs argv with envp, stdin data in, capturing stdout and stderr, within
 * timeout_ms (else kills it). Returns NULL, or what went wrong (*r then
 * holds what it printed, status -1). Asserts only when out of memory or
 * processes: the teardown uses it too.
 */
static const char *
try_capture(const char *const *argv, char **envp, const char *in,
    int timeout_ms, struct it_run *r)
{
	struct it_out o[2] = { { .fd = -1 }, { .fd = -1 } };
	int inp[2], outp[2], errp[2];
	const char *e = NULL;
	size_t inlen;
	int64_t end;
	ssize_t w;
	pid_t pid;
	int status = -1;

	signal(SIGPIPE, SIG_IGN);
	if (pipe2(inp, O_CLOEXEC) == -1)
		return it_printf("pipe: %s", strerror(errno));
	if (pipe2(outp, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1)
		cr_assert_fail("pipe: %s", strerror(errno));
	pid = it_proc_spawn(argv, envp, (const int[3]){ inp[0], outp[1],
	    errp[1] }, NULL);
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	o[0].fd = outp[0];
	o[1].fd = errp[0];
	if (in != NULL) {
		/* Small inputs only: they fit in the pipe buffer. */
		inlen = strlen(in);
		w = write(inp[1], in, inlen);
		if (w != (ssize_t)inlen && errno != EPIPE)
			e = it_printf("write stdin: %s", strerror(errno));
	}
	close(inp[1]);
	end = it_now_ms() + timeout_ms;
	if (e == NULL && it_proc_read(o, 2, end, NULL, NULL) == -1)
		e = it_printf("%s did not finish within %d ms", argv[0],
		    timeout_ms);
	if (e == NULL && (status = it_proc_wait(pid, (int)(end -
	    it_now_ms()) + 1000)) == -1)
		e = it_printf("%s closed its output but did not exit",
		    argv[0]);
	if (e != NULL)
		it_proc_kill(pid);
	if (o[0].fd != -1)
		close(o[0].fd);
	if (o[1].fd != -1)
		close(o[1].fd);
	r->status = status;
	r->out = it_keep(o[0].buf != NULL ? o[0].buf : strdup(""));
	r->err = it_keep(o[1].buf != NULL ? o[1].buf : strdup(""));
	return e;
}

/* try_capture(), failing the test when it fails. */
static void
run_capture(const char *const *argv, char **envp, const char *in,
    int timeout_ms, struct it_run *r)
{
	const char *e = try_capture(argv, envp, in, timeout_ms, r);

	cr_assert_null(e, "%s; stdout:\n%s\nstderr:\n%s", e, r->out, r->err);
}

/* --- paths and the daemon ------------------------------------------------------- */

static void
find_binaries(void)
{
	const char *b = getenv("APIKEY_BUILD");
	char dir[PATH_MAX];

	if (b == NULL || *b == '\0')
		b = "build";
	cr_assert_not_null(realpath(b, dir), "build directory %s: %s "
	    "(set APIKEY_BUILD)", b, strerror(errno));
	cr_assert(strlen(dir) < sizeof(dir) - 16, "build path too long");
	snprintf(it.apikeyd, sizeof(it.apikeyd), "%.4000s/apikeyd", dir);
	snprintf(it.apikeyctl, sizeof(it.apikeyctl), "%.4000s/apikeyctl",
	    dir);
	cr_assert(access(it.apikeyd, X_OK) == 0, "%s: %s", it.apikeyd,
	    strerror(errno));
	cr_assert(access(it.apikeyctl, X_OK) == 0, "%s: %s", it.apikeyctl,
	    strerror(errno));
}

static void
copy_file(const char *from, const char *to)
{
	const char *data = it_read_file(from, NULL);

	cr_assert(write_file(to, data, 0644) == 0, "write %s: %s", to,
	    strerror(errno));
}

void
it_prepare(const char *conf_extra)
{
	const char *pw = getenv("NSS_WRAPPER_PASSWD");
	const char *gr = getenv("NSS_WRAPPER_GROUP");
	char tmpl[] = "/tmp/apikey-it.XXXXXX";

	cr_assert(!it.ready, "it_prepare called twice");
	cr_assert(pw != NULL && gr != NULL, "not running under nss_wrapper");
	find_binaries();
	cr_assert_not_null(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
	/* Non-root callers must reach the sockets and the NSS files. */
	cr_assert(chmod(tmpl, 0755) == 0, "chmod: %s", strerror(errno));
	snprintf(it.root, sizeof(it.root), "%s", tmpl);
	snprintf(it.state, sizeof(it.state), "%s/state", tmpl);
	snprintf(it.sock, sizeof(it.sock), "%s/sock", tmpl);
	snprintf(it.conf, sizeof(it.conf), "%s/apikeyd.conf", tmpl);
	snprintf(it.log, sizeof(it.log), "%s/apikeyd.log", tmpl);
	snprintf(it.passwd, sizeof(it.passwd), "%s/passwd", tmpl);
	snprintf(it.group, sizeof(it.group), "%s/group", tmpl);
	it.ready = 1;
	copy_file(pw, it.passwd);
	copy_file(gr, it.group);
	cr_assert(write_file(it.conf, it_printf("# written by tests/harness.c\n"
	    "admin_group = apikey-admins\nlog_level = debug\n%s",
	    conf_extra != NULL ? conf_extra : ""), 0644) == 0,
	    "write %s: %s", it.conf, strerror(errno));
}

const char *
it_root(void)
{
	return it.root;
}

const char *
it_state_dir(void)
{
	return it.state;
}

const char *
it_sock_dir(void)
{
	return it.sock;
}

const char *
it_conf_path(void)
{
	return it.conf;
}

const char *
it_apikeyd_path(void)
{
	return it.apikeyd;
}

const char *
it_log_path(void)
{
	return it.log;
}

const char *
it_path(const char *rel)
{
	return it_printf("%s/%s", it.root, rel);
}

const char *
it_log(void)
{
	if (access(it.log, F_OK) != 0)
		return "";
	return it_read_file(it.log, NULL);
}

pid_t
it_daemon_pid(void)
{
	return it.pid;
}

static void
close_clients(void)
{
	apikey_close(it.vc);
	apikey_close(it.ac);
	it.vc = NULL;
	it.ac = NULL;
}

#define LISTEN_PID_VAR	"LISTEN_PID="

/*
 * In the child, between fork and exec: moves the passed sockets to fds 3
 * and up (through fds above them, so no move overwrites another) and puts
 * the child's pid in the LISTEN_PID entry that spawn_daemon left room
 * for. No allocation: the test may have threads.
 */
static int
child_pass_fds(const int *fds, size_t n, char **env)
{
	char	 digits[16], *p;
	int	 tmp[8], v, k, i;
	size_t	 j;

	if (n > 8)
		return -1;
	for (j = 0; j < n; j++)
		if ((tmp[j] = fcntl(fds[j], F_DUPFD, 64)) == -1)
			return -1;
	for (j = 0; j < n; j++)
		if (dup2(tmp[j], 3 + (int)j) == -1)
			return -1;
	for (j = 0; j < n; j++)
		close(tmp[j]);
	for (v = getpid(), k = 0; v > 0; v /= 10)
		digits[k++] = (char)('0' + v % 10);
	for (j = 0; env[j] != NULL; j++) {
		if (strncmp(env[j], LISTEN_PID_VAR,
		    strlen(LISTEN_PID_VAR)) != 0)
			continue;
		p = env[j] + strlen(LISTEN_PID_VAR);
		for (i = 0; i < k; i++)
			p[i] = digits[k - 1 - i];
		p[k] = '\0';
	}
	return 0;
}

/* What the daemon's child does before exec; see daemon_child(). */
struct daemon_child {
	const struct it_daemon_opt *o;
	char		**env;
	uid_t		 uid;
	gid_t		 gid;
	pid_t		 parent;
};

/*
 * In the child: the passed sockets, then, with o->user, the drop to that
 * fixture user; only then does it ask to be killed with the test, because
 * a uid change clears that request (so setpriv could not do it).
 */
static int
daemon_child(void *arg)
{
	const struct daemon_child *c = arg;
	const struct it_daemon_opt *o = c->o;

	if (o->nfds > 0 && child_pass_fds(o->fds, o->nfds, c->env) != 0) {
		dprintf(2, "harness: cannot pass sockets: %s\n",
		    strerror(errno));
		return -1;
	}
	if (o->user != NULL && (setgroups(0, NULL) == -1 ||
	    setresgid(c->gid, c->gid, c->gid) == -1 ||
	    setresuid(c->uid, c->uid, c->uid) == -1 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
	    getppid() != c->parent)) {
		dprintf(2, "harness: cannot become %s: %s\n", o->user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Starts apikeyd (or o->prog) with args, as root or, with o->user, as that
 * fixture user, stdin /dev/null, output appended to the log.
 */
static pid_t
spawn_daemon(const struct it_daemon_opt *o, const char *const *args)
{
	const char *argv[MAX_ARGS];
	const char *set[MAX_ARGS] = {
		it_printf("NSS_WRAPPER_PASSWD=%s", it.passwd),
		it_printf("NSS_WRAPPER_GROUP=%s", it.group),
		"APIKEY_SOCKET_DIR", "NOTIFY_SOCKET", "WATCHDOG_USEC",
		"WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
		"JOURNAL_STREAM"
	};
	struct daemon_child c = { .o = o, .parent = getpid() };
	struct it_proc_opt po = { .child = daemon_child, .arg = &c };
	size_t n = 0, ns = 10, i;
	pid_t pid;
	int fd;

	cr_assert(it.ready, "it_prepare first");
	cr_assert(it.pid == 0, "a daemon is already running");
	if (o->user != NULL) {
		c.uid = it_uid(o->user);
		c.gid = it_gid(o->user);
	}
	/* Connections to an earlier daemon are dead. */
	close_clients();
	for (i = 0; o->env != NULL && o->env[i] != NULL && ns < MAX_ARGS - 4;
	    i++)
		set[ns++] = o->env[i];
	if (o->nfds > 0) {
		set[ns++] = it_printf("LISTEN_FDS=%zu", o->nfds);
		/* Room for any pid; child_pass_fds writes it. */
		set[ns++] = LISTEN_PID_VAR "0000000000";
		if (o->fdnames != NULL)
			set[ns++] = it_printf("LISTEN_FDNAMES=%s", o->fdnames);
	}
	set[ns] = NULL;
	argv[n++] = o->prog != NULL ? o->prog : it.apikeyd;
	while (*args != NULL && n < MAX_ARGS - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	c.env = it_make_env(set);
	/* Opened here, as root: the user need not be able to write there. */
	fd = open(it.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	cr_assert(fd != -1, "open %s: %s", it.log, strerror(errno));
	pid = it_proc_spawn(argv, c.env, (const int[3]){ -1, fd, fd }, &po);
	close(fd);
	it_free_env(c.env);
	it.pid = pid;
	return pid;
}

pid_t
it_spawn_daemon(const char *const *args)
{
	const struct it_daemon_opt o = { 0 };

	return spawn_daemon(&o, args);
}

pid_t
it_spawn_daemon_opt(const struct it_daemon_opt *o, const char *const *args)
{
	return spawn_daemon(o, args);
}

static int
can_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, ok;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return 0;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

void
it_wait_ready(const char *sockdir)
{
	const char *v = it_printf("%s/verify.sock", sockdir);
	const char *a = it_printf("%s/admin.sock", sockdir);
	int64_t end = it_now_ms() + IT_DEADLINE_MS;
	int backoff = 2, st;

	for (;;) {
		if (can_connect(v) && can_connect(a))
			return;
		st = it_proc_wait(it.pid, 0);
		if (st != -1) {
			it.pid = 0;
			cr_assert_fail("apikeyd exited with status %d before "
			    "its sockets accepted; log:\n%s", st, it_log());
		}
		cr_assert(it_now_ms() < end, "apikeyd sockets in %s did not "
		    "accept within %d ms; log:\n%s", sockdir, IT_DEADLINE_MS,
		    it_log());
		it_msleep(backoff);
		if (backoff < 100)
			backoff *= 2;
	}
}

void
it_start(void)
{
	const char *args[] = {
		"-f", "-d", "-c", it.conf, "--state-dir", it.state,
		"--socket-dir", it.sock, NULL
	};

	it_spawn_daemon(args);
	it_wait_ready(it.sock);
}

int
it_wait_daemon_exit(int ms)
{
	int st;

	cr_assert(it.pid != 0, "no daemon");
	st = it_proc_wait(it.pid, ms);
	if (st != -1)
		it.pid = 0;
	return st;
}

/* Stops the daemon; a description of what went wrong, or NULL. */
static const char *
stop_daemon(int sig)
{
	int st;

	close_clients();
	if (it.pid == 0)
		return NULL;
	kill(it.pid, sig);
	st = it_proc_wait(it.pid, IT_DEADLINE_MS);
	if (st == -1) {
		it_proc_kill(it.pid);
		it.pid = 0;
		return it_printf("apikeyd did not exit within %d ms of signal "
		    "%d; killed", IT_DEADLINE_MS, sig);
	}
	it.pid = 0;
	if (st != 0)
		return it_printf("apikeyd exited with status %d on signal %d",
		    st, sig);
	if (access(it_printf("%s/verify.sock", it.sock), F_OK) == 0 ||
	    access(it_printf("%s/admin.sock", it.sock), F_OK) == 0)
		return "apikeyd left its sockets behind";
	return NULL;
}

void
it_stop_sig(int sig)
{
	const char *e = stop_daemon(sig);

	cr_assert_null(e, "%s; log:\n%s", e, it_log());
}

void
it_stop(void)
{
	it_stop_sig(SIGTERM);
}

void
it_restart(void)
{
	it_stop();
	it_start();
}

void
it_setup(void)
{
	it_prepare(NULL);
	it_start();
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(path);
	return 0;
}

/* Appends a teardown problem to the file the supervisor checks at exit. */
static void
report_teardown_failure(const char *problem)
{
	const char *path = getenv("APIKEY_IT_TEARDOWN_LOG");
	int fd;

	cr_log_error("teardown: %s", problem);
	if (path == NULL)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd == -1)
		return;
	dprintf(fd, "%s: %s", criterion_current_test != NULL &&
	    criterion_current_test->name != NULL ?
	    criterion_current_test->name : "?", problem);
	close(fd);
}

/* --- the teardown's search for secrets ------------------------------------ */

static void	ctl_argv(const char *argv[MAX_ARGS],
		    const struct it_ctl_opt *, const char *const *);
static char	**ctl_env(const struct it_ctl_opt *);

/*
 * Whether apikeyctl ARGS prints a token by design: key create and key
 * rotate do, once (global options may stand anywhere, so any "create" or
 * "rotate" after "key" counts).
 */
static int
prints_token(const char *const *args)
{
	size_t i, j;

	for (i = 0; args[i] != NULL; i++) {
		if (strcmp(args[i], "key") != 0)
			continue;
		for (j = i + 1; args[j] != NULL; j++)
			if (strcmp(args[j], "create") == 0 ||
			    strcmp(args[j], "rotate") == 0)
				return 1;
	}
	return 0;
}

/* "apikeyctl ARGS", shortened, for messages. */
static const char *
ctl_what(const char *const *args)
{
	const char *w = "apikeyctl";
	size_t i;

	for (i = 0; args[i] != NULL && strlen(w) < 100; i++)
		w = it_printf("%s %.40s", w, args[i]);
	return args[i] != NULL ? it_printf("%s ...", w) : w;
}

/* Records a file under the root that holds a token by design. */
static void
add_capture(const char *path)
{
	char **p;

	p = realloc(it.captures, (it.ncaptures + 1) * sizeof(*p));
	cr_assert_not_null(p, "out of memory");
	it.captures = p;
	it.captures[it.ncaptures] = strdup(path);
	cr_assert_not_null(it.captures[it.ncaptures], "out of memory");
	it.ncaptures++;
}

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

/* nftw() passes its callback no argument. */
static struct problems *files_pb;

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
	    strcmp(path, it.log) == 0)
		return 0;
	/*
	 * The captured standard output of a background `key create` or
	 * `key rotate` (it_ctl_spawn()) holds the token it printed: that is
	 * what the command is for, and the test reads it from there.
	 */
	for (i = 0; i < it.ncaptures; i++)
		if (strcmp(path, it.captures[i]) == 0)
			return 0;
	if ((data = slurp(path, &len, &why)) == NULL) {
		if (why != NULL)
			problem_add(files_pb, "%s: not scanned: %s", path, why);
		return 0;
	}
	scan_secrets(files_pb, path, data, len);
	free(data);
	return 0;
}

/*
 * Looks for the noted secrets in every regular file under the root: the
 * state directory (hashes only, and LMDB's map), NSS and PAM files,
 * apikeyctl's and the servers' captured output, sanitizer and valgrind
 * reports, uploads.
 */
static void
scan_files(struct problems *pb)
{
	files_pb = pb;
	if (nftw(it.root, scan_file, 16, FTW_PHYS) == -1)
		problem_add(pb, "walking %s: %s", it.root, strerror(errno));
	files_pb = NULL;
}

void
it_assert_no_token_in_files(void)
{
	struct problems pb = { 0 };

	cr_assert(it.ready, "it_prepare first");
	scan_files(&pb);
	if (pb.n == 0)
		return;
	it_keep(pb.buf);
	cr_assert_fail("%s", pb.buf);
}

/* Whether the daemon the harness started is still running (not reaped). */
static int
daemon_alive(void)
{
	siginfo_t si;

	if (it.pid == 0)
		return 0;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, it.pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1)
		return 0;
	return si.si_pid == 0;
}

/*
 * apikeyctl ARGS as root for the teardown: its standard output, or NULL
 * after adding a problem. Exit status 5 (no such user or tenant: a test
 * may have taken one away from the daemon's NSS) is NULL, no problem.
 * After one failure, runs nothing more: a daemon that does not answer
 * would cost IT_DEADLINE_MS a run.
 */
static const char *
teardown_ctl(struct problems *pb, const char *const *args)
{
	static int failed;
	const struct it_ctl_opt o = { 0 };
	const char *argv[MAX_ARGS], *e;
	struct it_run r;
	char **env;

	if (failed)
		return NULL;
	ctl_argv(argv, &o, args);
	env = ctl_env(&o);
	e = try_capture(argv, env, NULL, IT_DEADLINE_MS, &r);
	it_free_env(env);
	if (e == NULL && r.status == 0)
		return r.out;
	if (e == NULL && r.status == 5)
		return NULL;
	failed = 1;
	problem_add(pb, "%s as root, to look for secrets: %s; stderr: %s",
	    ctl_what(args), e != NULL ? e : it_printf("exit %d", r.status),
	    r.err);
	return NULL;
}

/*
 * apikeyctl [--json] ARGS... as root, at teardown; looks for the noted
 * secrets in what it printed, which it returns (NULL when it failed).
 */
static const char *
scan_ctl(struct problems *pb, int json, ...)
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
		    ctl_what(args)), out, strlen(out));
	return out;
}

/*
 * What root reads of the daemon's records, scanned before the daemon
 * stops: the whole audit log (audit without --limit), plain and with
 * --json, and the keys of every fixture user and of every tenant (there
 * is no listing of all keys at once) with --json, which shows every field
 * whole where the plain table may shorten one. None of it ever holds a
 * token by design. Only while the daemon the harness started still runs
 * and answers on the test's socket directory.
 */
static void
scan_records(struct problems *pb)
{
	const char *out, *name;
	json_t *tenants;
	size_t i, j, nt = 0;
	int json;

	if (!daemon_alive() || access(it_printf("%s/admin.sock", it.sock),
	    F_OK) != 0)
		return;
	out = scan_ctl(pb, 1, "tenant", "list", (const char *)NULL);
	tenants = out != NULL ? json_loads(out, 0, NULL) : NULL;
	if (out != NULL && !json_is_array(tenants))
		problem_add(pb, "apikeyctl --json tenant list: not a JSON "
		    "array: %.200s", out);
	if (json_is_array(tenants))
		nt = json_array_size(tenants);
	for (json = 0; json < 2; json++)
		scan_ctl(pb, json, "audit", (const char *)NULL);
	for (i = 0; i < sizeof(fixture_users) / sizeof(fixture_users[0]); i++)
		scan_ctl(pb, 1, "key", "list", "--user", fixture_users[i].name,
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
note_captured(void)
{
	const char *why;
	size_t i, len;
	char *data;

	for (i = 0; i < it.ncaptures; i++) {
		if ((data = slurp(it.captures[i], &len, &why)) == NULL)
			continue;
		(void)note_tokens(data);
		free(data);
	}
}

/*
 * Criterion 2.4 counts no assertion made in .fini against the test, so
 * problems found here are collected, logged once everything is cleaned up,
 * and reported to the supervising process, which then fails the binary.
 *
 * The search for secrets costs ten apikeyctl runs and a read of every
 * file under the root, so a test that noted no token skips it (but for
 * the log, which costs nothing).
 */
void
it_teardown(void)
{
	struct problems pb = { 0 };
	const char *e, *log;
	size_t i;
	int st;

	if (it.nss_blocked)
		it_nss_unblock();
	for (i = 0; i < it.nspawned; i++) {
		st = it_proc_wait(it.spawned[i], 0);
		if (st == -1) {
			it_proc_kill(it.spawned[i]);
		}
	}
	it.nspawned = 0;
	if (it.ready) {
		note_captured();
		if (it.ntokens > 0)
			scan_records(&pb);
	}
	e = stop_daemon(SIGTERM);
	if (it.ready) {
		log = it_log();
		if (e != NULL)
			problem_add(&pb, "%s; log:\n%.8000s", e, log);
		scan_secrets(&pb, "the daemon log", log, strlen(log));
		for (i = 0; it.ntokens > 0 && i < it.nlater; i++)
			scan_secrets(&pb, it.later[i].what, it.later[i].text,
			    strlen(it.later[i].text));
		if (it.ntokens > 0)
			scan_files(&pb);
		/* APIKEY_IT_KEEP=1 keeps the directory for a post-mortem. */
		if (getenv("APIKEY_IT_KEEP") == NULL)
			nftw(it.root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		else
			fprintf(stderr, "kept %s\n", it.root);
		it.ready = 0;
	}
	for (i = 0; i < it.ntokens; i++) {
		explicit_bzero(it.tokens[i], strlen(it.tokens[i]));
		free(it.tokens[i]);
	}
	free(it.tokens);
	it.tokens = NULL;
	it.ntokens = it.tokcap = 0;
	free(it.tokset);
	it.tokset = NULL;
	it.tokset_cap = 0;
	free(it.sec);
	it.sec = NULL;
	it.nsec = 0;
	free(it.later);
	it.later = NULL;
	it.nlater = 0;
	for (i = 0; i < it.ncaptures; i++)
		free(it.captures[i]);
	free(it.captures);
	it.captures = NULL;
	it.ncaptures = 0;
	for (i = 0; i < it.njpool; i++)
		json_decref(it.jpool[i]);
	free(it.jpool);
	it.jpool = NULL;
	it.njpool = 0;
	for (i = 0; i < it.npool; i++)
		free(it.pool[i]);
	free(it.pool);
	it.pool = NULL;
	it.npool = 0;
	if (pb.n > 0)
		report_teardown_failure(pb.buf);
	free(pb.buf);
}

/* --- apikeyctl --------------------------------------------------------------- */

/*
 * The start of an argv that runs a program as uid/gid through setpriv,
 * with no supplementary groups; with setuid, as a setuid-root program run
 * by that user is: real ids the user's, effective ids root's. Returns the
 * number of arguments written.
 */
static size_t
setpriv_argv(const char **argv, uid_t uid, gid_t gid, int setuid)
{
	size_t n = 0;

	argv[n++] = access("/usr/bin/setpriv", X_OK) == 0 ?
	    "/usr/bin/setpriv" : "/bin/setpriv";
	if (setuid) {
		argv[n++] = it_printf("--ruid=%u", (unsigned)uid);
		argv[n++] = "--euid=0";
		argv[n++] = it_printf("--rgid=%u", (unsigned)gid);
		argv[n++] = "--egid=0";
	} else {
		argv[n++] = it_printf("--reuid=%u", (unsigned)uid);
		argv[n++] = it_printf("--regid=%u", (unsigned)gid);
	}
	argv[n++] = "--clear-groups";
	argv[n++] = "--";
	return n;
}

/* argv := apikeyctl [as user via setpriv] [--socket-dir] args. */
static void
ctl_argv(const char *argv[MAX_ARGS], const struct it_ctl_opt *o,
    const char *const *args)
{
	size_t n = 0;

	cr_assert(it.ready, "it_prepare first");
	if (o->ids)
		n = setpriv_argv(argv, o->uid, o->gid, 0);
	else if (o->as != NULL && strcmp(o->as, "root") != 0)
		n = setpriv_argv(argv, it_uid(o->as), it_gid(o->as), 0);
	argv[n++] = it.apikeyctl;
	if (!o->no_sockdir) {
		argv[n++] = "--socket-dir";
		argv[n++] = it.sock;
	}
	while (*args != NULL) {
		cr_assert(n < MAX_ARGS - 1, "too many arguments");
		argv[n++] = *args++;
	}
	argv[n] = NULL;
}

static char **
ctl_env(const struct it_ctl_opt *o)
{
	const char *set[] = { "APIKEY_SOCKET_DIR", NULL };

	if (o->sockdir_env != NULL)
		set[0] = it_printf("APIKEY_SOCKET_DIR=%s", o->sockdir_env);
	return it_make_env(set);
}

int
it_ctlv(struct it_run *r, const struct it_ctl_opt *o,
    const char *const *args)
{
	const char *argv[MAX_ARGS], *what;
	char **env = ctl_env(o);

	ctl_argv(argv, o, args);
	run_capture(argv, env, o->in, CTL_TIMEOUT_MS, r);
	it_free_env(env);
	it_note_tokens(r->out);
	/* Whatever else it printed must not hold a token noted later. */
	what = ctl_what(args);
	if (!prints_token(args))
		it_scan_later(it_printf("the output of %s", what), r->out);
	it_scan_later(it_printf("the standard error of %s", what), r->err);
	return r->status;
}

int
it_ctl(struct it_run *r, const char *as, const char *in, ...)
{
	const char *args[MAX_ARGS];
	struct it_ctl_opt o = { 0 };
	va_list ap;

	va_start(ap, in);
	it_argv_va(args, MAX_ARGS, 0, ap);
	va_end(ap);
	o.as = as;
	o.in = in;
	return it_ctlv(r, &o, args);
}

const char *
it_expect(const char *as, int status, const char *errsub, ...)
{
	const char *args[MAX_ARGS];
	struct it_ctl_opt o = { 0 };
	struct it_run r;
	va_list ap;
	size_t i;
	char *cmd = NULL, *p;

	va_start(ap, errsub);
	it_argv_va(args, MAX_ARGS, 0, ap);
	va_end(ap);
	o.as = as;
	it_ctlv(&r, &o, args);
	if (r.status != status || (errsub != NULL &&
	    strstr(r.err, errsub) == NULL)) {
		for (i = 0; args[i] != NULL; i++) {
			if (asprintf(&p, "%s %.60s%s", cmd != NULL ? cmd : "",
			    args[i], strlen(args[i]) > 60 ? "..." : "") == -1)
				break;
			free(cmd);
			cmd = p;
		}
		it_keep(cmd != NULL ? cmd : strdup(""));
		cr_assert_fail("as %s: apikeyctl%s: exit %d, expected %d%s%s;"
		    "\nstdout:\n%s\nstderr:\n%s", as != NULL ? as : "root",
		    cmd != NULL ? cmd : "", r.status, status,
		    errsub != NULL ? " with stderr containing " : "",
		    errsub != NULL ? errsub : "", r.out, r.err);
	}
	return r.out;
}

pid_t
it_ctl_spawn(const char *as, ...)
{
	const char *args[MAX_ARGS], *argv[MAX_ARGS];
	struct it_ctl_opt o = { 0 };
	char **env;
	va_list ap;
	pid_t pid;
	int fo, fe;

	va_start(ap, as);
	it_argv_va(args, MAX_ARGS, 0, ap);
	va_end(ap);
	cr_assert(it.nspawned < MAX_SPAWNED, "too many background runs");
	o.as = as;
	ctl_argv(argv, &o, args);
	env = ctl_env(&o);
	fo = open(it_printf("%s/bg-%d.out", it.root, it.nbg),
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	fe = open(it_printf("%s/bg-%d.err", it.root, it.nbg),
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert(fo != -1 && fe != -1, "open: %s", strerror(errno));
	if (prints_token(args))
		add_capture(it_printf("%s/bg-%d.out", it.root, it.nbg));
	it.nbg++;
	pid = it_proc_spawn(argv, env, (const int[3]){ -1, fo, fe }, NULL);
	close(fo);
	close(fe);
	it_free_env(env);
	it.spawned_n[it.nspawned] = it.nbg - 1;
	it.spawned[it.nspawned++] = pid;
	return pid;
}

int
it_ctl_reap(pid_t pid, int ms)
{
	size_t i;
	int st;

	st = it_proc_wait(pid, ms);
	if (st == -1)
		return -1;
	for (i = 0; i < it.nspawned; i++) {
		if (it.spawned[i] != pid)
			continue;
		it_note_tokens(it_read_file(it_printf("%s/bg-%d.out", it.root,
		    it.spawned_n[i]), NULL));
		it.nspawned--;
		it.spawned[i] = it.spawned[it.nspawned];
		it.spawned_n[i] = it.spawned_n[it.nspawned];
		break;
	}
	return st;
}

/* --- keys and tenants ------------------------------------------------------ */

const char *
it_key(const char *as, ...)
{
	const char *args[MAX_ARGS];
	struct it_ctl_opt o = { 0 };
	struct it_run r;
	va_list ap;
	size_t n;

	args[0] = "key";
	args[1] = "create";
	args[2] = "-q";
	va_start(ap, as);
	it_argv_va(args, MAX_ARGS, 3, ap);
	va_end(ap);
	o.as = as;
	it_ctlv(&r, &o, args);
	cr_assert_eq(r.status, 0, "key create as %s: exit %d: %s",
	    as != NULL ? as : "root", r.status, r.err);
	n = strlen(r.out);
	cr_assert(n > 1 && r.out[n - 1] == '\n' && it_line_count(r.out) == 1,
	    "key create -q printed more than a token line");
	r.out = it_keep(strndup(r.out, n - 1));
	it_note_token(r.out);
	return r.out;
}

struct apikey_client *
it_vclient(void)
{
	int rc;

	if (it.vc == NULL) {
		rc = apikey_open(it.sock, 2000, &it.vc);
		cr_assert_eq(rc, 0, "apikey_open: %s", apikey_strerror(rc));
	}
	return it.vc;
}

struct apikey_client *
it_aclient(void)
{
	int rc;

	if (it.ac == NULL) {
		rc = apikey_open_admin(it.sock, 5000, &it.ac);
		cr_assert_eq(rc, 0, "apikey_open_admin: %s",
		    apikey_strerror(rc));
	}
	return it.ac;
}

const char *
it_key_lib(enum apikey_owner_kind kind, const char *owner,
    const struct apikey_key_spec *spec, struct apikey_key **key_out)
{
	struct apikey_key *key = NULL;
	char *token = NULL;
	const char *t;
	int rc;

	rc = apikey_key_create(it_aclient(), kind, owner, spec, &key, &token);
	cr_assert_eq(rc, 0, "apikey_key_create: %s: %s", apikey_strerror(rc),
	    apikey_last_error(it.ac));
	it_note_token(token);
	t = it_printf("%s", token);
	apikey_token_free(token);
	if (key_out != NULL)
		*key_out = key;
	else
		apikey_key_free(key);
	return t;
}

void
it_tenant(const char *name, const char *group, const char *admin_group)
{
	struct apikey_tenant *t = NULL;
	int rc;

	rc = apikey_tenant_add(it_aclient(), name, group, admin_group, &t);
	cr_assert_eq(rc, 0, "apikey_tenant_add %s: %s: %s", name,
	    apikey_strerror(rc), apikey_last_error(it.ac));
	apikey_tenant_free(t);
}

/* --- verify ----------------------------------------------------------------- */

struct apikey_verify_req *
it_req(const char *ctx)
{
	struct apikey_verify_req *req;
	char *copy, *save = NULL, *w, *end;
	unsigned long long cost;
	int rc = 0;

	if (ctx == NULL)
		return NULL;
	req = apikey_verify_req_new();
	cr_assert_not_null(req, "out of memory");
	copy = strdup(ctx);
	cr_assert_not_null(copy, "out of memory");
	for (w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		if (strncmp(w, "svc=", 4) == 0)
			rc = apikey_verify_req_set_service(req, w + 4);
		else if (strncmp(w, "user=", 5) == 0)
			rc = apikey_verify_req_set_user(req, w + 5);
		else if (strncmp(w, "tenant=", 7) == 0)
			rc = apikey_verify_req_set_tenant(req, w + 7);
		else if (strncmp(w, "rhost=", 6) == 0)
			rc = apikey_verify_req_set_rhost(req, w + 6);
		else if (strncmp(w, "perm=", 5) == 0)
			rc = apikey_verify_req_add_permission(req, w + 5);
		else if (strncmp(w, "cost=", 5) == 0) {
			cost = strtoull(w + 5, &end, 10);
			cr_assert(*end == '\0' && cost <= UINT32_MAX,
			    "bad cost in %s", w);
			rc = apikey_verify_req_set_cost(req, (uint32_t)cost);
		} else
			cr_assert_fail("bad verify context word %s", w);
		cr_assert_eq(rc, 0, "verify request %s: %s", w,
		    apikey_strerror(rc));
	}
	free(copy);
	return req;
}

struct apikey_result *
it_verify_on(struct apikey_client *c, const char *token, const char *ctx)
{
	struct apikey_verify_req *req = it_req(ctx);
	struct apikey_result *res = NULL;
	int rc;

	if (c == NULL)
		c = it_vclient();
	rc = apikey_verify(c, token, req, &res);
	apikey_verify_req_free(req);
	cr_assert_eq(rc, 0, "apikey_verify: %s (%s)", apikey_strerror(rc),
	    apikey_last_error(c));
	return res;
}

struct apikey_result *
it_verify(const char *token, const char *ctx)
{
	return it_verify_on(NULL, token, ctx);
}

enum apikey_code
it_code(const char *token, const char *ctx)
{
	struct apikey_result *res = it_verify(token, ctx);
	enum apikey_code c = apikey_result_code(res);

	apikey_result_free(res);
	return c;
}

void
it_wait_code(const char *token, const char *ctx, enum apikey_code want)
{
	int64_t end = it_now_ms() + IT_DEADLINE_MS;
	enum apikey_code c;

	for (;;) {
		c = it_code(token, ctx);
		if (c == want)
			return;
		cr_assert(it_now_ms() < end, "verify still answers %s after "
		    "%d ms, expected %s", apikey_code_name(c), IT_DEADLINE_MS,
		    apikey_code_name(want));
		it_msleep(50);
	}
}

/* --- NSS inside the daemon ---------------------------------------------------- */

/*
 * nss_wrapper keeps its files open and reopens one only once the open file
 * has no link left (st_nlink == 0). So the original goes away entirely
 * (its content is kept in a copy) and a FIFO takes its name; the next
 * lookup in the daemon then blocks in open() until a writer appears.
 */
static void
swap_in_fifo(const char *path)
{
	const char *fifo = it_printf("%s.fifo", path);
	const char *tmp = it_printf("%s.new", path);

	copy_file(path, it_printf("%s.orig", path));
	cr_assert(mkfifo(fifo, 0644) == 0, "mkfifo: %s", strerror(errno));
	cr_assert(link(fifo, tmp) == 0, "link: %s", strerror(errno));
	cr_assert(rename(tmp, path) == 0, "rename: %s", strerror(errno));
}

void
it_nss_edit(const char *which, const char *from, const char *to)
{
	const char *path = strcmp(which, "group") == 0 ? it.group : it.passwd;
	const char *tmp = it_printf("%s.edit", path);
	const char *cur = it_read_file(path, NULL), *p = strstr(cur, from);

	cr_assert_not_null(p, "\"%s\" is not in %s:\n%s", from, path, cur);
	cr_assert(write_file(tmp, it_printf("%.*s%s%s", (int)(p - cur), cur,
	    to, p + strlen(from)), 0644) == 0, "write %s: %s", tmp,
	    strerror(errno));
	/* A new file under the old name: nss_wrapper sees the old one lose
	 * its last link and reopens. */
	cr_assert(rename(tmp, path) == 0, "rename: %s", strerror(errno));
}

void
it_nss_block(void)
{
	cr_assert(!it.nss_blocked, "already blocked");
	swap_in_fifo(it.passwd);
	swap_in_fifo(it.group);
	it.nss_blocked = 1;
}

/* Number of daemon threads blocked in open(2)/openat(2). */
static int
threads_in_open(void)
{
	const char *dir = it_printf("/proc/%d/task", (int)it.pid);
	char buf[64];
	struct dirent *de;
	long nr;
	int n = 0, fd;
	ssize_t r;
	DIR *d;

	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fd = open(it_printf("%s/%s/syscall", dir, de->d_name),
		    O_RDONLY | O_CLOEXEC);
		if (fd == -1)
			continue;
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		nr = strtol(buf, NULL, 10);
		if (buf[0] >= '0' && buf[0] <= '9' && (nr == SYS_openat
#ifdef SYS_open
		    || nr == SYS_open
#endif
		    ))
			n++;
	}
	closedir(d);
	return n;
}

void
it_nss_wait_blocked(void)
{
	int64_t end = it_now_ms() + IT_DEADLINE_MS;

	while (threads_in_open() == 0) {
		cr_assert(it_now_ms() < end, "no apikeyd thread blocked in "
		    "an NSS file within %d ms", IT_DEADLINE_MS);
		it_msleep(10);
	}
}

static void
wake_fifo(const char *path)
{
	int fd;

	/* Succeeds only while some reader waits in open(); that wakes it. */
	fd = open(it_printf("%s.fifo", path), O_WRONLY | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd != -1)
		close(fd);
}

/* Puts a copy of the regular file back under its name. */
static void
restore_file(const char *path)
{
	const char *tmp = it_printf("%s.back", path);

	copy_file(it_printf("%s.orig", path), tmp);
	rename(tmp, path);
}

void
it_nss_unblock(void)
{
	int64_t end = it_now_ms() + IT_DEADLINE_MS;

	if (!it.nss_blocked)
		return;
	it.nss_blocked = 0;
	restore_file(it.passwd);
	restore_file(it.group);
	do {
		wake_fifo(it.passwd);
		wake_fifo(it.group);
		if (it.pid == 0 || threads_in_open() == 0)
			break;
		it_msleep(10);
	} while (it_now_ms() < end);
	/* A FIFO without links makes nss_wrapper reopen the real file. */
	unlink(it_printf("%s.fifo", it.passwd));
	unlink(it_printf("%s.fifo", it.group));
}

/* --- dirs and trust ------------------------------------------------------------ */

/* apikeyd as a fixture user, for the tests of a daemon that is not root
 * (tests/it_dirs.c). */
pid_t
it_spawn_daemon_as(const char *user, const char *const *args)
{
	const struct it_daemon_opt o = { .user = user };

	return spawn_daemon(&o, args);
}

void
it_start_as(const char *user)
{
	const char *args[] = {
		"-f", "-d", "-c", it.conf, "--state-dir", it.state,
		"--socket-dir", it.sock, NULL
	};

	it_spawn_daemon_as(user, args);
	it_wait_ready(it.sock);
}

/* --- connections -------------------------------------------------------------- */

/*
 * Helper programs run as fixture users, for tests/it_connections.c. A
 * program's output is read with poll() against a deadline and its exit is
 * waited for on a pidfd (harness_proc.h), as for apikeyctl.
 */

#define MAX_PROGS	16

struct it_prog {
	pid_t		 pid;
	int		 in;		/* write end of its stdin, or -1 */
	struct it_out	 out;		/* its stdout+stderr */
	size_t		 mark;		/* returned to the test so far */
	/* it_prog_until()'s search */
	const char	*line;
	size_t		 scan;		/* whole lines looked at so far */
	const char	*found;
};

static struct it_prog *progs[MAX_PROGS];

struct it_prog *
it_prog_start(const char *as, const char *prog, ...)
{
	const char *argv[MAX_ARGS], *b = getenv("APIKEY_BUILD");
	/* A setuid program runs without LD_PRELOAD (ld.so says so, loudly);
	 * the helpers need no NSS. */
	const char *set[] = { "APIKEY_SOCKET_DIR", "LD_PRELOAD", NULL };
	struct it_prog *p;
	char dir[PATH_MAX], **env;
	int inp[2], outp[2];
	size_t n = 0, slot;
	va_list ap;

	cr_assert(it.ready, "it_prepare first");
	for (slot = 0; slot < MAX_PROGS && progs[slot] != NULL; slot++)
		;
	cr_assert(slot < MAX_PROGS, "too many helper programs");
	if (as != NULL && strncmp(as, "su:", 3) == 0)
		n = setpriv_argv(argv, it_uid(as + 3), it_gid(as + 3), 1);
	else if (as != NULL && strcmp(as, "root") != 0)
		n = setpriv_argv(argv, it_uid(as), it_gid(as), 0);
	if (prog[0] == '/')
		argv[n++] = prog;
	else {
		cr_assert_not_null(realpath(b != NULL && *b != '\0' ? b :
		    "build", dir), "build directory: %s", strerror(errno));
		argv[n++] = it_printf("%s/%s", dir, prog);
	}
	cr_assert(access(argv[n - 1], X_OK) == 0, "%s: %s", argv[n - 1],
	    strerror(errno));
	va_start(ap, prog);
	it_argv_va(argv, MAX_ARGS, n, ap);
	va_end(ap);
	env = it_make_env(set);
	p = calloc(1, sizeof(*p));
	cr_assert_not_null(p, "out of memory");
	signal(SIGPIPE, SIG_IGN);
	cr_assert(pipe2(inp, O_CLOEXEC) == 0 && pipe2(outp, O_CLOEXEC) == 0,
	    "pipe: %s", strerror(errno));
	p->pid = it_proc_spawn(argv, env, (const int[3]){ inp[0], outp[1],
	    outp[1] }, NULL);
	close(inp[0]);
	close(outp[1]);
	p->in = inp[1];
	p->out.fd = outp[0];
	it_free_env(env);
	progs[slot] = p;
	return p;
}

pid_t
it_prog_pid(const struct it_prog *p)
{
	return p->pid;
}

/* it_proc_read()'s stop: whether p->line has come since p->mark. */
static int
prog_has_line(void *arg)
{
	struct it_prog *p = arg;
	const struct it_out *o = &p->out;
	size_t n = strlen(p->line);
	char *nl;

	while (o->buf != NULL && p->scan < o->len && (nl = memchr(o->buf +
	    p->scan, '\n', o->len - p->scan)) != NULL) {
		if ((size_t)(nl - (o->buf + p->scan)) == n &&
		    memcmp(o->buf + p->scan, p->line, n) == 0) {
			p->found = it_keep(strndup(o->buf + p->mark,
			    p->scan - p->mark));
			p->mark = p->scan = (size_t)(nl + 1 - o->buf);
			return 1;
		}
		p->scan = (size_t)(nl + 1 - o->buf);
	}
	return 0;
}

const char *
it_prog_until(struct it_prog *p, const char *line, int ms)
{
	int rc;

	p->line = line;
	p->scan = p->mark;
	rc = it_proc_read(&p->out, 1, it_now_ms() + ms, prog_has_line, p);
	cr_assert(rc == 1, "pid %d: no line \"%s\" %s; output:\n%s",
	    (int)p->pid, line, rc == 0 ? "before end of output" :
	    it_printf("within %d ms", ms), p->out.buf != NULL ?
	    p->out.buf + p->mark : "");
	return p->found;
}

void
it_prog_say(struct it_prog *p, const char *fmt, ...)
{
	char *line = NULL;
	va_list ap;
	ssize_t w;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0 && p->in != -1, "it_prog_say");
	line = it_keep(line);
	/* Short lines to a program waiting for them: no partial writes. */
	w = write(p->in, it_printf("%s\n", line), (size_t)n + 1);
	cr_assert(w == n + 1, "pid %d: write: %s", (int)p->pid,
	    strerror(errno));
}

/* Forgets p; kills it when it is still running after ms. Returns its exit
 * status (-1 when it had to be killed). */
static int
prog_release(struct it_prog *p, int ms)
{
	size_t i;
	int st;

	if (p->in != -1)
		close(p->in);
	st = it_proc_wait(p->pid, ms);
	if (st == -1) {
		it_proc_kill(p->pid);
	}
	if (p->out.fd != -1) {
		/* Whatever it said last (sanitizer reports) for the log. */
		while (it_append_fd(p->out.fd, &p->out.buf, &p->out.len,
		    &p->out.cap))
			;
		close(p->out.fd);
	}
	if (p->out.buf != NULL && p->mark < p->out.len)
		cr_log_info("pid %d, last output:\n%s", (int)p->pid,
		    p->out.buf + p->mark);
	for (i = 0; i < MAX_PROGS; i++)
		if (progs[i] == p)
			progs[i] = NULL;
	free(p->out.buf);
	free(p);
	return st;
}

int
it_prog_end(struct it_prog *p, int ms)
{
	pid_t pid = p->pid;
	int st = prog_release(p, ms);

	cr_assert_neq(st, -1, "pid %d did not exit within %d ms of the end "
	    "of its input; killed", (int)pid, ms);
	return st;
}

void
it_prog_end_all(void)
{
	size_t i;

	for (i = 0; i < MAX_PROGS; i++)
		if (progs[i] != NULL)
			(void)prog_release(progs[i], IT_DEADLINE_MS);
}

long
it_daemon_kb(const char *field)
{
	const char *p, *nl;
	size_t n = strlen(field);
	long kb;

	cr_assert(it.pid > 0, "no daemon running");
	p = it_read_file(it_printf("/proc/%d/status", (int)it.pid), NULL);
	for (; *p != '\0'; p = nl + 1) {
		if (strncmp(p, field, n) == 0 && p[n] == ':') {
			kb = strtol(p + n + 1, NULL, 10);
			cr_assert(kb > 0, "/proc/%d/status: %.40s",
			    (int)it.pid, p);
			return kb;
		}
		if ((nl = strchr(p, '\n')) == NULL)
			break;
	}
	cr_assert_fail("no %s in /proc/%d/status", field, (int)it.pid);
	return -1;
}

void
it_log_wait(const char *needle, int ms)
{
	int64_t end = it_now_ms() + ms;

	while (strstr(it_log(), needle) == NULL) {
		cr_assert(it_now_ms() < end, "no \"%s\" in the daemon log "
		    "within %d ms; log:\n%s", needle, ms, it_log());
		it_msleep(10);
	}
}
