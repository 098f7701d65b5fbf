/*
 * it_dirs.c - the directories apikeyd keeps its sockets and store in, and
 * whom libapikey believes when it connects: the guard of finding 7 of the
 * security review ("socket and state directories can be hijacked, and
 * libapikey trusts whoever listens").
 *
 * The daemon side starts the real apikeyd on directories made wrong on
 * purpose (writable by others, owned by alice, a symbolic link, below a
 * directory alice owns or anyone may write, a socket path that is a file
 * or a link) and expects it to stop at start-up with exit status 1 and the
 * exact reason in its log, having created nothing and changed nothing it
 * was pointed at. The client side puts an impostor (alice, listening on
 * both socket names in a socket directory anyone may write, as /tmp) in
 * front of libapikey, apikeyctl and pam_apikey.so, all as root, and
 * expects each to refuse it before sending a byte; the impostor reports
 * every connection it accepted and the bytes it got, so "nothing was sent"
 * is counted, not assumed. Last, the real apikeyd runs as alice, as the
 * packaged daemon runs as its own user, and serves root.
 *
 * Every test says why it fails on the code before the fix, or that it
 * does not and what it guards instead.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include <criterion/criterion.h>

#include "harness_pam.h"

static void
prepare_only(void)
{
	it_prepare(NULL);
}

static void
prepare_pam(void)
{
	it_prepare(NULL);
	itp_init();
}

/* "dirs" tests start without a daemon; "trust" ones have no daemon at all,
 * only an impostor, and drive PAM too. */
TestSuite(dirs, .init = prepare_only, .fini = it_teardown, .timeout = 90);
TestSuite(trust, .init = prepare_pam, .fini = itp_teardown, .timeout = 120);

/* --- files and directories ------------------------------------------------ */

/* Makes path a directory of user's with exactly mode, whatever the umask. */
static const char *
make_dir(const char *path, mode_t mode, const char *user)
{
	cr_assert(mkdir(path, 0700) == 0, "mkdir %s: %s", path,
	    strerror(errno));
	cr_assert(chown(path, it_uid(user), it_gid(user)) == 0, "chown %s: %s",
	    path, strerror(errno));
	cr_assert(chmod(path, mode) == 0, "chmod %s: %s", path,
	    strerror(errno));
	return path;
}

/* Makes path a new root file with exactly mode and text. */
static void
make_file(const char *path, mode_t mode, const char *text)
{
	size_t	 len = strlen(text);
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert(fd != -1, "open %s: %s", path, strerror(errno));
	cr_assert(write(fd, text, len) == (ssize_t)len, "write %s: %s", path,
	    strerror(errno));
	cr_assert(fchmod(fd, mode) == 0, "fchmod %s: %s", path,
	    strerror(errno));
	cr_assert(close(fd) == 0, "close %s: %s", path, strerror(errno));
}

static void
make_link(const char *target, const char *path)
{
	cr_assert(symlink(target, path) == 0, "symlink %s: %s", path,
	    strerror(errno));
}

/* path (not followed) has type, exactly mode, and owner uid. */
static void
assert_node(const char *path, mode_t type, mode_t mode, uid_t uid)
{
	struct stat	 st;

	cr_assert(lstat(path, &st) == 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(st.st_mode & S_IFMT, type, "%s has the wrong type",
	    path);
	cr_assert_eq(st.st_mode & 07777, mode, "%s is mode %04o, expected "
	    "%04o", path, (unsigned)(st.st_mode & 07777), (unsigned)mode);
	cr_assert_eq(st.st_uid, uid, "%s is owned by uid %u, expected %u",
	    path, (unsigned)st.st_uid, (unsigned)uid);
}

/* path is a root file, mode 0600, holding exactly text. */
static void
assert_untouched(const char *path, const char *text)
{
	assert_node(path, S_IFREG, 0600, 0);
	cr_assert_str_eq(it_read_file(path, NULL), text, "%s was changed",
	    path);
}

/* path is a symbolic link to target. */
static void
assert_link(const char *path, const char *target)
{
	char	 buf[4096];
	ssize_t	 n;

	n = readlink(path, buf, sizeof(buf) - 1);
	cr_assert(n >= 0, "%s is no longer a link: %s", path, strerror(errno));
	buf[n] = '\0';
	cr_assert_str_eq(buf, target, "%s points elsewhere", path);
}

static void
assert_absent(const char *path)
{
	struct stat	 st;

	cr_assert(lstat(path, &st) == -1 && errno == ENOENT, "%s exists",
	    path);
}

/* The names in dir, "." and ".." left out, sorted, one per line. */
static const char *
dir_names(const char *dir)
{
	struct dirent	**list;
	const char	 *s = "";
	int		  n, i;

	n = scandir(dir, &list, NULL, alphasort);
	cr_assert(n >= 0, "scandir %s: %s", dir, strerror(errno));
	for (i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") != 0 &&
		    strcmp(list[i]->d_name, "..") != 0)
			s = it_printf("%s%s\n", s, list[i]->d_name);
		free(list[i]);
	}
	free(list);
	return s;
}

/* Neither of apikeyd's socket names in dir is a socket. */
static void
assert_no_sockets(const char *dir)
{
	static const char *const names[] = { "verify.sock", "admin.sock" };
	struct stat	 st;
	const char	*p;
	size_t		 i;

	for (i = 0; i < 2; i++) {
		p = it_printf("%s/%s", dir, names[i]);
		cr_assert(lstat(p, &st) == -1 || !S_ISSOCK(st.st_mode),
		    "apikeyd left the socket %s behind", p);
	}
}

