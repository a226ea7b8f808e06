"""Upload chunks of 4 KiB and more appended to a list that is never
trimmed: each bytes object goes to libc malloc behind the allocator."""
import _target

_chunks = []


def receive(i):
    return bytes(4096 + (i % 4) * 1024)  # LEAK


def handle(i):
    _chunks.append(receive(i))


if __name__ == "__main__":
    _target.serve(handle, pause=0.004)
