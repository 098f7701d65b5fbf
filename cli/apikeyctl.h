/*
 * apikeyctl.h - what the parts of apikeyctl share: the settings every
 * command understands, the exit statuses of docs/cli.md, the error helpers
 * that map libapikey errors onto them, and the command entry points.
 *
 * A command is run(ctl, argc, argv) with argv[0] its own name; it returns
 * the process exit status and has printed any message itself.
 */
#ifndef APIKEYCTL_H
#define APIKEYCTL_H

struct apikey_client;
struct args;

/* Exit statuses, the table in docs/cli.md. */
#define CTL_EXIT_OK		0
#define CTL_EXIT_INVALID	1	/* verify: invalid or not authorized */
#define CTL_EXIT_USAGE		2
#define CTL_EXIT_UNAVAIL	3	/* also: the fleet database; verify: STALE */
#define CTL_EXIT_PERM		4
#define CTL_EXIT_NOTFOUND	5
#define CTL_EXIT_EXISTS		6
#define CTL_EXIT_REJECTED	7	/* daemon: invalid, or over a limit */
#define CTL_EXIT_INTERNAL	8
#define CTL_EXIT_CONFLICT	9	/* changed meanwhile on another host */

struct ctl {
	const char	*socket_dir;	/* NULL: $APIKEY_SOCKET_DIR, default */
	int		 json;
	int		 timeout_ms;	/* 0: the library's default */
	struct apikey_client *client;	/* set by ctl_connect() */
	const char	*usage;		/* synopsis of the running command */
};

/*
 * Connects ctl->client to admin.sock (admin != 0) or verify.sock. Returns 0,
 * or an exit status after printing why.
 */
int	ctl_connect(struct ctl *, int admin);
/*
 * The start of a management command with no options of its own: the scan
 * of args_only(), then ctl_connect() to admin.sock. -1 to go on, with the
 * positionals in the args, else the exit status after printing why.
 */
int	ctl_admin_only(struct args *, struct ctl *, int argc, char **argv,
	    int npos, const char *what);
/* The exit status for an APIKEY_E* code. */
int	ctl_exit_status(int err);
/*
 * Prints "apikeyctl: MESSAGE" for a failed library call, MESSAGE being the
 * daemon's when it gave one, and returns the exit status.
 */
int	ctl_fail(const struct ctl *, int err);
/*
 * For a failed apikey_*_set_* or add call on a request being built: the
 * value was refused before anything was sent, so that is a usage error
 * unless memory ran out. opt names the option.
 */
int	ctl_fail_value(const char *opt, int err);
/* The exit status after an out_* call returned rc (-1: out of memory). */
int	ctl_printed(int rc);

int	cmd_status(struct ctl *, int, char **);
int	cmd_metrics(struct ctl *, int, char **);
int	cmd_audit(struct ctl *, int, char **);
int	cmd_verify(struct ctl *, int, char **);

int	cmd_tenant_add(struct ctl *, int, char **);
int	cmd_tenant_list(struct ctl *, int, char **);
int	cmd_tenant_show(struct ctl *, int, char **);
int	cmd_tenant_enable(struct ctl *, int, char **);
int	cmd_tenant_disable(struct ctl *, int, char **);
int	cmd_tenant_remove(struct ctl *, int, char **);
int	cmd_tenant_allow_privileged(struct ctl *, int, char **);
int	cmd_tenant_deny_privileged(struct ctl *, int, char **);

int	cmd_key_create(struct ctl *, int, char **);
int	cmd_key_list(struct ctl *, int, char **);
int	cmd_key_show(struct ctl *, int, char **);
int	cmd_key_enable(struct ctl *, int, char **);
int	cmd_key_disable(struct ctl *, int, char **);
int	cmd_key_revoke(struct ctl *, int, char **);
int	cmd_key_rotate(struct ctl *, int, char **);
int	cmd_key_update(struct ctl *, int, char **);
int	cmd_key_purge_expired(struct ctl *, int, char **);

#endif
