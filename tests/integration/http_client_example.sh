#!/usr/bin/env bash
# Runs examples/http_client as a user would, against real peers: a small
# Python HTTP/1.1 server that keeps connections alive (-n 5 must open one
# connection), and python3 -m http.server, which speaks HTTP/1.0 and closes
# after each response (-n 3 opens three). Checks the printed status line,
# headers (-i) and body, a POST with -d and -H, -L, and the exit status and
# message on errors: a refused connection, an https URL, bad usage. Servers
# listen on 127.0.0.1 port 0 (their port is read from what they print) and
# are stopped by PID.
set -euo pipefail

# shellcheck source=../common/lib.sh
. "${EDDY_SOURCE_DIR:?EDDY_SOURCE_DIR must name the source directory}/tests/common/lib.sh"
client=$build/examples/http_client
need python3

# kill_server PID — a Python server: SIGTERM, and no status to check.
kill_server() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# run NAME ARGS... — the example with a 10 s bound; sets RC.
run() {
  local name=$1
  shift
  RC=0
  timeout 10 "$client" "$@" >"$work/$name.out" 2>"$work/$name.err" || RC=$?
}

cat >"$work/keepalive.py" <<'EOF'
import http.server

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def reply(self, body, extra=()):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.reply(b"hello keep-alive\n", [("X-Server", "keepalive.py")])

    do_HEAD = do_GET

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        echo = "%s %s %s\n" % (self.command, self.headers.get("X-Token", "-"), body.decode())
        self.reply(echo.encode())

    do_PUT = do_POST

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
EOF

start keepalive python3 -u "$work/keepalive.py"
ka_pid=$PID ka=$PORT

run get "http://127.0.0.1:$ka/"
[ "$RC" -eq 0 ] || fail "GET exited with $RC"
[ "$(cat "$work/get.out")" = "$(printf 'HTTP/1.1 200 OK\n\nhello keep-alive')" ] || fail "GET printed something else"
ok "GET prints the status line and the body"

run headers -i "http://127.0.0.1:$ka/"
grep -qx 'X-Server: keepalive.py' "$work/headers.out" || fail "-i printed no headers"
grep -qx 'Content-Length: 17' "$work/headers.out" || fail "-i printed no Content-Length"
ok "-i prints the headers"

run repeat -n 5 "http://127.0.0.1:$ka/"
[ "$RC" -eq 0 ] || fail "-n 5 exited with $RC"
[ "$(grep -c '^HTTP/1.1 200 OK$' "$work/repeat.out")" -eq 5 ] || fail "-n 5 printed other than 5 responses"
[ "$(grep -c '^hello keep-alive$' "$work/repeat.out")" -eq 5 ] || fail "-n 5 printed other than 5 bodies"
grep -qx 'http_client: 5 requests, 1 connection opened' "$work/repeat.err" || fail "-n 5 did not reuse its connection"
ok "-n 5 over one kept-alive connection"

run post -d 'some data' -H 'X-Token: t0k3n' -H 'Content-Type: text/plain' "http://127.0.0.1:$ka/submit"
[ "$RC" -eq 0 ] || fail "POST exited with $RC"
grep -qx 'POST t0k3n some data' "$work/post.out" || fail "the server did not get the body and header"
run put -X PUT -d 'v' "http://127.0.0.1:$ka/x"
grep -qx 'PUT - v' "$work/put.out" || fail "-X PUT -d was not a PUT with a body"
ok "-d, -H and -X"

mkdir "$work/www" "$work/www/dir"
printf 'file contents\n' >"$work/www/file.txt"
printf 'in dir\n' >"$work/www/dir/index.html"
START_PATTERN='s/^Serving HTTP on 127\.0\.0\.1 port \([0-9][0-9]*\) .*/\1/p' \
  start pyserver python3 -u -m http.server --bind 127.0.0.1 --directory "$work/www" 0
py_pid=$PID py=$PORT

