#!/bin/sh
# tests/fuzz/run.sh TARGET FUZZDIR SECONDS - runs one fuzz target, as
# `make fuzz` does for each (mk/fuzz.mk):
#
#   1. every file in tests/fuzz/regress/TARGET/ once (libFuzzer runs the
#      files it is given as arguments), so a fixed bug stays fixed;
#   2. the fuzzer for SECONDS (-max_total_time) on a scratch copy, in
#      FUZZDIR/run/TARGET/corpus, of tests/fuzz/corpus/TARGET/ and of the
#      generated seeds in FUZZDIR/seeds/TARGET/: the committed corpus is
#      never written to.
#
# Any crash, leak, timeout or sanitizer report fails it (exit 1) with the
# end of libFuzzer's log and the reproducer it wrote. Otherwise it prints
# one line of libFuzzer's final stats.
set -u

t=$1
fz=$2
secs=$3
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$fz/fuzz_$t
work=$fz/run/$t
regress=$top/tests/fuzz/regress/$t

# Longest input: a little over the largest valid one of each target.
case $t in
frames) maxlen=20000 ;;	# 1 control byte + frames; key create ~12 KiB
record) maxlen=16384 ;;	# KEY_REC_MAX is about 15 KiB
config) maxlen=8192 ;;	# lines are at most 4096 bytes
metadata) maxlen=4200 ;;	# PROTO_METADATA_MAX and a bit
*) maxlen=256 ;;	# tokens: TOKEN_MAX is 78
esac
dict=
[ -f "$top/tests/fuzz/$t.dict" ] && dict=-dict=$top/tests/fuzz/$t.dict

: "${UBSAN_OPTIONS:=print_stacktrace=1}"
export UBSAN_OPTIONS

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
log=$work/fuzz.log

# Prints the report (from its first line: a sanitizer's, libFuzzer's or
# a target's own check) and the reproducers, and fails.
failed() {
	echo "fuzz $t: FAILED ($1); log: $log" >&2
	awk '!p && /ERROR|runtime error|^(fuzz_[a-z]+|codec_all|reply_check): /
	    { p = 1 } p && n++ < 100 { print } END { exit !p }' "$log" >&2 ||
	    tail -n 60 "$log" >&2
	for f in "$work"/artifacts/*; do
		[ -e "$f" ] || continue
		echo "fuzz $t: reproducer: $f" >&2
		echo "fuzz $t: re-run it:  $bin $f" >&2
	done
	exit 1
}

if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
	n=$(ls -A "$regress" | wc -l)
	if ! "$bin" -artifact_prefix="$work/artifacts/" "$regress"/* \
	    >"$log" 2>&1; then
		failed "a regression input crashes again"
	fi
	echo "fuzz $t: $n regression inputs pass"
fi

for d in "$top/tests/fuzz/corpus/$t" "$fz/seeds/$t"; do
	[ -d "$d" ] && [ -n "$(ls -A "$d")" ] && cp "$d"/* "$work/corpus/"
done

echo "fuzz $t: $secs s on $(ls "$work/corpus" | wc -l) seeds"
# stderr of the target (the daemon's log lines) goes to /dev/null:
# libFuzzer's own output and every sanitizer report still reach the log.
# -len_control=0: inputs up to maxlen from the start, not after minutes.
if ! "$bin" -max_total_time="$secs" -max_len="$maxlen" -len_control=0 \
    -timeout=30 -print_final_stats=1 -close_fd_mask=2 $dict \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1; then
	failed "see the report above"
fi
awk '/^stat::number_of_executed_units/ { n = $2 }
    /^stat::average_exec_per_sec/ { s = $2 }
    /^stat::new_units_added/ { u = $2 }
    END { printf "fuzz '"$t"': ok, %s runs, %s/s, %s new inputs\n", n, s, u }' \
    "$log"
