/*
 * unit_client.c - libapikey's connection handling (libclient/client.c)
 * against a fake daemon: a thread serving a Unix socket in a temporary
 * directory, scripted per accepted connection (answer well, answer with a
 * wrong id, wrong opcode or garbage, stay silent, hang up). A fleet
 * host's status, which no single daemon of the integration tests has, is
 * also shown through apikeyctl against the fake.
 *
 * What a caller would see is asserted exactly: the return code, the result
 * fields, the daemon's message. The server counts the frames and bytes it
 * received, and the tests join it only after the client closed its
 * connection, so "no round trip" is checked by an event (EOF), never by
 * waiting a while.
 *
 * The tests run as root. An untrusted server is one whose socket another
 * uid listen()ed on: SO_PEERCRED reports the listener's credentials, so a
 * forked child drops to that uid and calls listen() on the socket the test
 * bound, and the test's thread then serves it as usual.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "../libclient/internal.h"

#include "fakedaemon.h"

Test(client, open_missing_socket_is_unavailable)
{
	struct apikey_client	*c = NULL;
	char			 dir[] = "/tmp/unit_client.XXXXXX";
	char			 path[128];

	cr_assert_not_null(mkdtemp(dir));
	/* A directory without verify.sock, and a missing socket file. */
	cr_assert_eq(apikey_open(dir, TIMEOUT_MS, &c), APIKEY_EUNAVAIL);
	cr_assert_null(c);
	snprintf(path, sizeof(path), "%s/nothere.sock", dir);
	cr_assert_eq(apikey_open_admin(path, TIMEOUT_MS, &c),
	    APIKEY_EUNAVAIL);
	cr_assert_null(c);
	rmdir(dir);
}

Test(client, open_refused_is_unavailable)
{
	struct apikey_client	*c = NULL;
	struct fake		 f;

	/* Bound but not listening: connect gets ECONNREFUSED. */
	fake_listen(&f, "verify.sock", 0);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), APIKEY_EUNAVAIL);
	cr_assert_null(c);
	fake_stop(&f, 0);
}

Test(client, open_path_too_long_is_einval)
{
	struct apikey_client	*c = NULL;
	char			 path[300];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	cr_assert_eq(apikey_open(path, TIMEOUT_MS, &c), APIKEY_EINVAL);
	cr_assert_null(c);
}

/*
 * A verify on c that a silent daemon never answers: APIKEY_EUNAVAIL, no
 * result, after the client's timeout and before max_ms, and the
 * connection dropped.
 */
static void
verify_times_out(struct apikey_client *c, int64_t max_ms)
{
	struct apikey_result	*res = NULL;
	int64_t			 t0, took;

	t0 = mono_ms();
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res),
	    APIKEY_EUNAVAIL);
	took = mono_ms() - t0;
	cr_assert_null(res);
	cr_assert_geq(took, TIMEOUT_MS - 5, "returned after %lld ms",
	    (long long)took);
	cr_assert_lt(took, max_ms, "returned after %lld ms", (long long)took);
	cr_assert_eq(c->fd, -1);
}

Test(client, silent_daemon_times_out, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_SILENT };
	struct apikey_client	*c = NULL;
	struct fake		 f;

	fake_start(&f, "verify.sock", 1, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	/* The connection is dropped: the fake sees EOF and ends. */
	verify_times_out(c, 5 * TIMEOUT_MS);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 1);
	apikey_close(c);
}

/*
 * From a connection's second call on, libapikey waits for a reply in a
 * blocking recv() (its receive timeout one millisecond under the
 * client's) instead of poll() and recv(): a daemon that stops answering
 * must still cost the caller its timeout, no more.
 */
Test(client, silent_daemon_times_out_on_a_kept_connection, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_GOOD_TWO };
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct fake		 f;
	int			 i;

	fake_start(&f, "verify.sock", 1, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res), 0);
		cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
		apikey_result_free(res);
		res = NULL;
	}
	cr_assert_eq(c->blocking, 1, "the kept connection does not block");
	verify_times_out(c, 3 * TIMEOUT_MS);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 3);
	apikey_close(c);
}

Test(client, verify_good_reply, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct apikey_verify_req *req;
	struct apikey_result	*res = NULL;
	struct fake		 f;

	fake_start(&f, "verify.sock", 1, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	cr_assert_not_null(req = apikey_verify_req_new());
	cr_assert_eq(apikey_verify_req_set_service(req, "sshd"), 0);
	cr_assert_eq(apikey_verify_req_add_permission(req, "repo:read"), 0);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, req, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	cr_assert_str_eq(apikey_result_key_id(res), KNOWN_ID);
	cr_assert_str_eq(apikey_result_name(res), "ci");
	cr_assert_eq(apikey_result_owner_kind(res), APIKEY_OWNER_TENANT);
	cr_assert_str_eq(apikey_result_tenant(res), "acme");
	cr_assert_str_eq(apikey_result_group(res), "acme-users");
	cr_assert_eq(apikey_result_gid(res), 4242);
	cr_assert_eq(apikey_result_permission_count(res), 1);
	cr_assert_str_eq(apikey_result_permission(res, 0), "repo:read");
	cr_assert_null(apikey_result_permission(res, 1));
	cr_assert_eq(apikey_result_allowed_user_count(res), 1);
	cr_assert_str_eq(apikey_result_allowed_user(res, 0), "alice");
	cr_assert_str_eq(apikey_result_metadata(res), "{}");
	cr_assert_eq(apikey_result_expires_at(res), 1900000000);
	cr_assert_eq(apikey_result_has_credits(res), 1);
	cr_assert_eq(apikey_result_remaining(res), 41);
	cr_assert_eq(apikey_result_retry_after_ms(res), 0);
	cr_assert_str_eq(apikey_last_error(c), "");
	apikey_result_free(res);
	/* The connection is reused: still one accepted connection. */
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	apikey_result_free(res);
	apikey_verify_req_free(req);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 2);
}

/* Every accessor of a verify result, where the result has no key. */
static void
assert_result_empty(const struct apikey_result *res)
{
	cr_assert_str_eq(apikey_result_key_id(res), "");
	cr_assert_str_eq(apikey_result_name(res), "");
	cr_assert_eq(apikey_result_owner_kind(res), APIKEY_OWNER_SELF);
	cr_assert_eq(apikey_result_uid(res), (uid_t)-1);
	cr_assert_str_eq(apikey_result_user(res), "");
	cr_assert_str_eq(apikey_result_tenant(res), "");
	cr_assert_str_eq(apikey_result_group(res), "");
	cr_assert_eq(apikey_result_gid(res), (gid_t)-1);
	cr_assert_eq(apikey_result_permission_count(res), 0);
	cr_assert_null(apikey_result_permission(res, 0));
	cr_assert_eq(apikey_result_allowed_user_count(res), 0);
	cr_assert_null(apikey_result_allowed_user(res, 0));
	cr_assert_str_eq(apikey_result_metadata(res), "");
	cr_assert_eq(apikey_result_expires_at(res), 0);
	cr_assert_eq(apikey_result_retry_after_ms(res), 0);
	cr_assert_eq(apikey_result_has_credits(res), 0);
	cr_assert_eq(apikey_result_remaining(res), 0);
}

/*
 * A result is malloc'd, not calloc'd (libclient/verify.c): whatever the
 * heap held, each accessor still reads only what the reply, or the
 * local refusal of a malformed token, wrote. M_PERTURB fills every fresh
 * block with junk, so a field left unwritten shows here, not only under
 * valgrind. (ASan's allocator ignores it, but fills the first 4 KiB of a
 * block with junk of its own.)
 */
