/*
 * it_pipeline.c - pipelined verifies through libapikey against the real
 * daemon: apikey_verify_batch answers each token in its place, whatever
 * the mix (valid, unknown, credit-consuming, malformed, restricted); the
 * send/receive pair matches answers to requests by id when they come out
 * of order (a verify that consumes credits waits for its commit) and fits
 * a poll() loop; the limits and misuse give their documented codes; and a
 * hung or vanished daemon gives a clean error with nothing left in flight.
 * That a daemon restart is unseen by a pipelining client is shown in
 * it_systemd.c (restart_under_load_loses_no_request).
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(pipeline, .init = it_setup, .fini = it_teardown, .timeout = 120);

static struct apikey_client *
client(int timeout_ms)
{
	struct apikey_client	*c;
	int			 rc;

	rc = apikey_open(it_sock_dir(), timeout_ms, &c);
	cr_assert_eq(rc, 0, "apikey_open: %s", apikey_strerror(rc));
	return c;
}

static void
free_results(struct apikey_result **res, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		apikey_result_free(res[i]);
}

Test(pipeline, batch_answers_each_token_in_its_place)
{
	const char	*ok = it_key(NULL, NULL);
	const char	*credit = it_key(NULL, "--remaining", "3", NULL);
	const char	*sshd = it_key(NULL, "--service", "sshd", NULL);
	struct apikey_verify_req *ftp = it_req("svc=ftp");
	struct apikey_verify_req *ssh = it_req("svc=sshd");
	const char	*tokens[] = {
		ok, it_wrong_secret(ok), credit, "not-a-key", ok, credit,
		sshd, credit, credit, it_bad_crc(ok), sshd, ok,
	};
	const struct apikey_verify_req *reqs[] = {
		NULL, NULL, NULL, NULL, NULL, NULL,
		ftp, NULL, NULL, NULL, ssh, ftp,
	};
	const enum apikey_code want[] = {
		APIKEY_VALID, APIKEY_NOT_FOUND, APIKEY_VALID, APIKEY_MALFORMED,
		APIKEY_VALID, APIKEY_VALID, APIKEY_FORBIDDEN, APIKEY_VALID,
		APIKEY_USAGE_EXCEEDED, APIKEY_MALFORMED, APIKEY_VALID,
		APIKEY_VALID,
	};
	const size_t	 n = sizeof(tokens) / sizeof(tokens[0]);
	struct apikey_result *res[sizeof(tokens) / sizeof(tokens[0])];
	struct apikey_client *c = client(0);
	size_t		 i;
	int		 rc;

	rc = apikey_verify_batch(c, n, tokens, reqs, res);
	cr_assert_eq(rc, 0, "batch: %s: %s", apikey_strerror(rc),
	    apikey_last_error(c));
	for (i = 0; i < n; i++) {
		cr_assert_not_null(res[i], "no answer for token %zu", i);
		cr_expect_eq(apikey_result_code(res[i]), want[i],
		    "token %zu: %s (%s), expected %s", i,
		    apikey_code_name(apikey_result_code(res[i])),
		    apikey_result_reason(res[i]), apikey_code_name(want[i]));
	}
	/* Each answer is its own token's: the ids and the credits left. */
	cr_expect_str_eq(apikey_result_key_id(res[0]), it_id(ok));
	cr_expect_str_eq(apikey_result_key_id(res[6]), it_id(sshd));
	cr_expect_eq(apikey_result_remaining(res[2]), 2);
	cr_expect_eq(apikey_result_remaining(res[5]), 1);
	cr_expect_eq(apikey_result_remaining(res[7]), 0);
	cr_expect_eq(apikey_verify_pending(c), 0);
	free_results(res, n);

	/* The same client goes on with a plain verify, and an empty batch
	 * is no call at all. */
	cr_expect_eq(it_code(ok, NULL), APIKEY_VALID);
	cr_expect_eq(apikey_verify_batch(c, 0, NULL, NULL, NULL), 0);
	apikey_verify_req_free(ftp);
	apikey_verify_req_free(ssh);
	apikey_close(c);
}

/* A batch larger than the ring: it refills as answers come. A few
 * unknown keys, fewer than throttle_failures. */
