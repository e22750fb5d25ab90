//! Floating-point math, each function in two forms:
//!
//! - `name_fast`: the hardware approximations of the SFU (`ex2.approx`, `lg2.approx`,
//!   `sin.approx`, `tanh.approx`, `rsqrt.approx`, ...), a few instructions, subnormal inputs and
//!   results flushed to zero (`.ftz`);
//! - `name`: accurate forms (the `libm` crate's single-precision algorithms, or correctly
//!   rounded PTX instructions), within a few ulp.
//!
//! Stated errors are the maximum over the stated input sweep, measured on the GPU against an
//! `f64` CPU reference by `math_error_bounds` in `crates/device-tests/tests/gpu_device_math.rs`
//! (which asserts these bounds and prints the measured maxima). "rel" is `|got - ref| / |ref|`;
//! "abs" is `|got - ref|`; "mixed" is `|got - ref| / max(1, |ref|)` (absolute below 1, relative
//! above).
//!
//! The transcendental `core::intrinsics` (`expf32`, `sinf32`, ...) crash the NVPTX backend and
//! rustc never contracts `a * b + c` into an FMA: use [`fma`] where one is wanted.

/// `a * b + c` with one rounding (`fma.rn.f32`). rustc never contracts `a * b + c` by itself:
/// write this where an FMA is wanted.
#[inline(always)]
pub fn fma(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(target_arch = "nvptx64")]
    return core::f32::math::mul_add(a, b, c);
    #[cfg(not(target_arch = "nvptx64"))]
    crate::arch::host_stub()
}

/// `a * b + c` with one rounding (`fma.rn.f64`).
#[inline(always)]
pub fn fma_f64(a: f64, b: f64, c: f64) -> f64 {
    #[cfg(target_arch = "nvptx64")]
    return core::f64::math::mul_add(a, b, c);
    #[cfg(not(target_arch = "nvptx64"))]
    crate::arch::host_stub()
}

/// Correctly rounded square root (`sqrt.rn.f32`): error ≤ 0.5 ulp (rel ≤ 2^-24).
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-24.00 (at x = 1.3234958e-23).
#[inline(always)]
pub fn sqrt(x: f32) -> f32 {
    #[cfg(target_arch = "nvptx64")]
    return core::f32::math::sqrt(x);
    #[cfg(not(target_arch = "nvptx64"))]
    crate::arch::host_stub()
}

/// One PTX instruction `$ins d, a;` on f32 registers.
macro_rules! sfu {
    ($name:ident, $ins:literal) => {
        #[inline(always)]
        fn $name(x: f32) -> f32 {
            let r: f32;
            // SAFETY: a register-only arithmetic instruction.
            unsafe {
                crate::__device_asm!(concat!($ins, " {r}, {x};"), r = out(reg32) r, x = in(reg32) x,
                    options(pure, nomem, nostack, preserves_flags))
            };
            r
        }
    };
}
sfu!(ex2_approx, "ex2.approx.ftz.f32");
sfu!(ex2_approx_sub, "ex2.approx.f32");
sfu!(lg2_approx, "lg2.approx.ftz.f32");
sfu!(sin_approx, "sin.approx.ftz.f32");
sfu!(cos_approx, "cos.approx.ftz.f32");
sfu!(tanh_approx, "tanh.approx.f32");
sfu!(rsqrt_approx, "rsqrt.approx.ftz.f32");
sfu!(sqrt_approx, "sqrt.approx.ftz.f32");
sfu!(rcp_approx, "rcp.approx.ftz.f32");

const LOG2_E: f32 = core::f32::consts::LOG2_E;
const LN_2: f32 = core::f32::consts::LN_2;
/// sqrt(2 / pi), the GELU tanh-form constant.
const GELU_K: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;

/// Approximate square root (`sqrt.approx.ftz.f32`). Rel error ≤ 2^-21 (positive normal inputs).
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-23.27 (at x = 4.242625e3).
#[inline(always)]
pub fn sqrt_fast(x: f32) -> f32 {
    sqrt_approx(x)
}

/// `1 / sqrt(x)`, approximate (`rsqrt.approx.ftz.f32`, PTX: max rel error 2^-22.9). Rel error
/// ≤ 2^-22 over positive normal inputs.
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-22.95 (at x = 3.8204e-37).
#[inline(always)]
pub fn rsqrt_fast(x: f32) -> f32 {
    rsqrt_approx(x)
}