Test(client, verify_result_is_defined_over_junk, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct fake		 f;
	char			 bad[] = KNOWN_TOKEN;

	(void)mallopt(M_PERTURB, 0xa5);
	fake_start(&f, "verify.sock", 1, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);

	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	cr_assert_str_eq(apikey_result_reason(res), "");
	cr_assert_str_eq(apikey_result_key_id(res), KNOWN_ID);
	cr_assert_eq(apikey_result_uid(res), (uid_t)-1);
	cr_assert_str_eq(apikey_result_user(res), "");
	cr_assert_str_eq(apikey_result_tenant(res), "acme");
	cr_assert_eq(apikey_result_permission_count(res), 1);
	cr_assert_null(apikey_result_permission(res, 1));
	cr_assert_eq(apikey_result_remaining(res), 41);
	cr_assert_eq(apikey_result_retry_after_ms(res), 0);
	apikey_result_free(res);

	bad[sizeof(bad) - 2] ^= 1;
	cr_assert_eq(apikey_verify(c, bad, NULL, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_MALFORMED);
	cr_assert_str_eq(apikey_result_reason(res),
	    token_strerror(TOKEN_ECHECKSUM));
	assert_result_empty(res);
	apikey_result_free(res);

	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 1);
	(void)mallopt(M_PERTURB, 0);
}

Test(client, wrong_id_or_opcode_is_eproto_then_reconnects, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_WRONG_ID, FAKE_WRONG_OP,
	    FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct fake		 f;

	fake_start(&f, "verify.sock", 3, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res),
	    APIKEY_EPROTO);
	cr_assert_null(res);
	cr_assert_eq(c->fd, -1);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res),
	    APIKEY_EPROTO);
	cr_assert_null(res);
	cr_assert_eq(c->fd, -1);
	/* The next call opens a fresh connection and works. */
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	apikey_result_free(res);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 3);
}

Test(client, garbage_is_eproto, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_GARBAGE_LEN,
	    FAKE_GARBAGE_BODY };
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct fake		 f;

	fake_start(&f, "verify.sock", 2, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res),
	    APIKEY_EPROTO);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res),
	    APIKEY_EPROTO);
	cr_assert_null(res);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 2);
}

/* A daemon of another protocol version is refused with a message that
 * says so, not only "malformed reply". */
/* One verify against a fake answering with mode: the call's code and the
 * message apikey_last_error() is left with. */
static void
expect_verify_fails(enum fake_mode mode, int want, const char *msg)
{
	const enum fake_mode	 m[] = { mode };
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct fake		 f;

	fake_start(&f, "verify.sock", 1, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res), want);
	cr_assert_str_eq(apikey_last_error(c), msg);
	cr_assert_null(res);
	apikey_close(c);
	fake_stop(&f, 1);
}

Test(client, other_protocol_version_is_named, .timeout = 10)
{
	expect_verify_fails(FAKE_OLD_VERSION, APIKEY_EPROTO, "apikeyd speaks "
	    "another protocol version than libapikey (5): upgrade them "
	    "together");
}

Test(client, malformed_token_has_no_round_trip, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct fake		 f;
	struct token		 t;
	char			 bad[] = KNOWN_TOKEN, longtok[TOKEN_MAX + 2];
	int			 trc;

	fake_start(&f, "verify.sock", 1, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);

	bad[sizeof(bad) - 2] ^= 1;	/* a typo in the checksum */
	trc = token_parse(bad, strlen(bad), &t);
	cr_assert_eq(trc, TOKEN_ECHECKSUM);
	cr_assert_eq(apikey_verify(c, bad, NULL, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_MALFORMED);
	cr_assert_str_eq(apikey_result_reason(res),
	    token_strerror(TOKEN_ECHECKSUM));
	cr_assert_str_eq(apikey_result_key_id(res), "");
	apikey_result_free(res);

	memset(longtok, 'a', sizeof(longtok) - 1);
	longtok[sizeof(longtok) - 1] = '\0';
	cr_assert_eq(apikey_verify(c, longtok, NULL, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_MALFORMED);
	cr_assert_str_eq(apikey_result_reason(res),
	    token_strerror(TOKEN_ELENGTH));
	apikey_result_free(res);

	cr_assert_eq(apikey_verify(c, "", NULL, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_MALFORMED);
	apikey_result_free(res);

	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 0);
}

Test(client, fds_are_above_stdio_and_cloexec, .timeout = 10)
{
	struct apikey_client	*c = NULL, *c2 = NULL;
	struct fake		 f;
	int			 saved[3], i, rc, fd, fdflags, fd2, fdflags2;

	/* Listening is enough: connect completes in the backlog. */
	fake_listen(&f, "verify.sock", 1);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	cr_assert_gt(c->fd, 2);
	cr_assert(fcntl(c->fd, F_GETFD) & FD_CLOEXEC);

	/* A host that closed stdio must not get its socket on 0-2. */
	for (i = 0; i < 3; i++)
		saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
	for (i = 0; i < 3; i++)
		close(i);
	rc = apikey_open(f.dir, TIMEOUT_MS, &c2);
	fd = c2 != NULL ? c2->fd : -1;
	fdflags = fd >= 0 ? fcntl(fd, F_GETFD) : -1;
	fd2 = open("/dev/null", O_RDONLY);	/* must be 0: the slot is free */
	fdflags2 = fd2;
	for (i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
	cr_assert_eq(rc, 0);
	cr_assert_gt(fd, 2);
	cr_assert(fdflags & FD_CLOEXEC);
	cr_assert_eq(fdflags2, 0, "fd 0 was taken (%d)", fdflags2);
	apikey_close(c2);
	apikey_close(c);
	fake_stop(&f, 0);
}

Test(client, stale_connection_is_replaced, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_HANGUP, FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct fake		 f;

	fake_start(&f, "verify.sock", 2, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	fake_wait_hangup(&f);	/* the daemon dropped the idle connection */
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	apikey_result_free(res);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 1);
}

/* --- a stopping daemon's goodbye ---------------------------------------- */

static void
assert_valid(struct apikey_client *c)
{
	struct apikey_result	*res = NULL;
	int			 rc;

	rc = apikey_verify(c, KNOWN_TOKEN, NULL, &res);
	cr_assert_eq(rc, 0, "%s: %s", apikey_strerror(rc),
	    apikey_last_error(c));
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	cr_assert_str_eq(apikey_last_error(c), "");
	apikey_result_free(res);
}

Test(client, goodbye_instead_of_reply_sends_the_request_again,
    .timeout = 10)
{
	/* The request met the goodbye unanswered: never acted on, so it
	 * goes again, to the next connection (the next daemon). */
	static const enum fake_mode m[] = { FAKE_GOAWAY, FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct fake		 f;

	fake_start(&f, "verify.sock", 2, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	assert_valid(c);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 2);
}

Test(client, goodbye_behind_a_reply_keeps_the_reply, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_GOOD_GOAWAY, FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct fake		 f;

	fake_start(&f, "verify.sock", 2, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	assert_valid(c);
	/* That connection is done; the next call makes another. */
	cr_assert_eq(c->fd, -1);
	assert_valid(c);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 2);
}

Test(client, goodbye_on_an_idle_connection_asks_only_for_a_new_one,
    .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_GOAWAY_IDLE, FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct fake		 f;

	fake_start(&f, "verify.sock", 2, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	fake_wait_hangup(&f);
	assert_valid(c);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 1);
}

Test(client, goodbyes_without_end_are_unavailable, .timeout = 10)
{
	static const enum fake_mode m[] = {
		FAKE_GOAWAY, FAKE_GOAWAY, FAKE_GOAWAY
	};
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct fake		 f;

	fake_start(&f, "verify.sock", 3, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res),
	    APIKEY_EUNAVAIL);
	cr_assert_null(res);
	cr_assert_str_eq(apikey_last_error(c), GOAWAY_MSG);
	cr_assert_eq(c->fd, -1);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 3);
}

Test(client, goodbye_under_a_request_id_is_eproto, .timeout = 10)
{
	/* Only id 0 says goodbye; as a reply it is confusion, not a retry. */
	static const enum fake_mode m[] = { FAKE_GOAWAY_ID };
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct fake		 f;

	fake_start(&f, "verify.sock", 1, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res),
	    APIKEY_EPROTO);
	cr_assert_eq(c->fd, -1);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 1);
}

