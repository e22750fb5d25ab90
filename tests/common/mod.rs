//! Helpers shared by the GPU tests: setup, the runtime tests' lock, test sizes, and the f16/bf16
//! inputs of the tensor-core GEMMs.
#![allow(dead_code)]
use gpukit::gemm::{gemm_bf16, gemm_bf16_strided_batched, gemm_f16, gemm_f16_strided_batched};
use gpukit::kernels::Kernels;
use gpukit::ops::Library;
use gpukit::runtime::half::{bf16, f16};
use gpukit::runtime::{self, DeviceCopy, DeviceSlice, Gpu, Stream};
use gpukit_test_support::reference::random_nonzero;
use std::sync::{Mutex, MutexGuard};

/// GPU 0, the kernel library's launchers loaded on it, and a stream.
pub fn setup() -> (Gpu, Kernels, runtime::Stream) {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Kernels::load(&gpu).expect("kernels load");
    let s = gpu.stream().unwrap();
    (gpu, k, s)
}

/// The runtime tests' lock: the timing tests want the GPU to themselves.
static GPU_LOCK: Mutex<()> = Mutex::new(());

/// Takes the runtime tests' lock (recovering it after a failed test).
pub fn lock() -> MutexGuard<'static, ()> {
    GPU_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// GPU 0, the kernel library loaded on it, and a stream.
pub fn library() -> (Gpu, Library, Stream) {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let lib = Library::load(&gpu).expect("kernels load");
    let s = gpu.stream().unwrap();
    (gpu, lib, s)
}

/// 0, 1, primes, non-multiples of every tile size, and large.
pub const SIZES: [usize; 7] = [0, 1, 7, 1021, 65_537, (1 << 20) + 3, 1 << 25];

/// [`SIZES`] up to `GPUKIT_TEST_MAX_ELEMS` when set (the sanitizer runs cap them).
pub fn sizes() -> Vec<usize> {
    let cap = std::env::var("GPUKIT_TEST_MAX_ELEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    SIZES.iter().copied().filter(|&n| n <= cap).collect()
}

/// f16 / bf16 inputs of the tensor-core GEMM tests, with the host API of each.
pub trait TensorInput: DeviceCopy + Copy + Default + 'static {
    const NAME: &'static str;
    fn round(v: f32) -> Self;
    fn widen(self) -> f32;
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        k: &Kernels,
        s: &Stream,
        m: usize,
        n: usize,
        kd: usize,
        alpha: f32,
        a: &DeviceSlice<Self>,
        b: &DeviceSlice<Self>,
        beta: f32,
        c: &mut DeviceSlice<f32>,
    ) -> runtime::Result<()>;
    #[allow(clippy::too_many_arguments)]
    fn batched(
        k: &Kernels,
        s: &Stream,
        m: usize,
        n: usize,
        kd: usize,
        batch: usize,
        alpha: f32,
        a: &DeviceSlice<Self>,
        sa: usize,
        b: &DeviceSlice<Self>,
        sb: usize,
        beta: f32,
        c: &mut DeviceSlice<f32>,
        sc: usize,
    ) -> runtime::Result<()>;
}

macro_rules! tensor_input {
    ($t:ty, $name:literal, $gemm:ident, $batched:ident) => {
        impl TensorInput for $t {
            const NAME: &'static str = $name;
            fn round(v: f32) -> Self {
                <$t>::from_f32(v)
            }
            fn widen(self) -> f32 {
                self.to_f32()
            }
            fn gemm(
                k: &Kernels,
                s: &Stream,
                m: usize,
                n: usize,
                kd: usize,
                alpha: f32,
                a: &DeviceSlice<Self>,
                b: &DeviceSlice<Self>,
                beta: f32,
                c: &mut DeviceSlice<f32>,
            ) -> runtime::Result<()> {
                $gemm(k, s, m, n, kd, alpha, a, b, beta, c)
            }
            fn batched(
                k: &Kernels,
                s: &Stream,
                m: usize,
                n: usize,
                kd: usize,
                batch: usize,
                alpha: f32,
                a: &DeviceSlice<Self>,
                sa: usize,
                b: &DeviceSlice<Self>,
                sb: usize,
                beta: f32,
                c: &mut DeviceSlice<f32>,
                sc: usize,
            ) -> runtime::Result<()> {
                $batched(k, s, m, n, kd, batch, alpha, a, sa, b, sb, beta, c, sc)
            }
        }
    };
}
tensor_input!(f16, "f16", gemm_f16, gemm_f16_strided_batched);
tensor_input!(bf16, "bf16", gemm_bf16, gemm_bf16_strided_batched);

/// Random nonzero values rounded to `T`, and the same values widened (exactly) to f32 for the
/// reference.
pub fn random_half<T: TensorInput>(n: usize, seed: u64) -> (Vec<T>, Vec<f32>) {
    let h: Vec<T> = random_nonzero(n, seed).into_iter().map(T::round).collect();
    let w = h.iter().map(|v| v.widen()).collect();
    (h, w)
}
