/*
 * it_verify_socket.c - verify.sock serves PING and VERIFY only. Every
 * other request of proto/proto.h, well formed, sent there by root or by
 * a user gets what the specification promises for a misplaced opcode: a
 * reply of its opcode and id with status EUNSUPPORTED and the message
 * "NAME is not served on verify.sock", and the connection stays open and
 * in step, so a VERIFY behind them still answers. The store is unchanged
 * byte for byte (harness_store.h).
 *
 * The frames are built here by hand from proto.h (libapikey never sends
 * them there). That they are well formed is shown, not assumed: the same
 * frames sent on admin.sock by dave decode and get the answer of their
 * handler, a refusal or a harmless listing, never EBADREQ.
 *
 * A user's connection is made by a child that drops to the user and
 * connects (so SO_PEERCRED names the user), passes the socket back over
 * SCM_RIGHTS and stays alive until the test is done with it.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../proto/proto.h"
#include "harness.h"
#include "harness_raw.h"
#include "harness_store.h"

static void
setup(void)
{
	/* A daemon that closes on us fails an assertion, not the test
	 * process. */
	signal(SIGPIPE, SIG_IGN);
	it_prepare(ITS_QUIET_CONF);
	it_start();
}

TestSuite(verify_socket, .init = setup, .fini = it_teardown,
    .timeout = 90);

/* Every opcode admin.sock serves, and what dave gets for it there. */
static const struct {
	uint8_t		 op;
	const char	*name;
	uint32_t	 dave;
} ops[] = {
	{ PROTO_OP_STATUS, "STATUS", PROTO_OK },
	{ PROTO_OP_TENANT_ADD, "TENANT_ADD", PROTO_EPERM },
	{ PROTO_OP_TENANT_LIST, "TENANT_LIST", PROTO_OK },
	{ PROTO_OP_TENANT_SHOW, "TENANT_SHOW", PROTO_EPERM },
	{ PROTO_OP_TENANT_SET_ENABLED, "TENANT_SET_ENABLED", PROTO_EPERM },
	{ PROTO_OP_TENANT_REMOVE, "TENANT_REMOVE", PROTO_EPERM },
	{ PROTO_OP_TENANT_SET_PRIVILEGED, "TENANT_SET_PRIVILEGED",
	    PROTO_EPERM },
	{ PROTO_OP_KEY_CREATE, "KEY_CREATE", PROTO_EPERM },
	{ PROTO_OP_KEY_LIST, "KEY_LIST", PROTO_EPERM },
	{ PROTO_OP_KEY_SHOW, "KEY_SHOW", PROTO_ENOTFOUND },
	{ PROTO_OP_KEY_SET_ENABLED, "KEY_SET_ENABLED", PROTO_ENOTFOUND },
	{ PROTO_OP_KEY_REVOKE, "KEY_REVOKE", PROTO_ENOTFOUND },
	{ PROTO_OP_KEY_UPDATE, "KEY_UPDATE", PROTO_ENOTFOUND },
	{ PROTO_OP_KEY_ROTATE, "KEY_ROTATE", PROTO_ENOTFOUND },
	{ PROTO_OP_KEY_PURGE_EXPIRED, "KEY_PURGE_EXPIRED", PROTO_OK },
	{ PROTO_OP_AUDIT_LIST, "AUDIT_LIST", PROTO_EPERM },
	{ PROTO_OP_KEY_CREATE_MANY, "KEY_CREATE_MANY", PROTO_EPERM },
};

#define NOPS	(sizeof(ops) / sizeof(ops[0]))

/* --- frames by hand ------------------------------------------------------- */

struct frame {
	uint8_t		 b[1024];
	size_t		 n;
};

static void
put_u8(struct frame *f, uint8_t v)
{
	f->b[f->n++] = v;
}

static void
put_be(struct frame *f, uint64_t v, int bytes)
{
	while (bytes-- > 0)
		f->b[f->n++] = (uint8_t)(v >> (8 * bytes));
}

static void
put_u32(struct frame *f, uint32_t v)
{
	put_u8(f, BUF_T_U32);
	put_be(f, v, 4);
}

static void
put_u64(struct frame *f, uint64_t v)
{
	put_u8(f, BUF_T_U64);
	put_be(f, v, 8);
}

static void
put_str(struct frame *f, const char *s)
{
	size_t	 n = strlen(s);

	put_u8(f, BUF_T_STR);
	put_be(f, n, 4);
	memcpy(f->b + f->n, s, n);
	f->n += n;
}

static void
put_empty_list(struct frame *f)
{
	put_u8(f, BUF_T_LIST);
	put_be(f, 0, 4);
}

