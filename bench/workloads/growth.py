"""Pure growth: every iteration keeps a new dict."""
import _bench

kept = []


def loop(start, n):
    for i in range(start, start + n):
        kept.append({"id": i, "name": "item-%d" % i})


if __name__ == "__main__":
    _bench.run(loop)
