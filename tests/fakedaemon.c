/*
 * fakedaemon.c - see fakedaemon.h.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fakedaemon.h"

int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
send_frame(int fd, struct writer *w)
{
	ssize_t	n;

	cr_assert_eq(proto_frame_end(w), 0);
	/* A client that dropped the connection (as it must after a reply
	 * that answers nothing) is no failure of the fake's. */
	n = send(fd, w->p, w->len, MSG_NOSIGNAL);
	if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
		return;
	cr_assert_eq(n, (ssize_t)w->len, "send: %s", strerror(errno));
}

void
reply_good(int fd, const struct proto_hdr *h)
{
	uint8_t			 buf[PROTO_ADMIN_MAX];
	struct writer		 w;
	struct proto_verify_reply rep;
	struct proto_audit	 a;
	struct proto_key	 k;
	struct proto_status_info st;
	char			 tok[TOKEN_MAX + 1];
	uint8_t			 secret[TOKEN_SECRET_BYTES];
	int			 i;

	wr_init(&w, buf, sizeof(buf));
	switch (h->opcode) {
	case PROTO_OP_VERIFY:
		memset(&rep, 0, sizeof(rep));
		rep.code = PROTO_VALID;
		strcpy(rep.key_id, KNOWN_ID);
		strcpy(rep.name, "ci");
		rep.owner.kind = PROTO_OWNER_TENANT;
		strcpy(rep.owner.tenant, "acme");
		strcpy(rep.owner.group, "acme-users");
		rep.owner.gid = 4242;
		rep.permissions.n = 1;
		strcpy(rep.permissions.v[0], "repo:read");
		rep.allowed_users.n = 1;
		strcpy(rep.allowed_users.v[0], "alice");
		strcpy(rep.metadata, "{}");
		rep.expires_at = 1900000000;
		rep.has_credits = 1;
		rep.remaining = 41;
		proto_frame_begin(&w, h->opcode | PROTO_REPLY, 0, h->id);
		proto_enc_reply_head(&w, PROTO_OK, NULL);
		proto_enc_verify_reply(&w, &rep);
		send_frame(fd, &w);
		break;
	case PROTO_OP_STATUS:
		memset(&st, 0, sizeof(st));
		strcpy(st.version, "0.1.0");
		st.pid = 77;
		st.started_at = 1700000000;
		st.has_counters = 1;
		st.fleet = 1;
		st.fleet_connected = 1;
		st.fleet_last_seq = 1234;
		st.fleet_head_seq = 1240;
		st.fleet_synced_at = (uint64_t)time(NULL) - FAKE_SYNCED_AGO;
		st.fleet_max_staleness = 5;
		st.fleet_digest = PROTO_DIGEST_MISMATCH;
		strcpy(st.fleet_error, FAKE_FLEET_ERROR);
		proto_frame_begin(&w, h->opcode | PROTO_REPLY, 0, h->id);
		proto_enc_reply_head(&w, PROTO_OK, NULL);
		proto_enc_status_info(&w, &st);
		send_frame(fd, &w);
		break;
	case PROTO_OP_AUDIT_LIST:
		for (i = 1; i <= 2; i++) {
			memset(&a, 0, sizeof(a));
			a.seq = (uint64_t)i;
			a.time = 1700000000 + (uint64_t)i;
			a.uid = 1000;
			a.pid = 77;
			strcpy(a.action, "key.create");
			strcpy(a.target, KNOWN_ID);
			wr_init(&w, buf, sizeof(buf));
			proto_frame_begin(&w, h->opcode | PROTO_REPLY,
			    PROTO_F_MORE, h->id);
			proto_enc_reply_head(&w, PROTO_OK, NULL);
			proto_enc_audit(&w, &a);
			send_frame(fd, &w);
		}
		wr_init(&w, buf, sizeof(buf));
		proto_frame_begin(&w, h->opcode | PROTO_REPLY, 0, h->id);
		proto_enc_reply_head(&w, PROTO_OK, NULL);
		send_frame(fd, &w);
		break;
	case PROTO_OP_KEY_CREATE:
		memset(&k, 0, sizeof(k));
		strcpy(k.id, KNOWN_ID);
		strcpy(k.prefix, "ak");
		strcpy(k.name, "deploy");
		k.owner.kind = PROTO_OWNER_USER;
		k.owner.uid = 1000;
		strcpy(k.owner.user, "alice");
		k.enabled = 1;
		/* Metadata that ends like a token field must not confuse the
		 * split between key and token. */
		strcpy(k.metadata, "{\"a\":\"\x04\"}");
		k.limits.rate_max = 100;
		k.limits.rate_window_ms = 60000;
		k.limits.has_credits = 1;
		k.limits.remaining = 5000;	/* as set; usage has what is left */
		k.limits.refill_amount = 1000;
		k.limits.refill_interval = 86400;
		k.limits.cidrs.n = 2;
		strcpy(k.limits.cidrs.v[0], "10.0.0.0/8");
		strcpy(k.limits.cidrs.v[1], "2001:db8::/32");
		k.usage.remaining = 4321;
		k.usage.last_refill_at = 1700003600;
		k.usage.last_used = 1700007200;
		k.usage.use_count = 679;
		k.strict_sync = 1;
		for (i = 0; i < TOKEN_SECRET_BYTES; i++)
			secret[i] = (uint8_t)i;
		cr_assert_eq(token_format("ak", KNOWN_ID, secret, tok,
		    sizeof(tok)), 0);
		cr_assert_str_eq(tok, KNOWN_TOKEN);
		proto_frame_begin(&w, h->opcode | PROTO_REPLY, 0, h->id);
		proto_enc_reply_head(&w, PROTO_OK, NULL);
		proto_enc_key(&w, &k);
		wr_str(&w, tok);
		send_frame(fd, &w);
		break;
	default:
		proto_frame_begin(&w, h->opcode | PROTO_REPLY, 0, h->id);
		proto_enc_reply_head(&w, PROTO_EUNSUPPORTED, "unsupported");
		send_frame(fd, &w);
		break;
	}
}

