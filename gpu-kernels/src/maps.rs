//! Activation maps `out = act(a)`, one generic source per activation with an instance for each
//! storage type: f32, f16 and bf16, all computed in f32 (the 16-bit types widened exactly and
//! rounded back to nearest even once). Each thread owns two 16-byte packets under the
//! strided-packets rule (the `StridedPackets<2>` view, `map_packets`; `bytes_per_thread = 32` sizes the grid for every
//! instance: 8 f32 or 16 f16/bf16 per thread), both loads in flight before the math, so even the
//! transcendental maps run at copy speed.
//!
//! The math is per type (`Elem`): f32 as accurate as torch's and CuPy's (`math::exp` ≤ 1 ulp,
//! `math::tanh` ≤ 1 ulp, `math::sigmoid` ≤ 2.5 ulp, `math::gelu`), the 16-bit types through
//! `math::for_half` (relative error ≤ 2^-17 before the final rounding: within 1 ulp of the
//! format, almost always correctly rounded).
use crate::elem::{Elem, map_packets};
use gpukit_device::{OutSlice, StridedPackets, kernel};

/// out = max(a, 0); NaN stays NaN (as torch.relu and cupy.maximum(x, 0)).
#[kernel(same_len(a, out), elements = out, bytes_per_thread = 32, launch_bounds(256, 8), instances(f32, f16, Bf16))]
pub fn relu<T: Elem>(a: &[T], mut out: OutSlice<T, StridedPackets<2>>) {
    map_packets::<T, 2>(a, &mut out, |x| if x < 0.0 { 0.0 } else { x });
}

/// out = gelu(a), tanh form, without the tanh form's cancellation for f32 (`math::gelu`).
#[kernel(same_len(a, out), elements = out, bytes_per_thread = 32, launch_bounds(256, 8), instances(f32, f16, Bf16))]
pub fn gelu<T: Elem>(a: &[T], mut out: OutSlice<T, StridedPackets<2>>) {
    map_packets::<T, 2>(a, &mut out, T::gelu);
}

/// out = 1 / (1 + e^-a).
#[kernel(same_len(a, out), elements = out, bytes_per_thread = 32, launch_bounds(256, 8), instances(f32, f16, Bf16))]
pub fn sigmoid<T: Elem>(a: &[T], mut out: OutSlice<T, StridedPackets<2>>) {
    map_packets::<T, 2>(a, &mut out, T::sigmoid);
}

/// out = e^a.
#[kernel(same_len(a, out), elements = out, bytes_per_thread = 32, launch_bounds(256, 8), instances(f32, f16, Bf16))]
pub fn exp<T: Elem>(a: &[T], mut out: OutSlice<T, StridedPackets<2>>) {
    map_packets::<T, 2>(a, &mut out, T::exp);
}

/// out = tanh(a).
#[kernel(same_len(a, out), elements = out, bytes_per_thread = 32, launch_bounds(256, 8), instances(f32, f16, Bf16))]
pub fn tanh<T: Elem>(a: &[T], mut out: OutSlice<T, StridedPackets<2>>) {
    map_packets::<T, 2>(a, &mut out, T::tanh);
}
