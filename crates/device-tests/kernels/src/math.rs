//! Math functions, fast and accurate, for the GPU error sweep.
use gpukit_device::{OutSlice, kernel, math};

/// Function ids of [`math_eval`], in order (the host test uses the same table).
pub const FUNCS: [&str; 24] = [
    "exp",
    "exp_fast",
    "exp2",
    "exp2_fast",
    "log",
    "log_fast",
    "log2",
    "log2_fast",
    "tanh",
    "tanh_fast",
    "sigmoid",
    "sigmoid_fast",
    "gelu",
    "gelu_fast",
    "sin",
    "sin_fast",
    "cos",
    "cos_fast",
    "rsqrt",
    "rsqrt_fast",
    "sqrt",
    "sqrt_fast",
    "exp_sfu",
    "exp_sfu_nonpos",
];

/// `out[i] = f(x[i])` for function number `func` of [`FUNCS`].
#[kernel(same_len(x, out), elements = out)]
pub fn math_eval(x: &[f32], mut out: OutSlice<f32>, func: u32) {
    if let Some((i, o)) = out.thread_elem() {
        let v = x[i];
        *o = match func {
            0 => math::exp(v),
            1 => math::exp_fast(v),
            2 => math::exp2(v),
            3 => math::exp2_fast(v),
            4 => math::log(v),
            5 => math::log_fast(v),
            6 => math::log2(v),
            7 => math::log2_fast(v),
            8 => math::tanh(v),
            9 => math::tanh_fast(v),
            10 => math::sigmoid(v),
            11 => math::sigmoid_fast(v),
            12 => math::gelu(v),
            13 => math::gelu_fast(v),
            14 => math::sin(v),
            15 => math::sin_fast(v),
            16 => math::cos(v),
            17 => math::cos_fast(v),
            18 => math::rsqrt(v),
            19 => math::rsqrt_fast(v),
            20 => math::sqrt(v),
            21 => math::sqrt_fast(v),
            22 => math::exp_sfu(v),
            _ => math::exp_sfu_nonpos(v),
        };
    }
}

/// `out[i] = [min, max, min_nan, max_nan, fma(a, b, a)][op](a[i], b[i])`.
#[kernel(same_len(a, b, out), elements = out)]
pub fn binary_eval(a: &[f32], b: &[f32], mut out: OutSlice<f32>, op: u32) {
    if let Some((i, o)) = out.thread_elem() {
        let (x, y) = (a[i], b[i]);
        *o = match op {
            0 => math::min(x, y),
            1 => math::max(x, y),
            2 => math::min_nan(x, y),
            3 => math::max_nan(x, y),
            _ => math::fma(x, y, x),
        };
    }
}
