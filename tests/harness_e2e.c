/*
 * harness_e2e.c - helpers of the end-to-end tests: the servers' NSS files
 * and homes, PAM service files for pam_wrapper, a free port, starting a
 * real server (sshd, vsftpd) and waiting until it listens, running clients
 * (ssh through sshpass, curl) with captured output, and the checks every
 * such test ends with: no sanitizer report, no secret in any file.
 *
 * A test starts one daemon and one server and runs a handful of clients,
 * each in a process of its own (Criterion), so the state is one static
 * struct. Waits poll a condition (the server holds a listening socket, a
 * process exited, the daemon is stopped) against a deadline; a process
 * exit is waited for on a pidfd (harness_proc.c).
 */
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_e2e.h"

#define PORT_ATTEMPTS	5
#define MAX_ENV_SET	16

/* Accounts the servers need besides the fixture users. */
static const char extra_passwd[] =
    "sshd:x:10090:65534:privilege separation:/run/sshd:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
static const char extra_group[] =
    "nogroup:x:65534:\n";

static struct {
	int		 ready;
	const char	*module;
	const char	*san;
	int		 san_known;
	pid_t		 server;
	int		 port;
	const char	*server_log;
	int		 frozen;
	int		 nclient;
} ite;

/* --- processes ------------------------------------------------------------ */

#if defined(__x86_64__)
#define SECCOMP_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH	AUDIT_ARCH_AARCH64
#endif
/* Loads 32 bits of struct seccomp_data at off; compares with k. */
#define BPF_LD_AT(off)	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define BPF_EQ(k, t, f)	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))
#define SD_OFF(field)	offsetof(struct seccomp_data, field)

/*
 * In a child: setrlimit(RLIMIT_AS, ...) fails with EPERM from now on,
 * through exec; reading the limit still works. vsftpd limits its address
 * space to a few hundred MiB and accepts EPERM ("the shell launching
 * vsftpd already has a lower limit"); the ASan runtime has reserved
 * terabytes of shadow memory by then, so under such a limit every later
 * mapping fails.
 */
