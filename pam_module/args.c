/*
 * args.c - pam_apikey's module arguments, from the PAM configuration line.
 *
 * Parsed on every pam_sm_* call into a struct on the caller's stack: a
 * handful of string compares, cheaper than any state we would have to keep
 * consistent across threads and forks. A mistake that would loosen the
 * check (a required permission that cannot be passed on) must never be
 * dropped quietly, so a known argument with a bad value is a configuration
 * error that the verifying calls refuse to run with; an unknown argument is
 * only a warning, as in most PAM modules.
 */
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "pam_apikey.h"

/* If arg is "name=value", returns value, else NULL. */
static const char *
value_of(const char *arg, const char *name)
{
	size_t	 n = strlen(name);

	if (strncmp(arg, name, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	return NULL;
}

/* Milliseconds as plain decimal digits within the allowed range. */
static int
parse_timeout(const char *s, int *out)
{
	long	 v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > PAM_APIKEY_TIMEOUT_MAX)
			return -1;
	}
	if (v < PAM_APIKEY_TIMEOUT_MIN)
		return -1;
	*out = (int)v;
	return 0;
}

/*
 * "resource:action", both parts non-empty and printable. The daemon has
 * the final word on the syntax; this catches what is surely a typo.
 */
static int
permission_valid(const char *s)
{
	const char	*colon = strchr(s, ':');
	const char	*p;

	if (colon == NULL || colon == s || colon[1] == '\0')
		return 0;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

void
pam_apikey_parse_args(pam_handle_t *pamh, int argc, const char **argv,
    struct pam_apikey_args *a)
{
	const char	*arg, *v;
	int		 i;

	memset(a, 0, sizeof(*a));
	/*
	 * Never NULL: libapikey would then read $APIKEY_SOCKET_DIR, and the
	 * environment of a PAM application is not the administrator's.
	 */
	a->socket = APIKEY_DEFAULT_SOCKET_DIR;
	a->timeout_ms = APIKEY_DEFAULT_TIMEOUT_MS;
	a->prompt = PAM_APIKEY_DEFAULT_PROMPT;

	for (i = 0; i < argc; i++) {
		arg = argv[i];
		if (arg == NULL)
			continue;
		if ((v = value_of(arg, "socket")) != NULL) {
			if (*v == '\0') {
				pam_syslog(pamh, LOG_ERR, "socket= is empty");
				a->config_error = 1;
			} else
				a->socket = v;
		} else if ((v = value_of(arg, "timeout")) != NULL) {
			if (parse_timeout(v, &a->timeout_ms) != 0) {
				pam_syslog(pamh, LOG_ERR, "timeout=%s: not a "
				    "number of milliseconds from %d to %d", v,
				    PAM_APIKEY_TIMEOUT_MIN,
				    PAM_APIKEY_TIMEOUT_MAX);
				a->config_error = 1;
			}
		} else if ((v = value_of(arg, "prompt")) != NULL) {
			a->prompt = v;
		} else if ((v = value_of(arg, "require_permission")) != NULL) {
			if (!permission_valid(v)) {
				pam_syslog(pamh, LOG_ERR, "require_permission=%s:"
				    " not RESOURCE:ACTION", v);
				a->config_error = 1;
			} else if (a->nperms >= APIKEY_MAX_PERMS) {
				pam_syslog(pamh, LOG_ERR, "require_permission="
				    "%s: more than %d required permissions", v,
				    APIKEY_MAX_PERMS);
				a->config_error = 1;
			} else
				a->perms[a->nperms++] = v;
		} else if (strcmp(arg, "strict") == 0) {
			a->strict = 1;
		} else if (strcmp(arg, "ignore_authinfo_unavail") == 0) {
			a->ignore_unavail = 1;
		} else if (strcmp(arg, "export_env") == 0) {
			a->export_env = 1;
		} else if (strcmp(arg, "debug") == 0) {
			a->debug = 1;
		} else if (strcmp(arg, "nodelay") == 0) {
			a->nodelay = 1;
		} else if (strcmp(arg, "use_first_pass") == 0 ||
		    strcmp(arg, "try_first_pass") == 0) {
			/* Read by pam_get_authtok() from PAM's own argv. */
		} else {
			pam_syslog(pamh, LOG_WARNING, "unknown argument '%s' "
			    "ignored", arg);
		}
	}
}
