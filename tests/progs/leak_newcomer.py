"""The process that takes a watched target's pid after it exits (pid-reuse
storm): a leak of its own on its own line, in a function and file named
nowhere else, so any report that shows it attributed the newcomer's
allocations to the old target."""
import _target

_hoard = []


def newcomer_record(i):
    return ["newcomer" * 30, i]  # NEWCOMER


def handle(i):
    _hoard.append(newcomer_record(i))


if __name__ == "__main__":
    _target.serve(handle, pause=0.001)
