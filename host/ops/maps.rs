//! Activation maps, `out = act(a)` element-wise: f32, and f16 / bf16 stored in 16 bits and
//! computed in f32 (one rounding of the f32 result).
use super::Library;
use crate::kernels::Kernels;
use crate::runtime::half::{bf16, f16};
use crate::runtime::{DeviceCopy, DeviceSlice, Result, Stream};

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

/// Element types with activation-map kernels: f32, f16, bf16.
pub trait MapElem: DeviceCopy {
    #[doc(hidden)]
    fn launch(
        k: &Kernels,
        s: &Stream,
        act: Activation,
        a: &DeviceSlice<Self>,
        out: &mut DeviceSlice<Self>,
    ) -> Result<()>;
}

macro_rules! map_elem {
    ($t:ty, $relu:ident, $gelu:ident, $sigmoid:ident, $exp:ident, $tanh:ident) => {
        impl MapElem for $t {
            fn launch(
                k: &Kernels,
                s: &Stream,
                act: Activation,
                a: &DeviceSlice<Self>,
                out: &mut DeviceSlice<Self>,
            ) -> Result<()> {
                match act {
                    Activation::Relu => k.$relu.launch(s, a, out),
                    Activation::Gelu => k.$gelu.launch(s, a, out),
                    Activation::Sigmoid => k.$sigmoid.launch(s, a, out),
                    Activation::Exp => k.$exp.launch(s, a, out),
                    Activation::Tanh => k.$tanh.launch(s, a, out),
                }
            }
        }
    };
}
map_elem!(f32, relu_f32, gelu_f32, sigmoid_f32, exp_f32, tanh_f32);
map_elem!(f16, relu_f16, gelu_f16, sigmoid_f16, exp_f16, tanh_f16);
map_elem!(
    bf16,
    relu_bf16,
    gelu_bf16,
    sigmoid_bf16,
    exp_bf16,
    tanh_bf16
);

impl Library {
    /// `out = act(a)`, element-wise.
    pub fn map<T: MapElem>(
        &self,
        s: &Stream,
        act: Activation,
        a: &DeviceSlice<T>,
        out: &mut DeviceSlice<T>,
    ) -> Result<()> {
        T::launch(&self.kernels, s, act, a, out)
    }
}
