/*
 * it_install.c - `make install` and `make uninstall`, run as the Debian
 * packages run them (PREFIX=/usr, DESTDIR a temporary directory): the
 * exact files, links and modes installed, ExecStart of the installed
 * service, `systemd-analyze verify` of the installed units, mandoc and
 * groff lint of the installed man pages, a config the administrator
 * edited surviving a second install and an uninstall, and an uninstall
 * that leaves only empty directories. Also the layout of a PREFIX other
 * than /usr, and the front-ends (pam_apikey.so, examples/verify_key.c)
 * built from nothing but the installed header and library.
 *
 * Nothing here touches the machine outside its temporary directory, and
 * no daemon is started. make runs in the source tree with B= the build
 * directory the tests were built in ($APIKEY_BUILD), so nothing is built
 * anew; a test binary built with AddressSanitizer passes SAN=1 as well.
 * The children get this process's environment without nss_wrapper and
 * without the make variables of an enclosing `make check`.
 *
 * A missing lint tool (systemd-analyze, mandoc, groff) skips its test,
 * except under CI (CI set), where it fails: scripts/deps.sh installs them.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

/* Paths of the installed files, relative to DESTDIR, before expansion. */
struct expect {
	const char	*path;
	char		 type;		/* 'f' file, 'l' symbolic link */
	mode_t		 mode;		/* files only */
	const char	*target;	/* links only */
};

/*
 * Everything `make install PREFIX=/usr` installs, and nothing else.
 * {lib} is /usr/lib/MULTIARCH; {pam}, {unit}, {sysusers} and {tmpfiles}
 * are the directories the pkg-config files of libpam and systemd name
 * (see set_dirs()), as the Makefile derives them.
 */
static const struct expect installed[] = {
	{ "etc/apikeyd/apikeyd.conf", 'f', 0644, NULL },
	{ "usr/bin/apikeyctl", 'f', 0755, NULL },
	{ "usr/sbin/apikeyd", 'f', 0755, NULL },
	{ "usr/include/apikey.h", 'f', 0644, NULL },
	{ "{lib}/libapikey.so.1", 'f', 0644, NULL },
	{ "{lib}/libapikey.so", 'l', 0, "libapikey.so.1" },
	{ "{lib}/pkgconfig/apikey.pc", 'f', 0644, NULL },
	{ "{pam}/pam_apikey.so", 'f', 0644, NULL },
	{ "usr/share/pam-configs/apikey", 'f', 0644, NULL },
	{ "usr/share/apikeyd/schema.sql", 'f', 0644, NULL },
	{ "{unit}/apikeyd.service", 'f', 0644, NULL },
	{ "{unit}/apikeyd.socket", 'f', 0644, NULL },
	{ "{unit}/apikeyd-admin.socket", 'f', 0644, NULL },
	{ "{unit}/apikeyd.service.d/network.conf", 'f', 0644, NULL },
	{ "{sysusers}/apikeyd.conf", 'f', 0644, NULL },
	{ "{tmpfiles}/apikeyd.conf", 'f', 0644, NULL },
	{ "usr/share/man/man3/libapikey.3", 'f', 0644, NULL },
	{ "usr/share/man/man5/apikeyd.conf.5", 'f', 0644, NULL },
	{ "usr/share/man/man8/apikeyctl.8", 'f', 0644, NULL },
	{ "usr/share/man/man8/apikeyd.8", 'f', 0644, NULL },
	{ "usr/share/man/man8/pam_apikey.8", 'f', 0644, NULL },
};
#define NINSTALLED	(sizeof(installed) / sizeof(installed[0]))

