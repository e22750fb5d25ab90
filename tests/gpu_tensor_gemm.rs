//! GPU tests of the tensor-core GEMMs (f16 / bf16 inputs, f32 accumulation and C:
//! `gpu-kernels/src/tensor_gemm.rs`) against the f64 CPU reference on random data at awkward
//! shapes, large sampled products and strided batches. `#[ignore]`d without a GPU.
mod common;
use common::gemm::{Batch, awkward_shapes, large_sampled, strided_batches};
use common::random_operand;
use gpukit::runtime::half::{bf16, f16};

/// The tensor-core bound: inputs are exact in f16/bf16 and products exact in f32, so only the
/// f32 accumulation differs from the f64 reference.
const TENSOR_TOL: f64 = 1e-3;

/// Tiny and prime shapes (slow path: k or n not a multiple of 8), shapes with k and n
/// multiples of 8 but not of the 128×256×32 tile (fast path with edges), exact tiles, k = 0,
/// k not a multiple of 16, long k, vectors.
const TENSOR_SHAPES: [(usize, usize, usize); 16] = [
    (1, 1, 1),
    (2, 3, 5),
    (127, 253, 61),
    (129, 131, 33),
    (128, 256, 32),
    (256, 512, 64),
    (129, 264, 40),
    (200, 8, 8),
    (8, 200, 24),
    (130, 257, 7),
    (1, 1000, 3),
    (1000, 1, 13),
    (17, 19, 0),
    (300, 520, 1032),
    (5, 7, 1031),
    (64, 136, 16),
];

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_f16_matches_cpu_at_awkward_shapes() {
    awkward_shapes::<f16>(&TENSOR_SHAPES, 5000, TENSOR_TOL);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_bf16_matches_cpu_at_awkward_shapes() {
    awkward_shapes::<bf16>(&TENSOR_SHAPES, 5000, TENSOR_TOL);
}

// 1000³ and 1024³: fast path (k, n multiples of 8); 1001×999×1003: slow path.
#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_f16_1000_cubed_sampled() {
    large_sampled::<f16>(17, 54321, TENSOR_TOL);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_bf16_1000_cubed_sampled() {
    large_sampled::<bf16>(17, 54321, TENSOR_TOL);
}

/// (shape, strides of A, B, C): fast path (strides multiples of 8, B shared by every product),
/// slow path (odd strides and shapes), and a tile-aligned shape.
const TENSOR_BATCHES: [Batch; 3] = [
    Batch {
        shape: (136, 264, 48),
        strides: (136 * 48 + 8, 0, 136 * 264 + 16),
    },
    Batch {
        shape: (37, 45, 11),
        strides: (37 * 11 + 3, 45 * 11 + 1, 37 * 45 + 5),
    },
    Batch {
        shape: (128, 256, 64),
        strides: (128 * 64, 64 * 256, 128 * 256),
    },
];

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_f16_strided_batched_matches_cpu() {
    strided_batches::<f16>(&TENSOR_BATCHES, 31, TENSOR_TOL);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_bf16_strided_batched_matches_cpu() {
    strided_batches::<bf16>(&TENSOR_BATCHES, 31, TENSOR_TOL);
}

#[test]
fn half_inputs_are_exact_in_the_reference() {
    // The reference multiplies the widened f16/bf16 values: widening is exact and round-trips.
    let (h, w) = random_operand::<f16>(1000, 7);
    assert!(
        h.iter()
            .zip(&w)
            .all(|(&h, &w)| f16::from_f32(w) == h && w != 0.0)
    );
    let (h, w) = random_operand::<bf16>(1000, 7);
    assert!(
        h.iter()
            .zip(&w)
            .all(|(&h, &w)| bf16::from_f32(w) == h && w != 0.0)
    );
}
