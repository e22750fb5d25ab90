//! Elementwise kernels: f32 arithmetic (four elements per thread, 16-byte accesses), AXPY over
//! f32 and f64 (one generic source), and the fast (SFU) f32 maps (eight elements, two packets in
//! flight, so their longer math hides behind the loads). The accurate maps for every storage
//! type are in `maps`.
//!
//! Each thread owns one group of four outputs (`OutSlice::thread_quad`); groups that are not
//! fully in bounds or not 16-byte aligned fall back to element-wise, bounds-checked accesses.
use crate::elem::map_packets;
use gpukit_device::{
    self as gpu, BlockRows, Input, OutSlice, PerThread, QuadMut, Quads, StridedPackets, kernel,
};

/// out[i] = f(a[i], b[i]) over this thread's quad: 16-byte loads through aligned [`Quads`]
/// views when the inputs allow, element-wise otherwise.
#[inline(always)]
fn zip_quad(
    a: &[f32],
    b: &[f32],
    out: &mut OutSlice<f32, PerThread<4>>,
    f: impl Fn(f32, f32) -> f32,
) {
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
fn map_quad(a: &[f32], out: &mut OutSlice<f32, PerThread<4>>, f: impl Fn(f32) -> f32) {
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
pub fn add_f32(a: &[f32], b: &[f32], mut out: OutSlice<f32, PerThread<4>>) {
    zip_quad(a, b, &mut out, |x, y| x + y);
}

/// out = a - b
#[kernel(same_len(a, b, out), elements = out, items_per_thread = 4)]
pub fn sub_f32(a: &[f32], b: &[f32], mut out: OutSlice<f32, PerThread<4>>) {
    zip_quad(a, b, &mut out, |x, y| x - y);
}

/// out = a * b
#[kernel(same_len(a, b, out), elements = out, items_per_thread = 4)]
pub fn mul_f32(a: &[f32], b: &[f32], mut out: OutSlice<f32, PerThread<4>>) {
    zip_quad(a, b, &mut out, |x, y| x * y);
}

/// out = a / b (IEEE division, correctly rounded)
#[kernel(same_len(a, b, out), elements = out, items_per_thread = 4)]
pub fn div_f32(a: &[f32], b: &[f32], mut out: OutSlice<f32, PerThread<4>>) {
    zip_quad(a, b, &mut out, |x, y| x / y);
}

/// out = alpha * a
#[kernel(same_len(a, out), elements = out, items_per_thread = 4)]
pub fn scale_f32(alpha: f32, a: &[f32], mut out: OutSlice<f32, PerThread<4>>) {
    map_quad(a, &mut out, |x| alpha * x);
}

/// out[i] = value. Block `b` fills row `b` of `row` elements (`BlockRows<row>`), and its
/// thread `t` the 16-byte chunks `t, t + B, ..` of it: each thread issues `row / (4 B)`
/// coalesced 16-byte stores (one store per thread left the kernel block-dispatch-bound at 90%
/// of torch's speed; two reach it). The host picks `row`.
#[kernel]
pub fn fill_f32(value: f32, row: u32, mut out: OutSlice<f32, BlockRows<row>>) {
    if let Some(mut r) = out.block_row() {
        for mut c in r.chunks() {
            c.store([value; 4]);
        }
    }
}

/// out = alpha * x + y (one rounding per element): f32 and f64, four elements per thread
/// (one 16-byte access per f32 operand, two per f64 one).
#[kernel(same_len(x, y, out), instances(f32, f64))]
pub fn axpy<T: Fma>(alpha: T, x: &[T], y: &[T], mut out: OutSlice<T, PerThread<4>>) {
    if let Some(mut o) = out.thread_items() {
        let i = o.start();
        let (xv, yv): ([T; 4], [T; 4]) = (Input::new(x).items(i), Input::new(y).items(i));
        o.store(gpu::unroll::array(|k| T::fma(alpha, xv[k], yv[k])));
    }
}

/// Element types with a fused multiply-add (one rounding).
pub trait Fma: gpu::Element + Default {
    /// `a * b + c`, rounded once.
    fn fma(a: Self, b: Self, c: Self) -> Self;
}

impl Fma for f32 {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        gpu::math::fma(a, b, c)
    }
}

impl Fma for f64 {
    #[inline(always)]
    fn fma(a: f64, b: f64, c: f64) -> f64 {
        gpu::math::fma_f64(a, b, c)
    }
}

/// out = e^a with the SFU approximation (`math::exp_fast`, CUDA's `__expf`: rel error up to
/// 2^-16 at |a| ≈ 88). The explicit fast variant of the generic `exp`.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8, launch_bounds(256, 8))]
pub fn exp_fast_f32(a: &[f32], mut out: OutSlice<f32, StridedPackets<2>>) {
    map_packets::<f32, 2>(a, &mut out, gpu::math::exp_fast);
}

/// out = tanh(a) with `tanh.approx.f32` (rel error up to 2^-10.5). Fast variant of the generic `tanh`.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8, launch_bounds(256, 8))]
pub fn tanh_fast_f32(a: &[f32], mut out: OutSlice<f32, StridedPackets<2>>) {
    map_packets::<f32, 2>(a, &mut out, gpu::math::tanh_fast);
}

/// out = 1 / (1 + e^-a) from SFU approximations (rel error up to 2^-15). Fast variant of
/// the generic `sigmoid`.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8, launch_bounds(256, 8))]
pub fn sigmoid_fast_f32(a: &[f32], mut out: OutSlice<f32, StridedPackets<2>>) {
    map_packets::<f32, 2>(a, &mut out, gpu::math::sigmoid_fast);
}

/// out = gelu(a), tanh form `0.5 a (1 + tanh.approx(u))` (mixed error up to 2^-8). Fast
/// variant of the generic `gelu`.
#[kernel(same_len(a, out), elements = out, items_per_thread = 8, launch_bounds(256, 8))]
pub fn gelu_fast_f32(a: &[f32], mut out: OutSlice<f32, StridedPackets<2>>) {
    map_packets::<f32, 2>(a, &mut out, gpu::math::gelu_fast);
}
