/*
 * systemd.h - apikeyd's side of the service manager: readiness, status and
 * watchdog notifications (sd_notify), and listening sockets passed by
 * socket activation (sd_listen_fds_with_names). systemd.c is the only file
 * that knows libsystemd. Started by hand, with neither NOTIFY_SOCKET nor
 * LISTEN_FDS in the environment, every call does nothing.
 */
#ifndef APIKEY_SYSTEMD_H
#define APIKEY_SYSTEMD_H

#include <stddef.h>
#include <stdint.h>

/* Which socket is which. */
enum sysd_sock {
	SYSD_VERIFY = 0,
	SYSD_ADMIN = 1,
	SYSD_NSOCKS
};

/*
 * Takes the sockets the service manager passed: fds[SYSD_VERIFY] and
 * fds[SYSD_ADMIN] get them (nonblocking, close-on-exec), or -1 for one that
 * was not passed. A descriptor is known by its name (FileDescriptorName=
 * "verify" or "admin"), else by the file name of the path it is bound to
 * (verify.sock, admin.sock), since a single socket unit names all of its
 * sockets alike. Anything else passed, a descriptor that is not a
 * listening Unix stream socket, or two for one role, is an error: 0, or
 * -1 with a message in err. Clears LISTEN_* from the environment.
 */
int	sysd_sockets(int fds[SYSD_NSOCKS], char *err, size_t errsz);

/* Sends "READY=1" and a STATUS= line. */
void	sysd_ready(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* Sends a STATUS= line. */
void	sysd_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* Sends "STOPPING=1" and a STATUS= line. */
void	sysd_stopping(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* The watchdog interval asked for (WatchdogSec=), in ms; 0: none. */
uint64_t sysd_watchdog_ms(void);
/* Sends "WATCHDOG=1". */
void	sysd_watchdog(void);

#endif
