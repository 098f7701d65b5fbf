/*
 * unit_cli_args.c - apikeyctl's command-line scanning and value parsers
 * (cli/args.c).
 *
 * DURATION, number and N/DURATION parsing are driven through tables of
 * accepted and refused inputs, each refusal checked to leave the output
 * untouched. The
 * scanner is checked for what docs/cli.md promises: global options anywhere
 * on the line, positionals in order, "--" and "-", and the exact usage
 * message (stderr is captured) for each kind of mistake.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "../cli/apikeyctl.h"
#include "../cli/args.h"

#define SENTINEL	UINT64_C(0xdeadbeef)

struct dur_case {
	const char	*in;
	int		 rc;
	uint64_t	 secs;	/* when rc is ARGS_OK */
};

static const struct dur_case dur_cases[] = {
	{ "60s",		ARGS_OK,	60 },
	{ "15m",		ARGS_OK,	900 },
	{ "12h",		ARGS_OK,	43200 },
	{ "30d",		ARGS_OK,	2592000 },
	{ "2w",			ARGS_OK,	1209600 },
	{ "1h30m",		ARGS_OK,	5400 },
	{ "1w2d3h4m5s",		ARGS_OK,	788645 },
	{ "0s",			ARGS_OK,	0 },
	{ "0w0d",		ARGS_OK,	0 },
	{ "007s",		ARGS_OK,	7 },
	{ "1m1m",		ARGS_OK,	120 },
	{ "3155760000s",	ARGS_OK,	3155760000 },
	{ "36525d",		ARGS_OK,	3155760000 },
	{ "3155760001s",	ARGS_ERANGE,	0 },
	{ "36525d1s",		ARGS_ERANGE,	0 },
	{ "5218w",		ARGS_ERANGE,	0 },
	{ "99999999999999999999999999s", ARGS_ERANGE, 0 },
	{ "18446744073709551615w", ARGS_ERANGE,	0 },
	{ "",			ARGS_EFORMAT,	0 },
	{ "60",			ARGS_EFORMAT,	0 },
	{ "1h30",		ARGS_EFORMAT,	0 },
	{ "s",			ARGS_EFORMAT,	0 },
	{ "h1",			ARGS_EFORMAT,	0 },
	{ "1hh",		ARGS_EFORMAT,	0 },
	{ "1x",			ARGS_EFORMAT,	0 },
	{ "1H",			ARGS_EFORMAT,	0 },
	{ "1y",			ARGS_EFORMAT,	0 },
	{ "-1s",		ARGS_EFORMAT,	0 },
	{ "+1s",		ARGS_EFORMAT,	0 },
	{ " 1s",		ARGS_EFORMAT,	0 },
	{ "1s ",		ARGS_EFORMAT,	0 },
	{ "1 s",		ARGS_EFORMAT,	0 },
	{ "1.5h",		ARGS_EFORMAT,	0 },
	{ "0x10s",		ARGS_EFORMAT,	0 },
	{ "never",		ARGS_EFORMAT,	0 },
	/* A malformed tail outranks an overflow before it. */
	{ "99999999999999999999w1x", ARGS_EFORMAT, 0 },
};

Test(duration, table)
{
	size_t		i;
	uint64_t	out;
	int		rc;

	for (i = 0; i < sizeof(dur_cases) / sizeof(dur_cases[0]); i++) {
		out = SENTINEL;
		rc = args_duration(dur_cases[i].in, &out);
		cr_assert_eq(rc, dur_cases[i].rc, "'%s': rc %d, want %d",
		    dur_cases[i].in, rc, dur_cases[i].rc);
		if (rc == ARGS_OK)
			cr_assert_eq(out, dur_cases[i].secs,
			    "'%s': %ju, want %ju", dur_cases[i].in,
			    (uintmax_t)out, (uintmax_t)dur_cases[i].secs);
		else
			cr_assert_eq(out, SENTINEL, "'%s' wrote its output",
			    dur_cases[i].in);
	}
}

Test(duration, max_is_100_years)
{
	cr_assert_eq(ARGS_DURATION_MAX, UINT64_C(100) * 36525 * 864);
}

