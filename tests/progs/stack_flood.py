"""An attacker's warm-up: thousands of distinct code objects, each allocating
on its own stack, for the first seconds (enough to fill any stack map the
tool sizes small), and only then a plain leak that must still be named."""
import time

import _target

FLOOD_S = 5.0
_funcs = []
for n in range(20000):
    ns = {}
    exec(compile("def f%d():\n    return [str(%d)] * 8\n" % (n, n), "<flood %d>" % n, "exec"), ns)
    _funcs.append(ns["f%d" % n])
_kept = []
_start = None


def handle(i):
    global _start
    if _start is None:
        _start = time.monotonic()
    if time.monotonic() - _start < FLOOD_S:
        _funcs[i % len(_funcs)]()
    else:
        _kept.append("y" * 300 + str(i))  # LEAK


if __name__ == "__main__":
    _target.serve(handle)
