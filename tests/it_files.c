/*
 * it_files.c - what apikeyd leaves on disk and how it starts and stops:
 * file and socket modes (whatever the umask), persistence of keys and the
 * pepper across restarts, clean exit on SIGTERM and SIGINT, stale sockets,
 * the config file (keys and exact errors), and a debug log that never
 * holds a token.
 */
#include <sys/stat.h>

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

static void
prepare_only(void)
{
	it_prepare(NULL);
}

/* "files" tests start with a running daemon, "startup" ones without. */
TestSuite(files, .init = it_setup, .fini = it_teardown, .timeout = 90);
TestSuite(startup, .init = prepare_only, .fini = it_teardown, .timeout = 90);

static void
assert_mode(const char *path, mode_t type, mode_t mode)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "%s missing", path);
	cr_assert_eq(st.st_mode & S_IFMT, type, "%s has the wrong type", path);
	cr_assert_eq(st.st_mode & 07777, mode, "%s is mode %04o, expected "
	    "%04o", path, st.st_mode & 07777, mode);
	cr_assert_eq(st.st_uid, 0, "%s not owned by root", path);
}

Test(startup, modes_whatever_the_umask)
{
	mode_t old = umask(0);
	size_t len;

	it_start();
	umask(old);
	it_key(NULL, NULL);
	assert_mode(it_state_dir(), S_IFDIR, 0700);
	assert_mode(it_printf("%s/data.mdb", it_state_dir()), S_IFREG, 0600);
	assert_mode(it_printf("%s/pepper", it_state_dir()), S_IFREG, 0600);
	assert_mode(it_printf("%s/verify.sock", it_sock_dir()), S_IFSOCK,
	    0666);
	assert_mode(it_printf("%s/admin.sock", it_sock_dir()), S_IFSOCK, 0666);
	it_read_file(it_printf("%s/pepper", it_state_dir()), &len);
	cr_assert_eq(len, 32);
}

Test(files, restart_keeps_keys_and_pepper)
{
	const char *pepper = it_printf("%s/pepper", it_state_dir());
	const char *u, *t, *off, *p1, *p2;
	size_t n1, n2;

	it_tenant("acme", "acme", NULL);
	u = it_key("alice", "--permission", "doc:read", NULL);
	t = it_key(NULL, "--tenant", "acme", "--allow-user", "carol", NULL);
	off = it_key(NULL, NULL);
	it_expect(NULL, 0, NULL, "key", "disable", it_id(off), NULL);
	it_expect(NULL, 0, NULL, "tenant", "disable", "acme", NULL);
	p1 = it_read_file(pepper, &n1);

	it_restart();
	p2 = it_read_file(pepper, &n2);
	cr_assert_eq(n1, 32);
	cr_assert(n1 == n2 && memcmp(p1, p2, n1) == 0, "pepper changed");
	cr_assert_eq(it_code(u, "perm=doc:read"), APIKEY_VALID);
	cr_assert_eq(it_code(u, "perm=doc:write"),
	    APIKEY_INSUFFICIENT_PERMISSIONS);
	cr_assert_eq(it_code(off, NULL), APIKEY_DISABLED);
	cr_assert_eq(it_code(t, "user=carol"), APIKEY_TENANT_DISABLED);
	it_expect(NULL, 0, NULL, "tenant", "enable", "acme", NULL);
	cr_assert_eq(it_code(t, "user=carol"), APIKEY_VALID);
	cr_assert_eq(it_code(t, "user=alice"), APIKEY_FORBIDDEN);
	cr_assert_eq(json_array_size(it_json(it_expect(NULL, 0, NULL, "audit",
	    "--json", NULL))), 7);

	/* Restart again: still the same pepper, still valid. */
	it_restart();
	p2 = it_read_file(pepper, &n2);
	cr_assert(n1 == n2 && memcmp(p1, p2, n1) == 0, "pepper changed");
	cr_assert_eq(it_code(u, NULL), APIKEY_VALID);
}

