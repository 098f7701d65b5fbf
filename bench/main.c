/*
 * main.c - apikey-bench: seeds an apikeyd with keys through libapikey
 * and measures verifies against it, scenario by scenario; see usage()
 * and docs/PERFORMANCE.md. It talks to a daemon that is already running
 * (bench/run.sh starts a private one for `make bench`), and exits
 *
 *   0  every scenario ran and every answer was the expected one,
 *   1  an answer was not (a valid key not VALID, a wrong secret not
 *      NOT_FOUND) or libapikey failed a call: the message names the
 *      scenario, the key id and the code,
 *   2  on a usage error, 3 when the set-up failed.
 *
 * The keys it makes are its own (the caller's) and stay in the daemon;
 * their tokens live only in this process's memory and are wiped at exit.
 */
#include <sys/resource.h>

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define DEFAULT_KEYS		100000
#define DEFAULT_CREDIT_KEYS	1000
/* Far more than any run consumes: the credit keys never run out. */
#define CREDITS			1000000000000ull
/* Wrong-secret tokens, reused in turn. */
#define MAX_INVALID		100000
#define MAX_KEYS		(10u * APIKEY_CREATE_MANY_MAX)

static struct bench	 b;

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
"usage: apikey-bench [options]\n"
"  --socket-dir DIR   apikeyd's sockets (default $APIKEY_SOCKET_DIR, else\n"
"                     " APIKEY_DEFAULT_SOCKET_DIR ")\n"
"  --wait MS          wait up to MS for both sockets to answer (default 0)\n"
"  --keys N           keys to seed (default %d; 100k and 1M work too)\n"
"  --credit-keys N    credit-consuming keys to seed (default %d)\n"
"  --seconds S        measured time per scenario (default 5)\n"
"  --warmup S         warm-up before it (default 1)\n"
"  --scenario LIST    comma-separated names or families (valid, invalid,\n"
"                     credit, echo, pam, touch), or all (the default)\n"
"  --threads T        client threads sharing the connections (default 1)\n"
"  --timeout MS       libapikey's timeout (default 5000)\n"
"  --pam-module PATH  pam_apikey.so (default: beside this program)\n"
"  --check-fail-test  disable one key after the warm-up: the run must\n"
"                     then fail (for tests/it_bench.c)\n"
"  --list             list the scenarios\n"
"The keys are made for the calling user and are not removed: use a\n"
"private apikeyd (bench/run.sh, make bench).\n", DEFAULT_KEYS,
	    DEFAULT_CREDIT_KEYS);
	exit(status);
}

static void __attribute__((noreturn))
list(void)
{
	size_t	 i;

	for (i = 0; i < nscenarios; i++)
		printf("%-14s %s\n", scenarios[i].name, scenarios[i].what);
	exit(0);
}

/* Wipes the tokens, stops the echo, removes temporary files: at exit. */
static void
cleanup(void)
{
	keys_free(&b.valid);
	keys_free(&b.credit);
	keys_free(&b.invalid);
	echo_stop(&b.echo);
	pam_cleanup(&b.pam);
	apikey_close(b.admin);
	b.admin = NULL;
}

/* The same on a signal, with async-signal-safe calls only. */
static void
on_signal(int sig)
{
	struct keyset	*k[] = { &b.valid, &b.credit, &b.invalid };
	size_t		 i;

	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (k[i]->area != NULL)
			explicit_bzero(k[i]->area, k[i]->maplen);
	if (b.echo.pid > 0)
		kill(b.echo.pid, SIGKILL);
	if (b.echo.path[0] != '\0')
		unlink(b.echo.path);
	if (b.echo.dir[0] != '\0')
		rmdir(b.echo.dir);
	_exit(128 + sig);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
die(int status, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "apikey-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(status);
}

/* "100000", "100k", "1M". */
static uint32_t
parse_count(const char *opt, const char *s, uint32_t max)
{
	unsigned long long	 v;
	char			*end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno != 0)
		die(BENCH_EXIT_USAGE, "%s %s: not a count", opt, s);
	if (*end == 'k' || *end == 'K') {
		v *= 1000;
		end++;
	} else if (*end == 'm' || *end == 'M') {
		v *= 1000000;
		end++;
	}
	if (*end != '\0' || v > max)
		die(BENCH_EXIT_USAGE, "%s %s: not a count up to %u", opt, s,
		    max);
	return (uint32_t)v;
}

static double
parse_secs(const char *opt, const char *s)
{
	double	 v;
	char	*end;

	v = strtod(s, &end);
	if (end == s || *end != '\0' || !(v >= 0 && v <= 86400))
		die(BENCH_EXIT_USAGE, "%s %s: not a number of seconds", opt, s);
	return v;
}

