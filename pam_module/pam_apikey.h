/*
 * pam_apikey.h - what the files of pam_apikey.so share: the module's
 * arguments, parsed afresh on every call into a struct on the caller's
 * stack, so the module keeps no global state and needs no locking; the
 * PAM items a verify is about; the state one call hands the next in PAM
 * data; and the verify itself.
 *
 * args.c parses the arguments, who.c reads the PAM items, state.c owns the
 * PAM data, verify.c talks to apikeyd, env.c exports the key's identity,
 * and pam_apikey.c holds the pam_sm_* entry points.
 *
 * Nothing here leaves the shared object: the objects are built with
 * -fvisibility=hidden and pam_apikey.map exports only pam_sm_*. The module
 * uses libapikey through <apikey.h> alone, as any other program would, so
 * it builds against the installed header and library too.
 */
#ifndef PAM_APIKEY_H
#define PAM_APIKEY_H

#include <stddef.h>

#include <security/pam_modules.h>

#include <apikey.h>

#define PAM_APIKEY_DEFAULT_PROMPT	"API key: "
#define PAM_APIKEY_TIMEOUT_MIN		1
#define PAM_APIKEY_TIMEOUT_MAX		600000
/* libapikey's limit on required permissions per verify (libapikey(3)). */

/* The module's arguments. Strings point into PAM's argv: valid for the
 * current pam_sm_* call only. */
struct pam_apikey_args {
	const char	*socket;	/* never NULL */
	int		 timeout_ms;
	const char	*prompt;	/* never NULL */
	const char	*perms[APIKEY_MAX_PERMS];
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

/* Room for a user, group or tenant name from a verify reply (the protocol
 * allows 128 bytes). */
#define PAM_APIKEY_NAME_SIZE		256
/* The longest socket= whose connection is kept between phases (a Unix
 * socket path is at most 108 bytes). */
#define PAM_APIKEY_SOCKET_MAX		256

enum pam_apikey_phase {
	PAM_APIKEY_PHASE_AUTH,
	PAM_APIKEY_PHASE_ACCT,
};

/* Who the key belongs to, from the daemon's reply. */
struct pam_apikey_owner {
	enum apikey_owner_kind	 kind;
	char			 name[PAM_APIKEY_NAME_SIZE];	/* user or tenant */
	char			 tenant[PAM_APIKEY_NAME_SIZE];	/* "" for user keys */
};

/*
 * The module's PAM data. Present from the first pam_sm_authenticate on the
 * handle; authenticated is set only at the end of a fully checked
 * success. Owned by PAM once pam_apikey_state_new() returned it: wiped and
 * freed by its cleanup at pam_end() or when a new one replaces it.
 */
struct pam_apikey_state {
	int			 authenticated;
	char			 token[APIKEY_TOKEN_MAX + 1];
	char			 key_id[APIKEY_KEY_ID_SIZE];
	struct pam_apikey_owner	 owner;
	/*
	 * The connection a successful authentication used, kept for the
	 * account check right after it (verify.c), with the socket= and
	 * timeout= it was opened with; NULL when none is kept. Closed by
	 * the account check, a failure, or the cleanup.
	 */
	struct apikey_client	*client;
	char			 client_socket[PAM_APIKEY_SOCKET_MAX];
	int			 client_timeout_ms;
};

/*
 * The PAM items a verify is about. The strings belong to PAM: valid until
 * the item is set again or pam_end(). None of them contains a control
 * character once pam_apikey_who_check() has passed.
 */
struct pam_apikey_who {
	const char	*user;
	const char	*service;
	const char	*rhost;		/* NULL when PAM_RHOST is not set */
	const char	*rhost_log;	/* rhost, or "-" */
};

/* state.c */

/*
 * Makes a fresh, unauthenticated state the handle's PAM data, replacing
 * (and wiping) any earlier one. On PAM_SUCCESS *out belongs to PAM; on
 * failure the error is logged and nothing is kept.
 */
int	pam_apikey_state_new(pam_handle_t *pamh, struct pam_apikey_state **out);

/* The handle's state, owned by PAM, or NULL when pam_sm_authenticate never
 * ran on this handle in this process. */
struct pam_apikey_state *pam_apikey_state_get(pam_handle_t *pamh);

/* The handle's state, owned by PAM, when it records a success; else NULL. */
struct pam_apikey_state *pam_apikey_state_authenticated(pam_handle_t *pamh);

/* Keeps a verified key in st for the account re-check; token must be one
 * pam_apikey_token_is_key() accepted. Does not set st->authenticated. */
void	pam_apikey_state_keep(struct pam_apikey_state *st, const char *token,
	    const char *id, const struct pam_apikey_owner *o);

/* Marks st as not a success, wipes the token it holds and closes its
 * connection. */
void	pam_apikey_state_drop(struct pam_apikey_state *st);

/* Closes the connection st keeps, if any. */
void	pam_apikey_state_close(struct pam_apikey_state *st);

/* who.c */

/* Does s contain no control character? */
int	pam_apikey_text_printable(const char *s);

/* Fills *w from the PAM items, prompting for the user name if need be.
 * Returns a PAM code, already logged. */
int	pam_apikey_who_get(pam_handle_t *pamh, struct pam_apikey_who *w);

/* Refuses names that cannot be logged or sent to apikeyd as they are.
 * Returns a PAM code, already logged. */
int	pam_apikey_who_check(pam_handle_t *pamh,
	    const struct pam_apikey_who *w);

/* verify.c */

/*
 * Is tok shaped like an API key (format and checksum; then it is at most
 * APIKEY_TOKEN_MAX bytes)? On yes, copies the key id (public) into id. No
 * round trip; libapikey wipes the secret it decoded.
 */
int	pam_apikey_token_is_key(const char *tok, char id[APIKEY_KEY_ID_SIZE]);

/*
 * Verifies token (whose id is id) through apikeyd for w, then authorizes
 * w->user against the key. Returns PAM_SUCCESS and fills *out only when
 * every check passed; otherwise a PAM error, already logged, and in the
 * account phase already told to the user (unless PAM_SILENT in flags).
 */
int	pam_apikey_key_check(pam_handle_t *pamh,
	    const struct pam_apikey_args *a, const struct pam_apikey_who *w,
	    enum pam_apikey_phase ph, int flags, const char *token,
	    const char *id, struct pam_apikey_owner *out);

/* env.c */

/* Exports the identity kept in st into the PAM environment. Returns
 * PAM_SUCCESS or the error of pam_putenv(), logged. */
int	pam_apikey_env_export(pam_handle_t *pamh,
	    const struct pam_apikey_state *st);

/* Removes every variable the module exports from the PAM environment. */
void	pam_apikey_env_clear(pam_handle_t *pamh);

#endif
