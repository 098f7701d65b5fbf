/*
 * verify.c - pam_apikey's one conversation with apikeyd: build the verify
 * request from the PAM items and arguments, send it over the local verify
 * socket (one round trip, bounded by timeout=; a login's account check
 * uses the connection its authentication kept), authorize the user against
 * the key through NSS, and turn every libapikey outcome into a PAM code,
 * a log line and, in the account phase, a message for the user.
 *
 * Log lines name the key id, user, service and rhost, never the token.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "pam_apikey.h"

/* Room for the tail of a failure log line: a code name and a reason, or
 * names the protocol bounds to 128 bytes each. */
#define DETAIL_SIZE		1024

int
pam_apikey_token_is_key(const char *tok, char id[APIKEY_KEY_ID_SIZE])
{
	return apikey_token_key_id(tok, id, APIKEY_KEY_ID_SIZE) == 0;
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
	case APIKEY_EUNTRUSTED:
		/*
		 * Missing, refusing, busy or failing: ask again later. A
		 * socket served by an impostor is no daemon at all; its
		 * answer, whatever it would be, must never log anyone in.
		 */
		return PAM_AUTHINFO_UNAVAIL;
	case APIKEY_ENOMEM:
		return PAM_BUF_ERR;
	default:
		return PAM_SYSTEM_ERR;
	}
}

static const char *
phase_name(enum pam_apikey_phase ph)
{
	return ph == PAM_APIKEY_PHASE_AUTH ? "authentication" :
	    "account check";
}

/*
 * Logs "<phase> failed for user 'U' service S rhost R: key ID<detail>",
 * the shape of every refusal of a key, so that one grep finds them all.
 */
static void __attribute__((format(printf, 6, 7)))
log_failure(pam_handle_t *pamh, int prio, enum pam_apikey_phase ph,
    const struct pam_apikey_who *w, const char *id, const char *fmt, ...)
{
	char	 detail[DETAIL_SIZE];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	pam_syslog(pamh, prio, "%s failed for user '%s' service %s rhost %s: "
	    "key %s%s", phase_name(ph), w->user, w->service, w->rhost_log, id,
	    detail);
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
	case APIKEY_STALE:
		return "Your API key cannot be checked on this host right now; "
		    "try again later.";
	default:
		return "Your API key is no longer valid.";
	}
}

