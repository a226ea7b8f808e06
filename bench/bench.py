"""Overhead of observing a Python process, measured side by side.

Each workload runs under every variant, interleaved round by round
(A B C D E, A B C D E, ...). Variants: "baseline" (no observer), "baseline
again" (a second unobserved run: its distance from 1.00x is the noise floor
of the machine), "pyleakbpf" (the default, sampled mode), "pyleakbpf
--exact" and "tracemalloc" (-X tracemalloc=1). Each cell is the median over
rounds of the per-round ratio variant / baseline, oriented so that it is a
slowdown: 1.00x is free, 1.10x costs 10%.

Workloads (bench/workloads/*.py; each prints "ready", waits for "go" on
stdin while the observer attaches, then runs):

- steady alloc loop (steady.py): build and drop small objects, nothing kept.
- pure growth loop (growth.py): every iteration keeps a new dict (capped at
  12 M iterations to bound memory).
- mixed service loop (mixed.py): parse a request, render a response, keep
  one small record per 50 requests.
- GC-heavy with pauses (gcpause.py): a rolling window of 100k records that
  form reference cycles, a slice replaced every iteration, gc.collect()
  every 10,000 iterations, a 20 ms sleep every 1,000.
  These four run --seconds each; metric: iterations per second of wall time
  (sleeps included); cell = baseline rate / variant rate.
- idle then burst (burst.py): after "go" the target sleeps --idle seconds,
  then does a fixed burst of allocation-heavy work, --bursts times. The
  burst size is calibrated once per interpreter (unobserved) to take
  --burst-seconds, and every run of every round does that same work.
  Metric: wall time spent in the bursts (and their CPU time, shown
  alongside); cell = variant burst time / baseline burst time.
- request service (server.py, client loadgen.py): a single-threaded server
  on a Unix socket in a temporary directory; each request parses a small
  JSON body, builds a 50-item response dict and json.dumps it. The client
  runs in its own unobserved process, on one persistent connection, and
  sends at a fixed rate (--rate, open loop: request k is due at k/rate and
  is sent then, whether or not earlier ones were answered), for
  --service-seconds. Latency runs from the due time to the answer, so
  queueing counts. Metrics: p50, p99 and p99.9 latency (nearest rank);
  cell = variant percentile / baseline percentile.

The three last workloads run only baseline, baseline again and pyleakbpf
unless --all-variants is given (--exact makes them hundreds of times slower:
a burst still running after 30 s stops and its time is extrapolated; the
request service never runs under tracemalloc).

For pyleakbpf's default mode each workload also shows what the tool reports
about itself, from its last JSON report: "overhead" (the modelled share of
the target's time spent in probe traps so far, all traps counted) and, when
the tool reports them, sampling.worst_1s_cost and sampling.worst_10s_cost
(n/a otherwise); and what it costs the machine: its CPU while watching
(share of one core, start-up excluded) and its peak RSS. The modelled
figures are medians over rounds, like the cells, so each row puts the
measured slowdown beside the modelled cost.

Targets for the default mode, marked "met" or "MISSED by X" beside each
cell they apply to: every throughput workload and the bursts <= 1.05x,
request p99 <= 1.10x and p99.9 <= 1.5x, the tool under 2% of a core and
64 MiB. A final summary table lists, per interpreter and
workload, the measured slowdown, its target mark, the noise floor and the
modelled costs.

Run as root: bench/run.sh [--rounds N] [--seconds S] [--python PATH ...]
[--workload NAME ...] [--tool PATH] [--all-variants] (--help for the rest)
"""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKDIR = os.path.join(HERE, "workloads")
TOOL = os.path.join(HERE, "..", "pyleakbpf")
BURST_CAP_S = 30.0

# Metrics: (key, label, higher is better, target for the pyleakbpf cell or None)
THROUGHPUT = [("rate", "iterations/s", True, 1.05)]
WORKLOADS = {
    # name: kind, script, and for throughput the iteration cap (bounds the
    # growth loop's memory); "new" ones run fewer variants by default.
    "steady alloc loop": {"kind": "throughput", "script": "steady.py", "cap": 10**9, "metrics": THROUGHPUT},
    "pure growth loop": {"kind": "throughput", "script": "growth.py", "cap": 12 * 10**6,
                         "metrics": [("rate", "iterations/s", True, 1.05)]},
    "mixed service loop": {"kind": "throughput", "script": "mixed.py", "cap": 10**9, "metrics": THROUGHPUT},
    "idle then burst": {"kind": "burst", "script": "burst.py", "new": True,
                        "metrics": [("wall", "burst wall", False, 1.05), ("cpu", "burst CPU", False, None)]},
    "request service": {"kind": "latency", "script": "server.py", "new": True, "no_tracemalloc": True,
                        "metrics": [("p50", "p50", False, None), ("p99", "p99", False, 1.10),
                                    ("p999", "p99.9", False, 1.5)]},
    "GC-heavy with pauses": {"kind": "throughput", "script": "gcpause.py", "cap": 10**9, "new": True,
                             "metrics": THROUGHPUT},
}
VARIANTS = ["baseline", "baseline again", "pyleakbpf", "pyleakbpf --exact", "tracemalloc"]
TOOL_CPU_TARGET = 0.02
TOOL_RSS_TARGET_MIB = 64
CLK_TCK = os.sysconf("SC_CLK_TCK")


