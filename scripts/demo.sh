#!/bin/sh
# make demo: start the bundled leaking service and watch it for ~20 s.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
py=$(ls -d "$HOME"/.pyenv/versions/3.11*/bin/python3.11 2>/dev/null | tail -n 1 || true)
if [ -z "$py" ]; then
	py=/usr/bin/python3.11
	echo "demo: no pyenv CPython 3.11; using $py, an LTO build whose allocator is mostly inlined:" \
		"expect low coverage" >&2
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
"$py" "$top/demo/leaky_service.py" &
svc=$!
trap 'kill $svc 2>/dev/null || true' EXIT INT TERM
sleep 1
echo "demo: watching pid $svc ($py) for 20 s: the session cache in get_session() leaks" >&2
$sudo "$top/pyleakbpf" -p "$svc" -d 20 -i 2
