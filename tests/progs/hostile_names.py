"""A target whose names attack the terminal of whoever watches it.

The test copies this file to a name holding escapes and runs it with a
copy of the interpreter whose path holds escapes and invalid UTF-8. Here:
- comm gets an OSC 52 (set the clipboard), a raw 8-bit CSI and a byte no
  UTF-8 decoder accepts;
- the leaking function lives in code compiled under a crafted file name and
  renamed (co_name, co_qualname) to a string with OSC 52, CSI 2K (erase the
  line), a C1 CSI and a right-to-left override; then the UTF-8 copy CPython
  caches for each name has its "@@" overwritten with invalid bytes, which is
  what a process can do to the memory the tool reads.
PYLEAK_HOSTILE_REPORT=FILE: the exact bytes of each name, as JSON of
latin-1 strings, written before "ready".
"""
import ctypes
import json
import os
import sys

import _target

COMM = b"\x1b]52;c;QQ==\x07\x9b\xff"
MARK = b"@@"
INVALID = b"\xff\xc0"
FILE = "/tmp/\x1b[2K\u202eevil\x1b]52;c;SGVsbG8=\x07@@.py"
NAME = "\x1b]52;c;SGVsbG8=\x07\x1b[2K\x9b\u202eleak_here@@"

SRC = """
_kept = []

def grow(i):
    _kept.append("x" * 300 + str(i))  # LEAK
"""


def poke_utf8(s):
    """Makes CPython cache s's UTF-8 copy, then puts INVALID in it at MARK:
    the bytes the tool reads for this name. Returns them."""
    as_utf8 = ctypes.pythonapi.PyUnicode_AsUTF8AndSize
    as_utf8.restype = ctypes.c_void_p
    as_utf8.argtypes = [ctypes.py_object, ctypes.POINTER(ctypes.c_ssize_t)]
    n = ctypes.c_ssize_t()
    addr = as_utf8(s, ctypes.byref(n))
    raw = ctypes.string_at(addr, n.value)
    at = raw.index(MARK)
    ctypes.memmove(addr + at, INVALID, len(INVALID))
    return ctypes.string_at(addr, n.value)


def main():
    with open("/proc/self/comm", "wb") as fh:
        fh.write(COMM)
    ns = {}
    exec(compile(SRC, FILE, "exec"), ns)
    grow = ns["grow"]
    grow.__code__ = grow.__code__.replace(co_name=NAME, co_qualname=NAME)
    code = grow.__code__
    names = {"file": poke_utf8(code.co_filename), "function": poke_utf8(code.co_qualname)}
    if code.co_name is not code.co_qualname:
        poke_utf8(code.co_name)
    with open("/proc/self/comm", "rb") as fh:
        names["comm"] = fh.read().rstrip(b"\n")
    names["exe"] = os.fsencode(os.readlink("/proc/self/exe"))
    names["script"] = os.fsencode(os.path.abspath(sys.argv[0]))
    out = os.environ.get("PYLEAK_HOSTILE_REPORT")
    if out:
        with open(out, "w") as fh:
            json.dump({k: v.decode("latin-1") for k, v in names.items()}, fh)
    _target.serve(grow)


if __name__ == "__main__":
    main()
