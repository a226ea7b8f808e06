"""Service-like: parse a request, render a response, keep one small record
per 50 requests (a slow leak under churn)."""
import json

import _bench

audit = []


def loop(start, n):
    for i in range(start, start + n):
        request = json.loads('{"user": %d, "items": [1, 2, 3, 4, 5]}' % i)
        body = ",".join(str(x * request["user"]) for x in request["items"])
        if i % 50 == 0:
            audit.append((request["user"], len(body)))


if __name__ == "__main__":
    _bench.run(loop)
