/*
 * client.c - libapikey's connection to apikeyd: socket path resolution,
 * connect with a deadline, the check of who serves the socket, and the
 * request/reply round trip; also the bounded string copies with which every
 * call fills its request fields.
 *
 * The expected workload is a PAM module or a service doing one verify at a
 * time per client, each a small frame, so a call is blocking and strictly
 * sequential: one request, then its reply frames, all within one deadline
 * taken from CLOCK_MONOTONIC when the call starts. The socket is
 * nonblocking so that poll() enforces that deadline on connect, send and
 * receive alike; but from a connection's second call on, the first wait
 * for each reply is a blocking recv() bounded by SO_RCVTIMEO (see
 * recv_frame), which saves the poll() that came before it: the one system
 * call a verify made beyond a plain echo's send and recv. Any timeout, I/O error or protocol confusion drops the
 * connection, so a late reply can never be taken for the answer to a later
 * request; the next call reconnects.
 *
 * Requests carry tokens, so every new connection (at open and at every
 * reconnect) is checked before its first byte is sent: the process that
 * listens on the socket, as SO_PEERCRED reports it, must be root; or own
 * the socket's directory, when that directory is not writable by group or
 * others (the packaged daemon owns its RuntimeDirectory); or be the daemon
 * user, $APIKEY_DAEMON_USER (ignored by setuid programs) else "apikeyd".
 * Anyone else may have bound the socket in a badly configured directory,
 * and gets APIKEY_EUNTRUSTED and not a byte.
 *
 * A daemon over its connection limits answers the connection itself: one
 * error frame with request id 0, written right after accept(), then it
 * hangs up. Id 0 is never a request's, so such a frame is reported as the
 * refusal it is, whether it is read after a send failed because the daemon
 * had already gone, or read as the reply.
 *
 * A stopping daemon says goodbye the same way, with status ESHUTDOWN,
 * after the replies to every request it read; it reads nothing after it.
 * A request that met that frame instead of its reply was never acted on,
 * so it goes again on a new connection, within the call's deadline: across
 * a `systemctl restart`, the service manager keeps the listening socket
 * and the next daemon answers it. The request is kept until the call ends
 * for that, then wiped.
 *
 * The library runs inside other programs: it never raises SIGPIPE
 * (MSG_NOSIGNAL), keeps its socket off fds 0-2 and close-on-exec, and keeps
 * all state in the client object.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/pathtrust.h"
#include "internal.h"

#define VERIFY_SOCK_NAME	"verify.sock"
#define ADMIN_SOCK_NAME		"admin.sock"
/* Largest getpwnam_r buffer tried; entries are far smaller. */
#define PW_BUF_MAX		(1024 * 1024)

int64_t
akc_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline, 0 once it has passed. */
int
akc_left_ms(int64_t deadline)
{
	int64_t	left;

	left = deadline - akc_now_ms();
	if (left <= 0)
		return 0;
	if (left > INT_MAX)
		return INT_MAX;
	return (int)left;
}

/*
 * Waits until fd reports one of events, an error or a hangup (the next
 * send or recv tells which), or until the deadline: APIKEY_EUNAVAIL.
 */
int
akc_wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd	pfd;
	int		t, n;

	for (;;) {
		if ((t = akc_left_ms(deadline)) == 0)
			return APIKEY_EUNAVAIL;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, t);
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return APIKEY_EUNAVAIL;
		/* Timed out (maybe early by rounding) or EINTR: re-check. */
	}
}

void
akc_disconnect(struct apikey_client *c)
{
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	secret_wipe(c->rx, c->rxlen);
	c->rxlen = 0;
}

/*
 * The directory the socket is in: path up to its last slash, without
 * trailing slashes ("/" for "/x.sock", "." for a bare name). Trailing
 * slashes would make lstat() follow a symbolic link.
 */
static void
socket_dir(const char *path, char dir[AKC_PATH_MAX])
{
	const char	*slash = strrchr(path, '/');
	size_t		 n;

	if (slash == NULL) {
		memcpy(dir, ".", 2);
		return;
	}
	n = (size_t)(slash - path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n == 0)
		n = 1;		/* the root directory */
	memcpy(dir, path, n);
	dir[n] = '\0';
}

