/*
 * harness_raw.c - see harness_raw.h.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../proto/proto.h"
#include "harness.h"
#include "harness_raw.h"

static size_t
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static size_t
put_str(uint8_t *p, const char *s)
{
	size_t	n = strlen(s);

	p[0] = BUF_T_STR;
	put_u32(p + 1, (uint32_t)n);
	memcpy(p + 5, s, n);
	return 5 + n;
}

int
itr_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval	 tv = { IT_DEADLINE_MS / 1000, 0 };
	int		 fd;

	cr_assert_lt(strlen(path), sizeof(sun.sun_path), "%s", path);
	strcpy(sun.sun_path, path);
	cr_assert((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	/* Reads end at the deadline rather than hang the test. */
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0,
	    "%s: %s", path, strerror(errno));
	return fd;
}

size_t
itr_verify_frame(uint8_t *f, uint32_t id, const char *token, uint32_t cost,
    int trailing)
{
	size_t	 n = 4;
	int	 i;

	cr_assert_lt(strlen(token), 256);
	f[n++] = PROTO_VERSION;
	f[n++] = PROTO_OP_VERIFY;
	f[n++] = 0;
	f[n++] = 0;
	n += put_u32(f + n, id);
	n += put_str(f + n, token);
	for (i = 0; i < 4; i++)		/* service, user, rhost, tenant */
		n += put_str(f + n, "");
	f[n++] = BUF_T_LIST;		/* required permissions */
	n += put_u32(f + n, 0);
	f[n++] = BUF_T_U32;		/* cost */
	n += put_u32(f + n, cost);
	f[n++] = BUF_T_U8;		/* check_only */
	f[n++] = 0;
	if (trailing)
		f[n++] = BUF_T_U8;
	put_u32(f, (uint32_t)(n - 4));
	return n;
}

void
itr_write(int fd, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		cr_assert(n > 0, "write: %s", n == 0 ? "nothing written" :
		    strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Reads len bytes; 0, or -1 at an end of file before the first byte. */
static int
read_full(int fd, uint8_t *p, size_t len, int eof_ok)
{
	ssize_t	 n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n == 0 && eof_ok)
			return -1;
		cr_assert(n > 0, "read: %s", n == 0 ? "end of file in a frame" :
		    strerror(errno));
		eof_ok = 0;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

size_t
itr_read_frame(int fd, uint8_t **frame)
{
	uint8_t	 hdr[4];
	size_t	 len;

	*frame = NULL;
	if (read_full(fd, hdr, 4, 1) == -1)
		return 0;
	len = get_u32(hdr);
	cr_assert(len >= PROTO_HDR_LEN - 4 && len <= PROTO_ADMIN_MAX,
	    "frame length %zu", len);
	cr_assert_not_null(*frame = malloc(4 + len));
	memcpy(*frame, hdr, 4);
	(void)read_full(fd, *frame + 4, len, 0);
	return 4 + len;
}

uint32_t
itr_reply_id(const uint8_t *frame)
{
	return get_u32(frame + 8);
}

uint32_t
itr_verify_code(const uint8_t *frame, size_t len)
{
	uint32_t status;
	size_t	 n;

	/* length, version, opcode, flags, id; then status and message. */
	cr_assert_geq(len, PROTO_HDR_LEN + 5 + 5);
	cr_assert_eq(frame[5], PROTO_OP_VERIFY | PROTO_REPLY);
	cr_assert_eq(frame[12], BUF_T_U32);
	status = get_u32(frame + 13);
	if (status != PROTO_OK)
		return 0x100 + status;
	n = PROTO_HDR_LEN + 5;
	cr_assert_eq(frame[n], BUF_T_STR);
	n += 5 + get_u32(frame + n + 1);
	cr_assert_lt(n + 5, len + 1);
	cr_assert_eq(frame[n], BUF_T_U32);
	return get_u32(frame + n + 1);
}