static int
request_build(pam_handle_t *pamh, const struct pam_apikey_args *a,
    const struct pam_apikey_who *w, enum pam_apikey_phase ph,
    struct apikey_verify_req **out)
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
	/* The account phase checks again the key authenticate used: one
	 * login is one use of it (one rate slot, one credit). */
	if (ph == PAM_APIKEY_PHASE_ACCT &&
	    apikey_verify_req_set_check_only(req) != 0) {
		pam_syslog(pamh, LOG_CRIT, "cannot make a check-only request");
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

/*
 * The connection for a verify. A login's account check comes right after
 * its authentication, so it takes the connection the authentication kept
 * when that was opened with the same socket= and timeout=: one connection
 * per login, not two, saves the daemon an accept, a credentials check and
 * a read of /proc, and the module a connect. Otherwise a new one.
 */
static int
client_get(pam_handle_t *pamh, const struct pam_apikey_args *a,
    enum pam_apikey_phase ph, struct apikey_client **out)
{
	struct pam_apikey_state	*st = pam_apikey_state_get(pamh);

	if (ph == PAM_APIKEY_PHASE_ACCT && st != NULL && st->client != NULL &&
	    strcmp(st->client_socket, a->socket) == 0 &&
	    st->client_timeout_ms == a->timeout_ms) {
		*out = st->client;
		st->client = NULL;
		return 0;
	}
	return apikey_open(a->socket, a->timeout_ms, out);
}

/*
 * After a verify that got an answer: the authentication keeps its
 * connection for the account check (a failed one is closed with the
 * state's token, pam_apikey_state_drop()); the account check closes it,
 * so that no connection outlives the login's checks.
 */
static void
client_done(pam_handle_t *pamh, const struct pam_apikey_args *a,
    enum pam_apikey_phase ph, struct apikey_client *c)
{
	struct pam_apikey_state	*st = pam_apikey_state_get(pamh);

	if (ph == PAM_APIKEY_PHASE_AUTH && st != NULL && st->client == NULL &&
	    strlen(a->socket) < sizeof(st->client_socket)) {
		strcpy(st->client_socket, a->socket);
		st->client_timeout_ms = a->timeout_ms;
		st->client = c;
		return;
	}
	apikey_close(c);
}

/*
 * The round trip: asks apikeyd about token for w. On PAM_SUCCESS *out
 * holds the daemon's answer, valid or not; the caller frees it with
 * apikey_result_free(). Otherwise a PAM error, already logged.
 */
static int
daemon_verify(pam_handle_t *pamh, const struct pam_apikey_args *a,
    const struct pam_apikey_who *w, enum pam_apikey_phase ph,
    const char *token, struct apikey_result **out)
{
	struct apikey_verify_req	*req = NULL;
	struct apikey_client		*c = NULL;
	struct apikey_result		*res = NULL;
	int				 rc, lrc;

	if ((rc = request_build(pamh, a, w, ph, &req)) != PAM_SUCCESS)
		goto out;
	lrc = client_get(pamh, a, ph, &c);
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
	*out = res;
	res = NULL;	/* transferred */
	client_done(pamh, a, ph, c);
	c = NULL;
	rc = PAM_SUCCESS;
 out:
	apikey_close(c);
	apikey_verify_req_free(req);
	return rc;
}

/* The daemon's verdict on the key, as a PAM code. */
static int
verdict(pam_handle_t *pamh, const struct pam_apikey_who *w,
    enum pam_apikey_phase ph, int flags, const char *id,
    const struct apikey_result *res)
{
	enum apikey_code	 code = apikey_result_code(res);
	const char		*reason;

	if (code != APIKEY_VALID) {
		reason = apikey_result_reason(res);
		/* STALE says nothing against the key: this host is behind the
		 * fleet and cannot check it now, an outage to look into. */
		log_failure(pamh, code == APIKEY_STALE ? LOG_ERR : LOG_NOTICE,
		    ph, w, id, " %s%s%s%s", apikey_code_name(code),
		    *reason != '\0' ? " (" : "", reason,
		    *reason != '\0' ? ")" : "");
		if (ph == PAM_APIKEY_PHASE_ACCT)
			tell_user(pamh, flags, refusal_message(code));
		if (code == APIKEY_STALE)
			return PAM_AUTHINFO_UNAVAIL;
		if (ph == PAM_APIKEY_PHASE_ACCT && code == APIKEY_EXPIRED)
			return PAM_ACCT_EXPIRED;
		return PAM_AUTH_ERR;
	}
	if (strcmp(apikey_result_key_id(res), id) != 0) {
		pam_syslog(pamh, LOG_ERR, "apikeyd answered for key %s when "
		    "asked about key %s", apikey_result_key_id(res), id);
		return PAM_SYSTEM_ERR;
	}
	return PAM_SUCCESS;
}

/* Why apikey_authorize_user() said EDENIED, for the log. */
static void
log_denied(pam_handle_t *pamh, enum pam_apikey_phase ph,
    const struct pam_apikey_who *w, const char *id,
    const struct apikey_result *res)
{
	const struct apikey_owner	*o = apikey_result_owner(res);
	size_t				 i, n;

	if (apikey_owner_kind(o) == APIKEY_OWNER_USER) {
		log_failure(pamh, LOG_NOTICE, ph, w, id, ": user '%s' is not "
		    "the key's owner (uid %u)", w->user,
		    (unsigned)apikey_owner_uid(o));
		return;
	}
	n = apikey_result_allowed_user_count(res);
	for (i = 0; i < n; i++)
		if (strcmp(apikey_result_allowed_user(res, i), w->user) == 0)
			break;
	if (n > 0 && i == n) {
		log_failure(pamh, LOG_NOTICE, ph, w, id, ": user '%s' is not "
		    "among the key's allowed users", w->user);
		return;
	}
	log_failure(pamh, LOG_NOTICE, ph, w, id, ": user '%s' is not a member "
	    "of tenant %s's group '%s'", w->user, apikey_owner_name(o),
	    apikey_owner_group(o));
}

/* May w->user use the verified key? As a PAM code. */
static int
authorize(pam_handle_t *pamh, const struct pam_apikey_who *w,
    enum pam_apikey_phase ph, int flags, const char *id,
    const struct apikey_result *res)
{
	int	 lrc;

	switch ((lrc = apikey_authorize_user(res, w->user))) {
	case 0:
		return PAM_SUCCESS;
	case APIKEY_EDENIED:
		log_denied(pamh, ph, w, id, res);
		if (ph == PAM_APIKEY_PHASE_ACCT)
			tell_user(pamh, flags, "Your account may no longer use "
			    "this API key.");
		return PAM_AUTH_ERR;
	case APIKEY_ENOUSER:
		log_failure(pamh, LOG_NOTICE, ph, w, id, ": user '%s' is "
		    "unknown to NSS", w->user);
		return PAM_USER_UNKNOWN;
	case APIKEY_ENSS:
		log_failure(pamh, LOG_ERR, ph, w, id, ": NSS lookup failed");
		return PAM_AUTHINFO_UNAVAIL;
	default:
		log_failure(pamh, LOG_ERR, ph, w, id, ": %s",
		    apikey_strerror(lrc));
		return PAM_SYSTEM_ERR;
	}
}

/* The owner of a verified key, for the state and for log lines. */
static int
owner_get(const struct apikey_result *res, const struct pam_apikey_who *w,
    struct pam_apikey_owner *out)
{
	const struct apikey_owner	*ko = apikey_result_owner(res);
	struct pam_apikey_owner		 o;
	const char			*name = apikey_owner_name(ko);
	int				 n;

	memset(&o, 0, sizeof(o));
	o.kind = apikey_owner_kind(ko);
	switch (o.kind) {
	case APIKEY_OWNER_USER:
		/* apikey_authorize_user() checked the uid; the daemon may
		 * have had no name for it. */
		if (*name == '\0')
			name = w->user;
		n = snprintf(o.name, sizeof(o.name), "%s", name);
		break;
	case APIKEY_OWNER_TENANT:
		n = snprintf(o.name, sizeof(o.name), "%s", name);
		if (n >= 0 && (size_t)n < sizeof(o.name))
			n = snprintf(o.tenant, sizeof(o.tenant), "%s", name);
		break;
	default:
		return -1;
	}
	if (n < 0 || (size_t)n >= PAM_APIKEY_NAME_SIZE ||
	    !pam_apikey_text_printable(o.name))
		return -1;
	*out = o;
	return 0;
}

int
pam_apikey_key_check(pam_handle_t *pamh, const struct pam_apikey_args *a,
    const struct pam_apikey_who *w, enum pam_apikey_phase ph, int flags,
    const char *token, const char *id, struct pam_apikey_owner *out)
{
	struct apikey_result		*res = NULL;
	struct pam_apikey_owner		 o;
	int				 rc;

	if ((rc = daemon_verify(pamh, a, w, ph, token, &res)) != PAM_SUCCESS ||
	    (rc = verdict(pamh, w, ph, flags, id, res)) != PAM_SUCCESS ||
	    (rc = authorize(pamh, w, ph, flags, id, res)) != PAM_SUCCESS)
		goto out;
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
	return rc;
}
