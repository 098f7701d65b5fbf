/*
 * server.c - sockets, framing, peer credentials and dispatch.
 *
 * Workload: many short verify requests, often pipelined on long-lived
 * connections from local daemons, and rare management requests. Each socket
 * has its own thread and libevent base; a connection never moves between
 * them. Input is read into a per-connection buffer of one maximum frame
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
	uint64_t	 active_ms;	/* last byte read or written */
	uint64_t	 partial_ms;	/* a frame began arriving; 0: none */
	struct stream	*stream;	/* a listing being produced */
};

struct uidcount {
	uid_t		 uid;
	unsigned	 n;
};

struct loop {
	struct server	*srv;
	const char	*name;
	struct event_base *base;
	int		 lfd;
	int		 activated;	/* lfd is the service manager's */
	int		 draining;	/* stopping: answer, then say goodbye */
	char		 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct event	*accept_ev;
	struct event	*pause_ev;
	struct event	*stop_ev;
	struct event	*sweep_ev;
	struct event	*drain_ev;	/* the drain's deadline */
	struct loglimit	*logs;
	size_t		 frame_max;
	size_t		 out_high;
	server_handler	 handler;
	void		*arg;
	unsigned	 nconns;
	TAILQ_HEAD(, conn) conns;
	struct uidcount	*uids;
	size_t		 nuids;
	size_t		 uidcap;
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
	struct loop	 verify;
	struct loop	 admin;
	pthread_t	 admin_thread;
	int		 admin_running;
	struct event	*sigs[3];
	struct event	*watchdog_ev;
	struct event	*admin_done_ev;	/* on the verify base */
	struct event	*join_ev;	/* the wait for it, bounded */
};

static void	conn_read_cb(evutil_socket_t, short, void *);
static int	conn_flush(struct conn *);
static void	conn_write_cb(evutil_socket_t, short, void *);
static void	conn_goaway(struct conn *);

/* --- per-uid connection counts ------------------------------------------ */

static struct uidcount *
uid_slot(struct loop *l, uid_t uid, int create)
{
	struct uidcount	*n;
	size_t		 i;

	for (i = 0; i < l->nuids; i++)
		if (l->uids[i].uid == uid)
			return &l->uids[i];
	if (!create)
		return NULL;
	if (l->nuids == l->uidcap) {
		size_t cap = l->uidcap ? l->uidcap * 2 : 16;
		if ((n = reallocarray(l->uids, cap, sizeof(*n))) == NULL)
			return NULL;
		l->uids = n;
		l->uidcap = cap;
	}
	l->uids[l->nuids].uid = uid;
	l->uids[l->nuids].n = 0;
	return &l->uids[l->nuids++];
}

/* Forgets an unused count (n == 0), keeping the array dense. */
static void
uid_release_slot(struct loop *l, struct uidcount *u)
{
	*u = l->uids[--l->nuids];
}

