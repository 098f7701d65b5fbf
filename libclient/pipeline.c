/*
 * pipeline.c - many verifies in flight on one verify connection: the
 * apikey_verify_send/recv pair for event loops, and apikey_verify_batch
 * on top of the same machinery.
 *
 * Requests sit in a ring in the order they were made, each holding a copy
 * of its frame (secret memory: it carries the token) until its answer
 * comes. Answers are matched by request id: a verify that consumes credits
 * is answered once its commit is on disk, behind later ones. A slot stays
 * in the ring until its answer is received by the caller, so the ring
 * bounds what is outstanding from the oldest unreceived request on.
 *
 * Writes never wait: sendmsg() gathers up to AKC_IOV frames, so a batch
 * goes out in as few system calls as the socket buffer allows, and what
 * does not fit waits for the next send, recv or poll. Reads take every
 * reply one recv() brings. Waiting happens only in recv and batch, on
 * poll(), for reading and, while frames wait to go out, writing: the
 * daemon stops reading a peer that does not read its replies, so a writer
 * that never read would wait forever.
 *
 * A stopping daemon answers every request it read and then says goodbye
 * (id 0, ESHUTDOWN); an idle connection it closed has nothing on the wire.
 * In both cases the unanswered requests were never read, so they go again,
 * in order, on a new connection, at most AKC_GOAWAY_TRIES times without an
 * answer in between. Any other failure (a hang-up with requests on the
 * wire, a timeout, a reply that does not fit) drops the connection and
 * every request not yet received: the caller learns it once, with id 0.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Frames one sendmsg() gathers. */
#define AKC_IOV		64

struct akc_slot {
	uint32_t	 id;
	uint32_t	 len;		/* of frame */
	uint8_t		*frame;		/* until answered; secret_alloc'd */
	uint32_t	 written;	/* bytes of frame on this connection */
	int		 state;		/* SLOT_* */
	int		 err;		/* the daemon's error for it, or 0 */
	struct apikey_result *res;	/* the answer, until received */
	size_t		 user;		/* the batch's index of the token */
};

struct akc_pipe {
	struct akc_slot	 s[APIKEY_PIPELINE_MAX];
	size_t		 head;		/* ring index of the oldest slot */
	size_t		 n;		/* slots in use from head */
	size_t		 unanswered;	/* of them, waiting for the daemon */
	size_t		 ready;		/* answered, not yet received */
	size_t		 unsent;	/* from head: slots before are written */
	int		 tries;		/* connections since the last answer */
	int64_t		 progress;	/* last answer, first request, connect */
};

/* Returned by the internal steps: the connection is to be made anew and
 * the unanswered requests sent again. */
#define AKC_RESEND	(-1001)

/* A slot's request: waiting for its answer, answered (ready to be
 * received), or received (its slot free once the ring's head passes). */
#define SLOT_WAITING	0
#define SLOT_READY	1
#define SLOT_RECEIVED	2

static struct akc_slot *
slot_at(struct akc_pipe *p, size_t i)
{
	return &p->s[(p->head + i) % APIKEY_PIPELINE_MAX];
}

/* Ids are consecutive in ring order, but for the 0 skipped at the wrap;
 * the guess is checked, and a scan finds the rare miss. */
static struct akc_slot *
slot_by_id(struct akc_pipe *p, uint32_t id)
{
	struct akc_slot	*sl;
	size_t		 i;

	if (p->n == 0)
		return NULL;
	i = (size_t)(uint32_t)(id - slot_at(p, 0)->id);
	if (i < p->n && (sl = slot_at(p, i))->id == id)
		return sl;
	for (i = 0; i < p->n; i++)
		if ((sl = slot_at(p, i))->id == id)
			return sl;
	return NULL;
}

static void
slot_clear(struct akc_slot *sl)
{
	secret_free(sl->frame);
	apikey_result_free(sl->res);
	memset(sl, 0, sizeof(*sl));
}

/* Drops every slot and the connection: after a failure, and at close. */
static void
pipe_reset(struct apikey_client *c)
{
	struct akc_pipe	*p = c->pipe;
	size_t		 i;

	for (i = 0; i < p->n; i++)
		slot_clear(slot_at(p, i));
	p->head = p->n = p->unanswered = p->ready = p->unsent = 0;
	p->tries = 0;
	akc_disconnect(c);
}

