"""A target that names itself to attack the terminal (issue 10, finding 4):
escapes (OSC 52 sets the clipboard, CSI 2K erases a line), C1 controls, a
right-to-left override and invalid UTF-8 in its comm, its interpreter's
path, its script's path, and the file and function names of the code that
leaks (tests/progs/hostile_names.py). Whatever it does, the table and the
messages reach the terminal with these shown, not acted on, and --json
stays valid UTF-8 JSON that validates, with the names recognisable."""
import json
import os
import re
import shutil
import subprocess

import jsonschema
import pytest

from conftest import DEBIAN_311, EXIT_UNSUPPORTED, PROGS, TOOL, pyenv_python

OSC52 = b"\x1b]52;c;SGVsbG8=\x07"
# Raw bytes a terminal acts on: C0 controls but the newline, DEL, C1
# controls in UTF-8 (C2 80-9F) and the bidi controls. Lone 8-bit C1 bytes
# are invalid UTF-8: the tests decode the output strictly to rule them out.
DANGER = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")
RUN_S = 8


def term_form(raw):
    """escape.h's terminal form, written again here from its description."""
    out, text = [], raw.decode("utf-8", "surrogateescape")
    for ch in text:
        cp = ord(ch)
        if 0xdc80 <= cp <= 0xdcff:          # an invalid byte, as surrogateescape keeps it
            out.append("\\x%02x" % (cp - 0xdc00))
        elif ch == "\\":
            out.append("\\\\")
        elif cp < 0x20 or cp == 0x7f:
            out.append("\\x%02x" % cp)
        elif 0x80 <= cp <= 0x9f or cp in (0x61c, 0x200e, 0x200f, 0x2028, 0x2029) or \
                0x202a <= cp <= 0x202e or 0x2066 <= cp <= 0x2069:
            out.append("\\u%04x" % cp)
        else:
            out.append(ch)
    return "".join(out).encode("utf-8")