Test(pipeline, batch_larger_than_the_pipeline)
{
	const char	*ok = it_key(NULL, NULL);
	const char	*bad = it_wrong_secret(ok);
	const size_t	 n = 3 * APIKEY_PIPELINE_MAX + 17;
	const char	**tokens = calloc(n, sizeof(*tokens));
	struct apikey_result **res = calloc(n, sizeof(*res));
	struct apikey_client *c = client(0);
	size_t		 i;
	int		 rc;

	cr_assert(tokens != NULL && res != NULL);
	for (i = 0; i < n; i++)
		tokens[i] = i % 500 == 3 ? bad : ok;
	rc = apikey_verify_batch(c, n, tokens, NULL, res);
	cr_assert_eq(rc, 0, "batch: %s: %s", apikey_strerror(rc),
	    apikey_last_error(c));
	for (i = 0; i < n; i++)
		cr_assert_eq(apikey_result_code(res[i]), i % 500 == 3 ?
		    APIKEY_NOT_FOUND : APIKEY_VALID, "token %zu", i);
	free_results(res, n);
	free(res);
	free(tokens);
	apikey_close(c);
}

/*
 * A verify that consumes a credit is answered after its commit, so the
 * plain verify sent right behind it is answered first. Every answer must
 * still be its own request's.
 */
Test(pipeline, answers_out_of_order_are_matched_by_id)
{
	const char	*plain = it_key(NULL, NULL);
	const char	*credit = it_key(NULL, "--remaining", "1000", NULL);
	struct apikey_client *c = client(0);
	struct apikey_result *r;
	uint32_t	 id_credit, id_plain, id;
	int		 round, first_plain = 0, rc;

	for (round = 0; round < 50 && first_plain == 0; round++) {
		cr_assert_eq(apikey_verify_send(c, credit, NULL, &id_credit), 0);
		cr_assert_eq(apikey_verify_send(c, plain, NULL, &id_plain), 0);
		cr_assert_neq(id_credit, id_plain);
		cr_assert_eq(apikey_verify_pending(c), 2);
		for (int k = 0; k < 2; k++) {
			rc = apikey_verify_recv(c, -1, &id, &r);
			cr_assert_eq(rc, 0, "recv: %s: %s",
			    apikey_strerror(rc), apikey_last_error(c));
			cr_assert(id == id_credit || id == id_plain);
			cr_assert_eq(apikey_result_code(r), APIKEY_VALID);
			cr_assert_str_eq(apikey_result_key_id(r),
			    it_id(id == id_credit ? credit : plain));
			cr_assert_eq(apikey_result_has_credits(r),
			    id == id_credit);
			if (k == 0 && id == id_plain)
				first_plain = 1;
			apikey_result_free(r);
		}
		cr_assert_eq(apikey_verify_pending(c), 0);
	}
	cr_assert(first_plain, "no answer ever came out of order in 50 "
	    "rounds");
	apikey_close(c);
}

/* The event-loop shape: poll() on apikey_fd() for apikey_events(). */
Test(pipeline, poll_loop_keeps_sixteen_in_flight)
{
	const char	*ok = it_key(NULL, NULL);
	const int	 total = 2000, depth = 16;
	struct apikey_client *c = client(0);
	struct apikey_result *r;
	struct pollfd	 pfd;
	uint32_t	 id;
	int		 sent = 0, got = 0, ev, rc;

	while (got < total) {
		while (sent < total && apikey_verify_pending(c) <
		    (size_t)depth) {
			rc = apikey_verify_send(c, ok, NULL, &id);
			cr_assert_eq(rc, 0, "send: %s", apikey_strerror(rc));
			sent++;
		}
		while ((rc = apikey_verify_recv(c, 0, &id, &r)) == 0) {
			cr_assert_eq(apikey_result_code(r), APIKEY_VALID);
			apikey_result_free(r);
			got++;
		}
		cr_assert_eq(rc, APIKEY_EAGAIN, "recv: %s",
		    apikey_strerror(rc));
		if ((ev = apikey_events(c)) == 0) {
			cr_assert_eq(apikey_verify_pending(c), 0);
			continue;
		}
		cr_assert(ev & APIKEY_WANT_READ);
		pfd.fd = apikey_fd(c);
		pfd.events = POLLIN | (ev & APIKEY_WANT_WRITE ? POLLOUT : 0);
		cr_assert_geq(pfd.fd, 0);
		cr_assert_geq(poll(&pfd, 1, IT_DEADLINE_MS), 1,
		    "no event within %d ms", IT_DEADLINE_MS);
	}
	cr_assert_eq(apikey_verify_pending(c), 0);
	cr_assert_eq(apikey_events(c), 0);
	apikey_close(c);
}