Test(client, daemon_error_maps_and_keeps_message, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_EPERM };
	struct apikey_client	*c = NULL;
	struct apikey_status	*st = NULL;
	struct fake		 f;

	/* A socket file given directly, not a directory. */
	fake_start(&f, "admin.sock", 1, m);
	cr_assert_eq(apikey_open_admin(f.path, TIMEOUT_MS, &c), 0);
	cr_assert_eq(apikey_status(c, &st), APIKEY_EPERM);
	cr_assert_null(st);
	cr_assert_str_eq(apikey_last_error(c),
	    "permission denied: not in the admin group");
	/* An error reply does not cost the connection. */
	cr_assert_neq(c->fd, -1);
	cr_assert_eq(apikey_status(c, &st), APIKEY_EPERM);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 2);
	cr_assert_eq(f.lastop, PROTO_OP_STATUS);
}

/* Fleet mode's refusals of a change are ordinary error replies, each with
 * a code of its own, and keep the connection. */
Test(client, fleet_errors_map_and_keep_message, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_EUNAVAIL, FAKE_ECONFLICT };
	struct apikey_client	*c = NULL;
	struct apikey_key	*k = NULL;
	struct fake		 f;
	int			 i;

	fake_start(&f, "admin.sock", 2, m);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(apikey_open_admin(f.dir, TIMEOUT_MS, &c), 0);
		cr_assert_eq(apikey_key_set_enabled(c, KNOWN_ID, 0, &k),
		    i == 0 ? APIKEY_EFLEET : APIKEY_ECONFLICT);
		cr_assert_null(k);
		cr_assert_str_eq(apikey_last_error(c), i == 0 ?
		    FLEET_DOWN_MSG : CONFLICT_MSG);
		cr_assert_neq(c->fd, -1);
		cr_assert_eq(apikey_key_revoke(c, KNOWN_ID),
		    i == 0 ? APIKEY_EFLEET : APIKEY_ECONFLICT);
		apikey_close(c);
		c = NULL;
	}
	fake_stop(&f, 2);
	cr_assert_eq(f.frames, 4);
	cr_assert_eq(f.lastop, PROTO_OP_KEY_REVOKE);
}

Test(client, management_on_verify_client_is_local_einval, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct apikey_status	*st = NULL;
	struct fake		 f;

	fake_start(&f, "verify.sock", 1, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	cr_assert_eq(apikey_status(c, &st), APIKEY_EINVAL);
	cr_assert_str_eq(apikey_last_error(c),
	    "management calls need apikey_open_admin()");
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 0);
}

Test(client, listing_collects_more_frames, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_GOOD };
	struct apikey_client		*c = NULL;
	struct apikey_audit_list	*l = NULL;
	const struct apikey_audit	*a;
	struct fake			 f;

	fake_start(&f, "admin.sock", 1, m);
	cr_assert_eq(apikey_open_admin(f.dir, TIMEOUT_MS, &c), 0);
	cr_assert_eq(apikey_audit_list(c, 10, &l), 0);
	cr_assert_eq(apikey_audit_list_count(l), 2);
	a = apikey_audit_list_get(l, 1);
	cr_assert_eq(apikey_audit_seq(a), 2);
	cr_assert_eq(apikey_audit_time(a), 1700000002);
	cr_assert_eq(apikey_audit_uid(a), 1000);
	cr_assert_eq(apikey_audit_pid(a), 77);
	cr_assert_str_eq(apikey_audit_action(a), "key.create");
	cr_assert_str_eq(apikey_audit_target(a), KNOWN_ID);
	cr_assert_null(apikey_audit_list_get(l, 2));
	apikey_audit_list_free(l);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 1);
}

Test(client, create_returns_key_and_token, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct apikey_key_spec	*sp;
	struct apikey_key	*k = NULL;
	char			*tok = NULL;
	struct fake		 f;

	fake_start(&f, "admin.sock", 1, m);
	cr_assert_eq(apikey_open_admin(f.dir, TIMEOUT_MS, &c), 0);
	cr_assert_not_null(sp = apikey_key_spec_new());
	cr_assert_eq(apikey_key_spec_set_name(sp, "deploy"), 0);
	cr_assert_eq(apikey_key_create(c, APIKEY_OWNER_SELF, NULL, sp, &k,
	    &tok), 0);
	cr_assert_str_eq(tok, KNOWN_TOKEN);
	cr_assert_str_eq(apikey_key_id(k), KNOWN_ID);
	cr_assert_str_eq(apikey_key_name(k), "deploy");
	cr_assert_eq(apikey_key_owner_kind(k), APIKEY_OWNER_USER);
	cr_assert_eq(apikey_key_uid(k), 1000);
	cr_assert_str_eq(apikey_key_metadata(k), "{\"a\":\"\x04\"}");
	cr_assert_eq(apikey_key_enabled(k), 1);
	cr_assert_eq(apikey_key_rate_max(k), 100);
	cr_assert_eq(apikey_key_rate_window_ms(k), 60000);
	cr_assert_eq(apikey_key_has_credits(k), 1);
	cr_assert_eq(apikey_key_remaining(k), 4321);
	cr_assert_eq(apikey_key_refill_amount(k), 1000);
	cr_assert_eq(apikey_key_refill_interval(k), 86400);
	cr_assert_eq(apikey_key_last_refill_at(k), 1700003600);
	cr_assert_eq(apikey_key_cidr_count(k), 2);
	cr_assert_str_eq(apikey_key_cidr(k, 0), "10.0.0.0/8");
	cr_assert_str_eq(apikey_key_cidr(k, 1), "2001:db8::/32");
	cr_assert_null(apikey_key_cidr(k, 2));
	cr_assert_eq(apikey_key_last_used(k), 1700007200);
	cr_assert_eq(apikey_key_use_count(k), 679);
	cr_assert_eq(apikey_key_strict_sync(k), 1);
	/* Nothing of the token is left in the client's buffers. */
	cr_assert_eq(c->rxlen, 0);
	cr_assert_null(memmem(c->rx, c->rxcap, KNOWN_TOKEN + 15, 20));
	cr_assert_null(memmem(c->tx, c->txcap, KNOWN_TOKEN + 15, 20));
	apikey_token_free(tok);
	apikey_key_free(k);
	apikey_key_spec_free(sp);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 1);
}

