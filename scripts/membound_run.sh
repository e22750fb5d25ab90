#!/bin/bash
# Device-side driver of scripts/membound_bench.py for the `run` tool: everything it needs is in
# this folder (the cubin, the script); results go to $OUT. Extra arguments go to the script.
here=$(cd "$(dirname "$0")" && pwd)
export CUPY_CACHE_DIR=${OUT:-/tmp}/cupy_cache
mkdir -p "$CUPY_CACHE_DIR"
[ -d "$here/cupy_cache" ] && cp -r "$here/cupy_cache/." "$CUPY_CACHE_DIR/" 2>/dev/null
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem --format=csv,noheader
timeout "${MEMBOUND_TIMEOUT:-400}" python3 "$here/membound_bench.py" --cubin "$here/gpu_kernels.sm_90.cubin" \
  --json "${OUT:-/tmp}/results.json" "$@" 2>&1 | tee "${OUT:-/tmp}/log.txt"