/* Marks in sel the scenarios that list names. */
static void
select_scenarios(const char *list, int *sel)
{
	char	*copy, *item, *save = NULL;
	size_t	 i, fam;
	int	 hit;

	if ((copy = strdup(list)) == NULL)
		die(BENCH_EXIT_SETUP, "out of memory");
	for (item = strtok_r(copy, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		hit = 0;
		for (i = 0; i < nscenarios; i++) {
			fam = strcspn(scenarios[i].name, "-");
			if (strcmp(item, "all") == 0 ||
			    strcmp(item, scenarios[i].name) == 0 ||
			    (strlen(item) == fam &&
			    strncmp(item, scenarios[i].name, fam) == 0)) {
				sel[i] = 1;
				hit = 1;
			}
		}
		if (!hit)
			die(BENCH_EXIT_USAGE, "--scenario: no scenario %s "
			    "(--list names them)", item);
	}
	free(copy);
}

/* Opens the admin client, waiting up to wait_ms for both sockets. */
static void
connect_daemon(int wait_ms)
{
	struct apikey_status	*st = NULL;
	struct apikey_client	*v;
	int64_t			 end = now_ns() + (int64_t)wait_ms * 1000000;
	int			 rc;

	for (;;) {
		rc = apikey_open_admin(b.sockdir, b.timeout_ms, &b.admin);
		if (rc == 0 && (rc = apikey_status(b.admin, &st)) == 0 &&
		    (rc = apikey_open(b.sockdir, b.timeout_ms, &v)) == 0) {
			apikey_close(v);
			break;
		}
		apikey_status_free(st);
		st = NULL;
		apikey_close(b.admin);
		b.admin = NULL;
		if (now_ns() >= end)
			die(BENCH_EXIT_SETUP, "apikeyd at %s: %s", b.sockdir,
			    apikey_strerror(rc));
		/* Polling for the sockets, with the deadline above. */
		usleep(20000);
	}
	b.daemon = apikey_status_pid(st);
	printf("apikey-bench: apikeyd %s, pid %d, sockets in %s\n",
	    apikey_status_version(st), (int)b.daemon, b.sockdir);
	apikey_status_free(st);
}

static void
print_machine(void)
{
	char	 load[128] = "";
	FILE	*f;
	size_t	 i, spaces = 0;

	if ((f = fopen("/proc/loadavg", "re")) != NULL) {
		if (fgets(load, sizeof(load), f) == NULL)
			load[0] = '\0';
		fclose(f);
	}
	/* The first three fields: over 1, 5 and 15 minutes. */
	for (i = 0; load[i] != '\0' && load[i] != '\n'; i++)
		if (load[i] == ' ' && ++spaces == 3)
			break;
	load[i] = '\0';
	printf("machine: %ld CPUs online; load average at the start: %s\n",
	    sysconf(_SC_NPROCESSORS_ONLN), load[0] != '\0' ? load : "?");
}

/* Seeds count keys into k, a million per call; returns the seconds. */
static double
seed(struct keyset *k, uint32_t count, uint64_t credits, const char *name)
{
	char		 err[256];
	int64_t		 t0 = now_ns();
	uint32_t	 done = 0, n;

	keys_init(k, count);
	while (done < count) {
		n = count - done < APIKEY_CREATE_MANY_MAX ? count - done :
		    APIKEY_CREATE_MANY_MAX;
		if (keys_seed(b.admin, k, n, credits, name, err,
		    sizeof(err)) != 0)
			die(BENCH_EXIT_SETUP, "seeding %u keys: %s", count,
			    err);
		done += n;
	}
	return (double)(now_ns() - t0) / 1e9;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket-dir", required_argument, NULL, 'S' },
		{ "wait", required_argument, NULL, 'W' },
		{ "keys", required_argument, NULL, 'k' },
		{ "credit-keys", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "scenario", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "pam-module", required_argument, NULL, 'p' },
		{ "check-fail-test", no_argument, NULL, 'F' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static struct result	 res[64];
	static int		 sel[64];
	struct rlimit		 nocore = { 0, 0 };
	struct sigaction	 sa;
	const char		*scen = "all";
	char			 err[256], mod[4096 + 32];
	uint32_t		 keys = DEFAULT_KEYS;
	uint32_t		 ckeys = DEFAULT_CREDIT_KEYS;
	double			 seed_s = 0, cseed_s = 0;
	size_t			 i, nres = 0;
	ssize_t			 len;
	int			 ch, wait_ms = 0, need_valid = 0;
	int			 need_credit = 0, need_invalid = 0, failed = 0;

	if (argc >= 2 && strcmp(argv[1], "--pam-child") == 0)
		return pam_child_main(argc, argv);

	b.sockdir = getenv("APIKEY_SOCKET_DIR");
	if (b.sockdir == NULL || *b.sockdir == '\0')
		b.sockdir = APIKEY_DEFAULT_SOCKET_DIR;
	b.timeout_ms = 5000;
	b.threads = 1;
	b.warmup = 1;
	b.seconds = 5;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			b.sockdir = optarg;
			break;
		case 'W':
			wait_ms = (int)parse_count("--wait", optarg, 3600000);
			break;
		case 'k':
			keys = parse_count("--keys", optarg, MAX_KEYS);
			break;
		case 'c':
			ckeys = parse_count("--credit-keys", optarg,
			    APIKEY_CREATE_MANY_MAX);
			break;
		case 's':
			b.seconds = parse_secs("--seconds", optarg);
			break;
		case 'w':
			b.warmup = parse_secs("--warmup", optarg);
			break;
		case 'n':
			scen = optarg;
			break;
		case 't':
			b.threads = parse_count("--threads", optarg, 64);
			break;
		case 'T':
			b.timeout_ms = (int)parse_count("--timeout", optarg,
			    600000);
			break;
		case 'p':
			b.pam_module = optarg;
			break;
		case 'F':
			b.check_fail_test = 1;
			break;
		case 'l':
			list();
		case 'h':
			usage(0);
		default:
			usage(BENCH_EXIT_USAGE);
		}
	}
	if (optind != argc || b.threads == 0 || b.timeout_ms <= 0)
		usage(BENCH_EXIT_USAGE);
	select_scenarios(scen, sel);
	for (i = 0; i < nscenarios; i++) {
		if (!sel[i])
			continue;
		need_valid = 1;		/* every scenario needs one key */
		need_credit |= scenarios[i].kind == SC_CREDIT;
		need_invalid |= scenarios[i].kind == SC_INVALID;
	}
	if (need_valid && keys == 0)
		die(BENCH_EXIT_USAGE, "--keys 0: the scenarios need keys");
	if (need_credit && ckeys == 0)
		die(BENCH_EXIT_USAGE, "--credit-keys 0: the credit scenarios "
		    "need keys");

	/* The tokens are in memory: no core dump, and wiped on the way
	 * out, whichever way that is. */
	if (setrlimit(RLIMIT_CORE, &nocore) == -1)
		die(BENCH_EXIT_SETUP, "setrlimit: %s", strerror(errno));
	atexit(cleanup);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((len = readlink("/proc/self/exe", b.exe, sizeof(b.exe) - 1)) <= 0)
		die(BENCH_EXIT_SETUP, "readlink /proc/self/exe: %s",
		    strerror(errno));
	b.exe[len] = '\0';
	if (b.pam_module == NULL) {
		snprintf(mod, sizeof(mod), "%s", b.exe);
		snprintf(mod + strlen(dirname(mod)), 32, "/pam_apikey.so");
		b.pam_module = mod;
	}

	connect_daemon(wait_ms);
	print_machine();
	printf("client threads: %u; per scenario: %.1f s warm-up, %.1f s "
	    "measured\n", b.threads, b.warmup, b.seconds);
	fflush(stdout);
	if (need_valid)
		seed_s = seed(&b.valid, keys, 0, "bench");
	if (need_credit)
		cseed_s = seed(&b.credit, ckeys, CREDITS, "bench-credit");
	printf("seeded with apikey_key_create_many: %u keys in %.2f s (%.0f "
	    "keys/s)", need_valid ? keys : 0, seed_s,
	    seed_s > 0 ? keys / seed_s : 0);
	if (need_credit)
		printf("; %u credit keys (%llu credits each) in %.2f s", ckeys,
		    CREDITS, cseed_s);
	printf("\n");
	if (need_invalid) {
		keys_init(&b.invalid, keys < MAX_INVALID ? keys : MAX_INVALID);
		if (keys_wrong_secret(&b.valid, b.invalid.cap, &b.invalid, err,
		    sizeof(err)) != 0)
			die(BENCH_EXIT_SETUP, "wrong-secret tokens: %s", err);
	}

	report_header();
	for (i = 0; i < nscenarios; i++) {
		if (!sel[i])
			continue;
		if (scenario_run(&b, &scenarios[i], &res[nres]) != 0) {
			failed = 1;
			break;
		}
		report_row(&res[nres++]);
	}
	if (failed) {
		if (!b.check_fail_test && strncmp(scenarios[i].name,
		    "invalid", 7) == 0)
			fprintf(stderr, "apikey-bench: (a RATE_LIMITED answer "
			    "to a wrong secret is the daemon's failure "
			    "throttle: run it with throttle_failures = 0, as "
			    "bench/run.sh does)\n");
		return BENCH_EXIT_WRONG;
	}
	report_summary(&b, res, nres, keys, seed_s);
	return 0;
}
