"""A small request-handling service with a memory leak, for `make demo`.

Each request parses a payload, renders a response and throws both away
(churn). A per-user "session" cache is meant to be bounded but never
evicts, so it grows by one entry per new user: the leak pyleakbpf finds.
"""
import json
import random
import time

SESSIONS = {}


class Session:
    def __init__(self, user):
        self.user = user
        self.history = [0] * 32
        self.created = time.time()


def get_session(user):
    session = SESSIONS.get(user)
    if session is None:
        session = SESSIONS[user] = Session(user)  # the leak: never evicted
    return session


def handle_request(n):
    body = json.dumps({"user": n, "items": list(range(20))})
    request = json.loads(body)
    session = get_session(request["user"])
    session.history[n % 32] += 1
    return "<p>%s</p>" % ",".join(str(i) for i in request["items"])


def main():
    print("demo service running as pid", __import__("os").getpid(), flush=True)
    n = 0
    while True:
        handle_request(n)
        n += 1
        time.sleep(random.uniform(0.001, 0.003))


if __name__ == "__main__":
    main()
