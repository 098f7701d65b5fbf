#!/bin/sh
# bench/peers.sh [KEYS [SECONDS]] - apikeyd beside Redis and PostgreSQL, in
# one run on one machine, at the same concurrency and pipelining (issue
# 11). KEYS (default 100000; 100k and 1M work too) keys go into each:
#
#   apikeyd     apikey-bench's valid-CxD scenarios (bench/run.sh: a
#               private daemon), C connections with D verifies in flight;
#   Redis       SET key:<n> <32-byte hash> through redis-cli --pipe, then
#               redis-benchmark -c C -P D -r KEYS GET key:__rand_int__
#               (redis-benchmark writes __rand_int__ as 12 digits, so the
#               keys are named key:%012d and every GET hits);
#   PostgreSQL  a table keys (id bigint primary key, hash bytea) filled by
#               COPY, then pgbench -M prepared -c C -T SECONDS with
#               "SELECT hash FROM keys WHERE id = :id", id random; at
#               depth 16 one script is 16 such SELECTs in a pipeline
#               (\startpipeline ... \endpipeline), counted as 16 queries.
#
# Each server runs alone, on a Unix socket in a temporary directory (no
# TCP), and is stopped when its part is done; everything it started is
# stopped and removed however the script ends. As root it installs what
# it needs (scripts/deps.sh peers) and runs PostgreSQL as the postgres
# user; otherwise the packages must be there. Prints one table at the end.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
keys_arg=${1:-${BENCH_KEYS:-100000}}
secs=${2:-${BENCH_SECONDS:-5}}
B=${B:-build}

