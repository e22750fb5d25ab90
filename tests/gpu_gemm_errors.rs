//! GEMM calls with bad shapes, lengths or strides (SGEMM and the tensor-core GEMMs) are errors
//! that name the shapes and launch nothing: C is unchanged. `#[ignore]`d without a GPU.
mod common;
use common::{TensorInput, random_half, setup};
use gpukit::gemm::{sgemm, sgemm_strided_batched};
use gpukit::runtime::half::{bf16, f16};
use gpukit::runtime::{self, Error};
use gpukit_test_support::reference::random_nonzero;

#[test]
#[ignore = "needs a CUDA GPU"]
fn sgemm_shape_errors_launch_nothing() {
    let (gpu, k, s) = setup();
    let (m, n, kd) = (4usize, 5usize, 3usize);
    let a = gpu.upload(&random_nonzero(m * kd, 1)).unwrap();
    let b = gpu.upload(&random_nonzero(kd * n, 2)).unwrap();
    let c0 = random_nonzero(m * n, 3);
    let mut c = gpu.upload(&c0).unwrap();
    let bad_a = gpu.upload(&random_nonzero(m * kd + 1, 4)).unwrap();
    let short_c0 = random_nonzero(m * n - 1, 5);
    let mut short_c = gpu.upload(&short_c0).unwrap();
    let is_invalid = |r: runtime::Result<()>| matches!(r, Err(Error::InvalidArgument { .. }));
    // A too long, B for the wrong k, C too short, m and n swapped.
    assert!(is_invalid(sgemm(
        &k, &s, m, n, kd, 1.0, &bad_a, &b, 0.0, &mut c
    )));
    assert!(is_invalid(sgemm(
        &k,
        &s,
        m,
        n,
        kd + 1,
        1.0,
        &a,
        &b,
        0.0,
        &mut c
    )));
    assert!(is_invalid(sgemm(
        &k,
        &s,
        m,
        n,
        kd,
        1.0,
        &a,
        &b,
        0.0,
        &mut short_c
    )));
    assert!(is_invalid(sgemm(
        &k, &s, n, m, kd, 1.0, &a, &b, 0.0, &mut c
    )));
    // Overflowing shapes are errors, not panics.
    assert!(is_invalid(sgemm(
        &k,
        &s,
        usize::MAX,
        2,
        2,
        1.0,
        &a,
        &b,
        0.0,
        &mut c
    )));
    // Batched: overlapping outputs, a buffer too short for its last matrix, too many matrices.
    assert!(is_invalid(sgemm_strided_batched(
        &k, &s, m, n, kd, 2, 1.0, &a, 0, &b, 0, 0.0, &mut c, 1
    )));
    assert!(is_invalid(sgemm_strided_batched(
        &k,
        &s,
        m,
        n,
        kd,
        2,
        1.0,
        &a,
        m * kd,
        &b,
        0,
        0.0,
        &mut c,
        m * n
    )));
    assert!(is_invalid(sgemm_strided_batched(
        &k,
        &s,
        m,
        n,
        kd,
        70_000,
        1.0,
        &a,
        0,
        &b,
        0,
        0.0,
        &mut c,
        m * n
    )));
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
    // The error names the shapes.
    let msg = sgemm(&k, &s, m, n, kd, 1.0, &bad_a, &b, 0.0, &mut c)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("m=4 n=5 k=3"), "{msg}");
}

fn tensor_shape_errors<T: TensorInput>() {
    let (gpu, k, s) = setup();
    let (m, n, kd) = (4usize, 5usize, 3usize);
    let a = gpu.upload(&random_half::<T>(m * kd, 1).0).unwrap();
    let b = gpu.upload(&random_half::<T>(kd * n, 2).0).unwrap();
    let c0 = random_nonzero(m * n, 3);
    let mut c = gpu.upload(&c0).unwrap();
    let bad_a = gpu.upload(&random_half::<T>(m * kd + 1, 4).0).unwrap();
    let short_c0 = random_nonzero(m * n - 1, 5);
    let mut short_c = gpu.upload(&short_c0).unwrap();
    let is_invalid = |r: runtime::Result<()>| matches!(r, Err(Error::InvalidArgument { .. }));
    // A too long, B for the wrong k, C too short, m and n swapped, overflowing shapes.
    assert!(is_invalid(T::gemm(
        &k, &s, m, n, kd, 1.0, &bad_a, &b, 0.0, &mut c
    )));
    assert!(is_invalid(T::gemm(
        &k,
        &s,
        m,
        n,
        kd + 1,
        1.0,
        &a,
        &b,
        0.0,
        &mut c
    )));
    assert!(is_invalid(T::gemm(
        &k,
        &s,
        m,
        n,
        kd,
        1.0,
        &a,
        &b,
        0.0,
        &mut short_c
    )));
    assert!(is_invalid(T::gemm(
        &k, &s, n, m, kd, 1.0, &a, &b, 0.0, &mut c
    )));
    assert!(is_invalid(T::gemm(
        &k,
        &s,
        usize::MAX,
        2,
        2,
        1.0,
        &a,
        &b,
        0.0,
        &mut c
    )));
    // Batched: overlapping outputs, a buffer too short for its last matrix, too many matrices.
    assert!(is_invalid(T::batched(
        &k, &s, m, n, kd, 2, 1.0, &a, 0, &b, 0, 0.0, &mut c, 1
    )));
    assert!(is_invalid(T::batched(
        &k,
        &s,
        m,
        n,
        kd,
        2,
        1.0,
        &a,
        m * kd,
        &b,
        0,
        0.0,
        &mut c,
        m * n
    )));
    assert!(is_invalid(T::batched(
        &k,
        &s,
        m,
        n,
        kd,
        70_000,
        1.0,
        &a,
        0,
        &b,
        0,
        0.0,
        &mut c,
        m * n
    )));
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
    let msg = T::gemm(&k, &s, m, n, kd, 1.0, &bad_a, &b, 0.0, &mut c)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("m=4 n=5 k=3"), "{msg}");
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_f16_shape_errors_launch_nothing() {
    tensor_shape_errors::<f16>();
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemm_bf16_shape_errors_launch_nothing() {
    tensor_shape_errors::<bf16>();
}
