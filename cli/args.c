/*
 * args.c - command-line scanning for apikeyctl.
 *
 * A thin layer over getopt_long. Each scan merges the command's options
 * with the global ones, so "apikeyctl key list --json" and "apikeyctl
 * --json key list" mean the same. Scans run in RETURN_IN_ORDER mode ("-"),
 * which collects positionals without permuting argv and does not depend on
 * $POSIXLY_CORRECT; the scans that look for a command word use
 * REQUIRE_ORDER ("+") instead and stop there. getopt's own messages are
 * off: they would name argv[0], which is a subcommand here, so the usage
 * errors are worded below.
 *
 * The value parsers accept exactly what docs/cli.md documents: digits
 * only, no signs, no spaces, and nothing that wraps around; N/DURATION
 * (rates and refills) is a number and a DURATION around one slash.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apikeyctl.h"
#include "args.h"

enum {
	OPT_SOCKET_DIR = 0x100,
	OPT_JSON,
	OPT_TIMEOUT,
	OPT_VERSION,
};

static const struct option global_opts[] = {
	{ "socket-dir",	required_argument,	NULL,	OPT_SOCKET_DIR },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ "timeout",	required_argument,	NULL,	OPT_TIMEOUT },
	{ "help",	no_argument,		NULL,	'h' },
	{ "version",	no_argument,		NULL,	OPT_VERSION },
	{ NULL,		0,			NULL,	0 }
};

static void
vwarnx(const char *fmt, va_list ap)
{
	fputs("apikeyctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
ctl_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
}

void
args_add_options(struct args *a, const struct option *table)
{
	size_t n, i;

	for (n = 0; a->longopts[n].name != NULL; n++)
		continue;
	/* A command table too large for the array is a bug, not an input. */
	for (i = 0; table != NULL && table[i].name != NULL; i++) {
		if (n >= ARGS_MAX_OPTS)
			abort();
		a->longopts[n++] = table[i];
	}
	/* a->longopts[n] stays zeroed: the terminator. */
}

void
args_init(struct args *a, struct ctl *ctl, int argc, char **argv, int flags,
    const char *shortopts, const struct option *longopts)
{
	int len;

	memset(a, 0, sizeof(*a));
	a->ctl = ctl;
	a->argc = argc;
	a->argv = argv;
	a->flags = flags;
	args_add_options(a, longopts);
	args_add_options(a, global_opts);

	/* ':' makes a missing value ':' instead of '?'. */
	len = snprintf(a->shortopts, sizeof(a->shortopts), "%s:%sh",
	    (flags & ARGS_STOP) ? "+" : "-",
	    shortopts != NULL ? shortopts : "");
	if (len < 0 || (size_t)len >= sizeof(a->shortopts))
		abort();

	/* 0, not 1: GNU getopt then forgets the previous scan entirely. */
	optind = 0;
	opterr = 0;
}

static void
add_positional(struct args *a, char *s)
{
	if (a->npos < ARGS_MAX_POS)
		a->pos[a->npos] = s;
	if (a->npos < INT_MAX)
		a->npos++;
}

/* Words the getopt error for the option at argv[optind - 1]. */
static int
bad_option(struct args *a, int ch)
{
	const char *opt = "";
	int len;

	if (optind > 0 && optind <= a->argc)
		opt = a->argv[optind - 1];
	len = (int)strcspn(opt, "=");

	if (ch == ':')
		args_usage(a, "option '%.*s' needs a value", len, opt);
	else if (strncmp(opt, "--", 2) != 0)
		args_usage(a, "unknown option '-%c'", optopt);
	else if (optopt != 0)
		args_usage(a, "option '%.*s' takes no value", len, opt);
	else
		args_usage(a, "unknown option '%.*s'", len, opt);
	return ARGS_ERROR;
}