/// `1 / sqrt(x)` from the correctly rounded square root and division (two roundings). Rel error
/// ≤ 2^-22 over positive normal inputs.
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-23.42 (at x = 3.906245e-3).
#[inline(always)]
pub fn rsqrt(x: f32) -> f32 {
    1.0 / sqrt(x)
}

/// `2^x`, approximate (`ex2.approx.ftz.f32`, PTX: max 2 ulp). Rel error ≤ 2^-21 for x in
/// [-125, 127] (results below 2^-126 flush to 0).
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-22.72 (at x = 5.8062508e1).
#[inline(always)]
pub fn exp2_fast(x: f32) -> f32 {
    ex2_approx(x)
}

/// `2^x` (libm `exp2f`). Rel error ≤ 2^-22 for x in [-125, 127].
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-24.00 (at x = -1.0099817e2).
#[inline(always)]
pub fn exp2(x: f32) -> f32 {
    libm::exp2f(x)
}

/// `e^x` as `ex2.approx(x * log2(e))` (CUDA's `__expf`). The rounding of the product grows the
/// error with |x|: rel error ≤ 2^-16 for x in [-87, 88].
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-17.99 (at x = 8.766644e1).
#[inline(always)]
pub fn exp_fast(x: f32) -> f32 {
    ex2_approx(x * LOG2_E)
}

/// Coefficients of `e^r ≈ 1 + r + r²·Q(r)` on |r| ≤ ln(2)/2 (near-minimax for the relative
/// error, 2^-28.3 before rounding; fitted by `scripts/fit_math.py`).
const EXP_Q: [f32; 5] = [
    0.499_999_94,
    0.166_665_21,
    0.041_668_39,
    0.008_368_718,
    0.001_381_459,
];
/// ln 2 split so that `n · LN2_HI` is exact for |n| < 2^12 (Cody–Waite).
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// 1.5 · 2^23: adding it rounds a float of magnitude < 2^22 to an integer in the low mantissa.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `e^r` for the reduction of `x`: `(e^r, t)` with `x = n ln 2 + r`, |r| ≤ ln 2 / 2, and `n`
/// in the low mantissa bits of `t` (valid for |x| < 2^21).
#[inline(always)]
fn exp_reduced(x: f32) -> (f32, f32) {
    let t = fma(x, LOG2_E, ROUND_MAGIC);
    let n = t - ROUND_MAGIC;
    let r = fma(n, -LN2_HI, x);
    let r = fma(n, -LN2_LO, r);
    let mut q = EXP_Q[4];
    q = fma(q, r, EXP_Q[3]);
    q = fma(q, r, EXP_Q[2]);
    q = fma(q, r, EXP_Q[1]);
    q = fma(q, r, EXP_Q[0]);
    (fma(r * r, q, r) + 1.0, t)
}

/// `e^x` for |x| ≤ 87 (normal results): the scaling by 2^n is an integer add to the exponent.
#[inline(always)]
fn exp_normal(x: f32) -> f32 {
    let (p, t) = exp_reduced(x);
    let n = t.to_bits().wrapping_sub(ROUND_MAGIC.to_bits());
    f32::from_bits(p.to_bits().wrapping_add(n << 23))
}

/// `e^x` outside [-87, 87] and NaN: clamped (e^89 overflows and e^-104 rounds to 0 anyway,
/// NaN kept) and scaled by 2^n in two exact steps, so subnormal results round once.
#[inline(always)]
fn exp_edge(x: f32) -> f32 {
    let x = min_nan(max_nan(x, -104.0), 89.0);
    let (p, t) = exp_reduced(x);
    let ni = t.to_bits() as i32 - ROUND_MAGIC.to_bits() as i32;
    let n1 = ni >> 1;
    let n2 = ni - n1;
    let s1 = f32::from_bits(((n1 + 127) << 23) as u32);
    let s2 = f32::from_bits(((n2 + 127) << 23) as u32);
    p * s1 * s2
}

