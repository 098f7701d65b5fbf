/*
 * unit_pipeline.c - libapikey's pipelined verifies (libclient/pipeline.c)
 * against the fake daemon (tests/fakedaemon.c), for what the real one
 * never does on purpose: answers in reverse order, a goodbye after one
 * answer, goodbyes without end, a hang-up of an idle connection, a
 * refusal, silence, and replies that answer nothing in flight. The fake's
 * verify replies carry the request id as the credits remaining, so each
 * answer shows which request it belongs to.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fakedaemon.h"

#define N	40

static const char *tokens[N];

static void
fill_tokens(void)
{
	size_t	i;

	for (i = 0; i < N; i++)
		tokens[i] = KNOWN_TOKEN;
}

static struct apikey_client *
open_on(struct fake *f)
{
	struct apikey_client *c = NULL;

	cr_assert_eq(apikey_open(f->dir, TIMEOUT_MS, &c), 0);
	return c;
}

/* Each answer in its request's place: ids are consecutive. */
static void
expect_in_place(struct apikey_result **res, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		cr_assert_not_null(res[i]);
		cr_assert_eq(apikey_result_code(res[i]), APIKEY_VALID);
		if (i > 0)
			cr_assert_eq(apikey_result_remaining(res[i]),
			    apikey_result_remaining(res[i - 1]) + 1,
			    "answer %zu is not its request's", i);
	}
	for (i = 0; i < n; i++)
		apikey_result_free(res[i]);
}

Test(pipeline, reversed_answers_land_in_place, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_REVERSE };
	struct apikey_result *res[N], *r;
	struct apikey_client *c;
	struct fake	 f;
	uint32_t	 ids[8], id;
	int		 i;

	fill_tokens();
	fake_start(&f, "verify.sock", 1, m);
	c = open_on(&f);
	cr_assert_eq(apikey_verify_batch(c, N, tokens, NULL, res), 0);
	expect_in_place(res, N);
	/* The pair: ids as sent, answers as they come, each its own. */
	for (i = 0; i < 8; i++)
		cr_assert_eq(apikey_verify_send(c, KNOWN_TOKEN, NULL, &ids[i]),
		    0);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(apikey_verify_recv(c, -1, &id, &r), 0);
		cr_assert_eq(apikey_result_remaining(r), id);
		apikey_result_free(r);
	}
	cr_assert_eq(apikey_verify_pending(c), 0);
	apikey_close(c);
	fake_stop(&f, 1);
}

/* A goodbye after one answer: the rest go again on a new connection. */
Test(pipeline, goodbye_sends_the_unanswered_again, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_ECHO_ONE_GOAWAY, FAKE_ECHO };
	struct apikey_result *res[N];
	struct apikey_client *c;
	struct fake	 f;

	fill_tokens();
	fake_start(&f, "verify.sock", 2, m);
	c = open_on(&f);
	cr_assert_eq(apikey_verify_batch(c, N, tokens, NULL, res), 0,
	    "%s", apikey_last_error(c));
	expect_in_place(res, N);
	cr_assert_str_eq(apikey_last_error(c), "");
	apikey_close(c);
	fake_stop(&f, 1);
	/* All N on the first connection (maybe), N - 1 again. */
	cr_assert_geq(f.frames, N);
}

Test(pipeline, goodbyes_without_end_are_unavailable, .timeout = 10)
{
	static const enum fake_mode m[] = {
		FAKE_GOAWAY, FAKE_GOAWAY, FAKE_GOAWAY
	};
	struct apikey_result *res[N];
	struct apikey_client *c;
	struct fake	 f;
	size_t		 i;

	fill_tokens();
	fake_start(&f, "verify.sock", 3, m);
	c = open_on(&f);
	cr_assert_eq(apikey_verify_batch(c, N, tokens, NULL, res),
	    APIKEY_EUNAVAIL);
	cr_assert_str_eq(apikey_last_error(c), GOAWAY_MSG);
	for (i = 0; i < N; i++)
		cr_assert_null(res[i]);
	cr_assert_eq(apikey_verify_pending(c), 0);
	cr_assert_eq(c->fd, -1);
	apikey_close(c);
	fake_stop(&f, 1);
}