Test(files, sigint_stops_cleanly)
{
	const char *tok = it_key(NULL, NULL);

	it_stop_sig(SIGINT);
	it_start();
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(files, stale_sockets_after_a_crash)
{
	const char *tok = it_key(NULL, NULL);

	kill(it_daemon_pid(), SIGKILL);
	cr_assert_eq(it_wait_daemon_exit(IT_DEADLINE_MS), 128 + SIGKILL);
	cr_assert_eq(access(it_printf("%s/verify.sock", it_sock_dir()), F_OK),
	    0, "SIGKILL cannot remove the socket");
	it_start();
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(startup, dirs_from_the_config_file)
{
	const char *state = it_path("cfgstate"), *sock = it_path("cfgsock");
	const char *conf = it_path("other.conf");
	const char *args[] = { "-f", "-c", conf, NULL };
	struct it_ctl_opt o = { 0 };
	const char *status[] = { "--socket-dir", sock, "status", NULL };
	struct it_run r;
	FILE *f;

	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fprintf(f, "# comment line\n\nstate_dir = %s\nsocket_dir = %s\n"
	    "admin_group = apikey-admins   # trailing comment\n"
	    "log_level = info\nmap_size = 16777216\nmax_connections = 64\n"
	    "max_connections_per_uid = 16\n", state, sock);
	cr_assert_eq(fclose(f), 0);
	it_spawn_daemon(args);
	it_wait_ready(sock);
	assert_mode(state, S_IFDIR, 0700);
	assert_mode(it_printf("%s/pepper", state), S_IFREG, 0600);
	o.no_sockdir = 1;
	o.as = "eve";
	cr_assert_eq(it_ctlv(&r, &o, status), 0, "%s", r.err);
	cr_assert_str_eq(it_field(r.out, "caller_admin"), "yes");
	kill(it_daemon_pid(), SIGTERM);
	cr_assert_eq(it_wait_daemon_exit(IT_DEADLINE_MS), 0);
	cr_assert_neq(access(it_printf("%s/admin.sock", sock), F_OK), 0);
}

/* Starts apikeyd on a config with line as its third line; expects it to
 * exit non-zero naming the file and line 3. */
static void
bad_config(const char *line)
{
	const char *conf = it_path("bad.conf");
	const char *args[] = {
		"-f", "-c", conf, "--state-dir", it_state_dir(),
		"--socket-dir", it_sock_dir(), NULL
	};
	FILE *f;
	int st;

	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fprintf(f, "# bad\nlog_level = debug\n%s\n", line);
	cr_assert_eq(fclose(f), 0);
	it_spawn_daemon(args);
	st = it_wait_daemon_exit(IT_DEADLINE_MS);
	cr_assert_neq(st, -1, "apikeyd kept running with \"%s\"", line);
	cr_assert_neq(st, 0, "apikeyd accepted \"%s\"", line);
	it_assert_has(it_log(), it_printf("%s:3:", conf));
	cr_assert_neq(access(it_printf("%s/verify.sock", it_sock_dir()), F_OK),
	    0);
}

Test(startup, config_errors)
{
	bad_config("colour = blue");
	bad_config("log_level = loud");
	bad_config("max_connections = many");
	bad_config("max_connections_per_uid = -1");
	bad_config("map_size = 12 apples");
	bad_config("just words");
	bad_config("state_dir =");
}

Test(files, log_never_holds_a_token)
{
	struct apikey_key *key = NULL;
	const char *u, *t, *log;
	char *rot = NULL;
	struct it_run r;

	it_tenant("acme", "acme", NULL);
	cr_assert_eq(it_ctl(&r, "alice", NULL, "key", "create", NULL), 0);
	u = it_field(r.out, "token");
	t = it_key_lib(APIKEY_OWNER_TENANT, "acme", NULL, NULL);
	cr_assert_eq(apikey_key_rotate(it_aclient(), it_id(t), 3600, &key,
	    &rot), 0);
	it_note_token(rot);
	apikey_key_free(key);
	it_note_token(it_wrong_secret(u));
	it_note_token(it_wrong_secret(t));

	cr_assert_eq(it_code(u, "svc=sshd user=alice rhost=192.0.2.7"),
	    APIKEY_VALID);
	cr_assert_eq(it_code(t, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(rot, "perm=x:y"), APIKEY_INSUFFICIENT_PERMISSIONS);
	cr_assert_eq(it_code(it_wrong_secret(u), NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(it_wrong_secret(t), NULL), APIKEY_NOT_FOUND);
	cr_assert_eq(it_code(it_bad_crc(u), NULL), APIKEY_MALFORMED);
	cr_assert_eq(it_ctl(&r, NULL, NULL, "verify", u, NULL), 0);
	cr_assert_eq(it_ctl(&r, "dave", it_printf("%s\n", rot), "verify",
	    "--user", "alice", NULL), 0);
	cr_assert_eq(it_ctl(&r, NULL, it_printf("%s\n", it_wrong_secret(rot)),
	    "verify", "-", NULL), 1);
	it_note_token(it_wrong_secret(rot));
	it_expect(NULL, 0, NULL, "key", "rotate", it_id(u), NULL);
	it_expect(NULL, 0, NULL, "key", "revoke", it_id(t), NULL);
	cr_assert_eq(it_code(rot, NULL), APIKEY_NOT_FOUND);
	apikey_token_free(rot);

	it_stop();
	log = it_log();
	/* -d logs each verify with the key id, never with the secret. */
	it_assert_has(log, it_id(u));
	it_assert_has(log, it_id(t));
	it_assert_no_token("the daemon log", log);
}
