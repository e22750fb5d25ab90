//! The [`Case`] abstraction: one kernel at one size, with random inputs, a run and a check.
use gpukit::Library;
use gpukit::runtime::{self, DeviceCopy, Gpu, Stream};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Element type of a case's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    F32,
    F16,
    Bf16,
    F64,
    I32,
    U32,
}

impl Dtype {
    /// The name used in tables, JSON and the CuPy script (`f32`, `f16`, `bf16`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
            Dtype::F64 => "f64",
            Dtype::I32 => "i32",
            Dtype::U32 => "u32",
        }
    }

    pub fn size_bytes(self) -> usize {
        match self {
            Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::F64 => 8,
        }
    }

    /// Default relative tolerance of a result computed in this type (a few units in the last
    /// place; integers are exact). See [`crate::verify::close`].
    pub fn default_tol(self) -> f64 {
        match self {
            Dtype::F32 => 2.5e-7,
            Dtype::F16 => 1e-3,
            Dtype::Bf16 => 8e-3,
            Dtype::F64 => 1e-15,
            Dtype::I32 | Dtype::U32 => 0.0,
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which arithmetic peak a compute-bound case is measured against (see [`crate::peak`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Peak {
    /// FP32 FMA on the CUDA cores.
    Fp32,
    /// Dense f16 tensor-core MMA with f32 accumulation.
    TensorF16,
    /// Dense bf16 tensor-core MMA with f32 accumulation (the same rate as f16).
    TensorBf16,
    /// Dense tf32 tensor-core MMA (half the f16 rate).
    TensorTf32,
    /// Dense fp8 tensor-core MMA (twice the f16 rate; sm_89 and later).
    TensorFp8,
}

/// How much work one run of a case does, which decides its throughput unit and ceiling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Work {
    /// Bytes read plus bytes written by one run (memory-bound): reported in GB/s against the
    /// device-to-device copy bandwidth measured at start.
    Bytes(f64),
    /// Floating-point operations of one run (an FMA counts 2): reported in TFLOP/s against the
    /// arithmetic peak.
    Flops { flops: f64, peak: Peak },
}

/// What a case gets to prepare itself.
pub struct Ctx<'a> {
    pub gpu: &'a Gpu,
    /// The kernel library, loaded once for the whole suite.
    pub lib: &'a Library,
    pub stream: &'a Stream,
    /// How many independent input sets to allocate and rotate through (≥ 1): more than one when
    /// a single set would stay in L2 between timed runs. [`Prepared::run`] gets the run index;
    /// use set `rep % copies`.
    pub copies: usize,
    /// Seed for the random inputs (derive per-input seeds from it).
    pub seed: u64,
}

/// One kernel at one size. Implementations are cheap to construct (no GPU work): everything
/// that touches the GPU happens in [`Case::prepare`].
pub trait Case {
    /// The kernel's name: the table's first column and, by default, the CuPy op it is
    /// compared with.
    fn name(&self) -> &str;
    fn dtype(&self) -> Dtype;
    /// Problem shape: `[n]` for vectors, `[rows, cols]`, `[m, n, k]` for GEMM.
    fn shape(&self) -> Vec<usize>;
    /// Work of one run.
    fn work(&self) -> Work;
    /// Device bytes one run touches, used to decide how many input sets to rotate through.
    /// Defaults to the bytes of [`Work::Bytes`]; compute-bound cases are not rotated.
    fn working_set_bytes(&self) -> usize {
        match self.work() {
            Work::Bytes(b) => b as usize,
            Work::Flops { .. } => usize::MAX,
        }
    }
    /// The op of `benches/baseline.py` this case is compared with (`None`: no CuPy
    /// counterpart). Defaults to [`Case::name`].
    fn cupy_op(&self) -> Option<&str> {
        Some(self.name())
    }
    /// Allocate inputs (random, never all zeros) and outputs (filled with a byte pattern the
    /// kernel must overwrite) on the GPU.
    fn prepare<'a>(&'a self, ctx: &Ctx<'a>) -> runtime::Result<Box<dyn Prepared + 'a>>;
}

/// A case's device state, ready to run.
pub trait Prepared {
    /// Queue one run on `stream`. `rep` counts runs from 0 (verification run, warm-ups, timed
    /// runs); use input set `rep % ctx.copies`.
    fn run(&mut self, stream: &Stream, rep: usize) -> runtime::Result<()>;
    /// Check the output of run 0 (the runner calls this right after it, with the stream
    /// synchronised) against the CPU reference: every element for small sizes, sampled
    /// elements or rows for large ones (see [`crate::verify`]).
    fn verify(&mut self) -> Result<(), String>;
}

/// Shape as shown in tables and matched against the CuPy JSON: dimensions joined by `x`.
pub fn size_label(shape: &[usize]) -> String {
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// Element types the generic helpers handle.
pub trait Element: DeviceCopy + Copy + Default + PartialEq + Send + Sync + 'static {
    const DTYPE: Dtype;
    fn from_f32(v: f32) -> Self;
    fn to_f64(self) -> f64;
}

impl Element for f32 {
    const DTYPE: Dtype = Dtype::F32;
    fn from_f32(v: f32) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Element for f64 {
    const DTYPE: Dtype = Dtype::F64;
    fn from_f32(v: f32) -> Self {
        v as f64
    }
    fn to_f64(self) -> f64 {
        self
    }
}

impl Element for half::f16 {
    const DTYPE: Dtype = Dtype::F16;
    fn from_f32(v: f32) -> Self {
        half::f16::from_f32(v)
    }
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
}

impl Element for half::bf16 {
    const DTYPE: Dtype = Dtype::Bf16;
    fn from_f32(v: f32) -> Self {
        half::bf16::from_f32(v)
    }
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_dtypes() {
        assert_eq!(size_label(&[268435456]), "268435456");
        assert_eq!(size_label(&[8192, 8192, 8192]), "8192x8192x8192");
        assert_eq!(Dtype::Bf16.to_string(), "bf16");
        assert_eq!(serde_json::to_string(&Dtype::Bf16).unwrap(), "\"bf16\"");
        assert_eq!(Dtype::F16.size_bytes(), 2);
        assert_eq!(<half::bf16 as Element>::from_f32(1.5).to_f64(), 1.5);
    }
}
