//! Bias + GELU (the transformer MLP's first activation): `out[r][c] = gelu(x[r][c] + bias[c])`
//! for a row-major matrix with `bias.len()` columns, tanh form, f32 and bf16 storage with f32
//! math (`Elem::gelu`: `math::gelu` for f32, `math::for_half::gelu` for bf16). Two generic
//! kernels, both at `launch_bounds(128, 16)` (32 registers, all 2048 threads of an SM
//! resident): [`bias_gelu_cols`] for rows of whole aligned packets (each thread on one column
//! packet down a band of rows: 96% of copy at 65536 × 4096, f32 and bf16), and [`bias_gelu`]
//! for everything else (one packet per thread, the column a remainder per packet, element by
//! element where rows split packets or buffers are misaligned; 90% f32, 93% bf16). In
//! `bias_gelu`, each packet's chain (index, column remainder, bias load, GELU) is long: more
//! threads hid it (85 → 89% of copy at 32 registers; two packets per thread at 48 registers,
//! 73%), 128-thread blocks measured 0.3% (f32) and 1.7% (bf16) faster than 256, 64 threads
//! 13–16% slower (docs/TUNING.md, polish6's a/b); its per-packet instructions made it
//! issue-bound, which `bias_gelu_cols` removes (round 9).
use crate::elem::{Elem, lanes};
use gpukit_device::{self as gpu, Manual, OutSlice, PacketMut, Packets, StridedPackets, kernel};

/// out = gelu(x + bias) row-wise. `x.len()` a multiple of `bias.len()` (the host checks).
#[kernel(
    same_len(x, out),
    elements = out,
    bytes_per_thread = 16,
    instances(f32, Bf16),
    block = 128,
    launch_bounds(128, 16)
)]
pub fn bias_gelu<E: Elem>(x: &[E], bias: &[E], mut out: OutSlice<E, StridedPackets<1>>) {
    let f = E::gelu;
    let cols = bias.len();
    let (px, pb) = (Packets::new(x), Packets::new(bias));
    let col_of = |i: usize| {
        if i <= u32::MAX as usize && cols <= u32::MAX as usize {
            (i as u32 % cols as u32) as usize
        } else {
            i % cols
        }
    };
    // Packet `id` for thread `id` (one packet per thread).
    let [p] = out.thread_packets();
    if let Some((i, p)) = p {
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
                let col = next_cols(col_of(i), cols);
                for (k, ok) in o.iter_mut().enumerate() {
                    *ok = E::from_f32(f(x[i + k].to_f32() + bias[col(k)].to_f32()));
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
    let col = next_cols(col_of(i), bias.len());
    let v = |k: usize| {
        if k < E::PER {
            f(x[i + k].to_f32() + bias[col(k)].to_f32())
        } else {
            0.0
        }
    };
    // An array literal with constant indices stays in registers (a loop may not be unrolled).
    let w = E::pack([v(0), v(1), v(2), v(3), v(4), v(5), v(6), v(7)]);
    (w[0], w[1], w[2], w[3])
}

/// The column of element `k < 8` after one at column `c0 < cols`: one compare for rows of 8 or
/// more columns, a 32-bit remainder for narrower ones (no 64-bit division per element, whose
/// call held registers that a 32-register cap turned into spills).
#[inline(always)]
fn next_cols(c0: usize, cols: usize) -> impl Fn(usize) -> usize {
    move |k| {
        let c = c0 + k;
        if cols >= 8 {
            if c >= cols { c - cols } else { c }
        } else {
            (c as u32 % cols as u32) as usize
        }
    }
}

/// Bias + GELU for rows of whole 16-byte packets with `x`, `bias` and `out` aligned (the host
/// checks and launches [`bias_gelu`] otherwise; here nothing is written): each thread keeps one
/// column packet for a band of rows. With `cblocks` blocks per row of packets and `bands = grid
/// / cblocks`, block `b` covers column packets `(b mod cblocks) · threads + t` of rows `b /
/// cblocks`, that plus `bands`, and so on (extra blocks do nothing), so the bias packet is read
/// once per thread and the next packet is one address step away: ≈ 125 instructions per f32
/// packet against `bias_gelu`'s ≈ 240 (index arithmetic, the column remainder), which at 32
/// registers made it issue-bound (89.6% of copy). Measured on the H200 at 65536 × 4096
/// (docs/TUNING.md round 9), launched with 16 waves of resident blocks: f32 0.5265 ms (96% of
/// copy) against 0.5629, bf16 0.2620 (96%) against 0.2724; at one wave 0.559 and 0.289, with
/// two packets in flight per thread 0.568 and 0.297, evict-first stores no faster.
#[kernel(same_len(x, out), instances(f32, Bf16), launch_bounds(128, 16))]
pub fn bias_gelu_cols<E: Elem>(x: &[E], bias: &[E], mut out: OutSlice<E, Manual>) {
    let f = E::gelu;
    let cols = bias.len();
    let (Some(px), Some(pb)) = (Packets::new(x), Packets::new(bias)) else {
        return;
    };
    let out_aligned = (out.as_mut_ptr() as usize).is_multiple_of(16);
    if cols == 0 || !cols.is_multiple_of(E::PER) || !px.tail().is_empty() || !out_aligned {
        return;
    }
    let per_row = cols / E::PER;
    let (t, nt) = (gpu::thread_idx().x as usize, gpu::block_dim().x as usize);
    let (b, grid) = (gpu::block_idx().x as usize, gpu::grid_dim().x as usize);
    let cblocks = per_row.div_ceil(nt);
    let (band, bands) = (b / cblocks, grid / cblocks);
    let c = (b % cblocks) * nt + t;
    if c >= per_row || band >= bands {
        return;
    }
    let bv = E::unpack(pb.get(c));
    let (total, step) = (px.len(), bands * per_row);
    let mut q = band * per_row + c;
    while q < total {
        let v = E::unpack(px.get(q));
        let w = E::pack(lanes::<E>(|k| f(v[k] + bv[k])));
        // SAFETY: packet `q` belongs to this thread alone: the (band, column packet) pairs are
        // distinct across threads and `q ≡ band · per_row + c` steps by whole bands of rows;
        // `out` is aligned and as long as `x` (checked above, and `same_len`).
        if let Some(o) = unsafe { out.claim_packet_mut(q * E::PER) } {
            o.set(w);
        }
        q += step;
    }
}
