"""A target that tries to blind the tool by filling its BPF maps: real BPF,
real CPython. The maps are bounded; what the loader has read must leave
them, so a flood of distinct stacks costs churn, not the rest of the run."""
from conftest import EXIT_OK, innermost, pyenv_python, run_tool, summary

LEAK_LINE = 25


def test_stack_flood_does_not_blind(target, schema):
    t = target(pyenv_python(11), "stack_flood.py")
    # 256 stacks: the flood alone (thousands of distinct stacks in its
    # first 5 s) would fill the map many times over.
    run = run_tool("-p", t.pid, "--exact", "--max-stacks", 256, "-d", 25, "-i", 1, "--json", timeout=90)
    assert run.code == EXIT_OK, run.err
    reports = run.json_lines(schema)
    last = reports[-1]
    assert last["events"]["stacks_retired"] > 256, last["events"]
    leak = [s for s in last["sites"] if innermost(s)[1] == LEAK_LINE and innermost(s)[0].endswith("stack_flood.py")]
    assert leak, summary(last)
    assert leak[0]["bytes"] > 512 * 1024, summary(last)
    untracked = [s for s in last["sites"] if innermost(s)[2].startswith("[untracked stacks")]
    assert not untracked or untracked[0]["bytes"] < leak[0]["bytes"] / 10, summary(last)
