"""Protocol shared by the bench workloads: print "ready", wait for "go" on
stdin (the observer attaches in between), run, print the loop's wall and
CPU seconds as JSON, exit."""
import json
import sys
import time


def run(loop, *args):
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit(1)
    wall, cpu = time.perf_counter(), time.process_time()
    loop(*args)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({"wall_s": wall, "cpu_s": cpu}), flush=True)
