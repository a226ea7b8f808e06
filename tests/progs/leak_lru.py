"""functools.lru_cache(maxsize=None) on a function called with ever-new
arguments: the cache is unbounded."""
import functools

import _target


@functools.lru_cache(maxsize=None)
def price(item_id, currency):
    return {"id": item_id, "currency": currency, "amount": [item_id * 1.5] * 8}  # LEAK


def handle(i):
    return price(i, "EUR")["amount"][0]  # LEAK


if __name__ == "__main__":
    _target.serve(handle)