static int
deny_as_limit(void)
{
#ifdef SECCOMP_ARCH
	/* Jump offsets count from the next instruction. */
	struct sock_filter f[] = {
		/* 0 */ BPF_LD_AT(SD_OFF(arch)),
		/* 1 */ BPF_EQ(SECCOMP_ARCH, 0, 11),
		/* 2 */ BPF_LD_AT(SD_OFF(nr)),
		/* 3 */ BPF_EQ(__NR_setrlimit, 7, 0),
		/* 4 */ BPF_EQ(__NR_prlimit64, 0, 8),
		/* prlimit64(pid, resource, new, old): a get has new == NULL. */
		/* 5 */ BPF_LD_AT(SD_OFF(args[2])),
		/* 6 */ BPF_EQ(0, 0, 2),
		/* 7 */ BPF_LD_AT(SD_OFF(args[2]) + 4),
		/* 8 */ BPF_EQ(0, 4, 0),
		/* 9 */ BPF_LD_AT(SD_OFF(args[1])),
		/* 10 */ BPF_EQ(RLIMIT_AS, 3, 2),
		/* setrlimit(resource, new) */
		/* 11 */ BPF_LD_AT(SD_OFF(args[0])),
		/* 12 */ BPF_EQ(RLIMIT_AS, 1, 0),
		/* 13 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* 14 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog;

	prog.len = sizeof(f) / sizeof(f[0]);
	prog.filter = f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * In a child: a mount namespace of its own whose /tmp is an empty tmpfs
 * holding only the directories the server needs, bind-mounted: the test
 * root and, when it lies in /tmp (a CI clone may), the directory of
 * pam_apikey.so. Our servers run under pam_wrapper, which copies the PAM
 * files into /tmp/pam.X, X one of 62 characters, and two processes
 * starting at the same time can pick the same X: then one reads the
 * other's PAM files, and so another test's socket. With /tmp private, the
 * copies of one server never meet another's, and vanish with it. Without
 * the rights to do so (a container), the server shares /tmp; says so on
 * stderr.
 */
static int
mkdir_p(char *path)
{
	char	*p;

	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return mkdir(path, 0755) == -1 && errno != EEXIST ? -1 : 0;
}

static void
private_tmp(const char *root, const char *module)
{
	char		 fdpath[64], dirs[2][PATH_MAX], *slash;
	int		 fd[2] = { -1, -1 }, n = 0, i, ok = 1;

	snprintf(dirs[n++], PATH_MAX, "%s", root);
	snprintf(dirs[n], PATH_MAX, "%s", module);
	if ((slash = strrchr(dirs[n], '/')) != NULL)
		*slash = '\0';
	if (strncmp(dirs[n], "/tmp/", 5) == 0 && strcmp(dirs[n], root) != 0)
		n++;
	if (strncmp(root, "/tmp/", 5) != 0) {
		dprintf(2, "harness_e2e: %s is not in /tmp; /tmp stays "
		    "shared\n", root);
		return;
	}
	if (unshare(CLONE_NEWNS) == -1) {
		dprintf(2, "harness_e2e: no mount namespace (%s); /tmp stays "
		    "shared\n", strerror(errno));
		return;
	}
	/*
	 * Nothing mounted here may reach the machine's namespace. The kept
	 * directories are opened in the new namespace before /tmp is
	 * covered: a bind mount's source must be in it.
	 */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		ok = 0;
	for (i = 0; ok && i < n; i++)
		if ((fd[i] = open(dirs[i], O_PATH | O_DIRECTORY |
		    O_CLOEXEC)) == -1)
			ok = 0;
	if (ok && mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
	    "mode=1777,size=64m") == -1)
		ok = 0;
	if (!ok) {
		dprintf(2, "harness_e2e: private /tmp: %s; /tmp stays shared\n",
		    strerror(errno));
		for (i = 0; i < n; i++)
			if (fd[i] != -1)
				close(fd[i]);
		return;
	}
	for (i = 0; i < n; i++) {
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd[i]);
		if (mkdir_p(dirs[i]) == -1 ||
		    mount(fdpath, dirs[i], NULL, MS_BIND | MS_REC, NULL) == -1) {
			dprintf(2, "harness_e2e: bind %s: %s; /tmp stays "
			    "shared\n", dirs[i], strerror(errno));
			umount2("/tmp", MNT_DETACH);
			break;
		}
	}
	for (i = 0; i < n; i++)
		close(fd[i]);
}

#define SPAWN_NO_AS_LIMIT	0x1	/* deny_as_limit() */
#define SPAWN_PRIVATE_TMP	0x2	/* private_tmp() */

/* What spawn()'s child does before exec; see spawn_child(). */
struct spawn_child {
	int		 flags;
	const char	*root;
	const char	*module;
};

static int
spawn_child(void *arg)
{
	const struct spawn_child *c = arg;

	if (c->flags & SPAWN_PRIVATE_TMP)
		private_tmp(c->root, c->module);
	if ((c->flags & SPAWN_NO_AS_LIMIT) && deny_as_limit() == -1) {
		dprintf(2, "seccomp: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Starts argv with env; stdout to out and stderr to err (opened for
 * appending), stdin from the pipe end in (or /dev/null when -1). The
 * child has a process group of its own and dies with this process.
 */
static pid_t
spawn(const char *const *argv, char **env, const char *out, const char *err,
    int in, int flags)
{
	struct spawn_child c = { .flags = flags };
	const struct it_proc_opt o = { .pgrp = 1, .child = spawn_child,
	    .arg = &c };
	pid_t pid;
	int fo, fe;

	fo = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	cr_assert(fo != -1, "open %s: %s", out, strerror(errno));
	fe = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	cr_assert(fe != -1, "open %s: %s", err, strerror(errno));
	/* Resolved here: the child must not assert. */
	if (flags & SPAWN_PRIVATE_TMP) {
		c.root = it_root();
		c.module = ite_module();
	}
	pid = it_proc_spawn(argv, env, (const int[3]){ in, fo, fe }, &o);
	close(fo);
	close(fe);
	if (in != -1)
		close(in);
	return pid;
}

/* ppid and state of pid from /proc, or -1. */
static int
proc_stat(pid_t pid, pid_t *ppid, char *state)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd, pp;

	/* Called for every process on the machine: no pooled strings. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold anything, parentheses included. */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %c %d", state, &pp) != 2)
		return -1;
	*ppid = (pid_t)pp;
	return 0;
}

/*
 * Kills and reaps every child of this process but the daemon: what the
 * servers forked is re-parented here (we are a subreaper) once they are
 * gone. Returns how many were left after the deadline.
 */
static int
reap_orphans(void)
{
	int64_t end = it_now_ms() + ITE_SERVER_MS;
	pid_t self = getpid(), daemon = it_daemon_pid(), pid, ppid;
	struct dirent *de;
	int found;
	char st;
	DIR *d;

	do {
		found = 0;
		d = opendir("/proc");
		if (d == NULL)
			return -1;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] < '1' || de->d_name[0] > '9')
				continue;
			pid = (pid_t)strtol(de->d_name, NULL, 10);
			if (pid == daemon || proc_stat(pid, &ppid, &st) == -1 ||
			    ppid != self)
				continue;
			found++;
			kill(pid, SIGKILL);
			it_proc_wait(pid, (int)(end - it_now_ms()));
		}
		closedir(d);
	} while (found > 0 && it_now_ms() < end);
	return found;
}

