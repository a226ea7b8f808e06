#!/bin/bash
# Makes the fuzzers' seed corpora, tests/fuzz/corpus/<harness>/, from the
# CPython interpreters on this machine: Debian's python3.11, pyenv's builds,
# and what `make matrix` left under /var/cache/pyleakbpf (stripped copies,
# the trixie chroot, the static 3.13 builds). The input format of each
# harness is in tests/fuzz/README.md. Seeds are named by their content's
# hash; a rerun replaces the folders of the four harnesses it makes seeds
# for (pids change). The whole stays under 1 MiB.
# Needs root for the pid-namespace target (status with two NSpid entries).
set -eu
cd "$(dirname "$0")/.."
CACHE=${PYLEAK_CACHE:-/var/cache/pyleakbpf}
PYENV=${PYENV_ROOT:-$HOME/.pyenv}/versions
CORPUS=tests/fuzz/corpus
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$CORPUS/fuzz_linetable" "$CORPUS/fuzz_pyoffsets" "$CORPUS/fuzz_elf" "$CORPUS/fuzz_procfs" \
	"$CORPUS/fuzz_symbolize"

# seed HARNESS FILE: stores FILE under its hash.
seed() {
	local dir=$CORPUS/$1 sum
	mkdir -p "$dir"
	sum=$(sha1sum "$2" | cut -c1-16)
	cp "$2" "$dir/$sum"
}

# Every interpreter as "name|argv prefix|env": one per line.
interps() {
	echo "debian-3.11|/usr/bin/python3.11|"
	for p in "$PYENV"/3.*/bin/python3.[0-9]*; do
		case $p in *-config|*m|*.py) continue ;; esac
		[ -x "$p" ] && echo "pyenv-$(basename "$(dirname "$(dirname "$p")")")|$p|"
	done
	for r in "$CACHE"/stripped-3.*/.pyleak-ready; do
		[ -f "$r" ] || continue
		local d v
		d=$(dirname "$r")
		v=${d##*/stripped-}
		echo "stripped-$v|$d/bin/python${v%.*}|LD_LIBRARY_PATH=$d/lib PYTHONHOME=$(cat "$r")"
	done
	for root in "$CACHE"/chroot-*; do
		[ -f "$root/.pyleak-ready" ] || continue
		for p in "$root"/usr/bin/python3.[0-9]*; do
			case $p in *-config|*m|*.py) continue ;; esac
			[ -x "$p" ] && echo "${root##*/}|chroot $root ${p#"$root"}|"
		done
	done
	[ -x "$CACHE/cpython-3.13/bin/python3.13" ] && echo "source-3.13|$CACHE/cpython-3.13/bin/python3.13|"
	true
}

# The interpreter's ELF file that defines _PyRuntime: libpython if linked to one.
elf_of() {
	local name=$1 argv=$2 env=$3 exe lib
	case $argv in
	chroot*) set -- $argv; echo "$2${3}"; return ;;
	esac
	exe=$argv
	lib=$(env $env ldd "$exe" 2>/dev/null | awk '/libpython/ {print $3}')
	echo "${lib:-$exe}"
}

# --- fuzz_linetable: every code object of a small program, as each version encodes it.
cat >"$tmp/lines.py" <<'PYEOF'
import struct, sys, types
SRC = '''
import os
def simple(a, b):
    c = a + b
    return c * 2
def loops(n):
    total = 0
    for i in range(n):
        if i % 3 == 0:
            total += i
        elif i % 5 == 0:
            total -= 1
    while total > 100:
        total //= 2
    return total
class Service:
    def handler(self, path):
        try:
            with open(path) as fh:
                return [(r, r * 2) for r in fh if r]
        except OSError as exc:
            raise RuntimeError(
                str(exc)) from exc
        finally:
            path = None
async def agen(xs):
    async for x in xs:
        yield lambda: x
'''
def codes(c):
    yield c
    for k in c.co_consts:
        if isinstance(k, types.CodeType):
            yield from codes(k)
