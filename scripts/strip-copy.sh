#!/bin/sh
# Makes, once, stripped copies of pyenv's shared libpython (3.9, 3.10, 3.12
# and 3.13, when present) for the test matrix: a libpython3.X.so with only
# .dynsym left, as python.org's docker images ship it. The copy runs as
#   LD_LIBRARY_PATH=$dir/lib PYTHONHOME=<pyenv prefix> $dir/bin/python3.X
# (pyenv's binaries carry a RUNPATH, which LD_LIBRARY_PATH overrides).
set -eu
CACHE=${PYLEAK_CACHE:-/var/cache/pyleakbpf}
home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
for minor in 9 10 12 13; do
	prefix=$(ls -d "$home"/.pyenv/versions/3.$minor.* 2>/dev/null | sort -V | tail -n1)
	[ -n "$prefix" ] || continue
	dir=$CACHE/stripped-$(basename "$prefix")
	[ -f "$dir/.pyleak-ready" ] && continue
	rm -rf "$dir"
	mkdir -p "$dir/bin" "$dir/lib"
	cp "$prefix/bin/python3.$minor" "$dir/bin/"
	strip --strip-all -o "$dir/lib/libpython3.$minor.so.1.0" "$prefix/lib/libpython3.$minor.so.1.0"
	echo "$prefix" >"$dir/.pyleak-ready"
	echo "strip-copy: $dir (libpython3.$minor with .dynsym only)"
done
