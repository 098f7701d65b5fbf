/*
 * echo.c - the echo reference of apikey-bench: the physical floor of a
 * request and reply over a Unix socket on this machine. A child process
 * serves a socket in a private directory from one epoll loop, as apikeyd
 * serves verify.sock from one event loop, and for every request's worth
 * of bytes it reads it writes a reply's worth, the sizes of a verify's
 * (frames.c), doing no other work. Its clients are driven like the
 * verify scenarios' (load.c): one connection at depth 1 writes a request
 * and reads its reply, plainly; otherwise each connection keeps depth
 * requests in flight, over poll(). The echo answers in order, so send
 * times queue per connection.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define IO_MAX		65536
#define POLL_MS		100

static char	 zeros[IO_MAX];

/* --- the server, in its own process --------------------------------------- */

struct econn {
	int		 fd;
	size_t		 partial;	/* bytes of a request not yet whole */
	size_t		 owe;		/* reply bytes not yet written */
	int		 want_out;
};

static void
econn_close(int ep, struct econn *e)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, e->fd, NULL);
	close(e->fd);
	free(e);
}

/* Writes what is owed; -1 when the connection is gone. */
static int
econn_flush(int ep, struct econn *e)
{
	struct epoll_event	 ev = { .data.ptr = e };
	ssize_t			 n;

	while (e->owe > 0) {
		n = write(e->fd, zeros, e->owe < IO_MAX ? e->owe : IO_MAX);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0)
			return -1;
		e->owe -= (size_t)n;
	}
	if ((e->owe > 0) != e->want_out) {
		e->want_out = e->owe > 0;
		ev.events = EPOLLIN | (e->want_out ? EPOLLOUT : 0);
		epoll_ctl(ep, EPOLL_CTL_MOD, e->fd, &ev);
	}
	return 0;
}

static void __attribute__((noreturn))
echo_serve(int lfd, size_t req_len, size_t rep_len)
{
	struct epoll_event	 ev, evs[64];
	static char		 buf[IO_MAX];
	struct econn		*e;
	ssize_t			 n;
	int			 ep, i, k, fd;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		_exit(1);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1)
		_exit(1);
	for (;;) {
		if ((k = epoll_wait(ep, evs, 64, -1)) == -1) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		for (i = 0; i < k; i++) {
			if ((e = evs[i].data.ptr) == NULL) {
				fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd == -1)
					continue;
				if ((e = calloc(1, sizeof(*e))) == NULL)
					_exit(1);
				e->fd = fd;
				ev.events = EPOLLIN;
				ev.data.ptr = e;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				n = read(e->fd, buf, sizeof(buf));
				if (n == -1 && (errno == EINTR ||
				    errno == EAGAIN))
					continue;
				if (n <= 0) {
					econn_close(ep, e);
					continue;
				}
				e->partial += (size_t)n;
				e->owe += e->partial / req_len * rep_len;
				e->partial %= req_len;
			}
			if (econn_flush(ep, e) == -1)
				econn_close(ep, e);
		}
	}
}