static int
pipe_fail(struct apikey_client *c, int rc, const char *why)
{
	/* A refusal (EBUSY, EUNTRUSTED) left the daemon's reason. */
	if (why != NULL)
		akc_set_error(c, why);
	pipe_reset(c);
	return rc;
}

/* Moves head past the slots already received. */
static void
pipe_trim(struct apikey_client *c)
{
	struct akc_pipe	*p = c->pipe;
	struct akc_slot	*sl;

	while (p->n > 0 && (sl = slot_at(p, 0))->state == SLOT_RECEIVED) {
		slot_clear(sl);
		p->head = (p->head + 1) % APIKEY_PIPELINE_MAX;
		p->n--;
		if (p->unsent > 0)
			p->unsent--;
	}
	/* With nothing in flight, anything read is unasked for (the start
	 * of a goodbye): apikey_verify() starts on a clean connection. */
	if (p->n == 0 && c->rxlen > 0)
		akc_disconnect(c);
}

/*
 * Writes what the socket takes of the frames not yet written, without
 * waiting. Returns 0, or AKC_RESEND when the daemon had closed the
 * connection (the reads that follow tell why), or APIKEY_EUNAVAIL.
 */
static int
pipe_write(struct apikey_client *c)
{
	struct akc_pipe	*p = c->pipe;
	struct iovec	 iov[AKC_IOV];
	struct msghdr	 msg;
	struct akc_slot	*sl;
	size_t		 i, k, left;
	ssize_t		 n;

	for (;;) {
		while (p->unsent < p->n &&
		    ((sl = slot_at(p, p->unsent))->frame == NULL ||
		    sl->written == sl->len))
			p->unsent++;
		if (p->unsent == p->n)
			return 0;
		for (i = p->unsent, k = 0; i < p->n && k < AKC_IOV; i++) {
			sl = slot_at(p, i);
			if (sl->frame == NULL || sl->written == sl->len)
				continue;
			iov[k].iov_base = sl->frame + sl->written;
			iov[k].iov_len = sl->len - sl->written;
			k++;
		}
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = k;
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			return AKC_RESEND;
		if (n <= 0)
			return APIKEY_EUNAVAIL;
		left = (size_t)n;
		for (i = p->unsent; i < p->n && left > 0; i++) {
			sl = slot_at(p, i);
			if (sl->frame == NULL || sl->written == sl->len)
				continue;
			k = sl->len - sl->written;
			if (k > left)
				k = left;
			sl->written += (uint32_t)k;
			left -= k;
		}
	}
}

/* The answer to one reply frame of ours. Returns 0 or an APIKEY_E*. */
static int
take_reply(struct apikey_client *c, const uint8_t *frame, size_t len)
{
	struct akc_pipe		*p = c->pipe;
	struct proto_hdr	 hdr;
	struct reader		 body;
	struct akc_slot		*sl;
	uint32_t		 status;
	char			 msg[PROTO_MESSAGE_MAX + 1];
	int			 rc;

	if (proto_frame_open(frame, len, &hdr, &body) != 0 ||
	    hdr.opcode != (PROTO_OP_VERIFY | PROTO_REPLY) ||
	    (hdr.flags & PROTO_F_MORE) ||
	    (sl = slot_by_id(p, hdr.id)) == NULL ||
	    sl->state != SLOT_WAITING || proto_dec_reply_head(&body, &status,
	    msg) != 0)
		return APIKEY_EPROTO;
	if (status == PROTO_OK) {
		/* The decoder writes every field a caller can read. */
		if ((sl->res = malloc(sizeof(*sl->res))) == NULL)
			return APIKEY_ENOMEM;
		if (akc_dec_verify_reply(&body, &sl->res->r) != 0)
			return APIKEY_EPROTO;
	} else {
		rc = akc_status_error(status);
		/* The daemon hangs up after these: no answer of one request. */
		if (rc == AKC_EGOAWAY || status == PROTO_EBADREQ ||
		    status == PROTO_EBUSY)
			return APIKEY_EPROTO;
		sl->err = rc;
		akc_set_error(c, msg);
	}
	secret_free(sl->frame);
	sl->frame = NULL;
	sl->state = SLOT_READY;
	p->unanswered--;
	p->ready++;
	p->tries = 0;
	p->progress = akc_now_ms();
	return 0;
}