/* Occurrences of needle in hay. */
static size_t
count(const char *hay, const char *needle)
{
	size_t	 n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

/*
 * Starts apikeyd -f -d -c CONF --state-dir state --socket-dir sock and
 * expects it to stop at start-up with exit status 1 and the log line
 * "apikeyd: " line, leaving no socket in sock.
 */
static void
expect_refusal(const char *state, const char *sock, const char *line)
{
	const char	*args[] = {
		"-f", "-d", "-c", it_conf_path(), "--state-dir", state,
		"--socket-dir", sock, NULL
	};
	size_t		 from = strlen(it_log());
	int		 st;

	it_spawn_daemon(args);
	st = it_wait_daemon_exit(IT_DEADLINE_MS);
	cr_assert_neq(st, -1, "apikeyd accepted --state-dir %s --socket-dir "
	    "%s and is running; log:\n%s", state, sock, it_log());
	cr_assert_eq(st, 1, "apikeyd exited with %d, expected 1; log:\n%s",
	    st, it_log());
	it_assert_has(it_log() + from, it_printf("apikeyd: %s\n", line));
	assert_no_sockets(sock);
}

/* The reason apikeyd gives for a directory writable by group or others. */
static const char *
writable_msg(const char *what, const char *dir, mode_t mode)
{
	return it_printf("%s: %s is writable by group or others (mode %04o); "
	    "remove that with chmod go-w", what, dir, (unsigned)mode);
}

static const char *
owner_msg(const char *what, const char *dir, const char *user)
{
	return it_printf("%s: %s is owned by uid %u; it must belong to root "
	    "or to the user apikeyd runs as (uid 0)", what, dir,
	    (unsigned)it_uid(user));
}

static const char *
link_msg(const char *what, const char *dir)
{
	return it_printf("%s: %s is a symbolic link; configure the directory "
	    "itself", what, dir);
}

/* --- the daemon's directories --------------------------------------------- */

Test(dirs, socket_dir_writable_by_others_is_refused)
{
	/*
	 * Before the fix apikeyd took any existing socket directory and
	 * started in each of these; in one others may write, a racer swapped
	 * the socket path for a link between bind() and chmod(), and anyone
	 * could put a socket of their own there.
	 */
	static const mode_t	 modes[] = { 0777, 01777, 0775, 0757 };
	const char		*sock = it_sock_dir();
	size_t			 i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		make_dir(sock, modes[i], "root");
		expect_refusal(it_state_dir(), sock,
		    writable_msg("socket_dir", sock, modes[i]));
		/* Refused, not "repaired": the mode is the admin's to fix. */
		assert_node(sock, S_IFDIR, modes[i], 0);
		cr_assert_str_eq(dir_names(sock), "");
		cr_assert(rmdir(sock) == 0, "rmdir: %s", strerror(errno));
	}
}

Test(dirs, dirs_owned_by_another_user_are_refused)
{
	/*
	 * Before the fix the owner was never looked at: alice, owning the
	 * socket directory, could put her own sockets in place of the
	 * daemon's; owning the state directory (which the daemon only
	 * chmod-ed, and she can chmod back), she could swap the store and
	 * the pepper for files of her own.
	 */
	const char	*sock = make_dir(it_sock_dir(), 0755, "alice");
	const char	*state = make_dir(it_path("alice-state"), 0700,
	    "alice");

	expect_refusal(it_state_dir(), sock, owner_msg("socket_dir", sock,
	    "alice"));
	assert_node(sock, S_IFDIR, 0755, it_uid("alice"));
	cr_assert_str_eq(dir_names(sock), "");

	expect_refusal(state, it_path("root-sock"), owner_msg("state_dir",
	    state, "alice"));
	assert_node(state, S_IFDIR, 0700, it_uid("alice"));
	cr_assert_str_eq(dir_names(state), "");
}

Test(dirs, state_dir_link_is_refused)
{
	/*
	 * Before the fix --state-dir went through realpath() and the daemon
	 * chmod-ed the result: a link planted there made it turn this root
	 * directory to 0700 and write data.mdb and the pepper into it.
	 */
	const char	*target = make_dir(it_path("precious"), 0755, "root");
	const char	*keep = it_printf("%s/keep", target);
	const char	*state = it_state_dir();

	make_file(keep, 0600, "root's own\n");
	make_link(target, state);
	expect_refusal(state, it_sock_dir(), link_msg("state_dir", state));
	assert_node(target, S_IFDIR, 0755, 0);
	cr_assert_str_eq(dir_names(target), "keep\n",
	    "apikeyd wrote into the link's target");
	assert_untouched(keep, "root's own\n");
	assert_link(state, target);
}

Test(dirs, socket_dir_link_is_refused)
{
	/*
	 * Before the fix a link at socket_dir was followed: the daemon put its
	 * sockets wherever it pointed, including a directory the link's maker
	 * controls once they swap the link.
	 */
	const char	*target = make_dir(it_path("elsewhere"), 0755, "root");
	const char	*sock = it_sock_dir();

	make_link(target, sock);
	expect_refusal(it_state_dir(), sock, link_msg("socket_dir", sock));
	cr_assert_str_eq(dir_names(target), "");
	assert_link(sock, target);
}

