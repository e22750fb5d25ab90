//! The CPU reference of GEMM in f64 (row-major, `C = alpha · A B + beta · C0`) and the error
//! measure the GEMM tests judge results by.

/// One product `C = alpha · A B + beta · C0` (row-major; A m×k, B k×n, C0 m×n), evaluated in
/// f64. `beta == 0` ignores C0 (NaNs in it do not propagate), as the kernels do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GemmRef {
    /// Rows of A and C.
    pub m: usize,
    /// Columns of B and C.
    pub n: usize,
    /// Columns of A, rows of B.
    pub k: usize,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of C0.
    pub beta: f32,
}

impl GemmRef {
    /// Every element of C.
    pub fn product(&self, a: &[f32], b: &[f32], c0: &[f32]) -> Vec<f64> {
        let GemmRef { m, n, k, alpha, .. } = *self;
        let mut out = vec![0.0f64; m * n];
        for i in 0..m {
            for p in 0..k {
                let aip = a[i * k + p] as f64;
                let brow = &b[p * n..(p + 1) * n];
                let orow = &mut out[i * n..(i + 1) * n];
                for (o, &bv) in orow.iter_mut().zip(brow) {
                    *o += aip * bv as f64;
                }
            }
            for j in 0..n {
                out[i * n + j] = alpha as f64 * out[i * n + j] + self.old(c0, i, j);
            }
        }
        out
    }

    /// Element `(i, j)` of C (for sampled checks of large products).
    pub fn at(&self, a: &[f32], b: &[f32], c0: &[f32], i: usize, j: usize) -> f64 {
        let GemmRef { n, k, alpha, .. } = *self;
        let dot: f64 = (0..k)
            .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
            .sum();
        alpha as f64 * dot + self.old(c0, i, j)
    }

    /// `beta · C0[i, j]`, or 0 when `beta == 0`.
    fn old(&self, c0: &[f32], i: usize, j: usize) -> f64 {
        if self.beta == 0.0 {
            0.0
        } else {
            self.beta as f64 * c0[i * self.n + j] as f64
        }
    }
}

/// ‖got − want‖₂ / ‖want‖₂ (0 when both are empty or zero; infinite on NaN).
pub fn rel_err(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (&g, &w) in got.iter().zip(want) {
        if g.is_nan() {
            return f64::INFINITY;
        }
        num += (g as f64 - w).powi(2);
        den += w * w;
    }
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::random_nonzero;

    #[test]
    fn reference_computes_the_definition() {
        // [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50]
        let (a, b, c0) = (
            [1.0, 2.0, 3.0, 4.0],
            [5.0, 6.0, 7.0, 8.0],
            [1.0, -1.0, 2.0, 0.5],
        );
        let g = |m, n, k, alpha, beta| GemmRef {
            m,
            n,
            k,
            alpha,
            beta,
        };
        assert_eq!(
            g(2, 2, 2, 1.0, 0.0).product(&a, &b, &c0),
            vec![19.0, 22.0, 43.0, 50.0]
        );
        let scaled = g(2, 2, 2, 2.0, -1.0);
        assert_eq!(scaled.product(&a, &b, &c0), vec![37.0, 45.0, 84.0, 99.5]);
        // beta = 0 ignores NaNs in C; k = 0 gives beta * C.
        assert_eq!(
            g(1, 1, 1, 1.0, 0.0).product(&[3.0], &[2.0], &[f32::NAN]),
            vec![6.0]
        );
        assert_eq!(
            g(1, 2, 0, 1.0, 3.0).product(&[], &[], &[1.0, 2.0]),
            vec![3.0, 6.0]
        );
        // Non-square: (1×3) * (3×2).
        let (a13, b32) = ([1.0, 2.0, 3.0], [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        assert_eq!(
            g(1, 2, 3, 1.0, 0.0).product(&a13, &b32, &[0.0; 2]),
            vec![4.0, 5.0]
        );
        for (i, j) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            assert_eq!(
                scaled.at(&a, &b, &c0, i, j),
                scaled.product(&a, &b, &c0)[i * 2 + j]
            );
        }
    }

    #[test]
    fn relative_error_measure() {
        assert_eq!(rel_err(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        let e = rel_err(&[1.0, 2.0], &[1.0, 2.0 + 1e-3]);
        let want = (2.0f64 - 2.001).abs() / (1.0 + 2.001f64 * 2.001).sqrt();
        assert!((e - want).abs() < 1e-12, "{e} vs {want}");
        assert_eq!(rel_err(&[f32::NAN], &[1.0]), f64::INFINITY);
        assert_eq!(rel_err(&[], &[]), 0.0);
        assert!(
            random_nonzero(10_000, 3)
                .iter()
                .all(|&v| v != 0.0 && (-1.0..1.0).contains(&v))
        );
    }
}
