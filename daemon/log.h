/*
 * log.h - logging in the OpenSMTPD shape: stderr in the foreground, syslog
 * (LOG_DAEMON) otherwise. log_warn appends strerror(errno). fatal* log and
 * exit(1); they are for start-up failures and broken invariants only, never
 * for bad input from a socket.
 *
 * Every line is made safe to show before it is written (common/text.h).
 * Never pass a key token to any of these functions.
 */
#ifndef APIKEY_LOG_H
#define APIKEY_LOG_H

#include <stdarg.h>

void	log_init(int foreground, int debug);
void	log_set_debug(int debug);
int	log_debug_enabled(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
