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
 *                         silent past timeout=; or NSS failed.
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
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "pam_apikey.h"
#include "../libclient/apikey.h"
#include "../proto/token.h"

/* PAM_EXTERN is plain extern in Linux-PAM 1.5.2; the objects are built
 * with -fvisibility=hidden. */
#define PAM_APIKEY_EXPORT	__attribute__((visibility("default")))

#define STATE_NAME		"pam_apikey_state"
#define FAIL_DELAY_USEC		2000000U
/* Room for a user, group or tenant name from a verify reply (the protocol
 * allows 128 bytes). */
#define NAME_SIZE		256

enum phase {
	PHASE_AUTH,
	PHASE_ACCT,
};

/* Who the key belongs to, from the daemon's reply. */
struct owner {
	enum apikey_owner_kind	 kind;
	char			 name[NAME_SIZE];	/* user or tenant */
	char			 tenant[NAME_SIZE];	/* "" for user keys */
};

/*
 * The module's PAM data. Present from the first pam_sm_authenticate on the
 * handle; authenticated is set only at the end of a fully checked
 * success. Wiped and freed by state_cleanup().
 */
struct state {
	int		 authenticated;
	char		 token[TOKEN_MAX + 1];
	char		 key_id[TOKEN_ID_LEN + 1];
	struct owner	 owner;
};

/* The PAM items a verify is about; none of them contains a control
 * character once who_check() has passed. */
struct who {
	const char	*user;
	const char	*service;
	const char	*rhost;		/* NULL when PAM_RHOST is not set */
	const char	*rhost_log;	/* rhost, or "-" */
};

static const char *const env_names[] = {
	"APIKEY_ID", "APIKEY_OWNER_KIND", "APIKEY_OWNER", "APIKEY_TENANT",
};

static void
state_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	if (data == NULL)
		return;
	explicit_bzero(data, sizeof(struct state));
	free(data);
}

/* This handle's state, or NULL when pam_sm_authenticate never ran here. */
static struct state *
state_get(pam_handle_t *pamh)
{
	const void	*data = NULL;

	if (pam_get_data(pamh, STATE_NAME, &data) != PAM_SUCCESS)
		return NULL;
	/* PAM hands its data back const; the module owns it. */
	return (struct state *)(uintptr_t)data;
}

static int
text_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Fills *w from the PAM items, prompting for the user name if need be. */
static int
who_get(pam_handle_t *pamh, struct who *w)
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

/* Refuses names that cannot be logged or sent to apikeyd as they are. */
static int
who_check(pam_handle_t *pamh, const struct who *w)
{
	if (!text_printable(w->service)) {
		pam_syslog(pamh, LOG_ERR, "PAM_SERVICE contains control "
		    "characters");
		return PAM_SERVICE_ERR;
	}
	if (!text_printable(w->user)) {
		pam_syslog(pamh, LOG_NOTICE, "refusing a user name with "
		    "control characters (service %s)", w->service);
		return PAM_AUTH_ERR;
	}
	if (!text_printable(w->rhost_log)) {
		pam_syslog(pamh, LOG_NOTICE, "refusing PAM_RHOST with control "
		    "characters (user '%s' service %s)", w->user, w->service);
		return PAM_AUTH_ERR;
	}
	return PAM_SUCCESS;
}

/*
 * Is tok shaped like an API key (format and checksum)? On yes, copies the
 * key id (public) into id. Decides without any round trip; the decoded
 * secret is wiped at once.
 */
static int
token_is_key(const char *tok, char id[TOKEN_ID_LEN + 1])
{
	struct token	 t;
	size_t		 len;
	int		 rc;

	len = strnlen(tok, TOKEN_MAX + 1);
	if (len == 0 || len > TOKEN_MAX)
		return 0;
	rc = token_parse(tok, len, &t);
	if (rc == TOKEN_OK)
		memcpy(id, t.id, TOKEN_ID_LEN + 1);
	token_wipe(&t);
	return rc == TOKEN_OK;
}

/* A libapikey error on open or verify, as a PAM return value. */
static int
lib_error_to_pam(int err)
{
	switch (err) {
	case APIKEY_EUNAVAIL:
	case APIKEY_EBUSY:
	case APIKEY_EPERM:
	case APIKEY_EINTERNAL:
		/* Missing, refusing, busy or failing: ask again later. */
		return PAM_AUTHINFO_UNAVAIL;
	case APIKEY_ENOMEM:
		return PAM_BUF_ERR;
	default:
		return PAM_SYSTEM_ERR;
	}
}

