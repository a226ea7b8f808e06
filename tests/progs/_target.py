"""Shared plumbing for the test targets: say when ready, dump a stack once.

A target prints "ready" on stdout once its steady state starts, so tests
attach at a known point. With PYLEAK_STACK_DUMP=FILE set, dump_stack() writes
traceback.extract_stack() of its caller there (once) as JSON, innermost
frame first, to be compared with the stack pyleakbpf walked.
"""
import json
import os
import sys
import time
import traceback

_dumped = False


def ready():
    print("ready", os.getpid(), flush=True)


def dump_stack():
    """Returns None, so it can sit on the very line whose stack is wanted."""
    global _dumped
    path = os.environ.get("PYLEAK_STACK_DUMP")
    if _dumped or not path:
        return
    _dumped = True
    frames = traceback.extract_stack(sys._getframe(1))
    out = [{"file": f.filename, "line": f.lineno, "function": f.name} for f in reversed(frames)]
    with open(path + ".tmp", "w") as fh:
        json.dump(out, fh)
    os.replace(path + ".tmp", path)


def run_for():
    """Seconds to run, from PYLEAK_RUN_FOR (default: an hour)."""
    return float(os.environ.get("PYLEAK_RUN_FOR", "3600"))


def serve(handle, pause=0.002):
    """The request loop every target runs: say ready, then call handle(i)
    every `pause` seconds until PYLEAK_RUN_FOR runs out."""
    ready()
    end = time.monotonic() + run_for()
    i = 0
    while time.monotonic() < end:
        handle(i)
        i += 1
        time.sleep(pause)
