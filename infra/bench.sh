#!/usr/bin/env bash
# The benchmark command: builds the release Lambda package exactly as deployed (cargo lambda,
# --release, zip) and prints a table of cold start, time per step and per rotation, peak memory
# and package size, measured through the Lambda Runtime API against moto.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$root"
bash infra/setup.sh
functions=(${BENCH_FUNCTIONS:-generic-secret-rotation iam-user-key-rotation acm-certificate-expiry iam-access-key-rotator postgres-rotation mysql-rotation kms-key-rotation organization-enumerator})
builds=("${functions[@]}")
# The organization benchmark runs the two workers beside the enumerator.
if [[ " ${functions[*]} " == *" organization-enumerator "* ]]; then
  builds+=(acm-certificate-expiry iam-access-key-rotator)
fi
for function in $(printf '%s\n' "${builds[@]}" | sort -u); do
  cargo lambda build --release --bin "$function" --output-format zip >&2
  cargo lambda build --release --bin "$function" >&2
done
# The harness optimised (Cargo.toml's `harness` profile): a debug build's own work on each call
# and invocation added about 6 ms to a cold PostgreSQL rotation of 45 ms.
cargo build --quiet --profile harness -p e2e --bin bench
# A run of every function at the default latencies replaces docs/benchmark-results.md
# (infra/bench-results.sh): the figures the docs quote are this command's output, never typed by
# hand. A partial run only prints.
results=""
if [[ -z "${BENCH_FUNCTIONS:-}${BENCH_LATENCY_MS:-}${BENCH_JITTER_MS:-}" ]]; then
  results=$(mktemp)
  trap 'rm -f "$results"' EXIT
fi
# What is measured: the source the packages were just built from.
commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- functions shared tests Cargo.toml Cargo.lock .cargo || commit="$commit with uncommitted changes"
for function in "${functions[@]}"; do
  # A binary just written is whole in the page cache, and the kernel then maps more of it around
  # each page a process touches: its peak RSS read up to 0.8 MB higher than after the cache was
  # dropped. A cold Lambda instance reads its code from disk, so the cache is dropped first where
  # that is allowed (root).
  if [[ -w /proc/sys/vm/drop_caches ]]; then
    sync && echo 1 > /proc/sys/vm/drop_caches
  else
    echo "bench: cannot drop the page cache (not root): peak RSS may read up to 0.8 MB high" >&2
  fi
  target/harness/bench "$function" "target/lambda/$function/bootstrap" "target/lambda/$function/bootstrap.zip" \
    | tee -a "${results:-/dev/null}"
done
if [[ -n "$results" ]]; then
  BENCH_COMMIT="$commit" bash infra/bench-results.sh "$results"
fi
