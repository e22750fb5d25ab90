//! Helpers shared by the GPU tests of this package.
#![allow(dead_code)]
use gpukit_device_tests::Kernels;
use gpukit_runtime::{self as runtime, DeviceBuffer, Gpu, LaunchConfig, Stream};
use rand::{SeedableRng, rngs::StdRng};

/// GPU 0, the test kernels loaded on it, and a stream.
pub fn setup() -> (Gpu, Kernels, Stream) {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Kernels::load(&gpu).expect("module loads");
    let s = gpu.stream().unwrap();
    (gpu, k, s)
}

/// A seeded generator.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Blocks of `block` threads covering `n` threads.
pub fn cfg(n: usize, block: u32) -> LaunchConfig {
    LaunchConfig::linear(n.div_ceil(block as usize).max(1) as u32, block)
}

/// `n` zeroed elements.
pub fn zeros<T: runtime::DeviceCopy>(gpu: &Gpu, n: usize) -> DeviceBuffer<T> {
    gpu.alloc_filled::<T>(n, 0).unwrap()
}

/// Waits for the stream, then downloads `b`.
pub fn get<T: runtime::DeviceCopy + Default + Clone>(s: &Stream, b: &DeviceBuffer<T>) -> Vec<T> {
    runtime::sync(s).unwrap();
    runtime::download(b).unwrap()
}
