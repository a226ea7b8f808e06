"""Failed jobs are remembered with their exception: each stored exception
pins its traceback, and with it every frame and local of the failed call."""
import _target

_failures = []


def parse(payload):
    scratch = [payload] * 20  # LEAK: a local the traceback keeps alive
    return int(payload + "x")  # LEAK


def handle(i):
    try:
        parse(str(i))  # LEAK
    except ValueError as exc:
        _failures.append(exc)  # LEAK


if __name__ == "__main__":
    _target.serve(handle)
