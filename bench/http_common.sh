# shellcheck shell=bash disable=SC2154
# bench/http_common.sh — sourced by bench/http.sh and bench/http_idle.sh:
# starting and stopping eddy's http_hello and the nginx reference (and,
# from bench/common.sh, a process tree's CPU time and the medians of runs).
# Not a program of its own.
#
# The sourcing script sets: prog (its name, for messages), tmp (a mktemp -d
# directory it removes on exit), server_pin (an array, maybe empty: a
# command prefix such as "taskset -c 0"). This file sets server_pid and port.

# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

server_pid=
port=
nstarted=0

# Raise the soft descriptor limit to the hard one (wrk with -c1000, 10,000
# idle connections; the servers inherit it).
raise_nofile() {
    local hard
    hard=$(ulimit -Hn)
    ulimit -Sn "$hard" 2>/dev/null || true
}

# A port nobody listens on now (the kernel's choice; nginx cannot be told "0").
free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# check_hello PORT — one request with curl; the answer must be "Hello, World!".
check_hello() {
    local body
    body=$(curl -s --max-time 5 "http://127.0.0.1:$1/") || return 1
    [[ $body == "Hello, World!" ]]
}

# start_eddy BINARY ARGS... — sets server_pid and port from the server's
# "listening on 127.0.0.1:PORT" line.
start_eddy() {
    local bin=$1
    shift
    nstarted=$((nstarted + 1))
    # A fresh file per server: a reused one is truncated only once the child
    # runs, and the old port could be read before that.
    local out=$tmp/server$nstarted.out err=$tmp/server$nstarted.err
    : >"$out"
    "${server_pin[@]}" "$bin" -p 0 "$@" >"$out" 2>"$err" &
    server_pid=$!
    port=
    local i
    for ((i = 0; i < 100; i++)); do
        port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\).*$/\1/p' "$out" | head -n 1)
        [[ -n $port ]] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    if [[ -z $port ]]; then
        echo "$prog: $bin did not print 'listening on 127.0.0.1:PORT'; its output:" >&2
        cat "$out" "$err" >&2
        exit 1
    fi
    wait_hello "$bin" "$err"
}

# answers_hello — 0 once the server at $port answers (up to 5 s), 1 if it
# does not in time or server_pid exits first.
answers_hello() {
    local i
    for ((i = 0; i < 100; i++)); do
        check_hello "$port" && return 0
        kill -0 "$server_pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# wait_hello WHAT ERRFILE — until the server at $port answers (it prints its
# port before its workers run).
wait_hello() {
    answers_hello && return 0
    echo "$prog: $1 on port $port does not answer 'Hello, World!'; its errors:" >&2
    cat "$2" >&2
    exit 1
}

# nginx_conf DIR WORKERS PORT CONNECTIONS — the fairest nginx for this job:
# a fixed 200 from the configuration, no access log, keep-alive without a
# request limit, the same number of workers, everything under DIR.
nginx_conf() {
    local dir=$1 workers=$2 p=$3 conns=$4 user=
    # As root, nginx's workers would become "nobody"; keep them the caller.
    [[ $(id -u) -eq 0 ]] && user="user $(id -un) $(id -gn);"
    cat >"$dir/nginx.conf" <<EOF
$user
daemon off;
master_process on;
worker_processes $workers;
worker_rlimit_nofile $(ulimit -Sn);
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections $conns;
}
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$p;
        location / {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
EOF
}

# start_nginx WORKERS [CONNECTIONS] — sets server_pid (the master) and port.
start_nginx() {
    local workers=$1 conns=${2:-16384} try
    for ((try = 0; try < 5; try++)); do
        nstarted=$((nstarted + 1))
        local dir=$tmp/nginx$nstarted
        mkdir -p "$dir"
        port=$(free_port)
        nginx_conf "$dir" "$workers" "$port" "$conns"
        "${server_pin[@]}" "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
            >"$dir/stdout" 2>&1 &
        server_pid=$!
        answers_hello && return 0
        if kill -0 "$server_pid" 2>/dev/null; then
            echo "$prog: nginx does not answer on port $port; its log:" >&2
            cat "$dir/error.log" "$dir/stdout" >&2
            exit 1
        fi
        wait "$server_pid" 2>/dev/null || true
        server_pid=
        grep -q "in use" "$dir/error.log" 2>/dev/null && continue # lost the port: again
        echo "$prog: nginx did not start; its log:" >&2
        cat "$dir/error.log" "$dir/stdout" >&2
        exit 1
    done
    echo "$prog: nginx found no free port in 5 tries" >&2
    exit 1
}

# stop_server — SIGTERM to the tree's root (eddy's master, nginx's master:
# both stop their workers), SIGKILL after 5 s.
stop_server() {
    [[ -n $server_pid ]] || return 0
    local i rc=0
    kill -TERM "$server_pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        echo "$prog: WARNING: server $server_pid ignored SIGTERM for 5 s; killing its tree" >&2
        local pids
        mapfile -t pids < <(tree_pids "$server_pid")
        kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || rc=$?
    if [[ $rc -ne 0 ]]; then
        echo "$prog: WARNING: server exited with status $rc after SIGTERM" >&2
    fi
    server_pid=
}

# For the EXIT trap: whatever server is still up, its tree at once.
kill_server() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        local pids
        mapfile -t pids < <(tree_pids "$server_pid")
        kill -TERM "$server_pid" 2>/dev/null || true
        sleep 0.5
        kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
}
