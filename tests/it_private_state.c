/*
 * it_private_state.c - the state directory is the daemon's alone. A
 * pepper that group or others may read or write stops apikeyd at
 * start-up, with exit status 1 and the reason as the one line on stderr,
 * before it makes a socket and without repairing the file; and nothing
 * in the state directory is open to anyone but its owner, lock.mdb
 * included.
 *
 * Covered elsewhere and not repeated here: the modes of the directory,
 * data.mdb and the pepper under umask 0 (it_files.c, startup/
 * modes_whatever_the_umask) and 0777 (it_dirs.c, dirs/
 * modes_under_a_restrictive_umask), a loose directory tightened to 0700
 * (dirs/loose_state_dir_is_tightened), and every loose pepper mode,
 * size and link at the function level (unit_keys.c).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

static void
prepare_only(void)
{
	it_prepare(NULL);
}

TestSuite(private_state, .init = prepare_only, .fini = it_teardown,
    .timeout = 90);

static void
assert_mode(const char *path, mode_t type, mode_t mode)
{
	struct stat	 st;

	cr_assert(lstat(path, &st) == 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(st.st_mode & S_IFMT, type, "%s has the wrong type", path);
	cr_assert_eq(st.st_mode & 07777, mode, "%s is mode %04o, expected "
	    "%04o", path, (unsigned)(st.st_mode & 07777), (unsigned)mode);
	cr_assert_eq(st.st_uid, 0, "%s is not root's", path);
}

Test(private_state, pepper_open_to_others_stops_the_daemon)
{
	/*
	 * The pepper keys every stored hash: whoever reads it can test
	 * guesses against a copy of data.mdb offline, and whoever writes it
	 * chooses the key. Any group or other bit is refused rather than
	 * repaired, since it means someone else touched the file.
	 */
	static const mode_t loose[] = { 0640, 0604, 0620, 0602 };
	const char	*args[] = {
		"-f", "-d", "-c", it_conf_path(), "--state-dir", it_state_dir(),
		"--socket-dir", it_sock_dir(), NULL
	};
	const char	*pepper = it_printf("%s/pepper", it_state_dir());
	const char	*line = it_printf("apikeyd: %s: pepper file has the "
	    "wrong type, size, owner or mode\n", pepper);
	const char	*tok, *bytes;
	size_t		 len, off, i;
	int		 st;

	it_start();
	tok = it_key("alice", NULL);
	it_stop();
	bytes = it_read_file(pepper, &len);
	cr_assert_eq(len, 32);
	for (i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
		cr_assert_eq(chmod(pepper, loose[i]), 0);
		off = strlen(it_log());
		it_spawn_daemon(args);
		st = it_wait_daemon_exit(IT_DEADLINE_MS);
		cr_assert_neq(st, -1, "apikeyd runs with a pepper of mode "
		    "%04o", (unsigned)loose[i]);
		cr_assert_eq(st, 1, "apikeyd exited %d with a pepper of mode "
		    "%04o", st, (unsigned)loose[i]);
		cr_assert_str_eq(it_log() + off, line, "mode %04o",
		    (unsigned)loose[i]);
		cr_assert_neq(access(it_printf("%s/verify.sock", it_sock_dir()),
		    F_OK), 0, "mode %04o: a socket was made",
		    (unsigned)loose[i]);
		cr_assert_neq(access(it_printf("%s/admin.sock", it_sock_dir()),
		    F_OK), 0, "mode %04o: a socket was made",
		    (unsigned)loose[i]);
		assert_mode(pepper, S_IFREG, loose[i]);
		cr_assert(memcmp(it_read_file(pepper, NULL), bytes, len) == 0,
		    "the pepper was rewritten");
	}
	/* The mode was the one reason: put right, the same key verifies. */
	cr_assert_eq(chmod(pepper, 0600), 0);
	it_start();
	cr_assert_eq(it_code(tok, NULL), APIKEY_VALID);
}

Test(private_state, nothing_in_the_state_dir_is_open_to_others)
{
	/*
	 * The other tests look at data.mdb and the pepper by name; this
	 * lists the directory, so lock.mdb is checked too (a reader table
	 * others could write would let them pin or corrupt the store's
	 * pages) and so would any file a later change adds. The daemon
	 * makes the store under umask 0, and a restart reopens it.
	 */
	const char	*listing = "";
	struct dirent	**list;
	mode_t		 old = umask(0);
	int		 n, i;

	it_start();
	umask(old);
	it_key("alice", NULL);
	it_restart();
	it_key("bob", NULL);
	assert_mode(it_state_dir(), S_IFDIR, 0700);
	n = scandir(it_state_dir(), &list, NULL, alphasort);
	cr_assert(n >= 0, "scandir: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") != 0 &&
		    strcmp(list[i]->d_name, "..") != 0) {
			listing = it_printf("%s%s ", listing, list[i]->d_name);
			assert_mode(it_printf("%s/%s", it_state_dir(),
			    list[i]->d_name), S_IFREG, 0600);
		}
		free(list[i]);
	}
	free(list);
	cr_assert_str_eq(listing, "data.mdb lock.mdb pepper ");
}
