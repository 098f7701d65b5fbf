/*
 * harness_load.c - the test's side of harness_load.h: descriptor limits,
 * the background client, reports and the log, raw frames read with a
 * deadline, starting workers, lmdb-utils and a tmpfs. The workers
 * themselves are in harness_worker.c, their ledgers in harness_ledger.c.
 */
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../proto/proto.h"
#include "harness_load.h"

/* Pacing of the background client: a call every few milliseconds
 * measures the daemon without taking a core from the load under test. */
#define PROBE_PACE_MS	5
#define MAX_WORKER_ARGS	8

/* --- descriptors ---------------------------------------------------------- */

void
itl_nofile(unsigned long n)
{
	struct rlimit	 rl;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur >= n)
		return;
	if (rl.rlim_max < n)
		rl.rlim_max = n;
	rl.rlim_cur = n;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		itl_skip("cannot raise RLIMIT_NOFILE to %lu: %s", n,
		    strerror(errno));
}

int
itl_daemon_fds(void)
{
	const char	*dir = it_printf("/proc/%d/fd", (int)it_daemon_pid());
	struct dirent	*e;
	DIR		*d;
	int		 n = 0;

	cr_assert(it_daemon_pid() > 0, "no daemon");
	cr_assert_not_null(d = opendir(dir), "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void
itl_daemon_nofile(unsigned long soft)
{
	struct rlimit	 rl;
	pid_t		 pid = it_daemon_pid();

	cr_assert(pid > 0, "no daemon");
	cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, NULL, &rl), 0, "prlimit: %s",
	    strerror(errno));
	rl.rlim_cur = soft;
	cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, &rl, NULL), 0, "prlimit: %s",
	    strerror(errno));
}

/* --- the background client ------------------------------------------------ */

struct itl_prober {
	pthread_t	 thread;
	struct apikey_client *client;
	char		*token;		/* NULL: STATUS instead */
	atomic_int	 stop;
	struct itl_probe_stats st;
};

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One call; 0 when it succeeded (and, for a verify, was VALID). */
static int
probe_once(struct itl_prober *p)
{
	struct apikey_result *res = NULL;
	struct apikey_status *st = NULL;
	int		 rc;

	if (p->token == NULL) {
		rc = apikey_status(p->client, &st);
		apikey_status_free(st);
	} else {
		rc = apikey_verify(p->client, p->token, NULL, &res);
		if (rc == 0 && apikey_result_code(res) != APIKEY_VALID) {
			if (p->st.first_error[0] == '\0')
				snprintf(p->st.first_error,
				    sizeof(p->st.first_error), "verify: %s",
				    apikey_code_name(apikey_result_code(res)));
			rc = APIKEY_EPROTO;
		}
		apikey_result_free(res);
	}
	if (rc != 0 && p->st.first_error[0] == '\0')
		snprintf(p->st.first_error, sizeof(p->st.first_error),
		    "%s: %s (%s)", p->token != NULL ? "verify" : "status",
		    apikey_strerror(rc), apikey_last_error(p->client));
	return rc;
}

static void *
probe_main(void *arg)
{
	struct itl_prober *p = arg;
	struct timespec	 pace = { 0, PROBE_PACE_MS * 1000000L };
	int64_t		 t0, ms;

	while (!atomic_load(&p->stop)) {
		t0 = mono_ms();
		if (probe_once(p) == 0)
			p->st.calls++;
		else
			p->st.failed++;
		ms = mono_ms() - t0;
		if (ms > p->st.max_ms)
			p->st.max_ms = ms;
		if (ms > APIKEY_DEFAULT_TIMEOUT_MS)
			p->st.over_default++;
		/* Pacing only: what is measured is each call. */
		nanosleep(&pace, NULL);
	}
	return NULL;
}

