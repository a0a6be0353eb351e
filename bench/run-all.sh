#!/usr/bin/env bash
# bench/run-all.sh BUILD_DIR — every benchmark, eddy beside its reference
# (what `make bench` runs). Each prints name=value lines; see
# docs/BENCHMARKS.md for what they measure.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
status=0
echo "# timers"
"$here/timers.sh" "$1" || status=1
echo "# echo"
"$here/echo.sh" "$1" || status=1
echo "# server"
"$here/server.sh" "$1" || status=1
echo "# http"
"$here/http.sh" "$1" || status=1
echo "# http_idle"
"$here/http_idle.sh" "$1" || status=1
exit $status
