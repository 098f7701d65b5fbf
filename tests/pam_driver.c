/*
 * pam_driver.c - a small PAM application for the PAM integration tests
 * (tests/it_pam*.c), run as a child process under pam_wrapper and
 * nss_wrapper; never a test itself.
 *
 *     pam_driver [-s] [-r RHOST] SERVICE USER STEP...
 *
 * The first line of standard input is the secret: the conversation gives
 * it as the answer to every PAM_PROMPT_ECHO_OFF prompt, and it is never
 * printed. The steps run in order on one handle:
 *
 *   authenticate acct setcred open_session close_session chauthtok
 *                      the PAM call (acct is pam_acct_mgmt); prints
 *                      "NAME RC TEXT", RC the numeric PAM return value
 *   env                prints the PAM environment, one "env NAME=VALUE"
 *                      line each (open_session does too)
 *   pause              prints "pause", then reads one more line of
 *                      standard input before going on, so that a test can
 *                      change things between two steps
 *
 * Messages of the conversation are printed as "prompt TEXT" (echo off),
 * "prompt_echo TEXT", "error TEXT" and "info TEXT". -s passes PAM_SILENT to
 * every call; -r sets PAM_RHOST. Standard output is flushed after every
 * line, so a test can wait for "pause". Exit status: 0 when every step ran
 * (whatever PAM answered), 2 on a usage error, 3 when pam_start failed.
 *
 * With PAM_DRIVER_LOCK_FD=N in the environment, descriptor N is closed
 * first thing in main(): the tests hold a lock through it while
 * pam_wrapper sets itself up in its constructor, which is not safe to run
 * in two processes at once (see tests/harness_pam.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

/* A token is at most 128 characters; room for a long password too. */
#define SECRET_MAX	1024

struct driver {
	char	 secret[SECRET_MAX];
	int	 have_secret;
};

/* One line of output, flushed at once: a test may be waiting for it. */
static void
say(const char *what, const char *text)
{
	printf("%s%s\n", what, text);
	fflush(stdout);
}

/*
 * One line of standard input without its newline, read a byte at a time
 * so that no stdio buffer keeps a copy of the secret and nothing past the
 * line is consumed. Returns 1 for a line, 0 at end of input, -1 when the
 * line does not fit.
 */
static int
read_line(char *buf, size_t size)
{
	size_t	 n = 0;
	ssize_t	 r;
	char	 c;

	for (;;) {
		r = read(0, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			buf[n] = '\0';
			return n > 0 ? 1 : 0;
		}
		if (c == '\n')
			break;
		if (n + 1 >= size) {
			explicit_bzero(buf, size);
			return -1;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	return 1;
}

static void
free_replies(struct pam_response *resp, int n)
{
	int	 i;

	for (i = 0; i < n; i++) {
		if (resp[i].resp == NULL)
			continue;
		explicit_bzero(resp[i].resp, strlen(resp[i].resp));
		free(resp[i].resp);
	}
	free(resp);
}

static int
conv(int n, const struct pam_message **msg, struct pam_response **out,
    void *appdata)
{
	struct driver		*d = appdata;
	struct pam_response	*resp;
	const char		*text;
	int			 i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	if ((resp = calloc((size_t)n, sizeof(*resp))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		text = msg[i]->msg != NULL ? msg[i]->msg : "";
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			say("prompt ", text);
			if (!d->have_secret)
				goto fail;
			resp[i].resp = strdup(d->secret);
			break;
		case PAM_PROMPT_ECHO_ON:
			say("prompt_echo ", text);
			resp[i].resp = strdup("");
			break;
		case PAM_ERROR_MSG:
			say("error ", text);
			continue;
		case PAM_TEXT_INFO:
			say("info ", text);
			continue;
		default:
			goto fail;
		}
		if (resp[i].resp == NULL)
			goto fail;
	}
	*out = resp;
	return PAM_SUCCESS;
 fail:
	free_replies(resp, n);
	return PAM_CONV_ERR;
}

static void
print_env(pam_handle_t *pamh)
{
	char	**env;
	size_t	  i;

	if ((env = pam_getenvlist(pamh)) == NULL)
		return;
	for (i = 0; env[i] != NULL; i++) {
		say("env ", env[i]);
		free(env[i]);
	}
	free(env);
}

static int
step(pam_handle_t *pamh, const char *name, int flags, int *last)
{
	char	 line[64];
	int	 rc;

	if (strcmp(name, "authenticate") == 0)
		rc = pam_authenticate(pamh, flags);
	else if (strcmp(name, "acct") == 0)
		rc = pam_acct_mgmt(pamh, flags);
	else if (strcmp(name, "setcred") == 0)
		rc = pam_setcred(pamh, flags | PAM_ESTABLISH_CRED);
	else if (strcmp(name, "open_session") == 0)
		rc = pam_open_session(pamh, flags);
	else if (strcmp(name, "close_session") == 0)
		rc = pam_close_session(pamh, flags);
	else if (strcmp(name, "chauthtok") == 0)
		rc = pam_chauthtok(pamh, flags);
	else if (strcmp(name, "env") == 0) {
		print_env(pamh);
		return 0;
	} else if (strcmp(name, "pause") == 0) {
		say("pause", "");
		if (read_line(line, sizeof(line)) != 1)
			return -1;
		return 0;
	} else
		return -1;
	printf("%s %d %s\n", name, rc, pam_strerror(pamh, rc));
	fflush(stdout);
	if (strcmp(name, "open_session") == 0)
		print_env(pamh);
	*last = rc;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: pam_driver [-s] [-r RHOST] SERVICE USER "
	    "STEP...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct driver	 d;
	struct pam_conv	 pc;
	pam_handle_t	*pamh = NULL;
	const char	*rhost = NULL;
	const char	*lockfd;
	char		*end;
	long		 fd;
	int		 ch, flags = 0, i, rc, last = PAM_SUCCESS, status = 0;

	if ((lockfd = getenv("PAM_DRIVER_LOCK_FD")) != NULL) {
		fd = strtol(lockfd, &end, 10);
		if (*lockfd != '\0' && *end == '\0' && fd > 2 && fd < 1024)
			close((int)fd);
	}
	while ((ch = getopt(argc, argv, "r:s")) != -1) {
		switch (ch) {
		case 'r':
			rhost = optarg;
			break;
		case 's':
			flags |= PAM_SILENT;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 3)
		usage();

	memset(&d, 0, sizeof(d));
	rc = read_line(d.secret, sizeof(d.secret));
	if (rc == -1) {
		fprintf(stderr, "pam_driver: the secret is too long\n");
		return 2;
	}
	d.have_secret = rc == 1;
	pc.conv = conv;
	pc.appdata_ptr = &d;

	rc = pam_start(argv[0], argv[1], &pc, &pamh);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "pam_driver: pam_start: %d\n", rc);
		status = 3;
		goto out;
	}
	if (rhost != NULL &&
	    (rc = pam_set_item(pamh, PAM_RHOST, rhost)) != PAM_SUCCESS) {
		fprintf(stderr, "pam_driver: pam_set_item: %d\n", rc);
		status = 3;
		goto out;
	}
	for (i = 2; i < argc; i++) {
		if (step(pamh, argv[i], flags, &last) == -1) {
			fprintf(stderr, "pam_driver: step %s failed\n",
			    argv[i]);
			status = 2;
			break;
		}
	}
 out:
	if (pamh != NULL)
		pam_end(pamh, last);
	explicit_bzero(&d, sizeof(d));
	return status;
}
