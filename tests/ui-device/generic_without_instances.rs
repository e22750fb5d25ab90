// A generic kernel lists what to compile, with kernel element types.
use gpukit_device::kernel;

#[kernel]
pub fn scale<T: gpukit_device::Float>(x: &[T], s: f32, mut out: gpukit_device::OutSlice<T>) {}

#[kernel(instances(f32, String))]
pub fn scale2<T: gpukit_device::Float>(x: &[T], s: f32, mut out: gpukit_device::OutSlice<T>) {}

fn main() {}
