/*
 * it_bench.c - apikey-bench (bench/, `make bench`) against the test's own
 * daemon, with tiny settings. Speed is not tested; correctness is: the
 * bench prints its table, counts no more VALID answers than the daemon
 * gave, never prints a token, and fails, naming the code, as soon as an
 * answer is not the expected one: a key it verifies disabled under it
 * (--check-fail-test, on the plain call and on the pipelined path), a
 * wrong secret answered RATE_LIMITED by the daemon's failure throttle
 * instead of NOT_FOUND.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

extern char **environ;

TestSuite(bench, .timeout = 180);

#define MAX_ARGS	32
/* The table's header line, as report.c prints it. */
#define TABLE_HEADER	"scenario      conns depth     per_s   p50_us   " \
			"p99_us  p99.9_us     count srv_cpu_s srv_us_op " \
			"cli_cpu_s cli_us_op  rss_MiB  hwm_MiB"

static void
setup_no_throttle(void)
{
	it_prepare("throttle_failures = 0\n");
	it_start();
}

struct bench_run {
	int		 status;
	const char	*out;
	const char	*err;
};

static const char *
bench_path(void)
{
	const char	*b = getenv("APIKEY_BUILD");
	char		 dir[PATH_MAX];

	if (b == NULL || *b == '\0')
		b = "build";
	cr_assert_not_null(realpath(b, dir), "build directory %s: %s", b,
	    strerror(errno));
	return it_printf("%s/apikey-bench", dir);
}

/* Fails the test if text holds anything shaped like a token. */
static void
assert_no_token_shape(const char *what, const char *text)
{
	char	 word[256];
	size_t	 n;

	while (*text != '\0') {
		n = strspn(text, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		if (n > 0 && n < sizeof(word)) {
			memcpy(word, text, n);
			word[n] = '\0';
			cr_assert(apikey_token_check(word) != 0, "%s holds a "
			    "token (key %s)", what, it_id(word));
		}
		text += n > 0 ? n : 1;
	}
}

/* Runs the bench against the test's daemon with the arguments after
 * --socket-dir, NULL-terminated. */
static void
run_bench(struct bench_run *r, ...)
{
	const char	*argv[MAX_ARGS];
	struct it_out	 o[2] = { { .fd = -1 }, { .fd = -1 } };
	int		 out[2], err[2];
	size_t		 n = 0;
	va_list		 ap;
	pid_t		 pid;

	argv[n++] = bench_path();
	argv[n++] = "--socket-dir";
	argv[n++] = it_sock_dir();
	va_start(ap, r);
	it_argv_va(argv, MAX_ARGS, n, ap);
	va_end(ap);
	cr_assert(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0,
	    "pipe: %s", strerror(errno));
	pid = it_proc_spawn(argv, environ, (const int[3]){ -1, out[1],
	    err[1] }, NULL);
	close(out[1]);
	close(err[1]);
	o[0].fd = out[0];
	o[1].fd = err[0];
	if (it_proc_read(o, 2, it_now_ms() + 12 * IT_DEADLINE_MS, NULL,
	    NULL) != 0) {
		it_proc_kill(pid);
		cr_assert_fail("apikey-bench did not finish; stdout:\n%s\n"
		    "stderr:\n%s", o[0].buf != NULL ? o[0].buf : "",
		    o[1].buf != NULL ? o[1].buf : "");
	}
	r->status = it_proc_wait(pid, IT_DEADLINE_MS);
	r->out = it_keep(o[0].buf != NULL ? o[0].buf : strdup(""));
	r->err = it_keep(o[1].buf != NULL ? o[1].buf : strdup(""));
	cr_log_info("apikey-bench exit %d; stdout:\n%s\nstderr:\n%s",
	    r->status, r->out, r->err);
	assert_no_token_shape("apikey-bench's output", r->out);
	assert_no_token_shape("apikey-bench's errors", r->err);
}

static size_t
fields(const char *line)
{
	size_t	 n = 0;

	while (*(line += strspn(line, " ")) != '\0') {
		n++;
		line += strcspn(line, " ");
	}
	return n;
}

/* The row of scenario name in out; asserts its shape and returns count. */
static unsigned long long
row(const char *out, const char *name, unsigned conns, unsigned depth)
{
	const char		*line;
	char			 sc[32];
	unsigned		 c, d;
	double			 per_s, p50, p99, p999, srv;
	unsigned long long	 count;
	size_t			 i;
	int			 header = 0;

	for (i = 0; (line = it_line(out, i)) != NULL; i++) {
		if (strcmp(line, TABLE_HEADER) == 0)
			header = 1;
		if (strncmp(line, name, strlen(name)) != 0 ||
		    line[strlen(name)] != ' ')
			continue;
		cr_assert(header, "row before the table's header:\n%s", out);
		cr_assert_eq(fields(line), 14, "not a row of 14 columns: %s",
		    line);
		/* The client's CPU columns are "-" in pam rows. */
		cr_assert_eq(sscanf(line, "%31s %u %u %lf %lf %lf %lf %llu "
		    "%lf", sc, &c, &d, &per_s, &p50, &p99, &p999, &count,
		    &srv), 9, "not a row: %s", line);
		cr_assert(c == conns && d == depth, "%s", line);
		cr_assert(per_s > 0 && count > 0, "nothing counted: %s", line);
		cr_assert(p50 > 0 && p50 <= p99 && p99 <= p999,
		    "latencies out of order: %s", line);
		return count;
	}
	cr_assert_fail("no row %s in:\n%s", name, out);
	return 0;
}

static uint64_t
daemon_valid(void)
{
	struct apikey_status	*st;
	uint64_t		 n;
	int			 rc;

	rc = apikey_status(it_aclient(), &st);
	cr_assert_eq(rc, 0, "status: %s", apikey_strerror(rc));
	cr_assert(apikey_status_has_counters(st), "no verify counters");
	n = apikey_status_verifies(st, APIKEY_VALID);
	apikey_status_free(st);
	return n;
}

Test(bench, prints_its_table_and_counts_only_valid_answers,
    .init = it_setup, .fini = it_teardown)
{
	struct bench_run	 r;
	unsigned long long	 n;

	run_bench(&r, "--keys", "200", "--seconds", "1", "--warmup", "0.2",
	    "--scenario", "valid-1x1,valid-16x16", NULL);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.err);
	it_assert_has(r.out, "seeded with apikey_key_create_many: 200 keys");
	n = row(r.out, "valid-1x1", 1, 1) + row(r.out, "valid-16x16", 16,
	    16);
	/* The daemon also answered the warm-up and the drain. */
	cr_assert(n <= daemon_valid(), "the bench counted %llu VALID "
	    "answers, the daemon gave %llu", n,
	    (unsigned long long)daemon_valid());
}

