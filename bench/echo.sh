#!/usr/bin/env bash
# bench/echo.sh BUILD_DIR — eddy's line-echo server beside libuv's.
#
# For every row (connections x message size: c1_s64 c1_s4096 c100_s64
# c100_s4096) and for each server — BUILD_DIR/examples/echo_server (eddy),
# then BUILD_DIR/bench/ref_uv_echo (libuv) — it starts the server with -p 0,
# reads the port from its "listening on 127.0.0.1:PORT" line, runs
# bench_echo_load for WARMUP seconds (not measured), then for DURATION
# seconds, and reads the server's CPU time (utime+stime of the server and any
# processes it forked, from /proc/PID/stat, in CLK_TCK ticks) just before
# and just after the measured run. The server is then stopped with SIGTERM.
# Each row is measured REPEAT times, eddy and libuv taking turns, and every
# figure printed is the median over those runs (errors: the sum).
#
# One line per row, space-separated name=value:
#   row=c100_s64 eddy_msgs_per_sec= eddy_p50_us= eddy_p99_us= eddy_cpu_s=
#   eddy_msgs_per_cpu_s= eddy_errors= uv_...(same keys)
#   ratio_per_cpu=EDDY/UV msgs per server CPU second   (>= 1: eddy as good)
#   ratio_raw=EDDY/UV msgs per second
#   p99_ratio=EDDY/UV p99 latency                       (<= 1: eddy no worse)
#
# Environment: DURATION (default 5), WARMUP (default 1), REPEAT (default 3),
# EDDY_ARGS (extra arguments for the eddy server, e.g. "-w 2"), UV_ARGS (the
# same for the libuv server: "-w 2" runs two libuv processes), LOAD_ARGS
# (extra arguments for bench_echo_load, e.g. "-r" for "\r\n" lines),
# ROWS (default "1:64 1:4096 100:64 100:4096", CONNS:SIZE), EDDY_SERVER and UV_SERVER
# (override the server binaries, e.g. point both at ref_uv_echo to test this
# script), PIN (default 1: with 2+ CPUs the server runs on CPU 0 and the load
# generator on CPU 1). A missing eddy server gives eddy_*=pending.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
duration=${DURATION:-5}
warmup=${WARMUP:-1}
repeat=${REPEAT:-3}
rows=${ROWS:-"1:64 1:4096 100:64 100:4096"}
eddy_server=${EDDY_SERVER:-$build/examples/echo_server}
uv_server=${UV_SERVER:-$build/bench/ref_uv_echo}
load=$build/bench/bench_echo_load
clk_tck=$(getconf CLK_TCK)
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"

for bin in "$uv_server" "$load"; do
    if [[ ! -x $bin ]]; then
        echo "echo.sh: $bin is missing (build the bench targets first)" >&2
        exit 1
    fi
done
have_eddy=1
if [[ ! -x $eddy_server ]]; then
    echo "echo.sh: WARNING: $eddy_server is missing; eddy columns are 'pending'" >&2
    have_eddy=0
fi