int
args_next(struct args *a)
{
	uint64_t ms;
	int ch;

	for (;;) {
		ch = getopt_long(a->argc, a->argv, a->shortopts, a->longopts,
		    NULL);
		a->arg = optarg;
		switch (ch) {
		case -1:
			if (a->flags & ARGS_STOP) {
				a->next = optind;
				return ARGS_END;
			}
			/* After "--", the rest is positional. */
			while (optind < a->argc)
				add_positional(a, a->argv[optind++]);
			return ARGS_END;
		case 1:
			add_positional(a, optarg);
			break;
		case 'h':
			return ARGS_HELP;
		case OPT_VERSION:
			return ARGS_VERSION;
		case OPT_JSON:
			a->ctl->json = 1;
			break;
		case OPT_SOCKET_DIR:
			if (*optarg == '\0') {
				args_usage(a, "--socket-dir needs a path");
				return ARGS_ERROR;
			}
			a->ctl->socket_dir = optarg;
			break;
		case OPT_TIMEOUT:
			if (args_number_value(a, "--timeout", INT_MAX,
			    &ms) == -1)
				return ARGS_ERROR;
			a->ctl->timeout_ms = (int)ms;
			break;
		case ':':
		case '?':
			return bad_option(a, ch);
		default:
			return ch;
		}
	}
}

int
args_only(struct args *a, struct ctl *ctl, int argc, char **argv, int npos,
    const char *what)
{
	int ch;

	args_init(a, ctl, argc, argv, 0, NULL, NULL);
	if ((ch = args_next(a)) != ARGS_END)
		return args_finish(a, ch);
	if (args_positionals(a, npos, npos, what) == -1)
		return CTL_EXIT_USAGE;
	return -1;
}

int
args_finish(const struct args *a, int ch)
{
	switch (ch) {
	case ARGS_HELP:
		printf("usage: apikeyctl %s\n", a->ctl->usage);
		printf("global options: [--socket-dir DIR] [--json] "
		    "[--timeout MS], anywhere on the line\n");
		return CTL_EXIT_OK;
	case ARGS_VERSION:
		printf("apikeyctl %s\n", APIKEY_VERSION);
		return CTL_EXIT_OK;
	default:
		return CTL_EXIT_USAGE;
	}
}

int
args_usage(const struct args *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: apikeyctl %s\n", a->ctl->usage);
	fputs("Try 'apikeyctl --help' for more information.\n", stderr);
	return CTL_EXIT_USAGE;
}

int
args_positionals(const struct args *a, int min, int max, const char *what)
{
	if (a->npos < min) {
		args_usage(a, "missing %s", what);
		return -1;
	}
	if (a->npos > max) {
		if ((a->flags & ARGS_SECRET) || max >= ARGS_MAX_POS)
			args_usage(a, "too many arguments");
		else
			args_usage(a, "unexpected argument '%s'", a->pos[max]);
		return -1;
	}
	return 0;
}

/* The usage error for a DURATION text that parsed to rc (not ARGS_OK). */
static void
duration_usage(const struct args *a, const char *opt, const char *text,
    int rc, uint64_t dmax)
{
	if (rc == ARGS_EZERO)
		args_usage(a, "%s: duration '%s' is no time at all", opt, text);
	else if (rc == ARGS_ERANGE && dmax >= ARGS_DURATION_MAX)
		args_usage(a, "%s: duration '%s' is longer than 100 years",
		    opt, text);
	else if (rc == ARGS_ERANGE)
		args_usage(a, "%s: duration '%s' is longer than %jus", opt,
		    text, (uintmax_t)dmax);
	else
		args_usage(a, "%s: invalid duration '%s' (NUMBER UNIT pairs, "
		    "units s m h d w, e.g. 30d or 1h30m)", opt, text);
}

int
args_duration_value(const struct args *a, const char *opt, uint64_t *out)
{
	uint64_t	secs;
	int		rc;

	if ((rc = args_duration(a->arg, &secs)) != ARGS_OK) {
		duration_usage(a, opt, a->arg, rc, ARGS_DURATION_MAX);
		return -1;
	}
	*out = secs;
	return 0;
}

int
args_number_value(const struct args *a, const char *opt, uint64_t max,
    uint64_t *out)
{
	uint64_t n;

	switch (args_number(a->arg, max, &n)) {
	case ARGS_OK:
		*out = n;
		return 0;
	case ARGS_ERANGE:
		args_usage(a, "%s: '%s' is larger than %ju", opt, a->arg,
		    (uintmax_t)max);
		return -1;
	default:
		args_usage(a, "%s: '%s' is not a number", opt, a->arg);
		return -1;
	}
}

/* Which part of an N/DURATION a parse failed on. */
enum per_part {
	PER_FORM,		/* no slash */
	PER_N,
	PER_DURATION,
};

static int	parse_per(const char *, uint64_t, uint64_t, uint64_t *,
		    uint64_t *, enum per_part *);

