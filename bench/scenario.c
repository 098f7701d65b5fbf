/*
 * scenario.c - the scenarios of apikey-bench and how one runs: connect,
 * start the client threads, let them warm up, sample the server (apikeyd,
 * or the echo server) and this process, open the measured window for
 * --seconds, close it, sample again, wait for the requests in flight and
 * merge the threads' counts and histograms. touch-all has no window: it
 * lasts until every key was verified once, and is measured whole.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

const struct scenario scenarios[] = {
	{ "valid-1x1", SC_VALID, 1, 1,
	    "valid keys, 1 connection, one apikey_verify() per round trip" },
	{ "valid-1x16", SC_VALID, 1, 16,
	    "valid keys, 1 connection, 16 in flight (send/recv)" },
	{ "valid-16x1", SC_VALID, 16, 1,
	    "valid keys, 16 connections, 1 in flight on each" },
	{ "valid-16x16", SC_VALID, 16, 16,
	    "valid keys, 16 connections, 16 in flight on each" },
	{ "invalid-1x1", SC_INVALID, 1, 1,
	    "wrong secrets (NOT_FOUND), 1 connection" },
	{ "invalid-16x16", SC_INVALID, 16, 16,
	    "wrong secrets (NOT_FOUND), 16 connections, 16 deep" },
	{ "credit-1x1", SC_CREDIT, 1, 1,
	    "credit-consuming keys (durable), 1 connection" },
	{ "credit-1x16", SC_CREDIT, 1, 16,
	    "credit-consuming keys, 1 connection, 16 deep" },
	{ "credit-16x1", SC_CREDIT, 16, 1,
	    "credit-consuming keys, 16 connections" },
	{ "credit-16x16", SC_CREDIT, 16, 16,
	    "credit-consuming keys, 16 connections, 16 deep" },
	{ "echo-1x1", SC_ECHO, 1, 1,
	    "echo reference (verify-sized frames, no work), 1 connection" },
	{ "echo-1x16", SC_ECHO, 1, 16,
	    "echo reference, 1 connection, 16 deep" },
	{ "echo-16x1", SC_ECHO, 16, 1, "echo reference, 16 connections" },
	{ "echo-16x16", SC_ECHO, 16, 16,
	    "echo reference, 16 connections, 16 deep" },
	{ "pam-apikey", SC_PAM_APIKEY, 1, 1,
	    "pam_start/authenticate/acct_mgmt/end over pam_apikey.so" },
	{ "pam-permit", SC_PAM_PERMIT, 1, 1,
	    "the same loop over pam_permit.so" },
	{ "touch-all", SC_TOUCH, 16, 16,
	    "every key verified once (16x16), then the daemon's RSS" },
};
const size_t nscenarios = sizeof(scenarios) / sizeof(scenarios[0]);

void
run_fail(struct run *r, const char *fmt, ...)
{
	va_list	 ap;

	pthread_mutex_lock(&r->mu);
	if (!r->failed) {
		r->failed = 1;
		va_start(ap, fmt);
		vsnprintf(r->fail, sizeof(r->fail), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->mu);
	atomic_store(&r->phase, PH_STOP);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
setup_die(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "apikey-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(BENCH_EXIT_SETUP);
}

/* Sleeps until deadline (now_ns() time), or until the run stops. */
static void
sleep_until(struct run *r, int64_t deadline)
{
	struct timespec	 ts;
	int64_t		 left;

	while (run_phase(r) != PH_STOP && (left = deadline - now_ns()) > 0) {
		if (left > 50000000)
			left = 50000000;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left;
		nanosleep(&ts, NULL);
	}
}

static const struct keyset *
keys_for(struct bench *b, enum sc_kind kind)
{
	switch (kind) {
	case SC_INVALID:
		return &b->invalid;
	case SC_CREDIT:
		return &b->credit;
	default:
		return &b->valid;
	}
}

/*
 * --check-fail-test: disables the first key of the set through the
 * admin socket, so that the next answer for it is DISABLED. The bench
 * must then fail; tests/it_bench.c checks that it does.
 */
