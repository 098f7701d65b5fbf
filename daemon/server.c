/*
 * server.c - sockets, framing, peer credentials and dispatch.
 *
 * Workload: many short verify requests, often pipelined on long-lived
 * connections from local daemons, and rare management requests. verify.sock
 * is served by verify_threads event loops, each a thread with its own
 * libevent base, all accepting from the one listening socket; admin.sock
 * by one more. Whichever loop the kernel wakes first would take every
 * connection, so a loop that accepts hands each new connection to the
 * loop with the fewest (its inbox). A connection never moves after that,
 * so its handlers run without locks. What the loops of one socket share, the connection counts and
 * the log budget (struct slots), is under a mutex taken when a
 * connection comes or goes and when a line about a peer is logged, never
 * per request. Input is read into a per-connection buffer of one maximum frame
 * (not into libevent's buffers) so that the bytes of a token can be wiped
 * as soon as a frame is consumed. All replies produced while handling one
 * read are flushed with one write, so pipelined requests cost one syscall.
 *
 * Back-pressure: a peer that stops reading its replies stops being read
 * once its output passes a high-water mark, and a listing (conn_stream)
 * produces its next item only when the output has drained below a
 * low-water mark, so memory per connection stays bounded whatever the
 * peer does. Connections are capped in total and per uid, with a reserve
 * for root and the service users; a refused peer gets an EBUSY frame
 * first. A once-a-while sweep closes connections that sat on a partial
 * frame past read_timeout or did nothing past idle_timeout. When the
 * process runs out of descriptors, accepting pauses for a second instead
 * of spinning.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "../common/secret.h"
#include "clock.h"
#include "frame.h"
#include "listener.h"
#include "log.h"
#include "loglimit.h"
#include "reply.h"
#include "server.h"
#include "systemd.h"

#define SERVER_BACKLOG		128
#define SERVER_ACCEPT_BATCH	64
#define SERVER_READ_BATCH	16
/*
 * How long a stop may answer what was asked. Well-behaved peers need
 * milliseconds; the bound is for those that stop reading or stall in a
 * frame, and must stay well below libapikey's default 2 s timeout: the
 * requests that wait in the service manager's socket meanwhile are
 * answered only by the next daemon.
 */
#define SERVER_DRAIN_MS		1000
/* How long to wait for the admin thread beyond its own drain (it may be
 * stuck in an NSS lookup). */
#define SERVER_JOIN_MS		(SERVER_DRAIN_MS + 1000)
#define SERVER_LOG_SOURCES	4096	/* uids the log limiter tracks */
#define SERVER_THREAD_NAME	16	/* pthread_setname_np's limit */
/* Output marks: verify replies are small, listings are streamed. */
#define VERIFY_OUT_HIGH		(256 * 1024)
#define ADMIN_OUT_HIGH		(256 * 1024)
#define STREAM_LOW		(64 * 1024)

struct loop;

struct stream {
	int		(*fn)(struct conn *, void *);
	void		(*free_fn)(void *);
	void		*arg;
};

struct conn {
	TAILQ_ENTRY(conn) entry;
	struct loop	*loop;
	int		 fd;
	struct peer	 peer;
	struct event	*rev;
	struct event	*wev;
	struct evbuffer	*out;
	uint8_t		*in;
	size_t		 inlen;
	int		 closing;
	int		 paused;
	int		 refs;		/* held replies still to come */
	int		 dead;		/* closed, kept for its refs */
	int		 goaway;	/* told the daemon is stopping */
	int		 push_queued;	/* on its loop's pushq */
	TAILQ_ENTRY(conn) push_entry;
	uint64_t	 active_ms;	/* last byte read or written */
	uint64_t	 partial_ms;	/* a frame began arriving; 0: none */
	struct stream	*stream;	/* a listing being produced */
};

struct uidcount {
	uid_t		 uid;
	unsigned	 n;
};

/* What the loops serving one socket count together, under mu. */
struct slots {
	pthread_mutex_t	 mu;
	unsigned	 nconns;
	struct uidcount	*uids;
	size_t		 nuids;
	size_t		 uidcap;
	struct loglimit	*logs;		/* NULL: no log limit */
};

struct loop {
	struct server	*srv;
	const char	*name;
	struct slots	*slots;		/* the socket's; shared */
	struct event_base *base;
	int		 lfd;
	int		 activated;	/* lfd is the service manager's */
	int		 borrowed;	/* lfd is another loop's */
	int		 draining;	/* stopping: answer, then say goodbye */
	/* Connections it has or was handed: read by the other loops. */
	_Atomic unsigned load;
	pthread_mutex_t	 inbox_mu;	/* over inbox, ninbox, inboxcap */
	int		*inbox;		/* accepted by another loop, for us */
	size_t		 ninbox;
	size_t		 inboxcap;
	int		 inbox_closed;	/* stopping: take no more */
	struct event	*inbox_ev;
	pthread_t	 thread;
	int		 running;	/* its thread is running */
	_Atomic uint64_t turned_ms;	/* when its sweep last ran */
	char		 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct event	*accept_ev;
	struct event	*pause_ev;
	struct event	*stop_ev;
	struct event	*sweep_ev;
	struct event	*drain_ev;	/* the drain's deadline */
	struct event	*push_ev;	/* writes pushq at the end of a turn */
	TAILQ_HEAD(, conn) pushq;	/* replies queued outside a request */
	size_t		 frame_max;
	size_t		 out_high;
	server_handler	 handler;
	void		*arg;
	unsigned	 nconns;	/* this loop's */
	TAILQ_HEAD(, conn) conns;
};

struct server_signal {
	struct event	*ev;
	void		(*fn)(void *);
	void		*arg;
	struct server_signal *next;
};

struct server_timer {
	struct event	*ev;
	void		(*fn)(void *);
	void		*arg;
	struct server_timer *next;
};

struct server {
	const struct config *cfg;
	uid_t		 reserved[CONFIG_SERVICE_USERS_MAX];
	size_t		 nreserved;
	struct server_signal *signals;
	struct server_timer *timers;
	struct loop	*verify;	/* nverify; [0] runs on the caller */
	size_t		 nverify;
	struct loop	 admin;
	struct slots	 vslots;
	struct slots	 aslots;
	struct event	*sigs[3];
	struct event	*watchdog_ev;
	uint64_t	 watchdog_ms;
	int		 stalled_logged;
	_Atomic unsigned threads;	/* loops running on threads of their own */
	int		 joining;	/* verify[0] waits for them */
	struct event	*thread_done_ev; /* on verify[0]'s base */
	struct event	*join_ev;	/* the wait for them, bounded */
};