/*
 * Whether a file in dir holds our directory's name. Never fails the test:
 * other processes remove such directories concurrently.
 */
static int
mentions_root(const char *dir)
{
	const char *want = it_printf("%s/", it_root());
	char buf[8192];
	struct dirent *de;
	int found = 0, fd;
	ssize_t n;
	DIR *d;

	d = opendir(dir);
	if (d == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_type != DT_REG)
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		found = strstr(buf, want) != NULL;
	}
	closedir(d);
	return found;
}

/*
 * pam_wrapper copies the PAM files into /tmp/pam.X (X one of 62
 * characters) for each process and removes the copy only when the
 * process exits normally, which sshd and vsftpd processes never do. A
 * later pam_wrapper reclaims a copy whose pid is dead, but not one whose
 * pid is above 65535, so the 62 names can run out. The servers normally
 * have a /tmp of their own (private_tmp()); where they could not, remove
 * the copies of our files (they name our directory) once none of our
 * servers is left.
 */
static void
clean_pwrap_dirs(void)
{
	const char *dir;
	struct dirent *de;
	struct stat st;
	DIR *d;

	d = opendir("/tmp");
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "pam.", 4) != 0 ||
		    strlen(de->d_name) != 5)
			continue;
		dir = it_printf("/tmp/%s", de->d_name);
		if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
		    st.st_uid == getuid() && mentions_root(dir))
			it_rm_tree(dir);
	}
	closedir(d);
}

/* --- files ---------------------------------------------------------------- */

void
ite_write(const char *path, const char *data, mode_t mode)
{
	size_t len = strlen(data);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	cr_assert(fd != -1, "open %s: %s", path, strerror(errno));
	n = write(fd, data, len);
	cr_assert(n >= 0 && (size_t)n == len, "write %s: %s", path,
	    strerror(errno));
	cr_assert(close(fd) == 0, "close %s: %s", path, strerror(errno));
	cr_assert(chmod(path, mode) == 0, "chmod %s: %s", path,
	    strerror(errno));
}

static void
make_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	cr_assert(mkdir(path, mode) == 0, "mkdir %s: %s", path,
	    strerror(errno));
	cr_assert(chmod(path, mode) == 0 && chown(path, uid, gid) == 0,
	    "chmod/chown %s: %s", path, strerror(errno));
}

/*
 * The harness fixture with every user's home replaced by home/USER (made
 * here, owned by the user: sshd starts the session there, vsftpd logs in
 * there), and the extra accounts.
 */
