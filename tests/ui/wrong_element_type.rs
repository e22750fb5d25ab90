// vector_add works on f32 slices; an f64 buffer is a type error.
use gpukit::kernels::Kernels;
use gpukit::runtime::{DeviceBuffer, Stream};

fn launch(k: &Kernels, s: &Stream, a: &DeviceBuffer<f64>, b: &DeviceBuffer<f32>, out: &mut DeviceBuffer<f32>) {
    let _ = k.vector_add.launch(s, a, b, out);
}

fn main() {}