static void	conn_read_cb(evutil_socket_t, short, void *);
static int	conn_flush(struct conn *);
static void	conn_write_cb(evutil_socket_t, short, void *);
static void	conn_goaway(struct conn *);

/* --- per-uid connection counts ------------------------------------------ */

/* The count of uid's connections; under the slots' mu. */
static struct uidcount *
uid_slot(struct slots *sl, uid_t uid, int create)
{
	struct uidcount	*n;
	size_t		 i;

	for (i = 0; i < sl->nuids; i++)
		if (sl->uids[i].uid == uid)
			return &sl->uids[i];
	if (!create)
		return NULL;
	if (sl->nuids == sl->uidcap) {
		size_t cap = sl->uidcap ? sl->uidcap * 2 : 16;
		if ((n = reallocarray(sl->uids, cap, sizeof(*n))) == NULL)
			return NULL;
		sl->uids = n;
		sl->uidcap = cap;
	}
	sl->uids[sl->nuids].uid = uid;
	sl->uids[sl->nuids].n = 0;
	return &sl->uids[sl->nuids++];
}

/* Forgets an unused count (n == 0), keeping the array dense. */
static void
uid_release_slot(struct slots *sl, struct uidcount *u)
{
	*u = sl->uids[--sl->nuids];
}

/* A connection of uid went. */
static void
slots_release(struct slots *sl, uid_t uid)
{
	struct uidcount	*u;

	pthread_mutex_lock(&sl->mu);
	if ((u = uid_slot(sl, uid, 0)) != NULL && --u->n == 0)
		uid_release_slot(sl, u);
	sl->nconns--;
	pthread_mutex_unlock(&sl->mu);
}

/* --- connections ---------------------------------------------------------- */

static void
stream_end(struct conn *c)
{
	struct stream	*st = c->stream;

	if (st == NULL)
		return;
	c->stream = NULL;
	if (st->free_fn != NULL)
		st->free_fn(st->arg);
	free(st);
}

int
conn_stream(struct conn *c, int (*fn)(struct conn *, void *),
    void (*free_fn)(void *), void *arg)
{
	struct stream	*st;

	if (c->dead || c->closing || c->stream != NULL ||
	    (st = calloc(1, sizeof(*st))) == NULL) {
		if (free_fn != NULL)
			free_fn(arg);
		if (!c->dead)
			c->closing = 1;
		return -1;
	}
	st->fn = fn;
	st->free_fn = free_fn;
	st->arg = arg;
	c->stream = st;
	return 0;
}

int
conn_full(const struct conn *c)
{
	return c->dead || evbuffer_get_length(c->out) >= STREAM_LOW;
}

/* Lets a stream queue frames while the output is below its mark. */
static void
stream_pump(struct conn *c)
{
	int	 rc;

	while (c->stream != NULL && !c->closing && !conn_full(c)) {
		rc = c->stream->fn(c, c->stream->arg);
		if (rc == 1)
			continue;
		stream_end(c);
		if (rc < 0)
			c->closing = 1;
		else if (!c->paused) {
			event_add(c->rev, NULL);
			/* Requests that came behind the listing. */
			if (c->inlen > 0)
				event_active(c->rev, EV_READ, 0);
		}
	}
}

/* Whether a line about uid fits its budget on this loop's socket. */
static int
log_ok(struct loop *l, uid_t uid)
{
	struct slots	*sl = l->slots;
	uint64_t	 suppressed = 0;
	int		 ok;

	if (sl->logs == NULL)
		return 1;
	pthread_mutex_lock(&sl->mu);
	ok = loglimit_allow(sl->logs, uid, clock_now_ms(), &suppressed);
	pthread_mutex_unlock(&sl->mu);
	if (!ok)
		return 0;
	if (suppressed > 0)
		log_warnx("%s: %llu log lines about uid %u suppressed "
		    "(log_lines_per_uid)", l->name,
		    (unsigned long long)suppressed, (unsigned)uid);
	return 1;
}

int
conn_log_ok(struct conn *c)
{
	return log_ok(c->loop, c->peer.ruid);
}

static void
conn_free(struct conn *c)
{
	struct loop	*l = c->loop;

	if (c->dead)
		return;
	stream_end(c);
	TAILQ_REMOVE(&l->conns, c, entry);
	l->nconns--;
	atomic_fetch_sub(&l->load, 1);
	slots_release(l->slots, c->peer.ruid);
	event_free(c->rev);
	event_free(c->wev);
	evbuffer_free(c->out);	/* wipes secret frames via their cleanup */
	secret_free(c->in);	/* the frames read may have held tokens */
	close(c->fd);
	c->dead = 1;
	if (c->refs == 0)
		free(c);
	/* The last connection of a stopping loop: it is done. */
	if (l->draining && l->nconns == 0)
		event_base_loopbreak(l->base);
}

void
conn_ref(struct conn *c)
{
	c->refs++;
}

void
conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	if (c->dead)
		free(c);
	else if (c->closing || c->loop->draining)
		/* Its last held reply is out: it may go, or be told goodbye. */
		(void)conn_flush(c);
}

/*
 * Replies sent outside a request (held replies, called back by the
 * ledger in batches of hundreds) are written once per connection per loop
 * turn, not once per reply: the connection waits on its loop's pushq,
 * holding a reference, until push_cb runs after the turn's callbacks.
 */
void
conn_push(struct conn *c)
{
	struct loop	*l = c->loop;

	if (c->dead || c->push_queued)
		return;
	c->push_queued = 1;
	conn_ref(c);
	TAILQ_INSERT_TAIL(&l->pushq, c, push_entry);
	event_active(l->push_ev, EV_READ, 0);
}

/* Writes every connection on l's pushq. */
static void
push_run(struct loop *l)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&l->pushq)) != NULL) {
		TAILQ_REMOVE(&l->pushq, c, push_entry);
		c->push_queued = 0;
		if (!c->dead)
			(void)conn_flush(c);	/* our reference keeps c */
		conn_unref(c);
	}
}

static void
push_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	push_run(arg);
}

