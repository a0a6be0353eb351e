#!/usr/bin/env bash
# Runs every example program and the demo as a user would, and checks what
# they promise: echo_server echoes; length_rpc's client gets every answer
# right; login_server answers, and an unknown user gets exactly its error line
# and a clean EOF (never a reset) even with 1 MiB pipelined behind the login;
# login_client reports a clean EOF; eddy-demo serves both ports and stops on
# SIGTERM with status 0. Servers are started with -p 0 (the port is read from
# their "listening on 127.0.0.1:PORT" line) and stopped by PID.
set -euo pipefail

# shellcheck source=../common/lib.sh
. "${EDDY_SOURCE_DIR:?EDDY_SOURCE_DIR must name the source directory}/tests/common/lib.sh"
ex=$build/examples
need python3

# Python clients: plain blocking sockets with timeouts; each check exits 1 on a mismatch.
cat >"$work/talk.py" <<'EOF'
import socket, sys, time

def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)

def until_close(s):
    """Read until the peer closes: (bytes, 'eof' | 'reset' | 'timeout')."""
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return data, "reset"
        except socket.timeout:
            return data, "timeout"
        if not chunk:
            return data, "eof"
        data += chunk

def exchange(port, send, want, pieces=1):
    """Send (in pieces), expect exactly want back; the server keeps the connection."""
    s = connect(port)
    step = max(1, len(send) // pieces)
    for i in range(0, len(send), step):
        s.sendall(send[i:i + step])
        time.sleep(0.002)
    got = b""
    while len(got) < len(want):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    check(got == want, f"sent {send!r}: got {got!r}, want {want!r}")

def session(port, send, want, junk=0):
    """Send (and junk bytes of 64-byte lines right behind), wait 10 ms, read
    until the server closes: want exactly want, then a clean EOF."""
    s = connect(port)
    try:
        s.sendall(send + (b"x" * 63 + b"\n") * (junk // 64))
    except (BrokenPipeError, ConnectionResetError) as e:
        check(False, f"sending {len(send) + junk} bytes failed: {e!r}")
    time.sleep(0.01)
    got, how = until_close(s)
    s.close()
    check(got == want and how == "eof", f"got {got!r} then {how}; want {want!r} then eof")

def check(cond, msg):
    if not cond:
        print("talk.py: " + msg, file=sys.stderr)
        sys.exit(1)

cmd, port = sys.argv[1], int(sys.argv[2])
if cmd == "echo":
    exchange(port, b"hello\nworld\n", b"hello\nworld\n", pieces=7)
elif cmd == "login-known":
    session(port, b"LOGIN alice\nhello\r\nQUIT\nnot answered\n", b"OK welcome alice\nECHO hello\nBYE\n")
    session(port, b"LOGIN bob\nQUIT\n", b"OK welcome bob\nBYE\n")
elif cmd == "login-unknown":
    for _ in range(int(sys.argv[3])):
        session(port, b"LOGIN mallory\n", b"ERR unknown user mallory\n", junk=1 << 20)
elif cmd == "login-bad":
    session(port, b"HELLO alice\nLOGIN alice\n", b"ERR expected LOGIN\n")
    session(port, b"LOGIN\n", b"ERR expected LOGIN\n")
elif cmd == "hold":
    # Log in, say so, then wait for the server to close (it is sent SIGTERM).
    s = connect(port)
    s.sendall(b"LOGIN alice\n")
    check(s.recv(100) == b"OK welcome alice\n", "no welcome")
    print("ready", flush=True)
    got, how = until_close(s)
    print(how, got, flush=True)
    check(how == "eof" and got == b"", f"got {got!r} then {how}")
else:
    check(False, "unknown check " + cmd)
EOF
talk() { python3 "$work/talk.py" "$@"; }

# ---- echo_server ----------------------------------------------------------------
start echo "$ex/echo_server" -p 0
talk echo "$PORT" || fail "echo_server: python client"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'hi there\n' >&3
IFS= read -r -t 5 line <&3 || fail "echo_server: no answer to the bash client"
exec 3>&-
[ "$line" = "hi there" ] || fail "echo_server: bash client got '$line'"
ok "echo_server echoes lines"
stop "$PID" echo_server

# ---- length_rpc -------------------------------------------------------------------
start length_rpc "$ex/length_rpc" server -p 0
"$ex/length_rpc" client -p "$PORT" -n 20000 >"$work/rpc_client.out" 2>&1 ||
  fail "length_rpc client exited with status $?"
grep -q "20000 requests, 20000 answers, 0 wrong" "$work/rpc_client.out" ||
  fail "length_rpc client: $(cat "$work/rpc_client.out")"
ok "length_rpc client: $(cat "$work/rpc_client.out")"
stop "$PID" "length_rpc server"
"$ex/length_rpc" demo -n 1000 >"$work/rpc_demo.out" 2>&1 || fail "length_rpc demo failed"
grep -q "1000 answers, 0 wrong" "$work/rpc_demo.out" || fail "length_rpc demo: $(cat "$work/rpc_demo.out")"
ok "length_rpc demo"

# ---- login_server -----------------------------------------------------------------
start login "$ex/login_server" -p 0 -u alice,bob
talk login-known "$PORT" || fail "login_server: known user"
ok "login_server: known user gets OK, ECHO, BYE and a clean EOF"
talk login-bad "$PORT" || fail "login_server: first line not LOGIN"
ok "login_server: anything but LOGIN gets ERR expected LOGIN"
talk login-unknown "$PORT" 20 || fail "login_server: unknown user with 1 MiB pipelined"
ok "login_server: unknown user + 1 MiB pipelined gets exactly the ERR line and a clean EOF (20 trials)"

# ---- login_client -------------------------------------------------------------------
"$ex/login_client" -p "$PORT" -u alice -x 1000 >"$work/lc_known.out" 2>&1 ||
  fail "login_client (known user) exited with status $?"
grep -q '^< OK welcome alice$' "$work/lc_known.out" && grep -q '^< BYE$' "$work/lc_known.out" &&
  grep -q 'clean EOF' "$work/lc_known.out" || fail "login_client (known user): $(cat "$work/lc_known.out")"
ok "login_client: known user, exit 0"
"$ex/login_client" -p "$PORT" -u mallory -x $((1 << 20)) >"$work/lc_unknown.out" 2>&1 ||
  fail "login_client (unknown user) exited with status $?"
[ "$(grep -c '^< ' "$work/lc_unknown.out")" = 1 ] &&
  grep -q '^< ERR unknown user mallory$' "$work/lc_unknown.out" &&
  grep -q 'clean EOF' "$work/lc_unknown.out" || fail "login_client (unknown user): $(cat "$work/lc_unknown.out")"
ok "login_client: unknown user + 1 MiB pipelined, one ERR line, clean EOF, exit 0"
login_port=$PORT
stop "$PID" login_server
status=0
"$ex/login_client" -p "$login_port" -u alice >"$work/lc_refused.out" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "login_client against a closed port: status $status, want 1"
ok "login_client: no server, exit 1 ($(tail -n 1 "$work/lc_refused.out"))"

# ---- eddy-demo ------------------------------------------------------------------------
start demo "$build/eddy-demo" -p 0 -e 0 -l 0 -u alice,bob -w 1
demo_pid=$PID
http_port=$PORT
login_port=$(sed -n 's/^login on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$work/demo.out")
echo_port=$(sed -n 's/^echo  on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$work/demo.out")
[ -n "$login_port" ] && [ -n "$echo_port" ] || fail "eddy-demo printed no echo or login line"
talk echo "$echo_port" || fail "eddy-demo: echo service"
talk login-known "$login_port" || fail "eddy-demo: login service"
talk login-unknown "$login_port" 3 || fail "eddy-demo: unknown user"
ok "eddy-demo serves echo on $echo_port and login on $login_port"
[ "$(curl -s "http://127.0.0.1:$http_port/hello")" = "Hello, World!" ] || fail "eddy-demo: /hello"
curl -s "http://127.0.0.1:$http_port/" >"$work/home.html"
for link in /hello /stats /static/ /upload "nc 127.0.0.1 $echo_port" "nc 127.0.0.1 $login_port"; do
  grep -qF -- "$link" "$work/home.html" || fail "eddy-demo: the home page does not mention $link"
done
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/nowhere" | grep -qx 404 ||
  fail "eddy-demo: an unknown path is not 404"
curl -s "http://127.0.0.1:$http_port/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["worker"] == 0 and s["mode"] == "base", s
assert s["http"]["requests"] >= 3 and s["http"]["responses"]["2xx"] >= 2, s
assert s["connections"]["accepted"] >= 7, s            # echo + 6 login + HTTP
assert s["connections"]["closed"]["graceful"] >= 4, s  # QUIT and refused logins
' || fail "eddy-demo: /stats"
[ "$(curl -s -r 0-3 "http://127.0.0.1:$http_port/static/about.txt")" = "eddy" ] ||
  fail "eddy-demo: a range of /static/about.txt"
curl -s -o /dev/null -w '%{http_code}' --path-as-is "http://127.0.0.1:$http_port/static/../demo.h" |
  grep -qx 403 || fail "eddy-demo: a path out of the static directory was not refused"
printf 'twelve bytes' >"$work/up.txt"
curl -s -F title=hi -F "file=@$work/up.txt" "http://127.0.0.1:$http_port/upload" >"$work/up.out"
grep -qx 'field title = hi' "$work/up.out" && grep -q '^file file: "up.txt", 12 bytes' "$work/up.out" ||
  fail "eddy-demo: /upload answered $(cat "$work/up.out")"
ok "eddy-demo serves HTTP on $http_port: /hello, the home page, 404, /stats as JSON, /static/, /upload"
# An open session at shutdown is closed gracefully: the client sees EOF.
python3 "$work/talk.py" hold "$login_port" >"$work/hold.out" 2>&1 &
hold_pid=$!
pids+=("$hold_pid")
for _ in $(seq 100); do grep -q ready "$work/hold.out" && break; sleep 0.05; done
grep -q ready "$work/hold.out" || fail "eddy-demo: session did not log in"
stop "$demo_pid" eddy-demo
wait_for "$hold_pid" 10
[ "$STATUS" -eq 0 ] || fail "eddy-demo: open session at shutdown: $(cat "$work/hold.out")"
grep -q '^eddy-demo: stopped$' "$work/demo.out" || fail "eddy-demo: $(tail -n 1 "$work/demo.out")"
grep -q 'eddy-demo: worker 0 stopping: .* connections accepted, closed graceful=' "$work/demo.err" ||
  fail "eddy-demo printed no worker summary"
grep -q 'info   login: session [0-9a-f]* from 127\.0\.0\.1:[0-9]*: closed, graceful' \
  "$work/demo.err" || fail "eddy-demo did not log the shutdown close"
ok "eddy-demo closed the open session gracefully: $(grep -o 'worker 0 stopping: .*' "$work/demo.err")"
echo "all example checks passed"