int
args_per_value(const struct args *a, const char *opt, const char *form,
    uint64_t nmax, uint64_t dmax, uint64_t *n, uint64_t *secs)
{
	enum per_part	 part;
	const char	*slash;
	int		 rc;

	if ((rc = parse_per(a->arg, nmax, dmax, n, secs, &part)) == ARGS_OK)
		return 0;
	slash = strchr(a->arg, '/');
	if (part == PER_DURATION)
		duration_usage(a, opt, slash + 1, rc, dmax);
	else if (part == PER_N && rc == ARGS_ERANGE)
		args_usage(a, "%s: '%.*s' is larger than %ju", opt,
		    (int)(slash - a->arg), a->arg, (uintmax_t)nmax);
	else if (part == PER_N && rc == ARGS_EZERO)
		args_usage(a, "%s: '%s': the number before '/' must be at "
		    "least 1", opt, a->arg);
	else
		args_usage(a, "%s: invalid value '%s' (%s)", opt, a->arg,
		    form);
	return -1;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static uint64_t
unit_seconds(char c)
{
	switch (c) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 60 * 60;
	case 'd':
		return 24 * 60 * 60;
	case 'w':
		return 7 * 24 * 60 * 60;
	default:
		return 0;
	}
}

int
args_duration(const char *s, uint64_t *out)
{
	uint64_t total = 0, n, unit;
	int range = 0;

	if (*s == '\0')
		return ARGS_EFORMAT;
	while (*s != '\0') {
		if (!is_digit(*s))
			return ARGS_EFORMAT;
		/* Stop growing past the max: n * 10 + 9 cannot wrap then. */
		for (n = 0; is_digit(*s); s++)
			if (n <= ARGS_DURATION_MAX)
				n = n * 10 + (uint64_t)(*s - '0');
		/* A bare number has no unit: "60" is not "60s". */
		if ((unit = unit_seconds(*s)) == 0)
			return ARGS_EFORMAT;
		s++;
		/* Keep scanning: a malformed tail is the better message. */
		if (n > (ARGS_DURATION_MAX - total) / unit)
			range = 1;
		else
			total += n * unit;
	}
	if (range)
		return ARGS_ERANGE;
	*out = total;
	return ARGS_OK;
}

/* The number in the len bytes at s; args_number for a part of a string. */
static int
number_span(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t	n = 0, d;
	size_t		i;
	int		range = 0;

	if (len == 0)
		return ARGS_EFORMAT;
	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return ARGS_EFORMAT;
		d = (uint64_t)(s[i] - '0');
		if (range || d > max || n > (max - d) / 10)
			range = 1;
		else
			n = n * 10 + d;
	}
	if (range)
		return ARGS_ERANGE;
	*out = n;
	return ARGS_OK;
}

int
args_number(const char *s, uint64_t max, uint64_t *out)
{
	return number_span(s, strlen(s), max, out);
}

/*
 * Both parts are parsed before either is judged, so that, as in a
 * DURATION, a malformed part is reported before an overflow or a zero.
 */
static int
parse_per(const char *s, uint64_t nmax, uint64_t dmax, uint64_t *n,
    uint64_t *secs, enum per_part *part)
{
	const char	*slash;
	uint64_t	 count = 0, d = 0;
	int		 nrc, drc;

	*part = PER_FORM;
	if ((slash = strchr(s, '/')) == NULL)
		return ARGS_EFORMAT;
	nrc = number_span(s, (size_t)(slash - s), nmax, &count);
	drc = args_duration(slash + 1, &d);
	if (drc == ARGS_OK && d > dmax)
		drc = ARGS_ERANGE;
	if (nrc == ARGS_OK && count == 0)
		nrc = ARGS_EZERO;
	if (drc == ARGS_OK && d == 0)
		drc = ARGS_EZERO;

	if (nrc == ARGS_EFORMAT || (drc != ARGS_EFORMAT && nrc != ARGS_OK)) {
		*part = PER_N;
		return nrc;
	}
	if (drc != ARGS_OK) {
		*part = PER_DURATION;
		return drc;
	}
	*n = count;
	*secs = d;
	return ARGS_OK;
}

int
args_per(const char *s, uint64_t nmax, uint64_t dmax, uint64_t *n,
    uint64_t *secs)
{
	enum per_part	part;

	return parse_per(s, nmax, dmax, n, secs, &part);
}
