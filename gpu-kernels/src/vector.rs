//! Elementwise vector kernels.
use gpukit_device::{self as gpu, OutSlice, PerThread, QuadMut, Quads, kernel};

/// out = a + b: four elements per thread, one 16-byte load per input and one 16-byte store
/// when the slices are 16-byte aligned (element by element otherwise, and for the last,
/// partial quad). The benchmark's `vector_add` row and the launch-cost measurements time it.
#[kernel(same_len(a, b, out), elements = out, items_per_thread = 4)]
pub fn vector_add(a: &[f32], b: &[f32], mut out: OutSlice<f32, PerThread<4>>) {
    let (qa, qb) = (Quads::new(a), Quads::new(b));
    if let Some((i, q)) = out.thread_quad() {
        match (q, qa, qb) {
            (QuadMut::Full(o), Some(qa), Some(qb)) => {
                let (x, y) = (qa.get(i / 4), qb.get(i / 4));
                o.0 = [x[0] + y[0], x[1] + y[1], x[2] + y[2], x[3] + y[3]];
            }
            (QuadMut::Full(o), _, _) => {
                for (k, v) in o.0.iter_mut().enumerate() {
                    *v = a[i + k] + b[i + k];
                }
            }
            (QuadMut::Partial(o), _, _) => {
                for (k, v) in o.iter_mut().enumerate() {
                    *v = a[i + k] + b[i + k];
                }
            }
        }
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
