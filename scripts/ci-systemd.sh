#!/usr/bin/env bash
# scripts/ci-systemd.sh - boots the Debian packages under a real systemd.
# Builds the packages in a scratch copy of the tree (as ci-packages.sh
# does), installs them in a Debian bookworm container made with debootstrap,
# boots it with systemd-nspawn and lets a test unit check, from inside, what
# only a real service manager can show: the two socket units, socket
# activation, Type=notify readiness and STATUS=, the watchdog, restarts that
# lose no request, the hardening and the network drop-in, the state
# directory, journal priorities, and a clean stop. The test unit writes its
# results to a directory of this machine and powers the container off.
#
# Runs as root (CI runs it from .ci/run). The debootstrapped root is kept in
# /var/tmp/apikeyd-nspawn/root (with root.stamp) only when KEEP_NSPAWN_ROOT
# is set, and reused by later runs; every run boots a copy of it, so the
# cached root never sees the packages. CI_SYSTEMD_TIMEOUT bounds the boot
# and the tests (seconds, default 300). On any failure it says what failed
# and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs="apikeyd libapikey1 libapikey-dev libpam-apikey"
cache=/var/tmp/apikeyd-nspawn
base=$cache/root
stamp=$cache/root.stamp
suite=bookworm
mirror=http://deb.debian.org/debian
include=systemd,systemd-sysv,dbus,libpam-runtime,procps
want_stamp="debootstrap --variant=minbase --include=$include $suite $mirror"
boot_timeout=${CI_SYSTEMD_TIMEOUT:-300}
machine=apikeyd-ci-$$

scratch= work= created_base=no nspawn_pid=

step() { echo "== ci-systemd: $*"; }
ok() { echo "   ok: $*"; }
fail() {
	echo "ci-systemd: FAILED: $*" >&2
	exit 1
}
took() { echo "$(($(date +%s) - $1))s"; }

