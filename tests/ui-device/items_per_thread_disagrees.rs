// The view gives each thread one element; the contract says four.
use gpukit_device::kernel;

#[kernel(same_len(x, out), items_per_thread = 4)]
pub fn copy(x: &[f32], mut out: gpukit_device::OutSlice<f32>) {
    if let Some((i, o)) = out.thread_elem() {
        *o = x[i];
    }
}

fn main() {}
