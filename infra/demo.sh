#!/usr/bin/env bash
# The local demo: installs what it needs, starts moto server, creates sample secrets, rotates them
# through the real function over the Lambda Runtime API, then forces a failure and shows the alert.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$root"
bash infra/setup.sh
cargo build --quiet --workspace --bins
exec target/debug/demo