/* A VALID verify reply that names its request: remaining = its id. */
static void
reply_echo(int fd, const struct proto_hdr *h)
{
	uint8_t			 buf[PROTO_VERIFY_REPLY_MAX];
	struct writer		 w;
	struct proto_verify_reply rep;

	memset(&rep, 0, sizeof(rep));
	rep.code = PROTO_VALID;
	strcpy(rep.key_id, KNOWN_ID);
	rep.has_credits = 1;
	rep.remaining = h->id;
	wr_init(&w, buf, sizeof(buf));
	proto_frame_begin(&w, h->opcode | PROTO_REPLY, 0, h->id);
	proto_enc_reply_head(&w, PROTO_OK, NULL);
	proto_enc_verify_reply(&w, &rep);
	send_frame(fd, &w);
}

/* A stopping daemon's goodbye: status ESHUTDOWN under id (0 from apikeyd). */
void
send_goaway(int fd, uint32_t id)
{
	uint8_t		buf[256];
	struct writer	w;

	wr_init(&w, buf, sizeof(buf));
	proto_frame_begin(&w, PROTO_REPLY, 0, id);
	proto_enc_reply_head(&w, PROTO_ESHUTDOWN, GOAWAY_MSG);
	send_frame(fd, &w);
}

/*
 * A good verify reply with the goodbye right behind it, in one write, as
 * apikeyd's one flush sends them: the client reads both at once.
 */
