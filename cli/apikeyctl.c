/*
 * apikeyctl.c - apikeyctl's entry point: the command table and dispatch,
 * the help text, the connection to apikeyd, and the mapping of libapikey
 * errors onto the exit statuses of docs/cli.md.
 *
 * A run is short: scan the global options up to the command word (and the
 * subcommand word for "key" and "tenant"), hand the rest to the command,
 * then close stdout and report a failed write as coreutils does. stdout
 * gets a buffer of our own so the token printed by key create or rotate can
 * be wiped from it at exit.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apikey.h>

#include "../common/secret.h"
#include "apikeyctl.h"
#include "args.h"
#include "json.h"

struct command {
	const char	*group;		/* "key", "tenant" or NULL */
	const char	*name;
	const char	*usage;		/* synopsis after "apikeyctl " */
	int		(*run)(struct ctl *, int, char **);
};

#define TOP_USAGE \
	"[--socket-dir DIR] [--json] [--timeout MS] COMMAND [ARGS]"

static const struct command commands[] = {
	{ NULL, "status", "status", cmd_status },
	{ NULL, "metrics", "metrics [-o FILE]", cmd_metrics },
	{ "tenant", "add",
	    "tenant add NAME --group GROUP [--admin-group GROUP] "
	    "[--allow-privileged]",
	    cmd_tenant_add },
	{ "tenant", "list", "tenant list", cmd_tenant_list },
	{ "tenant", "show", "tenant show NAME", cmd_tenant_show },
	{ "tenant", "enable", "tenant enable NAME", cmd_tenant_enable },
	{ "tenant", "disable", "tenant disable NAME", cmd_tenant_disable },
	{ "tenant", "remove", "tenant remove NAME [--force]",
	    cmd_tenant_remove },
	{ "tenant", "allow-privileged", "tenant allow-privileged NAME",
	    cmd_tenant_allow_privileged },
	{ "tenant", "deny-privileged", "tenant deny-privileged NAME",
	    cmd_tenant_deny_privileged },
	{ "key", "create", "key create [--user USER | --tenant NAME] "
	    "[--name TEXT] [--prefix P]\n"
	    "        [--expires DURATION] [--service SVC]... "
	    "[--permission RES:ACT]...\n"
	    "        [--allow-user USER]... [--metadata JSON] "
	    "[--rate N/DURATION]\n"
	    "        [--remaining N [--refill AMOUNT/INTERVAL]] "
	    "[--allow-cidr CIDR]...\n"
	    "        [--strict-sync] [--count N] [-q]",
	    cmd_key_create },
	{ "key", "list", "key list [--user USER | --tenant NAME]",
	    cmd_key_list },
	{ "key", "show", "key show ID", cmd_key_show },
	{ "key", "enable", "key enable ID", cmd_key_enable },
	{ "key", "disable", "key disable ID", cmd_key_disable },
	{ "key", "revoke", "key revoke ID", cmd_key_revoke },
	{ "key", "rotate", "key rotate ID [--grace DURATION] [-q]",
	    cmd_key_rotate },
	{ "key", "update", "key update ID [--name TEXT] "
	    "[--expires DURATION|never]\n"
	    "        [--service SVC]... [--no-services] "
	    "[--permission RES:ACT]...\n"
	    "        [--no-permissions] [--allow-user USER]... "
	    "[--no-allow-users]\n"
	    "        [--metadata JSON|''] [--rate N/DURATION] [--no-rate]\n"
	    "        [--remaining N] [--no-credits] "
	    "[--refill AMOUNT/INTERVAL] [--no-refill]\n"
	    "        [--allow-cidr CIDR]... [--no-cidrs] "
	    "[--strict-sync] [--no-strict-sync]",
	    cmd_key_update },
	{ "key", "purge-expired", "key purge-expired", cmd_key_purge_expired },
	{ NULL, "audit", "audit [--limit N]", cmd_audit },
	{ NULL, "verify", "verify [KEY|-] [--user USER] [--service SVC] "
	    "[--rhost ADDR]\n"
	    "        [--tenant NAME] [--permission RES:ACT]... [--cost N]",
	    cmd_verify },
};

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static const char help_text[] =
    "\n"
    "Global options, anywhere on the line:\n"
    "  --socket-dir DIR  apikeyd's socket directory (else $APIKEY_SOCKET_DIR,\n"
    "                    else " APIKEY_DEFAULT_SOCKET_DIR "); verify uses "
    "verify.sock,\n"
    "                    every other command admin.sock\n"
    "  --json            print one JSON document instead of text\n"
    "  --timeout MS      bound each call to apikeyd (default 2000)\n"
    "  -h, --help        print this help and exit\n"
    "  --version         print the version and exit\n"
    "\n"
    "DURATION is one or more NUMBER UNIT pairs, units s m h d w: 60s, 12h,\n"
    "30d, 1h30m. --rate 100/1m allows 100 verifies a minute. --remaining N\n"
    "gives a key N credits, of which each accepted verify uses its --cost\n"
    "(default 1); --refill 1000/1d sets them back to 1000 once a day.\n"
    "--strict-sync makes a key fail (STALE) on a host that has not synced\n"
    "with the fleet database within max_staleness (fleet mode only).\n"
    "\n"
    "key create and key rotate show the new token once; with -q (--quiet)\n"
    "they print only the token, even with --json. verify reads KEY from the\n"
    "first line of standard input when KEY is - or absent.\n"
    "\n"
    "metrics prints the Prometheus text format (administrators only); with\n"
    "-o FILE (--output) it replaces FILE atomically, mode 0644, for\n"
    "node_exporter's textfile collector.\n"
    "\n"
    "Exit status: 0 success (verify: valid), 1 verify: not valid or not\n"
    "authorized, 2 usage error, 3 apikeyd or the fleet database unavailable\n"
    "(verify: STALE), 4 permission denied, 5 not found, 6 already exists,\n"
    "7 refused by apikeyd as invalid or over a limit, 8 internal error,\n"
    "9 changed meanwhile through another host (try again).\n";