/* Writes what it can. Returns -1 if the connection was freed. */
static int
conn_flush(struct conn *c)
{
	struct loop	*l = c->loop;
	size_t		 left;
	int		 n;

	stream_pump(c);
 again:
	while ((left = evbuffer_get_length(c->out)) > 0) {
		n = evbuffer_write(c->out, c->fd);
		if (n > 0) {
			c->active_ms = clock_now_ms();
			/* Drained below the mark: the listing goes on. */
			stream_pump(c);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		log_debug("%s: uid %u pid %d: write failed, dropping",
		    l->name, (unsigned)c->peer.uid, (int)c->peer.pid);
		conn_free(c);
		return -1;
	}
	if (left > 0)
		event_add(c->wev, NULL);
	else
		event_del(c->wev);
	/* Held replies (credits being committed) are still owed: a closing
	 * connection goes once they are out. */
	if (left == 0 && c->closing && c->refs == 0) {
		conn_free(c);
		return -1;
	}
	if (c->paused && left < l->out_high / 2 && !c->closing &&
	    c->stream == NULL) {
		c->paused = 0;
		event_add(c->rev, NULL);
		/* Buffered frames will not make the socket readable. */
		if (c->inlen > 0)
			event_active(c->rev, EV_READ, 0);
	}
	/* Stopping: once owed nothing (a listing just ended, a pause just
	 * lifted), the goodbye goes out with the rest. */
	if (l->draining && !c->goaway && !c->closing) {
		conn_goaway(c);
		if (c->goaway)
			goto again;
	}
	return 0;
}

/* Handles every complete frame in the input buffer. */
static void
conn_frames(struct conn *c)
{
	struct loop	*l = c->loop;
	struct proto_hdr h;
	struct reader	 body;
	size_t		 off = 0, flen;
	int		 rc;

	while (!c->closing && !c->paused && c->stream == NULL) {
		rc = proto_frame_peek(c->in + off, c->inlen - off,
		    l->frame_max, &flen);
		if (rc == 1)
			break;
		if (rc == 0 && (rc = frame_dispatch(c, &c->peer, c->in + off,
		    flen, l->handler, l->arg)) == 0) {
			off += flen;
		} else if (rc == -1) {
			c->closing = 1;
			off += flen;
		} else {
			/* Framing is lost: nothing after this can be read.
			 * A whole frame that did not open was answered; its
			 * reason, for the log, is the open's. */
			if (rc == FRAME_BAD)
				rc = proto_frame_open(c->in + off, flen, &h,
				    &body);
			else
				frame_refuse(c, c->in + off, c->inlen - off,
				    rc);
			if (conn_log_ok(c))
				log_warnx("%s: uid %u pid %d: bad frame (%s); "
				    "closing", l->name, (unsigned)c->peer.uid,
				    (int)c->peer.pid, proto_strerror(rc));
			c->closing = 1;
			break;
		}
		/* A listing answers first: read nothing more until it ends. */
		if (c->stream != NULL)
			event_del(c->rev);
		if (evbuffer_get_length(c->out) > l->out_high) {
			c->paused = 1;
			event_del(c->rev);
		}
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		/* The consumed frames may have held a token. */
		secret_wipe(c->in + (c->inlen - off), off);
		c->inlen -= off;
	}
	/* What is left is the start of a frame still on its way, unless it
	 * waits behind a pause or a listing: that is the daemon's doing. */
	if (c->inlen == 0 || c->paused || c->stream != NULL)
		c->partial_ms = 0;
	else if (c->partial_ms == 0 || off > 0)
		/* A pipelining peer that finished frames is making progress:
		 * the clock runs for the frame it has just begun. */
		c->partial_ms = clock_now_ms();
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	struct loop	*l = c->loop;
	size_t		 want;
	ssize_t		 n;
	int		 i;

	(void)what;
	if (c->inlen > 0)
		conn_frames(c);		/* frames left over from a pause */
	for (i = 0; i < SERVER_READ_BATCH && !c->closing && !c->paused &&
	    c->stream == NULL; i++) {
		want = l->frame_max - c->inlen;
		n = read(fd, c->in + c->inlen, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* EOF or error: answer what was asked, then go. */
			c->closing = 1;
			event_del(c->rev);
			break;
		}
		c->inlen += (size_t)n;
		c->active_ms = clock_now_ms();
		conn_frames(c);
		/*
		 * Less than asked for was all there was: the read that
		 * would say EAGAIN costs a system call per request. What
		 * comes later wakes the loop again (level-triggered); an
		 * EOF behind the data is read then.
		 */
		if ((size_t)n < want)
			break;
	}
	if (c->closing)
		event_del(c->rev);
	(void)conn_flush(c);
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)conn_flush(arg);
}

/*
 * Tells a peer of a stopping daemon to go, once it is owed nothing: no
 * frame half read, no held reply, no listing, no pause. The frame (status
 * ESHUTDOWN, request id 0) follows every reply the connection was owed,
 * and nothing it sent afterwards is read, so the peer knows that a request
 * still without a reply was never acted on and may send it again on a new
 * connection: to the next daemon, when the service manager holds the
 * listening socket across a restart.
 */
static void
conn_goaway(struct conn *c)
{
	struct proto_hdr h;
	uint8_t		 frame[PROTO_HDR_LEN + PROTO_MESSAGE_MAX + 16];
	size_t		 len;

	if (c->dead || c->closing || c->goaway || c->refs > 0 ||
	    c->stream != NULL || c->paused || c->inlen > 0)
		return;
	memset(&h, 0, sizeof(h));
	len = reply_error_frame(frame, sizeof(frame), &h, PROTO_ESHUTDOWN,
	    "apikeyd is stopping");
	c->goaway = 1;
	c->closing = 1;
	event_del(c->rev);
	if (len > 0)
		(void)conn_send(c, frame, len);
}

/* libevent's cleanup for a secret frame's bytes, once sent or dropped. */
static void
secret_frame_free(const void *data, size_t len, void *extra)
{
	(void)len;
	(void)extra;
	secret_free((void *)(uintptr_t)data);
}

int
conn_send(struct conn *c, const void *data, size_t len)
{
	if (c->dead)
		return -1;
	if (evbuffer_add(c->out, data, len) != 0) {
		log_warnx("%s: out of memory queueing a reply", c->loop->name);
		c->closing = 1;
		return -1;
	}
	return 0;
}

