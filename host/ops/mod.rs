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
//! - [`softmax`]: row softmax and log-softmax;
//! - [`matrix`]: transpose and GEMV;
//! - [`gemm`]: SGEMM and the tensor-core f16 / bf16 GEMMs, single or strided-batched.
use crate::kernels::Kernels;
use crate::runtime::{Error, Gpu, Result};

pub mod elementwise;
pub mod gemm;
pub mod maps;
pub mod matrix;
pub mod reductions;
pub mod scan;
pub mod softmax;

pub use elementwise::{AxpyElem, Binary};
pub use gemm::{Gemm, GemmInput, GemmShape, StridedBatch};
pub use maps::{Activation, MapElem};
pub use matrix::{Gemv, GemvScratch, MatOp, Shape};
pub use reductions::{Reduce, ReduceScratch};
pub use scan::{ScanElem, ScanKind, ScanScratch};
pub use softmax::{SoftmaxElem, SoftmaxKind};

/// The kernel library loaded on one GPU: the module of `gpu-kernels` and what its operations
/// need to know about the device.
pub struct Library {
    gpu: Gpu,
    kernels: Kernels,
    /// Blocks of each grid-stride reduction kernel (one resident wave on this GPU).
    reduce_blocks: reductions::ReduceBlocks,
}

impl Library {
    /// Loads the kernel library on `gpu` (the image that best fits it: its cubin when one was
    /// built, else PTX).
    pub fn load(gpu: &Gpu) -> Result<Library> {
        let kernels = Kernels::load(gpu)?;
        let reduce_blocks = reductions::ReduceBlocks::for_gpu(gpu, &kernels)?;
        Ok(Library {
            gpu: gpu.clone(),
            kernels,
            reduce_blocks,
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