/* The commands of group (all with NULL), for --help. */
static void
usage(const char *group)
{
	size_t i;

	printf("usage: apikeyctl %s\n\ncommands:\n", TOP_USAGE);
	for (i = 0; i < NCOMMANDS; i++)
		if (group == NULL || (commands[i].group != NULL &&
		    strcmp(commands[i].group, group) == 0))
			printf("  %s\n", commands[i].usage);
	fputs(help_text, stdout);
}

static int
is_group(const char *word)
{
	return strcmp(word, "key") == 0 || strcmp(word, "tenant") == 0;
}

static const struct command *
find_command(const char *group, const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++) {
		if ((group == NULL) != (commands[i].group == NULL))
			continue;
		if (group != NULL && strcmp(group, commands[i].group) != 0)
			continue;
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	}
	return NULL;
}

/*
 * Scans the global options in front of the next word (*argvp[0] is the
 * word before them) and moves *argcp and *argvp onto it. Returns -1 to go
 * on, else the exit status.
 */
static int
next_word(struct ctl *ctl, const char *group, int *argcp, char ***argvp)
{
	struct args	a;
	int		ch;

	args_init(&a, ctl, *argcp, *argvp, ARGS_STOP, NULL, NULL);
	if ((ch = args_next(&a)) == ARGS_HELP) {
		usage(group);
		return CTL_EXIT_OK;
	}
	if (ch != ARGS_END)
		return args_finish(&a, ch);
	if (a.next >= *argcp)
		return args_usage(&a, "missing %s%scommand",
		    group != NULL ? group : "", group != NULL ? " " : "");
	*argcp -= a.next;
	*argvp += a.next;
	if (strcmp((*argvp)[0], "help") == 0) {
		usage(group);
		return CTL_EXIT_OK;
	}
	return -1;
}

static int
dispatch(struct ctl *ctl, int argc, char **argv)
{
	const struct command	*cmd;
	const struct args	 a = { .ctl = ctl };	/* for messages */
	const char		*group = NULL;
	int			 rc;

	ctl->usage = TOP_USAGE;
	if ((rc = next_word(ctl, NULL, &argc, &argv)) != -1)
		return rc;
	if (is_group(argv[0])) {
		group = argv[0];
		ctl->usage = strcmp(group, "key") == 0 ?
		    "key create|list|show|enable|disable|revoke|rotate|update|"
		    "purge-expired ..." :
		    "tenant add|list|show|enable|disable|remove ...";
		if ((rc = next_word(ctl, group, &argc, &argv)) != -1)
			return rc;
	}
	if ((cmd = find_command(group, argv[0])) == NULL)
		return args_usage(&a, "unknown %s%scommand '%s'",
		    group != NULL ? group : "", group != NULL ? " " : "",
		    argv[0]);
	ctl->usage = cmd->usage;
	return cmd->run(ctl, argc, argv);
}

/* Fails like coreutils' close_stdout: a lost write is an error. */
static int
close_stdout(int rc)
{
	int err = 0;

	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout))
		err = errno != 0 ? errno : EIO;
	/* EBADF: stdout was closed to begin with and nothing was written. */
	if (fclose(stdout) != 0 && err == 0 && errno != EBADF)
		err = errno;
	if (err == 0)
		return rc;
	ctl_warnx("write error: %s", strerror(err));
	return CTL_EXIT_INTERNAL;
}

