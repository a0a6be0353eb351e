#!/usr/bin/env bash
# examples/http_hello under load: a short wrk run (-t1 -c50 -d2s) must
# complete with no socket errors and no non-2xx answer, then the server
# must stop cleanly on SIGTERM. Also checks the example's answer and that
# an unknown mode is reported as an error.
set -euo pipefail

build=${EDDY_BUILD_DIR:?EDDY_BUILD_DIR must name the build directory}
command -v wrk >/dev/null || { echo "http_wrk.sh: wrk is required" >&2; exit 1; }
command -v curl >/dev/null || { echo "http_wrk.sh: curl is required" >&2; exit 1; }
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$work"/*.err >&2 2>/dev/null || true; exit 1; }

if "$build/examples/http_hello" -m nonsense >"$work/mode.out" 2>"$work/mode.err"; then
  fail "http_hello accepted -m nonsense"
fi
grep -q "mode nonsense" "$work/mode.err" || fail "no clear error for a bad mode"

"$build/examples/http_hello" -p 0 -w 1 >"$work/hello.out" 2>"$work/hello.err" &
pid=$!
port=
for _ in $(seq 200); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/hello.out")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || fail "http_hello printed no listening line"

answer=$(curl -sS -i --max-time 5 "http://127.0.0.1:$port/anything")
echo "$answer" | grep -q "^HTTP/1.1 200 OK" || fail "status: $answer"
echo "$answer" | grep -qi "^Content-Type: text/plain" || fail "content type: $answer"
[ "$(curl -sS --max-time 5 "http://127.0.0.1:$port/")" = "Hello, World!" ] || fail "body"

wrk -t1 -c50 -d2s "http://127.0.0.1:$port/" >"$work/wrk.out" 2>&1 || fail "wrk failed: $(cat "$work/wrk.out")"
cat "$work/wrk.out"
grep -q "Socket errors" "$work/wrk.out" && fail "socket errors under load"
grep -q "Non-2xx" "$work/wrk.out" && fail "non-2xx answers under load"
requests=$(sed -n 's/^ *\([0-9][0-9]*\) requests in.*/\1/p' "$work/wrk.out")
[ "${requests:-0}" -gt 1000 ] || fail "only ${requests:-0} requests"

kill -TERM "$pid"
status=0
timeout 10 tail --pid="$pid" -f /dev/null || fail "http_hello did not stop"
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || fail "http_hello exited with $status"
echo "ok: http_hello served $requests requests with no errors and stopped cleanly"
