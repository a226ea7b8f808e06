#!/bin/sh
# Sampled estimates against --exact truth per leak scenario: builds
# pyleakbpf if needed (not when a binary is given with --tool), then runs
# bench/estimates.py with Debian's python3. Arguments go to estimates.py
# (--help).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
case " $* " in
*" --tool "* | *" --tool="*) ;;
*) make -C "$top" --no-print-directory -s all ;;
esac
exec /usr/bin/python3 "$top/bench/estimates.py" "$@"
