/*
 * pam_apikey.c - pam_apikey.so: log in to a PAM service with an API key
 * issued by apikeyd, as a thin front over libapikey.
 *
 * One login costs at most two round trips to apikeyd on the local verify
 * socket (authenticate, then the account re-check), each bounded by
 * timeout=; group membership is resolved here, in the application's
 * process, through NSS. The module keeps no global state: its arguments
 * are parsed into a struct on the stack on every call, and what one call
 * hands to the next lives in PAM data on the handle.
 *
 * USAGE
 *
 *     auth     sufficient  pam_apikey.so socket=/run/apikeyd
 *     auth     required    pam_unix.so try_first_pass
 *     account  required    pam_apikey.so socket=/run/apikeyd
 *     account  required    pam_unix.so
 *     session  optional    pam_apikey.so export_env
 *
 * ARGUMENTS
 *
 *   socket=PATH        apikeyd's socket directory, or the verify socket
 *                      itself; default /run/apikeyd. The module never reads
 *                      $APIKEY_SOCKET_DIR: a PAM application's environment
 *                      is not the administrator's.
 *   timeout=MS         bound on the connect and on each verify, 1..600000
 *                      milliseconds; default 2000.
 *   prompt=TEXT        the prompt for the key; default "API key: ". Write
 *                      [prompt=API key: ] for a prompt with spaces.
 *   use_first_pass     take the token an earlier module read; fail without
 *                      one. Handled by pam_get_authtok().
 *   try_first_pass     take the token an earlier module read, else prompt.
 *                      (pam_get_authtok() always reuses a cached token, so
 *                      this is also what happens without either argument.)
 *   require_permission=RESOURCE:ACTION
 *                      the key must grant this permission; repeatable, at
 *                      most 32.
 *   strict             a token that is not an API key fails (PAM_AUTH_ERR)
 *                      instead of being left to the next module.
 *   ignore_authinfo_unavail
 *                      return PAM_IGNORE wherever PAM_AUTHINFO_UNAVAIL is
 *                      listed below, so a module further down decides.
 *   export_env         export the key's identity into the PAM environment,
 *                      see ENVIRONMENT.
 *   nodelay            do not ask libpam for the 2 s delay after a failure.
 *   debug              log the module's decisions at LOG_DEBUG.
 *
 * An unknown argument is logged (LOG_WARNING) and ignored. A known argument
 * with a bad value (timeout out of range, a permission that is not
 * RESOURCE:ACTION or one too many, an empty socket=) is logged (LOG_ERR),
 * and authenticate and account then return PAM_SERVICE_ERR.
 *
 * RETURN VALUES
 *
 * pam_sm_authenticate
 *   PAM_SUCCESS           the key is valid for this service, user and
 *                         rhost, grants every require_permission, and the
 *                         user may use it: a user key's owner, or a member
 *                         of a tenant key's group (primary group, member
 *                         list or supplementary group) who is on the key's
 *                         allowed-users list when it has one.
 *   PAM_IGNORE            the token is not an API key at all (bad shape or
 *                         checksum); apikeyd is not contacted. With strict:
 *                         PAM_AUTH_ERR instead.
 *   PAM_AUTH_ERR          the key was rejected (NOT_FOUND, DISABLED,
 *                         TENANT_DISABLED, EXPIRED, FORBIDDEN,
 *                         INSUFFICIENT_PERMISSIONS), the user may not use
 *                         it, or PAM_USER or PAM_RHOST cannot be sent to
 *                         apikeyd (control characters, too long).
 *   PAM_USER_UNKNOWN      the key is valid but PAM_USER is unknown to NSS,
 *                         or no user name could be had.
 *   PAM_AUTHINFO_UNAVAIL  apikeyd is missing, refusing, busy, failing or
 *                         silent past timeout=; or NSS failed; or the key
 *                         asks for strict sync and this host has not
 *                         synced with the fleet database lately (STALE).
 *   PAM_SERVICE_ERR       configuration error (see ARGUMENTS).
 *   PAM_BUF_ERR           out of memory.
 *   PAM_SYSTEM_ERR        anything else, e.g. a reply the module cannot
 *                         make sense of.
 *   PAM_INCOMPLETE        the conversation asked to be called again.
 *   Other errors of pam_get_user() and pam_get_authtok() are passed on.
 *   PAM_AUTH_ERR and PAM_USER_UNKNOWN come with pam_fail_delay(2 s).
 *
 * pam_sm_acct_mgmt
 *   PAM_IGNORE            this module did not authenticate the user on this
 *                         handle (in this process).
 *   Otherwise the key is verified again, with the current service, user
 *   and rhost, and the user is authorized again (membership may have
 *   changed):
 *   PAM_SUCCESS           still valid and authorized.
 *   PAM_ACCT_EXPIRED      the key expired since.
 *   PAM_AUTH_ERR          revoked (NOT_FOUND), DISABLED, TENANT_DISABLED,
 *                         FORBIDDEN, INSUFFICIENT_PERMISSIONS, or the user
 *                         may no longer use it.
 *   The user is told why through the conversation (PAM_ERROR_MSG), e.g.
 *   "Your API key has been revoked.", unless PAM_SILENT. The other return
 *   values are those of pam_sm_authenticate.
 *
 * pam_sm_setcred
 *   The module sets no credentials. PAM_SUCCESS when it authenticated the
 *   user on this handle; PAM_IGNORE when its pam_sm_authenticate ran on
 *   this handle and did not succeed, so that the credentials of the module
 *   that did authenticate are still set; PAM_SUCCESS when its
 *   pam_sm_authenticate never ran in this process. That last case is
 *   sshd with keyboard-interactive, which authenticates in a child process
 *   and calls pam_setcred() in the parent (a failure there is fatal), or
 *   cron, which never authenticates; pam_unix behaves the same way.
 *
 * pam_sm_open_session
 *   With export_env and when this module authenticated the user on this
 *   handle: exports the variables below and returns PAM_SUCCESS (or the
 *   error of pam_putenv()). Otherwise PAM_IGNORE.
 *
 * pam_sm_close_session
 *   PAM_SUCCESS when this module authenticated the user on this handle
 *   (there is nothing to undo), else PAM_IGNORE.
 *
 * pam_sm_chauthtok
 *   PAM_IGNORE: keys are rotated with apikeyctl, never changed through PAM.
 *
 * Never make pam_apikey the only module of a stack: when every module of a
 * stack returns PAM_IGNORE, libpam fails the whole call.
 *
 * ENVIRONMENT (export_env)
 *
 *   APIKEY_ID          the key id, e.g. 3fKx9QbT2aA.
 *   APIKEY_OWNER_KIND  "user" or "tenant".
 *   APIKEY_OWNER       a user key: the owner's user name; a tenant key:
 *                      the tenant name.
 *   APIKEY_TENANT      a tenant key: the tenant name; a user key: unset
 *                      (removed from the PAM environment).
 *
 * With export_env on the auth line the variables are exported as soon as
 * authentication succeeds: sshd with keyboard-interactive authenticates in
 * a child process and copies only the PAM environment back to the process
 * that opens the session, where this module has no state. With export_env
 * on the session line they are exported by pam_sm_open_session.
 *
 * LOGGING
 *
 * Through pam_syslog() only (the application's syslog facility, usually
 * LOG_AUTHPRIV). Successes and failures name the key id, the user, the
 * service and the rhost ("-" when PAM_RHOST is not set), never the token:
 *
 *   authentication succeeded for user 'alice' with key ID (tenant acme)
 *       service sshd rhost 127.0.0.1                          LOG_INFO
 *   authentication failed for user 'x' service sshd rhost y:
 *       key ID NOT_FOUND (reason from apikeyd)                 LOG_NOTICE
 *   authentication failed for user 'dave' service sshd rhost y:
 *       key ID: user 'dave' is not a member of tenant acme's group 'grp'
 *   apikeyd unavailable at PATH: ... (user 'x' service s rhost r)  LOG_ERR
 *
 * A token that is not an API key may be a mistyped password: nothing
 * derived from it is logged, not even under debug.
 *
 * TOKEN HYGIENE
 *
 * The token PAM holds (PAM_AUTHTOK) belongs to PAM. The module's only
 * copy is the one kept in its PAM data for the account re-check; that data
 * is wiped (explicit_bzero) and freed by its cleanup function at pam_end()
 * or when a new authentication replaces it. libapikey wipes its own copies.
 *
 * SOURCE FILES
 *
 * This file holds the six pam_sm_* entry points and the policy that is
 * theirs alone (strict, the fail delay, ignore_authinfo_unavail); args.c,
 * who.c, state.c, verify.c and env.c do the rest, see pam_apikey.h.
 */
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "pam_apikey.h"