static void
disable_first(struct bench *b, const struct keyset *k)
{
	struct apikey_key	*key;
	char			 id[APIKEY_KEY_ID_SIZE];
	int			 rc;

	if (apikey_token_key_id(keys_get(k, 0), id, sizeof(id)) != 0)
		setup_die("--check-fail-test: no key id in a token");
	if ((rc = apikey_key_set_enabled(b->admin, id, 0, &key)) != 0)
		setup_die("--check-fail-test: disabling key %s: %s (%s)", id,
		    apikey_strerror(rc), apikey_last_error(b->admin));
	apikey_key_free(key);
	b->disabled_one = 1;
	fprintf(stderr, "apikey-bench: --check-fail-test: disabled key %s\n",
	    id);
}

/* Starts the echo server, sized after a verify of the first valid key. */
static void
echo_ready(struct bench *b)
{
	char	 err[256];

	if (b->echo.pid != 0)
		return;
	if (b->valid.n == 0)
		setup_die("the echo needs a valid key to size its frames");
	if (frames_measure(b->sockdir, b->timeout_ms, keys_get(&b->valid, 0),
	    &b->req_len, &b->rep_len, err, sizeof(err)) != 0)
		setup_die("measuring a verify's frames: %s", err);
	if (echo_start(&b->echo, b->req_len, b->rep_len, err,
	    sizeof(err)) != 0)
		setup_die("echo server: %s", err);
}

/* Opens the scenario's connections, as the workers will own them. */
static void
open_conns(struct bench *b, const struct scenario *sc,
    struct apikey_client **clients, int *fds)
{
	char	 err[256];
	size_t	 i;
	int	 rc;

	for (i = 0; i < sc->conns; i++) {
		if (sc->kind == SC_ECHO) {
			if ((fds[i] = echo_connect(&b->echo, err,
			    sizeof(err))) == -1)
				setup_die("%s: %s", sc->name, err);
			continue;
		}
		if ((rc = apikey_open(b->sockdir, b->timeout_ms,
		    &clients[i])) != 0)
			setup_die("%s: apikey_open %s: %s", sc->name,
			    b->sockdir, apikey_strerror(rc));
	}
}

static void
close_conns(const struct scenario *sc, struct apikey_client **clients,
    int *fds)
{
	size_t	 i;

	for (i = 0; i < sc->conns; i++) {
		if (sc->kind == SC_ECHO)
			close(fds[i]);
		else
			apikey_close(clients[i]);
	}
}

static void
fill_result(struct result *res, const struct proc_stat *before,
    const struct proc_stat *after, int sampled)
{
	res->server_cpu = sampled ? after->cpu_s - before->cpu_s : -1;
	res->rss_kb = sampled ? after->rss_kb : -1;
	res->hwm_kb = sampled ? after->hwm_kb : -1;
}

static void
run_threads(struct bench *b, const struct scenario *sc, struct run *r,
    struct result *res)
{
	struct apikey_client	**clients;
	struct worker		*ws;
	struct proc_stat	 before, after;
	struct apikey_status	*st;
	struct hist		*h;
	const struct keyset	*keys = keys_for(b, sc->kind);
	unsigned		 nt = b->threads < sc->conns ? b->threads :
				    sc->conns;
	pid_t			 server;
	int			*fds, sampled, touch = sc->kind == SC_TOUCH;
	int64_t			 t0, t1 = 0;
	double			 c0;
	unsigned		 i;

