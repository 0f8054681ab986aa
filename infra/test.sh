#!/usr/bin/env bash
# The whole test suite: lint, unit tests, end-to-end tests (the real function binaries through the
# Lambda Runtime API against moto server), and the deployment checks (cfn-lint, sam validate
# --lint, sam build). Installs what it needs first (infra/setup.sh). Exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$root"

bash infra/setup.sh

echo "== format and lint"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== unit and end-to-end tests"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
# The fault matrices run on their own, uncaptured, so that each prints how many of its cases
# converged (see tests/tests/fault_matrix.rs). --no-fail-fast: one failing test binary does not
# hide the results of the others.
cargo test --workspace --no-fail-fast -- --skip converges_after_every_fault 2>&1 | tee "$results"
echo "== PostgreSQL tests on PostgreSQL $pg_newest_version (GRANT and ADMIN rules changed in 16)"
TEST_POSTGRES_BIN_DIR="$pg_newest/bin" cargo test -p e2e --test postgres_rotation 2>&1 | tee -a "$results"
echo "== fault matrices"
cargo test -p e2e --test fault_matrix -- --nocapture converges_after_every_fault 2>&1 | tee -a "$results"

echo "== template checks"
cfn-lint template.yaml infra/member-role.yaml
sam validate --lint -t template.yaml
# CI machines have only the x86_64 Rust target; the template's default architecture is arm64.
# This checks that SAM builds every function from the template, not how fast the result runs:
# unoptimised, without LTO, the build takes a few minutes instead of ten on a 2-core machine.
# Deployments and ./infra/bench.sh build with the workspace's release profile.
CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  sam build --parameter-overrides Architecture=x86_64
echo "== all checks passed"
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$results"
