#!/usr/bin/env bash
# bench/server.sh BUILD_DIR — the multi-process server (examples/server, a
# "\r\n" line echo) in BASE and PROCESS modes with 1 and 2 workers, beside the engine-core
# echo server and the libuv reference, in one run. Every configuration runs
# through bench/echo.sh (same load generator, same CPU accounting: the server
# process and everything it forked), with lines ending in "\r\n" for all.
#
# Prints echo.sh's row lines, each prefixed with config=NAME:
#   config=base_w1  — eddy = examples/server -w 1 (master + 1 worker)
#   config=base_w2  — eddy = examples/server -w 2
#   config=process_w1 — eddy = examples/server -m process -w 1 (one reactor
#                     thread in the master, one worker: every message
#                     crosses reactor -> worker -> reactor)
#   config=process_w2 — eddy = examples/server -m process -w 2 (two of each)
#   config=core     — eddy = examples/echo_server (engine core, one process)
# and in each, ratio_per_cpu = eddy / libuv messages per server CPU second.
# The libuv reference runs as many processes as the configuration has
# workers (bench/ref/uv_echo.c -w N: N processes on one shared listening
# socket), so that two eddy workers sharing CPU 0 are compared with two
# libuv processes sharing it, not with one that never switches.
# Environment: as for echo.sh (DURATION, REPEAT, ROWS, PIN ...).
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
here=$(cd "$(dirname "$0")" && pwd)
export ROWS=${ROWS:-"1:64 100:64 100:4096"}
export LOAD_ARGS="-r"

run() { # run NAME SERVER ARGS UV_ARGS
    local name=$1 server=$2 args=$3 uv_args=$4
    EDDY_SERVER=$server EDDY_ARGS=$args UV_ARGS=$uv_args "$here/echo.sh" "$build" |
        sed -n "s/^row=/config=$name row=/p"
}

run base_w1 "$build/examples/server" "-w 1" ""
run base_w2 "$build/examples/server" "-w 2" "-w 2"
run process_w1 "$build/examples/server" "-m process -w 1 -r 1" ""
run process_w2 "$build/examples/server" "-m process -w 2 -r 2" "-w 2"
run core "$build/examples/echo_server" "" ""