struct num_case {
	const char	*in;
	uint64_t	 max;
	int		 rc;
	uint64_t	 n;
};

static const struct num_case num_cases[] = {
	{ "0",			UINT_MAX,	ARGS_OK,	0 },
	{ "42",			UINT_MAX,	ARGS_OK,	42 },
	{ "0042",		UINT_MAX,	ARGS_OK,	42 },
	{ "4294967295",		UINT_MAX,	ARGS_OK,	4294967295 },
	{ "4294967296",		UINT_MAX,	ARGS_ERANGE,	0 },
	{ "2147483647",		INT_MAX,	ARGS_OK,	2147483647 },
	{ "2147483648",		INT_MAX,	ARGS_ERANGE,	0 },
	{ "18446744073709551615", UINT64_MAX,	ARGS_OK,	UINT64_MAX },
	{ "18446744073709551616", UINT64_MAX,	ARGS_ERANGE,	0 },
	{ "99999999999999999999999", UINT64_MAX, ARGS_ERANGE,	0 },
	{ "9",			5,		ARGS_ERANGE,	0 },
	{ "5",			5,		ARGS_OK,	5 },
	{ "0",			0,		ARGS_OK,	0 },
	{ "1",			0,		ARGS_ERANGE,	0 },
	{ "",			UINT_MAX,	ARGS_EFORMAT,	0 },
	{ "-1",			UINT_MAX,	ARGS_EFORMAT,	0 },
	{ "+1",			UINT_MAX,	ARGS_EFORMAT,	0 },
	{ " 1",			UINT_MAX,	ARGS_EFORMAT,	0 },
	{ "1 ",			UINT_MAX,	ARGS_EFORMAT,	0 },
	{ "1a",			UINT_MAX,	ARGS_EFORMAT,	0 },
	{ "0x1",		UINT_MAX,	ARGS_EFORMAT,	0 },
	{ "1s",			UINT_MAX,	ARGS_EFORMAT,	0 },
	{ "99999999999x",	UINT_MAX,	ARGS_EFORMAT,	0 },
};

Test(number, table)
{
	size_t		i;
	uint64_t	out;
	int		rc;

	for (i = 0; i < sizeof(num_cases) / sizeof(num_cases[0]); i++) {
		out = SENTINEL;
		rc = args_number(num_cases[i].in, num_cases[i].max, &out);
		cr_assert_eq(rc, num_cases[i].rc,
		    "'%s' max %ju: rc %d, want %d", num_cases[i].in,
		    (uintmax_t)num_cases[i].max, rc, num_cases[i].rc);
		if (rc == ARGS_OK)
			cr_assert_eq(out, num_cases[i].n, "'%s': %ju",
			    num_cases[i].in, (uintmax_t)out);
		else
			cr_assert_eq(out, SENTINEL, "'%s' wrote its output",
			    num_cases[i].in);
	}
}

/* Limits of --rate (u32 count, u32 milliseconds) and --refill (credits
 * as a JSON integer, any DURATION), as cmd_key.c passes them. */
#define RATE_N		UINT32_MAX
#define RATE_D		UINT64_C(4294967)
#define REFILL_N	((uint64_t)INT64_MAX)
#define REFILL_D	ARGS_DURATION_MAX

struct per_case {
	const char	*in;
	uint64_t	 nmax, dmax;
	int		 rc;
	uint64_t	 n, secs;	/* when rc is ARGS_OK */
};