Test(client, spec_and_request_limits)
{
	struct apikey_key_spec		*sp;
	struct apikey_verify_req	*req;
	char				 name[PROTO_NAME_MAX + 2], svc[16];
	int				 i;

	cr_assert_not_null(sp = apikey_key_spec_new());
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	cr_assert_eq(apikey_key_spec_set_name(sp, name), APIKEY_EINVAL);
	name[PROTO_NAME_MAX] = '\0';
	cr_assert_eq(apikey_key_spec_set_name(sp, name), 0);
	cr_assert_eq(apikey_key_spec_set_prefix(sp, "Bad!"), APIKEY_EINVAL);
	for (i = 0; i < PROTO_MAX_SERVICES; i++) {
		snprintf(svc, sizeof(svc), "svc%d", i);
		cr_assert_eq(apikey_key_spec_add_service(sp, svc), 0);
	}
	cr_assert_eq(apikey_key_spec_add_service(sp, "one-more"),
	    APIKEY_ELIMIT);
	cr_assert_eq(apikey_key_spec_add_service(sp, NULL), APIKEY_EINVAL);
	apikey_key_spec_free(sp);

	cr_assert_not_null(req = apikey_verify_req_new());
	cr_assert_eq(apikey_verify_req_set_user(req, NULL), APIKEY_EINVAL);
	for (i = 0; i < PROTO_MAX_PERMS; i++)
		cr_assert_eq(apikey_verify_req_add_permission(req, "a:b"), 0);
	cr_assert_eq(apikey_verify_req_add_permission(req, "a:b"),
	    APIKEY_ELIMIT);
	apikey_verify_req_free(req);
}

Test(client, spec_rate_and_refill)
{
	struct apikey_key_spec	*sp;

	cr_assert_eq(apikey_key_spec_set_rate(NULL, 1, 1000), APIKEY_EINVAL);
	cr_assert_eq(apikey_key_spec_set_refill(NULL, 0, 0), APIKEY_EINVAL);
	cr_assert_not_null(sp = apikey_key_spec_new());

	/* A limit needs a window; a refill needs an interval. Refused
	 * settings leave the spec as it was. */
	cr_assert_eq(apikey_key_spec_set_rate(sp, 10, 0), APIKEY_EINVAL);
	cr_assert_eq(apikey_key_spec_set_refill(sp, 10, 0), APIKEY_EINVAL);
	cr_assert_eq(sp->s.set, 0);
	cr_assert_eq(sp->s.limits.rate_max, 0);
	cr_assert_eq(sp->s.limits.refill_amount, 0);

	cr_assert_eq(apikey_key_spec_set_rate(sp, 100, 60000), 0);
	cr_assert_eq(sp->s.set, PROTO_SET_RATE);
	cr_assert_eq(sp->s.limits.rate_max, 100);
	cr_assert_eq(sp->s.limits.rate_window_ms, 60000);
	cr_assert_eq(apikey_key_spec_set_rate(sp, 10, 0), APIKEY_EINVAL);
	cr_assert_eq(sp->s.limits.rate_max, 100);
	cr_assert_eq(sp->s.limits.rate_window_ms, 60000);
	/* max 0 removes the limit, whatever the window. */
	cr_assert_eq(apikey_key_spec_set_rate(sp, 0, 5000), 0);
	cr_assert_eq(sp->s.limits.rate_max, 0);
	cr_assert_eq(sp->s.limits.rate_window_ms, 0);
	cr_assert_eq(apikey_key_spec_set_rate(sp, UINT32_MAX, UINT32_MAX), 0);
	cr_assert_eq(sp->s.limits.rate_max, UINT32_MAX);

	cr_assert_eq(apikey_key_spec_set_refill(sp, 1000, 86400), 0);
	cr_assert_eq(sp->s.set, PROTO_SET_RATE | PROTO_SET_REFILL);
	cr_assert_eq(sp->s.limits.refill_amount, 1000);
	cr_assert_eq(sp->s.limits.refill_interval, 86400);
	cr_assert_eq(apikey_key_spec_set_refill(sp, 0, 7), 0);
	cr_assert_eq(sp->s.limits.refill_amount, 0);
	cr_assert_eq(sp->s.limits.refill_interval, 0);
	/* Neither touched the credits. */
	cr_assert_eq(sp->s.limits.has_credits, 0);
	apikey_key_spec_free(sp);
}

Test(client, spec_credits)
{
	struct apikey_key_spec	*sp;

	cr_assert_eq(apikey_key_spec_set_credits(NULL, 1), APIKEY_EINVAL);
	cr_assert_eq(apikey_key_spec_clear_credits(NULL), APIKEY_EINVAL);
	cr_assert_not_null(sp = apikey_key_spec_new());
	/* No credits left is a setting too: the key is used up. */
	cr_assert_eq(apikey_key_spec_set_credits(sp, 0), 0);
	cr_assert_eq(sp->s.set, PROTO_SET_CREDITS);
	cr_assert_eq(sp->s.limits.has_credits, 1);
	cr_assert_eq(sp->s.limits.remaining, 0);
	cr_assert_eq(apikey_key_spec_set_credits(sp, UINT64_MAX), 0);
	cr_assert_eq(sp->s.limits.remaining, UINT64_MAX);
	cr_assert_eq(apikey_key_spec_clear_credits(sp), 0);
	cr_assert_eq(sp->s.set, PROTO_SET_CREDITS);
	cr_assert_eq(sp->s.limits.has_credits, 0);
	cr_assert_eq(sp->s.limits.remaining, 0);
	apikey_key_spec_free(sp);
}

Test(client, spec_cidrs)
{
	struct apikey_key_spec	*sp;
	char			 cidr[PROTO_CIDR_MAX + 2];
	int			 i;

	cr_assert_eq(apikey_key_spec_add_cidr(NULL, "10.0.0.0/8"),
	    APIKEY_EINVAL);
	cr_assert_eq(apikey_key_spec_clear_cidrs(NULL), APIKEY_EINVAL);
	cr_assert_not_null(sp = apikey_key_spec_new());
	cr_assert_eq(apikey_key_spec_add_cidr(sp, NULL), APIKEY_EINVAL);
	cr_assert_eq(apikey_key_spec_add_cidr(sp, ""), APIKEY_EINVAL);
	memset(cidr, '1', sizeof(cidr) - 1);
	cidr[sizeof(cidr) - 1] = '\0';		/* PROTO_CIDR_MAX + 1 bytes */
	cr_assert_eq(apikey_key_spec_add_cidr(sp, cidr), APIKEY_EINVAL);
	cr_assert_eq(sp->s.set, 0);
	cr_assert_eq(sp->s.limits.cidrs.n, 0);

	/* The syntax is the daemon's to judge: only the length counts. */
	cidr[PROTO_CIDR_MAX] = '\0';
	cr_assert_eq(apikey_key_spec_add_cidr(sp, cidr), 0);
	cr_assert_eq(sp->s.set, PROTO_SET_CIDRS);
	cr_assert_str_eq(sp->s.limits.cidrs.v[0], cidr);
	for (i = 1; i < PROTO_MAX_CIDRS; i++)
		cr_assert_eq(apikey_key_spec_add_cidr(sp, "192.0.2.7"), 0);
	cr_assert_eq(sp->s.limits.cidrs.n, PROTO_MAX_CIDRS);
	cr_assert_eq(apikey_key_spec_add_cidr(sp, "10.0.0.0/8"),
	    APIKEY_ELIMIT);
	cr_assert_eq(sp->s.limits.cidrs.n, PROTO_MAX_CIDRS);
	cr_assert_str_eq(sp->s.limits.cidrs.v[PROTO_MAX_CIDRS - 1],
	    "192.0.2.7");

	cr_assert_eq(apikey_key_spec_clear_cidrs(sp), 0);
	cr_assert_eq(sp->s.set, PROTO_SET_CIDRS);
	cr_assert_eq(sp->s.limits.cidrs.n, 0);
	cr_assert_str_eq(sp->s.limits.cidrs.v[0], "");
	apikey_key_spec_free(sp);

	/* Clearing alone marks the list as set, so an update empties it. */
	cr_assert_not_null(sp = apikey_key_spec_new());
	cr_assert_eq(apikey_key_spec_clear_cidrs(sp), 0);
	cr_assert_eq(sp->s.set, PROTO_SET_CIDRS);
	cr_assert_eq(sp->s.limits.cidrs.n, 0);
	apikey_key_spec_free(sp);
}