/// `e^x` in f32 arithmetic only (Cody–Waite reduction to |r| ≤ ln 2 / 2, a degree-6
/// polynomial, exact scaling by 2^n): error ≤ 1 ulp over the whole range (0.98 ulp in an
/// f64-emulated sweep of 5·10^6 points; subnormal results within 1 ulp of the subnormal
/// spacing). NaN propagates, +inf above 88.72, 0 below -103.97. No tables, no f64: 16
/// instructions when |x| ≤ 87 (a branch takes the rare rest).
/// Measured on the H200 (`scripts/membound_bench.py`, 2^28 uniform points in [-87, 88] against
/// f64): max 1.00 ulp; CuPy's and torch's `exp` 1.93 ulp on the same points.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    if x.abs() <= 87.0 {
        exp_normal(x)
    } else {
        exp_edge(x)
    }
}

/// `e^x` as [`exp`] (the same results, ≤ 1 ulp, over the whole range) without its branch: the
/// clamped two-step scaling of the edge path everywhere, six more instructions. For unrolled
/// loops, where the branch of [`exp`] keeps the compiler from interleaving independent
/// exponentials.
#[inline(always)]
pub fn exp_uniform(x: f32) -> f32 {
    exp_edge(x)
}

/// The low part of log2(e): `LOG2_E + LOG2_E_LO` is log2(e) to about 2^-48.
const LOG2_E_LO: f32 = 1.925_963e-8;

/// `e^x` from the SFU: `2^p` by `ex2.approx` (subnormal results kept) at `p = fl(x · log2 e)`,
/// times `1 + c ln 2`, where `c = x · log2 e - p` is the product's rounding error recovered with
/// two FMAs (the part that makes [`exp_fast`]'s error grow with |x|). Seven instructions, no
/// branch, against [`exp`]'s sixteen plus a branch: for kernels that take one exponential per
/// element and want it accurate (softmax). Error ≤ 2 ulp (ex2.approx's 2^-22.5 plus one
/// rounding) over the whole range; NaN propagates, +inf above 88.72, 0 below -103.97.
#[inline(always)]
pub fn exp_sfu(x: f32) -> f32 {
    // Clamped where the result is already 0 or +inf, so that `c` stays finite (x = ±inf).
    let x = min_nan(max_nan(x, -104.0), 89.0);
    let p = x * LOG2_E;
    let c = fma(x, LOG2_E_LO, fma(x, LOG2_E, -p));
    let y = ex2_approx_sub(p);
    fma(y, c * LN_2, y)
}

/// `e^x` as [`exp_sfu`] for `x ≤ 0` (a softmax's `x - max`), two instructions fewer: no upper
/// clamp, and the product's rounding error recovered as `r = x - p ln 2` (two FMAs with ln 2 in
/// two parts) instead of `c ln 2`. Error ≤ 2 ulp for `x ≤ 0` (subnormal results kept, 0 below
/// -103.97, NaN propagates); for `x > 0` the result is `e^x` within 2 ulp up to 88.72 and +inf
/// above, except `x = +inf`, which gives NaN.
#[inline(always)]
pub fn exp_sfu_nonpos(x: f32) -> f32 {
    // Clamped below so that `r` stays finite at x = -inf.
    let x = max_nan(x, -104.0);
    let p = x * LOG2_E;
    let r = fma(-p, LN2_LO, fma(-p, LN2_HI, x));
    let y = ex2_approx_sub(p);
    fma(y, r, y)
}

/// `1 / d` from `rcp.approx` (≤ 1 ulp) and one Newton step: within about 0.5 ulp for normal `d`
/// whose reciprocal is normal (three instructions instead of a full IEEE division).
#[inline(always)]
fn recip(d: f32) -> f32 {
    let r = rcp_approx(d);
    fma(r, fma(-d, r, 1.0), r)
}

/// `log2(x)`, approximate (`lg2.approx.ftz.f32`, PTX: max abs error 2^-22.6 on the mantissa).
/// Mixed error ≤ 2^-20 over positive normal inputs.
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-22.10 (at x = 4.7652802e-1).
#[inline(always)]
pub fn log2_fast(x: f32) -> f32 {
    lg2_approx(x)
}

/// `log2(x)` (libm `log2f`). Mixed error ≤ 2^-22 over positive normal inputs.
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-24.00 (at x = 6.58346e4).
#[inline(always)]
pub fn log2(x: f32) -> f32 {
    libm::log2f(x)
}