int
conn_send_secret(struct conn *c, const void *data, size_t len)
{
	void	*copy;

	if (c->dead)
		return -1;
	if ((copy = secret_alloc(len)) == NULL) {
		c->closing = 1;
		return -1;
	}
	memcpy(copy, data, len);
	if (evbuffer_add_reference(c->out, copy, len, secret_frame_free,
	    NULL) != 0) {
		secret_free(copy);
		c->closing = 1;
		return -1;
	}
	return 0;
}

/* --- accepting ----------------------------------------------------------- */

/*
 * The real uid of the process pid whose effective uid is euid, from the
 * "Uid:" line of /proc/PID/status (real, effective, saved, filesystem);
 * euid itself when that cannot be read or does not match (the process is
 * gone, or its pid was reused). The peer is connected, so its pid is
 * alive and its own while we look.
 */
static uid_t
real_uid(pid_t pid, uid_t euid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 r, e;
	ssize_t		 n;
	int		 fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return euid;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return euid;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nUid:")) == NULL ||
	    sscanf(p + 5, "%lu %lu", &r, &e) != 2 || e != (unsigned long)euid)
		return euid;
	return (uid_t)r;
}

static int
peer_creds(int fd, struct peer *p)
{
	struct ucred	 cr;
	socklen_t	 len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1 ||
	    len != sizeof(cr))
		return -1;
	p->uid = cr.uid;
	p->gid = cr.gid;
	p->pid = cr.pid;
	p->ruid = real_uid(cr.pid, cr.uid);
	return 0;
}

static int
reserved_uid(const struct server *s, uid_t uid)
{
	size_t	 i;

	if (uid == 0)
		return 1;
	for (i = 0; i < s->nreserved; i++)
		if (s->reserved[i] == uid)
			return 1;
	return 0;
}

/*
 * Whether a new connection from p may stay, counted across the loops of
 * the socket; under the slots' mu. On refusal, writes the reason into
 * why. The last reserved_connections slots are only for root and the
 * service users, so that no number of other users can keep a PAM login
 * from reaching the daemon.
 */
static int
admit(struct loop *l, const struct peer *p, const struct uidcount *u,
    char *why, size_t whysz)
{
	const struct config *cfg = l->srv->cfg;
	unsigned	 max = cfg->max_connections;
	unsigned	 open = max - (cfg->reserved_connections < max ?
			    cfg->reserved_connections : max);
	unsigned	 n = l->slots->nconns;

	if (n >= max) {
		snprintf(why, whysz, "apikeyd has reached max_connections "
		    "(%u) on %s.sock", max, l->name);
		return 0;
	}
	if (n >= open && !reserved_uid(l->srv, p->ruid)) {
		snprintf(why, whysz, "apikeyd's last %u connections on "
		    "%s.sock are reserved for root and service_users",
		    max - open, l->name);
		return 0;
	}
	if (u == NULL) {
		snprintf(why, whysz, "apikeyd is out of memory");
		return 0;
	}
	if (u->n >= cfg->max_connections_per_uid) {
		snprintf(why, whysz, "too many connections from uid %u to "
		    "%s.sock (max_connections_per_uid = %u)",
		    (unsigned)p->ruid, l->name, cfg->max_connections_per_uid);
		return 0;
	}
	return 1;
}

/*
 * Tells a refused peer why, in a reply frame with request id 0 (as
 * proto.h specifies), then closes. The socket is new and its buffer
 * empty, so the one small write cannot block.
 */
static void
refuse(struct loop *l, int fd, const struct peer *p, const char *why)
{
	struct proto_hdr h;
	uint8_t		 frame[PROTO_HDR_LEN + PROTO_MESSAGE_MAX + 16];
	size_t		 len;

	memset(&h, 0, sizeof(h));
	len = reply_error_frame(frame, sizeof(frame), &h, PROTO_EBUSY, "%s",
	    why);
	if (len > 0)
		(void)send(fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	if (log_ok(l, p->ruid))
		log_warnx("%s: refusing uid %u pid %d: %s", l->name,
		    (unsigned)p->ruid, (int)p->pid, why);
}

/* Serves fd on l. -1 when it was refused or failed: fd is closed. */
static int
conn_new(struct loop *l, int fd)
{
	struct slots	*sl = l->slots;
	struct uidcount	*u;
	struct conn	*c;
	struct peer	 p;
	char		 why[PROTO_MESSAGE_MAX + 1];
	int		 ok;

	if (peer_creds(fd, &p) == -1) {
		log_warn("%s: SO_PEERCRED", l->name);
		close(fd);
		return -1;
	}
	/* The slot is taken before the connection is made: the other loops
	 * of the socket admit against the same counts meanwhile. */
	pthread_mutex_lock(&sl->mu);
	u = uid_slot(sl, p.ruid, 1);
	ok = admit(l, &p, u, why, sizeof(why));
	if (ok) {
		u->n++;
		sl->nconns++;
	} else if (u != NULL && u->n == 0)
		uid_release_slot(sl, u);
	pthread_mutex_unlock(&sl->mu);
	if (!ok) {
		refuse(l, fd, &p, why);
		return -1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->in = secret_alloc(l->frame_max)) == NULL ||
	    (c->out = evbuffer_new()) == NULL ||
	    (c->rev = event_new(l->base, fd, EV_READ | EV_PERSIST,
	    conn_read_cb, c)) == NULL ||
	    (c->wev = event_new(l->base, fd, EV_WRITE | EV_PERSIST,
	    conn_write_cb, c)) == NULL) {
		log_warnx("%s: out of memory accepting a connection", l->name);
		if (c != NULL) {
			if (c->rev != NULL)
				event_free(c->rev);
			if (c->out != NULL)
				evbuffer_free(c->out);
			secret_free(c->in);
			free(c);
		}
		slots_release(sl, p.ruid);
		close(fd);
		return -1;
	}
	c->loop = l;
	c->fd = fd;
	c->peer = p;
	c->active_ms = clock_now_ms();
	TAILQ_INSERT_TAIL(&l->conns, c, entry);
	l->nconns++;
	event_add(c->rev, NULL);
	return 0;
}

/*
 * A request arrived that the loop has not read yet: the peer is not idle,
 * and closing now would lose its request. (Unless the loop stopped reading
 * it, paused behind unread replies or a listing: then only the peer's
 * reading counts as activity, and a peer that never reads is idle.)
 */
