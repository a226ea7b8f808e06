"""A target that checks its own work, for the fault storms.

Each step builds and drops dicts, lists and strings (pymalloc) and a few
blocks over 512 bytes (libc malloc), so every allocator probe traps a lot,
and returns a number whose right value is known in closed form. A wrong
step, or a wrong total at the end, means the probes corrupted the program.

Runs until PYLEAK_RUN_FOR seconds pass or SIGUSR1/SIGTERM arrives, then
prints "OK iterations=N" (exit 0) or "FAIL ..." (exit 1). With
PYLEAK_STATUS_FILE set, writes "iterations elapsed failures" there about
ten times a second (replaced atomically), so a test can measure its speed.

`storm_work.py --child N` runs N steps and exits 0 if all were right: the
fork and exec storms run it in their children.
"""
import os
import signal
import sys
import time

import _target

KEYS = 100


def step(i):
    d = {"key-%04d" % k: [k, i, "v" * (k % 7)] for k in range(KEYS)}
    joined = ",".join(d)           # 899 characters: malloc'd by libc
    big = [i] * 100                # an 800-byte item array: libc too
    blob = bytes(600)
    s = 0
    for v in d.values():
        s += v[0] + v[1] + len(v[2])
    return s + len(joined) + len(big) + len(blob)


def expected(i):
    # sum(k) + KEYS*i + sum(k % 7) + len(joined) + 100 + 600, for k < 100:
    # 4950 + 100 i + 295 + (100 * 8 + 99) + 700.
    return 6844 + 100 * i


def expected_total(n):
    return 6844 * n + 100 * n * (n - 1) // 2


def run_steps(n):
    """n steps from 0; returns (failures, total)."""
    failures = total = 0
    for i in range(n):
        v = step(i)
        failures += v != expected(i)
        total += v
    return failures, total


def child(n):
    failures, total = run_steps(n)
    return 0 if not failures and total == expected_total(n) else 1


def own_breakpoints():
    """Bytes of this process's text that differ from its files: after a
    fork in the middle of a window, the breakpoints the parent's uprobes
    wrote (int3, 0xcc) until the kernel removes them from this copy."""
    found = 0
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    try:
        with open("/proc/self/maps") as fh:
            maps = [l.split() for l in fh]
        for f in maps:
            if len(f) < 6 or f[1] != "r-xp" or not f[5].startswith("/"):
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            with open(f[5], "rb") as fh:
                fh.seek(int(f[2], 16))
                want = fh.read(hi - lo)
            have = os.pread(fd, len(want), lo)
            if have != want:
                found += sum(1 for a, b in zip(have, want) if a != b)
    finally:
        os.close(fd)
    return found


def main():
    stop = []
    signal.signal(signal.SIGUSR1, lambda *a: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    status = os.environ.get("PYLEAK_STATUS_FILE")
    _target.ready()
    start = time.monotonic()
    end = start + _target.run_for()
    next_status = start
    i = failures = total = 0
    while not stop:
        v = step(i)
        if v != expected(i):
            failures += 1
        total += v
        i += 1
        now = time.monotonic()
        if now >= end:
            break
        if status and now >= next_status:
            with open(status + ".tmp", "w") as fh:
                fh.write("%d %.6f %d\n" % (i, now - start, failures))
            os.replace(status + ".tmp", status)
            next_status = now + 0.1
    if failures or total != expected_total(i):
        print("FAIL iterations=%d failures=%d total=%d expected=%d" % (i, failures, total, expected_total(i)),
              flush=True)
        return 1
    print("OK iterations=%d" % i, flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        sys.exit(child(int(sys.argv[2])))
    sys.exit(main())
