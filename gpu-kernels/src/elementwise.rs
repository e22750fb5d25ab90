//! Elementwise kernels over f32 (four elements per thread, 16-byte accesses; the transcendental
//! maps eight, two packets in flight, so their longer math hides behind the loads) and f64.
//!
//! Each thread owns one group of four outputs (`OutSlice::thread_quad`); groups that are not
//! fully in bounds or not 16-byte aligned fall back to element-wise, bounds-checked accesses.
use crate::elem::map_packets;
use gpukit_device::{self as gpu, OutSlice, QuadMut, Quads, kernel};

/// out[i] = f(a[i], b[i]) over this thread's quad: 16-byte loads through aligned [`Quads`]
/// views when the inputs allow, element-wise otherwise.
#[inline(always)]
fn zip_quad(a: &[f32], b: &[f32], out: &mut OutSlice<f32>, f: impl Fn(f32, f32) -> f32) {
    let (qa, qb) = (Quads::new(a), Quads::new(b));
    if let Some((i, q)) = out.thread_quad() {
        match (q, qa, qb) {
            (QuadMut::Full(o), Some(qa), Some(qb)) => {
                let (x, y) = (qa.get(i / 4), qb.get(i / 4));
                o.0 = [f(x[0], y[0]), f(x[1], y[1]), f(x[2], y[2]), f(x[3], y[3])];
            }
            (QuadMut::Full(o), _, _) => {
                for (k, v) in o.0.iter_mut().enumerate() {
                    *v = f(a[i + k], b[i + k]);
                }
            }
            (QuadMut::Partial(o), _, _) => {
                for (k, v) in o.iter_mut().enumerate() {
                    *v = f(a[i + k], b[i + k]);
                }
            }
        }
    }
}

/// out[i] = f(a[i]) over this thread's quad, as [`zip_quad`].
#[inline(always)]
fn map_quad(a: &[f32], out: &mut OutSlice<f32>, f: impl Fn(f32) -> f32) {
    let qa = Quads::new(a);
    if let Some((i, q)) = out.thread_quad() {
        match (q, qa) {
            (QuadMut::Full(o), Some(qa)) => {
                let x = qa.get(i / 4);
                o.0 = [f(x[0]), f(x[1]), f(x[2]), f(x[3])];
            }
            (QuadMut::Full(o), None) => {
                for (k, v) in o.0.iter_mut().enumerate() {
                    *v = f(a[i + k]);
                }
            }
            (QuadMut::Partial(o), _) => {
                for (k, v) in o.iter_mut().enumerate() {
                    *v = f(a[i + k]);
                }
            }
        }
    }
}

/// out = a + b
#[kernel(same_len(a, b, out), elements = out, items_per_thread = 4)]
pub fn add_f32(a: &[f32], b: &[f32], mut out: OutSlice<f32>) {
    zip_quad(a, b, &mut out, |x, y| x + y);
}

/// out = a - b
#[kernel(same_len(a, b, out), elements = out, items_per_thread = 4)]
pub fn sub_f32(a: &[f32], b: &[f32], mut out: OutSlice<f32>) {
    zip_quad(a, b, &mut out, |x, y| x - y);
}

/// out = a * b
#[kernel(same_len(a, b, out), elements = out, items_per_thread = 4)]
pub fn mul_f32(a: &[f32], b: &[f32], mut out: OutSlice<f32>) {
    zip_quad(a, b, &mut out, |x, y| x * y);
}

/// out = a / b (IEEE division, correctly rounded)
#[kernel(same_len(a, b, out), elements = out, items_per_thread = 4)]
pub fn div_f32(a: &[f32], b: &[f32], mut out: OutSlice<f32>) {
    zip_quad(a, b, &mut out, |x, y| x / y);
}

/// out = alpha * a
#[kernel(same_len(a, out), elements = out, items_per_thread = 4)]
pub fn scale_f32(alpha: f32, a: &[f32], mut out: OutSlice<f32>) {
    map_quad(a, &mut out, |x| alpha * x);
}

