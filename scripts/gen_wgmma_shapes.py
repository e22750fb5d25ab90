#!/usr/bin/env python3
"""Prints the `wgmma_shapes!` invocation at the end of crates/device/src/wgmma.rs: one line per
m64nNk* shape (N = 8, 16, ..., 256) with the accumulator register indices 0..N/2, which
macro_rules! cannot count by itself. Run it after changing the shape list:
    python3 scripts/gen_wgmma_shapes.py
"""
lines = ["wgmma_shapes! {"]
for n in range(8, 257, 8):
    r = n // 2
    idx = " ".join(str(i) for i in range(r))
    lines.append(f"    ({n}, {r}, [{idx}]),")
lines.append("}")
print("\n".join(lines))
