"""A control: a batch job that builds tens of MB of rows, then drops them
all, every second."""
import time

import _target

_batch = []
_flush_at = [0.0]


def handle(i):
    _batch.append([i] * 500)  # 4 KB of pointers per row
    now = time.monotonic()
    if now >= _flush_at[0]:
        _flush_at[0] = now + 1.0
        _batch.clear()


if __name__ == "__main__":
    _target.serve(handle, pause=0.0002)
