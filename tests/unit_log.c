/*
 * unit_log.c - what reaches the log (daemon/log.c), end to end: a pipe is
 * put on fd 2 for the length of one call, and what log_warnx or log_warn
 * wrote is read back and compared as a whole. The escaping itself is
 * tested in unit_text.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../daemon/log.h"

/* --- the writers, through a pipe on fd 2 ------------------------------- */

struct capture {
	int	 saved;
	int	 rd;
};

static void
capture_start(struct capture *cap)
{
	int	 p[2];

	cr_assert_eq(pipe(p), 0);
	cap->saved = dup(STDERR_FILENO);
	cr_assert_geq(cap->saved, 0);
	cr_assert_eq(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	close(p[1]);
	cap->rd = p[0];
}

/* Puts stderr back and returns all that was written to it. */
static char *
capture_end(struct capture *cap, size_t *lenp)
{
	char	*buf;
	size_t	 len = 0, cap_sz = 8192;
	ssize_t	 r;

	cr_assert_eq(dup2(cap->saved, STDERR_FILENO), STDERR_FILENO);
	close(cap->saved);
	buf = malloc(cap_sz + 1);
	cr_assert_not_null(buf);
	while ((r = read(cap->rd, buf + len, cap_sz - len)) > 0)
		len += (size_t)r;
	cr_assert_eq(r, 0);
	close(cap->rd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

static void
assert_one_line(const char *out, size_t len)
{
	cr_assert_gt(len, 0);
	cr_expect_eq(strlen(out), len, "NUL in the output");
	cr_expect_eq(out[len - 1], '\n');
	cr_expect_eq(strchr(out, '\n'), out + len - 1, "more than one line");
}

Test(log_write, warnx_is_one_sanitized_line)
{
	struct capture	 cap;
	char		*out;
	size_t		 len;

	log_init(1, 0);
	capture_start(&cap);
	log_warnx("verify: service '%s' user '%s' rhost '%s'", "sshd",
	    "a\nFAKE LINE apikeyd: VALID\x1b[2K", "\xc2\x9b" "1A\x9b"
	    "txt\xe2\x80\xae" "gpj");
	out = capture_end(&cap, &len);
	assert_one_line(out, len);
	cr_expect_str_eq(out, "apikeyd: verify: service 'sshd' user "
	    "'a\\x0aFAKE LINE apikeyd: VALID\\x1b[2K' rhost "
	    "'\\xc2\\x9b1A\\x9btxt\\xe2\\x80\\xaegpj'\n");
	free(out);
}

Test(log_write, warn_suffix_same_path)
{
	struct capture	 cap;
	char		*out;
	size_t		 len;

	log_init(1, 0);
	capture_start(&cap);
	errno = ENOENT;
	log_warn("open %s", "x\ty");
	cr_expect_eq(errno, ENOENT);
	out = capture_end(&cap, &len);
	assert_one_line(out, len);
	cr_expect_str_eq(out, "apikeyd: open x\\x09y: No such file or "
	    "directory\n");
	free(out);
}

Test(log_write, long_text_cut_at_character)
{
	struct capture	 cap;
	char		*in, *out, *want;
	size_t		 len, i;

	/* 3000 bytes of "é": the formatter keeps 1023 bytes, 511 whole
	 * characters and half of one, which is dropped, not escaped. */
	in = malloc(3001);
	want = malloc(2048);
	cr_assert_not_null(in);
	cr_assert_not_null(want);
	for (i = 0; i < 1500; i++)
		memcpy(in + 2 * i, "\xc3\xa9", 2);
	in[3000] = '\0';
	strcpy(want, "apikeyd: ");
	memcpy(want + 9, in, 2 * 511);
	strcpy(want + 9 + 2 * 511, "\n");

	log_init(1, 0);
	capture_start(&cap);
	log_warnx("%s", in);
	out = capture_end(&cap, &len);
	assert_one_line(out, len);
	cr_expect_str_eq(out, want);
	free(in);
	free(want);
	free(out);
}

Test(log_write, escapes_cut_whole_and_suffix_kept)
{
	static const char suffix[] = ": Permission denied\n";
	struct capture	 cap;
	char		 in[1001], *out;
	size_t		 len, i, end;

	/* 1000 newlines escape to 4000 bytes, more than a line holds: the
	 * message is cut at an escape and the strerror text still ends it. */
	memset(in, '\n', 1000);
	in[1000] = '\0';
	log_init(1, 0);
	capture_start(&cap);
	errno = EACCES;
	log_warn("%s", in);
	out = capture_end(&cap, &len);
	assert_one_line(out, len);
	cr_expect_leq(len, 2048);
	cr_assert_gt(len, 9 + sizeof(suffix) - 1);
	cr_expect_eq(strncmp(out, "apikeyd: ", 9), 0);
	end = len - (sizeof(suffix) - 1);
	cr_expect_str_eq(out + end, suffix);
	cr_expect_eq((end - 9) % 4, 0, "len %zu", len);
	cr_expect_gt(end - 9, 4 * 500);
	for (i = 9; i < end; i += 4)
		if (strncmp(out + i, "\\x0a", 4) != 0) {
			cr_expect_fail("not an escape at %zu", i);
			break;
		}
	free(out);
}
