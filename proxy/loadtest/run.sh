#!/usr/bin/env bash
# Process-level throughput of the gate against a bare httputil.ReverseProxy,
# with wrk from Debian's packages. The servers share CPU 0, wrk has CPU 1.
# Rounds are interleaved (bare, gate, bare, gate...) and the table gives
# medians and their ratio. Loopback only; bounded by ROUNDS × DURATION.
#
#   bash proxy/loadtest/run.sh            # 20 KB and 2 KB, 64 connections
#   ROUNDS=7 DURATION=10s bash proxy/loadtest/run.sh
#   SESSION=rs256 bash proxy/loadtest/run.sh   # RS256 sessions from a JWKS
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-5s} CONNS=${CONNS:-64} SESSION=${SESSION:-hs256}
bin=$(mktemp -d)/loadtest
go build -o "$bin" ./proxy/loadtest
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf '%-8s %14s %14s %8s\n' size bare_rps gate_rps ratio
for size in 20480 2048; do
  out=$(mktemp)
  taskset -c 0 "$bin" -size "$size" -session "$SESSION" >"$out" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 50); do grep -q '^COOKIE=' "$out" && break; sleep 0.1; done
  path=$(sed -n 's/^PATH=//p' "$out"); cookie=$(sed -n 's/^COOKIE=//p' "$out")
  bare=(); gate=()
  for _ in $(seq "$ROUNDS"); do
    b=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" -H "Cookie: $cookie" "http://127.0.0.1:18081$path" | awk '/Requests\/sec/ {print $2}')
    g=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" -H "Cookie: $cookie" "http://127.0.0.1:18082$path" | awk '/Requests\/sec/ {print $2}')
    bare+=("$b"); gate+=("$g")
  done
  kill $pid; wait $pid 2>/dev/null || true
  mb=$(printf '%s\n' "${bare[@]}" | median); mg=$(printf '%s\n' "${gate[@]}" | median)
  printf '%-8s %14.0f %14.0f %8.3f\n' "$size" "$mb" "$mg" "$(echo "$mg / $mb" | bc -l)"
done
