"""A slow leak hidden under heavy churn: every request builds and drops a
few hundred objects, while a ticker keeps one 3 KB sample every 100 ms
(about 30 KB/s), whatever the request rate."""
import time

import _target

_samples = []
_next_tick = [0.0]


def record_sample(now):
    _samples.append("s" * 3000 + str(now))  # LEAK


def handle(i):
    rows = [{"n": n, "sq": n * n} for n in range(40)]  # churn
    total = sum(r["sq"] for r in rows)
    now = time.monotonic()
    if now >= _next_tick[0]:
        _next_tick[0] = now + 0.1
        record_sample(now)
    return total


if __name__ == "__main__":
    _target.serve(handle, pause=0.0005)
