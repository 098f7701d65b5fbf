/*
 * it_crash.c - credits are never handed out twice, even when apikeyd is
 * killed with SIGKILL in the middle of a stream of verifies that consume
 * them (README "Usage limits": a consumption is committed before its
 * reply is sent, so a crash can at worst lose a credit).
 *
 * Eight threads, each with a libapikey client of its own, verify one key
 * with credits as fast as the daemon answers and count the VALID replies
 * they actually receive. Once enough have come in, the daemon is killed;
 * every worker's next call fails. The daemon is started again on the same
 * state, the stored credits are read before anything else happens, and the
 * workers drain the rest until USAGE_EXCEEDED.
 *
 * Let K be the credits the key started with and V the VALID replies
 * received before the kill. What was stored at the restart is
 * K - V - L, where L counts the consumptions whose commit reached the
 * disk but whose reply never reached its worker. Each worker is a
 * synchronous client, so it has at most one verify in flight when the
 * daemon dies: every committed consumption of an earlier verify of that
 * worker had its reply received, or the worker would not have sent
 * another. So 0 <= L <= (workers) x (cost), far below "many" - a larger L
 * would mean the daemon commits without answering. L < 0 would be a
 * credit handed out twice, the one thing that must never happen.
 *
 * Workers never call Criterion's asserts (the main thread judges what
 * they recorded), every loop is bounded, and the client timeout bounds
 * every call, so a dead or hung daemon ends the test instead of hanging it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness_usage.h"

#define WORKERS		8
#define CALL_TIMEOUT_MS	5000

TestSuite(crash, .init = it_setup, .fini = it_teardown, .timeout = 180);

/* What the workers of one phase share. */
struct phase {
	const char	*sock;
	const char	*token;
	uint32_t	 cost;
	unsigned	 max_calls;	/* per worker: the loop's bound */
	atomic_uint	 valid;		/* VALID replies received, all workers */
	atomic_uint	 running;	/* workers not yet finished */
	atomic_int	 killed;	/* set just before the SIGKILL */
	atomic_int	 stop;		/* the main thread gives up */
};

struct worker {
	struct phase	*ph;
	struct apikey_client *client;	/* connected before the thread runs */
	pthread_t	 thread;
	unsigned	 valid;
	unsigned	 calls;
	int		 err;		/* the APIKEY_E* that ended the loop */
	int		 err_after_kill;
	enum apikey_code last;		/* the code that ended the loop */
	int		 ended_by_code;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct phase *ph = w->ph;
	struct apikey_verify_req *req = NULL;
	struct apikey_client *c = w->client;
	struct apikey_result *res;
	enum apikey_code code;
	int rc;

	if ((req = apikey_verify_req_new()) == NULL ||
	    apikey_verify_req_set_cost(req, ph->cost) != 0) {
		w->err = APIKEY_ENOMEM;
		goto out;
	}
	while (w->calls < ph->max_calls && !atomic_load(&ph->stop)) {
		w->calls++;
		res = NULL;
		rc = apikey_verify(c, ph->token, req, &res);
		if (rc != 0) {
			w->err = rc;
			w->err_after_kill = atomic_load(&ph->killed);
			break;
		}
		code = apikey_result_code(res);
		apikey_result_free(res);
		if (code != APIKEY_VALID) {
			w->last = code;
			w->ended_by_code = 1;
			break;
		}
		/* Counted only now that the reply is here. */
		w->valid++;
		atomic_fetch_add(&ph->valid, 1);
	}
 out:
	apikey_verify_req_free(req);
	atomic_fetch_sub(&ph->running, 1);
	return NULL;
}

static void
phase_start(struct phase *ph, struct worker *w, const char *token,
    uint32_t cost, unsigned max_calls)
{
	int i, rc;

	memset(ph, 0, sizeof(*ph));
	memset(w, 0, sizeof(*w) * WORKERS);
	ph->sock = it_sock_dir();
	ph->token = token;
	ph->cost = cost;
	ph->max_calls = max_calls;
	atomic_store(&ph->running, WORKERS);
	for (i = 0; i < WORKERS; i++) {
		w[i].ph = ph;
		rc = apikey_open(ph->sock, CALL_TIMEOUT_MS, &w[i].client);
		cr_assert_eq(rc, 0, "apikey_open: %s", apikey_strerror(rc));
	}
	for (i = 0; i < WORKERS; i++) {
		rc = pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
		cr_assert_eq(rc, 0, "pthread_create: %s", strerror(rc));
	}
}

static unsigned
phase_join(struct worker *w)
{
	unsigned valid = 0;
	int i;

	for (i = 0; i < WORKERS; i++) {
		pthread_join(w[i].thread, NULL);
		apikey_close(w[i].client);
		w[i].client = NULL;
		valid += w[i].valid;
	}
	return valid;
}

/*
 * Waits until the workers have received at least n VALID replies, then
 * kills the daemon and joins them; returns the VALID replies received.
 */
