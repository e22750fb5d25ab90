//! Activation maps `out = act(a)`, one generic source per activation with an instance for each
//! storage type: f32, f16 and bf16, all computed in f32 (the 16-bit types widened exactly and
//! rounded back to nearest even once). Each thread owns `K` 16-byte packets under the
//! strided-packets rule (the `StridedPackets<K>` view, `map_packets`; `bytes_per_thread = 16 K`
//! sizes the grid for every instance), all `K` loads in flight before the math.
//!
//! `K` follows the math (measured on the H200, TUNING.md round 9): the light maps (relu, exp)
//! take one packet per thread in 128-thread blocks, torch's shape, which streams 1–1.5% faster
//! than two (16-bit 0.2543–0.2555 ms against 0.2570–0.2580 at 2^28, f32 0.503 against 0.511);
//! the long ones (tanh, sigmoid, GELU) keep two, whose second load hides the math (tanh f32 and
//! sigmoid f32 lose 2–3% with one). `launch_bounds` holds every map to 32 registers: 2048
//! threads per SM.
//!
//! The math is per type (`Elem`): f32 as accurate as torch's and CuPy's (`math::exp` ≤ 1 ulp,
//! `math::tanh` ≤ 1 ulp, `math::sigmoid` ≤ 2.5 ulp, `math::gelu`), the 16-bit types through
//! `math::for_half` (relative error ≤ 2^-17 before the final rounding: within 1 ulp of the
//! format, almost always correctly rounded).
use crate::elem::{Elem, map_packets};
use gpukit_device::{OutSlice, StridedPackets, kernel};

/// out = max(a, 0); NaN stays NaN (as torch.relu and cupy.maximum(x, 0)).
#[kernel(
    same_len(a, out),
    elements = out,
    bytes_per_thread = 16,
    block = 128,
    launch_bounds(128, 16),
    instances(f32, f16, Bf16)
)]
pub fn relu<T: Elem>(a: &[T], mut out: OutSlice<T, StridedPackets<1>>) {
    map_packets::<T, 1>(a, &mut out, |x| if x < 0.0 { 0.0 } else { x });
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
#[kernel(
    same_len(a, out),
    elements = out,
    bytes_per_thread = 16,
    block = 128,
    launch_bounds(128, 16),
    instances(f32, f16, Bf16)
)]
pub fn exp<T: Elem>(a: &[T], mut out: OutSlice<T, StridedPackets<1>>) {
    map_packets::<T, 1>(a, &mut out, T::exp);
}

/// out = tanh(a).
#[kernel(same_len(a, out), elements = out, bytes_per_thread = 32, launch_bounds(256, 8), instances(f32, f16, Bf16))]
pub fn tanh<T: Elem>(a: &[T], mut out: OutSlice<T, StridedPackets<2>>) {
    map_packets::<T, 2>(a, &mut out, T::tanh);
}