Test(client, spec_strict_sync)
{
	struct apikey_key_spec	*sp;

	cr_assert_eq(apikey_key_spec_set_strict_sync(NULL, 1), APIKEY_EINVAL);
	cr_assert_not_null(sp = apikey_key_spec_new());
	cr_assert_eq(sp->s.set, 0);
	/* Any true value is 1 on the wire, where only 0 and 1 decode. */
	cr_assert_eq(apikey_key_spec_set_strict_sync(sp, 7), 0);
	cr_assert_eq(sp->s.set, PROTO_SET_STRICT_SYNC);
	cr_assert_eq(sp->s.strict_sync, 1);
	/* Off is a setting too: an update turns it off. */
	cr_assert_eq(apikey_key_spec_set_strict_sync(sp, 0), 0);
	cr_assert_eq(sp->s.set, PROTO_SET_STRICT_SYNC);
	cr_assert_eq(sp->s.strict_sync, 0);
	apikey_key_spec_free(sp);
}

/* The fleet fields of a status as they were decoded; a single host (all
 * zero) and NULL read as no fleet. */
Test(client, status_fleet_accessors)
{
	struct apikey_status	*st;

	cr_assert_not_null(st = calloc(1, sizeof(*st)));
	cr_assert_eq(apikey_status_fleet(st), 0);
	cr_assert_eq(apikey_status_fleet_connected(st), 0);
	cr_assert_eq(apikey_status_fleet_synced_at(st), 0);
	cr_assert_eq(apikey_status_fleet_digest(st),
	    APIKEY_FLEET_DIGEST_UNKNOWN);
	cr_assert_str_eq(apikey_status_fleet_error(st), "");

	st->s.fleet = 1;
	st->s.fleet_connected = 1;
	st->s.fleet_last_seq = 1234;
	st->s.fleet_head_seq = 1240;
	st->s.fleet_synced_at = 1700000000;
	st->s.fleet_max_staleness = 5;
	st->s.fleet_digest = PROTO_DIGEST_MISMATCH;
	strcpy(st->s.fleet_error, "connection refused");
	cr_assert_eq(apikey_status_fleet(st), 1);
	cr_assert_eq(apikey_status_fleet_connected(st), 1);
	cr_assert_eq(apikey_status_fleet_last_seq(st), 1234);
	cr_assert_eq(apikey_status_fleet_head_seq(st), 1240);
	cr_assert_eq(apikey_status_fleet_synced_at(st), 1700000000);
	cr_assert_eq(apikey_status_fleet_max_staleness(st), 5);
	cr_assert_eq(apikey_status_fleet_digest(st),
	    APIKEY_FLEET_DIGEST_MISMATCH);
	st->s.fleet_digest = PROTO_DIGEST_MATCH;
	cr_assert_eq(apikey_status_fleet_digest(st),
	    APIKEY_FLEET_DIGEST_MATCH);
	cr_assert_str_eq(apikey_status_fleet_error(st), "connection refused");
	/* A time past time_t saturates, as every time does. */
	st->s.fleet_synced_at = UINT64_MAX;
	cr_assert_eq(apikey_status_fleet_synced_at(st), (time_t)INT64_MAX);
	apikey_status_free(st);

	cr_assert_eq(apikey_status_fleet(NULL), 0);
	cr_assert_eq(apikey_status_fleet_connected(NULL), 0);
	cr_assert_eq(apikey_status_fleet_last_seq(NULL), 0);
	cr_assert_eq(apikey_status_fleet_head_seq(NULL), 0);
	cr_assert_eq(apikey_status_fleet_synced_at(NULL), 0);
	cr_assert_eq(apikey_status_fleet_max_staleness(NULL), 0);
	cr_assert_eq(apikey_status_fleet_digest(NULL),
	    APIKEY_FLEET_DIGEST_UNKNOWN);
	cr_assert_str_eq(apikey_status_fleet_error(NULL), "");
	cr_assert_eq(apikey_key_strict_sync(NULL), 0);
}

/* Runs build/apikeyctl --socket-dir dir ARGS... and returns its stdout
 * (caller frees) and *status its exit status. */
