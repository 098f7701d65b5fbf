/*
 * main.c - apikeyd start-up and shutdown: options, configuration, the
 * state and socket directories, then the store, the pepper and the two
 * sockets, in that order, and the reverse on the way out.
 *
 * Without --foreground the daemon forks, and the parent exits only once
 * the child is serving (0) or has failed (1), so an init script or a shell
 * sees start-up errors. The LMDB environment is opened after the fork,
 * never across it.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/account.h"
#include "../common/secret.h"
#include "admin.h"
#include "clock.h"
#include "config.h"
#include "fleet.h"
#include "keys.h"
#include "ledger.h"
#include "limits.h"
#include "listener.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "systemd.h"
#include "verify.h"

static const char *absolute(const char *, char *, size_t);

static void
usage(FILE *f)
{
	fprintf(f, "usage: apikeyd [-f|--foreground] [-d|--debug] [-c FILE] "
	    "[--state-dir DIR] [--socket-dir DIR]\n"
	    "       apikeyd -h|--help | -V|--version\n"
	    "default config: %s\n", CONFIG_DEFAULT_FILE);
}

static void
parse_args(int argc, char **argv, struct config *cfg, int *foreground)
{
	enum { OPT_STATE = 256, OPT_SOCKETS };
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "socket-dir", required_argument, NULL, OPT_SOCKETS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*file = CONFIG_DEFAULT_FILE, *state = NULL;
	const char	*sockets = NULL;
	char		 err[512], abspath[PATH_MAX];
	int		 ch, debug = 0, required = 0;

	while ((ch = getopt_long(argc, argv, "fdc:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': *foreground = 1; break;
		case 'd': debug = 1; break;
		case 'c': file = optarg; required = 1; break;
		case OPT_STATE: state = optarg; break;
		case OPT_SOCKETS: sockets = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("apikeyd %s\n", APIKEY_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
	config_defaults(cfg);
	if (config_load(cfg, file, required, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (state != NULL && config_set(cfg, "state_dir",
	    absolute(state, abspath, sizeof(abspath)), err, sizeof(err)) != 0)
		fatalx("--state-dir: %s", err);
	if (sockets != NULL && config_set(cfg, "socket_dir",
	    absolute(sockets, abspath, sizeof(abspath)), err,
	    sizeof(err)) != 0)
		fatalx("--socket-dir: %s", err);
	if (config_finish(cfg, err, sizeof(err)) != 0)
		fatalx("%s", err);
	cfg->debug |= debug;
}

/*
 * A relative directory from the command line, taken from the working
 * directory. Links are not resolved here: listener_dir() refuses a link
 * where a directory should be, and checks every directory above.
 */
static const char *
absolute(const char *dir, char *buf, size_t size)
{
	char	 cwd[PATH_MAX];

	if (dir[0] == '/')
		return dir;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatal("getcwd");
	if ((size_t)snprintf(buf, size, "%s/%s", cwd, dir) >= size)
		fatalx("%s/%s: path too long", cwd, dir);
	return buf;
}

static void
ensure_dir(const char *what, const char *dir, mode_t mode, int private)
{
	char	 err[PATH_MAX + 256];

	if (listener_dir(dir, mode, private, err, sizeof(err)) != 0)
		fatalx("%s: %s", what, err);
}

/* The uids of service_users: names through NSS (at start-up only), or
 * numbers. An unknown name stops the daemon, as a typo must. */
static size_t
service_uids(const char *list, uid_t *out, size_t max)
{
	char		 name[PROTO_ACCOUNT_MAX + 1], *end;
	const char	*p = list;
	unsigned long	 v;
	gid_t		 gid;
	size_t		 n, count = 0;
	int		 rc;

	for (p += strspn(p, " \t,"); *p != '\0' && count < max;
	    p += strspn(p, " \t,")) {
		n = strcspn(p, " \t,");
		memcpy(name, p, n);	/* config.c bounds every name */
		name[n] = '\0';
		p += n;
		errno = 0;
		v = strtoul(name, &end, 10);
		if (name[0] >= '0' && name[0] <= '9' && *end == '\0' &&
		    errno == 0 && v < (uid_t)-1) {
			out[count++] = (uid_t)v;
			continue;
		}
		rc = account_user_by_name(name, &out[count], &gid);
		if (rc == ACCOUNT_ENOTFOUND)
			fatalx("service_users: no user '%s'", name);
		if (rc != ACCOUNT_OK)
			fatalx("service_users: cannot look up '%s' through NSS",
			    name);
		count++;
	}
	return count;
}

/*
 * Both sockets may hold max_connections each, and accept() failing for
 * want of descriptors would refuse everyone alike, root's reserved slots
 * included. So the soft limit is raised to the hard one, and when even
 * that is too low for 2 * max_connections (plus what the store, the
 * listeners and libevent use: FD_MARGIN, and two more for each verify
 * loop past the first, its event base's epoll and wake-up descriptors),
 * max_connections is lowered to fit.
 */
