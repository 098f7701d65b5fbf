/*
 * hostile.c - a misbehaving local client for the connection tests
 * (tests/it_connections.c), run as a fixture user through setpriv; never a
 * test itself.
 *
 *     hostile SOCKET MODE N
 *
 * Opens N connections to SOCKET, one after another, each finished with
 * before the next is made (so which of them a daemon at its limits refuses
 * does not depend on timing), and on each does what MODE says:
 *
 *   idle    a PING, whose answer proves the daemon admitted the
 *           connection, then nothing
 *   hold    as idle, then the first 3 bytes of another frame, then nothing
 *   list    as idle, then a KEY_LIST request for the caller's own keys,
 *           and once that streams a PING behind it; it reads neither
 *   badver  a PING frame of a protocol version the daemon does not speak,
 *           then it closes
 *   badlen  a frame header with a length over any maximum, then it closes
 *
 * For each connection it prints, C being the connection's number from 0:
 *
 *   C open                  admitted (the PING was answered)
 *   C ebusy MESSAGE         the daemon's refusal (a reply frame with opcode
 *                           0x80, flags 0, id 0 and status EBUSY), after
 *                           which the daemon closed the connection ("C
 *                           ebusy-but-open MESSAGE" if it did not)
 *   C frame op=0xOP id=ID flags=F status=S MESSAGE
 *                           any other frame; in the bad modes followed by
 *                           "C eof" or "C open": whether the daemon closed
 *   C eof | C timeout | C error TEXT
 *
 * In list mode it then waits until the daemon has begun answering every
 * open connection ("C streaming", or "C silent" at the deadline). Then it
 * prints "ready" and reads commands, one a line, from standard input:
 *
 *   ping     a PING on each open idle connection: "C pong", or what the
 *            first PING would have printed instead ("C eof": closed)
 *   drip MS  pipelines PINGs on each open connection for MS milliseconds,
 *            each write ending halfway into the next frame: "C alive", or
 *            "C eof" when the daemon closed it
 *   wait MS  waits up to MS milliseconds for the daemon to close each open
 *            connection: "C closed MS" with the time since hostile last
 *            began sending on it (the daemon's read and idle timers start
 *            no sooner, so MS is never below the timeout that closed it),
 *            or "C open" when MS are over
 *   pipe N [TOKEN]
 *            writes N requests at once on each open connection, PINGs and,
 *            with TOKEN, every other one a VERIFY of it, then reads N
 *            replies and matches each to its request by id: "C piped N
 *            answered A reordered R", A being the requests that got
 *            exactly one OK reply of their opcode (a VERIFY: VALID), R
 *            the replies that came before that of an earlier request
 *   flood    pipelines PINGs on each open connection, reading nothing,
 *            until the daemon has taken nothing for STALL_MS: "C stalled
 *            BYTES", the bytes it took; "C flooded BYTES" if it was still
 *            taking them after FLOOD_CAP bytes or DEADLINE_MS
 *   drain    reads the replies to a flood, sending the rest of a PING
 *            the flood left half-written: "C drained A of N", A the
 *            replies that came in order, N the PINGs sent
 *
 * each answered, after the connection lines, with "done". At end of input
 * it exits, closing everything; it also dies with the process that started
 * it. Every wait for the daemon is bounded by DEADLINE_MS. Output is
 * flushed line by line, for a test waiting on it. Exit status: 0; 2 on a
 * usage error; 1 when a socket could not be made or connected.
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../proto/proto.h"

#define MAX_CONNS	1024
#define DEADLINE_MS	10000
#define PARTIAL_BYTES	3
#define PIPE_MAX	256		/* requests in one pipe write */
#define PIPE_ID		0x10000000u	/* ids of pipe's requests */
#define FLOOD_ID	0x20000000u	/* ids of flood's PINGs */
#define FLOOD_BATCH	4096		/* PINGs per flood write */
#define FLOOD_CAP	(64u * 1024 * 1024)
#define STALL_MS	200

enum mode { M_IDLE, M_HOLD, M_LIST, M_BADVER, M_BADLEN };

struct conn {
	int		 fd;		/* -1 once closed */
	int64_t		 last_ms;	/* when it last began sending */
	uint64_t	 flooded;	/* bytes of PINGs flood sent */
};

