"""Growth that no allocator sees: anonymous memory mapped directly by the
mmap module and kept, ~200 KiB/s. Only RSS shows it."""
import mmap

import _target

_maps = []


def handle(i):
    if i % 10 == 0:
        m = mmap.mmap(-1, 64 * 1024)  # LEAK (not through malloc)
        m.write(b"x" * len(m))
        _maps.append(m)


if __name__ == "__main__":
    _target.serve(handle)