run http10 -n 3 "http://127.0.0.1:$py/file.txt"
[ "$RC" -eq 0 ] || fail "-n 3 against http.server exited with $RC"
[ "$(grep -c '^file contents$' "$work/http10.out")" -eq 3 ] || fail "http.server's file did not come 3 times"
grep -qx 'http_client: 3 requests, 3 connections opened' "$work/http10.err" || fail "HTTP/1.0 connections were reused"
ok "-n 3 against HTTP/1.0 python3 -m http.server: 3 connections"

run redirect -L "http://127.0.0.1:$py/dir"
grep -qx 'in dir' "$work/redirect.out" || fail "-L did not follow the 301"
run noredirect "http://127.0.0.1:$py/dir"
grep -q '^HTTP/1.0 301 ' "$work/noredirect.out" || fail "without -L the 301 is not printed"
ok "-L follows a redirect"

run missing "http://127.0.0.1:$py/missing"
[ "$RC" -eq 0 ] || fail "a 404 is a response, not an error (exit $RC)"
grep -q '^HTTP/1.0 404 ' "$work/missing.out" || fail "the 404 status line is missing"
ok "a 404 exits 0"

kill_server "$py_pid"
run refused "http://127.0.0.1:$py/"
[ "$RC" -eq 1 ] || fail "a refused connection exited with $RC"
grep -q "GET http://127.0.0.1:$py/: Connection refused (ECONNREFUSED)" "$work/refused.err" || fail "no clear message for a refused connection"
ok "connection refused: exit 1 with a message"

run https "https://127.0.0.1:$ka/"
[ "$RC" -eq 1 ] || fail "https exited with $RC"
grep -q 'scheme not supported' "$work/https.err" || fail "no clear message for https"
ok "https: exit 1, unsupported scheme"

run noargs
[ "$RC" -eq 2 ] || fail "no URL exited with $RC"
run badheader -H 'no colon' "http://127.0.0.1:$ka/"
[ "$RC" -eq 2 ] || fail "a bad -H exited with $RC"
run badrepeat -n 0 "http://127.0.0.1:$ka/"
[ "$RC" -eq 2 ] || fail "-n 0 exited with $RC"
run port -p 80 "http://127.0.0.1:$ka/"
[ "$RC" -eq 2 ] || fail "-p (a server's option) exited with $RC"
ok "usage errors exit 2"

# valgrind: no leak, no invalid access, no stray descriptor — on success,
# on a refused connection and on a malformed URL (not in sanitizer builds).
if [ -z "${EDDY_SANITIZED:-}" ] && ! grep -q "EDDY_SANITIZE:BOOL=ON" "$build/CMakeCache.txt" &&
  command -v valgrind >/dev/null; then
  vg() {
    local name=$1
    shift
    RC=0
    timeout 60 valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
      --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=yes \
      --log-file="$work/$name.vg" "$client" "$@" >"$work/$name.out" 2>"$work/$name.err" || RC=$?
    if grep -q "I can't recover" "$work/$name.vg"; then # e.g. clang's DWARF 5 with an older valgrind
      echo "skipped: valgrind cannot read this build's debug information"
      VG_SKIPPED=1
      return
    fi
    if [ "$RC" -eq 99 ] || grep -q 'Open AF_\|Open file descriptor [0-9]*: .*socket\|Invalid \|uninitialised' "$work/$name.vg"; then
      cat "$work/$name.vg" >&2
      fail "$name under valgrind"
    fi
  }
  VG_SKIPPED=
  vg vg_repeat -n 3 -i "http://127.0.0.1:$ka/"
  if [ -z "$VG_SKIPPED" ]; then
    [ "$RC" -eq 0 ] || fail "-n 3 under valgrind exited with $RC"
    vg vg_refused "http://127.0.0.1:$py/"
    [ "$RC" -eq 1 ] || fail "refused under valgrind exited with $RC"
    vg vg_badurl "http://127.0.0.1:$ka/a b"
    [ "$RC" -eq 1 ] || fail "a bad URL under valgrind exited with $RC"
    ok "clean under valgrind"
  fi
fi

kill_server "$ka_pid"
echo "all http_client example checks passed"