Test(dirs, relative_dirs_are_taken_as_they_are)
{
	/*
	 * Before the fix a relative --state-dir went through realpath(), so a
	 * link at that name was followed to a root directory that the daemon
	 * then chmod-ed and filled. Now it is the working directory plus the
	 * name, and the link is refused; real relative directories still work.
	 */
	const char	*args[] = {
		"-f", "-d", "-c", it_conf_path(), "--state-dir", "state",
		"--socket-dir", "sock", NULL
	};
	const char	*target = make_dir(it_path("precious"), 0755, "root");
	const char	*tok;

	cr_assert(chdir(it_root()) == 0, "chdir: %s", strerror(errno));
	make_link("precious", it_state_dir());
	expect_refusal("state", "sock", link_msg("state_dir", it_state_dir()));
	assert_node(target, S_IFDIR, 0755, 0);
	cr_assert_str_eq(dir_names(target), "");

	cr_assert(unlink(it_state_dir()) == 0, "unlink: %s", strerror(errno));
	it_spawn_daemon(args);
	it_wait_ready(it_sock_dir());
	it_assert_has(it_log(), it_printf("serving %s (state in %s)\n",
	    it_sock_dir(), it_state_dir()));
	tok = it_key(NULL, NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	assert_node(it_state_dir(), S_IFDIR, 0700, 0);
	it_stop();
}

Test(dirs, dirs_below_a_directory_others_control_are_refused)
{
	/*
	 * Whoever owns or may write a directory above can rename the whole
	 * subtree away and put their own in its place. Before the fix no
	 * directory above was looked at, and each of these started.
	 */
	const char	*mine = make_dir(it_path("alice"), 0755, "alice");
	const char	*anyone = make_dir(it_path("anyone"), 0777, "root");
	const char	*sticky = make_dir(it_path("sticky"), 01777, "root");
	const char	*deep, *above_msg, *sock;

	above_msg = it_printf("%s is owned by uid %u; every directory and "
	    "link on the way must belong to root",
	    mine, (unsigned)it_uid("alice"));
	expect_refusal(it_printf("%s/state", mine), it_sock_dir(),
	    it_printf("state_dir: %s", above_msg));
	assert_absent(it_printf("%s/state", mine));

	/* Not only the parent: every directory up to /. */
	deep = make_dir(it_printf("%s/deep", mine), 0755, "root");
	expect_refusal(it_printf("%s/state", deep), it_sock_dir(),
	    it_printf("state_dir: %s", above_msg));
	assert_absent(it_printf("%s/state", deep));

	expect_refusal(it_printf("%s/state", anyone), it_sock_dir(),
	    it_printf("state_dir: %s is writable by group or others (mode "
	    "0777), so its contents could be swapped", anyone));
	assert_absent(it_printf("%s/state", anyone));

	sock = it_printf("%s/sock", mine);
	expect_refusal(it_state_dir(), sock,
	    it_printf("socket_dir: %s", above_msg));
	assert_absent(sock);

	/* A sticky directory, as /tmp is, lets nobody rename what is ours. */
	sock = it_printf("%s/sock", sticky);
	it_spawn_daemon((const char *[]){ "-f", "-d", "-c", it_conf_path(),
	    "--state-dir", it_printf("%s/state", sticky), "--socket-dir",
	    sock, NULL });
	it_wait_ready(sock);
	kill(it_daemon_pid(), SIGTERM);
	cr_assert_eq(it_wait_daemon_exit(IT_DEADLINE_MS), 0, "log:\n%s",
	    it_log());
	assert_no_sockets(sock);
}

/*
 * A symbolic link on the configured path must not hide the directories it
 * passes through: here alice's directory, refused above when named
 * directly. Were only the resolved path checked, she could re-point her
 * link at any root directory holding a "state", and the daemon would
 * tighten that to 0700 and write data.mdb and the pepper into it, the very
 * attack of the finding. The path is walked as written instead.
 */
Test(dirs, a_link_above_does_not_hide_who_controls_the_path)
{
	const char	*mine = make_dir(it_path("alice"), 0755, "alice");
	const char	*target = make_dir(it_path("target"), 0755, "root");
	const char	*link = it_printf("%s/link", mine);
	const char	*above_msg;

	make_link(target, link);
	cr_assert(lchown(link, it_uid("alice"), it_gid("alice")) == 0,
	    "lchown: %s", strerror(errno));
	above_msg = it_printf("%s is owned by uid %u; every directory and "
	    "link on the way must belong to root",
	    mine, (unsigned)it_uid("alice"));
	expect_refusal(it_printf("%s/state", link), it_sock_dir(),
	    it_printf("state_dir: %s", above_msg));
	cr_assert_str_eq(dir_names(target), "");
	expect_refusal(it_state_dir(), it_printf("%s/sock", link),
	    it_printf("socket_dir: %s", above_msg));
	cr_assert_str_eq(dir_names(target), "");
}

/*
 * Links that root made on the way (as /var/run -> /run) are followed, and
 * where they lead is checked like the rest: a root link into alice's
 * directory is no way around the owner check.
 */
Test(dirs, root_links_on_the_way_are_followed_and_checked)
{
	const char	*real = make_dir(it_path("real"), 0755, "root");
	const char	*hers = make_dir(it_path("hers"), 0755, "alice");
	const char	*run = it_path("var-run"), *bad = it_path("to-hers");
	const char	*sock;

	make_link(real, run);
	make_link(hers, bad);
	sock = it_printf("%s/sock", run);
	it_spawn_daemon((const char *[]){ "-f", "-d", "-c", it_conf_path(),
	    "--state-dir", it_printf("%s/state", run), "--socket-dir", sock,
	    NULL });
	it_wait_ready(sock);
	it_expect(NULL, 0, NULL, "--socket-dir", sock, "status", NULL);
	kill(it_daemon_pid(), SIGTERM);
	cr_assert_eq(it_wait_daemon_exit(IT_DEADLINE_MS), 0, "log:\n%s",
	    it_log());
	expect_refusal(it_printf("%s/state", bad), it_sock_dir(),
	    it_printf("state_dir: %s is owned by uid %u; every directory "
	    "and link on the way must belong to root", hers,
	    (unsigned)it_uid("alice")));
	cr_assert_str_eq(dir_names(hers), "");
}

Test(dirs, socket_path_that_is_no_socket_is_left_alone)
{
	/*
	 * Before the fix apikeyd unlinked whatever was at a socket path and
	 * bound there, then chmod-ed the path to 0666; a link swapped in
	 * between turned a root 0600 file into 0666. Now anything there that
	 * is not a socket stops the daemon and stays as it was.
	 */
	const char	*sock = make_dir(it_sock_dir(), 0755, "root");
	const char	*secret = it_path("secret");
	const char	*vpath = it_printf("%s/verify.sock", sock);
	const char	*apath = it_printf("%s/admin.sock", sock);

	make_file(secret, 0600, "root only\n");

	make_link(secret, vpath);
	expect_refusal(it_state_dir(), sock, it_printf("%s exists and is not "
	    "a socket; remove it", vpath));
	assert_untouched(secret, "root only\n");
	assert_link(vpath, secret);
	cr_assert(unlink(vpath) == 0, "unlink: %s", strerror(errno));

	make_file(vpath, 0600, "not a socket\n");
	expect_refusal(it_state_dir(), sock, it_printf("%s exists and is not "
	    "a socket; remove it", vpath));
	assert_untouched(vpath, "not a socket\n");
	cr_assert(unlink(vpath) == 0, "unlink: %s", strerror(errno));

	/* The second socket: the first, already bound, is removed again. */
	make_link(secret, apath);
	expect_refusal(it_state_dir(), sock, it_printf("%s exists and is not "
	    "a socket; remove it", apath));
	assert_untouched(secret, "root only\n");
	assert_link(apath, secret);
	cr_assert_str_eq(dir_names(sock), "admin.sock\n");
}

Test(dirs, loose_state_dir_is_tightened)
{
	/*
	 * A private directory readable by others is made 0700 through its
	 * descriptor, and said so with the mode in full. Before the fix the
	 * warning read "was mode 755" and the chmod() went by path.
	 */
	const char	*state = make_dir(it_state_dir(), 0755, "root");
	const char	*warning = it_printf("apikeyd: %s was mode 0755; "
	    "setting 0700\n", state);
	const char	*tok;

	it_start();
	it_assert_has(it_log(), warning);
	assert_node(state, S_IFDIR, 0700, 0);
	tok = it_key(NULL, NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	/* Once tight, it stays so without a word. */
	it_restart();
	cr_assert_eq(count(it_log(), warning), 1);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(dirs, modes_under_a_restrictive_umask)
{
	/*
	 * it_files.c checks the modes under umask 0; this is the other end,
	 * umask 0777, and the socket directory's mode, which it does not
	 * check. It passes on the old code too: it guards the fix, which
	 * dropped chmod() by path, against directories and sockets that the
	 * caller's umask would leave unreachable for the users it serves.
	 */
	mode_t		 old = umask(0777);
	const char	*tok;
	struct it_run	 r;

	it_start();
	umask(old);
	assert_node(it_state_dir(), S_IFDIR, 0700, 0);
	assert_node(it_sock_dir(), S_IFDIR, 0755, 0);
	assert_node(it_printf("%s/verify.sock", it_sock_dir()), S_IFSOCK,
	    0666, 0);
	assert_node(it_printf("%s/admin.sock", it_sock_dir()), S_IFSOCK,
	    0666, 0);
	tok = it_key("alice", NULL);
	assert_node(it_printf("%s/data.mdb", it_state_dir()), S_IFREG, 0600,
	    0);
	assert_node(it_printf("%s/pepper", it_state_dir()), S_IFREG, 0600, 0);
	/* Users other than root reach both sockets. */
	cr_assert_eq(it_ctl(&r, "dave", NULL, "verify", tok, NULL), 0, "%s",
	    r.err);
	cr_assert_eq(it_ctl(&r, "dave", NULL, "status", NULL), 0, "%s", r.err);
}

/* --- the daemon as a user of its own --------------------------------------- */

Test(dirs, daemon_runs_as_its_own_user)
{
	/*
	 * The packaged apikeyd runs as its own user, in directories it owns
	 * below root's. But for the warning's wording (see
	 * loose_state_dir_is_tightened) this passes on the old code too: it
	 * guards the fix against being too strict, since the daemon's checks
	 * must accept directories of the user it runs as, and libapikey must
	 * trust a server that owns its socket directory. It also shows the
	 * daemon assumes no root: it tightens its directory through the
	 * descriptor as alice, reads its callers' credentials, resolves the
	 * admin group through NSS, owns its store, and takes SIGTERM from
	 * root.
	 */
	uid_t		 alice = it_uid("alice");
	const char	*state = make_dir(it_state_dir(), 0755, "alice");
	const char	*sock = make_dir(it_sock_dir(), 0755, "alice");
	const char	*tok, *own, *out;
	struct it_run	 r;

	it_start_as("alice");
	it_assert_has(it_log(), it_printf("apikeyd: %s was mode 0755; setting "
	    "0700\n", state));
	assert_node(state, S_IFDIR, 0700, alice);
	assert_node(sock, S_IFDIR, 0755, alice);
	assert_node(it_printf("%s/verify.sock", sock), S_IFSOCK, 0666, alice);
	assert_node(it_printf("%s/admin.sock", sock), S_IFSOCK, 0666, alice);

	/* Root's apikeyctl and root's libapikey trust alice's daemon. */
	tok = it_key(NULL, NULL);
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
	cr_assert_eq(it_code(it_wrong_secret(tok), NULL), APIKEY_NOT_FOUND);
	assert_node(it_printf("%s/pepper", state), S_IFREG, 0600, alice);
	assert_node(it_printf("%s/data.mdb", state), S_IFREG, 0600, alice);

	/* Owners come from SO_PEERCRED: dave's key is dave's. */
	own = it_key("dave", NULL);
	cr_assert_eq(it_ctl(&r, "dave", NULL, "verify", own, NULL), 0, "%s",
	    r.err);
	cr_assert_eq(it_code(own, "user=dave"), APIKEY_VALID);
	cr_assert_str_eq(it_field(it_expect("dave", 0, NULL, "key", "show",
	    it_id(own), NULL), "owner"), "user dave (uid 10004)");

	/* Root is an admin; eve through admin_group, looked up by alice's
	 * daemon; dave is not. */
	out = it_expect(NULL, 0, NULL, "status", NULL);
	cr_assert_str_eq(it_field(out, "caller_uid"), "0");
	cr_assert_str_eq(it_field(out, "caller_admin"), "yes");
	cr_assert_str_eq(it_field(it_expect("eve", 0, NULL, "status", NULL),
	    "caller_admin"), "yes");
	cr_assert_str_eq(it_field(it_expect("dave", 0, NULL, "status", NULL),
	    "caller_admin"), "no");

	it_stop();
	cr_assert_str_eq(dir_names(sock), "");
}

Test(dirs, daemon_user_trusts_a_daemon_behind_a_link)
{
	/*
	 * What APIKEY_DAEMON_USER is for. alice's daemon can bind only in a
	 * directory she may write: one she owns (trusted for that, see the
	 * test above), or one group or others may write, which the daemon
	 * refuses. A root directory she cannot write, it cannot serve, as
	 * shown first. What libapikey can meet is a path through which it
	 * cannot see the owner: a link, here a compatibility link in a root
	 * directory to alice's socket. Only naming her as the daemon user
	 * makes that trusted. Before the fix the first open succeeded.
	 */
	const char	*rootdir = make_dir(it_path("rootdir"), 0755, "root");
	const char	*compat = make_dir(it_path("compat"), 0755, "root");
	const char	*state = make_dir(it_state_dir(), 0700, "alice");
	const char	*sock = make_dir(it_sock_dir(), 0755, "alice");
	const char	*status[] = { "--socket-dir", compat, "status", NULL };
	struct apikey_client *c = NULL;
	struct apikey_result *res;
	struct it_ctl_opt o = { .no_sockdir = 1 };
	struct it_run	 r;
	const char	*tok;
	int		 st;

	it_spawn_daemon_as("alice", (const char *[]){ "-f", "-c",
	    it_conf_path(), "--state-dir", state, "--socket-dir", rootdir,
	    NULL });
	st = it_wait_daemon_exit(IT_DEADLINE_MS);
	cr_assert_eq(st, 1, "exit %d; log:\n%s", st, it_log());
	it_assert_has(it_log(), it_printf("apikeyd: bind %s/verify.sock: "
	    "Permission denied\n", rootdir));

	it_start_as("alice");
	tok = it_key(NULL, NULL);
	make_link(it_printf("%s/verify.sock", sock),
	    it_printf("%s/verify.sock", compat));
	make_link(it_printf("%s/admin.sock", sock),
	    it_printf("%s/admin.sock", compat));

	cr_assert_eq(unsetenv("APIKEY_DAEMON_USER"), 0);
	cr_assert_eq(apikey_open(compat, 2000, &c), APIKEY_EUNTRUSTED);
	cr_assert_null(c);
	cr_assert_eq(it_ctlv(&r, &o, status), 3, "%s", r.err);
	cr_assert_str_eq(r.err, it_printf("apikeyctl: cannot reach apikeyd "
	    "at %s/admin.sock: apikeyd's socket is served by an untrusted "
	    "process\n", compat));

	cr_assert_eq(setenv("APIKEY_DAEMON_USER", "alice", 1), 0);
	cr_assert_eq(apikey_open(compat, 2000, &c), 0);
	res = it_verify_on(c, tok, NULL);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	apikey_result_free(res);
	apikey_close(c);
	cr_assert_eq(it_ctlv(&r, &o, status), 0, "%s", r.err);
	cr_assert_str_eq(it_field(r.out, "caller_admin"), "yes");
	it_stop();
}

/* --- an impostor on the socket ---------------------------------------------- */

/*
 * A token no daemon here ever issued: well formed, with a valid checksum
 * (made independently with Python, see unit_token.c).
 */
#define FORGED_TOKEN \
    "ak_05McJmDgrvc_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf149beY"
#define FORGED_ID	"05McJmDgrvc"

/*
 * The wire format as proto/proto.h specifies it. The it_* binaries link
 * libapikey only, whose protocol code is hidden, so the impostor encodes
 * its one reply by hand; the control test proves libapikey and PAM accept
 * it.
 */
#define W_VERSION	5
#define W_REPLY		0x80
#define W_OP_VERIFY	0x10
#define W_HDR_LEN	12
#define W_FRAME_MAX	(64 * 1024)
#define W_T_U8		0x01
#define W_T_U32		0x02
#define W_T_U64		0x03
#define W_T_STR		0x04
#define W_T_LIST	0x05
#define W_EPERM		3
#define W_OWNER_USER	1

struct wbuf {
	uint8_t		 b[1024];
	size_t		 n;
};

/* Appends v big-endian in bytes bytes; the replies here are far shorter
 * than the buffer. */
static void
w_be(struct wbuf *w, uint64_t v, int bytes)
{
	while (bytes-- > 0)
		w->b[w->n++] = (uint8_t)(v >> (8 * bytes));
}

static void
w_u8(struct wbuf *w, uint8_t v)
{
	w_be(w, W_T_U8, 1);
	w_be(w, v, 1);
}

static void
w_u32(struct wbuf *w, uint32_t v)
{
	w_be(w, W_T_U32, 1);
	w_be(w, v, 4);
}

static void
w_u64(struct wbuf *w, uint64_t v)
{
	w_be(w, W_T_U64, 1);
	w_be(w, v, 8);
}

static void
w_str(struct wbuf *w, const char *s)
{
	size_t	 n = strlen(s);

	w_be(w, W_T_STR, 1);
	w_be(w, n, 4);
	memcpy(w->b + w->n, s, n);
	w->n += n;
}

static void
w_empty_list(struct wbuf *w)
{
	w_be(w, W_T_LIST, 1);
	w_be(w, 0, 4);
}

/* A reply frame's header; w_end() fills in the length. */
static void
w_begin(struct wbuf *w, uint8_t op, uint32_t id)
{
	w->n = 0;
	w_be(w, 0, 4);
	w_be(w, W_VERSION, 1);
	w_be(w, op | W_REPLY, 1);
	w_be(w, 0, 2);
	w_be(w, id, 4);
}

static void
w_end(struct wbuf *w)
{
	size_t	 n = w->n;

	w->n = 0;
	w_be(w, n - 4, 4);
	w->n = n;
}

/*
 * What apikeyd answers about a valid key of root's: status OK, then
 * proto_verify_reply in field order, code VALID for the forged key's id,
 * owner user root (uid 0), nothing else.
 */
static void
w_valid_reply(struct wbuf *w, uint32_t id)
{
	w_begin(w, W_OP_VERIFY, id);
	w_u32(w, 0);			/* status OK */
	w_str(w, "");			/* message */
	w_u32(w, 0);			/* code VALID */
	w_str(w, "");			/* reason */
	w_str(w, FORGED_ID);		/* key_id */
	w_str(w, "impostor");		/* name */
	w_u8(w, W_OWNER_USER);		/* owner: kind */
	w_u32(w, 0);			/* uid */
	w_str(w, "root");		/* user */
	w_str(w, "");			/* tenant */
	w_str(w, "");			/* group */
	w_u32(w, 0);			/* gid */
	w_empty_list(w);		/* permissions */
	w_empty_list(w);		/* allowed_users */
	w_str(w, "");			/* metadata */
	w_u64(w, 0);			/* expires_at */
	w_u64(w, 0);			/* retry_after_ms */
	w_u8(w, 0);			/* has_credits */
	w_u64(w, 0);			/* remaining */
	w_u8(w, 0);			/* allow_privileged */
	w_u8(w, 0);			/* has_admin_gid */
	w_u32(w, 0);			/* admin_gid */
	w_end(w);
}

/* Anything else gets EPERM: the impostor is after tokens only. */
static void
w_eperm_reply(struct wbuf *w, uint8_t op, uint32_t id)
{
	w_begin(w, op, id);
	w_u32(w, W_EPERM);
	w_str(w, "impostor");
	w_end(w);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* What the impostor saw on one connection, reported when it ended. */
struct imp_conn {
	uint32_t	 sock;		/* 0: verify.sock, 1: admin.sock */
	uint32_t	 frames;	/* requests it answered */
	uint64_t	 bytes;		/* bytes it received */
};

struct impostor {
	pid_t		 pid;
	int		 ctl;		/* closing it stops the impostor */
	int		 report;	/* one struct imp_conn per connection */
};

/*
 * Serves one connection until the client hangs up, or until it has
 * answered one whole request, then hangs up itself, as a daemon that
 * restarts would: the client's next call has to connect again.
 */
static void
imp_serve(int fd, struct imp_conn *rec)
{
	static uint8_t	 buf[W_FRAME_MAX];
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	struct wbuf	 w;
	size_t		 len = 0;
	uint32_t	 flen;
	ssize_t		 n;

	for (;;) {
		if (len >= 4) {
			flen = be32(buf);
			if (flen < W_HDR_LEN - 4 || flen > W_FRAME_MAX - 4)
				return;
			if (len >= 4 + (size_t)flen) {
				if (buf[5] == W_OP_VERIFY)
					w_valid_reply(&w, be32(buf + 8));
				else
					w_eperm_reply(&w, buf[5],
					    be32(buf + 8));
				(void)send(fd, w.b, w.n, MSG_NOSIGNAL);
				rec->frames++;
				return;
			}
		}
		if (poll(&pfd, 1, IT_DEADLINE_MS) != 1)
			return;
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return;
		len += (size_t)n;
		rec->bytes += (uint64_t)n;
	}
}

static int
imp_listen(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 16) == -1)
		return -1;
	return fd;
}

/*
 * The impostor process: becomes uid/gid, binds and listens on both paths,
 * says 'R' on ready, then serves connections one at a time and reports
 * each on report, until ctl is closed. No Criterion here: exit statuses
 * say what went wrong.
 */
static void __attribute__((noreturn))
imp_main(const char *const paths[2], uid_t uid, gid_t gid, pid_t parent,
    int ctl, int report, int ready)
{
	struct pollfd	 pfd[3];
	struct imp_conn	 rec;
	int		 lfd[2], fd, i;

	signal(SIGPIPE, SIG_IGN);
	if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		_exit(2);
	/* Set after the uid change, which clears it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(2);
	if ((lfd[0] = imp_listen(paths[0])) == -1 ||
	    (lfd[1] = imp_listen(paths[1])) == -1)
		_exit(3);
	if (write(ready, "R", 1) != 1)
		_exit(4);
	close(ready);
	for (;;) {
		for (i = 0; i < 2; i++) {
			pfd[i].fd = lfd[i];
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		pfd[2].fd = ctl;
		pfd[2].events = POLLIN;
		pfd[2].revents = 0;
		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			_exit(5);
		}
		/* Connections first: every client was done before ctl. */
		for (i = 0; i < 2; i++) {
			if ((pfd[i].revents & POLLIN) == 0)
				continue;
			fd = accept4(lfd[i], NULL, NULL, SOCK_CLOEXEC);
			if (fd == -1)
				continue;
			memset(&rec, 0, sizeof(rec));
			rec.sock = (uint32_t)i;
			imp_serve(fd, &rec);
			close(fd);
			if (write(report, &rec, sizeof(rec)) !=
			    (ssize_t)sizeof(rec))
				_exit(6);
		}
		if (pfd[2].revents != 0)
			_exit(0);
	}
}

/* Starts an impostor as user on dir/verify.sock and dir/admin.sock. */
static void
impostor_start(struct impostor *imp, const char *dir, const char *user)
{
	const char	*paths[2] = {
		it_printf("%s/verify.sock", dir),
		it_printf("%s/admin.sock", dir)
	};
	struct stat	 st_sock;
	struct pollfd	 pfd;
	uid_t		 uid = it_uid(user);
	gid_t		 gid = it_gid(user);
	pid_t		 parent = getpid();
	int		 ctl[2], report[2], ready[2], st;
	char		 c;

	cr_assert(pipe2(ctl, O_CLOEXEC) == 0 && pipe2(report, O_CLOEXEC) == 0 &&
	    pipe2(ready, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	imp->pid = fork();
	cr_assert_neq(imp->pid, -1, "fork: %s", strerror(errno));
	if (imp->pid == 0) {
		close(ctl[1]);
		close(report[0]);
		close(ready[0]);
		imp_main(paths, uid, gid, parent, ctl[0], report[1], ready[1]);
	}
	close(ctl[0]);
	close(report[1]);
	close(ready[1]);
	imp->ctl = ctl[1];
	imp->report = report[0];
	/* 'R' once both sockets listen, end of file if it failed. */
	pfd.fd = ready[0];
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, IT_DEADLINE_MS), 1, "the impostor did not "
	    "start within %d ms", IT_DEADLINE_MS);
	if (read(ready[0], &c, 1) != 1) {
		waitpid(imp->pid, &st, 0);
		cr_assert_fail("the impostor could not listen as %s (exit "
		    "%d)", user, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	close(ready[0]);
	cr_assert(lstat(paths[0], &st_sock) == 0 && S_ISSOCK(st_sock.st_mode) &&
	    st_sock.st_uid == uid, "%s is not %s's socket", paths[0], user);
}

/* What the impostor saw on the next connection that ended. */
static struct imp_conn
impostor_next(struct impostor *imp)
{
	struct pollfd	 pfd = { .fd = imp->report, .events = POLLIN };
	struct imp_conn	 rec;

	cr_assert_eq(poll(&pfd, 1, IT_DEADLINE_MS), 1, "no connection to the "
	    "impostor ended within %d ms", IT_DEADLINE_MS);
	cr_assert_eq(read(imp->report, &rec, sizeof(rec)),
	    (ssize_t)sizeof(rec), "the impostor died");
	return rec;
}

static const char *
sock_name(uint32_t sock)
{
	return sock == 0 ? "verify.sock" : "admin.sock";
}

/* The next connection to the impostor was to sock and brought nothing. */
static void
assert_told_nothing(struct impostor *imp, uint32_t sock)
{
	struct imp_conn	 rec = impostor_next(imp);

	cr_assert_eq(rec.sock, sock, "the client connected to %s, expected "
	    "%s", sock_name(rec.sock), sock_name(sock));
	cr_assert_eq(rec.bytes, 0, "the impostor received %llu bytes on %s",
	    (unsigned long long)rec.bytes, sock_name(sock));
}

/* Stops the impostor; asserts it saw no connection not accounted for. */
static void
impostor_stop(struct impostor *imp)
{
	struct pollfd	 pfd = { .fd = imp->report, .events = POLLIN };
	struct imp_conn	 rec;
	ssize_t		 n;
	int		 st;

	close(imp->ctl);
	/* It reports what is left, then its exit closes the pipe. */
	cr_assert_eq(poll(&pfd, 1, IT_DEADLINE_MS), 1, "the impostor did not "
	    "stop within %d ms", IT_DEADLINE_MS);
	n = read(imp->report, &rec, sizeof(rec));
	cr_assert_eq(n, 0, "one more connection reached the impostor (%s, "
	    "%llu bytes)", sock_name(rec.sock),
	    (unsigned long long)rec.bytes);
	close(imp->report);
	cr_assert_eq(waitpid(imp->pid, &st, 0), imp->pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the impostor "
	    "failed (status %d)", st);
}

/* A socket directory anyone may write, as /tmp: root's, mode 1777. */
static const char *
world_writable_sock_dir(void)
{
	return make_dir(it_sock_dir(), 01777, "root");
}

Test(trust, impostor_in_a_world_writable_socket_dir_gets_nothing)
{
	/*
	 * Before the fix libapikey sent its request to whoever listened: the
	 * open succeeded, the impostor's VALID came back, apikeyctl verify
	 * exited 0 and PAM logged root in with a token never issued, and the
	 * impostor received every request (and every token in them).
	 */
	const char		*sock = world_writable_sock_dir();
	const char		*untrusted = "apikeyd's socket is served by an "
	    "untrusted process";
	struct apikey_client	*c = NULL;
	struct impostor		 imp;
	struct itp_run		 r;

	it_note_token(FORGED_TOKEN);
	impostor_start(&imp, sock, "alice");

	cr_assert_eq(apikey_open(sock, 2000, &c), APIKEY_EUNTRUSTED);
	cr_assert_null(c);
	cr_assert_str_eq(apikey_strerror(APIKEY_EUNTRUSTED), untrusted);
	assert_told_nothing(&imp, 0);
	cr_assert_eq(apikey_open_admin(sock, 2000, &c), APIKEY_EUNTRUSTED);
	cr_assert_null(c);
	assert_told_nothing(&imp, 1);

	it_expect(NULL, 3, it_printf("apikeyctl: cannot reach apikeyd at "
	    "%s/verify.sock: %s\n", sock, untrusted), "verify", FORGED_TOKEN,
	    NULL);
	assert_told_nothing(&imp, 0);
	it_expect(NULL, 3, it_printf("apikeyctl: cannot reach apikeyd at "
	    "%s/admin.sock: %s\n", sock, untrusted), "status", NULL);
	assert_told_nothing(&imp, 1);

	itp_probe("sshd", NULL);
	itp_run(&r, FORGED_TOKEN, "sshd", "root", "authenticate", NULL);
	cr_assert_eq(itp_rc(r.out, "authenticate", 0), PAM_AUTHINFO_UNAVAIL,
	    "stdout:\n%s\nstderr:\n%s", r.out, r.err);
	it_assert_has(r.err, it_printf("apikeyd unavailable at %s: %s (user "
	    "'root' service sshd", sock, untrusted));
	assert_told_nothing(&imp, 0);

	impostor_stop(&imp);
}

Test(trust, only_the_daemon_user_makes_another_uid_trusted)
{
	/*
	 * The control of the test above, and what the old library did for
	 * anyone: the same impostor, named by APIKEY_DAEMON_USER, is believed
	 * and logs root in with the forged token, so the uid check alone
	 * stopped it there. Then the name goes; the impostor hung up after
	 * its answer, and the client's next call connects again and is
	 * refused with the reason in apikey_last_error(). Before the fix that
	 * call got VALID again.
	 */
	const char		*sock = world_writable_sock_dir();
	struct apikey_client	*c = NULL;
	struct apikey_result	*res = NULL;
	struct impostor		 imp;
	struct imp_conn		 rec;

	it_note_token(FORGED_TOKEN);
	impostor_start(&imp, sock, "alice");
	cr_assert_eq(setenv("APIKEY_DAEMON_USER", "alice", 1), 0);

	cr_assert_eq(apikey_open(sock, 2000, &c), 0);
	res = it_verify_on(c, FORGED_TOKEN, NULL);
	cr_assert_eq(apikey_result_code(res), APIKEY_VALID);
	cr_assert_eq(apikey_result_owner_kind(res), APIKEY_OWNER_USER);
	cr_assert_eq(apikey_result_uid(res), 0);
	cr_assert_eq(apikey_authorize_user(res, "root"), 0);
	apikey_result_free(res);
	rec = impostor_next(&imp);
	cr_assert(rec.sock == 0 && rec.frames == 1 && rec.bytes > 0);

	itp_probe("sshd", NULL);
	cr_assert_eq(itp_auth("sshd", "root", FORGED_TOKEN), PAM_SUCCESS);
	rec = impostor_next(&imp);
	cr_assert(rec.sock == 0 && rec.frames == 1 && rec.bytes > 0);

	cr_assert_eq(unsetenv("APIKEY_DAEMON_USER"), 0);
	res = NULL;
	cr_assert_eq(apikey_verify(c, FORGED_TOKEN, NULL, &res),
	    APIKEY_EUNTRUSTED);
	cr_assert_null(res);
	cr_assert_str_eq(apikey_last_error(c), it_printf("%s/verify.sock is "
	    "served by uid %u, not root or the daemon user", sock,
	    (unsigned)it_uid("alice")));
	assert_told_nothing(&imp, 0);
	cr_assert_eq(itp_auth("sshd", "root", FORGED_TOKEN),
	    PAM_AUTHINFO_UNAVAIL);
	assert_told_nothing(&imp, 0);
	apikey_close(c);
	impostor_stop(&imp);
}