static const struct per_case per_cases[] = {
	/* valid */
	{ "100/1m",		RATE_N, RATE_D, ARGS_OK, 100, 60 },
	{ "1/1s",		RATE_N, RATE_D, ARGS_OK, 1, 1 },
	{ "5/1h30m",		RATE_N, RATE_D, ARGS_OK, 5, 5400 },
	{ "007/007s",		RATE_N, RATE_D, ARGS_OK, 7, 7 },
	{ "4294967295/4294967s", RATE_N, RATE_D, ARGS_OK, 4294967295,
	    4294967 },
	{ "1000/1d",		REFILL_N, REFILL_D, ARGS_OK, 1000, 86400 },
	{ "9223372036854775807/36525d", REFILL_N, REFILL_D, ARGS_OK,
	    INT64_MAX, 3155760000 },
	/* missing or misplaced slash */
	{ "100",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "100 1m",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "100-1m",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "",			RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "/",			RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "/1m",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "100/",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "100//1m",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "100/1m/1m",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	/* a bad number */
	{ "-1/1m",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "+1/1m",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ " 1/1m",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "1 /1m",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "0x10/1m",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "1.5/1m",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	/* a bad duration */
	{ "1/60",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "1/1x",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "1/1H",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "1/ 1m",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "1/1m ",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "1/never",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	/* zero */
	{ "0/1m",		RATE_N, RATE_D, ARGS_EZERO, 0, 0 },
	{ "000/1m",		RATE_N, RATE_D, ARGS_EZERO, 0, 0 },
	{ "1/0s",		RATE_N, RATE_D, ARGS_EZERO, 0, 0 },
	{ "1/0m0s",		RATE_N, RATE_D, ARGS_EZERO, 0, 0 },
	{ "0/0s",		REFILL_N, REFILL_D, ARGS_EZERO, 0, 0 },
	/* overflow */
	{ "4294967296/1m",	RATE_N, RATE_D, ARGS_ERANGE, 0, 0 },
	{ "99999999999999999999999/1m", RATE_N, RATE_D, ARGS_ERANGE, 0, 0 },
	{ "9223372036854775808/1d", REFILL_N, REFILL_D, ARGS_ERANGE, 0, 0 },
	{ "1/4294968s",		RATE_N, RATE_D, ARGS_ERANGE, 0, 0 },
	{ "1/50d",		RATE_N, RATE_D, ARGS_ERANGE, 0, 0 },
	{ "1/36525d1s",		REFILL_N, REFILL_D, ARGS_ERANGE, 0, 0 },
	{ "1/99999999999999999999w", REFILL_N, REFILL_D, ARGS_ERANGE, 0, 0 },
	/* A malformed part outranks an overflow or a zero in the other. */
	{ "99999999999/1x",	RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "0/1x",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "x/99999999999w",	RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	{ "x/0s",		RATE_N, RATE_D, ARGS_EFORMAT, 0, 0 },
	/* Then the number's trouble comes first. */
	{ "4294967296/0s",	RATE_N, RATE_D, ARGS_ERANGE, 0, 0 },
	{ "0/50d",		RATE_N, RATE_D, ARGS_EZERO, 0, 0 },
};

Test(per, table)
{
	size_t		i;
	uint64_t	n, secs;
	int		rc;

	for (i = 0; i < sizeof(per_cases) / sizeof(per_cases[0]); i++) {
		const struct per_case *c = &per_cases[i];

		n = secs = SENTINEL;
		rc = args_per(c->in, c->nmax, c->dmax, &n, &secs);
		cr_assert_eq(rc, c->rc, "'%s': rc %d, want %d", c->in, rc,
		    c->rc);
		if (rc == ARGS_OK) {
			cr_assert_eq(n, c->n, "'%s': n %ju, want %ju", c->in,
			    (uintmax_t)n, (uintmax_t)c->n);
			cr_assert_eq(secs, c->secs, "'%s': %ju s, want %ju",
			    c->in, (uintmax_t)secs, (uintmax_t)c->secs);
		} else {
			cr_assert_eq(n, SENTINEL, "'%s' wrote n", c->in);
			cr_assert_eq(secs, SENTINEL, "'%s' wrote secs",
			    c->in);
		}
	}
}

/* --- the scanner ------------------------------------------------------- */

enum { OPT_USER = ARGS_OPT_BASE, OPT_GRACE };

static const struct option test_opts[] = {
	{ "user",	required_argument,	NULL,	OPT_USER },
	{ "grace",	required_argument,	NULL,	OPT_GRACE },
	{ "quiet",	no_argument,		NULL,	'q' },
	{ NULL,		0,			NULL,	0 }
};

#define TEST_USAGE	"key test [--user USER] [--grace DURATION] [-q] ID"
#define USAGE_TAIL	"usage: apikeyctl " TEST_USAGE "\n" \
			"Try 'apikeyctl --help' for more information.\n"

static struct ctl ctl = { .usage = TEST_USAGE };

/* A writable, NULL-terminated copy of argv, as main() would get it. */
static char store[1024];
static char *vec_argv[32];

static char **
vec(const char *const *src)
{
	size_t	i, off = 0, n;

	for (i = 0; src[i] != NULL; i++) {
		n = strlen(src[i]) + 1;
		cr_assert(i + 1 < sizeof(vec_argv) / sizeof(vec_argv[0]));
		cr_assert(off + n <= sizeof(store));
		vec_argv[i] = memcpy(store + off, src[i], n);
		off += n;
	}
	vec_argv[i] = NULL;
	return vec_argv;
}

/* Scans argv (NULL-terminated) to the end; the last args_next() value. */
static int
scan(struct args *a, const char *const *src, int flags, int *nopts)
{
	char	**argv = vec(src);
	int	  argc = 0, ch;

	while (argv[argc] != NULL)
		argc++;
	args_init(a, &ctl, argc, argv, flags, "q", test_opts);
	*nopts = 0;
	while ((ch = args_next(a)) > 0)
		(*nopts)++;
	return ch;
}

Test(scanner, globals_anywhere_positionals_in_order)
{
	const char *const argv[] = { "test", "--json", "--user", "bob",
	    "ID1", "-q", "--socket-dir", "/x", "--timeout=50", "-", "--",
	    "--grace", "-z", NULL };
	struct args	a;
	int		n;

	cr_assert_eq(scan(&a, argv, 0, &n), ARGS_END);
	cr_assert_eq(n, 2);	/* --user and -q */
	cr_assert_eq(ctl.json, 1);
	cr_assert_str_eq(ctl.socket_dir, "/x");
	cr_assert_eq(ctl.timeout_ms, 50);
	cr_assert_eq(a.npos, 4);
	cr_assert_str_eq(a.pos[0], "ID1");
	cr_assert_str_eq(a.pos[1], "-");
	cr_assert_str_eq(a.pos[2], "--grace");
	cr_assert_str_eq(a.pos[3], "-z");
	/* argv is not permuted. */
	cr_assert_str_eq(vec_argv[4], "ID1");
}

Test(scanner, option_values)
{
	const char *const argv[] = { "test", "--user=alice", "--grace", "1h",
	    NULL };
	struct args	a;

	args_init(&a, &ctl, 4, vec(argv), 0, "q", test_opts);
	cr_assert_eq(args_next(&a), OPT_USER);
	cr_assert_str_eq(a.arg, "alice");
	cr_assert_eq(args_next(&a), OPT_GRACE);
	cr_assert_str_eq(a.arg, "1h");
	cr_assert_eq(args_next(&a), ARGS_END);
	cr_assert_eq(a.npos, 0);
}

Test(scanner, stop_at_command_word)
{
	const char *const argv[] = { "apikeyctl", "--json", "--socket-dir=/s",
	    "key", "list", "--bogus", NULL };
	struct args	a;
	int		n;

	cr_assert_eq(scan(&a, argv, ARGS_STOP, &n), ARGS_END);
	cr_assert_eq(a.next, 3);
	cr_assert_eq(a.npos, 0);
	cr_assert_str_eq(ctl.socket_dir, "/s");
}

Test(scanner, help_and_version)
{
	const char *const help[] = { "test", "ID", "-h", "--bogus", NULL };
	const char *const longhelp[] = { "test", "--help", NULL };
	const char *const version[] = { "test", "--version", NULL };
	struct args	a;
	int		n;

	cr_assert_eq(scan(&a, help, 0, &n), ARGS_HELP);
	cr_assert_eq(scan(&a, longhelp, 0, &n), ARGS_HELP);
	cr_assert_eq(scan(&a, version, 0, &n), ARGS_VERSION);
	cr_assert_eq(args_finish(&a, ARGS_ERROR), CTL_EXIT_USAGE);
}

static void
expect_error(const char *const *argv, const char *message)
{
	struct args	a;
	int		n;

	cr_assert_eq(scan(&a, argv, 0, &n), ARGS_ERROR);
	cr_assert_eq(args_finish(&a, ARGS_ERROR), CTL_EXIT_USAGE);
	fflush(stderr);
	cr_assert_stderr_eq_str(message);
}

Test(scanner, unknown_long_option, .init = cr_redirect_stderr)
{
	const char *const argv[] = { "test", "--bogus=1", NULL };

	expect_error(argv, "apikeyctl: unknown option '--bogus'\n" USAGE_TAIL);
}

Test(scanner, unknown_short_option, .init = cr_redirect_stderr)
{
	const char *const argv[] = { "test", "-qx", NULL };

	expect_error(argv, "apikeyctl: unknown option '-x'\n" USAGE_TAIL);
}

Test(scanner, missing_value, .init = cr_redirect_stderr)
{
	const char *const argv[] = { "test", "ID", "--grace", NULL };

	expect_error(argv, "apikeyctl: option '--grace' needs a value\n"
	    USAGE_TAIL);
}

Test(scanner, value_on_flag, .init = cr_redirect_stderr)
{
	const char *const argv[] = { "test", "--json=yes", NULL };

	expect_error(argv, "apikeyctl: option '--json' takes no value\n"
	    USAGE_TAIL);
}

Test(scanner, bad_timeout, .init = cr_redirect_stderr)
{
	const char *const argv[] = { "test", "--timeout", "-5", NULL };

	expect_error(argv, "apikeyctl: --timeout: '-5' is not a number\n"
	    USAGE_TAIL);
}

Test(scanner, empty_socket_dir, .init = cr_redirect_stderr)
{
	const char *const argv[] = { "test", "--socket-dir=", NULL };

	expect_error(argv, "apikeyctl: --socket-dir needs a path\n"
	    USAGE_TAIL);
}

Test(scanner, positional_counts, .init = cr_redirect_stderr)
{
	const char *const none[] = { "test", NULL };
	const char *const two[] = { "test", "ID", "extra", NULL };
	struct args	a;
	int		n;

	cr_assert_eq(scan(&a, none, 0, &n), ARGS_END);
	cr_assert_eq(args_positionals(&a, 0, 1, "ID"), 0);
	cr_assert_eq(args_positionals(&a, 1, 1, "ID"), -1);
	cr_assert_eq(scan(&a, two, 0, &n), ARGS_END);
	cr_assert_eq(args_positionals(&a, 1, 1, "ID"), -1);
	/* A secret positional is never echoed. */
	cr_assert_eq(scan(&a, two, ARGS_SECRET, &n), ARGS_END);
	cr_assert_eq(args_positionals(&a, 0, 1, "KEY"), -1);
	fflush(stderr);
	cr_assert_stderr_eq_str(
	    "apikeyctl: missing ID\n" USAGE_TAIL
	    "apikeyctl: unexpected argument 'extra'\n" USAGE_TAIL
	    "apikeyctl: too many arguments\n" USAGE_TAIL);
}

Test(scanner, duration_value_messages, .init = cr_redirect_stderr)
{
	const char *const argv[] = { "test", "--grace", "90", "--grace",
	    "999999w", "--grace", "1h", NULL };
	struct args	a;
	uint64_t	secs = SENTINEL;

	args_init(&a, &ctl, 7, vec(argv), 0, "q", test_opts);
	cr_assert_eq(args_next(&a), OPT_GRACE);
	cr_assert_eq(args_duration_value(&a, "--grace", &secs), -1);
	cr_assert_eq(args_next(&a), OPT_GRACE);
	cr_assert_eq(args_duration_value(&a, "--grace", &secs), -1);
	cr_assert_eq(secs, SENTINEL);
	cr_assert_eq(args_next(&a), OPT_GRACE);
	cr_assert_eq(args_duration_value(&a, "--grace", &secs), 0);
	cr_assert_eq(secs, 3600);
	fflush(stderr);
	cr_assert_stderr_eq_str(
	    "apikeyctl: --grace: invalid duration '90' (NUMBER UNIT pairs, "
	    "units s m h d w, e.g. 30d or 1h30m)\n" USAGE_TAIL
	    "apikeyctl: --grace: duration '999999w' is longer than 100 "
	    "years\n" USAGE_TAIL);
}

Test(scanner, per_value_messages, .init = cr_redirect_stderr)
{
	static const char *const bad[] = {
		"100", "x/1m", "0/1m", "4294967296/1m", "1/60", "1/0s",
		"1/50d", "99999999999/1x",
	};
	const char	*argv[2 * (sizeof(bad) / sizeof(bad[0])) + 4];
	struct args	 a;
	uint64_t	 n = SENTINEL, secs = SENTINEL;
	size_t		 i, nbad = sizeof(bad) / sizeof(bad[0]);
	int		 argc = 1;

	argv[0] = "test";
	for (i = 0; i < nbad; i++) {
		argv[argc++] = "--grace";
		argv[argc++] = bad[i];
	}
	argv[argc++] = "--grace";
	argv[argc++] = "100/1m";
	argv[argc] = NULL;
	args_init(&a, &ctl, argc, vec(argv), 0, "q", test_opts);
	for (i = 0; i < nbad; i++) {
		cr_assert_eq(args_next(&a), OPT_GRACE);
		cr_assert_eq(args_per_value(&a, "--rate",
		    "N/DURATION, e.g. 100/1m", RATE_N, RATE_D, &n, &secs), -1,
		    "'%s' was accepted", bad[i]);
		cr_assert_eq(n, SENTINEL);
		cr_assert_eq(secs, SENTINEL);
	}
	cr_assert_eq(args_next(&a), OPT_GRACE);
	cr_assert_eq(args_per_value(&a, "--rate", "N/DURATION, e.g. 100/1m",
	    RATE_N, RATE_D, &n, &secs), 0);
	cr_assert_eq(n, 100);
	cr_assert_eq(secs, 60);
	cr_assert_eq(args_next(&a), ARGS_END);
	fflush(stderr);
	cr_assert_stderr_eq_str(
	    "apikeyctl: --rate: invalid value '100' (N/DURATION, e.g. "
	    "100/1m)\n" USAGE_TAIL
	    "apikeyctl: --rate: invalid value 'x/1m' (N/DURATION, e.g. "
	    "100/1m)\n" USAGE_TAIL
	    "apikeyctl: --rate: '0/1m': the number before '/' must be at "
	    "least 1\n" USAGE_TAIL
	    "apikeyctl: --rate: '4294967296' is larger than 4294967295\n"
	    USAGE_TAIL
	    "apikeyctl: --rate: invalid duration '60' (NUMBER UNIT pairs, "
	    "units s m h d w, e.g. 30d or 1h30m)\n" USAGE_TAIL
	    "apikeyctl: --rate: duration '0s' is no time at all\n"
	    USAGE_TAIL
	    "apikeyctl: --rate: duration '50d' is longer than 4294967s\n"
	    USAGE_TAIL
	    "apikeyctl: --rate: invalid duration '1x' (NUMBER UNIT pairs, "
	    "units s m h d w, e.g. 30d or 1h30m)\n" USAGE_TAIL);
}

Test(scanner, per_value_refill_limit, .init = cr_redirect_stderr)
{
	const char *const argv[] = { "test", "--grace", "1000/36526d",
	    "--grace", "9223372036854775808/1d", NULL };
	struct args	a;
	uint64_t	n = SENTINEL, secs = SENTINEL;

	args_init(&a, &ctl, 5, vec(argv), 0, "q", test_opts);
	cr_assert_eq(args_next(&a), OPT_GRACE);
	cr_assert_eq(args_per_value(&a, "--refill",
	    "AMOUNT/INTERVAL, e.g. 1000/1d", REFILL_N, REFILL_D, &n, &secs),
	    -1);
	cr_assert_eq(args_next(&a), OPT_GRACE);
	cr_assert_eq(args_per_value(&a, "--refill",
	    "AMOUNT/INTERVAL, e.g. 1000/1d", REFILL_N, REFILL_D, &n, &secs),
	    -1);
	cr_assert_eq(n, SENTINEL);
	fflush(stderr);
	cr_assert_stderr_eq_str(
	    "apikeyctl: --refill: duration '36526d' is longer than 100 "
	    "years\n" USAGE_TAIL
	    "apikeyctl: --refill: '9223372036854775808' is larger than "
	    "9223372036854775807\n" USAGE_TAIL);
}
