/*
 * harness_sshd.c - a real OpenSSH sshd for the end-to-end tests (see
 * harness_sshd.h): its privilege separation directory, host key and
 * configuration, started through harness_e2e.c, and ssh logins that answer
 * keyboard-interactive PAM with an API key.
 *
 * Linked into every it_* binary, so everything global here is prefixed
 * itsh_. It keeps no state: the host key's path is derived from it_root()
 * wherever it is needed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_e2e.h"
#include "harness_sshd.h"

#define SSHD		"/usr/sbin/sshd"
/* sshd's privilege separation directory, compiled in. */
#define PRIVSEP_DIR	"/run/sshd"

static const char *
hostkey(void)
{
	return it_path("ssh_host_ed25519_key");
}

static void
sshd_conf(int port)
{
	/*
	 * sshd gives the session a fresh environment; SetEnv puts the
	 * fixture users back, so that `id -un` in the session can name them.
	 */
	ite_write(it_path("sshd_config"), it_printf(
	    "# written by tests/harness_sshd.c\n"
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
	    port, hostkey(), ite_passwd(), ite_group()), 0644);
}

void
itsh_prepare(const char *comment)
{
	struct stat st;
	struct ite_run r;

	if (mkdir(PRIVSEP_DIR, 0755) == -1)
		cr_assert_eq(errno, EEXIST, "mkdir %s: %s", PRIVSEP_DIR,
		    strerror(errno));
	cr_assert(stat(PRIVSEP_DIR, &st) == 0 && S_ISDIR(st.st_mode),
	    "%s is not a directory", PRIVSEP_DIR);
	ite_client(&r, "ssh-keygen", NULL, NULL, (const char *const[]){
	    "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
	    "-f", hostkey(), NULL });
	cr_assert_eq(r.status, 0, "ssh-keygen: %s", r.err);
}

void
itsh_start(void)
{
	/* ite_server_start() uses argv only while it starts the server. */
	const char *argv[] = {
		SSHD, "-D", "-e", "-f", it_path("sshd_config"), NULL
	};
	struct ite_server s = { 0 };

	/* Without the key sshd would exit before listening, a later and
	 * vaguer failure. */
	cr_assert(access(hostkey(), R_OK) == 0, "%s: %s (itsh_prepare "
	    "first)", hostkey(), strerror(errno));
	s.name = "sshd";
	s.conf = sshd_conf;
	s.argv = argv;
	ite_server_start(&s);
}

int
itsh_login(struct ite_run *r, const char *user, const char *key,
    const char *cmd, const char *loglevel)
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
	    "-o", it_printf("LogLevel=%s", loglevel),
	    "-p", it_printf("%d", ite_server_port()),
	    it_printf("%s@127.0.0.1", user), cmd, NULL });
}

void
itsh_expect_sshd(size_t want, const char *a, const char *b)
{
	ite_expect_lines(ite_server_log_path(), want, a, b);
}

void
itsh_expect_verifies(const char *token, const char *code, const char *user,
    size_t want)
{
	ite_expect_lines(it_log_path(), want,
	    it_printf("verify: %s key %s peer uid 0 ", code, it_id(token)),
	    it_printf(" service 'sshd' user '%s' rhost '127.0.0.1'", user));
}
