// An output owned row by row has no per-thread accessor: the two disciplines cannot be mixed.
use gpukit_device::{BlockRows, OutSlice, kernel};

#[kernel(len(out) == rows * cols)]
pub fn rows_then_elements(x: &[f32], rows: u32, cols: u32, mut out: OutSlice<f32, BlockRows<cols>>) {
    if let Some(mut row) = out.block_row() {
        for mut c in row.chunks() {
            c.set(0, x[0]);
        }
    }
    if let Some((i, o)) = out.thread_elem() {
        *o = x[i];
    }
}

fn main() {}
