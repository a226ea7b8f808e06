"""Open-loop client for the request-service workload (workloads/server.py).

Sends one small JSON request per line over ONE persistent Unix-socket
connection, at a fixed arrival rate: request k is due at t0 + k/RATE and
goes out at that time whether or not earlier answers came back (requests
are pipelined; the server answers them in order). A request's latency runs
from its scheduled time to the arrival of its answer, so time spent queued
behind a slow request counts, and so does any delay of the client itself.
One thread, non-blocking I/O and select(): no GIL hand-offs in the client.

After the last request is sent the client waits up to DRAIN_S for the
remaining answers; a request still unanswered then gets the latency it had
reached (a lower bound) and is counted as "unanswered".

    loadgen.py SOCKET_PATH RATE SECONDS [DRAIN_S]

Prints JSON: requests, unanswered, late_sends (sent >1 ms after their due
time: the client's own health), p50/p99/p999/max latency in seconds.
Runs in its own process, which the observer does not watch."""
import json
import math
import select
import socket
import sys
import time


def percentile(sorted_values, q):
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def run(path, rate, seconds, drain_s):
    n = max(1, int(rate * seconds))
    bodies = [b'{"id": %d, "user": "user-%d", "n": %d, "tags": ["a", "b", "c"]}\n' % (k, k % 97, k)
              for k in range(n)]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.setblocking(False)
    t0 = time.perf_counter() + 0.05
    due = [t0 + k / rate for k in range(n)]
    done = [None] * n
    sent = answered = late = 0
    outbuf = b""
    give_up = None
    while answered < n:
        now = time.perf_counter()
        while sent < n and due[sent] <= now:
            if now - due[sent] > 0.001:
                late += 1
            outbuf += bodies[sent]
            sent += 1
        if outbuf:
            try:
                outbuf = outbuf[sock.send(outbuf):]
            except BlockingIOError:
                pass
        if sent == n and give_up is None:
            give_up = now + drain_s
        if give_up is not None and now >= give_up:
            break
        wait = (due[sent] if sent < n else give_up) - now
        readable, _, _ = select.select([sock], [sock] if outbuf else [], [], max(0.0, wait))
        if readable:
            data = sock.recv(1 << 20)
            t = time.perf_counter()
            if not data:
                break
            for _ in range(data.count(b"\n")):
                done[answered] = t
                answered += 1
    end = time.perf_counter()
    sock.close()
    lat = sorted((done[k] if done[k] is not None else end) - due[k] for k in range(n))
    return {"requests": n, "unanswered": n - answered, "late_sends": late,
            "p50": percentile(lat, 0.50), "p99": percentile(lat, 0.99), "p999": percentile(lat, 0.999),
            "max": lat[-1]}


if __name__ == "__main__":
    drain = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
    print(json.dumps(run(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), drain)), flush=True)