static void
reply_good_then_goaway(int fd, const struct proto_hdr *h)
{
	int	 sp[2];
	uint8_t	 buf[PROTO_VERIFY_REPLY_MAX + 256];
	ssize_t	 n;

	/* reply_good writes to a descriptor: collect what it writes. */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	reply_good(sp[0], h);
	send_goaway(sp[0], 0);
	close(sp[0]);
	n = read(sp[1], buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(read(sp[1], buf + n, sizeof(buf) - (size_t)n), 0,
	    "both frames in one read");
	close(sp[1]);
	cr_assert_eq(write(fd, buf, (size_t)n), n);
}

static void
reply(struct fake *f, int fd, enum fake_mode mode, const struct proto_hdr *h)
{
	uint8_t		buf[256];
	struct writer	w;

	wr_init(&w, buf, sizeof(buf));
	switch (mode) {
	case FAKE_GOOD:
		reply_good(fd, h);
		break;
	case FAKE_GOOD_TWO:
		if (__atomic_load_n(&f->frames, __ATOMIC_SEQ_CST) <= 2)
			reply_good(fd, h);
		break;
	case FAKE_SILENT:
	case FAKE_HANGUP:
	case FAKE_BUSY:
	case FAKE_BUSY_LATE:
	case FAKE_GOAWAY_IDLE:
		break;
	case FAKE_GOAWAY:
		send_goaway(fd, 0);
		break;
	case FAKE_GOOD_GOAWAY:
		reply_good_then_goaway(fd, h);
		break;
	case FAKE_GOAWAY_ID:
		send_goaway(fd, h->id);
		break;
	case FAKE_ECHO:
	case FAKE_REVERSE:
	case FAKE_ECHO_ONE_GOAWAY:
		reply_echo(fd, h);
		break;
	case FAKE_TWICE:
		reply_echo(fd, h);
		reply_echo(fd, h);
		break;
	case FAKE_WRONG_ID:
		reply_good(fd, &(struct proto_hdr){ .version = h->version,
		    .opcode = h->opcode, .id = h->id + 1 });
		break;
	case FAKE_WRONG_OP:
		reply_good(fd, &(struct proto_hdr){ .version = h->version,
		    .opcode = PROTO_OP_STATUS, .id = h->id });
		break;
	case FAKE_GARBAGE_LEN:
		memset(buf, 0xff, 16);
		cr_assert_eq(write(fd, buf, 16), 16);
		break;
	case FAKE_GARBAGE_BODY:
		proto_frame_begin(&w, h->opcode | PROTO_REPLY, 0, h->id);
		wr_u8(&w, 0);	/* a u8 where the u32 status belongs */
		send_frame(fd, &w);
		break;
	case FAKE_EPERM:
		proto_frame_begin(&w, h->opcode | PROTO_REPLY, 0, h->id);
		proto_enc_reply_head(&w, PROTO_EPERM,
		    "permission denied: not in the admin group");
		send_frame(fd, &w);
		break;
	case FAKE_EUNAVAIL:
		proto_frame_begin(&w, h->opcode | PROTO_REPLY, 0, h->id);
		proto_enc_reply_head(&w, PROTO_EUNAVAIL, FLEET_DOWN_MSG);
		send_frame(fd, &w);
		break;
	case FAKE_ECONFLICT:
		proto_frame_begin(&w, h->opcode | PROTO_REPLY, 0, h->id);
		proto_enc_reply_head(&w, PROTO_ECONFLICT, CONFLICT_MSG);
		send_frame(fd, &w);
		break;
	case FAKE_OLD_VERSION:
		proto_frame_begin(&w, h->opcode | PROTO_REPLY, 0, h->id);
		proto_enc_reply_head(&w, PROTO_OK, "");
		cr_assert_eq(proto_frame_end(&w), 0);
		w.p[4] = PROTO_VERSION - 1;	/* the version byte */
		cr_assert_eq(write(fd, w.p, w.len), (ssize_t)w.len);
		break;
	}
	(void)f;
}

/* Writes apikeyd's refusal of a connection over its limits. */
void
send_busy(int fd)
{
	uint8_t		buf[256];
	struct writer	w;

	wr_init(&w, buf, sizeof(buf));
	proto_frame_begin(&w, PROTO_REPLY, 0, 0);
	proto_enc_reply_head(&w, PROTO_EBUSY, BUSY_MSG);
	send_frame(fd, &w);
}

/* Reads frames from connection i until EOF, answering per mode. */
static void
serve(struct fake *f, int i, int fd, enum fake_mode mode)
{
	uint8_t			buf[PROTO_ADMIN_MAX];
	struct proto_hdr	hs[256];
	size_t			len = 0, flen, nh;
	struct proto_hdr	h;
	struct reader		body;
	ssize_t			n;

	for (;;) {
		nh = 0;
		while (proto_frame_peek(buf, len, sizeof(buf), &flen) == 0) {
			cr_assert_eq(proto_frame_open(buf, flen, &h, &body),
			    0);
			__atomic_add_fetch(&f->frames, 1, __ATOMIC_SEQ_CST);
			f->lastop = h.opcode;
			memmove(buf, buf + flen, len - flen);
			len -= flen;
			if (mode == FAKE_REVERSE && nh < 256) {
				hs[nh++] = h;
				continue;
			}
			reply(f, fd, mode, &h);
			if (mode == FAKE_ECHO_ONE_GOAWAY) {
				send_goaway(fd, 0);
				return;
			}
		}
		while (nh > 0)
			reply(f, fd, mode, &hs[--nh]);
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		f->bytes[i] += (size_t)n;
	}
}

static void *
fake_main(void *arg)
{
	struct fake	*f = arg;
	int		 i, fd;

	for (i = 0; i < f->nconn; i++) {
		fd = accept(f->lfd, NULL, NULL);
		cr_assert_geq(fd, 0);
		switch (f->modes[i]) {
		case FAKE_BUSY_LATE:
			/* Leave the request unread, so that the client's
			 * send is still going when the connection ends. */
			cr_assert_eq(poll(&(struct pollfd){ .fd = fd,
			    .events = POLLIN }, 1, -1), 1);
			/* FALLTHROUGH */
		case FAKE_BUSY:
			send_busy(fd);
			/* FALLTHROUGH */
		case FAKE_HANGUP:
			close(fd);
			cr_assert_eq(write(f->done_fd[1], "x", 1), 1);
			continue;
		case FAKE_GOAWAY_IDLE:
			send_goaway(fd, 0);
			close(fd);
			cr_assert_eq(write(f->done_fd[1], "x", 1), 1);
			continue;
		default:
			break;
		}
		serve(f, i, fd, f->modes[i]);
		close(fd);
	}
	return NULL;
}

/*
 * Binds f's socket at f->path and, with listen_too, listens on it as uid.
 * The kernel records who called listen() for SO_PEERCRED, so for another
 * uid a child drops to it just for that call; the socket stays ours.
 */
void
fake_bind(struct fake *f, uid_t uid, int listen_too)
{
	struct sockaddr_un	sun;
	pid_t			pid;
	int			st;

	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(f->lfd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, f->path);
	cr_assert_eq(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (!listen_too)
		return;
	if (uid == 0) {
		cr_assert_eq(listen(f->lfd, 8), 0);
		return;
	}
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		/* No Criterion in the child: its exit status says it all. */
		if (setgroups(0, NULL) == -1 ||
		    setresgid(uid, uid, uid) == -1 ||
		    setresuid(uid, uid, uid) == -1 || listen(f->lfd, 8) == -1)
			_exit(1);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "listening as uid %u failed", (unsigned)uid);
}

/*
 * Makes f's directory, owned by dir_uid with mode dir_mode, and its socket
 * there, listened on by uid (see fake_bind). The directory is made in a
 * root 0755 directory of its own in /tmp, as a daemon's would be (root
 * made /run/apikeyd for it), unless in_tmp: then right in /tmp, where its
 * owner could have made it.
 */
void
fake_listen_in(struct fake *f, const char *name, uid_t uid, uid_t dir_uid,
    mode_t dir_mode, int in_tmp)
{
	memset(f, 0, sizeof(*f));
	if (in_tmp)
		strcpy(f->dir, "/tmp/unit_client.XXXXXX");
	else {
		strcpy(f->parent, "/tmp/unit_client.XXXXXX");
		cr_assert_not_null(mkdtemp(f->parent));
		cr_assert_eq(chmod(f->parent, 0755), 0);
		snprintf(f->dir, sizeof(f->dir), "%s/run.XXXXXX", f->parent);
	}
	cr_assert_not_null(mkdtemp(f->dir));
	cr_assert_eq(chown(f->dir, dir_uid, dir_uid), 0);
	cr_assert_eq(chmod(f->dir, dir_mode), 0);
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	fake_bind(f, uid, 1);
	cr_assert_eq(pipe(f->done_fd), 0);
}

void
fake_listen_as(struct fake *f, const char *name, uid_t uid, uid_t dir_uid,
    mode_t dir_mode)
{
	fake_listen_in(f, name, uid, dir_uid, dir_mode, 0);
}

void
fake_listen(struct fake *f, const char *name, int listen_too)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->dir, "/tmp/unit_client.XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	fake_bind(f, 0, listen_too);
	cr_assert_eq(pipe(f->done_fd), 0);
}

/* Serves the next n connections of f's socket with the given modes. */
void
fake_run(struct fake *f, int n, const enum fake_mode *m)
{
	f->nconn = n;
	memcpy(f->modes, m, (size_t)n * sizeof(*m));
	cr_assert_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

/* Starts a fake daemon serving n connections with the given modes. */
void
fake_start(struct fake *f, const char *name, int n, const enum fake_mode *m)
{
	fake_listen(f, name, 1);
	fake_run(f, n, m);
}

void
fake_wait_hangup(struct fake *f)
{
	char	c;

	cr_assert_eq(read(f->done_fd[0], &c, 1), 1);
}

/* Waits for the server to finish (the client must have closed first). */
void
fake_stop(struct fake *f, int started)
{
	if (started)
		cr_assert_eq(pthread_join(f->th, NULL), 0);
	close(f->lfd);
	close(f->done_fd[0]);
	close(f->done_fd[1]);
	unlink(f->path);
	rmdir(f->dir);
	if (f->parent[0] != '\0')
		rmdir(f->parent);
}

