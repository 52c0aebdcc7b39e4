#!/usr/bin/env bash
# Where the gate's CPU goes under real sockets, per request, next to the bare
# proxy: each server its own process (the proxies on CPU 0, the upstream and
# wrk on CPU 1), rounds interleaved, and for each round the process's own
# counters read before and after it:
#   user and system CPU (/proc/PID/stat), voluntary and involuntary context
#   switches (/proc/PID/status), read and write system calls (/proc/PID/io),
#   minor faults, and from the Go runtime (runtime/metrics, the loadtest's
#   -runtime-metrics): GC cycles, heap objects allocated, time goroutines
#   waited to run (/sched/latencies) and on mutexes (/sync/mutex/wait); and
#   the voluntary context switches of wrk and of the upstream, the peers on
#   the other CPU, per request.
# It prints the medians per request. With STRACE=1, one more round of each under
# strace -c -f (which slows it: read the counts, not the times). With GCTRACE=1
# the proxies run with GODEBUG=gctrace=1 and the last lines of each are shown.
#
#   bash proxy/loadtest/amplify.sh                 # 2 KB, 5 rounds of 3 s each
#   SIZE=20480 ROUNDS=7 bash proxy/loadtest/amplify.sh
#   GOGC=400 bash proxy/loadtest/amplify.sh        # the proxies' GOGC
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-3s} CONNS=${CONNS:-64} SIZE=${SIZE:-2048} SCENARIO=${SCENARIO:-lifted}
dir=$(mktemp -d)
bin=$dir/loadtest
go build -o "$bin" ./proxy/loadtest
gt=()
[ -z "${GCTRACE:-}" ] || gt=(env GODEBUG=gctrace=1)
taskset -c 1 "$bin" -size "$SIZE" -scenario "$SCENARIO" -only upstream >/dev/null 2>&1 &
up=$!
pids=$up
taskset -c 0 "${gt[@]}" "$bin" -size "$SIZE" -scenario "$SCENARIO" -only bare -runtime-metrics 127.0.0.1:18091 >/dev/null 2>"$dir/bare.err" &
bare=$!
taskset -c 0 "${gt[@]}" "$bin" -size "$SIZE" -scenario "$SCENARIO" -only gate -runtime-metrics 127.0.0.1:18092 >"$dir/gate.out" 2>"$dir/gate.err" &
gate=$!
pids="$pids $bare $gate"
trap 'kill $pids 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do grep -q '^COOKIE=' "$dir/gate.out" && break; sleep 0.1; done
path=$(sed -n 's/^PATH=//p' "$dir/gate.out"); cookie=$(sed -n 's/^COOKIE=//p' "$dir/gate.out")
sed -n 's/^SCENARIO=/scenario /p' "$dir/gate.out"
echo "size $SIZE, $CONNS connections, $ROUNDS interleaved rounds of $DURATION, load average $(cut -d' ' -f1-3 /proc/loadavg)"
tck=$(getconf CLK_TCK)
# snap PID METRICSPORT prints: utime stime vcs ivcs syscr syscw gc allocs schedwait_s mutexwait_s minflt
snap() {
  local st; st=$(cut -d' ' -f14,15 "/proc/$1/stat")
  local flt; flt=$(cut -d' ' -f10 "/proc/$1/stat")
  local cs; cs=$(awk '/^voluntary_ctxt_switches/ {v=$2} /^nonvoluntary_ctxt_switches/ {n=$2} END {print v, n}' "/proc/$1/status")
  local io; io=$(awk '/^syscr/ {r=$2} /^syscw/ {w=$2} END {print r, w}' "/proc/$1/io")
  local rt; rt=$(curl -s "127.0.0.1:$2/" | awk '
    $1=="/gc/cycles/total:gc-cycles" {g=$2} $1=="/gc/heap/allocs:objects" {a=$2}
    $1=="/sched/latencies:seconds:sum" {s=$2} $1=="/sync/mutex/wait/total:seconds" {m=$2}
    END {print g, a, s, m}')
  echo "$st $cs $io $rt $flt"
}
# vcs PID: voluntary context switches of all of PID's threads.
vcs() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt/ {v+=$2} END {print v+0}'; }
# round NAME PID PORT: one wrk run, prints the per-request deltas, then
# wrk's and the upstream's voluntary context switches per request (read
# just before wrk ends: the peers sleeping while the proxy works).
round() {
  local a b reqs wp wcs u0 u1
  a=$(snap "$2" "$3"); u0=$(vcs "$up")
  taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" -H "Cookie: $cookie" "http://127.0.0.1:$4$path" >"$dir/wrk" &
  wp=$!
  sleep "$(awk -v d="${DURATION%s}" 'BEGIN {print d - 0.2}')"
  wcs=$(vcs "$wp"); u1=$(vcs "$up")
  wait "$wp"
  reqs=$(awk '/requests in/ {print $1}' "$dir/wrk")
  b=$(snap "$2" "$3")
  echo "$a $b $reqs $wcs $u0 $u1" | awk -v t="$tck" -v n="$1" '{
    q=$23; u=($12-$1)/t*1e6/q; s=($13-$2)/t*1e6/q
    printf "%s %d %.1f %.1f %.3f %.3f %.2f %.2f %.3f %.1f %.2f %.3f %.3f %.3f %.3f\n", n, q, u, s, ($14-$3)/q, ($15-$4)/q,
      ($16-$5)/q, ($17-$6)/q, ($18-$7)/q*1000, ($19-$8)/q, ($20-$9)/q*1e6, ($21-$10)/q*1e6, ($22-$11)/q, $24/q, ($26-$25)/q }'
}
round bare "$bare" 18091 18081 >/dev/null; round gate "$gate" 18092 18082 >/dev/null # warm
for i in $(seq "$ROUNDS"); do
  if ((i % 2)); then round bare "$bare" 18091 18081; round gate "$gate" 18092 18082
  else round gate "$gate" 18092 18082; round bare "$bare" 18091 18081; fi
done >"$dir/rounds"
echo "per request, median of the rounds (each column's own median):"
printf '%-5s %8s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s\n' '' requests user_us sys_us vol_cs invol_cs reads writes gc_per1k allocs sched_us mutex_us minflt wrk_cs up_cs
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for n in bare gate; do
  printf '%-5s' "$n"
  for c in $(seq 2 15); do
    m=$(awk -v n="$n" -v c="$c" '$1==n {print $c}' "$dir/rounds" | median)
    if ((c == 2)); then printf ' %8.0f' "$m"; else printf ' %7.3g' "$m"; fi
  done
  echo
done
if [ -n "${STRACE:-}" ] && command -v strace >/dev/null; then
  for n in bare gate; do
    pid=$bare port=18081; [ "$n" = gate ] && pid=$gate port=18082
    strace -c -f -p "$pid" -o "$dir/strace.$n" &
    sp=$!; sleep 0.5
    reqs=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" -H "Cookie: $cookie" "http://127.0.0.1:$port$path" | awk '/requests in/ {print $1}')
    kill -INT "$sp"; wait "$sp" 2>/dev/null || true
    echo "strace -c -f, $n, $reqs requests: calls per request"
    awk -v q="$reqs" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $4 > q/100 {printf "  %-16s %6.2f\n", $NF, $4/q}' "$dir/strace.$n"
  done
fi
if [ -n "${GCTRACE:-}" ]; then
  for n in bare gate; do echo "gctrace, $n (last 3):"; grep '^gc ' "$dir/$n.err" | tail -3; done
fi
