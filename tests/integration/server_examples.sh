#!/usr/bin/env bash
# The multi-process examples, driven as a user would: examples/server (line
# echo on "\r\n", WHO, the length-header port), examples/task_worker (fib
# through task workers, async and taskwait) and examples/broadcast (a line
# reaches every client, whichever worker holds it). Each is started with
# -p 0, found by its listening line, and stopped by PID with SIGTERM; each
# must exit 0.
set -euo pipefail

# shellcheck source=../common/lib.sh
. "${EDDY_SOURCE_DIR:?EDDY_SOURCE_DIR must name the source directory}/tests/common/lib.sh"
ex=$build/examples

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
# examples/server calls eddy_proctitle_init: ps shows each process's role.
python3 - "$PID" "$mode" <<'PY'
import os, sys, time
root, mode = int(sys.argv[1]), sys.argv[2]
want = {"eddy: master", "eddy: worker #0", "eddy: worker #1", "eddy: task worker #2"}
if mode == "process":
    want.add("eddy: manager")
def tree(pid):
    yield pid
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        kids = []
    for k in kids:
        yield from tree(k)
deadline = time.time() + 5
while True:
    titles = set()
    for pid in tree(root):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                titles.add(f.read().split(b"\0")[0].decode())
        except OSError:
            pass
    if want <= titles or time.time() > deadline:
        break
    time.sleep(0.1)
assert want <= titles, (sorted(want), sorted(titles))
print("ok: process titles (%s mode): %s" % (mode, ", ".join(sorted(titles))))
PY
stop "$PID" server
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
stop "$PID" task_worker

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
stop "$PID" broadcast
