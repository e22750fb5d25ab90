#!/usr/bin/env bash
# Regenerate BENCHMARKS.md: run the whole suite with the CuPy baseline on this machine's GPU,
# write results/ (JSON, markdown, charts) and rewrite BENCHMARKS.md with its charts and JSON in
# benches/results/. Run from anywhere; needs an NVIDIA GPU, python3 with cupy, and either cargo
# (builds the release binary) or a prebuilt binary in $GPUKIT_BIN.
#
#   bash benches/regenerate_benchmarks.sh [extra gpukit flags, e.g. --device 1]
#   GPUKIT_BIN=./gpukit bash benches/regenerate_benchmarks.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin=${GPUKIT_BIN:-}
if [ -z "$bin" ]; then
  if command -v cargo >/dev/null 2>&1; then
    # shellcheck source=/dev/null
    source scripts/env.sh
    cargo build --release -p gpukit-bench --bin gpukit
    bin=target/release/gpukit
  elif [ -x target/release/gpukit ]; then
    bin=target/release/gpukit
  else
    echo "regenerate_benchmarks: no cargo and no target/release/gpukit; set GPUKIT_BIN" >&2
    exit 2
  fi
fi

# Exit status 1 (a kernel failed verification) still writes everything: keep it, report it.
status=0
"$bin" --cupy --out results/ --benchmarks-md BENCHMARKS.md "$@" || status=$?
if [ "$status" -ge 2 ]; then
  echo "regenerate_benchmarks: gpukit failed (exit $status); BENCHMARKS.md not rewritten" >&2
  exit "$status"
fi
echo "regenerate_benchmarks: BENCHMARKS.md and benches/results/ rewritten (gpukit exit $status)"
exit "$status"
