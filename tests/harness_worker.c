/*
 * harness_worker.c - the workers of harness_load.h: load clients that a
 * test runs as fixture users. A worker is the test binary itself, run
 * again with ITL_WORKER_ARG first; the constructor below takes over
 * before Criterion's main() and never returns to it. Being part of every
 * integration test binary, it does nothing unless called so.
 *
 * A worker is a plain client process: libapikey, raw sockets, stdio. It
 * reports on standard output a line at a time (flushed, for a test
 * waiting on it), keeps its ledger of acknowledged writes with one
 * write(2) a line, and bounds every wait of its own by DEADLINE_MS.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../libclient/apikey.h"
#include "../proto/proto.h"
#include "harness_load.h"

#define DEADLINE_MS	10000
#define MAX_CONNS	1024
#define STALL_BYTES	5
#define SOAK_LIVE	32
#define WRITES_TIMEOUT	5000

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

/* Reads standard input to its end, answering commands with cmd. */
static void
serve_input(void (*cmd)(const char *, void *), void *arg)
{
	char	 line[256];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (cmd != NULL)
			cmd(line, arg);
		else
			say("error unknown command %s", line);
		say("done");
	}
}

/* --- raw connections ------------------------------------------------------ */

static int
dial(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval	 tv = { DEADLINE_MS / 1000, 0 };
	int		 fd;

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

static void
ping_frame(uint8_t f[PROTO_HDR_LEN], uint32_t id)
{
	(void)itl_frame(f, ITL_LEN_AUTO, PROTO_VERSION, PROTO_OP_PING, id,
	    NULL, 0);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Reads len bytes by deadline: 0, 1 at end of file, -1 otherwise. */
static int
read_exact(int fd, uint8_t *p, size_t len, int64_t deadline)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	ssize_t		 n;
	int64_t		 left;

	while (len > 0) {
		if ((left = deadline - it_now_ms()) <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, p, len, MSG_DONTWAIT);
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

/* One reply frame: opcode, id, status and message; 0, 1 at end of file,
 * -1 on a timeout or a frame that is not a reply. */
static int
read_reply(int fd, uint8_t *op, uint32_t *id, uint32_t *status,
    char msg[PROTO_MESSAGE_MAX + 1])
{
	static uint8_t	 f[PROTO_ADMIN_MAX];
	int64_t		 deadline = it_now_ms() + DEADLINE_MS;
	uint32_t	 len, mlen;
	int		 rc;

	if ((rc = read_exact(fd, f, 4, deadline)) != 0)
		return rc;
	len = be32(f);
	if (len < PROTO_HDR_LEN - 4 + 10 || len > sizeof(f) - 4 ||
	    read_exact(fd, f + 4, len, deadline) != 0 ||
	    f[12] != BUF_T_U32 || f[17] != BUF_T_STR)
		return -1;
	mlen = be32(f + 18);
	if (mlen > PROTO_MESSAGE_MAX || 22 + mlen > 4 + len)
		return -1;
	*op = f[5];
	*id = be32(f + 8);
	*status = be32(f + 13);
	memcpy(msg, f + 22, mlen);
	msg[mlen] = '\0';
	return 0;
}

/* --- slow: byte-at-a-time and stalled clients ----------------------------- */

struct slow {
	int		 fd;
	int		 drip;		/* else it stalls */
	unsigned	 round;		/* PINGs answered */
	size_t		 off;		/* bytes of this PING sent */
	int		 waiting;	/* its last byte went: the answer */
	int64_t		 sent_ms;	/* a staller's bytes went */
	char		 result[PROTO_MESSAGE_MAX + 64];
};

static struct slow slows[MAX_CONNS];
static size_t nslows;

/* The answer to dripping connection s, or the end of a staller. */
static void
slow_readable(struct slow *s, size_t i)
{
	char		 msg[PROTO_MESSAGE_MAX + 1];
	uint32_t	 id, status;
	uint8_t		 op;
	int		 rc;

	rc = read_reply(s->fd, &op, &id, &status, msg);
	if (!s->drip && rc == 1)
		snprintf(s->result, sizeof(s->result), "%zu closed %lld", i,
		    (long long)(it_now_ms() - s->sent_ms));
	else if (rc == 0 && op == PROTO_REPLY && id == 0 &&
	    status == PROTO_EBUSY)
		snprintf(s->result, sizeof(s->result), "%zu ebusy %s", i, msg);
	else if (s->drip && rc == 0 && op == (PROTO_OP_PING | PROTO_REPLY) &&
	    id == s->round + 1 && status == PROTO_OK) {
		s->round++;
		s->off = 0;
		s->waiting = 0;
		return;
	} else if (rc == 0)
		snprintf(s->result, sizeof(s->result), "%zu %s op=0x%02x id=%u "
		    "status=%u %s", i, s->drip ? "drip-failed" : "frame",
		    (unsigned)op, (unsigned)id, (unsigned)status, msg);
	else
		snprintf(s->result, sizeof(s->result), "%zu %s %s", i,
		    s->drip ? "drip-failed" : "error", rc == 1 ? "eof" :
		    "timeout");
	close(s->fd);
	s->fd = -1;
}

static void
slow_ping(const char *line, void *arg)
{
	char		 msg[PROTO_MESSAGE_MAX + 1];
	uint8_t		 f[PROTO_HDR_LEN], op;
	uint32_t	 id, status;
	size_t		 i;

	(void)arg;
	if (strcmp(line, "ping") != 0) {
		say("error unknown command %s", line);
		return;
	}
	for (i = 0; i < nslows; i++) {
		if (!slows[i].drip || slows[i].fd == -1)
			continue;
		ping_frame(f, 0x7000);
		if (send(slows[i].fd, f, sizeof(f), MSG_NOSIGNAL) ==
		    (ssize_t)sizeof(f) && read_reply(slows[i].fd, &op, &id,
		    &status, msg) == 0 && op == (PROTO_OP_PING | PROTO_REPLY) &&
		    id == 0x7000 && status == PROTO_OK)
			say("%zu pong", i);
		else
			say("%zu eof", i);
	}
}

static int
slow_main(int argc, char **argv)
{
	struct pollfd	 pfd[MAX_CONNS];
	size_t		 idx[MAX_CONNS], i, n, ndrip, nstall;
	uint8_t		 f[PROTO_HDR_LEN];
	unsigned	 rounds;
	int64_t		 pace, next, deadline, left;
	int		 busy;

	if (argc != 5)
		return 2;
	ndrip = strtoul(argv[1], NULL, 10);
	nstall = strtoul(argv[2], NULL, 10);
	pace = strtol(argv[3], NULL, 10);
	rounds = (unsigned)strtoul(argv[4], NULL, 10);
	if (ndrip + nstall > MAX_CONNS || pace < 1 || rounds < 1)
		return 2;
	nslows = ndrip + nstall;
	for (i = 0; i < nslows; i++) {
		slows[i].drip = i < ndrip;
		if ((slows[i].fd = dial(argv[0])) == -1) {
			say("%zu error connect: %s", i, strerror(errno));
			return 1;
		}
		if (!slows[i].drip) {
			ping_frame(f, 1);
			slows[i].sent_ms = it_now_ms();
			if (send(slows[i].fd, f, STALL_BYTES, MSG_NOSIGNAL) !=
			    STALL_BYTES)
				snprintf(slows[i].result,
				    sizeof(slows[i].result), "%zu error send",
				    i);
		}
	}
	deadline = it_now_ms() + DEADLINE_MS + (int64_t)rounds *
	    PROTO_HDR_LEN * pace;
	next = it_now_ms();
	for (;;) {
		busy = 0;
		for (i = n = 0; i < nslows; i++) {
			if (slows[i].fd == -1 || (slows[i].drip &&
			    slows[i].round == rounds))
				continue;
			busy = 1;
			pfd[n].fd = slows[i].fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			idx[n++] = i;
		}
		if (!busy || it_now_ms() >= deadline)
			break;
		if (it_now_ms() >= next) {
			/* One more byte on every dripping connection. */
			for (i = 0; i < ndrip; i++) {
				if (slows[i].fd == -1 || slows[i].waiting ||
				    slows[i].round == rounds)
					continue;
				ping_frame(f, slows[i].round + 1);
				if (send(slows[i].fd, f + slows[i].off, 1,
				    MSG_NOSIGNAL) != 1) {
					snprintf(slows[i].result,
					    sizeof(slows[i].result), "%zu "
					    "drip-failed send: %s", i,
					    strerror(errno));
					close(slows[i].fd);
					slows[i].fd = -1;
					continue;
				}
				if (++slows[i].off == PROTO_HDR_LEN)
					slows[i].waiting = 1;
			}
			next += pace;
		}
		left = next - it_now_ms();
		if (poll(pfd, (nfds_t)n, left > 0 ? (int)left : 0) <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (pfd[i].revents != 0 && slows[idx[i]].fd != -1)
				slow_readable(&slows[idx[i]], idx[i]);
	}
	for (i = 0; i < nslows; i++) {
		if (slows[i].result[0] != '\0')
			say("%s", slows[i].result);
		else if (slows[i].drip && slows[i].round == rounds)
			say("%zu dripped %u", i, rounds);
		else if (slows[i].drip)
			say("%zu drip-failed after %u rounds", i,
			    slows[i].round);
		else
			say("%zu open", i);
	}
	say("ready");
	serve_input(slow_ping, NULL);
	return 0;
}

/* --- flood: connections that ask and wait --------------------------------- */

enum flood_state { F_WAITING, F_ANSWERED, F_REFUSED, F_CLOSED };

static int floods[MAX_CONNS];
static enum flood_state flood_st[MAX_CONNS];
static size_t nfloods;

static void
flood_count(long ms)
{
	struct pollfd	 pfd[MAX_CONNS];
	size_t		 idx[MAX_CONNS], i, n, c[4] = { 0 };
	char		 msg[PROTO_MESSAGE_MAX + 1];
	int64_t		 deadline = it_now_ms() + ms, left;
	uint32_t	 id, status;
	uint8_t		 op;
	int		 rc;

	for (;;) {
		for (i = n = 0; i < nfloods; i++) {
			if (floods[i] == -1 || flood_st[i] != F_WAITING)
				continue;
			pfd[n].fd = floods[i];
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			idx[n++] = i;
		}
		if (n == 0 || (left = deadline - it_now_ms()) <= 0)
			break;
		if (poll(pfd, (nfds_t)n, (int)left) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			rc = read_reply(pfd[i].fd, &op, &id, &status, msg);
			if (rc == 0 && op == (PROTO_OP_PING | PROTO_REPLY) &&
			    status == PROTO_OK)
				flood_st[idx[i]] = F_ANSWERED;
			else if (rc == 0 && status == PROTO_EBUSY)
				flood_st[idx[i]] = F_REFUSED;
			else
				flood_st[idx[i]] = F_CLOSED;
		}
	}
	for (i = 0; i < nfloods; i++)
		c[flood_st[i]]++;
	say("answered %zu refused %zu closed %zu waiting %zu", c[F_ANSWERED],
	    c[F_REFUSED], c[F_CLOSED], c[F_WAITING]);
}

static void
flood_cmd(const char *line, void *arg)
{
	size_t	 i;

	(void)arg;
	if (strncmp(line, "count ", 6) == 0)
		flood_count(strtol(line + 6, NULL, 10));
	else if (strcmp(line, "close") == 0) {
		for (i = 0; i < nfloods; i++)
			if (floods[i] != -1)
				close(floods[i]);
		nfloods = 0;
	} else
		say("error unknown command %s", line);
}

static int
flood_main(int argc, char **argv)
{
	uint8_t	 f[PROTO_HDR_LEN];
	size_t	 i;

	if (argc != 2 || (nfloods = strtoul(argv[1], NULL, 10)) < 1 ||
	    nfloods > MAX_CONNS)
		return 2;
	for (i = 0; i < nfloods; i++) {
		if ((floods[i] = dial(argv[0])) == -1) {
			say("%zu error connect: %s", i, strerror(errno));
			return 1;
		}
		ping_frame(f, (uint32_t)i + 1);
		if (send(floods[i], f, sizeof(f), MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(f))
			flood_st[i] = F_CLOSED;
	}
	say("ready");
	serve_input(flood_cmd, NULL);
	return 0;
}

/* --- ledgers -------------------------------------------------------------- */

static int ackfd = -1;

/* One line into the ledger, in one write(2), before anything else. */
static int
ack(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
ack(const char *fmt, ...)
{
	char	 line[256];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    write(ackfd, line, (size_t)n) != n) {
		say("error ledger write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* --- writes: creates and revokes, for a crash ----------------------------- */

static int
writes_main(int argc, char **argv)
{
	struct apikey_client *c = NULL;
	struct apikey_key *k;
	char		 (*ids)[APIKEY_KEY_ID_SIZE], *tok;
	unsigned long	 n, i, head = 0, tail = 0;
	int		 rc = 0;

	if (argc != 3 || (n = strtoul(argv[1], NULL, 10)) < 1)
		return 2;
	if ((ackfd = open(argv[2], O_WRONLY | O_APPEND | O_CLOEXEC)) == -1 ||
	    (ids = calloc(n, sizeof(*ids))) == NULL ||
	    (rc = apikey_open_admin(argv[0], WRITES_TIMEOUT, &c)) != 0) {
		say("error setup: %s %s", strerror(errno), apikey_strerror(rc));
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (i % 4 == 3 && head < tail) {
			if (ack("? r %s\n", ids[head]) != 0)
				return 1;
			if ((rc = apikey_key_revoke(c, ids[head])) != 0)
				break;
			if (ack("r %s\n", ids[head]) != 0)
				return 1;
			head++;
			continue;
		}
		if (ack("? c\n") != 0)
			return 1;
		k = NULL;
		tok = NULL;
		if ((rc = apikey_key_create(c, APIKEY_OWNER_SELF, NULL, NULL,
		    &k, &tok)) != 0)
			break;
		snprintf(ids[tail], sizeof(ids[tail]), "%s", apikey_key_id(k));
		rc = ack("c %s %s\n", ids[tail], tok);
		apikey_key_free(k);
		apikey_token_free(tok);
		if (rc != 0)
			return 1;
		tail++;
	}
	if (i < n)
		say("stopped %lu %d %s", i, rc, apikey_last_error(c));
	else
		say("wrote %lu", n);
	say("done");
	apikey_close(c);
	free(ids);
	close(ackfd);
	serve_input(NULL, NULL);
	return 0;
}

/* --- soak: everything a user does, at random ------------------------------ */

struct soak {
	struct apikey_client *admin;
	struct apikey_client *verify;
	enum apikey_owner_kind kind;
	const char	*owner;
	unsigned	 seed;
	char		 ids[SOAK_LIVE][APIKEY_KEY_ID_SIZE];
	char		*tokens[SOAK_LIVE];
	size_t		 nlive;
	unsigned long	 ops, verifies, names;
};

static int
soak_fail(struct soak *s, const char *what, int rc, struct apikey_client *c)
{
	say("error %s: %s (%s) after %lu operations", what,
	    apikey_strerror(rc), apikey_last_error(c), s->ops);
	return -1;
}

static int
soak_create(struct soak *s)
{
	struct apikey_key_spec *spec = apikey_key_spec_new();
	struct apikey_key *k = NULL;
	char		*tok = NULL;
	int		 expiring = rand_r(&s->seed) % 6 == 0, rc;

	if (spec == NULL || (expiring &&
	    apikey_key_spec_set_expires_in(spec, 1) != 0))
		return soak_fail(s, "spec", APIKEY_ENOMEM, s->admin);
	rc = apikey_key_create(s->admin, s->kind, s->owner, spec, &k, &tok);
	apikey_key_spec_free(spec);
	if (rc != 0)
		return soak_fail(s, "create", rc, s->admin);
	rc = ack("%c %s %s\n", expiring ? 'e' : 'c', apikey_key_id(k), tok);
	if (rc == 0 && !expiring) {
		snprintf(s->ids[s->nlive], sizeof(s->ids[0]), "%s",
		    apikey_key_id(k));
		s->tokens[s->nlive++] = tok;
		tok = NULL;	/* transferred */
	}
	apikey_key_free(k);
	apikey_token_free(tok);
	return rc;
}

static int
soak_revoke(struct soak *s, size_t i)
{
	int	 rc;

	if ((rc = apikey_key_revoke(s->admin, s->ids[i])) != 0)
		return soak_fail(s, "revoke", rc, s->admin);
	if (ack("r %s\n", s->ids[i]) != 0)
		return -1;
	apikey_token_free(s->tokens[i]);
	s->nlive--;
	memcpy(s->ids[i], s->ids[s->nlive], sizeof(s->ids[i]));
	s->tokens[i] = s->tokens[s->nlive];
	return 0;
}

static int
soak_rename(struct soak *s, size_t i)
{
	struct apikey_key_spec *spec = apikey_key_spec_new();
	char		 name[32];
	int		 rc;

	snprintf(name, sizeof(name), "n%lu", ++s->names);
	if (spec == NULL || apikey_key_spec_set_name(spec, name) != 0)
		return soak_fail(s, "spec", APIKEY_ENOMEM, s->admin);
	rc = apikey_key_update(s->admin, s->ids[i], spec, NULL);
	apikey_key_spec_free(spec);
	if (rc != 0)
		return soak_fail(s, "rename", rc, s->admin);
	return ack("u %s %s\n", s->ids[i], name);
}

static int
soak_rotate(struct soak *s, size_t i)
{
	char	*tok = NULL;
	int	 rc;

	if ((rc = apikey_key_rotate(s->admin, s->ids[i], 0, NULL, &tok)) != 0)
		return soak_fail(s, "rotate", rc, s->admin);
	if (ack("o %s %s\n", s->ids[i], tok) != 0) {
		apikey_token_free(tok);
		return -1;
	}
	apikey_token_free(s->tokens[i]);
	s->tokens[i] = tok;
	return 0;
}

static int
soak_verify(struct soak *s)
{
	struct apikey_result *res;
	size_t		 i, k;
	int		 rc;

	for (k = 0; k < 4 && s->nlive > 0; k++) {
		i = (size_t)rand_r(&s->seed) % s->nlive;
		res = NULL;
		if ((rc = apikey_verify(s->verify, s->tokens[i], NULL,
		    &res)) != 0)
			return soak_fail(s, "verify", rc, s->verify);
		rc = apikey_result_code(res);
		apikey_result_free(res);
		if (rc != APIKEY_VALID) {
			say("error verify of live key %s: %s after %lu "
			    "operations", s->ids[i],
			    apikey_code_name((enum apikey_code)rc), s->ops);
			return -1;
		}
		s->verifies++;
	}
	return 0;
}

/*
 * One operation: 30% creates (a revoke instead once 32 keys are live),
 * 15% renames, 10% rotations, 15% revokes, 3% purges, and 27% four
 * verifies.
 */
static int
soak_step(struct soak *s)
{
	unsigned	 purged;
	int		 r = rand_r(&s->seed) % 100, rc;
	size_t		 i = 0;

	if (s->nlive > 0)
		i = (size_t)rand_r(&s->seed) % s->nlive;
	if (s->nlive == 0 || (r < 30 && s->nlive < SOAK_LIVE))
		return soak_create(s);
	if (r < 30 || (r >= 55 && r < 70))
		return soak_revoke(s, i);
	if (r < 45)
		return soak_rename(s, i);
	if (r < 55)
		return soak_rotate(s, i);
	if (r < 73) {
		if ((rc = apikey_key_purge_expired(s->admin, &purged)) != 0)
			return soak_fail(s, "purge", rc, s->admin);
		return ack("p %u\n", purged);
	}
	return soak_verify(s);
}

static int
soak_main(int argc, char **argv)
{
	struct soak	 s;
	int64_t		 end;
	size_t		 i;
	int		 rc;

	memset(&s, 0, sizeof(s));
	if (argc < 5 || argc > 6)
		return 2;
	end = it_now_ms() + strtol(argv[1], NULL, 10) * 1000;
	s.seed = (unsigned)strtoul(argv[3], NULL, 10);
	if (strcmp(argv[4], "self") == 0 && argc == 5)
		s.kind = APIKEY_OWNER_SELF;
	else if (strcmp(argv[4], "user") == 0 && argc == 6)
		s.kind = APIKEY_OWNER_USER;
	else if (strcmp(argv[4], "tenant") == 0 && argc == 6)
		s.kind = APIKEY_OWNER_TENANT;
	else
		return 2;
	s.owner = argc == 6 ? argv[5] : NULL;
	if ((ackfd = open(argv[2], O_WRONLY | O_APPEND | O_CLOEXEC)) == -1 ||
	    (rc = apikey_open_admin(argv[0], DEADLINE_MS, &s.admin)) != 0 ||
	    (rc = apikey_open(argv[0], DEADLINE_MS, &s.verify)) != 0) {
		say("error setup: %s", strerror(errno));
		return 1;
	}
	while (it_now_ms() < end) {
		if (soak_step(&s) != 0)
			return 1;
		s.ops++;
	}
	say("ops %lu verifies %lu", s.ops, s.verifies);
	say("done");
	for (i = 0; i < s.nlive; i++)
		apikey_token_free(s.tokens[i]);
	apikey_close(s.admin);
	apikey_close(s.verify);
	close(ackfd);
	serve_input(NULL, NULL);
	return 0;
}

/* --- the entry ------------------------------------------------------------ */

/*
 * Runs before main(); a worker's arguments are "ITL_WORKER_ARG MODE
 * ARGS...". It exits with the worker's status (2: bad arguments).
 */
__attribute__((constructor)) static void
itl_worker_entry(int argc, char **argv, char **envp)
{
	static const struct {
		const char	*mode;
		int		(*fn)(int, char **);
	} modes[] = {
		{ "slow", slow_main },
		{ "flood", flood_main },
		{ "writes", writes_main },
		{ "soak", soak_main },
	};
	size_t	 i;

	(void)envp;
	if (argc < 3 || strcmp(argv[1], ITL_WORKER_ARG) != 0)
		return;
	/* setpriv cleared the parent-death signal with the uid change. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(argv[2], modes[i].mode) == 0)
			exit(modes[i].fn(argc - 3, argv + 3));
	fprintf(stderr, "%s: no worker mode %s\n", argv[0], argv[2]);
	exit(2);
}