int
echo_start(struct echo_server *s, size_t req_len, size_t rep_len, char *err,
    size_t errlen)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	pid_t			 parent = getpid();
	int			 lfd;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/apikey-bench-echo.XXXXXX");
	if (mkdtemp(s->dir) == NULL) {
		snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(s->path, sizeof(s->path), "%s/echo.sock", s->dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", s->path);
	/* Listening before the fork: clients may connect at once. */
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(lfd, 128) == -1) {
		snprintf(err, errlen, "echo socket %s: %s", s->path,
		    strerror(errno));
		if (lfd != -1)
			close(lfd);
		echo_stop(s);
		return -1;
	}
	switch ((s->pid = fork())) {
	case -1:
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(lfd);
		echo_stop(s);
		return -1;
	case 0:
		/* Dies with the bench, however the bench ends. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(1);
		echo_serve(lfd, req_len, rep_len);
	default:
		break;
	}
	close(lfd);
	return 0;
}

void
echo_stop(struct echo_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) == -1 && errno == EINTR)
			;
		s->pid = 0;
	}
	if (s->path[0] != '\0')
		unlink(s->path);
	if (s->dir[0] != '\0')
		rmdir(s->dir);
	s->path[0] = s->dir[0] = '\0';
}

int
echo_connect(const struct echo_server *s, char *err, size_t errlen)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", s->path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "connect %s: %s", s->path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* --- the clients ---------------------------------------------------------- */

struct eclient {
	int		 fd;
	unsigned	 inflight;
	int64_t		*sent;		/* send times, a ring of depth */
	unsigned	 head;		/* the oldest */
	size_t		 rx;		/* bytes of a reply not yet whole */
	size_t		 tx;		/* request bytes not yet written */
};

static void
io_fail(struct worker *w, const char *what)
{
	run_fail(w->run, "%s: echo %s: %s", w->run->name, what,
	    errno != 0 ? strerror(errno) : "connection closed");
}

/* One connection, depth 1: write a request, read its reply. */
static void
echo_call(struct worker *w)
{
	static __thread char buf[IO_MAX];
	size_t		 got;
	ssize_t		 n;
	int64_t		 t0;
	int		 fd = w->fds[0];

	while (run_phase(w->run) != PH_STOP) {
		t0 = now_ns();
		if (write(fd, zeros, w->req_len) != (ssize_t)w->req_len) {
			io_fail(w, "write");
			return;
		}
		for (got = 0; got < w->rep_len; got += (size_t)n) {
			errno = 0;
			if ((n = read(fd, buf, w->rep_len - got)) <= 0) {
				if (n == -1 && errno == EINTR) {
					n = 0;
					continue;
				}
				io_fail(w, "read");
				return;
			}
		}
		worker_record(w, t0);
	}
}

/* Writes what is queued; -1 after run_fail(). */
static int
eclient_flush(struct worker *w, struct eclient *e)
{
	ssize_t	 n;

	while (e->tx > 0) {
		n = write(e->fd, zeros, e->tx < IO_MAX ? e->tx : IO_MAX);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			return 0;
		if (n <= 0) {
			io_fail(w, "write");
			return -1;
		}
		e->tx -= (size_t)n;
	}
	return 0;
}

static int
eclient_fill(struct worker *w, struct eclient *e)
{
	int64_t	 t = now_ns();

	while (e->inflight < w->depth && run_phase(w->run) != PH_STOP) {
		e->sent[(e->head + e->inflight) % w->depth] = t;
		e->inflight++;
		e->tx += w->req_len;
	}
	return eclient_flush(w, e);
}

static int
eclient_read(struct worker *w, struct eclient *e)
{
	static __thread char buf[IO_MAX];
	ssize_t	 n;

	errno = 0;
	n = read(e->fd, buf, sizeof(buf));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		io_fail(w, "read");
		return -1;
	}
	for (e->rx += (size_t)n; e->rx >= w->rep_len; e->rx -= w->rep_len) {
		if (e->inflight == 0) {
			run_fail(w->run, "%s: echo: a reply to no request",
			    w->run->name);
			return -1;
		}
		worker_record(w, e->sent[e->head]);
		e->head = (e->head + 1) % w->depth;
		e->inflight--;
	}
	return 0;
}

static void
echo_async(struct worker *w)
{
	struct eclient	*es;
	struct pollfd	*pfd;
	size_t		 i;
	unsigned	 inflight;

	es = calloc(w->nconns, sizeof(*es));
	pfd = calloc(w->nconns, sizeof(*pfd));
	if (es == NULL || pfd == NULL) {
		run_fail(w->run, "%s: out of memory", w->run->name);
		goto out;
	}
	for (i = 0; i < w->nconns; i++) {
		es[i].fd = w->fds[i];
		if ((es[i].sent = calloc(w->depth, sizeof(int64_t))) == NULL ||
		    fcntl(es[i].fd, F_SETFL, O_NONBLOCK) == -1) {
			run_fail(w->run, "%s: set-up: %s", w->run->name,
			    strerror(errno));
			goto out;
		}
	}
	for (;;) {
		inflight = 0;
		for (i = 0; i < w->nconns; i++) {
			if (eclient_fill(w, &es[i]) != 0)
				goto out;
			inflight += es[i].inflight;
			pfd[i].fd = es[i].fd;
			pfd[i].events = (short)(POLLIN |
			    (es[i].tx > 0 ? POLLOUT : 0));
			pfd[i].revents = 0;
		}
		if (inflight == 0 && run_phase(w->run) == PH_STOP)
			break;
		if (poll(pfd, (nfds_t)w->nconns, POLL_MS) == -1) {
			if (errno == EINTR)
				continue;
			io_fail(w, "poll");
			goto out;
		}
		for (i = 0; i < w->nconns; i++) {
			if ((pfd[i].revents & POLLOUT) &&
			    eclient_flush(w, &es[i]) != 0)
				goto out;
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    eclient_read(w, &es[i]) != 0)
				goto out;
		}
	}
 out:
	for (i = 0; es != NULL && i < w->nconns; i++)
		free(es[i].sent);
	free(es);
	free(pfd);
}

void *
echo_worker(void *arg)
{
	struct worker	*w = arg;

	if (w->nconns == 1 && w->depth == 1)
		echo_call(w);
	else
		echo_async(w);
	return NULL;
}
