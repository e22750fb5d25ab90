//! Element-wise ops on vectors: `out = a (op) b`, `out = alpha · x`, `out = value`, and AXPY
//! (`out = alpha · x + y`). Four elements per thread with 16-byte accesses when the buffers
//! allow; every output element is written exactly once. Slices of unequal length are an error.
use super::Library;
use crate::kernels::Kernels;
use crate::runtime::{DeviceCopy, DeviceSlice, Result, Stream};

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

/// Element types with an AXPY kernel: f32 and f64.
pub trait AxpyElem: DeviceCopy {
    #[doc(hidden)]
    fn launch(
        k: &Kernels,
        s: &Stream,
        alpha: Self,
        x: &DeviceSlice<Self>,
        y: &DeviceSlice<Self>,
        out: &mut DeviceSlice<Self>,
    ) -> Result<()>;
}

impl AxpyElem for f32 {
    fn launch(
        k: &Kernels,
        s: &Stream,
        alpha: f32,
        x: &DeviceSlice<f32>,
        y: &DeviceSlice<f32>,
        out: &mut DeviceSlice<f32>,
    ) -> Result<()> {
        k.axpy_f32.launch(s, alpha, x, y, out)
    }
}

impl AxpyElem for f64 {
    fn launch(
        k: &Kernels,
        s: &Stream,
        alpha: f64,
        x: &DeviceSlice<f64>,
        y: &DeviceSlice<f64>,
        out: &mut DeviceSlice<f64>,
    ) -> Result<()> {
        k.axpy_f64.launch(s, alpha, x, y, out)
    }
}

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
        self.kernels.fill_f32.launch(s, value, out)
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
        T::launch(&self.kernels, s, alpha, x, y, out)
    }
}
