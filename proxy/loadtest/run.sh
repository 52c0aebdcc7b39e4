#!/usr/bin/env bash
# Process-level throughput of the gate against a bare httputil.ReverseProxy,
# with wrk from Debian's packages. The servers share CPU 0, wrk has CPU 1.
# Rounds are interleaved (bare, gate, bare, gate...) and the table gives
# the medians, their ratio, and the spread of the per-round ratios (each
# gate round over the bare round next to it): on a shared machine one
# round can be 20% off, so read the median, not one round. Loopback only;
# bounded by 2 × ROUNDS × DURATION per size.
#
#   bash proxy/loadtest/run.sh            # 20 KB and 2 KB, 64 connections
#   ROUNDS=15 DURATION=5s bash proxy/loadtest/run.sh
#   SESSION=rs256 bash proxy/loadtest/run.sh   # RS256 sessions from a JWKS
#   SIZES=2048 bash proxy/loadtest/run.sh      # one response size only
#   CONNS=1 SIZES=2048 bash proxy/loadtest/run.sh  # also: the added median latency
#   UPSTREAM_CPU=1 bash proxy/loadtest/run.sh  # each server its own process, the
#                                              # upstream on CPU 1 with wrk: the
#                                              # proxies alone on CPU 0
#   SCENARIO=defaults bash proxy/loadtest/run.sh  # the configuration's defaults,
#                                              # on the dashboard's JSON
#   SCENARIO=herd SIZES=2048 bash proxy/loadtest/run.sh  # 64 connections, one
#                                              # query, merging on, upstream 2 ms
#
# SCENARIO (default lifted: every check on, protections lifted, a card query
# reaching the upstream every time) is printed at the top with its
# configuration; see proxy/loadtest/main.go.
#
# Each size also prints the median latency of both (wrk's p50 per round)
# and the gate's added latency, the median of the per-round differences:
# at CONNS=1 that is what one request pays for the gate.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
ROUNDS=${ROUNDS:-9} DURATION=${DURATION:-3s} CONNS=${CONNS:-64} SESSION=${SESSION:-hs256} SCENARIO=${SCENARIO:-lifted}
bin=$(mktemp -d)/loadtest
go build -o "$bin" ./proxy/loadtest
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
header=''
for size in ${SIZES:-20480 2048}; do
  out=$(mktemp)
  if [ -n "${UPSTREAM_CPU:-}" ]; then
    taskset -c "$UPSTREAM_CPU" "$bin" -size "$size" -scenario "$SCENARIO" -only upstream >/dev/null 2>&1 &
    pids=$!
    taskset -c 0 "$bin" -size "$size" -scenario "$SCENARIO" -session "$SESSION" -only bare >/dev/null 2>&1 &
    pids="$pids $!"
    taskset -c 0 "$bin" -size "$size" -scenario "$SCENARIO" -session "$SESSION" -only gate >"$out" 2>&1 &
    pids="$pids $!"
  else
    taskset -c 0 "$bin" -size "$size" -scenario "$SCENARIO" -session "$SESSION" >"$out" 2>&1 &
    pids=$!
  fi
  trap 'kill $pids 2>/dev/null || true' EXIT
  for _ in $(seq 50); do grep -q '^COOKIE=' "$out" && break; sleep 0.1; done
  path=$(sed -n 's/^PATH=//p' "$out"); cookie=$(sed -n 's/^COOKIE=//p' "$out")
  if [ -z "$header" ]; then
    sed -n 's/^SCENARIO=/scenario /p' "$out"
    echo "$CONNS connections, $ROUNDS interleaved rounds of $DURATION, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-8s %10s %10s %8s  %-28s %s\n' size bare_rps gate_rps ratio 'per-round: min median max' \
      'p50 µs: bare gate, added'
    header=1
  fi
  bare=(); gate=(); ratios=(); bl=(); gl=(); added=(); refused=0; brefused=0
  # rps prints requests per second and the median latency in µs.
  rps() {
    taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency -H "Cookie: $cookie" "http://127.0.0.1:$1$path" |
      awk '/Requests\/sec/ {r=$2}
           $1=="50%" {v=$2; u=1; if (v ~ /ms$/) u=1000; else if (v ~ /[0-9]s$/) u=1000000; sub(/[a-z]+$/, "", v); l=v*u}
           /Non-2xx/ {n=$NF}
           END {print r, l, n+0}'
  }
  rps 18081 >/dev/null; rps 18082 >/dev/null # warm both: connections, caches, heap
  for i in $(seq "$ROUNDS"); do
    # Alternate which goes first, so neither always follows the other.
    if ((i % 2)); then read -r b bp bn < <(rps 18081); read -r g gp gn < <(rps 18082)
    else read -r g gp gn < <(rps 18082); read -r b bp bn < <(rps 18081); fi
    refused=$((refused + gn)); brefused=$((brefused + bn))
    bare+=("$b"); gate+=("$g"); ratios+=("$(echo "$g / $b" | bc -l)")
    bl+=("$bp"); gl+=("$gp"); added+=("$(echo "$gp - $bp" | bc -l)")
  done
  kill $pids; wait $pids 2>/dev/null || true
  mb=$(printf '%s\n' "${bare[@]}" | median); mg=$(printf '%s\n' "${gate[@]}" | median)
  rs=$(printf '%s\n' "${ratios[@]}" | sort -n); as=$(printf '%s\n' "${added[@]}" | sort -n)
  printf '%-8s %10.0f %10.0f %8.3f  %-28s %s\n' "$size" "$mb" "$mg" "$(echo "$mg / $mb" | bc -l)" \
    "$(printf '%.3f %.3f %.3f' "$(head -1 <<<"$rs")" "$(median <<<"$rs")" "$(tail -1 <<<"$rs")")" \
    "$(printf '%.0f %.0f, %+.0f (rounds %+.0f to %+.0f)' "$(printf '%s\n' "${bl[@]}" | median)" \
      "$(printf '%s\n' "${gl[@]}" | median)" "$(median <<<"$as")" "$(head -1 <<<"$as")" "$(tail -1 <<<"$as")")"
  # A refused request is not a served one: say so rather than count it.
  if ((refused + brefused)); then echo "         non-2xx answers in all rounds: gate $refused, bare $brefused"; fi
done
