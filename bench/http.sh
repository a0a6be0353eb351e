#!/usr/bin/env bash
# bench/http.sh BUILD_DIR — eddy's HTTP server (examples/http_hello) beside
# nginx, both answering every request "200 OK", text/plain, "Hello, World!",
# with keep-alive, driven by wrk on 127.0.0.1.
#
# Servers (each with 1 and then 2 workers — WORKERS):
#   nginx   — nginx -p TMPDIR with a generated configuration: worker_processes
#             = workers, `return 200 "Hello, World!"` with default_type
#             text/plain, access_log off, keepalive_requests 1e9,
#             worker_connections 16384, daemon off, master_process on, a free
#             port on 127.0.0.1 (bench/http_common.sh, nginx_conf)
#   base    — BUILD_DIR/examples/http_hello -w N (BASE mode: every worker
#             accepts and serves its own connections)
#   floor   — BUILD_DIR/bench/ref_uring_hello -w N, only when SERVERS names
#             it: the same answer from a program with no parser and no
#             state, all its I/O through io_uring (one system call per batch
#             of ready connections, no epoll): what the kernel alone costs
#             per request here, the floor under every server
#   process — BUILD_DIR/examples/http_hello -m process -w N (PROCESS mode:
#             the master's reactor threads hold the connections, workers run
#             the handler); reactor_num = N is passed with -r when
#             http_hello takes it, otherwise it is the server's default (the
#             number of CPUs) and the header line says so
# Rows (ROWS):
#   c100      — wrk -c 100, one request at a time per connection
#   c1000     — wrk -c 1000
#   c100_p16  — wrk -c 100 with bench/http_pipeline.lua: 16 requests per write
#
# For each row, worker count and server: start the server, run the load for
# WARMUP seconds (not measured), then for DURATION seconds, reading the
# server's CPU time (utime + stime of every process in its tree, threads
# included, from /proc/PID/stat, in CLK_TCK ticks — as bench/echo.sh does)
# just before and after that run; then stop the server with SIGTERM. Each is
# measured REPEAT times, the servers taking turns, and every figure printed
# is the median over those runs (errors: the sum).
#
# The load (LOAD):
#   wrk (default) — `wrk --latency --timeout 10s`, WRK_THREADS threads; the
#       pipelined rows use the Lua script. wrk's latency percentiles are
#       wrong when it pipelines (its coordinated-omission correction takes
#       the interval per response instead of per batch and then skips the
#       synthetic samples below its minimum: p99 comes out too high, or 0 —
#       wg/wrk issue 236), so for those rows the p99 comes from a second
#       DURATION-second run of BUILD_DIR/bench/bench_http_load on the same
#       server right after (the round trip of a batch of 16); requests/s and
#       CPU are wrk's.
#   http_load — BUILD_DIR/bench/bench_http_load for everything: a lighter
#       C client (one thread, epoll, no per-request epoll_ctl), so that the
#       load generator's one CPU is less of a ceiling on the raw figures.
#       Its p99 is the round trip of one request, or of one batch.
#
# One line per row and worker count, space-separated name=value:
#   row=c100 workers=1
#   nginx_rps= nginx_p99_us= nginx_cpu_s= nginx_req_per_cpu_s=
#   nginx_other_cpu_s= nginx_errors=
#   base_...  process_...  (the same keys)
#   ratio_raw=BASE/NGINX requests per second         (target >= 1.1)
#   ratio_per_cpu=BASE/NGINX requests per server CPU second (target >= 1.3)
#   p99_ratio=BASE/NGINX p99 latency                 (target <= 1.0)
#   process_ratio_raw= process_ratio_per_cpu= process_p99_ratio=  PROCESS/NGINX
#   process_vs_base_raw= process_vs_base_per_cpu=   PROCESS/BASE (target >= 0.6)
#   floor_ratio_raw= floor_ratio_per_cpu=   FLOOR/NGINX (floor_*: "pending"
#                                           unless SERVERS names floor)
# errors = wrk's socket errors (connect, read, write, timeout) plus non-2xx
# responses, plus bench_http_load's lost connections (refused, reset,
# closed, a wrong answer). other_cpu_s = the machine's busy CPU time
# (user + nice + system in /proc/stat) during the measured run, less the
# server's and the load generator's: other jobs on this shared machine. A
# run where that exceeds MAX_OTHER_CPU seconds (default DURATION / 5) is
# measured again, up to RETRIES (default 1) more times; the last try counts.
#
# Environment: LOAD (wrk or http_load, default wrk), DURATION (default 5),
# WARMUP (default 1), REPEAT (default 3),
# ROWS (default "c100 c1000 c100_p16"; any cN or cN_pD), WORKERS (default
# "1 2"), SERVERS (default "nginx base process"; add floor), PIN (default 1: with 2+
# CPUs the server tree runs on CPU 0 and the load on CPU 1), WRK_THREADS (default
# 1 when pinned — wrk then has one CPU — else the number of CPUs), NGINX
# (default: nginx on PATH, else /usr/sbin/nginx), EDDY_SERVER (default
# BUILD_DIR/examples/http_hello). A missing server gives its figures as
# "pending".
set -euo pipefail