#define FD_MARGIN	64

static void
fit_descriptors(struct config *cfg)
{
	struct rlimit	 rl;
	const unsigned	 margin = FD_MARGIN + 2 * (cfg->verify_threads - 1);
	rlim_t		 want = (rlim_t)cfg->max_connections * 2 + margin;
	unsigned	 fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			fatal("setrlimit");
	}
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_cur < margin + 2 * 16)
		fatalx("only %llu file descriptors allowed; apikeyd needs at "
		    "least %u", (unsigned long long)rl.rlim_cur,
		    margin + 2 * 16);
	fit = (unsigned)((rl.rlim_cur - margin) / 2);
	log_warnx("max_connections %u needs %llu file descriptors, but the "
	    "limit is %llu: serving %u connections per socket (raise "
	    "LimitNOFILE)", cfg->max_connections, (unsigned long long)want,
	    (unsigned long long)rl.rlim_cur, fit);
	/* The reserve shrinks with the rest, keeping its share. */
	cfg->reserved_connections = (unsigned)((unsigned long long)
	    cfg->reserved_connections * fit / cfg->max_connections);
	cfg->max_connections = fit;
}

/* Forks; the parent waits on a pipe for the child to say it is serving. */
static int
daemonize(void)
{
	int	 p[2];
	char	 c;
	pid_t	 pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0) {
		close(p[1]);
		while (read(p[0], &c, 1) == -1 && errno == EINTR)
			;
		_exit(c == 'R' ? 0 : 1);
	}
	close(p[0]);
	if (setsid() == -1)
		fatal("setsid");
	return p[1];
}

static void
detach(int readyfd)
{
	int	 fd;

	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	log_init(0, log_debug_enabled());
	if (write(readyfd, "R", 1) != 1)
		log_warn("cannot tell the parent process we are ready");
	close(readyfd);
}

/*
 * The ledger's commit thread wakes a verify thread through its server
 * signal, which then calls its held replies back (ledger.h).
 */
static void
ledger_wake(void *sig)
{
	server_signal_raise(sig);
}

static void
ledger_ready(void *verifier)
{
	const struct verifier *v = verifier;

	ledger_complete(v->ledger, v->lane);
}

