#!/usr/bin/env bash
# scripts/ci-packages.sh - builds the Debian packages in a scratch copy of
# the tree, checks them with lintian, installs them on this machine and runs
# them as a host would: the users, the config, the pam-auth-update profile,
# apikeyd started from the packaged files as the unit starts it, a key made
# and verified with apikeyctl and through PAM; then purges them and checks
# that PAM is restored and the key store kept.
#
# Runs as root (CI runs it from .ci/run). It leaves the machine as it found
# it, except for the system user apikeyd and the groups apikeyd and
# apikey-admin, which stay, as Debian leaves system users on purge. On any
# failure it says what failed, undoes what it did and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs="apikeyd libapikey1 libapikey-dev libpam-apikey"
store=/var/lib/apikeyd
rundir=/run/apikeyd
deadline=10	# seconds, for anything that must happen "soon"

scratch= daemon_pid= installed=no
# What cleanup() may remove is decided before anything can fail.
store_existed=no run_existed=no
[ -e "$store" ] && store_existed=yes
[ -e "$rundir" ] && run_existed=yes

step() { echo "== ci-packages: $*"; }
ok() { echo "   ok: $*"; }
fail() {
	echo "ci-packages: FAILED: $*" >&2
	if [ -n "$scratch" ] && [ -s "$scratch/apikeyd.log" ]; then
		echo "--- apikeyd's log:" >&2
		tail -n 40 "$scratch/apikeyd.log" >&2
	fi
	exit 1
}

stop_daemon() {
	local i
	[ -n "$daemon_pid" ] || return 0
	kill -TERM "$daemon_pid" 2>/dev/null || true
	for ((i = 0; i < deadline * 10; i++)); do
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$daemon_pid" 2>/dev/null; then
		kill -KILL "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
		daemon_pid=
		return 1
	fi
	wait "$daemon_pid" && daemon_status=0 || daemon_status=$?
	daemon_pid=
	return 0
}

# Undoes whatever the run got to, whether it passed or failed.
cleanup() {
	local status=$?
	set +e
	stop_daemon
	if [ "$installed" = yes ]; then
		echo "ci-packages: purging the packages after a failure" >&2
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $pkgs \
		    >/dev/null 2>&1
	fi
	if [ "$store_existed" = no ] && [ -d "$store" ]; then
		echo "ci-packages: removing $store, which this run created"
		rm -rf "$store"
	fi
	[ "$run_existed" = no ] && rm -rf "$rundir"
	[ -n "$scratch" ] && rm -rf "$scratch"
	exit "$status"
}
trap cleanup EXIT

# --- before ---------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || fail "must run as root (it installs packages)"
step "packaging tools"
scripts/deps.sh package
for p in $pkgs; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed
	then
		fail "$p is already installed; this script would purge it"
	fi
done
[ ! -e "$rundir/verify.sock" ] || fail "$rundir/verify.sock exists:" \
    "an apikeyd is running here already"
pam_state() { cat /etc/pam.d/common-* /var/lib/pam/seen | sha256sum; }
pam_before=$(pam_state)
grep -q pam_apikey /etc/pam.d/common-auth &&
    fail "/etc/pam.d/common-auth mentions pam_apikey already"

# --- build ------------------------------------------------------------------

version=$(dpkg-parsechangelog -SVersion)
upstream=${version%-*}
scratch=$(mktemp -d /tmp/apikeyd-packages.XXXXXX)
src=$scratch/apikeyd-$upstream
step "building $version in $src"
mkdir "$src"
tar --exclude='./build*' --exclude=./run --exclude=./.git \
    --exclude=./debian/tmp -cf - . | tar -C "$src" -xf -
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$scratch/build.log" 2>&1 ||
    { tail -n 40 "$scratch/build.log" >&2; fail "dpkg-buildpackage"; }
debs=
for p in $pkgs; do
	f=$(echo "$scratch/${p}_${version}_"*.deb)
	[ -f "$f" ] || fail "dpkg-buildpackage made no package $p"
	debs="$debs $f"
