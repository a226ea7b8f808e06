"""Fixtures for the integration tests: real interpreters, real targets,
the real pyleakbpf binary, real BPF. Run as root (make test)."""
import glob
import json
import os
import shutil
import signal
import subprocess
import time

import jsonschema
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# PYLEAKBPF_BIN picks another build, say the sanitizer one (make asan-test).
TOOL = os.environ.get("PYLEAKBPF_BIN") or os.path.join(ROOT, "pyleakbpf")
PROGS = os.path.join(ROOT, "tests", "progs")
SCHEMA_PATH = os.path.join(ROOT, "..", "shared", "report.schema.json")

# user/exitcodes.h
EXIT_OK, EXIT_USAGE, EXIT_NO_PROCESS, EXIT_NOT_PYTHON, EXIT_UNSUPPORTED = 0, 2, 3, 4, 5
EXIT_PRIVILEGE, EXIT_NO_BTF = 6, 7

# Under ASan and UBSan (make asan), any report ends the tool with this code,
# apart from its own 0-9, and the tests fail on it or on the report's text
# (see check_sanitizers). LeakSanitizer is on: the tool frees what it
# allocates before it exits, error paths included. Inherited by everything
# the tests start; builds without sanitizers ignore both.
EXIT_SANITIZER = 66
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=%d" % EXIT_SANITIZER)
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=%d" % EXIT_SANITIZER)



def tool_is_sanitized():
    """Whether TOOL is a sanitizer build: its memory and speed figures are
    then ASan's (shadow memory, quarantine), not the tool's."""
    with open(TOOL, "rb") as fh:
        return b"__asan_init" in fh.read()


SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer", "WARNING: AddressSanitizer")


def check_sanitizers(code, err):
    """Fails the test on any sanitizer report of a finished pyleakbpf."""
    found = [m for m in SANITIZER_REPORTS if m in (err or "")]
    assert code != EXIT_SANITIZER and not found, "sanitizer report from %s (exit %s):\n%s" % (TOOL, code, err)


def pytest_configure(config):
    config.addinivalue_line("markers", "sanitize: run against the ASan/UBSan build by `make asan-test` (in CI): "
                            "every error case, a leak and a control per kind of interpreter")


def one_error_line(run, *needles):
    lines = [l for l in run.err.splitlines() if l.strip()]
    assert len(lines) == 1, run.err
    assert lines[0].startswith("pyleakbpf: "), run.err
    for n in needles:
        assert n in lines[0], run.err
    assert run.out == "", run.out


# Interpreters the machine image provides. A missing one is a failure, not a
# skip: the suite must not pass by testing less than it says.
PYENV = os.path.expanduser("~/.pyenv/versions")
DEBIAN_311 = "/usr/bin/python3.11"


CACHE = os.environ.get("PYLEAK_CACHE", "/var/cache/pyleakbpf")
# Where the test programs are copied inside a chroot: the target sees them there.
CHROOT_PROGS = "/opt/pyleak-progs"