static const char *
phase_name(enum phase ph)
{
	return ph == PHASE_AUTH ? "authentication" : "account check";
}

static void
tell_user(pam_handle_t *pamh, int flags, const char *msg)
{
	if (flags & PAM_SILENT)
		return;
	/* A conversation that cannot show it changes nothing. */
	(void)pam_prompt(pamh, PAM_ERROR_MSG, NULL, "%s", msg);
}

static const char *
refusal_message(enum apikey_code code)
{
	switch (code) {
	case APIKEY_NOT_FOUND:
		return "Your API key has been revoked.";
	case APIKEY_EXPIRED:
		return "Your API key has expired.";
	case APIKEY_DISABLED:
		return "Your API key is disabled.";
	case APIKEY_TENANT_DISABLED:
		return "Your API key's tenant is disabled.";
	case APIKEY_FORBIDDEN:
		return "Your API key may not be used for this login.";
	case APIKEY_INSUFFICIENT_PERMISSIONS:
		return "Your API key lacks a required permission.";
	default:
		return "Your API key is no longer valid.";
	}
}

static int
request_build(pam_handle_t *pamh, const struct pam_apikey_args *a,
    const struct who *w, struct apikey_verify_req **out)
{
	struct apikey_verify_req	*req;
	size_t				 i;
	int				 rc = PAM_SYSTEM_ERR;

	if ((req = apikey_verify_req_new()) == NULL) {
		pam_syslog(pamh, LOG_CRIT, "out of memory");
		return PAM_BUF_ERR;
	}
	if (apikey_verify_req_set_service(req, w->service) != 0) {
		pam_syslog(pamh, LOG_ERR, "service name '%s' is too long for "
		    "apikeyd", w->service);
		rc = PAM_SERVICE_ERR;
		goto out;
	}
	if (apikey_verify_req_set_user(req, w->user) != 0) {
		pam_syslog(pamh, LOG_NOTICE, "user name '%s' is too long for "
		    "apikeyd (service %s rhost %s)", w->user, w->service,
		    w->rhost_log);
		rc = PAM_AUTH_ERR;
		goto out;
	}
	if (w->rhost != NULL &&
	    apikey_verify_req_set_rhost(req, w->rhost) != 0) {
		pam_syslog(pamh, LOG_NOTICE, "PAM_RHOST is too long for "
		    "apikeyd (user '%s' service %s)", w->user, w->service);
		rc = PAM_AUTH_ERR;
		goto out;
	}
	for (i = 0; i < a->nperms; i++) {
		if (apikey_verify_req_add_permission(req, a->perms[i]) != 0) {
			pam_syslog(pamh, LOG_ERR, "require_permission=%s: "
			    "rejected by libapikey (too long?)", a->perms[i]);
			rc = PAM_SERVICE_ERR;
			goto out;
		}
	}
	*out = req;
	req = NULL;	/* transferred */
	rc = PAM_SUCCESS;
 out:
	apikey_verify_req_free(req);
	return rc;
}

/* The owner of a verified key, for the state and for log lines. */
static int
owner_get(const struct apikey_result *res, const struct who *w,
    struct owner *out)
{
	struct owner	 o;
	const char	*name;
	int		 n;

	memset(&o, 0, sizeof(o));
	o.kind = apikey_result_owner_kind(res);
	switch (o.kind) {
	case APIKEY_OWNER_USER:
		/* apikey_authorize_user() checked the uid; the daemon may
		 * have had no name for it. */
		name = apikey_result_user(res);
		if (*name == '\0')
			name = w->user;
		n = snprintf(o.name, sizeof(o.name), "%s", name);
		break;
	case APIKEY_OWNER_TENANT:
		name = apikey_result_tenant(res);
		n = snprintf(o.name, sizeof(o.name), "%s", name);
		if (n >= 0 && (size_t)n < sizeof(o.name))
			n = snprintf(o.tenant, sizeof(o.tenant), "%s", name);
		break;
	default:
		return -1;
	}
	if (n < 0 || (size_t)n >= NAME_SIZE || !text_printable(o.name))
		return -1;
	*out = o;
	return 0;
}

