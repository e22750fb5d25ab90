//! Bias + GELU (the transformer MLP's first activation): `out[r][c] = gelu(x[r][c] + bias[c])`
//! for a row-major matrix with `bias.len()` columns, tanh form (as `math::gelu`), f32 and bf16
//! storage with f32 math. Two 16-byte packets per thread, like the maps.
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
    let vector = cols % E::PER == 0;
    let [p0, p1] = out.thread_packets::<2>();
    // Both packets' loads (x and bias) are issued before any math.
    let load = #[inline(always)]
    |p: &Option<(usize, PacketMut<'_, E>)>| -> ([u32; 4], [u32; 4], bool) {
        match (p, &px, &pb) {
            (Some((i, PacketMut::Full(_))), Some(px), Some(pb)) if vector => {
                (px.get(i / E::PER), pb.get(col_of(*i) / E::PER), true)
            }
            _ => ([0; 4], [0; 4], false),
        }
    };
    let (x0, b0, ok0) = load(&p0);
    let (x1, b1, ok1) = load(&p1);
    let put = #[inline(always)]
    |p: Option<(usize, PacketMut<'_, E>)>, xw: [u32; 4], bw: [u32; 4], ok: bool| match p {
        None => {}
        Some((_, PacketMut::Full(o))) if ok => {
            let (v, b) = (E::unpack(xw), E::unpack(bw));
            o.set(E::pack(lanes::<E>(|k| f(v[k] + b[k]))));
        }
        Some((i, PacketMut::Full(o))) => {
            // Misaligned inputs or widths that split packets: element by element.
            let r = lanes::<E>(|k| f(x[i + k].to_f32() + bias[col_of(i + k)].to_f32()));
            o.set(E::pack(r));
        }
        Some((i, PacketMut::Partial(o))) => {
            for (k, ok) in o.iter_mut().enumerate() {
                *ok = E::from_f32(f(x[i + k].to_f32() + bias[col_of(i + k)].to_f32()));
            }
        }
    };
    put(p0, x0, b0, ok0);
    put(p1, x1, b1, ok1);
}

/// out = gelu(x + bias) row-wise, f32 (accurate `math::gelu`). `x.len()` a multiple of
/// `bias.len()` (the host checks).
#[kernel(same_len(x, out), elements = out, items_per_thread = 8)]
pub fn bias_gelu_f32(x: &[f32], bias: &[f32], mut out: OutSlice<f32>) {
    bias_gelu(x, bias, &mut out, gpu::math::gelu);
}

/// out = gelu(x + bias) row-wise, bf16 storage, f32 math (`math::for_half::gelu`).
#[kernel(same_len(x, out), elements = out, items_per_thread = 16)]
pub fn bias_gelu_bf16(x: &[Bf16], bias: &[Bf16], mut out: OutSlice<Bf16>) {
    bias_gelu(x, bias, &mut out, gpu::math::for_half::gelu);
}