done
ok "built:$(for f in $debs; do printf ' %s' "${f##*/}"; done)"

step "lintian"
lintian --fail-on error "$scratch"/apikeyd_"${version}"_*.changes ||
    fail "lintian found errors"
ok "no lintian errors"

# --- install ----------------------------------------------------------------

step "apt-get install$(for f in $debs; do printf ' ./%s' "${f##*/}"; done)"
installed=yes
(cd "$scratch" && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    $(for f in $debs; do printf './%s ' "${f##*/}"; done)) ||
    fail "apt-get install"

getent passwd apikeyd >/dev/null || fail "no user apikeyd"
getent group apikeyd >/dev/null || fail "no group apikeyd"
getent group apikey-admin >/dev/null || fail "no group apikey-admin"
ok "user apikeyd, groups apikeyd and apikey-admin"
[ -f /etc/apikeyd/apikeyd.conf ] || fail "no /etc/apikeyd/apikeyd.conf"
dpkg-query -W -f='${Conffiles}' apikeyd | grep -q /etc/apikeyd/apikeyd.conf ||
    fail "/etc/apikeyd/apikeyd.conf is not a conffile"
ok "/etc/apikeyd/apikeyd.conf, a conffile"
[ "$(stat -c '%U %a' "$store")" = "apikeyd 700" ] ||
    fail "$store is not apikeyd's, mode 0700: $(stat -c '%U %a' "$store")"
ok "$store, apikeyd's, 0700"

# --- PAM ----------------------------------------------------------------------

step "pam-auth-update"
[ -f /usr/share/pam-configs/apikey ] || fail "no /usr/share/pam-configs/apikey"
grep -q pam_apikey /etc/pam.d/common-auth &&
    fail "installing libpam-apikey enabled it (the profile is Default: no)"
ok "the profile is installed and not enabled by default"
DEBIAN_FRONTEND=noninteractive pam-auth-update --enable apikey ||
    fail "pam-auth-update --enable apikey"
auth_apikey=$(grep -n '^auth.*pam_apikey\.so' /etc/pam.d/common-auth |
    cut -d: -f1 | head -n 1)
auth_unix=$(grep -n '^auth.*pam_unix\.so' /etc/pam.d/common-auth |
    cut -d: -f1 | head -n 1)
[ -n "$auth_apikey" ] || fail "common-auth has no pam_apikey.so line"
[ -n "$auth_unix" ] || fail "common-auth has no pam_unix.so line"
[ "$auth_apikey" -lt "$auth_unix" ] ||
    fail "pam_apikey.so is not before pam_unix.so in common-auth"
grep -q '^account.*required.*pam_apikey\.so' /etc/pam.d/common-account ||
    fail "common-account has no 'required pam_apikey.so'"
ok "common-auth: pam_apikey.so (line $auth_apikey) before pam_unix.so" \
    "(line $auth_unix); common-account checks the key again"
grep -E 'pam_(apikey|unix)' /etc/pam.d/common-auth /etc/pam.d/common-account |
    sed 's/^/   /'

# --- run the daemon as the unit does ------------------------------------------

step "starting /usr/sbin/apikeyd as user apikeyd"
systemd-tmpfiles --create /usr/lib/tmpfiles.d/apikeyd.conf ||
    fail "systemd-tmpfiles --create"
[ "$(stat -c '%U %a' "$rundir")" = "apikeyd 755" ] ||
    fail "$rundir is not apikeyd's, mode 0755"
(umask 077 && exec setpriv --reuid apikeyd --regid apikeyd --init-groups \
    /usr/sbin/apikeyd --foreground) >"$scratch/apikeyd.log" 2>&1 &
daemon_pid=$!
for ((i = 0; i < deadline * 10; i++)); do
	[ -S "$rundir/verify.sock" ] && [ -S "$rundir/admin.sock" ] && break
	kill -0 "$daemon_pid" 2>/dev/null || fail "apikeyd exited at start"
	sleep 0.1
done
[ -S "$rundir/verify.sock" ] && [ -S "$rundir/admin.sock" ] ||
    fail "no sockets in $rundir after ${deadline}s"
[ "$(ps -o user= -p "$daemon_pid")" = apikeyd ] ||
    fail "apikeyd does not run as user apikeyd"
ok "apikeyd (pid $daemon_pid) runs as apikeyd; sockets in $rundir"

step "apikeyctl status"
status=$(apikeyctl status) || fail "apikeyctl status"
echo "$status" | sed -n '1,6p;/^caller/p' | sed 's/^/   /'
echo "$status" | grep -qx "version: $upstream" ||
    fail "status does not say version: $upstream"
echo "$status" | grep -qx "pid: $daemon_pid" ||
    fail "status does not say pid: $daemon_pid"
echo "$status" | grep -qx "verify_socket: $rundir/verify.sock" ||
    fail "status does not name $rundir/verify.sock"
echo "$status" | grep -qx "caller_uid: 0" || fail "status: caller_uid is not 0"
ok "status answers for apikeyd $upstream, pid $daemon_pid"

step "a key: apikeyctl key create, verify"
token=$(apikeyctl key create -q --name ci-packages) ||
    fail "apikeyctl key create"
id=$(echo "$token" | cut -d_ -f2)
out=$(printf '%s\n' "$token" | apikeyctl verify - --user root) ||
    fail "apikeyctl verify of a new key: $out"
[ "$(echo "$out" | head -n 1)" = VALID ] || fail "verify did not say VALID"
echo "$out" | grep -qx "authorized: yes" || fail "verify: not authorized"
ok "key $id: VALID, authorized for root"

step "PAM: pamtester other root authenticate acct_mgmt"
printf '%s\n' "$token" | pamtester other root authenticate acct_mgmt ||
    fail "pamtester did not log root in with root's key"
ok "root logs in with the key through common-auth and common-account"
printf 'not-a-key\n' | pamtester other root authenticate >/dev/null 2>&1 &&
    fail "pamtester logged root in with a wrong password"
ok "a wrong password still fails (pam_apikey leaves it to pam_unix)"

apikeyctl key revoke "$id" >/dev/null || fail "apikeyctl key revoke"
out=$(printf '%s\n' "$token" | apikeyctl verify -) &&
    fail "a revoked key verified"
code=$(echo "$out" | head -n 1)
[ "${code%%:*}" = NOT_FOUND ] || fail "a revoked key gave $code, not NOT_FOUND"
printf '%s\n' "$token" | pamtester other root authenticate >/dev/null 2>&1 &&
    fail "pamtester logged root in with a revoked key"
ok "revoked: NOT_FOUND, and PAM refuses it"

step "stopping apikeyd"
daemon_status=
stop_daemon || fail "apikeyd did not stop within ${deadline}s of SIGTERM"
[ "$daemon_status" = 0 ] || fail "apikeyd exited with status $daemon_status"
ok "apikeyd exited 0 on SIGTERM"

# --- purge ----------------------------------------------------------------------

step "apt-get purge $pkgs"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $pkgs \
    >"$scratch/purge.log" 2>&1 ||
    { cat "$scratch/purge.log" >&2; fail "apt-get purge"; }
installed=no
grep -v '^(Reading database' "$scratch/purge.log" | sed 's/^/   /' || true
grep -q "the key store $store was kept" "$scratch/purge.log" ||
    fail "the purge did not say that the key store was kept"
if grep -q pam_apikey /etc/pam.d/common-*; then
	fail "/etc/pam.d/common-* still mention pam_apikey after the purge"
fi
[ "$(pam_state)" = "$pam_before" ] ||
    fail "/etc/pam.d/common-* or /var/lib/pam/seen differ from before"
ok "/etc/pam.d/common-* and /var/lib/pam/seen are as before; no pam_apikey"
[ -f "$store/data.mdb" ] && [ -f "$store/pepper" ] ||
    fail "the purge removed the key store $store"
ok "the key store $store is kept (data.mdb, pepper)"
[ ! -e /etc/apikeyd ] || fail "/etc/apikeyd is still there"
if ls /etc/systemd/system/*.wants/apikeyd* >/dev/null 2>&1; then
	fail "unit links left in /etc/systemd/system"
fi
ok "/etc/apikeyd and the unit links are gone"
getent passwd apikeyd >/dev/null &&
    echo "   note: user apikeyd and groups apikeyd, apikey-admin stay" \
        "(Debian keeps system users on purge)"

step "passed"
