#!/usr/bin/env bash
# Instructions per request of the gate and of a bare httputil.ReverseProxy,
# counted by valgrind's callgrind on BenchmarkProxyOverhead (proxy/bench_test.go:
# both over a transport that answers 20 KB from memory, every check on for the
# gate). Instruction counts do not depend on what else the machine runs, so
# this is the figure to compare across commits on a shared, noisy machine.
#
# Per request = (I(15000 requests) - I(5000 requests)) / 10000: the difference
# leaves out the process start, the set-up and the benchmark's first run.
# CGO_ENABLED=0 (no libc), GODEBUG=asyncpreemptoff=1 (no preemption signals:
# valgrind delivers them at other points each run), GOGC=off (no collection, so
# the count is the request path's own work; GC=1 keeps the default GOGC and
# shows what the collector adds).
#
#   bash proxy/loadtest/instructions.sh          # about 2 minutes
#   LOW=2000 HIGH=6000 bash proxy/loadtest/instructions.sh
#   GC=1 bash proxy/loadtest/instructions.sh     # with the garbage collector
#   MAX_RATIO=2.4 bash proxy/loadtest/instructions.sh  # exit 1 above that
#                                                # ratio (CI's budget)
#   ANNOTATE=1 bash proxy/loadtest/instructions.sh  # also keep the callgrind
#                                                # files and print the gate's top
#                                                # inclusive functions
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }
LOW=${LOW:-5000} HIGH=${HIGH:-15000}
dir=$(mktemp -d)
[ -n "${ANNOTATE:-}" ] || trap 'rm -rf "$dir"' EXIT
CGO_ENABLED=0 go test -c -o "$dir/proxy.test" ./proxy/
gogc=off
[ -z "${GC:-}" ] || gogc=100
# count NAME N prints the instructions of N requests through NAME (Bare or Gate).
count() {
  (cd proxy && GODEBUG=asyncpreemptoff=1 GOGC=$gogc valgrind --tool=callgrind \
    --callgrind-out-file="$dir/cg.$1.$2" "$dir/proxy.test" -test.run='^$' \
    -test.bench="ProxyOverhead/$1\$" -test.benchtime="${2}x" -test.cpu=1 \
    >"$dir/out.$1.$2" 2>&1) || { cat "$dir/out.$1.$2" >&2; exit 1; }
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$dir/out.$1.$2"
}
declare -A per
for name in Bare Gate; do
  lo=$(count "$name" "$LOW"); hi=$(count "$name" "$HIGH")
  per[$name]=$(( (hi - lo) / (HIGH - LOW) ))
done
printf 'instructions per request (callgrind, GOGC=%s, %d-%d requests):\n' "$gogc" "$LOW" "$HIGH"
printf '  bare %8d\n  gate %8d\n  gate - bare %8d\n  gate / bare %8.2f\n' "${per[Bare]}" "${per[Gate]}" \
  "$(( per[Gate] - per[Bare] ))" "$(echo "${per[Gate]} / ${per[Bare]}" | bc -l)"
if [ -n "${MAX_RATIO:-}" ] && [ "$(echo "${per[Gate]} > ${per[Bare]} * $MAX_RATIO" | bc -l)" = 1 ]; then
  echo "the gate's instructions per request exceed $MAX_RATIO x the bare proxy's: a saving was undone, or new per-request work needs a look (README, Performance)" >&2
  exit 1
fi
if [ -n "${ANNOTATE:-}" ]; then
  echo "callgrind files in $dir; the gate's top inclusive functions ($HIGH requests):"
  callgrind_annotate --inclusive=yes "$dir/cg.Gate.$HIGH" 2>/dev/null | sed -n '1,60p'
fi
