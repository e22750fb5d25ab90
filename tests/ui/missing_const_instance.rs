// `repeat` is compiled for (f32, 2) and (u32, 5): (f32, 3) does not exist.
use gpukit_device_tests::Kernels;
use gpukit_runtime::{DeviceBuffer, Stream};

fn launch(k: &Kernels, s: &Stream, x: &DeviceBuffer<f32>, out: &mut DeviceBuffer<f32>) {
    let _ = k.repeat.launch::<f32, 3>(s, x, out);
}

fn main() {}