/* A typed u8, as every switch and the owner kind are sent. */
static void
put_flag(struct frame *f, uint8_t v)
{
	put_u8(f, BUF_T_U8);
	put_u8(f, v);
}

/* proto_key_spec: only a name when set says so; no limits. */
static void
put_spec(struct frame *f, uint32_t set, const char *name)
{
	int	 i;

	put_u32(f, set);
	put_str(f, name);
	put_str(f, "");			/* prefix */
	put_u64(f, 0);			/* expires_in */
	for (i = 0; i < 3; i++)	/* services, permissions, users */
		put_empty_list(f);
	put_str(f, "");			/* metadata */
	put_u32(f, 0);			/* rate_max, rate_window_ms */
	put_u32(f, 0);
	put_flag(f, 0);			/* has_credits */
	for (i = 0; i < 3; i++)	/* remaining, refill amount, interval */
		put_u64(f, 0);
	put_empty_list(f);		/* cidrs */
	put_flag(f, 0);			/* strict_sync */
}

static void
put_owner_sel(struct frame *f, uint8_t kind, const char *user,
    const char *tenant)
{
	put_flag(f, kind);
	put_str(f, user);
	put_str(f, tenant);
}

/*
 * The request op with id, about tenant acme and the key id (alice's):
 * each as apikeyctl would send it, bodies in proto.h's field order.
 */
static void
build(struct frame *f, uint8_t op, uint32_t id, const char *key)
{
	f->n = 4;
	put_u8(f, PROTO_VERSION);
	put_u8(f, op);
	put_be(f, 0, 2);		/* flags */
	put_be(f, id, 4);
	switch (op) {
	case PROTO_OP_TENANT_ADD:
		put_str(f, "zeta");
		put_str(f, "dave");
		put_str(f, "");
		break;
	case PROTO_OP_TENANT_SHOW:
		put_str(f, "acme");
		break;
	case PROTO_OP_TENANT_SET_ENABLED:
		put_str(f, "acme");
		put_flag(f, 0);
		break;
	case PROTO_OP_TENANT_REMOVE:
	case PROTO_OP_TENANT_SET_PRIVILEGED:
		put_str(f, "acme");
		put_flag(f, 1);
		break;
	case PROTO_OP_KEY_CREATE:
		put_owner_sel(f, PROTO_OWNER_TENANT, "", "acme");
		put_spec(f, 0, "");
		break;
	case PROTO_OP_KEY_CREATE_MANY:
		put_owner_sel(f, PROTO_OWNER_TENANT, "", "acme");
		put_spec(f, 0, "");
		put_u32(f, 3);
		break;
	case PROTO_OP_KEY_LIST:
		put_owner_sel(f, PROTO_OWNER_USER, "alice", "");
		break;
	case PROTO_OP_KEY_SHOW:
	case PROTO_OP_KEY_REVOKE:
		put_str(f, key);
		break;
	case PROTO_OP_KEY_SET_ENABLED:
		put_str(f, key);
		put_flag(f, 0);
		break;
	case PROTO_OP_KEY_UPDATE:
		put_str(f, key);
		put_spec(f, PROTO_SET_NAME, "renamed");
		break;
	case PROTO_OP_KEY_ROTATE:
		put_str(f, key);
		put_u64(f, 3600);
		break;
	case PROTO_OP_AUDIT_LIST:
		put_u32(f, 0);
		break;
	default:			/* STATUS, lists, purge: no fields */
		break;
	}
	cr_assert_lt(f->n, sizeof(f->b));
	f->b[0] = 0;
	f->b[1] = 0;
	f->b[2] = (uint8_t)((f->n - 4) >> 8);
	f->b[3] = (uint8_t)(f->n - 4);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * Of a reply frame to request op with id: asserts its header and
 * returns its status, with its message in *msg (harness-owned). With
 * exact, the frame must end with the message, as an error reply does.
 */
static uint32_t
reply_status(const uint8_t *f, size_t len, uint8_t op, uint32_t id,
    int exact, const char **msg)
{
	uint32_t	 n;

	cr_assert_geq(len, PROTO_HDR_LEN + 10, "a reply of %zu bytes", len);
	cr_assert_eq(f[4], PROTO_VERSION);
	cr_assert_eq(f[5], op | PROTO_REPLY, "reply opcode 0x%02x to 0x%02x",
	    f[5], op);
	cr_assert_eq(get_u32(f + 8), id, "reply to id %u, expected %u",
	    get_u32(f + 8), id);
	cr_assert(f[12] == BUF_T_U32 && f[17] == BUF_T_STR, "no status and "
	    "message");
	n = get_u32(f + 18);
	cr_assert_leq(PROTO_HDR_LEN + 10 + (size_t)n, len);
	cr_assert(!exact || PROTO_HDR_LEN + 10 + (size_t)n == len,
	    "%zu bytes after the message", len - PROTO_HDR_LEN - 10 - n);
	*msg = it_printf("%.*s", (int)n, (const char *)f + 22);
	return get_u32(f + 13);
}

/* --- connections ---------------------------------------------------------- */

/* A connection, and the child that made it as a user (pid 0: root). */
struct conn {
	int		 fd;
	pid_t		 pid;
	int		 ctl;
};

/* In the child: becomes user, connects, sends the socket on ctl, waits. */
static void __attribute__((noreturn))
connect_child(const char *path, uid_t uid, gid_t gid, pid_t parent,
    int ctl)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char		 cbuf[CMSG_SPACE(sizeof(int))], c = 'c';
	struct iovec	 iov = { &c, 1 };
	struct msghdr	 m = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr	*cm;
	int		 fd;

	if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(2);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		_exit(3);
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(ctl, &m, 0) != 1)
		_exit(4);
	/* SO_PEERCRED's pid stays this process's until the test is done. */
	while (read(ctl, &c, 1) > 0)
		;
	_exit(0);
}

