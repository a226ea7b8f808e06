"""Growth inside worker threads: each worker keeps every buffer it makes,
while the main thread only churns."""
import threading
import time

import _target

_kept = []


def worker():
    while True:
        _kept.append(bytearray(300))  # LEAK
        time.sleep(0.003)


def handle(i):
    return [n for n in range(50)]


if __name__ == "__main__":
    for _ in range(3):
        threading.Thread(target=worker, daemon=True).start()
    _target.serve(handle, pause=0.01)
