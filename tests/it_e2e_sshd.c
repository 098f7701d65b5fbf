/*
 * it_e2e_sshd.c - end to end through OpenSSH: a real sshd on 127.0.0.1,
 * its PAM service "sshd" supplied by pam_wrapper, authenticates
 * keyboard-interactive logins through pam_apikey.so against the harness's
 * apikeyd; the OpenSSH client types the key through sshpass.
 *
 * A tenant key logs in a member of the tenant's group (member list or
 * primary group) and the command runs as that user with the key's identity
 * in its environment; a non-member, a revoked key, and a daemon that is
 * gone or silent are denied, the last two within the module's timeout.
 */
#include <sys/stat.h>

#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "harness.h"
#include "harness_e2e.h"

#define SSHD		"/usr/sbin/sshd"
/* sshd's privilege separation directory, compiled in. */
#define PRIVSEP_DIR	"/run/sshd"

static const char *const sshd_argv[] = {
	SSHD, "-D", "-e", "-f", NULL, NULL
};

static const char *hostkey;
static const char *token;

static void
sshd_conf(int port)
{
	/*
	 * sshd gives the session a fresh environment; SetEnv puts the
	 * fixture users back, so that `id -un` in the session can name them.
	 */
	ite_write(it_path("sshd_config"), it_printf(
	    "# written by tests/it_e2e_sshd.c\n"
	    "Port %d\n"
	    "ListenAddress 127.0.0.1\n"
	    "HostKey %s\n"
	    "PidFile none\n"
	    "UsePAM yes\n"
	    "KbdInteractiveAuthentication yes\n"
	    "PasswordAuthentication no\n"
	    "PubkeyAuthentication no\n"
	    "HostbasedAuthentication no\n"
	    "PermitRootLogin no\n"
	    "UseDNS no\n"
	    "PrintMotd no\n"
	    "PrintLastLog no\n"
	    "LogLevel DEBUG1\n"
	    "SetEnv LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_PASSWD=%s "
	    "NSS_WRAPPER_GROUP=%s\n",
	    port, hostkey, ite_passwd(), ite_group()), 0644);
}

static void
setup(void)
{
	const char *argv[sizeof(sshd_argv) / sizeof(sshd_argv[0])];
	struct ite_server s = { 0 };
	struct stat st;
	struct ite_run r;

	ite_setup();
	if (mkdir(PRIVSEP_DIR, 0755) == -1)
		cr_assert_eq(errno, EEXIST, "mkdir %s: %s", PRIVSEP_DIR,
		    strerror(errno));
	cr_assert(stat(PRIVSEP_DIR, &st) == 0 && S_ISDIR(st.st_mode),
	    "%s is not a directory", PRIVSEP_DIR);
	hostkey = it_path("ssh_host_ed25519_key");
	ite_client(&r, "ssh-keygen", NULL, NULL, (const char *const[]){
	    "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e",
	    "-f", hostkey, NULL });
	cr_assert_eq(r.status, 0, "ssh-keygen: %s", r.err);
	ite_pam_service("sshd");

	it_tenant("acme", "acme", NULL);
	token = it_key(NULL, "--tenant", "acme", "--name", "e2e", NULL);

	memcpy(argv, sshd_argv, sizeof(argv));
	argv[4] = it_path("sshd_config");
	s.name = "sshd";
	s.conf = sshd_conf;
	s.argv = argv;
	ite_server_start(&s);
}

static void
teardown(void)
{
	ite_teardown();
	hostkey = NULL;
	token = NULL;
}

TestSuite(e2e_sshd, .init = setup, .fini = teardown, .timeout = 180);

/*
 * ssh -p PORT user@127.0.0.1 cmd, answering the one keyboard-interactive
 * prompt with key (through SSHPASS, never on a command line).
 */
static int
ssh_login(struct ite_run *r, const char *user, const char *key,
    const char *cmd)
{
	const char *set[] = { it_printf("SSHPASS=%s", key), NULL };

	return ite_client(r, "ssh", NULL, set, (const char *const[]){
	    "sshpass", "-P", "API key:", "-e",
	    "ssh", "-F", "/dev/null",
	    "-o", "StrictHostKeyChecking=no",
	    "-o", "UserKnownHostsFile=/dev/null",
	    "-o", "GlobalKnownHostsFile=/dev/null",
	    "-o", "PreferredAuthentications=keyboard-interactive",
	    "-o", "NumberOfPasswordPrompts=1",
	    "-o", "ConnectTimeout=30",
	    "-o", "LogLevel=ERROR",
	    "-p", it_printf("%d", ite_server_port()),
	    it_printf("%s@127.0.0.1", user), cmd, NULL });
}

/* What the session prints about itself. */
#define WHOAMI	"id -un; id -u; id -gn; echo \"$APIKEY_OWNER_KIND " \
		"$APIKEY_OWNER $APIKEY_TENANT $APIKEY_ID\"; pwd"

/* Logs user in with the test's key and checks who the session runs as. */
static void
login_ok(const char *user, const char *group)
{
	struct ite_run r;

	ssh_login(&r, user, token, WHOAMI);
	cr_assert_eq(r.status, 0, "ssh %s: exit %d\nstdout:\n%s\nstderr:\n%s"
	    "\nsshd log:\n%s", user, r.status, r.out, r.err,
	    ite_server_log());
	cr_assert_str_eq(r.out, it_printf("%s\n%u\n%s\ntenant acme acme %s\n"
	    "%s\n", user, (unsigned)it_uid(user), group, it_id(token),
	    ite_home(user)), "stderr:\n%s", r.err);
}