/* One verifier per verify thread, each with its own request context. */
static struct verifier *
verifiers_new(size_t n, const struct verifier *proto)
{
	struct verifier	*v;
	size_t		 i;

	if ((v = calloc(n, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		v[i] = *proto;
		v[i].lane = i;
		if ((v[i].ctx = secret_alloc(sizeof(*v[i].ctx))) == NULL)
			return NULL;
	}
	return v;
}

int
main(int argc, char **argv)
{
	struct config	 cfg;
	struct pepper	*pepper = NULL;
	struct store	*store = NULL;
	struct server	*srv = NULL;
	struct verifier	 proto, *verifiers;
	struct admin	 admin;
	struct limits_conf lconf;
	struct limits	*limits = NULL;
	struct ledger	*ledger = NULL;
	struct fleet	*fleet = NULL;
	struct server_signal *sig;
	void		**vargs, **wakes;
	_Atomic uint64_t admin_gid = 0;
	uid_t		 reserved[CONFIG_SERVICE_USERS_MAX];
	size_t		 nreserved, i;
	char		 err[512];
	int		 lfds[SYSD_NSOCKS];
	int		 foreground = 0, readyfd = -1, rc;

	log_init(1, 0);
	parse_args(argc, argv, &cfg, &foreground);
	log_set_debug(cfg.debug);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * A stop asked for while starting (the sockets may already be
	 * connectable) waits until server_run() can drain; every thread
	 * started meanwhile inherits the block, so the signal goes to the
	 * verify loop alone.
	 */
	server_block_signals();
	umask(077);

	fit_descriptors(&cfg);
	/* Before any fork: LISTEN_PID names this process. */
	if (sysd_sockets(lfds, err, sizeof(err)) != 0)
		fatalx("%s", err);
	ensure_dir("state_dir", cfg.state_dir, 0700, 1);
	/* Sockets of the service manager's live where it put them. */
	if (lfds[SYSD_VERIFY] == -1 || lfds[SYSD_ADMIN] == -1)
		ensure_dir("socket_dir", cfg.socket_dir, 0755, 0);
	nreserved = service_uids(cfg.service_users, reserved,
	    CONFIG_SERVICE_USERS_MAX);
	if (!foreground)
		readyfd = daemonize();

	if ((rc = keys_init()) != 0)
		fatalx("%s", keys_strerror(rc));
	if ((rc = keys_pepper_load(cfg.state_dir, &pepper)) != 0)
		fatalx("%s/%s: %s", cfg.state_dir, KEYS_PEPPER_FILE,
		    keys_strerror(rc));
	if ((rc = store_open(cfg.state_dir, cfg.map_size, &store)) != 0)
		fatalx("%s: cannot open the key store: %s", cfg.state_dir,
		    store_strerror(rc));

	/* Fleet mode: the follow thread starts filling the store at once;
	 * verifies answer from what it holds meanwhile. */
	if (cfg.fleet_url[0] != '\0') {
		if (fleet_open(&cfg, store, pepper, &fleet, err,
		    sizeof(err)) != 0)
			fatalx("%s", err);
		log_info("fleet mode: following the database of fleet_url");
	}

	lconf.fail_max = cfg.throttle_failures;
	lconf.fail_window_ms = cfg.throttle_window_ms;
	lconf.fail_backoff_ms = cfg.throttle_backoff_ms;
	lconf.rate_entries = cfg.rate_windows;
	lconf.fail_entries = cfg.throttle_sources;
	if (limits_new(&lconf, &limits) != 0)
		fatalx("out of memory");
	memset(&proto, 0, sizeof(proto));
	proto.store = store;
	proto.pepper = pepper;
	proto.limits = limits;
	proto.admin_gid = &admin_gid;
	proto.throttle_backoff_ms = cfg.throttle_backoff_ms;
	proto.clock = &clock_system;
	proto.fleet = fleet;
	proto.max_staleness_ms = cfg.max_staleness_ms;
	if ((verifiers = verifiers_new(cfg.verify_threads, &proto)) == NULL ||
	    (vargs = calloc(cfg.verify_threads, sizeof(*vargs))) == NULL ||
	    (wakes = calloc(cfg.verify_threads, sizeof(*wakes))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < cfg.verify_threads; i++)
		vargs[i] = &verifiers[i];
	memset(&admin, 0, sizeof(admin));
	admin.store = store;
	admin.pepper = pepper;
	admin.cfg = &cfg;
	admin.started_at = clock_now();
	admin.admin_gid = &admin_gid;
	admin.fleet = fleet;
	admin.limits = fleet != NULL ? limits : NULL;
	admin_refresh_gid(&admin);
	if (cfg.admin_group[0] != '\0' && atomic_load(&admin_gid) == 0)
		log_warnx("admin_group '%s' is unknown to NSS; only root may "
		    "administer until it exists", cfg.admin_group);
	if (server_open(&cfg, reserved, nreserved, lfds, verify_handle,
	    vargs, admin_handle, &admin, &srv) != 0)
		fatalx("cannot open the sockets in %s", cfg.socket_dir);
	admin.verify_socket = server_socket_path(srv, 0);
	admin.admin_socket = server_socket_path(srv, 1);
	/* A lane per verify loop; its signal finds the ledger through its
	 * verifier, set just after. */
	for (i = 0; i < cfg.verify_threads; i++) {
		if (server_signal_new(srv, i, ledger_ready, &verifiers[i],
		    &sig) != 0)
			fatalx("out of memory");
		wakes[i] = sig;
	}
	if (ledger_open(store, cfg.usage_flush_ms, cfg.verify_threads,
	    ledger_wake, wakes, &ledger) != 0)
		fatalx("cannot start the usage writer");
	if (server_every(srv, cfg.maintenance_ms, admin_maintain, &admin) != 0)
		fatalx("cannot schedule maintenance");
	for (i = 0; i < cfg.verify_threads; i++)
		verifiers[i].ledger = ledger;

	log_info("apikeyd %s serving %s (state in %s)", APIKEY_VERSION,
	    cfg.socket_dir, cfg.state_dir);
	if (readyfd != -1)
		detach(readyfd);

	rc = server_run(srv);
	if (rc == 1) {
		/*
		 * A thread is still running: a loop's connections are its
		 * own, and the admin thread may be inside the store. Write
		 * what the ledger holds, call nothing back, free nothing,
		 * and leave the rest to exit().
		 */
		ledger_stop(ledger);
		log_warnx("shutdown incomplete; exiting");
		exit(1);
	}
	/* The follow thread first: a snapshot it is loading holds the
	 * store's writer, which the ledger's last write waits for. */
	fleet_close(fleet);
	/* Before the sockets go: committed replies and last uses. */
	ledger_close(ledger);
	server_close(srv);
	for (i = 0; i < cfg.verify_threads; i++)
		secret_free(verifiers[i].ctx);
	free(verifiers);
	free(vargs);
	free(wakes);
	limits_free(limits);
	store_close(store);
	keys_pepper_free(pepper);
	log_info("stopped");
	return rc == 0 ? 0 : 1;
}
