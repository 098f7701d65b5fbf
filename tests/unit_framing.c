/*
 * unit_framing.c - the server's framing (daemon/server.c) and the reply
 * frames it sends (daemon/reply.c).
 *
 * The framing is tested against the real server: each test opens it on
 * a temporary socket directory with handlers of its own, runs server_run
 * on a thread, and talks to verify.sock (whose frames are at most
 * PROTO_VERIFY_REQ_MAX bytes) or admin.sock (PROTO_ADMIN_MAX) with raw
 * bytes: frames whose header arrives in pieces, frames sent a byte at a
 * time, several frames in one write, frames too large or too small, with
 * the wrong version or a reply's opcode. The test handler answers every
 * request with how many it has handled, so a reply names its request.
 * Nothing sleeps: a test waits for each reply or end of file (poll, with
 * a deadline); a frame split in two is sent in two writes with the first
 * request's reply awaited in between, which proves the server had read
 * the first part alone.
 *
 * The reply object's own rules are tested without a server: a frame too
 * small for an error, and that a second reply begun on a thread while one
 * is open stops the daemon instead of overwriting the first.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
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

#include "../daemon/clock.h"
#include "../daemon/config.h"
#include "../daemon/reply.h"
#include "../daemon/server.h"
#include "unitlib.h"

#define DEADLINE_MS	10000
/* The request the test handler answers and then closes the connection. */
#define OP_CLOSE	PROTO_OP_KEY_REVOKE

static char		 tmpdir[64];
static struct config	 cfg;
static struct server	*srv;
static pthread_t	 thr;
/* The verify loops' handler args: the handler needs none. */
static void		*vargs[CONFIG_VERIFY_THREADS_MAX];
static int		 serve_rc = -2;
static _Atomic unsigned	 calls;
static _Atomic uid_t	 peer_uid = (uid_t)-1;
static _Atomic pid_t	 peer_pid;

/* --- the server -------------------------------------------------------- */

/* Answers COUNT with the number of requests handled so far (this one
 * included); after OP_CLOSE asks the server to close. */
static int
handler(void *arg, struct conn *c, const struct peer *p,
    const struct proto_hdr *h, struct reader *body)
{
	struct reply	 rp;
	unsigned	 n = atomic_fetch_add(&calls, 1) + 1;

	(void)arg;
	(void)body;
	atomic_store(&peer_uid, p->uid);
	atomic_store(&peer_pid, p->pid);
	proto_enc_count(reply_begin(&rp, h, 0), n);
	if (reply_send(&rp, c, 0) != 0)
		return -1;
	return h->opcode == OP_CLOSE ? -1 : 0;
}

static void *
serve(void *arg)
{
	(void)arg;
	serve_rc = server_run(srv);
	return NULL;
}

static void
start(uint64_t read_timeout_ms)
{
	uid_t	 reserved[1] = { 0 };	/* none: root is reserved anyway */
	int	 lfds[2] = { -1, -1 };
	char	 err[256];

	/* Not under a service manager, whatever ran the tests. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/unit_framing.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	config_defaults(&cfg);
	snprintf(cfg.socket_dir, sizeof(cfg.socket_dir), "%s", tmpdir);
	cfg.read_timeout_ms = read_timeout_ms;
	cr_assert_eq(config_finish(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(server_open(&cfg, reserved, 0, lfds, handler, vargs,
	    handler, NULL, &srv), 0);
	/* The server's thread takes the stop signal; this one never. */
	server_block_signals();
	cr_assert_eq(pthread_create(&thr, NULL, serve, NULL), 0);
}

static void
setup(void)
{
	start(5000);
}

static void
setup_short_timeout(void)
{
	start(100);
}

static void
teardown(void)
{
	cr_assert_eq(pthread_kill(thr, SIGTERM), 0);
	cr_assert_eq(pthread_join(thr, NULL), 0);
	cr_assert_eq(serve_rc, 0, "server_run returned %d", serve_rc);
	server_close(srv);
	unit_rmtree(tmpdir);
}