struct itl_prober *
itl_prober_start(const char *token, int timeout_ms)
{
	struct itl_prober *p = calloc(1, sizeof(*p));
	int		 rc;

	cr_assert_not_null(p, "out of memory");
	if (token != NULL) {
		cr_assert_not_null(p->token = strdup(token), "out of memory");
		rc = apikey_open(it_sock_dir(), timeout_ms, &p->client);
	} else
		rc = apikey_open_admin(it_sock_dir(), timeout_ms, &p->client);
	cr_assert_eq(rc, 0, "apikey_open: %s", apikey_strerror(rc));
	/* The connection is made now, not by the thread's first call. */
	cr_assert_eq(probe_once(p), 0, "%s", p->st.first_error);
	rc = pthread_create(&p->thread, NULL, probe_main, p);
	cr_assert_eq(rc, 0, "pthread_create: %s", strerror(rc));
	return p;
}

void
itl_prober_stop(struct itl_prober *p, struct itl_probe_stats *st)
{
	atomic_store(&p->stop, 1);
	pthread_join(p->thread, NULL);
	apikey_close(p->client);
	*st = p->st;
	if (p->token != NULL)
		explicit_bzero(p->token, strlen(p->token));
	free(p->token);
	free(p);
}

void
itl_prober_check(struct itl_prober *p, int64_t bound_ms, const char *what)
{
	struct itl_probe_stats st;

	itl_prober_stop(p, &st);
	cr_log_info("during %s: %lu calls answered, %lu failed, the slowest "
	    "in %lld ms, %lu over %d ms", what, st.calls, st.failed,
	    (long long)st.max_ms, st.over_default, APIKEY_DEFAULT_TIMEOUT_MS);
	cr_assert_eq(st.failed, 0, "during %s, %lu of %lu calls of a root "
	    "client failed; the first: %s", what, st.failed, st.calls +
	    st.failed, st.first_error);
	cr_assert_gt(st.calls, 0, "no call was made during %s", what);
	cr_assert_lt(st.max_ms, bound_ms, "during %s a call took %lld ms, "
	    "over %lld ms", what, (long long)st.max_ms, (long long)bound_ms);
}

/* --- reports and the log -------------------------------------------------- */

/* Whether line (len bytes, no newline) is "C what" for some number C. */
static int
report_line_is(const char *line, size_t len, const char *what)
{
	size_t	 d = strspn(line, "0123456789"), n = strlen(what);

	return d > 0 && d < len && line[d] == ' ' && len - d - 1 == n &&
	    memcmp(line + d + 1, what, n) == 0;
}

size_t
itl_count(const char *report, const char *what)
{
	const char	*p, *nl;
	size_t		 c = 0;

	for (p = report; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		c += (size_t)report_line_is(p, (size_t)(nl - p), what);
		if (*nl == '\0')
			break;
	}
	return c;
}

void
itl_expect_report(const char *who, const char *report, size_t n_open,
    size_t n_busy, const char *why)
{
	const char	*busy = it_printf("ebusy %s", why != NULL ? why : "");
	const char	*p = report, *nl;
	size_t		 i;
	int		 ok = it_line_count(report) == n_open + n_busy;

	for (i = 0; ok && i < n_open + n_busy; i++, p = nl + 1) {
		nl = strchr(p, '\n');
		ok = nl != NULL && report_line_is(p, (size_t)(nl - p),
		    i < n_open ? "open" : busy) && strtoul(p, NULL, 10) == i;
	}
	cr_assert(ok, "%s: expected %zu connections open, then %zu refused "
	    "with \"%s\"; got:\n%s", who, n_open, n_busy, why != NULL ? why :
	    "", report);
}

size_t
itl_log_count(const char *needle)
{
	FILE		*f = fopen(it_log_path(), "re");
	char		*line = NULL;
	size_t		 cap = 0, n = 0;

	if (f == NULL)
		return 0;
	while (getline(&line, &cap, f) != -1)
		n += strstr(line, needle) != NULL;
	free(line);
	fclose(f);
	return n;
}

