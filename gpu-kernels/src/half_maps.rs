//! Activation maps over f16 and bf16 storage with f32 math: each element is widened exactly,
//! mapped in f32, and rounded back to nearest even. Each thread owns two 16-byte packets (eight
//! elements each, `OutSlice::thread_packets`): both `ld.global.nc.v4` are in flight before the
//! math, so the maps run at copy speed. The
//! math is `math::for_half` (relative error ≤ 2^-17 before the final rounding, so results are
//! within 1 ulp of the 16-bit format and almost always correctly rounded).
use crate::elem::map_packets as map_half;
use gpukit_device::{self as gpu, Bf16, OutSlice, kernel};

#[inline(always)]
fn relu(x: f32) -> f32 {
    // NaN stays NaN (as torch.relu).
    if x < 0.0 { 0.0 } else { x }
}

/// out = max(a, 0), f16 storage.
#[kernel(same_len(a, out), elements = out, items_per_thread = 16)]
pub fn relu_f16(a: &[f16], mut out: OutSlice<f16>) {
    map_half(a, &mut out, relu);
}

/// out = max(a, 0), bf16 storage.
#[kernel(same_len(a, out), elements = out, items_per_thread = 16)]
pub fn relu_bf16(a: &[Bf16], mut out: OutSlice<Bf16>) {
    map_half(a, &mut out, relu);
}

/// out = gelu(a), tanh form, f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 16)]
pub fn gelu_f16(a: &[f16], mut out: OutSlice<f16>) {
    map_half(a, &mut out, gpu::math::for_half::gelu);
}

/// out = gelu(a), tanh form, bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 16)]
pub fn gelu_bf16(a: &[Bf16], mut out: OutSlice<Bf16>) {
    map_half(a, &mut out, gpu::math::for_half::gelu);
}

/// out = 1 / (1 + e^-a), f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 16)]
pub fn sigmoid_f16(a: &[f16], mut out: OutSlice<f16>) {
    map_half(a, &mut out, gpu::math::for_half::sigmoid);
}

/// out = 1 / (1 + e^-a), bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 16)]
pub fn sigmoid_bf16(a: &[Bf16], mut out: OutSlice<Bf16>) {
    map_half(a, &mut out, gpu::math::for_half::sigmoid);
}

/// out = e^a, f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 16)]
pub fn exp_f16(a: &[f16], mut out: OutSlice<f16>) {
    map_half(a, &mut out, gpu::math::for_half::exp);
}

/// out = e^a, bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 16)]
pub fn exp_bf16(a: &[Bf16], mut out: OutSlice<Bf16>) {
    map_half(a, &mut out, gpu::math::for_half::exp);
}

/// out = tanh(a), f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 16)]
pub fn tanh_f16(a: &[f16], mut out: OutSlice<f16>) {
    map_half(a, &mut out, gpu::math::for_half::tanh);
}

/// out = tanh(a), bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 16)]
pub fn tanh_bf16(a: &[Bf16], mut out: OutSlice<Bf16>) {
    map_half(a, &mut out, gpu::math::for_half::tanh);
}
