//! CPU references for the kernels, seeded random inputs, and the comparison the tests use.

/// `out[i] = a[i] + b[i]`
pub fn vector_add(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

/// `y[i] = alpha * x[i] + y[i]`, with one rounding (as the kernel's FMA).
pub fn saxpy(alpha: f32, x: &[f32], y: &[f32]) -> Vec<f32> {
    x.iter()
        .zip(y)
        .map(|(x, y)| alpha.mul_add(*x, *y))
        .collect()
}

/// Index and values of the first element where `got` and `want` differ by more than
/// `tol * max(1, |want|)`, or where exactly one is NaN.
pub fn first_mismatch(got: &[f32], want: &[f32], tol: f32) -> Option<(usize, f32, f32)> {
    if got.len() != want.len() {
        return Some((got.len().min(want.len()), f32::NAN, f32::NAN));
    }
    got.iter()
        .zip(want)
        .enumerate()
        .find(|(_, (g, w))| {
            if g.is_nan() || w.is_nan() {
                return g.is_nan() != w.is_nan();
            }
            (*g - *w).abs() > tol * w.abs().max(1.0)
        })
        .map(|(i, (g, w))| (i, *g, *w))
}

/// `n` values uniform in [-1, 1) from a seeded generator.
pub fn random_f32(n: usize, seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Random values in [-1, 1) with no exact zeros, so a skipped element cannot pass by accident.
pub fn random_nonzero(n: usize, seed: u64) -> Vec<f32> {
    random_f32(n, seed)
        .into_iter()
        .map(|v| if v.abs() < 1e-3 { 0.5 } else { v })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_compute_the_definitions() {
        assert_eq!(vector_add(&[1.0, 2.0], &[3.0, -5.0]), vec![4.0, -3.0]);
        assert_eq!(saxpy(2.0, &[1.0, 2.0], &[0.5, 1.0]), vec![2.5, 5.0]);
    }

    #[test]
    fn mismatch_finder_uses_relative_tolerance_and_nan() {
        assert_eq!(first_mismatch(&[1.0, 1000.0], &[1.0, 1000.001], 1e-5), None);
        assert_eq!(
            first_mismatch(&[1.0, 2.0], &[1.0, 2.1], 1e-5),
            Some((1, 2.0, 2.1))
        );
        assert!(first_mismatch(&[f32::NAN], &[1.0], 1e-5).is_some());
        assert!(first_mismatch(&[1.0], &[1.0, 2.0], 1e-5).is_some());
    }

    #[test]
    fn random_inputs_are_seeded_and_in_range() {
        let a = random_f32(1000, 7);
        assert_eq!(a, random_f32(1000, 7));
        assert_ne!(a, random_f32(1000, 8));
        assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
        assert!(
            random_nonzero(10_000, 3)
                .iter()
                .all(|&v| v != 0.0 && (-1.0..1.0).contains(&v))
        );
    }
}
