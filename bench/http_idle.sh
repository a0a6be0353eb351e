#!/usr/bin/env bash
# bench/http_idle.sh BUILD_DIR — memory per idle keep-alive connection:
# eddy's examples/http_hello (BASE mode, one worker) beside nginx (one
# worker, the configuration of bench/http.sh).
#
# For each server: start it, send one request (so the worker has served
# once), read the worker process's /proc/PID/smaps_rollup, then let
# BUILD_DIR/bench/bench_http_idle_client open CONNS connections (default
# 10,000), each sending one GET and reading the whole keep-alive response,
# then staying open and idle. SETTLE seconds (default 1) after the last
# response the worker's smaps_rollup is read again; then the client and the
# server are stopped. Only the worker's own memory counts: socket buffers
# are the kernel's and appear in no process's RSS. The whole is done REPEAT
# times, the servers taking turns; figures are medians.
#
# One line per server, space-separated name=value (NAME = eddy or nginx):
#   NAME_bytes_per_idle_conn=   growth of the worker's Anonymous memory
#                               (heap and anonymous mappings) / CONNS
#                               (eddy's target: <= 2048)
#   NAME_private_dirty_bytes_per_idle_conn=   the same from Private_Dirty
#   NAME_rss_bytes_per_idle_conn=             the same from Rss
#   NAME_anon_kb_before= NAME_anon_kb_after= NAME_rss_kb_before= NAME_rss_kb_after=
#   NAME_fds=      descriptors the worker held with the connections open
#   NAME_idle_ok=  connections that got their answer and stayed open
#   NAME_failed= NAME_closed_by_server=   (both should be 0)
#
# Environment: CONNS (default 10000), SETTLE (default 1), REPEAT (default 3),
# SERVERS (default "eddy nginx"), NGINX, EDDY_SERVER (as for bench/http.sh).
# The descriptor soft limit is raised to the hard one for the servers and
# the client (the client needs CONNS + a few, the server as many).
set -euo pipefail

prog=http_idle.sh
if [[ $# -ne 1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
here=$(cd "$(dirname "$0")" && pwd)
conns=${CONNS:-10000}
settle=${SETTLE:-1}
repeat=${REPEAT:-3}
servers=${SERVERS:-"eddy nginx"}
eddy_server=${EDDY_SERVER:-$build/examples/http_hello}
nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
client=$build/bench/bench_http_idle_client

# shellcheck source=bench/http_common.sh
source "$here/http_common.sh"

if [[ ! -x $client ]]; then
    echo "$prog: $client is missing (build the bench targets first)" >&2
    exit 1
fi
server_pin=()
raise_nofile
if (($(ulimit -Sn) < conns + 64)); then
    echo "$prog: $conns connections need a descriptor limit above $((conns + 64)); ulimit -Hn is $(ulimit -Hn)" >&2
    exit 1
fi

tmp=$(mktemp -d)
client_pid=
cleanup() {
    if [[ -n $client_pid ]]; then
        kill -TERM "$client_pid" 2>/dev/null || true
    fi
    kill_server
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# worker_pid — the one process of the server's tree whose name or command
# line says "worker" (eddy: comm "eddy: worker 0", nginx: "nginx: worker process").
worker_pid() {
    local p found='' names
    for p in $(tree_pids "$server_pid"); do
        names=$({ cat "/proc/$p/comm" && tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null || true)
        if [[ $names == *worker* ]]; then
            [[ -n $found ]] && {
                echo "$prog: more than one worker in the server's tree" >&2
                exit 1
            }
            found=$p
        fi
    done
    if [[ -z $found ]]; then
        echo "$prog: no worker process in the server's tree:" >&2
        ps -o pid,args --ppid "$server_pid" >&2 || true
        exit 1
    fi
    echo "$found"
}

# mem PID -> "RSS_KB ANON_KB PRIVATE_DIRTY_KB"
mem() {
    awk '$1 == "Rss:" { r = $2 } $1 == "Anonymous:" { a = $2 } $1 == "Private_Dirty:" { d = $2 }
         END { print r, a, d }' "/proc/$1/smaps_rollup"
}

# measure_once SERVER -> sets result (figures in summarize's order)
measure_once() {
    local server=$1
    case $server in
    eddy) start_eddy "$eddy_server" -w 1 ;;
    nginx) start_nginx 1 ;;
    esac
    local wpid
    wpid=$(worker_pid)
    local rss0 anon0 dirty0 rss1 anon1 dirty1 out=$tmp/client.out i
    read -r rss0 anon0 dirty0 < <(mem "$wpid")
    : >"$out"
    "$client" -h 127.0.0.1 -p "$port" -n "$conns" -t 120 >"$out" &
    client_pid=$!
    for ((i = 0; i < 1200; i++)); do
        grep -q '^ready' "$out" && break
        kill -0 "$client_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q '^ready' "$out"; then
        echo "$prog: the client did not get its $conns connections idle:" >&2
        cat "$out" >&2
        exit 1
    fi
    sleep "$settle"
    read -r rss1 anon1 dirty1 < <(mem "$wpid")
    local fds
    fds=$(find "/proc/$wpid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    kill -TERM "$client_pid" 2>/dev/null || true
    wait "$client_pid" || true
    client_pid=
    stop_server
    local ok failed closed
    ok=$(sed -n 's/^ready .* ok=\([0-9]*\).*/\1/p' "$out")
    failed=$(sed -n 's/^done .*failed=\([0-9]*\).*/\1/p' "$out")
    closed=$(sed -n 's/^done .*closed_by_server=\([0-9]*\).*/\1/p' "$out")
    result=$(awk -v n="$conns" -v r0="$rss0" -v a0="$anon0" -v d0="$dirty0" \
        -v r1="$rss1" -v a1="$anon1" -v d1="$dirty1" -v f="$fds" -v ok="$ok" -v fl="$failed" -v c="$closed" \
        'BEGIN { printf "%.0f %.0f %.0f %d %d %d %d %d %d %d %d\n",
                 (a1 - a0) * 1024 / n, (d1 - d0) * 1024 / n, (r1 - r0) * 1024 / n,
                 a0, a1, r0, r1, f, ok, fl, c }')
}

echo "http_idle conns=$conns settle_s=$settle repeat=$repeat nofile=$(ulimit -Sn)" \
    "nginx=$("$nginx" -v 2>&1 | sed 's/^nginx version: //; s/ /_/g')"
declare -A runs=()
for ((rep = 0; rep < repeat; rep++)); do
    for s in $servers; do
        measure_once "$s"
        runs[$s]+="$result"$'\n'
    done
done
for s in $servers; do
    mapfile -t list <<<"${runs[$s]%$'\n'}"
    summarize "$s" "bytes_per_idle_conn private_dirty_bytes_per_idle_conn rss_bytes_per_idle_conn anon_kb_before anon_kb_after rss_kb_before rss_kb_after fds idle_ok +failed +closed_by_server" "${list[@]}"
    echo "$result"
done