/*
 * Looks up the daemon user: $APIKEY_DAEMON_USER, else
 * APIKEY_DEFAULT_DAEMON_USER. secure_getenv() keeps a setuid program's
 * caller from naming a user of their own. Returns 0 with *uid set,
 * APIKEY_ENOTFOUND when there is no such user or NSS failed (either way
 * nobody is trusted by name), or APIKEY_ENOMEM.
 */
static int
daemon_uid(uid_t *uid)
{
	struct passwd	 pw, *res = NULL;
	const char	*name;
	char		*buf = NULL, *nbuf;
	size_t		 size = 1024;
	int		 err, rc;

	name = secure_getenv("APIKEY_DAEMON_USER");
	if (name == NULL || *name == '\0')
		name = APIKEY_DEFAULT_DAEMON_USER;
	for (;;) {
		if ((nbuf = realloc(buf, size)) == NULL) {
			rc = APIKEY_ENOMEM;
			goto out;
		}
		buf = nbuf;
		err = getpwnam_r(name, &pw, buf, size, &res);
		if (err != ERANGE || size >= PW_BUF_MAX)
			break;
		size *= 2;
	}
	if (err == ENOMEM) {
		rc = APIKEY_ENOMEM;
		goto out;
	}
	if (err != 0 || res == NULL) {
		rc = APIKEY_ENOTFOUND;
		goto out;
	}
	*uid = res->pw_uid;
	rc = 0;
 out:
	free(buf);
	return rc;
}

/*
 * May the process listening on fd, c's new connection, hear our requests?
 * On a connected Unix stream socket SO_PEERCRED gives the credentials the
 * server had when it called listen(). Checks go from cheap to dear: root
 * costs nothing, the directory one lstat(), and the daemon user a lookup
 * through NSS, which most connections (to a root daemon, or to one owning
 * its directory) never need. Returns 0, APIKEY_EUNTRUSTED with c's last
 * error naming the socket and the server's uid, or APIKEY_ENOMEM.
 */
static int
check_server(struct apikey_client *c, int fd)
{
	struct ucred	cred;
	struct stat	st;
	socklen_t	len;
	char		dir[AKC_PATH_MAX], why[AKC_PATH_MAX + 128];
	uid_t		duid;
	int		rc;

	len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    len != sizeof(cred)) {
		(void)snprintf(c->last_error, sizeof(c->last_error),
		    "cannot tell which process serves %s", c->path);
		return APIKEY_EUNTRUSTED;
	}
	if (cred.uid == 0)
		return 0;
	/*
	 * Only the owner (and root) can create a socket in a directory that
	 * group and others may not write, so its owner is who serves it;
	 * but only if the owner did not make the directory itself somewhere
	 * anyone may write (/tmp), so every directory on the way must be
	 * beyond others' reach too. lstat: a symbolic link is no such
	 * directory; its target could change after the connect.
	 */
	socket_dir(c->path, dir);
	if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & (S_IWGRP | S_IWOTH)) == 0 &&
	    st.st_uid == cred.uid && pathtrust_walk(dir, cred.uid, 0, why,
	    sizeof(why)) == 0)
		return 0;
	rc = daemon_uid(&duid);
	if (rc == APIKEY_ENOMEM)
		return rc;
	if (rc == 0 && duid == cred.uid)
		return 0;
	(void)snprintf(c->last_error, sizeof(c->last_error),
	    "%s is served by uid %u, not root or the daemon user", c->path,
	    (unsigned)cred.uid);
	return APIKEY_EUNTRUSTED;
}

int
akc_connect(struct apikey_client *c, int64_t deadline)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	int			fd, nfd, err, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* Length checked by resolve_path. */
	memcpy(sun.sun_path, c->path, strlen(c->path) + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return (errno == ENOMEM || errno == ENOBUFS) ?
		    APIKEY_ENOMEM : APIKEY_EUNAVAIL;
	/*
	 * A host that closed its stdio (a daemon loading a PAM module) would
	 * hand us fd 0, 1 or 2, and a later stray write to stdout would land
	 * in the daemon's socket. Move above 2; the duplicate shares
	 * O_NONBLOCK, which lives in the open file description.
	 */
	if (fd <= 2) {
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		close(fd);
		if (nfd == -1)
			return APIKEY_EUNAVAIL;
		fd = nfd;
	}

	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		goto done;
	/*
	 * Unix sockets connect at once or fail at once (EAGAIN: backlog
	 * full); EINPROGRESS and EINTR are handled for completeness.
	 */
	if (errno != EINPROGRESS && errno != EINTR) {
		rc = (errno == ENOMEM || errno == ENOBUFS) ?
		    APIKEY_ENOMEM : APIKEY_EUNAVAIL;
		goto fail;
	}
	if ((rc = akc_wait_fd(fd, POLLOUT, deadline)) != 0)
		goto fail;
	err = 0;
	len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0) {
		rc = APIKEY_EUNAVAIL;
		goto fail;
	}
 done:
	/* Before a single byte goes out: requests may hold tokens. */
	if ((rc = check_server(c, fd)) != 0)
		goto fail;
	c->fd = fd;
	c->rxlen = 0;
	c->calls = 0;
	c->blocking = 0;
	return 0;
 fail:
	close(fd);
	return rc;
}