/* The daemon closed an idle connection: nothing was on the wire, so the
 * batch goes on a new one. */
Test(pipeline, idle_close_is_replaced, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_HANGUP, FAKE_ECHO };
	struct apikey_result *res[N];
	struct apikey_client *c;
	struct fake	 f;

	fill_tokens();
	fake_start(&f, "verify.sock", 2, m);
	c = open_on(&f);
	fake_wait_hangup(&f);
	cr_assert_eq(apikey_verify_batch(c, N, tokens, NULL, res), 0,
	    "%s", apikey_last_error(c));
	expect_in_place(res, N);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, N);
}

Test(pipeline, refusal_is_reported_with_its_reason, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_BUSY };
	struct apikey_result *res[N];
	struct apikey_client *c;
	struct fake	 f;

	fill_tokens();
	fake_start(&f, "verify.sock", 1, m);
	c = open_on(&f);
	fake_wait_hangup(&f);
	cr_assert_eq(apikey_verify_batch(c, N, tokens, NULL, res),
	    APIKEY_EBUSY);
	cr_assert_str_eq(apikey_last_error(c), BUSY_MSG);
	cr_assert_null(res[0]);
	apikey_close(c);
	fake_stop(&f, 1);
}

Test(pipeline, silence_times_out, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_SILENT };
	struct apikey_client *c;
	struct apikey_result *r;
	struct fake	 f;
	uint32_t	 id;
	int64_t		 t0;

	fake_start(&f, "verify.sock", 1, m);
	c = open_on(&f);
	cr_assert_eq(apikey_verify_send(c, KNOWN_TOKEN, NULL, &id), 0);
	/* A wait shorter than the timeout is only a wait. */
	cr_assert_eq(apikey_verify_recv(c, 10, &id, &r), APIKEY_EAGAIN);
	cr_assert_eq(apikey_verify_pending(c), 1);
	t0 = mono_ms();
	cr_assert_eq(apikey_verify_recv(c, -1, &id, &r), APIKEY_EUNAVAIL);
	cr_assert_geq(mono_ms() - t0, TIMEOUT_MS - 20);
	cr_assert_eq(id, 0);
	cr_assert_null(r);
	cr_assert_str_eq(apikey_last_error(c), "no answer from apikeyd within "
	    "200 ms");
	cr_assert_eq(apikey_verify_pending(c), 0);
	apikey_close(c);
	fake_stop(&f, 1);
}

/* A reply that answers nothing in flight drops everything, once. */
Test(pipeline, stray_or_repeated_answers_are_eproto, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_WRONG_ID, FAKE_TWICE };
	struct apikey_result *res[N];
	struct apikey_client *c;
	struct fake	 f;
	size_t		 i;

	fill_tokens();
	fake_start(&f, "verify.sock", 2, m);
	c = open_on(&f);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(apikey_verify_batch(c, N, tokens, NULL, res),
		    APIKEY_EPROTO, "round %zu", i);
		cr_assert_str_eq(apikey_last_error(c), "apikeyd sent a reply "
		    "that answers no request in flight");
		cr_assert_null(res[0]);
		cr_assert_null(res[N - 1]);
		cr_assert_eq(apikey_verify_pending(c), 0);
		cr_assert_eq(c->fd, -1, "the connection is dropped");
	}
	apikey_close(c);
	fake_stop(&f, 1);
}

/* The requests on the wire hold the token; a closed client leaves no
 * frame behind (ASan would report a leak). */
Test(pipeline, close_with_requests_in_flight, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_SILENT };
	struct apikey_client *c;
	struct fake	 f;
	uint32_t	 id;
	int		 i;

	fake_start(&f, "verify.sock", 1, m);
	c = open_on(&f);
	for (i = 0; i < 10; i++)
		cr_assert_eq(apikey_verify_send(c, KNOWN_TOKEN, NULL, &id), 0);
	cr_assert_eq(apikey_verify_send(c, "not a key", NULL, &id), 0);
	cr_assert_eq(apikey_verify_pending(c), 11);
	apikey_close(c);
	fake_stop(&f, 1);
}