int
main(int argc, char **argv)
{
	static char	outbuf[BUFSIZ];
	struct ctl	ctl = { 0 };
	int		rc;

	setvbuf(stdout, outbuf, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF,
	    sizeof(outbuf));
	jout_init();

	rc = dispatch(&ctl, argc, argv);

	apikey_close(ctl.client);
	rc = close_stdout(rc);
	/* stdout's buffer held any token printed. */
	secret_wipe(outbuf, sizeof(outbuf));
	return rc;
}

/* The socket a failed open tried, for the message; as libapikey picks it. */
static void
socket_path(const char *dir, int admin, char *buf, size_t bufsz)
{
	const char	*name = admin ? "admin.sock" : "verify.sock";
	struct stat	 st;
	size_t		 n;
	int		 isdir;

	if (dir == NULL && ((dir = getenv("APIKEY_SOCKET_DIR")) == NULL ||
	    *dir == '\0'))
		dir = APIKEY_DEFAULT_SOCKET_DIR;
	n = strlen(dir);
	if (stat(dir, &st) == 0)
		isdir = S_ISDIR(st.st_mode);
	else
		isdir = !(n >= 5 && strcmp(dir + n - 5, ".sock") == 0);
	while (isdir && n > 1 && dir[n - 1] == '/')
		n--;
	if (!isdir)
		snprintf(buf, bufsz, "%s", dir);
	else if (n == 1 && dir[0] == '/')
		snprintf(buf, bufsz, "/%s", name);
	else
		snprintf(buf, bufsz, "%.*s/%s", (int)n, dir, name);
}

int
ctl_connect(struct ctl *ctl, int admin)
{
	char	path[PATH_MAX];
	int	err;

	if (admin)
		err = apikey_open_admin(ctl->socket_dir, ctl->timeout_ms,
		    &ctl->client);
	else
		err = apikey_open(ctl->socket_dir, ctl->timeout_ms,
		    &ctl->client);
	if (err == 0)
		return CTL_EXIT_OK;
	socket_path(ctl->socket_dir, admin, path, sizeof(path));
	ctl_warnx("cannot reach apikeyd at %s: %s", path,
	    apikey_strerror(err));
	/* EINVAL here: a socket path libapikey cannot use. */
	return err == APIKEY_EINVAL ? CTL_EXIT_USAGE : ctl_exit_status(err);
}

int
ctl_admin_only(struct args *a, struct ctl *ctl, int argc, char **argv,
    int npos, const char *what)
{
	int	rc;

	if ((rc = args_only(a, ctl, argc, argv, npos, what)) != -1)
		return rc;
	if ((rc = ctl_connect(ctl, 1)) != 0)
		return rc;
	return -1;
}

int
ctl_exit_status(int err)
{
	switch (err) {
	case 0:
		return CTL_EXIT_OK;
	case APIKEY_EUNAVAIL:
	case APIKEY_EBUSY:
	case APIKEY_EUNTRUSTED:	/* no daemon we may talk to */
	case APIKEY_EFLEET:	/* nothing changed: try again later */
		return CTL_EXIT_UNAVAIL;
	case APIKEY_ECONFLICT:	/* nothing changed: try again now */
		return CTL_EXIT_CONFLICT;
	case APIKEY_EPERM:
		return CTL_EXIT_PERM;
	case APIKEY_ENOTFOUND:
		return CTL_EXIT_NOTFOUND;
	case APIKEY_EEXIST:
		return CTL_EXIT_EXISTS;
	case APIKEY_EINVAL:
	case APIKEY_ELIMIT:
		return CTL_EXIT_REJECTED;
	default:	/* EPROTO, EINTERNAL, ENOMEM, ENSS, the unforeseen */
		return CTL_EXIT_INTERNAL;
	}
}

int
ctl_fail(const struct ctl *ctl, int err)
{
	const char *msg = "";

	if (ctl->client != NULL)
		msg = apikey_last_error(ctl->client);
	if (msg == NULL || *msg == '\0')
		msg = apikey_strerror(err);
	ctl_warnx("%s", msg);
	return ctl_exit_status(err);
}

int
ctl_fail_value(const char *opt, int err)
{
	if (err == APIKEY_ENOMEM) {
		ctl_warnx("%s", apikey_strerror(err));
		return CTL_EXIT_INTERNAL;
	}
	ctl_warnx("%s: %s", opt, apikey_strerror(err));
	return CTL_EXIT_USAGE;
}

int
ctl_printed(int rc)
{
	if (rc == 0)
		return CTL_EXIT_OK;
	ctl_warnx("%s", apikey_strerror(APIKEY_ENOMEM));
	return CTL_EXIT_INTERNAL;
}
