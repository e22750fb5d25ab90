// `axpb` is compiled for f32, f16 and bf16 only: an f64 launch names the instances.
use gpukit_device_tests::Kernels;
use gpukit_runtime::{DeviceBuffer, Stream};

fn launch(k: &Kernels, s: &Stream, x: &DeviceBuffer<f64>, out: &mut DeviceBuffer<f64>) {
    let _ = k.axpb.launch(s, x, 1.0, 2.0, out);
}

fn main() {}
