"""Protocol shared by the bench workloads: print "ready", wait for "go" on
stdin (the observer attaches in between), run the loop in chunks until
`limit` iterations or `seconds` have passed, print what was done as JSON,
exit. Throughput (iterations per second) is what the bench compares, so a
variant that slows the loop 500x simply gets fewer iterations done."""
import json
import sys
import time

CHUNK = 1000


def run(loop):
    limit, seconds = int(sys.argv[1]), float(sys.argv[2])
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit(1)
    wall, cpu = time.perf_counter(), time.process_time()
    end = wall + seconds
    done = 0
    while done < limit and time.perf_counter() < end:
        loop(done, CHUNK)
        done += CHUNK
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({"iters": done, "wall_s": wall, "cpu_s": cpu}), flush=True)