# Undoes whatever the run got to, whether it passed or failed.
cleanup() {
	local status=$? i
	set +e
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		echo "ci-systemd: stopping the container" >&2
		kill -TERM "$nspawn_pid"
		for ((i = 0; i < 150; i++)); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null
	fi
	[ -n "$work" ] && rm -rf --one-file-system "$work"
	# systemd-nspawn leaves this behind when /run is not a tmpfs.
	rm -rf "/run/systemd/nspawn/propagate/$machine"
	if [ "$created_base" = yes ]; then
		if [ -n "${KEEP_NSPAWN_ROOT:-}" ]; then
			echo "ci-systemd: keeping $base for later runs" \
			    "(KEEP_NSPAWN_ROOT is set)"
		else
			echo "ci-systemd: removing $base, which this run" \
			    "created (set KEEP_NSPAWN_ROOT to keep it)"
			flock "$cache/lock" rm -rf --one-file-system "$base" \
			    "$stamp"
		fi
	fi
	[ -n "$scratch" ] && rm -rf "$scratch"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" -eq 0 ] || fail "must run as root (debootstrap, systemd-nspawn)"
t_all=$(date +%s)

# --- tools ------------------------------------------------------------------

step "packaging and container tools"
scripts/deps.sh systemd-test
# PID 1 of CI machines may be no systemd: then there is no bus to register
# the container or make a scope with, and the host's cgroups may be v1 or
# hybrid, where the container's systemd gets a clean tree only in unified
# mode (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1).
nspawn_opts=(--quiet --register=no "--machine=$machine")
if [ -d /run/systemd/system ]; then
	ok "this machine runs systemd: the container runs in a scope of its own"
else
	nspawn_opts+=(--keep-unit)
	unified=${SYSTEMD_NSPAWN_UNIFIED_HIERARCHY:-1}
	export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=$unified
	ok "PID 1 is $(cat /proc/1/comm), not systemd: --register=no" \
	    "--keep-unit, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=$unified"
fi

# --- build (the steps of scripts/ci-packages.sh) ------------------------------

version=$(dpkg-parsechangelog -SVersion)
upstream=${version%-*}
scratch=$(mktemp -d /tmp/apikeyd-systemd.XXXXXX)
src=$scratch/apikeyd-$upstream
step "building $version in $src"
t=$(date +%s)
mkdir "$src"
tar --exclude='./build*' --exclude=./run --exclude=./.git \
    --exclude=./debian/tmp -cf - . | tar -C "$src" -xf -
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$scratch/build.log" 2>&1 ||
    { tail -n 40 "$scratch/build.log" >&2; fail "dpkg-buildpackage"; }
mkdir "$scratch/debs"
for p in $pkgs; do
	f=$(echo "$scratch/${p}_${version}_"*.deb)
	[ -f "$f" ] || fail "dpkg-buildpackage made no package $p"
	cp "$f" "$scratch/debs/"
done
ok "built: $(cd "$scratch/debs" && echo *.deb) ($(took "$t"))"

# The restart check needs one client that lives across restarts; apikeyctl
# opens a connection per command. This helper is built here against the
# libapikey-dev package (its header, .so link and apikey.pc), and runs in
# the container against the installed libapikey1.
step "the long-lived client, against libapikey-dev's files"
dev=$scratch/dev
mkdir "$dev"
for p in libapikey1 libapikey-dev; do
	dpkg-deb -x "$scratch/debs/${p}_${version}_"*.deb "$dev"
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
cat >"$scratch/apikeyd-ci-client.c" <<'EOF'
/*
 * apikeyd-ci-client - run by the systemd test of scripts/ci-systemd.sh.
 *   apikeyd-ci-client loop STOPFILE <TOKEN
 *	one client, one connection: verifies TOKEN until STOPFILE exists;
 *	every answer but VALID is a failure. Exit 0 if none failed.
 *   apikeyd-ci-client junk
 *	sends one undecodable frame to /run/apikeyd/verify.sock.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <apikey.h>

static int
loop(const char *stop)
{
	struct apikey_client	*c;
	struct apikey_result	*res;
	char			 key[256] = "";
	unsigned long		 valid = 0, failed = 0;
	int			 rc;

	if (fgets(key, sizeof(key), stdin) == NULL)
		return 2;
	key[strcspn(key, "\n")] = '\0';
	if ((rc = apikey_open(NULL, 10000, &c)) != 0) {
		printf("apikey_open: %s\n", apikey_strerror(rc));
		return 2;
	}
	while (access(stop, F_OK) != 0) {
		if ((rc = apikey_verify(c, key, NULL, &res)) != 0) {
			if (failed++ < 20)
				printf("verify %lu: %s (%s)\n",
				    valid + failed, apikey_strerror(rc),
				    apikey_last_error(c));
			usleep(10000);
			continue;
		}
		if (apikey_result_code(res) == APIKEY_VALID)
			valid++;
		else if (failed++ < 20)
			printf("verify %lu: %s\n", valid + failed,
			    apikey_code_name(apikey_result_code(res)));
		apikey_result_free(res);
	}
	apikey_close(c);
	printf("valid: %lu failed: %lu\n", valid, failed);
	return failed == 0 && valid > 0 ? 0 : 1;
}

static int
junk(void)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { 5, 0 };
	unsigned char		 frame[16];
	char			 buf[512];
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, "/run/apikeyd/verify.sock");
	memset(frame, 0xff, sizeof(frame));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    write(fd, frame, sizeof(frame)) != (ssize_t)sizeof(frame)) {
		perror("verify.sock");
		return 1;
	}
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "loop") == 0)
		return loop(argv[2]);
	if (argc == 2 && strcmp(argv[1], "junk") == 0)
		return junk();
	fprintf(stderr, "usage: apikeyd-ci-client loop STOPFILE | junk\n");
	return 2;
}
EOF
pc() {
	PKG_CONFIG_SYSROOT_DIR=$dev \
	    PKG_CONFIG_LIBDIR=$dev/usr/lib/$multiarch/pkgconfig pkg-config "$@"
}
# shellcheck disable=SC2046
gcc -O2 -Wall -Wextra -Werror $(pc --cflags apikey) \
    -o "$scratch/apikeyd-ci-client" "$scratch/apikeyd-ci-client.c" \
    $(pc --libs apikey) || fail "cannot build the test client"
ok "built apikeyd-ci-client with $(pc --cflags --libs apikey)"

# --- the container's root ---------------------------------------------------

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
if [ -d "$base" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ]
then
	step "reusing $base (made by: $(cat "$stamp"))"
else
	step "$want_stamp $base"
	t=$(date +%s)
	created_base=yes
	rm -rf --one-file-system "$base" "$stamp"
	debootstrap --variant=minbase --include="$include" "$suite" "$base" \
	    "$mirror" >"$scratch/debootstrap.log" 2>&1 ||
	    { tail -n 30 "$scratch/debootstrap.log" >&2; fail "debootstrap"; }
	echo "$want_stamp" >"$stamp"
	ok "debootstrapped $suite ($(took "$t"))"
fi
work=$(mktemp -d "$cache/run.XXXXXX")
root=$work/root
cp -a "$base" "$root"
flock -u 9
mkdir "$work/results"

step "installing the packages in a copy of it: systemd-nspawn --pipe apt-get"
t=$(date +%s)
# Not booted: as in a chroot, the postinst only enables the units.
systemd-nspawn "${nspawn_opts[@]}" -D "$root" \
    --bind-ro="$scratch/debs:/tmp/debs" --pipe \
    /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive
	apt-get update -q && apt-get install -y -q /tmp/debs/*.deb' \
    >"$scratch/install.log" 2>&1 </dev/null ||
    { tail -n 30 "$scratch/install.log" >&2; fail "apt-get in the container"; }
for p in $pkgs; do
	dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' "$p" |
	    grep -q 'install ok installed' || fail "$p is not installed"
done
ok "installed $pkgs ($(took "$t"))"
grep -E '^(Creating|Created symlink)' "$scratch/install.log" | sed 's/^/   /'

# --- the test unit ----------------------------------------------------------

step "writing the test unit apikeyd-ci-test.service into the container"
install -m 0755 "$scratch/apikeyd-ci-client" "$root/usr/local/bin/"
cat >"$root/etc/systemd/system/apikeyd-ci-test.service" <<EOF
# Written by scripts/ci-systemd.sh: runs the test once the system is up,
# then ends the container with the test's exit status.
[Unit]
Description=apikeyd under systemd: the CI test
After=multi-user.target
SuccessAction=exit
FailureAction=exit

[Service]
Type=oneshot
Environment=CI_UPSTREAM=$upstream
ExecStart=/usr/local/sbin/apikeyd-ci-test
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=$((boot_timeout - 30))

[Install]
WantedBy=multi-user.target
EOF
ln -s /etc/systemd/system/apikeyd-ci-test.service \
    "$root/etc/systemd/system/multi-user.target.wants/apikeyd-ci-test.service"

cat >"$root/usr/local/sbin/apikeyd-ci-test" <<'EOF'
#!/bin/bash
# apikeyd-ci-test - written by scripts/ci-systemd.sh and run once by
# apikeyd-ci-test.service, after multi-user.target. Checks apikeyd's units
# under the container's systemd; writes what it finds to
# /ci-results/results.txt (a directory of the machine that runs the
# container) and exits 1 if anything failed.
set -uo pipefail
out=/ci-results/results.txt
sockdir=/run/apikeyd
unit=apikeyd.service
tokfile=/run/apikeyd-ci.token
stopfile=/run/apikeyd-ci.stop
failures=()
: >"$out"

say() { printf '%s\n' "$*" | tee -a "$out"; }
step() { say "== ci-systemd (container): $*"; }
ok() { say "   ok: $*"; }
bad() { say "   FAILED: $*"; failures+=("$*"); }
note() { say "   note: $*"; }
indent() { sed 's/^/      /' | tee -a "$out"; }
oneline() { tr '\n' ' ' | sed 's/ *$//'; }
prop() { systemctl show -P "$2" "$1"; }
# Tries "$@" for up to 10 s: the journal may lag behind a moment.
eventually() {
	local i
	for ((i = 0; i < 100; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
# journal_has PID REGEX: a line of that process matches.
journal_has() {
	journalctl -q -b "_PID=$1" -o cat | grep -Eq "$2"
}
# apikeyd's lines as "PRIORITY MESSAGE", from journalctl -o verbose.
journal_prio() {
	journalctl -q -b -u "$unit" -o verbose | awk '
	    /^[^ \t]/ { if (m != "") print p, m; p = ""; m = ""; next }
	    /^    PRIORITY=/ { sub(/^ +PRIORITY=/, ""); p = $0; next }
	    /^    MESSAGE=/ { sub(/^ +MESSAGE=/, ""); m = $0; next }
	    END { if (m != "") print p, m }'
}
state() { echo "$(prop "$1" ActiveState)/$(prop "$1" SubState)"; }

step "systemd $(systemctl --version | head -n 1 | cut -d' ' -f2) in" \
    "$(systemd-detect-virt), after multi-user.target"

# 1 --------------------------------------------------------------------------
step "1. socket units, socket activation, the daemon's user"
if systemctl is-active -q apikeyd.socket apikeyd-admin.socket; then
	ok "apikeyd.socket and apikeyd-admin.socket are active"
else
	bad "sockets not active:" \
	    "$(systemctl is-active apikeyd.socket apikeyd-admin.socket | oneline)"
fi
en=$(systemctl is-enabled apikeyd.socket apikeyd-admin.socket $unit | xargs)
[ "$en" = "enabled enabled enabled" ] &&
    ok "the package enabled the sockets and the service" ||
    bad "is-enabled apikeyd.socket apikeyd-admin.socket $unit: $en"
note "$unit at boot: $(state $unit) (enabled in multi-user.target)"
systemctl stop $unit
if [ "$(prop $unit ActiveState)" = inactive ] &&
    systemctl is-active -q apikeyd.socket apikeyd-admin.socket &&
    [ -S $sockdir/verify.sock ] && [ -S $sockdir/admin.sock ]; then
	ok "$unit stopped; both sockets still listen in $sockdir"
else
	bad "after systemctl stop $unit: service $(state $unit)," \
	    "sockets $(systemctl is-active apikeyd.socket apikeyd-admin.socket |
	    oneline)"
fi
if st=$(apikeyctl status 2>&1); then
	ok "apikeyctl status answered: the connection started $unit"
else
	bad "apikeyctl status with the service stopped: $st"
fi
pid=$(prop $unit MainPID)
user=$(prop $unit User)
if [ "$(state $unit)" = active/running ] && [ "$pid" -gt 0 ] &&
    [ "$user" = apikeyd ]; then
	ok "$unit active (running): MainPID=$pid User=$user"
else
	bad "$unit: $(state $unit) MainPID=$pid User=$user"
fi
psuser=$(ps -o user= -p "$pid" | xargs)
[ "$psuser" = apikeyd ] && ok "ps -o user= -p $pid: $psuser" ||
    bad "ps -o user= -p $pid: '$psuser', not apikeyd"
if printf '%s\n' "$st" | grep -qx "pid: $pid" &&
    printf '%s\n' "$st" | grep -qx "version: $CI_UPSTREAM" &&
    printf '%s\n' "$st" | grep -qx "verify_socket: $sockdir/verify.sock"; then
	ok "status: version $CI_UPSTREAM, pid $pid, $sockdir/verify.sock"
else
	bad "status does not match (version $CI_UPSTREAM, pid $pid):"
	printf '%s\n' "$st" | head -n 6 | indent
fi
eventually journal_has "$pid" 'listening on .* \(passed by the service' &&
    ok "apikeyd logged: listening on ... (passed by the service manager)" ||
    bad "no 'listening on ... (passed by the service manager)' from pid $pid"

# 2 --------------------------------------------------------------------------
step "2. Type=notify readiness, STATUS=, watchdog"
[ "$(prop $unit Type)/$(prop $unit NotifyAccess)" = notify/main ] ||
    bad "Type/NotifyAccess: $(prop $unit Type)/$(prop $unit NotifyAccess)"
if [ "$(state $unit)" = active/running ]; then
	ok "READY=1 arrived:" \
	    "$(systemctl status $unit --no-pager | grep -m1 'Active:' | sed 's/^ *//')"
else
	bad "$unit is $(state $unit), not active/running"
fi
want="Serving $sockdir/verify.sock and $sockdir/admin.sock"
text=$(prop $unit StatusText)
[ "$text" = "$want" ] && ok "StatusText=$text" ||
    bad "StatusText='$text', not '$want'"
wd=$(prop $unit WatchdogUSec)
[ "$wd" = 30s ] && ok "WatchdogUSec=$wd" || bad "WatchdogUSec=$wd, not 30s"
# WatchdogSec=2 for a moment: 10 s idle are five watchdog periods.
dropin=/run/systemd/system/$unit.d/ci-watchdog.conf
mkdir -p "${dropin%/*}"
printf '[Service]\nWatchdogSec=2\n' >"$dropin"
systemctl daemon-reload
systemctl restart $unit
pid=$(prop $unit MainPID)
since=$(date '+%Y-%m-%d %H:%M:%S')
nr=$(prop $unit NRestarts)
sleep 10
if [ "$(prop $unit WatchdogUSec)" = 2s ] &&
    [ "$(prop $unit MainPID)" = "$pid" ] &&
    [ "$(prop $unit NRestarts)" = "$nr" ] &&
    [ "$(state $unit)" = active/running ] &&
    ! journalctl -q -u $unit --since "$since" | grep -qi watchdog; then
	ok "WatchdogSec=2: 10 s idle, still pid $pid, NRestarts=$nr," \
	    "last ping $(prop $unit WatchdogTimestamp | cut -d' ' -f3)"
else
	bad "watchdog: WatchdogUSec=$(prop $unit WatchdogUSec)" \
	    "MainPID $pid -> $(prop $unit MainPID)," \
	    "NRestarts $nr -> $(prop $unit NRestarts), $(state $unit)"
	journalctl -q -u $unit --since "$since" | tail -n 20 | indent
fi
rm -f "$dropin"
systemctl daemon-reload
systemctl restart $unit
[ "$(prop $unit WatchdogUSec)" = 30s ] ||
    bad "WatchdogUSec=$(prop $unit WatchdogUSec) after the drop-in went"

# 3 --------------------------------------------------------------------------
step "3. a key: apikeyctl key create -q, apikeyctl verify"
if token=$(apikeyctl key create -q --name ci-systemd 2>&1); then
	(umask 077 && printf '%s\n' "$token" >"$tokfile")
	out3=$(apikeyctl verify - --user root <"$tokfile" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ "$(printf '%s\n' "$out3" | head -n 1)" = VALID ] &&
	    printf '%s\n' "$out3" | grep -qx 'authorized: yes'; then
		ok "key $(echo "$token" | cut -d_ -f2): VALID, authorized for root"
	else
		bad "apikeyctl verify of a new key: exit $rc"
		printf '%s\n' "$out3" | indent
	fi
else
	bad "apikeyctl key create -q: $token"
	printf 'ak_00000000000_x\n' >"$tokfile"
fi

# 4 --------------------------------------------------------------------------
step "4. systemctl restart x3 under load: no request lost"
rm -f "$stopfile" /run/apikeyd-ci.fail /run/apikeyd-ci.cli.*
stopped=()
cli_loop() {
	local n=0 f=0 o
	while [ ! -e "$stopfile" ]; do
		if o=$(apikeyctl verify - <"$tokfile" 2>&1); then
			n=$((n + 1))
		else
			f=$((f + 1))
			echo "apikeyctl loop $1: $(echo "$o" | head -n 2 | oneline)" \
			    >>/run/apikeyd-ci.fail
		fi
	done
	echo "$n $f" >"/run/apikeyd-ci.cli.$1"
}
loops=()
for i in 1 2 3 4; do
	cli_loop $i &
	loops+=($!)
done
apikeyd-ci-client loop "$stopfile" <"$tokfile" >/run/apikeyd-ci.client 2>&1 &
client=$!
sleep 2
for r in 1 2 3; do
	before=$(prop $unit MainPID)
	stopped+=("$before")
	t0=$(date +%s%N)
	systemctl restart $unit
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	after=$(prop $unit MainPID)
	if [ $rc -eq 0 ] && [ "$after" != "$before" ] && [ "$after" -gt 0 ] &&
	    [ "$(state $unit)" = active/running ]; then
		ok "restart $r: pid $before -> $after, ready in $ms ms"
	else
		bad "restart $r: exit $rc, pid $before -> $after, $(state $unit)"
	fi
	sleep 2
done
touch "$stopfile"
wait "${loops[@]}"
wait "$client"
crc=$?
n=0 f=0
for i in 1 2 3 4; do
	read -r a b <"/run/apikeyd-ci.cli.$i" || { a=0 b=1; }
	n=$((n + a)) f=$((f + b))
done
if [ $f -eq 0 ] && [ $n -gt 0 ]; then
	ok "4 apikeyctl loops (a connection each): $n verifies VALID, 0 failed"
else
	bad "apikeyctl loops: $n VALID, $f failed"
	head -n 20 /run/apikeyd-ci.fail 2>/dev/null | indent
fi
if [ $crc -eq 0 ]; then
	ok "one long-lived libapikey client: $(tail -n 1 /run/apikeyd-ci.client)"
else
	bad "the long-lived client (exit $crc)"
	head -n 22 /run/apikeyd-ci.client | indent
fi
[ "$(prop $unit NRestarts)" = 0 ] ||
    bad "NRestarts=$(prop $unit NRestarts): the service failed at some point"
# How many connections each stopping daemon drained (said goodbye on).
drained=$(for p in "${stopped[@]}"; do
	journalctl -q -b "_PID=$p" -o cat |
	    sed -n 's/.*shutting down: answering \([0-9]*\) verify.*/\1/p'
done | xargs)
note "verify connections each stopping daemon still had open:" \
    "${drained:-none logged}"

# 5 --------------------------------------------------------------------------
step "5. hardening, the network drop-in, the state directory, the journal"
pid=$(prop $unit MainPID)
sec=$(systemd-analyze security $unit 2>&1 | grep 'Overall exposure level')
[ -n "$sec" ] && ok "systemd-analyze security: ${sec#→ }" ||
    bad "systemd-analyze security $unit printed no exposure level"
dropins=$(prop $unit DropInPaths)
if [[ "$dropins" == *apikeyd.service.d/network.conf* ]] &&
    [ "$(prop $unit PrivateNetwork)" = yes ] &&
    [ "$(prop $unit RestrictAddressFamilies)" = AF_UNIX ]; then
	ok "network.conf applies: PrivateNetwork=yes" \
	    "RestrictAddressFamilies=AF_UNIX IPAddressDeny=$(prop $unit IPAddressDeny)"
else
	bad "network drop-in: DropInPaths=$dropins" \
	    "PrivateNetwork=$(prop $unit PrivateNetwork)" \
	    "RestrictAddressFamilies=$(prop $unit RestrictAddressFamilies)"
fi
ifaces=$(awk 'NR > 2 { sub(":", "", $1); print $1 }' /proc/$pid/net/dev | xargs)
if [ "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/1/ns/net)" ] &&
    [ "$ifaces" = lo ]; then
	ok "apikeyd has a network namespace of its own, with only: $ifaces"
else
	bad "apikeyd's network: $(readlink /proc/$pid/ns/net) (PID 1's:" \
	    "$(readlink /proc/1/ns/net)), interfaces: $ifaces"
fi
if st=$(apikeyctl status 2>&1) &&
    printf '%s\n' "$st" | grep -qx "pid: $pid"; then
	ok "apikeyd works with it: apikeyctl status answers from pid $pid"
else
	bad "apikeyctl status: $st"
fi
procst=$(grep -E '^(NoNewPrivs|Seccomp|CapEff|CapBnd):' "/proc/$pid/status" |
    xargs)
zero=0000000000000000
[ "$procst" = "CapEff: $zero CapBnd: $zero NoNewPrivs: 1 Seccomp: 2" ] &&
    ok "/proc/$pid/status: $procst" || bad "/proc/$pid/status: $procst"
nofile=$(awk '/^Max open files/ { print $4 "/" $5 }' /proc/$pid/limits)
[ "$nofile" = 65536/65536 ] || note "LimitNOFILE=65536, but apikeyd has" \
    "$nofile open files (soft/hard): the container's own hard limit" \
    "($(ulimit -Hn)) caps it, and it may not raise that"
sd=$(stat -c '%U:%G %a' /var/lib/apikeyd)
files=$(stat -c '%n %U' /var/lib/apikeyd/* | xargs)
if [ "$sd" = "apikeyd:apikeyd 700" ] &&
    ! stat -c '%U' /var/lib/apikeyd/* | grep -qv '^apikeyd$'; then
	ok "/var/lib/apikeyd: $sd; $files"
else
	bad "/var/lib/apikeyd: $sd; $files"
fi
# A warning on purpose: an undecodable frame on verify.sock.
apikeyd-ci-client junk
if eventually journal_has "$pid" 'bad frame'; then
	if journal_prio | grep -Eq '^4 .*bad frame'; then
		ok "a bad frame's warning has PRIORITY=4 in the journal"
	else
		bad "the bad frame's warning has no PRIORITY=4:"
		journal_prio | grep 'bad frame' | indent
	fi
else
	bad "apikeyd logged no warning for an undecodable frame"
fi
pid1=$(journalctl -q -b _PID=1 -p warning | grep -i apikeyd)
[ -z "$pid1" ] && ok "systemd logged no warning about apikeyd's units" || {
	bad "systemd's warnings about apikeyd's units:"
	printf '%s\n' "$pid1" | indent
}
warnings=$(journalctl -q -b -u $unit -p warning | grep -v 'bad frame')
[ -z "$warnings" ] && ok "journalctl -u $unit -p warning: nothing else" || {
	bad "journalctl -u $unit -p warning:"
	printf '%s\n' "$warnings" | indent
}
listening=$(journal_prio | grep ' listening on ' | cut -d' ' -f1 | sort -u |
    xargs)
[ "$listening" = 6 ] &&
    ok "'listening on' lines have PRIORITY=$listening (-o verbose)" ||
    bad "'listening on' lines have PRIORITY='$listening', not 6"
if journal_prio | cut -d' ' -f2- | grep -Eq '^<[0-7]>'; then
	bad "journal lines still start with <N>:"
	journal_prio | grep -E '^[0-9]* <[0-7]>' | head -n 5 | indent
else
	ok "no journal line keeps its <N> prefix"
fi

# 6 --------------------------------------------------------------------------
step "6. systemctl stop $unit apikeyd.socket apikeyd-admin.socket"
pid=$(prop $unit MainPID)
systemctl stop $unit apikeyd.socket apikeyd-admin.socket
rc=$?
res="$(state $unit) Result=$(prop $unit Result)"
res="$res ExecMainStatus=$(prop $unit ExecMainStatus)"
[ $rc -eq 0 ] && [ "$res" = "inactive/dead Result=success ExecMainStatus=0" ] &&
    ok "$unit: $res" || bad "systemctl stop: exit $rc; $unit: $res"
for s in apikeyd.socket apikeyd-admin.socket; do
	r="$(state $s) Result=$(prop $s Result)"
	[ "$r" = "inactive/dead Result=success" ] && ok "$s: $r" ||
	    bad "$s: $r"
done
eventually journal_has "$pid" '^stopped$' &&
    ok "apikeyd (pid $pid) logged: stopped" ||
    bad "apikeyd (pid $pid) did not log 'stopped'"
if [ -d $sockdir ] && [ ! -e $sockdir/verify.sock ] &&
    [ ! -e $sockdir/admin.sock ]; then
	ok "$sockdir stays (RuntimeDirectoryPreserve=yes), its sockets are gone"
else
	bad "$sockdir after the stop: $(ls -la $sockdir 2>&1 | oneline)"
fi

# ----------------------------------------------------------------------------
failed_units=$(systemctl --failed --no-legend --plain | awk '{ print $1 }' |
    xargs)
[ -z "$failed_units" ] || note "failed units in the container: $failed_units"
journalctl -b --no-pager >/ci-results/journal.txt 2>&1
journalctl -b -u $unit -u apikeyd.socket -u apikeyd-admin.socket --no-pager \
    >/ci-results/journal-apikeyd.txt 2>&1
if [ ${#failures[@]} -eq 0 ]; then
	say "RESULT: PASSED"
	exit 0
fi
say "RESULT: FAILED (${#failures[@]}):"
for f in "${failures[@]}"; do
	say "   - $f"
done
exit 1
EOF
chmod 0755 "$root/usr/local/sbin/apikeyd-ci-test"
ok "/etc/systemd/system/apikeyd-ci-test.service, after multi-user.target"

# --- boot -------------------------------------------------------------------

step "booting: systemd-nspawn ${nspawn_opts[*]} --private-network -b" \
    "(at most ${boot_timeout}s)"
t=$(date +%s)
timeout -k 15 "$boot_timeout" systemd-nspawn "${nspawn_opts[@]}" \
    --private-network -D "$root" --bind="$work/results:/ci-results" -b \
    >"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!
rc=0
wait "$nspawn_pid" || rc=$?
nspawn_pid=
elapsed=$(took "$t")
results=$work/results/results.txt
if [ ! -s "$results" ]; then
	echo "--- the container's console:" >&2
	tail -n 60 "$work/console.log" >&2
	[ "$rc" -eq 124 ] && fail "the container did not finish within" \
	    "${boot_timeout}s (CI_SYSTEMD_TIMEOUT)"
	fail "the test in the container wrote no results (systemd-nspawn" \
	    "exited $rc)"
fi
cat "$results"
if ! grep -qx 'RESULT: PASSED' "$results" || [ "$rc" -ne 0 ]; then
	if [ -s "$work/results/journal-apikeyd.txt" ]; then
		echo "--- the journal of apikeyd's units in the container:" >&2
		tail -n 60 "$work/results/journal-apikeyd.txt" >&2
	fi
	kept=$(mktemp -d /tmp/apikeyd-systemd-results.XXXXXX)
	cp "$work"/results/* "$work/console.log" "$kept/"
	echo "ci-systemd: the results, the container's journal and console" \
	    "are kept in $kept" >&2
	[ "$rc" -eq 124 ] && fail "the container did not power off within" \
	    "${boot_timeout}s"
	fail "the test under systemd (container exit status $rc)"
fi
ok "the container booted, passed and powered off ($elapsed)"
step "passed ($(took "$t_all") in all)"
