//! Activation maps, `out = act(a)` element-wise: f32, and f16 / bf16 stored in 16 bits and
//! computed in f32 (one rounding of the f32 result); bias + GELU over the rows of a matrix.
//!
//! f32 maps are as accurate as torch's and CuPy's by default (measured against f64 on the H200:
//! exp ≤ 1 ulp, tanh ≤ 1 ulp, sigmoid ≤ 2.5 ulp, GELU mixed error ≤ 2^-22; see
//! `crates/device/src/math.rs`); [`Accuracy::Fast`] selects the SFU approximations (CUDA's
//! `__expf` family) instead. The f16/bf16 maps are within 0.5 ulp of their format.
use super::Library;
use crate::kernels::{
    BiasGeluColsInstance, BiasGeluInstance, ExpInstance, GeluInstance, ReluInstance,
    SigmoidInstance, TanhInstance,
};
use crate::runtime::{DeviceCopy, DeviceSlice, LaunchConfig, Result, Stream};

/// The activation functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `max(x, 0)`
    Relu,
    /// GELU, tanh approximation.
    Gelu,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `e^x`
    Exp,
    /// `tanh x`
    Tanh,
}

/// Which f32 math an activation map uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accuracy {
    /// As accurate as torch and CuPy (the default of [`Library::map`]).
    Accurate,
    /// SFU approximations: exp rel. error ≤ 2^-16, tanh ≤ 2^-10.5, sigmoid ≤ 2^-15, GELU mixed
    /// ≤ 2^-8 (the tanh form with `tanh.approx`).
    Fast,
}

/// Element types with activation-map kernels (f32, f16, bf16): those for which every map's
/// generic kernel has an instance. Implemented for exactly those; nothing to implement.
pub trait MapElem:
    DeviceCopy + ReluInstance + GeluInstance + SigmoidInstance + ExpInstance + TanhInstance
{
}

impl<T> MapElem for T where
    T: DeviceCopy + ReluInstance + GeluInstance + SigmoidInstance + ExpInstance + TanhInstance
{
}

/// Element types with a bias + GELU kernel (f32, bf16): the instances of `bias_gelu`.
pub trait BiasGeluElem: DeviceCopy + BiasGeluInstance + BiasGeluColsInstance {}

impl<T: DeviceCopy + BiasGeluInstance + BiasGeluColsInstance> BiasGeluElem for T {}

/// Threads per block of `bias_gelu_cols` (its `launch_bounds(128, 16)`).
const BIAS_GELU_THREADS: u32 = 128;

/// Waves of resident blocks `bias_gelu_cols` is launched with (each thread walks about
/// `rows / (waves · resident / cblocks)` rows): at 65536 × 4096 16 waves measured fastest of 1,
/// 2, 4, 8 and 16 (f32 0.5265 ms against 0.5425 at 4 and 0.559 at 1; TUNING round 9).
const BIAS_GELU_WAVES: usize = 16;

impl Library {
    /// `out = act(a)` over f32 with the chosen math ([`Accuracy`]).
    pub fn map_f32(
        &self,
        s: &Stream,
        act: Activation,
        accuracy: Accuracy,
        a: &DeviceSlice<f32>,
        out: &mut DeviceSlice<f32>,
    ) -> Result<()> {
        let k = &self.kernels;
        match (accuracy, act) {
            (Accuracy::Accurate, _) | (_, Activation::Relu) => self.map(s, act, a, out),
            (Accuracy::Fast, Activation::Gelu) => k.gelu_fast_f32.launch(s, a, out),
            (Accuracy::Fast, Activation::Sigmoid) => k.sigmoid_fast_f32.launch(s, a, out),
            (Accuracy::Fast, Activation::Exp) => k.exp_fast_f32.launch(s, a, out),
            (Accuracy::Fast, Activation::Tanh) => k.tanh_fast_f32.launch(s, a, out),
        }
    }

    /// `out[r][c] = gelu(x[r][c] + bias[c])` (tanh form) for a row-major matrix with
    /// `bias.len()` columns: the transformer MLP's bias and activation in one pass.
    pub fn bias_gelu<T: BiasGeluElem>(
        &self,
        s: &Stream,
        x: &DeviceSlice<T>,
        bias: &DeviceSlice<T>,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        crate::runtime::check_same_len("bias_gelu", &[("x", x.len()), ("out", out.len())])?;
        let cols = bias.len();
        if x.is_empty() {
            return Ok(());
        }
        if cols == 0 || !x.len().is_multiple_of(cols) {
            return Err(super::invalid(
                "bias_gelu",
                format!(
                    "`x` has {} elements, not a whole number of rows of bias.len() = {cols}",
                    x.len()
                ),
            ));
        }
        let k = &self.kernels;
        let size = std::mem::size_of::<T>();
        // Rows of whole aligned packets: each thread keeps one column packet (its bias read
        // once) down a band of rows (TUNING round 9: 96% of copy against 90% f32, 93% bf16).
        let whole = (cols * size).is_multiple_of(16)
            && [x.device_ptr(), bias.device_ptr(), out.device_ptr()]
                .iter()
                .all(|a| a.is_multiple_of(16));
        if !whole {
            return k.bias_gelu.launch(s, x, bias, out);
        }
        let f = k.bias_gelu_cols.function::<T>();
        let per_row = cols * size / 16;
        let cblocks = per_row.div_ceil(BIAS_GELU_THREADS as usize);
        let resident = f.occupancy(BIAS_GELU_THREADS, 0)?.max(1) * f.device_props().sm_count;
        let bands = (BIAS_GELU_WAVES * resident as usize / cblocks).clamp(1, x.len() / cols);
        let grid = u32::try_from(cblocks * bands).map_err(|_| {
            super::invalid(
                "bias_gelu",
                format!("{cols} columns need more than 2^32 blocks"),
            )
        })?;
        let cfg = LaunchConfig::linear(grid, BIAS_GELU_THREADS);
        k.bias_gelu_cols.launch_with(s, &cfg, x, bias, out)
    }

    /// `out = act(a)`, element-wise.
    pub fn map<T: MapElem>(
        &self,
        s: &Stream,
        act: Activation,
        a: &DeviceSlice<T>,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        let k = &self.kernels;
        match act {
            Activation::Relu => k.relu.launch(s, a, out),
            Activation::Gelu => k.gelu.launch(s, a, out),
            Activation::Sigmoid => k.sigmoid.launch(s, a, out),
            Activation::Exp => k.exp.launch(s, a, out),
            Activation::Tanh => k.tanh.launch(s, a, out),
        }
    }
}
