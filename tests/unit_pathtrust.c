/*
 * unit_pathtrust.c - who could change what a path names (common/
 * pathtrust.c). Runs as root, as the test suite does: each test builds a
 * small tree in a fresh root 0755 directory under /tmp, hands parts of it
 * to another uid, and checks the walk's verdict and its exact reason.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../common/pathtrust.h"
#include "unitlib.h"

#define OTHER	10001
#define DAEMON	10002

static char	top[64];
static char	err[512];

static void
setup(void)
{
	cr_assert_eq(geteuid(), 0, "these tests build trees for other uids");
	strcpy(top, "/tmp/unit_pathtrust.XXXXXX");
	cr_assert_not_null(mkdtemp(top), "mkdtemp: %s", strerror(errno));
	cr_assert_eq(chmod(top, 0755), 0);
	err[0] = '\0';
}

static void
teardown(void)
{
	unit_rmtree(top);
}

TestSuite(pathtrust, .init = setup, .fini = teardown);

/* top/rel as a directory of owner with mode; returns its path. */
static const char *
dir(const char *rel, uid_t owner, mode_t mode)
{
	static char	paths[8][128];
	static int	n;
	char		*p = paths[n++ % 8];

	snprintf(p, 128, "%s/%s", top, rel);
	cr_assert(mkdir(p, mode) == 0 || errno == EEXIST, "mkdir %s", p);
	cr_assert_eq(chown(p, owner, owner), 0);
	cr_assert_eq(chmod(p, mode), 0);
	return p;
}

static void
link_as(const char *target, const char *rel, uid_t owner)
{
	char	p[128];

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	cr_assert_eq(symlink(target, p), 0, "symlink %s", p);
	cr_assert_eq(lchown(p, owner, owner), 0);
}

static void
refused(const char *path, uid_t uid, int flags, const char *why)
{
	cr_expect_eq(pathtrust_walk(path, uid, flags, err, sizeof(err)), -1,
	    "%s accepted", path);
	cr_expect_str_eq(err, why);
}

static void
trusted(const char *path, uid_t uid, int flags)
{
	cr_expect_eq(pathtrust_walk(path, uid, flags, err, sizeof(err)), 0,
	    "%s: %s", path, err);
}

static const char *
msg(const char *fmt, ...)
{
	static char	buf[4][512];
	static int	n;
	char		*b = buf[n++ % 4];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(b, 512, fmt, ap);
	va_end(ap);
	return b;
}

Test(pathtrust, root_and_the_uid_may_own_the_way)
{
	const char *run = dir("a", 0, 0755), *d;

	trusted(run, DAEMON, 0);
	d = dir("a/run", DAEMON, 0755);
	trusted(d, DAEMON, 0);
	refused(d, OTHER, 0, msg("%s is owned by uid %u; every directory and "
	    "link on the way must belong to root or to uid %u", d, DAEMON,
	    OTHER));
}

Test(pathtrust, writable_directories_stop_the_walk)
{
	const char *b = dir("b", 0, 0775), *d = dir("b/run", DAEMON, 0755);

	refused(d, DAEMON, 0, msg("%s is writable by group or others (mode "
	    "0775), so its contents could be swapped", b));
	dir("b", 0, 0757);
	refused(d, DAEMON, PATHTRUST_STICKY_UID, msg("%s is writable by group "
	    "or others (mode 0757), so its contents could be swapped", b));
}

/*
 * /tmp, and any sticky directory others may write: an entry of root's
 * below it is safe; one of the uid's only when the uid is the one asking
 * for itself (the daemon), not when the uid's ownership is the question
 * (libapikey wondering whether the uid's directory is the daemon's).
 */
Test(pathtrust, sticky_directories_need_an_owned_entry)
{
	const char *t = dir("t", 0, 01777);
	const char *mine = dir("t/mine", DAEMON, 0755);
	const char *roots = dir("t/roots", 0, 0755);
	const char *below = dir("t/roots/run", DAEMON, 0755);
	const char *theirs = dir("t/theirs", OTHER, 0755);

	trusted(mine, DAEMON, PATHTRUST_STICKY_UID);
	refused(mine, DAEMON, 0, msg("%s is in a directory anyone may write "
	    "to, so uid %u may have made it", mine, DAEMON));
	trusted(roots, DAEMON, 0);
	trusted(below, DAEMON, 0);
	refused(theirs, DAEMON, PATHTRUST_STICKY_UID, msg("%s is owned by uid "
	    "%u; every directory and link on the way must belong to root or "
	    "to uid %u", theirs, OTHER, DAEMON));
	cr_expect_str_eq(t + strlen(top), "/t");
}

/* A link is followed, and where it leads is walked from / again. */
Test(pathtrust, links_are_walked_through)
{
	char	 p[128];

	dir("real", 0, 0755);
	dir("real/run", DAEMON, 0755);
	snprintf(p, sizeof(p), "%s/real", top);
	link_as(p, "byroot", 0);
	snprintf(p, sizeof(p), "%s/byroot/run", top);
	trusted(p, DAEMON, 0);

	snprintf(p, sizeof(p), "%s/real", top);
	link_as(p, "byother", OTHER);
	snprintf(p, sizeof(p), "%s/byother/run", top);
	refused(p, DAEMON, 0, msg("%s/byother is owned by uid %u; every "
	    "directory and link on the way must belong to root or to uid %u",
	    top, OTHER, DAEMON));

	/* Root's link into a directory others may write. */
	dir("open", 0, 0777);
	dir("open/run", DAEMON, 0755);
	snprintf(p, sizeof(p), "%s/open", top);
	link_as(p, "toopen", 0);
	snprintf(p, sizeof(p), "%s/toopen/run", top);
	refused(p, DAEMON, 0, msg("%s/open is writable by group or others "
	    "(mode 0777), so its contents could be swapped", top));
}

Test(pathtrust, bad_paths)
{
	char	 p[128];

	refused("relative/dir", DAEMON, 0, "relative/dir: not an absolute "
	    "path");
	snprintf(p, sizeof(p), "%s/missing", top);
	refused(p, DAEMON, 0, msg("%s: No such file or directory", p));
	snprintf(p, sizeof(p), "%s/file", top);
	cr_assert_eq(close(creat(p, 0644)), 0);
	refused(p, DAEMON, 0, msg("%s is not a directory", p));
}
