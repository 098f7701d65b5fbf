#!/bin/sh
# scripts/deps.sh build|test|fuzz|package|systemd-test|bench|peers - make
# sure the Debian packages apikeyd needs are installed. As root it installs
# what is missing; otherwise it prints the exact apt-get line and fails.
set -eu

# libpq-dev: fleet mode (issue 12) keeps the shared key set in PostgreSQL,
# and the daemon talks to it through libpq.
build_pkgs="gcc make pkg-config liblmdb-dev libevent-dev libsodium-dev
libjansson-dev zlib1g-dev libpam0g-dev libsystemd-dev libpq-dev"
# postgresql and postgresql-client: the fleet tests run a private
# PostgreSQL cluster of their own (tests/harness_pg.c: initdb, postgres and
# psql from /usr/lib/postgresql/*/bin).
test_pkgs="$build_pkgs libcriterion-dev libnss-wrapper util-linux
lmdb-utils libpam-wrapper pamtester openssh-server openssh-client sshpass
vsftpd curl mandoc systemd groff-base valgrind postgresql postgresql-client"
# make fuzz: libFuzzer and the sanitizer runtimes come with clang's
# compiler-rt (libclang-rt-dev, clang 14's on bookworm).
fuzz_pkgs="$build_pkgs clang libclang-rt-dev"
# scripts/ci-packages.sh: build, check, install and run the Debian packages.
package_pkgs="$build_pkgs debhelper dpkg-dev fakeroot lintian systemd
util-linux libpam-runtime pamtester"
# scripts/ci-systemd.sh: build the packages as above, then boot them in a
# Debian container under a real systemd (systemd-nspawn, debootstrap).
systemd_test_pkgs="$package_pkgs systemd-container debootstrap"
# make bench: its PAM loop runs under pam_wrapper. bench/peers.sh: Redis
# (redis-benchmark is in redis-tools) and PostgreSQL (pgbench ships in
# postgresql-15 on bookworm).
bench_pkgs="$build_pkgs libpam-wrapper"
peers_pkgs="$bench_pkgs redis-server redis-tools postgresql"

case "${1:-build}" in
build) want=$build_pkgs ;;
test) want=$test_pkgs ;;
fuzz) want=$fuzz_pkgs ;;
package) want=$package_pkgs ;;
systemd-test) want=$systemd_test_pkgs ;;
bench) want=$bench_pkgs ;;
peers) want=$peers_pkgs ;;
*) echo "usage: $0 build|test|fuzz|package|systemd-test|bench|peers" >&2
   exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: not a Debian system; install the equivalents of:" \
	    $want >&2
	exit 0
fi

missing=
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "apikeyd: missing packages. Run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
