#!/usr/bin/env bash
# ResNet-18 end to end on this machine's GPU: torch writes weights and a reference, `resnet18`
# compares its logits (f16, bf16, f32) and every block's output with torch's (f32 reference
# without TF32), then times itself at batch 1 and 256, and torch is timed in the same run (f32
# both with torch's default TF32 convolutions and without). Needs python3 with torch (+ torchvision,
# optional) and safetensors, and either cargo or a prebuilt binary in $RESNET18_BIN.
#
#   bash benches/resnet18_bench.sh [workdir]        # default workdir: /tmp/resnet18
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=${1:-/tmp/resnet18}
mkdir -p "$dir"
bin=${RESNET18_BIN:-}
if [ -z "$bin" ]; then
  # shellcheck source=/dev/null
  source scripts/env.sh
  cargo build --release -p gpukit-bench --bin resnet18
  bin=target/release/resnet18
fi
w=$dir/weights.safetensors
r=$dir/reference.safetensors
[ -f "$w" ] || python3 benches/resnet18_torch.py weights --out "$w"
[ -f "$r" ] || python3 benches/resnet18_torch.py reference --weights "$w" --out "$r" --images 100
status=0
for dt in f16 bf16 f32; do
  "$bin" --weights "$w" --compare "$r" --batch 100 --layers --show 2 --dtype "$dt" || status=1
done
for dt in f16 bf16 f32; do
  for b in 1 256; do
    "$bin" --weights "$w" --bench --show 0 --batch "$b" --dtype "$dt" --iters $([ "$b" = 1 ] && echo 300 || echo 30)
  done
done
# The 64-channel layers (stem, layer 1) on the tiles without resident weights (stem W64, layer
# 1 C64), per layer, against the default resident tiles above.
for dt in f16 bf16; do
  "$bin" --weights "$w" --bench --show 0 --batch 256 --dtype "$dt" --iters 30 --tile64 c64 --stem-tile w64
done
python3 benches/resnet18_torch.py bench --weights "$w" --dtypes f16,bf16,f32,f32-notf32
exit $status