def newest(pattern):
    """The path matching `pattern` with the highest version in its name."""
    def key(path):
        return [int(n) for n in re.findall(r"\d+", path)]
    found = sorted(glob.glob(os.path.expanduser(pattern)), key=key)
    return found[-1:]


def default_pythons():
    found = ["/usr/bin/python3.11"]
    found += newest("~/.pyenv/versions/3.11.*/bin/python3.11")
    found += newest("~/.pyenv/versions/3.12.*/bin/python3.12")
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

    def __init__(self, path, pid, exact):
        argv = [path, "-p", str(pid), "--json", "-i", "1"] + (["--exact"] if exact else [])
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

    def modelled(self):
        """overhead and sampling.worst_{1,10}s_cost of the last report (None when absent)."""
        last = self.last or {}
        sampling = last.get("sampling") or {}
        num = lambda v: v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        return {"overhead": num(last.get("overhead")), "worst_1s": num(sampling.get("worst_1s_cost")),
                "worst_10s": num(sampling.get("worst_10s_cost"))}


def target_argv(wl, opts, shared):
    script = os.path.join(WORKDIR, wl["script"])
    if wl["kind"] == "throughput":
        return [script, str(wl["cap"]), str(opts.seconds)]
    if wl["kind"] == "burst":
        return [script, str(shared["burst_iters"]), str(opts.idle), str(opts.bursts), str(BURST_CAP_S)]
    return [script, shared["socket"], str(opts.service_seconds + opts.drain + 10)]


def measure(wl, target, opts, shared):
    """Runs the workload after "go"; returns its metrics as {key: value}."""
    if wl["kind"] == "latency":
        client = subprocess.run([sys.executable, os.path.join(HERE, "loadgen.py"), shared["socket"],
                                 str(opts.rate), str(opts.service_seconds), str(opts.drain)],
                                capture_output=True, text=True, timeout=opts.service_seconds + opts.drain + 60)
        if client.returncode != 0:
            raise RuntimeError("loadgen failed: %s" % client.stderr)
        lat = json.loads(client.stdout)
        json.loads(target.stdout.readline())  # the server's own summary
        if lat["unanswered"]:
            print("warning: %d of %d requests unanswered (latency counted up to the give-up time)"
                  % (lat["unanswered"], lat["requests"]), file=sys.stderr)
        if lat["late_sends"] > 0.01 * lat["requests"]:
            print("warning: the client sent %d of %d requests over 1 ms late (busy machine?)"
                  % (lat["late_sends"], lat["requests"]), file=sys.stderr)
        return {k: lat[k] for k in ("p50", "p99", "p999")}
    result = json.loads(target.stdout.readline())
    if wl["kind"] == "burst":
        return {"wall": sum(result["burst_wall_s"]), "cpu": sum(result["burst_cpu_s"]),
                "capped": result["capped"]}
    return {"rate": result["iters"] / result["wall_s"], "wall_s": result["wall_s"]}


def run_once(python, wl, variant, opts, shared):
    """Returns (metrics dict, tool stats dict or None)."""
    argv = [python] + (["-X", "tracemalloc=1"] if variant == "tracemalloc" else []) + target_argv(wl, opts, shared)
    target = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=WORKDIR)
    tool = None
    stats = None
    try:
        if not wait_line(target.stdout, "ready", time.monotonic() + 60):
            raise RuntimeError("%s did not start" % wl["script"])
        if variant.startswith("pyleakbpf"):
            tool = Tool(opts.tool, target.pid, variant.endswith("--exact"))
            cpu0 = cpu_seconds(tool.proc.pid)
        go = time.monotonic()
        target.stdin.write("go\n")
        target.stdin.flush()
        metrics = measure(wl, target, opts, shared)
        if tool:
            stats = {"cpu_share": (cpu_seconds(tool.proc.pid) - cpu0) / (time.monotonic() - go)}
        if wl["kind"] == "throughput" and metrics["wall_s"] < 0.9 * opts.seconds and variant == "baseline":
            print("warning: %s hit its iteration cap after %.1fs" % (wl["script"], metrics["wall_s"]),
                  file=sys.stderr)
        if metrics.get("capped"):
            print("warning: a burst under %s passed %gs: its time is extrapolated" % (variant, BURST_CAP_S),
                  file=sys.stderr)
        target.wait(timeout=60)
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
        if tool:
            rss = tool.stop()
            if stats is not None:
                stats["rss_kib"] = rss
                stats.update(tool.modelled())
    return metrics, stats


