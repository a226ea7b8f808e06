"""Allocation-heavy steady loop: every iteration builds and drops small
objects; nothing survives it."""
import _bench


def loop(start, n):
    for i in range(start, start + n):
        row = {"id": i, "tags": [i, i + 1, i + 2], "name": "row-%d" % i}
        del row


if __name__ == "__main__":
    _bench.run(loop)
