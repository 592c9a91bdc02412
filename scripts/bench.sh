#!/usr/bin/env bash
# relsync's benchmarks at 10k, 100k and 1M relations, and one table of their figures,
# each beside its baseline from the same run. BENCHMARKS.md explains the table.
#
#   scripts/bench.sh [N ...]        default: 10000 100000 1000000
#   scripts/bench.sh --table RAW    the table again, from the raw output of an earlier run
#
# Each size's databases are built once (set-based SQL) into a temporary directory shared by the
# benchmarks of that size (RELSYNC_BENCH_CACHE) and removed after it; 1M relations need about
# 25 GB of disk there meanwhile. Capture and open report the median of 300 iterations, and run
# 3 times up to 100k (the table shows the median of the runs); backfill and verify run once per
# size (3 times at 10k).
# Environment: RELSYNC_BENCH_TMP, where to put the databases (default: $TMPDIR or /tmp);
# RELSYNC_BENCH_RAW, a file to keep the raw `go test -bench` output in.
set -euo pipefail
cd "$(dirname "$0")/.."

# table RAW: one table per size from raw lines "N BenchmarkName iterations value unit ...".
table() {
  awk '
  function median(list,   v, k, i, j, t) {
    k = split(list, v, " ")
    if (k == 0) return ""
    for (i = 2; i <= k; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
    return (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
  }
  function get(n, name, unit) { return median(val[n, name, unit]) }
  # The time of one operation: the median where the benchmark reports one, else the mean.
  function t(n, name,   m) { m = get(n, name, "med-ns/op"); return m != "" ? m : get(n, name, "ns/op") }
  function ms(x) { return x == "" ? "–" : sprintf("%.3f ms", x / 1e6) }
  function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "–" : sprintf("%.2f", a / b) }
  function row(what, fig, base, r, target) { printf "| %s | %s | %s | %s | %s |\n", what, fig, base, r, target }
  {
    n = $1; name = $2; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
    for (i = 4; i < NF; i += 2) val[n, name, $(i + 1)] = val[n, name, $(i + 1)] " " $i
    if (!(n in seen)) { seen[n] = 1; sizes[++ns] = n }
  }
  END {
    for (s = 1; s <= ns; s++) {
      n = sizes[s]
      printf "\n### N = %d relations\n\n", n
      print "| figure | value | baseline | ratio | target |"
      print "|---|---|---|---|---|"
      for (j = 1; j <= 2; j++) {
        jn = j == 1 ? "judge-update" : "semantic-insert"
        c = "Capture/" jn "/"
        row(jn ": relsync vs Go journal", ms(t(n, c "relsync")), "go " ms(t(n, c "go")), ratio(t(n, c "relsync"), t(n, c "go")), "≤ 2.5")
        row(jn ": relsync vs no journal", ms(t(n, c "relsync")), "none " ms(t(n, c "none")), ratio(t(n, c "relsync"), t(n, c "none")), "")
        row(jn ": relsync+Go (both journal)", ms(t(n, c "relsync+go")), "go " ms(t(n, c "go")), ratio(t(n, c "relsync+go"), t(n, c "go")), "")
        row(jn ": floor, a no-op trigger", ms(t(n, c "floor-noop")), "none " ms(t(n, c "none")), ratio(t(n, c "floor-noop"), t(n, c "none")), "")
        row(jn ": floor, a trigger writing a constant journal row", ms(t(n, c "floor-journal")), "go " ms(t(n, c "go")), ratio(t(n, c "floor-journal"), t(n, c "go")), "")
        row(jn ": relsync vs the constant-journal-row floor", ms(t(n, c "relsync")), "floor " ms(t(n, c "floor-journal")), ratio(t(n, c "relsync"), t(n, c "floor-journal")), "≤ 2.0")
        row(jn ": prepare with triggers", ms(t(n, "Capture/prepare/" jn "/relsync")), "without " ms(t(n, "Capture/prepare/" jn "/none")), ratio(t(n, "Capture/prepare/" jn "/relsync"), t(n, "Capture/prepare/" jn "/none")), "")
        row(jn ": prepare share of relsync judgment", ms(t(n, "Capture/prepare/" jn "/relsync")), "judgment " ms(t(n, c "relsync")), ratio(t(n, "Capture/prepare/" jn "/relsync"), t(n, c "relsync")), "")
        row(jn ": step+commit, prepared once", ms(t(n, "Capture/step/" jn "/relsync")), "without " ms(t(n, "Capture/step/" jn "/none")), ratio(t(n, "Capture/step/" jn "/relsync"), t(n, "Capture/step/" jn "/none")), "")
      }
      split("journal-insert remote-upsert soft-delete", others, " ")
      for (j = 1; j <= 3; j++) {
        p = "Capture/prepare/" others[j] "/"
        row("prepare " others[j] " with triggers", ms(t(n, p "relsync")), "without " ms(t(n, p "none")), ratio(t(n, p "relsync"), t(n, p "none")), "")
      }
      row("engram AddObservation", ms(t(n, "Capture/observation-save/relsync")), "without " ms(t(n, "Capture/observation-save/none")), ratio(t(n, "Capture/observation-save/relsync"), t(n, "Capture/observation-save/none")), "")
      row("engram AddObservation: floor, a writing trigger on sync_mutations", ms(t(n, "Capture/observation-save/floor-journal-trigger")), "without " ms(t(n, "Capture/observation-save/none")), ratio(t(n, "Capture/observation-save/floor-journal-trigger"), t(n, "Capture/observation-save/none")), "")
      row("engram cloud pull of one relation", ms(t(n, "Capture/cloud-pull/relsync")), "without " ms(t(n, "Capture/cloud-pull/none")), ratio(t(n, "Capture/cloud-pull/relsync"), t(n, "Capture/cloud-pull/none")), "≤ 3")
      b = "Backfill/"
      rs = get(n, b "relsync", "rows/s"); gs = get(n, b "go", "rows/s"); ls = get(n, b "limit", "rows/s")
      row("backfill rows/s: relsync (Up: steps and pauses) vs limit", sprintf("%.0f", rs), sprintf("limit %.0f", ls), ratio(rs, ls), "")
      row("backfill rows/s: relsync (Up: steps and pauses) vs Go", sprintf("%.0f", rs), sprintf("go %.0f", gs), ratio(rs, gs), "")
      os = get(n, b "relsync-one-statement", "rows/s")
      row("backfill rows/s: relsync as one statement vs Go", sprintf("%.0f", os), sprintf("go %.0f", gs), ratio(os, gs), "≥ 2.0")
      row("backfill rows/s: relsync as one statement vs limit", sprintf("%.0f", os), sprintf("limit %.0f", ls), ratio(os, ls), "≥ 0.5")
      row("backfill ns/row: relsync, Go, limit", sprintf("%.0f", get(n, b "relsync", "ns/row")), sprintf("go %.0f, limit %.0f", get(n, b "go", "ns/row"), get(n, b "limit", "ns/row")), "", "")
      row("derive only, ns/row: eligibility", sprintf("%.0f", get(n, b "derive-eligibility", "ns/row")), "", "", "")
      row("backfill Go heap MB before/peak/after: relsync", sprintf("%.1f / %.1f / %.1f", get(n, b "relsync", "heap-before-MB"), get(n, b "relsync", "heap-peak-MB"), get(n, b "relsync", "heap-after-MB")), sprintf("go %.1f / %.1f / %.1f", get(n, b "go", "heap-before-MB"), get(n, b "go", "heap-peak-MB"), get(n, b "go", "heap-after-MB")), ratio(get(n, b "relsync", "heap-peak-MB"), get(n, b "go", "heap-peak-MB")), "flat")
      row("backfill peak RSS MB: relsync", sprintf("%.0f", get(n, b "relsync", "rss-peak-MB")), sprintf("go %.0f", get(n, b "go", "rss-peak-MB")), ratio(get(n, b "relsync", "rss-peak-MB"), get(n, b "go", "rss-peak-MB")), "")
      row("re-run on a journaled database (Down, Up)", ms(get(n, b "rerun", "ns/row") * n), "first " ms(get(n, b "relsync", "ns/row") * n), ratio(get(n, b "rerun", "ns/row"), get(n, b "relsync", "ns/row")), "")
      row("Up on a current database (median)", ms(t(n, "Open/up-current")), "engram open " ms(t(n, "Open/engram-open")), ratio(t(n, "Open/up-current"), t(n, "Open/engram-open")), "< 1 ms")
      row("engram open + Up (median)", ms(t(n, "Open/engram-open+up")), "engram open " ms(t(n, "Open/engram-open")), ratio(t(n, "Open/engram-open+up"), t(n, "Open/engram-open")), "")
      row("engram open, relsync installed vs not", ms(t(n, "Open/engram-open")), "without " ms(t(n, "Open/engram-open/without-relsync")), ratio(t(n, "Open/engram-open"), t(n, "Open/engram-open/without-relsync")), "")
      row("engram open: floor, one trigger writing a constant row", ms(t(n, "Open/engram-open/floor-one-trigger")), "without " ms(t(n, "Open/engram-open/without-relsync")), ratio(t(n, "Open/engram-open/floor-one-trigger"), t(n, "Open/engram-open/without-relsync")), "")
      row("engram open: relsync without the views only Verify reads", ms(t(n, "Open/engram-open/without-verify-views")), "without " ms(t(n, "Open/engram-open/without-relsync")), ratio(t(n, "Open/engram-open/without-verify-views"), t(n, "Open/engram-open/without-relsync")), "")
      row("engram v3 open + Up vs v3 open without relsync", ms(t(n, "Open/engram-v3-open+up")), "without " ms(t(n, "Open/engram-v3-open/without-relsync")), ratio(t(n, "Open/engram-v3-open+up"), t(n, "Open/engram-v3-open/without-relsync")), "≤ 1.15")
      row("relsync.Verify", ms(t(n, "Verify/api")), "eligibility pass " ms(t(n, "Verify/eligibility-pass")), ratio(t(n, "Verify/api"), t(n, "Verify/eligibility-pass")), "< 2 s")
      sh = t(n, "Verify/shell-verify.sql"); shn = "sqlite3 < scripts/verify.sql"
      if (sh == "") { sh = t(n, "Verify/shell-coverage"); shn = "sqlite3 SELECT * FROM relsync_coverage" }
      row(shn, ms(sh), "", "", "< 2 s")
    }
  }' "$1"
}

if [ "${1:-}" = --table ]; then
  [ $# -eq 2 ] || { echo "usage: scripts/bench.sh --table RAW" >&2; exit 2; }
  table "$2"
  exit
fi

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)

cache=$(mktemp -d "${RELSYNC_BENCH_TMP:-${TMPDIR:-/tmp}}/relsync-bench.XXXXXX")
raw=${RELSYNC_BENCH_RAW:-$cache/raw.txt}
trap 'rm -rf "$cache"' EXIT
export RELSYNC_BENCH_CACHE=$cache

# One test binary for the whole run, so that every figure measures the same migrations (they are
# embedded at build time) even if the files change meanwhile.
migrations=$(cat migrations/*.sql | sha256sum | cut -c1-12)
go test -c -o "$cache/relsync-bench.test" ./bench
tests() { "$cache/relsync-bench.test" "$@"; }

# The fixture is what the figures claim (and the SQLite version the driver bundles).
check=$(tests -test.count=1 -test.run '^TestBenchFixtureIsWhatTheBenchmarksClaim$' -test.v 2>&1) ||
  { printf '%s\n' "$check" >&2; exit 1; }
sqlite_go=$(printf '%s\n' "$check" | sed -n 's/.*SQLite \([0-9.]*\) (modernc.*/\1/p' | head -1)
sqlite_shell=$(sqlite3 --version 2>/dev/null | cut -d' ' -f1 || echo absent)

started=$(date -u '+%Y-%m-%d %H:%M UTC')
: >"$raw"
run() { # size, test binary arguments...
  local n=$1
  shift
  RELSYNC_BENCH_N=$n tests -test.run '^$' -test.timeout 0 "$@" 2>&1 | tee -a /dev/stderr |
    awk -v n="$n" '/^Benchmark/ { print n, $0; fflush() }' >>"$raw" # kept line by line, should the run stop
}
for n in "${sizes[@]}"; do
  echo "== N=$n" >&2
  # Repetitions where they are cheap: each run of a benchmark copies the size's database.
  slow=1 fast=3
  [ "$n" -gt 10000 ] || slow=3
  [ "$n" -le 100000 ] || fast=1
  run "$n" -test.bench '^Benchmark(Backfill|Verify)$' -test.benchtime 1x -test.count "$slow"
  run "$n" -test.bench '^Benchmark(Capture|Open)$' -test.benchtime 300x -test.count "$fast"
  rm -f "$cache"/*-"$n".db # this size's databases
done
finished=$(date -u '+%Y-%m-%d %H:%M UTC')

cat <<HEAD
relsync benchmarks, $started – $finished
machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go env GOVERSION)
SQLite: $sqlite_go (modernc.org/sqlite $(go list -m -f '{{.Version}}' modernc.org/sqlite)), shell $sqlite_shell
migrations: $migrations (sha256 of migrations/*.sql when the test binary was built)
load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)

HEAD

table "$raw"
echo
echo "raw output: ${RELSYNC_BENCH_RAW:-(removed with the databases; set RELSYNC_BENCH_RAW to keep it)}"
