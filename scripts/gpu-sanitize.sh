#!/usr/bin/env bash
# On a GPU machine, from the repository root, after ../shared/gpu/pack staged .gpu/: run the GPU
# test binaries under compute-sanitizer (memcheck with leak checking on every suite; racecheck,
# initcheck and synccheck on the kernel suites). Test sizes are capped (GPUKIT_TEST_MAX_ELEMS)
# because the tools slow kernels down by orders of magnitude; tests that trap on purpose (their
# children would be reported) and timing assertions (meaningless under instrumentation) are
# skipped. Prints one summary line per run; full logs go to $OUT/sanitize.log.
set -u
san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
log=${OUT:-/tmp}/sanitize.log
: > "$log"
export GPUKIT_TEST_MAX_ELEMS=${GPUKIT_TEST_MAX_ELEMS:-1100000}
skip=(--skip trapped_kernel --skip panics_report --skip graph_replay_costs --skip copy_and_compute
      --skip pool_allocation_loop --skip hundred_thousand)
fail=0
run() {
  local tool=$1 bin=$2; shift 2
  echo "=== $tool $bin" >> "$log"
  timeout 900 "$san" --tool "$tool" "$@" --error-exitcode 9 ".gpu/bin/test-$bin" --include-ignored \
    --test-threads=1 "${skip[@]}" >> "$log" 2>&1
  local rc=$?
  local summary
  summary=$(grep -E "ERROR SUMMARY|LEAK SUMMARY|RACECHECK SUMMARY|^test result" "$log" | tail -n 3 | tr '\n' ' ')
  echo "$tool $bin rc=$rc $summary"
  [[ $rc == 0 ]] || fail=1
}
# Every staged GPU test binary (one per topic) under memcheck; the kernel suites (all but the
# runtime's: gpu_runtime*, gpu_drop_order) also under racecheck, initcheck and synccheck.
# gpu_device_panics traps on purpose.
all=$(cd .gpu/bin && ls test-gpu_* | sed 's/^test-//' | grep -v '^gpu_device_panics$')
kernels=$(grep -v -e '^gpu_runtime' -e '^gpu_drop_order$' <<< "$all")
for b in $all; do
  run memcheck "$b" --leak-check full
done
for tool in racecheck initcheck synccheck; do
  for b in $kernels; do
    run "$tool" "$b"
  done
done
echo "sanitize: $([[ $fail == 0 ]] && echo PASS || echo FAIL)"
exit $fail