	if (sc->kind == SC_ECHO)
		echo_ready(b);
	else if (keys->n == 0)
		setup_die("%s: no keys to verify", sc->name);
	server = sc->kind == SC_ECHO ? b->echo.pid : b->daemon;
	clients = calloc(sc->conns, sizeof(*clients));
	fds = calloc(sc->conns, sizeof(*fds));
	ws = calloc(nt, sizeof(*ws));
	h = calloc(1, sizeof(*h));
	if (clients == NULL || fds == NULL || ws == NULL || h == NULL)
		setup_die("out of memory");
	open_conns(b, sc, clients, fds);
	if (touch)
		atomic_store(&r->phase, PH_MEASURE);
	sampled = proc_read(server, &before) == 0;
	c0 = proc_self_cpu();
	t0 = now_ns();
	for (i = 0; i < nt; i++) {
		ws[i].run = r;
		ws[i].first = (size_t)i * sc->conns / nt;
		ws[i].nconns = (size_t)(i + 1) * sc->conns / nt - ws[i].first;
		ws[i].total = sc->conns;
		ws[i].depth = sc->depth;
		ws[i].once = touch;
		ws[i].clients = clients + ws[i].first;
		ws[i].fds = fds + ws[i].first;
		ws[i].keys = keys;
		ws[i].want = sc->kind == SC_INVALID ? APIKEY_NOT_FOUND :
		    APIKEY_VALID;
		ws[i].want_credits = sc->kind == SC_CREDIT;
		ws[i].req_len = b->req_len;
		ws[i].rep_len = b->rep_len;
		if ((errno = pthread_create(&ws[i].tid, NULL,
		    sc->kind == SC_ECHO ? echo_worker : load_worker,
		    &ws[i])) != 0)
			setup_die("pthread_create: %s", strerror(errno));
	}
	if (!touch) {
		sleep_until(r, t0 + (int64_t)(b->warmup * 1e9));
		sampled = proc_read(server, &before) == 0;
		c0 = proc_self_cpu();
		t0 = now_ns();
		/* A failure in the warm-up stays a failure. */
		if (run_phase(r) == PH_WARM)
			atomic_store(&r->phase, PH_MEASURE);
		if (b->check_fail_test && !b->disabled_one &&
		    (sc->kind == SC_VALID || sc->kind == SC_CREDIT))
			disable_first(b, keys);
		sleep_until(r, t0 + (int64_t)(b->seconds * 1e9));
		atomic_store(&r->phase, PH_STOP);
		t1 = now_ns();
		if (proc_read(server, &after) != 0)
			sampled = 0;
		res->client_cpu = proc_self_cpu() - c0;
	}
	for (i = 0; i < nt; i++) {
		pthread_join(ws[i].tid, NULL);
		res->count += ws[i].count;
		hist_merge(h, &ws[i].hist);
	}
	if (touch) {
		t1 = now_ns();
		if (proc_read(server, &after) != 0)
			sampled = 0;
		res->client_cpu = proc_self_cpu() - c0;
		if (apikey_status(b->admin, &st) == 0) {
			b->store_size = apikey_status_store_size(st);
			apikey_status_free(st);
		}
	}
	close_conns(sc, clients, fds);
	res->secs = (double)(t1 - t0) / 1e9;
	res->p50 = hist_quantile_us(h, 0.5);
	res->p99 = hist_quantile_us(h, 0.99);
	res->p999 = hist_quantile_us(h, 0.999);
	fill_result(res, &before, &after, sampled);
	free(h);
	free(ws);
	free(fds);
	free(clients);
}

static void
run_pam(struct bench *b, const struct scenario *sc, struct run *r,
    struct result *res)
{
	const char		*tokens[16];
	struct pam_result	 pr;
	char			 err[256];
	size_t			 i, n = 0;

	if (b->valid.n == 0)
		setup_die("%s: no keys to log in with", sc->name);
	if (!b->pam_ready) {
		if (pam_prepare(&b->pam, b->pam_module, b->sockdir, err,
		    sizeof(err)) != 0)
			setup_die("PAM set-up: %s", err);
		b->pam.exe = b->exe;
		b->pam_ready = 1;
	}
	for (i = 0; i < b->valid.n && n < 16; i++)
		tokens[n++] = keys_get(&b->valid, i);
	if (pam_run(r, &b->pam, sc->kind == SC_PAM_APIKEY ? PAM_SVC_APIKEY :
	    PAM_SVC_PERMIT, tokens, n, b->warmup, b->seconds, b->daemon,
	    &pr) != 0)
		return;
	res->count = pr.count;
	res->secs = pr.secs;
	res->p50 = pr.p50;
	res->p99 = pr.p99;
	res->p999 = pr.p999;
	fill_result(res, &pr.before, &pr.after, pr.sampled);
}

int
scenario_run(struct bench *b, const struct scenario *sc, struct result *res)
{
	struct run	 r;

	memset(&r, 0, sizeof(r));
	r.name = sc->name;
	atomic_init(&r.phase, PH_WARM);
	atomic_init(&r.next, 0);
	pthread_mutex_init(&r.mu, NULL);
	memset(res, 0, sizeof(*res));
	res->sc = sc;
	res->client_cpu = -1;
	if (sc->kind == SC_PAM_APIKEY || sc->kind == SC_PAM_PERMIT)
		run_pam(b, sc, &r, res);
	else
		run_threads(b, sc, &r, res);
	pthread_mutex_destroy(&r.mu);
	if (r.failed) {
		fprintf(stderr, "apikey-bench: FAILED: %s\n", r.fail);
		return -1;
	}
	res->ran = 1;
	return 0;
}
