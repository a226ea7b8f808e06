#!/bin/sh
# Installs what pyleakbpf needs to build and test, from Debian packages only.
# Idempotent and quiet when everything is already there.
set -eu
pkgs="clang libclang-rt-14-dev llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcapstone-dev make gcc pkg-config
python3 python3-pytest python3-jsonschema util-linux
python3.11-dbg"
# libclang-rt-14-dev: the ASan, UBSan and libFuzzer runtimes of Debian 12's clang.
# python3.11-dbg: the detached debug symbols of Debian's python3.11, which the
# unit tests use as ground truth for the inlined-allocator discovery.
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages:$missing; run 'sudo make deps'" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
