#!/usr/bin/env bash
# Rewrites functions/<name>/hot-code.ld, the list of code each function's runs execute, which
# release builds place together at the front of the binary (see infra/hot-code/build.rs: the
# resident memory of a process is mostly the pages of code it touches, 64 KB around each).
#
# Builds every function with the release profile (cargo lambda --release), linked directly by
# LLD so that the linker writes its map (zig's driver cannot); runs the benchmark's workloads at
# 0 ms with each process under valgrind's callgrind; and keeps, per function, the functions of
# the binary that any traced instruction belongs to. Run it after changes that move a lot of
# code (a new SDK client, a dependency upgrade) and commit the scripts; `./infra/bench.sh` shows
# the effect (peak RSS). Takes about an hour on two cores.
#
# HOT_CODE_FUNCTIONS (default: every function) chooses the functions.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$root"
bash infra/setup.sh
command -v valgrind > /dev/null || {
  echo "hot-code: installing valgrind (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq valgrind > /dev/null
}
functions=(${HOT_CODE_FUNCTIONS:-generic-secret-rotation iam-user-key-rotation acm-certificate-expiry iam-access-key-rotator postgres-rotation mysql-rotation kms-key-rotation organization-enumerator})
work="$root/target/hot-code"
rm -rf "$work/maps" "$work/traces"
mkdir -p "$work/maps"
packages=()
for function in "${functions[@]}"; do packages+=(-p "$function"); done
# The organization benchmark runs the two workers beside the enumerator.
[[ " ${functions[*]} " == *" organization-enumerator "* ]] && packages+=(-p acm-certificate-expiry -p iam-access-key-rotator)
HOT_CODE_MAP_DIR="$work/maps" CARGO_TARGET_DIR="$work" \
  cargo lambda build --release --compiler cargo "${packages[@]}" >&2
cargo build --quiet -p e2e --bin bench
for function in "${functions[@]}"; do
  traces="$work/traces/$function"
  # Beside the binary: the organization benchmark runs the workers found next to the enumerator
  # (their untraced builds).
  wrapper="$work/lambda/$function/traced"
  mkdir -p "$traces"
  # Not exec: the harness kills the process it started at the end of each run; valgrind, left
  # running, sees the Runtime API go away, the function exits, and callgrind writes its trace.
  cat > "$wrapper" <<EOF
#!/bin/bash
/usr/bin/valgrind --tool=callgrind --dump-instr=yes --compress-strings=no --compress-pos=no \\
  --log-file=$traces/%p.log --callgrind-out-file=$traces/%p.out \\
  $work/lambda/$function/bootstrap &
wait
EOF
  chmod +x "$wrapper"
  echo "hot-code: tracing $function" >&2
  BENCH_LATENCY_MS=0 target/debug/bench "$function" "$wrapper" "$work/lambda/$function/bootstrap" > "$traces/bench.txt"
  # The last traced processes write their traces once they notice the harness has gone.
  for _ in $(seq 60); do pgrep -f "callgrind.*$traces" > /dev/null || break; sleep 1; done
  python3 infra/hot_code.py "$function" "$work/maps/$function.map" "$traces" "functions/$function/hot-code.ld"
done
