/*
 * it_e2e_vsftpd.c - end to end through FTP: a real vsftpd on 127.0.0.1,
 * its PAM service "vsftpd" supplied by pam_wrapper, logs local users in
 * through pam_apikey.so against the harness's apikeyd; curl is the client
 * and sends the key as the password (from a config on stdin, never on a
 * command line).
 *
 * A member of the tenant's group uploads a file with a tenant key, the
 * file lands in the member's home owned by the member, and comes back
 * byte for byte; a non-member, a revoked key, a key for another service
 * and a daemon that is gone or silent are refused with 530 (curl exit 67).
 */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "harness.h"
#include "harness_e2e.h"

#define VSFTPD		"/usr/sbin/vsftpd"
/* curl's exit status for a refused login (530). */
#define CURL_LOGIN_DENIED	67
#define UPLOAD_SIZE	(64 * 1024 + 7)

static const char *token;

static void
vsftpd_conf(int port)
{
	/* pam_service_name is also what the module sends as the service. */
	ite_write(it_path("vsftpd.conf"), it_printf(
	    "# written by tests/it_e2e_vsftpd.c\n"
	    "listen=YES\n"
	    "listen_ipv6=NO\n"
	    "listen_address=127.0.0.1\n"
	    "listen_port=%d\n"
	    "background=NO\n"
	    "anonymous_enable=NO\n"
	    "local_enable=YES\n"
	    "write_enable=YES\n"
	    "local_umask=022\n"
	    "pam_service_name=vsftpd\n"
	    "check_shell=NO\n"
	    "seccomp_sandbox=NO\n"
	    "secure_chroot_dir=%s\n"
	    "xferlog_enable=YES\n"
	    "xferlog_std_format=NO\n"
	    "log_ftp_protocol=YES\n"
	    "vsftpd_log_file=%s\n",
	    port, it_path("empty"), it_path("vsftpd-xfer.log")), 0644);
}

static void
setup(void)
{
	const char *argv[] = { VSFTPD, NULL, NULL };
	struct ite_server s = { 0 };

	ite_setup();
	argv[1] = it_path("vsftpd.conf");
	ite_pam_service("vsftpd");
	it_tenant("acme", "acme", NULL);
	token = it_key(NULL, "--tenant", "acme", "--name", "e2e", NULL);
	s.name = "vsftpd";
	s.conf = vsftpd_conf;
	s.argv = argv;
	s.deny_as_limit = 1;
	s.pam_syslog = 1;
	ite_server_start(&s);
}

static void
teardown(void)
{
	ite_teardown();
	token = NULL;
}

TestSuite(e2e_vsftpd, .init = setup, .fini = teardown, .timeout = 180);

/* curl -T file (upload) or -o file (download) of ftp://.../name. */
static int
ftp(struct ite_run *r, const char *user, const char *key, const char *op,
    const char *file, const char *name)
{
	const char *cfg = it_printf("user = \"%s:%s\"\n", user, key);

	return ite_client(r, "curl", cfg, NULL, (const char *const[]){
	    "curl", "-q", "-sS", "--max-time", "60", "-K", "-", op, file,
	    it_printf("ftp://127.0.0.1:%d/%s", ite_server_port(), name),
	    NULL });
}

/* vsftpd's own log, for failure messages. */
static const char *
xfer_log(void)
{
	const char *path = it_path("vsftpd-xfer.log");

	return access(path, F_OK) == 0 ? it_read_file(path, NULL) : "";
}

/* A file of UPLOAD_SIZE bytes, every byte value, unique to this run. */
static const char *
make_upload(void)
{
	const char *path = it_path("upload.bin");
	char *data;
	size_t i;
	FILE *fp;

	data = malloc(UPLOAD_SIZE);
	cr_assert_not_null(data, "out of memory");
	it_keep(data);
	for (i = 0; i < UPLOAD_SIZE; i++)
		data[i] = (char)(i * 7 + (size_t)getpid());
	fp = fopen(path, "we");
	cr_assert_not_null(fp, "fopen %s", path);
	cr_assert_eq(fwrite(data, 1, UPLOAD_SIZE, fp), (size_t)UPLOAD_SIZE);
	cr_assert_eq(fclose(fp), 0);
	return path;
}

static void
assert_same_file(const char *a, const char *b)
{
	size_t la, lb;
	const char *da = it_read_file(a, &la), *db = it_read_file(b, &lb);

	cr_assert_eq(la, lb, "%s has %zu bytes, %s %zu", a, la, b, lb);
	cr_assert(memcmp(da, db, la) == 0, "%s and %s differ", a, b);
}

/* The daemon's log comes to hold want verify lines of key for user
 * through vsftpd, with the code. */
static void
expect_verifies(const char *key, const char *code, const char *user,
    size_t want)
{
	ite_expect_lines(it_log_path(), want,
	    it_printf("verify: %s key %s peer uid 0 ", code, it_id(key)),
	    it_printf(" service 'vsftpd' user '%s' rhost '127.0.0.1'", user));
}

/* vsftpd's log comes to hold want WHAT LOGIN lines for user. */
static void
expect_logins(const char *what, const char *user, size_t want)
{
	ite_expect_lines(it_path("vsftpd-xfer.log"), want, it_printf("[%s] %s "
	    "LOGIN: Client \"127.0.0.1\"", user, what), NULL);
}

