//! Helpers shared by the GPU tests: setup, the runtime tests' lock, test sizes, the GEMM inputs
//! (f32, f16, bf16) and the GEMM checks shared by SGEMM and the tensor-core GEMMs ([`gemm`]).
#![allow(dead_code)]
use gpukit::Library;
use gpukit::ops::GemmInput;
use gpukit::runtime::half::{bf16, f16};
use gpukit::runtime::{Gpu, Stream};
use gpukit_test_support::reference::random_nonzero;
use std::sync::{Mutex, MutexGuard};

pub mod gemm;

/// GPU 0, the kernel library loaded on it, and a stream.
pub fn setup() -> (Gpu, Library, Stream) {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let lib = Library::load(&gpu).expect("kernels load");
    let s = gpu.stream().unwrap();
    (gpu, lib, s)
}

/// The runtime tests' lock: the timing tests want the GPU to themselves.
static GPU_LOCK: Mutex<()> = Mutex::new(());

/// Takes the runtime tests' lock (recovering it after a failed test).
pub fn lock() -> MutexGuard<'static, ()> {
    GPU_LOCK.lock().unwrap_or_else(|e| e.into_inner())
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

/// The inputs of the GEMMs: f32 (SGEMM) and the tensor cores' f16 and bf16.
pub trait Operand: GemmInput + Copy + Default + 'static {
    /// `v` rounded to this type.
    fn round(v: f32) -> Self;
    /// The value as f32 (exact).
    fn widen(self) -> f32;
}

impl Operand for f32 {
    fn round(v: f32) -> Self {
        v
    }
    fn widen(self) -> f32 {
        self
    }
}

impl Operand for f16 {
    fn round(v: f32) -> Self {
        f16::from_f32(v)
    }
    fn widen(self) -> f32 {
        self.to_f32()
    }
}

impl Operand for bf16 {
    fn round(v: f32) -> Self {
        bf16::from_f32(v)
    }
    fn widen(self) -> f32 {
        self.to_f32()
    }
}

/// Random nonzero values rounded to `T`, and the same values widened (exactly) to f32 for the
/// reference.
pub fn random_operand<T: Operand>(n: usize, seed: u64) -> (Vec<T>, Vec<f32>) {
    let h: Vec<T> = random_nonzero(n, seed).into_iter().map(T::round).collect();
    let w = h.iter().map(|v| v.widen()).collect();
    (h, w)
}
