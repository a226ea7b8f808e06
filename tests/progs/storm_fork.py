"""A target that forks workers and execs programs without pause, for the
fork/exec storm: os.fork children, multiprocessing (a Process started by fork
and one by spawn), /bin/true and this interpreter running storm_work.py. Every
child checks its own work (storm_work.child) and must exit 0; -5 would be a
SIGTRAP, a breakpoint of ours that the kernel did not handle.

Between children the parent runs storm_work steps, checked too. Forked
children first count the bytes of their inherited text that differ from
the files (storm_work.own_breakpoints): proof that they were forked while a
window had breakpoints in the parent.

Runs until PYLEAK_RUN_FOR seconds pass or SIGUSR1/SIGTERM, then prints
"OK kind=count ..." (exit 0) or "FAIL ..." (exit 1).
"""
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import _target
import storm_work

CHILD_STEPS = 200
FORK = multiprocessing.get_context("fork")
SPAWN = multiprocessing.get_context("spawn")


def fork_child(report_fd):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if storm_work.own_breakpoints():
                os.write(report_fd, b"b")
            code = storm_work.child(CHILD_STEPS)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _mp_entry(n):
    sys.exit(storm_work.child(n))


def mp_process(_):
    p = FORK.Process(target=_mp_entry, args=(CHILD_STEPS,))
    p.start()
    p.join()
    return p.exitcode


def mp_spawn(_):
    p = SPAWN.Process(target=_mp_entry, args=(CHILD_STEPS,))
    p.start()
    p.join()
    return p.exitcode


def exec_true(_):
    return subprocess.run(["/bin/true"]).returncode


def exec_python(_):
    return subprocess.run([sys.executable, storm_work.__file__, "--child", str(CHILD_STEPS)]).returncode


KINDS = [("fork", fork_child), ("mp_process", mp_process), ("mp_spawn", mp_spawn), ("true", exec_true),
         ("python", exec_python)]


def main():
    stop = []
    signal.signal(signal.SIGUSR1, lambda *a: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    rfd, wfd = os.pipe()
    os.set_blocking(rfd, False)
    counts = {k: 0 for k, _ in KINDS}
    bad = []
    _target.ready()
    end = time.monotonic() + _target.run_for()
    i = n = failures = 0
    while not stop and time.monotonic() < end:
        for _ in range(50):
            failures += storm_work.step(i) != storm_work.expected(i)
            i += 1
        kind, spawn = KINDS[n % len(KINDS)]
        n += 1
        code = spawn(wfd)
        counts[kind] += 1
        if code != 0:
            bad.append("%s:%d" % (kind, code))
    try:
        inherited = len(os.read(rfd, 1 << 20))
    except BlockingIOError:
        inherited = 0
    summary = " ".join("%s=%d" % kv for kv in counts.items())
    if failures or bad:
        print("FAIL %s steps=%d step_failures=%d bad=%s inherited=%d" % (summary, i, failures, ",".join(bad[:20]),
                                                                           inherited), flush=True)
        return 1
    print("OK %s steps=%d inherited=%d" % (summary, i, inherited), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
