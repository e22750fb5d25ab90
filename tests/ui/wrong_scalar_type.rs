// saxpy's alpha is an f32; an f64 does not coerce.
use gpukit::kernels::Kernels;
use gpukit::runtime::{DeviceBuffer, Stream};

fn launch(k: &Kernels, s: &Stream, x: &DeviceBuffer<f32>, y: &mut DeviceBuffer<f32>) {
    let _ = k.saxpy.launch(s, 2.0f64, x, y);
}

fn main() {}
