/*
 * cmd_verify.c - apikeyctl verify: asks apikeyd's verify socket about a key,
 * as a service would, and with --user also runs the local authorization
 * check the PAM module runs.
 *
 * The key comes from the first line of standard input unless it is given
 * on the command line, so it need not show in the process list. It is read
 * with read(2), a byte at a time, so no stdio buffer keeps a copy and
 * nothing past the first line is consumed; a key given as an argument is
 * copied and wiped from argv. The key is never printed, not even in a
 * message, and the buffer is wiped before returning.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <apikey.h>

#include "../common/secret.h"
#include "apikeyctl.h"
#include "args.h"
#include "output.h"

/* Far longer than any token: a longer line is not a key. */
#define KEY_BUF	1024

enum {
	OPT_USER = ARGS_OPT_BASE,
	OPT_SERVICE,
	OPT_RHOST,
	OPT_TENANT,
	OPT_PERMISSION,
	OPT_COST,
};

/* The options above by val - OPT_USER, for messages. */
static const char *const opt_name[] = {
	"--user", "--service", "--rhost", "--tenant", "--permission", "--cost"
};

static const struct option verify_opts[] = {
	{ "user",	required_argument,	NULL,	OPT_USER },
	{ "service",	required_argument,	NULL,	OPT_SERVICE },
	{ "rhost",	required_argument,	NULL,	OPT_RHOST },
	{ "tenant",	required_argument,	NULL,	OPT_TENANT },
	{ "permission",	required_argument,	NULL,	OPT_PERMISSION },
	{ "cost",	required_argument,	NULL,	OPT_COST },
	{ NULL,		0,			NULL,	0 }
};

/* Reads the first line of stdin into key: -1 to go on, else the exit
 * status. */
static int
read_key(const struct args *a, char key[KEY_BUF])
{
	size_t	n = 0;
	ssize_t	r;
	char	c;
	struct secret_scope c_scope SECRET_SCOPE = { &c, sizeof(c) };
	int	rc = -1;

	for (;;) {
		if ((r = read(STDIN_FILENO, &c, 1)) == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			ctl_warnx("cannot read the key from standard input: "
			    "%s", strerror(errno));
			rc = CTL_EXIT_INTERNAL;
			break;
		}
		if (r == 0 || c == '\n')
			break;
		if (n + 1 >= KEY_BUF) {
			rc = args_usage(a, "the key on standard input is too "
			    "long");
			break;
		}
		key[n++] = c;
	}
	if (rc == -1 && n > 0 && key[n - 1] == '\r')
		n--;
	if (rc == -1 && n == 0)
		rc = args_usage(a, "no key on standard input");
	key[rc == -1 ? n : 0] = '\0';
	return rc;
}

/* Takes the key from the command line into key: -1, or the exit status. */
static int
take_key(const struct args *a, char *arg, char key[KEY_BUF])
{
	size_t n = strlen(arg);

	if (n >= KEY_BUF)
		return args_usage(a, "KEY is too long");
	memcpy(key, arg, n + 1);
	/* Out of /proc/PID/cmdline from now on. */
	secret_wipe(arg, n);
	return -1;
}

/* --cost N onto req: -1 to go on, else the exit status. */
static int
set_cost(const struct args *a, struct apikey_verify_req *req)
{
	uint64_t	n;
	int		err;

	if (args_number_value(a, "--cost", UINT32_MAX, &n) == -1)
		return CTL_EXIT_USAGE;
	if (n == 0)
		return args_usage(a, "--cost: must be at least 1");
	if ((err = apikey_verify_req_set_cost(req, (uint32_t)n)) != 0)
		return ctl_fail_value("--cost", err);
	return -1;
}

/* One verify option but --cost onto req: an APIKEY_E* code. */
static int
set_option(struct apikey_verify_req *req, int ch, const char *arg,
    const char **user)
{
	switch (ch) {
	case OPT_USER:
		*user = arg;
		return apikey_verify_req_set_user(req, arg);
	case OPT_SERVICE:
		return apikey_verify_req_set_service(req, arg);
	case OPT_RHOST:
		return apikey_verify_req_set_rhost(req, arg);
	case OPT_TENANT:
		return apikey_verify_req_set_tenant(req, arg);
	default:
		return apikey_verify_req_add_permission(req, arg);
	}
}

int
cmd_verify(struct ctl *ctl, int argc, char **argv)
{
	struct apikey_verify_req	*req;
	struct apikey_result		*res = NULL;
	struct args			 a;
	const char			*user = NULL;
	char				 key[KEY_BUF];
	struct secret_scope		 key_scope SECRET_SCOPE =
					    { key, sizeof(key) };
	int				 ch, rc, err, authz = 0;

	if ((req = apikey_verify_req_new()) == NULL)
		return ctl_printed(-1);
	key[0] = '\0';
	args_init(&a, ctl, argc, argv, ARGS_SECRET, NULL, verify_opts);
	while ((ch = args_next(&a)) > 0) {
		if (ch == OPT_COST) {
			if ((rc = set_cost(&a, req)) != -1)
				goto out;
		} else if ((err = set_option(req, ch, a.arg, &user)) != 0) {
			rc = ctl_fail_value(opt_name[ch - OPT_USER], err);
			goto out;
		}
	}
	if (ch != ARGS_END) {
		rc = args_finish(&a, ch);
		goto out;
	}
	if (args_positionals(&a, 0, 1, "KEY") == -1) {
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	if (a.npos == 1 && strcmp(a.pos[0], "-") != 0)
		rc = take_key(&a, a.pos[0], key);
	else
		rc = read_key(&a, key);
	if (rc != -1)
		goto out;

	if ((rc = ctl_connect(ctl, 0)) != 0)
		goto out;
	err = apikey_verify(ctl->client, key, req, &res);
	if (err != 0) {
		rc = ctl_fail(ctl, err);
		goto out;
	}
	if (user != NULL && apikey_result_code(res) == APIKEY_VALID) {
		authz = apikey_authorize_user(res, user);
		/* Denied or unknown is an answer; anything else is not. */
		if (authz != 0 && authz != APIKEY_EDENIED &&
		    authz != APIKEY_ENOUSER) {
			ctl_warnx("%s", apikey_strerror(authz));
			rc = ctl_exit_status(authz);
			goto out;
		}
	}
	/* STALE is no verdict on the key: this host cannot check it now. */
	if ((rc = ctl_printed(out_verify(ctl->json, res, user, authz))) == 0 &&
	    !out_verify_passed(res, user, authz))
		rc = apikey_result_code(res) == APIKEY_STALE ?
		    CTL_EXIT_UNAVAIL : CTL_EXIT_INVALID;
 out:
	apikey_result_free(res);
	apikey_verify_req_free(req);
	return rc;
}
