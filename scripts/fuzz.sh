#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD/fuzz for SECONDS each, starting from the
# seed corpus in fuzz/corpus/<target>/ (new finds go to a scratch directory).
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$build"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=${bin##*/fuzz_}
  scratch=$(mktemp -d)
  echo "fuzz: $name for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -print_final_stats=0 "$scratch" "$root/fuzz/corpus/$name" \
       >"$scratch.log" 2>&1; then
    tail -n 40 "$scratch.log"
    status=1
  fi
  rm -rf "$scratch" "$scratch.log"
done
exit $status
