/*
 * harness.c - shared helpers of the integration tests: nss_wrapper set-up,
 * the test's temporary directory and its teardown, libapikey verify
 * helpers, the FIFO trick that makes NSS inside the daemon hang, and the
 * helper programs of the connection tests. The daemon's start and stop
 * are in harness_daemon.c, apikeyctl runs in harness_ctl.c, the token
 * bookkeeping for the "never logged" checks in harness_tokens.c; the
 * files share what they need through harness_int.h.
 *
 * Tests run one per process (Criterion), each with its own daemon, so the
 * state below is a plain static struct. Nothing here sleeps to wait for an
 * event: process exits are waited for on a pidfd (harness_proc.c), sockets
 * and verify codes are polled with a deadline.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_int.h"

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
	int		 nss_blocked;
	struct apikey_client *vc;
	struct apikey_client *ac;
	char		**pool;
	size_t		 npool;
	json_t		**jpool;
	size_t		 njpool;
} it;

/* --- nss_wrapper: re-execute under it before main() ----------------------- */

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

/* --- small things --------------------------------------------------------- */

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
it_vprintf(const char *fmt, va_list ap)
{
	char *s = NULL;

	cr_assert(vasprintf(&s, fmt, ap) >= 0, "out of memory");
	return it_keep(s);
}

const char *
it_printf(const char *fmt, ...)
{
	const char *s;
	va_list ap;

	va_start(ap, fmt);
	s = it_vprintf(fmt, ap);
	va_end(ap);
	return s;
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
it_text_tail(const char *text, size_t n)
{
	size_t len = strlen(text);
	const char *p, *nl;

	if (len <= n)
		return text;
	p = text + len - n;
	/* From the next line start, when there is one. */
	if ((nl = strchr(p, '\n')) != NULL && nl[1] != '\0')
		p = nl + 1;
	return p;
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

/* --- the test's directory ------------------------------------------------- */

const char *
it_build_dir(void)
{
	const char *b = getenv("APIKEY_BUILD");
	char dir[PATH_MAX];

	if (b == NULL || *b == '\0')
		b = "build";
	cr_assert_not_null(realpath(b, dir), "build directory %s: %s "
	    "(set APIKEY_BUILD)", b, strerror(errno));
	return it_printf("%s", dir);
}

static void
find_binaries(void)
{
	const char *dir = it_build_dir();

	cr_assert(strlen(dir) < PATH_MAX - 16, "build path too long");
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

int
ith_ready(void)
{
	return it.ready;
}

const char *
ith_passwd_path(void)
{
	return it.passwd;
}

const char *
ith_group_path(void)
{
	return it.group;
}

const char *
ith_apikeyctl_path(void)
{
	return it.apikeyctl;
}

const char *
ith_fixture_user(size_t i)
{
	if (i >= sizeof(fixture_users) / sizeof(fixture_users[0]))
		return NULL;
	return fixture_users[i].name;
}

/* --- setup and teardown --------------------------------------------------- */

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

/* Goes on past what it cannot remove: a teardown removes what it can. */
void
it_rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
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


/*
 * Criterion 2.4 counts no assertion made in .fini against the test, so
 * problems found here are collected, logged once everything is cleaned up,
 * and reported to the supervising process, which then fails the binary.
 *
 * The search for secrets (harness_tokens.c) costs ten apikeyctl runs and
 * a read of every file under the root, so a test that noted no token
 * skips it (but for the log, which costs nothing).
 */
void
it_teardown(void)
{
	struct ith_problems pb = { 0 };
	const char *const *captures;
	const char *e, *log;
	size_t i, ncaptures;

	if (it.nss_blocked)
		it_nss_unblock();
	ith_ctl_kill_spawned();
	captures = ith_ctl_captures(&ncaptures);
	if (it.ready)
		ith_teardown_scan_live(&pb, it.sock, captures, ncaptures);
	e = ith_stop_daemon(SIGTERM);
	if (it.ready) {
		log = it_log();
		if (e != NULL)
			ith_problem_add(&pb, "%s; log:\n%.8000s", e, log);
		ith_teardown_scan(&pb, log, it.root, it.log, captures,
		    ncaptures);
		/* APIKEY_IT_KEEP=1 keeps the directory for a post-mortem. */
		if (getenv("APIKEY_IT_KEEP") == NULL)
			it_rm_tree(it.root);
		else
			fprintf(stderr, "kept %s\n", it.root);
		it.ready = 0;
	}
	ith_tokens_forget();
	ith_ctl_forget();
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

/* --- keys and tenants ----------------------------------------------------- */

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

void
ith_close_clients(void)
{
	apikey_close(it.vc);
	apikey_close(it.ac);
	it.vc = NULL;
	it.ac = NULL;
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

/* --- verify --------------------------------------------------------------- */

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

/* --- NSS inside the daemon ------------------------------------------------ */

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
	const char *dir = it_printf("/proc/%d/task", (int)it_daemon_pid());
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
		if (it_daemon_pid() == 0 || threads_in_open() == 0)
			break;
		it_msleep(10);
	} while (it_now_ms() < end);
	/* A FIFO without links makes nss_wrapper reopen the real file. */
	unlink(it_printf("%s.fifo", it.passwd));
	unlink(it_printf("%s.fifo", it.group));
}

/* --- connections ---------------------------------------------------------- */

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
		n = ith_setpriv_argv(argv, it_uid(as + 3), it_gid(as + 3), 1);
	else if (as != NULL && strcmp(as, "root") != 0)
		n = ith_setpriv_argv(argv, it_uid(as), it_gid(as), 0);
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

