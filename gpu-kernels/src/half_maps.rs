//! Activation maps over f16 and bf16 storage with f32 math: each element is widened exactly,
//! mapped with the same f32 function as the f32 kernels, and rounded back to nearest even.
use gpukit_device::{self as gpu, Bf16, GridStride, OutSlice, kernel};

#[inline(always)]
fn map_bf16(a: &[Bf16], out: &mut OutSlice<Bf16, GridStride>, f: impl Fn(f32) -> f32) {
    for (i, o) in out.grid_stride() {
        *o = Bf16::from_f32(f(a[i].to_f32()));
    }
}

#[inline(always)]
fn map_f16(a: &[f16], out: &mut OutSlice<f16, GridStride>, f: impl Fn(f32) -> f32) {
    for (i, o) in out.grid_stride() {
        *o = f(a[i] as f32) as f16;
    }
}

#[inline(always)]
fn relu(x: f32) -> f32 {
    if x < 0.0 { 0.0 } else { x }
}

/// out = max(a, 0), f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 4, grid_stride)]
pub fn relu_f16(a: &[f16], mut out: OutSlice<f16, GridStride>) {
    map_f16(a, &mut out, relu);
}

/// out = max(a, 0), bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 4, grid_stride)]
pub fn relu_bf16(a: &[Bf16], mut out: OutSlice<Bf16, GridStride>) {
    map_bf16(a, &mut out, relu);
}

/// out = gelu(a), tanh form, f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 4, grid_stride)]
pub fn gelu_f16(a: &[f16], mut out: OutSlice<f16, GridStride>) {
    map_f16(a, &mut out, gpu::math::gelu_fast);
}

/// out = gelu(a), tanh form, bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 4, grid_stride)]
pub fn gelu_bf16(a: &[Bf16], mut out: OutSlice<Bf16, GridStride>) {
    map_bf16(a, &mut out, gpu::math::gelu_fast);
}

/// out = 1 / (1 + e^-a), f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 4, grid_stride)]
pub fn sigmoid_f16(a: &[f16], mut out: OutSlice<f16, GridStride>) {
    map_f16(a, &mut out, gpu::math::sigmoid_fast);
}

/// out = 1 / (1 + e^-a), bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 4, grid_stride)]
pub fn sigmoid_bf16(a: &[Bf16], mut out: OutSlice<Bf16, GridStride>) {
    map_bf16(a, &mut out, gpu::math::sigmoid_fast);
}

/// out = e^a, f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 4, grid_stride)]
pub fn exp_f16(a: &[f16], mut out: OutSlice<f16, GridStride>) {
    map_f16(a, &mut out, gpu::math::exp_fast);
}

/// out = e^a, bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 4, grid_stride)]
pub fn exp_bf16(a: &[Bf16], mut out: OutSlice<Bf16, GridStride>) {
    map_bf16(a, &mut out, gpu::math::exp_fast);
}

/// out = tanh(a), f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 4, grid_stride)]
pub fn tanh_f16(a: &[f16], mut out: OutSlice<f16, GridStride>) {
    map_f16(a, &mut out, gpu::math::tanh_fast);
}

/// out = tanh(a), bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 4, grid_stride)]
pub fn tanh_bf16(a: &[Bf16], mut out: OutSlice<Bf16, GridStride>) {
    map_bf16(a, &mut out, gpu::math::tanh_fast);
}