Test(bench, runs_every_kind_of_scenario, .init = setup_no_throttle,
    .fini = it_teardown)
{
	struct bench_run	 r;

	run_bench(&r, "--keys", "300", "--credit-keys", "20", "--seconds",
	    "0.5", "--warmup", "0.1", "--scenario", "valid-16x1,invalid,"
	    "credit-1x16,echo-1x1,echo-16x16,pam,touch", NULL);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.err);
	row(r.out, "valid-16x1", 16, 1);
	row(r.out, "invalid-1x1", 1, 1);
	row(r.out, "invalid-16x16", 16, 16);
	row(r.out, "credit-1x16", 1, 16);
	row(r.out, "echo-1x1", 1, 1);
	row(r.out, "echo-16x16", 16, 16);
	row(r.out, "pam-apikey", 1, 1);
	row(r.out, "pam-permit", 1, 1);
	/* touch-all verifies every key exactly once. */
	cr_assert_eq(row(r.out, "touch-all", 16, 16), 300);
	it_assert_has(r.out, "pam: one login (auth + account) takes ");
	it_assert_has(r.out, "after verifying each of its 300 keys once");
}

Test(bench, fails_naming_the_code_when_a_valid_key_is_not,
    .init = it_setup, .fini = it_teardown)
{
	struct bench_run	 r;

	run_bench(&r, "--keys", "200", "--seconds", "2", "--warmup", "0.2",
	    "--scenario", "valid-1x1", "--check-fail-test", NULL);
	cr_assert_eq(r.status, 1, "exit %d, not 1:\n%s\n%s", r.status, r.out,
	    r.err);
	it_assert_has(r.err, "apikey-bench: FAILED: valid-1x1: key ");
	it_assert_has(r.err, " answered DISABLED (key is disabled), "
	    "expected VALID");
}

Test(bench, fails_on_the_pipelined_path_too, .init = it_setup,
    .fini = it_teardown)
{
	struct bench_run	 r;

	run_bench(&r, "--keys", "200", "--credit-keys", "50", "--seconds",
	    "2", "--warmup", "0.2", "--scenario", "credit-16x16",
	    "--check-fail-test", NULL);
	cr_assert_eq(r.status, 1, "exit %d, not 1:\n%s\n%s", r.status, r.out,
	    r.err);
	it_assert_has(r.err, "apikey-bench: FAILED: credit-16x16: key ");
	it_assert_has(r.err, " answered DISABLED (key is disabled), "
	    "expected VALID");
}

Test(bench, fails_when_a_wrong_secret_is_not_not_found, .init = it_setup,
    .fini = it_teardown)
{
	struct bench_run	 r;

	/* The test's daemon throttles failures (20 a minute by default),
	 * so wrong secrets soon get RATE_LIMITED. */
	run_bench(&r, "--keys", "200", "--seconds", "1", "--warmup", "0.2",
	    "--scenario", "invalid-1x1", NULL);
	cr_assert_eq(r.status, 1, "exit %d, not 1:\n%s\n%s", r.status, r.out,
	    r.err);
	it_assert_has(r.err, "apikey-bench: FAILED: invalid-1x1: key ");
	it_assert_has(r.err, " answered RATE_LIMITED");
	it_assert_has(r.err, "expected NOT_FOUND");
	it_assert_has(r.err, "throttle_failures = 0");
}