/* PAM_EXTERN is plain extern in Linux-PAM 1.5.2; the objects are built
 * with -fvisibility=hidden. */
#define PAM_APIKEY_EXPORT	__attribute__((visibility("default")))

#define FAIL_DELAY_USEC		2000000U

/*
 * The last word on a failed authenticate or account check: never
 * PAM_SUCCESS, and ignore_authinfo_unavail and the fail delay applied.
 */
static int
failure(pam_handle_t *pamh, const struct pam_apikey_args *a,
    enum pam_apikey_phase ph, int rc)
{
	if (rc == PAM_SUCCESS) {
		pam_syslog(pamh, LOG_CRIT, "internal error: success on a "
		    "failure path");
		rc = PAM_SYSTEM_ERR;
	}
	if (ph == PAM_APIKEY_PHASE_AUTH && !a->nodelay &&
	    (rc == PAM_AUTH_ERR || rc == PAM_USER_UNKNOWN))
		(void)pam_fail_delay(pamh, FAIL_DELAY_USEC);
	if (rc == PAM_AUTHINFO_UNAVAIL && a->ignore_unavail) {
		if (a->debug)
			pam_syslog(pamh, LOG_DEBUG, "PAM_AUTHINFO_UNAVAIL: "
			    "PAM_IGNORE (ignore_authinfo_unavail)");
		rc = PAM_IGNORE;
	}
	return rc;
}

