"""The scenario suite: realistic leaks, each with its leaking lines marked
`# LEAK`, and controls that must never be judged leaking. Run against every
allocation (the current mode) on pyenv's CPython 3.11, where the probes see
every allocation. Each leak must be named within 30 s of attach; each
control is watched for 60 s."""
import pytest

from conftest import marked_lines, pyenv_python, run_tool

LEAKS = [
    "leak_cache.py",       # unbounded module-level cache beside per-request churn
    "leak_listeners.py",   # listeners registered and never removed (bound methods)
    "leak_cycles.py",      # parent/child cycles under gc.disable()
    "leak_tracebacks.py",  # stored exceptions pinning tracebacks
    "leak_bytes.py",       # bytes buffers of 4 KiB and more kept in a list
    "leak_ctypes.py",      # ctypes malloc never freed (native memory)
    "leak_files.py",       # files opened and kept unclosed
    "leak_lru.py",         # lru_cache(maxsize=None) with ever-new keys
    "leak_threads.py",     # growth inside worker threads
    "leak_slow_churn.py",  # ~30 KB/s hidden under heavy churn
]
CONTROLS = [
    "steady.py",           # steady churn
    "control_lru.py",      # bounded LRU: warms up for 8 s, then flat
    "control_sawtooth.py", # tens of MB built and freed every second
]
NAME_WITHIN_S = 30


def first_frame_in(site, path):
    return next((f for f in site["frames"] if f["file"] == path), None)


def summary(report):
    rows = []
    for s in report["sites"][:4]:
        f = s["frames"][0]
        rows.append("%s:%d %s %s B %.0f B/s r2=%.2f %s [%s]" % (f["file"], f["line"], f["function"], s["bytes"],
                                                             s["slope_bytes_per_s"], s["r2"], s["verdict"],
                                                             s["source"]))
    return "leak=%s rss=%s coverage=%s\n" % (report["leak"], report["rss_bytes"], report["coverage"]) + "\n".join(rows)


@pytest.mark.parametrize("prog", LEAKS)
def test_leak_is_named(prog, target, schema):
    t = target(pyenv_python(11), prog)
    run = run_tool("-p", t.pid, "-d", NAME_WITHIN_S, "-i", 2, "--json")
    assert run.code == 0, run.err
    reports = run.json_lines(schema)
    marked = marked_lines(prog)
    named_at = None
    for r in reports:
        if r["leak"] and r["sites"] and r["sites"][0]["leak"]:
            mine = first_frame_in(r["sites"][0], t.path)
            if mine and mine["line"] in marked:
                named_at = r["elapsed_s"]
                break
    assert named_at is not None, "%s not named within %ds; last report:\n%s" % (prog, NAME_WITHIN_S,
                                                                               summary(reports[-1]))
    last = reports[-1]
    assert last["leak"] and first_frame_in(last["sites"][0], t.path)["line"] in marked, summary(last)


@pytest.mark.parametrize("prog", CONTROLS)
def test_control_is_not_a_leak(prog, target, schema):
    t = target(pyenv_python(11), prog)
    run = run_tool("-p", t.pid, "-d", 60, "-i", 2, "--json")
    assert run.code == 0, run.err
    reports = run.json_lines(schema)
    last = reports[-1]
    assert last["final"] and last["elapsed_s"] >= 59
    assert last["leak"] is False, summary(last)
    assert not any(s["leak"] for s in last["sites"]), summary(last)
