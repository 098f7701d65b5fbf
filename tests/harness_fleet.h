/*
 * harness_fleet.h - a fleet of apikeyd hosts for the integration tests of
 * fleet mode (issue 12): two or three daemons, each with its own state
 * and socket directories, following one private PostgreSQL cluster
 * (harness_pg.h) with the schema loaded.
 *
 * One host is the harness's own daemon (harness.h: it_sock_dir(),
 * it_ctl(), it_verify(), it_log() and it_teardown()'s search for secrets
 * all work against it, and so do the end-to-end servers of harness_e2e.h,
 * whose PAM module asks it_sock_dir()). fleet_opt.harness_host says which;
 * by default host 0. The others are daemons of this file, each under
 * it_root()/hostN/ (state/, sock/, apikeyd.conf, apikeyd.log), run as
 * root like the harness's, with the same nss_wrapper fixture.
 *
 * Host 0 is always started first: it makes its pepper and registers the
 * pepper's check value in the database. Before a host's first start its
 * state directory is made (0700) and host 0's pepper copied into it,
 * unless the test put a pepper there itself (fleet_host_pepper()).
 *
 * Every host's fleet_url is pg_conninfo() with "application_name=hostN",
 * so a test can find a host's sessions in pg_stat_activity.
 *
 * Ownership: strings and JSON returned are the harness's (harness.h's
 * pools, freed by it_teardown()); libapikey clients of a host are opened
 * on first use and closed when the host stops. Like the rest of the
 * harness, the functions assert instead of returning errors, and every
 * wait polls with a deadline.
 */
#ifndef APIKEY_TEST_HARNESS_FLEET_H
#define APIKEY_TEST_HARNESS_FLEET_H

#include <sys/types.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "harness.h"
#include "harness_pg.h"

#define FLEET_MAX_HOSTS	3

/* The fleet settings every host gets, before conf_extra (which may
 * override them: a later line wins). */
#define FLEET_POLL_MS	400
#define FLEET_CONF_DEFAULT \
	"fleet_poll_interval = 400ms\n" \
	"fleet_timeout = 5s\n" \
	"fleet_digest_interval = 0\n"

struct fleet_opt {
	int		 nhosts;		/* 1 to FLEET_MAX_HOSTS */
	/* Hosts started (and synced) by fleet_start_opt(): 0..start-1;
	 * 0 means all. The others wait for fleet_host_start(). */
	int		 start;
	/* Which host is the harness's own daemon. */
	int		 harness_host;
	/* Config lines for every host, then for host i only; may be NULL. */
	const char	*conf_extra;
	const char	*host_conf[FLEET_MAX_HOSTS];
};

/*
 * pg_start(), then the hosts: each started and waited for until its
 * status shows it connected and in step with the database's head. When
 * the harness is already prepared (ite_setup() ran, say), its config file
 * gets the fleet lines appended and its daemon, if running, is
 * restarted on it (its state must hold no keys); otherwise
 * it_prepare(NULL) first.
 */
void	fleet_start(int nhosts, const char *conf_extra);
void	fleet_start_opt(const struct fleet_opt *);
/* Stops the hosts this file started (asserting a clean exit) and the
 * database: for a .fini that ends with another teardown (ite_teardown()).
 * Never asserts before everything is stopped. */
void	fleet_teardown_hosts(void);
/* fleet_teardown_hosts(), then it_teardown(). */
void	fleet_teardown(void);

/* --- hosts ---------------------------------------------------------------- */

int	fleet_nhosts(void);
/* Starts host i (on its existing directories) and waits until both its
 * sockets accept; not until it synced (fleet_wait_synced()). */
void	fleet_host_start(int i);
/* SIGTERM: asserts a clean exit (status 0) and no socket left behind. */
void	fleet_host_stop(int i);
/* SIGKILL, and reaps it. */
void	fleet_host_kill(int i);
/* Whether host i runs (as far as the harness knows: started, not reaped). */
int	fleet_host_running(int i);
pid_t	fleet_host_pid(int i);
/* Writes pep (32 bytes) as host i's pepper before its first start. */
void	fleet_host_pepper(int i, const unsigned char pep[32]);

const char *fleet_sockdir(int i);
const char *fleet_state_dir(int i);
const char *fleet_log_path(int i);
/* Host i's log so far. */
const char *fleet_log(int i);
/* Waits up to ms until host i's log, from byte from on, contains needle;
 * returns where it starts. */
size_t	fleet_log_wait(int i, size_t from, const char *needle, int ms);
/* The application_name of host i's sessions ("host1"). */
const char *fleet_app_name(int i);

/* --- status --------------------------------------------------------------- */

struct fleet_st {
	int		 fleet;		/* follows a database */
	int		 connected;
	uint64_t	 last_seq, head_seq;
	time_t		 synced_at;
	uint64_t	 max_staleness;
	int		 digest;	/* APIKEY_FLEET_DIGEST_* */
	const char	*error;		/* "": none. Harness-owned */
	uint64_t	 keys, tenants;
};

/* Host i's status, as root through libapikey. */
struct fleet_st fleet_status(int i);
/* The "fleet" object of `apikeyctl --json status` on host i as user as
 * (NULL: root); harness-owned. */
json_t	*fleet_status_json(int i, const char *as);
/* The database's head: greatest(max(seq), pruned_through). */
uint64_t fleet_head(void);
/* Waits up to ms until host i applied seq (last_seq >= seq). */
void	fleet_wait_applied(int i, uint64_t seq, int ms);
/* Waits until host i is connected and its last_seq is the database's
 * head (read again after each try, so a head that moves is followed). */
void	fleet_wait_synced(int i, int ms);

/* --- management and verifies ---------------------------------------------- */

/* apikeyctl --socket-dir SOCKDIR(i) ARGS as user as; tokens are noted
 * and the outputs searched at teardown, as it_ctl() does. */
int	fleet_ctl(int i, struct it_run *r, const char *as, ...) IT_SENTINEL;
/* fleet_ctl() asserting the exit status and, unless NULL, that stderr
 * contains errsub; returns stdout. */
const char *fleet_expect(int i, const char *as, int status,
	    const char *errsub, ...) IT_SENTINEL;
/* Clients of host i as root, opened on first use (timeout 5 s). */
struct apikey_client *fleet_vclient(int i);
struct apikey_client *fleet_aclient(int i);
/* `tenant add name --group group` through host i as root. */
void	fleet_tenant(int i, const char *name, const char *group);
/* The token of `key create -q`'s output (asserted to be one line). */
const char *fleet_token(const char *out);
/* `key create -q --tenant acme [arg1 [arg2]]` through host i as root (an
 * argument may be NULL): the token. */
const char *fleet_key_acme(int i, const char *arg1, const char *arg2);
/* Waits until host i has compared digests at the database's head, and
 * asserts they matched. */
void	fleet_wait_digest_match(int i);
/* Creates n keys of tenant through host i in one KEY_CREATE_MANY, on a
 * client of its own with timeout ms (a loaded machine): the tokens, in
 * order, harness-owned. */
const char **fleet_create_many(int i, const char *tenant, size_t n, int ms);
/* The code host i answers for token (ctx as it_req()). */
enum apikey_code fleet_code(int i, const char *token, const char *ctx);
/* Polls host i (every ms or so) until it answers want, within ms;
 * returns the milliseconds it took. */
int64_t	fleet_wait_code(int i, const char *token, const char *ctx,
	    enum apikey_code want, int ms);

#endif
