"""Request service: a single-threaded server on a Unix socket. Requests and
responses are one JSON object per line, over one persistent connection that
the client may pipeline (see ../loadgen.py). Each request parses its small
JSON body, builds a response dict of 50 small items, serialises it with
json.dumps and sends it; nothing is kept.

    server.py SOCKET_PATH LIMIT_S

Binds SOCKET_PATH, warms up, prints "ready", waits for "go" on stdin (the
observer attaches in between), accepts one connection and answers until the
client closes it, the connection is idle for 10 s, or LIMIT_S seconds have
passed. Prints {"requests", "wall_s", "cpu_s"} as JSON and exits."""
import json
import os
import socket
import sys
import time


def handle(line):
    req = json.loads(line)
    user, n = req["user"], req["n"]
    items = {}
    for k in range(50):
        items["f%02d" % k] = [k * n % 97, "%s-%d" % (user, k)] if k % 2 else (n + k) * 0.5
    return (json.dumps({"id": req["id"], "user": user, "tags": req["tags"], "items": items}) + "\n").encode()


def main():
    path, limit = sys.argv[1], float(sys.argv[2])
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    for i in range(2000):  # warm up: json's caches, the allocator's pools
        handle(b'{"id": %d, "user": "user-%d", "n": %d, "tags": ["a", "b", "c"]}' % (i, i % 97, i))
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit(1)
    srv.settimeout(30)
    conn, _ = srv.accept()
    conn.settimeout(10)
    reader = conn.makefile("rb")
    wall, cpu = time.perf_counter(), time.process_time()
    end = wall + limit
    served = 0
    try:
        for line in reader:
            conn.sendall(handle(line))
            served += 1
            if time.perf_counter() > end:
                break
    except (socket.timeout, ConnectionError):
        pass
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    conn.close()
    srv.close()
    os.unlink(path)
    print(json.dumps({"requests": served, "wall_s": wall, "cpu_s": cpu}), flush=True)


if __name__ == "__main__":
    main()