out = sys.argv[1]
for n, c in enumerate(codes(compile(SRC * 3, "sample.py", "exec"))):
    if sys.version_info >= (3, 11):
        kind, tab, count = 2, c.co_linetable, len(c.co_code) // 2
    elif sys.version_info >= (3, 10):
        kind, tab, count = 1, c.co_linetable, len(c.co_code)
    else:
        kind, tab, count = 0, c.co_lnotab, len(c.co_code)
    instr = (count // 2) & ~1
    with open("%s/%d" % (out, n), "wb") as fh:
        fh.write(struct.pack("<Bii", kind, c.co_firstlineno, instr) + tab)
PYEOF
interps | while IFS='|' read -r name argv env; do
	[ "${name#stripped-}" != "$name" ] && continue  # the same bytecode as its pyenv build
	d="$tmp/lines-$name"
	mkdir -p "$d"
	case $argv in
	chroot*)
		set -- $argv
		cp "$tmp/lines.py" "$2/tmp/pyleak-lines.py"
		mkdir -p "$2/tmp/pyleak-lines"
		chroot "$2" "$3" /tmp/pyleak-lines.py /tmp/pyleak-lines && cp "$2"/tmp/pyleak-lines/* "$d"/
		rm -rf "$2/tmp/pyleak-lines.py" "$2/tmp/pyleak-lines"
		;;
	*) env $env $argv "$tmp/lines.py" "$d" 2>/dev/null || continue ;;
	esac
	for f in "$d"/*; do
		if [ -f "$f" ]; then seed fuzz_linetable "$f"; fi
	done
done

# --- fuzz_pyoffsets: the start of _PyRuntime (_Py_DebugOffsets) of each 3.13+ file.
cat >"$tmp/runtime.py" <<'PYEOF'
import struct, sys
# The first 1024 bytes (PY_DEBUG_OFFSETS_MAX) of _PyRuntime in an ELF64 file.
data = open(sys.argv[1], "rb").read()
shoff, = struct.unpack_from("<Q", data, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
secs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
value = None
for s in secs:
    if s[1] not in (2, 11):  # SHT_SYMTAB, SHT_DYNSYM
        continue
    strtab = secs[s[6]]
    for off in range(s[4], s[4] + s[5], 24):
        name, info, other, shndx, v, size = struct.unpack_from("<IBBHQQ", data, off)
        end = data.index(b"\0", strtab[4] + name)
        if data[strtab[4] + name:end] == b"_PyRuntime":
            value = v
            break
    if value:
        break
phoff, = struct.unpack_from("<Q", data, 0x20)
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
for i in range(phnum):
    typ, flags, off, vaddr, paddr, filesz, memsz, align = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
    if typ == 1 and vaddr <= value < vaddr + filesz:
        start = value - vaddr + off
        sys.stdout.buffer.write(data[start:start + 1024])
        break
PYEOF
interps | while IFS='|' read -r name argv env; do
	case $name in *3.9*|*3.10*|*3.11*|*3.12*|*2.7*|*3.6*|*3.7*|*3.8*) continue ;; esac
	f=$(elf_of "$name" "$argv" "$env")
	if $PY "$tmp/runtime.py" "$f" >"$tmp/rt" && [ -s "$tmp/rt" ]; then
		seed fuzz_pyoffsets "$tmp/rt"
	fi
done
# The free-threaded build: its refusal is a path of its own.
if [ -x "$CACHE/cpython-3.13t/bin/python3.13t" ]; then
	if $PY "$tmp/runtime.py" "$CACHE/cpython-3.13t/bin/python3.13t" >"$tmp/rt"; then
		seed fuzz_pyoffsets "$tmp/rt"
	fi
fi

# --- fuzz_elf: each kind of interpreter ELF file (an executable with libpython
# in it, a shared libpython, the oldest and newest versions) cut down to the
# sections the tool reads by name (dynamic symbols, build-id, debug link, USDT
# notes), about 100 KiB each; and the first 16 KiB of three, as truncated files.
heads=0
interps | while IFS='|' read -r name argv env; do
	case $name in debian-3.11|pyenv-3.9.*|pyenv-3.12.*|pyenv-3.13.*|chroot-*|source-3.13) ;; *) continue ;; esac
	f=$(elf_of "$name" "$argv" "$env")
	objcopy -j .note.gnu.build-id -j .gnu_debuglink -j .gnu.version -j .dynsym -j .dynstr \
		-j .note.stapsdt "$f" "$tmp/small" 2>/dev/null || continue
	if [ "$(stat -c %s "$tmp/small")" -le 131072 ]; then
		seed fuzz_elf "$tmp/small"
	fi
	heads=$((heads + 1))
	if [ $heads -le 3 ]; then
		head -c 16384 "$f" >"$tmp/head"
		seed fuzz_elf "$tmp/head"
	fi
done

# --- fuzz_procfs: stat, status and maps of live interpreters, one of them pid 1
# of its own pid namespace in the chroot (status then has two NSpid entries).
procfs_of() {
	local pid=$1
	for f in stat status maps; do
		if cat "/proc/$pid/$f" >"$tmp/p" 2>/dev/null; then
			seed fuzz_procfs "$tmp/p"
		fi
	done
}
/usr/bin/python3.11 -c 'import time; time.sleep(9)' &
sleep 0.5
procfs_of $!
kill $! 2>/dev/null || true
p312=$(ls -d "$PYENV"/3.12.*/bin/python3.12 2>/dev/null | tail -n 1)
if [ -n "$p312" ]; then
	"$p312" -c 'import threading, time; [threading.Thread(target=time.sleep, args=(9,), daemon=True).start() for _ in range(3)]; time.sleep(9)' &
	sleep 0.5
	procfs_of $!
	kill $! 2>/dev/null || true
fi
root=$CACHE/chroot-trixie
if [ -f "$root/.pyleak-ready" ] && [ "$(id -u)" -eq 0 ]; then
	unshare --pid --mount --fork chroot "$root" /usr/bin/python3.13 -c 'import time; time.sleep(9)' &
	sleep 1
	inner=$(cat "/proc/$!/task/$!/children" 2>/dev/null | awk '{print $1}')
	[ -n "$inner" ] && procfs_of "$inner"
	kill $! 2>/dev/null || true
fi
wait 2>/dev/null || true

# --- fuzz_symbolize: fake memory images laid out with user/pyoffsets.c's offsets.
python3 "$(dirname "$0")/fuzz-seed-symbolize.py" "$CORPUS/fuzz_symbolize"

du -sh --apparent-size "$CORPUS"
for d in "$CORPUS"/*/; do echo "$(basename "$d"): $(ls "$d" | wc -l) seeds"; done
