#!/bin/sh
# Regenerate vmlinux/<arch>/vmlinux.h from the running kernel's BTF.
# The BPF programs are CO-RE: the header only needs to describe the types,
# the exact layout is relocated at load time against the target kernel.
set -eu
arch=${1:-$(uname -m)}
case "$arch" in
x86_64 | amd64) dir=x86 ;;
aarch64 | arm64) dir=arm64 ;;
*) dir=$arch ;;
esac
btf=${BTF:-/sys/kernel/btf/vmlinux}
top=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -r "$btf" ]; then
	echo "gen-vmlinux: $btf is not readable; this kernel has no BTF (CONFIG_DEBUG_INFO_BTF)" >&2
	exit 1
fi
mkdir -p "$top/vmlinux/$dir"
bpftool btf dump file "$btf" format c >"$top/vmlinux/$dir/vmlinux.h.tmp"
mv "$top/vmlinux/$dir/vmlinux.h.tmp" "$top/vmlinux/$dir/vmlinux.h"
echo "wrote vmlinux/$dir/vmlinux.h from $btf"