static int
input_waiting(const struct conn *c)
{
	int	 n = 0;

	return ioctl(c->fd, FIONREAD, &n) == 0 && n > 0;
}

/*
 * Closes connections that hold a slot without using it: a frame begun and
 * not finished within read_timeout (a peer that sent three bytes), or no
 * byte either way within idle_timeout. A connection waiting for a held
 * reply (credits being committed) is the daemon's doing and stays.
 */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop	*l = arg;
	const struct config *cfg = l->srv->cfg;
	struct conn	*c, *next;
	uint64_t	 now = clock_now_ms();
	const char	*why;

	(void)fd;
	(void)what;
	/* The loop turns: the watchdog (on the first loop) looks. */
	atomic_store_explicit(&l->turned_ms, now, memory_order_relaxed);
	for (c = TAILQ_FIRST(&l->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->refs > 0)
			continue;
		if (c->partial_ms != 0 &&
		    now - c->partial_ms >= cfg->read_timeout_ms)
			why = "frame not finished within read_timeout";
		else if (cfg->idle_timeout_ms != 0 &&
		    now - c->active_ms >= cfg->idle_timeout_ms &&
		    (c->paused || c->stream != NULL || !input_waiting(c)))
			why = "idle past idle_timeout";
		else
			continue;
		if (conn_log_ok(c))
			log_info("%s: uid %u pid %d: %s; closing", l->name,
			    (unsigned)c->peer.uid, (int)c->peer.pid, why);
		conn_free(c);
	}
}

/* The loop of l's socket with the fewest connections; l on a tie. */
static struct loop *
least_loaded(struct loop *l)
{
	struct server	*s = l->srv;
	struct loop	*best = l;
	unsigned	 min = atomic_load(&l->load), n;
	size_t		 i;

	if (l->slots != &s->vslots)
		return l;
	for (i = 0; i < s->nverify; i++)
		if ((n = atomic_load(&s->verify[i].load)) < min) {
			min = n;
			best = &s->verify[i];
		}
	return best;
}

/* Hands fd to loop to, which serves it at its next turn. -1 when to is
 * stopping: the caller serves it. */
static int
hand_over(struct loop *to, int fd)
{
	int	*n;
	size_t	 cap;

	pthread_mutex_lock(&to->inbox_mu);
	if (to->inbox_closed) {
		pthread_mutex_unlock(&to->inbox_mu);
		return -1;
	}
	if (to->ninbox == to->inboxcap) {
		cap = to->inboxcap ? to->inboxcap * 2 : 16;
		if ((n = reallocarray(to->inbox, cap, sizeof(*n))) == NULL) {
			pthread_mutex_unlock(&to->inbox_mu);
			log_warnx("%s: out of memory handing over a "
			    "connection", to->name);
			atomic_fetch_sub(&to->load, 1);
			close(fd);
			return 0;
		}
		to->inbox = n;
		to->inboxcap = cap;
	}
	to->inbox[to->ninbox++] = fd;
	pthread_mutex_unlock(&to->inbox_mu);
	event_active(to->inbox_ev, EV_READ, 0);
	return 0;
}

/* Serves the connections other loops handed us; with close, takes no
 * more (a stopping loop must not be handed one it would never see). */
static void
inbox_take(struct loop *l, int close_it)
{
	int		*fds;
	size_t		 n, i;

	pthread_mutex_lock(&l->inbox_mu);
	fds = l->inbox;
	n = l->ninbox;
	l->inbox = NULL;
	l->ninbox = l->inboxcap = 0;
	if (close_it)
		l->inbox_closed = 1;
	pthread_mutex_unlock(&l->inbox_mu);
	for (i = 0; i < n; i++)
		if (conn_new(l, fds[i]) != 0)
			atomic_fetch_sub(&l->load, 1);
	free(fds);
}

static void
inbox_cb(evutil_socket_t unused, short what, void *arg)
{
	(void)unused;
	(void)what;
	inbox_take(arg, 0);
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct loop	*l = arg, *to;
	struct timeval	 tv = { 1, 0 };
	int		 fd, i;

	(void)what;
	for (i = 0; i < SERVER_ACCEPT_BATCH; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			/* Counted at once, so that the next choice sees it. */
			to = least_loaded(l);
			atomic_fetch_add(&to->load, 1);
			if (to != l && hand_over(to, fd) == 0)
				continue;
			if (to != l) {
				atomic_fetch_sub(&to->load, 1);
				atomic_fetch_add(&l->load, 1);
			}
			if (conn_new(l, fd) != 0)
				atomic_fetch_sub(&l->load, 1);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			log_warn("%s: accept; pausing for a second", l->name);
			event_del(l->accept_ev);
			evtimer_add(l->pause_ev, &tv);
		} else if (errno != EAGAIN)
			log_warn("%s: accept", l->name);
		return;
	}
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop	*l = arg;

	(void)fd;
	(void)what;
	event_add(l->accept_ev, NULL);
}

/* --- stopping ----------------------------------------------------------- */

/* The drain took too long: whoever is still connected is cut off. */
static void
drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop	*l = arg;

	(void)fd;
	(void)what;
	log_warnx("%s: %u connections still busy after %d ms; closing them",
	    l->name, l->nconns, SERVER_DRAIN_MS);
	event_base_loopbreak(l->base);
}

/*
 * Stops a loop gracefully, on its own thread: no more connections are
 * accepted (under socket activation they wait in the service manager's
 * socket for the next daemon), every request read so far is answered,
 * and each connection is told goodbye (conn_goaway) as soon as it is owed
 * nothing. The loop ends when its last connection has gone, or after
 * SERVER_DRAIN_MS. A second call ends it at once.
 */