prog=http.sh
if [[ $# -ne 1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
here=$(cd "$(dirname "$0")" && pwd)
duration=${DURATION:-5}
warmup=${WARMUP:-1}
repeat=${REPEAT:-3}
rows=${ROWS:-"c100 c1000 c100_p16"}
worker_counts=${WORKERS:-"1 2"}
servers=${SERVERS:-"nginx base process"}
eddy_server=${EDDY_SERVER:-$build/examples/http_hello}
floor_server=${FLOOR_SERVER:-$build/bench/ref_uring_hello}
nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
lua=$here/http_pipeline.lua
load=${LOAD:-wrk}
max_other=${MAX_OTHER_CPU:-$(awk -v d="$duration" 'BEGIN { print d / 5 }')}
retries=${RETRIES:-1}
http_load=$build/bench/bench_http_load
clk_tck=$(getconf CLK_TCK)

# shellcheck source=bench/http_common.sh
source "$here/http_common.sh"

if [[ $load != wrk && $load != http_load ]]; then
    echo "$prog: LOAD is wrk or http_load, not '$load'" >&2
    exit 2
fi
if [[ $load == wrk ]] && ! command -v wrk >/dev/null; then
    echo "$prog: wrk is missing (scripts/deps.sh installs it)" >&2
    exit 1
fi
if [[ ! -x $http_load ]]; then
    echo "$prog: $http_load is missing (build the bench targets first)" >&2
    exit 1
fi
have_eddy=1
if [[ ! -x $eddy_server ]]; then
    echo "$prog: WARNING: $eddy_server is missing; eddy columns are 'pending'" >&2
    have_eddy=0
fi
have_nginx=1
if [[ ! -x $nginx ]]; then
    echo "$prog: WARNING: nginx is missing (scripts/deps.sh installs it); its columns are 'pending'" >&2
    have_nginx=0
fi
# http_hello's usage line says whether it takes -r (reactor_num).
reactor_flag=0
if [[ $have_eddy == 1 ]]; then
    usage=$(timeout 5 "$eddy_server" '-?' 2>&1 || true) # '?' is no option: usage
    [[ $usage == *"[-r "* ]] && reactor_flag=1
fi

server_pin=()
load_pin=()
if [[ ${PIN:-1} == 1 && $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
    server_pin=(taskset -c 0)
    load_pin=(taskset -c 1)
fi
wrk_threads=${WRK_THREADS:-}
if [[ -z $wrk_threads ]]; then
    wrk_threads=$(nproc)
    [[ ${#load_pin[@]} -gt 0 ]] && wrk_threads=1
fi
raise_nofile

tmp=$(mktemp -d)
load_pid=
cleanup() {
    if [[ -n $load_pid ]]; then
        kill -TERM "$load_pid" 2>/dev/null || true
    fi
    kill_server
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# in_background OUTFILE LIMIT_S COMMAND... — the load generator, in the
# background so that a signal to this script is acted on at once.
in_background() {
    local file=$1 limit=$2
    shift 2
    timeout "$limit" "${load_pin[@]}" "$@" >"$file" 2>&1 &
    load_pid=$!
    local rc=0
    wait "$load_pid" || rc=$?
    load_pid=
    if [[ $rc -ne 0 ]]; then
        echo "$prog: $* failed (exit $rc):" >&2
        cat "$file" >&2
        exit 1
    fi
}

# run_wrk OUTFILE CONNS DEPTH SECONDS [--latency]
run_wrk() {
    local file=$1 conns=$2 depth=$3 secs=$4
    shift 4
    local threads=$wrk_threads
    ((threads > conns)) && threads=$conns
    local args=(-t "$threads" -c "$conns" -d "${secs}s" --timeout 10s "$@")
    [[ $depth -gt 1 ]] && args+=(-s "$lua")
    args+=("http://127.0.0.1:$port/")
    [[ $depth -gt 1 ]] && args+=(-- "$depth")
    in_background "$file" $((${secs%.*} + 30)) wrk "${args[@]}"
}

# run_http_load OUTFILE CONNS DEPTH SECONDS
run_http_load() {
    in_background "$1" $((${4%.*} + 30)) "$http_load" -h 127.0.0.1 -p "$port" -c "$2" -D "$3" -d "$4"
}

# parse_wrk FILE -> "REQUESTS RPS P99_US ERRORS"
parse_wrk() {
    awk '
        function us(v) {
            if (v ~ /us$/) return v + 0
            if (v ~ /ms$/) return (v + 0) * 1000
            if (v ~ /m$/) return (v + 0) * 60000000
            if (v ~ /s$/) return (v + 0) * 1000000
            return v + 0
        }
        $1 == "99%" { p99 = us($2) }
        $2 == "requests" && $3 == "in" { reqs = $1 }
        $1 == "Requests/sec:" { rps = $2 }
        $1 == "Socket" && $2 == "errors:" {
            gsub(",", "")
            errs += $4 + $6 + $8 + $10
        }
        $1 == "Non-2xx" { errs += $5 }
        END {
            if (reqs == "" || rps == "") { print "n/a n/a n/a n/a"; exit }
            printf "%d %.0f %.0f %d\n", reqs, rps, p99, errs
        }' "$1"
}

# parse_http_load FILE -> "REQUESTS RPS P99_US ERRORS"
parse_http_load() {
    awk -F= '{ v[$1] = $2 }
        END {
            if (v["requests"] == "") { print "n/a n/a n/a n/a"; exit }
            print v["requests"], v["requests_per_sec"], v["p99_us"], v["errors"]
        }' "$1"
}

div() { # div NUM DEN [FORMAT]
    awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" \
        'BEGIN { if (a == "" || b == "" || a == "pending" || b == "pending" || a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf f "\n", a / b }'
}
get() { # get KEY TEXT (space-separated name=value pairs)
    tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'
}

# start SERVER WORKERS — sets server_pid and port
start() {
    case $1 in
    nginx) start_nginx "$2" ;;
    base) start_eddy "$eddy_server" -w "$2" ;;
    floor) start_eddy "$floor_server" -w "$2" ;;
    process)
        if [[ $reactor_flag == 1 ]]; then
            start_eddy "$eddy_server" -m process -w "$2" -r "$2"
        else
            start_eddy "$eddy_server" -m process -w "$2"
        fi
        ;;
    esac
}

# busy_ticks — user + nice + system ticks of the machine's CPUs so far
# (irq and softirq left out: much of that is this benchmark's own traffic).
busy_ticks() {
    awk '$1 == "cpu" { print $2 + $3 + $4; exit }' /proc/stat
}

# children_ticks — CPU ticks of this shell's reaped children (the load
# generator among them), from the `times` builtin.
children_ticks() {
    times | awk -v t="$clk_tck" 'NR == 2 {
        s = 0
        for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }
        printf "%.0f\n", s * t }'
}

# measure_once SERVER WORKERS CONNS DEPTH -> sets result="RPS P99_US CPU_S REQ_PER_CPU_S ERRORS OTHER_CPU_S"
# (runs in this shell, not in $(...), so the EXIT trap sees server_pid).
# OTHER_CPU_S is the CPU time the machine spent during the measured run on
# anything but the server and the load generator: other people's jobs.
measure_once() {
    local server=$1 workers=$2 conns=$3 depth=$4
    start "$server" "$workers"
    local c0 c1 b0 b1 l0 l1 reqs rps p99 errs cpu other p99b errsb
    if [[ $load == wrk ]]; then
        [[ $warmup != 0 ]] && run_wrk "$tmp/warmup.out" "$conns" "$depth" "$warmup"
        c0=$(cpu_ticks "$server_pid") b0=$(busy_ticks) l0=$(children_ticks)
        run_wrk "$tmp/load.out" "$conns" "$depth" "$duration" --latency
        c1=$(cpu_ticks "$server_pid") b1=$(busy_ticks) l1=$(children_ticks)
        read -r reqs rps p99 errs < <(parse_wrk "$tmp/load.out")
        if [[ $depth -gt 1 ]]; then
            # wrk's percentiles are wrong when it pipelines (see the header):
            # the p99 of this row comes from bench_http_load on the same server.
            run_http_load "$tmp/latency.out" "$conns" "$depth" "$duration"
            read -r _ _ p99b errsb < <(parse_http_load "$tmp/latency.out")
            p99=$p99b
            errs=$((errs + errsb))
        fi
    else
        [[ $warmup != 0 ]] && run_http_load "$tmp/warmup.out" "$conns" "$depth" "$warmup"
        c0=$(cpu_ticks "$server_pid") b0=$(busy_ticks) l0=$(children_ticks)
        run_http_load "$tmp/load.out" "$conns" "$depth" "$duration"
        c1=$(cpu_ticks "$server_pid") b1=$(busy_ticks) l1=$(children_ticks)
        read -r reqs rps p99 errs < <(parse_http_load "$tmp/load.out")
    fi
    stop_server
    cpu=$(awk -v d=$((c1 - c0)) -v t="$clk_tck" 'BEGIN { printf "%.2f\n", d / t }')
    other=$(awk -v d=$((b1 - b0 - (c1 - c0) - (l1 - l0))) -v t="$clk_tck" \
        'BEGIN { if (d < 0) d = 0; printf "%.2f\n", d / t }')
    result="$rps $p99 $cpu $(div "$reqs" "$cpu" %.0f) $errs $other"
}

# measure SERVER WORKERS CONNS DEPTH — measure_once, again (up to RETRIES
# more times) while other jobs took more than MAX_OTHER_CPU seconds of CPU
# during the run; the last try counts whatever it saw.
measure() {
    local try
    for ((try = 0; ; try++)); do
        measure_once "$@"
        local other=${result##* }
        if ((try >= retries)) || awk -v o="$other" -v m="$max_other" 'BEGIN { exit !(o <= m) }'; then
            return 0
        fi
        echo "$prog: $1 -w $2 $3/$4: other jobs took ${other} CPU s; measuring again" >&2
    done
}

pending() { # pending NAME
    result="$1_rps=pending $1_p99_us=pending $1_cpu_s=pending $1_req_per_cpu_s=pending"
    result+=" $1_other_cpu_s=pending $1_errors=pending"
}

available() { # available SERVER -> 0 when it can run
    case $1 in
    nginx) [[ $have_nginx == 1 ]] ;;
    floor) [[ -x $floor_server ]] ;;
    *) [[ $have_eddy == 1 ]] ;;
    esac
}

