"""A control: a bounded LRU cache that warms up for several seconds (keys
drawn from a growing range) and then stays full and flat."""
import functools
import time

import _target

START = time.monotonic()


@functools.lru_cache(maxsize=2000)
def lookup(key):
    return {"key": key, "blob": "v" * 200}


def handle(i):
    # The key space grows for 8 s, then stays at 2000 keys: the cache fills, then evicts.
    span = min(2000, 1 + int((time.monotonic() - START) * 250))
    return lookup(i % span)["key"]


if __name__ == "__main__":
    _target.serve(handle)