TestSuite(framing, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(framing_timeout, .init = setup_short_timeout, .fini = teardown,
    .timeout = 60);

/* --- a raw client -------------------------------------------------------- */

static int
dial(const char *file)
{
	struct sockaddr_un sun;
	int		 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", tmpdir, file);
	cr_assert_geq(fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0,
	    "connect %s: %s", sun.sun_path, strerror(errno));
	return fd;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Writes a frame header at p, as proto.h lays it out: the length of what
 * follows the length field (len), version, opcode, flags and id.
 */
static void
put_hdr(uint8_t *p, uint32_t len, uint8_t version, uint8_t op, uint32_t id)
{
	put_be32(p, len);
	p[4] = version;
	p[5] = op;
	p[6] = p[7] = 0;
	put_be32(p + 8, id);
}

/* A request of body bytes (which the test handler never reads) at p;
 * returns the frame's size. */
static size_t
request(uint8_t *p, uint8_t op, uint32_t id, size_t body)
{
	put_hdr(p, (uint32_t)(PROTO_HDR_LEN - 4 + body), PROTO_VERSION, op,
	    id);
	memset(p + PROTO_HDR_LEN, 0xa5, body);
	return PROTO_HDR_LEN + body;
}

static void
send_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, p, len);
		cr_assert_gt(n, 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Reads exactly len bytes; 0, or 1 at end of file (or a reset) first. */
static int
read_full(int fd, uint8_t *p, size_t len, uint64_t end)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	ssize_t		 n;
	uint64_t	 now;

	while (len > 0) {
		now = clock_now_ms();
		cr_assert_lt(now, end, "nothing from the server within %d ms",
		    DEADLINE_MS);
		if (poll(&pfd, 1, (int)(end - now)) == 0)
			continue;
		n = read(fd, p, len);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		cr_assert_gt(n, 0, "read: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct answer {
	struct proto_hdr h;
	uint32_t	 status;
	char		 msg[PROTO_MESSAGE_MAX + 1];
	uint32_t	 count;		/* the test handler's, on OK */
	struct reader	 body;		/* after the head */
	uint8_t		 frame[PROTO_ADMIN_MAX];
};

/* Reads the next reply into a; 0, or 1 at end of file. */
static int
answer(int fd, struct answer *a)
{
	uint64_t	 end = clock_now_ms() + DEADLINE_MS;
	size_t		 len;
	uint32_t	 n;

	memset(a, 0, sizeof(*a));
	if (read_full(fd, a->frame, 4, end) != 0)
		return 1;
	n = ((uint32_t)a->frame[0] << 24) | ((uint32_t)a->frame[1] << 16) |
	    ((uint32_t)a->frame[2] << 8) | a->frame[3];
	cr_assert_leq(n, sizeof(a->frame) - 4);
	cr_assert_eq(read_full(fd, a->frame + 4, n, end), 0,
	    "end of file inside a reply");
	cr_assert_eq(proto_frame_peek(a->frame, n + 4, sizeof(a->frame),
	    &len), 0);
	cr_assert_eq(proto_frame_open(a->frame, len, &a->h, &a->body), 0);
	cr_assert(a->h.opcode & PROTO_REPLY);
	cr_assert_eq(proto_dec_reply_head(&a->body, &a->status, a->msg), 0);
	if (a->status == PROTO_OK && a->h.opcode != (PROTO_OP_PING |
	    PROTO_REPLY))
		cr_assert_eq(proto_dec_count(&a->body, &a->count), 0);
	return 0;
}

static void
expect_count(int fd, uint8_t op, uint32_t id, uint32_t count)
{
	struct answer	 a;

	cr_assert_eq(answer(fd, &a), 0, "no reply to request %u", id);
	cr_assert_eq(a.status, PROTO_OK, "%u: %s", a.status, a.msg);
	cr_assert_eq(a.h.opcode, op | PROTO_REPLY);
	cr_assert_eq(a.h.id, id);
	cr_assert_eq(a.count, count, "reply %u counts %u, want %u", id,
	    a.count, count);
}

/* The next reply is EBADREQ to (op, id) starting with msg. */
static void
expect_badreq(int fd, uint8_t op, uint32_t id, const char *msg)
{
	struct answer	 a;

	cr_assert_eq(answer(fd, &a), 0, "no EBADREQ");
	cr_assert_eq(a.status, PROTO_EBADREQ, "%u: %s", a.status, a.msg);
	cr_assert_eq(a.h.opcode, op | PROTO_REPLY);
	cr_assert_eq(a.h.id, id);
	cr_assert(strncmp(a.msg, msg, strlen(msg)) == 0, "message '%s', "
	    "want '%s...'", a.msg, msg);
}

static void
expect_eof(int fd)
{
	struct answer	 a;

	cr_assert_eq(answer(fd, &a), 1, "a reply (%u, id %u) instead of the "
	    "end", a.status, a.h.id);
}

static uint8_t	 out[2 * PROTO_ADMIN_MAX];

/* --- frames that arrive as they may -------------------------------------- */

Test(framing, ping_is_answered_by_the_server)
{
	struct answer	 a;
	uint32_t	 version;
	char		 verstr[PROTO_VERSTR_MAX + 1];
	int		 fd = dial("verify.sock");

	send_all(fd, out, request(out, PROTO_OP_PING, 77, 0));
	cr_assert_eq(answer(fd, &a), 0);
	cr_assert_eq(a.status, PROTO_OK);
	cr_assert_eq(a.h.opcode, PROTO_OP_PING | PROTO_REPLY);
	cr_assert_eq(a.h.id, 77);
	cr_assert_eq(proto_dec_ping_reply(&a.body, &version, verstr), 0);
	cr_assert_eq(version, PROTO_VERSION);
	cr_assert_str_eq(verstr, APIKEY_VERSION);
	cr_assert_eq(atomic_load(&calls), 0, "PING reached the handler");
	/* A PING with a body is malformed, and ends the connection. */
	send_all(fd, out, request(out, PROTO_OP_PING, 78, 1));
	expect_badreq(fd, PROTO_OP_PING, 78, "PING takes no fields");
	expect_eof(fd);
	close(fd);
}

Test(framing, pipelined_frames_are_answered_in_order)
{
	size_t	 len = 0;
	int	 fd = dial("verify.sock");

	len += request(out + len, PROTO_OP_VERIFY, 7, 3);
	len += request(out + len, PROTO_OP_VERIFY, 8, 0);
	len += request(out + len, PROTO_OP_STATUS, 9, 100);
	send_all(fd, out, len);
	expect_count(fd, PROTO_OP_VERIFY, 7, 1);
	expect_count(fd, PROTO_OP_VERIFY, 8, 2);
	expect_count(fd, PROTO_OP_STATUS, 9, 3);
	/* The peer is who connected. */
	cr_assert_eq(atomic_load(&peer_uid), geteuid());
	cr_assert_eq(atomic_load(&peer_pid), getpid());
	close(fd);
}

/*
 * A frame whose header, or body, arrives in two parts: the first part
 * comes in one write with a whole frame, whose reply proves the server
 * read that part and kept it, then the rest follows.
 */
Test(framing, split_frames_are_put_together)
{
	static const size_t cuts[] = { 1, 4, 5, PROTO_HDR_LEN - 1,
	    PROTO_HDR_LEN, PROTO_HDR_LEN + 1, PROTO_HDR_LEN + 20 };
	uint8_t		 b[PROTO_HDR_LEN + 40];
	size_t		 i, blen, alen;
	uint32_t	 n = 0;
	int		 fd = dial("verify.sock");

	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		alen = request(out, PROTO_OP_VERIFY, (uint32_t)(100 + i), 2);
		blen = request(b, PROTO_OP_VERIFY, (uint32_t)(200 + i), 40);
		memcpy(out + alen, b, cuts[i]);
		send_all(fd, out, alen + cuts[i]);
		expect_count(fd, PROTO_OP_VERIFY, (uint32_t)(100 + i), ++n);
		send_all(fd, b + cuts[i], blen - cuts[i]);
		expect_count(fd, PROTO_OP_VERIFY, (uint32_t)(200 + i), ++n);
	}
	close(fd);
}

Test(framing, a_frame_sent_a_byte_at_a_time)
{
	size_t	 i, len = request(out, PROTO_OP_VERIFY, 5, 30);
	int	 fd = dial("verify.sock");

	for (i = 0; i < len; i++)
		send_all(fd, out + i, 1);
	expect_count(fd, PROTO_OP_VERIFY, 5, 1);
	close(fd);
}

/* The peer's end of file ends the connection, but what it asked first is
 * answered. */
Test(framing, half_closed_peer_is_answered_first)
{
	size_t	 len = 0;
	int	 fd = dial("verify.sock");

	len += request(out + len, PROTO_OP_VERIFY, 1, 0);
	len += request(out + len, PROTO_OP_VERIFY, 2, 0);
	send_all(fd, out, len);
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	expect_count(fd, PROTO_OP_VERIFY, 1, 1);
	expect_count(fd, PROTO_OP_VERIFY, 2, 2);
	expect_eof(fd);
	close(fd);
}

/* A handler that asks to close has its reply written first; nothing after
 * its request is read. */
Test(framing, handler_close_answers_then_ends)
{
	size_t	 len = 0;
	int	 fd = dial("verify.sock");

	len += request(out + len, OP_CLOSE, 1, 0);
	len += request(out + len, PROTO_OP_VERIFY, 2, 0);
	send_all(fd, out, len);
	expect_count(fd, OP_CLOSE, 1, 1);
	expect_eof(fd);
	cr_assert_eq(atomic_load(&calls), 1);
	close(fd);
}

/* --- frames that cannot be read ------------------------------------------ */

/* Each socket takes frames up to its maximum, whole. */
Test(framing, largest_frames_are_taken)
{
	int	 v = dial("verify.sock"), a = dial("admin.sock");

	send_all(v, out, request(out, PROTO_OP_VERIFY, 1,
	    PROTO_VERIFY_REQ_MAX - PROTO_HDR_LEN));
	expect_count(v, PROTO_OP_VERIFY, 1, 1);
	send_all(a, out, request(out, PROTO_OP_STATUS, 2,
	    PROTO_ADMIN_MAX - PROTO_HDR_LEN));
	expect_count(a, PROTO_OP_STATUS, 2, 2);
	close(v);
	close(a);
}

/*
 * A length over the socket's maximum is refused as soon as the length is
 * there, before any of the body: EBADREQ echoing the frame's opcode and
 * id, then the connection ends, since framing is lost.
 */
Test(framing, oversized_frame_is_refused_before_its_body)
{
	int	 v = dial("verify.sock"), a = dial("admin.sock");

	put_hdr(out, PROTO_VERIFY_REQ_MAX + 1 - 4, PROTO_VERSION,
	    PROTO_OP_VERIFY, 31);
	send_all(v, out, PROTO_HDR_LEN);
	expect_badreq(v, PROTO_OP_VERIFY, 31,
	    "undecodable frame: bad frame length");
	expect_eof(v);
	/* What verify.sock refuses, admin.sock takes. */
	send_all(a, out, request(out, PROTO_OP_STATUS, 32,
	    PROTO_VERIFY_REQ_MAX + 1 - PROTO_HDR_LEN));
	expect_count(a, PROTO_OP_STATUS, 32, 1);
	put_hdr(out, PROTO_ADMIN_MAX + 1 - 4, PROTO_VERSION, PROTO_OP_STATUS,
	    33);
	send_all(a, out, PROTO_HDR_LEN);
	expect_badreq(a, PROTO_OP_STATUS, 33, "undecodable frame: bad frame "
	    "length");
	expect_eof(a);
	cr_assert_eq(atomic_load(&calls), 1);
	close(v);
	close(a);
}

/* A length too small to hold the header. */
Test(framing, undersized_frame_is_refused)
{
	int	 fd = dial("verify.sock");

	put_hdr(out, PROTO_HDR_LEN - 4 - 1, PROTO_VERSION, PROTO_OP_VERIFY,
	    41);
	send_all(fd, out, PROTO_HDR_LEN);
	expect_badreq(fd, PROTO_OP_VERIFY, 41,
	    "undecodable frame: bad frame length");
	expect_eof(fd);
	cr_assert_eq(atomic_load(&calls), 0);
	close(fd);
}

Test(framing, wrong_version_is_refused_with_its_id)
{
	size_t	 second, len;
	int	 fd = dial("verify.sock");

	second = request(out, PROTO_OP_VERIFY, 1, 0);
	len = second + request(out + second, PROTO_OP_VERIFY, 51, 4);
	out[second + 4] = PROTO_VERSION + 1;	/* after the length */
	send_all(fd, out, len);
	expect_count(fd, PROTO_OP_VERIFY, 1, 1);
	expect_badreq(fd, PROTO_OP_VERIFY, 51,
	    "undecodable frame: unsupported protocol version");
	expect_eof(fd);
	close(fd);
}

Test(framing, reply_opcode_is_not_a_request)
{
	size_t	 len = 0;
	int	 fd = dial("verify.sock");

	len += request(out + len, PROTO_OP_VERIFY | PROTO_REPLY, 61, 0);
	len += request(out + len, PROTO_OP_VERIFY, 62, 0);
	send_all(fd, out, len);
	expect_badreq(fd, PROTO_OP_VERIFY, 61,
	    "a reply opcode is not a request");
	expect_eof(fd);
	cr_assert_eq(atomic_load(&calls), 0);
	close(fd);
}

/*
 * A frame begun and not finished within read_timeout (100 ms here) costs
 * the peer its connection, without a reply; one finished in time is
 * answered. The wait is the server's: the test only waits for the end.
 */
Test(framing_timeout, unfinished_frame_times_out)
{
	uint64_t	 t0;
	int		 fd = dial("verify.sock");

	send_all(fd, out, request(out, PROTO_OP_VERIFY, 1, 8));
	expect_count(fd, PROTO_OP_VERIFY, 1, 1);
	request(out, PROTO_OP_VERIFY, 2, 8);
	t0 = clock_now_ms();
	send_all(fd, out, 5);
	expect_eof(fd);
	cr_assert_geq(clock_now_ms() - t0, 100, "closed before read_timeout");
	close(fd);
}

/* --- reply frames, without a server ------------------------------------- */

TestSuite(reply);

Test(reply, end_frames_the_reply_and_frees_the_scratch)
{
	struct proto_hdr req = { PROTO_VERSION, PROTO_OP_KEY_LIST, 0, 9 };
	struct proto_hdr h;
	struct reply	 r1, r2;
	struct reader	 body;
	const uint8_t	*f;
	size_t		 len;
	uint32_t	 status, n;
	char		 msg[PROTO_MESSAGE_MAX + 1];

	proto_enc_count(reply_begin(&r1, &req, 1), 12);
	cr_assert_eq(r1.open, 1);
	cr_assert_not_null(f = reply_end(&r1, &len));
	cr_assert_eq(r1.open, 0);
	cr_assert_eq(proto_frame_open(f, len, &h, &body), 0);
	cr_assert_eq(h.opcode, PROTO_OP_KEY_LIST | PROTO_REPLY);
	cr_assert_eq(h.flags, PROTO_F_MORE);
	cr_assert_eq(h.id, 9);
	cr_assert_eq(proto_dec_reply_head(&body, &status, msg), 0);
	cr_assert_eq(status, PROTO_OK);
	cr_assert_eq(proto_dec_count(&body, &n), 0);
	cr_assert_eq(n, 12);
	/* The scratch is free again. */
	proto_enc_count(reply_begin(&r2, &req, 0), 1);
	cr_assert_not_null(reply_end(&r2, &len));
}

/* Two open replies on one thread would share a frame: fatal, not lost. */
Test(reply, second_open_reply_is_fatal, .exit_code = 1)
{
	struct proto_hdr req = { PROTO_VERSION, PROTO_OP_STATUS, 0, 1 };
	struct reply	 r1, r2;

	proto_enc_count(reply_begin(&r1, &req, 0), 1);
	proto_enc_count(reply_begin(&r2, &req, 0), 2);
	cr_assert_fail("a second reply began while the first was open");
}

Test(reply, finishing_a_reply_twice_is_fatal, .exit_code = 1)
{
	struct proto_hdr req = { PROTO_VERSION, PROTO_OP_STATUS, 0, 1 };
	struct reply	 r;
	size_t		 len;

	proto_enc_count(reply_begin(&r, &req, 0), 1);
	(void)reply_end(&r, &len);
	(void)reply_end(&r, &len);
	cr_assert_fail("a reply was finished twice");
}

/* Error frames fit REPLY_ERROR_MAX, with the message cut to its maximum;
 * a buffer too small gets nothing. */
Test(reply, error_frames_fit_their_maximum)
{
	struct proto_hdr req = { PROTO_VERSION, PROTO_OP_VERIFY, 0, 3 };
	struct proto_hdr h;
	struct reader	 body;
	uint8_t		 buf[REPLY_ERROR_MAX];
	char		 big[2 * PROTO_MESSAGE_MAX], msg[PROTO_MESSAGE_MAX + 1];
	uint32_t	 status;
	size_t		 len;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	len = reply_error_frame(buf, sizeof(buf), &req, PROTO_EBADREQ, "%s",
	    big);
	cr_assert_gt(len, 0);
	cr_assert_eq(proto_frame_open(buf, len, &h, &body), 0);
	cr_assert_eq(h.opcode, PROTO_OP_VERIFY | PROTO_REPLY);
	cr_assert_eq(h.id, 3);
	cr_assert_eq(proto_dec_reply_head(&body, &status, msg), 0);
	cr_assert_eq(status, PROTO_EBADREQ);
	cr_assert_eq(strlen(msg), PROTO_MESSAGE_MAX);
	cr_assert_eq(reply_error_frame(buf, PROTO_HDR_LEN + 4, &req,
	    PROTO_EBADREQ, "short"), 0);
}