void
itl_log_wait_count(const char *needle, size_t n, int ms)
{
	int64_t		 end = it_now_ms() + ms;
	size_t		 got;

	while ((got = itl_log_count(needle)) < n) {
		cr_assert(it_now_ms() < end, "%zu lines with \"%s\" in the "
		    "daemon log after %d ms, expected %zu", got, needle, ms,
		    n);
		it_msleep(20);
	}
}

/* --- raw frames ----------------------------------------------------------- */

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

size_t
itl_frame(uint8_t *f, unsigned long long len_field, uint8_t version,
    uint8_t opcode, uint32_t id, const void *body, size_t n)
{
	put_be32(f, len_field == ITL_LEN_AUTO ?
	    (uint32_t)(PROTO_HDR_LEN - 4 + n) : (uint32_t)len_field);
	f[4] = version;
	f[5] = opcode;
	f[6] = f[7] = 0;
	put_be32(f + 8, id);
	if (n > 0)
		memcpy(f + PROTO_HDR_LEN, body, n);
	return PROTO_HDR_LEN + n;
}

/* Reads exactly len bytes by end: 0, 1 at end of file before the first
 * byte, -1 at the deadline; fails the test on an end within them. */
static int
read_by(int fd, uint8_t *p, size_t len, int64_t end)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	size_t		 got = 0;
	ssize_t		 n;
	int64_t		 left;

	while (got < len) {
		if ((left = end - it_now_ms()) <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, p + got, len - got, MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if ((n == 0 || (n == -1 && errno == ECONNRESET)) && got == 0)
			return 1;
		cr_assert(n > 0, "read: %s", n == 0 ? "end of file inside a "
		    "frame" : strerror(errno));
		got += (size_t)n;
	}
	return 0;
}

int
itl_read_reply(int fd, struct itl_reply *r, int ms)
{
	int64_t		 end = it_now_ms() + ms;
	uint8_t		*f;
	uint32_t	 len, mlen;
	int		 rc;

	memset(r, 0, sizeof(*r));
	f = malloc(PROTO_ADMIN_MAX);
	cr_assert_not_null(f, "out of memory");
	if ((rc = read_by(fd, f, 4, end)) != 0) {
		free(f);
		return rc;
	}
	len = get_be32(f);
	cr_assert(len >= PROTO_HDR_LEN - 4 + 10 && len <= PROTO_ADMIN_MAX - 4,
	    "a reply frame of length %u", len);
	cr_assert_eq(read_by(fd, f + 4, len, end), 0, "a reply cut short");
	r->version = f[4];
	r->opcode = f[5];
	r->flags = (uint16_t)(f[6] << 8 | f[7]);
	r->id = get_be32(f + 8);
	/* Every reply body starts with u32 status, str message (proto.h). */
	cr_assert(f[12] == BUF_T_U32 && f[17] == BUF_T_STR, "not a reply "
	    "body: tags 0x%02x 0x%02x", f[12], f[17]);
	r->status = get_be32(f + 13);
	mlen = get_be32(f + 18);
	cr_assert(mlen < sizeof(r->message) && 22 + mlen <= 4 + len,
	    "reply message of %u bytes", mlen);
	memcpy(r->message, f + 22, mlen);
	free(f);
	return 0;
}

int
itl_closed(int fd, int ms)
{
	uint8_t	 b;

	return read_by(fd, &b, 1, it_now_ms() + ms) == 1;
}

/* --- workers -------------------------------------------------------------- */

struct it_prog *
itl_worker(const char *as, const char *mode, ...)
{
	const char	*a[MAX_WORKER_ARGS + 1] = { 0 };
	char		 self[PATH_MAX];
	ssize_t		 n;
	va_list		 ap;
	size_t		 i = 0;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert(n > 0, "readlink /proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	va_start(ap, mode);
	while ((a[i] = va_arg(ap, const char *)) != NULL) {
		cr_assert_lt(i, MAX_WORKER_ARGS, "too many worker arguments");
		i++;
	}
	va_end(ap);
	/* The arguments after the last one given are NULL: they end the
	 * list there. */
	return it_prog_start(as, it_printf("%s", self), ITL_WORKER_ARG, mode,
	    a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], NULL);
}