/* A token that is not an API key: maybe a password, so log nothing about
 * it. PAM_IGNORE, or PAM_AUTH_ERR with strict. */
static int
not_a_key(pam_handle_t *pamh, const struct pam_apikey_args *a,
    const struct pam_apikey_who *w)
{
	if (a->strict) {
		pam_syslog(pamh, LOG_NOTICE, "authentication failed for user "
		    "'%s' service %s rhost %s: not an API key",
		    pam_apikey_text_printable(w->user) ? w->user : "?",
		    pam_apikey_text_printable(w->service) ? w->service : "?",
		    pam_apikey_text_printable(w->rhost_log) ? w->rhost_log :
		    "?");
		return PAM_AUTH_ERR;
	}
	if (a->debug)
		pam_syslog(pamh, LOG_DEBUG, "not an API key: PAM_IGNORE");
	return PAM_IGNORE;
}

PAM_APIKEY_EXPORT int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct pam_apikey_args	 a;
	struct pam_apikey_state	*st;
	struct pam_apikey_who	 w;
	struct pam_apikey_owner	 o;
	const char		*token = NULL;
	char			 id[APIKEY_KEY_ID_SIZE];
	int			 rc;

	pam_apikey_parse_args(pamh, argc, argv, &a);

	/*
	 * A fresh state replaces (and wipes) whatever an earlier call on
	 * this handle left, so a stale success can never leak into the
	 * account check, setcred or the session.
	 */
	if ((rc = pam_apikey_state_new(pamh, &st)) != PAM_SUCCESS)
		return failure(pamh, &a, PAM_APIKEY_PHASE_AUTH, rc);
	if (a.export_env)
		pam_apikey_env_clear(pamh);

	if (a.config_error) {
		rc = PAM_SERVICE_ERR;
		goto out;
	}
	if ((rc = pam_apikey_who_get(pamh, &w)) != PAM_SUCCESS)
		goto out;
	rc = pam_get_authtok(pamh, PAM_AUTHTOK, &token, a.prompt);
	if (rc == PAM_CONV_AGAIN) {
		rc = PAM_INCOMPLETE;
		goto out;
	}
	if (rc != PAM_SUCCESS || token == NULL) {
		pam_syslog(pamh, LOG_NOTICE, "cannot get the API key: %s",
		    pam_strerror(pamh, rc));
		if (rc == PAM_SUCCESS)
			rc = PAM_AUTH_ERR;
		goto out;
	}
	if (!pam_apikey_token_is_key(token, id)) {
		rc = not_a_key(pamh, &a, &w);
		goto out;
	}
	if ((rc = pam_apikey_who_check(pamh, &w)) != PAM_SUCCESS)
		goto out;

	rc = pam_apikey_key_check(pamh, &a, &w, PAM_APIKEY_PHASE_AUTH, flags,
	    token, id, &o);
	if (rc != PAM_SUCCESS)
		goto out;

	pam_apikey_state_keep(st, token, id, &o);
	if (a.export_env && (rc = pam_apikey_env_export(pamh, st)) !=
	    PAM_SUCCESS)
		goto out;
	st->authenticated = 1;
	pam_syslog(pamh, LOG_INFO, "authentication succeeded for user '%s' "
	    "with key %s (%s %s) service %s rhost %s", w.user, id,
	    o.kind == APIKEY_OWNER_TENANT ? "tenant" : "user", o.name,
	    w.service, w.rhost_log);
	return PAM_SUCCESS;

 out:
	pam_apikey_state_drop(st);
	return failure(pamh, &a, PAM_APIKEY_PHASE_AUTH, rc);
}