/* Why apikey_authorize_user() said EDENIED, for the log. */
static void
log_denied(pam_handle_t *pamh, enum phase ph, const struct who *w,
    const char *id, const struct apikey_result *res)
{
	size_t	 i, n;

	if (apikey_result_owner_kind(res) == APIKEY_OWNER_USER) {
		pam_syslog(pamh, LOG_NOTICE, "%s failed for user '%s' service "
		    "%s rhost %s: key %s: user '%s' is not the key's owner "
		    "(uid %u)", phase_name(ph), w->user, w->service,
		    w->rhost_log, id, w->user,
		    (unsigned)apikey_result_uid(res));
		return;
	}
	n = apikey_result_allowed_user_count(res);
	for (i = 0; i < n; i++)
		if (strcmp(apikey_result_allowed_user(res, i), w->user) == 0)
			break;
	if (n > 0 && i == n) {
		pam_syslog(pamh, LOG_NOTICE, "%s failed for user '%s' service "
		    "%s rhost %s: key %s: user '%s' is not among the key's "
		    "allowed users", phase_name(ph), w->user, w->service,
		    w->rhost_log, id, w->user);
		return;
	}
	pam_syslog(pamh, LOG_NOTICE, "%s failed for user '%s' service %s "
	    "rhost %s: key %s: user '%s' is not a member of tenant %s's "
	    "group '%s'", phase_name(ph), w->user, w->service, w->rhost_log,
	    id, w->user, apikey_result_tenant(res), apikey_result_group(res));
}

/*
 * Verifies token (whose id is id) through apikeyd for w, then authorizes
 * w->user against the key. Returns PAM_SUCCESS and fills *out only when
 * every check passed; otherwise a PAM error, already logged, and in the
 * account phase already told to the user.
 */
static int
key_check(pam_handle_t *pamh, const struct pam_apikey_args *a,
    const struct who *w, enum phase ph, int flags, const char *token,
    const char *id, struct owner *out)
{
	struct apikey_verify_req	*req = NULL;
	struct apikey_client		*c = NULL;
	struct apikey_result		*res = NULL;
	const char			*reason;
	enum apikey_code		 code;
	struct owner			 o;
	int				 rc, lrc;

	if ((rc = request_build(pamh, a, w, &req)) != PAM_SUCCESS)
		goto out;
	lrc = apikey_open(a->socket, a->timeout_ms, &c);
	if (lrc == 0)
		lrc = apikey_verify(c, token, req, &res);
	if (lrc != 0) {
		rc = lib_error_to_pam(lrc);
		if (rc == PAM_AUTHINFO_UNAVAIL)
			pam_syslog(pamh, LOG_ERR, "apikeyd unavailable at %s: "
			    "%s (user '%s' service %s rhost %s)", a->socket,
			    apikey_strerror(lrc), w->user, w->service,
			    w->rhost_log);
		else if (lrc == APIKEY_EINVAL && c == NULL) {
			pam_syslog(pamh, LOG_ERR, "socket=%s: unusable socket "
			    "path", a->socket);
			rc = PAM_SERVICE_ERR;
		} else
			pam_syslog(pamh, LOG_ERR, "verify through apikeyd at "
			    "%s failed: %s (user '%s' service %s rhost %s)",
			    a->socket, apikey_strerror(lrc), w->user,
			    w->service, w->rhost_log);
		goto out;
	}

	code = apikey_result_code(res);
	if (code != APIKEY_VALID) {
		reason = apikey_result_reason(res);
		pam_syslog(pamh, LOG_NOTICE, "%s failed for user '%s' service "
		    "%s rhost %s: key %s %s%s%s%s", phase_name(ph), w->user,
		    w->service, w->rhost_log, id, apikey_code_name(code),
		    *reason != '\0' ? " (" : "", reason,
		    *reason != '\0' ? ")" : "");
		if (ph == PHASE_ACCT) {
			tell_user(pamh, flags, refusal_message(code));
			rc = code == APIKEY_EXPIRED ? PAM_ACCT_EXPIRED :
			    PAM_AUTH_ERR;
		} else
			rc = PAM_AUTH_ERR;
		goto out;
	}
	if (strcmp(apikey_result_key_id(res), id) != 0) {
		pam_syslog(pamh, LOG_ERR, "apikeyd answered for key %s when "
		    "asked about key %s", apikey_result_key_id(res), id);
		rc = PAM_SYSTEM_ERR;
		goto out;
	}

	switch ((lrc = apikey_authorize_user(res, w->user))) {
	case 0:
		break;
	case APIKEY_EDENIED:
		log_denied(pamh, ph, w, id, res);
		if (ph == PHASE_ACCT)
			tell_user(pamh, flags, "Your account may no longer use "
			    "this API key.");
		rc = PAM_AUTH_ERR;
		goto out;
	case APIKEY_ENOUSER:
		pam_syslog(pamh, LOG_NOTICE, "%s failed for user '%s' service "
		    "%s rhost %s: key %s: user '%s' is unknown to NSS",
		    phase_name(ph), w->user, w->service, w->rhost_log, id,
		    w->user);
		rc = PAM_USER_UNKNOWN;
		goto out;
	case APIKEY_ENSS:
		pam_syslog(pamh, LOG_ERR, "%s failed for user '%s' service %s "
		    "rhost %s: key %s: NSS lookup failed", phase_name(ph),
		    w->user, w->service, w->rhost_log, id);
		rc = PAM_AUTHINFO_UNAVAIL;
		goto out;
	default:
		pam_syslog(pamh, LOG_ERR, "%s failed for user '%s' service %s "
		    "rhost %s: key %s: %s", phase_name(ph), w->user,
		    w->service, w->rhost_log, id, apikey_strerror(lrc));
		rc = PAM_SYSTEM_ERR;
		goto out;
	}

	if (owner_get(res, w, &o) != 0) {
		pam_syslog(pamh, LOG_ERR, "key %s: apikeyd named an owner the "
		    "module cannot use", id);
		rc = PAM_SYSTEM_ERR;
		goto out;
	}
	*out = o;
	rc = PAM_SUCCESS;
 out:
	apikey_result_free(res);
	apikey_close(c);
	apikey_verify_req_free(req);
	return rc;
}