static char *
run_ctl(const char *dir, const char *const *args, int *status)
{
	const char	*build = getenv("APIKEY_BUILD");
	char		 path[PATH_MAX], *out = NULL;
	const char	*argv[8];
	size_t		 len = 0, i;
	FILE		*f;
	int		 p[2], st;
	pid_t		 pid;

	cr_assert_not_null(build, "APIKEY_BUILD names the build directory");
	snprintf(path, sizeof(path), "%s/apikeyctl", build);
	argv[0] = "apikeyctl";
	argv[1] = "--socket-dir";
	argv[2] = dir;
	for (i = 0; args[i] != NULL && i < 4; i++)
		argv[3 + i] = args[i];
	argv[3 + i] = NULL;
	cr_assert_eq(pipe(p), 0);
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		/* execv promises not to modify argv. */
		execv(path, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(p[1]);
	cr_assert_not_null(f = open_memstream(&out, &len));
	for (;;) {
		char	buf[4096];
		ssize_t	n = read(p[0], buf, sizeof(buf));

		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, f);
	}
	fclose(f);
	close(p[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	*status = WEXITSTATUS(st);
	return out;
}

/*
 * A fleet host's status through libapikey and apikeyctl: the accessors
 * read what came, the text has the fleet line and the failure (escaped),
 * the JSON the fleet object as docs/cli.md names it.
 */
Test(client, fleet_status, .timeout = 20)
{
	static const enum fake_mode m[] = { FAKE_GOOD, FAKE_GOOD, FAKE_GOOD };
	static const char *const text[] = { "status", NULL };
	static const char *const json[] = { "--json", "status", NULL };
	struct apikey_client	*c = NULL;
	struct apikey_status	*st = NULL;
	struct fake		 f;
	json_t			*doc, *fl;
	char			*out, *line, want[256];
	time_t			 before = time(NULL), at;
	int			 status, ago;

	fake_start(&f, "admin.sock", 3, m);
	cr_assert_eq(apikey_open_admin(f.dir, TIMEOUT_MS, &c), 0);
	cr_assert_eq(apikey_status(c, &st), 0);
	cr_assert_eq(apikey_status_fleet(st), 1);
	cr_assert_eq(apikey_status_fleet_connected(st), 1);
	cr_assert_eq(apikey_status_fleet_last_seq(st), 1234);
	cr_assert_eq(apikey_status_fleet_head_seq(st), 1240);
	at = apikey_status_fleet_synced_at(st);
	cr_assert_geq(at, before - FAKE_SYNCED_AGO);
	cr_assert_leq(at, time(NULL) - FAKE_SYNCED_AGO);
	cr_assert_eq(apikey_status_fleet_max_staleness(st), 5);
	cr_assert_eq(apikey_status_fleet_digest(st),
	    APIKEY_FLEET_DIGEST_MISMATCH);
	cr_assert_str_eq(apikey_status_fleet_error(st), FAKE_FLEET_ERROR);
	apikey_status_free(st);
	apikey_close(c);

	out = run_ctl(f.dir, text, &status);
	cr_assert_eq(status, 0, "%s", out);
	cr_assert_not_null(line = strstr(out, "\nfleet: "), "%s", out);
	cr_assert_eq(sscanf(line, "\nfleet: connected, last_seq 1234, lag 6, "
	    "synced %d s ago", &ago), 1, "%s", out);
	cr_assert(ago >= FAKE_SYNCED_AGO && ago <= FAKE_SYNCED_AGO + 10,
	    "%s", out);
	snprintf(want, sizeof(want), "\nfleet: connected, last_seq 1234, "
	    "lag 6, synced %d s ago (max staleness 5 s), digest mismatch\n"
	    "fleet_error: could not connect to server: \\xff\n"
	    "verifies_total: 0\n", ago);
	cr_assert_not_null(strstr(out, want), "%s", out);
	free(out);

	out = run_ctl(f.dir, json, &status);
	cr_assert_eq(status, 0, "%s", out);
	cr_assert_not_null(doc = json_loads(out, 0, NULL), "%s", out);
	fl = json_object_get(doc, "fleet");
	cr_assert_eq(json_object_size(fl), 8, "%s", out);
	cr_assert(json_is_true(json_object_get(fl, "connected")));
	cr_assert_eq(json_integer_value(json_object_get(fl, "last_seq")),
	    1234);
	cr_assert_eq(json_integer_value(json_object_get(fl, "head_seq")),
	    1240);
	cr_assert_eq(json_integer_value(json_object_get(fl, "lag")), 6);
	cr_assert_eq(json_integer_value(json_object_get(fl, "synced_at")),
	    at);
	cr_assert_eq(json_integer_value(json_object_get(fl,
	    "max_staleness")), 5);
	cr_assert_str_eq(json_string_value(json_object_get(fl, "digest")),
	    "mismatch");
	cr_assert_str_eq(json_string_value(json_object_get(fl, "error")),
	    "could not connect to server: \\xff");
	json_decref(doc);
	free(out);
	fake_stop(&f, 3);
	cr_assert_eq(f.frames, 3);
}

Test(client, verify_cost)
{
	struct apikey_verify_req	*req;

	cr_assert_eq(apikey_verify_req_set_cost(NULL, 1), APIKEY_EINVAL);
	cr_assert_not_null(req = apikey_verify_req_new());
	cr_assert_eq(apikey_verify_req_set_cost(req, 0), APIKEY_EINVAL);
	cr_assert_eq(req->q.cost, 0);	/* the daemon's default: 1 */
	cr_assert_eq(apikey_verify_req_set_cost(req, 5), 0);
	cr_assert_eq(req->q.cost, 5);
	cr_assert_eq(apikey_verify_req_set_cost(req, 0), APIKEY_EINVAL);
	cr_assert_eq(req->q.cost, 5);
	cr_assert_eq(apikey_verify_req_set_cost(req, UINT32_MAX), 0);
	cr_assert_eq(req->q.cost, UINT32_MAX);
	apikey_verify_req_free(req);
}

Test(client, usage_accessors_read_what_applies)
{
	struct apikey_result	*res;
	struct apikey_key	*k;

	cr_assert_not_null(res = calloc(1, sizeof(*res)));
	/* A retry time counts only with RATE_LIMITED, remaining only with
	 * credits, whatever else the reply held. */
	res->r.code = PROTO_USAGE_EXCEEDED;
	res->r.retry_after_ms = 1500;
	res->r.remaining = 9;
	cr_assert_eq(apikey_result_retry_after_ms(res), 0);
	cr_assert_eq(apikey_result_has_credits(res), 0);
	cr_assert_eq(apikey_result_remaining(res), 0);
	res->r.code = PROTO_RATE_LIMITED;
	res->r.has_credits = 1;
	cr_assert_eq(apikey_result_code(res), APIKEY_RATE_LIMITED);
	cr_assert_eq(apikey_result_retry_after_ms(res), 1500);
	cr_assert_eq(apikey_result_has_credits(res), 1);
	cr_assert_eq(apikey_result_remaining(res), 9);
	apikey_result_free(res);

	cr_assert_not_null(k = calloc(1, sizeof(*k)));
	k->k.limits.rate_window_ms = 60000;	/* without a max: no limit */
	k->k.limits.remaining = 5000;
	k->k.usage.remaining = 4321;		/* without credits: ignored */
	k->k.limits.refill_interval = 86400;	/* without an amount */
	cr_assert_eq(apikey_key_rate_max(k), 0);
	cr_assert_eq(apikey_key_rate_window_ms(k), 0);
	cr_assert_eq(apikey_key_has_credits(k), 0);
	cr_assert_eq(apikey_key_remaining(k), 0);
	cr_assert_eq(apikey_key_refill_amount(k), 0);
	cr_assert_eq(apikey_key_refill_interval(k), 0);
	cr_assert_eq(apikey_key_cidr_count(k), 0);
	cr_assert_null(apikey_key_cidr(k, 0));
	cr_assert_eq(apikey_key_last_used(k), 0);
	k->k.limits.has_credits = 1;
	cr_assert_eq(apikey_key_remaining(k), 4321);
	apikey_key_free(k);

	/* NULL is a caller's mistake, not a crash. */
	cr_assert_eq(apikey_result_retry_after_ms(NULL), 0);
	cr_assert_eq(apikey_result_has_credits(NULL), 0);
	cr_assert_eq(apikey_result_remaining(NULL), 0);
	cr_assert_eq(apikey_key_rate_max(NULL), 0);
	cr_assert_eq(apikey_key_rate_window_ms(NULL), 0);
	cr_assert_eq(apikey_key_has_credits(NULL), 0);
	cr_assert_eq(apikey_key_remaining(NULL), 0);
	cr_assert_eq(apikey_key_refill_amount(NULL), 0);
	cr_assert_eq(apikey_key_refill_interval(NULL), 0);
	cr_assert_eq(apikey_key_last_refill_at(NULL), 0);
	cr_assert_eq(apikey_key_cidr_count(NULL), 0);
	cr_assert_null(apikey_key_cidr(NULL, 0));
	cr_assert_eq(apikey_key_last_used(NULL), 0);
	cr_assert_eq(apikey_key_use_count(NULL), 0);
}

/* Expects apikey_open to refuse f's server, which must hear nothing. */
static void
assert_untrusted_at_open(struct fake *f, const char *what)
{
	static const enum fake_mode m[] = { FAKE_GOOD };
	struct apikey_client	*c = NULL;

	fake_run(f, 1, m);
	cr_assert_eq(apikey_open(f->dir, TIMEOUT_MS, &c), APIKEY_EUNTRUSTED,
	    "%s", what);
	cr_assert_null(c, "%s", what);
	/* The client hung up without a word: the fake saw EOF. */
	fake_stop(f, 1);
	cr_assert_eq(f->bytes[0], 0, "%s: %zu bytes", what, f->bytes[0]);
	cr_assert_eq(f->frames, 0, "%s", what);
}

/* Expects apikey_open to trust f's server, which answers one verify. */
static void
assert_trusted_at_open(struct fake *f)
{
	static const enum fake_mode m[] = { FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;

	fake_run(f, 1, m);
	cr_assert_eq(apikey_open(f->dir, TIMEOUT_MS, &c), 0);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	apikey_result_free(res);
	apikey_close(c);
	fake_stop(f, 1);
	cr_assert_eq(f->frames, 1);
}

Test(client, server_owning_private_directory_is_trusted, .timeout = 10)
{
	struct fake	f;

	/* The packaged daemon: user apikeyd owns /run/apikeyd, 0755. */
	unsetenv("APIKEY_DAEMON_USER");
	fake_listen_as(&f, "verify.sock", OTHER_UID, OTHER_UID, 0755);
	assert_trusted_at_open(&f);
}

Test(client, server_in_directory_others_may_write_is_untrusted,
    .timeout = 10)
{
	/* Who owns the directory, and its mode: in none of them does the
	 * owner prove who bound the socket, or the owner is not the
	 * server. */
	static const struct {
		uid_t	owner;
		mode_t	mode;
	} dirs[] = {
		{ OTHER_UID, 0777 }, { OTHER_UID, 01777 },
		{ OTHER_UID, 0775 }, { OTHER_UID, 0757 },
		{ 0, 01777 }, { 0, 0777 }, { 0, 0755 },
	};
	struct fake	f;
	char		what[64];
	size_t		i;

	unsetenv("APIKEY_DAEMON_USER");
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(what, sizeof(what), "directory of uid %u, mode %04o",
		    (unsigned)dirs[i].owner, (unsigned)dirs[i].mode);
		fake_listen_as(&f, "verify.sock", OTHER_UID, dirs[i].owner,
		    dirs[i].mode);
		assert_untrusted_at_open(&f, what);
	}
}

/*
 * Review follow-up. A user who made the socket's directory in /tmp owns
 * it, and its mode is 0755: the owner rule alone trusted their impostor
 * with root's tokens. The directories above must be beyond others' reach
 * as well, and /tmp is not, for entries that others own.
 */
Test(client, server_owning_a_directory_it_made_in_tmp_is_untrusted,
    .timeout = 10)
{
	struct fake	f;

	unsetenv("APIKEY_DAEMON_USER");
	fake_listen_in(&f, "verify.sock", OTHER_UID, OTHER_UID, 0755, 1);
	assert_untrusted_at_open(&f, "its own directory, right in /tmp");
}

Test(client, daemon_user_names_a_trusted_server, .timeout = 10)
{
	struct fake	f;

	/* "nobody" serves from root's directory: only its name helps. */
	unsetenv("APIKEY_DAEMON_USER");
	fake_listen_as(&f, "verify.sock", NOBODY_UID, 0, 0755);
	assert_untrusted_at_open(&f, "without APIKEY_DAEMON_USER");

	cr_assert_eq(setenv("APIKEY_DAEMON_USER", "nobody", 1), 0);
	fake_listen_as(&f, "verify.sock", NOBODY_UID, 0, 0755);
	assert_trusted_at_open(&f);

	/* The name trusts that user, not anyone who is not root. */
	fake_listen_as(&f, "verify.sock", OTHER_UID, 0, 0755);
	assert_untrusted_at_open(&f, "APIKEY_DAEMON_USER=nobody, uid 10001");
	unsetenv("APIKEY_DAEMON_USER");
}

Test(client, untrusted_replacement_is_refused_on_reconnect, .timeout = 10)
{
	static const enum fake_mode m1[] = { FAKE_HANGUP };
	static const enum fake_mode m2[] = { FAKE_GOOD, FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct fake		 f;
	char			 want[256];

	unsetenv("APIKEY_DAEMON_USER");
	fake_listen_as(&f, "verify.sock", 0, 0, 01777);
	fake_run(&f, 1, m1);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	fake_wait_hangup(&f);	/* the daemon went away ... */
	cr_assert_eq(pthread_join(f.th, NULL), 0);
	close(f.lfd);
	cr_assert_eq(unlink(f.path), 0);
	/* ... and another user bound its socket in the open directory. */
	fake_bind(&f, OTHER_UID, 1);
	fake_run(&f, 2, m2);

	snprintf(want, sizeof(want), "%s is served by uid %u, not root or "
	    "the daemon user", f.path, (unsigned)OTHER_UID);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res),
	    APIKEY_EUNTRUSTED);
	cr_assert_null(res);
	cr_assert_str_eq(apikey_last_error(c), want);
	cr_assert_eq(c->fd, -1);
	/* Every reconnect is checked, not only the first. */
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res),
	    APIKEY_EUNTRUSTED);
	cr_assert_str_eq(apikey_last_error(c), want);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.bytes[0], 0);
	cr_assert_eq(f.bytes[1], 0);
	cr_assert_eq(f.frames, 0);
}

