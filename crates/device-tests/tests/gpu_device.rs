//! GPU tests of gpukit-device, through the test kernels of `crates/device-tests/kernels`: every
//! feature on random inputs against a CPU reference. They need a CUDA GPU and are `#[ignore]`d;
//! run them with `cargo test --test gpu_device -- --include-ignored --nocapture` on a GPU
//! machine (`math_error_bounds` prints the measured maxima for the math docs).
#![allow(clippy::needless_range_loop)]
use gpukit::runtime::panic::PanicBuffer;
use gpukit_device_tests::Kernels;

use gpukit::runtime::half::{bf16, f16};
use gpukit::runtime::{self, DeviceBuffer, Gpu, LaunchConfig, Stream};
use gpukit_test_support::child;
use rand::{Rng, SeedableRng, rngs::StdRng};

fn setup() -> (Gpu, Kernels, Stream) {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Kernels::load(&gpu).expect("module loads");
    let s = gpu.stream().unwrap();
    (gpu, k, s)
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Blocks of `block` threads covering `n` threads.
fn cfg(n: usize, block: u32) -> LaunchConfig {
    LaunchConfig::linear(n.div_ceil(block as usize).max(1) as u32, block)
}

fn zeros<T: runtime::DeviceCopy>(gpu: &Gpu, n: usize) -> DeviceBuffer<T> {
    gpu.alloc_filled::<T>(n, 0).unwrap()
}

fn get<T: runtime::DeviceCopy + Default + Clone>(s: &Stream, b: &DeviceBuffer<T>) -> Vec<T> {
    runtime::sync(s).unwrap();
    runtime::download(b).unwrap()
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn indices_grid_stride_and_2d_tiles() {
    let (gpu, k, s) = setup();
    // 3D launch: grid (3, 2, 2) of blocks (4, 2, 3).
    let c = LaunchConfig {
        grid: (3, 2, 2),
        block: (4, 2, 3),
        shared_bytes: 0,
    };
    let n = 3 * 2 * 2 * 4 * 2 * 3;
    let mut out = gpu.alloc_filled::<u32>(n, 0xff).unwrap();
    k.index_3d.launch_with(&s, &c, &mut out).unwrap();
    let got = get(&s, &out);
    let mut want = vec![0u32; n];
    for (bz, by, bx) in itertools3(2, 2, 3) {
        for (tz, ty, tx) in itertools3(3, 2, 4) {
            let block = (bz * 2 + by) * 3 + bx;
            let lin = block * 24 + (tz * 2 + ty) * 4 + tx;
            let (x, y, z) = (bx * 4 + tx, by * 2 + ty, bz * 3 + tz);
            want[lin] = (x | y << 10 | z << 20) as u32;
        }
    }
    assert_eq!(got, want);

    // Grid-stride: 7 blocks of 64 threads over 100_003 elements.
    let n = 100_003;
    let mut out = gpu.alloc_filled::<u32>(n, 0xff).unwrap();
    k.grid_stride_fill
        .launch_with(&s, &LaunchConfig::linear(7, 64), &mut out)
        .unwrap();
    assert!(
        get(&s, &out)
            .iter()
            .enumerate()
            .all(|(i, &v)| v == i as u32)
    );

    // 2D tiles of 4x2 over a 37x45 matrix (edges partial), 2D grid of 8x8 blocks.
    let (rows, cols) = (37usize, 45usize);
    let mut out = gpu.alloc_filled::<u32>(rows * cols, 0xff).unwrap();
    let c = LaunchConfig {
        grid: (cols.div_ceil(4 * 8) as u32, rows.div_ceil(2 * 8) as u32, 1),
        block: (8, 8, 1),
        shared_bytes: 0,
    };
    k.tile_fill.launch_with(&s, &c, &mut out, cols).unwrap();
    let got = get(&s, &out);
    let bad = got.iter().enumerate().find(|&(i, &v)| v != i as u32);
    assert_eq!(
        bad, None,
        "tile ownership left a hole or wrote a wrong value"
    );
}

fn itertools3(a: usize, b: usize, c: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    (0..a).flat_map(move |i| (0..b).flat_map(move |j| (0..c).map(move |k| (i, j, k))))
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn barriers_with_predicates() {
    let (gpu, k, s) = setup();
    let mut r = rng(1);
    for &(n, block) in &[(1000usize, 256u32), (4096, 1024), (77, 64)] {
        // Mostly-even data, some all-odd and all-even blocks.
        let mut x: Vec<u32> = (0..n).map(|_| r.random::<u32>()).collect();
        for v in x.iter_mut().take(block as usize) {
            *v |= 1;
        }
        let dx = gpu.upload(&x).unwrap();
        let blocks = n.div_ceil(block as usize);
        let mut out = zeros::<u32>(&gpu, blocks * 3);
        k.barrier_votes
            .launch_with(&s, &cfg(n, block), &dx, &mut out)
            .unwrap();
        let got = get(&s, &out);
        for b in 0..blocks {
            let lo = b * block as usize;
            let hi = lo + block as usize;
            let preds: Vec<bool> = (lo..hi).map(|i| i < n && x[i] & 1 != 0).collect();
            let want = [
                preds.iter().filter(|&&p| p).count() as u32,
                preds.iter().all(|&p| p) as u32,
                preds.iter().any(|&p| p) as u32,
            ];
            assert_eq!(&got[b * 3..b * 3 + 3], &want, "n={n} block={block} b={b}");
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn warp_shuffles_votes_and_reductions() {
    let (gpu, k, s) = setup();
    let mut r = rng(2);
    let n = 32 * 40;
    let mut x: Vec<u32> = (0..n).map(|_| r.random_range(1..1_000_000)).collect();
    x[97] = 97 * 5; // one multiple of 97 somewhere
    x[3 * 32 + 4] = 0; // warp 3 has a zero: all(v != 0) false there
    let dx = gpu.upload(&x).unwrap();
    let mut out = zeros::<u32>(&gpu, n * 12);
    k.warp_u32
        .launch_with(&s, &cfg(n, 128), &dx, &mut out)
        .unwrap();
    let got = get(&s, &out);
    for w in 0..n / 32 {
        let v = &x[w * 32..w * 32 + 32];
        let ballot = (0..32).fold(0u32, |m, l| m | ((v[l] & 1) << l));
        for l in 0..32 {
            let g = &got[(w * 32 + l) * 12..(w * 32 + l) * 12 + 12];
            let want = [
                if l + 1 < 32 { v[l + 1] } else { v[l] },
                if l >= 3 { v[l - 3] } else { v[l] },
                v[l ^ 5],
                v[7],
                ballot,
                v.iter().any(|&a| a % 97 == 0) as u32,
                v.iter().all(|&a| a != 0) as u32,
                if l < 20 { 0x000f_ffff } else { 0 },
                l as u32,
                v.iter().fold(0u32, |a, &b| a.wrapping_add(b)),
                *v.iter().min().unwrap(),
                *v.iter().max().unwrap(),
            ];
            assert_eq!(g, &want, "warp {w} lane {l}");
        }
    }

    let xi: Vec<i32> = (0..n).map(|_| r.random_range(-1000..1000)).collect();
    let dxi = gpu.upload(&xi).unwrap();
    let mut outi = zeros::<i32>(&gpu, n * 4);
    k.warp_i32
        .launch_with(&s, &cfg(n, 256), &dxi, &mut outi)
        .unwrap();
    let got = get(&s, &outi);
    for w in 0..n / 32 {
        let v = &xi[w * 32..w * 32 + 32];
        for l in 0..32 {
            let g = &got[(w * 32 + l) * 4..(w * 32 + l) * 4 + 4];
            let want = [
                v.iter().sum::<i32>(),
                *v.iter().min().unwrap(),
                *v.iter().max().unwrap(),
                v[..=l].iter().sum::<i32>(),
            ];
            assert_eq!(g, &want, "i32 warp {w} lane {l}");
        }
    }

    // Small integers: f32 sums are exact in any order.
    let xf: Vec<f32> = (0..n)
        .map(|_| r.random_range(-64i32..64) as f32 * 0.5)
        .collect();
    let dxf = gpu.upload(&xf).unwrap();
    let mut outf = zeros::<f32>(&gpu, n * 7);
    k.warp_f32
        .launch_with(&s, &cfg(n, 64), &dxf, &mut outf)
        .unwrap();
    let got = get(&s, &outf);
    for w in 0..n / 32 {
        let v = &xf[w * 32..w * 32 + 32];
        for l in 0..32 {
            let g = &got[(w * 32 + l) * 7..(w * 32 + l) * 7 + 7];
            let p = v[l ^ 1];
            let want = [
                if l + 2 < 32 { v[l + 2] } else { v[l] },
                v[l ^ 16],
                if l >= 1 { v[l - 1] } else { v[l] },
                v.iter().sum::<f32>(),
                v.iter().cloned().fold(f32::MIN, f32::max),
                v.iter().cloned().fold(f32::MAX, f32::min),
                f16::from_f32(p).to_f32() + bf16::from_f32(-p).to_f32(),
            ];
            assert_eq!(g, &want, "f32 warp {w} lane {l}");
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn block_reductions_at_awkward_sizes() {
    let (gpu, k, s) = setup();
    let mut r = rng(3);
    for &n in &[1usize, 31, 33, 1000, 1025, 100_003] {
        for &block in &[64u32, 256, 1024] {
            let blocks = n.div_ceil(block as usize);
            let b = block as usize;
            // f32: small integers, exact sums.
            let x: Vec<f32> = (0..n)
                .map(|_| r.random_range(-100i32..100) as f32)
                .collect();
            let dx = gpu.upload(&x).unwrap();
            let mut out = zeros::<f32>(&gpu, blocks * 4);
            k.block_reduce_f32
                .launch_with(&s, &cfg(n, block), &dx, &mut out)
                .unwrap();
            let got = get(&s, &out);
            for bi in 0..blocks {
                let v = &x[bi * b..((bi + 1) * b).min(n)];
                let want = [
                    v.iter().sum::<f32>(),
                    v.iter().cloned().fold(f32::NEG_INFINITY, f32::max),
                    v.iter().cloned().fold(f32::INFINITY, f32::min),
                    v[0],
                ];
                assert_eq!(
                    &got[bi * 4..bi * 4 + 4],
                    &want,
                    "f32 n={n} block={block} b={bi}"
                );
            }
            let xi: Vec<i32> = (0..n).map(|_| r.random()).collect();
            let dxi = gpu.upload(&xi).unwrap();
            let mut outi = zeros::<i32>(&gpu, blocks * 4);
            k.block_reduce_i32
                .launch_with(&s, &cfg(n, block), &dxi, &mut outi)
                .unwrap();
            let got = get(&s, &outi);
            for bi in 0..blocks {
                let v = &xi[bi * b..((bi + 1) * b).min(n)];
                let want = [
                    v.iter().fold(0i32, |a, &c| a.wrapping_add(c)),
                    *v.iter().min().unwrap(),
                    *v.iter().max().unwrap(),
                    v[0],
                ];
                assert_eq!(
                    &got[bi * 4..bi * 4 + 4],
                    &want,
                    "i32 n={n} block={block} b={bi}"
                );
            }
            let xu: Vec<u32> = (0..n).map(|_| r.random()).collect();
            let dxu = gpu.upload(&xu).unwrap();
            let mut outu = zeros::<u32>(&gpu, blocks * 4);
            k.block_reduce_u32
                .launch_with(&s, &cfg(n, block), &dxu, &mut outu)
                .unwrap();
            let got = get(&s, &outu);
            for bi in 0..blocks {
                let v = &xu[bi * b..((bi + 1) * b).min(n)];
                let want = [
                    v.iter().fold(0u32, |a, &c| a.wrapping_add(c)),
                    *v.iter().min().unwrap(),
                    *v.iter().max().unwrap(),
                    v.len() as u32,
                ];
                assert_eq!(
                    &got[bi * 4..bi * 4 + 4],
                    &want,
                    "u32 n={n} block={block} b={bi}"
                );
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn atomics_are_exact_under_contention() {
    let (gpu, k, s) = setup();
    let mut r = rng(4);
    // Histogram: 10^7 updates, exact counts (global red.add and shared-memory variant).
    let n = 10_000_000;
    let x: Vec<u32> = (0..n).map(|_| r.random()).collect();
    let dx = gpu.upload(&x).unwrap();
    for nbins in [7usize, 256] {
        let mut want = vec![0u32; nbins];
        for &v in &x {
            want[(v % nbins as u32) as usize] += 1;
        }
        let mut bins = zeros::<u32>(&gpu, nbins);
        k.histogram.launch(&s, &dx, &mut bins).unwrap();
        assert_eq!(get(&s, &bins), want, "global histogram, {nbins} bins");
        if nbins == 256 {
            let mut bins = zeros::<u32>(&gpu, 256);
            k.histogram_shared.launch(&s, &dx, &mut bins).unwrap();
            assert_eq!(get(&s, &bins), want, "shared-memory histogram");
        }
    }

    // Integer operations with every ordering and scope.
    let n: usize = 200_003;
    let block = 256usize;
    let blocks = n.div_ceil(block);
    let x: Vec<u32> = (0..n).map(|_| r.random_range(1..1 << 20)).collect();
    let dx = gpu.upload(&x).unwrap();
    let mut init = vec![0u32; 9 + blocks];
    init[1] = u32::MAX;
    let mut out = gpu.upload(&init).unwrap();
    k.atomic_ops_u32
        .launch_with(&s, &cfg(n, block as u32), &dx, &mut out)
        .unwrap();
    let got = get(&s, &out);
    assert_eq!(
        got[0],
        x.iter().fold(0u32, |a, &b| a.wrapping_add(b)),
        "fetch_add"
    );
    assert_eq!(got[1], *x.iter().min().unwrap(), "fetch_min");
    assert_eq!(got[2], *x.iter().max().unwrap(), "fetch_max");
    assert_eq!(got[3], n as u32, "compare_exchange loop");
    assert_eq!(
        got[4],
        x.iter().fold(0u32, |a, &v| a | 1 << (v % 32)),
        "fetch_or"
    );
    assert_eq!(
        got[5],
        x.iter().fold(0u32, |a, &v| a ^ v),
        "fetch_xor (system scope)"
    );
    assert_eq!(got[6], n as u32, "seq_cst system-scope fetch_add");
    assert_eq!(
        (got[7], got[8]),
        (1, 1),
        "swap: exactly one thread saw the initial 0"
    );
    for b in 0..blocks {
        let want = (n - b * block).min(block) as u32;
        assert_eq!(got[9 + b], want, "block-scope counter of block {b}");
    }

    // Release/acquire message passing: no reader may see the flag without the data.
    let mut mp = zeros::<u32>(&gpu, 4);
    k.message_passing
        .launch_with(&s, &cfg(1 << 20, 256), 1 << 20, &mut mp)
        .unwrap();
    let got = get(&s, &mp);
    assert_eq!(
        got,
        vec![1, 42, 0, 7],
        "flag, data, violations, seq_cst store"
    );

    // Float adds: small integers make any summation order exact.
    let n = 1_000_003;
    let xf: Vec<f32> = (0..n).map(|_| r.random_range(0..16) as f32).collect();
    let want: f64 = xf.iter().map(|&v| v as f64).sum();
    let dxf = gpu.upload(&xf).unwrap();
    let mut outf = zeros::<f32>(&gpu, 2);
    k.atomic_add_f32
        .launch_with(&s, &cfg(n / 8, 256), &dxf, &mut outf)
        .unwrap();
    let got = get(&s, &outf);
    assert!(want < (1u64 << 24) as f64);
    assert_eq!(
        got,
        vec![want as f32, want as f32],
        "atom/red.global.add.f32"
    );
    let xd: Vec<f64> = xf.iter().map(|&v| v as f64 * 0.25).collect();
    let dxd = gpu.upload(&xd).unwrap();
    let mut outd = zeros::<f64>(&gpu, 2);
    k.atomic_add_f64
        .launch_with(&s, &cfg(n / 8, 256), &dxd, &mut outd)
        .unwrap();
    assert_eq!(
        get(&s, &outd),
        vec![want * 0.25, want * 0.25],
        "atom.global.add.f64"
    );

    let xl: Vec<i64> = (0..n)
        .map(|_| r.random_range(-(1i64 << 40)..1i64 << 40))
        .collect();
    let dxl = gpu.upload(&xl).unwrap();
    let mut outl = gpu.upload(&[0i64, i64::MAX, i64::MIN]).unwrap();
    k.atomic_ops_i64
        .launch_with(&s, &cfg(n / 4, 256), &dxl, &mut outl)
        .unwrap();
    let want = vec![
        xl.iter().sum::<i64>(),
        *xl.iter().min().unwrap(),
        *xl.iter().max().unwrap(),
    ];
    assert_eq!(get(&s, &outl), want, "i64 add/min/max");
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn shared_memory_tiles_round_trip() {
    let (gpu, k, s) = setup();
    let mut r = rng(5);
    for &n in &[256usize, 1000, 65_537] {
        let x: Vec<f32> = (0..n).map(|_| r.random_range(-1e3..1e3)).collect();
        let dx = gpu.upload(&x).unwrap();
        let mut out = gpu.alloc_filled::<f32>(n, 0xff).unwrap();
        let mut out_b = gpu.alloc_filled::<bf16>(n, 0xff).unwrap();
        k.shared_reverse
            .launch_with(&s, &cfg(n, 256), &dx, &mut out, &mut out_b)
            .unwrap();
        let got = get(&s, &out);
        let got_b = get(&s, &out_b);
        for i in 0..n {
            let (base, t) = (i - i % 256, i % 256);
            let src = base + 255 - t;
            if src < n {
                assert_eq!(
                    got[i].to_bits(),
                    x[src].to_bits(),
                    "static tile n={n} i={i}"
                );
                assert_eq!(got_b[i], bf16::from_f32(x[src]), "bf16 tile n={n} i={i}");
            }
        }
        for block in [32u32, 96, 1024] {
            let xu: Vec<u32> = (0..n).map(|_| r.random()).collect();
            let dxu = gpu.upload(&xu).unwrap();
            let mut outu = gpu.alloc_filled::<u32>(n, 0xff).unwrap();
            let c = cfg(n, block).with_shared(block * 4);
            k.dynamic_reverse
                .launch_with(&s, &c, &dxu, &mut outu)
                .unwrap();
            let got = get(&s, &outu);
            let b = block as usize;
            for i in 0..n {
                let (base, t) = (i - i % b, i % b);
                let src = base + b - 1 - t;
                if src < n {
                    assert_eq!(got[i], xu[src], "dynamic n={n} block={block} i={i}");
                }
            }
        }
    }
}

/// How inputs are drawn for a math function, and how its error is measured.
struct MathCase {
    name: &'static str,
    lo: f64,
    hi: f64,
    /// Draw `2^u` (log-uniform) instead of uniform in `[lo, hi]`.
    log: bool,
    /// Error = |got - ref| / max(|ref|, floor): tiny floor = relative, 1 = mixed/absolute.
    floor: f64,
    /// Asserted bound, as log2.
    bound_log2: f64,
    reference: fn(f64) -> f64,
}

fn gelu_ref(x: f64) -> f64 {
    let k = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
}

const REL: f64 = 1e-300;
const PI: f64 = std::f64::consts::PI;

#[rustfmt::skip]
fn math_cases() -> Vec<MathCase> {
    let c = |name, lo, hi, log, floor, bound_log2, reference| MathCase { name, lo, hi, log, floor, bound_log2, reference };
    vec![
        c("exp", -87.0, 88.0, false, REL, -22.0, f64::exp as fn(f64) -> f64),
        c("exp_fast", -87.0, 88.0, false, REL, -16.0, f64::exp),
        c("exp2", -125.0, 127.0, false, REL, -22.0, f64::exp2),
        c("exp2_fast", -125.0, 127.0, false, REL, -21.0, f64::exp2),
        c("log", -125.0, 127.0, true, 1.0, -22.0, f64::ln),
        c("log_fast", -125.0, 127.0, true, 1.0, -20.0, f64::ln),
        c("log2", -125.0, 127.0, true, 1.0, -22.0, f64::log2),
        c("log2_fast", -125.0, 127.0, true, 1.0, -20.0, f64::log2),
        c("tanh", -10.0, 10.0, false, REL, -21.0, f64::tanh),
        c("tanh_fast", -10.0, 10.0, false, REL, -10.5, f64::tanh),
        c("sigmoid", -87.0, 87.0, false, REL, -21.0, |x| 1.0 / (1.0 + (-x).exp())),
        c("sigmoid_fast", -87.0, 87.0, false, REL, -15.0, |x| 1.0 / (1.0 + (-x).exp())),
        c("gelu", -10.0, 10.0, false, 1.0, -20.0, gelu_ref),
        c("gelu_fast", -10.0, 10.0, false, 1.0, -8.0, gelu_ref),
        c("sin", -100.0, 100.0, false, 1.0, -22.0, f64::sin),
        c("sin_fast", -PI, PI, false, 1.0, -20.0, f64::sin),
        c("cos", -100.0, 100.0, false, 1.0, -22.0, f64::cos),
        c("cos_fast", -PI, PI, false, 1.0, -20.0, f64::cos),
        c("rsqrt", -125.0, 127.0, true, REL, -22.0, |x| 1.0 / x.sqrt()),
        c("rsqrt_fast", -125.0, 127.0, true, REL, -22.0, |x| 1.0 / x.sqrt()),
        c("sqrt", -125.0, 127.0, true, REL, -23.0, f64::sqrt),
        c("sqrt_fast", -125.0, 127.0, true, REL, -21.0, f64::sqrt),
    ]
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn math_error_bounds() {
    let (gpu, k, s) = setup();
    let src = include_str!("../kernels/src/math.rs");
    let n = 1 << 20;
    let mut report = Vec::new();
    for (id, case) in math_cases().iter().enumerate() {
        assert!(
            src.contains(&format!("{id} => math::{}(v)", case.name)) || id == 21,
            "{}",
            case.name
        );
        let mut r = rng(100 + id as u64);
        let mut x: Vec<f32> = (0..n)
            .map(|i| {
                // Uniform sweep plus random points.
                let u = if i % 2 == 0 {
                    i as f64 / n as f64
                } else {
                    r.random::<f64>()
                };
                let t = case.lo + (case.hi - case.lo) * u;
                (if case.log { t.exp2() } else { t }) as f32
            })
            .collect();
        x.push(case.hi as f32);
        let dx = gpu.upload(&x).unwrap();
        let mut out = zeros::<f32>(&gpu, x.len());
        k.math_eval.launch(&s, &dx, &mut out, id as u32).unwrap();
        let got = get(&s, &out);
        let (mut worst, mut at) = (0.0f64, 0.0f32);
        for (&xi, &g) in x.iter().zip(&got) {
            let want = (case.reference)(xi as f64);
            let err = if g.is_nan() && want.is_nan() {
                0.0
            } else {
                (g as f64 - want).abs() / want.abs().max(case.floor)
            };
            let err = if err.is_nan() { f64::INFINITY } else { err };
            if err > worst {
                (worst, at) = (err, xi);
            }
        }
        println!(
            "{:>13}: max error 2^{:.2} ({:.3e}) at x = {at:e}; asserted bound 2^{}",
            case.name,
            worst.log2(),
            worst,
            case.bound_log2
        );
        report.push((case.name, worst, case.bound_log2, at));
    }
    let failed: Vec<_> = report.iter().filter(|(_, w, b, _)| w.log2() > *b).collect();
    assert!(failed.is_empty(), "over the stated bound: {failed:?}");
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn min_max_nan_rules_and_fma() {
    let (gpu, k, s) = setup();
    let specials = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        3.5,
        f32::MIN_POSITIVE,
    ];
    let mut a = Vec::new();
    let mut b = Vec::new();
    for &p in &specials {
        for &q in &specials {
            a.push(p);
            b.push(q);
        }
    }
    let mut r = rng(6);
    for _ in 0..10_000 {
        a.push(r.random_range(-1e3..1e3));
        b.push(r.random_range(-1e3..1e3));
    }
    let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
    for op in 0..5u32 {
        let mut out = zeros::<f32>(&gpu, a.len());
        k.binary_eval.launch(&s, &da, &db, &mut out, op).unwrap();
        let got = get(&s, &out);
        for i in 0..a.len() {
            let (x, y, g) = (a[i], b[i], got[i]);
            let ok = match op {
                0 | 1 => {
                    let want = if op == 0 { x.min(y) } else { x.max(y) }; // Rust's min/max ignore NaN too
                    (g.is_nan() && want.is_nan()) || g == want
                }
                2 | 3 => {
                    if x.is_nan() || y.is_nan() {
                        g.is_nan()
                    } else {
                        g == if op == 2 { x.min(y) } else { x.max(y) }
                    }
                }
                _ => {
                    let want = x.mul_add(y, x);
                    (g.is_nan() && want.is_nan()) || g.to_bits() == want.to_bits()
                }
            };
            assert!(ok, "op {op}: ({x}, {y}) -> {g}");
        }
    }
}

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

fn marker_line(marker: &str) -> u32 {
    let src = include_str!("../kernels/src/panics.rs");
    src.lines()
        .position(|l| l.contains(marker))
        .expect("marker") as u32
        + 1
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn panics_report_kernel_and_location_and_the_gpu_recovers() {
    const NAME: &str = "panics_report_kernel_and_location_and_the_gpu_recovers";
    let cases = [
        (1u32, "PANIC-BOUNDS", None),
        (2, "PANIC-EXPLICIT", Some("gpukit test panic")),
    ];
    if let Some(arg) = child::child_arg() {
        // The child: make the kernel panic, check the report, return normally.
        let (mode, marker, message) = cases[arg.parse::<usize>().unwrap()];
        let gpu = Gpu::new(0).expect("a CUDA GPU");
        let k = Kernels::load(&gpu).unwrap();
        let s = gpu.stream().unwrap();
        let panics = PanicBuffer::new(&gpu).unwrap();
        assert!(
            panics.attach(k.panic_on_demand.function()).unwrap(),
            "module has the panic global"
        );
        let x: Vec<u32> = (0..1000).collect();
        let dx = gpu.upload(&x).unwrap();
        let mut out = zeros::<u32>(&gpu, x.len());
        // A clean run first: no record.
        let r = k
            .panic_on_demand
            .launch(&s, &dx, &mut out, 0)
            .and_then(|_| runtime::sync(&s));
        panics.check("panic_on_demand", r).unwrap();
        assert_eq!(runtime::download(&out).unwrap(), x);
        let r = k
            .panic_on_demand
            .launch(&s, &dx, &mut out, mode)
            .and_then(|_| runtime::sync(&s));
        let failure = panics.check("panic_on_demand", r).unwrap_err();
        let text = failure.to_string();
        println!("REPORT {text}");
        assert!(text.contains("kernel `panic_on_demand`"), "{text}");
        let p = failure.panic.as_ref().expect("the panic was recorded");
        assert!(p.file.ends_with("src/panics.rs"), "{p}");
        assert_eq!(p.line, marker_line(marker), "{p}");
        assert_eq!(p.message.as_deref(), message, "{p}");
        assert_eq!((p.block, p.thread), ([0, 0, 0], [5, 0, 0]), "{p}");
        assert!(failure.is_sticky(), "{text}");
        return;
    }
    for i in 0..cases.len() {
        let (ok, text) = child::run_child(NAME, &i.to_string());
        println!("{text}");
        assert!(ok, "child {i} failed:\n{text}");
        assert!(
            text.contains("REPORT kernel `panic_on_demand` panicked at"),
            "{text}"
        );
    }
    // The process that watched the panics keeps working on a fresh context.
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Kernels::load(&gpu).unwrap();
    let s = gpu.stream().unwrap();
    let x: Vec<u32> = (0..100).collect();
    let dx = gpu.upload(&x).unwrap();
    let mut out = zeros::<u32>(&gpu, x.len());
    k.panic_on_demand.launch(&s, &dx, &mut out, 0).unwrap();
    assert_eq!(get(&s, &out), x, "launch on a fresh context");
}
