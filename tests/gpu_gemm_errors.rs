//! GEMM calls with bad shapes, lengths or strides (SGEMM and the tensor-core GEMMs) are errors
//! that name the operation and the shapes and launch nothing: C is unchanged. `#[ignore]`d
//! without a GPU.
mod common;
use common::setup;
use gpukit::ops::{Gemm, GemmInput, StridedBatch};
use gpukit::runtime::half::{bf16, f16};
use gpukit::runtime::{self, Error};
use gpukit_test_support::reference::random_nonzero;

/// Every rejected call of one input type `T` (`convert` rounds the random f32 inputs to it).
fn shape_errors<T: GemmInput + Copy>(convert: impl Fn(Vec<f32>) -> Vec<T>) {
    let (gpu, lib, s) = setup();
    let (m, n, kd) = (4usize, 5usize, 3usize);
    let upload = |len: usize, seed: u64| gpu.upload(&convert(random_nonzero(len, seed))).unwrap();
    let (a, b, bad_a) = (upload(m * kd, 1), upload(kd * n, 2), upload(m * kd + 1, 4));
    let c0 = random_nonzero(m * n, 3);
    let mut c = gpu.upload(&c0).unwrap();
    let short_c0 = random_nonzero(m * n - 1, 5);
    let mut short_c = gpu.upload(&short_c0).unwrap();
    let is_invalid = |r: runtime::Result<()>| matches!(r, Err(Error::InvalidArgument { .. }));
    let g = Gemm::new(m, n, kd);
    // A too long, B for the wrong k, C too short, m and n swapped, overflowing shapes.
    assert!(is_invalid(lib.gemm(&s, &g, &bad_a, &b, &mut c)));
    let wrong_k = Gemm::new(m, n, kd + 1);
    assert!(is_invalid(lib.gemm(&s, &wrong_k, &a, &b, &mut c)));
    assert!(is_invalid(lib.gemm(&s, &g, &a, &b, &mut short_c)));
    let swapped = Gemm::new(n, m, kd);
    assert!(is_invalid(lib.gemm(&s, &swapped, &a, &b, &mut c)));
    let overflowing = Gemm::new(usize::MAX, 2, 2);
    assert!(is_invalid(lib.gemm(&s, &overflowing, &a, &b, &mut c)));
    // Batched: overlapping outputs, a buffer too short for its last matrix, too many matrices.
    let batch = |count, stride_a, stride_c| {
        g.batched(StridedBatch {
            count,
            stride_a,
            stride_b: 0,
            stride_c,
        })
    };
    assert!(is_invalid(lib.gemm(&s, &batch(2, 0, 1), &a, &b, &mut c)));
    let too_short = batch(2, m * kd, m * n);
    assert!(is_invalid(lib.gemm(&s, &too_short, &a, &b, &mut c)));
    let too_many = batch(70_000, 0, m * n);
    assert!(is_invalid(lib.gemm(&s, &too_many, &a, &b, &mut c)));
    runtime::sync(&s).unwrap();
    assert_eq!(
        runtime::download(&c).unwrap(),
        c0,
        "C changed by a rejected call"
    );
    assert_eq!(
        runtime::download(&short_c).unwrap(),
        short_c0,
        "C changed by a rejected call"
    );
    // The error names the operation and the shapes.
    let msg = lib
        .gemm(&s, &g, &bad_a, &b, &mut c)
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(T::NAME) && msg.contains("m=4 n=5 k=3"),
        "{msg}"
    );
    let msg = lib
        .gemm(&s, &too_short, &a, &b, &mut c)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("strided_batched"), "{msg}");
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn sgemm_shape_errors_launch_nothing() {
    shape_errors::<f32>(|v| v);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_f16_shape_errors_launch_nothing() {
    shape_errors::<f16>(|v| v.into_iter().map(f16::from_f32).collect());
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_bf16_shape_errors_launch_nothing() {
    shape_errors::<bf16>(|v| v.into_iter().map(bf16::from_f32).collect());
}
