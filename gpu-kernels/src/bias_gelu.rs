//! Bias + GELU (the transformer MLP's first activation): `out[r][c] = gelu(x[r][c] + bias[c])`
//! for a row-major matrix with `bias.len()` columns, tanh form, f32 and bf16 storage with f32
//! math (`Elem::gelu`: `math::gelu` for f32, `math::for_half::gelu` for bf16). One generic
//! source; eight elements per thread (16-byte accesses: two packets of f32, one of bf16).
use crate::elem::Elem;
use gpukit_device::{self as gpu, Input, OutSlice, PerThread, kernel};

/// out = gelu(x + bias) row-wise. `x.len()` a multiple of `bias.len()` (the host checks).
#[kernel(same_len(x, out), instances(f32, Bf16))]
pub fn bias_gelu<T: Elem>(x: &[T], bias: &[T], mut out: OutSlice<T, PerThread<8>>) {
    let Some(mut o) = out.thread_items() else {
        return;
    };
    let cols = bias.len();
    // The column of element `i`, in 32-bit arithmetic when the indices fit.
    let col_of = |i: usize| {
        if i <= u32::MAX as usize && cols <= u32::MAX as usize {
            (i as u32 % cols as u32) as usize
        } else {
            i % cols
        }
    };
    let i = o.start();
    let v: [T; 8] = Input::new(x).items(i);
    // Rows of whole groups of eight: the group's bias is eight consecutive elements.
    let b: [T; 8] = if cols.is_multiple_of(8) {
        Input::new(bias).items(col_of(i))
    } else {
        gpu::unroll::array(|k| bias[col_of(i + k)])
    };
    o.store(gpu::unroll::array(|k| {
        T::from_f32(T::gelu(v[k].to_f32() + b[k].to_f32()))
    }));
}
