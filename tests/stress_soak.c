/*
 * stress_soak.c - `make stress` (mk/stress.mk), not `make check`: a soak
 * of STRESS_SECONDS (default 180) of everything at once against one
 * daemon, built with AddressSanitizer and UBSan as `make stress` builds
 * it. Five workers (harness_load.h, "soak") run as root, alice, bob (the
 * tenant acme's keys, as its admin), dave and eve (carol's keys, as an
 * administrator): key creates (some expiring after a second), renames,
 * rotations, revokes, purges and verifies of their live keys, each of
 * which must be VALID; the daemon's own maintenance purges and prunes
 * every second. A root client verifies a key with credits all the while,
 * so every one of its verifies is a commit, and each must be answered:
 * none is starved by the load (PROBE_TIMEOUT_MS says how long it may be).
 *
 * At the end: the daemon stops on SIGTERM with status 0, LeakSanitizer
 * included (a leak makes it report and exit 1); its resident memory was
 * flat after warm-up (the rule is at rss_flat()); mdb_stat and mdb_dump
 * read the store whole; and after a restart every change a worker was
 * told of is there: live keys verify VALID under their latest secret and
 * carry their latest name, rotated-away secrets and revoked keys are
 * NOT_FOUND, expiring keys are EXPIRED or purged.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "harness_load.h"

#define SOAK_SECONDS	180
#define MAX_SECONDS	900
#define SAMPLE_MS	2000
#define MAX_SAMPLES	(MAX_SECONDS * 1000 / SAMPLE_MS + 2)
/* What may be added to the middle third's peak by the end. */
#define RSS_SLACK_PCT	10
#define RSS_SLACK_KB	4096
/*
 * AddressSanitizer keeps freed memory in a quarantine, 256 MiB by
 * default, to catch uses after free; under churn it fills for minutes
 * and resident memory climbs all the while without a leak. A quarantine
 * of 8 MiB is full within the warm-up, so what grows afterwards is the
 * daemon's own.
 */
#define QUARANTINE	"quarantine_size_mb=8"
/*
 * How long one of the root client's verifies may take. Each waits for the
 * store's one writer, then for its own commit: at worst, for a flush to
 * disk of a worker's management write and then one of its own. On this
 * project's machines, a soak built to time each commit measured one
 * flush of a one-key change at 1358 ms, and CI saw a verify pass 2000 ms
 * (libapikey's default timeout) once in 25,589: that is the disk, not
 * apikeyd. Starvation, which this bound is for, would hold a verify for
 * as long as the load lasts. Calls over the default timeout are counted
 * in the log.
 */
#define PROBE_TIMEOUT_MS	IT_DEADLINE_MS

struct soaker {
	const char	*as;
	const char	*kind;
	const char	*owner;	/* for user and tenant */
};

static const struct soaker soakers[] = {
	{ "root", "self", NULL },
	{ "alice", "self", NULL },
	{ "bob", "tenant", "acme" },
	{ "dave", "self", NULL },
	{ "eve", "user", "carol" },
};
#define NSOAKERS	(sizeof(soakers) / sizeof(soakers[0]))

static void
fini(void)
{
	it_prog_end_all();
	it_teardown();
}

/* Bounded inside: the soak by STRESS_SECONDS, every wait by a deadline. */
TestSuite(soak, .fini = fini, .timeout = MAX_SECONDS + 300);

static long
soak_seconds(void)
{
	const char	*v = getenv("STRESS_SECONDS");
	long		 n = v != NULL && *v != '\0' ? strtol(v, NULL, 10) :
			    SOAK_SECONDS;

	return n < 30 ? 30 : n > MAX_SECONDS ? MAX_SECONDS : n;
}

/* apikeyd as it_start() starts it, but logging at info: minutes of
 * debug lines would run to gigabytes. */
static void
start_daemon(void)
{
	const char	*asan = getenv("ASAN_OPTIONS");
	const char	*env[] = { it_printf("ASAN_OPTIONS=%s%s" QUARANTINE,
	    asan != NULL ? asan : "", asan != NULL && *asan != '\0' ? ":" :
	    ""), NULL };
	const struct it_daemon_opt o = { .env = env };

	it_spawn_daemon_opt(&o, (const char *const[]){ "-f", "-c",
	    it_conf_path(), "--state-dir", it_state_dir(), "--socket-dir",
	    it_sock_dir(), NULL });
	it_wait_ready(it_sock_dir());
}