@pytest.fixture
def hostile(tmp_path):
    """Starts the hostile target: Debian's python3.11 copied under a path
    with escapes and invalid UTF-8, running hostile_names.py copied to a
    name with escapes. Yields (pid, names: the exact bytes of each name)."""
    base = os.fsencode(str(tmp_path))
    bindir = os.path.join(base, b"bin" + OSC52 + b"\xff\xfe\xe2\x80\xae")
    os.makedirs(bindir)
    python = os.path.join(bindir, b"python3.11")
    shutil.copy(DEBIAN_311, python)
    scriptdir = os.path.join(base, b"s\x1b[2K")
    os.makedirs(scriptdir)
    script = os.path.join(scriptdir, b"leak" + OSC52 + b"\x1b[2K.py")
    shutil.copy(os.path.join(PROGS, "hostile_names.py"), script)
    names_file = str(tmp_path / "names.json")
    env = dict(os.environ, PYTHONPATH=PROGS, PYLEAK_HOSTILE_REPORT=names_file, PYLEAK_RUN_FOR="300")
    env.pop("PYTHONMALLOC", None)
    proc = subprocess.Popen([python, script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith(b"ready"), (line, proc.stderr.read())
        with open(names_file) as fh:
            names = {k: v.encode("latin-1") for k, v in json.load(fh).items()}
        # The names really are hostile: the attack is in place before the tool looks.
        assert names["comm"].startswith(b"\x1b]52;c;QQ==\x07"), names
        assert names["exe"] == python and names["script"] == script, names
        assert b"\xff\xc0" in names["function"] and b"\xe2\x80\xae" in names["function"], names
        yield proc.pid, names
    finally:
        proc.kill()
        proc.wait()


def run_bytes(*args):
    """pyleakbpf, its output kept as bytes: the test must see what a terminal would."""
    r = subprocess.run([TOOL] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    return r.returncode, r.stdout, r.stderr


def assert_no_danger(what, data):
    m = DANGER.search(data)
    assert m is None, "%s: raw %r at %d: %r" % (what, m.group(), m.start(), data[max(0, m.start() - 60):m.end() + 60])


def test_table_shows_hostile_names_escaped(hostile):
    pid, names = hostile
    code, out, err = run_bytes("-p", pid, "-d", RUN_S, "-i", 4, "--exact", "-c", 5, "-v")
    assert code == 0, err.decode("utf-8", "backslashreplace")
    assert_no_danger("stdout", out)
    assert_no_danger("stderr", err)
    # Valid UTF-8 throughout: no lone byte for a terminal to take as C1.
    out.decode("utf-8")
    err.decode("utf-8")
    # Each name is there, in the visible form escape.h documents.
    assert b"pid %d (%s)" % (pid, term_form(names["comm"])) in out, out
    assert b"%s:5 in %s" % (term_form(names["file"]), term_form(names["function"])) in out, out
    assert b"in \\x1b]52;c;SGVsbG8=\\x07\\x1b[2K\\u009b\\u202eleak_here\\xff\\xc0" in out, out
    assert term_form(names["script"]) in out, out
    assert b" in %s, " % term_form(names["exe"]) in err, err


def test_json_is_valid_utf8_and_keeps_names(hostile, schema):
    pid, names = hostile
    code, out, err = run_bytes("-p", pid, "-d", RUN_S, "-i", 4, "--exact", "--json")
    assert code == 0, err.decode("utf-8", "backslashreplace")
    assert_no_danger("stdout", out.replace(b"\n", b""))
    assert_no_danger("stderr", err)
    text = out.decode("utf-8")  # raises on invalid UTF-8
    reports = [json.loads(l) for l in text.splitlines() if l.strip()]
    assert reports and reports[-1]["final"], text
    for r in reports:
        jsonschema.validate(r, schema, cls=jsonschema.Draft202012Validator)

    # What a JSON consumer reads: each name as Python's backslashreplace
    # decoding of its bytes (escape.h, JSON form).
    def readable(raw):
        return raw.decode("utf-8", "backslashreplace")

    last = reports[-1]
    assert last["comm"] == readable(names["comm"]), last["comm"]
    assert last["exe"] == readable(names["exe"]), last["exe"]
    frames = [(f["file"], f["function"]) for s in last["sites"] for f in s["frames"]]
    want = (readable(names["file"]), readable(names["function"]))
    assert want in frames, (want, frames[:6])
    assert want[1] == "\x1b]52;c;SGVsbG8=\x07\x1b[2K\x9b\u202eleak_here\\xff\\xc0"
    assert any(f[0] == readable(names["script"]) for f in frames), frames[:6]


def test_error_message_escapes_path(tmp_path):
    """Error messages embed the target's paths: the one line on stderr shows
    them escaped. CPython 3.8 (unsupported) loads its libpython from a
    folder named to attack the terminal."""
    python = pyenv_python(8)
    libdir = os.path.join(os.fsencode(str(tmp_path)), b"lib" + OSC52 + b"\x1b[2K\x9b\xff\xe2\x80\xae")
    os.makedirs(libdir)
    lib = os.path.join(os.path.dirname(os.path.dirname(python)), "lib", "libpython3.8.so.1.0")
    shutil.copy(lib, os.path.join(libdir, b"libpython3.8.so.1.0"))
    # ';' separates LD_LIBRARY_PATH entries: name the folder through a
    # symlink, the mapping shows the real path.
    os.symlink(libdir, str(tmp_path / "plain"))
    env = dict(os.environ, LD_LIBRARY_PATH=str(tmp_path / "plain"), PYTHONPATH=PROGS)
    env.pop("PYTHONMALLOC", None)
    proc = subprocess.Popen([python, os.path.join(PROGS, "steady.py")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith(b"ready"), (line, proc.stderr.read())
        with open("/proc/%d/maps" % proc.pid, "rb") as fh:
            assert libdir in fh.read(), "the target did not load the hostile copy"
        code, out, err = run_bytes("-p", proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert code == EXIT_UNSUPPORTED, err
    assert out == b""
    assert_no_danger("stderr", err.rstrip(b"\n"))
    err.decode("utf-8")
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(b"pyleakbpf: CPython 3.8."), err
    assert term_form(libdir) in lines[0], err
