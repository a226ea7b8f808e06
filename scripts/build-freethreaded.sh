#!/bin/sh
# Builds, once, a free-threaded CPython 3.13 (./configure --disable-gil) from
# Debian trixie's python3.13 source package (make python313t). pyleakbpf must
# refuse such a build with a clear reason and its own exit code; the test
# matrix checks that against this real interpreter. The source comes through
# a private apt configuration under the cache directory: the machine's own
# apt sources are left alone.
set -eu
CACHE=${PYLEAK_CACHE:-/var/cache/pyleakbpf}
PREFIX=$CACHE/cpython-3.13t
[ -x "$PREFIX/bin/python3.13t" ] && { echo "build-freethreaded: cached in $PREFIX"; exit 0; }
if [ "$(id -u)" -ne 0 ]; then
	echo "build-freethreaded: needs root (apt-get, $CACHE)" >&2
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
rm -rf "$CACHE/src"/*
# shellcheck disable=SC2086
(cd "$CACHE/src" && apt-get $APTO source -qq python3.13 >/dev/null)
SRC=$(find "$CACHE/src" -maxdepth 1 -type d -name 'python3.13-*' | head -n1)
[ -n "$SRC" ] || { echo "build-freethreaded: apt-get source python3.13 unpacked nothing" >&2; exit 1; }
echo "build-freethreaded: building $(basename "$SRC") (about 5 minutes on 2 cores)"
cd "$SRC"
./configure -q --prefix="$PREFIX" --disable-gil --without-ensurepip >"$CACHE/configure.log" 2>&1
make -s -j"$(nproc)" >"$CACHE/make.log" 2>&1
make -s install >"$CACHE/install.log" 2>&1
"$PREFIX/bin/python3.13t" -c 'import sys; print("build-freethreaded:", sys.version.split()[0], "in", sys.prefix)'