/*
 * A connection used for a second call is likely to be used for many (one
 * used once, such as apikeyctl's, pays nothing): its socket now blocks,
 * with a receive timeout of timeout_ms - 1, so that recv_frame may wait
 * in recv() itself. Writes keep MSG_DONTWAIT and their poll. Two system
 * calls, once; on failure the socket stays as it was.
 */
static void
go_blocking(struct apikey_client *c)
{
	struct timeval	 tv;
	int		 ms = c->timeout_ms - 1;

	if (ms < 1)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
	    fcntl(c->fd, F_SETFL, 0) == 0)
		c->blocking = 1;
}

/*
 * Reads until c->rx starts with a whole frame and sets *framelen to its
 * size. The receive buffer holds exactly one largest frame, and consumed
 * frames are moved out (recv_consume), so a complete frame always fits.
 *
 * A reply is rarely there already, so the first wait is not a recv that
 * would say EAGAIN: on a blocking socket it is a recv that waits, when the
 * whole timeout but the millisecond its clock may have ticked is still
 * left (SO_RCVTIMEO is timeout_ms - 1, so it cannot outlast the deadline);
 * otherwise, and for every later wait, a poll up to the deadline.
 */
static int
recv_frame(struct apikey_client *c, int64_t deadline, size_t *framelen)
{
	size_t	flen;
	ssize_t	n;
	int	rc, flags, waited = 0;

	for (;;) {
		rc = proto_frame_peek(c->rx, c->rxlen, c->rxcap, &flen);
		if (rc == 0) {
			*framelen = flen;
			return 0;
		}
		if (rc < 0 || c->rxlen == c->rxcap)
			return APIKEY_EPROTO;
		flags = MSG_DONTWAIT;
		if (c->blocking && !waited &&
		    akc_left_ms(deadline) >= c->timeout_ms - 1)
			flags = 0;
		else if ((rc = akc_wait_fd(c->fd, POLLIN, deadline)) != 0)
			return rc;
		waited = 1;
		n = recv(c->fd, c->rx + c->rxlen, c->rxcap - c->rxlen, flags);
		if (n > 0) {
			c->rxlen += (size_t)n;
			continue;
		}
		if (n == 0)
			return APIKEY_EUNAVAIL;		/* daemon hung up */
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			continue;
		return APIKEY_EUNAVAIL;
	}
}

/* Drops the first len bytes of c->rx, wiping what they leave behind. */
static void
recv_consume(struct apikey_client *c, size_t len)
{
	size_t	rest = c->rxlen - len;

	memmove(c->rx, c->rx + len, rest);
	secret_wipe(c->rx + rest, len);
	c->rxlen = rest;
}

int
akc_status_error(uint32_t status)
{
	switch (status) {
	case PROTO_OK:
		return 0;
	case PROTO_EBADREQ:
	case PROTO_EUNSUPPORTED:
		return APIKEY_EPROTO;
	case PROTO_EPERM:
		return APIKEY_EPERM;
	case PROTO_ENOTFOUND:
		return APIKEY_ENOTFOUND;
	case PROTO_EEXIST:
		return APIKEY_EEXIST;
	case PROTO_EINVAL:
		return APIKEY_EINVAL;
	case PROTO_ELIMIT:
		return APIKEY_ELIMIT;
	case PROTO_EINTERNAL:
		return APIKEY_EINTERNAL;
	case PROTO_EBUSY:
		return APIKEY_EBUSY;
	case PROTO_ESHUTDOWN:
		return AKC_EGOAWAY;
	case PROTO_EUNAVAIL:
		return APIKEY_EFLEET;
	case PROTO_ECONFLICT:
		return APIKEY_ECONFLICT;
	default:
		return APIKEY_EPROTO;
	}
}

