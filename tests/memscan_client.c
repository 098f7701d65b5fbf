/*
 * memscan_client.c - a libapikey client whose memory tests/it_memory.c
 * reads once it is done with a token; never a test itself.
 *
 *     memscan_client SOCKDIR verify | create | hold
 *
 *   verify  reads one line of standard input, a token, with read(2) into
 *           a buffer of its own (no stdio buffer ever holds it), verifies
 *           it with apikey_verify() on SOCKDIR/verify.sock, prints "code
 *           NAME", frees the result and wipes its buffer
 *   create  creates a key for its caller with apikey_key_create() on
 *           SOCKDIR/admin.sock, prints "token TOKEN" with one writev(2)
 *           straight from the token libapikey returned (no copy), then
 *           frees it with apikey_token_free() and the key
 *   hold    reads a token as verify does and keeps it, with its secret
 *           decoded to bytes, unwiped: the test's proof that its scan
 *           finds a token where there is one
 *
 * Then it prints "ready" and waits, its client still open as a service's
 * would be, until standard input ends; then it closes the client and
 * exits 0. Exit status 1 when a call failed (the reason on stderr), 2 on
 * a usage error. Output goes out with write(2) only.
 */
#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../libclient/apikey.h"

/* Far longer than any token. */
#define LINE_MAX_LEN	1024
#define SECRET_LEN	43
#define SECRET_BYTES	32

static char	 line[LINE_MAX_LEN];
/* hold: the decoded secret, kept. */
static uint8_t	 held[SECRET_BYTES];

/* One line of standard input into line[], read a byte at a time so that
 * nothing past it is consumed. Returns its length, or -1. */
static ssize_t
read_line(void)
{
	size_t	 n = 0;
	ssize_t	 r;
	char	 c;

	for (;;) {
		r = read(STDIN_FILENO, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n')
			break;
		if (n + 1 >= sizeof(line))
			return -1;
		line[n++] = c;
	}
	line[n] = '\0';
	return n > 0 ? (ssize_t)n : -1;
}

/* Waits until standard input ends. */
static void
wait_eof(void)
{
	ssize_t	 r;
	char	 c;

	while ((r = read(STDIN_FILENO, &c, 1)) != 0)
		if (r == -1 && errno != EINTR)
			break;
}

static int
b62_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

/* hold: the secret of the token in line[] as big-endian bytes. */
static int
decode_held(void)
{
	const char	*s = strchr(line, '_');
	unsigned	 acc;
	size_t		 i, j;
	int		 d;

	if (s == NULL || (s = strchr(s + 1, '_')) == NULL ||
	    strlen(++s) < SECRET_LEN)
		return -1;
	for (i = 0; i < SECRET_LEN; i++) {
		if ((d = b62_digit(s[i])) == -1)
			return -1;
		acc = (unsigned)d;
		for (j = SECRET_BYTES; j-- > 0;) {
			acc += held[j] * 62u;
			held[j] = (uint8_t)acc;
			acc >>= 8;
		}
	}
	return 0;
}

static void
say(const char *s)
{
	size_t	 n = strlen(s);

	if (write(STDOUT_FILENO, s, n) != (ssize_t)n)
		_exit(1);
}

static int
do_verify(struct apikey_client *c)
{
	struct apikey_result	*res = NULL;
	int			 rc;

	if (read_line() == -1) {
		fprintf(stderr, "memscan_client: no token on stdin\n");
		return 2;
	}
	rc = apikey_verify(c, line, NULL, &res);
	explicit_bzero(line, sizeof(line));
	if (rc != 0) {
		fprintf(stderr, "memscan_client: verify: %s\n",
		    apikey_strerror(rc));
		return 1;
	}
	say("code ");
	say(apikey_code_name(apikey_result_code(res)));
	say("\n");
	apikey_result_free(res);
	return 0;
}

static int
do_create(struct apikey_client *c)
{
	struct apikey_key	*key = NULL;
	struct iovec		 iov[3];
	char			*token = NULL;
	ssize_t			 n;
	int			 rc;

	rc = apikey_key_create(c, APIKEY_OWNER_SELF, NULL, NULL, &key,
	    &token);
	if (rc != 0) {
		fprintf(stderr, "memscan_client: create: %s: %s\n",
		    apikey_strerror(rc), apikey_last_error(c));
		return 1;
	}
	iov[0].iov_base = (void *)(uintptr_t)"token ";
	iov[0].iov_len = 6;
	iov[1].iov_base = token;
	iov[1].iov_len = strlen(token);
	iov[2].iov_base = (void *)(uintptr_t)"\n";
	iov[2].iov_len = 1;
	n = writev(STDOUT_FILENO, iov, 3);
	rc = n == (ssize_t)(iov[1].iov_len + 7) ? 0 : 1;
	apikey_token_free(token);
	apikey_key_free(key);
	return rc;
}

static int
do_hold(void)
{
	if (read_line() == -1 || decode_held() == -1) {
		fprintf(stderr, "memscan_client: no token on stdin\n");
		return 2;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct apikey_client	*c = NULL;
	int			 rc;

	if (argc != 3 || (strcmp(argv[2], "verify") != 0 &&
	    strcmp(argv[2], "create") != 0 && strcmp(argv[2], "hold") != 0)) {
		fprintf(stderr, "usage: memscan_client SOCKDIR "
		    "verify|create|hold\n");
		return 2;
	}
	if (strcmp(argv[2], "hold") == 0)
		rc = do_hold();
	else if ((rc = strcmp(argv[2], "create") == 0 ?
	    apikey_open_admin(argv[1], 5000, &c) :
	    apikey_open(argv[1], 5000, &c)) != 0) {
		fprintf(stderr, "memscan_client: open %s: %s\n", argv[1],
		    apikey_strerror(rc));
		rc = 1;
	} else
		rc = strcmp(argv[2], "create") == 0 ? do_create(c) :
		    do_verify(c);
	if (rc != 0)
		return rc;
	say("ready\n");
	wait_eof();
	apikey_close(c);
	return 0;
}