/* A refused login of user with key: curl exit 67, nothing stored. */
static void
refused(const char *user, const char *key)
{
	const char *up, *stored = it_printf("%s/refused.bin", ite_home(user));
	struct ite_run r;

	up = make_upload();
	ftp(&r, user, key, "-T", up, "refused.bin");
	cr_assert_eq(r.status, CURL_LOGIN_DENIED, "curl as %s: exit %d\n"
	    "stderr:\n%s\nvsftpd log:\n%s", user, r.status, r.err,
	    xfer_log());
	it_assert_has(r.err, "530");
	cr_assert(access(stored, F_OK) != 0, "%s was stored", stored);
	expect_logins("FAIL", user, 1);
}

Test(e2e_vsftpd, member_uploads_and_downloads)
{
	const char *up, *stored = it_printf("%s/e2e.bin", ite_home("alice"));
	const char *down = it_path("download.bin");
	struct ite_run r;
	struct stat st;

	up = make_upload();
	ftp(&r, "alice", token, "-T", up, "e2e.bin");
	cr_assert_eq(r.status, 0, "upload: exit %d\nstderr:\n%s\nvsftpd "
	    "log:\n%s\nserver:\n%s", r.status, r.err, xfer_log(),
	    ite_server_log());
	/* Stored by a process running as alice, in her home. */
	cr_assert_eq(stat(stored, &st), 0, "%s is missing", stored);
	cr_assert_eq(st.st_uid, it_uid("alice"));
	cr_assert_eq(st.st_gid, it_gid("alice"));
	assert_same_file(up, stored);

	ftp(&r, "alice", token, "-o", down, "e2e.bin");
	cr_assert_eq(r.status, 0, "download: exit %d\nstderr:\n%s", r.status,
	    r.err);
	assert_same_file(up, down);

	expect_logins("OK", "alice", 2);
	ite_expect_lines(it_path("vsftpd-xfer.log"), 1, "[alice] OK UPLOAD: "
	    "Client \"127.0.0.1\", ", it_printf("/e2e.bin\", %d bytes",
	    UPLOAD_SIZE));
	ite_expect_lines(it_path("vsftpd-xfer.log"), 1, "[alice] OK DOWNLOAD: "
	    "Client \"127.0.0.1\", ", it_printf("/e2e.bin\", %d bytes",
	    UPLOAD_SIZE));
	/* Two logins, each authenticate and account. */
	expect_verifies(token, "VALID", "alice", 4);
	ite_finish();
}

Test(e2e_vsftpd, primary_group_member_uploads)
{
	const char *up, *stored = it_printf("%s/e2e.bin", ite_home("carol"));
	struct ite_run r;
	struct stat st;

	up = make_upload();
	ftp(&r, "carol", token, "-T", up, "e2e.bin");
	cr_assert_eq(r.status, 0, "upload: exit %d\nstderr:\n%s", r.status,
	    r.err);
	cr_assert_eq(stat(stored, &st), 0, "%s is missing", stored);
	cr_assert_eq(st.st_uid, it_uid("carol"));
	cr_assert_eq(st.st_gid, it_gid("carol"));
	assert_same_file(up, stored);
	expect_logins("OK", "carol", 1);
	expect_verifies(token, "VALID", "carol", 2);
	ite_finish();
}

Test(e2e_vsftpd, non_member_refused)
{
	refused("dave", token);
	/* The key is valid: the module refused dave, who is not in acme. */
	expect_verifies(token, "VALID", "dave", 1);
	ite_finish();
}

Test(e2e_vsftpd, revoked_key_refused)
{
	const char *up;
	struct ite_run r;

	up = make_upload();
	ftp(&r, "alice", token, "-T", up, "before.bin");
	cr_assert_eq(r.status, 0, "upload: exit %d\nstderr:\n%s", r.status,
	    r.err);
	it_expect(NULL, 0, NULL, "key", "revoke", it_id(token), NULL);
	refused("alice", token);
	expect_verifies(token, "NOT_FOUND", "alice", 1);
	ite_finish();
}

Test(e2e_vsftpd, key_for_another_service_refused)
{
	const char *ssh_only = it_key(NULL, "--tenant", "acme", "--service",
	    "sshd", NULL);

	refused("alice", ssh_only);
	expect_verifies(ssh_only, "FORBIDDEN", "alice", 1);
	ite_finish();
}

/* A refused login of alice while apikeyd cannot answer; returns how long
 * the refusal took. */
static int64_t
refused_unavailable(void)
{
	const char *up;
	struct ite_run r;

	up = make_upload();
	ftp(&r, "alice", token, "-T", up, "refused.bin");
	cr_assert_eq(r.status, CURL_LOGIN_DENIED, "curl: exit %d\nstderr:\n%s",
	    r.status, r.err);
	expect_logins("FAIL", "alice", 1);
	/* The module's reason went to syslog: vsftpd's stderr is the
	 * client's connection. */
	it_assert_has(r.err, "530");
	return r.ms;
}

Test(e2e_vsftpd, daemon_stopped_refused_within_timeout)
{
	int64_t ms;

	it_stop();
	ms = refused_unavailable();
	cr_log_info("refused in %lld ms", (long long)ms);
	cr_assert_lt(ms, ITE_PAM_TIMEOUT_MS + ITE_SLACK_MS, "took %lld ms",
	    (long long)ms);
	ite_finish();
}

Test(e2e_vsftpd, daemon_silent_refused_after_timeout)
{
	int64_t ms;

	ite_daemon_freeze();
	ms = refused_unavailable();
	cr_log_info("refused in %lld ms", (long long)ms);
	ite_daemon_thaw();
	cr_assert_geq(ms, ITE_PAM_TIMEOUT_MS, "took %lld ms", (long long)ms);
	cr_assert_lt(ms, 2 * ITE_PAM_TIMEOUT_MS + ITE_SLACK_MS,
	    "took %lld ms", (long long)ms);
	ite_finish();
}
