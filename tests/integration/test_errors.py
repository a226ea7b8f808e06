"""Bad input and hostile conditions: each gets one clear line on stderr and
its own exit code, or a final report that keeps the data."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import (EXIT_NO_BTF, EXIT_NO_PROCESS, EXIT_NOT_PYTHON, EXIT_OK, EXIT_PRIVILEGE, EXIT_UNSUPPORTED,
                      EXIT_USAGE, TOOL, check_sanitizers, marked_line, one_error_line, pyenv_python, run_tool,
                      start_tool)

# Every error case also runs against the sanitizer build (make asan-test).
pytestmark = pytest.mark.sanitize

def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_usage_errors():
    assert run_tool().code == EXIT_USAGE
    assert run_tool("-p", "abc").code == EXIT_USAGE
    assert run_tool("-p", "1", "-i", "0").code == EXIT_USAGE
    assert run_tool("-p", "1", "stray").code == EXIT_USAGE
    h = run_tool("--help")
    assert h.code == EXIT_OK and "Usage: pyleakbpf -p PID" in h.out and "Exit status" in h.out


def test_no_such_pid():
    run = run_tool("-p", dead_pid())
    assert run.code == EXIT_NO_PROCESS
    one_error_line(run, "no process with pid")


def test_not_python():
    p = subprocess.Popen(["sleep", "60"])
    try:
        run = run_tool("-p", p.pid)
    finally:
        p.kill()
        p.wait()
    assert run.code == EXIT_NOT_PYTHON
    one_error_line(run, "not a CPython", str(p.pid))


def test_unsupported_version(target):
    t = target(pyenv_python(8), "steady.py")
    run = run_tool("-p", t.pid)
    assert run.code == EXIT_UNSUPPORTED
    one_error_line(run, "CPython 3.8.", "not supported")


def drop_to_nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def test_not_root(target):
    t = target(pyenv_python(11), "steady.py")
    run = run_tool("-p", t.pid, preexec=drop_to_nobody)
    assert run.code == EXIT_PRIVILEGE
    one_error_line(run, "insufficient privileges", "CAP_BPF")


def test_no_btf(target):
    t = target(pyenv_python(11), "steady.py")
    # A private mount namespace where the kernel's BTF is hidden: the real
    # check against the real path, without touching the host.
    proc = subprocess.run(["unshare", "-m", "sh", "-c",
                           "mount -t tmpfs none /sys/kernel/btf && exec \"$0\" -p \"$1\"", TOOL, str(t.pid)],
                          capture_output=True, text=True, timeout=60)
    check_sanitizers(proc.returncode, proc.stderr)
    assert proc.returncode == EXIT_NO_BTF, proc.stderr
    assert proc.stderr.count("\n") == 1 and "no BTF" in proc.stderr, proc.stderr
    run = run_tool("-p", t.pid, "--btf", "/nonexistent/vmlinux")
    assert run.code == EXIT_NO_BTF
    one_error_line(run, "/nonexistent/vmlinux")


@pytest.mark.parametrize("mode", ["sampled", "exact"])
def test_target_exits_mid_run(mode, target, schema):
    t = target(pyenv_python(11), "leak_list.py", run_for=9)
    started = time.monotonic()
    args = ["--exact"] if mode == "exact" else ["--period", 1]
    run = run_tool("-p", t.pid, "-d", 60, "-i", 1, "--json", *args)
    took = time.monotonic() - started
    assert run.code == EXIT_OK, run.err
    assert took < 20, "pyleakbpf kept running %.0fs after its target exited" % took
    reports = run.json_lines(schema)
    last = reports[-1]
    assert last["final"] is True and last["exited"] is True
    assert sum(1 for r in reports if r["final"]) == 1
    # Nothing is lost at exit: interpreter shutdown frees everything, but
    # the leaking site keeps what it held while the program ran.
    line = marked_line("leak_list.py")

    def held(report):
        return max((s["sampled_bytes"] for s in report["sites"] if s["frames"][0]["line"] == line), default=0)

    assert held(last) > 0, last["sites"][:3]
    assert held(last) >= 0.9 * max(held(r) for r in reports), [held(r) for r in reports]
    if mode == "exact":
        assert held(last) > 100_000
    assert "exited" in run.err


def test_full_map_is_reported(target, schema):
    t = target(pyenv_python(11), "leak_list.py")
    # Short periods: several windows within the run, to fill the map.
    run = run_tool("-p", t.pid, "-d", 5, "-i", 1, "--json", "--max-allocs", 64, "--period", 0.5)
    assert run.code == EXIT_OK, run.err
    last = run.json_lines(schema)[-1]
    assert last["dropped"]["allocs_map_full"] > 0
    human = run_tool("-p", t.pid, "-d", 3, "-i", 1, "--max-allocs", 64, "--period", 0.5)
    assert human.code == EXIT_OK
    assert "live-allocation map full (raise --max-allocs)" in human.out


def test_sigterm_gives_final_report(target, schema):
    t = target(pyenv_python(11), "steady.py")
    tool = start_tool("-p", t.pid, "-i", 1, "--json")
    time.sleep(4)
    tool.send_signal(signal.SIGTERM)
    out, err = tool.communicate(timeout=30)
    assert tool.returncode == EXIT_OK, err
    lines = [l for l in out.splitlines() if l]
    assert lines and '"final":true' in lines[-1]
    assert all('"final":false' in l for l in lines[:-1])


def test_works_without_tracefs(target, schema):
    """Nothing needs tracefs: uprobes go through the perf PMU, RSS through a
    BTF tracepoint. Hide tracefs and debugfs in a private mount namespace."""
    t = target(pyenv_python(11), "leak_list.py")
    script = ("mount -t tmpfs none /sys/kernel/tracing && mount -t tmpfs none /sys/kernel/debug && "
              "exec \"$0\" -p \"$1\" -d 4 -i 2 --json")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script, TOOL, str(t.pid)],
                          capture_output=True, text=True, timeout=60)
    check_sanitizers(proc.returncode, proc.stderr)
    assert proc.returncode == EXIT_OK, proc.stderr
    last = json.loads(proc.stdout.splitlines()[-1])
    assert last["final"] and last["events"]["allocs"] > 0 and last["rss_source"] == "rss_stat", last


def test_thread_id_is_resolved_to_its_process(target, schema):
    t = target(pyenv_python(11), "leak_threads.py")
    tids = [int(x) for x in os.listdir("/proc/%d/task" % t.pid) if int(x) != t.pid]
    assert tids, "the target should have worker threads"
    run = run_tool("-p", tids[0], "-d", 2, "-i", 1, "--json")
    assert run.code == EXIT_OK, run.err
    assert "is a thread of process %d" % t.pid in run.err
    assert run.json_lines(schema)[-1]["pid"] == t.pid
