# shellcheck shell=bash
# What the integration scripts share; each sources it right after
# `set -euo pipefail`:
#   . "${EDDY_SOURCE_DIR:?...}/tests/common/lib.sh"
# It sets $build (EDDY_BUILD_DIR) and $work (a temporary directory, removed at
# exit, when every process started with `start` is killed too), and defines
# need, fail, ok, start, wait_for and stop.

# shellcheck disable=SC2034 # for the scripts that source this
build=${EDDY_BUILD_DIR:?EDDY_BUILD_DIR must name the build directory}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# need COMMAND... — exit 1 unless each is installed.
need() {
  local c
  for c; do
    command -v "$c" >/dev/null || { echo "${0##*/}: $c is required" >&2; exit 1; }
  done
}

# fail MESSAGE — say it, show the end of each log in $work, exit 1.
fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$work"/*.out "$work"/*.err "$work"/*.vg; do
    [ -s "$f" ] && { echo "--- ${f##*/}" >&2; tail -n 20 "$f" >&2; }
  done
  exit 1
}
ok() { echo "ok: $*"; }

# start NAME COMMAND... — run in the background (stdout in $work/NAME.out,
# stderr in NAME.err) until it prints "listening on 127.0.0.1:PORT"; sets PID
# and PORT. START_PATTERN=SED (a sed expression printing the port from another
# line) and START_WAIT=SECONDS (10) change what it waits for and how long.
start() {
  local name=$1 i
  local pattern=${START_PATTERN:-'s/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p'}
  shift
  : >"$work/$name.out" # exists before the first look below, however the fork is scheduled
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  PID=$!
  pids+=("$PID")
  for ((i = 0; i < ${START_WAIT:-10} * 20; i++)); do
    PORT=$(sed -n "$pattern" "$work/$name.out")
    [ -n "$PORT" ] && return 0
    kill -0 "$PID" 2>/dev/null || fail "$name exited before listening"
    sleep 0.05
  done
  fail "$name printed no port within ${START_WAIT:-10} s"
}

# wait_for PID SECONDS — wait for a child, killing it after SECONDS; sets
# STATUS, and LATE when it had to be killed. (bash reaps children as they
# exit, so kill -0 fails once this one is gone.)
wait_for() {
  local pid=$1 i
  for ((i = 0; i < $2 * 20; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  LATE=
  kill -KILL "$pid" 2>/dev/null && LATE=1
  STATUS=0
  wait "$pid" || STATUS=$?
}

# stop PID NAME [SIGNAL] — SIGTERM (or SIGNAL) must end the server with
# status 0 within 10 s.
stop() {
  local pid=$1 name=$2 sig=${3:-TERM}
  kill -"$sig" "$pid" 2>/dev/null || fail "$name was gone before SIG$sig"
  wait_for "$pid" 10
  [ -z "$LATE" ] || fail "$name did not stop within 10 s of SIG$sig"
  [ "$STATUS" -eq 0 ] || fail "$name exited with status $STATUS after SIG$sig"
  ok "$name stopped on SIG$sig with status 0"
}
