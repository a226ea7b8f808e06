"""The interpreter matrix: every CPython this machine has (see conftest.matrix
and the "interpreter matrix" section at the end of the run), each watched in
the default mode. For each one the leak must be named on its exact line, and
the walked stack must be the one traceback.extract_stack() printed inside the
target at that line: every frame's file, line and function, outermost
included."""
import json
import os
import subprocess

import pytest

from conftest import (CACHE, EXIT_UNSUPPORTED, MATRIX, SANITIZE_KINDS, innermost, marked_line, matrix_params,
                      one_error_line, run_tool, summary, watch)

NAME_WITHIN_S = 30


def version_of(interp):
    argv = interp.argv("-c") + ["import sys; print('%d.%d.%d' % sys.version_info[:3])"]
    env = dict(os.environ, **interp.env)
    return subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout.strip()


@pytest.mark.parametrize("interp", matrix_params(MATRIX))
def test_leak_named_with_true_stack(interp, target, schema):
    dump_inside = "/tmp/pyleak-stack-%s.json" % interp.name
    dump = interp.host(dump_inside)
    if os.path.exists(dump):
        os.unlink(dump)
    t = target(interp, "leak_list.py", env={"PYLEAK_STACK_DUMP": dump_inside})
    line = marked_line("leak_list.py")

    def named(r):
        return r["leak"] and r["sites"] and r["sites"][0]["leak"] and innermost(r["sites"][0])[:2] == (t.path, line)

    reports = watch(schema, t.pid, NAME_WITHIN_S + 10, named)
    hits = [r for r in reports if named(r)]
    assert hits, "%s: leak not named; last report:\n%s" % (interp.name, summary(reports[-1]))
    assert hits[0]["elapsed_s"] <= NAME_WITHIN_S + 1
    last = reports[-1]
    assert last["python"] == version_of(interp)
    assert last["pid"] == t.pid  # the host's pid, whatever root the target runs in

    truth = json.loads(open(dump).read())
    walked = hits[0]["sites"][0]["frames"]
    assert len(walked) == len(truth), (walked, truth)
    for got, want in zip(walked, truth):
        assert (got["file"], got["line"]) == (want["file"], want["line"]), (walked, truth)
        # 3.11+ report the qualified name, extract_stack the plain one.
        assert got["function"].split(".")[-1] == want["function"], (walked, truth)


CONTROL_S = 20


@pytest.mark.parametrize("interp", matrix_params([i for i in MATRIX if i.name in SANITIZE_KINDS]))
def test_control_is_not_a_leak(interp, target, schema):
    """One interpreter of each kind (Debian's LTO build, pyenv's shared
    libpython, a stripped copy, a chroot, a static build) watching steady
    churn: never a leak, and the windows did see its allocations."""
    t = target(interp, "steady.py")
    reports = watch(schema, t.pid, CONTROL_S)
    assert reports[-1]["elapsed_s"] >= CONTROL_S - 1
    for r in reports:
        assert r["leak"] is False, "t=%.0f\n%s" % (r["elapsed_s"], summary(r))
        assert not any(s["leak"] for s in r["sites"]), summary(r)
    assert reports[-1]["events"]["allocs"] > 1_000, reports[-1]["events"]


def test_sanitize_covers_every_kind():
    """The sanitizer run's picks exist: a kind missing from the machine would
    otherwise shrink it without a word."""
    assert len(SANITIZE_KINDS) == 5 and SANITIZE_KINDS <= {i.name for i in MATRIX}, SANITIZE_KINDS


FREE_THREADED = os.path.join(CACHE, "cpython-3.13t", "bin", "python3.13t")


@pytest.mark.sanitize
def test_free_threaded_build_is_refused(target):
    """A free-threaded 3.13t (built by `make matrix`) has no GIL, no
    pymalloc pools and other object headers: refused, never walked."""
    if not os.access(FREE_THREADED, os.X_OK):
        pytest.fail("no free-threaded CPython at %s: run `make matrix`" % FREE_THREADED)
    t = target(FREE_THREADED, "steady.py", env={"PYTHON_GIL": "0"})
    run = run_tool("-p", t.pid, "-d", 5)
    assert run.code == EXIT_UNSUPPORTED, (run.code, run.err)
    one_error_line(run, "not supported", "free-threaded")


@pytest.mark.sanitize
def test_container_pid_and_mount_namespace(schema):
    """A target in its own pid and mount namespaces, chrooted (a container
    without the engine): attached by its host pid, files found through the
    namespace, and the report speaks of the host pid."""
    interp = next((i for i in MATRIX if i.name == "trixie-3.13-chroot"), None)
    if interp is None:
        pytest.fail("no trixie chroot: run `make matrix`")
    script = os.path.join(interp.progs(), "leak_list.py")
    proc = subprocess.Popen(["unshare", "--pid", "--mount", "--fork", "chroot", interp.root, interp.python, script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = proc.stdout.readline().split()
        assert ready and ready[0] == "ready", proc.stderr.read()
        assert ready[1] == "1"  # pid 1 inside its namespace
        with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as fh:
            host_pid = int(fh.read().split()[0])
        line = marked_line("leak_list.py")

        def named(r):
            return r["sites"] and r["sites"][0]["leak"] and innermost(r["sites"][0])[:2] == (script, line)

        reports = watch(schema, host_pid, NAME_WITHIN_S + 10, named)
        assert any(named(r) for r in reports), summary(reports[-1])
        assert all(r["pid"] == host_pid for r in reports)
    finally:
        proc.kill()
        proc.wait()
