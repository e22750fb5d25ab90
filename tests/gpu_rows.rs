//! GPU tests of the row kernels (softmax of any width, LayerNorm, RMSNorm, residual add +
//! RMSNorm, cross-entropy), bias + GELU and the shapes that used to fail (tall transposes, empty
//! matrices, rows at and past the old 58112-column softmax limit), against f64 references.
//! `#[ignore]`d without a GPU.
mod common;
use common::setup;
use gpukit::Library;
use gpukit::ops::{CrossEntropy, Shape, SoftmaxKind};
use gpukit::runtime::half::bf16;
use gpukit::runtime::{self, Gpu, Stream};
use gpukit_test_support::reference::random_f32;

/// (rows, cols): one element, odd widths (rows not 16-byte aligned), rows held in registers
/// (1000, 4096 and 8192 columns: 2048 f32 packets, the register kernels' largest f32 row, with
/// 512 threads), one packet past that (the general engine), 16384 columns (the largest bf16
/// register row, an f32 general one), a row at and past the old limit, an LLM vocabulary row,
/// and a row wider than any block's shared memory.
const SHAPES: [(usize, usize); 11] = [
    (1, 1),
    (3, 5),
    (7, 1000),
    (9, 4096),
    (3, 8192),
    (2, 8196),
    (3, 16384),
    (5, 4097),
    (2, 58112),
    (3, 58113),
    (2, 151_936),
];

fn softmax_ref(row: &[f64], log: bool) -> Vec<f64> {
    let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = row.iter().map(|v| (v - m).exp()).sum();
    row.iter()
        .map(|v| {
            if log {
                v - m - z.ln()
            } else {
                (v - m).exp() / z
            }
        })
        .collect()
}