echo "http_bench load=$load duration_s=$duration warmup_s=$warmup repeat=$repeat clk_tck=$clk_tck" \
    "pinned=$([[ ${#server_pin[@]} -gt 0 ]] && echo yes || echo no) wrk_threads=$wrk_threads" \
    "nginx=$("$nginx" -v 2>&1 | sed 's/^nginx version: //; s/ /_/g')" \
    "process_reactor_num=$([[ $reactor_flag == 1 ]] && echo workers || echo "default($(nproc))")"
for row in $rows; do
    if [[ ! $row =~ ^c([0-9]+)(_p([0-9]+))?$ ]]; then
        echo "$prog: bad row '$row' (cN or cN_pD)" >&2
        exit 2
    fi
    conns=${BASH_REMATCH[1]}
    depth=${BASH_REMATCH[3]:-1}
    for workers in $worker_counts; do
        declare -A runs=()
        for ((rep = 0; rep < repeat; rep++)); do # interleaved, so drift hits all alike
            for s in $servers; do
                available "$s" || continue
                measure "$s" "$workers" "$conns" "$depth"
                runs[$s]+="$result"$'\n'
            done
        done
        line="row=$row workers=$workers"
        for s in nginx base process floor; do
            if [[ " $servers " == *" $s "* ]] && available "$s"; then
                mapfile -t list <<<"${runs[$s]%$'\n'}"
                summarize "$s" "rps p99_us cpu_s:2 req_per_cpu_s +errors other_cpu_s:2" "${list[@]}"
            else
                pending "$s"
            fi
            line+=" $result"
        done
        unset runs
        line+=" ratio_raw=$(div "$(get base_rps "$line")" "$(get nginx_rps "$line")")"
        line+=" ratio_per_cpu=$(div "$(get base_req_per_cpu_s "$line")" "$(get nginx_req_per_cpu_s "$line")")"
        line+=" p99_ratio=$(div "$(get base_p99_us "$line")" "$(get nginx_p99_us "$line")")"
        line+=" process_ratio_raw=$(div "$(get process_rps "$line")" "$(get nginx_rps "$line")")"
        line+=" process_ratio_per_cpu=$(div "$(get process_req_per_cpu_s "$line")" "$(get nginx_req_per_cpu_s "$line")")"
        line+=" process_p99_ratio=$(div "$(get process_p99_us "$line")" "$(get nginx_p99_us "$line")")"
        line+=" process_vs_base_raw=$(div "$(get process_rps "$line")" "$(get base_rps "$line")")"
        line+=" process_vs_base_per_cpu=$(div "$(get process_req_per_cpu_s "$line")" "$(get base_req_per_cpu_s "$line")")"
        line+=" floor_ratio_raw=$(div "$(get floor_rps "$line")" "$(get nginx_rps "$line")")"
        line+=" floor_ratio_per_cpu=$(div "$(get floor_req_per_cpu_s "$line")" "$(get nginx_req_per_cpu_s "$line")")"
        echo "$line"
    done
done
