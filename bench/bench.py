"""Overhead of observing a Python process, measured side by side.

Each workload runs under every variant, interleaved round by round
(A B C D E, A B C D E, ...). A run lasts --seconds (or until its iteration
cap), and what is compared is throughput: iterations per second. Each cell is
the median over rounds of (baseline throughput / variant throughput) in the
same round, i.e. the slowdown: 1.00x is free. "baseline again" is a second
unobserved run, so its distance from 1.00x is the noise floor of the
machine. For pyleakbpf's default (sampled) mode the table also prints the
tool's own CPU use while watching (share of one core, start-up excluded),
its peak RSS, and the cost it models for itself (probe hits x measured trap
cost, from its JSON).

Run as root: bench/run.sh [--rounds N] [--seconds S] [--python PATH ...]
"""
import argparse
import glob
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "pyleakbpf")
WORKLOADS = {
    # name: (script, iteration cap: bounds the growth loop's memory)
    "steady alloc loop": ("steady.py", 10**9),
    "pure growth loop": ("growth.py", 12 * 10**6),
    "mixed service loop": ("mixed.py", 10**9),
}
VARIANTS = ["baseline", "baseline again", "pyleakbpf", "pyleakbpf --exact", "tracemalloc"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Tool:
    """pyleakbpf watching the target; keeps its last JSON report."""

    def __init__(self, pid, exact):
        argv = [TOOL, "-p", str(pid), "--json", "-i", "1"] + (["--exact"] if exact else [])
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if not wait_line(self.proc.stderr, "pyleakbpf: mode", time.monotonic() + 30):
            raise RuntimeError("pyleakbpf did not attach: %s" % self.proc.stderr.read())
        self.last = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.last = json.loads(line)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        _, _, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = 0
        self.reader.join(timeout=10)
        return usage.ru_maxrss


def run_once(python, script, cap, seconds, variant):
    """Returns (iterations per second, tool stats dict or None)."""
    argv = [python] + (["-X", "tracemalloc=1"] if variant == "tracemalloc" else [])
    argv += [os.path.join(HERE, "workloads", script), str(cap), str(seconds)]
    target = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=os.path.join(HERE, "workloads"))
    tool = None
    stats = None
    try:
        if not wait_line(target.stdout, "ready", time.monotonic() + 30):
            raise RuntimeError("%s did not start" % script)
        if variant.startswith("pyleakbpf"):
            tool = Tool(target.pid, variant.endswith("--exact"))
            cpu0 = cpu_seconds(tool.proc.pid)
        target.stdin.write("go\n")
        target.stdin.flush()
        result = json.loads(target.stdout.readline())
        if tool:
            stats = {"cpu_share": (cpu_seconds(tool.proc.pid) - cpu0) / result["wall_s"]}
        if result["wall_s"] < 0.9 * seconds and variant == "baseline":
            print("warning: %s hit its iteration cap after %.1fs" % (script, result["wall_s"]), file=sys.stderr)
        target.wait(timeout=60)
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
        if tool:
            rss = tool.stop()
            if stats is not None:
                stats["rss_kib"] = rss
                stats["modelled"] = (tool.last or {}).get("overhead")
    return result["iters"] / result["wall_s"], stats


def bench(python, rounds, seconds, only):
    print("\n%s (%s)" % (python, subprocess.run([python, "-V"], capture_output=True, text=True).stdout.strip()))
    print("%-20s %12s" % ("workload", "baseline/s") + "".join(" %17s" % v for v in VARIANTS[1:]) +
          "   default mode: tool CPU, tool RSS, modelled cost")
    for name, (script, cap) in WORKLOADS.items():
        if only and name not in only:
            continue
        rates = {v: [] for v in VARIANTS}
        default_stats = []
        for _ in range(rounds):
            for v in VARIANTS:
                rate, stats = run_once(python, script, cap, seconds, v)
                rates[v].append(rate)
                if v == "pyleakbpf" and stats:
                    default_stats.append(stats)
        base = rates[VARIANTS[0]]
        cells = "".join(" %16.2fx" % statistics.median(b / r for b, r in zip(base, rates[v]))
                        for v in VARIANTS[1:])
        tool = ""
        if default_stats:
            modelled = [s["modelled"] for s in default_stats if s["modelled"] is not None]
            tool = "   %5.2f%% of a core, %5.1f MiB, %s" % (
                100 * statistics.median(s["cpu_share"] for s in default_stats),
                max(s["rss_kib"] for s in default_stats) / 1024,
                "%.2f%%" % (100 * statistics.median(modelled)) if modelled else "n/a")
        print("%-20s %11.0f" % (name, statistics.median(base)) + cells + tool, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each run")
    ap.add_argument("--python", action="append", help="interpreter to bench (repeatable)")
    ap.add_argument("--workload", action="append", choices=sorted(WORKLOADS),
                    help="only this workload (repeatable; default: all)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (pyleakbpf attaches BPF programs)")
    print("pyleakbpf bench: %d rounds of %gs runs; cells are median(baseline / variant throughput) per round"
          % (args.rounds, args.seconds))
    for py in args.python or default_pythons():
        bench(py, args.rounds, args.seconds, args.workload)


if __name__ == "__main__":
    main()