/* Installed file -> its source in the tree ("B/" is the build directory). */
static const char *const sources[][2] = {
	{ "etc/apikeyd/apikeyd.conf", "etc/apikeyd.conf" },
	{ "usr/bin/apikeyctl", "B/apikeyctl" },
	{ "usr/sbin/apikeyd", "B/apikeyd" },
	{ "usr/include/apikey.h", "libclient/apikey.h" },
	{ "{lib}/libapikey.so.1", "B/libapikey.so.1" },
	{ "{pam}/pam_apikey.so", "B/pam_apikey.so" },
	{ "usr/share/pam-configs/apikey", "pam_module/pam-configs/apikey" },
	{ "usr/share/apikeyd/schema.sql", "sql/schema.sql" },
	{ "{unit}/apikeyd.socket", "systemd/apikeyd.socket" },
	{ "{unit}/apikeyd-admin.socket", "systemd/apikeyd-admin.socket" },
	{ "{unit}/apikeyd.service.d/network.conf",
	    "systemd/apikeyd.service.d/network.conf" },
	{ "{sysusers}/apikeyd.conf", "systemd/apikeyd.sysusers" },
	{ "{tmpfiles}/apikeyd.conf", "systemd/apikeyd.tmpfiles" },
	{ "usr/share/man/man3/libapikey.3", "man/libapikey.3" },
	{ "usr/share/man/man5/apikeyd.conf.5", "man/apikeyd.conf.5" },
	{ "usr/share/man/man8/apikeyctl.8", "man/apikeyctl.8" },
	{ "usr/share/man/man8/apikeyd.8", "man/apikeyd.8" },
	{ "usr/share/man/man8/pam_apikey.8", "man/pam_apikey.8" },
};

static struct {
	char		 root[PATH_MAX];	/* temporary directory */
	char		 src[PATH_MAX];		/* source tree, make's cwd */
	char		 build[PATH_MAX];	/* absolute build directory */
	const char	*b;			/* B= as given to make */
	const char	*lib, *pam, *unit, *sysusers, *tmpfiles;
	int		 n;			/* DESTDIRs made so far */
} t;

struct run {
	int		 status;	/* exit status, 128 + signal if killed */
	const char	*out, *err;	/* harness-owned */
};

/*
 * The children's environment: ours without nss_wrapper and without what
 * an enclosing make or the caller's shell would pass to our make, and in
 * the C locale, so the lint tools speak plainly.
 */
static const char *const env_drop[] = {
	"LD_PRELOAD", "NSS_WRAPPER_PASSWD", "NSS_WRAPPER_GROUP", "MAKEFLAGS",
	"MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS", "PREFIX",
	"DESTDIR", "B", "SAN", "LC_ALL=C", NULL,
};

/*
 * Runs argv (argv[0] found through PATH) in the source tree with the
 * environment it_make_env(set) makes (set NULL: env_drop), output into
 * files of the root. Returns the exit status; 127 if the program could
 * not be run.
 */
static int
run_env(struct run *r, const char *const *set, const char *const *argv)
{
	const char *out = it_printf("%s/run.%d.out", t.root, (int)getpid());
	const char *err = it_printf("%s/run.%d.err", t.root, (int)getpid());
	char **env = it_make_env(set != NULL ? set : env_drop);
	char *av[16] = { NULL };
	int status, fd;
	size_t n = 0;
	pid_t pid;

	while (argv[n] != NULL)
		n++;
	cr_assert(n < sizeof(av) / sizeof(av[0]), "too many arguments");

	pid = fork();
	cr_assert(pid != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (chdir(t.src) == -1)
			_exit(127);
		if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(fd, 0) == -1)
			_exit(127);
		if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600)) ==
		    -1 || dup2(fd, 1) == -1)
			_exit(127);
		if ((fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600)) ==
		    -1 || dup2(fd, 2) == -1)
			_exit(127);
		memcpy(av, argv, n * sizeof(av[0]));
		execvpe(av[0], av, env);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	it_free_env(env);
	while (waitpid(pid, &status, 0) == -1)
		cr_assert(errno == EINTR, "waitpid: %s", strerror(errno));
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
	r->out = it_read_file(out, NULL);
	r->err = it_read_file(err, NULL);
	return r->status;
}

static int
run(struct run *r, const char *const *argv)
{
	return run_env(r, NULL, argv);
}

/* Whether an executable named prog is on PATH. */
static int
have(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	int found = 0;

	if (path == NULL)
		path = "/usr/bin:/bin";
	copy = strdup(path);
	cr_assert_not_null(copy, "out of memory");
	for (dir = strtok_r(copy, ":", &save); dir != NULL && !found;
	    dir = strtok_r(NULL, ":", &save))
		found = access(it_printf("%s/%s", dir, prog), X_OK) == 0;
	free(copy);
	return found;
}