/// Runs softmax and log-softmax over `a` (`r` × `c`) in f32 and in bf16 and compares `rows` of
/// each with the f64 reference of the values the GPU saw: where the reference is NaN or
/// infinite (rows of -inf, a NaN) the same special value, elsewhere within 1e-5 (f32) / 8e-3
/// (bf16) relative for softmax and 2e-5 / 8e-3 of (1 + |y|) for log-softmax.
fn check_softmax(
    (gpu, lib, s): &(Gpu, Library, Stream),
    a: &[f32],
    (r, c): (usize, usize),
    rows: &[usize],
) {
    let ab: Vec<bf16> = a.iter().map(|&v| bf16::from_f32(v)).collect();
    let (da, dab) = (gpu.upload(a).unwrap(), gpu.upload(&ab).unwrap());
    for kind in [SoftmaxKind::Softmax, SoftmaxKind::LogSoftmax] {
        let log = kind == SoftmaxKind::LogSoftmax;
        let mut out = gpu.alloc_filled::<f32>(r * c, 0xff).unwrap();
        let mut outb = gpu.alloc_filled::<bf16>(r * c, 0xff).unwrap();
        lib.softmax_rows(s, kind, &da, Shape::new(r, c), &mut out)
            .unwrap();
        lib.softmax_rows(s, kind, &dab, Shape::new(r, c), &mut outb)
            .unwrap();
        runtime::sync(s).unwrap();
        let got: Vec<f64> = runtime::download(&out)
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect();
        let gotb: Vec<f64> = runtime::download(&outb)
            .unwrap()
            .iter()
            .map(|v| v.to_f64())
            .collect();
        let close = |g: f64, w: f64, tol: f64, tol_log: f64| {
            if !w.is_finite() {
                g.is_nan() == w.is_nan() && (w.is_nan() || g == w)
            } else if log {
                (g - w).abs() <= tol_log * (1.0 + w.abs())
            } else {
                (g - w).abs() <= tol * w + 1e-30
            }
        };
        for &i in rows {
            let row: Vec<f64> = a[i * c..(i + 1) * c].iter().map(|&v| v as f64).collect();
            let rowb: Vec<f64> = ab[i * c..(i + 1) * c].iter().map(|v| v.to_f64()).collect();
            let (want, wantb) = (softmax_ref(&row, log), softmax_ref(&rowb, log));
            for j in 0..c {
                let k = i * c + j;
                assert!(
                    close(got[k], want[j], 1e-5, 2e-5),
                    "{kind:?} {r}x{c} f32 ({i},{j}): {} vs {}",
                    got[k],
                    want[j]
                );
                assert!(
                    close(gotb[k], wantb[j], 8e-3, 8e-3),
                    "{kind:?} {r}x{c} bf16 ({i},{j}): {} vs {}",
                    gotb[k],
                    wantb[j]
                );
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn softmax_any_width_matches_f64() {
    let gpu_lib_stream = setup();
    for (t, &(r, c)) in SHAPES.iter().chain(&[(1, 300_007)]).enumerate() {
        let a: Vec<f32> = random_f32(r * c, 2000 + t as u64)
            .iter()
            .map(|v| v * 8.0)
            .collect();
        check_softmax(&gpu_lib_stream, &a, (r, c), &(0..r).collect::<Vec<_>>());
    }
    // Empty matrices are valid input and do nothing.
    let (gpu, lib, s) = &gpu_lib_stream;
    let e = gpu.alloc_zeroed::<f32>(0).unwrap();
    let mut o = gpu.alloc_zeroed::<f32>(0).unwrap();
    for (r, c) in [(0, 0), (0, 7), (5, 0)] {
        lib.softmax_rows(s, SoftmaxKind::Softmax, &e, Shape::new(r, c), &mut o)
            .unwrap();
    }
}

/// The wide (re-read) and split engines (rows too long for the register kernels, 16-byte
/// aligned, whole packets): a full batch of vocabulary rows (2048 × 151936: thousands of (row,
/// part) items, two ops and two types through the same stream, so the per-call scratch is
/// exercised many times; a sample of rows is compared), the first wide width (8196 f32
/// columns: one part) and the largest bf16 register row plus one packet (16392), one row alone
/// (every block's item in the same row), parts of unequal length (16392 f32: 4098 packets in 2
/// parts; 65540 f32: 5 parts, the last of one packet), rows whose blocks see only -inf (zeros
/// out) or a whole row of -inf (NaN, as torch), a NaN and a +inf (NaN rows, as torch); 2^18
/// columns (32 parts of f32), and vocabulary-like odd widths (151937, 131071, 2^18 + 3: the
/// general engine).
#[test]
#[ignore = "needs a CUDA GPU"]
fn softmax_split_rows_match_f64() {
    let gpu_lib_stream = setup();
    let shapes = [
        (2048, 151_936),
        (3, 8196),
        (5, 16_392),
        (5, 151_936),
        (3, 262_144),
        (2, 151_937),
        (2, 131_071),
        (2, 262_147),
        (5, 57_600),
        (1, 8196),
        (1, 151_936),
        (7, 16_392),
        (3, 65_540),
    ];
    for (t, &(r, c)) in shapes.iter().enumerate() {
        let mut a: Vec<f32> = random_f32(r * c, 3000 + t as u64)
            .iter()
            .map(|v| v * 8.0)
            .collect();
        if t == 3 {
            a[..c / 2].fill(f32::NEG_INFINITY);
            a[c..2 * c].fill(f32::NEG_INFINITY);
            a[2 * c + 7] = f32::NAN;
            a[4 * c - 9..4 * c].fill(f32::NEG_INFINITY);
            a[4 * c + 100] = f32::INFINITY;
        }
        let sample: Vec<usize> = (0..r)
            .filter(|i| r <= 8 || i % 61 == 0 || i + 1 == r)
            .collect();
        check_softmax(&gpu_lib_stream, &a, (r, c), &sample);
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn transpose_tall_wide_and_empty() {
    let (gpu, lib, s) = setup();
    for (t, &(r, c)) in [
        (2_097_121usize, 2usize),
        (2, 2_097_121),
        (65_537 * 32 + 5, 3),
        // Sides that are multiples of 4 take the 16-byte kernel (64×64 tiles): tall, wide,
        // and tiles cut at both edges.
        (2_097_124, 4),
        (4, 2_097_124),
        (68, 4100),
    ]
    .iter()
    .enumerate()
    {
        let a = random_f32(r * c, 2100 + t as u64);
        let da = gpu.upload(&a).unwrap();
        let mut out = gpu.alloc_filled::<f32>(r * c, 0xff).unwrap();
        lib.transpose(&s, &da, Shape::new(r, c), &mut out).unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&out).unwrap();
        for i in 0..r {
            for j in 0..c {
                assert_eq!(got[j * r + i], a[i * c + j], "{r}x{c} at ({i},{j})");
            }
        }
    }
    let e = gpu.alloc_zeroed::<f32>(0).unwrap();
    let mut o = gpu.alloc_zeroed::<f32>(0).unwrap();
    for (r, c) in [(0, 0), (0, 5), (5, 0)] {
        lib.transpose(&s, &e, Shape::new(r, c), &mut o).unwrap();
    }
}

/// LayerNorm (with `bias`) or RMSNorm of one row in f64.
fn norm_ref(row: &[f64], w: Option<&[f64]>, b: Option<&[f64]>, layer: bool, eps: f64) -> Vec<f64> {
    let n = row.len() as f64;
    let mean = if layer {
        row.iter().sum::<f64>() / n
    } else {
        0.0
    };
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let rstd = 1.0 / (var + eps).sqrt();
    row.iter()
        .enumerate()
        .map(|(j, v)| (v - mean) * rstd * w.map_or(1.0, |w| w[j]) + b.map_or(0.0, |b| b[j]))
        .collect()
}

/// A norm test's inputs for `r × c`: `x` off-centre (mean ≈ 0.5, so the mean matters), a
/// weight near 1.5 and a bias, from seeds `seed`, `seed + 100`, `seed + 200`.
fn norm_inputs(r: usize, c: usize, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let x = random_f32(r * c, seed)
        .iter()
        .map(|v| v * 2.0 + 0.5)
        .collect();
    let w = random_f32(c, seed + 100).iter().map(|v| v + 1.5).collect();
    (x, w, random_f32(c, seed + 200))
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn layer_norm_and_rms_norm_match_f64() {
    let (gpu, lib, s) = setup();
    let eps = 1e-5f32;
    for (t, &(r, c)) in SHAPES.iter().enumerate() {
        let (x, w, b) = norm_inputs(r, c, 2200 + t as u64);
        let (dx, dw, db) = (
            gpu.upload(&x).unwrap(),
            gpu.upload(&w).unwrap(),
            gpu.upload(&b).unwrap(),
        );
        let wd: Vec<f64> = w.iter().map(|&v| v as f64).collect();
        let bd: Vec<f64> = b.iter().map(|&v| v as f64).collect();
        for (layer, affine) in [(true, true), (true, false), (false, true), (false, false)] {
            let mut out = gpu.alloc_filled::<f32>(r * c, 0xff).unwrap();
            let shape = Shape::new(r, c);
            let wopt = affine.then_some(&dw[..]);
            if layer {
                let bopt = affine.then_some(&db[..]);
                lib.layer_norm(&s, &dx, shape, wopt, bopt, eps, &mut out)
                    .unwrap();
            } else {
                lib.rms_norm(&s, &dx, shape, wopt, eps, &mut out).unwrap();
            }
            runtime::sync(&s).unwrap();
            let got = runtime::download(&out).unwrap();
            for i in 0..r {
                let row: Vec<f64> = x[i * c..(i + 1) * c].iter().map(|&v| v as f64).collect();
                let (wr, br) = (
                    affine.then_some(&wd[..]),
                    (affine && layer).then_some(&bd[..]),
                );
                let want = norm_ref(&row, wr, br, layer, eps as f64);
                for j in 0..c {
                    let g = got[i * c + j] as f64;
                    assert!(
                        (g - want[j]).abs() <= 1e-5 * want[j].abs().max(1.0),
                        "{} {r}x{c} affine={affine} ({i},{j}): {g} vs {}",
                        if layer { "layer_norm" } else { "rms_norm" },
                        want[j]
                    );
                }
            }
        }
    }
    // A weight of the wrong length is an error, before anything runs.
    let dx = gpu.upload(&random_f32(12, 1)).unwrap();
    let dw = gpu.upload(&random_f32(5, 2)).unwrap();
    let mut out = gpu.alloc_zeroed::<f32>(12).unwrap();
    let e = lib
        .rms_norm(&s, &dx, Shape::new(3, 4), Some(&dw[..]), eps, &mut out)
        .unwrap_err();
    assert!(e.to_string().contains("weight"), "{e}");
}

/// One LayerNorm case: f32 inputs `x` and bf16 inputs `xb` of one shape, a weight and a bias
/// (used when asked; rounded to bf16 for the bf16 run).
struct LayerNormCase<'a> {
    r: usize,
    c: usize,
    x: &'a [f32],
    xb: &'a [bf16],
    w: &'a [f32],
    b: &'a [f32],
    use_w: bool,
    use_b: bool,
    /// Rows with a large mean: the f32 tolerance also allows the f32 mean's own rounding.
    large_mean: bool,
}

/// Runs `case` in f32 and bf16 and checks both against f64 of the stored inputs: f32 within
/// 1e-5 relative (plus, for `large_mean` cases, what the f32 mean's own rounding allows: a few
/// ulps of it, times rstd and the weight), bf16 within one bf16 rounding of the result plus the
/// f32 math (5e-3).
fn check_layer_norm(gpu: &Gpu, lib: &Library, s: &Stream, case: &LayerNormCase) {
    let &LayerNormCase {
        r,
        c,
        x,
        xb,
        w,
        b,
        use_w,
        use_b,
        large_mean,
    } = case;
    let eps = 1e-5f32;
    let half = |v: &[f32]| v.iter().map(|&v| bf16::from_f32(v)).collect::<Vec<bf16>>();
    let wide = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<f64>>();
    let wide_b = |v: &[bf16]| v.iter().map(|v| v.to_f64()).collect::<Vec<f64>>();
    let (wb, bb) = (half(w), half(b));
    let shape = Shape::new(r, c);
    let (dx, dw, db) = (
        gpu.upload(x).unwrap(),
        gpu.upload(w).unwrap(),
        gpu.upload(b).unwrap(),
    );
    let mut out = gpu.alloc_filled::<f32>(r * c, 0xff).unwrap();
    let (wo, bo) = (use_w.then_some(&dw[..]), use_b.then_some(&db[..]));
    lib.layer_norm(s, &dx, shape, wo, bo, eps, &mut out)
        .unwrap();
    let (dxb, dwb, dbb) = (
        gpu.upload(xb).unwrap(),
        gpu.upload(&wb).unwrap(),
        gpu.upload(&bb).unwrap(),
    );
    let mut outb = gpu.alloc_filled::<bf16>(r * c, 0xff).unwrap();
    let (wo, bo) = (use_w.then_some(&dwb[..]), use_b.then_some(&dbb[..]));
    lib.layer_norm(s, &dxb, shape, wo, bo, eps, &mut outb)
        .unwrap();
    runtime::sync(s).unwrap();
    let (got, gotb) = (
        runtime::download(&out).unwrap(),
        runtime::download(&outb).unwrap(),
    );
    let (wd, bd, wbd, bbd) = (wide(w), wide(b), wide_b(&wb), wide_b(&bb));
    for i in 0..r {
        let row = i * c..(i + 1) * c;
        let xr = wide(&x[row.clone()]);
        let want = norm_ref(
            &xr,
            use_w.then_some(&wd[..]),
            use_b.then_some(&bd[..]),
            true,
            eps as f64,
        );
        let want_b = norm_ref(
            &wide_b(&xb[row]),
            use_w.then_some(&wbd[..]),
            use_b.then_some(&bbd[..]),
            true,
            eps as f64,
        );
        // f32 math knows the row's mean only to a few of its ulps (2^-23 relative): that
        // error, times rstd and the weight, bounds the output's beyond 1e-5.
        let mean_err = if large_mean {
            let mean = xr.iter().sum::<f64>() / c as f64;
            let var = xr.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / c as f64;
            let rstd = 1.0 / (var + eps as f64).sqrt();
            16.0 * mean.abs() * 2f64.powi(-23) * rstd
        } else {
            0.0
        };
        for j in 0..c {
            let wj = if use_w { wd[j].abs() } else { 1.0 };
            let (g, gb) = (got[i * c + j] as f64, gotb[i * c + j].to_f64());
            assert!(
                (g - want[j]).abs() <= 1e-5 * want[j].abs().max(1.0) + mean_err * wj,
                "layer_norm f32 {r}x{c} w={use_w} b={use_b} ({i},{j}): {g} vs {}",
                want[j]
            );
            // One bf16 rounding of the result (2^-8 relative) and the f32 math.
            assert!(
                (gb - want_b[j]).abs() <= 5e-3 * want_b[j].abs().max(1.0),
                "layer_norm bf16 {r}x{c} w={use_w} b={use_b} ({i},{j}): {gb} vs {}",
                want_b[j]
            );
        }
    }
}

/// LayerNorm over more rows than blocks are resident at once (for kernels whose blocks loop
/// over rows; round 9's prefetching one did), f32 and bf16, with and without weight and bias,
/// against f64 of the stored inputs.
#[test]
#[ignore = "needs a CUDA GPU"]
fn layer_norm_loops_over_more_rows_than_resident_blocks() {
    let (gpu, lib, s) = setup();
    for (t, &(r, c)) in [(3001usize, 1024usize), (2500, 4096), (4099, 72)]
        .iter()
        .enumerate()
    {
        let (x, w, b) = norm_inputs(r, c, 7000 + t as u64);
        let xb: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
        for affine in [true, false] {
            let case = LayerNormCase {
                r,
                c,
                x: &x,
                xb: &xb,
                w: &w,
                b: &b,
                use_w: affine,
                use_b: affine,
                large_mean: false,
            };
            check_layer_norm(&gpu, &lib, &s, &case);
        }
    }
}

/// LayerNorm with a weight only and a bias only, and of rows with a large mean and a small
/// spread (1000 + N(0, 0.01²) in f32, 1000 + N(0, 8²) in bf16: a one-pass variance would lose
/// every digit), f32 and bf16, on register rows (4096, 1000 and 72 columns) and a general one
/// (4100), against f64 of the stored inputs.
#[test]
#[ignore = "needs a CUDA GPU"]
fn layer_norm_each_parameter_and_large_mean_rows() {
    let (gpu, lib, s) = setup();
    for (t, &(r, c)) in [(5usize, 4096usize), (7, 1000), (9, 72), (3, 4100)]
        .iter()
        .enumerate()
    {
        let (x0, w, b) = norm_inputs(r, c, 9100 + t as u64);
        let z = random_f32(r * c, 9150 + t as u64);
        // Rows 0 and 1: large mean, small spread; the others as `norm_inputs` makes them.
        let offset = |sigma: f32| {
            let mut x = x0.clone();
            for (i, v) in x.iter_mut().enumerate().take(2 * c) {
                *v = 1000.0 + sigma * z[i];
            }
            x
        };
        let x = offset(0.01);
        let xb: Vec<bf16> = offset(8.0).iter().map(|&v| bf16::from_f32(v)).collect();
        for (use_w, use_b) in [(true, false), (false, true), (true, true), (false, false)] {
            let case = LayerNormCase {
                r,
                c,
                x: &x,
                xb: &xb,
                w: &w,
                b: &b,
                use_w,
                use_b,
                large_mean: true,
            };
            check_layer_norm(&gpu, &lib, &s, &case);
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn add_rms_norm_and_bias_gelu_match_f64() {
    let (gpu, lib, s) = setup();
    let eps = 1e-6f32;
    for (t, &(r, c)) in SHAPES.iter().enumerate() {
        let x = random_f32(r * c, 2500 + t as u64);
        let res = random_f32(r * c, 2600 + t as u64);
        let w: Vec<f32> = random_f32(c, 2700 + t as u64)
            .iter()
            .map(|v| v + 1.5)
            .collect();
        let xb: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
        let rb: Vec<bf16> = res.iter().map(|&v| bf16::from_f32(v)).collect();
        let wb: Vec<bf16> = w.iter().map(|&v| bf16::from_f32(v)).collect();
        let (dx, dr, dw) = (
            gpu.upload(&x).unwrap(),
            gpu.upload(&res).unwrap(),
            gpu.upload(&w).unwrap(),
        );
        let (dxb, drb, dwb) = (
            gpu.upload(&xb).unwrap(),
            gpu.upload(&rb).unwrap(),
            gpu.upload(&wb).unwrap(),
        );
        let shape = Shape::new(r, c);
        let (mut out, mut sum) = (
            gpu.alloc_filled::<f32>(r * c, 0xff).unwrap(),
            gpu.alloc_filled::<f32>(r * c, 0xff).unwrap(),
        );
        let (mut outb, mut sumb) = (
            gpu.alloc_filled::<bf16>(r * c, 0xff).unwrap(),
            gpu.alloc_filled::<bf16>(r * c, 0xff).unwrap(),
        );
        lib.add_rms_norm(&s, &dx, &dr, shape, Some(&dw[..]), eps, &mut out, &mut sum)
            .unwrap();
        lib.add_rms_norm(
            &s,
            &dxb,
            &drb,
            shape,
            Some(&dwb[..]),
            eps,
            &mut outb,
            &mut sumb,
        )
        .unwrap();
        runtime::sync(&s).unwrap();
        let (got, gs) = (
            runtime::download(&out).unwrap(),
            runtime::download(&sum).unwrap(),
        );
        let (gotb, gsb) = (
            runtime::download(&outb).unwrap(),
            runtime::download(&sumb).unwrap(),
        );
        for i in 0..r {
            // The sums are the rounded sums an unfused add gives, exactly.
            let h: Vec<f32> = (0..c).map(|j| x[i * c + j] + res[i * c + j]).collect();
            let hb: Vec<bf16> = (0..c)
                .map(|j| bf16::from_f32(xb[i * c + j].to_f32() + rb[i * c + j].to_f32()))
                .collect();
            assert_eq!(&gs[i * c..(i + 1) * c], &h[..], "sum f32 {r}x{c}");
            assert_eq!(&gsb[i * c..(i + 1) * c], &hb[..], "sum bf16 {r}x{c}");
            let hd: Vec<f64> = h.iter().map(|&v| v as f64).collect();
            let hbd: Vec<f64> = hb.iter().map(|v| v.to_f64()).collect();
            let wd: Vec<f64> = w.iter().map(|&v| v as f64).collect();
            let wbd: Vec<f64> = wb.iter().map(|v| v.to_f64()).collect();
            let want = norm_ref(&hd, Some(&wd), None, false, eps as f64);
            let wantb = norm_ref(&hbd, Some(&wbd), None, false, eps as f64);
            for j in 0..c {
                let g = got[i * c + j] as f64;
                assert!(
                    (g - want[j]).abs() <= 1e-5 * want[j].abs().max(1.0),
                    "f32 {r}x{c}"
                );
                let gb = gotb[i * c + j].to_f64();
                assert!(
                    (gb - wantb[j]).abs() <= 8e-3 * wantb[j].abs().max(1.0),
                    "bf16 {r}x{c}"
                );
            }
        }
        // bias + GELU over the same shape.
        let gelu = |v: f64| {
            v / (1.0
                + (-2.0 * (2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).exp())
        };
        let mut o = gpu.alloc_filled::<f32>(r * c, 0xff).unwrap();
        let mut ob = gpu.alloc_filled::<bf16>(r * c, 0xff).unwrap();
        lib.bias_gelu(&s, &dr, &dw, &mut o).unwrap();
        lib.bias_gelu(&s, &drb, &dwb, &mut ob).unwrap();
        runtime::sync(&s).unwrap();
        let (g, gb) = (
            runtime::download(&o).unwrap(),
            runtime::download(&ob).unwrap(),
        );
        for k in 0..r * c {
            let want = gelu(res[k] as f64 + w[k % c] as f64);
            assert!((g[k] as f64 - want).abs() <= 2f64.powi(-21) * want.abs().max(1.0));
            let wantb = gelu(rb[k].to_f64() + wb[k % c].to_f64());
            assert!((gb[k].to_f64() - wantb).abs() <= 8e-3 * wantb.abs().max(1e-2));
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn cross_entropy_matches_f64() {
    let (gpu, lib, s) = setup();
    for (t, &(r, c)) in SHAPES.iter().enumerate() {
        let x: Vec<f32> = random_f32(r * c, 2800 + t as u64)
            .iter()
            .map(|v| v * 6.0)
            .collect();
        let xb: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
        let targets: Vec<i64> = (0..r)
            .map(|i| {
                if i % 3 == 2 {
                    -100
                } else {
                    ((i * 7919) % c) as i64
                }
            })
            .collect();
        let (dx, dxb, dt) = (
            gpu.upload(&x).unwrap(),
            gpu.upload(&xb).unwrap(),
            gpu.upload(&targets).unwrap(),
        );
        let mut loss = gpu.alloc_filled::<f32>(r, 0xff).unwrap();
        let mut lossb = gpu.alloc_filled::<f32>(r, 0xff).unwrap();
        let shape = Shape::new(r, c);
        let opts = CrossEntropy::default();
        lib.cross_entropy(&s, &dx, shape, &dt, opts, &mut loss)
            .unwrap();
        lib.cross_entropy(&s, &dxb, shape, &dt, opts, &mut lossb)
            .unwrap();
        runtime::sync(&s).unwrap();
        let (got, gotb) = (
            runtime::download(&loss).unwrap(),
            runtime::download(&lossb).unwrap(),
        );
        for i in 0..r {
            let want = |row: Vec<f64>| {
                if targets[i] == -100 {
                    return 0.0;
                }
                let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = row.iter().map(|v| (v - m).exp()).sum();
                m + z.ln() - row[targets[i] as usize]
            };
            let w = want(x[i * c..(i + 1) * c].iter().map(|&v| v as f64).collect());
            let wb = want(xb[i * c..(i + 1) * c].iter().map(|v| v.to_f64()).collect());
            assert!(
                (got[i] as f64 - w).abs() <= 1e-4 * w.abs().max(1.0),
                "f32 {r}x{c} row {i}"
            );
            assert!(
                (gotb[i] as f64 - wb).abs() <= 1e-4 * wb.abs().max(1.0),
                "bf16 {r}x{c} row {i}"
            );
        }
    }
    // One target per row, and a loss per row: checked before anything runs.
    let dx = gpu.upload(&random_f32(12, 1)).unwrap();
    let dt = gpu.upload(&[0i64, 1]).unwrap();
    let mut loss = gpu.alloc_zeroed::<f32>(3).unwrap();
    let e = lib
        .cross_entropy(
            &s,
            &dx,
            Shape::new(3, 4),
            &dt,
            CrossEntropy::default(),
            &mut loss,
        )
        .unwrap_err();
    assert!(e.to_string().contains("targets"), "{e}");
}
