// Outputs are taken by `&mut`: a shared reference is rejected.
use gpukit::kernels::Kernels;
use gpukit::runtime::{DeviceBuffer, Stream};

fn launch(k: &Kernels, s: &Stream, a: &DeviceBuffer<f32>, b: &DeviceBuffer<f32>, out: &DeviceBuffer<f32>) {
    let _ = k.vector_add.launch(s, a, b, out);
}

fn main() {}
