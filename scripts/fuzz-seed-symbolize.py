#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Seed inputs for fuzz_symbolize: images that resolve, one per table format,
laid out with the offsets of user/pyoffsets.c, so the fuzzer starts from
code objects that parse instead of searching for one.

Input format (see fuzz_symbolize.c): version index, frame count, 12 bytes
per frame (image offset of the code object, instr, firstlineno), the image.
The harness repeats the image over its window, so frames at offset
k * len(image) are distinct addresses of the same code object: with many of
them and the small bound (odd version index) the cache evicts.

Usage: scripts/fuzz-seed-symbolize.py OUTDIR (run by scripts/fuzz-seeds.sh)"""
import os
import struct
import sys

BASE = 0x100000000
IMAGE = 1024
STR_STATE_ASCII = (1 << 2) | (1 << 5) | (1 << 6)

# version index in the harness -> (str_state, ascii data, filename, qualname
# or name, linetable, firstlineno, code_adaptive or None)
LAYOUTS = {
    0: (32, 48, 104, 112, 120, 40, None),  # 3.9
    1: (32, 48, 104, 112, 120, 40, None),  # 3.10
    2: (32, 48, 112, 128, 136, 72, 184),   # 3.11
    3: (32, 40, 112, 128, 136, 68, 192),   # 3.12
    4: (32, 40, 112, 128, 136, 68, 200),   # 3.13
}
LOCTABLE = bytes([0xe8, 0x00, 0xe9, 0x06, 0xd8, 4, 10])  # lines +0, +3 (2 units), +1
PAIRS = bytes([2, 1, 2, 1])                               # 3.9 lnotab / 3.10 linetable


def seed(version, nframes=2, table_pad=0):
    state, data, filename, name, linetable, firstlineno, adaptive = LAYOUTS[version]
    img = bytearray(IMAGE)

    def pystr(at, s):
        struct.pack_into("<Q", img, at + 16, len(s))
        struct.pack_into("<Q", img, at + state, STR_STATE_ASCII)
        img[at + data:at + data + len(s)] = s

    pystr(512, b"app/x.py")
    pystr(640, b"f")
    table = LOCTABLE if adaptive else PAIRS
    # A claimed size past the image reads the repeated image: a big table.
    struct.pack_into("<Q", img, 768 + 16, len(table) + table_pad)
    img[768 + 32:768 + 32 + len(table)] = table
    struct.pack_into("<Q", img, filename, BASE + 512)
    struct.pack_into("<Q", img, name, BASE + 640)
    struct.pack_into("<Q", img, linetable, BASE + 768)
    struct.pack_into("<i", img, firstlineno, 10)
    frames = b""
    for k in range(nframes):
        instr = adaptive + 2 * (k % 4) if adaptive else k % 3
        frames += struct.pack("<III", k * IMAGE, instr, 10)
    return bytes([version, nframes]) + frames + bytes(img)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for v in LAYOUTS:
        with open(os.path.join(out, "v%d" % v), "wb") as f:
            f.write(seed(v))
    # Small bound (odd index), 40 addresses with 60 KB tables: evictions.
    with open(os.path.join(out, "evict"), "wb") as f:
        f.write(seed(3, nframes=40, table_pad=60000))


if __name__ == "__main__":
    main()
