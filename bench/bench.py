"""Overhead of observing a Python process, measured side by side.

Each workload runs under every variant, interleaved round by round
(A B C D, A B C D, ...), and the table reports, per variant, the median over
rounds of (variant time / baseline time of the same round). "baseline again"
is a second unobserved run: its ratio is the noise floor of the machine.
pyleakbpf's own CPU seconds and peak RSS are read from its rusage.

Run as root: bench/run.sh [--rounds N] [--scale X] [--python PATH ...]
"""
import argparse
import glob
import json
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "pyleakbpf")
WORKLOADS = {
    # name: (script, iterations at scale 1)
    "steady alloc loop": ("steady.py", 30000),
    "pure growth loop": ("growth.py", 30000),
    "mixed service loop": ("mixed.py", 6000),
}


def default_pythons():
    found = ["/usr/bin/python3.11"]
    found += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.11.*/bin/python3.11")))[-1:]
    return [p for p in found if os.access(p, os.X_OK)]


def wait_line(stream, prefix, deadline):
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            return None
        if line.startswith(prefix):
            return line
    return None


def run_once(python, script, n, variant):
    """Returns (loop wall seconds, tool cpu seconds or None, tool max rss KiB or None)."""
    argv = [python]
    if variant == "tracemalloc":
        argv += ["-X", "tracemalloc=1"]
    argv += [os.path.join(HERE, "workloads", script), str(n)]
    target = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=os.path.join(HERE, "workloads"))
    tool = None
    try:
        if not wait_line(target.stdout, "ready", time.monotonic() + 30):
            raise RuntimeError("%s did not start" % script)
        if variant == "pyleakbpf exact":
            tool = subprocess.Popen([TOOL, "-p", str(target.pid), "--json"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
            if not wait_line(tool.stderr, "pyleakbpf: attached", time.monotonic() + 30):
                raise RuntimeError("pyleakbpf did not attach: %s" % tool.stderr.read())
        target.stdin.write("go\n")
        target.stdin.flush()
        result = json.loads(target.stdout.readline())
        target.wait(timeout=60)
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
    cpu = rss = None
    if tool:
        tool.send_signal(signal.SIGINT)
        _, _, usage = os.wait4(tool.pid, 0)
        tool.returncode = 0
        cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
    return result["wall_s"], cpu, rss


def bench(python, rounds, scale, variants):
    print("\n%s (%s)" % (python, subprocess.run([python, "-V"], capture_output=True, text=True).stdout.strip()))
    header = "%-20s %10s" % ("workload", "baseline") + "".join(" %16s" % v for v in variants[1:]) + \
        " %14s %12s" % ("tool CPU s", "tool RSS")
    print(header)
    for name, (script, n) in WORKLOADS.items():
        n = max(1, int(n * scale))
        times = {v: [] for v in variants}
        cpus, rsss = [], []
        for _ in range(rounds):
            for v in variants:
                wall, cpu, rss = run_once(python, script, n, v)
                times[v].append(wall)
                if cpu is not None:
                    cpus.append(cpu)
                    rsss.append(rss)
        base = times[variants[0]]
        cells = []
        for v in variants[1:]:
            ratios = [t / b for t, b in zip(times[v], base)]
            cells.append(" %15.2fx" % statistics.median(ratios))
        tool = " %14.2f %9.1f MiB" % (statistics.median(cpus), max(rsss) / 1024) if cpus else ""
        print("%-20s %9.3fs" % (name, statistics.median(base)) + "".join(cells) + tool, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every workload's iterations")
    ap.add_argument("--python", action="append", help="interpreter to bench (repeatable)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (pyleakbpf attaches BPF programs)")
    variants = ["baseline", "baseline again", "pyleakbpf exact", "tracemalloc"]
    print("pyleakbpf bench: %d rounds, scale %g; cells are median(variant / baseline) per round"
          % (args.rounds, args.scale))
    for py in args.python or default_pythons():
        bench(py, args.rounds, args.scale, variants)


if __name__ == "__main__":
    main()
