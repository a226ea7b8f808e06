"""Log files opened per request and kept open in a list: each holds a file
object, its buffer and a descriptor."""
import os
import tempfile

import _target

_open = []
_dir = tempfile.mkdtemp(prefix="pyleak-files-")


def open_log(i):
    return open(os.path.join(_dir, "req-%d.log" % (i % 50)), "a")  # LEAK


def handle(i):
    _open.append(open_log(i))


if __name__ == "__main__":
    _target.serve(handle, pause=0.01)