/// `ln(x)` as `lg2.approx(x) * ln(2)` (CUDA's `__logf`). Mixed error ≤ 2^-20 over positive
/// normal inputs.
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-22.16 (at x = 3.551199e-1).
#[inline(always)]
pub fn log_fast(x: f32) -> f32 {
    lg2_approx(x) * LN_2
}

/// `ln(x)` (libm `logf`). Mixed error ≤ 2^-22 over positive normal inputs.
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-23.59 (at x = 3.6556375e-1).
#[inline(always)]
pub fn log(x: f32) -> f32 {
    libm::logf(x)
}

/// `sin(x)`, approximate (`sin.approx.ftz.f32`, PTX: max abs error 2^-20.9 in [-pi, pi]).
/// Abs error ≤ 2^-20 for x in [-pi, pi]; it grows outside (no accurate range reduction).
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-21.49 (at x = -6.543153e-1).
#[inline(always)]
pub fn sin_fast(x: f32) -> f32 {
    sin_approx(x)
}

/// `cos(x)`, approximate (`cos.approx.ftz.f32`). Abs error ≤ 2^-20 for x in [-pi, pi].
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-21.25 (at x = 1.7579995e0).
#[inline(always)]
pub fn cos_fast(x: f32) -> f32 {
    cos_approx(x)
}

/// `sin(x)` (libm `sinf`, full range reduction). Abs error ≤ 2^-22 for x in [-100, 100].
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-25.00 (at x = -1.7473984e1).
#[inline(always)]
pub fn sin(x: f32) -> f32 {
    libm::sinf(x)
}

/// `cos(x)` (libm `cosf`). Abs error ≤ 2^-22 for x in [-100, 100].
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-25.00 (at x = -7.87487e1).
#[inline(always)]
pub fn cos(x: f32) -> f32 {
    libm::cosf(x)
}

/// `tanh(x)`, approximate (`tanh.approx.f32`, sm_75+, PTX: max rel error 2^-10.987). Rel error
/// ≤ 2^-10.5 for x in [-10, 10].
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-16.49 (at x = -5.8630455e-1).
#[inline(always)]
pub fn tanh_fast(x: f32) -> f32 {
    tanh_approx(x)
}

/// Odd polynomial `tanh x ≈ x + x³·P(x²)` on |x| < 1 (near-minimax relative error 2^-31.3).
const TANH_P: [f32; 8] = [
    -0.333_333_28,
    0.133_332,
    -0.053_953_1,
    0.021_784_732,
    -0.008_595_117,
    0.003_078_597,
    -0.000_841_138_8,
    0.000_121_471_08,
];

/// `tanh(x)`: an odd polynomial below |x| = 1, `1 - 2 / (1 + e^2|x|)` with the accurate
/// exponential and a Newton-refined reciprocal above (|x| clamped at 9.1, where tanh rounds to
/// ±1); both are evaluated and one selected, which costs less than a divergent branch: error
/// ≤ 1 ulp (0.94 ulp in an f64-emulated sweep of 6·10^6 points). f32 only.
/// Measured on the H200 (`scripts/membound_bench.py`, 2^28 uniform points in [-10, 10] against
/// f64): max 0.94 ulp; CuPy's and torch's `tanh` 1.79 ulp on the same points.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let s = x * x;
    let mut p = TANH_P[7];
    for c in TANH_P[..7].iter().rev() {
        p = fma(p, s, *c);
    }
    let small = fma(x * s, p, x);
    let e = exp_normal(2.0 * a.min(9.1));
    let big = (1.0 - 2.0 * recip(1.0 + e)).copysign(x);
    let t = if a < 1.0 { small } else { big };
    if x.is_nan() { x } else { t }
}

/// Logistic `1 / (1 + e^-x)` from `ex2.approx` and `rcp.approx`. Rel error ≤ 2^-15 for x in
/// [-87, 87].
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-18.00 (at x = -8.683008e1).
#[inline(always)]
pub fn sigmoid_fast(x: f32) -> f32 {
    rcp_approx(1.0 + ex2_approx(x * -LOG2_E))
}