static void
uid_release(struct loop *l, uid_t uid)
{
	struct uidcount	*u = uid_slot(l, uid, 0);

	if (u != NULL && --u->n == 0)
		uid_release_slot(l, u);
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
	uint64_t	 suppressed = 0;

	if (l->logs == NULL)
		return 1;
	if (!loglimit_allow(l->logs, uid, clock_now_ms(), &suppressed))
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
	uid_release(l, c->peer.ruid);
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

void
conn_push(struct conn *c)
{
	if (!c->dead)
		(void)conn_flush(c);
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
 * Whether a new connection from p may stay. On refusal, writes the reason
 * into why. The last reserved_connections slots are only for root and the
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

	if (l->nconns >= max) {
		snprintf(why, whysz, "apikeyd has reached max_connections "
		    "(%u) on %s.sock", max, l->name);
		return 0;
	}
	if (l->nconns >= open && !reserved_uid(l->srv, p->ruid)) {
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

static void
conn_new(struct loop *l, int fd)
{
	struct uidcount	*u;
	struct conn	*c;
	struct peer	 p;
	char		 why[PROTO_MESSAGE_MAX + 1];

	if (peer_creds(fd, &p) == -1) {
		log_warn("%s: SO_PEERCRED", l->name);
		close(fd);
		return;
	}
	u = uid_slot(l, p.ruid, 1);
	if (!admit(l, &p, u, why, sizeof(why))) {
		if (u != NULL && u->n == 0)
			uid_release_slot(l, u);
		refuse(l, fd, &p, why);
		return;
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
		if (u->n == 0)
			uid_release_slot(l, u);
		close(fd);
		return;
	}
	u->n++;
	c->loop = l;
	c->fd = fd;
	c->peer = p;
	c->active_ms = clock_now_ms();
	TAILQ_INSERT_TAIL(&l->conns, c, entry);
	l->nconns++;
	event_add(c->rev, NULL);
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

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct loop	*l = arg;
	struct timeval	 tv = { 1, 0 };
	int		 fd, i;

	(void)what;
	for (i = 0; i < SERVER_ACCEPT_BATCH; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			conn_new(l, fd);
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
loop_open(struct server *s, struct loop *l, const char *name,
    const char *file, int lfd, size_t frame_max, size_t out_high,
    server_handler h, void *arg)
{
	struct timeval	 sweep;

	l->srv = s;
	l->name = name;
	l->lfd = -1;
	l->frame_max = frame_max;
	l->out_high = out_high;
	l->handler = h;
	l->arg = arg;
	TAILQ_INIT(&l->conns);
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
	if (lfd != -1) {
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
	sweep = sweep_period(s->cfg);
	if (l->accept_ev == NULL || l->pause_ev == NULL || l->stop_ev == NULL ||
	    l->sweep_ev == NULL || l->drain_ev == NULL ||
	    event_add(l->accept_ev, NULL) != 0 ||
	    event_add(l->sweep_ev, &sweep) != 0) {
		log_warnx("%s: cannot set up events", name);
		return -1;
	}
	if (s->cfg->log_lines > 0 && loglimit_new(s->cfg->log_lines,
	    s->cfg->log_window_ms, SERVER_LOG_SOURCES, &l->logs) != 0) {
		log_warnx("%s: out of memory", name);
		return -1;
	}
	return 0;
}

static void
loop_close(struct loop *l)
{
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
	loglimit_free(l->logs);
	if (l->lfd != -1) {
		close(l->lfd);
		/* A passed socket stays: the service manager holds it for
		 * the next daemon. */
		if (!l->activated)
			unlink(l->path);
	}
	if (l->base != NULL)
		event_base_free(l->base);
	free(l->uids);
}

int
server_open(const struct config *cfg, const uid_t *reserved, size_t n,
    const int lfds[2], server_handler verify, void *varg,
    server_handler admin, void *aarg, struct server **out)
{
	struct server	*s;

	/* The admin thread's base is woken from the verify thread. */
	if (evthread_use_pthreads() != 0) {
		log_warnx("libevent has no pthreads support");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	/* server_close() may meet a loop that was never opened. */
	s->verify.lfd = s->admin.lfd = -1;
	s->cfg = cfg;
	if (n > CONFIG_SERVICE_USERS_MAX)
		n = CONFIG_SERVICE_USERS_MAX;
	if (n > 0)
		memcpy(s->reserved, reserved, n * sizeof(*reserved));
	s->nreserved = n;
	if (loop_open(s, &s->verify, "verify", "verify.sock", lfds[0],
	    PROTO_VERIFY_REQ_MAX, VERIFY_OUT_HIGH, verify, varg) == -1 ||
	    loop_open(s, &s->admin, "admin", "admin.sock", lfds[1],
	    PROTO_ADMIN_MAX, ADMIN_OUT_HIGH, admin, aarg) == -1) {
		server_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

const char *
server_socket_path(const struct server *s, int admin)
{
	return admin ? s->admin.path : s->verify.path;
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
server_signal_new(struct server *s, void (*fn)(void *), void *arg,
    struct server_signal **out)
{
	struct server_signal *sg;

	if ((sg = calloc(1, sizeof(*sg))) == NULL)
		return -1;
	sg->fn = fn;
	sg->arg = arg;
	if ((sg->ev = event_new(s->verify.base, -1, 0, signal_event_cb,
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
	if (s->verify.draining) {
		log_info("received %s again, stopping now", strsignal((int)sig));
		event_base_loopbreak(s->verify.base);
		event_active(s->admin.stop_ev, EV_READ, 0);
		return;
	}
	log_info("received %s, shutting down: answering %u verify and %u "
	    "admin connections first", strsignal((int)sig), s->verify.nconns,
	    s->admin.nconns);
	sysd_stopping("Stopping: answering what was asked");
	loop_drain(&s->verify);
	event_active(s->admin.stop_ev, EV_READ, 0);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sysd_watchdog();
}

/*
 * The watchdog is fed from the verify loop, which must never block: if it
 * stops turning, the service manager restarts the daemon. The admin loop
 * may wait on NSS for as long as the directory takes, by design, so it is
 * not watched.
 */
static int
watchdog_start(struct server *s)
{
	uint64_t	 ms = sysd_watchdog_ms() / 2;
	struct timeval	 tv;

	if (ms == 0)
		return 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if ((s->watchdog_ev = event_new(s->verify.base, -1, EV_PERSIST,
	    watchdog_cb, s)) == NULL || event_add(s->watchdog_ev, &tv) != 0) {
		log_warnx("cannot set up the watchdog timer");
		return -1;
	}
	log_debug("feeding the watchdog every %llu ms",
	    (unsigned long long)ms);
	return 0;
}

static void *
admin_main(void *arg)
{
	struct server	*s = arg;

	event_base_dispatch(s->admin.base);
	/* Tell the verify thread, which waits on its own loop. */
	event_active(s->admin_done_ev, EV_READ, 0);
	return NULL;
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

int
server_run(struct server *s)
{
	const int *sigs = server_sigs;
	struct timespec	 deadline;
	struct timeval	 tv;
	sigset_t	 all, old;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; i < 3; i++) {
		s->sigs[i] = evsignal_new(s->verify.base, sigs[i], signal_cb,
		    s);
		if (s->sigs[i] == NULL || event_add(s->sigs[i], NULL) != 0) {
			log_warnx("cannot install signal handlers");
			return -1;
		}
	}
	if (watchdog_start(s) != 0)
		return -1;
	if ((s->admin_done_ev = event_new(s->verify.base, -1, 0, loopbreak_cb,
	    s->verify.base)) == NULL || (s->join_ev = evtimer_new(
	    s->verify.base, loopbreak_cb, s->verify.base)) == NULL) {
		log_warnx("cannot set up events");
		return -1;
	}
	/* Signals go to the verify thread only. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&s->admin_thread, NULL, admin_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* Handled from here on: one that came while starting is now. */
	server_sigset(&old);
	pthread_sigmask(SIG_UNBLOCK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		log_warn("pthread_create");
		return -1;
	}
	s->admin_running = 1;
	log_info("listening on %s and %s%s", s->verify.path, s->admin.path,
	    s->verify.activated || s->admin.activated ?
	    " (passed by the service manager)" : "");
	sysd_ready("Serving %s and %s", s->verify.path, s->admin.path);

	event_base_dispatch(s->verify.base);

	/* A signal started the admin loop's drain already; anything else
	 * that ended the verify loop stops it now. */
	if (!s->verify.draining)
		event_active(s->admin.stop_ev, EV_READ, 0);
	/*
	 * Wait for the admin loop to finish its drain on the verify loop,
	 * which still takes signals: a second one stops both at once.
	 */
	tv.tv_sec = SERVER_JOIN_MS / 1000;
	tv.tv_usec = (SERVER_JOIN_MS % 1000) * 1000;
	evtimer_add(s->join_ev, &tv);
	event_base_dispatch(s->verify.base);
	/* A deadline, so on the monotonic clock (clock.h). */
	clock_deadline(&deadline, 1000);
	if ((rc = pthread_clockjoin_np(s->admin_thread, NULL,
	    CLOCK_MONOTONIC, &deadline)) != 0) {
		/* Stuck in NSS or a store write: do not free under it. */
		log_warnx("admin thread did not stop within %d ms",
		    SERVER_JOIN_MS);
		return 1;
	}
	s->admin_running = 0;
	return 0;
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
	if (s->admin_done_ev != NULL)
		event_free(s->admin_done_ev);
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
	loop_close(&s->verify);
	if (!s->admin_running)
		loop_close(&s->admin);
	free(s);
}