/* --- the store on disk ---------------------------------------------------- */

/* Runs argv (absolute path) with its output to a pipe; asserts exit 0. */
static void
run_ok(const char *const *argv)
{
	struct it_out	 o = { .fd = -1 };
	int		 p[2], st;
	pid_t		 pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0, "pipe: %s", strerror(errno));
	pid = it_proc_spawn(argv, environ, (const int[3]){ -1, p[1], p[1] },
	    NULL);
	close(p[1]);
	o.fd = p[0];
	if (it_proc_read(&o, 1, it_now_ms() + 6 * IT_DEADLINE_MS, NULL,
	    NULL) == -1) {
		it_proc_kill(pid);
		cr_assert_fail("%s did not finish; output:\n%s", argv[0],
		    o.buf != NULL ? o.buf : "");
	}
	st = it_proc_wait(pid, IT_DEADLINE_MS);
	cr_assert_eq(st, 0, "%s %s %s: exit %d; output:\n%s", argv[0],
	    argv[1], argv[2], st, o.buf != NULL ? o.buf : "");
	free(o.buf);
}

void
itl_mdb_check(const char *dir)
{
	const char	*stat[] = { "/usr/bin/mdb_stat", "-a", dir, NULL };
	const char	*dump[] = { "/usr/bin/mdb_dump", "-a", "-f",
	    "/dev/null", dir, NULL };

	cr_assert(access(stat[0], X_OK) == 0 && access(dump[0], X_OK) == 0,
	    "mdb_stat and mdb_dump missing: scripts/deps.sh test installs "
	    "lmdb-utils");
	run_ok(stat);
	run_ok(dump);
}

/* --- a small filesystem --------------------------------------------------- */

void
itl_skip(const char *fmt, ...)
{
	char	 why[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (getenv("CI") != NULL)
		cr_assert_fail("%s (under CI this is a failure, not a skip)",
		    why);
	cr_skip_test("%s", why);
}

static char tmpfs_path[PATH_MAX];

void
itl_tmpfs(const char *path, const char *size)
{
	if (geteuid() != 0)
		itl_skip("mounting a tmpfs needs root");
	/* The mount lives and dies with this test process and its
	 * children, and is not seen anywhere else. */
	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		itl_skip("no mount namespace of our own: %s",
		    strerror(errno));
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		cr_assert_fail("mkdir %s: %s", path, strerror(errno));
	if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV,
	    it_printf("size=%s,mode=0755", size)) == -1)
		itl_skip("mount -t tmpfs -o size=%s %s: %s", size, path,
		    strerror(errno));
	snprintf(tmpfs_path, sizeof(tmpfs_path), "%s", path);
}

void
itl_tmpfs_end(void)
{
	/* Lazily: the daemon may still hold its files. */
	if (tmpfs_path[0] != '\0')
		(void)umount2(tmpfs_path, MNT_DETACH);
	tmpfs_path[0] = '\0';
}

size_t
itl_fill(const char *path)
{
	static char	 chunk[1 << 16];
	size_t		 total = 0;
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert(fd != -1, "%s: %s", path, strerror(errno));
	memset(chunk, 'f', sizeof(chunk));
	for (;;) {
		n = write(fd, chunk, sizeof(chunk));
		if (n > 0) {
			total += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		cr_assert(n == -1 && errno == ENOSPC, "filling %s: %s", path,
		    n == 0 ? "wrote nothing" : strerror(errno));
		break;
	}
	cr_assert_eq(close(fd), 0, "close %s: %s", path, strerror(errno));
	return total;
}
