// saxpy takes (stream, alpha, x, y): one argument missing.
use gpukit::kernels::Kernels;
use gpukit::runtime::{DeviceBuffer, Stream};

fn launch(k: &Kernels, s: &Stream, x: &DeviceBuffer<f32>, y: &mut DeviceBuffer<f32>) {
    let _ = k.saxpy.launch(s, x, y);
}

fn main() {}
