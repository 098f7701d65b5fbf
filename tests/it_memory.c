/*
 * it_memory.c - key material is wiped, proven from memory: once a process
 * is done with a token, no byte of its address space holds it, neither
 * the whole token, nor its secret as text, nor the 32 bytes the secret
 * decodes to. The test reads the process's memory as root, through
 * /proc/PID/maps and /proc/PID/mem.
 *
 * The processes are the daemon, after a verify (valid, wrong secret,
 * malformed) and after a create; a libapikey client, tests/memscan_client,
 * which waits with its client still open once it is done (as a service
 * would); and apikeyctl verify reading the key from stdin, held after its
 * last wipe by a standard output that is already full. A daemon may wipe a
 * frame just after its reply went out, so a find is looked for again
 * until IT_DEADLINE_MS has passed; a copy that stays fails the test, named
 * by address and mapping.
 *
 * Out of reach here, and so not checked: the kernel's copies (the socket
 * and pipe buffers a token crossed are freed, not wiped, once read, and
 * stay in freed memory until reused) and the test process itself.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_raw.h"

#define SECRET_LEN	43
#define SECRET_BYTES	32
/* Memory is read a chunk at a time; each read overlaps the next by more
 * than any needle, so none is missed where two chunks meet. */
#define CHUNK		(1024 * 1024)
#define OVERLAP		256
/* Mappings larger than this are reservations no process touches whole:
 * AddressSanitizer's shadow (terabytes, under make asan). Not read. */
#define MAP_MAX		((uint64_t)4 << 30)
#define MAX_NEEDLES	16
/* Finds named in one failure message, at most. */
#define MAX_FINDS	24

/* How long a process may keep a copy once it is done with it: the
 * daemon wipes a frame right after its reply goes out. */
#define WIPE_MS		1000

/*
 * The scans are of the build that ships. Under AddressSanitizer the
 * runtime's own interceptors and lazily bound calls leave copies on
 * stacks that apikeyd's code never wrote (seen for the token a create
 * returns); `make check` runs these on the plain build.
 */
static void
plain_build_only(void)
{
#if defined(__SANITIZE_ADDRESS__)
	cr_skip_test("memory scans are of the plain build (make check)");
#endif
}

static void
fini(void)
{
	it_prog_end_all();
	it_teardown();
}

TestSuite(memory, .init = it_setup, .fini = fini, .timeout = 120);

/* --- what to look for ----------------------------------------------------- */

struct needle {
	const char	*what;
	const void	*p;
	size_t		 n;
};

struct needles {
	struct needle	 v[MAX_NEEDLES];
	size_t		 n;
};

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static const char *
secret_text(const char *token)
{
	const char *p = strchr(token, '_');

	cr_assert(p != NULL && (p = strchr(p + 1, '_')) != NULL &&
	    strlen(p + 1) >= SECRET_LEN, "not a token: %s", token);
	return p + 1;
}

/*
 * The secret of token as the daemon and libapikey decode it: 32 bytes,
 * big-endian (proto/token.h). Encoding them again must give the text
 * back, which checks this decoder against the format.
 */
static const uint8_t *
secret_bytes(const char *token)
{
	const char *s = secret_text(token), *d;
	uint8_t *b = calloc(1, SECRET_BYTES), num[SECRET_BYTES];
	char again[SECRET_LEN + 1];
	unsigned acc, rem;
	size_t i, j;

	cr_assert_not_null(b, "out of memory");
	it_keep((char *)b);
	for (i = 0; i < SECRET_LEN; i++) {
		d = strchr(b62, s[i]);
		cr_assert(d != NULL && s[i] != '\0', "not base62: %s", token);
		acc = (unsigned)(d - b62);
		for (j = SECRET_BYTES; j-- > 0;) {
			acc += b[j] * 62u;
			b[j] = (uint8_t)acc;
			acc >>= 8;
		}
		cr_assert_eq(acc, 0, "secret over 256 bits: %s", token);
	}
	memcpy(num, b, sizeof(num));
	for (i = SECRET_LEN; i > 0; i--) {
		rem = 0;
		for (j = 0; j < SECRET_BYTES; j++) {
			acc = rem << 8 | num[j];
			num[j] = (uint8_t)(acc / 62);
			rem = acc % 62;
		}
		again[i - 1] = b62[rem];
	}
	again[SECRET_LEN] = '\0';
	cr_assert(memcmp(again, s, SECRET_LEN) == 0, "decoding %.43s gave "
	    "bytes that encode to %s", s, again);
	return b;
}

