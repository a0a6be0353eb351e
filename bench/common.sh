# shellcheck shell=bash
# bench/common.sh — sourced by the benchmark scripts (echo.sh, and through
# http_common.sh, http.sh and http_idle.sh): a server's CPU time and the
# medians of repeated runs. Not a program of its own.

# The pid and every descendant, so a server that forks workers is counted whole.
tree_pids() {
    local p
    echo "$1"
    for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        tree_pids "$p"
    done
}

# CPU ticks (utime + stime) used so far by the server's process tree (its
# threads included: /proc/PID/stat of a process counts all of them).
cpu_ticks() {
    local total=0 p stat rest f
    for p in $(tree_pids "$1"); do
        stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        rest=${stat##*) }       # fields from 3 (state) on; comm may hold spaces
        read -r -a f <<<"$rest"
        total=$((total + f[11] + f[12])) # fields 14 (utime) and 15 (stime)
    done
    echo "$total"
}

# summarize NAME KEYS RUNS... — sets result to "NAME_key=value ..." over the
# runs, each a line of space-separated figures named by KEYS in order. A
# figure is the median of the runs ("n/a" sorts last, and stays "n/a" when
# it is a middle value; two middle values are averaged), or for a key
# written "+key" the sum (counts of failures). Medians come first, then
# sums, each in KEYS' order; "key:2" prints two decimals, others none.
summarize() {
    local name=$1 keys=$2
    shift 2
    result=$(printf '%s\n' "$@" | awk -v n="$name" -v keys="$keys" '
        { for (i = 1; i <= NF; i++) v[i, NR] = $i }
        END {
            nk = split(keys, key, " ")
            med_out = ""; sum_out = ""
            for (i = 1; i <= nk; i++) {
                k = key[i]
                if (k ~ /^\+/) {
                    s = 0
                    for (r = 1; r <= NR; r++) s += v[i, r]
                    sum_out = sum_out sprintf(" %s_%s=%d", n, substr(k, 2), s)
                    continue
                }
                f = "%.0f"
                if (k ~ /:2$/) { f = "%.2f"; k = substr(k, 1, length(k) - 2) }
                for (r = 1; r <= NR; r++) a[r] = v[i, r]
                for (x = 2; x <= NR; x++) { # insertion sort; numeric, "n/a" last
                    t = a[x]
                    for (y = x - 1; y >= 1 && (a[y] == "n/a" || (t != "n/a" && a[y] + 0 > t + 0)); y--)
                        a[y + 1] = a[y]
                    a[y + 1] = t
                }
                m = NR
                med = (m % 2) ? a[(m + 1) / 2] : \
                      (a[m / 2] == "n/a" || a[m / 2 + 1] == "n/a") ? "n/a" : \
                      sprintf(f, (a[m / 2] + a[m / 2 + 1]) / 2)
                med_out = med_out sprintf(" %s_%s=%s", n, k, med)
            }
            print substr(med_out sum_out, 2)
        }')
}
