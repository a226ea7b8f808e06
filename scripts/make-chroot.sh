#!/bin/sh
# Creates, once, a minimal Debian chroot holding one distro Python for the
# test matrix: the interpreter a container image of that release would run,
# a stripped LTO build with static libpython, seen by pyleakbpf through
# /proc/PID/root like any containerised target.
#
#   make-chroot.sh SUITE PACKAGE   e.g.  make-chroot.sh trixie python3.13
#
# The chroot lands in $PYLEAK_CACHE/chroot-SUITE (default /var/cache/pyleakbpf)
# and a finished one is reused; a half-made one is removed and made again.
set -eu
suite=$1 pkg=$2
CACHE=${PYLEAK_CACHE:-/var/cache/pyleakbpf}
dir=$CACHE/chroot-$suite
[ -f "$dir/.pyleak-ready" ] && { echo "make-chroot: $suite ($pkg) cached in $dir"; exit 0; }
if [ "$(id -u)" -ne 0 ]; then
	echo "make-chroot: needs root (debootstrap)" >&2
	exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
rm -rf "$dir"
mkdir -p "$CACHE"
echo "make-chroot: debootstrap $suite with $pkg into $dir (about a minute)"
debootstrap --variant=minbase --include="$pkg" "$suite" "$dir" http://deb.debian.org/debian \
	>"$CACHE/debootstrap-$suite.log" 2>&1 || {
	echo "make-chroot: debootstrap failed; see $CACHE/debootstrap-$suite.log" >&2
	exit 1
}
chroot "$dir" "/usr/bin/$pkg" -c 'import sys; print("make-chroot:", sys.version.split()[0])'
touch "$dir/.pyleak-ready"