static void
add_needle(struct needles *nd, const char *what, const void *p, size_t n)
{
	cr_assert_lt(nd->n, MAX_NEEDLES, "too many needles");
	nd->v[nd->n++] = (struct needle){ what, p, n };
}

/*
 * Adds the forms of token to nd, named after label: the whole token, its
 * secret as text and as the 32 bytes, and each half of both. A copy that
 * was overwritten in part is still found: a half is 21 or more base62
 * characters, or 16 random bytes, which nothing else matches by chance.
 */
static void
add_token(struct needles *nd, const char *label, const char *token)
{
	const char *s = secret_text(token);
	const uint8_t *b = secret_bytes(token);

	add_needle(nd, it_printf("%s, whole", label), token, strlen(token));
	add_needle(nd, it_printf("%s, its secret in base62", label), s,
	    SECRET_LEN);
	add_needle(nd, it_printf("%s, the first half of its secret in "
	    "base62", label), s, SECRET_LEN / 2);
	add_needle(nd, it_printf("%s, the second half of its secret in "
	    "base62", label), s + SECRET_LEN / 2, SECRET_LEN - SECRET_LEN / 2);
	add_needle(nd, it_printf("%s, its secret as 32 bytes", label), b,
	    SECRET_BYTES);
	add_needle(nd, it_printf("%s, the first 16 bytes of its secret",
	    label), b, SECRET_BYTES / 2);
	add_needle(nd, it_printf("%s, the last 16 bytes of its secret",
	    label), b + SECRET_BYTES / 2, SECRET_BYTES / 2);
}

/* --- reading a process's memory ------------------------------------------- */

/*
 * The bytes of a file mapping that can be read: pages past the file's end
 * cannot (LMDB maps map_size, the file is smaller). len otherwise.
 */
static uint64_t
readable_len(const char *path, unsigned long inode, uint64_t off,
    uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), have;
	struct stat st;

	if (inode == 0 || path[0] != '/' || stat(path, &st) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_ino != inode)
		return len;
	if ((uint64_t)st.st_size <= off)
		return 0;
	have = ((uint64_t)st.st_size - off + page - 1) / page * page;
	return have < len ? have : len;
}

/*
 * " (the stack of thread TID)" when the stack pointer of a thread of pid,
 * as /proc/PID/task/TID/syscall shows it ("NR ARGS... SP PC"), lies in
 * [start, end); "" otherwise. Only to name where a find is.
 */