static void
write_nss(void)
{
	const char *in = it_read_file(getenv("NSS_WRAPPER_PASSWD"), NULL);
	const char *grp = it_read_file(getenv("NSS_WRAPPER_GROUP"), NULL);
	char *copy, *line, *save = NULL, *f[7], *p;
	const char *out = "", *home;
	int i;

	copy = it_keep(strdup(in));
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		p = line;
		for (i = 0; i < 7; i++)
			f[i] = strsep(&p, ":");
		cr_assert(f[6] != NULL && p == NULL, "fixture line %s", line);
		home = ite_home(f[0]);
		make_dir(home, strcmp(f[0], "root") == 0 ? 0700 : 0755,
		    (uid_t)strtoul(f[2], NULL, 10),
		    (gid_t)strtoul(f[3], NULL, 10));
		out = it_printf("%s%s:%s:%s:%s:%s:%s:%s\n", out, f[0], f[1],
		    f[2], f[3], f[4], home, f[6]);
	}
	ite_write(ite_passwd(), it_printf("%s%s", out, extra_passwd), 0644);
	ite_write(ite_group(), it_printf("%s%s", grp, extra_group), 0644);
}

const char *
ite_passwd(void)
{
	return it_path("srv-passwd");
}

const char *
ite_group(void)
{
	return it_path("srv-group");
}

const char *
ite_home(const char *user)
{
	return it_printf("%s/home/%s", it_root(), user);
}

const char *
ite_module(void)
{
	if (ite.module != NULL)
		return ite.module;
	ite.module = it_printf("%s/pam_apikey.so", it_build_dir());
	cr_assert(access(ite.module, R_OK) == 0, "%s: %s", ite.module,
	    strerror(errno));
	return ite.module;
}

/* Copies sizeof(*dst) bytes at off of the file, or fails the test. */
static void
elf_get(const char *f, size_t len, uint64_t off, void *dst, size_t n)
{
	cr_assert(off <= len && n <= len - off, "truncated ELF file");
	memcpy(dst, f + off, n);
}

/* The first DT_NEEDED of the ELF file at path starting with prefix. */
static const char *
elf_needed(const char *path, const char *prefix)
{
	size_t len;
	const char *f = it_read_file(path, &len);
	uint64_t strtab = 0, stroff = 0, i, n;
	Elf64_Phdr ph, dyn = { 0 };
	Elf64_Ehdr eh;
	Elf64_Dyn d;
	int found = 0;

	elf_get(f, len, 0, &eh, sizeof(eh));
	cr_assert(memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64, "%s: not a 64-bit ELF file",
	    path);
	for (i = 0; i < eh.e_phnum; i++) {
		elf_get(f, len, eh.e_phoff + i * sizeof(ph), &ph, sizeof(ph));
		if (ph.p_type == PT_DYNAMIC)
			dyn = ph;
	}
	cr_assert(dyn.p_type == PT_DYNAMIC, "%s: no dynamic section", path);
	n = dyn.p_filesz / sizeof(d);
	for (i = 0; i < n; i++) {
		elf_get(f, len, dyn.p_offset + i * sizeof(d), &d, sizeof(d));
		if (d.d_tag == DT_STRTAB)
			strtab = d.d_un.d_ptr;
	}
	/* DT_STRTAB is an address: find the segment that holds it. */
	for (i = 0; i < eh.e_phnum && !found; i++) {
		elf_get(f, len, eh.e_phoff + i * sizeof(ph), &ph, sizeof(ph));
		if (ph.p_type == PT_LOAD && strtab >= ph.p_vaddr &&
		    strtab - ph.p_vaddr < ph.p_filesz) {
			stroff = strtab - ph.p_vaddr + ph.p_offset;
			found = 1;
		}
	}
	cr_assert(found, "%s: DT_STRTAB outside the file", path);
	for (i = 0; i < n; i++) {
		elf_get(f, len, dyn.p_offset + i * sizeof(d), &d, sizeof(d));
		if (d.d_tag == DT_NULL)
			break;
		if (d.d_tag != DT_NEEDED)
			continue;
		/* it_read_file() NUL-terminates: the name ends in the file. */
		cr_assert(stroff + d.d_un.d_val < len, "%s: bad DT_NEEDED",
		    path);
		if (strncmp(f + stroff + d.d_un.d_val, prefix,
		    strlen(prefix)) == 0)
			return it_printf("%s", f + stroff + d.d_un.d_val);
	}
	return NULL;
}

