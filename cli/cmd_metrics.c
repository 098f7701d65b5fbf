/*
 * cmd_metrics.c - apikeyctl metrics: the daemon's status and its verify
 * counters in the Prometheus text format (metrics.c), on stdout or, with
 * -o FILE, in FILE for node_exporter's textfile collector.
 *
 * The collector reads every *.prom file in its directory whenever it is
 * scraped, so FILE is never written in place: the text goes into a new
 * file in the same directory (.NAME.XXXXXX, which the collector ignores),
 * which is synced, given mode 0644 and renamed over FILE. A reader sees
 * the old file or the new one, whole. On any failure the new file is
 * removed and FILE stays as it was.
 *
 * The verify counters go to administrators only (the daemon zeroes them
 * for anyone else), and metrics without them would be a lie, so for
 * others this is a permission error and nothing is written.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apikey.h>

#include "apikeyctl.h"
#include "args.h"
#include "metrics.h"

/*
 * The directory is synced after the rename only so that the rename
 * survives a crash; the file is whole and in place either way, and the
 * next run writes it again, so a failure here is not worth an error.
 */
static void
sync_dir(const char *tmp)
{
	char		 dir[PATH_MAX];
	const char	*slash = strrchr(tmp, '/');
	int		 fd;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == tmp)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - tmp), tmp);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	(void)fsync(fd);
	close(fd);
}

/* The temporary name next to path: DIR/.NAME.XXXXXX. 0, or -1 if long. */
static int
temp_name(const char *path, char tmp[PATH_MAX])
{
	const char	*slash = strrchr(path, '/');
	int		 n;

	if (slash == NULL)
		n = snprintf(tmp, PATH_MAX, ".%s.XXXXXX", path);
	else
		n = snprintf(tmp, PATH_MAX, "%.*s/.%s.XXXXXX",
		    (int)(slash - path), path, slash + 1);
	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

/* Writes the metrics into path atomically: 0, or an exit status. */
static int
write_file(const char *path, const struct apikey_status *st)
{
	char	 tmp[PATH_MAX];
	FILE	*f = NULL;
	int	 fd = -1, err = 0;

	if (temp_name(path, tmp) == -1) {
		ctl_warnx("cannot write %s: %s", path, strerror(ENAMETOOLONG));
		return CTL_EXIT_INTERNAL;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		ctl_warnx("cannot write %s: %s", path, strerror(errno));
		return CTL_EXIT_INTERNAL;
	}
	/* mkstemp made it 0600; the collector may run as another user. */
	if (fchmod(fd, 0644) == -1 || (f = fdopen(fd, "w")) == NULL) {
		err = errno;
		goto out;
	}
	fd = -1;	/* f has it */
	errno = 0;
	if (metrics_print(f, st) == -1 || fflush(f) == EOF ||
	    fsync(fileno(f)) == -1) {
		err = errno != 0 ? errno : EIO;
		goto out;
	}
	if (fclose(f) == EOF) {
		f = NULL;
		err = errno;
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) == -1) {
		err = errno;
		goto out;
	}
	sync_dir(tmp);
	return CTL_EXIT_OK;
out:
	if (f != NULL)
		fclose(f);
	if (fd != -1)
		close(fd);
	unlink(tmp);
	ctl_warnx("cannot write %s: %s", path, strerror(err));
	return CTL_EXIT_INTERNAL;
}

int
cmd_metrics(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output",	required_argument,	NULL,	'o' },
		{ NULL,		0,			NULL,	0 }
	};
	struct apikey_status	*st = NULL;
	struct args		 a;
	const char		*path = NULL;
	int			 ch, rc, err;

	args_init(&a, ctl, argc, argv, 0, "o:", opts);
	while ((ch = args_next(&a)) > 0)
		if (ch == 'o')
			path = a.arg;
	if (ch != ARGS_END)
		return args_finish(&a, ch);
	if (args_positionals(&a, 0, 0, "") == -1)
		return CTL_EXIT_USAGE;
	if (path != NULL && *path == '\0')
		return args_usage(&a, "--output needs a file name");
	if (ctl->json)
		return args_usage(&a, "metrics has no JSON form: it prints "
		    "the Prometheus text format");

	if ((rc = ctl_connect(ctl, 1)) != 0)
		return rc;
	if ((err = apikey_status(ctl->client, &st)) != 0)
		return ctl_fail(ctl, err);
	if (!apikey_status_has_counters(st)) {
		ctl_warnx("permission denied: metrics are shown to "
		    "administrators only (root and apikeyd's admin_group)");
		rc = CTL_EXIT_PERM;
	} else if (path != NULL)
		rc = write_file(path, st);
	else {
		/* A failed write to stdout is reported at exit. */
		(void)metrics_print(stdout, st);
		rc = CTL_EXIT_OK;
	}
	apikey_status_free(st);
	return rc;
}