/*
 * Reads what is there and takes every whole frame, without waiting.
 * Returns 0, AKC_RESEND after a goodbye or a close with nothing of ours on
 * the wire, or an APIKEY_E* code.
 */
/* The connection is closed without a goodbye: the requests go again
 * only if none of them was on the wire (an idle connection the daemon
 * closed); one that was may have been acted on. */
static int
closed_verdict(struct apikey_client *c)
{
	struct akc_pipe	*p = c->pipe;
	struct akc_slot	*sl;
	size_t		 i;

	for (i = 0; i < p->n; i++)
		if ((sl = slot_at(p, i))->state == SLOT_WAITING &&
		    sl->written > 0)
			return APIKEY_EUNAVAIL;
	return AKC_RESEND;
}

static int
pipe_read(struct apikey_client *c)
{
	size_t		 flen;
	ssize_t		 n;
	int		 rc, eof = 0;

	while (c->rxlen < c->rxcap) {
		n = recv(c->fd, c->rx + c->rxlen, c->rxcap - c->rxlen,
		    MSG_DONTWAIT);
		if (n > 0) {
			c->rxlen += (size_t)n;
			/* Less than asked for is all there was: save the
			 * recv that would say EAGAIN. */
			if (c->rxlen < c->rxcap)
				break;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		eof = 1;	/* hung up, or reset */
		break;
	}
	while ((rc = proto_frame_peek(c->rx, c->rxlen, c->rxcap,
	    &flen)) == 0) {
		if ((rc = akc_refusal(c, c->rx, flen)) == 0)
			rc = take_reply(c, c->rx, flen);
		memmove(c->rx, c->rx + flen, c->rxlen - flen);
		secret_wipe(c->rx + (c->rxlen - flen), flen);
		c->rxlen -= flen;
		if (rc == AKC_EGOAWAY) {
			c->last_error[0] = '\0';
			return AKC_RESEND;
		}
		if (rc != 0)
			return rc;
	}
	if (rc < 0)
		return APIKEY_EPROTO;
	return eof ? closed_verdict(c) : 0;
}

/* A new connection for the unanswered requests, all to be sent again. */
static int
pipe_reconnect(struct apikey_client *c)
{
	struct akc_pipe	*p = c->pipe;
	size_t		 i;
	int		 rc;

	akc_disconnect(c);
	if (p->unanswered == 0)
		return 0;	/* the next send connects */
	if (++p->tries >= AKC_GOAWAY_TRIES)
		return pipe_fail(c, APIKEY_EUNAVAIL, "apikeyd is stopping");
	for (i = 0; i < p->n; i++)
		slot_at(p, i)->written = 0;
	p->unsent = 0;
	if ((rc = akc_connect(c, akc_now_ms() + c->timeout_ms)) != 0)
		return pipe_fail(c, rc, NULL);
	p->progress = akc_now_ms();
	return 0;
}

/*
 * One turn without waiting: write, then read. Returns 0 or an APIKEY_E*
 * code, the pipeline reset.
 */
static int
pipe_turn(struct apikey_client *c)
{
	int	rc, wrc;

	if (c->fd == -1)
		return c->pipe->unanswered == 0 ? 0 : pipe_reconnect(c);
	wrc = rc = pipe_write(c);
	/* After a failed write, the reads say why (a goodbye, a refusal). */
	if (rc == 0 || rc == AKC_RESEND)
		rc = pipe_read(c);
	if (rc == 0 && wrc == AKC_RESEND)
		rc = closed_verdict(c);
	if (rc == AKC_RESEND)
		return pipe_reconnect(c);
	if (rc != 0)
		return pipe_fail(c, rc, rc == APIKEY_EPROTO ? "apikeyd sent a "
		    "reply that answers no request in flight" : NULL);
	return 0;
}

/*
 * Turns until an answer is ready or wait_ms passes (-1: the client's
 * timeout). Returns 0 (check p->ready), or APIKEY_EUNAVAIL when nothing
 * was answered for the client's timeout, the pipeline reset.
 */
static int
pipe_wait(struct apikey_client *c, int wait_ms)
{
	struct akc_pipe	*p = c->pipe;
	int64_t		 until, stall;
	short		 ev;
	int		 rc;

	until = akc_now_ms() + (wait_ms < 0 ? c->timeout_ms : wait_ms);
	for (;;) {
		if ((rc = pipe_turn(c)) != 0 || p->ready > 0 ||
		    p->unanswered == 0)
			return rc;
		stall = p->progress + c->timeout_ms;
		if (akc_left_ms(stall) == 0) {
			(void)snprintf(c->last_error, sizeof(c->last_error),
			    "no answer from apikeyd within %d ms",
			    c->timeout_ms);
			pipe_reset(c);
			return APIKEY_EUNAVAIL;
		}
		if (akc_left_ms(until) == 0)
			return 0;
		ev = POLLIN;
		if (p->unsent < p->n)
			ev |= POLLOUT;
		/* EUNAVAIL here is only the wait running out: turn again. */
		(void)akc_wait_fd(c->fd, ev, until < stall ? until : stall);
	}
}

/* Queues a verify of token, not yet written. user: the batch's index. */
static int
pipe_add(struct apikey_client *c, const char *token,
    const struct apikey_verify_req *req, size_t user, uint32_t *id)
{
	struct akc_pipe		*p = c->pipe;
	struct akc_slot		*sl;
	struct proto_verify_reply local;
	int			 rc;

	if (p->n == APIKEY_PIPELINE_MAX) {
		akc_set_error(c, "APIKEY_PIPELINE_MAX verifies are in flight "
		    "from the oldest not yet received: receive it first");
		return APIKEY_ELIMIT;
	}
	sl = slot_at(p, p->n);
	memset(sl, 0, sizeof(*sl));
	sl->user = user;
	rc = akc_verify_begin(c, token, req, &local);
	sl->id = c->id;
	if (rc == 1) {
		if ((sl->res = malloc(sizeof(*sl->res))) == NULL)
			return APIKEY_ENOMEM;
		sl->res->r = local;
		sl->state = SLOT_READY;
		p->ready++;
	} else {
		/* Field limits keep every request below the frame maximum. */
		if (proto_frame_end(&c->w) != 0)
			rc = APIKEY_EINVAL;
		else if ((sl->frame = secret_alloc(c->w.len)) == NULL)
			rc = APIKEY_ENOMEM;
		else {
			memcpy(sl->frame, c->tx, c->w.len);
			sl->len = (uint32_t)c->w.len;
		}
		secret_wipe(c->tx, c->w.len);
		if (rc != 0)
			return rc;
		if (p->unanswered++ == 0)
			p->progress = akc_now_ms();
	}
	p->n++;
	*id = sl->id;
	return 0;
}

/* Hands out the first answer ready: its slot's error, 0, or EAGAIN. */
static int
pipe_take(struct apikey_client *c, struct akc_slot **out)
{
	struct akc_pipe	*p = c->pipe;
	struct akc_slot	*sl;
	size_t		 i;

	for (i = 0; i < p->n; i++) {
		sl = slot_at(p, i);
		if (sl->state == SLOT_READY) {
			sl->state = SLOT_RECEIVED;
			p->ready--;
			*out = sl;
			return sl->err;
		}
	}
	return APIKEY_EAGAIN;
}

static int
pipe_enter(struct apikey_client *c)
{
	int	rc;

	if ((rc = akc_enter(c, AKC_VERIFY)) != 0)
		return rc;
	if (c->pipe == NULL && (c->pipe = calloc(1, sizeof(*c->pipe))) ==
	    NULL)
		return APIKEY_ENOMEM;
	return 0;
}

APIKEY_EXPORT int
apikey_verify_send(struct apikey_client *c, const char *token,
    const struct apikey_verify_req *req, uint32_t *id)
{
	int	rc;

	if ((rc = pipe_enter(c)) != 0)
		return rc;
	if (token == NULL || id == NULL)
		return APIKEY_EINVAL;
	if (c->fd == -1 && (rc = akc_connect(c, akc_now_ms() +
	    c->timeout_ms)) != 0)
		return pipe_fail(c, rc, NULL);
	if ((rc = pipe_add(c, token, req, 0, id)) != 0)
		return rc;
	/* Only a write: the answers are read by recv. A failed write takes
	 * a whole turn, whose reads tell a goodbye from a hang-up. */
	if ((rc = pipe_write(c)) == 0)
		return 0;
	if (rc != AKC_RESEND)
		return pipe_fail(c, rc, NULL);
	return pipe_turn(c);
}

APIKEY_EXPORT int
apikey_verify_recv(struct apikey_client *c, int wait_ms, uint32_t *id,
    struct apikey_result **out)
{
	struct akc_slot	*sl;
	int		 rc;

	if ((rc = pipe_enter(c)) != 0)
		return rc;
	if (id == NULL || out == NULL)
		return APIKEY_EINVAL;
	*id = 0;
	*out = NULL;
	if (c->pipe->ready == 0 && (rc = pipe_wait(c, wait_ms)) != 0)
		return rc;
	if ((rc = pipe_take(c, &sl)) == APIKEY_EAGAIN)
		return rc;
	*id = sl->id;
	*out = sl->res;
	sl->res = NULL;		/* transferred */
	pipe_trim(c);
	return rc;
}

APIKEY_EXPORT int
apikey_verify_batch(struct apikey_client *c, size_t n,
    const char *const tokens[], const struct apikey_verify_req *const reqs[],
    struct apikey_result *results[])
{
	struct akc_pipe	*p;
	struct akc_slot	*sl;
	size_t		 i, next = 0, got = 0;
	uint32_t	 id;
	int		 rc;

	if ((rc = pipe_enter(c)) != 0)
		return rc;
	if (n > 0 && (tokens == NULL || results == NULL))
		return APIKEY_EINVAL;
	for (i = 0; i < n; i++) {
		results[i] = NULL;
		if (tokens[i] == NULL)
			return APIKEY_EINVAL;
	}
	p = c->pipe;
	if (p->n > 0) {
		akc_set_error(c, "pipelined verifies are in flight on this "
		    "client: receive them first");
		return APIKEY_EINVAL;
	}
	while (got < n) {
		while (next < n && p->n < APIKEY_PIPELINE_MAX) {
			if ((rc = pipe_add(c, tokens[next], reqs != NULL ?
			    reqs[next] : NULL, next, &id)) != 0)
				goto fail;
			next++;
		}
		if (p->ready == 0 && (rc = pipe_wait(c, -1)) != 0)
			goto fail;
		while ((rc = pipe_take(c, &sl)) != APIKEY_EAGAIN) {
			if (rc != 0)
				goto fail;
			results[sl->user] = sl->res;
			sl->res = NULL;		/* transferred */
			got++;
		}
		pipe_trim(c);
	}
	return 0;
 fail:
	/* The batch's own requests are all there is in flight. */
	pipe_reset(c);
	for (i = 0; i < n; i++) {
		apikey_result_free(results[i]);
		results[i] = NULL;
	}
	return rc;
}

APIKEY_EXPORT size_t
apikey_verify_pending(const struct apikey_client *c)
{
	return c == NULL || c->pipe == NULL ? 0 : c->pipe->unanswered +
	    c->pipe->ready;
}

APIKEY_EXPORT int
apikey_fd(const struct apikey_client *c)
{
	return c == NULL ? -1 : c->fd;
}

APIKEY_EXPORT int
apikey_events(const struct apikey_client *c)
{
	const struct akc_pipe *p;

	if (c == NULL || (p = c->pipe) == NULL || c->fd == -1 ||
	    p->unanswered == 0)
		return 0;
	return APIKEY_WANT_READ | (p->unsent < p->n ? APIKEY_WANT_WRITE : 0);
}

int
akc_pipe_busy(const struct apikey_client *c)
{
	return c->pipe != NULL && c->pipe->n > 0;
}

void
akc_pipe_free(struct apikey_client *c)
{
	if (c->pipe == NULL)
		return;
	pipe_reset(c);
	free(c->pipe);
	c->pipe = NULL;
}