Test(pipeline, limits_and_misuse)
{
	const char	*ok = it_key(NULL, NULL);
	struct apikey_client *c = client(0);
	struct apikey_result *r, *res[1];
	const char	*one[] = { ok };
	uint32_t	 id, first = 0;
	size_t		 i;
	int		 rc;

	/* Nothing in flight: nothing to receive. */
	cr_assert_eq(apikey_verify_recv(c, 0, &id, &r), APIKEY_EAGAIN);
	cr_assert_eq(id, 0);
	cr_assert_null(r);
	for (i = 0; i < APIKEY_PIPELINE_MAX; i++) {
		rc = apikey_verify_send(c, ok, NULL, &id);
		cr_assert_eq(rc, 0, "send %zu: %s", i, apikey_strerror(rc));
		if (i == 0)
			first = id;
	}
	cr_assert_eq(apikey_verify_send(c, ok, NULL, &id), APIKEY_ELIMIT);
	cr_assert_str_eq(apikey_last_error(c), "APIKEY_PIPELINE_MAX verifies "
	    "are in flight from the oldest not yet received: receive it "
	    "first");
	cr_assert_eq(apikey_verify(c, ok, NULL, &r), APIKEY_EINVAL);
	cr_assert_eq(apikey_verify_batch(c, 1, one, NULL, res),
	    APIKEY_EINVAL);
	cr_assert_null(res[0]);
	for (i = 0; i < APIKEY_PIPELINE_MAX; i++) {
		rc = apikey_verify_recv(c, -1, &id, &r);
		cr_assert_eq(rc, 0, "recv %zu: %s: %s", i, apikey_strerror(rc),
		    apikey_last_error(c));
		cr_assert_eq(apikey_result_code(r), APIKEY_VALID);
		apikey_result_free(r);
		if (i == 0)
			cr_assert_eq(id, first);
	}
	/* Drained: the plain call works again on the same client. */
	cr_assert_eq(apikey_verify(c, ok, NULL, &r), 0);
	cr_assert_eq(apikey_result_code(r), APIKEY_VALID);
	apikey_result_free(r);
	/* Bad arguments, and the admin socket. */
	cr_assert_eq(apikey_verify_send(c, NULL, NULL, &id), APIKEY_EINVAL);
	cr_assert_eq(apikey_verify_send(c, ok, NULL, NULL), APIKEY_EINVAL);
	cr_assert_eq(apikey_verify_send(it_aclient(), ok, NULL, &id),
	    APIKEY_EINVAL);
	cr_assert_eq(apikey_verify_batch(c, 1, NULL, NULL, res),
	    APIKEY_EINVAL);
	cr_assert_eq(apikey_fd(NULL), -1);
	cr_assert_eq(apikey_events(NULL), 0);
	cr_assert_eq(apikey_verify_pending(NULL), 0);
	apikey_close(c);
}

/* A daemon that stops answering: the batch ends at the client's timeout
 * with nothing in flight, and the client recovers once it answers. */
Test(pipeline, hung_daemon_times_out_cleanly)
{
	const char	*ok = it_key(NULL, NULL);
	const char	*tokens[8];
	struct apikey_result *res[8];
	struct apikey_client *c = client(300);
	size_t		 i;
	int64_t		 t0;
	int		 rc;

	for (i = 0; i < 8; i++)
		tokens[i] = ok;
	cr_assert_eq(apikey_verify_batch(c, 8, tokens, NULL, res), 0);
	free_results(res, 8);
	cr_assert_eq(kill(it_daemon_pid(), SIGSTOP), 0);
	t0 = it_now_ms();
	rc = apikey_verify_batch(c, 8, tokens, NULL, res);
	cr_assert_eq(rc, APIKEY_EUNAVAIL, "batch: %s", apikey_strerror(rc));
	cr_assert_str_eq(apikey_last_error(c), "no answer from apikeyd "
	    "within 300 ms");
	cr_assert_geq(it_now_ms() - t0, 300);
	for (i = 0; i < 8; i++)
		cr_assert_null(res[i]);
	cr_assert_eq(apikey_verify_pending(c), 0);
	cr_assert_eq(apikey_fd(c), -1, "the connection is dropped");
	cr_assert_eq(kill(it_daemon_pid(), SIGCONT), 0);
	rc = apikey_verify_batch(c, 8, tokens, NULL, res);
	cr_assert_eq(rc, 0, "after SIGCONT: %s", apikey_strerror(rc));
	for (i = 0; i < 8; i++)
		cr_assert_eq(apikey_result_code(res[i]), APIKEY_VALID);
	free_results(res, 8);
	apikey_close(c);
}

