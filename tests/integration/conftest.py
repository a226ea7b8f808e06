"""Fixtures for the integration tests: real interpreters, real targets,
the real pyleakbpf binary, real BPF. Run as root (make test)."""
import glob
import json
import os
import signal
import subprocess
import time

import jsonschema
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOL = os.path.join(ROOT, "pyleakbpf")
PROGS = os.path.join(ROOT, "tests", "progs")
SCHEMA_PATH = os.path.join(ROOT, "..", "shared", "report.schema.json")

# Interpreters the machine image provides. A missing one is a failure, not a
# skip: the suite must not pass by testing less than it says.
PYENV = os.path.expanduser("~/.pyenv/versions")
DEBIAN_311 = "/usr/bin/python3.11"


def pyenv_python(minor):
    found = sorted(glob.glob(os.path.join(PYENV, "3.%d.*" % minor, "bin", "python3.%d" % minor)))
    if not found:
        pytest.fail("no pyenv CPython 3.%d under %s: the machine image should provide it" % (minor, PYENV))
    return found[-1]


@pytest.fixture(scope="session")
def schema():
    with open(SCHEMA_PATH) as fh:
        return json.load(fh)


@pytest.fixture(scope="session", autouse=True)
def require_root_and_tool():
    if os.geteuid() != 0:
        pytest.fail("the integration tests attach real BPF programs: run them as root")
    if not os.access(TOOL, os.X_OK):
        pytest.fail("%s is not built: run make" % TOOL)


def marked_lines(prog, marker="# LEAK"):
    """Line numbers of every line carrying `marker` in tests/progs/prog."""
    with open(os.path.join(PROGS, prog)) as fh:
        lines = {n for n, line in enumerate(fh, 1) if marker in line}
    if not lines:
        raise AssertionError("%s has no line marked %r" % (prog, marker))
    return lines


def marked_line(prog, marker="# LEAK"):
    """Line number of the line carrying `marker` in tests/progs/prog."""
    with open(os.path.join(PROGS, prog)) as fh:
        for n, line in enumerate(fh, 1):
            if line.rstrip().endswith(marker):
                return n
    raise AssertionError("%s has no line marked %r" % (prog, marker))


class Target:
    """A Python program started for a test, killed at the end."""

    def __init__(self, python, prog, env=None, run_for=None):
        self.path = os.path.join(PROGS, prog)
        e = dict(os.environ)
        e.pop("PYTHONMALLOC", None)
        e.update(env or {})
        if run_for is not None:
            e["PYLEAK_RUN_FOR"] = str(run_for)
        self.proc = subprocess.Popen([python, self.path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=e, cwd=PROGS, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            self.stop()
            raise AssertionError("target %s did not start: %r %s" % (prog, line, self.proc.stderr.read()))
        self.pid = self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def target():
    started = []

    def start(python, prog, **kw):
        t = Target(python, prog, **kw)
        started.append(t)
        return t

    yield start
    for t in started:
        t.stop()


class Run:
    def __init__(self, proc, out, err):
        self.code = proc.returncode
        self.out = out
        self.err = err

    def json_lines(self, schema):
        lines = [l for l in self.out.splitlines() if l.strip()]
        reports = []
        for l in lines:
            obj = json.loads(l)
            jsonschema.validate(obj, schema, cls=jsonschema.Draft202012Validator)
            reports.append(obj)
        return reports


def run_tool(*args, timeout=120, preexec=None, env=None):
    """Runs pyleakbpf to completion and returns its exit code and output."""
    cmd = [TOOL] + [str(a) for a in args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=preexec, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("pyleakbpf %s did not finish in %ss:\n%s\n%s" % (args, timeout, out, err))
    return Run(proc, out, err)


def start_tool(*args):
    return subprocess.Popen([TOOL] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def innermost(site):
    f = site["frames"][0]
    return f["file"], f["line"], f["function"]
