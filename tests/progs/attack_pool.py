"""An attacker: corrupts the headers of pymalloc pools that hold its own
leaking objects, through ctypes, while it is watched. The tool reads these
headers to tell live sampled blocks from freed ones (user/liveness.c): a
freeblock near 2**64 must not make it read outside its buffer.

Only pools the target fills with objects it keeps forever are corrupted:
pymalloc never looks at a full pool's header again until a block in it is
freed, so the target itself keeps running. It leaves with os._exit, as
freeing into a corrupted pool would crash it.

For CPython 3.10 to 3.12 (16 KiB pools; header layout as in bpf/pyleak.h).
Prints "corrupted" on stdout once the first pool is corrupted, and
"done N" (N pools corrupted) when it stops (PYLEAK_RUN_FOR, SIGUSR1).
"""
import ctypes
import os
import signal
import sys
import time

import _target

POOL_SIZE = 16 * 1024
HEADER = 48
REF_COUNT, FREEBLOCK, SZIDX, NEXTOFFSET, MAXNEXTOFFSET = 0, 8, 36, 40, 44
# bytes of 470 bytes: a 503-byte object in size class 31 (497-512 bytes).
PAYLOAD = 470
SZIDX_WANTED = 31
BLOCKS = (POOL_SIZE - HEADER) // 512

# What each corrupted pool gets, in turn: the freeblock wrap the review
# found, then the same with the other fields the check reads made absurd.
WRAP = 2**64 - 4
CORRUPTIONS = [
    {FREEBLOCK: (WRAP, 8)},
    {FREEBLOCK: (WRAP, 8), NEXTOFFSET: (0xFFFFFFFF, 4), MAXNEXTOFFSET: (0xFFFFFFFF, 4)},
    {FREEBLOCK: ("end", 8)},
    {FREEBLOCK: (WRAP, 8), SZIDX: (0xFFFFFFFF, 4), NEXTOFFSET: (0xFFFFFFF0, 4)},
    {FREEBLOCK: (2**63, 8), REF_COUNT: (0xFFFFFFFF, 4)},
]

_kept = []


def leak_batch(i, by_pool):
    for k in range(64):
        b = (b"%08d" % (i * 64 + k)) * (PAYLOAD // 8) + b"x" * (PAYLOAD % 8)  # LEAK
        _kept.append(b)
        by_pool.setdefault(id(b) & ~(POOL_SIZE - 1), []).append(b)


def corrupt(pool, n):
    for off, (value, size) in CORRUPTIONS[n % len(CORRUPTIONS)].items():
        if value == "end":
            value = pool + POOL_SIZE - 4
        ctype = ctypes.c_uint64 if size == 8 else ctypes.c_uint32
        ctype.from_address(pool + off).value = value


def main():
    stop = []
    signal.signal(signal.SIGUSR1, lambda *a: stop.append(1))
    by_pool, done = {}, set()
    _target.ready()
    end = time.monotonic() + _target.run_for()
    i = 0
    while not stop and time.monotonic() < end:
        leak_batch(i, by_pool)
        i += 1
        for pool, objs in list(by_pool.items()):
            if pool in done or len(objs) < BLOCKS:
                continue
            ref = ctypes.c_uint32.from_address(pool + REF_COUNT).value
            szidx = ctypes.c_uint32.from_address(pool + SZIDX).value
            # Every block is ours and kept: nothing will free into it.
            if ref == BLOCKS and szidx == SZIDX_WANTED:
                corrupt(pool, len(done))
                done.add(pool)
                if len(done) == 1:
                    print("corrupted", flush=True)
            del by_pool[pool]
        time.sleep(0.01)
    print("done", len(done), flush=True)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