const char *
ite_san_runtime(void)
{
	if (!ite.san_known) {
		ite.san = elf_needed(ite_module(), "libasan.so");
		ite.san_known = 1;
	}
	return ite.san;
}

const char *
ite_apikeyctl(void)
{
	const char *mod = ite_module(), *ctl;

	/* ite_module() made the path absolute. */
	ctl = it_printf("%.*s/apikeyctl", (int)(strrchr(mod, '/') - mod),
	    mod);
	cr_assert(access(ctl, X_OK) == 0, "%s: %s", ctl, strerror(errno));
	return ctl;
}

const char *
ite_pam_apikey(void)
{
	return it_printf("%s socket=%s timeout=%d", ite_module(),
	    it_sock_dir(), ITE_PAM_TIMEOUT_MS);
}

void
ite_pam_service(const char *service)
{
	const char *mod = ite_pam_apikey();

	ite_write(it_printf("%s/pam/%s", it_root(), service), it_printf(
	    "# written by tests/harness_e2e.c\n"
	    "auth     required  %s nodelay export_env\n"
	    "account  required  %s\n"
	    "session  required  pam_permit.so\n"
	    "session  optional  %s export_env\n",
	    mod, mod, ite_module()), 0644);
}

/* --- set-up and the final checks ------------------------------------------ */

void
ite_setup(void)
{
	it_setup();
	memset(&ite, 0, sizeof(ite));
	ite.ready = 1;
	cr_assert(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0,
	    "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	make_dir(it_path("home"), 0755, 0, 0);
	make_dir(it_path("pam"), 0755, 0, 0);
	make_dir(it_path("empty"), 0755, 0, 0);
	make_dir(it_path("client"), 0755, 0, 0);
	make_dir(it_path("san"), 0755, 0, 0);
	/* libpam falls back to "other" for a service without a file. */
	ite_write(it_path("pam/other"), "# written by tests/harness_e2e.c\n"
	    "auth     required  pam_deny.so\n"
	    "account  required  pam_deny.so\n"
	    "password required  pam_deny.so\n"
	    "session  required  pam_deny.so\n", 0644);
	write_nss();
	ite_module();
}

void
ite_teardown(void)
{
	if (ite.ready) {
		ite_daemon_thaw();
		if (ite.server != 0) {
			kill(ite.server, SIGKILL);
			it_proc_wait(ite.server, ITE_SERVER_MS);
			ite.server = 0;
		}
		cr_expect_eq(reap_orphans(), 0, "processes outlived "
		    "SIGKILL");
		clean_pwrap_dirs();
	}
	memset(&ite, 0, sizeof(ite));
	it_teardown();
}

void
ite_finish(void)
{
	const char *dir = it_path("san"), *rep;
	struct dirent *de;
	DIR *d;

	ite_server_stop();
	cr_assert_eq(reap_orphans(), 0, "processes outlived SIGKILL");

	d = opendir(dir);
	cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
	rep = NULL;
	while (rep == NULL && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			rep = it_printf("%s/%s", dir, de->d_name);
	closedir(d);
	cr_assert_null(rep, "a server wrote a sanitizer report, %s:\n%s", rep,
	    rep != NULL ? it_read_file(rep, NULL) : "");

	cr_assert_not_null(ite.server_log, "no server ran");
	/*
	 * Every file: the servers' logs, client output, uploads, the hook's
	 * log, the state directory (hashes only, and LMDB's map). The
	 * modules' pam_syslog() lines are in the servers' logs, or, for
	 * vsftpd (pam_syslog set), in the machine's syslog, which the
	 * harness does not capture.
	 */
	it_assert_no_token_in_files();
}

/* --- servers -------------------------------------------------------------- */

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd != -1, "socket: %s", strerror(errno));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0,
	    "bind 127.0.0.1:0: %s", strerror(errno));
	close(fd);
	return ntohs(sin.sin_port);
}