static unsigned
kill_after(struct phase *ph, struct worker *w, unsigned n)
{
	int64_t end = it_now_ms() + IT_DEADLINE_MS;
	unsigned seen, valid;
	pid_t pid;
	int st, i;

	while ((seen = atomic_load(&ph->valid)) < n &&
	    atomic_load(&ph->running) == WORKERS && it_now_ms() < end)
		it_msleep(1);
	if (seen < n) {
		atomic_store(&ph->stop, 1);
		phase_join(w);
		for (i = 0; i < WORKERS; i++)
			cr_assert_eq(w[i].err, 0, "worker %d: %s", i,
			    apikey_strerror(w[i].err));
		cr_assert_fail("only %u VALID replies before a worker ended "
		    "or %d ms passed, waiting for %u", seen, IT_DEADLINE_MS,
		    n);
	}
	atomic_store(&ph->killed, 1);
	pid = it_daemon_pid();
	cr_assert(pid > 0, "no daemon");
	cr_assert_eq(kill(pid, SIGKILL), 0, "kill: %s", strerror(errno));
	st = it_wait_daemon_exit(IT_DEADLINE_MS);
	cr_assert_eq(st, 128 + SIGKILL, "apikeyd exit status %d", st);
	valid = phase_join(w);
	for (i = 0; i < WORKERS; i++) {
		cr_assert_eq(w[i].ended_by_code, 0, "worker %d got %s before "
		    "the kill", i, apikey_code_name(w[i].last));
		cr_assert_eq(w[i].err, APIKEY_EUNAVAIL, "worker %d ended with "
		    "%s (after %u calls), expected the daemon to be gone", i,
		    apikey_strerror(w[i].err), w[i].calls);
		cr_assert(w[i].err_after_kill, "worker %d failed before the "
		    "kill: %s", i, apikey_strerror(w[i].err));
	}
	return valid;
}

/* Runs the workers until every one of them gets USAGE_EXCEEDED. */
static unsigned
drain(const char *token, uint32_t cost, unsigned bound)
{
	struct worker w[WORKERS];
	struct phase ph;
	unsigned valid;
	int i;

	phase_start(&ph, w, token, cost, bound);
	valid = phase_join(w);
	for (i = 0; i < WORKERS; i++) {
		cr_assert_eq(w[i].err, 0, "worker %d: apikey_verify: %s", i,
		    apikey_strerror(w[i].err));
		cr_assert(w[i].ended_by_code, "worker %d made %u calls without "
		    "running out", i, w[i].calls);
		cr_assert_eq(w[i].last, APIKEY_USAGE_EXCEEDED, "worker %d "
		    "ended with %s", i, apikey_code_name(w[i].last));
	}
	return valid;
}

/*
 * k credits, cost per verify, and `rounds` kills: each round lets the
 * workers receive k / (rounds + 2) / cost VALID replies, kills the daemon
 * and restarts it; then the rest is drained.
 */
static void
crash_rounds(uint64_t k, uint32_t cost, int rounds)
{
	struct worker w[WORKERS];
	struct phase ph;
	const char *tok;
	uint64_t got = 0, stored = k, lost = 0, lost_now;
	unsigned valid, after, step;
	int r;

	tok = it_key(NULL, "--remaining", it_printf("%llu",
	    (unsigned long long)k), NULL);
	step = (unsigned)(k / (uint64_t)(rounds + 2) / cost);
	for (r = 1; r <= rounds; r++) {
		phase_start(&ph, w, tok, cost, (unsigned)(k / cost) + 1);
		valid = kill_after(&ph, w, step);
		got += (uint64_t)valid * cost;
		cr_assert_leq(got, k, "round %d: %llu credits' worth of VALID "
		    "replies from %llu credits", r, (unsigned long long)got,
		    (unsigned long long)k);
		it_start();
		/* Before any verify: what the killed daemon committed. */
		stored = itu_remaining(tok);
		cr_assert_leq(stored, k - got, "round %d: %llu credits stored "
		    "after %llu were answered VALID out of %llu: a credit "
		    "would be handed out twice", r, (unsigned long long)stored,
		    (unsigned long long)got, (unsigned long long)k);
		cr_assert_leq(stored + lost, k - got, "round %d: credits "
		    "lost in an earlier crash came back", r);
		lost_now = k - got - stored - lost;
		cr_assert_leq(lost_now, (uint64_t)WORKERS * cost, "round %d: "
		    "%llu credits committed without a reply; at most one "
		    "verify per worker can be in flight", r,
		    (unsigned long long)lost_now);
		lost += lost_now;
		cr_log_info("crash round %d: K=%llu cost=%u VALID before the "
		    "kill=%u (this round) %llu credits (in all), stored "
		    "after restart=%llu, L=%llu (this round)", r,
		    (unsigned long long)k, cost, valid,
		    (unsigned long long)got, (unsigned long long)stored,
		    (unsigned long long)lost_now);
	}

	/* Without a crash every committed consumption is answered. */
	after = drain(tok, cost, (unsigned)(stored / cost) + 2);
	cr_assert_eq((uint64_t)after * cost, stored - stored % cost,
	    "%u VALID replies from %llu stored credits at cost %u", after,
	    (unsigned long long)stored, cost);
	got += (uint64_t)after * cost;
	cr_assert_leq(got, k);
	cr_assert_eq(itu_remaining(tok), stored % cost);
	itu_expect(tok, it_printf("cost=%u", cost), APIKEY_USAGE_EXCEEDED,
	    (int64_t)(stored % cost));
	cr_log_info("crash: drained %u VALID after the last restart; %llu of "
	    "%llu credits answered VALID in all, %llu lost", after,
	    (unsigned long long)got, (unsigned long long)k,
	    (unsigned long long)lost);
}

Test(crash, kill_during_consumption)
{
	crash_rounds(300, 1, 1);
}

Test(crash, repeated_kills_with_cost)
{
	crash_rounds(900, 3, 3);
}