/* Takes the next connection of f's socket and refuses it as apikeyd does
 * over its limits, right away. */
static void
refuse_busy(struct fake *f)
{
	int	fd;

	cr_assert_geq(fd = accept(f->lfd, NULL, NULL), 0);
	send_busy(fd);
	close(fd);
}

Test(client, busy_refusal_waiting_at_first_call, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct apikey_status	*st = NULL;
	struct fake		 f, fa;

	/* Nobody accepts before the open returns: it finds nothing. */
	fake_listen(&f, "verify.sock", 1);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	refuse_busy(&f);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res), APIKEY_EBUSY);
	cr_assert_null(res);
	cr_assert_str_eq(apikey_last_error(c), BUSY_MSG);
	cr_assert_eq(c->fd, -1);
	/* The refusal was that connection's; the next one is served. */
	fake_run(&f, 1, m);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	cr_assert_str_eq(apikey_last_error(c), "");
	apikey_result_free(res);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 1);

	fake_listen(&fa, "admin.sock", 1);
	cr_assert_eq(apikey_open_admin(fa.dir, TIMEOUT_MS, &c), 0);
	refuse_busy(&fa);
	cr_assert_eq(apikey_status(c, &st), APIKEY_EBUSY);
	cr_assert_null(st);
	cr_assert_str_eq(apikey_last_error(c), BUSY_MSG);
	cr_assert_eq(c->fd, -1);
	apikey_close(c);
	fake_stop(&fa, 0);
}

/*
 * Gives c's socket the smallest send buffer, so that a request larger than
 * what that buffer holds in flight (sndbuf_inflight) waits in send for the
 * daemon to read, and is still going when the daemon hangs up.
 */
static void
small_sndbuf(struct apikey_client *c)
{
	int	one = 1;

	cr_assert_eq(setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &one,
	    sizeof(one)), 0);
}

/* How many bytes a Unix stream socket with the smallest send buffer takes
 * before send says EAGAIN, while nobody reads. */
static size_t
sndbuf_inflight(void)
{
	static char	buf[16384];
	int		sv[2], one = 1;
	size_t		total = 0;
	ssize_t		n;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
	cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one,
	    sizeof(one)), 0);
	while ((n = send(sv[0], buf, sizeof(buf), MSG_NOSIGNAL)) > 0)
		total += (size_t)n;
	cr_assert(n == -1 && errno == EAGAIN);
	close(sv[0]);
	close(sv[1]);
	return total;
}

