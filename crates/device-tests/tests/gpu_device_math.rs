//! GPU tests of gpukit-device's math functions against f64 references: the error bounds stated
//! in `crates/device/src/math.rs`, and the min/max NaN rules and FMA. They need a CUDA GPU and
//! are `#[ignore]`d; `cargo test --test gpu_device_math -- --include-ignored --nocapture` prints
//! the measured maxima (`math_error_bounds`) for the math docs.
#![allow(clippy::needless_range_loop)]
mod common;
use common::{get, rng, setup, zeros};
use rand::Rng;

/// How inputs are drawn for a math function, and how its error is measured.
struct MathCase {
    name: &'static str,
    lo: f64,
    hi: f64,
    /// Draw `2^u` (log-uniform) instead of uniform in `[lo, hi]`.
    log: bool,
    /// Error = |got - ref| / max(|ref|, floor): tiny floor = relative, 1 = mixed/absolute.
    floor: f64,
    /// Asserted bound, as log2.
    bound_log2: f64,
    reference: fn(f64) -> f64,
}

fn gelu_ref(x: f64) -> f64 {
    let k = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
}

const REL: f64 = 1e-300;
const PI: f64 = std::f64::consts::PI;

#[rustfmt::skip]
fn math_cases() -> Vec<MathCase> {
    let c = |name, lo, hi, log, floor, bound_log2, reference| MathCase { name, lo, hi, log, floor, bound_log2, reference };
    vec![
        c("exp", -87.0, 88.0, false, REL, -22.0, f64::exp as fn(f64) -> f64),
        c("exp_fast", -87.0, 88.0, false, REL, -16.0, f64::exp),
        c("exp2", -125.0, 127.0, false, REL, -22.0, f64::exp2),
        c("exp2_fast", -125.0, 127.0, false, REL, -21.0, f64::exp2),
        c("log", -125.0, 127.0, true, 1.0, -22.0, f64::ln),
        c("log_fast", -125.0, 127.0, true, 1.0, -20.0, f64::ln),
        c("log2", -125.0, 127.0, true, 1.0, -22.0, f64::log2),
        c("log2_fast", -125.0, 127.0, true, 1.0, -20.0, f64::log2),
        c("tanh", -10.0, 10.0, false, REL, -21.0, f64::tanh),
        c("tanh_fast", -10.0, 10.0, false, REL, -10.5, f64::tanh),
        c("sigmoid", -87.0, 87.0, false, REL, -21.0, |x| 1.0 / (1.0 + (-x).exp())),
        c("sigmoid_fast", -87.0, 87.0, false, REL, -15.0, |x| 1.0 / (1.0 + (-x).exp())),
        c("gelu", -10.0, 10.0, false, 1.0, -20.0, gelu_ref),
        c("gelu_fast", -10.0, 10.0, false, 1.0, -8.0, gelu_ref),
        c("sin", -100.0, 100.0, false, 1.0, -22.0, f64::sin),
        c("sin_fast", -PI, PI, false, 1.0, -20.0, f64::sin),
        c("cos", -100.0, 100.0, false, 1.0, -22.0, f64::cos),
        c("cos_fast", -PI, PI, false, 1.0, -20.0, f64::cos),
        c("rsqrt", -125.0, 127.0, true, REL, -22.0, |x| 1.0 / x.sqrt()),
        c("rsqrt_fast", -125.0, 127.0, true, REL, -22.0, |x| 1.0 / x.sqrt()),
        c("sqrt", -125.0, 127.0, true, REL, -23.0, f64::sqrt),
        c("sqrt_fast", -125.0, 127.0, true, REL, -21.0, f64::sqrt),
        c("exp_sfu", -87.0, 88.0, false, REL, -22.0, f64::exp),
        // A softmax's `x - max`: only x <= 0 is promised.
        c("exp_sfu_nonpos", -87.0, 0.0, false, REL, -22.0, f64::exp),
    ]
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn math_error_bounds() {
    let (gpu, k, s) = setup();
    let src = include_str!("../kernels/src/math.rs");
    let n = 1 << 20;
    let mut report = Vec::new();
    for (id, case) in math_cases().iter().enumerate() {
        assert!(
            src.contains(&format!("{id} => math::{}(v)", case.name))
                || id == math_cases().len() - 1,
            "{}",
            case.name
        );
        let mut r = rng(100 + id as u64);
        let mut x: Vec<f32> = (0..n)
            .map(|i| {
                // Uniform sweep plus random points.
                let u = if i % 2 == 0 {
                    i as f64 / n as f64
                } else {
                    r.random::<f64>()
                };
                let t = case.lo + (case.hi - case.lo) * u;
                (if case.log { t.exp2() } else { t }) as f32
            })
            .collect();
        x.push(case.hi as f32);
        let dx = gpu.upload(&x).unwrap();
        let mut out = zeros::<f32>(&gpu, x.len());
        k.math_eval.launch(&s, &dx, &mut out, id as u32).unwrap();
        let got = get(&s, &out);
        let (mut worst, mut at) = (0.0f64, 0.0f32);
        for (&xi, &g) in x.iter().zip(&got) {
            let want = (case.reference)(xi as f64);
            let err = if g.is_nan() && want.is_nan() {
                0.0
            } else {
                (g as f64 - want).abs() / want.abs().max(case.floor)
            };
            let err = if err.is_nan() { f64::INFINITY } else { err };
            if err > worst {
                (worst, at) = (err, xi);
            }
        }
        println!(
            "{:>13}: max error 2^{:.2} ({:.3e}) at x = {at:e}; asserted bound 2^{}",
            case.name,
            worst.log2(),
            worst,
            case.bound_log2
        );
        report.push((case.name, worst, case.bound_log2, at));
    }
    let failed: Vec<_> = report.iter().filter(|(_, w, b, _)| w.log2() > *b).collect();
    assert!(failed.is_empty(), "over the stated bound: {failed:?}");
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn min_max_nan_rules_and_fma() {
    let (gpu, k, s) = setup();
    let specials = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        3.5,
        f32::MIN_POSITIVE,
    ];
    let mut a = Vec::new();
    let mut b = Vec::new();
    for &p in &specials {
        for &q in &specials {
            a.push(p);
            b.push(q);
        }
    }
    let mut r = rng(6);
    for _ in 0..10_000 {
        a.push(r.random_range(-1e3..1e3));
        b.push(r.random_range(-1e3..1e3));
    }
    let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
    for op in 0..5u32 {
        let mut out = zeros::<f32>(&gpu, a.len());
        k.binary_eval.launch(&s, &da, &db, &mut out, op).unwrap();
        let got = get(&s, &out);
        for i in 0..a.len() {
            let (x, y, g) = (a[i], b[i], got[i]);
            let ok = match op {
                0 | 1 => {
                    let want = if op == 0 { x.min(y) } else { x.max(y) }; // Rust's min/max ignore NaN too
                    (g.is_nan() && want.is_nan()) || g == want
                }
                2 | 3 => {
                    if x.is_nan() || y.is_nan() {
                        g.is_nan()
                    } else {
                        g == if op == 2 { x.min(y) } else { x.max(y) }
                    }
                }
                _ => {
                    let want = x.mul_add(y, x);
                    (g.is_nan() && want.is_nan()) || g.to_bits() == want.to_bits()
                }
            };
            assert!(ok, "op {op}: ({x}, {y}) -> {g}");
        }
    }
}