/* The daemon's log comes to hold want verify lines of the key for user
 * through sshd, with the code. */
static void
expect_verifies(const char *code, const char *user, size_t want)
{
	ite_expect_lines(it_log_path(), want,
	    it_printf("verify: %s key %s peer uid 0 ", code, it_id(token)),
	    it_printf(" service 'sshd' user '%s' rhost '127.0.0.1'", user));
}

/* sshd's log comes to hold want lines with a (and b). */
static void
expect_sshd(size_t want, const char *a, const char *b)
{
	ite_expect_lines(ite_server_log_path(), want, a, b);
}

/* Waits for sshd to be done with user's refused connection. */
static void
wait_refused(const char *user)
{
	expect_sshd(1, it_printf("Connection closed by authenticating user %s "
	    "127.0.0.1 port ", user), NULL);
}

Test(e2e_sshd, member_logs_in_as_itself)
{
	login_ok("alice", "alice");
	expect_sshd(1, "Accepted keyboard-interactive/pam for alice from "
	    "127.0.0.1 port ", NULL);
	/* authenticate, then the account re-check */
	expect_verifies("VALID", "alice", 2);
	ite_finish();
}

Test(e2e_sshd, primary_group_member_logs_in)
{
	login_ok("carol", "acme");
	expect_verifies("VALID", "carol", 2);
	ite_finish();
}

Test(e2e_sshd, non_member_denied)
{
	struct ite_run r;

	ssh_login(&r, "dave", token, "id -un");
	cr_assert_eq(r.status, 255, "ssh dave: exit %d\nstdout:\n%s\nstderr:"
	    "\n%s", r.status, r.out, r.err);
	cr_assert_str_eq(r.out, "");
	wait_refused("dave");
	/* The key is valid: the module refused dave, who is not in acme. */
	expect_verifies("VALID", "dave", 1);
	expect_sshd(1, "PAM: Authentication failure for dave from 127.0.0.1",
	    NULL);
	expect_sshd(1, "Failed keyboard-interactive/pam for dave from "
	    "127.0.0.1 port ", NULL);
	expect_sshd(0, "Accepted ", NULL);
	ite_finish();
}

Test(e2e_sshd, revoked_key_denied)
{
	struct ite_run r;

	login_ok("alice", "alice");
	it_expect(NULL, 0, NULL, "key", "revoke", it_id(token), NULL);
	ssh_login(&r, "alice", token, "id -un");
	cr_assert_eq(r.status, 255, "ssh: exit %d\nstdout:\n%s\nstderr:\n%s",
	    r.status, r.out, r.err);
	cr_assert_str_eq(r.out, "");
	wait_refused("alice");
	expect_verifies("NOT_FOUND", "alice", 1);
	expect_sshd(1, "PAM: Authentication failure for alice from 127.0.0.1",
	    NULL);
	expect_sshd(1, "Accepted keyboard-interactive/pam for alice ", NULL);
	ite_finish();
}

/* Logs alice in while apikeyd cannot answer; returns how long the denial
 * took. */
static int64_t
denied_unavailable(void)
{
	struct ite_run r;

	ssh_login(&r, "alice", token, "id -un");
	cr_assert_eq(r.status, 255, "ssh: exit %d\nstdout:\n%s\nstderr:\n%s",
	    r.status, r.out, r.err);
	cr_assert_str_eq(r.out, "");
	wait_refused("alice");
	/* pam_wrapper shows the module's LOG_ERR lines on sshd's stderr. */
	expect_sshd(1, it_printf("apikeyd unavailable at %s: ",
	    it_sock_dir()), "(user 'alice' service sshd rhost 127.0.0.1)");
	expect_sshd(1, "PAM: Authentication service cannot retrieve "
	    "authentication info for alice from 127.0.0.1", NULL);
	return r.ms;
}

Test(e2e_sshd, daemon_stopped_denied_within_timeout)
{
	int64_t ms;

	login_ok("alice", "alice");
	it_stop();
	ms = denied_unavailable();
	cr_log_info("denied in %lld ms", (long long)ms);
	cr_assert_lt(ms, ITE_PAM_TIMEOUT_MS + ITE_SLACK_MS, "took %lld ms",
	    (long long)ms);
	ite_finish();
}

Test(e2e_sshd, daemon_silent_denied_after_timeout)
{
	int64_t ms;

	login_ok("alice", "alice");
	/* Connections still queue on its socket; no answer ever comes. */
	ite_daemon_freeze();
	ms = denied_unavailable();
	cr_log_info("denied in %lld ms", (long long)ms);
	ite_daemon_thaw();
	cr_assert_geq(ms, ITE_PAM_TIMEOUT_MS, "took %lld ms", (long long)ms);
	/* timeout= bounds the connect and the request each. */
	cr_assert_lt(ms, 2 * ITE_PAM_TIMEOUT_MS + ITE_SLACK_MS,
	    "took %lld ms", (long long)ms);
	ite_finish();
}