/*
 * Is frame the daemon's refusal of the whole connection: a final error
 * reply with request id 0, which no request of ours has (akc_begin skips
 * it)? Returns its APIKEY_E* code with the daemon's message in
 * c->last_error, or 0 for any other frame, leaving c->last_error alone.
 */
int
akc_refusal(struct apikey_client *c, const uint8_t *frame, size_t len)
{
	struct proto_hdr	hdr;
	struct reader		body;
	uint32_t		status;
	char			msg[PROTO_MESSAGE_MAX + 1];

	if (proto_frame_open(frame, len, &hdr, &body) != 0 || hdr.id != 0 ||
	    !(hdr.opcode & PROTO_REPLY) || (hdr.flags & PROTO_F_MORE) ||
	    proto_dec_reply_head(&body, &status, msg) != 0 ||
	    status == PROTO_OK)
		return 0;
	akc_set_error(c, msg);
	return akc_status_error(status);
}

/*
 * The daemon closed the connection before our request was through. A
 * daemon refusing the connection said why first, and what it wrote stays
 * queued for us after it hung up (recv reports the reset only once the
 * queue is empty); read it, within the call's deadline. Nothing else it
 * could have sent answers this request, which it never read whole.
 * Returns the refusal's APIKEY_E* code, or APIKEY_EUNAVAIL.
 */
static int
hung_up(struct apikey_client *c, int64_t deadline)
{
	size_t	flen;
	int	rc;

	if (recv_frame(c, deadline, &flen) != 0)
		return APIKEY_EUNAVAIL;
	if ((rc = akc_refusal(c, c->rx, flen)) == 0)
		return APIKEY_EUNAVAIL;
	return rc;
}

static int
send_all(struct apikey_client *c, const uint8_t *p, size_t len,
    int64_t deadline, int *unsent_hangup)
{
	size_t	off = 0;
	ssize_t	n;
	int	rc;

	*unsent_hangup = 0;
	while (off < len) {
		n = send(c->fd, p + off, len - off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = akc_wait_fd(c->fd, POLLOUT, deadline)) != 0)
				return rc;
			continue;
		}
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET)) {
			/* Not a byte of it got there: safe to send again. */
			*unsent_hangup = off == 0;
			return hung_up(c, deadline);
		}
		return APIKEY_EUNAVAIL;
	}
	return 0;
}

/*
 * Handles one reply frame. Returns 0 when the exchange is complete, 1 when
 * more frames of a listing follow, or an APIKEY_E* code; *drop says the
 * connection must not be reused.
 */
static int
handle_frame(struct apikey_client *c, const uint8_t *frame, size_t len,
    akc_decode_fn fn, void *arg, int flags, size_t *items, int *drop)
{
	struct proto_hdr	hdr;
	struct reader		body;
	uint32_t		status;
	int			more, rc;

	*drop = 1;
	/*
	 * A daemon that refuses a whole connection, at its limit or on a
	 * broken frame, answers with id 0 and hangs up: report what it said.
	 */
	if ((rc = akc_refusal(c, frame, len)) != 0)
		return rc;
	if ((rc = proto_frame_open(frame, len, &hdr, &body)) != 0) {
		if (rc == PROTO_EVERSION)
			(void)snprintf(c->last_error, sizeof(c->last_error),
			    "apikeyd speaks another protocol version than "
			    "libapikey (%d): upgrade them together",
			    PROTO_VERSION);
		return APIKEY_EPROTO;
	}
	if (proto_dec_reply_head(&body, &status, c->last_error) != 0) {
		c->last_error[0] = '\0';
		return APIKEY_EPROTO;
	}
	more = (hdr.flags & PROTO_F_MORE) != 0;
	if (hdr.id != c->id || hdr.opcode != (c->op | PROTO_REPLY)) {
		c->last_error[0] = '\0';
		return APIKEY_EPROTO;
	}
	if (status != PROTO_OK) {
		if (more) {
			c->last_error[0] = '\0';
			return APIKEY_EPROTO;
		}
		/* The daemon hangs up after EBADREQ and EBUSY. */
		*drop = status == PROTO_EBADREQ || status == PROTO_EBUSY;
		/* A goodbye is never a reply to a request. */
		if (status == PROTO_ESHUTDOWN) {
			*drop = 1;
			return APIKEY_EPROTO;
		}
		return akc_status_error(status);
	}
	c->last_error[0] = '\0';
	if (more != 0 && !(flags & AKC_LIST))
		return APIKEY_EPROTO;
	if (more) {
		if (++*items > AKC_LIST_MAX)
			return APIKEY_EPROTO;
		if ((rc = fn(&body, arg)) != 0)
			return rc == APIKEY_ENOMEM ? rc : APIKEY_EPROTO;
		*drop = 0;
		return 1;
	}
	if (fn != NULL && !(flags & AKC_LIST)) {
		if ((rc = fn(&body, arg)) != 0)
			return rc == APIKEY_ENOMEM ? rc : APIKEY_EPROTO;
	} else if (proto_dec_empty(&body) != 0)
		return APIKEY_EPROTO;
	*drop = 0;
	return 0;
}

