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
  target/harness/bench "$function" "target/lambda/$function/bootstrap" "target/lambda/$function/bootstrap.zip"
done