/* Inode of the socket listening on 127.0.0.1:port, or 0. */
static unsigned long
listen_inode(int port)
{
	unsigned long addr, inode = 0, ino;
	unsigned int lport, st;
	char line[512];
	FILE *fp;

	fp = fopen("/proc/net/tcp", "re");
	cr_assert_not_null(fp, "/proc/net/tcp: %s", strerror(errno));
	while (inode == 0 && fgets(line, sizeof(line), fp) != NULL) {
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*u: %lx:%x %*x:%*x %x %*s %*s %*s %*u "
		    "%*u %lu", &addr, &lport, &st, &ino) != 4)
			continue;
		if (addr == 0x0100007fUL && lport == (unsigned int)port &&
		    st == 0x0a)
			inode = ino;
	}
	fclose(fp);
	return inode;
}

/* Whether pid holds the socket listening on 127.0.0.1:port. */
static int
listening(pid_t pid, int port)
{
	unsigned long inode = listen_inode(port);
	const char *dir, *want;
	char link[64];
	struct dirent *de;
	int found = 0;
	ssize_t n;
	DIR *d;

	if (inode == 0)
		return 0;
	want = it_printf("socket:[%lu]", inode);
	dir = it_printf("/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		n = readlink(it_printf("%s/%s", dir, de->d_name), link,
		    sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, want) == 0;
	}
	closedir(d);
	return found;
}

static char **
server_env(const struct ite_server *s)
{
	const char *san = ite_san_runtime();
	const char *set[MAX_ENV_SET];
	size_t n = 0;

	set[n++] = it_printf("LD_PRELOAD=%s%slibpam_wrapper.so "
	    "libnss_wrapper.so", san != NULL ? san : "",
	    san != NULL ? " " : "");
	set[n++] = "PAM_WRAPPER=1";
	set[n++] = it_printf("PAM_WRAPPER_SERVICE_DIR=%s/pam", it_root());
	set[n++] = it_printf("NSS_WRAPPER_PASSWD=%s", ite_passwd());
	set[n++] = it_printf("NSS_WRAPPER_GROUP=%s", ite_group());
	set[n++] = "APIKEY_SOCKET_DIR";
	/* Errors only, on stderr: the server's log. */
	set[n++] = "PAM_WRAPPER_DEBUGLEVEL";
	set[n++] = s->pam_syslog ? "PAM_WRAPPER_USE_SYSLOG=1" :
	    "PAM_WRAPPER_USE_SYSLOG";
	if (san != NULL) {
		/* The servers' own leaks are not ours to find; LSan would
		 * also have to stop the world from sshd's sandboxes. */
		set[n++] = it_printf("ASAN_OPTIONS=verify_asan_link_order=0:"
		    "detect_leaks=0:abort_on_error=0:log_path=%s/san/asan",
		    it_root());
		set[n++] = it_printf("UBSAN_OPTIONS=print_stacktrace=1:"
		    "halt_on_error=1:log_path=%s/san/ubsan", it_root());
	}
	set[n] = NULL;
	return it_make_env(set);
}

/* Under make asan, the server must really run with the ASan runtime. */
static void
check_preloaded(pid_t pid, const char *name)
{
	const char *san = ite_san_runtime(), *maps;

	if (san == NULL)
		return;
	maps = it_read_file(it_printf("/proc/%d/maps", (int)pid), NULL);
	cr_assert(strstr(maps, it_printf("/%s", san)) != NULL,
	    "%s runs without %s", name, san);
}

