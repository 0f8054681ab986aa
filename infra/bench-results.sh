#!/usr/bin/env bash
# Writes docs/benchmark-results.md from the benchmark's own output (the tables target/harness/bench
# prints, one per function and latency, saved by infra/bench.sh): a header saying when, from which
# commit and on what machine, a summary of the rows a reader looks for first, then every table as
# printed. The docs quote figures only from this page, so none is ever typed by hand.
# Usage: BENCH_COMMIT=<commit> infra/bench-results.sh <saved benchmark output>
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$root"
output=$1

# The summary: these rows of every table, one column per latency.
keep='^(cold start: process start to ready|cold full rotation|warm full rotation|calls per rotation|chain per rotation|warm scan of [0-9]+ certificates, SCAN_CONCURRENCY=8|warm scan of [0-9]+ keys, KMS_QUOTA_SHARE_PERCENT=10|warm daily sweep of [0-9]+ users, SWEEP_CONCURRENCY=8|organization run at worker concurrency [0-9]+:|calls per account|peak RSS, after|deployment zip)'
summary() {
  awk -v keep="$keep" '
    /^### / {
      name = $2; latency = $4
      if (!(latency in known)) { known[latency] = 1; latencies[++columns] = latency }
      next
    }
    /^\| / && !/^\| measure \|/ {
      split($0, cell, / \| /)
      measure = substr(cell[1], 3)
      if (measure !~ keep) next
      row = name SUBSEP measure
      if (!(row in seen)) { seen[row] = 1; rows[++count] = row }
      value[row, latency] = cell[2]
    }
    END {
      printf "| function | measure |"
      for (c = 1; c <= columns; c++) printf " %s ms a call |", latencies[c]
      printf "\n|---|---|"
      for (c = 1; c <= columns; c++) printf "---|"
      printf "\n"
      for (r = 1; r <= count; r++) {
        split(rows[r], part, SUBSEP)
        printf "| %s | %s |", part[1], part[2]
        for (c = 1; c <= columns; c++) printf " %s |", value[rows[r], latencies[c]]
        printf "\n"
      }
    }' "$output"
}

# BENCH_COMMIT: the source that was measured, as infra/bench.sh recorded it when it built.
commit=${BENCH_COMMIT:-$(git rev-parse --short HEAD)}
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
  echo "<!-- Written by ./infra/bench.sh: run it again to replace this page; never edit it by hand. -->"
  echo "# Benchmark results"
  echo
  echo "Measured by \`./infra/bench.sh\` on $(date -u +%Y-%m-%d) from commit $commit, on $(nproc) cores"
  echo "(${cpu:-CPU unknown}) under Linux $(uname -r); moto, PostgreSQL and MariaDB ran on the same"
  echo "cores. Medians; what each row measures, and how: [benchmark.md](benchmark.md)."
  echo
  echo "## Summary"
  echo
  summary
  echo
  echo "## Every measurement"
  grep -E '^(### |\||$)' "$output" | cat -s
} > docs/benchmark-results.md
echo "bench: wrote docs/benchmark-results.md" >&2
