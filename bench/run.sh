#!/bin/sh
# bench/run.sh BUILD [APIKEY-BENCH OPTIONS...] - runs BUILD/apikey-bench
# against a private apikeyd, for `make bench` and bench/peers.sh.
#
# The daemon is BUILD/apikeyd, in the foreground, on new temporary state
# and socket directories under ${TMPDIR:-/tmp} (on disk here: credit
# commits are real fsyncs), with the settings below; its output goes to a
# log file there, shown if anything fails. The bench waits for both
# sockets to answer (--wait, with a deadline) and seeds its own keys. The
# daemon is stopped (SIGTERM, then waited for) and the directory removed
# however the run ends: a wrong answer, an error, Ctrl-C.
#
# BENCH_CONF, if set, is appended to the daemon's configuration (for
# instance "usage_flush_interval = 1s").
set -eu

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD-DIR [apikey-bench options]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
shift
for f in apikeyd apikey-bench pam_apikey.so; do
	if [ ! -e "$build/$f" ]; then
		echo "$0: $build/$f is missing: make bench-build" >&2
		exit 2
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/apikey-bench.XXXXXX")
pid=
status=0

stop() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		# The daemon answers what it read, then exits.
		if ! wait "$pid"; then
			echo "run.sh: apikeyd exited with status $?;" \
			    "its log:" >&2
			tail -n 20 "$tmp/apikeyd.log" >&2 || true
		fi
		pid=
	fi
	rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Not etc/apikeyd-dev.conf: its log_level = debug writes a line per VALID
# verify, and the bench would measure the logging.
cat >"$tmp/apikeyd.conf" <<CONF
# bench/run.sh: a private apikeyd for apikey-bench
log_level = info
# The keys are the caller's own: no cap on how many one user owns.
max_keys_per_user = 0
# Room for a million keys and their audit records.
map_size = 8G
# The invalid scenarios send wrong secrets as fast as they can; with the
# default throttle their answers would turn RATE_LIMITED (for them only:
# a valid key is never refused for it).
throttle_failures = 0
${BENCH_CONF:-}
CONF

echo "run.sh: apikeyd state and sockets in $tmp" \
    "($(stat -f -c %T "$tmp") file system)"
"$build/apikeyd" --foreground -c "$tmp/apikeyd.conf" \
    --state-dir "$tmp/state" --socket-dir "$tmp/sock" \
    >"$tmp/apikeyd.log" 2>&1 &
pid=$!

"$build/apikey-bench" --socket-dir "$tmp/sock" --wait 30000 "$@" ||
    status=$?
if [ "$status" -ne 0 ]; then
	echo "run.sh: apikey-bench exited with status $status;" \
	    "apikeyd's log ends:" >&2
	tail -n 20 "$tmp/apikeyd.log" >&2 || true
fi
exit "$status"
