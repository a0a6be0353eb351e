#!/usr/bin/env bash
# valgrind finds no leak, no invalid access and no stray descriptor in the
# example servers (http_hello, http_static and http_upload among them; the
# multi-process ones in BASE and PROCESS mode): each runs under memcheck, serves a real client, and is
# stopped with SIGTERM; memcheck's exit status (--error-exitcode) decides.
# Skipped in sanitizer builds (ASan and valgrind do not mix). Checked once
# against an echo_server that leaked 100 bytes per line: status 99, FAIL.
set -euo pipefail

# shellcheck source=../common/lib.sh
. "${EDDY_SOURCE_DIR:?EDDY_SOURCE_DIR must name the source directory}/tests/common/lib.sh"
if [ -n "${EDDY_SANITIZED:-}" ] || grep -q "EDDY_SANITIZE:BOOL=ON" "$build/CMakeCache.txt"; then
  echo "skipped: sanitizer build"
  exit 0
fi
need valgrind

# check NAME CLIENT PROGRAM ARGS... — CLIENT is a shell command run with PORT set.
check() {
  local name=$1 client=$2
  shift 2
  START_WAIT=20 start "$name" valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=yes \
    --log-file="$work/$name.%p.vg" "$@"
  PORT=$PORT bash -c "$client"
  kill -TERM "$PID"
  local status=0
  wait "$PID" || status=$?
  sleep 0.5 # forked workers write their reports as they exit
  # One log per process (workers fork). Descriptors the harness passed in are
  # not ours; any other open one is a leak, and so is any error in a child.
  local bad='Open file descriptor [0-9]*: .*socket\|Open AF_\|definitely lost\|indirectly lost\|Invalid \|uninitialised'
  if [ "$status" -ne 0 ] || grep -q "$bad" "$work/$name".*.vg; then
    cat "$work/$name".*.vg >&2
    echo "FAIL: $name under valgrind (status $status)" >&2
    exit 1
  fi
  echo "ok: $name clean under valgrind"
}