int
akc_enter(struct apikey_client *c, enum akc_role role)
{
	if (c == NULL)
		return APIKEY_EINVAL;
	c->last_error[0] = '\0';
	if (role == AKC_ADMIN && !c->admin) {
		akc_set_error(c, "management calls need apikey_open_admin()");
		return APIKEY_EINVAL;
	}
	if (role == AKC_VERIFY && c->admin) {
		akc_set_error(c, "verify needs a client from apikey_open()");
		return APIKEY_EINVAL;
	}
	return 0;
}

int
akc_enter_out(struct apikey_client *c, enum akc_role role, const void *out)
{
	int	rc;

	if ((rc = akc_enter(c, role)) != 0)
		return rc;
	return out == NULL ? APIKEY_EINVAL : 0;
}

struct writer *
akc_begin(struct apikey_client *c, uint8_t opcode)
{
	c->op = opcode;
	c->id = c->next_id++;
	if (c->next_id == 0)
		c->next_id = 1;
	proto_frame_init(&c->w, c->tx, c->txcap, opcode, 0, c->id);
	return &c->w;
}

/*
 * Whether what is left after a reply is a goodbye (or the start of one):
 * the reply stands, and the connection goes.
 */
static int
goodbye_follows(struct apikey_client *c)
{
	size_t	flen;
	int	rc;

	rc = proto_frame_peek(c->rx, c->rxlen, c->rxcap, &flen);
	if (rc == 1)
		return 1;	/* cut short: the rest is never read */
	if (rc != 0 || flen != c->rxlen ||
	    akc_refusal(c, c->rx, flen) != AKC_EGOAWAY)
		return 0;
	c->last_error[0] = '\0';
	return 1;
}

/*
 * One attempt at the request in c->tx: a connection (kept or new), the
 * request, and its reply frames. Returns as handle_frame does, with
 * AKC_EGOAWAY when the daemon said goodbye before answering.
 */
static int
exchange(struct apikey_client *c, int64_t deadline, akc_decode_fn fn,
    void *arg, int flags, int *drop)
{
	size_t	flen, items = 0;
	int	rc, reused, unsent;

	/*
	 * No look at the idle connection first: that poll was a system call
	 * per request, and what it could find is met anyway. A daemon that
	 * dropped the connection (idle_timeout, a refusal, a goodbye) makes
	 * the send fail, and hung_up() reads why; one that said goodbye
	 * while still up answers the request with that frame, which
	 * handle_frame() takes as the goodbye it is.
	 */
	*drop = 1;
	reused = c->fd != -1;
	if (c->fd == -1 && (rc = akc_connect(c, deadline)) != 0)
		return rc;
	if (++c->calls == 2)
		go_blocking(c);
	rc = send_all(c, c->tx, c->w.len, deadline, &unsent);
	/*
	 * The daemon closed an idle connection (idle_timeout) just as we
	 * sent: not a byte of the request got through, so it goes once more
	 * on a new connection, time allowing, rather than failing.
	 */
	if (rc == APIKEY_EUNAVAIL && reused && unsent &&
	    akc_left_ms(deadline) > 0) {
		akc_disconnect(c);
		if ((rc = akc_connect(c, deadline)) == 0)
			rc = send_all(c, c->tx, c->w.len, deadline, &unsent);
	}
	if (rc != 0)
		return rc;
	for (;;) {
		if ((rc = recv_frame(c, deadline, &flen)) != 0)
			return rc;
		rc = handle_frame(c, c->rx, flen, fn, arg, flags, &items,
		    drop);
		recv_consume(c, flen);
		if (rc != 1)
			break;
		/* A long listing is healthy while its frames come: the
		 * timeout bounds the wait for each. */
		deadline = akc_now_ms() + c->timeout_ms;
	}
	/* A goodbye after part of a listing cannot be resumed. */
	if (rc == AKC_EGOAWAY && items > 0)
		rc = APIKEY_EUNAVAIL;
	/* Nothing may follow the last frame, no request being outstanding,
	 * but a stopping daemon's goodbye, written right behind it. */
	if (rc == 0 && c->rxlen != 0) {
		*drop = 1;
		if (!goodbye_follows(c))
			rc = APIKEY_EPROTO;
	}
	return rc;
}

