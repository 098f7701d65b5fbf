/*
 * systemd.c - the service manager's protocol, through libsystemd.
 *
 * Notifications are best effort: a manager that went away must not stop
 * the daemon, so failures are logged at debug level and otherwise ignored.
 * Each STATUS= text is passed through text_escape, like every log line,
 * since it may be shown on a terminal by `systemctl status`.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "../common/text.h"
#include "log.h"
#include "systemd.h"

#define STATUS_MAX	512

static const char *const sock_names[SYSD_NSOCKS] = { "verify", "admin" };
static const char *const sock_files[SYSD_NSOCKS] = {
	"verify.sock", "admin.sock"
};

/* The role of a passed socket: by name, else by its bound path. */
static int
sock_role(int fd, const char *name)
{
	struct sockaddr_un	 sun;
	socklen_t		 len = sizeof(sun);
	const char		*base;
	int			 i;

	for (i = 0; i < SYSD_NSOCKS; i++)
		if (name != NULL && strcmp(name, sock_names[i]) == 0)
			return i;
	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == -1 ||
	    len <= offsetof(struct sockaddr_un, sun_path) ||
	    sun.sun_path[0] == '\0')
		return -1;
	sun.sun_path[sizeof(sun.sun_path) - 1] = '\0';
	base = strrchr(sun.sun_path, '/');
	base = base != NULL ? base + 1 : sun.sun_path;
	for (i = 0; i < SYSD_NSOCKS; i++)
		if (strcmp(base, sock_files[i]) == 0)
			return i;
	return -1;
}

static int
take_socket(int fd, const char *name, int fds[SYSD_NSOCKS], char *err,
    size_t errsz)
{
	int	 role, fl;

	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		snprintf(err, errsz, "passed descriptor %d (%s) is not a "
		    "listening Unix stream socket", fd, name);
		return -1;
	}
	if ((role = sock_role(fd, name)) == -1) {
		snprintf(err, errsz, "passed socket %d (%s) is neither "
		    "\"verify\" nor \"admin\" (set FileDescriptorName=, or "
		    "bind it to verify.sock or admin.sock)", fd, name);
		return -1;
	}
	if (fds[role] != -1) {
		snprintf(err, errsz, "two sockets passed for %s",
		    sock_names[role]);
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, errsz, "passed socket %d: %s", fd,
		    strerror(errno));
		return -1;
	}
	fds[role] = fd;
	return 0;
}

int
sysd_sockets(int fds[SYSD_NSOCKS], char *err, size_t errsz)
{
	char	**names = NULL;
	int	 n, i, rc = 0;

	for (i = 0; i < SYSD_NSOCKS; i++)
		fds[i] = -1;
	if ((n = sd_listen_fds_with_names(1, &names)) < 0) {
		snprintf(err, errsz, "sockets passed by the service manager: "
		    "%s", strerror(-n));
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++)
		rc = take_socket(SD_LISTEN_FDS_START + i,
		    names != NULL && names[i] != NULL ? names[i] : "unnamed",
		    fds, err, errsz);
	for (i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
	if (rc != 0)
		return -1;
	for (i = 0; i < SYSD_NSOCKS; i++)
		if (fds[i] != -1)
			log_debug("%s socket passed by the service manager "
			    "(fd %d)", sock_names[i], fds[i]);
	return 0;
}

static void
send_state(const char *msg)
{
	int	 rc;

	if ((rc = sd_notify(0, msg)) < 0)
		log_debug("sd_notify: %s", strerror(-rc));
}

/* head, then the formatted STATUS= line. */
static void notify(const char *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

static void
notify(const char *head, const char *fmt, va_list ap)
{
	char	 status[STATUS_MAX], clean[STATUS_MAX];
	char	 msg[sizeof(clean) + 64];

	(void)vsnprintf(status, sizeof(status), fmt, ap);
	(void)text_escape(clean, sizeof(clean), status);
	(void)snprintf(msg, sizeof(msg), "%s%sSTATUS=%s", head,
	    *head != '\0' ? "\n" : "", clean);
	send_state(msg);
}

void
sysd_ready(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	notify("READY=1", fmt, ap);
	va_end(ap);
}

void
sysd_status(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	notify("", fmt, ap);
	va_end(ap);
}

void
sysd_stopping(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	notify("STOPPING=1", fmt, ap);
	va_end(ap);
}

uint64_t
sysd_watchdog_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec / 1000 > 0 ? usec / 1000 : 1;
}

void
sysd_watchdog(void)
{
	send_state("WATCHDOG=1");
}