def calibrate_burst(python, opts):
    out = subprocess.run([python, os.path.join(WORKDIR, "burst.py"), "calibrate", str(opts.burst_seconds)],
                         capture_output=True, text=True, cwd=WORKDIR, check=True)
    return json.loads(out.stdout)["iters"]


def variants_for(wl, all_variants):
    vs = VARIANTS if all_variants or not wl.get("new") else VARIANTS[:3]
    return [v for v in vs if not (v == "tracemalloc" and wl.get("no_tracemalloc"))]


def mark(value, limit, unit="x", scale=1.0, fmt="%.2f"):
    """"met" or "MISSED by X" for a value that must stay at or under limit."""
    if value is None:
        return "n/a"
    if value <= limit:
        return "met"
    return ("MISSED by +" + fmt + "%s") % ((value - limit) * scale, unit)


def pct(v):
    return "n/a" if v is None else "%.2f%%" % (100 * v)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def show_base(key, value):
    if key == "rate":
        return "%.0f/s" % value
    if key in ("wall", "cpu"):
        return "%.3f s" % value
    return "%.3f ms" % (1000 * value)


def tool_summary(default_stats):
    if not default_stats:
        return None
    return {
        "cpu_share": med([s["cpu_share"] for s in default_stats]),
        "rss_mib": max(s["rss_kib"] for s in default_stats) / 1024,
        "overhead": med([s["overhead"] for s in default_stats]),
        "worst_1s": med([s["worst_1s"] for s in default_stats]),
        "worst_10s": med([s["worst_10s"] for s in default_stats]),
    }


def tool_cells(t):
    if t is None:
        return "   (pyleakbpf not run)"
    return "   %7s %8s %9s   %5.2f%% %-17s %5.1f MiB %s" % (
        pct(t["overhead"]), pct(t["worst_1s"]), pct(t["worst_10s"]),
        100 * t["cpu_share"], mark(t["cpu_share"], TOOL_CPU_TARGET, " pt", 100),
        t["rss_mib"], mark(t["rss_mib"], TOOL_RSS_TARGET_MIB, " MiB", 1, "%.1f"))


def bench(python, opts, only, summary):
    version = subprocess.run([python, "-V"], capture_output=True, text=True).stdout.strip()
    print("\n%s (%s)" % (python, version))
    print("%-34s %13s" % ("workload / metric", "baseline") + "".join(" %17s" % v for v in VARIANTS[1:]) +
          "  %-28s" % "pyleakbpf vs target" +
          "   modelled: overhead  worst1s  worst10s   tool: CPU of a core, peak RSS")
    for name, wl in WORKLOADS.items():
        if only and name not in only:
            continue
        shared = {}
        tmpdir = None
        if wl["kind"] == "burst":
            shared["burst_iters"] = calibrate_burst(python, opts)
            print("  (idle then burst: %d iterations per burst, %gs unobserved at calibration)"
                  % (shared["burst_iters"], opts.burst_seconds), flush=True)
        if wl["kind"] == "latency":
            tmpdir = tempfile.mkdtemp(prefix="pyleakbpf-bench-")
            shared["socket"] = os.path.join(tmpdir, "server.sock")
        variants = variants_for(wl, opts.all_variants)
        runs = {v: [] for v in variants}
        default_stats = []
        try:
            for _ in range(opts.rounds):
                for v in variants:
                    metrics, stats = run_once(python, wl, v, opts, shared)
                    runs[v].append(metrics)
                    if opts.verbose:
                        print("  run: %s / %s: %s%s" % (name, v, json.dumps(metrics),
                                                        " tool " + json.dumps(stats) if stats else ""),
                              file=sys.stderr, flush=True)
                    if v == "pyleakbpf" and stats:
                        default_stats.append(stats)
        finally:
            if tmpdir:
                shutil.rmtree(tmpdir, ignore_errors=True)
        tool = tool_summary(default_stats)
        for n, (key, label, higher_better, limit) in enumerate(wl["metrics"]):
            base = [m[key] for m in runs["baseline"]]

            def ratio(v):
                pairs = zip(base, (m[key] for m in runs[v]))
                return statistics.median(b / x if higher_better else x / b for b, x in pairs)

            ratios = {v: ratio(v) for v in variants[1:]}
            cells = "".join(" %16.2fx" % ratios[v] if v in ratios else " %17s" % "-" for v in VARIANTS[1:])
            verdict = ""
            if limit is not None and "pyleakbpf" in ratios:
                verdict = "%s (<= %.2fx)" % (mark(ratios["pyleakbpf"], limit), limit)
            row = "%-34s %13s" % ((name if n == 0 else "") + (" " if n == 0 else "  ") + label,
                                  show_base(key, statistics.median(base)))
            print(row + cells + "  %-28s" % verdict + (tool_cells(tool) if n == 0 else ""), flush=True)
            if limit is not None:
                summary.append({"python": "%s (%s)" % (python, version.replace("Python ", "")),
                                "workload": name, "metric": label, "slowdown": ratios.get("pyleakbpf"),
                                "noise": ratios.get("baseline again"), "limit": limit,
                                "tool": tool if n == 0 or all(m[3] is None for m in wl["metrics"][:n]) else None})


