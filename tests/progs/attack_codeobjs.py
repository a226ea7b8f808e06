"""An attacker: 100k distinct code objects, each with a large line table,
each called over and over, each allocating. Every sampled allocation is a
new stack with a new innermost code object for the tool to symbolize, and
its symbolizer reads the object's whole line table. The tool must keep its
memory bounded (issue 10: under 64 MiB) whatever it is shown.

The functions are compiled once from a template and stamped out with
code.replace: distinct names, first lines and line tables. A table is the
template's real one followed by padding (entries for code units past the
end, which the interpreter never reaches), ending in entries that encode
the table's number; 100 functions share each table, so 1000 tables of
TABLE_BYTES make the target's own cost 256 MiB while a tool that copies
a table per code object would need 25 GiB for all of them.
"""
import sys
import types

import _target

FUNCS = 100_000
SHARING = 100
TABLE_BYTES = 256 * 1024

TEMPLATE = compile("def f(n):\n    return [n, n + 1, 'x' * (n % 50 + 1)]\n", "<attack>", "exec")


def svarint(v):
    """The location table's signed varint (Objects/locations.md)."""
    v = (-v << 1) | 1 if v < 0 else v << 1
    out = bytearray()
    while v >= 64:
        out.append(0x40 | (v & 63))
        v >>= 6
    out.append(v)
    return bytes(out)


def table(base, k):
    # 0xff: "no location" for 8 code units; 0xe8: "no column" for one
    # unit, with a line delta: +k then -k, so the table is distinct.
    tail = b"\xe8" + svarint(k) + b"\xe8" + svarint(-k)
    return base + b"\xff" * (TABLE_BYTES - len(base) - len(tail)) + tail


def make_funcs():
    code = next(c for c in TEMPLATE.co_consts if isinstance(c, types.CodeType))
    tables = [table(code.co_linetable, k) for k in range(FUNCS // SHARING)]
    g = {}
    funcs = []
    for i in range(FUNCS):
        name = "attack_%06d" % i
        c = code.replace(co_name=name, co_qualname=name, co_firstlineno=1 + 3 * i,
                         co_linetable=tables[i // SHARING])
        funcs.append(types.FunctionType(c, g, name))
    return funcs


def main():
    funcs = make_funcs()
    keep = []
    for f in funcs:
        keep.append(f(7))
    del keep
    step = 0

    def handle(i):
        nonlocal step
        # A slice of the functions per request: all of them every few
        # seconds, each call allocating a list and a string.
        for f in funcs[step:step + 2000]:
            f(i)
        step = (step + 2000) % FUNCS

    _target.serve(handle, pause=0.001)


if __name__ == "__main__":
    if sys.version_info[:2] != (3, 11):
        sys.exit("attack_codeobjs.py writes 3.11 location tables")
    main()
