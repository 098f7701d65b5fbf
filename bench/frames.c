/*
 * frames.c - the size of one verify request and of its reply, as apikeyd
 * and libapikey put them on the wire, for the echo reference (echo.c) to
 * move the same bytes. Measured rather than written down, so the echo
 * follows any change of the protocol: a relay thread listens on a socket
 * of our own, in a private directory (which libapikey trusts, as we own
 * it), passes bytes both ways to apikeyd's verify.sock and counts them.
 * Two verifies go through it; the second one's bytes are the answer, so
 * whatever a connection sends once does not count.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

struct relay {
	int		 lfd;
	char		 upstream[sizeof(((struct sockaddr_un *)0)->sun_path)];
	_Atomic uint64_t up, down;	/* bytes to apikeyd, and back */
	char		 err[128];	/* the relay's failure, or "" */
};

static int
unix_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Writes all of buf; 0 or -1. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *
relay_main(void *arg)
{
	struct relay		*r = arg;
	struct sockaddr_un	 sun;
	struct pollfd		 pfd[2];
	char			 buf[65536];
	ssize_t			 n;
	int			 cfd, ufd = -1, i;

	if ((cfd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		snprintf(r->err, sizeof(r->err), "accept: %s",
		    strerror(errno));
		return NULL;
	}
	if (unix_addr(&sun, r->upstream) == -1 ||
	    (ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(ufd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(r->err, sizeof(r->err), "connect %s: %s",
		    r->upstream, strerror(errno));
		goto out;
	}
	pfd[0].fd = cfd;
	pfd[1].fd = ufd;
	pfd[0].events = pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].revents == 0)
				continue;
			if ((n = read(pfd[i].fd, buf, sizeof(buf))) <= 0)
				goto out;
			/* Counted before it is passed on: the client's call
			 * returns only after the bytes reached it. */
			atomic_fetch_add(i == 0 ? &r->up : &r->down,
			    (uint64_t)n);
			if (write_all(pfd[1 - i].fd, buf, (size_t)n) == -1)
				goto out;
		}
	}
 out:
	if (ufd != -1)
		close(ufd);
	close(cfd);
	return NULL;
}

static int
verify_once(struct apikey_client *c, const char *token, char *err,
    size_t errlen)
{
	struct apikey_result	*res;
	int			 rc;

	if ((rc = apikey_verify(c, token, NULL, &res)) != 0) {
		snprintf(err, errlen, "verify through the relay: %s (%s)",
		    apikey_strerror(rc), apikey_last_error(c));
		return -1;
	}
	apikey_result_free(res);
	return 0;
}

int
frames_measure(const char *sockdir, int timeout_ms, const char *token,
    size_t *req_len, size_t *rep_len, char *err, size_t errlen)
{
	struct relay		 r = { .lfd = -1 };
	struct sockaddr_un	 sun;
	struct apikey_client	*c = NULL;
	char			 dir[] = "/tmp/apikey-bench-relay.XXXXXX";
	char			 path[sizeof(dir) + 16];
	uint64_t		 up1, down1;
	pthread_t		 tid;
	int			 started = 0, rc = -1;

	if (mkdtemp(dir) == NULL) {
		snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/verify.sock", dir);
	snprintf(r.upstream, sizeof(r.upstream), "%s/verify.sock", sockdir);
	if (unix_addr(&sun, path) == -1 ||
	    (r.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(r.lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(r.lfd, 1) == -1) {
		snprintf(err, errlen, "relay socket %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((errno = pthread_create(&tid, NULL, relay_main, &r)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(errno));
		goto out;
	}
	started = 1;
	if ((rc = apikey_open(dir, timeout_ms, &c)) != 0) {
		snprintf(err, errlen, "apikey_open %s: %s", dir,
		    apikey_strerror(rc));
		rc = -1;
		goto out;
	}
	rc = -1;
	if (verify_once(c, token, err, errlen) != 0)
		goto out;
	up1 = atomic_load(&r.up);
	down1 = atomic_load(&r.down);
	if (verify_once(c, token, err, errlen) != 0)
		goto out;
	*req_len = (size_t)(atomic_load(&r.up) - up1);
	*rep_len = (size_t)(atomic_load(&r.down) - down1);
	if (*req_len == 0 || *rep_len == 0) {
		snprintf(err, errlen, "the relay saw no bytes of a verify");
		goto out;
	}
	rc = 0;
 out:
	/* Closing the client ends the relay's connection, and its thread. */
	apikey_close(c);
	if (started) {
		if (c == NULL)
			shutdown(r.lfd, SHUT_RDWR);
		pthread_join(tid, NULL);
	}
	/* The relay's own failure says more than the client's. */
	if (r.err[0] != '\0') {
		snprintf(err, errlen, "relay: %s", r.err);
		rc = -1;
	}
	if (r.lfd != -1)
		close(r.lfd);
	unlink(path);
	rmdir(dir);
	return rc;
}