static int
env_put(pam_handle_t *pamh, const char *name, const char *value)
{
	char	 buf[NAME_SIZE + 32];
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

static int
env_export(pam_handle_t *pamh, const struct state *st)
{
	const struct owner	*o = &st->owner;
	int			 tenant = o->kind == APIKEY_OWNER_TENANT;
	int			 rc;

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

/*
 * The last word on a failed authenticate or account check: never
 * PAM_SUCCESS, and ignore_authinfo_unavail and the fail delay applied.
 */
static int
failure(pam_handle_t *pamh, const struct pam_apikey_args *a, enum phase ph,
    int rc)
{
	if (rc == PAM_SUCCESS) {
		pam_syslog(pamh, LOG_CRIT, "internal error: success on a "
		    "failure path");
		rc = PAM_SYSTEM_ERR;
	}
	if (ph == PHASE_AUTH && !a->nodelay &&
	    (rc == PAM_AUTH_ERR || rc == PAM_USER_UNKNOWN))
		(void)pam_fail_delay(pamh, FAIL_DELAY_USEC);
	if (rc == PAM_AUTHINFO_UNAVAIL && a->ignore_unavail) {
		if (a->debug)
			pam_syslog(pamh, LOG_DEBUG, "apikeyd unavailable: "
			    "PAM_IGNORE (ignore_authinfo_unavail)");
		rc = PAM_IGNORE;
	}
	return rc;
}

PAM_APIKEY_EXPORT int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct pam_apikey_args	 a;
	struct state		*st;
	struct who		 w;
	struct owner		 o;
	const char		*token = NULL;
	char			 id[TOKEN_ID_LEN + 1];
	size_t			 i, len;
	int			 rc;

	pam_apikey_parse_args(pamh, argc, argv, &a);

	/*
	 * A fresh state replaces (and wipes) whatever an earlier call on
	 * this handle left, so a stale success can never leak into the
	 * account check, setcred or the session.
	 */
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		pam_syslog(pamh, LOG_CRIT, "out of memory");
		return failure(pamh, &a, PHASE_AUTH, PAM_BUF_ERR);
	}
	if ((rc = pam_set_data(pamh, STATE_NAME, st, state_cleanup)) !=
	    PAM_SUCCESS) {
		state_cleanup(pamh, st, 0);
		pam_syslog(pamh, LOG_ERR, "pam_set_data: %s",
		    pam_strerror(pamh, rc));
		return failure(pamh, &a, PHASE_AUTH, rc);
	}
	/* st now belongs to PAM. */
	if (a.export_env)
		for (i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
			env_unset(pamh, env_names[i]);

	if (a.config_error) {
		rc = PAM_SERVICE_ERR;
		goto out;
	}
	if ((rc = who_get(pamh, &w)) != PAM_SUCCESS)
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
	if (!token_is_key(token, id)) {
		/* Maybe a password: log nothing about it. */
		if (a.strict) {
			pam_syslog(pamh, LOG_NOTICE, "authentication failed "
			    "for user '%s' service %s rhost %s: not an API key",
			    text_printable(w.user) ? w.user : "?",
			    text_printable(w.service) ? w.service : "?",
			    text_printable(w.rhost_log) ? w.rhost_log : "?");
			rc = PAM_AUTH_ERR;
		} else {
			if (a.debug)
				pam_syslog(pamh, LOG_DEBUG, "not an API key: "
				    "PAM_IGNORE");
			rc = PAM_IGNORE;
		}
		goto out;
	}
	if ((rc = who_check(pamh, &w)) != PAM_SUCCESS)
		goto out;

	rc = key_check(pamh, &a, &w, PHASE_AUTH, flags, token, id, &o);
	if (rc != PAM_SUCCESS)
		goto out;

	/* Kept for the account re-check; token_is_key() bounded len. */
	len = strlen(token);
	memcpy(st->token, token, len + 1);
	memcpy(st->key_id, id, sizeof(st->key_id));
	st->owner = o;
	if (a.export_env && (rc = env_export(pamh, st)) != PAM_SUCCESS)
		goto out;
	st->authenticated = 1;
	pam_syslog(pamh, LOG_INFO, "authentication succeeded for user '%s' "
	    "with key %s (%s %s) service %s rhost %s", w.user, id,
	    o.kind == APIKEY_OWNER_TENANT ? "tenant" : "user", o.name,
	    w.service, w.rhost_log);
	return PAM_SUCCESS;

 out:
	st->authenticated = 0;
	explicit_bzero(st->token, sizeof(st->token));
	return failure(pamh, &a, PHASE_AUTH, rc);
}

PAM_APIKEY_EXPORT int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pam_apikey_args	 a;
	struct state		*st;
	struct who		 w;
	struct owner		 o;
	int			 rc;

	pam_apikey_parse_args(pamh, argc, argv, &a);
	st = state_get(pamh);
	if (st == NULL || !st->authenticated) {
		if (a.debug)
			pam_syslog(pamh, LOG_DEBUG, "account: not authenticated "
			    "by this module: PAM_IGNORE");
		return PAM_IGNORE;
	}
	if (a.config_error) {
		rc = PAM_SERVICE_ERR;
		goto out;
	}
	if ((rc = who_get(pamh, &w)) != PAM_SUCCESS)
		goto out;
	if ((rc = who_check(pamh, &w)) != PAM_SUCCESS)
		goto out;
	rc = key_check(pamh, &a, &w, PHASE_ACCT, flags, st->token,
	    st->key_id, &o);
	if (rc != PAM_SUCCESS)
		goto out;
	if (a.debug)
		pam_syslog(pamh, LOG_DEBUG, "account check passed for user "
		    "'%s' with key %s service %s rhost %s", w.user, st->key_id,
		    w.service, w.rhost_log);
	return PAM_SUCCESS;

 out:
	return failure(pamh, &a, PHASE_ACCT, rc);
}

PAM_APIKEY_EXPORT int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct state	*st;

	(void)flags;
	(void)argc;
	(void)argv;
	st = state_get(pamh);
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
	struct state		*st;

	(void)flags;
	pam_apikey_parse_args(pamh, argc, argv, &a);
	st = state_get(pamh);
	if (!a.export_env || st == NULL || !st->authenticated)
		return PAM_IGNORE;
	return env_export(pamh, st);
}

PAM_APIKEY_EXPORT int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct state	*st;

	(void)flags;
	(void)argc;
	(void)argv;
	st = state_get(pamh);
	return st != NULL && st->authenticated ? PAM_SUCCESS : PAM_IGNORE;
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
