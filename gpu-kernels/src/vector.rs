//! Elementwise vector kernels.
use gpukit_device::{self as gpu, OutSlice, PerThread, QuadMut, kernel};

/// out = a + b, one element per thread.
#[kernel(same_len(a, b, out), elements = out)]
pub fn vector_add(a: &[f32], b: &[f32], mut out: OutSlice<f32>) {
    if let Some((i, o)) = out.thread_elem() {
        *o = a[i] + b[i];
    }
}

/// y = alpha * x + y (fused multiply-add), four elements per thread with 16-byte accesses.
#[kernel(same_len(x, y), elements = y, items_per_thread = 4)]
pub fn saxpy(alpha: f32, x: &[f32], mut y: OutSlice<f32, PerThread<4>>) {
    let qx = gpu::Quads::new(x);
    if let Some((i, quad)) = y.thread_quad() {
        match (quad, qx) {
            (QuadMut::Full(yq), Some(qx)) => {
                let xv = qx.get(i / 4);
                let mut v = yq.0;
                for k in 0..4 {
                    v[k] = gpu::math::fma(alpha, xv[k], v[k]);
                }
                yq.0 = v;
            }
            (QuadMut::Full(yq), None) => {
                for (k, yk) in yq.0.iter_mut().enumerate() {
                    *yk = gpu::math::fma(alpha, x[i + k], *yk);
                }
            }
            (QuadMut::Partial(ys), _) => {
                for (k, yk) in ys.iter_mut().enumerate() {
                    *yk = gpu::math::fma(alpha, x[i + k], *yk);
                }
            }
        }
    }
}
