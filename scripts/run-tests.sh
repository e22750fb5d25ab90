#!/usr/bin/env bash
# The tests: every CPU test runs; GPU tests show as ignored without a GPU
# (on a GPU machine: scripts/run-tests.sh -- --include-ignored).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$gpukit_root"
cargo test --workspace "$@"