static const char *
stack_of(pid_t pid, uint64_t start, uint64_t end)
{
	const char *dir = it_printf("/proc/%d/task", (int)pid), *who = "";
	char buf[256], *sp;
	struct dirent *de;
	unsigned long long v;
	ssize_t n;
	int fd;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return "";
	while (*who == '\0' && (de = readdir(d)) != NULL) {
		fd = open(it_printf("%s/%s/syscall", dir, de->d_name),
		    O_RDONLY | O_CLOEXEC);
		if (fd == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		/* The next to last field. */
		if ((sp = strrchr(buf, ' ')) == NULL)
			continue;
		*sp = '\0';
		if ((sp = strrchr(buf, ' ')) == NULL ||
		    sscanf(sp + 1, "%llx", &v) != 1)
			continue;
		if (v >= start && v < end)
			who = it_printf(" (the stack of thread %s)",
			    de->d_name);
	}
	closedir(d);
	return who;
}

/*
 * Every place in pid's memory where a needle of nd is, one line each
 * (needle, address, mapping), at most MAX_FINDS; "" when there is none.
 * Every readable mapping is read but [vvar] and [vsyscall], which hold
 * none of the process's data, and those over MAP_MAX.
 */
static const char *
scan_memory(pid_t pid, const struct needles *nd)
{
	const char *maps, *line, *nl, *found = "";
	uint64_t start, end, off, len, o, want, step;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	char perms[5], *buf, *h;
	unsigned long inode;
	size_t i, n, nfound = 0;
	int fd, pathoff;
	ssize_t r;

	maps = it_read_file(it_printf("/proc/%d/maps", (int)pid), NULL);
	fd = open(it_printf("/proc/%d/mem", (int)pid), O_RDONLY | O_CLOEXEC);
	cr_assert(fd != -1, "/proc/%d/mem: %s", (int)pid, strerror(errno));
	buf = malloc(CHUNK + OVERLAP);
	cr_assert_not_null(buf, "out of memory");
	for (line = maps; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		cr_assert_not_null(nl, "/proc/%d/maps: unterminated", (int)pid);
		/* Anonymous mappings end in blanks. */
		for (n = (size_t)(nl - line); n > 0 && line[n - 1] == ' '; n--)
			;
		line = it_printf("%.*s", (int)n, line);
		pathoff = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64
		    " %*x:%*x %lu %n", &start, &end, perms, &off, &inode,
		    &pathoff) < 5 || pathoff == 0)
			cr_assert_fail("/proc/%d/maps: %s", (int)pid, line);
		if (perms[0] != 'r' || strcmp(line + pathoff, "[vvar]") == 0 ||
		    strcmp(line + pathoff, "[vsyscall]") == 0)
			continue;
		len = readable_len(line + pathoff, inode, off, end - start);
		if (len > MAP_MAX) {
			cr_log_info("pid %d: not read (%" PRIu64 " MiB): %s",
			    (int)pid, len >> 20, line);
			continue;
		}
		for (o = 0; o < len; o += step) {
			want = len - o < CHUNK + OVERLAP ? len - o :
			    CHUNK + OVERLAP;
			r = pread(fd, buf, (size_t)want, (off_t)(start + o));
			if (r <= 0) {
				/* A page nobody can read: on after it. */
				step = page;
				continue;
			}
			/* A read stops short before a page it cannot read. */
			step = r > CHUNK ? CHUNK : (uint64_t)r;
			for (i = 0; i < nd->n; i++) {
				for (h = memmem(buf, (size_t)r, nd->v[i].p,
				    nd->v[i].n); h != NULL; h = memmem(h + 1,
				    (size_t)(buf + r - h - 1), nd->v[i].p,
				    nd->v[i].n)) {
					/* The next read finds it again. */
					if ((uint64_t)(h - buf) >= step)
						break;
					if (nfound++ < MAX_FINDS)
						found = it_printf("%s%s at %#"
						    PRIx64 " in %s%s\n", found,
						    nd->v[i].what, start + o +
						    (uint64_t)(h - buf), line,
						    stack_of(pid, start, end));
				}
			}
		}
	}
	free(buf);
	close(fd);
	return nfound > MAX_FINDS ? it_printf("%s(%zu more)\n", found,
	    nfound - MAX_FINDS) : found;
}

/*
 * Asserts that pid holds none of nd once it is done: a find is looked for
 * again until WIPE_MS has passed (a daemon wipes a frame just after its
 * reply went out).
 */
static void
expect_wiped(const char *who, pid_t pid, const struct needles *nd)
{
	int64_t start = it_now_ms();
	const char *found;

	while (*(found = scan_memory(pid, nd)) != '\0') {
		cr_assert(it_now_ms() - start < WIPE_MS, "%s (pid %d) "
		    "still holds key material %d ms after it was done with "
		    "it:\n%s", who, (int)pid, WIPE_MS, found);
		it_msleep(50);
	}
}

/* --- the clients ---------------------------------------------------------- */

/*
 * A new key of root's, made by apikeyctl key create, added to nd as label;
 * asserts that the daemon holds none of it once it replied, so that a
 * copy left by the create is not taken for one left by what follows.
 */
static const char *
new_key(struct needles *nd, const char *label)
{
	const char *tok = it_key(NULL, NULL);

	add_token(nd, label, tok);
	expect_wiped("apikeyd, after key create", it_daemon_pid(), nd);
	return tok;
}

