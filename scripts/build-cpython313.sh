#!/bin/sh
# Builds, once, two CPython 3.13 from Debian trixie's python3.13 source
# package, for the test matrix (make matrix):
#   cpython-3.13   the default configure: static libpython, unstripped, GIL;
#   cpython-3.13t  --disable-gil: free-threaded, which pyleakbpf must refuse
#                  with a clear reason and its own exit code.
# The source comes through a private apt configuration under the cache
# directory: the machine's own apt sources are left alone.
set -eu
CACHE=${PYLEAK_CACHE:-/var/cache/pyleakbpf}
if [ -x "$CACHE/cpython-3.13/bin/python3.13" ] && [ -x "$CACHE/cpython-3.13t/bin/python3.13t" ]; then
	echo "build-cpython313: cached in $CACHE/cpython-3.13 and $CACHE/cpython-3.13t"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "build-cpython313: needs root (apt-get, $CACHE)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
need=""
for p in dpkg-dev gcc make libffi-dev zlib1g-dev binutils; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

APT=$CACHE/apt
mkdir -p "$APT/lists/partial" "$CACHE/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
	>"$APT/sources.list"
APTO="-o Dir::Etc::SourceList=$APT/sources.list -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=$APT/lists"
# shellcheck disable=SC2086
apt-get $APTO update -qq
SRC=$(find "$CACHE/src" -maxdepth 1 -type d -name 'python3.13-*' | head -n1)
if [ -z "$SRC" ] || [ ! -f "$SRC/configure" ]; then
	rm -rf "$CACHE/src"/*
	# shellcheck disable=SC2086
	(cd "$CACHE/src" && apt-get $APTO source -qq python3.13 >/dev/null)
	SRC=$(find "$CACHE/src" -maxdepth 1 -type d -name 'python3.13-*' | head -n1)
fi
[ -n "$SRC" ] || { echo "build-cpython313: apt-get source python3.13 unpacked nothing" >&2; exit 1; }
# Out-of-tree builds need a source tree that was never configured in place.
if [ -f "$SRC/Makefile" ]; then
	make -s -C "$SRC" distclean >/dev/null 2>&1 || true
fi

# build NAME BINARY CONFIGURE-FLAGS...: an out-of-tree build into $CACHE/NAME.
build() {
	name=$1 bin=$2
	shift 2
	[ -x "$CACHE/$name/bin/$bin" ] && return 0
	echo "build-cpython313: building $name from $(basename "$SRC") (about 6 minutes on 2 cores)"
	rm -rf "$CACHE/build-$name"
	mkdir -p "$CACHE/build-$name"
	(cd "$CACHE/build-$name" &&
		"$SRC/configure" -q --prefix="$CACHE/$name" --without-ensurepip "$@" >configure.log 2>&1 &&
		make -s -j"$(nproc)" >make.log 2>&1 &&
		make -s install >install.log 2>&1) || {
		echo "build-cpython313: $name failed; see $CACHE/build-$name/*.log" >&2
		exit 1
	}
	"$CACHE/$name/bin/$bin" -c 'import sys; print("build-cpython313:", sys.version.split()[0], "in", sys.prefix)'
	rm -rf "$CACHE/build-$name"
}
build cpython-3.13 python3.13
build cpython-3.13t python3.13t --disable-gil
