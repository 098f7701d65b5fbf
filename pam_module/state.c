/*
 * state.c - the PAM data pam_apikey keeps on a handle between calls: set
 * by every pam_sm_authenticate, read by the account, setcred and session
 * calls of the same process.
 *
 * It is the module's only copy of a token, so every way out of it wipes
 * the token: a failed authentication at once, a success at pam_end() or
 * when the next authentication replaces it (both through state_cleanup()).
 * The connection to apikeyd it may keep goes the same ways, and with the
 * account check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "pam_apikey.h"

#define STATE_NAME		"pam_apikey_state"

static void
state_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	if (data == NULL)
		return;
	/* In a child that forked after the login, this closes only the
	 * child's copy of the descriptor. */
	pam_apikey_state_close(data);
	explicit_bzero(data, sizeof(struct pam_apikey_state));
	free(data);
}

int
pam_apikey_state_new(pam_handle_t *pamh, struct pam_apikey_state **out)
{
	struct pam_apikey_state	*st;
	int			 rc;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		pam_syslog(pamh, LOG_CRIT, "out of memory");
		return PAM_BUF_ERR;
	}
	if ((rc = pam_set_data(pamh, STATE_NAME, st, state_cleanup)) !=
	    PAM_SUCCESS) {
		state_cleanup(pamh, st, 0);
		pam_syslog(pamh, LOG_ERR, "pam_set_data: %s",
		    pam_strerror(pamh, rc));
		return rc;
	}
	*out = st;	/* st now belongs to PAM. */
	return PAM_SUCCESS;
}

struct pam_apikey_state *
pam_apikey_state_get(pam_handle_t *pamh)
{
	const void	*data = NULL;

	if (pam_get_data(pamh, STATE_NAME, &data) != PAM_SUCCESS)
		return NULL;
	/* PAM hands its data back const; the module owns it. */
	return (struct pam_apikey_state *)(uintptr_t)data;
}

struct pam_apikey_state *
pam_apikey_state_authenticated(pam_handle_t *pamh)
{
	struct pam_apikey_state	*st = pam_apikey_state_get(pamh);

	return st != NULL && st->authenticated ? st : NULL;
}

void
pam_apikey_state_keep(struct pam_apikey_state *st, const char *token,
    const char *id, const struct pam_apikey_owner *o)
{
	size_t	 len;

	/* pam_apikey_token_is_key() accepted it: at most APIKEY_TOKEN_MAX. */
	len = strlen(token);
	memcpy(st->token, token, len + 1);
	memcpy(st->key_id, id, sizeof(st->key_id));
	st->owner = *o;
}

void
pam_apikey_state_drop(struct pam_apikey_state *st)
{
	st->authenticated = 0;
	explicit_bzero(st->token, sizeof(st->token));
	pam_apikey_state_close(st);
}

void
pam_apikey_state_close(struct pam_apikey_state *st)
{
	apikey_close(st->client);
	st->client = NULL;
}
