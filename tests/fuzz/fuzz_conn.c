/*
 * fuzz_conn.c - see fuzz_conn.h. Mirrors what server.c promises the
 * handlers (server.h): conn_send copies, conn_stream refuses a second
 * listing or a closing connection (calling free_fn), and conn_full says
 * when a listing should stop for this turn. The peer reads every frame
 * at once, so nothing is buffered and nothing needs wiping.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_conn.h"
#include "reply_check.h"

/* Output that counts as full, for conn_full: a few items of a listing. */
#define FCONN_LOW	2048
/* Turns after which a listing of a small store is taken to be endless. */
#define FCONN_TURNS_MAX	10000

struct conn {
	size_t		 reply_max;
	struct proto_hdr req;
	int		 has_req;
	size_t		 queued;	/* since the peer last read */
	int		 closing;
	int		 refs;
	int		 (*fn)(struct conn *, void *);
	void		 (*free_fn)(void *);
	void		*arg;
	int		 streaming;
};

struct conn *
fconn_new(size_t reply_max)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		abort();
	c->reply_max = reply_max;
	return c;
}

static void
stream_end(struct conn *c)
{
	if (!c->streaming)
		return;
	c->streaming = 0;
	if (c->free_fn != NULL)
		c->free_fn(c->arg);
}

void
fconn_free(struct conn *c)
{
	if (c->refs != 0) {
		fprintf(stderr, "fuzz_conn: freed with %d held replies\n",
		    c->refs);
		abort();
	}
	stream_end(c);
	free(c);
}

void
fconn_expect(struct conn *c, const struct proto_hdr *req)
{
	c->has_req = req != NULL;
	if (req != NULL)
		c->req = *req;
}

void
fconn_close(struct conn *c)
{
	c->closing = 1;
}

int
fconn_closing(const struct conn *c)
{
	return c->closing;
}

int
fconn_held(const struct conn *c)
{
	return c->refs;
}

void
fconn_pump(struct conn *c)
{
	unsigned	 turns = 0;
	int		 rc;

	while (c->streaming && !c->closing) {
		c->queued = 0;		/* the peer read it all */
		if (++turns > FCONN_TURNS_MAX) {
			fprintf(stderr, "fuzz_conn: a listing of %s did not "
			    "end in %d turns\n", proto_op_name(c->req.opcode),
			    FCONN_TURNS_MAX);
			abort();
		}
		rc = c->fn(c, c->arg);
		if (rc == 1)
			continue;
		stream_end(c);
		if (rc < 0)
			c->closing = 1;
	}
}

/* With FUZZ_VERBOSE set, each reply's opcode, status and message, to
 * see what an input does (run the target on one file). */
static void
show(const uint8_t *frame, size_t len)
{
	static int	 verbose = -1;
	static struct proto_verify_reply v;
	static struct proto_status_info st;
	char		 msg[PROTO_MESSAGE_MAX + 1];
	struct proto_hdr h;
	struct reader	 body;
	uint32_t	 status;

	if (verbose == -1)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (!verbose || proto_frame_open(frame, len, &h, &body) != 0 ||
	    proto_dec_reply_head(&body, &status, msg) != 0)
		return;
	/* A verify's outcome and the store's use are in the body. */
	if (status == PROTO_OK && h.opcode == (PROTO_OP_VERIFY | PROTO_REPLY) &&
	    proto_dec_verify_reply(&body, &v) == 0)
		snprintf(msg, sizeof(msg), "%s %s", proto_code_name(v.code),
		    v.reason);
	if (status == PROTO_OK && h.opcode == (PROTO_OP_STATUS | PROTO_REPLY) &&
	    proto_dec_status_info(&body, &st) == 0)
		snprintf(msg, sizeof(msg), "map %llu used, limit %llu, "
		    "size %llu", (unsigned long long)st.map_used,
		    (unsigned long long)st.map_limit,
		    (unsigned long long)st.map_size);
	fprintf(stderr, "fuzz_conn: id %u %s%s: %s%s%s\n", h.id,
	    proto_op_name(h.opcode), h.flags & PROTO_F_MORE ? " (more)" : "",
	    proto_status_name(status), msg[0] != '\0' ? ": " : "", msg);
}

static int
queue(struct conn *c, const void *data, size_t len, int secret)
{
	reply_check(data, len, c->reply_max, c->has_req ? &c->req : NULL,
	    secret);
	show(data, len);
	c->queued += len;
	return 0;
}

int
conn_send(struct conn *c, const void *data, size_t len)
{
	return queue(c, data, len, 0);
}

int
conn_send_secret(struct conn *c, const void *data, size_t len)
{
	return queue(c, data, len, 1);
}

int
conn_stream(struct conn *c, int (*fn)(struct conn *, void *),
    void (*free_fn)(void *), void *arg)
{
	if (c->closing || c->streaming) {
		if (free_fn != NULL)
			free_fn(arg);
		c->closing = 1;
		return -1;
	}
	c->fn = fn;
	c->free_fn = free_fn;
	c->arg = arg;
	c->streaming = 1;
	return 0;
}

int
conn_full(const struct conn *c)
{
	return c->queued >= FCONN_LOW;
}

/* Every line is logged: log.c's escaping of client text is fuzzed too. */
int
conn_log_ok(struct conn *c)
{
	(void)c;
	return 1;
}

void
conn_ref(struct conn *c)
{
	c->refs++;
}

void
conn_unref(struct conn *c)
{
	if (--c->refs < 0) {
		fprintf(stderr, "fuzz_conn: conn_unref without conn_ref\n");
		abort();
	}
}

void
conn_push(struct conn *c)
{
	(void)c;
}