PAM_APIKEY_EXPORT int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pam_apikey_args	 a;
	struct pam_apikey_state	*st;
	struct pam_apikey_who	 w;
	struct pam_apikey_owner	 o;
	int			 rc;

	pam_apikey_parse_args(pamh, argc, argv, &a);
	if ((st = pam_apikey_state_authenticated(pamh)) == NULL) {
		if (a.debug)
			pam_syslog(pamh, LOG_DEBUG, "account: not authenticated "
			    "by this module: PAM_IGNORE");
		return PAM_IGNORE;
	}
	if (a.config_error) {
		rc = PAM_SERVICE_ERR;
		goto out;
	}
	if ((rc = pam_apikey_who_get(pamh, &w)) != PAM_SUCCESS ||
	    (rc = pam_apikey_who_check(pamh, &w)) != PAM_SUCCESS)
		goto out;
	rc = pam_apikey_key_check(pamh, &a, &w, PAM_APIKEY_PHASE_ACCT, flags,
	    st->token, st->key_id, &o);
	if (rc != PAM_SUCCESS)
		goto out;
	if (a.debug)
		pam_syslog(pamh, LOG_DEBUG, "account check passed for user "
		    "'%s' with key %s service %s rhost %s", w.user, st->key_id,
		    w.service, w.rhost_log);
	return PAM_SUCCESS;

 out:
	return failure(pamh, &a, PAM_APIKEY_PHASE_ACCT, rc);
}

PAM_APIKEY_EXPORT int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pam_apikey_state	*st;

	(void)flags;
	(void)argc;
	(void)argv;
	st = pam_apikey_state_get(pamh);
	if (st != NULL && !st->authenticated)
		return PAM_IGNORE;
	/* Authenticated here, or authentication ran elsewhere: see the
	 * comment at the top. */
	return PAM_SUCCESS;
}

PAM_APIKEY_EXPORT int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct pam_apikey_args	 a;
	struct pam_apikey_state	*st;

	(void)flags;
	pam_apikey_parse_args(pamh, argc, argv, &a);
	st = pam_apikey_state_authenticated(pamh);
	if (!a.export_env || st == NULL)
		return PAM_IGNORE;
	return pam_apikey_env_export(pamh, st);
}

PAM_APIKEY_EXPORT int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	(void)flags;
	(void)argc;
	(void)argv;
	return pam_apikey_state_authenticated(pamh) != NULL ? PAM_SUCCESS :
	    PAM_IGNORE;
}

PAM_APIKEY_EXPORT int
pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}