/* Connects to the socket name in the socket directory as user (NULL:
 * root, from this process). */
static void
conn_open(struct conn *c, const char *user, const char *name)
{
	const char	*path = it_printf("%s/%s", it_sock_dir(), name);
	struct timeval	 tv = { IT_DEADLINE_MS / 1000, 0 };
	char		 cbuf[CMSG_SPACE(sizeof(int))], ch;
	struct iovec	 iov = { &ch, 1 };
	struct msghdr	 m = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr	*cm;
	struct pollfd	 pfd;
	pid_t		 parent = getpid();
	int		 sv[2];

	c->pid = 0;
	c->ctl = -1;
	if (user == NULL) {
		c->fd = itr_connect(path);
		return;
	}
	cr_assert_lt(strlen(path), sizeof(((struct sockaddr_un *)0)->sun_path));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	    0, "socketpair: %s", strerror(errno));
	cr_assert_neq(c->pid = fork(), -1, "fork: %s", strerror(errno));
	if (c->pid == 0) {
		close(sv[0]);
		connect_child(path, it_uid(user), it_gid(user), parent, sv[1]);
	}
	close(sv[1]);
	c->ctl = sv[0];
	pfd.fd = c->ctl;
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, IT_DEADLINE_MS), 1, "no connection as %s "
	    "within %d ms", user, IT_DEADLINE_MS);
	cr_assert_eq(recvmsg(c->ctl, &m, MSG_CMSG_CLOEXEC), 1, "the child "
	    "could not connect as %s (exit %d)", user,
	    it_proc_wait(c->pid, IT_DEADLINE_MS));
	cm = CMSG_FIRSTHDR(&m);
	cr_assert(cm != NULL && cm->cmsg_type == SCM_RIGHTS, "no socket");
	memcpy(&c->fd, CMSG_DATA(cm), sizeof(int));
	/* Reads end at the deadline rather than hang the test. */
	cr_assert_eq(setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	if (c->pid == 0)
		return;
	close(c->ctl);
	cr_assert_eq(it_proc_wait(c->pid, IT_DEADLINE_MS), 0);
}

/* --- the tests ------------------------------------------------------------ */

/* Sends a VERIFY of token with id on fd and asserts it answers VALID. */
static void
assert_verifies(int fd, uint32_t id, const char *token)
{
	uint8_t		 f[ITR_VERIFY_FRAME_MAX], *reply;
	size_t		 n;

	itr_write(fd, f, itr_verify_frame(f, id, token, 0, 0));
	cr_assert_gt(n = itr_read_frame(fd, &reply), 0, "verify.sock closed "
	    "the connection");
	cr_assert_eq(itr_reply_id(reply), id);
	cr_assert_eq(itr_verify_code(reply, n), APIKEY_VALID);
	free(reply);
}

/* Asserts reply (of n bytes) is the refusal of ops[i] sent with id. */
static void
assert_unsupported(const uint8_t *reply, size_t n, size_t i, uint32_t id)
{
	const char	*msg;
	uint32_t	 st;

	cr_assert_gt(n, 0, "%s: verify.sock closed the connection",
	    ops[i].name);
	st = reply_status(reply, n, ops[i].op, id, 1, &msg);
	cr_assert_eq(st, PROTO_EUNSUPPORTED, "%s: status %u (%s)",
	    ops[i].name, st, msg);
	cr_assert_str_eq(msg, it_printf("%s is not served on verify.sock",
	    ops[i].name));
}

