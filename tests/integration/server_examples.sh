#!/usr/bin/env bash
# The multi-process examples, driven as a user would: examples/server (line
# echo on "\r\n", WHO, the length-header port), examples/task_worker (fib
# through task workers, async and taskwait) and examples/broadcast (a line
# reaches every client, whichever worker holds it). Each is started with
# -p 0, found by its listening line, and stopped by PID with SIGTERM; each
# must exit 0.
set -euo pipefail

build=${EDDY_BUILD_DIR:?EDDY_BUILD_DIR must name the build directory}
ex=$build/examples
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

start() { # start NAME ARGS... -> PID, PORT
  local name=$1
  shift
  : >"$work/$name.out" # exists before the first look below, however the fork is scheduled
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 200); do
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/$name.out")
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  cat "$work/$name.err" >&2
  fail "$name printed no listening line"
}

stop() { # stop NAME: SIGTERM, exit status 0 within 10 s
  kill -TERM "$PID"
  local status=0
  timeout 10 tail --pid="$PID" -f /dev/null || fail "$1 did not stop"
  wait "$PID" || status=$?
  [ "$status" -eq 0 ] || { cat "$work/$1.err" >&2; fail "$1 exited with $status"; }
  echo "ok: $1 stopped cleanly"
}

for mode in base process; do
start server "$ex/server" -p 0 -P 0 -w 2 -t 1 -m $mode
lport=$(sed -n 's/^length port on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/server.out")
python3 - "$PORT" "$lport" "$mode" <<'PY'
import socket, struct, sys
port, lport, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"one\r\ntwo\r\nWHO\r\n")
got = b""
while got.count(b"\r\n") < 3:
    got += s.recv(4096)
lines = got.split(b"\r\n")
assert lines[0] == b"one" and lines[1] == b"two", got
assert lines[2].startswith(b"worker "), got
s.sendall(b"TASK shout this\r\n")
got = b""
while not got.endswith(b"\r\n"):
    got += s.recv(4096)
assert got == b"SHOUT THIS\r\n", got
s = socket.create_connection(("127.0.0.1", lport), timeout=5)
body = b"x" * 100000
s.sendall(struct.pack("!I", len(body)) + body)
got = b""
while len(got) < 4 + len(body):
    got += s.recv(65536)
assert got == struct.pack("!I", len(body)) + body
print("ok: server (%s mode) echoes lines, answers WHO and TASK, echoes length-framed packets" % mode)
PY
stop server
done

start task_worker "$ex/task_worker" -p 0 -w 2 -t 2
python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"fib 10\nnow 20\nfib 90\n")
got = b""
while got.count(b"\n") < 3:
    got += s.recv(4096)
lines = sorted(got.decode().splitlines())
assert lines == ["fib(10) = 55", "fib(20) = 6765", "fib(90) = 2880067194370816120"], lines
print("ok: task_worker answers through task workers, async and taskwait")
PY
stop task_worker

start broadcast "$ex/broadcast" -p 0 -w 2
python3 - "$PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def connect():
    for _ in range(200):  # with enable_reuse_port the workers bind just after start
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except ConnectionRefusedError:
            time.sleep(0.01)
    raise SystemExit("FAIL: cannot connect")
clients = [connect() for _ in range(8)]
time.sleep(0.2)  # every worker has taken its connections
clients[0].sendall(b"hello room\n")
for c in clients:
    got = b""
    while not got.endswith(b"\n"):
        got += c.recv(4096)
    assert got == b"hello room\n", got
print("ok: broadcast reaches all 8 clients")
PY
stop broadcast
