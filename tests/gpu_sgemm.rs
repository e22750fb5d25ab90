//! GPU tests of SGEMM (`gpu-kernels/src/gemm.rs`) against the f64 CPU reference on random data
//! at awkward shapes, large sampled products and strided batches. `#[ignore]`d without a GPU; run
//! with `--include-ignored` on a GPU machine.
mod common;
use common::gemm::{Batch, awkward_shapes, large_sampled, strided_batches};

/// SGEMM's bound against the f64 reference (f32 products and accumulation).
const TOL: f64 = 1e-5;

/// Tiny primes, non-multiples of every tile (128×128×8 and the 4-wide vectors), exact tiles
/// (the tiled kernel), k = 0, vectors.
const SHAPES: [(usize, usize, usize); 14] = [
    (1, 1, 1),
    (2, 3, 5),
    (127, 253, 61),
    (129, 131, 9),
    (128, 128, 8),
    (256, 384, 64),
    (384, 256, 72),
    (130, 129, 7),
    (1, 1000, 3),
    (1000, 1, 13),
    (17, 19, 0),
    (64, 200, 1),
    (300, 260, 260),
    (5, 7, 1031),
];

#[test]
#[ignore = "needs a CUDA GPU"]
fn sgemm_matches_cpu_at_awkward_shapes() {
    awkward_shapes::<f32>(&SHAPES, 1000, TOL);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn sgemm_1000_cubed_sampled() {
    large_sampled::<f32>(7, 12345, TOL);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn sgemm_strided_batched_matches_cpu() {
    // Tiled (256×128×16) and edge (37×45×11) shapes; B shared by all products (stride 0),
    // A and C with gaps between matrices.
    strided_batches::<f32>(
        &[
            Batch {
                shape: (256, 128, 16),
                strides: (256 * 16 + 8, 0, 256 * 128 + 4),
            },
            Batch {
                shape: (37, 45, 11),
                strides: (37 * 11 + 8, 0, 37 * 45 + 4),
            },
        ],
        21,
        TOL,
    );
}