/// out[i] = value
#[kernel(elements = out, items_per_thread = 4)]
pub fn fill_f32(value: f32, mut out: OutSlice<f32>) {
    if let Some((_, q)) = out.thread_quad() {
        match q {
            QuadMut::Full(o) => o.0 = [value; 4],
            QuadMut::Partial(o) => o.iter_mut().for_each(|v| *v = value),
        }
    }
}

/// out = alpha * x + y (one rounding per element)
#[kernel(same_len(x, y, out), elements = out, items_per_thread = 4)]
pub fn axpy_f32(alpha: f32, x: &[f32], y: &[f32], mut out: OutSlice<f32>) {
    zip_quad(x, y, &mut out, |a, b| gpu::math::fma(alpha, a, b));
}

/// out = alpha * x + y in f64 (one rounding per element), grid-stride.
#[kernel(same_len(x, y, out), elements = out, items_per_thread = 4, grid_stride)]
pub fn axpy_f64(alpha: f64, x: &[f64], y: &[f64], mut out: OutSlice<f64>) {
    for (i, o) in out.grid_stride() {
        *o = gpu::math::fma_f64(alpha, x[i], y[i]);
    }
}

/// out = max(a, 0)
#[kernel(same_len(a, out), elements = out, items_per_thread = 4)]
pub fn relu_f32(a: &[f32], mut out: OutSlice<f32>) {
    // NaN stays NaN (as torch.relu and cupy.maximum(x, 0)).
    map_quad(a, &mut out, |x| if x < 0.0 { 0.0 } else { x });
}

/// out = e^a, within 1 ulp (`math::exp`: f32 polynomial, no tables).
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn exp_f32(a: &[f32], mut out: OutSlice<f32>) {
    map_packets(a, &mut out, gpu::math::exp);
}

/// out = tanh(a), within 1 ulp (`math::tanh`).
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn tanh_f32(a: &[f32], mut out: OutSlice<f32>) {
    map_packets(a, &mut out, gpu::math::tanh);
}

/// out = 1 / (1 + e^-a), within 2.5 ulp (`math::sigmoid`).
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn sigmoid_f32(a: &[f32], mut out: OutSlice<f32>) {
    map_packets(a, &mut out, gpu::math::sigmoid);
}

/// out = gelu(a), tanh form, without the tanh form's cancellation (`math::gelu`).
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn gelu_f32(a: &[f32], mut out: OutSlice<f32>) {
    map_packets(a, &mut out, gpu::math::gelu);
}

/// out = e^a with the SFU approximation (`math::exp_fast`, CUDA's `__expf`: rel error up to
/// 2^-16 at |a| ≈ 88). The explicit fast variant of [`exp_f32`].
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn exp_fast_f32(a: &[f32], mut out: OutSlice<f32>) {
    map_packets(a, &mut out, gpu::math::exp_fast);
}

/// out = tanh(a) with `tanh.approx.f32` (rel error up to 2^-10.5). Fast variant of [`tanh_f32`].
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn tanh_fast_f32(a: &[f32], mut out: OutSlice<f32>) {
    map_packets(a, &mut out, gpu::math::tanh_fast);
}

/// out = 1 / (1 + e^-a) from SFU approximations (rel error up to 2^-15). Fast variant of
/// [`sigmoid_f32`].
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn sigmoid_fast_f32(a: &[f32], mut out: OutSlice<f32>) {
    map_packets(a, &mut out, gpu::math::sigmoid_fast);
}

/// out = gelu(a), tanh form `0.5 a (1 + tanh.approx(u))` (mixed error up to 2^-8). Fast
/// variant of [`gelu_f32`].
#[kernel(same_len(a, out), elements = out, items_per_thread = 8)]
pub fn gelu_fast_f32(a: &[f32], mut out: OutSlice<f32>) {
    map_packets(a, &mut out, gpu::math::gelu_fast);
}