n=$(echo "$keys_arg" | awk '
	/^[0-9]+$/ { print $1; next }
	/^[0-9]+[kK]$/ { print substr($1, 1, length($1) - 1) * 1000; next }
	/^[0-9]+[mM]$/ { print substr($1, 1, length($1) - 1) * 1000000; next }
	{ print "" }')
if [ -z "$n" ] || [ "$n" -lt 1 ]; then
	echo "usage: $0 [KEYS [SECONDS]]" >&2
	exit 2
fi

scripts/deps.sh peers
make --no-print-directory B="$B" bench-build >/dev/null

tmp=$(mktemp -d "${TMPDIR:-/tmp}/apikey-peers.XXXXXX")
# PostgreSQL's user must reach its directories inside.
chmod 0755 "$tmp"
redis_pid=
pg_data=
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

stop_redis() {
	if [ -n "$redis_pid" ]; then
		kill -TERM "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
		redis_pid=
	fi
}

stop_pg() {
	if [ -n "$pg_data" ]; then
		as_pg "$pgbin/pg_ctl" -D "$pg_data" -m fast -w stop \
		    >/dev/null 2>&1 || true
		pg_data=
	fi
}

cleanup() {
	stop_redis
	stop_pg
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Waits up to 10 s for "$@" to succeed, polling.
wait_for() {
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt 200 ]; then
			echo "peers.sh: gave up waiting for: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# The measures: connections and depth.
measures="1:1 16:1 1:16 16:16"

echo "peers.sh: $n keys, ${secs} s per measure; $(nproc) CPUs;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "peers.sh: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 |
    sed 's/^ *//'); kernel $(uname -r); Debian $(cat /etc/debian_version)"

# --- apikeyd ------------------------------------------------------------------
echo
echo "== apikeyd: bench/run.sh $B --keys $n --seconds $secs" \
    "--scenario valid-1x1,valid-16x1,valid-1x16,valid-16x16"
bench/run.sh "$B" --keys "$n" --seconds "$secs" \
    --scenario valid-1x1,valid-16x1,valid-1x16,valid-16x16 |
    tee "$tmp/apikeyd.out"
for m in $measures; do
	c=${m%:*} d=${m#*:}
	v=$(awk -v s="valid-${c}x${d}" '$1 == s { print $4 }' \
	    "$tmp/apikeyd.out")
	if [ -z "$v" ]; then
		echo "peers.sh: no valid-${c}x${d} row from apikey-bench" >&2
		exit 1
	fi
	eval "apikeyd_${c}_${d}=$v"
done

# --- Redis --------------------------------------------------------------------
echo
echo "== Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"
mkdir "$tmp/redis"
rsock=$tmp/redis/redis.sock
redis-server --port 0 --unixsocket "$rsock" --unixsocketperm 700 \
    --save '' --appendonly no --dir "$tmp/redis" \
    --logfile "$tmp/redis/redis.log" --daemonize no &
redis_pid=$!
wait_for redis-cli -s "$rsock" ping
# RESP: SET key:%012d <32 bytes>, a pseudo-random hex string per key.
awk -v n="$n" 'BEGIN {
	srand(1);
	for (i = 0; i < n; i++) {
		k = sprintf("key:%012d", i);
		v = sprintf("%08x%08x%08x%08x", rand() * 4294967295,
		    rand() * 4294967295, rand() * 4294967295,
		    rand() * 4294967295);
		printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\n%s\r\n",
		    length(k), k, v;
	}
}' | redis-cli -s "$rsock" --pipe >"$tmp/redis/load.out"
got=$(redis-cli -s "$rsock" dbsize)
if [ "$got" != "$n" ]; then
	echo "peers.sh: Redis holds $got keys, not $n" >&2
	cat "$tmp/redis/load.out" >&2
	exit 1
fi
# Every GET must hit: the last key is there, with its 32 bytes.
if [ "$(redis-cli -s "$rsock" strlen "$(printf 'key:%012d' $((n - 1)))")" \
    != 32 ]; then
	echo "peers.sh: key:$(printf '%012d' $((n - 1))) is missing" >&2
	exit 1
fi
echo "loaded $n keys"

# requests per second of one redis-benchmark run: connections, depth,
# requests.
rb() {
	redis-benchmark -s "$rsock" -c "$1" -P "$2" -n "$3" -r "$n" --csv \
	    GET key:__rand_int__ | awk -F'"' 'NR == 2 { print $4 }'
}
for m in $measures; do
	c=${m%:*} d=${m#*:}
	# A short run first, to warm up and to size the real one at
	# about SECONDS (redis-benchmark counts requests, not time).
	cal=$(rb "$c" "$d" $((20000 * d)))
	total=$(awk -v r="$cal" -v s="$secs" 'BEGIN { printf "%d", r * s }')
	r=$(rb "$c" "$d" "$total")
	echo "redis-benchmark -s SOCK -c $c -P $d -n $total -r $n --csv" \
	    "GET key:__rand_int__: $r requests/s"
	eval "redis_${c}_${d}=$r"
done
stop_redis

# --- PostgreSQL ---------------------------------------------------------------
echo
echo "== PostgreSQL $("$pgbin/postgres" --version | awk '{ print $3 }')"
mkdir -p "$tmp/pg/sock"
if [ "$(id -u)" -eq 0 ]; then
	chown -R postgres "$tmp/pg"
fi
as_pg "$pgbin/initdb" -D "$tmp/pg/data" -A trust -U postgres --no-sync \
    >"$tmp/pg/initdb.log" 2>&1 || {
	cat "$tmp/pg/initdb.log" >&2
	exit 1
}
pg_data=$tmp/pg/data
# The log must be writable by postgres: it goes in its own directory.
as_pg "$pgbin/pg_ctl" -D "$pg_data" -l "$tmp/pg/sock/postgres.log" -w \
    -o "-k $tmp/pg/sock -c listen_addresses=''" start >/dev/null
psql() {
	command psql -h "$tmp/pg/sock" -U postgres -d postgres -q -X \
	    -v ON_ERROR_STOP=1 "$@"
}
psql -c "CREATE TABLE keys (id bigint PRIMARY KEY, hash bytea NOT NULL)"
# COPY text: \\x then 64 hex digits is a 32-byte bytea.
awk -v n="$n" 'BEGIN {
	srand(2);
	for (i = 1; i <= n; i++)
		printf "%d\t\\\\x%08x%08x%08x%08x%08x%08x%08x%08x\n", i,
		    rand() * 4294967295, rand() * 4294967295,
		    rand() * 4294967295, rand() * 4294967295,
		    rand() * 4294967295, rand() * 4294967295,
		    rand() * 4294967295, rand() * 4294967295;
}' | psql -c "COPY keys FROM STDIN"
psql -c "VACUUM ANALYZE keys"
got=$(psql -At -c "SELECT count(*) FROM keys WHERE length(hash) = 32")
if [ "$got" != "$n" ]; then
	echo "peers.sh: PostgreSQL holds $got keys, not $n" >&2
	exit 1
fi
echo "loaded $n keys"

printf '\\set id random(1, %d)\nSELECT hash FROM keys WHERE id = :id;\n' \
    "$n" >"$tmp/pg/d1.sql"
{
	i=0
	while [ $i -lt 16 ]; do
		printf '\\set id%d random(1, %d)\n' $i "$n"
		i=$((i + 1))
	done
	printf '\\startpipeline\n'
	i=0
	while [ $i -lt 16 ]; do
		printf 'SELECT hash FROM keys WHERE id = :id%d;\n' $i
		i=$((i + 1))
	done
	printf '\\endpipeline\n'
} >"$tmp/pg/d16.sql"

# queries per second of one pgbench run: clients, depth, seconds.
pgb() {
	j=$(( $1 < 2 ? 1 : 2 ))
	command pgbench -h "$tmp/pg/sock" -U postgres -n -M prepared \
	    -c "$1" -j "$j" -T "$3" -f "$tmp/pg/d$2.sql" postgres 2>&1 |
	    awk -v d="$2" '/^tps = / { printf "%.0f", $3 * d }'
}
pgb 16 1 1 >/dev/null	# warm-up: the table into shared buffers
for m in $measures; do
	c=${m%:*} d=${m#*:}
	r=$(pgb "$c" "$d" "$secs")
	if [ -z "$r" ]; then
		echo "peers.sh: pgbench -c $c (depth $d) gave no tps" >&2
		exit 1
	fi
	echo "pgbench -M prepared -c $c -j $(( c < 2 ? 1 : 2 )) -T $secs" \
	    "-f d$d.sql: $r queries/s"
	eval "pg_${c}_${d}=$r"
done
stop_pg

# --- the table ----------------------------------------------------------------
echo
echo "apikeyd verifies/s beside Redis GET/s and PostgreSQL queries/s," \
    "$n keys, one run:"
echo
printf '%-30s %11s %11s %13s %9s %9s\n' "measure" "apikeyd/s" \
    "Redis GET/s" "PostgreSQL/s" "/Redis" "/PgSQL"
for m in $measures; do
	c=${m%:*} d=${m#*:}
	eval "a=\$apikeyd_${c}_${d} r=\$redis_${c}_${d} p=\$pg_${c}_${d}"
	label=$(printf '%s connection%s, %s' "$c" \
	    "$([ "$c" -gt 1 ] && echo s)" \
	    "$([ "$d" -gt 1 ] && echo "$d deep" || echo "no pipelining")")
	awk -v l="$label" -v a="$a" -v r="$r" -v p="$p" 'BEGIN {
		printf "%-30s %11.0f %11.0f %13.0f %8.2fx %8.2fx\n",
		    l, a, r, p, a / r, a / p }'
done
echo
echo "issue 11's targets against the peers (this run):"
awk -v a1="$apikeyd_16_1" -v r1="$redis_16_1" -v a16="$apikeyd_16_16" \
    -v r16="$redis_16_16" -v p1="$pg_16_1" 'BEGIN {
	t("16 connections, no pipelining >= 1.2x Redis -c 16", a1 / r1, 1.2);
	t("16 x 16 deep >= 1.0x Redis -c 16 -P 16", a16 / r16, 1.0);
	t("16 x 16 deep >= 10x PostgreSQL at 16 clients", a16 / p1, 10);
}
function t(what, ratio, want) {
	printf "  %-50s %6.2fx  %s\n", what, ratio,
	    (ratio >= want ? "met" : "MISSED")
}'
