//! GPU tests of the single-pass scan: f32, i32 and u32, inclusive and exclusive, at awkward
//! lengths (1, 31, one tile ± 1, the edges of the three tiles a persistent block holds at once,
//! one, two and three resident waves of tiles and their neighbours, 2^20 + 7, 2^28) and through
//! misaligned views, against f64 and i64 sequential references; the cooperative launch's limit
//! and the one-tile-per-block kernel the library falls back to. `#[ignore]`d without a GPU.
mod common;
use common::setup;
use gpukit::Library;
use gpukit::kernels::consts::scan::{BLOCK, P_BLOCK, P_SHARED_BYTES};
use gpukit::ops::{ScanElem, ScanKind, scan::TILE};
use gpukit::runtime::{self, DeviceCopy, Error, Gpu, LaunchConfig, Stream};
use gpukit_test_support::reference::random_f32;

const KINDS: [ScanKind; 2] = [ScanKind::Inclusive, ScanKind::Exclusive];

/// Blocks of the persistent scan resident at once on this GPU: its grid.
fn resident(lib: &Library) -> usize {
    lib.kernels()
        .scan_persistent
        .function::<f32>()
        .max_cooperative_blocks(P_BLOCK as u32, P_SHARED_BYTES as u32)
        .unwrap() as usize
}

/// Lengths: tiny, a warp minus one, one tile and its neighbours, two and three tiles and their
/// neighbours (a persistent block starts with three tiles, some past the end), one, two and
/// three waves of `g` tiles (the resident grid) and their neighbours, large and odd, and 2^28
/// (the benchmark size) unless `GPUKIT_TEST_MAX_ELEMS` caps it.
fn lengths(g: usize) -> Vec<usize> {
    let cap = std::env::var("GPUKIT_TEST_MAX_ELEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    [
        1,
        31,
        TILE - 1,
        TILE,
        TILE + 1,
        2 * TILE + 1,
        3 * TILE - 1,
        3 * TILE + 1,
        g * TILE - 1,
        g * TILE + 1,
        2 * g * TILE + 5,
        3 * g * TILE + TILE / 2 + 3,
        (1 << 20) + 7,
        1 << 28,
    ]
    .into_iter()
    .filter(|&n| n <= cap)
    .collect()
}

/// View offsets tested at length `n`: misaligned views at every length but the largest (whose
/// host-side copies and references dominate the test's time).
fn offsets(n: usize, off: usize) -> Vec<usize> {
    if n >= 1 << 24 { vec![0] } else { vec![0, off] }
}

/// Scan `x[off..]` on the GPU (a view starting `off` elements into its buffer).
fn gpu_scan<T: ScanElem + Default>(
    (gpu, lib, s): (&Gpu, &Library, &Stream),
    kind: ScanKind,
    x: &[T],
    off: usize,
) -> Vec<T> {
    let mut padded = vec![T::default(); off];
    padded.extend_from_slice(x);
    let dx = gpu.upload(&padded).unwrap();
    let mut out = gpu.alloc_filled::<T>(x.len() + off, 0xff).unwrap();
    let mut scratch = lib.scan_scratch(x.len()).unwrap();
    lib.scan(s, kind, &dx[off..], &mut out[off..], &mut scratch)
        .unwrap();
    runtime::sync(s).unwrap();
    let got = runtime::download(&out).unwrap();
    got[off..].to_vec()
}

/// i32/u32 inputs from random floats (sign and magnitude vary; sums wrap at 2^28).
fn ints(n: usize, seed: u64) -> Vec<i32> {
    random_f32(n, seed)
        .iter()
        .map(|v| (v * 2.0e6) as i32)
        .collect()
}