/* Skips the test when prog is missing, unless under CI: then it fails. */
static void
need(const char *prog, const char *package)
{
	if (have(prog))
		return;
	if (getenv("CI") != NULL)
		cr_assert_fail("%s is missing (Debian package %s; "
		    "scripts/deps.sh test installs it)", prog, package);
	cr_skip_test("%s is not installed (Debian package %s)", prog,
	    package);
}

/* The first line of what a command prints, or "" when it fails. */
static const char *
first_line(const char *const *argv)
{
	struct run r;
	char *nl;

	if (run(&r, argv) != 0)
		return "";
	nl = strchr(r.out, '\n');
	return nl == NULL ? r.out : it_keep(strndup(r.out, (size_t)(nl -
	    r.out)));
}

static const char *
strip_slash(const char *dir)
{
	return *dir == '/' ? dir + 1 : dir;
}

/*
 * The directories of the PREFIX=/usr layout, found the way the Makefile
 * finds them: the multiarch triplet from dpkg-architecture, else the
 * compiler; the PAM directory from libpam's pkg-config file, else
 * LIBDIR/security; units, sysusers and tmpfiles from systemd's.
 */
static void
set_dirs(void)
{
	static const char *const dpkg[] = { "dpkg-architecture",
	    "-qDEB_HOST_MULTIARCH", NULL };
	static const char *const cc[] = { "cc", "-print-multiarch", NULL };
	static const char *const pam[] = { "pkg-config", "--variable=libdir",
	    "pam", NULL };
	static const char *const unit[] = { "pkg-config",
	    "--variable=systemdsystemunitdir", "systemd", NULL };
	static const char *const users[] = { "pkg-config",
	    "--variable=sysusersdir", "systemd", NULL };
	static const char *const tmpf[] = { "pkg-config",
	    "--variable=tmpfilesdir", "systemd", NULL };
	const char *ma = first_line(dpkg), *v;

	if (*ma == '\0')
		ma = first_line(cc);
	t.lib = *ma != '\0' ? it_printf("usr/lib/%s", ma) : "usr/lib";
	v = first_line(pam);
	t.pam = *v != '\0' ? it_printf("%s/security", strip_slash(v)) :
	    it_printf("%s/security", t.lib);
	v = first_line(unit);
	t.unit = *v != '\0' ? strip_slash(v) : "usr/lib/systemd/system";
	v = first_line(users);
	t.sysusers = *v != '\0' ? strip_slash(v) : "usr/lib/sysusers.d";
	v = first_line(tmpf);
	t.tmpfiles = *v != '\0' ? strip_slash(v) : "usr/lib/tmpfiles.d";
}

/* A path of the tables above with its {dir} expanded. */
static const char *
expand(const char *path)
{
	static const char *const names[] = { "{lib}", "{pam}", "{unit}",
	    "{sysusers}", "{tmpfiles}" };
	const char *dirs[] = { t.lib, t.pam, t.unit, t.sysusers, t.tmpfiles };
	size_t i, n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = strlen(names[i]);
		if (strncmp(path, names[i], n) == 0)
			return it_printf("%s%s", dirs[i], path + n);
	}
	return path;
}

