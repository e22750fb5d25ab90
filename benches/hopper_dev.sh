#!/usr/bin/env bash
# Development loop for the Hopper GEMM without the host runtime: builds gpu-kernels for sm_90a
# (the same nested cargo invocation as gpukit-builder, plus the tensor-map parameter alignment
# and launch bounds the builder applies), assembles it with ptxas, summarises the SASS, and
# stages cubin + harness in /work/main/.dev/hopper for the GPU machine:
#     benches/hopper_dev.sh            # build and stage
#     (device) bash .dev/hopper/run.sh [harness args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${HOPPER_WORK:-/tmp/hopper-dev}
stage=${HOPPER_STAGE:-/work/main/.dev/hopper}
mkdir -p "$work" "$stage"
bin=$(python3 -c "import nvidia,os;print(os.path.join(nvidia.__path__[0],'cu13','bin'))")
export PATH="$PATH:$bin"
cd "$root/gpu-kernels"
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$work/target" \
  CARGO_ENCODED_RUSTFLAGS="-Ctarget-cpu=sm_90a$(printf '\x1f')-Ctarget-feature=+ptx80" \
  /usr/bin/cargo rustc --release -Zbuild-std=core --target nvptx64-nvidia-cuda --lib \
  --crate-type cdylib -- --emit=asm="$work/raw.ptx" -Zno-link
python3 - "$work/raw.ptx" "$work/k.ptx" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
# Tensor-map parameters (128 bytes, declared .align 16 by rustc) get the 64-byte alignment
# the copy engine needs; Hopper GEMM entries get launch_bounds(384, 1) for setmaxnreg.
s = re.sub(r"\.param \.align 16 \.b8 (\w+_param_\d+)\[128\]", r".param .align 64 .b8 \1[128]", s)
for name in re.findall(r"\.entry (hgemm_\w+)\(", s):
    i = s.index(".entry %s(" % name)
    j = s.index("\n)", i) + 2
    s = s[:j] + "\n.maxntid 384, 1, 1\n.minnctapersm 1" + s[j:]
open(sys.argv[2], "w").write(s)
PY
ptxas -arch=sm_90a -v "$work/k.ptx" -o "$work/k.cubin" 2>&1 | tee "$work/ptxas.txt" \
  | grep -B1 -A3 "entry function 'hgemm" | grep -v "^--\|Function properties" || true
grep -iE "warning|C75[0-9][0-9]" "$work/ptxas.txt" && echo "ptxas reported the lines above" || true
nvdisasm -c "$work/k.cubin" > "$work/sass.txt"
python3 - "$work/sass.txt" <<'PY'
import re, sys, collections
s = open(sys.argv[1]).read()
for m in re.finditer(r"\.text\.(hgemm_\w+):", s):
    j = s.find(".section", m.end())
    body = s[m.end(): j if j > 0 else None]
    ops = collections.Counter(re.findall(r"\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_x]+)?)", body))
    keep = {k: v for k, v in ops.items() if re.match(r"(HGMMA|QGMMA|UTMA|LDL|STL|SYNCS|CALL|MEMBAR|STG|ST\.|STS|STSM)", k)}
    print(m.group(1), len(body.splitlines()), "lines", dict(sorted(keep.items())))
PY
# The device library's Hopper test kernels (crates/device-tests/kernels, sm_90a build).
cd "$root/crates/device-tests/kernels"
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$work/target-tests" \
  CARGO_ENCODED_RUSTFLAGS="-Ctarget-cpu=sm_90a$(printf '\x1f')-Ctarget-feature=+ptx80" \
  /usr/bin/cargo rustc --release -Zbuild-std=core --target nvptx64-nvidia-cuda --lib \
  --crate-type cdylib -- --emit=asm="$work/t_raw.ptx" -Zno-link
python3 - "$work/t_raw.ptx" "$work/t.ptx" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
s = re.sub(r"\.param \.align 16 \.b8 (\w+_param_\d+)\[128\]", r".param .align 64 .b8 \1[128]", s)
open(sys.argv[2], "w").write(s)
PY
ptxas -arch=sm_90a -v "$work/t.ptx" -o "$work/t.cubin" 2>&1 | tee "$work/ptxas_tests.txt" \
  | grep -A3 "entry function '\(mbarrier\|tma_\|cluster_\|elect\|wgmma\)" | grep "Used\|stack" || true
grep -iE "warning|C75[0-9][0-9]" "$work/ptxas_tests.txt" || true
cp "$work/k.cubin" "$work/k.ptx" "$work/t.cubin" "$stage/"
cp "$root/benches/hopper_harness.py" "$stage/"
cat > "$stage/run.sh" <<'RUN'
#!/usr/bin/env bash
# On the GPU machine, from the repository root: bash .dev/hopper/run.sh [harness args]
cd "$(dirname "$0")"
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu --format=csv
cuobjdump --dump-resource-usage k.cubin 2>&1 | grep -A1 hgemm | head -20
cuobjdump --dump-sass k.cubin > "$OUT/sass.txt" 2>&1
for f in HGMMA QGMMA UTMALDG LDL STL; do echo "$f: $(grep -c "$f" "$OUT/sass.txt")"; done
PYTHONUNBUFFERED=1 python3 hopper_harness.py --cubin k.cubin --out "$OUT" "$@"
RUN
echo "staged in $stage: $(ls "$stage")"