def print_summary(summary):
    print("\nsummary: pyleakbpf default mode, measured slowdown beside the cost it models for itself")
    print("%-52s %-36s %8s %9s %19s  %s" % ("interpreter / workload / metric", "measured (target)", "noise",
                                              "overhead", "worst1s  worst10s", "tool CPU, peak RSS"))
    last_python = None
    for row in summary:
        if row["python"] != last_python:
            print(row["python"])
            last_python = row["python"]
        s = row["slowdown"]
        measured = "n/a" if s is None else "%.2fx %s" % (s, mark(s, row["limit"]))
        t = row["tool"]
        modelled = ("%9s %9s %9s" % (pct(t["overhead"]), pct(t["worst_1s"]), pct(t["worst_10s"]))) if t else ""
        tool = ("  %.2f%% %s, %.1f MiB %s" % (100 * t["cpu_share"], mark(t["cpu_share"], TOOL_CPU_TARGET, " pt", 100),
                                              t["rss_mib"], mark(t["rss_mib"], TOOL_RSS_TARGET_MIB, " MiB", 1, "%.1f"))
                if t else "")
        print("  %-50s %-36s %7.2fx %s%s" % ("%s %s" % (row["workload"], row["metric"]),
                                           "%s (<=%.2fx)" % (measured, row["limit"]), row["noise"] or 0,
                                           modelled, tool))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each throughput run (default 4)")
    ap.add_argument("--python", action="append", help="interpreter to bench (repeatable; default: Debian's "
                    "python3.11, the newest pyenv 3.11 and 3.12)")
    ap.add_argument("--workload", action="append", choices=list(WORKLOADS),
                    help="only this workload (repeatable; default: all)")
    ap.add_argument("--tool", default=TOOL, help="pyleakbpf binary (default: %(default)s)")
    ap.add_argument("--all-variants", action="store_true",
                    help="also run --exact and tracemalloc on the burst, service and GC workloads")
    ap.add_argument("--idle", type=float, default=5.0, help="idle then burst: seconds idle before each burst")
    ap.add_argument("--bursts", type=int, default=2, help="idle then burst: number of idle+burst cycles")
    ap.add_argument("--burst-seconds", type=float, default=2.0,
                    help="idle then burst: unobserved length of one burst, calibrated per interpreter")
    ap.add_argument("--service-seconds", type=float, default=10.0,
                    help="request service: seconds of requests per run (default 10)")
    ap.add_argument("--rate", type=float, default=200.0, help="request service: requests per second")
    ap.add_argument("--drain", type=float, default=10.0,
                    help="request service: seconds to wait for answers after the last request")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run's figures on stderr")
    opts = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (pyleakbpf attaches BPF programs)")
    opts.tool = os.path.abspath(opts.tool)
    if not os.access(opts.tool, os.X_OK):
        sys.exit("bench: %s is not an executable pyleakbpf (build it, or pass --tool)" % opts.tool)
    print("pyleakbpf bench (%s): %d rounds; throughput runs of %gs, bursts of ~%gs after %gs idle x%d, "
          "%g req/s for %gs; cells are medians of per-round slowdowns (variant vs baseline), 1.00x = free"
          % (opts.tool, opts.rounds, opts.seconds, opts.burst_seconds, opts.idle, opts.bursts, opts.rate,
             opts.service_seconds))
    summary = []
    for py in opts.python or default_pythons():
        bench(py, opts, opts.workload, summary)
    print_summary(summary)


if __name__ == "__main__":
    main()
