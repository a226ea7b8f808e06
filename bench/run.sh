#!/bin/sh
# Re-runnable overhead benchmark: builds pyleakbpf if needed (not when a
# binary is given with --tool), then runs bench/bench.py with Debian's
# python3. Arguments go to bench.py (--help).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
case " $* " in
*" --tool "* | *" --tool="*) ;;
*) make -C "$top" --no-print-directory -s all ;;
esac
exec /usr/bin/python3 "$top/bench/bench.py" "$@"
