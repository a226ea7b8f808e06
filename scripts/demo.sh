#!/bin/sh
# make demo: start the bundled leaking service and watch it for ~30 s.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
# Debian's stock interpreter (LTO, stripped): what a production service runs.
py=/usr/bin/python3.11
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
"$py" "$top/demo/leaky_service.py" &
svc=$!
trap 'kill $svc 2>/dev/null || true' EXIT INT TERM
sleep 1
echo "demo: watching pid $svc ($py) for 30 s: the session cache in get_session() leaks" >&2
$sudo "$top/pyleakbpf" -p "$svc" -d 30 -i 2
