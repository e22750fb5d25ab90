//! Bias + GELU (the transformer MLP's first activation): `out[r][c] = gelu(x[r][c] + bias[c])`
//! for a row-major matrix with `bias.len()` columns, tanh form, f32 and bf16 storage with f32
//! math (`Elem::gelu`: `math::gelu` for f32, `math::for_half::gelu` for bf16). One generic
//! source; each thread maps two 16-byte packets of `x` as the activation maps do
//! (`map_packets_at`), reading the bias element by element (it stays in L1).
use crate::elem::{Elem, map_packets_at};
use gpukit_device::{Input, Manual, OutSlice, kernel};

/// out = gelu(x + bias) row-wise. `x.len()` a multiple of `bias.len()` (the host checks).
#[kernel(same_len(x, out), elements = out, bytes_per_thread = 32, instances(f32, Bf16))]
pub fn bias_gelu<T: Elem>(x: &[T], bias: &[T], mut out: OutSlice<T, Manual>) {
    let (b, cols) = (Input::new(bias), bias.len());
    // The column of element `i`, in 32-bit arithmetic when the indices fit.
    let col_of = |i: usize| {
        if i <= u32::MAX as usize && cols <= u32::MAX as usize {
            (i as u32 % cols as u32) as usize
        } else {
            i % cols
        }
    };
    map_packets_at::<T, 2>(x, &mut out, |i, v| T::gelu(v + b.get(col_of(i)).to_f32()));
}
