/*
 * proc.c - what apikey-bench reads about another process (apikeyd, or the
 * echo server): CPU seconds from /proc/PID/stat and resident memory from
 * /proc/PID/status, sampled before and after each measured window; and
 * the clocks it measures with.
 */
#include <sys/resource.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double
proc_self_cpu(void)
{
	struct rusage	 ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* The whole of a small /proc file, NUL-terminated. 0 or -1. */
static int
slurp(const char *path, char *buf, size_t size)
{
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (len + 1 < size) {
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return len > 0 ? 0 : -1;
}

/* The kB value of the "name:" line of a status file, or -1. */
static long
status_kb(const char *status, const char *name)
{
	const char	*p = status;
	size_t		 n = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if ((p == status || p[-1] == '\n') && p[n] == ':')
			return strtol(p + n + 1, NULL, 10);
		p += n;
	}
	return -1;
}

int
proc_read(pid_t pid, struct proc_stat *out)
{
	char		 path[64], buf[4096], *p, *end;
	unsigned long	 ut, st;
	long		 tick = sysconf(_SC_CLK_TCK);
	int		 field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (slurp(path, buf, sizeof(buf)) != 0)
		return -1;
	/* The command name may hold spaces and parentheses: fields are
	 * counted from the last ')', which ends field 2. */
	if ((p = strrchr(buf, ')')) == NULL) {
		errno = EINVAL;
		return -1;
	}
	p++;
	/* utime and stime are fields 14 and 15. */
	for (field = 3; field < 14; field++) {
		while (*p == ' ')
			p++;
		p += strcspn(p, " ");
	}
	ut = strtoul(p, &end, 10);
	st = strtoul(end, &end, 10);
	if (end == p || tick <= 0) {
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (slurp(path, buf, sizeof(buf)) != 0)
		return -1;
	out->cpu_s = (double)(ut + st) / (double)tick;
	out->rss_kb = status_kb(buf, "VmRSS");
	out->hwm_kb = status_kb(buf, "VmHWM");
	return 0;
}
