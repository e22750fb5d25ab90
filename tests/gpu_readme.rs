//! GPU tests of the README's kernels (`gpu-kernels/src/readme.rs`): the row normalisation and
//! the 3×3 stencil against f64 references on random inputs, including shapes whose rows are
//! not whole 16-byte chunks. `#[ignore]`d without a GPU.
use gpukit::kernels::Kernels;
use gpukit::runtime::{self, Gpu};
use rand::{Rng, SeedableRng, rngs::StdRng};

fn random(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut r = StdRng::seed_from_u64(seed);
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn layer_norm_matches_f64() {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Kernels::load(&gpu).unwrap();
    let s = gpu.stream().unwrap();
    for (rows, cols) in [(1, 1), (3, 5), (64, 4096), (7, 1000), (2, 12345)] {
        let x = random(rows * cols, cols as u64, -3.0, 5.0);
        let g = random(cols, 1, 0.5, 1.5);
        let b = random(cols, 2, -1.0, 1.0);
        let eps = 1e-5f32;
        let (dx, dg, db) = (
            gpu.upload(&x).unwrap(),
            gpu.upload(&g).unwrap(),
            gpu.upload(&b).unwrap(),
        );
        let mut y = gpu.alloc_filled::<f32>(rows * cols, 0).unwrap();
        k.layer_norm
            .launch(&s, &dx, &dg, &db, rows as u32, cols as u32, eps, &mut y)
            .unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&y).unwrap();
        for r in 0..rows {
            let row = &x[r * cols..(r + 1) * cols];
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / cols as f64;
            let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / cols as f64;
            let inv = 1.0 / (var + eps as f64).sqrt();
            for c in 0..cols {
                let want = (row[c] as f64 - mean) * inv * g[c] as f64 + b[c] as f64;
                let e = (got[r * cols + c] as f64 - want).abs();
                assert!(
                    e < 2e-4 * (1.0 + want.abs()),
                    "({rows}x{cols}) [{r}][{c}]: {} vs {want}",
                    got[r * cols + c]
                );
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn stencil_matches_f64_with_clamped_edges() {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Kernels::load(&gpu).unwrap();
    let s = gpu.stream().unwrap();
    let w = random(9, 3, -1.0, 1.0);
    let dw = gpu.upload(&w).unwrap();
    // Rows staged by bulk copies (cols % 4 == 0: partial tiles and bands, one row, tall, wide)
    // and the fallback (cols % 4 != 0, one column).
    for (rows, cols) in [
        (1, 1),
        (2, 3),
        (37, 130),
        (64, 256),
        (100, 1001),
        (513, 4096),
        (1, 4),
        (1, 2052),
        (3000, 4),
        (300, 516),
        (257, 132),
        (700, 1),
    ] {
        let x = random(rows * cols, (rows * cols) as u64, -2.0, 2.0);
        let dx = gpu.upload(&x).unwrap();
        let mut y = gpu.alloc_filled::<f32>(rows * cols, 0).unwrap();
        k.stencil3x3
            .launch(&s, &dx, &dw, rows as u32, cols as u32, &mut y)
            .unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&y).unwrap();
        let at = |r: isize, c: isize| {
            let r = r.clamp(0, rows as isize - 1) as usize;
            let c = c.clamp(0, cols as isize - 1) as usize;
            x[r * cols + c] as f64
        };
        for r in 0..rows as isize {
            for c in 0..cols as isize {
                let mut want = 0.0f64;
                for di in 0..3 {
                    for dj in 0..3 {
                        want += w[(3 * di + dj) as usize] as f64 * at(r + di - 1, c + dj - 1);
                    }
                }
                let g = got[r as usize * cols + c as usize] as f64;
                assert!(
                    (g - want).abs() < 1e-5 * (1.0 + want.abs()),
                    "({rows}x{cols}) [{r}][{c}]: {g} vs {want}"
                );
            }
        }
    }
}
