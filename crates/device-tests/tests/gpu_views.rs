//! GPU tests of ownership views, generic kernels and launch contracts, through the test kernels
//! of `crates/device/tests-kernels/src/views.rs`, on random inputs against CPU references. They
//! need a CUDA GPU and are `#[ignore]`d; the contract checks need no launch but a loaded module.
use gpukit_device_tests::Kernels;
use gpukit_runtime::half::{bf16, f16};
use gpukit_runtime::{self as runtime, DeviceBuffer, DeviceCopy, Error, Gpu, LaunchConfig, Stream};
use rand::{Rng, SeedableRng, rngs::StdRng};

fn setup() -> (Gpu, Kernels, Stream) {
    let gpu = Gpu::new(0).expect("a CUDA GPU");
    let k = Kernels::load(&gpu).expect("module loads");
    let s = gpu.stream().unwrap();
    (gpu, k, s)
}

fn get<T: DeviceCopy + Default + Clone>(s: &Stream, b: &DeviceBuffer<T>) -> Vec<T> {
    runtime::sync(s).unwrap();
    runtime::download(b).unwrap()
}

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut r = StdRng::seed_from_u64(seed);
    (0..n).map(|_| r.random_range(-4.0f32..4.0)).collect()
}

/// Host side of the storage types, for one generic test.
trait Storage: DeviceCopy + Default + Clone + PartialEq + std::fmt::Debug {
    fn from_f32(v: f32) -> Self;
    fn to_f32(self) -> f32;
}
impl Storage for f32 {
    fn from_f32(v: f32) -> f32 {
        v
    }
    fn to_f32(self) -> f32 {
        self
    }
}
impl Storage for f16 {
    fn from_f32(v: f32) -> f16 {
        f16::from_f32(v)
    }
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}
impl Storage for bf16 {
    fn from_f32(v: f32) -> bf16 {
        bf16::from_f32(v)
    }
    fn to_f32(self) -> f32 {
        bf16::to_f32(self)
    }
}

