/*
 * env.c - export_env: the identity of the key that authenticated the user,
 * as variables in the PAM environment for the session to read. A handful
 * of pam_putenv() calls per login.
 */
#include <stdio.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "pam_apikey.h"

static const char *const env_names[] = {
	"APIKEY_ID", "APIKEY_OWNER_KIND", "APIKEY_OWNER", "APIKEY_TENANT",
};

static int
env_put(pam_handle_t *pamh, const char *name, const char *value)
{
	char	 buf[PAM_APIKEY_NAME_SIZE + 32];
	int	 n, rc;

	n = snprintf(buf, sizeof(buf), "%s=%s", name, value);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return PAM_BUF_ERR;
	if ((rc = pam_putenv(pamh, buf)) != PAM_SUCCESS)
		pam_syslog(pamh, LOG_ERR, "pam_putenv %s: %s", name,
		    pam_strerror(pamh, rc));
	return rc;
}

/* Removes one of the module's variables if it is set (libpam logs an
 * error for deleting one that is not). */
static void
env_unset(pam_handle_t *pamh, const char *name)
{
	if (pam_getenv(pamh, name) != NULL)
		(void)pam_putenv(pamh, name);
}

int
pam_apikey_env_export(pam_handle_t *pamh, const struct pam_apikey_state *st)
{
	const struct pam_apikey_owner	*o = &st->owner;
	int				 tenant = o->kind == APIKEY_OWNER_TENANT;
	int				 rc;

	if ((rc = env_put(pamh, "APIKEY_ID", st->key_id)) != PAM_SUCCESS ||
	    (rc = env_put(pamh, "APIKEY_OWNER_KIND",
	    tenant ? "tenant" : "user")) != PAM_SUCCESS ||
	    (rc = env_put(pamh, "APIKEY_OWNER", o->name)) != PAM_SUCCESS)
		return rc;
	if (tenant)
		return env_put(pamh, "APIKEY_TENANT", o->tenant);
	env_unset(pamh, "APIKEY_TENANT");
	return PAM_SUCCESS;
}

void
pam_apikey_env_clear(pam_handle_t *pamh)
{
	size_t	 i;

	for (i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
		env_unset(pamh, env_names[i]);
}
