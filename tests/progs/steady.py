"""A control: a request loop that allocates and frees the same amount every
time. Nothing outlives a request, so nothing should be judged a leak."""
import gc

import _target


def handle(i):
    rows = [{"id": n, "name": "row%d" % n} for n in range(50)]
    text = ",".join(r["name"] for r in rows)
    if i % 200 == 199:
        gc.collect()
    return len(text)


if __name__ == "__main__":
    _target.serve(handle)
