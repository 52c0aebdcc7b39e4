#!/usr/bin/env bash
# Cache misses per request under interleaved load, counted rather than
# inferred: valgrind's cachegrind simulates the caches (I1, D1 and the last
# level, sized as this machine's) while wrk drives one proxy with 64
# connections, so 64 requests interleave as they do in production. Each
# proxy is measured twice, for a short and a long load; per request =
# (count(long) - count(short)) / (requests(long) - requests(short)), which
# leaves out the start-up. The same for the in-memory benchmark, where one
# request follows another with everything warm, shows what interleaving adds.
#
#   bash proxy/loadtest/cachemiss.sh        # 2 KB; about 4 minutes
#   SIZE=20480 bash proxy/loadtest/cachemiss.sh
#   GATE_FLAGS='-log-level warn' bash proxy/loadtest/cachemiss.sh  # no access lines
#   KEEP=1 bash proxy/loadtest/cachemiss.sh  # keep the cachegrind files, then e.g.
#     cg_annotate --show=I1mr,D1mr,D1mw --sort=I1mr DIR/cg.gate.20  # misses by function
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
SIZE=${SIZE:-2048} SHORT=${SHORT:-8} LONG=${LONG:-20}
dir=$(mktemp -d)
trap 'pkill -f "$dir/loadtest" 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "cachegrind files in $dir" || rm -rf "$dir"' EXIT
CGO_ENABLED=0 go build -o "$dir/loadtest" ./proxy/loadtest
# run WHO SECONDS prints "requests Ir D1mr+D1mw LLdmr+LLdmw I1mr" for one load.
run() {
  local port=18082
  [ "$1" = bare ] && port=18081
  GODEBUG=asyncpreemptoff=1 taskset -c 0 valgrind --tool=cachegrind --cache-sim=yes \
    --cachegrind-out-file="$dir/cg.$1.$2" "$dir/loadtest" -size "$SIZE" ${GATE_FLAGS:-} >"$dir/out.$1.$2" 2>"$dir/vg.$1.$2" &
  local pid=$!
  for _ in $(seq 300); do grep -q '^COOKIE=' "$dir/out.$1.$2" 2>/dev/null && break; sleep 0.2; done
  local path cookie
  path=$(sed -n 's/^PATH=//p' "$dir/out.$1.$2"); cookie=$(sed -n 's/^COOKIE=//p' "$dir/out.$1.$2")
  local n
  n=$(taskset -c 1 wrk -t1 -c64 -d"$2s" -H "Cookie: $cookie" "http://127.0.0.1:$port$path" |
    awk '/requests in/ {print $1}')
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  awk -v n="$n" '/^summary:/ {print n, $2, $6+$9, $7+$10, $3}' "$dir/cg.$1.$2"
}
printf '%s bytes, 64 connections, per request (cachegrind, simulated caches):\n' "$SIZE"
printf '%-5s %10s %10s %10s %10s\n' '' instructions 'D1 misses' 'LL misses' 'I1 misses'
for who in bare gate; do
  read -r n1 i1 d1 l1 c1 < <(run "$who" "$SHORT")
  read -r n2 i2 d2 l2 c2 < <(run "$who" "$LONG")
  dn=$((n2 - n1))
  printf '%-5s %10d %10.1f %10.1f %10.1f   (%d and %d requests)\n' "$who" $(((i2 - i1) / dn)) \
    "$(echo "($d2 - $d1) / $dn" | bc -l)" "$(echo "($l2 - $l1) / $dn" | bc -l)" "$(echo "($c2 - $c1) / $dn" | bc -l)" "$n1" "$n2"
done