static struct conn conns[MAX_CONNS];
static size_t nconns;
static enum mode mode;
static uint8_t frame[PROTO_ADMIN_MAX];

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int
conn_open(const char *path)
{
	struct sockaddr_un sun;
	struct timeval	 tv = { DEADLINE_MS / 1000, 0 };
	int		 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/* A blocking connect waits while the backlog is full: bound it. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const void *p, size_t len)
{
	const uint8_t	*b = p;
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, b, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Waits for fd to be readable by deadline: 1 readable, 0 timed out. */
static int
wait_readable(int fd, int64_t deadline)
{
	struct pollfd	 pfd;
	int64_t		 left;
	int		 n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)left);
		if (n == -1 && errno == EINTR)
			continue;
		return n == 1;
	}
}

/* Reads exactly len bytes: 0, 1 at end of file (or reset), -1 timed out
 * or failed. */
static int
read_exact(int fd, uint8_t *p, size_t len, int64_t deadline)
{
	ssize_t	 n;

	while (len > 0) {
		if (!wait_readable(fd, deadline))
			return -1;
		n = recv(fd, p, len, 0);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return 1;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Reads one reply frame into frame[] and decodes its head; body is left
 * on the fields after it. Returns 0, 1 at end of file, -1 on a timeout or
 * an undecodable frame.
 */
static int
read_reply_body(int fd, struct proto_hdr *h, uint32_t *status,
    char msg[PROTO_MESSAGE_MAX + 1], struct reader *body)
{
	int64_t		 deadline = now_ms() + DEADLINE_MS;
	uint32_t	 n;
	size_t		 flen;
	int		 rc;

	if ((rc = read_exact(fd, frame, 4, deadline)) != 0)
		return rc;
	/* A length over the buffer or under the header: not a reply. */
	if (proto_frame_peek(frame, 4, sizeof(frame), &flen) < 0)
		return -1;
	rd_init(body, frame, 4);
	if (rd_raw_u32(body, &n) != 0 ||
	    (rc = read_exact(fd, frame + 4, n, deadline)) != 0)
		return rc != 0 ? rc : -1;
	if (proto_frame_peek(frame, sizeof(frame), sizeof(frame),
	    &flen) != 0 || proto_frame_open(frame, flen, h, body) != 0 ||
	    proto_dec_reply_head(body, status, msg) != 0)
		return -1;
	return 0;
}

static int
read_reply(int fd, struct proto_hdr *h, uint32_t *status,
    char msg[PROTO_MESSAGE_MAX + 1])
{
	struct reader	 body;

	return read_reply_body(fd, h, status, msg, &body);
}

/* Waits for the daemon to close fd, discarding what it sends: 1 closed,
 * 0 not by deadline. */
static int
wait_eof(int fd, int64_t deadline)
{
	uint8_t	 buf[4096];
	ssize_t	 n;

	for (;;) {
		if (!wait_readable(fd, deadline))
			return 0;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return 1;
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			return 1;
	}
}

static size_t
make_frame(uint8_t opcode, uint32_t id, const struct proto_owner_sel *sel)
{
	struct writer	 w;

	wr_init(&w, frame, sizeof(frame));
	proto_frame_begin(&w, opcode, 0, id);
	if (sel != NULL)
		proto_enc_owner_sel(&w, sel);
	return proto_frame_end(&w) == 0 ? w.len : 0;
}

/* A VERIFY of token, every other field empty, into frame[]. */
static size_t
make_verify(uint32_t id, const char *token)
{
	struct proto_verify_req q;
	struct writer	 w;

	memset(&q, 0, sizeof(q));
	if (strlen(token) > TOKEN_MAX)
		return 0;
	strcpy(q.token, token);
	wr_init(&w, frame, sizeof(frame));
	proto_frame_begin(&w, PROTO_OP_VERIFY, 0, id);
	proto_enc_verify_req(&w, &q);
	return proto_frame_end(&w) == 0 ? w.len : 0;
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
}

/* Reports a frame that is neither the answer expected nor a refusal. */
static void
report_frame(size_t i, const struct proto_hdr *h, uint32_t status,
    const char *msg)
{
	say("%zu frame op=0x%02x id=%u flags=%u status=%u %s", i,
	    (unsigned)h->opcode, (unsigned)h->id, (unsigned)h->flags,
	    (unsigned)status, msg);
}

/*
 * Sends a PING and reads the answer. Returns 1 when it came (the
 * connection is open), else 0 with the outcome reported and the
 * connection closed.
 */
static int
ping(size_t i, uint32_t id, const char *pong)
{
	struct conn	*c = &conns[i];
	struct proto_hdr h;
	uint32_t	 status;
	char		 msg[PROTO_MESSAGE_MAX + 1];
	size_t		 len = make_frame(PROTO_OP_PING, id, NULL);
	int		 rc;

	/* A refused connection may be closed before the PING is through;
	 * the refusal is still there to read. */
	c->last_ms = now_ms();
	(void)send_all(c->fd, frame, len);
	rc = read_reply(c->fd, &h, &status, msg);
	if (rc == 0 && h.opcode == (PROTO_OP_PING | PROTO_REPLY) &&
	    h.id == id && h.flags == 0 && status == PROTO_OK) {
		say("%zu %s", i, pong);
		return 1;
	}
	if (rc == 0 && h.opcode == PROTO_REPLY && h.id == 0 &&
	    h.flags == 0 && status == PROTO_EBUSY) {
		if (wait_eof(c->fd, now_ms() + DEADLINE_MS))
			say("%zu ebusy %s", i, msg);
		else
			say("%zu ebusy-but-open %s", i, msg);
	} else if (rc == 0)
		report_frame(i, &h, status, msg);
	else
		say("%zu %s", i, rc == 1 ? "eof" : "timeout");
	conn_close(c);
	return 0;
}

/* A bad frame: prints the answer, and whether the daemon then closed. */
static void
bad_frame(size_t i, uint32_t id)
{
	struct conn	*c = &conns[i];
	struct proto_hdr h;
	uint32_t	 status;
	char		 msg[PROTO_MESSAGE_MAX + 1];
	size_t		 len = make_frame(PROTO_OP_PING, id, NULL);
	int		 rc;

	if (mode == M_BADVER)
		frame[4] = PROTO_VERSION + 1;
	else {
		frame[0] = 0x7f;	/* length far over any maximum */
		len = PROTO_HDR_LEN;
	}
	(void)send_all(c->fd, frame, len);
	rc = read_reply(c->fd, &h, &status, msg);
	if (rc == 0)
		report_frame(i, &h, status, msg);
	else
		say("%zu %s", i, rc == 1 ? "eof" : "timeout");
	if (rc == 0)
		say("%zu %s", i, wait_eof(c->fd, now_ms() + DEADLINE_MS) ?
		    "eof" : "open");
	conn_close(c);
}

/* The listing: ask for it, then wait until every listing has begun. */
static void
start_listings(void)
{
	struct proto_owner_sel sel;
	int64_t		 deadline;
	size_t		 i, len;
	int		 n;

	memset(&sel, 0, sizeof(sel));
	sel.kind = PROTO_OWNER_NONE;
	for (i = 0; i < nconns; i++) {
		if (conns[i].fd == -1)
			continue;
		len = make_frame(PROTO_OP_KEY_LIST, (uint32_t)(MAX_CONNS + i),
		    &sel);
		if (len == 0 || send_all(conns[i].fd, frame, len) != 0)
			say("%zu error send KEY_LIST", i);
	}
	deadline = now_ms() + DEADLINE_MS;
	for (i = 0; i < nconns; i++) {
		if (conns[i].fd == -1)
			continue;
		n = 0;
		if (wait_readable(conns[i].fd, deadline))
			(void)ioctl(conns[i].fd, FIONREAD, &n);
		say("%zu %s", i, n > 0 ? "streaming" : "silent");
		/* A request behind the listing, sent once it streams, so it
		 * waits in the socket: the daemon reads nothing more until
		 * the listing ends. */
		len = make_frame(PROTO_OP_PING, (uint32_t)(3 * MAX_CONNS + i),
		    NULL);
		if (len == 0 || send_all(conns[i].fd, frame, len) != 0)
			say("%zu error send PING", i);
	}
}

static void
cmd_ping(void)
{
	size_t	 i;

	for (i = 0; i < nconns; i++)
		if (conns[i].fd != -1)
			(void)ping(i, (uint32_t)(2 * MAX_CONNS + i), "pong");
}

static void
cmd_wait(long ms)
{
	struct pollfd	 pfd[MAX_CONNS];
	size_t		 idx[MAX_CONNS], i, n;
	int64_t		 deadline = now_ms() + ms, left;
	uint8_t		 buf[4096];
	ssize_t		 r;

	for (;;) {
		for (i = n = 0; i < nconns; i++) {
			if (conns[i].fd == -1)
				continue;
			pfd[n].fd = conns[i].fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			idx[n++] = i;
		}
		left = deadline - now_ms();
		if (n == 0 || left <= 0)
			break;
		if (poll(pfd, (nfds_t)n, (int)left) == -1 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			r = recv(pfd[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r > 0 || (r == -1 && (errno == EINTR ||
			    errno == EAGAIN)))
				continue;
			say("%zu closed %lld", idx[i],
			    (long long)(now_ms() - conns[idx[i]].last_ms));
			conn_close(&conns[idx[i]]);
		}
	}
	for (i = 0; i < nconns; i++)
		if (conns[i].fd != -1)
			say("%zu open", i);
}

/*
 * A pipelining client whose every write ends inside a frame: for ms, every
 * 50 ms, the rest of the last PING and the first half of the next, reading
 * each answer. A daemon that counted read_timeout from the first partial
 * frame it ever saw would close it although it answers all the time.
 */
static void
cmd_drip(long ms)
{
	struct proto_hdr h;
	uint32_t	 status, id;
	char		 msg[PROTO_MESSAGE_MAX + 1];
	uint8_t		 out[2 * 64];
	int64_t		 end = now_ms() + ms;
	size_t		 i, len, cut;
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };

	for (i = 0; i < nconns; i++) {
		if (conns[i].fd == -1)
			continue;
		id = (uint32_t)(4 * MAX_CONNS);
		len = make_frame(PROTO_OP_PING, id, NULL);
		cut = len / 2;
		if (len == 0 || 2 * len > sizeof(out) ||
		    send_all(conns[i].fd, frame, cut) != 0)
			goto gone;
		while (now_ms() < end) {
			/* Pacing only: what is measured is the daemon's. */
			nanosleep(&ts, NULL);
			/* The rest of frame id, the first half of id + 1. */
			make_frame(PROTO_OP_PING, id, NULL);
			memcpy(out, frame + cut, len - cut);
			make_frame(PROTO_OP_PING, id + 1, NULL);
			memcpy(out + (len - cut), frame, cut);
			if (send_all(conns[i].fd, out, len) != 0 ||
			    read_reply(conns[i].fd, &h, &status, msg) != 0 ||
			    h.id != id || status != PROTO_OK)
				goto gone;
			id++;
		}
		say("%zu alive", i);
		continue;
gone:
		say("%zu eof", i);
		conn_close(&conns[i]);
	}
}

/* Request i of a pipe: a VERIFY when i is odd and there is a token. */
static int
pipe_is_verify(size_t i, const char *token)
{
	return token != NULL && i % 2 == 1;
}

/* Writes n requests on c at once; 0, or -1 when they did not all fit. */
static int
pipe_send(struct conn *c, size_t n, const char *token)
{
	static uint8_t	 out[PIPE_MAX * 256];
	size_t		 i, len, off = 0;

	for (i = 0; i < n; i++) {
		len = pipe_is_verify(i, token) ?
		    make_verify(PIPE_ID + (uint32_t)i, token) :
		    make_frame(PROTO_OP_PING, PIPE_ID + (uint32_t)i, NULL);
		if (len == 0 || len > sizeof(out) - off)
			return -1;
		memcpy(out + off, frame, len);
		off += len;
	}
	c->last_ms = now_ms();
	return send_all(c->fd, out, off);
}

/*
 * Whether a reply is the one request i expects: its opcode, OK, and for
 * a VERIFY the code VALID.
 */
static int
pipe_reply_ok(size_t i, const char *token, const struct proto_hdr *h,
    uint32_t status, struct reader *body)
{
	struct proto_verify_reply rep;
	uint8_t		 op;

	op = pipe_is_verify(i, token) ? PROTO_OP_VERIFY : PROTO_OP_PING;
	if (h->opcode != (op | PROTO_REPLY) || h->flags != 0 ||
	    status != PROTO_OK)
		return 0;
	if (op == PROTO_OP_PING)
		return 1;
	return proto_dec_verify_reply(body, &rep) == 0 &&
	    rep.code == PROTO_VALID;
}

static void
cmd_pipe(long n, const char *token)
{
	struct proto_hdr h;
	struct reader	 body;
	uint32_t	 status;
	char		 msg[PROTO_MESSAGE_MAX + 1];
	uint8_t		 seen[PIPE_MAX];
	size_t		 i, k, first, answered, reordered;
	int		 rc;

	for (i = 0; i < nconns; i++) {
		if (conns[i].fd == -1)
			continue;
		if (n < 1 || n > PIPE_MAX ||
		    pipe_send(&conns[i], (size_t)n, token) != 0) {
			say("%zu error pipe send", i);
			continue;
		}
		memset(seen, 0, sizeof(seen));
		answered = reordered = first = 0;
		for (k = 0; k < (size_t)n; k++) {
			rc = read_reply_body(conns[i].fd, &h, &status, msg,
			    &body);
			if (rc != 0)
				break;
			if (h.id - PIPE_ID >= (uint32_t)n || seen[h.id -
			    PIPE_ID]++ != 0) {
				report_frame(i, &h, status, msg);
				continue;
			}
			/* It overtook the first request still unanswered. */
			if (h.id - PIPE_ID != first)
				reordered++;
			answered += pipe_reply_ok(h.id - PIPE_ID, token, &h,
			    status, &body);
			while (first < (size_t)n && seen[first])
				first++;
		}
		say("%zu piped %ld answered %zu reordered %zu", i, n, answered,
		    reordered);
	}
}

/*
 * The flood's bytes from off on: PINGs with ids FLOOD_ID + 0, 1, ... A
 * PING is a bare header, so frame k is at k * PROTO_HDR_LEN.
 */
static void
flood_bytes(uint64_t off, uint8_t *out, size_t len)
{
	uint64_t	 k;
	size_t		 at, n;

	while (len > 0) {
		k = off / PROTO_HDR_LEN;
		at = (size_t)(off % PROTO_HDR_LEN);
		(void)make_frame(PROTO_OP_PING, FLOOD_ID + (uint32_t)k, NULL);
		n = PROTO_HDR_LEN - at < len ? PROTO_HDR_LEN - at : len;
		memcpy(out, frame + at, n);
		out += n;
		off += n;
		len -= n;
	}
}

/* Sends the flood's bytes until the daemon takes none for STALL_MS:
 * 1 stalled, 0 not by FLOOD_CAP or the deadline, -1 closed. */
static int
flood_one(struct conn *c)
{
	static uint8_t	 out[FLOOD_BATCH * PROTO_HDR_LEN];
	struct pollfd	 pfd;
	int64_t		 deadline = now_ms() + DEADLINE_MS;
	ssize_t		 w;

	c->last_ms = now_ms();
	while (c->flooded < FLOOD_CAP && now_ms() < deadline) {
		/* Aligned to frames, so out holds whole PINGs but the
		 * first, which a short write may have cut. */
		flood_bytes(c->flooded, out, sizeof(out) - c->flooded %
		    PROTO_HDR_LEN);
		w = send(c->fd, out, sizeof(out) - c->flooded % PROTO_HDR_LEN,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			c->flooded += (uint64_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno != EAGAIN)
			return -1;
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, STALL_MS) == 0)
			return 1;
	}
	return 0;
}

static void
cmd_flood(void)
{
	size_t	 i;
	int	 rc;

	for (i = 0; i < nconns; i++) {
		if (conns[i].fd == -1)
			continue;
		conns[i].flooded = 0;
		rc = flood_one(&conns[i]);
		if (rc < 0) {
			say("%zu eof", i);
			conn_close(&conns[i]);
		} else
			say("%zu %s %llu", i, rc ? "stalled" : "flooded",
			    (unsigned long long)conns[i].flooded);
	}
}

/*
 * Reads the flood's replies, which a daemon that paused the connection
 * sends in order once it reads again; meanwhile writes the rest of a PING
 * the flood cut short. Returns the replies that came in order.
 */
static uint64_t
drain_one(struct conn *c, uint64_t total)
{
	struct proto_hdr h;
	struct pollfd	 pfd;
	uint32_t	 status;
	char		 msg[PROTO_MESSAGE_MAX + 1];
	uint8_t		 rest[PROTO_HDR_LEN];
	uint64_t	 next = 0;
	int64_t		 deadline = now_ms() + DEADLINE_MS;
	size_t		 cut;
	ssize_t		 w;

	while (next < total && now_ms() < deadline) {
		cut = (size_t)(c->flooded % PROTO_HDR_LEN);
		pfd.fd = c->fd;
		pfd.events = POLLIN | (cut != 0 ? POLLOUT : 0);
		pfd.revents = 0;
		if (poll(&pfd, 1, STALL_MS) <= 0)
			continue;
		if (cut != 0 && (pfd.revents & POLLOUT)) {
			flood_bytes(c->flooded, rest, PROTO_HDR_LEN - cut);
			w = send(c->fd, rest, PROTO_HDR_LEN - cut,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0)
				c->flooded += (uint64_t)w;
		}
		if (!(pfd.revents & POLLIN))
			continue;
		if (read_reply(c->fd, &h, &status, msg) != 0 ||
		    h.id != FLOOD_ID + next || status != PROTO_OK ||
		    h.opcode != (PROTO_OP_PING | PROTO_REPLY))
			break;
		next++;
	}
	return next;
}

static void
cmd_drain(void)
{
	uint64_t total;
	size_t	 i;

	for (i = 0; i < nconns; i++) {
		if (conns[i].fd == -1 || conns[i].flooded == 0)
			continue;
		total = (conns[i].flooded + PROTO_HDR_LEN - 1) / PROTO_HDR_LEN;
		say("%zu drained %llu of %llu", i,
		    (unsigned long long)drain_one(&conns[i], total),
		    (unsigned long long)total);
	}
}

static int
usage(void)
{
	fprintf(stderr, "usage: hostile SOCKET idle|hold|list|badver|badlen "
	    "N\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static const char *const names[] = { "idle", "hold", "list",
	    "badver", "badlen" };
	char		 line[128 + TOKEN_MAX], *end;
	size_t		 i, len;
	long		 n;

	/* setpriv cleared the parent-death signal with the uid change. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	if (argc != 4)
		return usage();
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(argv[2], names[i]) == 0)
			break;
	n = strtol(argv[3], &end, 10);
	if (i == sizeof(names) / sizeof(names[0]) || *end != '\0' || n < 1 ||
	    n > MAX_CONNS)
		return usage();
	mode = (enum mode)i;
	nconns = (size_t)n;

	for (i = 0; i < nconns; i++) {
		if ((conns[i].fd = conn_open(argv[1])) == -1) {
			say("%zu error connect: %s", i, strerror(errno));
			return 1;
		}
		if (mode == M_BADVER || mode == M_BADLEN) {
			bad_frame(i, (uint32_t)(i + 1));
			continue;
		}
		if (!ping(i, (uint32_t)(i + 1), "open"))
			continue;
		if (mode == M_HOLD) {
			len = make_frame(PROTO_OP_PING, 0, NULL);
			conns[i].last_ms = now_ms();
			if (len < PARTIAL_BYTES || send_all(conns[i].fd, frame,
			    PARTIAL_BYTES) != 0)
				say("%zu error send", i);
		}
	}
	if (mode == M_LIST)
		start_listings();
	say("ready");

	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "ping") == 0)
			cmd_ping();
		else if (strncmp(line, "wait ", 5) == 0 &&
		    (n = strtol(line + 5, &end, 10)) >= 0 && *end == '\0')
			cmd_wait(n);
		else if (strncmp(line, "drip ", 5) == 0 &&
		    (n = strtol(line + 5, &end, 10)) >= 0 && *end == '\0')
			cmd_drip(n);
		else if (strncmp(line, "pipe ", 5) == 0 &&
		    (n = strtol(line + 5, &end, 10)) > 0 &&
		    (*end == '\0' || *end == ' '))
			cmd_pipe(n, *end == ' ' ? end + 1 : NULL);
		else if (strcmp(line, "flood") == 0)
			cmd_flood();
		else if (strcmp(line, "drain") == 0)
			cmd_drain();
		else
			say("error unknown command %s", line);
		say("done");
	}
	for (i = 0; i < nconns; i++)
		if (conns[i].fd != -1)
			conn_close(&conns[i]);
	return 0;
}
