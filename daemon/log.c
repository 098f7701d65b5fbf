/*
 * log.c - where apikeyd's messages go. Set once at start-up, before any
 * thread exists; afterwards only read, so both loops may log freely (each
 * line is one write(2) to stderr, or one syslog(3) call).
 *
 * Messages carry names, services, users and hosts that clients chose, and
 * the log is read on terminals. So every line, strerror suffix included, is
 * passed through text_escape (common/text.h) before it is written: a byte
 * that is not part of a printable UTF-8 character becomes \xNN, so a line
 * can never end early, move the cursor, reorder the text after it or be
 * invalid UTF-8. The same rule decides which names policy_text_valid
 * accepts, so an accepted name is always logged exactly as it was given.
 *
 * Under systemd, stderr is the journal (JOURNAL_STREAM names it): each
 * line then starts with its syslog priority as "<N>", which journald
 * takes as the entry's priority, so `journalctl -p warning` finds warnings.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "../common/text.h"
#include "log.h"

static int log_foreground = 1;
static int log_journal;		/* stderr is the journal */
static int log_debugging;

static int
stderr_is_journal(void)
{
	const char		*e = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 st;

	return e != NULL && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(int foreground, int debug)
{
	log_foreground = foreground;
	log_journal = foreground && stderr_is_journal();
	log_debugging = debug;
	if (!foreground)
		openlog("apikeyd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_debug(int debug)
{
	log_debugging = debug;
}

int
log_debug_enabled(void)
{
	return log_debugging;
}

/*
 * The longest line written, newline included. Under PIPE_BUF, so that one
 * write(2) to a pipe (a service manager's stderr) is atomic as well. It
 * holds a full formatted message of printable text; lines mostly escaped
 * are cut, at a character or escape boundary.
 */
#define LOG_LINE_MAX	2048

/*
 * vsnprintf cuts at a byte count. Drop a UTF-8 sequence it cut in half, so
 * a long line ends in text rather than in escapes of the pieces.
 */
static void
drop_cut_sequence(char *s, size_t len)
{
	size_t		 i = len, need;
	unsigned char	 c;

	while (i > 0 && len - i < 3 &&
	    ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return;
	c = (unsigned char)s[i - 1];
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (need > len - i + 1)
		s[i - 1] = '\0';
}

static void vlog(int, const char *, va_list, const char *)
	    __attribute__((format(printf, 2, 0)));

static void
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char	 msg[1024];
	char	 tail[256];		/* ": " and strerror, always short */
	char	 line[LOG_LINE_MAX];
	/* Room for everything but the newline, which is always written. */
	size_t	 room = sizeof(line) - 1, n = 0, tlen = 0;
	int	 len;

	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(msg))
		drop_cut_sequence(msg, sizeof(msg) - 1);
	/* The strerror text is made first, so that a long message is cut
	 * to leave room for it rather than the other way round. */
	if (suffix != NULL) {
		tlen = text_escape(tail, sizeof(tail), ": ");
		tlen += text_escape(tail + tlen, sizeof(tail) - tlen, suffix);
	}
	if (log_journal)
		n += (size_t)snprintf(line, room, "<%d>", pri);
	else if (log_foreground)
		n += text_escape(line, room, "apikeyd: ");
	n += text_escape(line + n, room - n - tlen, msg);
	/* tail is clean already, so this copies it whole into its room. */
	if (suffix != NULL)
		n += text_escape(line + n, room - n, tail);
	if (!log_foreground) {
		syslog(pri, "%s", line);
		return;
	}
	line[n++] = '\n';
	/* One write per line, so lines from the threads never mix. A failed
	 * write to stderr has nowhere to be reported. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[128];
	int	 saved = errno;
	/* GNU strerror_r: the message may or may not be in buf. */
	const char *err = strerror_r(saved, buf, sizeof(buf));

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, err);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_debugging)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[128];
	const char *err = strerror_r(errno, buf, sizeof(buf));

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
