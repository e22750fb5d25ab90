//! GPU tests of gpukit-device's f16 and bf16: conversions bit-exact with the `half` crate,
//! arithmetic and packed pairs rounded once. They need a CUDA GPU and are `#[ignore]`d.
#![allow(clippy::needless_range_loop)]
mod common;
use common::{cfg, get, rng, setup, zeros};
use gpukit_runtime::half::{bf16, f16};
use rand::Rng;

fn same_f32(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn half_conversions_bit_exact_with_the_half_crate() {
    let (gpu, k, s) = setup();
    let all: Vec<u16> = (0..=u16::MAX).collect();
    // f16 -> f32 and bf16 -> f32 over all 65536 patterns.
    let h: Vec<f16> = all.iter().map(|&b| f16::from_bits(b)).collect();
    let dh = gpu.upload(&h).unwrap();
    let mut out = zeros::<f32>(&gpu, h.len());
    k.f16_to_f32.launch(&s, &dh, &mut out).unwrap();
    for (i, g) in get(&s, &out).into_iter().enumerate() {
        assert!(same_f32(g, h[i].to_f32()), "f16 {:#06x}: {g}", all[i]);
    }
    let bh: Vec<bf16> = all.iter().map(|&b| bf16::from_bits(b)).collect();
    let dbh = gpu.upload(&bh).unwrap();
    k.bf16_to_f32.launch(&s, &dbh, &mut out).unwrap();
    for (i, g) in get(&s, &out).into_iter().enumerate() {
        assert!(same_f32(g, bh[i].to_f32()), "bf16 {:#06x}: {g}", all[i]);
    }

    // f32 -> f16 / bf16: every half value, every midpoint between neighbours (ties to even),
    // +-1 ulp around the midpoints, and random f32 bit patterns.
    let mut r = rng(7);
    let mut x: Vec<f32> = Vec::new();
    for b in 0..=u16::MAX {
        for v in [f16::from_bits(b).to_f32(), bf16::from_bits(b).to_f32()] {
            x.push(v);
        }
        let (h0, h1) = (
            f16::from_bits(b).to_f32(),
            f16::from_bits(b.wrapping_add(1)).to_f32(),
        );
        let (b0, b1) = (
            bf16::from_bits(b).to_f32(),
            bf16::from_bits(b.wrapping_add(1)).to_f32(),
        );
        for (lo, hi) in [(h0, h1), (b0, b1)] {
            if lo.is_finite() && hi.is_finite() {
                let m = ((lo as f64 + hi as f64) / 2.0) as f32;
                x.extend([
                    m,
                    f32::from_bits(m.to_bits() + 1),
                    f32::from_bits(m.to_bits().wrapping_sub(1)),
                ]);
            }
        }
    }
    x.extend((0..1 << 20).map(|_| f32::from_bits(r.random())));
    let dx = gpu.upload(&x).unwrap();
    let mut oh = zeros::<f16>(&gpu, x.len());
    k.f32_to_f16.launch(&s, &dx, &mut oh).unwrap();
    for (i, g) in get(&s, &oh).into_iter().enumerate() {
        let want = f16::from_f32(x[i]);
        assert!(
            (g.is_nan() && want.is_nan()) || g.to_bits() == want.to_bits(),
            "f32->f16 {:e} ({:#x}): got {:#06x} want {:#06x}",
            x[i],
            x[i].to_bits(),
            g.to_bits(),
            want.to_bits()
        );
    }
    let mut ob = zeros::<bf16>(&gpu, x.len());
    k.f32_to_bf16.launch(&s, &dx, &mut ob).unwrap();
    for (i, g) in get(&s, &ob).into_iter().enumerate() {
        let want = bf16::from_f32(x[i]);
        assert!(
            (g.is_nan() && want.is_nan()) || g.to_bits() == want.to_bits(),
            "f32->bf16 {:e} ({:#x}): got {:#06x} want {:#06x}",
            x[i],
            x[i].to_bits(),
            g.to_bits(),
            want.to_bits()
        );
    }

    // f64 -> bf16 just off the midpoints, where rounding through f32 naively would round twice.
    let mut xd = Vec::new();
    let mut want = Vec::new();
    for b in 0..0x7f7fu16 {
        let (lo, hi) = (bf16::from_bits(b).to_f64(), bf16::from_bits(b + 1).to_f64());
        let m = (lo + hi) / 2.0;
        let d = (hi - lo) * 2f64.powi(-30);
        xd.extend([m - d, m + d]);
        want.extend([b, b + 1]);
    }
    let dxd = gpu.upload(&xd).unwrap();
    let mut obd = zeros::<bf16>(&gpu, xd.len());
    k.f64_to_bf16.launch(&s, &dxd, &mut obd).unwrap();
    for (i, g) in get(&s, &obd).into_iter().enumerate() {
        assert_eq!(g.to_bits(), want[i], "f64->bf16 {:e}", xd[i]);
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn half_arithmetic_and_packed_pairs() {
    let (gpu, k, s) = setup();
    let mut r = rng(8);
    let n = 100_000;
    let fa: Vec<f32> = (0..n).map(|_| r.random_range(-100.0..100.0)).collect();
    let fb: Vec<f32> = (0..n).map(|_| r.random_range(-100.0..100.0)).collect();
    // bf16: results rounded once from the exact f64 value.
    let (a, b): (Vec<bf16>, Vec<bf16>) = (
        fa.iter().map(|&v| bf16::from_f32(v)).collect(),
        fb.iter().map(|&v| bf16::from_f32(v)).collect(),
    );
    let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
    for op in 0..6u32 {
        let mut out = zeros::<bf16>(&gpu, n);
        k.bf16_arith.launch(&s, &da, &db, &mut out, op).unwrap();
        for (i, g) in get(&s, &out).into_iter().enumerate() {
            let (x, y) = (a[i].to_f64(), b[i].to_f64());
            let w = bf16::from_f32(round_odd_f32(
                [x + y, x - y, x * y, x / y, x * y + x, -x][op as usize],
            ));
            assert!(
                g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                "bf16 op {op}: {x} {y} -> {g} want {w}"
            );
        }
    }
    let (a, b): (Vec<f16>, Vec<f16>) = (
        fa.iter().map(|&v| f16::from_f32(v)).collect(),
        fb.iter().map(|&v| f16::from_f32(v)).collect(),
    );
    let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
    for op in 0..5u32 {
        let mut out = zeros::<f16>(&gpu, n);
        k.f16_arith.launch(&s, &da, &db, &mut out, op).unwrap();
        for (i, g) in get(&s, &out).into_iter().enumerate() {
            let (x, y) = (a[i].to_f64(), b[i].to_f64());
            let w = f16::from_f32(round_odd_f32(
                [x + y, x - y, x * y, x / y, x * y + x][op as usize],
            ));
            assert!(
                g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                "f16 op {op}: {x} {y} -> {g} want {w}"
            );
        }
    }
    // Packed pairs.
    let dx = gpu.upload(&fa).unwrap();
    let (mut h, mut bb) = (zeros::<f16>(&gpu, n), zeros::<bf16>(&gpu, n));
    let (mut hf, mut bf) = (zeros::<f16>(&gpu, 3 * n), zeros::<bf16>(&gpu, 3 * n));
    k.packed_pairs
        .launch_with(&s, &cfg(n / 2, 256), &dx, &mut h, &mut bb, &mut hf, &mut bf)
        .unwrap();
    let (h, bb, hf, bf) = (get(&s, &h), get(&s, &bb), get(&s, &hf), get(&s, &bf));
    for t in 0..n / 2 {
        for j in 0..2 {
            let (ph, pb) = (f16::from_f32(fa[2 * t + j]), bf16::from_f32(fa[2 * t + j]));
            assert_eq!(h[2 * t + j].to_bits(), ph.to_bits(), "cvt f16x2 t={t}");
            assert_eq!(bb[2 * t + j].to_bits(), pb.to_bits(), "cvt bf16x2 t={t}");
            let (x, y) = (ph.to_f64(), pb.to_f64());
            let wh = [x * x + x, x + x, x * x].map(|v| f16::from_f32(round_odd_f32(v)));
            let wb = [y * y + y, y + y, y * y].map(|v| bf16::from_f32(round_odd_f32(v)));
            for op in 0..3 {
                assert_eq!(
                    hf[6 * t + 2 * op + j].to_bits(),
                    wh[op].to_bits(),
                    "f16x2 op {op} t={t}"
                );
                assert_eq!(
                    bf[6 * t + 2 * op + j].to_bits(),
                    wb[op].to_bits(),
                    "bf16x2 op {op} t={t}"
                );
            }
        }
    }
}

/// `x` rounded to f32 with round-to-odd: a second rounding of the result to any format with at
/// least two fewer significand bits (f16, bf16) is then the correctly rounded single rounding of
/// `x`. (`half` 1.8's `from_f64` rounds twice and is off by one ulp in some ties-adjacent cases.)
fn round_odd_f32(x: f64) -> f32 {
    let t = x as f32;
    if !t.is_finite() || t as f64 == x {
        return t;
    }
    // Truncate toward zero, then make the last bit odd.
    let trunc = if (t as f64).abs() > x.abs() {
        f32::from_bits(t.to_bits() - 1)
    } else {
        t
    };
    f32::from_bits(trunc.to_bits() | 1)
}
