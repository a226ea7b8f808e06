"""A C library called through ctypes hands back buffers that nobody
frees: native memory, invisible to tracemalloc."""
import ctypes
import ctypes.util

import _target

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]


def fetch_record(i):
    buf = libc.malloc(2048)  # LEAK
    libc.memset(buf, 1, 2048)
    return buf


def handle(i):
    fetch_record(i)


if __name__ == "__main__":
    _target.serve(handle, pause=0.004)