/// GELU, tanh form: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, with `tanh.approx`
/// (the reference is the same formula in f64). Mixed error ≤ 2^-8 for x in [-10, 10]: the
/// approximate tanh's relative error becomes an absolute one where `1 + tanh` cancels.
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-17.48 (at x = -1.5254227e0).
#[inline(always)]
pub fn gelu_fast(x: f32) -> f32 {
    let u = GELU_K * fma(GELU_C * x, x * x, x);
    let h = 0.5 * x;
    fma(h, tanh_approx(u), h)
}

/// Logistic `1 / (1 + e^-x)` with the accurate [`exp`] and a Newton-refined reciprocal; below
/// x = -80, where `1 + e^-x` would overflow, `e^x` itself (equal to f32 precision): error
/// ≤ 2.5 ulp (2.48 ulp in an f64-emulated sweep, near x = -16.6 where `1 + e^-x` rounds).
/// Measured on the H200 (`scripts/membound_bench.py`, 2^28 uniform points in [-87, 88] against
/// f64): max 2.48 ulp; torch's `sigmoid` and CuPy's `expit` 3.38 ulp on the same points.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    let far = x < -80.0;
    let e = exp(if far { x } else { -x });
    if far { e } else { recip(1.0 + e) }
}

/// GELU, tanh form, from the identity `0.5 x (1 + tanh u) = x / (1 + e^(-2u))` with
/// `u = sqrt(2/pi) (x + 0.044715 x³)`: for x < 0 that quotient, which has none of the tanh
/// form's cancellation (the tanh form loses all relative accuracy there in f32); for x ≥ 0
/// `x - x e^(-2u) / (1 + e^(-2u))`, a small correction to x. Mixed error ≤ 2^-22 for x in
/// [-10, 10]; ±inf give +inf and -0.
/// Measured on the H200 (`scripts/membound_bench.py`, 2^28 uniform points in [-10, 10] against
/// f64): mixed error 1.00e-7 (2^-23.25); torch's tanh-form GELU and the same formula in CuPy
/// 1.30e-7.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    let u = GELU_K * fma(GELU_C * x, x * x, x);
    // `exp_sfu` (≤ 2 ulp, seven instructions) rather than `exp`: the error of `e` reaches the
    // result scaled by e / (1 + e) < 1, and the map stays memory-bound.
    let e = exp_sfu(-2.0 * u);
    // Keep the Newton step finite where e^(-2u) overflows (x < -5.4: the result is then -0).
    let r = recip((1.0 + e).min(8.5e37));
    let g = x * r;
    let y = if x >= 0.0 { fma(-g, e, x) } else { g };
    if x.is_infinite() {
        if x > 0.0 { x } else { -0.0 }
    } else {
        y
    }
}

/// Math for results that are rounded to 16-bit floats (`f16`, `bf16`) afterwards, built from the
/// SFU's ex2/rcp approximations (a few instructions each, so 16-bit maps stay memory-bound). The
/// relative error before that rounding is ≤ 2^-17 (see each function): the 16-bit result is the
/// correctly rounded one unless the exact value lies within 2^-7 ulp of a rounding boundary,
/// and never more than 1 ulp off. Measured on the H200 (`scripts/membound_bench.py`, 2^28
/// random points per function and format): every f16 and bf16 result of exp, tanh, sigmoid and
/// GELU within 0.5 ulp of the f64 value, as torch's (whose tanh-form bf16 GELU is 256 ulp off
/// for negative inputs, where `1 + tanh` cancels).
pub mod for_half {
    use super::{LOG2_E, ex2_approx, fma, rcp_approx};

    /// `e^x` as `ex2.approx(x · log2 e)`: rel error ≤ 2^-20 for |x| ≤ 11.1 (the f16 range),
    /// ≤ 2^-17 for |x| ≤ 88.7 (bf16).
    #[inline(always)]
    pub fn exp(x: f32) -> f32 {
        ex2_approx(x * LOG2_E)
    }