/* memscan_client SOCK mode as root, for it_prog_*(). */
static struct it_prog *
client(const char *mode)
{
	return it_prog_start(NULL, "tests/memscan_client", it_sock_dir(),
	    mode, NULL);
}

/*
 * memscan_client verifies token and waits; asserts it answered code, and
 * that neither it nor the daemon holds any of nd.
 */
static void
verify_and_scan(const char *token, const char *code, const struct needles *nd)
{
	struct it_prog *p = client("verify");
	const char *out;

	it_prog_say(p, "%s", token);
	out = it_prog_until(p, "ready", IT_DEADLINE_MS);
	cr_assert_str_eq(out, it_printf("code %s\n", code));
	expect_wiped("memscan_client", it_prog_pid(p), nd);
	expect_wiped("apikeyd", it_daemon_pid(), nd);
	cr_assert_eq(it_prog_end(p, IT_DEADLINE_MS), 0);
}

Test(memory, the_scan_finds_a_token_that_is_there)
{
	const char *tok = it_key(NULL, NULL);
	struct needles nd = { 0 };
	struct it_prog *p = client("hold");
	const char *found;
	size_t i;

	plain_build_only();
	add_token(&nd, "the held token", tok);
	it_prog_say(p, "%s", tok);
	it_prog_until(p, "ready", IT_DEADLINE_MS);
	found = scan_memory(it_prog_pid(p), &nd);
	for (i = 0; i < nd.n; i++)
		cr_assert(strstr(found, nd.v[i].what) != NULL, "no %s found in "
		    "a process that holds it; found:\n%s", nd.v[i].what, found);
	cr_assert_eq(it_prog_end(p, IT_DEADLINE_MS), 0);
}

Test(memory, valid_verify)
{
	struct needles nd = { 0 };
	const char *tok = new_key(&nd, "the verified token");

	plain_build_only();
	verify_and_scan(tok, "VALID", &nd);
}

Test(memory, wrong_secret_verify)
{
	struct needles nd = { 0 };
	const char *tok = new_key(&nd, "the key's own token");
	const char *wrong = it_wrong_secret(tok);

	plain_build_only();
	it_note_token(wrong);
	add_token(&nd, "the presented token", wrong);
	verify_and_scan(wrong, "NOT_FOUND", &nd);
}

Test(memory, malformed_token)
{
	uint8_t f[ITR_VERIFY_FRAME_MAX], *reply;
	struct needles nd = { 0 };
	const char *bad;
	size_t n;
	int fd;

	plain_build_only();
	/* The same secret as the key's, under a checksum that fails. */
	bad = it_bad_crc(new_key(&nd, "the key's own token"));
	it_note_token(bad);
	add_token(&nd, "the malformed token", bad);
	/* libapikey answers it without a round trip ... */
	verify_and_scan(bad, "MALFORMED", &nd);
	/* ... so the daemon gets it by hand. */
	fd = itr_connect(it_printf("%s/verify.sock", it_sock_dir()));
	itr_write(fd, f, itr_verify_frame(f, 1, bad, 1, 0));
	n = itr_read_frame(fd, &reply);
	cr_assert_gt(n, 0, "no reply");
	cr_assert_eq(itr_verify_code(reply, n), APIKEY_MALFORMED);
	free(reply);
	/* The connection stays open, and with it its buffers. */
	expect_wiped("apikeyd", it_daemon_pid(), &nd);
	close(fd);
}