fn check_int<T: ScanElem + Default + Into<i64> + DeviceCopy>(
    ctx: (&Gpu, &Library, &Stream),
    x: &[T],
    off: usize,
    wrap: impl Fn(i64) -> i64,
    what: &str,
) {
    for kind in KINDS {
        let got = gpu_scan(ctx, kind, x, off);
        let mut run = 0i64;
        for (i, (&g, &v)) in got.iter().zip(x).enumerate() {
            let v: i64 = v.into();
            let incl = run + v;
            let want = wrap(if kind == ScanKind::Inclusive {
                incl
            } else {
                run
            });
            assert_eq!(
                g.into(),
                want,
                "{what} {kind:?} n={} off={off} i={i}",
                x.len()
            );
            run = incl;
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn integer_scans_are_exact() {
    let (gpu, lib, s) = setup();
    let ctx = (&gpu, &lib, &s);
    for (t, n) in lengths(resident(&lib)).into_iter().enumerate() {
        let xi = ints(n, 1300 + t as u64);
        let xu: Vec<u32> = xi
            .iter()
            .map(|v| v.unsigned_abs().wrapping_mul(4099))
            .collect();
        for off in offsets(n, 1) {
            check_int(ctx, &xi, off, |v| v as i32 as i64, "i32");
            check_int(ctx, &xu, off, |v| v as u32 as i64, "u32");
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn f32_scans_match_f64_within_bound() {
    let (gpu, lib, s) = setup();
    let ctx = (&gpu, &lib, &s);
    for (t, n) in lengths(resident(&lib)).into_iter().enumerate() {
        let x = random_f32(n, 1400 + t as u64);
        for off in offsets(n, 3) {
            for kind in KINDS {
                let got = gpu_scan(ctx, kind, &x, off);
                // Bound: 2^-20 of the running sum of |x| (tree order within and across tiles).
                let (mut run, mut mag) = (0f64, 0f64);
                for (i, (&g, &v)) in got.iter().zip(&x).enumerate() {
                    let (incl, incl_mag) = (run + v as f64, mag + (v as f64).abs());
                    let (want, m) = match kind {
                        ScanKind::Inclusive => (incl, incl_mag),
                        ScanKind::Exclusive => (run, mag),
                    };
                    assert!(
                        (g as f64 - want).abs() <= m * 2f64.powi(-20) + 1e-6,
                        "f32 {kind:?} n={n} off={off} i={i}: {g} vs {want}"
                    );
                    (run, mag) = (incl, incl_mag);
                }
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn scan_errors_name_the_problem() {
    let (gpu, lib, s) = setup();
    let x = gpu.upload(&[1.0f32; 10]).unwrap();
    let mut out = gpu.alloc_filled::<f32>(9, 0).unwrap();
    let mut scratch = lib.scan_scratch(10).unwrap();
    let e = lib
        .scan(&s, ScanKind::Inclusive, &x, &mut out, &mut scratch)
        .unwrap_err();
    assert!(matches!(e, Error::LengthMismatch { .. }), "{e}");
    // Scratch for fewer elements than the input.
    let big = gpu.alloc_filled::<f32>(TILE + 1, 0).unwrap();
    let mut big_out = gpu.alloc_filled::<f32>(TILE + 1, 0).unwrap();
    let mut small = lib.scan_scratch(1).unwrap();
    let e = lib
        .scan(&s, ScanKind::Exclusive, &big, &mut big_out, &mut small)
        .unwrap_err()
        .to_string();
    assert!(e.contains("scratch covers"), "{e}");
    // Empty input: nothing to do.
    let empty = gpu.alloc_filled::<u32>(0, 0).unwrap();
    let mut empty_out = gpu.alloc_filled::<u32>(0, 0).unwrap();
    lib.scan(&s, ScanKind::Inclusive, &empty, &mut empty_out, &mut small)
        .unwrap();
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn f32_scans_are_deterministic() {
    let (gpu, lib, s) = setup();
    let ctx = (&gpu, &lib, &s);
    let n = 3 * resident(&lib) * TILE + 12345;
    let x = random_f32(n, 1500);
    for kind in KINDS {
        let a = gpu_scan(ctx, kind, &x, 0);
        let b = gpu_scan(ctx, kind, &x, 0);
        assert!(
            a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
            "{kind:?}: two runs differ"
        );
    }
}

/// The persistent kernel's cooperative launch refuses a grid that cannot be resident (before
/// anything runs, so the library can fall back), and the one-tile-per-block kernel the library
/// falls back to is exact on its own.
#[test]
#[ignore = "needs a CUDA GPU"]
fn cooperative_limit_and_fallback_kernel() {
    let (gpu, lib, s) = setup();
    let g = resident(&lib);
    assert!(g > 0, "the persistent scan fits on this GPU");
    let n = (g + 1) * TILE;
    let xi = ints(n, 1600);
    let x = gpu.upload(&xi).unwrap();
    let mut out = gpu.alloc_filled::<i32>(n, 0x5a).unwrap();
    // The kernels' own scratch: one state word per tile.
    let mut states = gpu.alloc_zeroed::<u64>(n / TILE).unwrap();
    let state = &mut states[..];
    let k = &lib.kernels().scan_persistent;
    let cfg = LaunchConfig::linear(g as u32 + 1, P_BLOCK as u32).with_shared(P_SHARED_BYTES as u32);
    let e = k
        .launch_cooperative(&s, &cfg, &x, &mut out, state, 0)
        .unwrap_err();
    assert!(e.is_cooperative_too_large(), "{e}");
    runtime::sync(&s).unwrap();
    assert!(
        runtime::download(&out)
            .unwrap()
            .iter()
            .all(|&v| v == 0x5a5a5a5a)
    );
    // The one-tile-per-block kernel, n / TILE blocks, inclusive and exclusive.
    for exclusive in [0u32, 1] {
        runtime::zero_async(&s, state).unwrap();
        let cfg = LaunchConfig::linear((n / TILE) as u32, BLOCK as u32);
        lib.kernels()
            .scan
            .launch_with(&s, &cfg, &x, &mut out, state, exclusive)
            .unwrap();
        runtime::sync(&s).unwrap();
        let got = runtime::download(&out).unwrap();
        let mut run = 0i32;
        for (i, (&g, &v)) in got.iter().zip(&xi).enumerate() {
            let incl = run.wrapping_add(v);
            assert_eq!(
                g,
                if exclusive == 1 { run } else { incl },
                "i={i} exclusive={exclusive}"
            );
            run = incl;
        }
    }
}