int
akc_call(struct apikey_client *c, akc_decode_fn fn, void *arg, int flags)
{
	int64_t	deadline;
	int	rc, drop = 1, tries;

	deadline = akc_now_ms() + c->timeout_ms;
	if (proto_frame_end(&c->w) != 0) {
		/* Field limits keep every request below the frame maximum. */
		rc = APIKEY_EINVAL;
		drop = 0;
		goto out;
	}
	for (tries = 1;; tries++) {
		rc = exchange(c, deadline, fn, arg, flags, &drop);
		if (rc != AKC_EGOAWAY)
			break;
		/* Never acted on: to the next daemon, time allowing. */
		akc_disconnect(c);
		if (tries == AKC_GOAWAY_TRIES || akc_left_ms(deadline) <= 0) {
			akc_set_error(c, "apikeyd is stopping");
			rc = APIKEY_EUNAVAIL;
			break;
		}
	}
 out:
	/* The request may hold a token. */
	secret_wipe(c->tx, c->txcap > c->w.len ? c->w.len : c->txcap);
	if (drop)
		akc_disconnect(c);
	else {
		secret_wipe(c->rx, c->rxlen);
		c->rxlen = 0;
	}
	return rc;
}

void
akc_set_error(struct apikey_client *c, const char *msg)
{
	size_t	n = strlen(msg);

	if (n > PROTO_MESSAGE_MAX)
		n = PROTO_MESSAGE_MAX;
	memcpy(c->last_error, msg, n);
	c->last_error[n] = '\0';
}

int
akc_copy(char *dst, const char *s, size_t max)
{
	size_t	n;

	if (s == NULL || (n = strnlen(s, max + 1)) > max)
		return APIKEY_EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int
akc_copy_name(char *dst, const char *s, size_t max)
{
	if (s == NULL || *s == '\0')
		return APIKEY_EINVAL;
	return akc_copy(dst, s, max);
}

int
akc_strlist_add(char *base, size_t stride, uint32_t *n, size_t maxn,
    size_t maxlen, const char *s)
{
	if (s == NULL || *s == '\0')
		return APIKEY_EINVAL;
	if (*n >= maxn)
		return APIKEY_ELIMIT;
	if (akc_copy(base + *n * stride, s, maxlen) != 0)
		return APIKEY_EINVAL;
	(*n)++;
	return 0;
}

/*
 * Picks the socket: path (a directory or a socket file), else
 * $APIKEY_SOCKET_DIR, else the default directory. A path that does not
 * exist is taken as a directory unless it ends in ".sock", so a missing
 * daemon shows up as APIKEY_EUNAVAIL at connect time.
 */
static int
resolve_path(const char *path, int admin, char out[AKC_PATH_MAX])
{
	const char	*name = admin ? ADMIN_SOCK_NAME : VERIFY_SOCK_NAME;
	struct stat	 st;
	size_t		 n;
	int		 isdir;

	if (path == NULL) {
		path = secure_getenv("APIKEY_SOCKET_DIR");
		if (path == NULL || *path == '\0')
			path = APIKEY_DEFAULT_SOCKET_DIR;
	}
	n = strlen(path);
	if (n == 0 || n >= AKC_PATH_MAX)
		return APIKEY_EINVAL;
	if (stat(path, &st) == 0)
		isdir = S_ISDIR(st.st_mode);
	else
		isdir = !(n >= 5 && strcmp(path + n - 5, ".sock") == 0);
	if (!isdir) {
		memcpy(out, path, n + 1);
		return 0;
	}
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n + 1 + strlen(name) >= AKC_PATH_MAX)
		return APIKEY_EINVAL;
	memcpy(out, path, n);
	out[n] = '\0';
	if (strcmp(out, "/") != 0)
		out[n++] = '/';
	memcpy(out + n, name, strlen(name) + 1);
	return 0;
}

