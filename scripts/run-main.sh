#!/usr/bin/env bash
# The main job: build everything, run the kernels on GPU 0, verify and time them.
# Arguments go to the program (try --help).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$gpukit_root"
cargo build --release -p gpukit-bench --bin gpukit
exec target/release/gpukit "$@"