server_pin=()
load_pin=()
if [[ ${PIN:-1} == 1 && $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
    server_pin=(taskset -c 0)
    load_pin=(taskset -c 1)
fi

tmp=$(mktemp -d)
server_pid=
load_pid=
cleanup() {
    if [[ -n $load_pid ]]; then
        kill -TERM "$load_pid" 2>/dev/null || true
    fi
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        sleep 0.5
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nstarted=0
start_server() { # start_server BINARY -> sets server_pid, port
    # A fresh file per server: the shell truncates a reused one only once
    # the child runs, and the old port could be read before that.
    nstarted=$((nstarted + 1))
    local out=$tmp/server$nstarted.out err=$tmp/server$nstarted.err
    : >"$out"
    local extra=()
    if [[ $1 == "$eddy_server" ]]; then
        read -r -a extra <<<"${EDDY_ARGS:-}"
    else
        read -r -a extra <<<"${UV_ARGS:-}"
    fi
    "${server_pin[@]}" "$1" -p 0 "${extra[@]}" >"$out" 2>"$err" &
    server_pid=$!
    port=
    local i
    for ((i = 0; i < 100; i++)); do
        port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\).*$/\1/p' "$out" | head -n 1)
        [[ -n $port ]] && return 0
        if ! kill -0 "$server_pid" 2>/dev/null; then
            break
        fi
        sleep 0.05
    done
    echo "echo.sh: $1 did not print 'listening on 127.0.0.1:PORT'; its output:" >&2
    cat "$out" "$err" >&2
    exit 1
}

stop_server() {
    local i rc=0
    kill -TERM "$server_pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        echo "echo.sh: WARNING: server $server_pid ignored SIGTERM for 5 s; killing it" >&2
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || rc=$?
    if [[ $rc -ne 0 ]]; then
        echo "echo.sh: WARNING: server exited with status $rc after SIGTERM" >&2
    fi
    server_pid=
}

# run_load OUTFILE ARGS... — the load generator, in the background so that a
# signal to this script is acted on at once rather than after the run.
run_load() {
    local file=$1
    shift
    local limit=$((${duration%.*} + ${warmup%.*} + 30))
    timeout "$limit" "${load_pin[@]}" "$load" "$@" >"$file" &
    load_pid=$!
    local rc=0
    wait "$load_pid" || rc=$?
    load_pid=
    if [[ $rc -ne 0 ]]; then
        echo "echo.sh: bench_echo_load $* failed (exit $rc)" >&2
        exit 1
    fi
}

get() { # get KEY TEXT
    awk -F= -v k="$1" '$1 == k { print $2 }' <<<"$2"
}
div() { # div NUM DEN [FORMAT]
    awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" \
        'BEGIN { if (a == "" || b == "" || a == "pending" || b == "pending" || b + 0 == 0) print "n/a"; else printf f "\n", a / b }'
}

# What measure_once's figures are called, for summarize.
run_keys="msgs_per_sec p50_us p99_us cpu_s:2 msgs_per_cpu_s +errors"

# measure_once BINARY CONNS SIZE -> sets result="MSGS_PER_SEC P50 P99 CPU_S MSGS_PER_CPU_S ERRORS"
# (runs in this shell, not in $(...), so the EXIT trap sees server_pid)
measure_once() {
    local bin=$1 conns=$2 size=$3
    start_server "$bin"
    local args=(-h 127.0.0.1 -p "$port" -c "$conns" -s "$size")
    local load_extra=()
    read -r -a load_extra <<<"${LOAD_ARGS:-}"
    args+=("${load_extra[@]}")
    if [[ $warmup != 0 ]]; then
        run_load /dev/null "${args[@]}" -d "$warmup"
    fi
    local c0 c1 out cpu
    c0=$(cpu_ticks "$server_pid")
    run_load "$tmp/load.out" "${args[@]}" -d "$duration"
    c1=$(cpu_ticks "$server_pid")
    out=$(<"$tmp/load.out")
    stop_server
    cpu=$(awk -v d=$((c1 - c0)) -v t="$clk_tck" 'BEGIN { printf "%.2f\n", d / t }')
    result="$(get msgs_per_sec "$out") $(get p50_us "$out") $(get p99_us "$out") $cpu"
    result+=" $(div "$(get msgs "$out")" "$cpu" %.0f) $(get errors "$out")"
}

echo "echo_bench duration_s=$duration warmup_s=$warmup repeat=$repeat clk_tck=$clk_tck" \
    "pinned=$([[ ${#server_pin[@]} -gt 0 ]] && echo yes || echo no)"
for row in $rows; do
    conns=${row%%:*}
    size=${row##*:}
    eddy_runs=()
    uv_runs=()
    for ((rep = 0; rep < repeat; rep++)); do # interleaved, so drift hits both alike
        if [[ $have_eddy == 1 ]]; then
            measure_once "$eddy_server" "$conns" "$size"
            eddy_runs+=("$result")
        fi
        measure_once "$uv_server" "$conns" "$size"
        uv_runs+=("$result")
    done
    if [[ $have_eddy == 1 ]]; then
        summarize eddy "$run_keys" "${eddy_runs[@]}"
        e=$result
    else
        e="eddy_msgs_per_sec=pending eddy_p50_us=pending eddy_p99_us=pending eddy_cpu_s=pending"
        e+=" eddy_msgs_per_cpu_s=pending eddy_errors=pending"
    fi
    summarize uv "$run_keys" "${uv_runs[@]}"
    u=$result
    both=$(tr ' ' '\n' <<<"$e $u")
    ratio_cpu=$(div "$(get eddy_msgs_per_cpu_s "$both")" "$(get uv_msgs_per_cpu_s "$both")")
    ratio_raw=$(div "$(get eddy_msgs_per_sec "$both")" "$(get uv_msgs_per_sec "$both")")
    p99=$(div "$(get eddy_p99_us "$both")" "$(get uv_p99_us "$both")")
    echo "row=c${conns}_s${size} $e $u ratio_per_cpu=$ratio_cpu ratio_raw=$ratio_raw p99_ratio=$p99"
done
