//! Reductions: a grid-stride first pass writes one partial per block, a one-block second pass
//! combines the partials in f64.
use gpukit_device::{self as gpu, OutSlice, block, kernel, load_quad};

/// Partial sums of `x`: `partials[b]` = sum of the elements block `b` visits (grid-stride, four
/// per step with 16-byte loads, four independent accumulators).
#[kernel(grid_stride, elements = x, items_per_thread = 16)]
pub fn sum_partials_f32(x: &[f32], mut partials: OutSlice<f64>) {
    let s = block::reduce_sum_f32(thread_sum(x));
    write_partial(&mut partials, s as f64);
}

#[inline(always)]
fn thread_sum(x: &[f32]) -> f32 {
    let n = x.len();
    let quads = n / 4;
    let (mut a, mut b, mut c, mut d) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    let mut q = gpu::global_id_x();
    let step = gpu::grid_linear_threads();
    while q < quads {
        let v = load_quad(x, q * 4);
        a += v[0];
        b += v[1];
        c += v[2];
        d += v[3];
        q += step;
    }
    // The tail that does not fill a quad.
    let t = quads * 4 + gpu::global_id_x();
    if t < n {
        a += x[t];
    }
    (a + b) + (c + d)
}

/// Thread 0 of each block writes the block's partial to `partials[block]`.
#[inline(always)]
fn write_partial(partials: &mut OutSlice<f64>, v: f64) {
    if gpu::thread_idx().x == 0 {
        let b = gpu::block_idx().x as usize;
        // SAFETY: element `b` belongs to block `b` alone, and only its thread 0 writes it.
        unsafe { *partials.get_unchecked_mut(b) = v };
    }
}
