//! Element-wise ops on vectors: `out = a (op) b`, `out = alpha · x`, `out = value`, and AXPY
//! (`out = alpha · x + y`). Four elements per thread with 16-byte accesses when the buffers
//! allow; every output element is written exactly once. Slices of unequal length are an error.
use super::{Library, dim_u32};
use crate::kernels::AxpyInstance;
use crate::runtime::{DeviceCopy, DeviceSlice, LaunchConfig, Result, Stream};

/// Threads per block of `fill`.
const FILL_BLOCK: u32 = 256;
/// Elements each block of `fill` writes: two 16-byte stores per thread (measured on the H200 at
/// 2^28: one store 0.257 ms, two 0.2315, four 0.233, eight 0.237; torch 0.231).
const FILL_ROW: u32 = FILL_BLOCK * 4 * 2;

/// Element-wise binary operations on f32 vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b` (IEEE division: `x / 0` is ±∞ or NaN)
    Div,
}

/// Element types with an AXPY kernel (f32, f64): the instances of the generic `axpy` kernel.
pub trait AxpyElem: DeviceCopy + AxpyInstance {}

impl<T: DeviceCopy + AxpyInstance> AxpyElem for T {}

impl Library {
    /// `out = a (op) b`, element-wise.
    pub fn binary(
        &self,
        s: &Stream,
        op: Binary,
        a: &DeviceSlice<f32>,
        b: &DeviceSlice<f32>,
        out: &mut DeviceSlice<f32>,
    ) -> Result<()> {
        let k = &self.kernels;
        match op {
            Binary::Add => k.add_f32.launch(s, a, b, out),
            Binary::Sub => k.sub_f32.launch(s, a, b, out),
            Binary::Mul => k.mul_f32.launch(s, a, b, out),
            Binary::Div => k.div_f32.launch(s, a, b, out),
        }
    }

    /// `out = alpha · x`, element-wise.
    pub fn scale(
        &self,
        s: &Stream,
        alpha: f32,
        x: &DeviceSlice<f32>,
        out: &mut DeviceSlice<f32>,
    ) -> Result<()> {
        self.kernels.scale_f32.launch(s, alpha, x, out)
    }

    /// Every element of `out` set to `value`.
    pub fn fill(&self, s: &Stream, value: f32, out: &mut DeviceSlice<f32>) -> Result<()> {
        let blocks = dim_u32("fill", "blocks", out.len().div_ceil(FILL_ROW as usize))?;
        let cfg = LaunchConfig::linear(blocks, FILL_BLOCK);
        self.kernels
            .fill_f32
            .launch_with(s, &cfg, value, FILL_ROW, out)
    }

    /// `out = alpha · x + y`, element-wise, with one rounding (a fused multiply-add).
    pub fn axpy<T: AxpyElem>(
        &self,
        s: &Stream,
        alpha: T,
        x: &DeviceSlice<T>,
        y: &DeviceSlice<T>,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        self.kernels.axpy.launch(s, alpha, x, y, out)
    }
}
