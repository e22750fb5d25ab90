//! gpukit-bench: the benchmark and verification suite behind the main program (`gpukit`,
//! `src/main.rs`), kept apart from the library so that a user of `gpukit` never compiles its
//! command line, progress bar, JSON and chart dependencies.
//!
//! Every kernel is a [`Case`]: it knows its name, shape, element type and how much work one run
//! does (bytes moved or floating-point operations); [`Case::prepare`] makes random inputs on the
//! GPU and returns a [`Prepared`] state that can [`run`](Prepared::run) on a stream and
//! [`verify`](Prepared::verify) its output against a CPU reference. The [`runner`] verifies each
//! case once, then times it with CUDA events (warm-up, repeated runs, rotating input sets when
//! one set would fit in L2), and the [`report`] module turns the results into a table, JSON,
//! markdown and ([`chart`]) PNG charts, next to the CuPy [`baseline`] when there is one.
//!
//! To add a kernel, add a case to [`cases::all`]: an [`Elementwise`] built from a launch and a
//! reference closure for element-wise kernels, or your own [`Case`] implementation (see
//! [`cases::CopyCase`], the reductions and scans of [`reduce`], and the softmax, transpose, GEMV
//! and SGEMM cases of [`matrix`]) with the helpers of [`verify`] and [`data`].
pub mod baseline;
pub mod case;
pub mod cases;
pub mod chart;
pub mod data;
pub mod elementwise;
pub mod gemm_cases;
pub mod hopper_cases;
pub mod matrix;
pub mod peak;
pub mod readme_cases;
pub mod reduce;
pub mod report;
pub mod resnet;
pub mod rows;
pub mod runner;
pub mod verify;

pub use case::{Case, Ctx, Dtype, Element, Peak, Prepared, Work, size_label};
pub use elementwise::Elementwise;

/// Problem sizes of the suite. `benches/baseline.py` has the same table (`SIZES`); a unit
/// test checks that the two agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Elements of the vector cases (element-wise maps, reductions, scans, copy).
    pub vector: usize,
    /// Rows × columns of the row-wise cases (softmax, log-softmax).
    pub rows: (usize, usize),
    /// Rows × columns of the LLM-vocabulary softmax cases (rows wider than shared memory).
    pub vocab: (usize, usize),
    /// Side of the square transpose.
    pub transpose: usize,
    /// Side of the square GEMV matrix.
    pub gemv: usize,
    /// M = N = K of the GEMMs.
    pub gemm: usize,
    /// Side of the square matrix of the README's 3×3 stencil.
    pub stencil: usize,
}

impl Sizes {
    /// The full suite's sizes.
    pub const DEFAULT: Sizes = Sizes {
        vector: 1 << 28,
        rows: (65536, 4096),
        vocab: (2048, 151_936),
        transpose: 16384,
        gemv: 16384,
        gemm: 8192,
        stencil: 8192,
    };

    /// `--quick`'s sizes.
    pub const QUICK: Sizes = Sizes {
        vector: 1 << 24,
        rows: (8192, 4096),
        vocab: (256, 151_936),
        transpose: 4096,
        gemv: 4096,
        gemm: 2048,
        stencil: 2048,
    };

    /// The sizes for the command-line flags: `--quick` picks [`Sizes::QUICK`], and `--size`
    /// overrides the vector length.
    pub fn select(quick: bool, vector: Option<usize>) -> Sizes {
        let mut s = if quick { Sizes::QUICK } else { Sizes::DEFAULT };
        if let Some(n) = vector {
            s.vector = n;
        }
        s
    }
}

/// `--only` matching, shared with the CuPy script: the pattern is a comma-separated list of
/// terms, and a case matches when any term is a substring of `"{name}/{dtype}"` (so `add`,
/// `gemm/bf16` and `/f16` all work). An empty pattern matches everything.
pub fn matches_only(pattern: &str, name: &str, dtype: &str) -> bool {
    let key = format!("{name}/{dtype}");
    let mut terms = pattern
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .peekable();
    if terms.peek().is_none() {
        return true;
    }
    terms.any(|t| key.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pattern_matches_substrings_of_name_and_dtype() {
        assert!(matches_only("", "saxpy", "f32"));
        assert!(matches_only("add", "vector_add", "f32"));
        assert!(matches_only("relu,gemm/bf16", "gemm", "bf16"));
        assert!(!matches_only("relu,gemm/bf16", "gemm", "f16"));
        assert!(matches_only("/f16", "exp", "f16"));
        assert!(!matches_only("saxpy", "vector_add", "f32"));
        assert!(matches_only(" , ", "x", "f32"));
    }

    #[test]
    fn size_selection() {
        assert_eq!(Sizes::select(false, None), Sizes::DEFAULT);
        assert_eq!(Sizes::select(true, None), Sizes::QUICK);
        let s = Sizes::select(true, Some(1000));
        assert_eq!((s.vector, s.gemm), (1000, Sizes::QUICK.gemm));
    }
}