static long
peak(const long *v, size_t from, size_t to)
{
	long	 m = 0;

	for (; from < to; from++)
		if (v[from] > m)
			m = v[from];
	return m;
}

/*
 * The rule for "flat": samples every SAMPLE_MS; the first third is
 * warm-up (the store, the audit log and the tables grow to their steady
 * size, the quarantine fills). The peak of the last third may exceed the
 * peak of the middle third by 10% or 4 MiB, whichever is more. A leak
 * grows with the requests served, which are the same in every third, so
 * it shows as growth from one third to the next; noise (a burst of
 * listings, the allocator's caches) shows in both peaks alike. Peaks,
 * not single samples: one sample can fall into any trough.
 */
static void
rss_flat(const char *field, const long *v, size_t n)
{
	long	 mid = peak(v, n / 3, 2 * n / 3);
	long	 end = peak(v, 2 * n / 3, n);
	long	 slack = mid * RSS_SLACK_PCT / 100;

	if (slack < RSS_SLACK_KB)
		slack = RSS_SLACK_KB;
	cr_log_info("%s: first sample %ld kB, after warm-up %ld kB, peak of "
	    "the middle third %ld kB, of the last third %ld kB (allowed %ld)",
	    field, v[0], v[n / 3], mid, end, mid + slack);
	cr_assert_leq(end, mid + slack, "%s grew from %ld kB (peak of the "
	    "middle third) to %ld kB (peak of the last third)", field, mid,
	    end);
}

/*
 * Up to 4000 bytes of the daemon's log for a message: from a sanitizer's
 * report on, or else its end. A soak's whole log is megabytes, too much
 * for a Criterion message.
 */
static const char *
log_excerpt(void)
{
	const char	*log = it_log(), *p = strstr(log, "Sanitizer");
	size_t		 n = strlen(log);

	if (p == NULL)
		p = n > 4000 ? log + n - 4000 : log;
	return it_printf("log:\n%.4000s", p);
}

/* Stops the daemon with SIGTERM; it must exit 0, which under ASan means
 * LeakSanitizer found nothing (it reports and exits 1 otherwise). */
static void
stop_clean(void)
{
	int	 st;

	cr_assert_eq(kill(it_daemon_pid(), SIGTERM), 0);
	st = it_wait_daemon_exit(IT_DEADLINE_MS);
	cr_assert_eq(st, 0, "apikeyd exited with status %d on SIGTERM; %s", st,
	    log_excerpt());
	cr_assert_null(strstr(it_log(), "Sanitizer"), "%s", log_excerpt());
	cr_assert_null(strstr(it_log(), "runtime error"), "%s",
	    log_excerpt());
}

/* Every change in the ledgers, checked against the running daemon. */
static void
check_changes(const char **acks)
{
	struct itl_ledger led;
	struct apikey_key *key;
	const struct itl_key *k;
	enum apikey_code code;
	size_t		 i, j, live = 0, gone = 0, expired = 0, old = 0;
	int		 rc;

	memset(&led, 0, sizeof(led));
	for (i = 0; i < NSOAKERS; i++)
		itl_ledger_read(&led, acks[i]);
	for (i = 0; i < led.nkeys; i++) {
		k = &led.keys[i];
		code = itl_code(k->token);
		for (j = 0; j < k->nold; j++, old++)
			cr_assert_eq(itl_code(k->old[j]), APIKEY_NOT_FOUND,
			    "key %s: a secret rotated away still works",
			    k->id);
		if (k->revoked) {
			cr_assert_eq(code, APIKEY_NOT_FOUND, "key %s was "
			    "revoked", k->id);
			gone++;
		} else if (k->expiring) {
			cr_assert(code == APIKEY_EXPIRED ||
			    code == APIKEY_NOT_FOUND, "key %s, expired: %s",
			    k->id, apikey_code_name(code));
			expired++;
		} else {
			cr_assert_eq(code, APIKEY_VALID, "key %s (%s) is "
			    "live", k->id, k->file);
			key = NULL;
			rc = apikey_key_show(it_aclient(), k->id, &key);
			cr_assert_eq(rc, 0, "key show %s: %s", k->id,
			    apikey_strerror(rc));
			if (k->name != NULL)
				cr_assert_str_eq(apikey_key_name(key), k->name,
				    "key %s was renamed", k->id);
			apikey_key_free(key);
			live++;
		}
	}
	cr_log_info("%zu acknowledged changes to %zu keys: %zu live, %zu "
	    "revoked, %zu expiring; %zu rotated-away secrets void", led.nlines,
	    led.nkeys, live, gone, expired, old);
	itl_ledger_free(&led);
}

