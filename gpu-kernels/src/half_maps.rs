//! Activation maps over f16 and bf16 storage with f32 math: each element is widened exactly,
//! mapped in f32, and rounded back to nearest even. Each thread owns one 16-byte packet (eight
//! elements): one `ld.global.nc.v4` and one `st.global.v4`, so the maps run at copy speed. The
//! math is `math::for_half` (relative error ≤ 2^-17 before the final rounding, so results are
//! within 1 ulp of the 16-bit format and almost always correctly rounded).
use gpukit_device::{self as gpu, Bf16, HalfFloat, OutSlice, PacketMut, Packets, kernel};

/// out[i] = f(a[i]) over this thread's packet of eight 16-bit elements.
#[inline(always)]
fn map_half<T: HalfFloat>(a: &[T], out: &mut OutSlice<T>, f: impl Fn(f32) -> f32) {
    let pa = Packets::new(a);
    if let Some((i, p)) = out.thread_packet() {
        match (p, pa) {
            (PacketMut::Full(o), Some(pa)) => {
                let w = pa.get(i / 8);
                let mut r = [0u32; 4];
                for k in 0..4 {
                    let (lo, hi) = T::unpack2(w[k]);
                    r[k] = T::pack2(f(lo), f(hi));
                }
                o.set(r);
            }
            (PacketMut::Full(o), None) => {
                let mut r = [0u32; 4];
                for (k, rk) in r.iter_mut().enumerate() {
                    *rk = T::pack2(f(a[i + 2 * k].to_f32()), f(a[i + 2 * k + 1].to_f32()));
                }
                o.set(r);
            }
            (PacketMut::Partial(o), _) => {
                for (k, v) in o.iter_mut().enumerate() {
                    *v = T::from_f32(f(a[i + k].to_f32()));
                }
            }
        }
    }
}

#[inline(always)]
fn relu(x: f32) -> f32 {
    // NaN stays NaN (as torch.relu).
    if x < 0.0 { 0.0 } else { x }
}

/// out = max(a, 0), f16 storage.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn relu_f16(a: &[f16], mut out: OutSlice<f16>) {
    map_half(a, &mut out, relu);
}

/// out = max(a, 0), bf16 storage.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn relu_bf16(a: &[Bf16], mut out: OutSlice<Bf16>) {
    map_half(a, &mut out, relu);
}

/// out = gelu(a), tanh form, f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn gelu_f16(a: &[f16], mut out: OutSlice<f16>) {
    map_half(a, &mut out, gpu::math::for_half::gelu);
}

/// out = gelu(a), tanh form, bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn gelu_bf16(a: &[Bf16], mut out: OutSlice<Bf16>) {
    map_half(a, &mut out, gpu::math::for_half::gelu);
}

/// out = 1 / (1 + e^-a), f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn sigmoid_f16(a: &[f16], mut out: OutSlice<f16>) {
    map_half(a, &mut out, gpu::math::for_half::sigmoid);
}

/// out = 1 / (1 + e^-a), bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn sigmoid_bf16(a: &[Bf16], mut out: OutSlice<Bf16>) {
    map_half(a, &mut out, gpu::math::for_half::sigmoid);
}

/// out = e^a, f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn exp_f16(a: &[f16], mut out: OutSlice<f16>) {
    map_half(a, &mut out, gpu::math::for_half::exp);
}

/// out = e^a, bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn exp_bf16(a: &[Bf16], mut out: OutSlice<Bf16>) {
    map_half(a, &mut out, gpu::math::for_half::exp);
}

/// out = tanh(a), f16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn tanh_f16(a: &[f16], mut out: OutSlice<f16>) {
    map_half(a, &mut out, gpu::math::for_half::tanh);
}

/// out = tanh(a), bf16 storage, f32 math.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn tanh_bf16(a: &[Bf16], mut out: OutSlice<Bf16>) {
    map_half(a, &mut out, gpu::math::for_half::tanh);
}
