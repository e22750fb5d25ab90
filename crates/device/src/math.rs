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
    core::f32::math::mul_add(a, b, c)
}

/// `a * b + c` with one rounding (`fma.rn.f64`).
#[inline(always)]
pub fn fma_f64(a: f64, b: f64, c: f64) -> f64 {
    core::f64::math::mul_add(a, b, c)
}

/// Correctly rounded square root (`sqrt.rn.f32`): error ≤ 0.5 ulp (rel ≤ 2^-24).
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-24.00 (at x = 1.3234958e-23).
#[inline(always)]
pub fn sqrt(x: f32) -> f32 {
    core::f32::math::sqrt(x)
}

/// One PTX instruction `$ins d, a;` on f32 registers.
macro_rules! sfu {
    ($name:ident, $ins:literal) => {
        #[inline(always)]
        fn $name(x: f32) -> f32 {
            let r: f32;
            // SAFETY: a register-only arithmetic instruction.
            unsafe {
                core::arch::asm!(concat!($ins, " {r}, {x};"), r = out(reg32) r, x = in(reg32) x,
                    options(pure, nomem, nostack, preserves_flags))
            };
            r
        }
    };
}
sfu!(ex2_approx, "ex2.approx.ftz.f32");
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

/// `e^x` (libm `expf`, < 1 ulp). Rel error ≤ 2^-22 for x in [-87, 88].
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-23.72 (at x = -4.8861797e1).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    libm::expf(x)
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

/// `tanh(x)` (libm `tanhf`). Rel error ≤ 2^-21 for x in [-10, 10].
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-22.55 (at x = -5.5007935e-1).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    libm::tanhf(x)
}

/// Logistic `1 / (1 + e^-x)` from `ex2.approx` and `rcp.approx`. Rel error ≤ 2^-15 for x in
/// [-87, 87].
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-18.00 (at x = -8.683008e1).
#[inline(always)]
pub fn sigmoid_fast(x: f32) -> f32 {
    rcp_approx(1.0 + ex2_approx(x * -LOG2_E))
}

/// Logistic `1 / (1 + e^-x)` with libm `expf`. Rel error ≤ 2^-21 for x in [-87, 87].
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-22.71 (at x = -1.6667278e1).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
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

/// GELU, tanh form, with libm `tanhf`. Mixed error ≤ 2^-20 for x in [-10, 10].
/// Measured on the H200 (`gpu_device_math` sweep against f64): max error 2^-23.23 (at x = 1.1807203e0).
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    let u = GELU_K * fma(GELU_C * x, x * x, x);
    let h = 0.5 * x;
    fma(h, libm::tanhf(u), h)
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
    // SAFETY (all four): register-only instructions.
    unsafe {
        match (MAX, NAN) {
            (false, false) => {
                core::arch::asm!("min.f32 {r}, {a}, {b};", r = out(reg32) r, a = in(reg32) a, b = in(reg32) b, options(pure, nomem, nostack, preserves_flags))
            }
            (true, false) => {
                core::arch::asm!("max.f32 {r}, {a}, {b};", r = out(reg32) r, a = in(reg32) a, b = in(reg32) b, options(pure, nomem, nostack, preserves_flags))
            }
            (false, true) => {
                core::arch::asm!("min.NaN.f32 {r}, {a}, {b};", r = out(reg32) r, a = in(reg32) a, b = in(reg32) b, options(pure, nomem, nostack, preserves_flags))
            }
            (true, true) => {
                core::arch::asm!("max.NaN.f32 {r}, {a}, {b};", r = out(reg32) r, a = in(reg32) a, b = in(reg32) b, options(pure, nomem, nostack, preserves_flags))
            }
        }
    }
    r
}
