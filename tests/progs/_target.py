"""Shared plumbing for the test targets: say when ready, dump a stack once.

A target prints "ready" on stdout once its steady state starts, so tests
attach at a known point. With PYLEAK_STACK_DUMP=FILE set, dump_stack() writes
traceback.extract_stack() of its caller there (once) as JSON, innermost
frame first, to be compared with the stack pyleakbpf walked.

With PYLEAK_COUNT_FILE=FILE set, serve() installs a SIGUSR1 handler that
writes the current request index (as text) to FILE, replaced atomically, so
a bench can count the requests served between two signals.
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


def _count_on_sigusr1(path):
    """SIGUSR1 writes serve()'s request index `i` to path (-1 before the
    loop starts). Handlers run in the main thread, inside serve()."""
    import signal

    def write_count(signum, frame):
        while frame is not None and frame.f_code is not serve.__code__:
            frame = frame.f_back
        i = frame.f_locals.get("i", -1) if frame is not None else -1
        with open(path + ".tmp", "w") as fh:
            fh.write(str(i))
        os.replace(path + ".tmp", path)

    signal.signal(signal.SIGUSR1, write_count)


def serve(handle, pause=0.002):
    """The request loop every target runs: say ready, then call handle(i)
    every `pause` seconds until PYLEAK_RUN_FOR runs out."""
    if os.environ.get("PYLEAK_COUNT_FILE"):
        _count_on_sigusr1(os.environ["PYLEAK_COUNT_FILE"])
    ready()
    end = time.monotonic() + run_for()
    i = 0
    while time.monotonic() < end:
        handle(i)
        i += 1
        time.sleep(pause)