login_client="python3 -c '
import os, socket
s = socket.create_connection((\"127.0.0.1\", int(os.environ[\"PORT\"])), timeout=10)
s.sendall(b\"LOGIN alice\\nhello\\nQUIT\\n\")
while s.recv(4096):
    pass
'"
echo_client="python3 -c '
import os, socket
s = socket.create_connection((\"127.0.0.1\", int(os.environ[\"PORT\"])), timeout=10)
s.sendall(b\"one\\ntwo\\n\" * 100)
got = b\"\"
while len(got) < 800:
    got += s.recv(4096)
'"
rpc_client="$build/examples/length_rpc client -p \$PORT -n 200 >/dev/null"

check echo_server "$echo_client" "$build/examples/echo_server" -p 0
check login_server "$login_client" "$build/examples/login_server" -p 0
check length_rpc "$rpc_client" "$build/examples/length_rpc" server -p 0

# The multi-process examples: master, worker and task worker each checked.
retry_connect="import os, socket, time
for _ in range(100):
    try:
        s = socket.create_connection((\"127.0.0.1\", int(os.environ[\"PORT\"])), timeout=10)
        break
    except ConnectionRefusedError:
        time.sleep(0.1)"
server_client="python3 -c '$retry_connect
s.sendall(b\"one\\r\\ntwo\\r\\n\")
got = b\"\"
while got.count(b\"\\n\") < 2:
    got += s.recv(4096)
'"
task_client="python3 -c '$retry_connect
s.sendall(b\"fib 10\\nnow 12\\n\")
got = b\"\"
while got.count(b\"\\n\") < 2:
    got += s.recv(4096)
'"
check server "$server_client" "$build/examples/server" -p 0 -w 1
# PROCESS mode: reactor threads in the master, the shared session table,
# packets and replies through the inboxes, a task worker.
check server_process "$server_client" "$build/examples/server" -p 0 -w 1 -t 1 -m process
check task_worker "$task_client" "$build/examples/task_worker" -p 0 -w 1 -t 1
# Two clients; the second hears its own line first (so its worker holds it),
# then the first one's.
broadcast_client="python3 -c '$retry_connect
a = s
$retry_connect
def until(sock, text):
    got = b\"\"
    while text not in got:
        got += sock.recv(4096)
s.sendall(b\"ready\\n\")
until(s, b\"ready\")
a.sendall(b\"hello all\\n\")
until(s, b\"hello all\")
'"
check broadcast "$broadcast_client" "$build/examples/broadcast" -p 0 -w 2
# HTTP: keep-alive requests, a gzip answer, a refused request.
http_client="for i in 1 2 3; do curl -sS --retry 20 --retry-connrefused --retry-delay 0 --max-time 10 \
  -o /dev/null -o /dev/null --compressed http://127.0.0.1:\$PORT/a http://127.0.0.1:\$PORT/b || exit 1; done; \
  printf 'GET / HTTP/1.1\\r\\nHost : x\\r\\n\\r\\n' | nc -q 1 127.0.0.1 \$PORT >/dev/null || true"
check http_hello "$http_client" "$build/examples/http_hello" -p 0 -w 1
# Static files: a file, a range, a 304, a miss that reaches the handler, a refusal.
mkdir -p "$work/site/sub" "$work/uploads"
printf 'static bytes\n' >"$work/site/a.txt"
printf '<p>index</p>\n' >"$work/site/sub/index.html"
static_client="c='curl -sS --retry 20 --retry-connrefused --retry-delay 0 --max-time 10 -o /dev/null'; \
  \$c -o /dev/null -o /dev/null http://127.0.0.1:\$PORT/a.txt http://127.0.0.1:\$PORT/sub/ http://127.0.0.1:\$PORT/missing && \
  \$c -r 0-3 http://127.0.0.1:\$PORT/a.txt && \$c -z 'Sat, 01 Jan 2100 00:00:00 GMT' http://127.0.0.1:\$PORT/a.txt && \
  \$c --path-as-is http://127.0.0.1:\$PORT/../x"
check http_static "$static_client" "$build/examples/http_static" -d "$work/site" -p 0 -w 1
# Uploads, parsed as they arrive: fields and files, one over the limit (413, found
# in the middle of the body), a malformed body (400).
head -c 5000 /dev/urandom >"$work/up.bin"
upload_client="c='curl -sS --retry 20 --retry-connrefused --retry-delay 0 --max-time 10 -o /dev/null'; \
  \$c http://127.0.0.1:\$PORT/ && \$c -F t=x -F f=@$work/site/a.txt http://127.0.0.1:\$PORT/upload && \
  \$c -F f=@$work/up.bin http://127.0.0.1:\$PORT/upload && \
  \$c -H 'Content-Type: multipart/form-data; boundary=b' --data-binary x http://127.0.0.1:\$PORT/upload && \
  [ -z \"\$(ls -A $work/uploads)\" ]"
check http_upload "$upload_client" "$build/examples/http_upload" -u "$work/uploads" -s 4096 -p 0 -w 1
# PROCESS mode: the reactor spools each body, the worker replays it.
check http_upload-process "$upload_client" "$build/examples/http_upload" -u "$work/uploads" -s 4096 \
  -p 0 -w 1 -m process
demo_client="curl -sS --retry 20 --retry-connrefused --retry-delay 0 --max-time 10 -o /dev/null \
  -o /dev/null -o /dev/null -o /dev/null http://127.0.0.1:\$PORT/ http://127.0.0.1:\$PORT/hello \
  http://127.0.0.1:\$PORT/stats http://127.0.0.1:\$PORT/nowhere"
check eddy-demo "$demo_client" "$build/eddy-demo" -p 0 -e 0 -l 0 -w 1
check eddy-demo-process "$demo_client" "$build/eddy-demo" -p 0 -e 0 -l 0 -w 1 -m process
