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
  target/harness/bench "$function" "target/lambda/$function/bootstrap" "target/lambda/$function/bootstrap.zip"
done