/* A verify request with every field at its limit. */
static struct apikey_verify_req *
big_verify_req(void)
{
	struct apikey_verify_req	*req;
	char				 s[PROTO_RHOST_MAX + 1];
	int				 i;

	cr_assert_not_null(req = apikey_verify_req_new());
	memset(s, 's', sizeof(s) - 1);
	s[PROTO_SERVICE_MAX] = '\0';
	cr_assert_eq(apikey_verify_req_set_service(req, s), 0);
	s[PROTO_SERVICE_MAX] = 's';
	s[PROTO_ACCOUNT_MAX] = '\0';
	cr_assert_eq(apikey_verify_req_set_user(req, s), 0);
	s[PROTO_ACCOUNT_MAX] = 's';
	s[PROTO_RHOST_MAX] = '\0';
	cr_assert_eq(apikey_verify_req_set_rhost(req, s), 0);
	s[PROTO_TENANT_MAX] = '\0';
	cr_assert_eq(apikey_verify_req_set_tenant(req, s), 0);
	memset(s, 'p', PROTO_PERM_MAX);
	s[PROTO_PERM_MAX] = '\0';
	s[64] = ':';
	for (i = 0; i < PROTO_MAX_PERMS; i++)
		cr_assert_eq(apikey_verify_req_add_permission(req, s), 0);
	return req;
}

Test(client, busy_refusal_after_send_hits_epipe, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_BUSY_LATE };
	struct apikey_client		*c = NULL;
	struct apikey_verify_req	*req;
	struct apikey_result		*res = NULL;
	struct apikey_key_spec		*sp;
	struct apikey_key		*k = NULL;
	char				*tok = NULL;
	char				 meta[PROTO_METADATA_MAX + 1];
	struct fake			 f, fa;
	size_t				 inflight = sndbuf_inflight();
	int				 i;

	req = big_verify_req();
	fake_start(&f, "verify.sock", 1, m);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	small_sndbuf(c);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, req, &res), APIKEY_EBUSY);
	cr_assert_null(res);
	cr_assert_str_eq(apikey_last_error(c), BUSY_MSG);
	cr_assert_eq(c->fd, -1);
	/* The request did not fit: the daemon hung up in the middle. */
	cr_assert_gt(c->w.len, inflight, "request of %zu bytes, %zu fit",
	    c->w.len, inflight);
	cr_assert_null(memmem(c->tx, c->txcap, KNOWN_TOKEN + 15, 20));
	apikey_close(c);
	fake_stop(&f, 1);
	apikey_verify_req_free(req);

	/* A key create with metadata and permissions at their limits. */
	cr_assert_not_null(sp = apikey_key_spec_new());
	memset(meta, ' ', sizeof(meta) - 1);
	meta[0] = '{';
	meta[sizeof(meta) - 2] = '}';
	meta[sizeof(meta) - 1] = '\0';
	cr_assert_eq(apikey_key_spec_set_metadata(sp, meta), 0);
	memset(meta, 'p', PROTO_PERM_MAX);
	meta[64] = ':';
	meta[PROTO_PERM_MAX] = '\0';
	for (i = 0; i < PROTO_MAX_PERMS; i++)
		cr_assert_eq(apikey_key_spec_add_permission(sp, meta), 0);
	fake_start(&fa, "admin.sock", 1, m);
	cr_assert_eq(apikey_open_admin(fa.dir, TIMEOUT_MS, &c), 0);
	small_sndbuf(c);
	cr_assert_eq(apikey_key_create(c, APIKEY_OWNER_SELF, NULL, sp, &k,
	    &tok), APIKEY_EBUSY);
	cr_assert_null(k);
	cr_assert_null(tok);
	cr_assert_str_eq(apikey_last_error(c), BUSY_MSG);
	cr_assert_eq(c->fd, -1);
	cr_assert_gt(c->w.len, inflight, "request of %zu bytes, %zu fit",
	    c->w.len, inflight);
	apikey_close(c);
	fake_stop(&fa, 1);
	apikey_key_spec_free(sp);
}

/*
 * The daemon's refusal races the open, as it does in real life. Either
 * way the open succeeds and the first call reports the refusal with the
 * daemon's reason: a failed open would have no client to keep it in.
 */
Test(client, busy_refusal_comes_with_its_reason_at_first_call,
    .timeout = 10)
{
	expect_verify_fails(FAKE_BUSY, APIKEY_EBUSY, BUSY_MSG);
}

/*
 * A frame nobody asked for, waiting on an idle connection: a correct
 * apikeyd sends none but its id-0 refusals and goodbyes. The call that
 * meets it fails with EPROTO and drops the connection; the next call is
 * served on a new one. (The client no longer polls an idle connection
 * before each request: a system call per request, for a daemon's bug.)
 */
Test(client, unasked_frame_on_idle_connection_fails_one_call, .timeout = 10)
{
	static const enum fake_mode m[] = { FAKE_GOOD };
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct fake		 f;
	uint8_t			 buf[256];
	struct writer		 w;
	int			 fd;

	fake_listen(&f, "verify.sock", 1);
	cr_assert_eq(apikey_open(f.dir, TIMEOUT_MS, &c), 0);
	/* A late error reply to some request: not a refusal (id 0), and
	 * not the answer to the next request either. */
	cr_assert_geq(fd = accept(f.lfd, NULL, NULL), 0);
	wr_init(&w, buf, sizeof(buf));
	proto_frame_begin(&w, PROTO_OP_VERIFY | PROTO_REPLY, 0, 77);
	proto_enc_reply_head(&w, PROTO_EBUSY, "late");
	send_frame(fd, &w);
	fake_run(&f, 1, m);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res), APIKEY_EPROTO);
	cr_assert_null(res);
	cr_assert_eq(c->fd, -1, "the confused connection is dropped");
	close(fd);
	cr_assert_eq(apikey_verify(c, KNOWN_TOKEN, NULL, &res), 0);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	cr_assert_str_eq(apikey_last_error(c), "");
	apikey_result_free(res);
	apikey_close(c);
	fake_stop(&f, 1);
	cr_assert_eq(f.frames, 1);
}

Test(client, strerror_and_code_names)
{
	cr_assert_str_eq(apikey_strerror(APIKEY_EUNAVAIL),
	    "apikeyd is not reachable (not running, refusing connections, "
	    "or too slow)");
	cr_assert_str_eq(apikey_strerror(APIKEY_EBUSY),
	    "apikeyd is busy (connection limit reached)");
	cr_assert_str_eq(apikey_strerror(APIKEY_EUNTRUSTED),
	    "apikeyd's socket is served by an untrusted process");
	cr_assert_eq(APIKEY_EUNTRUSTED, -14);
	cr_assert_str_eq(apikey_strerror(APIKEY_EFLEET),
	    "the fleet database is unreachable: nothing was changed");
	cr_assert_str_eq(apikey_strerror(APIKEY_ECONFLICT),
	    "changed meanwhile through another host: nothing was changed; "
	    "try again");
	cr_assert_eq(APIKEY_EFLEET, -16);
	cr_assert_eq(APIKEY_ECONFLICT, -17);
	cr_assert_str_eq(apikey_strerror(-999), "unknown error");
	cr_assert_str_eq(apikey_code_name(APIKEY_VALID), "VALID");
	cr_assert_str_eq(apikey_code_name(APIKEY_NOT_FOUND), "NOT_FOUND");
	cr_assert_str_eq(apikey_code_name(APIKEY_RATE_LIMITED),
	    "RATE_LIMITED");
	cr_assert_str_eq(apikey_code_name(APIKEY_USAGE_EXCEEDED),
	    "USAGE_EXCEEDED");
	cr_assert_str_eq(apikey_code_name(APIKEY_STALE), "STALE");
	cr_assert_eq(APIKEY_STALE, 10);
	cr_assert_eq(APIKEY_CODE_MAX, APIKEY_STALE);
	cr_assert_str_eq(apikey_code_name((enum apikey_code)11), "UNKNOWN");
}
