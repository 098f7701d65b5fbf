/*
 * pam_apikey.h - what the files of pam_apikey.so share: the module's
 * arguments, parsed afresh on every call into a struct on the caller's
 * stack, so the module keeps no global state and needs no locking.
 *
 * Nothing here leaves the shared object: the objects are built with
 * -fvisibility=hidden and pam_apikey.map exports only pam_sm_*.
 */
#ifndef PAM_APIKEY_H
#define PAM_APIKEY_H

#include <stddef.h>

#include <security/pam_modules.h>

#define PAM_APIKEY_DEFAULT_PROMPT	"API key: "
#define PAM_APIKEY_TIMEOUT_MIN		1
#define PAM_APIKEY_TIMEOUT_MAX		600000
/* libapikey's limit on required permissions per verify (PROTO_MAX_PERMS). */
#define PAM_APIKEY_MAX_PERMS		32

/* The module's arguments. Strings point into PAM's argv: valid for the
 * current pam_sm_* call only. */
struct pam_apikey_args {
	const char	*socket;	/* never NULL */
	int		 timeout_ms;
	const char	*prompt;	/* never NULL */
	const char	*perms[PAM_APIKEY_MAX_PERMS];
	size_t		 nperms;
	int		 strict;
	int		 ignore_unavail;
	int		 export_env;
	int		 debug;
	int		 nodelay;
	int		 config_error;	/* a known argument had a bad value */
};

/*
 * Fills *a from argv. An unknown argument is logged (LOG_WARNING) and
 * ignored; a known argument with a bad value is logged (LOG_ERR) and sets
 * a->config_error, and the calls that verify keys then refuse to run.
 * Always fills *a, with defaults for whatever argv does not set.
 */
void	pam_apikey_parse_args(pam_handle_t *pamh, int argc, const char **argv,
	    struct pam_apikey_args *a);

#endif
