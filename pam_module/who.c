/*
 * who.c - the PAM items a verify is about (user, service, rhost), read
 * from the handle on every call and checked before they are logged or
 * sent to apikeyd: a name with a control character could forge a log line.
 */
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "pam_apikey.h"

int
pam_apikey_text_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
pam_apikey_who_get(pam_handle_t *pamh, struct pam_apikey_who *w)
{
	const char	*user = NULL, *service = NULL, *rhost = NULL;
	int		 rc;

	rc = pam_get_user(pamh, &user, NULL);
	if (rc == PAM_CONV_AGAIN)
		return PAM_INCOMPLETE;
	if (rc != PAM_SUCCESS) {
		pam_syslog(pamh, LOG_ERR, "cannot get the user name: %s",
		    pam_strerror(pamh, rc));
		return rc;
	}
	if (user == NULL || *user == '\0') {
		pam_syslog(pamh, LOG_NOTICE, "no user name given");
		return PAM_USER_UNKNOWN;
	}
	rc = pam_get_item(pamh, PAM_SERVICE, (const void **)&service);
	if (rc != PAM_SUCCESS || service == NULL)
		service = "";
	rc = pam_get_item(pamh, PAM_RHOST, (const void **)&rhost);
	if (rc != PAM_SUCCESS || rhost == NULL || *rhost == '\0')
		rhost = NULL;
	w->user = user;
	w->service = service;
	w->rhost = rhost;
	w->rhost_log = rhost != NULL ? rhost : "-";
	return PAM_SUCCESS;
}

int
pam_apikey_who_check(pam_handle_t *pamh, const struct pam_apikey_who *w)
{
	if (!pam_apikey_text_printable(w->service)) {
		pam_syslog(pamh, LOG_ERR, "PAM_SERVICE contains control "
		    "characters");
		return PAM_SERVICE_ERR;
	}
	if (!pam_apikey_text_printable(w->user)) {
		pam_syslog(pamh, LOG_NOTICE, "refusing a user name with "
		    "control characters (service %s)", w->service);
		return PAM_AUTH_ERR;
	}
	if (!pam_apikey_text_printable(w->rhost_log)) {
		pam_syslog(pamh, LOG_NOTICE, "refusing PAM_RHOST with control "
		    "characters (user '%s' service %s)", w->user, w->service);
		return PAM_AUTH_ERR;
	}
	return PAM_SUCCESS;
}
