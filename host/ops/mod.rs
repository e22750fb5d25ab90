//! The kernel library's host API, one module per family of kernels. Every operation is a method
//! of [`Library`]: lengths and shapes are validated first (`Err(InvalidArgument)` naming what is
//! wrong, nothing launched), launch configurations come from the kernels' own constants
//! ([`crate::kernels::consts`]), and multi-kernel operations (reductions, the transposed GEMV)
//! are queued in order on the caller's stream.
//!
//! - [`elementwise`]: `out = a (op) b`, scaling, filling, AXPY;
//! - [`maps`]: activations (ReLU, GELU, sigmoid, exp, tanh) for f32, f16, bf16;
//! - [`reductions`]: sum, sum of squares, min, max, argmax, dot, L2 norm; f64 sum and dot;
//! - [`scan`]: single-pass inclusive and exclusive prefix sums;
//! - [`softmax`]: row softmax and log-softmax, any width;
//! - [`rows`]: LayerNorm, RMSNorm, residual add + RMSNorm, cross-entropy over vocabulary rows;
//! - [`matrix`]: transpose and GEMV;
//! - [`gemm`]: SGEMM and the tensor-core f16 / bf16 GEMMs, single or strided-batched;
//! - [`hopper_gemm`]: the Hopper (sm_90a) TMA + wgmma GEMMs: bf16, f16, fp8 and tf32 inputs,
//!   fused bias and activation, split-K;
//! - [`conv`]: convolutional networks over NHWC f16 / bf16 activations: implicit-GEMM
//!   convolution with fused epilogue and split-K, the linear layer, max and average pooling,
//!   the u8 image input conversion.
//!
//! ```no_run
//! use gpukit::Library;
//! use gpukit::ops::{Activation, Gemm, Reduce, Shape, SoftmaxKind, StridedBatch};
//! use gpukit::runtime::half::f16;
//! use gpukit::runtime::{Gpu, Result};
//!
//! fn rows_of_probabilities() -> Result<f64> {
//!     let gpu = Gpu::new(0)?;
//!     let lib = Library::load(&gpu)?;
//!     let s = gpu.stream()?;
//!     let (m, n, k) = (512, 256, 128);
//!     let a = gpu.upload(&vec![0.01f32; m * k])?;
//!     let b = gpu.upload(&vec![0.02f32; k * n])?;
//!     let mut c = gpu.alloc_zeroed::<f32>(m * n)?;
//!     lib.gemm(&s, &Gemm::new(m, n, k), &a, &b, &mut c)?; // C = A B; f32 inputs: SGEMM
//!
//!     // Four f16 products C_i = 0.5 A_i B + C_i sharing one B, on the tensor cores.
//!     let a4 = gpu.upload(&vec![f16::from_f32(0.01); 4 * m * k])?;
//!     let b1 = gpu.upload(&vec![f16::from_f32(0.02); k * n])?;
//!     let mut c4 = gpu.alloc_zeroed::<f32>(4 * m * n)?;
//!     let g = Gemm::new(m, n, k).scaled(0.5, 1.0);
//!     let batch = StridedBatch { stride_b: 0, ..StridedBatch::packed(4, g.shape) };
//!     lib.gemm(&s, &g.batched(batch), &a4, &b1, &mut c4)?;
//!
//!     let mut h = gpu.alloc_zeroed::<f32>(m * n)?;
//!     lib.map(&s, Activation::Gelu, &c, &mut h)?;
//!     lib.softmax_rows(&s, SoftmaxKind::Softmax, &h, Shape::new(m, n), &mut c)?;
//!     lib.reduce(&s, Reduce::Sum, &c) // waits for the value: m rows that each sum to 1
//! }
//! # rows_of_probabilities().unwrap();
//! ```
use crate::kernels::Kernels;
use crate::runtime::{Error, Gpu, Result};

pub mod conv;
pub mod elementwise;
pub mod gemm;
pub mod hopper_gemm;
pub mod maps;
pub mod matrix;
pub mod reductions;
pub mod rows;
pub mod scan;
pub mod softmax;

pub use conv::{
    ConvActivation, ConvElem, ConvInputs, ConvLayer, ConvPipeline, ConvPlan, ConvShape, ConvTile,
    Nhwc, Window,
};
pub use elementwise::{AxpyElem, Binary};
pub use gemm::{Gemm, GemmInput, GemmShape, StridedBatch};
pub use hopper_gemm::{
    Fp8E4M3, Fp8E5M2, GemmActivation, GemmCluster, TcKernel, TcOperand, TcScratch, TensorBatch,
    TensorGemm,
};
pub use maps::{Accuracy, Activation, BiasGeluElem, MapElem};
pub use matrix::{Gemv, GemvScratch, MatOp, Shape};
pub use reductions::{Reduce, ReduceScratch};
pub use rows::{CrossEntropy, RowElem};
pub use scan::{ScanElem, ScanKind, ScanScratch};
pub use softmax::SoftmaxKind;

/// The kernel library loaded on one GPU: the module of `gpu-kernels` and what its operations
/// need to know about the device.
pub struct Library {
    gpu: Gpu,
    kernels: Kernels,
    /// Blocks of each grid-stride reduction kernel (one resident wave on this GPU).
    reduce_blocks: reductions::ReduceBlocks,
    /// Blocks of the persistent scan that fit on this GPU at once (its cooperative grid; 0:
    /// none fits, the one-tile-per-block scan runs instead).
    scan_blocks: u32,
    /// The Hopper GEMM's empty split-K scratch, lent to calls that pass none.
    hopper: hopper_gemm::HopperKernels,
    /// Stream-ordered scratch of the wide softmax engine (made on first use).
    rows_pool: std::sync::OnceLock<crate::runtime::MemPool>,
}

impl Library {
    /// Loads the kernel library on `gpu` (the image that best fits it: its cubin when one was
    /// built, else PTX).
    pub fn load(gpu: &Gpu) -> Result<Library> {
        let kernels = Kernels::load(gpu)?;
        let reduce_blocks = reductions::ReduceBlocks::for_gpu(gpu, &kernels)?;
        let scan_blocks = scan::resident_blocks(&kernels)?;
        Ok(Library {
            gpu: gpu.clone(),
            kernels,
            reduce_blocks,
            scan_blocks,
            hopper: Default::default(),
            rows_pool: std::sync::OnceLock::new(),
        })
    }

    /// The GPU the library is loaded on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The typed launchers underneath, for the kernels that have no method here (the
    /// walk-through's `vector_add` and `saxpy`): each launch still checks its own contract, but
    /// none of the library's shape checks or launch choices apply.
    pub fn kernels(&self) -> &Kernels {
        &self.kernels
    }
}

/// How a product is combined with what its output held: `out = alpha · product + beta · out`.
/// `beta == 0` never reads the output (NaNs in it do not propagate).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epilogue {
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of the output's previous value.
    pub beta: f32,
}

impl Epilogue {
    /// `out = product`.
    pub const OVERWRITE: Epilogue = Epilogue {
        alpha: 1.0,
        beta: 0.0,
    };

    /// `out = alpha · product + beta · out`.
    pub fn new(alpha: f32, beta: f32) -> Epilogue {
        Epilogue { alpha, beta }
    }
}

impl Default for Epilogue {
    fn default() -> Epilogue {
        Epilogue::OVERWRITE
    }
}

fn invalid(op: &str, reason: String) -> Error {
    Error::InvalidArgument {
        op: op.to_string(),
        reason,
    }
}

/// `v` as the u32 a kernel takes, or an error naming `what`.
fn dim_u32(op: &str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| invalid(op, format!("{what} = {v} exceeds u32")))
}
