/*
 * args.h - command-line scanning for apikeyctl.
 *
 * Every command scans its argv with one struct args: the command's own
 * options plus the global ones (--socket-dir, --json, --timeout, --help,
 * --version), which may therefore stand anywhere on the line. Positional
 * arguments are collected in order. Values (durations, numbers) are parsed
 * here too, and usage errors are printed here, so that every command words
 * them the same way. The module needs nothing but libc.
 */
#ifndef APIKEYCTL_ARGS_H
#define APIKEYCTL_ARGS_H

#include <getopt.h>
#include <stdint.h>

struct ctl;

#define ARGS_MAX_OPTS	32	/* long options of a command, globals too */
#define ARGS_MAX_POS	4

/* First val free for a command's own long-only options. */
#define ARGS_OPT_BASE	0x200

/* What args_next() returns when it is not a command option's val. */
#define ARGS_END	0
#define ARGS_HELP	(-1)
#define ARGS_VERSION	(-2)
#define ARGS_ERROR	(-3)	/* usage error, already printed */

/* args_init() flags */
#define ARGS_STOP	0x01	/* stop at the first positional, a word */
#define ARGS_SECRET	0x02	/* never echo a positional back */

/* Values of a DURATION: at most 100 years. */
#define ARGS_DURATION_MAX	UINT64_C(3155760000)

#define ARGS_OK		0
#define ARGS_EFORMAT	(-1)
#define ARGS_ERANGE	(-2)
#define ARGS_EZERO	(-3)	/* N/DURATION: either part is zero */

struct args {
	struct ctl	*ctl;
	int		 argc;
	char		**argv;
	int		 flags;
	const char	*arg;		/* argument of the option returned */
	int		 next;		/* with ARGS_STOP: index of the word */
	int		 npos;		/* positionals seen, even past max */
	char		*pos[ARGS_MAX_POS];
	char		 shortopts[16];
	struct option	 longopts[ARGS_MAX_OPTS + 1];
};

/*
 * Prepares to scan argv (argv[0] is the command's name, not scanned).
 * shortopts and longopts are the command's own options, either may be
 * NULL; long-only options use vals from ARGS_OPT_BASE up.
 */
void	args_init(struct args *, struct ctl *, int argc, char **argv,
	    int flags, const char *shortopts, const struct option *longopts);
/* Adds more of the command's own options, before the first args_next(). */
void	args_add_options(struct args *, const struct option *longopts);
/*
 * The whole scan of a command that has no options of its own and takes
 * exactly npos positionals (what names them, e.g. "ID"): -1 to go on with
 * them in ->pos, else the exit status.
 */
int	args_only(struct args *, struct ctl *, int argc, char **argv,
	    int npos, const char *what);
/*
 * The next command option's val, with its argument in ->arg; global options
 * are applied to the ctl and not returned. ARGS_END when done, or
 * ARGS_HELP, ARGS_VERSION or ARGS_ERROR: hand those to args_finish().
 */
int	args_next(struct args *);
/* The exit status after ARGS_HELP (prints the synopsis), ARGS_VERSION or
 * ARGS_ERROR. */
int	args_finish(const struct args *, int ch);
/* 0 when min to max positionals were given, else -1 after a usage error
 * that names what (e.g. "ID") as missing. */
int	args_positionals(const struct args *, int min, int max,
	    const char *what);
/* Prints "apikeyctl: MESSAGE" and the synopsis on stderr; returns
 * CTL_EXIT_USAGE. */
int	args_usage(const struct args *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* ->arg as a DURATION, with a usage error naming opt on failure: 0 or -1. */
int	args_duration_value(const struct args *, const char *opt,
	    uint64_t *out);
/* ->arg as a number up to max, with a usage error on failure: 0 or -1. */
int	args_number_value(const struct args *, const char *opt, uint64_t max,
	    uint64_t *out);
/*
 * ->arg as N/DURATION (see args_per), with a usage error naming opt on
 * failure: 0 or -1. form shows the shape in that error, e.g.
 * "N/DURATION, e.g. 100/1m".
 */
int	args_per_value(const struct args *, const char *opt, const char *form,
	    uint64_t nmax, uint64_t dmax, uint64_t *n, uint64_t *secs);

/* DURATION ("60s", "1h30m"): one or more NUMBER UNIT pairs, units s m h d
 * w, summed. ARGS_OK, ARGS_EFORMAT or ARGS_ERANGE (over the max). */
int	args_duration(const char *, uint64_t *out);
/* Decimal digits only, at most max. ARGS_OK, ARGS_EFORMAT or ARGS_ERANGE. */
int	args_number(const char *, uint64_t max, uint64_t *out);
/*
 * N/DURATION ("100/1m", "1000/1d"): a number from 1 to nmax, a slash and a
 * DURATION from 1s to dmax seconds (dmax at most ARGS_DURATION_MAX).
 * ARGS_OK, ARGS_EFORMAT, ARGS_ERANGE (a part over its max) or ARGS_EZERO.
 */
int	args_per(const char *, uint64_t nmax, uint64_t dmax, uint64_t *n,
	    uint64_t *secs);

/* "apikeyctl: MESSAGE" on stderr. */
void	ctl_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
