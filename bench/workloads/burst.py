"""Idle, then a burst: after "go" the target sleeps IDLE_S seconds, then does
a fixed amount of allocation-heavy work (ITERS iterations building and
dropping small dicts, lists and strings, as steady.py does), CYCLES times.
It prints the wall and CPU time spent in the bursts only, as JSON.

A sampler that sizes its next window from the hit rate of its last one sees
nothing while the target idles: this is the case where a wide window may be
open when the burst starts.

    burst.py ITERS IDLE_S CYCLES CAP_S    the run ("ready", wait for "go")
    burst.py calibrate SECONDS            prints {"iters": N}: how many
                                          iterations SECONDS of burst take

Every variant of a bench round gets the same ITERS, so all do identical
work. A burst still running after CAP_S seconds (only a variant hundreds of
times slower gets there) stops, and its time is extrapolated to ITERS
iterations ("capped" in the output)."""
import json
import sys
import time

CHUNK = 1000


def loop(start, n):
    for i in range(start, start + n):
        row = {"id": i, "tags": [i, i + 1, i + 2], "name": "row-%d" % i}
        del row


def calibrate(seconds):
    loop(0, 100 * CHUNK)  # warm up
    done = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        loop(done, CHUNK)
        done += CHUNK
    print(json.dumps({"iters": done}), flush=True)


def burst(iters, cap_s):
    """Returns (wall s, CPU s, capped) for `iters` iterations."""
    wall, cpu = time.perf_counter(), time.process_time()
    done = 0
    while done < iters:
        step = min(CHUNK, iters - done)
        loop(done, step)
        done += step
        if time.perf_counter() - wall > cap_s:
            break
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if done < iters:
        return wall * iters / done, cpu * iters / done, True
    return wall, cpu, False


def main():
    if sys.argv[1] == "calibrate":
        calibrate(float(sys.argv[2]))
        return
    iters, idle, cycles, cap = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    loop(0, 10 * CHUNK)  # warm up before the observer attaches
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit(1)
    walls, cpus, capped = [], [], False
    for _ in range(cycles):
        time.sleep(idle)
        w, c, cut = burst(iters, cap)
        walls.append(w)
        cpus.append(c)
        capped |= cut
    print(json.dumps({"iters": iters * cycles, "burst_wall_s": walls, "burst_cpu_s": cpus,
                      "capped": capped}), flush=True)


if __name__ == "__main__":
    main()