void
ite_server_start(const struct ite_server *s)
{
	const char *log = it_printf("%s/%s.log", it_root(), s->name), *text;
	char **env;
	int attempt, port, st, backoff;
	int64_t end;
	pid_t pid;

	cr_assert(ite.ready, "ite_setup first");
	cr_assert(ite.server == 0, "a server is already running");
	cr_assert(access(s->argv[0], X_OK) == 0, "%s: %s (scripts/deps.sh "
	    "test installs it)", s->argv[0], strerror(errno));
	ite.server_log = log;
	for (attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
		port = free_port();
		s->conf(port);
		env = server_env(s);
		pid = spawn(s->argv, env, log, log, -1, SPAWN_PRIVATE_TMP |
		    (s->deny_as_limit && ite_san_runtime() != NULL ?
		    SPAWN_NO_AS_LIMIT : 0));
		it_free_env(env);
		end = it_now_ms() + ITE_SERVER_MS;
		backoff = 2;
		for (;;) {
			if (listening(pid, port)) {
				ite.server = pid;
				ite.port = port;
				check_preloaded(pid, s->name);
				return;
			}
			st = it_proc_wait(pid, 0);
			if (st != -1)
				break;
			if (it_now_ms() >= end) {
				kill(pid, SIGKILL);
				it_proc_wait(pid, ITE_SERVER_MS);
				cr_assert_fail("%s did not listen on port %d "
				    "within %d ms; log:\n%s", s->name, port,
				    ITE_SERVER_MS, it_read_file(log, NULL));
			}
			it_msleep(backoff);
			if (backoff < 100)
				backoff *= 2;
		}
		/* Someone took the port between our probe and the server. */
		text = it_read_file(log, NULL);
		if (strstr(text, "Address already in use") == NULL &&
		    strstr(text, "could not bind") == NULL)
			cr_assert_fail("%s exited with status %d before "
			    "listening; log:\n%s", s->name, st, text);
	}
	cr_assert_fail("%s: no free port in %d attempts; log:\n%s", s->name,
	    PORT_ATTEMPTS, it_read_file(log, NULL));
}

void
ite_server_stop(void)
{
	int st;

	if (ite.server == 0)
		return;
	kill(ite.server, SIGTERM);
	st = it_proc_wait(ite.server, ITE_SERVER_MS);
	if (st == -1) {
		kill(ite.server, SIGKILL);
		it_proc_wait(ite.server, ITE_SERVER_MS);
	}
	ite.server = 0;
	cr_assert(st != -1, "the server did not exit within %d ms of "
	    "SIGTERM; log:\n%s", ITE_SERVER_MS, ite_server_log());
}

int
ite_server_port(void)
{
	cr_assert(ite.port != 0, "no server");
	return ite.port;
}

const char *
ite_server_log(void)
{
	return it_read_file(ite_server_log_path(), NULL);
}

const char *
ite_server_log_path(void)
{
	cr_assert_not_null(ite.server_log, "no server");
	return ite.server_log;
}

/* --- clients and the daemon ----------------------------------------------- */

int
ite_client(struct ite_run *r, const char *label, const char *in,
    const char *const *set, const char *const *argv)
{
	const char *out, *err, *cset[MAX_ENV_SET];
	char **env;
	int64_t start;
	size_t n = 0, inlen;
	ssize_t w;
	int p[2] = { -1, -1 }, st;
	pid_t pid;

	cr_assert(ite.ready, "ite_setup first");
	out = it_printf("%s/client/%s-%d.out", it_root(), label, ite.nclient);
	err = it_printf("%s/client/%s-%d.err", it_root(), label, ite.nclient);
	ite.nclient++;
	cset[n++] = "LD_PRELOAD=libnss_wrapper.so";
	cset[n++] = it_printf("NSS_WRAPPER_PASSWD=%s", ite_passwd());
	cset[n++] = it_printf("NSS_WRAPPER_GROUP=%s", ite_group());
	cset[n++] = it_printf("HOME=%s", ite_home("root"));
	cset[n++] = "APIKEY_SOCKET_DIR";
	for (; set != NULL && *set != NULL; set++) {
		cr_assert(n < MAX_ENV_SET - 1, "too many variables");
		cset[n++] = *set;
	}
	cset[n] = NULL;
	env = it_make_env(cset);
	if (in != NULL)
		cr_assert(pipe2(p, O_CLOEXEC) == 0, "pipe: %s",
		    strerror(errno));
	start = it_now_ms();
	pid = spawn(argv, env, out, err, p[0], 0);
	it_free_env(env);
	if (in != NULL) {
		/* Small inputs only: they fit in the pipe buffer. */
		signal(SIGPIPE, SIG_IGN);
		inlen = strlen(in);
		w = write(p[1], in, inlen);
		cr_assert(w == (ssize_t)inlen || errno == EPIPE,
		    "write stdin: %s", strerror(errno));
		close(p[1]);
	}
	st = it_proc_wait(pid, ITE_CLIENT_MS);
	if (st == -1) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		it_proc_wait(pid, ITE_SERVER_MS);
		cr_assert_fail("%s did not finish within %d ms; stdout:\n%s\n"
		    "stderr:\n%s", argv[0], ITE_CLIENT_MS,
		    it_read_file(out, NULL), it_read_file(err, NULL));
	}
	r->ms = it_now_ms() - start;
	r->status = st;
	r->out = it_read_file(out, NULL);
	r->err = it_read_file(err, NULL);
	return st;
}