static int
client_open(const char *path, int timeout_ms, int admin,
    struct apikey_client **out)
{
	struct apikey_client	*c = NULL;
	int			 rc;

	if (out == NULL)
		return APIKEY_EINVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return APIKEY_ENOMEM;
	c->fd = -1;
	c->admin = admin;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : APIKEY_DEFAULT_TIMEOUT_MS;
	c->next_id = 1;
	c->txcap = admin ? PROTO_ADMIN_MAX : PROTO_VERIFY_REQ_MAX;
	c->rxcap = admin ? PROTO_ADMIN_MAX : PROTO_VERIFY_REPLY_MAX;
	if ((rc = resolve_path(path, admin, c->path)) != 0)
		goto out;
	if ((c->tx = secret_alloc(c->txcap)) == NULL ||
	    (c->rx = secret_alloc(c->rxcap)) == NULL) {
		rc = APIKEY_ENOMEM;
		goto out;
	}
	/* A daemon refusing the connection says why in a frame that the
	 * first call reports, with the reason in apikey_last_error(): open
	 * has no client to leave the reason in. */
	if ((rc = akc_connect(c, akc_now_ms() + c->timeout_ms)) != 0)
		goto out;
	*out = c;
	c = NULL;	/* transferred */
 out:
	apikey_close(c);
	return rc;
}

APIKEY_EXPORT int
apikey_open(const char *path, int timeout_ms, struct apikey_client **out)
{
	return client_open(path, timeout_ms, 0, out);
}

APIKEY_EXPORT int
apikey_open_admin(const char *path, int timeout_ms,
    struct apikey_client **out)
{
	return client_open(path, timeout_ms, 1, out);
}

APIKEY_EXPORT void
apikey_close(struct apikey_client *c)
{
	if (c == NULL)
		return;
	akc_pipe_free(c);
	if (c->fd != -1)
		close(c->fd);
	secret_free(c->tx);
	secret_free(c->rx);
	free(c);
}

APIKEY_EXPORT const char *
apikey_last_error(const struct apikey_client *c)
{
	return c == NULL ? "" : c->last_error;
}

APIKEY_EXPORT const char *
apikey_strerror(int err)
{
	switch (err) {
	case APIKEY_OK:
		return "success";
	case APIKEY_EUNAVAIL:
		return "apikeyd is not reachable (not running, refusing "
		    "connections, or too slow)";
	case APIKEY_EPROTO:
		return "apikeyd sent a malformed or unexpected reply";
	case APIKEY_ENOMEM:
		return "out of memory";
	case APIKEY_EINVAL:
		return "invalid argument";
	case APIKEY_EPERM:
		return "permission denied";
	case APIKEY_ENOTFOUND:
		return "no such key, tenant, user or group";
	case APIKEY_EEXIST:
		return "already exists";
	case APIKEY_ELIMIT:
		return "a size or count limit was reached";
	case APIKEY_EINTERNAL:
		return "apikeyd failed internally (see its log)";
	case APIKEY_EBUSY:
		return "apikeyd is busy (connection limit reached)";
	case APIKEY_ENOUSER:
		return "no such local user";
	case APIKEY_EDENIED:
		return "this user may not use this key";
	case APIKEY_ENSS:
		return "user or group lookup failed";
	case APIKEY_EUNTRUSTED:
		return "apikeyd's socket is served by an untrusted process";
	case APIKEY_EAGAIN:
		return "no answer has arrived yet";
	case APIKEY_EFLEET:
		return "the fleet database is unreachable: nothing was changed";
	case APIKEY_ECONFLICT:
		return "changed meanwhile through another host: nothing was "
		    "changed; try again";
	default:
		return "unknown error";
	}
}

APIKEY_EXPORT const char *
apikey_code_name(enum apikey_code code)
{
	return proto_code_name((uint32_t)code);
}