static void
loop_drain(struct loop *l)
{
	struct timeval	 tv = { SERVER_DRAIN_MS / 1000,
	    (SERVER_DRAIN_MS % 1000) * 1000 };
	struct conn	*c, *next;

	if (l->draining) {
		event_base_loopbreak(l->base);
		return;
	}
	l->draining = 1;
	event_del(l->accept_ev);
	event_del(l->pause_ev);
	/* Handed over before the stop: they get their goodbye too. */
	inbox_take(l, 1);
	if (l->nconns == 0) {
		event_base_loopbreak(l->base);
		return;
	}
	if (l->drain_ev != NULL)
		evtimer_add(l->drain_ev, &tv);
	for (c = TAILQ_FIRST(&l->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		(void)conn_flush(c);	/* says goodbye when it may */
	}
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	loop_drain(arg);
}

/* --- sockets ---------------------------------------------------------- */

/* Often enough to keep both timeouts to within a quarter, at most 1 s. */
static struct timeval
sweep_period(const struct config *cfg)
{
	struct timeval	 tv;
	uint64_t	 ms = cfg->read_timeout_ms;

	if (cfg->idle_timeout_ms != 0 && cfg->idle_timeout_ms < ms)
		ms = cfg->idle_timeout_ms;
	ms /= 4;
	if (ms > 1000)
		ms = 1000;
	if (ms < 10)
		ms = 10;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

/* The path a passed socket is bound to, for the log; "" if unnamed. */
static void
bound_path(int fd, char *path, size_t size)
{
	struct sockaddr_un sun;
	socklen_t	 len = sizeof(sun);

	memset(&sun, 0, sizeof(sun));
	path[0] = '\0';
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == 0 &&
	    len > offsetof(struct sockaddr_un, sun_path)) {
		sun.sun_path[sizeof(sun.sun_path) - 1] = '\0';
		(void)snprintf(path, size, "%s", sun.sun_path);
	}
}

static int
slots_init(struct slots *sl, const struct config *cfg)
{
	pthread_mutex_init(&sl->mu, NULL);
	if (cfg->log_lines > 0 && loglimit_new(cfg->log_lines,
	    cfg->log_window_ms, SERVER_LOG_SOURCES, &sl->logs) != 0)
		return -1;
	return 0;
}

static void
slots_free(struct slots *sl)
{
	loglimit_free(sl->logs);
	free(sl->uids);
	pthread_mutex_destroy(&sl->mu);
}

/*
 * Opens one event loop on the socket named file, counting its
 * connections in sl. lfd is the service manager's socket, or -1 to bind
 * one; a loop given first shares first's socket instead.
 */
static int
loop_open(struct server *s, struct loop *l, const char *name,
    const char *file, int lfd, const struct loop *first, struct slots *sl,
    size_t frame_max, size_t out_high, server_handler h, void *arg)
{
	struct timeval	 sweep;

	l->srv = s;
	l->name = name;
	l->slots = sl;
	l->lfd = -1;
	l->frame_max = frame_max;
	l->out_high = out_high;
	l->handler = h;
	l->arg = arg;
	atomic_store(&l->turned_ms, clock_now_ms());
	TAILQ_INIT(&l->conns);
	TAILQ_INIT(&l->pushq);
	pthread_mutex_init(&l->inbox_mu, NULL);
	if ((size_t)snprintf(l->path, sizeof(l->path), "%s/%s",
	    s->cfg->socket_dir, file) >= sizeof(l->path)) {
		log_warnx("%s/%s: socket path too long", s->cfg->socket_dir,
		    file);
		return -1;
	}
	if ((l->base = event_base_new()) == NULL) {
		log_warnx("event_base_new failed");
		return -1;
	}
	if (first != NULL) {
		/* Its path, activation and closing are the first loop's. */
		l->lfd = first->lfd;
		l->borrowed = 1;
		memcpy(l->path, first->path, sizeof(l->path));
	} else if (lfd != -1) {
		/* Passed by the service manager: its path is its own. */
		l->lfd = lfd;
		l->activated = 1;
		bound_path(lfd, l->path, sizeof(l->path));
	} else if (listener_open(l->path, SERVER_BACKLOG, &l->lfd) == -1)
		return -1;
	l->accept_ev = event_new(l->base, l->lfd, EV_READ | EV_PERSIST,
	    accept_cb, l);
	l->pause_ev = evtimer_new(l->base, resume_cb, l);
	l->stop_ev = event_new(l->base, -1, 0, stop_cb, l);
	l->sweep_ev = event_new(l->base, -1, EV_PERSIST, sweep_cb, l);
	l->drain_ev = evtimer_new(l->base, drain_timeout_cb, l);
	l->push_ev = event_new(l->base, -1, 0, push_cb, l);
	l->inbox_ev = event_new(l->base, -1, 0, inbox_cb, l);
	sweep = sweep_period(s->cfg);
	if (l->accept_ev == NULL || l->pause_ev == NULL || l->stop_ev == NULL ||
	    l->sweep_ev == NULL || l->drain_ev == NULL || l->push_ev == NULL ||
	    l->inbox_ev == NULL ||
	    event_add(l->accept_ev, NULL) != 0 ||
	    event_add(l->sweep_ev, &sweep) != 0) {
		log_warnx("%s: cannot set up events", name);
		return -1;
	}
	return 0;
}

static void
loop_close(struct loop *l)
{
	/* Replies the ledger called back at its close go out first. */
	push_run(l);
	while (!TAILQ_EMPTY(&l->conns))
		conn_free(TAILQ_FIRST(&l->conns));
	if (l->accept_ev != NULL)
		event_free(l->accept_ev);
	if (l->pause_ev != NULL)
		event_free(l->pause_ev);
	if (l->stop_ev != NULL)
		event_free(l->stop_ev);
	if (l->sweep_ev != NULL)
		event_free(l->sweep_ev);
	if (l->drain_ev != NULL)
		event_free(l->drain_ev);
	if (l->push_ev != NULL)
		event_free(l->push_ev);
	if (l->inbox_ev != NULL)
		event_free(l->inbox_ev);
	/* Handed over after the loop stopped: never served. */
	while (l->ninbox > 0)
		close(l->inbox[--l->ninbox]);
	free(l->inbox);
	pthread_mutex_destroy(&l->inbox_mu);
	if (l->lfd != -1 && !l->borrowed) {
		close(l->lfd);
		/* A passed socket stays: the service manager holds it for
		 * the next daemon. */
		if (!l->activated)
			unlink(l->path);
	}
	if (l->base != NULL)
		event_base_free(l->base);
}

int
server_open(const struct config *cfg, const uid_t *reserved, size_t n,
    const int lfds[2], server_handler verify, void *const *vargs,
    server_handler admin, void *aarg, struct server **out)
{
	struct server	*s;
	size_t		 i;

	/* Bases are woken from other threads (stops, the ledger). */
	if (evthread_use_pthreads() != 0) {
		log_warnx("libevent has no pthreads support");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->cfg = cfg;
	s->nverify = cfg->verify_threads > 0 ? cfg->verify_threads : 1;
	/* server_close() may meet loops that were never opened. */
	s->admin.lfd = -1;
	if ((s->verify = calloc(s->nverify, sizeof(*s->verify))) == NULL) {
		free(s);
		return -1;
	}
	for (i = 0; i < s->nverify; i++)
		s->verify[i].lfd = -1;
	if (n > CONFIG_SERVICE_USERS_MAX)
		n = CONFIG_SERVICE_USERS_MAX;
	if (n > 0)
		memcpy(s->reserved, reserved, n * sizeof(*reserved));
	s->nreserved = n;
	if (slots_init(&s->vslots, cfg) != 0 ||
	    slots_init(&s->aslots, cfg) != 0) {
		log_warnx("out of memory");
		server_close(s);
		return -1;
	}
	for (i = 0; i < s->nverify; i++)
		if (loop_open(s, &s->verify[i], "verify", "verify.sock",
		    lfds[0], i > 0 ? &s->verify[0] : NULL, &s->vslots,
		    PROTO_VERIFY_REQ_MAX, VERIFY_OUT_HIGH, verify,
		    vargs[i]) == -1) {
			server_close(s);
			return -1;
		}
	if (loop_open(s, &s->admin, "admin", "admin.sock", lfds[1], NULL,
	    &s->aslots, PROTO_ADMIN_MAX, ADMIN_OUT_HIGH, admin, aarg) == -1) {
		server_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

const char *
server_socket_path(const struct server *s, int admin)
{
	return admin ? s->admin.path : s->verify[0].path;
}

/* --- signals from other threads ------------------------------------------ */

static void
signal_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_signal *sg = arg;

	(void)fd;
	(void)what;
	sg->fn(sg->arg);
}

int
server_signal_new(struct server *s, size_t loop, void (*fn)(void *),
    void *arg, struct server_signal **out)
{
	struct server_signal *sg;

	if (loop >= s->nverify || (sg = calloc(1, sizeof(*sg))) == NULL)
		return -1;
	sg->fn = fn;
	sg->arg = arg;
	if ((sg->ev = event_new(s->verify[loop].base, -1, 0, signal_event_cb,
	    sg)) == NULL) {
		free(sg);
		return -1;
	}
	sg->next = s->signals;
	s->signals = sg;
	*out = sg;
	return 0;
}

void
server_signal_raise(struct server_signal *sg)
{
	/* Thread-safe: the bases were made after evthread_use_pthreads(). */
	event_active(sg->ev, EV_READ, 0);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_timer *t = arg;

	(void)fd;
	(void)what;
	t->fn(t->arg);
}

int
server_every(struct server *s, uint64_t period_ms, void (*fn)(void *),
    void *arg)
{
	struct server_timer *t;
	struct timeval	 tv;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->fn = fn;
	t->arg = arg;
	tv.tv_sec = (time_t)(period_ms / 1000);
	tv.tv_usec = (suseconds_t)(period_ms % 1000) * 1000;
	if ((t->ev = event_new(s->admin.base, -1, EV_PERSIST, timer_cb,
	    t)) == NULL || event_add(t->ev, &tv) != 0) {
		if (t->ev != NULL)
			event_free(t->ev);
		free(t);
		return -1;
	}
	t->next = s->timers;
	s->timers = t;
	return 0;
}

/* --- running ---------------------------------------------------------- */

/* Stops every loop but the first, which the caller stops itself: each
 * drains on its own thread (stop_cb), or ends at once when draining. */
static void
stop_others(struct server *s)
{
	size_t	 i;

	for (i = 1; i < s->nverify; i++)
		event_active(s->verify[i].stop_ev, EV_READ, 0);
	event_active(s->admin.stop_ev, EV_READ, 0);
}

/* The connections of a socket, all its loops together. */
static unsigned
slots_count(struct slots *sl)
{
	unsigned	 n;

	pthread_mutex_lock(&sl->mu);
	n = sl->nconns;
	pthread_mutex_unlock(&sl->mu);
	return n;
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server	*s = arg;

	(void)what;
	if (sig == SIGHUP) {
		log_info("SIGHUP ignored: restart apikeyd to apply a new "
		    "configuration");
		return;
	}
	if (s->verify[0].draining) {
		log_info("received %s again, stopping now", strsignal((int)sig));
		event_base_loopbreak(s->verify[0].base);
		stop_others(s);
		return;
	}
	log_info("received %s, shutting down: answering %u verify and %u "
	    "admin connections first", strsignal((int)sig),
	    slots_count(&s->vslots), slots_count(&s->aslots));
	sysd_stopping("Stopping: answering what was asked");
	loop_drain(&s->verify[0]);
	stop_others(s);
}

/*
 * Fed from the first verify loop, which must never block, and only while
 * every verify loop turns (each notes the time in its sweep): if one
 * stops, the service manager restarts the daemon. The admin loop may wait
 * on NSS for as long as the directory takes, by design, so it is not
 * watched.
 */
static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*s = arg;
	struct timeval	 sweep = sweep_period(s->cfg);
	uint64_t	 now = clock_now_ms(), turned, late;
	size_t		 i;

	(void)fd;
	(void)what;
	/* A sweep is due every period; allow two and the feeding's own. */
	late = s->watchdog_ms + 2 * ((uint64_t)sweep.tv_sec * 1000 +
	    (uint64_t)sweep.tv_usec / 1000);
	for (i = 1; i < s->nverify; i++) {
		turned = atomic_load_explicit(&s->verify[i].turned_ms,
		    memory_order_relaxed);
		if (now > turned && now - turned > late) {
			if (!s->stalled_logged)
				log_warnx("verify loop %zu has not turned for "
				    "%llu ms: no longer feeding the watchdog",
				    i, (unsigned long long)(now - turned));
			s->stalled_logged = 1;
			return;
		}
	}
	sysd_watchdog();
}

static int
watchdog_start(struct server *s)
{
	uint64_t	 ms = sysd_watchdog_ms() / 2;
	struct timeval	 tv;

	if (ms == 0)
		return 0;
	s->watchdog_ms = ms;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if ((s->watchdog_ev = event_new(s->verify[0].base, -1, EV_PERSIST,
	    watchdog_cb, s)) == NULL || event_add(s->watchdog_ev, &tv) != 0) {
		log_warnx("cannot set up the watchdog timer");
		return -1;
	}
	log_debug("feeding the watchdog every %llu ms",
	    (unsigned long long)ms);
	return 0;
}

/* A loop on a thread of its own: the admin loop, or a verify loop but
 * the first. */
static void *
loop_main(void *arg)
{
	struct loop	*l = arg;
	struct server	*s = l->srv;
	char		 name[SERVER_THREAD_NAME];

	/* For top -H and /proc/PID/task/TID/comm. */
	if (l == &s->admin)
		snprintf(name, sizeof(name), "apikeyd-admin");
	else
		snprintf(name, sizeof(name), "apikeyd-verify%zu",
		    (size_t)(l - s->verify));
	(void)pthread_setname_np(pthread_self(), name);
	event_base_dispatch(l->base);
	/* Tell the first loop, which waits for the last of us. */
	atomic_fetch_sub(&s->threads, 1);
	event_active(s->thread_done_ev, EV_READ, 0);
	return NULL;
}

/* On the first loop: a loop thread ended. Once the first loop has ended
 * its own and the last thread is done, the wait is over. */
static void
thread_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*s = arg;

	(void)fd;
	(void)what;
	if (s->joining && atomic_load(&s->threads) == 0)
		event_base_loopbreak(s->verify[0].base);
}

static void
loopbreak_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static const int server_sigs[] = { SIGTERM, SIGINT, SIGHUP };

static void
server_sigset(sigset_t *set)
{
	size_t	 i;

	sigemptyset(set);
	for (i = 0; i < sizeof(server_sigs) / sizeof(server_sigs[0]); i++)
		sigaddset(set, server_sigs[i]);
}

void
server_block_signals(void)
{
	sigset_t set;

	server_sigset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Starts l on a thread of its own, which takes no signals. */
static int
loop_start(struct server *s, struct loop *l)
{
	sigset_t	 all, old;
	int		 rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	atomic_fetch_add(&s->threads, 1);
	rc = pthread_create(&l->thread, NULL, loop_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		atomic_fetch_sub(&s->threads, 1);
		errno = rc;
		log_warn("pthread_create");
		return -1;
	}
	l->running = 1;
	return 0;
}

/* Waits for l's thread until deadline. 0, or -1 if it did not stop. */
static int
loop_join(struct loop *l, const struct timespec *deadline)
{
	if (!l->running)
		return 0;
	if (pthread_clockjoin_np(l->thread, NULL, CLOCK_MONOTONIC,
	    deadline) != 0)
		return -1;
	l->running = 0;
	return 0;
}

int
server_run(struct server *s)
{
	const int *sigs = server_sigs;
	struct loop	*first = &s->verify[0];
	struct timespec	 deadline;
	struct timeval	 tv;
	sigset_t	 set;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; i < 3; i++) {
		s->sigs[i] = evsignal_new(first->base, sigs[i], signal_cb, s);
		if (s->sigs[i] == NULL || event_add(s->sigs[i], NULL) != 0) {
			log_warnx("cannot install signal handlers");
			return -1;
		}
	}
	if (watchdog_start(s) != 0)
		return -1;
	if ((s->thread_done_ev = event_new(first->base, -1, 0,
	    thread_done_cb, s)) == NULL || (s->join_ev = evtimer_new(
	    first->base, loopbreak_cb, first->base)) == NULL) {
		log_warnx("cannot set up events");
		return -1;
	}
	/* Signals go to the first verify loop only. */
	if (loop_start(s, &s->admin) != 0)
		rc = -1;
	for (i = 1; i < s->nverify && rc == 0; i++)
		if (loop_start(s, &s->verify[i]) != 0)
			rc = -1;
	/* Handled from here on: one that came while starting is now. */
	server_sigset(&set);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (rc == 0) {
		log_info("listening on %s (%zu verify thread%s) and %s%s",
		    first->path, s->nverify, s->nverify == 1 ? "" : "s",
		    s->admin.path, first->activated || s->admin.activated ?
		    " (passed by the service manager)" : "");
		sysd_ready("Serving %s and %s", first->path, s->admin.path);
		event_base_dispatch(first->base);
	}

	/* A signal started the others' drains already; anything else that
	 * ended the first loop stops them now. */
	if (!first->draining)
		stop_others(s);
	/*
	 * Wait for the other loops to finish their drains on the first loop,
	 * which still takes signals: a second one stops them all at once.
	 */
	s->joining = 1;
	if (atomic_load(&s->threads) > 0) {
		tv.tv_sec = SERVER_JOIN_MS / 1000;
		tv.tv_usec = (SERVER_JOIN_MS % 1000) * 1000;
		evtimer_add(s->join_ev, &tv);
		event_base_dispatch(first->base);
	}
	/* A deadline, so on the monotonic clock (clock.h). */
	clock_deadline(&deadline, 1000);
	for (i = 1; i < s->nverify; i++)
		if (loop_join(&s->verify[i], &deadline) != 0) {
			log_warnx("verify loop %zu did not stop within %d ms",
			    i, SERVER_JOIN_MS);
			return 1;
		}
	if (loop_join(&s->admin, &deadline) != 0) {
		/* Stuck in NSS or a store write: do not free under it. */
		log_warnx("admin thread did not stop within %d ms",
		    SERVER_JOIN_MS);
		return 1;
	}
	return rc;
}

void
server_close(struct server *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < 3; i++)
		if (s->sigs[i] != NULL)
			event_free(s->sigs[i]);
	if (s->watchdog_ev != NULL)
		event_free(s->watchdog_ev);
	if (s->thread_done_ev != NULL)
		event_free(s->thread_done_ev);
	if (s->join_ev != NULL)
		event_free(s->join_ev);
	while (s->signals != NULL) {
		struct server_signal *sg = s->signals;

		s->signals = sg->next;
		event_free(sg->ev);
		free(sg);
	}
	while (s->timers != NULL) {
		struct server_timer *t = s->timers;

		s->timers = t->next;
		event_free(t->ev);
		free(t);
	}
	/* Borrowing loops first: the first closes the shared socket. */
	for (i = s->nverify; i-- > 0;)
		loop_close(&s->verify[i]);
	free(s->verify);
	if (!s->admin.running)
		loop_close(&s->admin);
	slots_free(&s->vslots);
	if (!s->admin.running)
		slots_free(&s->aslots);
	free(s);
}
