"""GC-heavy with pauses: a rolling window of 100k records, each a dict and a
list that point at each other (a reference cycle) and at the previous
record. Every iteration replaces a slice of 10 records; the records
replaced are cyclic garbage that only the collector frees. An explicit
gc.collect() runs every 10,000 iterations (a full pass over ~200k
containers), and the loop sleeps 20 ms after every 1,000 iterations (one
_bench chunk), so throughput counts the sleeps too."""
import gc
import time

import _bench

WINDOW = 100_000
SLICE = 10
COLLECT_EVERY = 10_000
PAUSE_S = 0.020

window = [None] * WINDOW


def make(i, prev):
    rec = {"id": i, "prev": prev, "tags": [i, i + 1]}
    rec["tags"].append(rec)  # a cycle: only the collector frees it
    return rec


def fill():
    prev = None
    for k in range(WINDOW):
        prev = window[k] = make(k, prev)
    gc.collect()


def loop(start, n):
    for i in range(start, start + n):
        base = (i * SLICE) % WINDOW
        prev = window[base - 1]
        for k in range(base, base + SLICE):
            prev = window[k] = make(i, prev)
        if i % COLLECT_EVERY == COLLECT_EVERY - 1:
            gc.collect()
    time.sleep(PAUSE_S)


if __name__ == "__main__":
    fill()  # before "ready": the window is built before the observer attaches
    _bench.run(loop)