Test(soak, mixed_load_for_minutes)
{
	static long	 rss[MAX_SAMPLES], anon[MAX_SAMPLES];
	struct it_prog	*w[NSOAKERS];
	const char	*acks[NSOAKERS], *report;
	struct apikey_key_spec *spec;
	struct itl_prober *pr;
	unsigned long	 ops, verifies, all_ops = 0, all_verifies = 0;
	unsigned	 seed = (unsigned)time(NULL);
	long		 seconds = soak_seconds();
	int64_t		 t0, next;
	size_t		 i, n = 0;

	it_prepare("log_level = info\nmax_keys_per_user = 0\n"
	    "max_keys_per_tenant = 0\nthrottle_failures = 0\n"
	    "audit_max_entries = 2000\nexpired_key_grace = 1s\n"
	    "maintenance_interval = 1s\nusage_flush_interval = 1s\n");
	start_daemon();
	it_tenant("acme", "acme", "acme-admins");
	spec = apikey_key_spec_new();
	cr_assert_eq(apikey_key_spec_set_credits(spec, 1000000000), 0);
	pr = itl_prober_start(it_key_lib(APIKEY_OWNER_SELF, NULL, spec,
	    NULL), PROBE_TIMEOUT_MS);
	apikey_key_spec_free(spec);
	cr_log_info("soak of %ld s, seeds from %u", seconds, seed);
	for (i = 0; i < NSOAKERS; i++) {
		acks[i] = itl_ack_file(it_printf("ack-%s", soakers[i].as),
		    soakers[i].as);
		w[i] = itl_worker(soakers[i].as, "soak", it_sock_dir(),
		    it_printf("%ld", seconds), acks[i], it_printf("%u",
		    seed + (unsigned)i), soakers[i].kind, soakers[i].owner,
		    NULL);
	}

	/* Samples on a schedule: the pacing is the measurement's. */
	t0 = next = it_now_ms();
	while (it_now_ms() < t0 + seconds * 1000 && n < MAX_SAMPLES) {
		cr_assert_eq(it_wait_daemon_exit(0), -1, "apikeyd exited "
		    "during the soak; %s", log_excerpt());
		rss[n] = it_daemon_kb("VmRSS");
		anon[n++] = it_daemon_kb("RssAnon");
		next += SAMPLE_MS;
		if (next > it_now_ms())
			it_msleep((int)(next - it_now_ms()));
	}
	for (i = 0; i < NSOAKERS; i++) {
		report = it_prog_until(w[i], "done", 6 * IT_DEADLINE_MS);
		cr_assert_eq(sscanf(report, "ops %lu verifies %lu", &ops,
		    &verifies), 2, "%s: %s", soakers[i].as, report);
		cr_log_info("%s: %lu operations, %lu verifies", soakers[i].as,
		    ops, verifies);
		all_ops += ops;
		all_verifies += verifies;
		cr_assert_eq(it_prog_end(w[i], IT_DEADLINE_MS), 0, "the "
		    "worker of %s ended badly", soakers[i].as);
	}
	cr_log_info("%lu operations (%lu of them verifies) in %ld s",
	    all_ops, all_verifies, seconds);
	itl_prober_check(pr, PROBE_TIMEOUT_MS, "the soak");
	cr_assert_geq(n, 6, "%zu samples of the daemon's memory", n);
	rss_flat("VmRSS", rss, n);
	rss_flat("RssAnon", anon, n);

	stop_clean();
	itl_mdb_check(it_state_dir());
	it_start();
	check_changes(acks);
}
