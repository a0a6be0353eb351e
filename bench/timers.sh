#!/usr/bin/env bash
# bench/timers.sh BUILD_DIR — eddy's timers beside libuv's.
#
# Runs bench_timers (eddy) and ref_uv_timers (libuv) one after the other
# (1,000,000 timers, best of RUNS runs, env RUNS, default 3; env TIMERS
# overrides the count) and prints their name=value lines, then:
#   speedup_schedule_fire=UV_MS/EDDY_MS     (> 1: eddy is faster)
#   speedup_schedule_cancel=UV_MS/EDDY_MS
# A run that fired the wrong number of timers, or out of order, is reported
# as a warning on stderr and makes the script exit 1.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
runs=${RUNS:-3}
timers=${TIMERS:-1000000}
eddy_bin=$build/bench/bench_timers
uv_bin=$build/bench/ref_uv_timers
for bin in "$eddy_bin" "$uv_bin"; do
    if [[ ! -x $bin ]]; then
        echo "timers.sh: $bin is missing (build the bench targets first)" >&2
        exit 1
    fi
done

status=0
eddy_out=$(timeout 300 "$eddy_bin" -n "$timers" -r "$runs") || {
    echo "timers.sh: WARNING: bench_timers failed (exit $?)" >&2
    status=1
}
uv_out=$(timeout 300 "$uv_bin" -n "$timers" -r "$runs") || {
    echo "timers.sh: WARNING: ref_uv_timers failed (exit $?)" >&2
    status=1
}
printf '%s\n%s\n' "$eddy_out" "$uv_out"

get() { # get KEY TEXT
    awk -F= -v k="$1" '$1 == k { print $2 }' <<<"$2"
}
ratio() { # ratio NUM DEN
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}
echo "speedup_schedule_fire=$(ratio "$(get uv_timers_schedule_fire_ms "$uv_out")" \
    "$(get timers_schedule_fire_ms "$eddy_out")")"
echo "speedup_schedule_cancel=$(ratio "$(get uv_timers_schedule_cancel_ms "$uv_out")" \
    "$(get timers_schedule_cancel_ms "$eddy_out")")"
exit $status