/// One generic test body for every instance: the launcher is generic too.
fn check_axpb<T>(gpu: &Gpu, k: &Kernels, s: &Stream, n: usize, offset: usize)
where
    T: Storage + gpukit_device_tests::AxpbInstance,
{
    let x: Vec<T> = random(n + offset, n as u64)
        .into_iter()
        .map(T::from_f32)
        .collect();
    let (a, b) = (1.5f32, -0.25f32);
    let dx = gpu.upload(&x).unwrap();
    let mut out = gpu.alloc_filled::<T>(n + offset, 0).unwrap();
    // An offset view starts off 16-byte alignment: the element-wise paths run.
    k.axpb
        .launch(s, &dx[offset..], a, b, &mut out[offset..])
        .unwrap();
    let got = get(s, &out);
    for i in 0..n {
        let want = T::from_f32(x[offset + i].to_f32().mul_add(a, b));
        assert_eq!(
            got[offset + i],
            want,
            "{} n={n} offset={offset} i={i}",
            std::any::type_name::<T>()
        );
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn one_generic_source_serves_every_instance() {
    let (gpu, k, s) = setup();
    for n in [0, 1, 7, 8, 9, 1000, (1 << 20) + 3] {
        for offset in [0, 1] {
            check_axpb::<f32>(&gpu, &k, &s, n, offset);
            check_axpb::<f16>(&gpu, &k, &s, n, offset);
            check_axpb::<bf16>(&gpu, &k, &s, n, offset);
        }
    }
    // The instances are distinct entries.
    assert_eq!(
        gpukit_device_tests::Axpb::ENTRIES,
        ["axpb__f32", "axpb__f16", "axpb__bf16"]
    );
    assert_eq!(k.axpb.function::<bf16>().name(), "axpb__bf16");
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn block_rows_with_chunks_and_loads_in_flight() {
    let (gpu, k, s) = setup();
    for (rows, cols) in [(1, 1), (37, 4), (37, 5), (64, 1024), (9, 4099), (3, 20000)] {
        let x = random(rows * cols, cols as u64);
        let gamma = random(cols, 7);
        let (dx, dg) = (gpu.upload(&x).unwrap(), gpu.upload(&gamma).unwrap());
        let mut y = gpu.alloc_filled::<f32>(rows * cols, 0).unwrap();
        k.center_rows
            .launch(&s, &dx, &dg, rows as u32, cols as u32, &mut y)
            .unwrap();
        let got = get(&s, &y);
        for r in 0..rows {
            let row = &x[r * cols..(r + 1) * cols];
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / cols as f64;
            for c in 0..cols {
                let want = (row[c] as f64 - mean) * gamma[c] as f64;
                let g = got[r * cols + c] as f64;
                assert!(
                    (g - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "rows={rows} cols={cols} ({r}, {c}): {g} vs {want}"
                );
            }
        }
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn warp_rows_tiles_and_const_instances() {
    let (gpu, k, s) = setup();
    // One warp per row; a block size that is not a multiple of 32 has a short last warp.
    for (rows, cols, block) in [(1000, 64, None), (333, 5, None), (50, 40, Some(48u32))] {
        let x = random(rows * cols, 3);
        let dx = gpu.upload(&x).unwrap();
        let mut y = gpu.alloc_filled::<f32>(rows, 0).unwrap();
        match block {
            None => k
                .warp_row_sums
                .launch(&s, &dx, cols as u32, &mut y)
                .unwrap(),
            Some(b) => {
                // 48 threads = one full warp and one of 16 lanes: two rows per block.
                let cfg = LaunchConfig::linear(rows.div_ceil(2) as u32, b);
                k.warp_row_sums
                    .launch_with(&s, &cfg, &dx, cols as u32, &mut y)
                    .unwrap()
            }
        }
        let got = get(&s, &y);
        for r in 0..rows {
            let want: f64 = x[r * cols..(r + 1) * cols].iter().map(|&v| v as f64).sum();
            assert!(
                (got[r] as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                "row {r}"
            );
        }
    }
    // 32x32 block tiles of the transposed matrix.
    for (rows, cols) in [(100, 77), (32, 32), (1, 300)] {
        let a = random(rows * cols, 5);
        let da = gpu.upload(&a).unwrap();
        let mut out = gpu.alloc_filled::<f32>(rows * cols, 0).unwrap();
        k.transpose_tiles
            .launch(&s, &da, rows as u32, cols as u32, &mut out)
            .unwrap();
        let got = get(&s, &out);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(got[c * rows + r], a[r * cols + c]);
            }
        }
    }
    // Const instances: the const parameter sizes the rows on both sides.
    let x: Vec<u32> = (0..1000).map(|i| i * 7 + 1).collect();
    let dx = gpu.upload(&x).unwrap();
    let mut out = gpu.alloc_filled::<u32>(5 * x.len(), 0).unwrap();
    k.repeat.launch::<u32, 5>(&s, &dx, &mut out).unwrap();
    let got = get(&s, &out);
    assert!(got.chunks(5).zip(&x).all(|(r, v)| r.iter().all(|g| g == v)));
    let xf = random(999, 9);
    let dxf = gpu.upload(&xf).unwrap();
    let mut outf = gpu.alloc_filled::<f32>(2 * xf.len(), 0).unwrap();
    k.repeat.launch::<f32, 2>(&s, &dxf, &mut outf).unwrap();
    let got = get(&s, &outf);
    assert!(
        got.chunks(2)
            .zip(&xf)
            .all(|(r, v)| r[0] == *v && r[1] == *v)
    );
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn broken_contracts_are_errors_before_launch() {
    let (gpu, k, s) = setup();
    let (rows, cols) = (8usize, 16usize);
    let dx = gpu.upload(&random(rows * cols, 1)).unwrap();
    let dg = gpu.upload(&random(cols - 1, 2)).unwrap();
    let mut y = gpu.alloc_filled::<f32>(rows * cols, 0x7f).unwrap();
    let e = k
        .center_rows
        .launch(&s, &dx, &dg, rows as u32, cols as u32, &mut y)
        .unwrap_err();
    assert!(matches!(e, Error::Contract { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "kernel `center_rows`: contract `len(gamma) == cols` does not hold for `gamma`: len(gamma) = 15, cols = 16, left side 15, right side 16"
    );
    // Nothing ran: the output keeps its fill.
    assert!(get(&s, &y).iter().all(|v| v.to_bits() == 0x7f7f_7f7f));
    let dg = gpu.upload(&random(cols, 2)).unwrap();
    let e = k
        .center_rows
        .launch(&s, &dx, &dg, rows as u32 + 1, cols as u32, &mut y)
        .unwrap_err()
        .to_string();
    assert!(e.contains("contract `len(x) == rows * cols` does not hold for `x`: len(x) = 128, rows = 9, cols = 16"), "{e}");
    // A relation with a product of lengths.
    let mut ys = gpu.alloc_filled::<f32>(rows + 1, 0).unwrap();
    let e = k
        .warp_row_sums
        .launch(&s, &dx, cols as u32, &mut ys)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`len(x) == len(y) * cols`"), "{e}");
    // An explicit grid that is too small leaves rows unwritten, never writes one twice.
    let mut y = gpu.alloc_filled::<f32>(rows * cols, 0).unwrap();
    k.center_rows
        .launch_with(
            &s,
            &LaunchConfig::linear(3, 64),
            &dx,
            &dg,
            rows as u32,
            cols as u32,
            &mut y,
        )
        .unwrap();
    let got = get(&s, &y);
    assert!(got[3 * cols..].iter().all(|v| *v == 0.0));
    assert!(got[..3 * cols].iter().any(|v| *v != 0.0));
}

/// Clamped-edge reference of `sweep_stencil`: weights `3i + j + 1`.
fn stencil_reference(x: &[f32], rows: usize, cols: usize) -> Vec<f64> {
    let at = |r: isize, c: isize| {
        let r = r.clamp(0, rows as isize - 1) as usize;
        let c = c.clamp(0, cols as isize - 1) as usize;
        x[r * cols + c] as f64
    };
    let mut y = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            for i in 0..3 {
                for j in 0..3 {
                    y[r * cols + c] +=
                        (3 * i + j + 1) as f64 * at((r + i) as isize - 1, (c + j) as isize - 1);
                }
            }
        }
    }
    y
}

/// Asserts `got` is the clamped 3×3 stencil of `x` (`rows` × `cols`) within 1e-5 of (1 + |y|).
fn assert_stencil(what: &str, got: &[f32], x: &[f32], rows: usize, cols: usize) {
    let want = stencil_reference(x, rows, cols);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
            "{rows}x{cols} {what} at ({}, {}): {g} vs {w}",
            i / cols,
            i % cols
        );
    }
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn sweep_rows_windows_and_strided_packets() {
    let (gpu, k, s) = setup();
    // Interior and edge bands, partial tiles, rows not a whole number of chunks (no 16-byte
    // path), a single row and a single column.
    for (rows, cols) in [(300, 520), (64, 128), (77, 130), (1, 9), (45, 1), (130, 4)] {
        let x = random(rows * cols, 11);
        let dx = gpu.upload(&x).unwrap();
        let mut y = gpu.alloc_filled::<f32>(rows * cols, 0xff).unwrap();
        k.sweep_stencil
            .launch(&s, &dx, rows as u32, cols as u32, &mut y)
            .unwrap();
        assert_stencil("stencil", &get(&s, &y), &x, rows, cols);
    }
    for (rows, cols) in [(100, 64), (33, 70), (3, 8)] {
        let x: Vec<u32> = (0..(rows * cols) as u32)
            .map(|i| i.wrapping_mul(2654435761))
            .collect();
        let dx = gpu.upload(&x).unwrap();
        let mut y = gpu.alloc_filled::<u32>(rows * cols, 0xff).unwrap();
        k.sweep_five_rows
            .launch(&s, &dx, rows as u32, cols as u32, &mut y)
            .unwrap();
        let got = get(&s, &y);
        for r in 0..rows {
            for c in 0..cols {
                let up = x[r.saturating_sub(2) * cols + c];
                let down = x[(r + 2).min(rows - 1) * cols + c];
                assert_eq!(got[r * cols + c], up.wrapping_add(down), "({r}, {c})");
            }
        }
    }
    // Three strided packets per thread, a partial last packet; the default grid and a grid
    // too small for the output (the packets past it stay unwritten, none is written twice).
    for n in [1usize, 4, 1001, 65536 + 3] {
        let a = random(n, 13);
        let da = gpu.upload(&a).unwrap();
        let mut out = gpu.alloc_filled::<f32>(n, 0).unwrap();
        k.twice_plus_one.launch(&s, &da, &mut out).unwrap();
        let got = get(&s, &out);
        assert!(
            got.iter().zip(&a).all(|(g, v)| *g == 2.0 * v + 1.0),
            "n = {n}"
        );
    }
    // Cache-hinted packet loads and stores copy exactly, for every policy, with a partial last
    // packet.
    for n in [1usize, 4, 1001, 65536 + 3] {
        let a: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(2654435761)).collect();
        let da = gpu.upload(&a).unwrap();
        for policy in 0..3 {
            let mut out = gpu.alloc_filled::<u32>(n, 0xff).unwrap();
            k.hinted_copy.launch(&s, &da, policy, &mut out).unwrap();
            assert_eq!(get(&s, &out), a, "n = {n}, policy {policy}");
        }
    }
    let n = 4 * 3 * 64 + 8;
    let a = random(n, 14);
    let da = gpu.upload(&a).unwrap();
    let mut out = gpu.alloc_filled::<f32>(n, 0).unwrap();
    k.twice_plus_one
        .launch_with(&s, &LaunchConfig::linear(1, 64), &da, &mut out)
        .unwrap();
    let got = get(&s, &out);
    assert!(
        got[..n - 8]
            .iter()
            .zip(&a)
            .all(|(g, v)| *g == 2.0 * v + 1.0)
    );
    assert!(got[n - 8..].iter().all(|g| *g == 0.0));
    // A 3D launch takes the view's general linear-id path (1D launches read only the x
    // registers): 2×3×2 blocks of 4×2×2 threads, 192 threads, 576 packets = 2304 elements;
    // one more element stays unwritten.
    let n = 2304 + 1;
    let a = random(n, 15);
    let da = gpu.upload(&a).unwrap();
    let mut out = gpu.alloc_filled::<f32>(n, 0).unwrap();
    let cfg = LaunchConfig {
        grid: (2, 3, 2),
        block: (4, 2, 2),
        shared_bytes: 0,
    };
    k.twice_plus_one
        .launch_with(&s, &cfg, &da, &mut out)
        .unwrap();
    let got = get(&s, &out);
    assert!(
        got[..n - 1]
            .iter()
            .zip(&a)
            .all(|(g, v)| *g == 2.0 * v + 1.0),
        "3D launch"
    );
    assert_eq!(got[n - 1], 0.0);
}

#[test]
#[ignore = "needs a CUDA GPU"]
fn stream_rows_matches_clamped_reference() {
    let (gpu, k, s) = setup();
    // Bulk-copy path (cols % 4 == 0): two passes per warp, partial tiles and bands, one row,
    // tall and thin; fallback (cols % 4 != 0): single column, odd widths.
    for (rows, cols) in [
        (300, 520),
        (64, 256),
        (1, 4),
        (1, 1000),
        (2000, 4),
        (129, 12),
        (77, 130),
        (45, 1),
        (1, 9),
        (3, 1027),
    ] {
        let x = random(rows * cols, 17);
        let dx = gpu.upload(&x).unwrap();
        let mut y = gpu.alloc_filled::<f32>(rows * cols, 0xff).unwrap();
        k.stream_stencil
            .launch(&s, &dx, rows as u32, cols as u32, &mut y)
            .unwrap();
        assert_stencil("streamed stencil", &get(&s, &y), &x, rows, cols);
    }
    for (rows, cols) in [(100, 64), (333, 70), (3, 8), (81, 2), (5, 3)] {
        let x: Vec<u64> = (0..(rows * cols) as u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let dx = gpu.upload(&x).unwrap();
        let mut y = gpu.alloc_filled::<u64>(rows * cols, 0xff).unwrap();
        k.stream_five_rows
            .launch(&s, &dx, rows as u32, cols as u32, &mut y)
            .unwrap();
        let got = get(&s, &y);
        for r in 0..rows {
            for c in 0..cols {
                let up = x[r.saturating_sub(2) * cols + c];
                let down = x[(r + 2).min(rows - 1) * cols + c];
                assert_eq!(
                    got[r * cols + c],
                    up.wrapping_add(down),
                    "{rows}x{cols} ({r}, {c})"
                );
            }
        }
    }
}
