"""A request loop that keeps every record it builds: ~100 KiB/s of growth
in a module-level list, beside short-lived churn that is freed each time."""
import _target

_records = []


def build_record(i):
    return {"payload": "x" * 200 + str(i), "dump": _target.dump_stack()}  # LEAK


def handle(i):
    scratch = [str(n) for n in range(20)]  # churn: freed on return
    _records.append(build_record(i))
    return len(scratch)


if __name__ == "__main__":
    _target.serve(handle)
