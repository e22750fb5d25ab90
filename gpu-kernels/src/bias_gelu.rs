//! Bias + GELU (the transformer MLP's first activation): `out[r][c] = gelu(x[r][c] + bias[c])`
//! for a row-major matrix with `bias.len()` columns, tanh form (as `math::gelu`), f32 and bf16
//! storage with f32 math. One 16-byte packet per thread, like the maps.
use crate::elem::{Elem, lanes};
use gpukit_device::{self as gpu, Bf16, OutSlice, PacketMut, Packets, kernel};

#[inline(always)]
fn bias_gelu<E: Elem>(x: &[E], bias: &[E], out: &mut OutSlice<E>, f: impl Fn(f32) -> f32) {
    let cols = bias.len();
    let (px, pb) = (Packets::new(x), Packets::new(bias));
    let col_of = |i: usize| {
        if i <= u32::MAX as usize && cols <= u32::MAX as usize {
            (i as u32 % cols as u32) as usize
        } else {
            i % cols
        }
    };
    if let Some((i, p)) = out.thread_packet() {
        match (p, px, pb) {
            (PacketMut::Full(o), Some(px), Some(pb)) if cols % E::PER == 0 => {
                let v = E::unpack(px.get(i / E::PER));
                let b = E::unpack(pb.get(col_of(i) / E::PER));
                o.set(E::pack(lanes::<E>(|k| f(v[k] + b[k]))));
            }
            (PacketMut::Full(o), _, _) => {
                let (a, b, c, d) = scalar_packet(x, bias, i, &col_of, &f);
                o.set([a, b, c, d]);
            }
            (PacketMut::Partial(o), _, _) => {
                for (k, ok) in o.iter_mut().enumerate() {
                    *ok = E::from_f32(f(x[i + k].to_f32() + bias[col_of(i + k)].to_f32()));
                }
            }
        }
    }
}

/// The packet at `i` element by element (misaligned inputs or widths that split packets).
#[inline(always)]
fn scalar_packet<E: Elem>(
    x: &[E],
    bias: &[E],
    i: usize,
    col_of: &impl Fn(usize) -> usize,
    f: &impl Fn(f32) -> f32,
) -> (u32, u32, u32, u32) {
    let v = |k: usize| {
        if k < E::PER {
            f(x[i + k].to_f32() + bias[col_of(i + k)].to_f32())
        } else {
            0.0
        }
    };
    // An array literal with constant indices stays in registers (a loop may not be unrolled).
    let w = E::pack([v(0), v(1), v(2), v(3), v(4), v(5), v(6), v(7)]);
    (w[0], w[1], w[2], w[3])
}

/// out = gelu(x + bias) row-wise, f32 (accurate `math::gelu`). `x.len()` a multiple of
/// `bias.len()` (the host checks).
#[kernel(same_len(x, out), elements = out, items_per_thread = 4)]
pub fn bias_gelu_f32(x: &[f32], bias: &[f32], mut out: OutSlice<f32>) {
    bias_gelu(x, bias, &mut out, gpu::math::gelu);
}

/// out = gelu(x + bias) row-wise, bf16 storage, f32 math (`math::for_half::gelu`).
#[kernel(same_len(x, out), elements = out, items_per_thread = 8)]
pub fn bias_gelu_bf16(x: &[Bf16], bias: &[Bf16], mut out: OutSlice<Bf16>) {
    bias_gelu(x, bias, &mut out, gpu::math::for_half::gelu);
}
