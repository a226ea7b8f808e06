"""Pure growth: every iteration keeps a new dict."""
import sys

import _bench

kept = []


def loop(n):
    for i in range(n):
        kept.append({"id": i, "name": "item-%d" % i})


if __name__ == "__main__":
    _bench.run(loop, int(sys.argv[1]))