Test(memory, key_created_through_libapikey)
{
	struct it_prog *p = client("create");
	struct needles nd = { 0 };
	const char *out, *tok;
	size_t n;

	plain_build_only();
	out = it_prog_until(p, "ready", IT_DEADLINE_MS);
	n = strlen(out);
	cr_assert(strncmp(out, "token ", 6) == 0 && n > 7 &&
	    out[n - 1] == '\n', "memscan_client printed:\n%s", out);
	tok = it_printf("%.*s", (int)(n - 7), out + 6);
	it_note_token(tok);
	add_token(&nd, "the created token", tok);
	expect_wiped("memscan_client after apikey_token_free()",
	    it_prog_pid(p), &nd);
	expect_wiped("apikeyd", it_daemon_pid(), &nd);
	cr_assert_eq(it_prog_end(p, IT_DEADLINE_MS), 0);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

/* Whether pid is blocked writing to its standard output. */
static int
writing_stdout(pid_t pid)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(it_printf("/proc/%d/syscall", (int)pid), O_RDONLY |
	    O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "NR ARG0 ...": write(2) on descriptor 1. */
	return strncmp(buf, it_printf("%d 0x1 ", (int)SYS_write),
	    strlen(it_printf("%d 0x1 ", (int)SYS_write))) == 0;
}

/*
 * apikeyctl verify - reads the key from stdin and is done with it before
 * it flushes its output at exit: apikey_close() and the wipe of its key
 * buffer come first. Its standard output is a pipe filled beforehand, so
 * that flush blocks, and the test reads its memory meanwhile.
 */
Test(memory, apikeyctl_verify_from_stdin)
{
	struct needles nd = { 0 };
	const char *tok = new_key(&nd, "the verified token");
	const char *d = it_apikeyd_path();
	const char *ctl = it_printf("%.*s/apikeyctl",
	    (int)(strrchr(d, '/') - d), d);
	const char *argv[] = { ctl, "--socket-dir", it_sock_dir(), "verify",
	    "-", NULL };
	const char *set[] = { "APIKEY_SOCKET_DIR", NULL };
	struct it_out o[2] = { { .fd = -1 }, { .fd = -1 } };
	int inp[2], outp[2], errp[2], flags, st;
	int64_t end = it_now_ms() + IT_DEADLINE_MS;
	char **env, fill[4096];
	const char *line;
	pid_t pid;

	plain_build_only();
	cr_assert(pipe2(inp, O_CLOEXEC) == 0 && pipe2(outp, O_CLOEXEC) == 0 &&
	    pipe2(errp, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	/* A pipe of one page, full. */
	cr_assert(fcntl(outp[1], F_SETPIPE_SZ, 4096) > 0, "F_SETPIPE_SZ: %s",
	    strerror(errno));
	flags = fcntl(outp[1], F_GETFL);
	cr_assert(fcntl(outp[1], F_SETFL, flags | O_NONBLOCK) == 0);
	memset(fill, '.', sizeof(fill));
	while (write(outp[1], fill, sizeof(fill)) > 0 ||
	    write(outp[1], fill, 1) > 0)
		;
	cr_assert_eq(errno, EAGAIN, "filling the pipe: %s", strerror(errno));
	cr_assert(fcntl(outp[1], F_SETFL, flags) == 0);

	env = it_make_env(set);
	pid = it_proc_spawn(argv, env, (const int[3]){ inp[0], outp[1],
	    errp[1] }, NULL);
	it_free_env(env);
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	line = it_printf("%s\n", tok);
	cr_assert_eq(write(inp[1], line, strlen(line)), (ssize_t)strlen(line));
	close(inp[1]);

	while (!writing_stdout(pid)) {
		st = it_proc_wait(pid, 0);
		cr_assert_eq(st, -1, "apikeyctl exited with %d before its "
		    "output", st);
		cr_assert(it_now_ms() < end, "apikeyctl did not come to write "
		    "its output within %d ms", IT_DEADLINE_MS);
		it_msleep(5);
	}
	expect_wiped("apikeyctl verify, flushing its output at exit", pid,
	    &nd);
	expect_wiped("apikeyd", it_daemon_pid(), &nd);

	o[0].fd = outp[0];
	o[1].fd = errp[0];
	cr_assert_eq(it_proc_read(o, 2, end + IT_DEADLINE_MS, NULL, NULL), 0,
	    "apikeyctl did not finish");
	st = it_proc_wait(pid, IT_DEADLINE_MS);
	cr_assert_eq(st, 0, "apikeyctl verify: exit %d; stderr:\n%s", st,
	    o[1].buf != NULL ? o[1].buf : "");
	cr_assert(o[0].len > sizeof(fill) && strstr(o[0].buf, "VALID") != NULL,
	    "apikeyctl verify printed:\n%s", o[0].buf != NULL ?
	    o[0].buf : "");
	free(o[0].buf);
	free(o[1].buf);
}
