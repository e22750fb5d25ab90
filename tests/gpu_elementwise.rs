//! GPU tests of the kernel library's element-wise ops and activation maps (f32, f16, bf16)
//! against CPU references on random data at awkward sizes, and its length checks.
//! `#[ignore]`d without a GPU; run with `--include-ignored` on a GPU machine.
mod common;
use common::{setup, sizes};
use gpukit::ops::{Accuracy, Activation, Binary, Reduce, Shape, SoftmaxKind};
use gpukit::runtime::{self, Error};
use gpukit_test_support::reference::{first_mismatch, random_f32};

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
    for (t, &n) in sizes().iter().enumerate() {
        let x = random_f32(n, 300 + t as u64);
        let y = random_f32(n, 400 + t as u64);
        let (dx, dy) = (gpu.upload(&x).unwrap(), gpu.upload(&y).unwrap());
        let mut out = gpu.alloc_filled::<f32>(n, 0xff).unwrap();
        lib.scale(&s, -1.5, &dx, &mut out).unwrap();
        runtime::sync(&s).unwrap();
        let want: Vec<f32> = x.iter().map(|v| -1.5 * v).collect();
        assert_eq!(
            first_mismatch(&runtime::download(&out).unwrap(), &want, 0.0),
            None,
            "scale n={n}"
        );
        lib.map(&s, Activation::Relu, &dx, &mut out).unwrap();
        runtime::sync(&s).unwrap();
        let want: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
        assert_eq!(
            first_mismatch(&runtime::download(&out).unwrap(), &want, 0.0),
            None,
            "relu n={n}"
        );
        lib.axpy(&s, 0.25f32, &dx, &dy, &mut out).unwrap();
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
        lib.fill(&s, 3.5, &mut out).unwrap();
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
        lib.axpy(&s, 3.25f64, &dx64, &dy64, &mut o64).unwrap();
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
fn bad_lengths_are_errors_before_launch() {
    let (gpu, lib, s) = setup();
    let a = gpu.upload(&random_f32(10, 1)).unwrap();
    let b = gpu.upload(&random_f32(11, 2)).unwrap();
    let before = random_f32(10, 3);
    let mut out = gpu.upload(&before).unwrap();
    let e = lib.binary(&s, Binary::Add, &a, &b, &mut out).unwrap_err();
    assert!(matches!(e, Error::LengthMismatch { .. }), "{e}");
    let empty = gpu.upload::<f32>(&[]).unwrap();
    assert!(lib.reduce(&s, Reduce::Sum, &empty).is_err());
    assert!(lib.dot(&s, &a, &b).is_err());
    runtime::sync(&s).unwrap();
    assert_eq!(runtime::download(&out).unwrap(), before);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn f32_maps_accurate_and_fast_are_within_their_error_bounds() {
    let (gpu, lib, s) = setup();
    let n = 1 << 20;
    let x: Vec<f32> = random_f32(n, 1200).iter().map(|v| v * 10.0).collect();
    let dx = gpu.upload(&x).unwrap();
    let mut out = gpu.alloc_filled::<f32>(n, 0xff).unwrap();
    // (map, accuracy, bound, floor of the error's denominator, reference): relative error for
    // exp, tanh and sigmoid, mixed (absolute below 1) for gelu, as the device library documents.
    // The accurate maps are at least as tight as torch's and CuPy's (measured on the H200:
    // exp 1.0 ulp, tanh 0.94, sigmoid 2.48 against their 1.93, 1.79, 3.38; one ulp is at most
    // 2^-23 relative, and the bounds leave a little room).
    type Map = (Activation, Accuracy, f64, f64, fn(f64) -> f64);
    // GELU's tanh form written without its cancellation (an exact identity).
    let gelu = |v: f64| {
        v / (1.0 + (-2.0 * (2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).exp())
    };
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    let (acc, fast) = (Accuracy::Accurate, Accuracy::Fast);
    let cases: [Map; 8] = [
        (Activation::Exp, acc, 2f64.powi(-22), 1e-30, f64::exp),
        (Activation::Tanh, acc, 2f64.powi(-22), 1e-30, f64::tanh),
        (
            Activation::Sigmoid,
            acc,
            3.0 * 2f64.powi(-23),
            1e-30,
            sigmoid,
        ),
        (Activation::Gelu, acc, 2f64.powi(-22), 1.0, gelu),
        (Activation::Exp, fast, 2f64.powi(-16), 1e-30, f64::exp),
        (Activation::Tanh, fast, 2f64.powi(-10), 1.0, f64::tanh),
        (Activation::Sigmoid, fast, 2f64.powi(-15), 1e-30, sigmoid),
        (Activation::Gelu, fast, 2f64.powi(-8), 1.0, gelu),
    ];
    for (act, accuracy, rel, floor, f) in cases {
        lib.map_f32(&s, act, accuracy, &dx, &mut out).unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&out).unwrap();
        let mut worst = 0f64;
        for i in 0..n {
            let want = f(x[i] as f64);
            let err = (got[i] as f64 - want).abs() / want.abs().max(floor);
            worst = worst.max(err);
        }
        eprintln!("{act:?} {accuracy:?}: max error {worst:.3e} over [-10, 10]");
        assert!(worst <= rel, "{act:?} {accuracy:?}: {worst:e} > {rel:e}");
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn half_precision_maps_and_softmax_round_once_from_f32_math() {
    use gpukit::runtime::half::{bf16, f16};
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
    lib.softmax_rows(&s, SoftmaxKind::Softmax, &da, Shape::new(r, c), &mut out)
        .unwrap();
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

/// A 16-bit float for the exhaustive checks: its bits, and exact widening / correct rounding
/// from f64 (the `half` crate's conversions).
trait Half16: gpukit::runtime::DeviceCopy + gpukit::ops::MapElem + Copy {
    fn from_bits(b: u16) -> Self;
    fn to_bits(self) -> u16;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}
macro_rules! half16 {
    ($t:ty) => {
        impl Half16 for $t {
            fn from_bits(b: u16) -> Self {
                <$t>::from_bits(b)
            }
            fn to_bits(self) -> u16 {
                <$t>::to_bits(self)
            }
            fn from_f64(v: f64) -> Self {
                <$t>::from_f64(v)
            }
            fn to_f64(self) -> f64 {
                <$t>::to_f64(self)
            }
        }
    };
}
half16!(gpukit::runtime::half::f16);
half16!(gpukit::runtime::half::bf16);

/// Every finite input of one 16-bit map: `(misrounded, not faithful)` counts against the f64
/// function `f` rounded once (misrounded: not the nearest value; not faithful: not one of the
/// two values around the exact one, i.e. more than 1 ulp off).
fn every_input<T: Half16>(act: Activation, f: fn(f64) -> f64) -> (usize, usize, Vec<f64>) {
    let (gpu, lib, s) = setup();
    let x: Vec<T> = (0..=u16::MAX)
        .map(T::from_bits)
        .filter(|v| v.to_f64().is_finite())
        .collect();
    let dx = gpu.upload(&x).unwrap();
    let mut out = gpu.alloc_filled::<T>(x.len(), 0xff).unwrap();
    lib.map(&s, act, &dx, &mut out).unwrap();
    runtime::sync(&s).unwrap();
    let got = runtime::download(&out).unwrap();
    let (mut mis, mut unfaithful, mut worst) = (0, 0, Vec::new());
    for (xi, gi) in x.iter().zip(&got) {
        let exact = f(xi.to_f64());
        let near = T::from_f64(exact);
        let (g, n) = (gi.to_bits(), near.to_bits());
        if g == n || (gi.to_f64().is_nan() && exact.is_nan()) {
            continue;
        }
        mis += 1;
        // The other neighbour of `exact`: adjacent bits, same sign, on the other side of it.
        let adjacent = (g ^ n) & 0x8000 == 0 && g.abs_diff(n) == 1;
        let other_side = (gi.to_f64() - exact) * (near.to_f64() - exact) <= 0.0;
        if !(adjacent && other_side) {
            unfaithful += 1;
            if worst.len() < 4 {
                worst.push(xi.to_f64());
            }
        }
    }
    (mis, unfaithful, worst)
}

/// All 65536 inputs of the f16 and bf16 maps (the formats are small enough to check every
/// value). tanh (`math::for_half::tanh`, shortened to ~11 instructions in round 6) must be
/// faithful everywhere and misround at most 16 inputs per format: torch's f32 `tanhf` rounded
/// to f16 misrounds 16 in a worst-case model of both (2 for ours). The other maps are reported:
/// their f32 SFU math flushes results below f32's normal range, which bf16 can still represent.
#[test]
#[ignore = "needs a CUDA GPU"]
fn half_precision_maps_on_every_16_bit_input() {
    use gpukit::runtime::half::{bf16, f16};
    type Reference = fn(f64) -> f64;
    let acts: [(Activation, Reference); 5] = [
        (Activation::Tanh, f64::tanh),
        (Activation::Relu, |v| v.max(0.0)),
        (Activation::Gelu, f64_gelu),
        (Activation::Sigmoid, |v| 1.0 / (1.0 + (-v).exp())),
        (Activation::Exp, f64::exp),
    ];
    for (act, f) in acts {
        for (name, (mis, unfaithful, worst)) in [
            ("f16", every_input::<f16>(act, f)),
            ("bf16", every_input::<bf16>(act, f)),
        ] {
            eprintln!(
                "{act:?} {name}: every input, {mis} misrounded, {unfaithful} more than 1 ulp off {worst:?}"
            );
            if act == Activation::Tanh {
                assert_eq!(unfaithful, 0, "tanh {name}: not faithful at {worst:?}");
                assert!(mis <= 16, "tanh {name}: {mis} misrounded inputs");
            }
        }
    }
}

/// An element type of the generic kernels, seen from the tests: rounding from f32, widening to
/// f64, and the tolerance (relative, or absolute below 1) of one map result.
trait TestElem: gpukit::runtime::DeviceCopy + gpukit::ops::MapElem + Copy + std::fmt::Debug {
    fn round(v: f32) -> Self;
    fn wide(self) -> f64;
    const TOL: f64;
}
impl TestElem for f32 {
    fn round(v: f32) -> f32 {
        v
    }
    fn wide(self) -> f64 {
        self as f64
    }
    const TOL: f64 = 4.0 * f32::EPSILON as f64;
}
impl TestElem for gpukit::runtime::half::f16 {
    fn round(v: f32) -> Self {
        Self::from_f32(v)
    }
    fn wide(self) -> f64 {
        self.to_f64()
    }
    const TOL: f64 = 1.0 / 1024.0;
}
impl TestElem for gpukit::runtime::half::bf16 {
    fn round(v: f32) -> Self {
        Self::from_f32(v)
    }
    fn wide(self) -> f64 {
        self.to_f64()
    }
    const TOL: f64 = 1.0 / 128.0;
}

fn f64_gelu(v: f64) -> f64 {
    v / (1.0 + (-2.0 * (2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).exp())
}

/// Every instance of each generic map at awkward lengths (empty, shorter than a packet, not a
/// whole number of packets or of threads' groups) and starting 0, 1 and 3 elements into its
/// buffers (misaligned 16-byte packets): within one rounding of the f64 value, and nothing
/// written outside the output.
fn maps_at_awkward_sizes<T: TestElem>() {
    let (gpu, lib, s) = setup();
    type Reference = fn(f64) -> f64;
    let acts: [(Activation, Reference); 5] = [
        (Activation::Relu, |v| v.max(0.0)),
        (Activation::Gelu, f64_gelu),
        (Activation::Sigmoid, |v| 1.0 / (1.0 + (-v).exp())),
        (Activation::Exp, f64::exp),
        (Activation::Tanh, f64::tanh),
    ];
    for n in [0usize, 1, 5, 15, 17, 33, 255, 4099, 65_541] {
        for off in [0usize, 1, 3] {
            let x: Vec<T> = random_f32(n + off + 2, (n * 7 + off) as u64)
                .iter()
                .map(|v| T::round(v * 5.0))
                .collect();
            let dx = gpu.upload(&x).unwrap();
            for (act, f) in acts {
                let mut out = gpu.alloc_filled::<T>(n + off + 2, 0x7f).unwrap();
                let before = runtime::download(&out).unwrap();
                lib.map(&s, act, &dx[off..off + n], &mut out[off..off + n])
                    .unwrap();
                runtime::sync(&s).unwrap();
                let got = runtime::download(&out).unwrap();
                for i in 0..n + off + 2 {
                    let g = got[i].wide();
                    if i < off || i >= off + n {
                        assert_eq!(g.to_bits(), before[i].wide().to_bits(), "{act:?} wrote {i}");
                        continue;
                    }
                    let want = f(x[i].wide());
                    assert!(
                        (g - want).abs() <= T::TOL * want.abs().max(1.0),
                        "{act:?} {} n={n} off={off} i={i}: x={:?} got {g} want {want}",
                        std::any::type_name::<T>(),
                        x[i]
                    );
                }
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn generic_maps_every_instance_at_awkward_sizes_and_offsets() {
    maps_at_awkward_sizes::<f32>();
    maps_at_awkward_sizes::<gpukit::runtime::half::f16>();
    maps_at_awkward_sizes::<gpukit::runtime::half::bf16>();
}

/// bias + GELU for both instances, with widths that split 16-byte groups (3, 13) or fill them
/// (8, 64), misaligned starts, and the empty matrix.
fn bias_gelu_at_awkward_shapes<T: TestElem + gpukit::ops::BiasGeluElem>() {
    let (gpu, lib, s) = setup();
    for (rows, cols) in [
        (0usize, 8usize),
        (1, 3),
        (7, 13),
        (5, 8),
        (33, 64),
        (129, 1000),
        // More rows than one wave of blocks has bands: each thread walks several rows.
        (3001, 40),
    ] {
        for off in [0usize, 1] {
            let n = rows * cols;
            let x: Vec<T> = random_f32(n + off, (rows + cols + off) as u64)
                .iter()
                .map(|v| T::round(v * 3.0))
                .collect();
            let b: Vec<T> = random_f32(cols + off, 77 + cols as u64)
                .iter()
                .map(|&v| T::round(v))
                .collect();
            let (dx, db) = (gpu.upload(&x).unwrap(), gpu.upload(&b).unwrap());
            let mut out = gpu.alloc_filled::<T>(n + off, 0x7f).unwrap();
            lib.bias_gelu(&s, &dx[off..], &db[off..], &mut out[off..])
                .unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&out).unwrap();
            for i in 0..n {
                let v = x[off + i].wide() + b[off + i % cols].wide();
                // The sum is rounded to f32 before the map: compare with that input.
                let want = f64_gelu(v as f32 as f64);
                let g = got[off + i].wide();
                assert!(
                    (g - want).abs() <= 2.0 * T::TOL * want.abs().max(1.0),
                    "bias_gelu {} {rows}x{cols} off={off} i={i}: got {g} want {want}",
                    std::any::type_name::<T>()
                );
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn generic_bias_gelu_every_instance_at_awkward_shapes() {
    bias_gelu_at_awkward_shapes::<f32>();
    bias_gelu_at_awkward_shapes::<gpukit::runtime::half::bf16>();
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn generic_axpy_every_instance_at_misaligned_offsets() {
    let (gpu, lib, s) = setup();
    for n in [0usize, 1, 3, 5, 1021, 65_537] {
        for off in [0usize, 1, 2, 3] {
            let x = random_f32(n + off, 900 + n as u64);
            let y = random_f32(n + off, 901 + off as u64);
            let (dx, dy) = (gpu.upload(&x).unwrap(), gpu.upload(&y).unwrap());
            let mut o = gpu.alloc_filled::<f32>(n + off, 0xff).unwrap();
            lib.axpy(&s, -0.75f32, &dx[off..], &dy[off..], &mut o[off..])
                .unwrap();
            let x64: Vec<f64> = x.iter().map(|&v| v as f64 * 1.000001).collect();
            let y64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
            let (dx64, dy64) = (gpu.upload(&x64).unwrap(), gpu.upload(&y64).unwrap());
            let mut o64 = gpu.alloc_filled::<f64>(n + off, 0xff).unwrap();
            lib.axpy(&s, 1.5f64, &dx64[off..], &dy64[off..], &mut o64[off..])
                .unwrap();
            runtime::sync(&s).unwrap();
            let (g, g64) = (
                runtime::download(&o).unwrap(),
                runtime::download(&o64).unwrap(),
            );
            for i in off..n + off {
                assert_eq!(
                    g[i],
                    (-0.75f32).mul_add(x[i], y[i]),
                    "f32 n={n} off={off} i={i}"
                );
                assert_eq!(
                    g64[i],
                    1.5f64.mul_add(x64[i], y64[i]),
                    "f64 n={n} off={off} i={i}"
                );
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn fill_and_vector_add_through_misaligned_views_stay_in_bounds() {
    let (gpu, lib, s) = setup();
    for n in [1usize, 5, 4095, 4096, 4097, (1 << 20) + 7] {
        for off in [0usize, 1, 3] {
            // Guards of 7 elements on both sides: anything written outside the view shows.
            let total = n + off + 7;
            let mut buf = gpu.alloc_filled::<f32>(total, 0).unwrap();
            lib.fill(&s, -2.5, &mut buf[off..off + n]).unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&buf).unwrap();
            assert!(
                got[..off].iter().all(|&v| v == 0.0),
                "fill n={n} off={off}: before"
            );
            assert!(
                got[off..off + n].iter().all(|&v| v == -2.5),
                "fill n={n} off={off}"
            );
            assert!(
                got[off + n..].iter().all(|&v| v == 0.0),
                "fill n={n} off={off}: after"
            );

            let a = random_f32(n + off, 70 + n as u64);
            let b = random_f32(n + off, 80 + n as u64);
            let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
            let mut out = gpu.alloc_filled::<f32>(total, 0).unwrap();
            lib.kernels()
                .vector_add
                .launch(&s, &da[off..], &db[off..], &mut out[off..off + n])
                .unwrap();
            runtime::sync(&s).unwrap();
            let got = runtime::download(&out).unwrap();
            let want: Vec<f32> = (off..off + n).map(|i| a[i] + b[i]).collect();
            assert_eq!(got[off..off + n], want[..], "vector_add n={n} off={off}");
            assert!(got[..off].iter().chain(&got[off + n..]).all(|&v| v == 0.0));
        }
    }
}
