//! GPU tests of the kernel library against CPU references on random data at awkward sizes.
//! `#[ignore]`d without a GPU; run with `--include-ignored` on a GPU machine.
use gpukit::ops::{Binary, Library, Reduce};
use gpukit::reference::{first_mismatch, random_f32};
use gpukit::runtime::{self, Error, Gpu};

/// 0, 1, primes, non-multiples of every tile size, and large.
const SIZES: [usize; 7] = [0, 1, 7, 1021, 65_537, (1 << 20) + 3, 1 << 25];

/// [`SIZES`] up to `GPUKIT_TEST_MAX_ELEMS` when set (the sanitizer runs cap them).
fn sizes() -> Vec<usize> {
    let cap = std::env::var("GPUKIT_TEST_MAX_ELEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    SIZES.iter().copied().filter(|&n| n <= cap).collect()
}

fn setup() -> (Gpu, Library, runtime::Stream) {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let lib = Library::load(&gpu).expect("kernels load");
    let s = gpu.stream().unwrap();
    (gpu, lib, s)
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn binary_ops_match_cpu() {
    let (gpu, lib, s) = setup();
    for (t, &n) in sizes().iter().enumerate() {
        let a = random_f32(n, 100 + t as u64);
        // Divisors away from zero.
        let b: Vec<f32> = random_f32(n, 200 + t as u64)
            .iter()
            .map(|v| v + 2.0)
            .collect();
        let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
        for op in [Binary::Add, Binary::Sub, Binary::Mul, Binary::Div] {
            let mut out = gpu.alloc_filled::<f32>(n, 0xff).unwrap();
            lib.binary(&s, op, &da, &db, &mut out).unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&out).unwrap();
            let want: Vec<f32> = a
                .iter()
                .zip(&b)
                .map(|(x, y)| match op {
                    Binary::Add => x + y,
                    Binary::Sub => x - y,
                    Binary::Mul => x * y,
                    Binary::Div => x / y,
                })
                .collect();
            assert_eq!(first_mismatch(&got, &want, 0.0), None, "{op:?} n={n}");
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn unary_and_axpy_kernels_match_cpu() {
    let (gpu, lib, s) = setup();
    let k = &lib.kernels;
    for (t, &n) in sizes().iter().enumerate() {
        let x = random_f32(n, 300 + t as u64);
        let y = random_f32(n, 400 + t as u64);
        let (dx, dy) = (gpu.upload(&x).unwrap(), gpu.upload(&y).unwrap());
        let mut out = gpu.alloc_filled::<f32>(n, 0xff).unwrap();
        k.scale_f32.launch(&s, -1.5, &dx, &mut out).unwrap();
        runtime::sync(&s).unwrap();
        let want: Vec<f32> = x.iter().map(|v| -1.5 * v).collect();
        assert_eq!(
            first_mismatch(&runtime::download(&out).unwrap(), &want, 0.0),
            None,
            "scale n={n}"
        );
        k.relu_f32.launch(&s, &dx, &mut out).unwrap();
        runtime::sync(&s).unwrap();
        let want: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
        assert_eq!(
            first_mismatch(&runtime::download(&out).unwrap(), &want, 0.0),
            None,
            "relu n={n}"
        );
        k.axpy_f32.launch(&s, 0.25, &dx, &dy, &mut out).unwrap();
        runtime::sync(&s).unwrap();
        let want: Vec<f32> = x
            .iter()
            .zip(&y)
            .map(|(a, b)| 0.25f32.mul_add(*a, *b))
            .collect();
        assert_eq!(
            first_mismatch(&runtime::download(&out).unwrap(), &want, 0.0),
            None,
            "axpy n={n}"
        );
        k.fill_f32.launch(&s, 3.5, &mut out).unwrap();
        runtime::sync(&s).unwrap();
        assert!(
            runtime::download(&out).unwrap().iter().all(|&v| v == 3.5),
            "fill n={n}"
        );
        // f64 axpy
        let x64: Vec<f64> = x.iter().map(|&v| v as f64 * 1.000001).collect();
        let y64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        let (dx64, dy64) = (gpu.upload(&x64).unwrap(), gpu.upload(&y64).unwrap());
        let mut o64 = gpu.alloc_filled::<f64>(n, 0xff).unwrap();
        k.axpy_f64.launch(&s, 3.25, &dx64, &dy64, &mut o64).unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&o64).unwrap();
        for i in 0..n {
            assert_eq!(
                got[i],
                3.25f64.mul_add(x64[i], y64[i]),
                "axpy_f64 n={n} i={i}"
            );
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn reductions_match_f64_references_within_stated_bounds() {
    let (gpu, lib, s) = setup();
    for (t, &n) in sizes().iter().enumerate().skip(1) {
        let x = random_f32(n, 500 + t as u64);
        let y = random_f32(n, 600 + t as u64);
        let (dx, dy) = (gpu.upload(&x).unwrap(), gpu.upload(&y).unwrap());
        let sum: f64 = x.iter().map(|&v| v as f64).sum();
        let abs: f64 = x.iter().map(|&v| (v as f64).abs()).sum();
        let got = lib.reduce(&gpu, &s, Reduce::Sum, &dx).unwrap();
        // Bound: f32 accumulation per thread, f64 across blocks: error ≤ 2^-20 · Σ|x|.
        assert!(
            (got - sum).abs() <= abs * 2f64.powi(-20) + 1e-6,
            "sum n={n}: {got} vs {sum}"
        );
        let ss: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
        let norm = lib.l2_norm(&gpu, &s, &dx).unwrap();
        assert!(
            (norm - ss.sqrt()).abs() <= ss.sqrt() * 2f64.powi(-20),
            "l2 n={n}"
        );
        let dot: f64 = x.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).sum();
        let dabs: f64 = x
            .iter()
            .zip(&y)
            .map(|(&a, &b)| (a as f64 * b as f64).abs())
            .sum();
        let got = lib.dot(&gpu, &s, &dx, &dy).unwrap();
        assert!(
            (got - dot).abs() <= dabs * 2f64.powi(-20) + 1e-6,
            "dot n={n}: {got} vs {dot}"
        );
        let mx = x.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mn = x.iter().cloned().fold(f32::INFINITY, f32::min);
        assert_eq!(
            lib.reduce(&gpu, &s, Reduce::Max, &dx).unwrap(),
            mx as f64,
            "max n={n}"
        );
        assert_eq!(
            lib.reduce(&gpu, &s, Reduce::Min, &dx).unwrap(),
            mn as f64,
            "min n={n}"
        );
        let am = x.iter().position(|&v| v == mx).unwrap();
        assert_eq!(lib.argmax(&gpu, &s, &dx).unwrap(), am, "argmax n={n}");
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn f64_sum_and_dot_match_compensated_references() {
    let (gpu, lib, s) = setup();
    for (t, &n) in sizes().iter().enumerate().skip(1) {
        let x: Vec<f64> = random_f32(n, 1700 + t as u64)
            .iter()
            .map(|&v| v as f64 * 1.000_000_7)
            .collect();
        let y: Vec<f64> = random_f32(n, 1800 + t as u64)
            .iter()
            .map(|&v| v as f64 * 0.999_999_3)
            .collect();
        let (dx, dy) = (gpu.upload(&x).unwrap(), gpu.upload(&y).unwrap());
        // Kahan-compensated references; bound: f64 accumulation error ≤ 2^-45 · Σ|terms|.
        let kahan = |terms: &mut dyn Iterator<Item = f64>| {
            let (mut sum, mut c, mut mag) = (0f64, 0f64, 0f64);
            for v in terms {
                mag += v.abs();
                let yk = v - c;
                let t = sum + yk;
                c = (t - sum) - yk;
                sum = t;
            }
            (sum, mag)
        };
        let (want, mag) = kahan(&mut x.iter().copied());
        let got = lib.sum_f64(&gpu, &s, &dx).unwrap();
        assert!(
            (got - want).abs() <= mag * 2f64.powi(-45),
            "sum f64 n={n}: {got} vs {want}"
        );
        let (want, mag) = kahan(&mut x.iter().zip(&y).map(|(a, b)| a * b));
        let got = lib.dot_f64(&gpu, &s, &dx, &dy).unwrap();
        assert!(
            (got - want).abs() <= mag * 2f64.powi(-45),
            "dot f64 n={n}: {got} vs {want}"
        );
    }
    let a = gpu.upload(&[1.0f64; 3]).unwrap();
    let b = gpu.upload(&[1.0f64; 4]).unwrap();
    assert!(matches!(
        lib.dot_f64(&gpu, &s, &a, &b).unwrap_err(),
        Error::LengthMismatch { .. }
    ));
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn bad_lengths_are_errors_before_launch() {
    let (gpu, lib, s) = setup();
    let a = gpu.upload(&random_f32(10, 1)).unwrap();
    let b = gpu.upload(&random_f32(11, 2)).unwrap();
    let before = random_f32(10, 3);
    let mut out = gpu.upload(&before).unwrap();
    let e = lib.binary(&s, Binary::Add, &a, &b, &mut out).unwrap_err();
    assert!(matches!(e, Error::LengthMismatch { .. }), "{e}");
    let empty = gpu.upload::<f32>(&[]).unwrap();
    assert!(lib.reduce(&gpu, &s, Reduce::Sum, &empty).is_err());
    assert!(lib.dot(&gpu, &s, &a, &b).is_err());
    runtime::sync(&s).unwrap();
    assert_eq!(runtime::download(&out).unwrap(), before);
}

/// (rows, cols) shapes: degenerate, primes, non-multiples of 32 and 4, and large.
const SHAPES: [(usize, usize); 6] = [
    (1, 1),
    (1, 37),
    (37, 1),
    (127, 253),
    (1000, 1003),
    (2048, 4096),
];

#[test]
#[ignore = "needs a CUDA GPU"]
fn transpose_matches_cpu() {
    let (gpu, lib, s) = setup();
    for (t, &(r, c)) in SHAPES.iter().enumerate() {
        let a = random_f32(r * c, 700 + t as u64);
        let da = gpu.upload(&a).unwrap();
        let mut out = gpu.alloc_filled::<f32>(r * c, 0xff).unwrap();
        lib.transpose(&s, &da, r, c, &mut out).unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&out).unwrap();
        for i in 0..r {
            for j in 0..c {
                assert_eq!(got[j * r + i], a[i * c + j], "{r}x{c} at ({i},{j})");
            }
        }
    }
    let da = gpu.upload(&random_f32(12, 1)).unwrap();
    let mut out = gpu.alloc_filled::<f32>(12, 0).unwrap();
    let e = lib.transpose(&s, &da, 5, 3, &mut out).unwrap_err();
    assert!(e.to_string().contains("5 × 3"), "{e}");
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn gemv_both_orientations_match_f64_reference() {
    let (gpu, lib, s) = setup();
    for (t, &(r, c)) in SHAPES.iter().enumerate() {
        for transposed in [false, true] {
            let a = random_f32(r * c, 800 + t as u64);
            let (xn, yn) = if transposed { (r, c) } else { (c, r) };
            let x = random_f32(xn, 900 + t as u64);
            let y0 = random_f32(yn, 1000 + t as u64);
            let (alpha, beta) = (1.25f32, -0.5f32);
            let (da, dx) = (gpu.upload(&a).unwrap(), gpu.upload(&x).unwrap());
            let mut dy = gpu.upload(&y0).unwrap();
            let mut scratch = lib.gemv_scratch(&gpu, c).unwrap();
            lib.gemv(
                &s,
                transposed,
                alpha,
                &da,
                r,
                c,
                &dx,
                beta,
                &mut dy,
                Some(&mut scratch),
            )
            .unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&dy).unwrap();
            for o in 0..yn {
                let (mut dot, mut mag) = (0f64, 0f64);
                for i in 0..xn {
                    let av = if transposed {
                        a[i * c + o]
                    } else {
                        a[o * c + i]
                    } as f64;
                    dot += av * x[i] as f64;
                    mag += (av * x[i] as f64).abs();
                }
                let want = alpha as f64 * dot + beta as f64 * y0[o] as f64;
                let tol = 1e-5 * (alpha as f64 * mag + (beta * y0[o]).abs() as f64) + 1e-6;
                assert!(
                    (got[o] as f64 - want).abs() <= tol,
                    "{r}x{c} T={transposed} y[{o}] = {} vs {want}",
                    got[o]
                );
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn softmax_rows_match_f64_reference() {
    let (gpu, lib, s) = setup();
    for (t, &(r, c)) in [(1usize, 1usize), (3, 7), (37, 1021), (64, 4096), (5, 12000)]
        .iter()
        .enumerate()
    {
        let a: Vec<f32> = random_f32(r * c, 1100 + t as u64)
            .iter()
            .map(|v| v * 8.0)
            .collect();
        let da = gpu.upload(&a).unwrap();
        for log in [false, true] {
            let mut out = gpu.alloc_filled::<f32>(r * c, 0xff).unwrap();
            lib.softmax_rows(&s, log, &da, r, c, &mut out).unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&out).unwrap();
            for i in 0..r {
                let row = &a[i * c..(i + 1) * c];
                let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
                let z: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
                for j in 0..c {
                    let g = got[i * c + j] as f64;
                    if log {
                        let want = a[i * c + j] as f64 - m - z.ln();
                        assert!(
                            (g - want).abs() <= 2e-5 * (1.0 + want.abs()),
                            "log {r}x{c} ({i},{j}): {g} vs {want}"
                        );
                    } else {
                        let want = (a[i * c + j] as f64 - m).exp() / z;
                        assert!(
                            (g - want).abs() <= 1e-5 * want + 1e-9,
                            "{r}x{c} ({i},{j}): {g} vs {want}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn f32_maps_are_within_their_error_bounds() {
    let (gpu, lib, s) = setup();
    let k = &lib.kernels;
    let n = 1 << 20;
    let x: Vec<f32> = random_f32(n, 1200).iter().map(|v| v * 10.0).collect();
    let dx = gpu.upload(&x).unwrap();
    let mut out = gpu.alloc_filled::<f32>(n, 0xff).unwrap();
    // (name, fast variant?, bound, floor of the error's denominator, reference): relative error
    // for exp, tanh and sigmoid, mixed (absolute below 1) for gelu, as the device library
    // documents. The accurate maps are as tight as torch's and CuPy's (1 ulp = 2^-23 relative
    // at most); the `_fast` variants keep the SFU approximations' bounds.
    type Map<'a> = (&'a str, bool, f64, f64, fn(f64) -> f64);
    // GELU's tanh form, written without its cancellation (exact identity).
    let gelu = |v: f64| {
        v / (1.0 + (-2.0 * (2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).exp())
    };
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    let cases: [Map; 8] = [
        ("exp", false, 2f64.powi(-23), 1e-30, f64::exp),
        ("tanh", false, 2f64.powi(-23), 1e-30, f64::tanh),
        ("sigmoid", false, 2.5 * 2f64.powi(-23), 1e-30, sigmoid),
        ("gelu", false, 2f64.powi(-22), 1.0, gelu),
        ("exp", true, 2f64.powi(-16), 1e-30, f64::exp),
        ("tanh", true, 2f64.powi(-10), 1.0, f64::tanh),
        ("sigmoid", true, 2f64.powi(-15), 1e-30, sigmoid),
        ("gelu", true, 2f64.powi(-8), 1.0, gelu),
    ];
    for (name, fast, rel, floor, f) in cases {
        match (name, fast) {
            ("exp", false) => k.exp_f32.launch(&s, &dx, &mut out),
            ("tanh", false) => k.tanh_f32.launch(&s, &dx, &mut out),
            ("sigmoid", false) => k.sigmoid_f32.launch(&s, &dx, &mut out),
            ("gelu", false) => k.gelu_f32.launch(&s, &dx, &mut out),
            ("exp", true) => k.exp_fast_f32.launch(&s, &dx, &mut out),
            ("tanh", true) => k.tanh_fast_f32.launch(&s, &dx, &mut out),
            ("sigmoid", true) => k.sigmoid_fast_f32.launch(&s, &dx, &mut out),
            _ => k.gelu_fast_f32.launch(&s, &dx, &mut out),
        }
        .unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&out).unwrap();
        let mut worst = 0f64;
        for i in 0..n {
            let want = f(x[i] as f64);
            let err = (got[i] as f64 - want).abs() / want.abs().max(floor);
            worst = worst.max(err);
        }
        let tag = if fast { "_fast" } else { "" };
        eprintln!("{name}{tag}: max error {worst:.3e} over [-10, 10]");
        assert!(worst <= rel, "{name}{tag}: {worst:e} > {rel:e}");
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn scans_match_sequential_references() {
    let (gpu, lib, s) = setup();
    for (t, &n) in sizes().iter().enumerate() {
        let mut scratch = lib.scan_scratch(&gpu, n).unwrap();
        // i32 and u32: exact (wrapping) against a sequential scan.
        let xi: Vec<i32> = random_f32(n, 1300 + t as u64)
            .iter()
            .map(|v| (v * 1000.0) as i32)
            .collect();
        let xu: Vec<u32> = xi.iter().map(|v| v.unsigned_abs() * 4099).collect();
        let (dxi, dxu) = (gpu.upload(&xi).unwrap(), gpu.upload(&xu).unwrap());
        for exclusive in [false, true] {
            let mut oi = gpu.alloc_filled::<i32>(n, 0xff).unwrap();
            lib.scan(&s, exclusive, &dxi, &mut oi, &mut scratch)
                .unwrap();
            let mut ou = gpu.alloc_filled::<u32>(n, 0xff).unwrap();
            lib.scan(&s, exclusive, &dxu, &mut ou, &mut scratch)
                .unwrap();
            runtime::sync(&s).unwrap();
            let (gi, gu) = (
                runtime::download(&oi).unwrap(),
                runtime::download(&ou).unwrap(),
            );
            let (mut ri, mut ru) = (0i32, 0u32);
            for i in 0..n {
                if !exclusive {
                    ri = ri.wrapping_add(xi[i]);
                    ru = ru.wrapping_add(xu[i]);
                }
                assert_eq!(gi[i], ri, "i32 excl={exclusive} n={n} i={i}");
                assert_eq!(gu[i], ru, "u32 excl={exclusive} n={n} i={i}");
                if exclusive {
                    ri = ri.wrapping_add(xi[i]);
                    ru = ru.wrapping_add(xu[i]);
                }
            }
        }
        // f32: against an f64 running sum, bounded by 2^-20 of the running |sum|.
        let x = random_f32(n, 1400 + t as u64);
        let dx = gpu.upload(&x).unwrap();
        for exclusive in [false, true] {
            let mut out = gpu.alloc_filled::<f32>(n, 0xff).unwrap();
            lib.scan(&s, exclusive, &dx, &mut out, &mut scratch)
                .unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&out).unwrap();
            let (mut run, mut mag) = (0f64, 0f64);
            for i in 0..n {
                if !exclusive {
                    run += x[i] as f64;
                    mag += (x[i] as f64).abs();
                }
                assert!(
                    (got[i] as f64 - run).abs() <= mag * 2f64.powi(-20) + 1e-6,
                    "f32 excl={exclusive} n={n} i={i}: {} vs {run}",
                    got[i]
                );
                if exclusive {
                    run += x[i] as f64;
                    mag += (x[i] as f64).abs();
                }
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn half_precision_maps_and_softmax_round_once_from_f32_math() {
    use gpukit::ops::Activation;
    use half::{bf16, f16};
    let (gpu, lib, s) = setup();
    let n = 100_003;
    let x: Vec<f32> = random_f32(n, 1500).iter().map(|v| v * 6.0).collect();
    let xb: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
    let xh: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
    let (dxb, dxh) = (gpu.upload(&xb).unwrap(), gpu.upload(&xh).unwrap());
    type Reference = fn(f64) -> f64;
    let acts: [(Activation, Reference); 5] = [
        (Activation::Relu, |v| v.max(0.0)),
        (Activation::Gelu, |v| {
            0.5 * v
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).tanh())
        }),
        (Activation::Sigmoid, |v| 1.0 / (1.0 + (-v).exp())),
        (Activation::Exp, f64::exp),
        (Activation::Tanh, f64::tanh),
    ];
    for (act, f) in acts {
        let mut ob = gpu.alloc_filled::<bf16>(n, 0xff).unwrap();
        let mut oh = gpu.alloc_filled::<f16>(n, 0xff).unwrap();
        lib.map(&s, act, &dxb, &mut ob).unwrap();
        lib.map(&s, act, &dxh, &mut oh).unwrap();
        runtime::sync(&s).unwrap();
        let (gb, gh) = (
            runtime::download(&ob).unwrap(),
            runtime::download(&oh).unwrap(),
        );
        for i in 0..n {
            // Within one bf16/f16 rounding (plus the f32 approximation) of the exact value.
            let wb = f(xb[i].to_f64());
            let wh = f(xh[i].to_f64());
            assert!(
                (gb[i].to_f64() - wb).abs() <= wb.abs().max(1.0) * 2f64.powi(-7),
                "{act:?} bf16 x={} got {} want {wb}",
                xb[i],
                gb[i]
            );
            assert!(
                (gh[i].to_f64() - wh).abs() <= wh.abs().max(1.0) * 2f64.powi(-9),
                "{act:?} f16 x={} got {} want {wh}",
                xh[i],
                gh[i]
            );
        }
    }
    // bf16 softmax rows.
    let (r, c) = (33, 1000);
    let a: Vec<bf16> = random_f32(r * c, 1600)
        .iter()
        .map(|&v| bf16::from_f32(v * 4.0))
        .collect();
    let da = gpu.upload(&a).unwrap();
    let mut out = gpu.alloc_filled::<bf16>(r * c, 0xff).unwrap();
    lib.softmax_rows(&s, false, &da, r, c, &mut out).unwrap();
    runtime::sync(&s).unwrap();
    let got = runtime::download(&out).unwrap();
    for i in 0..r {
        let row: Vec<f64> = a[i * c..(i + 1) * c].iter().map(|v| v.to_f64()).collect();
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = row.iter().map(|v| (v - m).exp()).sum();
        for j in 0..c {
            let want = (row[j] - m).exp() / z;
            assert!(
                (got[i * c + j].to_f64() - want).abs() <= want * 2f64.powi(-7) + 1e-9,
                "({i},{j})"
            );
        }
    }
}
