#!/usr/bin/env bash
# Where the time goes under load, function by function: a CPU profile
# (net/http/pprof) of the gate and one of the bare proxy, each taken while wrk
# drives it with 64 connections, in the same process on CPU 0 (as run.sh
# runs them; wrk on CPU 1). Each function's cumulative time is divided by the
# requests served during the profile, so the two read side by side in µs per
# request, and the table is sorted by what the gate adds. The functions under
# net/http and the runtime are the same code in both: where they cost more per
# request for the gate, that is the amplification (cache misses, wake-ups,
# the collector), not work the gate does.
#
#   bash proxy/loadtest/profile.sh               # 2 KB, 10 s profiles
#   SIZE=20480 TOP=40 bash proxy/loadtest/profile.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
SIZE=${SIZE:-2048} SECONDS_=${PROFILE_SECONDS:-10} TOP=${TOP:-30} SCENARIO=${SCENARIO:-lifted}
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
go build -o "$dir/loadtest" ./proxy/loadtest
taskset -c 0 "$dir/loadtest" -size "$SIZE" -scenario "$SCENARIO" -pprof 127.0.0.1:18089 >"$dir/out" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q '^COOKIE=' "$dir/out" && break; sleep 0.1; done
path=$(sed -n 's/^PATH=//p' "$dir/out"); cookie=$(sed -n 's/^COOKIE=//p' "$dir/out")
declare -A rps
for who in gate bare; do
  port=18082
  [ "$who" = bare ] && port=18081
  taskset -c 1 wrk -t1 -c64 -d3s -H "Cookie: $cookie" "http://127.0.0.1:$port$path" >/dev/null
  taskset -c 1 wrk -t1 -c64 -d"$((SECONDS_ + 2))s" -H "Cookie: $cookie" "http://127.0.0.1:$port$path" >"$dir/wrk.$who" &
  w=$!
  sleep 1
  curl -s -o "$dir/prof.$who" "http://127.0.0.1:18089/debug/pprof/profile?seconds=$SECONDS_"
  wait $w
  rps[$who]=$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.$who")
done
# dump prints "function<TAB>cumulative seconds".
dump() {
  go tool pprof -top -cum -nodecount=2000 "$dir/loadtest" "$1" 2>/dev/null |
    awk 'NR>6 && $4 ~ /s$/ {v=$4; if (v ~ /ms$/) {sub(/ms$/,"",v); v/=1000} else sub(/s$/,"",v);
         n=$6; for (i=7; i<=NF; i++) n=n" "$i; print n "\t" v}' | sort -t$'\t' -k1,1
}
echo "$SIZE bytes, 64 connections, ${SECONDS_} s profiles; bare ${rps[bare]} req/s, gate ${rps[gate]} req/s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# total prints the profile's samples in seconds.
total() { go tool pprof -top -nodecount=1 "$dir/loadtest" "$1" 2>/dev/null | sed -n 's/.*Total samples = \([0-9.]*\)\(m*\)s.*/\1 \2/p' | awk '{print ($2=="m") ? $1/1000 : $1}'; }
printf 'all CPU per request, µs: bare %.1f, gate %.1f\n' "$(echo "$(total "$dir/prof.bare") * 1000000 / (${rps[bare]} * $SECONDS_)" | bc -l)" \
  "$(echo "$(total "$dir/prof.gate") * 1000000 / (${rps[gate]} * $SECONDS_)" | bc -l)"
echo "CPU per request, µs (cumulative), by what the gate adds:"
printf '%8s %8s %8s  %s\n' bare gate added function
join -t$'\t' -a1 -a2 -e 0 -o 0,1.2,2.2 <(dump "$dir/prof.bare") <(dump "$dir/prof.gate") |
  awk -F'\t' -v b="${rps[bare]}" -v g="${rps[gate]}" -v s="$SECONDS_" \
    '{bu=$2*1e6/(b*s); gu=$3*1e6/(g*s); printf "%8.2f %8.2f %+8.2f  %s\n", bu, gu, gu-bu, $1}' |
  sort -k3 -g -r | head -n "$TOP"