class Interp:
    """One interpreter of the matrix: a python binary, the root it runs in
    ("/" or a chroot made by scripts/make-chroot.sh) and how it was built."""

    def __init__(self, name, python, build, root="/", env=None):
        self.name, self.python, self.build, self.root = name, python, build, root
        self.env = env or {}

    def host(self, path):
        """A path inside the interpreter's root, as this process opens it."""
        return path if self.root == "/" else os.path.join(self.root, path.lstrip("/"))

    def progs(self):
        """The test programs' folder as the target sees it."""
        if self.root == "/":
            return PROGS
        shutil.copytree(PROGS, self.host(CHROOT_PROGS), dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        return CHROOT_PROGS

    def argv(self, script):
        return ([self.python] if self.root == "/" else ["chroot", self.root, self.python]) + [script]


def matrix():
    """Every interpreter this machine has for the matrix, and the ones it
    lacks (name, how to get it). Debian's python3.11 and what `make matrix`
    makes (run by `make test`) are always expected; pyenv builds when
    present; the sid chroot with 3.14 after `make python314`."""
    found = [Interp("debian-3.11", DEBIAN_311, "static libpython, stripped, LTO+PGO, detached debug symbols")]
    missing = []
    for minor in range(9, 15):
        paths = sorted(glob.glob(os.path.join(PYENV, "3.%d.*" % minor, "bin", "python3.%d" % minor)))
        if paths:
            version = paths[-1].split(os.sep)[-3]
            found.append(Interp("pyenv-" + version, paths[-1], "shared libpython, unstripped"))
        elif minor < 14:
            missing.append(("pyenv-3.%d" % minor, "not under %s" % PYENV))
    for suite, minor, how in (("trixie", 13, "make test"), ("sid", 14, "make python314")):
        root = os.path.join(CACHE, "chroot-" + suite)
        if os.path.exists(os.path.join(root, ".pyleak-ready")):
            found.append(Interp("%s-3.%d-chroot" % (suite, minor), "/usr/bin/python3.%d" % minor,
                                "Debian %s, static libpython, stripped, LTO+PGO, in a chroot" % suite, root))
        else:
            missing.append(("%s-3.%d-chroot" % (suite, minor), "run `%s`" % how))
    for ready in sorted(glob.glob(os.path.join(CACHE, "stripped-3.*", ".pyleak-ready"))):
        d = os.path.dirname(ready)
        version = os.path.basename(d).split("-", 1)[1]
        home = open(ready).read().strip()
        found.append(Interp("pyenv-%s-stripped" % version, os.path.join(d, "bin", "python" + version.rsplit(".", 1)[0]),
                            "shared libpython stripped to .dynsym (pyenv build, scripts/strip-copy.sh)",
                            env={"LD_LIBRARY_PATH": os.path.join(d, "lib"), "PYTHONHOME": home}))
    static = os.path.join(CACHE, "cpython-3.13", "bin", "python3.13")
    if os.access(static, os.X_OK):
        found.append(Interp("source-3.13-static", static,
                            "static libpython, unstripped, from Debian trixie's source package"))
    else:
        missing.append(("source-3.13-static", "run `make matrix`"))
    return found, missing


MATRIX, MATRIX_MISSING = matrix()


def sanitize_kinds():
    """One interpreter of each kind the sanitizer run covers: Debian's LTO
    build, a pyenv shared libpython, a stripped copy, a chroot, a static
    unstripped build."""
    names = [i.name for i in MATRIX]
    picks = ["debian-3.11", "trixie-3.13-chroot", "source-3.13-static"]
    picks += [n for n in names if n.startswith("pyenv-3.11.") and not n.endswith("-stripped")][:1]
    # The newest stripped copy: symbols from .dynsym and 3.13's debug offsets.
    stripped = [n for n in names if n.endswith("-stripped")]
    picks += sorted(stripped, key=lambda n: [int(x) for x in n.split("-")[1].split(".")])[-1:]
    return set(picks)


SANITIZE_KINDS = sanitize_kinds()


def matrix_params(interps):
    """The interpreters as pytest parameters, marked `sanitize` for one of each kind."""
    return [pytest.param(i, id=i.name, marks=[pytest.mark.sanitize] if i.name in SANITIZE_KINDS else [])
            for i in interps]


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    tr.section("interpreter matrix")
    for i in MATRIX:
        tr.write_line("found    %-22s %s (%s)" % (i.name, i.python if i.root == "/" else i.root + i.python,
                                                  i.build))
    for name, why in MATRIX_MISSING:
        tr.write_line("absent   %-22s %s" % (name, why))


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
        pytest.fail("%s is not built: run make (make asan for the sanitizer build)" % TOOL)


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
        interp = python if isinstance(python, Interp) else Interp(python, python, "")
        self.path = os.path.join(interp.progs(), prog)
        e = dict(os.environ)
        e.pop("PYTHONMALLOC", None)
        e.update(interp.env)
        e.update(env or {})
        if run_for is not None:
            e["PYLEAK_RUN_FOR"] = str(run_for)
        self.proc = subprocess.Popen(interp.argv(self.path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=e, cwd=interp.host(os.path.dirname(self.path)), text=True)
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
    check_sanitizers(proc.returncode, err)
    return Run(proc, out, err)


class ToolProcess(subprocess.Popen):
    """A running pyleakbpf whose communicate() checks for sanitizer reports."""

    def communicate(self, *args, **kw):
        out, err = super().communicate(*args, **kw)
        check_sanitizers(self.returncode, err)
        return out, err


def start_tool(*args):
    return ToolProcess([TOOL] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)


def innermost(site):
    f = site["frames"][0]
    return f["file"], f["line"], f["function"]


def summary(report):
    """The process verdict and the top four sites of a report, for assertion messages."""
    rows = []
    for s in report["sites"][:4]:
        f = s["frames"][0]
        rows.append("%s:%d %s %s B %.0f B/s r2=%.2f %s [%s]" % (f["file"], f["line"], f["function"], s["bytes"],
                                                             s["slope_bytes_per_s"], s["r2"], s["verdict"],
                                                             s["source"]))
    return "leak=%s rss=%s coverage=%s\n" % (report["leak"], report["rss_bytes"], report["coverage"]) + "\n".join(rows)


def watch(schema, pid, duration, stop_when=None, args=("-i", 2)):
    """Runs pyleakbpf in the default mode, validating each report as it
    comes; stops it (SIGTERM, final report) once stop_when(report) holds.
    A crash (a signal, a sanitizer report) fails the test here."""
    tool = start_tool("-p", pid, "-d", duration, "--json", *args)
    reports = []
    deadline = time.monotonic() + duration + 60
    try:
        for line in tool.stdout:
            report = json.loads(line)
            jsonschema.validate(report, schema, cls=jsonschema.Draft202012Validator)
            reports.append(report)
            if stop_when and stop_when(report) and not report["final"]:
                tool.send_signal(signal.SIGTERM)
                stop_when = None
            if time.monotonic() > deadline:
                break
        code = tool.wait(timeout=30)
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait()
    err = tool.stderr.read()
    check_sanitizers(code, err)
    assert code == 0, err
    assert reports and reports[-1]["final"], err
    assert all(r["mode"] == "sampled" for r in reports)
    return reports
