"""Quiet when the observer attaches, then allocation-heavy: the case where a
window sized by the rate it last saw (zero) would trap without bound. Idles
PYLEAK_IDLE seconds (default 6) after "ready", then builds and drops small
objects as fast as it can for PYLEAK_BUSY seconds (default 6), then idles
again until killed. Nothing is kept."""
import os
import time

import _target


def busy(seconds):
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        for _ in range(1000):
            row = {"id": i, "tags": [i, i + 1, i + 2], "name": "row-%d" % i}
            del row
            i += 1
    return i


if __name__ == "__main__":
    _target.ready()
    time.sleep(float(os.environ.get("PYLEAK_IDLE", "6")))
    busy(float(os.environ.get("PYLEAK_BUSY", "6")))
    time.sleep(_target.run_for())
