// Length relations use integer parameters and slices' lengths.
use gpukit_device::kernel;

#[kernel(len(x) == scale)]
pub fn float_in_relation(x: &[f32], scale: f32, mut out: gpukit_device::OutSlice<f32>) {}

#[kernel(len(n) == 4)]
pub fn len_of_scalar(x: &[f32], n: u32, mut out: gpukit_device::OutSlice<f32>) {}

#[kernel(x == n)]
pub fn slice_without_len(x: &[f32], n: u32, mut out: gpukit_device::OutSlice<f32>) {}

#[kernel(len(out) == rows * cols)]
pub fn float_row_length(
    rows: u32,
    cols: f32,
    mut out: gpukit_device::OutSlice<f32, gpukit_device::BlockRows<cols>>,
) {
}

fn main() {}
