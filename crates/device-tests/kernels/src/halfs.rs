//! Half-precision conversions and arithmetic.
use gpukit_device::{Bf16, Bf16x2, F16x2, OutSlice, half, kernel};

/// `out[i] = x[i] as f32` (exact).
#[kernel(same_len(x, out), elements = out)]
pub fn f16_to_f32(x: &[f16], mut out: OutSlice<f32>) {
    if let Some((i, o)) = out.thread_elem() {
        *o = half::f16_to_f32(x[i]);
    }
}

/// `out[i] = x[i]` rounded to f16 (nearest even).
#[kernel(same_len(x, out), elements = out)]
pub fn f32_to_f16(x: &[f32], mut out: OutSlice<f16>) {
    if let Some((i, o)) = out.thread_elem() {
        *o = half::f16_from_f32(x[i]);
    }
}

/// `out[i] = x[i]` widened to f32 (exact).
#[kernel(same_len(x, out), elements = out)]
pub fn bf16_to_f32(x: &[Bf16], mut out: OutSlice<f32>) {
    if let Some((i, o)) = out.thread_elem() {
        *o = x[i].to_f32();
    }
}

/// `out[i] = x[i]` rounded to bf16 (nearest even, `cvt.rn.bf16.f32`).
#[kernel(same_len(x, out), elements = out)]
pub fn f32_to_bf16(x: &[f32], mut out: OutSlice<Bf16>) {
    if let Some((i, o)) = out.thread_elem() {
        *o = Bf16::from_f32(x[i]);
    }
}

/// `out[i] = x[i]` rounded to bf16 from f64.
#[kernel(same_len(x, out), elements = out)]
pub fn f64_to_bf16(x: &[f64], mut out: OutSlice<Bf16>) {
    if let Some((i, o)) = out.thread_elem() {
        *o = Bf16::from_f64(x[i]);
    }
}

/// `out[i] = [a+b, a-b, a*b, a/b, fma(a, b, a), -a][op]` in bf16.
#[kernel(same_len(a, b, out), elements = out)]
pub fn bf16_arith(a: &[Bf16], b: &[Bf16], mut out: OutSlice<Bf16>, op: u32) {
    if let Some((i, o)) = out.thread_elem() {
        let (x, y) = (a[i], b[i]);
        *o = match op {
            0 => x + y,
            1 => x - y,
            2 => x * y,
            3 => x / y,
            4 => x.mul_add(y, x),
            _ => -x,
        };
    }
}

/// `out[i] = [a+b, a-b, a*b, a/b, fma(a, b, a)][op]` in native f16.
#[kernel(same_len(a, b, out), elements = out)]
pub fn f16_arith(a: &[f16], b: &[f16], mut out: OutSlice<f16>, op: u32) {
    if let Some((i, o)) = out.thread_elem() {
        let (x, y) = (a[i], b[i]);
        *o = match op {
            0 => x + y,
            1 => x - y,
            2 => x * y,
            3 => x / y,
            _ => F16x2::new(x, x)
                .mul_add(F16x2::new(y, y), F16x2::new(x, x))
                .lo(),
        };
    }
}

/// Packed pairs: thread `t` converts `x[2t], x[2t+1]` with one `cvt.rn.{f16,bf16}x2.f32` into
/// `h`, `b` (elements 2t, 2t+1), and writes `p*p + p` (packed fma), `p + p`, `p * p`
/// lanewise into `hf`, `bf` at 6t..6t+6 (lo, hi of fma, add, mul).
#[kernel]
pub fn packed_pairs(
    x: &[f32],
    mut h: OutSlice<f16>,
    mut b: OutSlice<Bf16>,
    mut hf: OutSlice<f16>,
    mut bf: OutSlice<Bf16>,
) {
    let hl = h.len();
    let Some(mut ht) = h.thread_tile::<2, 1>(hl) else {
        return;
    };
    let (_, c0) = ht.origin();
    if c0 + 1 >= x.len() {
        return;
    }
    let ph = F16x2::from_f32s(x[c0], x[c0 + 1]);
    let pb = Bf16x2::from_f32s(x[c0], x[c0 + 1]);
    ht.row_mut(0).copy_from_slice(&[ph.lo(), ph.hi()]);
    let bl = b.len();
    if let Some(mut bt) = b.thread_tile::<2, 1>(bl) {
        bt.row_mut(0).copy_from_slice(&[pb.lo(), pb.hi()]);
    }
    let (fh, ah, mh) = (ph.mul_add(ph, ph), ph + ph, ph * ph);
    let (fb, ab, mb) = (pb.mul_add(pb, pb), pb + pb, pb * pb);
    let hfl = hf.len();
    if let Some(mut t) = hf.thread_tile::<6, 1>(hfl) {
        t.row_mut(0)
            .copy_from_slice(&[fh.lo(), fh.hi(), ah.lo(), ah.hi(), mh.lo(), mh.hi()]);
    }
    let bfl = bf.len();
    if let Some(mut t) = bf.thread_tile::<6, 1>(bfl) {
        t.row_mut(0)
            .copy_from_slice(&[fb.lo(), fb.hi(), ab.lo(), ab.hi(), mb.lo(), mb.hi()]);
    }
}