static void
setup(void)
{
	char tmpl[] = "/tmp/apikey-install.XXXXXX";
	size_t n;

	snprintf(t.build, sizeof(t.build), "%s", it_build_dir());
	/* The source tree: the current directory, as under `make check`,
	 * else the build directory's parent. */
	cr_assert_not_null(getcwd(t.src, sizeof(t.src)), "getcwd: %s",
	    strerror(errno));
	if (access("Makefile", R_OK) != 0 ||
	    access("libclient/apikey.pc.in", R_OK) != 0) {
		snprintf(t.src, sizeof(t.src), "%s", t.build);
		*strrchr(t.src, '/') = '\0';
	}
	n = strlen(t.src);
	t.b = strncmp(t.build, t.src, n) == 0 && t.build[n] == '/' ?
	    it_printf("%s", t.build + n + 1) : t.build;
	cr_assert_not_null(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
	snprintf(t.root, sizeof(t.root), "%s", tmpl);
	set_dirs();
}

static void
teardown(void)
{
	if (t.root[0] != '\0' && getenv("APIKEY_IT_KEEP") == NULL)
		it_rm_tree(t.root);
	else if (t.root[0] != '\0')
		fprintf(stderr, "it_install: kept %s\n", t.root);
}

TestSuite(install, .init = setup, .fini = teardown, .timeout = 300);

/* A fresh DESTDIR under the root. */
static const char *
new_destdir(void)
{
	const char *d = it_printf("%s/dest%d", t.root, ++t.n);

	cr_assert(mkdir(d, 0755) == 0, "mkdir %s: %s", d, strerror(errno));
	return d;
}

/*
 * make TARGET B=... PREFIX=prefix DESTDIR=dest, one at a time per build
 * directory (Criterion runs the tests in parallel; should anything need
 * making, two makes must not write the same file at once).
 */
static int
make(struct run *r, const char *target, const char *prefix, const char *dest)
{
	const char *argv[] = { "make", "--no-print-directory", target,
	    it_printf("B=%s", t.b), it_printf("PREFIX=%s", prefix),
	    it_printf("DESTDIR=%s", dest),
#ifdef __SANITIZE_ADDRESS__
	    "SAN=1",
#endif
	    NULL };
	int fd, status;

	fd = open(t.build, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert(fd != -1, "open %s: %s", t.build, strerror(errno));
	cr_assert(flock(fd, LOCK_EX) == 0, "flock: %s", strerror(errno));
	status = run(r, argv);
	close(fd);
	return status;
}

/* make install PREFIX=/usr into a new DESTDIR; asserts success. */
static const char *
install_usr(void)
{
	const char *dest = new_destdir();
	struct run r;

	cr_assert_eq(make(&r, "install", "/usr", dest), 0,
	    "make install failed (%d):\n%s\n%s", r.status, r.out, r.err);
	return dest;
}

/* --- walking a DESTDIR ---------------------------------------------------- */

static struct {
	const char	*base;
	size_t		 nbase;
	char		*names[256];	/* "f path", "l path", "d path" */
	size_t		 n;
	int		 overflow;
} walk;

static int
walk_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	char type = S_ISDIR(st->st_mode) ? 'd' : S_ISLNK(st->st_mode) ? 'l' :
	    S_ISREG(st->st_mode) ? 'f' : '?';

	(void)flag;
	if (f->level == 0)
		return 0;
	if (walk.n == sizeof(walk.names) / sizeof(walk.names[0])) {
		walk.overflow = 1;
		return 1;
	}
	walk.names[walk.n++] = it_keep(strdup(it_printf("%c %s", type,
	    path + walk.nbase + 1)));
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every entry under dest as "TYPE relative/path", sorted. */
static void
walk_tree(const char *dest)
{
	memset(&walk, 0, sizeof(walk));
	walk.base = dest;
	walk.nbase = strlen(dest);
	cr_assert_eq(nftw(dest, walk_entry, 16, FTW_PHYS), 0,
	    "walking %s failed%s", dest, walk.overflow ? ": too many" : "");
	qsort(walk.names, walk.n, sizeof(walk.names[0]), cmp_str);
}

static const char *
joined(char **list, size_t n)
{
	const char *s = "";
	size_t i;

	for (i = 0; i < n; i++)
		s = it_printf("%s  %s\n", s, list[i]);
	return s;
}

static const char *
in_tree(const char *dest, const char *rel)
{
	return it_printf("%s/%s", dest, rel);
}

static void
assert_same_file(const char *a, const char *b)
{
	size_t na, nb;
	const char *da = it_read_file(a, &na), *db = it_read_file(b, &nb);

	cr_assert(na == nb && memcmp(da, db, na) == 0, "%s differs from %s",
	    a, b);
}

/* The source in the tree of an installed file, or NULL. */
static const char *
source_of(const char *rel)
{
	size_t i;

	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (strcmp(expand(sources[i][0]), rel) == 0)
			return strncmp(sources[i][1], "B/", 2) == 0 ?
			    it_printf("%s/%s", t.build, sources[i][1] + 2) :
			    it_printf("%s/%s", t.src, sources[i][1]);
	return NULL;
}

/* text with every from replaced by to; harness-owned. */
static const char *
replace_all(const char *text, const char *from, const char *to)
{
	const char *out = "", *p;

	while ((p = strstr(text, from)) != NULL) {
		out = it_printf("%s%.*s%s", out, (int)(p - text), text, to);
		text = p + strlen(from);
	}
	return it_printf("%s%s", out, text);
}

/* --- the tests -------------------------------------------------------------- */

Test(install, files_links_and_modes)
{
	const char *dest = install_usr(), *svc, *pc, *src;
	char *want[NINSTALLED], *got[256];
	size_t i, ngot = 0;
	struct stat st;
	char link[PATH_MAX];
	ssize_t n;

	for (i = 0; i < NINSTALLED; i++)
		want[i] = it_keep(strdup(it_printf("%c %s",
		    installed[i].type, expand(installed[i].path))));
	qsort(want, NINSTALLED, sizeof(want[0]), cmp_str);
	walk_tree(dest);
	for (i = 0; i < walk.n; i++) {
		if (walk.names[i][0] == 'd') {
			cr_assert_eq(lstat(in_tree(dest, walk.names[i] + 2),
			    &st), 0);
			cr_assert_eq(st.st_mode & 07777, 0755, "directory %s "
			    "is mode %04o", walk.names[i] + 2,
			    st.st_mode & 07777);
		} else
			got[ngot++] = walk.names[i];
	}
	cr_assert_str_eq(joined(got, ngot), joined(want, NINSTALLED),
	    "installed files differ from the expected list; installed:\n%s"
	    "expected:\n%s", joined(got, ngot), joined(want, NINSTALLED));

	for (i = 0; i < NINSTALLED; i++) {
		const char *rel = expand(installed[i].path);
		const char *p = in_tree(dest, rel);

		cr_assert_eq(lstat(p, &st), 0, "%s: %s", p, strerror(errno));
		if (installed[i].type == 'l') {
			n = readlink(p, link, sizeof(link) - 1);
			cr_assert(n > 0, "readlink %s", p);
			link[n] = '\0';
			cr_assert_str_eq(link, installed[i].target, "%s", rel);
			continue;
		}
		cr_assert_eq(st.st_mode & 07777, installed[i].mode,
		    "%s is mode %04o, expected %04o", rel, st.st_mode & 07777,
		    installed[i].mode);
		if ((src = source_of(rel)) != NULL)
			assert_same_file(p, src);
	}

	/* ExecStart names the installed daemon; nothing else changed. */
	svc = it_read_file(in_tree(dest, it_printf("%s/apikeyd.service",
	    t.unit)), NULL);
	it_assert_has(svc, "\nExecStart=/usr/sbin/apikeyd --foreground\n");
	src = it_read_file(it_printf("%s/systemd/apikeyd.service", t.src),
	    NULL);
	cr_assert_str_eq(svc, replace_all(src, "@SBINDIR@", "/usr/sbin"),
	    "apikeyd.service differs from its source beyond @SBINDIR@");

	/* apikey.pc is made for the installed directories. */
	pc = it_read_file(in_tree(dest, it_printf("%s/pkgconfig/apikey.pc",
	    t.lib)), NULL);
	it_assert_has(pc, "prefix=/usr\n");
	it_assert_has(pc, it_printf("libdir=/%s\n", t.lib));
	it_assert_has(pc, "includedir=/usr/include\n");
	it_assert_lacks(pc, "@");
}

Test(install, units_pass_systemd_analyze_verify)
{
	const char *dest, *units, *from, *svc;
	static const char *const names[] = { "apikeyd.service",
	    "apikeyd.socket", "apikeyd-admin.socket",
	    "apikeyd.service.d/network.conf" };
	const char *argv[] = { "systemd-analyze", "verify", "--man=no",
	    "apikeyd.service", "apikeyd.socket", "apikeyd-admin.socket",
	    NULL };
	const char *set[32];
	struct run r;
	size_t i, n = 0;
	FILE *f;

	need("systemd-analyze", "systemd");
	dest = install_usr();
	/* The units as installed, but with ExecStart naming the daemon in
	 * DESTDIR: verify checks that the program exists. */
	units = it_printf("%s/units", t.root);
	cr_assert_eq(mkdir(units, 0755), 0);
	cr_assert_eq(mkdir(it_printf("%s/apikeyd.service.d", units), 0755), 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		from = it_read_file(in_tree(dest, it_printf("%s/%s", t.unit,
		    names[i])), NULL);
		if (strcmp(names[i], "apikeyd.service") == 0) {
			svc = strstr(from, "\nExecStart=/usr/sbin/apikeyd ");
			cr_assert_not_null(svc, "no ExecStart=/usr/sbin/apikeyd");
			from = it_printf("%.*s\nExecStart=%s/usr/sbin/apikeyd %s",
			    (int)(svc - from), from, dest, svc +
			    strlen("\nExecStart=/usr/sbin/apikeyd "));
		}
		f = fopen(it_printf("%s/%s", units, names[i]), "w");
		cr_assert_not_null(f);
		cr_assert(fputs(from, f) >= 0 && fclose(f) == 0);
	}
	for (i = 0; env_drop[i] != NULL; i++)
		set[n++] = env_drop[i];
	/* The trailing colon keeps systemd's own unit directories. */
	set[n++] = it_printf("SYSTEMD_UNIT_PATH=%s:", units);
	set[n] = NULL;
	run_env(&r, set, argv);
	cr_assert_eq(r.status, 0, "systemd-analyze verify: exit %d\n%s%s",
	    r.status, r.out, r.err);
	cr_assert_str_empty(r.err, "systemd-analyze verify says:\n%s", r.err);
	cr_assert_str_empty(r.out, "systemd-analyze verify says:\n%s", r.out);
}

Test(install, man_pages_pass_mandoc_and_groff)
{
	const char *dest, *page;
	struct run r;
	size_t i, pages = 0;

	need("mandoc", "mandoc");
	need("groff", "groff-base");
	dest = install_usr();
	for (i = 0; i < NINSTALLED; i++) {
		if (strncmp(installed[i].path, "usr/share/man/", 14) != 0)
			continue;
		page = in_tree(dest, installed[i].path);
		pages++;
		if (access(page, F_OK) != 0) {
			cr_expect_fail("%s is not installed", installed[i].path);
			continue;
		}
		{
			const char *mandoc[] = { "mandoc", "-T", "lint", "-W",
			    "warning", page, NULL };
			/* -t: tbl, as man(1) runs it for pages with tables. */
			const char *groff[] = { "groff", "-t", "-ww", "-z",
			    "-man", page, NULL };

			run(&r, mandoc);
			cr_expect(r.status == 0 && *r.out == '\0' &&
			    *r.err == '\0', "mandoc -T lint -W warning %s: "
			    "exit %d\n%s%s", installed[i].path, r.status,
			    r.out, r.err);
			run(&r, groff);
			cr_expect(r.status == 0 && *r.out == '\0' &&
			    *r.err == '\0', "groff -t -ww -z -man %s: exit "
			    "%d\n%s%s", installed[i].path, r.status, r.out,
			    r.err);
		}
	}
	cr_assert_eq(pages, 5, "expected 5 man pages in the list");
}

Test(install, second_install_keeps_an_edited_config)
{
	const char *dest = install_usr(), *conf, *edited, *shipped;
	struct run r;
	size_t i;

	conf = in_tree(dest, "etc/apikeyd/apikeyd.conf");
	shipped = it_read_file(it_printf("%s/etc/apikeyd.conf", t.src), NULL);

	/* Unchanged: a second install has nothing to say about it. */
	cr_assert_eq(make(&r, "install", "/usr", dest), 0, "%s", r.err);
	cr_assert(access(it_printf("%s.new", conf), F_OK) == -1,
	    "apikeyd.conf.new written beside an unchanged config");

	edited = it_printf("%s# edited by it_install\nlog_level = debug\n",
	    shipped);
	{
		FILE *f = fopen(conf, "w");

		cr_assert_not_null(f);
		cr_assert(fputs(edited, f) >= 0 && fclose(f) == 0);
	}
	cr_assert_eq(make(&r, "install", "/usr", dest), 0, "%s", r.err);
	cr_assert_str_eq(it_read_file(conf, NULL), edited,
	    "make install replaced an edited apikeyd.conf");
	cr_assert_str_eq(it_read_file(it_printf("%s.new", conf), NULL),
	    shipped, "apikeyd.conf.new is not the shipped config");
	it_assert_has(r.out, it_printf("NOTE: %s exists and was kept; the "
	    "new default is %s.new", conf, conf));

	/* Uninstall keeps it too, and removes the .new it installed. */
	cr_assert_eq(make(&r, "uninstall", "/usr", dest), 0, "%s", r.err);
	cr_assert_str_eq(it_read_file(conf, NULL), edited,
	    "make uninstall removed an edited apikeyd.conf");
	cr_assert(access(it_printf("%s.new", conf), F_OK) == -1,
	    "make uninstall left apikeyd.conf.new");
	it_assert_has(r.out, it_printf("NOTE: %s differs from "
	    "etc/apikeyd.conf: kept", conf));
	walk_tree(dest);
	for (i = 0; i < walk.n; i++)
		cr_expect(walk.names[i][0] == 'd' || strcmp(walk.names[i],
		    "f etc/apikeyd/apikeyd.conf") == 0, "make uninstall left "
		    "%s", walk.names[i] + 2);
}

Test(install, uninstall_leaves_only_empty_directories)
{
	const char *dest = install_usr();
	struct run r;
	size_t i;

	cr_assert_eq(make(&r, "uninstall", "/usr", dest), 0,
	    "make uninstall failed (%d):\n%s\n%s", r.status, r.out, r.err);
	walk_tree(dest);
	for (i = 0; i < walk.n; i++)
		cr_expect_eq(walk.names[i][0], 'd', "make uninstall left %s",
		    walk.names[i] + 2);
	/* The project's own directories are gone; standard ones stay. */
	cr_assert(access(in_tree(dest, "etc/apikeyd"), F_OK) == -1,
	    "etc/apikeyd is still there");
	cr_assert(access(in_tree(dest, it_printf("%s/apikeyd.service.d",
	    t.unit)), F_OK) == -1, "apikeyd.service.d is still there");
	cr_assert(access(in_tree(dest, "usr/sbin"), F_OK) == 0);
}

static void
write_file(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert(fputs(text, f) >= 0 && fclose(f) == 0);
}

Test(install, uninstall_keeps_a_module_pam_still_uses)
{
	/*
	 * After `pam-auth-update --enable apikey` and a `make uninstall`
	 * that removed the module, every account check would fail, root's
	 * included. So uninstall removes nothing while a PAM file uses the
	 * module, and says which file.
	 */
	const char *dest = install_usr(), *pamd, *acct;
	const char *module = in_tree(dest, it_printf("%s/pam_apikey.so",
	    t.pam));
	struct run r;

	pamd = in_tree(dest, "etc/pam.d");
	cr_assert_eq(mkdir(pamd, 0755), 0, "mkdir %s: %s", pamd,
	    strerror(errno));
	acct = it_printf("%s/common-account", pamd);
	write_file(acct, "account\t[success=1 default=ignore]\tpam_unix.so\n"
	    "account\trequired\tpam_apikey.so\n");
	cr_assert_eq(make(&r, "uninstall", "/usr", dest), 2, "%s\n%s",
	    r.out, r.err);
	/* make adds its own last line, naming the Makefile's line. */
	cr_assert_eq(strncmp(r.err, it_printf("make uninstall: PAM still uses "
	    "pam_apikey.so in:\n%s\ntake it out of them first: a PAM stack "
	    "that names a missing module fails every login. Nothing was "
	    "removed.\nmake: *** [Makefile:", acct), strlen(it_printf("make "
	    "uninstall: PAM still uses pam_apikey.so in:\n%s\ntake it out of "
	    "them first: a PAM stack that names a missing module fails every "
	    "login. Nothing was removed.\nmake: *** [Makefile:", acct))), 0,
	    "stderr:\n%s", r.err);
	cr_assert_eq(access(module, F_OK), 0, "the module was removed");

	/* A commented line uses nothing. */
	write_file(acct, "account\t[success=1 default=ignore]\tpam_unix.so\n"
	    "# account\trequired\tpam_apikey.so\n");
	cr_assert_eq(make(&r, "uninstall", "/usr", dest), 0, "%s", r.err);
	cr_assert_eq(access(module, F_OK), -1, "the module is still there");
}

/*
 * pam_apikey.so and examples/verify_key.c build against what `make
 * install` installed, as a distribution or a user of libapikey builds
 * them: -I DESTDIR/usr/include and -L DESTDIR/LIBDIR -lapikey, nothing of
 * the tree. The sources are copied out of the tree first, so that an
 * include of "../proto/token.h" or "../libclient/apikey.h" finds nothing,
 * and the module is linked with -Wl,--no-undefined, so that a call of
 * anything libapikey does not export fails the link.
 */
Test(install, front_ends_build_against_the_installed_library)
{
	const char *dest = install_usr();
	const char *dir = it_printf("%s/frontends", t.root);
	const char *inc = in_tree(dest, "usr/include");
	const char *lib = in_tree(dest, t.lib);
#ifdef __SANITIZE_ADDRESS__
	/* The installed library is the sanitized one of this build. */
	const char *san = "-fsanitize=address,undefined";
#else
	const char *san = "";
#endif
	const char *copy[] = { "sh", "-c", "mkdir \"$1/pam\" \"$1/example\" && "
	    "cp pam_module/*.c pam_module/*.h pam_module/pam_apikey.map "
	    "\"$1/pam\" && cp examples/verify_key.c \"$1/example\"", "sh",
	    dir, NULL };
	/* $1 directory, $2 -I, $3 -L, $4 sanitizer flags (maybe none). */
	const char *pam[] = { "sh", "-c", "cd \"$1/pam\" && exec ${CC:-cc} "
	    "-std=c11 -D_GNU_SOURCE -Wall -Werror=implicit-function-declaration "
	    "$4 -fPIC -fvisibility=hidden -shared -I\"$2\" "
	    "-o pam_apikey.so *.c -Wl,--version-script=pam_apikey.map "
	    "-Wl,--no-undefined -L\"$3\" -lapikey -lpam", "sh", dir, inc,
	    lib, san, NULL };
	const char *example[] = { "sh", "-c", "cd \"$1/example\" && exec "
	    "${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall "
	    "-Werror=implicit-function-declaration $4 -I\"$2\" "
	    "-o verify_key verify_key.c -L\"$3\" -lapikey", "sh", dir, inc,
	    lib, san, NULL };
	struct run r;

	cr_assert_eq(mkdir(dir, 0755), 0, "mkdir %s: %s", dir,
	    strerror(errno));
	cr_assert_eq(run(&r, copy), 0, "copying the sources: %s", r.err);
	cr_assert_eq(run(&r, pam), 0, "pam_apikey.so does not build against "
	    "the installed libapikey (exit %d):\n%s%s", r.status, r.out,
	    r.err);
	cr_assert_eq(access(it_printf("%s/pam/pam_apikey.so", dir), F_OK), 0);
	cr_assert_eq(run(&r, example), 0, "examples/verify_key.c does not "
	    "build against the installed libapikey (exit %d):\n%s%s",
	    r.status, r.out, r.err);
	cr_assert_eq(access(it_printf("%s/example/verify_key", dir), X_OK), 0);
}

/* Any other PREFIX keeps everything under it, and the unit names the
 * config file, since the daemon's default is /etc/apikeyd/apikeyd.conf. */
Test(install, other_prefix_keeps_everything_under_it)
{
	const char *dest = new_destdir(), *svc;
	struct run r;
	size_t i;

	cr_assert_eq(make(&r, "install", "/opt/apikeyd", dest), 0,
	    "make install failed (%d):\n%s\n%s", r.status, r.out, r.err);
	walk_tree(dest);
	for (i = 0; i < walk.n; i++)
		cr_assert(strncmp(walk.names[i] + 2, "opt", 3) == 0,
		    "%s installed outside PREFIX", walk.names[i] + 2);
	svc = it_read_file(in_tree(dest,
	    "opt/apikeyd/lib/systemd/system/apikeyd.service"), NULL);
	it_assert_has(svc, "\nExecStart=/opt/apikeyd/sbin/apikeyd --foreground"
	    " -c /opt/apikeyd/etc/apikeyd/apikeyd.conf\n");
	cr_assert_eq(access(in_tree(dest, "opt/apikeyd/etc/apikeyd/"
	    "apikeyd.conf"), F_OK), 0);
	cr_assert_eq(access(in_tree(dest, "opt/apikeyd/lib/libapikey.so.1"),
	    F_OK), 0);
	cr_assert_eq(access(in_tree(dest,
	    "opt/apikeyd/lib/security/pam_apikey.so"), F_OK), 0);
	cr_assert_eq(access(in_tree(dest,
	    "opt/apikeyd/lib/sysusers.d/apikeyd.conf"), F_OK), 0);
	it_assert_has(it_read_file(in_tree(dest,
	    "opt/apikeyd/lib/pkgconfig/apikey.pc"), NULL),
	    "libdir=/opt/apikeyd/lib\n");
}