/* The daemon dies with requests in flight: one error, with id 0, and
 * nothing left pending. */
Test(pipeline, vanished_daemon_fails_what_is_in_flight)
{
	const char	*ok = it_key(NULL, NULL);
	struct apikey_client *c = client(2000);
	struct apikey_result *r;
	uint32_t	 id;
	int		 i, rc;

	for (i = 0; i < 10; i++)
		cr_assert_eq(apikey_verify_send(c, ok, NULL, &id), 0);
	for (i = 0; i < 5; i++) {
		cr_assert_eq(apikey_verify_recv(c, -1, &id, &r), 0);
		apikey_result_free(r);
	}
	/* Stopped, so that what follows is surely in flight at the kill. */
	cr_assert_eq(kill(it_daemon_pid(), SIGSTOP), 0);
	for (i = 0; i < 100; i++)
		cr_assert_eq(apikey_verify_send(c, ok, NULL, &id), 0);
	cr_assert_eq(kill(it_daemon_pid(), SIGKILL), 0);
	cr_assert_eq(it_wait_daemon_exit(IT_DEADLINE_MS), 128 + SIGKILL);
	/* The answers already on their way may still come; then the end. */
	while ((rc = apikey_verify_recv(c, -1, &id, &r)) == 0) {
		cr_assert_eq(apikey_result_code(r), APIKEY_VALID);
		apikey_result_free(r);
	}
	cr_assert_eq(rc, APIKEY_EUNAVAIL, "recv: %s", apikey_strerror(rc));
	cr_assert_eq(id, 0);
	cr_assert_null(r);
	cr_assert_eq(apikey_verify_pending(c), 0);
	cr_assert_eq(apikey_verify_recv(c, 0, &id, &r), APIKEY_EAGAIN);
	apikey_close(c);
	it_start();
}

/* Runs the README's examples/verify_batch with in on its standard input;
 * returns its exit status, its output in *out. */
static int
run_example(const char *in, const char **out)
{
	char		 prog[4096];
	const char	*argv[] = { prog, NULL };
	const char	*set[] = { it_printf("APIKEY_SOCKET_DIR=%s",
			    it_sock_dir()), NULL };
	char		**env = it_make_env(set);
	struct it_out	 o[2];
	int		 pin[2], pout[2], perr[2], fd[3], st;
	pid_t		 pid;

	snprintf(prog, sizeof(prog), "%s", it_apikeyd_path());
	cr_assert_not_null(strrchr(prog, '/'));
	strcpy(strrchr(prog, '/'), "/examples/verify_batch");
	cr_assert(pipe2(pin, O_CLOEXEC) == 0 && pipe2(pout, O_CLOEXEC) == 0 &&
	    pipe2(perr, O_CLOEXEC) == 0);
	fd[0] = pin[0];
	fd[1] = pout[1];
	fd[2] = perr[1];
	pid = it_proc_spawn(argv, env, fd, NULL);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	cr_assert_eq(write(pin[1], in, strlen(in)), (ssize_t)strlen(in));
	close(pin[1]);
	memset(o, 0, sizeof(o));
	o[0].fd = pout[0];
	o[1].fd = perr[0];
	cr_assert_eq(it_proc_read(o, 2, it_now_ms() + IT_DEADLINE_MS, NULL,
	    NULL), 0, "verify_batch did not finish");
	st = it_proc_wait(pid, IT_DEADLINE_MS);
	cr_assert_str_eq(o[1].buf != NULL ? o[1].buf : "", "");
	*out = it_keep(o[0].buf != NULL ? o[0].buf : strdup(""));
	free(o[1].buf);
	it_free_env(env);
	return st;
}

/* The README's pipelining example (examples/verify_batch.c). */
Test(pipeline, readme_example_answers_each_line)
{
	const char	*ok = it_key(NULL, NULL);
	const char	*out;

	cr_assert_eq(run_example(it_printf("%s\n%s\nnot-a-key\n%s\n", ok,
	    it_wrong_secret(ok), ok), &out), 1);
	cr_assert_str_eq(out, "1 VALID\n2 NOT_FOUND\n3 MALFORMED\n4 VALID\n");
	cr_assert_eq(run_example(it_printf("%s\n%s\n", ok, ok), &out), 0);
	cr_assert_str_eq(out, "1 VALID\n2 VALID\n");
}