    /// `tanh(x)`: `x + x³ p(x²)` below |x| = 0.4 (a degree-3 minimax `p`, relative error
    /// 2^-23 in f64, which is ~2^-22 in f32), `1 - 2 / (1 + e^2|x|)` with the sign of x above;
    /// both evaluated, one selected (no divergence). A worst-case model (ex2.approx within 2^-22,
    /// rcp.approx within 2^-23, every f32 rounding) over all 65536 f16 inputs bounds the relative
    /// error before the final rounding by 2^-20.6: the f16 result is never more than 1 ulp off and
    /// correctly rounded unless the exact value lies within that distance of a rounding
    /// boundary (2 inputs of 65536 in the model; torch's f32 `tanhf` rounded to f16 gives 16 in
    /// the same model). About 11 instructions, against 16 for the previous degree-5 polynomial
    /// below 0.55 (tanh f16 sat at 95% of copy, issue-bound).
    #[inline(always)]
    pub fn tanh(x: f32) -> f32 {
        const P: [f32; 3] = [-0.333_318_83, 0.132_776_25, -0.047_793_98];
        let s = x * x;
        let p = fma(fma(P[2], s, P[1]), s, P[0]);
        let small = fma(x * s, p, x);
        let big = fma(
            -2.0,
            rcp_approx(1.0 + ex2_approx(2.0 * LOG2_E * x.abs())),
            1.0,
        );
        // The sign copied last: tanh(-0) = -0 (the polynomial's x·s·p + x gives +0 there).
        (if x.abs() < 0.4 { small } else { big }).copysign(x)
    }

    /// Logistic `1 / (1 + e^-x)` from SFU approximations: rel error ≤ 2^-17.
    #[inline(always)]
    pub fn sigmoid(x: f32) -> f32 {
        rcp_approx(1.0 + ex2_approx(-LOG2_E * x))
    }

    /// GELU, tanh form, as `x / (1 + e^(-2u))` (see [`super::gelu`]) from SFU approximations.
    #[inline(always)]
    pub fn gelu(x: f32) -> f32 {
        let u = super::GELU_K * fma(super::GELU_C * x, x * x, x);
        x * rcp_approx(1.0 + ex2_approx(-2.0 * LOG2_E * u))
    }
}

/// Minimum, NaN-ignoring (IEEE 754-2008 minNum, PTX `min.f32`, CUDA's `fminf`): a NaN operand
/// loses to a number; NaN only when both are NaN. `-0.0` and `+0.0` compare equal (either may be
/// returned).
#[inline(always)]
pub fn min(a: f32, b: f32) -> f32 {
    minmax::<false, false>(a, b)
}

/// Maximum, NaN-ignoring (PTX `max.f32`, CUDA's `fmaxf`).
#[inline(always)]
pub fn max(a: f32, b: f32) -> f32 {
    minmax::<true, false>(a, b)
}

/// Minimum, NaN-propagating (PTX `min.NaN.f32`, sm_80+): NaN if either operand is NaN.
#[inline(always)]
pub fn min_nan(a: f32, b: f32) -> f32 {
    minmax::<false, true>(a, b)
}

/// Maximum, NaN-propagating (PTX `max.NaN.f32`, sm_80+).
#[inline(always)]
pub fn max_nan(a: f32, b: f32) -> f32 {
    minmax::<true, true>(a, b)
}

#[inline(always)]
fn minmax<const MAX: bool, const NAN: bool>(a: f32, b: f32) -> f32 {
    let r: f32;
    // SAFETY: register-only instructions (all four arms).
    unsafe {
        match (MAX, NAN) {
            (false, false) => {
                crate::__device_asm!("min.f32 {r}, {a}, {b};", r = out(reg32) r, a = in(reg32) a, b = in(reg32) b, options(pure, nomem, nostack, preserves_flags))
            }
            (true, false) => {
                crate::__device_asm!("max.f32 {r}, {a}, {b};", r = out(reg32) r, a = in(reg32) a, b = in(reg32) b, options(pure, nomem, nostack, preserves_flags))
            }
            (false, true) => {
                crate::__device_asm!("min.NaN.f32 {r}, {a}, {b};", r = out(reg32) r, a = in(reg32) a, b = in(reg32) b, options(pure, nomem, nostack, preserves_flags))
            }
            (true, true) => {
                crate::__device_asm!("max.NaN.f32 {r}, {a}, {b};", r = out(reg32) r, a = in(reg32) a, b = in(reg32) b, options(pure, nomem, nostack, preserves_flags))
            }
        }
    }
    r
}