void
ite_daemon_freeze(void)
{
	int64_t end = it_now_ms() + ITE_SERVER_MS;
	pid_t pid = it_daemon_pid(), ppid;
	char st = '?';

	cr_assert(pid != 0, "no daemon");
	cr_assert(kill(pid, SIGSTOP) == 0, "SIGSTOP: %s", strerror(errno));
	ite.frozen = 1;
	while (proc_stat(pid, &ppid, &st) == 0 && st != 'T') {
		cr_assert(it_now_ms() < end, "apikeyd not stopped after %d ms",
		    ITE_SERVER_MS);
		it_msleep(5);
	}
	cr_assert_eq(st, 'T', "apikeyd state %c", st);
}

void
ite_daemon_thaw(void)
{
	if (!ite.frozen)
		return;
	ite.frozen = 0;
	kill(it_daemon_pid(), SIGCONT);
}

#define MAX_SUBS	8

/*
 * The first line at or after p holding every one of subs: its start, or
 * NULL. *next (unless NULL) is set past it.
 */
static const char *
find_line(const char *p, const char *const *subs, const char **next)
{
	const char *e;
	size_t i;
	char *line;
	int all;

	while (*p != '\0') {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		line = strndup(p, (size_t)(e - p));
		cr_assert_not_null(line, "out of memory");
		all = 1;
		for (i = 0; all && subs[i] != NULL; i++)
			all = strstr(line, subs[i]) != NULL;
		free(line);
		if (all) {
			if (next != NULL)
				*next = *e != '\0' ? e + 1 : e;
			return p;
		}
		p = *e != '\0' ? e + 1 : e;
	}
	return NULL;
}

/* Lines of text holding every one of subs. */
static size_t
count_lines(const char *text, const char *const *subs)
{
	size_t n = 0;

	while (find_line(text, subs, &text) != NULL)
		n++;
	return n;
}

static void
collect_subs(const char **subs, va_list ap)
{
	size_t n = 0;

	while ((subs[n] = va_arg(ap, const char *)) != NULL) {
		n++;
		cr_assert(n < MAX_SUBS, "too many substrings");
	}
}

const char *
ite_find_line(const char *from, ...)
{
	const char *subs[MAX_SUBS];
	va_list ap;

	va_start(ap, from);
	collect_subs(subs, ap);
	va_end(ap);
	return find_line(from, subs, NULL);
}

size_t
ite_count_lines(const char *text, ...)
{
	const char *subs[MAX_SUBS];
	va_list ap;

	va_start(ap, text);
	collect_subs(subs, ap);
	va_end(ap);
	return count_lines(text, subs);
}

size_t
ite_wait_lines(const char *path, size_t want, ...)
{
	int64_t end = it_now_ms() + ITE_SERVER_MS;
	const char *subs[MAX_SUBS];
	int backoff = 2;
	va_list ap;
	size_t n;

	va_start(ap, want);
	collect_subs(subs, ap);
	va_end(ap);
	for (;;) {
		/* A log may not be there before its first line. */
		n = access(path, F_OK) == 0 ?
		    count_lines(it_read_file(path, NULL), subs) : 0;
		if (n >= want || it_now_ms() >= end)
			return n;
		it_msleep(backoff);
		if (backoff < 100)
			backoff *= 2;
	}
}

void
ite_expect_lines(const char *path, size_t want, const char *a,
    const char *b)
{
	size_t n = ite_wait_lines(path, want, a, b, (const char *)NULL);

	cr_assert_eq(n, want, "%zu lines with \"%s\"%s%s%s in %s, expected "
	    "%zu:\n%s", n, a, b != NULL ? " and \"" : "", b != NULL ? b : "",
	    b != NULL ? "\"" : "", path, want, access(path, F_OK) == 0 ?
	    it_read_file(path, NULL) : "(no such file)");
}
