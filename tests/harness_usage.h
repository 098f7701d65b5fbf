/*
 * harness_usage.h - helpers of the usage-policy integration tests
 * (it_usage.c, it_crash.c, it_fairness.c, it_systemd.c) on top of
 * harness.h, whose it_verify() takes "cost=N" too: polls that hand back
 * the answer they waited for, the key's stored credits and use counters,
 * and apikeyctl verify as a fixture user.
 *
 * Like harness.h, every function asserts instead of returning an error,
 * and what it returns is owned by the caller only where it says so.
 */
#ifndef APIKEY_TEST_HARNESS_USAGE_H
#define APIKEY_TEST_HARNESS_USAGE_H

#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "harness.h"

enum apikey_code itu_code(const char *token, const char *ctx);
/*
 * Asserts the code of a verify and, when want_remaining is not -1, that
 * the reply carries credits with exactly that many left (-2: asserts the
 * reply carries no credits).
 */
void	itu_expect(const char *token, const char *ctx, enum apikey_code want,
	    int64_t want_remaining);
/* Polls verify (every ~50 ms, IT_DEADLINE_MS) until it answers want;
 * returns that answer, which the caller frees. */
struct apikey_result *itu_wait_result(const char *token, const char *ctx,
	    enum apikey_code want);

/* apikey_key_show of the key of token as root; caller frees. */
struct apikey_key *itu_show(const char *token);
/* The stored credits of the key of token (asserts it has credits). */
uint64_t itu_remaining(const char *token);
/* `apikeyctl --json key show ID` of the key of token, parsed. */
json_t	*itu_show_json(const char *token);

/*
 * `apikeyctl --json verify -` as user as, with token on stdin and the
 * further arguments given; asserts that it printed a verify document and
 * exited 0 for VALID, 1 otherwise. Returns the document (harness-owned).
 */
json_t	*itu_ctl_verify(const char *as, const char *token, ...)
	    IT_SENTINEL;
/* The "code" of such a document as an enum. */
enum apikey_code itu_json_code(const json_t *doc);

/* it_time(): wall-clock seconds as apikeyd reads them. */
time_t	itu_now(void);

/* Looks a code name up ("VALID", ...); asserts it is one. */
enum apikey_code itu_code_of(const char *name);

#endif
