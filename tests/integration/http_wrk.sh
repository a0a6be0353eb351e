#!/usr/bin/env bash
# examples/http_hello under load: a short wrk run (-t1 -c50 -d2s) must
# complete with no socket errors and no non-2xx answer, then the server
# must stop cleanly on SIGTERM. Also checks the example's answer and that
# an unknown mode is reported as an error.
set -euo pipefail

# shellcheck source=../common/lib.sh
. "${EDDY_SOURCE_DIR:?EDDY_SOURCE_DIR must name the source directory}/tests/common/lib.sh"
need wrk curl

if "$build/examples/http_hello" -m nonsense >"$work/mode.out" 2>"$work/mode.err"; then
  fail "http_hello accepted -m nonsense"
fi
grep -q "mode nonsense" "$work/mode.err" || fail "no clear error for a bad mode"

start hello "$build/examples/http_hello" -p 0 -w 1
port=$PORT

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

stop "$PID" http_hello
echo "ok: http_hello served $requests requests with no errors and stopped cleanly"
