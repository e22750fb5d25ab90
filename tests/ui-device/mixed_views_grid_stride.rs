// Four elements per thread, then a grid-stride walk over the same output: does not compile.
use gpukit_device::{OutSlice, PerThread, kernel};

#[kernel(same_len(x, out))]
pub fn quads_then_stride(x: &[f32], mut out: OutSlice<f32, PerThread<4>>) {
    if let Some(mut q) = out.thread_items() {
        q.store([x[0]; 4]);
    }
    for (i, o) in out.grid_stride() {
        *o = x[i];
    }
}

fn main() {}