/*
 * Every management request on verify.sock as user: one at a time, then
 * all at once with a VERIFY behind them; then a VERIFY on the same
 * connection and on a new one.
 */
static void
refused_on_verify_sock(const char *user)
{
	const char	*tok = it_key_lib(APIKEY_OWNER_USER, "alice", NULL,
	    NULL);
	const char	*key = it_id(tok);
	uint8_t		 all[NOPS * 1024 + ITR_VERIFY_FRAME_MAX], *reply;
	struct its_store base;
	struct frame	 f;
	struct conn	 c;
	size_t		 i, n, len = 0;
	uint32_t	 id;
	int		 seen[NOPS + 1] = { 0 };

	it_tenant("acme", "acme", "acme-admins");
	its_snapshot(&base);
	conn_open(&c, user, "verify.sock");
	for (i = 0; i < NOPS; i++) {
		build(&f, ops[i].op, (uint32_t)(100 + i), key);
		itr_write(c.fd, f.b, f.n);
		n = itr_read_frame(c.fd, &reply);
		assert_unsupported(reply, n, i, (uint32_t)(100 + i));
		free(reply);
	}
	for (i = 0; i < NOPS; i++) {
		build(&f, ops[i].op, (uint32_t)(200 + i), key);
		memcpy(all + len, f.b, f.n);
		len += f.n;
	}
	len += itr_verify_frame(all + len, 200 + NOPS, tok, 0, 0);
	itr_write(c.fd, all, len);
	for (i = 0; i <= NOPS; i++) {
		cr_assert_gt(n = itr_read_frame(c.fd, &reply), 0, "verify.sock "
		    "closed the connection after %zu replies", i);
		id = itr_reply_id(reply);
		cr_assert(id >= 200 && id <= 200 + NOPS && !seen[id - 200],
		    "a reply to id %u", id);
		seen[id - 200] = 1;
		if (id == 200 + NOPS)
			cr_assert_eq(itr_verify_code(reply, n), APIKEY_VALID);
		else
			assert_unsupported(reply, n, id - 200, id);
		free(reply);
	}
	its_assert_unchanged(&base, it_printf("management requests on "
	    "verify.sock as %s", user != NULL ? user : "root"));
	assert_verifies(c.fd, 300, tok);
	/* The daemon saw the user it was meant to see. */
	if (user != NULL)
		it_log_wait(it_printf("verify: VALID key %s peer uid %u "
		    "pid %d ", key, (unsigned)it_uid(user), (int)c.pid),
		    IT_DEADLINE_MS);
	conn_close(&c);
	conn_open(&c, user, "verify.sock");
	assert_verifies(c.fd, 1, tok);
	conn_close(&c);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(verify_socket, management_requests_of_root_are_not_served)
{
	refused_on_verify_sock(NULL);
}

Test(verify_socket, management_requests_of_a_user_are_not_served)
{
	/* alice, whose key the key requests name. */
	refused_on_verify_sock("alice");
}

Test(verify_socket, the_frames_are_well_formed_on_admin_sock)
{
	/*
	 * dave's requests decode and reach their handlers: refused, or a
	 * listing of nothing of his. A malformed frame would have got
	 * EBADREQ and the connection closed, on either socket.
	 */
	const char	*key = it_id(it_key_lib(APIKEY_OWNER_USER, "alice",
	    NULL, NULL));
	const char	*msg;
	struct its_store base;
	struct frame	 f;
	struct conn	 c;
	uint8_t		*reply;
	size_t		 i, n;
	uint32_t	 st;
	int		 more;

	it_tenant("acme", "acme", "acme-admins");
	its_snapshot(&base);
	conn_open(&c, "dave", "admin.sock");
	for (i = 0; i < NOPS; i++) {
		build(&f, ops[i].op, (uint32_t)(100 + i), key);
		itr_write(c.fd, f.b, f.n);
		/* A listing sends MORE frames, then one without. */
		do {
			cr_assert_gt(n = itr_read_frame(c.fd, &reply), 0,
			    "%s: admin.sock closed the connection",
			    ops[i].name);
			st = reply_status(reply, n, ops[i].op,
			    (uint32_t)(100 + i), 0, &msg);
			more = reply[7] & PROTO_F_MORE;
			free(reply);
		} while (st == PROTO_OK && more);
		cr_assert_eq(st, ops[i].dave, "%s: status %u (%s), expected "
		    "%u", ops[i].name, st, msg, ops[i].dave);
	}
	conn_close(&c);
	its_assert_unchanged(&base, "dave's requests on admin.sock");
}
