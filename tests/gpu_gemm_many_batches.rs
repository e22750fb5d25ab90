//! GPU test: strided-batched GEMM with more matrices than the grid's 65535 (the batch runs in
//! chunks), against a CPU reference. `#[ignore]`d without a GPU.
mod common;
use common::setup;
use gpukit::ops::{Gemm, StridedBatch};
use gpukit::runtime;
use gpukit_test_support::reference::random_f32;

#[test]
#[ignore = "needs a CUDA GPU"]
fn batched_gemm_with_more_than_65535_matrices() {
    let (gpu, lib, s) = setup();
    let (m, n, k, count) = (2usize, 3usize, 5usize, 70_001usize);
    let a = random_f32(count * m * k, 3100);
    // B shared by every product (stride 0), C packed.
    let b = random_f32(k * n, 3101);
    let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
    let mut dc = gpu.alloc_filled::<f32>(count * m * n, 0xff).unwrap();
    let g = Gemm::new(m, n, k);
    let batch = StridedBatch {
        stride_b: 0,
        ..StridedBatch::packed(count, g.shape)
    };
    lib.gemm(&s, &g.batched(batch), &da, &db, &mut dc).unwrap();
    runtime::sync(&s).unwrap();
    let c = runtime::download(&dc).unwrap();
    for z in 0..count {
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k)
                    .map(|p| a[z * m * k + i * k + p] as f64 * b[p * n + j] as f64)
                    .sum();
                let got = c[z * m * n + i * n + j] as f64;
                assert!(
                    (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                    "matrix {z} ({i},{j}): {got} vs {want}"
                );
            }
        }
    }
}
