"""A control: a request loop that allocates and frees the same amount every
time. Nothing outlives a request, so nothing should be judged a leak."""
import gc
import time

import _target


def handle(i):
    rows = [{"id": n, "name": "row%d" % n} for n in range(50)]
    text = ",".join(r["name"] for r in rows)
    return len(text)


def main():
    _target.ready()
    end = time.monotonic() + _target.run_for()
    i = 0
    while time.monotonic() < end:
        handle(i)
        i += 1
        if i % 200 == 0:
            gc.collect()
        time.sleep(0.002)


if __name__ == "__main__":
    main()
